//! The request-level MIM CM facade (`cardadmin_mimcm::handle_request`): every promise of issue #9, item 1,
//! with the exact status, content type and body.

use cardadmin::rand_core::{self, CryptoRng, RngCore};
use cardadmin_mimcm::RequestError;
use std::sync::LazyLock;

use cardadmin::{
    AdminKey, CmError, GenerateError, MasterKey, ParseError, PinPolicy, UserPinOption,
};

const JSON: Option<&str> = Some("application/json; charset=utf-8");
const GUID: &str = "bc88f13f-83ba-4037-8262-46eba1291c6e";
const AUTH: &str = "/certificatemanagement/api/v1.0/requests/a9b4b42c-cc50-4c9b-89d1-bbc0bcd5a099/smartcards/17cf063d-e337-4aa9-a822-346554ddd3c9/authenticationresponse";
const DIVERSIFIED: &str = "/CertificateManagement/api/v1.0/requests/a9b4b42c-cc50-4c9b-89d1-bbc0bcd5a099/smartcards/17cf063d-e337-4aa9-a822-346554ddd3c9/diversifiedkey";
const PIN: &str =
    "/CertificateManagement/api/v1.0/smartcards/C6BAD97C-F97F-4920-8947-BE980C98C6B5/serverproposedpin";

/// A generator that always fails.
struct Broken;

impl RngCore for Broken {
    fn next_u32(&mut self) -> u32 {
        0
    }
    fn next_u64(&mut self) -> u64 {
        0
    }
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        dest.fill(0)
    }
    fn try_fill_bytes(&mut self, _: &mut [u8]) -> Result<(), rand_core::Error> {
        Err(std::num::NonZeroU32::new(rand_core::Error::CUSTOM_START)
            .unwrap()
            .into())
    }
}

impl CryptoRng for Broken {}

/// The MIM CM documentation's initial admin key: all zeros.
fn zero_key() -> AdminKey {
    AdminKey::from_hex("000000000000000000000000000000000000000000000000").unwrap()
}

/// The profile's diversification key, a different key from the initial one.
static MASTER: LazyLock<MasterKey> = LazyLock::new(|| {
    MasterKey::from_hex("00112233445566778899AABBCCDDEEFF0102030405060708").unwrap()
});

fn get(target: &str) -> cardadmin_mimcm::Reply {
    let key = zero_key();
    let policy = PinPolicy::default();
    cardadmin_mimcm::handle_request(
        &cardadmin_mimcm::Profile::new(&key, Some(&*MASTER), &policy).unwrap(),
        target,
        &mut rand_core::OsRng,
    )
}

fn auth(query: &str) -> cardadmin_mimcm::Reply {
    get(&format!("{AUTH}?{query}"))
}

/// Asserts a 400 whose error is `expected`, with the exact JSON body.
fn assert_bad(reply: &cardadmin_mimcm::Reply, expected: RequestError) {
    assert_eq!(reply.status(), 400, "{reply:?}");
    assert_eq!(reply.content_type(), JSON);
    assert_eq!(reply.error(), Some(expected));
    let parameter = expected.parameter().unwrap();
    let message = expected.to_string();
    assert!(message.starts_with(&format!("{parameter}: ")), "{message}");
    assert_eq!(
        reply.body(),
        format!(
            "{{\"Message\":{},\"Parameter\":\"{parameter}\"}}",
            serde_json::to_string(&message).unwrap()
        )
    );
    let parsed: serde_json::Value = serde_json::from_str(reply.body()).unwrap();
    assert_eq!(parsed["Message"], message);
}

#[test]
fn the_documented_request() {
    let reply = get("/certificatemanagement/api/v1.0/requests/a9b4b42c-cc50-4c9b-89d1-bbc0bcd5a099/smartcards/17cf063d-e337-4aa9-a822-346554ddd3c9/authenticationresponse?cardid=bc88f13f-83ba-4037-8262-46eba1291c6e&challenge=1hFD%2Bcz%2F0so%3D&diversified=False");
    assert_eq!(reply.status(), 200);
    assert_eq!(reply.content_type(), JSON);
    assert_eq!(reply.body(), "\"F0Zudm4wPLY=\"");
    assert_eq!(reply.error(), None);
    assert_eq!(reply.into_body().as_str(), "\"F0Zudm4wPLY=\"");
}

