//! PIV management key authentication (NIST SP 800-73-4 part 2), single and mutual.
//!
//! GENERAL AUTHENTICATE (`INS 87`) with `P1` = the key's PIV algorithm identifier (`03`, `08`,
//! `0A`, `0C`) and `P2` = `9B`, the management key. Lengths are computed from the key's block
//! length (8 for 3DES, 16 for AES), not copied from SP 800-73's examples.
//!
//! - **Single** (the card authenticates the host): the host asks `7C 02 81 00`, the card
//!   answers `7C L 81 n C`, the host sends `7C L 82 n E_K(C)` and the card answers `9000`.
//! - **Mutual**: the host asks `7C 02 80 00`, the card answers a witness `7C L 80 n W`, the host
//!   sends `7C L 80 n D_K(W) 81 n H` with its own random challenge `H`, and checks (in constant
//!   time) that the card answers `7C L 82 n E_K(H)`.
//!
//! **Use mutual authentication.** Single authentication authenticates the host to the card,
//! never the card to the host, and it makes the host an encryption oracle (below). yubikit and
//! libykpiv offer only mutual authentication; [`SingleAuth`] is here for cards that know
//! nothing else.
//!
//! # Against a card without the key
//!
//! What the card chooses and the host runs through the key:
//!
//! - **Single: the challenge C, encrypted.** The host sends `E_K(C)` for whatever block the
//!   card sent: an encryption oracle for the card, inherent to SP 800-73-4 (the host cannot
//!   tell a random challenge from a chosen one). And the card's verdict (`9000`) is no proof of
//!   anything: a keyless card can always say `9000`, so [`SingleAuthResponse::finish`] returning
//!   `Ok` only means the card accepted the host.
//! - **Mutual: the witness W, decrypted.** The host sends `D_K(W)` for whatever block the card
//!   sent: a decryption oracle, also inherent to SP 800-73-4 (the card checks it to
//!   authenticate the host). The host then checks the card's `E_K(H)` for its own fresh random
//!   `H`.
//!
//! Mutual authentication, on its own, holds against a keyless card: to pass it needs `E_K(H)`
//! for a fresh `H` it learns only in the host's second command, and the host never encrypts
//! anything the card chose. Reflection and echo fail: answering `H` itself, `D_K(W)`, `W`, or
//! any window of the host's commands would need `E_K(H)` to equal it. Replay fails: a real
//! card's `E_K(H')` from an earlier session is for another `H`, and decryptions `D_K(W)`
//! collected over any number of sessions (pairs `(D_K(W), W)`) give `E_K` only of values the
//! card cannot steer to `H`. `tests/adversarial_flows.rs` plays that for every algorithm.
//!
//! What it does **not** protect against:
//!
//! - **An encryption oracle under the same key.** A keyless card that gets the host to run
//!   [`SingleAuth`] with the same key while a [`MutualAuth`] waits for its answer sends `H` as
//!   the single authentication's challenge, and answers the mutual one with the `E_K(H)` the
//!   host just computed for it (the test `documented_limit_piv_single_is_an_encryption_oracle_for_mutual`
//!   shows it). A GIDS flow with the same key lends the same oracle (see
//!   [`gids`](super::gids)). So: do not use single authentication with a key that is also used
//!   for mutual authentication, and run at most one flow per key at a time.
//! - **A weak 3DES key** (which [`AdminKey::audit`] flags): for a key whose three DES parts
//!   are weak DES keys with K1 = K3, decryption is encryption, so the decryption oracle of
//!   mutual authentication is an encryption oracle, and two interleaved mutual sessions with
//!   the key let a keyless card pass (the test `documented_limit_weak_3des_key_mutual` shows
//!   it).
//! - **A relay** to a real card holding the key, and anyone who reads the APDUs of a later
//!   key change ([`yubikey::set_management_key`](super::yubikey::set_management_key) sends the
//!   new key in clear).
//!
//! Mutual authentication against the software card (feature `soft-card`):
//!
//! ```
//! # #[cfg(all(feature = "soft-card", feature = "getrandom"))]
//! # {
//! use cardadmin_card::apdu::LengthForm;
//! use cardadmin_card::auth::piv;
//! use cardadmin_card::soft_card::SoftCard;
//! use cardadmin::{AdminKey, Algorithm};
//! use cardadmin::rng::OsRng;
//!
//! let key = AdminKey::new(Algorithm::Aes192, &[1, 2, 3, 4, 5, 6, 7, 8].repeat(3))?;
//! let mut card = SoftCard::new(key.clone(), OsRng);
//! let mut send = |command: &cardadmin_card::apdu::Command| {
//!     card.process(command.encode(LengthForm::Extended).as_bytes())
//! };
//!
//! send(&piv::select()).status_word();
//! let flow = piv::MutualAuth::new(&key);
//! let answer = send(flow.command());
//! let flow = flow.receive_witness(answer.as_bytes(), &mut OsRng)?;
//! let answer = send(flow.command());
//! flow.finish(answer.as_bytes())?; // the card proved it holds the key too
//! # }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Single authentication, short APDUs, and what a wrong key gets:
//!
//! ```
//! # #[cfg(all(feature = "soft-card", feature = "getrandom"))]
//! # {
//! use cardadmin_card::apdu::LengthForm;
//! use cardadmin_card::auth::{piv, AuthError};
//! use cardadmin_card::soft_card::SoftCard;
//! use cardadmin::{AdminKey, Algorithm};
//! use cardadmin::rng::OsRng;
//!
//! let key = AdminKey::new(Algorithm::Aes128, &[0x42; 16])?;
//! let mut card = SoftCard::new(key.clone(), OsRng);
//! let mut send = |command: &cardadmin_card::apdu::Command| {
//!     card.process(command.encode(LengthForm::Short).as_bytes())
//! };
//! send(&piv::select());
//!
//! let flow = piv::SingleAuth::new(&key);
//! let answer = send(flow.command()); // 7C 12 81 10 C, 90 00
//! let flow = flow.receive_challenge(answer.as_bytes())?;
//! let answer = send(flow.command()); // 7C 12 82 10 E_K(C) -> 90 00
//! flow.finish(answer.as_bytes())?;
//!
//! let wrong = AdminKey::new(Algorithm::Aes128, &[0x24; 16])?;
//! let flow = piv::SingleAuth::new(&wrong);
//! let answer = send(flow.command());
//! let flow = flow.receive_challenge(answer.as_bytes())?;
//! let answer = send(flow.command());
//! assert_eq!(flow.finish(answer.as_bytes()), Err(AuthError::WrongKey { retries_left: Some(2) }));
//! # }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use rand_core::{CryptoRng, RngCore};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use super::{cryptogram_answer_data, exact_len, only_nested, random, success_data, AuthError};
use crate::apdu::{Command, Tlv};
use cardadmin::AdminKey;

