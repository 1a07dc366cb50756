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

    /// Parses GUID text as .NET's `Guid.Parse` reads it, in the forms MIM CM and its clients
    /// send, either case:
    ///
    /// | .NET format | example |
    /// |---|---|
    /// | `D` | `bc88f13f-83ba-4037-8262-46eba1291c6e` |
    /// | `B` | `{bc88f13f-83ba-4037-8262-46eba1291c6e}` |
    /// | `P` | `(bc88f13f-83ba-4037-8262-46eba1291c6e)` |
    /// | `N` | `bc88f13f83ba4037826246eba1291c6e` |
    ///
    /// Surrounding whitespace (what `char::is_whitespace` calls whitespace, the same set as
    /// .NET's `char.IsWhiteSpace`) is ignored, as `Guid.Parse` ignores it; nothing else is
    /// accepted. Not accepted, although `Guid.Parse` takes them: the `X` form
    /// (`{0xbc88f13f,0x83ba,...}`, an error that says so), and the legacy quirks .NET keeps for
    /// compatibility inside the `D` form (fields written with `0x` or `+`). Lengths in errors
    /// do not count the surrounding whitespace; positions are in the text as given.
    ///
    /// Every form gives the Windows GUID byte layout, the bytes of the card's `cardid` file.
    ///
    /// # Bare 32 hex digits are GUID text, not the file's bytes
    ///
    /// The `N` form is the GUID with its hyphens left out, so its first three fields are
    /// byte-swapped relative to the 16 bytes of the card's `cardid` file:
    /// `bc88f13f83ba4037826246eba1291c6e` is the file `3ff188bcba833740826246eba1291c6e`. If
    /// you have the hex of the file's raw bytes (from an APDU trace or a hex dump), parse it
    /// with [`CardId::from_raw_hex`] instead: given to this function, it names a different
    /// card, derives a different diversified key, and every admin authentication with that key
    /// fails, which counts towards blocking the card.
    ///
    /// ```
    /// use cardadmin::{CardId, ParseError};
    ///
    /// let hyphenated = CardId::parse("{BC88F13F-83BA-4037-8262-46EBA1291C6E}")?;
    /// assert_eq!(CardId::parse("bc88f13f83ba4037826246eba1291c6e")?, hyphenated);
    /// assert_eq!(CardId::parse("(bc88f13f-83ba-4037-8262-46eba1291c6e)")?, hyphenated);
    /// assert_eq!(CardId::parse(" bc88f13f-83ba-4037-8262-46eba1291c6e\n")?, hyphenated);
    ///
    /// assert!(matches!(
    ///     CardId::parse("bc88f13f_83ba-4037-8262-46eba1291c6e"),
    ///     Err(ParseError::InvalidCharacter { position: 8, .. }),
    /// ));
    /// assert_eq!(
    ///     CardId::parse("(bc88f13f-83ba-4037-8262-46eba1291c6e").unwrap_err().to_string(),
    ///     "card ID has unbalanced brackets: enclose it in '{' and '}' or in '(' and ')', or in neither",
    /// );
    /// # Ok::<(), ParseError>(())
    /// ```
    pub fn parse(text: &str) -> Result<Self, ParseError> {
        parse_guid(WHAT, text).map(Self)
    }

    /// Reads the hex of the card ID's 16 bytes in the order the card's `cardid` file holds
    /// them (32 hex digits, either case, surrounding whitespace ignored), with no GUID
    /// byte-swapping: for card IDs copied from an APDU trace or a hex dump of the file.
    /// Text from MIM CM (`cardid=...`) is GUID text: read it with [`CardId::parse`].
    ///
    /// ```
    /// use cardadmin::CardId;
    ///
    /// let raw = CardId::from_raw_hex("3ff188bcba833740826246eba1291c6e")?;
    /// assert_eq!(raw.to_string(), "bc88f13f-83ba-4037-8262-46eba1291c6e");
    /// assert_eq!(raw.as_bytes()[..4], [0x3f, 0xf1, 0x88, 0xbc]);
    ///
    /// // The same 32 digits read as .NET "N" GUID text are another card.
    /// assert_ne!(CardId::parse("3ff188bcba833740826246eba1291c6e")?, raw);
    /// # Ok::<(), cardadmin::ParseError>(())
    /// ```
    pub fn from_raw_hex(text: &str) -> Result<Self, ParseError> {
        const RAW: &str = "raw card ID";
        let (trimmed, lead) = trim(text);
        if trimmed.is_empty() {
            return Err(ParseError::Empty { what: RAW });
        }
        let length = trimmed.chars().count();
        if length != 32 {
            return Err(ParseError::Length {
                what: RAW,
                expected: "32 (the hex of the 16 bytes of the card's cardid file)",
                found: length,
            });
        }
        let mut bytes = [0u8; 16];
        read_hex(RAW, trimmed, lead, &[], &mut bytes)?;
        Ok(Self(bytes))
    }
}

