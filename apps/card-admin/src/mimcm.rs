//! What card-admin reads from a MIM CM-shaped server and from the card, and the rules it
//! applies before it changes anything, apart from any I/O so that each rule is tested alone:
//!
//! - the request (`GET /requests/{id}`): its type must be the command's, it must be open, and
//!   the smart card and card it names (if any) must be the ones at hand;
//! - the profile's smart-card configuration (`GET /profiletemplates/{id}/configuration/smartcards`):
//!   the initial admin key (`DefaultAdminKeyHex`, `AdminKeyAlgorithm`) and whether the profile
//!   diversifies admin keys;
//! - the card ID the card says itself (the GUID of the PIV CHUID), against `--cardid`;
//! - what becomes of the request when a step fails ([`on_failure`]).
//!
//! Field names of the server's JSON are matched without regard to case, as MIM CM's
//! ASP.NET serializer matches them.

use cardadmin::{AdminKey, Algorithm, CardId};
use cardadmin_card::apdu::{tlv_iter, Tlv};
use serde_json::{Map, Value};
use zeroize::Zeroizing;

/// The command that runs, and the request type it runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// `card-admin enroll`: an `Enroll` request.
    Enroll,
    /// `card-admin renew`: a `Renew` request.
    Renew,
}

impl Kind {
    /// The request type's name in MIM CM's requests (`Type`).
    pub fn request_type(self) -> &'static str {
        match self {
            Self::Enroll => "Enroll",
            Self::Renew => "Renew",
        }
    }

    fn command(self) -> &'static str {
        match self {
            Self::Enroll => "card-admin enroll",
            Self::Renew => "card-admin renew",
        }
    }
}

/// The status of an open request (MIM CM's `Approved`: execution may begin).
const OPEN: &str = "Approved";

/// Looks a field up without regard to case.
fn field<'a>(object: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    object
        .iter()
        .find(|(key, _)| key.eq_ignore_ascii_case(name))
        .map(|(_, value)| value)
}

/// A field that is a string, absent, or `null` (as MIM CM writes an ID not set yet).
fn text_field(object: &Map<String, Value>, name: &str) -> Result<Option<String>, String> {
    match field(object, name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => Ok(Some(text.clone())),
        Some(_) => Err(format!("{name}: a JSON string is expected")),
    }
}

/// The request as `GET /requests/{id}` answers it; only what card-admin checks.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct RequestInfo {
    /// `Type`: `Enroll`, `Renew`, `Retire`, ...
    pub kind: Option<String>,
    /// `Status` (or MIM CM's `State`): `Approved` while open.
    pub status: Option<String>,
    /// `SmartcardUuid`: the smart card the request is bound to, if any.
    pub scid: Option<String>,
    /// `CardId`: the card the request is bound to, if any.
    pub cardid: Option<String>,
    /// `ProfileTemplateUuid`: the profile template, if the server names it.
    pub profile_template: Option<String>,
}

impl RequestInfo {
    /// Reads the JSON object of a 200 answer. The error says which field was wrong; the
    /// answer is not repeated (the server chose every byte of it).
    pub fn from_json(body: &str) -> Result<Self, String> {
        let Ok(Value::Object(object)) = serde_json::from_str::<Value>(body) else {
            return Err("the server's 200 answer is not a JSON object".into());
        };
        let status = match text_field(&object, "Status")? {
            Some(status) => Some(status),
            None => text_field(&object, "State")?,
        };
        Ok(Self {
            kind: text_field(&object, "Type")?,
            status,
            scid: text_field(&object, "SmartcardUuid")?,
            cardid: text_field(&object, "CardId")?,
            profile_template: text_field(&object, "ProfileTemplateUuid")?,
        })
    }

