//! Perception: from a camera frame to faces, landmarks and a quality verdict.
//!
//! - [`EngineConfig`] (`config`): which detector, the models folder and runtime, thresholds.
//! - [`Engine`] (`engine`): the detector and FaceMesh runners, loaded once through the model
//!   store and shared by every stream (`Send + Sync`).
//! - [`Tracker`] (`tracker`): one stream's tracking state and every reusable buffer.
//! - [`StillAnalyzer`] (`still`): still images from many threads over one engine.
//! - [`FrameAnalysis`] (`analysis`): the per-frame record the later stages (passive, active,
//!   matching) read; they import it from here and never the engine.
//!
//! Per frame: camera frame → upright RGB (+ luma) → face detection (BlazeFace or SCRFD;
//! skipped while tracking) → FaceMesh on a rotated ROI → quality gate with hints.
//!
//! `crate::engine` is an alias of this module, kept so existing paths
//! (`liveproof_core::engine::{Engine, Tracker, ...}`) still work.

mod analysis;
mod config;
mod engine;
mod still;
mod tracker;

pub use self::analysis::{FaceAnalysis, FrameAnalysis, FrameNote, StageTimings};
pub use self::config::{DetectorKind, EngineConfig};
#[cfg(feature = "ort")]
pub use self::engine::load_runner;
pub use self::engine::{resolve, Engine, MESH_INPUT};
pub use self::still::StillAnalyzer;
pub use self::tracker::Tracker;
/// Moved to [`crate::models`]; re-exported here for existing paths.
pub use crate::models::ModelOverride;

#[cfg(test)]
mod tests;
