//! A check value given by a person (the server configuration's `"check_value"`, the ceremony's
//! `--expect-check-value`): 6 hex digits to compare with the one a key has.

use std::fmt;
use std::str::FromStr;

use cardadmin::KeyCheckValue;

/// An expected key check value: 6 hex digits, as the ceremony printed it (ANSI X9.24-1:2017
/// CMAC method for a master key). Parsed in any case; `Display` gives uppercase.
///
/// ```
/// use cardadmin::MasterKey;
/// use cardadmin_pkcs11::ExpectedCheckValue;
///
/// let expected: ExpectedCheckValue = "dd1bf6".parse()?;
/// assert_eq!(expected.to_string(), "DD1BF6");
/// assert!(expected.matches(&MasterKey::from_hex(&"0".repeat(48))?.check_value()));
/// assert!("DD1BF".parse::<ExpectedCheckValue>().is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ExpectedCheckValue([u8; 3]);

impl ExpectedCheckValue {
    /// Whether `value` is this check value.
    pub fn matches(&self, value: &KeyCheckValue) -> bool {
        value.as_bytes() == &self.0
    }

    /// The 3 bytes.
    pub fn as_bytes(&self) -> &[u8; 3] {
        &self.0
    }
}

impl fmt::Display for ExpectedCheckValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|byte| write!(f, "{byte:02X}"))
    }
}

/// A check value that is not 6 hex digits. The message repeats neither the text nor any part
/// of it (a check value is public, but a key typed into the wrong field is not).
///
/// ```
/// use cardadmin_pkcs11::ExpectedCheckValue;
///
/// let err = "12345G".parse::<ExpectedCheckValue>().unwrap_err();
/// assert_eq!(
///     err.to_string(),
///     "a check value is 6 hex digits (0-9, A-F), as the ceremony prints it; got 6 characters, not all hex digits"
/// );
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckValueFormatError {
    length: usize,
}

impl fmt::Display for CheckValueFormatError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "a check value is 6 hex digits (0-9, A-F), as the ceremony prints it; got {} character{}",
            self.length,
            if self.length == 1 { "" } else { "s" }
        )?;
        if self.length == 6 {
            f.write_str(", not all hex digits")?;
        }
        Ok(())
    }
}

impl std::error::Error for CheckValueFormatError {}

impl FromStr for ExpectedCheckValue {
    type Err = CheckValueFormatError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let error = CheckValueFormatError {
            length: text.chars().count(),
        };
        // Six bytes that are not six characters hold a non-ASCII one, which is no hex digit.
        let digits = text.as_bytes();
        if digits.len() != 6 {
            return Err(error);
        }
        let mut bytes = [0u8; 3];
        for (byte, pair) in bytes.iter_mut().zip(digits.chunks_exact(2)) {
            let mut value = 0u8;
            for digit in pair {
                let nibble = char::from(*digit).to_digit(16).ok_or(error.clone())?;
                value = (value << 4) | u8::try_from(nibble).map_err(|_| error.clone())?;
            }
            *byte = value;
        }
        Ok(Self(bytes))
    }
}
