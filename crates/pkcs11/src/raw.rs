//! `CKM_DES3_CMAC`: the one mechanism `cryptoki` 0.12 has no [`Mechanism`] variant for (its
//! `VendorDefined` escape only takes values at or above `CKM_VENDOR_DEFINED`, and
//! `MechanismType`'s conversion does not know 0x138), called through `cryptoki-sys`.
//!
//! This file holds the only `unsafe` code of the workspace, in one function,
//! [`des3_cmac`]. `cryptoki` keeps its function list private, so the module is opened a second
//! time through `cryptoki-sys`'s loader: the dynamic loader hands back the same, already
//! initialized library (`dlopen` counts references), so the session and object handles
//! `cryptoki` obtained are valid for its `C_SignInit` and `C_Sign`.
//!
//! [`Mechanism`]: cryptoki::mechanism::Mechanism

use std::path::PathBuf;
use std::sync::OnceLock;

use cryptoki::context::Function;
use cryptoki::error::Rv;
use cryptoki::object::ObjectHandle;
use cryptoki::session::Session;
use cryptoki_sys::{CKM_DES3_CMAC, CK_MECHANISM, CK_ULONG};

use crate::CmacError;

/// The module's raw `C_SignInit` and `C_Sign`, loaded at the first use.
pub(crate) struct RawModule {
    module: PathBuf,
    library: OnceLock<Result<cryptoki_sys::Pkcs11, String>>,
}

impl RawModule {
    pub(crate) fn new(module: PathBuf) -> Self {
        Self {
            module,
            library: OnceLock::new(),
        }
    }
}

/// Writes `CKM_DES3_CMAC` (the full 8-byte tag) of `message` under `key` into `tag`, on
/// `session` (which the caller holds exclusively: a `Session` is not `Sync`).
#[allow(unsafe_code)]
pub(crate) fn des3_cmac(
    raw: &RawModule,
    session: &Session,
    key: ObjectHandle,
    message: &[u8],
    tag: &mut [u8; 8],
) -> Result<(), CmacError> {
    let library = raw
        .library
        .get_or_init(|| {
            // SAFETY: loading a shared library runs its initializers. This is the same module
            // file `cryptoki::Pkcs11::new` already loaded and initialized (the caller has a
            // `Session` of it), so the loader returns the library already mapped in this
            // process and runs nothing new; the returned value keeps it loaded for as long as
            // the function pointers taken from it below are used.
            unsafe { cryptoki_sys::Pkcs11::new(&raw.module) }.map_err(|err| err.to_string())
        })
        .as_ref()
        .map_err(|err| CmacError::Symbol(format!("cannot reopen the module: {err}")))?;
    let sign_init = library
        .C_SignInit
        .as_ref()
        .map_err(|err| CmacError::Symbol(format!("C_SignInit: {err}")))?;
    let sign = library
        .C_Sign
        .as_ref()
        .map_err(|err| CmacError::Symbol(format!("C_Sign: {err}")))?;
    let message_len = CK_ULONG::try_from(message.len())
        .map_err(|_| CmacError::Symbol("message longer than a CK_ULONG can say".into()))?;
    let mut mechanism = CK_MECHANISM {
        mechanism: CKM_DES3_CMAC,
        pParameter: std::ptr::null_mut(),
        ulParameterLen: 0,
    };
    // SAFETY: `sign_init` is the module's C_SignInit (PKCS#11 v2.40 5.11), whose arguments are
    // a session handle, a pointer to a CK_MECHANISM it reads during the call and an object
    // handle. The handles come from `cryptoki` for this module and are live (`session` is
    // borrowed, so it is not closed; the key object is never destroyed by this crate);
    // `mechanism` is a valid CK_MECHANISM on this stack frame with no parameter (NULL, 0), as
    // CKM_DES3_CMAC takes none. The session is used by this thread only (`&Session` is not
    // `Send`, and the pool hands a session to one caller at a time).
    let rv = unsafe { sign_init(session.handle(), &mut mechanism, key.handle()) };
    Rv::from(rv).into_result(Function::SignInit)?;
    let mut tag_len: CK_ULONG = 8;
    // SAFETY: C_Sign (PKCS#11 v2.40 5.11) reads `ulDataLen` bytes at `pData` and writes at
    // most `*pulSignatureLen` bytes at `pSignature`, then stores the tag's length there.
    // `message` is a live slice of exactly `message_len` bytes that the module only reads
    // (the `*mut` is the C prototype's, it does not write through it); `tag` is a live,
    // exclusively borrowed 8-byte buffer and `tag_len` says 8; `tag_len` is a valid CK_ULONG.
    // A tag longer than 8 bytes would get CKR_BUFFER_TOO_SMALL, not an overflow.
    let rv = unsafe {
        sign(
            session.handle(),
            message.as_ptr().cast_mut(),
            message_len,
            tag.as_mut_ptr(),
            &mut tag_len,
        )
    };
    Rv::from(rv).into_result(Function::Sign)?;
    if tag_len != 8 {
        return Err(CmacError::TagLength {
            expected: 8,
            got: usize::try_from(tag_len).unwrap_or(usize::MAX),
        });
    }
    Ok(())
}
