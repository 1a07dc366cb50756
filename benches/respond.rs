//! The challenge-response hot path, next to the raw `des` crate doing the same work.
//!
//! Each group has a `cardadmin` bench and a `raw_des` bench (`des` 0.8 `TdesEde3` through the
//! `cipher` 0.4 traits), so the overhead of the wrapper is read off one run. The two groups of
//! the 5% target run the raw bench again after `cardadmin` (`raw_des_again`): on a shared
//! machine the gap between the two raw runs shows how far the load drifted meanwhile.
//!
//! - `respond`: one block encryption with a key whose schedule is already expanded;
//! - `from_bytes+respond`: expand the schedule from 24 bytes, then encrypt one block (the cold
//!   path: a key used once);
//! - `verify`: encrypt and compare with an expected response (raw: `==` on the arrays, which
//!   is not constant time, so it is slightly cheaper by construction).
//!
//! - `engine`: the crate's constant-time 3DES engine ([`cardadmin::hazmat::TdesEde3`]) beside
//!   raw `des`: `encrypt_block` (warm key), `new` (key schedule alone), `new+encrypt_block`
//!   (cold key) and `encrypt_blocks` of 3 independent blocks beside 3 raw calls.
//!
//! Run: `taskset -c 0 cargo bench --bench respond` (see `benches/README.md`); the engine group
//! alone: `taskset -c 0 cargo bench --bench respond -- engine`.

mod common;

use cardadmin::{hazmat::TdesEde3 as Engine, AdminKey, Challenge};
use cipher::{generic_array::GenericArray, BlockEncrypt, KeyInit};
use criterion::{black_box, criterion_group, criterion_main, Criterion};
use des::TdesEde3;

const KEY: [u8; 24] = [
    0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef, 0x01,
    0x45, 0x67, 0x89, 0xab, 0xcd, 0xef, 0x01, 0x23,
];
/// `1hFD+cz/0so=`, the challenge of MIM CM's documented example.
const CHALLENGE: [u8; 8] = [0xd6, 0x11, 0x43, 0xf9, 0xcc, 0xff, 0xd2, 0xca];

fn raw_encrypt(cipher: &TdesEde3, input: [u8; 8]) -> [u8; 8] {
    let mut block = GenericArray::from(input);
    cipher.encrypt_block(&mut block);
    block.into()
}

fn respond(c: &mut Criterion) {
    let key = AdminKey::from_bytes(KEY);
    let raw = TdesEde3::new(GenericArray::from_slice(&KEY));
    let challenge = Challenge::from_bytes(CHALLENGE);
    assert_eq!(
        key.respond(&challenge).unwrap().as_bytes(),
        &raw_encrypt(&raw, CHALLENGE)
    );

    let mut group = c.benchmark_group("respond");
    group.bench_function("raw_des", |b| {
        b.iter(|| raw_encrypt(black_box(&raw), black_box(CHALLENGE)))
    });
    group.bench_function("cardadmin", |b| {
        b.iter(|| black_box(&key).respond(black_box(&challenge)))
    });
    group.bench_function("raw_des_again", |b| {
        b.iter(|| raw_encrypt(black_box(&raw), black_box(CHALLENGE)))
    });
    group.finish();
}

fn from_bytes_respond(c: &mut Criterion) {
    let challenge = Challenge::from_bytes(CHALLENGE);
    let raw = || {
        let raw = TdesEde3::new(GenericArray::from_slice(&black_box(KEY)));
        raw_encrypt(&raw, black_box(CHALLENGE))
    };
    let mut group = c.benchmark_group("from_bytes+respond");
    group.bench_function("raw_des", |b| b.iter(raw));
    group.bench_function("cardadmin", |b| {
        b.iter(|| AdminKey::from_bytes(black_box(KEY)).respond(black_box(&challenge)))
    });
    group.bench_function("raw_des_again", |b| b.iter(raw));
    group.finish();
}

fn verify(c: &mut Criterion) {
    let key = AdminKey::from_bytes(KEY);
    let raw = TdesEde3::new(GenericArray::from_slice(&KEY));
    let challenge = Challenge::from_bytes(CHALLENGE);
    let expected = key.respond(&challenge).unwrap();
    let expected_bytes: [u8; 8] = expected.as_bytes().try_into().unwrap();
    let mut group = c.benchmark_group("verify");
    group.bench_function("cardadmin", |b| {
        b.iter(|| black_box(&key).verify(black_box(&challenge), black_box(&expected)))
    });
    group.bench_function("raw_des", |b| {
        b.iter(|| raw_encrypt(black_box(&raw), black_box(CHALLENGE)) == black_box(expected_bytes))
    });
    group.finish();
}

fn engine(c: &mut Criterion) {
    let engine = Engine::new(&KEY);
    let raw = TdesEde3::new(GenericArray::from_slice(&KEY));
    let mut block = CHALLENGE;
    engine.encrypt_block(&mut block);
    assert_eq!(block, raw_encrypt(&raw, CHALLENGE));
    let three = [CHALLENGE, [0x5a; 8], [0xc3; 8]];

    let mut group = c.benchmark_group("engine");
    group.bench_function("encrypt_block/raw_des", |b| {
        b.iter(|| raw_encrypt(black_box(&raw), black_box(CHALLENGE)))
    });
    group.bench_function("encrypt_block/engine", |b| {
        b.iter(|| {
            let mut block = black_box(CHALLENGE);
            black_box(&engine).encrypt_block(&mut block);
            block
        })
    });
    group.bench_function("new/raw_des", |b| {
        b.iter(|| TdesEde3::new(GenericArray::from_slice(&black_box(KEY))))
    });
    group.bench_function("new/engine", |b| b.iter(|| Engine::new(&black_box(KEY))));
    group.bench_function("new+encrypt_block/raw_des", |b| {
        b.iter(|| {
            let raw = TdesEde3::new(GenericArray::from_slice(&black_box(KEY)));
            raw_encrypt(&raw, black_box(CHALLENGE))
        })
    });
    group.bench_function("new+encrypt_block/engine", |b| {
        b.iter(|| {
            let mut block = black_box(CHALLENGE);
            Engine::new(&black_box(KEY)).encrypt_block(&mut block);
            block
        })
    });
    group.bench_function("encrypt_blocks_3/raw_des", |b| {
        b.iter(|| black_box(three).map(|block| raw_encrypt(black_box(&raw), block)))
    });
    group.bench_function("encrypt_blocks_3/engine", |b| {
        b.iter(|| {
            let mut blocks = black_box(three);
            black_box(&engine).encrypt_blocks(&mut blocks);
            blocks
        })
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = common::config();
    targets = respond, from_bytes_respond, verify, engine
}
criterion_main!(benches);