#[test]
fn routes_match_without_regard_to_case_and_with_a_trailing_slash() {
    let query = "?cardid=bc88f13f-83ba-4037-8262-46eba1291c6e&challenge=1hFD%2Bcz%2F0so%3D&diversified=False";
    for path in [
        AUTH.to_string(),
        AUTH.to_uppercase(),
        AUTH.replace("certificatemanagement", "CertificateManagement")
            .replace("authenticationresponse", "AuthenticationResponse"),
        format!("{AUTH}/"),
        // Percent-encoded path characters are decoded before matching.
        AUTH.replace("smartcards", "%73martcards"),
        AUTH.replace(
            "a9b4b42c-cc50-4c9b-89d1-bbc0bcd5a099",
            "%7Ba9b4b42c-cc50-4c9b-89d1-bbc0bcd5a099%7D",
        ),
    ] {
        let reply = get(&format!("{path}{query}"));
        assert_eq!(reply.body(), "\"F0Zudm4wPLY=\"", "{path}");
    }
}

#[test]
fn query_keys_match_without_regard_to_case_in_any_order() {
    let reply = auth("Diversified=FALSE&CHALLENGE=1hFD%2Bcz%2F0so%3D&CardId=bc88f13f-83ba-4037-8262-46eba1291c6e&unknown=ignored&&");
    assert_eq!(reply.body(), "\"F0Zudm4wPLY=\"");
}

#[test]
fn boolean_parse_forms() {
    let key = zero_key();
    let card = MASTER.diversify(&GUID.parse().unwrap());
    let challenge = "1hFD+cz/0so=".parse().unwrap();
    let plain = format!("\"{}\"", key.respond(&challenge).unwrap());
    let diversified = format!("\"{}\"", card.respond(&challenge).unwrap());
    assert_ne!(plain, diversified);
    for (text, expected) in [
        ("False", &plain),
        ("false", &plain),
        ("FALSE", &plain),
        ("fAlSe", &plain),
        ("%20False%20", &plain),
        ("+false+", &plain),
        ("%09%0Afalse%0D", &plain),
        ("True", &diversified),
        ("true", &diversified),
        ("TRUE", &diversified),
        ("%E2%80%83True", &diversified), // U+2003 EM SPACE: .NET trims it too
    ] {
        let reply = auth(&format!(
            "cardid={GUID}&challenge=1hFD%2Bcz%2F0so%3D&diversified={text}"
        ));
        assert_eq!(reply.status(), 200, "{text}");
        assert_eq!(reply.body(), expected.as_str(), "{text}");
    }
    for text in [
        "", "0", "1", "yes", "Tru", "Truee", "T rue", "%00True", "on",
    ] {
        let reply = auth(&format!(
            "cardid={GUID}&challenge=1hFD%2Bcz%2F0so%3D&diversified={text}"
        ));
        assert_eq!(reply.status(), 400, "{text}");
        assert_eq!(
            reply.error().unwrap().parameter(),
            Some("diversified"),
            "{text}"
        );
    }
    assert_bad(
        &auth(&format!(
            "cardid={GUID}&challenge=1hFD%2Bcz%2F0so%3D&diversified=yes"
        )),
        RequestError::Diversified { found: 3 },
    );
    assert_eq!(
        auth(&format!(
            "cardid={GUID}&challenge=1hFD%2Bcz%2F0so%3D&diversified="
        ))
        .body(),
        r#"{"Message":"diversified: value is empty; send True or False","Parameter":"diversified"}"#
    );
    assert_eq!(
        RequestError::Diversified { found: 3 }.to_string(),
        "diversified: must be True or False (any case, as .NET Boolean.Parse reads it), got 3 characters of something else"
    );
}

