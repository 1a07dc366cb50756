//! ctcheck: checks that cardadmin's key paths are constant time, under valgrind memcheck.
//!
//! The ctgrind / TIMECOP method: the key bytes (and any other secret input) are marked
//! *undefined* with a memcheck client request, the operation runs, and memcheck reports every
//! conditional branch and every memory address computed from them. Every output is marked
//! defined again before the harness uses it. A key path passes when it produced no report.
//!
//! Run it with `ctcheck/run.sh`, which builds the release binary and runs it under
//! `valgrind --tool=memcheck`; see `README.md`. Arguments: `--list` prints the path names,
//! `--only NAME` (repeatable) runs only those paths.

// The only `unsafe` is the FFI calls in `memcheck`.
#![deny(unsafe_code)]

#[allow(unsafe_code)]
mod memcheck;

use std::ffi::CString;
use std::hint::black_box;
use std::process::ExitCode;

use cardadmin::hazmat::TdesEde3;
use cardadmin::rand_core;
use cardadmin::{cm, master, AdminKey, Algorithm, CardId, Challenge, MasterKey};
use cardadmin_card::apdu::{Command, LengthForm};
use cardadmin_card::auth::{gids, piv};
use cardadmin_card::soft_card::SoftCard;
use cipher::{Block, BlockDecrypt, BlockEncrypt, KeyInit};

use memcheck::{make_defined, make_undefined};

/// What a path must show.
#[derive(Clone, Copy)]
enum Expect {
    /// A key path: at most this many memcheck reports (0; 1 for `from_hex`'s public
    /// valid/invalid decision).
    AtMost(u64),
    /// A path whose count is shown but never fails the run (a documented exception).
    Shown,
    /// A control: at least one report, or the check has no teeth.
    Reports,
    /// A self-test of the harness: exactly this many reports.
    Exactly(u64),
}

/// One named path: `run` measures its operation with a [`Meter`].
struct Path {
    name: &'static str,
    expect: Expect,
    run: fn(&mut Meter),
}

/// A key path that must be constant time: no report at all.
const fn key_path(name: &'static str, run: fn(&mut Meter)) -> Path {
    Path {
        name,
        expect: Expect::AtMost(0),
        run,
    }
}

/// A key path allowed `limit` reports: decisions on public values computed from the key (`from_hex`'s
/// valid/invalid decision, `check_roles`'s comparisons of check values).
const fn key_path_allowing(name: &'static str, limit: u64, run: fn(&mut Meter)) -> Path {
    Path {
        name,
        expect: Expect::AtMost(limit),
        run,
    }
}

/// A path that is measured and shown, but not checked.
const fn shown(name: &'static str, run: fn(&mut Meter)) -> Path {
    Path {
        name,
        expect: Expect::Shown,
        run,
    }
}

/// A control that must report.
const fn control(name: &'static str, run: fn(&mut Meter)) -> Path {
    Path {
        name,
        expect: Expect::Reports,
        run,
    }
}

/// A self-test of the harness with a known count.
const fn selftest(name: &'static str, count: u64, run: fn(&mut Meter)) -> Path {
    Path {
        name,
        expect: Expect::Exactly(count),
        run,
    }
}

