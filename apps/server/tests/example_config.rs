//! The example server as the README starts it (`--config config.example.json`, plain HTTP on
//! loopback): the documented requests and their exact answers, the malformed ones and their
//! exact messages, HEAD, the request log, the start-up warnings, SIGTERM, and the
//! configurations it must refuse. The answers the master gives are derived here from
//! `config.example.json` with the library, never typed in by hand.

mod common;

use cardadmin::{AdminKey, KeyFinding, MasterKey, PinPolicy};
use cardadmin_mimcm as cm;
use common::*;
use serde_json::{json, Value};

/// `config.example.json`, as the server reads it.
fn example_path() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config.example.json")
}

fn example() -> Value {
    serde_json::from_slice(&std::fs::read(example_path()).unwrap()).unwrap()
}

fn base() -> String {
    format!("{PREFIX}/requests/{REQ}/smartcards/{SCID}")
}

/// The example's keys and the answers the library derives from them for the documented card.
struct Expected {
    diversified: String,
    diversified_key: String,
}

fn expected_from_the_example() -> Expected {
    let config = example();
    let fields: Vec<&str> = config
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        fields,
        ["diversification_key", "initial_admin_key", "pin_policy"]
    );
    let initial = AdminKey::from_hex(config["initial_admin_key"].as_str().unwrap()).unwrap();
    let master = MasterKey::from_hex(config["diversification_key"].as_str().unwrap()).unwrap();
    // The documentation's all-zero initial key (weak, and the server warns), and the published
    // example master (on the well-known list: served with a warning on loopback only).
    assert_eq!(initial.check_value().to_string(), "8CA64D");
    assert!(!initial.audit().is_clean());
    assert_eq!(master.check_value().to_string(), "645B4F");
    assert_eq!(
        master.audit().findings().collect::<Vec<_>>(),
        [KeyFinding::PublishedExample]
    );
    let policy: PinPolicy = serde_json::from_value(config["pin_policy"].clone()).unwrap();
    let profile = cm::Profile::new(&initial, Some(&master), &policy).unwrap();
    let answer = |target: String| {
        let reply = cm::handle_request(&profile, &target, &mut cardadmin::rng::OsRng);
        assert_eq!(reply.status(), 200, "{}", reply.body());
        reply.body().to_owned()
    };
    assert_eq!(answer(documented_target(REQ)), DOCUMENTED);
    let diversified = answer(format!(
        "{}/authenticationresponse?cardid=({CARD})&challenge=1hFD%2Bcz%2F0so%3D&diversified=true&atr=3b8f8001",
        base()
    ));
    let diversified_key = answer(format!("{}/diversifiedkey?cardid={CARD}", base()));
    // The master's derivation, not the initial key's.
    let card = CARD.parse().unwrap();
    assert_eq!(
        diversified_key,
        format!("\"{}\"", master.diversify(&card).to_base64().as_str())
    );
    let initial_as_master =
        MasterKey::from_hex(config["initial_admin_key"].as_str().unwrap()).unwrap();
    assert_ne!(
        diversified_key,
        format!(
            "\"{}\"",
            initial_as_master.diversify(&card).to_base64().as_str()
        )
    );
    Expected {
        diversified,
        diversified_key,
    }
}

/// Starts the server on `config.example.json` itself, as the README does.
fn example_server() -> Server {
    Server::launch(Launch::new(example_path())).expect("the example server starts")
}

/// One check: status, content type and exact body.
#[track_caller]
fn check(server: &Server, target: &str, status: u16, body: &str) {
    let got = server.get(target);
    assert_eq!(
        (got.status, got.content_type(), got.text().as_str()),
        (status, JSON, body),
        "GET {target}"
    );
}

#[test]
fn the_documented_requests_get_the_documented_answers() {
    let expected = expected_from_the_example();
    let server = example_server();
    // The documented request, in MIM CM's own lower-case spelling of the route.
    check(
        &server,
        &format!("/certificatemanagement/api/v1.0/requests/{REQ}/smartcards/{SCID}/authenticationresponse?cardid={CARD}&challenge=1hFD%2Bcz%2F0so%3D&diversified=False"),
        200,
        DOCUMENTED,
    );
    check(
        &server,
        &format!(
            "/CERTIFICATEMANAGEMENT/API/V1.0/REQUESTS/{}/SMARTCARDS/{}/AuthenticationResponse?CardId={CARD}&CHALLENGE=1hFD%2Bcz%2F0so%3D&Diversified=%20FALSE%20",
            REQ.to_uppercase(),
            SCID.to_uppercase()
        ),
        200,
        DOCUMENTED,
    );
    check(
        &server,
        &format!(
            "{}/authenticationresponse?cardid=({CARD})&challenge=1hFD%2Bcz%2F0so%3D&diversified=true&atr=3b8f8001",
            base()
        ),
        200,
        &expected.diversified,
    );
    check(
        &server,
        &format!("{}/diversifiedkey?cardid={CARD}", base()),
        200,
        &expected.diversified_key,
    );
    // MIM's example of serverproposedpin, without a query: 8 digits, the example's policy.
    let pin = server.get(&format!(
        "{PREFIX}/smartcards/C6BAD97C-F97F-4920-8947-BE980C98C6B5/serverproposedpin"
    ));
    assert_eq!((pin.status, pin.content_type()), (200, JSON));
    assert!(
        quoted_of(&pin.text(), 8, |c| c.is_ascii_digit()),
        "{}",
        pin.text()
    );
}

