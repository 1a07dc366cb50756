//! The raw block operations the core lends to the card layer (`cardadmin::hazmat`): one block
//! of the key's cipher encrypted or decrypted in place, as the raw `des` and `aes` crates do it,
//! for every algorithm; anything but one block refused with the lengths, the block untouched.

use aes::{Aes128, Aes192, Aes256};
use cardadmin::{hazmat, AdminKey, Algorithm, Challenge, KeyError};
use cipher::{generic_array::GenericArray, BlockDecrypt, BlockEncrypt, KeyInit};

/// One block through the raw RustCrypto crate for the algorithm, either way.
fn raw(algorithm: Algorithm, key: &[u8], block: &[u8], encrypt: bool) -> Vec<u8> {
    fn with<C: KeyInit + BlockEncrypt + BlockDecrypt>(
        key: &[u8],
        block: &[u8],
        encrypt: bool,
    ) -> Vec<u8> {
        let cipher = C::new_from_slice(key).unwrap();
        let mut block = GenericArray::clone_from_slice(block);
        if encrypt {
            cipher.encrypt_block(&mut block);
        } else {
            cipher.decrypt_block(&mut block);
        }
        block.to_vec()
    }
    match algorithm {
        Algorithm::Tdes => with::<des::TdesEde3>(key, block, encrypt),
        Algorithm::Aes128 => with::<Aes128>(key, block, encrypt),
        Algorithm::Aes192 => with::<Aes192>(key, block, encrypt),
        _ => with::<Aes256>(key, block, encrypt),
    }
}

#[test]
fn one_block_either_way_as_the_raw_crates() {
    for algorithm in Algorithm::ALL {
        let bytes: Vec<u8> = (0..algorithm.key_len() as u8)
            .map(|i| i.wrapping_mul(37) ^ 0x5c)
            .collect();
        let key = AdminKey::new(algorithm, &bytes).unwrap();
        let plain: Vec<u8> = (0..algorithm.block_len() as u8).map(|i| i * 11).collect();

        let mut block = plain.clone();
        hazmat::encrypt_block(&key, &mut block).unwrap();
        assert_eq!(block, raw(algorithm, &bytes, &plain, true), "{algorithm}");
        // The same as the key's answer to that challenge.
        let challenge = Challenge::from_slice(&plain).unwrap();
        assert_eq!(block, key.respond(&challenge).unwrap().as_bytes());

        hazmat::decrypt_block(&key, &mut block).unwrap();
        assert_eq!(block, plain, "{algorithm}");
        let mut block = plain.clone();
        hazmat::decrypt_block(&key, &mut block).unwrap();
        assert_eq!(block, raw(algorithm, &bytes, &plain, false), "{algorithm}");
    }
}

#[test]
fn anything_but_one_block_is_refused_untouched() {
    for algorithm in Algorithm::ALL {
        let key = AdminKey::new(algorithm, &vec![0x42; algorithm.key_len()]).unwrap();
        for len in [0, 1, 7, 8, 9, 15, 16, 17, 32] {
            if len == algorithm.block_len() {
                continue;
            }
            let expected = KeyError::ChallengeLength {
                algorithm,
                expected: algorithm.block_len(),
                found: len,
            };
            let mut block = vec![0xa5; len];
            assert_eq!(
                hazmat::encrypt_block(&key, &mut block),
                Err(expected),
                "{algorithm} {len}"
            );
            assert_eq!(block, vec![0xa5; len]);
            assert_eq!(
                hazmat::decrypt_block(&key, &mut block),
                Err(expected),
                "{algorithm} {len}"
            );
            assert_eq!(block, vec![0xa5; len]);
        }
    }
}
