//! The card's admin challenge and the server's response (one cipher block: 8 bytes for a
//! Triple-DES key, 16 for AES), and their base64 text.
//!
//! MIM CM passes both as standard base64 in a URL query string, where a `+` that was not
//! percent-encoded arrives as a space. A lenient decoder would quietly answer a different
//! challenge, and the card would lock the admin key after a few failures; so the parser here is
//! strict (exactly 12 characters for 8 bytes or 24 for 16, standard alphabet, `=` padding,
//! canonical) and says which of the common mistakes it saw.

use core::{fmt, str::FromStr};

use base64::Engine as _;
use subtle::ConstantTimeEq;

use crate::error::ParseError;

/// The number of base64 characters for 16 bytes, the longest block.
const TEXT_LEN: usize = 24;
/// A Triple-DES block.
const SHORT: usize = 8;
/// An AES block.
const LONG: usize = 16;

/// One block: 8 or 16 bytes, the rest of the array zero.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
struct Block {
    bytes: [u8; LONG],
    len: u8,
}

impl Block {
    fn short(bytes: [u8; SHORT]) -> Self {
        let mut block = Self {
            bytes: [0; LONG],
            len: SHORT as u8,
        };
        block
            .bytes
            .iter_mut()
            .zip(bytes)
            .for_each(|(out, byte)| *out = byte);
        block
    }

    fn from_slice(what: &'static str, bytes: &[u8]) -> Result<Self, ParseError> {
        let len = bytes.len();
        if len != SHORT && len != LONG {
            return Err(ParseError::ByteLength { what, found: len });
        }
        let mut block = Self {
            bytes: [0; LONG],
            len: len as u8,
        };
        block
            .bytes
            .iter_mut()
            .zip(bytes)
            .for_each(|(out, byte)| *out = *byte);
        Ok(block)
    }

    fn as_bytes(&self) -> &[u8] {
        self.bytes
            .get(..usize::from(self.len))
            .unwrap_or(&self.bytes)
    }
}

/// A challenge issued by the card: 8 bytes for a Triple-DES admin key, 16 for AES.
///
/// ```
/// use cardadmin::Challenge;
///
/// let challenge: Challenge = "1hFD+cz/0so=".parse()?;
/// assert_eq!(challenge.as_bytes(), &[0xd6, 0x11, 0x43, 0xf9, 0xcc, 0xff, 0xd2, 0xca]);
/// assert_eq!(challenge.to_string(), "1hFD+cz/0so=");
/// # Ok::<(), cardadmin::ParseError>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Challenge(Block);

impl Challenge {
    /// Makes an 8-byte (Triple-DES) challenge.
    ///
    /// ```
    /// use cardadmin::Challenge;
    ///
    /// assert_eq!(Challenge::from_bytes([1; 8]).as_bytes(), &[1; 8]);
    /// ```
    pub fn from_bytes(bytes: [u8; SHORT]) -> Self {
        Self(Block::short(bytes))
    }

    /// Makes a challenge from 8 (Triple-DES) or 16 (AES) bytes; any other length is an error.
    ///
    /// ```
    /// use cardadmin::{Challenge, ParseError};
    ///
    /// assert_eq!(Challenge::from_slice(&[7; 16])?.as_bytes(), &[7; 16]);
    /// assert_eq!(
    ///     Challenge::from_slice(&[7; 5]).unwrap_err().to_string(),
    ///     "challenge must be 8 bytes (3DES) or 16 bytes (AES), got 5",
    /// );
    /// # Ok::<(), ParseError>(())
    /// ```
    pub fn from_slice(bytes: &[u8]) -> Result<Self, ParseError> {
        Block::from_slice("challenge", bytes).map(Self)
    }

