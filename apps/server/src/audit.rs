//! The audit trail: one JSON object per line, each line chained to the one before it by the
//! SHA-256 of that line's bytes, written and flushed to disk before the key it records is used.
//!
//! What the chain proves and what it does not, the locks and the anchors are described for
//! operators in `apps/server/README.md` ("The audit trail"); this is the format and the code.
//!
//! # Format
//!
//! Every line is one JSON object ending in `"prev"`: the lower-case hex SHA-256 of the previous
//! line's bytes (without its newline), 64 zeros on the first line. Three kinds of lines:
//!
//! **The file id line** (the first line of a trail; in a trail written before file ids, the
//! line appended when the server or `requests` first opened it):
//!
//! | field | value |
//! |---|---|
//! | `time` | when the file was started, UTC, RFC 3339 with milliseconds |
//! | `audit_trail` | `"cardadmin-server"` |
//! | `file_id` | 32 lower-case hex digits drawn from the operating system's generator: this trail's name |
//!
//! **A request** (one per HTTP request, and a second one when the answer is not the one first
//! recorded):
//!
//! | field | value |
//! |---|---|
//! | `time` | when the line was made, UTC, RFC 3339 with milliseconds (`2026-12-02T19:20:01.123Z`) |
//! | `operator` | the caller: the client certificate's subject common name; `null` over plain HTTP |
//! | `endpoint` | `authenticationresponse`, `diversifiedkey`, `serverproposedpin`, or `null` when the request did not parse |
//! | `reqid`, `scid`, `cardid` | the request's GUIDs, lower-case `D` form, or `null` |
//! | `diversified` | as `cm::ParsedRequest::diversified`, or `null` |
//! | `key_role` | `initial_key`, `card_key`, or `null` when no key answers |
//! | `key_check_value` | the check value of the key held for that role (6 hex digits), or `null` |
//! | `status` | the HTTP status of the answer |
//! | `message` | for a refusal or an error, what the caller was told (the rule that failed); else `null` |
//!
//! **A registry change** (`requests add` and `requests close`, written before the change
//! commits):
//!
//! | field | value |
//! |---|---|
//! | `time` | as above |
//! | `registry` | `add`, `close`, or `add not committed` / `close not committed` when the registry could not commit the change recorded on the line before |
//! | `reqid`, `scid`, `cardid` | the request's GUIDs |
//! | `operator` | the request's operator (not who ran the command) |
//! | `uid` | the user id that ran the command (`null` where there is none) |
//!
//! Never key bytes, PINs, challenges or responses.
//!
//! # Who writes, and the locks
//!
//! The server holds an exclusive lock (`flock`) on the trail file for as long as it runs: a
//! second server on the same file refuses to start, so two writers cannot fork the chain.
//! `requests add|close` write while the server runs; every append (the server's and theirs)
//! happens under an exclusive lock on `<audit_log>.lock` beside the file, and the writer first
//! reads and checks any lines another process appended since its last write, then continues
//! the chain from the last of them.
//!
//! # When a line is written
//!
//! The core decides before any key is used what will be done (`cm::ParsedRequest::audit`):
//! the key role, its check value and the status the answer will have. The server writes that
//! line, waits until it is on disk (`fdatasync`), and only then lets the core use the key
//! (`cm::answer`). If the line cannot be written, the caller gets a 503 and no key is used; the
//! writer cuts the file back to its last whole line (a failed write may have left part of one)
//! and the next request tries again, so the server recovers by itself when the disk does. If
//! the answer's status differs from the one recorded (the request was closed while its line
//! was being written, the random generator failed while proposing a PIN: no key is used), a
//! second line records the real status.
//!
//! Lines are written by one thread that takes every line waiting when it wakes, writes them
//! in one `write` and flushes them with one `fdatasync` (group commit): concurrent requests
//! share the flush, and the chain is built in the order the lines reach the file.
//!
//! # Anchors
//!
//! The chain head (the SHA-256 of a line, which vouches for every line before it) is written to
//! the server's standard error every `"audit_anchor_every"` lines (default 1000) and when the
//! server stops, as `audit anchor: PATH file id ID line N head HASH`, so that a copy exists
//! outside the file: a rewritten trail no longer has that head at that line.

use std::fs::{File, OpenOptions};
use std::io::{Read as _, Seek as _, SeekFrom, Write as _};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{SystemTime, UNIX_EPOCH};

use cardadmin::rand_core::RngCore as _;
use cardadmin::CardId;
use cardadmin_mimcm::{self as cm, Guid};
use serde::Serialize;
use sha2::{Digest as _, Sha256};

use crate::registry::RegistryAction;

/// `prev` of the first line.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The default of `"audit_anchor_every"`.
pub const DEFAULT_ANCHOR_EVERY: u64 = 1000;

/// The fields every request line must have (besides `prev`), for [`verify`].
pub const REQUEST_FIELDS: [&str; 11] = [
    "time",
    "operator",
    "endpoint",
    "reqid",
    "scid",
    "cardid",
    "diversified",
    "key_role",
    "key_check_value",
    "status",
    "message",
];

/// The fields of a registry change line (besides `prev`).
pub const REGISTRY_FIELDS: [&str; 7] = [
    "time", "registry", "reqid", "scid", "cardid", "operator", "uid",
];

/// The fields of the file id line (besides `prev`).
const HEADER_FIELDS: [&str; 3] = ["time", "audit_trail", "file_id"];

/// The file id line's `audit_trail`.
const TRAIL_NAME: &str = "cardadmin-server";

/// One line's content before it is chained: a core audit record plus what only the server
/// knows (the time is added by the writer).
#[derive(Clone, Debug)]
pub struct Entry {
    /// The caller, `None` over plain HTTP.
    pub operator: Option<String>,
    /// The core's record; `None` for a request refused before the core saw it (a method
    /// other than GET), and for the summary of refusals that were not recorded one by one.
    pub record: Option<cm::AuditRecord>,
    /// The HTTP status of the answer.
    pub status: u16,
    /// What the caller was told, for a refusal or an error.
    pub message: Option<String>,
    /// For the lifecycle routes (issue #25), which the core does not parse: what was asked
    /// (boxed: most lines have none, and entries wait in queues).
    pub lifecycle: Option<Box<LifecycleRecord>>,
    /// For a card key: the master version that answers (issue #25).
    pub key_version: Option<u8>,
}

/// What a lifecycle route (issue #25) was asked and changed, for its line: the same fields as a
/// key route's line, and what changed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LifecycleRecord {
    /// `profiletemplates/configuration/smartcards`, `smartcards`, `requests` or
    /// `requests/smartcards`.
    pub endpoint: &'static str,
    /// The request.
    pub reqid: Option<Guid>,
    /// The smart card.
    pub scid: Option<Guid>,
    /// The card.
    pub cardid: Option<CardId>,
    /// `initial_key` for the profile's configuration (it holds the initial admin key).
    pub key_role: Option<&'static str>,
    /// That key's check value.
    pub key_check_value: Option<String>,
    /// What changed (`smart card ... created`, `Completed: 1 pending version confirmed`, ...).
    pub change: Option<String>,
}

