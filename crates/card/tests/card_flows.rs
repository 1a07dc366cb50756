//! Host flows against the software card, for every flow and algorithm, and against the
//! vectors recomputed with Python `cryptography` (tests/vectors/card_flows.txt of this crate).
#![cfg(feature = "soft-card")]

use cardadmin::rand_core::{CryptoRng, Error, RngCore};
use cardadmin::{AdminKey, Algorithm};
use cardadmin_card::apdu::{CardReply, Command, CommandApdu, LengthForm, StatusWord};
use cardadmin_card::auth::{gids, piv, yubikey, AuthError};
use cardadmin_card::soft_card::{SoftCard, WrongKeyStatus};
use proptest::prelude::*;
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha20Rng;

const FORMS: [LengthForm; 2] = [LengthForm::Short, LengthForm::Extended];

/// A generator that hands out scripted bytes, then fails: to feed both ends the vectors'
/// "random" values.
struct Scripted(Vec<u8>);

impl RngCore for Scripted {
    fn next_u32(&mut self) -> u32 {
        unimplemented!("not used by the flows")
    }
    fn next_u64(&mut self) -> u64 {
        unimplemented!("not used by the flows")
    }
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        self.try_fill_bytes(dest).expect("script exhausted")
    }
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), Error> {
        if dest.len() > self.0.len() {
            return Err(Error::from(
                core::num::NonZeroU32::new(Error::CUSTOM_START).unwrap(),
            ));
        }
        let rest = self.0.split_off(dest.len());
        dest.copy_from_slice(&self.0);
        self.0 = rest;
        Ok(())
    }
}
impl CryptoRng for Scripted {}

fn rng(seed: u64) -> ChaCha20Rng {
    ChaCha20Rng::seed_from_u64(seed)
}

fn key_for(algorithm: Algorithm, fill: u8) -> AdminKey {
    AdminKey::new(algorithm, &vec![fill; algorithm.key_len()]).unwrap()
}

fn send<R: RngCore + CryptoRng>(
    card: &mut SoftCard<R>,
    command: &Command,
    form: LengthForm,
) -> CardReply {
    card.process(command.encode(form).as_bytes())
}

fn selected_piv<R: RngCore + CryptoRng>(key: &AdminKey, rng: R) -> SoftCard<R> {
    let mut card = SoftCard::new(key.clone(), rng);
    assert_eq!(
        send(&mut card, &piv::select(), LengthForm::Short).status_word(),
        StatusWord::SUCCESS
    );
    card
}

fn selected_gids<R: RngCore + CryptoRng>(key: &AdminKey, rng: R) -> SoftCard<R> {
    let mut card = SoftCard::new(key.clone(), rng);
    assert_eq!(
        send(&mut card, &gids::select(), LengthForm::Short).status_word(),
        StatusWord::SUCCESS
    );
    card
}

fn piv_single<R: RngCore + CryptoRng>(
    card: &mut SoftCard<R>,
    key: &AdminKey,
    form: LengthForm,
) -> Result<(), AuthError> {
    let flow = piv::SingleAuth::new(key);
    let answer = send(card, flow.command(), form);
    let flow = flow.receive_challenge(answer.as_bytes())?;
    let answer = send(card, flow.command(), form);
    flow.finish(answer.as_bytes())
}

fn piv_mutual<R: RngCore + CryptoRng>(
    card: &mut SoftCard<R>,
    key: &AdminKey,
    form: LengthForm,
    seed: u64,
) -> Result<(), AuthError> {
    let flow = piv::MutualAuth::new(key);
    let answer = send(card, flow.command(), form);
    let flow = flow.receive_witness(answer.as_bytes(), &mut rng(seed))?;
    let answer = send(card, flow.command(), form);
    flow.finish(answer.as_bytes())
}

fn gids_mutual<R: RngCore + CryptoRng>(
    card: &mut SoftCard<R>,
    key: &AdminKey,
    form: LengthForm,
    seed: u64,
) -> Result<(), AuthError> {
    let mut host_rng = rng(seed);
    let flow = gids::MutualAuth::new(key, &mut host_rng)?;
    let answer = send(card, flow.command(), form);
    let flow = flow.receive_mse_set(answer.as_bytes())?;
    let answer = send(card, flow.command(), form);
    let flow = flow.receive_challenge(answer.as_bytes(), &mut host_rng)?;
    let answer = send(card, flow.command(), form);
    flow.finish(answer.as_bytes())
}

/// Hex digits to bytes; spaces (between fields, for reading) are skipped.
fn hex(text: &str) -> Vec<u8> {
    let text: String = text.split_whitespace().collect();
    (0..text.len())
        .step_by(2)
        .map(|at| u8::from_str_radix(&text[at..at + 2], 16).unwrap())
        .collect()
}

