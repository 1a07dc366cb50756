//! GIDS admin key mutual authentication (Microsoft's Generic Identity Device Specification,
//! which Windows virtual smart cards implement), and GIDS PUT KEY bodies.
//!
//! 1. MSE SET `00 22 C1 A4 03 83 01 80`: select the admin key (reference `80`).
//! 2. The host sends 16 random bytes R1: `00 87 00 00 14 7C 12 81 10 R1`; the card answers
//!    its own 16 random bytes R2: `7C 12 81 10 R2`.
//! 3. The host sends `7C 2A 82 28` and the CBC encryption (IV zero) under the admin key of
//!    `R2 || R1 || Z1`, Z1 = 7 random bytes then `80`; the card answers `7C 2A 82 28` and the
//!    encryption of `R1 || R2 || Z2`, which the host decrypts and checks (in constant time):
//!    R1 and R2 in that order, Z2 ending in `80`.
//!
//! That is the 3DES flow, as GIDS cards and OpenSC run it. With an AES admin key (the issue
//! left this open; decided here) the same flow runs on 16-byte blocks: Z is 15 random bytes
//! then `80`, so the cryptograms are 48 bytes (`7C 32 82 30`).
//!
//! # Against a card without the key
//!
//! What the card chooses and the host runs through the key:
//!
//! - **R2, encrypted.** The host's cryptogram is `CBC_K(R2 || R1 || Z1)` with a zero IV, so
//!   its first block is `E_K` of the card's first block of R2, chosen freely: within one
//!   session an encryption oracle for one block (for 3DES, the second block too, chained).
//! - **The card's cryptogram, decrypted.** The host decrypts it and reveals one bit: accepted
//!   or not (the error says which check failed only after the decision, and never the
//!   plaintext).
//!
//! The protocol is symmetric: the host's plaintext `R2 || R1 || Z1` has the shape of the
//! card's, `R1 || R2 || Z2`, with the randoms swapped. So **R2 = R1 is refused**
//! ([`AuthError::ReflectedChallenge`]) before anything is encrypted: with it, the host's own
//! cryptogram decrypts to `R1 || R1 || Z1`, exactly what the host expects from the card, and a
//! card that only returns it would pass (OpenSC's `gids_authenticate_admin` has that hole).
//! With R2 ≠ R1, within one session:
//!
//! - echoing the host's cryptogram fails (it decrypts to `R2 || R1`, not `R1 || R2`);
//! - any rearrangement of its blocks fails: the answer must be the CBC chain of `R1 || R2`,
//!   and the host's chain is that of `R2 || R1 || Z1`. The two share blocks only as far as
//!   their plaintexts agree from the start: for 3DES an R2 whose first half is R1's gives the
//!   card `E_K` of R1's first half, but the next block needs R2's second half to be R1's too,
//!   which is R2 = R1. Other matches need a decryption the card learned elsewhere (with
//!   `D_K(0)` from a PIV mutual authentication under the same key, R2 = `D_K(0)` makes the
//!   host's next blocks the chain of R1), and give at most R1's blocks: the next one is `E_K`
//!   of a value fresh in this session, which only the key makes;
//! - replaying a real card's cryptogram from an earlier session fails (it holds that session's
//!   R1), and so does replaying any host byte string of earlier sessions: the answer must hold
//!   this session's fresh R1 under the key.
//!
//! `tests/adversarial_flows.rs` plays all of that for every algorithm: reflection, echo, every
//! window of every byte string seen and every sequence of the host's own blocks, as R2 and as
//! the cryptogram.
//!
//! What this does **not** protect against:
//!
//! - **Two sessions with one key at once.** A card (or a relay between two cards) that runs two
//!   sessions A and B with the same key, interleaved, answers R1 of B as R2 in A and R1 of A as
//!   R2 in B; each host then encrypts exactly what the other expects, and the card passes both
//!   by swapping the cryptograms. More generally, the first block of every host cryptogram is
//!   an encryption oracle, so a few interleaved sessions (or a PIV
//!   [`SingleAuth`](super::piv::SingleAuth) with the same key) let a keyless card build any
//!   cryptogram. The host cannot see other sessions: **run at most one flow per key at a
//!   time**, and do not use a GIDS admin key for anything else.
//! - **A relay.** A card that forwards every command to a real card holding the key passes; no
//!   challenge-response without a channel to bind to prevents that.
//! - **The new key in PUT KEY** travels in clear: whoever sees the APDUs learns it.
//!
//! Against the software card (feature `soft-card`):
//!
//! ```
//! # #[cfg(all(feature = "soft-card", feature = "getrandom"))]
//! # {
//! use cardadmin_card::apdu::LengthForm;
//! use cardadmin_card::auth::gids;
//! use cardadmin_card::soft_card::SoftCard;
//! use cardadmin::AdminKey;
//! use cardadmin::rng::OsRng;
//!
//! let key = AdminKey::from_hex("010203040506070801020304050607080102030405060708")?;
//! let mut card = SoftCard::new(key.clone(), OsRng);
//! let mut send = |command: &cardadmin_card::apdu::Command| {
//!     card.process(command.encode(LengthForm::Short).as_bytes())
//! };
//!
//! send(&gids::select());
//! let flow = gids::MutualAuth::new(&key, &mut OsRng)?;
//! let answer = send(flow.command());
//! let flow = flow.receive_mse_set(answer.as_bytes())?;
//! let answer = send(flow.command());
//! let flow = flow.receive_challenge(answer.as_bytes(), &mut OsRng)?;
//! let answer = send(flow.command());
//! flow.finish(answer.as_bytes())?;
//!
//! // Authenticated: replace the admin key (PUT KEY carries the new key's check value).
//! let new_key = AdminKey::from_hex("0123456789abcdef23456789abcdef01456789abcdef0123")?;
//! gids::check_put_key(send(&gids::put_key(&new_key)?).as_bytes())?;
//! let flow = gids::MutualAuth::new(&new_key, &mut OsRng)?;
//! let answer = send(flow.command());
//! let flow = flow.receive_mse_set(answer.as_bytes())?;
//! let answer = send(flow.command());
//! let flow = flow.receive_challenge(answer.as_bytes(), &mut OsRng)?;
//! let answer = send(flow.command());
//! flow.finish(answer.as_bytes())?;
//! # }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use rand_core::{CryptoRng, RngCore};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use super::{
    cryptogram_answer_data, exact_len, only_nested, random, success_data, success_no_data,
    AuthError,
};
use crate::apdu::{Command, StatusWord, Tlv, TlvError};
use cardadmin::AdminKey;

