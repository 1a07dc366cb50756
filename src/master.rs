//! Master (diversification) keys: a key that derives card keys and does nothing else.
//!
//! A server holds two kinds of admin key, in two roles (MIM CM's profile template keeps them
//! apart too: the "admin key initial value" and the diversification secret):
//!
//! - an **initial admin key**, what blank cards ship with, and each card's **derived key**:
//!   both answer challenges, so both are [`AdminKey`]s (`respond`, `verify`);
//! - the **master key**, which derives every card's key (NXP AN10922) and must never answer a
//!   challenge: a key that encrypts caller-chosen blocks is an oracle, and `E_MK(0)` alone is
//!   CMAC's `L`, from which an outsider computes CMAC under the master, and so every card's key.
//!
//! A [`MasterKey`] therefore has no `respond`, `verify`, `encrypt`, `decrypt`,
//! `expose_secret` or `to_base64`: it derives ([`MasterKey::diversify`]), gives its check
//! value ([`MasterKey::check_value`]) and is audited ([`MasterKey::audit`]). An [`AdminKey`]
//! has no derivation. No key does both, and the type system says which is which.
//!
//! # Key stores
//!
//! A master key can also live in a key store that computes CMAC for the crate and never hands
//! the key out (an HSM over PKCS#11): implement [`CmacSigner`] and derive with
//! [`diversify`] / [`diversify_input`]. The AN10922 input construction and the fold of the
//! tags into a key are the same code for both (written once, in the crate's `kdf` module);
//! only who computes the CMAC differs. A key store is only ever handed [`CmacMessage`]s, which
//! only this crate builds: AN10922 inputs (`constant ‖ M`) and the check-value block. So a key
//! store behind this trait is never an oracle on caller data, and a server that wraps one
//! cannot be turned into one.
//!
//! # Check values
//!
//! Two methods, one per role:
//!
//! | key | method | why |
//! |---|---|---|
//! | [`AdminKey::check_value`] | first 3 bytes of `E_K(0^block)` (the legacy method, PKCS#11's `CKA_CHECK_VALUE`) | what card tools and MIM CM consoles show for an admin key |
//! | [`MasterKey::check_value`], [`check_value`] | first 3 bytes of `CMAC(K, 0^block)`, ANSI X9.24-1:2017's CMAC method | a master key may only MAC: in a key store it has no encrypt permission, and `E_K(0)` is CMAC's secret `L` |
//!
//! So the same bytes give different check values in the two roles; the all-zero Triple-DES
//! key is `8CA64D` as an admin key and `DD1BF6` as a master key.

use core::convert::Infallible;
use core::fmt;

use zeroize::{ZeroizeOnDrop, Zeroizing};

use crate::algorithm::Algorithm;
use crate::card_id::CardId;
use crate::error::KeyError;
use crate::kdf::an10922;
use crate::kdf::DesParity;
use crate::key::{AdminKey, KeyAudit, KeyCheckValue};
pub use crate::signer::{CmacMessage, CmacSigner, DiversifyError};

/// An in-memory diversification master key: derives card keys (NXP AN10922), gives its check
/// value, is audited. It cannot answer a challenge, encrypt or decrypt, and its bytes never
/// leave it.
///
/// `Debug` shows only the algorithm and the [check value](MasterKey::check_value); the key and
/// its schedule are zeroized on drop.
///
/// ```
/// use cardadmin::{Algorithm, CardId, MasterKey};
///
/// let master = MasterKey::from_hex("00112233445566778899aabbccddeeff0102030405060708")?;
/// let card: CardId = "bc88f13f-83ba-4037-8262-46eba1291c6e".parse()?;
/// let card_key = master.diversify(&card); // an AdminKey: it answers the card's challenges
/// assert_eq!(card_key.algorithm(), Algorithm::Tdes);
/// assert!(card_key.audit().has_odd_parity());
/// assert_eq!(format!("{master:?}").contains("check_value"), true);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct MasterKey {
    /// The key and its schedule. Only the derivation, the CMAC and the audit read it: nothing
    /// here encrypts a caller's block or shows the bytes.
    key: AdminKey,
}

