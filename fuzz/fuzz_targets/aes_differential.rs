//! `cargo fuzz run aes_differential`: see `cardadmin_fuzz::aes_differential` for the properties checked.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| cardadmin_fuzz::aes_differential(data));
