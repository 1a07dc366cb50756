//! A keyless card against every host flow (issue #14, item 1): it tries reflection (the host's
//! own random played back as the card's), echo (the host's own cryptogram or any part of it
//! played back) and replay (bytes of earlier sessions, the host's and a real card's, in every
//! position), for every flow and every algorithm. None of it may authenticate the card.
//!
//! The adversary knows everything on the wire: the bytes the host sent in this session and in
//! earlier ones, and a transcript of an earlier session between the host and a real card
//! holding the key (recorded by an eavesdropper). It never holds the key. To be generous to
//! it, it may try any number of answers against the very same host state (the host is
//! re-run from the same seed, so R1, Z1 and H repeat).
//!
//! The last tests here are the documented limits (see `auth::piv` and `auth::gids`): what a
//! keyless card *can* do when the host lends it an encryption oracle under the same key.
#![cfg(feature = "soft-card")]

use cardadmin::{AdminKey, Algorithm};
use cardadmin_card::apdu::{Command, LengthForm};
use cardadmin_card::auth::{gids, piv, AuthError};
use cardadmin_card::soft_card::SoftCard;
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha20Rng;

const OK: [u8; 2] = [0x90, 0x00];

fn rng(seed: u64) -> ChaCha20Rng {
    ChaCha20Rng::seed_from_u64(seed)
}

fn key_for(algorithm: Algorithm) -> AdminKey {
    let bytes: Vec<u8> = (0..algorithm.key_len())
        .map(|i| 0x31u8.wrapping_mul(i as u8 + 7))
        .collect();
    AdminKey::new(algorithm, &bytes).unwrap()
}

/// `7C L tag n value`, then `9000`: an answer from the card.
fn nested_answer(tag: u8, value: &[u8]) -> Vec<u8> {
    let mut out = vec![0x7c, (value.len() + 2) as u8, tag, value.len() as u8];
    out.extend_from_slice(value);
    out.extend_from_slice(&OK);
    out
}

fn with_ok(data: &[u8]) -> Vec<u8> {
    let mut out = data.to_vec();
    out.extend_from_slice(&OK);
    out
}

/// Every window of `len` bytes, at every offset, of every byte string in `pool`.
fn windows(pool: &[Vec<u8>], len: usize) -> Vec<Vec<u8>> {
    let mut out: Vec<Vec<u8>> = pool
        .iter()
        .flat_map(|bytes| bytes.windows(len).map(<[u8]>::to_vec))
        .collect();
    out.sort();
    out.dedup();
    out
}

/// Every sequence of `count` blocks, each taken from `blocks` (with repetition, any order).
fn block_sequences(blocks: &[Vec<u8>], count: usize) -> Vec<Vec<u8>> {
    let mut out = vec![vec![]];
    for _ in 0..count {
        out = out
            .into_iter()
            .flat_map(|prefix| {
                blocks.iter().map(move |block| {
                    let mut next = prefix.clone();
                    next.extend_from_slice(block);
                    next
                })
            })
            .collect();
    }
    out
}

fn card(key: &AdminKey, seed: u64) -> SoftCard<ChaCha20Rng> {
    SoftCard::new(key.clone(), rng(seed))
}

fn send(card: &mut SoftCard<ChaCha20Rng>, command: &Command) -> Vec<u8> {
    card.process(command.encode(LengthForm::Extended).as_bytes())
        .as_bytes()
        .to_vec()
}

// == GIDS ========================================================================================

/// What the host sent in one GIDS session, as far as it got.
#[derive(Default)]
struct GidsTranscript {
    /// The data fields of the host's commands.
    host: Vec<Vec<u8>>,
    r1: Vec<u8>,
    /// The host's cryptogram (the value of tag 82), if the host got that far.
    cryptogram: Option<Vec<u8>>,
}

