//! An example MIM CM REST server on `cardadmin`: the three smart-card endpoints
//! (`authenticationresponse`, `diversifiedkey`, `serverproposedpin`) on axum + tokio.
//!
//! ```text
//! cargo run --release --manifest-path apps/server/Cargo.toml -- \
//!     --config apps/server/config.example.json --listen 127.0.0.1:8080
//! ```
//!
//! All the MIM CM work is `cardadmin::cm`'s (`parse_request`, then `answer`): this file reads
//! the configuration, warns about weak keys, and moves requests and replies between axum and
//! the library. It logs one line per request to stdout (an RFC 3339 UTC timestamp, method,
//! path without the query, status, time taken, the operator, and the error message for a
//! failure) and never logs key bytes, PINs or response bodies; start-up lines, warnings and
//! errors go to stderr. Every configuration field is described, with an example, in
//! `apps/server/README.md`.
//!
//! Who may ask (issue #16), each part switched on by a configuration field:
//!
//! - `"tls": {"cert", "key", "client_ca", "crl"}`: TLS 1.2/1.3 with a client certificate
//!   required, revoked ones refused; the operator is its subject common name ([`tls`]).
//!   Without it the server speaks plain HTTP, only on a loopback address and only for loopback
//!   `Host` names ([`handler`]). With it the server is a deployment: a master key with any
//!   audit finding (weak, degenerate, a default, the documentation's example) stops start-up;
//!   on plain loopback HTTP (a demonstration) it is a warning.
//! - `"registry": PATH`: the SQLite request registry ([`registry`]); every endpoint answers
//!   only the operator of an open request for that smart card and card, else 403. Managed
//!   with `cardadmin-server requests add|close|list --config CONFIG`.
//! - `"audit_log": PATH`: the hash-chained audit trail ([`audit`]), written and flushed before
//!   a key is used; `cardadmin-server verify-audit PATH` checks it. `"audit_file_id"` names
//!   the trail the server must find there, `"audit_anchor_every"` how often the chain head is
//!   written to stderr (issue #24).
//! - `"rate_limit_per_minute": N`: key uses per operator per minute, beyond which 429
//!   ([`ratelimit`]); `"refusals_per_minute"`: recorded refusals per operator per minute.
//! - `"max_connections": N` and `"header_read_timeout_seconds": S`: connections served at once
//!   and the time a client has to send a request's headers ([`handler::serve`]).
//! - `"database": "postgresql://USER@HOST:PORT/DBNAME"` and `"node_id": NAME` (issue #23):
//!   the registry, the audit trail (one hash chain per node) and both limits in PostgreSQL,
//!   shared by several instances ([`pg`]), in place of `"registry"` and `"audit_log"`. The
//!   two backends meet the handler through [`store`].
//!
//! - `"profile_template_id"`, `"diversification_key_version"` and
//!   `"previous_diversification_keys"` (issue #25): the MIM CM lifecycle routes
//!   ([`lifecycle`]: the profile's configuration, `POST /smartcards`, `GET`/`PUT
//!   /requests/{id}`, retire) and master key versions per card ([`versions`]; which version
//!   answers for which card is [`registry::version_for`]), with `cardadmin-server keys`.
//!
//! The order in which a request meets them is in [`handler`].

mod audit;
mod cli;
mod counted;
mod handler;
mod lifecycle;
mod pg;
mod ratelimit;
mod registry;
mod store;
mod tls;
mod versions;

use std::borrow::Cow;
use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use axum::Router;
use cardadmin::master::{CmacMessage, CmacSigner};
use cardadmin::{AdminKey, Algorithm, MasterKey, PinPolicy};
use cardadmin_mimcm as cm;
use cardadmin_pkcs11::{CmacError, PinSource, Pkcs11Config, Pkcs11Master};
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::Deserialize;
use zeroize::Zeroizing;

use handler::Security;

