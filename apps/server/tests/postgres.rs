//! Several instances on one PostgreSQL database (issue #23), end to end: the built server on
//! loopback (the harness's ports: see `common`) over TLS with client certificates made in
//! process, the `requests` and `verify-audit --config` subcommands, and `psql` to look at (and
//! tamper with) the tables.
//!
//! The tests that need a database take its URL from `CARDADMIN_TEST_DATABASE_URL` (a role that
//! may create databases, e.g. `postgresql://postgres@127.0.0.1:19832/postgres`; each test makes
//! a database of its own). Without it they print why and pass, unless
//! `CARDADMIN_REQUIRE_DATABASE=1`, when they fail (the `cluster` stage sets both). The
//! configuration checks need no database and always run.

#![cfg(unix)]

mod common;

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{psql, run_text as run, Client, Launch, Pki, Server, CARD, REQ, SCID};
use serde_json::{json, Value};

fn documented() -> String {
    common::documented_target(REQ)
}

/// A fresh database named after the test: its URL; `None` (the test is skipped, saying why)
/// without `CARDADMIN_TEST_DATABASE_URL`.
fn database(name: &str) -> Option<String> {
    common::test_database("cardadmin_test", name)
}

/// The configuration of node `node` on `url`, with `extra` fields.
fn config(dir: &Path, pki: &Pki, node: &str, url: &str, extra: Value) -> PathBuf {
    let mut config = json!({
        "initial_admin_key": common::ZERO_KEY,
        "diversification_key": common::TEST_MASTER,
        "tls": pki.tls_config(),
        "database": url,
        "node_id": node,
    });
    for (name, value) in extra.as_object().unwrap() {
        config[name] = value.clone();
    }
    common::write_config(dir, &format!("{node}.json"), &config)
}

/// SIGTERM; its stderr once it exited (with success).
fn stop(server: Server) -> String {
    server.stop_ok().1
}

/// Node `a` started on a fresh database named `name` (with `extra` configuration fields), with
/// one open request of alice's: `None` without a database (see [`database`]).
struct OneNode {
    url: String,
    server: Server,
    alice: Client,
    /// Holds the configuration and certificates until the test ends.
    _dir: tempfile::TempDir,
}

fn one_node(name: &str, extra: Value) -> Option<OneNode> {
    let url = database(name)?;
    let dir = common::temp_dir();
    let (pki, [alice]) = common::pki_with(dir.path(), ["alice"]);
    let a = config(dir.path(), &pki, "a", &url, extra);
    common::add_request(&a, "alice");
    let server = Server::start_file(&a);
    Some(OneNode {
        url,
        server,
        alice,
        _dir: dir,
    })
}

/// A GET over TLS: status and body; `None` when the connection failed (a killed server).
fn try_get(client: &Client, addr: SocketAddr, target: &str) -> Option<(u16, String)> {
    let answer = common::tls_request(client, addr, "GET", target).ok()?;
    Some((answer.status, answer.text()))
}

fn get(server: &Server, client: &Client, target: &str) -> (u16, String) {
    try_get(client, server.addr, target).expect("an answer")
}

