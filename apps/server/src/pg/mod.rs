//! The PostgreSQL backend (`"database"`, issue #23): the request registry, the audit trail and
//! the rate limits in one database shared by several server instances.
//!
//! What operators need to know (the URL, node names, what the checkpoints prove, a setup on
//! Debian) is in `apps/server/README.md`, "Several instances"; this is the code.
//!
//! # Tables
//!
//! Created or migrated at start-up (by the server and by `requests`), under an advisory lock so
//! that two instances starting together do not race: `cardadmin_schema` (one row: the schema
//! version; a database of a newer version than [`SCHEMA_VERSION`] is refused), `requests`
//! (the registry, as the SQLite one), `audit` (the trail: `node_id`, `seq`, `prev`, `hash`,
//! `line`, primary key `(node_id, seq)`), `key_uses` and `refusals` (the two per-operator
//! limits, counted across every instance).
//!
//! # The trail
//!
//! Each instance writes one hash chain of its own, named by its `"node_id"`: record `seq` 1,
//! 2, 3, … of that node, each a JSON line (the file trail's fields, plus `node` and `seq`)
//! whose `prev` is the SHA-256 of the node's record before it (64 zeros for the first), and
//! whose `hash` is the SHA-256 of its own line. One connection per instance writes its chain,
//! holding an advisory lock named after the node for as long as it lives, so a second instance
//! given the same `node_id` is refused at start-up; should one slip past (the lock lost with a
//! connection), the primary key makes its first write fail, loudly, instead of forking the
//! chain. `requests add|close` write to the chain `NODE/requests` (a `/` is never in a node
//! name), one command at a time under a transaction-scoped lock on that chain.
//!
//! Records are committed before the key they record is used, with `synchronous_commit` on
//! (set for every connection, whatever the database's default). The writer takes every record
//! waiting when it wakes and commits them in one statement (group commit): concurrent
//! requests share one commit.
//!
//! A checkpoint record is written at start-up, every `"audit_anchor_every"` records (default
//! 1000) and at shutdown: it names the latest (seq, hash) of every other chain in the
//! database, so that a chain cut short after a checkpoint is caught by `verify-audit`.

use std::collections::{BTreeMap, HashMap};
use std::str::FromStr as _;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use cardadmin::CardId;
use cardadmin_mimcm::Guid;
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use tokio::sync::{mpsc, oneshot};
use tokio_postgres::config::SslMode;
use tokio_postgres::error::SqlState;
use tokio_postgres_rustls::MakeRustlsConnect;
use zeroize::Zeroizing;

use crate::audit::{self, Checkpoint, Entry, Position, Record, RegistryChange};
use crate::ratelimit::Refusal;
use crate::registry::RegistryAction;
use crate::registry::{self, Ask, Card, Done, LifecycleError, Op, Request, Rule, Status, Write};

mod held;
pub use held::Held;

/// The schema this binary writes. A database of a newer version is refused. Version 2 (issue
/// #25): request types and statuses, smart card and card IDs optional until bound, and the
/// `cards` table (each card's confirmed and pending master version, retired or not).
pub const SCHEMA_VERSION: i32 = registry::SCHEMA_VERSION;

/// Connections in the pool (the audit writer has one more of its own): a request that uses a
/// key holds one from its check until the key is used ([`Held`]), its audit record's commit
/// included, so this many such requests can be in flight at once per instance.
const POOL_SIZE: usize = 16;

/// Connections for the per-operator limits, apart from [`POOL_SIZE`]'s (see
/// `Database::limits`).
const LIMITS_POOL_SIZE: usize = 4;

/// How long a connection attempt or one statement may take before the request is answered
/// 503: a database that does not answer must not hold requests for minutes.
const TIMEOUT: Duration = Duration::from_secs(5);

/// Why a request was not let through: a rule of the registry, or the database could not be
/// asked (then 503, and no key is used).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Denied {
    /// The rule that failed (403).
    Rule(Rule),
    /// The database did not answer (503).
    Unavailable,
}

/// The libpq environment variable read for the password when the URL has none.
pub const PASSWORD_VARIABLE: &str = "PGPASSWORD";

/// Takes `PGPASSWORD` out of the environment (so that nothing this process starts inherits it,
/// and `/proc/PID/environ` no longer shows it to a reader who could not read it before).
/// Called once, first thing in `main`, before any other thread exists.
pub fn take_password_from_env() -> Option<Zeroizing<String>> {
    let value = std::env::var_os(PASSWORD_VARIABLE)?;
    // SAFETY (of the environment): `main` calls this before starting any thread.
    std::env::remove_var(PASSWORD_VARIABLE);
    value.into_string().ok().map(Zeroizing::new)
}

/// What `"sslmode"` asks for (libpq's names).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum TlsMode {
    Disable,
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

/// The database as the configuration's URL names it.
pub struct Target {
    config: tokio_postgres::Config,
    tls: MakeRustlsConnect,
    /// `postgresql://USER@HOST:PORT/DBNAME (TLS ...)`, without the password: for messages.
    pub description: String,
}