// Fails to compile if the master key stops wiping itself on drop.
const _: () = {
    const fn wipes_on_drop<T: ZeroizeOnDrop>() {}
    wipes_on_drop::<MasterKey>();
};

impl ZeroizeOnDrop for MasterKey {}

impl MasterKey {
    /// Makes a master key for `algorithm` from exactly [`Algorithm::key_len`] bytes (never
    /// inferred from the length).
    ///
    /// ```
    /// use cardadmin::{Algorithm, KeyError, MasterKey};
    ///
    /// let master = MasterKey::new(Algorithm::Aes128, &[0x2b; 16])?;
    /// assert_eq!(master.algorithm(), Algorithm::Aes128);
    /// assert_eq!(
    ///     MasterKey::new(Algorithm::Aes256, &[0; 16]).unwrap_err(),
    ///     KeyError::ByteLength { expected: 32, found: 16 },
    /// );
    /// # Ok::<(), KeyError>(())
    /// ```
    pub fn new(algorithm: Algorithm, bytes: &[u8]) -> Result<Self, KeyError> {
        AdminKey::new(algorithm, bytes).map(|key| Self { key })
    }

    /// Parses a master key for `algorithm` from exactly `2 * key_len` hex digits, in either
    /// case; errors and constant-time decoding as [`AdminKey::new_hex`].
    ///
    /// ```
    /// use cardadmin::{Algorithm, MasterKey};
    ///
    /// let master = MasterKey::new_hex(Algorithm::Aes128, "00112233445566778899AABBCCDDEEFF")?;
    /// assert_eq!(master.algorithm(), Algorithm::Aes128);
    /// # Ok::<(), cardadmin::KeyError>(())
    /// ```
    pub fn new_hex(algorithm: Algorithm, text: &str) -> Result<Self, KeyError> {
        AdminKey::new_hex(algorithm, text).map(|key| Self { key })
    }

    /// Parses a Triple-DES master key from 48 hex digits, the form MIM CM profile templates
    /// store; errors as [`AdminKey::from_hex`].
    ///
    /// ```
    /// use cardadmin::{Algorithm, KeyError, MasterKey};
    ///
    /// let master = MasterKey::from_hex("00112233445566778899AABBCCDDEEFF0102030405060708")?;
    /// assert_eq!(master.algorithm(), Algorithm::Tdes);
    /// assert_eq!(
    ///     MasterKey::from_hex("0011").unwrap_err(),
    ///     KeyError::HexLength { expected: 48, found: 4 },
    /// );
    /// # Ok::<(), KeyError>(())
    /// ```
    pub fn from_hex(text: &str) -> Result<Self, KeyError> {
        AdminKey::from_hex(text).map(|key| Self { key })
    }

    /// The master key's algorithm, which is also every derived key's.
    ///
    /// ```
    /// use cardadmin::{Algorithm, MasterKey};
    ///
    /// let master = MasterKey::new(Algorithm::Aes192, &[9; 24])?;
    /// assert_eq!(master.algorithm(), Algorithm::Aes192);
    /// # Ok::<(), cardadmin::KeyError>(())
    /// ```
    pub fn algorithm(&self) -> Algorithm {
        self.key.algorithm()
    }

