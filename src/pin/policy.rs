//! The PIN policy of a profile template, and what `validate` says about a PIN.
//!
//! A policy is checked once, when it is built (or deserialized, which goes through the same
//! builder), and is immutable afterwards. Code holding a [`PinPolicy`] therefore never meets one
//! that no PIN can satisfy, which is what lets [`PinPolicy::generate`] promise to find a PIN
//! with a working generator, and lets a server load policies from configuration without
//! re-checking them at every request.

use core::fmt;
use core::ops::RangeInclusive;

use super::class::{CharClass, CharRule};
use super::weak::{weak_pattern, WeakPattern};

/// PIN lengths any policy may set, as the Windows smart card PIN policy allows.
const LENGTH_LIMITS: RangeInclusive<usize> = 4..=127;
/// The proposed length when none is set, clamped into the policy's range.
const DEFAULT_PROPOSED_LEN: usize = 8;

/// Who sets the user PIN, as a MIM CM profile template says.
///
/// ```
/// use cardadmin::{PinPolicy, UserPinOption};
///
/// let policy = PinPolicy::builder().user_pin_option(UserPinOption::UserProvided).build()?;
/// assert!(!policy.server_generates());
/// # Ok::<(), cardadmin::PolicyError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum UserPinOption {
    /// No user PIN is set at issuance.
    None,
    /// The user chooses the PIN.
    UserProvided,
    /// The server proposes a random PIN.
    Randomized,
    /// The server sets a random PIN and distributes it to the user.
    ServerDistributed,
    /// A custom provider sets the PIN; it is the caller's to make, not this crate's.
    CustomServerDistributed,
}

/// A validated PIN policy.
///
/// Build one with [`PinPolicy::builder`]; every policy that builds can generate PINs.
/// `PinPolicy::default()` is 6 to 8 digits (digits required, nothing else allowed), weak PINs
/// rejected, proposed length 8, [`UserPinOption::Randomized`]. With the `serde` feature a policy
/// also loads from configuration files, validated the same way; the
/// [crate docs](crate#pin-policies-in-configuration-files) give the format.
///
/// ```
/// use cardadmin::{CharRule, PinPolicy};
///
/// let policy = PinPolicy::builder()
///     .min_len(8)
///     .max_len(12)
///     .digits(CharRule::Require)
///     .uppercase(CharRule::Require)
///     .build()?;
/// assert_eq!(policy.proposed_len(), 8);
/// assert!(policy.validate("4X9Q2B7K").is_ok());
/// assert!(policy.validate("48915273").is_err()); // no uppercase letter
/// # Ok::<(), cardadmin::PolicyError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct PinPolicy {
    min_len: usize,
    max_len: usize,
    proposed_len: usize,
    digits: CharRule,
    lowercase: CharRule,
    uppercase: CharRule,
    special: CharRule,
    reject_weak: bool,
    user_pin_option: UserPinOption,
}

impl Default for PinPolicy {
    fn default() -> Self {
        Self {
            min_len: 6,
            max_len: 8,
            proposed_len: DEFAULT_PROPOSED_LEN,
            digits: CharRule::Require,
            lowercase: CharRule::Disallow,
            uppercase: CharRule::Disallow,
            special: CharRule::Disallow,
            reject_weak: true,
            user_pin_option: UserPinOption::Randomized,
        }
    }
}

impl PinPolicy {
    /// A builder that starts from [`PinPolicy::default`].
    ///
    /// ```
    /// use cardadmin::PinPolicy;
    ///
    /// assert_eq!(PinPolicy::builder().build()?, PinPolicy::default());
    /// # Ok::<(), cardadmin::PolicyError>(())
    /// ```
    pub fn builder() -> PinPolicyBuilder {
        PinPolicyBuilder::default()
    }

    /// The shortest accepted PIN.
    ///
    /// ```
    /// assert_eq!(cardadmin::PinPolicy::default().min_len(), 6);
    /// ```
    pub fn min_len(&self) -> usize {
        self.min_len
    }

    /// The longest accepted PIN.
    ///
    /// ```
    /// assert_eq!(cardadmin::PinPolicy::default().max_len(), 8);
    /// ```
    pub fn max_len(&self) -> usize {
        self.max_len
    }

    /// The length of generated PINs.
    ///
    /// ```
    /// assert_eq!(cardadmin::PinPolicy::default().proposed_len(), 8);
    /// ```
    pub fn proposed_len(&self) -> usize {
        self.proposed_len
    }

