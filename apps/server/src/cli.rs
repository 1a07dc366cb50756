//! The subcommands beside the server: `requests add|close|list` (the registry) and
//! `verify-audit` (the audit trail's chain).
//!
//! ```text
//! cardadmin-server requests add --config CONFIG --reqid R --scid S --cardid C --operator NAME
//! cardadmin-server requests close --config CONFIG --reqid R
//! cardadmin-server requests list --config CONFIG
//! cardadmin-server verify-audit PATH
//! ```
//!
//! `requests` reads only the configuration's `"registry"` (it needs no key, so a key store
//! is never opened to manage requests). Exit status: 0 done, 1 refused (with a message on
//! stderr), 2 bad arguments.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use cardadmin::cm::Guid;
use cardadmin::CardId;
use serde::Deserialize;

use crate::registry::{format_request, Registry};

/// The one field `requests` reads; the rest of the file is the server's.
#[derive(Deserialize)]
struct RegistryField {
    registry: Option<PathBuf>,
}

const REQUESTS_USAGE: &str = "usage: cardadmin-server requests add --config <config.json> --reqid <GUID> --scid <GUID> --cardid <GUID> --operator <NAME>
       cardadmin-server requests close --config <config.json> --reqid <GUID>
       cardadmin-server requests list --config <config.json>";

/// True when the arguments ask for help: `--help` or `-h` anywhere among them.
fn wants_help(args: &[String]) -> bool {
    args.iter().any(|arg| arg == "--help" || arg == "-h")
}

/// `requests add|close|list`.
pub fn requests(args: &[String]) -> ExitCode {
    if wants_help(args) {
        println!("{REQUESTS_USAGE}\n\nThe registry is the configuration's \"registry\" (apps/server/README.md).");
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
    let registry = match options.registry() {
        Ok(registry) => registry,
        Err(message) => {
            eprintln!("error: {message}");
            return ExitCode::FAILURE;
        }
    };
    let done = match action.as_str() {
        "add" => add(&registry, &options),
        "close" => options
            .guid("reqid")
            .and_then(|reqid| registry.close(reqid).map(|()| format!("closed {reqid}"))),
        "list" => registry.list().map(|requests| {
            let mut out = String::from("reqid\tscid\tcardid\toperator\tstate");
            for request in &requests {
                out.push('\n');
                out.push_str(&format_request(request));
            }
            out
        }),
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

fn add(registry: &Registry, options: &Options) -> Result<String, String> {
    let reqid = options.guid("reqid")?;
    let scid = options.guid("scid")?;
    let cardid = options.value("cardid")?;
    let cardid = CardId::parse(cardid).map_err(|err| format!("--cardid: {err}"))?;
    let operator = options.value("operator")?;
    registry.add(reqid, scid, cardid, operator)?;
    Ok(format!(
        "added {reqid}: smart card {scid}, card {cardid}, operator {operator:?}, open"
    ))
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
                .filter(|name| ["config", "reqid", "scid", "cardid", "operator"].contains(name))
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

    fn registry(&self) -> Result<Registry, String> {
        let config = self.value("config")?;
        let text =
            std::fs::read_to_string(config).map_err(|err| format!("reading {config}: {err}"))?;
        let field: RegistryField =
            serde_json::from_str(&text).map_err(|err| format!("{config}: {err}"))?;
        let path = field.registry.ok_or_else(|| {
            format!(
                "{config} names no \"registry\": add \"registry\": \"PATH\" (created on first use)"
            )
        })?;
        Registry::open(&path)
    }
}

const VERIFY_AUDIT_USAGE: &str = "usage: cardadmin-server verify-audit [--] <audit log>

Checks the audit trail's hash chain from the first line to the last. Exit status: 0 the chain
holds (prints the line count and the head hash), 1 broken (names the first line that does not
verify), 2 bad arguments. `--` before a path that starts with '-'.";

/// `verify-audit PATH`: 0 when the chain holds (prints the line count and the head hash), 1
/// naming the first broken line otherwise, 2 for bad arguments.
pub fn verify_audit(args: &[String]) -> ExitCode {
    let path = match args {
        [flag] if flag == "--help" || flag == "-h" => {
            println!("{VERIFY_AUDIT_USAGE}");
            return ExitCode::SUCCESS;
        }
        [dashes, path] if dashes == "--" => path,
        [path] if !path.starts_with('-') => path,
        _ => {
            eprintln!("{VERIFY_AUDIT_USAGE}");
            return ExitCode::from(2);
        }
    };
    let path = Path::new(path);
    match crate::audit::verify(path) {
        Ok(verified) => {
            println!(
                "{}: {} lines, chain intact; head {}",
                path.display(),
                verified.lines,
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
