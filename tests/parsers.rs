//! Every text parser of the core (admin keys, card IDs, challenges, responses, and the `cm`
//! functions that take request parameters) on any text: a value or a typed error, never a
//! panic; and what parses prints back as it came.

use cardadmin::{cm, AdminKey, Algorithm, CardId, Challenge, MasterKey, Response};
use proptest::prelude::*;

proptest! {
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