/// The PIV application identifier (the NIST RID and PIX prefix, as SELECT sends it).
pub const AID: [u8; 5] = [0xa0, 0x00, 0x00, 0x03, 0x08];
/// The key reference of the PIV card application administration (management) key.
pub const MANAGEMENT_KEY: u8 = 0x9b;
/// GENERAL AUTHENTICATE.
pub const INS_GENERAL_AUTHENTICATE: u8 = 0x87;
/// The dynamic authentication template.
pub const TAG_DYNAMIC_AUTH: u8 = 0x7c;
/// Witness.
pub(crate) const TAG_WITNESS: u8 = 0x80;
/// Challenge.
pub const TAG_CHALLENGE: u8 = 0x81;
/// Response.
pub const TAG_RESPONSE: u8 = 0x82;

/// The longest block of any algorithm (AES).
const MAX_BLOCK: usize = 16;

/// SELECT of the PIV application: `00 A4 04 00 05 A0 00 00 03 08`, asking for the
/// application property template.
///
/// ```
/// use cardadmin_card::apdu::LengthForm;
/// use cardadmin_card::auth::piv;
///
/// assert_eq!(
///     piv::select().encode(LengthForm::Short).as_bytes(),
///     [0x00, 0xa4, 0x04, 0x00, 0x05, 0xa0, 0x00, 0x00, 0x03, 0x08, 0x00],
/// );
/// ```
pub fn select() -> Command {
    Command::build([0x00, 0xa4, 0x04, 0x00], |w| w.bytes(&AID)).expecting_data()
}

