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
use alloc::vec::Vec;

use serde::Serialize;

use crate::geometry::Rect;
use crate::mesh::Landmarks;

pub mod analyzer;
pub mod depth;
#[cfg(feature = "fft")]
pub mod fft;
pub mod parallax;
pub mod reflection;
pub mod texture;

/// Errors of the pixel signals (FFT moiré, reflection) on malformed input or configuration.
/// `signal` names the signal; every message says what was wrong and what was expected.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PassiveError {
    /// The image has a zero side or its data length does not match its size.
    #[error(transparent)]
    Image(#[from] crate::frame::FrameError),
    /// The eye corners give no usable inter-ocular distance.
    #[error("{signal}: eye centres coincide (inter-ocular distance ≤ 1 px); expected a face mesh")]
    DegenerateEyes { signal: &'static str },
    /// The face box is not finite or has no area.
    #[error("{signal}: {face_box}")]
    InvalidFaceBox {
        signal: &'static str,
        face_box: crate::geometry::InvalidFaceBox,
    },
    /// The face box does not overlap the image.
    #[error(
        "{signal}: face box [{x_min}, {y_min}, {x_max}, {y_max}] lies outside the \
         {width}×{height} image; expected it to overlap the image"
    )]
    FaceBoxOutside {
        signal: &'static str,
        x_min: f32,
        y_min: f32,
        x_max: f32,
        y_max: f32,
        width: u32,
        height: u32,
    },
    /// A configuration value is NaN, infinite or out of its range.
    #[error("{signal} config `{name}` = {value} is invalid: expected {expected}")]
    InvalidConfig {
        signal: &'static str,
        name: &'static str,
        value: f32,
        expected: &'static str,
    },
}

/// Checks a pixel signal's input (non-empty image of the right length, a finite face box
/// with area that overlaps the image, eyes apart); returns the inter-ocular distance, pixels.
pub fn check_face_input(
    signal: &'static str,
    image: &crate::frame::RgbImage,
    face: &FaceGeometry<'_>,
) -> Result<f32, PassiveError> {
    use crate::frame::FrameError;
    if image.width == 0 || image.height == 0 {
        return Err(FrameError::ZeroSize {
            what: "RGB image",
            width: image.width,
            height: image.height,
        }
        .into());
    }
    image.check()?;
    let b = face.bbox;
    b.check_face_box()
        .map_err(|face_box| PassiveError::InvalidFaceBox { signal, face_box })?;
    let (w, h) = (image.width as f32 - 0.5, image.height as f32 - 0.5);
    if b.x_max <= -0.5 || b.x_min >= w || b.y_max <= -0.5 || b.y_min >= h {
        return Err(PassiveError::FaceBoxOutside {
            signal,
            x_min: b.x_min,
            y_min: b.y_min,
            x_max: b.x_max,
            y_max: b.y_max,
            width: image.width,
            height: image.height,
        });
    }
    inter_ocular_distance(face.landmarks).ok_or(PassiveError::DegenerateEyes { signal })
}

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
    /// The manifest name(s) of the model(s) behind the score, `+`-joined (empty for the
    /// model-free signals): calibration is per model.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub model: String,
    /// Something the reader should know although the signal ran, e.g. that the preferred
    /// model was missing and a fallback scored instead (empty when there is nothing to say).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub note: String,
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
            model: String::new(),
            note: String::new(),
        }
    }

    /// A "not available" result with its reason.
    pub fn unavailable(reason: impl ToString) -> SignalReport {
        SignalReport {
            score: None,
            available: false,
            reason: reason.to_string(),
            features: BTreeMap::new(),
            model: String::new(),
            note: String::new(),
        }
    }

    /// Names the model(s) behind the report and adds a note (either may be empty).
    pub fn with_model(mut self, model: impl Into<String>, note: impl Into<String>) -> SignalReport {
        self.model = model.into();
        self.note = note.into();
        self
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
    pub landmarks: &'a Landmarks,
    /// Face box, image pixels.
    pub bbox: Rect,
}

impl FaceGeometry<'_> {
    /// Inter-ocular distance (eye-centre to eye-centre), pixels; `None` when the eyes
    /// coincide.
    pub fn inter_ocular(&self) -> Option<f32> {
        inter_ocular_distance(self.landmarks)
    }
}

/// Distance between the two eye centres (mean of each eye's outer and inner corner), pixels.
pub fn inter_ocular_distance(landmarks: &Landmarks) -> Option<f32> {
    use crate::mesh::idx;
    let c = |a: usize, b: usize| {
        let (p, q) = (landmarks[a], landmarks[b]);
        ((p.x + q.x) * 0.5, (p.y + q.y) * 0.5)
    };
    let r = c(idx::RIGHT_EYE_OUTER, idx::RIGHT_EYE_INNER);
    let l = c(idx::LEFT_EYE_OUTER, idx::LEFT_EYE_INNER);
    let d = libm::hypotf(l.0 - r.0, l.1 - r.1);
    (d.is_finite() && d > 1.0).then_some(d)
}

/// Median of `f` over `frames`; `None` for none or a NaN (the window features of the
/// pixel signals).
pub(crate) fn median_of<T>(frames: &[&T], f: impl Fn(&T) -> f32) -> Option<f32> {
    let mut v: Vec<f32> = frames.iter().map(|x| f(x)).collect();
    crate::math::median_in_place(&mut v)
}

/// Why a window has too few usable frames: empty, mostly faces too small (`small` of them,
/// `small_what` saying below what), or just too short.
pub(crate) fn too_few_frames(
    window: usize,
    usable: usize,
    min_frames: usize,
    small: usize,
    small_what: core::fmt::Arguments<'_>,
) -> String {
    if window == 0 {
        "no frames in the window".into()
    } else if small > 0 && small * 2 >= window {
        alloc::format!("face too small: {small} of {window} frames have {small_what}")
    } else {
        alloc::format!("window too short: {usable} usable frames, need {min_frames}")
    }
}

/// Logistic map used by the signals to turn a feature into a raw score: 0.5 at `centre`,
/// rising with `x` when `scale > 0` (falling when `scale < 0`).
pub fn logistic(x: f32, centre: f32, scale: f32) -> f32 {
    crate::math::sigmoid_clipped((x - centre) / scale, 30.0)
}
