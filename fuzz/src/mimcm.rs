//! The request facade's fuzz properties (`cardadmin-mimcm`): hostile request targets through
//! `handle_request`, and `parse_request` then `answer` against it.

use cardadmin::cm::CmError;
use cardadmin::{AdminKey, MasterKey, PinPolicy};
use cardadmin_mimcm as cm;

use super::base::*;

/// The facade's targets, by name, for the corpus replay.
pub const TARGETS: [(&str, Check); 2] = [
    ("cm_handle_request", cm_handle_request),
    ("cm_parse_request", cm_parse_request),
];

/// The request target of the `cm` targets: the input's first byte picks a prefix (none, or one
/// of the three routes with valid path GUIDs, so the query parser is reached) and is returned
/// too, its other bits for the caller's choices; the rest is the target text after the prefix.
fn hostile_target(data: &[u8]) -> Option<(u8, String)> {
    const PREFIXES: [&str; 4] = [
        "",
        "/CertificateManagement/api/v1.0/requests/a9b4b42c-cc50-4c9b-89d1-bbc0bcd5a099/smartcards/17cf063d-e337-4aa9-a822-346554ddd3c9/authenticationresponse?",
        "/certificatemanagement/API/V1.0/requests/a9b4b42c-cc50-4c9b-89d1-bbc0bcd5a099/smartcards/17cf063d-e337-4aa9-a822-346554ddd3c9/diversifiedkey?",
        "/CertificateManagement/api/v1.0/smartcards/C6BAD97C-F97F-4920-8947-BE980C98C6B5/serverproposedpin?",
    ];
    let (&selector, rest) = data.split_first()?;
    let prefix = PREFIXES[usize::from(selector % 4)];
    Some((
        selector,
        format!("{prefix}{}", String::from_utf8_lossy(rest)),
    ))
}

/// `cm::parse_request` then `cm::answer`, against `cm::handle_request` on the same target:
/// the parse error's reply is exactly the facade's; a parsed request's answer is exactly the
/// facade's (same generator, same seed); the audit record made before the answer equals the
/// one that comes with it (unless the generator failed to make a PIN), names a key role
/// exactly when a key answered, and the parsed GUIDs print as text that parses back to them.
pub fn cm_parse_request(data: &[u8]) {
    let Some((selector, target)) = hostile_target(data) else {
        return;
    };
    // 3DES keys, or AES-128 ones (bit 6); a master or none (bit 4).
    let (key, master) = if selector & 0x40 == 0 {
        (
            AdminKey::from_bytes([0; 24]),
            MasterKey::from_hex("00112233445566778899AABBCCDDEEFF0102030405060708")
                .expect("48 hex digits"),
        )
    } else {
        (
            AdminKey::new(cardadmin::Algorithm::Aes128, &[7; 16]).expect("a 16-byte AES key"),
            MasterKey::new(cardadmin::Algorithm::Aes128, &[9; 16]).expect("a 16-byte AES key"),
        )
    };
    let policy = PinPolicy::default();
    let with_master = selector & 0x10 == 0;
    let profile = cm::Profile::new(&key, with_master.then_some(&master), &policy)
        .expect("two different keys");
    let exhausted = if selector & 0x20 != 0 {
        Exhausted::Fail
    } else {
        Exhausted::Cycle
    };
    let seed = [0x5a_u8; 64];
    let whole = cm::handle_request(&profile, &target, &mut FuzzRng::new(&seed, exhausted));
    let parsed = match cm::parse_request(&target) {
        Ok(parsed) => parsed,
        Err(err) => {
            assert_eq!(whole, cm::Reply::from_error(err));
            let record = cm::AuditRecord::refused(None, err);
            assert_eq!((record.status(), record.key_role()), (err.status(), None));
            return;
        }
    };
    let before = parsed.audit(&profile);
    let (reply, after) = cm::answer(&parsed, &profile, &mut FuzzRng::new(&seed, exhausted));
    assert_eq!(reply, whole);
    assert_eq!(after.status(), reply.status());
    // Only a PIN the generator could not make (a 500, no key) differs from the forecast.
    if parsed.endpoint() == cm::Endpoint::ServerProposedPin && reply.status() == 500 {
        assert_eq!(before.status(), 200);
    } else {
        assert_eq!(before, after, "{target:?}");
    }
    // A key role exactly when a key made the 200.
    let keyed = reply.status() == 200 && parsed.endpoint() != cm::Endpoint::ServerProposedPin;
    assert_eq!(after.key_role().is_some(), keyed, "{target:?}");
    assert_eq!(after.key_check_value().is_some(), keyed);
    match after.key_role() {
        Some(cm::KeyRole::InitialKey) => {
            assert_eq!(after.key_check_value(), Some(key.check_value()));
            assert_eq!(parsed.diversified(), Some(false));
        }
        Some(cm::KeyRole::CardKey) => {
            assert!(with_master);
            assert_eq!(after.key_check_value(), Some(master.check_value()));
        }
        _ => {}
    }
    assert_eq!(after.endpoint(), Some(parsed.endpoint()));
    assert_eq!(after.card_id(), parsed.card_id());
    let scid = parsed.smart_card_id();
    assert_eq!(cm::Guid::parse(&scid.to_string()), Ok(scid));
    assert_eq!(
        parsed.request_id().is_none(),
        parsed.endpoint() == cm::Endpoint::ServerProposedPin
    );
    // The record shows no body (a key, a PIN) in its Debug.
    if reply.status() == 200 {
        let body = reply.body();
        let debug = format!("{after:?}");
        assert!(!debug.contains(&body[1..body.len() - 1]), "{debug}");
    }
}

