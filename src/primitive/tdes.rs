//! Constant-time Triple-DES (3-key EDE): no table lookups, no secret-dependent branches.
//!
//! # Why our own engine
//!
//! The admin key is the most sensitive secret of a card deployment, and the `des` crate
//! indexes its S-box tables with key-dependent data: a process sharing the host's caches can
//! recover DES keys from the access pattern, and the `diversifiedkey` endpoint even lets a
//! caller choose the input the master key processes. The constant-time TDES engines we know
//! of in Rust refuse weak and degenerate keys, but cards ship with the all-zero key and the
//! minidriver default `0102030405060708` x3 (K1 = K2 = K3, which is single DES), so this
//! engine accepts every key, and ignores parity bits as DES does.
//!
//! # Design
//!
//! Nothing in the key schedule, encryption or decryption indexes a table with secret data,
//! branches on secret data, multiplies or divides it, or shifts or rotates by a secret
//! amount: the code is AND, OR, XOR, subtraction, and shifts and rotations by constants. The
//! plaintext is treated as secret too.
//!
//! - **S-boxes as an AND/XOR tree ("T-boxes").** Each of the 32 S-box output bits is a
//!   Boolean function of its box's 6 input bits. Writing every such function in algebraic
//!   normal form gives a fixed tree of ANDs and XORs whose leaves are constants; the 32
//!   functions are evaluated side by side in one word, with input words in which each nibble
//!   carries one box's input bit. The tree is split on S-box input 0: the two halves of a
//!   `u64` hold the outputs for input 0 = 0 and = 1 (31 tree nodes instead of 63), and a
//!   branch-free select picks the right half.
//! - **Doubled words.** The right half is kept twice, in both halves of a `u64`, through the
//!   whole round, so rotations by constants stay valid and no step ever copies one half into
//!   the other (LLVM turns such copies, `b | b << 32`, into multiplications).
//! - **Expansion and key addition together.** Round keys are pre-placed at the positions of
//!   their expansion sources (`KX` for S-box inputs 1..4, `K05` for inputs 0 and 5, which
//!   also carries the high half's complement of input 0), so a round is two XORs, then per
//!   input a rotation, a mask and a nibble fill (`(t << 4) - t`, no multiplication).
//! - **P in 8 rotation groups.** The S-box output bits are ordered inside their nibbles so
//!   that P moves them by only 8 distinct rotations (19 in FIPS order).
//! - **IP and IP^-1 once per block**, each as 9 delta swaps (IP permutes and complements
//!   the bits of the position index). Between the three DES passes they cancel out.
//! - **Three blocks interleaved.** [`TdesEde3::encrypt_blocks`] runs three independent
//!   blocks round by round, filling the processor's execution units (CMAC chains,
//!   AN10922's three derivations).
//!
//! No SIMD intrinsics: under `#![forbid(unsafe_code)]` they cannot be reached. A call to a
//! `#[target_feature]` function (every `core::arch` intrinsic) is safe only from a function
//! that itself carries `#[target_feature]`; features enabled for the whole build, SSE2 on
//! x86-64 included, do not count (rustc 1.95: E0133, also with `-C target-feature=+sse2`),
//! and the entry into such a function from ordinary code needs `unsafe`. LLVM already runs
//! part of the tree in SSE2 registers on its own (the two halves split on S-box input 1, as
//! two 64-bit lanes).
//!
//! Every mask, rotation amount and tree constant is computed at compile time by `const fn`s
//! from the FIPS 46-3 tables as printed (`fips46.rs`); the unit tests check them against
//! bit-by-bit readings of the same tables (every S-box entry, IP, IP^-1, E, P, the round
//! function, the key schedule) and the engine against the `des` crate and NIST's vectors.
//!
//! # Guarantees and limits
//!
//! The guarantee is about the source: no secret-dependent table index, branch, variable shift
//! or multiplication. The compiler gives no such guarantee about the machine code; what it
//! emits is checked twice: `scripts/check-engine-asm.sh` fails if the release assembly of the
//! engine contains a multiply or divide instruction (LLVM has introduced them on its own
//! before), and a valgrind memcheck run with the key bytes marked undefined (the ctgrind /
//! TIMECOP method) fails on any secret-dependent branch or address. Neither covers other
//! targets or toolchains than the ones checked, stack temporaries (round inputs are not
//! wiped), or power and electromagnetic side channels. The round constants are read through
//! `core::hint::black_box` so that they are memory operands rather than 64-bit immediates;
//! their addresses are fixed.
//!
//! # Provenance
//!
//! The T-box idea (S-box outputs as a fixed AND/XOR tree over the input bits, evaluated in
//! machine words, with round keys pre-spread) is Thomas Pornin's BearSSL `des_ct.c` /
//! `des_support.c`; computing the ANF constants by `const fn` from the FIPS tables follows
//! bcgit/bc-rust PR #139; Botan's bitsliced DES was read for comparison. This code was
//! written from the descriptions and FIPS 46-3, not copied: the doubled-word layout, the
//! tree split on input 0, the combined expansion/key words and the P grouping are this
//! crate's own.

use core::fmt;

use cipher::consts::U24;
use cipher::generic_array::GenericArray;
use cipher::{BlockCipher, Key, KeyInit, KeySizeUser};
use zeroize::{Zeroize, ZeroizeOnDrop};

use super::fips46::{E, IP, IP_INV, P, PC1, PC2, S, SHIFTS};

