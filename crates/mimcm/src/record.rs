//! What a server writes to its audit trail about a request: which key role answered it and for which card.

use core::fmt;

use crate::{Endpoint, Guid, ParsedRequest, RequestError};
use cardadmin::{CardId, KeyCheckValue};

/// Which key answered a request, by role.
///
/// ```
/// assert_eq!(cardadmin_mimcm::KeyRole::CardKey.as_str(), "card_key");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum KeyRole {
    /// The profile's initial admin key (what blank cards ship with), which answers
    /// `diversified=false`.
    InitialKey,
    /// The card's own key, derived (AN10922) from the diversification master for this card
    /// ID: `diversified=true` and `diversifiedkey`.
    CardKey,
}

impl KeyRole {
    /// `"initial_key"` or `"card_key"`: the audit trail's spelling.
    ///
    /// ```
    /// assert_eq!(cardadmin_mimcm::KeyRole::InitialKey.as_str(), "initial_key");
    /// ```
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::InitialKey => "initial_key",
            Self::CardKey => "card_key",
        }
    }
}

impl fmt::Display for KeyRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a request asked and which key answered it, for an audit trail: never key bytes, never
/// a PIN, never the challenge or the response. No time and no caller either (the core has no
/// clock and does not know who asked): the server adds both.
///
/// `key_check_value` identifies the key the server holds for the role: the initial admin key's
/// check value for [`KeyRole::InitialKey`] (`AdminKey::check_value`, the first 3 bytes of
/// `E_K(0)`), the diversification master's for [`KeyRole::CardKey`]
/// (`master::check_value`, ANSI X9.24-1:2017's CMAC method, asked once by [`Profile::new`](crate::Profile::new)).
/// A card key is not computed before its use is recorded, so the record names the master it
/// comes from and the card ID it is derived for.
///
/// ```
/// # #[cfg(feature = "getrandom")]
/// # {
/// use cardadmin::{AdminKey, CmError, MasterKey, PinPolicy};
/// use cardadmin::rng::OsRng;
///
/// let (key, policy) = (AdminKey::from_bytes([0; 24]), PinPolicy::default());
/// let master = MasterKey::from_hex("00112233445566778899AABBCCDDEEFF0102030405060708")?;
/// let profile = cardadmin_mimcm::Profile::new(&key, Some(&master), &policy)?;
/// let parsed = cardadmin_mimcm::parse_request("/CertificateManagement/api/v1.0/requests/a9b4b42c-cc50-4c9b-89d1-bbc0bcd5a099/smartcards/17cf063d-e337-4aa9-a822-346554ddd3c9/authenticationresponse?cardid=bc88f13f-83ba-4037-8262-46eba1291c6e&challenge=1hFD%2Bcz%2F0so%3D&diversified=False")?;
/// let (reply, record) = cardadmin_mimcm::answer(&parsed, &profile, &mut OsRng);
/// assert_eq!(reply.body(), r#""F0Zudm4wPLY=""#);
/// assert_eq!(record.endpoint(), Some(cardadmin_mimcm::Endpoint::AuthenticationResponse));
/// assert_eq!(record.key_role(), Some(cardadmin_mimcm::KeyRole::InitialKey));
/// assert_eq!(record.key_check_value().map(|kcv| kcv.to_string()).as_deref(), Some("8CA64D"));
/// assert_eq!(record.status(), 200);
///
/// // A request refused before it was understood, or by the server's own rules.
/// let refused = cardadmin_mimcm::AuditRecord::refused(Some(&parsed), RequestError::Forbidden { rule: "the caller is not the request's operator" });
/// assert_eq!(refused.status(), 403);
/// assert_eq!(refused.key_role(), None);
/// # }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AuditRecord {
    pub(crate) endpoint: Option<Endpoint>,
    pub(crate) request_id: Option<Guid>,
    pub(crate) smart_card_id: Option<Guid>,
    pub(crate) card_id: Option<CardId>,
    pub(crate) diversified: Option<bool>,
    pub(crate) key_role: Option<KeyRole>,
    pub(crate) key_check_value: Option<KeyCheckValue>,
    pub(crate) status: u16,
}

