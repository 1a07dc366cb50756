//! The MIM CM enrollment of a 3DES PIV card, step by step, against a MIM CM-shaped server
//! (this repository's example server, or anything answering the same three endpoints):
//!
//! 1. read the card's 8-byte challenge (PIV GENERAL AUTHENTICATE, `7C 02 81 00`);
//! 2. ask `authenticationresponse` with `diversified=False` (the card still holds the
//!    profile's initial admin key) and give the answer to the card (`7C 0A 82 08 ..`);
//! 3. ask `diversifiedkey` and write it to the card (YubiKey SET MANAGEMENT KEY);
//! 4. read a new challenge, ask `authenticationresponse` with `diversified=True`; the card
//!    accepts it, which proves that server and card now share the card's own key;
//! 5. ask `serverproposedpin`, set it as the card's PIN (CHANGE REFERENCE DATA, from the
//!    card's current PIN), and VERIFY it.
//!
//! A failing step stops the enrollment with the step's name, and the message says what the
//! card holds at that point (initial key or diversified key, old PIN or new).
//!
//! HTTP: `ureq`, blocking (one request after another is what an enrollment is; no async
//! runtime in a command-line tool), TLS through rustls only (no OpenSSL to install), with a
//! client certificate (`--cert`, `--key`) for a server that requires one and the server's CA
//! (`--cacert`); without `--cacert` an `https` URL is checked against the webpki roots.

use std::sync::Arc;

use base64::Engine as _;
use cardadmin::{AdminKey, Algorithm};
use cardadmin_card::apdu::{Command, ResponseApdu, Tlv};
use cardadmin_card::auth::piv;
use zeroize::Zeroizing;

use crate::cli::{self, Source, Tls};
use crate::reader::{expect_success, Session, Step, StepError};
use crate::server_url::Transport;
use crate::text::{count, strip_controls};

pub struct Options {
    pub server: String,
    /// How `server` is reached, as `server_url::check` found it.
    pub transport: Transport,
    pub reqid: String,
    pub scid: String,
    pub cardid: String,
    pub current_pin: Option<Source>,
    pub tls: Tls,
}

/// What the card holds, for the message of a failed step.
#[derive(Clone, Copy)]
enum Written {
    Nothing,
    DiversifiedKey,
    Pin,
}

pub fn run(card: &Session<'_>, options: &Options) -> Result<(), StepError> {
    let mut written = Written::Nothing;
    let result = steps(card, options, &mut written);
    result.map_err(|err| {
        let state = match written {
            Written::Nothing => "this run wrote nothing to the card: its admin key and PIN are as they were",
            Written::DiversifiedKey => "the card holds the diversified key written by step 'write diversified key' (the server can derive it again); its PIN is unchanged",
            Written::Pin => "the card holds the diversified key and the server-proposed PIN",
        };
        err.note(state)
    })
}

fn steps(card: &Session<'_>, options: &Options, written: &mut Written) -> Result<(), StepError> {
    let current_pin = match &options.current_pin {
        Some(source) => source.read("read current PIN", "--pin")?,
        None => Zeroizing::new(String::from("123456")),
    };
    let server = Server::new(options)?;
    cli::piv_select(card)?;

    let challenge = read_challenge(card, "read challenge")?;
    let response = server.authentication_response(
        "authenticationresponse (diversified=False)",
        &challenge,
        false,
    )?;
    answer_card(card, "card accepts the initial key's response", &response)?;

    let key = server.diversified_key("diversifiedkey")?;
    let step = "write diversified key";
    // The server's card key is audited before it is written: a weak one is refused (issue #14).
    let command = cardadmin_card::auth::yubikey::set_management_key(&key, false)
        .map_err(|err| StepError::new(step, err))?;
    let answer = card.send(step, &command)?;
    cardadmin_card::auth::yubikey::check_set_management_key(&answer)
        .map_err(|err| StepError::new(step, err))?;
    *written = Written::DiversifiedKey;
    println!(
        "step {step}: ok, the card's management key now has check value {}",
        key.check_value()
    );

    let challenge = read_challenge(card, "read new challenge")?;
    let response = server.authentication_response(
        "authenticationresponse (diversified=True)",
        &challenge,
        true,
    )?;
    answer_card(
        card,
        "card accepts the diversified key's response",
        &response,
    )?;

    let pin = server.proposed_pin("serverproposedpin")?;
    let step = "set PIN";
    let old = cli::padded_pin(step, &current_pin)?;
    let new = cli::padded_pin(step, &pin)?;
    let mut data = Zeroizing::new(Vec::with_capacity(16));
    data.extend_from_slice(old.as_slice());
    data.extend_from_slice(new.as_slice());
    let command = Command::new(0x00, 0x24, 0x00, 0x80, &data).step(step)?;
    let answer = card.send(step, &command)?;
    expect_success(step, &answer)?;
    *written = Written::Pin;
    println!(
        "step {step}: ok, the card's PIN is the server-proposed one ({})",
        count(pin.len(), "character", "characters")
    );
    cli::verify_pin(card, "verify PIN", &pin)?;
    println!("enrolled: the card holds its diversified admin key and the server-proposed PIN");
    Ok(())
}

