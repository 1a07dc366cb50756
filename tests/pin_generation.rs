//! Generating a PIN: random bytes mapped to characters without bias, weak and incomplete PINs
//! drawn again, a broken or failing generator an error (never a hang), and every PIN of the
//! proposed length and valid under its policy. (Uniformity itself: tests/uniformity.rs.)

mod support;

use cardadmin::{cm, CharClass, CharRule, CmError, GenerateError, PinPolicy};
use proptest::prelude::*;
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha20Rng;
use support::{policies, policy, Script, DIGITS_ONLY, EVERYTHING};
use CharRule::{Allow, Disallow, Require};

/// Generates from `script`, then `then`; `None` fails once the script is out. The generator is
/// asked for 64 bytes at a time, so a short script needs a `then`.
fn generate(policy: &PinPolicy, script: &[u8], then: Option<u8>) -> Result<String, GenerateError> {
    policy
        .generate(&mut Script::new(script, then))
        .map(|pin| pin.as_str().to_owned())
}

#[test]
fn generation_maps_bytes_to_characters_without_bias() {
    let digits = policy(4, 4, DIGITS_ONLY, false);
    // Ten digits: bytes 0..250 are used modulo 10, 250..=255 are rejected.
    assert_eq!(generate(&digits, &[0, 1, 2, 9], Some(0)).unwrap(), "0129");
    assert_eq!(
        generate(&digits, &[249, 13, 100, 55], Some(0)).unwrap(),
        "9305"
    );
    assert_eq!(
        generate(&digits, &[250, 255, 251, 7, 8, 9, 1], Some(0)).unwrap(),
        "7891"
    );
    // The whole alphabet, in class order: digits, lowercase, uppercase, special. 94 characters:
    // bytes 0..188 are used, 188..=255 rejected.
    let all = policy(4, 4, EVERYTHING, false);
    assert_eq!(generate(&all, &[9, 10, 35, 36], Some(0)).unwrap(), "9azA");
    assert_eq!(generate(&all, &[61, 62, 93, 187], Some(0)).unwrap(), "Z!~~");
    assert_eq!(
        generate(&all, &[188, 200, 255, 94, 95, 0, 1], Some(0)).unwrap(),
        "0101"
    );
    // Without digits: lowercase comes first.
    let letters = policy(4, 4, [Disallow, Allow, Allow, Disallow], false);
    assert_eq!(
        generate(&letters, &[0, 25, 26, 51], Some(0)).unwrap(),
        "azAZ"
    );
    // 52 letters: 256 - 256 % 52 = 208, so 207 is used and 208 rejected.
    assert_eq!(
        generate(&letters, &[207, 208, 52, 53, 0], Some(0)).unwrap(),
        "Zaba"
    );
    let special = policy(4, 4, [Disallow, Disallow, Disallow, Allow], false);
    assert_eq!(
        generate(&special, &[0, 31, 32, 255, 1], Some(0)).unwrap(),
        "!~!~"
    );
}

#[test]
fn generation_redraws_weak_and_incomplete_pins() {
    let digits = policy(4, 4, DIGITS_ONLY, true);
    // "1111" is weak, "1234" is weak, then "1357".
    assert_eq!(
        generate(&digits, &[1, 1, 1, 1, 1, 2, 3, 4, 1, 3, 5, 7], Some(0)).unwrap(),
        "1357"
    );
    let needs_upper = policy(4, 4, [Allow, Disallow, Require, Disallow], true);
    // "1357" misses an uppercase letter; then "13A7".
    assert_eq!(
        generate(&needs_upper, &[1, 3, 5, 7, 1, 3, 10, 7], Some(0)).unwrap(),
        "13A7"
    );
    // 9,999 weak draws, then a good one, is still a PIN.
    let mut script = vec![0u8; 4 * 9_999];
    script.extend_from_slice(&[1, 3, 5, 7]);
    assert_eq!(generate(&digits, &script, Some(0)).unwrap(), "1357");
    // 10,000 weak draws is the bound.
    assert_eq!(
        generate(&digits, &[], Some(0)),
        Err(GenerateError::TooManyDraws { draws: 10_000 })
    );
}

