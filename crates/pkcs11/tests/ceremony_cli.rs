//! `cardadmin-ceremony` run as a user runs it (the built binary, SoftHSMv2 through the
//! harness's `SOFTHSM2_CONF`, components on standard input): help and version, options whose
//! values are never echoed, split knowledge (an all-zero component, equal components, an
//! unexpected combined check value: each refused before anything is written), the weak-key
//! sentences, what `generate` says about its key, the PIN file warning, a token not found.

mod common;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use cardadmin::{Algorithm, MasterKey};

const BIN: &str = env!("CARGO_BIN_EXE_cardadmin-ceremony");

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

/// One ceremony process at a time, and never while this process creates a token: SoftHSMv2
/// in the child reads the token directory the harness writes.
fn ceremony(args: &[&str], stdin: &str) -> Run {
    ceremony_with_env(args, stdin, &[])
}

/// [`ceremony`] with these variables added to its environment.
fn ceremony_with_env(args: &[&str], stdin: &str, env: &[(&str, &str)]) -> Run {
    let _one = common::token_lock();
    let mut child = Command::new(BIN)
        .args(args)
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run cardadmin-ceremony");
    // A ceremony that stops before reading (a refused option) closes its end: not an error.
    let _ = child.stdin.take().unwrap().write_all(stdin.as_bytes());
    let out = child.wait_with_output().unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// `--module M --token T --pin-file F` for the harness's SoftHSMv2.
fn common_args<'a>(hsm: &'a common::SoftHsm, token: &'a str) -> Vec<&'a str> {
    vec![
        "--module",
        hsm.path.to_str().unwrap(),
        "--token",
        token,
        "--pin-file",
        hsm.pin_file.to_str().unwrap(),
    ]
}

fn import(
    hsm: &common::SoftHsm,
    token: &str,
    label: &str,
    alg: &str,
    extra: &[&str],
    stdin: &str,
) -> Run {
    let n = stdin.matches("\ny\n").count().to_string();
    let mut args = import_args(hsm, token, label, alg, &n);
    args.extend(extra);
    ceremony(&args, stdin)
}

/// `import` on `token` with the harness's module and PIN file, for `components` custodians.
fn import_args<'a>(
    hsm: &'a common::SoftHsm,
    token: &'a str,
    label: &'a str,
    alg: &'a str,
    components: &'a str,
) -> Vec<&'a str> {
    let mut args = vec!["import"];
    args.extend(common_args(hsm, token));
    args.extend([
        "--label",
        label,
        "--algorithm",
        alg,
        "--components",
        components,
    ]);
    args
}

fn listed(hsm: &common::SoftHsm, token: &str, label: &str) -> bool {
    let mut args = vec!["list"];
    args.extend(common_args(hsm, token));
    let run = ceremony(&args, "");
    assert_eq!(run.code, 0, "{}", run.stderr);
    run.stdout
        .lines()
        .any(|line| line.split_whitespace().next() == Some(label))
}

#[test]
fn help_and_version_print_on_stdout_and_exit_0() {
    for args in [
        &["--help"][..],
        &["-h"],
        &["generate", "--help"],
        &["import", "-h"],
        &["list", "--help"],
        &["--version"],
        &["import", "--version"],
    ] {
        let run = ceremony(args, "");
        assert_eq!(run.code, 0, "{args:?}: {}", run.stderr);
        assert!(run.stderr.is_empty(), "{args:?}: {}", run.stderr);
        assert!(!run.stdout.is_empty(), "{args:?}");
    }
    let run = ceremony(&["--version"], "");
    assert_eq!(
        run.stdout.trim(),
        format!("cardadmin-ceremony {}", env!("CARGO_PKG_VERSION"))
    );
    assert!(ceremony(&["--help"], "")
        .stdout
        .contains("cardadmin-ceremony import"));
    let import = ceremony(&["import", "--help"], "").stdout;
    assert!(import.contains("--expect-check-value HEX"), "{import}");
    let generate = ceremony(&["generate", "--help"], "").stdout;
    assert!(generate.contains("can never leave the token"), "{generate}");
}

