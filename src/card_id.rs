//! The card's 16-byte ID and its .NET GUID text.
//!
//! A minidriver card keeps a 16-byte ID in its `cardid` file; MIM CM passes it as a GUID string
//! (`cardid=bc88f13f-83ba-4037-8262-46eba1291c6e`). The bytes are the Windows GUID memory layout
//! (`Guid.ToByteArray()`), in which the first three fields are little-endian. Getting this
//! wrong diversifies every card to the wrong key, so the conversion lives in one place.

use core::{fmt, str::FromStr};

use crate::error::ParseError;

const WHAT: &str = "card ID";

/// A card's 16-byte ID, in the Windows GUID byte layout.
///
/// ```
/// use cardadmin::CardId;
///
/// let id: CardId = "bc88f13f-83ba-4037-8262-46eba1291c6e".parse()?;
/// assert_eq!(id.as_bytes()[..4], [0x3f, 0xf1, 0x88, 0xbc]);
/// assert_eq!(id.to_string(), "bc88f13f-83ba-4037-8262-46eba1291c6e");
/// # Ok::<(), cardadmin::ParseError>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CardId([u8; 16]);

/// Where the little-endian GUID fields (`Data1`, `Data2`, `Data3`) sit: each is a byte range
/// whose order the text reverses.
const LITTLE_ENDIAN_FIELDS: [(usize, usize); 3] = [(0, 4), (4, 6), (6, 8)];

impl CardId {
    /// Makes a card ID from its 16 bytes, as the card's `cardid` file holds them.
    ///
    /// ```
    /// use cardadmin::CardId;
    ///
    /// let id = CardId::from_bytes([0x11; 16]);
    /// assert_eq!(id.to_string(), "11111111-1111-1111-1111-111111111111");
    /// ```
    pub fn from_bytes(bytes: [u8; 16]) -> Self {
        Self(bytes)
    }

    /// The 16 bytes, in the Windows GUID layout.
    ///
    /// ```
    /// use cardadmin::CardId;
    ///
    /// assert_eq!(CardId::from_bytes([9; 16]).as_bytes(), &[9; 16]);
    /// ```
    pub fn as_bytes(&self) -> &[u8; 16] {
        &self.0
    }

    /// Parses a GUID: `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`, optionally in braces, or 32 bare
    /// hex digits; either case. Both forms give the GUID byte layout: the bare form is read as
    /// the same GUID without hyphens (what .NET's `Guid.ToString("N")` prints), not as raw bytes.
    ///
    /// ```
    /// use cardadmin::{CardId, ParseError};
    ///
    /// let hyphenated = CardId::parse("{BC88F13F-83BA-4037-8262-46EBA1291C6E}")?;
    /// let bare = CardId::parse("bc88f13f83ba4037826246eba1291c6e")?;
    /// assert_eq!(hyphenated, bare);
    ///
    /// assert!(matches!(
    ///     CardId::parse("bc88f13f_83ba-4037-8262-46eba1291c6e"),
    ///     Err(ParseError::InvalidCharacter { position: 8, .. }),
    /// ));
    /// # Ok::<(), ParseError>(())
    /// ```
    pub fn parse(text: &str) -> Result<Self, ParseError> {
        if text.is_empty() {
            return Err(ParseError::Empty { what: WHAT });
        }
        let length = text.chars().count();
        let (body, offset) = match text.strip_prefix('{').map(|rest| rest.strip_suffix('}')) {
            Some(Some(body)) => (body, 1),
            None if !text.ends_with('}') => (text, 0),
            _ => return Err(ParseError::UnbalancedBraces { what: WHAT }),
        };
        let hyphenated = match body.chars().count() {
            36 => true,
            32 if offset == 0 => false,
            _ => {
                return Err(ParseError::Length {
                    what: WHAT,
                    expected: "32 (bare hex), 36 (hyphenated) or 38 (in braces)",
                    found: length,
                })
            }
        };

        let mut bytes = [0u8; 16];
        let mut nibbles = 0usize;
        for (index, c) in body.chars().enumerate() {
            let position = index + offset;
            if hyphenated && matches!(index, 8 | 13 | 18 | 23) {
                if c != '-' {
                    return Err(invalid(position, c, "'-'"));
                }
                continue;
            }
            let value = c
                .to_digit(16)
                .ok_or_else(|| invalid(position, c, "a hex digit"))?;
            if let Some(byte) = bytes.get_mut(nibbles / 2) {
                // `to_digit(16)` is below 16, so the cast is exact.
                *byte = (*byte << 4) | value as u8;
            }
            nibbles += 1;
        }
        for (start, end) in LITTLE_ENDIAN_FIELDS {
            if let Some(field) = bytes.get_mut(start..end) {
                field.reverse();
            }
        }
        Ok(Self(bytes))
    }
}

fn invalid(position: usize, found: char, expected: &'static str) -> ParseError {
    ParseError::InvalidCharacter {
        what: WHAT,
        position,
        found,
        expected,
    }
}

impl FromStr for CardId {
    type Err = ParseError;

    fn from_str(text: &str) -> Result<Self, ParseError> {
        Self::parse(text)
    }
}

impl fmt::Display for CardId {
    /// The lowercase hyphenated GUID form, which [`CardId::parse`] reads back.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut guid = self.0;
        for (start, end) in LITTLE_ENDIAN_FIELDS {
            if let Some(field) = guid.get_mut(start..end) {
                field.reverse();
            }
        }
        for (index, byte) in guid.iter().enumerate() {
            if matches!(index, 4 | 6 | 8 | 10) {
                f.write_str("-")?;
            }
            write!(f, "{byte:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for CardId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CardId({self})")
    }
}
