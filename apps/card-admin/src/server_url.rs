//! Which `--server` URLs the enrollment may use.
//!
//! The enrollment takes the card's new admin key from the server (`diversifiedkey`) and the
//! answers that authenticate the card's current key. Over plain HTTP anyone on the path reads
//! the key, and a man in the middle chooses it: he answers `diversifiedkey` with a key of his
//! own, and the card is enrolled under a key he knows. So plain `http://` is only for a server
//! on this machine: a loopback host (`localhost`, 127.0.0.0/8, `::1`), reached without a
//! proxy. Anything else needs `https://`.
//!
//! The URL is parsed with the same parser ureq uses (`http::Uri`), so the host checked here is
//! the host ureq connects to.

use std::fmt;
use std::net::IpAddr;

use ureq::http::Uri;

/// How the server is reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// `http://` to a loopback host: no TLS, no proxy.
    LoopbackHttp,
    /// `https://`, to any host.
    Https,
}

/// Why a `--server` URL is refused. Shows the host at most, never the whole URL (it may carry
/// a user name and password).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UrlError {
    /// Not a URL with a scheme and a host.
    Unparsable,
    /// A scheme other than `http` and `https`.
    Scheme(String),
    /// `http://` to a host that is not loopback.
    PlainHttpOffLoopback(String),
}

impl fmt::Display for UrlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unparsable => write!(
                f,
                "--server: not a URL with a host; expected https://HOST[:PORT] (or http:// to a loopback host)"
            ),
            Self::Scheme(scheme) => write!(
                f,
                "--server: the scheme {scheme:?} is not supported; expected https:// (or http:// to a loopback host)"
            ),
            Self::PlainHttpOffLoopback(host) => write!(
                f,
                "--server: plain http:// to {host}, which is not a loopback host (localhost, 127.0.0.0/8, ::1), is refused: \
                 the server's answers set the card's admin key, and a man in the middle could choose it; use https://"
            ),
        }
    }
}

impl std::error::Error for UrlError {}

/// Checks a `--server` URL: `https://` to any host, `http://` to a loopback host only.
pub fn check(url: &str) -> Result<Transport, UrlError> {
    let uri: Uri = url.parse().map_err(|_| UrlError::Unparsable)?;
    let (Some(scheme), Some(host)) = (uri.scheme_str(), uri.host()) else {
        return Err(UrlError::Unparsable);
    };
    if host.is_empty() {
        return Err(UrlError::Unparsable);
    }
    if scheme.eq_ignore_ascii_case("https") {
        return Ok(Transport::Https);
    }
    if !scheme.eq_ignore_ascii_case("http") {
        return Err(UrlError::Scheme(scheme.to_owned()));
    }
    if is_loopback_host(host) {
        Ok(Transport::LoopbackHttp)
    } else {
        Err(UrlError::PlainHttpOffLoopback(host.to_owned()))
    }
}

/// `localhost` (any case), an IPv4 address in 127.0.0.0/8, or `::1` (with or without the
/// brackets of a URL). Nothing else: not `*.localhost` (a resolver may send it elsewhere), not
/// an IPv4-mapped address, not `0.0.0.0`.
pub fn is_loopback_host(host: &str) -> bool {
    if host.eq_ignore_ascii_case("localhost") {
        return true;
    }
    let bare = host
        .strip_prefix('[')
        .and_then(|inner| inner.strip_suffix(']'))
        .unwrap_or(host);
    match bare.parse::<IpAddr>() {
        Ok(IpAddr::V4(v4)) => v4.is_loopback(),
        Ok(IpAddr::V6(v6)) => v6.is_loopback(),
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn https_is_accepted_to_any_host() {
        for url in [
            "https://cm.example.com",
            "https://cm.example.com:8443/prefix/",
            "HTTPS://192.0.2.7",
            "https://[2001:db8::1]:443",
        ] {
            assert_eq!(check(url), Ok(Transport::Https), "{url}");
        }
    }

    #[test]
    fn plain_http_is_accepted_to_loopback_hosts() {
        for url in [
            "http://localhost:8080",
            "http://LocalHost",
            "http://127.0.0.1:8080/",
            "http://127.255.0.9",
            "http://[::1]:8080",
            "HTTP://127.0.0.1",
            "http://user@127.0.0.1:8080",
        ] {
            assert_eq!(check(url), Ok(Transport::LoopbackHttp), "{url}");
        }
    }

    #[test]
    fn plain_http_is_refused_to_other_hosts() {
        for (url, host) in [
            ("http://cm.example.com", "cm.example.com"),
            ("http://cm.example.com:8080/x", "cm.example.com"),
            ("http://192.0.2.7:8080", "192.0.2.7"),
            ("http://10.0.0.1", "10.0.0.1"),
            ("http://0.0.0.0:8080", "0.0.0.0"),
            ("http://128.0.0.1", "128.0.0.1"),
            ("http://[2001:db8::1]:8080", "[2001:db8::1]"),
            ("http://[::ffff:127.0.0.1]", "[::ffff:127.0.0.1]"),
            ("http://evil.localhost", "evil.localhost"),
            ("http://localhost.evil.example", "localhost.evil.example"),
            ("http://127.0.0.1.evil.example", "127.0.0.1.evil.example"),
            // The host is what follows the user information, as ureq reads it.
            ("http://127.0.0.1@cm.example.com", "cm.example.com"),
        ] {
            assert_eq!(
                check(url),
                Err(UrlError::PlainHttpOffLoopback(host.into())),
                "{url}"
            );
        }
    }

    #[test]
    fn the_refusal_says_why_and_names_the_host_only() {
        let message = check("http://operator:s3cret@cm.example.com:8080/")
            .unwrap_err()
            .to_string();
        assert!(message.contains("cm.example.com"), "{message}");
        assert!(message.contains("man in the middle"), "{message}");
        assert!(message.contains("127.0.0.0/8"), "{message}");
        assert!(!message.contains("s3cret"), "{message}");
        assert!(!message.contains("operator"), "{message}");
    }

    #[test]
    fn other_schemes_and_non_urls_are_refused() {
        assert_eq!(
            check("ftp://127.0.0.1/"),
            Err(UrlError::Scheme("ftp".into()))
        );
        for url in ["", "127.0.0.1:8080", "localhost", "http://", "not a url"] {
            assert!(
                matches!(check(url), Err(UrlError::Unparsable)),
                "{url}: {:?}",
                check(url)
            );
        }
    }

    #[test]
    fn loopback_hosts_are_exactly_localhost_127_slash_8_and_ipv6_one() {
        assert!(is_loopback_host("localhost"));
        assert!(is_loopback_host("127.0.0.1"));
        assert!(is_loopback_host("127.1.2.3"));
        assert!(is_loopback_host("::1"));
        assert!(is_loopback_host("[::1]"));
        assert!(!is_loopback_host("localhost."));
        assert!(!is_loopback_host("126.255.255.255"));
        assert!(!is_loopback_host("::"));
        assert!(!is_loopback_host("[::2]"));
        assert!(!is_loopback_host("2130706433"));
    }
}
