//! Per-card admin keys: NXP AN10922 key diversification, for every algorithm.
//!
//! If every card shares the master admin key, one card's key leaking (from a debug log, a
//! careless script, a compromised workstation) opens every card. Diversification gives each
//! card its own key, derived from the master key and the card's ID; the server keeps only the
//! master key, and a leaked card key opens one card. That holds only while the master key
//! does nothing but derive: a master that also answered challenges would hand out CMAC under
//! itself (issue #15), which is why it is a [`MasterKey`](crate::MasterKey), with no
//! `respond`, and never an [`AdminKey`].
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
//! ([`MasterKey::diversify`](crate::MasterKey::diversify)): `M` is the card ID's 16 bytes, one more than 3TDEA allows, so each
//! of the three CMACs runs over a 17-byte message `31 ‖ ID` (then `32`, `33`): two full blocks,
//! and a last block of one ID byte, padded to `xx 80 00 00 00 00 00 00` and masked with `K2`.
//! That is this crate's design (the project's specification), not something AN10922 or MIM CM
//! documents: MIM CM publishes an example diversified key but not how it was derived. With an
//! AES master the card ID (16 bytes) is within AN10922's 31-byte limit, so the AES card keys
//! are AN10922 as written.
//!
//! # Written once, whoever computes the CMAC
//!
//! A master key lives either in memory ([`MasterKey`](crate::MasterKey)) or in a key store
//! that computes CMAC for the crate ([`CmacSigner`](crate::signer::CmacSigner): an HSM over
//! PKCS#11). Both derivations go through this file: the input check ([`check_input`]), the
//! constants per algorithm ([`constants`]) and the fold of the tags into a key ([`fold`]) are
//! written once; only the CMACs differ. In memory, all CMACs of one derivation run as lanes of
//! one chain (they differ only in the first byte), so the cipher can interleave them; through a
//! key store, each is one call to [`CmacSigner::cmac`](crate::signer::CmacSigner::cmac) over a
//! [`CmacMessage`](crate::signer::CmacMessage) built here. Everything derived from the key stays
//! in wiped buffers.
//!
//! A key store computes plain SP 800-38B CMAC, which agrees with AN10922's padding only when
//! `constant ‖ M` is longer than one block, that is when `M` has at least one block's length
//! (8 bytes for 3DES, 16 for AES). Card IDs (16 bytes) and AN10922's published examples are;
//! through a key store a shorter `M` is refused ([`KeyError::KeyStoreInputLength`]) rather than
//! derived differently.

use zeroize::Zeroizing;

use crate::algorithm::Algorithm;
use crate::error::KeyError;
use crate::key::AdminKey;
use crate::primitive::{cmac_lanes, des_key, BlockCipher, Cipher, Padding, Subkeys};
use crate::signer::{CmacMessage, CmacSigner, DiversifyError};

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

/// Room for the CMAC tags of one derivation, one after the other: 3 × 8 bytes for 3DES,
/// 1 or 2 × 16 for AES.
const TAGS_LEN: usize = 32;

/// How the low bit of each byte of a diversified Triple-DES key is set.
///
/// DES ignores these bits, so the choice never changes a response; but tools and cards that
/// check them, or read a key version from them, need the right one. AES keys have no parity
/// bits, so the choice does not apply to them (AES key versions are kept beside the key).
///
/// ```
/// use cardadmin::{DesParity, MasterKey};
///
/// // NXP AN10922, 3TDEA example, with key version 0x55 in the first 8 parity bits.
/// let master = MasterKey::from_hex("00112233445566778899AABBCCDDEEFF0102030405060708")?;
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

/// AN10922's constants for a master key of `algorithm`: one CMAC of `constant ‖ M` each, in
/// the order their tags make the derived key.
pub(crate) fn constants(algorithm: Algorithm) -> &'static [u8] {
    match algorithm {
        Algorithm::Tdes => &TDEA3_CONSTANTS,
        Algorithm::Aes128 => &AES128_CONSTANT,
        Algorithm::Aes192 => &AES192_CONSTANTS,
        Algorithm::Aes256 => &AES256_CONSTANTS,
    }
}

/// Refuses a diversification input that is empty or longer than 64 bytes.
pub(crate) fn check_input(input: &[u8]) -> Result<(), KeyError> {
    if INPUT_LEN.contains(&input.len()) {
        Ok(())
    } else {
        Err(KeyError::DiversificationInputLength {
            min: *INPUT_LEN.start(),
            max: *INPUT_LEN.end(),
            found: input.len(),
        })
    }
}

