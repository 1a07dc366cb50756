//! What the server decides at start-up (issue #24): a weak or published master is refused
//! with `"tls"` (a deployment) and warned about on plain loopback HTTP (a demonstration); the
//! initial key keeps its warning in both; a configuration holding key bytes that group or
//! others can read is warned about; a key typed as a JSON number is refused without being
//! shown; the connection limits are checked.

mod common;

use common::*;
use serde_json::{json, Value};

/// An initial admin key with no audit finding.
const CLEAN_INITIAL: &str = "0123456789abcdef23456789abcdef01456789abcdef0123";

/// Masters with an audit finding, and the finding's words.
fn weak_masters() -> Vec<(Value, &'static str)> {
    vec![
        (
            json!("0123456789ABCDEF0123456789ABCDEF3C5A1E7F29D48B06"),
            "K1 equals K2",
        ),
        (
            json!("3C5A1E7F29D48B060123456789ABCDEF0123456789ABCDEF"),
            "K2 equals K3",
        ),
        (json!("0".repeat(48)), "all zeros"),
        (
            json!("010203040506070801020304050607080102030405060708"),
            "minidriver default",
        ),
        (
            json!("DA20D81B7D17734F8166BE8BAC0EC94DD8E793D74ACEC8B7"),
            "example master key published",
        ),
        (
            json!({"algorithm": "aes128", "key": "00000000000000000000000000000000"}),
            "all zeros",
        ),
    ]
}

#[test]
fn a_weak_or_published_master_is_refused_with_tls() {
    let dir = temp_dir();
    let pki = Pki::new(dir.path(), "ca");
    for (master, finding) in weak_masters() {
        let config = json!({
            "initial_admin_key": CLEAN_INITIAL,
            "diversification_key": master,
            "tls": pki.tls_config(),
        });
        let (code, stderr) = refused(&config, "127.0.0.1:0");
        assert_eq!(code, 1, "{master}: {stderr}");
        assert!(
            stderr.contains("error: the diversification key (check value ")
                && stderr.contains("is weak or well known")
                && stderr.contains(finding)
                && stderr.contains("with \"tls\" the server is a deployment"),
            "{master}: {stderr}"
        );
        // The refusal names the key by check value only.
        for part in ["3C5A1E7F", "3c5a1e7f", "DA20D81B", "da20d81b"] {
            assert!(!stderr.contains(part), "{stderr}");
        }
    }
}

#[test]
fn a_weak_or_published_master_is_served_with_a_warning_on_loopback_http() {
    for (master, finding) in weak_masters() {
        let mut server = Server::start(&json!({
            "initial_admin_key": CLEAN_INITIAL,
            "diversification_key": master,
        }));
        server.stop();
        let stderr = server.stderr();
        assert!(
            stderr.contains("warning: the diversification key (check value ")
                && stderr.contains(finding),
            "{master}: {stderr}"
        );
    }
}

