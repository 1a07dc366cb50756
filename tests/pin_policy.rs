//! Building a PIN policy: the length bounds and the proposed length, at least one allowed
//! character class, the errors and their messages, and the getters.

mod support;

use cardadmin::{CharClass, CharRule, PinPolicy, PolicyError, UserPinOption};
use proptest::prelude::*;
use support::builder;
use CharRule::{Allow, Disallow, Require};

#[test]
fn policy_length_bounds() {
    let build = |min, max| PinPolicy::builder().min_len(min).max_len(max).build();
    assert!(build(4, 4).is_ok());
    assert!(build(127, 127).is_ok());
    assert!(build(4, 127).is_ok());
    for (min, max, field, found) in [
        (3, 8, "min_len", 3),
        (0, 8, "min_len", 0),
        (128, 128, "min_len", 128),
        (6, 128, "max_len", 128),
        (6, 3, "max_len", 3),
        (usize::MAX, usize::MAX, "min_len", usize::MAX),
    ] {
        assert_eq!(
            build(min, max),
            Err(PolicyError::LengthOutOfRange {
                field,
                min: 4,
                max: 127,
                found
            }),
            "{min} {max}"
        );
    }
    assert_eq!(
        build(9, 8),
        Err(PolicyError::MinAboveMax {
            min_len: 9,
            max_len: 8
        })
    );
}

#[test]
fn policy_proposed_length() {
    let proposed = |min, max, proposed: Option<usize>| {
        let builder = PinPolicy::builder().min_len(min).max_len(max);
        match proposed {
            Some(len) => builder.proposed_len(len).build(),
            None => builder.build(),
        }
        .map(|policy| policy.proposed_len())
    };
    assert_eq!(proposed(4, 6, None), Ok(6));
    assert_eq!(proposed(10, 12, None), Ok(10));
    assert_eq!(proposed(4, 127, None), Ok(8));
    assert_eq!(proposed(4, 127, Some(4)), Ok(4));
    assert_eq!(proposed(4, 127, Some(127)), Ok(127));
    assert_eq!(proposed(6, 8, Some(6)), Ok(6));
    assert_eq!(proposed(6, 8, Some(8)), Ok(8));
    for len in [5, 9, 0, usize::MAX] {
        assert_eq!(
            proposed(6, 8, Some(len)),
            Err(PolicyError::ProposedOutOfRange {
                proposed_len: len,
                min_len: 6,
                max_len: 8
            })
        );
    }
}

#[test]
fn policy_needs_an_allowed_class() {
    for allowed in 0..4 {
        let mut rules = [Disallow; 4];
        rules[allowed] = Allow;
        let [digits, lowercase, uppercase, special] = rules;
        let built = PinPolicy::builder()
            .digits(digits)
            .lowercase(lowercase)
            .uppercase(uppercase)
            .special(special)
            .build();
        assert!(built.is_ok(), "{rules:?}");
    }
    let none = PinPolicy::builder()
        .digits(Disallow)
        .lowercase(Disallow)
        .uppercase(Disallow)
        .special(Disallow)
        .build();
    assert_eq!(none, Err(PolicyError::NoClassAllowed));
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
fn policy_error_messages() {
    assert_eq!(
        PolicyError::LengthOutOfRange {
            field: "min_len",
            min: 4,
            max: 127,
            found: 3
        }
        .to_string(),
        "PIN policy min_len must be 4 to 127, got 3"
    );
    assert_eq!(
        PolicyError::MinAboveMax {
            min_len: 9,
            max_len: 8
        }
        .to_string(),
        "PIN policy min_len (9) must not be greater than max_len (8)"
    );
    assert_eq!(
        PolicyError::ProposedOutOfRange {
            proposed_len: 9,
            min_len: 6,
            max_len: 8
        }
        .to_string(),
        "PIN policy proposed_len must be within min_len..=max_len (6 to 8), got 9"
    );
    assert_eq!(
        PolicyError::NoClassAllowed.to_string(),
        "PIN policy disallows every character class: allow or require at least one of digits, lowercase, uppercase, special"
    );
}

#[test]
fn policy_getters_and_rules() {
    let policy = PinPolicy::builder()
        .min_len(5)
        .max_len(9)
        .proposed_len(7)
        .digits(Allow)
        .lowercase(Require)
        .uppercase(Disallow)
        .special(Require)
        .reject_weak(false)
        .user_pin_option(UserPinOption::ServerDistributed)
        .build()
        .unwrap();
    assert_eq!(
        (policy.min_len(), policy.max_len(), policy.proposed_len()),
        (5, 9, 7)
    );
    assert_eq!(policy.digits(), Allow);
    assert_eq!(policy.lowercase(), Require);
    assert_eq!(policy.uppercase(), Disallow);
    assert_eq!(policy.special(), Require);
    assert_eq!(policy.rule(CharClass::Digit), Allow);
    assert_eq!(policy.rule(CharClass::Lowercase), Require);
    assert_eq!(policy.rule(CharClass::Uppercase), Disallow);
    assert_eq!(policy.rule(CharClass::Special), Require);
    assert!(!policy.reject_weak());
    assert_eq!(policy.user_pin_option(), UserPinOption::ServerDistributed);
    assert!(policy.server_generates());
}

proptest! {
    #[test]
    fn build_succeeds_exactly_when_the_fields_are_valid(
        (builder, [min, max, proposed], rules) in builder()
    ) {
        let lengths_ok = (4..=127).contains(&min) && (4..=127).contains(&max) && min <= max;
        let valid = lengths_ok
            && (min..=max).contains(&proposed)
            && rules.iter().any(|&rule| rule != CharRule::Disallow);
        prop_assert_eq!(builder.build().is_ok(), valid);
    }
}
