//! The fuzz corpus as regression tests: every file under `fuzz/corpus/<target>/` (the seeds and
//! every crash input found so far) goes through the very property checks the fuzz targets run,
//! so a plain `cargo test` catches a regression without cargo-fuzz or a nightly toolchain.
//! The card layer's and the facade's targets are replayed by their own crates.

#[path = "../fuzz/src/base.rs"]
mod checks;

use std::path::Path;

fn replay(target: &str) {
    checks::replay(&checks::TARGETS, &fuzz_dir(), target);
}

fn fuzz_dir() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz")
}

#[test]
fn parse_admin_key_corpus() {
    replay("parse_admin_key");
}

#[test]
fn parse_card_id_corpus() {
    replay("parse_card_id");
}

#[test]
fn parse_base64_corpus() {
    replay("parse_base64");
}

#[test]
fn respond_differential_corpus() {
    replay("respond_differential");
}

#[test]
fn diversify_differential_corpus() {
    replay("diversify_differential");
}

#[test]
fn pin_policy_corpus() {
    replay("pin_policy");
}

#[test]
fn cm_requests_corpus() {
    replay("cm_requests");
}

#[test]
fn aes_differential_corpus() {
    replay("aes_differential");
}

#[test]
fn every_target_has_a_corpus_and_a_fuzz_target() {
    checks::check_layout(&checks::TARGETS, &fuzz_dir());
}

fn unhex(text: &str) -> Vec<u8> {
    let mut bytes = vec![0; text.len() / 2];
    hex::decode_to_slice(text, &mut bytes).expect("hex");
    bytes
}

/// The oracles of the fuzz targets give the documented answers, so a check that compares
/// cardadmin with them can only pass when cardadmin gives those answers too.
#[test]
fn the_references_know_the_documented_answers() {
    // MIM CM example: all-zero key, challenge 1hFD+cz/0so=, response F0Zudm4wPLY=.
    let challenge = checks::reference_base64_block("1hFD+cz/0so=").unwrap();
    assert_eq!(challenge, [0xd6, 0x11, 0x43, 0xf9, 0xcc, 0xff, 0xd2, 0xca]);
    let response = checks::reference_encrypt(&[0; 24], &challenge);
    assert_eq!(checks::reference_base64(&response), "F0Zudm4wPLY=");
    assert_eq!(checks::reference_decrypt(&[0; 24], &response), challenge);
    // GUID layout.
    let guid = checks::reference_guid("bc88f13f-83ba-4037-8262-46eba1291c6e").unwrap();
    assert_eq!(guid.to_vec(), unhex("3ff188bcba833740826246eba1291c6e"));
    assert_eq!(
        checks::reference_guid_text(&guid),
        "bc88f13f-83ba-4037-8262-46eba1291c6e"
    );
    assert_eq!(
        checks::reference_guid("{bc88f13f83ba4037826246eba1291c6e}"),
        None
    );
    // AN10922 3TDEA: the first CMAC is 2F0DD03675D3FB9A before parity.
    let master = unhex("00112233445566778899AABBCCDDEEFF0102030405060708");
    let input = unhex("04782E21801D803042F54E5850");
    let derived = checks::reference_diversify(&master, &input);
    assert_eq!(derived[..8], unhex("2F0DD03775D3FB9B"));
    // AN10922 AES-128, and AN10957's 7-byte UID (two-block padding; plain CMAC differs).
    let master = unhex("00112233445566778899AABBCCDDEEFF");
    let input = unhex("04782E21801D803042F54E585020416275");
    assert_eq!(
        checks::reference_diversify_aes(&master, &input),
        unhex("A8DD63A3B89D54B37CA802473FDA9175")
    );
    let master = unhex("F3F9377698707B688EAF84ABE39E3791");
    assert_eq!(
        checks::reference_diversify_aes(&master, &unhex("04DEADBEEFFEED")),
        unhex("0BB408BAFF98B6EE9F2E1585777F6A51")
    );
    // Strict base64.
    assert_eq!(checks::reference_base64_block("1hFD+cz/0sp="), None);
    assert_eq!(checks::reference_base64_block("1hFD+cz/0so"), None);
    assert_eq!(checks::reference_hex_key(&"0".repeat(48)), Some([0; 24]));
    assert_eq!(checks::reference_hex_key(&"0".repeat(47)), None);
}
