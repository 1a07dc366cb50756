//! AES admin keys next to Triple-DES ones (issue #10): every promise the docs make about
//! `Algorithm`, `AdminKey::new`, two block sizes, diversification per algorithm, the audit of
//! AES keys, the MIM CM facade with AES keys, and offline unblock; each property against the
//! raw `aes` and `des` crates where there is something to compare.

use aes::{Aes128, Aes192, Aes256};
use cardadmin::{
    cm, unblock, AdminKey, Algorithm, CardId, Challenge, CmError, KeyError, KeyFinding, MasterKey,
    Response, UnblockError,
};
use cipher::{generic_array::GenericArray, BlockEncrypt, KeyInit};
use proptest::prelude::*;

fn algorithm() -> impl Strategy<Value = Algorithm> {
    prop_oneof![
        Just(Algorithm::Tdes),
        Just(Algorithm::Aes128),
        Just(Algorithm::Aes192),
        Just(Algorithm::Aes256),
    ]
}

/// A key of `algorithm` from 32 random bytes, with those bytes.
fn key_of(algorithm: Algorithm, material: &[u8; 32]) -> (AdminKey, Vec<u8>) {
    let bytes = material[..algorithm.key_len()].to_vec();
    (AdminKey::new(algorithm, &bytes).unwrap(), bytes)
}

/// One block encrypted by the raw RustCrypto crate for the algorithm.
fn raw_encrypt(algorithm: Algorithm, key: &[u8], block: &[u8]) -> Vec<u8> {
    fn with<C: KeyInit + BlockEncrypt>(key: &[u8], block: &[u8]) -> Vec<u8> {
        let mut block = GenericArray::clone_from_slice(block);
        C::new_from_slice(key).unwrap().encrypt_block(&mut block);
        block.to_vec()
    }
    match algorithm {
        Algorithm::Tdes => with::<des::TdesEde3>(key, block),
        Algorithm::Aes128 => with::<Aes128>(key, block),
        Algorithm::Aes192 => with::<Aes192>(key, block),
        Algorithm::Aes256 => with::<Aes256>(key, block),
        _ => unreachable!(),
    }
}

#[test]
fn algorithm_table() {
    let table = [
        (Algorithm::Tdes, 24, 8, 0x03, "tdes", "3DES"),
        (Algorithm::Aes128, 16, 16, 0x08, "aes128", "AES-128"),
        (Algorithm::Aes192, 24, 16, 0x0a, "aes192", "AES-192"),
        (Algorithm::Aes256, 32, 16, 0x0c, "aes256", "AES-256"),
    ];
    for (algorithm, key_len, block_len, piv, name, display) in table {
        assert_eq!(algorithm.key_len(), key_len);
        assert_eq!(algorithm.block_len(), block_len);
        assert_eq!(algorithm.piv_id(), piv);
        assert_eq!(Algorithm::from_piv_id(piv), Some(algorithm));
        assert_eq!(algorithm.name(), name);
        assert_eq!(name.parse::<Algorithm>(), Ok(algorithm));
        assert_eq!(name.to_uppercase().parse::<Algorithm>(), Ok(algorithm));
        assert_eq!(algorithm.to_string(), display);
        assert_eq!(display.parse::<Algorithm>(), Ok(algorithm));
        assert_eq!(display.to_lowercase().parse::<Algorithm>(), Ok(algorithm));
    }
    assert_eq!(Algorithm::from_piv_id(0x00), Some(Algorithm::Tdes));
    assert_eq!("3DES".parse::<Algorithm>(), Ok(Algorithm::Tdes));
    for id in (0..=255u8).filter(|id| ![0x00, 0x03, 0x08, 0x0a, 0x0c].contains(id)) {
        assert_eq!(Algorithm::from_piv_id(id), None, "{id:#04x}");
    }
    for bad in [
        "", "aes", "des", "tdes ", " AES-128", "AES_128", "AES 128", "aes-", "AES-1920", "3-DES",
        "t-des", "aes192\0",
    ] {
        assert_eq!(
            bad.parse::<Algorithm>(),
            Err(KeyError::UnknownAlgorithm),
            "{bad:?}"
        );
    }
}