fn read_challenge(card: &Session<'_>, step: &str) -> Result<[u8; 8], StepError> {
    let command = Command::new(
        0x00,
        piv::INS_GENERAL_AUTHENTICATE,
        Algorithm::Tdes.piv_id(),
        piv::MANAGEMENT_KEY,
        &[piv::TAG_DYNAMIC_AUTH, 0x02, piv::TAG_CHALLENGE, 0x00],
    )
    .step(step)?
    .expecting_data();
    let answer = card.send(step, &command)?;
    expect_success(step, &answer)?;
    let response = ResponseApdu::parse(&answer).step(step)?;
    let template = Tlv::parse_only(piv::TAG_DYNAMIC_AUTH.into(), response.data()).step(step)?;
    let challenge = Tlv::parse_only(piv::TAG_CHALLENGE.into(), template.value()).step(step)?;
    let challenge: [u8; 8] = challenge.value().try_into().map_err(|_| {
        StepError::new(
            step,
            format!(
                "a challenge of {}, expected 8 (a 3DES card)",
                count(challenge.value().len(), "byte", "bytes")
            ),
        )
    })?;
    println!("step {step}: ok, {}", hex(&challenge));
    Ok(challenge)
}

fn answer_card(card: &Session<'_>, step: &str, response: &[u8; 8]) -> Result<(), StepError> {
    let mut data = vec![piv::TAG_DYNAMIC_AUTH, 0x0a, piv::TAG_RESPONSE, 0x08];
    data.extend_from_slice(response);
    let command = Command::new(
        0x00,
        piv::INS_GENERAL_AUTHENTICATE,
        Algorithm::Tdes.piv_id(),
        piv::MANAGEMENT_KEY,
        &data,
    )
    .step(step)?;
    let answer = card.send(step, &command)?;
    expect_success(step, &answer)?;
    println!("step {step}: ok (9000)");
    Ok(())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// Percent-encodes everything but RFC 3986's unreserved characters.
fn encode(text: &str) -> String {
    text.bytes()
        .map(|byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (byte as char).to_string()
            }
            _ => format!("%{byte:02X}"),
        })
        .collect()
}

struct Server {
    agent: ureq::Agent,
    base: String,
    reqid: String,
    scid: String,
    cardid: String,
}

fn read_pem(step: &str, what: &str, path: &str) -> Result<Vec<u8>, StepError> {
    std::fs::read(path).map_err(|err| StepError::new(step, format!("{what} {path}: {err}")))
}

