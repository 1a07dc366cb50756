//! PC/SC: the readers, a connection to a card, and the error every step reports.

use std::ffi::{CStr, CString};
use std::fmt;

use cardadmin_card::apdu::{Command, LengthForm, ResponseApdu, StatusWord};
use cardadmin_card::auth::AuthError;
use zeroize::Zeroizing;

/// A step that failed: its name and what went wrong (the card's status word when the card
/// refused). Never holds a key or a PIN.
#[derive(Debug)]
pub struct StepError {
    step: String,
    what: String,
}

impl StepError {
    pub fn new(step: &str, what: impl fmt::Display) -> Self {
        Self {
            step: step.to_owned(),
            what: what.to_string(),
        }
    }

    /// The same error with a note on the state it leaves behind.
    pub fn note(mut self, note: &str) -> Self {
        self.what = format!("{}; {note}", self.what);
        self
    }
}

impl fmt::Display for StepError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "step {} failed: {}", self.step, self.what)
    }
}

impl std::error::Error for StepError {}

/// Extension: name the step on any error.
pub trait Step<T> {
    fn step(self, name: &str) -> Result<T, StepError>;
}

impl<T, E: fmt::Display> Step<T> for Result<T, E> {
    fn step(self, name: &str) -> Result<T, StepError> {
        self.map_err(|err| StepError::new(name, err))
    }
}

/// The readers pcscd knows, each with whether a card is in it.
pub fn readers() -> Result<Vec<(String, bool)>, StepError> {
    let context = pcsc::Context::establish(pcsc::Scope::User).step("establish PC/SC context")?;
    let names = reader_names(&context)?;
    let mut states: Vec<pcsc::ReaderState> = names
        .iter()
        .map(|name| pcsc::ReaderState::new(name.clone(), pcsc::State::UNAWARE))
        .collect();
    if !states.is_empty() {
        context
            .get_status_change(std::time::Duration::ZERO, &mut states)
            .step("read reader states")?;
    }
    Ok(states
        .iter()
        .map(|state| {
            (
                state.name().to_string_lossy().into_owned(),
                state.event_state().contains(pcsc::State::PRESENT),
            )
        })
        .collect())
}

fn reader_names(context: &pcsc::Context) -> Result<Vec<CString>, StepError> {
    match context.list_readers_owned() {
        Ok(names) => Ok(names),
        Err(pcsc::Error::NoReadersAvailable) => Ok(Vec::new()),
        Err(err) => Err(StepError::new("list readers", err)),
    }
}

/// A card in a reader, connected in shared mode. Commands go to it only through
/// [`Connection::hold`], inside a PC/SC transaction.
pub struct Connection {
    card: pcsc::Card,
    pub reader: String,
}

impl Connection {
    /// Connects to the card in `reader`, or in the one reader holding a card.
    pub fn open(reader: Option<&str>) -> Result<Self, StepError> {
        let step = "connect to the card";
        let context = pcsc::Context::establish(pcsc::Scope::User).step(step)?;
        let name = match reader {
            Some(name) => CString::new(name).step(step)?,
            None => {
                let with_card: Vec<String> = readers()?
                    .into_iter()
                    .filter(|(_, present)| *present)
                    .map(|(name, _)| name)
                    .collect();
                match with_card.as_slice() {
                    [one] => CString::new(one.as_str()).step(step)?,
                    [] => return Err(StepError::new(step, "no reader holds a card")),
                    many => {
                        return Err(StepError::new(
                            step,
                            format!(
                                "{} readers hold a card ({}); choose one with --reader",
                                many.len(),
                                many.join(", ")
                            ),
                        ))
                    }
                }
            }
        };
        let card = context
            .connect(&name, pcsc::ShareMode::Shared, pcsc::Protocols::ANY)
            .map_err(|err| {
                StepError::new(step, format!("reader {:?}: {err}", name.to_string_lossy()))
            })?;
        Ok(Self {
            card,
            reader: CStr::to_string_lossy(&name).into_owned(),
        })
    }

