//! The request registry: which requests exist, for which smart card and card, whose they are,
//! and whether they are open. SQLite (`rusqlite` with its bundled SQLite: nothing to install),
//! one file named by the configuration's `"registry"`, created on first use, readable and
//! writable by its owner only (0600; SQLite gives its `-wal` and `-shm` files the same mode).
//!
//! MIM CM answers only for a card that belongs to an approved request of the caller; this is
//! the example server's stand-in for MIM CM's request database, managed with
//! `cardadmin-server requests add|close|list --config CONFIG`.
//!
//! GUIDs are stored as their 16 bytes (the Windows GUID layout that `cm::Guid` and `CardId`
//! read), so `{A9B4...}`, `a9b4...` and bare hex are one request: they are compared as GUIDs,
//! never as text. The server reads the file on every request (no cache): a request closed from
//! the command line is closed for the next request, and for one whose audit line is being
//! written ([`Registry::while_authorized`]: the check is made again, in the transaction the
//! key is used in). SQLite's write-ahead log lets the command line write while the server
//! reads, and a server killed at any moment leaves the file consistent (SQLite's
//! transactions).

use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

use cardadmin::CardId;
use cardadmin_mimcm::Guid;
use rusqlite::{params, Connection, OptionalExtension as _, TransactionBehavior};

use crate::audit::RegistryAction;

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

/// One registered request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    /// The request ID.
    pub reqid: Guid,
    /// The smart card ID.
    pub scid: Guid,
    /// The card ID (the card's `cardid` file).
    pub cardid: CardId,
    /// The operator who may ask for it: a client certificate's subject common name.
    pub operator: String,
    /// Open or closed.
    pub state: State,
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
pub const WRONG_SCID: Rule = "the smart card ID is not the request's";
/// See [`NOT_REGISTERED`].
pub const WRONG_CARDID: Rule = "the card ID is not the request's";
/// See [`NOT_REGISTERED`].
pub const NO_OPEN_REQUEST: Rule = "the caller has no open request for this smart card";
/// See [`NOT_REGISTERED`].
pub const NO_OPERATOR: Rule = "the caller is not identified (no client certificate)";
/// See [`NOT_REGISTERED`].
pub const UNAVAILABLE: Rule = "the request registry could not be read";

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

