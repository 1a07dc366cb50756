//! Weak keys are never written to a card (issue #14, item 4): YubiKey SET MANAGEMENT KEY and
//! GIDS PUT KEY refuse every key the audit finds something in, naming the finding; the
//! `_allowing_weak` forms are the explicit override; AES management keys are refused for
//! YubiKey firmware before 5.4 when the host passes the version from GET VERSION.

use cardadmin::{AdminKey, Algorithm, KeyFinding};
use cardadmin_card::apdu::{Command, LengthForm, StatusWord};
use cardadmin_card::auth::yubikey::{self, SetManagementKeyError, Version};
use cardadmin_card::auth::{gids, piv, AuthError};
use proptest::prelude::*;

/// Three DES parts with no finding, to put one weak part among.
const CLEAN: [&str; 3] = ["0123456789abcdef", "23456789abcdef01", "456789abcdef0123"];

fn tdes(parts: [&str; 3]) -> AdminKey {
    AdminKey::from_hex(&parts.concat()).unwrap()
}

/// The key with `part` (1 to 3) replaced.
fn with_part(part: usize, hex: &str) -> AdminKey {
    let mut parts = CLEAN;
    parts[part - 1] = hex;
    tdes(parts)
}

/// One key for every finding the audit makes, with the finding the refusal must name.
fn weak_keys() -> Vec<(AdminKey, KeyFinding)> {
    let mut keys = Vec::new();
    for part in 1..=3u8 {
        let at = usize::from(part);
        keys.push((
            with_part(at, "0101010101010101"),
            KeyFinding::WeakPart { part },
        ));
        keys.push((
            with_part(at, "1f1f1f1f0e0e0e0e"),
            KeyFinding::WeakPart { part },
        ));
        keys.push((
            with_part(at, "01fe01fe01fe01fe"),
            KeyFinding::SemiWeakPart { part },
        ));
        keys.push((
            with_part(at, "e01fe01ff10ef10e"),
            KeyFinding::SemiWeakPart { part },
        ));
        // From the published list of 48, and one of the 192 the list leaves out.
        keys.push((
            with_part(at, "01011f1f01010e0e"),
            KeyFinding::PossiblyWeakPart { part },
        ));
        keys.push((
            with_part(at, "010101e0010101f1"),
            KeyFinding::PossiblyWeakPart { part },
        ));
    }
    keys.push((tdes([CLEAN[0], CLEAN[0], CLEAN[2]]), KeyFinding::K1EqualsK2));
    keys.push((tdes([CLEAN[0], CLEAN[1], CLEAN[1]]), KeyFinding::K2EqualsK3));
    keys.push((tdes([CLEAN[0], CLEAN[1], CLEAN[0]]), KeyFinding::K1EqualsK3));
    // Parity bits do not hide a repeated part.
    keys.push((
        tdes(["0123456789abcdef", "0022446688aaccee", CLEAN[2]]),
        KeyFinding::K1EqualsK2,
    ));
    keys.push((AdminKey::from_bytes([0; 24]), KeyFinding::AllZero));
    keys.push((AdminKey::from_bytes([1; 24]), KeyFinding::AllZero));
    let minidriver = [1u8, 2, 3, 4, 5, 6, 7, 8];
    keys.push((
        AdminKey::new(Algorithm::Tdes, &minidriver.repeat(3)).unwrap(),
        KeyFinding::MinidriverDefault,
    ));
    // The documentation's example master (issue #24): published, so refused like a default,
    // whatever its parity bits.
    keys.push((
        AdminKey::from_hex("DA20D81B7D17734F8166BE8BAC0EC94DD8E793D74ACEC8B7").unwrap(),
        KeyFinding::PublishedExample,
    ));
    keys.push((
        AdminKey::from_hex("DB21D91A7C16724E8067BF8AAD0FC84CD9E692D64BCFC9B6").unwrap(),
        KeyFinding::PublishedExample,
    ));
    for algorithm in [Algorithm::Aes128, Algorithm::Aes192, Algorithm::Aes256] {
        let len = algorithm.key_len();
        let zero = vec![0u8; len];
        keys.push((
            AdminKey::new(algorithm, &zero).unwrap(),
            KeyFinding::AllZero,
        ));
        let default: Vec<u8> = minidriver.iter().copied().cycle().take(len).collect();
        keys.push((
            AdminKey::new(algorithm, &default).unwrap(),
            KeyFinding::MinidriverDefault,
        ));
        let half: Vec<u8> = (1..=len / 2).map(|i| (i * 37) as u8).collect();
        keys.push((
            AdminKey::new(algorithm, &half.repeat(2)).unwrap(),
            KeyFinding::RepeatedHalves,
        ));
    }
    keys
}

