#![cfg(feature = "serde")]
//! The example server's configuration (`apps/server/config.example.json`) and the answers
//! the server stage of CI (`.ci/stages/server.sh`) expects from it: derived here from the file
//! with the library, so the values the CI checks over HTTP are not typed in by hand only.

use cardadmin::{cm, AdminKey, MasterKey, PinPolicy};

const CONFIG: &str = include_str!("../apps/server/config.example.json");
const CI: &str = include_str!("../.ci/stages/server.sh");
const REQ: &str = "/CertificateManagement/api/v1.0/requests/a9b4b42c-cc50-4c9b-89d1-bbc0bcd5a099/smartcards/17cf063d-e337-4aa9-a822-346554ddd3c9";

#[test]
fn the_ci_expectations_follow_from_the_example_configuration() {
    let config: serde_json::Value = serde_json::from_str(CONFIG).unwrap();
    let fields: Vec<&str> = config
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        fields,
        ["diversification_key", "initial_admin_key", "pin_policy"]
    );
    let initial = AdminKey::from_hex(config["initial_admin_key"].as_str().unwrap()).unwrap();
    let master = MasterKey::from_hex(config["diversification_key"].as_str().unwrap()).unwrap();
    // The documentation's all-zero initial key (weak, and the server warns), and a master that
    // audits clean.
    assert_eq!(initial.check_value().to_string(), "8CA64D");
    assert!(!initial.audit().is_clean());
    assert!(master.audit().is_clean());
    let policy: PinPolicy = serde_json::from_value(config["pin_policy"].clone()).unwrap();
    let profile = cm::Profile::new(&initial, Some(&master), &policy).unwrap();

    let get = |target: String| {
        let reply = cm::handle_request(&profile, &target, &mut rand_core::OsRng);
        assert_eq!(reply.status(), 200, "{}", reply.body());
        reply.body().to_owned()
    };
    let documented = get(format!(
        "{REQ}/authenticationresponse?cardid=bc88f13f-83ba-4037-8262-46eba1291c6e&challenge=1hFD%2Bcz%2F0so%3D&diversified=False"
    ));
    assert_eq!(documented, r#""F0Zudm4wPLY=""#);
    let diversified = get(format!(
        "{REQ}/authenticationresponse?cardid=(bc88f13f-83ba-4037-8262-46eba1291c6e)&challenge=1hFD%2Bcz%2F0so%3D&diversified=true&atr=3b8f8001"
    ));
    let key = get(format!(
        "{REQ}/diversifiedkey?cardid=bc88f13f-83ba-4037-8262-46eba1291c6e"
    ));
    // The CI stage checks exactly these bodies (quoted in single quotes in the script).
    for (name, body) in [("diversified=True", &diversified), ("diversifiedkey", &key)] {
        let expected = format!("check \"{name}\" 200 \"$json\" '{body}'");
        assert!(
            CI.contains(&expected),
            "{expected} is not in .ci/stages/server.sh"
        );
    }
    // And they are the master's derivation, not the initial key's.
    let card = "bc88f13f-83ba-4037-8262-46eba1291c6e".parse().unwrap();
    assert_eq!(
        key,
        format!("\"{}\"", master.diversify(&card).to_base64().as_str())
    );
    assert_ne!(
        key,
        format!(
            "\"{}\"",
            MasterKey::from_hex(config["initial_admin_key"].as_str().unwrap())
                .unwrap()
                .diversify(&card)
                .to_base64()
                .as_str()
        )
    );
}
