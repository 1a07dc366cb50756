//! PIN generation and validation. There is no raw-crate equivalent to set beside these.
//!
//! - `generate/default`: `PinPolicy::default()` (8 digits, weak PINs rejected).
//! - `generate/all_four_4`: 4 characters, every class required (about 6.6% of draws pass).
//! - `validate/default` and `validate/all_four_4`: an acceptable PIN checked against each.
//!
//! The generator is a seeded `ChaCha20Rng` (`rand_chacha` 0.3), so runs repeat exactly. Before
//! the timings, the bench prints how many random bytes each policy takes from the generator per
//! PIN, counted by a wrapper around the same generator.
//!
//! Run: `taskset -c 0 cargo bench --bench pin` (see `benches/README.md`).

mod common;

use cardadmin::{CharRule, PinPolicy};
use criterion::{black_box, criterion_group, criterion_main, Criterion};
use rand_chacha::rand_core::{CryptoRng, Error, RngCore, SeedableRng};
use rand_chacha::ChaCha20Rng;

const SEED: u64 = 0x5eed_ca4d_ad31_0000;
/// PINs generated per policy for the random-byte count.
const COUNTED_PINS: u32 = 100_000;

fn all_four_4() -> PinPolicy {
    PinPolicy::builder()
        .min_len(4)
        .max_len(4)
        .digits(CharRule::Require)
        .lowercase(CharRule::Require)
        .uppercase(CharRule::Require)
        .special(CharRule::Require)
        .build()
        .expect("policy")
}

/// Counts what the PIN generator asks of the wrapped generator.
struct Counting<R> {
    inner: R,
    bytes: u64,
    calls: u64,
}

impl<R: RngCore> RngCore for Counting<R> {
    fn next_u32(&mut self) -> u32 {
        self.bytes += 4;
        self.calls += 1;
        self.inner.next_u32()
    }
    fn next_u64(&mut self) -> u64 {
        self.bytes += 8;
        self.calls += 1;
        self.inner.next_u64()
    }
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        self.bytes += dest.len() as u64;
        self.calls += 1;
        self.inner.fill_bytes(dest)
    }
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), Error> {
        self.bytes += dest.len() as u64;
        self.calls += 1;
        self.inner.try_fill_bytes(dest)
    }
}

impl<R: CryptoRng> CryptoRng for Counting<R> {}

fn report_random_bytes(name: &str, policy: &PinPolicy) {
    let mut rng = Counting {
        inner: ChaCha20Rng::seed_from_u64(SEED),
        bytes: 0,
        calls: 0,
    };
    let mut max_bytes = 0;
    let mut one_call = 0u32;
    for _ in 0..COUNTED_PINS {
        let before = rng.bytes;
        let calls_before = rng.calls;
        let pin = policy.generate(&mut rng).expect("pin");
        assert_eq!(policy.validate(pin.as_str()), Ok(()));
        max_bytes = max_bytes.max(rng.bytes - before);
        if rng.calls - calls_before == 1 {
            one_call += 1;
        }
    }
    println!(
        "random bytes per PIN, {name}: mean {:.1} bytes in {:.2} generator calls, max {max_bytes}, \
         {:.1}% of PINs from one call ({COUNTED_PINS} PINs, seed {SEED:#x})",
        rng.bytes as f64 / f64::from(COUNTED_PINS),
        rng.calls as f64 / f64::from(COUNTED_PINS),
        100.0 * f64::from(one_call) / f64::from(COUNTED_PINS),
    );
}

fn generate(c: &mut Criterion) {
    let default = PinPolicy::default();
    let all_four = all_four_4();
    report_random_bytes("generate/default", &default);
    report_random_bytes("generate/all_four_4", &all_four);

    let mut group = c.benchmark_group("generate");
    let mut rng = ChaCha20Rng::seed_from_u64(SEED);
    group.bench_function("default", |b| {
        b.iter(|| black_box(&default).generate(&mut rng))
    });
    let mut rng = ChaCha20Rng::seed_from_u64(SEED);
    group.bench_function("all_four_4", |b| {
        b.iter(|| black_box(&all_four).generate(&mut rng))
    });
    group.finish();
}

fn validate(c: &mut Criterion) {
    let default = PinPolicy::default();
    let all_four = all_four_4();
    assert_eq!(default.validate("50391827"), Ok(()));
    assert_eq!(all_four.validate("a1B!"), Ok(()));

    let mut group = c.benchmark_group("validate");
    group.bench_function("default", |b| {
        b.iter(|| black_box(&default).validate(black_box("50391827")))
    });
    group.bench_function("all_four_4", |b| {
        b.iter(|| black_box(&all_four).validate(black_box("a1B!")))
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = common::config();
    targets = generate, validate
}
criterion_main!(benches);
