//! The request registry: which requests exist (enroll, renew, retire), for which smart card and
//! card, whose they are, whether they are open; and, per card (issue #25), the master version its
//! key came from (confirmed, and pending while a key change is under way) and whether it is
//! retired. SQLite (`rusqlite` with its bundled SQLite: nothing to install), one file named by the
//! configuration's `"registry"`, created on first use, readable and writable by its owner only
//! (0600; SQLite gives its `-wal` and `-shm` files the same mode).
//!
//! MIM CM answers only for a card that belongs to an approved request of the caller; this is
//! the example server's stand-in for MIM CM's request database, managed with
//! `cardadmin-server requests add|close|list --config CONFIG` and the lifecycle routes.
//!
//! GUIDs are stored as their 16 bytes (the Windows GUID layout that `cm::Guid` and `CardId`
//! read), so `{A9B4...}`, `a9b4...` and bare hex are one request: they are compared as GUIDs,
//! never as text. The server reads the file on every request (no cache): a request closed from
//! the command line is closed for the next request, and for one whose audit line is being
//! written ([`Registry::while_authorized`]: the check is made again, in the transaction the
//! key is used in). SQLite's write-ahead log lets the command line write while the server
//! reads, and a server killed at any moment leaves the file consistent (SQLite's
//! transactions).
//!
//! The rules and the lifecycle decisions are pure functions here ([`rule_for_request`],
//! [`rule_for_key`], [`version_for`], [`decide`]), shared with the PostgreSQL backend
//! ([`crate::pg`]), so both refuse with the same words and change the same rows.
//!
//! Schema versions (`PRAGMA user_version`): 0, a file of an earlier server (the `requests` table
//! with every ID required, no cards); 2, this one (the number the database's schema has too).
//! Opening a version 0 file upgrades it in one transaction, recording every card ID of its
//! requests as confirmed on the master version configured at that moment; a newer one is
//! refused.

use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

use cardadmin::CardId;
use cardadmin_mimcm::Guid;
use rusqlite::{params, Connection, OptionalExtension as _, TransactionBehavior};

/// What `requests add|close` did to the registry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RegistryAction {
    /// `requests add`: a new open request.
    Add,
    /// `requests close`: an open request closed.
    Close,
    /// The add on the line before could not be committed: the registry is unchanged.
    AddNotCommitted,
    /// The close on the line before could not be committed: the request is still open.
    CloseNotCommitted,
}

impl RegistryAction {
    /// The line's `registry` value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Add => "add",
            Self::Close => "close",
            Self::AddNotCommitted => "add not committed",
            Self::CloseNotCommitted => "close not committed",
        }
    }
}

/// The schema this binary writes (SQLite's `user_version`; the database's schema version too).
pub const SCHEMA_VERSION: i32 = 2;

/// A request's state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    /// The request may be served.
    Open,
    /// Done: nothing more is answered for it.
    Closed,
}

impl State {
    /// `open` or `closed`, as the registry stores it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Closed => "closed",
        }
    }
}

/// What a request is for (MIM CM's request types that touch the card's admin key).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RequestType {
    /// A new card: its key goes from the initial key to its diversified key.
    Enroll,
    /// A card moved to the current master: a new diversified key.
    Renew,
    /// The card's end: its key is never answered again.
    Retire,
}

impl RequestType {
    /// `enroll`, `renew` or `retire`: the registry's and the command line's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Enroll => "enroll",
            Self::Renew => "renew",
            Self::Retire => "retire",
        }
    }

    /// `Enroll`, `Renew` or `Retire`: MIM CM's spelling, in `GET /requests/{id}`.
    pub fn mim_name(self) -> &'static str {
        match self {
            Self::Enroll => "Enroll",
            Self::Renew => "Renew",
            Self::Retire => "Retire",
        }
    }

    /// The type `text` names (`as_str`'s spelling).
    pub fn parse(text: &str) -> Option<Self> {
        [Self::Enroll, Self::Renew, Self::Retire]
            .into_iter()
            .find(|kind| kind.as_str() == text)
    }
}

/// A request's status in MIM CM's words: `Approved` while open, then how it ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// Open: it may be served.
    Approved,
    /// Done: the pending master versions it began are confirmed.
    Completed,
    /// Called off: the pending versions it began are dropped.
    Canceled,
    /// Given up by the client: as `Canceled`.
    Abandoned,
}

impl Status {
    /// MIM CM's spelling, as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Approved => "Approved",
            Self::Completed => "Completed",
            Self::Canceled => "Canceled",
            Self::Abandoned => "Abandoned",
        }
    }

    /// Any status by its stored name.
    pub fn parse(text: &str) -> Option<Self> {
        [
            Self::Approved,
            Self::Completed,
            Self::Canceled,
            Self::Abandoned,
        ]
        .into_iter()
        .find(|status| status.as_str() == text)
    }

    /// A status that closes a request (`Completed`, `Canceled`, `Abandoned`), by its name.
    pub fn parse_final(text: &str) -> Option<Self> {
        Self::parse(text).filter(|status| *status != Self::Approved)
    }
}

/// One registered request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    /// The request ID.
    pub reqid: Guid,
    /// The smart card ID: `None` for an enroll request until `POST /smartcards`.
    pub scid: Option<Guid>,
    /// The card ID (the card's `cardid` file): as `scid`.
    pub cardid: Option<CardId>,
    /// The operator who may ask for it: a client certificate's subject common name.
    pub operator: String,
    /// Open or closed.
    pub state: State,
    /// Enroll, renew or retire.
    pub kind: RequestType,
    /// `Approved` while open, then how it was closed.
    pub status: Status,
}

/// What the registry knows of one card (by card ID).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Card {
    /// The card ID.
    pub cardid: CardId,
    /// The master version its key is known to come from.
    pub confirmed: Option<u8>,
    /// The master version of a key change under way (`diversifiedkey` answered, the request
    /// not closed yet).
    pub pending: Option<u8>,
    /// The request that began the pending change.
    pub pending_reqid: Option<Guid>,
    /// Retired: its key is never answered again.
    pub retired: bool,
}

/// Which key a request would use: what [`rule_for_key`] and [`version_for`] decide on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyAsk {
    /// No key (`serverproposedpin`).
    None,
    /// The initial admin key (`authenticationresponse?diversified=false`).
    Initial,
    /// The card's key answers a challenge (`authenticationresponse?diversified=true`).
    CardAnswer,
    /// The card's key itself (`diversifiedkey`): derived under the current master and recorded
    /// as the card's pending version.
    CardDerive,
}

