//! `cardadmin-ceremony`: puts a diversification master key into a PKCS#11 token, and lists
//! the keys there with their check values.
//!
//! ```text
//! cardadmin-ceremony generate --module PATH --token LABEL --label KEY --algorithm ALG [--pin-env VAR | --pin-file PATH]
//! cardadmin-ceremony import   --module PATH --token LABEL --label KEY --algorithm ALG --components 2|3 [--expect-check-value HEX] [--pin-env VAR | --pin-file PATH]
//! cardadmin-ceremony list     --module PATH --token LABEL [--pin-env VAR | --pin-file PATH]
//! cardadmin-ceremony --help | --version
//! ```
//!
//! The user PIN comes from the environment variable `--pin-env` names (default
//! `CARDADMIN_TOKEN_PIN`) or from `--pin-file`, never from the command line.
//!
//! `import` asks each custodian for their component in turn (hex; spaces allowed), read
//! without echo when standard input is a terminal, else one line each from standard input
//! (then it says that dual control is not being enforced); refuses an all-zero component and
//! one equal to an earlier one; shows the component's check values and waits for the
//! custodian's `y` before going on. Components and answers are read straight from the file
//! descriptor into fixed buffers that are wiped. The components are XORed in zeroizing memory;
//! with `--expect-check-value`, a combined key with another check value is refused before
//! anything reaches the token; it is written as one non-extractable, sign-only object, and the
//! master's check value is shown as computed in memory and by the token, which must match.
//! `ceremony.rs` in the crate says which check value method each number uses.

use std::io::{IsTerminal, Write};
use std::os::fd::AsFd;
use std::path::PathBuf;
use std::process::ExitCode;

use cardadmin::Algorithm;
use cardadmin_pkcs11::ceremony::{self, CeremonyError, Component};
use cardadmin_pkcs11::{ExpectedCheckValue, Module, PinSource};
use zeroize::Zeroizing;

const COMMON: &str = "[--pin-env VAR | --pin-file PATH]";

const GENERATE: &str = "usage: cardadmin-ceremony generate --module PATH --token LABEL --label KEY --algorithm tdes|aes128|aes192|aes256 [--pin-env VAR | --pin-file PATH]
Generates a master key inside the token. It can never leave the token: there is no copy and
no backup, so losing or re-initializing the token loses every card key derived from it. For a
master that can be recovered, use `import` with custodians' components.";

const IMPORT: &str = "usage: cardadmin-ceremony import --module PATH --token LABEL --label KEY --algorithm tdes|aes128|aes192|aes256 --components 2|3 [--expect-check-value HEX] [--pin-env VAR | --pin-file PATH]
Builds the master from 2 or 3 custodians' components (XOR), typed in turn without echo on a
terminal. An all-zero component and two equal components are refused. --expect-check-value:
the combined key's check value (6 hex digits, CMAC method) the custodians expect; any other
stops the ceremony before anything is written to the token.";

const LIST: &str =
    "usage: cardadmin-ceremony list --module PATH --token LABEL [--pin-env VAR | --pin-file PATH]
Lists every secret key of the token with its algorithm, check value and uses.";

fn usage() -> String {
    format!(
        "usage:
  cardadmin-ceremony generate --module PATH --token LABEL --label KEY --algorithm tdes|aes128|aes192|aes256 {COMMON}
  cardadmin-ceremony import   --module PATH --token LABEL --label KEY --algorithm ALG --components 2|3 [--expect-check-value HEX] {COMMON}
  cardadmin-ceremony list     --module PATH --token LABEL {COMMON}
  cardadmin-ceremony COMMAND --help | cardadmin-ceremony --version
The user PIN is read from the environment variable --pin-env names (default CARDADMIN_TOKEN_PIN) or from --pin-file; never from the command line."
    )
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Command {
    Generate,
    Import,
    List,
}

impl Command {
    fn name(self) -> &'static str {
        match self {
            Self::Generate => "generate",
            Self::Import => "import",
            Self::List => "list",
        }
    }

    fn usage(self) -> &'static str {
        match self {
            Self::Generate => GENERATE,
            Self::Import => IMPORT,
            Self::List => LIST,
        }
    }
}

struct Args {
    command: Command,
    module: PathBuf,
    token: String,
    label: Option<String>,
    algorithm: Option<Algorithm>,
    components: usize,
    expect: Option<ExpectedCheckValue>,
    pin: PinSource,
}

enum Parsed {
    Run(Args),
    Help(String),
    Version,
}

