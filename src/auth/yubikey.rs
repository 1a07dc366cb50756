//! The YubiKey extras around PIV management key authentication: GET VERSION, GET METADATA for
//! the management key (how a host learns the key's algorithm), SET MANAGEMENT KEY.
//!
//! ```
//! use cardadmin::apdu::LengthForm;
//! use cardadmin::auth::yubikey;
//! use cardadmin::Algorithm;
//!
//! assert_eq!(yubikey::get_metadata().encode(LengthForm::Short).as_bytes(), [0x00, 0xf7, 0x00, 0x9b, 0x00]);
//!
//! // A YubiKey 5.7 with its default AES-192 management key, touch never required.
//! let answer = [0x01, 0x01, 0x0a, 0x02, 0x02, 0x00, 0x01, 0x05, 0x01, 0x01, 0x90, 0x00];
//! assert_eq!(yubikey::management_key_algorithm(&answer)?, Algorithm::Aes192);
//! // An older card without GET METADATA (6D00) has a 3DES key (yubico-piv-tool #333).
//! assert_eq!(yubikey::management_key_algorithm(&[0x6d, 0x00])?, Algorithm::Tdes);
//! # Ok::<(), cardadmin::auth::AuthError>(())
//! ```
//!
//! End to end against the software card: learn the key's algorithm from GET METADATA (never
//! from the key's length), authenticate, then change the key.
//!
//! ```
//! # #[cfg(all(feature = "soft-card", feature = "getrandom"))]
//! # {
//! use cardadmin::apdu::LengthForm;
//! use cardadmin::auth::{piv, yubikey};
//! use cardadmin::soft_card::SoftCard;
//! use cardadmin::{AdminKey, Algorithm};
//! use cardadmin::rng::OsRng;
//!
//! let default = [1, 2, 3, 4, 5, 6, 7, 8].repeat(3);
//! let mut card = SoftCard::new(AdminKey::new(Algorithm::Aes192, &default)?, OsRng);
//! let mut send = |command: &cardadmin::apdu::Command| {
//!     card.process(command.encode(LengthForm::Extended).as_bytes())
//! };
//! send(&piv::select());
//! assert_eq!(yubikey::parse_version(send(&yubikey::get_version()).as_bytes())?, [5, 7, 2]);
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
//! let new_key = AdminKey::new(Algorithm::Aes256, &[0x5a; 32])?;
//! yubikey::check_set_management_key(send(&yubikey::set_management_key(&new_key, false)).as_bytes())?;
//! let metadata = yubikey::ManagementKeyMetadata::parse(send(&yubikey::get_metadata()).as_bytes())?;
//! assert_eq!(metadata.algorithm(), Algorithm::Aes256);
//! assert!(!metadata.is_default());
//! # }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use super::{exact_len, success_data, success_no_data, AuthError};
use crate::apdu::{tlv_iter, Command, StatusWord, Tlv};
use crate::key::{AdminKey, Algorithm};

use super::piv::MANAGEMENT_KEY;

/// GET VERSION.
pub const INS_GET_VERSION: u8 = 0xfd;
/// GET METADATA.
pub const INS_GET_METADATA: u8 = 0xf7;
/// SET MANAGEMENT KEY.
pub const INS_SET_MANAGEMENT_KEY: u8 = 0xff;
/// Metadata tag: algorithm.
pub const TAG_ALGORITHM: u8 = 0x01;
/// Metadata tag: PIN and touch policy.
pub const TAG_POLICY: u8 = 0x02;
/// Metadata tag: whether the key is the factory default.
pub const TAG_IS_DEFAULT: u8 = 0x05;

/// GET VERSION: `00 FD 00 00` with `Le`.
///
/// ```
/// use cardadmin::apdu::LengthForm;
/// use cardadmin::auth::yubikey;
///
/// assert_eq!(yubikey::get_version().encode(LengthForm::Short).as_bytes(), [0x00, 0xfd, 0x00, 0x00, 0x00]);
/// ```
pub fn get_version() -> Command {
    Command::build([0x00, INS_GET_VERSION, 0x00, 0x00], |_| Ok(())).expecting_data()
}

