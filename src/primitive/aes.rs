//! AES, from RustCrypto's `aes` crate: the one RustCrypto block cipher documented as constant
//! time (bitsliced "fixslice" in software, AES-NI where the processor has it, chosen at run
//! time). No AES code of the crate's own.

use cipher::{generic_array::GenericArray, BlockDecrypt, BlockEncrypt};
use zeroize::Zeroize;

use super::BlockCipher;

pub(crate) use aes::{Aes128, Aes192, Aes256};

/// How many blocks are handed to `aes` at once: enough for its parallel paths (fixslice works
/// on 2 or 4 blocks, AES-NI pipelines 8), small enough for the stack.
const BATCH: usize = 4;

macro_rules! aes_block_cipher {
    ($($cipher:ty),*) => {$(
        impl BlockCipher<16> for $cipher {
            fn encrypt_one(&self, block: &mut [u8; 16]) {
                BlockEncrypt::encrypt_block(self, block.into());
            }

            fn decrypt_one(&self, block: &mut [u8; 16]) {
                BlockDecrypt::decrypt_block(self, block.into());
            }

            fn encrypt_blocks(&self, blocks: &mut [[u8; 16]]) {
                for chunk in blocks.chunks_mut(BATCH) {
                    let mut batch = [GenericArray::<u8, cipher::consts::U16>::default(); BATCH];
                    for (slot, block) in batch.iter_mut().zip(chunk.iter()) {
                        slot.copy_from_slice(block);
                    }
                    let used = batch.get_mut(..chunk.len()).unwrap_or_default();
                    BlockEncrypt::encrypt_blocks(self, used);
                    for (block, slot) in chunk.iter_mut().zip(batch.iter()) {
                        block.copy_from_slice(slot);
                    }
                    batch.iter_mut().for_each(|slot| slot.as_mut_slice().zeroize());
                }
            }
        }
    )*};
}

aes_block_cipher!(Aes128, Aes192, Aes256);
