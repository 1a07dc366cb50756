//! `AdminKey` from configuration (issue #9, item 5): `Deserialize` from 48 hex digits, from
//! borrowed and owned text, with errors that never contain key text.
#![cfg(feature = "serde")]

use cardadmin::AdminKey;
use serde::Deserialize;

const KEY: &str = "00112233445566778899AABBCCDDEEFF0102030405060708";

#[derive(Deserialize)]
struct Config {
    admin_key: AdminKey,
}

#[test]
fn from_hex_text_either_case() {
    let expected = AdminKey::from_hex(KEY).unwrap();
    for text in [KEY.to_string(), KEY.to_lowercase()] {
        // Borrowed (no escapes): read in place.
        let key: AdminKey = serde_json::from_str(&format!("\"{text}\"")).unwrap();
        assert_eq!(key.expose_secret(), expected.expose_secret());
        // Owned (serde_json::Value hands over a String): wiped after reading.
        let key: AdminKey =
            serde_json::from_value(serde_json::Value::String(text.clone())).unwrap();
        assert_eq!(key.expose_secret(), expected.expose_secret());
        // With escapes, through serde_json's scratch buffer.
        let escaped = format!("\"\\u0030{}\"", &text[1..]);
        let key: AdminKey = serde_json::from_str(&escaped).unwrap();
        assert_eq!(key.expose_secret(), expected.expose_secret());
    }
    let config: Config = serde_json::from_str(&format!(r#"{{ "admin_key": "{KEY}" }}"#)).unwrap();
    assert_eq!(config.admin_key.check_value(), expected.check_value());
    // From bytes too (formats that hand over byte strings).
    let key: AdminKey = serde_json::from_value(serde_json::json!(KEY)).unwrap();
    assert_eq!(key.check_value(), expected.check_value());
}

/// The error, and that it holds no run of the key's digits.
fn error_of(json: &str) -> String {
    let message = match serde_json::from_str::<Config>(json) {
        Ok(_) => panic!("accepted {json}"),
        Err(err) => err.to_string(),
    };
    for window in KEY.as_bytes().windows(4) {
        let digits = std::str::from_utf8(window).unwrap();
        assert!(
            !message.to_lowercase().contains(&digits.to_lowercase()),
            "{message:?} contains {digits:?}"
        );
    }
    message
}

#[test]
fn errors_never_contain_key_text() {
    assert_eq!(
        error_of(&format!(r#"{{ "admin_key": "{}" }}"#, &KEY[..47])),
        "admin key must be 48 hex digits, got 47 characters at line 1 column 64"
    );
    assert_eq!(
        error_of(&format!(r#"{{ "admin_key": "{}g" }}"#, &KEY[..47])),
        "admin key has a character that is not a hex digit (0-9, a-f, A-F) at position 47 at line 1 column 65"
    );
    assert_eq!(
        error_of(&format!(r#"{{ "admin_key": "{KEY}0" }}"#)),
        "admin key must be 48 hex digits, got 49 characters at line 1 column 66"
    );
    // Not a string: refused without echoing the value (serde's default message would print it).
    assert!(error_of(r#"{ "admin_key": 11223344556677889900 }"#)
        .starts_with("admin key must be a string of 48 hex digits, or { \"algorithm\": ..., \"key\": \"<hex>\" } at line 1 column "));
    assert!(error_of(r#"{ "admin_key": 1122334455667788 }"#)
        .starts_with("admin key must be a string of 48 hex digits, or { \"algorithm\": ..., \"key\": \"<hex>\" } at line 1 column "));
    assert!(error_of(r#"{ "admin_key": 0.1122334455 }"#)
        .starts_with("admin key must be a string of 48 hex digits, or { \"algorithm\": ..., \"key\": \"<hex>\" } at line 1 column "));
    assert!(error_of(r#"{ "admin_key": null }"#).starts_with("invalid type: null"));
    assert!(error_of(r#"{ "admin_key": ["0011"] }"#).starts_with("invalid type: sequence"));
    // Owned text gets the same message.
    let err = serde_json::from_value::<AdminKey>(serde_json::json!(&KEY[..46])).unwrap_err();
    assert_eq!(
        err.to_string(),
        "admin key must be 48 hex digits, got 46 characters"
    );
}

#[test]
fn debug_of_a_deserialized_key_shows_only_the_check_value() {
    let key: AdminKey = serde_json::from_str(&format!("\"{KEY}\"")).unwrap();
    assert_eq!(
        format!("{key:?}"),
        format!(
            "AdminKey {{ algorithm: Tdes, check_value: {} }}",
            key.check_value()
        )
    );
}

#[test]
fn aes_keys_in_the_map_form() {
    let key: AdminKey = serde_json::from_str(
        r#"{ "algorithm": "aes192", "key": "010203040506070801020304050607080102030405060708" }"#,
    )
    .unwrap();
    assert_eq!(key.algorithm(), cardadmin::Algorithm::Aes192);
    // Either order; the 3DES form too.
    let key: AdminKey =
        serde_json::from_str(&format!(r#"{{ "key": "{KEY}", "algorithm": "tdes" }}"#)).unwrap();
    assert_eq!(key.algorithm(), cardadmin::Algorithm::Tdes);
    let key: AdminKey = serde_json::from_str(
        r#"{ "algorithm": "AES256", "key": "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff" }"#,
    )
    .unwrap();
    assert_eq!(key.expose_secret().len(), 32);
    for (json, message) in [
        (r#"{ "algorithm": "aes128" }"#, "missing field `key`"),
        (r#"{ "key": "00" }"#, "missing field `algorithm`"),
        (
            r#"{ "algorithm": "aes", "key": "00" }"#,
            "unknown key algorithm",
        ),
        (
            r#"{ "algorithm": "aes128", "key": "00112233445566778899aabbccddee" }"#,
            "admin key must be 32 hex digits, got 30 characters",
        ),
        (
            r#"{ "algorithm": "aes128", "key": 1234 }"#,
            "admin key must be a string",
        ),
        (
            r#"{ "algorithm": "aes128", "key": "00", "colour": 1 }"#,
            "unknown field `colour`",
        ),
    ] {
        let err = serde_json::from_str::<AdminKey>(json)
            .unwrap_err()
            .to_string();
        assert!(err.starts_with(message), "{json}: {err}");
        assert!(!err.contains("1234") && !err.contains("00112233"), "{err}");
    }
    let long = format!(
        r#"{{ "algorithm": "aes128", "key": "{}" }}"#,
        "ab".repeat(40)
    );
    let err = serde_json::from_str::<AdminKey>(&long)
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("admin key must be 32 hex digits, got 80 characters"),
        "{err}"
    );
}

fn map_form_error(algorithm: &str, key: &str) -> String {
    let json = serde_json::json!({ "algorithm": algorithm, "key": key }).to_string();
    serde_json::from_str::<AdminKey>(&json)
        .unwrap_err()
        .to_string()
}

/// Characters that are not ASCII count as one character each, and as no hex digit, in the map
/// form as in the plain text: the error names the length in characters, or the position.
#[test]
fn key_text_that_is_not_ascii_is_counted_in_characters() {
    let mut one = "00112233445566778899aabbccddeeff".to_string();
    one.replace_range(5..6, "\u{e9}");
    assert!(
        map_form_error("aes128", &one).starts_with(
            "admin key has a character that is not a hex digit (0-9, a-f, A-F) at position 5"
        ),
        "{}",
        map_form_error("aes128", &one)
    );
    // Longer than the key in characters, shorter than the buffer in characters but not in
    // bytes: the first character is named; longer than any key: its length in characters.
    let not_hex = "admin key has a character that is not a hex digit (0-9, a-f, A-F) at position 0";
    for (count, algorithm, message) in [
        (33, "aes128", not_hex.to_string()),
        (64, "aes256", not_hex.to_string()),
        (
            70,
            "aes256",
            "admin key must be 64 hex digits, got 70 characters".to_string(),
        ),
    ] {
        let err = map_form_error(algorithm, &"\u{e9}".repeat(count));
        assert!(err.starts_with(&message), "{count}: {err}");
    }
}

#[test]
fn a_field_given_twice_in_the_map_form_is_refused() {
    let key = "00112233445566778899aabbccddeeff";
    for (json, field) in [
        (
            format!(r#"{{ "algorithm": "aes128", "algorithm": "aes128", "key": "{key}" }}"#),
            "algorithm",
        ),
        (
            format!(r#"{{ "algorithm": "aes128", "key": "{key}", "key": "{key}" }}"#),
            "key",
        ),
    ] {
        let err = serde_json::from_str::<AdminKey>(&json)
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with(&format!("duplicate field `{field}`")),
            "{json}: {err}"
        );
    }
}

/// A value of a type no form takes is answered with what each place expects.
#[test]
fn a_value_of_the_wrong_type_says_what_was_expected() {
    for (json, message) in [
        (
            "true".to_string(),
            "invalid type: boolean `true`, expected an admin key: a string of 48 hex digits, or a map of algorithm and key",
        ),
        (
            r#"{ "algorithm": 5, "key": "00" }"#.to_string(),
            "invalid type: integer `5`, expected tdes, aes128, aes192 or aes256",
        ),
        (
            r#"{ "algorithm": "aes128", "key": true }"#.to_string(),
            "invalid type: boolean `true`, expected the key as a string of hex digits",
        ),
    ] {
        let err = serde_json::from_str::<AdminKey>(&json)
            .unwrap_err()
            .to_string();
        assert!(err.starts_with(message), "{json}: {err}");
    }
    // Formats whose map keys need not be strings (YAML's, say): a field name that is not one.
    let fields = serde::de::value::MapDeserializer::<_, serde::de::value::Error>::new(
        [(1u32, "00")].into_iter(),
    );
    let err = AdminKey::deserialize(fields).unwrap_err().to_string();
    assert_eq!(
        err,
        "invalid type: integer `1`, expected `algorithm` or `key`"
    );
}