/// `7C 02 tag 00`: a request for one data object.
fn request(key: &AdminKey, tag: u8) -> Command {
    Command::build(header(key), |w| {
        w.header(TAG_DYNAMIC_AUTH, 2)?;
        w.bytes(&[tag, 0x00])
    })
    .expecting_data()
}

fn header(key: &AdminKey) -> [u8; 4] {
    [
        0x00,
        INS_GENERAL_AUTHENTICATE,
        key.algorithm().piv_id(),
        MANAGEMENT_KEY,
    ]
}

/// The block of the key's cipher, from the front of a 16-byte buffer.
fn block(buffer: &mut [u8; MAX_BLOCK], len: usize) -> &mut [u8] {
    let (front, _) = buffer.split_at_mut(len.min(MAX_BLOCK));
    front
}

/// Single authentication, first step: the challenge request `7C 02 81 00`.
///
/// ```
/// use cardadmin_card::apdu::LengthForm;
/// use cardadmin_card::auth::piv;
/// use cardadmin::AdminKey;
///
/// let key = AdminKey::from_bytes([0; 24]);
/// let flow = piv::SingleAuth::new(&key);
/// assert_eq!(
///     flow.command().encode(LengthForm::Short).as_bytes(),
///     [0x00, 0x87, 0x03, 0x9b, 0x04, 0x7c, 0x02, 0x81, 0x00, 0x00],
/// );
/// // The card answers 7C 0A 81 08 C; the flow encrypts C under the key.
/// let answer = [0x7c, 0x0a, 0x81, 0x08, 0xd6, 0x11, 0x43, 0xf9, 0xcc, 0xff, 0xd2, 0xca, 0x90, 0x00];
/// let flow = flow.receive_challenge(&answer)?;
/// assert_eq!(
///     flow.command().data(),
///     [0x7c, 0x0a, 0x82, 0x08, 0x17, 0x46, 0x6e, 0x76, 0x6e, 0x30, 0x3c, 0xb6],
/// );
/// flow.finish(&[0x90, 0x00])?;
/// # Ok::<(), cardadmin_card::auth::AuthError>(())
/// ```
#[derive(Debug)]
pub struct SingleAuth<'k> {
    key: &'k AdminKey,
    command: Command,
}

impl<'k> SingleAuth<'k> {
    /// Starts single authentication with `key` (its algorithm goes in `P1`).
    ///
    /// ```
    /// use cardadmin_card::auth::piv;
    /// use cardadmin::{AdminKey, Algorithm};
    ///
    /// let key = AdminKey::new(Algorithm::Aes256, &[0; 32])?;
    /// assert_eq!(piv::SingleAuth::new(&key).command().p1(), 0x0c);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn new(key: &'k AdminKey) -> Self {
        Self {
            key,
            command: request(key, TAG_CHALLENGE),
        }
    }

    /// The command to send: the challenge request.
    ///
    /// ```
    /// use cardadmin_card::auth::piv;
    /// use cardadmin::AdminKey;
    ///
    /// let key = AdminKey::from_bytes([0; 24]);
    /// assert_eq!(piv::SingleAuth::new(&key).command().data(), [0x7c, 0x02, 0x81, 0x00]);
    /// # Ok::<(), cardadmin_card::auth::AuthError>(())
    /// ```
    pub fn command(&self) -> &Command {
        &self.command
    }

    /// Reads the card's answer (`7C L 81 n C`, `9000`) and builds the response
    /// `7C L 82 n E_K(C)`.
    ///
    /// ```
    /// use cardadmin_card::auth::{piv, AuthError};
    /// use cardadmin::AdminKey;
    ///
    /// let key = AdminKey::from_bytes([0; 24]);
    /// // A 4-byte challenge for a 3DES key.
    /// let err = piv::SingleAuth::new(&key)
    ///     .receive_challenge(&[0x7c, 0x06, 0x81, 0x04, 1, 2, 3, 4, 0x90, 0x00])
    ///     .unwrap_err();
    /// assert_eq!(err, AuthError::Length { tag: 0x81, expected: 8, found: 4 });
    /// # Ok::<(), AuthError>(())
    /// ```
    pub fn receive_challenge(self, answer: &[u8]) -> Result<SingleAuthResponse, AuthError> {
        let block_len = self.key.algorithm().block_len();
        let data = success_data(answer)?;
        let challenge = only_nested(
            data,
            TAG_DYNAMIC_AUTH.into(),
            TAG_CHALLENGE.into(),
            block_len,
        )?;
        let mut buffer = Zeroizing::new([0u8; MAX_BLOCK]);
        let response = block(&mut buffer, block_len);
        response.copy_from_slice(challenge);
        cardadmin::hazmat::encrypt_block(self.key, response)?;
        let command = Command::build(header(self.key), |w| {
            w.header(TAG_DYNAMIC_AUTH, 2 + block_len)?;
            w.tlv(TAG_RESPONSE, response)
        });
        Ok(SingleAuthResponse { command })
    }
}