/// `config.example.json`. Keys are read by `cardadmin`'s `Deserialize` (or, for the map form
/// of the diversification key, into wiped buffers here); the file's contents are wiped after
/// parsing.
///
/// The two keys have two roles (issue #15), as in MIM CM's profile template:
/// `initial_admin_key` answers `diversified=false` (blank cards), `diversification_key` derives
/// each card's key for `diversified=true` and `diversifiedkey`, and never answers a challenge.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    /// 48 hex digits (MIM CM's profile template form, 3DES), or
    /// `{"algorithm": ..., "key": ...}`.
    initial_admin_key: AdminKey,
    /// The master key: the same two forms (and, later, a key store). Without one, the server
    /// answers `diversified=true` and `diversifiedkey` with a 400 that says so.
    #[serde(default)]
    diversification_key: Option<DiversificationKey>,
    /// The profile template's PIN policy.
    #[serde(default)]
    pin_policy: PinPolicy,
    /// TLS with client certificates (issue #16); plain HTTP on loopback only without it.
    #[serde(default)]
    tls: Option<tls::TlsConfig>,
    /// The SQLite request registry (issue #16).
    #[serde(default)]
    registry: Option<PathBuf>,
    /// The hash-chained audit trail, JSON lines (issue #16).
    #[serde(default)]
    audit_log: Option<PathBuf>,
    /// Key uses per operator per minute, beyond which 429 (issue #16).
    #[serde(default)]
    rate_limit_per_minute: Option<u32>,
    /// Recorded refusals per operator per minute, beyond which 429 without a line each
    /// (issue #24); default: `rate_limit_per_minute` when set, else 60.
    #[serde(default)]
    refusals_per_minute: Option<u32>,
    /// The file id the audit trail must carry (issue #24): 32 hex digits, printed at start-up.
    #[serde(default)]
    audit_file_id: Option<String>,
    /// The chain head goes to stderr every this many audit lines (issue #24); default 1000.
    /// With `"database"`: a checkpoint (and its anchor) every this many records.
    #[serde(default)]
    audit_anchor_every: Option<u64>,
    /// Connections served at once (default `handler::DEFAULT_MAX_CONNECTIONS`).
    #[serde(default)]
    max_connections: Option<usize>,
    /// Seconds a client has to send a request's headers (default
    /// `handler::DEFAULT_HEADER_READ_TIMEOUT`).
    #[serde(default)]
    header_read_timeout_seconds: Option<u64>,
    /// PostgreSQL for the registry, the audit trail and the limits, shared by several
    /// instances (issue #23): a `postgresql://` URL; the password from `PGPASSWORD`.
    #[serde(default)]
    database: Option<String>,
    /// This instance's name in the database's audit trail; required with `"database"`.
    #[serde(default)]
    node_id: Option<String>,
    /// The profile template this server serves (issue #25): the GUID
    /// `GET /profiletemplates/{id}/configuration/smartcards` answers.
    #[serde(default)]
    profile_template_id: Option<String>,
    /// The version of `"diversification_key"`, 1 to 255 (default 1; issue #25).
    #[serde(default)]
    diversification_key_version: Option<u64>,
    /// Older masters, answering only for the cards whose key came from them (issue #25).
    #[serde(default)]
    previous_diversification_keys: Vec<versions::PreviousKey>,
}

/// `"refusals_per_minute"` when neither it nor `"rate_limit_per_minute"` is set.
const DEFAULT_REFUSALS_PER_MINUTE: u32 = 60;

/// Fields of the old, one-key configuration, refused with a message that names the new ones.
const OLD_FIELDS: [&str; 2] = ["admin_key", "diversify_keys"];

/// Where the configuration says the diversification (master) key is.
///
/// Backends: add a variant here, its form to `DiversificationKey::deserialize` (the marked
/// place in `visit_map`), and its arm to `ServerMaster::open`.
// One value per process, kept for its life: the size difference costs nothing, and boxing the
// in-memory key would move its schedule through a temporary that is not wiped.
#[allow(clippy::large_enum_variant)]
enum DiversificationKey {
    /// 48 hex digits, or `{"algorithm": ..., "key": ...}`: the key in this process's memory.
    InMemory(MasterKey),
    /// `{"pkcs11": {"module": ..., "token": ..., "label": ..., "algorithm": ..., "pin_env": ...}}`:
    /// a master key held in a PKCS#11 token (`cardadmin-pkcs11`), opened at start-up.
    Pkcs11(Pkcs11Config),
}

/// The `"pkcs11"` form's settings. `pin_env` names the environment variable holding the
/// token's user PIN (or `pin_file` a file holding it: exactly one of the two); the PIN itself
/// is never in the configuration or on the command line. `sessions` (optional) sizes the
/// session pool (default: one per CPU, at most 16). `check_value` (optional, 6 hex digits: the
/// check value the ceremony printed) refuses a key with another one at start-up.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Pkcs11Settings {
    module: std::path::PathBuf,
    token: String,
    label: String,
    algorithm: String,
    #[serde(default)]
    pin_env: Option<String>,
    #[serde(default)]
    pin_file: Option<std::path::PathBuf>,
    #[serde(default)]
    sessions: Option<usize>,
    #[serde(default)]
    check_value: Option<String>,
}

impl Pkcs11Settings {
    fn into_config(self) -> Result<Pkcs11Config, String> {
        let algorithm = self
            .algorithm
            .parse::<Algorithm>()
            .map_err(|err| format!("pkcs11.algorithm: {err}"))?;
        let pin = match (self.pin_env, self.pin_file) {
            (Some(var), None) => PinSource::Env(var),
            (None, Some(path)) => PinSource::File(path),
            _ => {
                return Err(String::from(
                    "pkcs11: give exactly one of \"pin_env\" (the name of the environment variable holding the token's user PIN) and \"pin_file\"",
                ))
            }
        };
        let check_value = self
            .check_value
            .map(|text| text.parse())
            .transpose()
            .map_err(|err| format!("pkcs11.check_value: {err}"))?;
        Ok(Pkcs11Config {
            module: self.module,
            token: self.token,
            label: self.label,
            algorithm,
            pin,
            sessions: self.sessions,
            check_value,
        })
    }
}

/// The `"key"` of `{"algorithm": ..., "key": ...}`: hex text, kept in wiped storage. Anything
/// else is refused without being shown (a key typed as a JSON number would otherwise be
/// echoed, in part, by serde's "invalid type" message).
struct KeyText(Zeroizing<String>);

