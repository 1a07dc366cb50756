//! A bridge from the software card to other tools: command APDUs in, responses out, as hex
//! lines over standard input and output.
//!
//! ```text
//! cargo run --example soft_card --all-features -- --algorithm ALG --key HEX [--wrong-key-sw 63cx|6982]
//! ```
//!
//! `ALG` is `tdes`, `aes128`, `aes192` or `aes256`; `HEX` is the management/admin key, 2 hex
//! digits per byte (48 for 3DES and AES-192, 32 for AES-128, 64 for AES-256). Each line of
//! standard input is one command APDU in hex (either case; spaces between digits are ignored,
//! blank lines skipped); for each, one line of lower-case hex is written to standard output:
//! the response data followed by SW1 SW2. A line that is not hex answers `6700`. The card keeps
//! its state (selection, authentication, retry counter) across lines, until end of input.
//!
//! ```text
//! $ printf '00a4040005a000000308\n00fd000000\n' | cargo run -q --example soft_card --all-features -- --algorithm aes192 --key 010203040506070801020304050607080102030405060708
//! 61114f0600001000010079074f05a0000003089000
//! 0507029000
//! ```
//!
//! `--wrong-key-sw` says how the card answers a wrong management/admin key cryptogram: `63cx`
//! (the default) with a counter of 3 tries, `63Cx` with the tries left and `6983` once
//! blocked; `6982` (security status not satisfied) with no counter and no blocking, as a
//! YubiKey answers.
//!
//! The card's randomness is the operating system's. Usage errors go to standard error with
//! exit status 2.

use std::io::{self, BufRead, Write};
use std::process::ExitCode;

use cardadmin::rng::OsRng;
use cardadmin::soft_card::{SoftCard, WrongKeyStatus};
use cardadmin::{AdminKey, Algorithm};

const USAGE: &str =
    "usage: soft_card --algorithm tdes|aes128|aes192|aes256 --key HEX [--wrong-key-sw 63cx|6982]";

fn parse_args() -> Result<(AdminKey, WrongKeyStatus), String> {
    let mut algorithm: Option<Algorithm> = None;
    let mut key: Option<String> = None;
    let mut wrong_key = WrongKeyStatus::Retries;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or(format!("{name} needs a value"));
        match arg.as_str() {
            "--algorithm" => {
                let text = value("--algorithm")?;
                algorithm = Some(
                    text.parse()
                        .map_err(|err| format!("--algorithm {text}: {err}"))?,
                );
            }
            "--key" => key = Some(value("--key")?),
            "--wrong-key-sw" => {
                wrong_key = match value("--wrong-key-sw")?.to_ascii_lowercase().as_str() {
                    "63cx" => WrongKeyStatus::Retries,
                    "6982" => WrongKeyStatus::SecurityStatusNotSatisfied,
                    other => return Err(format!("--wrong-key-sw {other}: expected 63cx or 6982")),
                }
            }
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unexpected argument {other:?}")),
        }
    }
    let algorithm = algorithm.ok_or("--algorithm is required")?;
    let key = key.ok_or("--key is required")?;
    let key = AdminKey::new_hex(algorithm, &key).map_err(|err| format!("--key: {err}"))?;
    Ok((key, wrong_key))
}

fn main() -> ExitCode {
    let (key, wrong_key) = match parse_args() {
        Ok(parsed) => parsed,
        Err(message) => {
            if !message.is_empty() {
                eprintln!("soft_card: {message}");
            }
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    let mut card = SoftCard::new(key, OsRng).with_wrong_key_status(wrong_key);
    match serve(&mut card) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("soft_card: {err}");
            ExitCode::FAILURE
        }
    }
}

fn serve(card: &mut SoftCard<OsRng>) -> io::Result<()> {
    let stdin = io::stdin();
    let mut stdout = io::stdout().lock();
    for line in stdin.lock().lines() {
        let line = line?;
        let digits: String = line.chars().filter(|c| !c.is_ascii_whitespace()).collect();
        if digits.is_empty() {
            continue;
        }
        let answer = match decode_hex(&digits) {
            Some(command) => encode_hex(card.process(&command).as_bytes()),
            None => "6700".to_owned(),
        };
        writeln!(stdout, "{answer}")?;
        stdout.flush()?;
    }
    Ok(())
}

/// Hex digits (either case, an even number of them) to bytes.
fn decode_hex(digits: &str) -> Option<Vec<u8>> {
    if digits.len() % 2 != 0 || !digits.bytes().all(|byte| byte.is_ascii_hexdigit()) {
        return None;
    }
    (0..digits.len())
        .step_by(2)
        .map(|at| u8::from_str_radix(digits.get(at..at + 2)?, 16).ok())
        .collect()
}

fn encode_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}
