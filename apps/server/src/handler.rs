//! Every request, from the connection to the reply: who is asking (TLS), may they (the
//! registry, the rate limit), what is on record (the audit trail), and only then the key
//! (`cm::answer`).
//!
//! Connections ([`serve`]): at most `"max_connections"` at once (default
//! [`DEFAULT_MAX_CONNECTIONS`]); past it the server stops accepting, so further connections
//! wait in the kernel's listen queue (and time out there if none closes) rather than being
//! refused. A TLS handshake must end within 10 s, and a request's headers within
//! `"header_read_timeout_seconds"` (default [`DEFAULT_HEADER_READ_TIMEOUT`] s) of the moment the
//! server waits for them, an idle keep-alive connection included: then the connection is
//! closed, so neither a slow client nor an idle one holds a connection slot for long.
//!
//! Blocking work stays off the async workers: SQLite (the registry) and the key (a PKCS#11
//! token may take its time) run under `tokio::task::block_in_place`, the audit trail and the
//! request log each have a thread of their own. A stuck stdout makes requests wait for room
//! in the log's queue; it does not stop handshakes or other work.
//!
//! The order, for a GET:
//!
//! 0. Over plain HTTP (loopback only), the `Host` must be a loopback name: `localhost`,
//!    `127.0.0.1` or `[::1]`, with or without a port, in any case. Another name is a 421 and
//!    no `Host` a 400, recorded: a web page that points a name of its own at 127.0.0.1 (DNS
//!    rebinding) gets nothing from a browser on this machine. Over TLS the client certificate
//!    decides, and no browser page can present one it was not given.
//! 1. `cm::parse_request` reads the target without using a key; a malformed request is
//!    answered (400, 404, 414) and recorded.
//! 2. With a registry: the request must exist and belong to the caller (someone else's request
//!    is refused with the words an unknown one gets), be open, and name the registered smart
//!    card and card ([`crate::registry::Registry::authorize`]); otherwise 403 naming the rule,
//!    recorded.
//! 3. `ParsedRequest::audit` says which key will answer. If one will and the caller is over
//!    `rate_limit_per_minute`: 429, recorded.
//! 4. If a key will answer, its record (key role, check value, status) is written and flushed
//!    to the audit trail; if that fails: 503, and no key is used. Then, in one registry
//!    transaction, the request is checked again (it may have been closed while its line was
//!    being written: then 403, recorded, and no key is used) and `cm::answer` uses the key
//!    ([`crate::registry::Registry::while_authorized`]). (Should the answer differ from the
//!    record, a key store that failed, a second line records what was answered.)
//! 5. If no key answers (a proposed PIN, a 204, a challenge no key can take), `cm::answer`
//!    answers first and the line records what was answered; if it cannot be written, 503.
//!
//! `HEAD` never uses a key: on `authenticationresponse` and `diversifiedkey` it is a 405
//! (`Allow: GET`) once the target parses, recorded; elsewhere (`serverproposedpin`, a target
//! that does not parse) it gets the headers a GET would, `Content-Length` included, and no
//! body. Other methods are 405 (MIM CM's endpoints answer GET), recorded too.
//!
//! One line per request goes to stdout: an RFC 3339 UTC time, the method, the path without
//! the query, the status, the time taken, the operator in brackets, and the message of an
//! error. Start-up, warnings and errors go to stderr.
//!
//! Every refusal (a 4xx answer that used no key) goes through the caller's refusal limit
//! ([`crate::ratelimit::RefusalLimit`]): past it, 429, recorded once per run, then counted (a
//! summary line) and left out of the trail and of the stdout log.

use std::io::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::Response;
use axum::Extension;
use cardadmin::rng::OsRng;
use cardadmin_mimcm::{self as cm, RequestError};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot, watch, Semaphore};
use tokio_rustls::TlsAcceptor;
use zeroize::Zeroizing;

use crate::audit::Entry;
use crate::ratelimit::Refusal;
use crate::store::{Audit, Denied, KeyUseLimit, RefusalLimit, Registry};

/// Who is asking: the client certificate's common name; `None` over plain HTTP.
#[derive(Clone, Debug)]
pub struct Operator(pub Option<String>);