    /// Whether `kind` may run this request for the smart card `scid` (when known) and the
    /// card `card`: the request must be of `kind`'s type, open, and name no other smart card
    /// or card. Checked before anything is written to the card or changed on the server.
    pub fn check(&self, kind: Kind, scid: Option<&str>, card: &CardId) -> Result<(), String> {
        if let Some(found) = &self.kind {
            if !found.eq_ignore_ascii_case(kind.request_type()) {
                return Err(format!(
                    "the request is of type {}, and {} runs {} requests",
                    shown(found),
                    kind.command(),
                    kind.request_type()
                ));
            }
        }
        if let Some(status) = &self.status {
            if !status.eq_ignore_ascii_case(OPEN) {
                return Err(format!(
                    "the request's status is {}, not {OPEN}: it is not open (closed already, or not approved yet)",
                    shown(status)
                ));
            }
        }
        if let (Some(bound), Some(scid)) = (&self.scid, scid) {
            if !same_guid(bound, scid) {
                return Err(format!(
                    "the request is bound to smart card {}, not {}",
                    shown(bound),
                    shown(scid)
                ));
            }
        }
        if let Some(bound) = &self.cardid {
            if CardId::parse(bound).ok().as_ref() != Some(card) {
                return Err(format!(
                    "the request is for card {}, and this card is {card}",
                    shown(bound)
                ));
            }
        }
        Ok(())
    }
}

/// Two GUIDs in any of .NET's text forms name the same one (text that is no GUID is compared
/// as it is).
pub fn same_guid(one: &str, other: &str) -> bool {
    match (CardId::parse(one), CardId::parse(other)) {
        (Ok(one), Ok(other)) => one == other,
        _ => one == other,
    }
}

/// A server's text, made safe to print and cut short (see [`crate::text::strip_controls`]).
fn shown(text: &str) -> String {
    crate::text::strip_controls(text)
}

/// The profile's smart-card configuration, as far as card-admin uses it.
#[derive(Debug)]
pub struct ProfileConfig {
    /// The initial admin key the profile's cards ship with (`DefaultAdminKeyHex`, in the
    /// algorithm `AdminKeyAlgorithm`, 3DES when the field is absent, as MIM CM's keys are).
    pub initial_key: AdminKey,
    /// `DiversifyAdminKey`: each card gets its own admin key from the master.
    pub diversify: bool,
}

impl ProfileConfig {
    /// Reads the JSON object of a 200 answer. The key's text is moved out of the parsed JSON
    /// into wiped memory; no error shows it.
    pub fn from_json(body: &str) -> Result<Self, String> {
        let Ok(Value::Object(mut object)) = serde_json::from_str::<Value>(body) else {
            return Err("the server's 200 answer is not a JSON object".into());
        };
        let algorithm = match text_field(&object, "AdminKeyAlgorithm")? {
            None => Algorithm::Tdes,
            Some(name) => name.parse::<Algorithm>().map_err(|_| {
                format!(
                    "AdminKeyAlgorithm: {} is not one of tdes, aes128, aes192, aes256",
                    shown(&name)
                )
            })?,
        };
        let diversify = match field(&object, "DiversifyAdminKey") {
            Some(Value::Bool(diversify)) => *diversify,
            None => false,
            Some(_) => return Err("DiversifyAdminKey: true or false is expected".into()),
        };
        let name = object
            .keys()
            .find(|key| key.eq_ignore_ascii_case("DefaultAdminKeyHex"))
            .cloned()
            .ok_or("DefaultAdminKeyHex: missing (the profile's initial admin key)")?;
        let hex = match object.remove(&name) {
            Some(Value::String(hex)) => Zeroizing::new(hex),
            _ => return Err("DefaultAdminKeyHex: a JSON string of hex digits is expected".into()),
        };
        let initial_key = AdminKey::new_hex(algorithm, hex.trim())
            .map_err(|err| format!("DefaultAdminKeyHex ({algorithm}): {err}"))?;
        Ok(Self {
            initial_key,
            diversify,
        })
    }
}

/// PIV GET DATA's tag of the CHUID (card holder unique identifier).
pub const CHUID_TAG: [u8; 3] = [0x5f, 0xc1, 0x02];
/// The CHUID's GUID field (SP 800-73-4 part 1, table 9).
const GUID_TAG: u32 = 0x34;

/// The card ID the card says: the GUID of its CHUID (the data of GET DATA `5F C1 02`), its 16
/// bytes as the card holds them, which is the layout of a minidriver's card ID
/// ([`CardId::from_bytes`]). `None` when the CHUID has no GUID or an all-zero one (a CHUID
/// template nobody filled in).
pub fn card_id_from_chuid(data: &[u8]) -> Result<Option<CardId>, String> {
    let chuid = Tlv::parse_only(0x53, data).map_err(|err| format!("the CHUID: {err}"))?;
    for object in tlv_iter(chuid.value()) {
        let object = object.map_err(|err| format!("the CHUID: {err}"))?;
        if object.tag() == GUID_TAG {
            let bytes: [u8; 16] = object.value().try_into().map_err(|_| {
                format!(
                    "the CHUID's GUID has {}, expected 16",
                    crate::text::count(object.value().len(), "byte", "bytes")
                )
            })?;
            return Ok((bytes != [0; 16]).then(|| CardId::from_bytes(bytes)));
        }
    }
    Ok(None)
}

