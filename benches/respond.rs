//! `AdminKey::respond` with the key reused, the hot path of the authenticationresponse endpoint.

use cardadmin::{AdminKey, Challenge};
use criterion::{black_box, criterion_group, criterion_main, Criterion};

fn respond(c: &mut Criterion) {
    let key = AdminKey::from_hex("0123456789abcdef23456789abcdef01456789abcdef0123").unwrap();
    let challenge = Challenge::from_base64("1hFD+cz/0so=").unwrap();
    c.bench_function("AdminKey::respond", |b| {
        b.iter(|| black_box(&key).respond(black_box(&challenge)))
    });
}

criterion_group!(benches, respond);
criterion_main!(benches);
