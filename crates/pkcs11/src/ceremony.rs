//! The key ceremony's token work: generate a master in the token, or build it from custodians'
//! components and write it as a non-extractable, sign-only object; list keys with their check
//! values. The `cardadmin-ceremony` command is the terminal around these functions.
//!
//! # Check values: which method where
//!
//! - **A master key in the token** (generated or imported, and every key `list` shows that may
//!   sign with CMAC): ANSI X9.24-1:2017's CMAC method, the leftmost 3 bytes of
//!   `CMAC(K, 0^block)` (8 zero bytes for 3DES, 16 for AES), computed by the token through
//!   `cardadmin::master::check_value` — the value `cardadmin::MasterKey::check_value` gives for
//!   the same key in memory, and the one the server prints at start-up. The traditional
//!   `E_K(0)` cannot be had from a key that may only sign, and should not be: `E_K(0)` is
//!   CMAC's subkey `L`.
//! - **A key component** (typed by its custodian): both methods, computed in this process's
//!   memory by the core, never by the token — a component is a plain key value and is never
//!   sent to the token on its own, only the combined key is. `KCV (CMAC)` is the X9.24-1:2017
//!   value; `KCV (E_K(0))` is the traditional value the paper forms of components generated
//!   by older systems carry. Showing `E_K(0)` of one component leaks nothing about the master
//!   (the master is the XOR of all components; one component is uniformly random
//!   independent of it). The custodian confirms the one their form gives.
//! - **A key that may not sign** (seen by `list`): the token's own `CKA_CHECK_VALUE` if it
//!   reports one (PKCS#11 3.0 defines it as the first 3 bytes of `E_K(0)`), labelled so.

use std::fmt;

use cardadmin::{master, AdminKey, Algorithm, KeyCheckValue, KeyError, KeyFinding, MasterKey};
use cryptoki::error::{Error as Pkcs11Error, RvError};
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, AttributeType, ObjectClass, ObjectHandle};
use cryptoki::session::Session;
use zeroize::{Zeroize, Zeroizing};

use crate::{key_algorithm, master_template, ExpectedCheckValue, Module, SessionKey};

/// What went wrong in a ceremony step.
///
/// ```
/// use cardadmin_pkcs11::ceremony::CeremonyError;
///
/// let err = CeremonyError::ComponentCount { found: 1 };
/// assert_eq!(err.to_string(), "key components: 1 given, a master is made of 2 or 3");
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum CeremonyError {
    /// A key with this label is already in the token: the ceremony never replaces one.
    LabelTaken {
        /// The label.
        label: String,
    },
    /// Not 2 or 3 components.
    ComponentCount {
        /// How many were given.
        found: usize,
    },
    /// A component is not a key of the algorithm (length, hex digits).
    Component {
        /// Which component, from 1.
        index: usize,
        /// The parse error (it never shows the text).
        error: KeyError,
    },
    /// A component is all zeros (for 3DES, parity bits ignored): it adds nothing, so the other
    /// custodians alone know the master.
    ZeroComponent {
        /// Which component, from 1.
        index: usize,
    },
    /// Two components are equal (for 3DES, parity bits ignored): they cancel in the XOR, so
    /// with two the master is all zeros and with three it is the third custodian's component.
    EqualComponents {
        /// The earlier component, from 1.
        first: usize,
        /// The later one.
        second: usize,
    },
    /// The combined key is weak or well known.
    WeakKey {
        /// The core's findings (their `Display` is the sentence the server prints).
        findings: Vec<KeyFinding>,
    },
    /// The combined key's check value is not the one the custodians expected
    /// (`--expect-check-value`): nothing is written.
    UnexpectedCheckValue {
        /// What the custodians expected.
        expected: ExpectedCheckValue,
        /// The combined key's, computed in memory.
        computed: KeyCheckValue,
    },
    /// A PKCS#11 call failed.
    Pkcs11 {
        /// What was being done.
        step: &'static str,
        /// The PKCS#11 error.
        error: cryptoki::error::Error,
    },
    /// The new key's check value could not be computed by the token.
    CheckValue(crate::CmacError),
    /// The token's check value of the written key is not the one computed in memory.
    CheckValueMismatch {
        /// Computed in memory from the combined components.
        in_memory: KeyCheckValue,
        /// Computed by the token.
        token: KeyCheckValue,
        /// Whether the written object was destroyed again.
        destroyed: bool,
    },
}

