//! A software card: the card's side of the PIV and GIDS admin authentication flows, as a pure
//! state machine (command bytes in, response bytes out), to test host code against without a
//! card. Feature `soft-card`.
//!
//! [`SoftCard`] holds a management/admin key of any [`Algorithm`], a retry counter (3 by
//! default) and the caller's random generator, and answers:
//!
//! | command | bytes | notes |
//! |---|---|---|
//! | SELECT | `00 A4 04 00\|0C Lc AID` | the PIV AID `A0 00 00 03 08` (or a longer prefix of the full PIV AID) and the GIDS AID `A0 00 00 03 97 42 54 46 59`; a new selection ends any authentication and any challenge outstanding. Answers PIV's application property template `61 11 4F 06 00 00 10 00 01 00 79 07 4F 05 A0 00 00 03 08` (SP 800-73-4 part 2, 3.1.1) or GIDS's `61 0B 4F 09 AID`, or no data with `P2 = 0C`. PIV is selected at reset, as on PIV cards whose default application it is |
//! | GET VERSION | `00 FD 00 00` | PIV; the version given to [`SoftCard::with_version`] (5.7.2 by default) |
//! | GET METADATA | `00 F7 00 9B` | PIV; `01` algorithm, `02` policy (PIN `00`, touch `01` never or `02` always), `05` default |
//! | GENERAL AUTHENTICATE | `00 87 alg 9B` | PIV single (`7C 02 81 00`, then `7C L 82 n R`) and mutual (`7C 02 80 00`, then `7C L 80 n W 81 n H`) |
//! | SET MANAGEMENT KEY | `00 FF FF FF\|FE` | PIV, after authentication: changes the key (and its algorithm) |
//! | MSE SET | `00 22 C1 A4 03 83 01 80` | GIDS: selects the admin key |
//! | GENERAL AUTHENTICATE | `00 87 00 00` | GIDS mutual authentication (R1, then the cryptogram) |
//! | PUT DATA | `00 DB 3F FF` | GIDS PUT KEY, after authentication: the new key must match the card's algorithm and its check value; the body bare or in the template `70` (as OpenSC's gids-tool sends it) |
//!
//! Commands come in any ISO 7816-4 form, short or extended. A challenge or witness is good
//! for one answer only (any GENERAL AUTHENTICATE consumes it). A wrong answer decrements the
//! counter and answers `63Cx` with the tries left; a blocked key answers `6983`; a successful
//! authentication resets the counter. Cryptograms are compared in constant time.
//!
//! Real cards differ there: a YubiKey answers a wrong management-key cryptogram with `6982`
//! (security status not satisfied), with no counter and no blocking, and so does a canokey.
//! [`SoftCard::with_wrong_key_status`] with [`WrongKeyStatus::SecurityStatusNotSatisfied`]
//! makes the card answer that way, so host code can be tested against both (the host flows
//! report both as [`AuthError::WrongKey`]).
//!
//! The card also has a PIN and a PUK, a serial number, and answers GET DATA, so that middleware
//! meeting it (OpenSC, yubico-piv-tool, yubikit) and an enrollment setting the user's PIN
//! (MIM CM's `serverproposedpin`) find what they ask for (SP 800-73-4 part 2, YubiKey PIV):
//!
//! | command | bytes | notes |
//! |---|---|---|
//! | VERIFY | `00 20 00 80 08 PIN` | PIV and GIDS; the PIN padded with `FF` to 8 bytes; no data asks the state (`9000` verified, else `63Cx`); `P1 = FF` forgets the verification |
//! | CHANGE REFERENCE DATA | `00 24 00 80\|81 10 old new` | PIN (`80`) or PUK (`81`), each padded to 8 bytes |
//! | RESET RETRY COUNTER | `00 2C 00 80 10 PUK PIN` | a new PIN with the PUK |
//! | GET DATA | `00 CB 3F FF 5C L tag` | PIV; the CHUID (`5F C1 02`) of a card given an ID ([`SoftCard::with_card_id`]); no other data object (CCC, discovery, key history...): `6A82` for every other tag, and for the CHUID of a card without an ID |
//! | GET METADATA | `00 F7 00 80\|81` | PIV (YubiKey); PIN or PUK: `01 01 FF`, `05 01` default or not, `06 02` total and left tries |
//! | GET SERIAL | `00 F8 00 00` | PIV (YubiKey); the serial given to [`SoftCard::with_serial`] |
//!
//! The PIN is 6 to 8 bytes (`123456` at first), the PUK 6 to 8 bytes (`12345678` at first),
//! each with its own counter of 3 tries: a wrong value answers `63Cx` with the tries left, a
//! blocked one `6983`, a right one resets its counter. They are compared in constant time and
//! wiped on drop. A value of the wrong shape (not 8 bytes, under 6 before the padding, padding
//! in the middle) answers `6A80` and costs no try.
//!
//! Status words for everything else: `6700` a malformed APDU, `6E00` a class other than `00`,
//! `6D00` an instruction the selected application does not have,
//! `6A82` an unknown AID, `6A86` wrong `P1`/`P2` (or a `P1` that is not the key's algorithm),
//! `6A88` a key reference other than `9B` (PIV) or `80` (GIDS), `6A80` malformed data, `6982`
//! key changes before authentication, `6985` an answer with no challenge outstanding (or GIDS
//! GENERAL AUTHENTICATE before MSE SET), `6F00` a failed random generator.
//!
//! ```
//! # #[cfg(feature = "getrandom")]
//! # {
//! use cardadmin_card::apdu::{LengthForm, StatusWord};
//! use cardadmin_card::auth::piv;
//! use cardadmin_card::soft_card::SoftCard;
//! use cardadmin::AdminKey;
//! use cardadmin::rng::OsRng;
//!
//! let key = AdminKey::from_bytes([0; 24]);
//! let mut card = SoftCard::new(key.clone(), OsRng);
//! assert_eq!(card.process(&[0x00, 0xa4, 0x04, 0x00, 0x05, 0xa0, 0x00, 0x00, 0x03, 0x08]).status_word(), StatusWord::SUCCESS);
//!
//! // Single authentication with the wrong key costs a try.
//! let wrong = AdminKey::from_bytes([0x11; 24]);
//! let flow = piv::SingleAuth::new(&wrong);
//! let answer = card.process(flow.command().encode(LengthForm::Short).as_bytes());
//! let flow = flow.receive_challenge(answer.as_bytes())?;
//! let answer = card.process(flow.command().encode(LengthForm::Short).as_bytes());
//! assert_eq!(answer.as_bytes(), [0x63, 0xc2]);
//! assert_eq!(card.retries_left(), 2);
//!
//! // The right key resets the counter.
//! let flow = piv::SingleAuth::new(&key);
//! let answer = card.process(flow.command().encode(LengthForm::Short).as_bytes());
//! let flow = flow.receive_challenge(answer.as_bytes())?;
//! let answer = card.process(flow.command().encode(LengthForm::Short).as_bytes());
//! flow.finish(answer.as_bytes())?;
//! assert!(card.is_authenticated());
//! assert_eq!(card.retries_left(), 3);
//! # }
//! # Ok::<(), cardadmin_card::auth::AuthError>(())
//! ```