#[test]
fn an_unencoded_plus_is_a_400_that_says_to_send_percent_2b() {
    let reply = auth(&format!(
        "cardid={GUID}&challenge=1hFD+cz/0so=&diversified=false"
    ));
    let expected = RequestError::UnencodedPlus {
        parameter: "challenge",
        position: 4,
    };
    assert_bad(&reply, expected);
    assert_eq!(
        expected.to_string(),
        "challenge: '+' at position 4 was not percent-encoded, and in a query string '+' means a space; send it as %2B"
    );
    // A space sent as %20 is a space, not a '+': the base64 error says what it probably was.
    let reply = auth(&format!(
        "cardid={GUID}&challenge=1hFD%20cz/0so=&diversified=false"
    ));
    assert_bad(
        &reply,
        RequestError::Core(CmError::Challenge(ParseError::Space {
            what: "challenge",
            position: 4,
        })),
    );
    assert!(reply
        .body()
        .contains("challenge: value has a space at position 4"));
    // '/' and '=' need no encoding.
    let reply = auth(&format!(
        "cardid={GUID}&challenge=1hFD%2Bcz/0so=&diversified=false"
    ));
    assert_eq!(reply.body(), "\"F0Zudm4wPLY=\"");
}

#[test]
fn messages_never_repeat_the_parameter_name() {
    for query in [
        format!("cardid={GUID}&challenge=AAAAAAAA&diversified=false"),
        format!("cardid={GUID}&challenge=1hFD-cz_0so=&diversified=false"),
        format!("cardid={GUID}&challenge=&diversified=false"),
    ] {
        let reply = auth(&query);
        assert_eq!(reply.status(), 400);
        let message = reply.error().unwrap().to_string();
        assert!(message.starts_with("challenge: value "), "{message}");
        assert!(!message.contains("challenge: challenge"), "{message}");
    }
    let reply = auth(&format!(
        "cardid={GUID}&challenge=AAAAAAAA&diversified=false"
    ));
    assert_eq!(
        reply.body(),
        r#"{"Message":"challenge: value must decode to 8 bytes, got 6","Parameter":"challenge"}"#
    );
}

#[test]
fn missing_and_duplicated_parameters() {
    for (query, parameter) in [
        (
            "challenge=1hFD%2Bcz%2F0so%3D&diversified=false".to_string(),
            "cardid",
        ),
        (format!("cardid={GUID}&diversified=false"), "challenge"),
        (
            format!("cardid={GUID}&challenge=1hFD%2Bcz%2F0so%3D"),
            "diversified",
        ),
    ] {
        assert_bad(&auth(&query), RequestError::Missing { parameter });
    }
    assert_bad(
        &get(AUTH),
        RequestError::Missing {
            parameter: "cardid",
        },
    );
    for (query, parameter) in [
        (format!("cardid={GUID}&CARDID={GUID}&challenge=1hFD%2Bcz%2F0so%3D&diversified=false"), "cardid"),
        (format!("cardid={GUID}&challenge=1hFD%2Bcz%2F0so%3D&Challenge=1hFD%2Bcz%2F0so%3D&diversified=false"), "challenge"),
        (format!("cardid={GUID}&challenge=1hFD%2Bcz%2F0so%3D&diversified=false&diversified=false"), "diversified"),
        (format!("cardid={GUID}&challenge=1hFD%2Bcz%2F0so%3D&diversified=false&atr=3b&ATR=3b"), "atr"),
    ] {
        assert_bad(&auth(&query), RequestError::Duplicate { parameter });
    }
}

#[test]
fn atr_is_checked_as_hex_when_present() {
    let base = format!("cardid={GUID}&challenge=1hFD%2Bcz%2F0so%3D&diversified=false");
    for atr in [
        "3b8f8001804f0ca000000306030001000000006a",
        "3B",
        "",
        &"ab".repeat(33),
    ] {
        let reply = auth(&format!("{base}&atr={atr}"));
        assert_eq!(reply.body(), "\"F0Zudm4wPLY=\"", "{atr}");
    }
    let reply = auth(&format!("{base}&atr=3b8"));
    assert_bad(
        &reply,
        RequestError::Atr(ParseError::Length {
            what: "value",
            expected: "an even number of hex digits, at most 66,",
            found: 3,
        }),
    );
    assert_eq!(
        reply.error().unwrap().to_string(),
        "atr: value must be an even number of hex digits, at most 66, characters long, got 3"
    );
    assert_eq!(
        auth(&format!("{base}&atr={}", "ab".repeat(34)))
            .error()
            .unwrap()
            .parameter(),
        Some("atr")
    );
    assert_bad(
        &auth(&format!("{base}&atr=3b+8f")),
        RequestError::Atr(ParseError::InvalidCharacter {
            what: "value",
            position: 2,
            found: ' ',
            expected: "a hex digit",
        }),
    );
    // On the other two endpoints too.
    assert_eq!(
        get(&format!("{DIVERSIFIED}?cardid={GUID}&atr=zz")).status(),
        400
    );
    assert_eq!(get(&format!("{PIN}?atr=zz")).status(), 400);
    assert_eq!(get(&format!("{PIN}?atr=3b00")).status(), 200);
}

