//! The card layer's fuzz properties (`cardadmin-card`, issue #11): the APDU and TLV parsers,
//! the host flows' answer parsers, the card-side parsers, and the software card, host and card
//! side.

use cardadmin::{AdminKey, Algorithm};
use cardadmin_card::apdu::{
    Command, CommandApdu, LengthForm, ResponseApdu, StatusWord, Tlv, TlvError,
};
use cardadmin_card::auth::{gids, piv, yubikey, AuthError};
use cardadmin_card::soft_card::{SoftCard, WrongKeyStatus};

use super::base::{Check, Exhausted, FuzzRng};

/// The card layer's targets, by name, for the corpus replay.
pub const TARGETS: [(&str, Check); 4] = [
    ("parse_apdu", parse_apdu),
    ("host_answers", host_answers),
    ("card_parsers", card_parsers),
    ("soft_card", soft_card),
];

/// The reference reading of a command APDU: ISO 7816-4's seven cases by length arithmetic.
/// Returns (data range, Le present, extended).
fn reference_command(bytes: &[u8]) -> Option<(core::ops::Range<usize>, bool, bool)> {
    let n = bytes.len();
    if n < 4 {
        return None;
    }
    if n == 4 {
        return Some((4..4, false, false));
    }
    if n == 5 {
        return Some((5..5, true, false));
    }
    let b4 = bytes[4] as usize;
    if b4 != 0 {
        if n == 5 + b4 {
            return Some((5..5 + b4, false, false));
        }
        if n == 6 + b4 {
            return Some((5..5 + b4, true, false));
        }
        return None;
    }
    if n < 7 {
        return None;
    }
    if n == 7 {
        return Some((7..7, true, true));
    }
    let lc = (bytes[5] as usize) << 8 | bytes[6] as usize;
    if lc == 0 {
        return None;
    }
    if n == 7 + lc {
        return Some((7..7 + lc, false, true));
    }
    if n == 9 + lc {
        return Some((7..7 + lc, true, true));
    }
    None
}

/// `CommandApdu::parse` accepts exactly what the reference accepts, with the same fields, and
/// re-encoding what it read with `Command::encode` gives the input back (when the data fits a
/// command and `Le` asks for the maximum); `ResponseApdu::parse` and `Tlv::parse` agree with
/// their definitions.
pub fn parse_apdu(data: &[u8]) {
    let parsed = CommandApdu::parse(data);
    match (parsed, reference_command(data)) {
        (Ok(command), Some((range, has_le, extended))) => {
            assert_eq!(command.data(), &data[range]);
            assert_eq!(command.le().is_some(), has_le);
            assert_eq!(
                command.form(),
                (data.len() > 4).then_some(if extended {
                    LengthForm::Extended
                } else {
                    LengthForm::Short
                })
            );
            let le_is_max = matches!(
                (command.le(), extended),
                (None, _) | (Some(256), false) | (Some(65536), true)
            );
            if let (Ok(rebuilt), true, Some(form)) = (
                Command::new(
                    command.cla(),
                    command.ins(),
                    command.p1(),
                    command.p2(),
                    command.data(),
                ),
                le_is_max,
                command.form(),
            ) {
                let rebuilt = if has_le {
                    rebuilt.expecting_data()
                } else {
                    rebuilt
                };
                assert_eq!(
                    rebuilt.encode(form).as_bytes(),
                    data,
                    "re-encoding {data:02x?}"
                );
            }
        }
        (Err(err), None) => assert!(!err.to_string().is_empty()),
        (parsed, reference) => {
            panic!("parse {parsed:?} but reference {reference:?} for {data:02x?}")
        }
    }

    match ResponseApdu::parse(data) {
        Ok(response) => {
            assert!((2..=258).contains(&data.len()));
            assert_eq!(response.data(), &data[..data.len() - 2]);
        }
        Err(_) => assert!(data.len() < 2 || data.len() > 258),
    }

    if let Ok((tlv, rest)) = Tlv::parse(data) {
        let consumed = data.len() - rest.len();
        let value_len = tlv.value().len();
        let length_len = match value_len {
            0..=0x7f => 1,
            0x80..=0xff => 2,
            _ => 3,
        };
        let tag_len = consumed - value_len - length_len;
        assert!((1..=3).contains(&tag_len), "tag of {tag_len} bytes");
        let tag_bytes = &tlv.tag().to_be_bytes()[4 - tag_len..];
        assert_eq!(&data[..tag_len], tag_bytes);
        assert_eq!(&data[consumed - value_len..consumed], tlv.value());
        assert!(
            tag_is_minimal(tag_bytes),
            "non-minimal tag {tag_bytes:02x?} accepted"
        );
    }
    if let Err(TlvError::NonMinimalTag { tag }) = Tlv::parse(data) {
        let tag_len = if tag > 0xff { 2 } else { 1 };
        let tag_bytes = &tag.to_be_bytes()[4 - tag_len..];
        assert_eq!(&data[..tag_len], tag_bytes);
        // The refused bytes cannot start a minimal tag, whatever follows them.
        let second = data[1];
        assert!(
            second < 0x1f || second == 0x80,
            "minimal tag {data:02x?} refused"
        );
    }
}

