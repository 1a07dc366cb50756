//! `cargo fuzz run cm_handle_request`: see `cardadmin_fuzz::cm_handle_request` for the
//! properties checked.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| cardadmin_fuzz::cm_handle_request(data));