use core::fmt;

use rand_core::{CryptoRng, RngCore};
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, Zeroizing};

use crate::apdu::{CardReply, CommandApdu, Full, StatusWord, Tlv, Writer, MAX_RESPONSE_DATA};
use crate::auth::{gids, piv, yubikey, AuthError};
use cardadmin::{AdminKey, Algorithm, KeyCheckValue};

mod pin;

/// The full PIV AID (NIST RID, PIX with version); SELECT may send any prefix of at least 5 bytes.
const PIV_AID_FULL: [u8; 11] = [
    0xa0, 0x00, 0x00, 0x03, 0x08, 0x00, 0x00, 0x10, 0x00, 0x01, 0x00,
];
/// The default management key bytes (3DES before YubiKey 5.7, AES-192 from 5.7 on).
const DEFAULT_KEY: [u8; 24] = [
    1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4, 5, 6, 7, 8,
];
const MAX_BLOCK: usize = 16;
const GIDS_MAX_CRYPTOGRAM: usize = 2 * gids::RANDOM_LEN + MAX_BLOCK;

/// How a [`SoftCard`] answers a wrong cryptogram (a wrong management/admin key).
///
/// ```
/// # #[cfg(feature = "getrandom")]
/// # {
/// use cardadmin::rng::OsRng;
/// use cardadmin_card::soft_card::{SoftCard, WrongKeyStatus};
/// use cardadmin::AdminKey;
///
/// let card = SoftCard::new(AdminKey::from_bytes([0; 24]), OsRng)
///     .with_wrong_key_status(WrongKeyStatus::SecurityStatusNotSatisfied);
/// assert_eq!(card.wrong_key_status(), WrongKeyStatus::SecurityStatusNotSatisfied);
/// # }
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum WrongKeyStatus {
    /// `63Cx` with the tries left, one try less each time, then `6983` once blocked (the
    /// default).
    #[default]
    Retries,
    /// `6982` security status not satisfied, with no counter and no blocking: as a YubiKey
    /// answers a wrong management key.
    SecurityStatusNotSatisfied,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Application {
    Piv,
    Gids,
}

/// What the card is waiting for an answer to. Secret: wiped when replaced and on drop, and
/// not `Copy`, so it is not copied around by accident.
enum Pending {
    None,
    /// Single authentication: the challenge sent.
    PivChallenge([u8; MAX_BLOCK]),
    /// Mutual authentication: the witness's plaintext.
    PivWitness([u8; MAX_BLOCK]),
    /// GIDS: the host's R1 and the card's R2.
    GidsChallenge {
        r1: [u8; gids::RANDOM_LEN],
        r2: [u8; gids::RANDOM_LEN],
    },
}

impl Zeroize for Pending {
    fn zeroize(&mut self) {
        match self {
            Self::None => {}
            Self::PivChallenge(block) | Self::PivWitness(block) => block.zeroize(),
            Self::GidsChallenge { r1, r2 } => {
                r1.zeroize();
                r2.zeroize();
            }
        }
        *self = Self::None;
    }
}

/// A software PIV and GIDS card; see the [module documentation](self).
///
/// ```
/// # #[cfg(feature = "getrandom")]
/// # {
/// use cardadmin_card::soft_card::SoftCard;
/// use cardadmin::{AdminKey, Algorithm};
/// use cardadmin::rng::OsRng;
///
/// let key = AdminKey::new(Algorithm::Aes256, &[7; 32])?;
/// let card = SoftCard::new(key, OsRng).with_max_retries(5);
/// assert_eq!(card.retries_left(), 5);
/// assert_eq!(card.algorithm(), Algorithm::Aes256);
/// # }
/// # Ok::<(), cardadmin::KeyError>(())
/// ```
pub struct SoftCard<R> {
    rng: R,
    key: AdminKey,
    touch_required: bool,
    max_retries: u8,
    retries: u8,
    wrong_key_status: WrongKeyStatus,
    version: [u8; 3],
    selected: Option<Application>,
    authenticated: bool,
    gids_key_selected: bool,
    pending: Pending,
    pins: pin::Pins,
    serial: u32,
    has_piv: bool,
    card_id: Option<[u8; 16]>,
}

impl<R> fmt::Debug for SoftCard<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SoftCard")
            .field("key", &self.key)
            .field("retries", &self.retries)
            .field("selected", &self.selected)
            .field("authenticated", &self.authenticated)
            .finish_non_exhaustive()
    }
}

