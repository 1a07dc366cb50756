//! Parsing apart from answering (issue #16, item 1): `cardadmin_mimcm::parse_request` exposes what was asked
//! before any key is used, `cardadmin_mimcm::answer` answers it with an audit record, a server's refusal
//! (`RequestError::Forbidden`, `RequestError::RateLimited`) renders like every other error, and
//! `handle_request` stays parse + answer.

use cardadmin::{AdminKey, Algorithm, CardId, CmError, MasterKey, PinPolicy, UserPinOption};
use cardadmin_mimcm::RequestError;

const GUID: &str = "bc88f13f-83ba-4037-8262-46eba1291c6e";
const REQ: &str = "a9b4b42c-cc50-4c9b-89d1-bbc0bcd5a099";
const SCID: &str = "17cf063d-e337-4aa9-a822-346554ddd3c9";
const AUTH: &str = "/certificatemanagement/api/v1.0/requests/a9b4b42c-cc50-4c9b-89d1-bbc0bcd5a099/smartcards/17cf063d-e337-4aa9-a822-346554ddd3c9/authenticationresponse";
const DIVERSIFIED: &str = "/CertificateManagement/api/v1.0/requests/a9b4b42c-cc50-4c9b-89d1-bbc0bcd5a099/smartcards/17cf063d-e337-4aa9-a822-346554ddd3c9/diversifiedkey";
const PIN: &str =
    "/CertificateManagement/api/v1.0/smartcards/C6BAD97C-F97F-4920-8947-BE980C98C6B5/serverproposedpin";

fn targets() -> Vec<String> {
    vec![
        format!("{AUTH}?cardid={GUID}&challenge=1hFD%2Bcz%2F0so%3D&diversified=False"),
        format!("{AUTH}?cardid={GUID}&challenge=1hFD%2Bcz%2F0so%3D&diversified=true"),
        format!("{AUTH}?cardid={GUID}&challenge=AQIDBAUGBwgJCgsMDQ4PEA%3D%3D&diversified=true"),
        format!("{AUTH}?cardid={GUID}&challenge=1hFD+cz/0so=&diversified=false"),
        format!("{AUTH}?cardid={GUID}&challenge=1hFD%2Bcz%2F0so%3D"),
        format!("{DIVERSIFIED}?cardid={GUID}"),
        format!("{DIVERSIFIED}?cardid={GUID}&atr=3B"),
        format!("{DIVERSIFIED}?cardid=nope"),
        format!("{DIVERSIFIED}?cardid={GUID}&cardid={GUID}"),
        PIN.to_string(),
        format!("{PIN}?cardid={GUID}"),
        "/nowhere".to_string(),
        format!("{DIVERSIFIED}?cardid={}", "a".repeat(5000)),
    ]
}

fn master() -> MasterKey {
    MasterKey::from_hex("00112233445566778899AABBCCDDEEFF0102030405060708").unwrap()
}

/// `handle_request` and `parse_request` + `answer` give the same reply for every target, and
/// the record made before the answer is the one that comes with it, with 3DES and AES keys,
/// with a master and without.
#[test]
fn handle_request_is_parse_then_answer() {
    let keys = [
        (AdminKey::from_bytes([0; 24]), master()),
        (
            AdminKey::new(Algorithm::Aes128, &[7; 16]).unwrap(),
            MasterKey::new(Algorithm::Aes128, &[9; 16]).unwrap(),
        ),
    ];
    for (key, master) in &keys {
        for with_master in [true, false] {
            let policy = PinPolicy::default();
            let profile =
                cardadmin_mimcm::Profile::new(key, with_master.then_some(master), &policy).unwrap();
            for target in targets() {
                // The PIN is random: compare statuses there, whole replies elsewhere.
                let whole =
                    cardadmin_mimcm::handle_request(&profile, &target, &mut rand_core::OsRng);
                match cardadmin_mimcm::parse_request(&target) {
                    Err(error) => {
                        assert_eq!(whole, cardadmin_mimcm::Reply::from_error(error), "{target}")
                    }
                    Ok(parsed) => {
                        let before = parsed.audit(&profile);
                        let (reply, after) =
                            cardadmin_mimcm::answer(&parsed, &profile, &mut rand_core::OsRng);
                        assert_eq!(before, after, "{target}");
                        assert_eq!(after.status(), reply.status());
                        if parsed.endpoint() == cardadmin_mimcm::Endpoint::ServerProposedPin {
                            assert_eq!(reply.status(), whole.status());
                        } else {
                            assert_eq!(reply, whole, "{target}");
                        }
                    }
                }
            }
        }
    }
}

