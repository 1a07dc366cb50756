//! The card layer's buffers and the software card wipe their secrets on drop: the bytes of
//! the APDU buffers (`Command`, `EncodedCommand`, `CardReply`) and a software card's outstanding
//! witness are gone by the time they are freed. The allocator that checks it is the core's
//! test allocator (`tests/support/inspecting_alloc.rs` at the repository root).

#[path = "../../../tests/support/inspecting_alloc.rs"]
mod inspecting_alloc;

use cardadmin::{AdminKey, Algorithm};
use inspecting_alloc::*;

/// The APDU layer's buffers carry cryptograms and, for SET MANAGEMENT KEY and GIDS PUT KEY,
/// key bytes: `Command`, `EncodedCommand` and `CardReply` promise to wipe them on drop.
#[test]
fn apdu_buffers_are_wiped_when_freed() {
    use cardadmin_card::apdu::{CardReply, Command, LengthForm, StatusWord};

    let _turn = ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let command = Box::new(Command::new(0x00, 0xff, 0xff, 0xff, &PATTERN).unwrap());
    let offset = offset_in(&*command, command.data());
    let encoded = Box::new(command.encode(LengthForm::Short));
    assert_wiped_when_freed(command, offset, "command");

    // Header and Lc, then the data.
    let offset = offset_in(&*encoded, &encoded.as_bytes()[5..]);
    assert_wiped_when_freed(encoded, offset, "encoded command");

    let reply = Box::new(CardReply::with_data(&PATTERN, StatusWord::SUCCESS).unwrap());
    let offset = offset_in(&*reply, reply.data());
    assert_wiped_when_freed(reply, offset, "reply");
}

/// The software card's outstanding witness is secret (whoever reads it can answer for the
/// key): `SoftCard` wipes it on drop. Its random generator draws from `PATTERN` without
/// holding a copy, so the only copies in the card's block are the witness's.
#[test]
fn a_soft_cards_outstanding_witness_is_wiped_when_freed() {
    use cardadmin::rand_core::{CryptoRng, Error, RngCore};
    use cardadmin_card::apdu::LengthForm;
    use cardadmin_card::auth::piv;
    use cardadmin_card::soft_card::SoftCard;

    struct FromPattern;
    impl RngCore for FromPattern {
        fn next_u32(&mut self) -> u32 {
            unimplemented!("the card draws bytes")
        }
        fn next_u64(&mut self) -> u64 {
            unimplemented!("the card draws bytes")
        }
        fn fill_bytes(&mut self, dest: &mut [u8]) {
            for (byte, pattern) in dest.iter_mut().zip(PATTERN.iter().cycle()) {
                *byte = *pattern;
            }
        }
        fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), Error> {
            self.fill_bytes(dest);
            Ok(())
        }
    }
    impl CryptoRng for FromPattern {}

    let _turn = ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    WATCHED_SIZE.store(std::mem::size_of::<SoftCard<FromPattern>>(), SeqCst);
    let key = AdminKey::new(Algorithm::Aes128, &[0x11; 16]).unwrap();
    let mut card = Box::new(SoftCard::new(key.clone(), FromPattern));
    let witness_request = piv::MutualAuth::new(&key);
    let answer = card.process(
        witness_request
            .command()
            .encode(LengthForm::Short)
            .as_bytes(),
    );
    assert_eq!(
        answer.as_bytes()[answer.as_bytes().len() - 2..],
        [0x90, 0x00]
    );
    assert!(
        live_bytes(&*card)
            .windows(8)
            .any(|window| window == &PATTERN[..8]),
        "the live card holds no witness, so this test cannot see it wiped"
    );
    COPIES_LEFT.store(usize::MAX, SeqCst);
    PATTERN_HEAD_AT.store(usize::MAX, SeqCst);
    let (inspected, _) = free_and_inspect(card, 0);
    assert!(inspected >= 1, "the allocator did not see the card's block");
    assert_eq!(
        COPIES_LEFT.load(SeqCst),
        0,
        "the witness left in freed memory"
    );
}