#[test]
fn every_audit_finding_refuses_both_writes_and_names_the_finding() {
    let current = Version::new(5, 7, 2);
    for (key, finding) in weak_keys() {
        let label = format!("{finding:?} {:?}", key.algorithm());
        assert!(key.audit().findings().any(|f| f == finding), "{label}");
        assert_eq!(
            yubikey::set_management_key(&key, false)
                .unwrap_err()
                .finding(),
            finding,
            "{label}"
        );
        assert_eq!(
            yubikey::set_management_key(&key, true)
                .unwrap_err()
                .finding(),
            finding,
            "{label}"
        );
        let err = yubikey::set_management_key_for(current, &key, false).unwrap_err();
        assert!(
            matches!(err, SetManagementKeyError::Weak(weak) if weak.finding() == finding),
            "{label}: {err:?}"
        );
        assert_eq!(
            err.to_string(),
            format!("refused to write the new key: {finding}")
        );
        let err = gids::put_key(&key).unwrap_err();
        assert_eq!(err.finding(), finding, "{label}");
        assert_eq!(
            err.to_string(),
            format!("refused to write the new key: {finding}")
        );
        // The override writes it, byte for byte.
        let command = yubikey::set_management_key_allowing_weak(&key, false);
        assert_eq!(command.data()[3..], key.expose_secret()[..], "{label}");
        let command = gids::put_key_allowing_weak(&key);
        assert_eq!(
            command.data()[7..7 + key.algorithm().key_len()],
            key.expose_secret()[..],
            "{label}"
        );
    }
}

#[test]
fn the_error_never_shows_key_bytes() {
    let key = with_part(2, "010101e0010101f1");
    let err = gids::put_key(&key).unwrap_err();
    let text = format!("{err} {err:?}").to_lowercase();
    for part in CLEAN {
        assert!(!text.contains(part), "{text}");
    }
    assert!(text.contains("k2"), "{text}");
}

#[test]
fn aes_management_keys_need_firmware_5_4() {
    let aes: Vec<AdminKey> = [Algorithm::Aes128, Algorithm::Aes192, Algorithm::Aes256]
        .into_iter()
        .map(|algorithm| {
            let bytes: Vec<u8> = (0..algorithm.key_len())
                .map(|i| (i as u8).wrapping_mul(29) ^ 0xa5)
                .collect();
            AdminKey::new(algorithm, &bytes).unwrap()
        })
        .collect();
    let des = tdes(CLEAN);
    for old in [
        Version::new(4, 3, 7),
        Version::new(5, 2, 7),
        Version::new(5, 3, 255),
    ] {
        assert!(!old.supports_aes_management_key(), "{old}");
        for key in &aes {
            let err = yubikey::set_management_key_for(old, key, false).unwrap_err();
            assert_eq!(err, SetManagementKeyError::AesUnsupported { firmware: old });
            assert_eq!(
                err.to_string(),
                format!(
                    "AES management keys need YubiKey firmware 5.4.0 or later; the card reports {old}"
                )
            );
            // The firmware-blind form cannot know.
            assert!(yubikey::set_management_key(key, false).is_ok());
        }
        assert!(yubikey::set_management_key_for(old, &des, false).is_ok());
    }
    for new in [
        Version::new(5, 4, 0),
        Version::new(5, 4, 3),
        Version::new(5, 7, 2),
        Version::new(6, 0, 0),
    ] {
        assert!(new.supports_aes_management_key(), "{new}");
        for key in aes.iter().chain([&des]) {
            let command = yubikey::set_management_key_for(new, key, true).unwrap();
            assert_eq!(command.p2(), 0xfe);
            assert_eq!(command.data()[0], key.algorithm().piv_id());
        }
    }
}

#[test]
fn version_answers_are_parsed_strictly() {
    assert_eq!(
        Version::parse(&[5, 4, 3, 0x90, 0x00]).unwrap(),
        Version::new(5, 4, 3)
    );
    assert_eq!(Version::new(5, 4, 3).to_string(), "5.4.3");
    assert_eq!(Version::from([5, 4, 3]), Version::new(5, 4, 3));
    assert_eq!(
        Version::parse(&[0x6d, 0x00]).unwrap_err(),
        AuthError::Status {
            found: StatusWord::INS_NOT_SUPPORTED
        }
    );
    for data in [&[][..], &[5], &[5, 4], &[5, 4, 3, 0]] {
        let mut answer = data.to_vec();
        answer.extend([0x90, 0x00]);
        assert_eq!(
            Version::parse(&answer).unwrap_err(),
            AuthError::Length {
                tag: 0,
                expected: 3,
                found: data.len()
            }
        );
    }
    // Ordered as versions: minor before patch.
    assert!(Version::new(5, 3, 255) < Version::new(5, 4, 0));
    assert!(Version::new(4, 255, 255) < Version::new(5, 0, 0));
}

