//! The lifecycle routes' shapes (issue #25): which route a path names, which methods it takes,
//! the request bodies (bounded, strict, never echoed) and the answers' JSON, in MIM CM's field
//! names. What they do to the registry is [`crate::registry::decide`]'s; the order a request
//! meets the checks in is [`crate::handler`]'s. The routes and shapes are documented in
//! `apps/server/README.md`, "Card lifecycle and master versions".

use cardadmin::{AdminKey, CardId, CharClass, CharRule, PinPolicy, UserPinOption};
use cardadmin_mimcm::Guid;
use serde_json::{json, Map, Value};
use zeroize::Zeroizing;

use crate::registry::Request;

/// The longest request body read, in bytes (the largest a client sends is about 150).
pub const MAX_BODY: usize = 4096;

/// A lifecycle route, with its path's IDs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Route {
    /// `GET /profiletemplates/{id}/configuration/smartcards`.
    Configuration(Guid),
    /// `POST /smartcards`.
    SmartCards,
    /// `GET` or `PUT /requests/{id}`.
    Request(Guid),
    /// `PUT /requests/{reqid}/smartcards/{scid}`.
    RequestSmartCard(Guid, Guid),
}

impl Route {
    /// The audit line's `endpoint`.
    pub fn endpoint(self) -> &'static str {
        match self {
            Self::Configuration(_) => "profiletemplates/configuration/smartcards",
            Self::SmartCards => "smartcards",
            Self::Request(_) => "requests",
            Self::RequestSmartCard(..) => "requests/smartcards",
        }
    }

    /// The methods the route answers, for `Allow`.
    pub fn allow(self) -> &'static str {
        match self {
            Self::Configuration(_) => "GET",
            Self::SmartCards => "POST",
            Self::Request(_) => "GET, PUT",
            Self::RequestSmartCard(..) => "PUT",
        }
    }

    /// The request ID in the path.
    pub fn reqid(self) -> Option<Guid> {
        match self {
            Self::Request(reqid) | Self::RequestSmartCard(reqid, _) => Some(reqid),
            _ => None,
        }
    }

    /// The smart card ID in the path.
    pub fn scid(self) -> Option<Guid> {
        match self {
            Self::RequestSmartCard(_, scid) => Some(scid),
            _ => None,
        }
    }
}

/// A path segment, `%XX` escapes decoded; `None` for a broken escape or one that is not UTF-8.
fn decode(segment: &str) -> Option<String> {
    if !segment.contains('%') {
        return Some(segment.to_string());
    }
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// The lifecycle route `path` names (without its query): `None` when it names none (the key
/// routes, or nothing: `cardadmin_mimcm::parse_request` answers those); `Some(Err(message))`
/// when it names one with an ID that is not a GUID (400).
pub fn route(path: &str) -> Option<Result<Route, String>> {
    let path = path.strip_suffix('/').unwrap_or(path);
    let segments: Vec<String> = path
        .split('/')
        .map(decode)
        .collect::<Option<Vec<String>>>()?;
    let is = |index: usize, literal: &str| {
        segments
            .get(index)
            .is_some_and(|segment| segment.eq_ignore_ascii_case(literal))
    };
    if !(segments.first().is_some_and(String::is_empty)
        && is(1, "CertificateManagement")
        && is(2, "api")
        && is(3, "v1.0"))
    {
        return None;
    }
    let guid = |index: usize, parameter: &str| -> Result<Guid, String> {
        Guid::parse(segments.get(index).map_or("", String::as_str))
            .map_err(|err| format!("{parameter}: {}", err.with_what("GUID")))
    };
    let route = match segments.len() {
        8 if is(4, "profiletemplates") && is(6, "configuration") && is(7, "smartcards") => {
            guid(5, "id").map(Route::Configuration)
        }
        5 if is(4, "smartcards") => Ok(Route::SmartCards),
        6 if is(4, "requests") => guid(5, "id").map(Route::Request),
        8 if is(4, "requests") && is(6, "smartcards") => {
            guid(5, "reqid").and_then(|reqid| Ok(Route::RequestSmartCard(reqid, guid(7, "scid")?)))
        }
        _ => return None,
    };
    Some(route)
}

/// A body field's type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A GUID in any .NET form.
    Guid,
    /// Hex digits, an even number, 1 to 33 bytes (an ATR).
    Atr,
    /// One of the listed words.
    Word(&'static [&'static str]),
}

