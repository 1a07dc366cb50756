//! The crate's errors: one enum per concern, messages that say what was wrong and what was
//! expected, never a PIN or a key byte.

use std::fmt;
use std::path::PathBuf;

use cardadmin::Algorithm;

/// The PIN could not be read from where the configuration says it is.
///
/// ```
/// use cardadmin_pkcs11::{PinError, PinSource};
///
/// let err = PinSource::Env("CARDADMIN_DOC_NO_SUCH_VARIABLE".into()).read().unwrap_err();
/// assert!(matches!(err, PinError::EnvMissing { .. }));
/// assert!(err.to_string().contains("CARDADMIN_DOC_NO_SUCH_VARIABLE"));
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum PinError {
    /// The environment variable named by `pin_env` is not set.
    EnvMissing {
        /// The variable's name.
        var: String,
    },
    /// The environment variable holds bytes that are not UTF-8.
    EnvNotUnicode {
        /// The variable's name.
        var: String,
    },
    /// The PIN file could not be read.
    File {
        /// The file.
        path: PathBuf,
        /// What the operating system said.
        error: std::io::Error,
    },
    /// The variable or the file is empty (after one trailing line break).
    Empty {
        /// Where it was looked for: `environment variable X` or `file Y`.
        source: String,
    },
}

impl fmt::Display for PinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::EnvMissing { var } => write!(
                f,
                "token PIN: environment variable {var} is not set; set it to the token's user PIN (the PIN is never read from the command line)"
            ),
            Self::EnvNotUnicode { var } => {
                write!(f, "token PIN: environment variable {var} is not valid UTF-8")
            }
            Self::File { path, error } => {
                write!(f, "token PIN: cannot read file {}: {error}", path.display())
            }
            Self::Empty { source } => write!(f, "token PIN: {source} is empty"),
        }
    }
}

impl std::error::Error for PinError {}

/// Why a master key in a token could not be opened: start-up stops with this message.
///
/// Each case the issue names has its own variant: the token is missing
/// ([`TokenNotFound`](Self::TokenNotFound)), its user PIN is locked
/// ([`PinLocked`](Self::PinLocked)), it refuses the PIN ([`PinIncorrect`](Self::PinIncorrect));
/// the PIN is tried once and never again.
///
/// ```
/// use cardadmin_pkcs11::OpenError;
///
/// let err = OpenError::TokenNotFound {
///     token: "cardadmin".into(),
///     present: vec!["other".into()],
///     hint: None,
/// };
/// assert_eq!(
///     err.to_string(),
///     "PKCS#11 token \"cardadmin\" not found: no slot holds a token with that label (tokens present: \"other\")"
/// );
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum OpenError {
    /// The PIN could not be read.
    Pin(PinError),
    /// The PKCS#11 module could not be loaded or initialized.
    Module {
        /// The module's path.
        module: PathBuf,
        /// What the loader or `C_Initialize` said.
        detail: String,
    },
    /// No slot holds a token with this label.
    TokenNotFound {
        /// The label looked for.
        token: String,
        /// The labels of the tokens that are present.
        present: Vec<String>,
        /// Where the module looks for tokens, when it says so: for SoftHSMv2, the
        /// configuration file `SOFTHSM2_CONF` names (or that it is not set).
        hint: Option<String>,
    },
    /// More than one slot holds a token with this label.
    TokenAmbiguous {
        /// The label.
        token: String,
        /// How many tokens carry it.
        count: usize,
    },
    /// The token's user PIN is locked (too many wrong PINs): nothing was tried.
    PinLocked {
        /// The token's label.
        token: String,
    },
    /// The token refused the PIN. It was tried once and will not be tried again: check the PIN
    /// before restarting, as tokens lock after a few wrong PINs.
    PinIncorrect {
        /// The token's label.
        token: String,
    },
    /// The token refused the PIN for another reason (expired, wrong length, not initialized).
    PinRefused {
        /// The token's label.
        token: String,
        /// The PKCS#11 return value.
        reason: String,
    },
    /// No secret key with this label is in the token (as seen after login).
    KeyNotFound {
        /// The token's label.
        token: String,
        /// The key's label.
        label: String,
    },
    /// More than one secret key carries this label.
    KeyAmbiguous {
        /// The token's label.
        token: String,
        /// The key's label.
        label: String,
        /// How many keys carry it.
        count: usize,
    },
    /// The key is not of the configured algorithm.
    KeyAlgorithm {
        /// The key's label.
        label: String,
        /// The configured algorithm.
        expected: Algorithm,
        /// What the token says the key is.
        found: String,
    },
    /// An attribute of the key allows a use a master key must not have (or lacks `CKA_SIGN`).
    KeyPolicy {
        /// The key's label.
        label: String,
        /// The attribute, as `CKA_...`.
        attribute: &'static str,
        /// What the token reports: `true`, `false` or `not reported`.
        found: &'static str,
        /// The value required.
        expected: bool,
        /// Why the value matters, as a sentence.
        reason: &'static str,
    },
    /// `CKA_ALLOWED_MECHANISMS` lets the key sign with a mechanism other than the CMAC ones
    /// (`CKM_DES3_MAC` or `CKM_AES_MAC` would make the signing key an encryption oracle on
    /// one block).
    KeyMechanisms {
        /// The key's label.
        label: String,
        /// The other mechanisms, by name (or a description when the binding cannot name one).
        found: Vec<String>,
    },
    /// The key's check value is not the configuration's `check_value`: another key carries the
    /// label (a same-label replacement is never used silently).
    CheckValueMismatch {
        /// The key's label.
        label: String,
        /// The configuration's value.
        expected: crate::ExpectedCheckValue,
        /// The key's value, computed by the token.
        found: cardadmin::KeyCheckValue,
    },
    /// After reconnecting, the key found under the label has another check value than at
    /// start-up: it is not used.
    KeyReplaced {
        /// The key's label.
        label: String,
        /// The check value at start-up.
        expected: cardadmin::KeyCheckValue,
        /// The check value of the key found now.
        found: cardadmin::KeyCheckValue,
    },
    /// The token does not offer the CMAC mechanism the algorithm needs.
    Mechanism {
        /// The token's label.
        token: String,
        /// `CKM_AES_CMAC` or `CKM_DES3_CMAC`.
        mechanism: &'static str,
    },
    /// Another PKCS#11 call failed.
    Pkcs11 {
        /// What was being done.
        step: &'static str,
        /// The PKCS#11 error.
        error: cryptoki::error::Error,
    },
    /// The key answered its first CMAC (the check value) with an error.
    SelfTest(CmacError),
}