/// A registry change line's content.
#[derive(Clone, Debug)]
pub struct RegistryChange {
    /// What was done.
    pub action: RegistryAction,
    /// The request ID.
    pub reqid: Guid,
    /// The request's smart card ID (`None`: not bound yet).
    pub scid: Option<Guid>,
    /// The request's card ID (`None`: not bound yet).
    pub cardid: Option<CardId>,
    /// The request's type (`enroll`, `renew`, `retire`).
    pub kind: Option<&'static str>,
    /// The request's status after the change (`Approved`, `Completed`, ...).
    pub status: Option<&'static str>,
    /// The request's operator.
    pub operator: String,
    /// The user id that ran the command, where the system has one.
    pub uid: Option<u32>,
}

impl RegistryChange {
    /// The line for `action` on `request`, by user `uid`.
    pub fn of(
        action: RegistryAction,
        request: &crate::registry::Request,
        uid: Option<u32>,
    ) -> Self {
        Self {
            action,
            reqid: request.reqid,
            scid: request.scid,
            cardid: request.cardid,
            kind: Some(request.kind.as_str()),
            status: Some(request.status.as_str()),
            operator: request.operator.clone(),
            uid,
        }
    }
}

/// A line to write.
#[derive(Clone, Copy, Debug)]
pub enum Record<'a> {
    /// The file id line.
    FileId(&'a str),
    /// A request.
    Request(&'a Entry),
    /// A registry change.
    Registry(&'a RegistryChange),
    /// A checkpoint of the database trail: the heads of the other nodes' chains.
    Checkpoint(&'a Checkpoint),
}

/// A checkpoint record (database trail only, issue #23): when it was written and the latest
/// record (sequence number, hash) of every other node's chain this node could see, so that a
/// node's chain cut short after it is caught.
#[derive(Clone, Debug, Default)]
pub struct Checkpoint {
    /// `start`, `every` (every `audit_anchor_every` records) or `shutdown`.
    pub event: &'static str,
    /// Node name to (sequence number, hash) of its latest record.
    pub nodes: std::collections::BTreeMap<String, (u64, String)>,
}

/// Where a database trail's record sits: its node's chain and its sequence number in it. The
/// file trail's lines have none (and so keep their form).
#[derive(Clone, Copy, Debug)]
pub struct Position<'a> {
    /// The node's name (`"node_id"`).
    pub node: &'a str,
    /// 1 for the chain's first record.
    pub seq: u64,
}

#[derive(Serialize)]
struct NodeHead<'a> {
    seq: u64,
    hash: &'a str,
}

#[derive(Serialize)]
struct CheckpointLine<'a> {
    time: &'a str,
    node: &'a str,
    seq: u64,
    checkpoint: &'static str,
    nodes: std::collections::BTreeMap<&'a str, NodeHead<'a>>,
    prev: &'a str,
}

#[derive(Serialize)]
struct RequestLine<'a> {
    time: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    node: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    seq: Option<u64>,
    operator: Option<&'a str>,
    endpoint: Option<&'static str>,
    reqid: Option<String>,
    scid: Option<String>,
    cardid: Option<String>,
    diversified: Option<bool>,
    key_role: Option<&'static str>,
    key_check_value: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    key_version: Option<u8>,
    status: u16,
    message: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    change: Option<&'a str>,
    prev: &'a str,
}

#[derive(Serialize)]
struct RegistryLine<'a> {
    time: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    node: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    seq: Option<u64>,
    registry: &'static str,
    reqid: String,
    scid: Option<String>,
    cardid: Option<String>,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    kind: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    status: Option<&'static str>,
    operator: &'a str,
    uid: Option<u32>,
    prev: &'a str,
}

#[derive(Serialize)]
struct FileIdLine<'a> {
    time: &'a str,
    audit_trail: &'static str,
    file_id: &'a str,
    prev: &'a str,
}

/// The line's bytes (no newline) for `record` at `time`, chained to `prev`.
fn render(record: Record<'_>, time: &str, prev: &str) -> Vec<u8> {
    render_at(record, time, None, prev)
}

/// As [`render`], for a record at `position` in a database trail's node chain (the line
/// names its node and sequence number, so a record moved to another place no longer fits).
pub fn render_at(
    record: Record<'_>,
    time: &str,
    position: Option<Position<'_>>,
    prev: &str,
) -> Vec<u8> {
    let node = position.map(|position| position.node);
    let seq = position.map(|position| position.seq);
    // Structs of strings, numbers and options always serialize.
    match record {
        Record::Checkpoint(checkpoint) => serde_json::to_vec(&CheckpointLine {
            time,
            node: node.unwrap_or_default(),
            seq: seq.unwrap_or_default(),
            checkpoint: checkpoint.event,
            nodes: checkpoint
                .nodes
                .iter()
                .map(|(name, (seq, hash))| (name.as_str(), NodeHead { seq: *seq, hash }))
                .collect(),
            prev,
        }),
        Record::FileId(file_id) => serde_json::to_vec(&FileIdLine {
            time,
            audit_trail: TRAIL_NAME,
            file_id,
            prev,
        }),
        Record::Registry(change) => serde_json::to_vec(&RegistryLine {
            time,
            node,
            seq,
            registry: change.action.as_str(),
            reqid: change.reqid.to_string(),
            scid: change.scid.map(|id| id.to_string()),
            cardid: change.cardid.map(|id| id.to_string()),
            kind: change.kind,
            status: change.status,
            operator: &change.operator,
            uid: change.uid,
            prev,
        }),
        Record::Request(entry) => {
            if let Some(asked) = &entry.lifecycle {
                return serde_json::to_vec(&RequestLine {
                    time,
                    node,
                    seq,
                    operator: entry.operator.as_deref(),
                    endpoint: Some(asked.endpoint),
                    reqid: asked.reqid.map(|id| id.to_string()),
                    scid: asked.scid.map(|id| id.to_string()),
                    cardid: asked.cardid.map(|id| id.to_string()),
                    diversified: None,
                    key_role: asked.key_role,
                    key_check_value: asked.key_check_value.clone(),
                    key_version: None,
                    status: entry.status,
                    message: entry.message.as_deref(),
                    change: asked.change.as_deref(),
                    prev,
                })
                .unwrap_or_default();
            }
            let record = entry.record.as_ref();
            serde_json::to_vec(&RequestLine {
                time,
                node,
                seq,
                operator: entry.operator.as_deref(),
                endpoint: record
                    .and_then(cm::AuditRecord::endpoint)
                    .map(|endpoint| endpoint.as_str()),
                reqid: record
                    .and_then(cm::AuditRecord::request_id)
                    .map(|id| id.to_string()),
                scid: record
                    .and_then(cm::AuditRecord::smart_card_id)
                    .map(|id| id.to_string()),
                cardid: record
                    .and_then(cm::AuditRecord::card_id)
                    .map(|id| id.to_string()),
                diversified: record.and_then(cm::AuditRecord::diversified),
                key_role: record
                    .and_then(cm::AuditRecord::key_role)
                    .map(|role| role.as_str()),
                key_check_value: record
                    .and_then(cm::AuditRecord::key_check_value)
                    .map(|kcv| kcv.to_string()),
                key_version: entry.key_version,
                status: entry.status,
                message: entry.message.as_deref(),
                change: None,
                prev,
            })
        }
    }
    .unwrap_or_default()
}

