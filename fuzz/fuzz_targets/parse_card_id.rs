//! `cargo fuzz run parse_card_id`: see `cardadmin_fuzz::parse_card_id` for the properties checked.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| cardadmin_fuzz::parse_card_id(data));
