//! DES key rules: parity, and the keys whose key schedule degenerates.
//!
//! DES uses 56 of a key's 64 bits; the low bit of every byte is a parity bit that the cipher
//! ignores. So every rule here compares keys with the parity bits cleared, and the parity
//! convention (odd parity on every byte) is applied or checked on its own.
//!
//! Everything here handles key bytes, so it is written without branches, table look-ups at
//! secret indices, or early exits: each function does the same work whatever the key.

use subtle::{Choice, ConstantTimeEq};

use super::fips46::PC1;

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
    /// One of the 240 possibly-weak keys: only 4 distinct round keys, each used in 4 rounds.
    /// The published list of 48 is a subset (see [`classify`]).
    pub(crate) possibly_weak: Choice,
}

/// Classifies one DES key (8 bytes, big-endian in a `u64`) by its key schedule, without a
/// list: the rule is computed from the two 28-bit halves `C` and `D` that PC-1 takes from the
/// key, the registers the schedule rotates.
///
/// Round `i` uses PC-2 of `C` and `D` each rotated left by the same cumulative amount `s_i`
/// (1, 2, 4, 6, 8, 10, 12, 14, 15, 17, 19, 21, 23, 25, 27, 28). When both halves repeat with
/// period 4 (each is one 4-bit pattern written 7 times), a rotation by `s` equals the rotation
/// by `s mod 4`, and the 16 amounts fall 4 times on each residue: the schedule has at most 4
/// distinct round keys. There are 16 x 16 = 256 such keys (pattern pairs):
///
/// - both patterns constant (`0000`, `1111`): period 1, a single round key: the 4 **weak** keys;
/// - both of period 2 or less (`0101`, `1010` too), not both constant: 2 distinct round keys:
///   the 12 **semi-weak** keys (each has a partner that decrypts what it encrypts);
/// - the other 240, with at least one pattern of period 4: exactly 4 distinct round keys:
///   **possibly weak**.
///
/// The published list of 48 "possibly weak" keys (Schneier, *Applied Cryptography*, 2nd ed.,
/// table 12.13; libgcrypt's and gnulib's `des.c`; written out in the unit tests as
/// `PUBLISHED_POSSIBLY_WEAK`) is the subset whose two patterns both have an even number of
/// ones. The other 192 (at least one pattern of odd
/// weight; e.g. `010101E0010101F1`, where `C` is `1000` repeated and `D` is zero) also have
/// exactly four distinct round keys, each used in four rounds, and are flagged the same: the
/// rule is the schedule's, not the list's. The unit tests run the FIPS 46-3 reference schedule
/// over all 256 pattern pairs and count the distinct round keys of each, check the published
/// weak, semi-weak and 48 possibly-weak keys against it, and check that no key outside the
/// family has 4 or fewer (an exhaustive search over each 28-bit half, ignored by default as
/// it takes a minute or two in release).
///
/// Constant time: PC-1 is gathered bit by bit at public positions, and each half is compared
/// (`subtle`) with itself rotated by 1, 2 and 4, every comparison made for every key.
pub(crate) fn classify(part: u64) -> DesKeyClass {
    let (c, d) = pc1_halves(part);
    let c1 = repeats(c, 1);
    let d1 = repeats(d, 1);
    let both2 = repeats(c, 2) & repeats(d, 2);
    let both4 = repeats(c, 4) & repeats(d, 4);
    let weak = c1 & d1;
    DesKeyClass {
        weak,
        semi_weak: both2 & !weak,
        possibly_weak: both4 & !both2,
    }
}

/// The two 28-bit halves `C` and `D` (in the low bits) that PC-1 selects from a key: output bit
/// `i + 1` of PC-1 is key bit `PC1[i]` (numbered from 1 at the most significant end). Shifts by
/// public amounts only; the parity bits are not among PC-1's inputs.
fn pc1_halves(key: u64) -> (u64, u64) {
    let cd = PC1.iter().fold(0u64, |acc, &position| {
        acc << 1 | (key >> (64 - u32::from(position))) & 1
    });
    (cd >> 28, cd & HALF_MASK)
}

