//! The configuration a request is answered from: two keys in their two roles, and a PIN policy.

use core::fmt;

use cardadmin::cm::RolesError;
use cardadmin::master::{CmacSigner, MasterKey};
use cardadmin::{AdminKey, KeyCheckValue, PinPolicy};

/// The configuration a request is answered from: the profile's two keys, in their two roles,
/// and its PIN policy.
///
/// - The **initial admin key** ([`AdminKey`]) answers `authenticationresponse` with
///   `diversified=false`: blank cards, before their own key is written.
/// - The optional **master key** (`M`, a [`CmacSigner`]: an in-memory [`MasterKey`] by
///   default, or a key store) answers `diversified=true` and `diversifiedkey`, through the card
///   key it derives. It never answers a challenge itself. Without one, those requests are
///   answered [`CmError::NoDiversificationKey`](cardadmin::cm::CmError::NoDiversificationKey) (400), never with the initial key.
///
/// [`Profile::new`] refuses the same key in both roles ([`check_roles`](cardadmin::cm::check_roles)).
///
/// ```
/// use cardadmin::{AdminKey, MasterKey, PinPolicy};
///
/// let initial_key = AdminKey::from_bytes([0; 24]);
/// let master = MasterKey::from_hex("00112233445566778899aabbccddeeff0102030405060708")?;
/// let policy = PinPolicy::default();
/// let profile = cardadmin_mimcm::Profile::new(&initial_key, Some(&master), &policy)?;
/// assert!(profile.master().is_some());
///
/// // The same key in both roles is refused, with a message that says why.
/// let same = MasterKey::from_hex(&"0".repeat(48))?;
/// assert!(cardadmin_mimcm::Profile::new(&initial_key, Some(&same), &policy).is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Profile<'a, M: ?Sized = MasterKey> {
    pub(crate) initial_key: &'a AdminKey,
    pub(crate) master: Option<&'a M>,
    /// The master's check value, asked of it once by [`Profile::new`], for audit records
    /// (so a key store is not asked for it per request).
    pub(crate) master_check_value: Option<KeyCheckValue>,
    pub(crate) pin_policy: &'a PinPolicy,
}

impl<M: ?Sized> Clone for Profile<'_, M> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<M: ?Sized> Copy for Profile<'_, M> {}

impl<M: CmacSigner + ?Sized> fmt::Debug for Profile<'_, M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Profile")
            .field("initial_key", self.initial_key)
            .field(
                "master",
                // The algorithm only: a key store's own Debug may say more than a log needs.
                &self.master.map(|master| master.algorithm()),
            )
            .field("pin_policy", self.pin_policy)
            .finish()
    }
}

impl<'a> Profile<'a, MasterKey> {
    /// A profile with no diversification key: it answers `diversified=false` with the initial
    /// key, and `diversified=true` and `diversifiedkey` with
    /// [`CmError::NoDiversificationKey`](cardadmin::cm::CmError::NoDiversificationKey).
    ///
    /// ```
    /// use cardadmin::{AdminKey, PinPolicy};
    ///
    /// let (initial_key, policy) = (AdminKey::from_bytes([0; 24]), PinPolicy::default());
    /// let profile = cardadmin_mimcm::Profile::without_master(&initial_key, &policy);
    /// assert!(profile.master().is_none());
    /// ```
    pub fn without_master(initial_key: &'a AdminKey, pin_policy: &'a PinPolicy) -> Self {
        Self {
            initial_key,
            master: None,
            master_check_value: None,
            pin_policy,
        }
    }
}

impl<'a, M: CmacSigner + ?Sized> Profile<'a, M> {
    /// A profile with this initial admin key, optional master key and PIN policy.
    ///
    /// # Errors
    ///
    /// [`RolesError::SameKey`] when the two are the same key (compared by their CMAC check
    /// values, so a key store's master is compared without its bytes; see
    /// [`check_roles`](cardadmin::cm::check_roles)), [`RolesError::KeyStore`] when the key store fails
    /// to give its check value.
    ///
    /// ```
    /// use cardadmin::{AdminKey, MasterKey, PinPolicy};
    ///
    /// let initial_key = AdminKey::from_bytes([0; 24]);
    /// let master = MasterKey::from_hex("00112233445566778899aabbccddeeff0102030405060708")?;
    /// let policy = PinPolicy::default();
    /// let profile = cardadmin_mimcm::Profile::new(&initial_key, Some(&master), &policy)?;
    /// assert_eq!(profile.initial_key().check_value(), initial_key.check_value());
    ///
    /// // No master: name the type, as `None` alone does not say which.
    /// let plain = cardadmin_mimcm::Profile::new(&initial_key, None::<&MasterKey>, &policy)?;
    /// assert!(plain.master().is_none());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn new(
        initial_key: &'a AdminKey,
        master: Option<&'a M>,
        pin_policy: &'a PinPolicy,
    ) -> Result<Self, RolesError<M::Error>> {
        let master_check_value = match master {
            Some(master) => {
                cardadmin::cm::check_roles(initial_key, master)?;
                Some(cardadmin::master::check_value(master).map_err(RolesError::KeyStore)?)
            }
            None => None,
        };
        Ok(Self {
            initial_key,
            master,
            master_check_value,
            pin_policy,
        })
    }

    /// The initial admin key, which answers `diversified=false`.
    ///
    /// ```
    /// use cardadmin::{AdminKey, PinPolicy};
    ///
    /// let (key, policy) = (AdminKey::from_bytes([0; 24]), PinPolicy::default());
    /// let profile = cardadmin_mimcm::Profile::without_master(&key, &policy);
    /// assert_eq!(profile.initial_key().check_value(), key.check_value());
    /// ```
    pub fn initial_key(&self) -> &'a AdminKey {
        self.initial_key
    }

    /// The master (diversification) key, if the profile has one.
    ///
    /// ```
    /// use cardadmin::{AdminKey, MasterKey, PinPolicy};
    ///
    /// let (key, policy) = (AdminKey::from_bytes([0; 24]), PinPolicy::default());
    /// let master = MasterKey::from_hex("00112233445566778899aabbccddeeff0102030405060708")?;
    /// let profile = cardadmin_mimcm::Profile::new(&key, Some(&master), &policy)?;
    /// assert_eq!(profile.master().map(MasterKey::check_value), Some(master.check_value()));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn master(&self) -> Option<&'a M> {
        self.master
    }

    /// The PIN policy.
    ///
    /// ```
    /// use cardadmin::{AdminKey, PinPolicy};
    ///
    /// let (key, policy) = (AdminKey::from_bytes([0; 24]), PinPolicy::default());
    /// assert_eq!(cardadmin_mimcm::Profile::without_master(&key, &policy).pin_policy(), &policy);
    /// ```
    pub fn pin_policy(&self) -> &'a PinPolicy {
        self.pin_policy
    }
}