/// Reads a `postgresql://` URL as libpq does, for the parts the server uses: user, password,
/// host, port, database name, `sslmode` and `sslrootcert` (the rest is passed to
/// `tokio-postgres`, which reads `connect_timeout`, `application_name`, `options` and
/// others). `password` (from `PGPASSWORD`) is used when the URL has none. Messages never
/// repeat the URL, which may hold a password.
pub fn parse_url(url: &str, password: Option<&str>) -> Result<Target, String> {
    const FORM: &str = "\"database\" is a URL of the form postgresql://USER@HOST:PORT/DBNAME, optionally with ?sslmode=disable|prefer|require|verify-ca|verify-full&sslrootcert=PATH";
    if !(url.starts_with("postgresql://") || url.starts_with("postgres://")) {
        return Err(format!(
            "database: not a postgresql:// URL; {FORM} (the password, if any, in PGPASSWORD)"
        ));
    }
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, query),
        None => (url, ""),
    };
    let mut mode = None;
    let mut root = None;
    let mut rest = Vec::new();
    for pair in query.split('&').filter(|pair| !pair.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        match name {
            "sslmode" => {
                mode = Some(match percent_decode(value)?.as_str() {
                    "disable" => TlsMode::Disable,
                    "allow" | "prefer" => TlsMode::Prefer,
                    "require" => TlsMode::Require,
                    "verify-ca" => TlsMode::VerifyCa,
                    "verify-full" => TlsMode::VerifyFull,
                    _ => {
                        return Err(format!(
                            "database: sslmode must be disable, allow, prefer, require, verify-ca or verify-full; {FORM}"
                        ))
                    }
                })
            }
            "sslrootcert" => root = Some(std::path::PathBuf::from(percent_decode(value)?)),
            _ => rest.push(pair),
        }
    }
    let rebuilt = if rest.is_empty() {
        base.to_string()
    } else {
        format!("{base}?{}", rest.join("&"))
    };
    let mut config = tokio_postgres::Config::from_str(&rebuilt).map_err(|err| {
        // tokio-postgres names the option that failed, never its value.
        format!("database: the URL does not parse ({err}); {FORM}")
    })?;
    let Some(user) = config.get_user().map(str::to_string) else {
        return Err(format!("database: the URL names no user; {FORM}"));
    };
    if config.get_hosts().is_empty() {
        return Err(format!("database: the URL names no host; {FORM}"));
    }
    if config.get_password().is_none() {
        if let Some(password) = password {
            config.password(password);
        }
    }
    // Durable before the key is used, whatever the database's or role's default.
    let options = match config.get_options() {
        Some(options) => format!("{options} -c synchronous_commit=on"),
        None => String::from("-c synchronous_commit=on"),
    };
    config.options(options);
    if config.get_application_name().is_none() {
        config.application_name("cardadmin-server");
    }
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(TIMEOUT);
    }
    // libpq's default root certificate file, when the URL names none.
    let root = root.or_else(|| {
        std::env::var_os("HOME")
            .map(|home| std::path::Path::new(&home).join(".postgresql/root.crt"))
            .filter(|path| path.exists())
    });
    let mode = mode.unwrap_or(TlsMode::Prefer);
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let roots = match &root {
        Some(path) if mode != TlsMode::Disable => {
            let mut store = rustls::RootCertStore::empty();
            let certs = CertificateDer::pem_file_iter(path)
                .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
                .map_err(|err| format!("database: sslrootcert {}: {err}", path.display()))?;
            if certs.is_empty() {
                return Err(format!(
                    "database: sslrootcert {}: no PEM certificate in the file",
                    path.display()
                ));
            }
            for cert in certs {
                store.add(cert).map_err(|err| {
                    format!(
                        "database: sslrootcert {}: not a usable CA certificate: {err}",
                        path.display()
                    )
                })?;
            }
            Some(Arc::new(store))
        }
        _ => None,
    };
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|err| format!("database: TLS: {err}"))?;
    let (client, ssl_mode, how) = match (mode, roots) {
        (TlsMode::Disable, _) | (TlsMode::Prefer, None) => (
            builder
                .with_root_certificates(rustls::RootCertStore::empty())
                .with_no_client_auth(),
            SslMode::Disable,
            String::from("no TLS (give sslmode=verify-full and sslrootcert for TLS)"),
        ),
        (TlsMode::VerifyFull, Some(roots)) => (
            builder.with_root_certificates(roots).with_no_client_auth(),
            SslMode::Require,
            String::from("TLS, certificate and host name verified (verify-full)"),
        ),
        (TlsMode::Prefer, Some(roots)) => (
            builder
                .dangerous()
                .with_custom_certificate_verifier(ChainOnly::new(roots, provider.clone())?)
                .with_no_client_auth(),
            SslMode::Prefer,
            String::from("TLS when the database offers it, certificate verified (prefer)"),
        ),
        (TlsMode::Require | TlsMode::VerifyCa, Some(roots)) => (
            builder
                .dangerous()
                .with_custom_certificate_verifier(ChainOnly::new(roots, provider.clone())?)
                .with_no_client_auth(),
            SslMode::Require,
            String::from("TLS, certificate verified, host name not checked (verify-ca)"),
        ),
        (TlsMode::Require, None) => (
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(Unverified(provider.clone())))
                .with_no_client_auth(),
            SslMode::Require,
            String::from(
                "TLS without certificate verification (sslmode=require without sslrootcert: encrypted, but not protected from an impostor)",
            ),
        ),
        (TlsMode::VerifyCa | TlsMode::VerifyFull, None) => {
            return Err(String::from(
                "database: sslmode=verify-ca and verify-full need sslrootcert=PATH (the CA certificate of the database server, PEM), or ~/.postgresql/root.crt",
            ))
        }
    };
    config.ssl_mode(ssl_mode);
    let hosts: Vec<String> = config
        .get_hosts()
        .iter()
        .map(|host| match host {
            tokio_postgres::config::Host::Tcp(name) => name.clone(),
            tokio_postgres::config::Host::Unix(path) => path.display().to_string(),
        })
        .collect();
    let port = config.get_ports().first().copied().unwrap_or(5432);
    let description = format!(
        "postgresql://{user}@{}:{port}/{} ({how})",
        hosts.join(","),
        config.get_dbname().unwrap_or(&user)
    );
    Ok(Target {
        config,
        tls: MakeRustlsConnect::new(client),
        description,
    })
}

fn percent_decode(text: &str) -> Result<String, String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes
                .get(i + 1..i + 3)
                .and_then(|hex| std::str::from_utf8(hex).ok())
                .and_then(|hex| u8::from_str_radix(hex, 16).ok())
                .ok_or("database: a %-escape in the URL is not two hex digits")?;
            out.push(hex);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| String::from("database: the URL is not UTF-8 once decoded"))
}

/// `verify-ca`: the certificate must chain to `sslrootcert`; its names are not checked (as
/// libpq's verify-ca, for a database reached by an address its certificate does not name).
#[derive(Debug)]
struct ChainOnly(Arc<rustls::client::WebPkiServerVerifier>);

impl ChainOnly {
    fn new(
        roots: Arc<rustls::RootCertStore>,
        provider: Arc<rustls::crypto::CryptoProvider>,
    ) -> Result<Arc<Self>, String> {
        let inner = rustls::client::WebPkiServerVerifier::builder_with_provider(roots, provider)
            .build()
            .map_err(|err| format!("database: sslrootcert: {err}"))?;
        Ok(Arc::new(Self(inner)))
    }
}

impl ServerCertVerifier for ChainOnly {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        {
            Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::NotValidForName
                | rustls::CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

/// `sslmode=require` without a root certificate: libpq encrypts without checking who answers;
/// so does this (the start-up line says so). The handshake's signatures are still checked.
#[derive(Debug)]
struct Unverified(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for Unverified {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// Checks a `"node_id"`: 1 to 64 letters, digits, `.`, `_` or `-` (so it never contains the
/// `/` of the command chains' names).
pub fn check_node_id(node: &str) -> Result<(), String> {
    let fits = !node.is_empty()
        && node.len() <= 64
        && node
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if fits {
        Ok(())
    } else {
        Err(String::from(
            "node_id: 1 to 64 letters, digits, '.', '_' or '-' (this instance's name in the audit trail, one per instance)",
        ))
    }
}

/// The chain `requests add|close` write to for the configuration of node `node`.
pub fn command_chain(node: &str) -> String {
    format!("{node}/requests")
}

/// The database: a pool of connections, the target to open more, and whether it is failing
/// (so that an outage is reported once, and its end once).
pub struct Database {
    pool: Pool,
    /// The per-operator limits' own connections: a request counts its key use while it holds
    /// a connection of `pool` ([`Held`]), so with every one of those held, counting on `pool`
    /// would wait for itself.
    limits: Pool,
    target: Target,
    failing: AtomicBool,
}

/// Every statement run against the database, with the pool's connection or the writer's.
type Client = tokio_postgres::Client;

fn db_error(err: &tokio_postgres::Error) -> String {
    // The server's message (and its detail), not only "db error".
    match err.as_db_error() {
        Some(db) => match db.detail() {
            Some(detail) => format!("{} ({detail})", db.message()),
            None => db.message().to_string(),
        },
        None => err.to_string(),
    }
}

/// A statement's result given [`TIMEOUT`]: its value, or what went wrong, for the log.
fn outcome<T>(
    result: Result<Result<T, tokio_postgres::Error>, tokio::time::error::Elapsed>,
) -> Result<T, String> {
    match result {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(err)) => Err(db_error(&err)),
        Err(_) => Err(String::from("no answer within 5 s")),
    }
}

impl Database {
    /// Connects (once, to fail start-up with a message when the database cannot be reached)
    /// and creates or migrates the tables; a migration from schema 1 records every card of
    /// its requests as confirmed on master `version` (the one configured now).
    pub async fn open(target: Target, version: u8) -> Result<Arc<Self>, String> {
        let pool = |size: usize| {
            let manager = Manager::from_config(
                target.config.clone(),
                target.tls.clone(),
                ManagerConfig {
                    recycling_method: RecyclingMethod::Fast,
                },
            );
            Pool::builder(manager)
                .max_size(size)
                .runtime(Runtime::Tokio1)
                .create_timeout(Some(TIMEOUT))
                .wait_timeout(Some(TIMEOUT))
                .recycle_timeout(Some(TIMEOUT))
                .build()
                .map_err(|err| format!("database: {err}"))
        };
        let database = Self {
            pool: pool(POOL_SIZE)?,
            limits: pool(LIMITS_POOL_SIZE)?,
            target,
            failing: AtomicBool::new(false),
        };
        let mut client = database.pool.get().await.map_err(|err| {
            format!(
                "database {}: cannot connect: {err}",
                database.target.description
            )
        })?;
        migrate(&mut client, version)
            .await
            .map_err(|err| format!("database {}: {err}", database.target.description))?;
        drop(client);
        Ok(Arc::new(database))
    }

    /// Where the database is, without the password.
    pub fn description(&self) -> &str {
        &self.target.description
    }

    /// A failure to reach the database: said once on stderr until it answers again.
    fn failed(&self, what: &str, err: &str) {
        if !self.failing.swap(true, Ordering::Relaxed) {
            eprintln!(
                "error: database {}: {what}: {err}; requests that would use a key are answered 503 and use none until it answers again",
                self.target.description
            );
        }
    }

    fn answered(&self) {
        if self.failing.swap(false, Ordering::Relaxed) {
            eprintln!("database {}: answering again", self.target.description);
        }
    }

    async fn client(&self) -> Result<deadpool_postgres::Object, ()> {
        self.client_of(&self.pool).await
    }

    async fn client_of(&self, pool: &Pool) -> Result<deadpool_postgres::Object, ()> {
        match pool.get().await {
            Ok(client) => Ok(client),
            Err(err) => {
                self.failed("no connection", &err.to_string());
                Err(())
            }
        }
    }

    /// Runs `work` on a pooled connection, within [`TIMEOUT`]; a failure is reported (once)
    /// and is `Err(())`.
    async fn with_client<T, F>(&self, what: &str, work: F) -> Result<T, ()>
    where
        F: for<'c> FnOnce(
            &'c mut deadpool_postgres::Object,
        ) -> std::pin::Pin<
            Box<dyn std::future::Future<Output = Result<T, tokio_postgres::Error>> + Send + 'c>,
        >,
    {
        self.with_client_of(&self.pool, what, work).await
    }

    /// [`Database::with_client`] on the limits' pool.
    async fn with_limits_client<T, F>(&self, what: &str, work: F) -> Result<T, ()>
    where
        F: for<'c> FnOnce(
            &'c mut deadpool_postgres::Object,
        ) -> std::pin::Pin<
            Box<dyn std::future::Future<Output = Result<T, tokio_postgres::Error>> + Send + 'c>,
        >,
    {
        self.with_client_of(&self.limits, what, work).await
    }

