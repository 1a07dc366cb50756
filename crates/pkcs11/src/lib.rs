//! # cardadmin-pkcs11
//!
//! A `cardadmin` diversification master key held in a PKCS#11 token (an HSM, or SoftHSMv2 for
//! tests): [`Pkcs11Master`] implements the core's `cardadmin::master::CmacSigner`, so the
//! core's one AN10922 derivation (`cardadmin::master::diversify`) builds each card key from
//! CMACs the token computes. The master key never enters this process.
//!
//! Why only a CMAC: AN10922 derives a card key from CMACs of `constant || card ID` under the
//! master. A token that computes those CMACs, and nothing else, is enough; it is handed only the
//! messages the core builds (a `CmacMessage` cannot be made outside the core), so the server is
//! never an encryption or MAC oracle on caller data under the master.
//!
//! - **Mechanisms.** `CKM_AES_CMAC` for AES masters, `CKM_DES3_CMAC` for 3-key Triple-DES.
//!   `cryptoki` 0.12 has no variant for `CKM_DES3_CMAC`, so that one call goes through
//!   `cryptoki-sys` in one function of `raw.rs`, the only `unsafe` code of the workspace (this
//!   crate is `#![deny(unsafe_code)]`, with one `#[allow]` on that function).
//! - **The key object** must be a secret key of the configured type and size with `CKA_SIGN`
//!   true, `CKA_ENCRYPT`, `CKA_DECRYPT`, `CKA_WRAP`, `CKA_UNWRAP` and `CKA_DERIVE` false,
//!   `CKA_SENSITIVE` true and `CKA_EXTRACTABLE` false; [`Pkcs11Master::open`] refuses any other
//!   ([`OpenError::KeyPolicy`] names the attribute). `CKA_VERIFY` is not checked: verifying a
//!   tag tells nothing a signer could not already compute. The ceremony
//!   (`cardadmin-ceremony`) creates keys with [`master_template`], which also sets
//!   `CKA_VERIFY`, `CKA_MODIFIABLE` and `CKA_COPYABLE` false, so no later `C_SetAttributeValue`
//!   or `C_CopyObject` can widen the key's uses.
//! - **Sessions.** A PKCS#11 session runs one operation at a time, so the master holds a pool of
//!   read-only sessions (one login: PKCS#11 logs in the application, not the session), each
//!   behind its own mutex; a CMAC takes the first free session, starting from a rotating index,
//!   so concurrent requests do not queue on one session.
//! - **The PIN** comes from an environment variable or a file ([`PinSource`]), never from the
//!   command line; it is held in `secrecy`'s `SecretString` (zeroized on drop), never logged,
//!   and tried once: a token that refuses it ([`OpenError::PinIncorrect`]), has it locked
//!   ([`OpenError::PinLocked`]) or is missing ([`OpenError::TokenNotFound`]) stops start-up with
//!   a message that says which, as tokens lock after a few wrong PINs.
//!
//! ```no_run
//! use cardadmin::Algorithm;
//! use cardadmin_pkcs11::{Pkcs11Config, Pkcs11Master, PinSource};
//!
//! let master = Pkcs11Master::open(&Pkcs11Config {
//!     module: "/usr/lib/softhsm/libsofthsm2.so".into(),
//!     token: "cardadmin".into(),
//!     label: "master-3des".into(),
//!     algorithm: Algorithm::Tdes,
//!     pin: PinSource::Env("CARDADMIN_TOKEN_PIN".into()),
//!     sessions: None,
//! })?;
//! println!("master check value {}", master.check_value()); // X9.24-1:2017 CMAC method
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![deny(unsafe_code)]
#![deny(missing_docs)]
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )
)]

mod error;
mod raw;
mod signer;

pub mod ceremony;

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, TryLockError};

use cardadmin::{Algorithm, KeyCheckValue};
use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::error::{Error as Pkcs11Error, RvError};
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, UserType};
use cryptoki::slot::Slot;
use cryptoki::types::AuthPin;
use zeroize::Zeroize;

pub use error::{CmacError, OpenError, PinError};
pub use signer::SessionKey;