#[test]
fn every_flow_and_algorithm_right_key_succeeds_wrong_key_fails() {
    for algorithm in Algorithm::ALL {
        for form in FORMS {
            let key = key_for(algorithm, 0x42);
            let wrong = key_for(algorithm, 0x24);

            let mut card = selected_piv(&key, rng(1));
            piv_single(&mut card, &key, form).unwrap();
            assert!(card.is_authenticated());
            assert_eq!(
                piv_single(&mut card, &wrong, form),
                Err(AuthError::WrongKey {
                    retries_left: Some(2)
                })
            );
            assert!(!card.is_authenticated());
            piv_mutual(&mut card, &key, form, 2).unwrap();
            assert_eq!(card.retries_left(), 3);
            assert_eq!(
                piv_mutual(&mut card, &wrong, form, 3),
                Err(AuthError::WrongKey {
                    retries_left: Some(2)
                })
            );

            let mut card = selected_gids(&key, rng(4));
            gids_mutual(&mut card, &key, form, 5).unwrap();
            assert!(card.is_authenticated());
            assert_eq!(
                gids_mutual(&mut card, &wrong, form, 6),
                Err(AuthError::WrongKey {
                    retries_left: Some(2)
                })
            );
            gids_mutual(&mut card, &key, form, 7).unwrap();
            assert_eq!(card.retries_left(), 3);
        }
    }
}

#[test]
fn blocking_after_three_wrong_answers() {
    for algorithm in Algorithm::ALL {
        let key = key_for(algorithm, 0x42);
        let wrong = key_for(algorithm, 0x24);
        let mut card = selected_piv(&key, rng(8));
        for left in [2, 1, 0] {
            assert_eq!(
                piv_single(&mut card, &wrong, LengthForm::Short),
                Err(AuthError::WrongKey {
                    retries_left: Some(left)
                })
            );
        }
        assert_eq!(
            piv_single(&mut card, &key, LengthForm::Short),
            Err(AuthError::Blocked)
        );
        assert_eq!(
            piv_mutual(&mut card, &key, LengthForm::Short, 9),
            Err(AuthError::Blocked)
        );
        // A reselection does not unblock, nor does GIDS.
        send(&mut card, &gids::select(), LengthForm::Short);
        assert_eq!(
            gids_mutual(&mut card, &key, LengthForm::Short, 10),
            Err(AuthError::Blocked)
        );
    }
}

#[test]
fn a_challenge_is_good_for_one_answer_only() {
    for algorithm in Algorithm::ALL {
        let key = key_for(algorithm, 0x42);
        let mut card = selected_piv(&key, rng(11));
        let flow = piv::SingleAuth::new(&key);
        let answer = send(&mut card, flow.command(), LengthForm::Short);
        let flow = flow.receive_challenge(answer.as_bytes()).unwrap();
        let response = flow.command().encode(LengthForm::Short).as_bytes().to_vec();
        assert_eq!(card.process(&response).status_word(), StatusWord::SUCCESS);
        // Replayed: the challenge is spent.
        assert_eq!(
            card.process(&response).status_word(),
            StatusWord::CONDITIONS_NOT_SATISFIED
        );
        // Replayed against a fresh challenge: wrong.
        let fresh = piv::SingleAuth::new(&key);
        send(&mut card, fresh.command(), LengthForm::Short);
        assert_eq!(
            card.process(&response).status_word(),
            StatusWord::retries(2)
        );

        // Mutual: a replayed witness answer fails against a new witness.
        let flow = piv::MutualAuth::new(&key);
        let answer = send(&mut card, flow.command(), LengthForm::Short);
        let flow = flow
            .receive_witness(answer.as_bytes(), &mut rng(12))
            .unwrap();
        let witness_answer = flow.command().encode(LengthForm::Short).as_bytes().to_vec();
        let card_answer = card.process(&witness_answer);
        flow.finish(card_answer.as_bytes()).unwrap();
        assert_eq!(
            card.process(&witness_answer).status_word(),
            StatusWord::CONDITIONS_NOT_SATISFIED
        );
        send(
            &mut card,
            piv::MutualAuth::new(&key).command(),
            LengthForm::Short,
        );
        assert_eq!(
            card.process(&witness_answer).status_word(),
            StatusWord::retries(2)
        );

        // The host refuses a card answer replayed from an earlier session.
        let flow = piv::MutualAuth::new(&key);
        let answer = send(&mut card, flow.command(), LengthForm::Short);
        let flow = flow
            .receive_witness(answer.as_bytes(), &mut rng(13))
            .unwrap();
        assert_eq!(
            flow.finish(card_answer.as_bytes()),
            Err(AuthError::CardCryptogram)
        );
    }
}

