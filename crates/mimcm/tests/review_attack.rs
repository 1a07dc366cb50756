//! Regression test of the outside review's attack (issue #15, item 5).
//!
//! The attack: when the key that diversifies also answers `diversified=false`, every
//! `authenticationresponse` with a chosen challenge is `E_MK(chosen block)`. `E_MK(0)` is CMAC's
//! `L`; from it the attacker doubles out `K1` and `K2`, and chains further chosen blocks to get
//! `CMAC(MK, m)` for any `m`, so `CMAC(MK, 31 ‖ ID) ‖ CMAC(MK, 32 ‖ ID) ‖ CMAC(MK, 33 ‖ ID)`:
//! every card's AN10922 key. For a 3DES master and a 16-byte card ID that is 1 + 3 × 3 = 10
//! requests, the review's figure.
//!
//! The attacker here is real: it only sends request targets through `cardadmin_mimcm::handle_request` (or
//! the parameter-level function) and reads the JSON bodies, and computes CMAC from the
//! definitions (NIST SP 800-38B). `the_attack_works_when_one_key_plays_both_roles` shows the
//! recipe recovers a card key when the master answers challenges (so the other tests could
//! fail); the others show it no longer does with the roles apart, and that a configuration
//! with one key in both roles is refused.

use cardadmin::{cm, AdminKey, Algorithm, CardId, Challenge, CmError, MasterKey, PinPolicy};
use cardadmin_mimcm::RequestError;

const AUTH: &str = "/CertificateManagement/api/v1.0/requests/a9b4b42c-cc50-4c9b-89d1-bbc0bcd5a099/smartcards/17cf063d-e337-4aa9-a822-346554ddd3c9/authenticationresponse";
/// The card the attacker wants the key of.
const VICTIM: &str = "5f2a8c41-07d3-4b9e-a1c2-93e4d5f60718";
/// The card ID the attacker sends with its chosen challenges (any well-formed one).
const ANY_CARD: &str = "bc88f13f-83ba-4037-8262-46eba1291c6e";
/// The example server's keys (apps/server/config.example.json).
const INITIAL_KEY: &str = "000000000000000000000000000000000000000000000000";
const MASTER_KEY: &str = "DA20D81B7D17734F8166BE8BAC0EC94DD8E793D74ACEC8B7";

/// Standard base64 of `bytes`, percent-encoded for a query string.
fn query_base64(bytes: &[u8]) -> String {
    Challenge::from_slice(bytes)
        .unwrap()
        .to_string()
        .replace('+', "%2B")
        .replace('/', "%2F")
        .replace('=', "%3D")
}

/// The outsider's encryption oracle: `diversified=false` with a chosen challenge, through the
/// whole request facade. Counts the requests.
struct Oracle<'p> {
    profile: &'p cardadmin_mimcm::Profile<'p>,
    requests: usize,
}

impl Oracle<'_> {
    fn encrypt(&mut self, block: &[u8]) -> Vec<u8> {
        self.requests += 1;
        let target = format!(
            "{AUTH}?cardid={ANY_CARD}&challenge={}&diversified=false",
            query_base64(block)
        );
        let reply = cardadmin_mimcm::handle_request(self.profile, &target, &mut rand_core::OsRng);
        assert_eq!(reply.status(), 200, "{}", reply.body());
        let body: String = serde_json::from_str(reply.body()).unwrap();
        Challenge::from_base64(&body).unwrap().as_bytes().to_vec()
    }
}

/// GF(2^n) doubling, from SP 800-38B section 6.1.
fn double(block: &[u8]) -> Vec<u8> {
    let mut out: Vec<u8> = block
        .iter()
        .zip(block.iter().skip(1).chain([&0u8]))
        .map(|(byte, next)| byte << 1 | next >> 7)
        .collect();
    if block[0] & 0x80 != 0 {
        *out.last_mut().unwrap() ^= if block.len() == 8 { 0x1b } else { 0x87 };
    }
    out
}

/// CMAC (SP 800-38B) of `message` under whatever key the oracle encrypts with, built from
/// the oracle's block encryptions alone (`l` is the oracle's answer for the zero block).
fn cmac_through(encrypt: &mut dyn FnMut(&[u8]) -> Vec<u8>, l: &[u8], message: &[u8]) -> Vec<u8> {
    let n = l.len();
    let k1 = double(l);
    let k2 = double(&k1);
    let mut blocks: Vec<Vec<u8>> = message.chunks(n).map(<[u8]>::to_vec).collect();
    let last = blocks.last_mut().unwrap();
    if last.len() == n {
        last.iter_mut().zip(&k1).for_each(|(b, k)| *b ^= k);
    } else {
        last.push(0x80);
        last.resize(n, 0);
        last.iter_mut().zip(&k2).for_each(|(b, k)| *b ^= k);
    }
    let mut state = vec![0u8; n];
    for block in blocks {
        state.iter_mut().zip(&block).for_each(|(s, b)| *s ^= b);
        state = encrypt(&state);
    }
    state
}