/// Every path, in the order they run. Adding a path is one line here (and its function below,
/// unless an existing one fits).
const PATHS: &[Path] = &[
    key_path("from_bytes", from_bytes),
    // The one branch allowed: the public "is this valid key text" decision, taken once.
    key_path_allowing("from_hex", 1, from_hex),
    // Invalid key text is still (mostly) the secret key, typed wrong; but src/key/text.rs
    // describes the typo in variable time by design, so this is shown, not checked.
    shown("from_hex_invalid", from_hex_invalid),
    key_path("to_base64", to_base64),
    key_path("respond", respond),
    key_path("verify", verify),
    key_path("check_value", check_value),
    key_path("diversify", diversify),
    key_path("diversify_warm", diversify_warm),
    key_path("diversify_input", diversify_input),
    key_path("diversify_input_full_block", diversify_input_full_block),
    key_path("master_check_value", master_check_value),
    key_path("master_diversify_signer", master_diversify_signer),
    key_path("master_audit", master_audit),
    key_path_allowing(
        "check_roles_complement",
        CHECK_ROLES_DECISIONS,
        check_roles_complement,
    ),
    key_path("audit", audit),
    key_path("engine_decrypt", engine_decrypt),
    key_path("engine_decrypt_blocks", engine_decrypt_blocks),
    key_path("unblock", unblock),
    key_path("aes128_new", aes_new::<0>),
    key_path("aes192_new", aes_new::<1>),
    key_path("aes256_new", aes_new::<2>),
    key_path_allowing("aes128_new_hex", 1, aes_new_hex::<0>),
    key_path_allowing("aes256_new_hex", 1, aes_new_hex::<2>),
    key_path("aes128_respond", aes_respond::<0>),
    key_path("aes192_respond", aes_respond::<1>),
    key_path("aes256_respond", aes_respond::<2>),
    key_path("aes128_verify", aes_verify::<0>),
    key_path("aes192_check_value", aes_check_value::<1>),
    key_path("aes128_diversify", aes_diversify::<0>),
    key_path("aes192_diversify", aes_diversify::<1>),
    key_path("aes256_diversify", aes_diversify::<2>),
    key_path("aes128_diversify_short_input", aes_diversify_short::<0>),
    key_path("aes256_master_check_value", aes_master_check_value::<2>),
    key_path("aes192_diversify_signer", aes_diversify_signer::<1>),
    key_path("aes192_audit", aes_audit::<1>),
    key_path("aes256_to_base64", aes_to_base64::<2>),
    key_path("piv_single_tdes", piv_single::<0>),
    key_path_allowing("piv_mutual_tdes", 1, piv_mutual::<0>),
    key_path_allowing("piv_mutual_aes192", 1, piv_mutual::<2>),
    key_path_allowing("gids_mutual_tdes", 1, gids_mutual::<0>),
    key_path_allowing("gids_mutual_aes256", 1, gids_mutual::<3>),
    control("control_des_encrypt", encrypt::<des::TdesEde3>),
    control("control_des_decrypt", decrypt::<des::TdesEde3>),
    selftest("selftest_xor", 0, selftest_xor),
    selftest("selftest_lookup", 1, selftest_lookup),
];

/// The master key of NXP AN10922's 3TDEA example. Any key would do: memcheck reports a branch
/// on undefined bytes whatever their value.
const KEY: [u8; 24] = [
    0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff,
    0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08,
];

/// The same key as MIM CM stores it.
const KEY_HEX: &str = "00112233445566778899aabbccddeeff0102030405060708";

/// A card's admin challenge (public).
const CHALLENGE: [u8; 8] = *b"8 bytes!";

/// A card ID (public).
const CARD_ID: [u8; 16] = [
    0xbc, 0x88, 0xf1, 0x3f, 0x83, 0xba, 0x40, 0x37, 0x82, 0x62, 0x46, 0xeb, 0xa1, 0x29, 0x1c, 0x6e,
];

/// AN10922's 3TDEA diversification input (public). With the constant byte in front, 14 bytes:
/// CMAC's last block is incomplete (padded, subkey K2), as with a card ID (17 bytes).
const DIVERSIFICATION_INPUT: [u8; 13] = [
    0x04, 0x78, 0x2e, 0x21, 0x80, 0x1d, 0x80, 0x30, 0x42, 0xf5, 0x4e, 0x58, 0x50,
];

/// A diversification input (public) that makes CMAC's last block complete (16 bytes with the
/// constant byte: subkey K1).
const FULL_BLOCK_INPUT: [u8; 15] = *b"card 0123456789";

/// Counts the memcheck reports of a path's measured operation.
#[derive(Default)]
struct Meter {
    reports: u64,
}

impl Meter {
    /// Runs `operation` and adds the reports it produced. Its output is returned still
    /// undefined where it derives from the secret: mark it defined before using it.
    fn measure<R>(&mut self, operation: impl FnOnce() -> R) -> R {
        let before = memcheck::count_errors();
        let output = black_box(operation());
        self.reports += memcheck::count_errors() - before;
        output
    }
}