/// A request to a key route, as the registry checks it.
#[derive(Clone, Copy, Debug)]
pub struct Ask<'a> {
    /// The caller, `None` without a client certificate.
    pub operator: Option<&'a str>,
    /// The path's request ID (`None` for `serverproposedpin`).
    pub reqid: Option<Guid>,
    /// The path's smart card ID.
    pub scid: Guid,
    /// The query's card ID.
    pub cardid: Option<CardId>,
    /// The key it would use.
    pub key: KeyAsk,
    /// The current master version (`None` without a master).
    pub current: Option<u8>,
}

/// The registry file, behind a lock (one SQLite connection; every query is a few
/// microseconds).
pub struct Registry {
    connection: Mutex<Connection>,
}

/// Why a request was refused: the rule that failed, as the 403's message says it.
pub type Rule = &'static str;

/// The rules, in the order they are checked. Someone else's request is refused with the same
/// words as an unknown one, so that a caller cannot learn which request IDs exist (the audit
/// trail has the caller and the request ID, and the registry whose request it is).
pub const NOT_REGISTERED: Rule = "no request with this ID is registered for the caller";
/// See [`NOT_REGISTERED`].
pub const CLOSED: Rule = "the request is closed";
/// See [`NOT_REGISTERED`].
pub const NO_SMART_CARD: Rule = "the request has no smart card yet: POST /smartcards binds one";
/// See [`NOT_REGISTERED`].
pub const WRONG_SCID: Rule = "the smart card ID is not the request's";
/// See [`NOT_REGISTERED`].
pub const WRONG_CARDID: Rule = "the card ID is not the request's";
/// See [`NOT_REGISTERED`].
pub const NO_OPEN_REQUEST: Rule = "the caller has no open request for this smart card";
/// See [`NOT_REGISTERED`].
pub const NO_OPERATOR: Rule = "the caller is not identified (no client certificate)";
/// See [`NOT_REGISTERED`].
pub const UNAVAILABLE: Rule = "the request registry could not be read";
/// A retired card: no key route answers for it (issue #25).
pub const RETIRED: Rule = "the card is retired: no key is answered for it";
/// `diversifiedkey` on a retire request.
pub const DERIVE_NOT_FOR_RETIRE: Rule =
    "diversifiedkey is answered within an enroll or renew request";
/// The card's pending or confirmed master version changed between the audit line and the key
/// use (a concurrent `diversifiedkey`).
pub const VERSION_CHANGED: Rule =
    "the card's key version changed while this request was being recorded; ask again";
/// The card's version is not configured (checked by the server, which holds the keys).
pub const UNKNOWN_VERSION: Rule = "the card's key comes from a master version this server does not hold (cardadmin-server keys lists the versions in use)";
/// `POST /smartcards` on a renew or retire request.
pub const NOT_ENROLL: Rule = "smart cards are created for enroll requests; a renew or retire request names its smart card and card when it is added";
/// `POST /smartcards` for a card that is enrolled already (on a master version, or with a key
/// change under way): an enroll request must not become a way to another card's key.
pub const ENROLLED: Rule = "the card is enrolled already (its key is on a master version, or a key change is under way): renew it, or retire it first";
/// `PUT /requests/{r}/smartcards/{s}` on another request type.
pub const NOT_RETIRE: Rule = "a smart card is retired within a retire request";
/// The profile's configuration (it holds the initial key) for a caller with no open request.
pub const NO_OPEN_WORK: Rule = "the caller has no open request (the profile's configuration holds the initial admin key, so it is answered to operators with a request under way)";

/// Who changes the registry through [`decide`]: an operator over HTTPS, or the command line
/// (`requests close`), which may close anyone's request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Who {
    /// The client certificate's common name.
    Operator(String),
    /// `cardadmin-server requests ...`.
    Command,
}

/// A lifecycle operation on the registry (issue #25).
#[derive(Clone, Debug)]
pub enum Op {
    /// `GET /requests/{id}`.
    Get {
        /// The caller.
        who: Who,
        /// The request.
        reqid: Guid,
    },
    /// `POST /smartcards`: `new_scid` is the smart card ID to give when one is made.
    Bind {
        /// The caller.
        who: Who,
        /// The request.
        reqid: Guid,
        /// The body's card ID.
        cardid: CardId,
        /// A fresh random smart card ID, used if the request has none.
        new_scid: Guid,
    },
    /// `PUT /requests/{id}` or `requests close`.
    Close {
        /// The caller.
        who: Who,
        /// The request.
        reqid: Guid,
        /// `Completed`, `Canceled` or `Abandoned`.
        status: Status,
    },
    /// `PUT /requests/{reqid}/smartcards/{scid}` `Retired`.
    Retire {
        /// The caller.
        who: Who,
        /// The request.
        reqid: Guid,
        /// The path's smart card ID.
        scid: Guid,
    },
}

impl Op {
    /// The request the operation is about.
    pub fn reqid(&self) -> Guid {
        match self {
            Self::Get { reqid, .. }
            | Self::Bind { reqid, .. }
            | Self::Close { reqid, .. }
            | Self::Retire { reqid, .. } => *reqid,
        }
    }

    /// The card whose row the decision reads: the body's card for a bind, else the request's.
    pub fn cardid(&self, request: Option<&Request>) -> Option<CardId> {
        match self {
            Self::Bind { cardid, .. } => Some(*cardid),
            _ => request.and_then(|request| request.cardid),
        }
    }
}

/// Why a lifecycle operation was not done.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LifecycleError {
    /// A rule (403).
    Forbidden(Rule),
    /// The request's state does not allow it (409): the message says why.
    Conflict(String),
    /// The registry could not be read or written (503 for the database, 403
    /// [`UNAVAILABLE`] for the SQLite file, as the key routes answer).
    Unavailable,
}

/// What a lifecycle operation did (or, before it is committed, will do).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Done {
    /// The request after the operation.
    pub request: Request,
    /// The HTTP status to answer: 200, 201 or 204.
    pub status: u16,
    /// What changed, for the audit line; `None` when nothing did.
    pub change: Option<String>,
}

/// A row change [`decide`] asks the backend to make, in the decision's transaction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Write {
    /// Sets the request's smart card and card IDs.
    Bind {
        /// The request.
        reqid: Guid,
        /// Its smart card ID.
        scid: Guid,
        /// Its card ID.
        cardid: CardId,
    },
    /// Makes the card's row if there is none (no version yet).
    EnsureCard(CardId),
    /// Closes the request with this status.
    Close(Guid, Status),
    /// Every card whose pending change this request began: pending becomes confirmed.
    ConfirmPending(Guid),
    /// Every card whose pending change this request began: pending is dropped.
    DropPending(Guid),
    /// The card is retired (its row made if needed), its pending change dropped.
    Retire(CardId),
}