impl fmt::Display for CeremonyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::LabelTaken { label } => write!(
                f,
                "a secret key labelled {label:?} is already in the token; choose another label (the ceremony never replaces a key)"
            ),
            Self::ComponentCount { found } => write!(
                f,
                "key components: {found} given, a master is made of 2 or 3"
            ),
            Self::Component { index, error } => {
                write!(f, "component {index}: ")?;
                // The core's KeyError speaks of an "admin key"; a component is not one.
                match error {
                    KeyError::ByteLength { expected, found } => {
                        write!(f, "must be {expected} bytes, got {found}")
                    }
                    KeyError::HexLength { expected, found } => write!(
                        f,
                        "must be {expected} hex digits (spaces and dashes between groups allowed), got {found}"
                    ),
                    KeyError::NotHex { position } => write!(
                        f,
                        "has a character that is not a hex digit (0-9, a-f, A-F) at position {position}, counting hex digits only"
                    ),
                    other => write!(f, "{other}"),
                }
            }
            Self::ZeroComponent { index } => write!(
                f,
                "component {index} is all zeros (parity bits ignored): it adds nothing to the master, so the other custodians alone would know it; nothing was written: generate a new component"
            ),
            Self::EqualComponents { first, second } => write!(
                f,
                "components {first} and {second} are equal (parity bits ignored): equal components cancel in the XOR (with two the master is all zeros, with three it is the remaining custodian's component, known to one person); nothing was written: generate new components"
            ),
            Self::WeakKey { findings } => {
                let sentences: Vec<String> = findings.iter().map(|f| f.to_string()).collect();
                write!(
                    f,
                    "the combined key is weak or well known: {}; nothing was written: generate new components",
                    sentences.join("; ")
                )
            }
            Self::UnexpectedCheckValue { expected, computed } => write!(
                f,
                "the combined key's check value is {computed}, not {expected} as --expect-check-value says; nothing was written: compare each component's check value with its custodian's form"
            ),
            Self::Pkcs11 { step, error } => write!(f, "PKCS#11: {step}: {error}"),
            Self::CheckValue(err) => write!(f, "check value of the new key: {err}"),
            Self::CheckValueMismatch {
                in_memory,
                token,
                destroyed,
            } => write!(
                f,
                "the token's check value {token} differs from the one computed in memory {in_memory}; the object was {}",
                if *destroyed {
                    "destroyed again"
                } else {
                    "NOT destroyed (it is not destroyable, or the token refused): do not use it; re-initializing the token removes it"
                }
            ),
        }
    }
}

impl std::error::Error for CeremonyError {}

fn pkcs11(step: &'static str) -> impl Fn(cryptoki::error::Error) -> CeremonyError {
    move |error| CeremonyError::Pkcs11 { step, error }
}

fn refuse_taken_label(session: &Session, label: &str) -> Result<(), CeremonyError> {
    let existing = session
        .find_objects(&[
            Attribute::Class(ObjectClass::SECRET_KEY),
            Attribute::Label(label.as_bytes().to_vec()),
        ])
        .map_err(pkcs11("C_FindObjects"))?;
    if existing.is_empty() {
        Ok(())
    } else {
        Err(CeremonyError::LabelTaken {
            label: label.into(),
        })
    }
}

fn check_value_of(
    module: &Module,
    session: &Session,
    key: ObjectHandle,
    algorithm: Algorithm,
) -> Result<KeyCheckValue, CeremonyError> {
    master::check_value(&SessionKey::from_handle(module, session, key, algorithm))
        .map_err(CeremonyError::CheckValue)
}

/// A master key the ceremony put into the token.
#[derive(Debug)]
#[non_exhaustive]
pub struct Written {
    /// The key object.
    pub handle: ObjectHandle,
    /// Its check value (X9.24-1:2017 CMAC method), computed by the token.
    pub check_value: KeyCheckValue,
    /// Attributes of [`master_template`] the token would not take, so the key was made
    /// without them (`CKA_ALLOWED_MECHANISMS`, `CKA_DESTROYABLE`): the ceremony says so.
    pub not_set: Vec<&'static str>,
}

/// The attributes of [`master_template`] a token may not support, by name.
const OPTIONAL: [(&str, AttributeType); 2] = [
    ("CKA_ALLOWED_MECHANISMS", AttributeType::AllowedMechanisms),
    ("CKA_DESTROYABLE", AttributeType::Destroyable),
];