const KEY_NOT_TEXT: &str = "diversification_key: \"key\" must be a string of hex digits in quotes (what was given is not shown: it may be key material)";

impl<'de> Deserialize<'de> for KeyText {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Text;
        impl<'de> Visitor<'de> for Text {
            type Value = KeyText;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(KEY_NOT_TEXT)
            }
            fn visit_str<E: de::Error>(self, text: &str) -> Result<KeyText, E> {
                Ok(KeyText(Zeroizing::new(text.to_string())))
            }
            fn visit_string<E: de::Error>(self, text: String) -> Result<KeyText, E> {
                Ok(KeyText(Zeroizing::new(text)))
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<KeyText, E> {
                Err(E::custom(KEY_NOT_TEXT))
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<KeyText, E> {
                Err(E::custom(KEY_NOT_TEXT))
            }
            fn visit_i128<E: de::Error>(self, _: i128) -> Result<KeyText, E> {
                Err(E::custom(KEY_NOT_TEXT))
            }
            fn visit_u128<E: de::Error>(self, _: u128) -> Result<KeyText, E> {
                Err(E::custom(KEY_NOT_TEXT))
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<KeyText, E> {
                Err(E::custom(KEY_NOT_TEXT))
            }
        }
        deserializer.deserialize_any(Text)
    }
}

/// The error for a diversification key given as a number: what it must be, not what it was.
fn number_is_not_a_key<E: de::Error>() -> E {
    E::custom(format!(
        "diversification_key is a number; {DIVERSIFICATION_KEY_FORMS} (the number is not shown: it may be key material)"
    ))
}

impl<'de> Deserialize<'de> for DiversificationKey {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        // `deserialize_any` so that a number is refused without being echoed (as
        // `cardadmin`'s own key `Deserialize` does).
        deserializer.deserialize_any(DiversificationKeyVisitor)
    }
}

struct DiversificationKeyVisitor;

const DIVERSIFICATION_KEY_FORMS: &str = "diversification_key must be a string of 48 hex digits, { \"algorithm\": ..., \"key\": \"<hex>\" }, or { \"pkcs11\": { \"module\": PATH, \"token\": LABEL, \"label\": LABEL, \"algorithm\": ALG, \"pin_env\": VAR } }";

impl<'de> Visitor<'de> for DiversificationKeyVisitor {
    type Value = DiversificationKey;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(DIVERSIFICATION_KEY_FORMS)
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<DiversificationKey, E> {
        MasterKey::from_hex(text)
            .map(DiversificationKey::InMemory)
            .map_err(E::custom)
    }

    fn visit_string<E: de::Error>(self, text: String) -> Result<DiversificationKey, E> {
        let text = Zeroizing::new(text);
        self.visit_str(&text)
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<DiversificationKey, E> {
        Err(number_is_not_a_key())
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<DiversificationKey, E> {
        Err(number_is_not_a_key())
    }

    fn visit_i128<E: de::Error>(self, _: i128) -> Result<DiversificationKey, E> {
        Err(number_is_not_a_key())
    }

    fn visit_u128<E: de::Error>(self, _: u128) -> Result<DiversificationKey, E> {
        Err(number_is_not_a_key())
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<DiversificationKey, E> {
        Err(number_is_not_a_key())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<DiversificationKey, A::Error> {
        let mut algorithm: Option<Algorithm> = None;
        let mut key: Option<KeyText> = None;
        let mut pkcs11: Option<Pkcs11Settings> = None;
        while let Some(field) = map.next_key::<Cow<'de, str>>()? {
            match field.as_ref() {
                "pkcs11" if pkcs11.is_none() => {
                    pkcs11 = Some(map.next_value::<Pkcs11Settings>()?);
                }
                "algorithm" if algorithm.is_none() => {
                    let name = map.next_value::<Cow<'de, str>>()?;
                    algorithm = Some(name.parse().map_err(de::Error::custom)?);
                }
                "key" if key.is_none() => {
                    key = Some(map.next_value::<KeyText>()?);
                }
                // The place for another backend's form, such as `"pkcs11"` (see
                // `DiversificationKey`): read its settings here and return its variant.
                "algorithm" | "key" | "pkcs11" => {
                    return Err(de::Error::custom(format!(
                        "diversification_key: \"{field}\" given twice"
                    )))
                }
                other => {
                    return Err(de::Error::custom(format!(
                    "diversification_key: unknown field \"{other}\"; {DIVERSIFICATION_KEY_FORMS}"
                )))
                }
            }
        }
        if let Some(settings) = pkcs11 {
            if algorithm.is_some() || key.is_some() {
                return Err(de::Error::custom(
                    "diversification_key: \"pkcs11\" stands alone: the algorithm goes inside it, and the key stays in the token",
                ));
            }
            return settings
                .into_config()
                .map(DiversificationKey::Pkcs11)
                .map_err(|err| de::Error::custom(format!("diversification_key: {err}")));
        }
        match (algorithm, key) {
            (Some(algorithm), Some(key)) => MasterKey::new_hex(algorithm, &key.0)
                .map(DiversificationKey::InMemory)
                .map_err(de::Error::custom),
            _ => Err(de::Error::custom(DIVERSIFICATION_KEY_FORMS)),
        }
    }
}

/// The server's master key, whichever backend holds it: what `cm::Profile` derives card keys
/// with. An enum over the backends, so a request is served the same way from any of them.
// One value per process, kept for its life: the size difference costs nothing, and boxing the
// in-memory key would move its schedule through a temporary that is not wiped.
#[allow(clippy::large_enum_variant)]
enum ServerMaster {
    /// In this process's memory.
    InMemory(MasterKey),
    /// In a PKCS#11 token: the token computes the CMACs, the key never enters this process.
    Pkcs11(Pkcs11Master),
}

impl ServerMaster {
    /// The master the configuration describes, ready to use.
    fn open(config: DiversificationKey) -> Result<Self, String> {
        match config {
            DiversificationKey::InMemory(key) => Ok(Self::InMemory(key)),
            // Start-up stops here for a missing token, a locked or refused PIN (tried once),
            // a missing label or a key that may do more than sign; the message says which.
            DiversificationKey::Pkcs11(config) => Pkcs11Master::open(&config)
                .map(Self::Pkcs11)
                .map_err(|err| err.to_string()),
        }
    }

    /// The key's audit, where the key's bytes are at hand to audit (not in a key store).
    fn audit(&self) -> Option<cardadmin::KeyAudit> {
        match self {
            Self::InMemory(key) => Some(key.audit()),
            Self::Pkcs11(_) => None,
        }
    }

    /// Where the key is, for the start-up line.
    fn location(&self) -> String {
        match self {
            Self::InMemory(_) => String::from("in memory"),
            Self::Pkcs11(key) => format!(
                "in PKCS#11 token {:?} as {:?} ({} sessions)",
                key.token(),
                key.label(),
                key.sessions()
            ),
        }
    }
}

/// A key store's failure: logged to stderr by the server, answered to the client as a 500
/// that says only that the key store failed (`cm::CmError::KeyStore`).
#[derive(Debug)]
enum KeyStoreError {
    /// The PKCS#11 token's error: a function and its return value, never a key or a message.
    Pkcs11(CmacError),
}

impl fmt::Display for KeyStoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Pkcs11(err) => err.fmt(f),
        }
    }
}

