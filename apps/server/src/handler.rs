//! Every request, from the connection to the reply: who is asking (TLS), may they (the
//! registry, the rate limit), what is on record (the audit trail), and only then the key
//! (`cm::answer`).
//!
//! The order, for a GET:
//!
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
//! Other methods are 405 (MIM CM's endpoints answer GET), recorded too.
//!
//! Every refusal (a 4xx answer that used no key) goes through the caller's refusal limit
//! ([`crate::ratelimit::RefusalLimit`]): past it, 429, recorded once per run, then counted (a
//! summary line) and left out of the trail and of the stdout log.

use std::io::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderValue, Method, StatusCode, Uri};
use axum::response::Response;
use axum::Extension;
use cardadmin::rng::OsRng;
use cardadmin_mimcm::{self as cm, RequestError};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
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
#[derive(Default)]
pub struct Security {
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

async fn decide<S: Answerer>(
    server: &Arc<S>,
    operator: &Option<String>,
    method: &Method,
    uri: &Uri,
) -> Outcome {
    let security = server.security();
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
        let (reply, done) = cm::answer(&parsed, &profile, &mut OsRng);
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
        None => Ok(use_key()),
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
) -> Response {
    let started = Instant::now();
    let operator = operator.and_then(|Extension(Operator(name))| name);
    let outcome = decide(&server, &operator, &method, &uri).await;

    // One line per request on stdout; the query (card ID, challenge) and the body (a key, a
    // PIN) are left out.
    let elapsed = started.elapsed();
    let who = operator
        .as_deref()
        .map(|name| format!(" [{}]", name.escape_debug()))
        .unwrap_or_default();
    let line = match &outcome.message {
        Some(message) => format!(
            "{method} {} {} {}us{who} {message}\n",
            uri.path(),
            outcome.status,
            elapsed.as_micros()
        ),
        None => format!(
            "{method} {} {} {}us{who}\n",
            uri.path(),
            outcome.status,
            elapsed.as_micros()
        ),
    };
    if !outcome.unlogged {
        let _ = std::io::stdout().lock().write_all(line.as_bytes());
    }

    // A HEAD answer carries the headers the GET would, Content-Length included (RFC 9110
    // 9.3.2 and 8.6), and no body: the body is computed as for GET (a proposed PIN is drawn and
    // dropped), only its length is sent.
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

/// Accepts TLS connections until `shutdown` completes: each handshake must present a client
/// certificate of the configured CA (rustls refuses the others), and the connection's requests
/// carry its common name as their [`Operator`].
pub async fn serve_tls(
    listener: TcpListener,
    acceptor: TlsAcceptor,
    app: axum::Router,
    shutdown: impl std::future::Future<Output = ()>,
) {
    tokio::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut shutdown => return,
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
        tokio::spawn(async move {
            let tls = match tokio::time::timeout(Duration::from_secs(10), acceptor.accept(stream))
                .await
            {
                Ok(Ok(tls)) => tls,
                Ok(Err(err)) => {
                    eprintln!("tls: handshake with {peer} refused: {err}");
                    return;
                }
                Err(_) => {
                    eprintln!("tls: handshake with {peer} took over 10 s; closed");
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
            let service = hyper::service::service_fn(
                move |mut request: hyper::Request<hyper::body::Incoming>| {
                    request
                        .extensions_mut()
                        .insert(Operator(Some(operator.clone())));
                    let mut app = app.clone();
                    tower_service::Service::call(&mut app, request)
                },
            );
            let _ = hyper::server::conn::http1::Builder::new()
                .timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(Duration::from_secs(30))
                .serve_connection(TokioIo::new(tls), service)
                .await;
        });
    }
}