/// The low 28 bits: one of C and D.
const HALF_MASK: u64 = 0x0fff_ffff;

/// A 28-bit half rotated left by `by` (1 to 27, a public amount).
const fn rotate_half(half: u64, by: u32) -> u64 {
    ((half << by) | (half >> (28 - by))) & HALF_MASK
}

/// Whether a 28-bit half equals itself rotated by `period`: it repeats with that period.
fn repeats(half: u64, period: u32) -> Choice {
    half.ct_eq(&rotate_half(half, period))
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

    /// The key (parity bits clear) whose PC-1 halves are `c` and `d`: PC-1 run backwards.
    fn key_from_halves(c: u64, d: u64) -> u64 {
        let cd = c << 28 | d;
        (0u32..).zip(PC1).fold(0u64, |key, (i, p)| {
            key | ((cd >> (55 - i)) & 1) << (64 - u32::from(p))
        })
    }

    /// A 28-bit half: the 4-bit pattern written 7 times.
    fn repeated(pattern: u64) -> u64 {
        (0..7).fold(0, |half, _| half << 4 | pattern)
    }

    /// The smallest period (1, 2 or 4) of a 4-bit pattern repeated.
    fn period(pattern: u64) -> u32 {
        [1, 2, 4]
            .into_iter()
            .find(|&p| repeated(pattern) == rotate_half(repeated(pattern), p))
            .unwrap()
    }

    /// Every key whose C and D halves both repeat with period 4, as (C pattern, D pattern, key).
    fn family() -> Vec<(u64, u64, u64)> {
        (0..16u64)
            .flat_map(|c| (0..16u64).map(move |d| (c, d)))
            .map(|(c, d)| (c, d, key_from_halves(repeated(c), repeated(d))))
            .collect()
    }

    fn flags(key: u64) -> [bool; 3] {
        let class = classify(key);
        [class.weak, class.semi_weak, class.possibly_weak].map(bool::from)
    }

    fn with_parity(key: u64) -> u64 {
        u64::from_be_bytes(key.to_be_bytes().map(with_odd_parity))
    }

    /// Schneier, Applied Cryptography (2nd ed.), table 12.13 "Possibly weak DES keys": the
    /// published list of 48, with parity bits.
    const PUBLISHED_POSSIBLY_WEAK: [u64; 48] = [
        0x0101_1F1F_0101_0E0E,
        0x1F1F_0101_0E0E_0101,
        0xE0E0_1F1F_F1F1_0E0E,
        0x0101_E0E0_0101_F1F1,
        0x1F1F_E0E0_0E0E_F1F1,
        0xE0E0_FEFE_F1F1_FEFE,
        0x0101_FEFE_0101_FEFE,
        0x1F1F_FEFE_0E0E_FEFE,
        0xE0FE_011F_F1FE_010E,
        0x011F_1F01_010E_0E01,
        0x1FE0_01FE_0EF1_01FE,
        0xE0FE_1F01_F1FE_0E01,
        0x011F_E0FE_010E_F1FE,
        0x1FE0_E01F_0EF1_F10E,
        0xE0FE_FEE0_F1FE_FEF1,
        0x011F_FEE0_010E_FEF1,
        0x1FE0_FE01_0EF1_FE01,
        0xFE01_01FE_FE01_01FE,
        0x01E0_1FFE_01F1_0EFE,
        0x1FFE_01E0_0EFE_01F1,
        0xFE01_1FE0_FE01_0EF1,
        0xFE01_E01F_FE01_F10E,
        0x1FFE_E001_0EFE_F101,
        0xFE1F_01E0_FE0E_01F1,
        0x01E0_E001_01F1_F101,
        0x1FFE_FE1F_0EFE_FE0E,
        0xFE1F_E001_FE0E_F101,
        0x01E0_FE1F_01F1_FE0E,
        0xE001_01E0_F101_01F1,
        0xFE1F_1FFE_FE0E_0EFE,
        0x01FE_1FE0_01FE_0EF1,
        0xE001_1FFE_F101_0EFE,
        0xFEE0_011F_FEF1_010E,
        0x01FE_E01F_01FE_F10E,
        0xE001_FE1F_F101_FE0E,
        0xFEE0_1F01_FEF1_0E01,
        0x01FE_FE01_01FE_FE01,
        0xE01F_01FE_F10E_01FE,
        0xFEE0_E0FE_FEF1_F1FE,
        0x1F01_011F_0E01_010E,
        0xE01F_1FE0_F10E_0EF1,
        0xFEFE_0101_FEFE_0101,
        0x1F01_E0FE_0E01_F1FE,
        0xE01F_FE01_F10E_FE01,
        0xFEFE_1F1F_FEFE_0E0E,
        0x1F01_FEE0_0E01_FEF1,
        0xE0E0_0101_F1F1_0101,
        0xFEFE_E0E0_FEFE_F1F1,
    ];

    #[test]
    fn the_reference_schedule_over_all_256_pattern_pairs_decides_the_class() {
        let mut counts = [0usize; 3];
        for (c, d, key) in family() {
            assert_eq!(pc1_halves(key), (repeated(c), repeated(d)));
            let distinct = distinct_round_keys(key);
            let slot = match (period(c), period(d)) {
                (1, 1) => 0,
                (1 | 2, 1 | 2) => 1,
                _ => 2,
            };
            assert_eq!(distinct, [1, 2, 4][slot], "{key:016x}");
            assert!(distinct <= 4);
            let mut expected = [false; 3];
            expected[slot] = true;
            // The class follows the schedule, with or without the parity bits set.
            assert_eq!(flags(key), expected, "{key:016x}");
            assert_eq!(flags(with_parity(key)), expected, "{key:016x}");
            assert_eq!(flags(key | 0x0101_0101_0101_0101), expected);
            counts[slot] += 1;
        }
        assert_eq!(counts, [4, 12, 240]);
        let unique: BTreeSet<u64> = family().into_iter().map(|(_, _, key)| key).collect();
        assert_eq!(unique.len(), 256);
    }

    #[test]
    fn the_published_48_are_the_even_weight_part_of_the_240() {
        let published: BTreeSet<u64> = PUBLISHED_POSSIBLY_WEAK
            .iter()
            .map(|key| key & PARITY_MASK)
            .collect();
        assert_eq!(published.len(), 48);
        for &key in &PUBLISHED_POSSIBLY_WEAK {
            assert_eq!(distinct_round_keys(key), 4, "{key:016x}");
            assert_eq!(flags(key), [false, false, true], "{key:016x}");
        }
        let even_weight: BTreeSet<u64> = family()
            .into_iter()
            .filter(|&(c, d, _)| period(c).max(period(d)) == 4)
            .filter(|&(c, d, _)| c.count_ones() % 2 == 0 && d.count_ones() % 2 == 0)
            .map(|(_, _, key)| key)
            .collect();
        assert_eq!(published, even_weight);
    }

    #[test]
    fn keys_beyond_the_published_list_are_flagged() {
        // Issue #14: C = 1000 repeated, D = 0: four distinct round keys, not in the list of 48.
        let key = 0x0101_01E0_0101_01F1;
        assert!(!PUBLISHED_POSSIBLY_WEAK.contains(&key));
        assert_eq!(distinct_round_keys(key), 4);
        assert_eq!(flags(key), [false, false, true]);
        // And one from the list, still flagged.
        assert_eq!(distinct_round_keys(0x0101_1F1F_0101_0E0E), 4);
        assert_eq!(flags(0x0101_1F1F_0101_0E0E), [false, false, true]);
    }

    #[test]
    fn every_neighbour_of_the_family_has_more_round_keys_and_is_not_flagged() {
        for (_, _, key) in family() {
            for bit in (0..64).filter(|bit| bit % 8 != 0) {
                let neighbour = key ^ 1 << bit;
                assert!(distinct_round_keys(neighbour) > 4, "{neighbour:016x}");
                assert_eq!(flags(neighbour), [false; 3], "{neighbour:016x}");
            }
        }
    }

    /// Exhaustive: no key outside the family has 4 or fewer distinct round keys. A round key
    /// is PC-2 of (C, D) rotated, its first 24 bits taken from C and its last 24 from D; so
    /// if one half, rotated by the 16 amounts, gives 5 or more distinct PC-2 projections, so
    /// does the key. Every 28-bit half whose period is not 1, 2 or 4 is checked, for C and
    /// for D. About 90 seconds in release on a busy 2-core machine:
    /// `cargo test --release --lib -- --ignored no_key_outside`.
    #[test]
    #[ignore = "2^29 halves: run in release"]
    fn no_key_outside_the_family_has_four_or_fewer_round_keys() {
        let amounts: Vec<u32> = SHIFTS
            .iter()
            .scan(0u32, |total, &by| {
                *total += u32::from(by);
                Some(*total % 28)
            })
            .collect();
        // PC-2 positions 1..=28 read C, 29..=56 read D (as bits of C || D).
        for (half, offset) in [("C", 0u8), ("D", 28)] {
            let positions: Vec<u32> = PC2
                .iter()
                .filter(|&&p| p > offset && p <= offset + 28)
                .map(|&p| u32::from(p - offset))
                .collect();
            assert_eq!(positions.len(), 24);
            // Four look-up tables of 7 bits each give the 24-bit projection of a half.
            let tables: Vec<Vec<u32>> = (0..4u32)
                .map(|chunk| {
                    (0..128u64)
                        .map(|bits| {
                            let value = bits << (21 - 7 * chunk);
                            positions
                                .iter()
                                .fold(0u32, |acc, &p| acc << 1 | ((value >> (28 - p)) & 1) as u32)
                        })
                        .collect()
                })
                .collect();
            let project = |h: u64| -> u32 {
                (0..4).fold(0, |acc, chunk| {
                    acc | tables[chunk][((h >> (21 - 7 * chunk)) & 0x7f) as usize]
                })
            };
            let mut seen = Vec::with_capacity(5);
            for h in 0..1u64 << 28 {
                if h == rotate_half(h, 4) {
                    continue;
                }
                seen.clear();
                for &by in &amounts {
                    let rotated = if by == 0 { h } else { rotate_half(h, by) };
                    let projection = project(rotated);
                    if !seen.contains(&projection) {
                        seen.push(projection);
                        if seen.len() == 5 {
                            break;
                        }
                    }
                }
                assert_eq!(seen.len(), 5, "{half} = {h:07x}");
            }
        }
    }

    #[test]
    fn table_holds_the_published_weak_and_semi_weak_keys_in_the_right_class() {
        let (weak, semi_weak) = SP800_67_WEAK_AND_SEMI_WEAK.split_at(4);
        for &key in weak {
            assert_eq!(distinct_round_keys(key), 1, "{key:016x}");
            assert_eq!(flags(key), [true, false, false], "{key:016x}");
        }
        for &key in semi_weak {
            assert_eq!(distinct_round_keys(key), 2, "{key:016x}");
            assert_eq!(flags(key), [false, true, false], "{key:016x}");
        }
    }

    #[test]
    fn ordinary_keys_are_not_degenerate_and_parity_is_ignored() {
        for key in [
            0x0123_4567_89ab_cdef_u64,
            0x1334_5779_9bbc_dff1,
            0x0102_0304_0506_0708,
        ] {
            assert!(distinct_round_keys(key) > 4);
            assert_eq!(flags(key), [false; 3]);
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
