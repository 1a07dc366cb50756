//! Per-card admin keys: NXP AN10922 3TDEA key diversification.
//!
//! If every card shares the master admin key, one card's key leaking (from a debug log, a
//! careless script, a compromised workstation) opens every card. Diversification gives each
//! card its own key, derived from the master key and the card's ID; the server keeps only the
//! master key, and a leaked card key opens one card.
//!
//! The method is AN10922's for 3-key TDES: three CMACs (NIST SP 800-38B) under the master key,
//! over the input prefixed by `0x31`, `0x32` and `0x33`, concatenated into 24 bytes, then set
//! to odd parity, the DES key convention that MIM CM's documented diversified keys follow.
//! Parity bits are ignored by DES, so they never change a response.

use zeroize::Zeroize;

use crate::card_id::CardId;
use crate::error::KeyError;
use crate::key::AdminKey;

/// AN10922's diversification constants for the three 8-byte parts of a 3TDEA key.
const PART_CONSTANTS: [u8; 3] = [0x31, 0x32, 0x33];

/// The accepted lengths of a diversification input, in bytes.
const INPUT_LEN: core::ops::RangeInclusive<usize> = 1..=64;

impl AdminKey {
    /// Derives this card's own admin key from the master key (`self`) and the card's ID.
    ///
    /// `diversified = odd_parity(CMAC(MK, 0x31 || ID) || CMAC(MK, 0x32 || ID) || CMAC(MK, 0x33 || ID))`
    /// with `ID` the 16 bytes of [`CardId::as_bytes`].
    ///
    /// ```
    /// use cardadmin::{AdminKey, CardId};
    ///
    /// let master = AdminKey::from_hex("00112233445566778899aabbccddeeff0102030405060708")?;
    /// let card: CardId = "bc88f13f-83ba-4037-8262-46eba1291c6e".parse()?;
    /// let card_key = master.diversify(&card);
    /// assert_ne!(card_key.expose_secret(), master.expose_secret());
    /// assert!(card_key.audit().has_odd_parity());
    /// assert_eq!(card_key.expose_secret(), master.diversify(&card).expose_secret());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn diversify(&self, card_id: &CardId) -> AdminKey {
        self.derive(card_id.as_bytes())
    }

    /// The same derivation over any input of 1 to 64 bytes, for schemes that diversify over
    /// something other than the 16-byte card ID (AN10922 itself uses UID, AID and system
    /// identifier).
    ///
    /// ```
    /// use cardadmin::{AdminKey, KeyError};
    ///
    /// // NXP AN10922, 3TDEA example: its first CMAC is 2F0DD03675D3FB9A before parity.
    /// let master = AdminKey::from_hex("00112233445566778899AABBCCDDEEFF0102030405060708")?;
    /// let input = [0x04, 0x78, 0x2E, 0x21, 0x80, 0x1D, 0x80, 0x30, 0x42, 0xF5, 0x4E, 0x58, 0x50];
    /// let key = master.diversify_input(&input)?;
    /// assert_eq!(key.expose_secret()[..8], [0x2F, 0x0D, 0xD0, 0x37, 0x75, 0xD3, 0xFB, 0x9B]);
    ///
    /// assert_eq!(
    ///     master.diversify_input(&[]).unwrap_err(),
    ///     KeyError::DiversificationInputLength { min: 1, max: 64, found: 0 },
    /// );
    /// # Ok::<(), KeyError>(())
    /// ```
    pub fn diversify_input(&self, input: &[u8]) -> Result<AdminKey, KeyError> {
        if !INPUT_LEN.contains(&input.len()) {
            return Err(KeyError::DiversificationInputLength {
                min: *INPUT_LEN.start(),
                max: *INPUT_LEN.end(),
                found: input.len(),
            });
        }
        Ok(self.derive(input))
    }

    fn derive(&self, input: &[u8]) -> AdminKey {
        let mut derived = [0u8; AdminKey::LEN];
        let subkeys = Subkeys::of(self);
        for (part, constant) in derived.chunks_exact_mut(8).zip(PART_CONSTANTS) {
            let mut tag = self.cmac_with(&subkeys, &[&[constant], input]);
            part.copy_from_slice(&tag);
            tag.zeroize();
        }
        derived
            .iter_mut()
            .for_each(|byte| *byte = with_odd_parity(*byte));
        let key = AdminKey::from_bytes(derived);
        derived.zeroize();
        key
    }

    /// CMAC (NIST SP 800-38B) under this key over the concatenation of `message`.
    #[cfg(test)]
    pub(crate) fn cmac(&self, message: &[&[u8]]) -> [u8; 8] {
        self.cmac_with(&Subkeys::of(self), message)
    }

    /// CMAC with subkeys already derived from this key: the CBC-MAC chain, run with the key's
    /// own expanded schedule (no copy of it, no second expansion), over the message bytes; the
    /// last block is XORed with `K1` when complete, or padded with `10..0` and XORed with `K2`.
    /// The `cmac` crate computes the same (`tests/cmac_crosscheck.rs`), but encrypts `L` again
    /// at every finalization and needs the schedule cloned into each MAC.
    fn cmac_with(&self, subkeys: &Subkeys, message: &[&[u8]]) -> [u8; 8] {
        let mut state = [0u8; 8];
        // Bytes of the message XORed into `state` since the last encryption. A full block is
        // only encrypted once another byte follows, since the last block is treated apart.
        let mut filled = 0usize;
        for &byte in message.iter().flat_map(|part| part.iter()) {
            if filled == state.len() {
                self.encrypt_in_place(&mut state);
                filled = 0;
            }
            if let Some(slot) = state.get_mut(filled) {
                *slot ^= byte;
            }
            filled += 1;
        }
        // A message of 0 bytes is one incomplete (padded) block.
        let last_key = if filled == state.len() {
            &subkeys.k1
        } else {
            if let Some(slot) = state.get_mut(filled) {
                *slot ^= 0x80;
            }
            &subkeys.k2
        };
        state
            .iter_mut()
            .zip(last_key)
            .for_each(|(byte, key)| *byte ^= key);
        self.encrypt_in_place(&mut state);
        state
    }
}

