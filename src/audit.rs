//! Key hygiene: findings about an admin key that make it weaker than it looks.
//!
//! Cards are often shipped, and sometimes left, with a default admin key, and hand-typed keys
//! are sometimes repeated halves. None of that is an error (the MIM CM documentation's own
//! example uses the all-zero key), so [`AdminKey::audit`](crate::AdminKey::audit) reports
//! instead of failing, and the caller decides what to refuse.

use core::fmt;

/// Parity bits are ignored by DES, so keys are compared with them cleared.
const PARITY_MASK: u8 = 0xfe;

/// The four DES weak keys: encryption equals decryption.
const WEAK: [u64; 4] = [
    0x0101_0101_0101_0101,
    0xfefe_fefe_fefe_fefe,
    0xe0e0_e0e0_f1f1_f1f1,
    0x1f1f_1f1f_0e0e_0e0e,
];

/// The twelve DES semi-weak keys: each pair encrypts what the other decrypts.
const SEMI_WEAK: [u64; 12] = [
    0x01fe_01fe_01fe_01fe,
    0xfe01_fe01_fe01_fe01,
    0x1fe0_1fe0_0ef1_0ef1,
    0xe01f_e01f_f10e_f10e,
    0x01e0_01e0_01f1_01f1,
    0xe001_e001_f101_f101,
    0x1ffe_1ffe_0efe_0efe,
    0xfe1f_fe1f_fe0e_fe0e,
    0x011f_011f_010e_010e,
    0x1f01_1f01_0e01_0e01,
    0xe0fe_e0fe_f1fe_f1fe,
    0xfee0_fee0_fef1_fef1,
];

/// The default admin key of Windows smart card minidrivers.
const MINIDRIVER_DEFAULT: [u8; 24] = [
    1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4, 5, 6, 7, 8,
];

/// One thing found about a key. `Display` says what it means for the key's strength.
///
/// ```
/// use cardadmin::{AdminKey, KeyFinding};
///
/// let audit = AdminKey::from_hex("010203040506070801020304050607080102030405060708")?.audit();
/// assert!(audit.findings().any(|finding| finding == KeyFinding::MinidriverDefault));
/// # Ok::<(), cardadmin::KeyError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum KeyFinding {
    /// Part `K1`, `K2` or `K3` (numbered 1 to 3) is a DES weak key.
    WeakPart {
        /// 1, 2 or 3.
        part: u8,
    },
    /// Part `K1`, `K2` or `K3` (numbered 1 to 3) is a DES semi-weak key.
    SemiWeakPart {
        /// 1, 2 or 3.
        part: u8,
    },
    /// `K1 == K2`: the first two steps cancel, leaving single DES under `K3`.
    K1EqualsK2,
    /// `K2 == K3`: the last two steps cancel, leaving single DES under `K1`.
    K2EqualsK3,
    /// `K1 == K3`: two-key Triple-DES, with less strength than three independent keys.
    K1EqualsK3,
    /// The all-zero key, a well-known default.
    AllZero,
    /// The Windows minidriver default key `0102030405060708` repeated three times.
    MinidriverDefault,
}

impl fmt::Display for KeyFinding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::WeakPart { part } => write!(f, "K{part} is a DES weak key"),
            Self::SemiWeakPart { part } => write!(f, "K{part} is a DES semi-weak key"),
            Self::K1EqualsK2 => f.write_str("K1 equals K2: the key degenerates to single DES"),
            Self::K2EqualsK3 => f.write_str("K2 equals K3: the key degenerates to single DES"),
            Self::K1EqualsK3 => f.write_str("K1 equals K3: the key is two-key Triple-DES"),
            Self::AllZero => f.write_str("the key is all zeros, a well-known default"),
            Self::MinidriverDefault => {
                f.write_str("the key is the well-known minidriver default 0102030405060708 x3")
            }
        }
    }
}

