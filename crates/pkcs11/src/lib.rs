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
//!   `CKA_SENSITIVE` true, `CKA_EXTRACTABLE` false, `CKA_PRIVATE` true (a public object is
//!   usable by any session, without the PIN), `CKA_MODIFIABLE` and `CKA_COPYABLE` false (no
//!   later `C_SetAttributeValue` or `C_CopyObject` can widen its uses); [`Pkcs11Master::open`]
//!   refuses any other ([`OpenError::KeyPolicy`] names the attribute). Its
//!   `CKA_ALLOWED_MECHANISMS` may list only `CKM_DES3_CMAC` and `CKM_AES_CMAC`
//!   ([`OpenError::KeyMechanisms`]); a key that does not restrict its mechanisms is accepted
//!   with a warning naming `CKA_ALLOWED_MECHANISMS` ([`Pkcs11Master::warnings`]). With
//!   [`Pkcs11Config::check_value`], a key with another check value is refused
//!   ([`OpenError::CheckValueMismatch`]). `CKA_VERIFY` is not checked: verifying a tag tells
//!   nothing a signer could not already compute. The ceremony (`cardadmin-ceremony`) creates
//!   keys with [`master_template`], which also sets `CKA_VERIFY` and `CKA_DESTROYABLE` false
//!   and `CKA_ALLOWED_MECHANISMS` to the one CMAC mechanism of the key's algorithm.
//! - **Sessions.** A PKCS#11 session runs one operation at a time, so the master holds a pool of
//!   read-only sessions (one login: PKCS#11 logs in the application, not the session), each
//!   behind its own mutex; a CMAC takes the first free session, starting from a rotating index,
//!   so concurrent requests do not queue on one session. A session that fails is replaced, not
//!   kept (a poisoned lock, an operation left active, a closed session); when the login or the
//!   key handle is lost, or the token went away, the master reconnects (new session, login with
//!   the PIN it holds, the key found again and accepted only with the same check value), and
//!   as a last resort re-initializes the module, so signing works again without a restart once
//!   the token is back.
//! - **The PIN** comes from an environment variable or a file ([`PinSource`]), never from the
//!   command line; the variable is removed from the environment once read, and a PIN file
//!   readable by group or others gets a warning. The PIN is held in `secrecy`'s `SecretString`
//!   (zeroized on drop) for the master's life (to log in again), never logged, and a refused
//!   PIN is never tried again: a token that refuses it ([`OpenError::PinIncorrect`]), has it
//!   locked ([`OpenError::PinLocked`]) or is missing ([`OpenError::TokenNotFound`]) stops
//!   start-up with a message that says which, as tokens lock after a few wrong PINs.
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
//!     check_value: Some("645B4F".parse()?),
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

// The unit tests of `master.rs` use the integration tests' SoftHSMv2 harness, which names
// this crate by its package name.
#[cfg(test)]
extern crate self as cardadmin_pkcs11;
#[cfg(test)]
#[path = "../tests/common/mod.rs"]
mod test_harness;

mod check_value;
mod error;
mod master;
mod raw;
mod signer;

pub mod ceremony;

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock, RwLock, RwLockReadGuard};
use std::time::{Duration, Instant};

use cardadmin::Algorithm;
use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::error::{Error as Pkcs11Error, RvError};
use cryptoki::mechanism::{Mechanism, MechanismType};
use cryptoki::object::{
    Attribute, AttributeInfo, AttributeType, KeyType, ObjectClass, ObjectHandle,
};
use cryptoki::session::{Session, UserType};
use cryptoki::slot::Slot;
use cryptoki::types::AuthPin;
use cryptoki_sys::{CKA_ALLOWED_MECHANISMS, CKM_AES_CMAC, CKM_DES3_CMAC, CK_MECHANISM_TYPE};
use zeroize::Zeroize;

pub use check_value::{CheckValueFormatError, ExpectedCheckValue};
pub use error::{CmacError, OpenError, PinError};
pub use master::Pkcs11Master;
pub use signer::SessionKey;