#[test]
fn gids_replays_and_order() {
    for algorithm in Algorithm::ALL {
        let key = key_for(algorithm, 0x42);
        let mut card = selected_gids(&key, rng(14));
        // GENERAL AUTHENTICATE before MSE SET.
        let mut host_rng = rng(15);
        let flow = gids::MutualAuth::new(&key, &mut host_rng).unwrap();
        let flow = flow.receive_mse_set(&[0x90, 0x00]).unwrap();
        assert_eq!(
            send(&mut card, flow.command(), LengthForm::Short).status_word(),
            StatusWord::CONDITIONS_NOT_SATISFIED
        );

        // A whole exchange, then its cryptogram replayed.
        let flow = gids::MutualAuth::new(&key, &mut host_rng).unwrap();
        let answer = send(&mut card, flow.command(), LengthForm::Short);
        let flow = flow.receive_mse_set(answer.as_bytes()).unwrap();
        let answer = send(&mut card, flow.command(), LengthForm::Short);
        let flow = flow
            .receive_challenge(answer.as_bytes(), &mut host_rng)
            .unwrap();
        let cryptogram = flow.command().encode(LengthForm::Short).as_bytes().to_vec();
        let card_answer = card.process(&cryptogram);
        flow.finish(card_answer.as_bytes()).unwrap();
        assert_eq!(
            card.process(&cryptogram).status_word(),
            StatusWord::CONDITIONS_NOT_SATISFIED
        );

        // The host refuses the card's answer from the earlier session.
        let flow = gids::MutualAuth::new(&key, &mut host_rng).unwrap();
        let answer = send(&mut card, flow.command(), LengthForm::Short);
        let flow = flow.receive_mse_set(answer.as_bytes()).unwrap();
        let answer = send(&mut card, flow.command(), LengthForm::Short);
        let flow = flow
            .receive_challenge(answer.as_bytes(), &mut host_rng)
            .unwrap();
        assert_eq!(
            flow.finish(card_answer.as_bytes()),
            Err(AuthError::CardCryptogram)
        );
    }
}

#[test]
fn yubikey_metadata_and_set_management_key() {
    let default = [1, 2, 3, 4, 5, 6, 7, 8].repeat(3);
    for algorithm in Algorithm::ALL {
        let key = key_for(algorithm, 0x42);
        let mut card = selected_piv(&key, rng(16));
        let version = send(&mut card, &yubikey::get_version(), LengthForm::Short);
        assert_eq!(
            yubikey::parse_version(version.as_bytes()).unwrap(),
            yubikey::Version::new(5, 7, 2)
        );
        let metadata = send(&mut card, &yubikey::get_metadata(), LengthForm::Extended);
        let metadata = yubikey::ManagementKeyMetadata::parse(metadata.as_bytes()).unwrap();
        assert_eq!(metadata.algorithm(), algorithm);
        assert!(!metadata.is_default());
        assert!(!metadata.touch_required());
        // PIN policy 00 (the management key has none), touch policy 01 (never).
        assert_eq!((metadata.pin_policy(), metadata.touch_policy()), (0, 1));

        // Not before authentication.
        let new_key = if algorithm.key_len() == 24 {
            AdminKey::new(Algorithm::Aes192, &default).unwrap()
        } else {
            key_for(Algorithm::Aes192, 0x77)
        };
        let set = yubikey::set_management_key_allowing_weak(&new_key, true);
        assert_eq!(
            yubikey::check_set_management_key(send(&mut card, &set, LengthForm::Short).as_bytes()),
            Err(AuthError::SecurityStatusNotSatisfied)
        );
        piv_mutual(&mut card, &key, LengthForm::Extended, 17).unwrap();
        yubikey::check_set_management_key(send(&mut card, &set, LengthForm::Extended).as_bytes())
            .unwrap();
        assert_eq!(card.algorithm(), Algorithm::Aes192);
        assert_eq!(card.key_check_value(), new_key.check_value());
        let metadata = send(&mut card, &yubikey::get_metadata(), LengthForm::Short);
        let metadata = yubikey::ManagementKeyMetadata::parse(metadata.as_bytes()).unwrap();
        assert_eq!(metadata.algorithm(), Algorithm::Aes192);
        assert!(metadata.touch_required());
        assert_eq!((metadata.pin_policy(), metadata.touch_policy()), (0, 2));
        assert_eq!(metadata.is_default(), algorithm.key_len() == 24);
        // The old key is refused (P1 names its algorithm: 6A86 for another algorithm), the
        // new one works.
        assert!(piv_single(&mut card, &key, LengthForm::Short).is_err());
        piv_single(&mut card, &new_key, LengthForm::Short).unwrap();
    }
}

