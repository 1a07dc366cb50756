//! The request-level facade: a whole MIM CM request target in, status, content type and
//! JSON body out. No I/O and no HTTP crate: the server hands over the target it received and
//! writes back what comes out.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt::{self, Write as _};

use rand_core::{CryptoRng, RngCore};
use zeroize::Zeroizing;

use super::{CmError, RolesError};
use crate::card_id::{parse_guid, CardId};
use crate::challenge::Challenge;
use crate::error::ParseError;
use crate::key::AdminKey;
use crate::master::{CmacSigner, MasterKey};
use crate::pin::PinPolicy;

/// The longest request target (path and query, still percent-encoded) that
/// [`handle_request`] reads, in bytes; a longer one is a 414 ([`CmError::TooLong`]). The same
/// as IIS's default `maxUrl`, and far more than any MIM CM request needs (about 200 bytes).
pub const MAX_TARGET_LEN: usize = 4096;

/// The content type of every body [`handle_request`] writes: JSON in UTF-8, as MIM CM's
/// ASP.NET Web API sends it.
pub const CONTENT_TYPE: &str = "application/json; charset=utf-8";

/// The path prefix under which MIM CM serves its REST API, matched without regard to case.
pub const PREFIX: &str = "/CertificateManagement/api/v1.0";

/// The configuration a request is answered from: the profile's two keys, in their two roles,
/// and its PIN policy.
///
/// - The **initial admin key** ([`AdminKey`]) answers `authenticationresponse` with
///   `diversified=false`: blank cards, before their own key is written.
/// - The optional **master key** (`M`, a [`CmacSigner`]: an in-memory [`MasterKey`] by
///   default, or a key store) answers `diversified=true` and `diversifiedkey`, through the card
///   key it derives. It never answers a challenge itself. Without one, those requests are
///   answered [`CmError::NoDiversificationKey`] (400), never with the initial key.
///
/// [`Profile::new`] refuses the same key in both roles ([`check_roles`](super::check_roles)).
///
/// ```
/// use cardadmin::{cm, AdminKey, MasterKey, PinPolicy};
///
/// let initial_key = AdminKey::from_bytes([0; 24]);
/// let master = MasterKey::from_hex("00112233445566778899aabbccddeeff0102030405060708")?;
/// let policy = PinPolicy::default();
/// let profile = cm::Profile::new(&initial_key, Some(&master), &policy)?;
/// assert!(profile.master().is_some());
///
/// // The same key in both roles is refused, with a message that says why.
/// let same = MasterKey::from_hex(&"0".repeat(48))?;
/// assert!(cm::Profile::new(&initial_key, Some(&same), &policy).is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Profile<'a, M: ?Sized = MasterKey> {
    initial_key: &'a AdminKey,
    master: Option<&'a M>,
    pin_policy: &'a PinPolicy,
}

impl<M: ?Sized> Clone for Profile<'_, M> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<M: ?Sized> Copy for Profile<'_, M> {}

impl<M: CmacSigner + ?Sized> fmt::Debug for Profile<'_, M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Profile")
            .field("initial_key", self.initial_key)
            .field(
                "master",
                // The algorithm only: a key store's own Debug may say more than a log needs.
                &self.master.map(|master| master.algorithm()),
            )
            .field("pin_policy", self.pin_policy)
            .finish()
    }
}

impl<'a> Profile<'a, MasterKey> {
    /// A profile with no diversification key: it answers `diversified=false` with the initial
    /// key, and `diversified=true` and `diversifiedkey` with
    /// [`CmError::NoDiversificationKey`].
    ///
    /// ```
    /// use cardadmin::{cm, AdminKey, PinPolicy};
    ///
    /// let (initial_key, policy) = (AdminKey::from_bytes([0; 24]), PinPolicy::default());
    /// let profile = cm::Profile::without_master(&initial_key, &policy);
    /// assert!(profile.master().is_none());
    /// ```
    pub fn without_master(initial_key: &'a AdminKey, pin_policy: &'a PinPolicy) -> Self {
        Self {
            initial_key,
            master: None,
            pin_policy,
        }
    }
}

