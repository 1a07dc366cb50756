//! Hardening: hostile and boundary inputs through the public API, with the exact outcome each
//! must have. Many of these pin down a boundary (`<` against `<=`, an offset, an order of
//! checks) that a mutation of the code would move, so the mutation run of issue #3 catches it.

use cardadmin::rand_core::{self, CryptoRng, RngCore};
use cardadmin::{
    cm, AdminKey, CardId, Challenge, CharClass, CharRule, CmError, GenerateError, KeyError,
    KeyFinding, MasterKey, ParseError, PinPolicy, PinViolation, PolicyError, Response,
    UserPinOption,
};

// ---------------------------------------------------------------------------------------------
// A scripted generator
// ---------------------------------------------------------------------------------------------

/// Plays back `script`, then `then` forever; or fails once the script is out when `then` is
/// `None`. Counts `try_fill_bytes` calls.
struct Script {
    script: Vec<u8>,
    position: usize,
    then: Option<u8>,
    calls: usize,
}

impl Script {
    fn new(script: &[u8], then: Option<u8>) -> Self {
        Self {
            script: script.to_vec(),
            position: 0,
            then,
            calls: 0,
        }
    }
}

impl RngCore for Script {
    fn next_u32(&mut self) -> u32 {
        rand_core::impls::next_u32_via_fill(self)
    }
    fn next_u64(&mut self) -> u64 {
        rand_core::impls::next_u64_via_fill(self)
    }
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        self.try_fill_bytes(dest).unwrap()
    }
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
        self.calls += 1;
        for slot in dest {
            *slot = match (self.script.get(self.position), self.then) {
                (Some(&byte), _) => byte,
                (None, Some(byte)) => byte,
                (None, None) => {
                    let code = std::num::NonZeroU32::new(rand_core::Error::CUSTOM_START).unwrap();
                    return Err(code.into());
                }
            };
            self.position += 1;
        }
        Ok(())
    }
}

impl CryptoRng for Script {}

fn policy(min: usize, max: usize, rules: [CharRule; 4], reject_weak: bool) -> PinPolicy {
    let [digits, lowercase, uppercase, special] = rules;
    PinPolicy::builder()
        .min_len(min)
        .max_len(max)
        .digits(digits)
        .lowercase(lowercase)
        .uppercase(uppercase)
        .special(special)
        .reject_weak(reject_weak)
        .build()
        .unwrap()
}

use CharRule::{Allow, Disallow, Require};

const DIGITS_ONLY: [CharRule; 4] = [Allow, Disallow, Disallow, Disallow];
const EVERYTHING: [CharRule; 4] = [Allow, Allow, Allow, Allow];

/// Generates from `script`, then `then`; `None` fails once the script is out. The generator is
/// asked for 64 bytes at a time, so a short script needs a `then`.
fn generate(policy: &PinPolicy, script: &[u8], then: Option<u8>) -> Result<String, GenerateError> {
    policy
        .generate(&mut Script::new(script, then))
        .map(|pin| pin.as_str().to_owned())
}

// ---------------------------------------------------------------------------------------------
// Admin key text and bytes
// ---------------------------------------------------------------------------------------------

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

#[test]
fn verify_rejects_every_single_bit_flip() {
    let key = AdminKey::from_hex("0123456789abcdef23456789abcdef01456789abcdef0123").unwrap();
    let challenge = Challenge::from_base64("1hFD+cz/0so=").unwrap();
    let response = key.respond(&challenge).unwrap();
    assert!(key.verify(&challenge, &response));
    for bit in 0..64 {
        let mut bytes: [u8; 8] = response.as_bytes().try_into().unwrap();
        bytes[bit / 8] ^= 1 << (bit % 8);
        assert!(
            !key.verify(&challenge, &Response::from_bytes(bytes)),
            "bit {bit}"
        );
        assert_ne!(Response::from_bytes(bytes), response, "bit {bit}");
    }
    // A response for another key or another challenge is rejected too.
    let other_key = AdminKey::from_bytes([0x5a; 24]);
    assert!(!other_key.verify(&challenge, &response));
    assert!(!key.verify(&Challenge::from_bytes([0; 8]), &response));
}

// ---------------------------------------------------------------------------------------------
// Key audit
// ---------------------------------------------------------------------------------------------

fn findings(hex: &str) -> Vec<KeyFinding> {
    AdminKey::from_hex(hex)
        .unwrap()
        .audit()
        .findings()
        .collect()
}

