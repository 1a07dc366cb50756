//! Admin keys in and out: hex text and byte slices in, with errors that name the position and
//! the length but never the key; `Debug` and the check value out, never a key byte.

use cardadmin::{AdminKey, KeyError};
use proptest::prelude::*;

#[test]
fn admin_key_hex_errors_name_character_positions() {
    let zeros = "0".repeat(48);
    assert!(AdminKey::from_hex(&zeros).is_ok());
    assert!(AdminKey::from_hex(&zeros.to_uppercase()).is_ok());
    // Positions count characters, not bytes.
    assert_eq!(
        AdminKey::from_hex(&format!("é{}", &zeros[1..])).unwrap_err(),
        KeyError::NotHex { position: 0 }
    );
    assert_eq!(
        AdminKey::from_hex(&format!("{}é", &zeros[..47])).unwrap_err(),
        KeyError::NotHex { position: 47 }
    );
    // A bad character past the 48th is a length problem, not a hex one.
    assert_eq!(
        AdminKey::from_hex(&format!("{zeros}é")).unwrap_err(),
        KeyError::HexLength {
            expected: 48,
            found: 49
        }
    );
    assert_eq!(
        AdminKey::from_hex(&zeros[..47]).unwrap_err(),
        KeyError::HexLength {
            expected: 48,
            found: 47
        }
    );
    assert_eq!(
        AdminKey::from_hex("").unwrap_err(),
        KeyError::HexLength {
            expected: 48,
            found: 0
        }
    );
    assert_eq!(
        AdminKey::from_hex(&format!("0x{}", &zeros[2..])).unwrap_err(),
        KeyError::NotHex { position: 1 }
    );
    assert_eq!(
        AdminKey::from_hex(&" ".repeat(1000)).unwrap_err(),
        KeyError::NotHex { position: 0 }
    );
    let key = AdminKey::from_hex("0123456789abcdefFEDCBA9876543210AaBbCcDdEeFf0011").unwrap();
    assert_eq!(
        key.expose_secret(),
        &[
            0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef, 0xfe, 0xdc, 0xba, 0x98, 0x76, 0x54,
            0x32, 0x10, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff, 0x00, 0x11
        ]
    );
}

#[test]
fn admin_key_text_mistakes() {
    // Empty, short, `0x` and non-ASCII texts: admin_key_hex_errors_name_character_positions.
    let good = "0123456789abcdef23456789ABCDEF01456789abcdef0123";
    assert!(AdminKey::from_hex(good).is_ok());
    assert_eq!(
        AdminKey::from_hex(&format!("{good}0")).unwrap_err(),
        KeyError::HexLength {
            expected: 48,
            found: 49
        }
    );
    assert_eq!(
        AdminKey::from_hex(&format!("{} {}", &good[..24], &good[25..])).unwrap_err(),
        KeyError::NotHex { position: 24 }
    );
    // The message names the position but never echoes the text of the would-be secret.
    let message = AdminKey::from_hex(&format!("{}Z", &good[..47]))
        .unwrap_err()
        .to_string();
    assert!(
        message.contains("position 47") && !message.contains('Z'),
        "{message}"
    );
}

#[test]
fn admin_key_slices_must_be_24_bytes() {
    for len in [0, 1, 8, 16, 23, 25, 48, 4096] {
        assert_eq!(
            AdminKey::from_slice(&vec![0; len]).unwrap_err(),
            KeyError::ByteLength {
                expected: 24,
                found: len
            }
        );
    }
    let bytes: Vec<u8> = (0..24).collect();
    assert_eq!(
        AdminKey::from_slice(&bytes).unwrap().expose_secret(),
        &bytes[..]
    );
}

#[test]
fn key_error_messages() {
    assert_eq!(
        KeyError::ByteLength {
            expected: 24,
            found: 16
        }
        .to_string(),
        "admin key must be 24 bytes, got 16"
    );
    assert_eq!(
        KeyError::HexLength {
            expected: 48,
            found: 47
        }
        .to_string(),
        "admin key must be 48 hex digits, got 47 characters"
    );
    assert_eq!(
        KeyError::NotHex { position: 3 }.to_string(),
        "admin key has a character that is not a hex digit (0-9, a-f, A-F) at position 3"
    );
    assert_eq!(
        KeyError::DiversificationInputLength {
            min: 1,
            max: 64,
            found: 65
        }
        .to_string(),
        "diversification input must be 1 to 64 bytes, got 65"
    );
}

#[test]
fn key_debug_and_check_value_never_show_key_bytes() {
    let key = AdminKey::from_bytes([0xab; 24]);
    let debug = format!("{key:?}");
    assert!(!debug.to_lowercase().contains("abab"), "{debug}");
    assert_eq!(
        debug,
        format!(
            "AdminKey {{ algorithm: Tdes, check_value: {} }}",
            key.check_value()
        )
    );
    assert_eq!(key.check_value().to_string().len(), 6);
}

/// Issue #14: `KeyCheckValue`'s `Debug` printed decimal bytes (`KeyCheckValue([140, 166, 77])`);
/// it shows the same hex as `Display`.
#[test]
fn check_value_debug_is_the_hex_of_display() {
    let check_value = AdminKey::from_bytes([0; 24]).check_value();
    assert_eq!(check_value.as_bytes(), &[0x8c, 0xa6, 0x4d]);
    assert_eq!(format!("{check_value:?}"), "KeyCheckValue(8CA64D)");
    for byte in [0x01, 0x5a, 0xab, 0xfe] {
        let check_value = AdminKey::from_bytes([byte; 24]).check_value();
        assert_eq!(
            format!("{check_value:?}"),
            format!("KeyCheckValue({check_value})")
        );
        assert_eq!(
            format!("{check_value}"),
            check_value
                .as_bytes()
                .iter()
                .map(|b| format!("{b:02X}"))
                .collect::<String>()
        );
    }
}

proptest! {
    #[test]
    fn key_hex_round_trips_in_either_case(bytes in any::<[u8; 24]>()) {
        let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        for key in [
            AdminKey::from_hex(&hex).unwrap(),
            AdminKey::from_hex(&hex.to_uppercase()).unwrap(),
            AdminKey::from_slice(&bytes).unwrap(),
        ] {
            prop_assert_eq!(key.expose_secret(), &bytes);
        }
    }

    #[test]
    fn debug_never_shows_key_bytes(key in any::<[u8; 24]>()) {
        let key = AdminKey::from_bytes(key);
        let debug = format!("{key:?}");
        let hex: String = key.expose_secret().iter().map(|b| format!("{b:02x}")).collect();
        prop_assert!(!debug.to_lowercase().contains(&hex[..6]));
        prop_assert_eq!(debug, format!("AdminKey {{ algorithm: Tdes, check_value: {} }}", key.check_value()));
    }
}
