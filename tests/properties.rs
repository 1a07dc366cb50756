//! Property tests for every promise the docs make.

use cardadmin::{
    cm, AdminKey, Algorithm, CardId, Challenge, CharClass, CharRule, MasterKey, PinPolicy,
    PinPolicyBuilder, Response, UserPinOption,
};
use proptest::prelude::*;
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha20Rng;

fn char_rule() -> impl Strategy<Value = CharRule> {
    prop_oneof![
        Just(CharRule::Allow),
        Just(CharRule::Require),
        Just(CharRule::Disallow)
    ]
}

fn user_pin_option() -> impl Strategy<Value = UserPinOption> {
    prop_oneof![
        Just(UserPinOption::None),
        Just(UserPinOption::UserProvided),
        Just(UserPinOption::Randomized),
        Just(UserPinOption::ServerDistributed),
        Just(UserPinOption::CustomServerDistributed),
    ]
}

/// Builders with every field chosen, lengths mostly but not always in range.
fn builder() -> impl Strategy<Value = (PinPolicyBuilder, [usize; 3], [CharRule; 4])> {
    (
        prop_oneof![4usize..=16, 0usize..=130],
        prop_oneof![4usize..=16, 0usize..=130],
        prop_oneof![4usize..=16, 0usize..=130],
        [char_rule(), char_rule(), char_rule(), char_rule()],
        any::<bool>(),
        user_pin_option(),
    )
        .prop_map(|(min, max, proposed, rules, reject_weak, option)| {
            let [digits, lowercase, uppercase, special] = rules;
            let builder = PinPolicy::builder()
                .min_len(min)
                .max_len(max)
                .proposed_len(proposed)
                .digits(digits)
                .lowercase(lowercase)
                .uppercase(uppercase)
                .special(special)
                .reject_weak(reject_weak)
                .user_pin_option(option);
            (builder, [min, max, proposed], rules)
        })
}

/// Policies that build, short enough that generation is quick.
fn policy() -> impl Strategy<Value = PinPolicy> {
    builder().prop_filter_map("policy does not build", |(builder, _, _)| {
        builder.build().ok()
    })
}

