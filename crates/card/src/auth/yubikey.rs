//! The YubiKey extras around PIV management key authentication: GET VERSION, GET METADATA for
//! the management key (how a host learns the key's algorithm), SET MANAGEMENT KEY.
//!
//! ```
//! use cardadmin_card::apdu::LengthForm;
//! use cardadmin_card::auth::yubikey;
//! use cardadmin::Algorithm;
//!
//! assert_eq!(yubikey::get_metadata().encode(LengthForm::Short).as_bytes(), [0x00, 0xf7, 0x00, 0x9b, 0x00]);
//!
//! // A YubiKey 5.7 with its default AES-192 management key, touch never required.
//! let answer = [0x01, 0x01, 0x0a, 0x02, 0x02, 0x00, 0x01, 0x05, 0x01, 0x01, 0x90, 0x00];
//! assert_eq!(yubikey::management_key_algorithm(&answer)?, Algorithm::Aes192);
//! // An older card without GET METADATA (6D00) has a 3DES key (yubico-piv-tool #333).
//! assert_eq!(yubikey::management_key_algorithm(&[0x6d, 0x00])?, Algorithm::Tdes);
//! # Ok::<(), cardadmin_card::auth::AuthError>(())
//! ```
//!
//! # Against a card without the key
//!
//! These commands encrypt and decrypt nothing under the key, so their answers can never stand
//! for a proof that the card holds it (only [`piv::MutualAuth`](super::piv::MutualAuth) gives
//! that). What a lying card can still do:
//!
//! - **GET METADATA chooses how the key's bytes are used.** An AES-192 key and a 3DES key are
//!   both 24 bytes: a card that claims `03` (or answers `6D00`, which means 3DES) makes a host
//!   that believes it run 3DES with AES key bytes, and then the card gets the decryption of
//!   its witness under that 3DES key. Learn the algorithm from GET METADATA for a default key
//!   or a card you set up yourself; for a key you already hold, keep its algorithm with it and
//!   refuse a card that reports another.
//! - **SET MANAGEMENT KEY sends the new key in clear**: a card, a relay or anyone who reads
//!   the APDUs learns it. Send it only to a card that passed mutual authentication, over a
//!   channel you trust.
//! - **GET VERSION is the card's word**, not a proof of what it is.
//!
//! End to end against the software card: learn the key's algorithm from GET METADATA (never
//! from the key's length), authenticate, then change the key.
//!
//! ```
//! # #[cfg(all(feature = "soft-card", feature = "getrandom"))]
//! # {
//! use cardadmin_card::apdu::LengthForm;
//! use cardadmin_card::auth::{piv, yubikey};
//! use cardadmin_card::soft_card::SoftCard;
//! use cardadmin::{AdminKey, Algorithm};
//! use cardadmin::rng::OsRng;
//!
//! let default = [1, 2, 3, 4, 5, 6, 7, 8].repeat(3);
//! let mut card = SoftCard::new(AdminKey::new(Algorithm::Aes192, &default)?, OsRng);
//! let mut send = |command: &cardadmin_card::apdu::Command| {
//!     card.process(command.encode(LengthForm::Extended).as_bytes())
//! };
//! send(&piv::select());
//! let version = yubikey::parse_version(send(&yubikey::get_version()).as_bytes())?;
//! assert_eq!(version, yubikey::Version::new(5, 7, 2));
//! assert!(version.supports_aes_management_key());
//!
//! let metadata = yubikey::ManagementKeyMetadata::parse(send(&yubikey::get_metadata()).as_bytes())?;
//! assert!(metadata.is_default());
//! let key = AdminKey::new(metadata.algorithm(), &default)?; // AES-192, not 3DES
//!
//! let flow = piv::MutualAuth::new(&key);
//! let answer = send(flow.command());
//! let flow = flow.receive_witness(answer.as_bytes(), &mut OsRng)?;
//! let answer = send(flow.command());
//! flow.finish(answer.as_bytes())?;
//!
//! let new_key = AdminKey::new_hex(
//!     Algorithm::Aes256,
//!     "00112233445566778899aabbccddeeff0123456789abcdef0011223344556677",
//! )?;
//! // Weak keys are refused, and AES keys on firmware before 5.4.
//! let set = yubikey::set_management_key_for(version, &new_key, false)?;
//! yubikey::check_set_management_key(send(&set).as_bytes())?;
//! let metadata = yubikey::ManagementKeyMetadata::parse(send(&yubikey::get_metadata()).as_bytes())?;
//! assert_eq!(metadata.algorithm(), Algorithm::Aes256);
//! assert!(!metadata.is_default());
//! # }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use core::fmt;

