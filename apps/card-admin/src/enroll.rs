//! The MIM CM enrollment and renewal of a PIV card, step by step, against a MIM CM-shaped
//! server (this repository's example server, or anything answering the same endpoints), as
//! MIM CM's walkthrough runs them.
//!
//! `card-admin enroll`:
//!
//! 1. read the card ID from the card (the GUID of its CHUID), or take `--cardid`; a card that
//!    says another ID than `--cardid` stops here;
//! 2. `GET /requests/{id}`: the request must be an open `Enroll` request for this card;
//! 3. `GET /profiletemplates/{id}/configuration/smartcards`: the profile's initial admin key
//!    (`DefaultAdminKeyHex`, in `AdminKeyAlgorithm`), which must be diversified
//!    (`DiversifyAdminKey`);
//! 4. `POST /smartcards` with the request, the card ID and the ATR: the smart card ID;
//! 5. mutual authentication with the initial key (the card proves it holds it, and this host);
//! 6. `diversifiedkey` (the server records the key's master version as the card's pending
//!    one: the key change begins) and write it to the card (YubiKey SET MANAGEMENT KEY);
//! 7. a new challenge, answered by `authenticationresponse` with `diversified=True`: the card
//!    accepts it, which proves that server and card now share the card's own key;
//! 8. `serverproposedpin`, set as the card's PIN (CHANGE REFERENCE DATA, from the card's
//!    current PIN), and VERIFY it;
//! 9. `PUT /requests/{id}` `{"status": "Completed"}`: the server confirms the key's version.
//!
//! `card-admin renew` moves a card to the current master: the card ID (1), an open `Renew`
//! request for this smart card and card (2), a challenge answered by `authenticationresponse`
//! with `diversified=True` (the card's current key, under the master version it is on), then
//! 6, 7 and 9.
//!
//! A failing step stops the command with the step's name, and the message says what the card
//! holds (its old key or the new one, old PIN or new) and what became of the request: a step
//! that fails after the key change began while the card still holds its old key cancels the
//! request (`PUT /requests/{id}` `{"status": "Canceled"}`: the server drops the pending version);
//! once the card holds (or may hold) the new key, the request is left open for the operator,
//! because canceling it would strand the card ([`mimcm::on_failure`]).
//!
//! HTTP: `ureq`, blocking (one request after another is what an enrollment is; no async
//! runtime in a command-line tool), TLS through rustls only (no OpenSSL to install), with a
//! client certificate (`--cert`, `--key`) for a server that requires one and the server's CA
//! (`--cacert`); without `--cacert` an `https` URL is checked against the webpki roots.

use std::sync::Arc;

use base64::Engine as _;
use cardadmin::{AdminKey, Algorithm, CardId};
use cardadmin_card::apdu::{Command, ResponseApdu, StatusWord, Tlv};
use cardadmin_card::auth::piv;
use zeroize::Zeroizing;

use crate::flows;
use crate::mimcm::{self, Closing, Kind, ProfileConfig, Progress, RequestInfo};
use crate::options::{Source, Tls};
use crate::reader::{expect_success, status_of, Session, Step, StepError};
use crate::server_url::Transport;
use crate::text::{count, strip_controls};

/// Where the server is and how to reach it.
pub struct ServerOptions {
    pub server: String,
    /// How `server` is reached, as `server_url::check` found it.
    pub transport: Transport,
    pub tls: Tls,
}

/// What `enroll` and `renew` run.
pub struct Options {
    pub kind: Kind,
    pub server: ServerOptions,
    pub reqid: String,
    /// `--scid`: required by `renew`; for `enroll`, the smart card `POST /smartcards` must
    /// answer, when given.
    pub scid: Option<String>,
    /// `--cardid`: the card's ID when the card does not say it; otherwise it must be the one
    /// the card says.
    pub cardid: Option<String>,
    /// `--profile-template`: the profile template whose configuration `enroll` reads, when the
    /// request does not name it.
    pub profile_template: Option<String>,
    /// The card's current PIN (`enroll`; `123456` when not given).
    pub current_pin: Option<Source>,
}

/// What the run has changed so far, for the message of a failed step.
struct Run {
    progress: Progress,
    /// The card's PIN is the server-proposed one.
    pin_written: bool,
    /// The new key's check value, once fetched.
    new_key: Option<String>,
    /// The server, once its client is made (to cancel the request).
    server: Option<Server>,
}

