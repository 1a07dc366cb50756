//! BER-TLV (ISO/IEC 7816-4 and 8825-1), strict: tags and definite lengths in their shortest
//! form only.
//!
//! Tags are one to three bytes (a first byte whose low five bits are all set announces more,
//! and each following byte with its top bit set announces another); lengths are one byte below
//! `0x80`, `81 xx` for 128 to 255 and `82 xx xx` for 256 to 65535. The indefinite form (`80`),
//! longer length forms and lengths written longer than needed are errors: card flows never use
//! them, and accepting several encodings of one value is how parsers disagree.
//!
//! A tag is minimal as X.690 (ISO/IEC 8825-1) requires: tag numbers 0 to 30 are written in the
//! first byte alone (8.1.2.2), so a second byte below `1F` (`1F 01`, `5F 1E`) is refused, and
//! the first subsequent byte must not be `80`, a leading group of seven zero bits
//! (8.1.2.4.2 c, as in `5F 80 01`).

use core::fmt;

/// One BER-TLV data object borrowed from the bytes it was parsed from.
///
/// ```
/// use cardadmin_card::apdu::Tlv;
///
/// let (tlv, rest) = Tlv::parse(&[0x7c, 0x02, 0x81, 0x00, 0x90])?;
/// assert_eq!(tlv.tag(), 0x7c);
/// assert_eq!(tlv.value(), &[0x81, 0x00]);
/// assert_eq!(rest, &[0x90]);
/// # Ok::<(), cardadmin_card::apdu::TlvError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tlv<'a> {
    tag: u32,
    value: &'a [u8],
}

impl<'a> Tlv<'a> {
    /// Parses the first data object of `input`, returning it and the bytes after it.
    ///
    /// ```
    /// use cardadmin_card::apdu::{Tlv, TlvError};
    ///
    /// assert_eq!(
    ///     Tlv::parse(&[0x81, 0x08, 0x01]).unwrap_err(),
    ///     TlvError::Truncated { tag: 0x81, expected: 8, found: 1 },
    /// );
    /// // 0x05 fits in one length byte, so `81 05` is refused.
    /// assert_eq!(
    ///     Tlv::parse(&[0x81, 0x81, 0x05]).unwrap_err(),
    ///     TlvError::NonMinimalLength { tag: 0x81 },
    /// );
    /// // Tag number 1 fits in the first byte, so `1F 01` is refused.
    /// assert_eq!(
    ///     Tlv::parse(&[0x1f, 0x01, 0x00]).unwrap_err(),
    ///     TlvError::NonMinimalTag { tag: 0x1f01 },
    /// );
    /// ```
    pub fn parse(input: &'a [u8]) -> Result<(Self, &'a [u8]), TlvError> {
        let (tag, rest) = parse_tag(input)?;
        let (length, rest) = parse_length(tag, rest)?;
        let value = rest.get(..length).ok_or(TlvError::Truncated {
            tag,
            expected: length,
            found: rest.len(),
        })?;
        let rest = rest.get(length..).unwrap_or_default();
        Ok((Self { tag, value }, rest))
    }

    /// Parses `input` as exactly one data object with tag `tag`: another tag, or bytes after
    /// it, are errors.
    ///
    /// ```
    /// use cardadmin_card::apdu::{Tlv, TlvError};
    ///
    /// assert_eq!(Tlv::parse_only(0x7c, &[0x7c, 0x00])?.value(), &[]);
    /// assert_eq!(
    ///     Tlv::parse_only(0x7c, &[0x7d, 0x00]).unwrap_err(),
    ///     TlvError::UnexpectedTag { expected: 0x7c, found: 0x7d },
    /// );
    /// assert_eq!(
    ///     Tlv::parse_only(0x7c, &[0x7c, 0x00, 0x00]).unwrap_err(),
    ///     TlvError::TrailingBytes { after: 0x7c, found: 1 },
    /// );
    /// # Ok::<(), TlvError>(())
    /// ```
    pub fn parse_only(tag: u32, input: &'a [u8]) -> Result<Self, TlvError> {
        let (tlv, rest) = Self::parse(input)?;
        if tlv.tag != tag {
            return Err(TlvError::UnexpectedTag {
                expected: tag,
                found: tlv.tag,
            });
        }
        if !rest.is_empty() {
            return Err(TlvError::TrailingBytes {
                after: tag,
                found: rest.len(),
            });
        }
        Ok(tlv)
    }

