//! An example MIM CM REST server on `cardadmin`: the three smart-card endpoints
//! (`authenticationresponse`, `diversifiedkey`, `serverproposedpin`) on axum + tokio.
//!
//! ```text
//! cargo run --release --manifest-path examples/server/Cargo.toml -- \
//!     --config examples/server/config.example.json --listen 127.0.0.1:8080
//! ```
//!
//! All the MIM CM work is `cardadmin::cm`'s (`parse_request`, then `answer`): this file reads
//! the configuration, warns about weak keys, and moves requests and replies between axum and
//! the library. It logs one line per request to stdout (method, path without the query,
//! status, time, the operator, and the error message for a failure) and never logs key
//! bytes, PINs or response bodies.
//!
//! Who may ask (issue #16), each part switched on by a configuration field:
//!
//! - `"tls": {"cert", "key", "client_ca"}`: TLS 1.2/1.3 with a client certificate required;
//!   the operator is its subject common name ([`tls`]). Without it the server speaks plain
//!   HTTP, and only on a loopback address.
//! - `"registry": PATH`: the SQLite request registry ([`registry`]); every endpoint answers
//!   only the operator of an open request for that smart card and card, else 403. Managed
//!   with `cardadmin-server requests add|close|list --config CONFIG`.
//! - `"audit_log": PATH`: the hash-chained audit trail ([`audit`]), written and flushed before
//!   a key is used; `cardadmin-server verify-audit PATH` checks it.
//! - `"rate_limit_per_minute": N`: key uses per operator per minute, beyond which 429
//!   ([`ratelimit`]).
//!
//! The order in which a request meets them is in [`handler`].

mod audit;
mod cli;
mod handler;
mod ratelimit;
mod registry;
mod tls;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use axum::Router;
use cardadmin::{cm, AdminKey, PinPolicy};
use serde::Deserialize;
use zeroize::Zeroizing;

use handler::Security;

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
    /// TLS with client certificates (issue #16); plain HTTP on loopback only without it.
    #[serde(default)]
    tls: Option<tls::TlsConfig>,
    /// The SQLite request registry (issue #16).
    #[serde(default)]
    registry: Option<PathBuf>,
    /// The hash-chained audit trail, JSON lines (issue #16).
    #[serde(default)]
    audit_log: Option<PathBuf>,
    /// Key uses per operator per minute, beyond which 429 (issue #16).
    #[serde(default)]
    rate_limit_per_minute: Option<u32>,
}

fn yes() -> bool {
    true
}

struct Server {
    config: Config,
    security: Security,
}

impl handler::Answerer for Server {
    fn profile(&self) -> cm::Profile<'_> {
        cm::Profile::new(
            &self.config.admin_key,
            self.config.diversify_keys,
            &self.config.pin_policy,
        )
    }

    fn security(&self) -> &Security {
        &self.security
    }
}

fn usage() -> &'static str {
    "usage: cardadmin-server --config <config.json> [--listen <address:port>] (default 127.0.0.1:8080)
       cardadmin-server requests add --config <config.json> --reqid <GUID> --scid <GUID> --cardid <GUID> --operator <NAME>
       cardadmin-server requests close --config <config.json> --reqid <GUID>
       cardadmin-server requests list --config <config.json>
       cardadmin-server verify-audit <audit log>"
}

/// `--config PATH` and `--listen ADDR`, in any order.
fn parse_args(args: Vec<String>) -> Result<(String, SocketAddr), String> {
    let mut config = None;
    let mut listen = String::from("127.0.0.1:8080");
    let mut args = args.into_iter();
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

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("requests") => cli::requests(&args[1..]),
        Some("verify-audit") => cli::verify_audit(&args[1..]),
        _ => serve(args),
    }
}

#[tokio::main]
async fn serve(args: Vec<String>) -> ExitCode {
    let (config_path, listen) = match parse_args(args) {
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

    let security = match security(&config, listen) {
        Ok(security) => security,
        Err(message) => {
            eprintln!("error: {message}");
            return ExitCode::FAILURE;
        }
    };
    let tls = match config.tls.as_ref().map(tls::server_config).transpose() {
        Ok(tls) => tls,
        Err(message) => {
            eprintln!("error: {message}");
            return ExitCode::FAILURE;
        }
    };

    let server = Arc::new(Server { config, security });
    let app = Router::new()
        .fallback(handler::handle::<Server>)
        .with_state(server);
    let listener = match tokio::net::TcpListener::bind(listen).await {
        Ok(listener) => listener,
        Err(err) => {
            eprintln!("error: cannot listen on {listen}: {err}");
            return ExitCode::FAILURE;
        }
    };
    let Some(tls) = tls else {
        eprintln!("listening on http://{listen}{}", cm::PREFIX);
        let served = axum::serve(listener, app)
            .with_graceful_shutdown(shutdown())
            .await;
        return match served {
            Ok(()) => {
                eprintln!("stopped");
                ExitCode::SUCCESS
            }
            Err(err) => {
                eprintln!("error: {err}");
                ExitCode::FAILURE
            }
        };
    };
    eprintln!(
        "listening on https://{listen}{} (TLS 1.3 and 1.2, client certificate required)",
        cm::PREFIX
    );
    handler::serve_tls(
        listener,
        tokio_rustls::TlsAcceptor::from(tls),
        app,
        shutdown(),
    )
    .await;
    eprintln!("stopped");
    ExitCode::SUCCESS
}

/// Opens what the configuration names (registry, audit trail, rate limit), checks that plain
/// HTTP stays on loopback, and says on stderr what is on and what is not.
fn security(secured: &Config, listen: SocketAddr) -> Result<Security, String> {
    if secured.tls.is_none() && !listen.ip().is_loopback() {
        return Err(format!(
            "refusing to serve plain HTTP on {listen}: without \"tls\" in the configuration callers are not authenticated and keys would cross the network in clear, so the server listens only on a loopback address (127.0.0.1 or ::1); add \"tls\": {{\"cert\", \"key\", \"client_ca\"}} to listen elsewhere"
        ));
    }
    if secured.registry.is_some() && secured.tls.is_none() {
        return Err("\"registry\" needs \"tls\": the registry names each request's operator, and the operator is the client certificate's common name, which plain HTTP does not have".into());
    }
    let registry = match &secured.registry {
        Some(path) => {
            let registry = registry::Registry::open(path)?;
            let count = registry.list()?.len();
            eprintln!(
                "registry {}: {count} requests; every endpoint answers only the operator of an open request",
                path.display()
            );
            Some(registry)
        }
        None => {
            eprintln!(
                "warning: no \"registry\" in the configuration: the server answers any caller for any request and card (a development configuration)"
            );
            None
        }
    };
    let audit = match &secured.audit_log {
        Some(path) => {
            let opened = audit::AuditLog::open(path)?;
            eprintln!(
                "audit log {}: {} lines, chain verified, head {}",
                path.display(),
                opened.lines,
                opened.head
            );
            Some(opened.log)
        }
        None => {
            eprintln!("warning: no \"audit_log\" in the configuration: key uses are not recorded");
            None
        }
    };
    let rate_limit = secured.rate_limit_per_minute.map(|limit| {
        eprintln!("rate limit: {limit} key uses per operator per minute, then 429");
        ratelimit::RateLimit::new(limit)
    });
    Ok(Security {
        registry,
        audit,
        rate_limit,
    })
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
