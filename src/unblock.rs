//! Offline unblock: the help-desk exchange in which a person reads a card's challenge aloud.
//!
//! When a user's card is blocked (too many wrong PINs) and the user is away from the network,
//! Windows shows the card's admin challenge on the unblock screen as hex. The user reads it to
//! the help desk, which types it into a tool holding the admin key; the tool shows the
//! response, which the user types back. Both sides are people, so the challenge parser is
//! forgiving about what people add (spaces, dashes, either case) and strict about what they
//! mistype (a wrong digit count or a non-hex character is an error that says where), and the
//! response is printed in groups of four for reading aloud.
//!
//! The challenge is public (it is on the user's screen); the response unblocks the card once,
//! and is computed with the key's constant-time cipher like every other response.

use core::fmt;

use crate::challenge::{Challenge, Response};
use crate::key::{AdminKey, Algorithm};

/// The most hex digits a challenge has (an AES block).
const MAX_DIGITS: usize = 32;

/// Answers a challenge typed by a person: hex digits in either case, with spaces or dashes
/// anywhere (around and between digits), 16 digits for a Triple-DES key, 32 for AES.
///
/// ```
/// use cardadmin::{unblock, AdminKey};
///
/// // The minidriver default key, and a challenge as the Windows unblock screen shows it.
/// let key = AdminKey::from_hex("010203040506070801020304050607080102030405060708")?;
/// let response = unblock::respond(&key, "1603 EBDF 1C8A 2E72")?;
/// assert_eq!(response.to_string(), "F940 6715 12CD 0DFF");
/// // However it was typed.
/// assert_eq!(unblock::respond(&key, " 1603-ebdf-1c8a-2e72 ")?, response);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn respond(admin_key: &AdminKey, challenge: &str) -> Result<UnblockResponse, UnblockError> {
    let algorithm = admin_key.algorithm();
    let expected = 2 * algorithm.block_len();
    let mut bytes = [0u8; MAX_DIGITS / 2];
    let mut digits = 0usize;
    for (position, c) in challenge.chars().enumerate() {
        if c == ' ' || c == '-' {
            continue;
        }
        let Some(value) = c.to_digit(16) else {
            return Err(UnblockError::NotHex { position, found: c });
        };
        if let Some(byte) = bytes.get_mut(digits / 2) {
            // `value` is below 16, so the shift and cast keep every bit.
            *byte |= (value as u8) << (4 * (1 - digits % 2));
        }
        digits = digits.saturating_add(1);
    }
    if digits != expected {
        return Err(UnblockError::DigitCount {
            algorithm,
            expected,
            found: digits,
        });
    }
    let challenge = bytes
        .get(..expected / 2)
        .and_then(|bytes| Challenge::from_slice(bytes).ok())
        .ok_or(UnblockError::DigitCount {
            algorithm,
            expected,
            found: digits,
        })?;
    admin_key
        .respond(&challenge)
        .map(UnblockResponse)
        .map_err(|_| UnblockError::DigitCount {
            algorithm,
            expected,
            found: digits,
        })
}

/// The response to read back to the user: `Display` is upper-case hex in groups of 4 digits
/// separated by single spaces (`F940 6715 12CD 0DFF`).
///
/// ```
/// use cardadmin::{unblock, AdminKey, Algorithm};
///
/// let key = AdminKey::new(Algorithm::Aes128, &[0; 16])?;
/// let response = unblock::respond(&key, "00000000000000000000000000000000")?;
/// assert_eq!(response.to_string(), "66E9 4BD4 EF8A 2C3B 884C FA59 CA34 2B2E");
/// assert_eq!(response.as_response().as_bytes()[..2], [0x66, 0xe9]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct UnblockResponse(Response);

impl UnblockResponse {
    /// The response as the crate's [`Response`] (for its bytes or base64 form).
    ///
    /// ```
    /// use cardadmin::{unblock, AdminKey};
    ///
    /// let key = AdminKey::from_bytes([0; 24]);
    /// let response = unblock::respond(&key, "d61143f9ccffd2ca")?;
    /// assert_eq!(response.as_response().to_string(), "F0Zudm4wPLY=");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn as_response(&self) -> &Response {
        &self.0
    }
}

impl fmt::Display for UnblockResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (index, pair) in self.0.as_bytes().chunks(2).enumerate() {
            if index > 0 {
                f.write_str(" ")?;
            }
            pair.iter().try_for_each(|byte| write!(f, "{byte:02X}"))?;
        }
        Ok(())
    }
}

impl fmt::Debug for UnblockResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "UnblockResponse({self})")
    }
}

/// A typed challenge that could not be answered.
///
/// ```
/// use cardadmin::{unblock, AdminKey, UnblockError};
///
/// let key = AdminKey::from_bytes([0; 24]);
/// let err = unblock::respond(&key, "1603 EBDF 1C8A 2E7").unwrap_err();
/// assert_eq!(
///     err.to_string(),
///     "a 3DES admin key needs a challenge of 16 hex digits, got 15 (spaces and dashes are ignored)",
/// );
/// assert!(matches!(
///     unblock::respond(&key, "1603 EBDF 1C8A 2E7O"),
///     Err(UnblockError::NotHex { position: 18, found: 'O' }),
/// ));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum UnblockError {
    /// A character that is neither a hex digit nor a space or dash (an `O` for a `0`, say).
    NotHex {
        /// Zero-based character position in the text as typed.
        position: usize,
        /// The character found there.
        found: char,
    },
    /// The wrong number of hex digits for the key's algorithm.
    DigitCount {
        /// The admin key's algorithm.
        algorithm: Algorithm,
        /// 16 for Triple-DES, 32 for AES.
        expected: usize,
        /// The number of hex digits typed.
        found: usize,
    },
}

impl fmt::Display for UnblockError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::NotHex { position, found } => write!(
                f,
                "the challenge has {found:?} at position {position}, expected a hex digit (0-9, A-F), a space or a dash"
            ),
            Self::DigitCount {
                algorithm,
                expected,
                found,
            } => write!(
                f,
                "a {algorithm} admin key needs a challenge of {expected} hex digits, got {found} (spaces and dashes are ignored)"
            ),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for UnblockError {}
