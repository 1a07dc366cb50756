//! Diversification runs its own CMAC chain over the key's cached schedule and `E_K(0)`
//! (`src/kdf/an10922.rs`); these tests hold it to the `cmac` crate (over the `des` and `aes`
//! crates) on every accepted input length and every algorithm, and check that the cached
//! `E_K(0)` behaves: same answers before and after it is filled, in clones, and when threads
//! race to fill it. The key-store path (`master::diversify_input` through `CmacSigner`) is held
//! to the same reference.
//!
//! AN10922 pads `constant || M` to at least two blocks and then MACs with CMAC's `K2`; the
//! `cmac` crate pads to one block. So for those short messages the reference here is a plain
//! CBC-MAC over the raw cipher with `K2` doubled by hand from `E_K(0)`, written from the
//! definitions (SP 800-38B section 6.1, AN10922 section 2), and the `cmac` crate for the rest.

use aes::{Aes128, Aes192, Aes256};
use cardadmin::{master, Algorithm, CardId, DesParity, KeyError, MasterKey};
use cipher::{generic_array::GenericArray, BlockEncrypt, KeyInit};
use cmac::{Cmac, Mac};
use des::TdesEde3;
use proptest::prelude::*;

/// One AN10922 CMAC of `constant || input`: `full_cmac` (the `cmac` crate) once the message
/// is two blocks long, else CBC-MAC of the two-block padded message with `K2`, on `encrypt`.
fn an10922_cmac(
    block: usize,
    encrypt: &dyn Fn(&mut [u8]),
    full_cmac: &dyn Fn(&[u8]) -> Vec<u8>,
    constant: u8,
    input: &[u8],
) -> Vec<u8> {
    let message: Vec<u8> = std::iter::once(constant)
        .chain(input.iter().copied())
        .collect();
    if message.len() >= 2 * block {
        return full_cmac(&message);
    }
    let double = |value: &[u8]| {
        let mut out: Vec<u8> = value
            .iter()
            .zip(value.iter().skip(1).chain([&0u8]))
            .map(|(byte, next)| byte << 1 | next >> 7)
            .collect();
        if value[0] & 0x80 != 0 {
            *out.last_mut().unwrap() ^= if block == 8 { 0x1b } else { 0x87 };
        }
        out
    };
    let mut l = vec![0u8; block];
    encrypt(&mut l);
    let k2 = double(&double(&l));
    let mut padded = message.clone();
    padded.push(0x80);
    padded.resize(2 * block, 0);
    for (byte, k) in padded[block..].iter_mut().zip(&k2) {
        *byte ^= k;
    }
    let mut state = vec![0u8; block];
    for chunk in padded.chunks(block) {
        for (s, m) in state.iter_mut().zip(chunk) {
            *s ^= m;
        }
        encrypt(&mut state);
    }
    state
}

/// [`an10922_cmac`] with the cipher type `$cipher` from the RustCrypto crates.
macro_rules! reference_cmac {
    ($cipher:ty, $key:expr, $constant:expr, $input:expr) => {{
        let key: &[u8] = $key;
        let cipher = <$cipher as KeyInit>::new_from_slice(key).unwrap();
        let encrypt = |data: &mut [u8]| cipher.encrypt_block(GenericArray::from_mut_slice(data));
        let full_cmac = |message: &[u8]| {
            let mut mac = <Cmac<$cipher> as KeyInit>::new_from_slice(key).unwrap();
            Mac::update(&mut mac, message);
            mac.finalize().into_bytes().to_vec()
        };
        let block = <$cipher as cipher::BlockSizeUser>::block_size();
        an10922_cmac(block, &encrypt, &full_cmac, $constant, $input)
    }};
}

/// AN10922 3TDEA from the reference CMAC, odd parity included.
fn reference(master: &[u8; 24], input: &[u8]) -> [u8; 24] {
    let mut key = [0u8; 24];
    for (part, constant) in key.chunks_exact_mut(8).zip([0x31u8, 0x32, 0x33]) {
        part.copy_from_slice(&reference_cmac!(TdesEde3, master, constant, input));
    }
    for byte in &mut key {
        let high = *byte & 0xfe;
        *byte = high | u8::from(high.count_ones() % 2 == 0);
    }
    key
}

/// AN10922 for the AES key sizes, from the reference CMAC.
fn reference_aes(algorithm: Algorithm, master: &[u8], input: &[u8]) -> Vec<u8> {
    match algorithm {
        Algorithm::Aes128 => reference_cmac!(Aes128, master, 0x01, input),
        Algorithm::Aes192 => {
            let a = reference_cmac!(Aes192, master, 0x11, input);
            let b = reference_cmac!(Aes192, master, 0x12, input);
            let middle = a[8..].iter().zip(&b[..8]).map(|(x, y)| x ^ y);
            a[..8]
                .iter()
                .copied()
                .chain(middle)
                .chain(b[8..].iter().copied())
                .collect()
        }
        Algorithm::Aes256 => {
            let mut key = reference_cmac!(Aes256, master, 0x41, input);
            key.extend(reference_cmac!(Aes256, master, 0x42, input));
            key
        }
        _ => unreachable!("AES only"),
    }
}

