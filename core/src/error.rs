//! The crate-wide internal error: one rich `thiserror` enum per stage, wrapped here.
//!
//! The FFI crate maps this to its small public error at one point (see `ffi/`).

use alloc::string::String;

/// Any error of the pipeline. Every variant's message says what was wrong and what was
/// expected.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Frame(#[from] crate::frame::FrameError),
    #[error(transparent)]
    Detect(#[from] crate::detect::DetectError),
    #[error(transparent)]
    Mesh(#[from] crate::mesh::MeshError),
    #[error(transparent)]
    Quality(#[from] crate::quality::QualityError),
    /// Calibration: a fit, a bundle (JSON, schema, sha256) or a raw score out of contract.
    #[error(transparent)]
    Calibration(#[from] crate::calibration::CalibrationError),
    #[cfg(feature = "std")]
    #[error(transparent)]
    Model(#[from] crate::models::ModelError),
    #[cfg(feature = "std")]
    #[error(transparent)]
    Passive(#[from] crate::passive::PassiveError),
    #[cfg(feature = "std")]
    #[error(transparent)]
    Depth(#[from] crate::passive::depth::DepthError),
    #[cfg(feature = "std")]
    #[error(transparent)]
    Texture(#[from] crate::passive::texture::TextureError),
    #[cfg(feature = "std")]
    #[error(transparent)]
    Matching(#[from] crate::matching::MatchError),
    /// A configuration value is out of range or inconsistent.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// The caller's input is malformed (image size, landmark count, non-finite values, calls
    /// out of order).
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// A model answered out of its contract (wrong length, non-finite values).
    #[error("model output out of contract: {0}")]
    ModelOutput(String),
    /// An internal invariant does not hold: a bug in LiveProof, please report it.
    #[error("internal error: {0}")]
    Internal(String),
}

pub type Result<T, E = Error> = core::result::Result<T, E>;