/// The key bytes, marked secret.
fn secret_key_bytes() -> [u8; 24] {
    let mut bytes = KEY;
    make_undefined(&mut bytes);
    black_box(bytes)
}

/// An `AdminKey` made from the secret key bytes. Made outside the measured operation (the
/// `from_bytes` path checks this step); any report here still fails the run.
fn secret_key() -> AdminKey {
    AdminKey::from_bytes(secret_key_bytes())
}

/// The same key, with nothing secret: computes the expected outputs.
fn public_key() -> AdminKey {
    AdminKey::from_bytes(KEY)
}

/// A master key made from the secret key bytes (the derivations' key paths).
fn secret_master() -> MasterKey {
    MasterKey::new(Algorithm::Tdes, &secret_key_bytes()).expect("24 bytes")
}

/// The same master key, with nothing secret.
fn public_master() -> MasterKey {
    MasterKey::new(Algorithm::Tdes, &KEY).expect("24 bytes")
}

fn from_bytes(meter: &mut Meter) {
    let bytes = secret_key_bytes();
    let mut key = meter.measure(|| AdminKey::from_bytes(bytes));
    make_defined(&mut key);
    assert_eq!(key.check_value(), public_key().check_value());
}

fn from_hex(meter: &mut Meter) {
    let mut text = String::from(KEY_HEX);
    make_undefined(text.as_mut_str());
    let mut parsed = meter.measure(|| AdminKey::from_hex(black_box(&text)));
    make_defined(&mut parsed);
    let key = parsed.expect("the key text is valid");
    assert_eq!(key.expose_secret(), &KEY[..]);
}

fn from_hex_invalid(meter: &mut Meter) {
    // One character that is not a hex digit, near the end.
    let mut text = String::from(KEY_HEX);
    text.replace_range(40..41, "g");
    make_undefined(text.as_mut_str());
    let mut parsed = meter.measure(|| AdminKey::from_hex(black_box(&text)));
    make_defined(&mut parsed);
    assert!(parsed.is_err(), "the key text is invalid");
}

fn to_base64(meter: &mut Meter) {
    let key = secret_key();
    let mut text = meter.measure(|| key.to_base64());
    make_defined(text.as_mut_str());
    assert_eq!(text.as_str(), public_key().to_base64().as_str());
}

fn respond(meter: &mut Meter) {
    let key = secret_key();
    let challenge = Challenge::from_bytes(CHALLENGE);
    let mut response = meter.measure(|| key.respond(black_box(&challenge)));
    make_defined(&mut response);
    assert_eq!(response, public_key().respond(&challenge));
}

fn verify(meter: &mut Meter) {
    let key = secret_key();
    let challenge = Challenge::from_bytes(CHALLENGE);
    // The response a card sends back is public.
    let response = public_key()
        .respond(&challenge)
        .expect("an 8-byte challenge");
    let mut accepted = meter.measure(|| key.verify(black_box(&challenge), black_box(&response)));
    make_defined(&mut accepted);
    assert!(accepted);
}

fn check_value(meter: &mut Meter) {
    let key = secret_key();
    let mut kcv = meter.measure(|| key.check_value());
    make_defined(&mut kcv);
    assert_eq!(kcv, public_key().check_value());
}

fn diversify(meter: &mut Meter) {
    let key = secret_master();
    let card = CardId::from_bytes(CARD_ID);
    let mut derived = meter.measure(|| key.diversify(black_box(&card)));
    make_defined(&mut derived);
    assert_eq!(
        derived.expose_secret(),
        public_master().diversify(&card).expose_secret()
    );
}

/// The master key's X9.24-1 CMAC check value (one CMAC of the zero block).
fn master_check_value(meter: &mut Meter) {
    let key = secret_master();
    let mut kcv = meter.measure(|| key.check_value());
    make_defined(&mut kcv);
    assert_eq!(kcv, public_master().check_value());
}

