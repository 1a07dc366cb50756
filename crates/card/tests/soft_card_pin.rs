//! The software card's PIN, PUK and middleware answers (issue #17): what an enrollment and
//! the middleware meeting the card (OpenSC, yubico-piv-tool, yubikit) rely on. Status words
//! from NIST SP 800-73-4 part 2 (VERIFY 3.2.1, CHANGE REFERENCE DATA 3.2.2, RESET RETRY
//! COUNTER 3.2.3) and Yubico's PIV extensions (GET METADATA, GET SERIAL).
#![cfg(feature = "soft-card")]

use cardadmin::AdminKey;
use cardadmin_card::apdu::LengthForm;
use cardadmin_card::auth::gids;
use cardadmin_card::soft_card::SoftCard;
use rand_core::OsRng;

fn card() -> SoftCard<OsRng> {
    SoftCard::new(AdminKey::from_bytes([0x33; 24]), OsRng)
}

fn padded(value: &[u8]) -> Vec<u8> {
    let mut out = value.to_vec();
    out.resize(8, 0xff);
    out
}

fn apdu(header: [u8; 4], data: &[u8]) -> Vec<u8> {
    let mut out = header.to_vec();
    out.push(u8::try_from(data.len()).unwrap());
    out.extend_from_slice(data);
    out
}

fn verify(card: &mut SoftCard<OsRng>, pin: &[u8]) -> Vec<u8> {
    card.process(&apdu([0x00, 0x20, 0x00, 0x80], &padded(pin)))
        .as_bytes()
        .to_vec()
}

/// CHANGE REFERENCE DATA for the PIN (`80`) or PUK (`81`): old and new value, each padded.
fn change(card: &mut SoftCard<OsRng>, reference: u8, old: &[u8], new: &[u8]) -> Vec<u8> {
    let mut data = padded(old);
    data.extend(padded(new));
    card.process(&apdu([0x00, 0x24, 0x00, reference], &data))
        .as_bytes()
        .to_vec()
}

#[test]
fn wrong_pins_count_down_then_block_and_the_right_one_resets() {
    let mut card = card();
    assert_eq!(verify(&mut card, b"000000"), [0x63, 0xc2]);
    assert_eq!(verify(&mut card, b"000000"), [0x63, 0xc1]);
    assert_eq!(verify(&mut card, b"123456"), [0x90, 0x00]);
    assert_eq!(card.pin_retries_left(), 3);
    for left in [2u8, 1, 0] {
        assert_eq!(verify(&mut card, b"000000"), [0x63, 0xc0 | left]);
    }
    assert!(!card.is_pin_verified());
    // Blocked: even the right PIN is refused, and the state query says so.
    assert_eq!(verify(&mut card, b"123456"), [0x69, 0x83]);
    assert_eq!(
        card.process(&[0x00, 0x20, 0x00, 0x80]).as_bytes(),
        [0x69, 0x83]
    );
}

#[test]
fn verify_without_data_reports_the_state_and_p1_ff_forgets() {
    let mut card = card();
    assert_eq!(
        card.process(&[0x00, 0x20, 0x00, 0x80]).as_bytes(),
        [0x63, 0xc3]
    );
    assert_eq!(verify(&mut card, b"123456"), [0x90, 0x00]);
    assert_eq!(
        card.process(&[0x00, 0x20, 0x00, 0x80]).as_bytes(),
        [0x90, 0x00]
    );
    assert_eq!(
        card.process(&[0x00, 0x20, 0xff, 0x80]).as_bytes(),
        [0x90, 0x00]
    );
    assert!(!card.is_pin_verified());
    assert_eq!(
        card.process(&[0x00, 0x20, 0x00, 0x81]).as_bytes(),
        [0x6a, 0x88]
    );
}

#[test]
fn malformed_pins_cost_no_try() {
    let mut card = card();
    for data in [
        &b"12345"[..],                                         // 5 bytes, padded: too short
        &[b'1', b'2', b'3', 0xff, b'5', b'6', b'7', b'8'][..], // padding in the middle
    ] {
        assert_eq!(verify(&mut card, data), [0x6a, 0x80], "{data:02x?}");
    }
    // Not 8 bytes at all.
    assert_eq!(
        card.process(&apdu([0x00, 0x20, 0x00, 0x80], b"1234567"))
            .as_bytes(),
        [0x6a, 0x80]
    );
    assert_eq!(card.pin_retries_left(), 3);
}

