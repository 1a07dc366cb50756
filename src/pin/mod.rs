//! PIN policy, validation and generation, modelled on the Windows smart card PIN policy.
//!
//! A MIM CM profile template says how long a user PIN may be, which character classes it may
//! or must use, whether trivially guessable PINs are refused, and who sets the PIN. This module
//! turns that into a [`PinPolicy`] that is checked once, when it is built, and then answers two
//! questions: is this PIN acceptable ([`PinPolicy::validate`]), and what is a fresh one
//! ([`PinPolicy::generate`]).
//!
//! Generation is uniform over *every* PIN that `validate` accepts at the proposed length: each
//! character is drawn by rejection sampling from the allowed alphabet (no modulo bias), and a
//! whole PIN is drawn again while it misses a required class or is weak. Skewing the choice to
//! satisfy the rules quickly (placing one digit, then filling) would make some PINs likelier
//! than others, which is what an attacker guessing PINs wants.

mod class;
mod generate;
mod policy;
mod secret;
#[cfg(feature = "serde")]
mod serde;
mod weak;

pub use class::{CharClass, CharRule};
pub use generate::GenerateError;
pub use policy::{PinPolicy, PinPolicyBuilder, PinViolation, PolicyError, UserPinOption};
pub use secret::Pin;
