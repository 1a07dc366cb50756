//! Plain HTTP on loopback (issue #24 item 8): only loopback `Host` names are answered (a page
//! that points a name of its own at 127.0.0.1, DNS rebinding, gets a 421), and a client that
//! does not send its headers in time is closed. And the request log's time stamps (issue #22).

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::*;
use serde_json::json;

fn with_host(server: &Server, host: Option<&str>, target: &str) -> Response {
    let mut request = format!("GET {target} HTTP/1.1\r\n");
    if let Some(host) = host {
        request.push_str(&format!("Host: {host}\r\n"));
    }
    request.push_str("Connection: close\r\n\r\n");
    server.raw(request.as_bytes(), false).unwrap()
}

#[test]
fn plain_http_answers_loopback_host_names_only() {
    let dir = temp_dir();
    let audit = dir.path().join("audit.jsonl");
    let mut server = Server::start_in(
        dir.path(),
        &json!({
            "initial_admin_key": ZERO_KEY,
            "diversification_key": TEST_MASTER,
            "audit_log": audit,
        }),
    );
    let port = server.addr.port();
    let target = format!("{PREFIX}/requests/{REQ}/smartcards/{SCID}/diversifiedkey?cardid={CARD}");
    let accepted = [
        "localhost".to_string(),
        "LocalHost".to_string(),
        format!("localhost:{port}"),
        "127.0.0.1".to_string(),
        format!("127.0.0.1:{port}"),
        "[::1]".to_string(),
        format!("[::1]:{port}"),
    ];
    for host in &accepted {
        let got = with_host(&server, Some(host), &target);
        assert_eq!(got.status, 200, "Host: {host}: {}", got.text());
    }
    let misdirected = [
        "evil.example".to_string(),
        format!("evil.example:{port}"),
        "localhost.evil.example".to_string(),
        "127.0.0.1.nip.io".to_string(),
        "127.0.0.2".to_string(),
        "0.0.0.0".to_string(),
        "localhost:".to_string(),
        "localhost:80x".to_string(),
        "[::1]x".to_string(),
        "::1".to_string(),
        String::new(),
    ];
    for host in &misdirected {
        let got = with_host(&server, Some(host), &target);
        assert_eq!(
            (got.status, got.content_type()),
            (421, JSON),
            "Host: {host:?}"
        );
        assert!(got.message().starts_with("host: "), "{}", got.text());
        // The name received is not repeated.
        assert!(!got.text().contains("evil") && !got.text().contains("nip.io"));
    }
    // No Host, two Hosts: 400.
    let got = with_host(&server, None, &target);
    assert_eq!(got.status, 400, "{}", got.text());
    let two = format!("GET {target} HTTP/1.1\r\nHost: localhost\r\nHost: evil.example\r\nConnection: close\r\n\r\n");
    assert_eq!(server.raw(two.as_bytes(), false).unwrap().status, 400);
    // An absolute-form target names the host too.
    let absolute = format!(
        "GET http://evil.example{target} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    );
    assert_eq!(server.raw(absolute.as_bytes(), false).unwrap().status, 421);
    server.stop();
    // Recorded: the audit trail has the refusals with their status.
    let text = std::fs::read_to_string(&audit).unwrap();
    let refusals = text
        .lines()
        .filter(|line| line.contains(r#""status":421"#))
        .count();
    assert_eq!(refusals, misdirected.len() + 1, "{text}");
    assert!(!text.contains("evil.example"));
}

/// Over TLS the client certificate decides who asks: the `Host` is not checked.
#[test]
fn tls_does_not_check_the_host() {
    let dir = temp_dir();
    let pki = Pki::new(dir.path(), "ca");
    let alice = pki.issue("alice");
    let server = Server::start_in(
        dir.path(),
        &json!({"initial_admin_key": ZERO_KEY, "tls": pki.tls_config()}),
    );
    let client = Client::new(&pki, Some(&alice));
    let mut stream = client.connect(server.addr).unwrap();
    let got = exchange(
        &mut stream,
        &request_bytes("GET", &documented_target(REQ), "cm.example.org"),
        false,
    )
    .unwrap();
    assert_eq!((got.status, got.text().as_str()), (200, DOCUMENTED));
}

/// Waits until the server closes `stream` (or answers 408): the time it took, or `None` past
/// `limit`.
fn closed_within(stream: &mut TcpStream, limit: Duration) -> Option<Duration> {
    let started = Instant::now();
    stream.set_read_timeout(Some(limit)).unwrap();
    let mut buffer = [0u8; 1024];
    loop {
        match stream.read(&mut buffer) {
            Ok(0) => return Some(started.elapsed()),
            Ok(n) => {
                if buffer[..n].starts_with(b"HTTP/1.1 408") {
                    return Some(started.elapsed());
                }
            }
            Err(err)
                if matches!(
                    err.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                return None
            }
            Err(_) => return Some(started.elapsed()),
        }
        if started.elapsed() > limit {
            return None;
        }
    }
}

#[test]
fn a_client_that_does_not_send_its_headers_in_time_is_closed() {
    let server = Server::start(&json!({
        "initial_admin_key": ZERO_KEY,
        "header_read_timeout_seconds": 1,
    }));
    // Half a request line, then nothing; and nothing at all.
    for name in ["partial", "silent"] {
        let connected = Instant::now();
        let mut stream = TcpStream::connect(server.addr).unwrap();
        if name == "partial" {
            stream
                .write_all(b"GET /CertificateManagement/api/v1.0/sma")
                .unwrap();
        }
        closed_within(&mut stream, Duration::from_secs(5))
            .unwrap_or_else(|| panic!("{name}: still open after 5 s"));
        let took = connected.elapsed();
        assert!(
            took >= Duration::from_millis(900),
            "{name}: closed after {took:?}"
        );
    }
    // A keep-alive connection that goes idle after an answer is closed too.
    let mut idle = TcpStream::connect(server.addr).unwrap();
    let host = server.host();
    idle.write_all(
        format!(
            "GET {PREFIX}/smartcards/{SCID}/serverproposedpin HTTP/1.1\r\nHost: {host}\r\n\r\n"
        )
        .as_bytes(),
    )
    .unwrap();
    let mut first = [0u8; 12];
    idle.read_exact(&mut first).unwrap();
    assert_eq!(&first, b"HTTP/1.1 200");
    assert!(
        closed_within(&mut idle, Duration::from_secs(5)).is_some(),
        "idle: still open"
    );
}

/// Without the field the default (10 s) applies to plain HTTP too.
#[test]
fn plain_http_has_a_header_timeout_by_default() {
    let server = Server::start(&json!({"initial_admin_key": ZERO_KEY}));
    let mut silent = TcpStream::connect(server.addr).unwrap();
    silent.write_all(b"GET / HTTP/1.1\r\n").unwrap();
    let took = closed_within(&mut silent, Duration::from_secs(14)).expect("still open after 14 s");
    assert!(took >= Duration::from_secs(9), "{took:?}");
}

/// Every request log line (stdout) starts with an RFC 3339 UTC time with milliseconds.
#[test]
fn every_request_log_line_starts_with_an_rfc3339_utc_time() {
    let mut server = Server::start(&json!({"initial_admin_key": ZERO_KEY}));
    let started = std::time::SystemTime::now();
    server.get(&documented_target(REQ));
    server.get(&format!("{PREFIX}/nowhere"));
    server.stop();
    let stdout = server.stdout();
    assert_eq!(stdout.lines().count(), 2, "{stdout}");
    let year = 1970
        + started
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs()
            / 31_556_952;
    for line in stdout.lines() {
        let (time, rest) = line.split_once(' ').unwrap();
        let bytes = time.as_bytes();
        assert_eq!(bytes.len(), 24, "{line}");
        for (index, byte) in bytes.iter().enumerate() {
            let expected_separator = match index {
                4 | 7 => Some(b'-'),
                10 => Some(b'T'),
                13 | 16 => Some(b':'),
                19 => Some(b'.'),
                23 => Some(b'Z'),
                _ => None,
            };
            match expected_separator {
                Some(separator) => assert_eq!(*byte, separator, "{line}"),
                None => assert!(byte.is_ascii_digit(), "{line}"),
            }
        }
        assert!(time.starts_with(&year.to_string()), "{line}");
        assert!(rest.starts_with("GET /"), "{line}");
    }
}
