//! Start-up refusals through SoftHSMv2: each failure the issue names gives its own error and
//! message (missing token, refused PIN, missing key label), and keys that may do more than
//! sign, or are of another algorithm, are refused naming what is wrong. Each test uses its own
//! token, so one test's login never hides another's wrong PIN.

mod common;

use cardadmin::{Algorithm, MasterKey};
use cardadmin_pkcs11::{
    allowed_mechanisms, master_template, OpenError, PinError, PinSource, Pkcs11Master,
};
use cryptoki::object::{Attribute, AttributeType, KeyType};

const AES_KEY: [u8; 16] = *b"\x2b\x7e\x15\x16\x28\xae\xd2\xa6\xab\xf7\x15\x88\x09\xcf\x4f\x3c";

#[test]
fn missing_token() {
    let Some(hsm) = common::softhsm() else { return };
    common::new_token(hsm, "present-token");
    let config = common::config(hsm, "absent-token", "master", Algorithm::Aes128);
    let err = Pkcs11Master::open(&config).unwrap_err();
    assert!(
        matches!(&err, OpenError::TokenNotFound { token, present, .. } if token == "absent-token" && present.iter().any(|p| p == "present-token")),
        "{err:?}"
    );
    assert!(err.to_string().starts_with(
        "PKCS#11 token \"absent-token\" not found: no slot holds a token with that label"
    ));
    // The module is SoftHSMv2: the message says where it looked (SOFTHSM2_CONF, set by the
    // harness to this process's token directory).
    let conf = std::env::var("SOFTHSM2_CONF").unwrap();
    assert!(
        err.to_string().contains(&format!(
            "SoftHSMv2 reads its token directory from the configuration file SOFTHSM2_CONF names ({conf})"
        )),
        "{err}"
    );
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

/// `key_template(algorithm, label, replace)`: the ceremony's template with `replace`'s
/// attributes instead of those of the same kind.
fn key_template(algorithm: Algorithm, label: &str, replace: Vec<Attribute>) -> Vec<Attribute> {
    let mut template = master_template(algorithm, label);
    for attribute in &replace {
        let kind = attribute.attribute_type();
        template.retain(|a| a.attribute_type() != kind);
    }
    template.extend(replace);
    template
}

/// A public (`CKA_PRIVATE` false), modifiable or copyable key could be used without the PIN,
/// widened with C_SetAttributeValue, or copied into an object with wider uses: each refused
/// with its own message.
#[test]
fn public_modifiable_or_copyable_keys_are_refused() {
    let Some(hsm) = common::softhsm() else { return };
    common::new_token(hsm, "storage-policy");
    for (label, attribute, message) in [
        (
            "public",
            Attribute::Private(false),
            "PKCS#11 key \"public\": CKA_PRIVATE is false, expected true: a public key object can be used by any session of the token, without the PIN",
        ),
        (
            "modifiable",
            Attribute::Modifiable(true),
            "PKCS#11 key \"modifiable\": CKA_MODIFIABLE is true, expected false: a modifiable key's uses can be widened later with C_SetAttributeValue",
        ),
        (
            "copyable",
            Attribute::Copyable(true),
            "PKCS#11 key \"copyable\": CKA_COPYABLE is true, expected false: a copyable key can be copied with C_CopyObject into an object with wider uses",
        ),
    ] {
        let template = key_template(Algorithm::Aes128, label, vec![attribute]);
        common::write_key(hsm, "storage-policy", template, &AES_KEY);
        let err = Pkcs11Master::open(&common::config(
            hsm,
            "storage-policy",
            label,
            Algorithm::Aes128,
        ))
        .unwrap_err();
        assert!(matches!(err, OpenError::KeyPolicy { .. }), "{label}: {err:?}");
        assert_eq!(err.to_string(), message);
    }
}

/// With `CKA_SIGN`, a key that may also use CKM_AES_ECB (or CKM_DES3_ECB) is refused, naming
/// CKA_ALLOWED_MECHANISMS; the ceremony's own lists (the algorithm's CMAC alone) pass.
#[test]
fn keys_allowing_other_mechanisms_are_refused() {
    let Some(hsm) = common::softhsm() else { return };
    common::new_token(hsm, "mechanisms");
    let tdes_key = hex::decode("0123456789abcdeffedcba987654321089abcdef01234567").unwrap();
    // (label, algorithm, CKA_ALLOWED_MECHANISMS, key value, the refusal's message if refused)
    type Case<'a> = (
        &'a str,
        Algorithm,
        &'a [cryptoki_sys::CK_MECHANISM_TYPE],
        &'a [u8],
        Option<&'a str>,
    );
    let cases: [Case; 5] = [
        (
            "aes-ecb",
            Algorithm::Aes128,
            &[cryptoki_sys::CKM_AES_CMAC, cryptoki_sys::CKM_AES_ECB],
            &AES_KEY,
            Some("PKCS#11 key \"aes-ecb\": CKA_ALLOWED_MECHANISMS allows CKM_AES_ECB, expected only CKM_DES3_CMAC or CKM_AES_CMAC"),
        ),
        (
            "des3-ecb",
            Algorithm::Tdes,
            &[cryptoki_sys::CKM_DES3_CMAC, cryptoki_sys::CKM_DES3_ECB],
            &tdes_key,
            Some("PKCS#11 key \"des3-ecb\": CKA_ALLOWED_MECHANISMS allows 2 mechanisms, not all of which can be named here"),
        ),
        (
            "des3-ecb-only",
            Algorithm::Tdes,
            &[cryptoki_sys::CKM_DES3_MAC],
            &tdes_key,
            Some("PKCS#11 key \"des3-ecb-only\": CKA_ALLOWED_MECHANISMS allows a mechanism other than CKM_DES3_CMAC"),
        ),
        ("aes-cmac", Algorithm::Aes128, &[cryptoki_sys::CKM_AES_CMAC], &AES_KEY, None),
        ("des3-cmac", Algorithm::Tdes, &[cryptoki_sys::CKM_DES3_CMAC], &tdes_key, None),
    ];
    for (label, algorithm, mechanisms, value, refusal) in cases {
        let template = key_template(algorithm, label, vec![allowed_mechanisms(mechanisms)]);
        common::write_key(hsm, "mechanisms", template, value);
        let opened = Pkcs11Master::open(&common::config(hsm, "mechanisms", label, algorithm));
        match refusal {
            Some(message) => {
                let err = opened.unwrap_err();
                assert!(
                    matches!(err, OpenError::KeyMechanisms { .. }),
                    "{label}: {err:?}"
                );
                assert!(err.to_string().starts_with(message), "{label}: {err}");
            }
            None => {
                let master = opened.unwrap_or_else(|err| panic!("{label}: {err}"));
                assert!(
                    master.warnings().is_empty(),
                    "{label}: {:?}",
                    master.warnings()
                );
            }
        }
    }
}

