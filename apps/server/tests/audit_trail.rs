//! The audit trail, the refusal limit and the registry's race, end to end (issue #24 items 6,
//! 7, 11 and 14): the built server on loopback (ports 19200-19299), over plain HTTP or over
//! TLS with client certificates made here with openssl, its configuration, registry and trail
//! in a temporary directory, and the `requests` and `verify-audit` subcommands.

#![cfg(unix)]

use std::fs::OpenOptions;
use std::io::{BufRead as _, BufReader, Write as _};
use std::net::TcpStream;
use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use serde_json::{json, Value};
use sha2::{Digest as _, Sha256};

const BIN: &str = env!("CARGO_BIN_EXE_cardadmin-server");
const INITIAL: &str = "000000000000000000000000000000000000000000000000";
/// A master of no example or standard: a deployment's (`"tls"`) master must be neither.
const MASTER: &str = "5C1E8A3F7D2B9046E1A7C3F5082D4B6978F1A2C3D4E5F607";
const REQ: &str = "a9b4b42c-cc50-4c9b-89d1-bbc0bcd5a099";
const SCID: &str = "17cf063d-e337-4aa9-a822-346554ddd3c9";
const CARD: &str = "bc88f13f-83ba-4037-8262-46eba1291c6e";

/// The README's request: the initial key answers a challenge.
fn documented() -> String {
    format!("/CertificateManagement/api/v1.0/requests/{REQ}/smartcards/{SCID}/authenticationresponse?cardid={CARD}&challenge=1hFD%2Bcz%2F0so%3D&diversified=False")
}

/// A request the card key answers.
fn diversified_key() -> String {
    format!("/CertificateManagement/api/v1.0/requests/{REQ}/smartcards/{SCID}/diversifiedkey?cardid={CARD}")
}

