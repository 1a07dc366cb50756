//! Block-cipher primitives: the crate's only home for cipher engines.
//!
//! [`TdesEde3`] is the crate's own constant-time 3-key Triple-DES engine: table-free and
//! branch-free, in the key schedule as in encryption and decryption.

mod fips46;
mod tdes;

pub use tdes::TdesEde3;
