//! The command line and the PIV/GIDS commands.

use cardadmin::rng::OsRng;
use cardadmin::{AdminKey, Algorithm};
use cardadmin_card::apdu::Command;
use cardadmin_card::auth::{gids, piv, yubikey};
use zeroize::Zeroizing;

use crate::enroll;
use crate::reader::{self, expect_success, flow, Connection, Step, StepError};

pub const USAGE: &str = "\
usage: card-admin readers
       card-admin [--reader NAME] piv authenticate --algorithm ALG KEY [--single]
       card-admin [--reader NAME] piv set-management-key --algorithm ALG KEY --new-algorithm ALG NEW_KEY [--touch]
       card-admin [--reader NAME] piv verify-pin PIN
       card-admin [--reader NAME] gids authenticate --algorithm ALG KEY
       card-admin [--reader NAME] gids put-key --algorithm ALG KEY NEW_KEY
       card-admin [--reader NAME] enroll --server URL --reqid GUID --scid GUID --cardid ID
                  [PIN] [--cert PEM --key PEM] [--cacert PEM]
  ALG: tdes, aes128, aes192 or aes256
  KEY: --key-env VAR | --key-file PATH (hex); NEW_KEY: --new-key-env VAR | --new-key-file PATH
  PIN: --pin-env VAR | --pin-file PATH (enroll: the card's current PIN, 123456 if not given)
  keys and PINs are never taken from the command line";

/// A usage error (empty: just print the usage).
pub struct Usage(pub String);

/// Where a secret comes from.
#[derive(Debug, Clone)]
pub enum Source {
    Env(String),
    File(String),
}

impl Source {
    /// The secret's text, trimmed; never shown in errors.
    pub fn read(&self, step: &str, what: &str) -> Result<Zeroizing<String>, StepError> {
        let text = match self {
            Self::Env(name) => Zeroizing::new(std::env::var(name).map_err(|_| {
                StepError::new(
                    step,
                    format!("{what}: environment variable {name} is not set (or not UTF-8)"),
                )
            })?),
            Self::File(path) => Zeroizing::new(std::fs::read_to_string(path).map_err(|err| {
                StepError::new(step, format!("{what}: cannot read {path}: {err}"))
            })?),
        };
        Ok(Zeroizing::new(text.trim().to_owned()))
    }

    /// A key in hex (spaces and colons between digits allowed).
    pub fn key(&self, step: &str, what: &str, algorithm: Algorithm) -> Result<AdminKey, StepError> {
        let text = self.read(step, what)?;
        let digits: Zeroizing<String> = Zeroizing::new(
            text.chars()
                .filter(|c| !c.is_ascii_whitespace() && *c != ':')
                .collect(),
        );
        AdminKey::new_hex(algorithm, &digits)
            .map_err(|err| StepError::new(step, format!("{what}: {err}")))
    }
}

pub struct Tls {
    pub cert: Option<String>,
    pub key: Option<String>,
    pub cacert: Option<String>,
}

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
    Enroll(enroll::Options),
}