pub fn run(card: &Session<'_>, options: &Options) -> Result<(), StepError> {
    let mut state = Run {
        progress: Progress::Untouched,
        pin_written: false,
        new_key: None,
        server: None,
    };
    let result = match options.kind {
        Kind::Enroll => enroll(card, options, &mut state),
        Kind::Renew => renew(card, options, &mut state),
    };
    result.map_err(|err| failed(err, &state, &options.reqid))
}

/// The note a failed step gets: what the card holds, and what became of the request (canceled
/// here when [`mimcm::on_failure`] says so).
fn failed(err: StepError, state: &Run, reqid: &str) -> StepError {
    let pin = if state.pin_written {
        "the server-proposed PIN"
    } else {
        "its PIN unchanged"
    };
    let new_key = state.new_key.as_deref().unwrap_or("?");
    let close_by_hand = |status: &str| {
        format!(
            "PUT /requests/{reqid} {{\"status\": \"{status}\"}} (cardadmin-server requests close --reqid {reqid} --status {status})"
        )
    };
    let note = match mimcm::on_failure(state.progress) {
        Closing::LeaveOpen => {
            "this run changed nothing: the card's admin key and PIN are as they were, and the request is as it was".to_owned()
        }
        Closing::Cancel => {
            let card = format!("the card kept its old admin key and {pin}");
            match state.server.as_ref().map(|server| server.close("cancel request", "Canceled")) {
                Some(Ok(())) => format!(
                    "{card}; request {reqid} canceled, so the server dropped the key version it had recorded as pending"
                ),
                Some(Err(cancel)) => format!(
                    "{card}; canceling the request failed too ({cancel}): cancel it with {}, or the server keeps answering for a key the card does not hold",
                    close_by_hand("Canceled")
                ),
                None => format!("{card}; the request could not be canceled: cancel it with {}", close_by_hand("Canceled")),
            }
        }
        Closing::LeaveOpenForOperator if state.progress == Progress::WriteUnknown => format!(
            "the card's answer to the key change was lost: it holds its old admin key or the new one (check value {new_key}), and {pin}; request {reqid} is left open: complete it if the card holds the new key, cancel it if not, with {}",
            close_by_hand("Completed or Canceled")
        ),
        Closing::LeaveOpenForOperator => format!(
            "the card holds the new admin key (check value {new_key}) and {pin}; request {reqid} is left open, because canceling it would make the server answer for the old key a card that no longer holds it: complete it with {}",
            close_by_hand("Completed")
        ),
    };
    err.note(&note)
}

