//! Key text: the 48-hex-digit profile-template form in, the base64 `diversifiedkey` body out.
//!
//! Both directions handle the key itself, so both use RustCrypto's constant-time codecs
//! (`base16ct`, `base64ct`: no branch and no table look-up on the bytes) instead of the `hex` and
//! `base64` crates, which the crate keeps for public data such as challenges and card IDs.
//!
//! A valid key's text takes one data-dependent decision: valid or not, which the caller learns
//! anyway. Only on the error path does the parser go back over the text to say where it went
//! wrong; by then there is no key, only a typo to report.

use zeroize::Zeroize;

use crate::error::KeyError;

/// Decodes exactly `2 * N` hex digits, in either case, into `out`.
pub(crate) fn decode_hex<const N: usize>(text: &str, out: &mut [u8; N]) -> Result<(), KeyError> {
    let digits = 2 * N;
    // The length is public; the digits are not.
    if text.len() == digits && base16ct::mixed::decode(text, out).is_ok() {
        return Ok(());
    }
    out.zeroize();
    Err(describe_bad_hex(text, digits))
}

/// Says what is wrong with key text that did not decode: the first character that is not a hex
/// digit (among the first `digits`), else the length in characters. Variable time, and run only
/// when there is no key to protect.
fn describe_bad_hex(text: &str, digits: usize) -> KeyError {
    if let Some(position) = text.chars().position(|c| !c.is_ascii_hexdigit()) {
        if position < digits {
            return KeyError::NotHex { position };
        }
    }
    KeyError::HexLength {
        expected: digits,
        found: text.chars().count(),
    }
}

/// The standard base64 (with padding) of key bytes, in a string that is wiped on drop.
#[cfg(feature = "alloc")]
pub(crate) fn encode_base64(bytes: &[u8]) -> zeroize::Zeroizing<alloc::string::String> {
    use base64ct::Encoding as _;
    zeroize::Zeroizing::new(base64ct::Base64::encode_string(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_either_case_and_reports_errors() {
        let mut out = [0u8; 2];
        assert_eq!(decode_hex("aB0f", &mut out), Ok(()));
        assert_eq!(out, [0xab, 0x0f]);
        assert_eq!(
            decode_hex("aB0g", &mut out),
            Err(KeyError::NotHex { position: 3 })
        );
        assert_eq!(out, [0, 0], "a failed decode leaves nothing behind");
        assert_eq!(
            decode_hex("aB0", &mut out),
            Err(KeyError::HexLength {
                expected: 4,
                found: 3
            })
        );
        assert_eq!(
            decode_hex("aB0fe", &mut out),
            Err(KeyError::HexLength {
                expected: 4,
                found: 5
            })
        );
        // Four bytes but two characters: the first non-hex character is named.
        assert_eq!(
            decode_hex("éé", &mut out),
            Err(KeyError::NotHex { position: 0 })
        );
    }

    #[cfg(feature = "alloc")]
    #[test]
    fn base64_matches_the_base64_crate() {
        use base64::Engine as _;
        for len in [16usize, 24, 32] {
            let bytes: std::vec::Vec<u8> = (0..len).map(|i| (i * 37 + 11) as u8).collect();
            assert_eq!(
                encode_base64(&bytes).as_str(),
                base64::engine::general_purpose::STANDARD.encode(&bytes)
            );
        }
    }
}
