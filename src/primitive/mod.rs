//! The block ciphers, and the constructions built directly on them.
//!
//! This is the only module that names a cipher implementation. The rest of the crate sees a
//! block cipher through `BlockCipher` (encrypt or decrypt blocks of `N` bytes in place) and an
//! admin key's cipher through `Cipher`, which dispatches at run time, because a profile picks
//! its algorithm at run time. Adding a cipher means adding a file here and a variant to
//! `Cipher`; key handling, diversification and the MIM CM facade do not change.
//!
//! [`TdesEde3`] is the crate's own constant-time 3-key Triple-DES engine: table-free and
//! branch-free, in the key schedule as in encryption and decryption (its module docs explain
//! the design). AES comes from RustCrypto's `aes` crate, which is constant time too.
//!
//! Every type here holds or handles key material, and is written to run in constant time: see
//! the crate documentation's "Constant-time caveats" for what that covers and how it is checked.

mod aes;
mod cmac;
pub(crate) mod des_key;
mod fips46;
mod tdes;

use self::aes::{Aes128, Aes192, Aes256};

pub(crate) use cmac::{cmac_lanes, Padding, Subkeys};
pub use tdes::TdesEde3;

use crate::algorithm::Algorithm;

/// A block cipher with `N`-byte blocks, as the crate uses it. Crate-private, so sealed.
pub(crate) trait BlockCipher<const N: usize> {
    /// Encrypts one block in place.
    fn encrypt_one(&self, block: &mut [u8; N]);
    /// Decrypts one block in place.
    fn decrypt_one(&self, block: &mut [u8; N]);
    /// Encrypts independent blocks in place (ECB); an engine may interleave them. Required:
    /// each engine has its own way (three Triple-DES blocks interleaved, AES in batches).
    fn encrypt_blocks(&self, blocks: &mut [[u8; N]]);
}

impl BlockCipher<8> for TdesEde3 {
    fn encrypt_one(&self, block: &mut [u8; 8]) {
        self.encrypt_block(block);
    }

    fn decrypt_one(&self, block: &mut [u8; 8]) {
        self.decrypt_block(block);
    }

    fn encrypt_blocks(&self, blocks: &mut [[u8; 8]]) {
        TdesEde3::encrypt_blocks(self, blocks);
    }
}

/// An admin key's cipher, chosen at run time.
#[derive(Clone)]
pub(crate) enum Cipher {
    /// 3-key Triple-DES (EDE), the crate's constant-time engine.
    Tdes(TdesEde3),
    /// AES-128, from the `aes` crate.
    Aes128(Aes128),
    /// AES-192, from the `aes` crate.
    Aes192(Aes192),
    /// AES-256, from the `aes` crate.
    Aes256(Aes256),
}

// Every cipher's key schedule must wipe itself on drop; this fails to compile otherwise.
const _: () = {
    const fn wipes_on_drop<T: zeroize::ZeroizeOnDrop>() {}
    wipes_on_drop::<TdesEde3>();
    wipes_on_drop::<Aes128>();
    wipes_on_drop::<Aes192>();
    wipes_on_drop::<Aes256>();
};

impl Cipher {
    /// The key schedule for `algorithm`, from a key of exactly its length (checked by the
    /// caller; `None` otherwise).
    pub(crate) fn new(algorithm: Algorithm, key: &[u8]) -> Option<Self> {
        use cipher::KeyInit;
        Some(match algorithm {
            Algorithm::Tdes => Self::Tdes(TdesEde3::new(key.try_into().ok()?)),
            Algorithm::Aes128 => Self::Aes128(Aes128::new_from_slice(key).ok()?),
            Algorithm::Aes192 => Self::Aes192(Aes192::new_from_slice(key).ok()?),
            Algorithm::Aes256 => Self::Aes256(Aes256::new_from_slice(key).ok()?),
        })
    }

    /// The cipher's block length in bytes.
    pub(crate) fn block_len(&self) -> usize {
        match self {
            Self::Tdes(_) => 8,
            Self::Aes128(_) | Self::Aes192(_) | Self::Aes256(_) => 16,
        }
    }

    /// Encrypts one block in place. `Err` carries the cipher's block length when `block` is not
    /// exactly one block (the length is public: it comes from the caller's data, not the key).
    pub(crate) fn encrypt(&self, block: &mut [u8]) -> Result<(), usize> {
        match self {
            Self::Tdes(cipher) => one_block(block).map(|block| cipher.encrypt_one(block)),
            Self::Aes128(cipher) => one_block(block).map(|block| cipher.encrypt_one(block)),
            Self::Aes192(cipher) => one_block(block).map(|block| cipher.encrypt_one(block)),
            Self::Aes256(cipher) => one_block(block).map(|block| cipher.encrypt_one(block)),
        }
    }

    /// Decrypts one block in place; `Err` as for [`Cipher::encrypt`].
    pub(crate) fn decrypt(&self, block: &mut [u8]) -> Result<(), usize> {
        match self {
            Self::Tdes(cipher) => one_block(block).map(|block| cipher.decrypt_one(block)),
            Self::Aes128(cipher) => one_block(block).map(|block| cipher.decrypt_one(block)),
            Self::Aes192(cipher) => one_block(block).map(|block| cipher.decrypt_one(block)),
            Self::Aes256(cipher) => one_block(block).map(|block| cipher.decrypt_one(block)),
        }
    }
}

fn one_block<const N: usize>(block: &mut [u8]) -> Result<&mut [u8; N], usize> {
    block.try_into().map_err(|_| N)
}