#[test]
fn audit_findings_are_exact() {
    assert_eq!(
        findings("0123456789abcdef23456789abcdef01456789abcdef0123"),
        []
    );
    // The all-zero key: every part weak (parity cleared, 0000.. is 0101..), all equal.
    assert_eq!(
        findings(&"0".repeat(48)),
        [
            KeyFinding::WeakPart { part: 1 },
            KeyFinding::WeakPart { part: 2 },
            KeyFinding::WeakPart { part: 3 },
            KeyFinding::K1EqualsK2,
            KeyFinding::K2EqualsK3,
            KeyFinding::K1EqualsK3,
            KeyFinding::AllZero,
        ]
    );
    assert_eq!(
        findings("010203040506070801020304050607080102030405060708"),
        [
            KeyFinding::K1EqualsK2,
            KeyFinding::K2EqualsK3,
            KeyFinding::K1EqualsK3,
            KeyFinding::MinidriverDefault,
        ]
    );
    // Each part alone: weak, semi-weak, in each position.
    assert_eq!(
        findings("fefefefefefefefe23456789abcdef01456789abcdef0123"),
        [KeyFinding::WeakPart { part: 1 }]
    );
    assert_eq!(
        findings("0123456789abcdefe0e0e0e0f1f1f1f1456789abcdef0123"),
        [KeyFinding::WeakPart { part: 2 }]
    );
    assert_eq!(
        findings("0123456789abcdef23456789abcdef011f1f1f1f0e0e0e0e"),
        [KeyFinding::WeakPart { part: 3 }]
    );
    assert_eq!(
        findings("01fe01fe01fe01fe23456789abcdef01456789abcdef0123"),
        [KeyFinding::SemiWeakPart { part: 1 }]
    );
    assert_eq!(
        findings("0123456789abcdeffee0fee0fef1fef1456789abcdef0123"),
        [KeyFinding::SemiWeakPart { part: 2 }]
    );
    assert_eq!(
        findings("0123456789abcdef23456789abcdef01e001e001f101f101"),
        [KeyFinding::SemiWeakPart { part: 3 }]
    );
    // Parity bits are ignored when comparing: 0x00 and 0x01 are the same DES key byte.
    assert_eq!(
        findings("0000000000000001010101010101010000000000000000ff"),
        [
            KeyFinding::WeakPart { part: 1 },
            KeyFinding::WeakPart { part: 2 },
            KeyFinding::K1EqualsK2,
        ]
    );
    assert_eq!(
        findings("0123456789abcdef0123456789abcdef456789abcdef0123"),
        [KeyFinding::K1EqualsK2]
    );
    assert_eq!(
        findings("456789abcdef01230123456789abcdef0123456789abcdef"),
        [KeyFinding::K2EqualsK3]
    );
}

#[test]
fn audit_cleanliness_and_parity() {
    let clean = AdminKey::from_hex("0123456789abcdef23456789abcdef01456789abcdef0123").unwrap();
    assert!(clean.audit().is_clean());
    assert!(!AdminKey::from_bytes([0; 24]).audit().is_clean());
    // Odd parity is separate from cleanliness.
    assert!(clean.audit().has_odd_parity());
    let mut even: [u8; 24] = clean.expose_secret().try_into().unwrap();
    even[23] ^= 1;
    let even = AdminKey::from_bytes(even);
    assert!(!even.audit().has_odd_parity());
    assert!(even.audit().is_clean());
    let mut first_even: [u8; 24] = clean.expose_secret().try_into().unwrap();
    first_even[0] ^= 1;
    assert!(!AdminKey::from_bytes(first_even).audit().has_odd_parity());
}

#[test]
fn audit_finding_messages() {
    let messages: Vec<String> = [
        KeyFinding::WeakPart { part: 2 },
        KeyFinding::SemiWeakPart { part: 3 },
        KeyFinding::K1EqualsK2,
        KeyFinding::K2EqualsK3,
        KeyFinding::K1EqualsK3,
        KeyFinding::AllZero,
        KeyFinding::MinidriverDefault,
    ]
    .iter()
    .map(ToString::to_string)
    .collect();
    assert_eq!(
        messages,
        [
            "K2 is a DES weak key",
            "K3 is a DES semi-weak key",
            "K1 equals K2: the key degenerates to single DES",
            "K2 equals K3: the key degenerates to single DES",
            "K1 equals K3: the key is two-key Triple-DES",
            "the key is all zeros, a well-known default",
            "the key is the well-known minidriver default 0102030405060708 x3",
        ]
    );
}

// ---------------------------------------------------------------------------------------------
// Diversification
// ---------------------------------------------------------------------------------------------

#[test]
fn diversification_input_length_bounds() {
    let master = MasterKey::new(cardadmin::Algorithm::Tdes, &[0x11; 24]).unwrap();
    for len in [1, 16, 64] {
        assert!(master.diversify_input(&vec![7; len]).is_ok(), "{len}");
    }
    for len in [0, 65, 1000] {
        assert_eq!(
            master.diversify_input(&vec![7; len]).unwrap_err(),
            KeyError::DiversificationInputLength {
                min: 1,
                max: 64,
                found: len
            }
        );
    }
    let card = CardId::from_bytes([3; 16]);
    assert_eq!(
        master.diversify(&card).expose_secret(),
        master.diversify_input(&[3; 16]).unwrap().expose_secret()
    );
}

#[test]
fn diversified_keys_differ_per_card_and_part() {
    let master = MasterKey::from_hex("00112233445566778899aabbccddeeff0102030405060708").unwrap();
    let one = master.diversify(&CardId::from_bytes([1; 16]));
    let two = master.diversify(&CardId::from_bytes([2; 16]));
    assert_ne!(one.expose_secret(), two.expose_secret());
    let bytes = one.expose_secret();
    // The three parts use different constants, so they differ.
    assert_ne!(bytes[..8], bytes[8..16]);
    assert_ne!(bytes[8..16], bytes[16..]);
    assert!(one.audit().has_odd_parity());
}

// ---------------------------------------------------------------------------------------------
// Card IDs
// ---------------------------------------------------------------------------------------------

