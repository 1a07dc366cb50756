//! The key-store seam: what a master key's holder computes for the crate (CMAC, and nothing
//! else) and the only messages it is handed ([`CmacMessage`], built here and in the AN10922
//! module). Its own module so that the derivation (`kdf::an10922`) and the master key
//! (`master`) both build on it without depending on each other; `master` re-exports it.

use core::fmt;

use crate::algorithm::Algorithm;
use crate::error::KeyError;

/// The longest CMAC message the derivation builds: a constant and the longest input.
pub(crate) const MAX_MESSAGE_LEN: usize = 1 + 64;

/// A CMAC-only key store holding a master key: an HSM over PKCS#11, a cloud KMS, or the
/// in-memory [`MasterKey`](crate::MasterKey).
///
/// It is only ever handed messages this crate built ([`CmacMessage`]): AN10922 derivation
/// inputs (`constant ‖ M`) and the check-value block, so a key store behind this trait is
/// never an oracle on caller data. Derive with [`diversify`](crate::master::diversify),
/// [`diversify_input`](crate::master::diversify_input); identify the key with
/// [`check_value`](crate::master::check_value).
///
/// ```
/// use cardadmin::master::{self, CmacMessage, CmacSigner};
/// use cardadmin::{Algorithm, CardId, MasterKey};
///
/// /// A key store that counts what it is asked (here it delegates to an in-memory key).
/// struct Counting { key: MasterKey, calls: core::cell::Cell<u32> }
///
/// impl CmacSigner for Counting {
///     type Error = core::convert::Infallible;
///     fn algorithm(&self) -> Algorithm { self.key.algorithm() }
///     fn cmac(&self, message: &CmacMessage, tag: &mut [u8]) -> Result<(), Self::Error> {
///         self.calls.set(self.calls.get() + 1);
///         self.key.cmac(message, tag)
///     }
/// }
///
/// let key = MasterKey::from_hex("00112233445566778899aabbccddeeff0102030405060708")?;
/// let store = Counting { key: key.clone(), calls: 0.into() };
/// let card: CardId = "bc88f13f-83ba-4037-8262-46eba1291c6e".parse()?;
/// let card_key = master::diversify(&store, &card)?;
/// assert_eq!(card_key.expose_secret(), key.diversify(&card).expose_secret());
/// assert_eq!(store.calls.get(), 3); // one CMAC per 8-byte part of a Triple-DES key
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub trait CmacSigner {
    /// The key store's own error (a PKCS#11 return value, a lost session).
    type Error;

    /// The master key's algorithm.
    fn algorithm(&self) -> Algorithm;

    /// Writes CMAC (NIST SP 800-38B) of `message.as_bytes()` under the master key, the full
    /// tag of `self.algorithm().block_len()` bytes, into `tag` (which has exactly that length).
    ///
    /// # Errors
    ///
    /// The key store's error, when it could not compute the tag; `tag` is then not used.
    fn cmac(&self, message: &CmacMessage, tag: &mut [u8]) -> Result<(), Self::Error>;
}

impl<S: CmacSigner + ?Sized> CmacSigner for &S {
    type Error = S::Error;

    fn algorithm(&self) -> Algorithm {
        (**self).algorithm()
    }

    fn cmac(&self, message: &CmacMessage, tag: &mut [u8]) -> Result<(), Self::Error> {
        (**self).cmac(message, tag)
    }
}

/// Bytes the crate asks a key store to MAC: an AN10922 derivation input (`constant ‖ M`, 2
/// to 65 bytes) or one all-zero block (for the check value). Only the crate constructs one,
/// so a [`CmacSigner`] never MACs caller data.
///
/// ```
/// use cardadmin::master::{CmacMessage, CmacSigner};
/// use cardadmin::{Algorithm, MasterKey};
///
/// struct Show;
/// impl CmacSigner for Show {
///     type Error = ();
///     fn algorithm(&self) -> Algorithm { Algorithm::Aes128 }
///     fn cmac(&self, message: &CmacMessage, _tag: &mut [u8]) -> Result<(), ()> {
///         assert_eq!(message.as_bytes(), &[0u8; 16]); // the X9.24-1 check-value block
///         Err(())
///     }
/// }
/// assert!(cardadmin::master::check_value(&Show).is_err());
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct CmacMessage {
    bytes: [u8; MAX_MESSAGE_LEN],
    len: usize,
}

impl CmacMessage {
    /// `constant ‖ input`: one AN10922 CMAC input. The input's length (at most 64 bytes) is
    /// checked by the caller; a longer one is cut (never happens).
    pub(crate) fn prefixed(constant: u8, input: &[u8]) -> Self {
        let mut bytes = [0u8; MAX_MESSAGE_LEN];
        let mut len = 0;
        for (out, byte) in bytes
            .iter_mut()
            .zip(core::iter::once(&constant).chain(input))
        {
            *out = *byte;
            len += 1;
        }
        Self { bytes, len }
    }

    /// One all-zero block of `block_len` bytes: the X9.24-1 CMAC check-value input.
    pub(crate) fn zero_block(block_len: usize) -> Self {
        Self {
            bytes: [0u8; MAX_MESSAGE_LEN],
            len: block_len.min(MAX_MESSAGE_LEN),
        }
    }

    /// The bytes to MAC.
    ///
    /// ```
    /// # use cardadmin::master::CmacMessage;
    /// fn mac_it(message: &CmacMessage) -> usize {
    ///     message.as_bytes().len()
    /// }
    /// ```
    pub fn as_bytes(&self) -> &[u8] {
        self.bytes.get(..self.len).unwrap_or(&self.bytes)
    }
}

impl fmt::Debug for CmacMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Public data (a constant and a card ID, or zeros): shown in hex.
        f.write_str("CmacMessage(")?;
        self.as_bytes()
            .iter()
            .try_for_each(|byte| write!(f, "{byte:02X}"))?;
        f.write_str(")")
    }
}

/// A derivation through a key store failed.
///
/// ```
/// use cardadmin::master::DiversifyError;
/// use cardadmin::KeyError;
///
/// let err: DiversifyError<&str> = DiversifyError::Signer("CKR_DEVICE_ERROR");
/// assert_eq!(err.to_string(), "the key store failed: CKR_DEVICE_ERROR");
/// let err: DiversifyError<&str> =
///     DiversifyError::Input(KeyError::KeyStoreInputLength { min: 8, found: 7 });
/// assert!(err.to_string().starts_with("a diversification input derived through a key store"));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum DiversifyError<E> {
    /// The key store failed.
    Signer(E),
    /// The input was refused: its length is out of range, or it is too short for a key store
    /// to pad as AN10922 does ([`KeyError::KeyStoreInputLength`]).
    Input(KeyError),
}

impl<E: fmt::Display> fmt::Display for DiversifyError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Signer(err) => write!(f, "the key store failed: {err}"),
            Self::Input(err) => fmt::Display::fmt(err, f),
        }
    }
}

#[cfg(feature = "std")]
impl<E: std::error::Error + 'static> std::error::Error for DiversifyError<E> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Signer(err) => Some(err),
            Self::Input(err) => Some(err),
        }
    }
}
