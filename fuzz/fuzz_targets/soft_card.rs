//! `cargo fuzz run soft_card`: see `cardadmin_fuzz::card::soft_card` for the properties checked.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| cardadmin_fuzz::card::soft_card(data));
