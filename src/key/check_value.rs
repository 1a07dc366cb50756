//! Key check values: a short, public fingerprint of a key.
//!
//! What a check value reveals: the first 3 bytes (24 bits) of `E_K(0)`, the key's encryption
//! of one all-zero block. That is
//!
//! - **a test for a guessed key**: anyone holding a check value can try candidate keys
//!   against it (a wrong key matches once in 2^24), so the check value of a default or
//!   low-entropy key names that key (`8CA64D` is the all-zero 3DES key, `66E94B` the
//!   all-zero AES-128 key, both also the [audit](crate::AdminKey::audit)'s findings). For a
//!   random key of 112 bits or more it is no help.
//! - **3 bytes of CMAC's `L`**: CMAC (NIST SP 800-38B) derives its subkeys `K1` and `K2`
//!   from `L = E_K(0)`, the same block. For an AES key the check value is the first 3 of
//!   the 16 bytes of `L`; for a Triple-DES key, the first 3 of its 8. This crate runs CMAC
//!   under a master key for every diversification (AN10922), so a master key's check value
//!   gives away those 3 bytes of that key's `L`. The crate never prints or logs more of
//!   `E_K(0)`; but whoever may have a block of their choice encrypted under the key gets
//!   `L` whole by choosing zero: a card running PIV single authentication (the host encrypts
//!   the card's challenge), or a caller of MIM CM's `authenticationresponse` endpoint (which
//!   encrypts the caller's challenge under the admin key, diversified or not).

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