    /// The rule for digits `0-9`.
    ///
    /// ```
    /// use cardadmin::{CharRule, PinPolicy};
    /// assert_eq!(PinPolicy::default().digits(), CharRule::Require);
    /// ```
    pub fn digits(&self) -> CharRule {
        self.digits
    }

    /// The rule for lowercase letters `a-z`.
    ///
    /// ```
    /// use cardadmin::{CharRule, PinPolicy};
    /// assert_eq!(PinPolicy::default().lowercase(), CharRule::Disallow);
    /// ```
    pub fn lowercase(&self) -> CharRule {
        self.lowercase
    }

    /// The rule for uppercase letters `A-Z`.
    ///
    /// ```
    /// use cardadmin::{CharRule, PinPolicy};
    /// assert_eq!(PinPolicy::default().uppercase(), CharRule::Disallow);
    /// ```
    pub fn uppercase(&self) -> CharRule {
        self.uppercase
    }

    /// The rule for the 32 ASCII punctuation characters.
    ///
    /// ```
    /// use cardadmin::{CharRule, PinPolicy};
    /// assert_eq!(PinPolicy::default().special(), CharRule::Disallow);
    /// ```
    pub fn special(&self) -> CharRule {
        self.special
    }

    /// Whether weak PINs (all one character, sequences, repeated blocks) are refused.
    ///
    /// ```
    /// assert!(cardadmin::PinPolicy::default().reject_weak());
    /// ```
    pub fn reject_weak(&self) -> bool {
        self.reject_weak
    }

    /// Who sets the user PIN.
    ///
    /// ```
    /// use cardadmin::{PinPolicy, UserPinOption};
    /// assert_eq!(PinPolicy::default().user_pin_option(), UserPinOption::Randomized);
    /// ```
    pub fn user_pin_option(&self) -> UserPinOption {
        self.user_pin_option
    }

    /// The rule for one class.
    ///
    /// ```
    /// use cardadmin::{CharClass, CharRule, PinPolicy};
    /// assert_eq!(PinPolicy::default().rule(CharClass::Digit), CharRule::Require);
    /// ```
    pub fn rule(&self, class: CharClass) -> CharRule {
        match class {
            CharClass::Digit => self.digits,
            CharClass::Lowercase => self.lowercase,
            CharClass::Uppercase => self.uppercase,
            CharClass::Special => self.special,
        }
    }

    /// True when the server proposes the PIN: [`UserPinOption::Randomized`] or
    /// [`UserPinOption::ServerDistributed`]. A [`UserPinOption::CustomServerDistributed`] PIN is
    /// made by the caller's own provider.
    ///
    /// ```
    /// use cardadmin::{PinPolicy, UserPinOption};
    ///
    /// assert!(PinPolicy::default().server_generates());
    /// let custom = PinPolicy::builder()
    ///     .user_pin_option(UserPinOption::CustomServerDistributed)
    ///     .build()?;
    /// assert!(!custom.server_generates());
    /// # Ok::<(), cardadmin::PolicyError>(())
    /// ```
    pub fn server_generates(&self) -> bool {
        matches!(
            self.user_pin_option,
            UserPinOption::Randomized | UserPinOption::ServerDistributed
        )
    }

    /// Checks a PIN against the policy, with the first reason it fails.
    ///
    /// Checks run in this order: length, characters (never-allowed, then disallowed classes),
    /// required classes, then (when `reject_weak` is on) the weak patterns. Reasons never
    /// repeat a PIN character, so they are safe to log.
    ///
    /// ```
    /// use cardadmin::{CharClass, PinPolicy, PinViolation};
    ///
    /// let policy = PinPolicy::default();
    /// assert_eq!(policy.validate("503918"), Ok(()));
    /// assert_eq!(policy.validate("123456"), Err(PinViolation::Sequence));
    /// assert_eq!(policy.validate("12345"), Err(PinViolation::TooShort { min_len: 6, found: 5 }));
    /// assert_eq!(
    ///     policy.validate("5039a8"),
    ///     Err(PinViolation::DisallowedClass { class: CharClass::Lowercase, position: 4 }),
    /// );
    /// ```
    pub fn validate(&self, pin: &str) -> Result<(), PinViolation> {
        let found = pin.chars().count();
        if found < self.min_len {
            return Err(PinViolation::TooShort {
                min_len: self.min_len,
                found,
            });
        }
        if found > self.max_len {
            return Err(PinViolation::TooLong {
                max_len: self.max_len,
                found,
            });
        }
        for (position, c) in pin.chars().enumerate() {
            let class = CharClass::of(c).ok_or(PinViolation::NeverAllowed { position })?;
            if !self.rule(class).allows() {
                return Err(PinViolation::DisallowedClass { class, position });
            }
        }
        // Every character is ASCII from here on, so bytes are characters.
        self.check_composition(pin.as_bytes())
    }