fn any_key() -> impl Strategy<Value = AdminKey> {
    (0..4usize, any::<[u8; 32]>()).prop_map(|(which, bytes)| {
        let algorithm = [
            Algorithm::Tdes,
            Algorithm::Aes128,
            Algorithm::Aes192,
            Algorithm::Aes256,
        ][which];
        AdminKey::new(algorithm, &bytes[..algorithm.key_len()]).unwrap()
    })
}

fn same(a: &Command, b: &Command) -> bool {
    a.encode(LengthForm::Extended).as_bytes() == b.encode(LengthForm::Extended).as_bytes()
}

proptest! {
    /// The checked forms refuse exactly the keys the audit finds something in, and otherwise
    /// build the override's command byte for byte.
    #[test]
    fn checked_writes_refuse_exactly_what_the_audit_finds(key in any_key(), touch in any::<bool>()) {
        let clean = key.audit().is_clean();
        let unchecked = yubikey::set_management_key_allowing_weak(&key, touch);
        match yubikey::set_management_key(&key, touch) {
            Ok(command) => prop_assert!(clean && same(&command, &unchecked)),
            Err(err) => prop_assert!(!clean && key.audit().findings().any(|f| f == err.finding())),
        }
        let unchecked = gids::put_key_allowing_weak(&key);
        match gids::put_key(&key) {
            Ok(command) => prop_assert!(clean && same(&command, &unchecked)),
            Err(err) => prop_assert!(!clean && key.audit().findings().any(|f| f == err.finding())),
        }
    }

    /// A random 3DES key with K2 made equal to K1: always refused as single DES.
    #[test]
    fn a_repeated_part_is_always_refused(bytes in any::<[u8; 24]>()) {
        let mut bytes = bytes;
        bytes.copy_within(0..8, 8);
        let key = AdminKey::from_bytes(bytes);
        let finding = gids::put_key(&key).unwrap_err().finding();
        prop_assert!(key.audit().findings().any(|f| f == KeyFinding::K1EqualsK2));
        prop_assert_eq!(yubikey::set_management_key(&key, false).unwrap_err().finding(), finding);
    }
}

/// End to end against the software card: the host learns the firmware from GET VERSION, a
/// weak key never leaves the host, a clean one is written and then authenticates.
#[cfg(feature = "soft-card")]
#[test]
fn soft_card_gets_clean_keys_only() {
    use cardadmin_card::soft_card::SoftCard;
    use rand_chacha::rand_core::SeedableRng;
    use rand_chacha::ChaCha20Rng;

    let factory = AdminKey::new(Algorithm::Aes192, &[1, 2, 3, 4, 5, 6, 7, 8].repeat(3)).unwrap();
    let mut card = SoftCard::new(factory.clone(), ChaCha20Rng::seed_from_u64(41));
    let mut send =
        |command: &Command| card.process(command.encode(LengthForm::Extended).as_bytes());
    assert_eq!(send(&piv::select()).status_word(), StatusWord::SUCCESS);
    let version = yubikey::parse_version(send(&yubikey::get_version()).as_bytes()).unwrap();
    assert!(version.supports_aes_management_key());

    let flow = piv::MutualAuth::new(&factory);
    let answer = send(flow.command());
    let flow = flow
        .receive_witness(answer.as_bytes(), &mut ChaCha20Rng::seed_from_u64(42))
        .unwrap();
    let answer = send(flow.command());
    flow.finish(answer.as_bytes()).unwrap();

    // Writing the factory key back is refused unless asked for by name.
    assert_eq!(
        yubikey::set_management_key_for(version, &factory, false).unwrap_err(),
        SetManagementKeyError::Weak(factory.audit().require_clean().unwrap_err())
    );
    let new_key = AdminKey::new(
        Algorithm::Aes256,
        &(0..32u8)
            .map(|i| i.wrapping_mul(83) ^ 0x3c)
            .collect::<Vec<_>>(),
    )
    .unwrap();
    let set = yubikey::set_management_key_for(version, &new_key, false).unwrap();
    yubikey::check_set_management_key(send(&set).as_bytes()).unwrap();
    let metadata =
        yubikey::ManagementKeyMetadata::parse(send(&yubikey::get_metadata()).as_bytes()).unwrap();
    assert_eq!(metadata.algorithm(), Algorithm::Aes256);

    let flow = piv::MutualAuth::new(&new_key);
    let answer = send(flow.command());
    let flow = flow
        .receive_witness(answer.as_bytes(), &mut ChaCha20Rng::seed_from_u64(43))
        .unwrap();
    let answer = send(flow.command());
    flow.finish(answer.as_bytes()).unwrap();

    // And the explicit override puts the factory key back.
    let reset = yubikey::set_management_key_allowing_weak(&factory, false);
    yubikey::check_set_management_key(send(&reset).as_bytes()).unwrap();
    let metadata =
        yubikey::ManagementKeyMetadata::parse(send(&yubikey::get_metadata()).as_bytes()).unwrap();
    assert!(metadata.is_default());
}