/// A body field: its name (lower case), type, and whether it must be there.
pub type Field = (&'static str, Kind, bool);

/// The fields of `POST /smartcards`.
pub const SMART_CARD_FIELDS: [Field; 3] = [
    ("requestid", Kind::Guid, true),
    ("cardid", Kind::Guid, true),
    ("atr", Kind::Atr, false),
];

/// The fields of `PUT /requests/{id}`.
pub const CLOSE_FIELDS: [Field; 1] = [(
    "status",
    Kind::Word(&["Completed", "Canceled", "Abandoned"]),
    true,
)];

/// The fields of `PUT /requests/{reqid}/smartcards/{scid}`.
pub const RETIRE_FIELDS: [Field; 1] = [("status", Kind::Word(&["Retired"]), true)];

/// What a body field holds once checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Checked {
    /// A GUID.
    Guid(Guid),
    /// An ATR (checked, not kept).
    Atr,
    /// One of the words.
    Word(&'static str),
}

/// A body checked against `fields`: each value by its lower-case name. `Err` is the 400's
/// message, which names the field at fault and never repeats a value (nor an unknown field's
/// name, which is the sender's text too).
pub fn parse_body(body: &[u8], fields: &[Field]) -> Result<Vec<(&'static str, Checked)>, String> {
    let names = fields
        .iter()
        .map(|(name, _, _)| *name)
        .collect::<Vec<_>>()
        .join(", ");
    let object: Map<String, Value> = match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(object)) => object,
        Ok(_) => return Err(format!("body: a JSON object is expected, with the fields {names}")),
        // serde_json's message names a line and column and what it expected, never the text.
        Err(err) => {
            return Err(format!(
                "body: not JSON ({}; line {} column {}); a JSON object is expected, with the fields {names}",
                match err.classify() {
                    serde_json::error::Category::Eof => "it ends too soon",
                    _ => "a syntax error",
                },
                err.line(),
                err.column()
            ))
        }
    };
    let mut found: Vec<(&'static str, Checked)> = Vec::new();
    for (key, value) in &object {
        let lower = key.to_ascii_lowercase();
        let Some((name, kind, _)) = fields.iter().find(|(name, _, _)| *name == lower) else {
            return Err(format!(
                "body: a field this route does not read (names are not repeated); the fields are {names}"
            ));
        };
        if found.iter().any(|(seen, _)| seen == name) {
            return Err(format!(
                "{name}: given twice (names are compared without regard to case)"
            ));
        }
        let checked = match (kind, value) {
            (Kind::Guid, Value::String(text)) => Guid::parse(text)
                .map(Checked::Guid)
                .map_err(|_| format!("{name}: not a GUID (the value is not repeated)"))?,
            (Kind::Guid, _) => return Err(format!("{name}: a GUID in a JSON string is expected")),
            (Kind::Atr, Value::String(text)) => {
                let fits = text.len() % 2 == 0
                    && (2..=66).contains(&text.len())
                    && text.bytes().all(|b| b.is_ascii_hexdigit());
                if !fits {
                    return Err(format!(
                        "{name}: an even number of hex digits, 1 to 33 bytes, is expected (the value is not repeated)"
                    ));
                }
                Checked::Atr
            }
            (Kind::Atr, _) => {
                return Err(format!("{name}: hex digits in a JSON string are expected"))
            }
            (Kind::Word(words), Value::String(text)) => {
                match words.iter().find(|word| **word == text) {
                    Some(word) => Checked::Word(word),
                    None => {
                        return Err(format!(
                            "{name}: one of {} is expected (the value is not repeated)",
                            words.join(", ")
                        ))
                    }
                }
            }
            (Kind::Word(words), _) => {
                return Err(format!(
                    "{name}: a JSON string, one of {}, is expected",
                    words.join(", ")
                ))
            }
        };
        found.push((name, checked));
    }
    for (name, _, required) in fields {
        if *required && !found.iter().any(|(seen, _)| seen == name) {
            return Err(format!("{name}: required field is missing"));
        }
    }
    Ok(found)
}

