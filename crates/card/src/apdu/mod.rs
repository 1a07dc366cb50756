//! ISO/IEC 7816-4 command and response APDUs, and BER-TLV: what the card flows are made of.
//!
//! Everything here works on fixed buffers (no allocation) and parses strictly: a command APDU
//! must be exactly one of the seven ISO 7816-4 cases (1, 2, 3 and 4, short or extended), a
//! response must end in a status word, a TLV must use the shortest length form. Nothing panics
//! on any input.
//!
//! - Host side: a [`Command`] built by a flow ([`crate::auth::piv`], [`crate::auth::gids`],
//!   [`crate::auth::yubikey`]) is sent as [`Command::encode`]`(LengthForm::Short)` or
//!   `Extended`; the card's answer is read with [`ResponseApdu::parse`].
//! - Card side: [`CommandApdu::parse`] reads a command in any of the seven forms; a [`CardReply`]
//!   holds the answer (data, then SW1 SW2).
//!
//! ```
//! use cardadmin_card::apdu::{Command, CommandApdu, LengthForm, ResponseApdu, StatusWord};
//!
//! let select = Command::new(0x00, 0xa4, 0x04, 0x00, &[0xa0, 0x00, 0x00, 0x03, 0x08])?;
//! let short = select.encode(LengthForm::Short);
//! assert_eq!(short.as_bytes(), [0x00, 0xa4, 0x04, 0x00, 0x05, 0xa0, 0x00, 0x00, 0x03, 0x08]);
//!
//! let parsed = CommandApdu::parse(short.as_bytes())?;
//! assert_eq!(parsed.data(), &[0xa0, 0x00, 0x00, 0x03, 0x08]);
//!
//! let answer = ResponseApdu::parse(&[0x90, 0x00])?;
//! assert_eq!(answer.status(), StatusWord::SUCCESS);
//! # Ok::<(), cardadmin_card::apdu::ApduError>(())
//! ```

mod tlv;

use core::fmt;

use zeroize::{Zeroize, ZeroizeOnDrop};

pub use tlv::{tlv_iter, Tlv, TlvError, TlvIter};
pub(crate) use tlv::{Full, Writer};

/// The longest command data field the crate builds or the software card takes: 255 bytes, what
/// a short APDU can carry. (Extended APDUs are read and written, but the card flows never need
/// more data than this.)
pub const MAX_COMMAND_DATA: usize = 255;

/// The longest response data field the crate reads or writes: 256 bytes, what a short APDU's
/// `Le = 00` asks for.
pub const MAX_RESPONSE_DATA: usize = 256;

/// The longest encoded command: header, extended `Lc` (3 bytes), data and extended `Le`.
const MAX_ENCODED: usize = 4 + 3 + MAX_COMMAND_DATA + 2;

/// How `Lc` and `Le` are written: one byte each (short) or the extended form (`00` then two
/// bytes; `Le` alone takes three).
///
/// ```
/// use cardadmin_card::apdu::{Command, LengthForm};
///
/// let get_version = Command::new(0x00, 0xfd, 0x00, 0x00, &[])?.expecting_data();
/// assert_eq!(get_version.encode(LengthForm::Short).as_bytes(), [0x00, 0xfd, 0x00, 0x00, 0x00]);
/// assert_eq!(
///     get_version.encode(LengthForm::Extended).as_bytes(),
///     [0x00, 0xfd, 0x00, 0x00, 0x00, 0x00, 0x00],
/// );
/// # Ok::<(), cardadmin_card::apdu::ApduError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LengthForm {
    /// `Lc` and `Le` of one byte (ISO 7816-4 cases 2S, 3S, 4S).
    Short,
    /// Extended `Lc` and `Le` (cases 2E, 3E, 4E).
    Extended,
}