/// The card ID to use: the one the card says, which `--cardid` (when given) must name, or
/// else `--cardid`. Neither is an error: nothing would say which card this is.
pub fn choose_card_id(from_card: Option<CardId>, option: Option<&str>) -> Result<CardId, String> {
    let given = option
        .map(|text| CardId::parse(text).map_err(|err| format!("--cardid {}: {err}", shown(text))))
        .transpose()?;
    match (from_card, given) {
        (Some(card), Some(given)) if card != given => Err(format!(
            "this card's ID is {card} (its CHUID), not --cardid {given}: is it the card the request is for?"
        )),
        (Some(card), _) => Ok(card),
        (None, Some(given)) => Ok(given),
        (None, None) => Err(
            "the card does not say its ID (no GUID in a CHUID): give it with --cardid".into(),
        ),
    }
}

/// How far a command got, for what becomes of its request when a step fails.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Progress {
    /// No key was asked for: the server recorded no key change, the card is as it was.
    Untouched,
    /// `diversifiedkey` answered: the server recorded the new key's version as the card's
    /// pending one. The card still holds its old key (it refused the new one, or was not sent
    /// it).
    KeyFetched,
    /// The new key was sent to the card and no answer came back: the card may hold either.
    WriteUnknown,
    /// The card accepted the new key.
    KeyWritten,
}

/// What card-admin does with the request when a step fails.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Closing {
    /// Nothing changed: leave it open, the command can run again.
    LeaveOpen,
    /// `PUT /requests/{id}` `Canceled`: the server drops the pending version, the card keeps
    /// its old key and the version it is on.
    Cancel,
    /// The card holds, or may hold, the new key: canceling would make the server answer for
    /// the old key a card that no longer has it, so the request stays open for the operator,
    /// who completes it once the card is known to hold the new key.
    LeaveOpenForOperator,
}

