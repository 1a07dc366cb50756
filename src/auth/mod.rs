//! Admin authentication as cards speak it: sans-I/O host flows.
//!
//! - [`piv`]: PIV management key (9B) authentication, single and mutual (NIST SP 800-73-4
//!   part 2), for every [`Algorithm`](crate::Algorithm).
//! - [`gids`]: GIDS mutual authentication (Microsoft virtual smart cards), MSE SET then two
//!   GENERAL AUTHENTICATE exchanges, and GIDS PUT KEY bodies.
//! - [`yubikey`]: the YubiKey extras around PIV: GET VERSION, GET METADATA, SET MANAGEMENT KEY.
//!
//! Each flow is a chain of state values: each state holds the command to send
//! (`command()`), and the only way to the next state is to hand it the card's answer. So a
//! witness answer cannot be built before the witness arrived, and a state cannot be used twice
//! (each step consumes it). Nothing here does I/O: send the command's bytes
//! ([`Command::encode`](crate::apdu::Command::encode)) however you reach the card, and pass back
//! what it answered, status word included. An answer must be whole: a transport that receives
//! `61xx` (more data) fetches the rest with GET RESPONSE and passes the joined answer.
//!
//! Answers are parsed strictly (status word, then the exact TLV shape with the exact lengths)
//! and cryptograms are compared in constant time (`subtle`). Errors ([`AuthError`]) say what
//! the card sent and what was expected.

pub mod gids;
pub mod piv;
pub mod yubikey;

use core::fmt;

use rand_core::{CryptoRng, RngCore};

use crate::apdu::{ApduError, ResponseApdu, StatusWord, Tlv, TlvError};
use crate::error::KeyError;

/// A card's answer did not complete the flow: an error status, a malformed or unexpected
/// answer, or a cryptogram that proves the card does not hold the key.
///
/// ```
/// use cardadmin::apdu::StatusWord;
/// use cardadmin::auth::AuthError;
///
/// let err = AuthError::WrongKey { retries_left: 2 };
/// assert_eq!(err.to_string(), "the card refused the cryptogram (63C2): wrong key, 2 tries left");
/// assert_eq!(AuthError::Status { found: StatusWord(0x6a80) }.to_string(), "the card answered 6A80, expected 9000");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum AuthError {
    /// The answer was not a response APDU (fewer than 2 bytes, or too long).
    Apdu(ApduError),
    /// The answer's data was not the expected BER-TLV.
    Tlv(TlvError),
    /// `63Cx`: the card refused the host's cryptogram; `x` tries are left.
    WrongKey {
        /// The tries the card says are left.
        retries_left: u8,
    },
    /// `6983`: the key is blocked.
    Blocked,
    /// `6982`: security status not satisfied (the command needs an authentication first).
    SecurityStatusNotSatisfied,
    /// Any other status word where `9000` was expected.
    Status {
        /// The status word the card sent.
        found: StatusWord,
    },
    /// A data object of the wrong length.
    Length {
        /// Its tag.
        tag: u32,
        /// The length expected.
        expected: usize,
        /// The length found.
        found: usize,
    },
    /// A required data object was missing.
    MissingTag {
        /// The tag that was missing.
        tag: u32,
    },
    /// A data object appeared twice.
    DuplicateTag {
        /// The repeated tag.
        tag: u32,
    },
    /// Data where the answer should have had none.
    UnexpectedData {
        /// How many data bytes came.
        found: usize,
    },
    /// The card's cryptogram did not match: the card does not hold the key (or the answer was
    /// replayed or forged).
    CardCryptogram,
    /// GIDS: the card's decrypted answer did not end in the `80` padding byte.
    Padding,
    /// An algorithm identifier that is not one of `00`, `03`, `08`, `0A`, `0C`.
    UnknownAlgorithm {
        /// The identifier found.
        id: u8,
    },
    /// A key could not be used for the flow (wrong length for its cipher).
    Key(KeyError),
    /// The caller's random generator failed.
    Random,
}