/// One GIDS session of the host (seeded), against a card that answers R2 with
/// `pick_r2(R1)` and the cryptogram with `answer(transcript)`.
fn gids_session(
    key: &AdminKey,
    seed: u64,
    pick_r2: &dyn Fn(&[u8]) -> Vec<u8>,
    answer: &dyn Fn(&GidsTranscript) -> Vec<u8>,
) -> (GidsTranscript, Result<(), AuthError>) {
    let mut t = GidsTranscript::default();
    let mut host_rng = rng(seed);
    let flow = gids::MutualAuth::new(key, &mut host_rng).unwrap();
    t.host.push(flow.command().data().to_vec());
    let flow = flow.receive_mse_set(&OK).unwrap();
    let data = flow.command().data().to_vec();
    t.r1 = data[4..].to_vec();
    t.host.push(data);
    let r2 = pick_r2(&t.r1);
    let flow = match flow.receive_challenge(&nested_answer(0x81, &r2), &mut host_rng) {
        Ok(flow) => flow,
        Err(err) => return (t, Err(err)),
    };
    let data = flow.command().data().to_vec();
    t.cryptogram = Some(data[4..].to_vec());
    t.host.push(data);
    let answer = answer(&t);
    let result = flow.finish(&answer);
    (t, result)
}

/// A session between the host and a real card holding the key: what an eavesdropper records.
fn gids_recorded_session(key: &AdminKey, seed: u64) -> Vec<Vec<u8>> {
    let mut real = card(key, seed ^ 0xcafe);
    send(&mut real, &gids::select());
    let mut host_rng = rng(seed);
    let mut wire = vec![];
    let flow = gids::MutualAuth::new(key, &mut host_rng).unwrap();
    let answer = send(&mut real, flow.command());
    let flow = flow.receive_mse_set(&answer).unwrap();
    wire.push(flow.command().data().to_vec());
    let answer = send(&mut real, flow.command());
    wire.push(answer.clone());
    let flow = flow.receive_challenge(&answer, &mut host_rng).unwrap();
    wire.push(flow.command().data().to_vec());
    let answer = send(&mut real, flow.command());
    wire.push(answer.clone());
    flow.finish(&answer).expect("the real card authenticates");
    wire
}

/// The answers a keyless card can make of what it saw: the host's cryptogram echoed (whole
/// command data, or as the card's cryptogram), every window of the right length of every byte
/// string seen, and every sequence of the host's own cryptogram blocks.
fn gids_answers(t: &GidsTranscript, pool: &[Vec<u8>], block: usize) -> Vec<Vec<u8>> {
    let len = 2 * gids::RANDOM_LEN + block;
    let Some(cryptogram) = &t.cryptogram else {
        return vec![];
    };
    let mut seen = pool.to_vec();
    seen.extend(t.host.iter().cloned());
    let mut out = vec![with_ok(t.host.last().unwrap())];
    out.extend(windows(&seen, len).iter().map(|w| nested_answer(0x82, w)));
    let blocks: Vec<Vec<u8>> = cryptogram
        .chunks(block)
        .map(<[u8]>::to_vec)
        .chain([vec![0; block]])
        .collect();
    let count = len / block;
    // Every sequence of the host's own blocks (and a zero block), with repetition, in any
    // order: 4^3 for AES, 6^5 for 3DES. Among them the echo, the rotations, R1's and R2's
    // blocks swapped, and every block moved to the front.
    out.extend(
        block_sequences(&blocks, count)
            .iter()
            .map(|c| nested_answer(0x82, c)),
    );
    out.sort();
    out.dedup();
    out
}

/// The R2 values a keyless card can choose from what it saw: the host's own R1 (reflection),
/// R1 with its halves swapped or one half kept, and every 16-byte window of every earlier byte
/// string (earlier R1s, earlier cryptograms, a real card's R2 and cryptogram).
/// A card's choice of R2, from the host's R1.
type PickR2 = Box<dyn Fn(&[u8]) -> Vec<u8>>;

fn gids_r2_choices(pool: &[Vec<u8>]) -> Vec<PickR2> {
    let mut out: Vec<PickR2> = vec![
        Box::new(|r1: &[u8]| r1.to_vec()),
        Box::new(|r1: &[u8]| [&r1[8..], &r1[..8]].concat()),
        Box::new(|r1: &[u8]| [&r1[..8], &[0u8; 8][..]].concat()),
        Box::new(|r1: &[u8]| [&[0u8; 8][..], &r1[8..]].concat()),
        Box::new(|_: &[u8]| vec![0; 16]),
    ];
    for window in windows(pool, gids::RANDOM_LEN) {
        out.push(Box::new(move |_: &[u8]| window.clone()));
    }
    out
}

