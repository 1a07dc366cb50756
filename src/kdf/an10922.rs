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

use zeroize::Zeroizing;

use crate::card_id::CardId;
use crate::error::KeyError;
use crate::key::AdminKey;
use crate::primitive::{cmac_lanes, des_key, Cipher, Padding, Subkeys};

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
        let mut derived = Zeroizing::new([0u8; AdminKey::LEN]);
        match self.cipher() {
            Cipher::Tdes(cipher) => {
                let subkeys = Subkeys::from_l(&self.zero_block_of::<8>());
                // The three CMACs run as three lanes of one chain: the engine interleaves them.
                let tags = Zeroizing::new(cmac_lanes(
                    cipher,
                    &subkeys,
                    Some(PART_CONSTANTS),
                    input,
                    Padding::Standard,
                ));
                for (part, tag) in derived.chunks_exact_mut(8).zip(tags.iter()) {
                    for (out, byte) in part.iter_mut().zip(tag) {
                        *out = des_key::with_odd_parity(*byte);
                    }
                }
            }
        }
        AdminKey::from_bytes(*derived)
    }

    /// CMAC (NIST SP 800-38B) under this Triple-DES key over `message`.
    #[cfg(test)]
    pub(crate) fn cmac(&self, message: &[u8]) -> [u8; 8] {
        let Cipher::Tdes(cipher) = self.cipher();
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
}
