//! Card ID text as .NET's `Guid.Parse` reads it (issue #9, item 2): forms D, N, B and P, either
//! case, surrounding whitespace; nothing else; errors that never contradict themselves; and
//! the raw byte layout only through `CardId::from_raw_hex`.

use cardadmin::{CardId, ParseError};

const D: &str = "bc88f13f-83ba-4037-8262-46eba1291c6e";
const LAYOUT: [u8; 16] = [
    0x3f, 0xf1, 0x88, 0xbc, 0xba, 0x83, 0x37, 0x40, 0x82, 0x62, 0x46, 0xeb, 0xa1, 0x29, 0x1c, 0x6e,
];
const WHAT: &str = "card ID";

#[test]
fn every_net_form_gives_the_windows_layout() {
    for text in [
        D,
        "BC88F13F-83BA-4037-8262-46EBA1291C6E",
        "{bc88f13f-83ba-4037-8262-46eba1291c6e}",
        "{BC88F13F-83BA-4037-8262-46EBA1291C6E}",
        "(bc88f13f-83ba-4037-8262-46eba1291c6e)",
        "(BC88F13F-83BA-4037-8262-46EBA1291C6E)",
        "bc88f13f83ba4037826246eba1291c6e",
        "BC88F13F83BA4037826246EBA1291C6E",
        // Surrounding whitespace, as String.Trim sees it, in every form.
        " bc88f13f-83ba-4037-8262-46eba1291c6e",
        "bc88f13f-83ba-4037-8262-46eba1291c6e\t\r\n",
        "\u{a0}{bc88f13f-83ba-4037-8262-46eba1291c6e}\u{3000}",
        "\u{2028}(bc88f13f-83ba-4037-8262-46eba1291c6e) ",
        "\u{85}bc88f13f83ba4037826246eba1291c6e\u{b}\u{c}",
    ] {
        let id = CardId::parse(text).unwrap_or_else(|err| panic!("{text:?}: {err}"));
        assert_eq!(id.as_bytes(), &LAYOUT, "{text:?}");
        assert_eq!(id.to_string(), D);
        assert_eq!(text.parse::<CardId>(), Ok(id));
    }
}

#[test]
fn nothing_else_is_accepted() {
    for text in [
        "",
        " ",
        "{}",
        "()",
        "[bc88f13f-83ba-4037-8262-46eba1291c6e]",
        "{bc88f13f-83ba-4037-8262-46eba1291c6e)",
        "(bc88f13f-83ba-4037-8262-46eba1291c6e}",
        "{(bc88f13f-83ba-4037-8262-46eba1291c6e)}",
        "{bc88f13f83ba4037826246eba1291c6e}",
        "(bc88f13f83ba4037826246eba1291c6e)",
        "bc88f13f-83ba-4037-8262-46eba1291c6e-",
        "bc88f13f-83ba-4037-8262-46eba1291c6",
        "bc88f13f 83ba-4037-8262-46eba1291c6e",
        "bc88f13f-83ba-4037-8262-46eba 291c6e",
        "bc88f13f83ba4037826246eba1291c6",
        "bc88f13f83ba4037826246eba1291c6e0",
        "0xc88f13f-83ba-4037-8262-46eba1291c6e",
        "+c88f13f-83ba-4037-8262-46eba1291c6e",
        "bc88f13f-83ba-4037-8262-46eba1291c6e\0",
        "{0xbc88f13f,0x83ba,0x4037,{0x82,0x62,0x46,0xeb,0xa1,0x29,0x1c,0x6e}}",
        "urn:uuid:bc88f13f-83ba-4037-8262-46eba1291c6e",
        "bc88f13f-83ba-4037-8262-46eba1291c6e\u{200b}", // ZERO WIDTH SPACE is not whitespace
    ] {
        assert!(CardId::parse(text).is_err(), "{text:?}");
    }
}