    /// The checks that remain once length and characters are known to be allowed: required
    /// classes and weak patterns. Generation draws only allowed characters at an allowed
    /// length, and runs exactly these checks, so what it returns passes `validate`.
    pub(crate) fn check_composition(&self, pin: &[u8]) -> Result<(), PinViolation> {
        for class in CharClass::ALL {
            if self.rule(class) == CharRule::Require
                && !pin
                    .iter()
                    .any(|&byte| CharClass::of(char::from(byte)) == Some(class))
            {
                return Err(PinViolation::MissingClass { class });
            }
        }
        if self.reject_weak {
            if let Some(pattern) = weak_pattern(pin) {
                return Err(match pattern {
                    WeakPattern::AllSame => PinViolation::AllSame,
                    WeakPattern::Sequence => PinViolation::Sequence,
                    WeakPattern::RepeatedBlock { block_len } => {
                        PinViolation::RepeatedBlock { block_len }
                    }
                });
            }
        }
        Ok(())
    }

    /// The characters generation draws from: every allowed class, in [`CharClass::ALL`] order.
    /// Returns the buffer and how much of it is used (at most 94 characters).
    pub(crate) fn alphabet(&self) -> ([u8; 94], usize) {
        let mut alphabet = [0u8; 94];
        let mut len = 0;
        for class in CharClass::ALL {
            if self.rule(class).allows() {
                for (slot, &c) in alphabet.iter_mut().skip(len).zip(class.characters()) {
                    *slot = c;
                    len += 1;
                }
            }
        }
        (alphabet, len)
    }
}

/// Builds a [`PinPolicy`]; starts from [`PinPolicy::default`]. Each method sets the field of
/// the same name; [`build`](PinPolicyBuilder::build) checks them together.
///
/// ```
/// use cardadmin::{CharRule, PinPolicy, PolicyError, UserPinOption};
///
/// let policy = PinPolicy::builder()
///     .min_len(4)
///     .max_len(127)
///     .proposed_len(12)
///     .digits(CharRule::Allow)
///     .lowercase(CharRule::Require)
///     .uppercase(CharRule::Allow)
///     .special(CharRule::Disallow)
///     .reject_weak(true)
///     .user_pin_option(UserPinOption::ServerDistributed)
///     .build()?;
/// assert_eq!(policy.proposed_len(), 12);
///
/// let err = PinPolicy::builder().min_len(3).build().unwrap_err();
/// assert_eq!(err, PolicyError::LengthOutOfRange { field: "min_len", min: 4, max: 127, found: 3 });
/// # Ok::<(), PolicyError>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PinPolicyBuilder {
    policy: PinPolicy,
    proposed_len: Option<usize>,
}

