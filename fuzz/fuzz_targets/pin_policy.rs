//! `cargo fuzz run pin_policy`: see `cardadmin_fuzz::pin_policy` for the properties checked.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| cardadmin_fuzz::pin_policy(data));