/// The configuration fields of issue #23, checked before anything is opened (no database
/// needed): `"registry"`, `"audit_log"` and `"audit_file_id"` are refused beside `"database"`
/// with a message naming `"database"`, `"node_id"` is required with it (and only with it), a
/// URL that is not `postgresql://` is refused without being repeated.
#[test]
fn the_database_fields_are_checked_at_start_up() {
    let dir = common::temp_dir();
    let dir = dir.path();
    let (pki, []) = common::pki_with(dir, []);
    let url = "postgresql://cardadmin@127.0.0.1:1/cardadmin";
    let refused = |extra: Value| {
        let config = config(dir, &pki, "a", url, extra);
        let (status, stderr) = common::try_start(&config)
            .err()
            .expect("the server started with a refused configuration");
        assert_eq!(status, Some(1), "{stderr}");
        stderr
    };
    for field in ["registry", "audit_log"] {
        let stderr = refused(json!({ field: dir.join("x") }));
        assert!(
            stderr.contains(&format!(
                "\"{field}\" and \"database\" cannot be used together"
            )),
            "{stderr}"
        );
        // `requests` reads the same file, and refuses it the same way.
        let config = dir.join("a.json");
        let (code, _, stderr) = run(&["requests", "list", "--config", config.to_str().unwrap()]);
        assert_eq!(code, 1);
        assert!(stderr.contains("\"database\""), "{stderr}");
    }
    let stderr = refused(json!({"audit_file_id": "0123456789abcdef0123456789abcdef"}));
    assert!(
        stderr.contains("\"audit_file_id\" and \"database\""),
        "{stderr}"
    );
    let stderr = refused(json!({"node_id": null}));
    assert!(
        stderr.contains("\"database\" needs \"node_id\""),
        "{stderr}"
    );
    let stderr = refused(json!({"node_id": "a/b"}));
    assert!(stderr.contains("node_id: 1 to 64 letters"), "{stderr}");
    let stderr = refused(json!({"database": null}));
    assert!(
        stderr.contains("\"node_id\" names this instance"),
        "{stderr}"
    );
    let stderr = refused(json!({"database": "mysql://root:s3cret-pw@127.0.0.1/x"}));
    assert!(stderr.contains("not a postgresql:// URL"), "{stderr}");
    assert!(!stderr.contains("s3cret-pw"), "{stderr}");
    // No database answers on port 1: start-up stops, naming it, never the password.
    let stderr = refused(json!({"database": "postgresql://cardadmin:s3cret-pw@127.0.0.1:1/x"}));
    assert!(stderr.contains("cannot connect"), "{stderr}");
    assert!(!stderr.contains("s3cret-pw"), "{stderr}");
    let stderr =
        refused(json!({"database": "postgresql://cardadmin@127.0.0.1:1/x?sslmode=verify-full"}));
    assert!(stderr.contains("need sslrootcert"), "{stderr}");
}

