//! The core's fuzz properties (parsers, differential checks against the raw RustCrypto crates,
//! the PIN policy, the parameter-level `cm` functions), the reference implementations they
//! compare with, and the generator fed by fuzz bytes that every target shares.
//!
//! Each target function takes the raw fuzz input and panics when a property fails, which
//! libFuzzer reports as a crash. [`replay`] runs the committed corpus through the same
//! functions: each crate's `tests/fuzz_regressions.rs` includes this file (and its own targets'
//! file) with `#[path]`, so every crash input added to `fuzz/corpus/<target>/` stays a
//! regression test of the ordinary `cargo test`.
//!
//! The oracles are written here, independently of cardadmin's internals: GUID and hex parsing
//! by hand, strict base64 by hand, 3DES-EDE with the raw `des` crate and AN10922 with the
//! `cmac` crate over `des`, and the PIN rules straight from the specification.

use std::string::String;
use std::vec::Vec;

use aes::{Aes128, Aes192, Aes256};
use cardadmin::rand_core::{self, CryptoRng, RngCore};
use cardadmin::{
    cm, master, AdminKey, Algorithm, CardId, Challenge, CharClass, CharRule, CmError, DesParity,
    GenerateError, KeyError, MasterKey, ParseError, PinPolicy, PinViolation, PolicyError, Response,
    UserPinOption,
};
use cipher::generic_array::GenericArray;
use cipher::{BlockDecrypt, BlockEncrypt, KeyInit};
use cmac::{Cmac, Mac};
use des::TdesEde3;

/// A target's property check.
pub type Check = fn(&[u8]);

/// Runs every file of `fuzz/corpus/<target>/` (under `fuzz_dir`) through the check `targets`
/// names for `target`; a failing property panics with the file name in the message.
pub fn replay(targets: &[(&str, Check)], fuzz_dir: &std::path::Path, target: &str) {
    let (_, check) = targets
        .iter()
        .find(|(name, _)| *name == target)
        .expect("a known target");
    let dir = fuzz_dir.join("corpus").join(target);
    let mut replayed = 0;
    for entry in std::fs::read_dir(&dir).expect("the committed corpus") {
        let path = entry.expect("a corpus entry").path();
        if !path.is_file() {
            continue;
        }
        let data = std::fs::read(&path).expect("a readable corpus file");
        let outcome = std::panic::catch_unwind(|| check(&data));
        assert!(outcome.is_ok(), "{target} fails on {}", path.display());
        replayed += 1;
    }
    assert!(replayed >= 4, "only {replayed} corpus files for {target}");
}

/// Each target of `targets` has its corpus folder and its `fuzz_targets/<target>.rs` under
/// `fuzz_dir`.
pub fn check_layout(targets: &[(&str, Check)], fuzz_dir: &std::path::Path) {
    for (target, _) in targets {
        assert!(fuzz_dir.join("corpus").join(target).is_dir(), "{target}");
        let file = fuzz_dir.join("fuzz_targets").join(format!("{target}.rs"));
        assert!(file.is_file(), "{target}");
    }
}

/// Every target, by name, for the corpus replay.
pub const TARGETS: [(&str, Check); 8] = [
    ("parse_admin_key", parse_admin_key),
    ("parse_card_id", parse_card_id),
    ("parse_base64", parse_base64),
    ("respond_differential", respond_differential),
    ("diversify_differential", diversify_differential),
    ("pin_policy", pin_policy),
    ("cm_requests", cm_requests),
    ("aes_differential", aes_differential),
];

// ---------------------------------------------------------------------------------------------
// Targets
// ---------------------------------------------------------------------------------------------

/// `AdminKey::from_slice` on the bytes and `AdminKey::from_hex` on the text: each accepts
/// exactly what the reference accepts, gives the same bytes, and reports the right error.
pub fn parse_admin_key(data: &[u8]) {
    match AdminKey::from_slice(data) {
        Ok(key) => {
            assert_eq!(
                data.len(),
                AdminKey::LEN,
                "from_slice accepted a wrong length"
            );
            assert_eq!(key.expose_secret(), data);
            check_key_views(&key);
        }
        Err(err) => {
            assert_eq!(
                err,
                KeyError::ByteLength {
                    expected: AdminKey::LEN,
                    found: data.len()
                }
            );
            assert!(!err.to_string().is_empty());
        }
    }

    let text = String::from_utf8_lossy(data);
    match (AdminKey::from_hex(&text), reference_hex_key(&text)) {
        (Ok(key), Some(expected)) => {
            assert_eq!(
                key.expose_secret(),
                &expected,
                "from_hex bytes for {text:?}"
            );
            check_key_views(&key);
        }
        (Err(err), None) => {
            let chars: Vec<char> = text.chars().collect();
            match err {
                KeyError::NotHex { position } => {
                    assert!(position < 48, "NotHex position {position} past the key");
                    assert!(
                        !chars[position].is_ascii_hexdigit(),
                        "NotHex on a hex digit"
                    );
                    assert!(chars[..position].iter().all(char::is_ascii_hexdigit));
                }
                KeyError::HexLength { expected, found } => {
                    assert_eq!((expected, found), (48, chars.len()));
                    assert_ne!(found, 48);
                    assert!(chars.iter().take(48).all(char::is_ascii_hexdigit));
                }
                other => panic!("unexpected from_hex error {other:?}"),
            }
            // An error names a position, never the character (which is part of the secret).
            assert!(!err.to_string().is_empty());
        }
        (got, expected) => panic!(
            "from_hex({text:?}) = {:?}, reference accepts: {}",
            got.map(|key| key.expose_secret().to_vec()),
            expected.is_some()
        ),
    }
}

