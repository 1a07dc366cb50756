//! A bridge from the software card to other tools: command APDUs in, responses out, either as
//! hex lines over standard input and output, or as the card in pcscd's virtual reader (vpcd).
//!
//! ```text
//! cargo run -p cardadmin-card --example soft_card --all-features -- --algorithm ALG KEY [--wrong-key-sw 63cx|6982]
//! cargo run --release -p cardadmin-card --example soft_card --all-features -- --algorithm ALG KEY --vpcd 127.0.0.1:35963 [--atr HEX] [--card-id GUID]
//! ```
//!
//! `ALG` is `tdes`, `aes128`, `aes192` or `aes256`. `KEY` is the management/admin key in hex,
//! 2 digits per byte (48 for 3DES and AES-192, 32 for AES-128, 64 for AES-256), from one of:
//!
//! - `--key-env VAR`: the environment variable `VAR`;
//! - `--key-file PATH`: the file `PATH` (surrounding white space ignored);
//! - `--key HEX`: the command line itself, for tests only: every user of the machine can read
//!   a process's arguments (`/proc/PID/cmdline`), so the bridge warns on standard error.
//!
//! **Lines.** Each line of standard input is one command APDU in hex (either case; spaces
//! between digits are ignored, blank lines skipped); for each, one line of lower-case hex is
//! written to standard output: the response data followed by SW1 SW2. A line that is not hex
//! answers `6700`. The card keeps its state (selection, authentication, retry counter) across
//! lines, until end of input.
//!
//! ```text
//! $ printf '00a4040005a000000308\n00fd000000\n' | cargo run -q -p cardadmin-card --example soft_card --all-features -- --algorithm aes192 --key 010203040506070801020304050607080102030405060708
//! 61114f0600001000010079074f05a0000003089000
//! 0507029000
//! ```
//!
//! `--wrong-key-sw` says how the card answers a wrong management/admin key cryptogram: `63cx`
//! (the default) with a counter of 3 tries, `63Cx` with the tries left and `6983` once
//! blocked; `6982` (security status not satisfied) with no counter and no blocking, as a
//! YubiKey answers.
//!
//! `--card-id GUID` (GUID text as MIM CM writes card IDs, `bc88f13f-83ba-4037-8262-46eba1291c6e`,
//! in any form `cardadmin::CardId::parse` reads) gives the card a CHUID whose GUID is that card
//! ID's 16 bytes (the Windows GUID layout, `CardId::as_bytes`): the card ID a card management
//! system reads (`SoftCard::with_card_id`). Without it GET DATA of the CHUID answers `6A82`.
//!
//! **vpcd.** With `--vpcd ADDR` the card connects to the vsmartcard driver of pcscd
//! (Debian's `vsmartcard-vpcd`: the driver is the server, the card the client; as
//! `/etc/reader.conf.d/vpcd` configures it, it listens on port 35963 of **every** address,
//! `0.0.0.0`, and on 35964 for a second reader, whenever pcscd runs, so anyone who reaches the
//! port puts a card in the reader: run pcscd in a network namespace of its own, as
//! `apps/card-admin/README.md` shows, to keep the port on a loopback no one else shares) and
//! plays the card in its reader, "Virtual PCD 00 00": every PC/SC application (OpenSC,
//! yubico-piv-tool, pyscard) then talks to it as to a card in a reader. vpcd's protocol: each
//! message is a 2-byte big-endian length and a payload; a 1-byte payload is a control message
//! (0 power off, 1 power on, 2 reset, 4 the ATR, which is answered with the ATR), anything
//! else a command APDU answered with its response (extended APDUs too, up to 64 KiB). Power
//! off, power on and reset reset the card (its keys, PIN and counters stay). `--atr HEX` sets
//! the ATR; the default is a YubiKey 5's, which OpenSC's PIV driver takes; with
//! `--atr 3b8d0180fba000000397425446590301c8` (the GIDS card in the MIM CM documentation)
//! OpenSC's GIDS driver takes it (an ATR whose historical bytes hold the GIDS AID plays a GIDS
//! card: no PIV application, GIDS selected at reset). When pcscd stops or restarts, the card waits and connects
//! again; SIGTERM or SIGINT stops it cleanly (exit status 0). Only a loopback address is
//! accepted: the protocol has no authentication (the card would answer anyone who played
//! vpcd).
//!
//! The card's randomness is the operating system's. Usage errors go to standard error with
//! exit status 2; they name an option, never its value. `--help` prints the usage on standard
//! output (exit status 0).

