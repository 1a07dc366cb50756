//! A generated PIN: a secret until the user has it.
//!
//! The PIN lives in a fixed buffer rather than a `String` so that generation needs no
//! allocator and the one copy this crate makes can be wiped on drop; a `String` that grows
//! leaves old copies behind in freed memory. Reading it takes an explicit
//! [`Pin::as_str`], never a `Display` or `Debug` that a log line could pick up by accident.

use core::fmt;

use zeroize::{Zeroize, ZeroizeOnDrop};

/// The longest PIN any policy allows.
pub(crate) const MAX_PIN_LEN: usize = 127;

/// A PIN made by [`PinPolicy::generate`](crate::PinPolicy::generate).
///
/// It lives in a fixed buffer (no allocation) that is zeroized on drop, and `Debug` shows only
/// its length. There is deliberately no `Display`: reading it takes an explicit
/// [`as_str`](Pin::as_str).
///
/// ```
/// # #[cfg(feature = "getrandom")]
/// # {
/// use cardadmin::PinPolicy;
/// use cardadmin::rng::OsRng;
///
/// let pin = PinPolicy::default().generate(&mut OsRng)?;
/// assert_eq!(pin.len(), 8);
/// assert_eq!(format!("{pin:?}"), "Pin(<redacted>, len 8)");
/// assert!(pin.as_str().bytes().all(|b| b.is_ascii_digit()));
/// # }
/// # Ok::<(), cardadmin::GenerateError>(())
/// ```
pub struct Pin {
    characters: [u8; MAX_PIN_LEN],
    len: usize,
}

impl Pin {
    /// Takes the first `len` bytes of `characters`, which must be ASCII.
    pub(crate) fn new(characters: [u8; MAX_PIN_LEN], len: usize) -> Self {
        Self { characters, len }
    }

    /// The PIN text.
    ///
    /// ```
    /// # #[cfg(feature = "getrandom")]
    /// # {
    /// use cardadmin::PinPolicy;
    /// use cardadmin::rng::OsRng;
    ///
    /// let pin = PinPolicy::default().generate(&mut OsRng)?;
    /// assert_eq!(PinPolicy::default().validate(pin.as_str()), Ok(()));
    /// # }
    /// # Ok::<(), cardadmin::GenerateError>(())
    /// ```
    pub fn as_str(&self) -> &str {
        // Generation only writes ASCII from the policy alphabet, so this is always `Some`.
        self.characters
            .get(..self.len)
            .and_then(|bytes| core::str::from_utf8(bytes).ok())
            .unwrap_or_default()
    }

    /// The number of characters (at least 4: no policy allows shorter PINs).
    ///
    /// ```
    /// # #[cfg(feature = "getrandom")]
    /// # {
    /// use cardadmin::PinPolicy;
    /// use cardadmin::rng::OsRng;
    ///
    /// let policy = PinPolicy::builder().min_len(4).max_len(4).build()?;
    /// assert_eq!(policy.generate(&mut OsRng)?.len(), 4);
    /// # }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[allow(clippy::len_without_is_empty)] // A PIN is never empty.
    pub fn len(&self) -> usize {
        self.len
    }
}

impl Drop for Pin {
    fn drop(&mut self) {
        self.characters.zeroize();
    }
}

impl ZeroizeOnDrop for Pin {}

impl fmt::Debug for Pin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Pin(<redacted>, len {})", self.len)
    }
}