/// The lifecycle decision for `op`, given the request's row, the row of the card it is about
/// ([`Op::cardid`]) and how many cards have a pending change this request began: what to
/// answer, and the rows to change. Shared by both backends.
pub fn decide(
    op: &Op,
    request: Option<&Request>,
    card: Option<&Card>,
    pending_of_request: u64,
) -> Result<(Done, Vec<Write>), LifecycleError> {
    let owned = |who: &Who| -> Result<&Request, LifecycleError> {
        let request = request.ok_or(LifecycleError::Forbidden(NOT_REGISTERED))?;
        match who {
            Who::Operator(operator) if request.operator != *operator => {
                Err(LifecycleError::Forbidden(NOT_REGISTERED))
            }
            _ => Ok(request),
        }
    };
    let retired = card.is_some_and(|card| card.retired);
    match op {
        Op::Get { who, .. } => Ok((
            Done {
                request: owned(who)?.clone(),
                status: 200,
                change: None,
            },
            Vec::new(),
        )),
        Op::Bind {
            who,
            reqid,
            cardid,
            new_scid,
        } => {
            let request = owned(who)?;
            if request.state == State::Closed {
                return Err(LifecycleError::Forbidden(CLOSED));
            }
            if request.kind != RequestType::Enroll {
                return Err(LifecycleError::Forbidden(NOT_ENROLL));
            }
            if retired {
                return Err(LifecycleError::Forbidden(RETIRED));
            }
            if request.cardid.is_some_and(|bound| bound != *cardid) {
                return Err(LifecycleError::Forbidden(WRONG_CARDID));
            }
            if let (Some(_), Some(_)) = (request.scid, request.cardid) {
                // A retry: the smart card exists, for this card.
                return Ok((
                    Done {
                        request: request.clone(),
                        status: 200,
                        change: None,
                    },
                    Vec::new(),
                ));
            }
            if card.is_some_and(|card| card.confirmed.is_some() || card.pending.is_some()) {
                return Err(LifecycleError::Forbidden(ENROLLED));
            }
            let scid = request.scid.unwrap_or(*new_scid);
            Ok((
                Done {
                    request: Request {
                        scid: Some(scid),
                        cardid: Some(*cardid),
                        ..request.clone()
                    },
                    status: 201,
                    change: Some(format!("smart card {scid} created for card {cardid}")),
                },
                vec![
                    Write::Bind {
                        reqid: *reqid,
                        scid,
                        cardid: *cardid,
                    },
                    Write::EnsureCard(*cardid),
                ],
            ))
        }
        Op::Close { who, reqid, status } => {
            let request = owned(who)?;
            if request.state == State::Closed {
                if *who == Who::Operator(request.operator.clone()) && request.status == *status {
                    // A retry of the same close.
                    return Ok((
                        Done {
                            request: request.clone(),
                            status: 204,
                            change: None,
                        },
                        Vec::new(),
                    ));
                }
                return Err(LifecycleError::Conflict(format!(
                    "request: closed already as {}",
                    request.status.as_str()
                )));
            }
            if *status == Status::Completed && request.kind == RequestType::Retire && !retired {
                return Err(LifecycleError::Conflict(String::from(
                    "request: the retire request's card is not retired yet: send PUT /requests/{reqid}/smartcards/{scid} with {\"status\": \"Retired\"} first",
                )));
            }
            let (pending, verb) = if *status == Status::Completed {
                (Write::ConfirmPending(*reqid), "confirmed")
            } else {
                (Write::DropPending(*reqid), "dropped")
            };
            let plural = if pending_of_request == 1 { "" } else { "s" };
            Ok((
                Done {
                    request: Request {
                        state: State::Closed,
                        status: *status,
                        ..request.clone()
                    },
                    status: 204,
                    change: Some(format!(
                        "{}: {pending_of_request} pending version{plural} {verb}",
                        status.as_str()
                    )),
                },
                vec![pending, Write::Close(*reqid, *status)],
            ))
        }
        Op::Retire { who, scid, .. } => {
            let request = owned(who)?;
            if request.state == State::Closed {
                return Err(LifecycleError::Forbidden(CLOSED));
            }
            if request.kind != RequestType::Retire {
                return Err(LifecycleError::Forbidden(NOT_RETIRE));
            }
            let (Some(bound), Some(cardid)) = (request.scid, request.cardid) else {
                return Err(LifecycleError::Forbidden(NO_SMART_CARD));
            };
            if bound != *scid {
                return Err(LifecycleError::Forbidden(WRONG_SCID));
            }
            if retired {
                return Ok((
                    Done {
                        request: request.clone(),
                        status: 204,
                        change: None,
                    },
                    Vec::new(),
                ));
            }
            Ok((
                Done {
                    request: request.clone(),
                    status: 204,
                    change: Some(format!("card {cardid} retired")),
                },
                vec![Write::Retire(cardid)],
            ))
        }
    }
}

/// Creates `path` empty, readable and writable by its owner only (0600), if it does not exist:
/// SQLite then uses it as a new database, and gives its `-wal` and `-shm` files the same mode.
fn create_private(path: &Path) -> Result<(), String> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(err) => Err(format!("registry {}: cannot create: {err}", path.display())),
    }
}

/// The schema's tables (version 2).
const TABLES: &str = "
CREATE TABLE requests (
    reqid BLOB PRIMARY KEY CHECK (length(reqid) = 16),
    scid BLOB CHECK (scid IS NULL OR length(scid) = 16),
    cardid BLOB CHECK (cardid IS NULL OR length(cardid) = 16),
    operator TEXT NOT NULL CHECK (operator <> ''),
    state TEXT NOT NULL CHECK (state IN ('open', 'closed')),
    type TEXT NOT NULL DEFAULT 'enroll' CHECK (type IN ('enroll', 'renew', 'retire')),
    status TEXT NOT NULL DEFAULT 'Approved' CHECK (status IN ('Approved', 'Completed', 'Canceled', 'Abandoned'))
);
CREATE INDEX requests_by_card ON requests (scid, operator, state);
CREATE TABLE cards (
    cardid BLOB PRIMARY KEY CHECK (length(cardid) = 16),
    confirmed INTEGER CHECK (confirmed BETWEEN 1 AND 255),
    pending INTEGER CHECK (pending BETWEEN 1 AND 255),
    pending_reqid BLOB CHECK (pending_reqid IS NULL OR length(pending_reqid) = 16),
    retired INTEGER NOT NULL DEFAULT 0 CHECK (retired IN (0, 1))
);
";

/// The columns every request query reads, in [`row_to_request`]'s order.
const COLUMNS: &str = "reqid, scid, cardid, operator, state, type, status";

