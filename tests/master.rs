//! Master keys and key roles (issue #15): the master key derives card keys (within the input
//! length bounds, one key per card, its parts distinct) and gives a CMAC check value; the
//! key-store path (`CmacSigner`) derives the same keys from the same code; a key store only
//! ever sees messages the crate built; a failing key store is an error that says nothing about
//! the key; the two roles are never one key (nor, for Triple-DES, complements).

use std::cell::RefCell;
use std::convert::Infallible;
use std::error::Error as _;

use cardadmin::master::{self, CmacMessage, CmacSigner, DiversifyError};
use cardadmin::{
    cm, AdminKey, Algorithm, CardId, Challenge, CmError, DesParity, KeyError, MasterKey,
};
use cipher::KeyInit;
use cmac::{Cmac, Mac};
use proptest::prelude::*;

const CARD: &str = "bc88f13f-83ba-4037-8262-46eba1291c6e";

fn hex(text: &str) -> Vec<u8> {
    let mut out = vec![0u8; text.len() / 2];
    hex::decode_to_slice(text, &mut out).unwrap();
    out
}

/// CMAC of one zero block under `key`, from RustCrypto's `cmac` (the oracle).
fn reference_cmac_of_zero_block(algorithm: Algorithm, key: &[u8]) -> Vec<u8> {
    macro_rules! with {
        ($cipher:ty, $block:expr) => {{
            let mut mac = <Cmac<$cipher> as KeyInit>::new_from_slice(key).unwrap();
            mac.update(&[0u8; $block]);
            mac.finalize().into_bytes().to_vec()
        }};
    }
    match algorithm {
        Algorithm::Tdes => with!(des::TdesEde3, 8),
        Algorithm::Aes128 => with!(aes::Aes128, 16),
        Algorithm::Aes192 => with!(aes::Aes192, 16),
        Algorithm::Aes256 => with!(aes::Aes256, 16),
        other => panic!("unknown algorithm {other}"),
    }
}

/// X9.24-1:2017 CMAC check values of the all-zero keys. Source: OpenSSL 3
/// (`openssl mac -cipher DES-EDE3-CBC -macopt hexkey:00..00 -in <8 zero bytes> CMAC` gives
/// DD1BF6E1ECA3C115; AES-128-CBC 763CBCDE..., AES-192-CBC 0B50E605..., AES-256-CBC
/// 9211053C...), and RustCrypto's `cmac` crate agrees (checked here).
#[test]
fn cmac_check_values_of_the_all_zero_keys() {
    for (algorithm, expected) in [
        (Algorithm::Tdes, "DD1BF6"),
        (Algorithm::Aes128, "763CBC"),
        (Algorithm::Aes192, "0B50E6"),
        (Algorithm::Aes256, "921105"),
    ] {
        let bytes = vec![0u8; algorithm.key_len()];
        let key = MasterKey::new(algorithm, &bytes).unwrap();
        assert_eq!(key.check_value().to_string(), expected, "{algorithm}");
        assert_eq!(
            key.check_value().as_bytes()[..],
            reference_cmac_of_zero_block(algorithm, &bytes)[..3]
        );
        assert_eq!(master::check_value(&key).unwrap(), key.check_value());
        // The legacy E_K(0) check value of the same bytes as an admin key differs.
        assert_ne!(
            AdminKey::new(algorithm, &bytes).unwrap().check_value(),
            key.check_value()
        );
    }
}

#[test]
fn cmac_check_values_match_the_reference_for_other_keys() {
    for algorithm in [
        Algorithm::Tdes,
        Algorithm::Aes128,
        Algorithm::Aes192,
        Algorithm::Aes256,
    ] {
        for fill in [0x01u8, 0x5a, 0xc3, 0xff] {
            let bytes: Vec<u8> = (0..algorithm.key_len())
                .map(|i| fill.wrapping_mul(i as u8 + 1))
                .collect();
            let key = MasterKey::new(algorithm, &bytes).unwrap();
            assert_eq!(
                key.check_value().as_bytes()[..],
                reference_cmac_of_zero_block(algorithm, &bytes)[..3],
                "{algorithm} {fill:02x}"
            );
        }
    }
}

