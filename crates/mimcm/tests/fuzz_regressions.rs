//! The fuzz corpus of this crate's targets as regression tests: every file under
//! `fuzz/corpus/<target>/` (the seeds and every crash input found so far) goes through the very
//! property checks the fuzz targets run (`fuzz/src/mimcm.rs`), so a plain `cargo test` catches a
//! regression without cargo-fuzz or a nightly toolchain.

#[allow(dead_code)]
#[path = "../../../fuzz/src/base.rs"]
mod base;
#[path = "../../../fuzz/src/mimcm.rs"]
mod mimcm;

use std::path::{Path, PathBuf};

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz")
}

fn replay(target: &str) {
    base::replay(&mimcm::TARGETS, &fuzz_dir(), target);
}

#[test]
fn every_target_has_a_corpus_and_a_fuzz_target() {
    base::check_layout(&mimcm::TARGETS, &fuzz_dir());
}

#[test]
fn cm_handle_request_corpus() {
    replay("cm_handle_request");
}

#[test]
fn cm_parse_request_corpus() {
    replay("cm_parse_request");
}