/// The GIDS application identifier.
pub const AID: [u8; 9] = [0xa0, 0x00, 0x00, 0x03, 0x97, 0x42, 0x54, 0x46, 0x59];
/// The key reference of the GIDS admin key.
pub(crate) const ADMIN_KEY_REFERENCE: u8 = 0x80;
/// The length of R1 and R2.
pub const RANDOM_LEN: usize = 16;

/// The dynamic authentication template.
const TAG_DYNAMIC_AUTH: u8 = 0x7c;
const TAG_CHALLENGE: u8 = 0x81;
const TAG_RESPONSE: u8 = 0x82;
/// R2 || R1 || Z for the longest block (AES).
const MAX_CRYPTOGRAM: usize = 2 * RANDOM_LEN + 16;

/// SELECT of the GIDS application: `00 A4 04 00 09 A0 00 00 03 97 42 54 46 59` with `Le`.
///
/// ```
/// use cardadmin_card::auth::gids;
///
/// assert_eq!(gids::select().data(), gids::AID);
/// ```
pub fn select() -> Command {
    Command::build([0x00, 0xa4, 0x04, 0x00], |w| w.bytes(&AID)).expecting_data()
}

/// MSE SET for the admin key: `00 22 C1 A4 03 83 01 80`.
fn mse_set() -> Command {
    Command::build([0x00, 0x22, 0xc1, 0xa4], |w| {
        w.tlv(0x83, &[ADMIN_KEY_REFERENCE])
    })
}

/// The length of a cryptogram for blocks of `block_len` bytes: R2, R1 and one block of Z.
fn cryptogram_len(block_len: usize) -> usize {
    2 * RANDOM_LEN + block_len
}

