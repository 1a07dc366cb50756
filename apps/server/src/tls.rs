//! TLS with client certificates: who is asking.
//!
//! `"tls": {"cert": PATH, "key": PATH, "client_ca": PATH}` (PEM files): the server's
//! certificate chain and private key, and the certificate(s) of the CA that issues operators'
//! client certificates. TLS 1.3 and 1.2 only (rustls offers nothing older), with rustls's
//! default cipher suites on the `ring` provider. A client certificate is required: a client
//! without one, or with one that does not chain to `client_ca` (or has expired, or is not for
//! client authentication), fails the handshake and never reaches the HTTP layer.
//!
//! The operator is the client certificate's subject common name (CN), exactly one and UTF-8;
//! a certificate without one is refused after the handshake (the connection is closed, with a
//! line on stderr). It is what the request registry's `operator` names and what the audit
//! trail records.
//!
//! Any CA in `client_ca` can name any operator: the server trusts each of them for every
//! common name, so a CA that issues `CN=alice` to someone else gives them alice's requests.
//! Put in `client_ca` only CAs that issue operators' certificates and nothing else.
//!
//! Revocation: `"crl": PATH` or `"crl": [PATH, ...]`, certificate revocation lists in PEM (any
//! number of `X509 CRL` blocks per file) or DER (one per file). A revoked operator certificate
//! fails the handshake. Once CRLs are given, every certificate of an operator's chain below
//! the trust anchor must be covered by a CRL of its issuer: a certificate whose issuer has no
//! CRL in the list is refused too (unknown status counts as revoked), so that a CA left out by
//! mistake cannot let a revoked certificate through. The files are read at start-up (restart
//! the server to load a new CRL); a CRL past its `nextUpdate` is still used, so that an
//! expired CRL does not lock every operator out.
//!
//! Why these crates: `rustls` (memory-safe TLS, no OpenSSL, TLS 1.2/1.3 only) on `ring`
//! (its C and assembly build with `cc` alone; the default provider, aws-lc-rs, needs CMake),
//! `tokio-rustls` (the rustls project's own tokio adapter), and `x509-parser` (rusticata's
//! well-kept DER parser) to read the CN, which rustls's verifier does not expose.

use std::path::PathBuf;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, CertificateRevocationListDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};
use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::Deserialize;

/// The configuration's `"tls"` object.
#[derive(Deserialize, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// The server's certificate chain, PEM, leaf first.
    pub cert: PathBuf,
    /// The server's private key, PEM (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
    /// The CA certificate(s) that operators' client certificates must chain to, PEM.
    pub client_ca: PathBuf,
    /// Certificate revocation lists (PEM or DER files): one path or an array of paths.
    #[serde(default)]
    pub crl: CrlFiles,
}

/// The `"crl"` field: no file, one path, or an array of paths.
#[derive(Debug, Clone, Default)]
pub struct CrlFiles(pub Vec<PathBuf>);

impl<'de> Deserialize<'de> for CrlFiles {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Files;
        impl<'de> Visitor<'de> for Files {
            type Value = CrlFiles;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("tls.crl: a path, or an array of paths, to PEM or DER CRL files")
            }
            fn visit_str<E: de::Error>(self, path: &str) -> Result<CrlFiles, E> {
                Ok(CrlFiles(vec![PathBuf::from(path)]))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<CrlFiles, A::Error> {
                let mut paths = Vec::new();
                while let Some(path) = seq.next_element::<PathBuf>()? {
                    paths.push(path);
                }
                if paths.is_empty() {
                    return Err(de::Error::custom(
                        "tls.crl: an empty array; leave \"crl\" out for no revocation check",
                    ));
                }
                Ok(CrlFiles(paths))
            }
        }
        deserializer.deserialize_any(Files)
    }
}

/// Builds the rustls server configuration: TLS 1.3 and 1.2, client certificate required.
pub fn server_config(tls: &TlsConfig) -> Result<Arc<ServerConfig>, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let certs = read_certs(&tls.cert, "cert")?;
    let key = PrivateKeyDer::from_pem_file(&tls.key).map_err(|err| {
        format!(
            "tls.key {}: no private key read ({err}); give a PEM private key",
            tls.key.display()
        )
    })?;
    let mut roots = RootCertStore::empty();
    for ca in read_certs(&tls.client_ca, "client_ca")? {
        roots.add(ca).map_err(|err| {
            format!(
                "tls.client_ca {}: not a usable CA certificate: {err}",
                tls.client_ca.display()
            )
        })?;
    }
    let mut crls = Vec::new();
    for path in &tls.crl.0 {
        crls.extend(read_crls(path)?);
    }
    let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .with_crls(crls)
        .build()
        .map_err(|err| {
            format!(
                "tls.client_ca {} and tls.crl: {err}",
                tls.client_ca.display()
            )
        })?;
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|err| format!("tls: {err}"))?
        .with_client_cert_verifier(verifier)
        .with_single_cert(certs, key)
        .map_err(|err| {
            format!(
                "tls.cert {} and tls.key {}: {err}",
                tls.cert.display(),
                tls.key.display()
            )
        })?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

fn read_certs(path: &PathBuf, field: &str) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|err| format!("tls.{field} {}: {err}", path.display()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|err| format!("tls.{field} {}: {err}", path.display()))?;
    if certs.is_empty() {
        return Err(format!(
            "tls.{field} {}: no PEM certificate in the file",
            path.display()
        ));
    }
    Ok(certs)
}

/// The CRLs of one file: PEM blocks (`-----BEGIN X509 CRL-----`), or one DER CRL.
fn read_crls(path: &PathBuf) -> Result<Vec<CertificateRevocationListDer<'static>>, String> {
    let bytes = std::fs::read(path).map_err(|err| format!("tls.crl {}: {err}", path.display()))?;
    if bytes.starts_with(b"-----BEGIN") || bytes.first().is_some_and(u8::is_ascii_whitespace) {
        let crls = CertificateRevocationListDer::pem_slice_iter(&bytes)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|err| format!("tls.crl {}: {err}", path.display()))?;
        if crls.is_empty() {
            return Err(format!(
                "tls.crl {}: no \"X509 CRL\" PEM block in the file",
                path.display()
            ));
        }
        return Ok(crls);
    }
    // A DER CRL is a SEQUENCE: check that much here; the verifier parses it fully at start-up.
    if bytes.first() != Some(&0x30) {
        return Err(format!(
            "tls.crl {}: neither PEM nor DER (a DER CRL starts with 0x30)",
            path.display()
        ));
    }
    Ok(vec![CertificateRevocationListDer::from(bytes)])
}

/// The operator named by a (verified) client certificate: its subject common name, which
/// must be present once, as text, and not empty.
pub fn operator_of(certificate: &[u8]) -> Result<String, String> {
    let (_, parsed) = x509_parser::parse_x509_certificate(certificate)
        .map_err(|err| format!("the client certificate does not parse: {err}"))?;
    let mut names = parsed.subject().iter_common_name();
    let first = names
        .next()
        .ok_or("the client certificate's subject has no common name (CN)")?;
    if names.next().is_some() {
        return Err("the client certificate's subject has more than one common name (CN)".into());
    }
    let name = first
        .as_str()
        .map_err(|err| format!("the client certificate's common name is not text: {err}"))?;
    if name.is_empty() {
        return Err("the client certificate's common name is empty".into());
    }
    Ok(name.to_string())
}