impl fmt::Display for OpenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Pin(err) => err.fmt(f),
            Self::Module { module, detail } => write!(
                f,
                "PKCS#11 module {}: cannot be loaded or initialized: {detail}",
                module.display()
            ),
            Self::TokenNotFound {
                token,
                present,
                hint,
            } => {
                write!(
                    f,
                    "PKCS#11 token {token:?} not found: no slot holds a token with that label"
                )?;
                if present.is_empty() {
                    write!(f, " (no token is present)")?;
                } else {
                    let labels: Vec<String> = present.iter().map(|l| format!("{l:?}")).collect();
                    write!(f, " (tokens present: {})", labels.join(", "))?;
                }
                match hint {
                    Some(hint) => write!(f, "; {hint}"),
                    None => Ok(()),
                }
            }
            Self::TokenAmbiguous { token, count } => write!(
                f,
                "PKCS#11 token {token:?}: {count} tokens carry that label; give each token its own label"
            ),
            Self::PinLocked { token } => write!(
                f,
                "PKCS#11 token {token:?}: the user PIN is locked; the security officer must unlock it (no PIN was tried)"
            ),
            Self::PinIncorrect { token } => write!(
                f,
                "PKCS#11 token {token:?} refused the PIN (incorrect); it is not tried again: check the PIN before restarting, tokens lock after a few wrong PINs"
            ),
            Self::PinRefused { token, reason } => write!(
                f,
                "PKCS#11 token {token:?} refused the login: {reason}; it is not tried again"
            ),
            Self::KeyNotFound { token, label } => write!(
                f,
                "PKCS#11 token {token:?}: no secret key labelled {label:?} (create it with cardadmin-ceremony, or check the label)"
            ),
            Self::KeyAmbiguous {
                token,
                label,
                count,
            } => write!(
                f,
                "PKCS#11 token {token:?}: {count} secret keys are labelled {label:?}; a master key's label must be unique"
            ),
            Self::KeyAlgorithm {
                label,
                expected,
                found,
            } => write!(
                f,
                "PKCS#11 key {label:?} is {found}, but the configuration says {expected} ({})",
                expected.name()
            ),
            Self::KeyPolicy {
                label,
                attribute,
                found,
                expected,
                reason,
            } => write!(
                f,
                "PKCS#11 key {label:?}: {attribute} is {found}, expected {expected}: {reason}"
            ),
            Self::KeyMechanisms { label, found } => write!(
                f,
                "PKCS#11 key {label:?}: CKA_ALLOWED_MECHANISMS allows {}, expected only CKM_DES3_CMAC or CKM_AES_CMAC: a signing key that may use a plain MAC mechanism (CKM_DES3_MAC, CKM_AES_MAC) encrypts one block for whoever asks",
                found.join(", ")
            ),
            Self::CheckValueMismatch {
                label,
                expected,
                found,
            } => write!(
                f,
                "PKCS#11 key {label:?} has check value {found}, but the configuration's check_value is {expected}: another key carries this label; it is not used (give the check value the ceremony printed for the intended key, or find out who replaced it)"
            ),
            Self::KeyReplaced {
                label,
                expected,
                found,
            } => write!(
                f,
                "PKCS#11 key {label:?} found again after reconnecting has check value {found}, not {expected} as at start-up: another key carries this label; it is not used"
            ),
            Self::Mechanism { token, mechanism } => write!(
                f,
                "PKCS#11 token {token:?} does not offer {mechanism} for signing with this key, which its algorithm needs"
            ),
            Self::Pkcs11 { step, error } => write!(f, "PKCS#11: {step}: {error}"),
            Self::SelfTest(err) => write!(f, "PKCS#11 key failed its first CMAC: {err}"),
        }
    }
}

