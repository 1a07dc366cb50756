//! Unit tests of the engine's derived constants and building blocks against plain, bit-by-bit
//! readings of the FIPS 46-3 tables, and differential tests against the `des` 0.8 crate.

use super::*;
use cipher::{BlockDecrypt, BlockEncrypt};
use proptest::prelude::*;
use std::vec::Vec;

// ---- Plain references, written straight from FIPS 46-3 ---------------------------------------

/// Bit `q` (1 = most significant) of an `n`-bit value.
fn bit(x: u64, n: u32, q: u8) -> u64 {
    (x >> (n - u32::from(q))) & 1
}

/// Output bit `i + 1` is input bit `table[i]`; `n_in`-bit input, `table.len()`-bit output.
fn permute_ref(x: u64, n_in: u32, table: &[u8]) -> u64 {
    table.iter().fold(0, |acc, &q| (acc << 1) | bit(x, n_in, q))
}

fn sbox_ref(b: usize, six: u64) -> u64 {
    let row = (((six >> 5) & 1) << 1 | (six & 1)) as usize;
    let col = ((six >> 1) & 0xf) as usize;
    u64::from(S[b][row][col])
}

/// f(R, K) of FIPS 46-3: P(S(E(R) xor K)), K the 48-bit subkey.
fn f_ref(r: u32, k48: u64) -> u32 {
    let e = permute_ref(u64::from(r), 32, &E) ^ k48;
    let s = (0..8).fold(0, |acc, b| {
        (acc << 4) | sbox_ref(b, (e >> (42 - 6 * b)) & 0x3f)
    });
    permute_ref(s, 32, &P) as u32
}

/// The 16 subkeys of FIPS 46-3 (48 bits each).
fn subkeys_ref(key: u64) -> [u64; 16] {
    let cd = permute_ref(key, 64, &PC1);
    let (mut c, mut d) = (cd >> 28, cd & 0x0fff_ffff);
    let mut out = [0; 16];
    for (o, &s) in out.iter_mut().zip(SHIFTS.iter()) {
        for _ in 0..s {
            c = ((c << 1) | (c >> 27)) & 0x0fff_ffff;
            d = ((d << 1) | (d >> 27)) & 0x0fff_ffff;
        }
        *o = permute_ref((c << 28) | d, 56, &PC2);
    }
    out
}

/// Single DES from the references.
fn des_ref(key: u64, block: u64, decrypt: bool) -> u64 {
    let mut ks = subkeys_ref(key);
    if decrypt {
        ks.reverse();
    }
    let x = permute_ref(block, 64, &IP);
    let (mut l, mut r) = ((x >> 32) as u32, x as u32);
    for k in ks {
        (l, r) = (r, l ^ f_ref(r, k));
    }
    permute_ref((u64::from(r) << 32) | u64::from(l), 64, &IP_INV)
}

fn doubled(x: u32) -> u64 {
    (u64::from(x) << 32) | u64::from(x)
}

