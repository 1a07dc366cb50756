//! Diversification runs its own CMAC chain over the key's cached schedule and `E_K(0)`
//! (`src/diversify.rs`); these tests hold it to the `cmac` crate on every accepted input length,
//! and check that the cached `E_K(0)` behaves: same answers before and after it is filled, in
//! clones, and when threads race to fill it.

use cardadmin::{AdminKey, CardId};
use cipher::{generic_array::GenericArray, KeyInit};
use cmac::{Cmac, Mac};
use des::TdesEde3;
use proptest::prelude::*;

/// AN10922 3TDEA with the `cmac` crate, parity included.
fn reference(master: &[u8; 24], input: &[u8]) -> [u8; 24] {
    let mut key = [0u8; 24];
    for (part, constant) in key.chunks_exact_mut(8).zip([0x31u8, 0x32, 0x33]) {
        let mut mac = <Cmac<TdesEde3> as KeyInit>::new(GenericArray::from_slice(master));
        mac.update(&[constant]);
        mac.update(input);
        part.copy_from_slice(&mac.finalize().into_bytes());
    }
    for byte in &mut key {
        let high = *byte & 0xfe;
        *byte = high | u8::from(high.count_ones() % 2 == 0);
    }
    key
}

#[test]
fn every_input_length_matches_the_cmac_crate() {
    let masters = [
        [0u8; 24],
        [0xff; 24],
        *b"\x00\x11\x22\x33\x44\x55\x66\x77\x88\x99\xaa\xbb\xcc\xdd\xee\xff\x01\x02\x03\x04\x05\x06\x07\x08",
    ];
    for master in masters {
        let key = AdminKey::from_bytes(master);
        for len in 1..=64usize {
            // 0x31 || input is 2 to 65 bytes: complete and incomplete last blocks, 1 to 9 blocks.
            let input: Vec<u8> = (0..len).map(|i| (i * 37 + len) as u8).collect();
            let ours = key.diversify_input(&input).unwrap();
            assert_eq!(
                ours.expose_secret(),
                &reference(&master, &input),
                "len {len}"
            );
        }
    }
}

#[test]
fn cached_zero_block_changes_nothing() {
    let master = [0x5a; 24];
    let card = CardId::parse("bc88f13f-83ba-4037-8262-46eba1291c6e").unwrap();
    let expected = reference(&master, card.as_bytes());

    // Diversify first (fills the cache), then the check value from the cache.
    let key = AdminKey::from_bytes(master);
    let clone_before = key.clone();
    assert_eq!(key.diversify(&card).expose_secret(), &expected);
    assert_eq!(key.diversify(&card).expose_secret(), &expected);
    let clone_after = key.clone();
    assert_eq!(clone_before.diversify(&card).expose_secret(), &expected);
    assert_eq!(clone_after.diversify(&card).expose_secret(), &expected);

    // The check value first (fills the cache), then diversify from it.
    let fresh = AdminKey::from_bytes(master);
    let kcv = fresh.check_value();
    assert_eq!(fresh.diversify(&card).expose_secret(), &expected);
    assert_eq!(fresh.check_value(), kcv);
    assert_eq!(key.check_value(), kcv);
    assert_eq!(clone_after.check_value(), kcv);
    assert_eq!(
        format!("{fresh:?}"),
        format!("AdminKey {{ check_value: {kcv} }}")
    );
}

#[test]
fn threads_racing_to_fill_the_cache_agree() {
    let master = [0x3c; 24];
    for round in 0..20u8 {
        let key = AdminKey::from_bytes(master);
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
    fn diversify_matches_the_cmac_crate(master in any::<[u8; 24]>(), id in any::<[u8; 16]>()) {
        let key = AdminKey::from_bytes(master);
        let card = CardId::from_bytes(id);
        let derived = key.diversify(&card);
        prop_assert_eq!(derived.expose_secret(), &reference(&master, &id));
    }
}