/// Where the token's user PIN comes from. Never the command line (other users see argv).
///
/// ```
/// use cardadmin_pkcs11::PinSource;
///
/// std::env::set_var("CARDADMIN_DOC_PIN", "123456");
/// let pin = PinSource::Env("CARDADMIN_DOC_PIN".into()).read()?; // a SecretString
/// # use cryptoki::types::AuthPin;
/// # let _: AuthPin = pin;
/// # Ok::<(), cardadmin_pkcs11::PinError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum PinSource {
    /// The named environment variable (the configuration's `pin_env`).
    Env(String),
    /// A file holding the PIN (one trailing line break is dropped).
    File(PathBuf),
}

impl PinSource {
    /// Reads the PIN into a zeroizing `SecretString`.
    ///
    /// ```
    /// use cardadmin_pkcs11::PinSource;
    ///
    /// let path = std::env::temp_dir().join("cardadmin-doc-pin");
    /// std::fs::write(&path, "654321\n")?;
    /// let _pin = PinSource::File(path.clone()).read()?;
    /// std::fs::remove_file(path)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn read(&self) -> Result<AuthPin, PinError> {
        let (mut text, source) = match self {
            Self::Env(var) => match std::env::var(var) {
                Ok(text) => (text, format!("environment variable {var}")),
                Err(std::env::VarError::NotPresent) => {
                    return Err(PinError::EnvMissing { var: var.clone() })
                }
                Err(std::env::VarError::NotUnicode(raw)) => {
                    // OsString has no zeroize; wipe its bytes through the Unix view.
                    #[cfg(unix)]
                    {
                        let mut bytes = std::os::unix::ffi::OsStringExt::into_vec(raw);
                        bytes.zeroize();
                    }
                    #[cfg(not(unix))]
                    drop(raw);
                    return Err(PinError::EnvNotUnicode { var: var.clone() });
                }
            },
            Self::File(path) => match std::fs::read_to_string(path) {
                Ok(text) => (text, format!("file {}", path.display())),
                Err(error) => {
                    return Err(PinError::File {
                        path: path.clone(),
                        error,
                    })
                }
            },
        };
        if text.ends_with('\n') {
            text.pop();
            if text.ends_with('\r') {
                text.pop();
            }
        }
        if text.is_empty() {
            text.zeroize();
            return Err(PinError::Empty { source });
        }
        // Moved, not copied: the only copy is the SecretString, which wipes it on drop.
        Ok(AuthPin::from(text))
    }
}

/// Which key in which token, and how to log in: the server configuration's
/// `{"pkcs11": {"module", "token", "label", "algorithm", "pin_env"}}`.
///
/// ```
/// use cardadmin::Algorithm;
/// use cardadmin_pkcs11::{Pkcs11Config, PinSource};
///
/// let config = Pkcs11Config {
///     module: "/usr/lib/softhsm/libsofthsm2.so".into(),
///     token: "cardadmin".into(),
///     label: "master-aes256".into(),
///     algorithm: Algorithm::Aes256,
///     pin: PinSource::Env("CARDADMIN_TOKEN_PIN".into()),
///     sessions: Some(4),
/// };
/// assert_eq!(config.algorithm.block_len(), 16);
/// ```
#[derive(Clone, Debug)]
pub struct Pkcs11Config {
    /// The PKCS#11 module (shared library) to load.
    pub module: PathBuf,
    /// The token's label (`CKA_LABEL` of the token, as `C_GetTokenInfo` reports it).
    pub token: String,
    /// The master key's `CKA_LABEL`.
    pub label: String,
    /// The master key's algorithm; the key object must match it.
    pub algorithm: Algorithm,
    /// Where the user PIN comes from.
    pub pin: PinSource,
    /// How many sessions to open; `None`: the number of CPUs, at most 16.
    pub sessions: Option<usize>,
}

/// A loaded PKCS#11 module, initialized once per process and shared by every master and
/// ceremony step that names the same path (a second `C_Initialize` would fail, and a
/// `C_Finalize` would end the others' sessions, so it is never finalized).
pub struct Module {
    path: PathBuf,
    pkcs11: Pkcs11,
    raw: raw::RawModule,
}

