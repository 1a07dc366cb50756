//! Every malformed input gets a typed error that says what was expected and what was found.
//! The cases are the formats and PIN rules the crate docs name (README: "Design", "PIN policies
//! in configuration files"; the `PinPolicy` and parser docs).

use cardadmin::{
    cm, AdminKey, CardId, Challenge, CharClass, CharRule, CmError, GenerateError, KeyError,
    ParseError, PinPolicy, PinViolation, PolicyError, Response,
};

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
fn admin_key_text_mistakes() {
    // Empty, short, `0x` and non-ASCII texts, and byte lengths: tests/hardening.rs.
    let good = "0123456789abcdef23456789ABCDEF01456789abcdef0123";
    assert!(AdminKey::from_hex(good).is_ok());
    assert_eq!(
        AdminKey::from_hex(&format!("{good}0")).unwrap_err(),
        KeyError::HexLength {
            expected: 48,
            found: 49
        }
    );
    assert_eq!(
        AdminKey::from_hex(&format!("{} {}", &good[..24], &good[25..])).unwrap_err(),
        KeyError::NotHex { position: 24 }
    );
    // The message names the position but never echoes the text of the would-be secret.
    let message = AdminKey::from_hex(&format!("{}Z", &good[..47]))
        .unwrap_err()
        .to_string();
    assert!(
        message.contains("position 47") && !message.contains('Z'),
        "{message}"
    );
}

#[test]
fn card_id_mistakes() {
    let invalid = |text: &str| CardId::parse(text).unwrap_err();
    assert_eq!(invalid(""), ParseError::Empty { what: "card ID" });
    assert!(matches!(
        invalid("bc88f13f-83ba-4037-8262-46eba1291c6"),
        ParseError::Length { found: 35, .. }
    ));
    assert!(matches!(
        invalid("bc88f13f83ba4037826246eba1291c6e00"),
        ParseError::Length { found: 34, .. }
    ));
    assert!(matches!(
        invalid("{bc88f13f83ba4037826246eba1291c6e}"),
        ParseError::Length { found: 34, .. }
    ));
    assert_eq!(
        invalid("{bc88f13f-83ba-4037-8262-46eba1291c6e"),
        ParseError::UnbalancedBraces { what: "card ID" }
    );
    assert_eq!(
        invalid("bc88f13f-83ba-4037-8262-46eba1291c6e}"),
        ParseError::UnbalancedBraces { what: "card ID" }
    );
    assert!(matches!(
        invalid("bc88f13f-83ba-4037-8262-46eba1291c6g"),
        ParseError::InvalidCharacter {
            position: 35,
            found: 'g',
            ..
        }
    ));
    assert!(matches!(
        invalid("{bc88f13f-83ba-4037+8262-46eba1291c6e}"),
        ParseError::InvalidCharacter {
            position: 19,
            found: '+',
            ..
        }
    ));
    assert!(matches!(
        invalid("bc88f13f-83ba-4037-8262-46eba1291c6\u{e9}"),
        ParseError::InvalidCharacter { position: 35, .. }
    ));
    // Hyphens in the wrong places of a 36-character text.
    assert!(matches!(
        invalid("bc88f13f8-3ba-4037-8262-46eba1291c6e"),
        ParseError::InvalidCharacter {
            position: 8,
            found: '8',
            ..
        }
    ));
    let message = invalid("bc88f13f-83ba-4037-8262-46eba1291c6g").to_string();
    assert!(
        message.starts_with("card ID has 'g' at position 35"),
        "{message}"
    );
}

