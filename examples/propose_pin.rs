//! The `serverproposedpin` endpoint and PIN checking: load a profile template's PIN policy,
//! propose PINs, and say why user-chosen PINs are refused.
//!
//! Run with `cargo run --example propose_pin --features getrandom`, which builds the policy in code, or with
//! `cargo run --example propose_pin --features getrandom,serde`, which loads the same policy from JSON
//! (the shape the crate docs describe). Either way: 8 to 12 characters, digits and uppercase
//! letters required, lowercase letters allowed, punctuation disallowed, weak PINs refused,
//! proposed length 10.
//!
//! The proposed PINs are printed because showing them is the point of this demonstration; a
//! server returns one to the client once and does not log it.

use cardadmin::rng::OsRng;
use cardadmin::{cm, PinPolicy, UserPinOption};

/// The policy as a configuration file would hold it.
#[cfg(feature = "serde")]
const POLICY_JSON: &str = r#"{
    "min_len": 8,
    "max_len": 12,
    "proposed_len": 10,
    "digits": "Require",
    "lowercase": "Allow",
    "uppercase": "Require",
    "special": "Disallow",
    "reject_weak": true,
    "user_pin_option": "Randomized"
}"#;

#[cfg(feature = "serde")]
fn load_policy() -> Result<PinPolicy, Box<dyn std::error::Error>> {
    println!("policy: loaded from JSON (serde feature on)");
    Ok(serde_json::from_str(POLICY_JSON)?)
}

#[cfg(not(feature = "serde"))]
fn load_policy() -> Result<PinPolicy, Box<dyn std::error::Error>> {
    use cardadmin::CharRule;

    println!("policy: built in code (run with --features serde to load it from JSON)");
    Ok(PinPolicy::builder()
        .min_len(8)
        .max_len(12)
        .proposed_len(10)
        .digits(CharRule::Require)
        .lowercase(CharRule::Allow)
        .uppercase(CharRule::Require)
        .special(CharRule::Disallow)
        .reject_weak(true)
        .user_pin_option(UserPinOption::Randomized)
        .build()?)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let policy = load_policy()?;
    println!(
        "  {}..={} characters, proposed {}; digits {:?}, lowercase {:?}, uppercase {:?}, \
         special {:?}; weak PINs refused: {}",
        policy.min_len(),
        policy.max_len(),
        policy.proposed_len(),
        policy.digits(),
        policy.lowercase(),
        policy.uppercase(),
        policy.special(),
        policy.reject_weak()
    );

    // serverproposedpin: the random generator is the caller's, and must be a CSPRNG.
    println!("server-proposed PINs (each checked against the policy):");
    for _ in 0..3 {
        match cm::server_proposed_pin(&policy, &mut OsRng)? {
            Some(pin) => println!(
                "  {} -> {}",
                pin.as_str(),
                match policy.validate(pin.as_str()) {
                    Ok(()) => String::from("accepted"),
                    Err(reason) => format!("REFUSED: {reason}"),
                }
            ),
            None => println!("  204 No Content"),
        }
    }

    // PINs a user might choose, each with the policy's verdict.
    println!("user-chosen PINs:");
    for pin in [
        "K7R2M9Q4",
        "k7r2m9q4",
        "K7R2 M9Q4",
        "K7R2-M9Q4",
        "K7R2",
        "ABCDEFGH",
        "A1A1A1A1",
        "AB1AB1AB1",
        "Z9x8Y7w6",
        "K7R2M9Q4K7R2M",
    ] {
        match policy.validate(pin) {
            Ok(()) => println!("  {pin:<14} accepted"),
            Err(reason) => println!("  {pin:<14} refused: {reason}"),
        }
    }

    // When the profile template leaves the PIN to the user, the endpoint answers 204.
    let user_chooses = PinPolicy::builder()
        .user_pin_option(UserPinOption::UserProvided)
        .build()?;
    match cm::server_proposed_pin(&user_chooses, &mut OsRng)? {
        Some(_) => println!("UserProvided policy: unexpectedly proposed a PIN"),
        None => println!("UserProvided policy: 204 No Content (the user chooses the PIN)"),
    }
    Ok(())
}
