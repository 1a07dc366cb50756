//! A request's check, held until its key is used (issue #23).
//!
//! A request that will use a key is checked once, in a transaction that reads the request's
//! row and its card's with row locks (`FOR SHARE`; `FOR UPDATE` for `diversifiedkey`, which
//! writes the card's pending version). The transaction stays open, on its pooled connection,
//! while the audit record is committed and the key is used, so a `requests close` or a `PUT
//! /requests/{id}` (an `UPDATE` of those rows) that comes meanwhile waits until the key has
//! been used, and one that committed before the check is seen by it. One check and one
//! transaction per request, where a check before the record and another around the key use
//! took twice the statements: on a machine whose cores the database shares, its statements
//! are most of what an audited request costs.
//!
//! The transaction's `BEGIN` and its one `SELECT` are sent together (pipelined); its end is a
//! `ROLLBACK` sent without waiting for it (nothing was written) or, after `diversifiedkey`,
//! a `COMMIT` that is waited for (the pending version must be durable before the answer).
//! A [`Held`] dropped on any path (a refusal, a 503, a request whose client went away) ends
//! its transaction the same way; a connection whose `ROLLBACK` fails is closed, never put back
//! in the pool inside a transaction. A connection lost while the check is held (the database
//! restarted, its backend terminated) has lost its locks with it: the key is then not used
//! (503). What this cannot see is a loss not noticed yet when the key is used, a window of
//! the time the operating system takes to report it.

use deadpool_postgres::Object;

use super::{outcome, row_to_card, row_to_request, rule_of, select_requests, Database, TIMEOUT};
use crate::pg::Denied;
use crate::registry::{self, Ask, Card, KeyAsk, Request};

/// The request and its card, read and locked in one statement: the card's row is the one the
/// request names (`NULL` columns when it has none, or the card has no row yet).
const LOCK_FOR_USE: &str = "WITH r AS (SELECT reqid, scid, cardid, operator, state, type, status FROM requests WHERE reqid = $1 FOR SHARE),
c AS (SELECT cardid, confirmed, pending, pending_reqid, retired FROM cards WHERE cardid = (SELECT cardid FROM r) FOR SHARE)
SELECT r.*, c.* FROM r LEFT JOIN c ON true";

/// [`LOCK_FOR_USE`] for `diversifiedkey`: the card's row `FOR UPDATE`, as its pending version
/// is written in this transaction.
const LOCK_FOR_DERIVE: &str = "WITH r AS (SELECT reqid, scid, cardid, operator, state, type, status FROM requests WHERE reqid = $1 FOR SHARE),
c AS (SELECT cardid, confirmed, pending, pending_reqid, retired FROM cards WHERE cardid = (SELECT cardid FROM r) FOR UPDATE)
SELECT r.*, c.* FROM r LEFT JOIN c ON true";

/// The column of [`LOCK_FOR_USE`]'s row where the card's columns start.
const CARD_COLUMNS_AT: usize = 7;

/// A request checked under row locks that keep the check true until [`Held::use_key`] (or the
/// drop) ends the transaction. Made by [`Database::hold`].
pub struct Held {
    /// The pooled connection with the open transaction.
    client: Option<Object>,
    /// The master version a card key answers under.
    version: Option<u8>,
    /// `diversifiedkey`: its pending version is written and committed.
    derive: bool,
}

impl Held {
    /// The master version a card key answers under (as [`Database::authorize`] gives it).
    pub fn version(&self) -> Option<u8> {
        self.version
    }

    /// Runs `use_key` with the check still true; for `diversifiedkey`, writes the card's
    /// pending version first and commits it before returning. `Err` (503) when the database
    /// failed on the way: then no key was used.
    pub async fn use_key<T>(
        mut self,
        database: &Database,
        ask: &Ask<'_>,
        use_key: impl FnOnce() -> T,
    ) -> Result<T, Denied> {
        let Some(client) = self.client.take() else {
            return Err(Denied::Unavailable);
        };
        // A connection lost since the check took its locks with it (the database ends the
        // transaction): a close may have committed since, so no key.
        if client.is_closed() {
            database.failed(
                "holding the request's check",
                "the connection was lost before the key use",
            );
            discard(client);
            return Err(Denied::Unavailable);
        }
        if !self.derive {
            let used = use_key();
            release(client);
            return Ok(used);
        }
        let what = "recording the card's pending version";
        let (Some(version), Some(reqid), Some(cardid)) = (self.version, ask.reqid, ask.cardid)
        else {
            // No version to record (a card refused by its rules never gets here).
            let used = use_key();
            release(client);
            return Ok(used);
        };
        let written = tokio::time::timeout(
            TIMEOUT,
            client.execute(
                "INSERT INTO cards (cardid, pending, pending_reqid) VALUES ($1, $2, $3)
                 ON CONFLICT (cardid) DO UPDATE SET pending = $2, pending_reqid = $3",
                &[
                    &&cardid.as_bytes()[..],
                    &i16::from(version),
                    &&reqid.as_bytes()[..],
                ],
            ),
        )
        .await;
        if let Err(err) = outcome(written) {
            database.failed(what, &err);
            discard(client);
            return Err(Denied::Unavailable);
        }
        let used = use_key();
        let committed = tokio::time::timeout(TIMEOUT, client.batch_execute("COMMIT")).await;
        if let Err(err) = outcome(committed) {
            database.failed(what, &err);
            discard(client);
            return Err(Denied::Unavailable);
        }
        Ok(used)
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        if let Some(client) = self.client.take() {
            release(client);
        }
    }
}