impl fmt::Debug for Module {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Module").field("path", &self.path).finish()
    }
}

impl Module {
    /// Loads and initializes the module at `path`, or returns the one this process already has.
    ///
    /// ```no_run
    /// let module = cardadmin_pkcs11::Module::load("/usr/lib/softhsm/libsofthsm2.so".as_ref())?;
    /// let _slots = module.pkcs11().get_slots_with_token()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn load(path: &Path) -> Result<Arc<Module>, OpenError> {
        static MODULES: OnceLock<Mutex<Vec<Arc<Module>>>> = OnceLock::new();
        let modules = MODULES.get_or_init(|| Mutex::new(Vec::new()));
        let mut modules = modules
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(module) = modules.iter().find(|m| m.path == path) {
            return Ok(Arc::clone(module));
        }
        let failed = |detail: String| OpenError::Module {
            module: path.to_path_buf(),
            detail,
        };
        if !path.exists() {
            return Err(failed("no such file".into()));
        }
        let pkcs11 = Pkcs11::new(path).map_err(|err| failed(err.to_string()))?;
        match pkcs11.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)) {
            Ok(()) | Err(Pkcs11Error::Pkcs11(RvError::CryptokiAlreadyInitialized, _)) => {}
            Err(err) => return Err(failed(format!("C_Initialize: {err}"))),
        }
        let module = Arc::new(Module {
            path: path.to_path_buf(),
            pkcs11,
            raw: raw::RawModule::new(path.to_path_buf()),
        });
        modules.push(Arc::clone(&module));
        Ok(module)
    }

    /// The `cryptoki` context, for token administration (the ceremony, tests).
    pub fn pkcs11(&self) -> &Pkcs11 {
        &self.pkcs11
    }

    /// The module's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The slot holding the token labelled `token`: exactly one, or
    /// [`OpenError::TokenNotFound`] / [`OpenError::TokenAmbiguous`].
    ///
    /// ```no_run
    /// let module = cardadmin_pkcs11::Module::load("/usr/lib/softhsm/libsofthsm2.so".as_ref())?;
    /// let _slot = module.find_token("cardadmin")?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn find_token(&self, token: &str) -> Result<Slot, OpenError> {
        let step = |error| OpenError::Pkcs11 {
            step: "listing the slots",
            error,
        };
        let mut present = Vec::new();
        let mut found = Vec::new();
        for slot in self.pkcs11.get_slots_with_token().map_err(step)? {
            let info = self.pkcs11.get_token_info(slot).map_err(step)?;
            let label = info.label().trim_end().to_string();
            if label == token {
                found.push(slot);
            }
            present.push(label);
        }
        match found.as_slice() {
            [slot] => Ok(*slot),
            [] => Err(OpenError::TokenNotFound {
                token: token.into(),
                present,
            }),
            many => Err(OpenError::TokenAmbiguous {
                token: token.into(),
                count: many.len(),
            }),
        }
    }

    /// Opens a session on `slot` (read-write for the ceremony) and logs the user in with `pin`,
    /// once: a locked PIN is reported without trying, a refused PIN is never retried.
    ///
    /// ```no_run
    /// use cardadmin_pkcs11::{Module, PinSource};
    ///
    /// let module = Module::load("/usr/lib/softhsm/libsofthsm2.so".as_ref())?;
    /// let slot = module.find_token("cardadmin")?;
    /// let pin = PinSource::Env("CARDADMIN_TOKEN_PIN".into()).read()?;
    /// let _session = module.login(slot, "cardadmin", &pin, false)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn login(
        &self,
        slot: Slot,
        token: &str,
        pin: &AuthPin,
        read_write: bool,
    ) -> Result<Session, OpenError> {
        let info = self
            .pkcs11
            .get_token_info(slot)
            .map_err(|error| OpenError::Pkcs11 {
                step: "reading the token's flags",
                error,
            })?;
        if info.user_pin_locked() {
            return Err(OpenError::PinLocked {
                token: token.into(),
            });
        }
        let session = if read_write {
            self.pkcs11.open_rw_session(slot)
        } else {
            self.pkcs11.open_ro_session(slot)
        }
        .map_err(|error| OpenError::Pkcs11 {
            step: "opening a session",
            error,
        })?;
        match session.login(UserType::User, Some(pin)) {
            // Another master of this process already logged this application in.
            Ok(()) | Err(Pkcs11Error::Pkcs11(RvError::UserAlreadyLoggedIn, _)) => Ok(session),
            Err(Pkcs11Error::Pkcs11(RvError::PinIncorrect, _)) => Err(OpenError::PinIncorrect {
                token: token.into(),
            }),
            Err(Pkcs11Error::Pkcs11(RvError::PinLocked, _)) => Err(OpenError::PinLocked {
                token: token.into(),
            }),
            Err(Pkcs11Error::Pkcs11(
                rv @ (RvError::PinExpired
                | RvError::PinLenRange
                | RvError::PinInvalid
                | RvError::UserPinNotInitialized),
                _,
            )) => Err(OpenError::PinRefused {
                token: token.into(),
                reason: rv_name(rv),
            }),
            Err(error) => Err(OpenError::Pkcs11 {
                step: "C_Login",
                error,
            }),
        }
    }
}

