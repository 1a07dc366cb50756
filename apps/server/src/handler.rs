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
//!    to the audit trail; if that fails: 503, and no key is used. Then `cm::answer` uses the
//!    key while no close can commit ([`crate::store::Registry::while_authorized`]): the SQLite
//!    registry checks the request again in the transaction that uses the key (it may have been
//!    closed while its line was being written: then 403, recorded, and no key is used); the
//!    database's check of step 2 has held its row locks since ([`crate::pg::Held`]). (Should
//!    the answer differ from the record, a key store that failed, a second line records what
//!    was answered.)
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

use crate::audit::{Entry, LifecycleRecord};
use crate::lifecycle::{self, Route};
use crate::ratelimit::Refusal;
use crate::registry::{self, Ask, KeyAsk, LifecycleError, Op, Status, Who};
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
    /// The profile a request is answered with: `None` the current master's (or the one
    /// without a master), `Some(version)` that master version's, if configured.
    fn profile(&self, version: Option<u8>) -> Option<cm::Profile<'_, Self::Master>>;
    /// The current master version (`None` without a master).
    fn current_version(&self) -> Option<u8>;
    /// The profile's configuration, for the lifecycle routes.
    fn lifecycle(&self) -> &lifecycle::Profile;
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
    /// A 405's `Allow`, for the lifecycle routes.
    allow: Option<&'static str>,
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
            allow: None,
        }
    }

    /// A success with a JSON body (`body` already JSON).
    fn json(status: u16, body: Zeroizing<String>) -> Self {
        Self {
            status,
            content_type: Some(cm::CONTENT_TYPE),
            body,
            message: None,
            unlogged: false,
            allow: None,
        }
    }

    /// A 204: no body, no content type.
    fn no_content() -> Self {
        Self {
            status: 204,
            content_type: None,
            body: Zeroizing::new(String::new()),
            message: None,
            unlogged: false,
            allow: None,
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
            allow: None,
        }
    }
}

/// What an audit line says besides the caller, status and message: the core's record of a key
/// route, or a lifecycle route's, and the master version of a card key.
#[derive(Clone, Debug, Default)]
struct Detail {
    record: Option<cm::AuditRecord>,
    lifecycle: Option<LifecycleRecord>,
    key_version: Option<u8>,
}

impl From<Option<cm::AuditRecord>> for Detail {
    fn from(record: Option<cm::AuditRecord>) -> Self {
        Self {
            record,
            ..Self::default()
        }
    }
}

impl From<LifecycleRecord> for Detail {
    fn from(lifecycle: LifecycleRecord) -> Self {
        Self {
            lifecycle: Some(lifecycle),
            ..Self::default()
        }
    }
}

