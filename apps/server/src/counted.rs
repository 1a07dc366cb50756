//! Counts in the messages the server prints: "1 line", "2 lines", never "1 lines".

/// `count` and the noun that goes with it: `one` for exactly 1, else `many`.
pub fn counted(count: u64, one: &str, many: &str) -> String {
    if count == 1 {
        format!("{count} {one}")
    } else {
        format!("{count} {many}")
    }
}

#[cfg(test)]
mod tests {
    use super::counted;

    #[test]
    fn one_takes_the_singular_and_every_other_count_the_plural() {
        assert_eq!(counted(1, "line", "lines"), "1 line");
        assert_eq!(counted(0, "line", "lines"), "0 lines");
        assert_eq!(counted(2, "record", "records"), "2 records");
        assert_eq!(counted(1, "node", "nodes"), "1 node");
    }
}