    /// Derives a card's own admin key from the master key and the card's ID (NXP AN10922, the
    /// master key's algorithm; see the table at [`MasterKey::diversify_input`]).
    ///
    /// For a Triple-DES master key:
    /// `diversified = odd_parity(CMAC(MK, 0x31 || ID) || CMAC(MK, 0x32 || ID) || CMAC(MK, 0x33 || ID))`
    /// with `ID` the 16 bytes of [`CardId::as_bytes`]. Each message `0x3n || ID` is 17 bytes,
    /// past AN10922's 15-byte limit for 3TDEA, which other AN10922 implementations refuse
    /// (libfreefare fails with `EOVERFLOW`). This crate's own extension of AN10922 takes over:
    /// plain SP 800-38B CMAC of the 17 bytes (two full blocks, then the last ID byte padded
    /// with `80 00 ..` and masked with CMAC's `K2`). Neither AN10922 nor MIM CM defines this;
    /// a key derived elsewhere matches only if it made the same choice. With an AES master the
    /// 17-byte message is within AN10922's 31-byte limit: plain AN10922.
    ///
    /// ```
    /// use cardadmin::{Algorithm, CardId, MasterKey};
    ///
    /// let master = MasterKey::from_hex("00112233445566778899aabbccddeeff0102030405060708")?;
    /// let card: CardId = "bc88f13f-83ba-4037-8262-46eba1291c6e".parse()?;
    /// let card_key = master.diversify(&card);
    /// assert!(card_key.audit().has_odd_parity());
    /// assert_eq!(card_key.expose_secret(), master.diversify(&card).expose_secret());
    ///
    /// let aes_master = MasterKey::new(Algorithm::Aes256, &[7; 32])?;
    /// assert_eq!(aes_master.diversify(&card).algorithm(), Algorithm::Aes256);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn diversify(&self, card_id: &CardId) -> AdminKey {
        an10922::derive_in_memory(&self.key, card_id.as_bytes(), DesParity::Odd)
    }

    /// The same derivation over any input `M` of 1 to 64 bytes, for schemes that diversify
    /// over something other than the 16-byte card ID (AN10922 itself uses UID, AID and system
    /// identifier). Triple-DES keys get odd parity, like [`MasterKey::diversify`].
    ///
    /// | algorithm | derived key |
    /// |---|---|
    /// | 3DES (3TDEA) | `CMAC(K, 31 ‖ M) ‖ CMAC(K, 32 ‖ M) ‖ CMAC(K, 33 ‖ M)`, odd parity |
    /// | AES-128 | `CMAC(K, 01 ‖ M)` |
    /// | AES-192 | `A[0..8] ‖ (A[8..16] ⊕ B[0..8]) ‖ B[8..16]`, `A = CMAC(K, 11 ‖ M)`, `B = CMAC(K, 12 ‖ M)` |
    /// | AES-256 | `CMAC(K, 41 ‖ M) ‖ CMAC(K, 42 ‖ M)` |
    ///
    /// The CMAC input is padded as AN10922 says (to at least two blocks); past AN10922's
    /// length limit (15 bytes of `M` for 3DES, 31 for AES) it is plain SP 800-38B CMAC.
    ///
    /// ```
    /// use cardadmin::{Algorithm, KeyError, MasterKey};
    ///
    /// // NXP AN10922, 3TDEA example: its first CMAC is 2F0DD03675D3FB9A before parity.
    /// let master = MasterKey::from_hex("00112233445566778899AABBCCDDEEFF0102030405060708")?;
    /// let m = [0x04, 0x78, 0x2E, 0x21, 0x80, 0x1D, 0x80, 0x30, 0x42, 0xF5, 0x4E, 0x58, 0x50];
    /// let key = master.diversify_input(&m)?;
    /// assert_eq!(key.expose_secret()[..8], [0x2F, 0x0D, 0xD0, 0x37, 0x75, 0xD3, 0xFB, 0x9B]);
    ///
    /// // NXP AN10922, AES-128 example.
    /// let master = MasterKey::new_hex(Algorithm::Aes128, "00112233445566778899AABBCCDDEEFF")?;
    /// let m = [
    ///     0x04, 0x78, 0x2E, 0x21, 0x80, 0x1D, 0x80, 0x30, 0x42, 0xF5, 0x4E, 0x58, 0x50, 0x20, 0x41,
    ///     0x62, 0x75,
    /// ];
    /// let key = master.diversify_input(&m)?;
    /// assert_eq!(key.expose_secret(), [
    ///     0xA8, 0xDD, 0x63, 0xA3, 0xB8, 0x9D, 0x54, 0xB3, 0x7C, 0xA8, 0x02, 0x47, 0x3F, 0xDA, 0x91,
    ///     0x75,
    /// ]);
    ///
    /// assert_eq!(
    ///     master.diversify_input(&[]).unwrap_err(),
    ///     KeyError::DiversificationInputLength { min: 1, max: 64, found: 0 },
    /// );
    /// # Ok::<(), KeyError>(())
    /// ```
    pub fn diversify_input(&self, input: &[u8]) -> Result<AdminKey, KeyError> {
        self.diversify_input_with(input, DesParity::Odd)
    }

    /// [`MasterKey::diversify_input`] with a choice of how a derived Triple-DES key's parity
    /// bits are set (see [`DesParity`]; it does not apply to AES keys).
    ///
    /// ```
    /// use cardadmin::{DesParity, MasterKey};
    ///
    /// let master = MasterKey::from_hex("00112233445566778899AABBCCDDEEFF0102030405060708")?;
    /// let m = [0x04, 0x78, 0x2E, 0x21, 0x80, 0x1D, 0x80, 0x30, 0x42, 0xF5, 0x4E, 0x58, 0x50];
    /// let raw = master.diversify_input_with(&m, DesParity::Raw)?;
    /// assert_eq!(raw.expose_secret()[..8], [0x2F, 0x0D, 0xD0, 0x36, 0x75, 0xD3, 0xFB, 0x9A]);
    /// # Ok::<(), cardadmin::KeyError>(())
    /// ```
    pub fn diversify_input_with(
        &self,
        input: &[u8],
        parity: DesParity,
    ) -> Result<AdminKey, KeyError> {
        an10922::check_input(input)?;
        Ok(an10922::derive_in_memory(&self.key, input, parity))
    }

    /// The key check value by ANSI X9.24-1:2017's CMAC method: the first 3 bytes of
    /// `CMAC(K, 0^block)` (one all-zero block of the key's cipher). Not the legacy `E_K(0)`
    /// of [`AdminKey::check_value`]: see the [module docs](self#check-values).
    ///
    /// ```
    /// use cardadmin::{Algorithm, MasterKey};
    ///
    /// // CMAC of one zero block under the all-zero keys (OpenSSL 3 `openssl mac ... CMAC`,
    /// // checked against RustCrypto's `cmac` in tests/master.rs).
    /// assert_eq!(MasterKey::new(Algorithm::Tdes, &[0; 24])?.check_value().to_string(), "DD1BF6");
    /// assert_eq!(MasterKey::new(Algorithm::Aes128, &[0; 16])?.check_value().to_string(), "763CBC");
    /// # Ok::<(), cardadmin::KeyError>(())
    /// ```
    pub fn check_value(&self) -> KeyCheckValue {
        match check_value(self) {
            Ok(value) => value,
            Err(never) => match never {},
        }
    }

    /// Reports weak, degenerate and well-known-default keys, as [`AdminKey::audit`] does.
    ///
    /// ```
    /// use cardadmin::MasterKey;
    ///
    /// assert!(!MasterKey::from_hex(&"0".repeat(48))?.audit().is_clean());
    /// # Ok::<(), cardadmin::KeyError>(())
    /// ```
    pub fn audit(&self) -> KeyAudit {
        self.key.audit()
    }
}

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MasterKey")
            .field("algorithm", &self.algorithm())
            .field("check_value", &format_args!("{}", self.check_value()))
            .finish()
    }
}