/// The derived key of `algorithm` from its CMAC tags, one block each, one after the other in
/// `tags` in the order of [`constants`]:
///
/// | algorithm | derived key |
/// |---|---|
/// | 3DES | `T1 ‖ T2 ‖ T3`, parity per `parity` |
/// | AES-128 | `T1` |
/// | AES-192 | `T1[0..8] ‖ (T1[8..16] ⊕ T2[0..8]) ‖ T2[8..16]` |
/// | AES-256 | `T1 ‖ T2` |
fn fold(algorithm: Algorithm, tags: &[u8; TAGS_LEN], parity: DesParity) -> AdminKey {
    let mut derived = Zeroizing::new([0u8; TAGS_LEN]);
    match algorithm {
        Algorithm::Tdes => {
            let mut key = Zeroizing::new([0u8; AdminKey::LEN]);
            key.iter_mut()
                .zip(tags.iter())
                .for_each(|(out, byte)| *out = *byte);
            set_des_parity(&mut *key, parity);
            return AdminKey::from_tdes(&key);
        }
        Algorithm::Aes192 => {
            // A[0..8] || (A[8..16] ^ B[0..8]) || B[8..16], with A = tags[0..16], B = tags[16..32]:
            // (A || 0^8) ^ (0^8 || B).
            let a = tags.iter().take(16).chain(&[0u8; 8]);
            let b = [0u8; 8].iter().chain(tags.iter().skip(16));
            for (out, (x, y)) in derived.iter_mut().zip(a.zip(b)) {
                *out = x ^ y;
            }
        }
        Algorithm::Aes128 | Algorithm::Aes256 => {
            derived
                .iter_mut()
                .zip(tags.iter())
                .for_each(|(out, byte)| *out = *byte);
        }
    }
    let key_len = algorithm.key_len();
    // Cannot fail: `derived` holds exactly `key_len` bytes of key for `algorithm`.
    match AdminKey::new(algorithm, derived.get(..key_len).unwrap_or_default()) {
        Ok(key) => key,
        Err(_) => AdminKey::from_bytes([0; AdminKey::LEN]),
    }
}

/// AN10922 under an in-memory master key (`master`), its CMACs as lanes of one chain. The
/// input's length is checked by the caller.
pub(crate) fn derive_in_memory(master: &AdminKey, input: &[u8], parity: DesParity) -> AdminKey {
    let mut tags = Zeroizing::new([0u8; TAGS_LEN]);
    match master.cipher() {
        Cipher::Tdes(cipher) => {
            let lanes = cmacs(cipher, &master.zero_block_of::<8>(), TDEA3_CONSTANTS, input);
            concatenate(&mut *tags, lanes.iter());
        }
        Cipher::Aes128(cipher) => {
            let lanes = cmacs(
                cipher,
                &master.zero_block_of::<16>(),
                AES128_CONSTANT,
                input,
            );
            concatenate(&mut *tags, lanes.iter());
        }
        Cipher::Aes192(cipher) => {
            let lanes = cmacs(
                cipher,
                &master.zero_block_of::<16>(),
                AES192_CONSTANTS,
                input,
            );
            concatenate(&mut *tags, lanes.iter());
        }
        Cipher::Aes256(cipher) => {
            let lanes = cmacs(
                cipher,
                &master.zero_block_of::<16>(),
                AES256_CONSTANTS,
                input,
            );
            concatenate(&mut *tags, lanes.iter());
        }
    }
    fold(master.algorithm(), &tags, parity)
}

/// AN10922 through a key store: the same input check, constants and fold as
/// [`derive_in_memory`], one [`CmacSigner::cmac`] per constant.
pub(crate) fn derive_with<S: CmacSigner + ?Sized>(
    signer: &S,
    input: &[u8],
    parity: DesParity,
) -> Result<AdminKey, DiversifyError<S::Error>> {
    check_input(input).map_err(DiversifyError::Input)?;
    let algorithm = signer.algorithm();
    let block_len = algorithm.block_len();
    if input.len() < block_len {
        return Err(DiversifyError::Input(KeyError::KeyStoreInputLength {
            min: block_len,
            found: input.len(),
        }));
    }
    let mut tags = Zeroizing::new([0u8; TAGS_LEN]);
    for (&constant, tag) in constants(algorithm)
        .iter()
        .zip(tags.chunks_exact_mut(block_len))
    {
        let message = CmacMessage::prefixed(constant, input);
        signer.cmac(&message, tag).map_err(DiversifyError::Signer)?;
    }
    Ok(fold(algorithm, &tags, parity))
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

/// Plain CMAC (NIST SP 800-38B) of `message` under an in-memory key, the full tag written
/// into `tag` (as much of it as `tag` holds).
pub(crate) fn cmac(key: &AdminKey, message: &[u8], tag: &mut [u8]) {
    match key.cipher() {
        Cipher::Tdes(cipher) => cmac_one(cipher, &key.zero_block_of::<8>(), message, tag),
        Cipher::Aes128(cipher) => cmac_one(cipher, &key.zero_block_of::<16>(), message, tag),
        Cipher::Aes192(cipher) => cmac_one(cipher, &key.zero_block_of::<16>(), message, tag),
        Cipher::Aes256(cipher) => cmac_one(cipher, &key.zero_block_of::<16>(), message, tag),
    }
}

fn cmac_one<C: BlockCipher<N>, const N: usize>(
    cipher: &C,
    l: &[u8; N],
    message: &[u8],
    tag: &mut [u8],
) {
    let subkeys = Subkeys::from_l(l);
    let lanes = Zeroizing::new(match message.split_first() {
        Some((&first, rest)) => {
            cmac_lanes(cipher, &subkeys, Some([first]), rest, Padding::Standard)
        }
        None => cmac_lanes::<_, N, 1>(cipher, &subkeys, None, &[], Padding::Standard),
    });
    concatenate(tag, lanes.iter());
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
            let mut computed = [0u8; 8];
            super::cmac(&key, &message, &mut computed);
            assert_eq!(computed.to_vec(), from_hex(tag), "{line}");
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