/// A key that does not restrict its mechanisms (SoftHSMv2 reports an empty list) is accepted,
/// with a warning that names CKA_ALLOWED_MECHANISMS.
#[test]
fn a_key_without_allowed_mechanisms_is_accepted_with_a_warning() {
    let Some(hsm) = common::softhsm() else { return };
    common::new_token(hsm, "unrestricted");
    let mut template = master_template(Algorithm::Aes128, "master");
    template.retain(|a| !matches!(a, Attribute::VendorDefined(_)));
    common::write_key(hsm, "unrestricted", template, &AES_KEY);
    let master = Pkcs11Master::open(&common::config(
        hsm,
        "unrestricted",
        "master",
        Algorithm::Aes128,
    ))
    .expect("accepted");
    assert_eq!(master.warnings().len(), 1, "{:?}", master.warnings());
    assert!(
        master.warnings()[0].contains("CKA_ALLOWED_MECHANISMS is empty"),
        "{:?}",
        master.warnings()
    );
}

/// `check_value` names the key the ceremony printed: another key under the label is refused
/// at start-up; the right value (in any case) is accepted.
#[test]
fn a_key_with_another_check_value_is_refused() {
    let Some(hsm) = common::softhsm() else { return };
    common::new_token(hsm, "check-value");
    common::write_master(hsm, "check-value", "master", Algorithm::Aes128, &AES_KEY);
    let right = MasterKey::new(Algorithm::Aes128, &AES_KEY)
        .unwrap()
        .check_value()
        .to_string();
    let mut config = common::config(hsm, "check-value", "master", Algorithm::Aes128);
    config.check_value = Some(right.to_lowercase().parse().unwrap());
    let master = Pkcs11Master::open(&config).expect("the right check value");
    assert_eq!(master.check_value().to_string(), right);
    let wrong = if right == "000000" {
        "000001"
    } else {
        "000000"
    };
    config.check_value = Some(wrong.parse().unwrap());
    let err = Pkcs11Master::open(&config).unwrap_err();
    assert!(
        matches!(err, OpenError::CheckValueMismatch { .. }),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        format!("PKCS#11 key \"master\" has check value {right}, but the configuration's check_value is {wrong}: another key carries this label; it is not used (give the check value the ceremony printed for the intended key, or find out who replaced it)")
    );
}