/// X.690 8.1.2: a tag of two or three bytes is minimal when its number needs them (31 and up
/// for two bytes, 128 and up for three: the first subsequent byte is not `80`).
fn tag_is_minimal(tag: &[u8]) -> bool {
    let number = tag
        .iter()
        .skip(1)
        .fold(0u32, |number, byte| number << 7 | u32::from(byte & 0x7f));
    match tag.len() {
        1 => true,
        2 => number >= 31,
        _ => number >= 128,
    }
}

fn key_for(algorithm: Algorithm) -> AdminKey {
    AdminKey::new(algorithm, &[0x42u8; 32][..algorithm.key_len()]).unwrap()
}

/// `7C L tag n <n bytes>` then `90 00`, with `n` = `len`: the only shape a host flow step may
/// accept.
fn is_nested(answer: &[u8], tag: u8, len: usize) -> bool {
    answer.len() == 4 + len + 2
        && answer[0] == 0x7c
        && answer[1] as usize == 2 + len
        && answer[2] == tag
        && answer[3] as usize == len
        && answer[answer.len() - 2..] == [0x90, 0x00]
}

/// Arbitrary bytes as the card's answer at every step of every host flow, for every algorithm:
/// never a panic, and `Ok` only for the exact shape the step expects; a status word other
/// than `9000` gives the matching error.
pub fn host_answers(data: &[u8]) {
    for algorithm in Algorithm::ALL {
        let key = key_for(algorithm);
        let block = algorithm.block_len();

        let single = piv::SingleAuth::new(&key).receive_challenge(data);
        assert_eq!(
            single.is_ok(),
            is_nested(data, 0x81, block),
            "single {algorithm} {data:02x?}"
        );
        if let Ok(step) = single {
            let _ = step.command().encode(LengthForm::Short);
        }
        let ok = piv::SingleAuth::new(&key)
            .receive_challenge(
                &[0x7c, 2 + block as u8, 0x81, block as u8]
                    .iter()
                    .copied()
                    .chain(vec![0; block])
                    .chain([0x90, 0x00])
                    .collect::<Vec<_>>(),
            )
            .unwrap()
            .finish(data);
        assert_eq!(ok.is_ok(), data == [0x90, 0x00]);
        if let (Err(err), Ok(response)) = (ok, ResponseApdu::parse(data)) {
            check_status_error(err, response.status());
        }

        let mut rng = FuzzRng::new(data, Exhausted::Zeros);
        let mutual = piv::MutualAuth::new(&key).receive_witness(data, &mut rng);
        assert_eq!(
            mutual.is_ok(),
            is_nested(data, 0x80, block),
            "mutual {algorithm} {data:02x?}"
        );
        let witness: Vec<u8> = [0x7c, 2 + block as u8, 0x80, block as u8]
            .iter()
            .copied()
            .chain(vec![0; block])
            .chain([0x90, 0x00])
            .collect();
        let step = piv::MutualAuth::new(&key)
            .receive_witness(&witness, &mut rng)
            .unwrap();
        let finish = step.finish(data);
        if finish.is_ok() {
            assert!(is_nested(data, 0x82, block));
        }

        let mut rng = FuzzRng::new(data, Exhausted::Zeros);
        let flow = gids::MutualAuth::new(&key, &mut rng).unwrap();
        let mse = flow.receive_mse_set(data);
        assert_eq!(mse.is_ok(), data == [0x90, 0x00]);
        let flow = gids::MutualAuth::new(&key, &mut rng)
            .unwrap()
            .receive_mse_set(&[0x90, 0x00])
            .unwrap();
        let r1 = flow.command().data()[4..].to_vec();
        let challenge = flow.receive_challenge(data, &mut rng);
        // The host's own R1 played back as R2 is a reflection, refused before encrypting.
        let reflected = is_nested(data, 0x81, 16) && data[4..20] == r1[..];
        assert_eq!(
            challenge.is_ok(),
            is_nested(data, 0x81, 16) && !reflected,
            "gids {algorithm} {data:02x?}"
        );
        if reflected {
            assert_eq!(challenge.unwrap_err(), AuthError::ReflectedChallenge);
        }
        let flow = gids::MutualAuth::new(&key, &mut rng)
            .unwrap()
            .receive_mse_set(&[0x90, 0x00])
            .unwrap();
        let r1 = flow.command().data()[4..].to_vec();
        let r2: Vec<u8> = [0x7c, 0x12, 0x81, 0x10]
            .iter()
            .copied()
            .chain(r1.iter().map(|byte| !byte))
            .chain([0x90, 0x00])
            .collect();
        let step = flow.receive_challenge(&r2, &mut rng).unwrap();
        if step.finish(data).is_ok() {
            assert!(is_nested(data, 0x82, 32 + block));
        }
    }

    if yubikey::ManagementKeyMetadata::parse(data).is_ok() {
        assert_eq!(&data[data.len() - 2..], [0x90, 0x00]);
    }
    match yubikey::management_key_algorithm(data) {
        Ok(_) => {}
        Err(err) => assert!(!err.to_string().is_empty()),
    }
    if let Ok(version) = yubikey::parse_version(data) {
        assert_eq!(
            data,
            [
                version.major(),
                version.minor(),
                version.patch(),
                0x90,
                0x00
            ]
        );
        assert_eq!(
            version.supports_aes_management_key(),
            (version.major(), version.minor()) >= (5, 4)
        );
    }
}

