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

use cipher::generic_array::GenericArray;
use cmac::digest::{FixedOutput, InnerInit, Update};
use cmac::{Cmac, CmacCore};
use des::TdesEde3;
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
        for (part, constant) in derived.chunks_exact_mut(8).zip(PART_CONSTANTS) {
            let mut tag = self.cmac(&[&[constant], input]);
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

    /// CMAC (NIST SP 800-38B) under this key over the concatenation of `message`, reusing the
    /// key's schedule rather than expanding the key again.
    pub(crate) fn cmac(&self, message: &[&[u8]]) -> [u8; 8] {
        let mut mac = Cmac::<TdesEde3>::from_core(CmacCore::inner_init(self.cipher().clone()));
        message.iter().for_each(|part| mac.update(part));
        let mut tag = GenericArray::default();
        mac.finalize_into(&mut tag);
        tag.into()
    }
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