/// Creates the tables in a new file, or upgrades a file of an earlier server (schema 0: its
/// cards recorded as confirmed on `version`), in one write transaction; refuses a newer one.
fn migrate(connection: &mut Connection, version: u8) -> Result<(), String> {
    let transaction = connection
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(|err| err.to_string())?;
    let found: i32 = transaction
        .query_row("PRAGMA user_version", [], |row| row.get(0))
        .map_err(|err| err.to_string())?;
    if found > SCHEMA_VERSION {
        return Err(format!(
            "the registry is schema version {found}, newer than this cardadmin-server knows (version {SCHEMA_VERSION}): a newer cardadmin-server wrote it; run that version (or a newer one), not this one"
        ));
    }
    if found == SCHEMA_VERSION {
        return Ok(());
    }
    let old: bool = transaction
        .query_row(
            "SELECT count(*) > 0 FROM sqlite_master WHERE type = 'table' AND name = 'requests'",
            [],
            |row| row.get(0),
        )
        .map_err(|err| err.to_string())?;
    let fail =
        |err: rusqlite::Error| format!("upgrading to schema version {SCHEMA_VERSION}: {err}");
    if old {
        transaction
            .execute_batch(
                "ALTER TABLE requests RENAME TO requests_before_2; DROP INDEX IF EXISTS requests_by_card;",
            )
            .map_err(fail)?;
    }
    transaction.execute_batch(TABLES).map_err(fail)?;
    if old {
        transaction
            .execute_batch(&format!(
                "INSERT INTO requests ({COLUMNS})
                   SELECT reqid, scid, cardid, operator, state, 'enroll',
                          CASE state WHEN 'open' THEN 'Approved' ELSE 'Completed' END
                   FROM requests_before_2 ORDER BY rowid;
                 DROP TABLE requests_before_2;"
            ))
            .map_err(fail)?;
        let cards = transaction
            .execute(
                "INSERT INTO cards (cardid, confirmed)
                   SELECT DISTINCT cardid, ?1 FROM requests WHERE cardid IS NOT NULL",
                params![version],
            )
            .map_err(fail)?;
        eprintln!(
            "registry: upgraded to schema version {SCHEMA_VERSION}: {cards} cards recorded as confirmed on master version {version} (the \"diversification_key_version\" configured now)"
        );
    }
    transaction
        .execute_batch(&format!("PRAGMA user_version = {SCHEMA_VERSION}"))
        .map_err(fail)?;
    transaction.commit().map_err(|err| err.to_string())
}

