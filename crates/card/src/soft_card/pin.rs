//! The software card's PIN and PUK, and the answers it gives middleware that meets it (GET
//! DATA, GET SERIAL); the table is in the [parent module's documentation](super). A module of
//! its own so that the authentication state machine in `mod.rs` stays as it was.

use subtle::ConstantTimeEq;
use zeroize::{Zeroize, Zeroizing};

use crate::apdu::{CardReply, CommandApdu, StatusWord};

/// `P2` of the PIV card application PIN.
pub(super) const PIN_REFERENCE: u8 = 0x80;
/// `P2` of the PIN unblocking key.
pub(super) const PUK_REFERENCE: u8 = 0x81;
/// VERIFY.
pub(super) const INS_VERIFY: u8 = 0x20;
/// CHANGE REFERENCE DATA.
pub(super) const INS_CHANGE_REFERENCE_DATA: u8 = 0x24;
/// RESET RETRY COUNTER.
pub(super) const INS_RESET_RETRY_COUNTER: u8 = 0x2c;
/// GET DATA.
pub(super) const INS_GET_DATA: u8 = 0xcb;
/// YubiKey GET SERIAL.
pub(super) const INS_GET_SERIAL: u8 = 0xf8;

const PADDED_LEN: usize = 8;
const MIN_LEN: usize = 6;
const TRIES: u8 = 3;

/// One reference value (PIN or PUK) padded to 8 bytes, with its try counter.
struct Secret {
    padded: Zeroizing<[u8; PADDED_LEN]>,
    tries: u8,
}

impl Secret {
    fn new(value: &[u8]) -> Self {
        let mut padded = Zeroizing::new([0xff; PADDED_LEN]);
        for (to, from) in padded.iter_mut().zip(value) {
            *to = *from;
        }
        Self {
            padded,
            tries: TRIES,
        }
    }

    /// `None` when blocked; else whether `candidate` matches (and the counter moves).
    fn check(&mut self, candidate: &[u8; PADDED_LEN]) -> Result<(), StatusWord> {
        if self.tries == 0 {
            return Err(StatusWord::AUTH_METHOD_BLOCKED);
        }
        if bool::from(self.padded.ct_eq(candidate)) {
            self.tries = TRIES;
            Ok(())
        } else {
            self.tries = self.tries.saturating_sub(1);
            Err(StatusWord::retries(self.tries))
        }
    }

    fn replace(&mut self, padded: &[u8; PADDED_LEN]) {
        self.padded.copy_from_slice(padded);
        self.tries = TRIES;
    }
}

/// A padded reference value from command data: 8 bytes, at least 6 before the first `FF`, and
/// nothing but `FF` after it. Its shape is public (the length of a PIN is not kept secret by
/// any card), so it is checked with ordinary branches.
fn padded(value: &[u8]) -> Result<Zeroizing<[u8; PADDED_LEN]>, StatusWord> {
    let mut out = Zeroizing::new([0u8; PADDED_LEN]);
    if value.len() != PADDED_LEN {
        return Err(StatusWord::WRONG_DATA);
    }
    out.copy_from_slice(value);
    let len = out
        .iter()
        .position(|&byte| byte == 0xff)
        .unwrap_or(PADDED_LEN);
    let rest_is_padding = out
        .get(len..)
        .is_some_and(|rest| rest.iter().all(|&b| b == 0xff));
    if len < MIN_LEN || !rest_is_padding {
        out.zeroize();
        return Err(StatusWord::WRONG_DATA);
    }
    Ok(out)
}

/// The PIN, the PUK and whether the PIN was verified.
pub(super) struct Pins {
    pin: Secret,
    puk: Secret,
    verified: bool,
}

impl Pins {
    pub(super) fn new() -> Self {
        Self {
            pin: Secret::new(b"123456"),
            puk: Secret::new(b"12345678"),
            verified: false,
        }
    }

    pub(super) fn pin_tries(&self) -> u8 {
        self.pin.tries
    }

    pub(super) fn puk_tries(&self) -> u8 {
        self.puk.tries
    }

    pub(super) fn verified(&self) -> bool {
        self.verified
    }

    pub(super) fn forget(&mut self) {
        self.verified = false;
    }