impl<'a, M: CmacSigner + ?Sized> Profile<'a, M> {
    /// A profile with this initial admin key, optional master key and PIN policy.
    ///
    /// # Errors
    ///
    /// [`RolesError::SameKey`] when the two are the same key (compared by their CMAC check
    /// values, so a key store's master is compared without its bytes; see
    /// [`check_roles`](super::check_roles)), [`RolesError::KeyStore`] when the key store fails
    /// to give its check value.
    ///
    /// ```
    /// use cardadmin::{cm, AdminKey, MasterKey, PinPolicy};
    ///
    /// let initial_key = AdminKey::from_bytes([0; 24]);
    /// let master = MasterKey::from_hex("00112233445566778899aabbccddeeff0102030405060708")?;
    /// let policy = PinPolicy::default();
    /// let profile = cm::Profile::new(&initial_key, Some(&master), &policy)?;
    /// assert_eq!(profile.initial_key().check_value(), initial_key.check_value());
    ///
    /// // No master: name the type, as `None` alone does not say which.
    /// let plain = cm::Profile::new(&initial_key, None::<&MasterKey>, &policy)?;
    /// assert!(plain.master().is_none());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn new(
        initial_key: &'a AdminKey,
        master: Option<&'a M>,
        pin_policy: &'a PinPolicy,
    ) -> Result<Self, RolesError<M::Error>> {
        if let Some(master) = master {
            super::check_roles(initial_key, master)?;
        }
        Ok(Self {
            initial_key,
            master,
            pin_policy,
        })
    }

    /// The initial admin key, which answers `diversified=false`.
    ///
    /// ```
    /// use cardadmin::{cm, AdminKey, PinPolicy};
    ///
    /// let (key, policy) = (AdminKey::from_bytes([0; 24]), PinPolicy::default());
    /// let profile = cm::Profile::without_master(&key, &policy);
    /// assert_eq!(profile.initial_key().check_value(), key.check_value());
    /// ```
    pub fn initial_key(&self) -> &'a AdminKey {
        self.initial_key
    }

    /// The master (diversification) key, if the profile has one.
    ///
    /// ```
    /// use cardadmin::{cm, AdminKey, MasterKey, PinPolicy};
    ///
    /// let (key, policy) = (AdminKey::from_bytes([0; 24]), PinPolicy::default());
    /// let master = MasterKey::from_hex("00112233445566778899aabbccddeeff0102030405060708")?;
    /// let profile = cm::Profile::new(&key, Some(&master), &policy)?;
    /// assert_eq!(profile.master().map(MasterKey::check_value), Some(master.check_value()));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn master(&self) -> Option<&'a M> {
        self.master
    }

    /// The PIN policy.
    ///
    /// ```
    /// use cardadmin::{cm, AdminKey, PinPolicy};
    ///
    /// let (key, policy) = (AdminKey::from_bytes([0; 24]), PinPolicy::default());
    /// assert_eq!(cm::Profile::without_master(&key, &policy).pin_policy(), &policy);
    /// ```
    pub fn pin_policy(&self) -> &'a PinPolicy {
        self.pin_policy
    }
}

/// The answer to a request: HTTP status, content type and body.
///
/// The body of a 200 is a JSON string (`"F0Zudm4wPLY="`, with the quotes); of an error, a
/// JSON object with a `Message` (the [`CmError`] text, as ASP.NET Web API names it) and,
/// when one parameter is at fault, its name in `Parameter`. A 204 has no body and no
/// content type. The body may hold a diversified key or a PIN, so it is zeroized on drop and
/// `Debug` shows only its length.
///
/// ```
/// # #[cfg(feature = "getrandom")]
/// # {
/// use cardadmin::{cm, AdminKey, PinPolicy};
/// use cardadmin::rng::OsRng;
///
/// let (key, policy) = (AdminKey::from_bytes([0; 24]), PinPolicy::default());
/// let profile = cm::Profile::without_master(&key, &policy);
/// let reply = cm::handle_request(&profile, "/nowhere", &mut OsRng);
/// assert_eq!(reply.status(), 404);
/// assert_eq!(reply.content_type(), Some("application/json; charset=utf-8"));
/// assert!(reply.body().starts_with(r#"{"Message":"request target: no MIM CM endpoint here"#));
/// assert_eq!(reply.error(), Some(cm::CmError::NotFound));
/// # }
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Reply {
    status: u16,
    body: Zeroizing<String>,
    error: Option<CmError>,
}