#[test]
fn card_id_forms_and_layout() {
    let expected = [
        0x3f, 0xf1, 0x88, 0xbc, 0xba, 0x83, 0x37, 0x40, 0x82, 0x62, 0x46, 0xeb, 0xa1, 0x29, 0x1c,
        0x6e,
    ];
    for text in [
        "bc88f13f-83ba-4037-8262-46eba1291c6e",
        "BC88F13F-83BA-4037-8262-46EBA1291C6E",
        "{bc88f13f-83ba-4037-8262-46eba1291c6e}",
        "bc88f13f83ba4037826246eba1291c6e",
    ] {
        let id = CardId::parse(text).unwrap();
        assert_eq!(id.as_bytes(), &expected, "{text}");
        assert_eq!(id.to_string(), "bc88f13f-83ba-4037-8262-46eba1291c6e");
        assert_eq!(text.parse::<CardId>(), Ok(id));
    }
    assert_eq!(
        format!("{:?}", CardId::from_bytes(expected)),
        "CardId(bc88f13f-83ba-4037-8262-46eba1291c6e)"
    );
    // Each field: distinct bytes show which way each goes.
    let id = CardId::from_bytes([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15]);
    assert_eq!(id.to_string(), "03020100-0504-0706-0809-0a0b0c0d0e0f");
    assert_eq!(
        CardId::parse("03020100-0504-0706-0809-0a0b0c0d0e0f"),
        Ok(id)
    );
}