#[test]
fn cardid_forms_and_errors() {
    let base = "challenge=1hFD%2Bcz%2F0so%3D&diversified=false";
    for card in [
        "bc88f13f-83ba-4037-8262-46eba1291c6e",
        "BC88F13F-83BA-4037-8262-46EBA1291C6E",
        "%7Bbc88f13f-83ba-4037-8262-46eba1291c6e%7D",
        "(bc88f13f-83ba-4037-8262-46eba1291c6e)",
        "bc88f13f83ba4037826246eba1291c6e",
        "+bc88f13f-83ba-4037-8262-46eba1291c6e%20",
    ] {
        assert_eq!(
            auth(&format!("cardid={card}&{base}")).status(),
            200,
            "{card}"
        );
    }
    let reply = auth(&format!("cardid=not-a-guid&{base}"));
    assert_bad(
        &reply,
        RequestError::Core(CmError::CardId(ParseError::Length {
            what: "card ID",
            expected: "32 (bare hex), 36 (hyphenated) or 38 (hyphenated, in '{}' or '()')",
            found: 10,
        })),
    );
    assert_eq!(
        reply.error().unwrap().to_string(),
        "cardid: card ID must be 32 (bare hex), 36 (hyphenated) or 38 (hyphenated, in '{}' or '()') characters long, got 10"
    );
}

#[test]
fn path_guids_are_checked_and_named() {
    let query = format!("?cardid={GUID}&challenge=1hFD%2Bcz%2F0so%3D&diversified=false");
    let reply = get(&format!(
        "{}{query}",
        AUTH.replace("a9b4b42c-cc50-4c9b-89d1-bbc0bcd5a099", "42")
    ));
    assert_bad(
        &reply,
        RequestError::PathGuid {
            parameter: "reqid",
            error: ParseError::Length {
                what: "GUID",
                expected: "32 (bare hex), 36 (hyphenated) or 38 (hyphenated, in '{}' or '()')",
                found: 2,
            },
        },
    );
    assert_eq!(
        reply.error().unwrap().to_string(),
        "reqid: GUID must be 32 (bare hex), 36 (hyphenated) or 38 (hyphenated, in '{}' or '()') characters long, got 2"
    );
    let reply = get(&format!(
        "{}{query}",
        AUTH.replace(
            "17cf063d-e337-4aa9-a822-346554ddd3c9",
            "17cf063d-e337-4aa9-a822-346554ddd3cx"
        )
    ));
    assert_eq!(reply.error().unwrap().parameter(), Some("scid"));
    let reply = get(&PIN.replace("C6BAD97C-F97F-4920-8947-BE980C98C6B5", "{C6BAD97C}"));
    assert_eq!(reply.error().unwrap().parameter(), Some("id"));
    assert_eq!(reply.status(), 400);
}