impl Reply {
    /// The reply for an error: [`CmError::status`], and a JSON body with its message.
    ///
    /// ```
    /// use cardadmin::{cm, CmError};
    ///
    /// let reply = cm::Reply::from_error(CmError::Missing { parameter: "cardid" });
    /// assert_eq!(reply.status(), 400);
    /// assert_eq!(
    ///     reply.body(),
    ///     r#"{"Message":"cardid: required query parameter is missing","Parameter":"cardid"}"#,
    /// );
    /// ```
    pub fn from_error(error: CmError) -> Self {
        let mut body = Zeroizing::new(String::new());
        // Writing to a `String` cannot fail.
        let _ = write_error_body(&mut body, &error);
        Self {
            status: error.status(),
            body,
            error: Some(error),
        }
    }

    fn ok(text: &str) -> Self {
        let mut body = Zeroizing::new(String::with_capacity(text.len() + 2));
        let _ = write_json_string(&mut body, text);
        Self {
            status: 200,
            body,
            error: None,
        }
    }

    fn no_content() -> Self {
        Self {
            status: 204,
            body: Zeroizing::new(String::new()),
            error: None,
        }
    }

    /// The HTTP status code: 200, 204, or the error's [`CmError::status`].
    ///
    /// ```
    /// let reply = cardadmin::cm::Reply::from_error(cardadmin::CmError::NotFound);
    /// assert_eq!(reply.status(), 404);
    /// ```
    pub fn status(&self) -> u16 {
        self.status
    }

    /// The `Content-Type` to send: [`CONTENT_TYPE`], or `None` for a 204.
    ///
    /// ```
    /// let reply = cardadmin::cm::Reply::from_error(cardadmin::CmError::NotFound);
    /// assert_eq!(reply.content_type(), Some(cardadmin::cm::CONTENT_TYPE));
    /// ```
    pub fn content_type(&self) -> Option<&'static str> {
        if self.status == 204 {
            None
        } else {
            Some(CONTENT_TYPE)
        }
    }

    /// The body (empty for a 204). It can be a secret (a PIN, a diversified key): do not log
    /// it.
    ///
    /// ```
    /// let reply = cardadmin::cm::Reply::from_error(cardadmin::CmError::NotFound);
    /// assert!(reply.body().starts_with('{'));
    /// ```
    pub fn body(&self) -> &str {
        &self.body
    }

    /// The body, to hand to the HTTP layer; still zeroized when dropped.
    ///
    /// ```
    /// let reply = cardadmin::cm::Reply::from_error(cardadmin::CmError::NotFound);
    /// let body = reply.into_body();
    /// assert!(body.ends_with('}'));
    /// ```
    pub fn into_body(self) -> Zeroizing<String> {
        self.body
    }

    /// The error answered, if the request failed: safe to log (it holds no key bytes and no
    /// PIN characters).
    ///
    /// ```
    /// let reply = cardadmin::cm::Reply::from_error(cardadmin::CmError::NotFound);
    /// assert_eq!(reply.error(), Some(cardadmin::CmError::NotFound));
    /// ```
    pub fn error(&self) -> Option<CmError> {
        self.error
    }
}

impl fmt::Debug for Reply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reply")
            .field("status", &self.status)
            .field("body_len", &self.body.len())
            .field("error", &self.error)
            .finish()
    }
}

impl From<CmError> for Reply {
    fn from(error: CmError) -> Self {
        Self::from_error(error)
    }
}