    async fn with_client_of<T, F>(&self, pool: &Pool, what: &str, work: F) -> Result<T, ()>
    where
        F: for<'c> FnOnce(
            &'c mut deadpool_postgres::Object,
        ) -> std::pin::Pin<
            Box<dyn std::future::Future<Output = Result<T, tokio_postgres::Error>> + Send + 'c>,
        >,
    {
        let mut client = self.client_of(pool).await?;
        match outcome(tokio::time::timeout(TIMEOUT, work(&mut client)).await) {
            Ok(value) => {
                self.answered();
                Ok(value)
            }
            Err(err) => {
                self.failed(what, &err);
                Err(())
            }
        }
    }

    /// [`crate::registry::Registry::authorize`], against the database.
    pub async fn authorize(&self, ask: &Ask<'_>) -> Result<Option<u8>, Denied> {
        let Some(operator) = ask.operator else {
            return Err(Denied::Rule(registry::NO_OPERATOR));
        };
        let operator = operator.to_string();
        let (reqid, scid) = (ask.reqid, ask.scid);
        let (rows, card) = self
            .with_client("reading the registry", |client| {
                Box::pin(async move {
                    let rows = select_requests(&*client, &operator, reqid, scid, false).await?;
                    let card = match (reqid, rows.first().and_then(|request| request.cardid)) {
                        (Some(_), Some(cardid)) => select_card(&*client, cardid, "").await?,
                        _ => None,
                    };
                    Ok((rows, card))
                })
            })
            .await
            .map_err(|()| Denied::Unavailable)?;
        rule_of(ask, &rows, card.as_ref())
    }

    /// Whether `operator` has an open request (any): for the profile's configuration.
    pub async fn has_open_request(&self, operator: &str) -> Result<bool, ()> {
        let operator = operator.to_string();
        self.with_client("reading the registry", |client| {
            Box::pin(async move {
                let row = client
                    .query_one(
                        "SELECT count(*) > 0 FROM requests WHERE operator = $1 AND state = 'open'",
                        &[&operator],
                    )
                    .await?;
                row.try_get::<_, bool>(0)
            })
        })
        .await
    }

    /// [`crate::registry::Registry::lifecycle`], against the database: the request's row and
    /// the card's are read `FOR UPDATE`, the decision ([`registry::decide`]) made and its
    /// rows written in one transaction, committed when `commit`.
    pub async fn lifecycle(&self, op: &Op, commit: bool) -> Result<Done, LifecycleError> {
        let mut client = self
            .client()
            .await
            .map_err(|()| LifecycleError::Unavailable)?;
        let result = tokio::time::timeout(TIMEOUT, async {
            let transaction = client.transaction().await?;
            let decided = lifecycle_in(&transaction, op).await?;
            if commit && decided.is_ok() {
                transaction.commit().await?;
            } else {
                transaction.rollback().await?;
            }
            Ok::<_, tokio_postgres::Error>(decided)
        })
        .await;
        match outcome(result) {
            Ok(decided) => {
                self.answered();
                decided
            }
            Err(err) => {
                self.failed("a lifecycle change of the registry", &err);
                Err(LifecycleError::Unavailable)
            }
        }
    }

    /// Every card's row (for `keys` and the start-up counts).
    pub async fn cards(&self) -> Result<Vec<Card>, String> {
        let client = self
            .pool
            .get()
            .await
            .map_err(|err| format!("database: {err}"))?;
        let rows = client
            .query(
                "SELECT cardid, confirmed, pending, pending_reqid, retired FROM cards",
                &[],
            )
            .await
            .map_err(|err| format!("database: {}", db_error(&err)))?;
        rows.iter().map(|row| row_to_card(row, 0)).collect()
    }

    /// Every request, in the order they were added.
    pub async fn list(&self) -> Result<Vec<Request>, String> {
        let client = self
            .pool
            .get()
            .await
            .map_err(|err| format!("database: {err}"))?;
        let rows = client
            .query(
                &format!("SELECT {COLUMNS} FROM requests ORDER BY added"),
                &[],
            )
            .await
            .map_err(|err| format!("database: {}", db_error(&err)))?;
        rows.iter().map(row_to_request).collect()
    }

    /// `requests add`: the row and its audit record (in chain `chain`) in one transaction.
    /// Returns the request and the chain's new head (seq, hash).
    pub async fn add(
        &self,
        request: &Request,
        chain: &str,
        uid: Option<u32>,
    ) -> Result<(u64, String), String> {
        registry::check_new(request)?;
        let mut client = self
            .pool
            .get()
            .await
            .map_err(|err| format!("database: {err}"))?;
        let transaction = client
            .transaction()
            .await
            .map_err(|err| format!("database: {}", db_error(&err)))?;
        let inserted = transaction
            .execute(
                &format!("INSERT INTO requests ({COLUMNS}) VALUES ($1, $2, $3, $4, 'open', $5, 'Approved')"),
                &[
                    &&request.reqid.as_bytes()[..],
                    &request.scid.map(|scid| scid.as_bytes().to_vec()),
                    &request.cardid.map(|cardid| cardid.as_bytes().to_vec()),
                    &request.operator,
                    &request.kind.as_str(),
                ],
            )
            .await;
        match inserted {
            Ok(_) => {}
            Err(err) if err.code() == Some(&SqlState::UNIQUE_VIOLATION) => {
                return Err(format!("request {} is registered already", request.reqid))
            }
            Err(err) => return Err(format!("database: {}", db_error(&err))),
        }
        let added = Request {
            state: registry::State::Open,
            status: Status::Approved,
            ..request.clone()
        };
        let head = append_in_transaction(&transaction, chain, RegistryAction::Add, &added, uid)
            .await
            .map_err(|err| format!("{err}; request {} was not added", request.reqid))?;
        transaction.commit().await.map_err(|err| {
            format!(
                "database: {}; request {} was not added",
                db_error(&err),
                request.reqid
            )
        })?;
        Ok(head)
    }