    /// YubiKey GET METADATA for the PIN (`80`) or PUK (`81`): `01` algorithm (`FF`, a PIN),
    /// `05` whether it is the default value, `06` the tries (total, left).
    pub(super) fn metadata(&self, reference: u8) -> CardReply {
        let (secret, default): (&Secret, &[u8]) = match reference {
            PIN_REFERENCE => (&self.pin, b"123456"),
            PUK_REFERENCE => (&self.puk, b"12345678"),
            _ => return CardReply::status(StatusWord::REFERENCE_NOT_FOUND),
        };
        let fresh = Secret::new(default);
        let is_default = u8::from(bool::from(
            secret.padded.as_slice().ct_eq(fresh.padded.as_slice()),
        ));
        let data = [
            0x01,
            0x01,
            0xff,
            0x05,
            0x01,
            is_default,
            0x06,
            0x02,
            TRIES,
            secret.tries,
        ];
        CardReply::with_data(&data, StatusWord::SUCCESS)
            .unwrap_or_else(|_| CardReply::status(StatusWord(0x6f00)))
    }

    pub(super) fn verify(&mut self, command: &CommandApdu<'_>) -> CardReply {
        if command.p2() != PIN_REFERENCE {
            return CardReply::status(StatusWord::REFERENCE_NOT_FOUND);
        }
        match (command.p1(), command.data()) {
            (0xff, []) => {
                self.verified = false;
                CardReply::status(StatusWord::SUCCESS)
            }
            (0x00, []) if self.verified => CardReply::status(StatusWord::SUCCESS),
            (0x00, []) if self.pin.tries == 0 => CardReply::status(StatusWord::AUTH_METHOD_BLOCKED),
            (0x00, []) => CardReply::status(StatusWord::retries(self.pin.tries)),
            (0x00, data) => {
                let candidate = match padded(data) {
                    Ok(candidate) => candidate,
                    Err(status) => return CardReply::status(status),
                };
                self.verified = false;
                match self.pin.check(&candidate) {
                    Ok(()) => {
                        self.verified = true;
                        CardReply::status(StatusWord::SUCCESS)
                    }
                    Err(status) => CardReply::status(status),
                }
            }
            _ => CardReply::status(StatusWord::WRONG_P1_P2),
        }
    }

    pub(super) fn change_reference_data(&mut self, command: &CommandApdu<'_>) -> CardReply {
        if command.p1() != 0 {
            return CardReply::status(StatusWord::WRONG_P1_P2);
        }
        let (old, new) = match split(command.data()) {
            Ok(pair) => pair,
            Err(status) => return CardReply::status(status),
        };
        let secret = match command.p2() {
            PIN_REFERENCE => &mut self.pin,
            PUK_REFERENCE => &mut self.puk,
            _ => return CardReply::status(StatusWord::REFERENCE_NOT_FOUND),
        };
        match secret.check(&old) {
            Ok(()) => {
                secret.replace(&new);
                if command.p2() == PIN_REFERENCE {
                    self.verified = false;
                }
                CardReply::status(StatusWord::SUCCESS)
            }
            Err(status) => {
                if command.p2() == PIN_REFERENCE {
                    self.verified = false;
                }
                CardReply::status(status)
            }
        }
    }

    pub(super) fn reset_retry_counter(&mut self, command: &CommandApdu<'_>) -> CardReply {
        if command.p1() != 0 {
            return CardReply::status(StatusWord::WRONG_P1_P2);
        }
        if command.p2() != PIN_REFERENCE {
            return CardReply::status(StatusWord::REFERENCE_NOT_FOUND);
        }
        let (puk, pin) = match split(command.data()) {
            Ok(pair) => pair,
            Err(status) => return CardReply::status(status),
        };
        match self.puk.check(&puk) {
            Ok(()) => {
                self.pin.replace(&pin);
                self.verified = false;
                CardReply::status(StatusWord::SUCCESS)
            }
            Err(status) => CardReply::status(status),
        }
    }
}

type Padded = Zeroizing<[u8; PADDED_LEN]>;

/// Two padded values, back to back.
fn split(data: &[u8]) -> Result<(Padded, Padded), StatusWord> {
    if data.len() != 2 * PADDED_LEN {
        return Err(StatusWord::WRONG_DATA);
    }
    let (first, second) = data.split_at(PADDED_LEN);
    Ok((padded(first)?, padded(second)?))
}

/// GET DATA: `3F FF` with a tag list `5C L tag`; the card holds no objects, so every
/// well-formed request is "not found".
pub(super) fn get_data(command: &CommandApdu<'_>) -> CardReply {
    if (command.p1(), command.p2()) != (0x3f, 0xff) {
        return CardReply::status(StatusWord::WRONG_P1_P2);
    }
    match command.data() {
        [0x5c, len, tag @ ..] if usize::from(*len) == tag.len() && (1..=3).contains(&tag.len()) => {
            CardReply::status(StatusWord::NOT_FOUND)
        }
        _ => CardReply::status(StatusWord::WRONG_DATA),
    }
}