    /// The tag, its bytes read big-endian (`0x7c`, `0x5fc102`, ...).
    ///
    /// ```
    /// use cardadmin_card::apdu::Tlv;
    ///
    /// assert_eq!(Tlv::parse(&[0x5f, 0xc1, 0x02, 0x00])?.0.tag(), 0x5fc102);
    /// # Ok::<(), cardadmin_card::apdu::TlvError>(())
    /// ```
    pub fn tag(&self) -> u32 {
        self.tag
    }

    /// The value bytes.
    ///
    /// ```
    /// use cardadmin_card::apdu::Tlv;
    ///
    /// assert_eq!(Tlv::parse(&[0x01, 0x01, 0x03])?.0.value(), &[0x03]);
    /// # Ok::<(), cardadmin_card::apdu::TlvError>(())
    /// ```
    pub fn value(&self) -> &'a [u8] {
        self.value
    }
}

/// Iterates over consecutive data objects, stopping at the end of the input or at the first
/// error (which it yields).
///
/// ```
/// use cardadmin_card::apdu::{tlv_iter, Tlv};
///
/// let tags: Vec<u32> = tlv_iter(&[0x80, 0x00, 0x81, 0x01, 0xaa])
///     .map(|tlv| tlv.map(|tlv| tlv.tag()))
///     .collect::<Result<_, _>>()?;
/// assert_eq!(tags, [0x80, 0x81]);
/// # Ok::<(), cardadmin_card::apdu::TlvError>(())
/// ```
pub fn tlv_iter(input: &[u8]) -> TlvIter<'_> {
    TlvIter { rest: input }
}

/// The iterator of [`tlv_iter`].
///
/// ```
/// use cardadmin_card::apdu::tlv_iter;
///
/// assert_eq!(tlv_iter(&[]).count(), 0);
/// ```
#[derive(Clone, Debug)]
pub struct TlvIter<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for TlvIter<'a> {
    type Item = Result<Tlv<'a>, TlvError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        match Tlv::parse(self.rest) {
            Ok((tlv, rest)) => {
                self.rest = rest;
                Some(Ok(tlv))
            }
            Err(err) => {
                self.rest = &[];
                Some(Err(err))
            }
        }
    }
}

fn parse_tag(input: &[u8]) -> Result<(u32, &[u8]), TlvError> {
    let (&first, mut rest) = input.split_first().ok_or(TlvError::Empty)?;
    let mut tag = u32::from(first);
    if first & 0x1f != 0x1f {
        return Ok((tag, rest));
    }
    // Subsequent tag bytes: at most two more, the last with its top bit clear.
    for position in 0..2 {
        let (&byte, after) = rest.split_first().ok_or(TlvError::TruncatedTag)?;
        tag = (tag << 8) | u32::from(byte);
        rest = after;
        // X.690 8.1.2.2 and 8.1.2.4.2 c: the first subsequent byte neither carries a number
        // that fits the first byte (below 31) nor starts with seven zero bits (`80`).
        if position == 0 && (byte < 0x1f || byte == 0x80) {
            return Err(TlvError::NonMinimalTag { tag });
        }
        if byte & 0x80 == 0 {
            return Ok((tag, rest));
        }
    }
    Err(TlvError::TagTooLong)
}

fn parse_length(tag: u32, input: &[u8]) -> Result<(usize, &[u8]), TlvError> {
    let truncated = TlvError::TruncatedLength { tag };
    let (&first, rest) = input.split_first().ok_or(truncated)?;
    match first {
        0x00..=0x7f => Ok((usize::from(first), rest)),
        0x81 => {
            let (&len, rest) = rest.split_first().ok_or(truncated)?;
            if len < 0x80 {
                return Err(TlvError::NonMinimalLength { tag });
            }
            Ok((usize::from(len), rest))
        }
        0x82 => match rest {
            [high, low, rest @ ..] => {
                let len = usize::from(*high) << 8 | usize::from(*low);
                if len < 0x100 {
                    return Err(TlvError::NonMinimalLength { tag });
                }
                Ok((len, rest))
            }
            _ => Err(truncated),
        },
        0x80 => Err(TlvError::IndefiniteLength { tag }),
        _ => Err(TlvError::LengthTooLong { tag }),
    }
}