impl CmacSigner for ServerMaster {
    type Error = KeyStoreError;

    fn algorithm(&self) -> Algorithm {
        match self {
            Self::InMemory(key) => key.algorithm(),
            Self::Pkcs11(key) => key.algorithm(),
        }
    }

    fn cmac(&self, message: &CmacMessage, tag: &mut [u8]) -> Result<(), KeyStoreError> {
        let result = match self {
            Self::InMemory(key) => key.cmac(message, tag).map_err(|never| match never {}),
            Self::Pkcs11(key) => key.cmac(message, tag).map_err(KeyStoreError::Pkcs11),
        };
        if let Err(err) = &result {
            // The store's own error, for the operator; the client gets a 500 without it.
            eprintln!("error: key store: {err}");
        }
        result
    }
}

/// The configuration in use: the keys and policy, checked once at start-up.
struct Keys {
    initial_admin_key: AdminKey,
    masters: versions::Masters,
    pin_policy: PinPolicy,
}

/// What every request is answered from: one `cm::Profile` per master version, built (and so
/// checked: the same key in two roles is refused) once at start-up. The keys they borrow live
/// as long as the process (`Box::leak`), so that a key store is not asked for a check value
/// per request.
struct Server {
    /// The current master's profile (or the one without a master).
    profile: cm::Profile<'static, ServerMaster>,
    /// Every version's profile.
    versions: std::collections::BTreeMap<u8, cm::Profile<'static, ServerMaster>>,
    current: Option<u8>,
    lifecycle: lifecycle::Profile,
    security: Security,
}

impl handler::Answerer for Server {
    type Master = ServerMaster;

    fn profile(&self, version: Option<u8>) -> Option<cm::Profile<'_, ServerMaster>> {
        match version {
            None => Some(self.profile),
            Some(version) => self.versions.get(&version).copied(),
        }
    }

    fn current_version(&self) -> Option<u8> {
        self.current
    }

    fn lifecycle(&self) -> &lifecycle::Profile {
        &self.lifecycle
    }

    fn security(&self) -> &Security {
        &self.security
    }
}

/// What `--help` prints (on stdout).
const USAGE: &str = "cardadmin-server: the MIM CM smart-card endpoints (authenticationresponse, diversifiedkey,
serverproposedpin) over HTTPS with client certificates, or over plain HTTP on loopback.