/// `CardId::parse` accepts exactly the reference's GUID forms with the Windows byte layout,
/// and printing then parsing gives the same bytes.
pub fn parse_card_id(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    match (CardId::parse(&text), reference_guid(&text)) {
        (Ok(id), Some(expected)) => {
            assert_eq!(id.as_bytes(), &expected, "GUID layout of {text:?}");
            let printed = id.to_string();
            assert_eq!(printed, reference_guid_text(&expected));
            assert_eq!(CardId::parse(&printed), Ok(id), "print/parse round trip");
            assert_eq!(printed.parse::<CardId>(), Ok(id));
            // The printed form is the input's, lowercased, without braces, with hyphens.
            let digits: String = printed.chars().filter(|c| *c != '-').collect();
            let input_digits: String = text
                .chars()
                .filter(|c| c.is_ascii_hexdigit())
                .map(|c| c.to_ascii_lowercase())
                .collect();
            assert_eq!(digits, input_digits);
            assert_eq!(format!("{id:?}"), format!("CardId({printed})"));
        }
        (Err(err), None) => check_parse_error(&err, &text, "card ID"),
        (got, expected) => panic!(
            "CardId::parse({text:?}) = {got:?}, reference accepts: {}",
            expected.is_some()
        ),
    }

    // Any 16 bytes print to a GUID that parses back to them.
    if let Some(bytes) = data.get(..16) {
        let id = CardId::from_bytes(bytes.try_into().unwrap());
        let printed = id.to_string();
        assert_eq!(CardId::parse(&printed), Ok(id));
        let braced = format!("{{{}}}", printed.to_ascii_uppercase());
        assert_eq!(CardId::parse(&braced), Ok(id));
        let bare: String = printed.chars().filter(|c| *c != '-').collect();
        assert_eq!(CardId::parse(&bare), Ok(id));
    }
}

/// `Challenge::from_base64` and `Response::from_base64` accept exactly canonical, padded,
/// standard-alphabet base64 of 8 or 16 bytes, and round-trip through `Display`.
pub fn parse_base64(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let expected = reference_base64_challenge(&text);
    match (Challenge::from_base64(&text), expected.clone()) {
        (Ok(challenge), Some(bytes)) => {
            assert_eq!(challenge.as_bytes(), &bytes);
            assert_eq!(challenge.to_string(), text);
            assert_eq!(text.parse::<Challenge>(), Ok(challenge));
        }
        (Err(err), None) => check_parse_error(&err, &text, "challenge"),
        (got, _) => panic!("Challenge::from_base64({text:?}) = {got:?}, reference {expected:?}"),
    }
    match (Response::from_base64(&text), expected.clone()) {
        (Ok(response), Some(bytes)) => {
            assert_eq!(response.as_bytes(), &bytes);
            assert_eq!(response.to_string(), text);
            assert_eq!(text.parse::<Response>(), Ok(response));
        }
        (Err(err), None) => check_parse_error(&err, &text, "response"),
        (got, _) => panic!("Response::from_base64({text:?}) = {got:?}, reference {expected:?}"),
    }

    // Any 8 bytes print to base64 that parses back to them, and the constant-time equality of
    // responses agrees with byte equality.
    if let (Some(first), Some(second)) = (data.get(..8), data.get(8..16)) {
        let first: [u8; 8] = first.try_into().unwrap();
        let second: [u8; 8] = second.try_into().unwrap();
        let challenge = Challenge::from_bytes(first);
        assert_eq!(
            Challenge::from_base64(&challenge.to_string()),
            Ok(challenge)
        );
        assert_eq!(reference_base64(&first), challenge.to_string());
        let response = Response::from_bytes(first);
        assert_eq!(Response::from_base64(&response.to_string()), Ok(response));
        assert_eq!(
            Response::from_bytes(first) == Response::from_bytes(second),
            first == second
        );
        assert_eq!(format!("{response:?}"), format!("Response({response})"));
        assert_eq!(format!("{challenge:?}"), format!("Challenge({challenge})"));
    }
}

/// `AdminKey::respond` is the raw `des` crate's TdesEde3 ECB encryption of the challenge;
/// decrypting the response gives the challenge back; `verify` accepts the response and rejects
/// it with any one bit flipped, or for any other challenge.
pub fn respond_differential(data: &[u8]) {
    let (Some(key_bytes), Some(challenge_bytes)) = (data.get(..24), data.get(24..32)) else {
        return;
    };
    let extra = data.get(32..).unwrap_or_default();
    let key = AdminKey::from_slice(key_bytes).unwrap();
    let challenge = Challenge::from_bytes(challenge_bytes.try_into().unwrap());
    let response = key.respond(&challenge).unwrap();

    let expected = reference_encrypt(key_bytes, challenge_bytes);
    assert_eq!(response.as_bytes(), &expected, "respond differs from des");
    assert_eq!(
        reference_decrypt(key_bytes, response.as_bytes()),
        challenge_bytes
    );
    assert!(key.verify(&challenge, &response));

    let bit = usize::from(extra.first().copied().unwrap_or(0)) % 64;
    let mut flipped: [u8; 8] = response.as_bytes().try_into().unwrap();
    flipped[bit / 8] ^= 1 << (bit % 8);
    assert!(!key.verify(&challenge, &Response::from_bytes(flipped)));
    // TDES is a permutation: another challenge never has the same response.
    let mut other: [u8; 8] = challenge.as_bytes().try_into().unwrap();
    other[bit / 8] ^= 1 << (bit % 8);
    assert!(!key.verify(&Challenge::from_bytes(other), &response));

    // DES ignores the parity bits.
    let mut reparity: [u8; 24] = key_bytes.try_into().unwrap();
    let mask = extra.get(1).copied().unwrap_or(0xff) & 1;
    reparity.iter_mut().for_each(|byte| *byte ^= mask);
    assert_eq!(
        AdminKey::from_bytes(reparity).respond(&challenge).unwrap(),
        response
    );

    // The check value is the start of E_K(0).
    let zero = reference_encrypt(key_bytes, &[0; 8]);
    assert_eq!(key.check_value().as_bytes(), &[zero[0], zero[1], zero[2]]);

    // The same through the REST facade and through text.
    let card_id = CardId::from_bytes([extra.get(2).copied().unwrap_or(0x42); 16]);
    let via_cm = cm::authentication_response(
        &key,
        None::<&MasterKey>,
        &card_id.to_string(),
        &challenge.to_string(),
        false,
    );
    assert_eq!(via_cm, Ok(response));
    assert_eq!(Response::from_base64(&response.to_string()), Ok(response));
    assert_eq!(key.clone().respond(&challenge).unwrap(), response);
}