/// GIDS mutual authentication, first step: MSE SET selecting the admin key. R1 is drawn now.
///
/// ```
/// # #[cfg(feature = "getrandom")]
/// # {
/// use cardadmin_card::apdu::LengthForm;
/// use cardadmin_card::auth::gids;
/// use cardadmin::AdminKey;
/// use cardadmin::rng::OsRng;
///
/// let key = AdminKey::from_bytes([0; 24]);
/// let flow = gids::MutualAuth::new(&key, &mut OsRng)?;
/// assert_eq!(
///     flow.command().encode(LengthForm::Short).as_bytes(),
///     [0x00, 0x22, 0xc1, 0xa4, 0x03, 0x83, 0x01, 0x80],
/// );
/// # }
/// # Ok::<(), cardadmin_card::auth::AuthError>(())
/// ```
#[derive(Debug)]
pub struct MutualAuth<'k> {
    key: &'k AdminKey,
    r1: [u8; RANDOM_LEN],
    command: Command,
}

impl<'k> MutualAuth<'k> {
    /// Starts mutual authentication with the admin key `key`, drawing R1 from `rng`.
    ///
    /// ```
    /// # #[cfg(feature = "getrandom")]
    /// # {
    /// use cardadmin_card::auth::gids;
    /// use cardadmin::AdminKey;
    /// use cardadmin::rng::OsRng;
    ///
    /// let key = AdminKey::from_bytes([0; 24]);
    /// assert_eq!(gids::MutualAuth::new(&key, &mut OsRng)?.command().ins(), 0x22);
    /// # }
    /// # Ok::<(), cardadmin_card::auth::AuthError>(())
    /// ```
    pub fn new<R: RngCore + CryptoRng>(key: &'k AdminKey, rng: &mut R) -> Result<Self, AuthError> {
        let mut r1 = [0u8; RANDOM_LEN];
        random(rng, &mut r1)?;
        Ok(Self {
            key,
            r1,
            command: mse_set(),
        })
    }

    /// The command to send: MSE SET.
    ///
    /// ```
    /// # #[cfg(feature = "getrandom")]
    /// # {
    /// use cardadmin_card::auth::gids;
    /// use cardadmin::AdminKey;
    /// use cardadmin::rng::OsRng;
    ///
    /// let key = AdminKey::from_bytes([0; 24]);
    /// assert_eq!(gids::MutualAuth::new(&key, &mut OsRng)?.command().data(), [0x83, 0x01, 0x80]);
    /// # }
    /// # Ok::<(), cardadmin_card::auth::AuthError>(())
    /// ```
    pub fn command(&self) -> &Command {
        &self.command
    }

    /// Reads MSE SET's answer (`9000`, no data) and builds the GENERAL AUTHENTICATE that sends
    /// R1.
    ///
    /// ```
    /// # #[cfg(feature = "getrandom")]
    /// # {
    /// use cardadmin_card::auth::{gids, AuthError};
    /// use cardadmin::AdminKey;
    /// use cardadmin::rng::OsRng;
    ///
    /// let key = AdminKey::from_bytes([0; 24]);
    /// let flow = gids::MutualAuth::new(&key, &mut OsRng)?;
    /// assert_eq!(flow.receive_mse_set(&[0x6a, 0x88]).unwrap_err().to_string(), "the card answered 6A88, expected 9000");
    /// # }
    /// # Ok::<(), cardadmin_card::auth::AuthError>(())
    /// ```
    pub fn receive_mse_set(self, answer: &[u8]) -> Result<SendChallenge<'k>, AuthError> {
        success_no_data(answer)?;
        let command = Command::build([0x00, 0x87, 0x00, 0x00], |w| {
            w.header(TAG_DYNAMIC_AUTH, 2 + RANDOM_LEN)?;
            w.tlv(TAG_CHALLENGE, &self.r1)
        })
        .expecting_data();
        Ok(SendChallenge {
            key: self.key,
            r1: self.r1,
            command,
        })
    }
}

/// GIDS mutual authentication, second step: R1 to send, R2 to receive.
///
/// ```
/// # #[cfg(feature = "getrandom")]
/// # {
/// use cardadmin_card::apdu::LengthForm;
/// use cardadmin_card::auth::gids;
/// use cardadmin::AdminKey;
/// use cardadmin::rng::OsRng;
///
/// let key = AdminKey::from_bytes([0; 24]);
/// let flow = gids::MutualAuth::new(&key, &mut OsRng)?.receive_mse_set(&[0x90, 0x00])?;
/// assert_eq!(flow.command().encode(LengthForm::Short).as_bytes()[..9], [0x00, 0x87, 0x00, 0x00, 0x14, 0x7c, 0x12, 0x81, 0x10]);
/// # }
/// # Ok::<(), cardadmin_card::auth::AuthError>(())
/// ```
#[derive(Debug)]
pub struct SendChallenge<'k> {
    key: &'k AdminKey,
    r1: [u8; RANDOM_LEN],
    command: Command,
}

