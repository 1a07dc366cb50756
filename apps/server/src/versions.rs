//! Master key versions (issue #25): `"diversification_key_version"` names the current master's
//! version, `"previous_diversification_keys"` the older masters that still answer for the cards
//! whose key came from them; `cardadmin-server keys --config C` lists them with their check
//! values and how many cards are on each.
//!
//! Which version answers for which card is the registry's business ([`crate::registry`]); this
//! module opens the keys, checks them together at start-up, and counts.

use std::collections::BTreeMap;
use std::process::ExitCode;

use cardadmin::master::{self, CmacSigner as _};
use cardadmin::KeyCheckValue;
use serde::Deserialize;
use zeroize::Zeroizing;

use crate::registry::Card;
use crate::{DiversificationKey, ServerMaster};

/// The version of a master when `"diversification_key_version"` is not given.
pub const DEFAULT_VERSION: u8 = 1;

/// `"diversification_key_version"` (or a previous key's `"version"`), checked: 1 to 255,
/// `None` is [`DEFAULT_VERSION`].
pub fn check_version(version: Option<u64>) -> Result<u8, String> {
    match version {
        None => Ok(DEFAULT_VERSION),
        Some(version) => u8::try_from(version)
            .ok()
            .filter(|version| *version >= 1)
            .ok_or_else(|| {
                format!("a master key version is 1 to 255 (\"diversification_key_version\" defaults to 1); {version} is not")
            }),
    }
}

/// One entry of `"previous_diversification_keys"`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PreviousKey {
    /// Its version, 1 to 255.
    version: u64,
    /// The key, in any form of `"diversification_key"`.
    key: DiversificationKey,
}

/// A master, opened: its version, the key, its X9.24 CMAC check value.
pub struct Master {
    /// The version.
    pub version: u8,
    /// The key (in memory or in a token).
    pub key: ServerMaster,
    /// `cardadmin::master::check_value` of it.
    pub check_value: KeyCheckValue,
}

/// The masters the configuration names, opened and checked together.
pub struct Masters {
    /// The current version, `None` without a `"diversification_key"`.
    pub current: Option<u8>,
    /// Every master, the current one first.
    pub keys: Vec<Master>,
}

/// The configuration fields of the masters.
pub struct MasterFields {
    /// `"diversification_key"`.
    pub current: Option<DiversificationKey>,
    /// `"diversification_key_version"`.
    pub version: Option<u64>,
    /// `"previous_diversification_keys"`.
    pub previous: Vec<PreviousKey>,
    /// A `"registry"` or `"database"` is configured.
    pub registry: bool,
    /// `"tls"` is configured: a weak or published master stops start-up.
    pub deployment: bool,
}

