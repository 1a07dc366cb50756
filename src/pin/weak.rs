//! The weak-PIN rules: patterns a person guessing PINs tries first.

/// Which weak pattern a PIN matches, checked in the order of the specification.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum WeakPattern {
    /// Rule 1: every character the same.
    AllSame,
    /// Rule 2: each character one more, or each one less, than the one before (ASCII codes).
    Sequence,
    /// Rule 3: a block of 2 or 3 characters repeated a whole number of times, at least twice.
    RepeatedBlock { block_len: usize },
}

/// The first weak pattern `pin` matches. PINs are never shorter than 4 characters, so patterns
/// are only looked for in 2 characters or more.
pub(crate) fn weak_pattern(pin: &[u8]) -> Option<WeakPattern> {
    if pin.len() < 2 {
        return None;
    }
    let steps_all = |step: i16| {
        pin.windows(2)
            .all(|pair| matches!(pair, [a, b] if i16::from(*b) - i16::from(*a) == step))
    };
    if steps_all(0) {
        return Some(WeakPattern::AllSame);
    }
    if steps_all(1) || steps_all(-1) {
        return Some(WeakPattern::Sequence);
    }
    [2, 3]
        .into_iter()
        .find(|&block_len| {
            pin.len() % block_len == 0
                && pin.len() / block_len >= 2
                && pin
                    .chunks_exact(block_len)
                    .all(|block| pin.get(..block_len) == Some(block))
        })
        .map(|block_len| WeakPattern::RepeatedBlock { block_len })
}

#[cfg(test)]
mod tests {
    use super::{weak_pattern, WeakPattern};

    #[test]
    fn specification_examples() {
        for pin in ["000000", "aaaa"] {
            assert_eq!(
                weak_pattern(pin.as_bytes()),
                Some(WeakPattern::AllSame),
                "{pin}"
            );
        }
        for pin in ["123456", "654321", "abcd", "4567"] {
            assert_eq!(
                weak_pattern(pin.as_bytes()),
                Some(WeakPattern::Sequence),
                "{pin}"
            );
        }
        assert_eq!(
            weak_pattern(b"121212"),
            Some(WeakPattern::RepeatedBlock { block_len: 2 })
        );
        assert_eq!(
            weak_pattern(b"123123"),
            Some(WeakPattern::RepeatedBlock { block_len: 3 })
        );
        assert_eq!(
            weak_pattern(b"abab"),
            Some(WeakPattern::RepeatedBlock { block_len: 2 })
        );
        assert_eq!(weak_pattern(b"1212121"), None);
        assert_eq!(weak_pattern(b"1234512345"), None);
        assert_eq!(weak_pattern(b"135790"), None);
    }

    /// Below the 4 characters of any policy: what `validate` never asks, pinned so that the
    /// guards stay exact (no pattern in fewer than 2 characters, a block repeated at least
    /// twice).
    #[test]
    fn short_inputs() {
        assert_eq!(weak_pattern(b""), None);
        assert_eq!(weak_pattern(b"7"), None);
        assert_eq!(weak_pattern(b"77"), Some(WeakPattern::AllSame));
        assert_eq!(weak_pattern(b"78"), Some(WeakPattern::Sequence));
        // One block of 2 or 3 is not a repetition.
        assert_eq!(weak_pattern(b"13"), None);
        assert_eq!(weak_pattern(b"135"), None);
        assert_eq!(
            weak_pattern(b"1313"),
            Some(WeakPattern::RepeatedBlock { block_len: 2 })
        );
        assert_eq!(
            weak_pattern(b"135135"),
            Some(WeakPattern::RepeatedBlock { block_len: 3 })
        );
    }
}