impl<R> Drop for SoftCard<R> {
    fn drop(&mut self) {
        self.pending.zeroize();
    }
}

impl<R: RngCore + CryptoRng> SoftCard<R> {
    /// A card holding `key` (its management key for PIV, its admin key for GIDS), with 3
    /// tries, version 5.7.2, and `rng` for its challenges and witnesses.
    ///
    /// ```
    /// # #[cfg(feature = "getrandom")]
    /// # {
    /// use cardadmin_card::soft_card::SoftCard;
    /// use cardadmin::AdminKey;
    /// use cardadmin::rng::OsRng;
    ///
    /// let card = SoftCard::new(AdminKey::from_bytes([0; 24]), OsRng);
    /// assert!(!card.is_authenticated());
    /// # }
    /// ```
    pub fn new(key: AdminKey, rng: R) -> Self {
        Self {
            rng,
            key,
            touch_required: false,
            max_retries: 3,
            retries: 3,
            wrong_key_status: WrongKeyStatus::Retries,
            version: [5, 7, 2],
            selected: Some(Application::Piv),
            authenticated: false,
            gids_key_selected: false,
            pending: Pending::None,
            pins: pin::Pins::new(),
            serial: 0x00c0_ffee,
            has_piv: true,
            card_id: None,
        }
    }

    /// The same card with `retries` tries (1 to 15: what `63Cx` can say); other values are
    /// brought into that range.
    ///
    /// ```
    /// # #[cfg(feature = "getrandom")]
    /// # {
    /// use cardadmin_card::soft_card::SoftCard;
    /// use cardadmin::AdminKey;
    /// use cardadmin::rng::OsRng;
    ///
    /// let card = SoftCard::new(AdminKey::from_bytes([0; 24]), OsRng).with_max_retries(0);
    /// assert_eq!(card.retries_left(), 1);
    /// # }
    /// ```
    #[must_use]
    pub fn with_max_retries(mut self, retries: u8) -> Self {
        self.max_retries = retries.clamp(1, 15);
        self.retries = self.max_retries;
        self
    }

    /// The same card answering a wrong cryptogram as `status` says: `63Cx` with a retry
    /// counter (the default), or `6982` with no counter, as a YubiKey does.
    ///
    /// ```
    /// # #[cfg(feature = "getrandom")]
    /// # {
    /// use cardadmin_card::apdu::LengthForm;
    /// use cardadmin_card::auth::{piv, AuthError};
    /// use cardadmin::rng::OsRng;
    /// use cardadmin_card::soft_card::{SoftCard, WrongKeyStatus};
    /// use cardadmin::AdminKey;
    ///
    /// let mut card = SoftCard::new(AdminKey::from_bytes([0; 24]), OsRng)
    ///     .with_wrong_key_status(WrongKeyStatus::SecurityStatusNotSatisfied);
    /// let wrong = AdminKey::from_bytes([0x11; 24]);
    /// for _ in 0..5 {
    ///     let flow = piv::SingleAuth::new(&wrong);
    ///     let answer = card.process(flow.command().encode(LengthForm::Short).as_bytes());
    ///     let flow = flow.receive_challenge(answer.as_bytes())?;
    ///     let answer = card.process(flow.command().encode(LengthForm::Short).as_bytes());
    ///     assert_eq!(answer.as_bytes(), [0x69, 0x82]);
    ///     assert_eq!(flow.finish(answer.as_bytes()), Err(AuthError::WrongKey { retries_left: None }));
    /// }
    /// assert_eq!(card.retries_left(), 3); // no counter: never blocks
    /// # }
    /// # Ok::<(), cardadmin_card::auth::AuthError>(())
    /// ```
    #[must_use]
    pub fn with_wrong_key_status(mut self, status: WrongKeyStatus) -> Self {
        self.wrong_key_status = status;
        self
    }

    /// How the card answers a wrong cryptogram.
    ///
    /// ```
    /// # #[cfg(feature = "getrandom")]
    /// # {
    /// use cardadmin_card::soft_card::{SoftCard, WrongKeyStatus};
    /// use cardadmin::AdminKey;
    ///
    /// let card = SoftCard::new(AdminKey::from_bytes([0; 24]), cardadmin::rng::OsRng);
    /// assert_eq!(card.wrong_key_status(), WrongKeyStatus::Retries);
    /// # }
    /// ```
    pub fn wrong_key_status(&self) -> WrongKeyStatus {
        self.wrong_key_status
    }

    /// The same card answering GET VERSION with `version` (major, minor, patch).
    ///
    /// ```
    /// # #[cfg(feature = "getrandom")]
    /// # {
    /// use cardadmin_card::soft_card::SoftCard;
    /// use cardadmin::AdminKey;
    /// use cardadmin::rng::OsRng;
    ///
    /// let mut card = SoftCard::new(AdminKey::from_bytes([0; 24]), OsRng).with_version([5, 4, 3]);
    /// card.process(&[0x00, 0xa4, 0x04, 0x00, 0x05, 0xa0, 0x00, 0x00, 0x03, 0x08]);
    /// assert_eq!(card.process(&[0x00, 0xfd, 0x00, 0x00, 0x00]).as_bytes(), [5, 4, 3, 0x90, 0x00]);
    /// # }
    /// ```
    #[must_use]
    pub fn with_version(mut self, version: [u8; 3]) -> Self {
        self.version = version;
        self
    }