fn enroll(card: &Session<'_>, options: &Options, state: &mut Run) -> Result<(), StepError> {
    let current_pin = match &options.current_pin {
        Some(source) => source.read("read current PIN", "--pin")?,
        None => Zeroizing::new(String::from("123456")),
    };
    let server = Server::new(&options.server, &options.reqid)?;
    flows::piv_select(card)?;
    let cardid = read_card_id(card, options.cardid.as_deref())?;

    let request = server.request("request")?;
    request
        .check(Kind::Enroll, options.scid.as_deref(), &cardid)
        .map_err(|err| StepError::new("request", err))?;
    println!("step request: ok, an open Enroll request");

    let step = "profile configuration";
    let template = options
        .profile_template
        .as_deref()
        .or(request.profile_template.as_deref())
        .ok_or_else(|| {
            StepError::new(
                step,
                "the request names no profile template (no ProfileTemplateUuid): give it with --profile-template GUID",
            )
        })?;
    let config = server.profile_configuration(step, template)?;
    if !config.diversify {
        return Err(StepError::new(
            step,
            "the profile does not diversify admin keys (DiversifyAdminKey is not true): card-admin enrolls cards with diversified admin keys only",
        ));
    }
    println!(
        "step {step}: ok, the initial admin key is {} with check value {}, admin keys are diversified",
        config.initial_key.algorithm(),
        config.initial_key.check_value()
    );

    let step = "create smart card";
    let atr = card.atr(step)?;
    let scid = server.create_smartcard(step, &cardid, &atr)?;
    if let Some(expected) = &options.scid {
        if !mimcm::same_guid(expected, &scid) {
            return Err(StepError::new(
                step,
                format!(
                    "the server answered smart card {}, not --scid {}",
                    strip_controls(&scid),
                    strip_controls(expected)
                ),
            ));
        }
    }
    println!("step {step}: ok, smart card {}", strip_controls(&scid));
    let ids = Ids { scid, cardid };

    // The card proves it holds the profile's initial key (and this host proves it too).
    flows::piv_authenticate(card, &config.initial_key, true)?;
    change_key(card, &server, &ids, state)?;

    let pin = server.proposed_pin("serverproposedpin", &ids)?;
    let step = "set PIN";
    let old = flows::padded_pin(step, &current_pin)?;
    let new = flows::padded_pin(step, &pin)?;
    let mut data = Zeroizing::new(Vec::with_capacity(16));
    data.extend_from_slice(old.as_slice());
    data.extend_from_slice(new.as_slice());
    let command = Command::new(0x00, 0x24, 0x00, 0x80, &data).step(step)?;
    let answer = card.send(step, &command)?;
    expect_success(step, &answer)?;
    state.pin_written = true;
    println!(
        "step {step}: ok, the card's PIN is the server-proposed one ({})",
        count(pin.len(), "character", "characters")
    );
    flows::verify_pin(card, "verify PIN", &pin)?;

    server.close("complete request", "Completed")?;
    println!("step complete request: ok, Completed");
    println!(
        "enrolled: the card holds its diversified admin key and the server-proposed PIN; request {} is completed",
        strip_controls(&options.reqid)
    );
    Ok(())
}

fn renew(card: &Session<'_>, options: &Options, state: &mut Run) -> Result<(), StepError> {
    let server = Server::new(&options.server, &options.reqid)?;
    // The command line requires both for renew.
    let scid = options.scid.clone().unwrap_or_default();
    flows::piv_select(card)?;
    let cardid = read_card_id(card, options.cardid.as_deref())?;

    let request = server.request("request")?;
    request
        .check(Kind::Renew, Some(&scid), &cardid)
        .map_err(|err| StepError::new("request", err))?;
    println!("step request: ok, an open Renew request for this smart card");
    let ids = Ids { scid, cardid };

    // The card's current key, under whichever master version the server has it on.
    let challenge = read_challenge(card, "read challenge")?;
    let response = server.authentication_response(
        "authenticationresponse (diversified=True, the card's current key)",
        &ids,
        &challenge,
        true,
    )?;
    answer_card(card, "card accepts its current key's response", &response)?;
    change_key(card, &server, &ids, state)?;

    server.close("complete request", "Completed")?;
    println!("step complete request: ok, Completed");
    println!(
        "renewed: the card holds its admin key under the server's current master; request {} is completed",
        strip_controls(&options.reqid)
    );
    Ok(())
}

/// The key change, on a card authenticated with its current key: fetch the new key (the server
/// records its version as pending), write it, and prove it with a new challenge answered by
/// the server under that version. `state` follows each step, for the message of a failure.
fn change_key(
    card: &Session<'_>,
    server: &Server,
    ids: &Ids,
    state: &mut Run,
) -> Result<(), StepError> {
    state.server = Some(server.clone());
    let key = server.diversified_key("diversifiedkey", ids)?;
    state.progress = Progress::KeyFetched;
    state.new_key = Some(key.check_value().to_string());
    let step = "write diversified key";
    // The server's card key is audited before it is written: a weak one is refused (issue #14).
    let command = cardadmin_card::auth::yubikey::set_management_key(&key, false)
        .map_err(|err| StepError::new(step, err))?;
    // From here until the card answers, it may hold either key.
    state.progress = Progress::WriteUnknown;
    let answer = card.send(step, &command)?;
    state.progress = if status_of(&answer) == Some(StatusWord::SUCCESS) {
        Progress::KeyWritten
    } else {
        // The card answered, and not with success: it kept its key.
        Progress::KeyFetched
    };
    cardadmin_card::auth::yubikey::check_set_management_key(&answer)
        .map_err(|err| StepError::new(step, err))?;
    println!(
        "step {step}: ok, the card's management key now has check value {}",
        key.check_value()
    );

    let challenge = read_challenge(card, "read new challenge")?;
    let response = server.authentication_response(
        "authenticationresponse (diversified=True)",
        ids,
        &challenge,
        true,
    )?;
    answer_card(
        card,
        "card accepts the diversified key's response",
        &response,
    )
}