/// `MasterKey::diversify` and `diversify_input` are the AN10922 CMAC construction, computed here
/// with the `cmac` crate over the raw `des` crate; so is the key-store path
/// (`master::diversify_input` through `CmacSigner`) for inputs of at least a block, and shorter
/// ones are refused there; the check value is X9.24-1's CMAC of a zero block.
pub fn diversify_differential(data: &[u8]) {
    let Some(master_bytes) = data.get(..24) else {
        return;
    };
    let input = data.get(24..).unwrap_or_default();
    let master = MasterKey::new(Algorithm::Tdes, master_bytes).unwrap();
    assert_eq!(
        master.check_value().as_bytes()[..],
        reference_cmac_tdes(master_bytes, &[0; 8])[..3]
    );
    check_signer_path(&master, input, &reference_diversify(master_bytes, input));

    match master.diversify_input(input) {
        Ok(derived) => {
            assert!(
                (1..=64).contains(&input.len()),
                "accepted {} bytes",
                input.len()
            );
            assert_eq!(
                derived.expose_secret(),
                &reference_diversify(master_bytes, input)
            );
        }
        Err(err) => check_input_length_refused(err, input),
    }

    if let Some(id_bytes) = input.get(..16) {
        let card_id = CardId::from_bytes(id_bytes.try_into().unwrap());
        let expected = reference_diversify(master_bytes, id_bytes);
        let derived = master.diversify(&card_id);
        assert_eq!(
            derived.expose_secret(),
            &expected,
            "diversify differs from cmac"
        );
        assert!(derived.audit().has_odd_parity());
        let via_cm = cm::diversified_key(&master, &card_id.to_string()).unwrap();
        assert_eq!(via_cm.expose_secret(), &expected);
        assert_eq!(
            reference_base64_decode(&via_cm.to_base64()),
            Some(expected.to_vec())
        );

        // The diversified authentication response is the reference response under the
        // reference diversified key.
        let challenge_bytes: [u8; 8] = match input.get(16..24) {
            Some(bytes) => bytes.try_into().unwrap(),
            None => [0x5a; 8],
        };
        let challenge = Challenge::from_bytes(challenge_bytes);
        let initial = AdminKey::from_bytes([0; 24]);
        let response = cm::authentication_response(
            &initial,
            Some(&master),
            &card_id.to_string(),
            &challenge.to_string(),
            true,
        )
        .unwrap();
        assert_eq!(
            response.as_bytes(),
            &reference_encrypt(&expected, &challenge_bytes)
        );
    }
}

/// AES admin keys against the raw `aes` and `cmac` crates: the first byte picks AES-128, -192
/// or -256, then come the key, a 16-byte challenge and a diversification input. `respond` is
/// AES-ECB, `verify` accepts exactly that response, the check value is `E_K(0)`'s first 3
/// bytes, 8-byte challenges are refused with the length the key needs, and `diversify_input`
/// and `diversify` are AN10922 for the key's size (two-block padding for short inputs), also
/// through the MIM CM facade.
pub fn aes_differential(data: &[u8]) {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let algorithm =
        [Algorithm::Aes128, Algorithm::Aes192, Algorithm::Aes256][usize::from(selector % 3)];
    let key_len = algorithm.key_len();
    let (Some(key_bytes), Some(challenge_bytes)) =
        (rest.get(..key_len), rest.get(key_len..key_len + 16))
    else {
        return;
    };
    let input = rest.get(key_len + 16..).unwrap_or_default();
    let key = AdminKey::new(algorithm, key_bytes).unwrap();
    assert_eq!(key.algorithm(), algorithm);
    assert_eq!(key.expose_secret(), key_bytes);

    let challenge = Challenge::from_slice(challenge_bytes).unwrap();
    let response = key.respond(&challenge).unwrap();
    assert_eq!(
        response.as_bytes(),
        reference_encrypt_aes(key_bytes, challenge_bytes).as_slice()
    );
    assert!(key.verify(&challenge, &response));
    let mut flipped = response.as_bytes().to_vec();
    flipped[usize::from(selector) % 16] ^= 1 << (selector % 8);
    assert!(!key.verify(&challenge, &Response::from_slice(&flipped).unwrap()));
    let zero = reference_encrypt_aes(key_bytes, &[0; 16]);
    assert_eq!(key.check_value().as_bytes(), &zero[..3]);
    let short = Challenge::from_bytes(challenge_bytes[..8].try_into().unwrap());
    assert_eq!(
        key.respond(&short),
        Err(KeyError::ChallengeLength {
            algorithm,
            expected: 16,
            found: 8
        })
    );

    let master = MasterKey::new(algorithm, key_bytes).unwrap();
    assert_eq!(
        master.check_value().as_bytes()[..],
        reference_cmac_aes(key_bytes, &[0; 16])[..3]
    );
    check_signer_path(&master, input, &reference_diversify_aes(key_bytes, input));
    match master.diversify_input(input) {
        Ok(derived) => {
            assert!(
                (1..=64).contains(&input.len()),
                "accepted {} bytes",
                input.len()
            );
            assert_eq!(derived.algorithm(), algorithm);
            assert_eq!(
                derived.expose_secret(),
                reference_diversify_aes(key_bytes, input).as_slice()
            );
        }
        Err(err) => check_input_length_refused(err, input),
    }
    let card_id = CardId::from_bytes(challenge_bytes.try_into().unwrap());
    let expected = reference_diversify_aes(key_bytes, card_id.as_bytes());
    assert_eq!(
        master.diversify(&card_id).expose_secret(),
        expected.as_slice()
    );
    let via_cm = cm::authentication_response(
        &key,
        Some(&master),
        &card_id.to_string(),
        &challenge.to_string(),
        true,
    )
    .unwrap();
    assert_eq!(
        via_cm.as_bytes(),
        reference_encrypt_aes(&expected, challenge_bytes).as_slice()
    );
}

