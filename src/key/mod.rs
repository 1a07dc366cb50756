//! Admin keys: 3-key Triple-DES or AES, with their key schedules.
//!
//! Base CSP / minidriver cards authenticate their administrator with a 3-key TDES (EDE) key;
//! newer cards (YubiKey firmware 5.7 and later, FIPS models, HID Crescendo) use AES. One
//! [`AdminKey`] type carries its [`Algorithm`], chosen at run time as a card profile chooses it,
//! and never guessed from the key length. It keeps the key bytes and their expanded key schedule
//! together, so a server that answers many challenges with one key pays for the schedule once.
//! Both are wiped when the key is dropped, and the bytes leave the type only through
//! [`AdminKey::expose_secret`] (and, with `alloc`, [`AdminKey::to_base64`]), so every place that
//! handles raw key material is easy to find in review.
//!
//! A key also remembers `E_K(0)` once something has needed it: that block is both the key check
//! value (its first 3 bytes) and the value `L` from which CMAC (NIST SP 800-38B) derives its
//! subkeys, so a master key that diversifies many card keys encrypts it once, not once per
//! CMAC. It is computed lazily, so making a key and answering one challenge (the cold path)
//! costs one key schedule and one block.

mod audit;
mod check_value;
mod text;

use core::fmt;
use core::sync::atomic::{AtomicBool, AtomicU8, Ordering};

use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

pub use audit::{KeyAudit, KeyFinding, WeakKeyError};
pub use check_value::KeyCheckValue;

pub use crate::algorithm::Algorithm;
use crate::challenge::{Challenge, Response};
use crate::error::KeyError;
use crate::primitive::{Cipher, TdesEde3};

/// The longest key of any algorithm (AES-256).
const MAX_KEY_LEN: usize = 32;

/// An admin key: its [`Algorithm`], its bytes and its key schedule.
///
/// A Triple-DES key's bytes are `K1 || K2 || K3`, and one block is `E_K3(D_K2(E_K1(x)))`. The
/// key is zeroized on drop, and `Debug` shows only its algorithm and
/// [check value](AdminKey::check_value).
///
/// ```
/// use cardadmin::{AdminKey, Algorithm, Challenge};
///
/// let key = AdminKey::from_bytes([0u8; 24]);
/// let challenge: Challenge = "1hFD+cz/0so=".parse()?;
/// assert_eq!(key.respond(&challenge)?.to_string(), "F0Zudm4wPLY=");
/// assert_eq!(format!("{key:?}"), "AdminKey { algorithm: Tdes, check_value: 8CA64D }");
///
/// let aes = AdminKey::new(Algorithm::Aes128, &[0u8; 16])?;
/// assert_eq!(aes.check_value().to_string(), "66E94B");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct AdminKey {
    algorithm: Algorithm,
    /// The key bytes, `algorithm.key_len()` of them; the rest stay zero.
    bytes: [u8; MAX_KEY_LEN],
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
            algorithm: self.algorithm,
            bytes: self.bytes,
            cipher: self.cipher.clone(),
            zero_block: self.zero_block.clone(),
        }
    }
}

impl AdminKey {
    /// The length in bytes of a Triple-DES key, what [`AdminKey::from_bytes`],
    /// [`AdminKey::from_slice`] and [`AdminKey::from_hex`] take.
    ///
    /// ```
    /// use cardadmin::AdminKey;
    ///
    /// assert_eq!(AdminKey::LEN, 24);
    /// assert!(AdminKey::from_slice(&[0u8; AdminKey::LEN]).is_ok());
    /// ```
    pub const LEN: usize = 24;

    /// Makes a key for `algorithm` from exactly [`Algorithm::key_len`] bytes.
    ///
    /// The algorithm is never inferred from the length: 24 bytes are a Triple-DES or an
    /// AES-192 key, and answer differently.
    ///
    /// ```
    /// use cardadmin::{AdminKey, Algorithm, KeyError};
    ///
    /// // The YubiKey 5.7 default management key: the old Triple-DES default bytes, as AES-192.
    /// let default = [1, 2, 3, 4, 5, 6, 7, 8].repeat(3);
    /// let key = AdminKey::new(Algorithm::Aes192, &default)?;
    /// assert_eq!(key.algorithm(), Algorithm::Aes192);
    ///
    /// assert_eq!(
    ///     AdminKey::new(Algorithm::Aes128, &default).unwrap_err(),
    ///     KeyError::ByteLength { expected: 16, found: 24 },
    /// );
    /// # Ok::<(), KeyError>(())
    /// ```
    pub fn new(algorithm: Algorithm, bytes: &[u8]) -> Result<Self, KeyError> {
        let mut padded = Zeroizing::new([0u8; MAX_KEY_LEN]);
        let key_len = algorithm.key_len();
        let length_error = KeyError::ByteLength {
            expected: key_len,
            found: bytes.len(),
        };
        if bytes.len() != key_len {
            return Err(length_error);
        }
        padded
            .get_mut(..key_len)
            .ok_or(length_error)?
            .copy_from_slice(bytes);
        Self::from_padded(algorithm, &padded).ok_or(length_error)
    }