#[test]
fn gids_keyless_card_never_authenticates_by_reflection_echo_or_replay() {
    for algorithm in Algorithm::ALL {
        let key = key_for(algorithm);
        let block = algorithm.block_len();
        // What the adversary saw before: a real session, and two earlier host sessions that
        // failed.
        let mut pool = gids_recorded_session(&key, 1);
        for seed in [2, 3] {
            let (t, result) = gids_session(&key, seed, &|_| vec![0x5a; 16], &|_| with_ok(&[]));
            assert!(result.is_err());
            pool.extend(t.host);
        }
        let mut tries = 0usize;
        for (i, pick_r2) in gids_r2_choices(&pool).iter().enumerate() {
            // The first five choices (derived from this session's R1) get every answer; the
            // windows of earlier sessions (one each) get the echo and replay answers.
            let seed = 100 + i as u64;
            let (t, first) = gids_session(&key, seed, pick_r2.as_ref(), &|t| {
                with_ok(t.host.last().unwrap())
            });
            assert!(
                first.is_err(),
                "{algorithm}: R2 choice {i}: echo authenticated"
            );
            let answers = if i < 5 {
                gids_answers(&t, &pool, block)
            } else {
                let mut some = gids_answers(&t, &[], block);
                some.truncate(8);
                some.extend(pool.iter().map(|bytes| with_ok(bytes)));
                some
            };
            for answer in answers {
                tries += 1;
                let (_, result) = gids_session(&key, seed, pick_r2.as_ref(), &|_| answer.clone());
                assert!(
                    result.is_err(),
                    "{algorithm}: R2 choice {i}, answer {answer:02x?} authenticated a keyless card"
                );
            }
        }
        assert!(tries > 1000, "{algorithm}: only {tries} tries");
    }
}

#[test]
fn gids_refuses_the_hosts_own_r1_as_r2_before_encrypting() {
    for algorithm in Algorithm::ALL {
        let key = key_for(algorithm);
        let (t, result) = gids_session(&key, 7, &|r1| r1.to_vec(), &|t| {
            with_ok(t.host.last().unwrap())
        });
        assert_eq!(result, Err(AuthError::ReflectedChallenge), "{algorithm}");
        assert!(
            t.cryptogram.is_none(),
            "{algorithm}: the host encrypted R2 = R1"
        );
    }
}

