//! Answering a request: parse it, then compute the answer under the key of the right role.

use alloc::string::String;
use core::fmt::Write as _;

use crate::{
    parse_request, AuditRecord, Endpoint, KeyRole, ParsedRequest, Profile, Reply, RequestError,
};
use cardadmin::cm::CmError;
use cardadmin::master::CmacSigner;
use cardadmin::{AdminKey, CardId};
use rand_core::{CryptoRng, RngCore};
use zeroize::Zeroizing;

/// Answers one MIM CM request.
///
/// `target` is the request target as the server received it: the path and, after a `?`, the
/// raw query, both still percent-encoded (in axum or hyper, `uri.path_and_query()`). The
/// request's method is the server's business: MIM CM's endpoints are all `GET`.
///
/// Routes, under [`PREFIX`](crate::PREFIX) (`/CertificateManagement/api/v1.0`), matched without regard to
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
///   key given twice is a 400 ([`RequestError::Duplicate`]), even with the same value.
/// - Values are percent-decoded, and `+` means a space, as in any query string. A `+` in
///   `challenge` therefore was not meant as a space: a 400 saying to send `%2B`
///   ([`RequestError::UnencodedPlus`]). Stricter than .NET: a `%` without two hex digits, bytes
///   that are not UTF-8 after decoding, and NUL characters are 400s instead of being passed
///   on or replaced.
/// - `diversified` is read by .NET `Boolean.Parse` rules: `True` or `False` in any case, with
///   surrounding whitespace; anything else is a 400 naming `diversified`.
/// - `atr`, when present and not empty, must be hex: an even number of digits, 1 to 33 bytes.
///   It is checked, not used. An empty `atr=` counts as absent, as ASP.NET binds it.
/// - A target over [`MAX_TARGET_LEN`](crate::MAX_TARGET_LEN) bytes is a 414; an unknown route a 404; a broken
///   random generator or a failed key store a 500. [`RequestError::status`] gives every error's
///   status.
/// - `diversified=false` is answered by the profile's initial admin key, `diversified=true`
///   and `diversifiedkey` by the card key derived from its master key; a profile without a
///   master answers those two with a 400 ([`CmError::NoDiversificationKey`](cardadmin::cm::CmError::NoDiversificationKey)).
///
/// Parameters are checked in a fixed order: path, query syntax, then `cardid`, `challenge`,
/// `diversified`, `atr`; the first fault is answered.
///
/// ```
/// # #[cfg(feature = "getrandom")]
/// # {
/// use cardadmin::{AdminKey, MasterKey, PinPolicy};
/// use cardadmin::rng::OsRng;
///
/// // The MIM CM documentation's example: the all-zero initial admin key, not diversified.
/// let initial_key = AdminKey::from_hex("000000000000000000000000000000000000000000000000")?;
/// let master = MasterKey::from_hex("00112233445566778899AABBCCDDEEFF0102030405060708")?;
/// let policy = PinPolicy::default();
/// let profile = cardadmin_mimcm::Profile::new(&initial_key, Some(&master), &policy)?;
///
/// let reply = cardadmin_mimcm::handle_request(
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
/// let reply = cardadmin_mimcm::handle_request(
///     &profile,
///     "/CertificateManagement/api/v1.0/smartcards/C6BAD97C-F97F-4920-8947-BE980C98C6B5/serverproposedpin",
///     &mut OsRng,
/// );
/// assert_eq!(reply.status(), 200);
/// assert_eq!(reply.body().len(), 8 + 2); // "12345678", quotes included
///
/// // A '+' sent as is arrives as a space.
/// let reply = cardadmin_mimcm::handle_request(
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
    match parse_request(target) {
        Ok(parsed) => answer(&parsed, profile, rng).0,
        Err(error) => Reply::from_error(error),
    }
}

/// Answers a parsed request with `profile`'s keys, and says what was done: the [`Reply`] to
/// send, and the [`AuditRecord`] (equal to [`ParsedRequest::audit`] made before, unless the
/// random generator failed while proposing a PIN).
///
/// This is the only function of the request-level facade that uses a key; call it after the
/// record of [`ParsedRequest::audit`] is safely stored.
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
/// let parsed = cardadmin_mimcm::parse_request("/CertificateManagement/api/v1.0/smartcards/C6BAD97C-F97F-4920-8947-BE980C98C6B5/serverproposedpin")?;
/// let (reply, record) = cardadmin_mimcm::answer(&parsed, &profile, &mut OsRng);
/// assert_eq!(reply.status(), 200);
/// assert_eq!(record.key_role(), None); // a PIN uses no key, and is not in the record
/// # }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn answer<R: RngCore + CryptoRng, M: CmacSigner + ?Sized>(
    parsed: &ParsedRequest,
    profile: &Profile<'_, M>,
    rng: &mut R,
) -> (Reply, AuditRecord) {
    let key = match parsed.plan(profile) {
        Ok(key) => key,
        Err(error) => {
            return (
                Reply::from_error(error),
                parsed.record(None, error.status()),
            )
        }
    };
    let reply = match execute(parsed, profile, key.map(|(role, _)| role), rng) {
        Ok(Some(body)) => Reply::ok(&body),
        Ok(None) => Reply::no_content(),
        Err(error) => Reply::from_error(error),
    };
    let record = parsed.record(key, reply.status());
    (reply, record)
}

/// The body text of a 200 (before JSON quoting), `None` for a 204.
pub(crate) fn execute<R: RngCore + CryptoRng, M: CmacSigner + ?Sized>(
    parsed: &ParsedRequest,
    profile: &Profile<'_, M>,
    role: Option<KeyRole>,
    rng: &mut R,
) -> Result<Option<Zeroizing<String>>, RequestError> {
    match (parsed.endpoint, role, parsed.card_id, &parsed.challenge) {
        (Endpoint::AuthenticationResponse, Some(role), Some(card_id), Some(challenge)) => {
            let response = match role {
                KeyRole::CardKey => card_key(profile.master, &card_id)?.respond(challenge),
                KeyRole::InitialKey => profile.initial_key.respond(challenge),
            }
            .map_err(CmError::ChallengeLength)?;
            let mut body = Zeroizing::new(String::new());
            let _ = write!(body, "{response}");
            Ok(Some(body))
        }
        (Endpoint::DiversifiedKey, Some(KeyRole::CardKey), Some(card_id), _) => {
            Ok(Some(card_key(profile.master, &card_id)?.to_base64()))
        }
        (Endpoint::ServerProposedPin, _, _, _) => {
            match cardadmin::cm::server_proposed_pin(profile.pin_policy, rng)? {
                Some(pin) => Ok(Some(Zeroizing::new(String::from(pin.as_str())))),
                None => Ok(None),
            }
        }
        // `parse_request` always sets the card ID and challenge the arms above read, and
        // `plan` gives every keyed endpoint its role: nothing else gets here.
        _ => Ok(None),
    }
}

/// The card's own key from the master, or the error that says there is no master or that the
/// key store failed (its own error is not kept: it may say things about the key store a
/// client must not see; a key store logs its own failures).
fn card_key<M: CmacSigner + ?Sized>(
    master: Option<&M>,
    card_id: &CardId,
) -> Result<AdminKey, CmError> {
    let master = master.ok_or(CmError::NoDiversificationKey)?;
    cardadmin::master::diversify(master, card_id).map_err(|_| CmError::KeyStore)
}