#[test]
fn the_algorithm_is_never_inferred_from_the_length() {
    let bytes = [1, 2, 3, 4, 5, 6, 7, 8].repeat(3);
    let tdes = AdminKey::new(Algorithm::Tdes, &bytes).unwrap();
    let aes = AdminKey::new(Algorithm::Aes192, &bytes).unwrap();
    assert_eq!(tdes.algorithm(), Algorithm::Tdes);
    assert_eq!(aes.algorithm(), Algorithm::Aes192);
    assert_ne!(tdes.check_value(), aes.check_value());
    // The legacy constructors make 3DES keys.
    assert_eq!(
        AdminKey::from_slice(&bytes).unwrap().algorithm(),
        Algorithm::Tdes
    );
    assert_eq!(
        AdminKey::from_hex("010203040506070801020304050607080102030405060708")
            .unwrap()
            .algorithm(),
        Algorithm::Tdes
    );
}

#[test]
fn wrong_lengths_are_typed_errors() {
    for algorithm in Algorithm::ALL {
        for len in [0, 1, 8, 15, 16, 17, 23, 24, 25, 31, 32, 33, 64] {
            let result = AdminKey::new(algorithm, &vec![0x42; len]);
            if len == algorithm.key_len() {
                assert!(result.is_ok());
            } else {
                assert_eq!(
                    result.unwrap_err(),
                    KeyError::ByteLength {
                        expected: algorithm.key_len(),
                        found: len
                    }
                );
            }
            let text = "ab".repeat(len);
            let result = AdminKey::new_hex(algorithm, &text);
            if len == algorithm.key_len() {
                assert!(result.is_ok());
            } else {
                assert_eq!(
                    result.unwrap_err(),
                    KeyError::HexLength {
                        expected: 2 * algorithm.key_len(),
                        found: 2 * len
                    }
                );
            }
        }
    }
    let err = AdminKey::new_hex(Algorithm::Aes128, "00112233445566778899aabbccddeefg").unwrap_err();
    assert_eq!(err, KeyError::NotHex { position: 31 });
}

#[test]
fn a_challenge_of_the_other_block_size_is_refused() {
    let tdes = AdminKey::from_bytes([0x11; 24]);
    let aes = AdminKey::new(Algorithm::Aes256, &[0x11; 32]).unwrap();
    let short = Challenge::from_bytes([0; 8]);
    let long = Challenge::from_slice(&[0; 16]).unwrap();
    assert_eq!(
        tdes.respond(&long).unwrap_err(),
        KeyError::ChallengeLength {
            algorithm: Algorithm::Tdes,
            expected: 8,
            found: 16
        }
    );
    let err = aes.respond(&short).unwrap_err();
    assert_eq!(
        err,
        KeyError::ChallengeLength {
            algorithm: Algorithm::Aes256,
            expected: 16,
            found: 8
        }
    );
    assert_eq!(
        err.to_string(),
        "AES-256 admin keys answer 16-byte challenges, got 8 bytes"
    );
    // verify is simply false, for either mismatch.
    let long_response = Response::from_slice(&[0; 16]).unwrap();
    assert!(!tdes.verify(&long, &long_response));
    assert!(!aes.verify(&short, &Response::from_bytes([0; 8])));
    assert!(!aes.verify(&long, &Response::from_bytes([0; 8])));
}