#[test]
fn an_unknown_option_is_named_and_its_value_never_echoed() {
    for (args, name, secret) in [
        (&["list", "--pin=123456"][..], "--pin", "123456"),
        (
            &["list", "--secret=9f8e7d6c"],
            "unknown option --secret",
            "9f8e7d6c",
        ),
        (&["import", "-k0123abcd"], "unknown option -k", "0123abcd"),
        (&["--key=00112233"], "unknown option --key", "00112233"),
        (
            &["list", "deadbeefcafe"],
            "unexpected argument",
            "deadbeefcafe",
        ),
        (
            &["0123456789abcdef0123"],
            "unknown command",
            "0123456789abcdef0123",
        ),
    ] {
        let run = ceremony(args, "");
        assert_eq!(run.code, 2, "{args:?}");
        assert!(run.stderr.contains(name), "{args:?}: {}", run.stderr);
        assert!(
            !run.stderr.contains(secret),
            "{args:?} echoed: {}",
            run.stderr
        );
        assert!(
            !run.stdout.contains(secret),
            "{args:?} echoed: {}",
            run.stdout
        );
    }
}

#[test]
fn an_all_zero_component_is_refused_before_anything_is_written() {
    let Some(hsm) = common::softhsm() else { return };
    common::new_token(hsm, "cli-zero");
    let other = "0123456789abcdeffedcba987654321089abcdef01234567";
    for (label, alg, zero) in [
        ("zero-aes", "aes128", "00000000000000000000000000000000"),
        // DES ignores the parity bits: 01 bytes are zero too.
        (
            "zero-tdes",
            "tdes",
            "010101010101010101010101010101010101010101010101",
        ),
    ] {
        let second = if alg == "tdes" { other } else { &other[..32] };
        let run = import(
            hsm,
            "cli-zero",
            label,
            alg,
            &[],
            &format!("{second}\ny\n{zero}\ny\n"),
        );
        assert_ne!(run.code, 0);
        assert!(
            run.stderr.contains(
                "component 2 is all zeros (parity bits ignored): it adds nothing to the master"
            ),
            "{label}: {}",
            run.stderr
        );
        assert!(
            !run.stdout.contains("component 2: KCV"),
            "asked to confirm: {}",
            run.stdout
        );
        assert!(!listed(hsm, "cli-zero", label));
    }
}

#[test]
fn equal_components_are_refused_with_two_or_three() {
    let Some(hsm) = common::softhsm() else { return };
    common::new_token(hsm, "cli-equal");
    let a = "000102030405060708090a0b0c0d0e0f";
    let b = "f0e1d2c3b4a5968778695a4b3c2d1e0f";
    let cases = [
        (
            "equal-2",
            format!("{a}\ny\n{}\ny\n", a.to_uppercase()),
            "components 1 and 2 are equal",
        ),
        // With three, two equal ones cancel and the master is the third custodian's.
        (
            "equal-3",
            format!("{a}\ny\n{b}\ny\n{a}\ny\n"),
            "components 1 and 3 are equal",
        ),
    ];
    for (label, input, message) in cases {
        let run = import(hsm, "cli-equal", label, "aes128", &[], &input);
        assert_ne!(run.code, 0);
        assert!(run.stderr.contains(message), "{label}: {}", run.stderr);
        assert!(run.stderr.contains("nothing was written"), "{}", run.stderr);
        assert!(!listed(hsm, "cli-equal", label));
    }
}

