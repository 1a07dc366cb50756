//! `cargo fuzz run parse_admin_key`: see `cardadmin_fuzz::parse_admin_key` for the properties checked.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| cardadmin_fuzz::parse_admin_key(data));