// ---------------------------------------------------------------------------------------------
// Compile-time derivation of the engine's constants from the FIPS 46-3 tables.
//
// Bit positions: a 64-bit value holds FIPS bit `q` (1 = most significant) at position `64 - q`;
// a 32-bit half holds bit `q` at `32 - q`. Within a round every 32-bit quantity is kept twice,
// once in each half of a `u64` ("doubled"), so that the two halves of the S-box tree (see
// `tree`) see the same inputs without ever copying a half into the other at run time.
// ---------------------------------------------------------------------------------------------

/// `s[i]`, or `None`: indexing without a panic path, usable in `const fn`.
const fn pick<T: Copy>(s: &[T], i: usize) -> Option<T> {
    match s.split_at_checked(i) {
        Some((_, [x, ..])) => Some(*x),
        _ => None,
    }
}

/// `s[i]` of a FIPS table as a `u32`; a missing entry reads as 0, which no table contains and
/// every caller's `assert!` rejects at compile time.
const fn at(s: &[u8], i: usize) -> u32 {
    match pick(s, i) {
        Some(x) => x as u32,
        None => 0,
    }
}

/// `S[b][row][col]`.
const fn sbox(b: usize, row: usize, col: usize) -> u32 {
    match pick(&S, b) {
        Some(rows) => match pick(&rows, row) {
            Some(cols) => at(&cols, col),
            None => 0,
        },
        None => 0,
    }
}

/// One step of a fixed bit permutation: the bits under `mask`, rotated left by `rot`.
#[derive(Clone, Copy)]
struct Step {
    mask: u64,
    rot: u32,
}

/// A bit permutation (or selection) given as `src[d] = s + 1` ("destination position `d` takes
/// source position `s`"; 0 leaves `d` empty) over `width` positions (32 or 64).
#[derive(Clone, Copy)]
struct BitMap {
    src: [u8; 64],
    width: u32,
}

impl BitMap {
    const EMPTY32: BitMap = BitMap {
        src: [0; 64],
        width: 32,
    };
    const EMPTY64: BitMap = BitMap {
        src: [0; 64],
        width: 64,
    };

    /// Sends source position `s` to destination position `d`; each destination is used once.
    const fn set(mut self, s: u32, d: u32) -> BitMap {
        assert!(s < self.width && d < self.width);
        match self.src.split_at_mut_checked(d as usize) {
            Some((_, [slot, ..])) => {
                assert!(*slot == 0, "destination used twice");
                *slot = (s + 1) as u8;
            }
            _ => assert!(d >= 64, "unreachable"),
        }
        self
    }

    /// The left-rotation amount and source mask of every group of bits that move together.
    /// `doubled` repeats 32-bit masks in the high half (for doubled words).
    const fn steps<const N: usize>(&self, doubled: bool) -> [Step; N] {
        let mut out = [Step { mask: 0, rot: 0 }; N];
        let mut n = 0;
        let mut rot = 0;
        while rot < self.width {
            let mask = self.group(rot);
            if mask != 0 {
                let step = Step {
                    mask: if doubled { mask | (mask << 32) } else { mask },
                    rot,
                };
                match out.split_at_mut_checked(n) {
                    Some((_, [slot, ..])) => *slot = step,
                    _ => assert!(n >= N, "unreachable"),
                }
                n += 1;
            }
            rot += 1;
        }
        assert!(n == N, "wrong step count");
        out
    }

    /// How many distinct rotation amounts the permutation needs.
    const fn count(&self) -> usize {
        let mut n = 0;
        let mut rot = 0;
        while rot < self.width {
            if self.group(rot) != 0 {
                n += 1;
            }
            rot += 1;
        }
        n
    }

    /// The source bits that move left by `rot`.
    const fn group(&self, rot: u32) -> u64 {
        let mut mask = 0u64;
        let mut d = 0;
        while d < self.width {
            let s1 = at(&self.src, d as usize);
            if s1 != 0 {
                let s = s1 - 1;
                if (d + self.width - s) % self.width == rot {
                    mask |= 1 << s;
                }
            }
            d += 1;
        }
        mask
    }
}

/// A 64-bit FIPS permutation table (IP, IP^-1) as a [`BitMap`].
const fn map64(table: &[u8; 64]) -> BitMap {
    let mut map = BitMap::EMPTY64;
    let mut i = 0;
    while i < 64 {
        map = map.set(64 - at(table, i), 63 - i as u32);
        i += 1;
    }
    map
}

/// PC-1: the 64-bit key to C || D in the top 56 bits.
const fn pc1_map() -> BitMap {
    let mut map = BitMap::EMPTY64;
    let mut i = 0;
    while i < 56 {
        map = map.set(64 - at(&PC1, i), cd_pos(i as u32 + 1));
        i += 1;
    }
    map
}

/// Where bit `q` (1..=56, FIPS numbering) of C || D is kept during the key schedule: C in bits
/// 27..0 and D in bits 55..28, each most significant bit first, so that the schedule's
/// rotations are plain rotations of each 28-bit field. Together with [`K05_ROT`] this layout
/// was chosen by an exhaustive search (field places and directions, and the rotation of each
/// round-key word) for the fewest rotation groups in [`subkey_map`]: 26, against 33 for C || D
/// in the top 56 bits.
const fn cd_pos(q: u32) -> u32 {
    if q <= 28 {
        28 - q
    } else {
        84 - q
    }
}

