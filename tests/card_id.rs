//! Card IDs. Text as .NET's `Guid.Parse` reads it (issue #9, item 2): forms D, N, B and P,
//! either case, surrounding whitespace; nothing else; errors that never contradict themselves
//! and name the position of a wrong character; the raw byte layout only through
//! `CardId::from_raw_hex`; and the bytes each field of the text goes to.

use cardadmin::{CardId, ParseError};
use proptest::prelude::*;

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

#[test]
fn card_id_forms_and_layout() {
    let expected = [
        0x3f, 0xf1, 0x88, 0xbc, 0xba, 0x83, 0x37, 0x40, 0x82, 0x62, 0x46, 0xeb, 0xa1, 0x29, 0x1c,
        0x6e,
    ];
    for text in [
        "bc88f13f-83ba-4037-8262-46eba1291c6e",
        "BC88F13F-83BA-4037-8262-46EBA1291C6E",
        "{bc88f13f-83ba-4037-8262-46eba1291c6e}",
        "bc88f13f83ba4037826246eba1291c6e",
    ] {
        let id = CardId::parse(text).unwrap();
        assert_eq!(id.as_bytes(), &expected, "{text}");
        assert_eq!(id.to_string(), "bc88f13f-83ba-4037-8262-46eba1291c6e");
        assert_eq!(text.parse::<CardId>(), Ok(id));
    }
    assert_eq!(
        format!("{:?}", CardId::from_bytes(expected)),
        "CardId(bc88f13f-83ba-4037-8262-46eba1291c6e)"
    );
    // Each field: distinct bytes show which way each goes.
    let id = CardId::from_bytes([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15]);
    assert_eq!(id.to_string(), "03020100-0504-0706-0809-0a0b0c0d0e0f");
    assert_eq!(
        CardId::parse("03020100-0504-0706-0809-0a0b0c0d0e0f"),
        Ok(id)
    );
}

#[test]
fn card_id_errors() {
    const WHAT: &str = "card ID";
    let length = |found| ParseError::Length {
        what: WHAT,
        expected: "32 (bare hex), 36 (hyphenated) or 38 (hyphenated, in '{}' or '()')",
        found,
    };
    let bracketed_length = |found| ParseError::Length {
        what: WHAT,
        expected: "38 (a hyphenated GUID in '{}' or '()')",
        found,
    };
    assert_eq!(CardId::parse(""), Err(ParseError::Empty { what: WHAT }));
    assert_eq!(
        CardId::parse(" \t\n"),
        Err(ParseError::Empty { what: WHAT })
    );
    assert_eq!(CardId::parse("not-a-guid"), Err(length(10)));
    assert_eq!(
        CardId::parse("{bc88f13f83ba4037826246eba1291c6e}"),
        Err(bracketed_length(34))
    );
    assert_eq!(
        CardId::parse("(bc88f13f83ba4037826246eba1291c6e)"),
        Err(bracketed_length(34))
    );
    assert_eq!(
        CardId::parse("bc88f13f-83ba-4037-8262-46eba1291c6e0"),
        Err(length(37))
    );
    assert_eq!(CardId::parse(&"é".repeat(36)).unwrap_err(), {
        ParseError::InvalidCharacter {
            what: WHAT,
            position: 0,
            found: 'é',
            expected: "a hex digit",
        }
    });
    for text in [
        "{bc88f13f-83ba-4037-8262-46eba1291c6e",
        "bc88f13f-83ba-4037-8262-46eba1291c6e}",
        "}",
    ] {
        assert_eq!(
            CardId::parse(text),
            Err(ParseError::UnbalancedBraces { what: WHAT }),
            "{text}"
        );
    }
    // Hyphens exactly at 8, 13, 18, 23 (plus one inside braces).
    for (text, position, found, expected) in [
        ("bc88f13f_83ba-4037-8262-46eba1291c6e", 8, '_', "'-'"),
        ("bc88f13f-83ba_4037-8262-46eba1291c6e", 13, '_', "'-'"),
        ("bc88f13f-83ba-4037_8262-46eba1291c6e", 18, '_', "'-'"),
        ("bc88f13f-83ba-4037-8262_46eba1291c6e", 23, '_', "'-'"),
        ("{bc88f13f-83ba-4037-8262_46eba1291c6e}", 24, '_', "'-'"),
        (
            "bc88f13-f83ba-4037-8262-46eba1291c6e",
            7,
            '-',
            "a hex digit",
        ),
        (
            "{bc88f13f-83ba-4037-8262-46eba1291c6g}",
            36,
            'g',
            "a hex digit",
        ),
        ("bc88f13f83ba4037826246eba1291c6-", 31, '-', "a hex digit"),
    ] {
        assert_eq!(
            CardId::parse(text),
            Err(ParseError::InvalidCharacter {
                what: WHAT,
                position,
                found,
                expected,
            }),
            "{text}"
        );
    }
}

#[test]
fn card_id_mistakes() {
    let invalid = |text: &str| CardId::parse(text).unwrap_err();
    assert_eq!(invalid(""), ParseError::Empty { what: "card ID" });
    assert!(matches!(
        invalid("bc88f13f-83ba-4037-8262-46eba1291c6"),
        ParseError::Length { found: 35, .. }
    ));
    assert!(matches!(
        invalid("bc88f13f83ba4037826246eba1291c6e00"),
        ParseError::Length { found: 34, .. }
    ));
    assert!(matches!(
        invalid("{bc88f13f83ba4037826246eba1291c6e}"),
        ParseError::Length { found: 34, .. }
    ));
    assert_eq!(
        invalid("{bc88f13f-83ba-4037-8262-46eba1291c6e"),
        ParseError::UnbalancedBraces { what: "card ID" }
    );
    assert_eq!(
        invalid("bc88f13f-83ba-4037-8262-46eba1291c6e}"),
        ParseError::UnbalancedBraces { what: "card ID" }
    );
    assert!(matches!(
        invalid("bc88f13f-83ba-4037-8262-46eba1291c6g"),
        ParseError::InvalidCharacter {
            position: 35,
            found: 'g',
            ..
        }
    ));
    assert!(matches!(
        invalid("{bc88f13f-83ba-4037+8262-46eba1291c6e}"),
        ParseError::InvalidCharacter {
            position: 19,
            found: '+',
            ..
        }
    ));
    assert!(matches!(
        invalid("bc88f13f-83ba-4037-8262-46eba1291c6\u{e9}"),
        ParseError::InvalidCharacter { position: 35, .. }
    ));
    // Hyphens in the wrong places of a 36-character text.
    assert!(matches!(
        invalid("bc88f13f8-3ba-4037-8262-46eba1291c6e"),
        ParseError::InvalidCharacter {
            position: 8,
            found: '8',
            ..
        }
    ));
    let message = invalid("bc88f13f-83ba-4037-8262-46eba1291c6g").to_string();
    assert!(
        message.starts_with("card ID has 'g' at position 35"),
        "{message}"
    );
}

proptest! {
    #[test]
    fn card_id_prints_and_parses_back(bytes in any::<[u8; 16]>()) {
        let id = CardId::from_bytes(bytes);
        let text = id.to_string();
        prop_assert_eq!(text.len(), 36);
        prop_assert_eq!(text.to_lowercase(), text.clone());
        prop_assert_eq!(CardId::parse(&text), Ok(id));
        prop_assert_eq!(text.parse::<CardId>(), Ok(id));
        prop_assert_eq!(CardId::parse(&format!("{{{}}}", text.to_uppercase())), Ok(id));
        prop_assert_eq!(CardId::parse(&text.replace('-', "")), Ok(id));
    }
}