    /// The challenge bytes: 8 or 16 of them.
    ///
    /// ```
    /// use cardadmin::Challenge;
    ///
    /// assert_eq!(Challenge::from_bytes(*b"abcdefgh").as_bytes(), b"abcdefgh");
    /// ```
    pub fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }

    /// Parses the standard base64 form MIM CM uses: 12 characters for 8 bytes, 24 for 16.
    ///
    /// ```
    /// use cardadmin::{Challenge, ParseError};
    ///
    /// assert!(Challenge::from_base64("1hFD+cz/0so=").is_ok());
    /// // A '+' that URL decoding turned into a space.
    /// assert_eq!(
    ///     Challenge::from_base64("1hFD cz/0so=").unwrap_err(),
    ///     ParseError::Space { what: "challenge", position: 4 },
    /// );
    /// ```
    pub fn from_base64(text: &str) -> Result<Self, ParseError> {
        decode_block("challenge", text).map(Self)
    }
}

impl FromStr for Challenge {
    type Err = ParseError;

    fn from_str(text: &str) -> Result<Self, ParseError> {
        Self::from_base64(text)
    }
}

impl fmt::Display for Challenge {
    /// The standard base64 form: 12 characters, or 24 for an AES challenge.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_base64(f, self.0.as_bytes())
    }
}

impl fmt::Debug for Challenge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Challenge({self})")
    }
}

/// The server's answer to a challenge: one block, 8 bytes (Triple-DES) or 16 (AES).
///
/// Equality is constant time, so comparing a received response with an expected one does not
/// leak how many leading bytes matched. `Display` is the 12-character base64 body that MIM CM's
/// `authenticationresponse` endpoint returns.
///
/// ```
/// use cardadmin::Response;
///
/// let response = Response::from_base64("F0Zudm4wPLY=")?;
/// assert_eq!(response, Response::from_bytes([0x17, 0x46, 0x6e, 0x76, 0x6e, 0x30, 0x3c, 0xb6]));
/// assert_eq!(response.to_string(), "F0Zudm4wPLY=");
/// # Ok::<(), cardadmin::ParseError>(())
/// ```
#[derive(Clone, Copy, Eq)]
pub struct Response(Block);

impl Response {
    /// Makes an 8-byte (Triple-DES) response.
    ///
    /// ```
    /// use cardadmin::Response;
    ///
    /// assert_eq!(Response::from_bytes([2; 8]).as_bytes(), &[2; 8]);
    /// ```
    pub fn from_bytes(bytes: [u8; SHORT]) -> Self {
        Self(Block::short(bytes))
    }

    /// Makes a response from 8 (Triple-DES) or 16 (AES) bytes; any other length is an error.
    ///
    /// ```
    /// use cardadmin::Response;
    ///
    /// assert_eq!(Response::from_slice(&[2; 16])?.as_bytes(), &[2; 16]);
    /// assert!(Response::from_slice(&[2; 12]).is_err());
    /// # Ok::<(), cardadmin::ParseError>(())
    /// ```
    pub fn from_slice(bytes: &[u8]) -> Result<Self, ParseError> {
        Block::from_slice("response", bytes).map(Self)
    }

    /// The response bytes: 8 or 16 of them.
    ///
    /// ```
    /// use cardadmin::Response;
    ///
    /// assert_eq!(Response::from_bytes(*b"response").as_bytes(), b"response");
    /// ```
    pub fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }

    /// Parses the standard base64 form (12 or 24 characters), as strictly as
    /// [`Challenge::from_base64`].
    ///
    /// ```
    /// use cardadmin::Response;
    ///
    /// let err = Response::from_base64("F0Zudm4wPLY").unwrap_err();
    /// assert_eq!(
    ///     err.to_string(),
    ///     "response is missing its '=' padding: expected 12 characters ending in '=', got 11",
    /// );
    /// ```
    pub fn from_base64(text: &str) -> Result<Self, ParseError> {
        decode_block("response", text).map(Self)
    }
}

