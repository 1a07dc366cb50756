//! Counts in the card layer's messages: "1 byte", never "1 bytes" (issue #14), and every other
//! count plural.

use cardadmin_card::apdu::{ApduError, TlvError};
use cardadmin_card::auth::AuthError;

#[test]
fn a_count_of_one_is_singular() {
    let one = [
        (
            ApduError::ResponseTooShort { found: 1 }.to_string(),
            "response APDU must end in a 2-byte status word, got 1 byte",
        ),
        (
            ApduError::CommandLength { lc: 2, found: 1 }.to_string(),
            "command APDU announces Lc = 2 data bytes, but 1 byte follows the Lc field",
        ),
        (
            TlvError::Truncated {
                tag: 0x81,
                expected: 1,
                found: 0,
            }
            .to_string(),
            "TLV tag 81 announces 1 byte, only 0 follow",
        ),
        (
            TlvError::Truncated {
                tag: 0x81,
                expected: 2,
                found: 1,
            }
            .to_string(),
            "TLV tag 81 announces 2 bytes, only 1 follows",
        ),
        (
            AuthError::Length {
                tag: 0x81,
                expected: 8,
                found: 1,
            }
            .to_string(),
            "data object 81 has 1 byte, expected 8",
        ),
    ];
    for (got, expected) in one {
        assert_eq!(got, expected);
    }
    assert_eq!(
        ApduError::CommandLength { lc: 5, found: 0 }.to_string(),
        "command APDU announces Lc = 5 data bytes, but 0 bytes follow the Lc field"
    );
}
