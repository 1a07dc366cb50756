//! Raw block operations under an admin key, for the card protocol layer (`cardadmin-card`).
//!
//! **Outside the stability promise** (as `aes::hazmat` is for RustCrypto's `aes`): these
//! functions may change or go in any release, and the API snapshot marks them apart.
//!
//! # Why this module exists
//!
//! The card flows (PIV and GIDS mutual authentication, the software card) encrypt and decrypt
//! single blocks under a card's admin key: witnesses, challenges, cryptograms. Those flows live
//! in their own crate, but the key bytes must not leave this one: [`AdminKey`] keeps its key
//! schedule private and wiped on drop, and the constant-time engine is here. So the core lends
//! the two block operations, not the key. A [`MasterKey`](crate::MasterKey) has no such
//! operation at all: the master only ever MACs messages this crate builds (AN10922 inputs, the
//! check-value block), never caller-chosen data.
//!
//! It also names the Triple-DES engine itself ([`TdesEde3`]), for benches and the constant-time
//! check that measure it without an [`AdminKey`] around it.
//!
//! # Caveats
//!
//! ECB on one block is an encryption (or decryption) oracle for whoever chooses the block: a
//! flow that calls these functions on bytes a card or a network peer chose must be designed so
//! that the answer gives nothing away (see `cardadmin-card`'s `auth` module docs for each flow's
//! adversary analysis). Use the flows; do not build protocols on these.
//!
//! ```
//! use cardadmin::{hazmat, AdminKey};
//!
//! let key = AdminKey::from_bytes([0; 24]);
//! let mut block = [0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08];
//! hazmat::encrypt_block(&key, &mut block)?;
//! hazmat::decrypt_block(&key, &mut block)?;
//! assert_eq!(block, [0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08]);
//! assert!(hazmat::encrypt_block(&key, &mut [0u8; 16]).is_err()); // not one 3DES block
//! # Ok::<(), cardadmin::KeyError>(())
//! ```

use crate::error::KeyError;
use crate::key::AdminKey;

/// The crate's constant-time Triple-DES engine (bitsliced, no table lookups on key or data), as
/// its benches and the memcheck check drive it directly; it implements the `cipher` 0.4 block
/// cipher traits.
pub use crate::primitive::TdesEde3;

/// Encrypts exactly one block of the key's cipher in place (ECB, constant time in the key).
///
/// # Errors
///
/// [`KeyError::ChallengeLength`] when `block` is not one block of the key's cipher (8 bytes
/// for Triple-DES, 16 for AES); `block` is then unchanged.
pub fn encrypt_block(key: &AdminKey, block: &mut [u8]) -> Result<(), KeyError> {
    key.encrypt_in_place(block)
}

/// Decrypts exactly one block of the key's cipher in place (ECB, constant time in the key).
///
/// # Errors
///
/// As [`encrypt_block`].
pub fn decrypt_block(key: &AdminKey, block: &mut [u8]) -> Result<(), KeyError> {
    key.decrypt_in_place(block)
}