use super::{exact_len, success_data, success_no_data, AuthError};
use crate::apdu::{tlv_iter, Command, StatusWord, Tlv};
use cardadmin::{AdminKey, Algorithm, WeakKeyError};

use super::piv::MANAGEMENT_KEY;

/// GET VERSION.
pub(crate) const INS_GET_VERSION: u8 = 0xfd;
/// GET METADATA.
pub(crate) const INS_GET_METADATA: u8 = 0xf7;
/// SET MANAGEMENT KEY.
pub(crate) const INS_SET_MANAGEMENT_KEY: u8 = 0xff;
/// Metadata tag: algorithm.
pub(crate) const TAG_ALGORITHM: u8 = 0x01;
/// Metadata tag: PIN and touch policy.
pub(crate) const TAG_POLICY: u8 = 0x02;
/// Metadata tag: whether the key is the factory default.
pub(crate) const TAG_IS_DEFAULT: u8 = 0x05;

/// GET VERSION: `00 FD 00 00` with `Le`.
///
/// ```
/// use cardadmin_card::apdu::LengthForm;
/// use cardadmin_card::auth::yubikey;
///
/// assert_eq!(yubikey::get_version().encode(LengthForm::Short).as_bytes(), [0x00, 0xfd, 0x00, 0x00, 0x00]);
/// ```
pub fn get_version() -> Command {
    Command::build([0x00, INS_GET_VERSION, 0x00, 0x00], |_| Ok(())).expecting_data()
}

/// Reads GET VERSION's answer: three bytes, major, minor, patch, and `9000`. The same as
/// [`Version::parse`].
///
/// ```
/// use cardadmin_card::auth::yubikey::{self, Version};
///
/// assert_eq!(yubikey::parse_version(&[5, 7, 2, 0x90, 0x00])?, Version::new(5, 7, 2));
/// assert!(yubikey::parse_version(&[5, 7, 0x90, 0x00]).is_err());
/// # Ok::<(), cardadmin_card::auth::AuthError>(())
/// ```
pub fn parse_version(answer: &[u8]) -> Result<Version, AuthError> {
    Version::parse(answer)
}

/// A YubiKey firmware version, from GET VERSION. Ordered as versions are (major, then minor,
/// then patch); `Display` gives `5.7.2`.
///
/// What the host needs it for: AES management keys (`SET MANAGEMENT KEY` with algorithm `08`,
/// `0A` or `0C`) exist from firmware 5.4 on; an older YubiKey answers such a command with an
/// error, or, worse, a host that assumed AES would never authenticate again. yubikit checks
/// the same (`require_version(5, 4, 0)` for a non-3DES key).
///
/// ```
/// use cardadmin_card::auth::yubikey::Version;
///
/// let version = Version::parse(&[5, 2, 7, 0x90, 0x00])?;
/// assert_eq!(version.to_string(), "5.2.7");
/// assert!(!version.supports_aes_management_key());
/// assert!(Version::new(5, 4, 3).supports_aes_management_key());
/// # Ok::<(), cardadmin_card::auth::AuthError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Version {
    major: u8,
    minor: u8,
    patch: u8,
}

impl Version {
    /// The first firmware with AES management keys: 5.4.0.
    ///
    /// ```
    /// use cardadmin_card::auth::yubikey::Version;
    ///
    /// assert_eq!(Version::AES_MANAGEMENT_KEY, Version::new(5, 4, 0));
    /// ```
    pub const AES_MANAGEMENT_KEY: Self = Self::new(5, 4, 0);

