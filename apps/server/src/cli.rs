//! The subcommands beside the server: `requests add|close|list` (the registry) and
//! `verify-audit` (the audit trail's chain).
//!
//! ```text
//! cardadmin-server requests add --config CONFIG --reqid R [--scid S] [--cardid C] --operator NAME [--type enroll|renew|retire]
//! cardadmin-server requests close --config CONFIG --reqid R [--status Completed|Canceled|Abandoned]
//! cardadmin-server requests list --config CONFIG
//! cardadmin-server verify-audit PATH [--file-id ID]
//! cardadmin-server verify-audit --config CONFIG
//! ```
//!
//! With `"database"` (and `"node_id"`) in the configuration, `requests` works on the
//! database's registry, and each change's audit record goes to the chain `NODE/requests` in the
//! same transaction as the change ([`crate::pg`]); `verify-audit --config` checks every
//! node's chain and the checkpoints.
//!
//! `requests` reads only the configuration's `"registry"`, `"audit_log"`, `"audit_file_id"`,
//! `"database"`, `"node_id"` and `"diversification_key_version"` (the version a registry of an
//! earlier server records its cards on when it is upgraded; it needs no key, so a key store is
//! never opened to manage requests).
//! With an `"audit_log"`, `add` and `close` write a line to the audit trail inside the
//! registry's transaction, before the change commits (a change that cannot be recorded is not
//! made), beside a running server ([`crate::audit::Trail::open_for_command`]); refused
//! changes (an ID registered already, a request closed already) change nothing and write
//! nothing. Exit status: 0 done, 1 refused (with a message on stderr), 2 bad arguments.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use cardadmin::CardId;
use cardadmin_mimcm::Guid;
use serde::Deserialize;
use zeroize::Zeroizing;

use crate::audit::{self, Record, RegistryChange, Trail};
use crate::counted::counted;
use crate::pg;
use crate::registry::RegistryAction;
use crate::registry::{format_request, Registry, Request, RequestType, State, Status};

/// The fields `requests` reads; the rest of the file is the server's.
#[derive(Deserialize)]
struct RequestsFields {
    registry: Option<PathBuf>,
    audit_log: Option<PathBuf>,
    audit_file_id: Option<String>,
    #[serde(default)]
    database: Option<String>,
    #[serde(default)]
    node_id: Option<String>,
    #[serde(default)]
    diversification_key_version: Option<u64>,
}

impl RequestsFields {
    /// `"diversification_key_version"`, checked (1 to 255, default 1).
    pub fn version(&self) -> Result<u8, String> {
        crate::versions::check_version(self.diversification_key_version)
    }

    /// With `"database"`: the URL and the node, the other storage fields refused.
    fn database(&self) -> Result<Option<(&str, &str)>, String> {
        let Some(url) = self.database.as_deref() else {
            return Ok(None);
        };
        for (field, given) in [
            ("registry", self.registry.is_some()),
            ("audit_log", self.audit_log.is_some()),
            ("audit_file_id", self.audit_file_id.is_some()),
        ] {
            if given {
                return Err(format!("\"{field}\" and \"database\" cannot be used together: with \"database\" the request registry and the audit trail are in the database; remove \"{field}\""));
            }
        }
        let node = self.node_id.as_deref().ok_or(
            "\"database\" needs \"node_id\": this instance's name in the audit trail (each instance its own, e.g. \"node_id\": \"a\")",
        )?;
        pg::check_node_id(node)?;
        Ok(Some((url, node)))
    }
}

