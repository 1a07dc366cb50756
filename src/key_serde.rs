//! `Deserialize` for [`AdminKey`] (feature `serde`): the key from a configuration file.
//!
//! The accepted form is [`AdminKey::from_hex`]'s: a string of 48 hex digits, either case.
//! Every copy of the key text this crate gets is wiped: a borrowed `&str` is read in place,
//! and an owned `String` or byte buffer handed over by the format is zeroized after reading.
//! Copies the format makes before that (serde_json's scratch buffer for a string with
//! escapes, the file contents a server read) are outside this crate; keep them short-lived.
//!
//! It reads self-describing formats (JSON, TOML, YAML and the like: configuration files), not
//! bincode-style ones. Error messages never contain key text: a wrong length or a bad character is reported by
//! position ([`KeyError`](crate::KeyError)), and a value that is not a string is refused
//! without echoing it (serde's default message would print a number as given).

use core::fmt;

use serde::de::{self, Deserialize, Deserializer, Visitor};

use crate::key::AdminKey;

/// ```
/// use cardadmin::AdminKey;
///
/// #[derive(serde::Deserialize)]
/// struct Config {
///     admin_key: AdminKey,
/// }
///
/// let config: Config = serde_json::from_str(
///     r#"{ "admin_key": "000000000000000000000000000000000000000000000000" }"#,
/// )?;
/// assert_eq!(config.admin_key.check_value().to_string(), "8CA64D");
///
/// let err = serde_json::from_str::<AdminKey>(r#""00112233445566778899aabbccddeeff001122334455667""#)
///     .unwrap_err();
/// assert_eq!(
///     err.to_string(),
///     "admin key must be 48 hex digits, got 47 characters at line 1 column 49",
/// );
/// # Ok::<(), serde_json::Error>(())
/// ```
impl<'de> Deserialize<'de> for AdminKey {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        // `deserialize_any`, not `deserialize_str`: given a number where the key should be,
        // serde_json's `deserialize_str` writes the number into its error message itself;
        // `deserialize_any` hands it to the visitor, which refuses it without echoing it. So
        // the key needs a self-describing format (JSON, TOML, YAML, ...), which configuration
        // files are.
        deserializer.deserialize_any(KeyVisitor)
    }
}

struct KeyVisitor;

/// What a value that is not key text is told, without the value.
const NOT_TEXT: &str = "admin key must be a string of 48 hex digits";

impl<'de> Visitor<'de> for KeyVisitor {
    type Value = AdminKey;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an admin key: a string of 48 hex digits")
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<AdminKey, E> {
        AdminKey::from_hex(text).map_err(E::custom)
    }

    #[cfg(feature = "alloc")]
    fn visit_string<E: de::Error>(self, text: alloc::string::String) -> Result<AdminKey, E> {
        let text = zeroize::Zeroizing::new(text);
        self.visit_str(&text)
    }

    fn visit_bytes<E: de::Error>(self, bytes: &[u8]) -> Result<AdminKey, E> {
        match core::str::from_utf8(bytes) {
            Ok(text) => self.visit_str(text),
            Err(_) => Err(E::custom(NOT_TEXT)),
        }
    }

    #[cfg(feature = "alloc")]
    fn visit_byte_buf<E: de::Error>(self, bytes: alloc::vec::Vec<u8>) -> Result<AdminKey, E> {
        let bytes = zeroize::Zeroizing::new(bytes);
        self.visit_bytes(&bytes)
    }

    // Numbers and characters could be (part of) a key: refuse them without echoing them.
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<AdminKey, E> {
        Err(E::custom(NOT_TEXT))
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<AdminKey, E> {
        Err(E::custom(NOT_TEXT))
    }

    fn visit_i128<E: de::Error>(self, _: i128) -> Result<AdminKey, E> {
        Err(E::custom(NOT_TEXT))
    }

    fn visit_u128<E: de::Error>(self, _: u128) -> Result<AdminKey, E> {
        Err(E::custom(NOT_TEXT))
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<AdminKey, E> {
        Err(E::custom(NOT_TEXT))
    }

    fn visit_char<E: de::Error>(self, _: char) -> Result<AdminKey, E> {
        Err(E::custom(NOT_TEXT))
    }
}