#[test]
fn unknown_routes_are_404() {
    for target in [
        "/",
        "",
        "?cardid=x",
        "/CertificateManagement/api/v1.0",
        "/CertificateManagement/api/v2.0/smartcards/C6BAD97C-F97F-4920-8947-BE980C98C6B5/serverproposedpin",
        "/api/v1.0/smartcards/C6BAD97C-F97F-4920-8947-BE980C98C6B5/serverproposedpin",
        "/CertificateManagement/api/v1.0/smartcards/C6BAD97C-F97F-4920-8947-BE980C98C6B5/serverproposedpin/extra",
        "/CertificateManagement/api/v1.0/smartcards/C6BAD97C-F97F-4920-8947-BE980C98C6B5//serverproposedpin",
        "/CertificateManagement/api/v1.0/requests/a9b4b42c-cc50-4c9b-89d1-bbc0bcd5a099/smartcards/17cf063d-e337-4aa9-a822-346554ddd3c9/unknown",
        "/CertificateManagement/api/v1.0/requests/a9b4b42c-cc50-4c9b-89d1-bbc0bcd5a099/smartcards/17cf063d-e337-4aa9-a822-346554ddd3c9/serverproposedpin",
        "CertificateManagement/api/v1.0/smartcards/C6BAD97C-F97F-4920-8947-BE980C98C6B5/serverproposedpin",
        // Both literal segments of the request routes must match, not either.
        "/CertificateManagement/api/v1.0/demands/a9b4b42c-cc50-4c9b-89d1-bbc0bcd5a099/smartcards/17cf063d-e337-4aa9-a822-346554ddd3c9/diversifiedkey",
        "/CertificateManagement/api/v1.0/requests/a9b4b42c-cc50-4c9b-89d1-bbc0bcd5a099/cards/17cf063d-e337-4aa9-a822-346554ddd3c9/authenticationresponse",
    ] {
        let reply = get(target);
        assert_eq!(reply.status(), 404, "{target}");
        assert_eq!(reply.content_type(), JSON);
        assert_eq!(reply.error(), Some(RequestError::NotFound));
        let parsed: serde_json::Value = serde_json::from_str(reply.body()).unwrap();
        assert!(parsed["Message"]
            .as_str()
            .unwrap()
            .starts_with("request target: no MIM CM endpoint here"));
        assert!(parsed.get("Parameter").is_none());
    }
}