    /// `requests close`: as [`Database::add`], with the decision of [`registry::decide`]
    /// (the pending versions the request began confirmed for `Completed`, else dropped). The
    /// `UPDATE` waits for any key use of the request in progress
    /// ([`Held`]).
    pub async fn close(
        &self,
        reqid: Guid,
        status: Status,
        chain: &str,
        uid: Option<u32>,
    ) -> Result<(Done, u64, String), String> {
        let mut client = self
            .pool
            .get()
            .await
            .map_err(|err| format!("database: {err}"))?;
        let transaction = client
            .transaction()
            .await
            .map_err(|err| format!("database: {}", db_error(&err)))?;
        let op = Op::Close {
            who: registry::Who::Command,
            reqid,
            status,
        };
        let done = lifecycle_in(&transaction, &op)
            .await
            .map_err(|err| format!("database: {}", db_error(&err)))?
            .map_err(|err| registry::command_error(reqid, err))?;
        let (seq, head) = append_in_transaction(
            &transaction,
            chain,
            RegistryAction::Close,
            &done.request,
            uid,
        )
        .await
        .map_err(|err| format!("{err}; request {reqid} was not closed"))?;
        transaction.commit().await.map_err(|err| {
            format!(
                "database: {}; request {reqid} was not closed",
                db_error(&err)
            )
        })?;
        Ok((done, seq, head))
    }

    /// One key use of `operator` against `per_minute`, counted across every instance: `true`
    /// (counted) or `false` (429). `Err` when the database did not answer.
    pub async fn allow_key_use(&self, operator: &str, per_minute: u32) -> Result<bool, ()> {
        if per_minute == 0 {
            return Ok(false);
        }
        let operator = operator.to_string();
        let limit = i64::from(per_minute);
        self.with_limits_client("counting key uses", |client| {
            Box::pin(async move {
                let statement = client.prepare_cached(KEY_USE_SQL).await?;
                let row = client.query_one(&statement, &[&operator, &limit]).await?;
                row.try_get::<_, bool>(0)
            })
        })
        .await
    }

    /// [`crate::ratelimit::RefusalLimit::check`], counted across every instance.
    pub async fn check_refusal(&self, operator: &str, per_minute: u32) -> Result<Refusal, ()> {
        let operator = operator.to_string();
        let limit = i64::from(per_minute);
        let (verdict, reported) = self
            .with_limits_client("counting refusals", |client| {
                Box::pin(async move {
                    let statement = client.prepare_cached(REFUSAL_SQL).await?;
                    let row = client.query_one(&statement, &[&operator, &limit]).await?;
                    Ok((row.try_get::<_, String>(0)?, row.try_get::<_, i64>(1)?))
                })
            })
            .await?;
        Ok(match verdict.as_str() {
            "record" => Refusal::Record {
                unrecorded: u64::try_from(reported).unwrap_or(0),
            },
            "throttle and record" => Refusal::ThrottleAndRecord,
            _ => Refusal::Throttle,
        })
    }

    /// Takes every refusal count not recorded yet, of every instance (this one is stopping
    /// and records them).
    pub async fn take_unrecorded(&self) -> Result<Vec<(String, u64)>, ()> {
        self.with_limits_client("taking the refusal counts", |client| {
            Box::pin(async move {
                let rows = client
                    .query(
                        "UPDATE refusals SET reported = unrecorded, unrecorded = 0 WHERE unrecorded > 0 RETURNING operator, reported",
                        &[],
                    )
                    .await?;
                let mut counts = rows
                    .iter()
                    .map(|row| {
                        Ok((
                            row.try_get::<_, String>(0)?,
                            u64::try_from(row.try_get::<_, i64>(1)?).unwrap_or(0),
                        ))
                    })
                    .collect::<Result<Vec<_>, tokio_postgres::Error>>()?;
                counts.sort();
                Ok(counts)
            })
        })
        .await
    }

    /// A connection of its own (not pooled): the audit writer's, which holds its node's lock.
    async fn connect_own(&self) -> Result<Client, String> {
        let (client, connection) = self
            .target
            .config
            .connect(self.target.tls.clone())
            .await
            .map_err(|err| db_error(&err))?;
        tokio::spawn(async move {
            let _ = connection.await;
        });
        Ok(client)
    }
}

/// The columns every request query reads, in [`row_to_request`]'s order.
const COLUMNS: &str = "reqid, scid, cardid, operator, state, type, status";

/// The rules for the rows read (see [`registry::rule_for_request`] and
/// [`registry::rule_for_key`]), and the version a card key answers under.
fn rule_of(ask: &Ask<'_>, rows: &[Request], card: Option<&Card>) -> Result<Option<u8>, Denied> {
    let operator = ask.operator.unwrap_or_default();
    match ask.reqid {
        Some(_) => {
            let request = registry::rule_for_request(operator, rows.first(), ask.scid, ask.cardid)
                .map_err(Denied::Rule)?;
            registry::rule_for_key(request, card, ask.key).map_err(Denied::Rule)?;
            Ok(registry::version_for(card, ask.key, ask.current))
        }
        None => registry::rule_for_open(rows, ask.cardid)
            .map(|()| None)
            .map_err(Denied::Rule),
    }
}

/// The rows the rules need: the request named (with a request ID), else the caller's open
/// requests for the smart card; `FOR SHARE` to hold them until the transaction ends.
async fn select_requests(
    client: &impl deadpool_postgres::GenericClient,
    operator: &str,
    reqid: Option<Guid>,
    scid: Guid,
    lock: bool,
) -> Result<Vec<Request>, tokio_postgres::Error> {
    let suffix = if lock { " FOR SHARE" } else { "" };
    let rows = match reqid {
        Some(reqid) => {
            let sql = format!("SELECT {COLUMNS} FROM requests WHERE reqid = $1{suffix}");
            let statement = client.prepare_cached(&sql).await?;
            client.query(&statement, &[&&reqid.as_bytes()[..]]).await?
        }
        None => {
            let sql = format!(
                "SELECT {COLUMNS} FROM requests WHERE scid = $1 AND operator = $2 AND state = 'open'{suffix}"
            );
            let statement = client.prepare_cached(&sql).await?;
            client
                .query(&statement, &[&&scid.as_bytes()[..], &operator])
                .await?
        }
    };
    // A row that does not read as a request (it cannot: the table's checks) refuses.
    Ok(rows
        .iter()
        .filter_map(|row| row_to_request(row).ok())
        .collect())
}

/// The card's row, with `lock` (`""`, `" FOR SHARE"` or `" FOR UPDATE"`).
async fn select_card(
    client: &impl deadpool_postgres::GenericClient,
    cardid: cardadmin::CardId,
    lock: &str,
) -> Result<Option<Card>, tokio_postgres::Error> {
    let sql = format!(
        "SELECT cardid, confirmed, pending, pending_reqid, retired FROM cards WHERE cardid = $1{lock}"
    );
    let statement = client.prepare_cached(&sql).await?;
    let row = client
        .query_opt(&statement, &[&&cardid.as_bytes()[..]])
        .await?;
    // A row that does not read as a card (it cannot: the table's checks) reads as none.
    Ok(row.and_then(|row| row_to_card(&row, 0).ok()))
}

/// [`registry::decide`] in `transaction`: the request's and the card's rows read `FOR UPDATE`,
/// the writes made. The outer error is the database's; the inner one the decision's.
async fn lifecycle_in(
    transaction: &deadpool_postgres::Transaction<'_>,
    op: &Op,
) -> Result<Result<Done, LifecycleError>, tokio_postgres::Error> {
    let reqid = op.reqid();
    let request = transaction
        .query_opt(
            &format!("SELECT {COLUMNS} FROM requests WHERE reqid = $1 FOR UPDATE"),
            &[&&reqid.as_bytes()[..]],
        )
        .await?
        .and_then(|row| row_to_request(&row).ok());
    let card = match op.cardid(request.as_ref()) {
        Some(cardid) => select_card(transaction, cardid, " FOR UPDATE").await?,
        None => None,
    };
    let pending: i64 = transaction
        .query_one(
            "SELECT count(*) FROM cards WHERE pending_reqid = $1",
            &[&&reqid.as_bytes()[..]],
        )
        .await?
        .try_get(0)?;
    let (done, writes) = match registry::decide(
        op,
        request.as_ref(),
        card.as_ref(),
        u64::try_from(pending).unwrap_or(0),
    ) {
        Ok(decided) => decided,
        Err(err) => return Ok(Err(err)),
    };
    for write in &writes {
        apply(transaction, write).await?;
    }
    Ok(Ok(done))
}

