//! The token's CMAC and derivations through SoftHSMv2 against in-memory oracles:
//!
//! - check values (`CMAC(K, 0^block)`, X9.24-1:2017) of random keys of every algorithm, the
//!   token's against RustCrypto's `cmac` over `des`/`aes` and against `MasterKey::check_value`;
//! - AN10922 derivations for the published vectors (tests/vectors/an10922.txt of the core:
//!   NXP AN10922 sections 2.2.1 and 2.5.1, AN10957) and for random card IDs, the token's
//!   (`master::diversify` over `Pkcs11Master`) against `MasterKey`'s in memory;
//! - the short input a plain CMAC cannot pad as AN10922 does is refused, not mis-derived;
//! - concurrent derivations on the session pool all agree;
//! - the key's value cannot be read from the token.

mod common;

use cardadmin::master::{self, DiversifyError};
use cardadmin::{Algorithm, CardId, DesParity, MasterKey};
use cardadmin_pkcs11::{Pkcs11Master, SessionKey};
use cmac::Mac;
use cryptoki::object::{AttributeInfo, AttributeType};
use rand_core::{OsRng, RngCore};

fn oracle_check_value(algorithm: Algorithm, key: &[u8]) -> [u8; 3] {
    let tag = match algorithm {
        Algorithm::Tdes => {
            let mut mac = <cmac::Cmac<des::TdesEde3> as Mac>::new_from_slice(key).unwrap();
            mac.update(&[0; 8]);
            mac.finalize().into_bytes().to_vec()
        }
        Algorithm::Aes128 => {
            let mut mac = <cmac::Cmac<aes::Aes128> as Mac>::new_from_slice(key).unwrap();
            mac.update(&[0; 16]);
            mac.finalize().into_bytes().to_vec()
        }
        Algorithm::Aes192 => {
            let mut mac = <cmac::Cmac<aes::Aes192> as Mac>::new_from_slice(key).unwrap();
            mac.update(&[0; 16]);
            mac.finalize().into_bytes().to_vec()
        }
        _ => {
            let mut mac = <cmac::Cmac<aes::Aes256> as Mac>::new_from_slice(key).unwrap();
            mac.update(&[0; 16]);
            mac.finalize().into_bytes().to_vec()
        }
    };
    [tag[0], tag[1], tag[2]]
}

fn random_key(algorithm: Algorithm) -> Vec<u8> {
    loop {
        let mut key = vec![0u8; algorithm.key_len()];
        OsRng.fill_bytes(&mut key);
        // The core refuses degenerate keys; random ones essentially never are.
        if MasterKey::new(algorithm, &key).is_ok() {
            return key;
        }
    }
}

#[test]
fn check_values_of_random_keys_match_the_oracles() {
    let Some(hsm) = common::softhsm() else { return };
    common::new_token(hsm, "kcv");
    for algorithm in Algorithm::ALL {
        for round in 0..8 {
            let key = random_key(algorithm);
            let label = format!("{}-{round}", algorithm.name());
            common::write_master(hsm, "kcv", &label, algorithm, &key);
            let master =
                Pkcs11Master::open(&common::config(hsm, "kcv", &label, algorithm)).expect("open");
            let in_memory = MasterKey::new(algorithm, &key).unwrap();
            assert_eq!(master.check_value(), in_memory.check_value(), "{label}");
            assert_eq!(
                master.check_value().as_bytes(),
                &oracle_check_value(algorithm, &key),
                "{label}"
            );
            assert_eq!(master::check_value(&master).unwrap(), master.check_value());
        }
    }
}

/// One record of the core's tests/vectors/an10922.txt.
struct Vector {
    algorithm: Algorithm,
    parity: DesParity,
    master: Vec<u8>,
    input: Vec<u8>,
    derived: Vec<u8>,
}

fn vectors() -> Vec<Vector> {
    include_str!("../../../tests/vectors/an10922.txt")
        .lines()
        .filter(|line| !line.starts_with('#') && !line.trim().is_empty())
        .map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let parity = match fields[1] {
                "-" | "odd" => DesParity::Odd,
                "raw" => DesParity::Raw,
                version => DesParity::KeyVersion(
                    u8::from_str_radix(version.trim_start_matches("version:"), 16).unwrap(),
                ),
            };
            Vector {
                algorithm: fields[0].parse().unwrap(),
                parity,
                master: hex::decode(fields[2]).unwrap(),
                input: hex::decode(fields[3]).unwrap(),
                derived: hex::decode(fields[4]).unwrap(),
            }
        })
        .collect()
}