fn rv_name(rv: RvError) -> String {
    match rv {
        RvError::PinExpired => "CKR_PIN_EXPIRED".into(),
        RvError::PinLenRange => "CKR_PIN_LEN_RANGE".into(),
        RvError::PinInvalid => "CKR_PIN_INVALID".into(),
        RvError::UserPinNotInitialized => "CKR_USER_PIN_NOT_INITIALIZED".into(),
        other => format!("{other:?}"),
    }
}

/// The PKCS#11 key type and `CKA_VALUE_LEN` of an algorithm.
fn key_type(algorithm: Algorithm) -> KeyType {
    match algorithm {
        Algorithm::Tdes => KeyType::DES3,
        _ => KeyType::AES,
    }
}

/// The template of a master key object: a token object, private, `CKA_SIGN` true and every
/// other use false (`CKA_VERIFY`, `CKA_ENCRYPT`, `CKA_DECRYPT`, `CKA_WRAP`, `CKA_UNWRAP`,
/// `CKA_DERIVE`), `CKA_SENSITIVE` true, `CKA_EXTRACTABLE` false, and `CKA_MODIFIABLE` and
/// `CKA_COPYABLE` false so no later call widens it. For `C_GenerateKey` (AES keys also get
/// `CKA_VALUE_LEN`); `C_CreateObject` adds `CKA_VALUE`.
///
/// ```
/// use cardadmin::Algorithm;
/// use cryptoki::object::Attribute;
///
/// let template = cardadmin_pkcs11::master_template(Algorithm::Aes128, "master");
/// assert!(template.contains(&Attribute::Sign(true)));
/// assert!(template.contains(&Attribute::Encrypt(false)));
/// assert!(template.contains(&Attribute::Extractable(false)));
/// ```
pub fn master_template(algorithm: Algorithm, label: &str) -> Vec<Attribute> {
    let mut template = vec![
        Attribute::Class(ObjectClass::SECRET_KEY),
        Attribute::KeyType(key_type(algorithm)),
        Attribute::Token(true),
        Attribute::Private(true),
        Attribute::Label(label.as_bytes().to_vec()),
        Attribute::Sign(true),
        Attribute::Verify(false),
        Attribute::Encrypt(false),
        Attribute::Decrypt(false),
        Attribute::Wrap(false),
        Attribute::Unwrap(false),
        Attribute::Derive(false),
        Attribute::Sensitive(true),
        Attribute::Extractable(false),
        Attribute::Modifiable(false),
        Attribute::Copyable(false),
    ];
    if algorithm != Algorithm::Tdes {
        template.push(Attribute::ValueLen((algorithm.key_len() as u64).into()));
    }
    template
}