#[test]
fn challenge_and_response_text_of_both_sizes() {
    let long = Challenge::from_base64("AAECAwQFBgcICQoLDA0ODw==").unwrap();
    assert_eq!(long.as_bytes(), (0..16).collect::<Vec<u8>>().as_slice());
    assert_eq!(long.to_string(), "AAECAwQFBgcICQoLDA0ODw==");
    assert!(Challenge::from_base64("AAECAwQFBgcICQoLDA0ODw").is_err()); // no padding
    for len in [0, 1, 7, 9, 12, 15, 17, 32] {
        assert!(Challenge::from_slice(&vec![0; len]).is_err(), "{len}");
        assert!(Response::from_slice(&vec![0; len]).is_err(), "{len}");
    }
    // Responses of different lengths are unequal, even when one is the other's prefix.
    assert_ne!(
        Response::from_slice(&[0; 16]).unwrap(),
        Response::from_bytes([0; 8])
    );
}

#[test]
fn mim_cm_facade_with_aes_keys() {
    let card = "bc88f13f-83ba-4037-8262-46eba1291c6e";
    let aes = AdminKey::new(Algorithm::Aes128, &[0; 16]).unwrap();
    let challenge = "AAAAAAAAAAAAAAAAAAAAAA=="; // 16 zero bytes
    let master = MasterKey::new(Algorithm::Aes128, &[0x5a; 16]).unwrap();
    let response =
        cm::authentication_response(&aes, Some(&master), card, challenge, false).unwrap();
    assert_eq!(response.to_string().len(), 24);
    assert_eq!(response.as_bytes()[..3], [0x66, 0xe9, 0x4b]);
    let diversified =
        cm::authentication_response(&aes, Some(&master), card, challenge, true).unwrap();
    let card_key = cm::diversified_key(&master, card).unwrap();
    assert_eq!(card_key.algorithm(), Algorithm::Aes128);
    assert_eq!(card_key.to_base64().len(), 24);
    assert_eq!(
        card_key
            .respond(&Challenge::from_base64(challenge).unwrap())
            .unwrap(),
        diversified
    );
    // An 8-byte challenge for an AES key, or 16 for a 3DES key: a 400 naming the length.
    let err =
        cm::authentication_response(&aes, Some(&master), card, "1hFD+cz/0so=", false).unwrap_err();
    assert!(matches!(err, CmError::ChallengeLength(_)));
    assert_eq!(
        err.to_string(),
        "challenge: AES-128 admin keys answer 16-byte challenges, got 8 bytes"
    );
    let tdes = AdminKey::from_bytes([0; 24]);
    let err =
        cm::authentication_response(&tdes, None::<&MasterKey>, card, challenge, false).unwrap_err();
    assert_eq!(
        err.to_string(),
        "challenge: 3DES admin keys answer 8-byte challenges, got 16 bytes"
    );
}

#[test]
fn audit_of_aes_keys() {
    let findings = |algorithm: Algorithm, bytes: &[u8]| -> Vec<KeyFinding> {
        AdminKey::new(algorithm, bytes)
            .unwrap()
            .audit()
            .findings()
            .collect()
    };
    assert_eq!(
        findings(Algorithm::Aes128, &[0; 16]),
        [KeyFinding::RepeatedHalves, KeyFinding::AllZero]
    );
    let default = [1, 2, 3, 4, 5, 6, 7, 8].repeat(3);
    assert_eq!(
        findings(Algorithm::Aes192, &default),
        [KeyFinding::MinidriverDefault]
    );
    let halves: Vec<u8> = (0..16).chain(0..16).collect();
    assert_eq!(
        findings(Algorithm::Aes256, &halves),
        [KeyFinding::RepeatedHalves]
    );
    let clean: Vec<u8> = (0..32).map(|i| i * 7 + 3).collect();
    assert!(AdminKey::new(Algorithm::Aes256, &clean)
        .unwrap()
        .audit()
        .is_clean());
    // DES rules do not apply to AES keys: 0101..01 is not "all zero" for AES.
    assert!(AdminKey::new(Algorithm::Aes128, &[1; 16])
        .unwrap()
        .audit()
        .findings()
        .all(|finding| finding == KeyFinding::RepeatedHalves));
}

