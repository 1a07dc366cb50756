//! The master's sessions heal (issue #24 item 12): a login dropped under the running master
//! (the application logged out of the token) is redone, and the next CMAC succeeds on the same
//! `Pkcs11Master`; a key replaced under the same label is found but not used; a PIN the token
//! refuses on that login is never tried again. The token going away and coming back is in
//! `token_comes_back.rs`, alone in its process (it re-initializes the module).

mod common;

use cardadmin::master;
use cardadmin::{Algorithm, CardId, MasterKey};
use cardadmin_pkcs11::{master_template, CmacError, OpenError, Pkcs11Master};
use cryptoki::object::Attribute;
use cryptoki::session::{Session, SessionState, UserType};
use cryptoki::types::AuthPin;

const AES_KEY: [u8; 16] = *b"\x2b\x7e\x15\x16\x28\xae\xd2\xa6\xab\xf7\x15\x88\x09\xcf\x4f\x3c";
const OTHER_KEY: [u8; 16] = *b"\x60\x3d\xeb\x10\x15\xca\x71\xbe\x2b\x73\xae\xf0\x85\x7d\x77\x81";

fn card() -> CardId {
    "bc88f13f-83ba-4037-8262-46eba1291c6e".parse().unwrap()
}

/// A logged-in read-write session of the test's own on `token`.
fn admin_session(hsm: &common::SoftHsm, token: &str) -> Session {
    let slot = hsm.module.find_token(token).unwrap();
    hsm.module.login(slot, token, &common::pin(), true).unwrap()
}

#[test]
fn a_dropped_login_is_redone_and_the_next_cmac_succeeds() {
    let Some(hsm) = common::softhsm() else { return };
    common::new_token(hsm, "logout");
    common::write_master(hsm, "logout", "master", Algorithm::Aes128, &AES_KEY);
    let mut config = common::config(hsm, "logout", "master", Algorithm::Aes128);
    config.sessions = Some(2);
    let token = Pkcs11Master::open(&config).unwrap();
    let expected = MasterKey::new(Algorithm::Aes128, &AES_KEY)
        .unwrap()
        .diversify(&card());
    assert_eq!(
        master::diversify(&token, &card()).unwrap().expose_secret(),
        expected.expose_secret()
    );
    for round in 0..3 {
        // C_Logout from another session of this application: the master's sessions are
        // logged out with it, and its key handle (a private object's) is gone.
        let session = admin_session(hsm, "logout");
        session.logout().unwrap();
        drop(session);
        let derived =
            master::diversify(&token, &card()).unwrap_or_else(|err| panic!("round {round}: {err}"));
        assert_eq!(derived.expose_secret(), expected.expose_secret());
        assert_eq!(master::check_value(&token).unwrap(), token.check_value());
    }
}

#[test]
fn a_key_replaced_under_the_label_is_not_used() {
    let Some(hsm) = common::softhsm() else { return };
    common::new_token(hsm, "replaced");
    let destroyable = |label: &str| {
        let mut template = master_template(Algorithm::Aes128, label);
        template.retain(|a| !matches!(a, Attribute::Destroyable(_)));
        template
    };
    common::write_key(hsm, "replaced", destroyable("master"), &AES_KEY);
    let token = Pkcs11Master::open(&common::config(
        hsm,
        "replaced",
        "master",
        Algorithm::Aes128,
    ))
    .unwrap();
    master::diversify(&token, &card()).unwrap();
    // Another key under the same label, in place of the first.
    let session = admin_session(hsm, "replaced");
    let old = session
        .find_objects(&[Attribute::Label(b"master".to_vec())])
        .unwrap();
    session.destroy_object(old[0]).unwrap();
    common::write_key(hsm, "replaced", destroyable("master"), &OTHER_KEY);
    let err = master::diversify(&token, &card()).unwrap_err();
    let text = err.to_string();
    let other = MasterKey::new(Algorithm::Aes128, &OTHER_KEY)
        .unwrap()
        .check_value();
    assert!(
        text.contains(&format!(
            "PKCS#11 key \"master\" found again after reconnecting has check value {other}, not {} as at start-up",
            token.check_value()
        )),
        "{text}"
    );
}

#[test]
fn a_pin_refused_on_the_new_login_is_never_tried_again() {
    let Some(hsm) = common::softhsm() else { return };
    common::new_token(hsm, "pin-changed");
    common::write_master(hsm, "pin-changed", "master", Algorithm::Aes128, &AES_KEY);
    let token = Pkcs11Master::open(&common::config(
        hsm,
        "pin-changed",
        "master",
        Algorithm::Aes128,
    ))
    .unwrap();
    let message = cardadmin::master::check_value(&token).unwrap();
    assert_eq!(message, token.check_value());
    // The user PIN changes, and the login is dropped: the master's PIN is refused.
    let session = admin_session(hsm, "pin-changed");
    let new_pin = AuthPin::from("97531");
    session.set_pin(&common::pin(), &new_pin).unwrap();
    session.logout().unwrap();
    let first = master::check_value(&token).unwrap_err();
    assert!(
        matches!(&first, CmacError::Reconnect { reconnect, .. } if matches!(**reconnect, OpenError::PinIncorrect { .. })),
        "{first:?}"
    );
    // The PIN is changed back; the master still does not try it (a restart does).
    session.login(UserType::User, Some(&new_pin)).unwrap();
    session.set_pin(&new_pin, &common::pin()).unwrap();
    session.logout().unwrap();
    drop(session);
    let again = master::check_value(&token).unwrap_err();
    assert!(matches!(again, CmacError::LoginRefused { .. }), "{again:?}");
    assert_eq!(
        again.to_string(),
        "PKCS#11 CMAC: token \"pin-changed\" refused the PIN when the master logged in again; it is not tried again until a restart"
    );
    let restarted = Pkcs11Master::open(&common::config(
        hsm,
        "pin-changed",
        "master",
        Algorithm::Aes128,
    ))
    .unwrap();
    assert_eq!(restarted.check_value(), token.check_value());
}

/// Dropping the master closes its sessions: the last session of the application on the token
/// closed, its login ends (PKCS#11), and a new session finds the token logged out.
#[test]
fn a_dropped_master_leaves_no_login_behind() {
    let Some(hsm) = common::softhsm() else { return };
    common::new_token(hsm, "dropped");
    common::write_master(hsm, "dropped", "master", Algorithm::Aes128, &AES_KEY);
    let mut config = common::config(hsm, "dropped", "master", Algorithm::Aes128);
    config.sessions = Some(2);
    let token = Pkcs11Master::open(&config).unwrap();
    master::check_value(&token).unwrap();
    let slot = hsm.module.find_token("dropped").unwrap();
    let state = || {
        hsm.module
            .pkcs11()
            .open_ro_session(slot)
            .unwrap()
            .get_session_info()
            .unwrap()
            .session_state()
    };
    assert_eq!(
        state(),
        SessionState::RoUser,
        "the open master is logged in"
    );
    drop(token);
    assert_eq!(
        state(),
        SessionState::RoPublic,
        "a session of the dropped master is left"
    );
}