/// A command APDU to send: header, up to [`MAX_COMMAND_DATA`] bytes of data, and whether a
/// response data field is expected (then `Le` asks for as much as the card has).
///
/// The data may be secret (a new management key), so it is wiped on drop and `Debug` shows only
/// its length.
///
/// ```
/// use cardadmin_card::apdu::{Command, LengthForm};
///
/// let mse = Command::new(0x00, 0x22, 0xc1, 0xa4, &[0x83, 0x01, 0x80])?;
/// assert_eq!(mse.ins(), 0x22);
/// assert_eq!(
///     mse.encode(LengthForm::Extended).as_bytes(),
///     [0x00, 0x22, 0xc1, 0xa4, 0x00, 0x00, 0x03, 0x83, 0x01, 0x80],
/// );
/// # Ok::<(), cardadmin_card::apdu::ApduError>(())
/// ```
#[derive(Clone)]
pub struct Command {
    header: [u8; 4],
    data: [u8; MAX_COMMAND_DATA],
    data_len: usize,
    expects_data: bool,
}

impl Command {
    /// A command with `data` (at most [`MAX_COMMAND_DATA`] bytes) and no response data
    /// expected; see [`Command::expecting_data`].
    ///
    /// ```
    /// use cardadmin_card::apdu::{ApduError, Command};
    ///
    /// assert_eq!(
    ///     Command::new(0, 0xdb, 0x3f, 0xff, &[0; 256]).unwrap_err(),
    ///     ApduError::DataTooLong { max: 255, found: 256 },
    /// );
    /// ```
    pub fn new(cla: u8, ins: u8, p1: u8, p2: u8, data: &[u8]) -> Result<Self, ApduError> {
        let mut command = Self {
            header: [cla, ins, p1, p2],
            data: [0; MAX_COMMAND_DATA],
            data_len: data.len(),
            expects_data: false,
        };
        command
            .data
            .get_mut(..data.len())
            .ok_or(ApduError::DataTooLong {
                max: MAX_COMMAND_DATA,
                found: data.len(),
            })?
            .copy_from_slice(data);
        Ok(command)
    }

    /// The same command with `Le` asking for the longest answer (`00` short, `00 00`
    /// extended).
    ///
    /// ```
    /// use cardadmin_card::apdu::Command;
    ///
    /// assert!(Command::new(0, 0xfd, 0, 0, &[])?.expecting_data().expects_data());
    /// # Ok::<(), cardadmin_card::apdu::ApduError>(())
    /// ```
    #[must_use]
    pub fn expecting_data(mut self) -> Self {
        self.expects_data = true;
        self
    }

