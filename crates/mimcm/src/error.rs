//! The request-level error: everything the core's parameter-level [`CmError`] says, plus what
//! only a whole request can get wrong (routes, query syntax, percent-encoding, path GUIDs) and
//! a server's own refusals, each with the HTTP status to answer.

use core::fmt;

use cardadmin::cm::CmError;
use cardadmin::ParseError;

/// A request the facade could not serve: which parameter was at fault, and the HTTP status
/// to answer with ([`RequestError::status`]), so a server never has to guess one.
///
/// `Display` starts with the parameter's name and a colon (`cardid: ...`), or with
/// `request target: `, `forbidden: `, `rate limited: `, `server-proposed PIN: ` or
/// `diversification key: ` for what is not one parameter; the message never repeats the
/// parameter's name and never contains key bytes or PIN characters.
///
/// | variant | status |
/// |---|---|
/// | [`Core`](RequestError::Core) | as [`CmError`]: 400 for a parameter or a missing master key, 500 for a broken generator or key store |
/// | [`Atr`](RequestError::Atr), [`PathGuid`](RequestError::PathGuid), [`Diversified`](RequestError::Diversified), [`Missing`](RequestError::Missing), [`Duplicate`](RequestError::Duplicate), [`UnencodedPlus`](RequestError::UnencodedPlus), [`PercentEncoding`](RequestError::PercentEncoding), [`NotUtf8`](RequestError::NotUtf8), [`Nul`](RequestError::Nul) | 400 Bad Request |
/// | [`Forbidden`](RequestError::Forbidden) | 403 Forbidden |
/// | [`NotFound`](RequestError::NotFound) | 404 Not Found |
/// | [`TooLong`](RequestError::TooLong) | 414 URI Too Long |
/// | [`RateLimited`](RequestError::RateLimited) | 429 Too Many Requests |
///
/// ```
/// use cardadmin::cm::CmError;
/// use cardadmin::GenerateError;
/// use cardadmin_mimcm::RequestError;
///
/// assert_eq!(RequestError::NotFound.status(), 404);
/// assert_eq!(RequestError::Missing { parameter: "cardid" }.status(), 400);
/// assert_eq!(RequestError::from(CmError::Pin(GenerateError::Rng)).status(), 500);
/// assert_eq!(RequestError::Diversified { found: 3 }.parameter(), Some("diversified"));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RequestError {
    /// What the core's parameter-level functions refused (`cardid`, `challenge`, no master
    /// key, a failed key store, a broken generator).
    Core(CmError),
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
    /// for which request and card) failed. The facade never returns it; a server that checks a
    /// [`ParsedRequest`](crate::ParsedRequest) against its rules answers it, so the refusal
    /// reads like every other error.
    Forbidden {
        /// The rule that failed, in words (`"the caller is not the request's operator"`).
        rule: &'static str,
    },
    /// The caller asked for more key uses than the server allows in a period. The facade never returns
    /// it; a server that limits callers answers it.
    RateLimited {
        /// The limit: key uses per minute.
        per_minute: u32,
    },
    /// No MIM CM endpoint has this path.
    NotFound,
    /// The request target is longer than the facade reads.
    TooLong {
        /// The longest target read, in bytes ([`MAX_TARGET_LEN`](crate::MAX_TARGET_LEN)).
        limit: usize,
        /// The target's length in bytes.
        found: usize,
    },
}

impl RequestError {
    /// The HTTP status code to answer with: 400 for a malformed parameter or a card key asked
    /// of a profile without a master key, 403 for a caller a server refuses, 404 for an
    /// unknown route, 414 for an over-long request target, 429 for a caller over a server's
    /// limit, 500 for a broken random generator or a failed key store.
    ///
    /// ```
    /// use cardadmin_mimcm::RequestError;
    ///
    /// assert_eq!(RequestError::Forbidden { rule: "not yours" }.status(), 403);
    /// ```
    pub fn status(&self) -> u16 {
        match self {
            Self::Core(CmError::Pin(_) | CmError::KeyStore) => 500,
            Self::Core(_)
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
        }
    }

    /// The request parameter at fault, if the error is about one: a query parameter
    /// (`"cardid"`, `"challenge"`, `"diversified"`, `"atr"`), a path parameter (`"reqid"`,
    /// `"scid"`, `"id"`), or `"query string"` / `"path"` for text that is not one parameter.
    ///
    /// ```
    /// use cardadmin_mimcm::RequestError;
    ///
    /// assert_eq!(RequestError::Missing { parameter: "cardid" }.parameter(), Some("cardid"));
    /// assert_eq!(RequestError::NotFound.parameter(), None);
    /// ```
    pub fn parameter(&self) -> Option<&'static str> {
        match *self {
            Self::Core(CmError::CardId(_)) => Some("cardid"),
            Self::Core(CmError::Challenge(_) | CmError::ChallengeLength(_)) => Some("challenge"),
            Self::Atr(_) => Some("atr"),
            Self::Diversified { .. } => Some("diversified"),
            Self::PathGuid { parameter, .. }
            | Self::Missing { parameter }
            | Self::Duplicate { parameter }
            | Self::UnencodedPlus { parameter, .. }
            | Self::PercentEncoding { parameter, .. }
            | Self::NotUtf8 { parameter }
            | Self::Nul { parameter } => Some(parameter),
            Self::Core(_)
            | Self::Forbidden { .. }
            | Self::RateLimited { .. }
            | Self::NotFound
            | Self::TooLong { .. } => None,
        }
    }
}

impl From<CmError> for RequestError {
    fn from(error: CmError) -> Self {
        Self::Core(error)
    }
}

impl fmt::Display for RequestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::Core(err) => err.fmt(f),
            Self::Atr(err) => write!(f, "atr: {}", err.with_what("value")),
            Self::PathGuid { parameter, error } => {
                write!(f, "{parameter}: {}", error.with_what("GUID"))
            }
            Self::Diversified { found: 0 } => {
                f.write_str("diversified: value is empty; send True or False")
            }
            Self::Diversified { found } => write!(
                f,
                "diversified: must be True or False (any case, as .NET Boolean.Parse reads it), got {found} {} of something else",
                if found == 1 { "character" } else { "characters" }
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
impl std::error::Error for RequestError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Core(err) => Some(err),
            Self::Atr(err) => Some(err),
            Self::PathGuid { error, .. } => Some(error),
            _ => None,
        }
    }
}
