//! Who may ask (issue #16), end to end through the binary: TLS client certificates (a CA, the
//! server's certificate, operators alice and bob, a foreign CA's certificate that also says
//! CN=alice), every 403 rule of the request registry, 429 past the rate limit, the audit
//! trail (`verify-audit` on the real log and on copies with one byte changed or a torn tail),
//! SIGKILL under load and a restart that continues the chain, a trail that cannot be written,
//! and plain HTTP kept to loopback.

mod common;

use std::path::Path;
use std::time::Duration;

use common::*;
use serde_json::{json, Value};

const REQ2: &str = "0b7a4c2e-1111-4c9b-89d1-bbc0bcd5a099";
const SCID2: &str = "2c1d0e3f-2222-4aa9-a822-346554ddd3c9";
const REQ3: &str = "3d2e1f40-3333-4c9b-89d1-bbc0bcd5a099";
const LIMIT: u32 = 6;

/// The secured configuration: TLS, registry, audit trail, rate limit.
fn secured(dir: &Path, pki: &Pki) -> Value {
    json!({
        "initial_admin_key": ZERO_KEY,
        "diversification_key": TEST_MASTER,
        "tls": pki.tls_config(),
        "registry": dir.join("registry.sqlite"),
        "audit_log": dir.join("audit.jsonl"),
        "rate_limit_per_minute": LIMIT,
    })
}

/// `requests ARGS --config CONFIG`: (exit code, stdout, stderr).
fn requests(config: &Path, args: &[&str]) -> (i32, String, String) {
    let mut all = vec!["requests", args[0], "--config", config.to_str().unwrap()];
    all.extend_from_slice(&args[1..]);
    let output = run(&all);
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// Registers alice's request, bob's (in other spellings of its GUIDs), and a closed one of
/// alice's; returns `requests list`.
fn register(config: &Path) -> String {
    let add = |reqid: &str, scid: &str, operator: &str| {
        let (code, _, stderr) = requests(
            config,
            &[
                "add",
                "--reqid",
                reqid,
                "--scid",
                scid,
                "--cardid",
                CARD,
                "--operator",
                operator,
            ],
        );
        assert_eq!(code, 0, "requests add {reqid}: {stderr}");
    };
    add(REQ, SCID, "alice");
    add(
        &format!("{{{}}}", REQ2.to_uppercase()),
        &SCID2.replace('-', ""),
        "bob",
    );
    add(REQ3, SCID, "alice");
    let (code, _, stderr) = requests(config, &["close", "--reqid", REQ3]);
    assert_eq!(code, 0, "{stderr}");
    // The same request ID again, in another spelling: refused.
    let (code, _, stderr) = requests(
        config,
        &[
            "add",
            "--reqid",
            &REQ.to_uppercase(),
            "--scid",
            SCID,
            "--cardid",
            CARD,
            "--operator",
            "bob",
        ],
    );
    assert_eq!(code, 1, "a request ID registered already was accepted");
    assert!(stderr.starts_with("error: "), "{stderr}");
    let (code, list, _) = requests(config, &["list"]);
    assert_eq!(code, 0);
    assert_eq!(list.lines().count(), 4, "{list}");
    assert!(
        list.contains(&format!(
            "\n{REQ2}\t{SCID2}\t{CARD}\tbob\topen\tenroll\tApproved\n"
        )),
        "{list}"
    );
    assert!(
        list.contains(&format!(
            "\n{REQ3}\t{SCID}\t{CARD}\talice\tclosed\tenroll\tCanceled"
        )),
        "{list}"
    );
    list
}

#[track_caller]
fn expect(got: std::io::Result<Response>, status: u16, body: &str) -> Response {
    let got = got.unwrap_or_else(|err| panic!("no HTTP answer: {err}"));
    assert_eq!((got.status, got.text().as_str()), (status, body));
    got
}

#[track_caller]
fn no_answer(got: std::io::Result<Response>) {
    if let Ok(got) = got {
        panic!("an HTTP answer where the handshake must fail: {got:?}");
    }
}

fn forbidden(rule: &str) -> String {
    json!({ "Message": format!("forbidden: {rule}") }).to_string()
}

fn target(reqid: &str, scid: &str, rest: &str) -> String {
    format!("{PREFIX}/requests/{reqid}/smartcards/{scid}/{rest}")
}

/// Asks one server, counting the requests that got an HTTP answer (each is an audit line).
struct Asker<'a> {
    server: &'a Server,
    pki: &'a Pki,
    answered: usize,
}

