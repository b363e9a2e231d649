//! LiveProof core: the whole on-device liveness pipeline, one module per stage.
//!
//! Geometry and image math (`geometry`, `math`, `frame`, `detect`, `mesh`, `quality`) and the
//! decision layer (`evidence`, `fusion`, `policy`) build without the `std` feature (no_std +
//! alloc). The model runner and the engine need `std`.
#![cfg_attr(not(feature = "std"), no_std)]
#![forbid(unsafe_code)]

extern crate alloc;

pub mod calibration;
pub mod defaults;
pub mod detect;
pub mod error;
pub mod evidence;
pub mod frame;
pub mod fusion;
pub mod geometry;
pub mod math;
pub mod mesh;
pub mod policy;
pub mod quality;
pub mod result;
pub mod security;

#[cfg(feature = "std")]
pub mod active;
/// The old name of [`perception`], kept so existing paths keep working.
#[cfg(feature = "std")]
pub use self::perception as engine;
#[cfg(feature = "std")]
pub mod matching;
#[cfg(feature = "std")]
pub mod models;
#[cfg(feature = "std")]
pub mod passive;
#[cfg(feature = "std")]
pub mod perception;
#[cfg(feature = "std")]
pub mod session;
#[cfg(feature = "trust")]
pub mod trust;

pub use error::{Error, Result};
