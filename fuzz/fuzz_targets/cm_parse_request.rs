//! `cargo fuzz run cm_parse_request`: see `cardadmin_fuzz::cm_parse_request` for the
//! properties checked.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| cardadmin_fuzz::cm_parse_request(data));