/// `K05` is gathered rotated left by this much in its 32-bit half (see [`cd_pos`]).
const K05_ROT: u32 = 13;

/// PC-2 composed with the engine's round-key layout: from C || D (see [`cd_pos`]) to `KX` in
/// the low half and `K05` (rotated by [`K05_ROT`]) in the high half. Subkey bit `6b + m` (box `b`, S-box input `m`) is XORed
/// into the right half at the position of its expansion source `E[6b + m]`: for the middle
/// inputs (`m` = 1..4) those 32 positions are all distinct (`KX`); the outer inputs (`m` = 0, 5)
/// reuse them and get a word of their own (`K05`), where they are distinct again.
const fn subkey_map() -> BitMap {
    let mut map = BitMap::EMPTY64;
    let mut k = 0;
    while k < 48 {
        let m = k % 6;
        let r = 32 - at(&E, k);
        let d = if m == 0 || m == 5 {
            32 + (r + K05_ROT) % 32
        } else {
            r
        };
        map = map.set(cd_pos(at(&PC2, k)), d);
        k += 1;
    }
    map
}

/// Where, inside its nibble, each S-box output bit sits (`OUT_OFFSET[box][bit]`, bit 0 = the
/// most significant). The tree works for any order. In FIPS order (`[3, 2, 1, 0]` for every
/// box) P moves its 32 bits by 19 distinct rotation amounts, each costing an AND, a rotation
/// and an OR per round; this order, found by an exhaustive search over the 24^8 choices
/// (branch and bound), needs 8, the fewest possible with this right-half layout.
const OUT_OFFSET: [[u8; 4]; 8] = [
    [1, 0, 3, 2],
    [1, 2, 0, 3],
    [1, 2, 0, 3],
    [3, 1, 0, 2],
    [2, 0, 1, 3],
    [1, 0, 3, 2],
    [1, 3, 0, 2],
    [0, 2, 3, 1],
];

/// The tree position (0..32, within one half) of output bit `o` (0 = most significant) of
/// S-box `b`: box `b` fills nibble `7 - b`.
const fn tree_pos(b: usize, o: usize) -> u32 {
    let offset = match pick(&OUT_OFFSET, b) {
        Some(offsets) => at(&offsets, o),
        None => 0,
    };
    4 * (7 - b as u32) + offset
}

/// P: from the tree's layout of the S-box outputs to the right-half layout.
const fn p_map() -> BitMap {
    let mut map = BitMap::EMPTY32;
    let mut j = 0;
    while j < 32 {
        let sbit = at(&P, j) as usize - 1;
        map = map.set(tree_pos(sbit / 4, sbit % 4), 31 - j as u32);
        j += 1;
    }
    map
}

/// The right-rotation that brings, for every box `b` at once, the right-half bit feeding S-box
/// input `m` to the lowest bit of the box's nibble (checked for all eight boxes).
const fn input_rot(m: usize) -> u32 {
    let mut rot = 0;
    let mut b = 0;
    while b < 8 {
        let pos = 32 - at(&E, 6 * b + m);
        let r = (pos + 32 - 4 * (7 - b as u32)) % 32;
        assert!(b == 0 || r == rot, "E is not a rotation per input");
        rot = r;
        b += 1;
    }
    rot
}

/// The bits of `K05` that invert S-box input 0 in the high half only (see [`f`]): the
/// nibble-low bits of the high half, before the right rotation that brings input 0 there.
/// `K05` is not doubled in these bits, so the mask is placed for the 64-bit rotation.
const fn x0_invert() -> u64 {
    (NIBBLE_LSB & HI).rotate_left(input_rot(0))
}

/// The S-box tree constants. For each half `h` (S-box input 0 equal to `h`) and each of the 32
/// tree positions, the output bit as a function of inputs 1..5 is written in algebraic normal
/// form (XOR of ANDs); entry `i` holds the coefficient of the monomial whose variables are the
/// set bits of `i` (bit 4 = input 1, ..., bit 0 = input 5), for all 64 (position, half) pairs.
const fn tree_anf() -> [u64; 32] {
    let mut t = [0u64; 32];
    let mut i = 0;
    while i < 32 {
        // The truth table: bit (position, half h) of entry i is the S-box output there for
        // input 0 = h and inputs 1..5 = the bits of i.
        let mut value = 0u64;
        let mut h = 0;
        while h < 2 {
            let row = h * 2 + (i & 1);
            let col = i >> 1;
            let mut b = 0;
            while b < 8 {
                let v = sbox(b, row, col);
                let mut o = 0;
                while o < 4 {
                    let bit = ((v >> (3 - o)) & 1) as u64;
                    value |= bit << (tree_pos(b, o) + 32 * h as u32);
                    o += 1;
                }
                b += 1;
            }
            h += 1;
        }
        if let Some((_, [slot, ..])) = t.split_at_mut_checked(i) {
            *slot = value;
        }
        i += 1;
    }
    // Moebius transform, on all 64 functions at once: the ANF coefficient of monomial i is
    // the XOR of the truth table over every j whose bits are a subset of i's.
    let truth = t;
    let mut i = 0;
    while i < 32 {
        let mut acc = 0u64;
        let mut j = 0;
        while j < 32 {
            if j & i == j {
                if let Some(v) = pick(&truth, j) {
                    acc ^= v;
                }
            }
            j += 1;
        }
        if let Some((_, [slot, ..])) = t.split_at_mut_checked(i) {
            *slot = acc;
        }
        i += 1;
    }
    t
}

