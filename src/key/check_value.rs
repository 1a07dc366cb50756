//! Key check values: a short, public fingerprint of a key.

use core::fmt;

/// A key check value: the first 3 bytes of `E_K(00..00)` (one all-zero block of the key's
/// cipher), the rule of PKCS#11's `CKA_CHECK_VALUE`.
///
/// `Display` gives 6 uppercase hex digits, the form key ceremonies and HSM consoles print.
///
/// ```
/// use cardadmin::AdminKey;
///
/// let key = AdminKey::from_hex("010203040506070801020304050607080102030405060708")?;
/// assert_eq!(key.check_value().to_string().len(), 6);
/// # Ok::<(), cardadmin::KeyError>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
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

impl fmt::Debug for KeyCheckValue {
    /// The same 6 hex digits as `Display`, in the type's name: `KeyCheckValue(8CA64D)`.
    ///
    /// ```
    /// use cardadmin::AdminKey;
    ///
    /// let check_value = AdminKey::from_bytes([0; 24]).check_value();
    /// assert_eq!(format!("{check_value:?}"), "KeyCheckValue(8CA64D)");
    /// ```
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("KeyCheckValue")
            .field(&format_args!("{self}"))
            .finish()
    }
}
