//! [`Pkcs11Master`]: the server's master key in a token, over a pool of sessions that heals.
//!
//! What can go wrong under a running server, and what happens:
//!
//! - **A session is left unusable** (a panic poisoned its lock, an operation was left active,
//!   the session was closed): any PKCS#11 error on a session retires it (closed, not kept) and
//!   a new one is opened for the next CMAC.
//! - **The login or the key handle is lost** (`C_Logout`, every session closed, the token's
//!   objects reloaded): the CMAC fails with `CKR_USER_NOT_LOGGED_IN`, `CKR_OBJECT_HANDLE_INVALID`
//!   or the like; the master reconnects (finds the token, opens a session, logs in with the PIN
//!   it holds, finds the key by label, checks its attributes) and accepts the key only with the
//!   check value it had at start-up, then tries the CMAC once more.
//! - **The token went away and came back**: reconnecting fails at the token; the module is then
//!   re-initialized (`C_Finalize`, `C_Initialize`; at most once per second) and the master
//!   reconnects. Meanwhile each CMAC fails with an error that says so.
//! - **The PIN is refused when logging in again**: it is never tried again (tokens lock after a
//!   few wrong PINs); every CMAC then fails with [`CmacError::LoginRefused`] until a restart.

use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, TryLockError};

use cardadmin::{Algorithm, KeyCheckValue};
use cryptoki::error::{Error as Pkcs11Error, RvError};
use cryptoki::object::ObjectHandle;
use cryptoki::session::Session;
use cryptoki::slot::Slot;
use cryptoki::types::AuthPin;

use crate::{
    check_key, cmac_mechanism, find_key, log_in, session_cmac, CmacError, Module, OpenError,
    Pkcs11Config, SessionKey,
};

/// Where the key is, as of which initialization of the module.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Link {
    slot: Slot,
    key: ObjectHandle,
    epoch: u64,
}

#[derive(Debug)]
struct LinkState {
    link: Link,
    /// The token refused the PIN on a login after start-up: never tried again.
    login_refused: bool,
}

/// A pooled session, opened without close-on-drop: dropping it never closes a handle that a
/// re-initialization may have handed to a new session. [`Pooled::retire`] closes it when it
/// belongs to the current initialization.
#[derive(Debug)]
struct Pooled {
    session: Session,
    slot: Slot,
    epoch: u64,
}

impl Pooled {
    fn open(module: &Module, slot: Slot, epoch: u64) -> Result<Self, Pkcs11Error> {
        let session = module.pkcs11.open_ro_session_no_drop(slot)?;
        Ok(Self {
            session,
            slot,
            epoch,
        })
    }

    /// Whether this session is of another initialization of the module than `epoch`, or on
    /// another slot than `slot`: its handle may then name somebody else's session.
    fn is_outdated(&self, epoch: u64, slot: Slot) -> bool {
        self.epoch != epoch || self.slot != slot
    }

    /// Closes the session if it is of epoch `current` (the caller holds `Module::calls`), else
    /// forgets it: the module that opened it is gone, and so is the session.
    fn retire(self, current: u64) {
        if self.epoch == current {
            // A session that is already gone cannot be closed; nothing else to do about it.
            let _ = self.session.close();
        }
    }
}

/// Why recovering failed: the error, or the PIN refused earlier.
enum Recovery {
    Failed(OpenError),
    LoginRefused,
}

/// One CMAC attempt's failure: a PKCS#11 error (the session was retired; reconnecting may
/// help), the module moved to a new epoch (reconnect), or another error (returned as is).
enum Attempt {
    Pkcs11(CmacError),
    Stale,
    Other(CmacError),
}

