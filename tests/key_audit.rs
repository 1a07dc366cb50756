//! The key audit (`AdminKey::audit`, `MasterKey::audit`): the exact findings for weak,
//! semi-weak and repeated parts and well-known defaults, parity bits ignored when comparing;
//! odd parity reported apart from the findings; the findings' messages.

use cardadmin::{AdminKey, KeyFinding};

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
fn key_audit_reports_without_failing() {
    use cardadmin::KeyFinding;

    let findings = |hex: &str| {
        AdminKey::from_hex(hex)
            .unwrap()
            .audit()
            .findings()
            .collect::<Vec<_>>()
    };
    // The well-known defaults and each part in each position: audit_findings_are_exact.
    // Semi-weak K2 (01FE01FE01FE01FE), parity bits ignored (00FF00FF... is the same DES key).
    assert_eq!(
        findings("0123456789abcdef00ff00ff00ff00ff456789abcdef0123"),
        [KeyFinding::SemiWeakPart { part: 2 }]
    );
    // Weak K3, written without parity.
    assert_eq!(
        findings("0123456789abcdef23456789abcdef01e0e0e0e0f0f0f0f0"),
        [KeyFinding::WeakPart { part: 3 }]
    );
    // K1 == K2 up to parity bits degenerates to single DES all the same.
    assert_eq!(
        findings("0123456789abcdef0022446688aaccee456789abcdef0123"),
        [KeyFinding::K1EqualsK2]
    );
    let audit = AdminKey::from_hex("0123456789abcdef23456789abcdef01456789abcdef0123")
        .unwrap()
        .audit();
    assert!(audit.is_clean());
    assert!(audit.has_odd_parity());
    assert_eq!(
        format!("{audit:?}"),
        "KeyAudit { findings: [], odd_parity: true }"
    );
    // Parity alone never makes a key unclean.
    let no_parity = AdminKey::from_hex("0022446688aaccee22446688aacceef0446688aacceef002")
        .unwrap()
        .audit();
    assert!(no_parity.is_clean() && !no_parity.has_odd_parity());
    assert_eq!(
        KeyFinding::K1EqualsK3.to_string(),
        "K1 equals K3: the key is two-key Triple-DES"
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

/// `require_clean` refuses a key with a finding, its error naming the finding; a clean key
/// passes.
#[test]
fn require_clean_refuses_a_key_with_a_finding_and_names_it() {
    let clean = AdminKey::from_hex("0123456789abcdef23456789abcdef01456789abcdef0123").unwrap();
    assert!(clean.audit().require_clean().is_ok());
    let single_des =
        AdminKey::from_hex("0123456789abcdef0123456789abcdef23456789abcdef01").unwrap();
    let err = single_des.audit().require_clean().unwrap_err();
    assert_eq!(err.finding(), KeyFinding::K1EqualsK2);
    assert_eq!(
        err.to_string(),
        "refused to write the new key: K1 equals K2: the key degenerates to single DES"
    );
}

/// The odd-parity fold over every key byte (issue #24, item 15: `&` as `|` or `^` survived the
/// mutation run, since no test audited a key with one even-parity byte). For every algorithm:
/// a key with one even-parity byte, at each position, and one with two, is not of odd
/// parity; parity never changes the findings; `Debug` shows it.
#[test]
fn one_even_parity_byte_anywhere_is_not_odd_parity() {
    use cardadmin::Algorithm;

    // Every byte of odd parity, the halves distinct: a clean key for every algorithm.
    let odd = [
        0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef,
        0x01, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef, 0x01, 0x23, 0x67, 0x89, 0xab, 0xcd, 0xef, 0x01,
        0x23, 0x45,
    ];
    let audit =
        |algorithm: Algorithm, bytes: &[u8]| AdminKey::new(algorithm, bytes).unwrap().audit();
    for algorithm in Algorithm::ALL {
        let odd = &odd[..algorithm.key_len()];
        let all_odd = audit(algorithm, odd);
        assert!(
            all_odd.is_clean() && all_odd.has_odd_parity(),
            "{algorithm}"
        );
        assert_eq!(
            format!("{all_odd:?}"),
            "KeyAudit { findings: [], odd_parity: true }"
        );
        // Flipping bit 0 makes a byte's parity even (and, for Triple-DES, leaves the key).
        let with_even = |positions: &[usize]| {
            let mut bytes = odd.to_vec();
            for &position in positions {
                bytes[position] ^= 1;
            }
            audit(algorithm, &bytes)
        };
        for position in 0..odd.len() {
            let next = (position + 1) % odd.len();
            for positions in [&[position][..], &[position, next]] {
                let even = with_even(positions);
                assert!(!even.has_odd_parity(), "{algorithm} {positions:?}");
                assert!(even.is_clean(), "{algorithm} {positions:?}");
                assert_eq!(
                    format!("{even:?}"),
                    "KeyAudit { findings: [], odd_parity: false }"
                );
            }
        }
        let all_even: Vec<usize> = (0..odd.len()).collect();
        assert!(!with_even(&all_even).has_odd_parity(), "{algorithm}");
    }
}