/// CMAC's subkeys for 64-bit blocks: `K1 = dbl(L)`, `K2 = dbl(K1)` with `L = E_K(0^64)`, which
/// the key keeps once computed (see [`AdminKey`]). Zeroized on drop.
struct Subkeys {
    k1: [u8; 8],
    k2: [u8; 8],
}

impl Subkeys {
    fn of(key: &AdminKey) -> Self {
        let mut l = u64::from_be_bytes(key.zero_block());
        let mut k1 = dbl(l);
        let mut k2 = dbl(k1);
        let subkeys = Self {
            k1: k1.to_be_bytes(),
            k2: k2.to_be_bytes(),
        };
        l.zeroize();
        k1.zeroize();
        k2.zeroize();
        subkeys
    }
}

impl Drop for Subkeys {
    fn drop(&mut self) {
        self.k1.zeroize();
        self.k2.zeroize();
    }
}

/// Doubling in GF(2^64) with SP 800-38B's `R64 = 0x1B`: shift left by one and, when a bit falls
/// off the top, XOR `R64`. Branch-free, as the subkeys are secret.
fn dbl(value: u64) -> u64 {
    const R64: u64 = 0x1b;
    let carry = value >> 63;
    (value << 1) ^ (R64 & carry.wrapping_neg())
}

/// Sets the low bit so the byte has an odd number of one bits.
fn with_odd_parity(byte: u8) -> u8 {
    let high_bits = byte & 0xfe;
    high_bits | u8::from(high_bits.count_ones() % 2 == 0)
}

#[cfg(test)]
mod tests {
    use std::vec::Vec;

    use super::with_odd_parity;
    use crate::AdminKey;

    fn from_hex(text: &str) -> Vec<u8> {
        let mut bytes = std::vec![0u8; text.len() / 2];
        hex::decode_to_slice(text, &mut bytes).unwrap();
        bytes
    }

    /// NIST SP 800-38B D.4 and CAVP CMACGenTDES3; sources are named in the file.
    #[test]
    fn cmac_matches_nist_tdea_vectors() {
        let vectors = include_str!("../tests/vectors/cmac_tdea.txt");
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
            assert_eq!(key.cmac(&[&message]).to_vec(), from_hex(tag), "{line}");
            checked += 1;
        }
        assert!(checked >= 4, "only {checked} CMAC vectors read");
    }

    #[test]
    fn parity_is_odd_and_keeps_the_high_bits() {
        for byte in 0..=255u8 {
            let fixed = with_odd_parity(byte);
            assert_eq!(fixed.count_ones() % 2, 1);
            assert_eq!(fixed & 0xfe, byte & 0xfe);
        }
    }
}