#[test]
fn the_parsed_request_names_what_was_asked() {
    let parsed = cardadmin_mimcm::parse_request(&format!(
        "{AUTH}?cardid={{{}}}&challenge=1hFD%2Bcz%2F0so%3D&diversified=%20TRUE%20",
        GUID.to_uppercase()
    ))
    .unwrap();
    assert_eq!(
        parsed.endpoint(),
        cardadmin_mimcm::Endpoint::AuthenticationResponse
    );
    assert_eq!(
        parsed.request_id(),
        Some(cardadmin_mimcm::Guid::parse(REQ).unwrap())
    );
    assert_eq!(
        parsed.smart_card_id(),
        cardadmin_mimcm::Guid::parse(SCID).unwrap()
    );
    assert_eq!(parsed.card_id(), Some(CardId::parse(GUID).unwrap()));
    assert_eq!(parsed.diversified(), Some(true));

    // Path GUIDs in another spelling are the same GUIDs.
    let upper = DIVERSIFIED
        .replace(REQ, &format!("{{{}}}", REQ.to_uppercase()))
        .replace(SCID, &SCID.replace('-', ""));
    let parsed = cardadmin_mimcm::parse_request(&format!("{upper}?cardid={GUID}")).unwrap();
    assert_eq!(parsed.request_id().unwrap().to_string(), REQ);
    assert_eq!(parsed.smart_card_id().to_string(), SCID);
    assert_eq!(parsed.diversified(), Some(true));

    let parsed = cardadmin_mimcm::parse_request(PIN).unwrap();
    assert_eq!(
        (parsed.request_id(), parsed.card_id(), parsed.diversified()),
        (None, None, None)
    );
    assert_eq!(
        parsed.smart_card_id().to_string(),
        "c6bad97c-f97f-4920-8947-be980c98c6b5"
    );
}

/// Which key role answers, and its check value: the initial key (E_K(0) check value) for
/// `diversified=false`, the card key (the master's CMAC check value) for `diversified=true`
/// and `diversifiedkey`, none for a PIN, none for a 204, none for a challenge the key cannot
/// take or a card key without a master (decided before any key is used).
#[test]
fn the_record_names_the_key_role_and_check_value() {
    let key = AdminKey::from_bytes([0; 24]);
    let master = master();
    let policy = PinPolicy::default();
    let profile = cardadmin_mimcm::Profile::new(&key, Some(&master), &policy).unwrap();
    let cases = [
        (
            format!("{AUTH}?cardid={GUID}&challenge=1hFD%2Bcz%2F0so%3D&diversified=False"),
            Some(cardadmin_mimcm::KeyRole::InitialKey),
            200,
        ),
        (
            format!("{AUTH}?cardid={GUID}&challenge=1hFD%2Bcz%2F0so%3D&diversified=True"),
            Some(cardadmin_mimcm::KeyRole::CardKey),
            200,
        ),
        (
            format!("{DIVERSIFIED}?cardid={GUID}"),
            Some(cardadmin_mimcm::KeyRole::CardKey),
            200,
        ),
        (
            format!("{AUTH}?cardid={GUID}&challenge=AQIDBAUGBwgJCgsMDQ4PEA%3D%3D&diversified=true"),
            None,
            400,
        ),
        (PIN.to_string(), None, 200),
    ];
    for (target, role, status) in cases {
        let parsed = cardadmin_mimcm::parse_request(&target).unwrap();
        let record = parsed.audit(&profile);
        assert_eq!(record.key_role(), role, "{target}");
        let expected = role.map(|role| match role {
            cardadmin_mimcm::KeyRole::InitialKey => key.check_value(),
            _ => master.check_value(),
        });
        assert_eq!(record.key_check_value(), expected, "{target}");
        assert_eq!(record.status(), status, "{target}");
    }
    // The initial key's check value is E_K(0): 8CA64D for the all-zero 3DES key.
    let documented = cardadmin_mimcm::parse_request(&format!(
        "{AUTH}?cardid={GUID}&challenge=1hFD%2Bcz%2F0so%3D&diversified=False"
    ))
    .unwrap();
    assert_eq!(
        documented
            .audit(&profile)
            .key_check_value()
            .unwrap()
            .to_string(),
        "8CA64D"
    );

    // No master: the card key is a 400 that says so, with no key role.
    let no_master = cardadmin_mimcm::Profile::without_master(&key, &policy);
    let parsed = cardadmin_mimcm::parse_request(&format!("{DIVERSIFIED}?cardid={GUID}")).unwrap();
    let record = parsed.audit(&no_master);
    assert_eq!((record.key_role(), record.status()), (None, 400));
    let (reply, done) = cardadmin_mimcm::answer(&parsed, &no_master, &mut rand_core::OsRng);
    assert_eq!(
        reply.error(),
        Some(RequestError::Core(CmError::NoDiversificationKey))
    );
    assert_eq!(done, record);

    let user_pin = PinPolicy::builder()
        .user_pin_option(UserPinOption::UserProvided)
        .build()
        .unwrap();
    let profile = cardadmin_mimcm::Profile::new(&key, Some(&master), &user_pin).unwrap();
    let record = cardadmin_mimcm::parse_request(PIN).unwrap().audit(&profile);
    assert_eq!((record.key_role(), record.status()), (None, 204));
}

