//! Reading a request target as ASP.NET on .NET reads it: routes, query keys, percent-encoding.

use cardadmin::cm::CmError;
use cardadmin::master::CmacSigner;
use cardadmin::{CardId, Challenge, KeyCheckValue, KeyError, ParseError};

use crate::percent::{decode, Value};
use crate::route::route;
use crate::{AuditRecord, Endpoint, Guid, KeyRole, Profile, RequestError, MAX_TARGET_LEN};

/// A request read and checked by [`parse_request`], before any key is used: what a server
/// needs to decide whether this caller may ask (the endpoint, the request ID, the smart card
/// ID, the card ID, `diversified`), and every parameter the answer needs, already validated.
///
/// It holds the challenge (public data) but no key and no PIN. Its `Debug` shows the IDs and
/// the endpoint.
///
/// ```
/// let parsed = cardadmin_mimcm::parse_request(
///     "/certificatemanagement/api/v1.0/requests/a9b4b42c-cc50-4c9b-89d1-bbc0bcd5a099\
///      /smartcards/17cf063d-e337-4aa9-a822-346554ddd3c9/authenticationresponse\
///      ?cardid=bc88f13f-83ba-4037-8262-46eba1291c6e&challenge=1hFD%2Bcz%2F0so%3D&diversified=False",
/// )?;
/// assert_eq!(parsed.endpoint(), cardadmin_mimcm::Endpoint::AuthenticationResponse);
/// assert_eq!(
///     parsed.request_id().map(|id| id.to_string()).as_deref(),
///     Some("a9b4b42c-cc50-4c9b-89d1-bbc0bcd5a099"),
/// );
/// assert_eq!(parsed.smart_card_id().to_string(), "17cf063d-e337-4aa9-a822-346554ddd3c9");
/// assert_eq!(
///     parsed.card_id().map(|id| id.to_string()).as_deref(),
///     Some("bc88f13f-83ba-4037-8262-46eba1291c6e"),
/// );
/// assert_eq!(parsed.diversified(), Some(false));
/// # Ok::<(), cardadmin_mimcm::RequestError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParsedRequest {
    pub(crate) endpoint: Endpoint,
    pub(crate) request_id: Option<Guid>,
    pub(crate) smart_card_id: Guid,
    pub(crate) card_id: Option<CardId>,
    pub(crate) challenge: Option<Challenge>,
    pub(crate) diversified: Option<bool>,
}

impl ParsedRequest {
    /// Which endpoint was asked.
    ///
    /// ```
    /// let parsed = cardadmin_mimcm::parse_request("/CertificateManagement/api/v1.0/requests/a9b4b42c-cc50-4c9b-89d1-bbc0bcd5a099/smartcards/17cf063d-e337-4aa9-a822-346554ddd3c9/diversifiedkey?cardid=bc88f13f-83ba-4037-8262-46eba1291c6e")?;
    /// assert_eq!(parsed.endpoint(), cardadmin_mimcm::Endpoint::DiversifiedKey);
    /// # Ok::<(), cardadmin_mimcm::RequestError>(())
    /// ```
    pub fn endpoint(&self) -> Endpoint {
        self.endpoint
    }

    /// The path's request ID (`{reqid}`); `None` for `serverproposedpin`, whose URL names no
    /// request.
    ///
    /// ```
    /// let parsed = cardadmin_mimcm::parse_request("/CertificateManagement/api/v1.0/smartcards/C6BAD97C-F97F-4920-8947-BE980C98C6B5/serverproposedpin")?;
    /// assert_eq!(parsed.request_id(), None);
    /// # Ok::<(), cardadmin_mimcm::RequestError>(())
    /// ```
    pub fn request_id(&self) -> Option<Guid> {
        self.request_id
    }

