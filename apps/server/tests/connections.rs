//! One caller cannot stop the service (issue #24 item 7): past `"max_connections"` new
//! connections wait for a free slot (and are served when one frees), and blocking work is off
//! the async workers: with stdout stuck (a pipe nobody reads), requests wait for the log but
//! TLS handshakes still complete.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use serde_json::json;

#[test]
fn past_max_connections_new_connections_wait_for_a_free_slot() {
    let mut server = Server::start(&json!({
        "initial_admin_key": ZERO_KEY,
        "max_connections": 2,
        "header_read_timeout_seconds": 30,
    }));
    // Two connections that send nothing hold both slots.
    let first = TcpStream::connect(server.addr).unwrap();
    let _second = TcpStream::connect(server.addr).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    // The third connects (the kernel queues it) but is not served...
    let mut third = TcpStream::connect(server.addr).unwrap();
    third
        .write_all(&request_bytes(
            "GET",
            &documented_target(REQ),
            &server.host(),
        ))
        .unwrap();
    third
        .set_read_timeout(Some(Duration::from_millis(1500)))
        .unwrap();
    let mut buffer = [0u8; 12];
    let waited = third.read(&mut buffer);
    assert!(
        matches!(&waited, Err(err) if matches!(err.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut)),
        "the third connection was served past the limit: {waited:?}"
    );
    // ...until a slot frees.
    drop(first);
    third
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    third.read_exact(&mut buffer).unwrap();
    assert_eq!(&buffer, b"HTTP/1.1 200");
    server.stop();
    assert!(
        server.stderr().contains("at most 2 connections at once"),
        "{}",
        server.stderr()
    );
}

#[test]
fn a_stuck_stdout_does_not_stop_tls_handshakes() {
    let dir = temp_dir();
    let pki = Arc::new(Pki::new(dir.path(), "ca"));
    let alice = Arc::new(pki.issue("alice"));
    let path = write_config(
        dir.path(),
        "config.json",
        &json!({"initial_admin_key": ZERO_KEY, "tls": pki.tls_config()}),
    );
    let mut launch = Launch::new(path);
    launch.stdout_unread = true;
    let mut server = Server::launch(launch).unwrap();
    // Each 404 below logs its ~4 KB path: 16 of them fill a 64 KiB pipe; the rest wait to
    // log, more of them than the runtime has workers.
    let workers = std::thread::available_parallelism().map_or(8, usize::from);
    let stuck = 24 + 2 * workers;
    let long = format!("{PREFIX}/{}", "x".repeat(4000));
    let addr = server.addr;
    let requests: Vec<_> = (0..stuck)
        .map(|_| {
            let (pki, alice, long) = (Arc::clone(&pki), Arc::clone(&alice), long.clone());
            std::thread::spawn(move || {
                let client = Client::new(&pki, Some(&alice));
                let mut stream = client.connect(addr).ok()?;
                stream
                    .sock
                    .set_read_timeout(Some(Duration::from_secs(60)))
                    .ok()?;
                let host = format!("127.0.0.1:{}", addr.port());
                exchange(&mut stream, &request_bytes("GET", &long, &host), false)
                    .ok()
                    .map(|got| got.status)
            })
        })
        .collect();
    std::thread::sleep(Duration::from_secs(2));
    // A new connection's handshake completes all the same.
    let started = Instant::now();
    let client = Client::new(&pki, Some(&alice));
    let mut stream = client.connect(addr).unwrap();
    stream
        .sock
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let handshake = (|| {
        while stream.conn.is_handshaking() {
            stream.conn.complete_io(&mut stream.sock)?;
        }
        Ok::<(), std::io::Error>(())
    })();
    let took = started.elapsed();
    server.drain_stdout();
    let statuses: Vec<Option<u16>> = requests.into_iter().map(|t| t.join().unwrap()).collect();
    assert!(
        handshake.is_ok(),
        "no handshake in {took:?} while stdout was stuck: {handshake:?}"
    );
    assert!(
        statuses.iter().all(|status| *status == Some(404)),
        "{statuses:?}"
    );
    server.stop();
    assert_eq!(server.stdout().lines().count(), stuck);
}