#[test]
fn published_an10922_vectors_through_the_token() {
    let Some(hsm) = common::softhsm() else { return };
    common::new_token(hsm, "an10922");
    let mut through_token = 0;
    let mut refused_short = 0;
    for (index, vector) in vectors().into_iter().enumerate() {
        let label = format!("vector-{index}");
        common::write_master(hsm, "an10922", &label, vector.algorithm, &vector.master);
        let token = Pkcs11Master::open(&common::config(hsm, "an10922", &label, vector.algorithm))
            .expect("open");
        let in_memory = MasterKey::new(vector.algorithm, &vector.master).unwrap();
        let memory_key = in_memory
            .diversify_input_with(&vector.input, vector.parity)
            .unwrap();
        assert_eq!(
            memory_key.expose_secret(),
            vector.derived.as_slice(),
            "{label}"
        );
        if 1 + vector.input.len() > vector.algorithm.block_len() {
            let token_key = master::diversify_input(&token, &vector.input, vector.parity)
                .expect("derivation through the token");
            assert_eq!(
                token_key.expose_secret(),
                vector.derived.as_slice(),
                "{label}"
            );
            through_token += 1;
        } else {
            // AN10957's 7-byte UID: AN10922 pads to two blocks, a plain CMAC cannot.
            let err = master::diversify_input(&token, &vector.input, vector.parity).unwrap_err();
            assert!(matches!(err, DiversifyError::Input(_)), "{label}");
            refused_short += 1;
        }
    }
    assert!(through_token >= 6 && refused_short >= 1);
}

#[test]
fn random_card_ids_derive_the_same_keys_in_the_token_and_in_memory() {
    let Some(hsm) = common::softhsm() else { return };
    common::new_token(hsm, "random-ids");
    for algorithm in Algorithm::ALL {
        let key = random_key(algorithm);
        let label = format!("master-{}", algorithm.name());
        common::write_master(hsm, "random-ids", &label, algorithm, &key);
        let token = Pkcs11Master::open(&common::config(hsm, "random-ids", &label, algorithm))
            .expect("open");
        let in_memory = MasterKey::new(algorithm, &key).unwrap();
        for _ in 0..64 {
            let mut guid = [0u8; 16];
            OsRng.fill_bytes(&mut guid);
            let card: CardId = hex::encode(guid).parse().unwrap();
            let from_token = master::diversify(&token, &card).expect("token derivation");
            let from_memory = in_memory.diversify(&card);
            assert_eq!(from_token.expose_secret(), from_memory.expose_secret());
            assert_eq!(from_token.algorithm(), algorithm);
        }
    }
}

#[test]
fn concurrent_derivations_on_the_session_pool_agree() {
    let Some(hsm) = common::softhsm() else { return };
    common::new_token(hsm, "pool");
    let key = random_key(Algorithm::Tdes);
    common::write_master(hsm, "pool", "master", Algorithm::Tdes, &key);
    let token =
        Pkcs11Master::open(&common::config(hsm, "pool", "master", Algorithm::Tdes)).expect("open");
    assert_eq!(token.sessions(), 4);
    let in_memory = MasterKey::new(Algorithm::Tdes, &key).unwrap();
    std::thread::scope(|scope| {
        for thread in 0..8u8 {
            let (token, in_memory) = (&token, &in_memory);
            scope.spawn(move || {
                for round in 0..100u8 {
                    let mut guid = [thread; 16];
                    guid[15] = round;
                    let card: CardId = hex::encode(guid).parse().unwrap();
                    let from_token = master::diversify(token, &card).expect("derivation");
                    assert_eq!(
                        from_token.expose_secret(),
                        in_memory.diversify(&card).expose_secret()
                    );
                }
            });
        }
    });
}

#[test]
fn the_key_value_cannot_be_read() {
    let Some(hsm) = common::softhsm() else { return };
    common::new_token(hsm, "sealed");
    common::write_master(
        hsm,
        "sealed",
        "master",
        Algorithm::Aes256,
        &random_key(Algorithm::Aes256),
    );
    let slot = hsm.module.find_token("sealed").unwrap();
    let pin = common::pin();
    let session = hsm.module.login(slot, "sealed", &pin, false).unwrap();
    let key = SessionKey::find(&hsm.module, &session, "sealed", "master", Algorithm::Aes256)
        .expect("a sealed, sign-only key");
    let info = session
        .get_attribute_info(key.handle(), &[AttributeType::Value])
        .unwrap();
    assert!(
        matches!(info.as_slice(), [AttributeInfo::Sensitive]),
        "{info:?}"
    );
}

/// The master names its token and key, and `Debug` shows them with the algorithm, the check
/// value and the pool's size: nothing of the PIN.
#[test]
fn a_master_names_its_token_and_key_and_never_its_pin() {
    let Some(hsm) = common::softhsm() else { return };
    common::new_token(hsm, "named");
    let key = random_key(Algorithm::Aes128);
    common::write_master(hsm, "named", "named-master", Algorithm::Aes128, &key);
    let mut config = common::config(hsm, "named", "named-master", Algorithm::Aes128);
    config.sessions = Some(3);
    let token = Pkcs11Master::open(&config).unwrap();
    assert_eq!(token.token(), "named");
    assert_eq!(token.label(), "named-master");
    let check_value = MasterKey::new(Algorithm::Aes128, &key)
        .unwrap()
        .check_value();
    assert_eq!(
        format!("{token:?}"),
        format!(
            "Pkcs11Master {{ token: \"named\", label: \"named-master\", algorithm: Aes128, check_value: {check_value:?}, sessions: 3 }}"
        )
    );
    assert!(!format!("{token:?}").contains(common::USER_PIN));
}