/// Items 1 to 3: requests added with `requests add --config` are answered by both instances;
/// the rate limit counts across them (429 from the one that did not see the first uses); a
/// close from the command line is seen by both; `verify-audit --config` checks both nodes'
/// chains and the command chain, with their checkpoints.
#[test]
fn two_instances_share_the_registry_the_trail_and_the_rate_limit() {
    let Some(url) = database("shared") else {
        return;
    };
    let dir = common::temp_dir();
    let dir = dir.path();
    let (pki, [alice, bob]) = common::pki_with(dir, ["alice", "bob"]);
    let limit = json!({"rate_limit_per_minute": 3});
    let (a, b) = (
        config(dir, &pki, "a", &url, limit.clone()),
        config(dir, &pki, "b", &url, limit),
    );
    common::add_request(&a, "alice");
    let (code, stdout, _) = run(&["requests", "list", "--config", b.to_str().unwrap()]);
    assert_eq!(code, 0);
    assert!(
        stdout.contains(&format!("{REQ}\t{SCID}\t{CARD}\talice\topen")),
        "{stdout}"
    );
    let (server_a, server_b) = (Server::start_file(&a), Server::start_file(&b));
    let ok = (200, String::from("\"F0Zudm4wPLY=\""));
    assert_eq!(get(&server_a, &alice, &documented()), ok);
    assert_eq!(get(&server_b, &alice, &documented()), ok);
    assert_eq!(get(&server_a, &alice, &documented()), ok);
    // Three uses in the minute, two of them through a: b refuses the fourth.
    let (status, body) = get(&server_b, &alice, &documented());
    assert_eq!(status, 429, "{body}");
    assert!(body.contains("more than 3 key uses in a minute"), "{body}");
    // Bob has a limit of his own, and no request.
    let (status, body) = get(&server_b, &bob, &documented());
    assert_eq!(status, 403, "{body}");
    let (code, _, stderr) = run(&[
        "requests",
        "close",
        "--config",
        a.to_str().unwrap(),
        "--reqid",
        REQ,
    ]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stderr.contains("audit chain a/requests: record 2"),
        "{stderr}"
    );
    for server in [&server_a, &server_b] {
        let (status, body) = get(server, &alice, &documented());
        assert_eq!(status, 403, "{body}");
        assert!(body.contains("the request is closed"), "{body}");
    }
    let stderr_a = stop(server_a);
    let stderr_b = stop(server_b);
    assert!(
        stderr_a.contains("audit anchor: database node a seq"),
        "{stderr_a}"
    );
    assert!(stderr_b.contains("(at shutdown)"), "{stderr_b}");
    let (code, stdout, stderr) = run(&["verify-audit", "--config", a.to_str().unwrap()]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(
        stdout.contains("in 3 nodes checked, every chain intact"),
        "{stdout}"
    );
    assert!(
        stdout.contains("node a/requests: records 1 to 2"),
        "{stdout}"
    );
    // a: start, 200, 200, 403, shutdown; b: start, 200, 429, 403 (bob), 403, shutdown.
    assert!(stdout.contains("node a: records 1 to 5,"), "{stdout}");
    assert!(stdout.contains("node b: records 1 to 6,"), "{stdout}");
    let lines = psql(
        &url,
        "SELECT line FROM audit WHERE node_id = 'b' AND seq = 3",
    );
    let line: Value = serde_json::from_str(lines.trim()).unwrap();
    assert_eq!(
        (line["status"].as_u64(), line["operator"].as_str()),
        (Some(429), Some("alice"))
    );
    assert_eq!(
        (line["node"].as_str(), line["seq"].as_u64()),
        (Some("b"), Some(3))
    );
}

/// Item 2: `verify-audit --config` names the node and seq of a changed record, of a removed
/// one (a gap), and of a chain's tail removed after another node's checkpoint saw it; and a
/// second instance given a node_id in use is refused at start-up.
#[test]
fn verify_audit_names_the_node_and_seq_of_the_first_break() {
    let Some(url) = database("verify") else {
        return;
    };
    let dir = common::temp_dir();
    let dir = dir.path();
    let (pki, [alice]) = common::pki_with(dir, ["alice"]);
    let (a, b) = (
        config(dir, &pki, "a", &url, json!({})),
        config(dir, &pki, "b", &url, json!({})),
    );
    common::add_request(&a, "alice");
    let server_a = Server::start_file(&a);
    let (status, stderr) = common::try_start(&a)
        .err()
        .expect("two instances with node_id a");
    assert_eq!(status, Some(1));
    assert!(stderr.contains("node_id \"a\" is in use"), "{stderr}");
    let server_b = Server::start_file(&b);
    for _ in 0..3 {
        assert_eq!(get(&server_a, &alice, &documented()).0, 200);
        assert_eq!(get(&server_b, &alice, &documented()).0, 200);
    }
    // a stops first: b's shutdown checkpoint names a's last record (its seq 5).
    stop(server_a);
    stop(server_b);
    let verify = || run(&["verify-audit", "--config", a.to_str().unwrap()]);
    let (code, stdout, stderr) = verify();
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.contains("node a: records 1 to 5,"), "{stdout}");

    // A record changed in place.
    let original = psql(
        &url,
        "SELECT line FROM audit WHERE node_id = 'a' AND seq = 3",
    );
    psql(&url, "UPDATE audit SET line = replace(line, '\"status\":200', '\"status\":403') WHERE node_id = 'a' AND seq = 3");
    let (code, _, stderr) = verify();
    assert_eq!(code, 1);
    assert!(
        stderr.contains("broken at node a seq 3: changed after it was written"),
        "{stderr}"
    );
    // Changed with its hash recomputed: the next record's prev still names the old one.
    psql(&url, "UPDATE audit SET hash = encode(sha256(convert_to(line, 'UTF8')), 'hex') WHERE node_id = 'a' AND seq = 3");
    let (code, _, stderr) = verify();
    assert_eq!(code, 1);
    assert!(
        stderr.contains(
            "broken at node a seq 3: changed after it was written (and its hash with it)"
        ),
        "{stderr}"
    );
    psql(&url, &format!(
        "UPDATE audit SET line = '{}', hash = encode(sha256(convert_to('{}', 'UTF8')), 'hex') WHERE node_id = 'a' AND seq = 3",
        original.trim().replace('\'', "''"),
        original.trim().replace('\'', "''")
    ));
    assert_eq!(verify().0, 0);

    // A record removed from the middle: a gap.
    let saved = psql(
        &url,
        "SELECT seq, prev, hash, line FROM audit WHERE node_id = 'b' AND seq = 2",
    );
    psql(&url, "CREATE TABLE saved AS SELECT * FROM audit WHERE node_id = 'b' AND seq = 2; DELETE FROM audit WHERE node_id = 'b' AND seq = 2");
    let (code, _, stderr) = verify();
    assert_eq!(code, 1, "{saved}");
    assert!(
        stderr.contains("broken at node b seq 2: missing"),
        "{stderr}"
    );
    psql(&url, "INSERT INTO audit SELECT * FROM saved");
    assert_eq!(verify().0, 0);

    // a's tail (its shutdown checkpoint) removed: the chain alone still holds, b's
    // checkpoint does not.
    psql(&url, "DELETE FROM audit WHERE node_id = 'a' AND seq = 5");
    let (code, _, stderr) = verify();
    assert_eq!(code, 1);
    assert!(
        stderr.contains("broken at node a seq 5: missing: node b's checkpoint"),
        "{stderr}"
    );
}