/// The text without surrounding whitespace, and the number of characters removed in front.
fn trim(text: &str) -> (&str, usize) {
    let start = text.trim_start();
    let lead = text.chars().count() - start.chars().count();
    (start.trim_end(), lead)
}

/// `Guid.Parse` forms D, B, P and N (after trimming surrounding whitespace), to the Windows
/// GUID byte layout. `what` names the value in errors.
pub(crate) fn parse_guid(what: &'static str, text: &str) -> Result<[u8; 16], ParseError> {
    const HYPHENS: [usize; 4] = [8, 13, 18, 23];
    let (trimmed, lead) = trim(text);
    let (Some(first), Some(last)) = (trimmed.chars().next(), trimmed.chars().next_back()) else {
        return Err(ParseError::Empty { what });
    };
    let inner = trimmed
        .strip_prefix(first)
        .and_then(|rest| rest.strip_suffix(last))
        .unwrap_or("");
    let length = trimmed.chars().count();
    let mut bytes = [0u8; 16];
    match first {
        '{' | '(' => {
            let after = trimmed.strip_prefix(first).unwrap_or("").trim_start();
            if first == '{' && (after.starts_with("0x") || after.starts_with("0X")) {
                return Err(ParseError::UnsupportedForm {
                    what,
                    form: ".NET's X form ({0x...,0x...,0x...,{0x...,...}})",
                });
            }
            let close = if first == '{' { '}' } else { ')' };
            if last != close {
                return Err(ParseError::UnbalancedBraces { what });
            }
            if length != 38 {
                return Err(ParseError::Length {
                    what,
                    expected: "38 (a hyphenated GUID in '{}' or '()')",
                    found: length,
                });
            }
            read_hex(what, inner, lead + 1, &HYPHENS, &mut bytes)?;
        }
        _ if matches!(last, '}' | ')') => return Err(ParseError::UnbalancedBraces { what }),
        _ => match length {
            36 => read_hex(what, trimmed, lead, &HYPHENS, &mut bytes)?,
            32 => read_hex(what, trimmed, lead, &[], &mut bytes)?,
            _ => {
                return Err(ParseError::Length {
                    what,
                    expected: "32 (bare hex), 36 (hyphenated) or 38 (hyphenated, in '{}' or '()')",
                    found: length,
                })
            }
        },
    }
    for (start, end) in LITTLE_ENDIAN_FIELDS {
        if let Some(field) = bytes.get_mut(start..end) {
            field.reverse();
        }
    }
    Ok(bytes)
}

/// Reads hex digits into `bytes` in order, with a `-` at each index in `hyphens`; positions in
/// errors are `offset` plus the index in `body`. The caller has checked the length.
fn read_hex(
    what: &'static str,
    body: &str,
    offset: usize,
    hyphens: &[usize],
    bytes: &mut [u8; 16],
) -> Result<(), ParseError> {
    let mut nibbles = 0usize;
    for (index, c) in body.chars().enumerate() {
        let position = index + offset;
        let invalid = |expected| ParseError::InvalidCharacter {
            what,
            position,
            found: c,
            expected,
        };
        if hyphens.contains(&index) {
            if c != '-' {
                return Err(invalid("'-'"));
            }
            continue;
        }
        let value = c.to_digit(16).ok_or_else(|| invalid("a hex digit"))?;
        if let Some(byte) = bytes.get_mut(nibbles / 2) {
            // `to_digit(16)` is below 16, so the cast is exact.
            *byte = (*byte << 4) | value as u8;
        }
        nibbles += 1;
    }
    Ok(())
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
