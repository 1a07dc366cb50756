//! Helpers shared by the core's test files (each includes this module with `mod support;`): a
//! scripted random generator, PIN policies in one line, and the proptest strategies for PIN
//! policies. `inspecting_alloc.rs` beside it is a global allocator, so it is not part of this
//! module: only the `zeroize` tests include it (with `#[path]`).

// Each test binary uses some of these helpers, never all of them.
#![allow(dead_code)]

use cardadmin::rand_core::{self, CryptoRng, RngCore};
use cardadmin::{CharRule, PinPolicy, PinPolicyBuilder, UserPinOption};
use proptest::prelude::*;

/// Plays back `script`, then `then` forever; or fails once the script is out when `then` is
/// `None`. Counts `try_fill_bytes` calls.
pub struct Script {
    script: Vec<u8>,
    position: usize,
    then: Option<u8>,
    pub calls: usize,
}

impl Script {
    pub fn new(script: &[u8], then: Option<u8>) -> Self {
        Self {
            script: script.to_vec(),
            position: 0,
            then,
            calls: 0,
        }
    }
}

impl RngCore for Script {
    fn next_u32(&mut self) -> u32 {
        rand_core::impls::next_u32_via_fill(self)
    }
    fn next_u64(&mut self) -> u64 {
        rand_core::impls::next_u64_via_fill(self)
    }
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        self.try_fill_bytes(dest).unwrap()
    }
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
        self.calls += 1;
        for slot in dest {
            *slot = match (self.script.get(self.position), self.then) {
                (Some(&byte), _) => byte,
                (None, Some(byte)) => byte,
                (None, None) => {
                    let code = std::num::NonZeroU32::new(rand_core::Error::CUSTOM_START).unwrap();
                    return Err(code.into());
                }
            };
            self.position += 1;
        }
        Ok(())
    }
}

impl CryptoRng for Script {}

/// A policy of `min` to `max` characters with the rules for digits, lowercase, uppercase and
/// special characters in that order.
pub fn policy(min: usize, max: usize, rules: [CharRule; 4], reject_weak: bool) -> PinPolicy {
    let [digits, lowercase, uppercase, special] = rules;
    PinPolicy::builder()
        .min_len(min)
        .max_len(max)
        .digits(digits)
        .lowercase(lowercase)
        .uppercase(uppercase)
        .special(special)
        .reject_weak(reject_weak)
        .build()
        .unwrap()
}

pub const DIGITS_ONLY: [CharRule; 4] = [
    CharRule::Allow,
    CharRule::Disallow,
    CharRule::Disallow,
    CharRule::Disallow,
];
pub const EVERYTHING: [CharRule; 4] = [CharRule::Allow; 4];

pub fn char_rule() -> impl Strategy<Value = CharRule> {
    prop_oneof![
        Just(CharRule::Allow),
        Just(CharRule::Require),
        Just(CharRule::Disallow)
    ]
}

pub fn user_pin_option() -> impl Strategy<Value = UserPinOption> {
    prop_oneof![
        Just(UserPinOption::None),
        Just(UserPinOption::UserProvided),
        Just(UserPinOption::Randomized),
        Just(UserPinOption::ServerDistributed),
        Just(UserPinOption::CustomServerDistributed),
    ]
}

/// Builders with every field chosen, lengths mostly but not always in range.
pub fn builder() -> impl Strategy<Value = (PinPolicyBuilder, [usize; 3], [CharRule; 4])> {
    (
        prop_oneof![4usize..=16, 0usize..=130],
        prop_oneof![4usize..=16, 0usize..=130],
        prop_oneof![4usize..=16, 0usize..=130],
        [char_rule(), char_rule(), char_rule(), char_rule()],
        any::<bool>(),
        user_pin_option(),
    )
        .prop_map(|(min, max, proposed, rules, reject_weak, option)| {
            let [digits, lowercase, uppercase, special] = rules;
            let builder = PinPolicy::builder()
                .min_len(min)
                .max_len(max)
                .proposed_len(proposed)
                .digits(digits)
                .lowercase(lowercase)
                .uppercase(uppercase)
                .special(special)
                .reject_weak(reject_weak)
                .user_pin_option(option);
            (builder, [min, max, proposed], rules)
        })
}

/// Policies that build, short enough that generation is quick.
pub fn policies() -> impl Strategy<Value = PinPolicy> {
    builder().prop_filter_map("policy does not build", |(builder, _, _)| {
        builder.build().ok()
    })
}