    /// A version from its three numbers.
    ///
    /// ```
    /// use cardadmin_card::auth::yubikey::Version;
    ///
    /// assert!(Version::new(5, 7, 2) > Version::new(5, 4, 3));
    /// ```
    pub const fn new(major: u8, minor: u8, patch: u8) -> Self {
        Self {
            major,
            minor,
            patch,
        }
    }

    /// Parses GET VERSION's answer: exactly three data bytes (major, minor, patch) and `9000`.
    ///
    /// ```
    /// use cardadmin_card::auth::{yubikey::Version, AuthError};
    ///
    /// assert_eq!(
    ///     Version::parse(&[5, 7, 2, 0, 0x90, 0x00]).unwrap_err(),
    ///     AuthError::Length { tag: 0, expected: 3, found: 4 },
    /// );
    /// ```
    pub fn parse(answer: &[u8]) -> Result<Self, AuthError> {
        match success_data(answer)? {
            [major, minor, patch] => Ok(Self::new(*major, *minor, *patch)),
            data => Err(AuthError::Length {
                tag: 0,
                expected: 3,
                found: data.len(),
            }),
        }
    }

    /// The major version.
    ///
    /// ```
    /// use cardadmin_card::auth::yubikey::Version;
    ///
    /// assert_eq!(Version::new(5, 7, 2).major(), 5);
    /// ```
    pub fn major(&self) -> u8 {
        self.major
    }

    /// The minor version.
    ///
    /// ```
    /// use cardadmin_card::auth::yubikey::Version;
    ///
    /// assert_eq!(Version::new(5, 7, 2).minor(), 7);
    /// ```
    pub fn minor(&self) -> u8 {
        self.minor
    }

    /// The patch level.
    ///
    /// ```
    /// use cardadmin_card::auth::yubikey::Version;
    ///
    /// assert_eq!(Version::new(5, 7, 2).patch(), 2);
    /// ```
    pub fn patch(&self) -> u8 {
        self.patch
    }

    /// Whether this firmware takes AES management keys (5.4.0 or later).
    ///
    /// ```
    /// use cardadmin_card::auth::yubikey::Version;
    ///
    /// assert!(!Version::new(5, 3, 9).supports_aes_management_key());
    /// assert!(Version::new(5, 4, 0).supports_aes_management_key());
    /// ```
    pub fn supports_aes_management_key(&self) -> bool {
        *self >= Self::AES_MANAGEMENT_KEY
    }