/// Whether `attribute` is the optional attribute `kind` (the allowed mechanisms travel as a
/// vendor-defined attribute: see [`crate::allowed_mechanisms`]).
fn is_attribute(attribute: &Attribute, kind: AttributeType) -> bool {
    match attribute {
        Attribute::VendorDefined((AttributeType::VendorDefined(raw), _)) => {
            *raw == cryptoki_sys::CKA_ALLOWED_MECHANISMS && kind == AttributeType::AllowedMechanisms
        }
        other => other.attribute_type() == kind,
    }
}

/// Runs `make` with `template`; when the token refuses an attribute of the template, again
/// without `CKA_ALLOWED_MECHANISMS`, then without `CKA_DESTROYABLE`, then without both.
/// Returns what `make` made and the names left out. Every copy of the template made here is
/// wiped (it may hold `CKA_VALUE`).
fn with_optional<T>(
    template: &[Attribute],
    mut make: impl FnMut(&[Attribute]) -> Result<T, Pkcs11Error>,
) -> Result<(T, Vec<&'static str>), Pkcs11Error> {
    let left_out: [&[usize]; 4] = [&[], &[0], &[1], &[0, 1]];
    let mut last = None;
    for omit in left_out {
        let mut attempt: Vec<Attribute> = template
            .iter()
            .filter(|a| {
                !omit
                    .iter()
                    .filter_map(|i| OPTIONAL.get(*i))
                    .any(|(_, kind)| is_attribute(a, *kind))
            })
            .cloned()
            .collect();
        let result = make(&attempt);
        wipe(&mut attempt);
        match result {
            Ok(made) => {
                let names = omit
                    .iter()
                    .filter_map(|i| OPTIONAL.get(*i))
                    .map(|(name, _)| *name)
                    .collect();
                return Ok((made, names));
            }
            Err(Pkcs11Error::Pkcs11(
                rv @ (RvError::AttributeTypeInvalid
                | RvError::AttributeValueInvalid
                | RvError::TemplateInconsistent),
                function,
            )) => last = Some(Pkcs11Error::Pkcs11(rv, function)),
            Err(other) => return Err(other),
        }
    }
    Err(last.unwrap_or(Pkcs11Error::NotSupported))
}

/// Zeroizes every `CKA_VALUE` of a template.
fn wipe(template: &mut [Attribute]) {
    for attribute in template {
        if let Attribute::Value(value) = attribute {
            value.zeroize();
        }
    }
}

/// Generates a master key in the token (`C_GenerateKey`, `CKM_DES3_KEY_GEN` or
/// `CKM_AES_KEY_GEN`, with [`master_template`], less what the token does not support) on a
/// logged-in read-write session. The key can never leave the token: there is no copy and no
/// backup, so losing or re-initializing the token loses every card key derived from it; for a
/// master that can be recovered, [`import`] it from custodians' components.
///
/// ```no_run
/// use cardadmin::Algorithm;
/// use cardadmin_pkcs11::{ceremony, Module, PinSource};
///
/// let module = Module::load("/usr/lib/softhsm/libsofthsm2.so".as_ref())?;
/// let slot = module.find_token("cardadmin")?;
/// let pin = PinSource::Env("CARDADMIN_TOKEN_PIN".into()).read()?;
/// let session = module.login(slot, "cardadmin", &pin, true)?;
/// let written = ceremony::generate(&module, &session, Algorithm::Aes256, "master-aes256")?;
/// println!("master check value {}", written.check_value);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn generate(
    module: &Module,
    session: &Session,
    algorithm: Algorithm,
    label: &str,
) -> Result<Written, CeremonyError> {
    refuse_taken_label(session, label)?;
    let mechanism = match algorithm {
        Algorithm::Tdes => Mechanism::Des3KeyGen,
        _ => Mechanism::AesKeyGen,
    };
    let (handle, not_set) = with_optional(&master_template(algorithm, label), |template| {
        session.generate_key(&mechanism, template)
    })
    .map_err(pkcs11("C_GenerateKey"))?;
    Ok(Written {
        handle,
        check_value: check_value_of(module, session, handle, algorithm)?,
        not_set,
    })
}

