//! Passive liveness: signs of a presentation attack in a window of frames, with nothing asked
//! of the user.
//!
//! Each signal is its own module and follows one shape:
//! - a pure per-frame function that turns pixels and landmarks into a small feature record
//!   (no model runner needed, unit-testable);
//! - a pure window function that turns those records into a [`SignalReport`]: a raw score in
//!   [0, 1] (higher = more likely live), the features behind it, or "not available" with the
//!   reason (model missing, window too short, not enough motion).
//!
//! Scores are raw and uncalibrated: calibration and fusion are later stages. See
//! `docs/passive.md` for what each signal detects, what it cannot, and its cost.

use alloc::collections::BTreeMap;
use alloc::string::{String, ToString};

use serde::Serialize;

use crate::geometry::{Point3, Rect};

pub mod analyzer;
pub mod depth;
#[cfg(feature = "fft")]
pub mod fft;
pub mod parallax;
pub mod reflection;
pub mod texture;

/// The outcome of one passive signal over a window.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SignalReport {
    /// Raw score in [0, 1], higher = more likely live; `None` when not available.
    pub score: Option<f32>,
    /// Whether the signal could be computed.
    pub available: bool,
    /// Why the signal is not available (empty when it is).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub reason: String,
    /// The named features the score was computed from (units in each module's docs).
    pub features: BTreeMap<String, f64>,
}

impl SignalReport {
    /// An available result. `score` is clamped into [0, 1]; a non-finite score makes the
    /// report unavailable instead (never a silent NaN).
    pub fn scored(score: f32, features: BTreeMap<String, f64>) -> SignalReport {
        if !score.is_finite() {
            return SignalReport::unavailable("score is not finite (degenerate input)");
        }
        SignalReport {
            score: Some(score.clamp(0.0, 1.0)),
            available: true,
            reason: String::new(),
            features,
        }
    }

    /// A "not available" result with its reason.
    pub fn unavailable(reason: impl ToString) -> SignalReport {
        SignalReport {
            score: None,
            available: false,
            reason: reason.to_string(),
            features: BTreeMap::new(),
        }
    }

    /// Adds features to the report (kept on unavailable reports too, for diagnosis).
    pub fn with_features(mut self, features: BTreeMap<String, f64>) -> SignalReport {
        self.features.extend(features);
        self
    }
}

/// What every signal needs to know about the face in one frame (upright image pixels).
#[derive(Clone, Copy, Debug)]
pub struct FaceGeometry<'a> {
    /// The 468 FaceMesh landmarks, image pixels (z in the same scale).
    pub landmarks: &'a [Point3],
    /// Face box, image pixels.
    pub bbox: Rect,
}

impl FaceGeometry<'_> {
    /// Inter-ocular distance (eye-centre to eye-centre), pixels; `None` when the landmarks
    /// are not 468 finite points or the eyes coincide.
    pub fn inter_ocular(&self) -> Option<f32> {
        inter_ocular_distance(self.landmarks)
    }
}

/// Distance between the two eye centres (mean of each eye's outer and inner corner), pixels.
pub fn inter_ocular_distance(landmarks: &[Point3]) -> Option<f32> {
    use crate::mesh::idx;
    if landmarks.len() != crate::mesh::NUM_LANDMARKS {
        return None;
    }
    let c = |a: usize, b: usize| {
        let (p, q) = (landmarks[a], landmarks[b]);
        ((p.x + q.x) * 0.5, (p.y + q.y) * 0.5)
    };
    let r = c(idx::RIGHT_EYE_OUTER, idx::RIGHT_EYE_INNER);
    let l = c(idx::LEFT_EYE_OUTER, idx::LEFT_EYE_INNER);
    let d = libm::hypotf(l.0 - r.0, l.1 - r.1);
    (d.is_finite() && d > 1.0).then_some(d)
}

/// Logistic map used by the signals to turn a feature into a raw score: 0.5 at `centre`,
/// rising with `x` when `scale > 0` (falling when `scale < 0`).
pub fn logistic(x: f32, centre: f32, scale: f32) -> f32 {
    crate::math::sigmoid_clipped((x - centre) / scale, 30.0)
}