usage: cardadmin-server --config <config.json> [--listen <address:port>]   serve (default 127.0.0.1:8080)
       cardadmin-server requests add --config <config.json> --reqid <GUID> [--scid <GUID>] [--cardid <GUID>] --operator <NAME> [--type enroll|renew|retire]
       cardadmin-server requests close --config <config.json> --reqid <GUID> [--status Completed|Canceled|Abandoned]
       cardadmin-server requests list --config <config.json>
       cardadmin-server keys --config <config.json>   (master versions, check values, cards on each)
       cardadmin-server verify-audit <audit log>
       cardadmin-server verify-audit --config <config.json>   (the trail in its \"database\")
       cardadmin-server --help | --version       (and `<command> --help` for each command)

Configuration fields: every field, with an example, in apps/server/README.md (cardadmin's source tree).
Output: one line per request on stdout; start-up lines, warnings and errors on stderr.
Exit status: 0 stopped by SIGTERM or Ctrl-C, 1 refused to start, 2 bad arguments.";

/// What the command line asks for.
enum Command {
    Serve { config: String, listen: SocketAddr },
    Help,
    Version,
}

/// `--config PATH` and `--listen ADDR`, in any order; `--help`, `-h`, `--version`, `-V`.
fn parse_args(args: Vec<String>) -> Result<Command, String> {
    let mut config = None;
    let mut listen = String::from("127.0.0.1:8080");
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--config" => config = Some(args.next().ok_or("--config needs a path")?),
            "--listen" => listen = args.next().ok_or("--listen needs an address")?,
            "--help" | "-h" => return Ok(Command::Help),
            "--version" | "-V" => return Ok(Command::Version),
            other => {
                return Err(format!(
                    "unknown argument {other:?}; `cardadmin-server --help` lists the commands"
                ))
            }
        }
    }
    let config = config.ok_or(
        "--config is required: cardadmin-server --config <config.json> [--listen <address:port>]; `cardadmin-server --help` says more",
    )?;
    let listen = listen
        .parse()
        .map_err(|err| format!("--listen {listen:?}: {err}"))?;
    Ok(Command::Serve { config, listen })
}

fn load_config(path: &str) -> Result<Config, String> {
    let text = Zeroizing::new(
        std::fs::read_to_string(path).map_err(|err| format!("reading {path}: {err}"))?,
    );
    // serde_json's messages name a line and column, never the key text.
    serde_json::from_str(&text).map_err(|err| {
        // The old one-key file: say what replaced it rather than "unknown field".
        if err.is_data() && OLD_FIELDS.iter().any(|old| err.to_string().contains(&format!("unknown field `{old}`"))) {
            format!(
                "{path}: \"admin_key\" and \"diversify_keys\" are no longer read: the keys have two roles now. Write \"initial_admin_key\" (the key blank cards ship with; it answers diversified=false) and \"diversification_key\" (a different key that derives each card's key for diversified=true and diversifiedkey; leave it out for a profile that does not diversify). ({err})"
            )
        } else {
            format!("{path}: {err}")
        }
    })
}

/// Warns about a weak or well-known key, naming its role and check value.
fn warn_weak(role: &str, check_value: impl fmt::Display, audit: &cardadmin::KeyAudit) {
    if !audit.is_clean() {
        eprintln!(
            "warning: the {role} (check value {check_value}) is weak or well known; use it for tests only:"
        );
        for finding in audit.findings() {
            eprintln!("warning:   {finding}");
        }
    }
}

fn main() -> ExitCode {
    // Before any thread exists: the environment is changed here only.
    let password = pg::take_password_from_env();
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("requests") => cli::requests(&args[1..], password),
        Some("verify-audit") => cli::verify_audit(&args[1..], password),
        Some("keys") => versions::keys(&args[1..], password),
        _ => match parse_args(args) {
            Ok(Command::Help) => {
                println!("{USAGE}");
                ExitCode::SUCCESS
            }
            Ok(Command::Version) => {
                println!("cardadmin-server {}", env!("CARGO_PKG_VERSION"));
                ExitCode::SUCCESS
            }
            Ok(Command::Serve { config, listen }) => serve(config, listen, password),
            Err(message) => {
                eprintln!("error: {message}");
                ExitCode::from(2)
            }
        },
    }
}

/// Warns when the configuration file holds key bytes worth keeping (a master in memory, an
/// initial admin key that is not a published default) and others than its owner may read it.
#[cfg(unix)]
fn warn_if_readable(path: &str, config: &Config) {
    use std::os::unix::fs::PermissionsExt as _;
    let Ok(metadata) = std::fs::metadata(path) else {
        return;
    };
    let mode = metadata.permissions().mode();
    if mode & 0o044 == 0 {
        return;
    }
    let mut held = Vec::new();
    if config.initial_admin_key.audit().is_clean() {
        held.push("initial_admin_key");
    }
    if matches!(
        config.diversification_key,
        Some(DiversificationKey::InMemory(_))
    ) {
        held.push("diversification_key");
    }
    if !held.is_empty() {
        eprintln!(
            "warning: {path} holds key bytes ({}) and is readable by group or others (mode {:04o}): `chmod 600 {path}`",
            held.join(" and "),
            mode & 0o7777
        );
    }
}

#[cfg(not(unix))]
fn warn_if_readable(_: &str, _: &Config) {}