/// Writes `key` (the combined components) to the token as a master key (`C_CreateObject` with
/// [`master_template`], less what the token does not support, and `CKA_VALUE`); returns it with
/// its check value, computed by the token and equal to the one computed in memory.
///
/// As the stored key is not destroyable, the value is first tried as a session object (never
/// stored, destroyed at once): if the token's check value differs from the one computed in
/// memory, nothing is stored ([`CeremonyError::CheckValueMismatch`], destroyed). Every copy of
/// the value in a template is wiped.
///
/// ```no_run
/// use cardadmin::Algorithm;
/// use cardadmin_pkcs11::{ceremony, Module, PinSource};
///
/// let module = Module::load("/usr/lib/softhsm/libsofthsm2.so".as_ref())?;
/// let slot = module.find_token("cardadmin")?;
/// let pin = PinSource::Env("CARDADMIN_TOKEN_PIN".into()).read()?;
/// let session = module.login(slot, "cardadmin", &pin, true)?;
/// let parts = [
///     ceremony::Component::parse(Algorithm::Aes128, "00112233445566778899aabbccddeeff")?,
///     ceremony::Component::parse(Algorithm::Aes128, "0f1e2d3c4b5a69788796a5b4c3d2e1f0")?,
/// ];
/// let combined = ceremony::combine(Algorithm::Aes128, &parts)?;
/// let written = ceremony::import(&module, &session, Algorithm::Aes128, "master", &combined)?;
/// assert_eq!(written.check_value, combined.check_value());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn import(
    module: &Module,
    session: &Session,
    algorithm: Algorithm,
    label: &str,
    key: &CombinedKey,
) -> Result<Written, CeremonyError> {
    refuse_taken_label(session, label)?;
    let mut template = master_template(algorithm, label);
    template.retain(|attribute| !matches!(attribute, Attribute::ValueLen(_)));
    template.push(Attribute::Value(key.bytes.to_vec()));
    let in_memory = key.check_value();

    // The trial: a session object, destroyable, with the same attributes otherwise.
    let mut trial: Vec<Attribute> = template
        .iter()
        .filter(|a| {
            !matches!(
                a,
                Attribute::Token(_) | Attribute::Destroyable(_) | Attribute::Modifiable(_)
            )
        })
        .cloned()
        .chain([Attribute::Token(false)])
        .collect();
    let created = with_optional(&trial, |template| session.create_object(template));
    wipe(&mut trial);
    let (handle, _) = match created {
        Ok(created) => created,
        Err(error) => {
            wipe(&mut template);
            return Err(CeremonyError::Pkcs11 {
                step: "C_CreateObject (session object)",
                error,
            });
        }
    };
    let tried = check_value_of(module, session, handle, algorithm);
    let destroyed = session.destroy_object(handle).is_ok();
    if let Err(err) = tried.and_then(|token| refuse_other_key(in_memory, token, || destroyed)) {
        wipe(&mut template);
        return Err(err);
    }

    let created = with_optional(&template, |template| session.create_object(template));
    wipe(&mut template);
    let (handle, not_set) = created.map_err(pkcs11("C_CreateObject"))?;
    // Not the key the custodians meant (or not usable): take it out again, if the token lets
    // us (the template says it may not be destroyed).
    let destroy = || session.destroy_object(handle).is_ok();
    match check_value_of(module, session, handle, algorithm) {
        Ok(token) => refuse_other_key(in_memory, token, destroy).map(|()| Written {
            handle,
            check_value: token,
            not_set,
        }),
        Err(err) => {
            destroy();
            Err(err)
        }
    }
}

/// Nothing when the token's check value of the key it was given is `in_memory`, the one of
/// the combined components; else [`CeremonyError::CheckValueMismatch`], once `destroy` has
/// tried to take the token's object out again (it says whether it could).
fn refuse_other_key(
    in_memory: KeyCheckValue,
    token: KeyCheckValue,
    destroy: impl FnOnce() -> bool,
) -> Result<(), CeremonyError> {
    if token == in_memory {
        return Ok(());
    }
    Err(CeremonyError::CheckValueMismatch {
        in_memory,
        token,
        destroyed: destroy(),
    })
}

/// One custodian's key component: a plain key value, held in zeroizing memory, never sent to
/// the token on its own. `Debug` shows only its check values.
pub struct Component {
    bytes: Zeroizing<Vec<u8>>,
    algorithm: Algorithm,
}

impl fmt::Debug for Component {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (cmac, legacy) = self.check_values();
        f.debug_struct("Component")
            .field("algorithm", &self.algorithm)
            .field("kcv_cmac", &cmac.to_string())
            .field("kcv_ecb", &legacy.to_string())
            .finish()
    }
}

