//! The per-frame record: [`FrameAnalysis`] (faces, landmarks, quality, hints, notes, timings),
//! what the tracker returns and what the stages after perception (passive, active, matching)
//! read.

use serde::Serialize;

use crate::detect::Detection;
use crate::geometry::RotatedRect;
use crate::mesh::Landmarks;
use crate::quality::{HintSet, QualityReport};

/// Wall time per stage of one frame, milliseconds.
#[derive(Clone, Copy, Debug, Default, Serialize)]
pub struct StageTimings {
    /// Frame → upright RGB and luma.
    pub convert: f64,
    /// Detector pre-processing, inference and decoding (0 when tracking skipped it).
    pub detect: f64,
    /// FaceMesh ROI, warp, inference and decoding, all faces.
    pub mesh: f64,
    /// Quality gate, all faces.
    pub quality: f64,
    /// Inside model inference, every model call of the frame (part of `detect` and `mesh`):
    /// `total − model` is the frame's own pixel and bookkeeping work.
    pub model: f64,
    /// The whole frame.
    pub total: f64,
}

/// One analysed face.
#[derive(Clone, Debug, Serialize)]
pub struct FaceAnalysis {
    /// The detection this face came from (in tracking mode: the box and eyes derived from the
    /// landmarks, score = presence).
    pub detection: Detection,
    /// The FaceMesh ROI, image pixels.
    pub roi: RotatedRect,
    /// 468 landmarks in image pixels (z in the same scale, negative = towards the camera).
    pub landmarks: Landmarks,
    /// FaceMesh face-presence probability.
    pub presence: f32,
    pub quality: QualityReport,
}

/// Everything the pipeline knows about one frame.
#[derive(Clone, Debug, Default, Serialize)]
pub struct FrameAnalysis {
    /// Upright frame size, pixels.
    pub width: u32,
    pub height: u32,
    pub timestamp_ns: u64,
    /// Whether the face detector ran on this frame (false when tracking carried the ROI).
    pub detector_ran: bool,
    /// Faces found by the detector (may exceed `faces.len()` when above `max_faces`).
    pub faces_detected: usize,
    pub faces: Vec<FaceAnalysis>,
    /// The capture UI's hints for this frame, most important first.
    pub hints: HintSet,
    /// What the pipeline could not measure on this frame and why (for the app's developer,
    /// not the user; empty on a normal frame).
    pub notes: Vec<FrameNote>,
    pub timings: StageTimings,
}

/// Something the pipeline skipped on a frame, and why. Never a failure: the frame's other
/// checks ran as usual.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FrameNote {
    /// The timestamp equals the previous frame's (or timestamps are missing: 0 on every
    /// frame), so no time passed: stability was not measured on this frame.
    RepeatedTimestamp,
    /// The timestamp is earlier than the previous frame's: the track was restarted and
    /// stability was not measured on this frame.
    ClockWentBackwards,
}

impl FrameAnalysis {
    /// The documented JSON form shared by the CLI, the C ABI and the docs: per face `box`
    /// `[x_min, y_min, x_max, y_max]`, `score`, `keypoints` `[[x, y]…]`, `landmarks`
    /// `[[x, y, z] ×468]` (image pixels), `presence`, `quality` (every check with value,
    /// thresholds and verdict, plus `hints`); frame-level `hints` and `timings_ms` per stage.
    pub fn to_json(&self) -> serde_json::Value {
        let faces: Vec<serde_json::Value> = self
            .faces
            .iter()
            .map(|f| {
                serde_json::json!({
                    "box": f.detection.bbox.as_array(),
                    "score": f.detection.score,
                    "keypoints": f.detection.valid_keypoints().iter().map(|p| [p.x, p.y]).collect::<Vec<_>>(),
                    "landmarks": f.landmarks.iter().map(|p| [p.x, p.y, p.z]).collect::<Vec<_>>(),
                    "presence": f.presence,
                    "quality": f.quality,
                })
            })
            .collect();
        serde_json::json!({
            "width": self.width,
            "height": self.height,
            "timestamp_ns": self.timestamp_ns,
            "detector_ran": self.detector_ran,
            "faces_detected": self.faces_detected,
            "faces": faces,
            "hints": self.hints,
            "notes": self.notes,
            "timings_ms": self.timings,
        })
    }
}