/// A policy from fuzz-chosen fields (invalid ones must be errors, exactly the specified ones)
/// and a generator fed by the rest of the input, including exhausted, constant and failing
/// streams: `generate` returns a PIN that passes `validate`, or an error, and always returns.
/// `validate` on the rest of the input as text agrees with the reference rules.
pub fn pin_policy(data: &[u8]) {
    let (config, stream) = data.split_at(data.len().min(PolicyConfig::LEN));
    let config = PolicyConfig::from_bytes(config);
    let built = config.build();
    assert_eq!(built.clone().err(), config.expected_error(), "{config:?}");
    let Ok(policy) = built else {
        return;
    };
    config.check_fields(&policy);

    // validate on arbitrary text.
    let text = String::from_utf8_lossy(stream);
    assert_eq!(policy.validate(&text), reference_validate(&policy, &text));
    if let Err(violation) = policy.validate(&text) {
        assert!(!violation.to_string().is_empty());
    }

    let mut rng = FuzzRng::new(stream, config.exhausted);
    let generated = policy.generate(&mut rng);
    match &generated {
        Ok(pin) => {
            assert_eq!(pin.len(), policy.proposed_len());
            assert_eq!(pin.as_str().len(), policy.proposed_len());
            assert_eq!(policy.validate(pin.as_str()), Ok(()), "{policy:?}");
            assert_eq!(reference_validate(&policy, pin.as_str()), Ok(()));
            assert_eq!(
                format!("{pin:?}"),
                format!("Pin(<redacted>, len {})", pin.len())
            );
        }
        Err(err) => {
            assert!(!err.to_string().is_empty());
            if stream.is_empty() && config.exhausted == Exhausted::Fail {
                assert_eq!(*err, GenerateError::Rng);
            }
        }
    }

    // The facade gives the same answer from the same stream, or None when the policy leaves
    // the PIN to someone else.
    let mut rng = FuzzRng::new(stream, config.exhausted);
    let proposed = cm::server_proposed_pin(&policy, &mut rng);
    match (proposed, generated) {
        (Ok(None), _) => assert!(!policy.server_generates()),
        (Ok(Some(again)), Ok(pin)) => {
            assert!(policy.server_generates());
            assert_eq!(again.as_str(), pin.as_str());
        }
        (Err(CmError::Pin(again)), Err(err)) => {
            assert!(policy.server_generates());
            assert_eq!(again, err);
        }
        (proposed, generated) => panic!("server_proposed_pin {proposed:?} vs {generated:?}"),
    }
}

