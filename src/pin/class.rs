//! Character classes and the rule a policy sets for each.
//!
//! The classes are those of the Windows smart card PIN policy. Space, control and non-ASCII
//! characters belong to none: the same PIN must be typable on every keyboard layout and PIN
//! pad and encode to the same bytes everywhere, which is only true of printable ASCII.

use core::fmt;

/// What a policy says about one character class.
///
/// ```
/// use cardadmin::{CharRule, PinPolicy};
///
/// let policy = PinPolicy::builder()
///     .digits(CharRule::Require)
///     .lowercase(CharRule::Allow)
///     .build()?;
/// assert_eq!(policy.lowercase(), CharRule::Allow);
/// # Ok::<(), cardadmin::PolicyError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CharRule {
    /// The class may appear.
    Allow,
    /// The class must appear at least once.
    Require,
    /// The class must not appear.
    Disallow,
}

impl CharRule {
    pub(crate) fn allows(self) -> bool {
        self != Self::Disallow
    }
}

/// A PIN character class. Space, control and non-ASCII characters belong to none and are never
/// part of a PIN.
///
/// ```
/// use cardadmin::CharClass;
///
/// assert_eq!(CharClass::of('7'), Some(CharClass::Digit));
/// assert_eq!(CharClass::of('~'), Some(CharClass::Special));
/// assert_eq!(CharClass::of(' '), None);
/// assert_eq!(CharClass::Special.characters().len(), 32);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CharClass {
    /// `0-9`.
    Digit,
    /// `a-z`.
    Lowercase,
    /// `A-Z`.
    Uppercase,
    /// The 32 ASCII punctuation characters: 0x21-0x2F, 0x3A-0x40, 0x5B-0x60, 0x7B-0x7E.
    Special,
}

impl CharClass {
    /// Every class, in the order used for the generation alphabet.
    pub(crate) const ALL: [CharClass; 4] =
        [Self::Digit, Self::Lowercase, Self::Uppercase, Self::Special];

    /// The class of a character, or `None` for one that is never part of a PIN.
    ///
    /// ```
    /// use cardadmin::CharClass;
    ///
    /// assert_eq!(CharClass::of('Q'), Some(CharClass::Uppercase));
    /// assert_eq!(CharClass::of('é'), None);
    /// ```
    pub fn of(c: char) -> Option<Self> {
        match c {
            '0'..='9' => Some(Self::Digit),
            'a'..='z' => Some(Self::Lowercase),
            'A'..='Z' => Some(Self::Uppercase),
            _ if c.is_ascii_punctuation() => Some(Self::Special),
            _ => None,
        }
    }

    /// The characters of the class, in ASCII order.
    ///
    /// ```
    /// use cardadmin::CharClass;
    ///
    /// assert_eq!(CharClass::Digit.characters(), b"0123456789");
    /// ```
    pub fn characters(self) -> &'static [u8] {
        match self {
            Self::Digit => b"0123456789",
            Self::Lowercase => b"abcdefghijklmnopqrstuvwxyz",
            Self::Uppercase => b"ABCDEFGHIJKLMNOPQRSTUVWXYZ",
            Self::Special => b"!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~",
        }
    }
}

impl fmt::Display for CharClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Digit => "digit",
            Self::Lowercase => "lowercase letter",
            Self::Uppercase => "uppercase letter",
            Self::Special => "special character",
        })
    }
}