/// What decides who may ask, and what is recorded: each part is optional (the development
/// configuration has none).
pub struct Security {
    /// Plain HTTP on loopback: only loopback `Host` names are answered.
    pub loopback_hosts_only: bool,
    /// The request log (stdout).
    pub log: RequestLog,
    /// The request registry (`"registry"`, or `"database"`).
    pub registry: Option<Registry>,
    /// The audit trail (`"audit_log"`, or `"database"`).
    pub audit: Option<Audit>,
    /// Key uses per operator per minute (`"rate_limit_per_minute"`).
    pub rate_limit: Option<KeyUseLimit>,
    /// Recorded refusals per operator per minute (`"refusals_per_minute"`).
    pub refusals: Option<RefusalLimit>,
}

/// The server state the handler needs: the keys (as a `cm::Profile`) and the security parts.
pub trait Answerer: Send + Sync + 'static {
    /// Where the diversification master key is (in memory, a key store).
    type Master: cardadmin::master::CmacSigner + Sync + ?Sized;
    /// The profile requests are answered with.
    fn profile(&self) -> cm::Profile<'_, Self::Master>;
    /// Registry, audit trail, rate limit.
    fn security(&self) -> &Security;
}

/// The message of a 503 when the audit trail could not be written.
const AUDIT_FAILED: &str =
    "audit: the audit trail could not be written, so no key was used; try again later (the server's log says why)";

/// The 503 for a line that could not be written.
fn audit_failed() -> Outcome {
    Outcome::json_error(503, AUDIT_FAILED.into())
}

/// The request log: one line per request on stdout, written by a thread of its own so that a
/// slow or stuck stdout never holds an async worker.
#[derive(Clone)]
pub struct RequestLog {
    jobs: mpsc::Sender<LogJob>,
}

enum LogJob {
    Line(String),
    Flush(oneshot::Sender<()>),
}

impl RequestLog {
    /// Starts the writer thread.
    pub fn stdout() -> Result<Self, String> {
        // Room for bursts; past it requests wait (asynchronously) for the writer.
        let (jobs, mut receiver) = mpsc::channel::<LogJob>(1024);
        std::thread::Builder::new()
            .name("request-log".into())
            .spawn(move || {
                let stdout = std::io::stdout();
                while let Some(job) = receiver.blocking_recv() {
                    match job {
                        LogJob::Line(line) => {
                            let _ = stdout.lock().write_all(line.as_bytes());
                        }
                        LogJob::Flush(done) => {
                            let _ = stdout.lock().flush();
                            let _ = done.send(());
                        }
                    }
                }
            })
            .map_err(|err| format!("request log: cannot start the writer thread: {err}"))?;
        Ok(Self { jobs })
    }

    async fn write(&self, line: String) {
        let _ = self.jobs.send(LogJob::Line(line)).await;
    }

    /// Returns once every line sent before is written.
    pub async fn flush(&self) {
        let (done, wait) = oneshot::channel();
        if self.jobs.send(LogJob::Flush(done)).await.is_ok() {
            let _ = wait.await;
        }
    }
}

/// Runs `work` (SQLite, a key store) without holding an async worker: the worker's other tasks
/// move to another thread while it blocks.
fn blocking<T>(work: impl FnOnce() -> T) -> T {
    tokio::task::block_in_place(work)
}

/// The loopback names plain HTTP answers (compared without regard to case).
const LOOPBACK_HOSTS: [&str; 3] = ["localhost", "127.0.0.1", "[::1]"];

/// `Ok` when the request names a loopback host: the authority of an absolute-form target if
/// there is one, and the one `Host` header, each `localhost`, `127.0.0.1` or `[::1]` with an
/// optional port. The refusal never repeats the name it got.
fn check_host(uri: &Uri, headers: &HeaderMap) -> Result<(), Outcome> {
    fn loopback(authority: &str) -> bool {
        let (host, port) = match authority.rfind(':') {
            // `[::1]` alone has colons inside the brackets only.
            Some(colon) if !authority[colon..].contains(']') => {
                (&authority[..colon], Some(&authority[colon + 1..]))
            }
            _ => (authority, None),
        };
        let port_ok = port.is_none_or(|port| {
            !port.is_empty() && port.len() <= 5 && port.bytes().all(|b| b.is_ascii_digit())
        });
        port_ok
            && LOOPBACK_HOSTS
                .iter()
                .any(|name| host.eq_ignore_ascii_case(name))
    }
    const MISDIRECTED: &str = "host: this server speaks plain HTTP on loopback and answers only requests for localhost, 127.0.0.1 or [::1] (with or without a port); use one of those names (a page that points a name of its own at this machine, DNS rebinding, is refused so)";
    let mut hosts = headers.get_all(header::HOST).iter();
    let (Some(host), None) = (hosts.next(), hosts.next()) else {
        return Err(Outcome::json_error(
            400,
            "host: send exactly one Host header (localhost, 127.0.0.1 or [::1], with or without a port)".into(),
        ));
    };
    let host_ok = host.to_str().is_ok_and(loopback);
    let target_ok = uri
        .authority()
        .is_none_or(|authority| loopback(authority.as_str()));
    if host_ok && target_ok {
        Ok(())
    } else {
        Err(Outcome::json_error(421, MISDIRECTED.into()))
    }
}