/// A diversification master key held in a PKCS#11 token: implements the core's
/// `cardadmin::master::CmacSigner` with the token's CMAC, over a pool of sessions that are
/// replaced when they fail (see the module documentation of `master.rs`, and the crate's
/// README, for what is recovered and how).
///
/// `Debug` shows the token, the label, the algorithm and the check value; the key never
/// leaves the token, and the PIN (held to log in again) is never shown.
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
///     check_value: None,
/// })?;
/// let card: CardId = "bc88f13f-83ba-4037-8262-46eba1291c6e".parse()?;
/// let card_key = master::diversify(&master, &card)?; // the token computes the CMACs
/// println!("card key check value {}", card_key.check_value());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Pkcs11Master {
    module: Arc<Module>,
    sessions: Vec<Mutex<Option<Pooled>>>,
    next: AtomicUsize,
    link: Mutex<LinkState>,
    pin: AuthPin,
    algorithm: Algorithm,
    token: String,
    label: String,
    check_value: KeyCheckValue,
    warnings: Vec<String>,
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

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The token's check value of `key`, the first CMAC: it also proves the token offers the
/// mechanism for this key (cryptoki's C_GetMechanismList drops the mechanisms it has no name
/// for, CKM_DES3_CMAC among them, so the list cannot be asked).
fn token_check_value(
    module: &Module,
    session: &Session,
    key: ObjectHandle,
    token: &str,
    algorithm: Algorithm,
) -> Result<KeyCheckValue, OpenError> {
    let signer = SessionKey::from_handle(module, session, key, algorithm);
    cardadmin::master::check_value(&signer).map_err(|err| match err {
        CmacError::Pkcs11(Pkcs11Error::Pkcs11(
            RvError::MechanismInvalid | RvError::KeyFunctionNotPermitted,
            _,
        )) => OpenError::Mechanism {
            token: token.into(),
            mechanism: cmac_mechanism(algorithm),
        },
        other => OpenError::SelfTest(other),
    })
}

impl Pkcs11Master {
    /// Reads the PIN, loads the module, finds the token, logs in once, finds and checks the
    /// key, computes its check value (the first CMAC, which proves the mechanism works),
    /// compares it with [`Pkcs11Config::check_value`] if given, and opens the session pool.
    /// Every failure is a distinct [`OpenError`]; warnings (a key that does not restrict its
    /// mechanisms) go to standard error and to [`warnings`](Self::warnings).
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
    ///     check_value: None,
    /// };
    /// assert!(matches!(Pkcs11Master::open(&config), Err(OpenError::TokenNotFound { .. })));
    /// ```
    pub fn open(config: &Pkcs11Config) -> Result<Self, OpenError> {
        let pin = config.pin.read()?;
        let module = Module::load(&config.module)?;
        let calls = module.calls();
        let epoch = calls.epoch;
        let slot = module.find_token(&config.token)?;
        module.refuse_locked_pin(slot, &config.token)?;
        let first = Pooled::open(&module, slot, epoch).map_err(|error| OpenError::Pkcs11 {
            step: "opening a session",
            error,
        })?;
        let checked = (|| {
            log_in(&first.session, &config.token, &pin)?;
            let key = find_key(&first.session, &config.token, &config.label)?;
            let warnings = check_key(
                &module,
                &first.session,
                key,
                &config.label,
                config.algorithm,
            )?;
            let check_value = token_check_value(
                &module,
                &first.session,
                key,
                &config.token,
                config.algorithm,
            )?;
            if let Some(expected) = config.check_value {
                if !expected.matches(&check_value) {
                    return Err(OpenError::CheckValueMismatch {
                        label: config.label.clone(),
                        expected,
                        found: check_value,
                    });
                }
            }
            Ok((key, warnings, check_value))
        })();
        let (key, warnings, check_value) = match checked {
            Ok(checked) => checked,
            Err(err) => {
                first.retire(epoch);
                return Err(err);
            }
        };
        let count = config
            .sessions
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
            .clamp(1, 16);
        let mut sessions = vec![Mutex::new(Some(first))];
        for _ in 1..count {
            match Pooled::open(&module, slot, epoch) {
                Ok(session) => sessions.push(Mutex::new(Some(session))),
                Err(error) => {
                    for session in sessions {
                        if let Some(session) =
                            session.into_inner().unwrap_or_else(PoisonError::into_inner)
                        {
                            session.retire(epoch);
                        }
                    }
                    return Err(OpenError::Pkcs11 {
                        step: "opening a session",
                        error,
                    });
                }
            }
        }
        drop(calls);
        for warning in &warnings {
            eprintln!("warning: {warning}");
        }
        Ok(Pkcs11Master {
            module,
            sessions,
            next: AtomicUsize::new(0),
            link: Mutex::new(LinkState {
                link: Link { slot, key, epoch },
                login_refused: false,
            }),
            pin,
            algorithm: config.algorithm,
            token: config.token.clone(),
            label: config.label.clone(),
            check_value,
            warnings,
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

    /// What [`open`](Self::open) accepted but warned about (each also printed to standard
    /// error): a key whose `CKA_ALLOWED_MECHANISMS` does not restrict it to CMAC.
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// A free pool entry if there is one (starting from a rotating index), else waits for one.
    /// An entry whose lock a panic poisoned is emptied (its session retired) and used.
    fn session(&self) -> Result<MutexGuard<'_, Option<Pooled>>, CmacError> {
        let count = self.sessions.len();
        let start = self.next.fetch_add(1, Ordering::Relaxed) % count.max(1);
        for offset in 0..count {
            if let Some(entry) = self.sessions.get((start + offset) % count) {
                match entry.try_lock() {
                    Ok(guard) => return Ok(guard),
                    Err(TryLockError::WouldBlock) => continue,
                    Err(TryLockError::Poisoned(poisoned)) => {
                        return Ok(self.unpoison(entry, poisoned.into_inner()))
                    }
                }
            }
        }
        let entry = self.sessions.get(start).ok_or(CmacError::SessionPoisoned)?;
        Ok(match entry.lock() {
            Ok(guard) => guard,
            Err(poisoned) => self.unpoison(entry, poisoned.into_inner()),
        })
    }

    /// A panic left this entry's session mid-call, perhaps with an operation active: the
    /// session is retired, not kept; the next CMAC opens a new one.
    fn unpoison<'a>(
        &self,
        entry: &'a Mutex<Option<Pooled>>,
        mut guard: MutexGuard<'a, Option<Pooled>>,
    ) -> MutexGuard<'a, Option<Pooled>> {
        if let Some(session) = guard.take() {
            session.retire(self.module.calls().epoch);
        }
        entry.clear_poison();
        guard
    }