#[test]
fn errors_agree_with_themselves() {
    // The form the text starts as decides the length asked for, so the message never asks
    // for the length the text already has.
    let cases: [(&str, ParseError, &str); 7] = [
        (
            "(bc88f13f-83ba-4037-8262-46eba1291c6e",
            ParseError::UnbalancedBraces { what: WHAT },
            "card ID has unbalanced brackets: enclose it in '{' and '}' or in '(' and ')', or in neither",
        ),
        (
            "(bc88f13f-83ba-4037-8262-46eba1291c6)",
            ParseError::Length {
                what: WHAT,
                expected: "38 (a hyphenated GUID in '{}' or '()')",
                found: 37,
            },
            "card ID must be 38 (a hyphenated GUID in '{}' or '()') characters long, got 37",
        ),
        (
            "  bc88f13f-83ba-4037-8262-46eba1291c  ",
            ParseError::Length {
                what: WHAT,
                expected: "32 (bare hex), 36 (hyphenated) or 38 (hyphenated, in '{}' or '()')",
                found: 34,
            },
            "card ID must be 32 (bare hex), 36 (hyphenated) or 38 (hyphenated, in '{}' or '()') characters long, got 34",
        ),
        (
            "xbc88f13f-83ba-4037-8262-46eba1291c6ex",
            ParseError::Length {
                what: WHAT,
                expected: "32 (bare hex), 36 (hyphenated) or 38 (hyphenated, in '{}' or '()')",
                found: 38,
            },
            "card ID must be 32 (bare hex), 36 (hyphenated) or 38 (hyphenated, in '{}' or '()') characters long, got 38",
        ),
        (
            " (bc88f13f_83ba-4037-8262-46eba1291c6e)",
            ParseError::InvalidCharacter {
                what: WHAT,
                position: 10,
                found: '_',
                expected: "'-'",
            },
            "card ID has '_' at position 10, expected '-'",
        ),
        (
            "{0xbc88f13f,0x83ba,0x4037,{0x82,0x62,0x46,0xeb,0xa1,0x29,0x1c,0x6e}}",
            ParseError::UnsupportedForm {
                what: WHAT,
                form: ".NET's X form ({0x...,0x...,0x...,{0x...,...}})",
            },
            "card ID is in .NET's X form ({0x...,0x...,0x...,{0x...,...}}), which is not accepted: send the hyphenated form xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx",
        ),
        ("\t \n", ParseError::Empty { what: WHAT }, "card ID is empty"),
    ];
    for (text, error, message) in cases {
        assert_eq!(CardId::parse(text), Err(error), "{text:?}");
        assert_eq!(error.to_string(), message);
    }
}

#[test]
fn positions_count_leading_whitespace() {
    let err = CardId::parse("  bc88f13fg3ba4037826246eba1291c6e").unwrap_err();
    assert_eq!(
        err,
        ParseError::InvalidCharacter {
            what: WHAT,
            position: 10,
            found: 'g',
            expected: "a hex digit",
        }
    );
}

#[test]
fn raw_hex_is_the_file_layout() {
    let raw = CardId::from_raw_hex("3ff188bcba833740826246eba1291c6e").unwrap();
    assert_eq!(raw.as_bytes(), &LAYOUT);
    assert_eq!(raw, CardId::parse(D).unwrap());
    assert_eq!(
        CardId::from_raw_hex(" 3FF188BCBA833740826246EBA1291C6E\n"),
        Ok(raw)
    );
    // The trap the constructor exists for: the same digits as "N" GUID text are another card.
    let n = CardId::parse("3ff188bcba833740826246eba1291c6e").unwrap();
    assert_ne!(n, raw);
    assert_eq!(n.to_string(), "3ff188bc-ba83-3740-8262-46eba1291c6e");
    assert_eq!(n.as_bytes()[..4], [0xbc, 0x88, 0xf1, 0x3f]);

    assert_eq!(
        CardId::from_raw_hex(""),
        Err(ParseError::Empty {
            what: "raw card ID"
        })
    );
    let err = CardId::from_raw_hex(D).unwrap_err();
    assert_eq!(
        err.to_string(),
        "raw card ID must be 32 (the hex of the 16 bytes of the card's cardid file) characters long, got 36"
    );
    assert_eq!(
        CardId::from_raw_hex("3ff188bcba833740826246eba1291c6g"),
        Err(ParseError::InvalidCharacter {
            what: "raw card ID",
            position: 31,
            found: 'g',
            expected: "a hex digit",
        })
    );
}