async fn apply(
    transaction: &deadpool_postgres::Transaction<'_>,
    write: &Write,
) -> Result<u64, tokio_postgres::Error> {
    match write {
        Write::Bind {
            reqid,
            scid,
            cardid,
        } => {
            transaction
                .execute(
                    "UPDATE requests SET scid = $2, cardid = $3 WHERE reqid = $1",
                    &[
                        &&reqid.as_bytes()[..],
                        &&scid.as_bytes()[..],
                        &&cardid.as_bytes()[..],
                    ],
                )
                .await
        }
        Write::EnsureCard(cardid) => {
            transaction
                .execute(
                    "INSERT INTO cards (cardid) VALUES ($1) ON CONFLICT (cardid) DO NOTHING",
                    &[&&cardid.as_bytes()[..]],
                )
                .await
        }
        Write::Close(reqid, status) => {
            transaction
                .execute(
                    "UPDATE requests SET state = 'closed', status = $2 WHERE reqid = $1",
                    &[&&reqid.as_bytes()[..], &status.as_str()],
                )
                .await
        }
        Write::ConfirmPending(reqid) => {
            transaction
                .execute(
                    "UPDATE cards SET confirmed = pending, pending = NULL, pending_reqid = NULL WHERE pending_reqid = $1",
                    &[&&reqid.as_bytes()[..]],
                )
                .await
        }
        Write::DropPending(reqid) => {
            transaction
                .execute(
                    "UPDATE cards SET pending = NULL, pending_reqid = NULL WHERE pending_reqid = $1",
                    &[&&reqid.as_bytes()[..]],
                )
                .await
        }
        Write::Retire(cardid) => {
            transaction
                .execute(
                    "INSERT INTO cards (cardid, retired) VALUES ($1, true)
                     ON CONFLICT (cardid) DO UPDATE SET retired = true, pending = NULL, pending_reqid = NULL",
                    &[&&cardid.as_bytes()[..]],
                )
                .await
        }
    }
}

fn guid_of(row: &tokio_postgres::Row, index: usize) -> Result<Option<[u8; 16]>, String> {
    let bytes: Option<Vec<u8>> = row
        .try_get(index)
        .map_err(|err| format!("database: {}", db_error(&err)))?;
    bytes
        .map(|bytes| {
            bytes
                .try_into()
                .map_err(|_| String::from("database: a GUID column that is not 16 bytes"))
        })
        .transpose()
}

fn required_guid_of(row: &tokio_postgres::Row, index: usize) -> Result<[u8; 16], String> {
    guid_of(row, index)?.ok_or_else(|| String::from("database: a required GUID that is NULL"))
}

fn row_to_request(row: &tokio_postgres::Row) -> Result<Request, String> {
    let text = |index: usize| -> Result<String, String> {
        row.try_get(index)
            .map_err(|err| format!("database: {}", db_error(&err)))
    };
    let state = text(4)?;
    Ok(Request {
        reqid: Guid::from_bytes(required_guid_of(row, 0)?),
        scid: guid_of(row, 1)?.map(Guid::from_bytes),
        cardid: guid_of(row, 2)?.map(CardId::from_bytes),
        operator: text(3)?,
        state: if state == "open" {
            registry::State::Open
        } else {
            registry::State::Closed
        },
        kind: registry::RequestType::parse(&text(5)?)
            .ok_or("database: a request type the table's checks do not allow")?,
        status: Status::parse(&text(6)?)
            .ok_or("database: a request status the table's checks do not allow")?,
    })
}

/// The card whose columns start at column `at` (`cardid, confirmed, pending, pending_reqid,
/// retired`).
fn row_to_card(row: &tokio_postgres::Row, at: usize) -> Result<Card, String> {
    let fail = |err: tokio_postgres::Error| format!("database: {}", db_error(&err));
    let version = |index: usize| -> Result<Option<u8>, String> {
        let value: Option<i16> = row.try_get(index).map_err(fail)?;
        value
            .map(|value| {
                u8::try_from(value)
                    .map_err(|_| String::from("database: a master version out of 1 to 255"))
            })
            .transpose()
    };
    Ok(Card {
        cardid: CardId::from_bytes(required_guid_of(row, at)?),
        confirmed: version(at + 1)?,
        pending: version(at + 2)?,
        pending_reqid: guid_of(row, at + 3)?.map(Guid::from_bytes),
        retired: row.try_get(at + 4).map_err(fail)?,
    })
}

/// The key-use limit in one statement: the operator's row is locked by the upsert, so
/// concurrent instances count one after the other. `allowed` is computed from the uses of the
/// last minute before this one; the use is added only when allowed (a 429 is not counted).
const KEY_USE_SQL: &str = "INSERT INTO key_uses AS k (operator, uses, allowed) VALUES ($1, ARRAY[now()], true)
ON CONFLICT (operator) DO UPDATE SET
    allowed = cardinality(cardadmin_recent(k.uses)) < $2::bigint,
    uses = cardadmin_recent(k.uses) || CASE WHEN cardinality(cardadmin_recent(k.uses)) < $2::bigint THEN ARRAY[now()] ELSE '{}'::timestamptz[] END
RETURNING allowed";

/// The refusal limit in one statement, as `RefusalLimit::check`: under the limit the refusal
/// is recorded (and the count of those answered 429 without a line is taken, in `reported`);
/// over it, the first of a run is recorded, the rest counted.
const REFUSAL_SQL: &str = "INSERT INTO refusals AS r (operator, times, throttling, unrecorded, verdict, reported)
VALUES ($1, CASE WHEN $2::bigint > 0 THEN ARRAY[now()] ELSE '{}'::timestamptz[] END, $2::bigint = 0, 0,
        CASE WHEN $2::bigint > 0 THEN 'record' ELSE 'throttle and record' END, 0)
ON CONFLICT (operator) DO UPDATE SET
    verdict = CASE WHEN cardinality(cardadmin_recent(r.times)) < $2::bigint THEN 'record'
                   WHEN NOT r.throttling THEN 'throttle and record' ELSE 'throttle' END,
    reported = CASE WHEN cardinality(cardadmin_recent(r.times)) < $2::bigint THEN r.unrecorded ELSE 0 END,
    unrecorded = CASE WHEN cardinality(cardadmin_recent(r.times)) < $2::bigint THEN 0
                      WHEN NOT r.throttling THEN r.unrecorded ELSE r.unrecorded + 1 END,
    throttling = cardinality(cardadmin_recent(r.times)) >= $2::bigint,
    times = cardadmin_recent(r.times) || CASE WHEN cardinality(cardadmin_recent(r.times)) < $2::bigint THEN ARRAY[now()] ELSE '{}'::timestamptz[] END
RETURNING verdict, reported";

