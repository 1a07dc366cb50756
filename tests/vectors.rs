//! Known-answer tests. Every data file in `tests/vectors/` names its source at its top.

use cardadmin::{
    cm, AdminKey, Algorithm, CardId, Challenge, DesParity, KeyFinding, MasterKey, Response,
};

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
        let response =
            cm::authentication_response(&key, None::<&MasterKey>, card_id, challenge, diversified)
                .unwrap();
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
    // The bytes of the MIM CM documentation's example challenge and response (tests/vectors/mim_cm.txt).
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
        let master = MasterKey::from_hex(master).unwrap();
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
        let master = MasterKey::from_hex(master).unwrap();
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

/// The `[ENCRYPT]` cases of a NIST CAVP AES `.rsp` file: (key, plaintext, ciphertext).
fn cavp_encrypt_cases(file: &str) -> Vec<(Vec<u8>, Vec<u8>, Vec<u8>)> {
    let mut cases = Vec::new();
    let mut encrypt = false;
    let (mut key, mut plaintext) = (Vec::new(), Vec::new());
    for line in file.lines().map(str::trim) {
        match line {
            "[ENCRYPT]" => encrypt = true,
            "[DECRYPT]" => encrypt = false,
            _ => {}
        }
        let Some((name, value)) = line.split_once(" = ") else {
            continue;
        };
        match name {
            "KEY" => key = hex_vec(value),
            "PLAINTEXT" => plaintext = hex_vec(value),
            "CIPHERTEXT" if encrypt => cases.push((key.clone(), plaintext.clone(), hex_vec(value))),
            _ => {}
        }
    }
    assert!(!cases.is_empty(), "no ENCRYPT cases");
    cases
}

/// ENCRYPT cases in the six AES files: GFSbox 7 + 6 + 5, KeySbox 21 + 24 + 16.
const EXPECTED_AES_CASES: usize = 79;
/// Of those, the KeySbox cases, whose plaintext is all zero.
const EXPECTED_KEYSBOX_CASES: usize = 61;

/// NIST CAVP AESAVS GFSbox and KeySbox files (tests/vectors/cavp_aes/SOURCE.md).
#[test]
fn nist_aes_ecb_known_answers() {
    let files = [
        (
            Algorithm::Aes128,
            include_str!("vectors/cavp_aes/ECBGFSbox128.rsp"),
        ),
        (
            Algorithm::Aes128,
            include_str!("vectors/cavp_aes/ECBKeySbox128.rsp"),
        ),
        (
            Algorithm::Aes192,
            include_str!("vectors/cavp_aes/ECBGFSbox192.rsp"),
        ),
        (
            Algorithm::Aes192,
            include_str!("vectors/cavp_aes/ECBKeySbox192.rsp"),
        ),
        (
            Algorithm::Aes256,
            include_str!("vectors/cavp_aes/ECBGFSbox256.rsp"),
        ),
        (
            Algorithm::Aes256,
            include_str!("vectors/cavp_aes/ECBKeySbox256.rsp"),
        ),
    ];
    let mut checked = 0;
    let mut check_values = 0;
    for (algorithm, file) in files {
        for (key, plaintext, ciphertext) in cavp_encrypt_cases(file) {
            let key = AdminKey::new(algorithm, &key).unwrap();
            let challenge = Challenge::from_slice(&plaintext).unwrap();
            let response = key.respond(&challenge).unwrap();
            assert_eq!(response.as_bytes(), ciphertext.as_slice(), "{algorithm}");
            assert!(key.verify(&challenge, &response));
            if plaintext.iter().all(|&byte| byte == 0) {
                assert_eq!(key.check_value().as_bytes(), &ciphertext[..3]);
                check_values += 1;
            }
            checked += 1;
        }
    }
    // Every ENCRYPT case of the six files, counted with grep when they were added.
    assert_eq!(checked, EXPECTED_AES_CASES);
    assert_eq!(check_values, EXPECTED_KEYSBOX_CASES);
}