    fn current_link(&self) -> Result<Link, CmacError> {
        let state = lock(&self.link);
        if state.login_refused {
            return Err(CmacError::LoginRefused {
                token: self.token.clone(),
            });
        }
        Ok(state.link)
    }

    /// One CMAC on `pooled` (opened first if empty, or replaced if of another epoch or slot).
    fn attempt(
        &self,
        pooled: &mut Option<Pooled>,
        link: Link,
        message: &[u8],
        tag: &mut [u8],
    ) -> Result<(), Attempt> {
        let calls = self.module.calls();
        if pooled
            .as_ref()
            .is_some_and(|p| p.is_outdated(calls.epoch, link.slot))
        {
            if let Some(old) = pooled.take() {
                old.retire(calls.epoch);
            }
        }
        if calls.epoch != link.epoch {
            return Err(Attempt::Stale);
        }
        let session = match pooled {
            Some(session) => session,
            None => pooled.insert(
                Pooled::open(&self.module, link.slot, calls.epoch)
                    .map_err(|error| Attempt::Pkcs11(CmacError::Pkcs11(error)))?,
            ),
        };
        match session_cmac(
            &self.module,
            &session.session,
            link.key,
            self.algorithm,
            message,
            tag,
        ) {
            Ok(()) => Ok(()),
            Err(err @ CmacError::Pkcs11(_)) => {
                if let Some(failed) = pooled.take() {
                    failed.retire(calls.epoch);
                }
                Err(Attempt::Pkcs11(err))
            }
            Err(err) => Err(Attempt::Other(err)),
        }
    }

    /// The token's CMAC on one pooled session; after a PKCS#11 error (or a module
    /// re-initialized under it), reconnects and tries once more.
    pub(crate) fn cmac_bytes(&self, message: &[u8], tag: &mut [u8]) -> Result<(), CmacError> {
        let mut pooled = self.session()?;
        let link = self.current_link()?;
        let first = match self.attempt(&mut pooled, link, message, tag) {
            Ok(()) => return Ok(()),
            Err(Attempt::Other(err)) => return Err(err),
            Err(Attempt::Pkcs11(err)) => Some(err),
            Err(Attempt::Stale) => None,
        };
        match self.recover(link, &mut pooled) {
            Ok(()) => {}
            Err(Recovery::LoginRefused) => {
                return Err(CmacError::LoginRefused {
                    token: self.token.clone(),
                })
            }
            Err(Recovery::Failed(reconnect)) => {
                return Err(CmacError::Reconnect {
                    first: first.map(Box::new),
                    reconnect: Box::new(reconnect),
                })
            }
        }
        let link = self.current_link()?;
        match self.attempt(&mut pooled, link, message, tag) {
            Ok(()) => Ok(()),
            Err(Attempt::Pkcs11(err) | Attempt::Other(err)) => Err(err),
            Err(Attempt::Stale) => Err(CmacError::Reinitialized),
        }
    }