type Tree1 = [u64; 2];
type Tree2 = [Tree1; 2];
type Tree3 = [Tree2; 2];
type Tree4 = [Tree3; 2];
type Tree5 = [Tree4; 2];

const fn leaf(anf: &[u64; 32], i: usize) -> u64 {
    match pick(anf, i) {
        Some(v) => v,
        None => 0,
    }
}
const fn nest1(a: &[u64; 32], i: usize) -> Tree1 {
    [leaf(a, i), leaf(a, i + 1)]
}
const fn nest2(a: &[u64; 32], i: usize) -> Tree2 {
    [nest1(a, i), nest1(a, i + 2)]
}
const fn nest3(a: &[u64; 32], i: usize) -> Tree3 {
    [nest2(a, i), nest2(a, i + 4)]
}
const fn nest4(a: &[u64; 32], i: usize) -> Tree4 {
    [nest3(a, i), nest3(a, i + 8)]
}
/// [`tree_anf`] nested by variable (outermost: input 1), for index-free evaluation.
const fn nest5(a: &[u64; 32]) -> Tree5 {
    [nest4(a, 0), nest4(a, 16)]
}

const IP_MAP: BitMap = map64(&IP);
const FP_MAP: BitMap = map64(&IP_INV);
const PC1_MAP: BitMap = pc1_map();
const SUBKEY_MAP: BitMap = subkey_map();
const P_MAP: BitMap = p_map();

/// An operation on the 6-bit index of every bit position of a 64-bit word: complement index
/// bit `k` (`Flip`), or exchange index bits `k < l` (`Swap`). IP is such a permutation ("bit
/// permute/complement"): output position `p` takes input position `(!p2 !p1 !p0 p4 p3 !p5)`
/// (index bits 5..0, least significant position = 0), so a few of these operations make IP,
/// and the same in reverse order make IP^-1. Each is one delta swap (6 operations), against
/// 37 rotation groups (about 150 operations) for IP taken as an arbitrary permutation.
#[derive(Clone, Copy)]
enum IndexOp {
    Flip(u32),
    Swap(u32, u32),
}

/// The delta swap of an [`IndexOp`]: distance, and the mask of the lower position of each pair.
const fn delta(op: IndexOp) -> (u32, u64) {
    let (d, k, l) = match op {
        IndexOp::Flip(k) => (1 << k, k, k),
        IndexOp::Swap(k, l) => ((1 << l) - (1 << k), k, l),
    };
    let mut mask = 0u64;
    let mut p = 0;
    while p < 64 {
        let lower = match op {
            IndexOp::Flip(_) => (p >> k) & 1 == 0,
            IndexOp::Swap(..) => (p >> k) & 1 == 1 && (p >> l) & 1 == 0,
        };
        if lower {
            mask |= 1 << p;
        }
        p += 1;
    }
    (d, mask)
}

/// IP as index operations, applied in this order (found by a small search, checked at
/// compile time against the FIPS table by [`delta_swaps`]).
const IP_OPS: [IndexOp; 9] = [
    IndexOp::Flip(0),
    IndexOp::Flip(3),
    IndexOp::Flip(4),
    IndexOp::Flip(5),
    IndexOp::Swap(0, 1),
    IndexOp::Swap(0, 3),
    IndexOp::Swap(1, 2),
    IndexOp::Swap(1, 4),
    IndexOp::Swap(2, 5),
];

/// The delta swaps of `ops` (in order, or reversed), after checking at compile time that
/// they perform exactly the permutation `map`.
const fn delta_swaps(ops: &[IndexOp; 9], reverse: bool, map: &BitMap) -> [(u32, u64); 9] {
    let mut out = [(0u32, 0u64); 9];
    // label[p]: the input position whose bit is at position p so far.
    let mut label = [0u8; 64];
    let mut p = 0;
    while p < 64 {
        if let Some((_, [slot, ..])) = label.split_at_mut_checked(p) {
            *slot = p as u8;
        }
        p += 1;
    }
    let mut i = 0;
    while i < 9 {
        let op = match pick(ops, if reverse { 8 - i } else { i }) {
            Some(op) => op,
            None => IndexOp::Flip(0),
        };
        let (d, mask) = delta(op);
        let mut p = 0;
        while p < 64 {
            if (mask >> p) & 1 == 1 {
                let (a, b) = (at(&label, p), at(&label, p + d as usize));
                if let Some((_, [slot, ..])) = label.split_at_mut_checked(p) {
                    *slot = b as u8;
                }
                if let Some((_, [slot, ..])) = label.split_at_mut_checked(p + d as usize) {
                    *slot = a as u8;
                }
            }
            p += 1;
        }
        if let Some((_, [slot, ..])) = out.split_at_mut_checked(i) {
            *slot = (d, mask);
        }
        i += 1;
    }
    let mut p = 0;
    while p < 64 {
        assert!(
            at(&label, p) + 1 == at(&map.src, p),
            "index operations differ from the table"
        );
        p += 1;
    }
    out
}

const IP_SWAPS: [(u32, u64); 9] = delta_swaps(&IP_OPS, false, &IP_MAP);
const FP_SWAPS: [(u32, u64); 9] = delta_swaps(&IP_OPS, true, &FP_MAP);