    /// Parses a key for `algorithm` from exactly `2 * key_len` hex digits, in either case
    /// (48 for Triple-DES and AES-192, 32 for AES-128, 64 for AES-256).
    ///
    /// Constant time on valid text, like [`AdminKey::from_hex`], whose errors it shares.
    ///
    /// ```
    /// use cardadmin::{AdminKey, Algorithm, KeyError};
    ///
    /// let key = AdminKey::new_hex(Algorithm::Aes128, "00112233445566778899AABBCCDDEEFF")?;
    /// assert_eq!(key.expose_secret()[15], 0xff);
    /// assert_eq!(
    ///     AdminKey::new_hex(Algorithm::Aes256, "0011").unwrap_err(),
    ///     KeyError::HexLength { expected: 64, found: 4 },
    /// );
    /// # Ok::<(), KeyError>(())
    /// ```
    pub fn new_hex(algorithm: Algorithm, text: &str) -> Result<Self, KeyError> {
        let mut padded = Zeroizing::new([0u8; MAX_KEY_LEN]);
        let length_error = KeyError::HexLength {
            expected: 2 * algorithm.key_len(),
            found: text.chars().count(),
        };
        match algorithm.key_len() {
            16 => decode_prefix::<16>(text, &mut padded)?,
            24 => decode_prefix::<24>(text, &mut padded)?,
            _ => decode_prefix::<32>(text, &mut padded)?,
        }
        Self::from_padded(algorithm, &padded).ok_or(length_error)
    }

    /// Makes a Triple-DES key from its 24 bytes, `K1 || K2 || K3`.
    ///
    /// ```
    /// use cardadmin::{AdminKey, Algorithm};
    ///
    /// let key = AdminKey::from_bytes([0x01; 24]);
    /// assert_eq!(key.algorithm(), Algorithm::Tdes);
    /// assert_eq!(key.expose_secret(), &[0x01; 24]);
    /// ```
    pub fn from_bytes(mut bytes: [u8; AdminKey::LEN]) -> Self {
        let key = Self::from_tdes(&bytes);
        // `bytes` is this function's own copy of the caller's array: wipe it too.
        bytes.zeroize();
        key
    }

    pub(crate) fn from_tdes(bytes: &[u8; AdminKey::LEN]) -> Self {
        let mut padded = Zeroizing::new([0u8; MAX_KEY_LEN]);
        for (out, byte) in padded.iter_mut().zip(bytes) {
            *out = *byte;
        }
        Self {
            algorithm: Algorithm::Tdes,
            bytes: *padded,
            cipher: Cipher::Tdes(TdesEde3::new(bytes)),
            zero_block: ZeroBlock::empty(),
        }
    }

    /// The bitwise complement of a Triple-DES key's 24 bytes: the key that DES's complementation
    /// property (`E_~K(~x) = ~E_K(x)`) relates to this one, for the key-role check.
    pub(crate) fn complement(&self) -> Self {
        let mut bytes = Zeroizing::new([0u8; AdminKey::LEN]);
        for (out, byte) in bytes.iter_mut().zip(&self.bytes) {
            *out = !*byte;
        }
        Self::from_tdes(&bytes)
    }

    /// A key from its bytes at the front of `padded`; `None` only if the cipher refuses the
    /// length, which the callers have already checked.
    fn from_padded(algorithm: Algorithm, padded: &[u8; MAX_KEY_LEN]) -> Option<Self> {
        let cipher = Cipher::new(algorithm, padded.get(..algorithm.key_len())?)?;
        Some(Self {
            algorithm,
            bytes: *padded,
            cipher,
            zero_block: ZeroBlock::empty(),
        })
    }

