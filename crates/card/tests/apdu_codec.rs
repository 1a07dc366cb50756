//! The APDU codec against ISO/IEC 7816-4's length rules, at every data length: what
//! `Command::encode` writes, `CommandApdu::parse` reads back whole, and a reply's data and
//! status survive `ResponseApdu::parse`. Exhaustive rather than sampled, so a buffer sized one
//! byte short (issue #14's mutation run: `MAX_ENCODED` with a `-`) cannot pass by luck.

use cardadmin_card::apdu::{
    ApduError, CardReply, Command, CommandApdu, LengthForm, ResponseApdu, StatusWord,
    MAX_COMMAND_DATA, MAX_RESPONSE_DATA,
};

fn pattern(len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(7))
        .collect()
}

/// The bytes ISO 7816-4 prescribes, written out independently of the encoder.
fn expected(header: [u8; 4], data: &[u8], expects_data: bool, form: LengthForm) -> Vec<u8> {
    let mut out = header.to_vec();
    let lc = u16::try_from(data.len()).unwrap().to_be_bytes();
    match form {
        LengthForm::Short => {
            if !data.is_empty() {
                out.push(lc[1]);
                out.extend_from_slice(data);
            }
            if expects_data {
                out.push(0);
            }
        }
        LengthForm::Extended => {
            if !data.is_empty() {
                out.extend_from_slice(&[0, lc[0], lc[1]]);
                out.extend_from_slice(data);
                if expects_data {
                    out.extend_from_slice(&[0, 0]);
                }
            } else if expects_data {
                out.extend_from_slice(&[0, 0, 0]);
            }
        }
    }
    out
}

#[test]
fn every_command_length_encodes_whole_and_parses_back() {
    // A class byte other than 00, so that a class read as 0 shows.
    let header = [0x80, 0x87, 0x03, 0x9b];
    for len in 0..=MAX_COMMAND_DATA {
        let data = pattern(len);
        for expects_data in [false, true] {
            let mut command =
                Command::new(header[0], header[1], header[2], header[3], &data).unwrap();
            if expects_data {
                command = command.expecting_data();
            }
            assert_eq!(
                [command.cla(), command.ins(), command.p1(), command.p2()],
                header
            );
            assert_eq!(command.data(), data);
            assert_eq!(command.expects_data(), expects_data);
            for form in [LengthForm::Short, LengthForm::Extended] {
                let encoded = command.encode(form);
                let want = expected(header, &data, expects_data, form);
                assert_eq!(
                    encoded.as_bytes(),
                    want,
                    "{len} bytes, Le {expects_data}, {form:?}"
                );

                let parsed = CommandApdu::parse(encoded.as_bytes()).unwrap();
                assert_eq!(
                    [parsed.cla(), parsed.ins(), parsed.p1(), parsed.p2()],
                    header
                );
                assert_eq!(parsed.data(), data);
                let le = match form {
                    LengthForm::Short => 256,
                    LengthForm::Extended => 65536,
                };
                assert_eq!(parsed.le(), expects_data.then_some(le));
                let case_1 = data.is_empty() && !expects_data;
                assert_eq!(parsed.form(), (!case_1).then_some(form));
            }
        }
    }
}

#[test]
fn the_longest_command_is_264_bytes_extended_and_261_short() {
    let data = pattern(MAX_COMMAND_DATA);
    let command = Command::new(0, 0xdb, 0x3f, 0xff, &data)
        .unwrap()
        .expecting_data();
    assert_eq!(
        command.encode(LengthForm::Extended).as_bytes().len(),
        4 + 3 + 255 + 2
    );
    assert_eq!(
        command.encode(LengthForm::Short).as_bytes().len(),
        4 + 1 + 255 + 1
    );
    assert_eq!(
        Command::new(0, 0xdb, 0x3f, 0xff, &pattern(MAX_COMMAND_DATA + 1)).unwrap_err(),
        ApduError::DataTooLong {
            max: 255,
            found: 256
        }
    );
}