/// Applies delta swaps in order: each exchanges the bits under `mask` with those `d` above.
#[inline(always)]
fn apply_swaps(x: u64, swaps: &[(u32, u64); 9]) -> u64 {
    swaps.iter().fold(x, |x, &(d, mask)| {
        let t = ((x >> d) ^ x) & mask;
        x ^ t ^ (t << d)
    })
}
const PC1_STEPS: [Step; PC1_MAP.count()] = PC1_MAP.steps(false);
const SUBKEY_STEPS: [Step; SUBKEY_MAP.count()] = SUBKEY_MAP.steps(false);
const P_STEPS: [Step; 8] = P_MAP.steps(true);

const ROT: [u32; 6] = [
    input_rot(0),
    input_rot(1),
    input_rot(2),
    input_rot(3),
    input_rot(4),
    input_rot(5),
];
const X0_INVERT: u64 = x0_invert();
const TREE: Tree5 = nest5(&tree_anf());

/// The round function's constants, read from memory on purpose: see [`consts`].
struct Consts {
    tree: Tree5,
    p_masks: [u64; 8],
}
static CONSTS: Consts = Consts {
    tree: TREE,
    p_masks: masks(&P_STEPS),
};
/// P's rotation amounts stay compile-time constants: a rotation by a register costs more.
const P_ROTS: [u32; 8] = rots(&P_STEPS);

/// The round constants behind an opaque reference. Left visible, LLVM materialises each of
/// the 40 64-bit constants with a 10-byte `movabs` (plus a register copy) in every round;
/// read from memory they fold into the AND and XOR instructions as operands, which cuts the
/// round by about a fifth. The addresses are fixed, so the loads depend on no secret.
#[inline(always)]
fn consts() -> &'static Consts {
    core::hint::black_box(&CONSTS)
}

const LO: u64 = 0x0000_0000_ffff_ffff;
const HI: u64 = 0xffff_ffff_0000_0000;
const C_MASK: u64 = 0x0000_0000_0fff_ffff;
const D_MASK: u64 = 0x00ff_ffff_f000_0000;
const NIBBLE_LSB: u64 = 0x1111_1111_1111_1111;

// ---------------------------------------------------------------------------------------------
// Run-time primitives: only AND, XOR, OR, subtraction, and shifts and rotations by constants.
// ---------------------------------------------------------------------------------------------

/// Fills each nibble with copies of its lowest bit: `(t << 4) - t` is `15 * t` nibble by
/// nibble, computed without a multiplication (and exact even in the top nibble, mod 2^64).
#[inline(always)]
fn spread(v: u64) -> u64 {
    let t = v & NIBBLE_LSB;
    (t << 4).wrapping_sub(t)
}

#[inline(always)]
fn t1(c: &Tree1, x5: u64) -> u64 {
    let [a, b] = *c;
    a ^ (x5 & b)
}
#[inline(always)]
fn t2(c: &Tree2, x4: u64, x5: u64) -> u64 {
    let [a, b] = c;
    t1(a, x5) ^ (x4 & t1(b, x5))
}
#[inline(always)]
fn t3(c: &Tree3, x3: u64, x4: u64, x5: u64) -> u64 {
    let [a, b] = c;
    t2(a, x4, x5) ^ (x3 & t2(b, x4, x5))
}
#[inline(always)]
fn t4(c: &Tree4, x2: u64, x3: u64, x4: u64, x5: u64) -> u64 {
    let [a, b] = c;
    t3(a, x3, x4, x5) ^ (x2 & t3(b, x3, x4, x5))
}
/// All 32 S-box output bits, for input 0 = 0 in the low half and = 1 in the high half.
#[inline(always)]
fn tree(x: &[u64; 5], c: &Tree5) -> u64 {
    let [a, b] = c;
    let [x1, x2, x3, x4, x5] = *x;
    t4(a, x2, x3, x4, x5) ^ (x1 & t4(b, x2, x3, x4, x5))
}

/// The six S-box input words of a round: word `m` holds, in every nibble of box `b`, input
/// bit `m` of S-box `b`, i.e. bit `E[6b + m]` of the right half XOR subkey bit `6b + m`
/// (expansion and key addition together). Word 0 is inverted in the high half (see [`f`]).
#[inline(always)]
fn inputs(r: u64, k: &RoundKey) -> [u64; 6] {
    let [kx, k05] = *k;
    let x = r ^ kx;
    let y = r ^ k05;
    let [r0, r1, r2, r3, r4, r5] = ROT;
    [
        spread(y.rotate_right(r0)),
        spread(x.rotate_right(r1)),
        spread(x.rotate_right(r2)),
        spread(x.rotate_right(r3)),
        spread(x.rotate_right(r4)),
        spread(y.rotate_right(r5)),
    ]
}

/// The DES round function on a doubled right half; returns the doubled f(R, K).
#[inline(always)]
fn f(r: u64, k: &RoundKey, c: &Consts) -> u64 {
    let [z, x1, x2, x3, x4, x5] = inputs(r, k);
    let t = tree(&[x1, x2, x3, x4, x5], &c.tree);
    // Low half: the outputs for input 0 = 0; high half: for input 0 = 1. `z` holds input 0
    // in the low half and its complement in the high half, so this select takes the right
    // half into both halves: the result is doubled again.
    let s = t ^ (z & (t ^ t.rotate_left(32)));
    p_balanced(s, &c.p_masks)
}

