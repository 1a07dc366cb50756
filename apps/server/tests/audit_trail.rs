//! The audit trail, the refusal limit and the registry's race, end to end (issue #24 items 6,
//! 7, 11 and 14): the built server on loopback (the harness's ports: see `common`), over plain
//! HTTP or over TLS with client certificates made in process, its configuration, registry and
//! trail in a temporary directory, and the `requests` and `verify-audit` subcommands.

#![cfg(unix)]

mod common;

use std::fs::OpenOptions;
use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{run_text as run, write_config, Client, Launch, Pki, Server, CARD, REQ, SCID};
use serde_json::{json, Value};
use sha2::{Digest as _, Sha256};

/// A master of no example or standard: a deployment's (`"tls"`) master must be neither.
const MASTER: &str = common::TEST_MASTER;

/// The README's request: the initial key answers a challenge.
fn documented() -> String {
    common::documented_target(REQ)
}

/// A request the card key answers.
fn diversified_key() -> String {
    format!(
        "{}/requests/{REQ}/smartcards/{SCID}/diversifiedkey?cardid={CARD}",
        common::PREFIX
    )
}

/// `extra`'s fields over `config`'s, written as `dir/name`.
fn config_with(dir: &Path, name: &str, mut config: Value, extra: Value) -> PathBuf {
    for (field, value) in extra.as_object().unwrap() {
        config[field] = value.clone();
    }
    write_config(dir, name, &config)
}

/// The plain HTTP configuration with an audit trail, and `extra` fields.
fn plain_config(dir: &Path, extra: Value) -> PathBuf {
    let config = json!({
        "initial_admin_key": common::ZERO_KEY,
        "diversification_key": MASTER,
        "audit_log": dir.join("audit.jsonl"),
    });
    config_with(dir, "plain.json", config, extra)
}

/// The TLS configuration with a registry and an audit trail (certificates of `pki`), and
/// `extra` fields.
fn tls_config(dir: &Path, pki: &Pki, extra: Value) -> PathBuf {
    let config = json!({
        "initial_admin_key": common::ZERO_KEY,
        "diversification_key": MASTER,
        "tls": pki.tls_config(),
        "registry": dir.join("registry.sqlite"),
        "audit_log": dir.join("audit.jsonl"),
    });
    config_with(dir, "tls.json", config, extra)
}

/// SIGTERM, as `kill PID`; stdout and stderr once it exited (with success).
fn stop(server: Server) -> (String, String) {
    server.stop_ok()
}

/// A GET over plain HTTP: status and body.
fn get(server: &Server, target: &str) -> (u16, String) {
    let answer = server.get(target);
    (answer.status, answer.text())
}

/// A GET over TLS with `client` (an operator's certificate): status and body.
fn get_tls(client: &Client, addr: std::net::SocketAddr, target: &str) -> (u16, String) {
    let answer = common::tls_request(client, addr, "GET", target).unwrap();
    (answer.status, answer.text())
}

fn trail_lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

fn parse(line: &str) -> Value {
    serde_json::from_str(line).unwrap()
}

