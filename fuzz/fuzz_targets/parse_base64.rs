//! `cargo fuzz run parse_base64`: see `cardadmin_fuzz::parse_base64` for the properties checked.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| cardadmin_fuzz::parse_base64(data));
