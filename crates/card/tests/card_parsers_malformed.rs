//! The card side's parsers on malformed input (issue #14, item 13): cargo-mutants found that
//! the guards of `piv::parse_general_authenticate` could be inverted or widened, and
//! `gids::PutKey`'s redacted `Debug` changed, without a test noticing. Each case below is one
//! GENERAL AUTHENTICATE data field the soft card may receive, with the one answer the parser
//! must give: a shape, or the exact error naming what was wrong.

use cardadmin_card::apdu::TlvError;
use cardadmin_card::auth::gids::PutKey;
use cardadmin_card::auth::piv::{self, GeneralAuthenticate};
use cardadmin_card::auth::AuthError;

/// `7C L` around `inner`.
fn template(inner: &[u8]) -> Vec<u8> {
    let mut data = vec![0x7c, u8::try_from(inner.len()).unwrap()];
    data.extend_from_slice(inner);
    data
}

/// `tag n value`.
fn tlv(tag: u8, value: &[u8]) -> Vec<u8> {
    let mut data = vec![tag, u8::try_from(value.len()).unwrap()];
    data.extend_from_slice(value);
    data
}

fn length(tag: u32, expected: usize, found: usize) -> AuthError {
    AuthError::Length {
        tag,
        expected,
        found,
    }
}

#[test]
fn the_four_shapes_and_nothing_else_for_both_block_lengths() {
    for block_len in [8usize, 16] {
        let w: Vec<u8> = (1..=block_len as u8).collect();
        let h: Vec<u8> = (0x41..0x41 + block_len as u8).collect();
        fn parse(data: &[u8], block_len: usize) -> Result<GeneralAuthenticate<'_>, AuthError> {
            piv::parse_general_authenticate(data, block_len)
        }

        assert_eq!(
            parse(&template(&tlv(0x81, &[])), block_len),
            Ok(GeneralAuthenticate::ChallengeRequest)
        );
        assert_eq!(
            parse(&template(&tlv(0x80, &[])), block_len),
            Ok(GeneralAuthenticate::WitnessRequest)
        );
        let response = template(&tlv(0x82, &w));
        assert_eq!(
            parse(&response, block_len),
            Ok(GeneralAuthenticate::Response(&response[4..]))
        );
        let both = template(&[tlv(0x80, &w), tlv(0x81, &h)].concat());
        assert_eq!(
            parse(&both, block_len),
            Ok(GeneralAuthenticate::WitnessAndChallenge {
                witness: &both[4..4 + block_len],
                challenge: &both[6 + block_len..],
            })
        );
    }
}

/// A request tag (80 or 81) with a value is neither a request nor anything else: a length
/// error, expecting the empty value of a request.
#[test]
fn a_request_tag_with_a_value_is_a_length_error() {
    for (tag, len) in [
        (0x80u8, 1usize),
        (0x80, 8),
        (0x80, 16),
        (0x81, 1),
        (0x81, 8),
        (0x81, 16),
    ] {
        let data = template(&tlv(tag, &vec![0x5a; len]));
        for block_len in [8, 16] {
            assert_eq!(
                piv::parse_general_authenticate(&data, block_len),
                Err(length(tag.into(), 0, len)),
                "{tag:02X} with {len} bytes, blocks of {block_len}"
            );
        }
    }
}

/// An empty response (`82 00`) is no request: it is a response of the wrong length.
#[test]
fn an_empty_response_is_a_length_error_not_a_request() {
    for block_len in [8, 16] {
        assert_eq!(
            piv::parse_general_authenticate(&template(&tlv(0x82, &[])), block_len),
            Err(length(0x82, block_len, 0))
        );
        assert_eq!(
            piv::parse_general_authenticate(&template(&tlv(0x82, &[7; 12])), block_len),
            Err(length(0x82, block_len, 12))
        );
    }
}

/// Tags that are none of 80, 81 and 82, empty or not, are refused as unexpected: the parser
/// names the response tag it would have taken.
#[test]
fn other_tags_are_unexpected() {
    for tag in [0x00u8, 0x01, 0x7e, 0x83, 0x85, 0x8f, 0x9e] {
        for value in [&[][..], &[1][..], &[2; 8][..]] {
            assert_eq!(
                piv::parse_general_authenticate(&template(&tlv(tag, value)), 8),
                Err(AuthError::Tlv(TlvError::UnexpectedTag {
                    expected: 0x82,
                    found: tag.into(),
                })),
                "{tag:02X} with {} bytes",
                value.len()
            );
        }
    }
}