#[test]
fn debug_shows_the_algorithm_and_the_cmac_check_value_only() {
    let key = MasterKey::from_hex("DA20D81B7D17734F8166BE8BAC0EC94DD8E793D74ACEC8B7").unwrap();
    let debug = format!("{key:?}");
    assert_eq!(
        debug,
        format!(
            "MasterKey {{ algorithm: Tdes, check_value: {} }}",
            key.check_value()
        )
    );
    assert!(!debug.contains("DA20"));
}

/// A key store that records every message it is asked to MAC, and can be told to fail.
struct Recording {
    key: MasterKey,
    seen: RefCell<Vec<Vec<u8>>>,
    fail_derivations: bool,
}

#[derive(Debug, PartialEq)]
struct StoreDown;

impl CmacSigner for Recording {
    type Error = StoreDown;
    fn algorithm(&self) -> Algorithm {
        self.key.algorithm()
    }
    fn cmac(&self, message: &CmacMessage, tag: &mut [u8]) -> Result<(), StoreDown> {
        assert_eq!(tag.len(), self.algorithm().block_len());
        let bytes = message.as_bytes().to_vec();
        let zero_block = bytes.iter().all(|&b| b == 0);
        self.seen.borrow_mut().push(bytes);
        if self.fail_derivations && !zero_block {
            return Err(StoreDown);
        }
        self.key.cmac(message, tag).map_err(|never| match never {})
    }
}

fn recording(algorithm: Algorithm, fail_derivations: bool) -> Recording {
    Recording {
        key: MasterKey::new(algorithm, &vec![0x3c; algorithm.key_len()]).unwrap(),
        seen: RefCell::new(Vec::new()),
        fail_derivations,
    }
}

#[test]
fn a_key_store_sees_only_an10922_inputs_and_the_check_value_block() {
    let card: CardId = CARD.parse().unwrap();
    for (algorithm, constants) in [
        (Algorithm::Tdes, vec![0x31u8, 0x32, 0x33]),
        (Algorithm::Aes128, vec![0x01]),
        (Algorithm::Aes192, vec![0x11, 0x12]),
        (Algorithm::Aes256, vec![0x41, 0x42]),
    ] {
        let store = recording(algorithm, false);
        let derived = master::diversify(&store, &card).unwrap();
        assert_eq!(
            derived.expose_secret(),
            store.key.diversify(&card).expose_secret()
        );
        let expected: Vec<Vec<u8>> = constants
            .iter()
            .map(|&c| std::iter::once(c).chain(*card.as_bytes()).collect())
            .collect();
        assert_eq!(*store.seen.borrow(), expected, "{algorithm}");
        store.seen.borrow_mut().clear();
        assert_eq!(
            master::check_value(&store).unwrap(),
            store.key.check_value()
        );
        assert_eq!(*store.seen.borrow(), vec![vec![0u8; algorithm.block_len()]]);
    }
}

#[test]
fn a_failing_key_store_is_an_error_not_a_key() {
    let card: CardId = CARD.parse().unwrap();
    let store = recording(Algorithm::Tdes, true);
    assert_eq!(
        master::diversify(&store, &card).unwrap_err(),
        DiversifyError::Signer(StoreDown)
    );
    assert_eq!(
        master::diversify_input(&store, &[7; 16], DesParity::Raw).unwrap_err(),
        DiversifyError::Signer(StoreDown)
    );
    let err: DiversifyError<&str> = DiversifyError::Signer("CKR_DEVICE_REMOVED");
    assert_eq!(err.to_string(), "the key store failed: CKR_DEVICE_REMOVED");
}