impl Registry {
    /// Opens the registry at `path`, creating the file (0600) and its tables on first use, or
    /// upgrading an earlier server's file (its cards confirmed on master version `version`,
    /// the one configured now).
    pub fn open(path: &Path, version: u8) -> Result<Self, String> {
        create_private(path)?;
        let context = |err: rusqlite::Error| format!("registry {}: {err}", path.display());
        let mut connection = Connection::open(path).map_err(context)?;
        connection
            .busy_timeout(Duration::from_secs(5))
            .map_err(context)?;
        connection
            .pragma_update(None, "journal_mode", "WAL")
            .map_err(context)?;
        // Every committed change is on disk before `requests add` says so.
        connection
            .pragma_update(None, "synchronous", "FULL")
            .map_err(context)?;
        migrate(&mut connection, version)
            .map_err(|err| format!("registry {}: {err}", path.display()))?;
        Ok(Self {
            connection: Mutex::new(connection),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Connection> {
        // A panic while holding the lock cannot leave SQLite half-written (its own
        // transactions); carry on with the connection.
        self.connection
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Registers an open request. An ID that exists already is an error.
    ///
    /// `record` is called inside the transaction, after the row is written and before it
    /// commits (`requests add` writes its audit line there): if it fails, nothing is added.
    /// Should the commit fail after it, it is called again with
    /// [`RegistryAction::AddNotCommitted`].
    pub fn add(
        &self,
        request: &Request,
        mut record: impl FnMut(RegistryAction, &Request) -> Result<(), String>,
    ) -> Result<Request, String> {
        check_new(request)?;
        let reqid = request.reqid;
        let mut connection = self.lock();
        let transaction = connection
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|err| format!("registry: {err}"))?;
        let inserted = transaction.execute(
            &format!(
                "INSERT INTO requests ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, 'open', ?5, 'Approved')"
            ),
            params![
                &reqid.as_bytes()[..],
                request.scid.map(|scid| scid.as_bytes().to_vec()),
                request.cardid.map(|cardid| cardid.as_bytes().to_vec()),
                request.operator,
                request.kind.as_str()
            ],
        );
        match inserted {
            Ok(_) => {}
            Err(rusqlite::Error::SqliteFailure(err, _))
                if err.code == rusqlite::ErrorCode::ConstraintViolation =>
            {
                return Err(format!("request {reqid} is registered already"));
            }
            Err(err) => return Err(format!("registry: {err}")),
        }
        let added = Request {
            state: State::Open,
            status: Status::Approved,
            ..request.clone()
        };
        record(RegistryAction::Add, &added)
            .map_err(|err| format!("{err}; request {reqid} was not added"))?;
        if let Err(err) = transaction.commit() {
            let _ = record(RegistryAction::AddNotCommitted, &added);
            return Err(format!("registry: {err}; request {reqid} was not added"));
        }
        Ok(added)
    }

    /// Closes a request from the command line with `status` (`requests close`): the pending
    /// versions it began are confirmed (`Completed`) or dropped. Unknown or already closed is
    /// an error. `record` as for [`Registry::add`] (with [`RegistryAction::Close`]).
    pub fn close(
        &self,
        reqid: Guid,
        status: Status,
        mut record: impl FnMut(RegistryAction, &Request) -> Result<(), String>,
    ) -> Result<Done, String> {
        let mut connection = self.lock();
        let transaction = connection
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|err| format!("registry: {err}"))?;
        let op = Op::Close {
            who: Who::Command,
            reqid,
            status,
        };
        let done = match lifecycle_in(&transaction, &op) {
            Ok(done) => done,
            Err(err) => return Err(command_error(reqid, err)),
        };
        record(RegistryAction::Close, &done.request)
            .map_err(|err| format!("{err}; request {reqid} was not closed"))?;
        if let Err(err) = transaction.commit() {
            let _ = record(RegistryAction::CloseNotCommitted, &done.request);
            return Err(format!("registry: {err}; request {reqid} was not closed"));
        }
        Ok(done)
    }

    /// Every request, in the order they were added.
    pub fn list(&self) -> Result<Vec<Request>, String> {
        let connection = self.lock();
        let mut statement = connection
            .prepare(&format!("SELECT {COLUMNS} FROM requests ORDER BY rowid"))
            .map_err(|err| format!("registry: {err}"))?;
        let rows = statement
            .query_map([], row_to_request)
            .map_err(|err| format!("registry: {err}"))?;
        rows.map(|row| row.map_err(|err| format!("registry: {err}")))
            .collect()
    }

    /// Every card's row (for `keys` and the start-up counts).
    pub fn cards(&self) -> Result<Vec<Card>, String> {
        let connection = self.lock();
        let mut statement = connection
            .prepare("SELECT cardid, confirmed, pending, pending_reqid, retired FROM cards")
            .map_err(|err| format!("registry: {err}"))?;
        let rows = statement
            .query_map([], row_to_card)
            .map_err(|err| format!("registry: {err}"))?;
        rows.map(|row| row.map_err(|err| format!("registry: {err}")))
            .collect()
    }

    /// Whether the caller may ask this, and under which master version a card key would
    /// answer ([`version_for`]): `Ok(version)`, or the rule that failed.
    ///
    /// With a request ID in the path (`authenticationresponse`, `diversifiedkey`): the request
    /// exists and the caller is its operator (else [`NOT_REGISTERED`] either way), it is open,
    /// it has its smart card and card, and the path's smart card ID and the query's card ID
    /// are the registered ones; then the card's rules ([`rule_for_key`]). Without
    /// (`serverproposedpin`): the caller has an open request for that smart card (and, when
    /// the query names a card ID, for that card).
    pub fn authorize(&self, ask: &Ask<'_>) -> Result<Option<u8>, Rule> {
        authorize_in(&self.lock(), ask)
    }

    /// Checks [`Registry::authorize`] again and, if it still holds and the version is still
    /// `planned` (the one the audit line names), runs `use_key` before anything can change the
    /// registry: the check and the use are one SQLite write transaction, so a `requests
    /// close` (or a `PUT /requests/{id}`) that comes while the key is being used commits after
    /// it, and one that committed before is seen. For `diversifiedkey` the card's pending
    /// version is written in the same transaction, and committed before the answer is given.
    pub fn while_authorized<T>(
        &self,
        ask: &Ask<'_>,
        planned: Option<u8>,
        use_key: impl FnOnce() -> T,
    ) -> Result<T, Rule> {
        let unavailable = |err: rusqlite::Error| {
            eprintln!("error: registry: {err}");
            UNAVAILABLE
        };
        let mut connection = self.lock();
        let transaction = connection
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(unavailable)?;
        let version = authorize_in(&transaction, ask)?;
        if version != planned {
            return Err(VERSION_CHANGED);
        }
        if let (KeyAsk::CardDerive, Some(version), Some(reqid), Some(cardid)) =
            (ask.key, version, ask.reqid, ask.cardid)
        {
            transaction
                .execute(
                    "INSERT INTO cards (cardid, pending, pending_reqid) VALUES (?1, ?2, ?3)
                     ON CONFLICT (cardid) DO UPDATE SET pending = ?2, pending_reqid = ?3",
                    params![&cardid.as_bytes()[..], version, &reqid.as_bytes()[..]],
                )
                .map_err(unavailable)?;
        }
        let used = use_key();
        if ask.key == KeyAsk::CardDerive {
            transaction.commit().map_err(unavailable)?;
        }
        // Otherwise nothing was written: the rollback only lets go of the lock.
        Ok(used)
    }

    /// Whether the operator has an open request (any): for the profile's configuration.
    pub fn has_open_request(&self, operator: &str) -> Result<bool, Rule> {
        self.lock()
            .query_row(
                "SELECT count(*) > 0 FROM requests WHERE operator = ?1 AND state = 'open'",
                params![operator],
                |row| row.get(0),
            )
            .map_err(|err| {
                eprintln!("error: registry: {err}");
                UNAVAILABLE
            })
    }

    /// Runs a lifecycle operation ([`decide`]) in one write transaction: committed when
    /// `commit`, else rolled back (a dry run: what it would do, for the audit line written
    /// before it is done).
    pub fn lifecycle(&self, op: &Op, commit: bool) -> Result<Done, LifecycleError> {
        let unavailable = |err: rusqlite::Error| {
            eprintln!("error: registry: {err}");
            LifecycleError::Unavailable
        };
        let mut connection = self.lock();
        let transaction = connection
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(unavailable)?;
        let done = lifecycle_in(&transaction, op)?;
        if commit {
            transaction.commit().map_err(unavailable)?;
        }
        Ok(done)
    }
}

/// A request `requests add` may register: an operator, and a renew or retire request names its
/// smart card and card.
pub fn check_new(request: &Request) -> Result<(), String> {
    if request.operator.is_empty() {
        return Err("the operator is empty: give the client certificate's common name".into());
    }
    if request.kind != RequestType::Enroll && (request.scid.is_none() || request.cardid.is_none()) {
        return Err(format!(
            "a {} request is about a card that exists: give its --scid and --cardid",
            request.kind.as_str()
        ));
    }
    Ok(())
}

/// The command line's words for a refused `requests close`.
pub fn command_error(reqid: Guid, err: LifecycleError) -> String {
    match err {
        LifecycleError::Forbidden(NOT_REGISTERED) => format!("request {reqid} is not registered"),
        LifecycleError::Forbidden(rule) => format!("request {reqid}: {rule}"),
        LifecycleError::Conflict(message) if message.starts_with("request: closed already") => {
            format!("request {reqid} is closed already ({message})")
        }
        LifecycleError::Conflict(message) => format!("request {reqid}: {message}"),
        LifecycleError::Unavailable => String::from("registry: could not be read or written"),
    }
}

fn lifecycle_in(connection: &Connection, op: &Op) -> Result<Done, LifecycleError> {
    let unavailable = |err: String| {
        eprintln!("error: {err}");
        LifecycleError::Unavailable
    };
    let reqid = op.reqid();
    let request = get_in(connection, reqid).map_err(unavailable)?;
    let card = match op.cardid(request.as_ref()) {
        Some(cardid) => card_in(connection, cardid).map_err(unavailable)?,
        None => None,
    };
    let pending: i64 = connection
        .query_row(
            "SELECT count(*) FROM cards WHERE pending_reqid = ?1",
            params![&reqid.as_bytes()[..]],
            |row| row.get(0),
        )
        .map_err(|err| unavailable(format!("registry: {err}")))?;
    let (done, writes) = decide(
        op,
        request.as_ref(),
        card.as_ref(),
        u64::try_from(pending).unwrap_or(0),
    )?;
    for write in &writes {
        apply(connection, write).map_err(|err| unavailable(format!("registry: {err}")))?;
    }
    Ok(done)
}

fn apply(connection: &Connection, write: &Write) -> rusqlite::Result<usize> {
    match write {
        Write::Bind {
            reqid,
            scid,
            cardid,
        } => connection.execute(
            "UPDATE requests SET scid = ?2, cardid = ?3 WHERE reqid = ?1",
            params![
                &reqid.as_bytes()[..],
                &scid.as_bytes()[..],
                &cardid.as_bytes()[..]
            ],
        ),
        Write::EnsureCard(cardid) => connection.execute(
            "INSERT INTO cards (cardid) VALUES (?1) ON CONFLICT (cardid) DO NOTHING",
            params![&cardid.as_bytes()[..]],
        ),
        Write::Close(reqid, status) => connection.execute(
            "UPDATE requests SET state = 'closed', status = ?2 WHERE reqid = ?1",
            params![&reqid.as_bytes()[..], status.as_str()],
        ),
        Write::ConfirmPending(reqid) => connection.execute(
            "UPDATE cards SET confirmed = pending, pending = NULL, pending_reqid = NULL WHERE pending_reqid = ?1",
            params![&reqid.as_bytes()[..]],
        ),
        Write::DropPending(reqid) => connection.execute(
            "UPDATE cards SET pending = NULL, pending_reqid = NULL WHERE pending_reqid = ?1",
            params![&reqid.as_bytes()[..]],
        ),
        Write::Retire(cardid) => connection.execute(
            "INSERT INTO cards (cardid, retired) VALUES (?1, 1)
             ON CONFLICT (cardid) DO UPDATE SET retired = 1, pending = NULL, pending_reqid = NULL",
            params![&cardid.as_bytes()[..]],
        ),
    }
}

// Every key use reads these two (twice), so their statements are prepared once per connection.
fn get_in(connection: &Connection, reqid: Guid) -> Result<Option<Request>, String> {
    connection
        .prepare_cached(&format!("SELECT {COLUMNS} FROM requests WHERE reqid = ?1"))
        .and_then(|mut statement| {
            statement
                .query_row(params![&reqid.as_bytes()[..]], row_to_request)
                .optional()
        })
        .map_err(|err| format!("registry: {err}"))
}

fn card_in(connection: &Connection, cardid: CardId) -> Result<Option<Card>, String> {
    connection
        .prepare_cached(
            "SELECT cardid, confirmed, pending, pending_reqid, retired FROM cards WHERE cardid = ?1",
        )
        .and_then(|mut statement| {
            statement
                .query_row(params![&cardid.as_bytes()[..]], row_to_card)
                .optional()
        })
        .map_err(|err| format!("registry: {err}"))
}

fn open_for_card_in(
    connection: &Connection,
    operator: &str,
    scid: Guid,
) -> Result<Vec<Request>, String> {
    let mut statement = connection
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM requests WHERE scid = ?1 AND operator = ?2 AND state = 'open'"
        ))
        .map_err(|err| format!("registry: {err}"))?;
    let rows = statement
        .query_map(params![&scid.as_bytes()[..], operator], row_to_request)
        .map_err(|err| format!("registry: {err}"))?;
    rows.map(|row| row.map_err(|err| format!("registry: {err}")))
        .collect()
}