    /// Builds a command from a TLV writer's output: crate-internal flows only, whose fixed
    /// messages all fit [`MAX_COMMAND_DATA`] (were one not to, it would be cut short and the
    /// card would refuse it; nothing panics).
    pub(crate) fn build(
        header: [u8; 4],
        write: impl FnOnce(&mut Writer<'_>) -> Result<(), Full>,
    ) -> Self {
        let mut command = Self {
            header,
            data: [0; MAX_COMMAND_DATA],
            data_len: 0,
            expects_data: false,
        };
        let mut writer = Writer::new(&mut command.data);
        let _ = write(&mut writer);
        command.data_len = writer.len();
        command
    }

    /// The class byte.
    ///
    /// ```
    /// use cardadmin_card::apdu::Command;
    ///
    /// assert_eq!(Command::new(0x80, 0xca, 0, 0, &[])?.cla(), 0x80);
    /// # Ok::<(), cardadmin_card::apdu::ApduError>(())
    /// ```
    pub fn cla(&self) -> u8 {
        self.header[0]
    }

    /// The instruction byte.
    ///
    /// ```
    /// use cardadmin_card::apdu::Command;
    ///
    /// assert_eq!(Command::new(0, 0x87, 3, 0x9b, &[])?.ins(), 0x87);
    /// # Ok::<(), cardadmin_card::apdu::ApduError>(())
    /// ```
    pub fn ins(&self) -> u8 {
        self.header[1]
    }

    /// The first parameter byte.
    ///
    /// ```
    /// use cardadmin_card::apdu::Command;
    ///
    /// assert_eq!(Command::new(0, 0x87, 3, 0x9b, &[])?.p1(), 3);
    /// # Ok::<(), cardadmin_card::apdu::ApduError>(())
    /// ```
    pub fn p1(&self) -> u8 {
        self.header[2]
    }

    /// The second parameter byte.
    ///
    /// ```
    /// use cardadmin_card::apdu::Command;
    ///
    /// assert_eq!(Command::new(0, 0x87, 3, 0x9b, &[])?.p2(), 0x9b);
    /// # Ok::<(), cardadmin_card::apdu::ApduError>(())
    /// ```
    pub fn p2(&self) -> u8 {
        self.header[3]
    }

    /// The data field.
    ///
    /// ```
    /// use cardadmin_card::apdu::Command;
    ///
    /// assert_eq!(Command::new(0, 0x22, 0xc1, 0xa4, &[1, 2])?.data(), &[1, 2]);
    /// # Ok::<(), cardadmin_card::apdu::ApduError>(())
    /// ```
    pub fn data(&self) -> &[u8] {
        self.data.get(..self.data_len).unwrap_or_default()
    }

    /// Whether `Le` is sent (a response data field is expected).
    ///
    /// ```
    /// use cardadmin_card::apdu::Command;
    ///
    /// assert!(!Command::new(0, 0x22, 0xc1, 0xa4, &[1])?.expects_data());
    /// # Ok::<(), cardadmin_card::apdu::ApduError>(())
    /// ```
    pub fn expects_data(&self) -> bool {
        self.expects_data
    }

    /// The command's bytes in the given length form. A command with neither data nor `Le` is
    /// the 4-byte case 1 in both forms.
    ///
    /// ```
    /// use cardadmin_card::apdu::{Command, LengthForm};
    ///
    /// // yubikit's witness request on a USB YubiKey: extended Lc, no Le.
    /// let witness = Command::new(0x00, 0x87, 0x03, 0x9b, &[0x7c, 0x02, 0x80, 0x00])?;
    /// assert_eq!(
    ///     witness.encode(LengthForm::Extended).as_bytes(),
    ///     [0x00, 0x87, 0x03, 0x9b, 0x00, 0x00, 0x04, 0x7c, 0x02, 0x80, 0x00],
    /// );
    /// # Ok::<(), cardadmin_card::apdu::ApduError>(())
    /// ```
    pub fn encode(&self, form: LengthForm) -> EncodedCommand {
        let mut out = EncodedCommand {
            bytes: [0; MAX_ENCODED],
            len: 0,
        };
        let data = self.data();
        let lc = data.len().to_be_bytes();
        let [.., lc_high, lc_low] = lc;
        let mut writer = Writer::new(&mut out.bytes);
        // Every write below fits MAX_ENCODED, which is sized for the longest case.
        let _ = (|| -> Result<(), Full> {
            writer.bytes(&self.header)?;
            match form {
                LengthForm::Short => {
                    if !data.is_empty() {
                        writer.bytes(&[lc_low])?;
                        writer.bytes(data)?;
                    }
                    if self.expects_data {
                        writer.bytes(&[0x00])?;
                    }
                }
                LengthForm::Extended => {
                    if !data.is_empty() {
                        writer.bytes(&[0x00, lc_high, lc_low])?;
                        writer.bytes(data)?;
                        if self.expects_data {
                            writer.bytes(&[0x00, 0x00])?;
                        }
                    } else if self.expects_data {
                        writer.bytes(&[0x00, 0x00, 0x00])?;
                    }
                }
            }
            Ok(())
        })();
        out.len = writer.len();
        out
    }
}

impl fmt::Debug for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [cla, ins, p1, p2] = self.header;
        write!(
            f,
            "Command {{ header: {cla:02X} {ins:02X} {p1:02X} {p2:02X}, data: {}, expects_data: {} }}",
            crate::plural::bytes(self.data_len),
            self.expects_data
        )
    }
}

impl Drop for Command {
    fn drop(&mut self) {
        self.data.zeroize();
    }
}

impl ZeroizeOnDrop for Command {}

/// A command's bytes, from [`Command::encode`]; wiped on drop like the command.
///
/// ```
/// use cardadmin_card::apdu::{Command, LengthForm};
///
/// let bytes = Command::new(0, 0xfd, 0, 0, &[])?.encode(LengthForm::Short);
/// assert_eq!(bytes.as_bytes(), [0, 0xfd, 0, 0]);
/// # Ok::<(), cardadmin_card::apdu::ApduError>(())
/// ```
#[derive(Clone)]
pub struct EncodedCommand {
    bytes: [u8; MAX_ENCODED],
    len: usize,
}

