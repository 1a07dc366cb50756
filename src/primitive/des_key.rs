//! DES key rules: parity, and the keys whose key schedule degenerates.
//!
//! DES uses 56 of a key's 64 bits; the low bit of every byte is a parity bit that the cipher
//! ignores. So every rule here compares keys with the parity bits cleared, and the parity
//! convention (odd parity on every byte) is applied or checked on its own.
//!
//! Everything here handles key bytes, so it is written without branches, table look-ups at
//! secret indices, or early exits: each function does the same work whatever the key.

use subtle::{Choice, ConstantTimeEq};

/// Clears the parity bit (the low bit) of each of the 8 bytes of a DES key.
pub(crate) const PARITY_MASK: u64 = 0xfefe_fefe_fefe_fefe;

/// The byte with its low bit set so that it has an odd number of one bits.
pub(crate) fn with_odd_parity(byte: u8) -> u8 {
    let high_bits = byte & 0xfe;
    // Parity of the seven high bits, folded into bit 0 by shifts of fixed amounts.
    let mut fold = high_bits ^ (high_bits >> 4);
    fold ^= fold >> 2;
    fold ^= fold >> 1;
    high_bits | (!fold & 1)
}

/// 1 when the byte has an odd number of one bits, else 0; without a branch.
pub(crate) fn odd_parity_bit(byte: u8) -> u8 {
    let mut fold = byte ^ (byte >> 4);
    fold ^= fold >> 2;
    fold ^= fold >> 1;
    fold & 1
}

/// How an 8-byte DES key (one part of a Triple-DES key) degenerates, parity ignored. Each is a
/// [`Choice`], so the caller can combine them without a branch.
pub(crate) struct DesKeyClass {
    /// One of the 4 weak keys: all 16 round keys are equal, so encryption equals decryption.
    pub(crate) weak: Choice,
    /// One of the 12 semi-weak keys: only 2 distinct round keys; each has a partner key that
    /// decrypts what it encrypts.
    pub(crate) semi_weak: Choice,
    /// One of the 48 possibly-weak keys: only 4 distinct round keys.
    pub(crate) possibly_weak: Choice,
}

/// Classifies one DES key (8 bytes, big-endian in a `u64`) against all 64 keys of
/// [`degenerate_key`], every one of them compared, with no early exit.
pub(crate) fn classify(part: u64) -> DesKeyClass {
    let part = part & PARITY_MASK;
    let mut class = DesKeyClass {
        weak: Choice::from(0),
        semi_weak: Choice::from(0),
        possibly_weak: Choice::from(0),
    };
    for index in 0..DEGENERATE_KEY_COUNT {
        let hit = part.ct_eq(&degenerate_key(index));
        // The kind of each table entry is public (it is a property of the table, not of the key).
        match Degeneracy::of(index) {
            Degeneracy::Weak => class.weak |= hit,
            Degeneracy::SemiWeak => class.semi_weak |= hit,
            Degeneracy::PossiblyWeak => class.possibly_weak |= hit,
        }
    }
    class
}

/// How many DES keys have a degenerate key schedule.
pub(crate) const DEGENERATE_KEY_COUNT: u8 = 64;

/// Key `index` (0 to 63) of the 64 DES keys (parity bits cleared) whose key schedule yields only
/// 1, 2 or 4 distinct round keys: 4 weak, 12 semi-weak and 48 possibly-weak keys.
///
/// They are exactly the keys whose bytes are each `00`, `1E`, `E0` or `FE` in the first half and
/// `00`, `0E`, `F0` or `FE` in the second, built from two 4-bit patterns `c` and `d` of even
/// weight: byte `j` (0 to 3) is `E0` times `c[j]` or `1E` times `d[j]`, and byte `j + 4` is `F0`
/// times `c[j]` or `0E` times `d[j]`. The table is derived here rather than typed in; the unit
/// tests check it against the published weak and semi-weak keys (NIST SP 800-67) and count
/// the distinct round keys of every entry with a reference key schedule. The same 64 keys are
/// listed, for example, in libgcrypt's and gnulib's `des.c`.
pub(crate) const fn degenerate_key(index: u8) -> u64 {
    let [c0, c1, c2, c3] = pattern(index & 7);
    let [d0, d1, d2, d3] = pattern(index >> 3);
    u64::from_be_bytes([
        first_half_byte(c0, d0),
        first_half_byte(c1, d1),
        first_half_byte(c2, d2),
        first_half_byte(c3, d3),
        second_half_byte(c0, d0),
        second_half_byte(c1, d1),
        second_half_byte(c2, d2),
        second_half_byte(c3, d3),
    ])
}

const fn first_half_byte(high: bool, low: bool) -> u8 {
    (if high { 0xe0 } else { 0 }) | (if low { 0x1e } else { 0 })
}

const fn second_half_byte(high: bool, low: bool) -> u8 {
    (if high { 0xf0 } else { 0 }) | (if low { 0x0e } else { 0 })
}

/// The kind of degenerate key at an index of [`DEGENERATE_KEYS`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Degeneracy {
    Weak,
    SemiWeak,
    PossiblyWeak,
}

