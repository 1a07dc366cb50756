//! TLS identity (issue #24 item 10): `"crl"` in the `tls` object, one path or an array, PEM or
//! DER; a revoked operator certificate fails the handshake; with CRLs, an operator whose CA
//! has none is refused too; a file that is not a CRL stops start-up.

mod common;

use std::path::PathBuf;

use common::*;
use serde_json::{json, Value};

fn config(pki: &Pki, client_ca: &PathBuf, crl: Value) -> Value {
    let mut tls = pki.tls_config();
    tls["client_ca"] = json!(client_ca);
    tls["crl"] = crl;
    json!({"initial_admin_key": ZERO_KEY, "tls": tls})
}

#[test]
fn a_revoked_operator_certificate_is_refused_at_the_handshake() {
    let dir = temp_dir();
    let pki = Pki::new(dir.path(), "ca");
    let alice = pki.issue("alice");
    let bob = pki.issue("bob");
    let (pem, _) = pki.crl(&[&bob]);
    let crl = dir.path().join("ca.crl.pem");
    std::fs::write(&crl, pem).unwrap();
    let mut server = Server::start_in(dir.path(), &config(&pki, &pki.ca_path, json!(crl)));
    let got = server
        .get_with_cert(&pki, &alice, &documented_target(REQ))
        .unwrap();
    assert_eq!((got.status, got.text().as_str()), (200, DOCUMENTED));
    let refused = server.get_with_cert(&pki, &bob, &documented_target(REQ));
    assert!(
        refused.is_err(),
        "bob's revoked certificate got {refused:?}"
    );
    // A certificate for bob issued after the revocation is another certificate: accepted.
    let new_bob = pki.issue("bob");
    let got = server
        .get_with_cert(&pki, &new_bob, &documented_target(REQ))
        .unwrap();
    assert_eq!(got.status, 200);
    server.stop();
    assert!(
        server.stderr().contains("tls: handshake with 127.0.0.1:")
            && server.stderr().to_lowercase().contains("revoked"),
        "{}",
        server.stderr()
    );
}

/// Two CAs in `client_ca`, their CRLs as an array: one PEM file, one DER file.
#[test]
fn crls_as_der_and_as_an_array_of_files() {
    let dir = temp_dir();
    let one = Pki::new(dir.path(), "one");
    let two = Pki::new(dir.path(), "two");
    let both = dir.path().join("both-cas.pem");
    std::fs::write(
        &both,
        std::fs::read_to_string(&one.ca_path).unwrap()
            + &std::fs::read_to_string(&two.ca_path).unwrap(),
    )
    .unwrap();
    let alice = one.issue("alice");
    let carol = two.issue("carol");
    let dave = two.issue("dave");
    let (pem, _) = one.crl(&[]);
    let (_, der) = two.crl(&[&dave]);
    let pem_path = dir.path().join("one.crl.pem");
    let der_path = dir.path().join("two.crl");
    std::fs::write(&pem_path, pem).unwrap();
    std::fs::write(&der_path, der).unwrap();
    let server = Server::start_in(
        dir.path(),
        &config(&one, &both, json!([pem_path, der_path])),
    );
    // The server's certificate is `one`'s: every client trusts `one` for it.
    for (who, revoked) in [(&alice, false), (&carol, false), (&dave, true)] {
        let got = server.get_with_cert(&one, who, &documented_target(REQ));
        assert_eq!(got.is_err(), revoked, "{}: {got:?}", who.name);
    }
}

/// With CRLs given, a certificate whose CA has no CRL among them is refused (unknown status
/// counts as revoked): a CA left out of `"crl"` cannot let a revoked certificate through.
#[test]
fn with_crls_an_operator_whose_ca_has_none_is_refused() {
    let dir = temp_dir();
    let one = Pki::new(dir.path(), "one");
    let two = Pki::new(dir.path(), "two");
    let both = dir.path().join("both-cas.pem");
    std::fs::write(
        &both,
        std::fs::read_to_string(&one.ca_path).unwrap()
            + &std::fs::read_to_string(&two.ca_path).unwrap(),
    )
    .unwrap();
    let (pem, _) = one.crl(&[]);
    let crl = dir.path().join("one.crl.pem");
    std::fs::write(&crl, pem).unwrap();
    let server = Server::start_in(dir.path(), &config(&one, &both, json!(crl)));
    assert!(server
        .get_with_cert(&one, &one.issue("alice"), &documented_target(REQ))
        .is_ok());
    assert!(server
        .get_with_cert(&one, &two.issue("carol"), &documented_target(REQ))
        .is_err());
}

#[test]
fn a_crl_that_cannot_be_read_stops_start_up() {
    let dir = temp_dir();
    let pki = Pki::new(dir.path(), "ca");
    let garbage = dir.path().join("garbage.crl");
    std::fs::write(&garbage, b"\x02\x03not a CRL").unwrap();
    let no_block = dir.path().join("no-block.pem");
    std::fs::write(
        &no_block,
        "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
    )
    .unwrap();
    let bad_der = dir.path().join("bad.der");
    std::fs::write(&bad_der, b"\x30\x03\x02\x01\x00").unwrap();
    for (crl, expected) in [
        (json!(dir.path().join("missing.crl")), "tls.crl "),
        (json!(garbage), "neither PEM nor DER"),
        (json!(no_block), "no \"X509 CRL\" PEM block"),
        (json!(bad_der), "tls.crl"),
        (json!([]), "tls.crl: an empty array"),
        (json!(7), "tls.crl: a path, or an array of paths"),
    ] {
        let (code, stderr) = refused(&config(&pki, &pki.ca_path, crl.clone()), "127.0.0.1:0");
        assert_eq!(code, 1, "{crl}: {stderr}");
        assert!(stderr.contains(expected), "{crl}: {stderr}");
    }
}