impl<'k> SendChallenge<'k> {
    /// The command to send: `00 87 00 00 14 7C 12 81 10 R1` with `Le`.
    ///
    /// ```
    /// # #[cfg(feature = "getrandom")]
    /// # {
    /// use cardadmin_card::auth::gids;
    /// use cardadmin::AdminKey;
    /// use cardadmin::rng::OsRng;
    ///
    /// let key = AdminKey::from_bytes([0; 24]);
    /// let flow = gids::MutualAuth::new(&key, &mut OsRng)?.receive_mse_set(&[0x90, 0x00])?;
    /// assert_eq!(flow.command().data().len(), 20);
    /// # }
    /// # Ok::<(), cardadmin_card::auth::AuthError>(())
    /// ```
    pub fn command(&self) -> &Command {
        &self.command
    }

    /// Reads the card's R2 (`7C 12 81 10 R2`, `9000`), draws Z1 from `rng` and builds
    /// `7C 2A 82 28 CBC_K(R2 || R1 || Z1)`. An R2 equal to the host's own R1 is a reflection
    /// and is refused ([`AuthError::ReflectedChallenge`]) before anything is encrypted.
    ///
    /// ```
    /// # #[cfg(feature = "getrandom")]
    /// # {
    /// use cardadmin_card::auth::{gids, AuthError};
    /// use cardadmin::rng::OsRng;
    /// use cardadmin::AdminKey;
    ///
    /// let key = AdminKey::from_bytes([0; 24]);
    /// let flow = gids::MutualAuth::new(&key, &mut OsRng)?.receive_mse_set(&[0x90, 0x00])?;
    /// // The card plays the host's own R1 back as its R2.
    /// let mut reflected = flow.command().data().to_vec();
    /// reflected.extend([0x90, 0x00]);
    /// assert_eq!(
    ///     flow.receive_challenge(&reflected, &mut OsRng).unwrap_err(),
    ///     AuthError::ReflectedChallenge,
    /// );
    /// # }
    /// # Ok::<(), cardadmin_card::auth::AuthError>(())
    /// ```
    ///
    /// ```
    /// # #[cfg(feature = "getrandom")]
    /// # {
    /// use cardadmin_card::auth::{gids, AuthError};
    /// use cardadmin::AdminKey;
    /// use cardadmin::rng::OsRng;
    ///
    /// let key = AdminKey::from_bytes([0; 24]);
    /// let flow = gids::MutualAuth::new(&key, &mut OsRng)?.receive_mse_set(&[0x90, 0x00])?;
    /// let mut answer = vec![0x7c, 0x12, 0x81, 0x10];
    /// answer.extend([0x42; 16]);
    /// answer.extend([0x90, 0x00]);
    /// let flow = flow.receive_challenge(&answer, &mut OsRng)?;
    /// assert_eq!(flow.command().data()[..4], [0x7c, 0x2a, 0x82, 0x28]);
    /// # }
    /// # Ok::<(), cardadmin_card::auth::AuthError>(())
    /// ```
    pub fn receive_challenge<R: RngCore + CryptoRng>(
        self,
        answer: &[u8],
        rng: &mut R,
    ) -> Result<SendCryptogram<'k>, AuthError> {
        let data = success_data(answer)?;
        let r2 = only_nested(
            data,
            TAG_DYNAMIC_AUTH.into(),
            TAG_CHALLENGE.into(),
            RANDOM_LEN,
        )?;
        // R2 = R1 would make the host encrypt R1 || R1 || Z1, which is also a valid card
        // cryptogram (R1 || R2 || Z2): the card would only have to return it. Both values
        // went over the wire (public), so the comparison needs no secrecy; it is done in
        // constant time anyway, before anything is encrypted.
        if bool::from(r2.ct_eq(&self.r1)) {
            return Err(AuthError::ReflectedChallenge);
        }
        let block_len = self.key.algorithm().block_len();
        let len = cryptogram_len(block_len);
        let mut buffer = Zeroizing::new([0u8; MAX_CRYPTOGRAM]);
        let plain = buffer.get_mut(..len).unwrap_or_default();
        let (r2_part, rest) = plain.split_at_mut(RANDOM_LEN.min(plain.len()));
        r2_part.copy_from_slice(r2);
        let (r1_part, z1) = rest.split_at_mut(RANDOM_LEN.min(rest.len()));
        r1_part.copy_from_slice(&self.r1);
        if let Some((last, random_part)) = z1.split_last_mut() {
            random(rng, random_part)?;
            *last = 0x80;
        }
        crate::cbc::encrypt(self.key, plain)?;
        let command = Command::build([0x00, 0x87, 0x00, 0x00], |w| {
            w.header(TAG_DYNAMIC_AUTH, 2 + len)?;
            w.tlv(TAG_RESPONSE, plain)
        })
        .expecting_data();
        let mut r2_copy = [0u8; RANDOM_LEN];
        r2_copy.copy_from_slice(r2);
        Ok(SendCryptogram {
            key: self.key,
            r1: self.r1,
            r2: r2_copy,
            command,
        })
    }
}