/// The record never holds what the answer holds: not the diversified key, not the response,
/// not a PIN.
#[test]
fn the_record_holds_no_secret() {
    let key = AdminKey::from_hex("0102030405060708090a0b0c0d0e0f101112131415161718").unwrap();
    let master = MasterKey::from_hex("a1a2a3a4a5a6a7a8b1b2b3b4b5b6b7b8c1c2c3c4c5c6c7c8").unwrap();
    let policy = PinPolicy::default();
    let profile = cardadmin_mimcm::Profile::new(&key, Some(&master), &policy).unwrap();
    for target in [
        format!("{DIVERSIFIED}?cardid={GUID}"),
        format!("{AUTH}?cardid={GUID}&challenge=1hFD%2Bcz%2F0so%3D&diversified=true"),
        PIN.to_string(),
    ] {
        let parsed = cardadmin_mimcm::parse_request(&target).unwrap();
        let (reply, record) = cardadmin_mimcm::answer(&parsed, &profile, &mut rand_core::OsRng);
        assert_eq!(reply.status(), 200);
        let secret = reply.body().trim_matches('"').to_string();
        let debug = format!("{record:?} {parsed:?}");
        assert!(!debug.contains(&secret), "{debug}");
        assert!(!debug.contains("0102030405"), "{debug}");
        assert!(!debug.to_lowercase().contains("a1a2a3a4"), "{debug}");
    }
}

/// A server's refusals are errors of the facade: 403 and 429 with a JSON message, no
/// parameter, and an audit record with no key.
#[test]
fn refusals_render_like_every_other_error() {
    let forbidden = RequestError::Forbidden {
        rule: "the caller is not the request's operator",
    };
    let reply = cardadmin_mimcm::Reply::from_error(forbidden);
    assert_eq!(reply.status(), 403);
    assert_eq!(reply.content_type(), Some(cardadmin_mimcm::CONTENT_TYPE));
    assert_eq!(
        reply.body(),
        r#"{"Message":"forbidden: the caller is not the request's operator"}"#
    );
    assert_eq!(forbidden.parameter(), None);

    let limited = RequestError::RateLimited { per_minute: 60 };
    let reply = cardadmin_mimcm::Reply::from_error(limited);
    assert_eq!(reply.status(), 429);
    let body: serde_json::Value = serde_json::from_str(reply.body()).unwrap();
    assert_eq!(
        body["Message"],
        "rate limited: more than 60 key uses in a minute by this caller; try again later"
    );

    let parsed = cardadmin_mimcm::parse_request(&format!("{DIVERSIFIED}?cardid={GUID}")).unwrap();
    let record = cardadmin_mimcm::AuditRecord::refused(Some(&parsed), forbidden);
    assert_eq!(record.status(), 403);
    assert_eq!(
        record.endpoint(),
        Some(cardadmin_mimcm::Endpoint::DiversifiedKey)
    );
    assert_eq!(record.request_id(), parsed.request_id());
    assert_eq!(record.card_id(), parsed.card_id());
    assert_eq!((record.key_role(), record.key_check_value()), (None, None));
    assert_eq!(record.smart_card_id(), Some(parsed.smart_card_id()));
    // `diversifiedkey` always answers with the diversified key.
    assert_eq!(record.diversified(), Some(true));
}

