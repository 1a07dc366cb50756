//! Key hygiene: findings about an admin key that make it weaker than it looks.
//!
//! Cards are often shipped, and sometimes left, with a default admin key, and hand-typed keys
//! are sometimes repeated halves. None of that is an error (the MIM CM documentation's own
//! example uses the all-zero key), so [`AdminKey::audit`](crate::AdminKey::audit) reports
//! instead of failing, and the caller decides what to refuse.

use core::fmt;

use subtle::{Choice, ConstantTimeEq};
use zeroize::Zeroize;

use crate::primitive::des_key::{self, PARITY_MASK};

/// The default admin key of Windows smart card minidrivers (parity bits cleared when compared).
const MINIDRIVER_DEFAULT: [u8; 8] = [1, 2, 3, 4, 5, 6, 7, 8];

/// The example master key of this project's documentation and of the example server's
/// `config.example.json` (check value `645B4F`): published, so as good as unprotected, and
/// the key most likely to be copied into a deployment by mistake.
const PUBLISHED_EXAMPLE: [u8; 24] = [
    0xDA, 0x20, 0xD8, 0x1B, 0x7D, 0x17, 0x73, 0x4F, 0x81, 0x66, 0xBE, 0x8B, 0xAC, 0x0E, 0xC9, 0x4D,
    0xD8, 0xE7, 0x93, 0xD7, 0x4A, 0xCE, 0xC8, 0xB7,
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
    /// Part `K1`, `K2` or `K3` (numbered 1 to 3) is a DES possibly-weak key: its key schedule
    /// has only 4 distinct round keys, each used in 4 rounds. Decided from the schedule (the
    /// PC-1 halves `C` and `D` both repeat every 4 bits), which gives 240 keys: the published
    /// list of 48 (Schneier, *Applied Cryptography*, table 12.13) and 192 more that also have
    /// four distinct round keys, such as `010101E0010101F1`.
    PossiblyWeakPart {
        /// 1, 2 or 3.
        part: u8,
    },
    /// `K1 == K2`: the first two steps cancel, leaving single DES under `K3`.
    K1EqualsK2,
    /// `K2 == K3`: the last two steps cancel, leaving single DES under `K1`.
    K2EqualsK3,
    /// `K1 == K3`: two-key Triple-DES, with less strength than three independent keys.
    K1EqualsK3,
    /// An AES key whose first half equals its second half: typed or generated carelessly, and
    /// half as much secret as it looks.
    RepeatedHalves,
    /// The all-zero key, a well-known default (parity ignored, so `0101..01` too).
    AllZero,
    /// The Windows minidriver default key `0102030405060708` repeated three times (for a
    /// Triple-DES key parity is ignored, so its odd-parity form `0102020404070708` x3 too). The
    /// same bytes are the YubiKey 5.7 default AES-192 management key, and are reported for AES
    /// keys too (`0102030405060708` repeated over the whole key).
    MinidriverDefault,
    /// The example master key published in this project's documentation and example server
    /// configuration (`DA20D81B…`, check value `645B4F`; parity ignored): fine for trying the
    /// examples, never for cards.
    PublishedExample,
}

impl fmt::Display for KeyFinding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::WeakPart { part } => write!(f, "K{part} is a DES weak key"),
            Self::SemiWeakPart { part } => write!(f, "K{part} is a DES semi-weak key"),
            Self::PossiblyWeakPart { part } => write!(
                f,
                "K{part} is a DES possibly-weak key (only 4 distinct round keys)"
            ),
            Self::K1EqualsK2 => f.write_str("K1 equals K2: the key degenerates to single DES"),
            Self::K2EqualsK3 => f.write_str("K2 equals K3: the key degenerates to single DES"),
            Self::K1EqualsK3 => f.write_str("K1 equals K3: the key is two-key Triple-DES"),
            Self::RepeatedHalves => {
                f.write_str("the key's two halves are equal: it holds half the secret it seems to")
            }
            Self::AllZero => f.write_str("the key is all zeros, a well-known default"),
            Self::MinidriverDefault => {
                f.write_str("the key is the well-known minidriver default 0102030405060708 x3")
            }
            Self::PublishedExample => f.write_str(
                "the key is the example master key published in cardadmin's documentation and config.example.json",
            ),
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
    /// One bit per entry of [`FINDING_ORDER`], set when that finding holds.
    flags: u32,
    /// 1 when every byte has odd parity.
    odd_parity: u8,
}

