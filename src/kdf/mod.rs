//! Key derivation: each card's admin key from the master key.

pub(crate) mod an10922;

pub use an10922::DesParity;
