//! Text that card-admin prints but did not write: a server's error message, an HTTP library's
//! error. A hostile or broken server must not be able to drive the user's terminal (clear the
//! screen, rewrite the title, move the cursor over earlier lines, forge a `step ...: ok` line),
//! so its text is reduced to printable characters before it is shown.

/// At most this many characters of a server's text are shown (a server may send megabytes).
pub const SHOWN_CHARS: usize = 200;

/// `text` without terminal controls, at most [`SHOWN_CHARS`] characters (with `...` when cut):
///
/// - escape sequences are removed whole: CSI (`ESC [` parameters, intermediates and the final
///   byte), OSC (`ESC ]` up to BEL or ST), DCS, SOS, PM and APC (`ESC P`, `X`, `^`, `_` up to
///   ST), and two-character and nF escapes (`ESC` intermediates then a final byte); the C1
///   introducers (U+009B CSI, U+009D OSC, U+0090 DCS, U+0098 SOS, U+009E PM, U+009F APC)
///   likewise;
/// - tab, line feed, carriage return (and the vertical tab and form feed) become one space, so
///   a message cannot start a line of its own;
/// - every other C0 control (U+0000 to U+001F), DEL (U+007F) and C1 control (U+0080 to
///   U+009F) is removed;
/// - so are the bidirectional formatting characters (U+061C, U+200E, U+200F, U+202A to
///   U+202E, U+2066 to U+2069): a terminal that honours them would show a message's words in
///   another order than they were sent (one part hidden behind another, or `ok` moved to the
///   end of a line).
pub fn strip_controls(text: &str) -> String {
    let mut out = String::with_capacity(text.len().min(SHOWN_CHARS * 4));
    let mut shown = 0usize;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        let kept = match c {
            '\u{1b}' => {
                match chars.next() {
                    Some('[') => skip_csi(&mut chars),
                    Some(']') => skip_string(&mut chars, true),
                    Some('P' | 'X' | '^' | '_') => skip_string(&mut chars, false),
                    // nF escapes: intermediates (0x20..=0x2F), then one final byte.
                    Some(' '..='/') => {
                        while chars.next_if(|c| matches!(c, ' '..='/')).is_some() {}
                        chars.next();
                    }
                    // Fp, Fe and Fs escapes: the one character after ESC is all of it.
                    Some(_) | None => {}
                }
                None
            }
            '\u{9b}' => {
                skip_csi(&mut chars);
                None
            }
            '\u{9d}' => {
                skip_string(&mut chars, true);
                None
            }
            '\u{90}' | '\u{98}' | '\u{9e}' | '\u{9f}' => {
                skip_string(&mut chars, false);
                None
            }
            '\t' | '\n' | '\r' | '\u{0b}' | '\u{0c}' => Some(' '),
            c if c.is_control() => None,
            '\u{61c}'
            | '\u{200e}'
            | '\u{200f}'
            | '\u{202a}'..='\u{202e}'
            | '\u{2066}'..='\u{2069}' => None,
            c => Some(c),
        };
        if let Some(c) = kept {
            if shown == SHOWN_CHARS {
                out.push_str("...");
                break;
            }
            out.push(c);
            shown += 1;
        }
    }
    out
}

/// Skips a control sequence's parameter bytes (0x30..=0x3F), intermediate bytes
/// (0x20..=0x2F) and final byte (0x40..=0x7E). Anything else ends it early, unskipped.
fn skip_csi(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) {
    while chars.next_if(|c| matches!(c, '0'..='?')).is_some() {}
    while chars.next_if(|c| matches!(c, ' '..='/')).is_some() {}
    chars.next_if(|c| matches!(c, '@'..='~'));
}

/// Skips a control string up to and with its terminator: ST (`ESC \` or U+009C), or BEL too
/// when `bel_ends` (OSC). An unterminated string runs to the end of the text.
fn skip_string(chars: &mut std::iter::Peekable<std::str::Chars<'_>>, bel_ends: bool) {
    while let Some(c) = chars.next() {
        match c {
            '\u{9c}' => return,
            '\u{07}' if bel_ends => return,
            '\u{1b}' => {
                chars.next_if_eq(&'\\');
                return;
            }
            _ => {}
        }
    }
}

