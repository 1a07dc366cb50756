//! The constant-time 3DES engine (`cardadmin::hazmat::TdesEde3`) against NIST's vectors:
//! the CAVP multi-block message tests TECBMMT3 (3-key ECB), TECBMMT2 (2-key ECB, K3 = K1) and
//! TCBCMMT3 (3-key CBC, chained here), every ENCRYPT and DECRYPT case, and the SP 800-20 /
//! SP 800-67 known answers in `tdes_ecb_kat.txt`. Each file names its source on its first line.

use cardadmin::hazmat::TdesEde3;

fn unhex(text: &str) -> Vec<u8> {
    assert_eq!(text.len() % 2, 0, "{text}");
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
        .collect()
}

/// One CAVP record: its section (`ENCRYPT` or `DECRYPT`) and its `NAME = value` fields.
struct Case {
    encrypt: bool,
    fields: Vec<(String, String)>,
}

impl Case {
    fn hex(&self, name: &str) -> Vec<u8> {
        let (_, value) = self
            .fields
            .iter()
            .find(|(n, _)| n == name)
            .unwrap_or_else(|| panic!("field {name} missing"));
        unhex(value)
    }

    fn key(&self) -> [u8; 24] {
        let mut key = self.hex("KEY1");
        key.extend(self.hex("KEY2"));
        key.extend(self.hex("KEY3"));
        key.try_into().unwrap()
    }
}

fn parse_rsp(text: &str) -> Vec<Case> {
    let mut cases = Vec::new();
    let mut encrypt = None;
    for line in text.lines().map(str::trim) {
        if line.starts_with('#') || line.is_empty() {
            continue;
        }
        match line {
            "[ENCRYPT]" => encrypt = Some(true),
            "[DECRYPT]" => encrypt = Some(false),
            _ => {
                let (name, value) = line.split_once(" = ").expect("NAME = value");
                if name == "COUNT" {
                    cases.push(Case {
                        encrypt: encrypt.expect("a section before the first case"),
                        fields: Vec::new(),
                    });
                }
                let case = cases.last_mut().expect("COUNT first");
                case.fields.push((name.to_owned(), value.to_owned()));
            }
        }
    }
    cases
}

fn blocks(bytes: &[u8]) -> Vec<[u8; 8]> {
    assert_eq!(bytes.len() % 8, 0);
    bytes.chunks(8).map(|c| c.try_into().unwrap()).collect()
}

/// ECB files: every case through `encrypt_blocks` / `decrypt_blocks` (all blocks at once) and
/// block by block through `encrypt_block` / `decrypt_block`. Returns (encrypt, decrypt) counts.
fn check_ecb(text: &str) -> (usize, usize) {
    let (mut enc, mut dec) = (0, 0);
    for case in parse_rsp(text) {
        let engine = TdesEde3::new(&case.key());
        let (pt, ct) = (
            blocks(&case.hex("PLAINTEXT")),
            blocks(&case.hex("CIPHERTEXT")),
        );
        let (input, expected) = if case.encrypt { (&pt, &ct) } else { (&ct, &pt) };
        let mut all = input.clone();
        let mut each = input.clone();
        if case.encrypt {
            engine.encrypt_blocks(&mut all);
            each.iter_mut().for_each(|b| engine.encrypt_block(b));
            enc += 1;
        } else {
            engine.decrypt_blocks(&mut all);
            each.iter_mut().for_each(|b| engine.decrypt_block(b));
            dec += 1;
        }
        assert_eq!(&all, expected, "{:?}", case.fields);
        assert_eq!(&each, expected, "{:?}", case.fields);
    }
    (enc, dec)
}

#[test]
fn cavp_tecbmmt3() {
    assert_eq!(check_ecb(include_str!("vectors/TECBMMT3.rsp")), (10, 10));
}

#[test]
fn cavp_tecbmmt2_two_key() {
    let text = include_str!("vectors/TECBMMT2.rsp");
    // Two-key TDES: the file spells K3 = K1 out in every case.
    assert!(parse_rsp(text)
        .iter()
        .all(|c| c.hex("KEY1") == c.hex("KEY3")));
    assert_eq!(check_ecb(text), (10, 10));
}

#[test]
fn cavp_tcbcmmt3_chained() {
    let (mut enc, mut dec) = (0, 0);
    for case in parse_rsp(include_str!("vectors/TCBCMMT3.rsp")) {
        let engine = TdesEde3::new(&case.key());
        let iv: [u8; 8] = case.hex("IV").try_into().unwrap();
        let (pt, ct) = (
            blocks(&case.hex("PLAINTEXT")),
            blocks(&case.hex("CIPHERTEXT")),
        );
        if case.encrypt {
            let mut chain = iv;
            let out: Vec<[u8; 8]> = pt
                .iter()
                .map(|p| {
                    let mut b: [u8; 8] = core::array::from_fn(|i| p[i] ^ chain[i]);
                    engine.encrypt_block(&mut b);
                    chain = b;
                    b
                })
                .collect();
            assert_eq!(out, ct, "{:?}", case.fields);
            enc += 1;
        } else {
            // CBC decryption has independent blocks: decrypt them all at once, then XOR.
            let mut out = ct.clone();
            engine.decrypt_blocks(&mut out);
            let prev = core::iter::once(iv).chain(ct.iter().copied());
            for (o, c) in out.iter_mut().zip(prev) {
                o.iter_mut().zip(c).for_each(|(o, c)| *o ^= c);
            }
            assert_eq!(out, pt, "{:?}", case.fields);
            dec += 1;
        }
    }
    assert_eq!((enc, dec), (10, 10));
}

#[test]
fn sp800_20_and_sp800_67_known_answers() {
    let mut n = 0;
    for line in include_str!("vectors/tdes_ecb_kat.txt").lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let fields: Vec<Vec<u8>> = line.split_whitespace().map(unhex).collect();
        let [key, pt, ct] = &fields[..] else {
            panic!("KEY24 PLAINTEXT8 CIPHERTEXT8 expected: {line}");
        };
        let engine = TdesEde3::new(&key[..].try_into().unwrap());
        let mut block: [u8; 8] = pt[..].try_into().unwrap();
        engine.encrypt_block(&mut block);
        assert_eq!(&block[..], &ct[..], "{line}");
        engine.decrypt_block(&mut block);
        assert_eq!(&block[..], &pt[..], "{line}");
        n += 1;
    }
    assert_eq!(n, 38);
}