/// Answers one MIM CM request.
///
/// `target` is the request target as the server received it: the path and, after a `?`, the
/// raw query, both still percent-encoded (in axum or hyper, `uri.path_and_query()`). The
/// request's method is the server's business: MIM CM's endpoints are all `GET`.
///
/// Routes, under [`PREFIX`] (`/CertificateManagement/api/v1.0`), matched without regard to
/// case, with an optional trailing `/`:
///
/// | route | query | 200 body | else |
/// |---|---|---|---|
/// | `/requests/{reqid}/smartcards/{scid}/authenticationresponse` | `cardid`, `challenge`, `diversified` required; `atr` optional | the response, `"F0Zudm4wPLY="` | |
/// | `/requests/{reqid}/smartcards/{scid}/diversifiedkey` | `cardid` required; `atr` optional | the card's admin key in base64, derived from the master key | 400 when the profile has no master key |
/// | `/smartcards/{id}/serverproposedpin` | `cardid`, `challenge`, `atr` all optional, checked when present | the PIN | 204 when the policy leaves the PIN to the user |
///
/// The rules, as MIM CM (ASP.NET on .NET) reads a request, and where this is stricter:
///
/// - Path GUIDs (`reqid`, `scid`, `id`) and `cardid` are read as `Guid.Parse` reads them
///   ([`CardId::parse`]); a bad one is a 400 naming it.
/// - Query keys are matched without regard to ASCII case; unknown keys are ignored; a known
///   key given twice is a 400 ([`CmError::Duplicate`]), even with the same value.
/// - Values are percent-decoded, and `+` means a space, as in any query string. A `+` in
///   `challenge` therefore was not meant as a space: a 400 saying to send `%2B`
///   ([`CmError::UnencodedPlus`]). Stricter than .NET: a `%` without two hex digits, bytes
///   that are not UTF-8 after decoding, and NUL characters are 400s instead of being passed
///   on or replaced.
/// - `diversified` is read by .NET `Boolean.Parse` rules: `True` or `False` in any case, with
///   surrounding whitespace; anything else is a 400 naming `diversified`.
/// - `atr`, when present and not empty, must be hex: an even number of digits, 1 to 33 bytes.
///   It is checked, not used. An empty `atr=` counts as absent, as ASP.NET binds it.
/// - A target over [`MAX_TARGET_LEN`] bytes is a 414; an unknown route a 404; a broken
///   random generator or a failed key store a 500. [`CmError::status`] gives every error's
///   status.
/// - `diversified=false` is answered by the profile's initial admin key, `diversified=true`
///   and `diversifiedkey` by the card key derived from its master key; a profile without a
///   master answers those two with a 400 ([`CmError::NoDiversificationKey`]).
///
/// Parameters are checked in a fixed order: path, query syntax, then `cardid`, `challenge`,
/// `diversified`, `atr`; the first fault is answered.
///
/// ```
/// # #[cfg(feature = "getrandom")]
/// # {
/// use cardadmin::{cm, AdminKey, MasterKey, PinPolicy};
/// use cardadmin::rng::OsRng;
///
/// // The MIM CM documentation's example: the all-zero initial admin key, not diversified.
/// let initial_key = AdminKey::from_hex("000000000000000000000000000000000000000000000000")?;
/// let master = MasterKey::from_hex("00112233445566778899AABBCCDDEEFF0102030405060708")?;
/// let policy = PinPolicy::default();
/// let profile = cm::Profile::new(&initial_key, Some(&master), &policy)?;
///
/// let reply = cm::handle_request(
///     &profile,
///     "/certificatemanagement/api/v1.0/requests/a9b4b42c-cc50-4c9b-89d1-bbc0bcd5a099\
///      /smartcards/17cf063d-e337-4aa9-a822-346554ddd3c9/authenticationresponse\
///      ?cardid=bc88f13f-83ba-4037-8262-46eba1291c6e&challenge=1hFD%2Bcz%2F0so%3D&diversified=False",
///     &mut OsRng,
/// );
/// assert_eq!(reply.status(), 200);
/// assert_eq!(reply.content_type(), Some("application/json; charset=utf-8"));
/// assert_eq!(reply.body(), r#""F0Zudm4wPLY=""#);
///
/// // MIM CM's own serverproposedpin example has no query string at all.
/// let reply = cm::handle_request(
///     &profile,
///     "/CertificateManagement/api/v1.0/smartcards/C6BAD97C-F97F-4920-8947-BE980C98C6B5/serverproposedpin",
///     &mut OsRng,
/// );
/// assert_eq!(reply.status(), 200);
/// assert_eq!(reply.body().len(), 8 + 2); // "12345678", quotes included
///
/// // A '+' sent as is arrives as a space.
/// let reply = cm::handle_request(
///     &profile,
///     "/certificatemanagement/api/v1.0/requests/a9b4b42c-cc50-4c9b-89d1-bbc0bcd5a099\
///      /smartcards/17cf063d-e337-4aa9-a822-346554ddd3c9/authenticationresponse\
///      ?cardid=bc88f13f-83ba-4037-8262-46eba1291c6e&challenge=1hFD+cz/0so=&diversified=false",
///     &mut OsRng,
/// );
/// assert_eq!(reply.status(), 400);
/// assert!(reply.body().contains("send it as %2B"));
/// # }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn handle_request<R: RngCore + CryptoRng, M: CmacSigner + ?Sized>(
    profile: &Profile<'_, M>,
    target: &str,
    rng: &mut R,
) -> Reply {
    match answer(profile, target, rng) {
        Ok(Some(body)) => Reply::ok(&body),
        Ok(None) => Reply::no_content(),
        Err(error) => Reply::from_error(error),
    }
}

/// The three routes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Endpoint {
    AuthenticationResponse,
    DiversifiedKey,
    ServerProposedPin,
}

