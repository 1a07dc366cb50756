//! The request-level facade, `cardadmin_mimcm::handle_request`, per endpoint: from the request target as a
//! server receives it to status, content type and JSON body. Its figure divided by the
//! example server's per-request latency (wrk, `benches/README.md`) is the share of a request
//! spent in the library.
//!
//! - `authenticationresponse/not_diversified`: MIM CM's documented request;
//! - `authenticationresponse/diversified`: the same with `diversified=True`;
//! - `diversifiedkey`: the card's key for the documented card ID;
//! - `serverproposedpin`: MIM CM's example, no query, `PinPolicy::default()`, the operating
//!   system's generator (`rand_core` 0.6 `OsRng`: one `getrandom` call per PIN, as the
//!   server's `cardadmin::rng::OsRng` makes);
//! - `bad_request/unencoded_plus`: a 400, message and JSON body included.
//!
//! Run: `taskset -c 0 cargo bench --bench cm_request` (see `benches/README.md`).

use cardadmin::{AdminKey, MasterKey, PinPolicy};
use criterion::{black_box, criterion_group, criterion_main, Criterion};

const REQUEST: &str = "/certificatemanagement/api/v1.0/requests/a9b4b42c-cc50-4c9b-89d1-bbc0bcd5a099/smartcards/17cf063d-e337-4aa9-a822-346554ddd3c9";
const CARD: &str = "cardid=bc88f13f-83ba-4037-8262-46eba1291c6e";

fn handle_request(c: &mut Criterion) {
    let key = AdminKey::from_bytes([0; 24]);
    let master = MasterKey::from_hex("00112233445566778899AABBCCDDEEFF0102030405060708").unwrap();
    let policy = PinPolicy::default();
    let profile = cardadmin_mimcm::Profile::new(&key, Some(&master), &policy).unwrap();
    let targets = [
        (
            "authenticationresponse/not_diversified",
            format!("{REQUEST}/authenticationresponse?{CARD}&challenge=1hFD%2Bcz%2F0so%3D&diversified=False"),
            200,
        ),
        (
            "authenticationresponse/diversified",
            format!("{REQUEST}/authenticationresponse?{CARD}&challenge=1hFD%2Bcz%2F0so%3D&diversified=True"),
            200,
        ),
        ("diversifiedkey", format!("{REQUEST}/diversifiedkey?{CARD}"), 200),
        (
            "serverproposedpin",
            "/CertificateManagement/api/v1.0/smartcards/C6BAD97C-F97F-4920-8947-BE980C98C6B5/serverproposedpin".to_string(),
            200,
        ),
        (
            "bad_request/unencoded_plus",
            format!("{REQUEST}/authenticationresponse?{CARD}&challenge=1hFD+cz/0so=&diversified=False"),
            400,
        ),
    ];
    let mut group = c.benchmark_group("handle_request");
    for (name, target, status) in &targets {
        let reply = cardadmin_mimcm::handle_request(&profile, target, &mut rand_core::OsRng);
        assert_eq!(reply.status(), *status, "{name}");
        group.bench_function(*name, |b| {
            b.iter(|| {
                cardadmin_mimcm::handle_request(&profile, black_box(target), &mut rand_core::OsRng)
                    .into_body()
            })
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    // 1 s warm-up and 3 s measurement, as the core's benches (benches/common/mod.rs).
    config = Criterion::default()
        .warm_up_time(std::time::Duration::from_secs(1))
        .measurement_time(std::time::Duration::from_secs(3))
        .configure_from_args();
    targets = handle_request
}
criterion_main!(benches);
