//! What the facade answers: status, content type and JSON body.

use alloc::string::String;
use core::fmt::{self, Write as _};

use crate::{RequestError, CONTENT_TYPE};
use zeroize::Zeroizing;

/// The answer to a request: HTTP status, content type and body.
///
/// The body of a 200 is a JSON string (`"F0Zudm4wPLY="`, with the quotes); of an error, a
/// JSON object with a `Message` (the [`RequestError`] text, as ASP.NET Web API names it) and,
/// when one parameter is at fault, its name in `Parameter`. A 204 has no body and no
/// content type. The body may hold a diversified key or a PIN, so it is zeroized on drop and
/// `Debug` shows only its length.
///
/// ```
/// # #[cfg(feature = "getrandom")]
/// # {
/// use cardadmin::{AdminKey, PinPolicy};
/// use cardadmin::rng::OsRng;
///
/// let (key, policy) = (AdminKey::from_bytes([0; 24]), PinPolicy::default());
/// let profile = cardadmin_mimcm::Profile::without_master(&key, &policy);
/// let reply = cardadmin_mimcm::handle_request(&profile, "/nowhere", &mut OsRng);
/// assert_eq!(reply.status(), 404);
/// assert_eq!(reply.content_type(), Some("application/json; charset=utf-8"));
/// assert!(reply.body().starts_with(r#"{"Message":"request target: no MIM CM endpoint here"#));
/// assert_eq!(reply.error(), Some(cardadmin_mimcm::RequestError::NotFound));
/// # }
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Reply {
    pub(crate) status: u16,
    pub(crate) body: Zeroizing<String>,
    pub(crate) error: Option<RequestError>,
}

impl Reply {
    /// The reply for an error: [`RequestError::status`], and a JSON body with its message.
    ///
    /// ```
    /// use cardadmin_mimcm::RequestError;
    ///
    /// let reply = cardadmin_mimcm::Reply::from_error(RequestError::Missing { parameter: "cardid" });
    /// assert_eq!(reply.status(), 400);
    /// assert_eq!(
    ///     reply.body(),
    ///     r#"{"Message":"cardid: required query parameter is missing","Parameter":"cardid"}"#,
    /// );
    /// ```
    pub fn from_error(error: RequestError) -> Self {
        let mut body = Zeroizing::new(String::new());
        // Writing to a `String` cannot fail.
        let _ = write_error_body(&mut body, &error);
        Self {
            status: error.status(),
            body,
            error: Some(error),
        }
    }

    pub(crate) fn ok(text: &str) -> Self {
        let mut body = Zeroizing::new(String::with_capacity(text.len() + 2));
        let _ = write_json_string(&mut body, text);
        Self {
            status: 200,
            body,
            error: None,
        }
    }

    pub(crate) fn no_content() -> Self {
        Self {
            status: 204,
            body: Zeroizing::new(String::new()),
            error: None,
        }
    }

    /// The HTTP status code: 200, 204, or the error's [`RequestError::status`].
    ///
    /// ```
    /// let reply = cardadmin_mimcm::Reply::from_error(cardadmin_mimcm::RequestError::NotFound);
    /// assert_eq!(reply.status(), 404);
    /// ```
    pub fn status(&self) -> u16 {
        self.status
    }

    /// The `Content-Type` to send: [`CONTENT_TYPE`], or `None` for a 204.
    ///
    /// ```
    /// let reply = cardadmin_mimcm::Reply::from_error(cardadmin_mimcm::RequestError::NotFound);
    /// assert_eq!(reply.content_type(), Some(cardadmin_mimcm::CONTENT_TYPE));
    /// ```
    pub fn content_type(&self) -> Option<&'static str> {
        if self.status == 204 {
            None
        } else {
            Some(CONTENT_TYPE)
        }
    }

    /// The body (empty for a 204). It can be a secret (a PIN, a diversified key): do not log
    /// it.
    ///
    /// ```
    /// let reply = cardadmin_mimcm::Reply::from_error(cardadmin_mimcm::RequestError::NotFound);
    /// assert!(reply.body().starts_with('{'));
    /// ```
    pub fn body(&self) -> &str {
        &self.body
    }

    /// The body, to hand to the HTTP layer; still zeroized when dropped.
    ///
    /// ```
    /// let reply = cardadmin_mimcm::Reply::from_error(cardadmin_mimcm::RequestError::NotFound);
    /// let body = reply.into_body();
    /// assert!(body.ends_with('}'));
    /// ```
    pub fn into_body(self) -> Zeroizing<String> {
        self.body
    }

    /// The error answered, if the request failed: safe to log (it holds no key bytes and no
    /// PIN characters).
    ///
    /// ```
    /// let reply = cardadmin_mimcm::Reply::from_error(cardadmin_mimcm::RequestError::NotFound);
    /// assert_eq!(reply.error(), Some(cardadmin_mimcm::RequestError::NotFound));
    /// ```
    pub fn error(&self) -> Option<RequestError> {
        self.error
    }
}

impl fmt::Debug for Reply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reply")
            .field("status", &self.status)
            .field("body_len", &self.body.len())
            .field("error", &self.error)
            .finish()
    }
}

impl From<RequestError> for Reply {
    fn from(error: RequestError) -> Self {
        Self::from_error(error)
    }
}

/// A JSON string literal: quotes, and escapes for `"`, `\` and control characters.
pub(crate) fn write_json_string(out: &mut String, text: &str) -> fmt::Result {
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if u32::from(c) < 0x20 || c == '\u{7f}' => write!(out, "\\u{:04x}", u32::from(c))?,
            c => out.push(c),
        }
    }
    out.push('"');
    Ok(())
}

pub(crate) fn write_error_body(out: &mut String, error: &RequestError) -> fmt::Result {
    let mut message = String::new();
    write!(message, "{error}")?;
    out.push_str("{\"Message\":");
    write_json_string(out, &message)?;
    if let Some(parameter) = error.parameter() {
        out.push_str(",\"Parameter\":");
        write_json_string(out, parameter)?;
    }
    out.push('}');
    Ok(())
}
