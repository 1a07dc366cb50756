//! `ExpectedCheckValue`, a check value a person gives (the configuration's `check_value`, the
//! ceremony's `--expect-check-value`): 6 hex digits in any case, to their 3 bytes.

use cardadmin_pkcs11::ExpectedCheckValue;

#[test]
fn six_hex_digits_in_any_case_are_their_three_bytes() {
    for text in ["dd1bf6", "DD1BF6", "Dd1Bf6"] {
        let expected: ExpectedCheckValue = text.parse().unwrap();
        assert_eq!(expected.as_bytes(), &[0xdd, 0x1b, 0xf6], "{text}");
        assert_eq!(expected.to_string(), "DD1BF6");
    }
    let zero: ExpectedCheckValue = "000000".parse().unwrap();
    assert_eq!(zero.as_bytes(), &[0, 0, 0]);
}

#[test]
fn a_malformed_check_value_is_described_by_its_length_only() {
    for (text, message) in [
        (
            "A",
            "a check value is 6 hex digits (0-9, A-F), as the ceremony prints it; got 1 character",
        ),
        (
            "ABCD",
            "a check value is 6 hex digits (0-9, A-F), as the ceremony prints it; got 4 characters",
        ),
        // Six bytes but not six characters: counted as characters.
        (
            "ABCD\u{e9}",
            "a check value is 6 hex digits (0-9, A-F), as the ceremony prints it; got 5 characters",
        ),
        (
            "\u{e9}\u{e9}\u{e9}",
            "a check value is 6 hex digits (0-9, A-F), as the ceremony prints it; got 3 characters",
        ),
        (
            "12345G",
            "a check value is 6 hex digits (0-9, A-F), as the ceremony prints it; got 6 characters, not all hex digits",
        ),
    ] {
        let err = text.parse::<ExpectedCheckValue>().unwrap_err();
        assert_eq!(err.to_string(), message, "{text}");
    }
}