/// AN10922 (and AN10957) derived keys for every algorithm and parity choice.
#[test]
fn an10922_whole_keys() {
    let records = records(include_str!("vectors/an10922.txt"));
    assert_eq!(records.len(), 7);
    for record in records {
        let [algorithm, parity, master, m, expected] = record[..] else {
            panic!("bad record {record:?}");
        };
        let algorithm: Algorithm = algorithm.parse().unwrap();
        let master = MasterKey::new_hex(algorithm, master).unwrap();
        let parity = match parity {
            "-" | "odd" => DesParity::Odd,
            "raw" => DesParity::Raw,
            version => DesParity::KeyVersion(
                u8::from_str_radix(version.strip_prefix("version:").unwrap(), 16).unwrap(),
            ),
        };
        let derived = master.diversify_input_with(&hex_vec(m), parity).unwrap();
        assert_eq!(
            derived.expose_secret(),
            hex_vec(expected).as_slice(),
            "{record:?}"
        );
        // Through a key store (the CmacSigner path): the same key when the input is at least a
        // block, so plain CMAC pads as AN10922 does (AN10922's own examples); AN10957's 7-byte
        // UID is refused, not derived to another key.
        let through_trait = cardadmin::master::diversify_input(&master, &hex_vec(m), parity);
        if hex_vec(m).len() >= algorithm.block_len() {
            assert_eq!(
                through_trait.unwrap().expose_secret(),
                derived.expose_secret()
            );
        } else {
            assert!(through_trait.is_err(), "{record:?}");
        }
        assert_eq!(derived.algorithm(), algorithm);
    }
}

/// libfreefare issue #91: plain SP 800-38B CMAC (one-block padding) over AN10957's 7-byte UID
/// gives 721E2C01..., not AN10922's key. The crate must not be that implementation.
#[test]
fn short_inputs_use_an10922_padding_not_plain_cmac() {
    let master = MasterKey::new_hex(Algorithm::Aes128, "f3f9377698707b688eaf84abe39e3791").unwrap();
    let derived = master.diversify_input(&hex_vec("04deadbeeffeed")).unwrap();
    assert_ne!(
        derived.expose_secret(),
        hex_vec("721e2c01e81af85d815633969cea2607").as_slice()
    );
    assert_eq!(
        derived.expose_secret(),
        hex_vec("0bb408baff98b6ee9f2e1585777f6a51").as_slice()
    );
}

/// YubiKey firmware 5.7+ default management key: the old 3DES default bytes, as AES-192.
/// Source: issue #10 (Yubico's documentation of the 5.7 default).
#[test]
fn yubikey_5_7_default_aes192_key() {
    let key = AdminKey::new_hex(
        Algorithm::Aes192,
        "010203040506070801020304050607080102030405060708",
    )
    .unwrap();
    let challenge = Challenge::from_slice(&hex_vec("0102030405060708090a0b0c0d0e0f10")).unwrap();
    assert_eq!(
        key.respond(&challenge).unwrap().as_bytes(),
        hex_vec("3d6e6d9cd337292ee20fb60b8a844f19").as_slice()
    );
    // The same bytes as a 3DES key answer 8-byte challenges, and differently.
    let tdes = AdminKey::from_hex("010203040506070801020304050607080102030405060708").unwrap();
    assert!(tdes.respond(&challenge).is_err());
    assert!(key
        .audit()
        .findings()
        .any(|f| f == KeyFinding::MinidriverDefault));
}

/// AES-128 all-zero key: check value 66E94B (E_K(0^16) = 66E94BD4EF8A2C3B884CFA59CA342B2E,
/// FIPS-197 / the AES known answer every implementation starts from).
#[test]
fn aes_check_value_of_the_zero_key() {
    let key = AdminKey::new(Algorithm::Aes128, &[0; 16]).unwrap();
    assert_eq!(key.check_value().to_string(), "66E94B");
}

/// Offline unblock: the minidriver default key, challenge as the Windows unblock screen shows
/// it (issue #10; the README's "Offline unblock").
#[test]
fn offline_unblock_example() {
    let key = AdminKey::from_hex("010203040506070801020304050607080102030405060708").unwrap();
    let response = cardadmin::unblock::respond(&key, "1603 EBDF 1C8A 2E72").unwrap();
    assert_eq!(response.to_string(), "F940 6715 12CD 0DFF");
}