    /// `Ok` when this firmware takes a management key of `algorithm`: 3DES always, AES from
    /// 5.4 on.
    ///
    /// ```
    /// use cardadmin_card::auth::yubikey::{SetManagementKeyError, Version};
    /// use cardadmin::Algorithm;
    ///
    /// let neo = Version::new(4, 3, 7);
    /// assert!(neo.check_management_key_algorithm(Algorithm::Tdes).is_ok());
    /// assert_eq!(
    ///     neo.check_management_key_algorithm(Algorithm::Aes128),
    ///     Err(SetManagementKeyError::AesUnsupported { firmware: neo }),
    /// );
    /// ```
    pub fn check_management_key_algorithm(
        &self,
        algorithm: Algorithm,
    ) -> Result<(), SetManagementKeyError> {
        if algorithm != Algorithm::Tdes && !self.supports_aes_management_key() {
            return Err(SetManagementKeyError::AesUnsupported { firmware: *self });
        }
        Ok(())
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

impl From<[u8; 3]> for Version {
    fn from([major, minor, patch]: [u8; 3]) -> Self {
        Self::new(major, minor, patch)
    }
}

/// Why [`set_management_key_for`] built no command.
///
/// ```
/// use cardadmin_card::auth::yubikey::{self, SetManagementKeyError, Version};
/// use cardadmin::{AdminKey, Algorithm};
///
/// let key = AdminKey::new(Algorithm::Aes128, &[0x2b, 0x7e, 0x15, 0x16, 0x28, 0xae, 0xd2, 0xa6, 0xab, 0xf7, 0x15, 0x88, 0x09, 0xcf, 0x4f, 0x3c])?;
/// let err = yubikey::set_management_key_for(Version::new(5, 2, 7), &key, false).unwrap_err();
/// assert_eq!(
///     err.to_string(),
///     "AES management keys need YubiKey firmware 5.4.0 or later; the card reports 5.2.7",
/// );
/// # Ok::<(), cardadmin::KeyError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SetManagementKeyError {
    /// The key audit found something that makes the key unfit for a card.
    Weak(WeakKeyError),
    /// An AES key for a YubiKey whose firmware predates 5.4.
    AesUnsupported {
        /// The version the card reported.
        firmware: Version,
    },
}

impl fmt::Display for SetManagementKeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::Weak(err) => err.fmt(f),
            Self::AesUnsupported { firmware } => write!(
                f,
                "AES management keys need YubiKey firmware {} or later; the card reports {firmware}",
                Version::AES_MANAGEMENT_KEY
            ),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for SetManagementKeyError {}

impl From<WeakKeyError> for SetManagementKeyError {
    fn from(err: WeakKeyError) -> Self {
        Self::Weak(err)
    }
}

/// GET METADATA for the management key: `00 F7 00 9B` with `Le`.
///
/// ```
/// use cardadmin_card::auth::yubikey;
///
/// assert_eq!(yubikey::get_metadata().p2(), 0x9b);
/// ```
pub fn get_metadata() -> Command {
    Command::build([0x00, INS_GET_METADATA, 0x00, MANAGEMENT_KEY], |_| Ok(())).expecting_data()
}

/// The management key's metadata, from GET METADATA.
///
/// ```
/// use cardadmin_card::auth::yubikey;
/// use cardadmin::Algorithm;
///
/// let answer = [0x01, 0x01, 0x03, 0x02, 0x02, 0x00, 0x02, 0x05, 0x01, 0x00, 0x90, 0x00];
/// let metadata = yubikey::ManagementKeyMetadata::parse(&answer)?;
/// assert_eq!(metadata.algorithm(), Algorithm::Tdes);
/// assert!(metadata.touch_required());
/// assert!(!metadata.is_default());
/// # Ok::<(), cardadmin_card::auth::AuthError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ManagementKeyMetadata {
    algorithm: Algorithm,
    pin_policy: u8,
    touch_policy: u8,
    is_default: bool,
}

impl ManagementKeyMetadata {
    /// Metadata as a card reports it. `touch_policy` is YubiKey's byte: `01` never, `02`
    /// always, `03` cached.
    ///
    /// ```
    /// use cardadmin_card::auth::yubikey::ManagementKeyMetadata;
    /// use cardadmin::Algorithm;
    ///
    /// let metadata = ManagementKeyMetadata::new(Algorithm::Aes192, 0x00, 0x01, true);
    /// assert!(metadata.is_default());
    /// ```
    pub fn new(algorithm: Algorithm, pin_policy: u8, touch_policy: u8, is_default: bool) -> Self {
        Self {
            algorithm,
            pin_policy,
            touch_policy,
            is_default,
        }
    }