/// The message of a 503 when the database (`"database"`) did not answer.
const DATABASE_FAILED: &str =
    "database: the database did not answer, so no key was used; try again later (the server's log says why)";

/// The 503 for a database that did not answer: nothing can be checked or recorded, so
/// nothing is (the server's stderr says why, once per outage).
fn database_failed() -> Outcome {
    Outcome::json_error(503, DATABASE_FAILED.into())
}

/// A reply before it becomes an HTTP response.
struct Outcome {
    status: u16,
    content_type: Option<&'static str>,
    body: Zeroizing<String>,
    /// For the stdout log and the audit line: what the caller was told, for an error.
    message: Option<String>,
    /// A refusal past the caller's refusal limit: neither the trail nor stdout has a line.
    unlogged: bool,
}

impl Outcome {
    fn from_reply(reply: cm::Reply) -> Self {
        let message = reply.error().map(|error| error.to_string());
        Self {
            status: reply.status(),
            content_type: reply.content_type(),
            body: reply.into_body(),
            message,
            unlogged: false,
        }
    }

    fn json_error(status: u16, message: String) -> Self {
        let body = serde_json::json!({ "Message": message }).to_string();
        Self {
            status,
            content_type: Some(cm::CONTENT_TYPE),
            body: Zeroizing::new(body),
            message: Some(message),
            unlogged: false,
        }
    }
}

/// Writes one audit line, if there is an audit trail: `Err` when it could not be written.
async fn record(
    security: &Security,
    operator: &Option<String>,
    record: Option<cm::AuditRecord>,
    status: u16,
    message: Option<&str>,
) -> Result<(), ()> {
    let Some(audit) = &security.audit else {
        return Ok(());
    };
    audit
        .append(Entry {
            operator: operator.clone(),
            record,
            status,
            message: message.map(str::to_string),
        })
        .await
}

/// Records a refusal and answers it: see [`refusal`].
async fn refuse(
    security: &Security,
    operator: &Option<String>,
    parsed: Option<&cm::ParsedRequest>,
    error: RequestError,
) -> Outcome {
    let outcome = Outcome::from_reply(cm::Reply::from_error(error));
    refusal(
        security,
        operator,
        Some(cm::AuditRecord::refused(parsed, error)),
        outcome,
    )
    .await
}

/// A refusal (a 4xx answer, no key used), through the caller's refusal limit: recorded and
/// answered under it; past it, answered 429 instead, and recorded only the first time of a
/// run (the rest are counted, and the count is recorded with the next recorded refusal). 503
/// when a line cannot be written.
async fn refusal(
    security: &Security,
    operator: &Option<String>,
    entry: Option<cm::AuditRecord>,
    outcome: Outcome,
) -> Outcome {
    let verdict = match &security.refusals {
        Some(limit) => limit.check(operator.as_deref().unwrap_or("")).await,
        None => Refusal::Record { unrecorded: 0 },
    };
    let throttled = |per_minute: u32| {
        Outcome::json_error(
            429,
            format!(
                "rate limited: more than {per_minute} refused requests in a minute by this caller; try again later"
            ),
        )
    };
    let per_minute = security
        .refusals
        .as_ref()
        .map_or(0, RefusalLimit::per_minute);
    match verdict {
        Refusal::Record { unrecorded } => {
            if unrecorded > 0
                && record_unrecorded(security, operator, unrecorded)
                    .await
                    .is_err()
            {
                return audit_failed();
            }
            match record(
                security,
                operator,
                entry,
                outcome.status,
                outcome.message.as_deref(),
            )
            .await
            {
                Ok(()) => outcome,
                Err(()) => audit_failed(),
            }
        }
        Refusal::ThrottleAndRecord => {
            let limited = throttled(per_minute);
            match record(security, operator, entry, 429, limited.message.as_deref()).await {
                Ok(()) => limited,
                Err(()) => audit_failed(),
            }
        }
        Refusal::Throttle => Outcome {
            unlogged: true,
            ..throttled(per_minute)
        },
    }
}