/// The audit record names the path's smart card and `diversified` as asked (true or false),
/// or `None` for `serverproposedpin`, which uses no key.
#[test]
fn the_record_carries_the_smart_card_and_diversified() {
    let key = AdminKey::from_bytes([0; 24]);
    let master = master();
    let policy = PinPolicy::default();
    let profile = cardadmin_mimcm::Profile::new(&key, Some(&master), &policy).unwrap();
    for (query, diversified) in [
        ("&diversified=true", Some(true)),
        ("&diversified=False", Some(false)),
    ] {
        let target = format!("{AUTH}?cardid={GUID}&challenge=1hFD%2Bcz%2F0so%3D{query}");
        let parsed = cardadmin_mimcm::parse_request(&target).unwrap();
        let (reply, record) = cardadmin_mimcm::answer(&parsed, &profile, &mut rand_core::OsRng);
        assert_eq!(reply.status(), 200, "{target}");
        assert_eq!(
            record.smart_card_id(),
            Some(cardadmin_mimcm::Guid::parse(SCID).unwrap())
        );
        assert_eq!(record.diversified(), diversified, "{target}");
    }
    let pin = cardadmin_mimcm::parse_request(PIN).unwrap();
    let record = pin.audit(&profile);
    assert_eq!(
        record.smart_card_id().map(|id| id.to_string()).as_deref(),
        Some("c6bad97c-f97f-4920-8947-be980c98c6b5")
    );
    assert_eq!((record.request_id(), record.diversified()), (None, None));
}

/// Endpoints and key roles print as the docs spell them (MIM CM's path segments, the audit
/// trail's names); a GUID's `Debug` is its `D` form, named.
#[test]
fn names_print_as_documented() {
    for (endpoint, name) in [
        (
            cardadmin_mimcm::Endpoint::AuthenticationResponse,
            "authenticationresponse",
        ),
        (cardadmin_mimcm::Endpoint::DiversifiedKey, "diversifiedkey"),
        (
            cardadmin_mimcm::Endpoint::ServerProposedPin,
            "serverproposedpin",
        ),
    ] {
        assert_eq!(endpoint.as_str(), name);
        assert_eq!(endpoint.to_string(), name);
    }
    for (role, name) in [
        (cardadmin_mimcm::KeyRole::InitialKey, "initial_key"),
        (cardadmin_mimcm::KeyRole::CardKey, "card_key"),
    ] {
        assert_eq!(role.as_str(), name);
        assert_eq!(role.to_string(), name);
    }
    let guid = cardadmin_mimcm::Guid::parse(&format!("{{{}}}", SCID.to_uppercase())).unwrap();
    assert_eq!(format!("{guid:?}"), format!("Guid({SCID})"));
}

/// A target of exactly `MAX_TARGET_LEN` bytes is read; one byte more is a 414.
#[test]
fn the_target_limit_is_inclusive() {
    // Unknown query parameters are ignored: one fills the target up to the limit.
    let base = format!("{DIVERSIFIED}?cardid={GUID}&padding=");
    let at_limit = format!(
        "{base}{}",
        "x".repeat(cardadmin_mimcm::MAX_TARGET_LEN - base.len())
    );
    assert_eq!(at_limit.len(), cardadmin_mimcm::MAX_TARGET_LEN);
    assert!(cardadmin_mimcm::parse_request(&at_limit).is_ok());
    let over = format!("{at_limit}x");
    assert_eq!(
        cardadmin_mimcm::parse_request(&over).unwrap_err(),
        RequestError::TooLong {
            limit: cardadmin_mimcm::MAX_TARGET_LEN,
            found: cardadmin_mimcm::MAX_TARGET_LEN + 1
        }
    );
}

/// In a path, `+` is a plus sign (RFC 3986), not a space as in a query string: a GUID with a
/// `+` after it is not a GUID, though one with a space after it is (`Guid.Parse` trims).
#[test]
fn a_plus_in_the_path_is_not_a_space() {
    let id = "C6BAD97C-F97F-4920-8947-BE980C98C6B5";
    let target = |segment: &str| {
        format!("/CertificateManagement/api/v1.0/smartcards/{segment}/serverproposedpin")
    };
    let err = cardadmin_mimcm::parse_request(&target(&format!("{id}+"))).unwrap_err();
    assert!(
        matches!(
            err,
            RequestError::PathGuid {
                parameter: "id",
                ..
            }
        ),
        "{err:?}"
    );
    assert!(cardadmin_mimcm::parse_request(&target(&format!("{id}%20"))).is_ok());
}

