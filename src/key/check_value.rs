//! Key check values: a short, public fingerprint of a key.

use core::fmt;

/// A key check value: 3 public bytes that identify a key. Two methods, one per key role (see
/// [`master`](crate::master#check-values)):
///
/// - [`AdminKey::check_value`](crate::AdminKey::check_value): the first 3 bytes of
///   `E_K(00..00)` (one all-zero block of the key's cipher), the legacy rule of PKCS#11's
///   `CKA_CHECK_VALUE`;
/// - [`MasterKey::check_value`](crate::MasterKey::check_value) and
///   [`master::check_value`](crate::master::check_value): the first 3 bytes of
///   `CMAC(K, 00..00)`, ANSI X9.24-1:2017's CMAC method, for a key that may only MAC.
///
/// `Display` gives 6 uppercase hex digits, the form key ceremonies and HSM consoles print.
///
/// ```
/// use cardadmin::{AdminKey, MasterKey};
///
/// let key = AdminKey::from_hex("010203040506070801020304050607080102030405060708")?;
/// assert_eq!(key.check_value().to_string().len(), 6);
/// assert_eq!(AdminKey::from_bytes([0; 24]).check_value().to_string(), "8CA64D");
/// assert_eq!(MasterKey::from_hex(&"0".repeat(48))?.check_value().to_string(), "DD1BF6");
/// # Ok::<(), cardadmin::KeyError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct KeyCheckValue(pub(crate) [u8; 3]);

impl KeyCheckValue {
    /// The 3 check-value bytes.
    ///
    /// ```
    /// use cardadmin::AdminKey;
    ///
    /// assert_eq!(AdminKey::from_bytes([0; 24]).check_value().as_bytes(), &[0x8c, 0xa6, 0x4d]);
    /// ```
    pub fn as_bytes(&self) -> &[u8; 3] {
        &self.0
    }
}

impl fmt::Display for KeyCheckValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|byte| write!(f, "{byte:02X}"))
    }
}
