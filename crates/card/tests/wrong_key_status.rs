//! A wrong management/admin key as real cards say it (issue #14, item 3): `63Cx` with the tries
//! left, or `6982` with no count (YubiKey, canokey). Every host flow reports both as
//! `AuthError::WrongKey`, against the software card in both of its modes, for every algorithm
//! and APDU form; `6982` where no cryptogram was answered stays "authenticate first".
#![cfg(feature = "soft-card")]

use cardadmin::{AdminKey, Algorithm};
use cardadmin_card::apdu::{Command, LengthForm, StatusWord};
use cardadmin_card::auth::{gids, piv, yubikey, AuthError};
use cardadmin_card::soft_card::{SoftCard, WrongKeyStatus};
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha20Rng;

const FORMS: [LengthForm; 2] = [LengthForm::Short, LengthForm::Extended];

fn rng(seed: u64) -> ChaCha20Rng {
    ChaCha20Rng::seed_from_u64(seed)
}

fn key_for(algorithm: Algorithm, fill: u8) -> AdminKey {
    AdminKey::new(algorithm, &vec![fill; algorithm.key_len()]).unwrap()
}

fn send(card: &mut SoftCard<ChaCha20Rng>, command: &Command, form: LengthForm) -> Vec<u8> {
    card.process(command.encode(form).as_bytes())
        .as_bytes()
        .to_vec()
}

fn piv_single(
    card: &mut SoftCard<ChaCha20Rng>,
    key: &AdminKey,
    form: LengthForm,
) -> Result<(), AuthError> {
    send(card, &piv::select(), form);
    let flow = piv::SingleAuth::new(key);
    let answer = send(card, flow.command(), form);
    let flow = flow.receive_challenge(&answer)?;
    let answer = send(card, flow.command(), form);
    flow.finish(&answer)
}

fn piv_mutual(
    card: &mut SoftCard<ChaCha20Rng>,
    key: &AdminKey,
    form: LengthForm,
    seed: u64,
) -> Result<(), AuthError> {
    send(card, &piv::select(), form);
    let flow = piv::MutualAuth::new(key);
    let answer = send(card, flow.command(), form);
    let flow = flow.receive_witness(&answer, &mut rng(seed))?;
    let answer = send(card, flow.command(), form);
    flow.finish(&answer)
}

fn gids_mutual(
    card: &mut SoftCard<ChaCha20Rng>,
    key: &AdminKey,
    form: LengthForm,
    seed: u64,
) -> Result<(), AuthError> {
    send(card, &gids::select(), form);
    let mut host_rng = rng(seed);
    let flow = gids::MutualAuth::new(key, &mut host_rng)?;
    let answer = send(card, flow.command(), form);
    let flow = flow.receive_mse_set(&answer)?;
    let answer = send(card, flow.command(), form);
    let flow = flow.receive_challenge(&answer, &mut host_rng)?;
    let answer = send(card, flow.command(), form);
    flow.finish(&answer)
}

type Flow = fn(&mut SoftCard<ChaCha20Rng>, &AdminKey, LengthForm, u64) -> Result<(), AuthError>;

const FLOWS: [(&str, Flow); 3] = [
    ("PIV single", |card, key, form, _| {
        piv_single(card, key, form)
    }),
    ("PIV mutual", piv_mutual),
    ("GIDS mutual", gids_mutual),
];

#[test]
fn six_nine_eight_two_after_a_cryptogram_is_a_wrong_key_with_no_count() {
    for algorithm in Algorithm::ALL {
        for form in FORMS {
            for (name, flow) in FLOWS {
                let key = key_for(algorithm, 0x42);
                let wrong = key_for(algorithm, 0x24);
                let mut card = SoftCard::new(key.clone(), rng(1))
                    .with_wrong_key_status(WrongKeyStatus::SecurityStatusNotSatisfied);
                // Many more wrong tries than a counter would allow: always 6982, never blocked.
                for seed in 0..6 {
                    assert_eq!(
                        flow(&mut card, &wrong, form, seed),
                        Err(AuthError::WrongKey { retries_left: None }),
                        "{name} {algorithm} {form:?}"
                    );
                    assert!(!card.is_authenticated());
                }
                assert_eq!(flow(&mut card, &key, form, 9), Ok(()), "{name} {algorithm}");
                assert!(card.is_authenticated());
            }
        }
    }
}