#[test]
fn unblock_takes_what_people_type() {
    let key = AdminKey::from_hex("010203040506070801020304050607080102030405060708").unwrap();
    for typed in [
        "1603 EBDF 1C8A 2E72",
        "1603EBDF1C8A2E72",
        "1603-ebdf-1c8a-2e72",
        "  16 03 eb df 1c 8a 2e 72  ",
        "-1603EBDF1C8A2E72-",
    ] {
        assert_eq!(
            unblock::respond(&key, typed).unwrap().to_string(),
            "F940 6715 12CD 0DFF",
            "{typed:?}"
        );
    }
    assert_eq!(
        unblock::respond(&key, "1603 EBDF 1C8A 2E72 00").unwrap_err(),
        UnblockError::DigitCount {
            algorithm: Algorithm::Tdes,
            expected: 16,
            found: 18
        }
    );
    assert_eq!(
        unblock::respond(&key, "1603_EBDF").unwrap_err(),
        UnblockError::NotHex {
            position: 4,
            found: '_'
        }
    );
    assert_eq!(
        unblock::respond(&key, "").unwrap_err(),
        UnblockError::DigitCount {
            algorithm: Algorithm::Tdes,
            expected: 16,
            found: 0
        }
    );
    // What the person typing is told, and what a log of the response shows.
    assert_eq!(
        unblock::respond(&key, "1603 EBDF 1C8A 2E7").unwrap_err().to_string(),
        "a 3DES admin key needs a challenge of 16 hex digits, got 15 (spaces and dashes are ignored)"
    );
    assert_eq!(
        unblock::respond(&key, "1603 EBDF 1C8A 2E7O")
            .unwrap_err()
            .to_string(),
        "the challenge has 'O' at position 18, expected a hex digit (0-9, A-F), a space or a dash"
    );
    assert_eq!(
        format!(
            "{:?}",
            unblock::respond(&key, "1603 EBDF 1C8A 2E72").unwrap()
        ),
        "UnblockResponse(F940 6715 12CD 0DFF)"
    );
    let aes = AdminKey::new(Algorithm::Aes192, &[1, 2, 3, 4, 5, 6, 7, 8].repeat(3)).unwrap();
    // YubiKey 5.7 default key and challenge 0102..0F10 (issue #10).
    assert_eq!(
        unblock::respond(&aes, "0102 0304 0506 0708 090A 0B0C 0D0E 0F10")
            .unwrap()
            .to_string(),
        "3D6E 6D9C D337 292E E20F B60B 8A84 4F19"
    );
}

