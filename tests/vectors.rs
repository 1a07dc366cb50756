//! Known-answer tests. Every data file in `tests/vectors/` names its source at its top.

use cardadmin::{cm, AdminKey, CardId, Challenge, Response};

/// The non-comment lines of a vector file, split into fields.
fn records(file: &str) -> Vec<Vec<&str>> {
    let records: Vec<Vec<&str>> = file
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .map(|line| line.split(' ').collect())
        .collect();
    assert!(!records.is_empty(), "vector file has no records");
    records
}

fn bytes<const N: usize>(hex_text: &str) -> [u8; N] {
    let mut out = [0u8; N];
    hex::decode_to_slice(hex_text, &mut out).expect("vector hex");
    out
}

#[test]
fn mim_cm_documented_example() {
    for record in records(include_str!("vectors/mim_cm.txt")) {
        let [key, card_id, challenge, diversified, expected] = record[..] else {
            panic!("bad record {record:?}");
        };
        let key = AdminKey::from_hex(key).unwrap();
        let diversified: bool = diversified.parse().unwrap();
        let response = cm::authentication_response(&key, card_id, challenge, diversified).unwrap();
        assert_eq!(response.to_string(), expected);
        assert_eq!(response, Response::from_base64(expected).unwrap());
        // The same through the typed API.
        let challenge = Challenge::from_base64(challenge).unwrap();
        assert_eq!(key.respond(&challenge).unwrap(), response);
        assert!(key.verify(&challenge, &response));
    }
}

#[test]
fn mim_cm_example_bytes() {
    // DESIGN.md gives the bytes of the documented example's challenge and response.
    let challenge = Challenge::from_base64("1hFD+cz/0so=").unwrap();
    assert_eq!(challenge.as_bytes(), &bytes::<8>("d61143f9ccffd2ca"));
    let response = AdminKey::from_bytes([0; 24]).respond(&challenge).unwrap();
    assert_eq!(response.as_bytes(), &bytes::<8>("17466e766e303cb6"));
}

#[test]
fn nist_tdes_ecb_known_answers() {
    let records = records(include_str!("vectors/tdes_ecb_kat.txt"));
    assert!(records.len() >= 30);
    for record in records {
        let [key, plaintext, ciphertext] = record[..] else {
            panic!("bad record {record:?}");
        };
        let key = AdminKey::from_hex(key).unwrap();
        let challenge = Challenge::from_bytes(bytes(plaintext));
        let expected = Response::from_bytes(bytes(ciphertext));
        assert_eq!(key.respond(&challenge).unwrap(), expected, "{record:?}");
        assert!(key.verify(&challenge, &expected));
    }
}

#[test]
fn an10922_first_cmac_before_parity() {
    for record in records(include_str!("vectors/an10922_3tdea.txt")) {
        let [master, input, first_cmac] = record[..] else {
            panic!("bad record {record:?}");
        };
        let master = AdminKey::from_hex(master).unwrap();
        let input = hex_vec(input);
        let derived = master.diversify_input(&input).unwrap();
        let first_cmac: [u8; 8] = bytes(first_cmac);
        // Parity only touches the low bit of each byte.
        for (got, want) in derived.expose_secret()[..8].iter().zip(first_cmac) {
            assert_eq!(got & 0xfe, want & 0xfe);
            assert_eq!(got.count_ones() % 2, 1);
        }
    }
}

#[test]
fn diversification_matches_independent_implementation() {
    for record in records(include_str!("vectors/diversify_crosscheck.txt")) {
        let [master, input, expected] = record[..] else {
            panic!("bad record {record:?}");
        };
        let master = AdminKey::from_hex(master).unwrap();
        let derived = match input.parse::<CardId>() {
            Ok(card_id) => {
                let derived = master.diversify(&card_id);
                let via_cm = cm::diversified_key(&master, input).unwrap();
                assert_eq!(via_cm.expose_secret(), derived.expose_secret());
                derived
            }
            Err(_) => master.diversify_input(&hex_vec(input)).unwrap(),
        };
        assert_eq!(
            derived.expose_secret(),
            &bytes::<24>(expected),
            "{record:?}"
        );
        assert!(derived.audit().has_odd_parity());
    }
}

#[test]
fn guid_byte_layout() {
    for record in records(include_str!("vectors/guid_layout.txt")) {
        let [text, expected] = record[..] else {
            panic!("bad record {record:?}");
        };
        let card_id = CardId::parse(text).unwrap();
        assert_eq!(card_id.as_bytes(), &bytes::<16>(expected));
        assert_eq!(card_id.to_string(), text);
        let upper_braced = format!("{{{}}}", text.to_uppercase());
        assert_eq!(CardId::parse(&upper_braced).unwrap(), card_id);
        assert_eq!(CardId::parse(&text.replace('-', "")).unwrap(), card_id);
    }
}

#[test]
fn key_check_value_of_the_all_zero_key() {
    // E_0(0) for single DES is 8CA64DE9C1B123A7 (SP 800-20 style KAT, key 0 ignoring parity);
    // an all-zero 3-key TDES key reduces to it.
    assert_eq!(
        AdminKey::from_bytes([0; 24]).check_value().to_string(),
        "8CA64D"
    );
}

fn hex_vec(text: &str) -> Vec<u8> {
    let mut out = vec![0u8; text.len() / 2];
    hex::decode_to_slice(text, &mut out).expect("vector hex");
    out
}