/// The review's recipe: the AN10922 key of `victim` for a master of `algorithm`, computed from
/// the oracle's answers only (3DES: odd parity, as the server's keys have).
fn recover_card_key(
    encrypt: &mut dyn FnMut(&[u8]) -> Vec<u8>,
    algorithm: Algorithm,
    victim: &CardId,
) -> Vec<u8> {
    let l = encrypt(&vec![0u8; algorithm.block_len()]);
    let constants: &[u8] = match algorithm {
        Algorithm::Tdes => &[0x31, 0x32, 0x33],
        Algorithm::Aes128 => &[0x01],
        _ => unimplemented!("the test attacks 3DES and AES-128 masters"),
    };
    let mut key = Vec::new();
    for &constant in constants {
        let message: Vec<u8> = std::iter::once(constant)
            .chain(victim.as_bytes().iter().copied())
            .collect();
        key.extend(cmac_through(encrypt, &l, &message));
    }
    if algorithm == Algorithm::Tdes {
        for byte in &mut key {
            let high = *byte & 0xfe;
            *byte = high | u8::from(high.count_ones() % 2 == 0);
        }
    }
    key
}

/// The recipe is real: against a key that plays both roles (what `cm` did before issue #15:
/// one `AdminKey` answered `diversified=false` and diversified), it recovers the card's key,
/// in 10 requests for 3DES as the review reported, and 3 for AES-128.
#[test]
fn the_attack_works_when_one_key_plays_both_roles() {
    let victim: CardId = VICTIM.parse().unwrap();
    for (algorithm, hex, expected_requests) in [
        (Algorithm::Tdes, MASTER_KEY, 10),
        (Algorithm::Aes128, "2B7E151628AED2A6ABF7158809CF4F3C", 3),
    ] {
        let master = MasterKey::new_hex(algorithm, hex).unwrap();
        // The old server: the master's bytes answered diversified=false. Through the
        // parameter-level facade, with those bytes as the key that answers.
        let same_bytes = AdminKey::new_hex(algorithm, hex).unwrap();
        let mut requests = 0;
        let mut oracle = |block: &[u8]| -> Vec<u8> {
            requests += 1;
            let challenge = Challenge::from_slice(block).unwrap().to_string();
            cm::authentication_response(
                &same_bytes,
                None::<&MasterKey>,
                ANY_CARD,
                &challenge,
                false,
            )
            .unwrap()
            .as_bytes()
            .to_vec()
        };
        let recovered = recover_card_key(&mut oracle, algorithm, &victim);
        assert_eq!(
            recovered,
            master.diversify(&victim).expose_secret(),
            "{algorithm}"
        );
        assert_eq!(requests, expected_requests, "{algorithm}");
    }
}

/// The example server's configuration: the attack now only computes CMAC under the initial
/// key (public, what blank cards ship with), which opens no card that has its own key.
#[test]
fn the_attack_fails_against_the_example_servers_profile() {
    let initial = AdminKey::from_hex(INITIAL_KEY).unwrap();
    let master = MasterKey::from_hex(MASTER_KEY).unwrap();
    let policy = PinPolicy::default();
    let profile = cardadmin_mimcm::Profile::new(&initial, Some(&master), &policy).unwrap();
    let victim: CardId = VICTIM.parse().unwrap();

    let mut oracle = Oracle {
        profile: &profile,
        requests: 0,
    };
    // The documented answer still comes back: the initial key answers diversified=false.
    assert_eq!(
        oracle.encrypt(Challenge::from_base64("1hFD+cz/0so=").unwrap().as_bytes()),
        Challenge::from_base64("F0Zudm4wPLY=").unwrap().as_bytes()
    );
    let recovered = recover_card_key(&mut |block| oracle.encrypt(block), Algorithm::Tdes, &victim);
    assert_eq!(oracle.requests, 11);

    let card_key = master.diversify(&victim);
    assert_ne!(recovered, card_key.expose_secret());
    // What the oracle gave is CMAC under the initial key: the "card key" a master equal to the
    // initial key would derive. Harmless, since the initial key is not the master.
    let under_initial = MasterKey::from_hex(INITIAL_KEY).unwrap().diversify(&victim);
    assert_eq!(recovered, under_initial.expose_secret());

    // The recovered key does not answer the card's challenges as the server does.
    let challenge = Challenge::from_bytes(*b"victim's");
    let server_answer = cardadmin_mimcm::handle_request(
        &profile,
        &format!(
            "{AUTH}?cardid={VICTIM}&challenge={}&diversified=true",
            query_base64(challenge.as_bytes())
        ),
        &mut rand_core::OsRng,
    );
    let server_answer: String = serde_json::from_str(server_answer.body()).unwrap();
    let forged = AdminKey::from_slice(&recovered)
        .unwrap()
        .respond(&challenge)
        .unwrap();
    assert_ne!(forged.to_string(), server_answer);
    assert_eq!(
        card_key.respond(&challenge).unwrap().to_string(),
        server_answer
    );
}