/// Lower-case hex SHA-256.
pub fn hash_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

fn hex(bytes: &[u8]) -> String {
    let mut text = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        text.push_str(&format!("{byte:02x}"));
    }
    text
}

/// Whether `text` is `len` lower-case hex digits.
pub fn is_lower_hex(text: &str, len: usize) -> bool {
    text.len() == len
        && text
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Reads a file id as the configuration (`"audit_file_id"`) or `verify-audit --file-id`
/// gives it: 32 hex digits, either case; returns it in lower case.
pub fn parse_file_id(text: &str) -> Result<String, String> {
    let lower = text.to_ascii_lowercase();
    if is_lower_hex(&lower, 32) {
        Ok(lower)
    } else {
        Err(format!(
            "a file id is the 32 hex digits that `verify-audit` and the server's start-up line print, got {} characters{}",
            text.chars().count(),
            if text.chars().all(|c| c.is_ascii_hexdigit()) {
                ""
            } else {
                " with some that are not hex digits"
            }
        ))
    }
}

/// A new file id: 16 bytes from the operating system's generator, as hex.
fn new_file_id() -> Result<String, String> {
    let mut bytes = [0u8; 16];
    cardadmin::rng::OsRng
        .try_fill_bytes(&mut bytes)
        .map_err(|err| format!("no file id drawn: the random generator failed: {err}"))?;
    Ok(hex(&bytes))
}

/// UTC now as RFC 3339 with milliseconds.
pub fn now_rfc3339() -> String {
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    rfc3339(since.as_secs(), since.subsec_millis())
}

/// `secs` after the Unix epoch as `YYYY-MM-DDTHH:MM:SS.mmmZ` (proleptic Gregorian calendar).
pub fn rfc3339(secs: u64, millis: u32) -> String {
    let days = secs / 86_400;
    let rem = secs % 86_400;
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{millis:03}Z",
        rem / 3600,
        (rem / 60) % 60,
        rem % 60
    )
}

/// Days since 1970-01-01 to (year, month, day): the era arithmetic of the Gregorian calendar
/// (400-year eras of 146 097 days, years starting in March so the leap day comes last).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

/// Opens `path` for reading and appending, creating it readable and writable by its owner
/// only (0600): the trail names operators and requests.
fn open_private(path: &Path) -> std::io::Result<File> {
    let mut options = OpenOptions::new();
    options.read(true).append(true).create(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)
}

/// `<audit_log>.lock`: the file every appender locks while it appends.
pub fn lock_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".lock");
    PathBuf::from(name)
}

/// The append lock, held until dropped: an exclusive `flock` on `<audit_log>.lock`, taken on
/// a duplicate of the trail's descriptor for that file (a duplicate shares the lock).
struct AppendLock(File);

impl AppendLock {
    fn take(file: &File, path: &Path) -> Result<Self, String> {
        let fail = |err: std::io::Error| {
            format!(
                "audit log {}: cannot lock {}: {err}",
                path.display(),
                lock_path(path).display()
            )
        };
        let file = file.try_clone().map_err(fail)?;
        file.lock().map_err(fail)?;
        Ok(Self(file))
    }
}

impl Drop for AppendLock {
    fn drop(&mut self) {
        let _ = self.0.unlock();
    }
}

/// How a trail is opened.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// `"audit_file_id"`: the file id the trail must carry (lower-case hex, as
    /// [`parse_file_id`] returns it). A trail with another id, or none, is refused.
    pub expected_id: Option<String>,
    /// Write an anchor to standard error every this many lines (the server's
    /// `"audit_anchor_every"`); `None` for `requests add|close`.
    pub anchor_every: Option<u64>,
}

/// An open trail: the file, its verified length and head, and the locks.
pub struct Trail {
    path: PathBuf,
    file: File,
    append_lock: File,
    /// Bytes of whole, verified lines: where the next line starts.
    len: u64,
    head: String,
    lines: u64,
    file_id: Option<String>,
    /// The line the file id was found on.
    file_id_line: u64,
    /// A write failed and the bytes after `len` could not be cut off yet.
    torn: bool,
    anchor_every: Option<u64>,
}

impl Trail {
    /// Opens the trail as its one server: takes the exclusive lock on the file for as long as
    /// the returned value lives (another server on the same file is refused with a message
    /// that says so), checks the whole chain, and writes the file id line if the file has
    /// none.
    pub fn open_for_server(path: &Path, options: &Options) -> Result<Self, String> {
        Self::open(path, options, true)
    }

    /// Opens the trail to append a few lines beside a running server (`requests add|close`):
    /// no lifetime lock, the rest as [`Trail::open_for_server`].
    pub fn open_for_command(path: &Path, options: &Options) -> Result<Self, String> {
        Self::open(path, options, false)
    }

    fn open(path: &Path, options: &Options, server: bool) -> Result<Self, String> {
        let lock_file = lock_path(path);
        let append_lock = open_private(&lock_file)
            .map_err(|err| format!("audit log lock {}: cannot open: {err}", lock_file.display()))?;
        let mut file = open_private(path)
            .map_err(|err| format!("audit log {}: cannot open: {err}", path.display()))?;
        if server {
            match file.try_lock() {
                Ok(()) => {}
                Err(std::fs::TryLockError::WouldBlock) => {
                    return Err(format!(
                        "audit log {}: in use: another cardadmin-server holds its lock and writes it (two servers on one trail would fork its chain); stop that server, or give this one its own \"audit_log\"",
                        path.display()
                    ))
                }
                Err(std::fs::TryLockError::Error(err)) => {
                    return Err(format!("audit log {}: cannot lock: {err}", path.display()))
                }
            }
        }
        let guard = AppendLock::take(&append_lock, path)?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)
            .map_err(|err| format!("audit log {}: cannot read: {err}", path.display()))?;
        let verified = verify_bytes(&bytes).map_err(|broken| {
            format!(
                "audit log {}: {broken}; nothing continues a broken chain: keep the file as evidence (`cardadmin-server verify-audit {}` checks it) and name a new audit_log, or remove the torn tail once it is understood",
                path.display(),
                path.display()
            )
        })?;
        if let Some(expected) = &options.expected_id {
            match &verified.file_id {
                Some(found) if found == expected => {}
                Some(found) => {
                    return Err(format!(
                        "audit log {}: its file id is {found}, not the configured audit_file_id {expected}: it is another trail (a file from another instance, or a replaced one); keep it as evidence",
                        path.display()
                    ))
                }
                None if bytes.is_empty() => {
                    return Err(format!(
                        "audit log {}: the file is empty or new, but audit_file_id names the trail {expected}: the trail was removed or replaced; find it, or remove audit_file_id to start a new trail",
                        path.display()
                    ))
                }
                None => {
                    return Err(format!(
                        "audit log {}: the trail has no file id (written before file ids), but audit_file_id names {expected}: another trail is in its place",
                        path.display()
                    ))
                }
            }
        }
        let mut trail = Self {
            path: path.to_path_buf(),
            len: bytes.len() as u64,
            head: verified.head,
            lines: verified.lines as u64,
            file_id: verified.file_id,
            file_id_line: verified.file_id_line.unwrap_or(0) as u64,
            file,
            torn: false,
            anchor_every: options.anchor_every,
            append_lock,
        };
        if trail.file_id.is_none() {
            let id = new_file_id()?;
            trail.write_locked(&[Record::FileId(&id)])?;
            if bytes.is_empty() {
                // The directory entry of a new file must survive a crash too.
                if let Some(dir) = path.parent().filter(|dir| !dir.as_os_str().is_empty()) {
                    if let Ok(dir) = File::open(dir) {
                        let _ = dir.sync_all();
                    }
                }
            }
        }
        drop(guard);
        Ok(trail)
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Lines in the file (as of the last append or check).
    pub fn lines(&self) -> u64 {
        self.lines
    }

