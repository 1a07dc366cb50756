//! The routes: which endpoint a path names, and the GUIDs in it.

use core::fmt;

use cardadmin::{CardId, ParseError};

use crate::percent::{decode, Value};
use crate::RequestError;

/// A MIM CM endpoint: which of the three routes a request took.
///
/// ```
/// let parsed = cardadmin_mimcm::parse_request(
///     "/CertificateManagement/api/v1.0/smartcards/C6BAD97C-F97F-4920-8947-BE980C98C6B5/serverproposedpin",
/// )?;
/// assert_eq!(parsed.endpoint(), cardadmin_mimcm::Endpoint::ServerProposedPin);
/// assert_eq!(parsed.endpoint().as_str(), "serverproposedpin");
/// # Ok::<(), cardadmin_mimcm::RequestError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Endpoint {
    /// `/requests/{reqid}/smartcards/{scid}/authenticationresponse`.
    AuthenticationResponse,
    /// `/requests/{reqid}/smartcards/{scid}/diversifiedkey`.
    DiversifiedKey,
    /// `/smartcards/{id}/serverproposedpin`.
    ServerProposedPin,
}

impl Endpoint {
    /// The route's last path segment, in MIM CM's spelling (lower case):
    /// `"authenticationresponse"`, `"diversifiedkey"` or `"serverproposedpin"`.
    ///
    /// ```
    /// assert_eq!(cardadmin_mimcm::Endpoint::DiversifiedKey.as_str(), "diversifiedkey");
    /// ```
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::AuthenticationResponse => "authenticationresponse",
            Self::DiversifiedKey => "diversifiedkey",
            Self::ServerProposedPin => "serverproposedpin",
        }
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A GUID from a request's path (the request ID, the smart card ID), as 16 bytes in the
/// Windows GUID layout, so that two spellings of one GUID (`{...}`, upper case, bare hex)
/// compare equal. `Display` gives .NET's `D` form, in lower case.
///
/// ```
/// use cardadmin_mimcm::Guid;
///
/// let a = Guid::parse("A9B4B42C-CC50-4C9B-89D1-BBC0BCD5A099")?;
/// let b = Guid::parse("{a9b4b42c-cc50-4c9b-89d1-bbc0bcd5a099}")?;
/// let c = Guid::parse("a9b4b42ccc504c9b89d1bbc0bcd5a099")?;
/// assert_eq!(a, c);
/// assert_eq!(a, b);
/// assert_eq!(a.to_string(), "a9b4b42c-cc50-4c9b-89d1-bbc0bcd5a099");
/// # Ok::<(), cardadmin::ParseError>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Guid([u8; 16]);

impl Guid {
    /// Parses GUID text as .NET's `Guid.Parse` reads it (the forms [`CardId::parse`] reads).
    ///
    /// ```
    /// use cardadmin_mimcm::Guid;
    ///
    /// assert!(Guid::parse("17cf063d-e337-4aa9-a822-346554ddd3c9").is_ok());
    /// assert!(Guid::parse("17cf063d").is_err());
    /// ```
    pub fn parse(text: &str) -> Result<Self, ParseError> {
        CardId::parse(text)
            .map(|id| Self(*id.as_bytes()))
            .map_err(|error| error.with_what("GUID"))
    }

    /// A GUID from its 16 bytes in the Windows GUID layout (as a database may store it).
    ///
    /// ```
    /// use cardadmin_mimcm::Guid;
    ///
    /// let guid = Guid::from_bytes([0x11; 16]);
    /// assert_eq!(guid.to_string(), "11111111-1111-1111-1111-111111111111");
    /// assert_eq!(Guid::from_bytes(*guid.as_bytes()), guid);
    /// ```
    pub fn from_bytes(bytes: [u8; 16]) -> Self {
        Self(bytes)
    }

    /// The 16 bytes, in the Windows GUID layout (`Guid.ToByteArray()`).
    ///
    /// ```
    /// use cardadmin_mimcm::Guid;
    ///
    /// let guid = Guid::parse("bc88f13f-83ba-4037-8262-46eba1291c6e")?;
    /// assert_eq!(guid.as_bytes()[..4], [0x3f, 0xf1, 0x88, 0xbc]);
    /// # Ok::<(), cardadmin::ParseError>(())
    /// ```
    pub fn as_bytes(&self) -> &[u8; 16] {
        &self.0
    }
}

impl fmt::Display for Guid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&CardId::from_bytes(self.0), f)
    }
}

impl fmt::Debug for Guid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Guid({self})")
    }
}

impl core::str::FromStr for Guid {
    type Err = ParseError;
    fn from_str(text: &str) -> Result<Self, ParseError> {
        Self::parse(text)
    }
}

/// Matches the path (percent-decoded segment by segment, without regard to case) and reads
/// its GUIDs: the endpoint, the request ID (none for `serverproposedpin`) and the smart card
/// ID.
pub(crate) fn route(path: &str) -> Result<(Endpoint, Option<Guid>, Guid), RequestError> {
    let path = path.strip_suffix('/').unwrap_or(path);
    let mut segments = path.split('/');
    // The path starts with '/', so the first segment is empty.
    if segments.next() != Some("") {
        return Err(RequestError::NotFound);
    }
    let mut decoded: [Option<Value>; 8] = Default::default();
    let mut count = 0usize;
    for (slot, segment) in decoded.iter_mut().zip(segments.by_ref()) {
        *slot = Some(decode(segment, false, "path")?);
        count += 1;
    }
    if segments.next().is_some() {
        return Err(RequestError::NotFound);
    }
    let text = |index: usize| {
        decoded
            .get(index)
            .and_then(Option::as_ref)
            .map_or("", |value| value.text.as_str())
    };
    let is = |index: usize, literal: &str| text(index).eq_ignore_ascii_case(literal);
    if !(is(0, "CertificateManagement") && is(1, "api") && is(2, "v1.0")) {
        return Err(RequestError::NotFound);
    }
    // Segments after the prefix: requests/{reqid}/smartcards/{scid}/<endpoint> (3 to 7), or
    // smartcards/{id}/serverproposedpin (3 to 5).
    let requests = count == 8 && is(3, "requests") && is(5, "smartcards");
    let (endpoint, guids): (Endpoint, &[(usize, &'static str)]) =
        if requests && is(7, "authenticationresponse") {
            (
                Endpoint::AuthenticationResponse,
                &[(4, "reqid"), (6, "scid")],
            )
        } else if requests && is(7, "diversifiedkey") {
            (Endpoint::DiversifiedKey, &[(4, "reqid"), (6, "scid")])
        } else if count == 6 && is(3, "smartcards") && is(5, "serverproposedpin") {
            (Endpoint::ServerProposedPin, &[(4, "id")])
        } else {
            return Err(RequestError::NotFound);
        };
    let mut ids = [None; 2];
    for (slot, &(index, parameter)) in ids.iter_mut().zip(guids) {
        *slot = Some(
            Guid::parse(text(index))
                .map_err(|error| RequestError::PathGuid { parameter, error })?,
        );
    }
    match ids {
        [Some(request_id), Some(smart_card_id)] => Ok((endpoint, Some(request_id), smart_card_id)),
        [Some(smart_card_id), None] => Ok((endpoint, None, smart_card_id)),
        _ => Err(RequestError::NotFound),
    }
}
