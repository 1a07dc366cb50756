//! Which cipher an admin key is for.

use core::{fmt, str::FromStr};

use crate::error::KeyError;

/// The cipher of an admin key: 3-key Triple-DES (minidriver and older PIV cards) or AES (newer
/// cards: YubiKey firmware 5.7 and later default to AES-192, FIPS models require AES).
///
/// An algorithm is always stated, never inferred from a key's length: 24 bytes is both a
/// Triple-DES and an AES-192 key (the YubiKey 5.7 default key has the same bytes as the old
/// Triple-DES default).
///
/// ```
/// use cardadmin::Algorithm;
///
/// assert_eq!(Algorithm::Aes192.key_len(), 24);
/// assert_eq!(Algorithm::Aes192.block_len(), 16);
/// assert_eq!(Algorithm::from_piv_id(0x0a), Some(Algorithm::Aes192));
/// assert_eq!("tdes".parse::<Algorithm>()?, Algorithm::Tdes);
/// # Ok::<(), cardadmin::KeyError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Algorithm {
    /// 3-key Triple-DES (EDE): 24-byte keys, 8-byte blocks.
    Tdes,
    /// AES-128: 16-byte keys, 16-byte blocks.
    Aes128,
    /// AES-192: 24-byte keys, 16-byte blocks.
    Aes192,
    /// AES-256: 32-byte keys, 16-byte blocks.
    Aes256,
}

impl Algorithm {
    /// Every algorithm, in the order of their PIV identifiers.
    ///
    /// ```
    /// use cardadmin::Algorithm;
    ///
    /// assert_eq!(Algorithm::ALL.len(), 4);
    /// ```
    pub const ALL: [Algorithm; 4] = [Self::Tdes, Self::Aes128, Self::Aes192, Self::Aes256];

    /// The key length in bytes: 24, 16, 24 or 32.
    ///
    /// ```
    /// use cardadmin::Algorithm;
    ///
    /// assert_eq!(Algorithm::Aes256.key_len(), 32);
    /// ```
    pub const fn key_len(self) -> usize {
        match self {
            Self::Aes128 => 16,
            Self::Tdes | Self::Aes192 => 24,
            Self::Aes256 => 32,
        }
    }

    /// The block length in bytes, which is also the challenge and response length: 8 for
    /// Triple-DES, 16 for AES.
    ///
    /// ```
    /// use cardadmin::Algorithm;
    ///
    /// assert_eq!(Algorithm::Tdes.block_len(), 8);
    /// assert_eq!(Algorithm::Aes128.block_len(), 16);
    /// ```
    pub const fn block_len(self) -> usize {
        match self {
            Self::Tdes => 8,
            Self::Aes128 | Self::Aes192 | Self::Aes256 => 16,
        }
    }

    /// The PIV algorithm identifier (NIST SP 800-78): `0x03`, `0x08`, `0x0A` or `0x0C`.
    ///
    /// ```
    /// use cardadmin::Algorithm;
    ///
    /// assert_eq!(Algorithm::Tdes.piv_id(), 0x03);
    /// assert_eq!(Algorithm::Aes256.piv_id(), 0x0c);
    /// ```
    pub const fn piv_id(self) -> u8 {
        match self {
            Self::Tdes => 0x03,
            Self::Aes128 => 0x08,
            Self::Aes192 => 0x0a,
            Self::Aes256 => 0x0c,
        }
    }

    /// The algorithm of a PIV identifier; `0x00` is read as Triple-DES, as cards and
    /// SP 800-73 use it for the default management key algorithm. `None` for any other value.
    ///
    /// ```
    /// use cardadmin::Algorithm;
    ///
    /// assert_eq!(Algorithm::from_piv_id(0x00), Some(Algorithm::Tdes));
    /// assert_eq!(Algorithm::from_piv_id(0x03), Some(Algorithm::Tdes));
    /// assert_eq!(Algorithm::from_piv_id(0x11), None);
    /// ```
    pub const fn from_piv_id(id: u8) -> Option<Self> {
        match id {
            0x00 | 0x03 => Some(Self::Tdes),
            0x08 => Some(Self::Aes128),
            0x0a => Some(Self::Aes192),
            0x0c => Some(Self::Aes256),
            _ => None,
        }
    }

    /// The short name used in configuration and on command lines: `tdes`, `aes128`, `aes192`
    /// or `aes256` ([`FromStr`] accepts it in any case, as well as the `Display` form).
    ///
    /// ```
    /// use cardadmin::Algorithm;
    ///
    /// assert_eq!(Algorithm::Aes192.name(), "aes192");
    /// ```
    pub const fn name(self) -> &'static str {
        match self {
            Self::Tdes => "tdes",
            Self::Aes128 => "aes128",
            Self::Aes192 => "aes192",
            Self::Aes256 => "aes256",
        }
    }
}

impl Algorithm {
    /// The conventional name, as [`Display`](fmt::Display) writes it.
    const fn display_name(self) -> &'static str {
        match self {
            Self::Tdes => "3DES",
            Self::Aes128 => "AES-128",
            Self::Aes192 => "AES-192",
            Self::Aes256 => "AES-256",
        }
    }
}

impl fmt::Display for Algorithm {
    /// The conventional name: `3DES`, `AES-128`, `AES-192` or `AES-256` (which [`FromStr`]
    /// reads back).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.display_name())
    }
}

impl FromStr for Algorithm {
    type Err = KeyError;

    /// Parses the short name ([`Algorithm::name`]: `tdes`, `aes128`, `aes192`, `aes256`) or the
    /// conventional name that [`Display`](fmt::Display) writes (`3DES`, `AES-128`, `AES-192`,
    /// `AES-256`), in any case, so every `Display` output parses back to the same algorithm.
    ///
    /// ```
    /// use cardadmin::Algorithm;
    ///
    /// for algorithm in Algorithm::ALL {
    ///     assert_eq!(algorithm.to_string().parse::<Algorithm>()?, algorithm);
    ///     assert_eq!(algorithm.name().parse::<Algorithm>()?, algorithm);
    /// }
    /// assert_eq!("aes-192".parse::<Algorithm>()?, Algorithm::Aes192);
    /// # Ok::<(), cardadmin::KeyError>(())
    /// ```
    fn from_str(text: &str) -> Result<Self, KeyError> {
        Self::ALL
            .into_iter()
            .find(|algorithm| {
                algorithm.name().eq_ignore_ascii_case(text)
                    || algorithm.display_name().eq_ignore_ascii_case(text)
            })
            .ok_or(KeyError::UnknownAlgorithm)
    }
}
