//! Generators users already have, for [`PinPolicy::generate`](crate::PinPolicy::generate) and
//! [`cm::server_proposed_pin`](crate::cm::server_proposed_pin).
//!
//! Those functions take a generator implementing the traits of `rand_core` 0.6 (re-exported as
//! [`rand_core`]), the `rand_core` of `rand` 0.8. For every other case there
//! is a feature, so nobody has to pin an old crate by hand:
//!
//! | you have | `Cargo.toml` | pass |
//! |---|---|---|
//! | `rand` 0.8 (`rand_core` 0.6) | `cardadmin = "0.1"` and `rand = "0.8"` | `&mut rand::rngs::OsRng`, `&mut rand::thread_rng()` as they are |
//! | `rand` 0.9 (`rand_core` 0.9) | `cardadmin = { version = "0.1", features = ["rand_core_09"] }` and `rand = "0.9"` | `&mut RandCore09(rand::rng())`, or `RandCore09(rand::rngs::OsRng)` |
//! | `rand` 0.10 (`rand_core` 0.10) | `cardadmin = { version = "0.1", features = ["rand_core_010"] }` and `rand = "0.10"` | `&mut RandCore010(rand::rng())`, or `RandCore010(getrandom::SysRng)` |
//! | only `getrandom`, or nothing | `cardadmin = { version = "0.1", features = ["getrandom"] }` | `&mut cardadmin::rng::OsRng`: the operating system's generator, through `getrandom` 0.4 |
//!
//! (`rand_core` 0.6's own `OsRng` needs its `getrandom` feature, which the crate's re-export
//! leaves off; [`OsRng`] here needs no other crate in your `Cargo.toml`.)
//!
//! Each adapter passes on only generators that promise to be cryptographically secure
//! (`TryCryptoRng` of their `rand_core`), and reports their failures through
//! `try_fill_bytes`, the only method this crate calls: a failing generator gives
//! [`GenerateError::Rng`](crate::GenerateError::Rng), and a server a 500. `rand_core` 0.6's
//! `fill_bytes` has no way to report a failure; the adapters' `fill_bytes` leave the buffer
//! zeroed then, so do not hand them to other code that calls `fill_bytes`.

#[cfg(any(
    feature = "getrandom",
    feature = "rand_core_09",
    feature = "rand_core_010"
))]
use core::num::NonZeroU32;

#[cfg(any(
    feature = "getrandom",
    feature = "rand_core_09",
    feature = "rand_core_010"
))]
use rand_core::{CryptoRng, Error, RngCore};

/// The `rand_core` 0.6 error the adapters report; the generator's own error is not kept (it
/// may not be `'static`, and `rand_core` 0.6 boxes errors only with `std`).
#[cfg(any(
    feature = "getrandom",
    feature = "rand_core_09",
    feature = "rand_core_010"
))]
const FAILED: NonZeroU32 = match NonZeroU32::new(Error::CUSTOM_START) {
    Some(code) => code,
    None => NonZeroU32::MIN,
};

/// `rand_core` 0.6's `next_u32`/`next_u64` from `try_fill_bytes`, zero on failure.
#[cfg(any(
    feature = "getrandom",
    feature = "rand_core_09",
    feature = "rand_core_010"
))]
macro_rules! rng_core_via_try_fill {
    () => {
        fn next_u32(&mut self) -> u32 {
            let mut bytes = [0u8; 4];
            self.fill_bytes(&mut bytes);
            u32::from_le_bytes(bytes)
        }

        fn next_u64(&mut self) -> u64 {
            let mut bytes = [0u8; 8];
            self.fill_bytes(&mut bytes);
            u64::from_le_bytes(bytes)
        }

        fn fill_bytes(&mut self, dest: &mut [u8]) {
            if self.try_fill_bytes(dest).is_err() {
                dest.fill(0);
            }
        }
    };
}

