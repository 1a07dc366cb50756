//! The ceremony's token work through SoftHSMv2: generated and imported masters are sign-only,
//! sealed, usable by `Pkcs11Master`, and carry the check value the core computes in memory;
//! components XOR as documented; a taken label and a weak combination are refused.

mod common;

use cardadmin::{master, Algorithm, CardId, MasterKey};
use cardadmin_pkcs11::ceremony::{self, CeremonyError, Component};
use cardadmin_pkcs11::Pkcs11Master;

fn hex_xor(parts: &[&str]) -> Vec<u8> {
    let bytes: Vec<Vec<u8>> = parts.iter().map(|p| hex::decode(p).unwrap()).collect();
    (0..bytes[0].len())
        .map(|i| bytes.iter().fold(0u8, |x, b| x ^ b[i]))
        .collect()
}

fn odd(bytes: &[u8]) -> Vec<u8> {
    bytes
        .iter()
        .map(|b| {
            let high = b & 0xfe;
            high | u8::from(high.count_ones() % 2 == 0)
        })
        .collect()
}

#[test]
fn imported_masters_equal_the_xor_of_their_components() {
    let Some(hsm) = common::softhsm() else { return };
    common::new_token(hsm, "import");
    let slot = hsm.module.find_token("import").unwrap();
    let pin = common::pin();
    let session = hsm.module.login(slot, "import", &pin, true).unwrap();
    let cases: [(Algorithm, &[&str]); 4] = [
        (
            Algorithm::Tdes,
            &[
                "0123456789abcdeffedcba987654321089abcdef01234567",
                "13579bdf02468ace2468ace013579bdf0f1e2d3c4b5a6978",
            ],
        ),
        (
            Algorithm::Aes128,
            &[
                "000102030405060708090a0b0c0d0e0f",
                "f0e1d2c3b4a5968778695a4b3c2d1e0f",
                "2b7e151628aed2a6abf7158809cf4f3c",
            ],
        ),
        (
            Algorithm::Aes192,
            &[
                "6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c",
                "9eb76fac45af8e5130c81c46a35ce411e5fbc1191a0a52ef",
            ],
        ),
        (
            Algorithm::Aes256,
            &[
                "603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4",
                "f69f2445df4f9b17ad2b417be66c3710b6e2d57a7d1f2c0e4e2e1d5e2a5b6c7d",
            ],
        ),
    ];
    for (algorithm, parts) in cases {
        let components: Vec<Component> = parts
            .iter()
            .map(|p| Component::parse(algorithm, p).unwrap())
            .collect();
        for (component, text) in components.iter().zip(parts) {
            let bytes = hex::decode(text).unwrap();
            let (cmac, ecb) = component.check_values();
            assert_eq!(
                cmac,
                MasterKey::new(algorithm, &bytes).unwrap().check_value()
            );
            assert_eq!(
                ecb,
                cardadmin::AdminKey::new(algorithm, &bytes)
                    .unwrap()
                    .check_value()
            );
        }
        let combined = ceremony::combine(algorithm, &components).unwrap();
        let mut expected = hex_xor(parts);
        if algorithm == Algorithm::Tdes {
            expected = odd(&expected);
        }
        let in_memory = MasterKey::new(algorithm, &expected).unwrap();
        assert_eq!(combined.check_value(), in_memory.check_value());
        let label = format!("imported-{}", algorithm.name());
        let written =
            ceremony::import(&hsm.module, &session, algorithm, &label, &combined).expect("import");
        assert!(written.not_set.is_empty(), "{:?}", written.not_set);
        let kcv = written.check_value;
        assert_eq!(kcv, in_memory.check_value());
        // The server's master over that object derives what the in-memory master does.
        let token = Pkcs11Master::open(&common::config(hsm, "import", &label, algorithm))
            .expect("the imported key passes the master checks");
        assert_eq!(token.check_value(), kcv);
        let card: CardId = "bc88f13f-83ba-4037-8262-46eba1291c6e".parse().unwrap();
        assert_eq!(
            master::diversify(&token, &card).unwrap().expose_secret(),
            in_memory.diversify(&card).expose_secret()
        );
        // A label is never reused.
        let again = ceremony::import(&hsm.module, &session, algorithm, &label, &combined);
        assert!(matches!(again, Err(CeremonyError::LabelTaken { .. })));
    }
}

#[test]
fn generated_masters_are_sealed_sign_only_and_listed() {
    let Some(hsm) = common::softhsm() else { return };
    common::new_token(hsm, "generate");
    let slot = hsm.module.find_token("generate").unwrap();
    let pin = common::pin();
    let session = hsm.module.login(slot, "generate", &pin, true).unwrap();
    let mut generated = Vec::new();
    for algorithm in Algorithm::ALL {
        let label = format!("generated-{}", algorithm.name());
        let written = ceremony::generate(&hsm.module, &session, algorithm, &label).unwrap();
        assert!(written.not_set.is_empty(), "{:?}", written.not_set);
        let kcv = written.check_value;
        // Pkcs11Master::open refuses anything but a sealed, sign-only key of the algorithm.
        let token = Pkcs11Master::open(&common::config(hsm, "generate", &label, algorithm))
            .expect("a generated key passes the master checks");
        assert_eq!(token.check_value(), kcv);
        generated.push((label, algorithm, kcv));
    }
    let listing = ceremony::list(&hsm.module, &session).unwrap();
    for (label, algorithm, kcv) in generated {
        let entry = listing.iter().find(|k| k.label == label).unwrap();
        assert_eq!(entry.algorithm, Some(algorithm));
        assert_eq!(entry.uses, ["SIGN"]);
        assert!(entry.sealed);
        assert_eq!(entry.check_value.as_ref().unwrap().0, kcv.to_string());
    }
}