    /// The path's smart card ID: `{scid}`, or `{id}` for `serverproposedpin`.
    ///
    /// ```
    /// let parsed = cardadmin_mimcm::parse_request("/CertificateManagement/api/v1.0/smartcards/C6BAD97C-F97F-4920-8947-BE980C98C6B5/serverproposedpin")?;
    /// assert_eq!(parsed.smart_card_id(), cardadmin_mimcm::Guid::parse("c6bad97c-f97f-4920-8947-be980c98c6b5")?);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn smart_card_id(&self) -> Guid {
        self.smart_card_id
    }

    /// The query's `cardid`: always there for `authenticationresponse` and `diversifiedkey`,
    /// optional for `serverproposedpin`.
    ///
    /// ```
    /// let parsed = cardadmin_mimcm::parse_request("/CertificateManagement/api/v1.0/smartcards/C6BAD97C-F97F-4920-8947-BE980C98C6B5/serverproposedpin?cardid=bc88f13f-83ba-4037-8262-46eba1291c6e")?;
    /// assert_eq!(parsed.card_id(), Some("bc88f13f-83ba-4037-8262-46eba1291c6e".parse()?));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn card_id(&self) -> Option<CardId> {
        self.card_id
    }

    /// Whether the card's diversified key is asked for: the `diversified` parameter of
    /// `authenticationresponse`; always `Some(true)` for `diversifiedkey` (its answer is the
    /// diversified key); `None` for `serverproposedpin`, which uses no key.
    ///
    /// ```
    /// let parsed = cardadmin_mimcm::parse_request("/CertificateManagement/api/v1.0/requests/a9b4b42c-cc50-4c9b-89d1-bbc0bcd5a099/smartcards/17cf063d-e337-4aa9-a822-346554ddd3c9/diversifiedkey?cardid=bc88f13f-83ba-4037-8262-46eba1291c6e")?;
    /// assert_eq!(parsed.diversified(), Some(true));
    /// # Ok::<(), cardadmin_mimcm::RequestError>(())
    /// ```
    pub fn diversified(&self) -> Option<bool> {
        self.diversified
    }

    /// The audit record of this request under `profile`, as [`answer`](crate::answer) will return it, made
    /// before any key is used: which key role will answer, that key's check value, and the
    /// status the answer will have. A server writes it down (and flushes it) first, then calls
    /// [`answer`](crate::answer); the two records are equal.
    ///
    /// Everything that can fail before a key is used is decided here, including a challenge
    /// that is not one block of the answering key's cipher (a 400 with no key role: no key
    /// answers it). What cannot be known in advance, a random generator that fails while
    /// proposing a PIN (which uses no key), makes [`answer`](crate::answer)'s record differ in its status.
    ///
    /// ```
    /// # #[cfg(feature = "getrandom")]
    /// # {
    /// use cardadmin::{AdminKey, MasterKey, PinPolicy};
    /// use cardadmin::rng::OsRng;
    ///
    /// let (key, policy) = (AdminKey::from_bytes([0; 24]), PinPolicy::default());
    /// let master = MasterKey::from_hex("00112233445566778899AABBCCDDEEFF0102030405060708")?;
    /// let profile = cardadmin_mimcm::Profile::new(&key, Some(&master), &policy)?;
    /// let parsed = cardadmin_mimcm::parse_request("/CertificateManagement/api/v1.0/requests/a9b4b42c-cc50-4c9b-89d1-bbc0bcd5a099/smartcards/17cf063d-e337-4aa9-a822-346554ddd3c9/diversifiedkey?cardid=bc88f13f-83ba-4037-8262-46eba1291c6e")?;
    /// let before = parsed.audit(&profile);
    /// assert_eq!(before.key_role(), Some(cardadmin_mimcm::KeyRole::CardKey));
    /// assert_eq!(before.status(), 200);
    /// let (reply, after) = cardadmin_mimcm::answer(&parsed, &profile, &mut OsRng);
    /// assert_eq!(reply.status(), 200);
    /// assert_eq!(before, after);
    /// # }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn audit<M: CmacSigner + ?Sized>(&self, profile: &Profile<'_, M>) -> AuditRecord {
        match self.plan(profile) {
            Ok(Some(key)) => self.record(Some(key), 200),
            Ok(None) => self.record(None, self.status_without_key(profile)),
            Err(error) => self.record(None, error.status()),
        }
    }

    /// The key role that will answer and the check value of the key held for it, or `None`
    /// when no key is used; an error for a card key without a master, a key store that cannot
    /// give its check value, or a challenge the answering key cannot take. The master's check
    /// value is the one [`Profile::new`] asked for: no key store is asked here.
    pub(crate) fn plan<M: CmacSigner + ?Sized>(
        &self,
        profile: &Profile<'_, M>,
    ) -> Result<Option<(KeyRole, KeyCheckValue)>, RequestError> {
        let role = match self.endpoint {
            Endpoint::AuthenticationResponse if self.diversified == Some(true) => KeyRole::CardKey,
            Endpoint::AuthenticationResponse => KeyRole::InitialKey,
            Endpoint::DiversifiedKey => KeyRole::CardKey,
            Endpoint::ServerProposedPin => return Ok(None),
        };
        let (algorithm, check_value) = match role {
            KeyRole::InitialKey => (
                profile.initial_key.algorithm(),
                profile.initial_key.check_value(),
            ),
            KeyRole::CardKey => {
                let (Some(master), Some(check_value)) =
                    (profile.master, profile.master_check_value)
                else {
                    return Err(CmError::NoDiversificationKey.into());
                };
                // A card key has its master's algorithm (AN10922 keeps the size).
                (master.algorithm(), check_value)
            }
        };
        if let Some(challenge) = &self.challenge {
            let found = challenge.as_bytes().len();
            if found != algorithm.block_len() {
                return Err(CmError::ChallengeLength(KeyError::ChallengeLength {
                    algorithm,
                    expected: algorithm.block_len(),
                    found,
                })
                .into());
            }
        }
        Ok(Some((role, check_value)))
    }

    /// 204 or 200 for a request no key answers (a proposed PIN).
    pub(crate) fn status_without_key<M: ?Sized>(&self, profile: &Profile<'_, M>) -> u16 {
        if self.endpoint == Endpoint::ServerProposedPin && profile.pin_policy.server_generates() {
            200
        } else {
            204
        }
    }

    pub(crate) fn record(&self, key: Option<(KeyRole, KeyCheckValue)>, status: u16) -> AuditRecord {
        AuditRecord {
            endpoint: Some(self.endpoint),
            request_id: self.request_id,
            smart_card_id: Some(self.smart_card_id),
            card_id: self.card_id,
            diversified: self.diversified,
            key_role: key.map(|(role, _)| role),
            key_check_value: key.map(|(_, check_value)| check_value),
            status,
        }
    }
}

