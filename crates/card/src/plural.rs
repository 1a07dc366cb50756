//! Counts in messages: `1 byte`, `2 bytes`, never `1 bytes` (issue #14).

use core::fmt;

/// A number with its noun, singular for exactly one and plural otherwise.
pub(crate) struct Count {
    n: usize,
    one: &'static str,
    many: &'static str,
}

impl fmt::Display for Count {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let noun = if self.n == 1 { self.one } else { self.many };
        write!(f, "{} {noun}", self.n)
    }
}

/// `n byte(s)`.
pub(crate) const fn bytes(n: usize) -> Count {
    Count {
        n,
        one: "byte",
        many: "bytes",
    }
}

/// `n try left` / `n tries left`.
pub(crate) const fn tries_left(n: usize) -> Count {
    Count {
        n,
        one: "try left",
        many: "tries left",
    }
}

#[cfg(test)]
mod tests {
    extern crate alloc;
    use alloc::format;

    #[test]
    fn one_is_singular_and_every_other_count_plural() {
        assert_eq!(format!("{}", super::bytes(1)), "1 byte");
        assert_eq!(format!("{}", super::tries_left(1)), "1 try left");
        for n in [0, 2, 3, 10, 255, 65_536] {
            assert_eq!(format!("{}", super::bytes(n)), format!("{n} bytes"));
            assert_eq!(
                format!("{}", super::tries_left(n)),
                format!("{n} tries left")
            );
        }
    }
}
