//! Error types, one per concern.
//!
//! Every error carries what was expected and what was found, and its `Display` is a sentence a
//! server can log as is. No error ever contains key bytes or PIN characters: a key error names
//! the offending *position*, never the character, and a PIN error names the character *class*.

use core::fmt;

/// The admin key was malformed: wrong length or not hexadecimal.
///
/// ```
/// use cardadmin::{AdminKey, KeyError};
///
/// let err = AdminKey::from_hex("0011").unwrap_err();
/// assert_eq!(err, KeyError::HexLength { expected: 48, found: 4 });
/// assert_eq!(err.to_string(), "admin key must be 48 hex digits, got 4 characters");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyError {
    /// The key bytes were not 24 long.
    ByteLength {
        /// Always 24.
        expected: usize,
        /// The number of bytes given.
        found: usize,
    },
    /// The key text was not 48 characters long.
    HexLength {
        /// Always 48.
        expected: usize,
        /// The number of characters given.
        found: usize,
    },
    /// The key text has a character that is not a hex digit. The character itself is not kept,
    /// since it sits in the middle of what is meant to be a secret.
    NotHex {
        /// Zero-based character position of the first offending character.
        position: usize,
    },
    /// An algorithm name was not one of `tdes` (or `3des`), `aes128`, `aes192`, `aes256`.
    UnknownAlgorithm,
    /// A challenge was not one block of the key's cipher.
    ChallengeLength {
        /// The key's algorithm.
        algorithm: crate::Algorithm,
        /// Its block length: 8 for Triple-DES, 16 for AES.
        expected: usize,
        /// The challenge's length in bytes.
        found: usize,
    },
    /// A diversification input was empty or longer than 64 bytes.
    DiversificationInputLength {
        /// The shortest accepted input (1).
        min: usize,
        /// The longest accepted input (64).
        max: usize,
        /// The length given.
        found: usize,
    },
    /// A diversification input too short for a key store (an HSM) to derive as AN10922 does:
    /// a key store computes plain SP 800-38B CMAC, which pads `constant ‖ M` differently from
    /// AN10922 when it fits one block. An in-memory [`MasterKey`](crate::MasterKey) derives it.
    KeyStoreInputLength {
        /// The shortest input a key store derives: one block of the master key's cipher
        /// (8 bytes for Triple-DES, 16 for AES).
        min: usize,
        /// The length given.
        found: usize,
    },
}

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::ByteLength { expected, found } => {
                write!(f, "admin key must be {expected} bytes, got {found}")
            }
            Self::HexLength { expected, found } => write!(
                f,
                "admin key must be {expected} hex digits, got {}",
                crate::plural::characters(found)
            ),
            Self::NotHex { position } => write!(
                f,
                "admin key has a character that is not a hex digit (0-9, a-f, A-F) at position {position}"
            ),
            Self::UnknownAlgorithm => f.write_str(
                "unknown key algorithm: expected tdes, aes128, aes192 or aes256 \
                 (or 3DES, AES-128, AES-192, AES-256), in any case",
            ),
            Self::ChallengeLength {
                algorithm,
                expected,
                found,
            } => write!(
                f,
                "{algorithm} admin keys answer {expected}-byte challenges, got {}",
                crate::plural::bytes(found)
            ),
            Self::DiversificationInputLength { min, max, found } => write!(
                f,
                "diversification input must be {min} to {max} bytes, got {found}"
            ),
            Self::KeyStoreInputLength { min, found } => write!(
                f,
                "a diversification input derived through a key store must be at least {min} bytes (shorter ones pad differently under plain CMAC than under AN10922), got {found}; derive it with an in-memory master key"
            ),
        }
    }
}

