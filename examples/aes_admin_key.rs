//! AES admin keys next to 3DES ones: the same bytes as two different keys, a 16-byte challenge
//! answered and checked, AN10922 diversification for each AES size, the audit of a well-known
//! default, and the offline unblock exchange.
//!
//! Run with `cargo run --example aes_admin_key`.

use cardadmin::{unblock, AdminKey, Algorithm, CardId, Challenge, MasterKey};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // The YubiKey 5.7 default management key: the old 3DES default bytes, used as AES-192.
    let default = [1, 2, 3, 4, 5, 6, 7, 8].repeat(3);
    let aes = AdminKey::new(Algorithm::Aes192, &default)?;
    let tdes = AdminKey::new(Algorithm::Tdes, &default)?;
    println!(
        "the same 24 bytes as {} (check value {}) and as {} (check value {})",
        aes.algorithm(),
        aes.check_value(),
        tdes.algorithm(),
        tdes.check_value()
    );
    for finding in aes.audit().findings() {
        println!("  audit of the AES-192 key: {finding}");
    }

    // YubiKey 5.7: challenge 0102..0F10 answers 3D6E6D9CD337292EE20FB60B8A844F19.
    let challenge = Challenge::from_slice(&(1..=16).collect::<Vec<u8>>())?;
    let response = aes.respond(&challenge)?;
    println!("challenge {challenge} -> response {response}");
    println!("  verify: {}", aes.verify(&challenge, &response));
    match tdes.respond(&challenge) {
        Ok(_) => println!("  (unexpected: a 3DES key answered 16 bytes)"),
        Err(err) => println!("  the 3DES key refuses it: {err}"),
    }

    // AN10922 for every AES size, over a card ID.
    let card: CardId = "bc88f13f-83ba-4037-8262-46eba1291c6e".parse()?;
    for algorithm in [Algorithm::Aes128, Algorithm::Aes192, Algorithm::Aes256] {
        let master = MasterKey::new(algorithm, &[0x5a; 32][..algorithm.key_len()])?;
        let card_key = master.diversify(&card);
        println!(
            "{algorithm} master {} diversified for {card}: check value {}",
            master.check_value(),
            card_key.check_value()
        );
    }

    // Offline unblock, as the help desk types what the user reads out.
    let typed = "0102 0304 0506 0708 090a 0b0c 0d0e 0f10";
    println!("unblock {typed:?} -> {}", unblock::respond(&aes, typed)?);
    Ok(())
}
