//! `Deserialize` for [`AdminKey`] (feature `serde`): the key from a configuration file.
//!
//! Two forms are accepted:
//!
//! - a string: [`AdminKey::from_hex`]'s 48 hex digits (either case), a Triple-DES key, as MIM
//!   CM profile templates store it;
//! - a map `{ "algorithm": "aes192", "key": "<hex>" }` for any [`Algorithm`] (names as its
//!   `FromStr` takes them: `tdes`, `aes128`, `aes192`, `aes256`), read by
//!   [`AdminKey::new_hex`]. The algorithm is always stated, never guessed from the length.
//!
//! Every copy of the key text this crate gets is wiped: a borrowed `&str` is read in place,
//! an owned `String` or byte buffer handed over by the format is zeroized after reading, and
//! the map form holds the text in a wiped fixed buffer until the algorithm is known.
//! Copies the format makes before that (serde_json's scratch buffer for a string with
//! escapes, the file contents a server read) are outside this crate; keep them short-lived.
//!
//! It reads self-describing formats (JSON, TOML, YAML and the like: configuration files), not
//! bincode-style ones. Error messages never contain key text: a wrong length or a bad character is reported by
//! position ([`KeyError`](crate::KeyError)), and a value that is not a string is refused
//! without echoing it (serde's default message would print a number as given).

use core::fmt;

use serde::de::{self, Deserialize, Deserializer, Visitor};

use crate::key::{AdminKey, Algorithm};

/// In a project with `cardadmin` (feature `serde`), `serde = { version = "1", features =
/// ["derive"] }` and `serde_json = "1"` in its `[dependencies]`:
///
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
const NOT_TEXT: &str =
    "admin key must be a string of 48 hex digits, or { \"algorithm\": ..., \"key\": \"<hex>\" }";

impl<'de> Visitor<'de> for KeyVisitor {
    type Value = AdminKey;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an admin key: a string of 48 hex digits, or a map of algorithm and key")
    }

    fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<AdminKey, A::Error> {
        let mut algorithm = None;
        let mut text = None;
        while let Some(field) = map.next_key::<Field>()? {
            match field {
                Field::Algorithm if algorithm.is_none() => {
                    algorithm = Some(map.next_value::<AlgorithmName>()?.0);
                }
                Field::Key if text.is_none() => text = Some(map.next_value::<KeyText>()?),
                Field::Algorithm => return Err(de::Error::duplicate_field("algorithm")),
                Field::Key => return Err(de::Error::duplicate_field("key")),
            }
        }
        let algorithm = algorithm.ok_or_else(|| de::Error::missing_field("algorithm"))?;
        let text = text.ok_or_else(|| de::Error::missing_field("key"))?;
        AdminKey::new_hex(algorithm, text.as_str(algorithm)?).map_err(de::Error::custom)
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

/// The fields of the map form.
enum Field {
    Algorithm,
    Key,
}

impl<'de> Deserialize<'de> for Field {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct FieldVisitor;
        impl Visitor<'_> for FieldVisitor {
            type Value = Field;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("`algorithm` or `key`")
            }
            fn visit_str<E: de::Error>(self, name: &str) -> Result<Field, E> {
                match name {
                    "algorithm" => Ok(Field::Algorithm),
                    "key" => Ok(Field::Key),
                    other => Err(E::unknown_field(other, &["algorithm", "key"])),
                }
            }
        }
        deserializer.deserialize_identifier(FieldVisitor)
    }
}

/// An algorithm name, as [`Algorithm`]'s `FromStr` reads it.
struct AlgorithmName(Algorithm);

impl<'de> Deserialize<'de> for AlgorithmName {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct NameVisitor;
        impl Visitor<'_> for NameVisitor {
            type Value = AlgorithmName;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("tdes, aes128, aes192 or aes256")
            }
            fn visit_str<E: de::Error>(self, name: &str) -> Result<AlgorithmName, E> {
                name.parse().map(AlgorithmName).map_err(E::custom)
            }
        }
        deserializer.deserialize_str(NameVisitor)
    }
}

/// The longest key text: 64 hex digits (AES-256).
const MAX_TEXT: usize = 64;

/// Key text held until the algorithm is known, in a fixed buffer wiped on drop (no allocation,
/// so the map form works without `alloc` too), a byte per character: a character that is not
/// ASCII (never a hex digit) is held as [`NOT_ASCII`], so the key's own error names its
/// position. Longer text is kept as its length only, for the error message.
struct KeyText {
    bytes: zeroize::Zeroizing<[u8; MAX_TEXT]>,
    /// In characters.
    len: usize,
}

/// What a character that is not ASCII is held as: not a hex digit either.
const NOT_ASCII: u8 = b'?';

impl KeyText {
    /// The text, or an error when it was too long to be a key of `algorithm`.
    fn as_str<E: de::Error>(&self, algorithm: Algorithm) -> Result<&str, E> {
        let too_long = || {
            E::custom(crate::KeyError::HexLength {
                expected: 2 * algorithm.key_len(),
                found: self.len,
            })
        };
        let bytes = self.bytes.get(..self.len).ok_or_else(too_long)?;
        core::str::from_utf8(bytes).map_err(|_| E::custom(NOT_TEXT))
    }
}

impl<'de> Deserialize<'de> for KeyText {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct TextVisitor;
        impl Visitor<'_> for TextVisitor {
            type Value = KeyText;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("the key as a string of hex digits")
            }
            fn visit_str<E: de::Error>(self, text: &str) -> Result<KeyText, E> {
                let mut key_text = KeyText {
                    bytes: zeroize::Zeroizing::new([0u8; MAX_TEXT]),
                    len: 0,
                };
                for c in text.chars() {
                    // Past the buffer (too long for any key) only the count goes on.
                    if let Some(slot) = key_text.bytes.get_mut(key_text.len) {
                        *slot = u8::try_from(c)
                            .ok()
                            .filter(u8::is_ascii)
                            .unwrap_or(NOT_ASCII);
                    }
                    key_text.len += 1;
                }
                Ok(key_text)
            }
            #[cfg(feature = "alloc")]
            fn visit_string<E: de::Error>(self, text: alloc::string::String) -> Result<KeyText, E> {
                let text = zeroize::Zeroizing::new(text);
                self.visit_str(&text)
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<KeyText, E> {
                Err(E::custom(NOT_TEXT))
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<KeyText, E> {
                Err(E::custom(NOT_TEXT))
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<KeyText, E> {
                Err(E::custom(NOT_TEXT))
            }
        }
        deserializer.deserialize_any(TextVisitor)
    }
}