/// The secret key labelled `label`, exactly one, as the logged-in `session` sees it.
pub(crate) fn find_key(
    session: &Session,
    token: &str,
    label: &str,
) -> Result<ObjectHandle, OpenError> {
    let keys = session
        .find_objects(&[
            Attribute::Class(ObjectClass::SECRET_KEY),
            Attribute::Label(label.as_bytes().to_vec()),
        ])
        .map_err(|error| OpenError::Pkcs11 {
            step: "C_FindObjects",
            error,
        })?;
    match keys.as_slice() {
        [key] => Ok(*key),
        [] => Err(OpenError::KeyNotFound {
            token: token.into(),
            label: label.into(),
        }),
        many => Err(OpenError::KeyAmbiguous {
            token: token.into(),
            label: label.into(),
            count: many.len(),
        }),
    }
}

/// A secret key's algorithm, from `CKA_KEY_TYPE` and `CKA_VALUE_LEN`: `Ok(Some)` for the four
/// this crate knows, `Ok(None)` and a description otherwise.
pub(crate) fn key_algorithm(
    session: &Session,
    key: ObjectHandle,
) -> Result<(Option<Algorithm>, String), Pkcs11Error> {
    let mut kind = None;
    let mut len = None;
    for attribute in
        session.get_attributes(key, &[AttributeType::KeyType, AttributeType::ValueLen])?
    {
        match attribute {
            Attribute::KeyType(t) => kind = Some(t),
            Attribute::ValueLen(l) => len = Some(u64::from(l)),
            _ => {}
        }
    }
    Ok(match (kind, len) {
        (Some(t), _) if t == KeyType::DES3 => (Some(Algorithm::Tdes), "3DES".into()),
        (Some(t), Some(16)) if t == KeyType::AES => (Some(Algorithm::Aes128), "AES-128".into()),
        (Some(t), Some(24)) if t == KeyType::AES => (Some(Algorithm::Aes192), "AES-192".into()),
        (Some(t), Some(32)) if t == KeyType::AES => (Some(Algorithm::Aes256), "AES-256".into()),
        (Some(t), Some(l)) => (None, format!("{t} of {l} bytes")),
        (Some(t), None) => (None, format!("{t}")),
        (None, _) => (None, "a key of unknown type".into()),
    })
}

/// Refuses a key whose type, size or attributes do not fit a master key.
pub(crate) fn check_key(
    session: &Session,
    key: ObjectHandle,
    label: &str,
    algorithm: Algorithm,
) -> Result<(), OpenError> {
    let step = |error| OpenError::Pkcs11 {
        step: "reading the key's attributes",
        error,
    };
    let (found, description) = key_algorithm(session, key).map_err(step)?;
    if found != Some(algorithm) {
        return Err(OpenError::KeyAlgorithm {
            label: label.into(),
            expected: algorithm,
            found: description,
        });
    }
    let required: [(AttributeType, &'static str, bool); 8] = [
        (AttributeType::Sign, "CKA_SIGN", true),
        (AttributeType::Encrypt, "CKA_ENCRYPT", false),
        (AttributeType::Decrypt, "CKA_DECRYPT", false),
        (AttributeType::Wrap, "CKA_WRAP", false),
        (AttributeType::Unwrap, "CKA_UNWRAP", false),
        (AttributeType::Derive, "CKA_DERIVE", false),
        (AttributeType::Sensitive, "CKA_SENSITIVE", true),
        (AttributeType::Extractable, "CKA_EXTRACTABLE", false),
    ];
    let types: Vec<AttributeType> = required.iter().map(|(t, _, _)| *t).collect();
    let values = session.get_attributes(key, &types).map_err(step)?;
    for (kind, name, expected) in required {
        let value = values.iter().find_map(|attribute| match (kind, attribute) {
            (AttributeType::Sign, Attribute::Sign(v))
            | (AttributeType::Encrypt, Attribute::Encrypt(v))
            | (AttributeType::Decrypt, Attribute::Decrypt(v))
            | (AttributeType::Wrap, Attribute::Wrap(v))
            | (AttributeType::Unwrap, Attribute::Unwrap(v))
            | (AttributeType::Derive, Attribute::Derive(v))
            | (AttributeType::Sensitive, Attribute::Sensitive(v))
            | (AttributeType::Extractable, Attribute::Extractable(v)) => Some(*v),
            _ => None,
        });
        if value != Some(expected) {
            return Err(OpenError::KeyPolicy {
                label: label.into(),
                attribute: name,
                found: match value {
                    Some(true) => "true",
                    Some(false) => "false",
                    None => "not reported",
                },
                expected,
            });
        }
    }
    Ok(())
}

/// The name of the CMAC mechanism an algorithm's master needs.
fn cmac_mechanism(algorithm: Algorithm) -> &'static str {
    match algorithm {
        Algorithm::Tdes => "CKM_DES3_CMAC",
        _ => "CKM_AES_CMAC",
    }
}