#[test]
fn malformed_requests_get_exact_messages() {
    let server = example_server();
    let base = base();
    let cases: [(&str, String, u16, &str); 9] = [
        (
            "'+' left unencoded",
            format!("{base}/authenticationresponse?cardid={CARD}&challenge=1hFD+cz/0so=&diversified=False"),
            400,
            r#"{"Message":"challenge: '+' at position 4 was not percent-encoded, and in a query string '+' means a space; send it as %2B","Parameter":"challenge"}"#,
        ),
        (
            "diversified not a Boolean",
            format!("{base}/authenticationresponse?cardid={CARD}&challenge=1hFD%2Bcz%2F0so%3D&diversified=yes"),
            400,
            r#"{"Message":"diversified: must be True or False (any case, as .NET Boolean.Parse reads it), got 3 characters of something else","Parameter":"diversified"}"#,
        ),
        (
            "cardid missing",
            format!("{base}/diversifiedkey"),
            400,
            r#"{"Message":"cardid: required query parameter is missing","Parameter":"cardid"}"#,
        ),
        (
            "cardid given twice",
            format!("{base}/diversifiedkey?cardid={CARD}&CARDID={CARD}"),
            400,
            r#"{"Message":"cardid: query parameter given more than once (names are compared without regard to case); send it once","Parameter":"cardid"}"#,
        ),
        (
            "NUL byte",
            format!("{base}/diversifiedkey?cardid=%00"),
            400,
            r#"{"Message":"cardid: the percent-decoded value holds a NUL character","Parameter":"cardid"}"#,
        ),
        (
            "invalid UTF-8",
            format!("{base}/diversifiedkey?cardid=%FF%FE"),
            400,
            r#"{"Message":"cardid: the percent-decoded bytes are not UTF-8","Parameter":"cardid"}"#,
        ),
        (
            "bad path GUID",
            format!("{PREFIX}/smartcards/C6BA/serverproposedpin"),
            400,
            r#"{"Message":"id: GUID must be 32 (bare hex), 36 (hyphenated) or 38 (hyphenated, in '{}' or '()') characters long, got 4","Parameter":"id"}"#,
        ),
        (
            "absurdly long target",
            format!("{base}/diversifiedkey?cardid={}", "a".repeat(5000)),
            414,
            r#"{"Message":"request target: 5148 bytes long, over the limit of 4096"}"#,
        ),
        (
            "POST",
            format!("{base}/diversifiedkey?cardid={CARD}"),
            405,
            r#"{"Message":"method POST is not allowed: the MIM CM endpoints answer GET"}"#,
        ),
    ];
    for (name, target, status, body) in cases {
        let method = if name == "POST" { "POST" } else { "GET" };
        let got = server.request(method, &target);
        assert_eq!(
            (got.status, got.content_type(), got.text().as_str()),
            (status, JSON, body),
            "{name}"
        );
    }
    // `/smartcards` is a route since issue #25, for POST only.
    let post_only = server.get(&format!("{PREFIX}/smartcards"));
    assert_eq!(
        (post_only.status, post_only.header("allow")),
        (405, Some("POST"))
    );
    let unknown = server.get(&format!("{PREFIX}/smartcardz"));
    assert_eq!((unknown.status, unknown.content_type()), (404, JSON));
    assert!(
        unknown
            .text()
            .starts_with(r#"{"Message":"request target: no MIM CM endpoint here; "#),
        "{}",
        unknown.text()
    );
}

/// HEAD where no key answers: the headers a GET gets, `Content-Length` included, no body.
#[test]
fn head_gets_the_headers_of_get_and_no_body() {
    let server = example_server();
    for target in [
        format!("{PREFIX}/smartcards/C6BAD97C-F97F-4920-8947-BE980C98C6B5/serverproposedpin"),
        format!("{PREFIX}/smartcards/C6BA/serverproposedpin"),
    ] {
        let get = server.get(&target);
        let head = server.head(&target);
        assert!(!get.body.is_empty());
        assert_eq!(head.status, get.status, "{target}");
        assert_eq!(
            head.header("content-length"),
            Some(get.body.len().to_string().as_str()),
            "{target}"
        );
        assert_eq!(head.content_type(), get.content_type());
        assert_eq!((head.body.len(), head.trailing), (0, 0), "{target}");
    }
}

/// Issue #24 item 13: HEAD never uses a key. On the two endpoints a key answers it is a 405
/// that allows GET only, with no body; recorded like any request.
#[test]
fn head_on_a_key_endpoint_is_405_and_uses_no_key() {
    let server = example_server();
    for (target, endpoint) in [
        (
            format!("{}/diversifiedkey?cardid={CARD}", base()),
            "diversifiedkey",
        ),
        (documented_target(REQ), "authenticationresponse"),
    ] {
        let head = server.head(&target);
        assert_eq!(head.status, 405, "{target}");
        assert_eq!(head.header("allow"), Some("GET"));
        assert_eq!((head.body.len(), head.trailing), (0, 0));
        // The length of the JSON message a GET with this method would carry.
        let expected = json!({
            "Message": format!("method HEAD is not allowed on {endpoint}: its answer comes from a key, which HEAD does not use; send GET")
        })
        .to_string();
        assert_eq!(
            head.header("content-length"),
            Some(expected.len().to_string().as_str())
        );
    }
    // A HEAD whose target does not parse is still the GET's 400 (no key is involved).
    let head = server.head(&format!("{}/diversifiedkey?cardid=nope", base()));
    assert_eq!(head.status, 400);
}

/// SIGTERM stops the server with exit 0; one log line per request on stdout, none with a
/// query, a key or a PIN; the start-up warnings name the weak initial key and the published
/// example master (served on loopback, with a warning).
#[test]
fn the_log_and_the_warnings_of_the_example_server() {
    let mut server = example_server();
    let expected = expected_from_the_example();
    let targets = [
        documented_target(REQ),
        format!("{}/diversifiedkey?cardid={CARD}", base()),
        format!("{PREFIX}/smartcards/C6BAD97C-F97F-4920-8947-BE980C98C6B5/serverproposedpin"),
        format!("{PREFIX}/smartcards/C6BA/serverproposedpin"),
    ];
    let mut pins = Vec::new();
    for target in &targets {
        let got = server.get(target);
        if target.ends_with("serverproposedpin") && got.status == 200 {
            pins.push(got.text());
        }
    }
    let status = server.stop();
    assert!(status.success(), "exit after SIGTERM: {status:?}");
    let stdout = server.stdout();
    let stderr = server.stderr();
    assert_eq!(stdout.lines().count(), targets.len(), "{stdout}");
    assert!(stderr.ends_with("stopped\n"), "{stderr}");
    let master_text = example()["diversification_key"]
        .as_str()
        .unwrap()
        .to_string();
    for secret in [
        "?",
        &expected.diversified_key[1..13],
        &master_text[..12],
        &pins[0][1..9],
    ] {
        assert!(!stdout.contains(secret), "stdout holds {secret:?}");
        assert!(!stderr.contains(secret), "stderr holds {secret:?}");
    }
    assert!(
        stderr.lines().any(|line| line.starts_with(
            "warning: the initial admin key (check value 8CA64D) is weak or well known"
        )),
        "{stderr}"
    );
    assert!(
        stderr.lines().any(|line| line.starts_with(
            "warning: the diversification key (check value 645B4F) is weak or well known"
        )),
        "{stderr}"
    );
}

/// Configurations the server refuses at start-up, with a message that says why (issue #15),
/// and never with key text.
#[test]
fn configurations_the_server_refuses_say_why() {
    let cases = [
        (
            "an old admin_key file",
            json!({"admin_key": ZERO_KEY, "diversify_keys": true}),
            r#"Write "initial_admin_key" (the key blank cards ship with; it answers diversified=false) and "diversification_key""#,
        ),
        (
            "the same key in both roles",
            json!({
                "initial_admin_key": "DA20D81B7D17734F8166BE8BAC0EC94DD8E793D74ACEC8B7",
                "diversification_key": "DB21D91A7C16724E8067BF8AAD0FC84CD9E692D64BCFC9B6"
            }),
            "the initial admin key and the diversification key are the same key",
        ),
        (
            "a diversification key in an unknown form",
            json!({"initial_admin_key": ZERO_KEY, "diversification_key": {"hsm": "x"}}),
            r#"diversification_key: unknown field "hsm""#,
        ),
    ];
    for (name, config, expected) in cases {
        let (code, stderr) = refused(&config, "127.0.0.1:0");
        assert_ne!(code, 0, "{name}");
        assert!(stderr.contains(expected), "{name}: {stderr}");
        assert!(
            !stderr.contains("DA20D81B7D17") && !stderr.contains("DB21D91A7C16"),
            "{name}: key text in {stderr}"
        );
    }
}