/// GIDS mutual authentication, last step: the host's cryptogram to send, and the check of the
/// card's.
///
/// ```
/// # #[cfg(feature = "getrandom")]
/// # {
/// use cardadmin_card::auth::{gids, AuthError};
/// use cardadmin::AdminKey;
/// use cardadmin::rng::OsRng;
///
/// let key = AdminKey::from_bytes([0; 24]);
/// let flow = gids::MutualAuth::new(&key, &mut OsRng)?.receive_mse_set(&[0x90, 0x00])?;
/// let mut answer = vec![0x7c, 0x12, 0x81, 0x10];
/// answer.extend([0x42; 16]);
/// answer.extend([0x90, 0x00]);
/// let flow = flow.receive_challenge(&answer, &mut OsRng)?;
/// // The card echoing the host's own cryptogram proves nothing: it decrypts to R2 || R1, and
/// // R2 = R1 (where it would match R1 || R2) was refused in `receive_challenge`.
/// let mut echo = flow.command().data().to_vec();
/// echo.extend([0x90, 0x00]);
/// assert_eq!(flow.finish(&echo).unwrap_err(), AuthError::CardCryptogram);
/// # }
/// # Ok::<(), cardadmin_card::auth::AuthError>(())
/// ```
#[derive(Debug)]
pub struct SendCryptogram<'k> {
    key: &'k AdminKey,
    r1: [u8; RANDOM_LEN],
    r2: [u8; RANDOM_LEN],
    command: Command,
}