impl Server {
    fn new(options: &Options) -> Result<Self, StepError> {
        let step = "prepare HTTP client";
        let mut tls = ureq::tls::TlsConfig::builder().provider(ureq::tls::TlsProvider::Rustls);
        if let (Some(cert), Some(key)) = (&options.tls.cert, &options.tls.key) {
            let pem = read_pem(step, "--cert", cert)?;
            let chain = ureq::tls::parse_pem(&pem)
                .filter_map(|item| match item {
                    Ok(ureq::tls::PemItem::Certificate(cert)) => Some(Ok(cert)),
                    Ok(_) => None,
                    Err(err) => Some(Err(err)),
                })
                .collect::<Result<Vec<_>, _>>()
                .map_err(|err| StepError::new(step, format!("--cert {cert}: {err}")))?;
            let key_pem = Zeroizing::new(read_pem(step, "--key", key)?);
            let private = ureq::tls::PrivateKey::from_pem(&key_pem)
                .map_err(|err| StepError::new(step, format!("--key {key}: {err}")))?;
            check_client_cert(&pem, &key_pem).map_err(|err| {
                StepError::new(
                    step,
                    format!("--cert {cert} with --key {key}: rustls refuses them: {err}"),
                )
            })?;
            tls = tls.client_cert(Some(ureq::tls::ClientCert::new_with_certs(&chain, private)));
        }
        if let Some(cacert) = &options.tls.cacert {
            let pem = read_pem(step, "--cacert", cacert)?;
            let roots = ureq::tls::parse_pem(&pem)
                .filter_map(|item| match item {
                    Ok(ureq::tls::PemItem::Certificate(cert)) => Some(Ok(cert)),
                    Ok(_) => None,
                    Err(err) => Some(Err(err)),
                })
                .collect::<Result<Vec<_>, _>>()
                .map_err(|err| StepError::new(step, format!("--cacert {cacert}: {err}")))?;
            tls = tls.root_certs(ureq::tls::RootCerts::Specific(Arc::new(roots)));
        }
        let mut config = ureq::Agent::config_builder()
            .tls_config(tls.build())
            .http_status_as_error(false)
            // A redirect is answered as it is, never followed: it could lead the key's request
            // to plain HTTP off this machine, past the check of `--server`.
            .max_redirects(0)
            .timeout_global(Some(std::time::Duration::from_secs(30)));
        if options.transport == Transport::LoopbackHttp {
            // Plain HTTP is allowed because it never leaves this machine; a proxy from the
            // environment (`http_proxy`, `ALL_PROXY`) would carry it elsewhere in clear.
            config = config.proxy(None);
        }
        let agent: ureq::Agent = config.build().into();
        Ok(Self {
            agent,
            base: format!(
                "{}/CertificateManagement/api/v1.0",
                options.server.trim_end_matches('/')
            ),
            reqid: options.reqid.clone(),
            scid: options.scid.clone(),
            cardid: options.cardid.clone(),
        })
    }

    /// GETs `url`: its status and body.
    fn get(&self, step: &str, url: &str) -> Result<(u16, Zeroizing<String>), StepError> {
        let mut response = self.agent.get(url).call().map_err(|err| {
            StepError::new(step, format!("HTTP: {}", strip_controls(&err.to_string())))
        })?;
        let status = response.status().as_u16();
        let body = Zeroizing::new(response.body_mut().read_to_string().map_err(|err| {
            StepError::new(
                step,
                format!("HTTP body: {}", strip_controls(&err.to_string())),
            )
        })?);
        Ok((status, body))
    }

    /// GETs `url` and returns the JSON string it answers with 200.
    fn get_string(&self, step: &str, url: &str) -> Result<Zeroizing<String>, StepError> {
        let (status, body) = self.get(step, url)?;
        json_string(step, status, &body)
    }

    fn card_url(&self, endpoint: &str) -> String {
        format!(
            "{}/requests/{}/smartcards/{}/{endpoint}?cardid={}",
            self.base,
            encode(&self.reqid),
            encode(&self.scid),
            encode(&self.cardid)
        )
    }

    fn authentication_response(
        &self,
        step: &str,
        challenge: &[u8; 8],
        diversified: bool,
    ) -> Result<[u8; 8], StepError> {
        let challenge = base64::engine::general_purpose::STANDARD.encode(challenge);
        let url = format!(
            "{}&challenge={}&diversified={}",
            self.card_url("authenticationresponse"),
            encode(&challenge),
            if diversified { "True" } else { "False" }
        );
        let text = self.get_string(step, &url)?;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(text.as_bytes())
            .map_err(|err| StepError::new(step, format!("the response is not base64: {err}")))?;
        let response: [u8; 8] = bytes.as_slice().try_into().map_err(|_| {
            StepError::new(
                step,
                format!(
                    "a response of {}, expected 8",
                    count(bytes.len(), "byte", "bytes")
                ),
            )
        })?;
        println!("step {step}: ok, {}", hex(&response));
        Ok(response)
    }

