//! Issue #25 end to end, on both registry backends: the MIM CM lifecycle routes over HTTPS with
//! client certificates, master key versions per card through a rotation (a card enrolled under
//! version 1; the master rotated, version 1 moved to `"previous_diversification_keys"`; the old
//! card still answered under version 1; a new card enrolled under version 2; a renew moving the
//! old card to version 2, driven as a renewing client does it; a canceled renew leaving a card
//! on version 1; a retired card refused; `keys` counting cards per version), the upgrade of a
//! registry written before versions, and the start-up checks of the version fields.
//!
//! Every expected answer is recomputed here, under each version's master, with the core's
//! AN10922 (`cardadmin::MasterKey::diversify`) and the card key's own challenge response, not
//! taken from the server.
//!
//! The SQLite tests always run. The PostgreSQL ones take the server from
//! `CARDADMIN_TEST_DATABASE_URL` (a role that may create databases; each test makes a database
//! of its own) and, without it, say why and pass, unless `CARDADMIN_REQUIRE_DATABASE=1`.

#![cfg(unix)]

mod common;

use std::path::{Path, PathBuf};

use cardadmin::{AdminKey, CardId, Challenge, MasterKey};
use common::{exchange, Client, Identity, Pki, Response, Server, PREFIX, TEST_MASTER, ZERO_KEY};
use serde_json::{json, Value};

/// The second master: version 2 after the rotation (no audit finding, published nowhere else).
const MASTER_2: &str = "7A1C93E5B2D84F60C9E1375AB8D2046F1E9C5A7B3D60F28C";
/// A third, for the upgrade test.
const MASTER_3: &str = "94D2B7E1C5A3086F2D9B4E71A6C8F05B3E7D1A9C6B2F4E80";
const TEMPLATE: &str = "12bd5120-86a2-4ee1-8d05-131066871578";
const CHALLENGE: &str = "1hFD+cz/0so=";
const CHALLENGE_QUERY: &str = "1hFD%2Bcz%2F0so%3D";

const C1: &str = "bc88f13f-83ba-4037-8262-46eba1291c6e";
const C2: &str = "0f6b2c1e-5a4d-4c3b-9e8f-7a6b5c4d3e2f";
const C3: &str = "d3c2b1a0-9f8e-4d7c-8b6a-5f4e3d2c1b0a";
const C4: &str = "4a5b6c7d-8e9f-4a0b-9c1d-2e3f4a5b6c7d";

/// Where the registry is: the SQLite file (and file trail) or a PostgreSQL database.
enum Backend {
    Sqlite,
    Postgres(String),
}

impl Backend {
    /// PostgreSQL from `CARDADMIN_TEST_DATABASE_URL`, a fresh database named after the test;
    /// `None` (skipped, saying why) without it.
    fn postgres(name: &str) -> Option<Self> {
        common::test_database("cardadmin_lifecycle", name).map(Self::Postgres)
    }

    /// The storage fields of a configuration.
    fn fields(&self, dir: &Path) -> Value {
        match self {
            Self::Sqlite => json!({
                "registry": dir.join("registry.sqlite"),
                "audit_log": dir.join("audit.jsonl"),
            }),
            Self::Postgres(url) => json!({"database": url, "node_id": "a"}),
        }
    }
}

/// A test's directory, certificates and backend.
struct Bench {
    dir: tempfile::TempDir,
    pki: Pki,
    alice: Client,
    bob: Client,
    backend: Backend,
}

impl Bench {
    fn new(backend: Backend) -> Self {
        let dir = common::temp_dir();
        let pki = Pki::new(dir.path(), "ca");
        let (alice, bob): (Identity, Identity) = (pki.issue("alice"), pki.issue("bob"));
        let (alice, bob) = (
            Client::new(&pki, Some(&alice)),
            Client::new(&pki, Some(&bob)),
        );
        Self {
            dir,
            pki,
            alice,
            bob,
            backend,
        }
    }

    /// The configuration with these master fields (and `extra`), written as `config.json`.
    fn config(&self, masters: Value) -> Value {
        let mut config = json!({
            "initial_admin_key": ZERO_KEY,
            "profile_template_id": TEMPLATE,
            "tls": self.pki.tls_config(),
        });
        for source in [self.backend.fields(self.dir.path()), masters] {
            for (name, value) in source.as_object().unwrap() {
                config[name] = value.clone();
            }
        }
        config
    }

    fn config_path(&self) -> PathBuf {
        self.dir.path().join("config.json")
    }

    fn start(&self, config: &Value) -> Server {
        Server::start_in(self.dir.path(), config)
    }

    /// `cardadmin-server ARGS --config config.json`: (exit code, stdout, stderr).
    fn command(&self, args: &[&str]) -> (i32, String, String) {
        let config = self.config_path();
        let mut all: Vec<&str> = args.to_vec();
        all.extend(["--config", config.to_str().unwrap()]);
        common::run_text(&all)
    }

    /// `requests add` (must succeed).
    fn add(&self, args: &[&str]) {
        let mut all = vec!["requests", "add"];
        all.extend(args);
        let (code, stdout, stderr) = self.command(&all);
        assert_eq!(code, 0, "requests add {args:?}: {stdout}{stderr}");
    }

    /// `requests add` of alice's request `reqid` for a card (of `kind`, when given).
    fn add_card(&self, reqid: &str, scid: &str, cardid: &str, kind: Option<&str>) {
        let mut args = vec![
            "--reqid",
            reqid,
            "--scid",
            scid,
            "--cardid",
            cardid,
            "--operator",
            "alice",
        ];
        if let Some(kind) = kind {
            args.extend(["--type", kind]);
        }
        self.add(&args);
    }