    /// The SHA-256 of the last line: the next line's `prev`.
    pub fn head(&self) -> &str {
        &self.head
    }

    /// The file id, and the line it is on (1 unless the trail was started before file ids).
    pub fn file_id(&self) -> (&str, u64) {
        (self.file_id.as_deref().unwrap_or(""), self.file_id_line)
    }

    /// Appends `records` and flushes them to disk, under the append lock, after taking in
    /// (and checking) whatever another process appended since this one last wrote. `Err` when
    /// they are not on disk: then none of them is in the file.
    pub fn append(&mut self, records: &[Record<'_>]) -> Result<(), String> {
        let _guard = AppendLock::take(&self.append_lock, &self.path)?;
        self.catch_up()?;
        self.write_locked(records)
    }

    /// The anchor text for the current head, after taking in what others appended.
    pub fn anchor(&mut self) -> Result<String, String> {
        let _guard = AppendLock::take(&self.append_lock, &self.path)?;
        self.catch_up()?;
        Ok(self.anchor_text(self.lines, &self.head))
    }

    fn anchor_text(&self, line: u64, head: &str) -> String {
        format!(
            "audit anchor: {} file id {} line {line} head {head}",
            self.path.display(),
            self.file_id.as_deref().unwrap_or("none")
        )
    }

    /// One more line, whose hash is `hash`, is in the file: an anchor if one is due.
    fn took(&mut self, hash: &str) {
        self.lines += 1;
        if let Some(every) = self.anchor_every.filter(|&every| every > 0) {
            if self.lines.is_multiple_of(every) {
                eprintln!("{}", self.anchor_text(self.lines, hash));
            }
        }
    }

    /// Cuts off what a failed write may have left after the last whole line.
    fn repair(&mut self) -> std::io::Result<()> {
        if self.torn {
            self.file.set_len(self.len)?;
            self.torn = false;
            let _ = self.file.sync_data();
        }
        Ok(())
    }

    /// With the append lock held: takes in the lines appended by others since this process
    /// last wrote, checking that each continues the chain.
    fn catch_up(&mut self) -> Result<(), String> {
        let path = self.path.display().to_string();
        self.repair().map_err(|err| {
            format!(
                "audit log {path}: cannot cut off the part of a line a failed write left: {err}"
            )
        })?;
        let actual = self
            .file
            .metadata()
            .map_err(|err| format!("audit log {path}: {err}"))?
            .len();
        if actual < self.len {
            return Err(format!(
                "audit log {path}: the file is {actual} bytes, shorter than the {} bytes already verified: someone cut or replaced it; no line is added to it (keep it as evidence)",
                self.len
            ));
        }
        if actual == self.len {
            return Ok(());
        }
        let mut bytes = Vec::new();
        self.file
            .seek(SeekFrom::Start(self.len))
            .and_then(|_| self.file.read_to_end(&mut bytes))
            .map_err(|err| format!("audit log {path}: cannot read: {err}"))?;
        let Some(whole) = bytes.iter().rposition(|&b| b == b'\n') else {
            return Err(format!(
                "audit log {path}: line {}: torn: {} bytes without a newline were appended by another process (a write cut short); no line is added after it",
                self.lines + 1,
                bytes.len()
            ));
        };
        if whole + 1 != bytes.len() {
            return Err(format!(
                "audit log {path}: the last line is torn: another process's write was cut short; no line is added after it"
            ));
        }
        for line in bytes[..whole].split(|&b| b == b'\n') {
            let number = self.lines as usize + 1;
            let info =
                check_line(line, number).map_err(|broken| format!("audit log {path}: {broken}"))?;
            if info.prev != self.head {
                return Err(format!(
                    "audit log {path}: line {number}: its prev is not the SHA-256 of line {}: the file was changed by another process; no line is added to it",
                    number - 1
                ));
            }
            if let Some(id) = info.file_id {
                if self.file_id.is_some() {
                    return Err(format!(
                        "audit log {path}: line {number}: a second file id line"
                    ));
                }
                self.file_id = Some(id);
                self.file_id_line = number as u64;
            }
            let hash = hash_hex(line);
            self.took(&hash);
            self.head = hash;
            self.len += line.len() as u64 + 1;
        }
        Ok(())
    }

    /// With the append lock held and the file caught up: writes and flushes `records`.
    fn write_locked(&mut self, records: &[Record<'_>]) -> Result<(), String> {
        let time = now_rfc3339();
        let mut buffer = Vec::with_capacity(records.len() * 400);
        let mut head = self.head.clone();
        let mut hashes = Vec::with_capacity(records.len());
        for record in records {
            let line = render(*record, &time, &head);
            head = hash_hex(&line);
            hashes.push(head.clone());
            buffer.extend_from_slice(&line);
            buffer.push(b'\n');
        }
        let written = self
            .file
            .write_all(&buffer)
            .and_then(|()| self.file.sync_data());
        if let Err(err) = written {
            // Part of the buffer may be in the file: cut it off now, or before the next write.
            self.torn = true;
            let _ = self.repair();
            return Err(format!(
                "audit log {}: cannot write: {err}",
                self.path.display()
            ));
        }
        for (record, hash) in records.iter().zip(&hashes) {
            if let Record::FileId(id) = record {
                self.file_id = Some((*id).to_string());
                self.file_id_line = self.lines + 1;
            }
            self.took(hash);
        }
        self.len += buffer.len() as u64;
        self.head = head;
        Ok(())
    }
}

/// A request to the writer thread.
enum Job {
    /// A line, and where to say whether it is on disk.
    Line(Entry, tokio::sync::oneshot::Sender<Result<(), ()>>),
    /// Write the anchor (the server is stopping), and say when done.
    Anchor(tokio::sync::oneshot::Sender<()>),
}

/// The handle requests use: [`AuditLog::append`] returns once the line is on disk.
#[derive(Clone)]
pub struct AuditLog {
    jobs: mpsc::Sender<Job>,
}

/// What [`AuditLog::open`] found in an existing file.
pub struct Opened {
    /// The log handle.
    pub log: AuditLog,
    /// Lines in the file (the file id line included).
    pub lines: u64,
    /// The hash the next line's `prev` will carry.
    pub head: String,
    /// The trail's file id.
    pub file_id: String,
    /// The line the file id is on: 1, unless the trail was started before file ids.
    pub file_id_line: u64,
}

impl AuditLog {
    /// Opens (or creates, 0600) the log at `path` as its server ([`Trail::open_for_server`]),
    /// and starts the writer thread, which continues the chain from the last line. A broken
    /// chain, a torn last line, another server's lock or another file id stops start-up: the
    /// message says which, and the file is left as it is, as evidence.
    pub fn open(path: &Path, options: &Options) -> Result<Opened, String> {
        let trail = Trail::open_for_server(path, options)?;
        let (jobs, receiver) = mpsc::channel::<Job>();
        let (file_id, file_id_line) = trail.file_id();
        let opened_head = trail.head().to_string();
        let (file_id, lines) = (file_id.to_string(), trail.lines());
        std::thread::Builder::new()
            .name("audit-writer".into())
            .spawn(move || writer(trail, receiver))
            .map_err(|err| format!("audit log: cannot start the writer thread: {err}"))?;
        Ok(Opened {
            log: AuditLog { jobs },
            lines,
            head: opened_head,
            file_id,
            file_id_line,
        })
    }

    /// Appends `entry` and waits until it is on disk. `Err` when it could not be written: the
    /// caller must not use a key (and answers 503).
    pub async fn append(&self, entry: Entry) -> Result<(), ()> {
        let (done, wait) = tokio::sync::oneshot::channel();
        self.jobs.send(Job::Line(entry, done)).map_err(|_| ())?;
        wait.await.unwrap_or(Err(()))
    }

    /// Writes the chain head to standard error (the server is stopping), after every line
    /// sent before.
    pub async fn anchor_at_shutdown(&self) {
        let (done, wait) = tokio::sync::oneshot::channel();
        if self.jobs.send(Job::Anchor(done)).is_ok() {
            let _ = wait.await;
        }
    }
}

/// The writer thread: group commit of every waiting line, one `fdatasync` per group. A
/// failed write is reported once on stderr, and its recovery once when a write succeeds
/// again.
fn writer(mut trail: Trail, jobs: mpsc::Receiver<Job>) {
    let mut failing = false;
    while let Ok(first) = jobs.recv() {
        let mut lines = Vec::new();
        let mut anchors = Vec::new();
        for job in std::iter::once(first).chain(jobs.try_iter()) {
            match job {
                Job::Line(entry, done) => lines.push((entry, done)),
                Job::Anchor(done) => anchors.push(done),
            }
        }
        if !lines.is_empty() {
            let records: Vec<Record<'_>> = lines
                .iter()
                .map(|(entry, _)| Record::Request(entry))
                .collect();
            let written = trail.append(&records);
            match &written {
                Err(err) if !failing => {
                    eprintln!(
                        "error: {err}; requests that need a line are answered 503 and use no key; every request tries again"
                    );
                    failing = true;
                }
                Ok(()) if failing => {
                    eprintln!(
                        "audit log {}: written again from line {}; the chain continues, head {}",
                        trail.path().display(),
                        trail.lines() + 1 - records.len() as u64,
                        trail.head()
                    );
                    failing = false;
                }
                _ => {}
            }
            for (_, done) in lines {
                let _ = done.send(written.clone().map_err(|_| ()));
            }
        }
        for done in anchors {
            match trail.anchor() {
                Ok(anchor) => eprintln!("{anchor} (at shutdown)"),
                Err(err) => eprintln!("error: no anchor at shutdown: {err}"),
            }
            let _ = done.send(());
        }
    }
}

/// A verified log: how many lines, the hash of the last one, and its file id.
#[derive(Debug, PartialEq, Eq)]
pub struct Verified {
    /// Number of lines.
    pub lines: usize,
    /// SHA-256 of the last line, lower-case hex ([`GENESIS`] for an empty log).
    pub head: String,
    /// The file id, `None` for a trail written before file ids (or an empty file).
    pub file_id: Option<String>,
    /// The 1-based line the file id is on.
    pub file_id_line: Option<usize>,
}

/// Where and why a chain broke.
#[derive(Debug, PartialEq, Eq)]
pub struct Broken {
    /// 1-based number of the first line that does not verify.
    pub line: usize,
    /// Why.
    pub reason: String,
}

impl std::fmt::Display for Broken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}: {}", self.line, self.reason)
    }
}