/// The body text of a 200 (before JSON quoting), `None` for a 204.
fn answer<R: RngCore + CryptoRng, M: CmacSigner + ?Sized>(
    profile: &Profile<'_, M>,
    target: &str,
    rng: &mut R,
) -> Result<Option<Zeroizing<String>>, CmError> {
    if target.len() > MAX_TARGET_LEN {
        return Err(CmError::TooLong {
            limit: MAX_TARGET_LEN,
            found: target.len(),
        });
    }
    // A fragment is never sent by a client; drop one rather than read it as query.
    let target = target.split_once('#').map_or(target, |(before, _)| before);
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let endpoint = route(path)?;
    let query = Query::parse(query)?;

    match endpoint {
        Endpoint::AuthenticationResponse => {
            let card_id = card_id(query.cardid.as_ref())?.ok_or(CmError::Missing {
                parameter: "cardid",
            })?;
            let challenge = challenge(query.challenge.as_ref())?.ok_or(CmError::Missing {
                parameter: "challenge",
            })?;
            let diversified = diversified(query.diversified.as_ref())?.ok_or(CmError::Missing {
                parameter: "diversified",
            })?;
            check_atr(query.atr.as_ref())?;
            let response = super::respond(
                profile.initial_key,
                profile.master,
                &card_id,
                &challenge,
                diversified,
            )?;
            let mut body = Zeroizing::new(String::new());
            let _ = write!(body, "{response}");
            Ok(Some(body))
        }
        Endpoint::DiversifiedKey => {
            let card_id = card_id(query.cardid.as_ref())?.ok_or(CmError::Missing {
                parameter: "cardid",
            })?;
            check_atr(query.atr.as_ref())?;
            Ok(Some(super::card_key(profile.master, &card_id)?.to_base64()))
        }
        Endpoint::ServerProposedPin => {
            card_id(query.cardid.as_ref())?;
            challenge(query.challenge.as_ref())?;
            check_atr(query.atr.as_ref())?;
            match super::server_proposed_pin(profile.pin_policy, rng)? {
                Some(pin) => Ok(Some(Zeroizing::new(String::from(pin.as_str())))),
                None => Ok(None),
            }
        }
    }
}

/// Matches the path (percent-decoded segment by segment, without regard to case) and checks
/// its GUIDs.
fn route(path: &str) -> Result<Endpoint, CmError> {
    let path = path.strip_suffix('/').unwrap_or(path);
    let mut segments = path.split('/');
    // The path starts with '/', so the first segment is empty.
    if segments.next() != Some("") {
        return Err(CmError::NotFound);
    }
    let mut decoded: [Option<Value>; 8] = Default::default();
    let mut count = 0usize;
    for (slot, segment) in decoded.iter_mut().zip(segments.by_ref()) {
        *slot = Some(decode(segment, false, "path")?);
        count += 1;
    }
    if segments.next().is_some() {
        return Err(CmError::NotFound);
    }
    let text = |index: usize| {
        decoded
            .get(index)
            .and_then(Option::as_ref)
            .map_or("", |value| value.text.as_str())
    };
    let is = |index: usize, literal: &str| text(index).eq_ignore_ascii_case(literal);
    if !(is(0, "CertificateManagement") && is(1, "api") && is(2, "v1.0")) {
        return Err(CmError::NotFound);
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
            return Err(CmError::NotFound);
        };
    for &(index, parameter) in guids {
        parse_guid("GUID", text(index)).map_err(|error| CmError::PathGuid { parameter, error })?;
    }
    Ok(endpoint)
}

/// A percent-decoded value, and where the first unencoded `+` was (as a character position in
/// the decoded text).
#[derive(Debug, Default)]
struct Value {
    text: String,
    first_plus: Option<usize>,
}

/// The query parameters the endpoints read, each at most once.
#[derive(Debug, Default)]
struct Query {
    cardid: Option<Value>,
    challenge: Option<Value>,
    diversified: Option<Value>,
    atr: Option<Value>,
}

impl Query {
    fn parse(query: &str) -> Result<Self, CmError> {
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
                return Err(CmError::Duplicate { parameter });
            }
            *slot = Some(decode(raw_value, true, parameter)?);
        }
        Ok(parsed)
    }
}