use std::io::{self, BufRead, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use cardadmin::rng::OsRng;
use cardadmin::{AdminKey, Algorithm, CardId};
use cardadmin_card::auth::gids;
use cardadmin_card::soft_card::{SoftCard, WrongKeyStatus};
use zeroize::Zeroizing;

const USAGE: &str = "usage: soft_card --algorithm tdes|aes128|aes192|aes256 (--key-env VAR | --key-file PATH | --key HEX) [--wrong-key-sw 63cx|6982] [--vpcd 127.0.0.1:35963 [--atr HEX]] [--card-id GUID]
  --key-env VAR: the key in hex in the environment variable VAR; --key-file PATH: in a file
  --key HEX: on the command line, which every user of the machine can read: for tests only";

/// A YubiKey 5's ATR (historical bytes "YubiKey"): OpenSC's PIV driver knows it.
const DEFAULT_ATR: [u8; 23] = [
    0x3b, 0xfd, 0x13, 0x00, 0x00, 0x81, 0x31, 0xfe, 0x15, 0x80, 0x73, 0xc0, 0x21, 0xc0, 0x57, 0x59,
    0x75, 0x62, 0x69, 0x4b, 0x65, 0x79, 0x40,
];

struct Options {
    key: AdminKey,
    wrong_key: WrongKeyStatus,
    vpcd: Option<SocketAddr>,
    atr: Vec<u8>,
    card_id: Option<[u8; 16]>,
}

/// Where the key comes from.
enum KeySource {
    Env(String),
    File(String),
    Argv(Zeroizing<String>),
}

impl KeySource {
    /// The key's hex digits. Errors name the variable or the file, never the key.
    fn read(&self) -> Result<Zeroizing<String>, String> {
        let text = match self {
            Self::Env(name) => Zeroizing::new(std::env::var(name).map_err(|_| {
                format!("--key-env {name}: the environment variable is not set (or not UTF-8)")
            })?),
            Self::File(path) => Zeroizing::new(
                std::fs::read_to_string(path).map_err(|err| format!("--key-file {path}: {err}"))?,
            ),
            Self::Argv(hex) => hex.clone(),
        };
        Ok(Zeroizing::new(text.trim().to_owned()))
    }

    fn option(&self) -> &'static str {
        match self {
            Self::Env(_) => "--key-env",
            Self::File(_) => "--key-file",
            Self::Argv(_) => "--key",
        }
    }
}