/// Single authentication, second step: the response to send, and the check of the card's
/// verdict.
///
/// ```
/// use cardadmin_card::auth::{piv, AuthError};
/// use cardadmin::AdminKey;
///
/// let key = AdminKey::from_bytes([0; 24]);
/// let flow = piv::SingleAuth::new(&key)
///     .receive_challenge(&[0x7c, 0x0a, 0x81, 0x08, 0, 0, 0, 0, 0, 0, 0, 0, 0x90, 0x00])?;
/// assert_eq!(flow.finish(&[0x63, 0xc2]).unwrap_err(), AuthError::WrongKey { retries_left: Some(2) });
/// # Ok::<(), AuthError>(())
/// ```
#[derive(Debug)]
pub struct SingleAuthResponse {
    command: Command,
}

impl SingleAuthResponse {
    /// The command to send: `7C L 82 n E_K(C)`.
    ///
    /// ```
    /// use cardadmin_card::auth::piv;
    /// use cardadmin::AdminKey;
    ///
    /// let key = AdminKey::from_bytes([0; 24]);
    /// let flow = piv::SingleAuth::new(&key)
    ///     .receive_challenge(&[0x7c, 0x0a, 0x81, 0x08, 0, 0, 0, 0, 0, 0, 0, 0, 0x90, 0x00])?;
    /// assert_eq!(flow.command().data()[..4], [0x7c, 0x0a, 0x82, 0x08]);
    /// # Ok::<(), cardadmin_card::auth::AuthError>(())
    /// ```
    pub fn command(&self) -> &Command {
        &self.command
    }

    /// Checks the card's verdict: `9000` with no data. `63Cx` is [`AuthError::WrongKey`],
    /// `6983` [`AuthError::Blocked`].
    ///
    /// ```
    /// use cardadmin_card::auth::{piv, AuthError};
    /// use cardadmin::AdminKey;
    ///
    /// let key = AdminKey::from_bytes([0; 24]);
    /// let flow = piv::SingleAuth::new(&key)
    ///     .receive_challenge(&[0x7c, 0x0a, 0x81, 0x08, 0, 0, 0, 0, 0, 0, 0, 0, 0x90, 0x00])?;
    /// assert_eq!(flow.finish(&[0x69, 0x83]).unwrap_err(), AuthError::Blocked);
    /// # Ok::<(), AuthError>(())
    /// ```
    pub fn finish(self, answer: &[u8]) -> Result<(), AuthError> {
        let data = cryptogram_answer_data(answer)?;
        if !data.is_empty() {
            return Err(AuthError::UnexpectedData { found: data.len() });
        }
        Ok(())
    }
}

/// Mutual authentication, first step: the witness request `7C 02 80 00`.
///
/// ```
/// use cardadmin_card::apdu::LengthForm;
/// use cardadmin_card::auth::piv;
/// use cardadmin::{AdminKey, Algorithm};
///
/// let key = AdminKey::new(Algorithm::Aes128, &[0; 16])?;
/// let flow = piv::MutualAuth::new(&key);
/// // As yubikit sends it to a USB YubiKey, plus Le.
/// assert_eq!(
///     flow.command().encode(LengthForm::Extended).as_bytes(),
///     [0x00, 0x87, 0x08, 0x9b, 0x00, 0x00, 0x04, 0x7c, 0x02, 0x80, 0x00, 0x00, 0x00],
/// );
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct MutualAuth<'k> {
    key: &'k AdminKey,
    command: Command,
}