/// Percent-decodes `raw`, with `+` as a space when `plus_is_space` (query strings), into UTF-8
/// text without NUL characters.
fn decode(raw: &str, plus_is_space: bool, parameter: &'static str) -> Result<Value, CmError> {
    let mut bytes = Vec::with_capacity(raw.len());
    let mut plus_at_byte = None;
    let mut input = raw.bytes().enumerate();
    while let Some((position, byte)) = input.next() {
        match byte {
            b'%' => {
                let high = input.next().and_then(|(_, digit)| hex_digit(digit));
                let low = input.next().and_then(|(_, digit)| hex_digit(digit));
                match (high, low) {
                    (Some(high), Some(low)) => bytes.push((high << 4) | low),
                    _ => {
                        return Err(CmError::PercentEncoding {
                            parameter,
                            position,
                        })
                    }
                }
            }
            b'+' if plus_is_space => {
                plus_at_byte.get_or_insert(bytes.len());
                bytes.push(b' ');
            }
            _ => bytes.push(byte),
        }
    }
    if bytes.contains(&0) {
        return Err(CmError::Nul { parameter });
    }
    let text = String::from_utf8(bytes).map_err(|_| CmError::NotUtf8 { parameter })?;
    let first_plus = plus_at_byte.map(|at| {
        text.char_indices()
            .take_while(|&(index, _)| index < at)
            .count()
    });
    Ok(Value { text, first_plus })
}

fn hex_digit(digit: u8) -> Option<u8> {
    // `to_digit(16)` is below 16, so the cast is exact.
    char::from(digit).to_digit(16).map(|value| value as u8)
}

fn card_id(value: Option<&Value>) -> Result<Option<CardId>, CmError> {
    value
        .map(|value| CardId::parse(&value.text).map_err(CmError::CardId))
        .transpose()
}

fn challenge(value: Option<&Value>) -> Result<Option<Challenge>, CmError> {
    let Some(value) = value else {
        return Ok(None);
    };
    if let Some(position) = value.first_plus {
        return Err(CmError::UnencodedPlus {
            parameter: "challenge",
            position,
        });
    }
    Challenge::from_base64(&value.text)
        .map(Some)
        .map_err(CmError::Challenge)
}

/// .NET `Boolean.Parse`: `True` or `False`, any case, surrounding whitespace ignored. (.NET
/// also trims NUL characters; they never get here.)
fn diversified(value: Option<&Value>) -> Result<Option<bool>, CmError> {
    let Some(value) = value else {
        return Ok(None);
    };
    let text = value.text.trim();
    if text.eq_ignore_ascii_case("true") {
        Ok(Some(true))
    } else if text.eq_ignore_ascii_case("false") {
        Ok(Some(false))
    } else {
        Err(CmError::Diversified {
            found: value.text.chars().count(),
        })
    }
}

/// The longest ATR, ISO/IEC 7816-3: 33 bytes.
const MAX_ATR_LEN: usize = 33;

/// `atr`, when present and not empty: an even number of hex digits, 1 to 33 bytes.
fn check_atr(value: Option<&Value>) -> Result<(), CmError> {
    const WHAT: &str = "value";
    let Some(value) = value.filter(|value| !value.text.is_empty()) else {
        return Ok(());
    };
    let mut length = 0usize;
    for (position, c) in value.text.chars().enumerate() {
        if !c.is_ascii_hexdigit() {
            return Err(CmError::Atr(ParseError::InvalidCharacter {
                what: WHAT,
                position,
                found: c,
                expected: "a hex digit",
            }));
        }
        length += 1;
    }
    if length % 2 != 0 || length > 2 * MAX_ATR_LEN {
        return Err(CmError::Atr(ParseError::Length {
            what: WHAT,
            expected: "an even number of hex digits, at most 66,",
            found: length,
        }));
    }
    Ok(())
}

/// A JSON string literal: quotes, and escapes for `"`, `\` and control characters.
fn write_json_string(out: &mut String, text: &str) -> fmt::Result {
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if u32::from(c) < 0x20 || c == '\u{7f}' => write!(out, "\\u{:04x}", u32::from(c))?,
            c => out.push(c),
        }
    }
    out.push('"');
    Ok(())
}

fn write_error_body(out: &mut String, error: &CmError) -> fmt::Result {
    let mut message = String::new();
    write!(message, "{error}")?;
    out.push_str("{\"Message\":");
    write_json_string(out, &message)?;
    if let Some(parameter) = error.parameter() {
        out.push_str(",\"Parameter\":");
        write_json_string(out, parameter)?;
    }
    out.push('}');
    Ok(())
}