impl EncodedCommand {
    /// The bytes to send.
    ///
    /// ```
    /// use cardadmin_card::apdu::{Command, LengthForm};
    ///
    /// let bytes = Command::new(0, 0xfd, 0, 0, &[])?.encode(LengthForm::Extended);
    /// assert_eq!(bytes.as_bytes().len(), 4);
    /// # Ok::<(), cardadmin_card::apdu::ApduError>(())
    /// ```
    pub fn as_bytes(&self) -> &[u8] {
        self.bytes.get(..self.len).unwrap_or_default()
    }
}

impl fmt::Debug for EncodedCommand {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "EncodedCommand({} bytes)", self.len)
    }
}

impl Drop for EncodedCommand {
    fn drop(&mut self) {
        self.bytes.zeroize();
    }
}

impl ZeroizeOnDrop for EncodedCommand {}

/// A command APDU as received, borrowed from its bytes (the card's side).
///
/// ```
/// use cardadmin_card::apdu::{CommandApdu, LengthForm};
///
/// // Case 4 extended, as yubikit sends GENERAL AUTHENTICATE to a USB YubiKey with Le.
/// let command = CommandApdu::parse(&[0, 0x87, 3, 0x9b, 0, 0, 4, 0x7c, 2, 0x80, 0, 0, 0])?;
/// assert_eq!(command.form(), Some(LengthForm::Extended));
/// assert_eq!(command.le(), Some(65536));
/// # Ok::<(), cardadmin_card::apdu::ApduError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CommandApdu<'a> {
    header: [u8; 4],
    data: &'a [u8],
    le: Option<usize>,
    form: Option<LengthForm>,
}

impl<'a> CommandApdu<'a> {
    /// Parses a command in any of the ISO 7816-4 cases: 1 (header only), 2S/2E (`Le`),
    /// 3S/3E (`Lc` and data), 4S/4E (both). Lengths must add up exactly; an extended `Lc` of
    /// zero, or bytes left over, are errors.
    ///
    /// ```
    /// use cardadmin_card::apdu::{ApduError, CommandApdu};
    ///
    /// assert_eq!(
    ///     CommandApdu::parse(&[0, 0xa4, 4, 0, 5, 0xa0]).unwrap_err(),
    ///     ApduError::CommandLength { lc: 5, found: 1 },
    /// );
    /// assert_eq!(CommandApdu::parse(&[0, 0xa4]).unwrap_err(), ApduError::CommandTooShort { found: 2 });
    /// ```
    pub fn parse(bytes: &'a [u8]) -> Result<Self, ApduError> {
        let (header, body) = match bytes {
            [cla, ins, p1, p2, body @ ..] => ([*cla, *ins, *p1, *p2], body),
            _ => {
                return Err(ApduError::CommandTooShort { found: bytes.len() });
            }
        };
        let short_le = |byte: u8| if byte == 0 { 256 } else { usize::from(byte) };
        let extended = |high: u8, low: u8| usize::from(high) << 8 | usize::from(low);
        let extended_le = |high: u8, low: u8| match extended(high, low) {
            0 => 65536,
            le => le,
        };
        let command = |data, le, form| Self {
            header,
            data,
            le,
            form,
        };
        match body {
            // Case 1.
            [] => Ok(command(&[], None, None)),
            // Case 2S.
            [le] => Ok(command(&[], Some(short_le(*le)), Some(LengthForm::Short))),
            // Case 2E.
            [0, high, low] => Ok(command(
                &[],
                Some(extended_le(*high, *low)),
                Some(LengthForm::Extended),
            )),
            // Cases 3E and 4E.
            [0, high, low, rest @ ..] => {
                let lc = extended(*high, *low);
                if lc == 0 {
                    return Err(ApduError::ZeroExtendedLc);
                }
                let data = rest.get(..lc).ok_or(ApduError::CommandLength {
                    lc,
                    found: rest.len(),
                })?;
                match rest.get(lc..).unwrap_or_default() {
                    [] => Ok(command(data, None, Some(LengthForm::Extended))),
                    [high, low] => Ok(command(
                        data,
                        Some(extended_le(*high, *low)),
                        Some(LengthForm::Extended),
                    )),
                    _ => Err(ApduError::CommandLength {
                        lc,
                        found: rest.len(),
                    }),
                }
            }
            // Cases 3S and 4S (an Lc byte of 0 with other lengths is malformed).
            [lc, rest @ ..] => {
                let lc = usize::from(*lc);
                if lc == 0 {
                    return Err(ApduError::CommandLength {
                        lc,
                        found: rest.len(),
                    });
                }
                let data = rest.get(..lc).ok_or(ApduError::CommandLength {
                    lc,
                    found: rest.len(),
                })?;
                match rest.get(lc..).unwrap_or_default() {
                    [] => Ok(command(data, None, Some(LengthForm::Short))),
                    [le] => Ok(command(data, Some(short_le(*le)), Some(LengthForm::Short))),
                    _ => Err(ApduError::CommandLength {
                        lc,
                        found: rest.len(),
                    }),
                }
            }
        }
    }

