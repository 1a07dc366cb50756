//! The server's integration-test harness: the built binary spawned on a loopback port with a
//! configuration of the test's own, a PKI made in-process (no `openssl` command), and a small
//! HTTP/1.1 client over plain TCP or rustls (no `curl`).
//!
//! - [`Server::start`] / [`Server::start_in`] write the configuration (mode 0600) and spawn
//!   `cardadmin-server --config FILE --listen 127.0.0.1:PORT`, then wait for its "listening on"
//!   line. The port is the one the server bound for `:0`, or, when `CARDADMIN_TEST_PORTS=LO-HI`
//!   is set (a machine where tests must keep to a range), the first free port of that range.
//!   The server is killed by its PID when the [`Server`] is dropped; [`Server::stop`] sends
//!   SIGTERM and waits, as an operator would.
//! - [`Server::get`], [`Server::head`], [`Server::raw`]: plain HTTP; [`Server::get_with_cert`]
//!   and [`Server::tls`]: TLS with an operator's certificate (or none).
//! - [`Pki`]: a CA, the server's certificate for `localhost` and `127.0.0.1`, operators'
//!   certificates ([`Pki::issue`]) and CRLs ([`Pki::crl`]).
//! - [`run`]: the binary with any arguments (the subcommands, a configuration it must refuse).
//!
//! `CARDADMIN_SERVER_BIN=PATH` runs the tests against another build of the server (to show a
//! test fails on an older one); by default, the binary cargo built for these tests.

// Each test binary uses part of the harness.
#![allow(dead_code)]

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, ExitStatus, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rcgen::{
    BasicConstraints, CertificateParams, CertificateRevocationListParams, CertifiedIssuer, DnType,
    ExtendedKeyUsagePurpose, IsCa, KeyIdMethod, KeyPair, KeyUsagePurpose, RevokedCertParams,
    SerialNumber,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use rustls::{ClientConfig, RootCertStore, SupportedProtocolVersion};
use serde_json::{json, Value};

/// The documented request of MIM CM's documentation, as the README and the examples use it.
pub const REQ: &str = "a9b4b42c-cc50-4c9b-89d1-bbc0bcd5a099";
/// Its smart card ID.
pub const SCID: &str = "17cf063d-e337-4aa9-a822-346554ddd3c9";
/// Its card ID.
pub const CARD: &str = "bc88f13f-83ba-4037-8262-46eba1291c6e";
/// The route prefix.
pub const PREFIX: &str = "/CertificateManagement/api/v1.0";
/// The documented answer to the documented challenge under the all-zero initial key.
pub const DOCUMENTED: &str = r#""F0Zudm4wPLY=""#;
/// The content type of every JSON answer.
pub const JSON: &str = "application/json; charset=utf-8";
/// The all-zero initial admin key of the documentation.
pub const ZERO_KEY: &str = "000000000000000000000000000000000000000000000000";
/// A master with no audit finding, for configurations with `"tls"` (which refuse a weak or
/// published master): not published anywhere but in these tests.
pub const TEST_MASTER: &str = "3C5A1E7F29D48B06C17E5AF3920B6D4E8F15A7C3D26E9B04";

/// The documented `authenticationresponse` target (diversified=False) for `reqid`.
pub fn documented_target(reqid: &str) -> String {
    format!(
        "{PREFIX}/requests/{reqid}/smartcards/{SCID}/authenticationresponse?cardid={CARD}&challenge=1hFD%2Bcz%2F0so%3D&diversified=False"
    )
}

/// The binary under test.
pub fn binary() -> PathBuf {
    match std::env::var_os("CARDADMIN_SERVER_BIN") {
        Some(path) => PathBuf::from(path),
        None => PathBuf::from(env!("CARGO_BIN_EXE_cardadmin-server")),
    }
}

/// A directory of the test's own, removed when dropped.
pub fn temp_dir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("cardadmin-server-test-")
        .tempdir()
        .expect("a temporary directory")
}