/// CMAC of `message` under `key` by the token, on a session the caller holds exclusively.
/// Crate-private: the public way in is `CmacSigner`, whose messages only the core builds.
pub(crate) fn session_cmac(
    module: &Module,
    session: &Session,
    key: ObjectHandle,
    algorithm: Algorithm,
    message: &[u8],
    tag: &mut [u8],
) -> Result<(), CmacError> {
    let expected = algorithm.block_len();
    if tag.len() != expected {
        return Err(CmacError::TagLength {
            expected,
            got: tag.len(),
        });
    }
    if algorithm == Algorithm::Tdes {
        let mut block = [0u8; 8];
        let result = raw::des3_cmac(&module.raw, session, key, message, &mut block);
        tag.copy_from_slice(&block);
        block.zeroize();
        return result;
    }
    let mut out = session.sign(&Mechanism::AesCMac, key, message)?;
    let result = if out.len() == expected {
        tag.copy_from_slice(&out);
        Ok(())
    } else {
        Err(CmacError::TagLength {
            expected,
            got: out.len(),
        })
    };
    out.zeroize();
    result
}

/// A diversification master key held in a PKCS#11 token: implements the core's
/// `cardadmin::master::CmacSigner` with the token's CMAC, over a pool of sessions.
///
/// `Debug` shows the token, the label, the algorithm and the check value; the key never
/// leaves the token.
///
/// ```no_run
/// use cardadmin::{master, Algorithm, CardId};
/// use cardadmin_pkcs11::{Pkcs11Config, Pkcs11Master, PinSource};
///
/// let master = Pkcs11Master::open(&Pkcs11Config {
///     module: "/usr/lib/softhsm/libsofthsm2.so".into(),
///     token: "cardadmin".into(),
///     label: "master-aes128".into(),
///     algorithm: Algorithm::Aes128,
///     pin: PinSource::Env("CARDADMIN_TOKEN_PIN".into()),
///     sessions: None,
/// })?;
/// let card: CardId = "bc88f13f-83ba-4037-8262-46eba1291c6e".parse()?;
/// let card_key = master::diversify(&master, &card)?; // the token computes the CMACs
/// println!("card key check value {}", card_key.check_value());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Pkcs11Master {
    module: Arc<Module>,
    sessions: Vec<Mutex<Session>>,
    next: AtomicUsize,
    key: ObjectHandle,
    algorithm: Algorithm,
    token: String,
    label: String,
    check_value: KeyCheckValue,
}

impl fmt::Debug for Pkcs11Master {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pkcs11Master")
            .field("token", &self.token)
            .field("label", &self.label)
            .field("algorithm", &self.algorithm)
            .field("check_value", &self.check_value)
            .field("sessions", &self.sessions.len())
            .finish()
    }
}

