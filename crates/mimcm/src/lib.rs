#![doc = include_str!("../README.md")]
#![no_std]
#![forbid(unsafe_code)]
#![deny(missing_docs)]
// No panicking shortcuts in the library: nothing in the public API may panic on any input.
// Tests may use them, so the lints apply outside `cfg(test)` only.
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing,
        clippy::unreachable,
        clippy::todo,
        clippy::unimplemented,
        clippy::string_slice
    )
)]

extern crate alloc;
#[cfg(any(feature = "std", test))]
extern crate std;

mod error;
mod handle;
mod parse;
mod percent;
mod profile;
mod record;
mod reply;
mod route;

pub use error::RequestError;
pub use handle::{answer, handle_request};
pub use parse::{parse_request, ParsedRequest};
pub use profile::Profile;
pub use record::{AuditRecord, KeyRole};
pub use reply::Reply;
pub use route::{Endpoint, Guid};

/// The longest request target (path and query, still percent-encoded) that
/// [`handle_request`] reads, in bytes; a longer one is a 414 ([`RequestError::TooLong`]). The same
/// as IIS's default `maxUrl`, and far more than any MIM CM request needs (about 200 bytes).
pub const MAX_TARGET_LEN: usize = 4096;

/// The content type of every body [`handle_request`] writes: JSON in UTF-8, as MIM CM's
/// ASP.NET Web API sends it.
pub const CONTENT_TYPE: &str = "application/json; charset=utf-8";

/// The path prefix under which MIM CM serves its REST API, matched without regard to case.
pub const PREFIX: &str = "/CertificateManagement/api/v1.0";