macro_rules! setters {
    ($($(#[$doc:meta])* $field:ident: $type:ty;)*) => {
        $(
            $(#[$doc])*
            pub fn $field(mut self, $field: $type) -> Self {
                self.policy.$field = $field;
                self
            }
        )*
    };
}

impl PinPolicyBuilder {
    setters! {
        /// The shortest accepted PIN, 4 to 127.
        ///
        /// ```
        /// let policy = cardadmin::PinPolicy::builder().min_len(4).build()?;
        /// assert_eq!(policy.min_len(), 4);
        /// # Ok::<(), cardadmin::PolicyError>(())
        /// ```
        min_len: usize;
        /// The longest accepted PIN, 4 to 127 and at least `min_len`.
        ///
        /// ```
        /// let policy = cardadmin::PinPolicy::builder().max_len(127).build()?;
        /// assert_eq!(policy.max_len(), 127);
        /// # Ok::<(), cardadmin::PolicyError>(())
        /// ```
        max_len: usize;
        /// The rule for digits.
        ///
        /// ```
        /// use cardadmin::{CharRule, PinPolicy};
        /// let policy = PinPolicy::builder().digits(CharRule::Allow).build()?;
        /// assert_eq!(policy.digits(), CharRule::Allow);
        /// # Ok::<(), cardadmin::PolicyError>(())
        /// ```
        digits: CharRule;
        /// The rule for lowercase letters.
        ///
        /// ```
        /// use cardadmin::{CharRule, PinPolicy};
        /// let policy = PinPolicy::builder().lowercase(CharRule::Require).build()?;
        /// assert_eq!(policy.lowercase(), CharRule::Require);
        /// # Ok::<(), cardadmin::PolicyError>(())
        /// ```
        lowercase: CharRule;
        /// The rule for uppercase letters.
        ///
        /// ```
        /// use cardadmin::{CharRule, PinPolicy};
        /// let policy = PinPolicy::builder().uppercase(CharRule::Allow).build()?;
        /// assert_eq!(policy.uppercase(), CharRule::Allow);
        /// # Ok::<(), cardadmin::PolicyError>(())
        /// ```
        uppercase: CharRule;
        /// The rule for the 32 ASCII punctuation characters.
        ///
        /// ```
        /// use cardadmin::{CharRule, PinPolicy};
        /// let policy = PinPolicy::builder().special(CharRule::Allow).build()?;
        /// assert!(policy.validate("12#456").is_ok());
        /// # Ok::<(), cardadmin::PolicyError>(())
        /// ```
        special: CharRule;
        /// Whether weak PINs are refused.
        ///
        /// ```
        /// let policy = cardadmin::PinPolicy::builder().reject_weak(false).build()?;
        /// assert!(policy.validate("123456").is_ok());
        /// # Ok::<(), cardadmin::PolicyError>(())
        /// ```
        reject_weak: bool;
        /// Who sets the user PIN.
        ///
        /// ```
        /// use cardadmin::{PinPolicy, UserPinOption};
        /// let policy = PinPolicy::builder().user_pin_option(UserPinOption::None).build()?;
        /// assert!(!policy.server_generates());
        /// # Ok::<(), cardadmin::PolicyError>(())
        /// ```
        user_pin_option: UserPinOption;
    }

    /// The length of generated PINs, within `min_len..=max_len`. When not set: 8, clamped into
    /// that range.
    ///
    /// ```
    /// let policy = cardadmin::PinPolicy::builder().max_len(12).proposed_len(10).build()?;
    /// assert_eq!(policy.proposed_len(), 10);
    /// # Ok::<(), cardadmin::PolicyError>(())
    /// ```
    pub fn proposed_len(mut self, proposed_len: usize) -> Self {
        self.proposed_len = Some(proposed_len);
        self
    }

    /// Checks the fields together and makes the policy.
    ///
    /// Fails when a length is outside 4 to 127, `min_len > max_len`, `proposed_len` is outside
    /// `min_len..=max_len`, or every class is disallowed.
    ///
    /// ```
    /// use cardadmin::{PinPolicy, PolicyError};
    ///
    /// assert!(PinPolicy::builder().min_len(8).build().is_ok());
    /// assert_eq!(
    ///     PinPolicy::builder().min_len(9).build().unwrap_err(),
    ///     PolicyError::MinAboveMax { min_len: 9, max_len: 8 },
    /// );
    /// ```
    pub fn build(self) -> Result<PinPolicy, PolicyError> {
        let mut policy = self.policy;
        for (field, found) in [("min_len", policy.min_len), ("max_len", policy.max_len)] {
            if !LENGTH_LIMITS.contains(&found) {
                return Err(PolicyError::LengthOutOfRange {
                    field,
                    min: *LENGTH_LIMITS.start(),
                    max: *LENGTH_LIMITS.end(),
                    found,
                });
            }
        }
        if policy.min_len > policy.max_len {
            return Err(PolicyError::MinAboveMax {
                min_len: policy.min_len,
                max_len: policy.max_len,
            });
        }
        policy.proposed_len = match self.proposed_len {
            None => DEFAULT_PROPOSED_LEN.clamp(policy.min_len, policy.max_len),
            Some(proposed_len) if (policy.min_len..=policy.max_len).contains(&proposed_len) => {
                proposed_len
            }
            Some(proposed_len) => {
                return Err(PolicyError::ProposedOutOfRange {
                    proposed_len,
                    min_len: policy.min_len,
                    max_len: policy.max_len,
                })
            }
        };
        if !CharClass::ALL
            .into_iter()
            .any(|class| policy.rule(class).allows())
        {
            return Err(PolicyError::NoClassAllowed);
        }
        Ok(policy)
    }
}

/// A policy that cannot be built.
///
/// ```
/// use cardadmin::{CharRule, PinPolicy, PolicyError};
///
/// let err = PinPolicy::builder().digits(CharRule::Disallow).build().unwrap_err();
/// assert_eq!(err, PolicyError::NoClassAllowed);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum PolicyError {
    /// `min_len` or `max_len` is outside 4 to 127.
    LengthOutOfRange {
        /// `"min_len"` or `"max_len"`.
        field: &'static str,
        /// The smallest allowed value (4).
        min: usize,
        /// The largest allowed value (127).
        max: usize,
        /// The value given.
        found: usize,
    },
    /// `min_len` is greater than `max_len`.
    MinAboveMax {
        /// The `min_len` given.
        min_len: usize,
        /// The `max_len` given.
        max_len: usize,
    },
    /// `proposed_len` is outside `min_len..=max_len`.
    ProposedOutOfRange {
        /// The `proposed_len` given.
        proposed_len: usize,
        /// The policy's `min_len`.
        min_len: usize,
        /// The policy's `max_len`.
        max_len: usize,
    },
    /// Every character class is disallowed, so no PIN could pass.
    NoClassAllowed,
}

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::LengthOutOfRange {
                field,
                min,
                max,
                found,
            } => write!(f, "PIN policy {field} must be {min} to {max}, got {found}"),
            Self::MinAboveMax { min_len, max_len } => write!(
                f,
                "PIN policy min_len ({min_len}) must not be greater than max_len ({max_len})"
            ),
            Self::ProposedOutOfRange {
                proposed_len,
                min_len,
                max_len,
            } => write!(
                f,
                "PIN policy proposed_len must be within min_len..=max_len ({min_len} to {max_len}), got {proposed_len}"
            ),
            Self::NoClassAllowed => f.write_str(
                "PIN policy disallows every character class: allow or require at least one of digits, lowercase, uppercase, special",
            ),
        }
    }
}