/// Reads a request target into a [`ParsedRequest`], using no key: the route, its GUIDs and
/// every query parameter the endpoint reads, by the rules of [`handle_request`](crate::handle_request) and in its
/// order. An error is a [`RequestError`](crate::RequestError) whose [`Reply::from_error`](crate::Reply::from_error) is the answer.
///
/// A server that decides who may ask calls this, checks the parsed IDs against its own
/// rules (refusing with [`RequestError::Forbidden`], 403, when they fail), records
/// [`ParsedRequest::audit`], and only then calls [`answer`](crate::answer). [`handle_request`](crate::handle_request) is
/// `parse_request` followed by [`answer`](crate::answer).
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
/// let target = "/CertificateManagement/api/v1.0/requests/a9b4b42c-cc50-4c9b-89d1-bbc0bcd5a099/smartcards/17cf063d-e337-4aa9-a822-346554ddd3c9/diversifiedkey?cardid=bc88f13f-83ba-4037-8262-46eba1291c6e";
/// let parsed = cardadmin_mimcm::parse_request(target)?;
///
/// // The server's rule: this caller has no such request.
/// let reply = cardadmin_mimcm::Reply::from_error(RequestError::Forbidden { rule: "the request is not registered" });
/// assert_eq!(reply.status(), 403);
/// assert_eq!(reply.body(), r#"{"Message":"forbidden: the request is not registered"}"#);
///
/// // Or it may ask.
/// let (reply, _record) = cardadmin_mimcm::answer(&parsed, &profile, &mut OsRng);
/// assert_eq!(reply.status(), 200);
///
/// // A malformed request never gets that far.
/// assert_eq!(cardadmin_mimcm::parse_request("/nowhere").unwrap_err(), RequestError::NotFound);
/// # }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn parse_request(target: &str) -> Result<ParsedRequest, RequestError> {
    if target.len() > MAX_TARGET_LEN {
        return Err(RequestError::TooLong {
            limit: MAX_TARGET_LEN,
            found: target.len(),
        });
    }
    // A fragment is never sent by a client; drop one rather than read it as query.
    let target = target.split_once('#').map_or(target, |(before, _)| before);
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let (endpoint, request_id, smart_card_id) = route(path)?;
    let query = Query::parse(query)?;
    let mut parsed = ParsedRequest {
        endpoint,
        request_id,
        smart_card_id,
        card_id: None,
        challenge: None,
        diversified: None,
    };
    match endpoint {
        Endpoint::AuthenticationResponse => {
            parsed.card_id = Some(card_id(query.cardid.as_ref())?.ok_or(
                RequestError::Missing {
                    parameter: "cardid",
                },
            )?);
            parsed.challenge = Some(challenge(query.challenge.as_ref())?.ok_or(
                RequestError::Missing {
                    parameter: "challenge",
                },
            )?);
            parsed.diversified = Some(diversified(query.diversified.as_ref())?.ok_or(
                RequestError::Missing {
                    parameter: "diversified",
                },
            )?);
            check_atr(query.atr.as_ref())?;
        }
        Endpoint::DiversifiedKey => {
            parsed.card_id = Some(card_id(query.cardid.as_ref())?.ok_or(
                RequestError::Missing {
                    parameter: "cardid",
                },
            )?);
            parsed.diversified = Some(true);
            check_atr(query.atr.as_ref())?;
        }
        Endpoint::ServerProposedPin => {
            parsed.card_id = card_id(query.cardid.as_ref())?;
            // Checked when present, not used: the PIN does not depend on it.
            challenge(query.challenge.as_ref())?;
            check_atr(query.atr.as_ref())?;
        }
    }
    Ok(parsed)
}

