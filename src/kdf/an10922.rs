//! Per-card admin keys: NXP AN10922 key diversification, for every algorithm.
//!
//! If every card shares the master admin key, one card's key leaking (from a debug log, a
//! careless script, a compromised workstation) opens every card. Diversification gives each
//! card its own key, derived from the master key and the card's ID; the server keeps only the
//! master key, and a leaked card key opens one card.
//!
//! The method is AN10922's: CMACs (NIST SP 800-38B) under the master key over the input `M`
//! prefixed by a constant, one CMAC per block of the derived key:
//!
//! | algorithm | derived key |
//! |---|---|
//! | 3DES (3TDEA) | `CMAC(K, 31 ‖ M) ‖ CMAC(K, 32 ‖ M) ‖ CMAC(K, 33 ‖ M)`, parity per [`DesParity`] |
//! | AES-128 | `CMAC(K, 01 ‖ M)` |
//! | AES-192 | `A[0..8] ‖ (A[8..16] ⊕ B[0..8]) ‖ B[8..16]` with `A = CMAC(K, 11 ‖ M)`, `B = CMAC(K, 12 ‖ M)` |
//! | AES-256 | `CMAC(K, 41 ‖ M) ‖ CMAC(K, 42 ‖ M)` |
//!
//! AN10922 pads `constant ‖ M` differently from plain CMAC: a message shorter than two blocks
//! (16 bytes for 3DES, 32 for AES) is always padded to two blocks with `80 00 ..`, and the
//! padded last block is masked with CMAC's `K2`. Plain SP 800-38B CMAC pads only to one block,
//! which gives a different key for short inputs (a bare 7-byte DESFire UID); libfreefare had
//! that bug (nfc-tools/libfreefare #91). This crate follows AN10922 for every length.
//!
//! AN10922 limits `M` to 15 bytes for 3TDEA and 31 for AES, so that `constant ‖ M` fits two
//! blocks. Other AN10922 implementations refuse longer inputs (libfreefare's key deriver fails
//! with `EOVERFLOW`); this crate does not, and what it does past the limit is its own
//! extension, not AN10922: for `M` longer than the limit (up to 64 bytes here) it computes
//! plain SP 800-38B CMAC over the whole `constant ‖ M`, the last block padded and masked by
//! SP 800-38B's rule (`K1` when full, else `80 00 ..` and `K2`), one CMAC per constant as
//! below the limit. Another implementation gives the same key only if it chose the same
//! extension; check it against a known key before relying on it.
//!
//! The one derivation that needs it is the MIM CM card key with a 3DES master
//! ([`AdminKey::diversify`]): `M` is the card ID's 16 bytes, one more than 3TDEA allows, so each
//! of the three CMACs runs over a 17-byte message `31 ‖ ID` (then `32`, `33`): two full blocks,
//! and a last block of one ID byte, padded to `xx 80 00 00 00 00 00 00` and masked with `K2`.
//! That is this crate's design (the project's specification), not something AN10922 or MIM CM
//! documents: MIM CM publishes an example diversified key but not how it was derived. With an
//! AES master the card ID (16 bytes) is within AN10922's 31-byte limit, so the AES card keys
//! are AN10922 as written.
//!
//! All CMACs of one derivation run as lanes of one chain (they differ only in the first byte),
//! so the cipher can interleave them. Everything derived from the key stays in wiped buffers.

use zeroize::Zeroizing;

use crate::card_id::CardId;
use crate::error::KeyError;
use crate::key::AdminKey;
use crate::primitive::{cmac_lanes, des_key, BlockCipher, Cipher, Padding, Subkeys};

/// AN10922's diversification constants for the three 8-byte parts of a 3TDEA key.
const TDEA3_CONSTANTS: [u8; 3] = [0x31, 0x32, 0x33];
/// AN10922's constant for an AES-128 key.
const AES128_CONSTANT: [u8; 1] = [0x01];
/// AN10922's constants for the two CMACs of an AES-192 key.
const AES192_CONSTANTS: [u8; 2] = [0x11, 0x12];
/// AN10922's constants for the two halves of an AES-256 key.
const AES256_CONSTANTS: [u8; 2] = [0x41, 0x42];

/// The accepted lengths of a diversification input, in bytes.
const INPUT_LEN: core::ops::RangeInclusive<usize> = 1..=64;

