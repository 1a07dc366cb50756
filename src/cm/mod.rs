//! The three MIM CM REST endpoints at the parameter level: the answers a server computes.
//!
//! The whole request, as a server receives it (routes, percent-encoding, .NET's parsing rules,
//! JSON bodies, the parsed request for a server's own rules and audit trail), is the
//! `cardadmin-mimcm` crate's, built on these functions.
//!
//! # Parameter level
//!
//! Each function takes the parameters as the server receives them (already URL-decoded text)
//! and returns the typed value whose `Display` or `to_base64` is the response body. Parameter
//! errors say which parameter was wrong (`cardadmin-mimcm` maps them to HTTP statuses). These
//! do not quote the body as a JSON string: MIM CM's bodies are JSON strings
//! (`"F0Zudm4wPLY="`, quotes included).
//!
//! | endpoint | function | body |
//! |---|---|---|
//! | `GET .../authenticationresponse?cardid=&challenge=&diversified=` | [`authentication_response`] | `response.to_string()` |
//! | `GET .../diversifiedkey?cardid=` | [`diversified_key`] | `key.to_base64()` |
//! | `GET /smartcards/{id}/serverproposedpin?cardid=&challenge=` | [`server_proposed_pin`] | `pin.as_str()`, or 204 for `None` |
//!
//! ```
//! use cardadmin::{cm, AdminKey, MasterKey};
//!
//! let initial_key = AdminKey::from_bytes([0; 24]);
//! let card_id = "bc88f13f-83ba-4037-8262-46eba1291c6e";
//! match cm::authentication_response(&initial_key, None::<&MasterKey>, card_id, "1hFD+cz/0so=", false) {
//!     Ok(response) => assert_eq!(response.to_string(), "F0Zudm4wPLY="), // 200, body
//!     Err(err) => panic!("400: {err}"),
//! }
//! ```

use core::fmt;

use rand_core::{CryptoRng, RngCore};

use crate::card_id::CardId;
use crate::challenge::{Challenge, Response};
use crate::error::{KeyError, ParseError};
use crate::key::{AdminKey, KeyCheckValue};
use crate::master::CmacSigner;
use crate::pin::{GenerateError, Pin, PinPolicy};

/// A parameter-level request the core could not answer: which parameter was at fault, or that
/// the profile has no master key, its key store failed, or no PIN could be generated.
///
/// `Display` starts with the parameter's name and a colon (`cardid: ...`), or with
/// `server-proposed PIN: ` or `diversification key: ` for what is not one parameter; the
/// message never repeats the parameter's name and never contains key bytes or PIN characters.
/// `cardadmin-mimcm` wraps it in its request-level error, which adds the HTTP status.
///
/// ```
/// use cardadmin::{cm, MasterKey};
///
/// let master = MasterKey::from_hex("00112233445566778899aabbccddeeff0102030405060708")?;
/// let err = cm::diversified_key(&master, "not-a-guid").unwrap_err();
/// assert!(err.to_string().starts_with("cardid: "));
/// # Ok::<(), cardadmin::KeyError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum CmError {
    /// The `cardid` parameter is not a GUID.
    CardId(ParseError),
    /// The `challenge` parameter is not the base64 of 8 or 16 bytes.
    Challenge(ParseError),
    /// The `challenge` parameter is not one block of the configured key's cipher (8 bytes for
    /// Triple-DES, 16 for AES): the error names the length the key needs.
    ChallengeLength(KeyError),
    /// No PIN could be generated: the random generator is broken.
    Pin(GenerateError),
    /// `diversified=true` or `diversifiedkey` was asked of a profile without a diversification
    /// (master) key. 400: the route exists (404 would say the URL is wrong), nothing failed and
    /// a retry cannot succeed (a 5xx would report a server fault for a profile configured this
    /// way); the request asks this profile for a card key it does not derive.
    NoDiversificationKey,
    /// The key store holding the master key failed (an HSM error, a lost session). 500; the
    /// message says nothing about the key or the store's own error.
    KeyStore,
}

impl fmt::Display for CmError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::CardId(err) => write!(f, "cardid: {err}"),
            // The parse error names its subject ("challenge has ..."); after the parameter's
            // name it says "value" instead, so the message does not read "challenge: challenge".
            Self::Challenge(err) => write!(f, "challenge: {}", err.with_what("value")),
            Self::ChallengeLength(err) => write!(f, "challenge: {err}"),
            Self::Pin(err) => write!(f, "server-proposed PIN: {err}"),
            Self::NoDiversificationKey => f.write_str(
                "diversification key: this profile has none, so it derives no card keys and cannot answer diversified=true or diversifiedkey; send diversified=false to use the initial admin key, or configure a diversification key",
            ),
            Self::KeyStore => f.write_str(
                "diversification key: the key store failed; no card key was derived",
            ),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for CmError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::CardId(err) | Self::Challenge(err) => Some(err),
            Self::ChallengeLength(err) => Some(err),
            Self::Pin(err) => Some(err),
            _ => None,
        }
    }
}

