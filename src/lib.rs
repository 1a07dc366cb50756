//! # cardadmin
//!
//! The cryptographic core a smart-card management server needs to administer Windows Base CSP /
//! minidriver smart cards, in the shape of the Microsoft Identity Manager Certificate
//! Management (MIM CM) REST API:
//!
//! | MIM CM endpoint | what it computes | here |
//! |---|---|---|
//! | `authenticationresponse` | 3DES-EDE ECB encryption of the card's 8-byte challenge under the admin key, diversified for the card or not | [`cm::authentication_response`], [`AdminKey::respond`] |
//! | `diversifiedkey` | the card's own admin key, from the master key and the card ID | [`cm::diversified_key`], [`AdminKey::diversify`] |
//! | `serverproposedpin` | a user PIN that obeys the profile template's PIN policy | [`cm::server_proposed_pin`], [`PinPolicy::generate`] |
//!
//! It does no I/O, reads no clock, holds no global state and has no randomness of its own: the
//! caller passes keys, card data and a cryptographically secure random generator in, and gets
//! typed values or typed errors out.
//!
//! ## Usage
//!
//! ```
//! use cardadmin::{cm, AdminKey, PinPolicy};
//!
//! // The example of the MIM CM REST API documentation: all-zero admin key, not diversified.
//! let admin_key = AdminKey::from_hex("000000000000000000000000000000000000000000000000")?;
//! let response = cm::authentication_response(
//!     &admin_key,
//!     "bc88f13f-83ba-4037-8262-46eba1291c6e",
//!     "1hFD+cz/0so=",
//!     false,
//! )?;
//! assert_eq!(response.to_string(), "F0Zudm4wPLY=");
//!
//! // The card's own key, for the diversifiedkey endpoint.
//! let card_key = cm::diversified_key(&admin_key, "bc88f13f-83ba-4037-8262-46eba1291c6e")?;
//! println!("diversified key check value: {}", card_key.check_value());
//!
//! // A server-proposed PIN, or None when the policy leaves it to the user.
//! if let Some(pin) = cm::server_proposed_pin(&PinPolicy::default(), &mut rand_core::OsRng)? {
//!     assert_eq!(pin.len(), 8);
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! ## Features
//!
//! - `std` (default): `std::error::Error` for every error type. Implies `alloc`.
//! - `alloc` (default): [`AdminKey::to_base64`], which returns a `String`.
//!
//! Without both the crate is `no_std` and allocation-free.
//!
//! ## Security considerations
//!
//! - Triple-DES is a legacy cipher (NIST withdrew it for new encryption after 2023); it is
//!   here because it is what the cards speak. Keep admin keys diversified, so one card's key
//!   opens one card.
//! - [`AdminKey`] and [`Pin`] are zeroized on drop, as is the key schedule (`des` is built with
//!   its `zeroize` feature). Their `Debug` shows a check value or a length, never the secret.
//! - [`AdminKey::verify`] and `Response == Response` compare in constant time (`subtle`). The
//!   DES implementation itself uses table look-ups and is not guaranteed constant time on every
//!   processor.
//! - The random generator is the caller's and must be a CSPRNG, such as `rand_core::OsRng`.

#![no_std]
#![forbid(unsafe_code)]
#![deny(missing_docs)]
// No panicking shortcuts in the library: nothing in the public API may panic on any input.
// Tests may use them, so the lints apply outside `cfg(test)` only.
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing,
        clippy::unreachable,
        clippy::todo,
        clippy::unimplemented,
        clippy::string_slice
    )
)]

#[cfg(feature = "alloc")]
extern crate alloc;
#[cfg(any(feature = "std", test))]
extern crate std;

mod audit;
mod card_id;
mod challenge;
pub mod cm;
mod diversify;
mod error;
mod key;
mod pin;

pub use audit::{KeyAudit, KeyFinding};
pub use card_id::CardId;
pub use challenge::{Challenge, Response};
pub use cm::CmError;
pub use error::{KeyError, ParseError};
pub use key::{AdminKey, KeyCheckValue};
pub use pin::{
    CharClass, CharRule, GenerateError, Pin, PinPolicy, PinPolicyBuilder, PinViolation,
    PolicyError, UserPinOption,
};
pub use rand_core;
pub use zeroize::Zeroizing;

/// The README's example, compiled and run as a doc test so it cannot go stale.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
