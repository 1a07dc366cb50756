//! Messages of the errors every parser shares: each `ParseError` says what was wrong and what
//! was expected, and a count of one is singular in every message (issue #14).

use cardadmin::{AdminKey, KeyError, ParseError};

#[test]
fn parse_error_messages() {
    let cases: [(ParseError, &str); 9] = [
        (ParseError::Empty { what: "card ID" }, "card ID is empty"),
        (
            ParseError::Length {
                what: "challenge",
                expected: "12",
                found: 13,
            },
            "challenge must be 12 characters long, got 13",
        ),
        (
            ParseError::InvalidCharacter {
                what: "card ID",
                position: 8,
                found: '_',
                expected: "'-'",
            },
            "card ID has '_' at position 8, expected '-'",
        ),
        (
            ParseError::Space {
                what: "challenge",
                position: 4,
            },
            "challenge has a space at position 4: a '+' was probably turned into a space by URL decoding; send it percent-encoded as %2B",
        ),
        (
            ParseError::UrlSafeAlphabet {
                what: "response",
                position: 2,
                found: '-',
            },
            "response has '-' at position 2: that is URL-safe base64; use the standard alphabet ('+' and '/')",
        ),
        (
            ParseError::MissingPadding {
                what: "challenge",
                found: 11,
            },
            "challenge is missing its '=' padding: expected 12 characters ending in '=', got 11",
        ),
        (
            ParseError::DecodedLength {
                what: "challenge",
                expected: 8,
                found: 6,
            },
            "challenge must decode to 8 bytes, got 6",
        ),
        (
            ParseError::NonCanonical { what: "challenge" },
            "challenge is not canonical base64: the unused bits of its last character must be zero",
        ),
        (
            ParseError::UnbalancedBraces { what: "card ID" },
            "card ID has unbalanced brackets: enclose it in '{' and '}' or in '(' and ')', or in neither",
        ),
    ];
    for (err, message) in cases {
        assert_eq!(err.to_string(), message);
    }
}

/// Issue #14: "got 1 characters". A count of one is singular in every message that states a
/// count of characters or bytes; every other count stays plural.
#[test]
fn a_count_of_one_is_singular() {
    use cardadmin::Algorithm;

    let one = [
        (
            AdminKey::from_hex("a").unwrap_err().to_string(),
            "admin key must be 48 hex digits, got 1 character",
        ),
        (
            KeyError::ChallengeLength {
                algorithm: Algorithm::Aes128,
                expected: 16,
                found: 1,
            }
            .to_string(),
            "AES-128 admin keys answer 16-byte challenges, got 1 byte",
        ),
    ];
    for (got, expected) in one {
        assert_eq!(got, expected);
    }
    // The plural stays for every other count.
    assert_eq!(
        AdminKey::from_hex("ab").unwrap_err().to_string(),
        "admin key must be 48 hex digits, got 2 characters"
    );
}
