//! The `authenticationresponse` endpoint of MIM CM, with the exchange its documentation shows.
//!
//! Run with `cargo run --example authentication_response`. Every check ends in `ok` when the
//! crate agrees with the documentation ("Get smart card authentication response", MIM CM REST
//! API): the all-zero admin key answers the challenge `1hFD+cz/0so=`, not diversified, with
//! `F0Zudm4wPLY=`. A `MISMATCH` makes the program exit with an error.

use cardadmin::{cm, AdminKey, Challenge, MasterKey};

/// The documented request and its documented answer.
const CARD_ID: &str = "bc88f13f-83ba-4037-8262-46eba1291c6e";
const CHALLENGE: &str = "1hFD+cz/0so=";
const DOCUMENTED_RESPONSE: &str = "F0Zudm4wPLY=";

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // The documentation's initial admin key is all zeros. The master (diversification) key is
    // another key: NXP AN10922's published example here. A real server reads both from
    // protected configuration or an HSM; keys are never printed, only their check values.
    let admin_key = AdminKey::from_hex("000000000000000000000000000000000000000000000000")?;
    let master = MasterKey::from_hex("00112233445566778899AABBCCDDEEFF0102030405060708")?;
    println!("initial admin key check value: {}", admin_key.check_value());
    println!(
        "master key check value (CMAC method): {}",
        master.check_value()
    );

    println!(
        "GET /requests/{{reqid}}/smartcards/{{scid}}/authenticationresponse\
         ?cardid={CARD_ID}&challenge={CHALLENGE}&diversified=false"
    );
    let mut checks = Checks::default();
    let response =
        cm::authentication_response(&admin_key, Some(&master), CARD_ID, CHALLENGE, false)?;
    println!(
        "  body: \"{response}\" (documented: \"{DOCUMENTED_RESPONSE}\") {}",
        checks.verdict(response.to_string() == DOCUMENTED_RESPONSE)
    );

    // The same computation through the typed API, and the bytes behind the base64.
    let challenge = Challenge::from_base64(CHALLENGE)?;
    println!(
        "  challenge bytes {}, response bytes {}",
        hex(challenge.as_bytes()),
        hex(response.as_bytes())
    );
    println!(
        "  AdminKey::respond agrees {}, AdminKey::verify accepts it {}",
        checks.verdict(admin_key.respond(&challenge)? == response),
        checks.verdict(admin_key.verify(&challenge, &response))
    );

    // With diversified=true the card's own key, derived from the master, answers, so the body
    // differs.
    let diversified =
        cm::authentication_response(&admin_key, Some(&master), CARD_ID, CHALLENGE, true)?;
    let card_key = master.diversify(&CARD_ID.parse()?);
    println!("same request with diversified=true:");
    println!(
        "  body: \"{diversified}\" (card key check value {}); differs from the plain answer {}",
        card_key.check_value(),
        checks.verdict(diversified != response)
    );

    // What a server answers 400 with: the URL decoder turned the '+' into a space.
    let mangled = CHALLENGE.replace('+', " ");
    println!("challenge={mangled} (a '+' decoded to a space):");
    match cm::authentication_response(&admin_key, Some(&master), CARD_ID, &mangled, false) {
        Ok(response) => println!("  unexpected answer \"{response}\""),
        Err(err) => println!("  400 Bad Request: {err}"),
    }

    if checks.failed > 0 {
        return Err(format!("{} check(s) disagree with the documentation", checks.failed).into());
    }
    println!("all checks ok");
    Ok(())
}

/// Counts the checks that failed, so a mismatch fails the program and not just its output.
#[derive(Default)]
struct Checks {
    failed: usize,
}

impl Checks {
    fn verdict(&mut self, ok: bool) -> &'static str {
        if ok {
            "ok"
        } else {
            self.failed += 1;
            "MISMATCH"
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}