    /// The class byte.
    ///
    /// ```
    /// use cardadmin_card::apdu::CommandApdu;
    ///
    /// assert_eq!(CommandApdu::parse(&[0x10, 0xdb, 0x3f, 0xff])?.cla(), 0x10);
    /// # Ok::<(), cardadmin_card::apdu::ApduError>(())
    /// ```
    pub fn cla(&self) -> u8 {
        self.header[0]
    }

    /// The instruction byte.
    ///
    /// ```
    /// use cardadmin_card::apdu::CommandApdu;
    ///
    /// assert_eq!(CommandApdu::parse(&[0, 0xfd, 0, 0])?.ins(), 0xfd);
    /// # Ok::<(), cardadmin_card::apdu::ApduError>(())
    /// ```
    pub fn ins(&self) -> u8 {
        self.header[1]
    }

    /// The first parameter byte.
    ///
    /// ```
    /// use cardadmin_card::apdu::CommandApdu;
    ///
    /// assert_eq!(CommandApdu::parse(&[0, 0x87, 0x0a, 0x9b])?.p1(), 0x0a);
    /// # Ok::<(), cardadmin_card::apdu::ApduError>(())
    /// ```
    pub fn p1(&self) -> u8 {
        self.header[2]
    }

    /// The second parameter byte.
    ///
    /// ```
    /// use cardadmin_card::apdu::CommandApdu;
    ///
    /// assert_eq!(CommandApdu::parse(&[0, 0x87, 0x0a, 0x9b])?.p2(), 0x9b);
    /// # Ok::<(), cardadmin_card::apdu::ApduError>(())
    /// ```
    pub fn p2(&self) -> u8 {
        self.header[3]
    }

    /// The data field (empty in cases 1 and 2).
    ///
    /// ```
    /// use cardadmin_card::apdu::CommandApdu;
    ///
    /// assert_eq!(CommandApdu::parse(&[0, 0x22, 0xc1, 0xa4, 1, 0x83])?.data(), &[0x83]);
    /// # Ok::<(), cardadmin_card::apdu::ApduError>(())
    /// ```
    pub fn data(&self) -> &'a [u8] {
        self.data
    }

    /// `Le` decoded: `None` when absent, otherwise 1 to 256 (short) or 1 to 65536 (extended),
    /// `00` meaning the maximum.
    ///
    /// ```
    /// use cardadmin_card::apdu::CommandApdu;
    ///
    /// assert_eq!(CommandApdu::parse(&[0, 0xfd, 0, 0, 0])?.le(), Some(256));
    /// assert_eq!(CommandApdu::parse(&[0, 0xfd, 0, 0])?.le(), None);
    /// # Ok::<(), cardadmin_card::apdu::ApduError>(())
    /// ```
    pub fn le(&self) -> Option<usize> {
        self.le
    }

    /// The length form used, or `None` for case 1 (header only), which has none.
    ///
    /// ```
    /// use cardadmin_card::apdu::{CommandApdu, LengthForm};
    ///
    /// assert_eq!(CommandApdu::parse(&[0, 0xfd, 0, 0, 0])?.form(), Some(LengthForm::Short));
    /// # Ok::<(), cardadmin_card::apdu::ApduError>(())
    /// ```
    pub fn form(&self) -> Option<LengthForm> {
        self.form
    }
}