impl fmt::Display for AuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::Apdu(err) => write!(f, "malformed answer: {err}"),
            Self::Tlv(err) => write!(f, "malformed answer data: {err}"),
            Self::WrongKey { retries_left } => write!(
                f,
                "the card refused the cryptogram ({}): wrong key, {retries_left} tries left",
                StatusWord::retries(retries_left)
            ),
            Self::Blocked => f.write_str("the card answered 6983: the key is blocked"),
            Self::SecurityStatusNotSatisfied => {
                f.write_str("the card answered 6982: authenticate first")
            }
            Self::Status { found } => write!(f, "the card answered {found}, expected 9000"),
            Self::Length {
                tag,
                expected,
                found,
            } => write!(
                f,
                "data object {tag:02X} has {}, expected {expected}",
                crate::plural::bytes(found)
            ),
            Self::MissingTag { tag } => write!(f, "the answer has no data object {tag:02X}"),
            Self::DuplicateTag { tag } => write!(f, "the answer has data object {tag:02X} twice"),
            Self::UnexpectedData { found } => {
                write!(f, "the answer has {found} data bytes, expected none")
            }
            Self::CardCryptogram => {
                f.write_str("the card's cryptogram does not match: the card does not hold the key")
            }
            Self::Padding => {
                f.write_str("the card's decrypted answer does not end in the 80 padding byte")
            }
            Self::UnknownAlgorithm { id } => write!(
                f,
                "unknown algorithm identifier {id:02X}: expected 00, 03, 08, 0A or 0C"
            ),
            Self::Key(err) => write!(f, "key unusable for this flow: {err}"),
            Self::Random => f.write_str("the random generator failed"),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for AuthError {}

impl From<ApduError> for AuthError {
    fn from(err: ApduError) -> Self {
        Self::Apdu(err)
    }
}

impl From<TlvError> for AuthError {
    fn from(err: TlvError) -> Self {
        Self::Tlv(err)
    }
}

impl From<KeyError> for AuthError {
    fn from(err: KeyError) -> Self {
        Self::Key(err)
    }
}

/// The answer's data if its status is `9000`, else the status as an error.
pub(crate) fn success_data(answer: &[u8]) -> Result<&[u8], AuthError> {
    let response = ResponseApdu::parse(answer)?;
    let status = response.status();
    if status == StatusWord::SUCCESS {
        return Ok(response.data());
    }
    Err(status_error(status))
}

/// The error for a status word other than `9000`.
pub(crate) fn status_error(status: StatusWord) -> AuthError {
    if let Some(retries_left) = status.retries_left() {
        return AuthError::WrongKey { retries_left };
    }
    match status {
        StatusWord::AUTH_METHOD_BLOCKED => AuthError::Blocked,
        StatusWord::SECURITY_STATUS_NOT_SATISFIED => AuthError::SecurityStatusNotSatisfied,
        found => AuthError::Status { found },
    }
}

/// An answer that must be `9000` with no data.
pub(crate) fn success_no_data(answer: &[u8]) -> Result<(), AuthError> {
    let data = success_data(answer)?;
    if !data.is_empty() {
        return Err(AuthError::UnexpectedData { found: data.len() });
    }
    Ok(())
}

/// `data` must be exactly `outer { inner[len] }`: the dynamic authentication template (`7C`)
/// holding one object of the given tag and length. Returns that object's value.
pub(crate) fn only_nested(
    data: &[u8],
    outer: u32,
    inner: u32,
    len: usize,
) -> Result<&[u8], AuthError> {
    let template = Tlv::parse_only(outer, data)?;
    let object = Tlv::parse_only(inner, template.value())?;
    exact_len(object, len)
}

/// The value of `tlv`, which must be `len` bytes long.
pub(crate) fn exact_len(tlv: Tlv<'_>, len: usize) -> Result<&[u8], AuthError> {
    if tlv.value().len() != len {
        return Err(AuthError::Length {
            tag: tlv.tag(),
            expected: len,
            found: tlv.value().len(),
        });
    }
    Ok(tlv.value())
}

/// Fills `out` from the caller's generator.
pub(crate) fn random<R: RngCore + CryptoRng>(rng: &mut R, out: &mut [u8]) -> Result<(), AuthError> {
    rng.try_fill_bytes(out).map_err(|_| AuthError::Random)
}