impl<'k> MutualAuth<'k> {
    /// Starts mutual authentication with `key`.
    ///
    /// ```
    /// use cardadmin_card::auth::piv;
    /// use cardadmin::AdminKey;
    ///
    /// let key = AdminKey::from_bytes([0; 24]);
    /// assert_eq!(piv::MutualAuth::new(&key).command().p2(), 0x9b);
    /// # Ok::<(), cardadmin_card::auth::AuthError>(())
    /// ```
    pub fn new(key: &'k AdminKey) -> Self {
        Self {
            key,
            command: request(key, TAG_WITNESS),
        }
    }

    /// The command to send: the witness request.
    ///
    /// ```
    /// use cardadmin_card::auth::piv;
    /// use cardadmin::AdminKey;
    ///
    /// let key = AdminKey::from_bytes([0; 24]);
    /// assert_eq!(piv::MutualAuth::new(&key).command().data(), [0x7c, 0x02, 0x80, 0x00]);
    /// # Ok::<(), cardadmin_card::auth::AuthError>(())
    /// ```
    pub fn command(&self) -> &Command {
        &self.command
    }

    /// Reads the card's witness (`7C L 80 n W`, `9000`), decrypts it, draws the host's
    /// challenge `H` from `rng` and builds `7C L 80 n D_K(W) 81 n H`.
    ///
    /// ```
    /// # #[cfg(feature = "getrandom")]
    /// # {
    /// use cardadmin_card::auth::{piv, AuthError};
    /// use cardadmin::AdminKey;
    /// use cardadmin::rng::OsRng;
    ///
    /// let key = AdminKey::from_bytes([0; 24]);
    /// // A challenge (81) where the witness (80) belongs.
    /// let err = piv::MutualAuth::new(&key)
    ///     .receive_witness(&[0x7c, 0x0a, 0x81, 0x08, 0, 0, 0, 0, 0, 0, 0, 0, 0x90, 0x00], &mut OsRng)
    ///     .unwrap_err();
    /// assert_eq!(err.to_string(), "malformed answer data: expected TLV tag 80, found 81");
    /// # }
    /// # Ok::<(), cardadmin_card::auth::AuthError>(())
    /// ```
    pub fn receive_witness<R: RngCore + CryptoRng>(
        self,
        answer: &[u8],
        rng: &mut R,
    ) -> Result<MutualAuthResponse<'k>, AuthError> {
        let block_len = self.key.algorithm().block_len();
        let data = success_data(answer)?;
        let witness = only_nested(data, TAG_DYNAMIC_AUTH.into(), TAG_WITNESS.into(), block_len)?;
        let mut decrypted = Zeroizing::new([0u8; MAX_BLOCK]);
        let plain = block(&mut decrypted, block_len);
        plain.copy_from_slice(witness);
        cardadmin::hazmat::decrypt_block(self.key, plain)?;
        let mut challenge = [0u8; MAX_BLOCK];
        random(rng, block(&mut challenge, block_len))?;
        let host_challenge = challenge.get(..block_len).unwrap_or_default();
        let command = Command::build(header(self.key), |w| {
            w.header(TAG_DYNAMIC_AUTH, 2 * (2 + block_len))?;
            w.tlv(TAG_WITNESS, plain)?;
            w.tlv(TAG_CHALLENGE, host_challenge)
        })
        .expecting_data();
        Ok(MutualAuthResponse {
            key: self.key,
            challenge,
            command,
        })
    }
}

