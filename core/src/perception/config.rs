//! The engine's configuration: which detector, the models folder and runtime, thresholds.

use std::path::PathBuf;

use serde::Serialize;

use crate::error::{Error, Result};
use crate::models::{ModelOverride, StoreConfig};
use crate::quality::QualityConfig;

/// Which face detector the engine runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum DetectorKind {
    /// MediaPipe BlazeFace short-range, 128×128 (selfie distance; the default).
    BlazeFaceFront,
    /// MediaPipe BlazeFace back-camera model, 256×256 (smaller, farther faces).
    BlazeFaceBack,
    /// InsightFace SCRFD 640×640 (optional; non-commercial weights, see models/README.md).
    Scrfd,
}

impl DetectorKind {
    /// Whether FaceMesh's ROI from this detector's box needs one refinement pass. FaceMesh's
    /// 1.5× ROI is tuned for BlazeFace's eyes-to-mouth box; SCRFD's brow-to-chin box gives a
    /// larger crop, so the engine re-runs FaceMesh once on the ROI from the first pass's
    /// landmarks, as tracking does on the next frame. Seen here against MediaPipe's
    /// BlazeFace-placed result: 2.6–3.6% NME without, 1.7–2.6% with (further passes do not
    /// converge to it: the rest is FaceMesh's sensitivity to crop placement).
    pub fn refines_roi(self) -> bool {
        matches!(self, DetectorKind::Scrfd)
    }

    /// The manifest entry of this detector.
    pub fn model_name(self) -> &'static str {
        match self {
            DetectorKind::BlazeFaceFront => "blazeface_front",
            DetectorKind::BlazeFaceBack => "blazeface_back",
            DetectorKind::Scrfd => "scrfd",
        }
    }
}

/// Engine configuration. `Default` gives the selfie set-up: BlazeFace front, one thread.
#[derive(Clone, Debug)]
pub struct EngineConfig {
    /// Folder holding the model files named in the manifest.
    pub models_dir: PathBuf,
    /// ONNX Runtime shared library; `None` = `$ORT_DYLIB_PATH`.
    pub runtime_path: Option<PathBuf>,
    /// ONNX Runtime intra-op threads per model (1 leaves the app its other cores).
    pub intra_op_threads: usize,
    pub detector: DetectorKind,
    /// Minimum detector score (MediaPipe: 0.5).
    pub min_detection_score: f32,
    /// FaceMesh presence at or below this drops the face and the track (MediaPipe: 0.5).
    pub min_presence: f32,
    /// Faces analysed with FaceMesh per still image (the rest are only counted).
    pub max_faces: usize,
    /// While tracking, also run the detector every this many frames to notice a second face
    /// entering the picture (0 = never: pure MediaPipe-style tracking).
    pub recount_faces_every: u32,
    pub quality: QualityConfig,
    pub overrides: Vec<ModelOverride>,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            models_dir: PathBuf::from("models"),
            runtime_path: None,
            intra_op_threads: 1,
            detector: DetectorKind::BlazeFaceFront,
            min_detection_score: 0.5,
            min_presence: 0.5,
            max_faces: 4,
            recount_faces_every: 15,
            quality: QualityConfig::default(),
            overrides: Vec::new(),
        }
    }
}

impl EngineConfig {
    /// Rejects out-of-range values with a message naming the field.
    pub fn validate(&self) -> Result<()> {
        let unit = |v: f32, name: &str| -> Result<()> {
            if (0.0..=1.0).contains(&v) {
                Ok(())
            } else {
                Err(Error::Config(format!("{name} must be in [0, 1], got {v}")))
            }
        };
        unit(self.min_detection_score, "min_detection_score")?;
        unit(self.min_presence, "min_presence")?;
        if self.intra_op_threads == 0 || self.intra_op_threads > 64 {
            return Err(Error::Config(format!(
                "intra_op_threads must be 1..=64, got {}",
                self.intra_op_threads
            )));
        }
        if self.max_faces == 0 {
            return Err(Error::Config("max_faces must be at least 1".into()));
        }
        self.quality.validate()?;
        for o in &self.overrides {
            if !crate::models::is_sha256_hex(&o.sha256.to_ascii_lowercase()) {
                return Err(Error::Config(format!(
                    "model override `{}`: sha256 `{}` is not 64 hex digits",
                    o.name, o.sha256
                )));
            }
        }
        Ok(())
    }
}

/// The model-loading part of the configuration (the key of the shared model store).
impl From<&EngineConfig> for StoreConfig {
    fn from(c: &EngineConfig) -> StoreConfig {
        StoreConfig {
            models_dir: c.models_dir.clone(),
            runtime_path: c.runtime_path.clone(),
            intra_op_threads: c.intra_op_threads,
            overrides: c.overrides.clone(),
        }
    }
}
