//! The three MIM CM REST endpoints, from query-string text to response body.
//!
//! Each function takes the parameters as the server receives them (already URL-decoded text)
//! and returns the typed value whose `Display` or `to_base64` is the response body. Parameter
//! errors say which parameter was wrong, so a server can answer 400 with the message as is.
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
//!     Err(err) => panic!("400 Bad Request: {err}"),
//! }
//! ```

use core::fmt;

use rand_core::{CryptoRng, RngCore};

use crate::card_id::CardId;
use crate::challenge::{Challenge, Response};
use crate::error::{KeyError, ParseError};
use crate::key::AdminKey;
use crate::pin::{GenerateError, Pin, PinPolicy};

/// A request the facade could not serve, naming the parameter at fault.
///
/// ```
/// use cardadmin::{cm, AdminKey};
///
/// let key = AdminKey::from_bytes([0; 24]);
/// let err = cm::diversified_key(&key, "not-a-guid").unwrap_err();
/// assert!(err.to_string().starts_with("cardid: "));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum CmError {
    /// The `cardid` parameter is not a GUID.
    CardId(ParseError),
    /// The `challenge` parameter is not the base64 of 8 bytes.
    Challenge(ParseError),
    /// The `challenge` parameter is not one block of the configured key's cipher (8 bytes for
    /// Triple-DES, 16 for AES): the error names the length the key needs.
    ChallengeLength(KeyError),
    /// No PIN could be generated: the random generator is broken.
    Pin(GenerateError),
}

impl fmt::Display for CmError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::CardId(err) => write!(f, "cardid: {err}"),
            Self::Challenge(err) => write!(f, "challenge: {err}"),
            Self::ChallengeLength(err) => write!(f, "challenge: {err}"),
            Self::Pin(err) => write!(f, "server-proposed PIN: {err}"),
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
