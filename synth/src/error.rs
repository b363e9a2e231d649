//! The generator's error: every message says what was wrong and what was expected.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum SynthError {
    /// The image file cannot be read.
    #[error("cannot read image {path}: {source}")]
    ReadImage {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The image file is not a decodable PNG or JPEG.
    #[error("cannot decode image {path}: {message}; expected a PNG or JPEG photo")]
    DecodeImage { path: PathBuf, message: String },
    /// The photo is empty or has an inconsistent buffer.
    #[error("photo is unusable: {0}")]
    BadPhoto(String),
    /// LiveProof's perception found no face.
    #[error("no face found in the photo ({detected} detected by the face detector, none kept by FaceMesh); expected a photo with one clearly visible, roughly frontal face (for a small face in a group photo, pass its box: --face-box / SourceOptions::face_box)")]
    NoFace { detected: usize },
    /// The face is too small to render from.
    #[error("the face in the photo is too small: {interocular_px:.1} px between the eye centres; expected at least {min_px} px (crop and enlarge the face, or pass its box)")]
    FaceTooSmall { interocular_px: f32, min_px: f32 },
    /// A parameter is out of range.
    #[error("invalid {name}: {message}")]
    InvalidParam { name: &'static str, message: String },
    /// The perception pipeline failed.
    #[error("LiveProof perception failed: {0}")]
    Core(#[from] liveproof_core::Error),
    /// Writing the capture failed.
    #[error("cannot write {path}: {message}")]
    Write { path: PathBuf, message: String },
}

pub type Result<T, E = SynthError> = std::result::Result<T, E>;

impl SynthError {
    pub(crate) fn param(name: &'static str, message: impl Into<String>) -> SynthError {
        SynthError::InvalidParam {
            name,
            message: message.into(),
        }
    }
}
