// The crate documentation is the README (written once, for GitHub and rustdoc alike). Its
// examples use `rng::OsRng`, so as doc tests they run with the `getrandom` feature (the
// workspace's tests run with `--all-features`); without it rustdoc tests a short stand-in.
#![cfg_attr(
    any(not(doctest), all(feature = "std", feature = "getrandom")),
    doc = include_str!("../README.md")
)]
#![cfg_attr(
    all(doctest, not(all(feature = "std", feature = "getrandom"))),
    doc = "cardadmin's README examples run as doc tests with the `std` and `getrandom` features."
)]
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

mod algorithm;
mod card_id;
mod challenge;
pub mod cm;
mod error;
pub mod hazmat;
mod kdf;
mod key;
#[cfg(feature = "serde")]
mod key_serde;
pub mod master;
mod pin;
mod plural;
mod primitive;
pub mod rng;
mod signer;
pub mod unblock;

pub use algorithm::Algorithm;
pub use card_id::CardId;
pub use challenge::{Challenge, Response};
pub use cm::CmError;
pub use error::{KeyError, ParseError};
pub use kdf::DesParity;
pub use key::{AdminKey, KeyAudit, KeyCheckValue, KeyFinding, WeakKeyError};
pub use master::MasterKey;
pub use pin::{
    CharClass, CharRule, GenerateError, Pin, PinPolicy, PinPolicyBuilder, PinViolation,
    PolicyError, UserPinOption,
};
pub use rand_core;
pub use unblock::{UnblockError, UnblockResponse};
pub use zeroize::Zeroizing;