/// The migrations, in order: entry `n` takes the schema from version `n` to `n + 1`. In them,
/// `$CONFIGURED_VERSION` stands for the master version configured at the moment (a number
/// from 1 to 255, written in by [`migrate`]).
const MIGRATIONS: [&str; 2] = ["
CREATE TABLE requests (
    reqid bytea PRIMARY KEY CHECK (length(reqid) = 16),
    scid bytea NOT NULL CHECK (length(scid) = 16),
    cardid bytea NOT NULL CHECK (length(cardid) = 16),
    operator text NOT NULL CHECK (operator <> ''),
    state text NOT NULL CHECK (state IN ('open', 'closed')),
    added bigint GENERATED ALWAYS AS IDENTITY
);
CREATE INDEX requests_by_card ON requests (scid, operator, state);
CREATE TABLE audit (
    node_id text NOT NULL,
    seq bigint NOT NULL CHECK (seq >= 1),
    prev text NOT NULL,
    hash text NOT NULL,
    line text NOT NULL,
    PRIMARY KEY (node_id, seq)
);
CREATE TABLE key_uses (
    operator text PRIMARY KEY,
    uses timestamptz[] NOT NULL,
    allowed boolean NOT NULL
);
CREATE TABLE refusals (
    operator text PRIMARY KEY,
    times timestamptz[] NOT NULL,
    throttling boolean NOT NULL,
    unrecorded bigint NOT NULL,
    verdict text NOT NULL,
    reported bigint NOT NULL
);
CREATE FUNCTION cardadmin_recent(times timestamptz[]) RETURNS timestamptz[]
    LANGUAGE sql STABLE
    AS $$ SELECT coalesce(array_agg(t ORDER BY t), '{}') FROM unnest(times) AS t WHERE t > now() - interval '60 seconds' $$;
", "
ALTER TABLE requests
    ALTER COLUMN scid DROP NOT NULL,
    ALTER COLUMN cardid DROP NOT NULL,
    ADD COLUMN type text NOT NULL DEFAULT 'enroll' CHECK (type IN ('enroll', 'renew', 'retire')),
    ADD COLUMN status text NOT NULL DEFAULT 'Approved' CHECK (status IN ('Approved', 'Completed', 'Canceled', 'Abandoned'));
UPDATE requests SET status = 'Completed' WHERE state = 'closed';
CREATE TABLE cards (
    cardid bytea PRIMARY KEY CHECK (length(cardid) = 16),
    confirmed smallint CHECK (confirmed BETWEEN 1 AND 255),
    pending smallint CHECK (pending BETWEEN 1 AND 255),
    pending_reqid bytea CHECK (length(pending_reqid) = 16),
    retired boolean NOT NULL DEFAULT false
);
CREATE INDEX cards_by_pending_request ON cards (pending_reqid);
INSERT INTO cards (cardid, confirmed)
    SELECT DISTINCT cardid, $CONFIGURED_VERSION FROM requests WHERE cardid IS NOT NULL;
"];

/// Creates or migrates the tables, one instance at a time (a transaction-scoped advisory
/// lock): refuses a schema newer than this binary's.
async fn migrate(client: &mut deadpool_postgres::Object, version: u8) -> Result<(), String> {
    let fail = |err: tokio_postgres::Error| format!("creating the tables: {}", db_error(&err));
    let transaction = client.transaction().await.map_err(fail)?;
    transaction
        .execute(
            "SELECT pg_advisory_xact_lock(hashtextextended('cardadmin-server schema', 0))",
            &[],
        )
        .await
        .map_err(fail)?;
    transaction
        .batch_execute("CREATE TABLE IF NOT EXISTS cardadmin_schema (version integer NOT NULL)")
        .await
        .map_err(fail)?;
    let found: Option<i32> = transaction
        .query_opt("SELECT max(version) FROM cardadmin_schema", &[])
        .await
        .map_err(fail)?
        .and_then(|row| row.get(0));
    let found = found.unwrap_or(0);
    if found > SCHEMA_VERSION {
        return Err(format!(
            "the database's tables are schema version {found}, newer than this cardadmin-server knows (version {SCHEMA_VERSION}): a newer cardadmin-server created them; run that version (or a newer one), not this one"
        ));
    }
    for (to, sql) in MIGRATIONS.iter().enumerate().skip(found as usize) {
        let sql = sql.replace("$CONFIGURED_VERSION", &version.to_string());
        transaction.batch_execute(&sql).await.map_err(|err| {
            format!(
                "migrating the tables to schema version {}: {}",
                to + 1,
                db_error(&err)
            )
        })?;
        if to == 1 && found == 1 {
            eprintln!("database: upgraded to schema version 2: every card of the registry recorded as confirmed on master version {version} (the \"diversification_key_version\" configured now)");
        }
    }
    if found < SCHEMA_VERSION {
        transaction
            .execute("DELETE FROM cardadmin_schema", &[])
            .await
            .map_err(fail)?;
        transaction
            .execute(
                "INSERT INTO cardadmin_schema (version) VALUES ($1)",
                &[&SCHEMA_VERSION],
            )
            .await
            .map_err(fail)?;
    }
    transaction.commit().await.map_err(fail)
}

/// The advisory lock key of a chain (the writer's lifetime lock, a command's transaction lock).
const CHAIN_LOCK_SQL: &str = "hashtextextended('cardadmin-server audit chain ' || $1, 0)";

/// The latest record of `chain`, checked: (seq, hash), or (0, 64 zeros) for a new chain.
async fn chain_head(
    client: &impl tokio_postgres::GenericClient,
    chain: &str,
) -> Result<(u64, String), String> {
    let row = client
        .query_opt(
            "SELECT seq, hash, line FROM audit WHERE node_id = $1 ORDER BY seq DESC LIMIT 1",
            &[&chain],
        )
        .await
        .map_err(|err| {
            format!(
                "database: reading the audit chain {chain}: {}",
                db_error(&err)
            )
        })?;
    let Some(row) = row else {
        return Ok((0, audit::GENESIS.to_string()));
    };
    let seq: i64 = row.get(0);
    let hash: String = row.get(1);
    let line: String = row.get(2);
    if audit::hash_hex(line.as_bytes()) != hash {
        return Err(format!(
            "database: audit chain {chain}: record {seq}, the latest, was changed after it was written (its line's SHA-256 is not its hash); nothing continues a broken chain: keep the rows as evidence (`cardadmin-server verify-audit --config CONFIG` checks them)"
        ));
    }
    Ok((u64::try_from(seq).unwrap_or(0), hash))
}

/// Renders `records` after `head` in chain `chain`: the rows to insert, and the new head.
fn chain_rows(
    chain: &str,
    head: &(u64, String),
    records: &[Record<'_>],
) -> (Vec<i64>, Vec<String>, Vec<String>, Vec<String>) {
    let time = audit::now_rfc3339();
    let (mut seq, mut prev) = (head.0, head.1.clone());
    let mut rows = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for record in records {
        seq += 1;
        let line = audit::render_at(*record, &time, Some(Position { node: chain, seq }), &prev);
        let hash = audit::hash_hex(&line);
        rows.0.push(i64::try_from(seq).unwrap_or(i64::MAX));
        rows.1.push(std::mem::replace(&mut prev, hash.clone()));
        rows.2.push(hash);
        rows.3.push(String::from_utf8(line).unwrap_or_default());
    }
    rows
}

const INSERT_SQL: &str = "INSERT INTO audit (node_id, seq, prev, hash, line)
    SELECT $1, s, p, h, l FROM unnest($2::bigint[], $3::text[], $4::text[], $5::text[]) AS t(s, p, h, l)";

/// With the registry change in `transaction`: locks `chain` until the transaction ends,
/// appends the change's record to it, and returns the new head.
async fn append_in_transaction(
    transaction: &deadpool_postgres::Transaction<'_>,
    chain: &str,
    action: RegistryAction,
    request: &Request,
    uid: Option<u32>,
) -> Result<(u64, String), String> {
    let fail = |err: tokio_postgres::Error| format!("audit: {}", db_error(&err));
    transaction
        .execute(
            &format!("SELECT pg_advisory_xact_lock({CHAIN_LOCK_SQL})"),
            &[&chain],
        )
        .await
        .map_err(fail)?;
    let head = chain_head(&**transaction, chain).await?;
    let change = RegistryChange::of(action, request, uid);
    let rows = chain_rows(chain, &head, &[Record::Registry(&change)]);
    transaction
        .execute(INSERT_SQL, &[&chain, &rows.0, &rows.1, &rows.2, &rows.3])
        .await
        .map_err(fail)?;
    Ok((head.0 + 1, rows.2[0].clone()))
}

/// The latest (seq, hash) of every chain but `except`: what a checkpoint names. One index
/// probe per chain (a skip scan), however long the chains are.
async fn other_heads(
    client: &Client,
    except: &str,
) -> Result<BTreeMap<String, (u64, String)>, tokio_postgres::Error> {
    let rows = client
        .query(
            "WITH RECURSIVE chains(node_id) AS (
                (SELECT node_id FROM audit ORDER BY node_id LIMIT 1)
                UNION ALL
                SELECT (SELECT a.node_id FROM audit a WHERE a.node_id > c.node_id ORDER BY a.node_id LIMIT 1)
                FROM chains c WHERE c.node_id IS NOT NULL
            )
            SELECT c.node_id, h.seq, h.hash FROM chains c
            CROSS JOIN LATERAL (SELECT seq, hash FROM audit a WHERE a.node_id = c.node_id ORDER BY seq DESC LIMIT 1) h
            WHERE c.node_id IS NOT NULL AND c.node_id <> $1",
            &[&except],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|row| {
            let seq: i64 = row.get(1);
            (
                row.get::<_, String>(0),
                (u64::try_from(seq).unwrap_or(0), row.get::<_, String>(2)),
            )
        })
        .collect())
}