/// `requests add|close|list` against the database.
fn requests_in_database(
    action: &str,
    options: &Options,
    url: &str,
    node: &str,
    password: Option<Zeroizing<String>>,
) -> Result<String, String> {
    let version = options.fields()?.version()?;
    let target = pg::parse_url(url, password.as_deref().map(String::as_str))?;
    drop(password);
    let chain = pg::command_chain(node);
    crate::pg::runtime()?.block_on(async {
        let database = pg::Database::open(target, version).await?;
        match action {
            "add" => {
                let request = options.request()?;
                let (seq, head) = database.add(&request, &chain, uid()).await?;
                eprintln!("audit chain {chain}: record {seq}, head {head}");
                Ok(added_text(&request))
            }
            "close" => {
                let reqid = options.guid("reqid")?;
                let (done, seq, head) = database
                    .close(reqid, options.status()?, &chain, uid())
                    .await?;
                eprintln!("audit chain {chain}: record {seq}, head {head}");
                Ok(closed_text(&done))
            }
            _ => database.list().await.map(|requests| list_text(&requests)),
        }
    })
}

/// What `requests add` prints.
fn added_text(request: &Request) -> String {
    let id = |id: Option<String>| id.unwrap_or_else(|| String::from("none yet"));
    format!(
        "added {}: {} request, smart card {}, card {}, operator {:?}, open",
        request.reqid,
        request.kind.as_str(),
        id(request.scid.map(|scid| scid.to_string())),
        id(request.cardid.map(|cardid| cardid.to_string())),
        request.operator
    )
}

/// What `requests close` prints.
fn closed_text(done: &crate::registry::Done) -> String {
    format!(
        "closed {} as {}{}",
        done.request.reqid,
        done.request.status.as_str(),
        done.change
            .as_deref()
            .and_then(|change| change.split_once(": "))
            .map(|(_, what)| format!(" ({what})"))
            .unwrap_or_default()
    )
}

fn list_text(requests: &[Request]) -> String {
    let mut out = String::from("reqid\tscid\tcardid\toperator\tstate\ttype\tstatus");
    for request in requests {
        out.push('\n');
        out.push_str(&format_request(request));
    }
    out
}

const REQUESTS_USAGE: &str = "usage: cardadmin-server requests add --config <config.json> --reqid <GUID> [--scid <GUID>] [--cardid <GUID>] --operator <NAME> [--type enroll|renew|retire]
       cardadmin-server requests close --config <config.json> --reqid <GUID> [--status Completed|Canceled|Abandoned]
       cardadmin-server requests list --config <config.json>";

/// True when the arguments ask for help: `--help` or `-h` anywhere among them.
fn wants_help(args: &[String]) -> bool {
    args.iter().any(|arg| arg == "--help" || arg == "-h")
}