/// Through the parameter-level `cm` functions: a key store that fails is `CmError::KeyStore`
/// (its own error is not passed on), and `diversified=false` never touches the store.
#[test]
fn a_key_store_failure_is_keystore_and_says_only_that() {
    let initial = AdminKey::from_bytes([0; 24]);
    let store = recording(Algorithm::Tdes, true);
    assert_eq!(
        cm::diversified_key(&store, CARD).unwrap_err(),
        CmError::KeyStore
    );
    assert_eq!(
        CmError::KeyStore.to_string(),
        "diversification key: the key store failed; no card key was derived"
    );
    assert_eq!(
        cm::authentication_response(&initial, Some(&store), CARD, "1hFD+cz/0so=", true)
            .unwrap_err(),
        CmError::KeyStore
    );
    let asked = store.seen.borrow().len();
    let response =
        cm::authentication_response(&initial, Some(&store), CARD, "1hFD+cz/0so=", false).unwrap();
    assert_eq!(response.to_string(), "F0Zudm4wPLY=");
    assert_eq!(store.seen.borrow().len(), asked);
}

/// A key store that cannot even give its check value: the profile is refused at start-up.
#[test]
fn a_key_store_that_fails_at_start_up_refuses_the_profile() {
    struct Down;
    impl CmacSigner for Down {
        type Error = &'static str;
        fn algorithm(&self) -> Algorithm {
            Algorithm::Tdes
        }
        fn cmac(&self, _: &CmacMessage, _: &mut [u8]) -> Result<(), &'static str> {
            Err("token removed")
        }
    }
    let initial = AdminKey::from_bytes([0; 24]);
    let err = cm::check_roles(&initial, &Down).unwrap_err();
    assert_eq!(err, cm::RolesError::KeyStore("token removed"));
    assert_eq!(
        err.to_string(),
        "diversification key: the key store failed while its check value was computed"
    );
}

#[test]
fn short_inputs_are_refused_through_a_key_store_only() {
    // AN10957's 7-byte UID: in memory AN10922's two-block padding applies; a key store's plain
    // CMAC would pad it differently, so it is refused there.
    let key = MasterKey::new_hex(Algorithm::Aes128, "f3f9377698707b688eaf84abe39e3791").unwrap();
    let uid = hex("04deadbeeffeed");
    assert_eq!(
        key.diversify_input(&uid).unwrap().expose_secret(),
        hex("0bb408baff98b6ee9f2e1585777f6a51").as_slice()
    );
    let err = master::diversify_input(&key, &uid, DesParity::Odd).unwrap_err();
    assert_eq!(
        err,
        DiversifyError::Input(cardadmin::KeyError::KeyStoreInputLength { min: 16, found: 7 })
    );
    assert!(err.to_string().contains("at least 16 bytes"), "{err}");
    assert_eq!(
        master::diversify_input(&key, &[], DesParity::Odd).unwrap_err(),
        DiversifyError::Input(cardadmin::KeyError::DiversificationInputLength {
            min: 1,
            max: 64,
            found: 0
        })
    );
}