    /// Reconnects unless another thread did since `failed` was read; re-initializes the module
    /// when the token itself cannot be reached. The new, logged-in session goes to `pooled`
    /// (closing it could end the only login of this application on the token).
    fn recover(&self, failed: Link, pooled: &mut Option<Pooled>) -> Result<(), Recovery> {
        let mut state = lock(&self.link);
        if state.login_refused {
            return Err(Recovery::LoginRefused);
        }
        if state.link != failed {
            return Ok(());
        }
        let (err, epoch) = match self.reconnect(&mut state, pooled) {
            Ok(()) => return Ok(()),
            Err(failure) => failure,
        };
        if !matches!(
            err,
            OpenError::TokenNotFound { .. } | OpenError::Pkcs11 { .. }
        ) {
            return Err(Recovery::Failed(err));
        }
        match self.module.reinitialize(epoch) {
            Ok(true) => self
                .reconnect(&mut state, pooled)
                .map_err(|(err, _)| Recovery::Failed(err)),
            Ok(false) => Err(Recovery::Failed(err)),
            Err(reinit) => Err(Recovery::Failed(reinit)),
        }
    }

    /// A new session on the token found again, logged in, with the key found again, checked,
    /// and carrying the start-up check value; on failure, the error and the epoch it ran in.
    fn reconnect(
        &self,
        state: &mut LinkState,
        pooled: &mut Option<Pooled>,
    ) -> Result<(), (OpenError, u64)> {
        let calls = self.module.calls();
        let epoch = calls.epoch;
        let failed = |err| (err, epoch);
        let slot = self.module.find_token(&self.token).map_err(failed)?;
        self.module
            .refuse_locked_pin(slot, &self.token)
            .map_err(failed)?;
        let session = Pooled::open(&self.module, slot, epoch).map_err(|error| {
            failed(OpenError::Pkcs11 {
                step: "opening a session",
                error,
            })
        })?;
        let found = (|| {
            log_in(&session.session, &self.token, &self.pin)?;
            let key = find_key(&session.session, &self.token, &self.label)?;
            check_key(
                &self.module,
                &session.session,
                key,
                &self.label,
                self.algorithm,
            )?;
            let check_value = token_check_value(
                &self.module,
                &session.session,
                key,
                &self.token,
                self.algorithm,
            )?;
            if check_value != self.check_value {
                return Err(OpenError::KeyReplaced {
                    label: self.label.clone(),
                    expected: self.check_value,
                    found: check_value,
                });
            }
            Ok(key)
        })();
        match found {
            Ok(key) => {
                state.link = Link { slot, key, epoch };
                if let Some(old) = pooled.replace(session) {
                    old.retire(epoch);
                }
                Ok(())
            }
            Err(err) => {
                if matches!(
                    err,
                    OpenError::PinIncorrect { .. }
                        | OpenError::PinLocked { .. }
                        | OpenError::PinRefused { .. }
                ) {
                    state.login_refused = true;
                }
                session.retire(epoch);
                Err(failed(err))
            }
        }
    }
}