    /// Makes a Triple-DES key from a slice that must hold exactly 24 bytes.
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
        Ok(Self::from_tdes(array))
    }

    /// Parses a Triple-DES key from the 48-hex-digit form that MIM CM profile templates store,
    /// in either case.
    ///
    /// Nothing else is accepted: no spaces, separators or `0x` prefix. An error names the first
    /// offending position but not the character, which belongs to the secret. Valid text is
    /// decoded in constant time (RustCrypto `base16ct`): the one decision taken on it is whether
    /// it is valid.
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
        Ok(Self::from_tdes(&bytes))
    }

    /// The key's algorithm.
    ///
    /// ```
    /// use cardadmin::{AdminKey, Algorithm};
    ///
    /// assert_eq!(AdminKey::from_bytes([0; 24]).algorithm(), Algorithm::Tdes);
    /// ```
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// The raw key bytes ([`Algorithm::key_len`] of them). This is the only way to them: grep
    /// for it to audit key handling.
    ///
    /// ```
    /// use cardadmin::AdminKey;
    ///
    /// assert_eq!(AdminKey::from_bytes([7; 24]).expose_secret(), &[7; 24]);
    /// ```
    pub fn expose_secret(&self) -> &[u8] {
        let len = self.algorithm.key_len();
        self.bytes.get(..len).unwrap_or(&self.bytes)
    }

    /// The standard base64 of the key bytes (32 characters for a 24-byte key): the body of
    /// MIM CM's `diversifiedkey` endpoint. Encoded in constant time (RustCrypto `base64ct`);
    /// the string is zeroized when dropped.
    ///
    /// ```
    /// use cardadmin::AdminKey;
    ///
    /// let key = AdminKey::from_bytes([0u8; 24]);
    /// assert_eq!(key.to_base64().as_str(), "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
    /// ```
    #[cfg(feature = "alloc")]
    pub fn to_base64(&self) -> Zeroizing<alloc::string::String> {
        text::encode_base64(self.expose_secret())
    }

    /// The key check value: the first 3 bytes of the key's encryption of an all-zero block
    /// (8 bytes for Triple-DES, 16 for AES). It identifies a key in logs and key ceremonies
    /// without revealing it, but it is not nothing: it confirms a guessed key (so it names a
    /// default or low-entropy key), and `E_K(0)` is CMAC's `L`, so it is the first 3 bytes of
    /// the `L` this key's CMACs (AN10922 diversification) derive their subkeys from. See
    /// [`KeyCheckValue`].
    ///
    /// ```
    /// use cardadmin::{AdminKey, Algorithm};
    ///
    /// let kcv = AdminKey::from_bytes([0u8; 24]).check_value();
    /// assert_eq!(kcv.to_string(), "8CA64D");
    /// assert_eq!(kcv.as_bytes(), &[0x8c, 0xa6, 0x4d]);
    /// let aes = AdminKey::new(Algorithm::Aes128, &[0u8; 16])?;
    /// assert_eq!(aes.check_value().to_string(), "66E94B");
    /// # Ok::<(), cardadmin::KeyError>(())
    /// ```
    pub fn check_value(&self) -> KeyCheckValue {
        let block = self.zero_block();
        let [a, b, c, ..] = *block;
        KeyCheckValue([a, b, c])
    }

    /// Answers a card's admin challenge: the ECB encryption of its one block under the key.
    ///
    /// The challenge must be one block of the key's cipher: 8 bytes for Triple-DES, 16 for
    /// AES; anything else is a [`KeyError::ChallengeLength`] that names both.
    ///
    /// ```
    /// use cardadmin::{AdminKey, Algorithm, Challenge, KeyError};
    ///
    /// // MIM CM REST API documentation, "Get smart card authentication response".
    /// let key = AdminKey::from_bytes([0u8; 24]);
    /// let response = key.respond(&Challenge::from_base64("1hFD+cz/0so=")?)?;
    /// assert_eq!(response.to_string(), "F0Zudm4wPLY=");
    ///
    /// let aes = AdminKey::new(Algorithm::Aes128, &[0u8; 16])?;
    /// assert_eq!(
    ///     aes.respond(&Challenge::from_bytes([0; 8])).unwrap_err(),
    ///     KeyError::ChallengeLength { algorithm: Algorithm::Aes128, expected: 16, found: 8 },
    /// );
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn respond(&self, challenge: &Challenge) -> Result<Response, KeyError> {
        let mut block = [0u8; MAX_BLOCK_LEN];
        let len = challenge.as_bytes().len();
        let one_block = block
            .get_mut(..len)
            .ok_or(self.challenge_length_error(len))?;
        one_block.copy_from_slice(challenge.as_bytes());
        self.cipher
            .encrypt(one_block)
            .map_err(|_| self.challenge_length_error(len))?;
        Response::from_slice(one_block).map_err(|_| self.challenge_length_error(len))
    }

    fn challenge_length_error(&self, found: usize) -> KeyError {
        KeyError::ChallengeLength {
            algorithm: self.algorithm,
            expected: self.algorithm.block_len(),
            found,
        }
    }

    /// Checks a response to a challenge in constant time (in the response bytes). A challenge
    /// or response that is not one block of the key's cipher is simply not a match.
    ///
    /// ```
    /// use cardadmin::{AdminKey, Challenge, Response};
    ///
    /// let key = AdminKey::from_bytes([0u8; 24]);
    /// let challenge = Challenge::from_bytes(*b"8 bytes!");
    /// assert!(key.verify(&challenge, &key.respond(&challenge)?));
    /// assert!(!key.verify(&challenge, &Response::from_bytes([0; 8])));
    /// # Ok::<(), cardadmin::KeyError>(())
    /// ```
    #[must_use]
    pub fn verify(&self, challenge: &Challenge, response: &Response) -> bool {
        match self.respond(challenge) {
            // Lengths are public; only the bytes are compared in constant time.
            Ok(expected) => expected == *response,
            Err(_) => false,
        }
    }

    /// Reports weak, degenerate and well-known-default keys. See [`KeyAudit`].
    ///
    /// ```
    /// use cardadmin::AdminKey;
    ///
    /// assert!(!AdminKey::from_bytes([0u8; 24]).audit().is_clean());
    /// ```
    pub fn audit(&self) -> KeyAudit {
        match self.algorithm {
            Algorithm::Tdes => {
                let mut bytes = Zeroizing::new([0u8; AdminKey::LEN]);
                for (out, byte) in bytes.iter_mut().zip(&self.bytes) {
                    *out = *byte;
                }
                KeyAudit::of_tdes(&bytes)
            }
            Algorithm::Aes128 | Algorithm::Aes192 | Algorithm::Aes256 => {
                KeyAudit::of_aes(self.expose_secret())
            }
        }
    }

    /// Encrypts one block of the key's cipher in place (ECB), for the card flows. A `block`
    /// that is not exactly one block long is a [`KeyError::ChallengeLength`].
    pub(crate) fn encrypt_in_place(&self, block: &mut [u8]) -> Result<(), KeyError> {
        let len = block.len();
        self.cipher
            .encrypt(block)
            .map_err(|_| self.challenge_length_error(len))
    }

    /// Decrypts one block of the key's cipher in place (ECB); errors as
    /// [`AdminKey::encrypt_in_place`].
    pub(crate) fn decrypt_in_place(&self, block: &mut [u8]) -> Result<(), KeyError> {
        let len = block.len();
        self.cipher
            .decrypt(block)
            .map_err(|_| self.challenge_length_error(len))
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
}

