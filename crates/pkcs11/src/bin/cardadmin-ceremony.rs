//! `cardadmin-ceremony`: puts a diversification master key into a PKCS#11 token, and lists
//! the keys there with their check values.
//!
//! ```text
//! cardadmin-ceremony generate --module PATH --token LABEL --label KEY --algorithm ALG [--pin-env VAR | --pin-file PATH]
//! cardadmin-ceremony import   --module PATH --token LABEL --label KEY --algorithm ALG --components 2|3 [--pin-env VAR | --pin-file PATH]
//! cardadmin-ceremony list     --module PATH --token LABEL [--pin-env VAR | --pin-file PATH]
//! ```
//!
//! The user PIN comes from the environment variable `--pin-env` names (default
//! `CARDADMIN_TOKEN_PIN`) or from `--pin-file`, never from the command line.
//!
//! `import` asks each custodian for their component in turn (hex; spaces allowed), read
//! without echo when standard input is a terminal, else one line each from standard input;
//! shows the component's check values and waits for the custodian's `y` before going on. The
//! components are XORed in zeroizing memory and written as one non-extractable, sign-only
//! object; the master's check value is shown as computed in memory and as computed by the
//! token, and must match. `ceremony.rs` in the crate says which check value method each
//! number uses.

use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use cardadmin::Algorithm;
use cardadmin_pkcs11::ceremony::{self, Component};
use cardadmin_pkcs11::{Module, PinSource};
use zeroize::Zeroizing;

const USAGE: &str = "usage:
  cardadmin-ceremony generate --module PATH --token LABEL --label KEY --algorithm tdes|aes128|aes192|aes256 [--pin-env VAR | --pin-file PATH]
  cardadmin-ceremony import   --module PATH --token LABEL --label KEY --algorithm ALG --components 2|3 [--pin-env VAR | --pin-file PATH]
  cardadmin-ceremony list     --module PATH --token LABEL [--pin-env VAR | --pin-file PATH]
The user PIN is read from the environment variable --pin-env names (default CARDADMIN_TOKEN_PIN) or from --pin-file; never from the command line.";

struct Args {
    command: String,
    module: PathBuf,
    token: String,
    label: Option<String>,
    algorithm: Option<Algorithm>,
    components: usize,
    pin: PinSource,
}

fn parse_args() -> Result<Args, String> {
    let mut args = std::env::args().skip(1);
    let command = args.next().ok_or("a command is required")?;
    if !matches!(command.as_str(), "generate" | "import" | "list") {
        return Err(format!("unknown command {command:?}"));
    }
    let (mut module, mut token, mut label, mut algorithm) = (None, None, None, None);
    let mut components = None;
    let mut pin = PinSource::Env("CARDADMIN_TOKEN_PIN".into());
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--module" => module = Some(PathBuf::from(value()?)),
            "--token" => token = Some(value()?),
            "--label" => label = Some(value()?),
            "--algorithm" => {
                let text = value()?;
                algorithm = Some(
                    text.parse::<Algorithm>()
                        .map_err(|err| format!("--algorithm {text:?}: {err}"))?,
                );
            }
            "--components" => {
                let text = value()?;
                components = Some(match text.as_str() {
                    "2" => 2,
                    "3" => 3,
                    _ => return Err(format!("--components {text:?}: must be 2 or 3")),
                });
            }
            "--pin-env" => pin = PinSource::Env(value()?),
            "--pin-file" => pin = PinSource::File(PathBuf::from(value()?)),
            "--pin" => {
                return Err(
                    "--pin: a PIN on the command line is visible to every user of the machine; use --pin-env or --pin-file".into(),
                )
            }
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    let module = module.ok_or("--module is required")?;
    let token = token.ok_or("--token is required")?;
    if command != "list" {
        if label.is_none() {
            return Err(format!("{command}: --label is required"));
        }
        if algorithm.is_none() {
            return Err(format!("{command}: --algorithm is required"));
        }
    }
    if command == "import" && components.is_none() {
        return Err("import: --components 2 or 3 is required".into());
    }
    Ok(Args {
        command,
        module,
        token,
        label,
        algorithm,
        components: components.unwrap_or(0),
        pin,
    })
}

