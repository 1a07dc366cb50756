//! The card operations the commands and the enrollment share: select, authenticate, set a key,
//! verify a PIN, each one step with its `step ...: ok` line.

use cardadmin::rng::OsRng;
use cardadmin::AdminKey;
use cardadmin_card::apdu::Command;
use cardadmin_card::auth::{gids, piv, yubikey};
use zeroize::Zeroizing;

use crate::reader::{expect_success, flow, Session, Step, StepError};

pub fn piv_select(card: &Session<'_>) -> Result<(), StepError> {
    let step = "select PIV";
    let answer = card.send(step, &piv::select())?;
    expect_success(step, &answer)?;
    println!("step {step}: ok");
    Ok(())
}

pub fn piv_authenticate(card: &Session<'_>, key: &AdminKey, mutual: bool) -> Result<(), StepError> {
    let kind = if mutual { "mutual" } else { "single" };
    let step = format!("PIV {kind} authenticate ({})", key.algorithm());
    if mutual {
        let flow_ = piv::MutualAuth::new(key);
        let answer = card.send(&step, flow_.command())?;
        let flow_ = flow_
            .receive_witness(answer.as_slice(), &mut OsRng)
            .map_err(|err| flow(&step, err))?;
        let answer = card.send(&step, flow_.command())?;
        flow_.finish(&answer).map_err(|err| flow(&step, err))?;
    } else {
        let flow_ = piv::SingleAuth::new(key);
        let answer = card.send(&step, flow_.command())?;
        let flow_ = flow_
            .receive_challenge(&answer)
            .map_err(|err| flow(&step, err))?;
        let answer = card.send(&step, flow_.command())?;
        flow_.finish(&answer).map_err(|err| flow(&step, err))?;
    }
    println!(
        "step {step}: ok, the card accepted the management key (check value {})",
        key.check_value()
    );
    Ok(())
}

pub fn piv_set_management_key(
    card: &Session<'_>,
    new_key: &AdminKey,
    touch: bool,
) -> Result<(), StepError> {
    let step = "PIV set management key";
    // A weak or well-known key is refused before anything is sent (issue #14).
    let command =
        yubikey::set_management_key(new_key, touch).map_err(|err| StepError::new(step, err))?;
    let answer = card.send(step, &command)?;
    yubikey::check_set_management_key(&answer).map_err(|err| flow(step, err))?;
    println!(
        "step {step}: ok, the card's management key is now {} with check value {}",
        new_key.algorithm(),
        new_key.check_value()
    );
    Ok(())
}

/// The PIN padded with `FF` to 8 bytes, as PIV's VERIFY wants it.
pub fn padded_pin(step: &str, pin: &str) -> Result<Zeroizing<[u8; 8]>, StepError> {
    let bytes = pin.as_bytes();
    if !(6..=8).contains(&bytes.len()) {
        return Err(StepError::new(
            step,
            format!(
                "a PIN of {}: PIV PINs have 6 to 8",
                crate::text::count(bytes.len(), "byte", "bytes")
            ),
        ));
    }
    let mut padded = Zeroizing::new([0xff; 8]);
    padded
        .iter_mut()
        .zip(bytes)
        .for_each(|(to, from)| *to = *from);
    Ok(padded)
}

pub fn verify_pin(card: &Session<'_>, step: &str, pin: &str) -> Result<(), StepError> {
    let padded = padded_pin(step, pin)?;
    let command = Command::new(0x00, 0x20, 0x00, 0x80, padded.as_slice()).step(step)?;
    let answer = card.send(step, &command)?;
    expect_success(step, &answer)?;
    println!("step {step}: ok, the card accepted the PIN");
    Ok(())
}

pub fn gids_select(card: &Session<'_>) -> Result<(), StepError> {
    let step = "select GIDS";
    let answer = card.send(step, &gids::select())?;
    expect_success(step, &answer)?;
    println!("step {step}: ok");
    Ok(())
}

pub fn gids_authenticate(card: &Session<'_>, key: &AdminKey) -> Result<(), StepError> {
    let step = format!("GIDS mutual authenticate ({})", key.algorithm());
    let flow_ = gids::MutualAuth::new(key, &mut OsRng).map_err(|err| flow(&step, err))?;
    let answer = card.send(&step, flow_.command())?;
    let flow_ = flow_
        .receive_mse_set(&answer)
        .map_err(|err| flow(&step, err))?;
    let answer = card.send(&step, flow_.command())?;
    let flow_ = flow_
        .receive_challenge(&answer, &mut OsRng)
        .map_err(|err| flow(&step, err))?;
    let answer = card.send(&step, flow_.command())?;
    flow_.finish(&answer).map_err(|err| flow(&step, err))?;
    println!("step {step}: ok, the card and this host proved the admin key (check value {}) to each other", key.check_value());
    Ok(())
}