impl Registry {
    /// Opens the registry at `path`, creating the file (0600) and its table on first use.
    pub fn open(path: &Path) -> Result<Self, String> {
        create_private(path)?;
        let context = |err: rusqlite::Error| format!("registry {}: {err}", path.display());
        let connection = Connection::open(path).map_err(context)?;
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
        connection
            .execute_batch(
                "CREATE TABLE IF NOT EXISTS requests (
                    reqid BLOB PRIMARY KEY CHECK (length(reqid) = 16),
                    scid BLOB NOT NULL CHECK (length(scid) = 16),
                    cardid BLOB NOT NULL CHECK (length(cardid) = 16),
                    operator TEXT NOT NULL CHECK (operator <> ''),
                    state TEXT NOT NULL CHECK (state IN ('open', 'closed'))
                );
                CREATE INDEX IF NOT EXISTS requests_by_card ON requests (scid, operator, state);",
            )
            .map_err(context)?;
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
        reqid: Guid,
        scid: Guid,
        cardid: CardId,
        operator: &str,
        mut record: impl FnMut(RegistryAction, &Request) -> Result<(), String>,
    ) -> Result<Request, String> {
        if operator.is_empty() {
            return Err("the operator is empty: give the client certificate's common name".into());
        }
        let mut connection = self.lock();
        let transaction = connection
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|err| format!("registry: {err}"))?;
        let inserted = transaction.execute(
            "INSERT INTO requests (reqid, scid, cardid, operator, state) VALUES (?1, ?2, ?3, ?4, 'open')",
            params![&reqid.as_bytes()[..], &scid.as_bytes()[..], &cardid.as_bytes()[..], operator],
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
        let request = Request {
            reqid,
            scid,
            cardid,
            operator: operator.to_string(),
            state: State::Open,
        };
        record(RegistryAction::Add, &request)
            .map_err(|err| format!("{err}; request {reqid} was not added"))?;
        if let Err(err) = transaction.commit() {
            let _ = record(RegistryAction::AddNotCommitted, &request);
            return Err(format!("registry: {err}; request {reqid} was not added"));
        }
        Ok(request)
    }

    /// Closes a request. Unknown or already closed is an error. `record` as for
    /// [`Registry::add`] (with [`RegistryAction::Close`]).
    pub fn close(
        &self,
        reqid: Guid,
        mut record: impl FnMut(RegistryAction, &Request) -> Result<(), String>,
    ) -> Result<Request, String> {
        let mut connection = self.lock();
        let transaction = connection
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|err| format!("registry: {err}"))?;
        let request = match get_in(&transaction, reqid)? {
            None => return Err(format!("request {reqid} is not registered")),
            Some(request) if request.state == State::Closed => {
                return Err(format!("request {reqid} is closed already"))
            }
            Some(request) => request,
        };
        transaction
            .execute(
                "UPDATE requests SET state = 'closed' WHERE reqid = ?1",
                params![&reqid.as_bytes()[..]],
            )
            .map_err(|err| format!("registry: {err}"))?;
        record(RegistryAction::Close, &request)
            .map_err(|err| format!("{err}; request {reqid} was not closed"))?;
        if let Err(err) = transaction.commit() {
            let _ = record(RegistryAction::CloseNotCommitted, &request);
            return Err(format!("registry: {err}; request {reqid} was not closed"));
        }
        Ok(Request {
            state: State::Closed,
            ..request
        })
    }

    /// Every request, in the order they were added.
    pub fn list(&self) -> Result<Vec<Request>, String> {
        let connection = self.lock();
        let mut statement = connection
            .prepare("SELECT reqid, scid, cardid, operator, state FROM requests ORDER BY rowid")
            .map_err(|err| format!("registry: {err}"))?;
        let rows = statement
            .query_map([], row_to_request)
            .map_err(|err| format!("registry: {err}"))?;
        rows.map(|row| row.map_err(|err| format!("registry: {err}")))
            .collect()
    }

    /// Whether `operator` may ask this: `Ok(())`, or the rule that failed.
    ///
    /// With a request ID in the path (`authenticationresponse`, `diversifiedkey`): the request
    /// exists and the caller is its operator (else [`NOT_REGISTERED`] either way), it is open,
    /// and the path's smart card ID and the query's card ID are the registered ones. Without
    /// (`serverproposedpin`): the caller has an open request for that smart card (and, when the
    /// query names a card ID, for that card).
    pub fn authorize(
        &self,
        operator: Option<&str>,
        reqid: Option<Guid>,
        scid: Guid,
        cardid: Option<CardId>,
    ) -> Result<(), Rule> {
        authorize_in(&self.lock(), operator, reqid, scid, cardid)
    }

    /// Checks [`Registry::authorize`] again and, if it still holds, runs `use_key` before
    /// anything can change the registry: the check and the use are one SQLite write
    /// transaction (nothing is written; it holds the write lock), so a `requests close` that
    /// comes while the key is being used commits after it, and one that committed before
    /// is seen. The server calls it between the audit line and the key use.
    pub fn while_authorized<T>(
        &self,
        operator: Option<&str>,
        reqid: Option<Guid>,
        scid: Guid,
        cardid: Option<CardId>,
        use_key: impl FnOnce() -> T,
    ) -> Result<T, Rule> {
        let mut connection = self.lock();
        let transaction = connection
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|err| {
                eprintln!("error: registry: {err}");
                UNAVAILABLE
            })?;
        authorize_in(&transaction, operator, reqid, scid, cardid)?;
        let used = use_key();
        // Nothing was written: the rollback only lets go of the lock.
        drop(transaction);
        Ok(used)
    }
}

fn get_in(connection: &Connection, reqid: Guid) -> Result<Option<Request>, String> {
    connection
        .query_row(
            "SELECT reqid, scid, cardid, operator, state FROM requests WHERE reqid = ?1",
            params![&reqid.as_bytes()[..]],
            row_to_request,
        )
        .optional()
        .map_err(|err| format!("registry: {err}"))
}

fn open_for_card_in(
    connection: &Connection,
    operator: &str,
    scid: Guid,
) -> Result<Vec<Request>, String> {
    let mut statement = connection
        .prepare_cached(
            "SELECT reqid, scid, cardid, operator, state FROM requests
             WHERE scid = ?1 AND operator = ?2 AND state = 'open'",
        )
        .map_err(|err| format!("registry: {err}"))?;
    let rows = statement
        .query_map(params![&scid.as_bytes()[..], operator], row_to_request)
        .map_err(|err| format!("registry: {err}"))?;
    rows.map(|row| row.map_err(|err| format!("registry: {err}")))
        .collect()
}