/// Reads one secret line: without echo from the terminal, else from standard input.
fn read_secret(prompt: &str, terminal: bool) -> Result<Zeroizing<String>, String> {
    if terminal {
        return rpassword::prompt_password(prompt)
            .map(Zeroizing::new)
            .map_err(|err| format!("reading from the terminal: {err}"));
    }
    eprint!("{prompt}");
    let mut line = Zeroizing::new(String::new());
    let read = std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|err| format!("reading standard input: {err}"))?;
    if read == 0 {
        return Err("standard input ended before every component was given".into());
    }
    let trimmed = Zeroizing::new(line.trim_end_matches(['\r', '\n']).to_string());
    eprintln!();
    Ok(trimmed)
}

fn confirm(prompt: &str) -> Result<bool, String> {
    print!("{prompt}");
    std::io::stdout().flush().map_err(|err| err.to_string())?;
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|err| format!("reading the confirmation: {err}"))?;
    let answer = line.trim();
    if !std::io::stdin().is_terminal() {
        println!("{answer}");
    }
    Ok(answer.eq_ignore_ascii_case("y") || answer.eq_ignore_ascii_case("yes"))
}

fn run(args: Args) -> Result<(), String> {
    let pin = args.pin.read().map_err(|err| err.to_string())?;
    let module = Module::load(&args.module).map_err(|err| err.to_string())?;
    let slot = module
        .find_token(&args.token)
        .map_err(|err| err.to_string())?;
    let write = args.command != "list";
    let session = module
        .login(slot, &args.token, &pin, write)
        .map_err(|err| err.to_string())?;
    drop(pin);
    let label = args.label.unwrap_or_default();
    let algorithm = args.algorithm.unwrap_or(Algorithm::Tdes);
    match args.command.as_str() {
        "generate" => {
            let (_, kcv) = ceremony::generate(&module, &session, algorithm, &label)
                .map_err(|err| err.to_string())?;
            println!(
                "master {label:?} ({algorithm}) generated in token {:?}: check value {kcv} (CMAC method, ANSI X9.24-1:2017, computed by the token)",
                args.token
            );
        }
        "import" => {
            let terminal = std::io::stdin().is_terminal();
            let mut parts = Vec::new();
            for index in 1..=args.components {
                let text = read_secret(
                    &format!(
                        "custodian {index} of {}: component ({} hex digits, not shown): ",
                        args.components,
                        2 * algorithm.key_len()
                    ),
                    terminal,
                )?;
                let part = Component::parse(algorithm, &text)
                    .map_err(|err| format!("component {index}: {err}; nothing was written"))?;
                drop(text);
                let (cmac, ecb) = part.check_values();
                println!(
                    "component {index}: KCV (CMAC, X9.24-1:2017) {cmac}   KCV (E_K(0), traditional) {ecb}"
                );
                if !confirm(&format!(
                    "custodian {index}: does a check value above match your form? [y/N] "
                ))? {
                    return Err(format!(
                        "custodian {index} did not confirm the check value; nothing was written"
                    ));
                }
                parts.push(part);
            }
            let combined = ceremony::combine(algorithm, &parts).map_err(|err| err.to_string())?;
            drop(parts);
            let (_, kcv) = ceremony::import(&module, &session, algorithm, &label, &combined)
                .map_err(|err| err.to_string())?;
            drop(combined);
            println!(
                "master {label:?} ({algorithm}) written to token {:?} from {} components: check value {kcv} (CMAC method, ANSI X9.24-1:2017; computed in memory and by the token, equal)",
                args.token, args.components
            );
        }
        _ => {
            let keys = ceremony::list(&module, &session).map_err(|err| err.to_string())?;
            println!(
                "{:<24} {:<10} {:<6} {:<40} {:<8} uses",
                "label", "algorithm", "KCV", "check value method", "sealed"
            );
            for key in keys {
                let (kcv, method) = key
                    .check_value
                    .clone()
                    .unwrap_or_else(|| ("-".into(), "none available"));
                println!(
                    "{:<24} {:<10} {:<6} {:<40} {:<8} {}",
                    key.label,
                    key.description,
                    kcv,
                    method,
                    if key.sealed { "yes" } else { "NO" },
                    key.uses.join(",")
                );
            }
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(args) => args,
        Err(err) => {
            eprintln!("cardadmin-ceremony: {err}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("cardadmin-ceremony: {err}");
            ExitCode::FAILURE
        }
    }
}