/// The query parameters the endpoints read, each at most once.
#[derive(Debug, Default)]
pub(crate) struct Query {
    pub(crate) cardid: Option<Value>,
    pub(crate) challenge: Option<Value>,
    pub(crate) diversified: Option<Value>,
    pub(crate) atr: Option<Value>,
}

impl Query {
    pub(crate) fn parse(query: &str) -> Result<Self, RequestError> {
        let mut parsed = Self::default();
        for pair in query.split('&').filter(|pair| !pair.is_empty()) {
            let (raw_key, raw_value) = pair.split_once('=').unwrap_or((pair, ""));
            let key = decode(raw_key, true, "query string")?;
            let (parameter, slot) = match key.text.to_ascii_lowercase().as_str() {
                "cardid" => ("cardid", &mut parsed.cardid),
                "challenge" => ("challenge", &mut parsed.challenge),
                "diversified" => ("diversified", &mut parsed.diversified),
                "atr" => ("atr", &mut parsed.atr),
                _ => {
                    // Unknown parameters are ignored, once their encoding is known to be sound.
                    decode(raw_value, true, "query string")?;
                    continue;
                }
            };
            if slot.is_some() {
                return Err(RequestError::Duplicate { parameter });
            }
            *slot = Some(decode(raw_value, true, parameter)?);
        }
        Ok(parsed)
    }
}

pub(crate) fn card_id(value: Option<&Value>) -> Result<Option<CardId>, RequestError> {
    value
        .map(|value| CardId::parse(&value.text).map_err(|e| RequestError::Core(CmError::CardId(e))))
        .transpose()
}

pub(crate) fn challenge(value: Option<&Value>) -> Result<Option<Challenge>, RequestError> {
    let Some(value) = value else {
        return Ok(None);
    };
    if let Some(position) = value.first_plus {
        return Err(RequestError::UnencodedPlus {
            parameter: "challenge",
            position,
        });
    }
    Challenge::from_base64(&value.text)
        .map(Some)
        .map_err(|e| RequestError::Core(CmError::Challenge(e)))
}

/// .NET `Boolean.Parse`: `True` or `False`, any case, surrounding whitespace ignored. (.NET
/// also trims NUL characters; they never get here.)
pub(crate) fn diversified(value: Option<&Value>) -> Result<Option<bool>, RequestError> {
    let Some(value) = value else {
        return Ok(None);
    };
    let text = value.text.trim();
    if text.eq_ignore_ascii_case("true") {
        Ok(Some(true))
    } else if text.eq_ignore_ascii_case("false") {
        Ok(Some(false))
    } else {
        Err(RequestError::Diversified {
            found: value.text.chars().count(),
        })
    }
}

/// The longest ATR, ISO/IEC 7816-3: 33 bytes.
pub(crate) const MAX_ATR_LEN: usize = 33;

/// `atr`, when present and not empty: an even number of hex digits, 1 to 33 bytes.
pub(crate) fn check_atr(value: Option<&Value>) -> Result<(), RequestError> {
    const WHAT: &str = "value";
    let Some(value) = value.filter(|value| !value.text.is_empty()) else {
        return Ok(());
    };
    let mut length = 0usize;
    for (position, c) in value.text.chars().enumerate() {
        if !c.is_ascii_hexdigit() {
            return Err(RequestError::Atr(ParseError::InvalidCharacter {
                what: WHAT,
                position,
                found: c,
                expected: "a hex digit",
            }));
        }
        length += 1;
    }
    if length % 2 != 0 || length > 2 * MAX_ATR_LEN {
        return Err(RequestError::Atr(ParseError::Length {
            what: WHAT,
            expected: "an even number of hex digits, at most 66,",
            found: length,
        }));
    }
    Ok(())
}