#[test]
fn card_id_errors() {
    const WHAT: &str = "card ID";
    let length = |found| ParseError::Length {
        what: WHAT,
        expected: "32 (bare hex), 36 (hyphenated) or 38 (hyphenated, in '{}' or '()')",
        found,
    };
    let bracketed_length = |found| ParseError::Length {
        what: WHAT,
        expected: "38 (a hyphenated GUID in '{}' or '()')",
        found,
    };
    assert_eq!(CardId::parse(""), Err(ParseError::Empty { what: WHAT }));
    assert_eq!(
        CardId::parse(" \t\n"),
        Err(ParseError::Empty { what: WHAT })
    );
    assert_eq!(CardId::parse("not-a-guid"), Err(length(10)));
    assert_eq!(
        CardId::parse("{bc88f13f83ba4037826246eba1291c6e}"),
        Err(bracketed_length(34))
    );
    assert_eq!(
        CardId::parse("(bc88f13f83ba4037826246eba1291c6e)"),
        Err(bracketed_length(34))
    );
    assert_eq!(
        CardId::parse("bc88f13f-83ba-4037-8262-46eba1291c6e0"),
        Err(length(37))
    );
    assert_eq!(CardId::parse(&"é".repeat(36)).unwrap_err(), {
        ParseError::InvalidCharacter {
            what: WHAT,
            position: 0,
            found: 'é',
            expected: "a hex digit",
        }
    });
    for text in [
        "{bc88f13f-83ba-4037-8262-46eba1291c6e",
        "bc88f13f-83ba-4037-8262-46eba1291c6e}",
        "}",
    ] {
        assert_eq!(
            CardId::parse(text),
            Err(ParseError::UnbalancedBraces { what: WHAT }),
            "{text}"
        );
    }
    // Hyphens exactly at 8, 13, 18, 23 (plus one inside braces).
    for (text, position, found, expected) in [
        ("bc88f13f_83ba-4037-8262-46eba1291c6e", 8, '_', "'-'"),
        ("bc88f13f-83ba_4037-8262-46eba1291c6e", 13, '_', "'-'"),
        ("bc88f13f-83ba-4037_8262-46eba1291c6e", 18, '_', "'-'"),
        ("bc88f13f-83ba-4037-8262_46eba1291c6e", 23, '_', "'-'"),
        ("{bc88f13f-83ba-4037-8262_46eba1291c6e}", 24, '_', "'-'"),
        (
            "bc88f13-f83ba-4037-8262-46eba1291c6e",
            7,
            '-',
            "a hex digit",
        ),
        (
            "{bc88f13f-83ba-4037-8262-46eba1291c6g}",
            36,
            'g',
            "a hex digit",
        ),
        ("bc88f13f83ba4037826246eba1291c6-", 31, '-', "a hex digit"),
    ] {
        assert_eq!(
            CardId::parse(text),
            Err(ParseError::InvalidCharacter {
                what: WHAT,
                position,
                found,
                expected,
            }),
            "{text}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Challenge and response base64
// ---------------------------------------------------------------------------------------------

#[test]
fn base64_errors_name_the_mistake() {
    const WHAT: &str = "challenge";
    let parse = Challenge::from_base64;
    assert_eq!(parse(""), Err(ParseError::Empty { what: WHAT }));
    assert_eq!(
        parse("1hFD cz/0so="),
        Err(ParseError::Space {
            what: WHAT,
            position: 4
        })
    );
    assert_eq!(
        parse("1hFD-cz/0so="),
        Err(ParseError::UrlSafeAlphabet {
            what: WHAT,
            position: 4,
            found: '-'
        })
    );
    assert_eq!(
        parse("1hFD+cz_0so="),
        Err(ParseError::UrlSafeAlphabet {
            what: WHAT,
            position: 7,
            found: '_'
        })
    );
    assert_eq!(
        parse("1hFD+cz/0so"),
        Err(ParseError::MissingPadding {
            what: WHAT,
            found: 11
        })
    );
    for (text, found) in [
        ("AAAAAAAA", 6),
        ("AAAAAAAAAA", 7),
        ("AAAAAAAAAAAAAA", 10),
        ("AAAAAAAAAAAAAAAA", 12),
        ("AA==", 1),
        ("AAAAAAAAAAAAAAA=", 11),
        ("AAAAAAAAAAAAAA==", 10),
    ] {
        let expected = ParseError::DecodedLength {
            what: WHAT,
            expected: 8,
            found,
        };
        assert_eq!(parse(text), Err(expected), "{text}");
    }
    for text in [
        "A",
        "AAAAA",
        "AAAAAAAAA",
        "AAAAAAAAAAAAA",
        "AAAAAAAAAA=",
        "AAAAAAAAA==",
    ] {
        assert_eq!(
            parse(text),
            Err(ParseError::Length {
                what: WHAT,
                expected: "12 or 24",
                found: text.chars().count()
            }),
            "{text}"
        );
    }
    for (text, position, found, expected) in [
        (
            "1hFD+cz/0so!",
            11,
            '!',
            "a standard base64 character (A-Z, a-z, 0-9, '+', '/')",
        ),
        ("1hFD+cz/0s=o", 11, 'o', "only '=' after padding starts"),
        ("AAAAAAAAA==A", 11, 'A', "the end of the text after two '='"),
        ("AAAAAAAAA===", 11, '=', "the end of the text after two '='"),
        (
            "é",
            0,
            'é',
            "a standard base64 character (A-Z, a-z, 0-9, '+', '/')",
        ),
    ] {
        assert_eq!(
            parse(text),
            Err(ParseError::InvalidCharacter {
                what: WHAT,
                position,
                found,
                expected,
            }),
            "{text}"
        );
    }
    assert_eq!(
        parse("1hFD+cz/0sp="),
        Err(ParseError::NonCanonical { what: WHAT })
    );
    assert_eq!(
        Response::from_base64("F0Zudm4wPLZ="),
        Err(ParseError::NonCanonical { what: "response" })
    );
    // Every byte value survives the round trip, in every position.
    for value in 0..=255u8 {
        for position in 0..8 {
            let mut bytes = [0x5a; 8];
            bytes[position] = value;
            let challenge = Challenge::from_bytes(bytes);
            assert_eq!(parse(&challenge.to_string()), Ok(challenge));
            let response = Response::from_bytes(bytes);
            assert_eq!(Response::from_base64(&response.to_string()), Ok(response));
        }
    }
}

#[test]
fn parse_error_messages() {
    let cases: [(ParseError, &str); 9] = [
        (ParseError::Empty { what: "card ID" }, "card ID is empty"),
        (
            ParseError::Length {
                what: "challenge",
                expected: "12",
                found: 13,
            },
            "challenge must be 12 characters long, got 13",
        ),
        (
            ParseError::InvalidCharacter {
                what: "card ID",
                position: 8,
                found: '_',
                expected: "'-'",
            },
            "card ID has '_' at position 8, expected '-'",
        ),
        (
            ParseError::Space {
                what: "challenge",
                position: 4,
            },
            "challenge has a space at position 4: a '+' was probably turned into a space by URL decoding; send it percent-encoded as %2B",
        ),
        (
            ParseError::UrlSafeAlphabet {
                what: "response",
                position: 2,
                found: '-',
            },
            "response has '-' at position 2: that is URL-safe base64; use the standard alphabet ('+' and '/')",
        ),
        (
            ParseError::MissingPadding {
                what: "challenge",
                found: 11,
            },
            "challenge is missing its '=' padding: expected 12 characters ending in '=', got 11",
        ),
        (
            ParseError::DecodedLength {
                what: "challenge",
                expected: 8,
                found: 6,
            },
            "challenge must decode to 8 bytes, got 6",
        ),
        (
            ParseError::NonCanonical { what: "challenge" },
            "challenge is not canonical base64: the unused bits of its last character must be zero",
        ),
        (
            ParseError::UnbalancedBraces { what: "card ID" },
            "card ID has unbalanced brackets: enclose it in '{' and '}' or in '(' and ')', or in neither",
        ),
    ];
    for (err, message) in cases {
        assert_eq!(err.to_string(), message);
    }
}

#[test]
fn response_equality_is_byte_equality() {
    let a = Response::from_bytes(*b"abcdefgh");
    assert_eq!(a, Response::from_bytes(*b"abcdefgh"));
    assert_ne!(a, Response::from_bytes(*b"abcdefgi"));
    assert_ne!(a, Response::from_bytes(*b"bbcdefgh"));
    assert_eq!(format!("{a:?}"), format!("Response({a})"));
    let c = Challenge::from_bytes(*b"abcdefgh");
    assert_eq!(format!("{c:?}"), "Challenge(YWJjZGVmZ2g=)");
    assert_eq!(a.to_string(), "YWJjZGVmZ2g=");
}

// ---------------------------------------------------------------------------------------------
// The REST facade
// ---------------------------------------------------------------------------------------------

#[test]
fn cm_errors_name_the_parameter_and_keep_their_source() {
    use std::error::Error as _;
    let key = AdminKey::from_bytes([0; 24]);
    let master = MasterKey::from_hex("00112233445566778899aabbccddeeff0102030405060708").unwrap();
    let guid = "bc88f13f-83ba-4037-8262-46eba1291c6e";
    // A bad card ID is reported before a bad challenge, diversified or not, and before the
    // missing master key.
    for (diversified, master) in [(false, Some(&master)), (true, Some(&master)), (true, None)] {
        let err = cm::authentication_response(&key, master, "x", "y", diversified).unwrap_err();
        assert!(matches!(err, CmError::CardId(_)), "{err:?}");
        assert!(
            err.to_string().starts_with("cardid: card ID must be"),
            "{err}"
        );
        let err = cm::authentication_response(&key, master, guid, "1hFD cz/0so=", diversified)
            .unwrap_err();
        assert_eq!(
            err,
            CmError::Challenge(ParseError::Space {
                what: "challenge",
                position: 4
            })
        );
        assert!(err.to_string().starts_with("challenge: value has a space"));
        assert_eq!(
            err.source().unwrap().to_string(),
            ParseError::Space {
                what: "challenge",
                position: 4
            }
            .to_string()
        );
    }
    let err = cm::diversified_key(&master, "").unwrap_err();
    assert_eq!(err, CmError::CardId(ParseError::Empty { what: "card ID" }));
    assert_eq!(err.to_string(), "cardid: card ID is empty");
    assert_eq!(err.source().unwrap().to_string(), "card ID is empty");

    let err = CmError::Pin(GenerateError::Rng);
    assert_eq!(
        err.to_string(),
        "server-proposed PIN: the random generator failed to produce bytes"
    );
    assert_eq!(
        err.source().unwrap().to_string(),
        "the random generator failed to produce bytes"
    );
}

#[test]
fn every_cm_error_gives_its_cause_as_source_and_only_then() {
    use std::error::Error as _;
    let parse = ParseError::Empty { what: "GUID" };
    let length = KeyError::ChallengeLength {
        algorithm: cardadmin::Algorithm::Aes128,
        expected: 16,
        found: 8,
    };
    let with_cause = [
        (CmError::CardId(parse), parse.to_string()),
        (CmError::Challenge(parse), parse.to_string()),
        (CmError::ChallengeLength(length), length.to_string()),
        (
            CmError::Pin(GenerateError::Rng),
            GenerateError::Rng.to_string(),
        ),
    ];
    for (err, cause) in with_cause {
        assert_eq!(err.source().map(|e| e.to_string()), Some(cause), "{err:?}");
    }
    let without_cause = [CmError::NoDiversificationKey, CmError::KeyStore];
    for err in without_cause {
        assert!(err.source().is_none(), "{err:?}");
    }
}

#[test]
fn cm_diversified_response_uses_the_card_key() {
    let initial = AdminKey::from_bytes([0x2a; 24]);
    let master = MasterKey::from_hex("00112233445566778899aabbccddeeff0102030405060708").unwrap();
    let guid = "bc88f13f-83ba-4037-8262-46eba1291c6e";
    let challenge = Challenge::from_base64("1hFD+cz/0so=").unwrap();
    let card_key = cm::diversified_key(&master, guid).unwrap();
    assert_eq!(
        card_key.expose_secret(),
        master
            .diversify(&CardId::parse(guid).unwrap())
            .expose_secret()
    );
    let diversified =
        cm::authentication_response(&initial, Some(&master), guid, "1hFD+cz/0so=", true).unwrap();
    let plain =
        cm::authentication_response(&initial, Some(&master), guid, "1hFD+cz/0so=", false).unwrap();
    assert_eq!(diversified, card_key.respond(&challenge).unwrap());
    // diversified=false is the initial key's answer, never the master's.
    assert_eq!(plain, initial.respond(&challenge).unwrap());
    assert_ne!(diversified, plain);
}

#[test]
fn cm_server_proposed_pin_follows_the_user_pin_option() {
    for (option, server) in [
        (UserPinOption::None, false),
        (UserPinOption::UserProvided, false),
        (UserPinOption::Randomized, true),
        (UserPinOption::ServerDistributed, true),
        (UserPinOption::CustomServerDistributed, false),
    ] {
        let policy = PinPolicy::builder()
            .user_pin_option(option)
            .build()
            .unwrap();
        assert_eq!(policy.server_generates(), server, "{option:?}");
        let mut rng = Script::new(b"\x05\x00\x03\x09\x01\x07\x02\x08", Some(0));
        let proposed = cm::server_proposed_pin(&policy, &mut rng).unwrap();
        assert_eq!(
            proposed.map(|pin| pin.as_str().to_owned()),
            server.then(|| "50391728".to_owned())
        );
        // Nothing is drawn from the generator when the server does not propose.
        assert_eq!(rng.calls, usize::from(server));
    }
    let err = cm::server_proposed_pin(&PinPolicy::default(), &mut Script::new(&[], None));
    assert_eq!(err.unwrap_err(), CmError::Pin(GenerateError::Rng));
}

// ---------------------------------------------------------------------------------------------
// PIN policy building
// ---------------------------------------------------------------------------------------------

#[test]
fn policy_length_bounds() {
    let build = |min, max| PinPolicy::builder().min_len(min).max_len(max).build();
    assert!(build(4, 4).is_ok());
    assert!(build(127, 127).is_ok());
    assert!(build(4, 127).is_ok());
    for (min, max, field, found) in [
        (3, 8, "min_len", 3),
        (0, 8, "min_len", 0),
        (128, 128, "min_len", 128),
        (6, 128, "max_len", 128),
        (6, 3, "max_len", 3),
        (usize::MAX, usize::MAX, "min_len", usize::MAX),
    ] {
        assert_eq!(
            build(min, max),
            Err(PolicyError::LengthOutOfRange {
                field,
                min: 4,
                max: 127,
                found
            }),
            "{min} {max}"
        );
    }
    assert_eq!(
        build(9, 8),
        Err(PolicyError::MinAboveMax {
            min_len: 9,
            max_len: 8
        })
    );
}

#[test]
fn policy_proposed_length() {
    let proposed = |min, max, proposed: Option<usize>| {
        let builder = PinPolicy::builder().min_len(min).max_len(max);
        match proposed {
            Some(len) => builder.proposed_len(len).build(),
            None => builder.build(),
        }
        .map(|policy| policy.proposed_len())
    };
    assert_eq!(proposed(4, 6, None), Ok(6));
    assert_eq!(proposed(10, 12, None), Ok(10));
    assert_eq!(proposed(4, 127, None), Ok(8));
    assert_eq!(proposed(4, 127, Some(4)), Ok(4));
    assert_eq!(proposed(4, 127, Some(127)), Ok(127));
    assert_eq!(proposed(6, 8, Some(6)), Ok(6));
    assert_eq!(proposed(6, 8, Some(8)), Ok(8));
    for len in [5, 9, 0, usize::MAX] {
        assert_eq!(
            proposed(6, 8, Some(len)),
            Err(PolicyError::ProposedOutOfRange {
                proposed_len: len,
                min_len: 6,
                max_len: 8
            })
        );
    }
}

#[test]
fn policy_needs_an_allowed_class() {
    for allowed in 0..4 {
        let mut rules = [Disallow; 4];
        rules[allowed] = Allow;
        let [digits, lowercase, uppercase, special] = rules;
        let built = PinPolicy::builder()
            .digits(digits)
            .lowercase(lowercase)
            .uppercase(uppercase)
            .special(special)
            .build();
        assert!(built.is_ok(), "{rules:?}");
    }
    let none = PinPolicy::builder()
        .digits(Disallow)
        .lowercase(Disallow)
        .uppercase(Disallow)
        .special(Disallow)
        .build();
    assert_eq!(none, Err(PolicyError::NoClassAllowed));
}

#[test]
fn policy_error_messages() {
    assert_eq!(
        PolicyError::LengthOutOfRange {
            field: "min_len",
            min: 4,
            max: 127,
            found: 3
        }
        .to_string(),
        "PIN policy min_len must be 4 to 127, got 3"
    );
    assert_eq!(
        PolicyError::MinAboveMax {
            min_len: 9,
            max_len: 8
        }
        .to_string(),
        "PIN policy min_len (9) must not be greater than max_len (8)"
    );
    assert_eq!(
        PolicyError::ProposedOutOfRange {
            proposed_len: 9,
            min_len: 6,
            max_len: 8
        }
        .to_string(),
        "PIN policy proposed_len must be within min_len..=max_len (6 to 8), got 9"
    );
    assert_eq!(
        PolicyError::NoClassAllowed.to_string(),
        "PIN policy disallows every character class: allow or require at least one of digits, lowercase, uppercase, special"
    );
}

#[test]
fn policy_getters_and_rules() {
    let policy = PinPolicy::builder()
        .min_len(5)
        .max_len(9)
        .proposed_len(7)
        .digits(Allow)
        .lowercase(Require)
        .uppercase(Disallow)
        .special(Require)
        .reject_weak(false)
        .user_pin_option(UserPinOption::ServerDistributed)
        .build()
        .unwrap();
    assert_eq!(
        (policy.min_len(), policy.max_len(), policy.proposed_len()),
        (5, 9, 7)
    );
    assert_eq!(policy.digits(), Allow);
    assert_eq!(policy.lowercase(), Require);
    assert_eq!(policy.uppercase(), Disallow);
    assert_eq!(policy.special(), Require);
    assert_eq!(policy.rule(CharClass::Digit), Allow);
    assert_eq!(policy.rule(CharClass::Lowercase), Require);
    assert_eq!(policy.rule(CharClass::Uppercase), Disallow);
    assert_eq!(policy.rule(CharClass::Special), Require);
    assert!(!policy.reject_weak());
    assert_eq!(policy.user_pin_option(), UserPinOption::ServerDistributed);
    assert!(policy.server_generates());
}

// ---------------------------------------------------------------------------------------------
// PIN validation
// ---------------------------------------------------------------------------------------------

#[test]
fn validate_checks_in_the_documented_order() {
    let policy = policy(6, 8, [Require, Allow, Disallow, Require], true);
    assert_eq!(
        policy.validate("12345"),
        Err(PinViolation::TooShort {
            min_len: 6,
            found: 5
        })
    );
    assert_eq!(
        policy.validate("123456789"),
        Err(PinViolation::TooLong {
            max_len: 8,
            found: 9
        })
    );
    // Length counts characters: six two-byte characters are six, not twelve.
    assert_eq!(
        policy.validate("éééééé"),
        Err(PinViolation::NeverAllowed { position: 0 })
    );
    assert_eq!(
        policy.validate("ab1 !cd"),
        Err(PinViolation::NeverAllowed { position: 3 })
    );
    assert_eq!(
        policy.validate("ab1\t!cd"),
        Err(PinViolation::NeverAllowed { position: 3 })
    );
    assert_eq!(
        policy.validate("ab1!cDe"),
        Err(PinViolation::DisallowedClass {
            class: CharClass::Uppercase,
            position: 5
        })
    );
    assert_eq!(
        policy.validate("abc!def"),
        Err(PinViolation::MissingClass {
            class: CharClass::Digit
        })
    );
    assert_eq!(
        policy.validate("abc1def"),
        Err(PinViolation::MissingClass {
            class: CharClass::Special
        })
    );
    assert_eq!(policy.validate("ab1!cd"), Ok(()));
    assert_eq!(
        policy.validate("1!1!1!"),
        Err(PinViolation::RepeatedBlock { block_len: 2 })
    );
    // The boundary lengths are accepted.
    assert_eq!(policy.validate("ab1!cde"), Ok(()));
    assert_eq!(policy.validate("ab1!cdef"), Ok(()));
}

#[test]
fn weak_pins() {
    let strict = policy(4, 127, EVERYTHING, true);
    let lenient = policy(4, 127, EVERYTHING, false);
    for (pin, violation) in [
        ("0000", PinViolation::AllSame),
        ("aaaaaaa", PinViolation::AllSame),
        ("1234", PinViolation::Sequence),
        ("4321", PinViolation::Sequence),
        ("abcdefg", PinViolation::Sequence),
        ("ZYXW", PinViolation::Sequence),
        ("9:;<", PinViolation::Sequence),
        ("1212", PinViolation::RepeatedBlock { block_len: 2 }),
        ("121212", PinViolation::RepeatedBlock { block_len: 2 }),
        ("123123", PinViolation::RepeatedBlock { block_len: 3 }),
        ("a!Ba!Ba!B", PinViolation::RepeatedBlock { block_len: 3 }),
    ] {
        assert_eq!(strict.validate(pin), Err(violation), "{pin}");
        assert_eq!(lenient.validate(pin), Ok(()), "{pin}");
    }
    for pin in [
        "1212121", "1231231", "1235", "1243", "2468", "0001", "1000", "12121", "abab1", "12341234",
        "1122", "1357",
    ] {
        assert_eq!(strict.validate(pin), Ok(()), "{pin}");
    }
}

#[test]
fn violation_messages() {
    let cases: [(PinViolation, &str); 8] = [
        (
            PinViolation::TooShort { min_len: 6, found: 5 },
            "PIN is too short: at least 6 characters expected, got 5",
        ),
        (
            PinViolation::TooLong { max_len: 8, found: 9 },
            "PIN is too long: at most 8 characters expected, got 9",
        ),
        (
            PinViolation::NeverAllowed { position: 2 },
            "PIN has a space, control or non-ASCII character at position 2; only ASCII letters, digits and punctuation are allowed",
        ),
        (
            PinViolation::DisallowedClass {
                class: CharClass::Special,
                position: 1,
            },
            "PIN has a special character at position 1, which the policy does not allow",
        ),
        (
            PinViolation::MissingClass {
                class: CharClass::Uppercase,
            },
            "PIN must contain at least one uppercase letter",
        ),
        (
            PinViolation::AllSame,
            "PIN is weak: every character is the same",
        ),
        (
            PinViolation::Sequence,
            "PIN is weak: each character is one more, or one less, than the one before",
        ),
        (
            PinViolation::RepeatedBlock { block_len: 3 },
            "PIN is weak: a block of 3 characters repeated",
        ),
    ];
    for (violation, message) in cases {
        assert_eq!(violation.to_string(), message);
    }
    assert_eq!(CharClass::Digit.to_string(), "digit");
    assert_eq!(CharClass::Lowercase.to_string(), "lowercase letter");
}

#[test]
fn character_classes() {
    let mut counts = [0usize; 4];
    for code in 0u8..=127 {
        let c = char::from(code);
        let class = CharClass::of(c);
        let expected = if c.is_ascii_digit() {
            Some(CharClass::Digit)
        } else if c.is_ascii_lowercase() {
            Some(CharClass::Lowercase)
        } else if c.is_ascii_uppercase() {
            Some(CharClass::Uppercase)
        } else if (0x21..=0x7e).contains(&code) {
            Some(CharClass::Special)
        } else {
            None
        };
        assert_eq!(class, expected, "{code:#x}");
        if let Some(class) = class {
            counts[class as usize] += 1;
            assert!(class.characters().contains(&code));
        }
    }
    assert_eq!(counts, [10, 26, 26, 32]);
    assert_eq!(CharClass::of('é'), None);
    assert_eq!(CharClass::Lowercase.characters().len(), 26);
    assert_eq!(CharClass::Uppercase.characters()[25], b'Z');
}

// ---------------------------------------------------------------------------------------------
// PIN generation
// ---------------------------------------------------------------------------------------------

#[test]
fn generation_maps_bytes_to_characters_without_bias() {
    let digits = policy(4, 4, DIGITS_ONLY, false);
    // Ten digits: bytes 0..250 are used modulo 10, 250..=255 are rejected.
    assert_eq!(generate(&digits, &[0, 1, 2, 9], Some(0)).unwrap(), "0129");
    assert_eq!(
        generate(&digits, &[249, 13, 100, 55], Some(0)).unwrap(),
        "9305"
    );
    assert_eq!(
        generate(&digits, &[250, 255, 251, 7, 8, 9, 1], Some(0)).unwrap(),
        "7891"
    );
    // The whole alphabet, in class order: digits, lowercase, uppercase, special. 94 characters:
    // bytes 0..188 are used, 188..=255 rejected.
    let all = policy(4, 4, EVERYTHING, false);
    assert_eq!(generate(&all, &[9, 10, 35, 36], Some(0)).unwrap(), "9azA");
    assert_eq!(generate(&all, &[61, 62, 93, 187], Some(0)).unwrap(), "Z!~~");
    assert_eq!(
        generate(&all, &[188, 200, 255, 94, 95, 0, 1], Some(0)).unwrap(),
        "0101"
    );
    // Without digits: lowercase comes first.
    let letters = policy(4, 4, [Disallow, Allow, Allow, Disallow], false);
    assert_eq!(
        generate(&letters, &[0, 25, 26, 51], Some(0)).unwrap(),
        "azAZ"
    );
    // 52 letters: 256 - 256 % 52 = 208, so 207 is used and 208 rejected.
    assert_eq!(
        generate(&letters, &[207, 208, 52, 53, 0], Some(0)).unwrap(),
        "Zaba"
    );
    let special = policy(4, 4, [Disallow, Disallow, Disallow, Allow], false);
    assert_eq!(
        generate(&special, &[0, 31, 32, 255, 1], Some(0)).unwrap(),
        "!~!~"
    );
}

#[test]
fn generation_redraws_weak_and_incomplete_pins() {
    let digits = policy(4, 4, DIGITS_ONLY, true);
    // "1111" is weak, "1234" is weak, then "1357".
    assert_eq!(
        generate(&digits, &[1, 1, 1, 1, 1, 2, 3, 4, 1, 3, 5, 7], Some(0)).unwrap(),
        "1357"
    );
    let needs_upper = policy(4, 4, [Allow, Disallow, Require, Disallow], true);
    // "1357" misses an uppercase letter; then "13A7".
    assert_eq!(
        generate(&needs_upper, &[1, 3, 5, 7, 1, 3, 10, 7], Some(0)).unwrap(),
        "13A7"
    );
    // 9,999 weak draws, then a good one, is still a PIN.
    let mut script = vec![0u8; 4 * 9_999];
    script.extend_from_slice(&[1, 3, 5, 7]);
    assert_eq!(generate(&digits, &script, Some(0)).unwrap(), "1357");
    // 10,000 weak draws is the bound.
    assert_eq!(
        generate(&digits, &[], Some(0)),
        Err(GenerateError::TooManyDraws { draws: 10_000 })
    );
}

#[test]
fn generation_gives_up_on_rejected_bytes() {
    let digits = policy(4, 4, DIGITS_ONLY, false);
    // 63 rejected bytes in a row are still fine; 64 are the bound.
    let mut script = vec![255u8; 63];
    script.extend_from_slice(&[1, 2, 3, 5]);
    assert_eq!(generate(&digits, &script, Some(0)).unwrap(), "1235");
    assert_eq!(
        generate(&digits, &[], Some(255)),
        Err(GenerateError::TooManyRejectedBytes { rejected: 64 })
    );
    // The count is per character: 63 rejections before each of the four is fine.
    let mut script = Vec::new();
    for digit in [4, 0, 6, 9] {
        script.extend_from_slice(&[250; 63]);
        script.push(digit);
    }
    assert_eq!(generate(&digits, &script, Some(0)).unwrap(), "4069");
}

#[test]
fn generation_reports_a_failing_generator() {
    let digits = policy(4, 4, DIGITS_ONLY, false);
    assert_eq!(generate(&digits, &[], None), Err(GenerateError::Rng));
    // The generator is asked for 64 bytes at a time: a 64-byte script is enough for one PIN,
    // and a failure on the next chunk is reported.
    let mut chunk = [255u8; 64];
    chunk[60..].copy_from_slice(&[1, 2, 3, 5]);
    let mut rng = Script::new(&chunk, None);
    assert_eq!(digits.generate(&mut rng).unwrap().as_str(), "1235");
    assert_eq!(rng.calls, 1);
    let mut short = [255u8; 64];
    short[61..].copy_from_slice(&[1, 2, 3]);
    assert_eq!(generate(&digits, &short, None), Err(GenerateError::Rng));
}

#[test]
fn generation_error_messages() {
    assert_eq!(
        GenerateError::TooManyDraws { draws: 10_000 }.to_string(),
        "no acceptable PIN in 10000 draws: the random generator looks broken (stuck or biased output)"
    );
    assert_eq!(
        GenerateError::TooManyRejectedBytes { rejected: 64 }.to_string(),
        "the random generator gave 64 unusable bytes in a row: it looks broken (stuck or biased output)"
    );
    assert_eq!(
        GenerateError::Rng.to_string(),
        "the random generator failed to produce bytes"
    );
}

#[test]
fn generated_pins_have_the_proposed_length_and_pass_validation() {
    for (min, max, proposed) in [(4, 4, 4), (4, 127, 127), (6, 8, 7), (10, 20, 10)] {
        let policy = PinPolicy::builder()
            .min_len(min)
            .max_len(max)
            .proposed_len(proposed)
            .digits(Require)
            .lowercase(Require)
            .uppercase(Require)
            .special(Require)
            .build()
            .unwrap();
        let stream: Vec<u8> = (0..200_000u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        let pin = policy.generate(&mut Script::new(&stream, None)).unwrap();
        assert_eq!(pin.len(), proposed);
        assert_eq!(pin.as_str().len(), proposed);
        assert_eq!(policy.validate(pin.as_str()), Ok(()));
        assert_eq!(
            format!("{pin:?}"),
            format!("Pin(<redacted>, len {proposed})")
        );
    }
}

/// Issue #14: "got 1 characters". A count of one is singular in every message that states a
/// count of characters or bytes; every other count stays plural.
#[test]
fn a_count_of_one_is_singular() {
    use cardadmin::Algorithm;

    let one = [
        (
            AdminKey::from_hex("a").unwrap_err().to_string(),
            "admin key must be 48 hex digits, got 1 character",
        ),
        (
            KeyError::ChallengeLength {
                algorithm: Algorithm::Aes128,
                expected: 16,
                found: 1,
            }
            .to_string(),
            "AES-128 admin keys answer 16-byte challenges, got 1 byte",
        ),
    ];
    for (got, expected) in one {
        assert_eq!(got, expected);
    }
    // The plural stays for every other count.
    assert_eq!(
        AdminKey::from_hex("ab").unwrap_err().to_string(),
        "admin key must be 48 hex digits, got 2 characters"
    );
}