impl PartialEq for Response {
    /// Constant time in the bytes; responses of different lengths are simply unequal.
    fn eq(&self, other: &Self) -> bool {
        self.0.len == other.0.len && bool::from(self.0.bytes.ct_eq(&other.0.bytes))
    }
}

impl FromStr for Response {
    type Err = ParseError;

    fn from_str(text: &str) -> Result<Self, ParseError> {
        Self::from_base64(text)
    }
}

impl fmt::Display for Response {
    /// The standard base64 form: 12 characters, or 24 for an AES response.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_base64(f, self.0.as_bytes())
    }
}

impl fmt::Debug for Response {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Response({self})")
    }
}

fn write_base64(f: &mut fmt::Formatter<'_>, bytes: &[u8]) -> fmt::Result {
    let mut text = [0u8; TEXT_LEN];
    let written = base64::engine::general_purpose::STANDARD
        .encode_slice(bytes, &mut text)
        .map_err(|_| fmt::Error)?;
    let text = text.get(..written).ok_or(fmt::Error)?;
    f.write_str(core::str::from_utf8(text).map_err(|_| fmt::Error)?)
}

/// Strictly decodes the base64 of one 8- or 16-byte block, naming the first mistake it finds.
fn decode_block(what: &'static str, text: &str) -> Result<Block, ParseError> {
    if text.is_empty() {
        return Err(ParseError::Empty { what });
    }
    let mut chars = 0usize;
    let mut padding = 0usize;
    for (position, c) in text.chars().enumerate() {
        chars += 1;
        match c {
            'A'..='Z' | 'a'..='z' | '0'..='9' | '+' | '/' if padding == 0 => {}
            '=' if padding < 2 => padding += 1,
            ' ' => return Err(ParseError::Space { what, position }),
            '-' | '_' => {
                return Err(ParseError::UrlSafeAlphabet {
                    what,
                    position,
                    found: c,
                })
            }
            _ => {
                return Err(ParseError::InvalidCharacter {
                    what,
                    position,
                    found: c,
                    expected: match padding {
                        0 => "a standard base64 character (A-Z, a-z, 0-9, '+', '/')",
                        1 => "only '=' after padding starts",
                        _ => "the end of the text after two '='",
                    },
                })
            }
        }
    }
    // Well-formed base64 is whole 4-character groups (the loop allows at most two '='); anything
    // else either lacks its padding or is not base64 of any length.
    if chars % 4 != 0 {
        if padding == 0 && chars % 4 != 1 {
            // Unpadded, so every character carries data: three bytes per whole group of four,
            // and one or two for the rest. The same as `chars * 3 / 4`, without its overflow on
            // 32-bit targets for huge texts.
            let found = chars / 4 * 3 + chars % 4 * 3 / 4;
            return Err(if found == SHORT || found == LONG {
                ParseError::MissingPadding { what, found: chars }
            } else {
                decoded_length(what, found)
            });
        }
        return Err(ParseError::Length {
            what,
            expected: "12 or 24",
            found: chars,
        });
    }
    let decoded_len = chars / 4 * 3 - padding;
    if decoded_len != SHORT && decoded_len != LONG {
        return Err(decoded_length(what, decoded_len));
    }
    let mut block = [0u8; LONG];
    match base64::engine::general_purpose::STANDARD.decode_slice(text, &mut block) {
        // Padding only at the end (the loop above), so what decodes is `decoded_len` bytes.
        Ok(len) => Block::from_slice(what, block.get(..len).unwrap_or(&[])),
        // The checks above leave one way to fail: non-zero trailing bits.
        _ => Err(ParseError::NonCanonical { what }),
    }
}

/// The error for base64 of the wrong length, naming the nearer of the two block lengths: a
/// short text is most likely a truncated Triple-DES challenge.
fn decoded_length(what: &'static str, found: usize) -> ParseError {
    ParseError::DecodedLength {
        what,
        expected: if found <= 12 { SHORT } else { LONG },
        found,
    }
}