#[test]
fn gids_put_key() {
    for algorithm in Algorithm::ALL {
        let key = key_for(algorithm, 0x42);
        let new_key = key_for(algorithm, 0x5a);
        let mut card = selected_gids(&key, rng(18));
        let put = gids::put_key_allowing_weak(&new_key);
        assert_eq!(
            gids::check_put_key(send(&mut card, &put, LengthForm::Short).as_bytes()),
            Err(AuthError::SecurityStatusNotSatisfied)
        );
        gids_mutual(&mut card, &key, LengthForm::Short, 19).unwrap();
        // A wrong check value (OpenSC's hard-coded B0 73 DC) is refused.
        let mut bad = put.encode(LengthForm::Short).as_bytes().to_vec();
        let len = bad.len();
        bad[len - 3..].copy_from_slice(&[0xb0, 0x73, 0xdc]);
        assert_eq!(card.process(&bad).status_word(), StatusWord::WRONG_DATA);
        // A key of another algorithm's length is refused.
        let other = if algorithm == Algorithm::Aes128 {
            key_for(Algorithm::Aes256, 1)
        } else {
            key_for(Algorithm::Aes128, 1)
        };
        assert_eq!(
            send(
                &mut card,
                &gids::put_key_allowing_weak(&other),
                LengthForm::Short
            )
            .status_word(),
            StatusWord::WRONG_DATA
        );
        gids::check_put_key(send(&mut card, &put, LengthForm::Extended).as_bytes()).unwrap();
        assert_eq!(card.key_check_value(), new_key.check_value());
        gids_mutual(&mut card, &new_key, LengthForm::Short, 20).unwrap();
    }
}

#[test]
fn old_cards_without_metadata_are_tdes() {
    // GET METADATA on an application that does not have it: the soft card with GIDS selected.
    let key = key_for(Algorithm::Aes128, 1);
    let mut card = selected_gids(&key, rng(21));
    let answer = send(&mut card, &yubikey::get_metadata(), LengthForm::Short);
    assert_eq!(answer.as_bytes(), [0x6d, 0x00]);
    assert_eq!(
        yubikey::management_key_algorithm(answer.as_bytes()).unwrap(),
        Algorithm::Tdes
    );
}

#[test]
fn vectors_from_python_cryptography() {
    let file = include_str!("vectors/card_flows.txt");
    let mut counts = [0usize; 5];
    for line in file
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
    {
        let fields: Vec<&str> = line.split(' ').collect();
        let algorithm: Algorithm = fields[1].parse().unwrap();
        let key = AdminKey::new_hex(algorithm, fields[2]).unwrap();
        match fields[0] {
            "piv-single" => {
                let [_, _, _, c, host_data] = fields[..] else {
                    panic!("{line}")
                };
                let mut card = selected_piv(&key, Scripted(hex(c)));
                let flow = piv::SingleAuth::new(&key);
                let answer = send(&mut card, flow.command(), LengthForm::Short);
                let flow = flow.receive_challenge(answer.as_bytes()).unwrap();
                assert_eq!(flow.command().data(), hex(host_data), "{line}");
                let answer = send(&mut card, flow.command(), LengthForm::Short);
                flow.finish(answer.as_bytes()).unwrap();
                counts[0] += 1;
            }
            "piv-mutual" => {
                let [_, _, _, w, h, witness_data, host_data, card_data] = fields[..] else {
                    panic!("{line}")
                };
                let mut card = selected_piv(&key, Scripted(hex(w)));
                let flow = piv::MutualAuth::new(&key);
                let answer = send(&mut card, flow.command(), LengthForm::Short);
                assert_eq!(answer.data(), hex(witness_data), "{line}");
                let flow = flow
                    .receive_witness(answer.as_bytes(), &mut Scripted(hex(h)))
                    .unwrap();
                assert_eq!(flow.command().data(), hex(host_data), "{line}");
                let answer = send(&mut card, flow.command(), LengthForm::Short);
                assert_eq!(answer.data(), hex(card_data), "{line}");
                flow.finish(answer.as_bytes()).unwrap();
                counts[1] += 1;
            }
            "gids" => {
                let [_, _, _, r1, r2, z1, z2, host_data, card_data] = fields[..] else {
                    panic!("{line}")
                };
                let mut card_script = hex(r2);
                card_script.extend(hex(z2));
                let mut host_script = hex(r1);
                host_script.extend(hex(z1));
                let mut host_rng = Scripted(host_script);
                let mut card = selected_gids(&key, Scripted(card_script));
                let flow = gids::MutualAuth::new(&key, &mut host_rng).unwrap();
                let answer = send(&mut card, flow.command(), LengthForm::Short);
                let flow = flow.receive_mse_set(answer.as_bytes()).unwrap();
                let answer = send(&mut card, flow.command(), LengthForm::Short);
                let flow = flow
                    .receive_challenge(answer.as_bytes(), &mut host_rng)
                    .unwrap();
                assert_eq!(flow.command().data(), hex(host_data), "{line}");
                let answer = send(&mut card, flow.command(), LengthForm::Short);
                assert_eq!(answer.data(), hex(card_data), "{line}");
                flow.finish(answer.as_bytes()).unwrap();
                counts[2] += 1;
            }
            "gids-put-key" => {
                let [_, _, _, kcv, command] = fields[..] else {
                    panic!("{line}")
                };
                assert_eq!(key.check_value().as_bytes().to_vec(), hex(kcv), "{line}");
                assert_eq!(
                    gids::put_key_allowing_weak(&key)
                        .encode(LengthForm::Short)
                        .as_bytes(),
                    hex(command),
                    "{line}"
                );
                counts[3] += 1;
            }
            "yk-set-key" => {
                let [_, _, _, touch, command] = fields[..] else {
                    panic!("{line}")
                };
                let touch = touch == "1";
                assert_eq!(
                    yubikey::set_management_key_allowing_weak(&key, touch)
                        .encode(LengthForm::Short)
                        .as_bytes(),
                    hex(command),
                    "{line}"
                );
                let command = hex(command);
                let parsed = CommandApdu::parse(&command).unwrap();
                let (parsed_key, parsed_touch) =
                    yubikey::parse_set_management_key(parsed.p1(), parsed.p2(), parsed.data())
                        .unwrap();
                assert_eq!(parsed_key.expose_secret(), key.expose_secret());
                assert_eq!(parsed_key.algorithm(), algorithm);
                assert_eq!(parsed_touch, touch);
                counts[4] += 1;
            }
            other => panic!("unknown record {other}"),
        }
    }
    assert_eq!(counts, [8, 8, 8, 8, 16]);
}