/// Where the token's user PIN comes from. Never the command line (other users see argv).
///
/// ```
/// use cardadmin_pkcs11::PinSource;
///
/// std::env::set_var("CARDADMIN_DOC_PIN", "123456");
/// let pin = PinSource::Env("CARDADMIN_DOC_PIN".into()).read()?; // a SecretString
/// assert!(std::env::var_os("CARDADMIN_DOC_PIN").is_none()); // read once, then removed
/// # use cryptoki::types::AuthPin;
/// # let _: AuthPin = pin;
/// # Ok::<(), cardadmin_pkcs11::PinError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum PinSource {
    /// The named environment variable (the configuration's `pin_env`); removed from the
    /// environment once read.
    Env(String),
    /// A file holding the PIN (one trailing line break is dropped).
    File(PathBuf),
}

impl PinSource {
    /// Reads the PIN into a zeroizing `SecretString`.
    ///
    /// From a variable, the variable is removed from this process's environment right after it
    /// is read (whether or not it holds a usable PIN), so no child process inherits it and no
    /// later `getenv` finds it. What this cannot do: `/proc/PID/environ` shows the environment
    /// the process was started with (to the same user and root), which no safe code can wipe;
    /// a PIN file readable by its owner only (`pin_file`) avoids that.
    ///
    /// From a file, a warning goes to standard error when the file may be read by its group or
    /// by others (Unix permission bits).
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
            Self::Env(var) => {
                let value = std::env::var(var);
                if !matches!(value, Err(std::env::VarError::NotPresent)) {
                    // Safe in edition 2021, and called before this process asks the module
                    // (C code that may call getenv from its own threads) for anything new.
                    std::env::remove_var(var);
                }
                match value {
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
                }
            }
            Self::File(path) => {
                if let Some(who) = readable_by_others(path) {
                    eprintln!(
                        "warning: the token PIN file {} is readable by {who}; restrict it to its owner: chmod 600 {}",
                        path.display(),
                        path.display()
                    );
                }
                match std::fs::read_to_string(path) {
                    Ok(text) => (text, format!("file {}", path.display())),
                    Err(error) => {
                        return Err(PinError::File {
                            path: path.clone(),
                            error,
                        })
                    }
                }
            }
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

/// Who besides the owner may read `path` (`group`, `others`, or both, with the mode), from the
/// Unix permission bits; `None` when nobody else may, or when it cannot be told (off Unix).
/// One function for every platform, so that what is tested on Unix is all there is.
fn readable_by_others(path: &Path) -> Option<String> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path).ok()?.permissions().mode();
        let who = match (mode & 0o040 != 0, mode & 0o004 != 0) {
            (true, true) => "its group and others",
            (true, false) => "its group",
            (false, true) => "others",
            (false, false) => return None,
        };
        Some(format!("{who} (mode {:04o})", mode & 0o7777))
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        None
    }
}

/// Which key in which token, and how to log in: the server configuration's
/// `{"pkcs11": {"module", "token", "label", "algorithm", "pin_env", "check_value"}}`.
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
///     check_value: Some("3F2A9C".parse()?),
/// };
/// assert_eq!(config.algorithm.block_len(), 16);
/// # Ok::<(), cardadmin_pkcs11::CheckValueFormatError>(())
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
    /// The check value the key must have (X9.24-1:2017 CMAC method, as the ceremony printed
    /// it): a key with another one is refused ([`OpenError::CheckValueMismatch`]), so a key
    /// put under the same label by someone else is never used silently. `None`: any.
    pub check_value: Option<ExpectedCheckValue>,
}

/// How soon a module may be re-initialized again: a token that stays away is not hammered
/// with `C_Finalize`/`C_Initialize` by every request.
const REINIT_INTERVAL: Duration = Duration::from_secs(1);

/// Which initialization of the module is current: sessions and handles of an earlier one are
/// gone, and their numbers may belong to new ones.
#[derive(Debug)]
pub(crate) struct Generation {
    pub(crate) epoch: u64,
    last_reinit: Option<Instant>,
}

impl Generation {
    /// Whether a re-initialization at `now` would come less than [`REINIT_INTERVAL`] after
    /// the last one. The time is the caller's, so the limit can be shown without waiting.
    fn too_soon(&self, now: Instant) -> bool {
        self.last_reinit
            .is_some_and(|at| now.saturating_duration_since(at) < REINIT_INTERVAL)
    }

    /// `C_Finalize` has run: every session and handle of the current epoch is gone, and the
    /// numbers it handed out may come back for new ones.
    fn end_epoch(&mut self) {
        self.epoch += 1;
    }
}