#[test]
fn policy_mistakes() {
    let build = |builder: cardadmin::PinPolicyBuilder| builder.build().unwrap_err();
    assert_eq!(
        build(PinPolicy::builder().min_len(3)),
        PolicyError::LengthOutOfRange {
            field: "min_len",
            min: 4,
            max: 127,
            found: 3
        }
    );
    assert_eq!(
        build(PinPolicy::builder().max_len(128)),
        PolicyError::LengthOutOfRange {
            field: "max_len",
            min: 4,
            max: 127,
            found: 128
        }
    );
    assert_eq!(
        build(PinPolicy::builder().min_len(0).max_len(usize::MAX)),
        PolicyError::LengthOutOfRange {
            field: "min_len",
            min: 4,
            max: 127,
            found: 0
        }
    );
    assert_eq!(
        build(PinPolicy::builder().min_len(10)),
        PolicyError::MinAboveMax {
            min_len: 10,
            max_len: 8
        }
    );
    assert_eq!(
        build(PinPolicy::builder().proposed_len(9)),
        PolicyError::ProposedOutOfRange {
            proposed_len: 9,
            min_len: 6,
            max_len: 8
        }
    );
    assert_eq!(
        build(PinPolicy::builder().proposed_len(5)),
        PolicyError::ProposedOutOfRange {
            proposed_len: 5,
            min_len: 6,
            max_len: 8
        }
    );
    assert_eq!(
        build(
            PinPolicy::builder()
                .digits(CharRule::Disallow)
                .lowercase(CharRule::Disallow)
                .uppercase(CharRule::Disallow)
                .special(CharRule::Disallow)
        ),
        PolicyError::NoClassAllowed
    );
    // Proposed length defaults to 8 clamped into the range.
    let short = PinPolicy::builder().min_len(4).max_len(6).build().unwrap();
    assert_eq!(short.proposed_len(), 6);
    let long = PinPolicy::builder()
        .min_len(10)
        .max_len(20)
        .build()
        .unwrap();
    assert_eq!(long.proposed_len(), 10);
}

#[test]
fn pin_violations_give_a_reason_each() {
    let policy = PinPolicy::builder()
        .min_len(6)
        .max_len(10)
        .digits(CharRule::Require)
        .uppercase(CharRule::Require)
        .lowercase(CharRule::Allow)
        .special(CharRule::Disallow)
        .build()
        .unwrap();
    let cases: [(&str, PinViolation); 11] = [
        (
            "",
            PinViolation::TooShort {
                min_len: 6,
                found: 0,
            },
        ),
        (
            "A1b2c",
            PinViolation::TooShort {
                min_len: 6,
                found: 5,
            },
        ),
        (
            "A1b2c3d4e5f",
            PinViolation::TooLong {
                max_len: 10,
                found: 11,
            },
        ),
        ("A1b 2c3", PinViolation::NeverAllowed { position: 3 }),
        ("A1b\t2c3", PinViolation::NeverAllowed { position: 3 }),
        ("A1b\u{e9}2c3", PinViolation::NeverAllowed { position: 3 }),
        (
            "A1b2c3!",
            PinViolation::DisallowedClass {
                class: CharClass::Special,
                position: 6,
            },
        ),
        (
            "abcxyz1",
            PinViolation::MissingClass {
                class: CharClass::Uppercase,
            },
        ),
        (
            "ABCXYZa",
            PinViolation::MissingClass {
                class: CharClass::Digit,
            },
        ),
        ("1A1A1A", PinViolation::RepeatedBlock { block_len: 2 }),
        ("1Ab1Ab", PinViolation::RepeatedBlock { block_len: 3 }),
    ];
    for (pin, expected) in cases {
        assert_eq!(policy.validate(pin), Err(expected), "{pin:?}");
        // Reasons never carry a PIN character.
        let reason = expected.to_string();
        assert!(!reason.contains("1A1A"), "{reason}");
    }
    let digits = PinPolicy::default();
    assert_eq!(digits.validate("000000"), Err(PinViolation::AllSame));
    assert_eq!(digits.validate("987654"), Err(PinViolation::Sequence));
    assert_eq!(digits.validate("1212121"), Ok(()));
    let lax = PinPolicy::builder().reject_weak(false).build().unwrap();
    assert_eq!(lax.validate("000000"), Ok(()));
    assert_eq!(lax.validate("123456"), Ok(()));
}