fn authorize_in(connection: &Connection, ask: &Ask<'_>) -> Result<Option<u8>, Rule> {
    let Some(operator) = ask.operator else {
        return Err(NO_OPERATOR);
    };
    let unavailable = |err: String| {
        eprintln!("error: {err}");
        UNAVAILABLE
    };
    match ask.reqid {
        Some(reqid) => {
            let request = get_in(connection, reqid).map_err(unavailable)?;
            let request = rule_for_request(operator, request.as_ref(), ask.scid, ask.cardid)?;
            let card = match request.cardid {
                Some(cardid) => card_in(connection, cardid).map_err(unavailable)?,
                None => None,
            };
            rule_for_key(request, card.as_ref(), ask.key)?;
            Ok(version_for(card.as_ref(), ask.key, ask.current))
        }
        None => {
            let open = open_for_card_in(connection, operator, ask.scid).map_err(unavailable)?;
            rule_for_open(&open, ask.cardid).map(|()| None)
        }
    }
}

/// The rules for a request named by its ID (`request` as the registry has it, `None` when it
/// is not registered): the caller's, open, with its smart card and card, for this smart card
/// and card. Shared by both registry backends, so they refuse with the same words.
pub fn rule_for_request<'r>(
    operator: &str,
    request: Option<&'r Request>,
    scid: Guid,
    cardid: Option<CardId>,
) -> Result<&'r Request, Rule> {
    let request = request.ok_or(NOT_REGISTERED)?;
    if request.operator != operator {
        return Err(NOT_REGISTERED);
    }
    if request.state != State::Open {
        return Err(CLOSED);
    }
    let (Some(bound_scid), Some(bound_cardid)) = (request.scid, request.cardid) else {
        return Err(NO_SMART_CARD);
    };
    if bound_scid != scid {
        return Err(WRONG_SCID);
    }
    if cardid.is_some_and(|cardid| cardid != bound_cardid) {
        return Err(WRONG_CARDID);
    }
    Ok(request)
}

/// The card's rules for a key route (after [`rule_for_request`]): a retired card gets no key
/// at all, and `diversifiedkey` is answered within an enroll or renew request only.
pub fn rule_for_key(request: &Request, card: Option<&Card>, key: KeyAsk) -> Result<(), Rule> {
    if key != KeyAsk::None && card.is_some_and(|card| card.retired) {
        return Err(RETIRED);
    }
    if key == KeyAsk::CardDerive && request.kind == RequestType::Retire {
        return Err(DERIVE_NOT_FOR_RETIRE);
    }
    Ok(())
}

/// The master version a card key answers under: `diversifiedkey` the current one;
/// `diversified=true` the card's pending version, else its confirmed one, else (a card never
/// seen) the current one. `None` for the other routes and without a master. The caller never
/// chooses: this is the whole of the choice.
pub fn version_for(card: Option<&Card>, key: KeyAsk, current: Option<u8>) -> Option<u8> {
    match key {
        KeyAsk::CardDerive => current,
        KeyAsk::CardAnswer => current.and(
            card.and_then(|card| card.pending.or(card.confirmed))
                .or(current),
        ),
        KeyAsk::None | KeyAsk::Initial => None,
    }
}

/// The rules without a request ID (`serverproposedpin`): `open` are the caller's open
/// requests for the smart card.
pub fn rule_for_open(open: &[Request], cardid: Option<CardId>) -> Result<(), Rule> {
    if open.is_empty() {
        return Err(NO_OPEN_REQUEST);
    }
    match cardid {
        Some(cardid) if !open.iter().any(|request| request.cardid == Some(cardid)) => {
            Err(WRONG_CARDID)
        }
        _ => Ok(()),
    }
}

