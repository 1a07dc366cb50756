//! The 24-byte 3-key Triple-DES admin key.
//!
//! Base CSP / minidriver cards authenticate their administrator with a 3-key TDES (EDE) key.
//! [`AdminKey`] keeps the key bytes and their expanded key schedule together, so a server that
//! answers many challenges with one key pays for the schedule once. Both are wiped when the key
//! is dropped, and the bytes leave the type only through [`AdminKey::expose_secret`] (and, with
//! `alloc`, [`AdminKey::to_base64`]), so every place that handles raw key material is easy to
//! find in review.
//!
//! A key also remembers `E_K(0)` once something has needed it: that block is both the key check
//! value (its first 3 bytes) and the value `L` from which CMAC (NIST SP 800-38B) derives its
//! subkeys, so a master key that diversifies many card keys encrypts it once, not once per
//! CMAC. It is computed lazily, so making a key and answering one challenge (the cold path)
//! costs no more than the raw `des` crate doing the same.

mod audit;
mod check_value;
mod text;

use core::fmt;
use core::sync::atomic::{AtomicBool, AtomicU8, Ordering};

use subtle::ConstantTimeEq;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

pub use audit::{KeyAudit, KeyFinding};
pub use check_value::KeyCheckValue;

use crate::challenge::{Challenge, Response};
use crate::error::KeyError;
use crate::primitive::{Cipher, TdesEde3};

/// A 24-byte 3-key Triple-DES (EDE) admin key, with its key schedule.
///
/// The bytes are `K1 || K2 || K3`; one block is `E_K3(D_K2(E_K1(x)))`. The key is zeroized on
/// drop, and `Debug` shows only its [check value](AdminKey::check_value).
///
/// ```
/// use cardadmin::{AdminKey, Challenge};
///
/// let key = AdminKey::from_bytes([0u8; 24]);
/// let challenge: Challenge = "1hFD+cz/0so=".parse()?;
/// assert_eq!(key.respond(&challenge).to_string(), "F0Zudm4wPLY=");
/// assert_eq!(format!("{key:?}"), "AdminKey { check_value: 8CA64D }");
/// # Ok::<(), cardadmin::ParseError>(())
/// ```
pub struct AdminKey {
    bytes: [u8; AdminKey::LEN],
    cipher: Cipher,
    zero_block: ZeroBlock,
}

// Fails to compile if a part of the key stops wiping itself on drop (the engine's schedule, for
// instance), rather than leaving it to a test to notice.
const _: () = {
    const fn wipes_on_drop<T: ZeroizeOnDrop>() {}
    wipes_on_drop::<AdminKey>();
    wipes_on_drop::<TdesEde3>();
};

impl Clone for AdminKey {
    fn clone(&self) -> Self {
        Self {
            bytes: self.bytes,
            cipher: self.cipher.clone(),
            zero_block: self.zero_block.clone(),
        }
    }
}

impl AdminKey {
    /// The key length in bytes.
    ///
    /// ```
    /// use cardadmin::AdminKey;
    ///
    /// assert_eq!(AdminKey::LEN, 24);
    /// assert!(AdminKey::from_slice(&[0u8; AdminKey::LEN]).is_ok());
    /// ```
    pub const LEN: usize = 24;

    /// Makes a key from its 24 bytes, `K1 || K2 || K3`.
    ///
    /// ```
    /// use cardadmin::AdminKey;
    ///
    /// let key = AdminKey::from_bytes([0x01; 24]);
    /// assert_eq!(key.expose_secret(), &[0x01; 24]);
    /// ```
    pub fn from_bytes(mut bytes: [u8; AdminKey::LEN]) -> Self {
        let key = Self::from_array(&bytes);
        // `bytes` is this function's own copy of the caller's array: wipe it too.
        bytes.zeroize();
        key
    }

    fn from_array(bytes: &[u8; AdminKey::LEN]) -> Self {
        Self {
            bytes: *bytes,
            cipher: Cipher::Tdes(TdesEde3::new(bytes)),
            zero_block: ZeroBlock::empty(),
        }
    }

    /// Makes a key from a slice that must hold exactly 24 bytes.
    ///
    /// ```
    /// use cardadmin::{AdminKey, KeyError};
    ///
    /// assert!(AdminKey::from_slice(&[0u8; 24]).is_ok());
    /// assert_eq!(
    ///     AdminKey::from_slice(&[0u8; 16]).unwrap_err(),
    ///     KeyError::ByteLength { expected: 24, found: 16 },
    /// );
    /// ```
    pub fn from_slice(bytes: &[u8]) -> Result<Self, KeyError> {
        let array: &[u8; AdminKey::LEN] = bytes.try_into().map_err(|_| KeyError::ByteLength {
            expected: AdminKey::LEN,
            found: bytes.len(),
        })?;
        Ok(Self::from_array(array))
    }