/// A status word, SW1 SW2.
///
/// ```
/// use cardadmin_card::apdu::StatusWord;
///
/// let sw = StatusWord(0x63c2);
/// assert_eq!(sw.retries_left(), Some(2));
/// assert_eq!(sw.to_string(), "63C2");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct StatusWord(pub u16);

impl StatusWord {
    /// `9000`: success.
    pub const SUCCESS: Self = Self(0x9000);
    /// `6700`: wrong length.
    pub const WRONG_LENGTH: Self = Self(0x6700);
    /// `6982`: security status not satisfied (authenticate first).
    pub const SECURITY_STATUS_NOT_SATISFIED: Self = Self(0x6982);
    /// `6983`: authentication method blocked.
    pub const AUTH_METHOD_BLOCKED: Self = Self(0x6983);
    /// `6985`: conditions of use not satisfied (for example, no challenge outstanding).
    pub const CONDITIONS_NOT_SATISFIED: Self = Self(0x6985);
    /// `6A80`: incorrect parameters in the command data field.
    pub const WRONG_DATA: Self = Self(0x6a80);
    /// `6A82`: file or application not found.
    pub const NOT_FOUND: Self = Self(0x6a82);
    /// `6A86`: incorrect parameters P1-P2.
    pub const WRONG_P1_P2: Self = Self(0x6a86);
    /// `6A88`: referenced data (key) not found.
    pub const REFERENCE_NOT_FOUND: Self = Self(0x6a88);
    /// `6D00`: instruction not supported.
    pub const INS_NOT_SUPPORTED: Self = Self(0x6d00);
    /// `6E00`: class not supported.
    pub const CLA_NOT_SUPPORTED: Self = Self(0x6e00);

    /// `63Cx`: a failed verification with `x` tries left.
    ///
    /// ```
    /// use cardadmin_card::apdu::StatusWord;
    ///
    /// assert_eq!(StatusWord::retries(3), StatusWord(0x63c3));
    /// assert_eq!(StatusWord::retries(20), StatusWord(0x63cf)); // capped at 15
    /// ```
    pub const fn retries(left: u8) -> Self {
        let left = if left > 0x0f { 0x0f } else { left };
        Self(0x63c0 | left as u16)
    }

    /// For `63Cx`, the `x` tries left; `None` for any other status.
    ///
    /// ```
    /// use cardadmin_card::apdu::StatusWord;
    ///
    /// assert_eq!(StatusWord(0x63c0).retries_left(), Some(0));
    /// assert_eq!(StatusWord(0x9000).retries_left(), None);
    /// ```
    pub const fn retries_left(self) -> Option<u8> {
        if self.0 & 0xfff0 == 0x63c0 {
            Some((self.0 & 0x0f) as u8)
        } else {
            None
        }
    }

    /// SW1 and SW2.
    ///
    /// ```
    /// use cardadmin_card::apdu::StatusWord;
    ///
    /// assert_eq!(StatusWord::SUCCESS.to_bytes(), [0x90, 0x00]);
    /// ```
    pub const fn to_bytes(self) -> [u8; 2] {
        self.0.to_be_bytes()
    }
}

impl fmt::Display for StatusWord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04X}", self.0)
    }
}

/// A response APDU as received, borrowed from its bytes (the host's side): data, then the
/// status word.
///
/// ```
/// use cardadmin_card::apdu::{ResponseApdu, StatusWord};
///
/// let response = ResponseApdu::parse(&[0x05, 0x07, 0x02, 0x90, 0x00])?;
/// assert_eq!(response.data(), &[5, 7, 2]);
/// assert_eq!(response.status(), StatusWord::SUCCESS);
/// # Ok::<(), cardadmin_card::apdu::ApduError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ResponseApdu<'a> {
    data: &'a [u8],
    status: StatusWord,
}