/// A fresh directory of this test's own.
fn work(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("server-audit-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn write_config(dir: &Path, name: &str, config: &Value) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, serde_json::to_string_pretty(config).unwrap()).unwrap();
    path
}

/// The plain HTTP configuration with an audit trail, and `extra` fields.
fn plain_config(dir: &Path, extra: Value) -> PathBuf {
    let mut config = json!({
        "initial_admin_key": INITIAL,
        "diversification_key": MASTER,
        "audit_log": dir.join("audit.jsonl"),
    });
    for (name, value) in extra.as_object().unwrap() {
        config[name] = value.clone();
    }
    write_config(dir, "plain.json", &config)
}

/// A CA, a server certificate for 127.0.0.1, and client certificates for `operators` (CN =
/// the name), made with openssl in `dir`.
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
        "/CN=server-audit CA",
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

/// The TLS configuration with a registry and an audit trail (certificates from [`pki`]), and
/// `extra` fields.
fn tls_config(dir: &Path, extra: Value) -> PathBuf {
    let mut config = json!({
        "initial_admin_key": INITIAL,
        "diversification_key": MASTER,
        "tls": {
            "cert": dir.join("server.pem"),
            "key": dir.join("server.key"),
            "client_ca": dir.join("ca.pem"),
        },
        "registry": dir.join("registry.sqlite"),
        "audit_log": dir.join("audit.jsonl"),
    });
    for (name, value) in extra.as_object().unwrap() {
        config[name] = value.clone();
    }
    write_config(dir, "tls.json", &config)
}

/// A running server, its stdout and stderr collected as they come.
struct Server {
    child: Child,
    stdout: Arc<Mutex<String>>,
    stderr: Arc<Mutex<String>>,
    readers: Vec<JoinHandle<()>>,
}

fn collect(from: impl std::io::Read + Send + 'static, into: Arc<Mutex<String>>) -> JoinHandle<()> {
    std::thread::spawn(move || {
        for line in BufReader::new(from).lines() {
            let Ok(line) = line else { return };
            let mut text = into.lock().unwrap();
            text.push_str(&line);
            text.push('\n');
        }
    })
}

fn server_command(config: &Path, port: u16) -> Command {
    let mut command = Command::new(BIN);
    command
        .args(["--config", config.to_str().unwrap(), "--listen"])
        .arg(format!("127.0.0.1:{port}"))
        .stdin(Stdio::null())
        // Pipes, not files: a file size limit (one test sets one) does not apply to them.
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
}

impl Server {
    fn start(config: &Path, port: u16) -> Self {
        Self::spawn(server_command(config, port), port)
            .unwrap_or_else(|(status, stderr)| panic!("the server exited ({status}): {stderr}"))
    }

    /// Starts `command` and waits until it listens on `port`; or its exit status and stderr.
    fn spawn(mut command: Command, port: u16) -> Result<Self, (ExitStatus, String)> {
        let mut child = command.spawn().expect("the server binary runs");
        let stdout = Arc::new(Mutex::new(String::new()));
        let stderr = Arc::new(Mutex::new(String::new()));
        let readers = vec![
            collect(child.stdout.take().unwrap(), stdout.clone()),
            collect(child.stderr.take().unwrap(), stderr.clone()),
        ];
        let mut server = Self {
            child,
            stdout,
            stderr,
            readers,
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = server.child.try_wait().unwrap() {
                for reader in server.readers.drain(..) {
                    reader.join().unwrap();
                }
                return Err((status, server.stderr()));
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

    fn pid(&self) -> i32 {
        i32::try_from(self.child.id()).unwrap()
    }

    fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// SIGTERM, as `kill PID`; returns stdout and stderr once it exited.
    fn stop(mut self) -> (String, String) {
        kill(Pid::from_raw(self.pid()), Signal::SIGTERM).unwrap();
        let status = self.child.wait().unwrap();
        for reader in self.readers.drain(..) {
            reader.join().unwrap();
        }
        assert!(status.success(), "exit {status}: {}", self.stderr());
        let stdout = self.stdout.lock().unwrap().clone();
        (stdout, self.stderr())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Status and body of an HTTP/1.1 response read from `stream` (headers, then Content-Length
/// bytes).
fn read_response(stream: &mut impl std::io::Read) -> (u16, String) {
    let mut bytes = Vec::new();
    let mut buffer = [0u8; 4096];
    loop {
        if let Some(end) = bytes.windows(4).position(|window| window == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&bytes[..end]).to_string();
            let status: u16 = head.split(' ').nth(1).unwrap().parse().unwrap();
            let length: usize = head
                .lines()
                .find_map(|line| {
                    let (name, value) = line.split_once(':')?;
                    name.eq_ignore_ascii_case("content-length")
                        .then(|| value.trim().parse().unwrap())
                })
                .unwrap_or(0);
            if bytes.len() >= end + 4 + length {
                let body = String::from_utf8(bytes[end + 4..end + 4 + length].to_vec()).unwrap();
                return (status, body);
            }
        }
        match stream.read(&mut buffer) {
            Ok(0) => panic!("the connection closed after {} bytes", bytes.len()),
            Ok(n) => bytes.extend_from_slice(&buffer[..n]),
            Err(err) => panic!("read: {err}"),
        }
    }
}

fn request_text(port: u16, target: &str) -> String {
    format!("GET {target} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n")
}

/// A GET over plain HTTP.
fn get(port: u16, target: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .write_all(request_text(port, target).as_bytes())
        .unwrap();
    read_response(&mut stream)
}

/// A GET over TLS as `operator` (the client certificate `dir/OPERATOR.pem`).
fn get_tls(dir: &Path, port: u16, operator: &str, target: &str) -> (u16, String) {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_file(dir.join("ca.pem")).unwrap())
        .unwrap();
    let certs = vec![CertificateDer::from_pem_file(dir.join(format!("{operator}.pem"))).unwrap()];
    let key = PrivateKeyDer::from_pem_file(dir.join(format!("{operator}.key"))).unwrap();
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_client_auth_cert(certs, key)
        .unwrap();
    let connection =
        rustls::ClientConnection::new(Arc::new(config), ServerName::try_from("127.0.0.1").unwrap())
            .unwrap();
    let socket = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let mut stream = rustls::StreamOwned::new(connection, socket);
    stream
        .write_all(request_text(port, target).as_bytes())
        .unwrap();
    read_response(&mut stream)
}

/// Runs the binary with `args`: exit code, stdout, stderr.
fn run(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(BIN).args(args).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
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
    let dir = work("lock");
    let config = plain_config(&dir, json!({}));
    let first = Server::start(&config, 19201);
    let (status, stderr) = Server::spawn(server_command(&config, 19202), 19202)
        .err()
        .expect("a second server started on the same audit trail");
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("in use: another cardadmin-server holds its lock"),
        "{stderr}"
    );
    assert_eq!(get(19201, &documented()).0, 200);
    first.stop();
    Server::start(&config, 19202).stop();
    verify_audit(&dir.join("audit.jsonl"));
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Item 6: the chain head goes to stderr every `audit_anchor_every` lines and at shutdown,
/// and each anchor is the SHA-256 of the line it names.
#[test]
fn the_chain_head_is_anchored_on_stderr_every_n_lines_and_at_shutdown() {
    let dir = work("anchor");
    let config = plain_config(&dir, json!({"audit_anchor_every": 3}));
    let server = Server::start(&config, 19203);
    for _ in 0..7 {
        assert_eq!(
            get(19203, &documented()),
            (200, String::from("\"F0Zudm4wPLY=\""))
        );
    }
    let (_, stderr) = server.stop();
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
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Item 6: `verify-audit` names the file id and checks an expected one; a configured
/// `audit_file_id` refuses another trail at start-up; a trail from before file ids verifies
/// as it did, and gets its id appended.
#[test]
fn the_file_id_names_the_trail_and_a_trail_from_before_ids_still_verifies() {
    let dir = work("file-id");
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
    let config = plain_config(&dir, json!({}));
    Server::start(&config, 19204).stop();
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
    let config = plain_config(&dir, json!({"audit_file_id": other}));
    let (status, stderr) = Server::spawn(server_command(&config, 19204), 19204)
        .err()
        .expect("a server started on a trail with another file id");
    assert_eq!(status.code(), Some(1));
    assert!(
        stderr.contains(&format!(
            "its file id is {id}, not the configured audit_file_id {other}"
        )),
        "{stderr}"
    );
    let config = plain_config(&dir, json!({"audit_file_id": id}));
    let (_, stderr) = Server::start(&config, 19204).stop();
    assert!(stderr.contains("as audit_file_id names"), "{stderr}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Items 6 and 14: `requests add` and `requests close` are lines of the trail, written
/// beside a running server into one chain; the registry, the trail and its lock file are
/// created 0600; a refused change writes nothing.
#[test]
fn requests_add_and_close_are_on_the_trail_beside_a_running_server() {
    let dir = work("registry-lines");
    let path = dir.join("audit.jsonl");
    let server_config = plain_config(&dir, json!({}));
    let registry_config = write_config(
        &dir,
        "registry.json",
        &json!({"registry": dir.join("registry.sqlite"), "audit_log": path}),
    );
    let registry_config = registry_config.to_str().unwrap();
    let server = Server::start(&server_config, 19205);
    assert_eq!(get(19205, &documented()).0, 200);
    let (code, stdout, stderr) = run(&[
        "requests",
        "add",
        "--config",
        registry_config,
        "--reqid",
        REQ,
        "--scid",
        SCID,
        "--cardid",
        CARD,
        "--operator",
        "alice",
    ]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stderr.contains("audit log "), "{stderr}");
    assert_eq!(get(19205, &documented()).0, 200);
    let (code, _, stderr) = run(&[
        "requests",
        "close",
        "--config",
        registry_config,
        "--reqid",
        REQ,
    ]);
    assert_eq!(code, 0, "{stderr}");
    // Refused: changes nothing, writes nothing.
    let (code, _, _) = run(&[
        "requests",
        "close",
        "--config",
        registry_config,
        "--reqid",
        REQ,
    ]);
    assert_eq!(code, 1);
    server.stop();
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
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Item 7: a caller with a certificate and no request floods the server with 404s: past the
/// refusal limit (here `rate_limit_per_minute`, 5), 429 without a line each; the trail grows
/// by the limit and one line, and the count is recorded when the server stops. Another
/// operator is not throttled.
#[test]
fn a_flood_of_404s_from_a_certificate_without_a_request_is_throttled() {
    let dir = work("flood");
    pki(&dir, &["alice", "carol"]);
    let config = tls_config(&dir, json!({"rate_limit_per_minute": 5}));
    let (code, _, stderr) = run(&[
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
        "alice",
    ]);
    assert_eq!(code, 0, "{stderr}");
    let path = dir.join("audit.jsonl");
    let server = Server::start(&config, 19206);
    let before = trail_lines(&path).len();
    let statuses: Vec<u16> = (0..30)
        .map(|_| {
            let (status, body) = get_tls(&dir, 19206, "carol", "/CertificateManagement/api/v1.0/nothing");
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
    assert_eq!(get_tls(&dir, 19206, "alice", &documented()).0, 200);
    let (stdout, _) = server.stop();
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
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Item 11: bob asking for alice's request gets the answer an unknown request gets, word for
/// word.
#[test]
fn someone_elses_request_is_refused_like_an_unknown_one() {
    let dir = work("disclosure");
    pki(&dir, &["alice", "bob"]);
    let config = tls_config(&dir, json!({}));
    let (code, _, stderr) = run(&[
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
        "alice",
    ]);
    assert_eq!(code, 0, "{stderr}");
    let server = Server::start(&config, 19207);
    let alices = get_tls(&dir, 19207, "bob", &diversified_key());
    let unknown = get_tls(
        &dir,
        19207,
        "bob",
        &diversified_key().replace(REQ, "00000000-0000-0000-0000-00000000beef"),
    );
    assert_eq!(alices.0, 403);
    assert_eq!(alices, unknown);
    assert_eq!(get_tls(&dir, 19207, "alice", &diversified_key()).0, 200);
    server.stop();
    std::fs::remove_dir_all(&dir).unwrap();
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
    let dir = work("race");
    pki(&dir, &["alice"]);
    let config = tls_config(&dir, json!({}));
    let config_arg = config.to_str().unwrap().to_string();
    let (code, _, stderr) = run(&[
        "requests",
        "add",
        "--config",
        &config_arg,
        "--reqid",
        REQ,
        "--scid",
        SCID,
        "--cardid",
        CARD,
        "--operator",
        "alice",
    ]);
    assert_eq!(code, 0, "{stderr}");
    let server = Server::start(&config, 19208);
    let path = dir.join("audit.jsonl");
    let lock_file = OpenOptions::new()
        .read(true)
        .write(true)
        .open(dir.join("audit.jsonl.lock"))
        .unwrap();
    let inode = lock_file.metadata().unwrap().ino();
    lock_file.lock().unwrap();
    let asking = {
        let dir = dir.clone();
        std::thread::spawn(move || get_tls(&dir, 19208, "alice", &diversified_key()))
    };
    // The server checked the registry (open) and waits to write the request's line.
    wait_for_waiters(inode, 1);
    let mut closing = Command::new(BIN)
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
    server.stop();
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
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Item 7: the server may write only 4 KiB per file (RLIMIT_FSIZE, SIGXFSZ ignored, so a
/// write past it fails with EFBIG): a few lines fit, then every request is a 503 that uses no
/// key; once the limit is lifted (as a disk that has room again), the next request is
/// answered and the trail verifies, without a restart or an edit.
#[test]
fn a_trail_that_cannot_be_written_answers_503_and_recovers_by_itself() {
    let dir = work("full");
    let config = plain_config(&dir, json!({}));
    // A 4 KiB soft file size limit (8 blocks of 512 bytes), SIGXFSZ ignored so that a write past
    // it fails with EFBIG instead of killing the server: set by a shell that then execs it.
    let server_command_line = server_command(&config, 19209);
    let mut command = Command::new("sh");
    command
        .arg("-c")
        .arg(r#"trap '' XFSZ; ulimit -S -f 8; exec "$0" "$@""#)
        .arg(server_command_line.get_program())
        .args(server_command_line.get_args())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let server = Server::spawn(command, 19209).unwrap_or_else(|(_, stderr)| panic!("{stderr}"));
    let mut answered = 0;
    let mut refused = 0;
    for _ in 0..40 {
        let (status, body) = get(19209, &documented());
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
            get(19209, &documented()),
            (200, String::from("\"F0Zudm4wPLY=\""))
        );
    }
    let (_, stderr) = server.stop();
    assert_eq!(stderr.matches("cannot write").count(), 1, "{stderr}");
    assert!(stderr.contains("written again from line"), "{stderr}");
    let lines = trail_lines(&path);
    assert_eq!(lines.len(), 1 + answered + 3);
    assert!(verify_audit(&path).contains(&format!("{} lines, chain intact", lines.len())));
    std::fs::remove_dir_all(&dir).unwrap();
}