/// Every finding the audit can make, in the order [`KeyAudit::findings`] reports them: weak
/// parts first, then degenerate structure, then well-known defaults.
const FINDING_ORDER: [KeyFinding; 16] = [
    KeyFinding::WeakPart { part: 1 },
    KeyFinding::WeakPart { part: 2 },
    KeyFinding::WeakPart { part: 3 },
    KeyFinding::SemiWeakPart { part: 1 },
    KeyFinding::SemiWeakPart { part: 2 },
    KeyFinding::SemiWeakPart { part: 3 },
    KeyFinding::PossiblyWeakPart { part: 1 },
    KeyFinding::PossiblyWeakPart { part: 2 },
    KeyFinding::PossiblyWeakPart { part: 3 },
    KeyFinding::K1EqualsK2,
    KeyFinding::K2EqualsK3,
    KeyFinding::K1EqualsK3,
    KeyFinding::RepeatedHalves,
    KeyFinding::AllZero,
    KeyFinding::MinidriverDefault,
    KeyFinding::PublishedExample,
];

/// Finding bits, set from [`Choice`]s with shifts by public amounts (a finding's place in
/// [`FINDING_ORDER`]).
struct Flags(u32);

impl Flags {
    fn set(&mut self, finding: KeyFinding, holds: Choice) {
        let bit = (0u32..)
            .zip(FINDING_ORDER)
            .find(|(_, candidate)| *candidate == finding)
            .map_or(0, |(bit, _)| bit);
        self.0 |= u32::from(holds.unwrap_u8()) << bit;
    }
}

impl KeyAudit {
    /// Audits a 3-key Triple-DES key in constant time: every check runs on every key, findings
    /// accumulate as bits with no early exit, and the parity-masked parts are wiped after use.
    pub(crate) fn of_tdes(key: &[u8; 24]) -> Self {
        let [mut k1, mut k2, mut k3] = [0usize, 1, 2].map(|index| {
            let mut part = [0u8; 8];
            for (out, byte) in part.iter_mut().zip(key.iter().skip(index * 8)) {
                *out = *byte;
            }
            let value = u64::from_be_bytes(part) & PARITY_MASK;
            part.zeroize();
            value
        });
        let mut flags = Flags(0);
        let classes = [k1, k2, k3].map(des_key::classify);
        for (part, class) in (1u8..).zip(&classes) {
            flags.set(KeyFinding::WeakPart { part }, class.weak);
            flags.set(KeyFinding::SemiWeakPart { part }, class.semi_weak);
            flags.set(KeyFinding::PossiblyWeakPart { part }, class.possibly_weak);
        }
        flags.set(KeyFinding::K1EqualsK2, k1.ct_eq(&k2));
        flags.set(KeyFinding::K2EqualsK3, k2.ct_eq(&k3));
        flags.set(KeyFinding::K1EqualsK3, k1.ct_eq(&k3));
        let minidriver = u64::from_be_bytes(MINIDRIVER_DEFAULT) & PARITY_MASK;
        let all_same = k1.ct_eq(&k2) & k2.ct_eq(&k3);
        flags.set(KeyFinding::AllZero, all_same & k1.ct_eq(&0));
        flags.set(
            KeyFinding::MinidriverDefault,
            all_same & k1.ct_eq(&minidriver),
        );
        let [e1, e2, e3] = [0usize, 1, 2].map(|index| {
            let mut part = [0u8; 8];
            for (out, byte) in part
                .iter_mut()
                .zip(PUBLISHED_EXAMPLE.iter().skip(index * 8))
            {
                *out = *byte;
            }
            u64::from_be_bytes(part) & PARITY_MASK
        });
        flags.set(
            KeyFinding::PublishedExample,
            k1.ct_eq(&e1) & k2.ct_eq(&e2) & k3.ct_eq(&e3),
        );
        k1.zeroize();
        k2.zeroize();
        k3.zeroize();
        let odd_parity = key
            .iter()
            .fold(1u8, |all, &byte| all & des_key::odd_parity_bit(byte));
        Self {
            flags: flags.0,
            odd_parity,
        }
    }

