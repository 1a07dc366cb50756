//! The three MIM CM REST endpoints, at two levels: whole requests, and parameters.
//!
//! # Request level (`alloc`)
//!
//! [`handle_request`] takes the request target as the server received it (path and raw
//! query, still percent-encoded), a [`Profile`] (admin key, whether keys are diversified, PIN
//! policy) and a CSPRNG, and returns a [`Reply`]: status, content type and JSON body, with
//! .NET's parsing rules (routes and query keys without regard to case, `Boolean.Parse`,
//! `Guid.Parse`, `+` as a space). A server needs no other glue: the example server in
//! `examples/server/` is this function behind axum.
//!
//! ```
//! use cardadmin::{cm, AdminKey, PinPolicy};
//!
//! let (admin_key, policy) = (AdminKey::from_bytes([0; 24]), PinPolicy::default());
//! let profile = cm::Profile::new(&admin_key, true, &policy);
//! let reply = cm::handle_request(
//!     &profile,
//!     "/CertificateManagement/api/v1.0/requests/a9b4b42c-cc50-4c9b-89d1-bbc0bcd5a099/smartcards/17cf063d-e337-4aa9-a822-346554ddd3c9/authenticationresponse?cardid=bc88f13f-83ba-4037-8262-46eba1291c6e&challenge=1hFD%2Bcz%2F0so%3D&diversified=False",
//!     &mut rand_core::OsRng,
//! );
//! assert_eq!(reply.status(), 200);
//! assert_eq!(reply.content_type(), Some("application/json; charset=utf-8"));
//! assert_eq!(reply.body(), "\"F0Zudm4wPLY=\"");
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
//! use cardadmin::{cm, AdminKey};
//!
//! let admin_key = AdminKey::from_bytes([0; 24]);
//! let card_id = "bc88f13f-83ba-4037-8262-46eba1291c6e";
//! match cm::authentication_response(&admin_key, card_id, "1hFD+cz/0so=", false) {
//!     Ok(response) => assert_eq!(response.to_string(), "F0Zudm4wPLY="), // 200, body
//!     Err(err) => panic!("{} {err}", err.status()),
//! }
//! ```

use core::fmt;

use rand_core::{CryptoRng, RngCore};

use crate::card_id::CardId;
use crate::challenge::{Challenge, Response};
use crate::error::{KeyError, ParseError};
use crate::key::AdminKey;
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
/// `request target: ` or `server-proposed PIN: ` for what is not one parameter; the message
/// never repeats the parameter's name and never contains key bytes or PIN characters.
///
/// | variant | status |
/// |---|---|
/// | [`CardId`](CmError::CardId), [`Challenge`](CmError::Challenge), [`Atr`](CmError::Atr), [`PathGuid`](CmError::PathGuid), [`Diversified`](CmError::Diversified), [`Missing`](CmError::Missing), [`Duplicate`](CmError::Duplicate), [`UnencodedPlus`](CmError::UnencodedPlus), [`PercentEncoding`](CmError::PercentEncoding), [`NotUtf8`](CmError::NotUtf8), [`Nul`](CmError::Nul) | 400 Bad Request |
/// | [`Forbidden`](CmError::Forbidden) | 403 Forbidden |
/// | [`NotFound`](CmError::NotFound) | 404 Not Found |
/// | [`TooLong`](CmError::TooLong) | 414 URI Too Long |
/// | [`RateLimited`](CmError::RateLimited) | 429 Too Many Requests |
/// | [`Pin`](CmError::Pin) | 500 Internal Server Error |
///
/// ```
/// use cardadmin::{cm, AdminKey};
///
/// let key = AdminKey::from_bytes([0; 24]);
/// let err = cm::diversified_key(&key, "not-a-guid").unwrap_err();
/// assert!(err.to_string().starts_with("cardid: "));
/// assert_eq!(err.status(), 400);
/// assert_eq!(err.parameter(), Some("cardid"));
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
}

impl CmError {
    /// The HTTP status code to answer with: 400 for a malformed parameter, 403 for a caller a
    /// server refuses, 404 for an unknown route, 414 for an over-long request target, 429 for
    /// a caller over a server's limit, 500 for a broken random generator.
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
            Self::Pin(_) => 500,
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
            | Self::TooLong { .. } => None,
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
                "diversified: must be True or False (any case, as .NET Boolean.Parse reads it), got {found} characters of something else"
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

/// `authenticationresponse`: the answer to the card's admin challenge, under `admin_key`
/// diversified for this card when `diversified` is true, or `admin_key` itself when not.
///
/// `card_id` is checked in both cases: MIM CM always sends it, and a malformed one means a
/// malformed request.
///
/// ```
/// use cardadmin::{cm, AdminKey};
///
/// // MIM CM REST API documentation, "Get smart card authentication response".
/// let admin_key = AdminKey::from_bytes([0; 24]);
/// let response = cm::authentication_response(
///     &admin_key,
///     "bc88f13f-83ba-4037-8262-46eba1291c6e",
///     "1hFD+cz/0so=",
///     false,
/// )?;
/// assert_eq!(response.to_string(), "F0Zudm4wPLY=");
/// # Ok::<(), cm::CmError>(())
/// ```
pub fn authentication_response(
    admin_key: &AdminKey,
    card_id: &str,
    challenge: &str,
    diversified: bool,
) -> Result<Response, CmError> {
    let card_id = CardId::parse(card_id).map_err(CmError::CardId)?;
    let challenge = Challenge::from_base64(challenge).map_err(CmError::Challenge)?;
    if diversified {
        admin_key.diversify(&card_id).respond(&challenge)
    } else {
        admin_key.respond(&challenge)
    }
    .map_err(CmError::ChallengeLength)
}

/// `diversifiedkey`: the card's own admin key. Its `to_base64()` is the response body.
///
/// ```
/// use cardadmin::{cm, AdminKey};
///
/// let master = AdminKey::from_bytes([0; 24]);
/// let card_key = cm::diversified_key(&master, "bc88f13f-83ba-4037-8262-46eba1291c6e")?;
/// assert_eq!(card_key.to_base64().len(), 32);
/// # Ok::<(), cm::CmError>(())
/// ```
pub fn diversified_key(admin_key: &AdminKey, card_id: &str) -> Result<AdminKey, CmError> {
    let card_id = CardId::parse(card_id).map_err(CmError::CardId)?;
    Ok(admin_key.diversify(&card_id))
}

/// `serverproposedpin`: a PIN proposed by the server, or `None` (HTTP 204 No Content) when the
/// policy leaves the PIN to someone else ([`PinPolicy::server_generates`] is false).
///
/// ```
/// use cardadmin::{cm, PinPolicy, UserPinOption};
///
/// let pin = cm::server_proposed_pin(&PinPolicy::default(), &mut rand_core::OsRng)?;
/// assert!(pin.is_some());
///
/// let user_chooses = PinPolicy::builder().user_pin_option(UserPinOption::UserProvided).build()?;
/// assert!(cm::server_proposed_pin(&user_chooses, &mut rand_core::OsRng)?.is_none());
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