impl Component {
    /// Parses a component from hex (`2 * key_len` digits; spaces and `-` between groups are
    /// allowed, as paper forms print them), with the core's constant-time decoder.
    ///
    /// ```
    /// use cardadmin::Algorithm;
    /// use cardadmin_pkcs11::ceremony::Component;
    ///
    /// let part = Component::parse(Algorithm::Tdes, "0123 4567 89AB CDEF FEDC BA98 7654 3210 0123 4567 89AB CDEF")?;
    /// let (cmac, ecb) = part.check_values();
    /// assert_eq!(ecb.to_string().len(), 6);
    /// assert_ne!(cmac, ecb);
    /// # Ok::<(), cardadmin::KeyError>(())
    /// ```
    pub fn parse(algorithm: Algorithm, text: &str) -> Result<Self, KeyError> {
        let mut compact: Zeroizing<String> = Zeroizing::new(String::with_capacity(text.len()));
        compact.extend(text.chars().filter(|c| !c.is_whitespace() && *c != '-'));
        let key = AdminKey::new_hex(algorithm, &compact)?;
        Ok(Self {
            bytes: Zeroizing::new(key.expose_secret().to_vec()),
            algorithm,
        })
    }

    /// Refuses this component, the `index`-th (from 1), when it is all zeros or equal to one of
    /// the `earlier` ones (for 3DES, parity bits ignored: DES ignores them). [`combine`] runs
    /// the same checks; the ceremony runs them as each component is typed, before its
    /// custodian confirms it. The comparison takes the same time whatever the bytes.
    ///
    /// ```
    /// use cardadmin::Algorithm;
    /// use cardadmin_pkcs11::ceremony::{CeremonyError, Component};
    ///
    /// let a = Component::parse(Algorithm::Aes128, "00112233445566778899aabbccddeeff")?;
    /// let b = Component::parse(Algorithm::Aes128, "00112233445566778899AABBCCDDEEFF")?;
    /// assert!(matches!(
    ///     b.check_against(2, std::slice::from_ref(&a)),
    ///     Err(CeremonyError::EqualComponents { first: 1, second: 2 })
    /// ));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn check_against(&self, index: usize, earlier: &[Component]) -> Result<(), CeremonyError> {
        let mask = self.significant_bits();
        if self.bytes.iter().fold(0u8, |acc, b| acc | (b & mask)) == 0 {
            return Err(CeremonyError::ZeroComponent { index });
        }
        for (first, other) in (1..).zip(earlier) {
            let differ = self.bytes.len() != other.bytes.len()
                || self
                    .bytes
                    .iter()
                    .zip(other.bytes.iter())
                    .fold(0u8, |acc, (a, b)| acc | ((a ^ b) & mask))
                    != 0;
            if !differ {
                return Err(CeremonyError::EqualComponents {
                    first,
                    second: index,
                });
            }
        }
        Ok(())
    }

    /// The bits of each byte that are key: all for AES, all but the parity bit for DES.
    fn significant_bits(&self) -> u8 {
        match self.algorithm {
            Algorithm::Tdes => 0xfe,
            _ => 0xff,
        }
    }

    /// The component's check values, computed in memory: (X9.24-1:2017 CMAC method, the
    /// traditional `E_K(0)`).
    pub fn check_values(&self) -> (KeyCheckValue, KeyCheckValue) {
        let cmac = MasterKey::new(self.algorithm, &self.bytes).map(|k| k.check_value());
        let ecb = AdminKey::new(self.algorithm, &self.bytes).map(|k| k.check_value());
        match (cmac, ecb) {
            (Ok(cmac), Ok(ecb)) => (cmac, ecb),
            // Unreachable: `parse` made the bytes with this algorithm's length.
            _ => {
                let zero = AdminKey::from_bytes([0; 24]).check_value();
                (zero, zero)
            }
        }
    }
}

/// The XOR of the components, in zeroizing memory, 3DES parity set odd. `Debug` shows only its
/// check value.
pub struct CombinedKey {
    bytes: Zeroizing<Vec<u8>>,
    algorithm: Algorithm,
}

impl fmt::Debug for CombinedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CombinedKey")
            .field("algorithm", &self.algorithm)
            .field("check_value", &self.check_value().to_string())
            .finish()
    }
}

impl CombinedKey {
    /// Refuses the key unless its check value is `expected` (the ceremony's
    /// `--expect-check-value`), before anything is written to the token.
    pub fn expect_check_value(&self, expected: &ExpectedCheckValue) -> Result<(), CeremonyError> {
        let computed = self.check_value();
        if expected.matches(&computed) {
            Ok(())
        } else {
            Err(CeremonyError::UnexpectedCheckValue {
                expected: *expected,
                computed,
            })
        }
    }