/// `cm::handle_request` on hostile request targets. The input's first byte picks a prefix (none,
/// or one of the three routes with valid path GUIDs, so the query parser is reached), the rest
/// is the target text after it. Whatever the input: no panic, a status from the documented
/// set, a content type exactly when there is a body, an error body that is the error's own
/// JSON, the same answer twice for the deterministic routes, and a 200 only for a sound query.
pub fn cm_handle_request(data: &[u8]) {
    let Some((selector, target)) = hostile_target(data) else {
        return;
    };
    let key = AdminKey::from_bytes([0; 24]);
    let master = MasterKey::from_hex("00112233445566778899AABBCCDDEEFF0102030405060708").unwrap();
    let policy = PinPolicy::default();
    let diversify = selector & 0x10 == 0;
    let profile = cm::Profile::new(&key, diversify.then_some(&master), &policy).unwrap();
    // A generator that fails when selector bit 5 is set: the PIN route must answer 500.
    let exhausted = if selector & 0x20 != 0 {
        Exhausted::Fail
    } else {
        Exhausted::Cycle
    };
    let seed = [0x5a_u8; 64];
    let reply = cm::handle_request(&profile, &target, &mut FuzzRng::new(&seed, exhausted));

    let status = reply.status();
    assert!(
        [200, 204, 400, 404, 414, 500].contains(&status),
        "status {status} for {target:?}"
    );
    assert_eq!(reply.content_type().is_none(), status == 204);
    match reply.error() {
        Some(err) => {
            assert_eq!(err.status(), status);
            assert_eq!(reply.body(), cm::Reply::from_error(err).body());
            let message = err.to_string();
            assert!(!message.is_empty());
            assert!(!message.contains("challenge: challenge"), "{message}");
            assert!(
                reply.body().starts_with("{\"Message\":\""),
                "{}",
                reply.body()
            );
            assert!(reply.body().ends_with('}'));
            if let Some(parameter) = err.parameter() {
                assert!(message.starts_with(parameter), "{message}");
            }
            // Only a profile without a master says it has none, and never a key store failure.
            if err == cm::RequestError::Core(CmError::NoDiversificationKey) {
                assert!(!diversify, "{target:?}");
            }
            assert_ne!(err, cm::RequestError::Core(CmError::KeyStore));
        }
        None => {
            assert!(status == 200 || status == 204, "{status} without an error");
            if status == 200 {
                let body = reply.body();
                assert!(body.len() >= 2 && body.starts_with('"') && body.ends_with('"'));
            } else {
                assert!(reply.body().is_empty());
            }
        }
    }
    if target.len() > cm::MAX_TARGET_LEN {
        assert_eq!(status, 414);
    }
    if status == 200 {
        // A sound request never holds an encoded NUL before its fragment (which is dropped).
        let before_fragment = target.split('#').next().unwrap_or_default();
        assert!(!before_fragment.contains("%00"), "{target:?}");
        let body = reply.body();
        let inner = &body[1..body.len() - 1];
        match selector % 4 {
            1 => {
                assert!(reference_base64_block(inner).is_some(), "{body}");
                let again =
                    cm::handle_request(&profile, &target, &mut FuzzRng::new(&seed, exhausted));
                assert_eq!(again, reply);
            }
            2 => {
                assert_eq!(
                    reference_base64_decode(inner).map(|key| key.len()),
                    Some(24)
                );
                assert!(diversify);
            }
            3 => {
                assert_eq!(exhausted, Exhausted::Cycle);
                assert_eq!(policy.validate(inner), Ok(()));
            }
            _ => unreachable!("no route without a prefix ends in 200: {target:?}"),
        }
    }
}