/// A 4-bit pattern of even weight, from its first three bits (the fourth is their XOR).
const fn pattern(bits: u8) -> [bool; 4] {
    let b0 = bits & 1 != 0;
    let b1 = bits & 2 != 0;
    let b2 = bits & 4 != 0;
    [b0, b1, b2, b0 ^ b1 ^ b2]
}

/// Constant (`0000`, `1111`) or alternating (`0101`, `1010`) patterns make weak and semi-weak
/// keys; the other four (`0011`, `0110`, `1100`, `1001`) make possibly-weak ones.
const fn period(bits: u8) -> u8 {
    let [b0, b1, b2, _] = pattern(bits);
    if b0 == b1 && b1 == b2 {
        1
    } else if b0 == b2 {
        2
    } else {
        4
    }
}

impl Degeneracy {
    const fn of(index: u8) -> Self {
        match (period(index & 7), period(index >> 3)) {
            (1, 1) => Self::Weak,
            (1 | 2, 1 | 2) => Self::SemiWeak,
            _ => Self::PossiblyWeak,
        }
    }
}

/// NIST SP 800-67 Rev 2, section 3.3.2: the 4 weak keys, then the 12 semi-weak keys, with
/// their parity bits, as published (test data for this module and the engine's tests).
#[cfg(test)]
pub(crate) const SP800_67_WEAK_AND_SEMI_WEAK: [u64; 16] = [
    0x0101_0101_0101_0101,
    0xfefe_fefe_fefe_fefe,
    0xe0e0_e0e0_f1f1_f1f1,
    0x1f1f_1f1f_0e0e_0e0e,
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

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::vec::Vec;

    use super::*;
    use crate::primitive::fips46::{PC1, PC2, SHIFTS};

    /// A plain reference key schedule (FIPS 46-3's permuted choices and rotations, from the
    /// tables in `fips46.rs`), to count distinct round keys.
    fn round_keys(key: u64) -> Vec<u64> {
        let bit =
            |value: u64, width: u32, position: u8| (value >> (width - u32::from(position))) & 1;
        let cd = PC1.iter().fold(0u64, |acc, &p| acc << 1 | bit(key, 64, p));
        let shifts = SHIFTS.map(u32::from);
        let (mut c, mut d) = (cd >> 28, cd & 0x0fff_ffff);
        let rotate = |half: u64, by: u32| ((half << by) | (half >> (28 - by))) & 0x0fff_ffff;
        shifts
            .iter()
            .map(|&by| {
                c = rotate(c, by);
                d = rotate(d, by);
                let cd = c << 28 | d;
                PC2.iter().fold(0u64, |acc, &p| acc << 1 | bit(cd, 56, p))
            })
            .collect()
    }

    fn distinct_round_keys(key: u64) -> usize {
        round_keys(key).into_iter().collect::<BTreeSet<_>>().len()
    }

    #[test]
    fn table_holds_the_published_weak_and_semi_weak_keys_in_the_right_class() {
        let (weak, semi_weak) = SP800_67_WEAK_AND_SEMI_WEAK.split_at(4);
        for &key in weak {
            let class = classify(key);
            assert!(bool::from(class.weak), "{key:016x}");
            assert!(!bool::from(class.semi_weak | class.possibly_weak));
        }
        for &key in semi_weak {
            let class = classify(key);
            assert!(bool::from(class.semi_weak), "{key:016x}");
            assert!(!bool::from(class.weak | class.possibly_weak));
        }
    }

    #[test]
    fn every_entry_has_the_round_key_count_of_its_class() {
        let unique: BTreeSet<u64> = (0..DEGENERATE_KEY_COUNT).map(degenerate_key).collect();
        assert_eq!(unique.len(), 64);
        let mut counts = [0usize; 3];
        for index in 0..DEGENERATE_KEY_COUNT {
            let key = degenerate_key(index);
            let (expected, slot) = match Degeneracy::of(index) {
                Degeneracy::Weak => (1, 0),
                Degeneracy::SemiWeak => (2, 1),
                Degeneracy::PossiblyWeak => (4, 2),
            };
            assert_eq!(distinct_round_keys(key), expected, "{key:016x}");
            counts[slot] += 1;
        }
        assert_eq!(counts, [4, 12, 48]);
    }

    #[test]
    fn ordinary_keys_are_not_degenerate_and_parity_is_ignored() {
        for key in [
            0x0123_4567_89ab_cdef_u64,
            0x1334_5779_9bbc_dff1,
            0x0102_0304_0506_0708,
        ] {
            assert!(distinct_round_keys(key) > 4);
            let class = classify(key);
            assert!(!bool::from(
                class.weak | class.semi_weak | class.possibly_weak
            ));
        }
        // The all-zero key and its odd-parity form 0101..01 are the same weak key.
        assert!(bool::from(classify(0).weak));
        assert!(bool::from(classify(0x0101_0101_0101_0101).weak));
    }

    #[test]
    fn parity_helpers_agree_with_count_ones() {
        for byte in 0..=255u8 {
            let fixed = with_odd_parity(byte);
            assert_eq!(fixed.count_ones() % 2, 1);
            assert_eq!(fixed & 0xfe, byte & 0xfe);
            assert_eq!(u32::from(odd_parity_bit(byte)), byte.count_ones() % 2);
        }
    }
}