impl Drop for Pkcs11Master {
    fn drop(&mut self) {
        let calls = self.module.calls();
        for entry in self.sessions.drain(..) {
            if let Some(session) = entry.into_inner().unwrap_or_else(PoisonError::into_inner) {
                session.retire(calls.epoch);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    //! What only the pool's insides can set up: a poisoned entry, an operation left active.

    use crate::test_harness as common;
    use cardadmin::{master, Algorithm, MasterKey};
    use cryptoki::mechanism::Mechanism;

    use super::Pkcs11Master;

    const AES_KEY: [u8; 16] = *b"\x2b\x7e\x15\x16\x28\xae\xd2\xa6\xab\xf7\x15\x88\x09\xcf\x4f\x3c";

    fn one_session_master(token: &str) -> Option<Pkcs11Master> {
        let hsm = common::softhsm()?;
        common::new_token(hsm, token);
        common::write_master(hsm, token, "master", Algorithm::Aes128, &AES_KEY);
        let mut config = common::config(hsm, token, "master", Algorithm::Aes128);
        config.sessions = Some(1);
        Some(Pkcs11Master::open(&config).expect("open"))
    }

    fn expected() -> cardadmin::KeyCheckValue {
        MasterKey::new(Algorithm::Aes128, &AES_KEY)
            .unwrap()
            .check_value()
    }

    /// Every entry of the pool is tried before waiting: with all but one busy, a CMAC gets the
    /// free one, whichever it is, at once.
    #[test]
    fn a_free_session_is_taken_while_the_others_are_busy() {
        let Some(hsm) = common::softhsm() else { return };
        common::new_token(hsm, "busy");
        common::write_master(hsm, "busy", "master", Algorithm::Aes128, &AES_KEY);
        let mut config = common::config(hsm, "busy", "master", Algorithm::Aes128);
        config.sessions = Some(4);
        let token = Pkcs11Master::open(&config).expect("open");
        for free in 0..token.sessions.len() {
            let handle = |index: usize| {
                token.sessions[index]
                    .lock()
                    .unwrap()
                    .as_ref()
                    .unwrap()
                    .session
                    .handle()
            };
            let expected = handle(free);
            let busy: Vec<_> = (0..token.sessions.len())
                .filter(|&index| index != free)
                .map(|index| token.sessions[index].lock().unwrap())
                .collect();
            // The rotating index starts at a busy entry: the free one must be looked for.
            token.next.store(
                (free + 1) % token.sessions.len(),
                std::sync::atomic::Ordering::Relaxed,
            );
            let (sender, receiver) = std::sync::mpsc::channel();
            let got = std::thread::scope(|scope| {
                scope.spawn(|| {
                    let guard = token.session().unwrap();
                    let _ = sender.send(guard.as_ref().unwrap().session.handle());
                });
                let got = receiver.recv_timeout(std::time::Duration::from_secs(5));
                // Let a waiting thread finish either way.
                drop(busy);
                got
            });
            assert_eq!(got.ok(), Some(expected), "entry {free} was free");
        }
    }

    #[test]
    fn a_poisoned_session_is_replaced() {
        let Some(token) = one_session_master("poisoned") else {
            return;
        };
        let before = token.sessions[0]
            .lock()
            .unwrap()
            .as_ref()
            .unwrap()
            .session
            .handle();
        let entry = &token.sessions[0];
        let panicked = std::thread::scope(|scope| {
            scope
                .spawn(|| {
                    let _held = entry.lock().unwrap();
                    panic!("a request panics while it holds the session");
                })
                .join()
        });
        assert!(panicked.is_err());
        assert!(entry.is_poisoned());
        assert_eq!(master::check_value(&token).unwrap(), expected());
        assert!(!entry.is_poisoned());
        let after = entry.lock().unwrap().as_ref().unwrap().session.handle();
        assert_ne!(before, after, "the poisoned entry's session was kept");
    }

    #[test]
    fn a_session_with_an_operation_left_active_is_replaced() {
        let Some(token) = one_session_master("left-active") else {
            return;
        };
        let key = token.link.lock().unwrap().link.key;
        let before = {
            let guard = token.sessions[0].lock().unwrap();
            let pooled = guard.as_ref().unwrap();
            // C_SignInit with no C_Sign: the session's one operation stays active.
            pooled.session.sign_init(&Mechanism::AesCMac, key).unwrap();
            pooled.session.handle()
        };
        assert_eq!(master::check_value(&token).unwrap(), expected());
        let after = token.sessions[0]
            .lock()
            .unwrap()
            .as_ref()
            .unwrap()
            .session
            .handle();
        assert_ne!(
            before, after,
            "the session with an active operation was kept"
        );
        assert_eq!(master::check_value(&token).unwrap(), expected());
    }

    /// A pooled session is current only for the epoch and the slot it was opened in: after a
    /// re-initialization its handle's number may belong to a new session, and after the token
    /// moved to another slot it is on the wrong token.
    #[test]
    fn a_session_of_another_epoch_or_slot_is_outdated() {
        let Some(token) = one_session_master("outdated") else {
            return;
        };
        let guard = token.sessions[0].lock().unwrap();
        let pooled = guard.as_ref().unwrap();
        let (epoch, slot) = (pooled.epoch, pooled.slot);
        let other_slot = cryptoki::slot::Slot::try_from(slot.id() + 1).unwrap();
        assert!(!pooled.is_outdated(epoch, slot));
        assert!(pooled.is_outdated(epoch + 1, slot), "another epoch");
        assert!(pooled.is_outdated(epoch, other_slot), "another slot");
        assert!(pooled.is_outdated(epoch + 1, other_slot));
    }
}