/// Checks a whole log file: see [`verify_bytes`].
pub fn verify(path: &Path) -> Result<Verified, String> {
    let bytes = std::fs::read(path).map_err(|err| format!("{}: {err}", path.display()))?;
    verify_bytes(&bytes).map_err(|broken| broken.to_string())
}

/// What one line says about the chain.
struct LineInfo {
    prev: String,
    /// For the file id line, the id.
    file_id: Option<String>,
}

/// Checks one line's form: a JSON object of one of the three kinds with all its fields, and a
/// `prev` of 64 lower-case hex digits.
fn check_line(line: &[u8], number: usize) -> Result<LineInfo, Broken> {
    let broken = |reason: String| Broken {
        line: number,
        reason,
    };
    let value: serde_json::Value =
        serde_json::from_slice(line).map_err(|err| broken(format!("not a JSON object: {err}")))?;
    let Some(object) = value.as_object() else {
        return Err(broken("not a JSON object".into()));
    };
    let (fields, file_id): (&[&str], _) = if object.contains_key("file_id") {
        let id = object
            .get("file_id")
            .and_then(serde_json::Value::as_str)
            .filter(|id| is_lower_hex(id, 32))
            .ok_or_else(|| broken("file_id is not 32 lower-case hex digits".into()))?;
        (&HEADER_FIELDS, Some(id.to_string()))
    } else if object.contains_key("registry") {
        (&REGISTRY_FIELDS, None)
    } else {
        (&REQUEST_FIELDS, None)
    };
    for field in fields {
        if !object.contains_key(*field) {
            return Err(broken(format!("the field {field:?} is missing")));
        }
    }
    let prev = object
        .get("prev")
        .and_then(serde_json::Value::as_str)
        .filter(|prev| is_lower_hex(prev, 64))
        .ok_or_else(|| broken("prev is not 64 lower-case hex digits".into()))?;
    Ok(LineInfo {
        prev: prev.to_string(),
        file_id,
    })
}

