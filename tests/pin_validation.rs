//! Validating a PIN against a policy: the checks in their documented order, weak PINs (all the
//! same, sequences, repeated blocks), character classes, and a reason for each refusal that
//! never carries a PIN character.

mod support;

use cardadmin::{CharClass, CharRule, PinPolicy, PinViolation};
use proptest::prelude::*;
use support::{policies, policy, EVERYTHING};
use CharRule::{Allow, Disallow, Require};

#[test]
fn validate_checks_in_the_documented_order() {
    let policy = policy(6, 8, [Require, Allow, Disallow, Require], true);
    assert_eq!(
        policy.validate("12345"),
        Err(PinViolation::TooShort {
            min_len: 6,
            found: 5
        })
    );
    assert_eq!(
        policy.validate("123456789"),
        Err(PinViolation::TooLong {
            max_len: 8,
            found: 9
        })
    );
    // Length counts characters: six two-byte characters are six, not twelve.
    assert_eq!(
        policy.validate("éééééé"),
        Err(PinViolation::NeverAllowed { position: 0 })
    );
    assert_eq!(
        policy.validate("ab1 !cd"),
        Err(PinViolation::NeverAllowed { position: 3 })
    );
    assert_eq!(
        policy.validate("ab1\t!cd"),
        Err(PinViolation::NeverAllowed { position: 3 })
    );
    assert_eq!(
        policy.validate("ab1!cDe"),
        Err(PinViolation::DisallowedClass {
            class: CharClass::Uppercase,
            position: 5
        })
    );
    assert_eq!(
        policy.validate("abc!def"),
        Err(PinViolation::MissingClass {
            class: CharClass::Digit
        })
    );
    assert_eq!(
        policy.validate("abc1def"),
        Err(PinViolation::MissingClass {
            class: CharClass::Special
        })
    );
    assert_eq!(policy.validate("ab1!cd"), Ok(()));
    assert_eq!(
        policy.validate("1!1!1!"),
        Err(PinViolation::RepeatedBlock { block_len: 2 })
    );
    // The boundary lengths are accepted.
    assert_eq!(policy.validate("ab1!cde"), Ok(()));
    assert_eq!(policy.validate("ab1!cdef"), Ok(()));
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
fn weak_pins() {
    let strict = policy(4, 127, EVERYTHING, true);
    let lenient = policy(4, 127, EVERYTHING, false);
    for (pin, violation) in [
        ("0000", PinViolation::AllSame),
        ("aaaaaaa", PinViolation::AllSame),
        ("1234", PinViolation::Sequence),
        ("4321", PinViolation::Sequence),
        ("abcdefg", PinViolation::Sequence),
        ("ZYXW", PinViolation::Sequence),
        ("9:;<", PinViolation::Sequence),
        ("1212", PinViolation::RepeatedBlock { block_len: 2 }),
        ("121212", PinViolation::RepeatedBlock { block_len: 2 }),
        ("123123", PinViolation::RepeatedBlock { block_len: 3 }),
        ("a!Ba!Ba!B", PinViolation::RepeatedBlock { block_len: 3 }),
    ] {
        assert_eq!(strict.validate(pin), Err(violation), "{pin}");
        assert_eq!(lenient.validate(pin), Ok(()), "{pin}");
    }
    for pin in [
        "1212121", "1231231", "1235", "1243", "2468", "0001", "1000", "12121", "abab1", "12341234",
        "1122", "1357",
    ] {
        assert_eq!(strict.validate(pin), Ok(()), "{pin}");
    }
}

#[test]
fn violation_messages() {
    let cases: [(PinViolation, &str); 8] = [
        (
            PinViolation::TooShort { min_len: 6, found: 5 },
            "PIN is too short: at least 6 characters expected, got 5",
        ),
        (
            PinViolation::TooLong { max_len: 8, found: 9 },
            "PIN is too long: at most 8 characters expected, got 9",
        ),
        (
            PinViolation::NeverAllowed { position: 2 },
            "PIN has a space, control or non-ASCII character at position 2; only ASCII letters, digits and punctuation are allowed",
        ),
        (
            PinViolation::DisallowedClass {
                class: CharClass::Special,
                position: 1,
            },
            "PIN has a special character at position 1, which the policy does not allow",
        ),
        (
            PinViolation::MissingClass {
                class: CharClass::Uppercase,
            },
            "PIN must contain at least one uppercase letter",
        ),
        (
            PinViolation::AllSame,
            "PIN is weak: every character is the same",
        ),
        (
            PinViolation::Sequence,
            "PIN is weak: each character is one more, or one less, than the one before",
        ),
        (
            PinViolation::RepeatedBlock { block_len: 3 },
            "PIN is weak: a block of 3 characters repeated",
        ),
    ];
    for (violation, message) in cases {
        assert_eq!(violation.to_string(), message);
    }
    assert_eq!(CharClass::Digit.to_string(), "digit");
    assert_eq!(CharClass::Lowercase.to_string(), "lowercase letter");
}

#[test]
fn character_classes() {
    let mut counts = [0usize; 4];
    for code in 0u8..=127 {
        let c = char::from(code);
        let class = CharClass::of(c);
        let expected = if c.is_ascii_digit() {
            Some(CharClass::Digit)
        } else if c.is_ascii_lowercase() {
            Some(CharClass::Lowercase)
        } else if c.is_ascii_uppercase() {
            Some(CharClass::Uppercase)
        } else if (0x21..=0x7e).contains(&code) {
            Some(CharClass::Special)
        } else {
            None
        };
        assert_eq!(class, expected, "{code:#x}");
        if let Some(class) = class {
            counts[class as usize] += 1;
            assert!(class.characters().contains(&code));
        }
    }
    assert_eq!(counts, [10, 26, 26, 32]);
    assert_eq!(CharClass::of('é'), None);
    assert_eq!(CharClass::Lowercase.characters().len(), 26);
    assert_eq!(CharClass::Uppercase.characters()[25], b'Z');
}

proptest! {
    #[test]
    fn validate_never_panics(policy in policies(), pin in any::<String>()) {
        let _ = policy.validate(&pin);
    }

    #[test]
    fn validate_never_panics_on_pin_like_text(policy in policies(), pin in "[ -~]{0,20}") {
        if let Err(reason) = policy.validate(&pin) {
            prop_assert!(!reason.to_string().is_empty());
        }
    }
}