/// How an option is named in a message: `--name` of `--name=value`, `-x` of `-xvalue`; the
/// value (a PIN, a key typed in the wrong place) is never repeated.
fn option_name(arg: &str) -> &str {
    if let Some(rest) = arg.strip_prefix("--") {
        let end = rest.find('=').map_or(arg.len(), |at| at + 2);
        arg.get(..end).unwrap_or("--")
    } else {
        arg.get(..arg.char_indices().nth(2).map_or(arg.len(), |(at, _)| at))
            .unwrap_or("-")
    }
}

fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Parsed, String> {
    let first = args.next().ok_or("a command is required")?;
    let command = match first.as_str() {
        "--help" | "-h" | "help" => return Ok(Parsed::Help(usage())),
        "--version" | "-V" => return Ok(Parsed::Version),
        "generate" => Command::Generate,
        "import" => Command::Import,
        "list" => Command::List,
        other if other.starts_with('-') => {
            return Err(format!(
                "unknown option {}; a command comes first",
                option_name(other)
            ))
        }
        other if other.len() <= 16 && other.chars().all(|c| c.is_ascii_lowercase() || c == '-') => {
            return Err(format!(
                "unknown command {other:?}: expected generate, import or list"
            ))
        }
        _ => return Err("unknown command: expected generate, import or list".into()),
    };
    let (mut module, mut token, mut label, mut algorithm) = (None, None, None, None);
    let (mut components, mut expect) = (None, None);
    let mut pin = PinSource::Env("CARDADMIN_TOKEN_PIN".into());
    while let Some(arg) = args.next() {
        let (name, inline) = match arg.split_once('=') {
            Some((name, value)) if name.starts_with("--") => (name, Some(value.to_string())),
            _ => (arg.as_str(), None),
        };
        let mut value = || {
            inline
                .clone()
                .or_else(|| args.next())
                .ok_or(format!("{name} needs a value"))
        };
        match name {
            "--help" | "-h" => return Ok(Parsed::Help(command.usage().into())),
            "--version" | "-V" => return Ok(Parsed::Version),
            "--module" => module = Some(PathBuf::from(value()?)),
            "--token" => token = Some(value()?),
            "--label" => label = Some(value()?),
            "--algorithm" => {
                algorithm = Some(
                    value()?
                        .parse::<Algorithm>()
                        .map_err(|err| format!("--algorithm: {err}"))?,
                );
            }
            "--components" => {
                components = Some(match value()?.as_str() {
                    "2" => 2,
                    "3" => 3,
                    _ => return Err("--components must be 2 or 3".into()),
                });
            }
            "--expect-check-value" => {
                expect = Some(
                    value()?
                        .parse::<ExpectedCheckValue>()
                        .map_err(|err| format!("--expect-check-value: {err}"))?,
                );
            }
            "--pin-env" => pin = PinSource::Env(value()?),
            "--pin-file" => pin = PinSource::File(PathBuf::from(value()?)),
            "--pin" => {
                return Err(
                    "--pin: a PIN on the command line is visible to every user of the machine; use --pin-env or --pin-file".into(),
                )
            }
            other if other.starts_with('-') => {
                return Err(format!("unknown option {}", option_name(other)))
            }
            _ => {
                return Err(format!(
                    "{}: unexpected argument (every value follows its option)",
                    command.name()
                ))
            }
        }
    }
    let module = module.ok_or("--module is required")?;
    let token = token.ok_or("--token is required")?;
    if command != Command::List {
        if label.is_none() {
            return Err(format!("{}: --label is required", command.name()));
        }
        if algorithm.is_none() {
            return Err(format!("{}: --algorithm is required", command.name()));
        }
    }
    if command == Command::Import && components.is_none() {
        return Err("import: --components 2 or 3 is required".into());
    }
    if command != Command::Import && expect.is_some() {
        return Err("--expect-check-value is for import only".into());
    }
    Ok(Parsed::Run(Args {
        command,
        module,
        token,
        label,
        algorithm,
        components: components.unwrap_or(0),
        expect,
        pin,
    }))
}

/// The longest line read: a 64-digit AES-256 component with a separator between every two
/// digits fits.
const LINE: usize = 256;

/// Turns echo off on the terminal for as long as it lives (newlines still echo).
struct EchoOff(Option<rustix::termios::Termios>);