/// A card ID, challenge or response text could not be parsed.
///
/// `what` names the value being parsed (`"card ID"`, `"challenge"` or `"response"`), so the
/// message stands on its own in a server log.
///
/// ```
/// use cardadmin::Challenge;
///
/// let err = Challenge::from_base64("AAAAAAAA").unwrap_err();
/// assert_eq!(err.to_string(), "challenge must decode to 8 bytes, got 6");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ParseError {
    /// The text was empty.
    Empty {
        /// What was being parsed.
        what: &'static str,
    },
    /// The text has the wrong number of characters for any accepted form.
    Length {
        /// What was being parsed.
        what: &'static str,
        /// The accepted lengths, in words (for example `"12"` or `"32, 36 or 38"`).
        expected: &'static str,
        /// The number of characters given.
        found: usize,
    },
    /// A character that has no place in this format.
    InvalidCharacter {
        /// What was being parsed.
        what: &'static str,
        /// Zero-based character position.
        position: usize,
        /// The character found there.
        found: char,
        /// What was expected there, in words.
        expected: &'static str,
    },
    /// A space inside base64 text: almost always a `+` that URL decoding turned into a space.
    Space {
        /// What was being parsed.
        what: &'static str,
        /// Zero-based character position of the first space.
        position: usize,
    },
    /// A `-` or `_`: the URL-safe base64 alphabet, where the standard one (`+`, `/`) is needed.
    UrlSafeAlphabet {
        /// What was being parsed.
        what: &'static str,
        /// Zero-based character position.
        position: usize,
        /// The character found (`-` or `_`).
        found: char,
    },
    /// Base64 text without its trailing `=` padding.
    MissingPadding {
        /// What was being parsed.
        what: &'static str,
        /// The number of characters given.
        found: usize,
    },
    /// Well-formed base64 that decodes to the wrong number of bytes.
    DecodedLength {
        /// What was being parsed.
        what: &'static str,
        /// The number of bytes needed.
        expected: usize,
        /// The number of bytes the text decodes to.
        found: usize,
    },
    /// A challenge or response of a length that is no cipher's block: 8 bytes (Triple-DES) or
    /// 16 (AES) are needed.
    ByteLength {
        /// What was being parsed.
        what: &'static str,
        /// The number of bytes given.
        found: usize,
    },
    /// Base64 whose unused trailing bits are not zero: some other text encodes the same bytes.
    NonCanonical {
        /// What was being parsed.
        what: &'static str,
    },
    /// Card ID text with an opening brace or parenthesis and no matching closing one, or the
    /// other way round.
    UnbalancedBraces {
        /// What was being parsed.
        what: &'static str,
    },
    /// A GUID in a .NET text form this crate does not read: the `X` form
    /// (`{0x...,0x...,0x...,{0x...}}`), whose fields have no fixed width.
    UnsupportedForm {
        /// What was being parsed.
        what: &'static str,
        /// The form, in words.
        form: &'static str,
    },
}

impl ParseError {
    /// The same error about another subject: after a parameter's name a message says "value"
    /// or "GUID" instead of repeating the name (`challenge: value has ...`).
    ///
    /// ```
    /// use cardadmin::{CardId, ParseError};
    ///
    /// let err = CardId::parse("").unwrap_err();
    /// assert_eq!(err.with_what("GUID"), ParseError::Empty { what: "GUID" });
    /// ```
    #[must_use]
    pub fn with_what(mut self, subject: &'static str) -> Self {
        match &mut self {
            Self::Empty { what }
            | Self::Length { what, .. }
            | Self::InvalidCharacter { what, .. }
            | Self::Space { what, .. }
            | Self::UrlSafeAlphabet { what, .. }
            | Self::MissingPadding { what, .. }
            | Self::DecodedLength { what, .. }
            | Self::ByteLength { what, .. }
            | Self::NonCanonical { what }
            | Self::UnbalancedBraces { what }
            | Self::UnsupportedForm { what, .. } => *what = subject,
        }
        self
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::Empty { what } => write!(f, "{what} is empty"),
            Self::Length {
                what,
                expected,
                found,
            } => write!(
                f,
                "{what} must be {expected} characters long, got {found}"
            ),
            Self::InvalidCharacter {
                what,
                position,
                found,
                expected,
            } => write!(
                f,
                "{what} has {found:?} at position {position}, expected {expected}"
            ),
            Self::Space { what, position } => write!(
                f,
                "{what} has a space at position {position}: a '+' was probably turned into a space by URL decoding; send it percent-encoded as %2B"
            ),
            Self::UrlSafeAlphabet {
                what,
                position,
                found,
            } => write!(
                f,
                "{what} has {found:?} at position {position}: that is URL-safe base64; use the standard alphabet ('+' and '/')"
            ),
            Self::MissingPadding { what, found } => write!(
                f,
                "{what} is missing its '=' padding: expected {} characters ending in '=', got {found}",
                found.div_ceil(4).saturating_mul(4)
            ),
            Self::ByteLength { what, found } => write!(
                f,
                "{what} must be 8 bytes (3DES) or 16 bytes (AES), got {found}"
            ),
            Self::DecodedLength {
                what,
                expected,
                found,
            } => write!(f, "{what} must decode to {expected} bytes, got {found}"),
            Self::NonCanonical { what } => write!(
                f,
                "{what} is not canonical base64: the unused bits of its last character must be zero"
            ),
            Self::UnbalancedBraces { what } => write!(
                f,
                "{what} has unbalanced brackets: enclose it in '{{' and '}}' or in '(' and ')', or in neither"
            ),
            Self::UnsupportedForm { what, form } => write!(
                f,
                "{what} is in {form}, which is not accepted: send the hyphenated form xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx"
            ),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for KeyError {}
#[cfg(feature = "std")]
impl std::error::Error for ParseError {}
