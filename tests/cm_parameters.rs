//! The parameter-level `cm` functions (`authentication_response`, `diversified_key`,
//! `server_proposed_pin`): which key answers, which parameter an error names (and in which
//! order they are checked), each error's cause as its `source`, and when the server proposes
//! a PIN.

mod support;

use cardadmin::{
    cm, AdminKey, Algorithm, CardId, Challenge, CmError, GenerateError, KeyError, MasterKey,
    ParseError, PinPolicy, UserPinOption,
};
use proptest::prelude::*;
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha20Rng;
use support::{policies, Script};

#[test]
fn cm_errors_name_the_parameter_and_keep_their_source() {
    use std::error::Error as _;
    let key = AdminKey::from_bytes([0; 24]);
    let master = MasterKey::from_hex("00112233445566778899aabbccddeeff0102030405060708").unwrap();
    let guid = "bc88f13f-83ba-4037-8262-46eba1291c6e";
    // A bad card ID is reported before a bad challenge, diversified or not, and before the
    // missing master key.
    for (diversified, master) in [(false, Some(&master)), (true, Some(&master)), (true, None)] {
        let err = cm::authentication_response(&key, master, "x", "y", diversified).unwrap_err();
        assert!(matches!(err, CmError::CardId(_)), "{err:?}");
        assert!(
            err.to_string().starts_with("cardid: card ID must be"),
            "{err}"
        );
        let err = cm::authentication_response(&key, master, guid, "1hFD cz/0so=", diversified)
            .unwrap_err();
        assert_eq!(
            err,
            CmError::Challenge(ParseError::Space {
                what: "challenge",
                position: 4
            })
        );
        assert!(err.to_string().starts_with("challenge: value has a space"));
        assert_eq!(
            err.source().unwrap().to_string(),
            ParseError::Space {
                what: "challenge",
                position: 4
            }
            .to_string()
        );
    }
    let err = cm::diversified_key(&master, "").unwrap_err();
    assert_eq!(err, CmError::CardId(ParseError::Empty { what: "card ID" }));
    assert_eq!(err.to_string(), "cardid: card ID is empty");
    assert_eq!(err.source().unwrap().to_string(), "card ID is empty");

    let err = CmError::Pin(GenerateError::Rng);
    assert_eq!(
        err.to_string(),
        "server-proposed PIN: the random generator failed to produce bytes"
    );
    assert_eq!(
        err.source().unwrap().to_string(),
        "the random generator failed to produce bytes"
    );
}

#[test]
fn every_cm_error_gives_its_cause_as_source_and_only_then() {
    use std::error::Error as _;
    let parse = ParseError::Empty { what: "GUID" };
    let length = KeyError::ChallengeLength {
        algorithm: cardadmin::Algorithm::Aes128,
        expected: 16,
        found: 8,
    };
    let with_cause = [
        (CmError::CardId(parse), parse.to_string()),
        (CmError::Challenge(parse), parse.to_string()),
        (CmError::ChallengeLength(length), length.to_string()),
        (
            CmError::Pin(GenerateError::Rng),
            GenerateError::Rng.to_string(),
        ),
    ];
    for (err, cause) in with_cause {
        assert_eq!(err.source().map(|e| e.to_string()), Some(cause), "{err:?}");
    }
    let without_cause = [CmError::NoDiversificationKey, CmError::KeyStore];
    for err in without_cause {
        assert!(err.source().is_none(), "{err:?}");
    }
}

#[test]
fn cm_diversified_response_uses_the_card_key() {
    let initial = AdminKey::from_bytes([0x2a; 24]);
    let master = MasterKey::from_hex("00112233445566778899aabbccddeeff0102030405060708").unwrap();
    let guid = "bc88f13f-83ba-4037-8262-46eba1291c6e";
    let challenge = Challenge::from_base64("1hFD+cz/0so=").unwrap();
    let card_key = cm::diversified_key(&master, guid).unwrap();
    assert_eq!(
        card_key.expose_secret(),
        master
            .diversify(&CardId::parse(guid).unwrap())
            .expose_secret()
    );
    let diversified =
        cm::authentication_response(&initial, Some(&master), guid, "1hFD+cz/0so=", true).unwrap();
    let plain =
        cm::authentication_response(&initial, Some(&master), guid, "1hFD+cz/0so=", false).unwrap();
    assert_eq!(diversified, card_key.respond(&challenge).unwrap());
    // diversified=false is the initial key's answer, never the master's.
    assert_eq!(plain, initial.respond(&challenge).unwrap());
    assert_ne!(diversified, plain);
}

#[test]
fn cm_server_proposed_pin_follows_the_user_pin_option() {
    for (option, server) in [
        (UserPinOption::None, false),
        (UserPinOption::UserProvided, false),
        (UserPinOption::Randomized, true),
        (UserPinOption::ServerDistributed, true),
        (UserPinOption::CustomServerDistributed, false),
    ] {
        let policy = PinPolicy::builder()
            .user_pin_option(option)
            .build()
            .unwrap();
        assert_eq!(policy.server_generates(), server, "{option:?}");
        let mut rng = Script::new(b"\x05\x00\x03\x09\x01\x07\x02\x08", Some(0));
        let proposed = cm::server_proposed_pin(&policy, &mut rng).unwrap();
        assert_eq!(
            proposed.map(|pin| pin.as_str().to_owned()),
            server.then(|| "50391728".to_owned())
        );
        // Nothing is drawn from the generator when the server does not propose.
        assert_eq!(rng.calls, usize::from(server));
    }
    let err = cm::server_proposed_pin(&PinPolicy::default(), &mut Script::new(&[], None));
    assert_eq!(err.unwrap_err(), CmError::Pin(GenerateError::Rng));
}

proptest! {
    #[test]
    fn diversified_response_is_the_diversified_keys_response(
        master in any::<[u8; 24]>(),
        card in any::<[u8; 16]>(),
        initial in any::<[u8; 24]>(),
        challenge in any::<[u8; 8]>(),
    ) {
        let master = MasterKey::new(Algorithm::Tdes, &master).unwrap();
        let initial = AdminKey::from_bytes(initial);
        let card = CardId::from_bytes(card);
        let challenge = Challenge::from_bytes(challenge);
        let card_text = card.to_string();
        let challenge_text = challenge.to_string();
        prop_assert_eq!(
            cm::authentication_response(&initial, Some(&master), &card_text, &challenge_text, true).unwrap(),
            master.diversify(&card).respond(&challenge).unwrap()
        );
        prop_assert_eq!(
            cm::authentication_response(&initial, Some(&master), &card_text, &challenge_text, false).unwrap(),
            initial.respond(&challenge).unwrap()
        );
    }

    #[test]
    fn server_proposes_exactly_when_the_policy_says_so(policy in policies(), seed in any::<u64>()) {
        let mut rng = ChaCha20Rng::seed_from_u64(seed);
        let proposed = cm::server_proposed_pin(&policy, &mut rng).unwrap();
        let expected = matches!(
            policy.user_pin_option(),
            UserPinOption::Randomized | UserPinOption::ServerDistributed
        );
        prop_assert_eq!(proposed.is_some(), expected);
        prop_assert_eq!(policy.server_generates(), expected);
    }
}