/// Every command a host flow sends, for one algorithm (key 0x42..), in one length form.
fn host_commands(algorithm: Algorithm, form: LengthForm) -> Vec<Vec<u8>> {
    let key = key_for(algorithm, 0x42);
    let mut out = Vec::new();
    let mut card = selected_piv(&key, rng(30));
    let flow = piv::SingleAuth::new(&key);
    out.push(flow.command().encode(form).as_bytes().to_vec());
    let answer = send(&mut card, flow.command(), form);
    let flow = flow.receive_challenge(answer.as_bytes()).unwrap();
    out.push(flow.command().encode(form).as_bytes().to_vec());
    let flow = piv::MutualAuth::new(&key);
    out.push(flow.command().encode(form).as_bytes().to_vec());
    let answer = send(&mut card, flow.command(), form);
    let flow = flow
        .receive_witness(answer.as_bytes(), &mut rng(31))
        .unwrap();
    out.push(flow.command().encode(form).as_bytes().to_vec());
    out.push(
        yubikey::set_management_key_allowing_weak(&key, false)
            .encode(form)
            .as_bytes()
            .to_vec(),
    );
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Random keys of every algorithm: the right key authenticates in every flow and form, a
    /// different key (different check value) is refused and costs a try.
    #[test]
    fn host_and_card_agree(alg in 0usize..4, key_seed in any::<[u8; 32]>(), other_seed in any::<[u8; 32]>(), seed in any::<u64>(), extended in any::<bool>()) {
        let algorithm = Algorithm::ALL[alg];
        let form = if extended { LengthForm::Extended } else { LengthForm::Short };
        let key = AdminKey::new(algorithm, &key_seed[..algorithm.key_len()]).unwrap();
        let wrong = AdminKey::new(algorithm, &other_seed[..algorithm.key_len()]).unwrap();
        prop_assume!(key.check_value() != wrong.check_value());

        let mut card = selected_piv(&key, rng(seed));
        prop_assert_eq!(piv_single(&mut card, &key, form), Ok(()));
        prop_assert_eq!(piv_mutual(&mut card, &key, form, seed ^ 1), Ok(()));
        prop_assert_eq!(piv_single(&mut card, &wrong, form), Err(AuthError::WrongKey { retries_left: Some(2) }));
        prop_assert_eq!(piv_mutual(&mut card, &wrong, form, seed ^ 2), Err(AuthError::WrongKey { retries_left: Some(1) }));
        prop_assert_eq!(piv_mutual(&mut card, &key, form, seed ^ 3), Ok(()));
        prop_assert_eq!(card.retries_left(), 3);

        let mut card = selected_gids(&key, rng(seed ^ 4));
        prop_assert_eq!(gids_mutual(&mut card, &key, form, seed ^ 5), Ok(()));
        prop_assert_eq!(gids_mutual(&mut card, &wrong, form, seed ^ 6), Err(AuthError::WrongKey { retries_left: Some(2) }));
    }

    /// Every host command, cut short or with bytes added, is refused by the card (never
    /// 9000 with an authentication), and the card never panics.
    #[test]
    fn truncated_and_overlong_commands_are_refused(alg in 0usize..4, extended in any::<bool>(), which in 0usize..5, cut in any::<prop::sample::Index>(), extra in prop::collection::vec(any::<u8>(), 1..4)) {
        let algorithm = Algorithm::ALL[alg];
        let form = if extended { LengthForm::Extended } else { LengthForm::Short };
        let commands = host_commands(algorithm, form);
        let command = &commands[which];
        let key = key_for(algorithm, 0x42);

        let truncated = &command[..cut.index(command.len())];
        let mut card = selected_piv(&key, rng(40));
        let answer = card.process(truncated);
        // Dropping only Le leaves a valid command (case 4 -> case 3) with the same data.
        let same = |bytes: &[u8]| CommandApdu::parse(bytes).map(|c| c.data().to_vec()).ok() == CommandApdu::parse(command).map(|c| c.data().to_vec()).ok();
        if !same(truncated) {
            prop_assert_ne!(answer.status_word(), StatusWord::SUCCESS);
        }
        prop_assert!(!card.is_authenticated());

        let mut longer = command.clone();
        longer.extend(&extra);
        let mut card = selected_piv(&key, rng(41));
        let answer = card.process(&longer);
        // One extra byte may be read as Le (case 3 -> case 4), which is a valid command.
        if !same(&longer) {
            prop_assert_ne!(answer.status_word(), StatusWord::SUCCESS);
        }
        prop_assert!(!card.is_authenticated());
    }

    /// The host refuses card answers cut short or with bytes added, with an error, never a
    /// panic.
    #[test]
    fn truncated_and_overlong_answers_are_refused(alg in 0usize..4, cut in any::<prop::sample::Index>(), extra in prop::collection::vec(any::<u8>(), 1..4), seed in any::<u64>()) {
        let algorithm = Algorithm::ALL[alg];
        let key = key_for(algorithm, 0x42);

        let mut card = selected_piv(&key, rng(seed));
        let flow = piv::MutualAuth::new(&key);
        let witness = send(&mut card, flow.command(), LengthForm::Short).as_bytes().to_vec();
        let truncated = &witness[..cut.index(witness.len())];
        prop_assert!(piv::MutualAuth::new(&key).receive_witness(truncated, &mut rng(1)).is_err());
        let mut longer = witness[..witness.len() - 2].to_vec();
        longer.extend(&extra);
        longer.extend([0x90, 0x00]);
        prop_assert!(piv::MutualAuth::new(&key).receive_witness(&longer, &mut rng(1)).is_err());

        let flow = flow.receive_witness(&witness, &mut rng(seed)).unwrap();
        let answer = send(&mut card, flow.command(), LengthForm::Short).as_bytes().to_vec();
        let truncated = &answer[..cut.index(answer.len())];
        let mut longer = answer[..answer.len() - 2].to_vec();
        longer.extend(&extra);
        longer.extend([0x90, 0x00]);
        // Each finish consumes the flow, so check the bad answers on copies of the state.
        let flow_for = |card: &mut SoftCard<ChaCha20Rng>| {
            let f = piv::MutualAuth::new(&key);
            let w = send(card, f.command(), LengthForm::Short);
            f.receive_witness(w.as_bytes(), &mut rng(seed)).unwrap()
        };
        prop_assert!(flow_for(&mut card).finish(truncated).is_err());
        prop_assert!(flow_for(&mut card).finish(&longer).is_err());
        prop_assert_eq!(flow.finish(&answer), Ok(()));
    }

    /// Any single corrupted byte in the R2 || R1 part of a host cryptogram is refused by the
    /// card. (The last block, Z1 then 80, is only checked on its last byte, as GIDS defines
    /// it: a corruption there passes with probability 1/256, and proves nothing anyway.)
    #[test]
    fn corrupted_cryptograms_are_refused(alg in 0usize..4, at in any::<prop::sample::Index>(), flip in 1u8..=255, seed in any::<u64>()) {
        let algorithm = Algorithm::ALL[alg];
        let key = key_for(algorithm, 0x42);
        let mut card = selected_gids(&key, rng(seed));
        let mut host_rng = rng(seed ^ 9);
        let flow = gids::MutualAuth::new(&key, &mut host_rng).unwrap();
        let answer = send(&mut card, flow.command(), LengthForm::Short);
        let flow = flow.receive_mse_set(answer.as_bytes()).unwrap();
        let answer = send(&mut card, flow.command(), LengthForm::Short);
        let flow = flow.receive_challenge(answer.as_bytes(), &mut host_rng).unwrap();
        let mut command = flow.command().encode(LengthForm::Short).as_bytes().to_vec();
        // Corrupt a byte of R2 || R1 in the cryptogram (after the 5-byte header and 7C L 82 n).
        let index = 9 + at.index(32);
        command[index] ^= flip;
        prop_assert_eq!(card.process(&command).status_word(), StatusWord::retries(2));
        prop_assert!(!card.is_authenticated());
    }

    /// The card answers anything without panicking.
    #[test]
    fn card_never_panics(commands in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..64), 1..8)) {
        let key = key_for(Algorithm::Aes192, 1);
        let mut card = selected_piv(&key, rng(50));
        for command in &commands {
            let answer = card.process(command);
            prop_assert!(answer.as_bytes().len() >= 2);
        }
    }
}