fn sha256_hex(text: &str) -> String {
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// `verify-audit PATH`, which must succeed: its stdout.
fn verify_audit(path: &Path) -> String {
    let (code, stdout, stderr) = run(&["verify-audit", path.to_str().unwrap()]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    stdout
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// Item 6: two servers on one trail would fork its chain; the second refuses to start and
/// says why, and the trail is free again once the first has stopped.
#[test]
fn a_second_server_on_the_same_trail_refuses_to_start() {
    let dir = common::temp_dir();
    let dir = dir.path();
    let config = plain_config(dir, json!({}));
    let first = Server::start_file(&config);
    let (status, stderr) = common::try_start(&config)
        .err()
        .expect("a second server started on the same audit trail");
    assert_eq!(status, Some(1), "{stderr}");
    assert!(
        stderr.contains("in use: another cardadmin-server holds its lock"),
        "{stderr}"
    );
    assert_eq!(get(&first, &documented()).0, 200);
    stop(first);
    stop(Server::start_file(&config));
    verify_audit(&dir.join("audit.jsonl"));
}

/// Item 6: the chain head goes to stderr every `audit_anchor_every` lines and at shutdown,
/// and each anchor is the SHA-256 of the line it names.
#[test]
fn the_chain_head_is_anchored_on_stderr_every_n_lines_and_at_shutdown() {
    let dir = common::temp_dir();
    let dir = dir.path();
    let config = plain_config(dir, json!({"audit_anchor_every": 3}));
    let server = Server::start_file(&config);
    for _ in 0..7 {
        assert_eq!(
            get(&server, &documented()),
            (200, String::from("\"F0Zudm4wPLY=\""))
        );
    }
    let (_, stderr) = stop(server);
    let path = dir.join("audit.jsonl");
    let lines = trail_lines(&path);
    // The file id line and one line per request.
    assert_eq!(lines.len(), 8);
    let id = parse(&lines[0])["file_id"].as_str().unwrap().to_string();
    let anchor = |line: usize| {
        format!(
            "audit anchor: {} file id {id} line {line} head {}",
            path.display(),
            sha256_hex(&lines[line - 1])
        )
    };
    assert!(stderr.contains(&format!("{}\n", anchor(3))), "{stderr}");
    assert!(stderr.contains(&format!("{}\n", anchor(6))), "{stderr}");
    assert!(
        stderr.contains(&format!("{} (at shutdown)\n", anchor(8))),
        "{stderr}"
    );
    let anchors = stderr
        .lines()
        .filter(|line| line.starts_with("audit anchor: "))
        .count();
    assert_eq!(anchors, 3, "{stderr}");
    assert!(
        stderr.contains(&format!("file id {id}; add \"audit_file_id\": \"{id}\"")),
        "{stderr}"
    );
    assert_eq!(
        verify_audit(&path),
        format!(
            "{}: file id {id}; 8 lines, chain intact; head {}\n",
            path.display(),
            sha256_hex(&lines[7])
        )
    );
}

/// Item 6: `verify-audit` names the file id and checks an expected one; a configured
/// `audit_file_id` refuses another trail at start-up; a trail from before file ids verifies
/// as it did, and gets its id appended.
#[test]
fn the_file_id_names_the_trail_and_a_trail_from_before_ids_still_verifies() {
    let dir = common::temp_dir();
    let dir = dir.path();
    let path = dir.join("audit.jsonl");
    // Two lines as a server before file ids wrote them.
    let mut old = String::new();
    let mut prev = "0".repeat(64);
    for status in [200, 403] {
        let line = json!({
            "time": "2026-01-02T03:04:05.678Z", "operator": "alice",
            "endpoint": "diversifiedkey", "reqid": REQ, "scid": SCID, "cardid": CARD,
            "diversified": true, "key_role": null, "key_check_value": null,
            "status": status, "message": null, "prev": prev,
        })
        .to_string();
        prev = sha256_hex(&line);
        old.push_str(&line);
        old.push('\n');
    }
    std::fs::write(&path, &old).unwrap();
    assert_eq!(
        verify_audit(&path),
        format!(
            "{}: no file id (written before file ids); 2 lines, chain intact; head {prev}\n",
            path.display()
        )
    );
    let config = plain_config(dir, json!({}));
    stop(Server::start_file(&config));
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.starts_with(&old));
    let id = parse(text.lines().nth(2).unwrap())["file_id"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        verify_audit(&path).contains(&format!(
            ": file id {id} (from line 3; the lines before it were written before file ids); 3 lines, chain intact"
        )),
        "{}",
        verify_audit(&path)
    );
    let (code, _, _) = run(&[
        "verify-audit",
        path.to_str().unwrap(),
        "--file-id",
        &id.to_uppercase(),
    ]);
    assert_eq!(code, 0);
    let other = "0123456789abcdef0123456789abcdef";
    let (code, _, stderr) = run(&["verify-audit", path.to_str().unwrap(), "--file-id", other]);
    assert_eq!(code, 1);
    assert!(
        stderr.contains(&format!("it is not the trail {other}")),
        "{stderr}"
    );
    // The configuration names another trail: start-up stops; the right one: it starts.
    let config = plain_config(dir, json!({"audit_file_id": other}));
    let (status, stderr) = common::try_start(&config)
        .err()
        .expect("a server started on a trail with another file id");
    assert_eq!(status, Some(1));
    assert!(
        stderr.contains(&format!(
            "its file id is {id}, not the configured audit_file_id {other}"
        )),
        "{stderr}"
    );
    let config = plain_config(dir, json!({"audit_file_id": id}));
    let (_, stderr) = stop(Server::start_file(&config));
    assert!(stderr.contains("as audit_file_id names"), "{stderr}");
}

/// Items 6 and 14: `requests add` and `requests close` are lines of the trail, written
/// beside a running server into one chain; the registry, the trail and its lock file are
/// created 0600; a refused change writes nothing.
#[test]
fn requests_add_and_close_are_on_the_trail_beside_a_running_server() {
    let dir = common::temp_dir();
    let dir = dir.path();
    let path = dir.join("audit.jsonl");
    let server_config = plain_config(dir, json!({}));
    let registry_config = write_config(
        dir,
        "registry.json",
        &json!({"registry": dir.join("registry.sqlite"), "audit_log": path}),
    );
    let server = Server::start_file(&server_config);
    assert_eq!(get(&server, &documented()).0, 200);
    let (_, stderr) = common::add_request(&registry_config, "alice");
    assert!(stderr.contains("audit log "), "{stderr}");
    assert_eq!(get(&server, &documented()).0, 200);
    let close = || {
        let config = registry_config.to_str().unwrap();
        run(&["requests", "close", "--config", config, "--reqid", REQ])
    };
    let (code, _, stderr) = close();
    assert_eq!(code, 0, "{stderr}");
    // Refused: changes nothing, writes nothing.
    let (code, _, _) = close();
    assert_eq!(code, 1);
    stop(server);
    let lines: Vec<Value> = trail_lines(&path).iter().map(|line| parse(line)).collect();
    assert_eq!(lines.len(), 5, "{lines:?}");
    assert!(lines[0]["file_id"].is_string());
    assert_eq!(lines[1]["status"], 200);
    assert_eq!(lines[3]["status"], 200);
    let uid = nix::unistd::getuid().as_raw();
    for (line, action) in [(&lines[2], "add"), (&lines[4], "close")] {
        assert_eq!(line["registry"], action);
        assert_eq!(line["reqid"], REQ);
        assert_eq!(line["scid"], SCID);
        assert_eq!(line["cardid"], CARD);
        assert_eq!(line["operator"], "alice");
        assert_eq!(line["uid"], uid);
    }
    assert!(verify_audit(&path).contains("5 lines, chain intact"));
    for file in ["registry.sqlite", "audit.jsonl", "audit.jsonl.lock"] {
        assert_eq!(mode(&dir.join(file)), 0o600, "{file}");
    }
}

/// Item 7: a caller with a certificate and no request floods the server with 404s: past the
/// refusal limit (here `rate_limit_per_minute`, 5), 429 without a line each; the trail grows
/// by the limit and one line, and the count is recorded when the server stops. Another
/// operator is not throttled.
#[test]
fn a_flood_of_404s_from_a_certificate_without_a_request_is_throttled() {
    let dir = common::temp_dir();
    let dir = dir.path();
    let (pki, [alice, carol]) = common::pki_with(dir, ["alice", "carol"]);
    let config = tls_config(dir, &pki, json!({"rate_limit_per_minute": 5}));
    common::add_request(&config, "alice");
    let path = dir.join("audit.jsonl");
    let server = Server::start_file(&config);
    let before = trail_lines(&path).len();
    let statuses: Vec<u16> = (0..30)
        .map(|_| {
            let (status, body) = get_tls(&carol, server.addr, "/CertificateManagement/api/v1.0/nothing");
            if status == 429 {
                assert_eq!(
                    body,
                    r#"{"Message":"rate limited: more than 5 refused requests in a minute by this caller; try again later"}"#
                );
            }
            status
        })
        .collect();
    assert_eq!(statuses[..5], [404; 5], "{statuses:?}");
    assert_eq!(statuses[5..], [429; 25], "{statuses:?}");
    assert_eq!(trail_lines(&path).len(), before + 6);
    assert_eq!(get_tls(&alice, server.addr, &documented()).0, 200);
    let (stdout, _) = stop(server);
    assert_eq!(stdout.matches("[carol]").count(), 6, "{stdout}");
    let lines = trail_lines(&path);
    assert_eq!(lines.len(), before + 8);
    let summary = parse(&lines[lines.len() - 1]);
    assert_eq!(summary["operator"], "carol");
    assert_eq!(summary["status"], 429);
    assert_eq!(
        summary["message"],
        "rate limited: 24 more refused requests by this caller were answered 429 and not recorded one by one"
    );
    verify_audit(&path);
}

/// Item 11: bob asking for alice's request gets the answer an unknown request gets, word for
/// word.
#[test]
fn someone_elses_request_is_refused_like_an_unknown_one() {
    let dir = common::temp_dir();
    let dir = dir.path();
    let (pki, [alice, bob]) = common::pki_with(dir, ["alice", "bob"]);
    let config = tls_config(dir, &pki, json!({}));
    common::add_request(&config, "alice");
    let server = Server::start_file(&config);
    let alices = get_tls(&bob, server.addr, &diversified_key());
    let unknown = get_tls(
        &bob,
        server.addr,
        &diversified_key().replace(REQ, "00000000-0000-0000-0000-00000000beef"),
    );
    assert_eq!(alices.0, 403);
    assert_eq!(alices, unknown);
    assert_eq!(get_tls(&alice, server.addr, &diversified_key()).0, 200);
    stop(server);
}

/// Blocked `flock` requests on the file with inode `inode`, from /proc/locks.
fn lock_waiters(inode: u64) -> usize {
    std::fs::read_to_string("/proc/locks")
        .unwrap()
        .lines()
        .filter(|line| line.contains("->"))
        .filter(|line| {
            line.split_whitespace()
                .filter(|field| field.matches(':').count() == 2)
                .any(|field| field.rsplit(':').next() == Some(&inode.to_string()))
        })
        .count()
}

fn wait_for_waiters(inode: u64, count: usize) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while lock_waiters(inode) < count {
        assert!(
            Instant::now() < deadline,
            "{count} waiters on the append lock never came"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Item 11: alice's request passed the registry check and its line is being written when
/// `requests close` comes; the close commits before the key would be used, and no key is
/// used. Driven by holding the trail's append lock: the server's line and the close's line
/// both wait for it (seen in /proc/locks), and only then is it let go.
#[test]
fn a_request_closed_while_its_line_is_written_uses_no_key() {
    let dir = common::temp_dir();
    let dir = dir.path();
    let (pki, [alice]) = common::pki_with(dir, ["alice"]);
    let config = tls_config(dir, &pki, json!({}));
    let config_arg = config.to_str().unwrap().to_string();
    common::add_request(&config, "alice");
    let server = Server::start_file(&config);
    let path = dir.join("audit.jsonl");
    let lock_file = OpenOptions::new()
        .read(true)
        .write(true)
        .open(dir.join("audit.jsonl.lock"))
        .unwrap();
    let inode = lock_file.metadata().unwrap().ino();
    lock_file.lock().unwrap();
    let asking = {
        let addr = server.addr;
        std::thread::spawn(move || get_tls(&alice, addr, &diversified_key()))
    };
    // The server checked the registry (open) and waits to write the request's line.
    wait_for_waiters(inode, 1);
    let mut closing = Command::new(common::binary())
        .args(["requests", "close", "--config", &config_arg, "--reqid", REQ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // The close holds the registry's write lock and waits to write its line.
    wait_for_waiters(inode, 2);
    lock_file.unlock().unwrap();
    let (status, body) = asking.join().unwrap();
    assert!(closing.wait().unwrap().success());
    assert_eq!(
        (status, body.as_str()),
        (403, r#"{"Message":"forbidden: the request is closed"}"#)
    );
    stop(server);
    let lines: Vec<Value> = trail_lines(&path).iter().map(|line| parse(line)).collect();
    let position = |matches: &dyn Fn(&Value) -> bool| lines.iter().position(matches).unwrap();
    let intent = position(&|line| line["key_role"] == "card_key");
    let closed = position(&|line| line["registry"] == "close");
    let refused = position(&|line| line["status"] == 403);
    assert_eq!(lines[intent]["status"], 200);
    assert_eq!(
        lines[refused]["message"],
        "forbidden: the request is closed"
    );
    assert_eq!(lines[refused]["reqid"], REQ);
    assert!(intent < refused && closed < refused, "{lines:?}");
    verify_audit(&path);
}

/// Item 7: the server may write only 4 KiB per file (RLIMIT_FSIZE, SIGXFSZ ignored, so a
/// write past it fails with EFBIG): a few lines fit, then every request is a 503 that uses no
/// key; once the limit is lifted (as a disk that has room again), the next request is
/// answered and the trail verifies, without a restart or an edit.
#[test]
fn a_trail_that_cannot_be_written_answers_503_and_recovers_by_itself() {
    let dir = common::temp_dir();
    let dir = dir.path();
    let config = plain_config(dir, json!({}));
    // A 4 KiB soft file size limit (8 blocks of 512 bytes), SIGXFSZ ignored so that a write past
    // it fails with EFBIG instead of killing the server: set by a shell that then execs it.
    let mut launch = Launch::new(config);
    launch.shell_prefix = Some(String::from("trap '' XFSZ; ulimit -S -f 8"));
    let server = Server::launch(launch).unwrap_or_else(|exited| panic!("{}", exited.stderr));
    let mut answered = 0;
    let mut refused = 0;
    for _ in 0..40 {
        let (status, body) = get(&server, &documented());
        match status {
            200 if refused == 0 => answered += 1,
            503 => {
                assert_eq!(
                    body,
                    r#"{"Message":"audit: the audit trail could not be written, so no key was used; try again later (the server's log says why)"}"#
                );
                refused += 1;
                if refused == 3 {
                    break;
                }
            }
            other => panic!("{other} {body} after {answered} answers and {refused} 503s"),
        }
    }
    assert!(
        answered > 2 && refused == 3,
        "{answered} answered, {refused} refused"
    );
    let path = dir.join("audit.jsonl");
    // Only whole lines: what the failed writes began was cut off.
    assert_eq!(trail_lines(&path).len(), 1 + answered);
    verify_audit(&path);
    // Room again: the soft limit lifted (util-linux's prlimit, on the running server).
    let lifted = Command::new("prlimit")
        .args(["--pid", &server.pid().to_string(), "--fsize=unlimited"])
        .status()
        .expect("prlimit (util-linux) runs");
    assert!(lifted.success());
    for _ in 0..3 {
        assert_eq!(
            get(&server, &documented()),
            (200, String::from("\"F0Zudm4wPLY=\""))
        );
    }
    let (_, stderr) = stop(server);
    assert_eq!(stderr.matches("cannot write").count(), 1, "{stderr}");
    assert!(stderr.contains("written again from line"), "{stderr}");
    let lines = trail_lines(&path);
    assert_eq!(lines.len(), 1 + answered + 3);
    assert!(verify_audit(&path).contains(&format!("{} lines, chain intact", lines.len())));
}
