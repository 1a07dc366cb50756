//! `cargo fuzz run host_answers`: see `cardadmin_fuzz::card::host_answers` for the properties checked.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| cardadmin_fuzz::card::host_answers(data));