/// How the low bit of each byte of a diversified Triple-DES key is set.
///
/// DES ignores these bits, so the choice never changes a response; but tools and cards that
/// check them, or read a key version from them, need the right one. AES keys have no parity
/// bits, so the choice does not apply to them (AES key versions are kept beside the key).
///
/// ```
/// use cardadmin::{AdminKey, DesParity};
///
/// // NXP AN10922, 3TDEA example, with key version 0x55 in the first 8 parity bits.
/// let master = AdminKey::from_hex("00112233445566778899AABBCCDDEEFF0102030405060708")?;
/// let m = [0x04, 0x78, 0x2E, 0x21, 0x80, 0x1D, 0x80, 0x30, 0x42, 0xF5, 0x4E, 0x58, 0x50];
/// let key = master.diversify_input_with(&m, DesParity::KeyVersion(0x55))?;
/// assert_eq!(key.expose_secret(), [
///     0x2E, 0x0D, 0xD0, 0x37, 0x74, 0xD3, 0xFA, 0x9B, 0x57, 0x05, 0xAB, 0x0B,
///     0xDA, 0x91, 0xCA, 0x0B, 0x55, 0xB8, 0xE0, 0x7F, 0xCD, 0xBF, 0x10, 0xEC,
/// ]);
/// # Ok::<(), cardadmin::KeyError>(())
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DesParity {
    /// Odd parity on every byte, the DES key convention: what MIM CM's documented
    /// diversified key has, and the default.
    #[default]
    Odd,
    /// AN10922's key version: bit 7 to bit 0 of the version written into the low bits of the
    /// first 8 key bytes, in order; the other bytes as the CMAC gave them.
    KeyVersion(u8),
    /// The CMAC output as it is.
    Raw,
}

