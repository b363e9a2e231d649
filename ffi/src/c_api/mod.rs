//! The C ABI: `lp_`-prefixed functions over opaque handles, generated into
//! `include/liveproof.h` by the pinned cbindgen (`cargo xtask gen`). The written contract is
//! `docs/c-abi.md`; in short, as rustls-ffi does:
//!
//! - Fallible functions return an [`lp_result`]; its numbers are never reused.
//! - Output parameters come last; a buffer is always followed by its length.
//! - Nothing is written to outputs on failure; the calling thread's last error message is
//!   copied out by [`lp_last_error_message`].
//! - Every body runs inside a panic boundary (`boundary`): a panic becomes `LP_PANIC`.
//! - Each handle has one `_free` function; all `_free` functions accept NULL.
//!
//! No logic lives here: arguments are checked and converted, core does the work, and core's
//! errors are mapped through [`ApiError`] (the crate's single mapping point) and then to an
//! [`lp_result`] by `result_of`.

// C names (`lp_engine`, `LP_OK`) are the ABI; the Rust side uses the same spelling.
#![allow(non_camel_case_types)]
#![deny(unsafe_op_in_unsafe_fn)]

use std::cell::RefCell;
use std::ffi::{c_char, CStr};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};

use liveproof_core::engine::{
    DetectorKind, Engine, EngineConfig, FrameAnalysis, FrameNote, StillAnalyzer, Tracker,
};
use liveproof_core::frame::{Frame, PixelFormat, Plane, Rotation};
use liveproof_core::policy::LoadedPolicy;
use liveproof_core::quality::{Hint, HintSet};
use liveproof_core::session::{FrameFeedback, SessionConfig};
use liveproof_core::trust::Signer;

use crate::error::{catch_panic, ApiError};
use crate::session::{
    DeviceToken, LiveSession, Outcome, SessionEngine, SessionKind, SessionOptions,
};

// One module per handle. cbindgen writes the header in this order (types, library-wide
// functions, then each handle's functions, a session's in the order an app calls them), so
// the groups are kept apart from rustfmt's sort.
mod types;

mod library;

mod engine;

mod tracker;

mod analysis;

mod token;

mod signer;

mod session;

mod outcome;

// Internal: the panic boundary, pointer and versioned-struct helpers, the conversions to and
// from core, and the enums' value lists and names.
mod boundary;
mod convert;
mod names;

pub use self::analysis::*;
use self::boundary::*;
use self::convert::*;
pub use self::engine::*;
pub use self::library::*;
use self::names::*;
pub use self::outcome::*;
pub use self::session::*;
pub use self::signer::*;
pub use self::token::*;
pub use self::tracker::*;
pub use self::types::*;

#[cfg(test)]
mod session_tests;
#[cfg(test)]
mod tests;
