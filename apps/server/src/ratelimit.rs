//! Key uses per operator per minute (`"rate_limit_per_minute"`): beyond the limit, 429.
//!
//! Only requests that would use a key count (an `authenticationresponse` or `diversifiedkey`
//! the core would answer with a key): refusals, malformed requests and proposed PINs do not.
//! The window slides: a use is counted for 60 seconds after it was allowed, so a burst at the
//! end of one minute and one at the start of the next cannot add up to twice the limit. A
//! refused (429) request is not counted, so a caller who waits gets in again.
//!
//! The counts live in memory: a restart forgets them (a limit on speed, not a quota).
//!
//! Refused requests (every 4xx: 400, 403, 404, 405, 414, 429) have a limit of their own per
//! operator, [`RefusalLimit`] (`"refusals_per_minute"`), so that a caller with a certificate
//! and no request cannot fill the disk with audit lines: past it, a refusal is answered 429;
//! the first of such a run is recorded, the rest are counted, and the count is recorded as
//! one line (a summary) with the caller's next recorded refusal, or when the server stops.

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

/// Refusals per operator per minute: what [`RefusalLimit::check`] says to do with one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// Under the limit: answer and record it; first, when `unrecorded` is not 0, a summary
    /// line for the refusals answered 429 without a line of their own since the last one.
    Record {
        /// Refusals answered 429 and not recorded one by one.
        unrecorded: u64,
    },
    /// Over the limit, the first of a run: answer 429 and record that.
    ThrottleAndRecord,
    /// Over the limit again: answer 429, count it, write no line.
    Throttle,
}

#[derive(Default)]
struct Refusals {
    /// When the recorded refusals of the last minute were made.
    times: VecDeque<Instant>,
    /// In a run over the limit (its first refusal is recorded).
    throttling: bool,
    /// Refusals answered 429 without a line since the last recorded one.
    unrecorded: u64,
}

/// The refusal limiter: per operator, the recorded refusals of the last minute.
pub struct RefusalLimit {
    per_minute: u32,
    refusals: Mutex<HashMap<String, Refusals>>,
}

impl RefusalLimit {
    /// A limiter of `per_minute` recorded refusals per operator.
    pub fn new(per_minute: u32) -> Self {
        Self {
            per_minute,
            refusals: Mutex::new(HashMap::new()),
        }
    }

    /// The limit.
    pub fn per_minute(&self) -> u32 {
        self.per_minute
    }

    /// One refusal of `operator` at `now`: record it, or answer 429 instead (recording the
    /// first of a run only). The window slides as for key uses; a refusal answered 429 is
    /// not counted in it.
    pub fn check(&self, operator: &str, now: Instant) -> Refusal {
        let mut refusals = self
            .refusals
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if refusals.len() > 1024 {
            // Keep operators seen in the last minute, and those whose count is not recorded yet.
            refusals.retain(|_, seen| {
                seen.unrecorded > 0
                    || seen
                        .times
                        .back()
                        .is_some_and(|&last| now.saturating_duration_since(last) < WINDOW)
            });
        }
        let seen = refusals.entry(operator.to_string()).or_default();
        while seen
            .times
            .front()
            .is_some_and(|&first| now.saturating_duration_since(first) >= WINDOW)
        {
            seen.times.pop_front();
        }
        if seen.times.len() < self.per_minute as usize {
            seen.times.push_back(now);
            seen.throttling = false;
            return Refusal::Record {
                unrecorded: std::mem::take(&mut seen.unrecorded),
            };
        }
        if !seen.throttling {
            seen.throttling = true;
            return Refusal::ThrottleAndRecord;
        }
        seen.unrecorded += 1;
        Refusal::Throttle
    }

    /// Takes every count not recorded yet (the server is stopping): operator and count.
    pub fn take_unrecorded(&self) -> Vec<(String, u64)> {
        let mut refusals = self
            .refusals
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut counts: Vec<(String, u64)> = refusals
            .iter_mut()
            .filter(|(_, seen)| seen.unrecorded > 0)
            .map(|(operator, seen)| (operator.clone(), std::mem::take(&mut seen.unrecorded)))
            .collect();
        counts.sort();
        counts
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

    #[test]
    fn refusals_past_the_limit_are_answered_429_and_counted_not_recorded() {
        let limit = RefusalLimit::new(2);
        let start = Instant::now();
        let at = |secs: u64| start + Duration::from_secs(secs);
        assert_eq!(
            limit.check("carol", at(0)),
            Refusal::Record { unrecorded: 0 }
        );
        assert_eq!(
            limit.check("carol", at(1)),
            Refusal::Record { unrecorded: 0 }
        );
        assert_eq!(limit.check("carol", at(2)), Refusal::ThrottleAndRecord);
        for second in 3..50 {
            assert_eq!(limit.check("carol", at(second)), Refusal::Throttle);
        }
        // Another operator is not throttled by carol's refusals.
        assert_eq!(
            limit.check("alice", at(10)),
            Refusal::Record { unrecorded: 0 }
        );
        // A minute after her first recorded refusal, one more is recorded, after the count.
        assert_eq!(
            limit.check("carol", at(60)),
            Refusal::Record { unrecorded: 47 }
        );
        assert_eq!(limit.check("carol", at(60)), Refusal::ThrottleAndRecord);
        assert_eq!(limit.check("carol", at(60)), Refusal::Throttle);
        assert_eq!(limit.take_unrecorded(), [(String::from("carol"), 1)]);
        assert_eq!(limit.take_unrecorded(), []);
        assert_eq!(
            limit.check("carol", at(200)),
            Refusal::Record { unrecorded: 0 }
        );
    }
}