/// Opens every master the configuration names and checks them together: versions 1 to 255,
/// each once; no previous version without a current master or without a registry; no two
/// versions with one key; under `"tls"`, no master with an audit finding (warnings otherwise).
/// The role check against the initial key is `cm::Profile::new`'s, made for each version by
/// the server.
pub fn open(fields: MasterFields) -> Result<Masters, String> {
    let Some(current) = fields.current else {
        if fields.version.is_some() {
            return Err("\"diversification_key_version\" names the version of \"diversification_key\": add the key, or remove the version".into());
        }
        if !fields.previous.is_empty() {
            return Err("\"previous_diversification_keys\" need a current \"diversification_key\" (the only one that derives keys for cards): add it, or remove them".into());
        }
        return Ok(Masters {
            current: None,
            keys: Vec::new(),
        });
    };
    let version = check_version(fields.version)
        .map_err(|err| format!("diversification_key_version: {err}"))?;
    if !fields.previous.is_empty() && !fields.registry {
        return Err("\"previous_diversification_keys\" need a \"registry\" or a \"database\": only the registry records which master each card's key came from, and without it an old master could not be told apart from the current one for any card".into());
    }
    let mut keys = Vec::with_capacity(1 + fields.previous.len());
    let mut opened = |version: u8, key: DiversificationKey, current: bool| -> Result<(), String> {
        let role = if current {
            String::from("diversification key")
        } else {
            format!("previous diversification key version {version}")
        };
        let field = if current {
            String::from("diversification_key")
        } else {
            format!("previous_diversification_keys (version {version})")
        };
        if keys.iter().any(|master: &Master| master.version == version) {
            return Err(format!(
                "master key version {version} is given twice (\"diversification_key_version\" and each \"previous_diversification_keys\" entry name one version each)"
            ));
        }
        let key = ServerMaster::open(key).map_err(|err| format!("{field}: {err}"))?;
        let check_value = master::check_value(&key)
            .map_err(|err| format!("{field}: the key store failed: {err}"))?;
        if let Some(audit) = key.audit() {
            if fields.deployment && !audit.is_clean() {
                let findings: Vec<String> = audit
                    .findings()
                    .map(|finding| finding.to_string())
                    .collect();
                return Err(format!(
                    "the {role} (check value {check_value}) is weak or well known ({}), and with \"tls\" the server is a deployment, so it does not start; make a new master (`cardadmin-ceremony generate`, or `import` from custodians' components, or 48 random hex digits); a weak or published master is served, with a warning, only over plain HTTP on loopback (a demonstration)",
                    findings.join("; ")
                ));
            }
            crate::warn_weak(&role, check_value, &audit);
        }
        if let Some(same) = keys.iter().find(|master: &&Master| {
            master.check_value == check_value && master.key.algorithm() == key.algorithm()
        }) {
            return Err(format!(
                "master key versions {} and {version} are the same key (check value {check_value}): a rotation needs a new master",
                same.version
            ));
        }
        keys.push(Master {
            version,
            key,
            check_value,
        });
        Ok(())
    };
    opened(version, current, true)?;
    for previous in fields.previous {
        let number = check_version(Some(previous.version))
            .map_err(|err| format!("previous_diversification_keys: {err}"))?;
        opened(number, previous.key, false)?;
    }
    Ok(Masters {
        current: Some(version),
        keys,
    })
}

/// Per master version: (confirmed, pending) card counts; retired cards are left out (they
/// need no master any more).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Counts {
    /// Version to (cards confirmed on it, cards with a change to it pending).
    pub versions: BTreeMap<u8, (u64, u64)>,
    /// Cards with neither (bound to a request, no key derived yet).
    pub unversioned: u64,
    /// Retired cards.
    pub retired: u64,
}

/// Counts `cards` per version.
pub fn count(cards: &[Card]) -> Counts {
    let mut counts = Counts::default();
    for card in cards {
        if card.retired {
            counts.retired += 1;
            continue;
        }
        if let Some(version) = card.confirmed {
            counts.versions.entry(version).or_default().0 += 1;
        }
        if let Some(version) = card.pending {
            counts.versions.entry(version).or_default().1 += 1;
        }
        if card.confirmed.is_none() && card.pending.is_none() {
            counts.unversioned += 1;
        }
    }
    counts
}

/// The cards on versions `masters` does not hold: a warning per version, for start-up.
pub fn warn_unconfigured(masters: &Masters, counts: &Counts) {
    for (version, (confirmed, pending)) in &counts.versions {
        if !masters.keys.iter().any(|master| master.version == *version) {
            eprintln!(
                "warning: {confirmed} cards are confirmed and {pending} pending on master version {version}, which this configuration does not hold: they are refused diversified=true until it is added to \"previous_diversification_keys\" (`cardadmin-server keys` lists them)"
            );
        }
    }
}

