#![doc = include_str!("../README.md")]
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

#[cfg(any(feature = "std", test))]
extern crate std;

pub mod apdu;
pub mod auth;
mod cbc;
mod plural;

#[cfg(feature = "soft-card")]
pub mod soft_card;
