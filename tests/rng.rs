//! Generators users already have (issue #9, item 4): `rand` 0.8 directly, `rand` 0.9 and 0.10
//! through their adapters, and the operating system's generator through the `getrandom`
//! feature; each through `PinPolicy::generate` and `cm::server_proposed_pin` (the request
//! facade, `cardadmin-mimcm`, calls the latter), and a failing generator as an error, never a
//! panic.

use cardadmin::{cm, CmError, GenerateError, PinPolicy};

fn policy() -> PinPolicy {
    PinPolicy::default()
}

#[test]
fn rand_08_generators_need_no_adapter() {
    let policy = policy();
    let pin = policy.generate(&mut rand_08::thread_rng()).unwrap();
    assert_eq!(policy.validate(pin.as_str()), Ok(()));
    let pin = cm::server_proposed_pin(&policy, &mut rand_08::rngs::OsRng)
        .unwrap()
        .unwrap();
    assert_eq!(pin.len(), 8);
}

#[cfg(feature = "rand_core_09")]
#[test]
fn rand_09_generators_through_randcore09() {
    use cardadmin::rng::RandCore09;
    use rand_09::SeedableRng as _;

    let policy = policy();
    let pin = policy.generate(&mut RandCore09(rand_09::rng())).unwrap();
    assert_eq!(policy.validate(pin.as_str()), Ok(()));
    let mut thread = rand_09::rng();
    let pin = cm::server_proposed_pin(&policy, &mut RandCore09(&mut thread))
        .unwrap()
        .unwrap();
    assert_eq!(policy.validate(pin.as_str()), Ok(()));
    // Fallible (TryCryptoRng only): the OS generator.
    assert!(policy
        .generate(&mut RandCore09(rand_09::rngs::OsRng))
        .is_ok());
    // Seeded generators are deterministic through the adapter, as they are without it.
    let a = policy
        .generate(&mut RandCore09(rand_09::rngs::StdRng::seed_from_u64(7)))
        .unwrap();
    let b = policy
        .generate(&mut RandCore09(rand_09::rngs::StdRng::seed_from_u64(7)))
        .unwrap();
    assert_eq!(a.as_str(), b.as_str());
    assert!(
        cm::server_proposed_pin(&policy, &mut RandCore09(rand_09::rng()))
            .unwrap()
            .is_some()
    );
}

#[cfg(feature = "rand_core_09")]
#[test]
fn a_failing_rand_09_generator_is_a_500() {
    use cardadmin::rng::RandCore09;

    struct Failing;
    impl rand_core_09_compat::TryRngCore for Failing {
        type Error = core::fmt::Error;
        fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
            Err(core::fmt::Error)
        }
        fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
            Err(core::fmt::Error)
        }
        fn try_fill_bytes(&mut self, _: &mut [u8]) -> Result<(), Self::Error> {
            Err(core::fmt::Error)
        }
    }
    impl rand_core_09_compat::TryCryptoRng for Failing {}
    use rand_09::rand_core as rand_core_09_compat;

    let policy = policy();
    assert_eq!(
        policy.generate(&mut RandCore09(Failing)).unwrap_err(),
        GenerateError::Rng
    );
    assert_eq!(
        cm::server_proposed_pin(&policy, &mut RandCore09(Failing)).unwrap_err(),
        CmError::Pin(GenerateError::Rng)
    );
    // fill_bytes cannot fail in rand_core 0.6: it leaves zeros.
    let mut bytes = [1u8; 4];
    cardadmin::rand_core::RngCore::fill_bytes(&mut RandCore09(Failing), &mut bytes);
    assert_eq!(bytes, [0; 4]);
}

#[cfg(feature = "rand_core_010")]
#[test]
fn rand_010_generators_through_randcore010() {
    use cardadmin::rng::RandCore010;
    use rand_010::SeedableRng as _;

    let policy = policy();
    let mut thread = rand_010::rng();
    let pin = policy.generate(&mut RandCore010(&mut thread)).unwrap();
    assert_eq!(policy.validate(pin.as_str()), Ok(()));
    assert!(cm::server_proposed_pin(&policy, &mut RandCore010(thread))
        .unwrap()
        .is_some());
    let a = policy
        .generate(&mut RandCore010(rand_010::rngs::StdRng::seed_from_u64(7)))
        .unwrap();
    let b = policy
        .generate(&mut RandCore010(rand_010::rngs::StdRng::seed_from_u64(7)))
        .unwrap();
    assert_eq!(a.as_str(), b.as_str());
}

#[cfg(feature = "rand_core_010")]
#[test]
fn a_failing_rand_010_generator_is_an_error() {
    use cardadmin::rng::RandCore010;
    use rand_010::rand_core::{TryCryptoRng, TryRng};

    struct Failing;
    impl TryRng for Failing {
        type Error = core::fmt::Error;
        fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
            Err(core::fmt::Error)
        }
        fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
            Err(core::fmt::Error)
        }
        fn try_fill_bytes(&mut self, _: &mut [u8]) -> Result<(), Self::Error> {
            Err(core::fmt::Error)
        }
    }
    impl TryCryptoRng for Failing {}

    assert_eq!(
        policy().generate(&mut RandCore010(Failing)).unwrap_err(),
        GenerateError::Rng
    );
}

#[cfg(feature = "getrandom")]
#[test]
fn the_os_generator_feature() {
    use cardadmin::rand_core::RngCore as _;
    use cardadmin::rng::OsRng;

    let policy = policy();
    let pin = policy.generate(&mut OsRng).unwrap();
    assert_eq!(policy.validate(pin.as_str()), Ok(()));
    assert!(cm::server_proposed_pin(&policy, &mut OsRng)
        .unwrap()
        .is_some());
    // Not stuck: two 32-byte draws differ.
    let (mut a, mut b) = ([0u8; 32], [0u8; 32]);
    OsRng.try_fill_bytes(&mut a).unwrap();
    OsRng.try_fill_bytes(&mut b).unwrap();
    assert_ne!(a, b);
    assert_ne!(OsRng.next_u64(), OsRng.next_u64());
}