/// Writes one audit line, if there is an audit trail: `Err` when it could not be written.
async fn record(
    security: &Security,
    operator: &Option<String>,
    detail: impl Into<Detail>,
    status: u16,
    message: Option<&str>,
) -> Result<(), ()> {
    let Some(audit) = &security.audit else {
        return Ok(());
    };
    let detail = detail.into();
    audit
        .append(Entry {
            operator: operator.clone(),
            record: detail.record,
            status,
            message: message.map(str::to_string),
            lifecycle: detail.lifecycle.map(Box::new),
            key_version: detail.key_version,
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
    entry: impl Into<Detail>,
    outcome: Outcome,
) -> Outcome {
    let entry: Detail = entry.into();
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
    record(security, operator, Detail::default(), 429, Some(&message)).await
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
        Detail::default(),
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
    body: Body,
) -> Outcome {
    let security = server.security();
    if security.loopback_hosts_only {
        if let Err(outcome) = check_host(uri, headers) {
            return refuse_early(security, operator, outcome).await;
        }
    }
    if uri.path().len() <= cm::MAX_TARGET_LEN {
        match lifecycle::route(uri.path()) {
            Some(Ok(route)) => {
                return lifecycle_route(server, operator, method, headers, body, route).await
            }
            Some(Err(message)) => {
                let outcome = Outcome::json_error(400, message);
                return refusal(security, operator, Detail::default(), outcome).await;
            }
            None => {}
        }
    }
    if method != Method::GET && method != Method::HEAD {
        let message = format!("method {method} is not allowed: the MIM CM endpoints answer GET");
        let outcome = Outcome::json_error(405, message);
        return refusal(security, operator, Detail::default(), outcome).await;
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
    let ask = Ask {
        operator: operator.as_deref(),
        reqid: parsed.request_id(),
        scid: parsed.smart_card_id(),
        cardid: parsed.card_id(),
        key: match parsed.endpoint() {
            cm::Endpoint::AuthenticationResponse if parsed.diversified() == Some(true) => {
                KeyAsk::CardAnswer
            }
            cm::Endpoint::AuthenticationResponse => KeyAsk::Initial,
            cm::Endpoint::DiversifiedKey => KeyAsk::CardDerive,
            _ => KeyAsk::None,
        },
        current: server.current_version(),
    };
    // Without a registry there are no records per card: every card key is the current
    // master's (previous masters are refused at start-up without one).
    let mut version = registry::version_for(None, ask.key, ask.current);
    // The registry with its check, so that the key use below asks the registry that checked.
    let mut checked = None;
    if let Some(registry) = &security.registry {
        match registry.authorize(&ask).await {
            Ok(check) => {
                version = check.version();
                checked = Some((registry, check));
            }
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
    // On every path that uses no key, the check (and the database's row locks) is let go
    // before anything else is awaited.
    let Some(profile) = server.profile(version) else {
        drop(checked);
        let error = RequestError::Forbidden {
            rule: registry::UNKNOWN_VERSION,
        };
        return refuse(security, operator, Some(&parsed), error).await;
    };
    let intent = parsed.audit(&profile);
    let key_version = version.filter(|_| intent.key_role() == Some(cm::KeyRole::CardKey));
    if let (Some(limit), Some(_)) = (&security.rate_limit, intent.key_role()) {
        match limit.allow(operator.as_deref().unwrap_or("")).await {
            Ok(true) => {}
            Ok(false) => {
                drop(checked);
                let error = RequestError::RateLimited {
                    per_minute: limit.per_minute(),
                };
                return refuse(security, operator, Some(&parsed), error).await;
            }
            Err(()) => return database_failed(),
        }
    }
    if intent.key_role().is_none() {
        drop(checked);
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
    let keyed = Detail {
        record: Some(intent),
        lifecycle: None,
        key_version,
    };
    if record(security, operator, keyed, intent.status(), None)
        .await
        .is_err()
    {
        return audit_failed();
    }
    // Owned, so that the SQLite registry's check and the key use can run on a blocking
    // thread together. The profile is there: it was found above, and profiles do not change.
    let use_key = {
        let (server, parsed) = (Arc::clone(server), parsed.clone());
        move || {
            server
                .profile(version)
                .map(|profile| cm::answer(&parsed, &profile, &mut OsRng))
        }
    };
    let used = match checked {
        // The request may have been closed (or the card's version changed) while its line was
        // written: the key is used only while the check holds (checked again for SQLite,
        // held since step 2 for the database), before any close can commit.
        Some((registry, checked)) => registry.while_authorized(&ask, checked, use_key).await,
        // The key store may block: off the async workers.
        None => Ok(blocking(use_key)),
    };
    let used = match used {
        Ok(None) => Err(Denied::Rule(registry::UNKNOWN_VERSION)),
        Ok(Some(answered)) => Ok(answered),
        Err(denied) => Err(denied),
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
                Detail {
                    record: Some(intent),
                    lifecycle: None,
                    key_version,
                },
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
            Detail {
                record: Some(done),
                lifecycle: None,
                key_version,
            },
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

/// The answer to a lifecycle operation that failed: 403 naming the rule, 409, or 503.
fn lifecycle_error(error: &LifecycleError) -> Outcome {
    match error {
        LifecycleError::Forbidden(rule) => {
            Outcome::from_reply(cm::Reply::from_error(RequestError::Forbidden { rule }))
        }
        LifecycleError::Conflict(message) => Outcome::json_error(409, message.clone()),
        LifecycleError::Unavailable => database_failed(),
    }
}

/// Whether `headers` say the body is JSON (`application/json`, parameters allowed). Other
/// types are refused (415): a web page can send `text/plain` or a form across origins without
/// asking, never `application/json`.
fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .is_some_and(|media| media.trim().eq_ignore_ascii_case("application/json"))
}

/// The body of a POST or PUT, at most [`lifecycle::MAX_BODY`] bytes: the 413 or 415 otherwise.
async fn read_body(headers: &HeaderMap, body: Body) -> Result<bytes_of::Bytes, Outcome> {
    if !is_json(headers) {
        return Err(Outcome::json_error(
            415,
            "body: send it as Content-Type: application/json".into(),
        ));
    }
    let too_long = || {
        Outcome::json_error(
            413,
            format!(
                "body: longer than {} bytes, the most this route reads",
                lifecycle::MAX_BODY
            ),
        )
    };
    let announced = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok());
    if announced.is_some_and(|length| length > lifecycle::MAX_BODY as u64) {
        return Err(too_long());
    }
    axum::body::to_bytes(body, lifecycle::MAX_BODY)
        .await
        .map_err(|_| too_long())
}

/// Re-exported for [`read_body`]'s signature.
mod bytes_of {
    pub use axum::body::Bytes;
}

/// A lifecycle route (issue #25), in this order: the method (405), the registry (501 without
/// one), the caller (403 without a certificate), the body (415, 413, 400), then the registry's
/// decision ([`crate::registry::decide`]): made once without committing, its line written,
/// then made again and committed; should the second differ (the registry changed meanwhile),
/// a second line says what was answered. The profile's configuration needs no registry; with
/// one, the caller must have an open request. Every answer and refusal is recorded.
async fn lifecycle_route<S: Answerer>(
    server: &Arc<S>,
    operator: &Option<String>,
    method: &Method,
    headers: &HeaderMap,
    body: Body,
    route: Route,
) -> Outcome {
    let security = server.security();
    let mut asked = LifecycleRecord {
        endpoint: route.endpoint(),
        reqid: route.reqid(),
        scid: route.scid(),
        ..LifecycleRecord::default()
    };
    if !route
        .allow()
        .split(", ")
        .any(|allowed| allowed == method.as_str())
    {
        let mut outcome = Outcome::json_error(
            405,
            format!(
                "method {method} is not allowed: this route answers {}",
                route.allow()
            ),
        );
        outcome.allow = Some(route.allow());
        return refusal(security, operator, asked, outcome).await;
    }
    if let Route::Configuration(id) = route {
        return configuration(server, operator, id, asked).await;
    }
    let Some(registry) = &security.registry else {
        let outcome = Outcome::json_error(
            501,
            "registry: this server keeps no request registry (\"registry\" or \"database\" in its configuration), so it has no requests or smart cards".into(),
        );
        // Through the refusal limit, as a 4xx: no key, nothing changed.
        return refusal(security, operator, asked, outcome).await;
    };
    let Some(caller) = operator.clone() else {
        let outcome = Outcome::from_reply(cm::Reply::from_error(RequestError::Forbidden {
            rule: registry::NO_OPERATOR,
        }));
        return refusal(security, operator, asked, outcome).await;
    };
    let who = Who::Operator(caller);
    let op = match (route, method == Method::GET) {
        (Route::Request(reqid), true) => Op::Get { who, reqid },
        (route, _) => {
            let bytes = match read_body(headers, body).await {
                Ok(bytes) => bytes,
                Err(outcome) => return refusal(security, operator, asked, outcome).await,
            };
            let fields: &[lifecycle::Field] = match route {
                Route::SmartCards => &lifecycle::SMART_CARD_FIELDS,
                Route::Request(_) => &lifecycle::CLOSE_FIELDS,
                _ => &lifecycle::RETIRE_FIELDS,
            };
            let found = match lifecycle::parse_body(&bytes, fields) {
                Ok(found) => found,
                Err(message) => {
                    let outcome = Outcome::json_error(400, message);
                    return refusal(security, operator, asked, outcome).await;
                }
            };
            match route {
                Route::SmartCards => {
                    let (Some(reqid), Some(cardid)) = (
                        lifecycle::guid_field(&found, "requestid"),
                        lifecycle::guid_field(&found, "cardid"),
                    ) else {
                        let outcome = Outcome::json_error(
                            400,
                            "body: requestid and cardid are required".into(),
                        );
                        return refusal(security, operator, asked, outcome).await;
                    };
                    let cardid = lifecycle::card_id(cardid);
                    asked.reqid = Some(reqid);
                    asked.cardid = Some(cardid);
                    let Some(new_scid) = new_guid() else {
                        let outcome = Outcome::json_error(
                            500,
                            "smart card: the random generator failed, so no smart card ID could be drawn; try again".into(),
                        );
                        let _ = record(security, operator, asked, 500, outcome.message.as_deref())
                            .await;
                        return outcome;
                    };
                    Op::Bind {
                        who,
                        reqid,
                        cardid,
                        new_scid,
                    }
                }
                Route::Request(reqid) => {
                    let status = lifecycle::word_field(&found, "status")
                        .and_then(Status::parse_final)
                        .unwrap_or(Status::Canceled);
                    Op::Close { who, reqid, status }
                }
                Route::RequestSmartCard(reqid, scid) => Op::Retire { who, reqid, scid },
                // Answered above; kept whole here rather than assumed away.
                Route::Configuration(id) => {
                    return configuration(server, operator, id, asked).await
                }
            }
        }
    };
    let reading = matches!(op, Op::Get { .. });
    let planned = match registry.lifecycle(&op, reading).await {
        Ok(planned) => planned,
        Err(error) => {
            let outcome = lifecycle_error(&error);
            if outcome.status >= 500 {
                let _ = record(
                    security,
                    operator,
                    asked,
                    outcome.status,
                    outcome.message.as_deref(),
                )
                .await;
                return outcome;
            }
            return refusal(security, operator, asked, outcome).await;
        }
    };
    let answer = |done: &registry::Done| -> Outcome {
        match (&op, done.status) {
            (Op::Get { .. }, _) => Outcome::json(
                200,
                Zeroizing::new(lifecycle::request_json(
                    &done.request,
                    server.lifecycle().template,
                )),
            ),
            (Op::Bind { .. }, status) => Outcome::json(
                status,
                Zeroizing::new(format!(
                    "\"{}\"",
                    done.request
                        .scid
                        .map(|scid| scid.to_string())
                        .unwrap_or_default()
                )),
            ),
            _ => Outcome::no_content(),
        }
    };
    let line = |done: &registry::Done| LifecycleRecord {
        scid: done.request.scid.or(asked.scid),
        cardid: done.request.cardid.or(asked.cardid),
        change: done.change.clone(),
        ..asked.clone()
    };
    if reading {
        // Nothing changes: answered, then recorded.
        let outcome = answer(&planned);
        return match record(security, operator, line(&planned), outcome.status, None).await {
            Ok(()) => outcome,
            Err(()) => audit_failed(),
        };
    }
    // A change: its line is written before it is made.
    if record(security, operator, line(&planned), planned.status, None)
        .await
        .is_err()
    {
        return audit_failed();
    }
    match registry.lifecycle(&op, true).await {
        Ok(done) => {
            let outcome = answer(&done);
            if done != planned
                && record(security, operator, line(&done), done.status, None)
                    .await
                    .is_err()
            {
                return audit_failed();
            }
            outcome
        }
        Err(error) => {
            // Nothing was changed: a second line says what was answered instead.
            let outcome = lifecycle_error(&error);
            match record(
                security,
                operator,
                asked,
                outcome.status,
                outcome.message.as_deref(),
            )
            .await
            {
                Ok(()) => outcome,
                Err(()) => audit_failed(),
            }
        }
    }
}

/// A fresh random smart card ID (a version 4 GUID), drawn from the operating system; `None`
/// when its generator fails.
fn new_guid() -> Option<cm::Guid> {
    let mut bytes = [0u8; 16];
    cardadmin::rand_core::RngCore::try_fill_bytes(&mut OsRng, &mut bytes).ok()?;
    // Version 4 and the RFC 4122 variant, in the Windows GUID layout (the version is in the
    // third field, stored little-endian: its high nibble is byte 7's).
    bytes[7] = (bytes[7] & 0x0F) | 0x40;
    bytes[8] = (bytes[8] & 0x3F) | 0x80;
    Some(cm::Guid::from_bytes(bytes))
}

/// `GET /profiletemplates/{id}/configuration/smartcards`: with a registry, for a caller with
/// an open request; for the configured template only (404 otherwise); a key use (it holds the
/// initial admin key): rate limited, recorded before it is answered.
async fn configuration<S: Answerer>(
    server: &Arc<S>,
    operator: &Option<String>,
    id: cm::Guid,
    mut asked: LifecycleRecord,
) -> Outcome {
    let security = server.security();
    let forbidden =
        |rule| Outcome::from_reply(cm::Reply::from_error(RequestError::Forbidden { rule }));
    if let Some(registry) = &security.registry {
        let Some(caller) = operator.as_deref() else {
            return refusal(security, operator, asked, forbidden(registry::NO_OPERATOR)).await;
        };
        match registry.has_open_request(caller).await {
            Ok(true) => {}
            Ok(false) => {
                return refusal(security, operator, asked, forbidden(registry::NO_OPEN_WORK)).await
            }
            Err(Denied::Rule(rule)) => {
                return refusal(security, operator, asked, forbidden(rule)).await
            }
            Err(Denied::Unavailable) => return database_failed(),
        }
    }
    let profile = server.lifecycle();
    if profile.template != Some(id) {
        let outcome = Outcome::json_error(
            404,
            "profile template: no profile template with this ID".into(),
        );
        return refusal(security, operator, asked, outcome).await;
    }
    if let Some(limit) = &security.rate_limit {
        match limit.allow(operator.as_deref().unwrap_or("")).await {
            Ok(true) => {}
            Ok(false) => {
                let error = RequestError::RateLimited {
                    per_minute: limit.per_minute(),
                };
                let outcome = Outcome::from_reply(cm::Reply::from_error(error));
                return refusal(security, operator, asked, outcome).await;
            }
            Err(()) => return database_failed(),
        }
    }
    asked.key_role = Some(cm::KeyRole::InitialKey.as_str());
    asked.key_check_value = Some(profile.initial_check_value.clone());
    if record(security, operator, asked, 200, None).await.is_err() {
        return audit_failed();
    }
    Outcome::json(200, profile.configuration.clone())
}

/// The handler for every route.
pub async fn handle<S: Answerer>(
    State(server): State<Arc<S>>,
    operator: Option<Extension<Operator>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let started = Instant::now();
    let operator = operator.and_then(|Extension(Operator(name))| name);
    let outcome = decide(&server, &operator, &method, &uri, &headers, body).await;

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
        405 if outcome.allow.is_some() => {
            headers.insert(
                header::ALLOW,
                HeaderValue::from_static(outcome.allow.unwrap_or("GET")),
            );
        }
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
