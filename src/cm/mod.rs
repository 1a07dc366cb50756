//! The three MIM CM REST endpoints, at two levels: whole requests, and parameters.
//!
//! # Request level (`alloc`)
//!
//! [`handle_request`] takes the request target as the server received it (path and raw
//! query, still percent-encoded), a [`Profile`] (initial admin key, optional master key, PIN
//! policy) and a CSPRNG, and returns a [`Reply`]: status, content type and JSON body, with
//! .NET's parsing rules (routes and query keys without regard to case, `Boolean.Parse`,
//! `Guid.Parse`, `+` as a space). A server needs no other glue: the example server in
//! `apps/server/` is this function behind axum.
//!
//! ```
//! # #[cfg(feature = "getrandom")]
//! # {
//! use cardadmin::{cm, AdminKey, MasterKey, PinPolicy};
//! use cardadmin::rng::OsRng;
//!
//! let (initial_key, policy) = (AdminKey::from_bytes([0; 24]), PinPolicy::default());
//! let master = MasterKey::from_hex("00112233445566778899AABBCCDDEEFF0102030405060708")?;
//! let profile = cm::Profile::new(&initial_key, Some(&master), &policy)?;
//! let reply = cm::handle_request(
//!     &profile,
//!     "/CertificateManagement/api/v1.0/requests/a9b4b42c-cc50-4c9b-89d1-bbc0bcd5a099/smartcards/17cf063d-e337-4aa9-a822-346554ddd3c9/authenticationresponse?cardid=bc88f13f-83ba-4037-8262-46eba1291c6e&challenge=1hFD%2Bcz%2F0so%3D&diversified=False",
//!     &mut OsRng,
//! );
//! assert_eq!(reply.status(), 200);
//! assert_eq!(reply.content_type(), Some("application/json; charset=utf-8"));
//! assert_eq!(reply.body(), "\"F0Zudm4wPLY=\"");
//! # }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Parameter level
//!
//! Each function takes the parameters as the server receives them (already URL-decoded text)
//! and returns the typed value whose `Display` or `to_base64` is the response body. Parameter
//! errors say which parameter was wrong, and [`CmError::status`] which status to answer.
//! Unlike [`handle_request`], these do not quote the body as a JSON string: MIM CM's bodies
//! are JSON strings (`"F0Zudm4wPLY="`, quotes included).
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
//!     Err(err) => panic!("{} {err}", err.status()),
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

#[cfg(feature = "alloc")]
mod request;
#[cfg(feature = "alloc")]
pub use request::{
    answer, handle_request, parse_request, AuditRecord, Endpoint, Guid, KeyRole, ParsedRequest,
    Profile, Reply, CONTENT_TYPE, MAX_TARGET_LEN, PREFIX,
};