#[test]
fn sixty_three_cx_after_a_cryptogram_is_a_wrong_key_with_the_tries_left() {
    for algorithm in Algorithm::ALL {
        for form in FORMS {
            for (name, flow) in FLOWS {
                let key = key_for(algorithm, 0x42);
                let wrong = key_for(algorithm, 0x24);
                let mut card = SoftCard::new(key.clone(), rng(1));
                assert_eq!(card.wrong_key_status(), WrongKeyStatus::Retries);
                for left in [2, 1, 0] {
                    assert_eq!(
                        flow(&mut card, &wrong, form, u64::from(left)),
                        Err(AuthError::WrongKey {
                            retries_left: Some(left)
                        }),
                        "{name} {algorithm} {form:?}"
                    );
                }
                assert_eq!(flow(&mut card, &key, form, 9), Err(AuthError::Blocked));
            }
        }
    }
}

/// The status words alone, at the three places a card answers a cryptogram, and at the places
/// it does not: there `6982` is still "authenticate first".
#[test]
fn where_six_nine_eight_two_means_what() {
    let six_nine_eight_two = [0x69, 0x82];
    let no_count = Err(AuthError::WrongKey { retries_left: None });
    for algorithm in Algorithm::ALL {
        let key = key_for(algorithm, 0x42);
        let block = algorithm.block_len();
        let nested = |tag: u8, len: usize| {
            let mut out = vec![0x7c, len as u8 + 2, tag, len as u8];
            out.extend(vec![0x5a; len]);
            out.extend([0x90, 0x00]);
            out
        };
        let single = piv::SingleAuth::new(&key)
            .receive_challenge(&nested(0x81, block))
            .unwrap();
        assert_eq!(single.finish(&six_nine_eight_two), no_count);
        let mutual = piv::MutualAuth::new(&key)
            .receive_witness(&nested(0x80, block), &mut rng(3))
            .unwrap();
        assert_eq!(mutual.finish(&six_nine_eight_two), no_count);
        let gids_flow = gids::MutualAuth::new(&key, &mut rng(4))
            .unwrap()
            .receive_mse_set(&[0x90, 0x00])
            .unwrap()
            .receive_challenge(&nested(0x81, 16), &mut rng(5))
            .unwrap();
        assert_eq!(gids_flow.finish(&six_nine_eight_two), no_count);

        // Not answers to a cryptogram.
        let status = Err(AuthError::SecurityStatusNotSatisfied);
        assert_eq!(
            piv::SingleAuth::new(&key)
                .receive_challenge(&six_nine_eight_two)
                .map(|_| ()),
            status
        );
        assert_eq!(
            piv::MutualAuth::new(&key)
                .receive_witness(&six_nine_eight_two, &mut rng(6))
                .map(|_| ()),
            status
        );
        assert_eq!(
            gids::MutualAuth::new(&key, &mut rng(7))
                .unwrap()
                .receive_mse_set(&six_nine_eight_two)
                .map(|_| ()),
            status
        );
        assert_eq!(
            yubikey::check_set_management_key(&six_nine_eight_two),
            status
        );
        assert_eq!(gids::check_put_key(&six_nine_eight_two), status);
        assert_eq!(
            yubikey::check_set_management_key(&StatusWord::retries(1).0.to_be_bytes()),
            Err(AuthError::WrongKey {
                retries_left: Some(1)
            })
        );
    }
}

/// In the 6982 mode a key change still needs an authentication, and a wrong key never blocks
/// the card: after many wrong tries the right key authenticates and changes the key.
#[test]
fn six_nine_eight_two_mode_key_change_after_many_wrong_tries() {
    let key = key_for(Algorithm::Aes192, 0x42);
    let wrong = key_for(Algorithm::Aes192, 0x24);
    let mut card = SoftCard::new(key.clone(), rng(1))
        .with_wrong_key_status(WrongKeyStatus::SecurityStatusNotSatisfied);
    let new_key = key_for(Algorithm::Aes256, 0x77);
    // A repeated byte is a weak key, refused by the checked form; this test is about 6982.
    let change = yubikey::set_management_key_allowing_weak(&new_key, false);
    assert_eq!(
        yubikey::check_set_management_key(&send(&mut card, &change, LengthForm::Short)),
        Err(AuthError::SecurityStatusNotSatisfied)
    );
    for seed in 0..20 {
        assert_eq!(
            piv_mutual(&mut card, &wrong, LengthForm::Short, seed),
            Err(AuthError::WrongKey { retries_left: None })
        );
    }
    piv_mutual(&mut card, &key, LengthForm::Short, 99).unwrap();
    yubikey::check_set_management_key(&send(&mut card, &change, LengthForm::Short)).unwrap();
    piv_mutual(&mut card, &new_key, LengthForm::Short, 100).unwrap();
}