    /// The same card without its PIV application: a GIDS card, whose SELECT of the PIV AID
    /// answers `6A82` and whose default application is GIDS (so that middleware trying PIV
    /// first, as OpenSC does, goes on to its GIDS driver).
    ///
    /// ```
    /// # #[cfg(feature = "getrandom")]
    /// # {
    /// use cardadmin_card::soft_card::SoftCard;
    /// use cardadmin::AdminKey;
    /// use cardadmin::rng::OsRng;
    ///
    /// let mut card = SoftCard::new(AdminKey::from_bytes([0; 24]), OsRng).without_piv();
    /// assert_eq!(card.process(&[0x00, 0xa4, 0x04, 0x00, 0x05, 0xa0, 0x00, 0x00, 0x03, 0x08]).as_bytes(), [0x6a, 0x82]);
    /// // MSE SET for the admin key: GIDS answers without a SELECT.
    /// assert_eq!(card.process(&[0x00, 0x22, 0xc1, 0xa4, 3, 0x83, 1, 0x80]).as_bytes(), [0x90, 0x00]);
    /// # }
    /// ```
    #[must_use]
    pub fn without_piv(mut self) -> Self {
        self.has_piv = false;
        self.reset();
        self
    }

    /// The same card answering GET SERIAL with `serial` (12648430, `00C0FFEE`, by default).
    ///
    /// ```
    /// # #[cfg(feature = "getrandom")]
    /// # {
    /// use cardadmin_card::soft_card::SoftCard;
    /// use cardadmin::AdminKey;
    /// use cardadmin::rng::OsRng;
    ///
    /// let mut card = SoftCard::new(AdminKey::from_bytes([0; 24]), OsRng).with_serial(7);
    /// assert_eq!(card.process(&[0x00, 0xf8, 0x00, 0x00, 0x00]).as_bytes(), [0, 0, 0, 7, 0x90, 0x00]);
    /// # }
    /// ```
    #[must_use]
    pub fn with_serial(mut self, serial: u32) -> Self {
        self.serial = serial;
        self
    }

    /// The same card with a card ID: the GUID of the CHUID that GET DATA `5F C1 02` answers
    /// (SP 800-73-4 part 1, 3.1.2), which identifies the card to a card management system
    /// (MIM CM's card ID: these 16 bytes in the Windows GUID layout, [`cardadmin::CardId`]).
    /// The CHUID holds the GUID (tag `34`, the 16 bytes as given), an expiration date (tag
    /// `35`, `20991231`), an empty issuer signature (`3E`) and error detection code (`FE`); no
    /// FASC-N, as a card that only its GUID identifies. Without an ID (the default) the CHUID
    /// is not found (`6A82`).
    ///
    /// ```
    /// # #[cfg(feature = "getrandom")]
    /// # {
    /// use cardadmin_card::soft_card::SoftCard;
    /// use cardadmin::AdminKey;
    /// use cardadmin::rng::OsRng;
    ///
    /// let mut card = SoftCard::new(AdminKey::from_bytes([0; 24]), OsRng).with_card_id([0x11; 16]);
    /// let answer = card.process(&[0x00, 0xcb, 0x3f, 0xff, 0x05, 0x5c, 0x03, 0x5f, 0xc1, 0x02, 0x00]);
    /// assert_eq!(answer.as_bytes().get(..4), Some(&[0x53, 0x20, 0x34, 0x10][..]));
    /// assert_eq!(answer.as_bytes().get(4..20), Some(&[0x11; 16][..]));
    /// # }
    /// ```
    #[must_use]
    pub fn with_card_id(mut self, card_id: [u8; 16]) -> Self {
        self.card_id = Some(card_id);
        self
    }

    /// The tries left before the PIN blocks (3 at first; VERIFY with the right PIN, or a new
    /// PIN set with the PUK, brings it back to 3).
    ///
    /// ```
    /// # #[cfg(feature = "getrandom")]
    /// # {
    /// use cardadmin_card::soft_card::SoftCard;
    /// use cardadmin::AdminKey;
    /// use cardadmin::rng::OsRng;
    ///
    /// let mut card = SoftCard::new(AdminKey::from_bytes([0; 24]), OsRng);
    /// // VERIFY with "999999", padded with FF: wrong, 2 tries left.
    /// let verify = [0x00, 0x20, 0x00, 0x80, 0x08, b'9', b'9', b'9', b'9', b'9', b'9', 0xff, 0xff];
    /// assert_eq!(card.process(&verify).as_bytes(), [0x63, 0xc2]);
    /// assert_eq!(card.pin_retries_left(), 2);
    /// # }
    /// ```
    pub fn pin_retries_left(&self) -> u8 {
        self.pins.pin_tries()
    }

    /// The tries left before the PUK blocks.
    ///
    /// ```
    /// # #[cfg(feature = "getrandom")]
    /// # {
    /// use cardadmin_card::soft_card::SoftCard;
    /// use cardadmin::AdminKey;
    /// use cardadmin::rng::OsRng;
    ///
    /// assert_eq!(SoftCard::new(AdminKey::from_bytes([0; 24]), OsRng).puk_retries_left(), 3);
    /// # }
    /// ```
    pub fn puk_retries_left(&self) -> u8 {
        self.pins.puk_tries()
    }

    /// Whether the PIN has been verified (and not changed or forgotten since).
    ///
    /// ```
    /// # #[cfg(feature = "getrandom")]
    /// # {
    /// use cardadmin_card::soft_card::SoftCard;
    /// use cardadmin::AdminKey;
    /// use cardadmin::rng::OsRng;
    ///
    /// let mut card = SoftCard::new(AdminKey::from_bytes([0; 24]), OsRng);
    /// // The PIN at first: 123456.
    /// let verify = [0x00, 0x20, 0x00, 0x80, 0x08, b'1', b'2', b'3', b'4', b'5', b'6', 0xff, 0xff];
    /// assert_eq!(card.process(&verify).as_bytes(), [0x90, 0x00]);
    /// assert!(card.is_pin_verified());
    /// # }
    /// ```
    pub fn is_pin_verified(&self) -> bool {
        self.pins.verified()
    }