/// Item 1: the tables are created with a schema version; a database of a newer schema is
/// refused at start-up with a message.
#[test]
fn a_database_of_a_newer_schema_is_refused() {
    let Some(url) = database("schema") else {
        return;
    };
    let dir = common::temp_dir();
    let dir = dir.path();
    let (pki, []) = common::pki_with(dir, []);
    let a = config(dir, &pki, "a", &url, json!({}));
    let (code, _, stderr) = run(&["requests", "list", "--config", a.to_str().unwrap()]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        psql(&url, "SELECT version FROM cardadmin_schema").trim(),
        "2"
    );
    psql(&url, "UPDATE cardadmin_schema SET version = 99");
    let (status, stderr) = common::try_start(&a)
        .err()
        .expect("a server on a newer schema");
    assert_eq!(status, Some(1));
    assert!(
        stderr.contains("schema version 99, newer than this cardadmin-server knows (version 2)"),
        "{stderr}"
    );
}

/// Issue #24 item 11's semantics on the database: a close whose transaction is open when a
/// request comes makes the request's check wait for it, and once it commits no key is used:
/// 403, and the trail has no record of a key use for it (the check comes before the record,
/// and holds its row lock until the key is used). A check that did not lock the row would see
/// the request still open and use the key.
#[test]
fn a_close_in_progress_during_a_request_means_no_key() {
    let Some(OneNode {
        url,
        server,
        alice,
        _dir,
    }) = one_node("race", json!({}))
    else {
        return;
    };
    // A close that holds its row lock for 2 s before it commits.
    let closer = {
        let url = url.clone();
        std::thread::spawn(move || {
            psql(
                &url,
                "BEGIN; UPDATE requests SET state = 'closed'; SELECT pg_sleep(2); COMMIT",
            )
        })
    };
    std::thread::sleep(Duration::from_millis(500));
    let started = Instant::now();
    let (status, body) = get(&server, &alice, &documented());
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("the request is closed"), "{body}");
    assert!(
        started.elapsed() > Duration::from_millis(800),
        "the key use did not wait"
    );
    closer.join().unwrap();
    stop(server);
    let statuses = psql(&url, "SELECT line::json->>'status' FROM audit WHERE node_id = 'a' AND line::json->>'endpoint' IS NOT NULL ORDER BY seq");
    assert_eq!(statuses.split_whitespace().collect::<Vec<_>>(), ["403"]);
}

/// Sends the documented request while every audit write is held up for 2 s (a transaction
/// holding `LOCK TABLE audit`), so the request stays between its check and its key use
/// meanwhile: the lock's thread (which ends with the database's clock at its commit) and the
/// request's.
fn request_with_audit_held(
    url: &str,
    server: &Server,
    alice: Client,
) -> (
    std::thread::JoinHandle<String>,
    std::thread::JoinHandle<(u16, String)>,
) {
    let blocker = {
        let url = url.to_string();
        std::thread::spawn(move || {
            psql(
                &url,
                "BEGIN; LOCK TABLE audit IN EXCLUSIVE MODE; SELECT pg_sleep(2); SELECT extract(epoch FROM clock_timestamp()); COMMIT",
            )
        })
    };
    std::thread::sleep(Duration::from_millis(300));
    let request = {
        let addr = server.addr;
        std::thread::spawn(move || try_get(&alice, addr, &documented()).expect("an answer"))
    };
    std::thread::sleep(Duration::from_millis(300));
    (blocker, request)
}