#[test]
fn expect_check_value_refuses_another_combined_key_before_writing() {
    let Some(hsm) = common::softhsm() else { return };
    common::new_token(hsm, "cli-expect");
    let a = "000102030405060708090a0b0c0d0e0f";
    let b = "f0e1d2c3b4a5968778695a4b3c2d1e0f";
    let master: Vec<u8> = hex::decode(a)
        .unwrap()
        .iter()
        .zip(hex::decode(b).unwrap())
        .map(|(x, y)| x ^ y)
        .collect();
    let right = MasterKey::new(Algorithm::Aes128, &master)
        .unwrap()
        .check_value()
        .to_string();
    let wrong = if right == "ABCDEF" {
        "ABCDEE"
    } else {
        "ABCDEF"
    };
    let input = format!("{a}\ny\n{b}\ny\n");
    let run = import(
        hsm,
        "cli-expect",
        "expect-wrong",
        "aes128",
        &["--expect-check-value", wrong],
        &input,
    );
    assert_ne!(run.code, 0);
    assert!(
        run.stderr.contains(&format!(
            "the combined key's check value is {right}, not {wrong} as --expect-check-value says; nothing was written"
        )),
        "{}",
        run.stderr
    );
    assert!(!listed(hsm, "cli-expect", "expect-wrong"));
    let lower = right.to_lowercase();
    let run = import(
        hsm,
        "cli-expect",
        "expect-right",
        "aes128",
        &["--expect-check-value", &lower],
        &input,
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout
            .contains(&format!("from 2 components: check value {right} ")),
        "{}",
        run.stdout
    );
    assert!(listed(hsm, "cli-expect", "expect-right"));
    // Not a check value: refused before the token is touched, the text not repeated.
    let run = import(
        hsm,
        "cli-expect",
        "expect-bad",
        "aes128",
        &["--expect-check-value", "12345G"],
        &input,
    );
    assert_eq!(run.code, 2);
    assert!(
        run.stderr
            .contains("--expect-check-value: a check value is 6 hex digits"),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("12345G"), "{}", run.stderr);
}

#[test]
fn piped_components_say_dual_control_is_not_enforced() {
    let Some(hsm) = common::softhsm() else { return };
    common::new_token(hsm, "cli-piped");
    let input = "000102030405060708090a0b0c0d0e0f\ny\n2b7e151628aed2a6abf7158809cf4f3c\ny\n";
    let run = import(hsm, "cli-piped", "piped", "aes128", &[], input);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr.contains(
            "warning: standard input is not a terminal: dual control is not being enforced"
        ),
        "{}",
        run.stderr
    );
}

#[test]
fn a_weak_combined_key_is_refused_with_the_audit_sentences() {
    let Some(hsm) = common::softhsm() else { return };
    common::new_token(hsm, "cli-weak");
    // The components XOR to K1 || K1 || K3 (odd parity): single DES under K3.
    let a = "0123456789abcdeffedcba987654321089abcdef01234567";
    let weak = "1a2b3c4d5e6f70811a2b3c4d5e6f708192a3b4c5d6e7f809";
    let b: String = hex::encode(
        hex::decode(a)
            .unwrap()
            .iter()
            .zip(hex::decode(weak).unwrap())
            .map(|(x, y)| x ^ y)
            .collect::<Vec<u8>>(),
    );
    let run = import(
        hsm,
        "cli-weak",
        "weak",
        "tdes",
        &[],
        &format!("{a}\ny\n{b}\ny\n"),
    );
    assert_ne!(run.code, 0);
    assert!(
        run.stderr.contains("the combined key is weak or well known: K1 equals K2: the key degenerates to single DES"),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("K1EqualsK2"), "{}", run.stderr);
    assert!(!listed(hsm, "cli-weak", "weak"));
}

#[test]
fn a_component_error_speaks_of_a_component() {
    let Some(hsm) = common::softhsm() else { return };
    common::new_token(hsm, "cli-short");
    let run = import(
        hsm,
        "cli-short",
        "short",
        "aes128",
        &[],
        "0011\ny\n0011\ny\n",
    );
    assert_ne!(run.code, 0);
    assert!(
        run.stderr.contains(
            "component 1: must be 32 hex digits (spaces and dashes between groups allowed), got 4"
        ),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("admin key"), "{}", run.stderr);
}

#[test]
fn generate_says_the_master_can_never_leave_the_token() {
    let Some(hsm) = common::softhsm() else { return };
    common::new_token(hsm, "cli-generate");
    let mut args = vec!["generate"];
    args.extend(common_args(hsm, "cli-generate"));
    args.extend(["--label", "generated", "--algorithm", "tdes"]);
    let run = ceremony(&args, "");
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.contains("can never leave it"), "{}", run.stdout);
    assert!(
        run.stdout
            .contains("losing or re-initializing the token loses every card key"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("cardadmin-ceremony import"),
        "{}",
        run.stdout
    );
    assert!(
        run.stderr.is_empty(),
        "the token took every attribute: {}",
        run.stderr
    );
}