/// A keyless card that learned decryptions under the same key (`D_K(0)` and more, from PIV
/// mutual authentications: the host decrypts any witness) and first-block encryptions from
/// earlier GIDS sessions (the host's cryptogram starts with `E_K(R2)`), one session at a time.
/// With `R2 = D_K(0)` (AES) or `R2 = x || (E_K(x) ^ D_K(0))` (3DES) the host's own cryptogram
/// holds the CBC chain of R1, the first part of what the card must answer; the rest stays out
/// of reach.
#[test]
fn gids_keyless_card_with_decryptions_from_piv_never_authenticates() {
    for algorithm in Algorithm::ALL {
        let key = key_for(algorithm);
        let block = algorithm.block_len();
        // D_K(W) for chosen W, from PIV mutual authentications with the same key.
        let decrypt = |w: &[u8]| {
            let flow = piv::MutualAuth::new(&key)
                .receive_witness(&nested_answer(0x80, w), &mut rng(77))
                .unwrap();
            flow.command().data()[4..4 + block].to_vec()
        };
        let d_zero = decrypt(&vec![0; block]);
        // E_K(x) for a chosen first block x, from an earlier GIDS session (3DES needs it).
        let x = vec![0x3c; block];
        let (earlier, _) = gids_session(
            &key,
            31,
            &|_| [x.clone(), x.clone()].concat()[..16].to_vec(),
            &|_| with_ok(&[]),
        );
        let e_x = earlier.cryptogram.unwrap()[..block].to_vec();
        let r2: Vec<u8> = if block == 16 {
            d_zero.clone()
        } else {
            let second: Vec<u8> = e_x.iter().zip(&d_zero).map(|(a, b)| a ^ b).collect();
            [x.clone(), second].concat()
        };
        let pick = |_: &[u8]| r2.clone();
        let (t, _) = gids_session(&key, 32, &pick, &|_| with_ok(&[]));
        let cryptogram = t.cryptogram.clone().unwrap();
        // The host's chain of R1 is there, as the attack intends.
        let r1_blocks = gids::RANDOM_LEN / block;
        let chain_of_r1 = &cryptogram[16..16 + gids::RANDOM_LEN];
        // Checked with the host's own encryption oracle (PIV single, same key): it is
        // CBC_K(R1), so the attack gets that far.
        let encrypt = |b: &[u8]| {
            let flow = piv::SingleAuth::new(&key)
                .receive_challenge(&nested_answer(0x81, b))
                .unwrap();
            flow.command().data()[4..].to_vec()
        };
        let mut chain = vec![0u8; block];
        let mut expected_chain = vec![];
        for part in t.r1.chunks(block) {
            let input: Vec<u8> = chain.iter().zip(part).map(|(c, p)| c ^ p).collect();
            chain = encrypt(&input);
            expected_chain.extend_from_slice(&chain);
        }
        assert_eq!(chain_of_r1, expected_chain.as_slice(), "{algorithm}");
        let mut known: Vec<Vec<u8>> = cryptogram.chunks(block).map(<[u8]>::to_vec).collect();
        known.extend([vec![0; block], d_zero.clone(), e_x.clone(), x.clone()]);
        known.sort();
        known.dedup();
        let count = (2 * gids::RANDOM_LEN + block) / block;
        let mut tries = 0usize;
        // Every answer that starts with the chain of R1 and continues with known blocks.
        for rest in block_sequences(&known, count - r1_blocks) {
            let answer = nested_answer(0x82, &[chain_of_r1, &rest].concat());
            tries += 1;
            let (_, result) = gids_session(&key, 32, &pick, &|_| answer.clone());
            assert!(
                result.is_err(),
                "{algorithm}: {answer:02x?} authenticated a keyless card"
            );
        }
        assert!(tries >= 36, "{algorithm}: only {tries} tries");
    }
}

// == PIV mutual ==================================================================================

#[derive(Default)]
struct PivTranscript {
    host: Vec<Vec<u8>>,
    /// D_K(W), as the host sent it.
    decrypted_witness: Option<Vec<u8>>,
    /// H, the host's challenge.
    challenge: Option<Vec<u8>>,
}

fn piv_mutual_session(
    key: &AdminKey,
    seed: u64,
    witness: &[u8],
    answer: &dyn Fn(&PivTranscript) -> Vec<u8>,
) -> (PivTranscript, Result<(), AuthError>) {
    let mut t = PivTranscript::default();
    let block = key.algorithm().block_len();
    let flow = piv::MutualAuth::new(key);
    t.host.push(flow.command().data().to_vec());
    let flow = match flow.receive_witness(&nested_answer(0x80, witness), &mut rng(seed)) {
        Ok(flow) => flow,
        Err(err) => return (t, Err(err)),
    };
    let data = flow.command().data().to_vec();
    t.decrypted_witness = Some(data[4..4 + block].to_vec());
    t.challenge = Some(data[6 + block..].to_vec());
    t.host.push(data);
    let answer = answer(&t);
    let result = flow.finish(&answer);
    (t, result)
}

fn piv_recorded_sessions(key: &AdminKey, seed: u64) -> Vec<Vec<u8>> {
    let mut real = card(key, seed ^ 0xbeef);
    send(&mut real, &piv::select());
    let mut wire = vec![];
    let flow = piv::MutualAuth::new(key);
    wire.push(flow.command().data().to_vec());
    let answer = send(&mut real, flow.command());
    wire.push(answer.clone());
    let flow = flow.receive_witness(&answer, &mut rng(seed)).unwrap();
    wire.push(flow.command().data().to_vec());
    let answer = send(&mut real, flow.command());
    wire.push(answer.clone());
    flow.finish(&answer).expect("the real card authenticates");
    // And a single authentication: the card's challenge and the host's E_K(C).
    let flow = piv::SingleAuth::new(key);
    let answer = send(&mut real, flow.command());
    wire.push(answer.clone());
    let flow = flow.receive_challenge(&answer).unwrap();
    wire.push(flow.command().data().to_vec());
    let verdict = send(&mut real, flow.command());
    flow.finish(&verdict).unwrap();
    wire
}