/// A request to the writer task.
enum Job {
    Record(Entry, oneshot::Sender<Result<(), ()>>),
    Shutdown(oneshot::Sender<()>),
}

/// The handle requests use: [`Trail::append`] returns once the record is committed.
#[derive(Clone)]
pub struct Trail {
    jobs: mpsc::UnboundedSender<Job>,
}

/// What [`Trail::open`] found and did.
pub struct OpenedTrail {
    /// The handle.
    pub trail: Trail,
    /// The chain's head after the start-up checkpoint.
    pub seq: u64,
    /// Its hash.
    pub head: String,
    /// Records of this node before start-up.
    pub before: u64,
}

/// The writer task's state.
struct Writer {
    database: Arc<Database>,
    node: String,
    every: u64,
    client: Option<Client>,
    /// [`INSERT_SQL`] prepared on `client` (every batch runs it).
    insert: Option<tokio_postgres::Statement>,
    /// The chain's head as committed; `None` when a write's outcome is unknown (the
    /// connection broke during it): read again before the next write.
    head: Option<(u64, String)>,
    since_checkpoint: u64,
    failing: bool,
    /// Another writer appended to this node's chain: nothing more is written.
    forked: Option<String>,
}

impl Trail {
    /// Takes node `node`'s chain (refused while another instance holds it), checks its latest
    /// record, writes the start-up checkpoint, and starts the writer task. A checkpoint (and
    /// an anchor on stderr) follows every `every` records.
    pub async fn open(
        database: Arc<Database>,
        node: &str,
        every: u64,
    ) -> Result<OpenedTrail, String> {
        let mut writer = Writer {
            database,
            node: node.to_string(),
            every,
            client: None,
            insert: None,
            head: None,
            since_checkpoint: 0,
            failing: false,
            forked: None,
        };
        writer.connect().await.map_err(|err| {
            format!(
                "database {}: audit chain {node}: {err}",
                writer.database.description()
            )
        })?;
        let before = writer.head.as_ref().map_or(0, |head| head.0);
        writer.write(&[], Some("start")).await.map_err(|err| {
            format!(
                "database {}: audit chain {node}: the start-up checkpoint: {err}",
                writer.database.description()
            )
        })?;
        let (seq, head) = writer.head.clone().unwrap_or_default();
        let (jobs, receiver) = mpsc::unbounded_channel();
        tokio::spawn(writer.run(receiver));
        Ok(OpenedTrail {
            trail: Trail { jobs },
            seq,
            head,
            before,
        })
    }

    /// Appends `entry` and waits until it is committed. `Err`: not committed; no key may be
    /// used (503).
    pub async fn append(&self, entry: Entry) -> Result<(), ()> {
        let (done, wait) = oneshot::channel();
        self.jobs.send(Job::Record(entry, done)).map_err(|_| ())?;
        wait.await.unwrap_or(Err(()))
    }

    /// Writes the shutdown checkpoint (and its anchor), after every record sent before.
    pub async fn shutdown(&self) {
        let (done, wait) = oneshot::channel();
        if self.jobs.send(Job::Shutdown(done)).is_ok() {
            let _ = wait.await;
        }
    }
}

impl Writer {
    /// A connection, this node's lock and the chain's head, if not at hand.
    async fn connect(&mut self) -> Result<(), String> {
        if self.client.as_ref().is_some_and(Client::is_closed) {
            self.client = None;
            self.head = None;
        }
        if self.client.is_none() {
            let client = tokio::time::timeout(TIMEOUT, self.database.connect_own())
                .await
                .map_err(|_| String::from("no connection within 5 s"))??;
            let locked: bool = client
                .query_one(
                    &format!("SELECT pg_try_advisory_lock({CHAIN_LOCK_SQL})"),
                    &[&self.node],
                )
                .await
                .map_err(|err| db_error(&err))?
                .get(0);
            if !locked {
                return Err(format!(
                    "node_id {:?} is in use: another cardadmin-server instance writes this node's audit chain (two instances with one node_id would fork it); give each instance its own \"node_id\"",
                    self.node
                ));
            }
            let insert = client
                .prepare(INSERT_SQL)
                .await
                .map_err(|err| db_error(&err))?;
            self.client = Some(client);
            self.insert = Some(insert);
            self.head = None;
        }
        if self.head.is_none() {
            let client = self.client.as_ref().ok_or("no connection")?;
            let head = tokio::time::timeout(TIMEOUT, chain_head(client, &self.node))
                .await
                .map_err(|_| String::from("no answer within 5 s"))??;
            self.head = Some(head);
        }
        Ok(())
    }

    /// Commits `records` (and a checkpoint after them when one is due, or `checkpoint` says
    /// so) in one statement.
    async fn write(
        &mut self,
        records: &[Record<'_>],
        checkpoint: Option<&'static str>,
    ) -> Result<(), String> {
        if let Some(forked) = &self.forked {
            return Err(forked.clone());
        }
        let head_before = self.head.clone();
        self.connect().await?;
        if let (Some(before), Some(now)) = (&head_before, &self.head) {
            if before != now {
                // Read again after a broken connection: only our own last write may have
                // moved it, and then to what we had written.
                eprintln!(
                    "audit chain {}: continues from record {} (the write whose outcome was unknown was committed)",
                    self.node, now.0
                );
            }
        }
        let due = self.every > 0 && self.since_checkpoint + records.len() as u64 >= self.every;
        let event = checkpoint.or(due.then_some("every"));
        let client = self.client.as_ref().ok_or("no connection")?;
        let point = match event {
            Some(event) => Some(Checkpoint {
                event,
                nodes: tokio::time::timeout(TIMEOUT, other_heads(client, &self.node))
                    .await
                    .map_err(|_| String::from("no answer within 5 s"))?
                    .map_err(|err| db_error(&err))?,
            }),
            None => None,
        };
        let mut all: Vec<Record<'_>> = records.to_vec();
        if let Some(point) = &point {
            all.push(Record::Checkpoint(point));
        }
        if all.is_empty() {
            return Ok(());
        }
        let head = self.head.clone().ok_or("no head")?;
        let rows = chain_rows(&self.node, &head, &all);
        let insert = self.insert.as_ref().ok_or("no connection")?;
        let inserted = tokio::time::timeout(
            TIMEOUT,
            client.execute(insert, &[&self.node, &rows.0, &rows.1, &rows.2, &rows.3]),
        )
        .await;
        match inserted {
            Ok(Ok(_)) => {}
            Ok(Err(err)) if err.code() == Some(&SqlState::UNIQUE_VIOLATION) => {
                let message = format!(
                    "audit chain {}: record {} exists already: another instance writes with node_id {:?} (two instances with one node_id); this instance writes no more records and uses no key: stop one of them, give each its own node_id, and restart",
                    self.node,
                    head.0 + 1,
                    self.node
                );
                eprintln!("error: {message}");
                self.forked = Some(message.clone());
                return Err(message);
            }
            Ok(Err(err)) => {
                // The commit may or may not have happened: read the head again next time.
                self.client = None;
                self.head = None;
                return Err(db_error(&err));
            }
            Err(_) => {
                self.client = None;
                self.head = None;
                return Err(String::from("no answer within 5 s"));
            }
        }
        let last = all.len() - 1;
        let new_head = (head.0 + all.len() as u64, rows.2[last].clone());
        if point.is_some() {
            self.since_checkpoint = 0;
            eprintln!(
                "audit anchor: database node {} seq {} head {}{}",
                self.node,
                new_head.0,
                new_head.1,
                match event {
                    Some("shutdown") => " (at shutdown)",
                    Some("start") => " (at start)",
                    _ => "",
                }
            );
        } else {
            self.since_checkpoint += records.len() as u64;
        }
        self.head = Some(new_head);
        Ok(())
    }

    /// Group commit: every record waiting when the task wakes goes in one statement.
    async fn run(mut self, mut jobs: mpsc::UnboundedReceiver<Job>) {
        while let Some(first) = jobs.recv().await {
            let mut records = Vec::new();
            let mut shutdowns = Vec::new();
            let mut next = Some(first);
            while let Some(job) = next {
                match job {
                    Job::Record(entry, done) => records.push((entry, done)),
                    Job::Shutdown(done) => shutdowns.push(done),
                }
                next = if records.len() < 4096 {
                    jobs.try_recv().ok()
                } else {
                    None
                };
            }
            if !records.is_empty() {
                let entries: Vec<Record<'_>> = records
                    .iter()
                    .map(|(entry, _)| Record::Request(entry))
                    .collect();
                let written = self.write(&entries, None).await;
                self.report(&written, entries.len());
                for (_, done) in records {
                    let _ = done.send(written.clone().map_err(|_| ()));
                }
            }
            for done in shutdowns {
                if let Err(err) = self.write(&[], Some("shutdown")).await {
                    eprintln!(
                        "error: audit chain {}: no checkpoint at shutdown: {err}",
                        self.node
                    );
                }
                let _ = done.send(());
            }
        }
    }

    fn report(&mut self, written: &Result<(), String>, count: usize) {
        match written {
            Err(err) if !self.failing => {
                eprintln!(
                    "error: database {}: audit chain {}: {err}; requests that need a record are answered 503 and use no key; every request tries again",
                    self.database.description(),
                    self.node
                );
                self.failing = true;
            }
            Ok(()) if self.failing => {
                let (seq, head) = self.head.clone().unwrap_or_default();
                eprintln!(
                    "database {}: audit chain {} written again: {count} records up to {seq}, head {head}",
                    self.database.description(),
                    self.node
                );
                self.failing = false;
            }
            _ => {}
        }
    }
}

/// What `verify-audit --config` checked.
#[derive(Debug, Default)]
pub struct Verified {
    /// Records checked, every chain.
    pub records: u64,
    /// Per chain: its last (seq, hash).
    pub chains: BTreeMap<String, (u64, String)>,
    /// Checkpoints read, and the (chain, seq) references they make, all checked.
    pub checkpoints: u64,
    /// References to other chains' records in those checkpoints.
    pub references: u64,
}

/// Where the trail broke: the chain (node), the record's seq, and why.
#[derive(Debug)]
pub struct Broken {
    /// The node whose chain is broken.
    pub node: String,
    /// The first record that does not verify (or that is missing).
    pub seq: u64,
    /// Why.
    pub reason: String,
}

impl std::fmt::Display for Broken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "node {} seq {}: {}", self.node, self.seq, self.reason)
    }
}