/// The other side of that lock: a close that comes after the request was checked, while its
/// record is being committed (held up here by a lock on the audit table), waits until the key
/// has been used, so it commits after the answer, never between the check and the key use.
/// The database's clock orders the two: the close's row is updated only after the audit
/// table's lock was let go (the record, then the key use, came first).
#[test]
fn a_close_that_comes_while_a_key_use_is_in_flight_waits_for_it() {
    let Some(OneNode {
        url,
        server,
        alice,
        _dir,
    }) = one_node("inflight", json!({}))
    else {
        return;
    };
    let (blocker, request) = request_with_audit_held(&url, &server, alice);
    let closed_at = psql(
        &url,
        "UPDATE requests SET state = 'closed' RETURNING extract(epoch FROM clock_timestamp())",
    );
    let (status, body) = request.join().unwrap();
    let released_at = blocker.join().unwrap();
    assert_eq!(status, 200, "{body}");
    let seconds = |text: &str| -> f64 {
        let last = text.lines().rev().find(|line| !line.trim().is_empty());
        last.unwrap_or_default().trim().parse().expect("an epoch")
    };
    assert!(
        seconds(&closed_at) > seconds(&released_at),
        "the close committed while the key use was in flight: {closed_at} vs {released_at}"
    );
    stop(server);
    let statuses = psql(&url, "SELECT line::json->>'status' FROM audit WHERE node_id = 'a' AND line::json->>'endpoint' IS NOT NULL ORDER BY seq");
    assert_eq!(statuses.split_whitespace().collect::<Vec<_>>(), ["200"]);
    assert_eq!(psql(&url, "SELECT state FROM requests").trim(), "closed");
}

/// A held check whose connection is lost (here its backend terminated) has lost its locks: a
/// close can commit meanwhile, so the request gets 503 and no key, even though its record of
/// the intent was committed.
#[test]
fn a_check_whose_connection_is_lost_before_the_key_use_uses_no_key() {
    let Some(OneNode {
        url,
        server,
        alice,
        _dir,
    }) = one_node("lost", json!({}))
    else {
        return;
    };
    let (blocker, request) = request_with_audit_held(&url, &server, alice);
    // The backend holding the request's row lock (its table's RowShareLock) goes away, and the
    // close no longer waits.
    let terminated = psql(
        &url,
        "SELECT count(pg_terminate_backend(pid)) FROM pg_locks WHERE locktype = 'relation' AND relation = 'requests'::regclass AND mode = 'RowShareLock' AND granted AND pid <> pg_backend_pid()",
    );
    assert_eq!(terminated.trim(), "1");
    psql(&url, "UPDATE requests SET state = 'closed'");
    let (status, body) = request.join().unwrap();
    blocker.join().unwrap();
    assert_eq!(status, 503, "{body}");
    stop(server);
    let statuses = psql(&url, "SELECT line::json->>'status' FROM audit WHERE node_id = 'a' AND line::json->>'endpoint' IS NOT NULL ORDER BY seq");
    assert_eq!(
        statuses.split_whitespace().collect::<Vec<_>>(),
        ["200", "503"]
    );
}

/// Twice as many requests at once as the pool has connections, with the cluster-wide rate
/// limit on: every one is answered 200. Each holds a pooled connection from its check until its
/// key is used and counts its key use meanwhile; were the count taken on that same pool, the
/// holders would wait for each other until the pool's timeout (503).
#[test]
fn more_requests_at_once_than_pooled_connections_are_all_answered() {
    let Some(OneNode {
        server,
        alice,
        _dir,
        ..
    }) = one_node("crowd", json!({"rate_limit_per_minute": 100000}))
    else {
        return;
    };
    let target = documented();
    for _ in 0..3 {
        let statuses: Vec<u16> = std::thread::scope(|scope| {
            let requests: Vec<_> = (0..32)
                .map(|_| scope.spawn(|| try_get(&alice, server.addr, &target).map(|(s, _)| s)))
                .collect();
            requests
                .into_iter()
                .map(|request| request.join().unwrap().unwrap_or(0))
                .collect()
        });
        assert!(statuses.iter().all(|&status| status == 200), "{statuses:?}");
    }
    stop(server);
}