/// The byte strings issue #11 gives, as the flows build them and as the card takes them.
#[test]
fn issue_byte_strings() {
    let key = AdminKey::from_hex("010203040506070801020304050607080102030405060708").unwrap();
    // PIV requests.
    assert_eq!(piv::SingleAuth::new(&key).command().data(), hex("7c028100"));
    assert_eq!(piv::MutualAuth::new(&key).command().data(), hex("7c028000"));
    // yubikit's extended witness request, with no Le, is answered with a witness.
    let aes = AdminKey::new(Algorithm::Aes192, key.expose_secret()).unwrap();
    let mut card = SoftCard::new(aes.clone(), rng(60));
    let answer = card.process(&hex("0087 0a9b 000004 7c028000".replace(' ', "").as_str()));
    assert_eq!(answer.status_word(), StatusWord::SUCCESS);
    assert_eq!(answer.data()[..4], [0x7c, 0x12, 0x80, 0x10]);
    // GIDS: MSE SET exactly, and the R1 command's header and template.
    let mut host_rng = rng(61);
    let flow = gids::MutualAuth::new(&key, &mut host_rng).unwrap();
    assert_eq!(
        flow.command().encode(LengthForm::Short).as_bytes(),
        hex("0022c1a403830180")
    );
    let flow = flow.receive_mse_set(&[0x90, 0x00]).unwrap();
    let bytes = flow.command().encode(LengthForm::Short).as_bytes().to_vec();
    assert_eq!(bytes[..9], hex("00870000147c128110")[..]);
    assert_eq!(bytes.len(), 9 + 16 + 1); // R1, then Le
                                         // The same command without Le is taken by the card too.
    let mut card = selected_gids(&key, rng(62));
    send(
        &mut card,
        &gids::MutualAuth::new(&key, &mut host_rng)
            .unwrap()
            .command()
            .clone(),
        LengthForm::Short,
    );
    let answer = card.process(&bytes[..bytes.len() - 1]);
    assert_eq!(answer.data()[..4], [0x7c, 0x12, 0x81, 0x10]);
    // YubiKey extras.
    assert_eq!(
        yubikey::get_metadata().encode(LengthForm::Short).as_bytes()[..4],
        hex("00f7009b")[..]
    );
    let set = yubikey::set_management_key_allowing_weak(&aes, true)
        .encode(LengthForm::Short)
        .as_bytes()
        .to_vec();
    assert_eq!(set[..8], hex("00fffffe1b0a9b18")[..]);
    let put = gids::put_key_allowing_weak(&key);
    assert_eq!(put.data()[put.data().len() - 5..], hex("8803b073dc")[..]);
}