#[cfg(unix)]
#[test]
fn a_pin_file_readable_by_others_gets_a_warning() {
    use std::os::unix::fs::PermissionsExt;
    let Some(hsm) = common::softhsm() else { return };
    common::new_token(hsm, "cli-pin-file");
    let dir = hsm.pin_file.parent().unwrap();
    for (name, mode, warned) in [
        (
            "group.pin",
            0o640,
            Some("readable by its group (mode 0640)"),
        ),
        (
            "world.pin",
            0o644,
            Some("readable by its group and others (mode 0644)"),
        ),
        ("owner.pin", 0o600, None),
    ] {
        let file = dir.join(name);
        std::fs::write(&file, common::USER_PIN).unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(mode)).unwrap();
        let args = [
            "list",
            "--module",
            hsm.path.to_str().unwrap(),
            "--token",
            "cli-pin-file",
            "--pin-file",
            file.to_str().unwrap(),
        ];
        let run = ceremony(&args, "");
        assert_eq!(run.code, 0, "{name}: {}", run.stderr);
        match warned {
            Some(text) => {
                assert!(
                    run.stderr.contains("warning: the token PIN file"),
                    "{name}: {}",
                    run.stderr
                );
                assert!(run.stderr.contains(text), "{name}: {}", run.stderr);
                assert!(
                    run.stderr
                        .contains(&format!("chmod 600 {}", file.display())),
                    "{}",
                    run.stderr
                );
            }
            None => assert!(run.stderr.is_empty(), "{name}: {}", run.stderr),
        }
        assert!(!run.stderr.contains(common::USER_PIN));
    }
}

#[test]
fn a_token_not_found_names_softhsm2_conf() {
    let Some(hsm) = common::softhsm() else { return };
    let mut args = vec!["list"];
    args.extend(common_args(hsm, "cli-no-such-token"));
    let run = ceremony(&args, "");
    assert_ne!(run.code, 0);
    assert!(
        run.stderr
            .contains("PKCS#11 token \"cli-no-such-token\" not found"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("SOFTHSM2_CONF names"), "{}", run.stderr);
    // And without SOFTHSM2_CONF, it says it is not set.
    let run = {
        let _one = common::token_lock();
        Command::new(BIN)
            .args(&args)
            .env_remove("SOFTHSM2_CONF")
            .output()
            .unwrap()
    };
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(stderr.contains("SOFTHSM2_CONF is not set"), "{stderr}");
    let _ = Path::new(BIN);
}

#[test]
fn an_unknown_command_is_named_only_when_it_looks_like_a_command() {
    // Up to 16 lowercase letters and dashes: a mistyped command, repeated to help.
    for typed in ["lst", "gen-key", "abcdefghijklmnop"] {
        let run = ceremony(&[typed], "");
        assert_eq!(run.code, 2, "{typed}");
        assert!(
            run.stderr.contains(&format!(
                "unknown command {typed:?}: expected generate, import or list"
            )),
            "{typed}: {}",
            run.stderr
        );
    }
    // Anything else (a PIN or a key typed first, a longer word) is not repeated.
    for typed in ["246810", "Secret", "abcdefghijklmnopq", "s3cret"] {
        let run = ceremony(&[typed], "");
        assert_eq!(run.code, 2, "{typed}");
        assert!(
            run.stderr
                .contains("unknown command: expected generate, import or list"),
            "{typed}: {}",
            run.stderr
        );
        assert!(
            !run.stderr.contains(typed),
            "{typed} echoed: {}",
            run.stderr
        );
    }
}

#[test]
fn an_option_before_the_command_is_named_without_its_value() {
    for (args, message) in [
        (
            &["--key=00112233"][..],
            "unknown option --key; a command comes first",
        ),
        (
            &["--label=master"],
            "unknown option --label; a command comes first",
        ),
        (&["-k0123abcd"], "unknown option -k; a command comes first"),
    ] {
        let run = ceremony(args, "");
        assert_eq!(run.code, 2, "{args:?}");
        assert!(run.stderr.contains(message), "{args:?}: {}", run.stderr);
    }
}

#[test]
fn a_missing_option_names_the_command_that_needs_it() {
    for (args, message) in [
        (
            &["generate", "--module", "m.so", "--token", "t"][..],
            "generate: --label is required",
        ),
        (
            &["import", "--module", "m.so", "--token", "t", "--label", "k"],
            "import: --algorithm is required",
        ),
        (
            &["list", "--module", "m.so", "--token", "t", "extra"],
            "list: unexpected argument (every value follows its option)",
        ),
    ] {
        let run = ceremony(args, "");
        assert_eq!(run.code, 2, "{args:?}");
        assert!(run.stderr.contains(message), "{args:?}: {}", run.stderr);
    }
}

#[test]
fn a_pin_on_the_command_line_is_refused_saying_why() {
    for args in [&["list", "--pin", "123456"][..], &["list", "--pin=123456"]] {
        let run = ceremony(args, "");
        assert_eq!(run.code, 2, "{args:?}");
        assert!(
            run.stderr.contains(
                "--pin: a PIN on the command line is visible to every user of the machine; use --pin-env or --pin-file"
            ),
            "{args:?}: {}",
            run.stderr
        );
        assert!(!run.stderr.contains("123456"), "{}", run.stderr);
    }
}

#[test]
fn a_short_option_takes_no_value_after_an_equals_sign() {
    // `-h=1` is not `-h`: only long options have the `--name=value` form.
    for (args, message) in [
        (&["list", "-h=1"][..], "unknown option -h"),
        (&["list", "-V=1"], "unknown option -V"),
    ] {
        let run = ceremony(args, "");
        assert_eq!(run.code, 2, "{args:?}: {}", run.stdout);
        assert!(run.stderr.contains(message), "{args:?}: {}", run.stderr);
        assert!(run.stdout.is_empty(), "{args:?}: {}", run.stdout);
    }
}

#[test]
fn long_options_take_their_value_after_an_equals_sign() {
    let Some(hsm) = common::softhsm() else { return };
    common::new_token(hsm, "cli-equals");
    let module = format!("--module={}", hsm.path.display());
    let pin_file = format!("--pin-file={}", hsm.pin_file.display());
    let run = ceremony(&["list", &module, "--token=cli-equals", &pin_file], "");
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.starts_with("label "), "{}", run.stdout);
}