/// The card ID: the one the card says (PIV CHUID), which `--cardid` must name when given, or
/// else `--cardid`. Read before anything is asked of the server.
fn read_card_id(card: &Session<'_>, option: Option<&str>) -> Result<CardId, StepError> {
    let step = "read card ID";
    let mut data = vec![0x5c, 0x03];
    data.extend_from_slice(&mimcm::CHUID_TAG);
    let command = Command::new(0x00, 0xcb, 0x3f, 0xff, &data)
        .step(step)?
        .expecting_data();
    let answer = card.send(step, &command)?;
    let (from_card, source) = match status_of(&answer) {
        Some(StatusWord::SUCCESS) => {
            let response = ResponseApdu::parse(&answer).step(step)?;
            let id = mimcm::card_id_from_chuid(response.data())
                .map_err(|err| StepError::new(step, err))?;
            let source = if id.is_some() {
                "the card's CHUID"
            } else {
                "--cardid; the card's CHUID holds no GUID"
            };
            (id, source)
        }
        Some(StatusWord::NOT_FOUND) => (None, "--cardid; the card has no CHUID (6A82)"),
        _ => {
            expect_success(step, &answer)?;
            (None, "--cardid")
        }
    };
    let cardid =
        mimcm::choose_card_id(from_card, option).map_err(|err| StepError::new(step, err))?;
    println!("step {step}: ok, {cardid} ({source})");
    Ok(cardid)
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

/// The server's client. Cloned into the failure path, to cancel the request.
#[derive(Clone)]
struct Server {
    agent: ureq::Agent,
    base: String,
    reqid: String,
}

/// The smart card and card a command works on.
struct Ids {
    scid: String,
    cardid: CardId,
}

fn read_pem(step: &str, what: &str, path: &str) -> Result<Vec<u8>, StepError> {
    std::fs::read(path).map_err(|err| StepError::new(step, format!("{what} {path}: {err}")))
}

impl Server {
    fn new(options: &ServerOptions, reqid: &str) -> Result<Self, StepError> {
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
            reqid: reqid.to_owned(),
        })
    }

    /// The status and body of an answer.
    fn read(
        step: &str,
        answer: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
    ) -> Result<(u16, Zeroizing<String>), StepError> {
        let mut response = answer.map_err(|err| {
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

    /// GETs `url`: its status and body.
    fn get(&self, step: &str, url: &str) -> Result<(u16, Zeroizing<String>), StepError> {
        Self::read(step, self.agent.get(url).call())
    }

    /// POSTs (`put` false) or PUTs the JSON `body` to `url`: the status and body answered.
    fn send_json(
        &self,
        step: &str,
        put: bool,
        url: &str,
        body: &serde_json::Value,
    ) -> Result<(u16, Zeroizing<String>), StepError> {
        let body = body.to_string();
        let answer = if put {
            self.agent
                .put(url)
                .header("Content-Type", "application/json")
                .send(body.as_bytes())
        } else {
            self.agent
                .post(url)
                .header("Content-Type", "application/json")
                .send(body.as_bytes())
        };
        Self::read(step, answer)
    }

    /// GETs `url` and returns the JSON string it answers with 200.
    fn get_string(&self, step: &str, url: &str) -> Result<Zeroizing<String>, StepError> {
        let (status, body) = self.get(step, url)?;
        json_string(step, status, &[200], &body)
    }

    fn request_url(&self) -> String {
        format!("{}/requests/{}", self.base, encode(&self.reqid))
    }

    fn card_url(&self, ids: &Ids, endpoint: &str) -> String {
        format!(
            "{}/smartcards/{}/{endpoint}?cardid={}",
            self.request_url(),
            encode(&ids.scid),
            ids.cardid
        )
    }

    /// `GET /requests/{id}`.
    fn request(&self, step: &str) -> Result<RequestInfo, StepError> {
        let (status, body) = self.get(step, &self.request_url())?;
        expect_status(step, status, &[200], &body)?;
        RequestInfo::from_json(&body).map_err(|err| StepError::new(step, err))
    }

    /// `GET /profiletemplates/{id}/configuration/smartcards`.
    fn profile_configuration(
        &self,
        step: &str,
        template: &str,
    ) -> Result<ProfileConfig, StepError> {
        let url = format!(
            "{}/profiletemplates/{}/configuration/smartcards",
            self.base,
            encode(template)
        );
        let (status, body) = self.get(step, &url)?;
        expect_status(step, status, &[200], &body)?;
        ProfileConfig::from_json(&body).map_err(|err| StepError::new(step, err))
    }

    /// `POST /smartcards`: the smart card ID the server answers (201 for a new one, 200 for
    /// one the request has already, a retry).
    fn create_smartcard(
        &self,
        step: &str,
        cardid: &CardId,
        atr: &[u8],
    ) -> Result<String, StepError> {
        let body = serde_json::json!({
            "requestid": self.reqid,
            "cardid": cardid.to_string(),
            "atr": hex(atr).to_uppercase(),
        });
        let url = format!("{}/smartcards", self.base);
        let (status, answer) = self.send_json(step, false, &url, &body)?;
        let scid = json_string(step, status, &[200, 201], &answer)?;
        Ok(scid.to_string())
    }

    /// `PUT /requests/{id}` with the final `status`.
    fn close(&self, step: &str, status: &str) -> Result<(), StepError> {
        let body = serde_json::json!({ "status": status });
        let (answered, answer) = self.send_json(step, true, &self.request_url(), &body)?;
        expect_status(step, answered, &[200, 204], &answer)
    }

    fn authentication_response(
        &self,
        step: &str,
        ids: &Ids,
        challenge: &[u8; 8],
        diversified: bool,
    ) -> Result<[u8; 8], StepError> {
        let challenge = base64::engine::general_purpose::STANDARD.encode(challenge);
        let url = format!(
            "{}&challenge={}&diversified={}",
            self.card_url(ids, "authenticationresponse"),
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

    fn diversified_key(&self, step: &str, ids: &Ids) -> Result<AdminKey, StepError> {
        let (status, body) = self.get(step, &self.card_url(ids, "diversifiedkey"))?;
        if status == 204 {
            return Err(StepError::new(
                step,
                "the server answered 204: its profile does not diversify keys",
            ));
        }
        let text = json_string(step, status, &[200], &body)?;
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

    fn proposed_pin(&self, step: &str, ids: &Ids) -> Result<Zeroizing<String>, StepError> {
        let url = format!(
            "{}/smartcards/{}/serverproposedpin",
            self.base,
            encode(&ids.scid)
        );
        let pin = self.get_string(step, &url)?;
        println!(
            "step {step}: ok, a PIN of {}",
            count(pin.len(), "character", "characters")
        );
        Ok(pin)
    }
}

/// `Ok` for a status in `expected`; a redirect or any other status is the step's error, with
/// the server's message made safe to print (see [`server_message`]).
fn expect_status(step: &str, status: u16, expected: &[u16], body: &str) -> Result<(), StepError> {
    if expected.contains(&status) {
        return Ok(());
    }
    if (300..400).contains(&status) {
        return Err(StepError::new(
            step,
            format!(
                "the server answered {status}, a redirect, which card-admin does not follow \
                 (it could lead to plain HTTP off this machine); give the final URL with --server"
            ),
        ));
    }
    Err(StepError::new(
        step,
        format!("the server answered {status}: {}", server_message(body)),
    ))
}

/// The JSON string of an answer with a status in `expected`; for any other status, the
/// server's message (see [`expect_status`]).
fn json_string(
    step: &str,
    status: u16,
    expected: &[u16],
    body: &str,
) -> Result<Zeroizing<String>, StepError> {
    expect_status(step, status, expected, body)?;
    let text: String = serde_json::from_str(body).map_err(|_| {
        StepError::new(
            step,
            format!("the server's {status} answer is not a JSON string"),
        )
    })?;
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
        match json_string("step", status, &[200], body) {
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
        let text = json_string("step", 200, &[200], r#""F0Zudm4wPLY=""#)
            .ok()
            .unwrap();
        assert_eq!(text.as_str(), "F0Zudm4wPLY=");
    }
}