/// Error bodies are JSON whatever the message holds: a server's own refusal rule with quotes,
/// backslashes and control characters comes back as it was.
#[test]
fn error_bodies_escape_every_control_character() {
    let rule = "a\"b\\c\nd\re\tf\u{1}g\u{1f}h\u{7f}i";
    let reply = cardadmin_mimcm::Reply::from_error(RequestError::Forbidden { rule });
    let body: serde_json::Value = serde_json::from_str(reply.body()).unwrap();
    assert_eq!(body["Message"], format!("forbidden: {rule}"));
    for escape in ["\\u0001", "\\u001f", "\\u007f", "\\n", "\\r", "\\t"] {
        assert!(
            reply.body().contains(escape),
            "{escape} in {}",
            reply.body()
        );
    }
    assert!(
        !reply.body().chars().any(char::is_control),
        "{:?}",
        reply.body()
    );
}

#[test]
fn guids_compare_as_guids() {
    let forms = [
        "a9b4b42c-cc50-4c9b-89d1-bbc0bcd5a099",
        "A9B4B42C-CC50-4C9B-89D1-BBC0BCD5A099",
        "{a9b4b42c-cc50-4c9b-89d1-bbc0bcd5a099}",
        "(a9b4b42c-cc50-4c9b-89d1-bbc0bcd5a099)",
        "a9b4b42ccc504c9b89d1bbc0bcd5a099",
        " a9b4b42c-cc50-4c9b-89d1-bbc0bcd5a099 ",
    ];
    let first = cardadmin_mimcm::Guid::parse(forms[0]).unwrap();
    for form in forms {
        assert_eq!(cardadmin_mimcm::Guid::parse(form).unwrap(), first, "{form}");
        assert_eq!(form.parse::<cardadmin_mimcm::Guid>().unwrap(), first);
    }
    assert_ne!(cardadmin_mimcm::Guid::parse(SCID).unwrap(), first);
    // The same 16 bytes as the card ID type reads them.
    assert_eq!(
        cardadmin_mimcm::Guid::parse(GUID).unwrap().as_bytes(),
        CardId::parse(GUID).unwrap().as_bytes()
    );
    assert!(cardadmin_mimcm::Guid::parse("a9b4b42c-cc50-4c9b-89d1-bbc0bcd5a09").is_err());
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(1000))]

    /// Any query on any route: parse + answer is `handle_request`, and the record made first
    /// is the record that comes with the answer.
    #[test]
    fn parse_then_answer_agrees_on_any_query(
        route in 0usize..4,
        query in "[a-zA-Z0-9%+=&/ \u{0}-\u{7f}]{0,160}",
    ) {
        let prefix = ["/x", AUTH, DIVERSIFIED, PIN][route];
        let target = format!("{prefix}?{query}");
        let key = AdminKey::from_bytes([0; 24]);
        let master = master();
        let policy = PinPolicy::default();
        let profile = cardadmin_mimcm::Profile::new(&key, Some(&master), &policy).unwrap();
        let whole = cardadmin_mimcm::handle_request(&profile, &target, &mut rand_core::OsRng);
        match cardadmin_mimcm::parse_request(&target) {
            Err(error) => proptest::prop_assert_eq!(whole, cardadmin_mimcm::Reply::from_error(error)),
            Ok(parsed) => {
                let before = parsed.audit(&profile);
                let (reply, after) = cardadmin_mimcm::answer(&parsed, &profile, &mut rand_core::OsRng);
                proptest::prop_assert_eq!(before, after);
                proptest::prop_assert_eq!(reply.status(), whole.status());
            }
        }
    }
}

/// A profile's `Debug` names the keys by algorithm and check value only: what a log may hold.
#[test]
fn profile_debug_shows_no_key_bytes() {
    let key = AdminKey::from_hex("0123456789abcdeffedcba98765432100011223344556677").unwrap();
    let master = MasterKey::from_hex("00112233445566778899aabbccddeeff0102030405060708").unwrap();
    let policy = PinPolicy::default();
    let profile = cardadmin_mimcm::Profile::new(&key, Some(&master), &policy).unwrap();
    let shown = format!("{profile:?}");
    assert_eq!(
        shown,
        format!("Profile {{ initial_key: {key:?}, master: Some(Tdes), pin_policy: {policy:?} }}")
    );
    assert!(
        !shown.to_lowercase().contains("0123456789abcdef"),
        "{shown}"
    );
    assert!(
        !shown.to_lowercase().contains("0011223344556677"),
        "{shown}"
    );
    let plain = cardadmin_mimcm::Profile::without_master(&key, &policy);
    assert!(format!("{plain:?}").contains("master: None"));
    assert!(plain.master().is_none());
    assert_eq!(
        profile.master().map(MasterKey::check_value),
        Some(master.check_value())
    );
}