#[test]
fn change_reference_data_needs_the_old_pin() {
    let mut card = card();
    assert_eq!(
        change(&mut card, 0x80, b"000000", b"87654321"),
        [0x63, 0xc2]
    );
    assert_eq!(
        change(&mut card, 0x80, b"123456", b"87654321"),
        [0x90, 0x00]
    );
    assert_eq!(card.pin_retries_left(), 3);
    assert_eq!(verify(&mut card, b"123456"), [0x63, 0xc2]);
    assert_eq!(verify(&mut card, b"87654321"), [0x90, 0x00]);
    // The PUK changes the same way, under its own reference.
    assert_eq!(
        change(&mut card, 0x81, b"12345678", b"11223344"),
        [0x90, 0x00]
    );
    assert_eq!(
        change(&mut card, 0x82, b"12345678", b"11223344"),
        [0x6a, 0x88]
    );
}

#[test]
fn reset_retry_counter_unblocks_with_the_puk_only() {
    let mut card = card();
    for _ in 0..3 {
        verify(&mut card, b"000000");
    }
    assert_eq!(card.pin_retries_left(), 0);
    let mut wrong = padded(b"00000000");
    wrong.extend(padded(b"246810"));
    assert_eq!(
        card.process(&apdu([0x00, 0x2c, 0x00, 0x80], &wrong))
            .as_bytes(),
        [0x63, 0xc2]
    );
    assert_eq!(card.puk_retries_left(), 2);
    let mut right = padded(b"12345678");
    right.extend(padded(b"246810"));
    assert_eq!(
        card.process(&apdu([0x00, 0x2c, 0x00, 0x80], &right))
            .as_bytes(),
        [0x90, 0x00]
    );
    assert_eq!((card.pin_retries_left(), card.puk_retries_left()), (3, 3));
    assert_eq!(verify(&mut card, b"246810"), [0x90, 0x00]);
}

#[test]
fn middleware_reads_find_nothing_but_serial_and_metadata() {
    let mut card = card().with_serial(0x0102_0304);
    // CHUID, CCC, discovery, key history: not found.
    for tag in [
        &[0x5f, 0xc1, 0x02][..],
        &[0x5f, 0xc1, 0x07],
        &[0x7e],
        &[0x5f, 0xc1, 0x0c],
    ] {
        let mut data = vec![0x5c, u8::try_from(tag.len()).unwrap()];
        data.extend_from_slice(tag);
        assert_eq!(
            card.process(&apdu([0x00, 0xcb, 0x3f, 0xff], &data))
                .as_bytes(),
            [0x6a, 0x82]
        );
    }
    assert_eq!(
        card.process(&apdu([0x00, 0xcb, 0x3f, 0xff], &[0x5c, 0x05, 1]))
            .as_bytes(),
        [0x6a, 0x80]
    );
    assert_eq!(
        card.process(&[0x00, 0xf8, 0x00, 0x00, 0x00]).as_bytes(),
        [1, 2, 3, 4, 0x90, 0x00]
    );
    assert_eq!(
        card.process(&[0x00, 0xf7, 0x00, 0x80, 0x00]).as_bytes(),
        [0x01, 0x01, 0xff, 0x05, 0x01, 0x01, 0x06, 0x02, 3, 3, 0x90, 0x00]
    );
    verify(&mut card, b"000000");
    let mut data = padded(b"12345678");
    data.extend(padded(b"99999999"));
    card.process(&apdu([0x00, 0x24, 0x00, 0x81], &data));
    assert_eq!(
        card.process(&[0x00, 0xf7, 0x00, 0x81, 0x00]).as_bytes(),
        [0x01, 0x01, 0xff, 0x05, 0x01, 0x00, 0x06, 0x02, 3, 3, 0x90, 0x00]
    );
    assert_eq!(
        card.process(&[0x00, 0xf7, 0x00, 0x80, 0x00]).as_bytes()[8..10],
        [3, 2]
    );
}

#[test]
fn reset_ends_the_verification_but_keeps_the_counters() {
    let mut card = card();
    verify(&mut card, b"000000");
    verify(&mut card, b"123456");
    verify(&mut card, b"000000");
    card.reset();
    assert!(!card.is_pin_verified());
    assert_eq!(card.pin_retries_left(), 2);
    // A verified PIN does not outlive a reset either.
    assert_eq!(verify(&mut card, b"123456"), [0x90, 0x00]);
    assert!(card.is_pin_verified());
    card.reset();
    assert!(!card.is_pin_verified());
    assert_eq!(
        card.process(&[0x00, 0x20, 0x00, 0x80]).as_bytes(),
        [0x63, 0xc3]
    );
}