fn rng_u64(state: &mut u64) -> u64 {
    // SplitMix64: plenty for spreading test inputs.
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

// ---- The FIPS tables themselves -------------------------------------------------------------

#[test]
fn fips_tables_are_well_formed() {
    for table in [&IP, &IP_INV] {
        let mut seen = [false; 64];
        table.iter().for_each(|&q| seen[usize::from(q) - 1] = true);
        assert!(seen.iter().all(|&s| s));
    }
    for i in 1..=64u8 {
        assert_eq!(IP_INV[usize::from(IP[usize::from(i) - 1]) - 1], i);
    }
    let mut seen = [false; 32];
    P.iter().for_each(|&q| seen[usize::from(q) - 1] = true);
    assert!(seen.iter().all(|&s| s));
    assert!(
        PC1.iter().all(|&q| q % 8 != 0),
        "PC-1 drops the parity bits"
    );
    assert_eq!(SHIFTS.iter().map(|&s| u32::from(s)).sum::<u32>(), 28);
    for sbox in S {
        for row in sbox {
            let mut seen = [false; 16];
            row.iter().for_each(|&v| seen[usize::from(v)] = true);
            assert!(
                seen.iter().all(|&s| s),
                "each S-box row is a permutation of 0..15"
            );
        }
    }
}

// ---- Derived constants ----------------------------------------------------------------------

/// Every S-box, every 6-bit input: the tree constants evaluated with all-zero / all-one input
/// words and the half select of `f` give exactly the FIPS 46-3 S-box outputs.
#[test]
fn tree_matches_every_sbox_entry() {
    for six in 0u64..64 {
        let word = |m: u32| if (six >> (5 - m)) & 1 == 1 { !0u64 } else { 0 };
        let t = tree(&[word(1), word(2), word(3), word(4), word(5)], &TREE);
        let half = if word(0) != 0 { t >> 32 } else { t & LO };
        for b in 0..8 {
            let expected = sbox_ref(b, six);
            let got = (0..4).fold(0, |acc, o| (acc << 1) | ((half >> tree_pos(b, o)) & 1));
            assert_eq!(got, expected, "S{} input {six:06b}", b + 1);
        }
    }
}

#[test]
fn out_offset_is_a_permutation_per_box() {
    for offsets in OUT_OFFSET {
        let mut seen = [false; 4];
        offsets.iter().for_each(|&o| seen[usize::from(o)] = true);
        assert!(seen.iter().all(|&s| s));
    }
}

#[test]
fn ip_and_ip_inv_match_fips() {
    let mut state = 1;
    for _ in 0..2000 {
        let x = rng_u64(&mut state);
        let ip = apply_swaps(x, &IP_SWAPS);
        assert_eq!(ip, permute_ref(x, 64, &IP));
        assert_eq!(apply_swaps(x, &FP_SWAPS), permute_ref(x, 64, &IP_INV));
        assert_eq!(apply_swaps(ip, &FP_SWAPS), x);
    }
    for q in 0..64 {
        let x = 1u64 << q;
        assert_eq!(apply_swaps(x, &IP_SWAPS), permute_ref(x, 64, &IP));
        assert_eq!(apply_swaps(x, &FP_SWAPS), permute_ref(x, 64, &IP_INV));
    }
}

/// E (with the key addition): each input word carries, in every nibble of box `b`, bit
/// `E[6b + m]` of R XOR subkey bit `6b + m`; word 0 is complemented in the high half.
#[test]
fn expansion_and_key_addition_match_fips() {
    let mut state = 2;
    for _ in 0..500 {
        let r = rng_u64(&mut state) as u32;
        let key = rng_u64(&mut state);
        let mut rks = [[0u64; 2]; 16];
        des_schedule(&key.to_be_bytes(), &mut rks);
        let k48 = subkeys_ref(key)[0];
        let e = permute_ref(u64::from(r), 32, &E) ^ k48;
        let words = inputs(doubled(r), &rks[0]);
        for (m, w) in words.iter().enumerate() {
            for b in 0..8 {
                let expect = (e >> (47 - (6 * b + m))) & 1;
                let nib_lo = (w >> (4 * (7 - b))) & 0xf;
                let nib_hi = (w >> (32 + 4 * (7 - b))) & 0xf;
                let hi_expect = if m == 0 { expect ^ 1 } else { expect };
                assert_eq!(nib_lo, expect * 0xf, "low half, box {b}, input {m}");
                assert_eq!(nib_hi, hi_expect * 0xf, "high half, box {b}, input {m}");
            }
        }
    }
}

#[test]
fn p_matches_fips() {
    let mut state = 3;
    let place = |s32: u64| {
        // The S-box outputs (FIPS order) moved to the tree layout, doubled.
        let mut t = 0u64;
        for b in 0..8 {
            for o in 0..4 {
                let v = (s32 >> (31 - (4 * b + o))) & 1;
                t |= (v << tree_pos(b, o)) | (v << (32 + tree_pos(b, o)));
            }
        }
        t
    };
    for i in 0..(32 + 1000) {
        let s32 = if i < 32 {
            1u64 << i
        } else {
            rng_u64(&mut state) & 0xffff_ffff
        };
        let got = p_balanced(place(s32), &masks(&P_STEPS));
        assert_eq!(got, doubled(permute_ref(s32, 32, &P) as u32));
    }
}

#[test]
fn round_function_matches_fips() {
    let mut state = 4;
    for _ in 0..300 {
        let key = rng_u64(&mut state);
        let mut rks = [[0u64; 2]; 16];
        des_schedule(&key.to_be_bytes(), &mut rks);
        for (rk, k48) in rks.iter().zip(subkeys_ref(key)) {
            let r = rng_u64(&mut state) as u32;
            assert_eq!(f(doubled(r), rk, &CONSTS), doubled(f_ref(r, k48)));
        }
    }
}

#[test]
fn single_des_matches_reference() {
    let mut state = 5;
    for _ in 0..200 {
        let key = rng_u64(&mut state);
        let block = rng_u64(&mut state);
        let mut key24 = [0u8; 24];
        key24
            .chunks_mut(8)
            .for_each(|c| c.copy_from_slice(&key.to_be_bytes()));
        let engine = TdesEde3::new(&key24);
        let mut b = block.to_be_bytes();
        engine.encrypt_block(&mut b);
        assert_eq!(u64::from_be_bytes(b), des_ref(key, block, false));
        engine.decrypt_block(&mut b);
        assert_eq!(u64::from_be_bytes(b), block);
    }
}

// ---- Differential tests against des 0.8 ------------------------------------------------------

fn oracle(key: &[u8; 24]) -> des::TdesEde3 {
    <des::TdesEde3 as KeyInit>::new(GenericArray::from_slice(key))
}

fn oracle_encrypt(key: &[u8; 24], block: [u8; 8]) -> [u8; 8] {
    let mut b = GenericArray::from(block);
    BlockEncrypt::encrypt_block(&oracle(key), &mut b);
    b.into()
}

fn oracle_decrypt(key: &[u8; 24], block: [u8; 8]) -> [u8; 8] {
    let mut b = GenericArray::from(block);
    BlockDecrypt::decrypt_block(&oracle(key), &mut b);
    b.into()
}

// The 4 weak and 12 semi-weak DES keys (FIPS 74 / SP 800-67), with parity.
use crate::primitive::des_key::SP800_67_WEAK_AND_SEMI_WEAK as WEAK_AND_SEMI_WEAK;

fn part() -> impl Strategy<Value = [u8; 8]> {
    prop_oneof![
        3 => any::<[u8; 8]>(),
        1 => proptest::sample::select(&WEAK_AND_SEMI_WEAK[..]).prop_map(u64::to_be_bytes),
        // The same keys without their parity bits: DES ignores them.
        1 => proptest::sample::select(&WEAK_AND_SEMI_WEAK[..])
            .prop_map(|k| (k & 0xfefe_fefe_fefe_fefe).to_be_bytes()),
        1 => Just([0u8; 8]),
        1 => Just([1, 2, 3, 4, 5, 6, 7, 8]),
    ]
}

fn key24() -> impl Strategy<Value = [u8; 24]> {
    let join = |a: [u8; 8], b: [u8; 8], c: [u8; 8]| {
        let mut k = [0u8; 24];
        k[..8].copy_from_slice(&a);
        k[8..16].copy_from_slice(&b);
        k[16..].copy_from_slice(&c);
        k
    };
    prop_oneof![
        (part(), part(), part()).prop_map(move |(a, b, c)| join(a, b, c)),
        // K1 = K2 = K3: single DES.
        part().prop_map(move |a| join(a, a, a)),
        // Two-key TDES, and the degenerate K1 = K2 and K2 = K3.
        (part(), part()).prop_map(move |(a, b)| join(a, b, a)),
        (part(), part()).prop_map(move |(a, b)| join(a, a, b)),
        (part(), part()).prop_map(move |(a, b)| join(a, b, b)),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn encrypt_and_decrypt_block_match_des(key in key24(), block in any::<[u8; 8]>()) {
        let engine = TdesEde3::new(&key);
        let mut b = block;
        engine.encrypt_block(&mut b);
        prop_assert_eq!(b, oracle_encrypt(&key, block));
        let mut d = block;
        engine.decrypt_block(&mut d);
        prop_assert_eq!(d, oracle_decrypt(&key, block));
        engine.decrypt_block(&mut b);
        prop_assert_eq!(b, block);
    }

    #[test]
    fn multi_block_matches_des(key in key24(), blocks in proptest::collection::vec(any::<[u8; 8]>(), 0..11)) {
        let engine = TdesEde3::new(&key);
        let mut enc = blocks.clone();
        engine.encrypt_blocks(&mut enc);
        let expected: Vec<[u8; 8]> = blocks.iter().map(|&b| oracle_encrypt(&key, b)).collect();
        prop_assert_eq!(&enc, &expected);
        let mut dec = blocks.clone();
        engine.decrypt_blocks(&mut dec);
        let expected: Vec<[u8; 8]> = blocks.iter().map(|&b| oracle_decrypt(&key, b)).collect();
        prop_assert_eq!(&dec, &expected);
        engine.decrypt_blocks(&mut enc);
        prop_assert_eq!(&enc, &blocks);
    }

    #[test]
    fn cipher_traits_match_des(key in key24(), blocks in proptest::collection::vec(any::<[u8; 8]>(), 0..7)) {
        let engine = <TdesEde3 as KeyInit>::new(GenericArray::from_slice(&key));
        let mut ours: Vec<_> = blocks.iter().map(|&b| GenericArray::from(b)).collect();
        let mut theirs = ours.clone();
        BlockEncrypt::encrypt_blocks(&engine, &mut ours);
        BlockEncrypt::encrypt_blocks(&oracle(&key), &mut theirs);
        prop_assert_eq!(&ours, &theirs);
        BlockDecrypt::decrypt_blocks(&engine, &mut ours);
        let original: Vec<_> = blocks.iter().map(|&b| GenericArray::from(b)).collect();
        prop_assert_eq!(&ours, &original);
    }

    #[test]
    fn cmac_over_the_engine_matches_cmac_over_des(key in key24(), msg in proptest::collection::vec(any::<u8>(), 0..70)) {
        use cmac::{Cmac, Mac};
        let mut ours = <Cmac<TdesEde3> as KeyInit>::new(GenericArray::from_slice(&key));
        let mut theirs = <Cmac<des::TdesEde3> as KeyInit>::new(GenericArray::from_slice(&key));
        ours.update(&msg);
        theirs.update(&msg);
        prop_assert_eq!(ours.finalize().into_bytes(), theirs.finalize().into_bytes());
    }
}

#[test]
fn degenerate_keys_match_des() {
    let minidriver: [u8; 24] = core::array::from_fn(|i| (i % 8) as u8 + 1);
    for key in [[0u8; 24], [0xff; 24], minidriver] {
        let engine = TdesEde3::new(&key);
        for block in [[0u8; 8], [0xff; 8], *b"cardadmn"] {
            let mut b = block;
            engine.encrypt_block(&mut b);
            assert_eq!(b, oracle_encrypt(&key, block));
        }
    }
    // The MIM CM documentation's example: all-zero key.
    let mut b = [0xd6, 0x11, 0x43, 0xf9, 0xcc, 0xff, 0xd2, 0xca];
    TdesEde3::new(&[0; 24]).encrypt_block(&mut b);
    assert_eq!(b, [0x17, 0x46, 0x6e, 0x76, 0x6e, 0x30, 0x3c, 0xb6]);
}

#[test]
fn parity_bits_are_ignored() {
    let key: [u8; 24] = core::array::from_fn(|i| (i as u8).wrapping_mul(73) ^ 0x5c);
    let flipped = key.map(|b| b ^ 1);
    let (mut a, mut b) = ([9u8; 8], [9u8; 8]);
    TdesEde3::new(&key).encrypt_block(&mut a);
    TdesEde3::new(&flipped).encrypt_block(&mut b);
    assert_eq!(a, b);
}

#[test]
fn zeroize_wipes_every_round_key() {
    let mut engine = TdesEde3::new(&[0xa5; 24]);
    assert!(engine.keys.iter().flatten().flatten().any(|&w| w != 0));
    engine.zeroize();
    assert!(engine.keys.iter().flatten().flatten().all(|&w| w == 0));
}

#[test]
fn debug_shows_no_key_material() {
    assert_eq!(
        std::format!("{:?}", TdesEde3::new(&[0x42; 24])),
        "TdesEde3 { .. }"
    );
}

#[test]
fn clone_encrypts_the_same() {
    let engine = TdesEde3::new(&[0x37; 24]);
    let copy = engine.clone();
    let (mut a, mut b) = ([1u8; 8], [1u8; 8]);
    engine.encrypt_block(&mut a);
    copy.encrypt_block(&mut b);
    assert_eq!(a, b);
}

// Compile-time: the engine wipes itself on drop and is a `cipher` block cipher.
const _: fn() = || {
    fn zeroize_on_drop<T: ZeroizeOnDrop>() {}
    fn block_cipher<T: BlockCipher + BlockEncrypt + BlockDecrypt + KeyInit + Clone>() {}
    zeroize_on_drop::<TdesEde3>();
    block_cipher::<TdesEde3>();
};