    /// Parses the 48-hex-digit form that MIM CM profile templates store, in either case.
    ///
    /// Nothing else is accepted: no spaces, separators or `0x` prefix. An error names the first
    /// offending position but not the character, which belongs to the secret.
    ///
    /// ```
    /// use cardadmin::{AdminKey, KeyError};
    ///
    /// let key = AdminKey::from_hex("010203040506070801020304050607080102030405060708")?;
    /// assert_eq!(key.expose_secret()[..3], [1, 2, 3]);
    ///
    /// let typo = "01020304050607080102030405060708010203040506070g";
    /// assert_eq!(AdminKey::from_hex(typo).unwrap_err(), KeyError::NotHex { position: 47 });
    /// # Ok::<(), KeyError>(())
    /// ```
    pub fn from_hex(text: &str) -> Result<Self, KeyError> {
        let mut bytes = Zeroizing::new([0u8; AdminKey::LEN]);
        text::decode_hex(text, &mut bytes)?;
        Ok(Self::from_array(&bytes))
    }

    /// The raw key bytes. This is the only way to them: grep for it to audit key handling.
    ///
    /// ```
    /// use cardadmin::AdminKey;
    ///
    /// assert_eq!(AdminKey::from_bytes([7; 24]).expose_secret(), &[7; 24]);
    /// ```
    pub fn expose_secret(&self) -> &[u8; AdminKey::LEN] {
        &self.bytes
    }

    /// The standard base64 of the 24 key bytes (32 characters): the body of MIM CM's
    /// `diversifiedkey` endpoint. The string is zeroized when dropped.
    ///
    /// ```
    /// use cardadmin::AdminKey;
    ///
    /// let key = AdminKey::from_bytes([0u8; 24]);
    /// assert_eq!(key.to_base64().as_str(), "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
    /// ```
    #[cfg(feature = "alloc")]
    pub fn to_base64(&self) -> Zeroizing<alloc::string::String> {
        text::encode_base64(&self.bytes)
    }

    /// The key check value: the first 3 bytes of the key's encryption of an all-zero block.
    /// It identifies a key in logs and key ceremonies without revealing it.
    ///
    /// ```
    /// use cardadmin::AdminKey;
    ///
    /// let kcv = AdminKey::from_bytes([0u8; 24]).check_value();
    /// assert_eq!(kcv.to_string(), "8CA64D");
    /// assert_eq!(kcv.as_bytes(), &[0x8c, 0xa6, 0x4d]);
    /// ```
    pub fn check_value(&self) -> KeyCheckValue {
        let block = self.zero_block();
        let [a, b, c, ..] = *block;
        KeyCheckValue([a, b, c])
    }

    /// Answers a card's admin challenge: 3DES-EDE ECB encryption of its 8 bytes.
    ///
    /// ```
    /// use cardadmin::{AdminKey, Challenge};
    ///
    /// // MIM CM REST API documentation, "Get smart card authentication response".
    /// let key = AdminKey::from_bytes([0u8; 24]);
    /// let response = key.respond(&Challenge::from_base64("1hFD+cz/0so=")?);
    /// assert_eq!(response.to_string(), "F0Zudm4wPLY=");
    /// # Ok::<(), cardadmin::ParseError>(())
    /// ```
    pub fn respond(&self, challenge: &Challenge) -> Response {
        Response::from_bytes(self.encrypt_block(*challenge.as_bytes()))
    }

    /// Checks a response to a challenge in constant time (in the response bytes).
    ///
    /// ```
    /// use cardadmin::{AdminKey, Challenge, Response};
    ///
    /// let key = AdminKey::from_bytes([0u8; 24]);
    /// let challenge = Challenge::from_bytes(*b"8 bytes!");
    /// assert!(key.verify(&challenge, &key.respond(&challenge)));
    /// assert!(!key.verify(&challenge, &Response::from_bytes([0; 8])));
    /// ```
    #[must_use]
    pub fn verify(&self, challenge: &Challenge, response: &Response) -> bool {
        let expected = self.encrypt_block(*challenge.as_bytes());
        expected.ct_eq(response.as_bytes()).into()
    }

    /// Reports weak, degenerate and well-known-default keys. See [`KeyAudit`].
    ///
    /// ```
    /// use cardadmin::AdminKey;
    ///
    /// assert!(!AdminKey::from_bytes([0u8; 24]).audit().is_clean());
    /// ```
    pub fn audit(&self) -> KeyAudit {
        KeyAudit::of_tdes(&self.bytes)
    }

    /// The key's cipher, for the constructions built on it (CMAC, diversification).
    pub(crate) fn cipher(&self) -> &Cipher {
        &self.cipher
    }

    /// `E_K(0)`: the key check value's source and CMAC's `L`. Encrypted on first use, then
    /// read from the cache; wiped when the caller drops it.
    pub(crate) fn zero_block(&self) -> Zeroizing<[u8; ZERO_BLOCK_LEN]> {
        if let Some(block) = self.zero_block.get() {
            return block;
        }
        let mut block = Zeroizing::new([0u8; ZERO_BLOCK_LEN]);
        if let Some(one_block) = block.get_mut(..self.cipher.block_len()) {
            // Cannot fail: the slice is one block long.
            let _ = self.cipher.encrypt(one_block);
        }
        self.zero_block.set(&block);
        block
    }