/// Decodes `2 * N` hex digits into the first `N` bytes of `out`.
fn decode_prefix<const N: usize>(text: &str, out: &mut [u8; MAX_KEY_LEN]) -> Result<(), KeyError> {
    let mut bytes = Zeroizing::new([0u8; N]);
    text::decode_hex(text, &mut bytes)?;
    out.iter_mut()
        .zip(bytes.iter())
        .for_each(|(out, byte)| *out = *byte);
    Ok(())
}

impl Drop for AdminKey {
    fn drop(&mut self) {
        // The cipher's schedule wipes itself (asserted at compile time above).
        self.bytes.zeroize();
        self.zero_block.zeroize();
    }
}

/// The longest block of any of the crate's ciphers (AES).
const MAX_BLOCK_LEN: usize = 16;
/// Room for one block of any of the crate's ciphers.
const ZERO_BLOCK_LEN: usize = MAX_BLOCK_LEN;

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
            .field("algorithm", &self.algorithm)
            .field("check_value", &format_args!("{}", self.check_value()))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::{AdminKey, ZeroBlock};

    /// E_K(0) for the all-zero key: single DES under key 0 (8CA64DE9C1B123A7), in the cache's
    /// room for one block of any cipher.
    const ZERO_KEY_ZERO_BLOCK: [u8; 16] = [
        0x8c, 0xa6, 0x4d, 0xe9, 0xc1, 0xb1, 0x23, 0xa7, 0, 0, 0, 0, 0, 0, 0, 0,
    ];

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