    /// A reset of the card (power cycle, or a warm reset from the reader): the PIV application
    /// is selected again and every security state ends (admin authentication, a challenge
    /// outstanding, a verified PIN); keys, PIN, PUK and their counters stay, as on a card.
    ///
    /// ```
    /// # #[cfg(feature = "getrandom")]
    /// # {
    /// use cardadmin_card::soft_card::SoftCard;
    /// use cardadmin::AdminKey;
    /// use cardadmin::rng::OsRng;
    ///
    /// let mut card = SoftCard::new(AdminKey::from_bytes([0; 24]), OsRng);
    /// let verify = [0x00, 0x20, 0x00, 0x80, 0x08, b'1', b'2', b'3', b'4', b'5', b'6', 0xff, 0xff];
    /// card.process(&verify);
    /// card.reset();
    /// assert!(!card.is_pin_verified());
    /// # }
    /// ```
    pub fn reset(&mut self) {
        self.selected = if self.has_piv {
            Some(Application::Piv)
        } else {
            Some(Application::Gids)
        };
        self.authenticated = false;
        self.gids_key_selected = false;
        self.pending.zeroize();
        self.pins.forget();
    }

    /// The tries left before the key blocks.
    ///
    /// ```
    /// # #[cfg(feature = "getrandom")]
    /// # {
    /// use cardadmin_card::soft_card::SoftCard;
    /// use cardadmin::AdminKey;
    /// use cardadmin::rng::OsRng;
    ///
    /// assert_eq!(SoftCard::new(AdminKey::from_bytes([0; 24]), OsRng).retries_left(), 3);
    /// # }
    /// ```
    pub fn retries_left(&self) -> u8 {
        self.retries
    }

    /// Whether the host has authenticated since the last selection.
    ///
    /// ```
    /// # #[cfg(feature = "getrandom")]
    /// # {
    /// use cardadmin_card::soft_card::SoftCard;
    /// use cardadmin::AdminKey;
    /// use cardadmin::rng::OsRng;
    ///
    /// assert!(!SoftCard::new(AdminKey::from_bytes([0; 24]), OsRng).is_authenticated());
    /// # }
    /// ```
    pub fn is_authenticated(&self) -> bool {
        self.authenticated
    }

    /// The algorithm of the card's key.
    ///
    /// ```
    /// # #[cfg(feature = "getrandom")]
    /// # {
    /// use cardadmin_card::soft_card::SoftCard;
    /// use cardadmin::{AdminKey, Algorithm};
    /// use cardadmin::rng::OsRng;
    ///
    /// assert_eq!(SoftCard::new(AdminKey::from_bytes([0; 24]), OsRng).algorithm(), Algorithm::Tdes);
    /// # }
    /// ```
    pub fn algorithm(&self) -> Algorithm {
        self.key.algorithm()
    }

    /// The check value of the card's key (to see that a key change took effect).
    ///
    /// ```
    /// # #[cfg(feature = "getrandom")]
    /// # {
    /// use cardadmin_card::soft_card::SoftCard;
    /// use cardadmin::AdminKey;
    /// use cardadmin::rng::OsRng;
    ///
    /// let card = SoftCard::new(AdminKey::from_bytes([0; 24]), OsRng);
    /// assert_eq!(card.key_check_value().to_string(), "8CA64D");
    /// # }
    /// ```
    pub fn key_check_value(&self) -> KeyCheckValue {
        self.key.check_value()
    }

    /// Processes one command APDU and returns the response (data, then SW1 SW2). Never
    /// panics, whatever the bytes.
    ///
    /// ```
    /// # #[cfg(feature = "getrandom")]
    /// # {
    /// use cardadmin_card::soft_card::SoftCard;
    /// use cardadmin::AdminKey;
    /// use cardadmin::rng::OsRng;
    ///
    /// let mut card = SoftCard::new(AdminKey::from_bytes([0; 24]), OsRng);
    /// assert_eq!(card.process(&[0x00]).as_bytes(), [0x67, 0x00]); // not an APDU
    /// assert_eq!(card.process(&[0x00, 0xfd, 0x00, 0x00]).as_bytes(), [5, 7, 2, 0x90, 0x00]); // PIV at reset
    /// assert_eq!(card.process(&[0x00, 0x22, 0xc1, 0xa4, 3, 0x83, 1, 0x80]).as_bytes(), [0x6d, 0x00]); // GIDS's, not PIV's
    /// # }
    /// ```
    pub fn process(&mut self, command: &[u8]) -> CardReply {
        let command = match CommandApdu::parse(command) {
            Ok(command) => command,
            Err(_) => return CardReply::status(StatusWord::WRONG_LENGTH),
        };
        if command.cla() != 0x00 {
            return CardReply::status(StatusWord::CLA_NOT_SUPPORTED);
        }
        match (command.ins(), self.selected) {
            (0xa4, _) => self.select(&command),
            (yubikey::INS_GET_VERSION, Some(Application::Piv)) => self.get_version(&command),
            (yubikey::INS_GET_METADATA, Some(Application::Piv)) => self.get_metadata(&command),
            (piv::INS_GENERAL_AUTHENTICATE, Some(Application::Piv)) => {
                self.piv_authenticate(&command)
            }
            (yubikey::INS_SET_MANAGEMENT_KEY, Some(Application::Piv)) => {
                self.set_management_key(&command)
            }
            (0x22, Some(Application::Gids)) => self.mse_set(&command),
            (piv::INS_GENERAL_AUTHENTICATE, Some(Application::Gids)) => {
                self.gids_authenticate(&command)
            }
            (0xdb, Some(Application::Gids)) => self.put_key(&command),
            (pin::INS_VERIFY, Some(_)) => self.pins.verify(&command),
            (pin::INS_CHANGE_REFERENCE_DATA, Some(_)) => self.pins.change_reference_data(&command),
            (pin::INS_RESET_RETRY_COUNTER, Some(_)) => self.pins.reset_retry_counter(&command),
            (pin::INS_GET_DATA, Some(Application::Piv)) => self.get_data(&command),
            (pin::INS_GET_SERIAL, Some(Application::Piv)) => self.get_serial(&command),
            _ => CardReply::status(StatusWord::INS_NOT_SUPPORTED),
        }
    }

