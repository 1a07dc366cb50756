//! Challenges and responses: standard base64 text in both directions, with an error for each
//! mistake a client makes (a `+` decoded to a space, the URL-safe alphabet, missing padding,
//! the wrong length, non-canonical bits); `respond` and `verify`, which accepts exactly the
//! response.

use cardadmin::{AdminKey, Challenge, ParseError, Response};
use proptest::prelude::*;

#[test]
fn challenge_with_space_from_url_decoded_plus() {
    let err = Challenge::from_base64("1hFD cz/0so=").unwrap_err();
    assert_eq!(
        err,
        ParseError::Space {
            what: "challenge",
            position: 4
        }
    );
    let message = err.to_string();
    assert!(
        message.contains("'+'") && message.contains("%2B"),
        "{message}"
    );
}

#[test]
fn challenge_in_url_safe_alphabet() {
    for (text, found) in [("1hFD-cz/0so=", '-'), ("1hFD+cz_0so=", '_')] {
        let err = Challenge::from_base64(text).unwrap_err();
        assert!(
            matches!(err, ParseError::UrlSafeAlphabet { what: "challenge", found: f, .. } if f == found),
            "{err:?}"
        );
        assert!(err.to_string().contains("standard alphabet"));
    }
}

#[test]
fn challenge_missing_padding() {
    let err = Challenge::from_base64("1hFD+cz/0so").unwrap_err();
    assert_eq!(
        err,
        ParseError::MissingPadding {
            what: "challenge",
            found: 11
        }
    );
}

#[test]
fn challenge_wrong_decoded_length() {
    let cases = [
        ("AAAAAAAA", 6),
        ("AAAAAAAAAA==", 7),
        ("AAAAAAAAAAAA", 9),
        ("AAAAAAAAAAAAAAAA", 12),
        ("AAAAAAAAAA", 7), // unpadded, and too short anyway
    ];
    for (text, found) in cases {
        let err = Challenge::from_base64(text).unwrap_err();
        assert_eq!(
            err,
            ParseError::DecodedLength {
                what: "challenge",
                expected: 8,
                found
            },
            "{text}"
        );
    }
    assert_eq!(
        Challenge::from_base64("AAAAAAAA").unwrap_err().to_string(),
        "challenge must decode to 8 bytes, got 6"
    );
    assert_eq!(
        Response::from_base64("AAAAAAAA").unwrap_err().to_string(),
        "response must decode to 8 bytes, got 6"
    );
}

#[test]
fn challenge_other_mistakes() {
    assert_eq!(
        Challenge::from_base64("").unwrap_err(),
        ParseError::Empty { what: "challenge" }
    );
    // Non-canonical: the last character's unused bits are not zero.
    assert_eq!(
        Challenge::from_base64("1hFD+cz/0sp=").unwrap_err(),
        ParseError::NonCanonical { what: "challenge" }
    );
    assert!(matches!(
        Challenge::from_base64("1hFD+cz/0so\u{e9}").unwrap_err(),
        ParseError::InvalidCharacter {
            position: 11,
            found: '\u{e9}',
            ..
        }
    ));
    assert!(matches!(
        Challenge::from_base64("1hFD+cz/0so=A").unwrap_err(),
        ParseError::InvalidCharacter {
            position: 12,
            found: 'A',
            ..
        }
    ));
    assert!(matches!(
        Challenge::from_base64("AAAAAAAAA===").unwrap_err(),
        ParseError::InvalidCharacter {
            position: 11,
            found: '=',
            ..
        }
    ));
    assert!(matches!(
        Challenge::from_base64("AAAAAAAAA").unwrap_err(),
        ParseError::Length { found: 9, .. }
    ));
    assert!(matches!(
        Challenge::from_base64(" 1hFD+cz/0so=").unwrap_err(),
        ParseError::Space { position: 0, .. }
    ));
    assert!(matches!(
        Challenge::from_base64("1hFD+cz/0so=\n").unwrap_err(),
        ParseError::InvalidCharacter { found: '\n', .. }
    ));
}