/// The result of [`AdminKey::audit`](crate::AdminKey::audit): findings, and parity on its own.
///
/// Parity never makes a key unclean: DES ignores the parity bits, but some tools check them.
///
/// ```
/// use cardadmin::{AdminKey, KeyFinding};
///
/// let audit = AdminKey::from_bytes([0; 24]).audit();
/// assert!(!audit.is_clean());
/// assert!(audit.findings().any(|finding| finding == KeyFinding::AllZero));
/// for finding in audit.findings() {
///     println!("warning: {finding}");
/// }
/// ```
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct KeyAudit {
    findings: [Option<KeyFinding>; MAX_FINDINGS],
    odd_parity: bool,
}

/// Each part can be weak or semi-weak but not both, plus three equalities and two defaults.
const MAX_FINDINGS: usize = 3 + 3 + 2;

impl KeyAudit {
    pub(crate) fn of(key: &[u8; 24]) -> Self {
        let part = |index: usize| {
            let mut bytes = [0u8; 8];
            for (out, byte) in bytes.iter_mut().zip(key.iter().skip(index * 8)) {
                *out = byte & PARITY_MASK;
            }
            u64::from_be_bytes(bytes)
        };
        let parts = [part(0), part(1), part(2)];
        let masked = |weak: &u64| weak & u64::from_be_bytes([PARITY_MASK; 8]);

        let mut findings = [None; MAX_FINDINGS];
        let mut slots = findings.iter_mut();
        let mut push = |finding| {
            if let Some(slot) = slots.next() {
                *slot = Some(finding);
            }
        };
        for (part, value) in (1u8..).zip(parts) {
            if WEAK.iter().map(masked).any(|weak| weak == value) {
                push(KeyFinding::WeakPart { part });
            } else if SEMI_WEAK.iter().map(masked).any(|weak| weak == value) {
                push(KeyFinding::SemiWeakPart { part });
            }
        }
        let [k1, k2, k3] = parts;
        if k1 == k2 {
            push(KeyFinding::K1EqualsK2);
        }
        if k2 == k3 {
            push(KeyFinding::K2EqualsK3);
        }
        if k1 == k3 {
            push(KeyFinding::K1EqualsK3);
        }
        if key.iter().all(|&byte| byte == 0) {
            push(KeyFinding::AllZero);
        }
        if *key == MINIDRIVER_DEFAULT {
            push(KeyFinding::MinidriverDefault);
        }
        Self {
            findings,
            odd_parity: key.iter().all(|byte| byte.count_ones() % 2 == 1),
        }
    }

    /// True when there is no finding. Parity does not count.
    ///
    /// ```
    /// use cardadmin::AdminKey;
    ///
    /// let key = AdminKey::from_hex("0123456789abcdef23456789abcdef01456789abcdef0123")?;
    /// assert!(key.audit().is_clean());
    /// # Ok::<(), cardadmin::KeyError>(())
    /// ```
    pub fn is_clean(&self) -> bool {
        self.findings().next().is_none()
    }

    /// The findings, weak parts first, then degenerate structure, then well-known defaults.
    ///
    /// ```
    /// use cardadmin::{AdminKey, KeyFinding};
    ///
    /// let key = AdminKey::from_hex("0123456789abcdeffedcba98765432100123456789abcdef")?;
    /// assert_eq!(key.audit().findings().collect::<Vec<_>>(), [KeyFinding::K1EqualsK3]);
    /// # Ok::<(), cardadmin::KeyError>(())
    /// ```
    pub fn findings(&self) -> impl Iterator<Item = KeyFinding> + '_ {
        self.findings.iter().flatten().copied()
    }

    /// True when every key byte has an odd number of one bits (the DES parity convention).
    ///
    /// ```
    /// use cardadmin::AdminKey;
    ///
    /// assert!(AdminKey::from_bytes([0x01; 24]).audit().has_odd_parity());
    /// assert!(!AdminKey::from_bytes([0x00; 24]).audit().has_odd_parity());
    /// ```
    pub fn has_odd_parity(&self) -> bool {
        self.odd_parity
    }
}

impl fmt::Debug for KeyAudit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        struct Findings<'a>(&'a KeyAudit);
        impl fmt::Debug for Findings<'_> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_list().entries(self.0.findings()).finish()
            }
        }
        f.debug_struct("KeyAudit")
            .field("findings", &Findings(self))
            .field("odd_parity", &self.odd_parity)
            .finish()
    }
}