#[test]
fn piv_mutual_keyless_card_never_authenticates_by_reflection_echo_or_replay() {
    for algorithm in Algorithm::ALL {
        let key = key_for(algorithm);
        let block = algorithm.block_len();
        let mut pool = piv_recorded_sessions(&key, 1);
        // The witnesses: zero, every window of every byte string seen (a real card's earlier
        // witness, the host's earlier D_K(W) and H, a real card's E_K(H)), and, in a second
        // round, the host's outputs of the first round played back as witnesses.
        let mut witnesses = vec![vec![0; block], vec![0xff; block]];
        witnesses.extend(windows(&pool, block).into_iter().step_by(3));
        let mut tries = 0usize;
        for round in 0..2 {
            let mut outputs = vec![];
            for (i, witness) in witnesses.iter().enumerate() {
                let seed = 100 + 1000 * round + i as u64;
                let (t, _) = piv_mutual_session(&key, seed, witness, &|_| with_ok(&[]));
                let Some(challenge) = t.challenge.clone() else {
                    continue;
                };
                let decrypted = t.decrypted_witness.clone().unwrap();
                let mut seen = pool.clone();
                seen.extend(t.host.iter().cloned());
                let mut answers = vec![
                    with_ok(t.host.last().unwrap()),
                    nested_answer(0x82, &challenge),
                    nested_answer(0x82, &decrypted),
                    nested_answer(0x82, witness),
                    nested_answer(0x80, &challenge),
                    nested_answer(0x81, &challenge),
                ];
                answers.extend(windows(&seen, block).iter().map(|w| nested_answer(0x82, w)));
                answers.extend(pool.iter().map(|bytes| with_ok(bytes)));
                for answer in answers {
                    tries += 1;
                    let (_, result) = piv_mutual_session(&key, seed, witness, &|_| answer.clone());
                    assert!(
                        result.is_err(),
                        "{algorithm}: witness {witness:02x?}, answer {answer:02x?} authenticated a keyless card"
                    );
                }
                outputs.extend(t.host);
            }
            pool.extend(outputs.iter().cloned());
            witnesses = windows(&outputs, block);
            witnesses.truncate(16);
        }
        assert!(tries > 1000, "{algorithm}: only {tries} tries");
    }
}

// == PIV single ==================================================================================

/// Single authentication authenticates the host to the card, never the card to the host: the
/// host's `finish` reads the card's verdict, which a keyless card can simply make `9000`. The
/// host must not treat it as proof of anything about the card (documented in `auth::piv`).
#[test]
fn piv_single_proves_nothing_about_the_card() {
    for algorithm in Algorithm::ALL {
        let key = key_for(algorithm);
        let block = algorithm.block_len();
        let flow = piv::SingleAuth::new(&key);
        let flow = flow
            .receive_challenge(&nested_answer(0x81, &vec![0x13; block]))
            .unwrap();
        assert_eq!(flow.finish(&OK), Ok(()), "{algorithm}");
    }
}

// == YubiKey extras ==============================================================================

/// The YubiKey extras encrypt and decrypt nothing under the key: a keyless card's answers to
/// them cannot stand for a proof. The only card-chosen byte that reaches the key is GET
/// METADATA's algorithm, and a host that takes it for an existing key lets the card pick how
/// the key bytes are used (AES-192 and 3DES keys are both 24 bytes): see `auth::yubikey`.
#[test]
fn yubikey_metadata_can_claim_3des_for_24_aes_bytes() {
    use cardadmin_card::auth::yubikey;
    // A card claiming a 3DES key (or one without GET METADATA): the host's AES-192 bytes would
    // make a valid 3DES key. The host must pin the algorithm it expects for a key it already
    // holds; the flows' answers below show what the card controls.
    assert_eq!(
        yubikey::management_key_algorithm(&[0x6d, 0x00]).unwrap(),
        Algorithm::Tdes
    );
    let aes_bytes = key_for(Algorithm::Aes192);
    assert!(AdminKey::new(Algorithm::Tdes, aes_bytes.expose_secret()).is_ok());
}

// == Documented limits: oracles under the same key ================================================