/// AN10922 through the key-store trait (`master::diversify` with the in-memory master as the
/// `CmacSigner`): the shared input and fold code, one CMAC call per constant.
fn master_diversify_signer(meter: &mut Meter) {
    let key = secret_master();
    let card = CardId::from_bytes(CARD_ID);
    let mut derived = meter.measure(|| master::diversify(&key, black_box(&card)));
    make_defined(&mut derived);
    assert_eq!(
        derived.expect("infallible").expose_secret(),
        public_master().diversify(&card).expose_secret()
    );
}

fn master_audit(meter: &mut Meter) {
    let key = secret_master();
    let mut findings = meter.measure(|| key.audit());
    make_defined(&mut findings);
    assert!(findings == public_master().audit());
}

/// How many reports `check_roles` may make: its decisions compare CMAC check values, which are
/// public (3 bytes of a MAC, printed in logs and configurations) but computed from the secret
/// keys, so memcheck sees each comparison as a branch on undefined data. Everything before them
/// (the complement of the initial key, its key schedule, both CMACs) must report nothing.
const CHECK_ROLES_DECISIONS: u64 = 2;

/// The key-role check with a Triple-DES initial key that is the complement of the master (issue
/// #24 item 1): complementing the secret key, scheduling it and MACing the zero block under
/// each key run in constant time; only the final comparisons of the public check values branch.
fn check_roles_complement(meter: &mut Meter) {
    let initial = secret_key();
    let mut complement = KEY.map(|byte| !byte);
    make_undefined(&mut complement);
    let master = MasterKey::new(Algorithm::Tdes, &black_box(complement)).expect("24 bytes");
    let mut refused = meter.measure(|| cm::check_roles(&initial, &master).is_err());
    make_defined(&mut refused);
    assert!(refused);
}

/// The same on a warm key, whose cached `E_K(0)` gives CMAC's subkeys: the warm-up is measured
/// too, so this checks the cold and the warm code.
fn diversify_warm(meter: &mut Meter) {
    let key = secret_master();
    let card = CardId::from_bytes(CARD_ID);
    let mut derived = meter.measure(|| {
        black_box(key.check_value());
        key.diversify(black_box(&card))
    });
    make_defined(&mut derived);
    assert_eq!(
        derived.expose_secret(),
        public_master().diversify(&card).expose_secret()
    );
}

fn diversify_input(meter: &mut Meter) {
    diversify_input_with(meter, &DIVERSIFICATION_INPUT);
}

fn diversify_input_full_block(meter: &mut Meter) {
    diversify_input_with(meter, &FULL_BLOCK_INPUT);
}

fn diversify_input_with(meter: &mut Meter, input: &[u8]) {
    let key = secret_master();
    let mut derived = meter.measure(|| key.diversify_input(black_box(input)));
    make_defined(&mut derived);
    let derived = derived.expect("the input length is valid");
    let expected = public_master().diversify_input(input).expect("valid");
    assert_eq!(derived.expose_secret(), expected.expose_secret());
}

fn audit(meter: &mut Meter) {
    let key = secret_key();
    let mut findings = meter.measure(|| key.audit());
    make_defined(&mut findings);
    assert!(findings == public_key().audit());
}

/// The crate's own 3DES engine, directly: key schedule and one block decryption, which no
/// `AdminKey` method reaches.
fn engine_decrypt(meter: &mut Meter) {
    let key = secret_key_bytes();
    let ciphertext: [u8; 8] = public_key()
        .respond(&Challenge::from_bytes(CHALLENGE))
        .expect("an 8-byte challenge")
        .as_bytes()
        .try_into()
        .expect("8 bytes");
    let mut block = meter.measure(|| {
        let engine = TdesEde3::new(&key);
        let mut block = black_box(ciphertext);
        engine.decrypt_block(&mut block);
        block
    });
    make_defined(&mut block);
    assert_eq!(block, CHALLENGE);
}