#[test]
fn a_clean_master_with_tls_starts_and_the_weak_initial_key_is_still_warned_about() {
    let dir = temp_dir();
    let pki = Pki::new(dir.path(), "ca");
    let mut server = Server::start_in(
        dir.path(),
        &json!({
            "initial_admin_key": ZERO_KEY,
            "diversification_key": TEST_MASTER,
            "tls": pki.tls_config(),
        }),
    );
    let alice = pki.issue("alice");
    let got = server
        .get_with_cert(&pki, &alice, &documented_target(REQ))
        .unwrap();
    assert_eq!((got.status, got.text().as_str()), (200, DOCUMENTED));
    server.stop();
    let stderr = server.stderr();
    assert!(
        stderr
            .contains("warning: the initial admin key (check value 8CA64D) is weak or well known"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("warning: the diversification key"),
        "{stderr}"
    );
}

#[test]
fn a_configuration_with_key_bytes_readable_by_others_is_warned_about() {
    let dir = temp_dir();
    let warning = "holds key bytes";
    let with_master = json!({"initial_admin_key": ZERO_KEY, "diversification_key": TEST_MASTER});
    let clean_initial = json!({"initial_admin_key": CLEAN_INITIAL});
    let published_initial_only = json!({"initial_admin_key": ZERO_KEY});
    for (name, config, mode, warned) in [
        (
            "a master, 0644",
            &with_master,
            0o644,
            Some("(diversification_key)"),
        ),
        (
            "a master, 0640",
            &with_master,
            0o640,
            Some("(diversification_key)"),
        ),
        (
            "a master, 0604",
            &with_master,
            0o604,
            Some("(diversification_key)"),
        ),
        ("a master, 0600", &with_master, 0o600, None),
        (
            "a clean initial key, 0644",
            &clean_initial,
            0o644,
            Some("(initial_admin_key)"),
        ),
        (
            "the all-zero initial key only, 0644",
            &published_initial_only,
            0o644,
            None,
        ),
    ] {
        let path = write_config(dir.path(), "config.json", config);
        set_mode(&path, mode);
        let mut server = Server::launch(Launch::new(path.clone())).unwrap();
        server.stop();
        let stderr = server.stderr();
        match warned {
            Some(which) => {
                let line = stderr
                    .lines()
                    .find(|line| line.contains(warning))
                    .unwrap_or_else(|| panic!("{name}: no warning: {stderr}"));
                assert!(line.starts_with("warning: "), "{line}");
                assert!(line.contains(which), "{name}: {line}");
                assert!(line.contains("readable by group or others"), "{line}");
                assert!(
                    line.contains(&format!("chmod 600 {}", path.display())),
                    "{line}"
                );
            }
            None => assert!(!stderr.contains(warning), "{name}: {stderr}"),
        }
    }
}

/// A key typed as a JSON number (easy to do with an all-digit key) is refused, and neither the
/// number nor a part of it is in the message.
#[test]
fn a_key_given_as_a_json_number_is_not_echoed() {
    let digits = "123456789012345678901234567890123456789012345678";
    let aes_digits = "98765432109876543210";
    let cases = [
        format!(r#"{{"initial_admin_key": "{ZERO_KEY}", "diversification_key": {digits}}}"#),
        format!(
            r#"{{"initial_admin_key": "{ZERO_KEY}", "diversification_key": 1234567890123456}}"#
        ),
        format!(
            r#"{{"initial_admin_key": "{ZERO_KEY}", "diversification_key": -1234567890123456}}"#
        ),
        format!(
            r#"{{"initial_admin_key": "{ZERO_KEY}", "diversification_key": {{"algorithm": "aes128", "key": {aes_digits}}}}}"#
        ),
        format!(
            r#"{{"initial_admin_key": "{ZERO_KEY}", "diversification_key": {{"algorithm": "tdes", "key": {digits}}}}}"#
        ),
        format!(r#"{{"initial_admin_key": {digits}}}"#),
        format!(r#"{{"initial_admin_key": {{"algorithm": "aes128", "key": {aes_digits}}}}}"#),
    ];
    let dir = temp_dir();
    for (index, text) in cases.iter().enumerate() {
        let path = dir.path().join(format!("number-{index}.json"));
        std::fs::write(&path, text).unwrap();
        let (code, stderr) = refused_file(&path, "127.0.0.1:0");
        assert_eq!(code, 1, "{text}: {stderr}");
        for shown in ["2345678", "1.23456", "1.2345", "9876543", "e47", "e19"] {
            assert!(!stderr.contains(shown), "{text}: {stderr}");
        }
        assert!(stderr.contains("key"), "{stderr}");
    }
}

#[test]
fn connection_limits_out_of_range_are_refused() {
    for (field, value) in [
        ("max_connections", 0),
        ("header_read_timeout_seconds", 0),
        ("header_read_timeout_seconds", 86_400),
    ] {
        let mut config = json!({"initial_admin_key": ZERO_KEY});
        config[field] = json!(value);
        let (code, stderr) = refused(&config, "127.0.0.1:0");
        assert_eq!(code, 1);
        assert!(
            stderr.contains(&format!("\"{field}\": {value} is out of range")),
            "{stderr}"
        );
    }
}
