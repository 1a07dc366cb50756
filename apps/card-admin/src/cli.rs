//! The command line and the PIV/GIDS commands.

use cardadmin::Algorithm;
use cardadmin_card::auth::gids;

use crate::enroll;
use crate::flows::{
    gids_authenticate, gids_select, piv_authenticate, piv_select, piv_set_management_key,
    verify_pin,
};
use crate::mimcm::Kind;
use crate::options::{Source, Tls};
use crate::reader::{self, flow, Connection, StepError};
use crate::server_url;
#[cfg(test)]
use crate::server_url::Transport;

/// The commands, each with the words that name it (`card-admin piv --help` shows the `piv`
/// lines).
const COMMANDS: &[(&str, &str)] = &[
    ("readers", "card-admin readers"),
    ("piv", "card-admin [--reader NAME] piv authenticate --algorithm ALG KEY [--single]"),
    ("piv", "card-admin [--reader NAME] piv set-management-key --algorithm ALG KEY --new-algorithm ALG NEW_KEY [--touch]"),
    ("piv", "card-admin [--reader NAME] piv verify-pin PIN"),
    ("gids", "card-admin [--reader NAME] gids authenticate --algorithm ALG KEY"),
    ("gids", "card-admin [--reader NAME] gids put-key --algorithm ALG KEY NEW_KEY"),
    ("enroll", "card-admin [--reader NAME] enroll --server URL --reqid GUID [--profile-template GUID] [--scid GUID]\n                  [--cardid GUID] [PIN] [--cert PEM --key PEM] [--cacert PEM]"),
    ("renew", "card-admin [--reader NAME] renew --server URL --reqid GUID --scid GUID --cardid GUID\n                  [--cert PEM --key PEM] [--cacert PEM]"),
];