proptest! {
    #[test]
    fn card_id_prints_and_parses_back(bytes in any::<[u8; 16]>()) {
        let id = CardId::from_bytes(bytes);
        let text = id.to_string();
        prop_assert_eq!(text.len(), 36);
        prop_assert_eq!(text.to_lowercase(), text.clone());
        prop_assert_eq!(CardId::parse(&text), Ok(id));
        prop_assert_eq!(text.parse::<CardId>(), Ok(id));
        prop_assert_eq!(CardId::parse(&format!("{{{}}}", text.to_uppercase())), Ok(id));
        prop_assert_eq!(CardId::parse(&text.replace('-', "")), Ok(id));
    }

    #[test]
    fn challenge_and_response_print_and_parse_back(bytes in any::<[u8; 8]>()) {
        let challenge = Challenge::from_bytes(bytes);
        let text = challenge.to_string();
        prop_assert_eq!(text.len(), 12);
        prop_assert!(text.ends_with('='));
        prop_assert_eq!(Challenge::from_base64(&text), Ok(challenge));
        let response = Response::from_bytes(bytes);
        prop_assert_eq!(response.to_string(), text.clone());
        prop_assert_eq!(Response::from_base64(&text), Ok(response));
        prop_assert_eq!(text.parse::<Response>(), Ok(response));
    }

    #[test]
    fn only_canonical_base64_is_accepted(bytes in any::<[u8; 8]>(), low_bits in 1u8..4) {
        // The 11th character carries 2 unused bits; setting them gives the same bytes in a
        // non-canonical text, which must be refused.
        const ALPHABET: &[u8; 64] =
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let mut text = Challenge::from_bytes(bytes).to_string().into_bytes();
        let index = ALPHABET.iter().position(|&c| c == text[10]).unwrap();
        text[10] = ALPHABET[index | usize::from(low_bits)];
        let text = String::from_utf8(text).unwrap();
        prop_assert!(Challenge::from_base64(&text).is_err());
    }

    #[test]
    fn key_hex_round_trips_in_either_case(bytes in any::<[u8; 24]>()) {
        let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        for key in [
            AdminKey::from_hex(&hex).unwrap(),
            AdminKey::from_hex(&hex.to_uppercase()).unwrap(),
            AdminKey::from_slice(&bytes).unwrap(),
        ] {
            prop_assert_eq!(key.expose_secret(), &bytes);
        }
    }

    #[test]
    fn verify_accepts_exactly_the_response(
        key in any::<[u8; 24]>(),
        challenge in any::<[u8; 8]>(),
        other in any::<[u8; 8]>(),
    ) {
        let key = AdminKey::from_bytes(key);
        let challenge = Challenge::from_bytes(challenge);
        let response = key.respond(&challenge).unwrap();
        prop_assert!(key.verify(&challenge, &response));
        let other = Response::from_bytes(other);
        prop_assert_eq!(key.verify(&challenge, &other), other == response);
        for bit in 0..64 {
            let mut flipped: [u8; 8] = response.as_bytes().try_into().unwrap();
            flipped[bit / 8] ^= 1 << (bit % 8);
            prop_assert!(!key.verify(&challenge, &Response::from_bytes(flipped)));
        }
    }

    #[test]
    fn parity_bits_never_change_a_response(key in any::<[u8; 24]>(), challenge in any::<[u8; 8]>()) {
        let flipped = key.map(|b| b ^ 1);
        let challenge = Challenge::from_bytes(challenge);
        prop_assert_eq!(
            AdminKey::from_bytes(key).respond(&challenge).unwrap(),
            AdminKey::from_bytes(flipped).respond(&challenge).unwrap()
        );
    }

    #[test]
    fn diversification_is_deterministic_and_per_card(
        master in any::<[u8; 24]>(),
        card in any::<[u8; 16]>(),
        other_card in any::<[u8; 16]>(),
    ) {
        prop_assume!(card != other_card);
        let master = MasterKey::new(Algorithm::Tdes, &master).unwrap();
        let card = CardId::from_bytes(card);
        let derived = master.diversify(&card);
        let again = master.diversify(&card);
        prop_assert_eq!(derived.expose_secret(), again.expose_secret());
        let other = master.diversify(&CardId::from_bytes(other_card));
        prop_assert_ne!(derived.expose_secret(), other.expose_secret());
        prop_assert!(derived.audit().has_odd_parity());
        let via_cm = cm::diversified_key(&master, &card.to_string()).unwrap();
        prop_assert_eq!(via_cm.expose_secret(), derived.expose_secret());
    }

    #[test]
    fn diversified_response_is_the_diversified_keys_response(
        master in any::<[u8; 24]>(),
        card in any::<[u8; 16]>(),
        initial in any::<[u8; 24]>(),
        challenge in any::<[u8; 8]>(),
    ) {
        let master = MasterKey::new(Algorithm::Tdes, &master).unwrap();
        let initial = AdminKey::from_bytes(initial);
        let card = CardId::from_bytes(card);
        let challenge = Challenge::from_bytes(challenge);
        let card_text = card.to_string();
        let challenge_text = challenge.to_string();
        prop_assert_eq!(
            cm::authentication_response(&initial, Some(&master), &card_text, &challenge_text, true).unwrap(),
            master.diversify(&card).respond(&challenge).unwrap()
        );
        prop_assert_eq!(
            cm::authentication_response(&initial, Some(&master), &card_text, &challenge_text, false).unwrap(),
            initial.respond(&challenge).unwrap()
        );
    }

    #[test]
    fn debug_never_shows_key_bytes(key in any::<[u8; 24]>()) {
        let key = AdminKey::from_bytes(key);
        let debug = format!("{key:?}");
        let hex: String = key.expose_secret().iter().map(|b| format!("{b:02x}")).collect();
        prop_assert!(!debug.to_lowercase().contains(&hex[..6]));
        prop_assert_eq!(debug, format!("AdminKey {{ algorithm: Tdes, check_value: {} }}", key.check_value()));
    }

    #[test]
    fn build_succeeds_exactly_when_the_fields_are_valid(
        (builder, [min, max, proposed], rules) in builder()
    ) {
        let lengths_ok = (4..=127).contains(&min) && (4..=127).contains(&max) && min <= max;
        let valid = lengths_ok
            && (min..=max).contains(&proposed)
            && rules.iter().any(|&rule| rule != CharRule::Disallow);
        prop_assert_eq!(builder.build().is_ok(), valid);
    }

    #[test]
    fn policies_that_build_always_generate_valid_pins(policy in policy(), seed in any::<u64>()) {
        let mut rng = ChaCha20Rng::seed_from_u64(seed);
        for _ in 0..4 {
            let pin = policy.generate(&mut rng).unwrap();
            prop_assert_eq!(pin.len(), policy.proposed_len());
            prop_assert_eq!(pin.as_str().len(), policy.proposed_len());
            prop_assert_eq!(policy.validate(pin.as_str()), Ok(()));
            for c in pin.as_str().chars() {
                let class = CharClass::of(c).unwrap();
                prop_assert_ne!(policy.rule(class), CharRule::Disallow);
            }
            prop_assert_eq!(format!("{pin:?}"), format!("Pin(<redacted>, len {})", pin.len()));
        }
    }

    #[test]
    fn server_proposes_exactly_when_the_policy_says_so(policy in policy(), seed in any::<u64>()) {
        let mut rng = ChaCha20Rng::seed_from_u64(seed);
        let proposed = cm::server_proposed_pin(&policy, &mut rng).unwrap();
        let expected = matches!(
            policy.user_pin_option(),
            UserPinOption::Randomized | UserPinOption::ServerDistributed
        );
        prop_assert_eq!(proposed.is_some(), expected);
        prop_assert_eq!(policy.server_generates(), expected);
    }

    #[test]
    fn validate_never_panics(policy in policy(), pin in any::<String>()) {
        let _ = policy.validate(&pin);
    }

    #[test]
    fn validate_never_panics_on_pin_like_text(policy in policy(), pin in "[ -~]{0,20}") {
        if let Err(reason) = policy.validate(&pin) {
            prop_assert!(!reason.to_string().is_empty());
        }
    }

    #[test]
    fn parsers_never_panic(text in any::<String>()) {
        let _ = AdminKey::from_hex(&text);
        let _ = CardId::parse(&text);
        let _ = Challenge::from_base64(&text);
        let _ = Response::from_base64(&text);
        let key = AdminKey::from_bytes([0x11; 24]);
        let master = MasterKey::new(Algorithm::Tdes, &[0x22; 24]).unwrap();
        let _ = cm::authentication_response(&key, Some(&master), &text, &text, true);
        let _ = cm::authentication_response(&key, None::<&MasterKey>, &text, &text, true);
        let _ = cm::diversified_key(&master, &text);
    }

    #[test]
    fn parsers_never_panic_on_near_misses(text in "[{}0-9a-fA-F=+/ _-]{0,40}") {
        let _ = AdminKey::from_hex(&text);
        if let Ok(id) = CardId::parse(&text) {
            prop_assert_eq!(CardId::parse(&id.to_string()), Ok(id));
        }
        if let Ok(challenge) = Challenge::from_base64(&text) {
            prop_assert_eq!(challenge.to_string(), text);
        }
    }
}