#[tokio::main]
async fn serve(
    config_path: String,
    listen: SocketAddr,
    password: Option<Zeroizing<String>>,
) -> ExitCode {
    let config = match load_config(&config_path) {
        Ok(config) => config,
        Err(message) => {
            eprintln!("error: {message}");
            return ExitCode::FAILURE;
        }
    };
    warn_if_readable(&config_path, &config);
    let limits = match limits(&config) {
        Ok(limits) => limits,
        Err(message) => {
            eprintln!("error: {message}");
            return ExitCode::FAILURE;
        }
    };
    let log = match handler::RequestLog::stdout() {
        Ok(log) => log,
        Err(message) => {
            eprintln!("error: {message}");
            return ExitCode::FAILURE;
        }
    };
    let security = match security(&config, listen, log.clone(), password).await {
        Ok(security) => security,
        Err(message) => {
            eprintln!("error: {message}");
            return ExitCode::FAILURE;
        }
    };
    let tls = match config.tls.as_ref().map(tls::server_config).transpose() {
        Ok(tls) => tls,
        Err(message) => {
            eprintln!("error: {message}");
            return ExitCode::FAILURE;
        }
    };
    let deployment = config.tls.is_some();

    // Keys are identified by their check values only; the audit says what is wrong with them.
    let check_value = config.initial_admin_key.check_value();
    warn_weak(
        "initial admin key",
        check_value,
        &config.initial_admin_key.audit(),
    );
    let masters = match versions::open(versions::MasterFields {
        current: config.diversification_key,
        version: config.diversification_key_version,
        previous: config.previous_diversification_keys,
        registry: security.registry.is_some(),
        deployment,
    }) {
        Ok(masters) => masters,
        Err(message) => {
            eprintln!("error: {message}");
            return ExitCode::FAILURE;
        }
    };
    let master_description = match masters.keys.first() {
        None => String::from("none (diversified=true and diversifiedkey answer 400)"),
        Some(master) => format!(
            "version {}, {} {}, check value {} (CMAC method)",
            master.version,
            master.key.algorithm(),
            master.key.location(),
            master.check_value
        ),
    };
    let template = match config
        .profile_template_id
        .as_deref()
        .map(cm::Guid::parse)
        .transpose()
    {
        Ok(template) => template,
        Err(err) => {
            eprintln!("error: profile_template_id: {err}");
            return ExitCode::FAILURE;
        }
    };
    let keys: &'static Keys = Box::leak(Box::new(Keys {
        initial_admin_key: config.initial_admin_key,
        masters,
        pin_policy: config.pin_policy,
    }));
    let mut profiles = std::collections::BTreeMap::new();
    for master in &keys.masters.keys {
        match cm::Profile::new(&keys.initial_admin_key, Some(&master.key), &keys.pin_policy) {
            Ok(profile) => {
                profiles.insert(master.version, profile);
            }
            Err(err) => {
                eprintln!("error: master key version {}: {err}", master.version);
                return ExitCode::FAILURE;
            }
        }
    }
    let profile = match keys
        .masters
        .current
        .and_then(|current| profiles.get(&current))
    {
        Some(profile) => *profile,
        None => match cm::Profile::new(
            &keys.initial_admin_key,
            None::<&ServerMaster>,
            &keys.pin_policy,
        ) {
            Ok(profile) => profile,
            Err(err) => {
                eprintln!("error: {err}");
                return ExitCode::FAILURE;
            }
        },
    };
    eprintln!(
        "initial admin key check value {check_value}; diversification key: {master_description}; PIN policy {}..={} characters, server proposes PINs: {}",
        keys.pin_policy.min_len(),
        keys.pin_policy.max_len(),
        keys.pin_policy.server_generates(),
    );
    for master in keys.masters.keys.iter().skip(1) {
        eprintln!(
            "previous diversification key: version {}, {} {}, check value {} (answers only for cards whose key came from it)",
            master.version,
            master.key.algorithm(),
            master.key.location(),
            master.check_value
        );
    }
    if let Some(registry) = &security.registry {
        match registry.cards().await {
            Ok(cards) => versions::warn_unconfigured(&keys.masters, &versions::count(&cards)),
            Err(message) => {
                eprintln!("error: {message}");
                return ExitCode::FAILURE;
            }
        }
    }
    let lifecycle = lifecycle::Profile::new(
        template,
        &keys.initial_admin_key,
        &keys.pin_policy,
        keys.masters.current.is_some(),
    );

    let server = Arc::new(Server {
        profile,
        versions: profiles,
        current: keys.masters.current,
        lifecycle,
        security,
    });
    let app = Router::new()
        .fallback(handler::handle::<Server>)
        .with_state(server.clone());
    let listener = match tokio::net::TcpListener::bind(listen).await {
        Ok(listener) => listener,
        Err(err) => {
            eprintln!("error: cannot listen on {listen}: {err}");
            return ExitCode::FAILURE;
        }
    };
    // The address bound, port 0 resolved: what a client (or a test) connects to.
    let bound = listener.local_addr().unwrap_or(listen);
    let limits_line = format!(
        "at most {} connections at once, {} s to send a request's headers",
        limits.max_connections,
        limits.header_read_timeout.as_secs()
    );
    let acceptor = match tls {
        None => {
            eprintln!(
                "listening on http://{bound}{} (plain HTTP, loopback Host names only; {limits_line})",
                cm::PREFIX
            );
            None
        }
        Some(tls) => {
            eprintln!(
                "listening on https://{bound}{} (TLS 1.3 and 1.2, client certificate required; {limits_line})",
                cm::PREFIX
            );
            Some(tokio_rustls::TlsAcceptor::from(tls))
        }
    };
    handler::serve(listener, acceptor, app, limits, shutdown()).await;
    log.flush().await;
    stopping(&server.security).await;
    eprintln!("stopped");
    ExitCode::SUCCESS
}