/// Reads GET VERSION's answer: three bytes, major, minor, patch, and `9000`.
///
/// ```
/// use cardadmin::auth::yubikey;
///
/// assert_eq!(yubikey::parse_version(&[5, 7, 2, 0x90, 0x00])?, [5, 7, 2]);
/// assert!(yubikey::parse_version(&[5, 7, 0x90, 0x00]).is_err());
/// # Ok::<(), cardadmin::auth::AuthError>(())
/// ```
pub fn parse_version(answer: &[u8]) -> Result<[u8; 3], AuthError> {
    match success_data(answer)? {
        [major, minor, patch] => Ok([*major, *minor, *patch]),
        data => Err(AuthError::Length {
            tag: 0,
            expected: 3,
            found: data.len(),
        }),
    }
}

/// GET METADATA for the management key: `00 F7 00 9B` with `Le`.
///
/// ```
/// use cardadmin::auth::yubikey;
///
/// assert_eq!(yubikey::get_metadata().p2(), 0x9b);
/// ```
pub fn get_metadata() -> Command {
    Command::build([0x00, INS_GET_METADATA, 0x00, MANAGEMENT_KEY], |_| Ok(())).expecting_data()
}

/// The management key's metadata, from GET METADATA.
///
/// ```
/// use cardadmin::auth::yubikey;
/// use cardadmin::Algorithm;
///
/// let answer = [0x01, 0x01, 0x03, 0x02, 0x02, 0x00, 0x02, 0x05, 0x01, 0x00, 0x90, 0x00];
/// let metadata = yubikey::ManagementKeyMetadata::parse(&answer)?;
/// assert_eq!(metadata.algorithm(), Algorithm::Tdes);
/// assert!(metadata.touch_required());
/// assert!(!metadata.is_default());
/// # Ok::<(), cardadmin::auth::AuthError>(())
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
    /// use cardadmin::auth::yubikey::ManagementKeyMetadata;
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
    /// use cardadmin::auth::{yubikey::ManagementKeyMetadata, AuthError};
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
    /// use cardadmin::auth::yubikey::ManagementKeyMetadata;
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
    /// use cardadmin::auth::yubikey::ManagementKeyMetadata;
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
    /// use cardadmin::auth::yubikey::ManagementKeyMetadata;
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
    /// use cardadmin::auth::yubikey::ManagementKeyMetadata;
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
    /// use cardadmin::auth::yubikey::ManagementKeyMetadata;
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
/// use cardadmin::auth::{yubikey, AuthError};
/// use cardadmin::apdu::StatusWord;
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
/// touch). The command holds the new key's bytes, and wipes them when dropped. The card must
/// have authenticated the host first.
///
/// ```
/// use cardadmin::auth::yubikey;
/// use cardadmin::{AdminKey, Algorithm};
///
/// let new_key = AdminKey::new(Algorithm::Aes128, &[0x11; 16])?;
/// let command = yubikey::set_management_key(&new_key, false);
/// assert_eq!(command.p2(), 0xff);
/// assert_eq!(command.data()[..3], [0x08, 0x9b, 0x10]);
/// # Ok::<(), cardadmin::KeyError>(())
/// ```
pub fn set_management_key(new_key: &AdminKey, require_touch: bool) -> Command {
    let p2 = if require_touch { 0xfe } else { 0xff };
    Command::build([0x00, INS_SET_MANAGEMENT_KEY, 0xff, p2], |w| {
        w.bytes(&[new_key.algorithm().piv_id()])?;
        w.tlv(MANAGEMENT_KEY, new_key.expose_secret())
    })
}

/// Checks SET MANAGEMENT KEY's answer: `9000` with no data.
///
/// ```
/// use cardadmin::auth::{yubikey, AuthError};
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
/// use cardadmin::auth::{yubikey, AuthError};
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