/// The three `cm` functions on arbitrary text: the fields are the input's lines (admin key
/// hex, card ID, challenge, then policy and generator bytes). Each answers what the reference
/// computes, or names the parameter at fault.
pub fn cm_requests(data: &[u8]) {
    let mut fields = data.splitn(4, |&byte| byte == b'\n');
    let key_text = String::from_utf8_lossy(fields.next().unwrap_or_default());
    let card_text = String::from_utf8_lossy(fields.next().unwrap_or_default());
    let challenge_text = String::from_utf8_lossy(fields.next().unwrap_or_default());
    let rest = fields.next().unwrap_or_default();

    let key_bytes = reference_hex_key(&key_text).unwrap_or([0; 24]);
    let key = AdminKey::from_bytes(key_bytes);
    // The master: another key, derived from the initial one's bytes so the input picks both.
    let master_bytes = key_bytes.map(|byte| byte ^ 0xa5);
    let master = MasterKey::new(Algorithm::Tdes, &master_bytes).unwrap();
    let card_id = CardId::parse(&card_text);
    let challenge = Challenge::from_base64(&challenge_text);
    assert_eq!(card_id.is_ok(), reference_guid(&card_text).is_some());
    assert_eq!(
        challenge.is_ok(),
        reference_base64_block(&challenge_text).is_some()
    );

    for diversified in [false, true] {
        let result = cm::authentication_response(
            &key,
            Some(&master),
            &card_text,
            &challenge_text,
            diversified,
        );
        let without_master = cm::authentication_response(
            &key,
            None::<&MasterKey>,
            &card_text,
            &challenge_text,
            diversified,
        );
        match (card_id, challenge) {
            (Err(err), _) => assert_eq!(result, Err(CmError::CardId(err))),
            (Ok(_), Err(err)) => assert_eq!(result, Err(CmError::Challenge(err))),
            (Ok(id), Ok(challenge)) => {
                if diversified {
                    assert_eq!(without_master, Err(CmError::NoDiversificationKey));
                } else {
                    assert_eq!(without_master, result);
                }
                let used = if diversified {
                    reference_diversify(&master_bytes, id.as_bytes())
                } else {
                    key_bytes
                };
                let expected = reference_encrypt(&used, challenge.as_bytes());
                assert_eq!(result.map(|r| r.as_bytes().to_vec()), Ok(expected.to_vec()));
            }
        }
        if let Err(err) = result {
            check_cm_error(&err);
        }
    }

    match (cm::diversified_key(&master, &card_text), card_id) {
        (Ok(derived), Ok(id)) => assert_eq!(
            derived.expose_secret(),
            &reference_diversify(&master_bytes, id.as_bytes())
        ),
        (Err(err), Err(expected)) => {
            assert_eq!(err, CmError::CardId(expected));
            check_cm_error(&err);
        }
        (got, expected) => {
            panic!("diversified_key = {got:?} but the card ID parses as {expected:?}",)
        }
    }

    // The PIN endpoint only when the input reaches it: a stuck generator costs 10,000 redraws,
    // which `pin_policy` covers, and would slow every other input here down.
    if rest.is_empty() {
        return;
    }
    let (config, stream) = rest.split_at(rest.len().min(PolicyConfig::LEN));
    let config = PolicyConfig::from_bytes(config);
    let policy = config.build().unwrap_or_default();
    let mut rng = FuzzRng::new(stream, config.exhausted);
    match cm::server_proposed_pin(&policy, &mut rng) {
        Ok(None) => assert!(!policy.server_generates()),
        Ok(Some(pin)) => {
            assert!(policy.server_generates());
            assert_eq!(policy.validate(pin.as_str()), Ok(()));
        }
        Err(err) => {
            assert!(matches!(err, CmError::Pin(_)), "{err:?}");
            check_cm_error(&err);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Shared checks
// ---------------------------------------------------------------------------------------------

/// The key-store path (`master::diversify_input` through `CmacSigner`): the reference key when
/// the input is at least one block (plain CMAC then pads as AN10922 does), else the error
/// that says a key store cannot pad it so; out-of-range lengths as in memory.
fn check_signer_path(master: &MasterKey, input: &[u8], expected: &[u8]) {
    let block = master.algorithm().block_len();
    match master::diversify_input(master, input, DesParity::Odd) {
        Ok(derived) => {
            assert!(input.len() >= block && input.len() <= 64, "{}", input.len());
            assert_eq!(derived.expose_secret(), expected);
        }
        Err(master::DiversifyError::Input(err)) if (1..=64).contains(&input.len()) => {
            assert!(input.len() < block, "{}", input.len());
            assert_eq!(
                err,
                KeyError::KeyStoreInputLength {
                    min: block,
                    found: input.len()
                }
            );
        }
        Err(master::DiversifyError::Input(err)) => check_input_length_refused(err, input),
        Err(err) => panic!("{err:?}"),
    }
}

/// `diversify_input` refused `input`: only for a length outside 1 to 64, and with the error
/// that says so.
fn check_input_length_refused(err: KeyError, input: &[u8]) {
    assert!(
        !(1..=64).contains(&input.len()),
        "refused {} bytes",
        input.len()
    );
    assert_eq!(
        err,
        KeyError::DiversificationInputLength {
            min: 1,
            max: 64,
            found: input.len()
        }
    );
}

/// Everything an `AdminKey` shows of itself agrees with its bytes and leaks nothing.
fn check_key_views(key: &AdminKey) {
    let bytes: [u8; 24] = key.expose_secret().try_into().unwrap();
    assert_eq!(
        reference_base64_decode(&key.to_base64()),
        Some(bytes.to_vec())
    );
    let zero = reference_encrypt(&bytes, &[0; 8]);
    let kcv = key.check_value();
    assert_eq!(kcv.as_bytes(), &[zero[0], zero[1], zero[2]]);
    assert_eq!(
        kcv.to_string(),
        format!("{:02X}{:02X}{:02X}", zero[0], zero[1], zero[2])
    );
    assert_eq!(
        format!("{key:?}"),
        format!("AdminKey {{ algorithm: Tdes, check_value: {kcv} }}")
    );
    let audit = key.audit();
    assert_eq!(audit.is_clean(), audit.findings().next().is_none());
    assert_eq!(
        audit.has_odd_parity(),
        bytes.iter().all(|byte| byte.count_ones() % 2 == 1)
    );
    for finding in audit.findings() {
        assert!(!finding.to_string().is_empty());
    }
}

/// A parse error is about the right thing, and any position it names holds what it says.
fn check_parse_error(err: &ParseError, text: &str, what: &str) {
    let chars: Vec<char> = text.chars().collect();
    match *err {
        ParseError::Empty { what: named } => {
            assert_eq!(named, what);
            // Card IDs ignore surrounding whitespace, as .NET's Guid.Parse does.
            let rest: &str = if what == "card ID" { text.trim() } else { text };
            assert!(rest.is_empty(), "{err:?} for {text:?}");
        }
        ParseError::Length {
            what: named, found, ..
        } => {
            assert_eq!(named, what);
            // Card IDs do not count surrounding whitespace, as .NET's Guid.Parse trims it.
            let counted: &str = if what == "card ID" { text.trim() } else { text };
            assert_eq!(found, counted.chars().count());
        }
        ParseError::InvalidCharacter {
            what: named,
            position,
            found,
            ..
        } => {
            assert_eq!(named, what);
            assert_eq!(chars.get(position), Some(&found), "{err:?} in {text:?}");
        }
        ParseError::Space {
            what: named,
            position,
        } => {
            assert_eq!(named, what);
            assert_eq!(chars.get(position), Some(&' '), "{err:?} in {text:?}");
        }
        ParseError::UrlSafeAlphabet {
            what: named,
            position,
            found,
        } => {
            assert_eq!(named, what);
            assert!(found == '-' || found == '_');
            assert_eq!(chars.get(position), Some(&found), "{err:?} in {text:?}");
        }
        ParseError::MissingPadding { what: named, found } => {
            assert_eq!(named, what);
            assert_eq!(found, chars.len());
            assert!(!text.ends_with('='));
        }
        ParseError::DecodedLength {
            what: named,
            expected,
            found,
        } => {
            assert_eq!(named, what);
            // The nearer block length: 8 (3DES) up to 12 decoded bytes, 16 (AES) above.
            assert_eq!(expected, if found <= 12 { 8 } else { 16 });
            assert!(found != 8 && found != 16, "{err:?}");
        }
        ParseError::NonCanonical { what: named } | ParseError::UnbalancedBraces { what: named } => {
            assert_eq!(named, what);
        }
        ParseError::UnsupportedForm { what: named, .. } => {
            assert_eq!(named, what);
            assert!(text.trim().starts_with('{'));
        }
        other => panic!("unexpected parse error {other:?}"),
    }
    assert!(err.to_string().starts_with(what), "{err}");
}

fn check_cm_error(err: &CmError) {
    let text = err.to_string();
    match err {
        CmError::CardId(_) => assert!(text.starts_with("cardid: "), "{text}"),
        CmError::Challenge(_) => assert!(text.starts_with("challenge: "), "{text}"),
        CmError::Pin(_) => assert!(text.starts_with("server-proposed PIN: "), "{text}"),
        other => panic!("unexpected cm error {other:?}"),
    }
    assert!(std::error::Error::source(err).is_some());
}

// ---------------------------------------------------------------------------------------------
// PIN policy from fuzz bytes, and a generator fed by fuzz bytes
// ---------------------------------------------------------------------------------------------

/// What the generator gives once the fuzz bytes run out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exhausted {
    /// Zero bytes forever.
    Zeros,
    /// One constant byte forever.
    Constant(u8),
    /// The input again, from its start (zeros when it is empty).
    Cycle,
    /// `try_fill_bytes` fails.
    Fail,
}

/// A "random" generator that plays back the fuzz input. It claims `CryptoRng` because the API
/// requires it; the point is to feed `generate` hostile, stuck and failing streams.
pub struct FuzzRng<'a> {
    data: &'a [u8],
    position: usize,
    exhausted: Exhausted,
}

impl<'a> FuzzRng<'a> {
    /// Plays back `data`, then behaves as `exhausted` says.
    pub fn new(data: &'a [u8], exhausted: Exhausted) -> Self {
        Self {
            data,
            position: 0,
            exhausted,
        }
    }
}

impl RngCore for FuzzRng<'_> {
    fn next_u32(&mut self) -> u32 {
        rand_core::impls::next_u32_via_fill(self)
    }

    fn next_u64(&mut self) -> u64 {
        rand_core::impls::next_u64_via_fill(self)
    }

    fn fill_bytes(&mut self, dest: &mut [u8]) {
        if self.try_fill_bytes(dest).is_err() {
            dest.fill(0);
        }
    }

    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
        for slot in dest.iter_mut() {
            *slot = match (self.data.get(self.position), self.exhausted) {
                (Some(&byte), _) => byte,
                (None, Exhausted::Zeros) => 0,
                (None, Exhausted::Constant(byte)) => byte,
                (None, Exhausted::Cycle) => match self.data.len() {
                    0 => 0,
                    len => self.data[self.position % len],
                },
                (None, Exhausted::Fail) => {
                    let code = core::num::NonZeroU32::new(rand_core::Error::CUSTOM_START);
                    return Err(rand_core::Error::from(code.unwrap()));
                }
            };
            self.position += 1;
        }
        Ok(())
    }
}