/// `is_pin_verified`: "whether the PIN has been verified (and not changed or forgotten
/// since)". Changing the PIN, or failing to, ends the verification; the PUK's changes do not
/// touch the PIN's state.
#[test]
fn a_pin_change_ends_the_verification_and_a_puk_change_does_not() {
    let mut card = card();
    assert!(!card.is_pin_verified());
    assert_eq!(verify(&mut card, b"123456"), [0x90, 0x00]);
    assert!(card.is_pin_verified());

    assert_eq!(
        change(&mut card, 0x81, b"12345678", b"11223344"),
        [0x90, 0x00]
    );
    assert!(
        card.is_pin_verified(),
        "a PUK change ended the PIN's verification"
    );
    assert_eq!(
        change(&mut card, 0x81, b"00000000", b"11223344"),
        [0x63, 0xc2]
    );
    assert!(
        card.is_pin_verified(),
        "a failed PUK change ended the PIN's verification"
    );

    assert_eq!(change(&mut card, 0x80, b"123456", b"654321"), [0x90, 0x00]);
    assert!(
        !card.is_pin_verified(),
        "the PIN changed and stayed verified"
    );
    assert_eq!(verify(&mut card, b"654321"), [0x90, 0x00]);
    assert!(card.is_pin_verified());
    assert_eq!(change(&mut card, 0x80, b"000000", b"111111"), [0x63, 0xc2]);
    assert!(
        !card.is_pin_verified(),
        "a failed PIN change left it verified"
    );
}

#[test]
fn the_gids_personality_has_no_piv_and_takes_opensc_put_key_bodies() {
    let key = AdminKey::from_bytes([0x33; 24]);
    let mut card = SoftCard::new(key.clone(), OsRng).without_piv();
    assert_eq!(
        card.process(&[0x00, 0xa4, 0x04, 0x00, 0x05, 0xa0, 0x00, 0x00, 0x03, 0x08])
            .as_bytes(),
        [0x6a, 0x82]
    );
    assert_eq!(
        card.process(&[0x00, 0xfd, 0x00, 0x00, 0x00]).as_bytes(),
        [0x6d, 0x00]
    );
    // Authenticate through the host flow, then PUT KEY wrapped in 70 as OpenSC sends it.
    let flow = gids::MutualAuth::new(&key, &mut OsRng).unwrap();
    let answer = card.process(flow.command().encode(LengthForm::Short).as_bytes());
    let flow = flow.receive_mse_set(answer.as_bytes()).unwrap();
    let answer = card.process(flow.command().encode(LengthForm::Short).as_bytes());
    let flow = flow
        .receive_challenge(answer.as_bytes(), &mut OsRng)
        .unwrap();
    let answer = card.process(flow.command().encode(LengthForm::Short).as_bytes());
    flow.finish(answer.as_bytes()).unwrap();
    let new_key = AdminKey::from_hex("0123456789abcdef23456789abcdef01456789abcdef0123").unwrap();
    let bare = gids::put_key(&new_key).unwrap();
    let mut wrapped = vec![0x70, u8::try_from(bare.data().len()).unwrap()];
    wrapped.extend_from_slice(bare.data());
    assert_eq!(
        card.process(&apdu([0x00, 0xdb, 0x3f, 0xff], &wrapped))
            .as_bytes(),
        [0x90, 0x00]
    );
    assert_eq!(card.key_check_value(), new_key.check_value());
}

#[test]
fn a_card_given_an_id_answers_its_chuid_with_that_guid() {
    let id = [
        0xbc, 0x88, 0xf1, 0x3f, 0x83, 0xba, 0x40, 0x37, 0x82, 0x62, 0x46, 0xeb, 0xa1, 0x29, 0x1c,
        0x6e,
    ];
    let mut card = card().with_card_id(id);
    let chuid = [0x5c, 0x03, 0x5f, 0xc1, 0x02];
    let mut expected = vec![0x53, 0x20, 0x34, 0x10];
    expected.extend_from_slice(&id);
    expected.extend_from_slice(&[0x35, 0x08]);
    expected.extend_from_slice(b"20991231");
    expected.extend_from_slice(&[0x3e, 0x00, 0xfe, 0x00, 0x90, 0x00]);
    assert_eq!(
        card.process(&apdu([0x00, 0xcb, 0x3f, 0xff], &chuid))
            .as_bytes(),
        expected
    );
    // The other objects are still not found; a wrong P1 P2 is still refused.
    assert_eq!(
        card.process(&apdu(
            [0x00, 0xcb, 0x3f, 0xff],
            &[0x5c, 0x03, 0x5f, 0xc1, 0x07]
        ))
        .as_bytes(),
        [0x6a, 0x82]
    );
    assert_eq!(
        card.process(&apdu([0x00, 0xcb, 0x3f, 0xfe], &chuid))
            .as_bytes(),
        [0x6a, 0x86]
    );
    // GIDS has no GET DATA of PIV's.
    card.process(&apdu([0x00, 0xa4, 0x04, 0x00], &gids::AID));
    assert_eq!(
        card.process(&apdu([0x00, 0xcb, 0x3f, 0xff], &chuid))
            .as_bytes(),
        [0x6d, 0x00]
    );
}