pub struct Invocation {
    reader: Option<String>,
    action: Action,
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

pub fn parse(args: impl Iterator<Item = String>) -> Result<Invocation, Usage> {
    let mut args = args.peekable();
    let mut reader = None;
    let mut words: Vec<String> = Vec::new();
    let mut flags = Flags::default();
    while let Some(arg) = args.next() {
        let mut value = |flag: &str| {
            args.next()
                .ok_or_else(|| Usage(format!("{flag} needs a value")))
        };
        match arg.as_str() {
            "-h" | "--help" => return Err(Usage(String::new())),
            "--reader" => reader = Some(value("--reader")?),
            "--algorithm" => flags.algorithm = Some(algorithm(&value("--algorithm")?, "--algorithm")?),
            "--new-algorithm" => {
                flags.new_algorithm = Some(algorithm(&value("--new-algorithm")?, "--new-algorithm")?)
            }
            "--key-env" => set_once(&mut flags.key, Source::Env(value(&arg)?), "--key-env")?,
            "--key-file" => set_once(&mut flags.key, Source::File(value(&arg)?), "--key-file")?,
            "--new-key-env" => set_once(&mut flags.new_key, Source::Env(value(&arg)?), "--new-key-env")?,
            "--new-key-file" => set_once(&mut flags.new_key, Source::File(value(&arg)?), "--new-key-file")?,
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
            "--cert" | "--key" | "--cacert" => {
                let path = value(&arg)?;
                let tls = flags.tls.get_or_insert(Tls { cert: None, key: None, cacert: None });
                match arg.as_str() {
                    "--cert" => tls.cert = Some(path),
                    "--key" => tls.key = Some(path),
                    _ => tls.cacert = Some(path),
                }
            }
            "--key-hex" | "--new-key" | "--pin" => {
                return Err(Usage(format!(
                    "{arg}: keys and PINs are read from the environment or a file, never the command line"
                )))
            }
            other if other.starts_with('-') => return Err(Usage(format!("unknown option {other}"))),
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
        ["enroll"] => {
            let required = |value: Option<String>, flag: &str| {
                value.ok_or_else(|| Usage(format!("enroll: {flag} is required")))
            };
            let tls = flags.tls.unwrap_or(Tls {
                cert: None,
                key: None,
                cacert: None,
            });
            if tls.cert.is_some() != tls.key.is_some() {
                return Err(Usage("enroll: --cert and --key go together".into()));
            }
            Action::Enroll(enroll::Options {
                server: required(flags.server, "--server")?,
                reqid: required(flags.reqid, "--reqid")?,
                scid: required(flags.scid, "--scid")?,
                cardid: required(flags.cardid, "--cardid")?,
                current_pin: flags.pin,
                tls,
            })
        }
        [] => return Err(Usage(String::new())),
        other => return Err(Usage(format!("unknown command {:?}", other.join(" ")))),
    };
    Ok(Invocation { reader, action })
}

pub fn run(invocation: Invocation) -> Result<(), StepError> {
    let open = || {
        let connection = Connection::open(invocation.reader.as_deref())?;
        println!("step connect: ok, reader {:?}", connection.reader);
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
            let card = open()?;
            piv_select(&card)?;
            piv_authenticate(&card, &key, mutual)
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
            let card = open()?;
            piv_select(&card)?;
            piv_authenticate(&card, &key, true)?;
            piv_set_management_key(&card, &new_key, touch)
        }
        Action::PivVerifyPin { pin } => {
            let pin = pin.read("read PIN", "--pin")?;
            let card = open()?;
            piv_select(&card)?;
            verify_pin(&card, "verify PIN", &pin)
        }
        Action::GidsAuthenticate { algorithm, key } => {
            let key = key.key("read key", "--key", algorithm)?;
            let card = open()?;
            gids_select(&card)?;
            gids_authenticate(&card, &key)
        }
        Action::GidsPutKey {
            algorithm,
            key,
            new_key,
        } => {
            let key = key.key("read key", "--key", algorithm)?;
            let new_key = new_key.key("read new key", "--new-key", algorithm)?;
            let card = open()?;
            gids_select(&card)?;
            gids_authenticate(&card, &key)?;
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
        }
        Action::Enroll(options) => {
            let card = open()?;
            enroll::run(&card, &options)
        }
    }
}

pub fn piv_select(card: &Connection) -> Result<(), StepError> {
    let step = "select PIV";
    let answer = card.send(step, &piv::select())?;
    expect_success(step, &answer)?;
    println!("step {step}: ok");
    Ok(())
}

fn piv_authenticate(card: &Connection, key: &AdminKey, mutual: bool) -> Result<(), StepError> {
    let kind = if mutual { "mutual" } else { "single" };
    let step = format!("PIV {kind} authenticate ({})", key.algorithm());
    if mutual {
        let flow_ = piv::MutualAuth::new(key);
        let answer = card.send(&step, flow_.command())?;
        let flow_ = flow_
            .receive_witness(answer.as_slice(), &mut OsRng)
            .map_err(|err| flow(&step, err))?;
        let answer = card.send(&step, flow_.command())?;
        flow_.finish(&answer).map_err(|err| flow(&step, err))?;
    } else {
        let flow_ = piv::SingleAuth::new(key);
        let answer = card.send(&step, flow_.command())?;
        let flow_ = flow_
            .receive_challenge(&answer)
            .map_err(|err| flow(&step, err))?;
        let answer = card.send(&step, flow_.command())?;
        flow_.finish(&answer).map_err(|err| flow(&step, err))?;
    }
    println!(
        "step {step}: ok, the card accepted the management key (check value {})",
        key.check_value()
    );
    Ok(())
}

pub fn piv_set_management_key(
    card: &Connection,
    new_key: &AdminKey,
    touch: bool,
) -> Result<(), StepError> {
    let step = "PIV set management key";
    // A weak or well-known key is refused before anything is sent (issue #14).
    let command =
        yubikey::set_management_key(new_key, touch).map_err(|err| StepError::new(step, err))?;
    let answer = card.send(step, &command)?;
    yubikey::check_set_management_key(&answer).map_err(|err| flow(step, err))?;
    println!(
        "step {step}: ok, the card's management key is now {} with check value {}",
        new_key.algorithm(),
        new_key.check_value()
    );
    Ok(())
}

/// The PIN padded with `FF` to 8 bytes, as PIV's VERIFY wants it.
pub fn padded_pin(step: &str, pin: &str) -> Result<Zeroizing<[u8; 8]>, StepError> {
    let bytes = pin.as_bytes();
    if !(6..=8).contains(&bytes.len()) {
        return Err(StepError::new(
            step,
            format!("a PIN of {} bytes: PIV PINs have 6 to 8", bytes.len()),
        ));
    }
    let mut padded = Zeroizing::new([0xff; 8]);
    padded
        .iter_mut()
        .zip(bytes)
        .for_each(|(to, from)| *to = *from);
    Ok(padded)
}

pub fn verify_pin(card: &Connection, step: &str, pin: &str) -> Result<(), StepError> {
    let padded = padded_pin(step, pin)?;
    let command = Command::new(0x00, 0x20, 0x00, 0x80, padded.as_slice()).step(step)?;
    let answer = card.send(step, &command)?;
    expect_success(step, &answer)?;
    println!("step {step}: ok, the card accepted the PIN");
    Ok(())
}

fn gids_select(card: &Connection) -> Result<(), StepError> {
    let step = "select GIDS";
    let answer = card.send(step, &gids::select())?;
    expect_success(step, &answer)?;
    println!("step {step}: ok");
    Ok(())
}

fn gids_authenticate(card: &Connection, key: &AdminKey) -> Result<(), StepError> {
    let step = format!("GIDS mutual authenticate ({})", key.algorithm());
    let flow_ = gids::MutualAuth::new(key, &mut OsRng).map_err(|err| flow(&step, err))?;
    let answer = card.send(&step, flow_.command())?;
    let flow_ = flow_
        .receive_mse_set(&answer)
        .map_err(|err| flow(&step, err))?;
    let answer = card.send(&step, flow_.command())?;
    let flow_ = flow_
        .receive_challenge(&answer, &mut OsRng)
        .map_err(|err| flow(&step, err))?;
    let answer = card.send(&step, flow_.command())?;
    flow_.finish(&answer).map_err(|err| flow(&step, err))?;
    println!("step {step}: ok, the card and this host proved the admin key (check value {}) to each other", key.check_value());
    Ok(())
}