/// `Err(None)`: print the usage on standard output and exit 0 (`--help`).
fn parse_args() -> Result<Options, Option<String>> {
    let mut algorithm: Option<Algorithm> = None;
    let mut key: Option<KeySource> = None;
    let mut vpcd: Option<SocketAddr> = None;
    let mut atr: Option<Vec<u8>> = None;
    let mut card_id: Option<[u8; 16]> = None;
    let mut wrong_key = WrongKeyStatus::Retries;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or(Some(format!("{name} needs a value")));
        match arg.as_str() {
            "--algorithm" => {
                let text = value("--algorithm")?;
                algorithm = Some(
                    text.parse()
                        .map_err(|err| format!("--algorithm {text}: {err}"))?,
                );
            }
            "--key" | "--key-env" | "--key-file" => {
                if key.is_some() {
                    return Err("give the key once: --key-env, --key-file or --key"
                        .to_owned()
                        .into());
                }
                let text = value(&arg)?;
                key = Some(match arg.as_str() {
                    "--key-env" => KeySource::Env(text),
                    "--key-file" => KeySource::File(text),
                    _ => KeySource::Argv(Zeroizing::new(text)),
                });
            }
            "--wrong-key-sw" => {
                wrong_key = match value("--wrong-key-sw")?.to_ascii_lowercase().as_str() {
                    "63cx" => WrongKeyStatus::Retries,
                    "6982" => WrongKeyStatus::SecurityStatusNotSatisfied,
                    other => {
                        return Err(format!("--wrong-key-sw {other}: expected 63cx or 6982").into())
                    }
                }
            }
            "--vpcd" => {
                let text = value("--vpcd")?;
                let addr: SocketAddr = text
                    .parse()
                    .map_err(|err| format!("--vpcd {text}: {err} (give IP:PORT)"))?;
                if !addr.ip().is_loopback() {
                    return Err(format!(
                        "--vpcd {text}: not a loopback address; vpcd's protocol has no authentication"
                    )
                    .into());
                }
                vpcd = Some(addr);
            }
            "--atr" => {
                let text = value("--atr")?;
                let bytes = decode_hex(&text)
                    .filter(|bytes| (2..=33).contains(&bytes.len()))
                    .ok_or(format!("--atr {text}: 2 to 33 bytes in hex"))?;
                atr = Some(bytes);
            }
            "--card-id" => {
                let text = value("--card-id")?;
                let id = CardId::parse(&text).map_err(|err| format!("--card-id {text}: {err}"))?;
                card_id = Some(*id.as_bytes());
            }
            "-h" | "--help" => return Err(None),
            // Only the option's name: `--key=0102...` must not print the key.
            other if other.starts_with('-') => {
                let name = other.split_once('=').map_or(other, |(name, _)| name);
                const OPTIONS: [&str; 8] = [
                    "--algorithm",
                    "--key-env",
                    "--key-file",
                    "--key",
                    "--wrong-key-sw",
                    "--vpcd",
                    "--atr",
                    "--card-id",
                ];
                return Err(Some(if name.len() == other.len() {
                    format!("unexpected option {name}")
                } else if OPTIONS.contains(&name) {
                    format!("{name}: give the value as the next word, not after '=' (the value is not shown)")
                } else {
                    format!("unexpected option {name} (its value is not shown)")
                }));
            }
            _ => {
                return Err(
                    "unexpected word (not shown: it may be a key); options are --algorithm, \
                     --key-env, --key-file, --key, --wrong-key-sw, --vpcd, --atr and --card-id"
                        .to_owned()
                        .into(),
                )
            }
        }
    }
    let algorithm = algorithm.ok_or("--algorithm is required".to_owned())?;
    let key = key.ok_or("--key-env, --key-file or --key is required".to_owned())?;
    if let KeySource::Argv(_) = key {
        eprintln!(
            "soft_card: warning: --key puts the key on the command line, where every user of \
             this machine can read it (/proc/PID/cmdline); use --key-env VAR or --key-file PATH \
             for a key that matters"
        );
    }
    let hex = key.read()?;
    let key =
        AdminKey::new_hex(algorithm, &hex).map_err(|err| format!("{}: {err}", key.option()))?;
    if atr.is_some() && vpcd.is_none() {
        return Err("--atr needs --vpcd".to_owned().into());
    }
    Ok(Options {
        key,
        wrong_key,
        vpcd,
        atr: atr.unwrap_or_else(|| DEFAULT_ATR.to_vec()),
        card_id,
    })
}

