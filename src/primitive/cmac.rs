//! CMAC (NIST SP 800-38B) over any of the crate's block ciphers, several messages at once.
//!
//! The crate needs CMAC for key diversification (NXP AN10922), where one master key MACs two
//! or three messages that differ only in their first byte. Running them as lanes of one chain
//! lets the cipher interleave the independent blocks, and lets the subkeys, derived from the
//! key's cached `L = E_K(0)`, be computed once. The `cmac` crate computes the same for one
//! message (the tests hold this code to it), but re-encrypts `L` on every MAC and runs one
//! message at a time.
//!
//! Everything derived from the key (`L`, the subkeys, the chaining state) is combined with XOR
//! only, with no branch, table or variable shift on it, and wiped after use. The message and its
//! length are public: only they decide how many blocks are processed and where the padding goes.

use zeroize::{Zeroize, ZeroizeOnDrop};

use super::BlockCipher;

/// CMAC's two subkeys: `K1 = dbl(L)` for a message ending on a whole block, `K2 = dbl(K1)` for
/// a padded one. Zeroized on drop.
pub(crate) struct Subkeys<const N: usize> {
    k1: [u8; N],
    k2: [u8; N],
}

impl<const N: usize> Subkeys<N> {
    /// The subkeys from `L`, the encryption of the all-zero block under the key.
    pub(crate) fn from_l(l: &[u8; N]) -> Self {
        let mut k1 = *l;
        double(&mut k1);
        let mut k2 = k1;
        double(&mut k2);
        Self { k1, k2 }
    }
}

impl<const N: usize> Drop for Subkeys<N> {
    fn drop(&mut self) {
        self.k1.zeroize();
        self.k2.zeroize();
    }
}

impl<const N: usize> ZeroizeOnDrop for Subkeys<N> {}

/// Doubling in GF(2^(8N)): shift left by one bit and, when a bit falls off the top, XOR the
/// field's constant (`R64 = 0x1B`, `R128 = 0x87`) into the last byte. The carry becomes a mask,
/// not a branch, as the value is secret.
fn double<const N: usize>(block: &mut [u8; N]) {
    let reduction: u8 = if N == 8 { 0x1b } else { 0x87 };
    let mut carry = 0u8;
    for byte in block.iter_mut().rev() {
        let top = *byte >> 7;
        *byte = (*byte << 1) | carry;
        carry = top;
    }
    if let Some(last) = block.last_mut() {
        *last ^= reduction & carry.wrapping_neg();
    }
}

/// How a message is padded before the last block is MACed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Padding {
    /// NIST SP 800-38B: pad with `80 00..` to a whole block when the message does not end on
    /// one (an empty message is one padded block). What a master key's CMAC check value and a
    /// key store's CMAC use; AN10922 pads the same way once a message is two blocks long.
    Standard,
    /// NXP AN10922: as SP 800-38B, but a message shorter than two blocks is always padded to
    /// two blocks, and then MACed with `K2`.
    An10922,
}

/// CMAC of `LANES` messages at once: lane `i` MACs `first[i] || rest` (or just `rest` when
/// `first` is `None`). Returns one tag per lane.
pub(crate) fn cmac_lanes<C, const N: usize, const LANES: usize>(
    cipher: &C,
    subkeys: &Subkeys<N>,
    first: Option<[u8; LANES]>,
    rest: &[u8],
    padding: Padding,
) -> [[u8; N]; LANES]
where
    C: BlockCipher<N>,
{
    let head = usize::from(first.is_some());
    let len = head + rest.len();
    let min_len = match padding {
        Padding::Standard => 1,
        Padding::An10922 => 2 * N,
    };
    let padded_len = len.max(min_len).div_ceil(N) * N;
    let padded = padded_len != len;
    let last_key = if padded { &subkeys.k2 } else { &subkeys.k1 };
    let block_count = padded_len / N;

    let mut state = [[0u8; N]; LANES];
    for block in 0..block_count {
        let block_start = block * N;
        // This block of the padded message, as every lane sees it; the lanes differ only in the
        // first byte of the first block, added below.
        let mut bytes = [0u8; N];
        let from = block_start.saturating_sub(head).min(rest.len());
        let to = (block_start + N).saturating_sub(head).min(rest.len());
        let at = (from + head).saturating_sub(block_start);
        if let (Some(out), Some(part)) = (bytes.get_mut(at..at + (to - from)), rest.get(from..to)) {
            out.copy_from_slice(part);
        }
        if padded && (block_start..block_start + N).contains(&len) {
            if let Some(byte) = bytes.get_mut(len - block_start) {
                *byte = 0x80;
            }
        }
        if block + 1 == block_count {
            bytes
                .iter_mut()
                .zip(last_key)
                .for_each(|(byte, key)| *byte ^= key);
        }
        for (lane, lane_state) in state.iter_mut().enumerate() {
            lane_state
                .iter_mut()
                .zip(&bytes)
                .for_each(|(byte, message)| *byte ^= message);
            if let (0, Some(first), Some(byte)) = (block_start, first, lane_state.first_mut()) {
                *byte ^= first.get(lane).copied().unwrap_or(0);
            }
        }
        bytes.zeroize();
        cipher.encrypt_blocks(&mut state);
    }
    state
}

#[cfg(test)]
mod tests {
    use super::double;

    #[test]
    fn doubling_matches_sp800_38b_examples() {
        // SP 800-38B D.1 (AES-128): L = 7df76b0c1ab899b33e42f047b91b546f, K1 = fbeed618...
        let mut block: [u8; 16] = hex_array("7df76b0c1ab899b33e42f047b91b546f");
        double(&mut block);
        assert_eq!(block, hex_array("fbeed618357133667c85e08f7236a8de"));
        double(&mut block);
        assert_eq!(block, hex_array("f7ddac306ae266ccf90bc11ee46d513b"));
        // In GF(2^64) a carry out of the top bit folds back as R64 = 0x1B.
        let mut block: [u8; 8] = hex_array("8000000000000001");
        double(&mut block);
        assert_eq!(block, hex_array("0000000000000019"));
        let mut block: [u8; 8] = hex_array("4000000000000001");
        double(&mut block);
        assert_eq!(block, hex_array("8000000000000002"));
    }

    fn hex_array<const N: usize>(text: &str) -> [u8; N] {
        let mut bytes = [0u8; N];
        hex::decode_to_slice(text, &mut bytes).unwrap();
        bytes
    }
}