const NOTES: &str = "  ALG: tdes, aes128, aes192 or aes256
  KEY: --key-env VAR | --key-file PATH (hex); NEW_KEY: --new-key-env VAR | --new-key-file PATH
  PIN: --pin-env VAR | --pin-file PATH (enroll: the card's current PIN, 123456 if not given)
  keys and PINs are never taken from the command line
  URL (enroll, renew): https://HOST[:PORT], or http:// to a loopback host only (localhost, 127.0.0.0/8, ::1)
  --cardid: the card's ID, read from the card when it says it (PIV CHUID), and then --cardid must name it
  enroll: the profile template named by the request, or --profile-template; the smart card from POST /smartcards
  a command that talks to the card holds it (a PC/SC transaction) until it ends, then resets it
  -h, --help: this text (after a command word: that command's); -V, --version: the version
  documentation: apps/card-admin/README.md in the source repository";

/// The usage text: every command, or those named by `topic` (`piv`, `gids`, `enroll`,
/// `renew`, `readers`).
pub fn usage(topic: Option<&str>) -> String {
    let mut text = String::new();
    let lines = COMMANDS
        .iter()
        .filter(|(word, _)| topic.is_none_or(|topic| topic == *word));
    for (at, (_, line)) in lines.enumerate() {
        text.push_str(if at == 0 { "usage: " } else { "       " });
        text.push_str(line);
        text.push('\n');
    }
    text.push_str(NOTES);
    text
}

/// A usage error (empty: just print the usage).
pub struct Usage(pub String);

pub enum Action {
    Readers,
    PivAuthenticate {
        algorithm: Algorithm,
        key: Source,
        mutual: bool,
    },
    PivSetManagementKey {
        algorithm: Algorithm,
        key: Source,
        new_algorithm: Algorithm,
        new_key: Source,
        touch: bool,
    },
    PivVerifyPin {
        pin: Source,
    },
    GidsAuthenticate {
        algorithm: Algorithm,
        key: Source,
    },
    GidsPutKey {
        algorithm: Algorithm,
        key: Source,
        new_key: Source,
    },
    /// `enroll` or `renew`.
    Lifecycle(enroll::Options),
}

pub struct Invocation {
    reader: Option<String>,
    action: Action,
}

/// What the command line asks for.
pub enum Parsed {
    /// Run a command (boxed: the other two are small).
    Run(Box<Invocation>),
    /// Print this usage text on standard output and exit 0 (`--help`, `-h`).
    Help(String),
    /// Print the version on standard output and exit 0 (`--version`, `-V`).
    Version,
}

/// The words that name a command (the first word of each).
const COMMAND_WORDS: [&str; 5] = ["readers", "piv", "gids", "enroll", "renew"];

/// The options this tool knows, for a message about one given as `--name=value`.
const OPTIONS: [&str; 20] = [
    "--reader",
    "--algorithm",
    "--new-algorithm",
    "--key-env",
    "--key-file",
    "--new-key-env",
    "--new-key-file",
    "--pin-env",
    "--pin-file",
    "--mutual",
    "--single",
    "--touch",
    "--server",
    "--reqid",
    "--scid",
    "--cardid",
    "--profile-template",
    "--cert",
    "--key",
    "--cacert",
];

/// Options that would put a key or a PIN on the command line.
const SECRET_OPTIONS: [&str; 3] = ["--key-hex", "--new-key", "--pin"];

/// The name of an option as given, without the value that may be joined to it: `--pin=123456`
/// is `--pin`, `-p123456` is `-p`. The value may be a secret, so messages name this only.
pub fn option_name(arg: &str) -> &str {
    let name = arg.split_once('=').map_or(arg, |(name, _)| name);
    if name.starts_with("--") {
        return name;
    }
    // A short option with its value glued on (`-p123456`): the dash and one character.
    match name.char_indices().nth(2) {
        Some((end, _)) => name.get(..end).unwrap_or(name),
        None => name,
    }
}

/// The message for an option this tool does not take as given; never shows a value.
fn unknown_option(arg: &str) -> String {
    let name = option_name(arg);
    if SECRET_OPTIONS.contains(&name) {
        format!(
            "{name}: keys and PINs are read from the environment or a file, never the command line"
        )
    } else if name.len() < arg.len() && OPTIONS.contains(&name) {
        format!("{name}: give the value as the next word ({name} VALUE), not after '=' (the value is not shown)")
    } else if name.len() < arg.len() {
        format!("unknown option {name} (its value is not shown)")
    } else {
        format!("unknown option {name}")
    }
}

#[derive(Default)]
struct Flags {
    algorithm: Option<Algorithm>,
    new_algorithm: Option<Algorithm>,
    key: Option<Source>,
    new_key: Option<Source>,
    pin: Option<Source>,
    single: bool,
    touch: bool,
    server: Option<String>,
    reqid: Option<String>,
    scid: Option<String>,
    cardid: Option<String>,
    profile_template: Option<String>,
    tls: Option<Tls>,
}

fn algorithm(text: &str, flag: &str) -> Result<Algorithm, Usage> {
    text.parse()
        .map_err(|err| Usage(format!("{flag} {text}: {err}")))
}

fn set_once<T>(slot: &mut Option<T>, value: T, flag: &str) -> Result<(), Usage> {
    if slot.is_some() {
        return Err(Usage(format!(
            "{flag} given twice (or with its -file/-env twin)"
        )));
    }
    *slot = Some(value);
    Ok(())
}

/// Reads the command line (without the program name). `--help`/`-h` and `--version`/`-V`
/// win over everything else, wherever they stand (a `--pin-file --help` is a request for help,
/// not a file named `--help`).
pub fn parse(args: impl Iterator<Item = String>) -> Result<Parsed, Usage> {
    let args: Vec<String> = args.collect();
    if args.iter().any(|arg| arg == "--help" || arg == "-h") {
        let topic = args
            .iter()
            .map(String::as_str)
            .find(|arg| COMMAND_WORDS.contains(arg));
        return Ok(Parsed::Help(usage(topic)));
    }
    if args.iter().any(|arg| arg == "--version" || arg == "-V") {
        return Ok(Parsed::Version);
    }
    let mut args = args.into_iter();
    let mut reader = None;
    let mut words: Vec<String> = Vec::new();
    let mut flags = Flags::default();
    while let Some(arg) = args.next() {
        let mut value = |flag: &str| {
            args.next()
                .ok_or_else(|| Usage(format!("{flag} needs a value")))
        };
        match arg.as_str() {
            "--reader" => reader = Some(value("--reader")?),
            "--algorithm" => {
                flags.algorithm = Some(algorithm(&value("--algorithm")?, "--algorithm")?)
            }
            "--new-algorithm" => {
                flags.new_algorithm =
                    Some(algorithm(&value("--new-algorithm")?, "--new-algorithm")?)
            }
            "--key-env" => set_once(&mut flags.key, Source::Env(value(&arg)?), "--key-env")?,
            "--key-file" => set_once(&mut flags.key, Source::File(value(&arg)?), "--key-file")?,
            "--new-key-env" => set_once(
                &mut flags.new_key,
                Source::Env(value(&arg)?),
                "--new-key-env",
            )?,
            "--new-key-file" => set_once(
                &mut flags.new_key,
                Source::File(value(&arg)?),
                "--new-key-file",
            )?,
            "--pin-env" => set_once(&mut flags.pin, Source::Env(value(&arg)?), "--pin-env")?,
            "--pin-file" => set_once(&mut flags.pin, Source::File(value(&arg)?), "--pin-file")?,
            // Mutual authentication is the default: single authentication proves nothing about
            // the card and lets it have any block encrypted under the key (issue #14, auth::piv).
            "--mutual" => {}
            "--single" => flags.single = true,
            "--touch" => flags.touch = true,
            "--server" => flags.server = Some(value(&arg)?),
            "--reqid" => flags.reqid = Some(value(&arg)?),
            "--scid" => flags.scid = Some(value(&arg)?),
            "--cardid" => flags.cardid = Some(value(&arg)?),
            "--profile-template" => flags.profile_template = Some(value(&arg)?),
            "--cert" | "--key" | "--cacert" => {
                let path = value(&arg)?;
                let tls = flags.tls.get_or_insert(Tls {
                    cert: None,
                    key: None,
                    cacert: None,
                });
                match arg.as_str() {
                    "--cert" => tls.cert = Some(path),
                    "--key" => tls.key = Some(path),
                    _ => tls.cacert = Some(path),
                }
            }
            other if other.starts_with('-') => return Err(Usage(unknown_option(other))),
            _ => words.push(arg),
        }
    }
    let words: Vec<&str> = words.iter().map(String::as_str).collect();
    let need_alg =
        |alg: Option<Algorithm>| alg.ok_or_else(|| Usage("--algorithm is required".into()));
    let need_key = |key: Option<Source>| {
        key.ok_or_else(|| Usage("--key-env or --key-file is required".into()))
    };
    let action = match words.as_slice() {
        ["readers"] => Action::Readers,
        ["piv", "authenticate"] => Action::PivAuthenticate {
            algorithm: need_alg(flags.algorithm)?,
            key: need_key(flags.key)?,
            mutual: !flags.single,
        },
        ["piv", "set-management-key"] => Action::PivSetManagementKey {
            algorithm: need_alg(flags.algorithm)?,
            key: need_key(flags.key)?,
            new_algorithm: flags
                .new_algorithm
                .ok_or_else(|| Usage("--new-algorithm is required".into()))?,
            new_key: flags
                .new_key
                .ok_or_else(|| Usage("--new-key-env or --new-key-file is required".into()))?,
            touch: flags.touch,
        },
        ["piv", "verify-pin"] => Action::PivVerifyPin {
            pin: flags
                .pin
                .ok_or_else(|| Usage("--pin-env or --pin-file is required".into()))?,
        },
        ["gids", "authenticate"] => Action::GidsAuthenticate {
            algorithm: need_alg(flags.algorithm)?,
            key: need_key(flags.key)?,
        },
        ["gids", "put-key"] => Action::GidsPutKey {
            algorithm: need_alg(flags.algorithm)?,
            key: need_key(flags.key)?,
            new_key: flags
                .new_key
                .ok_or_else(|| Usage("--new-key-env or --new-key-file is required".into()))?,
        },
        [word @ ("enroll" | "renew")] => {
            let kind = if *word == "enroll" {
                Kind::Enroll
            } else {
                Kind::Renew
            };
            let required = |value: Option<String>, flag: &str| {
                value.ok_or_else(|| Usage(format!("{word}: {flag} is required")))
            };
            let tls = flags.tls.unwrap_or(Tls {
                cert: None,
                key: None,
                cacert: None,
            });
            if tls.cert.is_some() != tls.key.is_some() {
                return Err(Usage(format!("{word}: --cert and --key go together")));
            }
            let server = required(flags.server, "--server")?;
            let transport = server_url::check(&server).map_err(|err| Usage(err.to_string()))?;
            let reqid = required(flags.reqid, "--reqid")?;
            let (scid, cardid) = match kind {
                Kind::Enroll => (flags.scid, flags.cardid),
                // A renew request names its smart card and card when it is registered.
                Kind::Renew => {
                    if flags.pin.is_some() {
                        return Err(Usage(
                            "renew: --pin-env and --pin-file are for enroll (renew leaves the PIN alone)".into(),
                        ));
                    }
                    if flags.profile_template.is_some() {
                        return Err(Usage(
                            "renew: --profile-template is for enroll (renew reads no profile)"
                                .into(),
                        ));
                    }
                    (
                        Some(required(flags.scid, "--scid")?),
                        Some(required(flags.cardid, "--cardid")?),
                    )
                }
            };
            Action::Lifecycle(enroll::Options {
                kind,
                server: enroll::ServerOptions {
                    server,
                    transport,
                    tls,
                },
                reqid,
                scid,
                cardid,
                profile_template: flags.profile_template,
                current_pin: flags.pin,
            })
        }
        [] => return Err(Usage(String::new())),
        other => return Err(Usage(unknown_command(other))),
    };
    Ok(Parsed::Run(Box::new(Invocation { reader, action })))
}

/// The message for words that name no command. Only the words this tool knows are shown: a
/// word it does not know may be a key or a PIN typed in the wrong place.
fn unknown_command(words: &[&str]) -> String {
    const KNOWN: [&str; 9] = [
        "readers",
        "piv",
        "gids",
        "enroll",
        "renew",
        "authenticate",
        "set-management-key",
        "verify-pin",
        "put-key",
    ];
    let shown: Vec<&str> = words
        .iter()
        .map(|word| if KNOWN.contains(word) { word } else { "?" })
        .collect();
    let hidden = words.iter().filter(|word| !KNOWN.contains(word)).count();
    let mut message = format!("unknown command \"{}\"", shown.join(" "));
    if hidden > 0 {
        message.push_str(&format!(
            " ({} not shown: a word this tool does not know may be a secret typed in the wrong place)",
            crate::text::count(hidden, "word", "words")
        ));
    }
    message
}

pub fn run(invocation: Invocation) -> Result<(), StepError> {
    let open = || {
        let connection = Connection::open(invocation.reader.as_deref())?;
        println!(
            "step connect: ok, reader {:?} (held until the command ends)",
            connection.reader
        );
        Ok::<_, StepError>(connection)
    };
    match invocation.action {
        Action::Readers => {
            let readers = reader::readers()?;
            if readers.is_empty() {
                println!("no readers");
            }
            for (name, present) in readers {
                println!(
                    "{name}\t{}",
                    if present { "card present" } else { "no card" }
                );
            }
            Ok(())
        }
        Action::PivAuthenticate {
            algorithm,
            key,
            mutual,
        } => {
            let key = key.key("read key", "--key", algorithm)?;
            open()?.hold(|card| {
                piv_select(card)?;
                piv_authenticate(card, &key, mutual)
            })
        }
        Action::PivSetManagementKey {
            algorithm,
            key,
            new_algorithm,
            new_key,
            touch,
        } => {
            let key = key.key("read key", "--key", algorithm)?;
            let new_key = new_key.key("read new key", "--new-key", new_algorithm)?;
            open()?.hold(|card| {
                piv_select(card)?;
                piv_authenticate(card, &key, true)?;
                piv_set_management_key(card, &new_key, touch)
            })
        }
        Action::PivVerifyPin { pin } => {
            let pin = pin.read("read PIN", "--pin")?;
            open()?.hold(|card| {
                piv_select(card)?;
                verify_pin(card, "verify PIN", &pin)
            })
        }
        Action::GidsAuthenticate { algorithm, key } => {
            let key = key.key("read key", "--key", algorithm)?;
            open()?.hold(|card| {
                gids_select(card)?;
                gids_authenticate(card, &key)
            })
        }
        Action::GidsPutKey {
            algorithm,
            key,
            new_key,
        } => {
            let key = key.key("read key", "--key", algorithm)?;
            let new_key = new_key.key("read new key", "--new-key", algorithm)?;
            open()?.hold(|card| {
                gids_select(card)?;
                gids_authenticate(card, &key)?;
                let step = "GIDS put key";
                // A weak or well-known key is refused before anything is sent (issue #14).
                let command = gids::put_key(&new_key).map_err(|err| StepError::new(step, err))?;
                let answer = card.send(step, &command)?;
                gids::check_put_key(&answer).map_err(|err| flow(step, err))?;
                println!(
                    "step {step}: ok, the card's admin key is now the one with check value {}",
                    new_key.check_value()
                );
                Ok(())
            })
        }
        Action::Lifecycle(options) => open()?.hold(|card| enroll::run(card, &options)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_words(words: &[&str]) -> Result<Parsed, Usage> {
        parse(words.iter().map(|word| (*word).to_owned()))
    }

    /// The usage error's message; panics when the words parse.
    fn refusal(words: &[&str]) -> String {
        match parse_words(words) {
            Err(Usage(message)) => message,
            Ok(_) => panic!("{words:?} parsed"),
        }
    }

    #[test]
    fn an_option_with_a_joined_value_is_named_without_its_value() {
        let message = refusal(&["--pin=123456"]);
        assert!(message.contains("--pin"), "{message}");
        assert!(!message.contains("123456"), "{message}");
        assert!(message.contains("never the command line"), "{message}");

        let message = refusal(&["--unknown=secret"]);
        assert_eq!(message, "unknown option --unknown (its value is not shown)");

        let message = refusal(&["piv", "authenticate", "--key-env=MGM_KEY_VALUE"]);
        assert!(
            message.starts_with("--key-env: give the value as the next word"),
            "{message}"
        );
        assert!(!message.contains("MGM_KEY_VALUE"), "{message}");

        let message = refusal(&["piv", "verify-pin", "-p123456"]);
        assert_eq!(message, "unknown option -p (its value is not shown)");
        assert_eq!(refusal(&["--frobnicate"]), "unknown option --frobnicate");
    }

    #[test]
    fn option_names_stop_at_the_equals_sign_or_after_one_short_letter() {
        assert_eq!(option_name("--pin=123456"), "--pin");
        assert_eq!(option_name("--pin="), "--pin");
        assert_eq!(option_name("--reader"), "--reader");
        assert_eq!(option_name("-p123456"), "-p");
        assert_eq!(option_name("-é123"), "-é");
        assert_eq!(option_name("-x"), "-x");
        assert_eq!(option_name("-"), "-");
    }

    #[test]
    fn the_command_line_secret_options_are_refused_without_their_value() {
        for words in [
            &["piv", "verify-pin", "--pin", "123456"][..],
            &["piv", "authenticate", "--key-hex", "0102030405060708"],
            &["gids", "put-key", "--new-key=0102030405060708"],
        ] {
            let message = refusal(words);
            assert!(message.contains("never the command line"), "{message}");
            assert!(!message.contains("123456"), "{message}");
            assert!(!message.contains("0102030405060708"), "{message}");
        }
    }

    #[test]
    fn an_unknown_command_shows_only_the_words_this_tool_knows() {
        let message = refusal(&["piv", "authenticate", "0102030405060708"]);
        assert_eq!(
            message,
            "unknown command \"piv authenticate ?\" (1 word not shown: a word this tool does not know may be a secret typed in the wrong place)"
        );
        let message = refusal(&["123456", "654321"]);
        assert!(
            message.starts_with("unknown command \"? ?\" (2 words not shown"),
            "{message}"
        );
        assert_eq!(refusal(&["piv", "gids"]), "unknown command \"piv gids\"");
    }

    #[test]
    fn help_and_version_win_wherever_they_stand() {
        for words in [
            &["--help"][..],
            &["-h"],
            &["piv", "verify-pin", "--pin-file", "--help"],
            &["--pin=123456", "-h"],
        ] {
            assert!(
                matches!(parse_words(words), Ok(Parsed::Help(_))),
                "{words:?}"
            );
        }
        assert!(matches!(parse_words(&["--version"]), Ok(Parsed::Version)));
        assert!(matches!(parse_words(&["piv", "-V"]), Ok(Parsed::Version)));
    }

    #[test]
    fn help_after_a_command_word_shows_that_command() {
        let Ok(Parsed::Help(text)) = parse_words(&["enroll", "--help"]) else {
            panic!("no help");
        };
        assert!(
            text.starts_with("usage: card-admin [--reader NAME] enroll --server URL"),
            "{text}"
        );
        assert!(!text.contains("piv authenticate"), "{text}");
        let Ok(Parsed::Help(text)) = parse_words(&["piv", "-h"]) else {
            panic!("no help");
        };
        assert_eq!(text.matches(" piv ").count(), 3, "{text}");
        assert!(!text.contains("gids"), "{text}");
        let Ok(Parsed::Help(text)) = parse_words(&["-h"]) else {
            panic!("no help");
        };
        for word in COMMAND_WORDS {
            assert!(text.contains(&format!(" {word}")), "{word}: {text}");
        }
        assert!(text.contains("apps/card-admin/README.md"), "{text}");
    }

    const ENROLL: [&str; 7] = [
        "enroll",
        "--reqid",
        "a9b4b42c-cc50-4c9b-89d1-bbc0bcd5a099",
        "--scid",
        "17cf063d-e337-4aa9-a822-346554ddd3c9",
        "--cardid",
        "bc88f13f-83ba-4037-8262-46eba1291c6e",
    ];

    fn enroll_with(server: &str) -> Result<Parsed, Usage> {
        let mut words = ENROLL.to_vec();
        words.extend(["--server", server]);
        parse_words(&words)
    }

    #[test]
    fn enroll_refuses_plain_http_off_loopback_before_touching_the_card() {
        let Err(Usage(message)) = enroll_with("http://cm.example.com:8080") else {
            panic!("plain HTTP to cm.example.com accepted");
        };
        assert!(message.contains("not a loopback host"), "{message}");
        assert!(message.contains("man in the middle"), "{message}");
        assert!(enroll_with("http://192.0.2.7").is_err());
        assert!(enroll_with("http://0.0.0.0:8080").is_err());
    }

    fn lifecycle(words: &[&str]) -> enroll::Options {
        match parse_words(words) {
            Ok(Parsed::Run(invocation)) => match invocation.action {
                Action::Lifecycle(options) => options,
                _ => panic!("{words:?}: not enroll or renew"),
            },
            Err(Usage(message)) => panic!("{words:?} refused: {message}"),
            Ok(_) => panic!("{words:?}: help or version"),
        }
    }

    const SERVER: [&str; 2] = ["--server", "https://cm.example.com"];

    #[test]
    fn renew_takes_the_request_smart_card_and_card() {
        let mut words = vec!["renew"];
        words.extend(SERVER);
        words.extend(&ENROLL[1..]);
        let options = lifecycle(&words);
        assert_eq!(options.kind, Kind::Renew);
        assert_eq!(options.reqid, "a9b4b42c-cc50-4c9b-89d1-bbc0bcd5a099");
        assert_eq!(
            options.scid.as_deref(),
            Some("17cf063d-e337-4aa9-a822-346554ddd3c9")
        );
        assert_eq!(
            options.cardid.as_deref(),
            Some("bc88f13f-83ba-4037-8262-46eba1291c6e")
        );
    }

    #[test]
    fn renew_requires_its_smart_card_and_card_and_takes_no_pin_or_profile() {
        for (leave_out, flag) in [(3, "--scid"), (5, "--cardid"), (1, "--reqid")] {
            let mut words = vec!["renew"];
            words.extend(SERVER);
            for (at, word) in ENROLL.iter().enumerate().skip(1) {
                if at != leave_out && at != leave_out + 1 {
                    words.push(word);
                }
            }
            assert_eq!(refusal(&words), format!("renew: {flag} is required"));
        }
        let mut words = vec!["renew"];
        words.extend(SERVER);
        words.extend(&ENROLL[1..]);
        let mut with_pin = words.clone();
        with_pin.extend(["--pin-env", "PIN"]);
        assert!(refusal(&with_pin).starts_with("renew: --pin-env and --pin-file are for enroll"));
        words.extend(["--profile-template", "12bd5120-86a2-4ee1-8d05-131066871578"]);
        assert!(refusal(&words).starts_with("renew: --profile-template is for enroll"));
    }

    #[test]
    fn enroll_needs_only_the_server_and_request() {
        let mut words = vec!["enroll"];
        words.extend(SERVER);
        words.extend(["--reqid", "a9b4b42c-cc50-4c9b-89d1-bbc0bcd5a099"]);
        let options = lifecycle(&words);
        assert_eq!(options.kind, Kind::Enroll);
        assert!(options.scid.is_none() && options.cardid.is_none());
        assert!(options.profile_template.is_none());
        words.extend(["--profile-template", "12bd5120-86a2-4ee1-8d05-131066871578"]);
        assert_eq!(
            lifecycle(&words).profile_template.as_deref(),
            Some("12bd5120-86a2-4ee1-8d05-131066871578")
        );
        assert_eq!(
            refusal(&["enroll", "--reqid", "r"]),
            "enroll: --server is required"
        );
    }

    #[test]
    fn renew_refuses_plain_http_off_loopback_too() {
        let mut words = vec!["renew", "--server", "http://cm.example.com"];
        words.extend(&ENROLL[1..]);
        assert!(refusal(&words).contains("not a loopback host"));
    }

    #[test]
    fn enroll_takes_https_anywhere_and_plain_http_on_loopback() {
        for (server, transport) in [
            ("https://cm.example.com", Transport::Https),
            ("http://127.0.0.1:8080", Transport::LoopbackHttp),
            ("http://localhost:8080", Transport::LoopbackHttp),
            ("http://[::1]:8080", Transport::LoopbackHttp),
        ] {
            match enroll_with(server) {
                Ok(Parsed::Run(invocation)) => match invocation.action {
                    Action::Lifecycle(options) => {
                        assert_eq!(options.server.transport, transport, "{server}")
                    }
                    _ => panic!("{server}: not an enrollment"),
                },
                _ => panic!("{server} refused"),
            }
        }
    }
}