/// SP 800-73-4 single authentication makes the host an encryption oracle for whatever the card
/// chooses: a keyless card that gets the host to run `SingleAuth` with the same key while a
/// `MutualAuth` waits for its answer passes that mutual authentication. Documented in
/// `auth::piv` (use mutual only, and never interleave flows that share a key).
#[test]
fn documented_limit_piv_single_is_an_encryption_oracle_for_mutual() {
    for algorithm in Algorithm::ALL {
        let key = key_for(algorithm);
        let block = algorithm.block_len();
        let mutual = piv::MutualAuth::new(&key)
            .receive_witness(&nested_answer(0x80, &vec![0; block]), &mut rng(5))
            .unwrap();
        let h = mutual.host_challenge().to_vec();
        // The card's challenge in a single authentication run by the same host: H.
        let single = piv::SingleAuth::new(&key)
            .receive_challenge(&nested_answer(0x81, &h))
            .unwrap();
        let e_h = single.command().data()[4..].to_vec();
        assert_eq!(
            mutual.finish(&nested_answer(0x82, &e_h)),
            Ok(()),
            "{algorithm}: the oracle is expected to work (if this fails, update the docs)"
        );
    }
}

/// GIDS's host cryptogram begins with `E_K(R2)` (CBC, IV zero): an encryption oracle on the
/// card's R2. A keyless card running two GIDS sessions with the same key at once swaps the
/// hosts' R1s and cryptograms and passes both. Documented in `auth::gids`: never interleave two
/// flows that share a key.
#[test]
fn documented_limit_gids_interleaved_sessions_with_one_key() {
    for algorithm in Algorithm::ALL {
        let key = key_for(algorithm);
        let mut rng_a = rng(11);
        let mut rng_b = rng(12);
        let a = gids::MutualAuth::new(&key, &mut rng_a)
            .unwrap()
            .receive_mse_set(&OK)
            .unwrap();
        let b = gids::MutualAuth::new(&key, &mut rng_b)
            .unwrap()
            .receive_mse_set(&OK)
            .unwrap();
        let r1_a = a.command().data()[4..].to_vec();
        let r1_b = b.command().data()[4..].to_vec();
        let a = a
            .receive_challenge(&nested_answer(0x81, &r1_b), &mut rng_a)
            .unwrap();
        let b = b
            .receive_challenge(&nested_answer(0x81, &r1_a), &mut rng_b)
            .unwrap();
        let to_a = with_ok(b.command().data());
        let to_b = with_ok(a.command().data());
        assert_eq!(a.finish(&to_a), Ok(()), "{algorithm}");
        assert_eq!(b.finish(&to_b), Ok(()), "{algorithm}");
    }
}

/// With a weak 3DES key (three weak DES parts, K1 = K3; `AdminKey::audit` flags it) decryption
/// is encryption: the witness decryption of one mutual session is the `E_K(H)` another session
/// waits for. Documented in `auth::piv`.
#[test]
fn documented_limit_weak_3des_key_mutual() {
    let weak = AdminKey::from_bytes(
        [[0x01u8; 8], [0xfe; 8], [0x01; 8]]
            .concat()
            .try_into()
            .unwrap(),
    );
    let waiting = piv::MutualAuth::new(&weak)
        .receive_witness(&nested_answer(0x80, &[0; 8]), &mut rng(21))
        .unwrap();
    let h = waiting.host_challenge().to_vec();
    let helper = piv::MutualAuth::new(&weak)
        .receive_witness(&nested_answer(0x80, &h), &mut rng(22))
        .unwrap();
    let d_h = helper.command().data()[4..12].to_vec();
    assert_eq!(waiting.finish(&nested_answer(0x82, &d_h)), Ok(()));
    // The same attack against a sound key fails.
    let key = key_for(Algorithm::Tdes);
    let waiting = piv::MutualAuth::new(&key)
        .receive_witness(&nested_answer(0x80, &[0; 8]), &mut rng(21))
        .unwrap();
    let h = waiting.host_challenge().to_vec();
    let helper = piv::MutualAuth::new(&key)
        .receive_witness(&nested_answer(0x80, &h), &mut rng(22))
        .unwrap();
    let d_h = helper.command().data()[4..12].to_vec();
    assert_eq!(
        waiting.finish(&nested_answer(0x82, &d_h)),
        Err(AuthError::CardCryptogram)
    );
}