/// The roles are checked by CMAC check value: the same key is refused whatever its parity
/// bits, in memory and through a key store (which gives no bytes); keys of different
/// algorithms, or different keys, are accepted.
#[test]
fn the_same_key_in_both_roles_is_refused() {
    let bytes = hex("DA20D81B7D17734F8166BE8BAC0EC94DD8E793D74ACEC8B7");
    let flipped: Vec<u8> = bytes.iter().map(|b| b ^ 1).collect();
    let master = MasterKey::new(Algorithm::Tdes, &bytes).unwrap();
    for initial in [&bytes, &flipped] {
        let initial = AdminKey::from_slice(initial).unwrap();
        let err = cm::check_roles(&initial, &master).unwrap_err();
        assert_eq!(
            err,
            cm::RolesError::SameKey {
                check_value: master.check_value()
            }
        );
        assert!(err
            .to_string()
            .starts_with("the initial admin key and the diversification key are the same key"));
    }
    // Through a key store: one CMAC of the zero block, no derivation.
    let store = Recording {
        key: master.clone(),
        seen: RefCell::new(Vec::new()),
        fail_derivations: false,
    };
    let initial = AdminKey::from_slice(&bytes).unwrap();
    assert!(cm::check_roles(&initial, &store).is_err());
    assert_eq!(*store.seen.borrow(), vec![vec![0u8; 8]]);

    // The same bytes as AES-192 are another key (another cipher): accepted.
    let aes = AdminKey::new(Algorithm::Aes192, &bytes).unwrap();
    assert!(cm::check_roles(&aes, &master).is_ok());
    let zero = AdminKey::from_bytes([0; 24]);
    assert!(cm::check_roles(&zero, &master).is_ok());
}

#[test]
fn diversification_input_length_bounds() {
    let master = MasterKey::new(cardadmin::Algorithm::Tdes, &[0x11; 24]).unwrap();
    for len in [1, 16, 64] {
        assert!(master.diversify_input(&vec![7; len]).is_ok(), "{len}");
    }
    for len in [0, 65, 1000] {
        assert_eq!(
            master.diversify_input(&vec![7; len]).unwrap_err(),
            KeyError::DiversificationInputLength {
                min: 1,
                max: 64,
                found: len
            }
        );
    }
    let card = CardId::from_bytes([3; 16]);
    assert_eq!(
        master.diversify(&card).expose_secret(),
        master.diversify_input(&[3; 16]).unwrap().expose_secret()
    );
}

#[test]
fn diversified_keys_differ_per_card_and_part() {
    let master = MasterKey::from_hex("00112233445566778899aabbccddeeff0102030405060708").unwrap();
    let one = master.diversify(&CardId::from_bytes([1; 16]));
    let two = master.diversify(&CardId::from_bytes([2; 16]));
    assert_ne!(one.expose_secret(), two.expose_secret());
    let bytes = one.expose_secret();
    // The three parts use different constants, so they differ.
    assert_ne!(bytes[..8], bytes[8..16]);
    assert_ne!(bytes[8..16], bytes[16..]);
    assert!(one.audit().has_odd_parity());
}

proptest! {
    #[test]
    fn diversification_is_deterministic_and_per_card(
        master in any::<[u8; 24]>(),
        card in any::<[u8; 16]>(),
        other_card in any::<[u8; 16]>(),
    ) {
        prop_assume!(card != other_card);
        let master = MasterKey::new(Algorithm::Tdes, &master).unwrap();
        let card = CardId::from_bytes(card);
        let derived = master.diversify(&card);
        let again = master.diversify(&card);
        prop_assert_eq!(derived.expose_secret(), again.expose_secret());
        let other = master.diversify(&CardId::from_bytes(other_card));
        prop_assert_ne!(derived.expose_secret(), other.expose_secret());
        prop_assert!(derived.audit().has_odd_parity());
        let via_cm = cm::diversified_key(&master, &card.to_string()).unwrap();
        prop_assert_eq!(via_cm.expose_secret(), derived.expose_secret());
    }
}

/// The blanket `impl CmacSigner for &S` (issue #24, item 15: its `cmac` as `Ok(())` survived
/// the mutation run): a type generic over its signer that holds a key store by reference
/// derives the same keys and check value as the store, and fails when the store fails.
#[test]
fn a_key_store_held_by_reference_is_the_key_store() {
    /// What a server's profile generic over its signer looks like, holding a borrowed store.
    struct Holder<S: CmacSigner> {
        signer: S,
    }
    let card: CardId = CARD.parse().unwrap();
    for algorithm in Algorithm::ALL {
        let store = recording(algorithm, false);
        let holder = Holder { signer: &store };
        assert_eq!(holder.signer.algorithm(), algorithm);
        assert_eq!(
            master::diversify(&holder.signer, &card)
                .unwrap()
                .expose_secret(),
            store.key.diversify(&card).expose_secret(),
            "{algorithm}"
        );
        assert_eq!(
            master::check_value(&holder.signer).unwrap(),
            store.key.check_value()
        );
        let down = recording(algorithm, true);
        let holder = Holder { signer: &down };
        assert_eq!(
            master::diversify(&holder.signer, &card).unwrap_err(),
            DiversifyError::Signer(StoreDown)
        );
    }
}