    /// The X9.24-1:2017 CMAC check value, computed in memory by `cardadmin::MasterKey`: the
    /// token's value for the written key must equal it.
    pub fn check_value(&self) -> KeyCheckValue {
        match MasterKey::new(self.algorithm, &self.bytes) {
            Ok(key) => key.check_value(),
            Err(_) => AdminKey::from_bytes([0; 24]).check_value(),
        }
    }
}

/// Sets each byte's low bit so the byte has odd parity (the DES key convention), without a
/// branch on the byte.
fn with_odd_parity(byte: u8) -> u8 {
    let mut fold = byte >> 1;
    fold ^= fold >> 4;
    fold ^= fold >> 2;
    fold ^= fold >> 1;
    (byte & 0xfe) | (!fold & 1)
}

/// XORs 2 or 3 components into the master key value; for 3DES, sets odd parity on every byte
/// (the XOR of an even number of odd-parity bytes has even parity; DES ignores the bit, some
/// tokens refuse keys without it). Refuses an all-zero component and two equal components
/// ([`Component::check_against`]), and a combined key the core's audit finds weak or well
/// known ([`CeremonyError::WeakKey`], whose message gives the audit's sentences).
///
/// ```
/// use cardadmin::Algorithm;
/// use cardadmin_pkcs11::ceremony::{combine, Component, CeremonyError};
///
/// let a = Component::parse(Algorithm::Aes128, "00112233445566778899aabbccddeeff")?;
/// let b = Component::parse(Algorithm::Aes128, "00112233445566778899aabbccddeeff")?;
/// assert!(matches!(
///     combine(Algorithm::Aes128, &[a, b]),
///     Err(CeremonyError::EqualComponents { first: 1, second: 2 })
/// ));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn combine(
    algorithm: Algorithm,
    components: &[Component],
) -> Result<CombinedKey, CeremonyError> {
    if !(2..=3).contains(&components.len()) {
        return Err(CeremonyError::ComponentCount {
            found: components.len(),
        });
    }
    let mut bytes = Zeroizing::new(vec![0u8; algorithm.key_len()]);
    for (index, component) in (1..).zip(components) {
        if component.algorithm != algorithm || component.bytes.len() != bytes.len() {
            return Err(CeremonyError::Component {
                index,
                error: KeyError::ByteLength {
                    expected: bytes.len(),
                    found: component.bytes.len(),
                },
            });
        }
        component.check_against(index, components.get(..index - 1).unwrap_or_default())?;
        for (out, byte) in bytes.iter_mut().zip(component.bytes.iter()) {
            *out ^= byte;
        }
    }
    if algorithm == Algorithm::Tdes {
        for byte in bytes.iter_mut() {
            *byte = with_odd_parity(*byte);
        }
    }
    let audit = AdminKey::new(algorithm, &bytes)
        .map_err(|error| CeremonyError::Component { index: 0, error })?
        .audit();
    if !audit.is_clean() {
        return Err(CeremonyError::WeakKey {
            findings: audit.findings().collect(),
        });
    }
    Ok(CombinedKey { bytes, algorithm })
}

/// One secret key of the token, as `list` shows it.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct KeyListing {
    /// `CKA_LABEL`.
    pub label: String,
    /// The algorithm, if it is one of the four this crate knows.
    pub algorithm: Option<Algorithm>,
    /// The key type and size as text (`3DES`, `AES-256`, ...).
    pub description: String,
    /// The check value (6 hex digits) and the method that gave it, if one could be had.
    pub check_value: Option<(String, &'static str)>,
    /// The uses the key allows, `CKA_` names without the prefix (`SIGN`, `ENCRYPT`, ...).
    pub uses: Vec<&'static str>,
    /// `CKA_SENSITIVE` true and `CKA_EXTRACTABLE` false.
    pub sealed: bool,
}

