//! SoftHSMv2 for the integration tests: a token store in a temporary directory (through
//! `SOFTHSM2_CONF`, set before the module is first loaded), one fresh token per test (PKCS#11
//! logs in per token and application, so tests on separate tokens do not see each other's
//! login), keys written with known values. The user PIN is in a file readable by its owner
//! only ([`pin_file`]): a PIN variable is removed from the environment once read, so tests
//! running side by side cannot share one.
//!
//! Without `libsofthsm2.so` the tests print why and pass, unless
//! `CARDADMIN_REQUIRE_SOFTHSM=1` (CI's `hsm` stage sets it), which makes absence a failure.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use cardadmin::Algorithm;
use cardadmin_pkcs11::{master_template, Module, PinSource, Pkcs11Config};
use cryptoki::object::{Attribute, ObjectHandle};
use cryptoki::session::UserType;
use cryptoki::types::AuthPin;

pub const USER_PIN: &str = "246810";
pub const SO_PIN: &str = "13579111";

const CANDIDATES: [&str; 3] = [
    "/usr/lib/softhsm/libsofthsm2.so",
    "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
    "/usr/local/lib/softhsm/libsofthsm2.so",
];

pub struct SoftHsm {
    pub path: PathBuf,
    pub module: Arc<Module>,
    /// The token directory of this test process (`directories.tokendir`).
    pub tokens: PathBuf,
    /// A file holding [`USER_PIN`], mode 0600.
    pub pin_file: PathBuf,
}

/// The SoftHSMv2 module with a token directory of this test process, or `None` (after saying
/// why) when it is not installed and CI did not require it.
pub fn softhsm() -> Option<&'static SoftHsm> {
    static SOFTHSM: OnceLock<Option<SoftHsm>> = OnceLock::new();
    SOFTHSM
        .get_or_init(|| {
            let path = std::env::var_os("CARDADMIN_SOFTHSM_MODULE")
                .map(PathBuf::from)
                .or_else(|| CANDIDATES.iter().map(PathBuf::from).find(|p| p.exists()));
            let Some(path) = path.filter(|p| p.exists()) else {
                assert!(
                    std::env::var("CARDADMIN_REQUIRE_SOFTHSM").as_deref() != Ok("1"),
                    "CARDADMIN_REQUIRE_SOFTHSM=1 but libsofthsm2.so was not found (looked in {CANDIDATES:?} and $CARDADMIN_SOFTHSM_MODULE)"
                );
                eprintln!(
                    "SKIPPED: SoftHSMv2 (libsofthsm2.so) is not installed; `apt-get install softhsm2`, or set CARDADMIN_SOFTHSM_MODULE"
                );
                return None;
            };
            sweep_finished_runs();
            let dir = std::env::temp_dir().join(format!(
                "{RUN_PREFIX}{}-{}",
                std::process::id(),
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_nanos())
            ));
            let tokens = dir.join("tokens");
            std::fs::create_dir_all(&tokens).expect("token directory");
            let conf = dir.join("softhsm2.conf");
            std::fs::write(
                &conf,
                format!(
                    "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\n",
                    tokens.display()
                ),
            )
            .expect("softhsm2.conf");
            std::env::set_var("SOFTHSM2_CONF", &conf);
            let pin_file = dir.join("user.pin");
            std::fs::write(&pin_file, USER_PIN).expect("PIN file");
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(&pin_file, std::fs::Permissions::from_mode(0o600))
                    .expect("PIN file mode");
            }
            let module = Module::load(&path).expect("load SoftHSMv2");
            Some(SoftHsm {
                path,
                module,
                tokens,
                pin_file,
            })
        })
        .as_ref()
}

/// The start of a test process's directory name in the temporary directory; the process ID
/// follows.
const RUN_PREFIX: &str = "cardadmin-pkcs11-test-";

/// Removes the token directories of test processes that have ended. A process cannot remove
/// its own (nothing runs after its last test, and a static is never dropped), and under
/// nextest every test is a process: without this, each run left dozens behind.
fn sweep_finished_runs() {
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|name| name.strip_prefix(RUN_PREFIX))
            .and_then(|rest| rest.split('-').next())
            .and_then(|pid| pid.parse::<u32>().ok())
        else {
            continue;
        };
        // Linux's /proc says whether the process still runs; elsewhere nothing is removed.
        if Path::new("/proc/self").exists() && !Path::new(&format!("/proc/{pid}")).exists() {
            // Another process may be sweeping it too: whichever comes second finds less.
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

static TOKENS: Mutex<()> = Mutex::new(());

/// Held while a token is created, and by tests that run a process of their own on the token
/// directory (SoftHSMv2 there would read a token half written).
pub fn token_lock() -> std::sync::MutexGuard<'static, ()> {
    TOKENS.lock().unwrap_or_else(|p| p.into_inner())
}

/// Initializes a new token labelled `label` with the user PIN [`USER_PIN`].
pub fn new_token(hsm: &SoftHsm, label: &str) {
    let _guard = token_lock();
    let slot = init_token(hsm, label);
    let pkcs11 = hsm.module.pkcs11();
    let so_pin = AuthPin::from(SO_PIN);
    let session = pkcs11.open_rw_session(slot).expect("session");
    session
        .login(UserType::So, Some(&so_pin))
        .expect("SO login");
    session
        .init_pin(&AuthPin::from(USER_PIN))
        .expect("C_InitPIN");
    session.logout().expect("logout");
}

/// Initializes a new token labelled `label` whose user PIN is never set.
pub fn new_token_without_user_pin(hsm: &SoftHsm, label: &str) {
    let _guard = token_lock();
    init_token(hsm, label);
}