    /// Runs `flow` inside a PC/SC transaction on the card, then ends the transaction with a
    /// card reset.
    ///
    /// Shared mode lets other applications (a smart-card daemon, a browser's PKCS#11 module)
    /// keep their connections, but between two APDUs of a flow any of them could send its
    /// own: a SELECT that drops the challenge the card just gave, or, right after the card
    /// accepted the admin key, a command that rides on that authentication. The transaction
    /// (`SCardBeginTransaction`) keeps every other application's commands out until it ends
    /// (pcscd holds them back; if another application holds a transaction, this one waits for
    /// it); the reset at its end (`SCARD_RESET_CARD`) clears the security state the flow
    /// built (admin key authenticated, PIN verified), so no one inherits it.
    pub fn hold<T>(
        &mut self,
        flow: impl FnOnce(&Session<'_>) -> Result<T, StepError>,
    ) -> Result<T, StepError> {
        let transaction = self.card.transaction().map_err(|err| {
            StepError::new(
                "hold the card",
                format!("PC/SC transaction on reader {:?}: {err}", self.reader),
            )
        })?;
        let session = Session { transaction };
        let result = flow(&session);
        if let Err((_, err)) = session.transaction.end(pcsc::Disposition::ResetCard) {
            // The connection's own drop disconnects with a reset, so the card is still reset
            // when the command exits; the flow's outcome stands.
            eprintln!(
                "card-admin: warning: ending the PC/SC transaction with a card reset failed ({err}); \
                 the card is reset when the connection closes"
            );
        }
        result
    }
}

/// The card while a [`Connection::hold`] transaction runs: every APDU of a flow goes through
/// it, so none goes outside the transaction.
pub struct Session<'card> {
    transaction: pcsc::Transaction<'card>,
}

impl Session<'_> {
    /// Sends `command` and returns the whole response (data and status word), following
    /// `61xx` (more data: GET RESPONSE) and `6Cxx` (wrong Le: resend with it). The buffers are
    /// wiped: commands and answers may hold keys or PINs.
    pub fn transmit(&self, step: &str, command: &[u8]) -> Result<Zeroizing<Vec<u8>>, StepError> {
        let mut buffer = Zeroizing::new(vec![0u8; pcsc::MAX_BUFFER_SIZE_EXTENDED]);
        let mut out = Zeroizing::new(Vec::new());
        let mut next = Zeroizing::new(command.to_vec());
        for _ in 0..64 {
            let answer = self
                .transaction
                .transmit(&next, &mut buffer)
                .map_err(|err| StepError::new(step, format!("PC/SC transmit: {err}")))?;
            match answer {
                [data @ .., 0x61, more] => {
                    out.extend_from_slice(data);
                    *next = vec![0x00, 0xc0, 0x00, 0x00, *more];
                }
                [0x6c, le] if next.len() >= 4 => {
                    let mut again = next.get(..4).unwrap_or_default().to_vec();
                    again.push(*le);
                    *next = again;
                }
                whole => {
                    out.extend_from_slice(whole);
                    return Ok(out);
                }
            }
        }
        Err(StepError::new(step, "the card kept answering 61xx/6Cxx"))
    }

    /// The card's ATR (answer to reset), as the reader reports it.
    pub fn atr(&self, step: &str) -> Result<Vec<u8>, StepError> {
        let status = self
            .transaction
            .status2_owned()
            .map_err(|err| StepError::new(step, format!("PC/SC status (the ATR): {err}")))?;
        Ok(status.atr().to_vec())
    }

    /// Sends a `cardadmin` command in its short form.
    pub fn send(&self, step: &str, command: &Command) -> Result<Zeroizing<Vec<u8>>, StepError> {
        self.transmit(step, command.encode(LengthForm::Short).as_bytes())
    }
}

/// The status word of an answer, for messages.
pub fn status_of(answer: &[u8]) -> Option<StatusWord> {
    ResponseApdu::parse(answer)
        .ok()
        .map(|response| response.status())
}

/// A flow error with the step's name (the error's text already names the status word).
pub fn flow(step: &str, err: AuthError) -> StepError {
    StepError::new(step, err)
}

/// Requires `9000`; otherwise names the status word, with its meaning when it has a common one.
pub fn expect_success(step: &str, answer: &[u8]) -> Result<(), StepError> {
    match status_of(answer) {
        Some(StatusWord::SUCCESS) => Ok(()),
        Some(status) => Err(StepError::new(
            step,
            format!("the card answered {status}{}", meaning(status)),
        )),
        None => Err(StepError::new(step, "the card's answer has no status word")),
    }
}

/// A status word's meaning for the commands this tool sends.
pub fn meaning(status: StatusWord) -> String {
    if let Some(left) = status.retries_left() {
        let tries = if left == 1 { "try" } else { "tries" };
        return format!(" (refused, {left} {tries} left)");
    }
    match status.0 {
        0x6983 => " (blocked)".into(),
        0x6982 => " (security status not satisfied: authenticate first)".into(),
        0x6a80 => " (wrong data)".into(),
        0x6a82 => " (not found)".into(),
        0x6a86 => " (wrong P1 P2)".into(),
        0x6a88 => " (reference not found)".into(),
        0x6d00 => " (instruction not supported)".into(),
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_try_left_is_singular() {
        assert_eq!(meaning(StatusWord(0x63c1)), " (refused, 1 try left)");
        assert_eq!(meaning(StatusWord(0x63c2)), " (refused, 2 tries left)");
        assert_eq!(meaning(StatusWord(0x63c0)), " (refused, 0 tries left)");
    }
}