/// Every secret key the logged-in `session` sees, with its check value: X9.24-1:2017 CMAC
/// method computed by the token for a key of a known algorithm that may sign, else the token's
/// `CKA_CHECK_VALUE` (E_K(0)) if it reports one.
///
/// ```no_run
/// use cardadmin_pkcs11::{ceremony, Module, PinSource};
///
/// let module = Module::load("/usr/lib/softhsm/libsofthsm2.so".as_ref())?;
/// let slot = module.find_token("cardadmin")?;
/// let pin = PinSource::Env("CARDADMIN_TOKEN_PIN".into()).read()?;
/// let session = module.login(slot, "cardadmin", &pin, false)?;
/// for key in ceremony::list(&module, &session)? {
///     println!("{} {}", key.label, key.description);
/// }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn list(module: &Module, session: &Session) -> Result<Vec<KeyListing>, CeremonyError> {
    let keys = session
        .find_objects(&[Attribute::Class(ObjectClass::SECRET_KEY)])
        .map_err(pkcs11("C_FindObjects"))?;
    let mut listings = Vec::new();
    for key in keys {
        let attributes = session
            .get_attributes(
                key,
                &[
                    AttributeType::Label,
                    AttributeType::Sign,
                    AttributeType::Verify,
                    AttributeType::Encrypt,
                    AttributeType::Decrypt,
                    AttributeType::Wrap,
                    AttributeType::Unwrap,
                    AttributeType::Derive,
                    AttributeType::Sensitive,
                    AttributeType::Extractable,
                    AttributeType::CheckValue,
                ],
            )
            .map_err(pkcs11("C_GetAttributeValue"))?;
        let mut label = String::new();
        let mut uses = Vec::new();
        let (mut sensitive, mut extractable, mut can_sign) = (false, true, false);
        let mut token_kcv = None;
        for attribute in &attributes {
            match attribute {
                Attribute::Label(bytes) => label = String::from_utf8_lossy(bytes).into_owned(),
                Attribute::Sign(true) => {
                    can_sign = true;
                    uses.push("SIGN");
                }
                Attribute::Verify(true) => uses.push("VERIFY"),
                Attribute::Encrypt(true) => uses.push("ENCRYPT"),
                Attribute::Decrypt(true) => uses.push("DECRYPT"),
                Attribute::Wrap(true) => uses.push("WRAP"),
                Attribute::Unwrap(true) => uses.push("UNWRAP"),
                Attribute::Derive(true) => uses.push("DERIVE"),
                Attribute::Sensitive(value) => sensitive = *value,
                Attribute::Extractable(value) => extractable = *value,
                Attribute::CheckValue(bytes) => {
                    if let [a, b, c, ..] = bytes.as_slice() {
                        token_kcv = Some([*a, *b, *c]);
                    }
                }
                _ => {}
            }
        }
        let (algorithm, description) =
            key_algorithm(session, key).map_err(pkcs11("C_GetAttributeValue"))?;
        let cmac = match (algorithm, can_sign) {
            (Some(algorithm), true) => check_value_of(module, session, key, algorithm).ok(),
            _ => None,
        };
        let check_value = match cmac {
            Some(kcv) => Some((kcv.to_string(), "CMAC (X9.24-1:2017), by the token")),
            // A key the token will not CMAC (another mechanism policy): its own value, if any.
            None => token_kcv.map(|bytes| {
                (
                    bytes.iter().map(|b| format!("{b:02X}")).collect(),
                    "E_K(0) (the token's CKA_CHECK_VALUE)",
                )
            }),
        };
        listings.push(KeyListing {
            label,
            algorithm,
            description,
            check_value,
            uses,
            sealed: sensitive && !extractable,
        });
    }
    listings.sort_by(|a, b| a.label.cmp(&b.label));
    Ok(listings)
}

#[cfg(test)]
mod tests {
    //! What SoftHSMv2 cannot show: it takes every attribute of the master's template, so a
    //! token that refuses the optional ones is played here by `make`, which refuses a template
    //! holding the attribute it does not know the way a token does (`CKR_ATTRIBUTE_TYPE_INVALID`).

    use cardadmin::Algorithm;
    use cryptoki::error::{Error as Pkcs11Error, RvError};
    use cryptoki::object::{Attribute, AttributeType};

    use super::{
        combine, is_attribute, refuse_other_key, wipe, with_odd_parity, with_optional,
        CeremonyError, Component,
    };
    use crate::master_template;

    fn refusing(
        unknown: AttributeType,
    ) -> impl FnMut(&[Attribute]) -> Result<Vec<Attribute>, Pkcs11Error> {
        move |template| {
            if template.iter().any(|a| is_attribute(a, unknown)) {
                Err(Pkcs11Error::Pkcs11(
                    RvError::AttributeTypeInvalid,
                    cryptoki::context::Function::CreateObject,
                ))
            } else {
                Ok(template.to_vec())
            }
        }
    }

