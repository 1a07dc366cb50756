//! The storage seam (issue #23): the registry, the audit trail and the two per-operator
//! limits, each over two backends, behind the same asynchronous calls, so that the handler
//! ([`crate::handler`]) meets a request the same way whichever holds them.
//!
//! - Embedded (the default): the SQLite registry ([`crate::registry`]), the JSON-lines file
//!   trail ([`crate::audit`]) and the limits in process memory ([`crate::ratelimit`]). SQLite
//!   calls block, so they run on tokio's blocking threads (`spawn_blocking`), not on the
//!   threads that serve connections.
//! - `"database"`: PostgreSQL ([`crate::pg`]), shared by every instance.

use std::sync::Arc;
use std::time::Instant;

use cardadmin::CardId;
use cardadmin_mimcm::Guid;

use crate::audit::{AuditLog, Entry};
pub use crate::pg::Denied;
use crate::pg::{self, Database};
use crate::ratelimit::{self, Refusal};
use crate::registry::{self, Ask, Card, Done, KeyAsk, LifecycleError, Op, UNAVAILABLE};

/// The request registry.
pub enum Registry {
    /// `"registry"`: the SQLite file.
    Sqlite(Arc<registry::Registry>),
    /// `"database"`.
    Postgres(Arc<Database>),
}

impl Registry {
    /// Whether the caller may ask this, and the master version a card key answers under: see
    /// [`registry::Registry::authorize`]. For a request that will use a key the database's
    /// check is held ([`pg::Held`]) until [`Registry::while_authorized`]. The SQLite registry
    /// that cannot be read refuses with [`UNAVAILABLE`] (403, as before); the database that
    /// does not answer is [`Denied::Unavailable`] (503).
    pub async fn authorize(&self, ask: &Ask<'_>) -> Result<Checked, Denied> {
        match self {
            Self::Sqlite(registry) => {
                let registry = registry.clone();
                let owned = OwnedAsk::from(ask);
                tokio::task::spawn_blocking(move || registry.authorize(&owned.ask()))
                    .await
                    .unwrap_or(Err(UNAVAILABLE))
                    .map(Checked::Released)
                    .map_err(Denied::Rule)
            }
            Self::Postgres(database) if ask.key != KeyAsk::None => database
                .hold(ask)
                .await
                .map(|held| Checked::Held(Box::new(held))),
            Self::Postgres(database) => database.authorize(ask).await.map(Checked::Released),
        }
    }

    /// Runs `use_key` while no close can commit, the check still true: the SQLite registry
    /// checks again (the version still the one `checked` planned, the one the audit record
    /// names) in the transaction that uses the key; the database's check was held since
    /// [`Registry::authorize`]. See [`registry::Registry::while_authorized`] and [`pg::Held`].
    pub async fn while_authorized<T: Send + 'static>(
        &self,
        ask: &Ask<'_>,
        checked: Checked,
        use_key: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, Denied> {
        match (self, checked) {
            (Self::Postgres(database), Checked::Held(held)) => {
                held.use_key(database, ask, use_key).await
            }
            (Self::Sqlite(registry), checked) => {
                let registry = registry.clone();
                let owned = OwnedAsk::from(ask);
                let planned = checked.version();
                tokio::task::spawn_blocking(move || {
                    registry.while_authorized(&owned.ask(), planned, use_key)
                })
                .await
                .unwrap_or(Err(UNAVAILABLE))
                .map_err(Denied::Rule)
            }
            // A check that was not held (a request that was to use no key) uses none.
            (Self::Postgres(_), Checked::Released(_)) => Err(Denied::Unavailable),
        }
    }

    /// Whether `operator` has an open request: `Err` a rule (403) or an unavailable database.
    pub async fn has_open_request(&self, operator: &str) -> Result<bool, Denied> {
        match self {
            Self::Sqlite(registry) => {
                let registry = registry.clone();
                let operator = operator.to_string();
                tokio::task::spawn_blocking(move || registry.has_open_request(&operator))
                    .await
                    .unwrap_or(Err(UNAVAILABLE))
                    .map_err(Denied::Rule)
            }
            Self::Postgres(database) => database
                .has_open_request(operator)
                .await
                .map_err(|()| Denied::Unavailable),
        }
    }

    /// A lifecycle operation (issue #25), committed when `commit`, else a dry run: see
    /// [`registry::Registry::lifecycle`].
    pub async fn lifecycle(&self, op: &Op, commit: bool) -> Result<Done, LifecycleError> {
        match self {
            Self::Sqlite(registry) => {
                let registry = registry.clone();
                let op = op.clone();
                tokio::task::spawn_blocking(move || registry.lifecycle(&op, commit))
                    .await
                    .unwrap_or(Err(LifecycleError::Forbidden(UNAVAILABLE)))
                    // The SQLite file that cannot be read refuses as the key routes do.
                    .map_err(|err| match err {
                        LifecycleError::Unavailable => LifecycleError::Forbidden(UNAVAILABLE),
                        other => other,
                    })
            }
            Self::Postgres(database) => database.lifecycle(op, commit).await,
        }
    }