/// Why a PIN does not satisfy a policy. No variant holds a PIN character.
///
/// ```
/// use cardadmin::{PinPolicy, PinViolation};
///
/// let err = PinPolicy::default().validate("121212").unwrap_err();
/// assert_eq!(err, PinViolation::RepeatedBlock { block_len: 2 });
/// assert_eq!(err.to_string(), "PIN is weak: a block of 2 characters repeated");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum PinViolation {
    /// Fewer characters than `min_len`.
    TooShort {
        /// The policy's `min_len`.
        min_len: usize,
        /// The number of characters given.
        found: usize,
    },
    /// More characters than `max_len`.
    TooLong {
        /// The policy's `max_len`.
        max_len: usize,
        /// The number of characters given.
        found: usize,
    },
    /// A space, control or non-ASCII character, which no PIN may hold.
    NeverAllowed {
        /// Zero-based character position.
        position: usize,
    },
    /// A character of a class the policy disallows.
    DisallowedClass {
        /// The disallowed class.
        class: CharClass,
        /// Zero-based character position.
        position: usize,
    },
    /// A required class does not appear.
    MissingClass {
        /// The missing class.
        class: CharClass,
    },
    /// Weak: every character the same.
    AllSame,
    /// Weak: each character one more, or each one less, than the one before.
    Sequence,
    /// Weak: a block of 2 or 3 characters repeated to make the whole PIN.
    RepeatedBlock {
        /// 2 or 3.
        block_len: usize,
    },
}

impl fmt::Display for PinViolation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::TooShort { min_len, found } => write!(
                f,
                "PIN is too short: at least {min_len} characters expected, got {found}"
            ),
            Self::TooLong { max_len, found } => write!(
                f,
                "PIN is too long: at most {max_len} characters expected, got {found}"
            ),
            Self::NeverAllowed { position } => write!(
                f,
                "PIN has a space, control or non-ASCII character at position {position}; only ASCII letters, digits and punctuation are allowed"
            ),
            Self::DisallowedClass { class, position } => write!(
                f,
                "PIN has a {class} at position {position}, which the policy does not allow"
            ),
            Self::MissingClass { class } => {
                write!(f, "PIN must contain at least one {class}")
            }
            Self::AllSame => f.write_str("PIN is weak: every character is the same"),
            Self::Sequence => f.write_str(
                "PIN is weak: each character is one more, or one less, than the one before",
            ),
            Self::RepeatedBlock { block_len } => {
                write!(f, "PIN is weak: a block of {block_len} characters repeated")
            }
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for PolicyError {}
#[cfg(feature = "std")]
impl std::error::Error for PinViolation {}