/// The ceremony's template: not destroyable, limited to the CMAC mechanism (SoftHSMv2 2.6
/// enforces both).
#[test]
fn ceremony_keys_cannot_be_destroyed_or_used_with_another_mechanism() {
    let Some(hsm) = common::softhsm() else { return };
    common::new_token(hsm, "sealed-template");
    common::write_master(
        hsm,
        "sealed-template",
        "master",
        Algorithm::Aes128,
        &AES_KEY,
    );
    let slot = hsm.module.find_token("sealed-template").unwrap();
    let session = hsm
        .module
        .login(slot, "sealed-template", &common::pin(), true)
        .unwrap();
    let key = session
        .find_objects(&[Attribute::Label(b"master".to_vec())])
        .unwrap()[0];
    let info = session
        .get_attributes(
            key,
            &[AttributeType::Destroyable, AttributeType::AllowedMechanisms],
        )
        .unwrap();
    assert!(info.contains(&Attribute::Destroyable(false)), "{info:?}");
    assert!(
        info.contains(&Attribute::AllowedMechanisms(vec![
            cryptoki::mechanism::MechanismType::AES_CMAC
        ])),
        "{info:?}"
    );
    assert!(matches!(
        session.destroy_object(key),
        Err(cryptoki::error::Error::Pkcs11(
            cryptoki::error::RvError::ActionProhibited,
            _
        ))
    ));
    let ecb = session.sign(&cryptoki::mechanism::Mechanism::AesEcb, key, &[0; 16]);
    assert!(
        matches!(
            ecb,
            Err(cryptoki::error::Error::Pkcs11(
                cryptoki::error::RvError::MechanismInvalid,
                _
            ))
        ),
        "{ecb:?}"
    );
}

/// The PIN variable is removed once read, whatever it held; a PIN file is read as before.
#[test]
fn the_pin_variable_is_removed_once_read() {
    std::env::set_var("CARDADMIN_TEST_PIN_REMOVED", "135790");
    let pin = PinSource::Env("CARDADMIN_TEST_PIN_REMOVED".into()).read();
    assert!(pin.is_ok());
    assert!(std::env::var_os("CARDADMIN_TEST_PIN_REMOVED").is_none());
    std::env::set_var("CARDADMIN_TEST_PIN_EMPTY", "");
    let err = PinSource::Env("CARDADMIN_TEST_PIN_EMPTY".into())
        .read()
        .unwrap_err();
    assert!(matches!(err, PinError::Empty { .. }), "{err:?}");
    assert!(std::env::var_os("CARDADMIN_TEST_PIN_EMPTY").is_none());
    let err = PinSource::Env("CARDADMIN_TEST_PIN_REMOVED".into())
        .read()
        .unwrap_err();
    assert!(matches!(err, PinError::EnvMissing { .. }), "{err:?}");
}

/// A secret key of another type, even of an AES key's length, is not taken for AES.
#[test]
fn a_generic_secret_of_an_aes_length_is_refused() {
    let Some(hsm) = common::softhsm() else { return };
    common::new_token(hsm, "generic-secret");
    for (algorithm, len) in [
        (Algorithm::Aes128, 16),
        (Algorithm::Aes192, 24),
        (Algorithm::Aes256, 32),
    ] {
        let label = format!("generic-{len}");
        common::write_key(
            hsm,
            "generic-secret",
            key_template(
                algorithm,
                &label,
                vec![Attribute::KeyType(KeyType::GENERIC_SECRET)],
            ),
            &[0x5a; 32][..len],
        );
        let err = Pkcs11Master::open(&common::config(hsm, "generic-secret", &label, algorithm))
            .unwrap_err();
        assert!(
            matches!(&err, OpenError::KeyAlgorithm { found, .. } if found.ends_with(&format!("of {len} bytes"))),
            "{algorithm:?}: {err:?}"
        );
    }
}

