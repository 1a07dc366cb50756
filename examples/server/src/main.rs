//! An example MIM CM REST server on `cardadmin`: the three smart-card endpoints
//! (`authenticationresponse`, `diversifiedkey`, `serverproposedpin`) on axum + tokio.
//!
//! ```text
//! cargo run --release --manifest-path examples/server/Cargo.toml -- \
//!     --config examples/server/config.example.json --listen 127.0.0.1:8080
//! ```
//!
//! All the MIM CM work is `cardadmin::cm::handle_request`: this file reads the configuration,
//! warns about weak keys, and moves requests and replies between axum and the library. It
//! logs one line per request to stdout (method, path without the query, status, time, and the
//! error message for a failure) and never logs key bytes, PINs or response bodies.
//!
//! This is an example, not a deployment: it has no TLS and no authentication of callers, and
//! MIM CM's authorization model is out of scope. Put it behind what your deployment requires.

use std::io::Write as _;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderValue, Method, StatusCode, Uri};
use axum::response::Response;
use axum::Router;
use cardadmin::{cm, rng::OsRng, AdminKey, PinPolicy};
use serde::Deserialize;
use zeroize::Zeroizing;

/// `config.example.json`. The admin key is read by `cardadmin`'s `Deserialize`, which wipes
/// every copy of its text it gets; the file's contents are wiped after parsing.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    /// 48 hex digits: MIM CM's profile template form.
    admin_key: AdminKey,
    /// Whether the profile template diversifies cards' admin keys (`diversifiedkey` answers
    /// 204 when it does not).
    #[serde(default = "yes")]
    diversify_keys: bool,
    /// The profile template's PIN policy.
    #[serde(default)]
    pin_policy: PinPolicy,
}

fn yes() -> bool {
    true
}

struct Server {
    config: Config,
}

fn usage() -> &'static str {
    "usage: cardadmin-server --config <config.json> [--listen <address:port>] (default 127.0.0.1:8080)"
}

/// `--config PATH` and `--listen ADDR`, in any order.
fn parse_args() -> Result<(String, SocketAddr), String> {
    let mut config = None;
    let mut listen = String::from("127.0.0.1:8080");
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--config" => config = Some(args.next().ok_or("--config needs a path")?),
            "--listen" => listen = args.next().ok_or("--listen needs an address")?,
            "--help" | "-h" => return Err(usage().into()),
            other => return Err(format!("unknown argument {other:?}\n{}", usage())),
        }
    }
    let config = config.ok_or_else(|| format!("--config is required\n{}", usage()))?;
    let listen = listen
        .parse()
        .map_err(|err| format!("--listen {listen:?}: {err}"))?;
    Ok((config, listen))
}

fn load_config(path: &str) -> Result<Config, String> {
    let text = Zeroizing::new(
        std::fs::read_to_string(path).map_err(|err| format!("reading {path}: {err}"))?,
    );
    // serde_json's messages name a line and column, never the key text.
    serde_json::from_str(&text).map_err(|err| format!("{path}: {err}"))
}

#[tokio::main]
async fn main() -> ExitCode {
    let (config_path, listen) = match parse_args() {
        Ok(args) => args,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::from(2);
        }
    };
    let config = match load_config(&config_path) {
        Ok(config) => config,
        Err(message) => {
            eprintln!("error: {message}");
            return ExitCode::FAILURE;
        }
    };

    // The key is identified by its check value only; the audit says what is wrong with it.
    let check_value = config.admin_key.check_value();
    let audit = config.admin_key.audit();
    if !audit.is_clean() {
        eprintln!(
            "warning: the admin key (check value {check_value}) is weak or well known; use it for tests only:"
        );
        for finding in audit.findings() {
            eprintln!("warning:   {finding}");
        }
    }
    eprintln!(
        "admin key check value {check_value}; keys {}diversified; PIN policy {}..={} characters, server proposes PINs: {}",
        if config.diversify_keys { "" } else { "not " },
        config.pin_policy.min_len(),
        config.pin_policy.max_len(),
        config.pin_policy.server_generates(),
    );

    let server = Arc::new(Server { config });
    let app = Router::new().fallback(handle).with_state(server);
    let listener = match tokio::net::TcpListener::bind(listen).await {
        Ok(listener) => listener,
        Err(err) => {
            eprintln!("error: cannot listen on {listen}: {err}");
            return ExitCode::FAILURE;
        }
    };
    eprintln!("listening on http://{listen}{}", cm::PREFIX);
    let served = axum::serve(listener, app)
        .with_graceful_shutdown(shutdown())
        .await;
    match served {
        Ok(()) => {
            eprintln!("stopped");
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::FAILURE
        }
    }
}

/// Ctrl-C or SIGTERM (what `kill PID` sends).
async fn shutdown() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminate =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(signal) => signal,
                Err(_) => {
                    let _ = interrupt.await;
                    return;
                }
            };
        tokio::select! {
            _ = interrupt => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = interrupt.await;
    }
}

/// Every request: MIM CM's endpoints are all GET, and everything else about the request is
/// `cm::handle_request`'s.
async fn handle(State(server): State<Arc<Server>>, method: Method, uri: Uri) -> Response {
    let started = Instant::now();
    let (status, content_type, body, error) = if method == Method::GET || method == Method::HEAD {
        let target = uri.path_and_query().map_or("/", |target| target.as_str());
        let profile = cm::Profile::new(
            &server.config.admin_key,
            server.config.diversify_keys,
            &server.config.pin_policy,
        );
        let reply = cm::handle_request(&profile, target, &mut OsRng);
        let error = reply.error().map(|error| error.to_string());
        (
            reply.status(),
            reply.content_type(),
            reply.into_body(),
            error,
        )
    } else {
        let message = format!("method {method} is not allowed: the MIM CM endpoints answer GET");
        let body = serde_json::json!({ "Message": message }).to_string();
        (
            405,
            Some(cm::CONTENT_TYPE),
            Zeroizing::new(body),
            Some(message),
        )
    };

    // One line per request; the query (card ID, challenge) and the body (a key, a PIN) are
    // left out.
    let elapsed = started.elapsed();
    let line = match &error {
        Some(message) => format!(
            "{method} {} {status} {}us {message}\n",
            uri.path(),
            elapsed.as_micros()
        ),
        None => format!(
            "{method} {} {status} {}us\n",
            uri.path(),
            elapsed.as_micros()
        ),
    };
    let _ = std::io::stdout().lock().write_all(line.as_bytes());

    // A HEAD answer carries the headers the GET would, Content-Length included (RFC 9110
    // 9.3.2 and 8.6), and no body: the body is computed as for GET (a proposed PIN is drawn and
    // dropped), only its length is sent.
    let content_length = body.len();
    let mut response = Response::new(if method == Method::HEAD {
        Body::empty()
    } else {
        // The body leaves zeroizing storage here: axum needs an owned buffer. It is as short
        // lived as the response.
        Body::from(body.as_bytes().to_vec())
    });
    *response.status_mut() =
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let headers = response.headers_mut();
    if let Some(content_type) = content_type {
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    }
    // Never on a 204, which has no content (RFC 9110 8.6).
    if status != 204 {
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from(content_length));
    }
    // Bodies can be keys and PINs: no cache may keep them.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if status == 405 {
        headers.insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
    }
    response
}