impl<'a> ResponseApdu<'a> {
    /// Splits `bytes` into data and status word; fewer than 2 bytes, or more data than
    /// [`MAX_RESPONSE_DATA`], are errors.
    ///
    /// ```
    /// use cardadmin_card::apdu::{ApduError, ResponseApdu};
    ///
    /// assert_eq!(ResponseApdu::parse(&[0x90]).unwrap_err(), ApduError::ResponseTooShort { found: 1 });
    /// ```
    pub fn parse(bytes: &'a [u8]) -> Result<Self, ApduError> {
        match bytes {
            [data @ .., sw1, sw2] => {
                if data.len() > MAX_RESPONSE_DATA {
                    return Err(ApduError::ResponseTooLong {
                        max: MAX_RESPONSE_DATA,
                        found: data.len(),
                    });
                }
                Ok(Self {
                    data,
                    status: StatusWord(u16::from_be_bytes([*sw1, *sw2])),
                })
            }
            _ => Err(ApduError::ResponseTooShort { found: bytes.len() }),
        }
    }

    /// The data field.
    ///
    /// ```
    /// use cardadmin_card::apdu::ResponseApdu;
    ///
    /// assert!(ResponseApdu::parse(&[0x6d, 0x00])?.data().is_empty());
    /// # Ok::<(), cardadmin_card::apdu::ApduError>(())
    /// ```
    pub fn data(&self) -> &'a [u8] {
        self.data
    }

    /// The status word.
    ///
    /// ```
    /// use cardadmin_card::apdu::{ResponseApdu, StatusWord};
    ///
    /// assert_eq!(ResponseApdu::parse(&[0x69, 0x83])?.status(), StatusWord::AUTH_METHOD_BLOCKED);
    /// # Ok::<(), cardadmin_card::apdu::ApduError>(())
    /// ```
    pub fn status(&self) -> StatusWord {
        self.status
    }
}

/// A response APDU being sent (the card's side): up to [`MAX_RESPONSE_DATA`] bytes of data,
/// then the status word. Wiped on drop.
///
/// ```
/// use cardadmin_card::apdu::{CardReply, StatusWord};
///
/// let reply = CardReply::status(StatusWord::SUCCESS);
/// assert_eq!(reply.as_bytes(), [0x90, 0x00]);
/// assert_eq!(reply.status_word(), StatusWord::SUCCESS);
/// ```
#[derive(Clone)]
pub struct CardReply {
    bytes: [u8; MAX_RESPONSE_DATA + 2],
    len: usize,
}

impl CardReply {
    /// A reply with no data.
    ///
    /// ```
    /// use cardadmin_card::apdu::{CardReply, StatusWord};
    ///
    /// assert_eq!(CardReply::status(StatusWord(0x6a82)).as_bytes(), [0x6a, 0x82]);
    /// ```
    pub fn status(status: StatusWord) -> Self {
        let mut reply = Self {
            bytes: [0; MAX_RESPONSE_DATA + 2],
            len: 2,
        };
        let [sw1, sw2] = status.to_bytes();
        reply.bytes[0] = sw1;
        reply.bytes[1] = sw2;
        reply
    }

    /// A reply with `data` (at most [`MAX_RESPONSE_DATA`] bytes; more is an error).
    ///
    /// ```
    /// use cardadmin_card::apdu::{CardReply, StatusWord};
    ///
    /// let reply = CardReply::with_data(&[5, 7, 2], StatusWord::SUCCESS)?;
    /// assert_eq!(reply.as_bytes(), [5, 7, 2, 0x90, 0x00]);
    /// assert_eq!(reply.data(), [5, 7, 2]);
    /// # Ok::<(), cardadmin_card::apdu::ApduError>(())
    /// ```
    pub fn with_data(data: &[u8], status: StatusWord) -> Result<Self, ApduError> {
        let too_long = ApduError::ResponseTooLong {
            max: MAX_RESPONSE_DATA,
            found: data.len(),
        };
        let mut reply = Self {
            bytes: [0; MAX_RESPONSE_DATA + 2],
            len: 0,
        };
        let mut writer = Writer::new(&mut reply.bytes);
        if data.len() > MAX_RESPONSE_DATA {
            return Err(too_long);
        }
        writer.bytes(data).map_err(|_| too_long)?;
        writer.bytes(&status.to_bytes()).map_err(|_| too_long)?;
        reply.len = writer.len();
        Ok(reply)
    }