/// P as eight rotation groups ORed as a balanced tree: three levels, not the chain of eight
/// that a fold gives (LLVM keeps the chain, and it sits on the round's critical path).
#[inline(always)]
fn p_balanced(s: u64, masks: &[u64; 8]) -> u64 {
    let [m0, m1, m2, m3, m4, m5, m6, m7] = *masks;
    let [r0, r1, r2, r3, r4, r5, r6, r7] = P_ROTS;
    let g = |m: u64, r: u32| (s & m).rotate_left(r);
    let (g0, g1, g2, g3) = (g(m0, r0), g(m1, r1), g(m2, r2), g(m3, r3));
    let (g4, g5, g6, g7) = (g(m4, r4), g(m5, r5), g(m6, r6), g(m7, r7));
    ((g0 | g1) | (g2 | g3)) | ((g4 | g5) | (g6 | g7))
}

/// Doubles the low half.
#[inline(always)]
fn dup_lo(v: u64) -> u64 {
    (v << 32) | (v & LO)
}

/// Doubles the high half.
#[inline(always)]
fn dup_hi(v: u64) -> u64 {
    (v >> 32) | (v & HI)
}

/// One round key: `[KX, K05]`, doubled, see [`subkey_map`].
type RoundKey = [u64; 2];

/// The masks of `steps`, and their rotation amounts.
const fn masks<const N: usize>(steps: &[Step; N]) -> [u64; N] {
    let mut out = [0; N];
    let mut i = 0;
    while i < N {
        if let (Some(step), Some((_, [slot, ..]))) = (pick(steps, i), out.split_at_mut_checked(i)) {
            *slot = step.mask;
        }
        i += 1;
    }
    out
}
const fn rots<const N: usize>(steps: &[Step; N]) -> [u32; N] {
    let mut out = [0; N];
    let mut i = 0;
    while i < N {
        if let (Some(step), Some((_, [slot, ..]))) = (pick(steps, i), out.split_at_mut_checked(i)) {
            *slot = step.rot;
        }
        i += 1;
    }
    out
}

/// The key schedule's masks, behind an opaque reference for the same reason as [`consts`]
/// (the rotation amounts stay compile-time constants).
static SCHEDULE_MASKS: ([u64; PC1_MAP.count()], [u64; SUBKEY_MAP.count()]) =
    (masks(&PC1_STEPS), masks(&SUBKEY_STEPS));
const PC1_ROTS: [u32; PC1_MAP.count()] = rots(&PC1_STEPS);
const SUBKEY_ROTS: [u32; SUBKEY_MAP.count()] = rots(&SUBKEY_STEPS);

/// Applies a bit permutation given as rotation groups (masks and rotation amounts apart). The
/// groups are ORed into four accumulators in turn, so the dependency chain is a quarter of the
/// group count (a plain fold is one chain through every group).
#[inline(always)]
fn permute_split<const N: usize>(x: u64, masks: &[u64; N], rots: &[u32; N]) -> u64 {
    let mut acc = [0u64; 4];
    for (mask_chunk, rot_chunk) in masks.chunks(4).zip(rots.chunks(4)) {
        for (a, (&mask, &rot)) in acc.iter_mut().zip(mask_chunk.iter().zip(rot_chunk)) {
            *a |= (x & mask).rotate_left(rot);
        }
    }
    let [a, b, c, d] = acc;
    (a | b) | (c | d)
}

/// The 16 round keys of one DES key, in encryption order.
fn des_schedule(key: &[u8], out: &mut [RoundKey; 16]) {
    let (pc1_masks, subkey_masks) = core::hint::black_box(&SCHEDULE_MASKS);
    let mut k = [0u8; 8];
    k.iter_mut().zip(key).for_each(|(d, s)| *d = *s);
    let cd = permute_split(u64::from_be_bytes(k), pc1_masks, &PC1_ROTS);
    k.zeroize();
    let (mut c, mut d) = (cd & C_MASK, cd & D_MASK);
    for (rk, &shift) in out.iter_mut().zip(SHIFTS.iter()) {
        let s = u32::from(shift);
        c = ((c << s) | (c >> (28 - s))) & C_MASK;
        d = ((d << s) | (d >> (28 - s))) & D_MASK;
        let z = permute_split(c | d, subkey_masks, &SUBKEY_ROTS);
        *rk = [dup_lo(z), dup_hi(z).rotate_right(K05_ROT) ^ X0_INVERT];
    }
}

/// A 3-key Triple-DES (EDE) block cipher in constant time.
///
/// `TdesEde3::new(K1 || K2 || K3)` encrypts a block as `E_K3(D_K2(E_K1(x)))`. Every key is
/// accepted, weak and degenerate ones included (K1 = K2 = K3 is single DES), and parity bits
/// are ignored, exactly as DES does.
///
/// Constant time: the key schedule, encryption and decryption index no table with key or
/// data bits, branch on none, and neither multiply nor shift by a secret amount; the S-boxes
/// are evaluated as a fixed AND/XOR circuit (after BearSSL's `des_ct` and bc-rust PR #139,
/// with constants derived at compile time from the FIPS 46-3 tables). That is a property of
/// the source; the machine code is checked by an assembly scan and a valgrind memcheck run,
/// for the targets those run on. The round keys are wiped on drop.
///
/// ```
/// use cardadmin::hazmat::TdesEde3;
///
/// let engine = TdesEde3::new(&[0u8; 24]);
/// let mut block = [0xd6, 0x11, 0x43, 0xf9, 0xcc, 0xff, 0xd2, 0xca];
/// engine.encrypt_block(&mut block);
/// assert_eq!(block, [0x17, 0x46, 0x6e, 0x76, 0x6e, 0x30, 0x3c, 0xb6]);
/// engine.decrypt_block(&mut block);
/// assert_eq!(block, [0xd6, 0x11, 0x43, 0xf9, 0xcc, 0xff, 0xd2, 0xca]);
/// ```
#[derive(Clone)]
pub struct TdesEde3 {
    /// The 48 round keys in encryption order (K1 forward, K2 backward, K3 forward).
    keys: [[RoundKey; 16]; 3],
}