impl EchoOff {
    fn new(terminal: bool) -> Result<Self, String> {
        if !terminal {
            return Ok(Self(None));
        }
        let stdin = std::io::stdin();
        let saved = rustix::termios::tcgetattr(stdin.as_fd())
            .map_err(|err| format!("reading the terminal's settings: {err}"))?;
        let mut quiet = saved.clone();
        quiet.local_modes.remove(rustix::termios::LocalModes::ECHO);
        quiet
            .local_modes
            .insert(rustix::termios::LocalModes::ECHONL);
        rustix::termios::tcsetattr(stdin.as_fd(), rustix::termios::OptionalActions::Now, &quiet)
            .map_err(|err| format!("turning the terminal's echo off: {err}"))?;
        Ok(Self(Some(saved)))
    }
}

impl Drop for EchoOff {
    fn drop(&mut self) {
        if let Some(saved) = &self.0 {
            // Nothing better to do if the terminal is gone.
            let _ = rustix::termios::tcsetattr(
                std::io::stdin().as_fd(),
                rustix::termios::OptionalActions::Now,
                saved,
            );
        }
    }
}

/// Reads one line from standard input into `buffer`, a byte at a time from the file
/// descriptor (no buffer of the standard library's keeps what was typed), without the line
/// feed; `Ok(None)` at end of input. A line longer than the buffer is refused (and read to
/// its end, so that it is not taken for the next answer). The CR of a CR LF line break stays:
/// both readers drop white space (a component's digits are read without it, a confirmation is
/// trimmed), so removing it here as well would be a second place doing the same.
fn read_line(buffer: &mut [u8; LINE]) -> Result<Option<usize>, String> {
    let stdin = std::io::stdin();
    let mut len = 0;
    let mut too_long = false;
    let mut byte = Zeroizing::new([0u8; 1]);
    loop {
        let read = match rustix::io::read(stdin.as_fd(), &mut byte[..]) {
            Ok(read) => read,
            Err(rustix::io::Errno::INTR) => continue,
            Err(err) => return Err(format!("reading standard input: {err}")),
        };
        if read == 0 {
            if len == 0 && !too_long {
                return Ok(None);
            }
            break;
        }
        if byte[0] == b'\n' {
            break;
        }
        match buffer.get_mut(len) {
            Some(slot) => {
                *slot = byte[0];
                len += 1;
            }
            None => too_long = true,
        }
    }
    if too_long {
        return Err(format!("a line longer than {LINE} characters"));
    }
    Ok(Some(len))
}

/// Reads one component without echo from the terminal, else a line of standard input.
fn read_component(prompt: &str, terminal: bool, buffer: &mut [u8; LINE]) -> Result<usize, String> {
    eprint!("{prompt}");
    let echo = EchoOff::new(terminal)?;
    let line = read_line(buffer);
    drop(echo);
    if !terminal {
        eprintln!();
    }
    line?.ok_or_else(|| "standard input ended before every component was given".to_string())
}

fn confirm(prompt: &str, terminal: bool) -> Result<bool, String> {
    print!("{prompt}");
    std::io::stdout().flush().map_err(|err| err.to_string())?;
    let mut answer = Zeroizing::new([0u8; LINE]);
    let len = read_line(&mut answer)
        .map_err(|err| format!("reading the confirmation: {err}"))?
        .unwrap_or(0);
    let text = answer.get(..len).unwrap_or_default().trim_ascii();
    if !terminal {
        println!("{}", String::from_utf8_lossy(text));
    }
    Ok(text.eq_ignore_ascii_case(b"y") || text.eq_ignore_ascii_case(b"yes"))
}

fn import(args: &Args, algorithm: Algorithm) -> Result<ceremony::CombinedKey, String> {
    let terminal = std::io::stdin().is_terminal();
    if !terminal {
        eprintln!(
            "warning: standard input is not a terminal: dual control is not being enforced (every component comes from one stream, not typed by each custodian in turn)"
        );
    }
    let stop = |err: CeremonyError| format!("{err}");
    let mut parts: Vec<Component> = Vec::with_capacity(args.components);
    for index in 1..=args.components {
        let mut line = Zeroizing::new([0u8; LINE]);
        let len = read_component(
            &format!(
                "custodian {index} of {}: component ({} hex digits, not shown): ",
                args.components,
                2 * algorithm.key_len()
            ),
            terminal,
            &mut line,
        )?;
        let text = std::str::from_utf8(line.get(..len).unwrap_or_default()).map_err(|_| {
            format!("component {index}: not text (hex digits expected); nothing was written")
        })?;
        let part = Component::parse(algorithm, text)
            .map_err(|error| CeremonyError::Component { index, error })
            .and_then(|part| part.check_against(index, &parts).map(|()| part))
            .map_err(|err| format!("{}; nothing was written", stop(err)))?;
        drop(line);
        let (cmac, ecb) = part.check_values();
        println!(
            "component {index}: KCV (CMAC, X9.24-1:2017) {cmac}   KCV (E_K(0), traditional) {ecb}"
        );
        if !confirm(
            &format!("custodian {index}: does a check value above match your form? [y/N] "),
            terminal,
        )? {
            return Err(format!(
                "custodian {index} did not confirm the check value; nothing was written"
            ));
        }
        parts.push(part);
    }
    let combined = ceremony::combine(algorithm, &parts).map_err(stop)?;
    if let Some(expected) = &args.expect {
        combined.expect_check_value(expected).map_err(stop)?;
    }
    Ok(combined)
}

