//! Statistical tests of the promise that generation is uniform over every PIN `validate`
//! accepts. Seeded, so a run is repeatable; the thresholds are chi-square at p = 0.001, so a
//! correct generator fails a given seed with probability 0.1%, and a biased one (modulo bias,
//! "place the required class first", skipped weak-PIN redraws) fails by a wide margin.

use std::collections::HashMap;

use cardadmin::{CharClass, CharRule, PinPolicy};
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha20Rng;

/// Upper critical value of chi-square with `df` degrees of freedom at p = 0.001, by the
/// Wilson-Hilferty approximation (accurate to well under 1% for df >= 3).
fn chi_square_critical(df: f64) -> f64 {
    const Z_0_999: f64 = 3.090_232;
    let a = 2.0 / (9.0 * df);
    df * (1.0 - a + Z_0_999 * a.sqrt()).powi(3)
}

fn chi_square(observed: &HashMap<String, u64>, expected: &HashMap<String, f64>) -> f64 {
    expected
        .iter()
        .map(|(category, &e)| {
            let o = observed.get(category).copied().unwrap_or(0) as f64;
            (o - e) * (o - e) / e
        })
        .sum()
}

/// Every string of `len` characters over `alphabet`.
fn all_strings(alphabet: &[u8], len: usize) -> Vec<String> {
    let mut strings = vec![String::new()];
    for _ in 0..len {
        strings = strings
            .iter()
            .flat_map(|prefix| {
                alphabet.iter().map(move |&c| {
                    let mut s = prefix.clone();
                    s.push(char::from(c));
                    s
                })
            })
            .collect();
    }
    strings
}

#[test]
fn four_digit_pins_are_uniform_over_the_valid_ones() {
    let policy = PinPolicy::builder().min_len(4).max_len(4).build().unwrap();
    let valid: Vec<String> = all_strings(CharClass::Digit.characters(), 4)
        .into_iter()
        .filter(|pin| policy.validate(pin).is_ok())
        .collect();
    // 10,000 minus 10 all-same, 7 + 7 sequences, 90 "abab" blocks.
    assert_eq!(valid.len(), 9_886);

    let per_pin = 40;
    let draws = valid.len() as u64 * per_pin;
    let mut rng = ChaCha20Rng::seed_from_u64(0x0ca4_dad0);
    let mut observed: HashMap<String, u64> = HashMap::new();
    for _ in 0..draws {
        let pin = policy.generate(&mut rng).unwrap();
        *observed.entry(pin.as_str().to_owned()).or_default() += 1;
    }
    assert_eq!(
        observed.len(),
        valid.len(),
        "some valid PIN never drawn, or an invalid one drawn"
    );
    let expected: HashMap<String, f64> =
        valid.into_iter().map(|pin| (pin, per_pin as f64)).collect();
    let statistic = chi_square(&observed, &expected);
    let critical = chi_square_critical((expected.len() - 1) as f64);
    assert!(
        statistic < critical,
        "chi-square {statistic:.1} >= {critical:.1}"
    );
}

/// With required classes, the number of digits in a PIN has an exact distribution under
/// uniformity, computed here by enumerating every valid PIN. A generator that satisfies the
/// requirement by construction (one forced digit, then fill) shifts it.
#[test]
fn required_classes_do_not_skew_composition() {
    let policy = PinPolicy::builder()
        .min_len(4)
        .max_len(4)
        .digits(CharRule::Require)
        .uppercase(CharRule::Require)
        .build()
        .unwrap();
    let alphabet: Vec<u8> = [CharClass::Digit, CharClass::Uppercase]
        .iter()
        .flat_map(|class| class.characters().iter().copied())
        .collect();
    let digits_in = |pin: &str| pin.bytes().filter(u8::is_ascii_digit).count().to_string();

    let mut valid_by_digits: HashMap<String, f64> = HashMap::new();
    let mut valid = 0.0;
    for pin in all_strings(&alphabet, 4) {
        if policy.validate(&pin).is_ok() {
            *valid_by_digits.entry(digits_in(&pin)).or_default() += 1.0;
            valid += 1.0;
        }
    }
    assert_eq!(valid_by_digits.len(), 3, "1, 2 or 3 digits");

    let draws = 60_000u64;
    let mut rng = ChaCha20Rng::seed_from_u64(0x5eed_0004);
    let mut observed: HashMap<String, u64> = HashMap::new();
    for _ in 0..draws {
        let pin = policy.generate(&mut rng).unwrap();
        *observed.entry(digits_in(pin.as_str())).or_default() += 1;
    }
    let expected: HashMap<String, f64> = valid_by_digits
        .into_iter()
        .map(|(digits, count)| (digits, count / valid * draws as f64))
        .collect();
    let statistic = chi_square(&observed, &expected);
    // Two degrees of freedom: the exact critical value at p = 0.001 is 13.816.
    assert!(
        statistic < 13.816,
        "chi-square {statistic:.2} >= 13.816: {observed:?} vs {expected:?}"
    );
}

#[test]
fn every_position_uses_the_whole_alphabet_evenly() {
    // 94 characters: the alphabet with the largest rejection rate (68 of 256 bytes).
    let policy = PinPolicy::builder()
        .min_len(12)
        .max_len(12)
        .digits(CharRule::Allow)
        .lowercase(CharRule::Allow)
        .uppercase(CharRule::Allow)
        .special(CharRule::Allow)
        .build()
        .unwrap();
    let mut rng = ChaCha20Rng::seed_from_u64(94);
    let draws = 20_000u64;
    let mut observed: HashMap<String, u64> = HashMap::new();
    for _ in 0..draws {
        let pin = policy.generate(&mut rng).unwrap();
        for c in pin.as_str().chars() {
            *observed.entry(c.to_string()).or_default() += 1;
        }
    }
    // Weak PINs of 12 characters are about 1e-20 of all: their removal is invisible here.
    let expected: HashMap<String, f64> = (0x21u8..=0x7e)
        .map(|c| (char::from(c).to_string(), (draws * 12) as f64 / 94.0))
        .collect();
    let statistic = chi_square(&observed, &expected);
    let critical = chi_square_critical(93.0);
    assert!(
        statistic < critical,
        "chi-square {statistic:.1} >= {critical:.1}"
    );
}