fn authorize_in(
    connection: &Connection,
    operator: Option<&str>,
    reqid: Option<Guid>,
    scid: Guid,
    cardid: Option<CardId>,
) -> Result<(), Rule> {
    let Some(operator) = operator else {
        return Err(NO_OPERATOR);
    };
    match reqid {
        Some(reqid) => {
            let request = get_in(connection, reqid).map_err(|err| {
                eprintln!("error: {err}");
                UNAVAILABLE
            })?;
            rule_for_request(operator, request.as_ref(), scid, cardid)
        }
        None => {
            let open = open_for_card_in(connection, operator, scid).map_err(|err| {
                eprintln!("error: {err}");
                UNAVAILABLE
            })?;
            rule_for_open(&open, cardid)
        }
    }
}

/// The rules for a request named by its ID (`request` as the registry has it, `None` when it
/// is not registered): the caller's, open, for this smart card and card. Shared by both
/// registry backends, so they refuse with the same words.
pub fn rule_for_request(
    operator: &str,
    request: Option<&Request>,
    scid: Guid,
    cardid: Option<CardId>,
) -> Result<(), Rule> {
    let request = request.ok_or(NOT_REGISTERED)?;
    if request.operator != operator {
        return Err(NOT_REGISTERED);
    }
    if request.state != State::Open {
        return Err(CLOSED);
    }
    if request.scid != scid {
        return Err(WRONG_SCID);
    }
    if cardid.is_some_and(|cardid| cardid != request.cardid) {
        return Err(WRONG_CARDID);
    }
    Ok(())
}

/// The rules without a request ID (`serverproposedpin`): `open` are the caller's open
/// requests for the smart card.
pub fn rule_for_open(open: &[Request], cardid: Option<CardId>) -> Result<(), Rule> {
    if open.is_empty() {
        return Err(NO_OPEN_REQUEST);
    }
    match cardid {
        Some(cardid) if !open.iter().any(|request| request.cardid == cardid) => Err(WRONG_CARDID),
        _ => Ok(()),
    }
}

fn guid_column(row: &rusqlite::Row<'_>, index: usize) -> rusqlite::Result<[u8; 16]> {
    let bytes: Vec<u8> = row.get(index)?;
    bytes.try_into().map_err(|_| {
        rusqlite::Error::FromSqlConversionFailure(
            index,
            rusqlite::types::Type::Blob,
            "a GUID column that is not 16 bytes".into(),
        )
    })
}

fn row_to_request(row: &rusqlite::Row<'_>) -> rusqlite::Result<Request> {
    let state: String = row.get(4)?;
    Ok(Request {
        reqid: Guid::from_bytes(guid_column(row, 0)?),
        scid: Guid::from_bytes(guid_column(row, 1)?),
        cardid: CardId::from_bytes(guid_column(row, 2)?),
        operator: row.get(3)?,
        state: if state == "open" {
            State::Open
        } else {
            State::Closed
        },
    })
}