impl std::error::Error for OpenError {}

impl From<PinError> for OpenError {
    fn from(err: PinError) -> Self {
        Self::Pin(err)
    }
}

/// A CMAC the token was asked for failed (a request-time error: the server answers 500).
///
/// The message holds the PKCS#11 function and return value, never the message or the tag.
///
/// ```
/// use cardadmin_pkcs11::CmacError;
///
/// let err = CmacError::TagLength { expected: 16, got: 8 };
/// assert_eq!(err.to_string(), "PKCS#11 CMAC: the token returned 8 bytes, expected 16");
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum CmacError {
    /// A PKCS#11 call failed.
    Pkcs11(cryptoki::error::Error),
    /// The module's `C_SignInit` or `C_Sign` could not be found (CKM_DES3_CMAC's raw path).
    Symbol(String),
    /// The token returned a tag of the wrong length.
    TagLength {
        /// The algorithm's block length.
        expected: usize,
        /// What the token returned.
        got: usize,
    },
    /// The session pool had no session to give. Not returned by a master from
    /// `Pkcs11Master::open` (its pool holds at least one); a session whose lock a panic
    /// poisoned is replaced, not reported.
    SessionPoisoned,
    /// The CMAC failed, and the master could not reconnect to the token (new session, login,
    /// the key found again with the same check value) to try once more.
    Reconnect {
        /// The error of the CMAC (`None`: the module had been re-initialized under it).
        first: Option<Box<CmacError>>,
        /// Why reconnecting failed.
        reconnect: Box<OpenError>,
    },
    /// The module was re-initialized (by another master of this process) between reconnecting
    /// and the retry; the next CMAC reconnects.
    Reinitialized,
    /// The token refused the PIN when the master logged in again after losing its login; the
    /// PIN is not tried again (tokens lock after a few wrong PINs): restart once it is fixed.
    LoginRefused {
        /// The token's label.
        token: String,
    },
}

impl fmt::Display for CmacError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Pkcs11(err) => write!(f, "PKCS#11 CMAC: {err}"),
            Self::Symbol(detail) => write!(f, "PKCS#11 CMAC: {detail}"),
            Self::TagLength { expected, got } => write!(
                f,
                "PKCS#11 CMAC: the token returned {got} bytes, expected {expected}"
            ),
            Self::SessionPoisoned => write!(
                f,
                "PKCS#11 CMAC: a session was left unusable by a panic in another request"
            ),
            Self::Reconnect { first, reconnect } => match first {
                Some(first) => write!(f, "{first}; reconnecting to the token failed: {reconnect}"),
                None => write!(
                    f,
                    "PKCS#11 CMAC: the module was re-initialized; reconnecting to the token failed: {reconnect}"
                ),
            },
            Self::Reinitialized => write!(
                f,
                "PKCS#11 CMAC: the module was re-initialized again while this CMAC was retried"
            ),
            Self::LoginRefused { token } => write!(
                f,
                "PKCS#11 CMAC: token {token:?} refused the PIN when the master logged in again; it is not tried again until a restart"
            ),
        }
    }
}

impl std::error::Error for CmacError {}

impl From<cryptoki::error::Error> for CmacError {
    fn from(err: cryptoki::error::Error) -> Self {
        Self::Pkcs11(err)
    }
}