/// `authenticationresponse`: the answer to the card's admin challenge. With
/// `diversified=false` it is answered by `initial_key` (the profile's initial admin key, what
/// blank cards ship with); with `diversified=true` by the card's own key, derived from
/// `master` and the card ID. The master key itself never answers a challenge.
///
/// `card_id` is checked in both cases: MIM CM always sends it, and a malformed one means a
/// malformed request. With `diversified=true` and no master, the answer is
/// [`CmError::NoDiversificationKey`], never the initial key's answer; a key store that fails is
/// [`CmError::KeyStore`] (500).
///
/// These parameter-level functions do not check that the two keys differ: call [`check_roles`]
/// once at start-up (`cardadmin-mimcm`'s `Profile` does).
///
/// ```
/// use cardadmin::{cm, AdminKey, MasterKey};
///
/// // MIM CM REST API documentation, "Get smart card authentication response".
/// let initial_key = AdminKey::from_bytes([0; 24]);
/// let response = cm::authentication_response(
///     &initial_key,
///     None::<&MasterKey>,
///     "bc88f13f-83ba-4037-8262-46eba1291c6e",
///     "1hFD+cz/0so=",
///     false,
/// )?;
/// assert_eq!(response.to_string(), "F0Zudm4wPLY=");
///
/// // diversified=true needs a master key: without one it is an error, not a fallback.
/// let err = cm::authentication_response(
///     &initial_key,
///     None::<&MasterKey>,
///     "bc88f13f-83ba-4037-8262-46eba1291c6e",
///     "1hFD+cz/0so=",
///     true,
/// )
/// .unwrap_err();
/// assert_eq!(err, cm::CmError::NoDiversificationKey);
///
/// let master = MasterKey::from_hex("00112233445566778899aabbccddeeff0102030405060708")?;
/// let diversified = cm::authentication_response(
///     &initial_key,
///     Some(&master),
///     "bc88f13f-83ba-4037-8262-46eba1291c6e",
///     "1hFD+cz/0so=",
///     true,
/// )?;
/// assert_ne!(diversified, response);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn authentication_response<M: CmacSigner + ?Sized>(
    initial_key: &AdminKey,
    master: Option<&M>,
    card_id: &str,
    challenge: &str,
    diversified: bool,
) -> Result<Response, CmError> {
    let card_id = CardId::parse(card_id).map_err(CmError::CardId)?;
    let challenge = Challenge::from_base64(challenge).map_err(CmError::Challenge)?;
    respond(initial_key, master, &card_id, &challenge, diversified)
}

/// The answer to a parsed challenge, by the key of the right role.
pub(crate) fn respond<M: CmacSigner + ?Sized>(
    initial_key: &AdminKey,
    master: Option<&M>,
    card_id: &CardId,
    challenge: &Challenge,
    diversified: bool,
) -> Result<Response, CmError> {
    if diversified {
        card_key(master, card_id)?.respond(challenge)
    } else {
        initial_key.respond(challenge)
    }
    .map_err(CmError::ChallengeLength)
}

/// The card's own key from the master, or the error that says there is no master or that the
/// key store failed (its own error is not kept: it may say things about the key store a
/// client must not see; a key store logs its own failures).
pub(crate) fn card_key<M: CmacSigner + ?Sized>(
    master: Option<&M>,
    card_id: &CardId,
) -> Result<AdminKey, CmError> {
    let master = master.ok_or(CmError::NoDiversificationKey)?;
    crate::master::diversify(master, card_id).map_err(|_| CmError::KeyStore)
}

/// `diversifiedkey`: the card's own admin key, derived from the master key. Its `to_base64()`
/// is the response body. Only the master is needed: the initial admin key plays no part.
///
/// ```
/// use cardadmin::{cm, MasterKey};
///
/// let master = MasterKey::from_hex("00112233445566778899aabbccddeeff0102030405060708")?;
/// let card_key = cm::diversified_key(&master, "bc88f13f-83ba-4037-8262-46eba1291c6e")?;
/// assert_eq!(card_key.to_base64().len(), 32);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn diversified_key<M: CmacSigner + ?Sized>(
    master: &M,
    card_id: &str,
) -> Result<AdminKey, CmError> {
    let card_id = CardId::parse(card_id).map_err(CmError::CardId)?;
    card_key(Some(master), &card_id)
}