/// `CmacMessage`'s `Debug` is exactly the hex of its bytes (public data: a derivation constant
/// and the card ID, or the zero block of the check value).
#[test]
fn a_cmac_message_debugs_as_the_hex_of_its_bytes() {
    struct Showing {
        key: MasterKey,
        shown: RefCell<Vec<String>>,
    }
    impl CmacSigner for Showing {
        type Error = Infallible;
        fn algorithm(&self) -> Algorithm {
            self.key.algorithm()
        }
        fn cmac(&self, message: &CmacMessage, tag: &mut [u8]) -> Result<(), Infallible> {
            self.shown.borrow_mut().push(format!("{message:?}"));
            self.key.cmac(message, tag)
        }
    }
    let card: CardId = CARD.parse().unwrap();
    for (algorithm, expected) in [
        (
            Algorithm::Tdes,
            &[
                "CmacMessage(313FF188BCBA833740826246EBA1291C6E)",
                "CmacMessage(323FF188BCBA833740826246EBA1291C6E)",
                "CmacMessage(333FF188BCBA833740826246EBA1291C6E)",
                "CmacMessage(0000000000000000)",
            ][..],
        ),
        (
            Algorithm::Aes192,
            &[
                "CmacMessage(113FF188BCBA833740826246EBA1291C6E)",
                "CmacMessage(123FF188BCBA833740826246EBA1291C6E)",
                "CmacMessage(00000000000000000000000000000000)",
            ],
        ),
    ] {
        let store = Showing {
            key: MasterKey::new(algorithm, &vec![0x3c; algorithm.key_len()]).unwrap(),
            shown: RefCell::new(Vec::new()),
        };
        master::diversify(&store, &card).unwrap();
        master::check_value(&store).unwrap();
        assert_eq!(*store.shown.borrow(), expected, "{algorithm}");
    }
}

/// `DiversifyError` gives its cause as `source`: the key store's own error, or the `KeyError`
/// that refused the input.
#[test]
fn a_diversify_error_gives_its_cause_as_source() {
    struct Removed;
    impl CmacSigner for Removed {
        type Error = std::io::Error;
        fn algorithm(&self) -> Algorithm {
            Algorithm::Tdes
        }
        fn cmac(&self, _: &CmacMessage, _: &mut [u8]) -> Result<(), std::io::Error> {
            Err(std::io::Error::other("token removed"))
        }
    }
    let card: CardId = CARD.parse().unwrap();
    let err = master::diversify(&Removed, &card).unwrap_err();
    let source = err.source().expect("the key store's error");
    assert_eq!(source.to_string(), "token removed");
    assert!(source.downcast_ref::<std::io::Error>().is_some());

    let key = MasterKey::new(Algorithm::Aes128, &[0x3c; 16]).unwrap();
    let err = master::diversify_input(&key, &[7; 15], DesParity::Odd).unwrap_err();
    assert_eq!(
        err.source()
            .and_then(|source| source.downcast_ref::<KeyError>()),
        Some(&KeyError::KeyStoreInputLength { min: 16, found: 15 })
    );
}