#[test]
fn diversifiedkey() {
    let expected = MASTER.diversify(&GUID.parse().unwrap()).to_base64();
    let reply = get(&format!("{DIVERSIFIED}?cardid={GUID}"));
    assert_eq!(reply.status(), 200);
    assert_eq!(reply.content_type(), JSON);
    assert_eq!(reply.body(), format!("\"{}\"", expected.as_str()));
    assert_bad(
        &get(DIVERSIFIED),
        RequestError::Missing {
            parameter: "cardid",
        },
    );
    // A profile without a master key: a 400 that says so (once the request is well formed),
    // never a key derived from, or an answer by, the initial key.
    let policy = PinPolicy::default();
    let key = zero_key();
    let profile = cardadmin_mimcm::Profile::without_master(&key, &policy);
    let reply = cardadmin_mimcm::handle_request(
        &profile,
        &format!("{DIVERSIFIED}?cardid={GUID}"),
        &mut rand_core::OsRng,
    );
    assert_eq!(reply.status(), 400);
    assert_eq!(reply.content_type(), JSON);
    assert_eq!(
        reply.error(),
        Some(RequestError::Core(CmError::NoDiversificationKey))
    );
    assert!(reply
        .body()
        .starts_with(r#"{"Message":"diversification key: this profile has none"#));
    assert_bad(
        &cardadmin_mimcm::handle_request(&profile, DIVERSIFIED, &mut rand_core::OsRng),
        RequestError::Missing {
            parameter: "cardid",
        },
    );
    let reply = cardadmin_mimcm::handle_request(
        &profile,
        &format!("{AUTH}?cardid={GUID}&challenge=1hFD%2Bcz%2F0so%3D&diversified=true"),
        &mut rand_core::OsRng,
    );
    assert_eq!(
        reply.error(),
        Some(RequestError::Core(CmError::NoDiversificationKey))
    );
    let reply = cardadmin_mimcm::handle_request(
        &profile,
        &format!("{AUTH}?cardid={GUID}&challenge=1hFD%2Bcz%2F0so%3D&diversified=false"),
        &mut rand_core::OsRng,
    );
    assert_eq!(reply.body(), "\"F0Zudm4wPLY=\"");
}

#[test]
fn serverproposedpin_without_a_query_as_in_mims_example() {
    let reply = get(PIN);
    assert_eq!(reply.status(), 200);
    assert_eq!(reply.content_type(), JSON);
    let pin: String = serde_json::from_str(reply.body()).unwrap();
    assert_eq!(PinPolicy::default().validate(&pin), Ok(()));
    // The literal text of MIM's example, and with its optional parameters.
    assert_eq!(
        get("/CertificateManagement/api/v1.0/smartcards/C6BAD97C-F97F-4920-8947-BE980C98C6B5/serverproposedpin").status(),
        200
    );
    for query in [
        format!("cardid={GUID}"),
        "challenge=1hFD%2Bcz%2F0so%3D".to_string(),
        format!("cardid={GUID}&challenge=1hFD%2Bcz%2F0so%3D&atr=3b00"),
    ] {
        assert_eq!(get(&format!("{PIN}?{query}")).status(), 200, "{query}");
    }
    // Optional, but checked when present.
    assert_eq!(
        get(&format!("{PIN}?cardid=x")).error().unwrap().parameter(),
        Some("cardid")
    );
    assert_bad(
        &get(&format!("{PIN}?challenge=1hFD+cz/0so=")),
        RequestError::UnencodedPlus {
            parameter: "challenge",
            position: 4,
        },
    );
    assert_eq!(
        get(&format!("{PIN}?cardid={GUID}&cardid={GUID}")).status(),
        400
    );
}

#[test]
fn pin_bodies_are_json_strings_even_with_quotes_and_backslashes() {
    let key = zero_key();
    let policy = PinPolicy::builder()
        .min_len(127)
        .max_len(127)
        .special(cardadmin::CharRule::Require)
        .build()
        .unwrap();
    let profile = cardadmin_mimcm::Profile::new(&key, Some(&*MASTER), &policy).unwrap();
    for _ in 0..20 {
        let reply = cardadmin_mimcm::handle_request(&profile, PIN, &mut rand_core::OsRng);
        assert_eq!(reply.status(), 200);
        let pin: String = serde_json::from_str(reply.body()).unwrap();
        assert_eq!(pin.len(), 127);
        assert_eq!(policy.validate(&pin), Ok(()));
    }
}

#[test]
fn serverproposedpin_204_and_500() {
    let key = zero_key();
    let user = PinPolicy::builder()
        .user_pin_option(UserPinOption::UserProvided)
        .build()
        .unwrap();
    let reply = cardadmin_mimcm::handle_request(
        &cardadmin_mimcm::Profile::new(&key, Some(&*MASTER), &user).unwrap(),
        PIN,
        &mut rand_core::OsRng,
    );
    assert_eq!(reply.status(), 204);
    assert_eq!(reply.content_type(), None);
    assert_eq!(reply.body(), "");

    let policy = PinPolicy::default();
    let reply = cardadmin_mimcm::handle_request(
        &cardadmin_mimcm::Profile::new(&key, Some(&*MASTER), &policy).unwrap(),
        PIN,
        &mut Broken,
    );
    assert_eq!(reply.status(), 500);
    assert_eq!(reply.content_type(), JSON);
    assert_eq!(
        reply.error(),
        Some(RequestError::Core(CmError::Pin(GenerateError::Rng)))
    );
    assert_eq!(
        reply.body(),
        r#"{"Message":"server-proposed PIN: the random generator failed to produce bytes"}"#
    );
    // The broken generator is never asked on the other routes.
    let reply = cardadmin_mimcm::handle_request(
        &cardadmin_mimcm::Profile::new(&key, Some(&*MASTER), &policy).unwrap(),
        &format!("{AUTH}?cardid={GUID}&challenge=1hFD%2Bcz%2F0so%3D&diversified=False"),
        &mut Broken,
    );
    assert_eq!(reply.body(), "\"F0Zudm4wPLY=\"");
}

#[test]
fn hostile_input_is_a_4xx_never_a_panic() {
    let base = "challenge=1hFD%2Bcz%2F0so%3D&diversified=false";
    // Absurdly long parameters: a 400 naming the parameter within the limit, 414 beyond it.
    let long = "a".repeat(3000);
    let reply = auth(&format!("cardid={long}&{base}"));
    assert_eq!(reply.status(), 400);
    assert_eq!(reply.error().unwrap().parameter(), Some("cardid"));
    let huge = "a".repeat(cardadmin_mimcm::MAX_TARGET_LEN);
    let target = format!("{AUTH}?cardid={huge}&{base}");
    let reply = get(&target);
    assert_eq!(reply.status(), 414);
    assert_eq!(
        reply.error(),
        Some(RequestError::TooLong {
            limit: 4096,
            found: target.len()
        })
    );
    assert!(!reply.body().contains("aaaa"));
    // NUL, bad escapes, invalid UTF-8, in known and unknown parameters and in the path.
    assert_bad(
        &auth(&format!("cardid=%00&{base}")),
        RequestError::Nul {
            parameter: "cardid",
        },
    );
    assert_bad(
        &auth(&format!("cardid={GUID}%00&{base}")),
        RequestError::Nul {
            parameter: "cardid",
        },
    );
    assert_bad(
        &auth(&format!("cardid={GUID}&{base}&x=%00")),
        RequestError::Nul {
            parameter: "query string",
        },
    );
    assert_bad(
        &auth(&format!("cardid=%ff%fe&{base}")),
        RequestError::NotUtf8 {
            parameter: "cardid",
        },
    );
    assert_bad(
        &auth(&format!("cardid=ab%zz&{base}")),
        RequestError::PercentEncoding {
            parameter: "cardid",
            position: 2,
        },
    );
    assert_bad(
        &auth(&format!("cardid=ab%4&{base}")),
        RequestError::PercentEncoding {
            parameter: "cardid",
            position: 2,
        },
    );
    assert_bad(
        &auth(&format!("card%zzid={GUID}&{base}")),
        RequestError::PercentEncoding {
            parameter: "query string",
            position: 4,
        },
    );
    let reply = get(&format!(
        "{}?{base}",
        AUTH.replace("smartcards", "smart%ffcards")
    ));
    assert_eq!(
        reply.error(),
        Some(RequestError::NotUtf8 { parameter: "path" })
    );
    let reply = get(&format!(
        "{}?{base}",
        AUTH.replace("smartcards", "smart%00cards")
    ));
    assert_eq!(reply.error(), Some(RequestError::Nul { parameter: "path" }));
    // Encoded keys are decoded: %63ardid is cardid, and counts as a duplicate.
    assert_eq!(
        auth(&format!("%63ardid={GUID}&cardid={GUID}&{base}")).error(),
        Some(RequestError::Duplicate {
            parameter: "cardid"
        })
    );
    // A fragment is not query.
    assert_eq!(
        auth(&format!("cardid={GUID}&{base}#&cardid=x")).body(),
        "\"F0Zudm4wPLY=\""
    );
    // Non-ASCII and control characters in messages are valid JSON.
    for value in ["%22%5C", "%E2%80%A8", "%01", "%7F", "\u{e9}"] {
        let reply = auth(&format!("cardid={value}{}&{base}", "0".repeat(35)));
        assert_eq!(reply.status(), 400, "{value}");
        let parsed: serde_json::Value = serde_json::from_str(reply.body()).unwrap();
        assert_eq!(
            parsed["Message"].as_str().unwrap(),
            reply.error().unwrap().to_string()
        );
    }
}

#[test]
fn every_error_has_an_explicit_status() {
    let parse = ParseError::Empty { what: "card ID" };
    for (error, status) in [
        (RequestError::Core(CmError::CardId(parse)), 400),
        (RequestError::Core(CmError::Challenge(parse)), 400),
        (RequestError::Atr(parse), 400),
        (
            RequestError::PathGuid {
                parameter: "reqid",
                error: parse,
            },
            400,
        ),
        (RequestError::Diversified { found: 0 }, 400),
        (
            RequestError::Missing {
                parameter: "cardid",
            },
            400,
        ),
        (
            RequestError::Duplicate {
                parameter: "cardid",
            },
            400,
        ),
        (
            RequestError::UnencodedPlus {
                parameter: "challenge",
                position: 0,
            },
            400,
        ),
        (
            RequestError::PercentEncoding {
                parameter: "cardid",
                position: 0,
            },
            400,
        ),
        (
            RequestError::NotUtf8 {
                parameter: "cardid",
            },
            400,
        ),
        (
            RequestError::Nul {
                parameter: "cardid",
            },
            400,
        ),
        (RequestError::NotFound, 404),
        (RequestError::TooLong { limit: 1, found: 2 }, 414),
        (RequestError::Core(CmError::Pin(GenerateError::Rng)), 500),
    ] {
        assert_eq!(error.status(), status, "{error:?}");
        let reply = cardadmin_mimcm::Reply::from(error);
        assert_eq!(reply.status(), status);
        assert_eq!(reply.content_type(), JSON);
        let parsed: serde_json::Value = serde_json::from_str(reply.body()).unwrap();
        assert_eq!(parsed["Message"], error.to_string());
        assert_eq!(
            parsed.get("Parameter").and_then(|p| p.as_str()),
            error.parameter()
        );
    }
}

#[test]
fn reply_debug_hides_the_body() {
    let reply = get(&format!("{DIVERSIFIED}?cardid={GUID}"));
    let debug = format!("{reply:?}");
    assert_eq!(debug, "Reply { status: 200, body_len: 34, error: None }");
    assert!(!debug.contains(&reply.body()[1..10]));
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2000))]

    /// Any query on any route: a documented status, a JSON body that parses, never a panic.
    #[test]
    fn any_query_gets_a_documented_status(
        route in 0usize..4,
        query in "[a-zA-Z0-9%+=&/ \u{0}-\u{7f}\u{e9}]{0,200}",
    ) {
        let prefix = ["/x", AUTH, DIVERSIFIED, PIN][route];
        let reply = get(&format!("{prefix}?{query}"));
        proptest::prop_assert!([200, 204, 400, 404, 414, 500].contains(&reply.status()));
        if reply.status() != 204 {
            proptest::prop_assert_eq!(reply.content_type(), JSON);
            let parsed: serde_json::Value = serde_json::from_str(reply.body()).unwrap();
            proptest::prop_assert_eq!(parsed.is_string(), reply.status() == 200);
        }
        proptest::prop_assert_eq!(reply.error().is_some(), reply.status() >= 400);
    }
}

