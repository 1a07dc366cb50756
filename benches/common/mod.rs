//! What every bench file shares: criterion's settings.

use std::time::Duration;

use criterion::Criterion;

/// 1 s warm-up and 3 s measurement per bench, so `cargo bench` stays a few minutes on a
/// 2-core machine; criterion's command-line flags still override both.
pub fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .configure_from_args()
}
