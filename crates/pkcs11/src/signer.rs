//! The core's `CmacSigner` for keys in a token: [`Pkcs11Master`] (the server's, over a pool of
//! sessions) and [`SessionKey`] (one key on one session the caller holds: the ceremony, tests).

use cardadmin::master::{CmacMessage, CmacSigner};
use cardadmin::Algorithm;
use cryptoki::object::ObjectHandle;
use cryptoki::session::Session;

use crate::{check_key, find_key, session_cmac, CmacError, Module, OpenError, Pkcs11Master};

impl CmacSigner for Pkcs11Master {
    type Error = CmacError;

    fn algorithm(&self) -> Algorithm {
        Pkcs11Master::algorithm(self)
    }

    fn cmac(&self, message: &CmacMessage, tag: &mut [u8]) -> Result<(), CmacError> {
        self.cmac_bytes(message.as_bytes(), tag)
    }
}

/// One master key in a token, on a logged-in session the caller holds: a `CmacSigner` for the
/// ceremony (check values) and for tests. The server uses [`Pkcs11Master`].
///
/// ```no_run
/// use cardadmin::{master, Algorithm};
/// use cardadmin_pkcs11::{Module, PinSource, SessionKey};
///
/// let module = Module::load("/usr/lib/softhsm/libsofthsm2.so".as_ref())?;
/// let slot = module.find_token("cardadmin")?;
/// let pin = PinSource::Env("CARDADMIN_TOKEN_PIN".into()).read()?;
/// let session = module.login(slot, "cardadmin", &pin, false)?;
/// let key = SessionKey::find(&module, &session, "cardadmin", "master-3des", Algorithm::Tdes)?;
/// println!("{}", master::check_value(&key)?);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct SessionKey<'a> {
    module: &'a Module,
    session: &'a Session,
    key: ObjectHandle,
    algorithm: Algorithm,
}

impl<'a> SessionKey<'a> {
    /// The secret key labelled `label` (exactly one), refused unless it is of `algorithm` and
    /// may only sign (the checks [`Pkcs11Master::open`] makes; its warnings are not kept here).
    pub fn find(
        module: &'a Module,
        session: &'a Session,
        token: &str,
        label: &str,
        algorithm: Algorithm,
    ) -> Result<Self, OpenError> {
        let key = find_key(session, token, label)?;
        check_key(module, session, key, label, algorithm)?;
        Ok(Self {
            module,
            session,
            key,
            algorithm,
        })
    }

    /// A key object already found (`handle`), taken as `algorithm` without the checks of
    /// [`find`](Self::find): for listing keys whose attributes are shown, not trusted.
    pub fn from_handle(
        module: &'a Module,
        session: &'a Session,
        handle: ObjectHandle,
        algorithm: Algorithm,
    ) -> Self {
        Self {
            module,
            session,
            key: handle,
            algorithm,
        }
    }

    /// The key object's handle.
    pub fn handle(&self) -> ObjectHandle {
        self.key
    }
}

impl CmacSigner for SessionKey<'_> {
    type Error = CmacError;

    fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    fn cmac(&self, message: &CmacMessage, tag: &mut [u8]) -> Result<(), CmacError> {
        session_cmac(
            self.module,
            self.session,
            self.key,
            self.algorithm,
            message.as_bytes(),
            tag,
        )
    }
}
