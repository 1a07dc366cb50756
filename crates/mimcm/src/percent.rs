//! Percent-decoding as a query string or a path segment is read: `%XX` escapes, `+` as a space
//! in a query, and the checks .NET would skip (a `%` without two hex digits, bytes that are not
//! UTF-8, NUL characters). Shared by the route and the query parsers.

use alloc::string::String;
use alloc::vec::Vec;

use crate::RequestError;

/// A percent-decoded value, and where the first unencoded `+` was (as a character position in
/// the decoded text).
#[derive(Debug, Default)]
pub(crate) struct Value {
    pub(crate) text: String,
    pub(crate) first_plus: Option<usize>,
}

/// Percent-decodes `raw`, with `+` as a space when `plus_is_space` (query strings), into UTF-8
/// text without NUL characters.
pub(crate) fn decode(
    raw: &str,
    plus_is_space: bool,
    parameter: &'static str,
) -> Result<Value, RequestError> {
    let mut bytes = Vec::with_capacity(raw.len());
    let mut plus_at_byte = None;
    let mut input = raw.bytes().enumerate();
    while let Some((position, byte)) = input.next() {
        match byte {
            b'%' => {
                let high = input.next().and_then(|(_, digit)| hex_digit(digit));
                let low = input.next().and_then(|(_, digit)| hex_digit(digit));
                match (high, low) {
                    (Some(high), Some(low)) => bytes.push((high << 4) | low),
                    _ => {
                        return Err(RequestError::PercentEncoding {
                            parameter,
                            position,
                        })
                    }
                }
            }
            b'+' if plus_is_space => {
                plus_at_byte.get_or_insert(bytes.len());
                bytes.push(b' ');
            }
            _ => bytes.push(byte),
        }
    }
    if bytes.contains(&0) {
        return Err(RequestError::Nul { parameter });
    }
    let text = String::from_utf8(bytes).map_err(|_| RequestError::NotUtf8 { parameter })?;
    let first_plus = plus_at_byte.map(|at| {
        text.char_indices()
            .take_while(|&(index, _)| index < at)
            .count()
    });
    Ok(Value { text, first_plus })
}

pub(crate) fn hex_digit(digit: u8) -> Option<u8> {
    // `to_digit(16)` is below 16, so the cast is exact.
    char::from(digit).to_digit(16).map(|value| value as u8)
}