/// `requests add|close|list`; `password` is `PGPASSWORD`'s, for `"database"`.
pub fn requests(args: &[String], password: Option<Zeroizing<String>>) -> ExitCode {
    if wants_help(args) {
        println!("{REQUESTS_USAGE}\n\nThe registry is the configuration's \"registry\", or its \"database\" (apps/server/README.md).");
        return ExitCode::SUCCESS;
    }
    let Some((action, options)) = args.split_first() else {
        eprintln!("{REQUESTS_USAGE}");
        return ExitCode::from(2);
    };
    let options = match Options::parse(options) {
        Ok(options) => options,
        Err(message) => {
            eprintln!("{message}\n{REQUESTS_USAGE}");
            return ExitCode::from(2);
        }
    };
    if !["add", "close", "list"].contains(&action.as_str()) {
        eprintln!("unknown action {action:?}\n{REQUESTS_USAGE}");
        return ExitCode::from(2);
    }
    let in_database = options.fields().and_then(|fields| {
        fields
            .database()
            .map(|found| found.map(|(url, node)| (url.to_string(), node.to_string())))
    });
    match in_database {
        Ok(Some((url, node))) => {
            return match requests_in_database(action, &options, &url, &node, password) {
                Ok(out) => {
                    println!("{out}");
                    ExitCode::SUCCESS
                }
                Err(message) => {
                    eprintln!("error: {message}");
                    ExitCode::FAILURE
                }
            }
        }
        Ok(None) => {}
        Err(message) => {
            eprintln!("error: {message}");
            return ExitCode::FAILURE;
        }
    }
    drop(password);
    let (registry, fields) = match options.registry() {
        Ok(opened) => opened,
        Err(message) => {
            eprintln!("error: {message}");
            return ExitCode::FAILURE;
        }
    };
    let done = match action.as_str() {
        "add" => {
            let mut recorder = Recorder::new(&fields);
            let added = add(&registry, &options, &mut recorder);
            recorder.report();
            added
        }
        "close" => options.guid("reqid").and_then(|reqid| {
            let status = options.status()?;
            let mut recorder = Recorder::new(&fields);
            let closed = registry
                .close(reqid, status, |action, request| {
                    recorder.record(action, request)
                })
                .map(|done| closed_text(&done));
            recorder.report();
            closed
        }),
        "list" => registry.list().map(|requests| list_text(&requests)),
        other => {
            eprintln!("unknown action {other:?}\n{REQUESTS_USAGE}");
            return ExitCode::from(2);
        }
    };
    match done {
        Ok(out) => {
            println!("{out}");
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

fn add(
    registry: &Registry,
    options: &Options,
    recorder: &mut Recorder<'_>,
) -> Result<String, String> {
    let request = options.request()?;
    registry.add(&request, |action, request| recorder.record(action, request))?;
    Ok(added_text(&request))
}

/// Writes the registry's changes to the configuration's audit trail, if it names one. The
/// trail is opened when the first line is due: inside the registry's transaction, so that a
/// server using a key for the request waits for the change, or the change for the key use
/// (see `Registry::while_authorized`).
struct Recorder<'a> {
    fields: &'a RequestsFields,
    trail: Option<Trail>,
}

impl<'a> Recorder<'a> {
    fn new(fields: &'a RequestsFields) -> Self {
        Self {
            fields,
            trail: None,
        }
    }

    fn record(&mut self, action: RegistryAction, request: &Request) -> Result<(), String> {
        let Some(path) = &self.fields.audit_log else {
            return Ok(());
        };
        let trail = match &mut self.trail {
            Some(trail) => trail,
            None => {
                let expected_id = self
                    .fields
                    .audit_file_id
                    .as_deref()
                    .map(audit::parse_file_id)
                    .transpose()
                    .map_err(|err| format!("audit_file_id: {err}"))?;
                let options = audit::Options {
                    expected_id,
                    anchor_every: None,
                };
                self.trail.insert(Trail::open_for_command(path, &options)?)
            }
        };
        trail.append(&[Record::Registry(&RegistryChange::of(
            action,
            request,
            uid(),
        ))])
    }

    /// The trail's head after a change, on stderr: one more copy of it outside the file.
    fn report(&self) {
        if let Some(trail) = &self.trail {
            eprintln!(
                "audit log {}: {}, head {}",
                trail.path().display(),
                counted(trail.lines(), "line", "lines"),
                trail.head()
            );
        }
    }
}

/// The real user id of this process.
#[cfg(unix)]
fn uid() -> Option<u32> {
    Some(nix::unistd::getuid().as_raw())
}

/// No user ids here.
#[cfg(not(unix))]
fn uid() -> Option<u32> {
    None
}

/// `--name value` pairs.
struct Options {
    pairs: Vec<(String, String)>,
}

impl Options {
    fn parse(args: &[String]) -> Result<Self, String> {
        let mut pairs: Vec<(String, String)> = Vec::new();
        let mut args = args.iter();
        while let Some(arg) = args.next() {
            let name = arg
                .strip_prefix("--")
                .filter(|name| {
                    [
                        "config", "reqid", "scid", "cardid", "operator", "type", "status",
                    ]
                    .contains(name)
                })
                .ok_or_else(|| format!("unknown argument {arg:?}"))?;
            let value = args.next().ok_or_else(|| format!("{arg} needs a value"))?;
            if pairs.iter().any(|(seen, _)| seen == name) {
                return Err(format!("{arg} given twice"));
            }
            pairs.push((name.to_string(), value.clone()));
        }
        Ok(Self { pairs })
    }

    fn value(&self, name: &str) -> Result<&str, String> {
        self.pairs
            .iter()
            .find(|(seen, _)| seen == name)
            .map(|(_, value)| value.as_str())
            .ok_or_else(|| format!("--{name} is required"))
    }

    fn guid(&self, name: &str) -> Result<Guid, String> {
        Guid::parse(self.value(name)?).map_err(|err| format!("--{name}: {err}"))
    }

    fn optional(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(seen, _)| seen == name)
            .map(|(_, value)| value.as_str())
    }

    /// The request `requests add` registers: `--type` (default enroll); `--scid` and
    /// `--cardid` optional (required for renew and retire, by `registry::check_new`).
    fn request(&self) -> Result<Request, String> {
        let kind = match self.optional("type") {
            None => RequestType::Enroll,
            Some(text) => RequestType::parse(text)
                .ok_or_else(|| String::from("--type: enroll, renew or retire (default enroll)"))?,
        };
        let scid = match self.optional("scid") {
            Some(_) => Some(self.guid("scid")?),
            None => None,
        };
        let cardid = self
            .optional("cardid")
            .map(|text| CardId::parse(text).map_err(|err| format!("--cardid: {err}")))
            .transpose()?;
        Ok(Request {
            reqid: self.guid("reqid")?,
            scid,
            cardid,
            operator: self.value("operator")?.to_string(),
            state: State::Open,
            kind,
            status: Status::Approved,
        })
    }

    /// `requests close --status` (default `Canceled`).
    fn status(&self) -> Result<Status, String> {
        match self.optional("status") {
            None => Ok(Status::Canceled),
            Some(text) => Status::parse_final(text).ok_or_else(|| {
                String::from("--status: Completed, Canceled or Abandoned (default Canceled)")
            }),
        }
    }

    fn fields(&self) -> Result<RequestsFields, String> {
        let config = self.value("config")?;
        let text =
            std::fs::read_to_string(config).map_err(|err| format!("reading {config}: {err}"))?;
        serde_json::from_str(&text).map_err(|err| format!("{config}: {err}"))
    }

    fn registry(&self) -> Result<(Registry, RequestsFields), String> {
        let config = self.value("config")?;
        let fields = self.fields()?;
        let path = fields.registry.as_ref().ok_or_else(|| {
            format!(
                "{config} names no \"registry\": add \"registry\": \"PATH\" (created on first use)"
            )
        })?;
        Ok((Registry::open(path, fields.version()?)?, fields))
    }
}

const VERIFY_AUDIT_USAGE: &str =
    "usage: cardadmin-server verify-audit [--file-id <32 hex digits>] [--] <audit log>

Checks the audit trail's hash chain from the first line to the last. Exit status: 0 the chain
holds (prints the file id, the line count and the head hash), 1 broken (names the first line
that does not verify) or, with --file-id, another trail than the one named; 2 bad arguments.
`--` before a path that starts with '-'. A trail written before file ids verifies as before and
is said to have none.";

/// `verify-audit [--file-id ID] PATH`: 0 when the chain holds (prints the file id, the line
/// count and the head hash), 1 naming the first broken line otherwise, or when `--file-id`
/// names another trail than the file's; 2 for bad arguments.
///
/// A trail written before file ids verifies as before and is said to have none (or, once a
/// server of this version continued it, the line its id was appended on).
///
/// `verify-audit --config C` checks the trail in the configuration's `"database"` instead.
pub fn verify_audit(args: &[String], password: Option<Zeroizing<String>>) -> ExitCode {
    if matches!(args, [flag] if flag == "--help" || flag == "-h") {
        println!("{VERIFY_AUDIT_USAGE}");
        return ExitCode::SUCCESS;
    }
    if let [flag, config] = args {
        if flag == "--config" {
            return verify_database(config, password);
        }
    }
    drop(password);
    let (path, expected) = match args {
        [dashes, path] if dashes == "--" => (path, None),
        [path] if !path.starts_with('-') => (path, None),
        [flag, id, dashes, path] if flag == "--file-id" && dashes == "--" => (path, Some(id)),
        [path, flag, id] | [flag, id, path] if flag == "--file-id" && !path.starts_with('-') => {
            (path, Some(id))
        }
        _ => {
            eprintln!("{VERIFY_AUDIT_USAGE}");
            return ExitCode::from(2);
        }
    };
    let expected = match expected.map(|id| audit::parse_file_id(id)).transpose() {
        Ok(expected) => expected,
        Err(err) => {
            eprintln!("--file-id: {err}\n{VERIFY_AUDIT_USAGE}");
            return ExitCode::from(2);
        }
    };
    let path = Path::new(path);
    match crate::audit::verify(path) {
        Ok(verified) => {
            let id = match (&verified.file_id, verified.file_id_line) {
                (Some(id), Some(1) | None) => format!("file id {id}"),
                (Some(id), Some(line)) => format!(
                    "file id {id} (from line {line}; the lines before it were written before file ids)"
                ),
                (None, _) => String::from("no file id (written before file ids)"),
            };
            if let Some(expected) = &expected {
                if verified.file_id.as_ref() != Some(expected) {
                    eprintln!(
                        "{}: the chain holds, but it is not the trail {expected}: {id}",
                        path.display()
                    );
                    return ExitCode::FAILURE;
                }
            }
            println!(
                "{}: {id}; {}, chain intact; head {}",
                path.display(),
                counted(verified.lines as u64, "line", "lines"),
                verified.head
            );
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("{}: broken at {message}", path.display());
            ExitCode::FAILURE
        }
    }
}

/// `verify-audit --config CONFIG`: every node's chain in the configuration's database, and the
/// checkpoints. 0 printing what was checked; 1 naming the node and seq of the first break (or
/// when the database cannot be read); 2 for a configuration without `"database"`.
fn verify_database(config: &str, password: Option<Zeroizing<String>>) -> ExitCode {
    let fields = match std::fs::read_to_string(config)
        .map_err(|err| format!("reading {config}: {err}"))
        .and_then(|text| {
            serde_json::from_str::<RequestsFields>(&text).map_err(|err| format!("{config}: {err}"))
        }) {
        Ok(fields) => fields,
        Err(message) => {
            eprintln!("error: {message}");
            return ExitCode::FAILURE;
        }
    };
    let Some(url) = fields.database.as_deref() else {
        eprintln!("{config} names no \"database\": `verify-audit --config` checks a database's trail; give a file trail's path instead: cardadmin-server verify-audit <audit log>");
        return ExitCode::from(2);
    };
    let checked = pg::parse_url(url, password.as_deref().map(String::as_str)).and_then(|target| {
        drop(password);
        let version = fields.version()?;
        crate::pg::runtime()?.block_on(async {
            let database = pg::Database::open(target, version).await?;
            let verified = pg::verify(&database).await?;
            Ok((database.description().to_string(), verified))
        })
    });
    match checked {
        Ok((description, Ok(verified))) => {
            println!(
                "database {description}: {} in {} checked, every chain intact; {}, their {} to other nodes' records hold",
                counted(verified.records, "record", "records"),
                counted(verified.chains.len() as u64, "node", "nodes"),
                counted(verified.checkpoints, "checkpoint", "checkpoints"),
                counted(verified.references, "reference", "references")
            );
            for (node, (seq, head)) in &verified.chains {
                println!("node {node}: records 1 to {seq}, head {head}");
            }
            ExitCode::SUCCESS
        }
        Ok((description, Err(broken))) => {
            eprintln!("database {description}: broken at {broken}");
            ExitCode::FAILURE
        }
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}