impl Asker<'_> {
    fn tls(&mut self, client: &Client, target: &str) -> std::io::Result<Response> {
        let got = self.server.tls(client, "GET", target);
        self.answered += usize::from(got.is_ok());
        got
    }

    fn get(&mut self, who: &Identity, target: &str) -> std::io::Result<Response> {
        self.tls(&Client::new(self.pki, Some(who)), target)
    }
}

/// Every rule, in one server's life, then the audit trail it wrote.
#[test]
fn certificates_registry_rate_limit_and_the_audit_trail() {
    let dir = temp_dir();
    let pki = Pki::new(dir.path(), "ca");
    let foreign = Pki::new(dir.path(), "foreign-ca");
    let alice = pki.issue("alice");
    let bob = pki.issue("bob");
    let mallory = foreign.issue("alice");
    let config = write_config(dir.path(), "config.json", &secured(dir.path(), &pki));
    register(&config);
    let mut server = Server::launch(Launch::new(config)).unwrap();
    let mut ask = Asker {
        server: &server,
        pki: &pki,
        answered: 0,
    };
    let auth = format!(
        "authenticationresponse?cardid={CARD}&challenge=1hFD%2Bcz%2F0so%3D&diversified=False"
    );

    // alice, her open request: the documented answer over TLS, by name and by address, TLS 1.3
    // and 1.2.
    let by_name = Client::new(&pki, Some(&alice)).named("localhost");
    expect(
        ask.tls(
            &by_name,
            &format!("/certificatemanagement/api/v1.0/requests/{REQ}/smartcards/{SCID}/{auth}"),
        ),
        200,
        DOCUMENTED,
    );
    for version in [&rustls::version::TLS12, &rustls::version::TLS13] {
        let client = Client::with_versions(&pki, Some(&alice), &[version]);
        expect(ask.tls(&client, &target(REQ, SCID, &auth)), 200, DOCUMENTED);
    }
    // No client certificate, a foreign CA's "alice", plain HTTP to the TLS port: no answer.
    no_answer(ask.tls(&Client::new(&pki, None), &target(REQ, SCID, &auth)));
    no_answer(ask.get(&mallory, &target(REQ, SCID, &auth)));
    no_answer(server.raw(
        &request_bytes("GET", &target(REQ, SCID, &auth), &server.host()),
        false,
    ));
    let mut get = |who: &Identity, target: &str| ask.get(who, target);
    expect(
        get(&bob, &target(REQ, SCID, &auth)),
        403,
        &forbidden("no request with this ID is registered for the caller"),
    );
    expect(
        get(&alice, &target(REQ3, SCID, &auth)),
        403,
        &forbidden("the request is closed"),
    );
    expect(
        get(
            &alice,
            &target(
                REQ,
                SCID,
                "diversifiedkey?cardid=00000000-0000-0000-0000-000000000001",
            ),
        ),
        403,
        &forbidden("the card ID is not the request's"),
    );
    expect(
        get(
            &alice,
            &target(REQ, SCID2, &format!("diversifiedkey?cardid={CARD}")),
        ),
        403,
        &forbidden("the smart card ID is not the request's"),
    );
    expect(
        get(
            &alice,
            &target(
                "00000000-0000-0000-0000-00000000beef",
                SCID,
                &format!("diversifiedkey?cardid={CARD}"),
            ),
        ),
        403,
        &forbidden("no request with this ID is registered for the caller"),
    );
    // GUIDs compared as GUIDs: upper case and braces.
    let got = get(
        &alice,
        &target(
            &format!("%7B{}%7D", REQ.to_uppercase()),
            &SCID.to_uppercase(),
            &format!("diversifiedkey?cardid={}", CARD.to_uppercase()),
        ),
    )
    .unwrap();
    assert_eq!(got.status, 200);
    assert!(quoted_of(&got.text(), 32, base64_char), "{}", got.text());
    let pin = get(
        &alice,
        &format!("{PREFIX}/smartcards/{SCID}/serverproposedpin"),
    )
    .unwrap();
    assert_eq!(pin.status, 200);
    assert!(
        quoted_of(&pin.text(), 8, |c| c.is_ascii_digit()),
        "{}",
        pin.text()
    );
    expect(
        get(
            &bob,
            &format!("{PREFIX}/smartcards/{SCID}/serverproposedpin"),
        ),
        403,
        &forbidden("the caller has no open request for this smart card"),
    );
    let malformed = get(&alice, &target(REQ, SCID, "diversifiedkey?cardid=nope")).unwrap();
    assert_eq!(malformed.status, 400);
    assert!(
        malformed.message().starts_with("cardid: "),
        "{}",
        malformed.text()
    );
    // The rate limit: bob has used no key yet (his 403s do not count).
    let bobs = target(REQ2, SCID2, &format!("diversifiedkey?cardid={CARD}"));
    for use_ in 1..=LIMIT {
        let got = get(&bob, &bobs).unwrap();
        assert_eq!(got.status, 200, "bob's key use {use_}: {}", got.text());
    }
    expect(
        get(&bob, &bobs),
        429,
        &json!({"Message": format!("rate limited: more than {LIMIT} key uses in a minute by this caller; try again later")}).to_string(),
    );
    let answered = ask.answered;
    assert!(server.stop().success());

    // -- the audit trail ---------------------------------------------------------------------
    let audit = dir.path().join("audit.jsonl");
    let (code, verified) = verify_audit(&audit);
    assert_eq!(code, 0, "{verified}");
    let text = std::fs::read_to_string(&audit).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        verified.contains(&format!("; {} lines, chain intact; head ", lines.len())),
        "{verified}"
    );
    // The file id line and the registry's lines (`requests add|close`), then one line per
    // request.
    assert!(
        lines[0].contains(r#""audit_trail":"cardadmin-server""#),
        "{}",
        lines[0]
    );
    let requests: Vec<&str> = lines
        .iter()
        .copied()
        .filter(|line| !line.contains(r#""registry":"#) && !line.contains(r#""audit_trail":"#))
        .collect();
    assert_eq!(requests.len(), answered, "one audit line per request");
    let first_request = r#""operator":"alice","endpoint":"authenticationresponse","reqid":"REQ","scid":"SCID","cardid":"CARD","diversified":false,"key_role":"initial_key","key_check_value":"8CA64D","status":200,"message":null,"prev":""#
        .replace("REQ", REQ)
        .replace("SCID", SCID)
        .replace("CARD", CARD);
    assert!(requests[0].contains(&first_request), "{}", requests[0]);
    assert!(lines.iter().any(|line| line.contains(r#""operator":"bob""#)
        && line.contains(
            r#""status":403,"message":"forbidden: no request with this ID is registered for the caller""#
        )));
    assert!(text.contains(r#""status":429"#) && text.contains(r#""status":400"#));
    for secret in ["F0Zudm4wPLY", "1hFD", &pin.text()[1..9]] {
        assert!(!text.contains(secret), "the trail holds {secret:?}");
    }
    // One byte changed in the first 403 line: verify-audit names it.
    let line403 = lines
        .iter()
        .position(|line| line.contains(r#""status":403"#))
        .unwrap()
        + 1;
    let tampered = dir.path().join("tampered.jsonl");
    let mut changed = lines.clone();
    let edited = changed[line403 - 1].replacen(r#""status":403"#, r#""status":402"#, 1);
    changed[line403 - 1] = &edited;
    std::fs::write(&tampered, changed.join("\n") + "\n").unwrap();
    let (code, out) = verify_audit(&tampered);
    assert!(
        code != 0 && out.contains(&format!("broken at line {line403}: ")),
        "{out}"
    );
    // Line 1's prev (a line removed at the start reads the same way).
    std::fs::write(&tampered, text.replacen(r#""prev":"0"#, r#""prev":"1"#, 1)).unwrap();
    let (code, out) = verify_audit(&tampered);
    assert!(code != 0 && out.contains("broken at line 1: "), "{out}");
    // A torn last line.
    let torn = dir.path().join("torn.jsonl");
    std::fs::write(&torn, &text.as_bytes()[..text.len() - 40]).unwrap();
    let (code, out) = verify_audit(&torn);
    assert!(
        code != 0 && out.contains(&format!("broken at line {}: torn", lines.len())),
        "{out}"
    );
    // A server never continues a torn trail: it names the line and stops.
    let mut config = secured(dir.path(), &pki);
    config["audit_log"] = json!(torn);
    let (code, stderr) = refused(&config, "127.0.0.1:0");
    assert_eq!(code, 1);
    assert!(
        stderr.contains(&format!("line {}: torn", lines.len())),
        "{stderr}"
    );
}

/// SIGKILL while 8 connections ask for card keys: the registry is intact, the trail verifies
/// (or ends in one torn line), and a restarted server continues the chain from its head.
#[test]
fn sigkill_under_load_then_a_restart_continues_the_chain() {
    let dir = temp_dir();
    let pki = Pki::new(dir.path(), "ca");
    let alice = pki.issue("alice");
    let mut config = secured(dir.path(), &pki);
    config
        .as_object_mut()
        .unwrap()
        .remove("rate_limit_per_minute");
    let config_path = write_config(dir.path(), "config.json", &config);
    let before = register(&config_path);
    let mut server = Server::launch(Launch::new(config_path.clone())).unwrap();
    // The load client of benches/tls_load.sh (this package's other binary), 8 connections.
    let url = format!(
        "https://{}{}",
        server.addr,
        target(REQ, SCID, &format!("authenticationresponse?cardid={CARD}&challenge=1hFD%2Bcz%2F0so%3D&diversified=true"))
    );
    let load = std::process::Command::new(env!("CARGO_BIN_EXE_tls_load"))
        .args(["--url", &url, "--ca", pki.ca_path.to_str().unwrap()])
        .args(["--cert", alice.cert_path.to_str().unwrap()])
        .args(["--key", alice.key_path.to_str().unwrap()])
        .args(["--connections", "8", "--seconds", "4"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_secs(2));
    server.kill();
    let load = load.wait_with_output().unwrap();
    let report = String::from_utf8_lossy(&load.stdout).into_owned();
    assert!(
        load.status.success(),
        "{report} {}",
        String::from_utf8_lossy(&load.stderr)
    );
    // "statuses {200: N}": what was answered before the kill.
    let answered: usize = report
        .split_once("200: ")
        .and_then(|(_, rest)| rest.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|count| count.parse().ok())
        .unwrap_or_else(|| panic!("no 200 under load: {report}"));
    assert!(answered > 0, "{report}");
    let (_, after, _) = requests(&config_path, &["list"]);
    assert_eq!(after, before, "the registry after SIGKILL");
    let audit = dir.path().join("audit.jsonl");
    let (code, out) = verify_audit(&audit);
    if code != 0 {
        // The kill may cut a write: then one torn line, and nothing else wrong.
        assert!(out.contains(": torn:"), "after SIGKILL: {out}");
        return;
    }
    let lines = std::fs::read_to_string(&audit).unwrap().lines().count();
    assert!(lines >= answered, "{lines} lines for {answered} answers");
    eprintln!("SIGKILL under load: {report}; {lines} lines on the trail, {out}");
    let head = out.rsplit_once("head ").unwrap().1.to_string();
    let mut server = Server::launch(Launch::new(config_path)).unwrap();
    assert!(
        server
            .stderr()
            .contains(&format!("lines, chain verified, head {head}")),
        "{}",
        server.stderr()
    );
    expect(
        server.get_with_cert(&pki, &alice, &documented_target(REQ)),
        200,
        DOCUMENTED,
    );
    assert!(server.stop().success());
    let text = std::fs::read_to_string(&audit).unwrap();
    let next = text.lines().nth(lines).unwrap();
    assert!(next.ends_with(&format!(r#""prev":"{head}"}}"#)), "{next}");
    let (code, out) = verify_audit(&audit);
    assert_eq!(code, 0, "after the restart: {out}");
}

/// An audit trail that cannot be written (a 2 KiB file size limit, SIGXFSZ ignored, so a
/// write past it fails): from the first failure on, no answer carries a key (503); the answers
/// that did are each a line on disk after the file id line, and the writer cut the failed
/// write back, so the trail still verifies (issue #24 item 7; recovery once writes succeed
/// again is `audit_trail.rs`'s test).
#[test]
fn an_audit_trail_that_cannot_be_written_stops_key_use() {
    let dir = temp_dir();
    let pki = Pki::new(dir.path(), "ca");
    let alice = pki.issue("alice");
    let full = dir.path().join("full.jsonl");
    let config = json!({
        "initial_admin_key": ZERO_KEY,
        "diversification_key": TEST_MASTER,
        "tls": pki.tls_config(),
        "audit_log": full,
    });
    let path = write_config(dir.path(), "config.json", &config);
    let mut launch = Launch::new(path);
    launch.shell_prefix = Some(String::from("trap '' XFSZ; ulimit -f 2"));
    let mut server = Server::launch(launch).unwrap();
    let mut statuses = Vec::new();
    let mut first_failure = None;
    for i in 0..12 {
        let got = server
            .get_with_cert(&pki, &alice, &documented_target(REQ))
            .unwrap();
        statuses.push(got.status);
        if got.status == 503 {
            first_failure.get_or_insert(i);
            assert!(
                got.message()
                    .starts_with("audit: the audit trail could not be written, so no key was used"),
                "{}",
                got.text()
            );
        }
        assert!(
            got.status == 200 || !got.text().contains("F0Zudm4wPLY"),
            "{statuses:?}"
        );
        if first_failure.is_some() {
            assert_ne!(
                got.status, 200,
                "a key answered after the trail failed: {statuses:?}"
            );
        }
    }
    server.stop();
    let first_failure = first_failure.expect("the trail never failed");
    assert!(first_failure > 0, "{statuses:?}");
    let lines = std::fs::read_to_string(&full).unwrap().lines().count();
    let answered = statuses.iter().filter(|status| **status == 200).count();
    // The file id line, then one line per answer that used a key; the failed writes were cut
    // back to the last whole line.
    assert_eq!(lines, answered + 1, "{statuses:?}");
    let (code, out) = verify_audit(&full);
    assert_eq!(code, 0, "{out}");
    eprintln!("audit trail full: statuses {statuses:?}; {out}");
}

/// Plain HTTP: loopback only, no registry without TLS, and the README's request unchanged,
/// with a start-up line that says no registry is in use.
#[test]
fn plain_http_stays_on_loopback() {
    let dir = temp_dir();
    let plain = json!({"initial_admin_key": ZERO_KEY, "diversification_key": TEST_MASTER});
    let (code, stderr) = refused(&plain, "0.0.0.0:0");
    assert_eq!(code, 1);
    assert!(
        stderr.contains("refusing to serve plain HTTP on 0.0.0.0:0") && stderr.contains("loopback"),
        "{stderr}"
    );
    let with_registry =
        json!({"initial_admin_key": ZERO_KEY, "registry": dir.path().join("registry.sqlite")});
    let (code, stderr) = refused(&with_registry, "127.0.0.1:0");
    assert_eq!(code, 1);
    assert!(stderr.contains(r#""registry" needs "tls""#), "{stderr}");
    let mut server = Server::start_in(dir.path(), &plain);
    let got = server.get(&format!("/certificatemanagement/api/v1.0/requests/{REQ}/smartcards/{SCID}/authenticationresponse?cardid={CARD}&challenge=1hFD%2Bcz%2F0so%3D&diversified=False"));
    assert_eq!((got.status, got.text().as_str()), (200, DOCUMENTED));
    server.stop();
    assert!(
        server
            .stderr()
            .contains(r#"warning: no "registry" in the configuration"#),
        "{}",
        server.stderr()
    );
}