impl SendCryptogram<'_> {
    /// The command to send: `00 87 00 00 2C 7C 2A 82 28 ...` with `Le` (3DES).
    ///
    /// ```
    /// # #[cfg(feature = "getrandom")]
    /// # {
    /// use cardadmin_card::auth::gids;
    /// use cardadmin::AdminKey;
    /// use cardadmin::rng::OsRng;
    ///
    /// let key = AdminKey::from_bytes([0; 24]);
    /// let flow = gids::MutualAuth::new(&key, &mut OsRng)?.receive_mse_set(&[0x90, 0x00])?;
    /// let mut answer = vec![0x7c, 0x12, 0x81, 0x10];
    /// answer.extend([0; 16]);
    /// answer.extend([0x90, 0x00]);
    /// assert_eq!(flow.receive_challenge(&answer, &mut OsRng)?.command().data().len(), 44);
    /// # }
    /// # Ok::<(), cardadmin_card::auth::AuthError>(())
    /// ```
    pub fn command(&self) -> &Command {
        &self.command
    }

    /// Checks the card's answer: `7C 2A 82 28 C`, `9000`, where C decrypts to `R1 || R2 || Z2`
    /// and Z2 ends in `80`. R1 and R2 are compared in constant time.
    ///
    /// ```
    /// # #[cfg(feature = "getrandom")]
    /// # {
    /// use cardadmin_card::auth::{gids, AuthError};
    /// use cardadmin::AdminKey;
    /// use cardadmin::rng::OsRng;
    ///
    /// let key = AdminKey::from_bytes([0; 24]);
    /// let flow = gids::MutualAuth::new(&key, &mut OsRng)?.receive_mse_set(&[0x90, 0x00])?;
    /// let mut answer = vec![0x7c, 0x12, 0x81, 0x10];
    /// answer.extend([0; 16]);
    /// answer.extend([0x90, 0x00]);
    /// let flow = flow.receive_challenge(&answer, &mut OsRng)?;
    /// assert_eq!(flow.finish(&[0x63, 0xc1]).unwrap_err(), AuthError::WrongKey { retries_left: Some(1) });
    /// # }
    /// # Ok::<(), cardadmin_card::auth::AuthError>(())
    /// ```
    pub fn finish(self, answer: &[u8]) -> Result<(), AuthError> {
        let block_len = self.key.algorithm().block_len();
        let len = cryptogram_len(block_len);
        let data = cryptogram_answer_data(answer)?;
        let cryptogram = only_nested(data, TAG_DYNAMIC_AUTH.into(), TAG_RESPONSE.into(), len)?;
        let mut buffer = Zeroizing::new([0u8; MAX_CRYPTOGRAM]);
        let plain = buffer.get_mut(..len).unwrap_or_default();
        plain.copy_from_slice(cryptogram);
        crate::cbc::decrypt(self.key, plain)?;
        let mut expected = Zeroizing::new([0u8; 2 * RANDOM_LEN]);
        let (first, second) = expected.split_at_mut(RANDOM_LEN);
        first.copy_from_slice(&self.r1);
        second.copy_from_slice(&self.r2);
        let randoms = plain.get(..2 * RANDOM_LEN).unwrap_or_default();
        let randoms_match = randoms.ct_eq(expected.as_slice());
        let padded = plain.last().copied().unwrap_or_default().ct_eq(&0x80);
        // One decision on the decrypted bytes, for both checks; only once authentication has
        // failed does the error say which check it was.
        if bool::from(randoms_match & padded) {
            return Ok(());
        }
        Err(if bool::from(randoms_match) {
            AuthError::Padding
        } else {
            AuthError::CardCryptogram
        })
    }
}

/// What a GIDS GENERAL AUTHENTICATE data field asks of the card (the card's side).
///
/// ```
/// use cardadmin_card::auth::gids::{self, GeneralAuthenticate};
///
/// let mut data = vec![0x7c, 0x12, 0x81, 0x10];
/// data.extend([7; 16]);
/// assert_eq!(gids::parse_general_authenticate(&data, 8)?, GeneralAuthenticate::Challenge(&[7; 16]));
/// # Ok::<(), cardadmin_card::auth::AuthError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum GeneralAuthenticate<'a> {
    /// `7C 12 81 10 R1`: the host's random R1.
    Challenge(&'a [u8]),
    /// `7C 2A 82 28 C` (3DES): the host's cryptogram.
    Cryptogram(&'a [u8]),
}

/// Parses a GIDS GENERAL AUTHENTICATE data field (the card's side) for a key with blocks of
/// `block_len` bytes.
///
/// ```
/// use cardadmin_card::auth::{gids, AuthError};
///
/// let short = [0x7c, 0x06, 0x82, 0x04, 1, 2, 3, 4];
/// assert_eq!(
///     gids::parse_general_authenticate(&short, 8).unwrap_err(),
///     AuthError::Length { tag: 0x82, expected: 40, found: 4 },
/// );
/// ```
pub fn parse_general_authenticate(
    data: &[u8],
    block_len: usize,
) -> Result<GeneralAuthenticate<'_>, AuthError> {
    let template = Tlv::parse_only(TAG_DYNAMIC_AUTH.into(), data)?;
    let (object, rest) = Tlv::parse(template.value())?;
    if !rest.is_empty() {
        return Err(AuthError::Tlv(TlvError::TrailingBytes {
            after: object.tag(),
            found: rest.len(),
        }));
    }
    match u8::try_from(object.tag()) {
        Ok(TAG_CHALLENGE) => Ok(GeneralAuthenticate::Challenge(exact_len(
            object, RANDOM_LEN,
        )?)),
        Ok(TAG_RESPONSE) => Ok(GeneralAuthenticate::Cryptogram(exact_len(
            object,
            cryptogram_len(block_len),
        )?)),
        _ => Err(AuthError::Tlv(TlvError::UnexpectedTag {
            expected: TAG_CHALLENGE.into(),
            found: object.tag(),
        })),
    }
}