impl AuditRecord {
    /// The record of a request answered with `error` and no key: one that did not parse
    /// (`parsed` is `None`), or one a server refused ([`RequestError::Forbidden`],
    /// [`RequestError::RateLimited`]).
    ///
    /// ```
    /// use cardadmin_mimcm::RequestError;
    ///
    /// let record = cardadmin_mimcm::AuditRecord::refused(None, RequestError::NotFound);
    /// assert_eq!((record.status(), record.endpoint()), (404, None));
    /// ```
    pub fn refused(parsed: Option<&ParsedRequest>, error: RequestError) -> Self {
        Self {
            endpoint: parsed.map(|parsed| parsed.endpoint),
            request_id: parsed.and_then(|parsed| parsed.request_id),
            smart_card_id: parsed.map(|parsed| parsed.smart_card_id),
            card_id: parsed.and_then(|parsed| parsed.card_id),
            diversified: parsed.and_then(|parsed| parsed.diversified),
            key_role: None,
            key_check_value: None,
            status: error.status(),
        }
    }

    /// The endpoint asked, if the request got that far.
    ///
    /// ```
    /// use cardadmin_mimcm::RequestError;
    /// assert_eq!(cardadmin_mimcm::AuditRecord::refused(None, RequestError::NotFound).endpoint(), None);
    /// ```
    pub fn endpoint(&self) -> Option<Endpoint> {
        self.endpoint
    }

    /// The path's request ID.
    ///
    /// ```
    /// use cardadmin_mimcm::RequestError;
    /// assert_eq!(cardadmin_mimcm::AuditRecord::refused(None, RequestError::NotFound).request_id(), None);
    /// ```
    pub fn request_id(&self) -> Option<Guid> {
        self.request_id
    }

    /// The path's smart card ID.
    ///
    /// ```
    /// use cardadmin_mimcm::RequestError;
    /// assert_eq!(cardadmin_mimcm::AuditRecord::refused(None, RequestError::NotFound).smart_card_id(), None);
    /// ```
    pub fn smart_card_id(&self) -> Option<Guid> {
        self.smart_card_id
    }

    /// The query's card ID.
    ///
    /// ```
    /// use cardadmin_mimcm::RequestError;
    /// assert_eq!(cardadmin_mimcm::AuditRecord::refused(None, RequestError::NotFound).card_id(), None);
    /// ```
    pub fn card_id(&self) -> Option<CardId> {
        self.card_id
    }

    /// As [`ParsedRequest::diversified`].
    ///
    /// ```
    /// use cardadmin_mimcm::RequestError;
    /// assert_eq!(cardadmin_mimcm::AuditRecord::refused(None, RequestError::NotFound).diversified(), None);
    /// ```
    pub fn diversified(&self) -> Option<bool> {
        self.diversified
    }

    /// The key role that answered, `None` when no key was used.
    ///
    /// ```
    /// use cardadmin_mimcm::RequestError;
    /// assert_eq!(cardadmin_mimcm::AuditRecord::refused(None, RequestError::NotFound).key_role(), None);
    /// ```
    pub fn key_role(&self) -> Option<KeyRole> {
        self.key_role
    }

    /// The check value of the key held for [`key_role`](Self::key_role).
    ///
    /// ```
    /// use cardadmin_mimcm::RequestError;
    /// assert_eq!(cardadmin_mimcm::AuditRecord::refused(None, RequestError::NotFound).key_check_value(), None);
    /// ```
    pub fn key_check_value(&self) -> Option<KeyCheckValue> {
        self.key_check_value
    }

    /// The HTTP status of the answer.
    ///
    /// ```
    /// use cardadmin_mimcm::RequestError;
    /// assert_eq!(cardadmin_mimcm::AuditRecord::refused(None, RequestError::NotFound).status(), 404);
    /// ```
    pub fn status(&self) -> u16 {
        self.status
    }
}