/// DES's complementation property (`E_~K(~x) = ~E_K(x)`): an initial key that is the bitwise
/// NOT of a Triple-DES master answers `~x` with `~E_master(x)`, so `check_roles` refuses it,
/// whatever its parity bits, in memory and through a key store; AES has no such property, so
/// an AES key and its complement are two unrelated keys.
#[test]
fn check_roles_refuses_the_complement_of_the_master() {
    let bytes = hex("DA20D81B7D17734F8166BE8BAC0EC94DD8E793D74ACEC8B7");
    let master = MasterKey::new(Algorithm::Tdes, &bytes).unwrap();
    let complement: Vec<u8> = bytes.iter().map(|b| !b).collect();
    let complement_flipped: Vec<u8> = complement.iter().map(|b| b ^ 1).collect();
    // The attack the check stops: the master's encryption of x, from the initial key.
    let x = [0x1d, 0x60, 0x9c, 0x44, 0x02, 0xf7, 0x3b, 0xe8];
    let under_master = AdminKey::from_slice(&bytes)
        .unwrap()
        .respond(&Challenge::from_bytes(x))
        .unwrap();
    for initial in [&complement, &complement_flipped] {
        let initial = AdminKey::from_slice(initial).unwrap();
        let answer = initial
            .respond(&Challenge::from_bytes(x.map(|b| !b)))
            .unwrap();
        let complemented: Vec<u8> = answer.as_bytes().iter().map(|b| !b).collect();
        assert_eq!(complemented, under_master.as_bytes());

        let err = cm::check_roles(&initial, &master).unwrap_err();
        assert_eq!(
            err,
            cm::RolesError::ComplementKey {
                check_value: master.check_value()
            }
        );
        assert!(err.to_string().starts_with(
            "the initial admin key is the bitwise complement of the diversification key (CMAC check value "
        ));
    }
    // Through a key store, which gives only its check value.
    let store = recording(Algorithm::Tdes, false);
    let initial = AdminKey::from_slice(&[!0x3c; 24]).unwrap();
    assert_eq!(
        cm::check_roles(&initial, &store).unwrap_err(),
        cm::RolesError::ComplementKey {
            check_value: store.key.check_value()
        }
    );
    // One bit more than the complement is another key: accepted.
    let mut near = complement.clone();
    near[0] ^= 0x80;
    assert!(cm::check_roles(&AdminKey::from_slice(&near).unwrap(), &master).is_ok());
    for algorithm in [Algorithm::Aes128, Algorithm::Aes192, Algorithm::Aes256] {
        let bytes: Vec<u8> = (0..algorithm.key_len() as u8).collect();
        let master = MasterKey::new(algorithm, &bytes).unwrap();
        let complement: Vec<u8> = bytes.iter().map(|b| !b).collect();
        let initial = AdminKey::new(algorithm, &complement).unwrap();
        assert!(cm::check_roles(&initial, &master).is_ok(), "{algorithm}");
    }
}

/// The documentation's example master is on the well-known list (issue #24): its audit says so,
/// whatever its parity bits, and a key one bit away from it is not reported.
#[test]
fn the_published_example_master_audits_as_published() {
    use cardadmin::KeyFinding;
    for hex in [
        "DA20D81B7D17734F8166BE8BAC0EC94DD8E793D74ACEC8B7",
        "DB21D91A7C16724E8067BF8AAD0FC84CD9E692D64BCFC9B6",
    ] {
        let master = MasterKey::from_hex(hex).unwrap();
        assert_eq!(
            master.audit().findings().collect::<Vec<_>>(),
            [KeyFinding::PublishedExample],
            "{}",
            master.check_value()
        );
    }
    // One bit changed in each part in turn (not a parity bit): not the published key.
    for part in 0..3 {
        let mut bytes = hex("DA20D81B7D17734F8166BE8BAC0EC94DD8E793D74ACEC8B7");
        bytes[part * 8] ^= 0x02;
        let master = MasterKey::new(Algorithm::Tdes, &bytes).unwrap();
        assert!(master.audit().is_clean(), "part {part}");
    }
}