/// The engine decrypting independent blocks in one call (it may interleave them).
fn engine_decrypt_blocks(meter: &mut Meter) {
    let key = secret_key_bytes();
    let plaintext = [CHALLENGE, [0; 8], *b"3 blocks"];
    let mut ciphertext = plaintext;
    TdesEde3::new(&KEY).encrypt_blocks(&mut ciphertext);
    let mut blocks = meter.measure(|| {
        let engine = TdesEde3::new(&key);
        let mut blocks = black_box(ciphertext);
        engine.decrypt_blocks(&mut blocks);
        blocks
    });
    make_defined(&mut blocks);
    assert_eq!(blocks, plaintext);
}

/// One block encryption under the secret key with a `cipher` 0.4 block cipher, key schedule
/// included: the control (`des`).
fn encrypt<C: KeyInit + BlockEncrypt>(meter: &mut Meter) {
    let key = secret_key_bytes();
    let mut block = meter.measure(|| {
        let cipher = C::new_from_slice(&key).expect("a 24-byte key");
        let mut block = Block::<C>::clone_from_slice(black_box(&CHALLENGE));
        cipher.encrypt_block(&mut block);
        block
    });
    make_defined(&mut block);
    let expected = public_key()
        .respond(&Challenge::from_bytes(CHALLENGE))
        .expect("an 8-byte challenge");
    assert_eq!(block.as_slice(), expected.as_bytes());
}

/// One block decryption, as [`encrypt`].
fn decrypt<C: KeyInit + BlockDecrypt>(meter: &mut Meter) {
    let key = secret_key_bytes();
    let ciphertext = public_key()
        .respond(&Challenge::from_bytes(CHALLENGE))
        .expect("an 8-byte challenge");
    let mut block = meter.measure(|| {
        let cipher = C::new_from_slice(&key).expect("a 24-byte key");
        let mut block = Block::<C>::clone_from_slice(black_box(ciphertext.as_bytes()));
        cipher.decrypt_block(&mut block);
        block
    });
    make_defined(&mut block);
    assert_eq!(block.as_slice(), &CHALLENGE);
}

/// `unblock::respond` on a challenge as a person types it (public), under the secret key.
fn unblock(meter: &mut Meter) {
    let key = secret_key();
    let typed = "3820 6279 7465 7321";
    let mut response = meter.measure(|| cardadmin::unblock::respond(&key, black_box(typed)));
    make_defined(&mut response);
    let expected = cardadmin::unblock::respond(&public_key(), typed).expect("16 hex digits");
    assert_eq!(response.expect("16 hex digits"), expected);
}

/// The AES algorithm of index `A`: AES-128, AES-192, AES-256.
fn aes_algorithm<const A: usize>() -> Algorithm {
    [Algorithm::Aes128, Algorithm::Aes192, Algorithm::Aes256][A]
}

/// A 32-byte key; AES keys take its first 16, 24 or 32 bytes.
const AES_KEY: [u8; 32] = [
    0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff,
    0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x00,
];

/// An AES challenge (public).
const AES_CHALLENGE: [u8; 16] = *b"sixteen bytes!!!";

fn secret_aes_bytes<const A: usize>() -> Vec<u8> {
    let mut bytes = AES_KEY[..aes_algorithm::<A>().key_len()].to_vec();
    make_undefined(bytes.as_mut_slice());
    black_box(bytes)
}

fn secret_aes_key<const A: usize>() -> AdminKey {
    AdminKey::new(aes_algorithm::<A>(), &secret_aes_bytes::<A>()).expect("the key length")
}

fn secret_aes_master<const A: usize>() -> MasterKey {
    MasterKey::new(aes_algorithm::<A>(), &secret_aes_bytes::<A>()).expect("the key length")
}

fn public_aes_master<const A: usize>() -> MasterKey {
    let algorithm = aes_algorithm::<A>();
    MasterKey::new(algorithm, &AES_KEY[..algorithm.key_len()]).expect("the key length")
}

fn aes_master_check_value<const A: usize>(meter: &mut Meter) {
    let key = secret_aes_master::<A>();
    let mut kcv = meter.measure(|| key.check_value());
    make_defined(&mut kcv);
    assert_eq!(kcv, public_aes_master::<A>().check_value());
}

