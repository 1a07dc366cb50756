//! A master key in a key store, through the request facade: a store that fails during a request
//! is a 500 that says nothing about the key, and one that fails at start-up refuses the profile.

use std::cell::RefCell;

use cardadmin::cm::{CmError, RolesError};
use cardadmin::master::{CmacMessage, CmacSigner};
use cardadmin::{AdminKey, Algorithm, MasterKey, PinPolicy};
use cardadmin_mimcm::RequestError;

const CARD: &str = "bc88f13f-83ba-4037-8262-46eba1291c6e";
const AUTH: &str = "/CertificateManagement/api/v1.0/requests/a9b4b42c-cc50-4c9b-89d1-bbc0bcd5a099/smartcards/17cf063d-e337-4aa9-a822-346554ddd3c9/authenticationresponse";
const DIVERSIFIED: &str = "/CertificateManagement/api/v1.0/requests/a9b4b42c-cc50-4c9b-89d1-bbc0bcd5a099/smartcards/17cf063d-e337-4aa9-a822-346554ddd3c9/diversifiedkey";

/// A key store that records every message it is asked to MAC, and fails every derivation
/// (the check value still works, so the profile can be built).
struct FailingDerivations {
    key: MasterKey,
    seen: RefCell<Vec<Vec<u8>>>,
}

#[derive(Debug, PartialEq)]
struct StoreDown;

impl CmacSigner for FailingDerivations {
    type Error = StoreDown;
    fn algorithm(&self) -> Algorithm {
        self.key.algorithm()
    }
    fn cmac(&self, message: &CmacMessage, tag: &mut [u8]) -> Result<(), StoreDown> {
        let bytes = message.as_bytes().to_vec();
        let zero_block = bytes.iter().all(|&b| b == 0);
        self.seen.borrow_mut().push(bytes);
        if !zero_block {
            return Err(StoreDown);
        }
        self.key.cmac(message, tag).map_err(|never| match never {})
    }
}

/// Through `cm`: a key store that fails during a request is a 500 whose message says the key
/// store failed and nothing about the key; the profile was still built (the check value
/// worked), and `diversified=false` never touches the store.
#[test]
fn a_key_store_failure_is_a_500_that_says_only_that() {
    let initial = AdminKey::from_bytes([0; 24]);
    let store = FailingDerivations {
        key: MasterKey::new(Algorithm::Tdes, &[0x3c; 24]).unwrap(),
        seen: RefCell::new(Vec::new()),
    };
    let policy = PinPolicy::default();
    let profile = cardadmin_mimcm::Profile::new(&initial, Some(&store), &policy).unwrap();
    let seen_at_start = store.seen.borrow().len();

    for target in [
        format!("{AUTH}?cardid={CARD}&challenge=1hFD%2Bcz%2F0so%3D&diversified=true"),
        format!("{DIVERSIFIED}?cardid={CARD}"),
    ] {
        let reply = cardadmin_mimcm::handle_request(&profile, &target, &mut rand_core::OsRng);
        assert_eq!(reply.status(), 500, "{target}");
        assert_eq!(reply.error(), Some(RequestError::Core(CmError::KeyStore)));
        assert_eq!(
            reply.body(),
            r#"{"Message":"diversification key: the key store failed; no card key was derived"}"#
        );
    }
    let asked = store.seen.borrow().len();
    assert!(asked > seen_at_start);
    let reply = cardadmin_mimcm::handle_request(
        &profile,
        &format!("{AUTH}?cardid={CARD}&challenge=1hFD%2Bcz%2F0so%3D&diversified=false"),
        &mut rand_core::OsRng,
    );
    assert_eq!(reply.body(), r#""F0Zudm4wPLY=""#);
    assert_eq!(store.seen.borrow().len(), asked);

    assert_eq!(RequestError::Core(CmError::KeyStore).status(), 500);
}

/// A key store that cannot even give its check value: the profile is refused at start-up.
#[test]
fn a_key_store_that_fails_at_start_up_refuses_the_profile() {
    struct Down;
    impl CmacSigner for Down {
        type Error = &'static str;
        fn algorithm(&self) -> Algorithm {
            Algorithm::Tdes
        }
        fn cmac(&self, _: &CmacMessage, _: &mut [u8]) -> Result<(), &'static str> {
            Err("token removed")
        }
    }
    let initial = AdminKey::from_bytes([0; 24]);
    let policy = PinPolicy::default();
    let err = cardadmin_mimcm::Profile::new(&initial, Some(&Down), &policy).unwrap_err();
    assert_eq!(err, RolesError::KeyStore("token removed"));
}
