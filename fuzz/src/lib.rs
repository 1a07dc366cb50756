//! The properties the fuzz targets check, one public function per target, grouped by the crate
//! they exercise: [`base`] (the core, `cardadmin`), [`card`] (`cardadmin-card`) and [`mimcm`]
//! (`cardadmin-mimcm`). Each crate's `tests/fuzz_regressions.rs` replays the committed corpus
//! of its targets through the same functions.

#![forbid(unsafe_code)]

pub mod base;
pub mod card;
pub mod mimcm;

pub use base::*;
pub use mimcm::{cm_handle_request, cm_parse_request};