impl CmacSigner for MasterKey {
    type Error = Infallible;

    fn algorithm(&self) -> Algorithm {
        self.key.algorithm()
    }

    /// In memory, in constant time (the message and its length are public).
    fn cmac(&self, message: &CmacMessage, tag: &mut [u8]) -> Result<(), Infallible> {
        an10922::cmac(&self.key, message.as_bytes(), tag);
        Ok(())
    }
}

/// A card's own admin key, derived through any key store (NXP AN10922, odd parity for
/// Triple-DES): the same input construction and fold as [`MasterKey::diversify`], only the
/// CMACs come from `signer`.
///
/// ```
/// use cardadmin::{master, CardId, MasterKey};
///
/// let key = MasterKey::from_hex("00112233445566778899aabbccddeeff0102030405060708")?;
/// let card: CardId = "bc88f13f-83ba-4037-8262-46eba1291c6e".parse()?;
/// let through_trait = master::diversify(&key, &card)?;
/// assert_eq!(through_trait.expose_secret(), key.diversify(&card).expose_secret());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
///
/// [`DiversifyError::Signer`] when the key store fails.
pub fn diversify<S: CmacSigner + ?Sized>(
    signer: &S,
    card_id: &CardId,
) -> Result<AdminKey, DiversifyError<S::Error>> {
    an10922::derive_with(signer, card_id.as_bytes(), DesParity::Odd)
}