/// `1 byte`, `2 bytes`: a count with its noun in the right number.
pub fn count(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csi_sequences_are_removed_whole() {
        assert_eq!(strip_controls("\u{1b}[2Jcleared"), "cleared");
        assert_eq!(strip_controls("a\u{1b}[1;31mred\u{1b}[0m b"), "ared b");
        // Cursor up and erase line: the trick that overwrites an earlier line of output.
        assert_eq!(
            strip_controls("x\u{1b}[1A\u{1b}[2Kstep enroll: ok"),
            "xstep enroll: ok"
        );
        assert_eq!(strip_controls("\u{1b}[?25lhidden cursor"), "hidden cursor");
        // The C1 form of CSI (U+009B).
        assert_eq!(strip_controls("\u{9b}31mred"), "red");
    }

    #[test]
    fn osc_and_other_control_strings_are_removed_up_to_their_terminator() {
        // A window-title change ended by BEL, and by ST.
        assert_eq!(strip_controls("\u{1b}]0;owned\u{07}text"), "text");
        assert_eq!(strip_controls("\u{1b}]0;owned\u{1b}\\text"), "text");
        // A hyperlink (OSC 8) keeps its visible words, not its target.
        assert_eq!(
            strip_controls("\u{1b}]8;;http://evil/\u{1b}\\click\u{1b}]8;;\u{1b}\\"),
            "click"
        );
        assert_eq!(strip_controls("\u{9d}0;owned\u{9c}text"), "text");
        // DCS, SOS, PM, APC, in both forms.
        for introducer in ["\u{1b}P", "\u{1b}X", "\u{1b}^", "\u{1b}_"] {
            assert_eq!(
                strip_controls(&format!("{introducer}payload\u{1b}\\ok")),
                "ok"
            );
        }
        for introducer in ['\u{90}', '\u{98}', '\u{9e}', '\u{9f}'] {
            assert_eq!(
                strip_controls(&format!("{introducer}payload\u{9c}ok")),
                "ok"
            );
        }
        // Unterminated: the rest is the string's.
        assert_eq!(strip_controls("shown\u{1b}]0;never ends"), "shown");
    }

    #[test]
    fn short_escapes_lose_their_one_character() {
        // RIS (full reset), index, and an nF escape (designate a character set).
        assert_eq!(strip_controls("\u{1b}cab"), "ab");
        assert_eq!(strip_controls("a\u{1b}Db"), "ab");
        assert_eq!(strip_controls("a\u{1b}(Bb"), "ab");
        assert_eq!(strip_controls("ends with escape\u{1b}"), "ends with escape");
    }

    #[test]
    fn line_breaks_and_tabs_become_spaces_so_no_line_can_be_forged() {
        assert_eq!(
            strip_controls("refused\r\nstep write diversified key: ok"),
            "refused  step write diversified key: ok"
        );
        assert_eq!(strip_controls("a\tb\u{0b}c\u{0c}d"), "a b c d");
    }

    #[test]
    fn every_c0_del_and_c1_control_is_removed() {
        let mut all = String::new();
        for c in (0u32..0x20).chain(0x7f..0xa0).filter_map(char::from_u32) {
            all.push(c);
            all.push('x');
        }
        let stripped = strip_controls(&all);
        assert!(!stripped.chars().any(char::is_control), "{stripped:?}");
        assert!(stripped.contains("xxx"), "{stripped:?}");
    }

    #[test]
    fn bidirectional_formatting_characters_are_removed() {
        // After a right-to-left override a terminal shows "ko :1 pets" as "step 1: ok".
        assert_eq!(
            strip_controls("refused\u{202e}ko :1 pets"),
            "refusedko :1 pets"
        );
        for c in [
            '\u{61c}', '\u{200e}', '\u{200f}', '\u{202a}', '\u{202b}', '\u{202c}', '\u{202d}',
            '\u{202e}', '\u{2066}', '\u{2067}', '\u{2068}', '\u{2069}',
        ] {
            assert_eq!(strip_controls(&format!("a{c}b")), "ab", "{c:?}");
        }
        // Right-to-left text itself stays.
        assert_eq!(strip_controls("שלום"), "שלום");
    }

    #[test]
    fn printable_text_is_kept_as_it_is() {
        let text = "Request a9b4b42c is closed: ask an operator (état: fermé, 状態) 100%";
        assert_eq!(strip_controls(text), text);
    }

    #[test]
    fn long_text_is_cut_after_the_shown_characters() {
        let long = "é".repeat(SHOWN_CHARS + 50);
        let shown = strip_controls(&long);
        assert_eq!(shown.chars().count(), SHOWN_CHARS + 3);
        assert!(shown.ends_with("é..."));
        // Controls do not count against the limit.
        let padded = format!("{}{}", "\u{1b}[0m".repeat(500), "x".repeat(SHOWN_CHARS));
        assert_eq!(strip_controls(&padded), "x".repeat(SHOWN_CHARS));
    }

    #[test]
    fn counts_name_one_in_the_singular() {
        assert_eq!(count(1, "byte", "bytes"), "1 byte");
        assert_eq!(count(0, "byte", "bytes"), "0 bytes");
        assert_eq!(count(2, "try", "tries"), "2 tries");
    }
}
