//! The command line (issue #22 item 6): `--help`/`-h` on the server and on every subcommand
//! print usage on stdout and exit 0, `--version` prints the version, the usage names where the
//! configuration fields are documented, and that document describes every field.

mod common;

use common::*;

const HELP_FORMS: [&[&str]; 13] = [
    &["--help"],
    &["-h"],
    &["--config", "x.json", "--help"],
    &["requests", "--help"],
    &["requests", "add", "--help"],
    &["requests", "close", "-h"],
    &["requests", "list", "--help"],
    &["requests", "list", "--config", "x.json", "--help"],
    &["verify-audit", "--help"],
    &["verify-audit", "-h"],
    &["--listen", "127.0.0.1:1", "-h"],
    &["keys", "--help"],
    &["keys", "--config", "x.json", "-h"],
];

#[test]
fn help_prints_usage_on_stdout_and_exits_0_for_every_command() {
    // In a directory holding a file called `--help`, so that reading it as an audit log (what
    // `verify-audit --help` did) would not fail for want of the file.
    let dir = temp_dir();
    std::fs::write(dir.path().join("--help"), "{}\n").unwrap();
    for args in HELP_FORMS {
        let output = std::process::Command::new(binary())
            .args(args)
            .current_dir(dir.path())
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert_eq!(output.status.code(), Some(0), "{args:?}: {output:?}");
        assert!(
            stdout.starts_with("usage: cardadmin-server")
                || stdout.contains("\nusage: cardadmin-server"),
            "{args:?}: {stdout}"
        );
        assert!(output.stderr.is_empty(), "{args:?}: {output:?}");
    }
}

#[test]
fn version_prints_the_package_version() {
    for flag in ["--version", "-V"] {
        let output = run(&[flag]);
        assert_eq!(output.status.code(), Some(0));
        assert_eq!(
            String::from_utf8_lossy(&output.stdout),
            format!("cardadmin-server {}\n", env!("CARGO_PKG_VERSION"))
        );
    }
}

#[test]
fn bad_arguments_exit_2_with_a_message_on_stderr() {
    for args in [
        &["--bogus"][..],
        &["--listen", "127.0.0.1:1"],
        &["--config"],
        &["requests", "add", "--bogus", "x"],
        &["verify-audit"],
        &["verify-audit", "a", "b"],
    ] {
        let output = run(args);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {output:?}");
        assert!(output.stdout.is_empty(), "{args:?}");
        assert!(!output.stderr.is_empty(), "{args:?}");
    }
    // A path that starts with '-' after `--`.
    let output = run(&["verify-audit", "--", "-missing.jsonl"]);
    assert_eq!(output.status.code(), Some(1), "{output:?}");
}

/// The configuration's fields, each as the README must name it.
const FIELDS: [&str; 23] = [
    "initial_admin_key",
    "diversification_key",
    "algorithm",
    "key",
    "pkcs11",
    "module",
    "token",
    "label",
    "pin_env",
    "pin_file",
    "sessions",
    "pin_policy",
    "tls",
    "client_ca",
    "crl",
    "registry",
    "audit_log",
    "rate_limit_per_minute",
    "max_connections",
    "header_read_timeout_seconds",
    "profile_template_id",
    "diversification_key_version",
    "previous_diversification_keys",
];

#[test]
fn the_usage_names_the_readme_and_the_readme_describes_every_field() {
    let output = run(&["--help"]);
    let usage = String::from_utf8_lossy(&output.stdout);
    let line = usage
        .lines()
        .find(|line| line.starts_with("Configuration fields:"))
        .unwrap_or_else(|| panic!("no line about the configuration fields: {usage}"));
    assert!(line.contains("apps/server/README.md"), "{line}");
    assert!(
        usage.contains("stdout") && usage.contains("stderr"),
        "{usage}"
    );
    let readme =
        std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md"))
            .unwrap();
    for field in FIELDS.iter().chain(&["cert"]) {
        assert!(
            readme.contains(&format!("`\"{field}\"")),
            "apps/server/README.md does not describe \"{field}\""
        );
    }
    assert!(readme.contains("stdout") && readme.contains("stderr"));
}
