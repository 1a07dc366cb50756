//! AES admin keys (issue #10), next to the raw `aes` and `cmac` crates doing the same work.
//!
//! - `aes_respond/{aes128,aes192,aes256}`: one block with a key whose schedule is expanded,
//!   against `aes` 0.8 through the `cipher` 0.4 traits (`raw_aes`);
//! - `aes_diversify/{aes128,aes192,aes256}`: AN10922 for a card ID (one or two CMACs, and the
//!   derived key's schedule), against the same derivation composed from `cmac::Cmac<Aes*>`
//!   keyed per CMAC plus `Aes*::new` for the derived key (`raw_cmac`). For a 17-byte
//!   `constant || card ID` AN10922 pads to two blocks and uses `K2` where the `cmac` crate pads
//!   to two blocks as well (17 bytes is already past one block), so the two compute the same.
//!
//! Run: `taskset -c 0 cargo bench --bench aes` (see `benches/README.md`).

mod common;

use aes::{Aes128, Aes192, Aes256};
use cardadmin::{AdminKey, Algorithm, CardId, Challenge, MasterKey};
use cipher::{generic_array::GenericArray, BlockEncrypt, KeyInit};
use cmac::{Cmac, Mac};
use criterion::{black_box, criterion_group, criterion_main, Criterion};

const KEY: [u8; 32] = [
    0x60, 0x3d, 0xeb, 0x10, 0x15, 0xca, 0x71, 0xbe, 0x2b, 0x73, 0xae, 0xf0, 0x85, 0x7d, 0x77, 0x81,
    0x1f, 0x35, 0x2c, 0x07, 0x3b, 0x61, 0x08, 0xd7, 0x2d, 0x98, 0x10, 0xa3, 0x09, 0x14, 0xdf, 0xf4,
];
const CHALLENGE: [u8; 16] = *b"sixteen byte chl";
const CARD_ID: [u8; 16] = [
    0x3f, 0xf1, 0x88, 0xbc, 0xba, 0x83, 0x37, 0x40, 0x82, 0x62, 0x46, 0xeb, 0xa1, 0x29, 0x1c, 0x6e,
];

fn raw_encrypt<C: BlockEncrypt + cipher::BlockSizeUser<BlockSize = cipher::consts::U16>>(
    cipher: &C,
    input: [u8; 16],
) -> [u8; 16] {
    let mut block = GenericArray::from(input);
    cipher.encrypt_block(&mut block);
    block.into()
}

/// `CMAC(key, constant || input)` with the `cmac` crate over `$cipher`, keyed afresh.
macro_rules! raw_cmac {
    ($cipher:ty, $key:expr, $constant:expr) => {{
        let mut mac = <Cmac<$cipher> as KeyInit>::new_from_slice($key).unwrap();
        Mac::update(&mut mac, &[$constant]);
        Mac::update(&mut mac, &CARD_ID);
        let mut out = [0u8; 16];
        out.copy_from_slice(&mac.finalize().into_bytes());
        out
    }};
}

macro_rules! aes_benches {
    ($name:literal, $algorithm:expr, $cipher:ty, $derive:expr) => {{
        |c: &mut Criterion| {
            let algorithm: Algorithm = $algorithm;
            let bytes = &KEY[..algorithm.key_len()];
            let key = AdminKey::new(algorithm, bytes).unwrap();
            let raw = <$cipher>::new_from_slice(bytes).unwrap();
            let challenge = Challenge::from_slice(&CHALLENGE).unwrap();
            assert_eq!(
                key.respond(&challenge).unwrap().as_bytes(),
                &raw_encrypt(&raw, CHALLENGE)
            );
            let mut group = c.benchmark_group("aes_respond");
            group.bench_function(concat!($name, "/raw_aes"), |b| {
                b.iter(|| raw_encrypt(black_box(&raw), black_box(CHALLENGE)))
            });
            group.bench_function(concat!($name, "/cardadmin"), |b| {
                b.iter(|| black_box(&key).respond(black_box(&challenge)))
            });
            group.finish();

            let card = CardId::from_bytes(CARD_ID);
            let derive: fn(&[u8]) -> Vec<u8> = $derive;
            let key = MasterKey::new(algorithm, bytes).unwrap();
            assert_eq!(
                key.diversify(&card).expose_secret(),
                derive(bytes).as_slice()
            );
            let mut group = c.benchmark_group("aes_diversify");
            group.bench_function(concat!($name, "/raw_cmac"), |b| {
                b.iter(|| {
                    let derived = derive(black_box(bytes));
                    <$cipher>::new_from_slice(&derived).unwrap()
                })
            });
            group.bench_function(concat!($name, "/cardadmin"), |b| {
                b.iter(|| black_box(&key).diversify(black_box(&card)))
            });
            group.finish();
        }
    }};
}

fn benches(c: &mut Criterion) {
    let all: [fn(&mut Criterion); 3] = [
        aes_benches!("aes128", Algorithm::Aes128, Aes128, |key| {
            raw_cmac!(Aes128, key, 0x01).to_vec()
        }),
        aes_benches!("aes192", Algorithm::Aes192, Aes192, |key| {
            let a = raw_cmac!(Aes192, key, 0x11);
            let b = raw_cmac!(Aes192, key, 0x12);
            let middle = a[8..].iter().zip(&b[..8]).map(|(x, y)| x ^ y);
            a[..8]
                .iter()
                .copied()
                .chain(middle)
                .chain(b[8..].iter().copied())
                .collect()
        }),
        aes_benches!("aes256", Algorithm::Aes256, Aes256, |key| {
            let mut out = raw_cmac!(Aes256, key, 0x41).to_vec();
            out.extend(raw_cmac!(Aes256, key, 0x42));
            out
        }),
    ];
    for bench in all {
        bench(c);
    }
}

criterion_group! {
    name = aes;
    config = common::config();
    targets = benches
}
criterion_main!(aes);