impl AdminKey {
    /// Derives this card's own admin key from the master key (`self`) and the card's ID, with
    /// the master key's algorithm (see the table in the module docs of [`AdminKey::diversify_input`]).
    ///
    /// For a Triple-DES master key:
    /// `diversified = odd_parity(CMAC(MK, 0x31 || ID) || CMAC(MK, 0x32 || ID) || CMAC(MK, 0x33 || ID))`
    /// with `ID` the 16 bytes of [`CardId::as_bytes`]. Each message `0x3n || ID` is 17 bytes,
    /// past AN10922's 15-byte limit for 3TDEA, which other AN10922 implementations refuse
    /// (libfreefare fails with `EOVERFLOW`). This crate's own extension of AN10922 takes over:
    /// plain SP 800-38B CMAC of the 17 bytes (two full blocks, then the last ID byte padded
    /// with `80 00 ..` and masked with CMAC's `K2`). Neither AN10922 nor MIM CM defines this;
    /// a key derived elsewhere matches only if it made the same choice. With an AES master the
    /// 17-byte message is within AN10922's 31-byte limit: plain AN10922.
    ///
    /// ```
    /// use cardadmin::{AdminKey, Algorithm, CardId};
    ///
    /// let master = AdminKey::from_hex("00112233445566778899aabbccddeeff0102030405060708")?;
    /// let card: CardId = "bc88f13f-83ba-4037-8262-46eba1291c6e".parse()?;
    /// let card_key = master.diversify(&card);
    /// assert_ne!(card_key.expose_secret(), master.expose_secret());
    /// assert!(card_key.audit().has_odd_parity());
    /// assert_eq!(card_key.expose_secret(), master.diversify(&card).expose_secret());
    ///
    /// let aes_master = AdminKey::new(Algorithm::Aes256, &[7; 32])?;
    /// assert_eq!(aes_master.diversify(&card).algorithm(), Algorithm::Aes256);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn diversify(&self, card_id: &CardId) -> AdminKey {
        self.derive(card_id.as_bytes(), DesParity::Odd)
    }

    /// The same derivation over any input `M` of 1 to 64 bytes, for schemes that diversify
    /// over something other than the 16-byte card ID (AN10922 itself uses UID, AID and system
    /// identifier). Triple-DES keys get odd parity, like [`AdminKey::diversify`].
    ///
    /// | algorithm | derived key |
    /// |---|---|
    /// | 3DES (3TDEA) | `CMAC(K, 31 ‖ M) ‖ CMAC(K, 32 ‖ M) ‖ CMAC(K, 33 ‖ M)`, odd parity |
    /// | AES-128 | `CMAC(K, 01 ‖ M)` |
    /// | AES-192 | `A[0..8] ‖ (A[8..16] ⊕ B[0..8]) ‖ B[8..16]`, `A = CMAC(K, 11 ‖ M)`, `B = CMAC(K, 12 ‖ M)` |
    /// | AES-256 | `CMAC(K, 41 ‖ M) ‖ CMAC(K, 42 ‖ M)` |
    ///
    /// The CMAC input is padded as AN10922 says (to at least two blocks); past AN10922's
    /// length limit (15 bytes of `M` for 3DES, 31 for AES) it is plain SP 800-38B CMAC over
    /// `constant ‖ M`: this crate's own extension, where other AN10922 implementations refuse
    /// the input.
    ///
    /// ```
    /// use cardadmin::{AdminKey, Algorithm, KeyError};
    ///
    /// // NXP AN10922, 3TDEA example: its first CMAC is 2F0DD03675D3FB9A before parity.
    /// let master = AdminKey::from_hex("00112233445566778899AABBCCDDEEFF0102030405060708")?;
    /// let m = [0x04, 0x78, 0x2E, 0x21, 0x80, 0x1D, 0x80, 0x30, 0x42, 0xF5, 0x4E, 0x58, 0x50];
    /// let key = master.diversify_input(&m)?;
    /// assert_eq!(key.expose_secret()[..8], [0x2F, 0x0D, 0xD0, 0x37, 0x75, 0xD3, 0xFB, 0x9B]);
    ///
    /// // NXP AN10922, AES-128 example.
    /// let master = AdminKey::new_hex(Algorithm::Aes128, "00112233445566778899AABBCCDDEEFF")?;
    /// let m = [
    ///     0x04, 0x78, 0x2E, 0x21, 0x80, 0x1D, 0x80, 0x30, 0x42, 0xF5, 0x4E, 0x58, 0x50, 0x20, 0x41,
    ///     0x62, 0x75,
    /// ];
    /// let key = master.diversify_input(&m)?;
    /// assert_eq!(key.expose_secret(), [
    ///     0xA8, 0xDD, 0x63, 0xA3, 0xB8, 0x9D, 0x54, 0xB3, 0x7C, 0xA8, 0x02, 0x47, 0x3F, 0xDA, 0x91,
    ///     0x75,
    /// ]);
    ///
    /// assert_eq!(
    ///     master.diversify_input(&[]).unwrap_err(),
    ///     KeyError::DiversificationInputLength { min: 1, max: 64, found: 0 },
    /// );
    /// # Ok::<(), KeyError>(())
    /// ```
    pub fn diversify_input(&self, input: &[u8]) -> Result<AdminKey, KeyError> {
        self.diversify_input_with(input, DesParity::Odd)
    }

    /// [`AdminKey::diversify_input`] with a choice of how a derived Triple-DES key's parity
    /// bits are set (see [`DesParity`]; it does not apply to AES keys).
    ///
    /// ```
    /// use cardadmin::{AdminKey, DesParity};
    ///
    /// let master = AdminKey::from_hex("00112233445566778899AABBCCDDEEFF0102030405060708")?;
    /// let m = [0x04, 0x78, 0x2E, 0x21, 0x80, 0x1D, 0x80, 0x30, 0x42, 0xF5, 0x4E, 0x58, 0x50];
    /// let raw = master.diversify_input_with(&m, DesParity::Raw)?;
    /// assert_eq!(raw.expose_secret()[..8], [0x2F, 0x0D, 0xD0, 0x36, 0x75, 0xD3, 0xFB, 0x9A]);
    /// # Ok::<(), cardadmin::KeyError>(())
    /// ```
    pub fn diversify_input_with(
        &self,
        input: &[u8],
        parity: DesParity,
    ) -> Result<AdminKey, KeyError> {
        if !INPUT_LEN.contains(&input.len()) {
            return Err(KeyError::DiversificationInputLength {
                min: *INPUT_LEN.start(),
                max: *INPUT_LEN.end(),
                found: input.len(),
            });
        }
        Ok(self.derive(input, parity))
    }

    fn derive(&self, input: &[u8], parity: DesParity) -> AdminKey {
        let mut derived = Zeroizing::new([0u8; 32]);
        let algorithm = self.algorithm();
        match self.cipher() {
            Cipher::Tdes(cipher) => {
                let tags = cmacs(cipher, &self.zero_block_of::<8>(), TDEA3_CONSTANTS, input);
                let mut key = Zeroizing::new([0u8; AdminKey::LEN]);
                concatenate(&mut *key, tags.iter());
                set_des_parity(&mut *key, parity);
                return AdminKey::from_tdes(&key);
            }
            Cipher::Aes128(cipher) => {
                let tags = cmacs(cipher, &self.zero_block_of::<16>(), AES128_CONSTANT, input);
                concatenate(&mut *derived, tags.iter());
            }
            Cipher::Aes192(cipher) => {
                let tags = cmacs(cipher, &self.zero_block_of::<16>(), AES192_CONSTANTS, input);
                let [a, b] = &*tags;
                // A[0..8] || (A[8..16] ^ B[0..8]) || B[8..16]
                let folded = a.iter().chain(&[0u8; 8]).zip([0u8; 8].iter().chain(b));
                for (out, (x, y)) in derived.iter_mut().zip(folded) {
                    *out = x ^ y;
                }
            }
            Cipher::Aes256(cipher) => {
                let tags = cmacs(cipher, &self.zero_block_of::<16>(), AES256_CONSTANTS, input);
                concatenate(&mut *derived, tags.iter());
            }
        }
        let key_len = algorithm.key_len();
        // Cannot fail: `derived` holds exactly `key_len` bytes of key for `algorithm`.
        match AdminKey::new(algorithm, derived.get(..key_len).unwrap_or_default()) {
            Ok(key) => key,
            Err(_) => AdminKey::from_bytes([0; AdminKey::LEN]),
        }
    }

    /// CMAC (NIST SP 800-38B) under this Triple-DES key over `message`.
    #[cfg(test)]
    pub(crate) fn cmac(&self, message: &[u8]) -> [u8; 8] {
        let Cipher::Tdes(cipher) = self.cipher() else {
            panic!("a Triple-DES key");
        };
        let subkeys = Subkeys::from_l(&self.zero_block_of::<8>());
        let [tag] = match message.split_first() {
            Some((&first, rest)) => {
                cmac_lanes(cipher, &subkeys, Some([first]), rest, Padding::Standard)
            }
            None => cmac_lanes::<_, 8, 1>(cipher, &subkeys, None, &[], Padding::Standard),
        };
        tag
    }
}