    /// The first `N` bytes of [`AdminKey::zero_block`]: `L` for a cipher with `N`-byte blocks.
    pub(crate) fn zero_block_of<const N: usize>(&self) -> Zeroizing<[u8; N]> {
        let block = self.zero_block();
        let mut out = Zeroizing::new([0u8; N]);
        out.iter_mut()
            .zip(block.iter())
            .for_each(|(out, byte)| *out = *byte);
        out
    }

    fn encrypt_block(&self, input: [u8; 8]) -> [u8; 8] {
        let mut block = input;
        // Cannot fail: a Triple-DES key and an 8-byte block.
        let _ = self.cipher.encrypt(&mut block);
        block
    }
}

impl Drop for AdminKey {
    fn drop(&mut self) {
        // The cipher's schedule wipes itself (asserted at compile time above).
        self.bytes.zeroize();
        self.zero_block.zeroize();
    }
}

/// Room for one block of any of the crate's ciphers.
const ZERO_BLOCK_LEN: usize = 8;

/// A lazily filled copy of `E_K(0)`.
///
/// Atomics rather than a cell so that `AdminKey` stays `Send + Sync` with no lock and no
/// `unsafe`: the bytes are stored (relaxed) before `ready` is set (release), and read (relaxed)
/// only after `ready` is seen (acquire). Two threads that race to fill it store the same bytes,
/// so a reader can never see a mix of two different values. Only byte-wide atomic loads and
/// stores are used, no compare-and-swap.
struct ZeroBlock {
    ready: AtomicBool,
    bytes: [AtomicU8; ZERO_BLOCK_LEN],
}

impl ZeroBlock {
    fn empty() -> Self {
        Self {
            ready: AtomicBool::new(false),
            bytes: [0u8; ZERO_BLOCK_LEN].map(AtomicU8::new),
        }
    }

    fn get(&self) -> Option<Zeroizing<[u8; ZERO_BLOCK_LEN]>> {
        self.ready.load(Ordering::Acquire).then(|| {
            let mut block = Zeroizing::new([0u8; ZERO_BLOCK_LEN]);
            for (out, cached) in block.iter_mut().zip(&self.bytes) {
                *out = cached.load(Ordering::Relaxed);
            }
            block
        })
    }

    fn set(&self, block: &[u8; ZERO_BLOCK_LEN]) {
        for (cached, &byte) in self.bytes.iter().zip(block) {
            cached.store(byte, Ordering::Relaxed);
        }
        self.ready.store(true, Ordering::Release);
    }

    fn zeroize(&mut self) {
        // Whether it was filled is public (it says only whether a check value or CMAC was
        // asked for); a cache never filled holds nothing to wipe.
        if *self.ready.get_mut() {
            self.bytes
                .iter_mut()
                .for_each(|byte| byte.get_mut().zeroize());
            *self.ready.get_mut() = false;
        }
    }
}

impl Clone for ZeroBlock {
    fn clone(&self) -> Self {
        let copy = Self::empty();
        if let Some(block) = self.get() {
            copy.set(&block);
        }
        copy
    }
}

impl ZeroizeOnDrop for AdminKey {}

impl fmt::Debug for AdminKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AdminKey")
            .field("check_value", &format_args!("{}", self.check_value()))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::{AdminKey, ZeroBlock};

    /// E_K(0) for the all-zero key: single DES under key 0 (8CA64DE9C1B123A7).
    const ZERO_KEY_ZERO_BLOCK: [u8; 8] = [0x8c, 0xa6, 0x4d, 0xe9, 0xc1, 0xb1, 0x23, 0xa7];

    #[test]
    fn zero_block_is_computed_lazily_then_kept() {
        let key = AdminKey::from_bytes([0; 24]);
        // The cold path (make a key, answer one challenge) must not pay for it.
        assert_eq!(key.zero_block.get().as_deref(), None);
        assert_eq!(*key.zero_block(), ZERO_KEY_ZERO_BLOCK);
        assert_eq!(key.zero_block.get().as_deref(), Some(&ZERO_KEY_ZERO_BLOCK));
        // A clone carries the cached block; a clone of a cold key stays cold.
        assert_eq!(
            key.clone().zero_block.get().as_deref(),
            Some(&ZERO_KEY_ZERO_BLOCK)
        );
        assert_eq!(
            AdminKey::from_bytes([0; 24])
                .clone()
                .zero_block
                .get()
                .as_deref(),
            None
        );
    }

    #[test]
    fn zeroize_wipes_the_cached_block() {
        let mut block = ZeroBlock::empty();
        block.set(&ZERO_KEY_ZERO_BLOCK);
        block.zeroize();
        assert_eq!(block.get().as_deref(), None);
        assert!(block.bytes.iter_mut().all(|byte| *byte.get_mut() == 0));
    }
}