/// Writes tag and length headers and values into a fixed buffer; the crate's only TLV encoder.
/// Fails (rather than panicking) when the buffer is full.
pub(crate) struct Writer<'b> {
    out: &'b mut [u8],
    len: usize,
}

/// The buffer given to a [`Writer`] was too small; only the crate's own fixed-size messages
/// are written, so this is a bug guard, never seen with valid input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Full;

impl<'b> Writer<'b> {
    pub(crate) fn new(out: &'b mut [u8]) -> Self {
        Self { out, len: 0 }
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    pub(crate) fn bytes(&mut self, bytes: &[u8]) -> Result<(), Full> {
        let end = self.len.checked_add(bytes.len()).ok_or(Full)?;
        self.out
            .get_mut(self.len..end)
            .ok_or(Full)?
            .copy_from_slice(bytes);
        self.len = end;
        Ok(())
    }

    /// A tag (one byte) and the length header of a value of `len` bytes.
    pub(crate) fn header(&mut self, tag: u8, len: usize) -> Result<(), Full> {
        self.bytes(&[tag])?;
        let len_u8 = |len: usize| u8::try_from(len).map_err(|_| Full);
        match len {
            0..=0x7f => self.bytes(&[len_u8(len)?]),
            0x80..=0xff => self.bytes(&[0x81, len_u8(len)?]),
            _ => self.bytes(&[0x82, len_u8(len >> 8)?, len_u8(len & 0xff)?]),
        }
    }

    pub(crate) fn tlv(&mut self, tag: u8, value: &[u8]) -> Result<(), Full> {
        self.header(tag, value.len())?;
        self.bytes(value)
    }
}

/// A BER-TLV encoding was malformed or not in its strict form.
///
/// ```
/// use cardadmin_card::apdu::{Tlv, TlvError};
///
/// let err = Tlv::parse(&[0x7c, 0x80]).unwrap_err();
/// assert_eq!(err, TlvError::IndefiniteLength { tag: 0x7c });
/// assert_eq!(err.to_string(), "TLV tag 7C has the indefinite length form (80), which is not allowed");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum TlvError {
    /// There were no bytes where a data object was expected.
    Empty,
    /// A multi-byte tag ended before its last byte.
    TruncatedTag,
    /// A tag was longer than three bytes.
    TagTooLong,
    /// A tag written in more bytes than needed (X.690 8.1.2.4.2): a tag number below 31 in
    /// the multi-byte form (`1F 01`), or a first subsequent byte `80` (`5F 80 01`).
    NonMinimalTag {
        /// The tag bytes read up to the offending byte (`0x1f01`, `0x5f80`).
        tag: u32,
    },
    /// The length header was missing or cut short.
    TruncatedLength {
        /// The tag whose length was cut short.
        tag: u32,
    },
    /// The indefinite length form `80`.
    IndefiniteLength {
        /// The tag that used it.
        tag: u32,
    },
    /// A length form longer than `82 xx xx`.
    LengthTooLong {
        /// The tag that used it.
        tag: u32,
    },
    /// A length written in more bytes than needed (`81 05`, `82 00 10`).
    NonMinimalLength {
        /// The tag that used it.
        tag: u32,
    },
    /// The value was shorter than its length said.
    Truncated {
        /// The tag of the short value.
        tag: u32,
        /// The length its header announced.
        expected: usize,
        /// The bytes left.
        found: usize,
    },
    /// Another tag than the one expected.
    UnexpectedTag {
        /// The tag expected.
        expected: u32,
        /// The tag found.
        found: u32,
    },
    /// Bytes after the data object that should have ended the input.
    TrailingBytes {
        /// The tag of the object that should have been last.
        after: u32,
        /// How many bytes followed it.
        found: usize,
    },
}