fn aes_diversify_signer<const A: usize>(meter: &mut Meter) {
    let key = secret_aes_master::<A>();
    let card = CardId::from_bytes(CARD_ID);
    let mut derived = meter.measure(|| master::diversify(&key, black_box(&card)));
    make_defined(&mut derived);
    assert_eq!(
        derived.expect("infallible").expose_secret(),
        public_aes_master::<A>().diversify(&card).expose_secret()
    );
}

fn public_aes_key<const A: usize>() -> AdminKey {
    let algorithm = aes_algorithm::<A>();
    AdminKey::new(algorithm, &AES_KEY[..algorithm.key_len()]).expect("the key length")
}

fn aes_new<const A: usize>(meter: &mut Meter) {
    let bytes = secret_aes_bytes::<A>();
    let mut key = meter.measure(|| AdminKey::new(aes_algorithm::<A>(), black_box(&bytes)));
    make_defined(&mut key);
    let key = key.expect("the key length");
    assert_eq!(key.check_value(), public_aes_key::<A>().check_value());
}

fn aes_new_hex<const A: usize>(meter: &mut Meter) {
    let algorithm = aes_algorithm::<A>();
    let mut text: String = AES_KEY[..algorithm.key_len()]
        .iter()
        .map(|byte| format!("{byte:02X}"))
        .collect();
    make_undefined(text.as_mut_str());
    let mut parsed = meter.measure(|| AdminKey::new_hex(algorithm, black_box(&text)));
    make_defined(&mut parsed);
    let key = parsed.expect("the key text is valid");
    assert_eq!(key.expose_secret(), &AES_KEY[..algorithm.key_len()]);
}

fn aes_respond<const A: usize>(meter: &mut Meter) {
    let key = secret_aes_key::<A>();
    let challenge = Challenge::from_slice(&AES_CHALLENGE).expect("16 bytes");
    let mut response = meter.measure(|| key.respond(black_box(&challenge)));
    make_defined(&mut response);
    assert_eq!(response, public_aes_key::<A>().respond(&challenge));
}

fn aes_verify<const A: usize>(meter: &mut Meter) {
    let key = secret_aes_key::<A>();
    let challenge = Challenge::from_slice(&AES_CHALLENGE).expect("16 bytes");
    let response = public_aes_key::<A>().respond(&challenge).expect("16 bytes");
    let mut accepted = meter.measure(|| key.verify(black_box(&challenge), black_box(&response)));
    make_defined(&mut accepted);
    assert!(accepted);
}

fn aes_check_value<const A: usize>(meter: &mut Meter) {
    let key = secret_aes_key::<A>();
    let mut kcv = meter.measure(|| key.check_value());
    make_defined(&mut kcv);
    assert_eq!(kcv, public_aes_key::<A>().check_value());
}

fn aes_diversify<const A: usize>(meter: &mut Meter) {
    let key = secret_aes_master::<A>();
    let card = CardId::from_bytes(CARD_ID);
    let mut derived = meter.measure(|| key.diversify(black_box(&card)));
    make_defined(&mut derived);
    assert_eq!(
        derived.expose_secret(),
        public_aes_master::<A>().diversify(&card).expose_secret()
    );
}

/// AN10922's two-block padding of a short input (a bare 7-byte UID).
fn aes_diversify_short<const A: usize>(meter: &mut Meter) {
    let key = secret_aes_master::<A>();
    let uid = [0x04, 0xde, 0xad, 0xbe, 0xef, 0xfe, 0xed];
    let mut derived = meter.measure(|| key.diversify_input(black_box(&uid)));
    make_defined(&mut derived);
    let expected = public_aes_master::<A>()
        .diversify_input(&uid)
        .expect("valid");
    assert_eq!(
        derived.expect("valid").expose_secret(),
        expected.expose_secret()
    );
}

fn aes_audit<const A: usize>(meter: &mut Meter) {
    let key = secret_aes_key::<A>();
    let mut findings = meter.measure(|| key.audit());
    make_defined(&mut findings);
    assert!(findings == public_aes_key::<A>().audit());
}

fn aes_to_base64<const A: usize>(meter: &mut Meter) {
    let key = secret_aes_key::<A>();
    let mut text = meter.measure(|| key.to_base64());
    make_defined(text.as_mut_str());
    assert_eq!(text.as_str(), public_aes_key::<A>().to_base64().as_str());
}