/// The module docs' SELECT row: PIV answers its application property template, GIDS its AID
/// in a `61` template, `P2 = 0C` asks for no data; anything else is refused.
#[test]
fn select_answers_as_documented() {
    let mut card = SoftCard::new(key_for(Algorithm::Tdes, 1), rng(1));
    let apt = hex("6111 4f06000010000100 7907 4f05a000000308 9000");
    assert_eq!(card.process(&hex("00a4040005 a000000308")).as_bytes(), apt);
    assert_eq!(
        card.process(&hex("00a404000b a0000003080000100001 00"))
            .as_bytes(),
        apt
    );
    assert_eq!(
        card.process(&hex("00a4040c05 a000000308")).as_bytes(),
        [0x90, 0x00]
    );
    assert_eq!(
        card.process(&hex("00a4040009 a00000039742544659"))
            .as_bytes(),
        hex("610b 4f09a00000039742544659 9000")
    );
    assert_eq!(
        card.process(&hex("00a4040c09 a00000039742544659"))
            .as_bytes(),
        [0x90, 0x00]
    );
    for (command, status) in [
        ("00a4000005 a000000308", StatusWord::WRONG_P1_P2),
        ("00a4040405 a000000308", StatusWord::WRONG_P1_P2),
        ("00a4000c05 a000000308", StatusWord::WRONG_P1_P2),
        ("00a4040004 a0000003", StatusWord::NOT_FOUND),
        ("00a4040005 a000000397", StatusWord::NOT_FOUND),
        ("00a4040006 a00000030801", StatusWord::NOT_FOUND),
    ] {
        assert_eq!(
            card.process(&hex(command)).as_bytes(),
            status.to_bytes(),
            "{command}"
        );
    }
}