#[test]
fn the_pin_can_come_from_the_variable_pin_env_names() {
    let Some(hsm) = common::softhsm() else { return };
    common::new_token(hsm, "cli-pin-env");
    let args = [
        "list",
        "--module",
        hsm.path.to_str().unwrap(),
        "--token",
        "cli-pin-env",
        "--pin-env",
        "CLI_TEST_TOKEN_PIN",
    ];
    let run = ceremony_with_env(&args, "", &[("CLI_TEST_TOKEN_PIN", common::USER_PIN)]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.starts_with("label "), "{}", run.stdout);
    // Not set: named, nothing else tried.
    let run = ceremony_with_env(&args, "", &[]);
    assert_ne!(run.code, 0);
    assert!(run.stderr.contains("CLI_TEST_TOKEN_PIN"), "{}", run.stderr);
}

#[test]
fn input_ending_before_every_component_is_named() {
    let Some(hsm) = common::softhsm() else { return };
    common::new_token(hsm, "cli-short-input");
    let args = import_args(hsm, "cli-short-input", "short-input", "aes128", "2");
    let run = ceremony(&args, "000102030405060708090a0b0c0d0e0f\ny\n");
    assert_ne!(run.code, 0);
    assert!(
        run.stderr
            .contains("standard input ended before every component was given"),
        "{}",
        run.stderr
    );
    assert!(!listed(hsm, "cli-short-input", "short-input"));
}

#[test]
fn a_last_answer_without_a_line_break_counts() {
    let Some(hsm) = common::softhsm() else { return };
    common::new_token(hsm, "cli-no-newline");
    let args = import_args(hsm, "cli-no-newline", "no-newline", "aes128", "2");
    let input = "000102030405060708090a0b0c0d0e0f\ny\n2b7e151628aed2a6abf7158809cf4f3c\ny";
    let run = ceremony(&args, input);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(listed(hsm, "cli-no-newline", "no-newline"));
}

#[test]
fn lines_ending_in_cr_lf_are_read_as_lines() {
    let Some(hsm) = common::softhsm() else { return };
    common::new_token(hsm, "cli-crlf");
    let input =
        "000102030405060708090a0b0c0d0e0f\r\ny\r\n2b7e151628aed2a6abf7158809cf4f3c\r\nY\r\n";
    let args = import_args(hsm, "cli-crlf", "crlf", "aes128", "2");
    let run = ceremony(&args, input);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(listed(hsm, "cli-crlf", "crlf"));
}