    /// Audits an AES key (16, 24 or 32 bytes) in constant time: the all-zero key, the
    /// well-known default bytes `0102030405060708` repeated, and equal halves.
    pub(crate) fn of_aes(key: &[u8]) -> Self {
        let mut flags = Flags(0);
        let (first, second) = key.split_at(key.len() / 2);
        flags.set(KeyFinding::RepeatedHalves, first.ct_eq(second));
        let all_zero = key
            .iter()
            .fold(Choice::from(1), |all, byte| all & byte.ct_eq(&0));
        flags.set(KeyFinding::AllZero, all_zero);
        let default = key
            .iter()
            .zip(MINIDRIVER_DEFAULT.iter().cycle())
            .fold(Choice::from(1), |all, (byte, expected)| {
                all & byte.ct_eq(expected)
            });
        flags.set(KeyFinding::MinidriverDefault, default);
        let odd_parity = key
            .iter()
            .fold(1u8, |all, &byte| all & des_key::odd_parity_bit(byte));
        Self {
            flags: flags.0,
            odd_parity,
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
        (0u32..)
            .zip(FINDING_ORDER)
            .filter(|(bit, _)| self.flags >> bit & 1 == 1)
            .map(|(_, finding)| finding)
    }

    /// `Ok` when there is no finding, else the finding that refuses the key: a well-known
    /// default first (the most telling), then the others in [`findings`](Self::findings)'
    /// order. The host flows that write a new admin key to a card
    /// (`cardadmin-card`'s `yubikey::set_management_key` and `gids::put_key`) refuse with it. Every finding refuses:
    ///
    /// - weak, semi-weak and possibly-weak parts: the schedule repeats its round keys (a weak
    ///   part encrypts as it decrypts; a semi-weak part has a partner that undoes it);
    ///   yubico-piv-tool refuses weak and semi-weak parts too (`yk_des_is_weak_key`);
    /// - `K1 = K2` or `K2 = K3`: single DES (56 bits) behind a Triple-DES interface;
    /// - `K1 = K3`: two-key Triple-DES (about 80 bits of strength), whose use for encryption
    ///   NIST SP 800-131A has disallowed since 2016: a new key has no reason to be one;
    /// - repeated AES halves: half the secret it seems to hold;
    /// - the all-zero key and the minidriver default: public knowledge, so the card is as good
    ///   as unprotected.
    ///
    /// A card must sometimes be put back to its factory key: the `_allowing_weak` forms of
    /// those functions write any key, and say so in their name.
    ///
    /// ```
    /// use cardadmin::{AdminKey, KeyFinding};
    ///
    /// let default = AdminKey::from_hex("010203040506070801020304050607080102030405060708")?;
    /// let err = default.audit().require_clean().unwrap_err();
    /// assert_eq!(err.finding(), KeyFinding::MinidriverDefault);
    ///
    /// let key = AdminKey::from_hex("0123456789abcdef23456789abcdef01456789abcdef0123")?;
    /// assert!(key.audit().require_clean().is_ok());
    /// # Ok::<(), cardadmin::KeyError>(())
    /// ```
    pub fn require_clean(&self) -> Result<(), WeakKeyError> {
        let is_default = |finding: &KeyFinding| {
            matches!(
                finding,
                KeyFinding::AllZero | KeyFinding::MinidriverDefault | KeyFinding::PublishedExample
            )
        };
        match self
            .findings()
            .find(is_default)
            .or_else(|| self.findings().next())
        {
            None => Ok(()),
            Some(finding) => Err(WeakKeyError { finding }),
        }
    }

    /// True when every key byte has an odd number of one bits (the DES parity convention; it
    /// means nothing for an AES key).
    ///
    /// ```
    /// use cardadmin::AdminKey;
    ///
    /// assert!(AdminKey::from_bytes([0x01; 24]).audit().has_odd_parity());
    /// assert!(!AdminKey::from_bytes([0x00; 24]).audit().has_odd_parity());
    /// ```
    pub fn has_odd_parity(&self) -> bool {
        self.odd_parity == 1
    }
}

/// A key refused for writing to a card: the [key audit](crate::AdminKey::audit) found
/// [`finding`](Self::finding). See [`KeyAudit::require_clean`] for why each finding refuses,
/// and the `_allowing_weak` forms of the writing functions for the override.
///
/// ```
/// use cardadmin::{AdminKey, KeyFinding};
///
/// let single_des = AdminKey::from_hex("0123456789abcdef0123456789abcdef23456789abcdef01")?;
/// let err = single_des.audit().require_clean().unwrap_err();
/// assert_eq!(err.finding(), KeyFinding::K1EqualsK2);
/// assert_eq!(
///     err.to_string(),
///     "refused to write the new key: K1 equals K2: the key degenerates to single DES",
/// );
/// # Ok::<(), cardadmin::KeyError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WeakKeyError {
    finding: KeyFinding,
}