impl Pkcs11Master {
    /// Loads the module, finds the token, logs in once, finds and checks the key, opens the
    /// session pool and computes the key's check value (the first CMAC, which proves the
    /// mechanism works). Every failure is a distinct [`OpenError`].
    ///
    /// ```no_run
    /// use cardadmin::Algorithm;
    /// use cardadmin_pkcs11::{OpenError, Pkcs11Config, Pkcs11Master, PinSource};
    ///
    /// let config = Pkcs11Config {
    ///     module: "/usr/lib/softhsm/libsofthsm2.so".into(),
    ///     token: "no such token".into(),
    ///     label: "master".into(),
    ///     algorithm: Algorithm::Tdes,
    ///     pin: PinSource::Env("CARDADMIN_TOKEN_PIN".into()),
    ///     sessions: None,
    /// };
    /// assert!(matches!(Pkcs11Master::open(&config), Err(OpenError::TokenNotFound { .. })));
    /// ```
    pub fn open(config: &Pkcs11Config) -> Result<Self, OpenError> {
        let pin = config.pin.read()?;
        let module = Module::load(&config.module)?;
        let slot = module.find_token(&config.token)?;
        let first = module.login(slot, &config.token, &pin, false)?;
        drop(pin);
        let (key, check_value) = {
            let key = SessionKey::find(
                &module,
                &first,
                &config.token,
                &config.label,
                config.algorithm,
            )?;
            // The first CMAC: proves the token offers the mechanism for this key (cryptoki's
            // C_GetMechanismList drops the mechanisms it has no name for, CKM_DES3_CMAC
            // among them, so the list cannot be asked).
            let check_value = cardadmin::master::check_value(&key).map_err(|err| match err {
                CmacError::Pkcs11(Pkcs11Error::Pkcs11(
                    RvError::MechanismInvalid | RvError::KeyFunctionNotPermitted,
                    _,
                )) => OpenError::Mechanism {
                    token: config.token.clone(),
                    mechanism: cmac_mechanism(config.algorithm),
                },
                other => OpenError::SelfTest(other),
            })?;
            (key.handle(), check_value)
        };
        let count = config
            .sessions
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
            .clamp(1, 16);
        let mut sessions = vec![Mutex::new(first)];
        for _ in 1..count {
            let session =
                module
                    .pkcs11
                    .open_ro_session(slot)
                    .map_err(|error| OpenError::Pkcs11 {
                        step: "opening a session",
                        error,
                    })?;
            sessions.push(Mutex::new(session));
        }
        Ok(Pkcs11Master {
            module,
            sessions,
            next: AtomicUsize::new(0),
            key,
            algorithm: config.algorithm,
            token: config.token.clone(),
            label: config.label.clone(),
            check_value,
        })
    }

    /// The master's algorithm.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// The master's check value, computed by the token at [`open`](Self::open): ANSI
    /// X9.24-1:2017's CMAC method, the first 3 bytes of CMAC(K, 0^block), the same as
    /// `cardadmin::MasterKey::check_value` gives for the same key in memory.
    pub fn check_value(&self) -> KeyCheckValue {
        self.check_value
    }

    /// The token's label.
    pub fn token(&self) -> &str {
        &self.token
    }

    /// The key's label.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// How many sessions the pool holds.
    pub fn sessions(&self) -> usize {
        self.sessions.len()
    }

    /// A free session if there is one (starting from a rotating index), else waits for one.
    fn session(&self) -> Result<MutexGuard<'_, Session>, CmacError> {
        let count = self.sessions.len();
        let start = self.next.fetch_add(1, Ordering::Relaxed) % count;
        for offset in 0..count {
            if let Some(slot) = self.sessions.get((start + offset) % count) {
                match slot.try_lock() {
                    Ok(guard) => return Ok(guard),
                    Err(TryLockError::WouldBlock) => continue,
                    Err(TryLockError::Poisoned(_)) => return Err(CmacError::SessionPoisoned),
                }
            }
        }
        self.sessions
            .get(start)
            .ok_or(CmacError::SessionPoisoned)?
            .lock()
            .map_err(|_| CmacError::SessionPoisoned)
    }

    /// The token's CMAC on one pooled session.
    pub(crate) fn cmac_bytes(&self, message: &[u8], tag: &mut [u8]) -> Result<(), CmacError> {
        let session = self.session()?;
        session_cmac(
            &self.module,
            &session,
            self.key,
            self.algorithm,
            message,
            tag,
        )
    }
}