/// Only a witness may be followed by anything (the host's challenge); after a request or a
/// response, more data is trailing bytes.
#[test]
fn data_after_a_request_or_response_is_trailing() {
    let w = [3u8; 8];
    for first in [tlv(0x81, &[]), tlv(0x82, &w), tlv(0x81, &w), tlv(0x83, &[])] {
        for extra in [tlv(0x81, &[]), tlv(0x80, &w), vec![0x00, 0x00]] {
            let data = template(&[first.clone(), extra.clone()].concat());
            assert_eq!(
                piv::parse_general_authenticate(&data, 8),
                Err(AuthError::Tlv(TlvError::TrailingBytes {
                    after: first[0].into(),
                    found: extra.len(),
                })),
                "{first:02X?} then {extra:02X?}"
            );
        }
    }
}

/// A witness followed by something: the something must be the host's challenge, one block,
/// and the witness one block too; an empty witness before a challenge is no request.
#[test]
fn a_witness_and_challenge_must_both_be_one_block() {
    let (w, h) = ([1u8; 8], [2u8; 8]);
    let parse = |data: Vec<u8>| piv::parse_general_authenticate(&data, 8).map(|_| ());
    assert_eq!(
        parse(template(&[tlv(0x80, &[]), tlv(0x81, &h)].concat())),
        Err(length(0x80, 8, 0))
    );
    assert_eq!(
        parse(template(&[tlv(0x80, &w[..7]), tlv(0x81, &h)].concat())),
        Err(length(0x80, 8, 7))
    );
    assert_eq!(
        parse(template(&[tlv(0x80, &w), tlv(0x81, &[])].concat())),
        Err(length(0x81, 8, 0))
    );
    assert_eq!(
        parse(template(&[tlv(0x80, &w), tlv(0x81, &[2; 16])].concat())),
        Err(length(0x81, 8, 16))
    );
    // The challenge under the response tag, or the witness twice.
    assert_eq!(
        parse(template(&[tlv(0x80, &w), tlv(0x82, &h)].concat())),
        Err(AuthError::Tlv(TlvError::UnexpectedTag {
            expected: 0x81,
            found: 0x82
        }))
    );
    assert_eq!(
        parse(template(&[tlv(0x80, &w), tlv(0x80, &h)].concat())),
        Err(AuthError::Tlv(TlvError::UnexpectedTag {
            expected: 0x81,
            found: 0x80
        }))
    );
    // Anything after the challenge.
    assert!(matches!(
        parse(template(
            &[tlv(0x80, &w), tlv(0x81, &h), vec![0x00]].concat()
        )),
        Err(AuthError::Tlv(TlvError::TrailingBytes { .. }))
    ));
}

/// The outer template: `7C`, exactly, with nothing after it.
#[test]
fn the_template_must_be_7c_and_alone() {
    let inner = tlv(0x81, &[]);
    let mut other = template(&inner);
    other[0] = 0x7d;
    assert!(piv::parse_general_authenticate(&other, 8).is_err());
    let mut trailing = template(&inner);
    trailing.push(0x00);
    assert!(piv::parse_general_authenticate(&trailing, 8).is_err());
    assert!(piv::parse_general_authenticate(&template(&[]), 8).is_err());
    assert!(piv::parse_general_authenticate(&[], 8).is_err());
}

/// `PutKey`'s `Debug` shows the reference, the key's length and the check value (public),
/// never the key bytes.
#[test]
fn put_key_debug_shows_no_key_bytes() {
    let key: Vec<u8> = (0x91..=0xa8).collect();
    let body = [
        &[0x84, 0x01, 0x80, 0xa5, 0x1f, 0x87, 0x18][..],
        &key,
        &[0x88, 0x03, 0x12, 0x34, 0x56],
    ]
    .concat();
    let parsed = PutKey::parse(0x3f, 0xff, &body).unwrap();
    assert_eq!(parsed.key(), &key[..]);
    let debug = format!("{parsed:?}");
    assert_eq!(
        debug,
        "PutKey { key_reference: 128, key_len: 24, check_value: [18, 52, 86] }"
    );
    for byte in &key {
        assert!(!debug.contains(&byte.to_string()), "{debug}");
        assert!(
            !debug.to_lowercase().contains(&format!("{byte:02x}")),
            "{debug}"
        );
    }
}