/// The summary line for `count` refusals of `operator` answered 429 without a line each.
async fn record_unrecorded(
    security: &Security,
    operator: &Option<String>,
    count: u64,
) -> Result<(), ()> {
    let message = format!(
        "rate limited: {count} more refused requests by this caller were answered 429 and not recorded one by one"
    );
    record(security, operator, None, 429, Some(&message)).await
}

/// Records the refusal counts not recorded yet: for the server's shutdown.
pub async fn record_all_unrecorded(security: &Security) {
    let Some(limit) = &security.refusals else {
        return;
    };
    for (operator, count) in limit.take_unrecorded().await {
        let operator = (!operator.is_empty()).then_some(operator);
        if record_unrecorded(security, &operator, count).await.is_err() {
            eprintln!("error: audit log: {count} refusals not recorded one by one could not be counted in it");
        }
    }
}

/// Records an answer given before the core saw the request (`Host`, method) and returns it
/// (500 instead when the record cannot be written).
async fn refuse_early(security: &Security, operator: &Option<String>, outcome: Outcome) -> Outcome {
    match record(
        security,
        operator,
        None,
        outcome.status,
        outcome.message.as_deref(),
    )
    .await
    {
        Ok(()) => outcome,
        Err(()) => Outcome::json_error(500, AUDIT_FAILED.into()),
    }
}

async fn decide<S: Answerer>(
    server: &Arc<S>,
    operator: &Option<String>,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
) -> Outcome {
    let security = server.security();
    if security.loopback_hosts_only {
        if let Err(outcome) = check_host(uri, headers) {
            return refuse_early(security, operator, outcome).await;
        }
    }
    if method != Method::GET && method != Method::HEAD {
        let message = format!("method {method} is not allowed: the MIM CM endpoints answer GET");
        let outcome = Outcome::json_error(405, message);
        return refusal(security, operator, None, outcome).await;
    }
    let target = uri.path_and_query().map_or("/", |target| target.as_str());
    let parsed = match cm::parse_request(target) {
        Ok(parsed) => parsed,
        Err(error) => return refuse(security, operator, None, error).await,
    };
    if method == Method::HEAD
        && matches!(
            parsed.endpoint(),
            cm::Endpoint::AuthenticationResponse | cm::Endpoint::DiversifiedKey
        )
    {
        // A HEAD answer would have to compute the body to give its length: with a key.
        let message = format!(
            "method HEAD is not allowed on {}: its answer comes from a key, which HEAD does not use; send GET",
            parsed.endpoint().as_str()
        );
        return refuse_early(security, operator, Outcome::json_error(405, message)).await;
    }
    if let Some(registry) = &security.registry {
        match registry
            .authorize(
                operator.as_deref(),
                parsed.request_id(),
                parsed.smart_card_id(),
                parsed.card_id(),
            )
            .await
        {
            Ok(()) => {}
            Err(Denied::Rule(rule)) => {
                return refuse(
                    security,
                    operator,
                    Some(&parsed),
                    RequestError::Forbidden { rule },
                )
                .await;
            }
            Err(Denied::Unavailable) => return database_failed(),
        }
    }
    let profile = server.profile();
    let intent = parsed.audit(&profile);
    if let (Some(limit), Some(_)) = (&security.rate_limit, intent.key_role()) {
        match limit.allow(operator.as_deref().unwrap_or("")).await {
            Ok(true) => {}
            Ok(false) => {
                let error = RequestError::RateLimited {
                    per_minute: limit.per_minute(),
                };
                return refuse(security, operator, Some(&parsed), error).await;
            }
            Err(()) => return database_failed(),
        }
    }
    if intent.key_role().is_none() {
        // No key answers this (a PIN, a 204, a challenge no key can take): answer, then
        // record what was answered.
        let (reply, done) = blocking(|| cm::answer(&parsed, &profile, &mut OsRng));
        let outcome = Outcome::from_reply(reply);
        if (400..500).contains(&outcome.status) {
            return refusal(security, operator, Some(done), outcome).await;
        }
        return match record(
            security,
            operator,
            Some(done),
            done.status(),
            outcome.message.as_deref(),
        )
        .await
        {
            Ok(()) => outcome,
            Err(()) => audit_failed(),
        };
    }
    // A key will answer: the record of it is on disk before the key is used.
    if record(security, operator, Some(intent), intent.status(), None)
        .await
        .is_err()
    {
        return audit_failed();
    }
    // Owned, so that the SQLite registry's check and the key use can run on a blocking
    // thread together.
    let use_key = {
        let (server, parsed) = (Arc::clone(server), parsed.clone());
        move || cm::answer(&parsed, &server.profile(), &mut OsRng)
    };
    let used = match &security.registry {
        // The request may have been closed while its line was written: checked again, and
        // the key used, before any close can commit.
        Some(registry) => {
            registry
                .while_authorized(
                    operator.as_deref(),
                    parsed.request_id(),
                    parsed.smart_card_id(),
                    parsed.card_id(),
                    use_key,
                )
                .await
        }
        // The key store may block: off the async workers.
        None => Ok(blocking(use_key)),
    };
    let (reply, done) = match used {
        Ok(answered) => answered,
        Err(Denied::Unavailable) => {
            // No key was used; the record of the intent is committed, and one more saying
            // what was answered is tried (the database may be back).
            let outcome = database_failed();
            let _ = record(
                security,
                operator,
                Some(intent),
                503,
                outcome.message.as_deref(),
            )
            .await;
            return outcome;
        }
        Err(Denied::Rule(rule)) => {
            // No key was used: a second line says what was answered instead.
            let error = RequestError::Forbidden { rule };
            let outcome = Outcome::from_reply(cm::Reply::from_error(error));
            return match record(
                security,
                operator,
                Some(cm::AuditRecord::refused(Some(&parsed), error)),
                outcome.status,
                outcome.message.as_deref(),
            )
            .await
            {
                Ok(()) => outcome,
                Err(()) => audit_failed(),
            };
        }
    };
    let outcome = Outcome::from_reply(reply);
    if done != intent {
        // The answer is not the one recorded (a key store that failed): record what was.
        if record(
            security,
            operator,
            Some(done),
            done.status(),
            outcome.message.as_deref(),
        )
        .await
        .is_err()
        {
            return audit_failed();
        }
    }
    outcome
}