#[test]
fn broken_generators_give_errors_not_hangs() {
    use rand_core::{CryptoRng, Error, RngCore};

    /// Always the same byte.
    struct Constant(u8);
    impl RngCore for Constant {
        fn next_u32(&mut self) -> u32 {
            u32::from_le_bytes([self.0; 4])
        }
        fn next_u64(&mut self) -> u64 {
            u64::from_le_bytes([self.0; 8])
        }
        fn fill_bytes(&mut self, dest: &mut [u8]) {
            dest.fill(self.0)
        }
        fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), Error> {
            dest.fill(self.0);
            Ok(())
        }
    }
    impl CryptoRng for Constant {}

    /// Fails every request.
    struct Failing;
    impl RngCore for Failing {
        fn next_u32(&mut self) -> u32 {
            0
        }
        fn next_u64(&mut self) -> u64 {
            0
        }
        fn fill_bytes(&mut self, _: &mut [u8]) {}
        fn try_fill_bytes(&mut self, _: &mut [u8]) -> Result<(), Error> {
            Err(Error::from(
                core::num::NonZeroU32::new(Error::CUSTOM_START).unwrap(),
            ))
        }
    }
    impl CryptoRng for Failing {}

    let policy = PinPolicy::default();
    // 0x00 always maps to '0': "00000000" is weak, redrawn until the bound.
    assert_eq!(
        policy.generate(&mut Constant(0)).unwrap_err(),
        GenerateError::TooManyDraws { draws: 10_000 }
    );
    // 0xff is above the largest multiple of 10, so rejection sampling discards it forever.
    assert!(matches!(
        policy.generate(&mut Constant(0xff)),
        Err(GenerateError::TooManyRejectedBytes { .. })
    ));
    assert!(matches!(
        policy.generate(&mut Failing),
        Err(GenerateError::Rng)
    ));
    assert!(matches!(
        cm::server_proposed_pin(&policy, &mut Failing),
        Err(CmError::Pin(GenerateError::Rng))
    ));
}

#[test]
fn key_audit_reports_without_failing() {
    use cardadmin::KeyFinding;

    let findings = |hex: &str| {
        AdminKey::from_hex(hex)
            .unwrap()
            .audit()
            .findings()
            .collect::<Vec<_>>()
    };
    // The well-known defaults and each part in each position: tests/hardening.rs.
    // Semi-weak K2 (01FE01FE01FE01FE), parity bits ignored (00FF00FF... is the same DES key).
    assert_eq!(
        findings("0123456789abcdef00ff00ff00ff00ff456789abcdef0123"),
        [KeyFinding::SemiWeakPart { part: 2 }]
    );
    // Weak K3, written without parity.
    assert_eq!(
        findings("0123456789abcdef23456789abcdef01e0e0e0e0f0f0f0f0"),
        [KeyFinding::WeakPart { part: 3 }]
    );
    // K1 == K2 up to parity bits degenerates to single DES all the same.
    assert_eq!(
        findings("0123456789abcdef0022446688aaccee456789abcdef0123"),
        [KeyFinding::K1EqualsK2]
    );
    let audit = AdminKey::from_hex("0123456789abcdef23456789abcdef01456789abcdef0123")
        .unwrap()
        .audit();
    assert!(audit.is_clean());
    assert!(audit.has_odd_parity());
    assert_eq!(
        format!("{audit:?}"),
        "KeyAudit { findings: [], odd_parity: true }"
    );
    // Parity alone never makes a key unclean.
    let no_parity = AdminKey::from_hex("0022446688aaccee22446688aacceef0446688aacceef002")
        .unwrap()
        .audit();
    assert!(no_parity.is_clean() && !no_parity.has_odd_parity());
    assert_eq!(
        KeyFinding::K1EqualsK3.to_string(),
        "K1 equals K3: the key is two-key Triple-DES"
    );
}
