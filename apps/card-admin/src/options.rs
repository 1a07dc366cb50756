//! Where the command line's secrets come from, and the TLS files of the enrollment: shared by
//! the command-line parser and the enrollment.

use cardadmin::{AdminKey, Algorithm};
use zeroize::Zeroizing;

use crate::reader::StepError;

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

/// The enrollment's TLS files: a client certificate and key, and the CA of the server.
pub struct Tls {
    pub cert: Option<String>,
    pub key: Option<String>,
    pub cacert: Option<String>,
}
