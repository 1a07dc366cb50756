//! AN10922 diversification and the whole `authenticationresponse` request, next to the same
//! work written directly on the raw crates (`des` 0.8 `TdesEde3`, `cmac` 0.7, `base64`, `hex`).
//!
//! Groups:
//!
//! - `diversify`: master key (schedule expanded) + card ID bytes -> diversified `AdminKey`.
//!   `raw_cmac_new_key` keys a fresh `Cmac<TdesEde3>` from the 24 bytes for each of the three
//!   CMACs (what a first attempt with `Mac::new` does); `raw_cmac_cloned_schedule` reuses the
//!   expanded master schedule by cloning it into each `Cmac`. Both end by expanding the
//!   diversified key's schedule, as `AdminKey` does.
//! - `authentication_response/diversified` and `/not_diversified`: from the three text
//!   parameters to the base64 answer string. This is the figure `python_reference.py` compares
//!   with. The raw version parses the GUID with `hex` and the challenge with `base64`, without
//!   the strict checks and error messages of `cardadmin`.
//! - `parse/challenge` and `parse/card_id`: `Challenge::from_base64` next to
//!   `base64::engine::general_purpose::STANDARD.decode_slice`, and `CardId::parse` next to
//!   `hex::decode_to_slice` over the digits plus the GUID byte swap.
//!
//! Run: `taskset -c 0 cargo bench --bench diversify` (see `benches/README.md`).

mod common;

use base64::Engine as _;
use cardadmin::{cm, AdminKey, CardId, Challenge, MasterKey};
use cipher::{generic_array::GenericArray, BlockEncrypt, KeyInit};
use cmac::{digest::InnerInit, Cmac, CmacCore, Mac};
use criterion::{black_box, criterion_group, criterion_main, Criterion};
use des::TdesEde3;

const MASTER: [u8; 24] = [
    0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff,
    0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08,
];
const CARD_ID: &str = "bc88f13f-83ba-4037-8262-46eba1291c6e";
const CHALLENGE: &str = "1hFD+cz/0so=";

fn odd_parity(byte: u8) -> u8 {
    let high = byte & 0xfe;
    high | u8::from(high.count_ones() % 2 == 0)
}

/// AN10922 3TDEA with the `cmac` crate; `new_mac` makes the `Cmac` for each part.
fn raw_diversify(new_mac: impl Fn() -> Cmac<TdesEde3>, id: &[u8; 16]) -> TdesEde3 {
    let mut key = [0u8; 24];
    for (part, constant) in key.chunks_exact_mut(8).zip([0x31u8, 0x32, 0x33]) {
        let mut mac = new_mac();
        mac.update(&[constant]);
        mac.update(id);
        part.copy_from_slice(&mac.finalize().into_bytes());
    }
    key.iter_mut().for_each(|b| *b = odd_parity(*b));
    TdesEde3::new(GenericArray::from_slice(&key))
}

/// A `Cmac` keyed from the 24 key bytes: expands the key schedule.
fn keyed_mac(key: &[u8; 24]) -> Cmac<TdesEde3> {
    <Cmac<TdesEde3> as KeyInit>::new(GenericArray::from_slice(key))
}

fn raw_card_id(text: &str) -> [u8; 16] {
    let mut digits = [0u8; 32];
    for (slot, b) in digits.iter_mut().zip(text.bytes().filter(|&b| b != b'-')) {
        *slot = b;
    }
    let mut id = [0u8; 16];
    hex::decode_to_slice(digits, &mut id).expect("card id hex");
    id[0..4].reverse();
    id[4..6].reverse();
    id[6..8].reverse();
    id
}

fn raw_challenge(text: &str) -> [u8; 8] {
    let mut buf = [0u8; 9];
    let n = base64::engine::general_purpose::STANDARD
        .decode_slice(text, &mut buf)
        .expect("challenge base64");
    assert_eq!(n, 8);
    let mut challenge = [0u8; 8];
    challenge.copy_from_slice(&buf[..8]);
    challenge
}

fn raw_authentication_response(master: &TdesEde3, card_id: &str, challenge: &str) -> String {
    let id = raw_card_id(card_id);
    let challenge = raw_challenge(challenge);
    let key = raw_diversify(
        || Cmac::from_core(CmacCore::inner_init(master.clone())),
        &id,
    );
    let mut block = GenericArray::from(challenge);
    key.encrypt_block(&mut block);
    base64::engine::general_purpose::STANDARD.encode(block)
}

