//! A small, bounded load client for the example server over TLS with a client certificate
//! (wrk cannot present one): `C` keep-alive connections, each sending one GET after another
//! for `D` seconds, then requests per second and latency percentiles. With an `http://` URL
//! it speaks plain HTTP the same way, so plain and TLS figures come from one tool.
//!
//! ```text
//! tls_load --url https://127.0.0.1:18443/PATH?QUERY --ca ca.pem --cert alice.pem --key alice.key \
//!          [--connections 8] [--seconds 10]
//! tls_load --url http://127.0.0.1:18083/PATH?QUERY [--connections 8] [--seconds 10]
//! ```
//!
//! HTTP/1.1 written by hand (one request line, `Host`, and a reader for `Content-Length`
//! bodies, which is all the server sends), so the client costs next to nothing beside the TLS
//! records. Connection failures are counted, not retried in a loop: a stopped server ends the
//! run early with the count. It is a measuring tool for `benches/README.md` and the CI's kill
//! test, not a general HTTP client.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _, AsyncWriteExt as _, BufReader};

struct Args {
    tls: bool,
    host: String,
    port: u16,
    path: String,
    ca: String,
    cert: String,
    key: String,
    connections: usize,
    seconds: u64,
}

fn parse_args() -> Result<Args, String> {
    let mut url = None;
    let (mut ca, mut cert, mut key) = (None, None, None);
    let (mut connections, mut seconds) = (8usize, 10u64);
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let value = args.next().ok_or_else(|| format!("{arg} needs a value"))?;
        match arg.as_str() {
            "--url" => url = Some(value),
            "--ca" => ca = Some(value),
            "--cert" => cert = Some(value),
            "--key" => key = Some(value),
            "--connections" => {
                connections = value.parse().map_err(|_| "--connections: a number")?
            }
            "--seconds" => seconds = value.parse().map_err(|_| "--seconds: a number")?,
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    let url = url.ok_or("--url is required")?;
    let (tls, rest) = match (url.strip_prefix("https://"), url.strip_prefix("http://")) {
        (Some(rest), _) => (true, rest),
        (None, Some(rest)) => (false, rest),
        (None, None) => return Err("--url must start with https:// or http://".into()),
    };
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let (host, port) = authority.rsplit_once(':').ok_or("--url needs host:port")?;
    let missing = |name: &str| {
        if tls {
            Err(format!("{name} is required for https://"))
        } else {
            Ok(String::new())
        }
    };
    Ok(Args {
        tls,
        host: host.to_string(),
        port: port.parse().map_err(|_| "--url: bad port")?,
        path: if path.is_empty() {
            "/".into()
        } else {
            path.into()
        },
        ca: ca.map_or_else(|| missing("--ca"), Ok)?,
        cert: cert.map_or_else(|| missing("--cert"), Ok)?,
        key: key.map_or_else(|| missing("--key"), Ok)?,
        connections: connections.max(1),
        seconds,
    })
}

#[derive(Default)]
struct Tally {
    latencies: Vec<Duration>,
    statuses: std::collections::BTreeMap<u16, u64>,
    errors: u64,
}

/// A TLS or a plain TCP stream.
trait Io: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send {}
impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send> Io for T {}

async fn one_connection(
    args: Arc<Args>,
    connector: Option<tokio_rustls::TlsConnector>,
    until: Instant,
) -> Tally {
    let mut tally = Tally::default();
    let request = format!(
        "GET {} HTTP/1.1\r\nHost: {}:{}\r\n\r\n",
        args.path, args.host, args.port
    );
    'connect: while Instant::now() < until {
        let Ok(tcp) = tokio::net::TcpStream::connect((args.host.as_str(), args.port)).await else {
            tally.errors += 1;
            return tally;
        };
        let _ = tcp.set_nodelay(true);
        let io: Box<dyn Io> = match &connector {
            Some(connector) => {
                let Ok(name) = ServerName::try_from(args.host.clone()) else {
                    tally.errors += 1;
                    return tally;
                };
                let Ok(tls) = connector.connect(name, tcp).await else {
                    tally.errors += 1;
                    return tally;
                };
                Box::new(tls)
            }
            None => Box::new(tcp),
        };
        let mut stream = BufReader::new(io);
        let mut line = String::new();
        let mut body = Vec::new();
        while Instant::now() < until {
            let started = Instant::now();
            if stream
                .get_mut()
                .write_all(request.as_bytes())
                .await
                .is_err()
            {
                tally.errors += 1;
                continue 'connect;
            }
            // Status line, headers, then Content-Length bytes of body.
            line.clear();
            if stream.read_line(&mut line).await.unwrap_or(0) == 0 {
                tally.errors += 1;
                continue 'connect;
            }
            let status: u16 = line
                .split(' ')
                .nth(1)
                .and_then(|code| code.parse().ok())
                .unwrap_or(0);
            let mut length = 0usize;
            let mut close = false;
            loop {
                line.clear();
                if stream.read_line(&mut line).await.unwrap_or(0) == 0 {
                    tally.errors += 1;
                    continue 'connect;
                }
                let header = line.trim_end();
                if header.is_empty() {
                    break;
                }
                if let Some((name, value)) = header.split_once(':') {
                    if name.eq_ignore_ascii_case("content-length") {
                        length = value.trim().parse().unwrap_or(0);
                    } else if name.eq_ignore_ascii_case("connection")
                        && value.trim().eq_ignore_ascii_case("close")
                    {
                        close = true;
                    }
                }
            }
            body.resize(length, 0);
            if stream.read_exact(&mut body).await.is_err() {
                tally.errors += 1;
                continue 'connect;
            }
            tally.latencies.push(started.elapsed());
            *tally.statuses.entry(status).or_default() += 1;
            if close {
                continue 'connect;
            }
        }
    }
    tally
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(args) => Arc::new(args),
        Err(message) => {
            eprintln!("{message}\nusage: tls_load --url https://HOST:PORT/PATH --ca CA.pem --cert CLIENT.pem --key CLIENT.key [--connections N] [--seconds S]");
            return ExitCode::from(2);
        }
    };
    let connector = match args.tls.then(|| connector(&args)).transpose() {
        Ok(connector) => connector,
        Err(message) => {
            eprintln!("error: {message}");
            return ExitCode::FAILURE;
        }
    };
    let started = Instant::now();
    let until = started + Duration::from_secs(args.seconds);
    let tasks: Vec<_> = (0..args.connections)
        .map(|_| tokio::spawn(one_connection(args.clone(), connector.clone(), until)))
        .collect();
    let mut total = Tally::default();
    for task in tasks {
        if let Ok(tally) = task.await {
            total.latencies.extend(tally.latencies);
            for (status, count) in tally.statuses {
                *total.statuses.entry(status).or_default() += count;
            }
            total.errors += tally.errors;
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    total.latencies.sort();
    let percentile = |p: f64| {
        let n = total.latencies.len();
        if n == 0 {
            return 0.0;
        }
        let index = ((p / 100.0) * (n - 1) as f64).round() as usize;
        total.latencies[index.min(n - 1)].as_secs_f64() * 1000.0
    };
    let count = total.latencies.len();
    let statuses: Vec<String> = total
        .statuses
        .iter()
        .map(|(status, count)| format!("{status}: {count}"))
        .collect();
    println!(
        "{count} requests in {elapsed:.2}s over {} {} connections: {:.0} requests/s; latency ms p50 {:.3} p90 {:.3} p99 {:.3} max {:.3}; statuses {{{}}}; connection errors {}",
        args.connections,
        if args.tls { "TLS" } else { "plain HTTP" },
        count as f64 / elapsed,
        percentile(50.0),
        percentile(90.0),
        percentile(99.0),
        percentile(100.0),
        statuses.join(", "),
        total.errors
    );
    ExitCode::SUCCESS
}

fn connector(args: &Args) -> Result<tokio_rustls::TlsConnector, String> {
    let mut roots = rustls::RootCertStore::empty();
    for ca in CertificateDer::pem_file_iter(&args.ca).map_err(|err| format!("--ca: {err}"))? {
        roots
            .add(ca.map_err(|err| format!("--ca: {err}"))?)
            .map_err(|err| format!("--ca: {err}"))?;
    }
    let certs = CertificateDer::pem_file_iter(&args.cert)
        .map_err(|err| format!("--cert: {err}"))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|err| format!("--cert: {err}"))?;
    let key = PrivateKeyDer::from_pem_file(&args.key).map_err(|err| format!("--key: {err}"))?;
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|err| format!("tls: {err}"))?
    .with_root_certificates(roots)
    .with_client_auth_cert(certs, key)
    .map_err(|err| format!("--cert/--key: {err}"))?;
    Ok(tokio_rustls::TlsConnector::from(Arc::new(config)))
}
