//! `cargo fuzz run parse_apdu`: see `cardadmin_fuzz::card::parse_apdu` for the properties checked.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| cardadmin_fuzz::card::parse_apdu(data));
