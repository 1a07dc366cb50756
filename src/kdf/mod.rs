//! Key derivation: each card's admin key from the master key.

mod an10922;