/// The operating system's generator (`getrandom` 0.4: `getrandom(2)` on Linux,
/// `ProcessPrng` on Windows, ...), with the traits [`PinPolicy::generate`] takes.
///
/// Feature `getrandom`: `cardadmin = { version = "0.1", features = ["getrandom"] }`.
///
/// [`PinPolicy::generate`]: crate::PinPolicy::generate
///
/// ```
/// use cardadmin::{cm, rng::OsRng, PinPolicy};
///
/// let pin = cm::server_proposed_pin(&PinPolicy::default(), &mut OsRng)?.expect("the server sets it");
/// assert_eq!(pin.len(), 8);
/// # Ok::<(), cardadmin::CmError>(())
/// ```
#[cfg(feature = "getrandom")]
#[derive(Clone, Copy, Debug, Default)]
pub struct OsRng;

#[cfg(feature = "getrandom")]
impl RngCore for OsRng {
    rng_core_via_try_fill!();

    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), Error> {
        getrandom::fill(dest).map_err(|_| Error::from(FAILED))
    }
}

#[cfg(feature = "getrandom")]
impl CryptoRng for OsRng {}

/// A `rand` 0.9 generator (any `rand_core` 0.9 `TryCryptoRng`: `rand::rng()`,
/// `rand::rngs::OsRng`, `rand::rngs::StdRng`, ...) for [`PinPolicy::generate`].
///
/// Feature `rand_core_09`:
///
/// ```toml
/// [dependencies]
/// cardadmin = { version = "0.1", features = ["rand_core_09"] }
/// rand = "0.9"
/// ```
///
/// [`PinPolicy::generate`]: crate::PinPolicy::generate
///
/// ```
/// # extern crate rand_09 as rand;
/// use cardadmin::{cm, rng::RandCore09, PinPolicy};
///
/// let policy = PinPolicy::default();
/// let pin = policy.generate(&mut RandCore09(rand::rng()))?;
/// assert_eq!(policy.validate(pin.as_str()), Ok(()));
/// // The fallible OS generator works too: a failure is a GenerateError, not a panic.
/// assert!(cm::server_proposed_pin(&policy, &mut RandCore09(rand::rngs::OsRng)).is_ok());
/// # Ok::<(), cardadmin::GenerateError>(())
/// ```
#[cfg(feature = "rand_core_09")]
#[derive(Clone, Debug, Default)]
pub struct RandCore09<R>(pub R);

#[cfg(feature = "rand_core_09")]
impl<R: rand_core_09::TryCryptoRng> RngCore for RandCore09<R> {
    rng_core_via_try_fill!();

    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), Error> {
        self.0.try_fill_bytes(dest).map_err(|_| Error::from(FAILED))
    }
}

#[cfg(feature = "rand_core_09")]
impl<R: rand_core_09::TryCryptoRng> CryptoRng for RandCore09<R> {}

/// A `rand` 0.10 generator (any `rand_core` 0.10 `TryCryptoRng`: `rand::rng()`,
/// `getrandom::SysRng`, ...) for [`PinPolicy::generate`].
///
/// Feature `rand_core_010`:
///
/// ```toml
/// [dependencies]
/// cardadmin = { version = "0.1", features = ["rand_core_010"] }
/// rand = "0.10"
/// ```
///
/// [`PinPolicy::generate`]: crate::PinPolicy::generate
///
/// ```
/// # extern crate rand_010 as rand;
/// use cardadmin::{cm, rng::RandCore010, PinPolicy};
///
/// let policy = PinPolicy::default();
/// let mut rng = rand::rng();
/// let pin = policy.generate(&mut RandCore010(&mut rng))?;
/// assert_eq!(policy.validate(pin.as_str()), Ok(()));
/// assert!(cm::server_proposed_pin(&policy, &mut RandCore010(rng)).is_ok());
/// # Ok::<(), cardadmin::GenerateError>(())
/// ```
#[cfg(feature = "rand_core_010")]
#[derive(Clone, Debug, Default)]
pub struct RandCore010<R>(pub R);

#[cfg(feature = "rand_core_010")]
impl<R: rand_core_010::TryCryptoRng> RngCore for RandCore010<R> {
    rng_core_via_try_fill!();

    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), Error> {
        self.0.try_fill_bytes(dest).map_err(|_| Error::from(FAILED))
    }
}

#[cfg(feature = "rand_core_010")]
impl<R: rand_core_010::TryCryptoRng> CryptoRng for RandCore010<R> {}