#[test]
fn base64_errors_name_the_mistake() {
    const WHAT: &str = "challenge";
    let parse = Challenge::from_base64;
    assert_eq!(parse(""), Err(ParseError::Empty { what: WHAT }));
    assert_eq!(
        parse("1hFD cz/0so="),
        Err(ParseError::Space {
            what: WHAT,
            position: 4
        })
    );
    assert_eq!(
        parse("1hFD-cz/0so="),
        Err(ParseError::UrlSafeAlphabet {
            what: WHAT,
            position: 4,
            found: '-'
        })
    );
    assert_eq!(
        parse("1hFD+cz_0so="),
        Err(ParseError::UrlSafeAlphabet {
            what: WHAT,
            position: 7,
            found: '_'
        })
    );
    assert_eq!(
        parse("1hFD+cz/0so"),
        Err(ParseError::MissingPadding {
            what: WHAT,
            found: 11
        })
    );
    for (text, found) in [
        ("AAAAAAAA", 6),
        ("AAAAAAAAAA", 7),
        ("AAAAAAAAAAAAAA", 10),
        ("AAAAAAAAAAAAAAAA", 12),
        ("AA==", 1),
        ("AAAAAAAAAAAAAAA=", 11),
        ("AAAAAAAAAAAAAA==", 10),
    ] {
        let expected = ParseError::DecodedLength {
            what: WHAT,
            expected: 8,
            found,
        };
        assert_eq!(parse(text), Err(expected), "{text}");
    }
    for text in [
        "A",
        "AAAAA",
        "AAAAAAAAA",
        "AAAAAAAAAAAAA",
        "AAAAAAAAAA=",
        "AAAAAAAAA==",
    ] {
        assert_eq!(
            parse(text),
            Err(ParseError::Length {
                what: WHAT,
                expected: "12 or 24",
                found: text.chars().count()
            }),
            "{text}"
        );
    }
    for (text, position, found, expected) in [
        (
            "1hFD+cz/0so!",
            11,
            '!',
            "a standard base64 character (A-Z, a-z, 0-9, '+', '/')",
        ),
        ("1hFD+cz/0s=o", 11, 'o', "only '=' after padding starts"),
        ("AAAAAAAAA==A", 11, 'A', "the end of the text after two '='"),
        ("AAAAAAAAA===", 11, '=', "the end of the text after two '='"),
        (
            "é",
            0,
            'é',
            "a standard base64 character (A-Z, a-z, 0-9, '+', '/')",
        ),
    ] {
        assert_eq!(
            parse(text),
            Err(ParseError::InvalidCharacter {
                what: WHAT,
                position,
                found,
                expected,
            }),
            "{text}"
        );
    }
    assert_eq!(
        parse("1hFD+cz/0sp="),
        Err(ParseError::NonCanonical { what: WHAT })
    );
    assert_eq!(
        Response::from_base64("F0Zudm4wPLZ="),
        Err(ParseError::NonCanonical { what: "response" })
    );
    // Every byte value survives the round trip, in every position.
    for value in 0..=255u8 {
        for position in 0..8 {
            let mut bytes = [0x5a; 8];
            bytes[position] = value;
            let challenge = Challenge::from_bytes(bytes);
            assert_eq!(parse(&challenge.to_string()), Ok(challenge));
            let response = Response::from_bytes(bytes);
            assert_eq!(Response::from_base64(&response.to_string()), Ok(response));
        }
    }
}

#[test]
fn response_equality_is_byte_equality() {
    let a = Response::from_bytes(*b"abcdefgh");
    assert_eq!(a, Response::from_bytes(*b"abcdefgh"));
    assert_ne!(a, Response::from_bytes(*b"abcdefgi"));
    assert_ne!(a, Response::from_bytes(*b"bbcdefgh"));
    assert_eq!(format!("{a:?}"), format!("Response({a})"));
    let c = Challenge::from_bytes(*b"abcdefgh");
    assert_eq!(format!("{c:?}"), "Challenge(YWJjZGVmZ2g=)");
    assert_eq!(a.to_string(), "YWJjZGVmZ2g=");
}

