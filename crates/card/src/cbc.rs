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