/// A request the facade could not serve: which parameter was at fault, and the HTTP status
/// to answer with ([`CmError::status`]), so a server never has to guess one.
///
/// `Display` starts with the parameter's name and a colon (`cardid: ...`), or with
/// `request target: `, `server-proposed PIN: ` or `diversification key: ` for what is not one
/// parameter; the message
/// never repeats the parameter's name and never contains key bytes or PIN characters.
///
/// | variant | status |
/// |---|---|
/// | [`CardId`](CmError::CardId), [`Challenge`](CmError::Challenge), [`Atr`](CmError::Atr), [`PathGuid`](CmError::PathGuid), [`Diversified`](CmError::Diversified), [`Missing`](CmError::Missing), [`Duplicate`](CmError::Duplicate), [`UnencodedPlus`](CmError::UnencodedPlus), [`PercentEncoding`](CmError::PercentEncoding), [`NotUtf8`](CmError::NotUtf8), [`Nul`](CmError::Nul) | 400 Bad Request |
/// | [`Forbidden`](CmError::Forbidden) | 403 Forbidden |
/// | [`NotFound`](CmError::NotFound) | 404 Not Found |
/// | [`NoDiversificationKey`](CmError::NoDiversificationKey) | 400 Bad Request |
/// | [`TooLong`](CmError::TooLong) | 414 URI Too Long |
/// | [`RateLimited`](CmError::RateLimited) | 429 Too Many Requests |
/// | [`Pin`](CmError::Pin), [`KeyStore`](CmError::KeyStore) | 500 Internal Server Error |
///
/// ```
/// use cardadmin::{cm, MasterKey};
///
/// let master = MasterKey::from_hex("00112233445566778899aabbccddeeff0102030405060708")?;
/// let err = cm::diversified_key(&master, "not-a-guid").unwrap_err();
/// assert!(err.to_string().starts_with("cardid: "));
/// assert_eq!(err.status(), 400);
/// assert_eq!(err.parameter(), Some("cardid"));
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
    /// The `atr` parameter is not hex: an even number of hex digits, at most 33 bytes.
    Atr(ParseError),
    /// A GUID in the path (`reqid`, `scid` or `id`) is not a GUID.
    PathGuid {
        /// The path parameter: `"reqid"`, `"scid"` or `"id"`.
        parameter: &'static str,
        /// Why it is not a GUID.
        error: ParseError,
    },
    /// The `diversified` parameter is not a .NET Boolean (`True` or `False` in any case, with
    /// optional surrounding whitespace).
    Diversified {
        /// The number of characters received (the value itself is not kept).
        found: usize,
    },
    /// A required query parameter is absent.
    Missing {
        /// The parameter's name.
        parameter: &'static str,
    },
    /// A query parameter was given more than once (keys compared without regard to case).
    Duplicate {
        /// The parameter's name.
        parameter: &'static str,
    },
    /// A `+` that was not percent-encoded in a base64 parameter: in a query string `+` means a
    /// space, so the value the server reads is not the one the client meant.
    UnencodedPlus {
        /// The parameter's name.
        parameter: &'static str,
        /// Zero-based character position of the first `+` in the value.
        position: usize,
    },
    /// A `%` not followed by two hex digits.
    PercentEncoding {
        /// The parameter's name, `"query string"` for a key or an unknown parameter, or
        /// `"path"`.
        parameter: &'static str,
        /// Zero-based byte position of the `%` in the raw (still encoded) query key, query
        /// value or path segment.
        position: usize,
    },
    /// The percent-decoded bytes are not UTF-8.
    NotUtf8 {
        /// The parameter's name, `"query string"` or `"path"`.
        parameter: &'static str,
    },
    /// The percent-decoded value holds a NUL character.
    Nul {
        /// The parameter's name, `"query string"` or `"path"`.
        parameter: &'static str,
    },
    /// The server refuses this caller this request: a rule of the server's own (who may ask
    /// for which request and card) failed. The core never returns it; a server that checks a
    /// [`ParsedRequest`] against its rules answers it, so the
    /// refusal reads like every other error.
    Forbidden {
        /// The rule that failed, in words (`"the caller is not the request's operator"`).
        rule: &'static str,
    },
    /// The caller asked for more key uses than the server allows in a period. The core never
    /// returns it; a server that limits callers answers it.
    RateLimited {
        /// The limit: key uses per minute.
        per_minute: u32,
    },
    /// No MIM CM endpoint has this path.
    NotFound,
    /// The request target is longer than the facade reads.
    TooLong {
        /// The longest target read, in bytes ([`MAX_TARGET_LEN`]).
        limit: usize,
        /// The target's length in bytes.
        found: usize,
    },
    /// `diversified=true` or `diversifiedkey` was asked of a profile without a diversification
    /// (master) key. 400: the route exists (404 would say the URL is wrong), nothing failed and
    /// a retry cannot succeed (a 5xx would report a server fault for a profile configured this
    /// way); the request asks this profile for a card key it does not derive.
    NoDiversificationKey,
    /// The key store holding the master key failed (an HSM error, a lost session). 500; the
    /// message says nothing about the key or the store's own error.
    KeyStore,
}

impl CmError {
    /// The HTTP status code to answer with: 400 for a malformed parameter or a card key asked
    /// of a profile without a master key, 403 for a caller a server refuses, 404 for an
    /// unknown route, 414 for an over-long request target, 429 for a caller over a server's
    /// limit, 500 for a broken random generator or a failed key store.
    ///
    /// ```
    /// use cardadmin::{CmError, GenerateError};
    ///
    /// assert_eq!(CmError::NotFound.status(), 404);
    /// assert_eq!(CmError::Missing { parameter: "cardid" }.status(), 400);
    /// assert_eq!(CmError::Pin(GenerateError::Rng).status(), 500);
    /// ```
    pub fn status(&self) -> u16 {
        match self {
            Self::CardId(_)
            | Self::Challenge(_)
            | Self::ChallengeLength(_)
            | Self::Atr(_)
            | Self::PathGuid { .. }
            | Self::Diversified { .. }
            | Self::Missing { .. }
            | Self::Duplicate { .. }
            | Self::UnencodedPlus { .. }
            | Self::PercentEncoding { .. }
            | Self::NotUtf8 { .. }
            | Self::Nul { .. } => 400,
            Self::Forbidden { .. } => 403,
            Self::NotFound => 404,
            Self::TooLong { .. } => 414,
            Self::RateLimited { .. } => 429,
            Self::NoDiversificationKey => 400,
            Self::Pin(_) | Self::KeyStore => 500,
        }
    }

