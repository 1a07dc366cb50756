//! CBC with a zero IV over a whole number of blocks: what GIDS mutual authentication encrypts
//! its cryptograms with (the card's and the host's `R ‖ R'` blocks), built on the core's single-
//! block operations so that the key bytes stay in the core.

use cardadmin::{hazmat, AdminKey, KeyError};
use zeroize::Zeroizing;

const MAX_BLOCK_LEN: usize = 16;

/// The error for data that is not a whole, non-empty number of the cipher's blocks: the core's
/// own, named by the full length, so callers see one kind of length error.
fn length_error(key: &AdminKey, len: usize) -> KeyError {
    KeyError::ChallengeLength {
        algorithm: key.algorithm(),
        expected: key.algorithm().block_len(),
        found: len,
    }
}

/// Encrypts `data` in place; `data` is unchanged on error.
pub(crate) fn encrypt(key: &AdminKey, data: &mut [u8]) -> Result<(), KeyError> {
    let block_len = key.algorithm().block_len();
    if data.is_empty() || data.len() % block_len != 0 {
        return Err(length_error(key, data.len()));
    }
    let mut chain = Zeroizing::new([0u8; MAX_BLOCK_LEN]);
    for block in data.chunks_mut(block_len) {
        for (byte, previous) in block.iter_mut().zip(chain.iter()) {
            *byte ^= *previous;
        }
        hazmat::encrypt_block(key, block)?;
        for (previous, byte) in chain.iter_mut().zip(block.iter()) {
            *previous = *byte;
        }
    }
    Ok(())
}

/// Decrypts `data` in place; `data` is unchanged on a length error.
pub(crate) fn decrypt(key: &AdminKey, data: &mut [u8]) -> Result<(), KeyError> {
    let block_len = key.algorithm().block_len();
    if data.is_empty() || data.len() % block_len != 0 {
        return Err(length_error(key, data.len()));
    }
    let mut chain = Zeroizing::new([0u8; MAX_BLOCK_LEN]);
    let mut cipher_text = Zeroizing::new([0u8; MAX_BLOCK_LEN]);
    for block in data.chunks_mut(block_len) {
        for (saved, byte) in cipher_text.iter_mut().zip(block.iter()) {
            *saved = *byte;
        }
        hazmat::decrypt_block(key, block)?;
        for (byte, previous) in block.iter_mut().zip(chain.iter()) {
            *byte ^= *previous;
        }
        core::mem::swap(&mut chain, &mut cipher_text);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::vec;
    use std::vec::Vec;

    use cardadmin::{hazmat, AdminKey, Algorithm, KeyError};

    use super::{decrypt, encrypt};

    type Operation = fn(&AdminKey, &mut [u8]) -> Result<(), KeyError>;

    /// Anything but a whole, non-empty number of blocks is refused before a block is touched,
    /// named by its full length: a partial last block must not leave the first blocks done,
    /// and empty data is not a cryptogram.
    #[test]
    fn only_whole_blocks_are_taken_and_a_refusal_leaves_the_data() {
        for algorithm in Algorithm::ALL {
            let key = AdminKey::new(algorithm, &vec![0x42; algorithm.key_len()]).unwrap();
            let block_len = algorithm.block_len();
            for len in [0, 1, block_len - 1, block_len + 1, 2 * block_len + 1] {
                for operation in [encrypt as Operation, decrypt] {
                    let mut data = vec![0xa5; len];
                    assert_eq!(
                        operation(&key, &mut data),
                        Err(KeyError::ChallengeLength {
                            algorithm,
                            expected: block_len,
                            found: len
                        }),
                        "{algorithm} {len}"
                    );
                    assert_eq!(data, vec![0xa5; len], "{algorithm} {len}");
                }
            }
        }
    }

    /// CBC with a zero IV: each block is encrypted after the previous cipher block is XORed in.
    #[test]
    fn blocks_are_chained_from_a_zero_iv() {
        for algorithm in Algorithm::ALL {
            let key = AdminKey::new(algorithm, &vec![0x42; algorithm.key_len()]).unwrap();
            let block_len = algorithm.block_len();
            let plain: Vec<u8> = (0..3 * block_len as u8).collect();
            let mut expected = plain.clone();
            let mut previous = vec![0u8; block_len];
            for block in expected.chunks_mut(block_len) {
                block.iter_mut().zip(&previous).for_each(|(b, p)| *b ^= p);
                hazmat::encrypt_block(&key, block).unwrap();
                previous.copy_from_slice(block);
            }
            let mut data = plain.clone();
            encrypt(&key, &mut data).unwrap();
            assert_eq!(data, expected, "{algorithm}");
            decrypt(&key, &mut data).unwrap();
            assert_eq!(data, plain, "{algorithm}");
        }
    }
}