/// Checks a log's chain line by line and names the first line that does not verify.
///
/// Each line must end with a newline (a last line without one is torn: a write was cut
/// short), be a JSON object with every field of its kind, and carry in `prev` the hash of
/// the line before it (64 zeros for the first). At most one line is a file id line. When line
/// `n`'s `prev` does not match, either line `n - 1` was changed after line `n` was written, or
/// line `n`'s own `prev` was: if line `n + 1` still matches line `n`, line `n - 1` is the one
/// changed and is named; otherwise line `n` is. The last line has no line after it: a mismatch
/// there names line `n - 1` and says that the last line's `prev` may be the one changed.
///
/// A trail written before file ids has none (or, once a server or `requests` of this version
/// opened it, one on the line after its old lines): it verifies as before, and
/// [`Verified::file_id`] says which.
pub fn verify_bytes(bytes: &[u8]) -> Result<Verified, Broken> {
    if bytes.is_empty() {
        return Ok(Verified {
            lines: 0,
            head: GENESIS.to_string(),
            file_id: None,
            file_id_line: None,
        });
    }
    let mut lines: Vec<&[u8]> = bytes.split(|&byte| byte == b'\n').collect();
    // After the last newline: empty for a whole file, the torn line's bytes otherwise.
    let tail = lines.pop().unwrap_or_default();
    let torn = !tail.is_empty();
    if torn {
        lines.push(tail);
    }
    let hashes: Vec<String> = lines.iter().map(|line| hash_hex(line)).collect();
    let mut prevs: Vec<String> = Vec::with_capacity(lines.len());
    let mut file_id: Option<(String, usize)> = None;
    for (index, line) in lines.iter().enumerate() {
        let number = index + 1;
        if torn && number == lines.len() {
            return Err(Broken {
                line: number,
                reason: format!(
                    "torn: the file ends without a newline after {} bytes of this line (a write was cut short); the {} lines before it verify",
                    line.len(),
                    index
                ),
            });
        }
        let info = check_line(line, number)?;
        if let Some(id) = info.file_id {
            if let Some((_, first)) = &file_id {
                return Err(Broken {
                    line: number,
                    reason: format!(
                        "a second file id line (the first is line {first}): lines of another trail were added"
                    ),
                });
            }
            file_id = Some((id, number));
        }
        prevs.push(info.prev);
    }
    for (index, prev) in prevs.iter().enumerate() {
        let number = index + 1;
        let expected = if index == 0 {
            GENESIS
        } else {
            hashes[index - 1].as_str()
        };
        if prev == expected {
            continue;
        }
        if index == 0 {
            return Err(Broken {
                line: 1,
                reason: "prev of the first line is not 64 zeros (lines were removed before it, or it was changed)".into(),
            });
        }
        // Does the next line still vouch for this one? Then this one is intact and the line
        // before it was changed. The last line has no next line: a change in the line before
        // it is the likelier (and its content, unlike the last line's, can be checked), so
        // that one is named, and the message says the other possibility.
        let next_vouches = prevs
            .get(index + 1)
            .is_none_or(|next| next == &hashes[index]);
        let or_this = if index + 1 == prevs.len() {
            format!(" (or the prev of line {number}, the last line, was changed)")
        } else {
            String::new()
        };
        return Err(if next_vouches {
            Broken {
                line: number - 1,
                reason: format!(
                    "changed after it was written, or the line after it removed: its SHA-256 is not the prev that line {number} carries{or_this}"
                ),
            }
        } else {
            Broken {
                line: number,
                reason: format!(
                    "prev is not the SHA-256 of line {}: this line was changed, or lines were inserted or removed before it",
                    number - 1
                ),
            }
        });
    }
    let (file_id, file_id_line) = file_id.map_or((None, None), |(id, line)| (Some(id), Some(line)));
    Ok(Verified {
        lines: lines.len(),
        head: hashes
            .last()
            .cloned()
            .unwrap_or_else(|| GENESIS.to_string()),
        file_id,
        file_id_line,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use cardadmin_mimcm::{self as cm, RequestError};

    fn entry(status_error: Option<RequestError>) -> Entry {
        let parsed = cm::parse_request("/CertificateManagement/api/v1.0/requests/a9b4b42c-cc50-4c9b-89d1-bbc0bcd5a099/smartcards/17cf063d-e337-4aa9-a822-346554ddd3c9/diversifiedkey?cardid=bc88f13f-83ba-4037-8262-46eba1291c6e").unwrap();
        let record = match status_error {
            Some(error) => cm::AuditRecord::refused(Some(&parsed), error),
            None => {
                let key = cardadmin::AdminKey::from_bytes([0; 24]);
                let policy = cardadmin::PinPolicy::default();
                let master = master();
                parsed.audit(&cm::Profile::new(&key, Some(&master), &policy).unwrap())
            }
        };
        Entry {
            operator: Some("alice".into()),
            status: record.status(),
            record: Some(record),
            message: status_error.map(|error| error.to_string()),
            lifecycle: None,
            key_version: None,
        }
    }

    fn master() -> cardadmin::MasterKey {
        cardadmin::MasterKey::from_hex("DA20D81B7D17734F8166BE8BAC0EC94DD8E793D74ACEC8B7").unwrap()
    }

    fn change(action: RegistryAction) -> RegistryChange {
        RegistryChange {
            action,
            reqid: Guid::parse("a9b4b42c-cc50-4c9b-89d1-bbc0bcd5a099").unwrap(),
            scid: Some(Guid::parse("17cf063d-e337-4aa9-a822-346554ddd3c9").unwrap()),
            cardid: Some(CardId::parse("bc88f13f-83ba-4037-8262-46eba1291c6e").unwrap()),
            kind: None,
            status: None,
            operator: "alice".into(),
            uid: Some(1000),
        }
    }

    /// A trail as a server before file ids wrote it: request lines only.
    fn log_of(n: usize) -> Vec<u8> {
        let mut bytes = Vec::new();
        let mut prev = GENESIS.to_string();
        for i in 0..n {
            let error = (i % 2 == 1).then_some(RequestError::Forbidden {
                rule: "the request is closed",
            });
            let entry = entry(error);
            let line = render(Record::Request(&entry), "2026-12-02T19:00:00.000Z", &prev);
            prev = hash_hex(&line);
            bytes.extend_from_slice(&line);
            bytes.push(b'\n');
        }
        bytes
    }

    fn temp_dir(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("server-audit-unit-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn lines_of(path: &Path) -> Vec<serde_json::Value> {
        std::fs::read_to_string(path)
            .unwrap()
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect()
    }

    #[test]
    fn a_written_chain_verifies_and_names_its_head() {
        let bytes = log_of(5);
        let verified = verify_bytes(&bytes).unwrap();
        assert_eq!(verified.lines, 5);
        let last = bytes[..bytes.len() - 1]
            .rsplit(|&b| b == b'\n')
            .next()
            .unwrap();
        assert_eq!(verified.head, hash_hex(last));
        let first: serde_json::Value =
            serde_json::from_slice(bytes.split(|&b| b == b'\n').next().unwrap()).unwrap();
        assert_eq!(first["prev"], GENESIS);
        assert_eq!(first["key_role"], "card_key");
        assert_eq!(
            first["key_check_value"],
            master().check_value().to_string().as_str()
        );
        assert_eq!(first["operator"], "alice");
        assert_eq!(first["reqid"], "a9b4b42c-cc50-4c9b-89d1-bbc0bcd5a099");
        assert_eq!(first["diversified"], true);
        assert_eq!(first["status"], 200);
        assert_eq!(verify_bytes(b"").unwrap().head, GENESIS);
    }

    /// Every single-byte change of every line but the last is found, and the line named is
    /// the line changed.
    #[test]
    fn any_changed_byte_names_its_line() {
        let bytes = log_of(4);
        let starts: Vec<usize> = std::iter::once(0)
            .chain(
                bytes
                    .iter()
                    .enumerate()
                    .filter(|(_, &b)| b == b'\n')
                    .map(|(i, _)| i + 1),
            )
            .collect();
        let last_start = starts[starts.len() - 2];
        for position in 0..last_start {
            if bytes[position] == b'\n' {
                continue;
            }
            let line = starts.iter().filter(|&&start| start <= position).count();
            let mut changed = bytes.clone();
            changed[position] ^= 0x01;
            let broken = verify_bytes(&changed).unwrap_err();
            assert_eq!(broken.line, line, "byte {position}: {broken}");
        }
    }

    #[test]
    fn a_torn_last_line_is_reported() {
        let mut bytes = log_of(3);
        bytes.pop();
        let broken = verify_bytes(&bytes).unwrap_err();
        assert_eq!(broken.line, 3);
        assert!(broken.reason.starts_with("torn"), "{broken}");
        let mut bytes = log_of(3);
        bytes.extend_from_slice(b"{\"time\":\"2026");
        assert_eq!(verify_bytes(&bytes).unwrap_err().line, 4);
    }

    #[test]
    fn removed_and_reordered_lines_are_found() {
        let bytes = log_of(4);
        let lines: Vec<&[u8]> = bytes.split_inclusive(|&b| b == b'\n').collect();
        let without_first: Vec<u8> = lines[1..].concat();
        assert_eq!(verify_bytes(&without_first).unwrap_err().line, 1);
        // A removed line reads like a change to the line before the gap: that one is named,
        // and the message says so.
        let without_second: Vec<u8> = [lines[0], lines[2], lines[3]].concat();
        let broken = verify_bytes(&without_second).unwrap_err();
        assert_eq!(broken.line, 1, "{broken}");
        assert!(broken.reason.contains("removed"), "{broken}");
        let swapped: Vec<u8> = [lines[0], lines[2], lines[1], lines[3]].concat();
        assert!(verify_bytes(&swapped).is_err());
    }

    #[test]
    fn dates_are_the_calendar_dates() {
        assert_eq!(rfc3339(0, 0), "1970-01-01T00:00:00.000Z");
        // `date -u -d @951782400`: 2000-02-29 00:00:00 UTC (a leap day of a 400-year leap).
        assert_eq!(rfc3339(951_782_400, 5), "2000-02-29T00:00:00.005Z");
        // `date -u -d @4102444799` and `date -u -d @1709164800` (GNU date).
        assert_eq!(rfc3339(4_102_444_799, 999), "2099-12-31T23:59:59.999Z");
        assert_eq!(rfc3339(1_709_164_800, 0), "2024-02-29T00:00:00.000Z");
    }

    #[tokio::test]
    async fn the_server_continues_an_existing_chain() {
        let dir = temp_dir("continue");
        let path = dir.join("audit.jsonl");
        let options = Options::default();
        let file_id;
        {
            let opened = AuditLog::open(&path, &options).unwrap();
            // A new trail: its file id line, and nothing else yet.
            assert_eq!((opened.lines, opened.file_id_line), (1, 1));
            file_id = opened.file_id.clone();
            opened.log.append(entry(None)).await.unwrap();
            opened.log.append(entry(None)).await.unwrap();
            opened.log.anchor_at_shutdown().await;
        }
        // The writer thread lets go of the file (and its lock) once every handle is gone.
        let opened = loop {
            match AuditLog::open(&path, &options) {
                Ok(opened) => break opened,
                Err(err) if err.contains("in use") => {
                    std::thread::sleep(std::time::Duration::from_millis(5))
                }
                Err(err) => panic!("{err}"),
            }
        };
        assert_eq!(opened.lines, 3);
        assert_eq!(opened.file_id, file_id);
        opened
            .log
            .append(entry(Some(RequestError::NotFound)))
            .await
            .unwrap();
        opened.log.anchor_at_shutdown().await;
        let verified = verify(&path).unwrap();
        assert_eq!(verified.lines, 4);
        assert_eq!(verified.file_id.as_deref(), Some(file_id.as_str()));
        drop(opened);
        // A torn tail stops the next start-up, naming the line.
        let mut file = OpenOptions::new().append(true).open(&path).unwrap();
        file.write_all(b"{\"time\":").unwrap();
        let refused = loop {
            match AuditLog::open(&path, &options) {
                Err(err) if err.contains("in use") => {
                    std::thread::sleep(std::time::Duration::from_millis(5))
                }
                other => break other.err().unwrap(),
            }
        };
        assert!(refused.contains("line 5: torn"), "{refused}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// Issue #24 item 6: a new trail's first line names it with a random id, and `verify`
    /// reports that id.
    #[test]
    fn a_new_trail_starts_with_a_random_file_id() {
        let dir = temp_dir("file-id");
        let mut ids = Vec::new();
        for name in ["one.jsonl", "two.jsonl"] {
            let path = dir.join(name);
            let trail = Trail::open_for_server(&path, &Options::default()).unwrap();
            let lines = lines_of(&path);
            assert_eq!(lines.len(), 1);
            assert_eq!(lines[0]["audit_trail"], "cardadmin-server");
            assert_eq!(lines[0]["prev"], GENESIS);
            let id = lines[0]["file_id"].as_str().unwrap().to_string();
            assert!(is_lower_hex(&id, 32), "{id}");
            assert_eq!(trail.file_id(), (id.as_str(), 1));
            let verified = verify(&path).unwrap();
            assert_eq!(
                (verified.file_id.as_deref(), verified.file_id_line),
                (Some(id.as_str()), Some(1))
            );
            ids.push(id);
        }
        assert_ne!(ids[0], ids[1]);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// Issue #24 item 14: the trail and its lock file are created readable by their owner only.
    #[cfg(unix)]
    #[test]
    fn the_trail_and_its_lock_are_created_0600() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = temp_dir("mode");
        let path = dir.join("audit.jsonl");
        let _trail = Trail::open_for_command(&path, &Options::default()).unwrap();
        for file in [path.clone(), lock_path(&path)] {
            let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{}: {mode:o}", file.display());
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// Issue #24 item 6: a second server on one trail is refused while the first holds it.
    #[test]
    fn a_second_server_on_the_same_trail_is_refused() {
        let dir = temp_dir("lock");
        let path = dir.join("audit.jsonl");
        let first = Trail::open_for_server(&path, &Options::default()).unwrap();
        let refused = Trail::open_for_server(&path, &Options::default())
            .err()
            .unwrap();
        assert!(
            refused.contains("in use: another cardadmin-server holds its lock"),
            "{refused}"
        );
        // `requests add|close` take only the append lock: they work beside the server.
        assert!(Trail::open_for_command(&path, &Options::default()).is_ok());
        drop(first);
        assert!(Trail::open_for_server(&path, &Options::default()).is_ok());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// Issue #24 item 6: with `audit_file_id`, another trail (another id, none, or an empty
    /// file in its place) is refused; the named one is accepted.
    #[test]
    fn a_configured_file_id_refuses_any_other_trail() {
        let dir = temp_dir("expected");
        let path = dir.join("audit.jsonl");
        let other = dir.join("other.jsonl");
        let legacy = dir.join("legacy.jsonl");
        let empty = dir.join("empty.jsonl");
        let id = Trail::open_for_server(&path, &Options::default())
            .unwrap()
            .file_id()
            .0
            .to_string();
        drop(Trail::open_for_server(&other, &Options::default()).unwrap());
        std::fs::write(&legacy, log_of(2)).unwrap();
        let expecting = Options {
            expected_id: Some(id.clone()),
            anchor_every: None,
        };
        assert!(Trail::open_for_server(&path, &expecting).is_ok());
        let refused = Trail::open_for_server(&other, &expecting).err().unwrap();
        assert!(
            refused.contains(&format!("not the configured audit_file_id {id}")),
            "{refused}"
        );
        let refused = Trail::open_for_command(&legacy, &expecting).err().unwrap();
        assert!(refused.contains("has no file id"), "{refused}");
        let refused = Trail::open_for_server(&empty, &expecting).err().unwrap();
        assert!(refused.contains("empty or new"), "{refused}");
        // Refused means untouched: nothing was written to the files that were refused.
        assert_eq!(std::fs::read(&legacy).unwrap(), log_of(2));
        assert_eq!(std::fs::metadata(&empty).unwrap().len(), 0);
        assert_eq!(parse_file_id(&id.to_uppercase()).unwrap(), id);
        assert!(parse_file_id("abc")
            .unwrap_err()
            .contains("got 3 characters"));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// A trail written before file ids still verifies; the first open by this version appends
    /// its file id line after the old lines, which stay as they were.
    #[test]
    fn a_trail_from_before_file_ids_verifies_and_gets_an_id_appended() {
        let dir = temp_dir("legacy");
        let path = dir.join("audit.jsonl");
        let old = log_of(3);
        std::fs::write(&path, &old).unwrap();
        let verified = verify(&path).unwrap();
        assert_eq!(
            (verified.lines, verified.file_id, verified.file_id_line),
            (3, None, None)
        );
        let trail = Trail::open_for_server(&path, &Options::default()).unwrap();
        let (id, line) = trail.file_id();
        assert_eq!(line, 4);
        let bytes = std::fs::read(&path).unwrap();
        assert!(bytes.starts_with(&old));
        let verified = verify_bytes(&bytes).unwrap();
        assert_eq!(
            (
                verified.lines,
                verified.file_id.as_deref(),
                verified.file_id_line
            ),
            (4, Some(id), Some(4))
        );
        // A second id line is another trail's.
        let mut twice = bytes.clone();
        let header = render(
            Record::FileId(id),
            "2026-12-02T19:00:00.000Z",
            &verified.head,
        );
        twice.extend_from_slice(&header);
        twice.push(b'\n');
        let broken = verify_bytes(&twice).unwrap_err();
        assert_eq!(broken.line, 5);
        assert!(broken.reason.contains("second file id"), "{broken}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// Registry changes written beside the server: each writer takes in the other's lines and
    /// continues the chain from the last of them.
    #[test]
    fn a_command_and_the_server_append_to_one_chain() {
        let dir = temp_dir("interleave");
        let path = dir.join("audit.jsonl");
        let mut server = Trail::open_for_server(&path, &Options::default()).unwrap();
        let mut command = Trail::open_for_command(&path, &Options::default()).unwrap();
        let request = entry(None);
        server.append(&[Record::Request(&request)]).unwrap();
        command
            .append(&[Record::Registry(&change(RegistryAction::Add))])
            .unwrap();
        command
            .append(&[Record::Registry(&change(RegistryAction::Close))])
            .unwrap();
        server
            .append(&[Record::Request(&request), Record::Request(&request)])
            .unwrap();
        assert_eq!(server.lines(), 6);
        let verified = verify(&path).unwrap();
        assert_eq!(verified.lines, 6);
        assert_eq!(verified.head, server.head());
        let lines = lines_of(&path);
        assert_eq!(lines[2]["registry"], "add");
        assert_eq!(lines[2]["operator"], "alice");
        assert_eq!(lines[2]["uid"], 1000);
        assert_eq!(lines[2]["cardid"], "bc88f13f-83ba-4037-8262-46eba1291c6e");
        assert_eq!(lines[3]["registry"], "close");
        // A registry line without its fields does not verify.
        let bytes = std::fs::read(&path).unwrap();
        let text = String::from_utf8(bytes)
            .unwrap()
            .replace("\"uid\":1000,", "");
        let broken = verify_bytes(text.as_bytes()).unwrap_err();
        assert_eq!(broken.line, 3);
        assert!(broken.reason.contains("\"uid\" is missing"), "{broken}");
        // A line another process changed is not continued.
        std::fs::write(&path, text).unwrap();
        let refused = server.append(&[Record::Request(&request)]).unwrap_err();
        assert!(refused.contains("shorter than"), "{refused}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// Issue #24 item 7: what a failed write left after the last whole line is cut off before
    /// the next write, so the chain continues without a restart or a hand edit.
    #[test]
    fn the_part_of_a_line_a_failed_write_left_is_cut_off() {
        let dir = temp_dir("torn");
        let path = dir.join("audit.jsonl");
        let mut trail = Trail::open_for_server(&path, &Options::default()).unwrap();
        let request = entry(None);
        trail.append(&[Record::Request(&request)]).unwrap();
        let good = std::fs::read(&path).unwrap();
        // A write that fails: the descriptor is swapped for a read-only one.
        let writable = std::mem::replace(&mut trail.file, File::open(&path).unwrap());
        assert!(trail.append(&[Record::Request(&request)]).is_err());
        trail.file = writable;
        // As if that write had left half a line and the cut had failed too.
        OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap()
            .write_all(b"{\"time\":\"2026-")
            .unwrap();
        trail.torn = true;
        assert!(verify(&path).unwrap_err().contains("torn"));
        trail.append(&[Record::Request(&request)]).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        assert!(bytes.starts_with(&good));
        assert_eq!(verify_bytes(&bytes).unwrap().lines, 3);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