/// The card answers `command` with `6985`, no challenge outstanding, and is not authenticated.
fn refused_as_unasked<R: RngCore + CryptoRng>(
    card: &mut SoftCard<R>,
    command: &Command,
    context: &str,
) {
    let answer = send(card, command, LengthForm::Short);
    assert_eq!(
        answer.status_word(),
        StatusWord::CONDITIONS_NOT_SATISFIED,
        "{context}"
    );
    assert!(!card.is_authenticated(), "{context}");
}

/// A challenge or witness outstanding when the application is selected again (either `P2`)
/// or the card is reset is gone: the right cryptogram for it is refused after, for every flow
/// and algorithm.
#[test]
fn select_and_reset_end_an_outstanding_challenge() {
    let select_piv_no_data = hex("00a4040c05 a000000308");
    let select_gids_no_data = hex("00a4040c09 a00000039742544659");
    for algorithm in Algorithm::ALL {
        let key = key_for(algorithm, 0x24);
        for ending in ["select", "select, no data", "reset"] {
            let end = |card: &mut SoftCard<ChaCha20Rng>, gids_app: bool| match ending {
                "select" => {
                    let select = if gids_app {
                        gids::select()
                    } else {
                        piv::select()
                    };
                    assert_eq!(
                        send(card, &select, LengthForm::Short).status_word(),
                        StatusWord::SUCCESS
                    );
                }
                "select, no data" => {
                    let select = if gids_app {
                        &select_gids_no_data
                    } else {
                        &select_piv_no_data
                    };
                    assert_eq!(card.process(select).as_bytes(), [0x90, 0x00]);
                }
                _ => card.reset(),
            };
            let context = format!("{algorithm}, {ending}");

            let mut card = selected_piv(&key, rng(21));
            let flow = piv::SingleAuth::new(&key);
            let answer = send(&mut card, flow.command(), LengthForm::Short);
            let flow = flow.receive_challenge(answer.as_bytes()).unwrap();
            end(&mut card, false);
            refused_as_unasked(&mut card, flow.command(), &context);

            let flow = piv::MutualAuth::new(&key);
            let answer = send(&mut card, flow.command(), LengthForm::Short);
            let flow = flow
                .receive_witness(answer.as_bytes(), &mut rng(22))
                .unwrap();
            end(&mut card, false);
            refused_as_unasked(&mut card, flow.command(), &context);

            // A GIDS-only card, so that a reset selects GIDS again by itself.
            let mut card = SoftCard::new(key.clone(), rng(23)).without_piv();
            assert_eq!(
                send(&mut card, &gids::select(), LengthForm::Short).status_word(),
                StatusWord::SUCCESS
            );
            let mut host_rng = rng(24);
            let flow = gids::MutualAuth::new(&key, &mut host_rng).unwrap();
            let answer = send(&mut card, flow.command(), LengthForm::Short);
            let flow = flow.receive_mse_set(answer.as_bytes()).unwrap();
            let answer = send(&mut card, flow.command(), LengthForm::Short);
            let flow = flow
                .receive_challenge(answer.as_bytes(), &mut host_rng)
                .unwrap();
            end(&mut card, true);
            // Even with the admin key selected again, the old R1 and R2 are gone.
            send(
                &mut card,
                gids::MutualAuth::new(&key, &mut rng(25)).unwrap().command(),
                LengthForm::Short,
            );
            refused_as_unasked(&mut card, flow.command(), &context);
        }
    }
}

/// The card's `Debug` shows its state, never its key.
#[test]
fn soft_card_debug_shows_state_not_key() {
    let key = key_for(Algorithm::Aes128, 0xa7);
    let card = SoftCard::new(key.clone(), rng(1))
        .with_wrong_key_status(WrongKeyStatus::SecurityStatusNotSatisfied);
    assert_eq!(
        card.wrong_key_status(),
        WrongKeyStatus::SecurityStatusNotSatisfied
    );
    let debug = format!("{card:?}");
    assert_eq!(debug, format!("SoftCard {{ key: {key:?}, retries: 3, selected: Some(Piv), authenticated: false, .. }}"));
    assert!(!debug.to_lowercase().contains("a7a7"), "{debug}");
}

/// GET METADATA's policy object `02` is read as sent, PIN policy first, whatever the values
/// (YubiKey PIN policies 01 to 03 and touch policies 01 to 03 for other slots).
#[test]
fn metadata_policy_bytes_are_read_as_sent() {
    for (pin, touch) in [(0u8, 1u8), (1, 2), (2, 3), (3, 1), (0x10, 0x20)] {
        let answer = [
            0x01, 0x01, 0x03, 0x02, 0x02, pin, touch, 0x05, 0x01, 0x01, 0x90, 0x00,
        ];
        let metadata = yubikey::ManagementKeyMetadata::parse(&answer).unwrap();
        assert_eq!(
            (metadata.pin_policy(), metadata.touch_policy()),
            (pin, touch)
        );
        assert_eq!(metadata.algorithm(), Algorithm::Tdes);
        assert!(metadata.is_default());
    }
}