fn check_status_error(err: AuthError, status: StatusWord) {
    match err {
        AuthError::WrongKey {
            retries_left: Some(retries_left),
        } => assert_eq!(status.retries_left(), Some(retries_left)),
        // 6982 in answer to a cryptogram: the card refused it, with no count.
        AuthError::WrongKey { retries_left: None } => {
            assert_eq!(status, StatusWord::SECURITY_STATUS_NOT_SATISFIED)
        }
        AuthError::Blocked => assert_eq!(status, StatusWord::AUTH_METHOD_BLOCKED),
        AuthError::SecurityStatusNotSatisfied => {
            assert_eq!(status, StatusWord::SECURITY_STATUS_NOT_SATISFIED)
        }
        AuthError::Status { found } => assert_eq!(found, status),
        AuthError::UnexpectedData { .. } => assert_eq!(status, StatusWord::SUCCESS),
        other => panic!("unexpected error {other:?} for status {status}"),
    }
}

/// The card-side parsers on arbitrary data: never a panic, and what they accept re-encodes to
/// the input (PIV and GIDS GENERAL AUTHENTICATE, SET MANAGEMENT KEY, PUT KEY).
pub fn card_parsers(data: &[u8]) {
    for block in [8, 16] {
        if let Ok(request) = piv::parse_general_authenticate(data, block) {
            let mut out = vec![];
            match request {
                piv::GeneralAuthenticate::ChallengeRequest => out.extend([0x7c, 2, 0x81, 0]),
                piv::GeneralAuthenticate::WitnessRequest => out.extend([0x7c, 2, 0x80, 0]),
                piv::GeneralAuthenticate::Response(r) => {
                    assert_eq!(r.len(), block);
                    out.extend([0x7c, 2 + block as u8, 0x82, block as u8]);
                    out.extend(r);
                }
                piv::GeneralAuthenticate::WitnessAndChallenge { witness, challenge } => {
                    assert_eq!((witness.len(), challenge.len()), (block, block));
                    out.extend([0x7c, 4 + 2 * block as u8, 0x80, block as u8]);
                    out.extend(witness);
                    out.extend([0x81, block as u8]);
                    out.extend(challenge);
                }
                _ => {}
            }
            assert_eq!(out, data);
        }
        if let Ok(request) = gids::parse_general_authenticate(data, block) {
            let (tag, value) = match request {
                gids::GeneralAuthenticate::Challenge(r1) => (0x81, r1),
                gids::GeneralAuthenticate::Cryptogram(c) => (0x82, c),
                _ => continue,
            };
            let mut out = vec![0x7c, 2 + value.len() as u8, tag, value.len() as u8];
            out.extend(value);
            assert_eq!(out, data);
        }
    }
    let (p1, p2, body) = match data {
        [p1, p2, body @ ..] => (*p1, *p2, body),
        _ => return,
    };
    if let Ok(reference) = gids::parse_mse_set(p1, p2, body) {
        assert_eq!(data, [0xc1, 0xa4, 0x83, 0x01, reference]);
    }
    if let Ok((key, touch)) = yubikey::parse_set_management_key(p1, p2, body) {
        let command = yubikey::set_management_key_allowing_weak(&key, touch);
        assert_eq!((command.p1(), command.p2()), (p1, p2));
        // The checked form refuses exactly what the audit finds, and otherwise agrees.
        match yubikey::set_management_key(&key, touch) {
            Ok(checked) => {
                assert!(key.audit().is_clean());
                assert_eq!(checked.data(), command.data());
            }
            Err(err) => assert!(key.audit().findings().any(|f| f == err.finding())),
        }
        // 0x00 is read as 3DES and written as 03.
        assert_eq!(command.data()[1..], body[1..]);
        assert_eq!(Algorithm::from_piv_id(body[0]), Some(key.algorithm()));
    }
    if let Ok(put) = gids::PutKey::parse(p1, p2, body) {
        let key_len = put.key().len();
        assert!(body.len() >= key_len + 12);
        if let Ok(key) = AdminKey::new(Algorithm::Aes128, put.key()) {
            if key.check_value().as_bytes() == put.check_value() && put.key_reference() == 0x80 {
                assert_eq!(gids::put_key_allowing_weak(&key).data(), body);
                assert_eq!(gids::put_key(&key).is_ok(), key.audit().is_clean());
            }
        }
    }
}