#[test]
fn component_errors() {
    assert!(matches!(
        ceremony::combine(
            Algorithm::Aes128,
            &[Component::parse(Algorithm::Aes128, "000102030405060708090a0b0c0d0e0f").unwrap()]
        ),
        Err(CeremonyError::ComponentCount { found: 1 })
    ));
    assert!(Component::parse(Algorithm::Aes128, "0001").is_err());
    assert!(Component::parse(Algorithm::Aes128, "zz0102030405060708090a0b0c0d0e0f").is_err());
    // Spaces and dashes between groups, as forms print them.
    let spaced =
        Component::parse(Algorithm::Aes128, "0001 0203-0405 0607 0809 0a0b 0c0d 0e0f").unwrap();
    let plain = Component::parse(Algorithm::Aes128, "000102030405060708090a0b0c0d0e0f").unwrap();
    assert_eq!(spaced.check_values(), plain.check_values());
    // Debug shows check values only.
    let debug = format!("{plain:?}");
    assert!(!debug.contains("0001020304"), "{debug}");
}

#[test]
fn a_component_shows_its_algorithm_and_check_values_only() {
    let text = "000102030405060708090a0b0c0d0e0f";
    let part = Component::parse(Algorithm::Aes128, text).unwrap();
    let (cmac, ecb) = part.check_values();
    assert_eq!(
        format!("{part:?}"),
        format!("Component {{ algorithm: Aes128, kcv_cmac: \"{cmac}\", kcv_ecb: \"{ecb}\" }}")
    );
    assert_eq!(
        cmac,
        MasterKey::new(Algorithm::Aes128, &hex::decode(text).unwrap())
            .unwrap()
            .check_value()
    );
}

/// Components are combined only with the algorithm they were parsed for, even when the key
/// lengths agree (AES-192 and 3DES keys are both 24 bytes).
#[test]
fn components_of_another_algorithm_are_refused() {
    let a = Component::parse(Algorithm::Aes192, &"0123456789abcdef".repeat(3)).unwrap();
    let b = Component::parse(Algorithm::Aes192, &"fedcba9876543210".repeat(3)).unwrap();
    assert!(matches!(
        ceremony::combine(Algorithm::Tdes, &[a, b]),
        Err(CeremonyError::Component { index: 1, .. })
    ));
}

/// `list` names every use a key allows, and calls a key that is sensitive but extractable
/// not sealed (its value can leave the token wrapped).
#[test]
fn list_names_every_use_and_an_extractable_key_is_not_sealed() {
    use cryptoki::object::{Attribute, AttributeType};
    let Some(hsm) = common::softhsm() else { return };
    common::new_token(hsm, "list-uses");
    let mut template = cardadmin_pkcs11::master_template(Algorithm::Aes128, "every-use");
    template.retain(|a| {
        !matches!(a, Attribute::VendorDefined(_))
            && !matches!(
                a.attribute_type(),
                AttributeType::Sign
                    | AttributeType::Verify
                    | AttributeType::Encrypt
                    | AttributeType::Decrypt
                    | AttributeType::Wrap
                    | AttributeType::Unwrap
                    | AttributeType::Derive
                    | AttributeType::Sensitive
                    | AttributeType::Extractable
            )
    });
    template.extend([
        Attribute::Sign(true),
        Attribute::Verify(true),
        Attribute::Encrypt(true),
        Attribute::Decrypt(true),
        Attribute::Wrap(true),
        Attribute::Unwrap(true),
        Attribute::Derive(true),
        Attribute::Sensitive(true),
        Attribute::Extractable(true),
    ]);
    common::write_key(hsm, "list-uses", template, &[0x2b; 16]);
    let slot = hsm.module.find_token("list-uses").unwrap();
    let pin = common::pin();
    let session = hsm.module.login(slot, "list-uses", &pin, false).unwrap();
    let listing = ceremony::list(&hsm.module, &session).unwrap();
    let entry = listing.iter().find(|k| k.label == "every-use").unwrap();
    assert_eq!(
        entry.uses,
        ["SIGN", "VERIFY", "ENCRYPT", "DECRYPT", "WRAP", "UNWRAP", "DERIVE"]
    );
    assert!(!entry.sealed, "sensitive but extractable");
}

#[test]
fn a_combined_key_shows_its_algorithm_and_check_value_only() {
    let a = Component::parse(Algorithm::Aes128, "000102030405060708090a0b0c0d0e0f").unwrap();
    let b = Component::parse(Algorithm::Aes128, "2b7e151628aed2a6abf7158809cf4f3c").unwrap();
    let combined = ceremony::combine(Algorithm::Aes128, &[a, b]).unwrap();
    let master = hex_xor(&[
        "000102030405060708090a0b0c0d0e0f",
        "2b7e151628aed2a6abf7158809cf4f3c",
    ]);
    let check_value = MasterKey::new(Algorithm::Aes128, &master)
        .unwrap()
        .check_value();
    assert_eq!(combined.check_value(), check_value);
    assert_eq!(
        format!("{combined:?}"),
        format!("CombinedKey {{ algorithm: Aes128, check_value: \"{check_value}\" }}")
    );
}