/// The GUID field `name` of a parsed body.
pub fn guid_field(found: &[(&'static str, Checked)], name: &str) -> Option<Guid> {
    found.iter().find_map(|(seen, value)| match value {
        Checked::Guid(guid) if *seen == name => Some(*guid),
        _ => None,
    })
}

/// The word field `name` of a parsed body.
pub fn word_field(found: &[(&'static str, Checked)], name: &str) -> Option<&'static str> {
    found.iter().find_map(|(seen, value)| match value {
        Checked::Word(word) if *seen == name => Some(*word),
        _ => None,
    })
}

/// A card ID from a GUID (the same 16 bytes, the same layout).
pub fn card_id(guid: Guid) -> CardId {
    CardId::from_bytes(*guid.as_bytes())
}

/// What the profile's configuration route answers, computed once at start-up: the template's
/// id and the JSON body (which holds the initial admin key: zeroized).
pub struct Profile {
    /// `"profile_template_id"`.
    pub template: Option<Guid>,
    /// The `SmartcardConfig` JSON.
    pub configuration: Zeroizing<String>,
    /// The initial admin key's check value, for the audit line.
    pub initial_check_value: String,
}

impl Profile {
    /// The configuration of the profile `template` with these keys and policy; `diversifies`
    /// when a master is configured.
    pub fn new(
        template: Option<Guid>,
        initial_key: &AdminKey,
        policy: &PinPolicy,
        diversifies: bool,
    ) -> Self {
        let key_hex = Zeroizing::new(
            initial_key
                .expose_secret()
                .iter()
                .map(|byte| format!("{byte:02X}"))
                .collect::<String>(),
        );
        let body = json!({
            "UserPinOption": user_pin_option(policy.user_pin_option()),
            "UserPinPolicy": pin_policy(policy),
            "AdminPinPolicy": pin_policy(policy),
            "DefaultAdminKeyHex": "",
            "AdminKeyAlgorithm": initial_key.algorithm().name(),
            "DiversifyAdminKey": diversifies,
        });
        // The key goes in last, into a string that is wiped; `Value` is not.
        let rendered = body.to_string();
        let configuration = Zeroizing::new(rendered.replacen(
            "\"DefaultAdminKeyHex\":\"\"",
            &format!("\"DefaultAdminKeyHex\":\"{}\"", key_hex.as_str()),
            1,
        ));
        Self {
            template,
            configuration,
            initial_check_value: initial_key.check_value().to_string(),
        }
    }
}

fn user_pin_option(option: UserPinOption) -> &'static str {
    match option {
        UserPinOption::None => "None",
        UserPinOption::UserProvided => "UserProvided",
        UserPinOption::Randomized => "Randomized",
        UserPinOption::ServerDistributed => "ServerDistributed",
        UserPinOption::CustomServerDistributed => "CustomServerDistributed",
    }
}

fn rule(rule: CharRule) -> &'static str {
    match rule {
        CharRule::Allow => "Allow",
        CharRule::Require => "Require",
        CharRule::Disallow => "Disallow",
    }
}

fn pin_policy(policy: &PinPolicy) -> Value {
    let classes = [
        CharClass::Digit,
        CharClass::Lowercase,
        CharClass::Uppercase,
        CharClass::Special,
    ];
    let character_set: String = classes
        .iter()
        .filter(|class| policy.rule(**class) != CharRule::Disallow)
        .flat_map(|class| class.characters().iter().map(|byte| char::from(*byte)))
        .collect();
    json!({
        "MinLength": policy.min_len(),
        "MaxLength": policy.max_len(),
        "ProposedLength": policy.proposed_len(),
        "CharacterSet": character_set,
        "Digits": rule(policy.digits()),
        "Lowercase": rule(policy.lowercase()),
        "Uppercase": rule(policy.uppercase()),
        "Special": rule(policy.special()),
        "RejectWeak": policy.reject_weak(),
    })
}

/// `GET /requests/{id}`'s body; `template` is the configured `"profile_template_id"`, the
/// profile every request of this server is for (MIM CM's `ProfileTemplateUuid`, which a client
/// reads the smart-card configuration of).
pub fn request_json(request: &Request, template: Option<Guid>) -> String {
    json!({
        "Uuid": request.reqid.to_string(),
        "ProfileTemplateUuid": template.map(|template| template.to_string()),
        "Type": request.kind.mim_name(),
        "Status": request.status.as_str(),
        "SmartcardUuid": request.scid.map(|scid| scid.to_string()),
        "CardId": request.cardid.map(|cardid| cardid.to_string()),
    })
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    const PREFIX: &str = "/CertificateManagement/api/v1.0";
    const ID: &str = "a9b4b42c-cc50-4c9b-89d1-bbc0bcd5a099";

    #[test]
    fn routes_are_read_without_regard_to_case() {
        let id = Guid::parse(ID).unwrap();
        assert_eq!(
            route(&format!(
                "{PREFIX}/ProfileTemplates/{{{ID}}}/configuration/SmartCards"
            )),
            Some(Ok(Route::Configuration(id)))
        );
        assert_eq!(
            route("/certificatemanagement/API/v1.0/smartcards/"),
            Some(Ok(Route::SmartCards))
        );
        assert_eq!(
            route(&format!("{PREFIX}/requests/{ID}")),
            Some(Ok(Route::Request(id)))
        );
        assert_eq!(
            route(&format!("{PREFIX}/requests/{ID}/smartcards/{ID}")),
            Some(Ok(Route::RequestSmartCard(id, id)))
        );
        // The key routes and unknown paths are not this module's.
        assert_eq!(
            route(&format!("{PREFIX}/smartcards/{ID}/serverproposedpin")),
            None
        );
        assert_eq!(
            route(&format!(
                "{PREFIX}/requests/{ID}/smartcards/{ID}/diversifiedkey"
            )),
            None
        );
        assert_eq!(route("/nowhere"), None);
        assert!(route(&format!("{PREFIX}/requests/not-a-guid"))
            .unwrap()
            .unwrap_err()
            .starts_with("id: "));
    }

    #[test]
    fn bodies_are_strict_and_never_echo_a_value() {
        let ok = parse_body(
            format!(r#"{{"RequestId": "{ID}", "cardid": "{ID}", "ATR": "3B8F80"}}"#).as_bytes(),
            &SMART_CARD_FIELDS,
        )
        .unwrap();
        assert_eq!(guid_field(&ok, "requestid"), Guid::parse(ID).ok());
        let secret = "s3cr3t-value";
        for (body, expected) in [
            (
                format!(r#"{{"requestid": "{secret}", "cardid": "{ID}"}}"#),
                "requestid: not a GUID",
            ),
            (
                format!(r#"{{"requestid": "{ID}"}}"#),
                "cardid: required field is missing",
            ),
            (
                format!(r#"{{"requestid": "{ID}", "cardid": 5}}"#),
                "cardid: a GUID in a JSON string",
            ),
            (
                format!(r#"{{"requestid": "{ID}", "cardid": "{ID}", "{secret}": 1}}"#),
                "a field this route does not read",
            ),
            (
                format!(r#"{{"requestid": "{ID}", "RequestID": "{ID}", "cardid": "{ID}"}}"#),
                "requestid: given twice",
            ),
            (
                format!(r#"{{"requestid": "{ID}", "cardid": "{ID}", "atr": "{secret}"}}"#),
                "atr: an even number of hex digits",
            ),
            (format!("[\"{secret}\"]"), "body: a JSON object is expected"),
            (format!("{{\"{secret}"), "body: not JSON"),
        ] {
            let err = parse_body(body.as_bytes(), &SMART_CARD_FIELDS).unwrap_err();
            assert!(err.contains(expected), "{body}: {err}");
            assert!(!err.contains(secret), "{err}");
        }
        let err = parse_body(br#"{"status": "completed"}"#, &CLOSE_FIELDS).unwrap_err();
        assert!(
            err.contains("one of Completed, Canceled, Abandoned"),
            "{err}"
        );
        assert!(!err.contains("completed,"), "{err}");
    }

    #[test]
    fn the_configuration_holds_the_initial_key_and_no_other() {
        let key = AdminKey::from_hex("0102030405060708090A0B0C0D0E0F101112131415161718").unwrap();
        let policy = PinPolicy::default();
        let profile = Profile::new(None, &key, &policy, true);
        let value: Value = serde_json::from_str(&profile.configuration).unwrap();
        assert_eq!(
            value["DefaultAdminKeyHex"],
            "0102030405060708090A0B0C0D0E0F101112131415161718"
        );
        assert_eq!(value["DiversifyAdminKey"], true);
        assert_eq!(value["UserPinPolicy"]["MinLength"], policy.min_len());
        assert_eq!(value["AdminKeyAlgorithm"], "tdes");
    }
}