    fn select(&mut self, command: &CommandApdu<'_>) -> CardReply {
        if command.p1() != 0x04 || !matches!(command.p2(), 0x00 | 0x0c) {
            return CardReply::status(StatusWord::WRONG_P1_P2);
        }
        let aid = command.data();
        let application =
            if self.has_piv && aid.len() >= piv::AID.len() && PIV_AID_FULL.starts_with(aid) {
                Application::Piv
            } else if aid == gids::AID {
                Application::Gids
            } else {
                return CardReply::status(StatusWord::NOT_FOUND);
            };
        self.selected = Some(application);
        self.authenticated = false;
        self.gids_key_selected = false;
        self.pending.zeroize();
        if command.p2() == 0x0c {
            return CardReply::status(StatusWord::SUCCESS);
        }
        // The application property template (PIV) or file control information (GIDS): the
        // AID that answered.
        reply(|w| {
            match application {
                Application::Piv => {
                    w.header(0x61, 2 + 6 + 2 + 2 + piv::AID.len())?;
                    w.tlv(0x4f, PIV_AID_FULL.get(5..).unwrap_or_default())?;
                    w.header(0x79, 2 + piv::AID.len())?;
                    w.tlv(0x4f, &piv::AID)?;
                }
                Application::Gids => {
                    w.header(0x61, 2 + gids::AID.len())?;
                    w.tlv(0x4f, &gids::AID)?;
                }
            }
            Ok(())
        })
    }

    fn get_version(&mut self, command: &CommandApdu<'_>) -> CardReply {
        if (command.p1(), command.p2()) != (0, 0) {
            return CardReply::status(StatusWord::WRONG_P1_P2);
        }
        reply(|w| w.bytes(&self.version))
    }

    /// GET DATA: the CHUID of a card with an ID; every other well-formed request is "not
    /// found" ([`pin::get_data`] checks the form).
    fn get_data(&mut self, command: &CommandApdu<'_>) -> CardReply {
        match (command.data(), self.card_id) {
            ([0x5c, 0x03, 0x5f, 0xc1, 0x02], Some(card_id))
                if (command.p1(), command.p2()) == (0x3f, 0xff) =>
            {
                reply(|w| {
                    w.header(0x53, 2 + 16 + 2 + 8 + 2 + 2)?;
                    w.tlv(0x34, &card_id)?;
                    w.tlv(0x35, b"20991231")?;
                    w.tlv(0x3e, &[])?;
                    w.tlv(0xfe, &[])
                })
            }
            _ => pin::get_data(command),
        }
    }

    fn get_serial(&mut self, command: &CommandApdu<'_>) -> CardReply {
        if (command.p1(), command.p2()) != (0, 0) {
            return CardReply::status(StatusWord::WRONG_P1_P2);
        }
        reply(|w| w.bytes(&self.serial.to_be_bytes()))
    }

    fn get_metadata(&mut self, command: &CommandApdu<'_>) -> CardReply {
        if command.p1() != 0 {
            return CardReply::status(StatusWord::WRONG_P1_P2);
        }
        if matches!(command.p2(), pin::PIN_REFERENCE | pin::PUK_REFERENCE) {
            return self.pins.metadata(command.p2());
        }
        if command.p2() != piv::MANAGEMENT_KEY {
            return CardReply::status(StatusWord::REFERENCE_NOT_FOUND);
        }
        let algorithm = self.key.algorithm();
        let is_default = matches!(algorithm, Algorithm::Tdes | Algorithm::Aes192)
            && bool::from(self.key.expose_secret().ct_eq(&DEFAULT_KEY));
        let touch = if self.touch_required { 0x02 } else { 0x01 };
        reply(|w| {
            w.tlv(yubikey::TAG_ALGORITHM, &[algorithm.piv_id()])?;
            w.tlv(yubikey::TAG_POLICY, &[0x00, touch])?;
            w.tlv(yubikey::TAG_IS_DEFAULT, &[u8::from(is_default)])
        })
    }

    /// The common start of an answer to a cryptogram: consumes the pending challenge.
    fn take_pending(&mut self) -> Pending {
        core::mem::replace(&mut self.pending, Pending::None)
    }

    /// A wrong cryptogram: one try less (`63Cx`), or `6982` with no counter.
    fn failed(&mut self) -> CardReply {
        self.authenticated = false;
        match self.wrong_key_status {
            WrongKeyStatus::Retries => {
                self.retries = self.retries.saturating_sub(1);
                CardReply::status(StatusWord::retries(self.retries))
            }
            WrongKeyStatus::SecurityStatusNotSatisfied => {
                CardReply::status(StatusWord::SECURITY_STATUS_NOT_SATISFIED)
            }
        }
    }

    fn succeeded(&mut self) {
        self.authenticated = true;
        self.retries = self.max_retries;
    }

    /// Fills `out` from the card's generator; `false` if it failed.
    fn random(&mut self, out: &mut [u8]) -> bool {
        self.rng.try_fill_bytes(out).is_ok()
    }

