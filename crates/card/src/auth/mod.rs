//! Admin authentication as cards speak it: sans-I/O host flows.
//!
//! - [`piv`]: PIV management key (9B) authentication, single and mutual (NIST SP 800-73-4
//!   part 2), for every [`Algorithm`](cardadmin::Algorithm).
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
//! the card sent and what was expected. A card refusing the host's cryptogram is
//! [`AuthError::WrongKey`] whether it says `63Cx` (with the tries left) or, as YubiKeys do,
//! `6982` (no count).
//!
//! Each flow's documentation says, as an adversary would read it, which bytes chosen by the
//! card the host runs through the key, and what the flow does not protect against. In short:
//! PIV mutual and GIDS mutual hold against a keyless card on their own (GIDS since it refuses
//! R2 = R1); PIV single authentication proves nothing about the card and is an encryption
//! oracle for it; and any encryption oracle under a key (PIV single, the first block of a GIDS
//! cryptogram) lets a keyless card pass a mutual authentication running at the same time with
//! that key. **Use mutual authentication, and run at most one flow per key at a time.**

pub mod gids;
pub mod piv;
pub mod yubikey;

use core::fmt;

use rand_core::{CryptoRng, RngCore};

use crate::apdu::{ApduError, ResponseApdu, StatusWord, Tlv, TlvError};
use cardadmin::KeyError;

/// A card's answer did not complete the flow: an error status, a malformed or unexpected
/// answer, or a cryptogram that proves the card does not hold the key.
///
/// ```
/// use cardadmin_card::apdu::StatusWord;
/// use cardadmin_card::auth::AuthError;
///
/// let err = AuthError::WrongKey { retries_left: Some(2) };
/// assert_eq!(err.to_string(), "the card refused the cryptogram (63C2): wrong key, 2 tries left");
/// let err = AuthError::WrongKey { retries_left: Some(1) };
/// assert_eq!(err.to_string(), "the card refused the cryptogram (63C1): wrong key, 1 try left");
/// // What YubiKeys and other real cards answer: 6982, with no count.
/// let err = AuthError::WrongKey { retries_left: None };
/// assert_eq!(err.to_string(), "the card refused the cryptogram (6982): wrong key, tries left not reported");
/// assert_eq!(AuthError::Status { found: StatusWord(0x6a80) }.to_string(), "the card answered 6A80, expected 9000");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum AuthError {
    /// The answer was not a response APDU (fewer than 2 bytes, or too long).
    Apdu(ApduError),
    /// The answer's data was not the expected BER-TLV.
    Tlv(TlvError),
    /// The card refused the host's cryptogram: the host's key is not the card's. Cards say it
    /// two ways: `63Cx` with `x` tries left (`Some(x)`), or, as YubiKeys and canokeys do,
    /// `6982` security status not satisfied with no count (`None`). Only an answer to a
    /// cryptogram counts as a wrong key; `63Cx` anywhere else is reported the same way (it can
    /// only be a try counter), `6982` anywhere else is
    /// [`SecurityStatusNotSatisfied`](Self::SecurityStatusNotSatisfied).
    WrongKey {
        /// The tries the card says are left, if it says (`63Cx`); `None` for `6982`.
        retries_left: Option<u8>,
    },
    /// `6983`: the key is blocked.
    Blocked,
    /// `6982` where no cryptogram was answered: security status not satisfied (the command
    /// needs an authentication first).
    SecurityStatusNotSatisfied,
    /// GIDS: the card answered the host's own random R1 as its challenge R2. Encrypting
    /// `R1 || R1 || Z1` would hand the card a cryptogram it can return as its own (a
    /// reflection), so the host refuses before encrypting anything.
    ReflectedChallenge,
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
            Self::WrongKey {
                retries_left: Some(retries_left),
            } => write!(
                f,
                "the card refused the cryptogram ({}): wrong key, {}",
                StatusWord::retries(retries_left),
                crate::plural::tries_left(usize::from(retries_left))
            ),
            Self::WrongKey { retries_left: None } => write!(
                f,
                "the card refused the cryptogram ({}): wrong key, tries left not reported",
                StatusWord::SECURITY_STATUS_NOT_SATISFIED
            ),
            Self::Blocked => f.write_str("the card answered 6983: the key is blocked"),
            Self::SecurityStatusNotSatisfied => {
                f.write_str("the card answered 6982: authenticate first")
            }
            Self::ReflectedChallenge => f.write_str(
                "the card's challenge R2 is the host's own R1 (a reflection): expected a random of the card's own",
            ),
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
        return AuthError::WrongKey {
            retries_left: Some(retries_left),
        };
    }
    match status {
        StatusWord::AUTH_METHOD_BLOCKED => AuthError::Blocked,
        StatusWord::SECURITY_STATUS_NOT_SATISFIED => AuthError::SecurityStatusNotSatisfied,
        found => AuthError::Status { found },
    }
}

/// The answer's data if its status is `9000`, for the answer to a cryptogram: there `6982`
/// (security status not satisfied) is the card refusing the cryptogram, as YubiKeys and
/// canokeys say it, so it is a wrong key with no count, like `63Cx` with one.
pub(crate) fn cryptogram_answer_data(answer: &[u8]) -> Result<&[u8], AuthError> {
    success_data(answer).map_err(|err| match err {
        AuthError::SecurityStatusNotSatisfied => AuthError::WrongKey { retries_left: None },
        other => other,
    })
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
