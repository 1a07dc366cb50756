//! The card's 8-byte admin challenge and the server's 8-byte response, and their base64 text.
//!
//! MIM CM passes both as standard base64 in a URL query string, where a `+` that was not
//! percent-encoded arrives as a space. A lenient decoder would quietly answer a different
//! challenge, and the card would lock the admin key after a few failures; so the parser here is
//! strict (exactly 12 characters, standard alphabet, `=` padding, canonical) and says which of
//! the common mistakes it saw.

use core::{fmt, str::FromStr};

use base64::Engine as _;
use subtle::ConstantTimeEq;

use crate::error::ParseError;

/// The number of base64 characters for 8 bytes.
const TEXT_LEN: usize = 12;
const BLOCK_LEN: usize = 8;

/// An 8-byte challenge issued by the card.
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
pub struct Challenge([u8; BLOCK_LEN]);

impl Challenge {
    /// Makes a challenge from its 8 bytes.
    ///
    /// ```
    /// use cardadmin::Challenge;
    ///
    /// assert_eq!(Challenge::from_bytes([1; 8]).as_bytes(), &[1; 8]);
    /// ```
    pub fn from_bytes(bytes: [u8; BLOCK_LEN]) -> Self {
        Self(bytes)
    }

    /// The 8 challenge bytes.
    ///
    /// ```
    /// use cardadmin::Challenge;
    ///
    /// assert_eq!(Challenge::from_bytes(*b"abcdefgh").as_bytes(), b"abcdefgh");
    /// ```
    pub fn as_bytes(&self) -> &[u8; BLOCK_LEN] {
        &self.0
    }

    /// Parses the 12-character standard base64 form MIM CM uses.
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
    /// The 12-character standard base64 form.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_base64(f, &self.0)
    }
}

impl fmt::Debug for Challenge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Challenge({self})")
    }
}

/// The server's 8-byte answer to a challenge.
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
pub struct Response([u8; BLOCK_LEN]);

impl Response {
    /// Makes a response from its 8 bytes.
    ///
    /// ```
    /// use cardadmin::Response;
    ///
    /// assert_eq!(Response::from_bytes([2; 8]).as_bytes(), &[2; 8]);
    /// ```
    pub fn from_bytes(bytes: [u8; BLOCK_LEN]) -> Self {
        Self(bytes)
    }

    /// The 8 response bytes.
    ///
    /// ```
    /// use cardadmin::Response;
    ///
    /// assert_eq!(Response::from_bytes(*b"response").as_bytes(), b"response");
    /// ```
    pub fn as_bytes(&self) -> &[u8; BLOCK_LEN] {
        &self.0
    }

    /// Parses the 12-character standard base64 form, as strictly as
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
    fn eq(&self, other: &Self) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}

impl FromStr for Response {
    type Err = ParseError;

    fn from_str(text: &str) -> Result<Self, ParseError> {
        Self::from_base64(text)
    }
}

impl fmt::Display for Response {
    /// The 12-character standard base64 form.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_base64(f, &self.0)
    }
}

impl fmt::Debug for Response {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Response({self})")
    }
}

fn write_base64(f: &mut fmt::Formatter<'_>, bytes: &[u8; BLOCK_LEN]) -> fmt::Result {
    let mut text = [0u8; TEXT_LEN];
    let written = base64::engine::general_purpose::STANDARD
        .encode_slice(bytes, &mut text)
        .map_err(|_| fmt::Error)?;
    let text = text.get(..written).ok_or(fmt::Error)?;
    f.write_str(core::str::from_utf8(text).map_err(|_| fmt::Error)?)
}

/// Strictly decodes the base64 of one 8-byte block, naming the first mistake it finds.
fn decode_block(what: &'static str, text: &str) -> Result<[u8; BLOCK_LEN], ParseError> {
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
            return Err(if found == BLOCK_LEN {
                ParseError::MissingPadding { what, found: chars }
            } else {
                ParseError::DecodedLength {
                    what,
                    expected: BLOCK_LEN,
                    found,
                }
            });
        }
        return Err(ParseError::Length {
            what,
            expected: "12",
            found: chars,
        });
    }
    let decoded_len = chars / 4 * 3 - padding;
    if decoded_len != BLOCK_LEN {
        return Err(ParseError::DecodedLength {
            what,
            expected: BLOCK_LEN,
            found: decoded_len,
        });
    }
    let mut block = [0u8; BLOCK_LEN];
    match base64::engine::general_purpose::STANDARD.decode_slice(text, &mut block) {
        Ok(BLOCK_LEN) => Ok(block),
        // The checks above leave one way to fail: non-zero trailing bits.
        _ => Err(ParseError::NonCanonical { what }),
    }
}