    #[test]
    fn an_attribute_the_token_refuses_is_left_out_and_named() {
        let template = master_template(Algorithm::Aes128, "master");
        for (unknown, name) in [
            (AttributeType::Destroyable, "CKA_DESTROYABLE"),
            (AttributeType::AllowedMechanisms, "CKA_ALLOWED_MECHANISMS"),
        ] {
            let (made, left_out) = with_optional(&template, refusing(unknown)).unwrap();
            assert_eq!(left_out, [name]);
            assert!(!made.iter().any(|a| is_attribute(a, unknown)), "{name}");
            // Only that one: everything else of the template is there.
            assert_eq!(made.len(), template.len() - 1, "{name}");
        }
        let (made, left_out) = with_optional(&template, |t| Ok(t.to_vec())).unwrap();
        assert!(left_out.is_empty());
        assert_eq!(made.len(), template.len());
    }

    #[test]
    fn the_allowed_mechanisms_are_known_by_their_vendor_defined_form() {
        let template = master_template(Algorithm::Tdes, "master");
        let allowed: Vec<_> = template
            .iter()
            .filter(|a| is_attribute(a, AttributeType::AllowedMechanisms))
            .collect();
        assert_eq!(allowed.len(), 1);
        assert!(matches!(allowed[0], Attribute::VendorDefined(_)));
        assert!(!is_attribute(allowed[0], AttributeType::Destroyable));
        assert!(!is_attribute(
            &Attribute::Sign(true),
            AttributeType::AllowedMechanisms
        ));
        assert!(is_attribute(
            &Attribute::Destroyable(false),
            AttributeType::Destroyable
        ));
    }

    #[test]
    fn odd_parity_changes_only_the_low_bit_and_leaves_an_odd_count_of_ones() {
        for byte in 0..=255u8 {
            let fixed = with_odd_parity(byte);
            assert_eq!(fixed.count_ones() % 2, 1, "{byte:#04x} -> {fixed:#04x}");
            assert_eq!(fixed & 0xfe, byte & 0xfe, "{byte:#04x} -> {fixed:#04x}");
        }
    }

    /// Two odd-parity components XOR to even parity on every byte: the combined 3DES key has
    /// its parity set odd again.
    #[test]
    fn a_combined_triple_des_key_has_odd_parity() {
        let a = Component::parse(
            Algorithm::Tdes,
            "0123456789abcdeffedcba987654321089abcdef01234567",
        )
        .unwrap();
        let b = Component::parse(
            Algorithm::Tdes,
            "1f2e3d4c5b6a79804c5d6e7f8091a2b3c4d5e6f708192a3b",
        )
        .unwrap();
        let combined = combine(Algorithm::Tdes, &[a, b]).unwrap();
        assert!(combined.bytes.iter().all(|byte| byte.count_ones() % 2 == 1));
    }

    /// A token that computes another check value than the one of the combined components
    /// holds another key: refused, and its object taken out again (SoftHSMv2 always stores
    /// the bytes it is given, so this is shown here).
    #[test]
    fn a_key_whose_token_check_value_differs_is_refused_and_destroyed() {
        let value = |byte: u8| {
            Component::parse(Algorithm::Aes128, &format!("{byte:02x}").repeat(16))
                .unwrap()
                .check_values()
                .0
        };
        let (in_memory, other) = (value(0x11), value(0x22));
        assert_ne!(in_memory, other);

        let mut destroyed = false;
        refuse_other_key(in_memory, in_memory, || {
            destroyed = true;
            true
        })
        .expect("the same key");
        assert!(!destroyed, "a key with the right check value is kept");

        for could in [true, false] {
            match refuse_other_key(in_memory, other, || could) {
                Err(CeremonyError::CheckValueMismatch {
                    in_memory: said_in_memory,
                    token,
                    destroyed,
                }) => {
                    assert_eq!(
                        (said_in_memory, token, destroyed),
                        (in_memory, other, could)
                    );
                }
                other => panic!("expected CheckValueMismatch, got {other:?}"),
            }
        }
    }

    /// Every key value in a template copy is wiped (zeroized, then emptied); the other
    /// attributes are left as they were.
    #[test]
    fn wipe_empties_every_key_value_and_only_those() {
        let mut template = vec![
            Attribute::Label(b"master".to_vec()),
            Attribute::Value(vec![0x2b; 16]),
            Attribute::Sign(true),
            Attribute::Value(vec![0x7e; 24]),
        ];
        wipe(&mut template);
        assert_eq!(
            template,
            [
                Attribute::Label(b"master".to_vec()),
                Attribute::Value(Vec::new()),
                Attribute::Sign(true),
                Attribute::Value(Vec::new()),
            ]
        );
    }
}