/// AN10922's CMACs of `constant || input`, one per constant, as lanes of one chain.
fn cmacs<C: BlockCipher<N>, const N: usize, const LANES: usize>(
    cipher: &C,
    l: &[u8; N],
    constants: [u8; LANES],
    input: &[u8],
) -> Zeroizing<[[u8; N]; LANES]> {
    let subkeys = Subkeys::from_l(l);
    Zeroizing::new(cmac_lanes(
        cipher,
        &subkeys,
        Some(constants),
        input,
        Padding::An10922,
    ))
}

/// Writes the blocks one after the other into `out`.
fn concatenate<'a, const N: usize>(out: &mut [u8], blocks: impl Iterator<Item = &'a [u8; N]>) {
    for (out, byte) in out.iter_mut().zip(blocks.flatten()) {
        *out = *byte;
    }
}

/// Sets the low bit of each byte of a Triple-DES key as `parity` says, without a branch on the
/// key (the choice and the version are public).
fn set_des_parity(key: &mut [u8], parity: DesParity) {
    match parity {
        DesParity::Odd => key
            .iter_mut()
            .for_each(|byte| *byte = des_key::with_odd_parity(*byte)),
        DesParity::KeyVersion(version) => {
            for (shift, byte) in (0..8u32).rev().zip(key.iter_mut()) {
                *byte = (*byte & 0xfe) | ((version >> shift) & 1);
            }
        }
        DesParity::Raw => {}
    }
}

#[cfg(test)]
mod tests {
    use std::vec::Vec;

    use crate::AdminKey;

    fn from_hex(text: &str) -> Vec<u8> {
        let mut bytes = std::vec![0u8; text.len() / 2];
        hex::decode_to_slice(text, &mut bytes).unwrap();
        bytes
    }

    /// NIST SP 800-38B D.4 and CAVP CMACGenTDES3; sources are named in the file.
    #[test]
    fn cmac_matches_nist_tdea_vectors() {
        let vectors = include_str!("../../tests/vectors/cmac_tdea.txt");
        let mut checked = 0;
        for line in vectors
            .lines()
            .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        {
            let fields: Vec<&str> = line.split(' ').collect();
            let [key, message, tag] = fields[..] else {
                panic!("malformed vector line: {line}");
            };
            let key = AdminKey::from_hex(key).unwrap();
            let message = if message == "-" {
                Vec::new()
            } else {
                from_hex(message)
            };
            assert_eq!(key.cmac(&message).to_vec(), from_hex(tag), "{line}");
            checked += 1;
        }
        assert!(checked >= 4, "only {checked} CMAC vectors read");
    }

    /// NXP AN10922 2TDEA example (section 2.4.1): a 2-key Triple-DES master key, constants
    /// 0x21 and 0x22, key version 0x55. `AdminKey` has no 2-key type, so this runs the same
    /// lane CMAC and parity code on the 3-key engine with `K3 = K1`, which is 2-key TDEA.
    #[test]
    fn an10922_2tdea_example_with_key_version() {
        use crate::primitive::TdesEde3;

        let master = from_hex("00112233445566778899AABBCCDDEEFF0011223344556677");
        let cipher = TdesEde3::new(master.as_slice().try_into().unwrap());
        let mut l = [0u8; 8];
        cipher.encrypt_block(&mut l);
        let m = from_hex("04782E21801D803042F54E58502041");
        let tags = super::cmacs(&cipher, &l, [0x21, 0x22], &m);
        let mut key: Vec<u8> = tags.iter().flatten().copied().collect();
        super::set_des_parity(&mut key, super::DesParity::KeyVersion(0x55));
        assert_eq!(key, from_hex("16F9587D9E8910C96B9648D006107DD7"));
    }
}
