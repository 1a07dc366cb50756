//! `cargo fuzz run card_parsers`: see `cardadmin_fuzz::card::card_parsers` for the properties checked.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| cardadmin_fuzz::card::card_parsers(data));
