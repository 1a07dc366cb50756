//! `cargo fuzz run cm_requests`: see `cardadmin_fuzz::cm_requests` for the properties checked.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| cardadmin_fuzz::cm_requests(data));
