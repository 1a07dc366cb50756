//! TEMPORARY: the `des` crate behind the constant-time engine's API, until the engine lands.

/// 3-key Triple-DES (EDE).
#[derive(Clone)]
pub struct TdesEde3(des::TdesEde3);

impl core::fmt::Debug for TdesEde3 {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("TdesEde3 { .. }")
    }
}

impl TdesEde3 {
    /// The key schedule of `K1 || K2 || K3`.
    pub fn new(key: &[u8; 24]) -> Self {
        use cipher::KeyInit;
        Self(des::TdesEde3::new(key.into()))
    }
    /// Encrypts one block in place.
    pub fn encrypt_block(&self, block: &mut [u8; 8]) {
        use cipher::BlockEncrypt;
        self.0.encrypt_block(block.into());
    }
    /// Decrypts one block in place.
    pub fn decrypt_block(&self, block: &mut [u8; 8]) {
        use cipher::BlockDecrypt;
        self.0.decrypt_block(block.into());
    }
    /// Encrypts independent blocks.
    pub fn encrypt_blocks(&self, blocks: &mut [[u8; 8]]) {
        blocks
            .iter_mut()
            .for_each(|block| self.encrypt_block(block));
    }
    /// Decrypts independent blocks.
    pub fn decrypt_blocks(&self, blocks: &mut [[u8; 8]]) {
        blocks
            .iter_mut()
            .for_each(|block| self.decrypt_block(block));
    }
}

impl zeroize::ZeroizeOnDrop for TdesEde3 {}
