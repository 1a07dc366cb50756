//! A token that goes away and comes back (issue #24 item 12), alone in its test process: its
//! directory is moved out of SoftHSMv2's token directory under a running `Pkcs11Master`, then
//! moved back, twice. While it is gone every CMAC fails with an error that says reconnecting
//! failed; once it is back, the same master signs again, without a restart.
//!
//! SoftHSMv2 2.6 marks a token whose directory disappeared invalid for good and lists tokens
//! only at `C_Initialize`, so the master gets it back by re-initializing the module, which ends
//! every session of the module in the process: hence a process of its own.

mod common;

use std::time::{Duration, Instant};

use cardadmin::{master, Algorithm, CardId, MasterKey};
use cardadmin_pkcs11::{CmacError, Pkcs11Master};

const AES_KEY: [u8; 32] = *b"\x60\x3d\xeb\x10\x15\xca\x71\xbe\x2b\x73\xae\xf0\x85\x7d\x77\x81\x1f\x35\x2c\x07\x3b\x61\x08\xd7\x2d\x98\x10\xa3\x09\x14\xdf\xf4";

#[test]
fn signing_resumes_when_the_token_directory_comes_back() {
    let Some(hsm) = common::softhsm() else { return };
    common::new_token(hsm, "comes-back");
    common::write_master(hsm, "comes-back", "master", Algorithm::Aes256, &AES_KEY);
    let mut config = common::config(hsm, "comes-back", "master", Algorithm::Aes256);
    config.sessions = Some(3);
    let token = Pkcs11Master::open(&config).unwrap();
    let card: CardId = "bc88f13f-83ba-4037-8262-46eba1291c6e".parse().unwrap();
    let expected = MasterKey::new(Algorithm::Aes256, &AES_KEY)
        .unwrap()
        .diversify(&card);
    assert_eq!(
        master::diversify(&token, &card).unwrap().expose_secret(),
        expected.expose_secret()
    );

    let dir = common::token_dir(hsm, "comes-back");
    let away = hsm.tokens.with_file_name("token-away");
    // Twice: a token that comes back must be taken back every time, not only the first (the
    // second loss comes more than the re-initialization interval after the first recovery).
    for round in 0..2 {
        if round > 0 {
            std::thread::sleep(Duration::from_millis(1500));
        }
        std::fs::rename(&dir, &away).unwrap();
        for attempt in 0..3 {
            let err = master::check_value(&token).unwrap_err();
            assert!(
                matches!(err, CmacError::Reconnect { .. }),
                "round {round}, attempt {attempt}: {err:?}"
            );
            assert!(
                err.to_string().contains("reconnecting to the token failed"),
                "round {round}, attempt {attempt}: {err}"
            );
        }

        std::fs::rename(&away, &dir).unwrap();
        // The module is re-initialized at most once a second: the first attempts after the
        // token is back may still fail.
        let deadline = Instant::now() + Duration::from_secs(5);
        let derived = loop {
            match master::diversify(&token, &card) {
                Ok(derived) => break derived,
                Err(err) if Instant::now() < deadline => {
                    eprintln!("not yet: {err}");
                    std::thread::sleep(Duration::from_millis(200));
                }
                Err(err) => {
                    panic!("round {round}: the token is back, the master still fails: {err}")
                }
            }
        };
        assert_eq!(derived.expose_secret(), expected.expose_secret());
        assert_eq!(master::check_value(&token).unwrap(), token.check_value());
    }
    // Every pooled session works again (three in a row take three sessions).
    for _ in 0..6 {
        master::diversify(&token, &card).unwrap();
    }
}