/// Ends the transaction on `client` with a `ROLLBACK` not waited for, then lets the
/// connection go back to the pool; one whose `ROLLBACK` fails is closed instead.
fn release(client: Object) {
    match tokio::runtime::Handle::try_current() {
        Ok(runtime) => {
            runtime.spawn(async move {
                let rolled_back =
                    tokio::time::timeout(TIMEOUT, client.batch_execute("ROLLBACK")).await;
                if outcome(rolled_back).is_err() {
                    discard(client);
                }
            });
        }
        Err(_) => discard(client),
    }
}

/// Closes `client`'s connection instead of returning it to the pool: its transaction's state
/// is unknown (the database ends the transaction when the connection closes).
fn discard(client: Object) {
    drop(Object::take(client));
}

impl Database {
    /// [`Database::authorize`] for a request that will use a key, with the check held (see
    /// the module's docs) until [`Held::use_key`]: `Err` a rule (403; the transaction is
    /// ended) or [`Denied::Unavailable`] (503).
    pub async fn hold(&self, ask: &Ask<'_>) -> Result<Held, Denied> {
        let Some(operator) = ask.operator else {
            return Err(Denied::Rule(registry::NO_OPERATOR));
        };
        let client = self.client().await.map_err(|()| Denied::Unavailable)?;
        // `held` owns the connection before `BEGIN` is sent: if this future is dropped during
        // the read (the client went away), its drop ends the transaction, and the connection
        // never goes back to the pool inside one.
        let mut held = Held {
            client: Some(client),
            version: None,
            derive: ask.key == KeyAsk::CardDerive,
        };
        let Some(client) = held.client.as_ref() else {
            return Err(Denied::Unavailable);
        };
        let read =
            tokio::time::timeout(TIMEOUT, read_locked(client, operator, ask, held.derive)).await;
        let (rows, card) = match outcome(read) {
            Ok(read) => read,
            Err(err) => {
                // The transaction's state is unknown: its connection is closed.
                self.failed("checking the request before its key use", &err);
                if let Some(client) = held.client.take() {
                    discard(client);
                }
                return Err(Denied::Unavailable);
            }
        };
        self.answered();
        // A refusal drops `held`, which ends the transaction.
        held.version = rule_of(ask, &rows, card.as_ref())?;
        Ok(held)
    }
}

/// `BEGIN` and the locking read, pipelined: the request's row and its card's (with a request
/// ID), else the caller's open requests for the smart card.
async fn read_locked(
    client: &Object,
    operator: &str,
    ask: &Ask<'_>,
    derive: bool,
) -> Result<(Vec<Request>, Option<Card>), tokio_postgres::Error> {
    match ask.reqid {
        Some(reqid) => {
            let sql = if derive {
                LOCK_FOR_DERIVE
            } else {
                LOCK_FOR_USE
            };
            let statement = client.prepare_cached(sql).await?;
            let reqid = &reqid.as_bytes()[..];
            let params: [&(dyn tokio_postgres::types::ToSql + Sync); 1] = [&reqid];
            let (_, rows) = tokio::try_join!(
                client.batch_execute("BEGIN"),
                client.query(&statement, &params)
            )?;
            let Some(row) = rows.first() else {
                return Ok((Vec::new(), None));
            };
            // A row that does not read as a request or a card (it cannot: the tables' checks)
            // refuses, as a missing one does.
            let request = row_to_request(row).ok();
            let card = match row.try_get::<_, Option<Vec<u8>>>(CARD_COLUMNS_AT) {
                Ok(Some(_)) => row_to_card(row, CARD_COLUMNS_AT).ok(),
                _ => None,
            };
            Ok((request.into_iter().collect(), card))
        }
        None => {
            client.batch_execute("BEGIN").await?;
            select_requests(client, operator, None, ask.scid, true)
                .await
                .map(|rows| (rows, None))
        }
    }
}