/// A warning for each optional attribute of the master's template that the token did not
/// take, saying what the key made without it lacks.
fn not_set_warnings(not_set: &[&str]) -> Vec<String> {
    not_set
        .iter()
        .map(|name| {
            format!(
                "warning: the token does not take {name}; the key was made without it ({})",
                match *name {
                    "CKA_ALLOWED_MECHANISMS" => "the token does not limit it to CMAC",
                    _ => "it can be deleted",
                }
            )
        })
        .collect()
}

fn run(args: Args) -> Result<(), String> {
    let pin = args.pin.read().map_err(|err| err.to_string())?;
    let module = Module::load(&args.module).map_err(|err| err.to_string())?;
    let slot = module
        .find_token(&args.token)
        .map_err(|err| err.to_string())?;
    let write = args.command != Command::List;
    let session = module
        .login(slot, &args.token, &pin, write)
        .map_err(|err| err.to_string())?;
    drop(pin);
    let label = args.label.clone().unwrap_or_default();
    let algorithm = args.algorithm.unwrap_or(Algorithm::Tdes);
    match args.command {
        Command::Generate => {
            let written = ceremony::generate(&module, &session, algorithm, &label)
                .map_err(|err| err.to_string())?;
            for warning in not_set_warnings(&written.not_set) {
                eprintln!("{warning}");
            }
            println!(
                "master {label:?} ({algorithm}) generated in token {:?}: check value {} (CMAC method, ANSI X9.24-1:2017, computed by the token)",
                args.token, written.check_value
            );
            println!(
                "this master was generated inside the token and can never leave it: there is no copy and no backup, so losing or re-initializing the token loses every card key derived from it. For a master that can be recovered, build it from custodians' components with `cardadmin-ceremony import` (the components, kept apart, are its backup)."
            );
        }
        Command::Import => {
            let combined = import(&args, algorithm)?;
            let written = ceremony::import(&module, &session, algorithm, &label, &combined)
                .map_err(|err| err.to_string())?;
            drop(combined);
            for warning in not_set_warnings(&written.not_set) {
                eprintln!("{warning}");
            }
            println!(
                "master {label:?} ({algorithm}) written to token {:?} from {} components: check value {} (CMAC method, ANSI X9.24-1:2017; computed in memory and by the token, equal)",
                args.token, args.components, written.check_value
            );
        }
        Command::List => {
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
    let args = match parse_args(
        std::env::args_os()
            .skip(1)
            .map(|arg| arg.to_string_lossy().into_owned()),
    ) {
        Ok(Parsed::Run(args)) => args,
        Ok(Parsed::Help(text)) => {
            println!("{text}");
            return ExitCode::SUCCESS;
        }
        Ok(Parsed::Version) => {
            println!("cardadmin-ceremony {}", env!("CARGO_PKG_VERSION"));
            return ExitCode::SUCCESS;
        }
        Err(err) => {
            eprintln!("cardadmin-ceremony: {err}\n{}", usage());
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

#[cfg(test)]
mod tests {
    //! What SoftHSMv2 cannot show through the command: it takes every optional attribute.

    use super::not_set_warnings;

    #[test]
    fn each_attribute_the_token_did_not_take_is_named_with_what_the_key_lacks() {
        assert!(not_set_warnings(&[]).is_empty());
        let warnings = not_set_warnings(&["CKA_ALLOWED_MECHANISMS", "CKA_DESTROYABLE"]);
        assert_eq!(
            warnings,
            [
                "warning: the token does not take CKA_ALLOWED_MECHANISMS; the key was made without it (the token does not limit it to CMAC)",
                "warning: the token does not take CKA_DESTROYABLE; the key was made without it (it can be deleted)",
            ]
        );
    }
}