impl TdesEde3 {
    /// Expands the 24-byte key `K1 || K2 || K3`. Accepts every key.
    ///
    /// ```
    /// use cardadmin::hazmat::TdesEde3;
    ///
    /// // The minidriver default key: K1 = K2 = K3, so this is single DES.
    /// let key = [1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4, 5, 6, 7, 8];
    /// let engine = TdesEde3::new(&key);
    /// let mut block = [0; 8];
    /// engine.encrypt_block(&mut block);
    /// assert_ne!(block, [0; 8]);
    /// ```
    pub fn new(key: &[u8; 24]) -> Self {
        let mut keys = [[[0u64; 2]; 16]; 3];
        let [k1, k2, k3] = &mut keys;
        let (a, rest) = key.split_at(8);
        let (b, c) = rest.split_at(8);
        des_schedule(a, k1);
        des_schedule(b, k2);
        k2.reverse();
        des_schedule(c, k3);
        TdesEde3 { keys }
    }

    /// Encrypts one block in place: `E_K3(D_K2(E_K1(block)))`.
    ///
    /// ```
    /// use cardadmin::hazmat::TdesEde3;
    ///
    /// // NIST SP 800-67 Appendix B, first block.
    /// let key = *b"\x01\x23\x45\x67\x89\xab\xcd\xef\x23\x45\x67\x89\xab\xcd\xef\x01\
    ///              \x45\x67\x89\xab\xcd\xef\x01\x23";
    /// let mut block = *b"The qufc";
    /// TdesEde3::new(&key).encrypt_block(&mut block);
    /// assert_eq!(block, [0xa8, 0x26, 0xfd, 0x8c, 0xe5, 0x3b, 0x85, 0x5f]);
    /// ```
    pub fn encrypt_block(&self, block: &mut [u8; 8]) {
        let [a, b, c] = &self.keys;
        *block = crypt1(block, [a.iter(), b.iter(), c.iter()]);
    }

    /// Decrypts one block in place: `D_K1(E_K2(D_K3(block)))`.
    ///
    /// ```
    /// use cardadmin::hazmat::TdesEde3;
    ///
    /// let key = *b"\x01\x23\x45\x67\x89\xab\xcd\xef\x23\x45\x67\x89\xab\xcd\xef\x01\
    ///              \x45\x67\x89\xab\xcd\xef\x01\x23";
    /// let mut block = [0xa8, 0x26, 0xfd, 0x8c, 0xe5, 0x3b, 0x85, 0x5f];
    /// TdesEde3::new(&key).decrypt_block(&mut block);
    /// assert_eq!(&block, b"The qufc");
    /// ```
    pub fn decrypt_block(&self, block: &mut [u8; 8]) {
        let [a, b, c] = &self.keys;
        *block = crypt1(block, [c.iter().rev(), b.iter().rev(), a.iter().rev()]);
    }

    /// Encrypts independent blocks in place (ECB). Three blocks at a time run interleaved, which
    /// costs far less than three calls to [`encrypt_block`](Self::encrypt_block).
    ///
    /// ```
    /// use cardadmin::hazmat::TdesEde3;
    ///
    /// let engine = TdesEde3::new(&[0x5a; 24]);
    /// let mut blocks = [[1u8; 8], [2; 8], [3; 8]];
    /// engine.encrypt_blocks(&mut blocks);
    /// let mut one = [2u8; 8];
    /// engine.encrypt_block(&mut one);
    /// assert_eq!(blocks[1], one);
    /// ```
    pub fn encrypt_blocks(&self, blocks: &mut [[u8; 8]]) {
        let [a, b, c] = &self.keys;
        let mut rest = blocks;
        // Slice patterns rather than `chunks_exact(3)`, whose length / 3 compiles to a
        // multiplication (on the public length, but the asm check allows none).
        while let [x, y, z, tail @ ..] = rest {
            [*x, *y, *z] = crypt3([x, y, z], [a.iter(), b.iter(), c.iter()]);
            rest = tail;
        }
        for block in rest {
            *block = crypt1(block, [a.iter(), b.iter(), c.iter()]);
        }
    }

    /// Decrypts independent blocks in place (ECB), three at a time interleaved.
    ///
    /// ```
    /// use cardadmin::hazmat::TdesEde3;
    ///
    /// let engine = TdesEde3::new(&[0x5a; 24]);
    /// let mut blocks = [[1u8; 8], [2; 8], [3; 8], [4; 8]];
    /// engine.encrypt_blocks(&mut blocks);
    /// engine.decrypt_blocks(&mut blocks);
    /// assert_eq!(blocks, [[1u8; 8], [2; 8], [3; 8], [4; 8]]);
    /// ```
    pub fn decrypt_blocks(&self, blocks: &mut [[u8; 8]]) {
        let [a, b, c] = &self.keys;
        let mut rest = blocks;
        while let [x, y, z, tail @ ..] = rest {
            let stages = [c.iter().rev(), b.iter().rev(), a.iter().rev()];
            [*x, *y, *z] = crypt3([x, y, z], stages);
            rest = tail;
        }
        for block in rest {
            *block = crypt1(block, [c.iter().rev(), b.iter().rev(), a.iter().rev()]);
        }
    }
}