impl fmt::Display for TlvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::Empty => f.write_str("TLV data object expected, found no bytes"),
            Self::TruncatedTag => f.write_str("TLV tag cut short"),
            Self::TagTooLong => f.write_str("TLV tag longer than 3 bytes"),
            Self::NonMinimalTag { tag } => write!(
                f,
                "TLV tag {tag:02X} is written in more bytes than needed (X.690 8.1.2.4.2)"
            ),
            Self::TruncatedLength { tag } => write!(f, "TLV tag {tag:02X} has no complete length"),
            Self::IndefiniteLength { tag } => write!(
                f,
                "TLV tag {tag:02X} has the indefinite length form (80), which is not allowed"
            ),
            Self::LengthTooLong { tag } => write!(
                f,
                "TLV tag {tag:02X} has a length form longer than 82 xx xx"
            ),
            Self::NonMinimalLength { tag } => write!(
                f,
                "TLV tag {tag:02X} has a length written in more bytes than needed"
            ),
            Self::Truncated {
                tag,
                expected,
                found,
            } => write!(
                f,
                "TLV tag {tag:02X} announces {}, only {found} {}",
                crate::plural::bytes(expected),
                if found == 1 { "follows" } else { "follow" }
            ),
            Self::UnexpectedTag { expected, found } => {
                write!(f, "expected TLV tag {expected:02X}, found {found:02X}")
            }
            Self::TrailingBytes { after, found } => {
                write!(f, "{found} unexpected bytes after TLV tag {after:02X}")
            }
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for TlvError {}

#[cfg(test)]
mod tests {
    use std::string::ToString;
    use std::vec;
    use std::vec::Vec;

    use super::{Full, Tlv, TlvError, Writer};

    /// The tag number X.690 encodes in `bytes` (first byte's low five bits, then seven bits
    /// per subsequent byte), as a reference for the minimality rule.
    fn tag_number(bytes: &[u8]) -> u32 {
        match bytes {
            [first] => u32::from(first & 0x1f),
            [_, rest @ ..] => rest
                .iter()
                .fold(0, |number, byte| number << 7 | u32::from(byte & 0x7f)),
            [] => unreachable!(),
        }
    }

    #[test]
    fn non_minimal_tags_are_refused() {
        for (input, tag) in [
            (&[0x1f, 0x01, 0x00][..], 0x1f01),
            (&[0x1f, 0x00, 0x00], 0x1f00),
            (&[0x5f, 0x1e, 0x00], 0x5f1e),
            (&[0xbf, 0x01, 0x00], 0xbf01),
            (&[0x5f, 0x80, 0x01, 0x00], 0x5f80),
            (&[0x5f, 0x80, 0x7f, 0x00], 0x5f80),
            (&[0x1f, 0x80, 0x9f, 0x00], 0x1f80),
        ] {
            assert_eq!(
                Tlv::parse(input).unwrap_err(),
                TlvError::NonMinimalTag { tag },
                "{input:02x?}"
            );
        }
        assert_eq!(
            TlvError::NonMinimalTag { tag: 0x5f80 }.to_string(),
            "TLV tag 5F80 is written in more bytes than needed (X.690 8.1.2.4.2)"
        );
    }

    #[test]
    fn minimal_multi_byte_tags_still_parse() {
        // 5F1F: tag number 31, the smallest that needs two bytes; PIV's 5FC102; 9F7F.
        for (input, tag) in [
            (&[0x5f, 0x1f, 0x00][..], 0x5f1f),
            (&[0x9f, 0x7f, 0x00], 0x9f7f),
            (&[0x5f, 0xc1, 0x02, 0x00], 0x5f_c102),
            (&[0x7f, 0x81, 0x00, 0x00], 0x7f_8100),
        ] {
            assert_eq!(Tlv::parse(input).unwrap().0.tag(), tag, "{input:02x?}");
        }
    }

    /// Every two-byte and three-byte tag: accepted exactly when X.690 allows it, i.e. when
    /// the tag number needs the bytes it uses (31 and up for two, 128 and up for three).
    #[test]
    fn every_multi_byte_tag_is_accepted_exactly_when_minimal() {
        for first in [0x1f_u8, 0x5f, 0x7f, 0x9f, 0xbf, 0xdf, 0xff] {
            for second in 0..=0xff_u8 {
                let thirds: &[u8] = if second & 0x80 == 0 {
                    &[0]
                } else {
                    &[0x00, 0x01, 0x7f]
                };
                for &third in thirds {
                    let bytes: Vec<u8> = if second & 0x80 == 0 {
                        vec![first, second]
                    } else {
                        vec![first, second, third]
                    };
                    let minimal = match bytes.len() {
                        2 => tag_number(&bytes) >= 31,
                        _ => tag_number(&bytes) >= 128,
                    };
                    let mut input = bytes.clone();
                    input.push(0x00);
                    assert_eq!(Tlv::parse(&input).is_ok(), minimal, "{bytes:02x?}");
                }
            }
        }
    }