fn guid_column(row: &rusqlite::Row<'_>, index: usize) -> rusqlite::Result<Option<[u8; 16]>> {
    let bytes: Option<Vec<u8>> = row.get(index)?;
    bytes
        .map(|bytes| {
            bytes.try_into().map_err(|_| {
                rusqlite::Error::FromSqlConversionFailure(
                    index,
                    rusqlite::types::Type::Blob,
                    "a GUID column that is not 16 bytes".into(),
                )
            })
        })
        .transpose()
}

fn required_guid(row: &rusqlite::Row<'_>, index: usize) -> rusqlite::Result<[u8; 16]> {
    guid_column(row, index)?.ok_or(rusqlite::Error::InvalidColumnType(
        index,
        String::from("a required GUID"),
        rusqlite::types::Type::Null,
    ))
}

fn row_to_request(row: &rusqlite::Row<'_>) -> rusqlite::Result<Request> {
    let state: String = row.get(4)?;
    let kind: String = row.get(5)?;
    let status: String = row.get(6)?;
    let unreadable = |index: usize| {
        rusqlite::Error::FromSqlConversionFailure(
            index,
            rusqlite::types::Type::Text,
            "a value the table's checks do not allow".into(),
        )
    };
    Ok(Request {
        reqid: Guid::from_bytes(required_guid(row, 0)?),
        scid: guid_column(row, 1)?.map(Guid::from_bytes),
        cardid: guid_column(row, 2)?.map(CardId::from_bytes),
        operator: row.get(3)?,
        state: if state == "open" {
            State::Open
        } else {
            State::Closed
        },
        kind: RequestType::parse(&kind).ok_or_else(|| unreadable(5))?,
        status: Status::parse(&status).ok_or_else(|| unreadable(6))?,
    })
}

fn row_to_card(row: &rusqlite::Row<'_>) -> rusqlite::Result<Card> {
    Ok(Card {
        cardid: CardId::from_bytes(required_guid(row, 0)?),
        confirmed: row.get(1)?,
        pending: row.get(2)?,
        pending_reqid: guid_column(row, 3)?.map(Guid::from_bytes),
        retired: row.get(4)?,
    })
}

/// `-` for an ID not bound yet, else the ID.
fn or_dash(id: Option<impl std::fmt::Display>) -> String {
    id.map_or_else(|| String::from("-"), |id| id.to_string())
}

