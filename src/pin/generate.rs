//! Uniform PIN generation from a caller-supplied CSPRNG.
//!
//! The generator is a parameter, not a global, so the crate stays I/O-free and `no_std`, and
//! tests can pass a seeded one. Every loop here is bounded: a server thread must not spin
//! forever because a generator is stuck (a mis-seeded or mocked RNG in production), so a
//! generator that never yields an acceptable PIN is reported as a [`GenerateError`].

use core::fmt;

use rand_core::{CryptoRng, RngCore};
use zeroize::{Zeroize, Zeroizing};

use super::policy::PinPolicy;
use super::secret::{Pin, MAX_PIN_LEN};

/// Whole-PIN draws before giving up. The hardest policy (all four classes required in 4
/// characters) accepts about 6.6% of draws, so a working generator fails this bound with
/// probability about 0.934^10000, below 10^-290.
const MAX_PIN_DRAWS: usize = 10_000;

/// Random bytes rejected in a row, for one character, before giving up. The largest rejection
/// rate of any alphabet here is 68/256 (94 characters), so a working generator reaches this
/// with probability below 10^-36.
const MAX_BYTE_REJECTIONS: usize = 64;

/// Random bytes fetched from the generator at a time.
const RANDOM_CHUNK: usize = 64;

/// Why no PIN could be generated. Each case means the random generator is broken.
///
/// ```
/// use cardadmin::{GenerateError, PinPolicy};
/// use cardadmin::rand_core::{CryptoRng, RngCore};
///
/// /// A "generator" stuck on one value.
/// struct Stuck;
/// impl RngCore for Stuck {
///     fn next_u32(&mut self) -> u32 { 0 }
///     fn next_u64(&mut self) -> u64 { 0 }
///     fn fill_bytes(&mut self, dest: &mut [u8]) { dest.fill(0) }
///     fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), cardadmin::rand_core::Error> {
///         Ok(dest.fill(0))
///     }
/// }
/// impl CryptoRng for Stuck {}
///
/// // Always "00000000": weak, redrawn until the bound.
/// let err = PinPolicy::default().generate(&mut Stuck).unwrap_err();
/// assert_eq!(err, GenerateError::TooManyDraws { draws: 10_000 });
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum GenerateError {
    /// Every whole PIN drawn was weak or missed a required class.
    TooManyDraws {
        /// The number of PINs drawn.
        draws: usize,
    },
    /// The generator kept giving bytes that rejection sampling must discard.
    TooManyRejectedBytes {
        /// The number of bytes rejected in a row.
        rejected: usize,
    },
    /// The generator reported an error from `try_fill_bytes`.
    Rng,
}

impl fmt::Display for GenerateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::TooManyDraws { draws } => write!(
                f,
                "no acceptable PIN in {draws} draws: the random generator looks broken (stuck or biased output)"
            ),
            Self::TooManyRejectedBytes { rejected } => write!(
                f,
                "the random generator gave {rejected} unusable bytes in a row: it looks broken (stuck or biased output)"
            ),
            Self::Rng => f.write_str("the random generator failed to produce bytes"),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for GenerateError {}

/// Random bytes fetched in chunks, so a PIN costs a few generator calls rather than one per
/// character.
struct RandomBytes<'a, R> {
    rng: &'a mut R,
    chunk: [u8; RANDOM_CHUNK],
    next: usize,
}

impl<'a, R: RngCore> RandomBytes<'a, R> {
    fn new(rng: &'a mut R) -> Self {
        Self {
            rng,
            chunk: [0; RANDOM_CHUNK],
            next: RANDOM_CHUNK,
        }
    }

    fn byte(&mut self) -> Result<u8, GenerateError> {
        if self.next >= RANDOM_CHUNK {
            self.rng
                .try_fill_bytes(&mut self.chunk)
                .map_err(|_| GenerateError::Rng)?;
            self.next = 0;
        }
        let byte = self
            .chunk
            .get(self.next)
            .copied()
            .ok_or(GenerateError::Rng)?;
        self.next += 1;
        Ok(byte)
    }

    /// A uniform index below `n` (1 to 256), by rejection of the bytes at or above the largest
    /// multiple of `n`. (`n` is never 0: every policy allows a class. Were it 0, every byte
    /// would be rejected.)
    fn index_below(&mut self, n: usize) -> Result<usize, GenerateError> {
        let limit = 256 - 256usize.checked_rem(n).unwrap_or(256);
        for _ in 0..MAX_BYTE_REJECTIONS {
            let byte = usize::from(self.byte()?);
            if byte < limit {
                return byte.checked_rem(n).ok_or(GenerateError::Rng);
            }
        }
        Err(GenerateError::TooManyRejectedBytes {
            rejected: MAX_BYTE_REJECTIONS,
        })
    }
}

impl<R> Drop for RandomBytes<'_, R> {
    fn drop(&mut self) {
        // The unused bytes would tell what comes next from the generator.
        self.chunk.zeroize();
    }
}

impl PinPolicy {
    /// Proposes a PIN of length [`proposed_len`](PinPolicy::proposed_len), uniformly at random
    /// from all PINs of that length that [`validate`](PinPolicy::validate) accepts.
    ///
    /// `rng` must be a cryptographically secure generator, such as the operating system's
    /// ([`cardadmin::rng::OsRng`](crate::rng::OsRng), feature `getrandom`). The PIN
    /// is drawn character by character from the allowed alphabet (rejection sampling: no modulo
    /// bias) and redrawn whole while it misses a required class or is weak. A broken generator
    /// gives a [`GenerateError`] after a bounded number of draws instead of hanging.
    ///
    /// ```
    /// # #[cfg(feature = "getrandom")]
    /// # {
    /// use cardadmin::{CharRule, PinPolicy};
    /// use cardadmin::rng::OsRng;
    ///
    /// let policy = PinPolicy::builder()
    ///     .min_len(4)
    ///     .max_len(4)
    ///     .digits(CharRule::Require)
    ///     .lowercase(CharRule::Require)
    ///     .uppercase(CharRule::Require)
    ///     .special(CharRule::Require)
    ///     .build()?;
    /// let pin = policy.generate(&mut OsRng)?;
    /// assert_eq!(policy.validate(pin.as_str()), Ok(()));
    /// # }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn generate<R: RngCore + CryptoRng>(&self, rng: &mut R) -> Result<Pin, GenerateError> {
        let (alphabet, alphabet_len) = self.alphabet();
        let alphabet = alphabet.get(..alphabet_len).unwrap_or_default();
        let mut random = RandomBytes::new(rng);
        // Wiped on every way out, including the errors.
        let mut characters = Zeroizing::new([0u8; MAX_PIN_LEN]);
        let len = self.proposed_len().min(MAX_PIN_LEN);
        for _ in 0..MAX_PIN_DRAWS {
            for slot in characters.iter_mut().take(len) {
                let index = random.index_below(alphabet.len())?;
                *slot = alphabet.get(index).copied().ok_or(GenerateError::Rng)?;
            }
            let drawn = characters.get(..len).unwrap_or_default();
            if self.check_composition(drawn).is_ok() {
                return Ok(Pin::new(*characters, len));
            }
        }
        Err(GenerateError::TooManyDraws {
            draws: MAX_PIN_DRAWS,
        })
    }
}