    /// Every card's row.
    pub async fn cards(&self) -> Result<Vec<Card>, String> {
        match self {
            Self::Sqlite(registry) => {
                let registry = registry.clone();
                tokio::task::spawn_blocking(move || registry.cards())
                    .await
                    .map_err(|err| err.to_string())?
            }
            Self::Postgres(database) => database.cards().await,
        }
    }
}

/// What [`Registry::authorize`] found: the master version a card key answers under, and for
/// the database, the check held until the key is used.
pub enum Checked {
    /// A check made and let go: the SQLite registry's (it checks again around the key use),
    /// or the database's for a request that uses no key.
    Released(Option<u8>),
    /// The database's check, held until the key is used.
    Held(Box<pg::Held>),
}

impl Checked {
    /// The master version a card key answers under.
    pub fn version(&self) -> Option<u8> {
        match self {
            Self::Released(version) => *version,
            Self::Held(held) => held.version(),
        }
    }
}

/// An [`Ask`] that owns its operator, to cross to a blocking thread.
struct OwnedAsk {
    operator: Option<String>,
    reqid: Option<Guid>,
    scid: Guid,
    cardid: Option<CardId>,
    key: KeyAsk,
    current: Option<u8>,
}

impl From<&Ask<'_>> for OwnedAsk {
    fn from(ask: &Ask<'_>) -> Self {
        Self {
            operator: ask.operator.map(str::to_string),
            reqid: ask.reqid,
            scid: ask.scid,
            cardid: ask.cardid,
            key: ask.key,
            current: ask.current,
        }
    }
}

impl OwnedAsk {
    fn ask(&self) -> Ask<'_> {
        Ask {
            operator: self.operator.as_deref(),
            reqid: self.reqid,
            scid: self.scid,
            cardid: self.cardid,
            key: self.key,
            current: self.current,
        }
    }
}

/// The audit trail.
pub enum Audit {
    /// `"audit_log"`: the JSON-lines file.
    File(AuditLog),
    /// `"database"`: this node's chain.
    Postgres(pg::Trail),
}

impl Audit {
    /// Appends `entry`; returns once it is on disk (committed). `Err`: it is not, and no key
    /// may be used.
    pub async fn append(&self, entry: Entry) -> Result<(), ()> {
        match self {
            Self::File(log) => log.append(entry).await,
            Self::Postgres(trail) => trail.append(entry).await,
        }
    }

    /// The server is stopping: the file's anchor, or the database's shutdown checkpoint.
    pub async fn at_shutdown(&self) {
        match self {
            Self::File(log) => log.anchor_at_shutdown().await,
            Self::Postgres(trail) => trail.shutdown().await,
        }
    }
}

/// `"rate_limit_per_minute"`: key uses per operator per minute.
pub enum KeyUseLimit {
    /// Counted in this process.
    Memory(ratelimit::RateLimit),
    /// Counted in the database, across every instance.
    Postgres {
        /// The database.
        database: Arc<Database>,
        /// The limit.
        per_minute: u32,
    },
}

impl KeyUseLimit {
    /// The limit.
    pub fn per_minute(&self) -> u32 {
        match self {
            Self::Memory(limit) => limit.per_minute(),
            Self::Postgres { per_minute, .. } => *per_minute,
        }
    }

    /// Counts one key use if the limit allows it: `Ok(true)`, `Ok(false)` (429), or `Err`
    /// when the database did not answer (503).
    pub async fn allow(&self, operator: &str) -> Result<bool, ()> {
        match self {
            Self::Memory(limit) => Ok(limit.allow(operator, Instant::now())),
            Self::Postgres {
                database,
                per_minute,
            } => database.allow_key_use(operator, *per_minute).await,
        }
    }
}

/// `"refusals_per_minute"`: recorded refusals per operator per minute.
pub enum RefusalLimit {
    /// Counted in this process.
    Memory(ratelimit::RefusalLimit),
    /// Counted in the database, across every instance.
    Postgres {
        /// The database.
        database: Arc<Database>,
        /// The limit.
        per_minute: u32,
    },
}

impl RefusalLimit {
    /// The limit.
    pub fn per_minute(&self) -> u32 {
        match self {
            Self::Memory(limit) => limit.per_minute(),
            Self::Postgres { per_minute, .. } => *per_minute,
        }
    }

    /// See [`ratelimit::RefusalLimit::check`]. A database that does not answer says
    /// "record": the record then cannot be written either, and the caller gets 503.
    pub async fn check(&self, operator: &str) -> Refusal {
        match self {
            Self::Memory(limit) => limit.check(operator, Instant::now()),
            Self::Postgres {
                database,
                per_minute,
            } => database
                .check_refusal(operator, *per_minute)
                .await
                .unwrap_or(Refusal::Record { unrecorded: 0 }),
        }
    }

    /// Every count not recorded yet (the server is stopping).
    pub async fn take_unrecorded(&self) -> Vec<(String, u64)> {
        match self {
            Self::Memory(limit) => limit.take_unrecorded(),
            Self::Postgres { database, .. } => database.take_unrecorded().await.unwrap_or_default(),
        }
    }
}