#[test]
fn generation_gives_up_on_rejected_bytes() {
    let digits = policy(4, 4, DIGITS_ONLY, false);
    // 63 rejected bytes in a row are still fine; 64 are the bound.
    let mut script = vec![255u8; 63];
    script.extend_from_slice(&[1, 2, 3, 5]);
    assert_eq!(generate(&digits, &script, Some(0)).unwrap(), "1235");
    assert_eq!(
        generate(&digits, &[], Some(255)),
        Err(GenerateError::TooManyRejectedBytes { rejected: 64 })
    );
    // The count is per character: 63 rejections before each of the four is fine.
    let mut script = Vec::new();
    for digit in [4, 0, 6, 9] {
        script.extend_from_slice(&[250; 63]);
        script.push(digit);
    }
    assert_eq!(generate(&digits, &script, Some(0)).unwrap(), "4069");
}

#[test]
fn generation_reports_a_failing_generator() {
    let digits = policy(4, 4, DIGITS_ONLY, false);
    assert_eq!(generate(&digits, &[], None), Err(GenerateError::Rng));
    // The generator is asked for 64 bytes at a time: a 64-byte script is enough for one PIN,
    // and a failure on the next chunk is reported.
    let mut chunk = [255u8; 64];
    chunk[60..].copy_from_slice(&[1, 2, 3, 5]);
    let mut rng = Script::new(&chunk, None);
    assert_eq!(digits.generate(&mut rng).unwrap().as_str(), "1235");
    assert_eq!(rng.calls, 1);
    let mut short = [255u8; 64];
    short[61..].copy_from_slice(&[1, 2, 3]);
    assert_eq!(generate(&digits, &short, None), Err(GenerateError::Rng));
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
fn generation_error_messages() {
    assert_eq!(
        GenerateError::TooManyDraws { draws: 10_000 }.to_string(),
        "no acceptable PIN in 10000 draws: the random generator looks broken (stuck or biased output)"
    );
    assert_eq!(
        GenerateError::TooManyRejectedBytes { rejected: 64 }.to_string(),
        "the random generator gave 64 unusable bytes in a row: it looks broken (stuck or biased output)"
    );
    assert_eq!(
        GenerateError::Rng.to_string(),
        "the random generator failed to produce bytes"
    );
}

#[test]
fn generated_pins_have_the_proposed_length_and_pass_validation() {
    for (min, max, proposed) in [(4, 4, 4), (4, 127, 127), (6, 8, 7), (10, 20, 10)] {
        let policy = PinPolicy::builder()
            .min_len(min)
            .max_len(max)
            .proposed_len(proposed)
            .digits(Require)
            .lowercase(Require)
            .uppercase(Require)
            .special(Require)
            .build()
            .unwrap();
        let stream: Vec<u8> = (0..200_000u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        let pin = policy.generate(&mut Script::new(&stream, None)).unwrap();
        assert_eq!(pin.len(), proposed);
        assert_eq!(pin.as_str().len(), proposed);
        assert_eq!(policy.validate(pin.as_str()), Ok(()));
        assert_eq!(
            format!("{pin:?}"),
            format!("Pin(<redacted>, len {proposed})")
        );
    }
}

proptest! {
    #[test]
    fn policies_that_build_always_generate_valid_pins(policy in policies(), seed in any::<u64>()) {
        let mut rng = ChaCha20Rng::seed_from_u64(seed);
        for _ in 0..4 {
            let pin = policy.generate(&mut rng).unwrap();
            prop_assert_eq!(pin.len(), policy.proposed_len());
            prop_assert_eq!(pin.as_str().len(), policy.proposed_len());
            prop_assert_eq!(policy.validate(pin.as_str()), Ok(()));
            for c in pin.as_str().chars() {
                let class = CharClass::of(c).unwrap();
                prop_assert_ne!(policy.rule(class), CharRule::Disallow);
            }
            prop_assert_eq!(format!("{pin:?}"), format!("Pin(<redacted>, len {})", pin.len()));
        }
    }
}