/// The algorithm of index `A` in [`Algorithm::ALL`], with its key: the 3DES key above, or the
/// AES key's first bytes.
fn flow_key_bytes<const A: usize>() -> (Algorithm, Vec<u8>) {
    let algorithm = Algorithm::ALL[A];
    let bytes = match algorithm {
        Algorithm::Tdes => KEY.to_vec(),
        _ => AES_KEY[..algorithm.key_len()].to_vec(),
    };
    (algorithm, bytes)
}

/// A generator for the card and the host's challenges: public, deterministic bytes.
struct Counter(u8);

impl rand_core::RngCore for Counter {
    fn next_u32(&mut self) -> u32 {
        rand_core::impls::next_u32_via_fill(self)
    }
    fn next_u64(&mut self) -> u64 {
        rand_core::impls::next_u64_via_fill(self)
    }
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        for byte in dest {
            self.0 = self.0.wrapping_mul(31).wrapping_add(7);
            *byte = self.0;
        }
    }
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
        self.fill_bytes(dest);
        Ok(())
    }
}

impl rand_core::CryptoRng for Counter {}

/// The host's key (secret) and a software card holding the same key (public: it only makes
/// the card's answers, which a real card sends in the clear).
fn flow_keys<const A: usize>() -> (AdminKey, SoftCard<Counter>) {
    let (algorithm, bytes) = flow_key_bytes::<A>();
    let mut secret = bytes.clone();
    make_undefined(secret.as_mut_slice());
    let host = AdminKey::new(algorithm, black_box(&secret)).expect("the key length");
    let card_key = AdminKey::new(algorithm, &bytes).expect("the key length");
    (host, SoftCard::new(card_key, Counter(1)))
}

fn send(card: &mut SoftCard<Counter>, command: &Command) -> Vec<u8> {
    card.process(command.encode(LengthForm::Short).as_bytes())
        .as_bytes()
        .to_vec()
}

/// PIV single authentication: the host encrypts the card's challenge.
fn piv_single<const A: usize>(meter: &mut Meter) {
    let (key, mut card) = flow_keys::<A>();
    let flow = piv::SingleAuth::new(&key);
    let challenge = send(&mut card, flow.command());
    let mut next = meter.measure(|| flow.receive_challenge(black_box(&challenge)));
    make_defined(&mut next);
    let next = next.expect("a well-formed challenge");
    let answer = send(&mut card, next.command());
    next.finish(&answer).expect("the right key");
}

/// PIV mutual authentication: the host decrypts the card's witness, then checks the card's
/// encryption of its own challenge; that accept-or-refuse is the one decision allowed.
fn piv_mutual<const A: usize>(meter: &mut Meter) {
    let (key, mut card) = flow_keys::<A>();
    let mut rng = Counter(99);
    let flow = piv::MutualAuth::new(&key);
    let witness = send(&mut card, flow.command());
    let mut next = meter.measure(|| flow.receive_witness(black_box(&witness), &mut rng));
    make_defined(&mut next);
    let next = next.expect("a well-formed witness");
    let answer = send(&mut card, next.command());
    let mut verdict = meter.measure(|| next.finish(black_box(&answer)));
    make_defined(&mut verdict);
    verdict.expect("the card knows the key");
}

/// GIDS mutual authentication: CBC of R2 || R1 || Z1 by the host (after the refusal of
/// R2 = R1, a comparison of public values), and the decryption and check of the card's
/// cryptogram; accept-or-refuse is the one decision allowed.
fn gids_mutual<const A: usize>(meter: &mut Meter) {
    let (key, mut card) = flow_keys::<A>();
    let mut rng = Counter(42);
    send(&mut card, &gids::select());
    let flow = gids::MutualAuth::new(&key, &mut rng).expect("a working generator");
    let answer = send(&mut card, flow.command());
    let flow = flow.receive_mse_set(&answer).expect("MSE SET accepted");
    let challenge = send(&mut card, flow.command());
    let mut next = meter.measure(|| flow.receive_challenge(black_box(&challenge), &mut rng));
    make_defined(&mut next);
    let next = next.expect("a well-formed challenge");
    let answer = send(&mut card, next.command());
    let mut verdict = meter.measure(|| next.finish(black_box(&answer)));
    make_defined(&mut verdict);
    verdict.expect("the card knows the key");
}