#[test]
fn a_loaded_module_shows_its_path() {
    let Some(hsm) = common::softhsm() else { return };
    assert_eq!(
        format!("{:?}", hsm.module),
        format!("Module {{ path: {:?} }}", hsm.path)
    );
}

/// A token whose user PIN was never set: the login is refused, naming the token's reason.
#[test]
fn a_token_without_a_user_pin_is_refused_naming_why() {
    let Some(hsm) = common::softhsm() else { return };
    common::new_token_without_user_pin(hsm, "no-user-pin");
    let err = Pkcs11Master::open(&common::config(
        hsm,
        "no-user-pin",
        "master",
        Algorithm::Aes128,
    ))
    .unwrap_err();
    assert!(
        matches!(&err, OpenError::PinRefused { token, reason } if token == "no-user-pin" && reason == "CKR_USER_PIN_NOT_INITIALIZED"),
        "{err:?}"
    );
    assert!(
        err.to_string().contains("CKR_USER_PIN_NOT_INITIALIZED"),
        "{err}"
    );
}

/// A 3DES key the token will not use for CKM_DES3_CMAC (its CKA_ALLOWED_MECHANISMS names only
/// CKM_AES_CMAC, which a 3DES key cannot do): refused, naming the mechanism the key needs.
#[test]
fn a_key_the_token_will_not_cmac_with_names_the_mechanism() {
    let Some(hsm) = common::softhsm() else { return };
    common::new_token(hsm, "no-cmac");
    let tdes_key = hex::decode("0123456789abcdeffedcba987654321089abcdef01234567").unwrap();
    let template = key_template(
        Algorithm::Tdes,
        "des3-aes-cmac",
        vec![allowed_mechanisms(&[cryptoki_sys::CKM_AES_CMAC])],
    );
    common::write_key(hsm, "no-cmac", template, &tdes_key);
    let err = Pkcs11Master::open(&common::config(
        hsm,
        "no-cmac",
        "des3-aes-cmac",
        Algorithm::Tdes,
    ))
    .unwrap_err();
    assert!(
        matches!(&err, OpenError::Mechanism { token, mechanism } if token == "no-cmac" && *mechanism == "CKM_DES3_CMAC"),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "PKCS#11 token \"no-cmac\" does not offer CKM_DES3_CMAC for signing with this key, which its algorithm needs"
    );
}

/// A PIN that cannot be had is named by where it was looked for, and the message says what to
/// do.
#[test]
fn a_missing_or_empty_pin_is_named_by_its_source() {
    let Some(hsm) = common::softhsm() else { return };
    let mut config = common::config(hsm, "any", "master", Algorithm::Aes128);
    config.pin = PinSource::Env("CARDADMIN_TEST_PIN_NEVER_SET".into());
    assert_eq!(
        Pkcs11Master::open(&config).unwrap_err().to_string(),
        "token PIN: environment variable CARDADMIN_TEST_PIN_NEVER_SET is not set; set it to the token's user PIN (the PIN is never read from the command line)"
    );
    let empty = hsm.pin_file.with_file_name("empty.pin");
    std::fs::write(&empty, "\n").unwrap();
    std::fs::set_permissions(&empty, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    config.pin = PinSource::File(empty.clone());
    assert_eq!(
        Pkcs11Master::open(&config).unwrap_err().to_string(),
        format!("token PIN: file {} is empty", empty.display())
    );
}

#[test]
fn a_token_that_says_its_user_pin_is_locked_is_not_sent_the_pin() {
    let Some(hsm) = common::softhsm() else { return };
    common::new_token(hsm, "pin-locked");
    common::write_master(hsm, "pin-locked", "master", Algorithm::Aes128, &AES_KEY);
    common::lock_user_pin(hsm, "pin-locked");
    // The PIN is right, and SoftHSMv2 would take it: only the token's flag refuses it.
    let err = Pkcs11Master::open(&common::config(
        hsm,
        "pin-locked",
        "master",
        Algorithm::Aes128,
    ))
    .unwrap_err();
    assert!(
        matches!(&err, OpenError::PinLocked { token } if token == "pin-locked"),
        "{err:?}"
    );
    let slot = hsm.module.find_token("pin-locked").expect("token");
    let err = hsm
        .module
        .login(slot, "pin-locked", &common::pin(), false)
        .unwrap_err();
    assert!(matches!(err, OpenError::PinLocked { .. }), "{err:?}");
}