/// IP, then the doubled halves.
#[inline(always)]
fn load(block: &[u8; 8]) -> (u64, u64) {
    let b = apply_swaps(u64::from_be_bytes(*block), &IP_SWAPS);
    (dup_hi(b), dup_lo(b))
}

/// The halves (already swapped by the caller), then IP^-1.
#[inline(always)]
fn store(l: u64, r: u64) -> [u8; 8] {
    apply_swaps((l << 32) | (r & LO), &FP_SWAPS).to_be_bytes()
}

/// Three DES passes (16 rounds each, round keys in the order given), one block.
#[inline(always)]
fn crypt1<'a, I: Iterator<Item = &'a RoundKey>>(block: &[u8; 8], stages: [I; 3]) -> [u8; 8] {
    let c = consts();
    let (mut l, mut r) = load(block);
    for stage in stages {
        for k in stage {
            let t = l ^ f(r, k, c);
            l = r;
            r = t;
        }
        // DES ends without the last swap; IP^-1 then IP between passes cancel out.
        core::mem::swap(&mut l, &mut r);
    }
    store(l, r)
}

/// As [`crypt1`] on three independent blocks, interleaved round by round.
#[inline(always)]
fn crypt3<'a, I: Iterator<Item = &'a RoundKey>>(
    blocks: [&[u8; 8]; 3],
    stages: [I; 3],
) -> [[u8; 8]; 3] {
    let c = consts();
    let [b0, b1, b2] = blocks;
    let (mut l0, mut r0) = load(b0);
    let (mut l1, mut r1) = load(b1);
    let (mut l2, mut r2) = load(b2);
    for stage in stages {
        for k in stage {
            let t0 = l0 ^ f(r0, k, c);
            let t1 = l1 ^ f(r1, k, c);
            let t2 = l2 ^ f(r2, k, c);
            (l0, r0, l1, r1, l2, r2) = (r0, t0, r1, t1, r2, t2);
        }
        (l0, r0, l1, r1, l2, r2) = (r0, l0, r1, l1, r2, l2);
    }
    [store(l0, r0), store(l1, r1), store(l2, r2)]
}

impl fmt::Debug for TdesEde3 {
    /// Shows no key material.
    ///
    /// ```
    /// use cardadmin::hazmat::TdesEde3;
    ///
    /// assert_eq!(format!("{:?}", TdesEde3::new(&[7; 24])), "TdesEde3 { .. }");
    /// ```
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TdesEde3 { .. }")
    }
}

impl Zeroize for TdesEde3 {
    /// Wipes the round keys (the engine then encrypts as under the all-zero subkeys).
    ///
    /// ```
    /// use cardadmin::hazmat::TdesEde3;
    /// use zeroize::Zeroize;
    ///
    /// let mut engine = TdesEde3::new(&[7; 24]);
    /// engine.zeroize();
    /// ```
    fn zeroize(&mut self) {
        self.keys.zeroize();
    }
}

impl Drop for TdesEde3 {
    fn drop(&mut self) {
        self.zeroize();
    }
}

impl ZeroizeOnDrop for TdesEde3 {}

impl KeySizeUser for TdesEde3 {
    type KeySize = U24;
}

impl KeyInit for TdesEde3 {
    /// The `cipher` 0.4 constructor, for generic code such as `cmac::Cmac<TdesEde3>`.
    ///
    /// ```
    /// use cardadmin::hazmat::TdesEde3;
    /// use cipher::{generic_array::GenericArray, BlockEncrypt, KeyInit};
    ///
    /// let engine = <TdesEde3 as KeyInit>::new(GenericArray::from_slice(&[0u8; 24]));
    /// let mut block = GenericArray::from([0xd6, 0x11, 0x43, 0xf9, 0xcc, 0xff, 0xd2, 0xca]);
    /// BlockEncrypt::encrypt_block(&engine, &mut block);
    /// assert_eq!(block.as_slice(), [0x17, 0x46, 0x6e, 0x76, 0x6e, 0x30, 0x3c, 0xb6]);
    /// ```
    fn new(key: &Key<Self>) -> Self {
        let mut bytes = [0u8; 24];
        bytes.iter_mut().zip(key.iter()).for_each(|(d, s)| *d = *s);
        let engine = TdesEde3::new(&bytes);
        bytes.zeroize();
        engine
    }
}

impl BlockCipher for TdesEde3 {}

cipher::impl_simple_block_encdec!(
    TdesEde3, cipher::consts::U8, engine, block,
    encrypt: {
        let mut data: [u8; 8] = block.clone_in().into();
        engine.encrypt_block(&mut data);
        *block.get_out() = GenericArray::from(data);
    }
    decrypt: {
        let mut data: [u8; 8] = block.clone_in().into();
        engine.decrypt_block(&mut data);
        *block.get_out() = GenericArray::from(data);
    }
);

#[cfg(test)]
mod tests;