#[test]
fn every_reply_length_parses_back() {
    for len in 0..=MAX_RESPONSE_DATA {
        let data = pattern(len);
        for status in [StatusWord::SUCCESS, StatusWord(0x6310), StatusWord(0x61ff)] {
            let reply = CardReply::with_data(&data, status).unwrap();
            assert_eq!(reply.data(), data);
            assert_eq!(reply.status_word(), status);
            let mut want = data.clone();
            want.extend_from_slice(&status.to_bytes());
            assert_eq!(reply.as_bytes(), want);

            let parsed = ResponseApdu::parse(reply.as_bytes()).unwrap();
            assert_eq!(parsed.data(), data);
            assert_eq!(parsed.status(), status);
        }
    }
    let too_long = ApduError::ResponseTooLong {
        max: 256,
        found: 257,
    };
    assert_eq!(
        CardReply::with_data(&pattern(MAX_RESPONSE_DATA + 1), StatusWord::SUCCESS).unwrap_err(),
        too_long
    );
    let mut bytes = pattern(MAX_RESPONSE_DATA + 1);
    bytes.extend_from_slice(&[0x90, 0x00]);
    assert_eq!(ResponseApdu::parse(&bytes).unwrap_err(), too_long);
}

/// ISO 7816-4 5.1: `Le` is the number of bytes expected, `00` (short) and `00 00` (extended)
/// meaning the most, 256 and 65536; every other value is itself.
#[test]
fn le_values_are_read_as_written() {
    for (body, le, form) in [
        (&[0x01][..], 1, LengthForm::Short),
        (&[0xff], 255, LengthForm::Short),
        (&[0x00], 256, LengthForm::Short),
        (&[0x00, 0x00, 0x01], 1, LengthForm::Extended),
        (&[0x00, 0x01, 0x00], 256, LengthForm::Extended),
        (&[0x00, 0x12, 0x34], 0x1234, LengthForm::Extended),
        (&[0x00, 0xff, 0xff], 0xffff, LengthForm::Extended),
        (&[0x00, 0x00, 0x00], 65536, LengthForm::Extended),
        (&[0x02, 0xaa, 0xbb, 0x10], 16, LengthForm::Short),
        (
            &[0x00, 0x00, 0x02, 0xaa, 0xbb, 0x01, 0x02],
            0x102,
            LengthForm::Extended,
        ),
    ] {
        let mut bytes = vec![0x00, 0xca, 0x00, 0x00];
        bytes.extend_from_slice(body);
        let parsed = CommandApdu::parse(&bytes).unwrap();
        assert_eq!(parsed.le(), Some(le), "{body:02x?}");
        assert_eq!(parsed.form(), Some(form), "{body:02x?}");
    }
}

#[test]
fn status_words_print_as_four_hex_digits_and_cap_retries_at_15() {
    assert_eq!(StatusWord::SUCCESS.to_string(), "9000");
    assert_eq!(StatusWord(0x6a88).to_string(), "6A88");
    assert_eq!(StatusWord(0x0001).to_string(), "0001");
    for left in 0..=15u8 {
        let status = StatusWord::retries(left);
        assert_eq!(status, StatusWord(0x63c0 + u16::from(left)));
        assert_eq!(status.retries_left(), Some(left));
    }
    for left in [16u8, 20, 0x7f, 0xff] {
        assert_eq!(StatusWord::retries(left), StatusWord(0x63cf), "{left}");
    }
}

/// The `Debug` of every buffer that may carry a secret (a cryptogram, a key being written)
/// shows its shape, never its bytes.
#[test]
fn debug_shows_lengths_not_bytes() {
    let secret = [0xc3; 24];
    let command = Command::new(0x00, 0x87, 0x03, 0x9b, &secret)
        .unwrap()
        .expecting_data();
    assert_eq!(
        format!("{command:?}"),
        "Command { header: 00 87 03 9B, data: 24 bytes, expects_data: true }"
    );
    assert_eq!(
        format!("{:?}", Command::new(0, 0xfd, 0, 0, &[1]).unwrap()),
        "Command { header: 00 FD 00 00, data: 1 byte, expects_data: false }"
    );
    assert_eq!(
        format!("{:?}", command.encode(LengthForm::Extended)),
        "EncodedCommand(33 bytes)"
    );
    let reply = CardReply::with_data(&secret, StatusWord::SUCCESS).unwrap();
    assert_eq!(
        format!("{reply:?}"),
        "CardReply { data: 24 bytes, status: 9000 }"
    );
    assert_eq!(
        format!("{:?}", CardReply::status(StatusWord::retries(2))),
        "CardReply { data: 0 bytes, status: 63C2 }"
    );
}