/// `requests list`'s line for one request: tab-separated.
pub fn format_request(request: &Request) -> String {
    format!(
        "{}\t{}\t{}\t{}\t{}\t{}\t{}",
        request.reqid,
        or_dash(request.scid),
        or_dash(request.cardid),
        request.operator,
        request.state.as_str(),
        request.kind.as_str(),
        request.status.as_str()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const REQ: &str = "a9b4b42c-cc50-4c9b-89d1-bbc0bcd5a099";
    const SCID: &str = "17cf063d-e337-4aa9-a822-346554ddd3c9";
    const CARD: &str = "bc88f13f-83ba-4037-8262-46eba1291c6e";

    fn registry(name: &str) -> (Registry, std::path::PathBuf) {
        let dir = std::env::temp_dir().join(format!("registry-test-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("registry.sqlite");
        (Registry::open(&path, 1).unwrap(), dir)
    }

    fn enroll(reqid: &str, scid: &str, cardid: CardId, operator: &str) -> Request {
        Request {
            reqid: g(reqid),
            scid: Some(g(scid)),
            cardid: Some(cardid),
            operator: operator.to_string(),
            state: State::Open,
            kind: RequestType::Enroll,
            status: Status::Approved,
        }
    }

    fn ask<'a>(
        operator: Option<&'a str>,
        reqid: Option<Guid>,
        scid: Guid,
        cardid: Option<CardId>,
    ) -> Ask<'a> {
        Ask {
            operator,
            reqid,
            scid,
            cardid,
            key: KeyAsk::Initial,
            current: Some(1),
        }
    }

    fn g(text: &str) -> Guid {
        Guid::parse(text).unwrap()
    }

    impl Registry {
        /// The old test form: `Ok(())` when allowed.
        fn authorize_ask(
            &self,
            operator: Option<&str>,
            reqid: Option<Guid>,
            scid: Guid,
            cardid: Option<CardId>,
        ) -> Result<(), Rule> {
            self.authorize(&ask(operator, reqid, scid, cardid))
                .map(|_| ())
        }
    }

    fn unrecorded(_: RegistryAction, _: &Request) -> Result<(), String> {
        Ok(())
    }

    #[test]
    fn every_rule_in_order() {
        let (registry, dir) = registry("rules");
        registry
            .add(
                &enroll(REQ, SCID, CardId::parse(CARD).unwrap(), "alice"),
                unrecorded,
            )
            .unwrap();
        let card = Some(CardId::parse(CARD).unwrap());
        let other = Some(CardId::parse("00000000-0000-0000-0000-000000000001").unwrap());
        let auth = |op: Option<&str>, req: &str, scid: &str, card| {
            registry.authorize_ask(op, Some(g(req)), g(scid), card)
        };
        assert_eq!(auth(Some("alice"), REQ, SCID, card), Ok(()));
        // GUIDs compared as GUIDs: another spelling is the same request.
        assert_eq!(
            auth(
                Some("alice"),
                &format!("{{{}}}", REQ.to_uppercase()),
                &SCID.replace('-', ""),
                card
            ),
            Ok(())
        );
        assert_eq!(auth(None, REQ, SCID, card), Err(NO_OPERATOR));
        assert_eq!(auth(Some("bob"), REQ, SCID, card), Err(NOT_REGISTERED));
        assert_eq!(auth(Some("Alice"), REQ, SCID, card), Err(NOT_REGISTERED));
        assert_eq!(
            auth(
                Some("alice"),
                "00000000-0000-0000-0000-000000000000",
                SCID,
                card
            ),
            Err(NOT_REGISTERED)
        );
        assert_eq!(auth(Some("alice"), REQ, CARD, card), Err(WRONG_SCID));
        assert_eq!(auth(Some("alice"), REQ, SCID, other), Err(WRONG_CARDID));
        // serverproposedpin: an open request of the caller for the card.
        assert_eq!(
            registry.authorize_ask(Some("alice"), None, g(SCID), None),
            Ok(())
        );
        assert_eq!(
            registry.authorize_ask(Some("alice"), None, g(SCID), card),
            Ok(())
        );
        assert_eq!(
            registry.authorize_ask(Some("alice"), None, g(SCID), other),
            Err(WRONG_CARDID)
        );
        assert_eq!(
            registry.authorize_ask(Some("bob"), None, g(SCID), None),
            Err(NO_OPEN_REQUEST)
        );
        registry
            .close(g(REQ), Status::Canceled, unrecorded)
            .unwrap();
        assert_eq!(auth(Some("alice"), REQ, SCID, card), Err(CLOSED));
        assert_eq!(auth(Some("bob"), REQ, SCID, card), Err(NOT_REGISTERED));
        assert_eq!(
            registry.authorize_ask(Some("alice"), None, g(SCID), None),
            Err(NO_OPEN_REQUEST)
        );
        assert!(registry
            .close(g(REQ), Status::Canceled, unrecorded)
            .unwrap_err()
            .contains("closed already"));
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn survives_reopening_and_refuses_duplicates() {
        let (registry, dir) = registry("reopen");
        registry
            .add(
                &enroll(REQ, SCID, CardId::parse(CARD).unwrap(), "alice"),
                unrecorded,
            )
            .unwrap();
        let again = registry.add(
            &enroll(
                &REQ.to_uppercase(),
                SCID,
                CardId::parse(CARD).unwrap(),
                "bob",
            ),
            unrecorded,
        );
        assert!(again.unwrap_err().contains("registered already"));
        assert!(registry
            .add(
                &enroll(SCID, SCID, CardId::parse(CARD).unwrap(), ""),
                unrecorded
            )
            .is_err());
        drop(registry);
        let registry = Registry::open(&dir.join("registry.sqlite"), 1).unwrap();
        let listed = registry.list().unwrap();
        assert_eq!(listed.len(), 1);
        assert_eq!(
            format_request(&listed[0]),
            format!("{REQ}\t{SCID}\t{CARD}\talice\topen\tenroll\tApproved")
        );
        std::fs::remove_dir_all(dir).unwrap();
    }

    /// Issue #24 item 11: someone else's request, open or closed, is refused with the rule
    /// an unknown request gets, so a caller cannot tell that it exists.
    #[test]
    fn someone_elses_request_is_refused_like_an_unknown_one() {
        let (registry, dir) = registry("disclosure");
        let card = CardId::parse(CARD).unwrap();
        registry
            .add(&enroll(REQ, SCID, card, "alice"), unrecorded)
            .unwrap();
        let unknown = registry.authorize_ask(
            Some("bob"),
            Some(g("00000000-0000-0000-0000-00000000beef")),
            g(SCID),
            Some(card),
        );
        let alices = registry.authorize_ask(Some("bob"), Some(g(REQ)), g(SCID), Some(card));
        assert_eq!(unknown, Err(NOT_REGISTERED));
        assert_eq!(alices, unknown);
        // Her request's smart card and card IDs are not checked for bob either.
        assert_eq!(
            registry.authorize_ask(Some("bob"), Some(g(REQ)), g(CARD), None),
            unknown
        );
        registry
            .close(g(REQ), Status::Canceled, unrecorded)
            .unwrap();
        assert_eq!(
            registry.authorize_ask(Some("bob"), Some(g(REQ)), g(SCID), Some(card)),
            unknown
        );
        std::fs::remove_dir_all(dir).unwrap();
    }

    /// Issue #24 item 14: the registry file, and the write-ahead log and shared memory files
    /// SQLite makes beside it, are readable and writable by their owner only.
    #[cfg(unix)]
    #[test]
    fn the_registry_is_created_0600() {
        use std::os::unix::fs::PermissionsExt as _;
        let (registry, dir) = registry("mode");
        registry
            .add(
                &enroll(REQ, SCID, CardId::parse(CARD).unwrap(), "alice"),
                unrecorded,
            )
            .unwrap();
        for name in [
            "registry.sqlite",
            "registry.sqlite-wal",
            "registry.sqlite-shm",
        ] {
            let mode = std::fs::metadata(dir.join(name))
                .unwrap()
                .permissions()
                .mode()
                & 0o777;
            assert_eq!(mode, 0o600, "{name}: {mode:o}");
        }
        std::fs::remove_dir_all(dir).unwrap();
    }

    /// A change whose audit line cannot be written is not made.
    #[test]
    fn a_change_that_cannot_be_recorded_is_not_made() {
        let (registry, dir) = registry("unrecorded");
        let card = CardId::parse(CARD).unwrap();
        let failing = |_: RegistryAction, _: &Request| Err(String::from("audit: disk full"));
        let refused = registry
            .add(&enroll(REQ, SCID, card, "alice"), failing)
            .unwrap_err();
        assert!(refused.contains("disk full; request"), "{refused}");
        assert!(registry.list().unwrap().is_empty());
        let mut seen = Vec::new();
        registry
            .add(&enroll(REQ, SCID, card, "alice"), |action, request| {
                seen.push((action, request.operator.clone()));
                Ok(())
            })
            .unwrap();
        assert_eq!(seen, [(RegistryAction::Add, String::from("alice"))]);
        assert!(registry.close(g(REQ), Status::Canceled, failing).is_err());
        assert_eq!(registry.list().unwrap()[0].state, State::Open);
        std::fs::remove_dir_all(dir).unwrap();
    }

    /// Issue #24 item 11: a close that comes while a key is in use (checked and used in one
    /// write transaction) commits only after the use; one that committed before is seen.
    #[test]
    fn a_close_waits_for_the_key_use_in_progress() {
        let (registry, dir) = registry("race");
        let card = CardId::parse(CARD).unwrap();
        registry
            .add(&enroll(REQ, SCID, card, "alice"), unrecorded)
            .unwrap();
        // The command line's connection: another process in real life.
        let other = Registry::open(&dir.join("registry.sqlite"), 1).unwrap();
        let (started, in_use) = std::sync::mpsc::channel();
        let events = Mutex::new(Vec::new());
        std::thread::scope(|scope| {
            let (other, events) = (&other, &events);
            scope.spawn(move || {
                in_use.recv().unwrap();
                other.close(g(REQ), Status::Canceled, unrecorded).unwrap();
                events.lock().unwrap().push("closed");
            });
            let used = registry.while_authorized(
                &ask(Some("alice"), Some(g(REQ)), g(SCID), Some(card)),
                None,
                || {
                    started.send(()).unwrap();
                    // However long the use takes, the close waits for it.
                    std::thread::sleep(Duration::from_millis(300));
                    events.lock().unwrap().push("used");
                },
            );
            assert_eq!(used, Ok(()));
        });
        assert_eq!(*events.lock().unwrap(), ["used", "closed"]);
        let used = registry.while_authorized(
            &ask(Some("alice"), Some(g(REQ)), g(SCID), Some(card)),
            None,
            || panic!("a key used for a closed request"),
        );
        assert_eq!(used, Err(CLOSED));
        std::fs::remove_dir_all(dir).unwrap();
    }
}