/// Refuses the same key in both roles: an initial admin key (which answers `diversified=false`
/// challenges, so encrypts blocks chosen by any caller) that is also the master key would make
/// the server an encryption oracle under the master, and so every card's key computable.
///
/// Keys are compared by their X9.24-1 CMAC check values ([`master::check_value`](crate::master::check_value)) when the
/// algorithms agree. That works the same for a master in memory and one in a key store whose
/// bytes are never available: it asks the store for one CMAC of the zero block, derives no card
/// key and encrypts nothing. Equal keys always have equal check values (Triple-DES keys that
/// differ only in their ignored parity bits too, which a byte comparison would miss); two
/// different keys share one with probability 2^-24, in which case a configuration is refused
/// that could have run (pick another key). Keys of different algorithms are never the same key.
///
/// For Triple-DES the **complement** of the initial key is refused too: DES's complementation
/// property (`E_~K(~x) = ~E_K(x)`, which carries over to EDE with all three parts
/// complemented) means that an initial key equal to `NOT master` answers the challenge `~x`
/// with `~E_master(x)`, the same oracle. It is compared the same way, by the CMAC check value
/// of `~initial` (computed here, in constant time), so it works for a master in a key store
/// too. AES has no such property.
///
/// ```
/// use cardadmin::{cm, AdminKey, MasterKey};
///
/// let initial = AdminKey::from_bytes([0; 24]);
/// let master = MasterKey::from_hex("00112233445566778899aabbccddeeff0102030405060708")?;
/// assert!(cm::check_roles(&initial, &master).is_ok());
///
/// let same = MasterKey::from_hex(&"0".repeat(48))?;
/// let err = cm::check_roles(&initial, &same).unwrap_err();
/// assert!(err.to_string().contains("the same key"));
///
/// let complement = MasterKey::from_hex(&"f".repeat(48))?; // NOT the all-zero initial key
/// let err = cm::check_roles(&initial, &complement).unwrap_err();
/// assert!(matches!(err, cm::RolesError::ComplementKey { .. }));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
///
/// [`RolesError::SameKey`], [`RolesError::ComplementKey`] (Triple-DES), or
/// [`RolesError::KeyStore`] when the key store fails.
pub fn check_roles<M: CmacSigner + ?Sized>(
    initial_key: &AdminKey,
    master: &M,
) -> Result<(), RolesError<M::Error>> {
    if initial_key.algorithm() != master.algorithm() {
        return Ok(());
    }
    let master_value = crate::master::check_value(master).map_err(RolesError::KeyStore)?;
    let initial_value = crate::master::cmac_check_value(initial_key);
    if master_value == initial_value {
        return Err(RolesError::SameKey {
            check_value: master_value,
        });
    }
    if initial_key.algorithm() == crate::Algorithm::Tdes
        && crate::master::cmac_check_value(&initial_key.complement()) == master_value
    {
        return Err(RolesError::ComplementKey {
            check_value: master_value,
        });
    }
    Ok(())
}

/// A configuration whose key roles cannot be used together ([`check_roles`]).
///
/// ```
/// use cardadmin::cm::RolesError;
///
/// let err: RolesError<()> = RolesError::KeyStore(());
/// assert_eq!(
///     err.to_string(),
///     "diversification key: the key store failed while its check value was computed"
/// );
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RolesError<E> {
    /// The initial admin key and the diversification (master) key are the same key.
    SameKey {
        /// Their common check value, by the X9.24-1 CMAC method (public).
        check_value: KeyCheckValue,
    },
    /// The Triple-DES initial admin key is the bitwise complement of the diversification key:
    /// by DES's complementation property it answers `~x` with `~E_master(x)`.
    ComplementKey {
        /// The master key's CMAC check value (public).
        check_value: KeyCheckValue,
    },
    /// The key store failed when asked for the master key's check value.
    KeyStore(E),
}

impl<E> fmt::Display for RolesError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::SameKey { check_value } => write!(
                f,
                "the initial admin key and the diversification key are the same key (CMAC check value {check_value}): the initial key answers diversified=false challenges for anyone, which would give every caller encryption under the master key and so every card's key; configure two different keys"
            ),
            Self::ComplementKey { check_value } => write!(
                f,
                "the initial admin key is the bitwise complement of the diversification key (CMAC check value {check_value}): by DES's complementation property the initial key's answer to the complement of a challenge is the complement of the master's encryption of it, which would give every caller encryption under the master key and so every card's key; configure two unrelated keys"
            ),
            Self::KeyStore(_) => f.write_str(
                "diversification key: the key store failed while its check value was computed",
            ),
        }
    }
}

#[cfg(feature = "std")]
impl<E: fmt::Debug> std::error::Error for RolesError<E> {}

/// `serverproposedpin`: a PIN proposed by the server, or `None` (HTTP 204 No Content) when the
/// policy leaves the PIN to someone else ([`PinPolicy::server_generates`] is false).
///
/// ```
/// # #[cfg(feature = "getrandom")]
/// # {
/// use cardadmin::{cm, PinPolicy, UserPinOption};
/// use cardadmin::rng::OsRng;
///
/// let pin = cm::server_proposed_pin(&PinPolicy::default(), &mut OsRng)?;
/// assert!(pin.is_some());
///
/// let user_chooses = PinPolicy::builder().user_pin_option(UserPinOption::UserProvided).build()?;
/// assert!(cm::server_proposed_pin(&user_chooses, &mut OsRng)?.is_none());
/// # }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn server_proposed_pin<R: RngCore + CryptoRng>(
    policy: &PinPolicy,
    rng: &mut R,
) -> Result<Option<Pin>, CmError> {
    if !policy.server_generates() {
        return Ok(None);
    }
    policy.generate(rng).map(Some).map_err(CmError::Pin)
}