/// Constant time by construction (XOR of the key bytes): must report nothing.
fn selftest_xor(meter: &mut Meter) {
    let key = secret_key_bytes();
    let mut folded = meter.measure(|| black_box(&key).iter().fold(0u8, |acc, byte| acc ^ byte));
    make_defined(&mut folded);
    assert_eq!(folded, KEY.iter().fold(0, |acc, byte| acc ^ byte));
}

/// One table lookup indexed by a secret byte: must report exactly once.
fn selftest_lookup(meter: &mut Meter) {
    let table: [u8; 256] = black_box(std::array::from_fn(|i| (i as u8).rotate_left(3)));
    let key = secret_key_bytes();
    let mut looked_up = meter.measure(|| table[usize::from(black_box(key[3]))]);
    make_defined(&mut looked_up);
    assert_eq!(looked_up, KEY[3].rotate_left(3));
}

/// Whether `reports` is what `expect` asks for.
fn passes(expect: Expect, reports: u64) -> bool {
    match expect {
        Expect::AtMost(limit) => reports <= limit,
        Expect::Shown => true,
        Expect::Reports => reports > 0,
        Expect::Exactly(count) => reports == count,
    }
}

fn describe(expect: Expect) -> String {
    match expect {
        Expect::AtMost(0) => String::new(),
        Expect::AtMost(limit) => {
            format!(" (at most {limit} allowed: decisions on public values)")
        }
        Expect::Shown => " (shown, not checked: variable time by design)".into(),
        Expect::Reports => {
            " (control: the raw des crate, must report or the check has no teeth)".into()
        }
        Expect::Exactly(count) => format!(" (self-test: must be exactly {count})"),
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|arg| arg == "--list") {
        PATHS.iter().for_each(|path| println!("{}", path.name));
        return ExitCode::SUCCESS;
    }
    let mut only = Vec::new();
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match (arg.as_str(), args.next()) {
            ("--only", Some(name)) if PATHS.iter().any(|path| path.name == name) => only.push(name),
            _ => {
                eprintln!("usage: ctcheck [--list] [--only PATH]...   (PATH as --list prints it)");
                return ExitCode::from(2);
            }
        }
    }

    let on_valgrind = memcheck::running_on_valgrind();
    let (mut passed, mut failed) = (0, 0);
    let mut blind = false;
    for path in PATHS {
        if !only.is_empty() && !only.iter().any(|name| *name == path.name) {
            continue;
        }
        let marker = CString::new(format!("ctcheck: path {} begins", path.name)).expect("no NUL");
        memcheck::log(&marker);
        let before = memcheck::count_errors();
        let mut meter = Meter::default();
        (path.run)(&mut meter);
        let outside = memcheck::count_errors() - before - meter.reports;
        let ok = passes(path.expect, meter.reports) && outside == 0;
        println!(
            "ctcheck {}: {} memcheck reports{}{}{}",
            path.name,
            meter.reports,
            describe(path.expect),
            if outside == 0 {
                String::new()
            } else {
                format!(", and {outside} outside the measured operation (key setup, drop or the harness itself)")
            },
            if ok { "" } else { ": FAILED" },
        );
        blind |= matches!(path.expect, Expect::Reports) && meter.reports == 0;
        if ok {
            passed += 1;
        } else {
            failed += 1;
        }
    }
    if !on_valgrind {
        println!("ctcheck: not running under valgrind, so every count above is meaningless; run ctcheck/run.sh");
        return ExitCode::from(2);
    }
    if blind {
        println!(
            "ctcheck: a control reported nothing, so memcheck is not seeing the secret \
             (another valgrind tool, or the marking does not reach the code): no count above \
             proves anything"
        );
    }
    println!("ctcheck: {passed} passed, {failed} failed");
    if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