/// A TCP relay between the server and the database that can be cut (every connection closed,
/// new ones refused) and mended, to take the database away without stopping it.
struct Relay {
    /// Where it listens (`127.0.0.1:PORT`).
    listen: String,
    up: Arc<AtomicBool>,
    generation: Arc<AtomicU64>,
}

impl Relay {
    fn start(to: (String, u16)) -> Self {
        let listen = common::listen_address();
        let listener = TcpListener::bind(&listen).unwrap();
        let listen = listener.local_addr().unwrap().to_string();
        let up = Arc::new(AtomicBool::new(true));
        let generation = Arc::new(AtomicU64::new(0));
        let (up2, generation2) = (up.clone(), generation.clone());
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { continue };
                if !up2.load(Ordering::SeqCst) {
                    continue;
                }
                let Ok(server) = TcpStream::connect((to.0.as_str(), to.1)) else {
                    continue;
                };
                let born = generation2.load(Ordering::SeqCst);
                for (mut from, mut into) in [
                    (client.try_clone().unwrap(), server.try_clone().unwrap()),
                    (server, client),
                ] {
                    let generation = generation2.clone();
                    std::thread::spawn(move || {
                        from.set_read_timeout(Some(Duration::from_millis(100)))
                            .unwrap();
                        let mut buffer = [0u8; 16384];
                        loop {
                            if generation.load(Ordering::SeqCst) != born {
                                break;
                            }
                            match from.read(&mut buffer) {
                                Ok(0) => break,
                                Ok(n) => {
                                    if into.write_all(&buffer[..n]).is_err() {
                                        break;
                                    }
                                }
                                Err(err)
                                    if matches!(
                                        err.kind(),
                                        std::io::ErrorKind::WouldBlock
                                            | std::io::ErrorKind::TimedOut
                                    ) => {}
                                Err(_) => break,
                            }
                        }
                        let _ = from.shutdown(std::net::Shutdown::Both);
                        let _ = into.shutdown(std::net::Shutdown::Both);
                    });
                }
            }
        });
        Self {
            listen,
            up,
            generation,
        }
    }

    fn cut(&self) {
        self.up.store(false, Ordering::SeqCst);
        self.generation.fetch_add(1, Ordering::SeqCst);
    }

    fn mend(&self) {
        self.up.store(true, Ordering::SeqCst);
    }
}

/// Item 4: the database unreachable: a request that would use a key gets 503 with a JSON
/// message and no key; when it is back the server answers 200 again without a restart, and
/// its chain continues.
#[test]
fn database_unreachable_answers_503_and_service_comes_back_by_itself() {
    let Some(url) = database("outage") else {
        return;
    };
    let dir = common::temp_dir();
    let dir = dir.path();
    let (pki, [alice]) = common::pki_with(dir, ["alice"]);
    let direct = config(dir, &pki, "a", &url, json!({}));
    common::add_request(&direct, "alice");
    // The same database through the relay.
    let after = url.split_once('@').unwrap().1;
    let (hostport, rest) = after.split_once('/').unwrap();
    let (host, port) = hostport.rsplit_once(':').unwrap_or((hostport, "5432"));
    let relay = Relay::start((host.to_string(), port.parse().unwrap()));
    let relayed = format!("{}@{}/{rest}", url.split_once('@').unwrap().0, relay.listen);
    let a = config(dir, &pki, "a", &relayed, json!({}));
    let server = Server::start_file(&a);
    assert_eq!(get(&server, &alice, &documented()).0, 200);
    relay.cut();
    for _ in 0..3 {
        let (status, body) = get(&server, &alice, &documented());
        assert_eq!(status, 503, "{body}");
        let message: Value = serde_json::from_str(&body).unwrap();
        assert!(
            message["Message"]
                .as_str()
                .unwrap()
                .contains("no key was used"),
            "{body}"
        );
    }
    relay.mend();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (status, body) = get(&server, &alice, &documented());
        if status == 200 {
            assert_eq!(body, "\"F0Zudm4wPLY=\"");
            break;
        }
        assert!(Instant::now() < deadline, "still {status} {body}");
        std::thread::sleep(Duration::from_millis(200));
    }
    let stderr = stop(server);
    assert!(
        stderr.contains("answering again") || stderr.contains("written again"),
        "{stderr}"
    );
    let (code, stdout, stderr) = run(&["verify-audit", "--config", direct.to_str().unwrap()]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    // Every 200 has its record: two key uses answered, two or more 200 records (a 503's
    // intent may be on record too, each followed by its 503).
    let answered = psql(
        &url,
        "SELECT count(*) FROM audit WHERE node_id = 'a' AND line::json->>'status' = '200'",
    );
    assert!(answered.trim().parse::<u32>().unwrap() >= 2, "{answered}");
}