    /// `keys`' table: version to (role, check value, confirmed, pending), and the last line.
    fn keys(&self) -> (Vec<KeysRow>, String) {
        let (code, stdout, stderr) = self.command(&["keys"]);
        assert_eq!(code, 0, "keys: {stdout}{stderr}");
        let mut lines = stdout.lines();
        assert_eq!(
            lines.next(),
            Some("version\trole\talgorithm\tcheck value\tconfirmed\tpending")
        );
        let mut rows = Vec::new();
        let mut last = String::new();
        for line in lines {
            let cells: Vec<&str> = line.split('\t').collect();
            if cells.len() == 6 {
                rows.push((
                    cells[0].to_string(),
                    cells[1].to_string(),
                    cells[3].to_string(),
                    cells[4].parse().unwrap(),
                    cells[5].parse().unwrap(),
                ));
            } else {
                last = line.to_string();
            }
        }
        (rows, last)
    }
}

/// A row of `keys`: version, role, check value, confirmed, pending.
type KeysRow = (String, String, String, u64, u64);

/// `METHOD target` over TLS with `client`, with a JSON body when given.
fn send(
    server: &Server,
    client: &Client,
    method: &str,
    target: &str,
    body: Option<&str>,
) -> Response {
    send_typed(server, client, method, target, body, "application/json")
}

/// `GET target` over TLS with `client`.
fn get(server: &Server, client: &Client, target: &str) -> Response {
    send(server, client, "GET", target, None)
}

/// `PUT /requests/{reqid}` with the JSON `body` (a status change) over TLS with `client`.
fn put_request(server: &Server, client: &Client, reqid: &str, body: &str) -> Response {
    send(
        server,
        client,
        "PUT",
        &format!("{PREFIX}/requests/{reqid}"),
        Some(body),
    )
}