fn main() -> ExitCode {
    let options = match parse_args() {
        Ok(options) => options,
        Err(None) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(Some(message)) => {
            eprintln!("soft_card: {message}");
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    let mut card = SoftCard::new(options.key, OsRng).with_wrong_key_status(options.wrong_key);
    if let Some(card_id) = options.card_id {
        card = card.with_card_id(card_id);
    }
    if names_gids(&options.atr) {
        // A GIDS card's ATR: no PIV application, so OpenSC's PIV driver (tried before its
        // GIDS driver) does not take the card.
        card = card.without_piv();
    }
    let served = match options.vpcd {
        Some(addr) => serve_vpcd(&mut card, addr, &options.atr),
        None => serve(&mut card),
    };
    match served {
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

/// Plays the card in vpcd's reader until SIGTERM or SIGINT, connecting again whenever the
/// connection ends (pcscd stopped or restarted).
fn serve_vpcd(card: &mut SoftCard<OsRng>, addr: SocketAddr, atr: &[u8]) -> io::Result<()> {
    let stop = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&stop);
    ctrlc::set_handler(move || flag.store(true, Ordering::SeqCst))
        .map_err(|err| io::Error::other(format!("cannot handle SIGTERM: {err}")))?;
    let mut waiting_said = false;
    while !stop.load(Ordering::SeqCst) {
        let stream = match TcpStream::connect_timeout(&addr, Duration::from_secs(1)) {
            Ok(stream) => stream,
            Err(err) => {
                if !waiting_said {
                    eprintln!("soft_card: waiting for vpcd on {addr} ({err})");
                    waiting_said = true;
                }
                std::thread::sleep(Duration::from_millis(250));
                continue;
            }
        };
        waiting_said = false;
        eprintln!("soft_card: connected to vpcd on {addr}");
        card.reset();
        match session(card, stream, atr, &stop) {
            Ok(()) if stop.load(Ordering::SeqCst) => break,
            Ok(()) => eprintln!("soft_card: vpcd closed the connection; connecting again"),
            Err(err) => eprintln!("soft_card: connection to vpcd lost ({err}); connecting again"),
        }
    }
    eprintln!("soft_card: stopped");
    Ok(())
}

/// One connection: reads messages until the peer closes (`Ok`) or `stop` is set (`Ok`).
fn session(
    card: &mut SoftCard<OsRng>,
    mut stream: TcpStream,
    atr: &[u8],
    stop: &AtomicBool,
) -> io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_millis(200)))?;
    stream.set_nodelay(true)?;
    let mut buffer: Vec<u8> = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        if stop.load(Ordering::SeqCst) {
            return Ok(());
        }
        // Every complete message in the buffer.
        while let [high, low, rest @ ..] = buffer.as_slice() {
            let len = usize::from(u16::from_be_bytes([*high, *low]));
            let Some(payload) = rest.get(..len) else {
                break;
            };
            if let Some(answer) = answer_vpcd(card, payload, atr) {
                let len = u16::try_from(answer.len())
                    .map_err(|_| io::Error::other("response over 64 KiB"))?;
                let mut message = Vec::with_capacity(2 + answer.len());
                message.extend_from_slice(&len.to_be_bytes());
                message.extend_from_slice(&answer);
                stream.write_all(&message)?;
            }
            buffer.drain(..2 + len);
        }
        match stream.read(&mut chunk) {
            Ok(0) => return Ok(()),
            Ok(read) => buffer.extend_from_slice(chunk.get(..read).unwrap_or_default()),
            Err(err)
                if matches!(
                    err.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) => {}
            Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
            Err(err) => return Err(err),
        }
    }
}

/// vpcd's answer to one payload: `None` for the control messages that have none.
fn answer_vpcd(card: &mut SoftCard<OsRng>, payload: &[u8], atr: &[u8]) -> Option<Vec<u8>> {
    match payload {
        [0] | [1] | [2] => {
            card.reset();
            None
        }
        [4] => Some(atr.to_vec()),
        [_] => None,
        command => Some(card.process(command).as_bytes().to_vec()),
    }
}

/// Whether the ATR's historical bytes hold the GIDS AID (as a GIDS card's do).
fn names_gids(atr: &[u8]) -> bool {
    atr.windows(gids::AID.len())
        .any(|window| window == gids::AID)
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