/// Mutual authentication, second step: the decrypted witness and the host's challenge to
/// send, and the check of the card's response to that challenge.
///
/// ```
/// # #[cfg(feature = "getrandom")]
/// # {
/// use cardadmin_card::auth::{piv, AuthError};
/// use cardadmin::AdminKey;
/// use cardadmin::rng::OsRng;
///
/// let key = AdminKey::from_bytes([0; 24]);
/// let flow = piv::MutualAuth::new(&key)
///     .receive_witness(&[0x7c, 0x0a, 0x80, 0x08, 0, 0, 0, 0, 0, 0, 0, 0, 0x90, 0x00], &mut OsRng)?;
/// // A card that does not know H cannot answer E_K(H).
/// let forged = [0x7c, 0x0a, 0x82, 0x08, 0, 0, 0, 0, 0, 0, 0, 0, 0x90, 0x00];
/// assert_eq!(flow.finish(&forged).unwrap_err(), AuthError::CardCryptogram);
/// # }
/// # Ok::<(), cardadmin_card::auth::AuthError>(())
/// ```
#[derive(Debug)]
pub struct MutualAuthResponse<'k> {
    key: &'k AdminKey,
    challenge: [u8; MAX_BLOCK],
    command: Command,
}

impl MutualAuthResponse<'_> {
    /// The command to send: `7C L 80 n D_K(W) 81 n H`.
    ///
    /// ```
    /// # #[cfg(feature = "getrandom")]
    /// # {
    /// use cardadmin_card::auth::piv;
    /// use cardadmin::AdminKey;
    /// use cardadmin::rng::OsRng;
    ///
    /// let key = AdminKey::from_bytes([0; 24]);
    /// let flow = piv::MutualAuth::new(&key)
    ///     .receive_witness(&[0x7c, 0x0a, 0x80, 0x08, 0, 0, 0, 0, 0, 0, 0, 0, 0x90, 0x00], &mut OsRng)?;
    /// assert_eq!(flow.command().data()[..4], [0x7c, 0x14, 0x80, 0x08]);
    /// # }
    /// # Ok::<(), cardadmin_card::auth::AuthError>(())
    /// ```
    pub fn command(&self) -> &Command {
        &self.command
    }

    /// The host's challenge `H` sent in [`MutualAuthResponse::command`].
    ///
    /// ```
    /// # #[cfg(feature = "getrandom")]
    /// # {
    /// use cardadmin_card::auth::piv;
    /// use cardadmin::AdminKey;
    /// use cardadmin::rng::OsRng;
    ///
    /// let key = AdminKey::from_bytes([0; 24]);
    /// let flow = piv::MutualAuth::new(&key)
    ///     .receive_witness(&[0x7c, 0x0a, 0x80, 0x08, 0, 0, 0, 0, 0, 0, 0, 0, 0x90, 0x00], &mut OsRng)?;
    /// assert_eq!(flow.host_challenge(), &flow.command().data()[14..]);
    /// # }
    /// # Ok::<(), cardadmin_card::auth::AuthError>(())
    /// ```
    pub fn host_challenge(&self) -> &[u8] {
        self.challenge
            .get(..self.key.algorithm().block_len())
            .unwrap_or_default()
    }

    /// Checks the card's answer: `7C L 82 n E_K(H)` and `9000`, compared in constant time.
    ///
    /// ```
    /// # #[cfg(feature = "getrandom")]
    /// # {
    /// use cardadmin_card::auth::{piv, AuthError};
    /// use cardadmin::AdminKey;
    /// use cardadmin::rng::OsRng;
    ///
    /// let key = AdminKey::from_bytes([0; 24]);
    /// let flow = piv::MutualAuth::new(&key)
    ///     .receive_witness(&[0x7c, 0x0a, 0x80, 0x08, 0, 0, 0, 0, 0, 0, 0, 0, 0x90, 0x00], &mut OsRng)?;
    /// assert_eq!(flow.finish(&[0x63, 0xc0]).unwrap_err(), AuthError::WrongKey { retries_left: Some(0) });
    /// # }
    /// # Ok::<(), cardadmin_card::auth::AuthError>(())
    /// ```
    pub fn finish(self, answer: &[u8]) -> Result<(), AuthError> {
        let block_len = self.key.algorithm().block_len();
        let data = cryptogram_answer_data(answer)?;
        let card_response = only_nested(
            data,
            TAG_DYNAMIC_AUTH.into(),
            TAG_RESPONSE.into(),
            block_len,
        )?;
        let mut expected = Zeroizing::new(self.challenge);
        let expected = block(&mut expected, block_len);
        cardadmin::hazmat::encrypt_block(self.key, expected)?;
        if bool::from(expected.ct_eq(card_response)) {
            Ok(())
        } else {
            Err(AuthError::CardCryptogram)
        }
    }
}