#[test]
fn an_empty_answer_does_not_confirm() {
    let Some(hsm) = common::softhsm() else { return };
    common::new_token(hsm, "cli-empty-answer");
    let args = import_args(hsm, "cli-empty-answer", "empty-answer", "aes128", "2");
    let run = ceremony(&args, "000102030405060708090a0b0c0d0e0f\n\n");
    assert_ne!(run.code, 0);
    assert!(
        run.stderr
            .contains("custodian 1 did not confirm the check value; nothing was written"),
        "{}",
        run.stderr
    );
    assert!(!listed(hsm, "cli-empty-answer", "empty-answer"));
}

#[test]
fn a_piped_transcript_has_each_prompt_and_answer_on_its_line() {
    let Some(hsm) = common::softhsm() else { return };
    common::new_token(hsm, "cli-transcript");
    let input = "000102030405060708090a0b0c0d0e0f\ny\n2b7e151628aed2a6abf7158809cf4f3c\nyes\n";
    let args = import_args(hsm, "cli-transcript", "transcript", "aes128", "2");
    let run = ceremony(&args, input);
    assert_eq!(run.code, 0, "{}", run.stderr);
    // Standard error: each custodian's prompt ends its line.
    for index in [1, 2] {
        let prompt = format!("custodian {index} of 2: component (32 hex digits, not shown): ");
        assert!(
            run.stderr.lines().any(|line| line == prompt),
            "{prompt:?} not a line of its own: {}",
            run.stderr
        );
    }
    // Standard output: each answer follows its question, as typed.
    for (index, answer) in [(1, "y"), (2, "yes")] {
        let line =
            format!("custodian {index}: does a check value above match your form? [y/N] {answer}");
        assert!(
            run.stdout.lines().any(|l| l == line),
            "{line:?} not in: {}",
            run.stdout
        );
    }
}

/// On a terminal the components are read without echo; the terminal gets its echo back when
/// the ceremony stops, here at a refused component.
#[cfg(target_os = "linux")]
#[test]
fn a_terminal_gets_its_echo_back_when_the_ceremony_stops() {
    use rustix::pty::{grantpt, ioctl_tiocgptpeer, openpt, unlockpt, OpenptFlags};
    use rustix::termios::{tcgetattr, LocalModes};
    let Some(hsm) = common::softhsm() else { return };
    common::new_token(hsm, "cli-terminal");
    let pty = openpt(OpenptFlags::RDWR | OpenptFlags::NOCTTY).expect("a pseudo-terminal");
    grantpt(&pty).unwrap();
    unlockpt(&pty).unwrap();
    let terminal = std::fs::File::from(
        ioctl_tiocgptpeer(&pty, OpenptFlags::RDWR | OpenptFlags::NOCTTY).expect("its terminal"),
    );
    let echo = |terminal: &std::fs::File| {
        tcgetattr(terminal)
            .unwrap()
            .local_modes
            .contains(LocalModes::ECHO)
    };
    assert!(echo(&terminal), "a new terminal echoes");
    let args = import_args(hsm, "cli-terminal", "terminal", "aes128", "2");
    let out = {
        let _one = common::token_lock();
        let child = Command::new(BIN)
            .args(&args)
            .stdin(Stdio::from(terminal.try_clone().unwrap()))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run cardadmin-ceremony");
        // Typed ahead: the terminal keeps the line until the ceremony reads it.
        rustix::io::write(&pty, b"00000000000000000000000000000000\n").unwrap();
        // A ceremony that took the component waits for the next answer from the terminal,
        // which never comes: stopped, not waited for.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        let mut child = child;
        while child.try_wait().unwrap().is_none() {
            if std::time::Instant::now() > deadline {
                let _ = child.kill();
                let out = child.wait_with_output().unwrap();
                panic!(
                    "the ceremony still waited for input 60 s after a zero component: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        child.wait_with_output().unwrap()
    };
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_ne!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("component 1 is all zeros"), "{stderr}");
    assert!(
        !stderr.contains("dual control is not being enforced"),
        "not taken for a terminal: {stderr}"
    );
    assert!(echo(&terminal), "the ceremony left the terminal's echo off");
}