    /// Parses GET METADATA's answer for the management key: `9000` and data objects `01`
    /// (algorithm, 1 byte; absent means 3DES, as on firmware before AES keys), `02` (policy,
    /// 2 bytes: PIN, touch) and `05` (default, 1 byte), each at most once; other tags are
    /// skipped, as YubiKeys add more (`06` retries) over time.
    ///
    /// ```
    /// use cardadmin_card::auth::{yubikey::ManagementKeyMetadata, AuthError};
    ///
    /// let no_default_flag = [0x01, 0x01, 0x0a, 0x02, 0x02, 0x00, 0x01, 0x90, 0x00];
    /// assert_eq!(
    ///     ManagementKeyMetadata::parse(&no_default_flag).unwrap_err(),
    ///     AuthError::MissingTag { tag: 0x05 },
    /// );
    /// let unknown_algorithm = [0x01, 0x01, 0x11, 0x02, 0x02, 0x00, 0x01, 0x05, 0x01, 0x00, 0x90, 0x00];
    /// assert_eq!(
    ///     ManagementKeyMetadata::parse(&unknown_algorithm).unwrap_err(),
    ///     AuthError::UnknownAlgorithm { id: 0x11 },
    /// );
    /// ```
    pub fn parse(answer: &[u8]) -> Result<Self, AuthError> {
        let data = success_data(answer)?;
        let mut algorithm: Option<&[u8]> = None;
        let mut policy: Option<&[u8]> = None;
        let mut is_default: Option<&[u8]> = None;
        for tlv in tlv_iter(data) {
            let tlv = tlv?;
            let (slot, len) = match u8::try_from(tlv.tag()) {
                Ok(TAG_ALGORITHM) => (&mut algorithm, 1),
                Ok(TAG_POLICY) => (&mut policy, 2),
                Ok(TAG_IS_DEFAULT) => (&mut is_default, 1),
                _ => continue,
            };
            if slot.is_some() {
                return Err(AuthError::DuplicateTag { tag: tlv.tag() });
            }
            *slot = Some(exact_len(tlv, len)?);
        }
        let algorithm = match algorithm {
            None => Algorithm::Tdes,
            Some([id]) => {
                Algorithm::from_piv_id(*id).ok_or(AuthError::UnknownAlgorithm { id: *id })?
            }
            Some(_) => {
                return Err(AuthError::MissingTag {
                    tag: TAG_ALGORITHM.into(),
                })
            }
        };
        let (pin_policy, touch_policy) = match policy {
            Some([pin, touch]) => (*pin, *touch),
            _ => {
                return Err(AuthError::MissingTag {
                    tag: TAG_POLICY.into(),
                })
            }
        };
        let is_default = match is_default {
            Some([flag]) => *flag != 0,
            _ => {
                return Err(AuthError::MissingTag {
                    tag: TAG_IS_DEFAULT.into(),
                })
            }
        };
        Ok(Self {
            algorithm,
            pin_policy,
            touch_policy,
            is_default,
        })
    }

    /// The key's algorithm.
    ///
    /// ```
    /// use cardadmin_card::auth::yubikey::ManagementKeyMetadata;
    /// use cardadmin::Algorithm;
    ///
    /// assert_eq!(ManagementKeyMetadata::new(Algorithm::Aes256, 0, 1, false).algorithm(), Algorithm::Aes256);
    /// ```
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// The PIN policy byte (`00` for the management key).
    ///
    /// ```
    /// use cardadmin_card::auth::yubikey::ManagementKeyMetadata;
    /// use cardadmin::Algorithm;
    ///
    /// assert_eq!(ManagementKeyMetadata::new(Algorithm::Tdes, 0, 1, false).pin_policy(), 0);
    /// ```
    pub fn pin_policy(&self) -> u8 {
        self.pin_policy
    }

    /// The touch policy byte: `01` never, `02` always, `03` cached.
    ///
    /// ```
    /// use cardadmin_card::auth::yubikey::ManagementKeyMetadata;
    /// use cardadmin::Algorithm;
    ///
    /// assert_eq!(ManagementKeyMetadata::new(Algorithm::Tdes, 0, 2, false).touch_policy(), 2);
    /// ```
    pub fn touch_policy(&self) -> u8 {
        self.touch_policy
    }

    /// Whether the key needs a touch (touch policy always or cached).
    ///
    /// ```
    /// use cardadmin_card::auth::yubikey::ManagementKeyMetadata;
    /// use cardadmin::Algorithm;
    ///
    /// assert!(!ManagementKeyMetadata::new(Algorithm::Tdes, 0, 1, false).touch_required());
    /// ```
    pub fn touch_required(&self) -> bool {
        matches!(self.touch_policy, 0x02 | 0x03)
    }