#[test]
fn every_aes_input_length_matches_the_reference() {
    for algorithm in [Algorithm::Aes128, Algorithm::Aes192, Algorithm::Aes256] {
        for fill in [0u8, 0xff, 0x5a] {
            let master: Vec<u8> = (0..algorithm.key_len()).map(|i| fill ^ i as u8).collect();
            let key = MasterKey::new(algorithm, &master).unwrap();
            for len in 1..=64usize {
                let input: Vec<u8> = (0..len).map(|i| (i * 37 + len) as u8).collect();
                let expected = reference_aes(algorithm, &master, &input);
                assert_eq!(
                    key.diversify_input(&input).unwrap().expose_secret(),
                    expected.as_slice(),
                    "{algorithm} len {len}"
                );
                through_the_trait(&key, &input, &expected);
            }
        }
    }
}

#[test]
fn every_input_length_matches_the_reference() {
    let masters = [
        [0u8; 24],
        [0xff; 24],
        *b"\x00\x11\x22\x33\x44\x55\x66\x77\x88\x99\xaa\xbb\xcc\xdd\xee\xff\x01\x02\x03\x04\x05\x06\x07\x08",
    ];
    for master in masters {
        let key = MasterKey::new(Algorithm::Tdes, &master).unwrap();
        for len in 1..=64usize {
            // 0x31 || input is 2 to 65 bytes: AN10922's two-block padding (up to 15 bytes),
            // complete and incomplete last blocks, 2 to 9 blocks.
            let input: Vec<u8> = (0..len).map(|i| (i * 37 + len) as u8).collect();
            let ours = key.diversify_input(&input).unwrap();
            let expected = reference(&master, &input);
            assert_eq!(ours.expose_secret(), &expected, "len {len}");
            through_the_trait(&key, &input, &expected);
        }
    }
}

/// The key-store path (`master::diversify_input`, one plain CMAC per constant through
/// `CmacSigner`) gives the reference key whenever plain CMAC and AN10922 pad alike (an input
/// of at least one block), and refuses shorter inputs rather than derive another key.
fn through_the_trait(key: &MasterKey, input: &[u8], expected: &[u8]) {
    let block = key.algorithm().block_len();
    let derived = master::diversify_input(key, input, DesParity::Odd);
    if input.len() >= block {
        assert_eq!(
            derived.unwrap().expose_secret(),
            expected,
            "len {}",
            input.len()
        );
    } else {
        assert_eq!(
            derived.unwrap_err(),
            master::DiversifyError::Input(KeyError::KeyStoreInputLength {
                min: block,
                found: input.len()
            })
        );
    }
}

#[test]
fn cached_zero_block_changes_nothing() {
    let master = [0x5a; 24];
    let card = CardId::parse("bc88f13f-83ba-4037-8262-46eba1291c6e").unwrap();
    let expected = reference(&master, card.as_bytes());

    // Diversify first (fills the cache), then the check value from the cache.
    let key = MasterKey::new(Algorithm::Tdes, &master).unwrap();
    let clone_before = key.clone();
    assert_eq!(key.diversify(&card).expose_secret(), &expected);
    assert_eq!(key.diversify(&card).expose_secret(), &expected);
    let clone_after = key.clone();
    assert_eq!(clone_before.diversify(&card).expose_secret(), &expected);
    assert_eq!(clone_after.diversify(&card).expose_secret(), &expected);

    // The check value first (fills the cache), then diversify from it.
    let fresh = MasterKey::new(Algorithm::Tdes, &master).unwrap();
    let kcv = fresh.check_value();
    assert_eq!(fresh.diversify(&card).expose_secret(), &expected);
    assert_eq!(fresh.check_value(), kcv);
    assert_eq!(key.check_value(), kcv);
    assert_eq!(clone_after.check_value(), kcv);
    assert_eq!(
        format!("{fresh:?}"),
        format!("MasterKey {{ algorithm: Tdes, check_value: {kcv} }}")
    );
}

#[test]
fn threads_racing_to_fill_the_cache_agree() {
    let master = [0x3c; 24];
    for round in 0..20u8 {
        let key = MasterKey::new(Algorithm::Tdes, &master).unwrap();
        let card = CardId::from_bytes([round; 16]);
        let expected = reference(&master, card.as_bytes());
        std::thread::scope(|scope| {
            for _ in 0..4 {
                scope.spawn(|| assert_eq!(key.diversify(&card).expose_secret(), &expected));
            }
        });
    }
}

proptest! {
    #[test]
    fn diversify_matches_the_reference(master in any::<[u8; 24]>(), id in any::<[u8; 16]>()) {
        let key = MasterKey::new(Algorithm::Tdes, &master).unwrap();
        let card = CardId::from_bytes(id);
        let derived = key.diversify(&card);
        prop_assert_eq!(derived.expose_secret(), &reference(&master, &id));
        let through_trait = master::diversify(&key, &card).unwrap();
        prop_assert_eq!(through_trait.expose_secret(), &reference(&master, &id));
    }
}