    /// X.690 8.1.3: a length below 128 in one byte; `81 xx` for 128 to 255; `82 xx xx` for 256
    /// to 65535; each only where the shorter form cannot hold it (DER's minimal length).
    #[test]
    fn every_length_form_parses_exactly_when_minimal() {
        let value = vec![0xa5; 0x1_0000];
        let parse_len = |header: &[u8], len: usize| {
            let mut input = vec![0x53];
            input.extend_from_slice(header);
            input.extend_from_slice(&value[..len]);
            Tlv::parse(&input).map(|(tlv, rest)| (tlv.value().len(), rest.len()))
        };
        assert_eq!(parse_len(&[0x00], 0), Ok((0, 0)));
        assert_eq!(parse_len(&[0x7f], 0x7f), Ok((0x7f, 0)));
        for len in [0x80_usize, 0x81, 0xff] {
            assert_eq!(parse_len(&[0x81, len as u8], len), Ok((len, 0)), "{len}");
        }
        for len in [0x00_u8, 0x01, 0x7f] {
            assert_eq!(
                parse_len(&[0x81, len], usize::from(len)),
                Err(TlvError::NonMinimalLength { tag: 0x53 }),
                "81 {len:02x}"
            );
        }
        for len in [0x100_usize, 0x101, 0x1234, 0xffff] {
            let [high, low] = u16::try_from(len).unwrap().to_be_bytes();
            assert_eq!(parse_len(&[0x82, high, low], len), Ok((len, 0)), "{len}");
        }
        for len in [0x0000_usize, 0x007f, 0x0080, 0x00ff] {
            let [high, low] = u16::try_from(len).unwrap().to_be_bytes();
            assert_eq!(
                parse_len(&[0x82, high, low], len),
                Err(TlvError::NonMinimalLength { tag: 0x53 }),
                "82 {high:02x} {low:02x}"
            );
        }
        let truncated = Err(TlvError::TruncatedLength { tag: 0x53 });
        assert_eq!(parse_len(&[], 0), truncated);
        assert_eq!(parse_len(&[0x81], 0), truncated);
        assert_eq!(parse_len(&[0x82, 0x01], 0), truncated);
        assert_eq!(
            parse_len(&[0x80], 0),
            Err(TlvError::IndefiniteLength { tag: 0x53 })
        );
        for first in [0x83_u8, 0x84, 0xff] {
            assert_eq!(
                parse_len(&[first, 1, 0, 0, 0], 0),
                Err(TlvError::LengthTooLong { tag: 0x53 }),
                "{first:02x}"
            );
        }
    }

    /// The writer's headers are the minimal ones above, byte for byte, and parse back.
    #[test]
    fn the_writer_uses_the_shortest_length_form() {
        let value = vec![0x5a; 0x1_0000];
        let mut out = vec![0; 0x1_0000 + 4];
        for (len, header) in [
            (0_usize, &[0x53, 0x00][..]),
            (0x7f, &[0x53, 0x7f]),
            (0x80, &[0x53, 0x81, 0x80]),
            (0xff, &[0x53, 0x81, 0xff]),
            (0x100, &[0x53, 0x82, 0x01, 0x00]),
            (0x1234, &[0x53, 0x82, 0x12, 0x34]),
            (0xffff, &[0x53, 0x82, 0xff, 0xff]),
        ] {
            let mut writer = Writer::new(&mut out);
            writer.tlv(0x53, &value[..len]).unwrap();
            let written = writer.len();
            assert_eq!(written, header.len() + len, "{len}");
            assert_eq!(&out[..header.len()], header, "{len}");
            let (tlv, rest) = Tlv::parse(&out[..written]).unwrap();
            assert_eq!((tlv.tag(), tlv.value().len(), rest.len()), (0x53, len, 0));
        }
        // Over 65535 bytes has no two-byte length: refused, never truncated.
        let mut writer = Writer::new(&mut out);
        assert_eq!(writer.header(0x53, 0x1_0000), Err(Full));
        // A buffer too small for the header or the value is refused too.
        let mut small = [0u8; 3];
        assert_eq!(Writer::new(&mut small).header(0x53, 0x100), Err(Full));
        assert_eq!(Writer::new(&mut small).tlv(0x53, &[1, 2]), Err(Full));
    }
}