/// The request's fate after a failed step: canceled only when the key change began on the
/// server (`diversifiedkey` answered) and the card is known to hold its old key still.
pub fn on_failure(progress: Progress) -> Closing {
    match progress {
        Progress::Untouched => Closing::LeaveOpen,
        Progress::KeyFetched => Closing::Cancel,
        Progress::WriteUnknown | Progress::KeyWritten => Closing::LeaveOpenForOperator,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CARD: &str = "bc88f13f-83ba-4037-8262-46eba1291c6e";
    const SCID: &str = "17cf063d-e337-4aa9-a822-346554ddd3c9";

    fn card() -> CardId {
        CardId::parse(CARD).unwrap()
    }

    fn request(json: &str) -> RequestInfo {
        RequestInfo::from_json(json).unwrap()
    }

    #[test]
    fn the_servers_request_shape_is_read_without_regard_to_case() {
        let info = request(
            r#"{"Uuid": "a9b4b42c-cc50-4c9b-89d1-bbc0bcd5a099", "Type": "Renew", "Status": "Approved",
                "SmartcardUuid": "17cf063d-e337-4aa9-a822-346554ddd3c9", "CardId": null}"#,
        );
        assert_eq!(
            info,
            RequestInfo {
                kind: Some("Renew".into()),
                status: Some("Approved".into()),
                scid: Some(SCID.into()),
                cardid: None,
                profile_template: None,
            }
        );
        let info =
            request(r#"{"type": "Enroll", "state": "Approved", "profiletemplateuuid": "x"}"#);
        assert_eq!(info.status.as_deref(), Some("Approved"));
        assert_eq!(info.profile_template.as_deref(), Some("x"));
        assert!(RequestInfo::from_json("[]").is_err());
        assert_eq!(
            RequestInfo::from_json(r#"{"Type": 3}"#).unwrap_err(),
            "Type: a JSON string is expected"
        );
    }

    #[test]
    fn a_request_of_another_type_or_closed_or_for_another_card_is_refused() {
        let open_renew = request(r#"{"Type": "Renew", "Status": "Approved"}"#);
        assert_eq!(open_renew.check(Kind::Renew, Some(SCID), &card()), Ok(()));
        let message = open_renew.check(Kind::Enroll, None, &card()).unwrap_err();
        assert_eq!(
            message,
            "the request is of type Renew, and card-admin enroll runs Enroll requests"
        );

        let closed = request(r#"{"Type": "Enroll", "Status": "Completed"}"#);
        let message = closed.check(Kind::Enroll, None, &card()).unwrap_err();
        assert!(
            message.starts_with("the request's status is Completed, not Approved"),
            "{message}"
        );

        let bound = request(&format!(
            r#"{{"Type": "Renew", "Status": "Approved", "SmartcardUuid": "{SCID}", "CardId": "{CARD}"}}"#
        ));
        // Any .NET form of the same GUIDs.
        let braced_scid = format!("{{{}}}", SCID.to_uppercase());
        assert_eq!(
            bound.check(Kind::Renew, Some(&braced_scid), &card()),
            Ok(())
        );
        let message = bound
            .check(
                Kind::Renew,
                Some("11111111-1111-1111-1111-111111111111"),
                &card(),
            )
            .unwrap_err();
        assert_eq!(
            message,
            format!("the request is bound to smart card {SCID}, not 11111111-1111-1111-1111-111111111111")
        );
        let other = CardId::from_bytes([0x22; 16]);
        let message = bound.check(Kind::Renew, Some(SCID), &other).unwrap_err();
        assert_eq!(
            message,
            format!("the request is for card {CARD}, and this card is 22222222-2222-2222-2222-222222222222")
        );
    }

    #[test]
    fn a_servers_text_in_a_refusal_is_shown_without_its_controls() {
        let info = request(r#"{"Type": "Re\u001b[2Jnew\r\n"}"#);
        let message = info.check(Kind::Enroll, None, &card()).unwrap_err();
        assert!(!message.chars().any(char::is_control), "{message:?}");
    }

    const CONFIG: &str = r#"{"UserPinOption": "Randomized",
        "UserPinPolicy": {"MinLength": 6, "MaxLength": 8},
        "DefaultAdminKeyHex": "0F0E0D0C0B0A09080706050403020100F0E0D0C0B0A09080",
        "AdminKeyAlgorithm": "tdes", "DiversifyAdminKey": true}"#;

    #[test]
    fn the_profiles_initial_key_comes_from_default_admin_key_hex() {
        let config = ProfileConfig::from_json(CONFIG).unwrap();
        let expected = AdminKey::new_hex(
            Algorithm::Tdes,
            "0f0e0d0c0b0a09080706050403020100f0e0d0c0b0a09080",
        )
        .unwrap();
        assert_eq!(config.initial_key.check_value(), expected.check_value());
        assert!(config.diversify);

        // The algorithm named, field names in any case; 3DES when none is named.
        let config = ProfileConfig::from_json(
            r#"{"defaultadminkeyhex": "000102030405060708090a0b0c0d0e0f", "adminkeyalgorithm": "aes128"}"#,
        )
        .unwrap();
        assert_eq!(config.initial_key.algorithm(), Algorithm::Aes128);
        assert!(!config.diversify);
        let config = ProfileConfig::from_json(
            r#"{"DefaultAdminKeyHex": "0F0E0D0C0B0A09080706050403020100F0E0D0C0B0A09080"}"#,
        )
        .unwrap();
        assert_eq!(config.initial_key.algorithm(), Algorithm::Tdes);
    }

    #[test]
    fn a_bad_profile_configuration_is_refused_without_showing_the_key() {
        for (body, expected) in [
            (
                r#"{"AdminKeyAlgorithm": "tdes"}"#,
                "DefaultAdminKeyHex: missing",
            ),
            (
                r#"{"DefaultAdminKeyHex": 7}"#,
                "DefaultAdminKeyHex: a JSON string",
            ),
            (
                r#"{"DefaultAdminKeyHex": "0F0E0D0C0B0A0908", "AdminKeyAlgorithm": "tdes"}"#,
                "DefaultAdminKeyHex (3DES): ",
            ),
            (
                r#"{"DefaultAdminKeyHex": "0F0E0D0C0B0A09080706050403020100F0E0D0C0B0A0908Z"}"#,
                "DefaultAdminKeyHex (3DES): ",
            ),
            (
                r#"{"DefaultAdminKeyHex": "00", "AdminKeyAlgorithm": "rot13"}"#,
                "AdminKeyAlgorithm: rot13 is not one of",
            ),
            (
                r#"{"DefaultAdminKeyHex": "00", "DiversifyAdminKey": "yes"}"#,
                "DiversifyAdminKey: true or false",
            ),
            ("not json", "not a JSON object"),
        ] {
            let message = ProfileConfig::from_json(body).unwrap_err();
            assert!(
                message.starts_with(expected) || message.contains(expected),
                "{body}: {message}"
            );
            assert!(!message.contains("0F0E0D0C"), "{message}");
            assert!(!message.to_lowercase().contains("0f0e0d0c"), "{message}");
        }
        // Debug shows the check value, not the key.
        let config = ProfileConfig::from_json(CONFIG).unwrap();
        assert!(!format!("{config:?}").to_lowercase().contains("0f0e0d0c"));
    }

    fn chuid(guid: &[u8]) -> Vec<u8> {
        let mut inner = vec![
            0x30,
            0x02,
            0xd4,
            0xe7,
            0x34,
            u8::try_from(guid.len()).unwrap(),
        ];
        inner.extend_from_slice(guid);
        inner.extend_from_slice(&[0x35, 0x08]);
        inner.extend_from_slice(b"20991231");
        inner.extend_from_slice(&[0x3e, 0x00, 0xfe, 0x00]);
        let mut out = vec![0x53, u8::try_from(inner.len()).unwrap()];
        out.extend(inner);
        out
    }

    #[test]
    fn the_card_id_is_the_chuids_guid_in_the_minidriver_layout() {
        let id = card();
        assert_eq!(card_id_from_chuid(&chuid(id.as_bytes())), Ok(Some(id)));
        // The bytes as the card holds them: the first three GUID fields are little-endian.
        let raw = [
            0x3f, 0xf1, 0x88, 0xbc, 0xba, 0x83, 0x37, 0x40, 0x82, 0x62, 0x46, 0xeb, 0xa1, 0x29,
            0x1c, 0x6e,
        ];
        let read = card_id_from_chuid(&chuid(&raw)).unwrap().unwrap();
        assert_eq!(read.to_string(), CARD);
        // No GUID, or a zero one: the card does not say.
        assert_eq!(card_id_from_chuid(&chuid(&[0; 16])), Ok(None));
        assert_eq!(
            card_id_from_chuid(&[0x53, 0x04, 0x3e, 0x00, 0xfe, 0x00]),
            Ok(None)
        );
    }

    #[test]
    fn a_malformed_chuid_is_an_error_not_a_guess() {
        assert_eq!(
            card_id_from_chuid(&chuid(&[1; 8])).unwrap_err(),
            "the CHUID's GUID has 8 bytes, expected 16"
        );
        assert!(card_id_from_chuid(&[0x54, 0x00]).is_err());
        assert!(card_id_from_chuid(&[0x53, 0x05, 0x34, 0x10, 0x00]).is_err());
        assert!(card_id_from_chuid(&[]).is_err());
    }

    #[test]
    fn the_cards_own_id_wins_and_a_different_cardid_stops_the_command() {
        let id = card();
        assert_eq!(choose_card_id(Some(id), None), Ok(id));
        assert_eq!(choose_card_id(Some(id), Some(&CARD.to_uppercase())), Ok(id));
        assert_eq!(choose_card_id(None, Some(CARD)), Ok(id));
        let message =
            choose_card_id(Some(id), Some("11111111-1111-1111-1111-111111111111")).unwrap_err();
        assert_eq!(
            message,
            format!("this card's ID is {CARD} (its CHUID), not --cardid 11111111-1111-1111-1111-111111111111: is it the card the request is for?")
        );
        assert!(choose_card_id(None, None)
            .unwrap_err()
            .contains("give it with --cardid"));
        assert!(choose_card_id(None, Some("card-7"))
            .unwrap_err()
            .starts_with("--cardid card-7: "));
    }

    #[test]
    fn a_request_is_canceled_only_when_the_card_kept_its_old_key() {
        assert_eq!(on_failure(Progress::Untouched), Closing::LeaveOpen);
        assert_eq!(on_failure(Progress::KeyFetched), Closing::Cancel);
        assert_eq!(
            on_failure(Progress::WriteUnknown),
            Closing::LeaveOpenForOperator
        );
        assert_eq!(
            on_failure(Progress::KeyWritten),
            Closing::LeaveOpenForOperator
        );
    }
}
