//! Several instances on one PostgreSQL database (issue #23), end to end: the built server on
//! loopback (ports 19840-19860) over TLS with client certificates made here with openssl, the
//! `requests` and `verify-audit --config` subcommands, and `psql` to look at (and tamper with)
//! the tables.
//!
//! The tests that need a database take its URL from `CARDADMIN_TEST_DATABASE_URL` (a role that
//! may create databases, e.g. `postgresql://postgres@127.0.0.1:19832/postgres`; each test makes
//! a database of its own). Without it they print why and pass, unless
//! `CARDADMIN_REQUIRE_DATABASE=1`, when they fail (the `cluster` stage sets both). The
//! configuration checks need no database and always run.

#![cfg(unix)]

use std::io::{Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use serde_json::{json, Value};

const BIN: &str = env!("CARGO_BIN_EXE_cardadmin-server");
const INITIAL: &str = "000000000000000000000000000000000000000000000000";
const MASTER: &str = "5C1E8A3F7D2B9046E1A7C3F5082D4B6978F1A2C3D4E5F607";
const REQ: &str = "a9b4b42c-cc50-4c9b-89d1-bbc0bcd5a099";
const SCID: &str = "17cf063d-e337-4aa9-a822-346554ddd3c9";
const CARD: &str = "bc88f13f-83ba-4037-8262-46eba1291c6e";

fn documented() -> String {
    format!("/CertificateManagement/api/v1.0/requests/{REQ}/smartcards/{SCID}/authenticationresponse?cardid={CARD}&challenge=1hFD%2Bcz%2F0so%3D&diversified=False")
}

fn work(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("server-pg-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A fresh database named after the test, on the server `CARDADMIN_TEST_DATABASE_URL` names:
/// its URL; `None` (the test is skipped, saying why) without that variable.
fn database(name: &str) -> Option<String> {
    let Ok(base) = std::env::var("CARDADMIN_TEST_DATABASE_URL") else {
        assert!(
            std::env::var("CARDADMIN_REQUIRE_DATABASE").as_deref() != Ok("1"),
            "CARDADMIN_REQUIRE_DATABASE=1 but CARDADMIN_TEST_DATABASE_URL is not set"
        );
        // Past the test harness's capture (which takes `eprintln!`), so the skip is seen.
        let _ = writeln!(
            std::io::stderr(),
            "skipped: {name} needs PostgreSQL; set CARDADMIN_TEST_DATABASE_URL=postgresql://USER@HOST:PORT/DBNAME (a role that may create databases) to run it"
        );
        return None;
    };
    let db = format!("cardadmin_test_{name}");
    psql(&base, &format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"));
    psql(&base, &format!("CREATE DATABASE {db}"));
    let (without_query, query) = match base.split_once('?') {
        Some((url, query)) => (url.to_string(), format!("?{query}")),
        None => (base.clone(), String::new()),
    };
    let root = match without_query.rfind('/') {
        Some(slash) if slash > "postgresql://".len() => &without_query[..slash],
        _ => without_query.as_str(),
    };
    Some(format!("{root}/{db}{query}"))
}

/// Runs `sql` with psql against `url`: its output (unaligned, tuples only).
fn psql(url: &str, sql: &str) -> String {
    let out = Command::new("psql")
        .args([url, "-v", "ON_ERROR_STOP=1", "-Atqc", sql])
        .output()
        .expect("psql runs");
    assert!(
        out.status.success(),
        "psql {sql}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn pki(dir: &Path, operators: &[&str]) {
    let openssl = |args: &[&str]| {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()
            .expect("openssl runs");
        assert!(out.status.success(), "openssl {args:?}: {out:?}");
    };
    openssl(&[
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-days",
        "2",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-subj",
        "/CN=server-pg CA",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
    ]);
    let leaf = |name: &str, extensions: &str| {
        std::fs::write(dir.join(format!("{name}.ext")), extensions).unwrap();
        openssl(&[
            "req",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            &format!("{name}.key"),
            "-out",
            &format!("{name}.csr"),
            "-subj",
            &format!("/CN={name}"),
        ]);
        openssl(&[
            "x509",
            "-req",
            "-in",
            &format!("{name}.csr"),
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            &format!("{name}.ext"),
            "-out",
            &format!("{name}.pem"),
        ]);
    };
    leaf(
        "server",
        "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1\n",
    );
    for operator in operators {
        leaf(
            operator,
            "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n",
        );
    }
}

/// The configuration of node `node` on `url`, with `extra` fields.
fn config(dir: &Path, node: &str, url: &str, extra: Value) -> PathBuf {
    let mut config = json!({
        "initial_admin_key": INITIAL,
        "diversification_key": MASTER,
        "tls": {
            "cert": dir.join("server.pem"),
            "key": dir.join("server.key"),
            "client_ca": dir.join("ca.pem"),
        },
        "database": url,
        "node_id": node,
    });
    for (name, value) in extra.as_object().unwrap() {
        config[name] = value.clone();
    }
    let path = dir.join(format!("{node}.json"));
    std::fs::write(&path, serde_json::to_string_pretty(&config).unwrap()).unwrap();
    path
}

struct Server {
    child: Child,
    stderr: Arc<Mutex<String>>,
    readers: Vec<JoinHandle<()>>,
}

fn collect(
    mut from: impl std::io::Read + Send + 'static,
    into: Arc<Mutex<String>>,
) -> JoinHandle<()> {
    std::thread::spawn(move || {
        let mut buffer = [0u8; 4096];
        while let Ok(n) = from.read(&mut buffer) {
            if n == 0 {
                return;
            }
            into.lock()
                .unwrap()
                .push_str(&String::from_utf8_lossy(&buffer[..n]));
        }
    })
}

impl Server {
    fn spawn(config: &Path, port: u16) -> Result<Self, (Option<i32>, String)> {
        let mut child = Command::new(BIN)
            .args(["--config", config.to_str().unwrap(), "--listen"])
            .arg(format!("127.0.0.1:{port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the server binary runs");
        let stderr = Arc::new(Mutex::new(String::new()));
        let readers = vec![collect(child.stderr.take().unwrap(), stderr.clone())];
        let mut server = Self {
            child,
            stderr,
            readers,
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = server.child.try_wait().unwrap() {
                for reader in server.readers.drain(..) {
                    reader.join().unwrap();
                }
                return Err((status.code(), server.stderr()));
            }
            if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Ok(server);
            }
            assert!(
                Instant::now() < deadline,
                "no server on {port}: {}",
                server.stderr()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn start(config: &Path, port: u16) -> Self {
        Self::spawn(config, port)
            .unwrap_or_else(|(status, stderr)| panic!("the server exited ({status:?}): {stderr}"))
    }

    fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    fn signal(&mut self, signal: Signal) -> std::process::ExitStatus {
        let pid = i32::try_from(self.child.id()).unwrap();
        kill(Pid::from_raw(pid), signal).unwrap();
        let status = self.child.wait().unwrap();
        for reader in self.readers.drain(..) {
            reader.join().unwrap();
        }
        status
    }

    /// SIGTERM; its stderr once it exited (with success).
    fn stop(mut self) -> String {
        let status = self.signal(Signal::SIGTERM);
        assert!(status.success(), "exit {status}: {}", self.stderr());
        self.stderr()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn client_config(dir: &Path, operator: &str) -> Arc<rustls::ClientConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_file(dir.join("ca.pem")).unwrap())
        .unwrap();
    let certs = vec![CertificateDer::from_pem_file(dir.join(format!("{operator}.pem"))).unwrap()];
    let key = PrivateKeyDer::from_pem_file(dir.join(format!("{operator}.key"))).unwrap();
    Arc::new(
        rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_client_auth_cert(certs, key)
            .unwrap(),
    )
}

/// A GET over TLS: status and body; `None` when the connection failed (a killed server).
fn try_get(config: &Arc<rustls::ClientConfig>, port: u16, target: &str) -> Option<(u16, String)> {
    let connection =
        rustls::ClientConnection::new(config.clone(), ServerName::try_from("127.0.0.1").unwrap())
            .unwrap();
    let socket = TcpStream::connect(("127.0.0.1", port)).ok()?;
    socket
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut stream = rustls::StreamOwned::new(connection, socket);
    stream
        .write_all(
            format!("GET {target} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n")
                .as_bytes(),
        )
        .ok()?;
    let mut bytes = Vec::new();
    let _ = stream.read_to_end(&mut bytes);
    let text = String::from_utf8_lossy(&bytes).to_string();
    let (head, body) = text.split_once("\r\n\r\n")?;
    let status = head.split(' ').nth(1)?.parse().ok()?;
    Some((status, body.to_string()))
}

fn get(dir: &Path, port: u16, operator: &str, target: &str) -> (u16, String) {
    try_get(&client_config(dir, operator), port, target).expect("an answer")
}

fn run(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(BIN).args(args).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

fn add_request(config: &Path, operator: &str) {
    let (code, stdout, stderr) = run(&[
        "requests",
        "add",
        "--config",
        config.to_str().unwrap(),
        "--reqid",
        REQ,
        "--scid",
        SCID,
        "--cardid",
        CARD,
        "--operator",
        operator,
    ]);
    assert_eq!(code, 0, "{stdout}{stderr}");
}

/// The configuration fields of issue #23, checked before anything is opened (no database
/// needed): `"registry"`, `"audit_log"` and `"audit_file_id"` are refused beside `"database"`
/// with a message naming `"database"`, `"node_id"` is required with it (and only with it), a
/// URL that is not `postgresql://` is refused without being repeated.
#[test]
fn the_database_fields_are_checked_at_start_up() {
    let dir = work("fields");
    pki(&dir, &[]);
    let url = "postgresql://cardadmin@127.0.0.1:1/cardadmin";
    let refused = |extra: Value| {
        let config = config(&dir, "a", url, extra);
        let (status, stderr) = Server::spawn(&config, 19859)
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
    std::fs::remove_dir_all(&dir).unwrap();
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
    let dir = work("shared");
    pki(&dir, &["alice", "bob"]);
    let limit = json!({"rate_limit_per_minute": 3});
    let (a, b) = (
        config(&dir, "a", &url, limit.clone()),
        config(&dir, "b", &url, limit),
    );
    add_request(&a, "alice");
    let (code, stdout, _) = run(&["requests", "list", "--config", b.to_str().unwrap()]);
    assert_eq!(code, 0);
    assert!(
        stdout.contains(&format!("{REQ}\t{SCID}\t{CARD}\talice\topen")),
        "{stdout}"
    );
    let (server_a, server_b) = (Server::start(&a, 19840), Server::start(&b, 19841));
    let ok = (200, String::from("\"F0Zudm4wPLY=\""));
    assert_eq!(get(&dir, 19840, "alice", &documented()), ok);
    assert_eq!(get(&dir, 19841, "alice", &documented()), ok);
    assert_eq!(get(&dir, 19840, "alice", &documented()), ok);
    // Three uses in the minute, two of them through a: b refuses the fourth.
    let (status, body) = get(&dir, 19841, "alice", &documented());
    assert_eq!(status, 429, "{body}");
    assert!(body.contains("more than 3 key uses in a minute"), "{body}");
    // Bob has a limit of his own, and no request.
    let (status, body) = get(&dir, 19841, "bob", &documented());
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
    for port in [19840, 19841] {
        let (status, body) = get(&dir, port, "alice", &documented());
        assert_eq!(status, 403, "{body}");
        assert!(body.contains("the request is closed"), "{body}");
    }
    let stderr_a = server_a.stop();
    let stderr_b = server_b.stop();
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
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Item 2: `verify-audit --config` names the node and seq of a changed record, of a removed
/// one (a gap), and of a chain's tail removed after another node's checkpoint saw it; and a
/// second instance given a node_id in use is refused at start-up.
#[test]
fn verify_audit_names_the_node_and_seq_of_the_first_break() {
    let Some(url) = database("verify") else {
        return;
    };
    let dir = work("verify");
    pki(&dir, &["alice"]);
    let (a, b) = (
        config(&dir, "a", &url, json!({})),
        config(&dir, "b", &url, json!({})),
    );
    add_request(&a, "alice");
    let server_a = Server::start(&a, 19842);
    let (status, stderr) = Server::spawn(&a, 19843)
        .err()
        .expect("two instances with node_id a");
    assert_eq!(status, Some(1));
    assert!(stderr.contains("node_id \"a\" is in use"), "{stderr}");
    let server_b = Server::start(&b, 19843);
    for _ in 0..3 {
        assert_eq!(get(&dir, 19842, "alice", &documented()).0, 200);
        assert_eq!(get(&dir, 19843, "alice", &documented()).0, 200);
    }
    // a stops first: b's shutdown checkpoint names a's last record (its seq 5).
    server_a.stop();
    server_b.stop();
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
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Item 1: the tables are created with a schema version; a database of a newer schema is
/// refused at start-up with a message.
#[test]
fn a_database_of_a_newer_schema_is_refused() {
    let Some(url) = database("schema") else {
        return;
    };
    let dir = work("schema");
    pki(&dir, &[]);
    let a = config(&dir, "a", &url, json!({}));
    let (code, _, stderr) = run(&["requests", "list", "--config", a.to_str().unwrap()]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        psql(&url, "SELECT version FROM cardadmin_schema").trim(),
        "2"
    );
    psql(&url, "UPDATE cardadmin_schema SET version = 99");
    let (status, stderr) = Server::spawn(&a, 19844)
        .err()
        .expect("a server on a newer schema");
    assert_eq!(status, Some(1));
    assert!(
        stderr.contains("schema version 99, newer than this cardadmin-server knows (version 2)"),
        "{stderr}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Issue #24 item 11's semantics on the database: a close whose transaction is open while a
/// request's record is committed makes the key use wait for it, and once it commits no key is
/// used (403, recorded after the intent). A check that did not lock the row would see the
/// request still open and use the key.
#[test]
fn a_close_in_progress_during_a_request_means_no_key() {
    let Some(url) = database("race") else { return };
    let dir = work("race");
    pki(&dir, &["alice"]);
    let a = config(&dir, "a", &url, json!({}));
    add_request(&a, "alice");
    let server = Server::start(&a, 19845);
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
    let (status, body) = get(&dir, 19845, "alice", &documented());
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("the request is closed"), "{body}");
    assert!(
        started.elapsed() > Duration::from_millis(800),
        "the key use did not wait"
    );
    closer.join().unwrap();
    server.stop();
    let statuses = psql(&url, "SELECT line::json->>'status' FROM audit WHERE node_id = 'a' AND line::json->>'endpoint' IS NOT NULL ORDER BY seq");
    assert_eq!(
        statuses.split_whitespace().collect::<Vec<_>>(),
        ["200", "403"]
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A TCP relay between the server and the database that can be cut (every connection closed,
/// new ones refused) and mended, to take the database away without stopping it.
struct Relay {
    up: Arc<AtomicBool>,
    generation: Arc<AtomicU64>,
}

impl Relay {
    fn start(listen: u16, to: (String, u16)) -> Self {
        let listener = TcpListener::bind(("127.0.0.1", listen)).unwrap();
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
        Self { up, generation }
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
    let dir = work("outage");
    pki(&dir, &["alice"]);
    let direct = config(&dir, "a", &url, json!({}));
    add_request(&direct, "alice");
    // The same database through the relay on 19850.
    let after = url.split_once('@').unwrap().1;
    let (hostport, rest) = after.split_once('/').unwrap();
    let (host, port) = hostport.rsplit_once(':').unwrap_or((hostport, "5432"));
    let relay = Relay::start(19850, (host.to_string(), port.parse().unwrap()));
    let relayed = format!("{}@127.0.0.1:19850/{rest}", url.split_once('@').unwrap().0);
    let a = config(&dir, "a", &relayed, json!({}));
    let server = Server::start(&a, 19846);
    assert_eq!(get(&dir, 19846, "alice", &documented()).0, 200);
    relay.cut();
    for _ in 0..3 {
        let (status, body) = get(&dir, 19846, "alice", &documented());
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
        let (status, body) = get(&dir, 19846, "alice", &documented());
        if status == 200 {
            assert_eq!(body, "\"F0Zudm4wPLY=\"");
            break;
        }
        assert!(Instant::now() < deadline, "still {status} {body}");
        std::thread::sleep(Duration::from_millis(200));
    }
    let stderr = server.stop();
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
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Item 4: one instance killed with SIGKILL under load: the other keeps answering; the killed
/// one, restarted, continues its chain; every 200 either answered has its record.
#[test]
fn an_instance_killed_under_load_loses_no_acknowledged_key_use() {
    let Some(url) = database("kill") else { return };
    let dir = work("kill");
    pki(&dir, &["alice"]);
    let (a, b) = (
        config(&dir, "a", &url, json!({})),
        config(&dir, "b", &url, json!({})),
    );
    add_request(&a, "alice");
    let mut server_a = Server::start(&a, 19847);
    let server_b = Server::start(&b, 19848);
    let stop = Arc::new(AtomicBool::new(false));
    let ok = [Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0))];
    let client = client_config(&dir, "alice");
    let mut load = Vec::new();
    for (index, port) in [19847u16, 19848].into_iter().enumerate() {
        for _ in 0..4 {
            let (stop, ok, client) = (stop.clone(), ok[index].clone(), client.clone());
            load.push(std::thread::spawn(move || {
                let deadline = Instant::now() + Duration::from_secs(20);
                while !stop.load(Ordering::SeqCst) && Instant::now() < deadline {
                    match try_get(&client, port, &documented()) {
                        Some((200, _)) => {
                            ok.fetch_add(1, Ordering::SeqCst);
                        }
                        Some((status, body)) => panic!("{port}: {status} {body}"),
                        None => std::thread::sleep(Duration::from_millis(20)),
                    }
                }
            }));
        }
    }
    std::thread::sleep(Duration::from_millis(1500));
    let status = server_a.signal(Signal::SIGKILL);
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&status),
        Some(Signal::SIGKILL as i32)
    );
    let b_at_kill = ok[1].load(Ordering::SeqCst);
    std::thread::sleep(Duration::from_millis(1000));
    assert!(
        ok[1].load(Ordering::SeqCst) > b_at_kill + 10,
        "b stopped answering"
    );
    let a_before = psql(&url, "SELECT max(seq) FROM audit WHERE node_id = 'a'");
    let server_a = Server::start(&a, 19847);
    std::thread::sleep(Duration::from_millis(1000));
    stop.store(true, Ordering::SeqCst);
    for thread in load {
        thread.join().unwrap();
    }
    let stderr = server_a.stop();
    let start = format!("node a: {} records before this start", a_before.trim());
    assert!(stderr.contains(&start), "{stderr}");
    server_b.stop();
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
    std::fs::remove_dir_all(&dir).unwrap();
}