/// `POST /smartcards` binding `cardid` to the request `reqid`, over TLS with `client`.
fn bind_card(server: &Server, client: &Client, reqid: &str, cardid: &str) -> Response {
    let body = format!(r#"{{"requestid": "{reqid}", "cardid": "{cardid}"}}"#);
    send(
        server,
        client,
        "POST",
        &format!("{PREFIX}/smartcards"),
        Some(&body),
    )
}

fn send_typed(
    server: &Server,
    client: &Client,
    method: &str,
    target: &str,
    body: Option<&str>,
    content_type: &str,
) -> Response {
    let mut stream = client.connect(server.addr).unwrap();
    let host = format!("{}:{}", client.host_name(), server.addr.port());
    let request = match body {
        None => format!("{method} {target} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"),
        Some(body) => format!(
            "{method} {target} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        ),
    };
    exchange(&mut stream, request.as_bytes(), method == "HEAD").unwrap()
}

fn master(hex: &str) -> MasterKey {
    MasterKey::from_hex(hex).unwrap()
}

fn card(text: &str) -> CardId {
    CardId::parse(text).unwrap()
}

/// The card's key under `master`, as `diversifiedkey` must answer it.
fn key_body(master_hex: &str, cardid: &str) -> String {
    format!(
        "\"{}\"",
        master(master_hex)
            .diversify(&card(cardid))
            .to_base64()
            .as_str()
    )
}

/// The answer to [`CHALLENGE`] of `key`.
fn response_of(key: &AdminKey) -> String {
    let challenge = Challenge::from_base64(CHALLENGE).unwrap();
    format!("\"{}\"", key.respond(&challenge).unwrap())
}

/// The `diversified=true` answer of the card's key under `master`.
fn card_response(master_hex: &str, cardid: &str) -> String {
    response_of(&master(master_hex).diversify(&card(cardid)))
}

fn auth_target(reqid: &str, scid: &str, cardid: &str, diversified: bool) -> String {
    format!(
        "{PREFIX}/requests/{reqid}/smartcards/{scid}/authenticationresponse?cardid={cardid}&challenge={CHALLENGE_QUERY}&diversified={diversified}"
    )
}

fn key_target(reqid: &str, scid: &str, cardid: &str) -> String {
    format!("{PREFIX}/requests/{reqid}/smartcards/{scid}/diversifiedkey?cardid={cardid}")
}

fn guid(n: u8) -> String {
    format!("{n:08x}-0000-4000-8000-0000000000{n:02x}")
}

/// Enrolls `cardid` under a new enroll request `reqid` of alice, as MIM CM's client does:
/// the profile's configuration, `POST /smartcards`, the initial key, `diversifiedkey`, the
/// card key, `Completed`. Checks each answer against `master_hex`; returns the smart card ID.
fn enroll(bench: &Bench, server: &Server, reqid: &str, cardid: &str, master_hex: &str) -> String {
    bench.add(&["--reqid", reqid, "--operator", "alice"]);
    let configuration = get(
        server,
        &bench.alice,
        &format!("{PREFIX}/profiletemplates/{TEMPLATE}/configuration/smartcards"),
    );
    assert_eq!(configuration.status, 200, "{}", configuration.text());
    let value: Value = serde_json::from_slice(&configuration.body).unwrap();
    assert_eq!(value["DefaultAdminKeyHex"], ZERO_KEY);
    let body = format!(r#"{{"requestid": "{reqid}", "cardid": "{cardid}", "atr": "3B8F8001"}}"#);
    let created = send(
        server,
        &bench.alice,
        "POST",
        &format!("{PREFIX}/smartcards"),
        Some(&body),
    );
    assert_eq!(created.status, 201, "{}", created.text());
    let scid: String = serde_json::from_slice(&created.body).unwrap();
    // A retry (the answer was lost): the same smart card, 200.
    let retry = send(
        server,
        &bench.alice,
        "POST",
        &format!("{PREFIX}/smartcards"),
        Some(&body),
    );
    assert_eq!((retry.status, retry.text()), (200, created.text()));
    let initial = AdminKey::from_hex(ZERO_KEY).unwrap();
    let answer = get(
        server,
        &bench.alice,
        &auth_target(reqid, &scid, cardid, false),
    );
    assert_eq!((answer.status, answer.text()), (200, response_of(&initial)));
    let key = get(server, &bench.alice, &key_target(reqid, &scid, cardid));
    assert_eq!(
        (key.status, key.text()),
        (200, key_body(master_hex, cardid))
    );
    let answer = get(
        server,
        &bench.alice,
        &auth_target(reqid, &scid, cardid, true),
    );
    assert_eq!(
        (answer.status, answer.text()),
        (200, card_response(master_hex, cardid))
    );
    let done = put_request(server, &bench.alice, reqid, r#"{"status": "Completed"}"#);
    assert_eq!(done.status, 204, "{}", done.text());
    scid
}

/// The rotation, on one backend: every state rule of issue #25 item 3.
fn rotation(backend: Backend) {
    let bench = Bench::new(backend);
    let v1 = json!({"diversification_key": TEST_MASTER});
    let mut server = bench.start(&bench.config(v1));

    // Version 1: two cards enrolled; a retry of POST /smartcards answers the same smart card.
    let s1 = enroll(&bench, &server, &guid(1), C1, TEST_MASTER);
    let s3 = enroll(&bench, &server, &guid(3), C3, TEST_MASTER);
    let retry = bind_card(&server, &bench.alice, &guid(1), C1);
    // The request is closed now: no smart card is made for it.
    assert_eq!(retry.status, 403, "{}", retry.text());
    assert!(
        retry.message().contains("the request is closed"),
        "{}",
        retry.text()
    );
    let request = get(
        &server,
        &bench.alice,
        &format!("{PREFIX}/requests/{}", guid(1)),
    );
    assert_eq!(request.status, 200);
    let value: Value = serde_json::from_slice(&request.body).unwrap();
    // The profile the client reads the smart-card configuration of.
    assert_eq!(value["ProfileTemplateUuid"].as_str(), Some(TEMPLATE));
    assert_eq!(
        (
            value["Type"].as_str(),
            value["Status"].as_str(),
            value["SmartcardUuid"].as_str(),
            value["CardId"].as_str()
        ),
        (
            Some("Enroll"),
            Some("Completed"),
            Some(s1.as_str()),
            Some(C1)
        )
    );
    // Someone else's request reads as an unknown one.
    let bobs = get(
        &server,
        &bench.bob,
        &format!("{PREFIX}/requests/{}", guid(1)),
    );
    assert_eq!(bobs.status, 403);
    assert!(bobs
        .message()
        .contains("no request with this ID is registered for the caller"));
    let (rows, _) = bench.keys();
    assert_eq!(rows.len(), 1);
    assert_eq!(
        (rows[0].0.as_str(), rows[0].1.as_str(), rows[0].3, rows[0].4),
        ("1", "current", 2, 0)
    );
    assert_eq!(rows[0].2, cmac_check_value(TEST_MASTER));
    // An enrolled card is not enrolled again (an enroll request is no way to another card's
    // key): it is renewed or retired.
    let r11 = guid(11);
    bench.add(&["--reqid", &r11, "--operator", "alice"]);
    let again = bind_card(&server, &bench.alice, &r11, C3);
    assert_eq!(again.status, 403);
    assert!(
        again
            .message()
            .starts_with("forbidden: the card is enrolled already"),
        "{}",
        again.text()
    );
    server.stop();

    // The rotation: version 2 current, version 1 previous.
    let v2 = json!({
        "diversification_key": MASTER_2,
        "diversification_key_version": 2,
        "previous_diversification_keys": [{"version": 1, "key": TEST_MASTER}],
    });
    let server = bench.start(&bench.config(v2));
    assert!(
        server
            .stderr()
            .contains("previous diversification key: version 1"),
        "{}",
        server.stderr()
    );

    // The old card is still answered under version 1, within a renew request.
    let (r2, c1) = (guid(2), C1);
    bench.add_card(&r2, &s1, c1, Some("renew"));
    let answer = get(&server, &bench.alice, &auth_target(&r2, &s1, c1, true));
    assert_eq!(
        (answer.status, answer.text()),
        (200, card_response(TEST_MASTER, c1))
    );

    // A card never seen is answered under the current version.
    let (r5, s5) = (guid(5), guid(0x55));
    bench.add_card(&r5, &s5, C4, None);
    let answer = get(&server, &bench.alice, &auth_target(&r5, &s5, C4, true));
    assert_eq!(
        (answer.status, answer.text()),
        (200, card_response(MASTER_2, C4))
    );

    // A new card enrolls under version 2.
    enroll(&bench, &server, &guid(4), C2, MASTER_2);
    let (rows, _) = bench.keys();
    let row = |rows: &[KeysRow], version: &str| {
        rows.iter()
            .find(|row| row.0 == version)
            .map(|row| (row.1.clone(), row.3, row.4))
            .unwrap()
    };
    assert_eq!(row(&rows, "2"), (String::from("current"), 1, 0));
    assert_eq!(row(&rows, "1"), (String::from("previous"), 2, 0));

    // The renew, as a renewing client drives it: authenticate under the card's version (1),
    // fetch the new key (version 2, now pending), authenticate again (now under 2), complete.
    let answer = get(&server, &bench.alice, &auth_target(&r2, &s1, c1, true));
    assert_eq!(answer.text(), card_response(TEST_MASTER, c1));
    let key = get(&server, &bench.alice, &key_target(&r2, &s1, c1));
    assert_eq!((key.status, key.text()), (200, key_body(MASTER_2, c1)));
    let (rows, _) = bench.keys();
    assert_eq!(row(&rows, "2"), (String::from("current"), 1, 1));
    let answer = get(&server, &bench.alice, &auth_target(&r2, &s1, c1, true));
    assert_eq!(
        (answer.status, answer.text()),
        (200, card_response(MASTER_2, c1))
    );
    let done = put_request(&server, &bench.alice, &r2, r#"{"status": "Completed"}"#);
    assert_eq!(done.status, 204, "{}", done.text());
    // A retry of the same close changes nothing; another status conflicts.
    let again = put_request(&server, &bench.alice, &r2, r#"{"status": "Completed"}"#);
    assert_eq!(again.status, 204);
    let other = put_request(&server, &bench.alice, &r2, r#"{"status": "Canceled"}"#);
    assert_eq!(other.status, 409);
    assert_eq!(other.message(), "request: closed already as Completed");
    let (rows, _) = bench.keys();
    assert_eq!(row(&rows, "2"), (String::from("current"), 2, 0));
    assert_eq!(row(&rows, "1"), (String::from("previous"), 1, 0));

    // A canceled renew leaves the card on version 1.
    let r6 = guid(6);
    bench.add_card(&r6, &s3, C3, Some("renew"));
    let key = get(&server, &bench.alice, &key_target(&r6, &s3, C3));
    assert_eq!(key.text(), key_body(MASTER_2, C3));
    let canceled = put_request(&server, &bench.alice, &r6, r#"{"Status": "Canceled"}"#);
    assert_eq!(canceled.status, 204, "{}", canceled.text());
    let r7 = guid(7);
    bench.add_card(&r7, &s3, C3, Some("renew"));
    let answer = get(&server, &bench.alice, &auth_target(&r7, &s3, C3, true));
    assert_eq!(
        (answer.status, answer.text()),
        (200, card_response(TEST_MASTER, C3))
    );
    // So does `requests close` (default Canceled) of a renew whose key was fetched.
    let key = get(&server, &bench.alice, &key_target(&r7, &s3, C3));
    assert_eq!(key.status, 200);
    let (code, stdout, stderr) = bench.command(&["requests", "close", "--reqid", &r7]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(
        stdout.contains("as Canceled (1 pending version dropped)"),
        "{stdout}"
    );
    let (rows, _) = bench.keys();
    assert_eq!(row(&rows, "1"), (String::from("previous"), 1, 0));

    // Retiring C1: a retire request gets no diversifiedkey, then the card is retired and no
    // key route answers for it any more.
    let r8 = guid(8);
    bench.add_card(&r8, &s1, C1, Some("retire"));
    let refused = get(&server, &bench.alice, &key_target(&r8, &s1, C1));
    assert_eq!(refused.status, 403);
    assert_eq!(
        refused.message(),
        "forbidden: diversifiedkey is answered within an enroll or renew request"
    );
    let early = put_request(&server, &bench.alice, &r8, r#"{"status": "Completed"}"#);
    assert_eq!(early.status, 409, "{}", early.text());
    let retired = send(
        &server,
        &bench.alice,
        "PUT",
        &format!("{PREFIX}/requests/{r8}/smartcards/{s1}"),
        Some(r#"{"status": "Retired"}"#),
    );
    assert_eq!(retired.status, 204, "{}", retired.text());
    for target in [
        auth_target(&r8, &s1, C1, true),
        auth_target(&r8, &s1, C1, false),
        key_target(&r8, &s1, C1),
    ] {
        let refused = get(&server, &bench.alice, &target);
        assert_eq!(refused.status, 403, "{target}");
        assert_eq!(
            refused.message(),
            "forbidden: the card is retired: no key is answered for it"
        );
    }
    let done = put_request(&server, &bench.alice, &r8, r#"{"status": "Completed"}"#);
    assert_eq!(done.status, 204);
    // A retired card is bound to no new request either.
    let r9 = guid(9);
    bench.add(&["--reqid", &r9, "--operator", "alice"]);
    let bound = bind_card(&server, &bench.alice, &r9, C1);
    assert_eq!(bound.status, 403);
    assert_eq!(
        bound.message(),
        "forbidden: the card is retired: no key is answered for it"
    );

    let (rows, last) = bench.keys();
    assert_eq!(row(&rows, "2"), (String::from("current"), 1, 0));
    assert_eq!(row(&rows, "1"), (String::from("previous"), 1, 0));
    assert!(last.contains("retired cards: 1"), "{last}");
    drop(server);

    // Version 1 dropped too early: its card is refused (never answered under another master),
    // and start-up warns.
    let early = json!({"diversification_key": MASTER_2, "diversification_key_version": 2});
    let server = bench.start(&bench.config(early));
    assert!(
        server
            .stderr()
            .contains("on master version 1, which this configuration does not hold"),
        "{}",
        server.stderr()
    );
    let r10 = guid(10);
    bench.add_card(&r10, &s3, C3, Some("renew"));
    let refused = get(&server, &bench.alice, &auth_target(&r10, &s3, C3, true));
    assert_eq!(refused.status, 403);
    assert!(refused
        .message()
        .contains("a master version this server does not hold"));
    let (rows, _) = bench.keys();
    assert_eq!(
        rows.iter()
            .find(|row| row.0 == "1")
            .map(|row| row.1.as_str()),
        Some("not configured")
    );
    drop(server);

    // The trail holds, and says which version answered and what changed.
    match &bench.backend {
        Backend::Sqlite => {
            let (code, text) = common::verify_audit(&bench.dir.path().join("audit.jsonl"));
            assert_eq!(code, 0, "{text}");
            let trail = std::fs::read_to_string(bench.dir.path().join("audit.jsonl")).unwrap();
            assert!(
                trail.contains(r#""endpoint":"diversifiedkey""#)
                    && trail.contains(r#""key_version":2"#),
                "{trail}"
            );
            assert!(
                trail.contains(r#""change":"Completed: 1 pending version confirmed""#),
                "{trail}"
            );
            assert!(trail.contains(r#""endpoint":"profiletemplates/configuration/smartcards""#));
            assert!(!trail.contains(TEST_MASTER) && !trail.contains(MASTER_2));
        }
        Backend::Postgres(url) => {
            let (code, stdout, stderr) = bench.command(&["verify-audit"]);
            assert_eq!(code, 0, "{stdout}{stderr}");
            let lines = common::psql(url, "SELECT line FROM audit ORDER BY node_id, seq");
            assert!(lines.contains(r#""key_version":2"#), "{lines}");
            assert!(lines.contains(r#""change":"card "#), "{lines}");
        }
    }
}

/// The X9.24 CMAC check value of a master (the `keys` column), computed by the core.
fn cmac_check_value(master_hex: &str) -> String {
    cardadmin::master::check_value(&master(master_hex))
        .unwrap_or_else(|never| match never {})
        .to_string()
}

#[test]
fn a_rotation_strands_no_card_on_sqlite() {
    rotation(Backend::Sqlite);
}

#[test]
fn a_rotation_strands_no_card_on_postgres() {
    if let Some(backend) = Backend::postgres("rotation") {
        rotation(backend);
    }
}

/// A registry written before versions: SQLite's first schema (no version), or the database's
/// schema 1, with two requests (one open, one closed) for two cards.
fn old_registry(bench: &Bench, r1: &str, s1: &str, r2: &str, s2: &str) {
    let hex = |text: &str| -> String {
        cardadmin_mimcm::Guid::parse(text)
            .unwrap()
            .as_bytes()
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect()
    };
    match &bench.backend {
        Backend::Sqlite => {
            let connection =
                rusqlite::Connection::open(bench.dir.path().join("registry.sqlite")).unwrap();
            connection
                .execute_batch(&format!(
                    "CREATE TABLE requests (
                        reqid BLOB PRIMARY KEY CHECK (length(reqid) = 16),
                        scid BLOB NOT NULL CHECK (length(scid) = 16),
                        cardid BLOB NOT NULL CHECK (length(cardid) = 16),
                        operator TEXT NOT NULL CHECK (operator <> ''),
                        state TEXT NOT NULL CHECK (state IN ('open', 'closed'))
                    );
                    CREATE INDEX requests_by_card ON requests (scid, operator, state);
                    INSERT INTO requests VALUES (x'{}', x'{}', x'{}', 'alice', 'open');
                    INSERT INTO requests VALUES (x'{}', x'{}', x'{}', 'alice', 'closed');",
                    hex(r1),
                    hex(s1),
                    hex(C1),
                    hex(r2),
                    hex(s2),
                    hex(C2)
                ))
                .unwrap();
        }
        Backend::Postgres(url) => {
            common::psql(url, &format!("
                CREATE TABLE cardadmin_schema (version integer NOT NULL);
                INSERT INTO cardadmin_schema VALUES (1);
                CREATE TABLE requests (
                    reqid bytea PRIMARY KEY CHECK (length(reqid) = 16),
                    scid bytea NOT NULL CHECK (length(scid) = 16),
                    cardid bytea NOT NULL CHECK (length(cardid) = 16),
                    operator text NOT NULL CHECK (operator <> ''),
                    state text NOT NULL CHECK (state IN ('open', 'closed')),
                    added bigint GENERATED ALWAYS AS IDENTITY
                );
                CREATE INDEX requests_by_card ON requests (scid, operator, state);
                CREATE TABLE audit (node_id text NOT NULL, seq bigint NOT NULL CHECK (seq >= 1), prev text NOT NULL,
                    hash text NOT NULL, line text NOT NULL, PRIMARY KEY (node_id, seq));
                CREATE TABLE key_uses (operator text PRIMARY KEY, uses timestamptz[] NOT NULL, allowed boolean NOT NULL);
                CREATE TABLE refusals (operator text PRIMARY KEY, times timestamptz[] NOT NULL, throttling boolean NOT NULL,
                    unrecorded bigint NOT NULL, verdict text NOT NULL, reported bigint NOT NULL);
                CREATE FUNCTION cardadmin_recent(times timestamptz[]) RETURNS timestamptz[] LANGUAGE sql STABLE
                    AS $$ SELECT coalesce(array_agg(t ORDER BY t), '{{}}') FROM unnest(times) AS t WHERE t > now() - interval '60 seconds' $$;
                INSERT INTO requests (reqid, scid, cardid, operator, state) VALUES
                    ('\\x{}', '\\x{}', '\\x{}', 'alice', 'open'),
                    ('\\x{}', '\\x{}', '\\x{}', 'alice', 'closed');",
                hex(r1), hex(s1), hex(C1), hex(r2), hex(s2), hex(C2)));
        }
    }
}

/// Item 3's upgrade: the cards of a registry written before versions are recorded as confirmed
/// on the version configured when it is first opened (here 3), so that the rotation after it
/// (to version 4, 3 previous) still answers them under 3.
fn upgrade(backend: Backend) {
    let bench = Bench::new(backend);
    let (r1, s1, r2, s2) = (guid(1), guid(0x11), guid(2), guid(0x22));
    old_registry(&bench, &r1, &s1, &r2, &s2);
    let v3 =
        bench.config(json!({"diversification_key": MASTER_3, "diversification_key_version": 3}));
    common::write_config(bench.dir.path(), "config.json", &v3);
    let (rows, _) = bench.keys();
    assert_eq!(
        rows,
        [(
            String::from("3"),
            String::from("current"),
            cmac_check_value(MASTER_3),
            2,
            0
        )]
    );
    let (code, list, stderr) = bench.command(&["requests", "list"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        list.contains(&format!("{r1}\t{s1}\t{C1}\talice\topen\tenroll\tApproved")),
        "{list}"
    );
    assert!(
        list.contains(&format!(
            "{r2}\t{s2}\t{C2}\talice\tclosed\tenroll\tCompleted"
        )),
        "{list}"
    );

    let v4 = bench.config(json!({
        "diversification_key": MASTER_2,
        "diversification_key_version": 4,
        "previous_diversification_keys": [{"version": 3, "key": MASTER_3}],
    }));
    let server = bench.start(&v4);
    let answer = get(&server, &bench.alice, &auth_target(&r1, &s1, C1, true));
    assert_eq!(
        (answer.status, answer.text()),
        (200, card_response(MASTER_3, C1))
    );
    let (rows, _) = bench.keys();
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert_eq!(
        (rows[1].0.as_str(), rows[1].1.as_str(), rows[1].3),
        ("3", "previous", 2)
    );
}

#[test]
fn an_upgraded_sqlite_registry_keeps_its_cards_on_the_configured_version() {
    upgrade(Backend::Sqlite);
}

#[test]
fn an_upgraded_database_keeps_its_cards_on_the_configured_version() {
    if let Some(backend) = Backend::postgres("upgrade") {
        upgrade(backend);
    }
}

/// A registry of a newer schema than this server writes is refused, not used.
#[test]
fn a_newer_sqlite_registry_is_refused() {
    let bench = Bench::new(Backend::Sqlite);
    let connection = rusqlite::Connection::open(bench.dir.path().join("registry.sqlite")).unwrap();
    connection.execute_batch("PRAGMA user_version = 3").unwrap();
    drop(connection);
    let config = bench.config(json!({"diversification_key": TEST_MASTER}));
    common::write_config(bench.dir.path(), "config.json", &config);
    let (code, _, stderr) = bench.command(&["requests", "list"]);
    assert_eq!(code, 1);
    assert!(
        stderr.contains("schema version 3, newer than this cardadmin-server knows"),
        "{stderr}"
    );
}

/// Item 2's start-up checks: each configuration is refused with a message that says why.
#[test]
fn master_versions_are_checked_at_start_up() {
    let bench = Bench::new(Backend::Sqlite);
    let refused = |masters: Value, registry: bool| -> String {
        let mut config = bench.config(masters);
        if !registry {
            let object = config.as_object_mut().unwrap();
            object.remove("registry");
        }
        let (code, stderr) = common::refused(&config, &common::listen_address());
        assert_eq!(code, 1, "{stderr}");
        stderr
    };
    let previous = |version: u64, key: &str| json!([{"version": version, "key": key}]);
    for (masters, registry, expected) in [
        (
            json!({"diversification_key": TEST_MASTER, "diversification_key_version": 0}),
            true,
            "1 to 255",
        ),
        (
            json!({"diversification_key": TEST_MASTER, "diversification_key_version": 256}),
            true,
            "1 to 255",
        ),
        (
            json!({"diversification_key": MASTER_2, "previous_diversification_keys": previous(300, TEST_MASTER)}),
            true,
            "1 to 255",
        ),
        (
            json!({"diversification_key_version": 2}),
            true,
            "names the version of \"diversification_key\"",
        ),
        (
            json!({"previous_diversification_keys": previous(1, TEST_MASTER)}),
            true,
            "need a current \"diversification_key\"",
        ),
        (
            json!({"diversification_key": MASTER_2, "diversification_key_version": 2, "previous_diversification_keys": previous(1, TEST_MASTER)}),
            false,
            "need a \"registry\" or a \"database\"",
        ),
        (
            json!({"diversification_key": MASTER_2, "diversification_key_version": 2, "previous_diversification_keys": previous(2, TEST_MASTER)}),
            true,
            "master key version 2 is given twice",
        ),
        (
            json!({"diversification_key": MASTER_2, "diversification_key_version": 2, "previous_diversification_keys": [{"version": 1, "key": TEST_MASTER}, {"version": 1, "key": MASTER_3}]}),
            true,
            "master key version 1 is given twice",
        ),
        (
            json!({"diversification_key": MASTER_2, "diversification_key_version": 2, "previous_diversification_keys": previous(1, MASTER_2)}),
            true,
            "master key versions 2 and 1 are the same key",
        ),
        // A previous master that is the initial key, or its complement: the role check.
        (
            json!({"diversification_key": MASTER_2, "diversification_key_version": 2, "previous_diversification_keys": previous(1, "0101010101010101FEFEFEFEFEFEFEFE1F1F1F1F0E0E0E0E")}),
            true,
            "weak or well known",
        ),
        (
            json!({"diversification_key": MASTER_2, "diversification_key_version": 2, "previous_diversification_keys": previous(1, ZERO_KEY)}),
            true,
            "previous diversification key version 1",
        ),
        (
            json!({"diversification_key": MASTER_2, "previous_diversification_keys": [{"version": 1, "key": TEST_MASTER, "extra": 1}]}),
            true,
            "unknown field",
        ),
    ] {
        let stderr = refused(masters.clone(), registry);
        assert!(stderr.contains(expected), "{masters}: {stderr}");
        assert!(
            !stderr.contains(TEST_MASTER) && !stderr.contains(MASTER_2),
            "{stderr}"
        );
    }
}

/// The role check runs for every version: a previous master that is the (non-default)
/// initial admin key, or its 3DES complement, is refused.
#[test]
fn every_version_passes_the_role_check_against_the_initial_key() {
    let bench = Bench::new(Backend::Sqlite);
    let initial = "5B1E2C9D4A7F30861D2E4F5A6B7C8D9E0F1A2B3C4D5E6F70";
    let complement: String = initial
        .chars()
        .map(|c| format!("{:X}", 15 - c.to_digit(16).unwrap()))
        .collect();
    for (key, expected) in [
        (initial.to_string(), "are the same key"),
        (complement, "bitwise complement"),
    ] {
        let mut config = bench.config(json!({
            "diversification_key": MASTER_2,
            "diversification_key_version": 2,
            "previous_diversification_keys": [{"version": 1, "key": key}],
        }));
        config["initial_admin_key"] = json!(initial);
        let (code, stderr) = common::refused(&config, &common::listen_address());
        assert_eq!(code, 1, "{stderr}");
        assert!(
            stderr.contains("master key version 1: ") && stderr.contains(expected),
            "{stderr}"
        );
    }
}

/// Item 1's shapes and refusals: who may read the profile's configuration, what it holds,
/// the bodies' limits, and each rule of the lifecycle routes.
#[test]
fn the_lifecycle_routes_refuse_what_they_must() {
    let bench = Bench::new(Backend::Sqlite);
    let server = bench.start(&bench.config(json!({"diversification_key": TEST_MASTER})));
    let configuration = format!("{PREFIX}/profiletemplates/{TEMPLATE}/configuration/smartcards");
    // No open request: no initial key.
    let refused = get(&server, &bench.bob, &configuration);
    assert_eq!(refused.status, 403);
    assert!(
        refused
            .message()
            .starts_with("forbidden: the caller has no open request"),
        "{}",
        refused.text()
    );
    let r1 = guid(1);
    bench.add(&["--reqid", &r1, "--cardid", C1, "--operator", "alice"]);
    let answer = get(&server, &bench.alice, &configuration);
    assert_eq!((answer.status, answer.content_type()), (200, common::JSON));
    let value: Value = serde_json::from_slice(&answer.body).unwrap();
    assert_eq!(value["DefaultAdminKeyHex"], ZERO_KEY);
    assert_eq!(value["DiversifyAdminKey"], true);
    assert_eq!(value["AdminKeyAlgorithm"], "tdes");
    assert_eq!(value["UserPinOption"], "Randomized");
    assert!(
        value["UserPinPolicy"]["MinLength"].is_u64()
            && value["AdminPinPolicy"]["CharacterSet"].is_string()
    );
    assert!(!answer.text().to_uppercase().contains(TEST_MASTER));
    let other = get(
        &server,
        &bench.alice,
        &configuration.replace("12bd5120", "12bd5121"),
    );
    assert_eq!(
        (other.status, other.message().as_str()),
        (404, "profile template: no profile template with this ID")
    );
    let head = send(&server, &bench.alice, "HEAD", &configuration, None);
    assert_eq!((head.status, head.header("allow")), (405, Some("GET")));

    // Before POST /smartcards the request has no smart card: no key.
    let early = get(&server, &bench.alice, &key_target(&r1, &guid(0x99), C1));
    assert_eq!(
        early.message(),
        "forbidden: the request has no smart card yet: POST /smartcards binds one"
    );

    let smartcards = format!("{PREFIX}/smartcards");
    let secret = "0011223344556677";
    for (body, content_type, status, expected) in [
        (
            format!(r#"{{"requestid": "{r1}", "cardid": "{C1}"}}"#),
            "text/plain",
            415,
            "body: send it as Content-Type: application/json",
        ),
        (
            format!(
                r#"{{"requestid": "{r1}", "cardid": "{C1}", "pad": "{}"}}"#,
                "x".repeat(5000)
            ),
            "application/json",
            413,
            "body: longer than 4096 bytes",
        ),
        (
            format!(r#"{{"requestid": "{r1}", "cardid": "{C1}", "key": "{secret}"}}"#),
            "application/json",
            400,
            "body: a field this route does not read",
        ),
        (
            format!(r#"{{"requestid": "{secret}", "cardid": "{C1}"}}"#),
            "application/json; charset=utf-8",
            400,
            "requestid: not a GUID",
        ),
        (
            format!(r#"{{"requestid": "{r1}", "cardid": 1{secret}}}"#),
            "application/json",
            400,
            "cardid: a GUID in a JSON string is expected",
        ),
        (
            format!(r#"{{"requestid": "{r1}", "cardid": "{C2}"}}"#),
            "application/json",
            403,
            "forbidden: the card ID is not the request's",
        ),
    ] {
        let answer = send_typed(
            &server,
            &bench.alice,
            "POST",
            &smartcards,
            Some(&body),
            content_type,
        );
        assert_eq!(answer.status, status, "{body}: {}", answer.text());
        assert!(
            answer.message().starts_with(expected),
            "{body}: {}",
            answer.text()
        );
        assert!(!answer.text().contains(secret), "{}", answer.text());
    }
    let created = send(
        &server,
        &bench.alice,
        "POST",
        &smartcards,
        Some(&format!(r#"{{"requestid": "{r1}", "cardid": "{C1}"}}"#)),
    );
    assert_eq!(created.status, 201);
    let scid: String = serde_json::from_slice(&created.body).unwrap();
    assert!(
        cardadmin_mimcm::Guid::parse(&scid).is_ok() && scid == scid.to_lowercase(),
        "{scid}"
    );

    // A request added with --scid: POST /smartcards answers that smart card.
    let (r2, s2) = (guid(2), guid(0x22));
    bench.add(&["--reqid", &r2, "--scid", &s2, "--operator", "alice"]);
    let named = send(
        &server,
        &bench.alice,
        "POST",
        &smartcards,
        Some(&format!(r#"{{"RequestId": "{r2}", "CardId": "{C2}"}}"#)),
    );
    assert_eq!((named.status, named.text()), (201, format!("\"{s2}\"")));

    // Renew and retire requests name their card when added, and get no new smart card.
    let (code, _, stderr) = bench.command(&[
        "requests",
        "add",
        "--reqid",
        &guid(3),
        "--operator",
        "alice",
        "--type",
        "renew",
    ]);
    assert_eq!(code, 1);
    assert!(
        stderr
            .contains("a renew request is about a card that exists: give its --scid and --cardid"),
        "{stderr}"
    );
    let (code, _, stderr) = bench.command(&[
        "requests",
        "add",
        "--reqid",
        &guid(3),
        "--operator",
        "alice",
        "--type",
        "replace",
    ]);
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains("--type: enroll, renew or retire"),
        "{stderr}"
    );
    let r4 = guid(4);
    bench.add_card(&r4, &scid, C1, Some("renew"));
    let renew = send(
        &server,
        &bench.alice,
        "POST",
        &smartcards,
        Some(&format!(r#"{{"requestid": "{r4}", "cardid": "{C1}"}}"#)),
    );
    assert_eq!(renew.status, 403);
    assert!(
        renew
            .message()
            .starts_with("forbidden: smart cards are created for enroll requests"),
        "{}",
        renew.text()
    );
    let retire = send(
        &server,
        &bench.alice,
        "PUT",
        &format!("{PREFIX}/requests/{r4}/smartcards/{scid}"),
        Some(r#"{"status": "Retired"}"#),
    );
    assert_eq!(
        retire.message(),
        "forbidden: a smart card is retired within a retire request"
    );

    let bad = put_request(&server, &bench.alice, &r4, r#"{"status": "Done"}"#);
    assert_eq!(
        (bad.status, bad.message().as_str()),
        (
            400,
            "status: one of Completed, Canceled, Abandoned is expected (the value is not repeated)"
        )
    );
    let bobs = put_request(&server, &bench.bob, &r4, r#"{"status": "Completed"}"#);
    assert_eq!(
        bobs.message(),
        "forbidden: no request with this ID is registered for the caller"
    );
    let delete = send(
        &server,
        &bench.alice,
        "DELETE",
        &format!("{PREFIX}/requests/{r4}"),
        None,
    );
    assert_eq!(
        (delete.status, delete.header("allow")),
        (405, Some("GET, PUT"))
    );
    let get = get(&server, &bench.alice, &format!("{PREFIX}/requests/{r4}"));
    let value: Value = serde_json::from_slice(&get.body).unwrap();
    assert_eq!(
        (value["Type"].as_str(), value["Status"].as_str()),
        (Some("Renew"), Some("Approved"))
    );
}

/// Without a registry the routes that need one answer 501, and the profile's configuration
/// is answered to any caller (a development configuration, as the key routes are).
#[test]
fn without_a_registry_only_the_configuration_is_answered() {
    let bench = Bench::new(Backend::Sqlite);
    let mut config = bench.config(json!({}));
    let object = config.as_object_mut().unwrap();
    object.remove("registry");
    let server = bench.start(&config);
    let answer = get(
        &server,
        &bench.bob,
        &format!("{PREFIX}/profiletemplates/{TEMPLATE}/configuration/smartcards"),
    );
    assert_eq!(answer.status, 200);
    let value: Value = serde_json::from_slice(&answer.body).unwrap();
    assert_eq!(value["DiversifyAdminKey"], false);
    let answer = bind_card(&server, &bench.bob, &guid(1), C1);
    assert_eq!(answer.status, 501, "{}", answer.text());
}
