//! The audit trail: one JSON object per line, each line chained to the one before it by the
//! SHA-256 of that line's bytes, written and flushed to disk before the key it records is used.
//!
//! # Format
//!
//! Every line is one JSON object with these fields, in this order:
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
//! | `prev` | lower-case hex SHA-256 of the previous line's bytes, without its newline; 64 zeros on the first line |
//!
//! Never key bytes, PINs, challenges or responses.
//!
//! # When a line is written
//!
//! The core decides before any key is used what will be done (`cm::ParsedRequest::audit`):
//! the key role, its check value and the status the answer will have. The server writes that
//! line, waits until it is on disk (`fdatasync`), and only then lets the core use the key
//! (`cm::answer`). If the line cannot be written, the caller gets a 500 and no key is used;
//! the writer then refuses every further line (the file's tail is unknown) until the server
//! is restarted, and the restart reports a torn line if there is one. If the answer's status
//! differs from the one recorded (the random generator failed while proposing a PIN: no key
//! is involved), a second line records the real status.
//!
//! Lines are written by one thread that takes every line waiting when it wakes, writes them
//! in one `write` and flushes them with one `fdatasync` (group commit): concurrent requests
//! share the flush, and the chain is built in the order the lines reach the file.
//!
//! # What the chain proves, and what it does not
//!
//! Changing, inserting or deleting a line anywhere but at the end breaks the chain at that
//! line ([`verify`]). The last line is protected only by what comes after it: anchor the
//! head hash that [`verify`] (and the server at start-up) prints somewhere else if that
//! matters. Deleting the whole file, or the tail of it, is not detected by the file alone.

use std::fs::{File, OpenOptions};
use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{SystemTime, UNIX_EPOCH};

use cardadmin_mimcm as cm;
use serde::Serialize;
use sha2::{Digest as _, Sha256};

/// `prev` of the first line.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The fields every line must have (besides `prev`), for [`verify`].
const FIELDS: [&str; 11] = [
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

/// One line's content before it is chained: a core audit record plus what only the server
/// knows (the time is added by the writer).
#[derive(Clone, Debug)]
pub struct Entry {
    /// The caller, `None` over plain HTTP.
    pub operator: Option<String>,
    /// The core's record; `None` for a request refused before the core saw it (a method
    /// other than GET).
    pub record: Option<cm::AuditRecord>,
    /// The HTTP status of the answer.
    pub status: u16,
    /// What the caller was told, for a refusal or an error.
    pub message: Option<String>,
}

#[derive(Serialize)]
struct Line<'a> {
    time: &'a str,
    operator: Option<&'a str>,
    endpoint: Option<&'static str>,
    reqid: Option<String>,
    scid: Option<String>,
    cardid: Option<String>,
    diversified: Option<bool>,
    key_role: Option<&'static str>,
    key_check_value: Option<String>,
    status: u16,
    message: Option<&'a str>,
    prev: &'a str,
}

/// The line's bytes (no newline) for `entry` at `time`, chained to `prev`.
fn render(entry: &Entry, time: &str, prev: &str) -> Vec<u8> {
    let record = entry.record.as_ref();
    let line = Line {
        time,
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
        status: entry.status,
        message: entry.message.as_deref(),
        prev,
    };
    // A struct of strings, numbers and options always serializes.
    serde_json::to_vec(&line).unwrap_or_default()
}

/// Lower-case hex SHA-256.
pub fn hash_hex(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    let mut text = String::with_capacity(64);
    for byte in digest.iter() {
        text.push_str(&format!("{byte:02x}"));
    }
    text
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

/// A request to the writer thread: a line, and where to say whether it is on disk.
type Job = (Entry, tokio::sync::oneshot::Sender<Result<(), ()>>);

/// The handle requests use: [`AuditLog::append`] returns once the line is on disk.
#[derive(Clone)]
pub struct AuditLog {
    jobs: mpsc::Sender<Job>,
}

/// What [`AuditLog::open`] found in an existing file.
pub struct Opened {
    /// The log handle.
    pub log: AuditLog,
    /// Lines already in the file.
    pub lines: usize,
    /// The hash the next line's `prev` will carry.
    pub head: String,
}

impl AuditLog {
    /// Opens (or creates) the log at `path`, checks the existing chain from the first line to
    /// the last ([`verify`]), and starts the writer thread, which continues the chain from the
    /// last line. A broken chain or a torn last line stops start-up: the message says which
    /// line, and the file is left as it is, as evidence.
    pub fn open(path: &Path) -> Result<Opened, String> {
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(path)
            .map_err(|err| format!("audit log {}: cannot open: {err}", path.display()))?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)
            .map_err(|err| format!("audit log {}: cannot read: {err}", path.display()))?;
        let verified = verify_bytes(&bytes).map_err(|broken| {
            format!(
                "audit log {}: {broken}; the server does not continue a broken chain: keep the file as evidence (`cardadmin-server verify-audit {}` checks it) and name a new audit_log, or remove the torn tail once it is understood",
                path.display(),
                path.display()
            )
        })?;
        // The directory entry of a new file must survive a crash too.
        if bytes.is_empty() {
            file.sync_all()
                .map_err(|err| format!("audit log {}: cannot sync: {err}", path.display()))?;
            if let Some(dir) = path.parent().filter(|dir| !dir.as_os_str().is_empty()) {
                if let Ok(dir) = File::open(dir) {
                    let _ = dir.sync_all();
                }
            }
        }
        let (jobs, receiver) = mpsc::channel::<Job>();
        let head = verified.head.clone();
        let thread_path = path.to_path_buf();
        std::thread::Builder::new()
            .name("audit-writer".into())
            .spawn(move || writer(file, thread_path, receiver, verified.head))
            .map_err(|err| format!("audit log: cannot start the writer thread: {err}"))?;
        Ok(Opened {
            log: AuditLog { jobs },
            lines: verified.lines,
            head,
        })
    }

    /// Appends `entry` and waits until it is on disk. `Err` when it could not be written (or
    /// the writer had failed before): the caller must not use a key.
    pub async fn append(&self, entry: Entry) -> Result<(), ()> {
        let (done, wait) = tokio::sync::oneshot::channel();
        self.jobs.send((entry, done)).map_err(|_| ())?;
        wait.await.unwrap_or(Err(()))
    }
}