    /// The whole response: data, then SW1 SW2.
    ///
    /// ```
    /// use cardadmin_card::apdu::{CardReply, StatusWord};
    ///
    /// assert_eq!(CardReply::status(StatusWord::retries(2)).as_bytes(), [0x63, 0xc2]);
    /// ```
    pub fn as_bytes(&self) -> &[u8] {
        self.bytes.get(..self.len).unwrap_or_default()
    }

    /// The data field.
    ///
    /// ```
    /// use cardadmin_card::apdu::{CardReply, StatusWord};
    ///
    /// assert!(CardReply::status(StatusWord::SUCCESS).data().is_empty());
    /// ```
    pub fn data(&self) -> &[u8] {
        self.bytes
            .get(..self.len.saturating_sub(2))
            .unwrap_or_default()
    }

    /// The status word.
    ///
    /// ```
    /// use cardadmin_card::apdu::{CardReply, StatusWord};
    ///
    /// assert_eq!(CardReply::status(StatusWord(0x6982)).status_word().0, 0x6982);
    /// ```
    pub fn status_word(&self) -> StatusWord {
        match self.as_bytes() {
            [.., sw1, sw2] => StatusWord(u16::from_be_bytes([*sw1, *sw2])),
            _ => StatusWord(0x6f00),
        }
    }
}

impl fmt::Debug for CardReply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "CardReply {{ data: {}, status: {} }}",
            crate::plural::bytes(self.data().len()),
            self.status_word()
        )
    }
}

impl Drop for CardReply {
    fn drop(&mut self) {
        self.bytes.zeroize();
    }
}

impl ZeroizeOnDrop for CardReply {}

/// A command or response APDU was malformed.
///
/// ```
/// use cardadmin_card::apdu::{ApduError, CommandApdu};
///
/// let err = CommandApdu::parse(&[0, 0x87, 3, 0x9b, 4, 0x7c, 2, 0x80]).unwrap_err();
/// assert_eq!(err, ApduError::CommandLength { lc: 4, found: 3 });
/// assert_eq!(err.to_string(), "command APDU announces Lc = 4 data bytes, but 3 bytes follow the Lc field");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ApduError {
    /// Fewer than the 4 header bytes.
    CommandTooShort {
        /// The bytes received.
        found: usize,
    },
    /// The bytes after `Lc` were neither the data nor the data and one `Le`.
    CommandLength {
        /// The announced data length.
        lc: usize,
        /// The bytes that followed the `Lc` field.
        found: usize,
    },
    /// An extended `Lc` of `00 00`, which ISO 7816-4 does not allow.
    ZeroExtendedLc,
    /// Command data longer than the crate handles.
    DataTooLong {
        /// The longest accepted ([`MAX_COMMAND_DATA`]).
        max: usize,
        /// The length given.
        found: usize,
    },
    /// A response shorter than its status word.
    ResponseTooShort {
        /// The bytes received.
        found: usize,
    },
    /// A response with more data than the crate handles.
    ResponseTooLong {
        /// The longest accepted ([`MAX_RESPONSE_DATA`]).
        max: usize,
        /// The data bytes received.
        found: usize,
    },
}

impl fmt::Display for ApduError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::CommandTooShort { found } => write!(
                f,
                "command APDU must have at least 4 header bytes, got {found}"
            ),
            Self::CommandLength { lc, found } => write!(
                f,
                "command APDU announces Lc = {lc} data bytes, but {} {} the Lc field",
                crate::plural::bytes(found),
                if found == 1 { "follows" } else { "follow" }
            ),
            Self::ZeroExtendedLc => f.write_str("command APDU has an extended Lc of 00 00"),
            Self::DataTooLong { max, found } => {
                write!(f, "command data must be at most {max} bytes, got {found}")
            }
            Self::ResponseTooShort { found } => write!(
                f,
                "response APDU must end in a 2-byte status word, got {}",
                crate::plural::bytes(found)
            ),
            Self::ResponseTooLong { max, found } => {
                write!(f, "response data must be at most {max} bytes, got {found}")
            }
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for ApduError {}
