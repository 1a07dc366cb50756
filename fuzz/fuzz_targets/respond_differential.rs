//! `cargo fuzz run respond_differential`: see `cardadmin_fuzz::respond_differential` for the properties checked.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| cardadmin_fuzz::respond_differential(data));
