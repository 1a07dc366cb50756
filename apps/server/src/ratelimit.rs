//! Key uses per operator per minute (`"rate_limit_per_minute"`): beyond the limit, 429.
//!
//! Only requests that would use a key count (an `authenticationresponse` or `diversifiedkey`
//! the core would answer with a key): refusals, malformed requests and proposed PINs do not.
//! The window slides: a use is counted for 60 seconds after it was allowed, so a burst at the
//! end of one minute and one at the start of the next cannot add up to twice the limit. A
//! refused (429) request is not counted, so a caller who waits gets in again.
//!
//! The counts live in memory: a restart forgets them (a limit on speed, not a quota).

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

const WINDOW: Duration = Duration::from_secs(60);

/// The limiter: per operator, the times of the key uses of the last minute.
pub struct RateLimit {
    per_minute: u32,
    uses: Mutex<HashMap<String, VecDeque<Instant>>>,
}

impl RateLimit {
    /// A limiter of `per_minute` key uses per operator (0 refuses every key use).
    pub fn new(per_minute: u32) -> Self {
        Self {
            per_minute,
            uses: Mutex::new(HashMap::new()),
        }
    }

    /// The limit.
    pub fn per_minute(&self) -> u32 {
        self.per_minute
    }

    /// Counts one key use by `operator` at `now` if the limit allows it: `true`, or `false`
    /// (answer 429) when the operator already used `per_minute` keys in the minute before
    /// `now`.
    pub fn allow(&self, operator: &str, now: Instant) -> bool {
        let mut uses = self
            .uses
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        // Forget operators with nothing in the window, so the map stays as small as the
        // number of recently active operators.
        if uses.len() > 1024 {
            uses.retain(|_, times| {
                times
                    .back()
                    .is_some_and(|&last| now.saturating_duration_since(last) < WINDOW)
            });
        }
        let times = uses.entry(operator.to_string()).or_default();
        while times
            .front()
            .is_some_and(|&first| now.saturating_duration_since(first) >= WINDOW)
        {
            times.pop_front();
        }
        if times.len() >= self.per_minute as usize {
            return false;
        }
        times.push_back(now);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_limit_per_operator_slides_over_a_minute() {
        let limit = RateLimit::new(3);
        let start = Instant::now();
        let at = |secs: u64| start + Duration::from_secs(secs);
        assert!(limit.allow("alice", at(0)));
        assert!(limit.allow("alice", at(10)));
        assert!(limit.allow("alice", at(20)));
        assert!(!limit.allow("alice", at(30)));
        // Another operator has a limit of their own.
        assert!(limit.allow("bob", at(30)));
        // The refused use was not counted: at 60 s the first use leaves the window.
        assert!(!limit.allow("alice", at(59)));
        assert!(limit.allow("alice", at(60)));
        assert!(!limit.allow("alice", at(69)));
        assert!(limit.allow("alice", at(70)));
        assert!(limit.allow("alice", at(200)));
    }

    #[test]
    fn zero_refuses_every_key_use() {
        let limit = RateLimit::new(0);
        assert!(!limit.allow("alice", Instant::now()));
    }
}