fn diversify(c: &mut Criterion) {
    let master = MasterKey::new(cardadmin::Algorithm::Tdes, &MASTER).expect("master");
    let raw_master = TdesEde3::new(GenericArray::from_slice(&MASTER));
    let card = CardId::parse(CARD_ID).expect("card id");
    let id = *card.as_bytes();

    // The three must agree, or the comparison means nothing.
    let ours = master
        .diversify(&card)
        .respond(&Challenge::from_bytes([0; 8]))
        .unwrap();
    let mut block = GenericArray::from([0u8; 8]);
    raw_diversify(|| keyed_mac(&MASTER), &id).encrypt_block(&mut block);
    assert_eq!(ours.as_bytes()[..], block[..]);

    let mut group = c.benchmark_group("diversify");
    group.bench_function("cardadmin", |b| {
        b.iter(|| black_box(&master).diversify(black_box(&card)))
    });
    // The same derivation through the key-store trait (one CMAC call per constant, as an HSM
    // backend runs it), with the in-memory key behind it: the cost of the trait path itself.
    group.bench_function("cardadmin_cmac_signer", |b| {
        b.iter(|| cardadmin::master::diversify(black_box(&master), black_box(&card)))
    });
    group.bench_function("raw_cmac_new_key", |b| {
        b.iter(|| raw_diversify(|| keyed_mac(black_box(&MASTER)), black_box(&id)))
    });
    group.bench_function("raw_cmac_cloned_schedule", |b| {
        b.iter(|| {
            raw_diversify(
                || Cmac::from_core(CmacCore::inner_init(black_box(&raw_master).clone())),
                black_box(&id),
            )
        })
    });
    group.finish();
}

fn authentication_response(c: &mut Criterion) {
    // The same bytes in both roles only so that the raw side needs one key; a server refuses
    // that configuration (`cm::check_roles`), the parameter-level functions do not check it.
    let initial = AdminKey::from_bytes(MASTER);
    let master = MasterKey::new(cardadmin::Algorithm::Tdes, &MASTER).expect("master");
    let raw_master = TdesEde3::new(GenericArray::from_slice(&MASTER));
    let ours = cm::authentication_response(&initial, Some(&master), CARD_ID, CHALLENGE, true)
        .expect("request");
    assert_eq!(
        ours.to_string(),
        raw_authentication_response(&raw_master, CARD_ID, CHALLENGE)
    );

    let mut group = c.benchmark_group("authentication_response");
    group.bench_function("diversified/cardadmin", |b| {
        b.iter(|| {
            cm::authentication_response(
                black_box(&initial),
                black_box(Some(&master)),
                black_box(CARD_ID),
                black_box(CHALLENGE),
                black_box(true),
            )
            .map(|response| response.to_string())
        })
    });
    group.bench_function("diversified/raw_crates", |b| {
        b.iter(|| {
            raw_authentication_response(
                black_box(&raw_master),
                black_box(CARD_ID),
                black_box(CHALLENGE),
            )
        })
    });
    group.bench_function("not_diversified/cardadmin", |b| {
        b.iter(|| {
            cm::authentication_response(
                black_box(&initial),
                black_box(Some(&master)),
                black_box(CARD_ID),
                black_box(CHALLENGE),
                black_box(false),
            )
            .map(|response| response.to_string())
        })
    });
    group.bench_function("not_diversified/raw_crates", |b| {
        b.iter(|| {
            // The card ID is parsed (and ignored) on both sides, as `cm` checks it.
            let _id = raw_card_id(black_box(CARD_ID));
            let mut block = GenericArray::from(raw_challenge(black_box(CHALLENGE)));
            black_box(&raw_master).encrypt_block(&mut block);
            base64::engine::general_purpose::STANDARD.encode(block)
        })
    });
    group.finish();
}

fn parse(c: &mut Criterion) {
    assert_eq!(
        Challenge::from_base64(CHALLENGE)
            .expect("challenge")
            .as_bytes(),
        &raw_challenge(CHALLENGE)
    );
    assert_eq!(
        CardId::parse(CARD_ID).expect("card id").as_bytes(),
        &raw_card_id(CARD_ID)
    );
    let mut group = c.benchmark_group("parse");
    group.bench_function("challenge/cardadmin", |b| {
        b.iter(|| Challenge::from_base64(black_box(CHALLENGE)))
    });
    group.bench_function("challenge/raw_base64", |b| {
        b.iter(|| raw_challenge(black_box(CHALLENGE)))
    });
    group.bench_function("card_id/cardadmin", |b| {
        b.iter(|| CardId::parse(black_box(CARD_ID)))
    });
    group.bench_function("card_id/raw_hex", |b| {
        b.iter(|| raw_card_id(black_box(CARD_ID)))
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = common::config();
    targets = diversify, authentication_response, parse
}
criterion_main!(benches);
