//! `ExpectedCheckValue`, the check value a person types (`"check_value"`,
//! `--expect-check-value`): its bytes, and the words of its refusal.

use cardadmin_pkcs11::ExpectedCheckValue;

#[test]
fn the_bytes_are_the_six_digits_read_as_hex_in_either_case() {
    for text in ["DD1BF6", "dd1bf6", "Dd1Bf6"] {
        let expected: ExpectedCheckValue = text.parse().unwrap();
        assert_eq!(expected.as_bytes(), &[0xDD, 0x1B, 0xF6], "{text}");
    }
    let other: ExpectedCheckValue = "01a0ff".parse().unwrap();
    assert_eq!(other.as_bytes(), &[0x01, 0xA0, 0xFF]);
}

#[test]
fn the_refusal_counts_the_characters_given_in_good_english() {
    let message = |text: &str| text.parse::<ExpectedCheckValue>().unwrap_err().to_string();
    assert!(
        message("A").ends_with("; got 1 character"),
        "{}",
        message("A")
    );
    assert!(
        message("AB").ends_with("; got 2 characters"),
        "{}",
        message("AB")
    );
    assert!(
        message("").ends_with("; got 0 characters"),
        "{}",
        message("")
    );
    assert!(
        message("ABCDEFA").ends_with("; got 7 characters"),
        "{}",
        message("ABCDEFA")
    );
    // Six characters, not all hex: said so; characters, not bytes, are counted.
    assert!(message("ABCDEG").ends_with("; got 6 characters, not all hex digits"));
    assert!(
        message("ééé").ends_with("; got 3 characters"),
        "{}",
        message("ééé")
    );
}