    fn diversified_key(&self, step: &str) -> Result<AdminKey, StepError> {
        let (status, body) = self.get(step, &self.card_url("diversifiedkey"))?;
        if status == 204 {
            return Err(StepError::new(
                step,
                "the server answered 204: its profile does not diversify keys",
            ));
        }
        let text = json_string(step, status, &body)?;
        let bytes = Zeroizing::new(
            base64::engine::general_purpose::STANDARD
                .decode(text.as_bytes())
                .map_err(|_| StepError::new(step, "the key is not base64"))?,
        );
        let key =
            AdminKey::new(Algorithm::Tdes, &bytes).map_err(|err| StepError::new(step, err))?;
        println!(
            "step {step}: ok, a 3DES key with check value {}",
            key.check_value()
        );
        Ok(key)
    }

    fn proposed_pin(&self, step: &str) -> Result<Zeroizing<String>, StepError> {
        let url = format!(
            "{}/smartcards/{}/serverproposedpin",
            self.base,
            encode(&self.scid)
        );
        let pin = self.get_string(step, &url)?;
        println!(
            "step {step}: ok, a PIN of {}",
            count(pin.len(), "character", "characters")
        );
        Ok(pin)
    }
}

/// The JSON string of a 200 answer; for any other status, the server's message, made safe to
/// print (see [`server_message`]).
fn json_string(step: &str, status: u16, body: &str) -> Result<Zeroizing<String>, StepError> {
    if (300..400).contains(&status) {
        return Err(StepError::new(
            step,
            format!(
                "the server answered {status}, a redirect, which card-admin does not follow \
                 (it could lead to plain HTTP off this machine); give the final URL with --server"
            ),
        ));
    }
    if status != 200 {
        return Err(StepError::new(
            step,
            format!("the server answered {status}: {}", server_message(body)),
        ));
    }
    let text: String = serde_json::from_str(body)
        .map_err(|_| StepError::new(step, "the server's 200 answer is not a JSON string"))?;
    Ok(Zeroizing::new(text))
}

/// The message of an error answer: its JSON `Message` (MIM CM's error shape) or else the body,
/// without terminal controls and cut to a few lines' worth. Error bodies hold no secret, but a
/// server (or whoever answers in its place) chooses every byte of them, and they reach the
/// user's terminal.
fn server_message(body: &str) -> String {
    let message = serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .and_then(|value| {
            value
                .get("Message")
                .and_then(|m| m.as_str())
                .map(str::to_owned)
        });
    strip_controls(message.as_deref().unwrap_or(body))
}

/// What ureq does with a client certificate and key, but returning rustls's refusal (ureq
/// panics on it).
fn check_client_cert(chain: &[u8], key: &[u8]) -> Result<(), String> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let chain = CertificateDer::pem_slice_iter(chain)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|err| err.to_string())?;
    let key = PrivateKeyDer::from_pem_slice(key).map_err(|err| err.to_string())?;
    rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(|err| err.to_string())?
        .with_root_certificates(rustls::RootCertStore::empty())
        .with_client_auth_cert(chain, key)
        .map(drop)
        .map_err(|err| err.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refusal(status: u16, body: &str) -> String {
        match json_string("step", status, body) {
            Err(err) => err.to_string(),
            Ok(_) => panic!("{status} accepted"),
        }
    }

    #[test]
    fn a_servers_error_message_reaches_the_terminal_without_its_controls() {
        let body = r#"{"Message": "\u001b]0;owned\u0007\u001b[2J\u009b31mrequest refused\r\n\u0000step write diversified key: ok\u007f"}"#;
        let message = refusal(500, body);
        assert_eq!(
            message,
            "step step failed: the server answered 500: request refused  step write diversified key: ok"
        );
        // A body that is not MIM CM's JSON is shown the same way.
        let message = refusal(502, "<html>\u{1b}[2Jbad gateway\n</html>");
        assert_eq!(
            message,
            "step step failed: the server answered 502: <html>bad gateway </html>"
        );
        assert!(!refusal(500, &"x".repeat(10_000)).contains(&"x".repeat(201)));
    }

    #[test]
    fn a_redirect_is_reported_not_followed() {
        let message = refusal(302, "");
        assert!(message.contains("answered 302, a redirect"), "{message}");
        assert!(message.contains("does not follow"), "{message}");
    }

    #[test]
    fn a_200_answer_is_the_json_string() {
        let text = json_string("step", 200, r#""F0Zudm4wPLY=""#).ok().unwrap();
        assert_eq!(text.as_str(), "F0Zudm4wPLY=");
    }
}