/// No profile lets one key play both roles, whatever its parity bits, so the attack's
/// precondition cannot be configured; and without a master there is no card key to recover.
#[test]
fn a_profile_with_one_key_in_both_roles_is_refused() {
    let policy = PinPolicy::default();
    let master = MasterKey::from_hex(MASTER_KEY).unwrap();
    let parity_flipped: String = MASTER_KEY
        .as_bytes()
        .chunks(2)
        .map(|pair| {
            let byte = u8::from_str_radix(std::str::from_utf8(pair).unwrap(), 16).unwrap();
            format!("{:02X}", byte ^ 1)
        })
        .collect();
    for text in [MASTER_KEY, &parity_flipped] {
        let initial = AdminKey::from_hex(text).unwrap();
        let err = cardadmin_mimcm::Profile::new(&initial, Some(&master), &policy).unwrap_err();
        assert!(matches!(err, cm::RolesError::SameKey { .. }), "{err:?}");
        assert!(err.to_string().contains("same key"), "{err}");
    }

    let initial = AdminKey::from_hex(INITIAL_KEY).unwrap();
    let profile = cardadmin_mimcm::Profile::without_master(&initial, &policy);
    let reply = cardadmin_mimcm::handle_request(
        &profile,
        &format!("{AUTH}?cardid={VICTIM}&challenge=1hFD%2Bcz%2F0so%3D&diversified=true"),
        &mut rand_core::OsRng,
    );
    assert_eq!(
        reply.error(),
        Some(RequestError::Core(CmError::NoDiversificationKey))
    );
}

/// Issue #24 item 1: DES's complementation property (`E_~K(~x) = ~E_K(x)`, all three parts of
/// a 3DES key complemented) turns an initial key equal to NOT master into the same oracle: the
/// attack, run on complemented challenges and complemented answers, recovers the card key. So
/// `Profile::new` refuses the complement too (by the CMAC check value of `~initial`, so it
/// works for a master in a key store), with and without flipped parity bits; AES has no such
/// property, so an AES initial key equal to NOT an AES master is an unrelated key.
#[test]
fn the_complement_of_the_master_as_initial_key_is_refused() {
    let victim: CardId = VICTIM.parse().unwrap();
    let master = MasterKey::from_hex(MASTER_KEY).unwrap();
    let master_bytes: Vec<u8> = (0..24)
        .map(|i| u8::from_str_radix(&MASTER_KEY[2 * i..2 * i + 2], 16).unwrap())
        .collect();
    let complement: Vec<u8> = master_bytes.iter().map(|b| !b).collect();

    // The property, and the attack it enables when nothing refuses the pair.
    let not_master = AdminKey::from_slice(&complement).unwrap();
    let mut oracle = |block: &[u8]| -> Vec<u8> {
        let flipped: Vec<u8> = block.iter().map(|b| !b).collect();
        let answer = not_master
            .respond(&Challenge::from_slice(&flipped).unwrap())
            .unwrap();
        answer.as_bytes().iter().map(|b| !b).collect()
    };
    assert_eq!(
        recover_card_key(&mut oracle, Algorithm::Tdes, &victim),
        master.diversify(&victim).expose_secret(),
    );

    // Refused, whatever the parity bits of the complement.
    let policy = PinPolicy::default();
    let parity_flipped: Vec<u8> = complement.iter().map(|b| b ^ 1).collect();
    for bytes in [&complement, &parity_flipped] {
        let initial = AdminKey::from_slice(bytes).unwrap();
        let err = cardadmin_mimcm::Profile::new(&initial, Some(&master), &policy).unwrap_err();
        assert_eq!(
            err,
            cm::RolesError::ComplementKey {
                check_value: master.check_value()
            }
        );
        assert!(err.to_string().contains("bitwise complement"), "{err}");
        assert!(cm::check_roles(&initial, &master).is_err());
    }

    // AES: the complement is just another key.
    let aes_master = MasterKey::new(Algorithm::Aes192, &master_bytes).unwrap();
    let aes_not = AdminKey::new(Algorithm::Aes192, &complement).unwrap();
    assert!(cardadmin_mimcm::Profile::new(&aes_not, Some(&aes_master), &policy).is_ok());
}