/// What the audit trail gets when the server stops: the refusal counts not recorded yet, then
/// the chain head on stderr (an anchor).
async fn stopping(security: &Security) {
    handler::record_all_unrecorded(security).await;
    if let Some(audit) = &security.audit {
        audit.at_shutdown().await;
    }
}

/// `"max_connections"` and `"header_read_timeout_seconds"`, or their defaults.
fn limits(config: &Config) -> Result<handler::Limits, String> {
    let max_connections = config
        .max_connections
        .unwrap_or(handler::DEFAULT_MAX_CONNECTIONS);
    if max_connections == 0 || max_connections > 1 << 20 {
        return Err(format!(
            "\"max_connections\": {max_connections} is out of range; give 1 to 1048576 (default {})",
            handler::DEFAULT_MAX_CONNECTIONS
        ));
    }
    let seconds = config
        .header_read_timeout_seconds
        .unwrap_or(handler::DEFAULT_HEADER_READ_TIMEOUT);
    if seconds == 0 || seconds > 3600 {
        return Err(format!(
            "\"header_read_timeout_seconds\": {seconds} is out of range; give 1 to 3600 (default {})",
            handler::DEFAULT_HEADER_READ_TIMEOUT
        ));
    }
    Ok(handler::Limits {
        max_connections,
        header_read_timeout: std::time::Duration::from_secs(seconds),
    })
}

/// Checks the `"database"` and `"node_id"` fields against the rest: `Some((url, node))` with
/// a database, `None` without.
fn database_fields(config: &Config) -> Result<Option<(&str, &str)>, String> {
    let Some(url) = config.database.as_deref() else {
        if config.node_id.is_some() {
            return Err("\"node_id\" names this instance in the database's audit trail: add \"database\": \"postgresql://USER@HOST:PORT/DBNAME\", or remove it".into());
        }
        return Ok(None);
    };
    for (field, given) in [
        ("registry", config.registry.is_some()),
        ("audit_log", config.audit_log.is_some()),
        ("audit_file_id", config.audit_file_id.is_some()),
    ] {
        if given {
            return Err(format!("\"{field}\" and \"database\" cannot be used together: with \"database\" the request registry and the audit trail are in the database; remove \"{field}\""));
        }
    }
    let Some(node) = config.node_id.as_deref() else {
        return Err("\"database\" needs \"node_id\": this instance's name in the audit trail (each instance its own, e.g. \"node_id\": \"a\")".into());
    };
    pg::check_node_id(node)?;
    if config.tls.is_none() {
        return Err("\"database\" needs \"tls\": the registry names each request's operator, and the operator is the client certificate's common name, which plain HTTP does not have".into());
    }
    Ok(Some((url, node)))
}

/// The PostgreSQL parts: the registry, this node's audit chain, the limits in the database.
async fn database_security(
    secured: &Config,
    url: &str,
    node: &str,
    password: Option<Zeroizing<String>>,
    log: handler::RequestLog,
) -> Result<Security, String> {
    let target = pg::parse_url(url, password.as_deref().map(String::as_str))?;
    drop(password);
    let version = versions::check_version(secured.diversification_key_version)
        .map_err(|err| format!("diversification_key_version: {err}"))?;
    let database = pg::Database::open(target, version).await?;
    let anchor_every = match secured.audit_anchor_every {
        Some(0) => {
            return Err("audit_anchor_every must be at least 1: a checkpoint is written every this many records (default 1000)".into())
        }
        Some(every) => every,
        None => audit::DEFAULT_ANCHOR_EVERY,
    };
    let opened = pg::Trail::open(database.clone(), node, anchor_every).await?;
    eprintln!(
        "database {}: schema version {}; node {node}: {} records before this start, the start-up checkpoint is record {}, head {}",
        database.description(),
        pg::SCHEMA_VERSION,
        opened.before,
        opened.seq,
        opened.head
    );
    eprintln!(
        "database: the request registry, the audit trail (node {node}'s chain, a checkpoint every {anchor_every} records and at shutdown) and the limits are shared with every instance on this database"
    );
    let rate_limit = secured.rate_limit_per_minute.map(|per_minute| {
        eprintln!("rate limit: {per_minute} key uses per operator per minute across every instance on this database, then 429");
        store::KeyUseLimit::Postgres {
            database: database.clone(),
            per_minute,
        }
    });
    let refusals_per_minute = secured
        .refusals_per_minute
        .or(secured.rate_limit_per_minute)
        .unwrap_or(DEFAULT_REFUSALS_PER_MINUTE);
    eprintln!(
        "refusal limit: {refusals_per_minute} recorded refusals per operator per minute across every instance, then 429 (counted, not recorded one by one)"
    );
    Ok(Security {
        // "database" needs "tls" (checked above): the client certificate decides, not `Host`.
        loopback_hosts_only: false,
        log,
        registry: Some(store::Registry::Postgres(database.clone())),
        audit: Some(store::Audit::Postgres(opened.trail)),
        rate_limit,
        refusals: Some(store::RefusalLimit::Postgres {
            database,
            per_minute: refusals_per_minute,
        }),
    })
}