/// `requests list`'s line for one request: tab-separated.
pub fn format_request(request: &Request) -> String {
    format!(
        "{}\t{}\t{}\t{}\t{}",
        request.reqid,
        request.scid,
        request.cardid,
        request.operator,
        request.state.as_str()
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
        (Registry::open(&path).unwrap(), dir)
    }

    fn g(text: &str) -> Guid {
        Guid::parse(text).unwrap()
    }

    fn unrecorded(_: RegistryAction, _: &Request) -> Result<(), String> {
        Ok(())
    }

    #[test]
    fn every_rule_in_order() {
        let (registry, dir) = registry("rules");
        registry
            .add(
                g(REQ),
                g(SCID),
                CardId::parse(CARD).unwrap(),
                "alice",
                unrecorded,
            )
            .unwrap();
        let card = Some(CardId::parse(CARD).unwrap());
        let other = Some(CardId::parse("00000000-0000-0000-0000-000000000001").unwrap());
        let auth = |op: Option<&str>, req: &str, scid: &str, card| {
            registry.authorize(op, Some(g(req)), g(scid), card)
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
            registry.authorize(Some("alice"), None, g(SCID), None),
            Ok(())
        );
        assert_eq!(
            registry.authorize(Some("alice"), None, g(SCID), card),
            Ok(())
        );
        assert_eq!(
            registry.authorize(Some("alice"), None, g(SCID), other),
            Err(WRONG_CARDID)
        );
        assert_eq!(
            registry.authorize(Some("bob"), None, g(SCID), None),
            Err(NO_OPEN_REQUEST)
        );
        registry.close(g(REQ), unrecorded).unwrap();
        assert_eq!(auth(Some("alice"), REQ, SCID, card), Err(CLOSED));
        assert_eq!(auth(Some("bob"), REQ, SCID, card), Err(NOT_REGISTERED));
        assert_eq!(
            registry.authorize(Some("alice"), None, g(SCID), None),
            Err(NO_OPEN_REQUEST)
        );
        assert!(registry
            .close(g(REQ), unrecorded)
            .unwrap_err()
            .contains("closed already"));
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn survives_reopening_and_refuses_duplicates() {
        let (registry, dir) = registry("reopen");
        registry
            .add(
                g(REQ),
                g(SCID),
                CardId::parse(CARD).unwrap(),
                "alice",
                unrecorded,
            )
            .unwrap();
        let again = registry.add(
            g(&REQ.to_uppercase()),
            g(SCID),
            CardId::parse(CARD).unwrap(),
            "bob",
            unrecorded,
        );
        assert!(again.unwrap_err().contains("registered already"));
        assert!(registry
            .add(
                g(SCID),
                g(SCID),
                CardId::parse(CARD).unwrap(),
                "",
                unrecorded
            )
            .is_err());
        drop(registry);
        let registry = Registry::open(&dir.join("registry.sqlite")).unwrap();
        let listed = registry.list().unwrap();
        assert_eq!(listed.len(), 1);
        assert_eq!(
            format_request(&listed[0]),
            format!("{REQ}\t{SCID}\t{CARD}\talice\topen")
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
            .add(g(REQ), g(SCID), card, "alice", unrecorded)
            .unwrap();
        let unknown = registry.authorize(
            Some("bob"),
            Some(g("00000000-0000-0000-0000-00000000beef")),
            g(SCID),
            Some(card),
        );
        let alices = registry.authorize(Some("bob"), Some(g(REQ)), g(SCID), Some(card));
        assert_eq!(unknown, Err(NOT_REGISTERED));
        assert_eq!(alices, unknown);
        // Her request's smart card and card IDs are not checked for bob either.
        assert_eq!(
            registry.authorize(Some("bob"), Some(g(REQ)), g(CARD), None),
            unknown
        );
        registry.close(g(REQ), unrecorded).unwrap();
        assert_eq!(
            registry.authorize(Some("bob"), Some(g(REQ)), g(SCID), Some(card)),
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
                g(REQ),
                g(SCID),
                CardId::parse(CARD).unwrap(),
                "alice",
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
            .add(g(REQ), g(SCID), card, "alice", failing)
            .unwrap_err();
        assert!(refused.contains("disk full; request"), "{refused}");
        assert!(registry.list().unwrap().is_empty());
        let mut seen = Vec::new();
        registry
            .add(g(REQ), g(SCID), card, "alice", |action, request| {
                seen.push((action, request.operator.clone()));
                Ok(())
            })
            .unwrap();
        assert_eq!(seen, [(RegistryAction::Add, String::from("alice"))]);
        assert!(registry.close(g(REQ), failing).is_err());
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
            .add(g(REQ), g(SCID), card, "alice", unrecorded)
            .unwrap();
        // The command line's connection: another process in real life.
        let other = Registry::open(&dir.join("registry.sqlite")).unwrap();
        let (started, in_use) = std::sync::mpsc::channel();
        let events = Mutex::new(Vec::new());
        std::thread::scope(|scope| {
            let (other, events) = (&other, &events);
            scope.spawn(move || {
                in_use.recv().unwrap();
                other.close(g(REQ), unrecorded).unwrap();
                events.lock().unwrap().push("closed");
            });
            let used =
                registry.while_authorized(Some("alice"), Some(g(REQ)), g(SCID), Some(card), || {
                    started.send(()).unwrap();
                    // However long the use takes, the close waits for it.
                    std::thread::sleep(Duration::from_millis(300));
                    events.lock().unwrap().push("used");
                });
            assert_eq!(used, Ok(()));
        });
        assert_eq!(*events.lock().unwrap(), ["used", "closed"]);
        let used =
            registry.while_authorized(Some("alice"), Some(g(REQ)), g(SCID), Some(card), || {
                panic!("a key used for a closed request")
            });
        assert_eq!(used, Err(CLOSED));
        std::fs::remove_dir_all(dir).unwrap();
    }
}