impl CryptoRng for FuzzRng<'_> {}

/// Policy fields chosen by the fuzz input, unchecked: lengths are raw bytes, so invalid ones
/// (0 to 3, 128 to 255, min above max, proposed outside) are common.
#[derive(Clone, Copy, Debug)]
pub struct PolicyConfig {
    min_len: usize,
    max_len: usize,
    proposed_len: Option<usize>,
    rules: [CharRule; 4],
    reject_weak: bool,
    user_pin_option: UserPinOption,
    exhausted: Exhausted,
}

impl PolicyConfig {
    /// Bytes of input a config takes: min, max, proposed, rules, flags, constant.
    pub const LEN: usize = 6;

    /// Reads a config; missing bytes read as zero.
    pub fn from_bytes(bytes: &[u8]) -> Self {
        let byte = |index: usize| bytes.get(index).copied().unwrap_or(0);
        let rule = |bits: u8| match bits & 3 {
            0 => CharRule::Allow,
            1 | 3 => CharRule::Require,
            _ => CharRule::Disallow,
        };
        let rules = byte(3);
        let flags = byte(4);
        Self {
            min_len: usize::from(byte(0)),
            max_len: usize::from(byte(1)),
            proposed_len: match byte(2) {
                0xff => None,
                len => Some(usize::from(len)),
            },
            rules: [
                rule(rules),
                rule(rules >> 2),
                rule(rules >> 4),
                rule(rules >> 6),
            ],
            reject_weak: flags & 1 == 0,
            user_pin_option: match (flags >> 1) % 5 {
                0 => UserPinOption::Randomized,
                1 => UserPinOption::ServerDistributed,
                2 => UserPinOption::UserProvided,
                3 => UserPinOption::CustomServerDistributed,
                _ => UserPinOption::None,
            },
            exhausted: match flags >> 6 {
                0 => Exhausted::Zeros,
                1 => Exhausted::Constant(byte(5)),
                2 => Exhausted::Cycle,
                _ => Exhausted::Fail,
            },
        }
    }

    fn build(&self) -> Result<PinPolicy, PolicyError> {
        let [digits, lowercase, uppercase, special] = self.rules;
        let builder = PinPolicy::builder()
            .min_len(self.min_len)
            .max_len(self.max_len)
            .digits(digits)
            .lowercase(lowercase)
            .uppercase(uppercase)
            .special(special)
            .reject_weak(self.reject_weak)
            .user_pin_option(self.user_pin_option);
        match self.proposed_len {
            Some(len) => builder.proposed_len(len).build(),
            None => builder.build(),
        }
    }

    /// The specification's verdict on these fields, in the order `build` checks them.
    fn expected_error(&self) -> Option<PolicyError> {
        let limits = 4..=127;
        for (field, found) in [("min_len", self.min_len), ("max_len", self.max_len)] {
            if !limits.contains(&found) {
                return Some(PolicyError::LengthOutOfRange {
                    field,
                    min: 4,
                    max: 127,
                    found,
                });
            }
        }
        if self.min_len > self.max_len {
            return Some(PolicyError::MinAboveMax {
                min_len: self.min_len,
                max_len: self.max_len,
            });
        }
        if let Some(proposed_len) = self.proposed_len {
            if !(self.min_len..=self.max_len).contains(&proposed_len) {
                return Some(PolicyError::ProposedOutOfRange {
                    proposed_len,
                    min_len: self.min_len,
                    max_len: self.max_len,
                });
            }
        }
        if self.rules.iter().all(|rule| *rule == CharRule::Disallow) {
            return Some(PolicyError::NoClassAllowed);
        }
        None
    }