/// Opens what the configuration names (registry, audit trail, rate limit), checks that plain
/// HTTP stays on loopback, and says on stderr what is on and what is not.
async fn security(
    secured: &Config,
    listen: SocketAddr,
    log: handler::RequestLog,
    password: Option<Zeroizing<String>>,
) -> Result<Security, String> {
    if secured.tls.is_none() && !listen.ip().is_loopback() {
        return Err(format!(
            "refusing to serve plain HTTP on {listen}: without \"tls\" in the configuration callers are not authenticated and keys would cross the network in clear, so the server listens only on a loopback address (127.0.0.1 or ::1); add \"tls\": {{\"cert\", \"key\", \"client_ca\"}} to listen elsewhere"
        ));
    }
    if let Some((url, node)) = database_fields(secured)? {
        return database_security(secured, url, node, password, log).await;
    }
    drop(password);
    if secured.registry.is_some() && secured.tls.is_none() {
        return Err("\"registry\" needs \"tls\": the registry names each request's operator, and the operator is the client certificate's common name, which plain HTTP does not have".into());
    }
    let registry = match &secured.registry {
        Some(path) => {
            let version = versions::check_version(secured.diversification_key_version)
                .map_err(|err| format!("diversification_key_version: {err}"))?;
            let registry = registry::Registry::open(path, version)?;
            let count = registry.list()?.len();
            eprintln!(
                "registry {}: {count} requests; every endpoint answers only the operator of an open request",
                path.display()
            );
            Some(store::Registry::Sqlite(Arc::new(registry)))
        }
        None => {
            eprintln!(
                "warning: no \"registry\" in the configuration: the server answers any caller for any request and card (a development configuration)"
            );
            None
        }
    };
    let audit = match &secured.audit_log {
        Some(path) => {
            let expected_id = secured
                .audit_file_id
                .as_deref()
                .map(audit::parse_file_id)
                .transpose()
                .map_err(|err| format!("audit_file_id: {err}"))?;
            let anchor_every = match secured.audit_anchor_every {
                Some(0) => {
                    return Err("audit_anchor_every must be at least 1: the chain head is written to stderr every this many audit lines (default 1000)".into())
                }
                Some(every) => every,
                None => audit::DEFAULT_ANCHOR_EVERY,
            };
            let configured = expected_id.is_some();
            let opened = audit::AuditLog::open(
                path,
                &audit::Options {
                    expected_id,
                    anchor_every: Some(anchor_every),
                },
            )?;
            eprintln!(
                "audit log {}: {}, chain verified, head {}",
                path.display(),
                counted::counted(opened.lines, "line", "lines"),
                opened.head
            );
            let from = if opened.file_id_line == 1 {
                String::new()
            } else {
                format!(
                    " (from line {}, appended to a trail written before file ids)",
                    opened.file_id_line
                )
            };
            if configured {
                eprintln!(
                    "audit log {}: file id {}{from}, as audit_file_id names",
                    path.display(),
                    opened.file_id
                );
            } else {
                eprintln!(
                    "audit log {}: file id {}{from}; add \"audit_file_id\": \"{}\" to the configuration so that no other file is taken for this trail",
                    path.display(),
                    opened.file_id,
                    opened.file_id
                );
            }
            eprintln!("audit log {}: the chain head goes to stderr every {anchor_every} lines and at shutdown (\"audit anchor: ...\"); keep those lines outside this machine", path.display());
            Some(store::Audit::File(opened.log))
        }
        None => {
            if secured.audit_file_id.is_some() || secured.audit_anchor_every.is_some() {
                return Err("\"audit_file_id\" and \"audit_anchor_every\" are about the audit trail: add \"audit_log\": PATH, or remove them".into());
            }
            eprintln!("warning: no \"audit_log\" in the configuration: key uses are not recorded");
            None
        }
    };
    let rate_limit = secured.rate_limit_per_minute.map(|limit| {
        eprintln!("rate limit: {limit} key uses per operator per minute, then 429");
        store::KeyUseLimit::Memory(ratelimit::RateLimit::new(limit))
    });
    let refusals_per_minute = secured
        .refusals_per_minute
        .or(secured.rate_limit_per_minute)
        .unwrap_or(DEFAULT_REFUSALS_PER_MINUTE);
    eprintln!(
        "refusal limit: {refusals_per_minute} recorded refusals per operator per minute, then 429 (counted, not recorded one by one)"
    );
    Ok(Security {
        loopback_hosts_only: secured.tls.is_none(),
        log,
        registry,
        audit,
        rate_limit,
        refusals: Some(store::RefusalLimit::Memory(ratelimit::RefusalLimit::new(
            refusals_per_minute,
        ))),
    })
}

/// Ctrl-C or SIGTERM (what `kill PID` sends).
async fn shutdown() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminate =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(signal) => signal,
                Err(_) => {
                    let _ = interrupt.await;
                    return;
                }
            };
        tokio::select! {
            _ = interrupt => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = interrupt.await;
    }
}
