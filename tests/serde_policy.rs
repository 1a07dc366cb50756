//! PIN policies loaded from JSON (the `serde` feature): the documented shape, defaults for absent
//! fields, and the builder's validation on the way in.
#![cfg(feature = "serde")]

use cardadmin::{CharRule, PinPolicy, UserPinOption};

/// The shape documented in the crate docs, every field given.
const FULL: &str = r#"{
    "min_len": 8,
    "max_len": 12,
    "proposed_len": 10,
    "digits": "Require",
    "lowercase": "Allow",
    "uppercase": "Require",
    "special": "Disallow",
    "reject_weak": true,
    "user_pin_option": "ServerDistributed"
}"#;

fn load(json: &str) -> Result<PinPolicy, serde_json::Error> {
    serde_json::from_str(json)
}

#[test]
fn loads_a_full_policy() {
    let policy = load(FULL).expect("a valid policy");
    let built = PinPolicy::builder()
        .min_len(8)
        .max_len(12)
        .proposed_len(10)
        .digits(CharRule::Require)
        .lowercase(CharRule::Allow)
        .uppercase(CharRule::Require)
        .special(CharRule::Disallow)
        .reject_weak(true)
        .user_pin_option(UserPinOption::ServerDistributed)
        .build()
        .expect("a valid policy");
    assert_eq!(policy, built);
    let pin = policy
        .generate(&mut rand_core::OsRng)
        .expect("a working generator");
    assert_eq!(pin.len(), 10);
    assert_eq!(policy.validate(pin.as_str()), Ok(()));
}

#[test]
fn absent_fields_take_the_defaults() {
    assert_eq!(
        load("{}").expect("the default policy"),
        PinPolicy::default()
    );

    // proposed_len absent: 8 clamped into min_len..=max_len, as the builder does.
    let long = load(r#"{"min_len": 10, "max_len": 16}"#).expect("a valid policy");
    assert_eq!(long.proposed_len(), 10);
    let short = load(r#"{"max_len": 6}"#).expect("a valid policy");
    assert_eq!((short.min_len(), short.proposed_len()), (6, 6));
    let null = load(r#"{"proposed_len": null}"#).expect("a valid policy");
    assert_eq!(null, PinPolicy::default());

    let letters = load(r#"{"digits": "Allow", "lowercase": "Require"}"#).expect("a valid policy");
    assert_eq!(letters.digits(), CharRule::Allow);
    assert_eq!(letters.lowercase(), CharRule::Require);
    assert_eq!(letters.user_pin_option(), UserPinOption::Randomized);
}

#[test]
fn serializes_to_the_documented_shape_and_back() {
    let json = serde_json::to_string(&PinPolicy::default()).expect("serializable");
    assert_eq!(
        json,
        r#"{"min_len":6,"max_len":8,"proposed_len":8,"digits":"Require","lowercase":"Disallow","uppercase":"Disallow","special":"Disallow","reject_weak":true,"user_pin_option":"Randomized"}"#
    );
    let policy = load(FULL).expect("a valid policy");
    let again = load(&serde_json::to_string(&policy).expect("serializable")).expect("round trip");
    assert_eq!(again, policy);
}

#[test]
fn every_enum_value_round_trips() {
    for (rule, text) in [
        (CharRule::Allow, "\"Allow\""),
        (CharRule::Require, "\"Require\""),
        (CharRule::Disallow, "\"Disallow\""),
    ] {
        assert_eq!(serde_json::to_string(&rule).expect("serializable"), text);
        assert_eq!(
            serde_json::from_str::<CharRule>(text).expect("a rule"),
            rule
        );
    }
    for (option, text) in [
        (UserPinOption::None, "\"None\""),
        (UserPinOption::UserProvided, "\"UserProvided\""),
        (UserPinOption::Randomized, "\"Randomized\""),
        (UserPinOption::ServerDistributed, "\"ServerDistributed\""),
        (
            UserPinOption::CustomServerDistributed,
            "\"CustomServerDistributed\"",
        ),
    ] {
        assert_eq!(serde_json::to_string(&option).expect("serializable"), text);
        assert_eq!(
            serde_json::from_str::<UserPinOption>(text).expect("an option"),
            option
        );
    }
}

/// An invalid policy in a file is an error carrying the builder's message, not a policy.
#[test]
fn invalid_policies_are_errors() {
    let cases = [
        (
            r#"{"min_len": 3}"#,
            "PIN policy min_len must be 4 to 127, got 3",
        ),
        (
            r#"{"max_len": 128}"#,
            "PIN policy max_len must be 4 to 127, got 128",
        ),
        (
            r#"{"min_len": 10}"#,
            "PIN policy min_len (10) must not be greater than max_len (8)",
        ),
        (
            r#"{"proposed_len": 9}"#,
            "PIN policy proposed_len must be within min_len..=max_len (6 to 8), got 9",
        ),
        (
            r#"{"digits": "Disallow"}"#,
            "PIN policy disallows every character class",
        ),
    ];
    for (json, message) in cases {
        let err = load(json).expect_err(json);
        assert!(err.is_data(), "{json}: {err}");
        assert!(err.to_string().contains(message), "{json}: {err}");
    }
}

#[test]
fn malformed_files_are_errors() {
    for json in [
        // A misspelt field is not silently ignored.
        r#"{"min_length": 4}"#,
        // Enum values are case-sensitive variant names.
        r#"{"digits": "require"}"#,
        r#"{"user_pin_option": "Random"}"#,
        r#"{"min_len": -1}"#,
        r#"{"min_len": "6"}"#,
        r#"{"reject_weak": "yes"}"#,
        r#""6..=8""#,
        r#"{"min_len": 6"#,
    ] {
        assert!(load(json).is_err(), "{json}");
    }
    let err = load(r#"{"min_length": 4}"#).expect_err("unknown field");
    assert!(
        err.to_string().contains("unknown field `min_length`"),
        "{err}"
    );
}