/// Parses MSE SET (the card's side): `P1 P2 = C1 A4` and data `83 01 ref`; returns the key
/// reference.
///
/// ```
/// use cardadmin_card::auth::gids;
///
/// assert_eq!(gids::parse_mse_set(0xc1, 0xa4, &[0x83, 0x01, 0x80])?, 0x80);
/// assert!(gids::parse_mse_set(0x41, 0xa4, &[0x83, 0x01, 0x80]).is_err());
/// # Ok::<(), cardadmin_card::auth::AuthError>(())
/// ```
pub fn parse_mse_set(p1: u8, p2: u8, data: &[u8]) -> Result<u8, AuthError> {
    if (p1, p2) != (0xc1, 0xa4) {
        return Err(AuthError::Status {
            found: StatusWord::WRONG_P1_P2,
        });
    }
    match exact_len(Tlv::parse_only(0x83, data)?, 1)? {
        [reference] => Ok(*reference),
        _ => Err(AuthError::MissingTag { tag: 0x83 }),
    }
}

/// GIDS PUT KEY for the admin key, as PUT DATA `00 DB 3F FF Lc 84 01 80 A5 L 87 n key 88 03
/// KCV`: the new key, then its key check value (the first 3 bytes of `E_K(0)`). OpenSC writes
/// `B0 73 DC` (the default key's check value) whatever the key; this writes the new key's own.
/// The command holds key bytes and wipes them when dropped.
///
/// A key the [audit](AdminKey::audit) finds anything in is refused, with the finding
/// ([`KeyAudit::require_clean`](cardadmin::KeyAudit::require_clean) says why each finding
/// refuses); [`put_key_allowing_weak`] is the explicit override.
///
/// ```
/// use cardadmin_card::auth::gids;
/// use cardadmin::{AdminKey, KeyFinding};
///
/// let key = AdminKey::from_hex("0123456789abcdef23456789abcdef01456789abcdef0123")?;
/// let command = gids::put_key(&key)?;
/// assert_eq!(command.data()[..7], [0x84, 0x01, 0x80, 0xa5, 0x1f, 0x87, 0x18]);
/// assert_eq!(command.data()[31..33], [0x88, 0x03]);
///
/// let default = AdminKey::from_hex("010203040506070801020304050607080102030405060708")?;
/// assert_eq!(gids::put_key(&default).unwrap_err().finding(), KeyFinding::MinidriverDefault);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn put_key(new_key: &AdminKey) -> Result<Command, cardadmin::WeakKeyError> {
    new_key.audit().require_clean()?;
    Ok(put_key_allowing_weak(new_key))
}

/// GIDS PUT KEY for any key, weak ones included: the explicit override of [`put_key`], for
/// the rare caller who must, such as a card put back to the minidriver default key. Everything
/// else should use [`put_key`]: a weak admin key protects the card little or not at all.
///
/// ```
/// use cardadmin_card::auth::gids;
/// use cardadmin::AdminKey;
///
/// let default = AdminKey::from_hex("010203040506070801020304050607080102030405060708")?;
/// let command = gids::put_key_allowing_weak(&default);
/// assert_eq!(command.data()[31..], [0x88, 0x03, 0xb0, 0x73, 0xdc]);
/// # Ok::<(), cardadmin::KeyError>(())
/// ```
pub fn put_key_allowing_weak(new_key: &AdminKey) -> Command {
    let key = new_key.expose_secret();
    let check_value = new_key.check_value();
    Command::build([0x00, 0xdb, 0x3f, 0xff], |w| {
        w.tlv(0x84, &[ADMIN_KEY_REFERENCE])?;
        w.header(0xa5, 2 + key.len() + 2 + 3)?;
        w.tlv(0x87, key)?;
        w.tlv(0x88, check_value.as_bytes())
    })
}

/// Checks PUT KEY's answer: `9000` with no data.
///
/// ```
/// use cardadmin_card::auth::{gids, AuthError};
///
/// assert!(gids::check_put_key(&[0x90, 0x00]).is_ok());
/// ```
pub fn check_put_key(answer: &[u8]) -> Result<(), AuthError> {
    success_no_data(answer)
}