#[test]
fn verify_rejects_every_single_bit_flip() {
    let key = AdminKey::from_hex("0123456789abcdef23456789abcdef01456789abcdef0123").unwrap();
    let challenge = Challenge::from_base64("1hFD+cz/0so=").unwrap();
    let response = key.respond(&challenge).unwrap();
    assert!(key.verify(&challenge, &response));
    for bit in 0..64 {
        let mut bytes: [u8; 8] = response.as_bytes().try_into().unwrap();
        bytes[bit / 8] ^= 1 << (bit % 8);
        assert!(
            !key.verify(&challenge, &Response::from_bytes(bytes)),
            "bit {bit}"
        );
        assert_ne!(Response::from_bytes(bytes), response, "bit {bit}");
    }
    // A response for another key or another challenge is rejected too.
    let other_key = AdminKey::from_bytes([0x5a; 24]);
    assert!(!other_key.verify(&challenge, &response));
    assert!(!key.verify(&Challenge::from_bytes([0; 8]), &response));
}

proptest! {
    #[test]
    fn challenge_and_response_print_and_parse_back(bytes in any::<[u8; 8]>()) {
        let challenge = Challenge::from_bytes(bytes);
        let text = challenge.to_string();
        prop_assert_eq!(text.len(), 12);
        prop_assert!(text.ends_with('='));
        prop_assert_eq!(Challenge::from_base64(&text), Ok(challenge));
        let response = Response::from_bytes(bytes);
        prop_assert_eq!(response.to_string(), text.clone());
        prop_assert_eq!(Response::from_base64(&text), Ok(response));
        prop_assert_eq!(text.parse::<Response>(), Ok(response));
    }

    #[test]
    fn only_canonical_base64_is_accepted(bytes in any::<[u8; 8]>(), low_bits in 1u8..4) {
        // The 11th character carries 2 unused bits; setting them gives the same bytes in a
        // non-canonical text, which must be refused.
        const ALPHABET: &[u8; 64] =
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let mut text = Challenge::from_bytes(bytes).to_string().into_bytes();
        let index = ALPHABET.iter().position(|&c| c == text[10]).unwrap();
        text[10] = ALPHABET[index | usize::from(low_bits)];
        let text = String::from_utf8(text).unwrap();
        prop_assert!(Challenge::from_base64(&text).is_err());
    }

    #[test]
    fn verify_accepts_exactly_the_response(
        key in any::<[u8; 24]>(),
        challenge in any::<[u8; 8]>(),
        other in any::<[u8; 8]>(),
    ) {
        let key = AdminKey::from_bytes(key);
        let challenge = Challenge::from_bytes(challenge);
        let response = key.respond(&challenge).unwrap();
        prop_assert!(key.verify(&challenge, &response));
        let other = Response::from_bytes(other);
        prop_assert_eq!(key.verify(&challenge, &other), other == response);
        for bit in 0..64 {
            let mut flipped: [u8; 8] = response.as_bytes().try_into().unwrap();
            flipped[bit / 8] ^= 1 << (bit % 8);
            prop_assert!(!key.verify(&challenge, &Response::from_bytes(flipped)));
        }
    }

    #[test]
    fn parity_bits_never_change_a_response(key in any::<[u8; 24]>(), challenge in any::<[u8; 8]>()) {
        let flipped = key.map(|b| b ^ 1);
        let challenge = Challenge::from_bytes(challenge);
        prop_assert_eq!(
            AdminKey::from_bytes(key).respond(&challenge).unwrap(),
            AdminKey::from_bytes(flipped).respond(&challenge).unwrap()
        );
    }
}