    fn piv_authenticate(&mut self, command: &CommandApdu<'_>) -> CardReply {
        if command.p2() != piv::MANAGEMENT_KEY {
            return CardReply::status(StatusWord::REFERENCE_NOT_FOUND);
        }
        let algorithm = self.key.algorithm();
        if Algorithm::from_piv_id(command.p1()) != Some(algorithm) {
            return CardReply::status(StatusWord::WRONG_P1_P2);
        }
        if self.retries == 0 {
            self.pending.zeroize();
            return CardReply::status(StatusWord::AUTH_METHOD_BLOCKED);
        }
        let block_len = algorithm.block_len();
        let request = match piv::parse_general_authenticate(command.data(), block_len) {
            Ok(request) => request,
            Err(_) => {
                self.pending.zeroize();
                return CardReply::status(StatusWord::WRONG_DATA);
            }
        };
        let pending = Zeroizing::new(self.take_pending());
        match request {
            piv::GeneralAuthenticate::ChallengeRequest => {
                self.authenticated = false;
                let mut challenge = [0u8; MAX_BLOCK];
                if !self.random(block_mut(&mut challenge, block_len)) {
                    return CardReply::status(StatusWord(0x6f00));
                }
                self.pending = Pending::PivChallenge(challenge);
                challenge.zeroize();
                reply(|w| {
                    w.header(piv::TAG_DYNAMIC_AUTH, 2 + block_len)?;
                    w.tlv(piv::TAG_CHALLENGE, pending_block(&self.pending, block_len))
                })
            }
            piv::GeneralAuthenticate::WitnessRequest => {
                self.authenticated = false;
                let mut witness = Zeroizing::new([0u8; MAX_BLOCK]);
                if !self.random(block_mut(&mut witness, block_len)) {
                    return CardReply::status(StatusWord(0x6f00));
                }
                self.pending = Pending::PivWitness(*witness);
                let encrypted = block_mut(&mut witness, block_len);
                if cardadmin::hazmat::encrypt_block(&self.key, encrypted).is_err() {
                    self.pending.zeroize();
                    return CardReply::status(StatusWord(0x6f00));
                }
                reply(|w| {
                    w.header(piv::TAG_DYNAMIC_AUTH, 2 + block_len)?;
                    w.tlv(piv::TAG_WITNESS, encrypted)
                })
            }
            piv::GeneralAuthenticate::Response(response) => {
                let Pending::PivChallenge(challenge) = &*pending else {
                    return CardReply::status(StatusWord::CONDITIONS_NOT_SATISFIED);
                };
                let mut expected = Zeroizing::new(*challenge);
                let expected = block_mut(&mut expected, block_len);
                if cardadmin::hazmat::encrypt_block(&self.key, expected).is_err() {
                    return CardReply::status(StatusWord(0x6f00));
                }
                if bool::from(expected.ct_eq(response)) {
                    self.succeeded();
                    CardReply::status(StatusWord::SUCCESS)
                } else {
                    self.failed()
                }
            }
            piv::GeneralAuthenticate::WitnessAndChallenge { witness, challenge } => {
                let Pending::PivWitness(plain) = &*pending else {
                    return CardReply::status(StatusWord::CONDITIONS_NOT_SATISFIED);
                };
                if !bool::from(pending_slice(plain, block_len).ct_eq(witness)) {
                    return self.failed();
                }
                let mut answer = Zeroizing::new([0u8; MAX_BLOCK]);
                let answer = block_mut(&mut answer, block_len);
                answer.copy_from_slice(challenge);
                if cardadmin::hazmat::encrypt_block(&self.key, answer).is_err() {
                    return CardReply::status(StatusWord(0x6f00));
                }
                self.succeeded();
                reply(|w| {
                    w.header(piv::TAG_DYNAMIC_AUTH, 2 + block_len)?;
                    w.tlv(piv::TAG_RESPONSE, answer)
                })
            }
        }
    }

    fn set_management_key(&mut self, command: &CommandApdu<'_>) -> CardReply {
        if !self.authenticated {
            return CardReply::status(StatusWord::SECURITY_STATUS_NOT_SATISFIED);
        }
        match yubikey::parse_set_management_key(command.p1(), command.p2(), command.data()) {
            Ok((key, touch)) => {
                self.key = key;
                self.touch_required = touch;
                self.retries = self.max_retries;
                CardReply::status(StatusWord::SUCCESS)
            }
            Err(AuthError::Status { found }) => CardReply::status(found),
            Err(_) => CardReply::status(StatusWord::WRONG_DATA),
        }
    }

    fn mse_set(&mut self, command: &CommandApdu<'_>) -> CardReply {
        match gids::parse_mse_set(command.p1(), command.p2(), command.data()) {
            Ok(gids::ADMIN_KEY_REFERENCE) => {
                self.gids_key_selected = true;
                self.pending.zeroize();
                CardReply::status(StatusWord::SUCCESS)
            }
            Ok(_) => CardReply::status(StatusWord::REFERENCE_NOT_FOUND),
            Err(AuthError::Status { found }) => CardReply::status(found),
            Err(_) => CardReply::status(StatusWord::WRONG_DATA),
        }
    }