impl WeakKeyError {
    /// What the audit found.
    ///
    /// ```
    /// use cardadmin::{AdminKey, KeyFinding};
    ///
    /// let err = AdminKey::from_bytes([0; 24]).audit().require_clean().unwrap_err();
    /// assert_eq!(err.finding(), KeyFinding::AllZero);
    /// ```
    pub fn finding(&self) -> KeyFinding {
        self.finding
    }
}

impl fmt::Display for WeakKeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "refused to write the new key: {}", self.finding)
    }
}

#[cfg(feature = "std")]
impl std::error::Error for WeakKeyError {}

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
            .field("odd_parity", &self.has_odd_parity())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use std::string::ToString;
    use std::vec::Vec;

    use super::KeyFinding;
    use crate::AdminKey;

    fn findings(hex: &str) -> Vec<KeyFinding> {
        AdminKey::from_hex(hex)
            .unwrap()
            .audit()
            .findings()
            .collect()
    }

    #[test]
    fn defaults_are_found_whatever_their_parity_bits() {
        // The all-zero key and its odd-parity form, which gives the same responses.
        for hex in [&"00".repeat(24), &"01".repeat(24)] {
            assert!(findings(hex).contains(&KeyFinding::AllZero), "{hex}");
        }
        // The minidriver default and its odd-parity form.
        for hex in [
            "010203040506070801020304050607080102030405060708",
            "010202040407070801020204040707080102020404070708",
        ] {
            assert!(
                findings(hex).contains(&KeyFinding::MinidriverDefault),
                "{hex}"
            );
        }
    }

    #[test]
    fn every_degenerate_part_is_reported_in_order() {
        // K1 possibly weak (01011F1F01010E0E), K2 semi-weak, K3 weak: all three found, weak first.
        let found = findings("01011f1f01010e0e01fe01fe01fe01fe0101010101010101");
        assert_eq!(
            found,
            [
                KeyFinding::WeakPart { part: 3 },
                KeyFinding::SemiWeakPart { part: 2 },
                KeyFinding::PossiblyWeakPart { part: 1 },
            ]
        );
        assert_eq!(
            KeyFinding::PossiblyWeakPart { part: 1 }.to_string(),
            "K1 is a DES possibly-weak key (only 4 distinct round keys)"
        );
    }

    #[test]
    fn possibly_weak_parts_beyond_the_published_list_are_found() {
        // Issue #14: 010101E0010101F1 has 4 distinct round keys but is not among the 48.
        let found = findings("010101e0010101f123456789abcdef01456789abcdef0123");
        assert_eq!(found, [KeyFinding::PossiblyWeakPart { part: 1 }]);
        let found = findings("0123456789abcdef23456789abcdef01e0010101f1010101");
        assert_eq!(found, [KeyFinding::PossiblyWeakPart { part: 3 }]);
    }

    #[test]
    fn require_clean_names_a_default_first_then_the_first_finding() {
        let refused = |hex: &str| {
            AdminKey::from_hex(hex)
                .unwrap()
                .audit()
                .require_clean()
                .unwrap_err()
                .finding()
        };
        assert_eq!(refused(&"00".repeat(24)), KeyFinding::AllZero);
        assert_eq!(
            refused("010203040506070801020304050607080102030405060708"),
            KeyFinding::MinidriverDefault
        );
        assert_eq!(
            refused("01011f1f01010e0e01fe01fe01fe01fe0101010101010101"),
            KeyFinding::WeakPart { part: 3 }
        );
        assert_eq!(
            refused("0123456789abcdef23456789abcdef010123456789abcdef"),
            KeyFinding::K1EqualsK3
        );
        let aes = AdminKey::new(crate::Algorithm::Aes128, &[0x42; 16]).unwrap();
        assert_eq!(
            aes.audit().require_clean().unwrap_err().finding(),
            KeyFinding::RepeatedHalves
        );
        let clean = AdminKey::from_hex("0123456789abcdef23456789abcdef01456789abcdef0123");
        assert_eq!(clean.unwrap().audit().require_clean(), Ok(()));
    }

    #[test]
    fn all_findings_accumulate_without_early_exit() {
        let found = findings(&"00".repeat(24));
        assert_eq!(
            found,
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
    }
}