/// A loaded PKCS#11 module, initialized once per process and shared by every master and
/// ceremony step that names the same path (a second `C_Initialize` would fail, and a
/// `C_Finalize` would end the others' sessions). [`Pkcs11Master`] re-initializes it only to
/// get a token back that went away (SoftHSMv2, for one, never sees a token directory again
/// that disappeared while it was initialized); that ends every session of the module in this
/// process, so a process that re-initializes must use the module through `Pkcs11Master` only
/// (the server does).
pub struct Module {
    path: PathBuf,
    pkcs11: Pkcs11,
    raw: raw::RawModule,
    /// Read-held by every call a `Pkcs11Master` makes, write-held while the module is
    /// re-initialized: PKCS#11 leaves `C_Finalize` undefined while other threads make calls.
    generation: RwLock<Generation>,
}

impl fmt::Debug for Module {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Module").field("path", &self.path).finish()
    }
}

fn initialize(pkcs11: &Pkcs11) -> Result<(), Pkcs11Error> {
    match pkcs11.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)) {
        Ok(()) | Err(Pkcs11Error::Pkcs11(RvError::CryptokiAlreadyInitialized, _)) => Ok(()),
        Err(err) => Err(err),
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
        initialize(&pkcs11).map_err(|err| failed(format!("C_Initialize: {err}")))?;
        let module = Arc::new(Module {
            path: path.to_path_buf(),
            pkcs11,
            raw: raw::RawModule::new(path.to_path_buf()),
            generation: RwLock::new(Generation {
                epoch: 0,
                last_reinit: None,
            }),
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

    /// Holds off re-initialization while the caller uses sessions of the current epoch.
    pub(crate) fn calls(&self) -> RwLockReadGuard<'_, Generation> {
        self.generation
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// `C_Finalize` then `C_Initialize`, once every call in flight has returned, unless the
    /// module moved past epoch `seen` already (another master did it: `Ok(true)`) or was
    /// re-initialized less than [`REINIT_INTERVAL`] ago (`Ok(false)`). `Ok(true)`: a new epoch.
    pub(crate) fn reinitialize(&self, seen: u64) -> Result<bool, OpenError> {
        let mut generation = self
            .generation
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if generation.epoch != seen {
            return Ok(true);
        }
        let now = Instant::now();
        if generation.too_soon(now) {
            return Ok(false);
        }
        generation.last_reinit = Some(now);
        match self.pkcs11.clone().finalize() {
            Ok(()) | Err(Pkcs11Error::Pkcs11(RvError::CryptokiNotInitialized, _)) => {}
            Err(error) => {
                return Err(OpenError::Pkcs11 {
                    step: "C_Finalize",
                    error,
                })
            }
        }
        // Every session and handle of the previous initialization is gone from here on, even
        // if C_Initialize fails (the next attempt then finds the module not initialized).
        generation.end_epoch();
        initialize(&self.pkcs11).map_err(|error| OpenError::Pkcs11 {
            step: "C_Initialize",
            error,
        })?;
        Ok(true)
    }

    /// Where the module looks for its tokens, when it is SoftHSMv2 (by its file name): the
    /// configuration `SOFTHSM2_CONF` names, the usual cause of a token not found.
    fn token_hint(&self) -> Option<String> {
        let name = self.path.file_name()?.to_string_lossy().to_lowercase();
        if !name.contains("softhsm") {
            return None;
        }
        Some(match std::env::var_os("SOFTHSM2_CONF") {
            Some(conf) => format!(
                "SoftHSMv2 reads its token directory from the configuration file SOFTHSM2_CONF names ({}): check that it is the configuration holding this token",
                Path::new(&conf).display()
            ),
            None => "SOFTHSM2_CONF is not set, so SoftHSMv2 reads its default configuration (/etc/softhsm/softhsm2.conf): set SOFTHSM2_CONF to the configuration file whose token directory holds this token".into(),
        })
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
        let mut unreadable = None;
        for slot in self.pkcs11.get_slots_with_token().map_err(step)? {
            // Another token that does not answer (being created by another process, its
            // files gone) does not keep this one from being found.
            let info = match self.pkcs11.get_token_info(slot) {
                Ok(info) => info,
                Err(error) => {
                    unreadable.get_or_insert(error);
                    continue;
                }
            };
            let label = info.label().trim_end().to_string();
            if label == token {
                found.push(slot);
            }
            present.push(label);
        }
        match found.as_slice() {
            [slot] => Ok(*slot),
            // It may be the token that did not answer.
            [] if unreadable.is_some() => {
                Err(unreadable.map(step).unwrap_or(OpenError::TokenNotFound {
                    token: token.into(),
                    present,
                    hint: None,
                }))
            }
            [] => Err(OpenError::TokenNotFound {
                token: token.into(),
                present,
                hint: self.token_hint(),
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
        self.refuse_locked_pin(slot, token)?;
        let session = if read_write {
            self.pkcs11.open_rw_session(slot)
        } else {
            self.pkcs11.open_ro_session(slot)
        }
        .map_err(|error| OpenError::Pkcs11 {
            step: "opening a session",
            error,
        })?;
        log_in(&session, token, pin)?;
        Ok(session)
    }

    /// [`OpenError::PinLocked`] when the token says its user PIN is locked: nothing is tried.
    pub(crate) fn refuse_locked_pin(&self, slot: Slot, token: &str) -> Result<(), OpenError> {
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
        Ok(())
    }
}

/// `C_Login` as the user on `session`, once; "already logged in" (another session of this
/// process logged the application in) is success.
pub(crate) fn log_in(session: &Session, token: &str, pin: &AuthPin) -> Result<(), OpenError> {
    match session.login(UserType::User, Some(pin)) {
        Ok(()) | Err(Pkcs11Error::Pkcs11(RvError::UserAlreadyLoggedIn, _)) => Ok(()),
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

/// The CMAC mechanism of an algorithm's master.
fn cmac_mechanism_type(algorithm: Algorithm) -> CK_MECHANISM_TYPE {
    match algorithm {
        Algorithm::Tdes => CKM_DES3_CMAC,
        _ => CKM_AES_CMAC,
    }
}

/// A `CKA_ALLOWED_MECHANISMS` attribute listing `mechanisms` (`cryptoki_sys::CKM_*` values).
///
/// `cryptoki` 0.12's `Attribute::AllowedMechanisms` holds `MechanismType`s, which cannot be
/// `CKM_DES3_CMAC` (the same gap as its `Mechanism`); its `VendorDefined` attribute passes any
/// attribute type with raw bytes, and the C interface takes exactly this: an array of
/// `CK_MECHANISM_TYPE` in native byte order.
///
/// ```
/// use cryptoki::object::Attribute;
///
/// let attribute = cardadmin_pkcs11::allowed_mechanisms(&[cryptoki_sys::CKM_DES3_CMAC]);
/// assert!(matches!(attribute, Attribute::VendorDefined(_)));
/// ```
pub fn allowed_mechanisms(mechanisms: &[CK_MECHANISM_TYPE]) -> Attribute {
    let bytes = mechanisms.iter().flat_map(|m| m.to_ne_bytes()).collect();
    Attribute::VendorDefined((AttributeType::VendorDefined(CKA_ALLOWED_MECHANISMS), bytes))
}

/// The template of a master key object: a token object, private, `CKA_SIGN` true and every
/// other use false (`CKA_VERIFY`, `CKA_ENCRYPT`, `CKA_DECRYPT`, `CKA_WRAP`, `CKA_UNWRAP`,
/// `CKA_DERIVE`), `CKA_SENSITIVE` true, `CKA_EXTRACTABLE` false, `CKA_MODIFIABLE` and
/// `CKA_COPYABLE` false so no later call widens it, `CKA_DESTROYABLE` false so it cannot be
/// deleted by mistake (only re-initializing the token removes it), and
/// `CKA_ALLOWED_MECHANISMS` the algorithm's CMAC alone (`CKM_DES3_CMAC` or `CKM_AES_CMAC`:
/// with `CKA_SIGN`, `CKM_DES3_MAC` or `CKM_AES_MAC` would encrypt one block). For
/// `C_GenerateKey` (AES keys also get `CKA_VALUE_LEN`); `C_CreateObject` adds `CKA_VALUE`.
/// The last two are what a token may not support; the ceremony then goes without them and
/// says so.
///
/// ```
/// use cardadmin::Algorithm;
/// use cryptoki::object::Attribute;
///
/// let template = cardadmin_pkcs11::master_template(Algorithm::Aes128, "master");
/// assert!(template.contains(&Attribute::Sign(true)));
/// assert!(template.contains(&Attribute::Encrypt(false)));
/// assert!(template.contains(&Attribute::Extractable(false)));
/// assert!(template.contains(&Attribute::Destroyable(false)));
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
        Attribute::Destroyable(false),
        allowed_mechanisms(&[cmac_mechanism_type(algorithm)]),
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

const MAY_ONLY_SIGN: &str =
    "a master key may only sign (CMAC): any other use makes the token an oracle under it";
const SEALED: &str =
    "a master key must be sensitive and never extractable, so its value never leaves the token";

/// The boolean attributes a master key must have, with the value and why.
const REQUIRED: [(AttributeType, &str, bool, &str); 11] = [
    (
        AttributeType::Sign,
        "CKA_SIGN",
        true,
        "a master key computes CMACs, which PKCS#11 calls signing",
    ),
    (AttributeType::Encrypt, "CKA_ENCRYPT", false, MAY_ONLY_SIGN),
    (AttributeType::Decrypt, "CKA_DECRYPT", false, MAY_ONLY_SIGN),
    (AttributeType::Wrap, "CKA_WRAP", false, MAY_ONLY_SIGN),
    (AttributeType::Unwrap, "CKA_UNWRAP", false, MAY_ONLY_SIGN),
    (AttributeType::Derive, "CKA_DERIVE", false, MAY_ONLY_SIGN),
    (AttributeType::Sensitive, "CKA_SENSITIVE", true, SEALED),
    (AttributeType::Extractable, "CKA_EXTRACTABLE", false, SEALED),
    (
        AttributeType::Private,
        "CKA_PRIVATE",
        true,
        "a public key object can be used by any session of the token, without the PIN",
    ),
    (
        AttributeType::Modifiable,
        "CKA_MODIFIABLE",
        false,
        "a modifiable key's uses can be widened later with C_SetAttributeValue",
    ),
    (
        AttributeType::Copyable,
        "CKA_COPYABLE",
        false,
        "a copyable key can be copied with C_CopyObject into an object with wider uses",
    ),
];

/// Refuses a key whose type, size or attributes do not fit a master key; returns warnings
/// about what it accepts but cannot vouch for (a key that does not restrict its mechanisms).
pub(crate) fn check_key(
    module: &Module,
    session: &Session,
    key: ObjectHandle,
    label: &str,
    algorithm: Algorithm,
) -> Result<Vec<String>, OpenError> {
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
    let types: Vec<AttributeType> = REQUIRED.iter().map(|(t, _, _, _)| *t).collect();
    let values = session.get_attributes(key, &types).map_err(step)?;
    for (kind, name, expected, reason) in REQUIRED {
        let value = values.iter().find_map(|attribute| match (kind, attribute) {
            (AttributeType::Sign, Attribute::Sign(v))
            | (AttributeType::Encrypt, Attribute::Encrypt(v))
            | (AttributeType::Decrypt, Attribute::Decrypt(v))
            | (AttributeType::Wrap, Attribute::Wrap(v))
            | (AttributeType::Unwrap, Attribute::Unwrap(v))
            | (AttributeType::Derive, Attribute::Derive(v))
            | (AttributeType::Sensitive, Attribute::Sensitive(v))
            | (AttributeType::Extractable, Attribute::Extractable(v))
            | (AttributeType::Private, Attribute::Private(v))
            | (AttributeType::Modifiable, Attribute::Modifiable(v))
            | (AttributeType::Copyable, Attribute::Copyable(v)) => Some(*v),
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
                reason,
            });
        }
    }
    Ok(check_mechanisms(module, session, key, label, algorithm)?
        .into_iter()
        .collect())
}

/// `CKA_ALLOWED_MECHANISMS`: `Ok(None)` when it lists CMAC mechanisms only, `Ok(Some(warning))`
/// when the key does not restrict its mechanisms (the attribute is absent or empty, which
/// PKCS#11 defines as "any"), an error naming what else it allows.
fn check_mechanisms(
    module: &Module,
    session: &Session,
    key: ObjectHandle,
    label: &str,
    algorithm: Algorithm,
) -> Result<Option<String>, OpenError> {
    let unrestricted = |how: &str| {
        Some(format!(
            "PKCS#11 key {label:?}: CKA_ALLOWED_MECHANISMS is {how}, so the token does not limit the key to CMAC; the key may sign with any mechanism its type allows (for example {}). The ceremony sets it; a key made elsewhere can be re-made with it",
            match algorithm {
                Algorithm::Tdes => "CKM_DES3_MAC, an encryption of one block",
                _ => "CKM_AES_MAC, an encryption of one block",
            }
        ))
    };
    let step = |error| OpenError::Pkcs11 {
        step: "reading the key's CKA_ALLOWED_MECHANISMS",
        error,
    };
    match session.get_attributes(key, &[AttributeType::AllowedMechanisms]) {
        Ok(values) => match values.as_slice() {
            [Attribute::AllowedMechanisms(list)] if list.is_empty() => Ok(unrestricted("empty")),
            [Attribute::AllowedMechanisms(list)] => {
                let others: Vec<String> = list
                    .iter()
                    .filter(|m| **m != MechanismType::AES_CMAC)
                    .map(|m| m.to_string())
                    .collect();
                if others.is_empty() {
                    Ok(None)
                } else {
                    Err(OpenError::KeyMechanisms {
                        label: label.into(),
                        found: others,
                    })
                }
            }
            _ => Ok(unrestricted("not reported by the token")),
        },
        // `cryptoki` cannot name a mechanism in the list (it cannot name CKM_DES3_CMAC). One
        // entry on a 3DES key with which the token computes CKM_DES3_CMAC is that mechanism:
        // the token enforces the list (a token that ignores it gives no protection either
        // way). Anything else cannot be told apart from a list with another mechanism.
        Err(Pkcs11Error::NotSupported) => {
            let entries = match session
                .get_attribute_info(key, &[AttributeType::AllowedMechanisms])
                .map_err(step)?
                .as_slice()
            {
                [AttributeInfo::Available(len)] => len / std::mem::size_of::<CK_MECHANISM_TYPE>(),
                _ => 0,
            };
            let unnamed = |what: String| {
                Err(OpenError::KeyMechanisms {
                    label: label.into(),
                    found: vec![what],
                })
            };
            if entries != 1 || algorithm != Algorithm::Tdes {
                return unnamed(format!(
                    "{entries} mechanisms, not all of which can be named here (only a list of CKM_DES3_CMAC alone, or of mechanisms cryptoki names, can be checked)"
                ));
            }
            let mut tag = [0u8; 8];
            let probe = raw::des3_cmac(&module.raw, session, key, &[0u8; 8], &mut tag);
            tag.zeroize();
            match probe {
                Ok(()) => Ok(None),
                Err(CmacError::Pkcs11(Pkcs11Error::Pkcs11(
                    RvError::MechanismInvalid | RvError::KeyFunctionNotPermitted,
                    _,
                ))) => unnamed("a mechanism other than CKM_DES3_CMAC".into()),
                Err(err) => Err(OpenError::SelfTest(err)),
            }
        }
        Err(error) => Err(step(error)),
    }
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

#[cfg(test)]
mod tests {
    //! The re-initialization limit and the epoch, on their own: a token lost twice within a
    //! second would have to be timed to show them through a master.

    use std::time::Instant;

    use super::{Generation, REINIT_INTERVAL};

    #[test]
    fn a_reinitialization_within_the_interval_is_too_soon() {
        let then = Instant::now();
        let never = Generation {
            epoch: 0,
            last_reinit: None,
        };
        assert!(!never.too_soon(then), "never re-initialized: not too soon");
        let once = Generation {
            epoch: 1,
            last_reinit: Some(then),
        };
        assert!(once.too_soon(then));
        assert!(once.too_soon(then + REINIT_INTERVAL / 2));
        assert!(
            !once.too_soon(then + REINIT_INTERVAL),
            "a whole interval later"
        );
        assert!(!once.too_soon(then + REINIT_INTERVAL * 3));
    }

    #[test]
    fn each_reinitialization_starts_a_new_epoch() {
        let mut generation = Generation {
            epoch: 0,
            last_reinit: None,
        };
        generation.end_epoch();
        assert_eq!(generation.epoch, 1);
        generation.end_epoch();
        assert_eq!(generation.epoch, 2);
    }
}