/// The writer thread: group commit of every waiting line, one `fdatasync` per group.
fn writer(mut file: File, path: PathBuf, jobs: mpsc::Receiver<Job>, mut prev: String) {
    let mut failed = false;
    while let Ok(first) = jobs.recv() {
        let mut group = vec![first];
        while let Ok(more) = jobs.try_recv() {
            group.push(more);
        }
        if failed {
            for (_, done) in group {
                let _ = done.send(Err(()));
            }
            continue;
        }
        let mut buffer = Vec::with_capacity(group.len() * 400);
        let mut next = prev.clone();
        let time = now_rfc3339();
        for (entry, _) in &group {
            let line = render(entry, &time, &next);
            next = hash_hex(&line);
            buffer.extend_from_slice(&line);
            buffer.push(b'\n');
        }
        let written = file.write_all(&buffer).and_then(|()| file.sync_data());
        match written {
            Ok(()) => {
                prev = next;
                for (_, done) in group {
                    let _ = done.send(Ok(()));
                }
            }
            Err(err) => {
                eprintln!(
                    "error: audit log {}: cannot write: {err}; every request is refused with 500 until the server is restarted",
                    path.display()
                );
                failed = true;
                for (_, done) in group {
                    let _ = done.send(Err(()));
                }
            }
        }
    }
}

/// A verified log: how many lines, and the hash of the last one (the next line's `prev`).
#[derive(Debug, PartialEq, Eq)]
pub struct Verified {
    /// Number of lines.
    pub lines: usize,
    /// SHA-256 of the last line, lower-case hex ([`GENESIS`] for an empty log).
    pub head: String,
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

/// Checks a log's chain line by line and names the first line that does not verify.
///
/// Each line must end with a newline (a last line without one is torn: a write was cut
/// short), be a JSON object with every field of the format, and carry in `prev` the hash of
/// the line before it (64 zeros for the first). When line `n`'s `prev` does not match, either
/// line `n - 1` was changed after line `n` was written, or line `n`'s own `prev` was: if line
/// `n + 1` still matches line `n`, line `n - 1` is the one changed and is named; otherwise line
/// `n` is. The last line has no line after it: a mismatch there names line `n - 1` and says
/// that the last line's `prev` may be the one changed.
pub fn verify_bytes(bytes: &[u8]) -> Result<Verified, Broken> {
    if bytes.is_empty() {
        return Ok(Verified {
            lines: 0,
            head: GENESIS.to_string(),
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
        let value: serde_json::Value = serde_json::from_slice(line).map_err(|err| Broken {
            line: number,
            reason: format!("not a JSON object: {err}"),
        })?;
        let Some(object) = value.as_object() else {
            return Err(Broken {
                line: number,
                reason: "not a JSON object".into(),
            });
        };
        for field in FIELDS {
            if !object.contains_key(field) {
                return Err(Broken {
                    line: number,
                    reason: format!("the field {field:?} is missing"),
                });
            }
        }
        let prev = object
            .get("prev")
            .and_then(serde_json::Value::as_str)
            .filter(|prev| {
                prev.len() == 64
                    && prev
                        .bytes()
                        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
            })
            .ok_or_else(|| Broken {
                line: number,
                reason: "prev is not 64 lower-case hex digits".into(),
            })?;
        prevs.push(prev.to_string());
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
    Ok(Verified {
        lines: lines.len(),
        head: hashes
            .last()
            .cloned()
            .unwrap_or_else(|| GENESIS.to_string()),
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
        }
    }

    fn master() -> cardadmin::MasterKey {
        cardadmin::MasterKey::from_hex("DA20D81B7D17734F8166BE8BAC0EC94DD8E793D74ACEC8B7").unwrap()
    }

    fn log_of(n: usize) -> Vec<u8> {
        let mut bytes = Vec::new();
        let mut prev = GENESIS.to_string();
        for i in 0..n {
            let error = (i % 2 == 1).then_some(RequestError::Forbidden {
                rule: "the request is closed",
            });
            let line = render(&entry(error), "2026-12-02T19:00:00.000Z", &prev);
            prev = hash_hex(&line);
            bytes.extend_from_slice(&line);
            bytes.push(b'\n');
        }
        bytes
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
        let dir = std::env::temp_dir().join(format!("audit-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("audit.jsonl");
        let _ = std::fs::remove_file(&path);
        {
            let opened = AuditLog::open(&path).unwrap();
            assert_eq!((opened.lines, opened.head.as_str()), (0, GENESIS));
            opened.log.append(entry(None)).await.unwrap();
            opened.log.append(entry(None)).await.unwrap();
        }
        let opened = AuditLog::open(&path).unwrap();
        assert_eq!(opened.lines, 2);
        opened
            .log
            .append(entry(Some(RequestError::NotFound)))
            .await
            .unwrap();
        let verified = verify(&path).unwrap();
        assert_eq!(verified.lines, 3);
        // A torn tail stops the next start-up, naming the line.
        let mut file = OpenOptions::new().append(true).open(&path).unwrap();
        file.write_all(b"{\"time\":").unwrap();
        let refused = AuditLog::open(&path).err().unwrap();
        assert!(refused.contains("line 4: torn"), "{refused}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