/// `keys`'s table: see the README.
pub fn table(masters: &Masters, counts: &Counts) -> String {
    let mut out = String::from("version\trole\talgorithm\tcheck value\tconfirmed\tpending");
    let mut versions: Vec<u8> = masters.keys.iter().map(|master| master.version).collect();
    versions.extend(counts.versions.keys().copied());
    versions.sort_unstable_by(|a, b| b.cmp(a));
    versions.dedup();
    for version in versions {
        let (confirmed, pending) = counts.versions.get(&version).copied().unwrap_or_default();
        let line = match masters.keys.iter().find(|master| master.version == version) {
            Some(master) => format!(
                "{version}\t{}\t{}\t{}\t{confirmed}\t{pending}",
                if Some(version) == masters.current {
                    "current"
                } else {
                    "previous"
                },
                master.key.algorithm(),
                master.check_value
            ),
            None => format!("{version}\tnot configured\t-\t-\t{confirmed}\t{pending}"),
        };
        out.push('\n');
        out.push_str(&line);
    }
    out.push_str(&format!(
        "\ncards with no version yet: {}; retired cards: {}",
        counts.unversioned, counts.retired
    ));
    out
}

const KEYS_USAGE: &str = "usage: cardadmin-server keys --config <config.json>

Lists the master key versions the configuration holds (current and previous), each with its
algorithm and X9.24 CMAC check value, and how many cards of the registry (or database) are
confirmed on it and have a change to it pending; retired cards are not counted. Opens every
key (a PKCS#11 token needs its PIN) and the registry; changes nothing. Exit status: 0 listed,
1 refused (the message says why), 2 bad arguments.";

/// `keys --config C`; `password` is `PGPASSWORD`'s, for `"database"`.
pub fn keys(args: &[String], password: Option<Zeroizing<String>>) -> ExitCode {
    if args.iter().any(|arg| arg == "--help" || arg == "-h") {
        println!("{KEYS_USAGE}");
        return ExitCode::SUCCESS;
    }
    let config_path = match args {
        [flag, path] if flag == "--config" => path,
        _ => {
            eprintln!("{KEYS_USAGE}");
            return ExitCode::from(2);
        }
    };
    match listed(config_path, password) {
        Ok(text) => {
            println!("{text}");
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

fn listed(config_path: &str, password: Option<Zeroizing<String>>) -> Result<String, String> {
    let config = crate::load_config(config_path)?;
    let database = crate::database_fields(&config)?.map(|(url, _)| url.to_string());
    let registry = config.registry.clone();
    if database.is_none() && registry.is_none() {
        return Err(format!("{config_path} names no \"registry\" and no \"database\": `keys` counts the cards of the registry"));
    }
    let masters = open(MasterFields {
        current: config.diversification_key,
        version: config.diversification_key_version,
        previous: config.previous_diversification_keys,
        registry: true,
        deployment: false,
    })?;
    let version = masters.current.unwrap_or(DEFAULT_VERSION);
    let cards = match (database, registry) {
        (Some(url), _) => {
            let target = crate::pg::parse_url(&url, password.as_deref().map(String::as_str))?;
            drop(password);
            crate::pg::runtime()?.block_on(async {
                crate::pg::Database::open(target, version)
                    .await?
                    .cards()
                    .await
            })?
        }
        (None, Some(path)) => crate::registry::Registry::open(&path, version)?.cards()?,
        (None, None) => Vec::new(),
    };
    Ok(table(&masters, &count(&cards)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use cardadmin::CardId;

    fn card(confirmed: Option<u8>, pending: Option<u8>, retired: bool) -> Card {
        Card {
            cardid: CardId::from_bytes([0; 16]),
            confirmed,
            pending,
            pending_reqid: None,
            retired,
        }
    }

    #[test]
    fn versions_are_1_to_255_and_default_to_1() {
        assert_eq!(check_version(None), Ok(1));
        assert_eq!(check_version(Some(255)), Ok(255));
        for bad in [0, 256, u64::MAX] {
            let err = check_version(Some(bad)).unwrap_err();
            assert!(err.contains("1 to 255"), "{err}");
        }
    }

    #[test]
    fn retired_cards_count_on_no_version() {
        let counts = count(&[
            card(Some(1), None, false),
            card(Some(1), Some(2), false),
            card(Some(2), None, false),
            card(Some(1), None, true),
            card(None, None, false),
        ]);
        assert_eq!(counts.versions[&1], (2, 0));
        assert_eq!(counts.versions[&2], (1, 1));
        assert_eq!((counts.unversioned, counts.retired), (1, 1));
    }
}
