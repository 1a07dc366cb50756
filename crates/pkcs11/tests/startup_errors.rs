//! Start-up refusals through SoftHSMv2: each failure the issue names gives its own error and
//! message (missing token, refused PIN, missing key label), and keys that may do more than
//! sign, or are of another algorithm, are refused naming what is wrong. Each test uses its own
//! token, so one test's login never hides another's wrong PIN.

mod common;

use cardadmin::Algorithm;
use cardadmin_pkcs11::{master_template, OpenError, PinError, PinSource, Pkcs11Master};
use cryptoki::object::Attribute;

const AES_KEY: [u8; 16] = *b"\x2b\x7e\x15\x16\x28\xae\xd2\xa6\xab\xf7\x15\x88\x09\xcf\x4f\x3c";

#[test]
fn missing_token() {
    let Some(hsm) = common::softhsm() else { return };
    common::new_token(hsm, "present-token");
    let config = common::config(hsm, "absent-token", "master", Algorithm::Aes128);
    let err = Pkcs11Master::open(&config).unwrap_err();
    assert!(
        matches!(&err, OpenError::TokenNotFound { token, present } if token == "absent-token" && present.iter().any(|p| p == "present-token")),
        "{err:?}"
    );
    assert!(err.to_string().starts_with(
        "PKCS#11 token \"absent-token\" not found: no slot holds a token with that label"
    ));
}

#[test]
fn wrong_pin_is_refused_once_and_named() {
    let Some(hsm) = common::softhsm() else { return };
    common::new_token(hsm, "wrong-pin");
    common::write_master(hsm, "wrong-pin", "master", Algorithm::Aes128, &AES_KEY);
    std::env::set_var("CARDADMIN_TEST_WRONG_PIN", "000000");
    let mut config = common::config(hsm, "wrong-pin", "master", Algorithm::Aes128);
    config.pin = PinSource::Env("CARDADMIN_TEST_WRONG_PIN".into());
    let err = Pkcs11Master::open(&config).unwrap_err();
    assert!(
        matches!(&err, OpenError::PinIncorrect { token } if token == "wrong-pin"),
        "{err:?}"
    );
    assert!(err
        .to_string()
        .contains("refused the PIN (incorrect); it is not tried again"));
    assert!(!err.to_string().contains("000000"));
    assert!(!format!("{err:?}").contains("000000"));
}

#[test]
fn missing_label() {
    let Some(hsm) = common::softhsm() else { return };
    common::new_token(hsm, "no-label");
    common::write_master(hsm, "no-label", "master", Algorithm::Aes128, &AES_KEY);
    let config = common::config(hsm, "no-label", "other-master", Algorithm::Aes128);
    let err = Pkcs11Master::open(&config).unwrap_err();
    assert!(
        matches!(&err, OpenError::KeyNotFound { token, label } if token == "no-label" && label == "other-master"),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "PKCS#11 token \"no-label\": no secret key labelled \"other-master\" (create it with cardadmin-ceremony, or check the label)"
    );
}

#[test]
fn pin_variable_unset() {
    let Some(hsm) = common::softhsm() else { return };
    let mut config = common::config(hsm, "any", "master", Algorithm::Aes128);
    config.pin = PinSource::Env("CARDADMIN_TEST_PIN_NEVER_SET".into());
    let err = Pkcs11Master::open(&config).unwrap_err();
    assert!(
        matches!(err, OpenError::Pin(PinError::EnvMissing { .. })),
        "{err:?}"
    );
}

#[test]
fn missing_module() {
    let Some(hsm) = common::softhsm() else { return };
    let mut config = common::config(hsm, "any", "master", Algorithm::Aes128);
    config.module = "/nonexistent/libpkcs11.so".into();
    let err = Pkcs11Master::open(&config).unwrap_err();
    assert!(matches!(err, OpenError::Module { .. }), "{err:?}");
}

/// A key that may also encrypt (what most tools create by default) would make the master an
/// encryption oracle for anyone holding the PIN: refused, naming the attribute.
#[test]
fn key_that_can_encrypt_is_refused() {
    let Some(hsm) = common::softhsm() else { return };
    common::new_token(hsm, "policy");
    for (label, attribute, name) in [
        ("enc", Attribute::Encrypt(true), "CKA_ENCRYPT"),
        ("dec", Attribute::Decrypt(true), "CKA_DECRYPT"),
        ("wrap", Attribute::Wrap(true), "CKA_WRAP"),
        ("unwrap", Attribute::Unwrap(true), "CKA_UNWRAP"),
        ("derive", Attribute::Derive(true), "CKA_DERIVE"),
        (
            "extractable",
            Attribute::Extractable(true),
            "CKA_EXTRACTABLE",
        ),
        ("nosign", Attribute::Sign(false), "CKA_SIGN"),
    ] {
        let mut template = master_template(Algorithm::Aes128, label);
        let same_kind = std::mem::discriminant(&attribute);
        template.retain(|a| std::mem::discriminant(a) != same_kind);
        template.push(attribute);
        common::write_key(hsm, "policy", template, &AES_KEY);
        let err = Pkcs11Master::open(&common::config(hsm, "policy", label, Algorithm::Aes128))
            .unwrap_err();
        assert!(
            matches!(&err, OpenError::KeyPolicy { attribute, .. } if *attribute == name),
            "{label}: {err:?}"
        );
        assert!(err.to_string().contains(name), "{err}");
    }
}

#[test]
fn key_of_another_algorithm_is_refused() {
    let Some(hsm) = common::softhsm() else { return };
    common::new_token(hsm, "algorithm");
    common::write_master(hsm, "algorithm", "aes", Algorithm::Aes128, &AES_KEY);
    for expected in [Algorithm::Tdes, Algorithm::Aes192, Algorithm::Aes256] {
        let err =
            Pkcs11Master::open(&common::config(hsm, "algorithm", "aes", expected)).unwrap_err();
        assert!(
            matches!(&err, OpenError::KeyAlgorithm { found, .. } if found == "AES-128"),
            "{expected:?}: {err:?}"
        );
    }
}

#[test]
fn duplicate_label_is_refused() {
    let Some(hsm) = common::softhsm() else { return };
    common::new_token(hsm, "twice");
    common::write_master(hsm, "twice", "master", Algorithm::Aes128, &AES_KEY);
    common::write_master(hsm, "twice", "master", Algorithm::Aes128, &AES_KEY);
    let err =
        Pkcs11Master::open(&common::config(hsm, "twice", "master", Algorithm::Aes128)).unwrap_err();
    assert!(
        matches!(err, OpenError::KeyAmbiguous { count: 2, .. }),
        "{err:?}"
    );
}