/// A GIDS PUT KEY body, parsed (the card's side).
///
/// ```
/// use cardadmin_card::auth::gids;
/// use cardadmin::AdminKey;
///
/// let key = AdminKey::from_hex("0123456789abcdef23456789abcdef01456789abcdef0123")?;
/// let command = gids::put_key(&key)?;
/// let body = gids::PutKey::parse(command.p1(), command.p2(), command.data())?;
/// assert_eq!(body.key_reference(), 0x80);
/// assert_eq!(body.key(), key.expose_secret());
/// assert_eq!(body.check_value(), key.check_value().as_bytes());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct PutKey<'a> {
    key_reference: u8,
    key: &'a [u8],
    check_value: [u8; 3],
}

impl core::fmt::Debug for PutKey<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("PutKey")
            .field("key_reference", &self.key_reference)
            .field("key_len", &self.key.len())
            .field("check_value", &self.check_value)
            .finish()
    }
}

impl<'a> PutKey<'a> {
    /// Parses PUT DATA `P1 P2 = 3F FF` with data `84 01 ref A5 L (87 n key) (88 03 KCV)`,
    /// exactly that.
    ///
    /// ```
    /// use cardadmin_card::auth::{gids::PutKey, AuthError};
    ///
    /// let no_kcv = [0x84, 0x01, 0x80, 0xa5, 0x04, 0x87, 0x02, 0x01, 0x02];
    /// assert!(PutKey::parse(0x3f, 0xff, &no_kcv).is_err());
    /// ```
    pub fn parse(p1: u8, p2: u8, data: &'a [u8]) -> Result<Self, AuthError> {
        if (p1, p2) != (0x3f, 0xff) {
            return Err(AuthError::Status {
                found: StatusWord::WRONG_P1_P2,
            });
        }
        let (reference, rest) = Tlv::parse(data)?;
        if reference.tag() != 0x84 {
            return Err(AuthError::Tlv(TlvError::UnexpectedTag {
                expected: 0x84,
                found: reference.tag(),
            }));
        }
        let key_reference = match exact_len(reference, 1)? {
            [byte] => *byte,
            _ => return Err(AuthError::MissingTag { tag: 0x84 }),
        };
        let template = Tlv::parse_only(0xa5, rest)?;
        let (key, rest) = Tlv::parse(template.value())?;
        if key.tag() != 0x87 {
            return Err(AuthError::Tlv(TlvError::UnexpectedTag {
                expected: 0x87,
                found: key.tag(),
            }));
        }
        let check_value = match exact_len(Tlv::parse_only(0x88, rest)?, 3)? {
            [a, b, c] => [*a, *b, *c],
            _ => return Err(AuthError::MissingTag { tag: 0x88 }),
        };
        Ok(Self {
            key_reference,
            key: key.value(),
            check_value,
        })
    }

    /// The key reference (`80` for the admin key).
    ///
    /// ```
    /// use cardadmin_card::auth::gids::PutKey;
    ///
    /// let body = [0x84, 0x01, 0x80, 0xa5, 0x07, 0x87, 0x00, 0x88, 0x03, 1, 2, 3];
    /// assert_eq!(PutKey::parse(0x3f, 0xff, &body)?.key_reference(), 0x80);
    /// # Ok::<(), cardadmin_card::auth::AuthError>(())
    /// ```
    pub fn key_reference(&self) -> u8 {
        self.key_reference
    }

    /// The new key's bytes (any length; the card checks it against its algorithm).
    ///
    /// ```
    /// use cardadmin_card::auth::gids::PutKey;
    ///
    /// let body = [0x84, 0x01, 0x80, 0xa5, 0x07, 0x87, 0x00, 0x88, 0x03, 1, 2, 3];
    /// assert!(PutKey::parse(0x3f, 0xff, &body)?.key().is_empty());
    /// # Ok::<(), cardadmin_card::auth::AuthError>(())
    /// ```
    pub fn key(&self) -> &'a [u8] {
        self.key
    }

    /// The key check value sent with it.
    ///
    /// ```
    /// use cardadmin_card::auth::gids::PutKey;
    ///
    /// let body = [0x84, 0x01, 0x80, 0xa5, 0x07, 0x87, 0x00, 0x88, 0x03, 1, 2, 3];
    /// assert_eq!(PutKey::parse(0x3f, 0xff, &body)?.check_value(), &[1, 2, 3]);
    /// # Ok::<(), cardadmin_card::auth::AuthError>(())
    /// ```
    pub fn check_value(&self) -> &[u8; 3] {
        &self.check_value
    }
}