/// Checks every chain in the database: seq 1, 2, 3, … without gaps; each record's line names
/// its node, seq and prev as its columns do, has every field of its kind, and hashes to its
/// `hash`; each `prev` is the hash of the record before (64 zeros for seq 1); and every
/// checkpoint names records that are there with those hashes (a chain cut short, or a record
/// changed and its chain rehashed from there, fails here). Names the first break.
pub async fn verify(database: &Database) -> Result<Result<Verified, Broken>, String> {
    let client = database
        .pool
        .get()
        .await
        .map_err(|err| format!("database {}: {err}", database.description()))?;
    let rows = client
        .query(
            "SELECT node_id, seq, prev, hash, line FROM audit ORDER BY node_id, seq",
            &[],
        )
        .await
        .map_err(|err| format!("database {}: {}", database.description(), db_error(&err)))?;
    let mut verified = Verified::default();
    let mut hashes: HashMap<(String, u64), String> = HashMap::new();
    let mut references: Vec<(String, u64, String, u64, String)> = Vec::new();
    let mut current: Option<(String, u64, String)> = None;
    for row in &rows {
        let node: String = row.get(0);
        let seq = u64::try_from(row.get::<_, i64>(1)).unwrap_or(0);
        let prev: String = row.get(2);
        let hash: String = row.get(3);
        let line: String = row.get(4);
        let broken = |reason: String| Broken {
            node: node.clone(),
            seq,
            reason,
        };
        let (expected_seq, expected_prev) = match &current {
            Some((chain, last, head)) if *chain == node => (last + 1, head.clone()),
            _ => (1, audit::GENESIS.to_string()),
        };
        if seq != expected_seq {
            return Ok(Err(Broken {
                node: node.clone(),
                seq: expected_seq,
                reason: format!(
                    "missing: the chain goes from record {} to record {seq} (records were removed)",
                    expected_seq - 1
                ),
            }));
        }
        if audit::hash_hex(line.as_bytes()) != hash {
            return Ok(Err(broken(
                "changed after it was written: the SHA-256 of its line is not its hash".into(),
            )));
        }
        if prev != expected_prev {
            return Ok(Err(if seq == 1 {
                broken("its prev is not 64 zeros, as the first record's must be".into())
            } else {
                Broken {
                    node: node.clone(),
                    seq: seq - 1,
                    reason: format!(
                        "changed after it was written (and its hash with it): its hash is not the prev that record {seq} carries"
                    ),
                }
            }));
        }
        let value: serde_json::Value =
            serde_json::from_str(&line).unwrap_or(serde_json::Value::Null);
        let Some(object) = value.as_object() else {
            return Ok(Err(broken("its line is not a JSON object".into())));
        };
        if object.get("node").and_then(serde_json::Value::as_str) != Some(node.as_str())
            || object.get("seq").and_then(serde_json::Value::as_u64) != Some(seq)
            || object.get("prev").and_then(serde_json::Value::as_str) != Some(prev.as_str())
        {
            return Ok(Err(broken(
                "its line names another node, seq or prev than its row: it was moved".into(),
            )));
        }
        let fields: &[&str] = if object.contains_key("checkpoint") {
            &["time", "checkpoint", "nodes"]
        } else if object.contains_key("registry") {
            &audit::REGISTRY_FIELDS
        } else {
            &audit::REQUEST_FIELDS
        };
        if let Some(missing) = fields.iter().find(|field| !object.contains_key(**field)) {
            return Ok(Err(broken(format!("the field {missing:?} is missing"))));
        }
        if let Some(nodes) = object.get("nodes") {
            verified.checkpoints += 1;
            let Some(nodes) = nodes.as_object() else {
                return Ok(Err(broken(
                    "a checkpoint whose nodes are not an object".into(),
                )));
            };
            for (other, head) in nodes {
                let (Some(other_seq), Some(other_hash)) = (
                    head.get("seq").and_then(serde_json::Value::as_u64),
                    head.get("hash").and_then(serde_json::Value::as_str),
                ) else {
                    return Ok(Err(broken(format!(
                        "a checkpoint without a seq and hash for node {other}"
                    ))));
                };
                references.push((
                    other.clone(),
                    other_seq,
                    other_hash.to_string(),
                    seq,
                    node.clone(),
                ));
            }
        }
        hashes.insert((node.clone(), seq), hash.clone());
        verified.records += 1;
        verified.chains.insert(node.clone(), (seq, hash.clone()));
        current = Some((node, seq, hash));
    }
    for (other, seq, hash, at, by) in &references {
        if *seq == 0 {
            continue;
        }
        match hashes.get(&(other.clone(), *seq)) {
            Some(found) if found == hash => verified.references += 1,
            Some(_) => {
                return Ok(Err(Broken {
                    node: other.clone(),
                    seq: *seq,
                    reason: format!(
                        "not the record node {by}'s checkpoint (its record {at}) saw: its hash differs (the chain was rewritten from here)"
                    ),
                }))
            }
            None => {
                let last = verified.chains.get(other).map_or(0, |head| head.0);
                return Ok(Err(Broken {
                    node: other.clone(),
                    seq: *seq,
                    reason: format!(
                        "missing: node {by}'s checkpoint (its record {at}) saw this record, but the chain ends at record {last} (its tail was removed)"
                    ),
                }));
            }
        }
    }
    Ok(Ok(verified))
}

/// A runtime for the database's asynchronous client, for one command.
pub fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|err| format!("cannot start the database client: {err}"))
}