    fn check_fields(&self, policy: &PinPolicy) {
        assert_eq!(policy.min_len(), self.min_len);
        assert_eq!(policy.max_len(), self.max_len);
        let proposed = self
            .proposed_len
            .unwrap_or_else(|| 8.clamp(self.min_len, self.max_len));
        assert_eq!(policy.proposed_len(), proposed);
        let [digits, lowercase, uppercase, special] = self.rules;
        assert_eq!(
            [
                policy.digits(),
                policy.lowercase(),
                policy.uppercase(),
                policy.special()
            ],
            [digits, lowercase, uppercase, special]
        );
        assert_eq!(policy.reject_weak(), self.reject_weak);
        assert_eq!(policy.user_pin_option(), self.user_pin_option);
        assert_eq!(
            policy.server_generates(),
            matches!(
                self.user_pin_option,
                UserPinOption::Randomized | UserPinOption::ServerDistributed
            )
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Reference implementations, written from the specification
// ---------------------------------------------------------------------------------------------

fn hex_value(byte: u8) -> Option<u8> {
    match byte {
        b'0'..=b'9' => Some(byte - b'0'),
        b'a'..=b'f' => Some(byte - b'a' + 10),
        b'A'..=b'F' => Some(byte - b'A' + 10),
        _ => None,
    }
}

/// Hex digits, two per byte, most significant first.
fn hex_bytes<const N: usize>(digits: &[u8]) -> Option<[u8; N]> {
    if digits.len() != 2 * N {
        return None;
    }
    let mut out = [0u8; N];
    for (byte, pair) in out.iter_mut().zip(digits.chunks_exact(2)) {
        *byte = (hex_value(pair[0])? << 4) | hex_value(pair[1])?;
    }
    Some(out)
}

/// Exactly 48 hex digits, either case.
pub fn reference_hex_key(text: &str) -> Option<[u8; 24]> {
    hex_bytes(text.as_bytes())
}

/// The .NET `Guid.Parse` forms D, N, B and P, after trimming surrounding whitespace: 32 bare
/// digits, 36 hyphenated, or 38 hyphenated in braces or parentheses; the bytes in the Windows
/// layout (first three fields little-endian).
pub fn reference_guid(text: &str) -> Option<[u8; 16]> {
    let bytes = text.trim().as_bytes();
    let body = match (bytes.first(), bytes.last()) {
        (Some(b'{'), Some(b'}')) | (Some(b'('), Some(b')')) if bytes.len() == 38 => &bytes[1..37],
        _ => bytes,
    };
    let digits: Vec<u8> = match body.len() {
        32 => body.to_vec(),
        36 if [8, 13, 18, 23].iter().all(|&i| body[i] == b'-') => body
            .iter()
            .enumerate()
            .filter(|(i, _)| ![8, 13, 18, 23].contains(i))
            .map(|(_, &b)| b)
            .collect(),
        _ => return None,
    };
    let mut guid: [u8; 16] = hex_bytes(&digits)?;
    guid[0..4].reverse();
    guid[4..6].reverse();
    guid[6..8].reverse();
    Some(guid)
}

/// The lowercase hyphenated text of GUID bytes in the Windows layout.
pub fn reference_guid_text(bytes: &[u8; 16]) -> String {
    let order = [3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15];
    let mut text = String::new();
    for (index, &source) in order.iter().enumerate() {
        if [4, 6, 8, 10].contains(&index) {
            text.push('-');
        }
        text.push_str(&format!("{:02x}", bytes[source]));
    }
    text
}

const BASE64_ALPHABET: &[u8; 64] =
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Standard padded base64, written out by hand.
pub fn reference_base64(bytes: &[u8]) -> String {
    let mut text = String::new();
    for group in bytes.chunks(3) {
        let mut buffer = [0u8; 3];
        buffer[..group.len()].copy_from_slice(group);
        let value =
            (u32::from(buffer[0]) << 16) | (u32::from(buffer[1]) << 8) | u32::from(buffer[2]);
        for index in 0..4 {
            if index <= group.len() {
                let sextet = (value >> (18 - 6 * index)) & 0x3f;
                text.push(char::from(BASE64_ALPHABET[sextet as usize]));
            } else {
                text.push('=');
            }
        }
    }
    text
}

/// Strict standard base64: the decoding of `text` only when encoding it gives `text` back.
pub fn reference_base64_decode(text: &str) -> Option<Vec<u8>> {
    let bytes = text.as_bytes();
    if bytes.len() % 4 != 0 {
        return None;
    }
    let padding = bytes.iter().rev().take_while(|&&b| b == b'=').count();
    if padding > 2 {
        return None;
    }
    let mut bits: Vec<u8> = Vec::new();
    for &byte in &bytes[..bytes.len() - padding] {
        let value = BASE64_ALPHABET.iter().position(|&c| c == byte)? as u8;
        bits.push(value);
    }
    let mut out = Vec::new();
    let mut accumulator = 0u32;
    let mut count = 0;
    for value in bits {
        accumulator = (accumulator << 6) | u32::from(value);
        count += 6;
        if count >= 8 {
            count -= 8;
            out.push((accumulator >> count) as u8);
        }
    }
    (reference_base64(&out) == text).then_some(out)
}

/// The 8 bytes whose canonical base64 is exactly `text`.
pub fn reference_base64_block(text: &str) -> Option<[u8; 8]> {
    reference_base64_decode(text)?.try_into().ok()
}

/// The bytes of a challenge or response: strict base64 of 8 (3DES) or 16 (AES) bytes.
pub fn reference_base64_challenge(text: &str) -> Option<Vec<u8>> {
    reference_base64_decode(text).filter(|bytes| bytes.len() == 8 || bytes.len() == 16)
}

/// One block of 3DES-EDE ECB encryption with the raw `des` crate.
pub fn reference_encrypt(key: &[u8], block: &[u8]) -> [u8; 8] {
    let cipher = TdesEde3::new_from_slice(key).unwrap();
    let mut block = GenericArray::clone_from_slice(block);
    cipher.encrypt_block(&mut block);
    block.into()
}

/// One block of 3DES-EDE ECB decryption with the raw `des` crate.
pub fn reference_decrypt(key: &[u8], block: &[u8]) -> [u8; 8] {
    let cipher = TdesEde3::new_from_slice(key).unwrap();
    let mut block = GenericArray::clone_from_slice(block);
    cipher.decrypt_block(&mut block);
    block.into()
}

/// One AN10922 CMAC of `constant || input` with the RustCrypto cipher `$cipher`: see
/// [`an10922_cmac`].
macro_rules! reference_an10922_cmac {
    ($cipher:ty, $key:expr, $constant:expr, $input:expr) => {{
        let key: &[u8] = $key;
        let cipher = <$cipher as KeyInit>::new_from_slice(key).unwrap();
        let encrypt = |data: &mut [u8]| cipher.encrypt_block(GenericArray::from_mut_slice(data));
        let full_cmac = |message: &[u8]| {
            let mut mac = <Cmac<$cipher> as KeyInit>::new_from_slice(key).unwrap();
            Mac::update(&mut mac, message);
            mac.finalize().into_bytes().to_vec()
        };
        let block = <$cipher as cipher::BlockSizeUser>::block_size();
        an10922_cmac(block, &encrypt, &full_cmac, $constant, $input)
    }};
}

/// One AN10922 CMAC of `constant || input`: the `cmac` crate (`full_cmac`) once the message is
/// two blocks long (where AN10922 and SP 800-38B agree), else CBC-MAC on the raw cipher
/// (`encrypt`) of the message padded with `80 00..` to two blocks, its last block masked with
/// CMAC's `K2`, written from the definitions.
fn an10922_cmac(
    block: usize,
    encrypt: &dyn Fn(&mut [u8]),
    full_cmac: &dyn Fn(&[u8]) -> Vec<u8>,
    constant: u8,
    input: &[u8],
) -> Vec<u8> {
    let mut message = Vec::with_capacity(1 + input.len());
    message.push(constant);
    message.extend_from_slice(input);
    if message.len() >= 2 * block {
        return full_cmac(&message);
    }
    let double = |value: &[u8]| -> Vec<u8> {
        let mut out: Vec<u8> = value
            .iter()
            .zip(value.iter().skip(1).chain([&0u8]))
            .map(|(byte, next)| byte << 1 | next >> 7)
            .collect();
        if value[0] & 0x80 != 0 {
            *out.last_mut().unwrap() ^= if block == 8 { 0x1b } else { 0x87 };
        }
        out
    };
    let mut l = vec![0u8; block];
    encrypt(&mut l);
    let k2 = double(&double(&l));
    message.push(0x80);
    message.resize(2 * block, 0);
    for (byte, k) in message[block..].iter_mut().zip(&k2) {
        *byte ^= k;
    }
    let mut state = vec![0u8; block];
    for chunk in message.chunks(block) {
        state.iter_mut().zip(chunk).for_each(|(s, m)| *s ^= m);
        encrypt(&mut state);
    }
    state
}

/// Plain CMAC (NIST SP 800-38B) of `$message` under `$key` with cipher `$cipher`, from the
/// `cmac` crate.
macro_rules! reference_cmac {
    ($cipher:ty, $key:expr, $message:expr) => {{
        let mut mac = <Cmac<$cipher> as KeyInit>::new_from_slice($key).unwrap();
        Mac::update(&mut mac, $message);
        mac.finalize().into_bytes().to_vec()
    }};
}

/// Plain CMAC under a 3-key Triple-DES key, from the `cmac` crate.
pub fn reference_cmac_tdes(key: &[u8], message: &[u8]) -> Vec<u8> {
    reference_cmac!(TdesEde3, key, message)
}

/// Plain CMAC under an AES key of `key.len()` bytes (16, 24 or 32), from the `cmac` crate.
pub fn reference_cmac_aes(key: &[u8], message: &[u8]) -> Vec<u8> {
    match key.len() {
        16 => reference_cmac!(Aes128, key, message),
        24 => reference_cmac!(Aes192, key, message),
        _ => reference_cmac!(Aes256, key, message),
    }
}

/// AN10922 3TDEA: `odd_parity(CMAC(MK, 0x31||M) || CMAC(MK, 0x32||M) || CMAC(MK, 0x33||M))`.
pub fn reference_diversify(master: &[u8], input: &[u8]) -> [u8; 24] {
    let mut out = [0u8; 24];
    for (part, constant) in out.chunks_exact_mut(8).zip([0x31u8, 0x32, 0x33]) {
        part.copy_from_slice(&reference_an10922_cmac!(TdesEde3, master, constant, input));
    }
    for byte in &mut out {
        if byte.count_ones() % 2 == 0 {
            *byte ^= 1;
        }
    }
    out
}

/// AN10922 for an AES master key of `master.len()` bytes (16, 24 or 32), from the `cmac` crate
/// over the raw `aes` crate.
pub fn reference_diversify_aes(master: &[u8], input: &[u8]) -> Vec<u8> {
    match master.len() {
        16 => reference_an10922_cmac!(Aes128, master, 0x01, input),
        24 => {
            let a = reference_an10922_cmac!(Aes192, master, 0x11, input);
            let b = reference_an10922_cmac!(Aes192, master, 0x12, input);
            let middle = a[8..].iter().zip(&b[..8]).map(|(x, y)| x ^ y);
            a[..8]
                .iter()
                .copied()
                .chain(middle)
                .chain(b[8..].iter().copied())
                .collect()
        }
        _ => {
            let mut key = reference_an10922_cmac!(Aes256, master, 0x41, input);
            key.extend(reference_an10922_cmac!(Aes256, master, 0x42, input));
            key
        }
    }
}

/// One block of AES ECB encryption with the raw `aes` crate, for a key of 16, 24 or 32 bytes.
pub fn reference_encrypt_aes(key: &[u8], block: &[u8]) -> Vec<u8> {
    fn with<C: KeyInit + BlockEncrypt>(key: &[u8], block: &[u8]) -> Vec<u8> {
        let mut block = GenericArray::clone_from_slice(block);
        C::new_from_slice(key).unwrap().encrypt_block(&mut block);
        block.to_vec()
    }
    match key.len() {
        16 => with::<Aes128>(key, block),
        24 => with::<Aes192>(key, block),
        _ => with::<Aes256>(key, block),
    }
}

fn reference_class(c: char) -> Option<CharClass> {
    if c.is_ascii_digit() {
        Some(CharClass::Digit)
    } else if c.is_ascii_lowercase() {
        Some(CharClass::Lowercase)
    } else if c.is_ascii_uppercase() {
        Some(CharClass::Uppercase)
    } else if matches!(c as u32, 0x21..=0x2f | 0x3a..=0x40 | 0x5b..=0x60 | 0x7b..=0x7e) {
        Some(CharClass::Special)
    } else {
        None
    }
}

/// The PIN rules of `PinPolicy::validate`'s docs, checked in the documented order.
pub fn reference_validate(policy: &PinPolicy, pin: &str) -> Result<(), PinViolation> {
    let chars: Vec<char> = pin.chars().collect();
    let n = chars.len();
    if n < policy.min_len() {
        return Err(PinViolation::TooShort {
            min_len: policy.min_len(),
            found: n,
        });
    }
    if n > policy.max_len() {
        return Err(PinViolation::TooLong {
            max_len: policy.max_len(),
            found: n,
        });
    }
    for (position, &c) in chars.iter().enumerate() {
        let class = reference_class(c).ok_or(PinViolation::NeverAllowed { position })?;
        if policy.rule(class) == CharRule::Disallow {
            return Err(PinViolation::DisallowedClass { class, position });
        }
    }
    for class in [
        CharClass::Digit,
        CharClass::Lowercase,
        CharClass::Uppercase,
        CharClass::Special,
    ] {
        if policy.rule(class) == CharRule::Require
            && !chars.iter().any(|&c| reference_class(c) == Some(class))
        {
            return Err(PinViolation::MissingClass { class });
        }
    }
    if policy.reject_weak() {
        let codes: Vec<i32> = chars.iter().map(|&c| c as i32).collect();
        let all_steps = |step: i32| (1..n).all(|i| codes[i] - codes[i - 1] == step);
        if all_steps(0) {
            return Err(PinViolation::AllSame);
        }
        if all_steps(1) || all_steps(-1) {
            return Err(PinViolation::Sequence);
        }
        for block_len in [2, 3] {
            if n % block_len == 0
                && n / block_len >= 2
                && (0..n).all(|i| codes[i] == codes[i % block_len])
            {
                return Err(PinViolation::RepeatedBlock { block_len });
            }
        }
    }
    Ok(())
}