/// With an AES admin key the same facade takes 16-byte challenges (24 base64 characters), and
/// an 8-byte one is a 400 that names the length the key needs (issues #9 and #10).
#[test]
fn aes_keys_take_16_byte_challenges() {
    let key = AdminKey::new(
        cardadmin::Algorithm::Aes192,
        &[1, 2, 3, 4, 5, 6, 7, 8].repeat(3),
    )
    .unwrap();
    let policy = PinPolicy::default();
    let master = MasterKey::new(cardadmin::Algorithm::Aes192, &[0x5c; 24]).unwrap();
    let profile = cardadmin_mimcm::Profile::new(&key, Some(&master), &policy).unwrap();
    // YubiKey 5.7 default key, challenge 0102..0F10: 3D6E6D9C... (base64 below).
    let target =
        format!("{AUTH}?cardid={GUID}&challenge=AQIDBAUGBwgJCgsMDQ4PEA%3D%3D&diversified=False");
    let reply = cardadmin_mimcm::handle_request(&profile, &target, &mut rand_core::OsRng);
    assert_eq!(
        (reply.status(), reply.body()),
        (200, "\"PW5tnNM3KS7iD7YLioRPGQ==\"")
    );
    let target = format!("{AUTH}?cardid={GUID}&challenge=1hFD%2Bcz%2F0so%3D&diversified=false");
    let reply = cardadmin_mimcm::handle_request(&profile, &target, &mut rand_core::OsRng);
    assert_eq!(reply.status(), 400);
    assert!(
        reply
            .body()
            .contains("challenge: AES-192 admin keys answer 16-byte challenges, got 8 bytes"),
        "{}",
        reply.body()
    );
    // The diversified key of an AES-192 master is an AES-192 key: 32 base64 characters.
    let target = format!("{DIVERSIFIED}?cardid={GUID}");
    let reply = cardadmin_mimcm::handle_request(&profile, &target, &mut rand_core::OsRng);
    assert_eq!(reply.status(), 200);
    assert_eq!(reply.body().len(), 2 + 32);
}