/// Arbitrary command APDUs (length-prefixed chunks of the input) to a software card of every
/// algorithm: never a panic, every answer ends in a status word, `63Cx` always reports the
/// counter the command is about (the key's for GENERAL AUTHENTICATE, the PIN's for VERIFY, the
/// PIN's or PUK's for CHANGE REFERENCE DATA, the PUK's for RESET RETRY COUNTER) and comes from
/// no other command, the key's counter never rises without a successful authentication, and
/// `6983` comes only from a blocked key, PIN or PUK.
pub fn soft_card(data: &[u8]) {
    let (first, commands) = match data.split_first() {
        Some((first, rest)) => (*first, rest),
        None => return,
    };
    let algorithm = Algorithm::ALL[usize::from(first % 4)];
    // Bit 2 of the first byte: the YubiKey-like mode (6982 for a wrong key, no counter).
    let no_counter = first & 4 != 0;
    let mode = if no_counter {
        WrongKeyStatus::SecurityStatusNotSatisfied
    } else {
        WrongKeyStatus::Retries
    };
    let mut card = SoftCard::new(key_for(algorithm), FuzzRng::new(data, Exhausted::Cycle))
        .with_wrong_key_status(mode);
    let mut rest = commands;
    while let Some((&len, after)) = rest.split_first() {
        let len = usize::from(len).min(after.len());
        let (command, after) = after.split_at(len);
        rest = after;
        let before = card.retries_left();
        let answer = card.process(command);
        let bytes = answer.as_bytes();
        assert!(bytes.len() >= 2 && bytes.len() <= 258);
        let status = answer.status_word();
        // Which counter a 63Cx or 6983 answer is about: the command's INS (and P2 for CHANGE
        // REFERENCE DATA, 80 the PIN and 81 the PUK). Only well-formed commands get either.
        let counter = match (command.get(1), command.get(3)) {
            (Some(0x87), _) => Some(card.retries_left()),
            (Some(0x20), _) | (Some(0x24), Some(0x80)) => Some(card.pin_retries_left()),
            (Some(0x24), Some(0x81)) | (Some(0x2c), _) => Some(card.puk_retries_left()),
            _ => None,
        };
        let is_key_command = command.get(1) == Some(&0x87);
        if let Some(left) = status.retries_left() {
            assert_eq!(Some(left), counter, "63Cx for {command:02x?}");
            if is_key_command {
                assert_eq!(left + 1, before);
            }
        }
        if status == StatusWord::AUTH_METHOD_BLOCKED {
            assert_eq!(counter, Some(0), "6983 for {command:02x?}");
        }
        if card.retries_left() > before {
            assert!(card.is_authenticated() || status == StatusWord::SUCCESS);
        }
        if no_counter {
            // No key counter: never 63Cx or blocked for the key, its tries never change.
            if is_key_command {
                assert_eq!(status.retries_left(), None);
                assert_ne!(status, StatusWord::AUTH_METHOD_BLOCKED);
            }
            assert_eq!(card.retries_left(), 3);
        }
    }
}