/// The handler for every route.
pub async fn handle<S: Answerer>(
    State(server): State<Arc<S>>,
    operator: Option<Extension<Operator>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let started = Instant::now();
    let operator = operator.and_then(|Extension(Operator(name))| name);
    let outcome = decide(&server, &operator, &method, &uri, &headers).await;

    // One line per request on stdout; the query (card ID, challenge) and the body (a key, a
    // PIN) are left out.
    let elapsed = started.elapsed();
    let time = crate::audit::now_rfc3339();
    let who = operator
        .as_deref()
        .map(|name| format!(" [{}]", name.escape_debug()))
        .unwrap_or_default();
    let line = match &outcome.message {
        Some(message) => format!(
            "{time} {method} {} {} {}us{who} {message}\n",
            uri.path(),
            outcome.status,
            elapsed.as_micros()
        ),
        None => format!(
            "{time} {method} {} {} {}us{who}\n",
            uri.path(),
            outcome.status,
            elapsed.as_micros()
        ),
    };
    if !outcome.unlogged {
        server.security().log.write(line).await;
    }

    // A HEAD answer carries the headers the GET would, Content-Length included (RFC 9110
    // 9.3.2 and 8.6), and no body: the body is computed as for GET (a proposed PIN is drawn and
    // dropped; no key is used, `decide` answers 405 before), only its length is sent.
    let content_length = outcome.body.len();
    let mut response = Response::new(if method == Method::HEAD {
        Body::empty()
    } else {
        // The body leaves zeroizing storage here: axum needs an owned buffer. It is as short
        // lived as the response.
        Body::from(outcome.body.as_bytes().to_vec())
    });
    *response.status_mut() =
        StatusCode::from_u16(outcome.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let headers = response.headers_mut();
    if let Some(content_type) = outcome.content_type {
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    }
    // Never on a 204, which has no content (RFC 9110 8.6).
    if outcome.status != 204 {
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from(content_length));
    }
    // Bodies can be keys and PINs: no cache may keep them.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    match outcome.status {
        // HEAD meets a 405 only where a key would answer: there GET alone is allowed.
        405 if method == Method::HEAD => {
            headers.insert(header::ALLOW, HeaderValue::from_static("GET"));
        }
        405 => {
            headers.insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
        }
        429 => {
            headers.insert(header::RETRY_AFTER, HeaderValue::from_static("60"));
        }
        503 => {
            headers.insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
        }
        _ => {}
    }
    response
}