    /// The request parameter at fault, if the error is about one: a query parameter
    /// (`"cardid"`, `"challenge"`, `"diversified"`, `"atr"`), a path parameter (`"reqid"`,
    /// `"scid"`, `"id"`), or `"query string"` / `"path"` for text that is not one parameter.
    ///
    /// ```
    /// use cardadmin::CmError;
    ///
    /// assert_eq!(CmError::Diversified { found: 3 }.parameter(), Some("diversified"));
    /// assert_eq!(CmError::NotFound.parameter(), None);
    /// ```
    pub fn parameter(&self) -> Option<&'static str> {
        match *self {
            Self::CardId(_) => Some("cardid"),
            Self::Challenge(_) | Self::ChallengeLength(_) => Some("challenge"),
            Self::Atr(_) => Some("atr"),
            Self::Diversified { .. } => Some("diversified"),
            Self::PathGuid { parameter, .. }
            | Self::Missing { parameter }
            | Self::Duplicate { parameter }
            | Self::UnencodedPlus { parameter, .. }
            | Self::PercentEncoding { parameter, .. }
            | Self::NotUtf8 { parameter }
            | Self::Nul { parameter } => Some(parameter),
            Self::Pin(_)
            | Self::Forbidden { .. }
            | Self::RateLimited { .. }
            | Self::NotFound
            | Self::TooLong { .. }
            | Self::NoDiversificationKey
            | Self::KeyStore => None,
        }
    }
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
            Self::Atr(err) => write!(f, "atr: {}", err.with_what("value")),
            Self::PathGuid { parameter, error } => {
                write!(f, "{parameter}: {}", error.with_what("GUID"))
            }
            Self::Diversified { found: 0 } => {
                f.write_str("diversified: value is empty; send True or False")
            }
            Self::Diversified { found } => write!(
                f,
                "diversified: must be True or False (any case, as .NET Boolean.Parse reads it), got {} of something else",
                crate::plural::characters(found)
            ),
            Self::Missing { parameter } => {
                write!(f, "{parameter}: required query parameter is missing")
            }
            Self::Duplicate { parameter } => write!(
                f,
                "{parameter}: query parameter given more than once (names are compared without regard to case); send it once"
            ),
            Self::UnencodedPlus {
                parameter,
                position,
            } => write!(
                f,
                "{parameter}: '+' at position {position} was not percent-encoded, and in a query string '+' means a space; send it as %2B"
            ),
            Self::PercentEncoding {
                parameter,
                position,
            } => write!(
                f,
                "{parameter}: '%' at byte {position} is not followed by two hex digits; percent-encode '%' itself as %25"
            ),
            Self::NotUtf8 { parameter } => {
                write!(f, "{parameter}: the percent-decoded bytes are not UTF-8")
            }
            Self::Nul { parameter } => {
                write!(f, "{parameter}: the percent-decoded value holds a NUL character")
            }
            Self::Forbidden { rule } => write!(f, "forbidden: {rule}"),
            Self::RateLimited { per_minute } => write!(
                f,
                "rate limited: more than {per_minute} key uses in a minute by this caller; try again later"
            ),
            Self::NotFound => f.write_str(
                "request target: no MIM CM endpoint here; the routes are /CertificateManagement/api/v1.0/requests/{reqid}/smartcards/{scid}/authenticationresponse, .../diversifiedkey and /CertificateManagement/api/v1.0/smartcards/{id}/serverproposedpin",
            ),
            Self::TooLong { limit, found } => write!(
                f,
                "request target: {found} bytes long, over the limit of {limit}"
            ),
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
            Self::CardId(err) | Self::Challenge(err) | Self::Atr(err) => Some(err),
            Self::PathGuid { error, .. } => Some(error),
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
/// These parameter-level functions do not check that the two keys differ: build a [`Profile`]
/// (or call [`check_roles`] once at start-up) for that.
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

/// The answer to a parsed challenge, by the key of the right role; shared with
/// [`handle_request`].
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
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
///
/// [`RolesError::SameKey`], or [`RolesError::KeyStore`] when the key store fails.
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