/// What a GENERAL AUTHENTICATE data field for the management key asks of a card: the card's
/// side of [`SingleAuth`] and [`MutualAuth`].
///
/// ```
/// use cardadmin_card::auth::piv::{self, GeneralAuthenticate};
///
/// assert_eq!(piv::parse_general_authenticate(&[0x7c, 0x02, 0x80, 0x00], 8)?, GeneralAuthenticate::WitnessRequest);
/// # Ok::<(), cardadmin_card::auth::AuthError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum GeneralAuthenticate<'a> {
    /// `7C 02 81 00`: single authentication, asking for a challenge.
    ChallengeRequest,
    /// `7C 02 80 00`: mutual authentication, asking for a witness.
    WitnessRequest,
    /// `7C L 82 n R`: the host's response to the card's challenge.
    Response(&'a [u8]),
    /// `7C L 80 n W' 81 n H`: the decrypted witness and the host's challenge.
    WitnessAndChallenge {
        /// `D_K(W)`.
        witness: &'a [u8],
        /// The host's challenge `H`.
        challenge: &'a [u8],
    },
}

/// Parses a GENERAL AUTHENTICATE data field (the card's side), with blocks of `block_len`
/// bytes: exactly one of the four shapes of [`GeneralAuthenticate`], nothing more.
///
/// ```
/// use cardadmin_card::auth::piv::{self, GeneralAuthenticate};
/// use cardadmin_card::auth::AuthError;
///
/// let data = [0x7c, 0x0a, 0x82, 0x08, 1, 2, 3, 4, 5, 6, 7, 8];
/// assert_eq!(piv::parse_general_authenticate(&data, 8)?, GeneralAuthenticate::Response(&data[4..]));
/// // The same response is the wrong length for an AES key.
/// assert_eq!(
///     piv::parse_general_authenticate(&data, 16).unwrap_err(),
///     AuthError::Length { tag: 0x82, expected: 16, found: 8 },
/// );
/// # Ok::<(), AuthError>(())
/// ```
pub fn parse_general_authenticate(
    data: &[u8],
    block_len: usize,
) -> Result<GeneralAuthenticate<'_>, AuthError> {
    let template = Tlv::parse_only(TAG_DYNAMIC_AUTH.into(), data)?;
    let (first, rest) = Tlv::parse(template.value())?;
    let tag = |t: u8| u32::from(t);
    match (first.tag(), rest.is_empty()) {
        (t, true) if t == tag(TAG_CHALLENGE) && first.value().is_empty() => {
            Ok(GeneralAuthenticate::ChallengeRequest)
        }
        (t, true) if t == tag(TAG_WITNESS) && first.value().is_empty() => {
            Ok(GeneralAuthenticate::WitnessRequest)
        }
        (t, true) if t == tag(TAG_RESPONSE) => {
            Ok(GeneralAuthenticate::Response(exact_len(first, block_len)?))
        }
        (t, false) if t == tag(TAG_WITNESS) => {
            let witness = exact_len(first, block_len)?;
            let challenge = exact_len(Tlv::parse_only(tag(TAG_CHALLENGE), rest)?, block_len)?;
            Ok(GeneralAuthenticate::WitnessAndChallenge { witness, challenge })
        }
        (t, true) if t == tag(TAG_CHALLENGE) || t == tag(TAG_WITNESS) => Err(AuthError::Length {
            tag: t,
            expected: 0,
            found: first.value().len(),
        }),
        (t, false) => Err(AuthError::Tlv(crate::apdu::TlvError::TrailingBytes {
            after: t,
            found: rest.len(),
        })),
        (t, true) => Err(AuthError::Tlv(crate::apdu::TlvError::UnexpectedTag {
            expected: tag(TAG_RESPONSE),
            found: t,
        })),
    }
}