    /// Whether the key is the factory default.
    ///
    /// ```
    /// use cardadmin_card::auth::yubikey::ManagementKeyMetadata;
    /// use cardadmin::Algorithm;
    ///
    /// assert!(ManagementKeyMetadata::new(Algorithm::Aes192, 0, 1, true).is_default());
    /// ```
    pub fn is_default(&self) -> bool {
        self.is_default
    }
}

/// The management key's algorithm from GET METADATA's answer; a card that does not support
/// GET METADATA (`6D00` instruction not supported, or `6A81` function not supported) has a
/// 3DES key, as yubico-piv-tool #333 settled.
///
/// ```
/// use cardadmin_card::auth::{yubikey, AuthError};
/// use cardadmin_card::apdu::StatusWord;
///
/// assert_eq!(
///     yubikey::management_key_algorithm(&[0x6a, 0x88]).unwrap_err(),
///     AuthError::Status { found: StatusWord(0x6a88) },
/// );
/// ```
pub fn management_key_algorithm(answer: &[u8]) -> Result<Algorithm, AuthError> {
    match ManagementKeyMetadata::parse(answer) {
        Ok(metadata) => Ok(metadata.algorithm),
        Err(AuthError::Status {
            found: StatusWord::INS_NOT_SUPPORTED | StatusWord(0x6a81),
        }) => Ok(Algorithm::Tdes),
        Err(err) => Err(err),
    }
}

/// SET MANAGEMENT KEY: `00 FF FF FF|FE Lc alg 9B len key` (`P2 = FE` makes the key require a
/// touch), for a key the [audit](AdminKey::audit) finds nothing in: a weak key is refused with
/// the finding ([`KeyAudit::require_clean`](cardadmin::KeyAudit::require_clean) says why each
/// finding refuses). The command holds the new key's bytes, and wipes them when dropped. The
/// card must have authenticated the host first.
///
/// This does not know the card's firmware: with an AES key, prefer
/// [`set_management_key_for`], which also refuses AES below firmware 5.4. To write a weak key
/// anyway (a card put back to its factory default), use [`set_management_key_allowing_weak`].
///
/// ```
/// use cardadmin_card::auth::yubikey;
/// use cardadmin::{AdminKey, Algorithm, KeyFinding};
///
/// let new_key = AdminKey::from_hex("0123456789abcdef23456789abcdef01456789abcdef0123")?;
/// let command = yubikey::set_management_key(&new_key, false)?;
/// assert_eq!(command.p2(), 0xff);
/// assert_eq!(command.data()[..3], [0x03, 0x9b, 0x18]);
///
/// // K2 = K3: single DES under K1, refused as yubico-piv-tool refuses weak DES keys.
/// let single_des = AdminKey::from_hex("0123456789abcdef23456789abcdef0123456789abcdef01")?;
/// let err = yubikey::set_management_key(&single_des, false).unwrap_err();
/// assert_eq!(err.finding(), KeyFinding::K2EqualsK3);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn set_management_key(
    new_key: &AdminKey,
    require_touch: bool,
) -> Result<Command, WeakKeyError> {
    new_key.audit().require_clean()?;
    Ok(set_management_key_allowing_weak(new_key, require_touch))
}

/// SET MANAGEMENT KEY for a YubiKey of firmware `version` (from [`parse_version`]): refuses
/// what [`set_management_key`] refuses, and an AES key below firmware 5.4
/// ([`Version::supports_aes_management_key`]).
///
/// ```
/// use cardadmin_card::auth::yubikey::{self, SetManagementKeyError, Version};
/// use cardadmin::{AdminKey, Algorithm};
///
/// let aes = AdminKey::new_hex(Algorithm::Aes128, "00112233445566778899aabbccddeeff")?;
/// let command = yubikey::set_management_key_for(Version::new(5, 7, 2), &aes, true)?;
/// assert_eq!(command.data()[..3], [0x08, 0x9b, 0x10]);
/// assert!(matches!(
///     yubikey::set_management_key_for(Version::new(5, 3, 0), &aes, true),
///     Err(SetManagementKeyError::AesUnsupported { .. }),
/// ));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn set_management_key_for(
    version: Version,
    new_key: &AdminKey,
    require_touch: bool,
) -> Result<Command, SetManagementKeyError> {
    version.check_management_key_algorithm(new_key.algorithm())?;
    Ok(set_management_key(new_key, require_touch)?)
}

