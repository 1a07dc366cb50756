//! The fuzz corpus of this crate's targets as regression tests: every file under
//! `fuzz/corpus/<target>/` (the seeds and every crash input found so far) goes through the very
//! property checks the fuzz targets run (`fuzz/src/card.rs`), so a plain `cargo test` catches a
//! regression without cargo-fuzz or a nightly toolchain.

#[allow(dead_code)]
#[path = "../../../fuzz/src/base.rs"]
mod base;
#[path = "../../../fuzz/src/card.rs"]
mod card;

use std::path::{Path, PathBuf};

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz")
}

fn replay(target: &str) {
    base::replay(&card::TARGETS, &fuzz_dir(), target);
}

#[test]
fn every_target_has_a_corpus_and_a_fuzz_target() {
    base::check_layout(&card::TARGETS, &fuzz_dir());
}

#[test]
fn parse_apdu_corpus() {
    replay("parse_apdu");
}

#[test]
fn host_answers_corpus() {
    replay("host_answers");
}

#[test]
fn card_parsers_corpus() {
    replay("card_parsers");
}

#[test]
fn soft_card_corpus() {
    replay("soft_card");
}
