//! LiveProof's platform surface: the C ABI (`c_api`, `lp_` prefix, header generated into
//! `include/liveproof.h`) and the UniFFI exports (`uniffi_api`) that Kotlin and Swift bindings
//! are generated from. This crate holds no logic that a core test could not reach: it converts
//! arguments, maps errors at one point (`error`), and contains panics.

pub mod c_api;
mod error;
pub mod logging;
pub mod session;
pub mod uniffi_api;

pub use error::{ApiError, CallbackError};

uniffi::setup_scaffolding!();

/// The library version (the workspace version).
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