/// SET MANAGEMENT KEY for any key, weak ones included: the explicit override of
/// [`set_management_key`], for the rare caller who must, such as a card put back to its
/// factory default key (`010203040506070801020304050607080102030405060708`). Everything else
/// should use the checked forms: a weak management key protects the card little or not at all.
///
/// ```
/// use cardadmin_card::auth::yubikey;
/// use cardadmin::AdminKey;
///
/// let factory = AdminKey::from_hex("010203040506070801020304050607080102030405060708")?;
/// assert!(yubikey::set_management_key(&factory, false).is_err());
/// let command = yubikey::set_management_key_allowing_weak(&factory, false);
/// assert_eq!(command.data()[3..], factory.expose_secret()[..]);
/// # Ok::<(), cardadmin::KeyError>(())
/// ```
pub fn set_management_key_allowing_weak(new_key: &AdminKey, require_touch: bool) -> Command {
    let p2 = if require_touch { 0xfe } else { 0xff };
    Command::build([0x00, INS_SET_MANAGEMENT_KEY, 0xff, p2], |w| {
        w.bytes(&[new_key.algorithm().piv_id()])?;
        w.tlv(MANAGEMENT_KEY, new_key.expose_secret())
    })
}

/// Checks SET MANAGEMENT KEY's answer: `9000` with no data.
///
/// ```
/// use cardadmin_card::auth::{yubikey, AuthError};
///
/// assert_eq!(yubikey::check_set_management_key(&[0x69, 0x82]).unwrap_err(), AuthError::SecurityStatusNotSatisfied);
/// ```
pub fn check_set_management_key(answer: &[u8]) -> Result<(), AuthError> {
    success_no_data(answer)
}

/// Parses a SET MANAGEMENT KEY command (the card's side) from its `P1`, `P2` and data: the
/// new key (exactly its algorithm's length) and whether it requires a touch.
///
/// ```
/// use cardadmin_card::auth::{yubikey, AuthError};
/// use cardadmin::Algorithm;
///
/// let mut data = vec![0x0a, 0x9b, 0x18];
/// data.extend([1, 2, 3, 4, 5, 6, 7, 8].repeat(3));
/// let (key, touch) = yubikey::parse_set_management_key(0xff, 0xff, &data)?;
/// assert_eq!(key.algorithm(), Algorithm::Aes192);
/// assert!(!touch);
///
/// // The 24 bytes announced as an AES-128 key.
/// data[0] = 0x08;
/// assert_eq!(
///     yubikey::parse_set_management_key(0xff, 0xff, &data).unwrap_err(),
///     AuthError::Length { tag: 0x9b, expected: 16, found: 24 },
/// );
/// # Ok::<(), AuthError>(())
/// ```
pub fn parse_set_management_key(
    p1: u8,
    p2: u8,
    data: &[u8],
) -> Result<(AdminKey, bool), AuthError> {
    let require_touch = match (p1, p2) {
        (0xff, 0xff) => false,
        (0xff, 0xfe) => true,
        _ => {
            return Err(AuthError::Status {
                found: StatusWord::WRONG_P1_P2,
            })
        }
    };
    let (&id, rest) = data.split_first().ok_or(AuthError::MissingTag {
        tag: MANAGEMENT_KEY.into(),
    })?;
    let algorithm = Algorithm::from_piv_id(id).ok_or(AuthError::UnknownAlgorithm { id })?;
    let key = Tlv::parse_only(MANAGEMENT_KEY.into(), rest)?;
    let key = exact_len(key, algorithm.key_len())?;
    Ok((AdminKey::new(algorithm, key)?, require_touch))
}
