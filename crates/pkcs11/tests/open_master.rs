//! What an open `Pkcs11Master` says about itself (its token, its label, its `Debug` text: no key
//! material), what it leaves in the token when it goes (no session), and which token keys it
//! takes for which algorithm (the key's type and length, not its length alone).

mod common;

use cardadmin::Algorithm;
use cardadmin_pkcs11::{master_template, Module, OpenError, Pkcs11Master};
use cryptoki::object::{Attribute, KeyType};
use cryptoki::session::SessionState;

const AES_KEY: [u8; 16] = [
    0x2b, 0x7e, 0x15, 0x16, 0x28, 0xae, 0xd2, 0xa6, 0xab, 0xf7, 0x15, 0x88, 0x09, 0xcf, 0x4f, 0x3c,
];

/// Whether this process is logged in to `token`. PKCS#11 logs an application out when its
/// last session on the token closes, so a master that closed every session leaves `false`
/// (SoftHSMv2 does not report its session count).
fn logged_in(hsm: &common::SoftHsm, token: &str) -> bool {
    let slot = hsm.module.find_token(token).expect("token");
    let session = hsm.module.pkcs11().open_ro_session(slot).expect("session");
    let state = session
        .get_session_info()
        .expect("C_GetSessionInfo")
        .session_state();
    state != SessionState::RoPublic
}

#[test]
fn an_open_master_names_its_token_and_label_and_shows_no_key() {
    let Some(hsm) = common::softhsm() else { return };
    common::new_token(hsm, "named");
    common::write_master(hsm, "named", "master-label", Algorithm::Aes128, &AES_KEY);
    let master = Pkcs11Master::open(&common::config(
        hsm,
        "named",
        "master-label",
        Algorithm::Aes128,
    ))
    .unwrap();
    assert_eq!(master.token(), "named");
    assert_eq!(master.label(), "master-label");
    let debug = format!("{master:?}");
    assert!(debug.contains("\"named\""), "{debug}");
    assert!(debug.contains("\"master-label\""), "{debug}");
    assert!(debug.contains("Aes128"), "{debug}");
    assert!(!debug.to_lowercase().contains("2b7e1516"), "{debug}");
    let module = Module::load(&hsm.path).unwrap();
    let debug = format!("{module:?}");
    assert!(
        debug.contains(&format!("{:?}", hsm.path)),
        "{debug} should name {}",
        hsm.path.display()
    );
}

#[test]
fn a_master_leaves_no_session_open_when_dropped_or_refused() {
    let Some(hsm) = common::softhsm() else { return };
    common::new_token(hsm, "sessions");
    common::write_master(hsm, "sessions", "master", Algorithm::Aes128, &AES_KEY);
    let config = common::config(hsm, "sessions", "master", Algorithm::Aes128);
    let master = Pkcs11Master::open(&config).unwrap();
    assert_eq!(master.sessions(), 4);
    assert!(logged_in(hsm, "sessions"));
    drop(master);
    assert!(
        !logged_in(hsm, "sessions"),
        "a session of the dropped master is still open"
    );
    // Refused after its first session was opened and logged in (another check value): that
    // session is closed too.
    let mut refused = config;
    refused.check_value = Some("000000".parse().unwrap());
    let err = Pkcs11Master::open(&refused).unwrap_err();
    assert!(
        matches!(err, OpenError::CheckValueMismatch { .. }),
        "{err:?}"
    );
    assert!(
        !logged_in(hsm, "sessions"),
        "the refused master's session is still open"
    );
}

/// A key is taken as AES by its type and length together: a two-key Triple-DES key of 16 bytes
/// or a generic secret of 24 or 32 is not an AES key of that length.
#[test]
fn a_key_of_another_type_with_an_aes_length_is_not_taken_for_aes() {
    let Some(hsm) = common::softhsm() else { return };
    common::new_token(hsm, "lengths");
    for (label, kind, len, algorithm) in [
        ("des2", KeyType::DES2, 16, Algorithm::Aes128),
        ("generic24", KeyType::GENERIC_SECRET, 24, Algorithm::Aes192),
        ("generic32", KeyType::GENERIC_SECRET, 32, Algorithm::Aes256),
    ] {
        let mut template = master_template(algorithm, label);
        template.retain(|a| !matches!(a, Attribute::KeyType(_)));
        template.push(Attribute::KeyType(kind));
        common::write_key(hsm, "lengths", template, &vec![0x5a; len]);
        let err =
            Pkcs11Master::open(&common::config(hsm, "lengths", label, algorithm)).unwrap_err();
        assert!(
            matches!(&err, OpenError::KeyAlgorithm { found, .. } if !found.starts_with("AES")),
            "{label}: {err:?}"
        );
    }
}