/// Item 4: one instance killed with SIGKILL under load: the other keeps answering; the killed
/// one, restarted, continues its chain; every 200 either answered has its record.
#[test]
fn an_instance_killed_under_load_loses_no_acknowledged_key_use() {
    let Some(url) = database("kill") else { return };
    let dir = common::temp_dir();
    let dir = dir.path();
    let (pki, [alice]) = common::pki_with(dir, ["alice"]);
    let (a, b) = (
        config(dir, &pki, "a", &url, json!({})),
        config(dir, &pki, "b", &url, json!({})),
    );
    common::add_request(&a, "alice");
    let mut server_a = Server::start_file(&a);
    let server_b = Server::start_file(&b);
    let done = Arc::new(AtomicBool::new(false));
    let ok = [Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0))];
    let alice = Arc::new(alice);
    let mut load = Vec::new();
    for (index, addr) in [server_a.addr, server_b.addr].into_iter().enumerate() {
        for _ in 0..4 {
            let (done, ok, client) = (done.clone(), ok[index].clone(), alice.clone());
            load.push(std::thread::spawn(move || {
                let deadline = Instant::now() + Duration::from_secs(20);
                while !done.load(Ordering::SeqCst) && Instant::now() < deadline {
                    match try_get(&client, addr, &documented()) {
                        Some((200, _)) => {
                            ok.fetch_add(1, Ordering::SeqCst);
                        }
                        Some((status, body)) => panic!("{addr}: {status} {body}"),
                        None => std::thread::sleep(Duration::from_millis(20)),
                    }
                }
            }));
        }
    }
    std::thread::sleep(Duration::from_millis(1500));
    let status = server_a.kill();
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&status),
        Some(nix::sys::signal::Signal::SIGKILL as i32)
    );
    let b_at_kill = ok[1].load(Ordering::SeqCst);
    std::thread::sleep(Duration::from_millis(1000));
    assert!(
        ok[1].load(Ordering::SeqCst) > b_at_kill + 10,
        "b stopped answering"
    );
    let a_before = psql(&url, "SELECT max(seq) FROM audit WHERE node_id = 'a'");
    // Back on its port, where the load is.
    let mut launch = Launch::new(a.clone());
    launch.listen = Some(server_a.addr.to_string());
    let server_a = Server::launch(launch).unwrap();
    std::thread::sleep(Duration::from_millis(1000));
    done.store(true, Ordering::SeqCst);
    for thread in load {
        thread.join().unwrap();
    }
    let stderr = stop(server_a);
    let start = format!("node a: {} records before this start", a_before.trim());
    assert!(stderr.contains(&start), "{stderr}");
    stop(server_b);
    let (code, stdout, stderr) = run(&["verify-audit", "--config", a.to_str().unwrap()]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    for (index, node) in ["a", "b"].iter().enumerate() {
        let recorded: u64 = psql(&url, &format!("SELECT count(*) FROM audit WHERE node_id = '{node}' AND line::json->>'status' = '200'")).trim().parse().unwrap();
        let answered = ok[index].load(Ordering::SeqCst);
        assert!(
            answered > 0 && recorded >= answered,
            "node {node}: {answered} answered 200, {recorded} recorded"
        );
    }
}