/// The default of `"max_connections"`: connections served at once.
pub const DEFAULT_MAX_CONNECTIONS: usize = 256;

/// The default of `"header_read_timeout_seconds"`.
pub const DEFAULT_HEADER_READ_TIMEOUT: u64 = 10;

/// How long a TLS handshake may take.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// How long connections in progress get to finish once shutdown begins.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// The limits of [`serve`].
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Connections served at once.
    pub max_connections: usize,
    /// How long a client has to send a request's headers.
    pub header_read_timeout: Duration,
}

/// Accepts connections until `shutdown` completes, at most `limits.max_connections` at once
/// (the accept loop waits for a free slot). With `acceptor`, each handshake must present a
/// client certificate of the configured CA (rustls refuses the others), and the connection's
/// requests carry its common name as their [`Operator`]; without, plain HTTP. At shutdown the
/// connections finish the request in progress (for at most [`SHUTDOWN_GRACE`]) and close.
pub async fn serve(
    listener: TcpListener,
    acceptor: Option<TlsAcceptor>,
    app: axum::Router,
    limits: Limits,
    shutdown: impl std::future::Future<Output = ()>,
) {
    tokio::pin!(shutdown);
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let (closing, closed) = watch::channel(false);
    loop {
        let slot = tokio::select! {
            slot = Arc::clone(&slots).acquire_owned() => slot,
            () = &mut shutdown => break,
        };
        let Ok(slot) = slot else { break };
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut shutdown => break,
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(err) => {
                // Out of file descriptors and the like: wait a little rather than spin.
                eprintln!("error: accept: {err}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let acceptor = acceptor.clone();
        let app = app.clone();
        let closed = closed.clone();
        tokio::spawn(async move {
            let _slot = slot;
            let Some(acceptor) = acceptor else {
                serve_http(stream, None, app, limits, closed).await;
                return;
            };
            let tls = match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                Ok(Ok(tls)) => tls,
                Ok(Err(err)) => {
                    eprintln!("tls: handshake with {peer} refused: {err}");
                    return;
                }
                Err(_) => {
                    eprintln!(
                        "tls: handshake with {peer} took over {} s; closed",
                        HANDSHAKE_TIMEOUT.as_secs()
                    );
                    return;
                }
            };
            let certificate = tls
                .get_ref()
                .1
                .peer_certificates()
                .and_then(|certificates| certificates.first());
            let operator = match certificate.map(|der| crate::tls::operator_of(der)) {
                Some(Ok(operator)) => operator,
                Some(Err(err)) => {
                    eprintln!("tls: connection from {peer} closed: {err}");
                    return;
                }
                None => {
                    eprintln!("tls: connection from {peer} closed: no client certificate");
                    return;
                }
            };
            serve_http(tls, Some(operator), app, limits, closed).await;
        });
    }
    drop(listener);
    let _ = closing.send(true);
    let everyone = u32::try_from(limits.max_connections).unwrap_or(u32::MAX);
    let _ = tokio::time::timeout(SHUTDOWN_GRACE, slots.acquire_many(everyone)).await;
}

/// HTTP/1.1 on one connection, with the header read timeout; closes gracefully when `closed`
/// turns true.
async fn serve_http<I>(
    io: I,
    operator: Option<String>,
    app: axum::Router,
    limits: Limits,
    mut closed: watch::Receiver<bool>,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service =
        hyper::service::service_fn(move |mut request: hyper::Request<hyper::body::Incoming>| {
            request.extensions_mut().insert(Operator(operator.clone()));
            let mut app = app.clone();
            tower_service::Service::call(&mut app, request)
        });
    let connection = hyper::server::conn::http1::Builder::new()
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .serve_connection(TokioIo::new(io), service);
    tokio::pin!(connection);
    tokio::select! {
        _ = connection.as_mut() => {}
        // The guard `wait_for` returns is not `Send`: drop it inside.
        () = async { drop(closed.wait_for(|closing| *closing).await) } => {
            connection.as_mut().graceful_shutdown();
            let _ = connection.await;
        }
    }
}