/// The `soft_card` bridge example as a card: one command per line in hex, one answer per line.
struct Bridge {
    child: std::process::Child,
    out: std::io::BufReader<std::process::ChildStdout>,
}

impl Bridge {
    /// The bridge built next to this test (`cargo test` builds the examples; alone, run
    /// `cargo build -p cardadmin-card --all-features --example soft_card` first).
    fn start(algorithm: &str, key: &AdminKey, extra: &[&str]) -> Self {
        let exe = std::env::current_exe().unwrap();
        let dir = exe.parent().unwrap().parent().unwrap();
        let path = dir.join("examples").join("soft_card");
        assert!(
            path.exists(),
            "{} missing: cargo build -p cardadmin-card --all-features --example soft_card",
            path.display()
        );
        let hex: String = key
            .expose_secret()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let mut child = std::process::Command::new(path)
            .args(["--algorithm", algorithm, "--key", &hex])
            .args(extra)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let out = std::io::BufReader::new(child.stdout.take().unwrap());
        Self { child, out }
    }

    fn send(&mut self, command: &Command) -> Vec<u8> {
        use std::io::{BufRead, Write};
        let line: String = command
            .encode(LengthForm::Extended)
            .as_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let stdin = self.child.stdin.as_mut().unwrap();
        writeln!(stdin, "{line}").unwrap();
        stdin.flush().unwrap();
        let mut answer = String::new();
        self.out.read_line(&mut answer).unwrap();
        let answer = answer.trim();
        (0..answer.len())
            .step_by(2)
            .map(|at| u8::from_str_radix(&answer[at..at + 2], 16).unwrap())
            .collect()
    }
}

impl Drop for Bridge {
    fn drop(&mut self) {
        drop(self.child.stdin.take());
        let _ = self.child.wait();
    }
}

fn bridge_flows(bridge: &mut Bridge, key: &AdminKey, seed: u64) -> [Result<(), AuthError>; 3] {
    bridge.send(&piv::select());
    let single = (|| {
        let flow = piv::SingleAuth::new(key);
        let answer = bridge.send(flow.command());
        let flow = flow.receive_challenge(&answer)?;
        let answer = bridge.send(flow.command());
        flow.finish(&answer)
    })();
    let mutual = (|| {
        let flow = piv::MutualAuth::new(key);
        let answer = bridge.send(flow.command());
        let flow = flow.receive_witness(&answer, &mut rng(seed))?;
        let answer = bridge.send(flow.command());
        flow.finish(&answer)
    })();
    bridge.send(&gids::select());
    let gids = (|| {
        let mut host_rng = rng(seed ^ 1);
        let flow = gids::MutualAuth::new(key, &mut host_rng)?;
        let answer = bridge.send(flow.command());
        let flow = flow.receive_mse_set(&answer)?;
        let answer = bridge.send(flow.command());
        let flow = flow.receive_challenge(&answer, &mut host_rng)?;
        let answer = bridge.send(flow.command());
        flow.finish(&answer)
    })();
    [single, mutual, gids]
}

#[test]
fn through_the_bridge_both_wrong_key_answers() {
    for (algorithm, name) in [
        (Algorithm::Tdes, "tdes"),
        (Algorithm::Aes128, "aes128"),
        (Algorithm::Aes192, "aes192"),
        (Algorithm::Aes256, "aes256"),
    ] {
        let key = key_for(algorithm, 0x42);
        let wrong = key_for(algorithm, 0x24);
        // The default: 3 tries, 63Cx, then 6983.
        let mut bridge = Bridge::start(name, &key, &[]);
        let tries = |left: u8| {
            Err(AuthError::WrongKey {
                retries_left: Some(left),
            })
        };
        assert_eq!(
            bridge_flows(&mut bridge, &wrong, 1),
            [tries(2), tries(1), tries(0)],
            "{name}"
        );
        assert_eq!(
            bridge_flows(&mut bridge, &key, 2),
            [
                Err(AuthError::Blocked),
                Err(AuthError::Blocked),
                Err(AuthError::Blocked)
            ],
            "{name}"
        );
        drop(bridge);
        // --wrong-key-sw 6982: no counter.
        let mut bridge = Bridge::start(name, &key, &["--wrong-key-sw", "6982"]);
        let no_count = Err(AuthError::WrongKey { retries_left: None });
        for seed in 0..3 {
            assert_eq!(
                bridge_flows(&mut bridge, &wrong, seed),
                [no_count, no_count, no_count],
                "{name}"
            );
        }
        assert_eq!(
            bridge_flows(&mut bridge, &key, 9),
            [Ok(()), Ok(()), Ok(())],
            "{name}"
        );
    }
}
