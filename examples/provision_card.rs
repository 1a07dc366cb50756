//! Provisioning a card: derive its own admin key from the master admin key and its card ID
//! (the `diversifiedkey` endpoint), and audit both keys.
//!
//! Run with `cargo run --example provision_card [CARD_ID]`. The master key is NXP AN10922's
//! published example key unless the environment variable `CARDADMIN_MASTER_KEY` holds another
//! one (48 hex digits). Keys are identified by their check value (KCV) only: the example never
//! prints key bytes, and neither should a server's logs.
//!
//! With the defaults it prints, for card `bc88f13f-83ba-4037-8262-46eba1291c6e`: master key
//! check value `79B3D3` (X9.24-1 CMAC method: `openssl mac -cipher DES-EDE3-CBC ... CMAC` of 8
//! zero bytes agrees), card key check value `E89382` (the key of the cross-checked vector in
//! `tests/vectors/diversify_crosscheck.txt`), a clean audit for both, and odd parity for the
//! card key, which AN10922 diversification always sets.

use cardadmin::{AdminKey, CardId, KeyAudit, MasterKey, Zeroizing};

/// NXP AN10922's 3TDEA example master key: public, so fine for a demonstration only.
const EXAMPLE_MASTER_KEY: &str = "00112233445566778899AABBCCDDEEFF0102030405060708";
const EXAMPLE_CARD_ID: &str = "bc88f13f-83ba-4037-8262-46eba1291c6e";

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let master = match std::env::var("CARDADMIN_MASTER_KEY") {
        Ok(text) => {
            let text = Zeroizing::new(text);
            println!("master key: from CARDADMIN_MASTER_KEY");
            MasterKey::from_hex(text.trim())?
        }
        Err(_) => {
            println!("master key: the AN10922 example key (set CARDADMIN_MASTER_KEY for another)");
            MasterKey::from_hex(EXAMPLE_MASTER_KEY)?
        }
    };
    let card_id: CardId = std::env::args()
        .nth(1)
        .as_deref()
        .unwrap_or(EXAMPLE_CARD_ID)
        .parse()?;

    // A master key's check value is X9.24-1's CMAC method (CMAC of a zero block), a card
    // key's the legacy E_K(0): see the `cardadmin::master` module docs.
    println!("master key check value (CMAC): {}", master.check_value());
    print_audit("master key", &master.audit());

    // The card ID as the card's `cardid` file holds it: the Windows GUID byte layout, first
    // three fields little-endian. This is what the derivation reads.
    println!("card ID: {card_id}");
    println!("card ID bytes (GUID layout): {}", hex(card_id.as_bytes()));

    let card_key = master.diversify(&card_id);
    println!("card key check value: {}", card_key.check_value());
    print_audit("card key", &card_key.audit());

    // The same master key and card ID always give the same card key; another card, another key.
    let again = master.diversify(&card_id);
    let other = master.diversify(&CardId::from_bytes([0x11; 16]));
    println!(
        "derivation is deterministic: {}; another card gets another key: {}",
        yes_no(again.check_value() == card_key.check_value()),
        yes_no(other.check_value() != card_key.check_value())
    );

    // What a weak master key looks like to the audit: the documentation's all-zero key.
    let zero = AdminKey::from_bytes([0; 24]);
    print_audit("all-zero key (for comparison)", &zero.audit());
    Ok(())
}

fn print_audit(name: &str, audit: &KeyAudit) {
    if audit.is_clean() {
        println!("{name} audit: clean");
    } else {
        println!("{name} audit:");
        for finding in audit.findings() {
            println!("  - {finding}");
        }
    }
    println!(
        "{name} parity: {}",
        if audit.has_odd_parity() {
            "odd in every byte (the DES convention)"
        } else {
            "not odd in every byte (DES ignores parity; some tools check it)"
        }
    );
}

fn yes_no(value: bool) -> &'static str {
    if value {
        "yes"
    } else {
        "no"
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}