proptest! {
    /// Issue #14: `Display` (`AES-192`) once did not parse back. Every form `Display` and `name`
    /// write parses back to the same algorithm, whatever the case of each letter.
    #[test]
    fn display_and_name_parse_back_in_any_case(algorithm in algorithm(), upper in any::<[bool; 8]>()) {
        for text in [algorithm.to_string(), algorithm.name().to_string()] {
            let mixed: String = text
                .chars()
                .zip(upper.iter().cycle())
                .map(|(c, &up)| if up { c.to_ascii_uppercase() } else { c.to_ascii_lowercase() })
                .collect();
            prop_assert_eq!(mixed.parse::<Algorithm>(), Ok(algorithm), "{:?}", mixed);
        }
    }

    /// Whatever parses is one of the eight documented spellings, in some case.
    #[test]
    fn only_the_documented_spellings_parse(text in "[tTdDeEsSaA3]{0,4}-?[0-9]{0,4}") {
        if let Ok(algorithm) = text.parse::<Algorithm>() {
            prop_assert!(
                text.eq_ignore_ascii_case(algorithm.name())
                    || text.eq_ignore_ascii_case(&algorithm.to_string()),
                "{:?} parsed as {:?}", text, algorithm
            );
        }
    }

    #[test]
    fn respond_matches_the_raw_crates(algorithm in algorithm(), material in any::<[u8; 32]>(), block in any::<[u8; 16]>()) {
        let (key, bytes) = key_of(algorithm, &material);
        let challenge = Challenge::from_slice(&block[..algorithm.block_len()]).unwrap();
        let response = key.respond(&challenge).unwrap();
        let expected = raw_encrypt(algorithm, &bytes, challenge.as_bytes());
        prop_assert_eq!(response.as_bytes(), expected.as_slice());
        prop_assert!(key.verify(&challenge, &response));
        prop_assert!(key.clone().verify(&challenge, &response));
        // Base64 round trip of both.
        prop_assert_eq!(Challenge::from_base64(&challenge.to_string()).unwrap(), challenge);
        prop_assert_eq!(Response::from_base64(&response.to_string()).unwrap(), response);
        // The check value is E_K(0)'s first 3 bytes.
        let zero = raw_encrypt(algorithm, &bytes, &vec![0; algorithm.block_len()]);
        let check_value = key.check_value();
        prop_assert_eq!(&check_value.as_bytes()[..], &zero[..3]);
    }

    #[test]
    fn a_flipped_response_bit_never_verifies(algorithm in algorithm(), material in any::<[u8; 32]>(), bit in 0usize..128) {
        let (key, _) = key_of(algorithm, &material);
        let challenge = Challenge::from_slice(&[0x5a; 16][..algorithm.block_len()]).unwrap();
        let mut bytes = key.respond(&challenge).unwrap().as_bytes().to_vec();
        let bit = bit % (8 * bytes.len());
        bytes[bit / 8] ^= 1 << (bit % 8);
        prop_assert!(!key.verify(&challenge, &Response::from_slice(&bytes).unwrap()));
    }

    #[test]
    fn diversify_is_deterministic_and_keeps_the_algorithm(algorithm in algorithm(), material in any::<[u8; 32]>(), id in any::<[u8; 16]>(), other in any::<[u8; 16]>()) {
        let master = MasterKey::new(algorithm, &material[..algorithm.key_len()]).unwrap();
        let card = CardId::from_bytes(id);
        let derived = master.diversify(&card);
        prop_assert_eq!(derived.algorithm(), algorithm);
        prop_assert_eq!(derived.expose_secret().len(), algorithm.key_len());
        let bytes = derived.expose_secret().to_vec();
        prop_assert_eq!(&bytes, &master.diversify(&card).expose_secret().to_vec());
        prop_assert_eq!(&bytes, &master.clone().diversify(&card).expose_secret().to_vec());
        prop_assert_eq!(&bytes, &master.diversify_input(&id).unwrap().expose_secret().to_vec());
        // Through the key-store trait: the same input and fold code, the CMACs one by one.
        prop_assert_eq!(&bytes, &cardadmin::master::diversify(&master, &card).unwrap().expose_secret().to_vec());
        if id != other {
            prop_assert_ne!(&bytes, &master.diversify(&CardId::from_bytes(other)).expose_secret().to_vec());
        }
        if algorithm == Algorithm::Tdes {
            prop_assert!(derived.audit().has_odd_parity());
        }
    }

    #[test]
    fn key_text_round_trips(algorithm in algorithm(), material in any::<[u8; 32]>()) {
        let (key, bytes) = key_of(algorithm, &material);
        let upper: String = bytes.iter().map(|b| format!("{b:02X}")).collect();
        let again = AdminKey::new_hex(algorithm, &upper).unwrap();
        prop_assert_eq!(again.expose_secret(), key.expose_secret());
        let lower = AdminKey::new_hex(algorithm, &upper.to_lowercase()).unwrap();
        prop_assert_eq!(lower.expose_secret(), key.expose_secret());
        let debug = format!("{key:?}");
        prop_assert!(!debug.contains(&upper) && !debug.contains(&upper.to_lowercase()));
    }
}