/// Writes `config` as `dir/name`, readable by its owner only.
pub fn write_config(dir: &Path, name: &str, config: &Value) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, serde_json::to_vec_pretty(config).unwrap()).unwrap();
    set_mode(&path, 0o600);
    path
}

/// chmod.
pub fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// Runs the binary with `args` to the end (at most 60 s).
pub fn run(args: &[&str]) -> Output {
    let mut child = Command::new(binary())
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the server binary runs");
    let stdout = reader(child.stdout.take().unwrap());
    let stderr = reader(child.stderr.take().unwrap());
    let status = wait_at_most(&mut child, Duration::from_secs(60));
    Output {
        status,
        stdout: take(stdout),
        stderr: take(stderr),
    }
}

/// Runs the binary with `args`: (exit code, stdout, stderr).
pub fn run_text(args: &[&str]) -> (i32, String, String) {
    let output = run(args);
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// `requests add` of the documented request ([`REQ`], [`SCID`], [`CARD`]) for `operator`,
/// with the configuration file `config`; panics unless it succeeds, else its stdout and stderr.
pub fn add_request(config: &Path, operator: &str) -> (String, String) {
    let (code, stdout, stderr) = run_text(&[
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
    (stdout, stderr)
}

/// The server with the configuration file `config`, or the exit code and stderr of one that
/// did not start.
pub fn try_start(config: &Path) -> Result<Server, (Option<i32>, String)> {
    Server::launch(Launch::new(config.to_path_buf())).map_err(|exited| (exited.code, exited.stderr))
}

/// The URL of a fresh database `{prefix}_{name}` on the server `CARDADMIN_TEST_DATABASE_URL`
/// names (a role that may create databases); `None`, saying why on stderr, without that
/// variable, unless `CARDADMIN_REQUIRE_DATABASE=1`, when it panics.
pub fn test_database(prefix: &str, name: &str) -> Option<String> {
    let Ok(base) = std::env::var("CARDADMIN_TEST_DATABASE_URL") else {
        assert!(
            std::env::var("CARDADMIN_REQUIRE_DATABASE").as_deref() != Ok("1"),
            "CARDADMIN_REQUIRE_DATABASE=1 but CARDADMIN_TEST_DATABASE_URL is not set"
        );
        // Past the test harness's capture (which takes `eprintln!`), so the skip is seen.
        let _ = writeln!(
            io::stderr(),
            "skipped: {name} needs PostgreSQL; set CARDADMIN_TEST_DATABASE_URL=postgresql://USER@HOST:PORT/DBNAME (a role that may create databases) to run it"
        );
        return None;
    };
    let db = format!("{prefix}_{name}");
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
pub fn psql(url: &str, sql: &str) -> String {
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

/// The exit code and stderr of a server that must refuse `config` at start-up (listening on
/// `listen`); panics if it starts listening instead.
pub fn refused(config: &Value, listen: &str) -> (i32, String) {
    let dir = temp_dir();
    let path = write_config(dir.path(), "refused.json", config);
    refused_file(&path, listen)
}

/// As [`refused`], for a configuration file that is already written.
pub fn refused_file(path: &Path, listen: &str) -> (i32, String) {
    let mut child = Command::new(binary())
        .args(["--config", path.to_str().unwrap(), "--listen", listen])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the server binary runs");
    let stderr = reader(child.stderr.take().unwrap());
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        let text = String::from_utf8_lossy(&stderr.bytes()).into_owned();
        if text.contains("listening on") || Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the server started instead of refusing: {text}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let stderr = String::from_utf8_lossy(&take(stderr)).into_owned();
    (status.code().unwrap_or(-1), stderr)
}

fn wait_at_most(child: &mut Child, limit: Duration) -> ExitStatus {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the server binary ran over {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// What a thread reads from a pipe.
struct Captured {
    buffer: Arc<Mutex<Vec<u8>>>,
    thread: Option<JoinHandle<()>>,
}

impl Captured {
    fn bytes(&self) -> Vec<u8> {
        self.buffer.lock().unwrap().clone()
    }

    /// Waits for the end of the pipe.
    fn join(&mut self) {
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Reads a pipe into a buffer on a thread of its own.
fn reader(mut pipe: impl Read + Send + 'static) -> Captured {
    let buffer = Arc::new(Mutex::new(Vec::new()));
    let shared = Arc::clone(&buffer);
    let thread = std::thread::spawn(move || {
        let mut chunk = [0u8; 8192];
        loop {
            match pipe.read(&mut chunk) {
                Ok(0) | Err(_) => return,
                Ok(n) => shared.lock().unwrap().extend_from_slice(&chunk[..n]),
            }
        }
    });
    Captured {
        buffer,
        thread: Some(thread),
    }
}

fn take(mut captured: Captured) -> Vec<u8> {
    captured.join();
    captured.bytes()
}

/// How a server is started: see [`Server::launch`].
pub struct Launch {
    /// The configuration file.
    pub config: PathBuf,
    /// Leave stdout unread (a pipe nobody drains, until [`Server::drain_stdout`]).
    pub stdout_unread: bool,
    /// A shell command run before the server replaces it (`exec`): `ulimit`, `trap`.
    pub shell_prefix: Option<String>,
    /// Listen on this address rather than one [`listen_address`] picks (a restarted server
    /// that must come back where its clients are).
    pub listen: Option<String>,
}

impl Launch {
    /// The server with `config`, its output read as it comes.
    pub fn new(config: PathBuf) -> Self {
        Self {
            config,
            stdout_unread: false,
            shell_prefix: None,
            listen: None,
        }
    }
}

/// A server that exited before it listened: its exit code and stderr.
#[derive(Debug)]
pub struct Exited {
    /// The exit code (`None` for a signal).
    pub code: Option<i32>,
    /// Its stderr.
    pub stderr: String,
}

/// A running server: killed (SIGKILL) by its PID when dropped.
pub struct Server {
    child: Child,
    /// The address it listens on.
    pub addr: SocketAddr,
    stdout: Option<Captured>,
    unread_stdout: Option<ChildStdout>,
    stderr: Option<Captured>,
    status: Option<ExitStatus>,
    dir: Option<tempfile::TempDir>,
}

/// The next port to try from `CARDADMIN_TEST_PORTS`, shared by the tests of one binary.
static NEXT_PORT: AtomicUsize = AtomicUsize::new(0);

fn port_range() -> Option<(u16, u16)> {
    static RANGE: OnceLock<Option<(u16, u16)>> = OnceLock::new();
    *RANGE.get_or_init(|| {
        let text = std::env::var("CARDADMIN_TEST_PORTS").ok()?;
        let (low, high) = text.split_once('-')?;
        let range = (low.trim().parse().ok()?, high.trim().parse().ok()?);
        assert!(range.0 <= range.1, "CARDADMIN_TEST_PORTS={text}: LO-HI");
        Some(range)
    })
}

/// A loopback address for a server: `127.0.0.1:0`, or a free port of `CARDADMIN_TEST_PORTS`.
pub fn listen_address() -> String {
    let Some((low, high)) = port_range() else {
        return String::from("127.0.0.1:0");
    };
    let span = usize::from(high - low) + 1;
    // Spread the test binaries (run one after the other) over the range, then walk it.
    let offset = std::process::id() as usize;
    for _ in 0..span {
        let step = NEXT_PORT.fetch_add(1, Ordering::Relaxed);
        let port = low + ((offset + step) % span) as u16;
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return format!("127.0.0.1:{port}");
        }
    }
    panic!("no free port in CARDADMIN_TEST_PORTS={low}-{high}");
}

impl Server {
    /// The server with `config`, in a directory of its own; panics with its stderr if it does
    /// not start.
    pub fn start(config: &Value) -> Self {
        let dir = temp_dir();
        let mut server = Self::start_in(dir.path(), config);
        server.dir = Some(dir);
        server
    }

    /// The server with `config` written to `dir/config.json`.
    pub fn start_in(dir: &Path, config: &Value) -> Self {
        let path = write_config(dir, "config.json", config);
        Self::launch(Launch::new(path)).unwrap_or_else(|exited| {
            panic!("the server did not start: {exited:?}");
        })
    }

    /// Starts the server as `launch` says, and waits (at most 60 s) until it listens.
    pub fn launch(launch: Launch) -> Result<Self, Exited> {
        if let Some(listen) = &launch.listen {
            return match Self::spawn_once(&launch, listen)? {
                Some(server) => Ok(server),
                None => panic!("{listen} is in use"),
            };
        }
        for _attempt in 0..20 {
            let listen = listen_address();
            match Self::spawn_once(&launch, &listen)? {
                Some(server) => return Ok(server),
                // The port was taken between the check and the bind: another.
                None => continue,
            }
        }
        panic!("the server found no port to listen on");
    }

    fn spawn_once(launch: &Launch, listen: &str) -> Result<Option<Self>, Exited> {
        let binary = binary();
        let config = launch.config.to_str().unwrap();
        let args = ["--config", config, "--listen", listen];
        let mut command = match &launch.shell_prefix {
            None => {
                let mut command = Command::new(&binary);
                command.args(args);
                command
            }
            Some(prefix) => {
                let mut command = Command::new("sh");
                command
                    .arg("-c")
                    .arg(format!("{prefix}; exec \"$0\" \"$@\""))
                    .arg(&binary)
                    .args(args);
                command
            }
        };
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the server binary runs");
        let stderr = reader(child.stderr.take().unwrap());
        let (stdout, unread_stdout) = if launch.stdout_unread {
            (None, child.stdout.take())
        } else {
            (Some(reader(child.stdout.take().unwrap())), None)
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let text = String::from_utf8_lossy(&stderr.bytes()).into_owned();
            if let Some(addr) = listening_address(&text) {
                return Ok(Some(Self {
                    child,
                    addr,
                    stdout,
                    unread_stdout,
                    stderr: Some(stderr),
                    status: None,
                    dir: None,
                }));
            }
            if let Some(status) = child.try_wait().unwrap() {
                let text = String::from_utf8_lossy(&take(stderr)).into_owned();
                if text.contains("cannot listen on") && text.contains("in use") {
                    return Ok(None);
                }
                return Err(Exited {
                    code: status.code(),
                    stderr: text,
                });
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!("the server did not listen within 60 s: {text}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The server with the configuration file `config`; panics with its stderr if it does
    /// not start.
    pub fn start_file(config: &Path) -> Self {
        Self::launch(Launch::new(config.to_path_buf()))
            .unwrap_or_else(|exited| panic!("the server did not start: {exited:?}"))
    }

    /// SIGTERM, then its stdout and stderr; panics unless it exited with success.
    pub fn stop_ok(mut self) -> (String, String) {
        let status = self.stop();
        assert!(status.success(), "exit {status}: {}", self.stderr());
        (self.stdout(), self.stderr())
    }

    /// The directory [`Server::start`] made, if it did.
    pub fn dir(&self) -> Option<&Path> {
        self.dir.as_ref().map(tempfile::TempDir::path)
    }

    /// The PID.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Starts reading a stdout left unread.
    pub fn drain_stdout(&mut self) {
        if let Some(pipe) = self.unread_stdout.take() {
            self.stdout = Some(reader(pipe));
        }
    }

    /// Everything on stderr so far.
    pub fn stderr(&self) -> String {
        let captured = self.stderr.as_ref().map(Captured::bytes);
        String::from_utf8_lossy(&captured.unwrap_or_default()).into_owned()
    }

    /// Everything on stdout so far.
    pub fn stdout(&self) -> String {
        let captured = self.stdout.as_ref().map(Captured::bytes);
        String::from_utf8_lossy(&captured.unwrap_or_default()).into_owned()
    }

    /// SIGTERM, then waits for the exit (at most 30 s) and for the last of its output.
    pub fn stop(&mut self) -> ExitStatus {
        if let Some(status) = self.status {
            return status;
        }
        let pid = nix::unistd::Pid::from_raw(self.child.id() as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        self.finish()
    }

    /// SIGKILL, then waits.
    pub fn kill(&mut self) -> ExitStatus {
        if let Some(status) = self.status {
            return status;
        }
        let _ = self.child.kill();
        self.finish()
    }

    fn finish(&mut self) -> ExitStatus {
        self.drain_stdout();
        let status = wait_at_most(&mut self.child, Duration::from_secs(30));
        self.status = Some(status);
        // The pipes close with the process: wait for the readers.
        for captured in [&mut self.stdout, &mut self.stderr].into_iter().flatten() {
            captured.join();
        }
        status
    }

    /// The `Host` a client names by default: the address as curl would send it.
    pub fn host(&self) -> String {
        self.addr.to_string()
    }

    /// A plain HTTP request made of `bytes`, answered on a connection of its own.
    pub fn raw(&self, bytes: &[u8], head: bool) -> io::Result<Response> {
        let mut stream = TcpStream::connect(self.addr)?;
        stream.set_read_timeout(Some(Duration::from_secs(30)))?;
        exchange(&mut stream, bytes, head)
    }

    /// `METHOD target` over plain HTTP, with `Host` the server's address.
    pub fn request(&self, method: &str, target: &str) -> Response {
        let bytes = request_bytes(method, target, &self.host());
        self.raw(&bytes, method == "HEAD")
            .unwrap_or_else(|err| panic!("{method} {target}: {err}"))
    }

    /// `GET target` over plain HTTP.
    pub fn get(&self, target: &str) -> Response {
        self.request("GET", target)
    }

    /// `HEAD target` over plain HTTP.
    pub fn head(&self, target: &str) -> Response {
        self.request("HEAD", target)
    }

    /// `GET target` over TLS as `who`, trusting `pki`'s CA for the server: `Err` when the
    /// handshake or the connection fails (no HTTP answer).
    pub fn get_with_cert(&self, pki: &Pki, who: &Identity, target: &str) -> io::Result<Response> {
        self.tls(&Client::new(pki, Some(who)), "GET", target)
    }

    /// `METHOD target` over TLS with `client`.
    pub fn tls(&self, client: &Client, method: &str, target: &str) -> io::Result<Response> {
        tls_request(client, self.addr, method, target)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if self.status.is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// `METHOD target` over TLS with `client` to `addr` (for a thread that does not hold the
/// [`Server`]).
pub fn tls_request(
    client: &Client,
    addr: SocketAddr,
    method: &str,
    target: &str,
) -> io::Result<Response> {
    let mut stream = client.connect(addr)?;
    let host = format!("{}:{}", client.host_name(), addr.port());
    exchange(
        &mut stream,
        &request_bytes(method, target, &host),
        method == "HEAD",
    )
}

/// The address in the server's "listening on http(s)://ADDR/..." line.
fn listening_address(stderr: &str) -> Option<SocketAddr> {
    let line = stderr
        .lines()
        .find(|line| line.starts_with("listening on "))?;
    let (_, rest) = line.split_once("://")?;
    let (addr, _) = rest.split_once('/')?;
    addr.parse().ok()
}

/// `METHOD target HTTP/1.1` with `Host` and `Connection: close`.
pub fn request_bytes(method: &str, target: &str, host: &str) -> Vec<u8> {
    format!("{method} {target} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n").into_bytes()
}

/// An HTTP answer.
#[derive(Debug, Clone)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// The headers, names in lower case, in order.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
    /// Bytes the server sent after the body it announced (a HEAD answer must have none).
    pub trailing: usize,
}

impl Response {
    /// The first header called `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(seen, _)| seen.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    /// The content type, or "".
    pub fn content_type(&self) -> &str {
        self.header("content-type").unwrap_or("")
    }

    /// The body as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The JSON `Message` of an error body.
    pub fn message(&self) -> String {
        let value: Value = serde_json::from_slice(&self.body)
            .unwrap_or_else(|err| panic!("not JSON ({err}): {}", self.text()));
        value["Message"].as_str().unwrap_or_default().to_string()
    }
}

/// Sends `request` and reads one answer: the headers, then `Content-Length` bytes (none for
/// HEAD, 204, 304), then whatever else comes before the server closes (counted in
/// `trailing`).
pub fn exchange<S: Read + Write>(
    stream: &mut S,
    request: &[u8],
    head: bool,
) -> io::Result<Response> {
    stream.write_all(request)?;
    stream.flush()?;
    let mut bytes = Vec::new();
    let mut chunk = [0u8; 16384];
    let header_end = loop {
        if let Some(end) = find(&bytes, b"\r\n\r\n") {
            break end;
        }
        let n = read_some(stream, &mut chunk)?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!(
                    "the connection closed before an HTTP answer ({} bytes: {:?})",
                    bytes.len(),
                    String::from_utf8_lossy(&bytes)
                ),
            ));
        }
        bytes.extend_from_slice(&chunk[..n]);
    };
    let head_text = String::from_utf8_lossy(&bytes[..header_end]).into_owned();
    let mut lines = head_text.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status = status_line
        .strip_prefix("HTTP/1.1 ")
        .and_then(|rest| rest.get(..3))
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("not an HTTP/1.1 status line: {status_line:?}"),
            )
        })?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_string()))
        .collect();
    let mut rest = bytes[header_end + 4..].to_vec();
    let length = headers
        .iter()
        .find(|(name, _)| name == "content-length")
        .and_then(|(_, value)| value.parse::<usize>().ok());
    let expected = if head || status == 204 || status == 304 {
        Some(0)
    } else {
        length
    };
    match expected {
        Some(expected) => {
            while rest.len() < expected {
                let n = read_some(stream, &mut chunk)?;
                if n == 0 {
                    break;
                }
                rest.extend_from_slice(&chunk[..n]);
            }
            // Anything more before the close (the request said `Connection: close`).
            let body: Vec<u8> = rest.drain(..expected.min(rest.len())).collect();
            let mut trailing = rest.len();
            while let Ok(n) = read_some(stream, &mut chunk) {
                if n == 0 {
                    break;
                }
                trailing += n;
            }
            Ok(Response {
                status,
                headers,
                body,
                trailing,
            })
        }
        None => {
            while let Ok(n) = read_some(stream, &mut chunk) {
                if n == 0 {
                    break;
                }
                rest.extend_from_slice(&chunk[..n]);
            }
            Ok(Response {
                status,
                headers,
                body: rest,
                trailing: 0,
            })
        }
    }
}

/// One read; a TLS peer that closes without close_notify reads as the end.
fn read_some<S: Read>(stream: &mut S, chunk: &mut [u8]) -> io::Result<usize> {
    match stream.read(chunk) {
        Err(err) if err.kind() == io::ErrorKind::UnexpectedEof => Ok(0),
        other => other,
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}

/// An operator's (or the server's) certificate and key, in memory and as PEM files.
pub struct Identity {
    /// The subject common name.
    pub name: String,
    /// The certificate, DER.
    pub cert: CertificateDer<'static>,
    /// The private key, PKCS#8 DER.
    pub key: Vec<u8>,
    /// The serial number (what a CRL names).
    pub serial: SerialNumber,
    /// The certificate, PEM file.
    pub cert_path: PathBuf,
    /// The key, PEM file.
    pub key_path: PathBuf,
}

/// A CA with the server's certificate, issuing operators' certificates and CRLs; every file
/// in its directory.
pub struct Pki {
    dir: PathBuf,
    ca: CertifiedIssuer<'static, KeyPair>,
    /// The CA certificate, PEM file (what `client_ca` names).
    pub ca_path: PathBuf,
    /// The server's certificate (`localhost`, `127.0.0.1`) and key.
    pub server: Identity,
    next_serial: AtomicUsize,
}

impl Pki {
    /// A CA called `name`, its files under `dir/name/`, and a server certificate it issued.
    pub fn new(dir: &Path, name: &str) -> Self {
        let dir = dir.join(name);
        std::fs::create_dir_all(&dir).unwrap();
        let mut params = CertificateParams::default();
        params.distinguished_name = rcgen::DistinguishedName::new();
        params
            .distinguished_name
            .push(DnType::CommonName, format!("cardadmin test {name}"));
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        params.key_identifier_method = KeyIdMethod::Sha256;
        let ca = CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap();
        let ca_path = dir.join("ca.pem");
        std::fs::write(&ca_path, ca.pem()).unwrap();
        let mut pki = Self {
            dir,
            ca,
            ca_path,
            server: Identity {
                name: String::new(),
                cert: CertificateDer::from(Vec::new()),
                key: Vec::new(),
                serial: SerialNumber::from_slice(&[1]),
                cert_path: PathBuf::new(),
                key_path: PathBuf::new(),
            },
            next_serial: AtomicUsize::new(0x1000),
        };
        pki.server = pki.make(
            "localhost",
            &["localhost", "127.0.0.1"],
            ExtendedKeyUsagePurpose::ServerAuth,
        );
        pki
    }

    /// An operator's client certificate with common name `cn`.
    pub fn issue(&self, cn: &str) -> Identity {
        self.make(cn, &[], ExtendedKeyUsagePurpose::ClientAuth)
    }

    fn make(&self, cn: &str, names: &[&str], usage: ExtendedKeyUsagePurpose) -> Identity {
        let serial = self.next_serial.fetch_add(1, Ordering::Relaxed);
        let mut params = CertificateParams::new(
            names
                .iter()
                .map(|name| name.to_string())
                .collect::<Vec<_>>(),
        )
        .unwrap();
        params.distinguished_name = rcgen::DistinguishedName::new();
        params.distinguished_name.push(DnType::CommonName, cn);
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![usage];
        params.use_authority_key_identifier_extension = true;
        let serial = SerialNumber::from_slice(&(serial as u64).to_be_bytes()[2..]);
        params.serial_number = Some(serial.clone());
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.ca).unwrap();
        let file = format!("{cn}-{}", hex(&serial.to_bytes()));
        let cert_path = self.dir.join(format!("{file}.pem"));
        let key_path = self.dir.join(format!("{file}.key"));
        std::fs::write(&cert_path, cert.pem()).unwrap();
        std::fs::write(&key_path, key.serialize_pem()).unwrap();
        Identity {
            name: cn.to_string(),
            cert: cert.der().clone(),
            key: key.serialize_der(),
            serial,
            cert_path,
            key_path,
        }
    }

    /// The configuration's `"tls"` object for this CA and its server certificate.
    pub fn tls_config(&self) -> Value {
        json!({
            "cert": self.server.cert_path,
            "key": self.server.key_path,
            "client_ca": self.ca_path,
        })
    }

    /// A CRL of this CA revoking `revoked`: (PEM text, DER bytes).
    pub fn crl(&self, revoked: &[&Identity]) -> (String, Vec<u8>) {
        let params = CertificateRevocationListParams {
            this_update: rcgen::date_time_ymd(2024, 1, 1),
            next_update: rcgen::date_time_ymd(4000, 1, 1),
            crl_number: SerialNumber::from_slice(&[1]),
            issuing_distribution_point: None,
            revoked_certs: revoked
                .iter()
                .map(|who| RevokedCertParams {
                    serial_number: who.serial.clone(),
                    revocation_time: rcgen::date_time_ymd(2024, 1, 1),
                    reason_code: Some(rcgen::RevocationReason::KeyCompromise),
                    invalidity_date: None,
                })
                .collect(),
            key_identifier_method: KeyIdMethod::Sha256,
        };
        let crl = params.signed_by(&self.ca).unwrap();
        (crl.pem().unwrap(), crl.der().to_vec())
    }

    /// The CA certificate, DER.
    pub fn ca_der(&self) -> CertificateDer<'static> {
        self.ca.der().clone()
    }
}

/// A CA under `dir` and a TLS client for each of `operators` (its certificate's CN the name).
pub fn pki_with<const N: usize>(dir: &Path, operators: [&str; N]) -> (Pki, [Client; N]) {
    let pki = Pki::new(dir, "ca");
    let clients = operators.map(|name| Client::new(&pki, Some(&pki.issue(name))));
    (pki, clients)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// A TLS client: trusts one CA for the server, presents an operator's certificate (or none).
pub struct Client {
    config: Arc<ClientConfig>,
    host: String,
}

impl Client {
    /// TLS 1.3 or 1.2, whichever the server picks; the server named as `127.0.0.1`.
    pub fn new(trust: &Pki, who: Option<&Identity>) -> Self {
        Self::with_versions(trust, who, rustls::DEFAULT_VERSIONS)
    }

    /// Only the protocol versions given.
    pub fn with_versions(
        trust: &Pki,
        who: Option<&Identity>,
        versions: &[&'static SupportedProtocolVersion],
    ) -> Self {
        let mut roots = RootCertStore::empty();
        roots.add(trust.ca_der()).unwrap();
        let builder =
            ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
                .with_protocol_versions(versions)
                .unwrap()
                .with_root_certificates(roots);
        let config = match who {
            Some(who) => builder
                .with_client_auth_cert(
                    vec![who.cert.clone()],
                    PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(who.key.clone())),
                )
                .unwrap(),
            None => builder.with_no_client_auth(),
        };
        Self {
            config: Arc::new(config),
            host: String::from("127.0.0.1"),
        }
    }

    /// The server named `localhost` (in the handshake and in `Host`).
    pub fn named(mut self, host: &str) -> Self {
        self.host = host.to_string();
        self
    }

    /// The name the client gives the server.
    pub fn host_name(&self) -> &str {
        &self.host
    }

    /// A TLS connection to `addr` (the handshake completes on the first write or read).
    pub fn connect(
        &self,
        addr: SocketAddr,
    ) -> io::Result<rustls::StreamOwned<rustls::ClientConnection, TcpStream>> {
        let tcp = TcpStream::connect(addr)?;
        tcp.set_read_timeout(Some(Duration::from_secs(30)))?;
        let name = ServerName::try_from(self.host.clone())
            .map_err(|err| io::Error::new(io::ErrorKind::InvalidInput, err))?;
        let connection = rustls::ClientConnection::new(Arc::clone(&self.config), name)
            .map_err(io::Error::other)?;
        Ok(rustls::StreamOwned::new(connection, tcp))
    }

    /// Completes a handshake with `addr` without sending a request: `Err` if it fails.
    pub fn handshake(&self, addr: SocketAddr) -> io::Result<()> {
        let mut stream = self.connect(addr)?;
        while stream.conn.is_handshaking() {
            stream.conn.complete_io(&mut stream.sock)?;
        }
        Ok(())
    }
}

/// `verify-audit PATH`: (exit code, stdout + stderr).
pub fn verify_audit(path: &Path) -> (i32, String) {
    let output = run(&["verify-audit", path.to_str().unwrap()]);
    let mut text = String::from_utf8_lossy(&output.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&output.stderr));
    (
        output.status.code().unwrap_or(-1),
        text.trim_end().to_string(),
    )
}

/// True when `text` is a JSON string of `len` characters drawn from `alphabet`.
pub fn quoted_of(text: &str, len: usize, alphabet: impl Fn(char) -> bool) -> bool {
    text.len() == len + 2
        && text.starts_with('"')
        && text.ends_with('"')
        && text[1..text.len() - 1].chars().all(alphabet)
}

/// A base64 character.
pub fn base64_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '+' || c == '/'
}