    fn gids_authenticate(&mut self, command: &CommandApdu<'_>) -> CardReply {
        if (command.p1(), command.p2()) != (0, 0) {
            return CardReply::status(StatusWord::WRONG_P1_P2);
        }
        if !self.gids_key_selected {
            return CardReply::status(StatusWord::CONDITIONS_NOT_SATISFIED);
        }
        if self.retries == 0 {
            self.pending.zeroize();
            return CardReply::status(StatusWord::AUTH_METHOD_BLOCKED);
        }
        let block_len = self.key.algorithm().block_len();
        let request = match gids::parse_general_authenticate(command.data(), block_len) {
            Ok(request) => request,
            Err(_) => {
                self.pending.zeroize();
                return CardReply::status(StatusWord::WRONG_DATA);
            }
        };
        let pending = Zeroizing::new(self.take_pending());
        match request {
            gids::GeneralAuthenticate::Challenge(host_random) => {
                self.authenticated = false;
                let mut r1 = [0u8; gids::RANDOM_LEN];
                r1.copy_from_slice(host_random);
                let mut r2 = [0u8; gids::RANDOM_LEN];
                if !self.random(&mut r2) {
                    return CardReply::status(StatusWord(0x6f00));
                }
                self.pending = Pending::GidsChallenge { r1, r2 };
                reply(|w| {
                    w.header(0x7c, 2 + gids::RANDOM_LEN)?;
                    w.tlv(0x81, &r2)
                })
            }
            gids::GeneralAuthenticate::Cryptogram(cryptogram) => {
                let Pending::GidsChallenge { r1, r2 } = &*pending else {
                    return CardReply::status(StatusWord::CONDITIONS_NOT_SATISFIED);
                };
                let len = cryptogram.len();
                let mut buffer = Zeroizing::new([0u8; GIDS_MAX_CRYPTOGRAM]);
                let Some(plain) = buffer.get_mut(..len) else {
                    return CardReply::status(StatusWord::WRONG_DATA);
                };
                plain.copy_from_slice(cryptogram);
                if crate::cbc::decrypt(&self.key, plain).is_err() {
                    return CardReply::status(StatusWord::WRONG_DATA);
                }
                let mut expected = Zeroizing::new([0u8; 2 * gids::RANDOM_LEN]);
                let (first, second) = expected.split_at_mut(gids::RANDOM_LEN);
                first.copy_from_slice(r2);
                second.copy_from_slice(r1);
                let randoms = plain.get(..2 * gids::RANDOM_LEN).unwrap_or_default();
                let padded = plain.last().copied().unwrap_or_default().ct_eq(&0x80);
                if !bool::from(randoms.ct_eq(expected.as_slice()) & padded) {
                    return self.failed();
                }
                // R1 || R2 || Z2, Z2 = random bytes then 80.
                let (first, rest) = plain.split_at_mut(gids::RANDOM_LEN.min(len));
                first.copy_from_slice(r1);
                let (second, z2) = rest.split_at_mut(gids::RANDOM_LEN.min(rest.len()));
                second.copy_from_slice(r2);
                if let Some((last, random_part)) = z2.split_last_mut() {
                    if !self.random(random_part) {
                        return CardReply::status(StatusWord(0x6f00));
                    }
                    *last = 0x80;
                }
                if crate::cbc::encrypt(&self.key, plain).is_err() {
                    return CardReply::status(StatusWord(0x6f00));
                }
                self.succeeded();
                reply(|w| {
                    w.header(0x7c, 2 + len)?;
                    w.tlv(0x82, plain)
                })
            }
        }
    }

    fn put_key(&mut self, command: &CommandApdu<'_>) -> CardReply {
        if !self.authenticated {
            return CardReply::status(StatusWord::SECURITY_STATUS_NOT_SATISFIED);
        }
        // OpenSC's gids-tool wraps the body in the data object template `70` (its
        // `gids_put_DO`); `gids::put_key` sends it bare. The card takes both.
        let data = match Tlv::parse_only(0x70, command.data()) {
            Ok(template) => template.value(),
            Err(_) => command.data(),
        };
        let body = match gids::PutKey::parse(command.p1(), command.p2(), data) {
            Ok(body) => body,
            Err(AuthError::Status { found }) => return CardReply::status(found),
            Err(_) => return CardReply::status(StatusWord::WRONG_DATA),
        };
        if body.key_reference() != gids::ADMIN_KEY_REFERENCE {
            return CardReply::status(StatusWord::REFERENCE_NOT_FOUND);
        }
        let Ok(key) = AdminKey::new(self.key.algorithm(), body.key()) else {
            return CardReply::status(StatusWord::WRONG_DATA);
        };
        if !bool::from(key.check_value().as_bytes().ct_eq(body.check_value())) {
            return CardReply::status(StatusWord::WRONG_DATA);
        }
        self.key = key;
        self.retries = self.max_retries;
        CardReply::status(StatusWord::SUCCESS)
    }
}

/// The first `len` bytes of a block buffer.
fn block_mut(buffer: &mut [u8; MAX_BLOCK], len: usize) -> &mut [u8] {
    let (front, _) = buffer.split_at_mut(len.min(MAX_BLOCK));
    front
}

fn pending_slice(block: &[u8; MAX_BLOCK], len: usize) -> &[u8] {
    block.get(..len).unwrap_or_default()
}

fn pending_block(pending: &Pending, len: usize) -> &[u8] {
    match pending {
        Pending::PivChallenge(block) | Pending::PivWitness(block) => pending_slice(block, len),
        Pending::None | Pending::GidsChallenge { .. } => &[],
    }
}

/// A `9000` reply with the data the writer produces, or `6F00` if it did not fit.
fn reply(write: impl FnOnce(&mut Writer<'_>) -> Result<(), Full>) -> CardReply {
    let mut data = Zeroizing::new([0u8; MAX_RESPONSE_DATA]);
    let mut writer = Writer::new(data.as_mut_slice());
    match write(&mut writer) {
        Ok(()) => {
            let len = writer.len();
            CardReply::with_data(data.get(..len).unwrap_or_default(), StatusWord::SUCCESS)
                .unwrap_or_else(|_| CardReply::status(StatusWord(0x6f00)))
        }
        Err(Full) => CardReply::status(StatusWord(0x6f00)),
    }
}
