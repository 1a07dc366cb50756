//! The three MIM CM endpoints end to end: the documented authentication response, a
//! diversified key with its check value, and a server-proposed PIN.
//!
//! Run with `cargo run --example mim_cm --features getrandom`.

use cardadmin::rng::OsRng;
use cardadmin::{cm, AdminKey, MasterKey, PinPolicy};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // MIM CM REST API documentation, "Get smart card authentication response".
    // The initial admin key (what blank cards ship with) and the master key that derives each
    // card's own key are two different keys: the master never answers a challenge. Both are
    // the example server's (apps/server/config.example.json), so this prints the card key the
    // server gives for the same card; the master is published, so it is for trying things only.
    let admin_key = AdminKey::from_hex("000000000000000000000000000000000000000000000000")?;
    let master = MasterKey::from_hex("DA20D81B7D17734F8166BE8BAC0EC94DD8E793D74ACEC8B7")?;
    cm::check_roles(&admin_key, &master)?;
    let card_id = "bc88f13f-83ba-4037-8262-46eba1291c6e";
    let response =
        cm::authentication_response(&admin_key, Some(&master), card_id, "1hFD+cz/0so=", false)?;
    println!("authenticationresponse (challenge 1hFD+cz/0so=, not diversified): \"{response}\"");

    let card_key = cm::diversified_key(&master, card_id)?;
    println!(
        "diversifiedkey for card {card_id}: \"{}\" (check value {})",
        card_key.to_base64().as_str(),
        card_key.check_value()
    );

    match cm::server_proposed_pin(&PinPolicy::default(), &mut OsRng)? {
        Some(pin) => println!("serverproposedpin: \"{}\"", pin.as_str()),
        None => println!("serverproposedpin: 204 No Content (the user chooses the PIN)"),
    }
    Ok(())
}