/// The AN10922 derivation over any input `M` through a key store, with a choice of DES parity:
/// [`MasterKey::diversify_input_with`] through [`CmacSigner`].
///
/// `M` must be 1 to 64 bytes, and at least one block of the cipher (8 bytes for Triple-DES,
/// 16 for AES): a key store's plain SP 800-38B CMAC pads a shorter `constant ‖ M` differently
/// from AN10922, so it is refused ([`KeyError::KeyStoreInputLength`]) rather than derived to
/// a different key. Card IDs and AN10922's published examples are long enough.
///
/// ```
/// use cardadmin::master::{self, DiversifyError};
/// use cardadmin::{Algorithm, DesParity, KeyError, MasterKey};
///
/// // NXP AN10922, AES-128 example, through the trait.
/// let key = MasterKey::new_hex(Algorithm::Aes128, "00112233445566778899AABBCCDDEEFF")?;
/// let m = [
///     0x04, 0x78, 0x2E, 0x21, 0x80, 0x1D, 0x80, 0x30, 0x42, 0xF5, 0x4E, 0x58, 0x50, 0x20, 0x41,
///     0x62, 0x75,
/// ];
/// let derived = master::diversify_input(&key, &m, DesParity::Odd)?;
/// assert_eq!(derived.expose_secret()[..4], [0xA8, 0xDD, 0x63, 0xA3]);
///
/// assert_eq!(
///     master::diversify_input(&key, &m[..15], DesParity::Odd).unwrap_err(),
///     DiversifyError::Input(KeyError::KeyStoreInputLength { min: 16, found: 15 }),
/// );
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
///
/// [`DiversifyError::Input`] for an input of the wrong length, [`DiversifyError::Signer`]
/// when the key store fails.
pub fn diversify_input<S: CmacSigner + ?Sized>(
    signer: &S,
    input: &[u8],
    parity: DesParity,
) -> Result<AdminKey, DiversifyError<S::Error>> {
    an10922::derive_with(signer, input, parity)
}

/// The master key's check value through any key store, by ANSI X9.24-1:2017's CMAC method:
/// the first 3 bytes of `CMAC(K, 0^block)`. The same as [`MasterKey::check_value`].
///
/// ```
/// use cardadmin::{master, MasterKey};
///
/// let key = MasterKey::from_hex(&"0".repeat(48))?;
/// assert_eq!(master::check_value(&key)?, key.check_value());
/// assert_eq!(key.check_value().to_string(), "DD1BF6");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
///
/// The key store's error.
pub fn check_value<S: CmacSigner + ?Sized>(signer: &S) -> Result<KeyCheckValue, S::Error> {
    let block_len = signer.algorithm().block_len();
    let message = CmacMessage::zero_block(block_len);
    // Only the first 3 bytes are public; the rest of the tag is wiped.
    let mut full = Zeroizing::new([0u8; 16]);
    let tag = full.get_mut(..block_len).unwrap_or_default();
    signer.cmac(&message, tag)?;
    let value = match *tag {
        [a, b, c, ..] => [a, b, c],
        _ => [0; 3],
    };
    Ok(KeyCheckValue(value))
}

/// An admin key's check value by the CMAC method, for comparing it with a master key's
/// (the same key in both roles is refused). Public: a check value identifies a key without
/// revealing it.
pub(crate) fn cmac_check_value(key: &AdminKey) -> KeyCheckValue {
    let block_len = key.algorithm().block_len();
    let message = CmacMessage::zero_block(block_len);
    let mut tag = Zeroizing::new([0u8; 16]);
    an10922::cmac(key, message.as_bytes(), &mut *tag);
    let [a, b, c, ..] = *tag;
    KeyCheckValue([a, b, c])
}