/// `C_InitToken` on a free slot (the caller holds [`token_lock`]); the token's slot.
fn init_token(hsm: &SoftHsm, label: &str) -> cryptoki::slot::Slot {
    let pkcs11 = hsm.module.pkcs11();
    let free = pkcs11
        .get_all_slots()
        .expect("slots")
        .into_iter()
        .find(|slot| {
            pkcs11
                .get_token_info(*slot)
                .map(|info| !info.token_initialized())
                .unwrap_or(false)
        })
        .expect("SoftHSMv2 always offers a free slot");
    let so_pin = AuthPin::from(SO_PIN);
    pkcs11
        .init_token(free, &so_pin, label)
        .expect("C_InitToken");
    hsm.module.find_token(label).expect("the new token")
}

/// Writes a secret key with a known value into `token` (user login), with `template`'s
/// attributes plus `CKA_VALUE`: another client's way to put a key there.
pub fn write_key(
    hsm: &SoftHsm,
    token: &str,
    mut template: Vec<Attribute>,
    value: &[u8],
) -> ObjectHandle {
    let slot = hsm.module.find_token(token).expect("token");
    let session = hsm.module.pkcs11().open_rw_session(slot).expect("session");
    match session.login(UserType::User, Some(&AuthPin::from(USER_PIN))) {
        Ok(())
        | Err(cryptoki::error::Error::Pkcs11(cryptoki::error::RvError::UserAlreadyLoggedIn, _)) => {
        }
        Err(err) => panic!("user login: {err}"),
    }
    template.retain(|a| !matches!(a, Attribute::ValueLen(_)));
    template.push(Attribute::Value(value.to_vec()));
    session.create_object(&template).expect("C_CreateObject")
}

/// Writes a master key (the ceremony's template) with a known value.
pub fn write_master(hsm: &SoftHsm, token: &str, label: &str, algorithm: Algorithm, value: &[u8]) {
    write_key(hsm, token, master_template(algorithm, label), value);
}

pub fn config(hsm: &SoftHsm, token: &str, label: &str, algorithm: Algorithm) -> Pkcs11Config {
    Pkcs11Config {
        module: hsm.path.clone(),
        token: token.into(),
        label: label.into(),
        algorithm,
        pin: PinSource::File(hsm.pin_file.clone()),
        sessions: Some(4),
        check_value: None,
    }
}

/// The user PIN, for tests that log in themselves.
pub fn pin() -> AuthPin {
    AuthPin::from(USER_PIN)
}

/// How SoftHSMv2's file back end stores a token's flags in its `token.object`: the attribute
/// type `CKA_OS_TOKENFLAGS` (vendor-defined, `0x8000534B`) and the kind "unsigned long" (2),
/// each 8 bytes big-endian, then the flags, 8 bytes too.
const STORED_TOKEN_FLAGS: [u8; 16] = [0, 0, 0, 0, 0x80, 0, 0x53, 0x4b, 0, 0, 0, 0, 0, 0, 0, 2];

/// `CKF_USER_PIN_LOCKED`.
const USER_PIN_LOCKED: u64 = 0x0004_0000;

/// Edits the token's `token.object` where its flags are stored (`edit` gets the file and the
/// offset of [`STORED_TOKEN_FLAGS`]) and advances the file's generation (its first 8 bytes),
/// so the loaded module reads the file again at its next use of the token.
fn edit_stored_flags(hsm: &SoftHsm, label: &str, edit: impl FnOnce(&mut [u8], usize)) {
    let _guard = token_lock();
    let path = token_dir(hsm, label).join("token.object");
    let mut bytes = std::fs::read(&path).expect("token.object");
    let at = bytes
        .windows(STORED_TOKEN_FLAGS.len())
        .position(|window| window == STORED_TOKEN_FLAGS)
        .expect("the token's flags in token.object");
    edit(&mut bytes, at);
    let generation = u64::from_be_bytes(bytes[..8].try_into().unwrap());
    bytes[..8].copy_from_slice(&(generation + 1).to_be_bytes());
    std::fs::write(&path, bytes).expect("token.object written");
}

/// Makes the token say its user PIN is locked (`CKF_USER_PIN_LOCKED` in `C_GetTokenInfo`),
/// which SoftHSMv2 itself never does; its `C_Login` still takes the right PIN.
pub fn lock_user_pin(hsm: &SoftHsm, label: &str) {
    edit_stored_flags(hsm, label, |bytes, at| {
        let value = at + STORED_TOKEN_FLAGS.len();
        let flags = u64::from_be_bytes(bytes[value..value + 8].try_into().unwrap());
        bytes[value..value + 8].copy_from_slice(&(flags | USER_PIN_LOCKED).to_be_bytes());
    });
}

/// Makes the token unable to answer `C_GetTokenInfo` (`CKR_GENERAL_ERROR`), as SoftHSMv2 does
/// for a token whose flags it cannot read: the flags attribute gets another vendor-defined
/// type. Its label cannot be read then either.
pub fn hide_token_flags(hsm: &SoftHsm, label: &str) {
    edit_stored_flags(hsm, label, |bytes, at| bytes[at + 7] = 0x7f);
}

/// The directory SoftHSMv2 keeps the token labelled `label` in (the one whose `token.object`
/// holds the label).
pub fn token_dir(hsm: &SoftHsm, label: &str) -> PathBuf {
    std::fs::read_dir(&hsm.tokens)
        .expect("token directory")
        .map(|entry| entry.expect("entry").path())
        .find(|dir| {
            std::fs::read(dir.join("token.object"))
                .map(|bytes| {
                    let mut padded = label.as_bytes().to_vec();
                    padded.resize(32, b' ');
                    bytes.windows(32).any(|w| w == padded.as_slice())
                })
                .unwrap_or(false)
        })
        .expect("the token's directory")
}
