//! Capture quality gate: is this frame good enough to run liveness on?
//!
//! Poor quality means **retry with a hint**, never "spoof". Every check reports its measured
//! value, its threshold(s) from [`QualityConfig`] and a [`Verdict`]; failed checks turn into
//! [`Hint`]s sorted by the priority a capture UI should show them in.
//!
//! Checks, per face:
//! - image, on the face box resampled to a fixed `crop_size²` crop (box averaging down,
//!   bilinear up) so that the same face at any distance or resolution measures alike, over the
//!   ellipse inscribed in the crop (most background left out): sharpness (variance of the 3×3
//!   Laplacian, contrast-normalised), exposure (mean luma, clipped-dark and clipped-bright
//!   fractions), RMS contrast, and a per-region occlusion check (eyes, mouth);
//! - framing: face size relative to the frame, centring, face box / landmarks outside the frame;
//! - head pose (yaw, pitch, roll in degrees) from a 3D similarity fit of MediaPipe's canonical
//!   face to the 468 FaceMesh landmarks, whose residual doubles as a mesh plausibility check;
//! - presence: the FaceMesh face-presence score;
//! - stability: landmark motion against the previous frame, per frame and over a short history.
//!
//! Entry points: [`assess`] (one face, `num_faces` ≥ 1) and [`assess_no_face`]. The image
//! functions ([`laplacian_variance`], [`luma_stats`], [`resample_crop`], ...), the pose fit
//! ([`estimate_head_pose`]) and the motion measure ([`landmark_motion`]) are public and pure.

mod luma;
mod pose;
mod stability;

#[cfg(test)]
mod tests;

pub use luma::{
    laplacian_variance, luma_stats, resample_crop, CropValid, Ellipse, LumaStats, LumaView, Plane,
    Roi,
};
pub use pose::{
    estimate_head_pose, rotation_from_angles, HeadPose, CANONICAL_INTEROCULAR,
    CANONICAL_POSE_POINTS, NUM_POSE_POINTS, POSE_LANDMARKS,
};
pub use stability::{landmark_motion, MotionHistory};

use crate::geometry::{Point2, Point3, Rect};
use crate::math;
use alloc::vec::Vec;
use serde::{Deserialize, Serialize};

/// FaceMesh landmark count this stage expects.
pub const NUM_LANDMARKS: usize = 468;

/// FaceMesh index of the subject's right eye, outer corner (image left in an un-mirrored frame).
pub const RIGHT_EYE_OUTER: usize = 33;
/// FaceMesh index of the subject's left eye, outer corner (image right in an un-mirrored frame).
pub const LEFT_EYE_OUTER: usize = 263;

/// Errors of the quality stage. Each message says what was wrong and what was expected.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum QualityError {
    /// The luma view has a zero dimension.
    #[error("luma view is {width}x{height}: width and height must both be ≥ 1")]
    EmptyImage { width: u32, height: u32 },
    /// The luma row stride is smaller than the width.
    #[error("luma stride {stride} < width {width} (1 byte per pixel)")]
    StrideTooSmall { stride: usize, width: u32 },
    /// The luma buffer is shorter than its geometry needs.
    #[error(
        "luma buffer has {len} bytes, expected ≥ {expected} ({height} rows of stride {stride}, \
         the last of width {width})"
    )]
    BufferTooSmall {
        len: usize,
        expected: usize,
        width: u32,
        height: u32,
        stride: usize,
    },
    /// A float plane's buffer does not hold `width × height` values.
    #[error("plane buffer has {len} values, expected {width} × {height} = {expected}")]
    PlaneSize {
        len: usize,
        width: usize,
        height: usize,
        expected: usize,
    },
    /// The landmark slice does not hold the 468 FaceMesh points.
    #[error("{which} landmarks: got {got} points, expected {expected} (FaceMesh)")]
    LandmarkCount {
        which: &'static str,
        got: usize,
        expected: usize,
    },
    /// A landmark coordinate is NaN or infinite.
    #[error("{which} landmark {index} is not finite: ({x}, {y}, {z})")]
    NonFiniteLandmark {
        which: &'static str,
        index: usize,
        x: f32,
        y: f32,
        z: f32,
    },
    /// The landmarks are degenerate (collapsed to a point, a line or a plane): no pose exists.
    #[error("landmarks are degenerate ({0}): expected a 3D face mesh")]
    DegenerateLandmarks(&'static str),
    /// The face box is not finite or has no area.
    #[error(
        "face box [{x_min}, {y_min}, {x_max}, {y_max}] is invalid: expected finite pixel \
         coordinates with x_max > x_min and y_max > y_min"
    )]
    InvalidFaceBox {
        x_min: f32,
        y_min: f32,
        x_max: f32,
        y_max: f32,
    },
    /// The face-presence score is outside [0, 1].
    #[error("face presence {0} is invalid: expected a probability in [0, 1]")]
    InvalidPresence(f32),
    /// The time since the previous frame is not usable.
    #[error(
        "time delta {0} s is invalid: expected finite and > 0 when previous landmarks are given"
    )]
    InvalidTimeDelta(f32),
    /// The resampled crop size is out of range.
    #[error("crop size {0} is invalid: expected {min}..={max} pixels", min = luma::MIN_CROP, max = luma::MAX_CROP)]
    InvalidCropSize(usize),
    /// A configuration threshold is NaN, infinite or out of its range.
    #[error("quality config `{name}` = {value} is invalid: expected {expected}")]
    InvalidThreshold {
        name: &'static str,
        value: f32,
        expected: &'static str,
    },
    /// Two configuration thresholds are inverted (the lower one is not below the upper one).
    #[error("quality config `{low}` = {low_value} must be < `{high}` = {high_value}")]
    InvertedThresholds {
        low: &'static str,
        low_value: f32,
        high: &'static str,
        high_value: f32,
    },
}

/// What the capture UI should tell the user. Serialised as `NO_FACE`, `MULTIPLE_FACES`, ...
///
/// **Declaration order is the priority order** (stable; `Ord` follows it): show the first one.
/// The reasoning: first what makes every other measurement meaningless (no face, several faces,
/// something covering the face), then the lighting (it also drives detection and sharpness),
/// then distance and framing (they set the face resolution), then head pose, then blur (often
/// fixed by the steps above), and last the transient `HoldStill`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Hint {
    NoFace,
    MultipleFaces,
    FaceOccluded,
    TooDark,
    TooBright,
    MoveCloser,
    MoveAway,
    CenterFace,
    LookStraight,
    Blurry,
    HoldStill,
}

impl Hint {
    /// Every hint, highest priority first.
    pub const ALL: [Hint; 11] = [
        Hint::NoFace,
        Hint::MultipleFaces,
        Hint::FaceOccluded,
        Hint::TooDark,
        Hint::TooBright,
        Hint::MoveCloser,
        Hint::MoveAway,
        Hint::CenterFace,
        Hint::LookStraight,
        Hint::Blurry,
        Hint::HoldStill,
    ];

    /// Priority rank, 0 = show first.
    pub fn priority(self) -> u8 {
        self as u8
    }

    /// The serialised name, e.g. `"NO_FACE"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Hint::NoFace => "NO_FACE",
            Hint::MultipleFaces => "MULTIPLE_FACES",
            Hint::FaceOccluded => "FACE_OCCLUDED",
            Hint::TooDark => "TOO_DARK",
            Hint::TooBright => "TOO_BRIGHT",
            Hint::MoveCloser => "MOVE_CLOSER",
            Hint::MoveAway => "MOVE_AWAY",
            Hint::CenterFace => "CENTER_FACE",
            Hint::LookStraight => "LOOK_STRAIGHT",
            Hint::Blurry => "BLURRY",
            Hint::HoldStill => "HOLD_STILL",
        }
    }
}

/// Outcome of one check. Serialised as `"PASS"` or `{"FAIL": "TOO_DARK"}`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Verdict {
    Pass,
    Fail(Hint),
}

impl Verdict {
    pub fn passed(self) -> bool {
        self == Verdict::Pass
    }
    pub fn hint(self) -> Option<Hint> {
        match self {
            Verdict::Pass => None,
            Verdict::Fail(h) => Some(h),
        }
    }
}

/// One measured value against its thresholds: it passes when `min ≤ value ≤ max` (a missing
/// bound is not checked). A NaN value fails on every bound it has.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Check {
    pub value: f32,
    pub min: Option<f32>,
    pub max: Option<f32>,
    pub verdict: Verdict,
}

impl Check {
    /// `value ≥ min`, else `hint`.
    pub fn at_least(value: f32, min: f32, hint: Hint) -> Check {
        let verdict = if value >= min {
            Verdict::Pass
        } else {
            Verdict::Fail(hint)
        };
        Check {
            value,
            min: Some(min),
            max: None,
            verdict,
        }
    }
    /// `value ≤ max`, else `hint`.
    pub fn at_most(value: f32, max: f32, hint: Hint) -> Check {
        let verdict = if value <= max {
            Verdict::Pass
        } else {
            Verdict::Fail(hint)
        };
        Check {
            value,
            min: None,
            max: Some(max),
            verdict,
        }
    }
    /// `min ≤ value ≤ max`; below gives `low`, above (or NaN) gives `high`.
    pub fn within(value: f32, min: f32, max: f32, low: Hint, high: Hint) -> Check {
        let verdict = if value < min {
            Verdict::Fail(low)
        } else if value <= max {
            Verdict::Pass
        } else {
            Verdict::Fail(high)
        };
        Check {
            value,
            min: Some(min),
            max: Some(max),
            verdict,
        }
    }
    /// `|value| ≤ max`, reported with bounds `[-max, max]`.
    pub fn symmetric(value: f32, max: f32, hint: Hint) -> Check {
        Check::within(value, -max, max, hint, hint)
    }
}

/// Thresholds of the quality gate. Defaults are tuned for phone captures at 480p–1080p of one
/// cooperating user at arm's length; every field documents its unit and reasoning.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct QualityConfig {
    /// Side of the square the face box is resampled to, pixels (default 128). Image checks run
    /// on this crop, so the same face at different distances or resolutions gives comparable
    /// values (box averaging when shrinking, bilinear when enlarging).
    pub crop_size: u32,
    /// Minimum contrast-normalised sharpness of the crop (see [`normalised_sharpness`]; luma²
    /// at RMS contrast 40, default 60). Three sharp portraits measured 127–810; a 3×3 box blur
    /// of the 104–112 px faces (about one crop pixel) brought them to 25–27, while darkening
    /// ×0.25 left the value unchanged (it is exposure-invariant by design).
    pub min_sharpness: f32,
    /// Minimum mean luma in the face ellipse (0–255, default 50). Dark skin in ordinary indoor
    /// light measures ~70–110, so 50 only catches genuinely under-exposed faces.
    pub min_mean_luma: f32,
    /// Maximum mean luma in the face ellipse (default 215): above it most skin is near clipping.
    pub max_mean_luma: f32,
    /// Luma at or below which a pixel counts as clipped dark (default 16, video black level).
    pub dark_level: u8,
    /// Luma at or above which a pixel counts as clipped bright (default 250).
    pub bright_level: u8,
    /// Maximum fraction of clipped-dark face pixels (default 0.35: leaves room for beards, hair,
    /// nostrils and shadows under the brows).
    pub max_dark_fraction: f32,
    /// Maximum fraction of clipped-bright face pixels (default 0.15: specular highlights on the
    /// forehead and nose stay under ~5 %).
    pub max_bright_fraction: f32,
    /// Minimum RMS contrast (std-dev of luma) in the face ellipse (default 12). The portraits
    /// measured 29–50; under 12 the face is washed out (flare, fog) or lost in the dark. The
    /// hint is `TooDark` when the mean is below mid-grey, else `TooBright`.
    pub min_contrast: f32,
    /// Minimum face box width / frame short side (default 0.20 → `MoveCloser`). At 480p that is
    /// a ~96 px face, about the 192 px FaceMesh input halved: below it landmarks and texture
    /// degrade quickly.
    pub min_face_ratio: f32,
    /// Maximum face box width / frame short side (default 0.80 → `MoveAway`): above it the chin
    /// or forehead leave the frame and the lens distortion of a close phone grows.
    pub max_face_ratio: f32,
    /// Maximum face-centre offset from the frame centre, per axis, as a fraction of the half
    /// frame size (0 = centred, 1 = on the border; default 0.40 → `CenterFace`): the box centre
    /// must lie in the middle 40 % of each axis, e.g. x in [0.3 w, 0.7 w]. Wide enough for a
    /// hand-held phone, tight enough that the face sits in an on-screen guide oval.
    pub max_center_offset: f32,
    /// Maximum fraction of the face box area outside the frame (default 0.05 → `CenterFace`).
    pub max_box_outside: f32,
    /// Maximum fraction of the 468 landmarks outside the frame (default 0.02 → `CenterFace`):
    /// a face cut by the frame border is a framing problem, so this asks to centre the face.
    pub max_landmarks_outside: f32,
    /// Maximum |yaw|, degrees (default 20 → `LookStraight`). FaceMesh and most passive
    /// anti-spoofing models are trained on near-frontal faces; 20° keeps both eyes fully visible.
    pub max_yaw_deg: f32,
    /// Maximum |pitch|, degrees (default 20). A phone held at chest height already tilts the
    /// view by ~10°; 20° leaves room for that while keeping the eyes and chin visible.
    pub max_pitch_deg: f32,
    /// Maximum |roll|, degrees (default 20). The frame is rotated upright before this stage.
    pub max_roll_deg: f32,
    /// Minimum FaceMesh face-presence score (default 0.5, MediaPipe's tracking threshold).
    pub min_presence: f32,
    /// Maximum RMS residual of the canonical-face fit, in inter-ocular distances (default 0.15 →
    /// `FaceOccluded`). FaceMesh on three real portraits fitted to 0.037–0.076 (the largest a
    /// broad smile); opening the mouth wide adds ~0.04. A mesh pulled out of shape (an occluder
    /// FaceMesh half-follows, a non-face) fits worse. The canonical face itself fits to 0.
    pub max_pose_residual: f32,
    /// Minimum luma std-dev of each eye box relative to the whole face's (default 0.15 →
    /// `FaceOccluded`; see [`assess`]). Clean faces measured 0.27–1.5 (three portraits, blurred,
    /// darkened and brightened); a flat patch over an eye (hand, dark lens) 0.02–0.04.
    pub min_eye_contrast_ratio: f32,
    /// Minimum luma std-dev of the mouth box relative to the whole face's (default 0.15 →
    /// `FaceOccluded`). Clean mouths measured 0.57–1.0, a flat mask 0.02–0.04.
    pub min_mouth_contrast_ratio: f32,
    /// Maximum median landmark displacement between consecutive frames, in inter-ocular
    /// distances (default 0.15 → `HoldStill`): a jump that blurs a 30 fps frame.
    pub max_frame_motion: f32,
    /// Maximum landmark speed averaged over `motion_window_s`, inter-ocular distances per second
    /// (default 0.75 → `HoldStill`). Hand tremor and FaceMesh jitter stay under ~0.3; walking or
    /// moving the phone measures ≥ 1.
    pub max_motion_speed: f32,
    /// Length of the motion history the speed is averaged over, seconds (default 0.5).
    pub motion_window_s: f32,
    /// Longest time between frames that still counts as consecutive, seconds (default 0.5):
    /// after a longer gap the history restarts and stability is not measured.
    pub max_frame_gap_s: f32,
}

impl Default for QualityConfig {
    fn default() -> Self {
        Self {
            crop_size: 128,
            min_sharpness: 60.0,
            min_mean_luma: 50.0,
            max_mean_luma: 215.0,
            dark_level: 16,
            bright_level: 250,
            max_dark_fraction: 0.35,
            max_bright_fraction: 0.15,
            min_contrast: 12.0,
            min_face_ratio: 0.20,
            max_face_ratio: 0.80,
            max_center_offset: 0.40,
            max_box_outside: 0.05,
            max_landmarks_outside: 0.02,
            max_yaw_deg: 20.0,
            max_pitch_deg: 20.0,
            max_roll_deg: 20.0,
            min_presence: 0.5,
            max_pose_residual: 0.15,
            min_eye_contrast_ratio: 0.15,
            min_mouth_contrast_ratio: 0.15,
            max_frame_motion: 0.15,
            max_motion_speed: 0.75,
            motion_window_s: 0.5,
            max_frame_gap_s: 0.5,
        }
    }
}

impl QualityConfig {
    /// Checks every threshold is finite, in its range, and that low/high pairs are ordered.
    pub fn validate(&self) -> Result<(), QualityError> {
        let crop = self.crop_size as usize;
        if !(luma::MIN_CROP..=luma::MAX_CROP).contains(&crop) {
            return Err(QualityError::InvalidCropSize(crop));
        }
        const FRAC: &str = "a fraction in [0, 1]";
        const POS: &str = "finite and ≥ 0";
        const LUMA: &str = "luma in [0, 255]";
        const DEG: &str = "degrees in (0, 90]";
        const SECS: &str = "seconds in (0, 60]";
        let (tiny, big) = (f32::MIN_POSITIVE, f32::MAX);
        let ranges: [(&'static str, f32, f32, f32, &'static str); 24] = [
            ("min_sharpness", self.min_sharpness, 0.0, big, POS),
            ("min_mean_luma", self.min_mean_luma, 0.0, 255.0, LUMA),
            ("max_mean_luma", self.max_mean_luma, 0.0, 255.0, LUMA),
            ("max_dark_fraction", self.max_dark_fraction, 0.0, 1.0, FRAC),
            (
                "max_bright_fraction",
                self.max_bright_fraction,
                0.0,
                1.0,
                FRAC,
            ),
            (
                "min_contrast",
                self.min_contrast,
                0.0,
                128.0,
                "luma std-dev in [0, 128]",
            ),
            (
                "min_face_ratio",
                self.min_face_ratio,
                0.0,
                10.0,
                "a ratio in [0, 10]",
            ),
            (
                "max_face_ratio",
                self.max_face_ratio,
                0.0,
                10.0,
                "a ratio in [0, 10]",
            ),
            ("max_center_offset", self.max_center_offset, 0.0, 1.0, FRAC),
            ("max_box_outside", self.max_box_outside, 0.0, 1.0, FRAC),
            (
                "max_landmarks_outside",
                self.max_landmarks_outside,
                0.0,
                1.0,
                FRAC,
            ),
            ("max_yaw_deg", self.max_yaw_deg, tiny, 90.0, DEG),
            ("max_pitch_deg", self.max_pitch_deg, tiny, 90.0, DEG),
            ("max_roll_deg", self.max_roll_deg, tiny, 90.0, DEG),
            (
                "min_presence",
                self.min_presence,
                0.0,
                1.0,
                "a probability in [0, 1]",
            ),
            ("max_pose_residual", self.max_pose_residual, 0.0, big, POS),
            (
                "min_eye_contrast_ratio",
                self.min_eye_contrast_ratio,
                0.0,
                big,
                POS,
            ),
            (
                "min_mouth_contrast_ratio",
                self.min_mouth_contrast_ratio,
                0.0,
                big,
                POS,
            ),
            ("max_frame_motion", self.max_frame_motion, 0.0, big, POS),
            ("max_motion_speed", self.max_motion_speed, 0.0, big, POS),
            ("motion_window_s", self.motion_window_s, tiny, 60.0, SECS),
            ("max_frame_gap_s", self.max_frame_gap_s, tiny, 60.0, SECS),
            ("dark_level", self.dark_level as f32, 0.0, 255.0, LUMA),
            ("bright_level", self.bright_level as f32, 0.0, 255.0, LUMA),
        ];
        for (name, value, lo, hi, expected) in ranges {
            if !(value.is_finite() && value >= lo && value <= hi) {
                return Err(QualityError::InvalidThreshold {
                    name,
                    value,
                    expected,
                });
            }
        }
        let pairs = [
            (
                "min_mean_luma",
                self.min_mean_luma,
                "max_mean_luma",
                self.max_mean_luma,
            ),
            (
                "dark_level",
                self.dark_level as f32,
                "bright_level",
                self.bright_level as f32,
            ),
            (
                "min_face_ratio",
                self.min_face_ratio,
                "max_face_ratio",
                self.max_face_ratio,
            ),
        ];
        for (low, low_value, high, high_value) in pairs {
            if low_value >= high_value {
                return Err(QualityError::InvertedThresholds {
                    low,
                    low_value,
                    high,
                    high_value,
                });
            }
        }
        Ok(())
    }
}

/// One face of one upright frame, as the pipeline has it.
#[derive(Clone, Copy, Debug)]
pub struct QualityInput<'a> {
    /// Luma of the whole upright frame. Its size is the frame size; landmarks and box are in
    /// its pixel coordinates.
    pub luma: LumaView<'a>,
    /// The face box in frame pixels (the detector's box; may extend past the frame).
    pub face_box: Rect,
    /// The 468 FaceMesh landmarks in frame pixels (z in the same scale, negative = towards
    /// the camera).
    pub landmarks: &'a [Point3],
    /// FaceMesh face-presence probability, 0..1.
    pub presence: f32,
    /// The previous frame's 468 landmarks of the same face, if it had one.
    pub previous: Option<&'a [Point3]>,
    /// Seconds since the previous frame (used only with `previous`).
    pub dt_s: f32,
    /// Faces found in the frame (this input describes the primary one). 0 is the same as
    /// [`assess_no_face`].
    pub num_faces: usize,
}

/// Measures taken on the resampled face crop, over the ellipse inscribed in it (intersected
/// with the part of the crop inside the frame).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ImageChecks {
    /// Laplacian variance on the crop, luma² → `Blurry`.
    pub sharpness: Check,
    /// Mean luma of the face ellipse, 0–255 → `TooDark` / `TooBright`.
    pub mean_luma: Check,
    /// Fraction of face pixels ≤ `dark_level` → `TooDark`.
    pub dark_fraction: Check,
    /// Fraction of face pixels ≥ `bright_level` → `TooBright`.
    pub bright_fraction: Check,
    /// Std-dev of luma in the face ellipse → `TooDark` / `TooBright` (by the mean).
    pub contrast: Check,
    /// Luma std-dev of the subject's right eye box / of the face → `FaceOccluded`; `None` when
    /// the box is too small or outside the frame.
    pub right_eye_contrast: Option<Check>,
    /// Luma std-dev of the subject's left eye box / of the face → `FaceOccluded`.
    pub left_eye_contrast: Option<Check>,
    /// Luma std-dev of the mouth box / of the face → `FaceOccluded`.
    pub mouth_contrast: Option<Check>,
}

/// Landmark motion against the previous frame.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StabilityChecks {
    /// Median displacement of the pose landmarks since the previous frame, inter-ocular
    /// distances → `HoldStill`.
    pub frame_motion: Check,
    /// Motion over the last `motion_window_s`, inter-ocular distances per second → `HoldStill`.
    pub speed: Check,
}

/// Every check of one face.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FaceChecks {
    /// Image checks; `None` when too little of the face box lies inside the frame to measure.
    pub image: Option<ImageChecks>,
    /// Face box width / frame short side → `MoveCloser` / `MoveAway`.
    pub face_ratio: Check,
    /// Face-box centre offset from the frame centre, max over x and y of |offset| / half frame
    /// size → `CenterFace`.
    pub center_offset: Check,
    /// Fraction of the face box area outside the frame → `CenterFace`.
    pub box_outside: Check,
    /// Fraction of landmarks outside the frame → `CenterFace`.
    pub landmarks_outside: Check,
    /// Degrees, positive = the subject turns to their left → `LookStraight`.
    pub yaw: Check,
    /// Degrees, positive = chin up → `LookStraight`.
    pub pitch: Check,
    /// Degrees, positive = head tilts towards the subject's left shoulder → `LookStraight`.
    pub roll: Check,
    /// FaceMesh presence → `FaceOccluded`.
    pub presence: Check,
    /// RMS residual of the canonical-face fit, inter-ocular distances → `FaceOccluded`.
    pub pose_residual: Check,
    /// `None` without previous landmarks, or after a gap longer than `max_frame_gap_s`.
    pub stability: Option<StabilityChecks>,
}

impl FaceChecks {
    /// Every check, for collecting verdicts.
    pub fn iter(&self) -> impl Iterator<Item = &Check> {
        self.named().map(|(_, c)| c)
    }

    /// Every check with its name as the JSON form spells it (the field name), in a fixed
    /// order; the one list every binding and the CLI use.
    pub fn named(&self) -> impl Iterator<Item = (&'static str, &Check)> {
        let image = self.image.as_ref().into_iter().flat_map(|i| {
            [
                ("sharpness", Some(&i.sharpness)),
                ("mean_luma", Some(&i.mean_luma)),
                ("dark_fraction", Some(&i.dark_fraction)),
                ("bright_fraction", Some(&i.bright_fraction)),
                ("contrast", Some(&i.contrast)),
                ("right_eye_contrast", i.right_eye_contrast.as_ref()),
                ("left_eye_contrast", i.left_eye_contrast.as_ref()),
                ("mouth_contrast", i.mouth_contrast.as_ref()),
            ]
            .into_iter()
            .filter_map(|(n, c)| c.map(|c| (n, c)))
        });
        let stab = self
            .stability
            .as_ref()
            .into_iter()
            .flat_map(|s| [("frame_motion", &s.frame_motion), ("speed", &s.speed)]);
        [
            ("face_ratio", &self.face_ratio),
            ("center_offset", &self.center_offset),
            ("box_outside", &self.box_outside),
            ("landmarks_outside", &self.landmarks_outside),
            ("yaw", &self.yaw),
            ("pitch", &self.pitch),
            ("roll", &self.roll),
            ("presence", &self.presence),
            ("pose_residual", &self.pose_residual),
        ]
        .into_iter()
        .chain(image)
        .chain(stab)
    }
}

/// The gate's answer for one frame.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct QualityReport {
    /// Faces in the frame, as given.
    pub num_faces: usize,
    /// Checks of the primary face; `None` when there is no face.
    pub checks: Option<FaceChecks>,
    /// Head pose of the primary face; `None` when there is no face.
    pub pose: Option<HeadPose>,
    /// Distinct hints of every failed check, highest priority first (see [`Hint`]).
    pub hints: Vec<Hint>,
    /// True when no check failed and exactly one face is present.
    pub passed: bool,
}

impl QualityReport {
    /// The hint a capture UI should show now, if any.
    pub fn top_hint(&self) -> Option<Hint> {
        self.hints.first().copied()
    }

    /// Weight of this face as an enrolment sample, in (0, 1]: 1 when the gate passed, else
    /// 1 / (1 + number of hints), so a sample with more capture problems counts less.
    pub fn enrolment_weight(&self) -> f32 {
        if self.passed {
            1.0
        } else {
            1.0 / (1.0 + self.hints.len() as f32)
        }
    }
}

/// Reusable per-session buffers and state. Create once, pass to every [`assess`] call: it holds
/// the resampled crop (no allocation per frame after the first) and the short motion history
/// behind the stability speed. Call [`QualityScratch::reset`] when a new capture starts.
#[derive(Clone, Debug, Default)]
pub struct QualityScratch {
    crop: Vec<f32>,
    counts: Vec<u32>,
    history: MotionHistory,
}

impl QualityScratch {
    pub fn new() -> Self {
        Self::default()
    }
    /// Forgets the motion history (buffers are kept).
    pub fn reset(&mut self) {
        self.history.clear();
    }
    /// The last resampled face crop (`crop_size²` luma values, row-major), for debugging.
    pub fn crop(&self) -> &[f32] {
        &self.crop
    }
}

/// The report for a frame without a face: one `NoFace` hint.
pub fn assess_no_face() -> QualityReport {
    QualityReport {
        num_faces: 0,
        checks: None,
        pose: None,
        hints: alloc::vec![Hint::NoFace],
        passed: false,
    }
}

/// The report for a frame in which no face was found, looking at the frame's exposure too: a
/// user in the dark should hear `TooDark`, not only `NoFace`. Adds `TooDark` / `TooBright` when
/// the central half of the frame has a mean luma outside the face thresholds
/// (`min_mean_luma`..`max_mean_luma`), or when over a third of it is clipped (at or beyond
/// `dark_level` / `bright_level`).
pub fn assess_no_face_in(cfg: &QualityConfig, luma: &LumaView<'_>) -> QualityReport {
    let mut report = assess_no_face();
    let (w, h) = (luma.width() as usize, luma.height() as usize);
    let (x0, x1, y0, y1) = (w / 4, w - w / 4, h / 4, h - h / 4);
    let (mut sum, mut dark, mut bright) = (0u64, 0usize, 0usize);
    for y in y0..y1 {
        let start = y * luma.stride();
        let Some(row) = luma.data().get(start + x0..start + x1) else {
            continue;
        };
        for &v in row {
            sum += u64::from(v);
            dark += usize::from(v <= cfg.dark_level);
            bright += usize::from(v >= cfg.bright_level);
        }
    }
    let n = ((x1 - x0) * (y1 - y0)).max(1) as f32;
    let mean = sum as f32 / n;
    if mean < cfg.min_mean_luma || dark as f32 / n > 1.0 / 3.0 {
        report.hints.push(Hint::TooDark);
    } else if mean > cfg.max_mean_luma || bright as f32 / n > 1.0 / 3.0 {
        report.hints.push(Hint::TooBright);
    }
    report
}

/// Checks the 468 landmarks: count and finiteness.
pub fn validate_landmarks(which: &'static str, lm: &[Point3]) -> Result<(), QualityError> {
    crate::mesh::check_landmarks(lm).map_err(|f| match f {
        crate::mesh::LandmarkFault::Count { got } => QualityError::LandmarkCount {
            which,
            got,
            expected: NUM_LANDMARKS,
        },
        crate::mesh::LandmarkFault::NonFinite { index, point: p } => {
            QualityError::NonFiniteLandmark {
                which,
                index,
                x: p.x,
                y: p.y,
                z: p.z,
            }
        }
    })
}

/// Face box width over the frame's short side.
pub fn face_ratio(face_box: &Rect, frame_w: u32, frame_h: u32) -> f32 {
    face_box.width() / (frame_w.min(frame_h).max(1) as f32)
}

/// Offset of the face-box centre from the frame centre, per axis, as a fraction of the half
/// frame size: `(0, 0)` centred, `±1` on the border. Returns `(dx, dy)`, image axes.
pub fn center_offset(face_box: &Rect, frame_w: u32, frame_h: u32) -> (f32, f32) {
    let (hw, hh) = (0.5 * frame_w.max(1) as f32, 0.5 * frame_h.max(1) as f32);
    let c = face_box.center();
    ((c.x - hw) / hw, (c.y - hh) / hh)
}

/// Fraction of the face box area outside the frame `[0, w] × [0, h]`; 1 for an empty box.
pub fn box_outside_fraction(face_box: &Rect, frame_w: u32, frame_h: u32) -> f32 {
    let area = face_box.area();
    if area <= 0.0 {
        return 1.0;
    }
    let ix = (face_box.x_max.min(frame_w as f32) - face_box.x_min.max(0.0)).max(0.0);
    let iy = (face_box.y_max.min(frame_h as f32) - face_box.y_min.max(0.0)).max(0.0);
    (1.0 - ix * iy / area).clamp(0.0, 1.0)
}

/// Fraction of landmarks whose (x, y) lies outside the frame `[0, w) × [0, h)`.
pub fn landmarks_outside_fraction(lm: &[Point3], frame_w: u32, frame_h: u32) -> f32 {
    if lm.is_empty() {
        return 0.0;
    }
    let (w, h) = (frame_w as f32, frame_h as f32);
    let out = lm
        .iter()
        .filter(|p| !(p.x >= 0.0 && p.x < w && p.y >= 0.0 && p.y < h))
        .count();
    out as f32 / lm.len() as f32
}

fn validate_input(input: &QualityInput<'_>) -> Result<(), QualityError> {
    validate_landmarks("current", input.landmarks)?;
    let b = &input.face_box;
    let finite =
        b.x_min.is_finite() && b.y_min.is_finite() && b.x_max.is_finite() && b.y_max.is_finite();
    if !finite || b.x_max <= b.x_min || b.y_max <= b.y_min {
        return Err(QualityError::InvalidFaceBox {
            x_min: b.x_min,
            y_min: b.y_min,
            x_max: b.x_max,
            y_max: b.y_max,
        });
    }
    if !(0.0..=1.0).contains(&input.presence) {
        return Err(QualityError::InvalidPresence(input.presence));
    }
    if let Some(prev) = input.previous {
        validate_landmarks("previous", prev)?;
        if !(input.dt_s.is_finite() && input.dt_s > 0.0) {
            return Err(QualityError::InvalidTimeDelta(input.dt_s));
        }
    }
    Ok(())
}

/// Runs every check on one face and returns the report (hints sorted by priority).
///
/// `cfg` is validated first. Errors are for malformed input only (landmark count, NaN, box,
/// presence, time delta); bad *quality* is never an error. With `num_faces == 0` this is
/// [`assess_no_face`] and the face fields are ignored.
///
/// The region occlusion check compares the luma std-dev (local contrast) of each eye box and
/// of the mouth box, placed from the landmarks, with that of the whole face ellipse. An open
/// eye (sclera against iris, lashes) and a mouth (the lip line) are among the most contrasted
/// parts of a face; an eye box is grown vertically so that a closed eye keeps its lash line
/// against the lids in view. A hand, a mask or a dark lens over the region is nearly uniform.
/// Being a ratio, the measure ignores exposure gain and blurs of the whole face. It misses
/// strongly patterned occluders (a printed mask): the presence score and the fit residual are
/// the other occlusion signals.
pub fn assess(
    cfg: &QualityConfig,
    input: &QualityInput<'_>,
    scratch: &mut QualityScratch,
) -> Result<QualityReport, QualityError> {
    cfg.validate()?;
    if input.num_faces == 0 {
        scratch.reset();
        return Ok(assess_no_face());
    }
    validate_input(input)?;
    let (fw, fh) = (input.luma.width(), input.luma.height());
    let lm = input.landmarks;

    let pose = estimate_head_pose(lm)?;
    let iod_px = pose.scale * CANONICAL_INTEROCULAR;

    let (dx, dy) = center_offset(&input.face_box, fw, fh);
    let image = image_checks(cfg, input, scratch)?;

    let stability = match input.previous {
        Some(prev) if input.dt_s <= cfg.max_frame_gap_s => {
            let motion = landmark_motion(prev, lm, iod_px)?;
            scratch.history.push(input.dt_s, motion);
            let speed = scratch.history.speed(cfg.motion_window_s);
            Some(StabilityChecks {
                frame_motion: Check::at_most(motion, cfg.max_frame_motion, Hint::HoldStill),
                speed: Check::at_most(speed, cfg.max_motion_speed, Hint::HoldStill),
            })
        }
        _ => {
            scratch.history.clear();
            None
        }
    };

    let checks = FaceChecks {
        image,
        face_ratio: Check::within(
            face_ratio(&input.face_box, fw, fh),
            cfg.min_face_ratio,
            cfg.max_face_ratio,
            Hint::MoveCloser,
            Hint::MoveAway,
        ),
        center_offset: Check::at_most(
            math::abs(dx).max(math::abs(dy)),
            cfg.max_center_offset,
            Hint::CenterFace,
        ),
        box_outside: Check::at_most(
            box_outside_fraction(&input.face_box, fw, fh),
            cfg.max_box_outside,
            Hint::CenterFace,
        ),
        landmarks_outside: Check::at_most(
            landmarks_outside_fraction(lm, fw, fh),
            cfg.max_landmarks_outside,
            Hint::CenterFace,
        ),
        yaw: Check::symmetric(pose.yaw_deg, cfg.max_yaw_deg, Hint::LookStraight),
        pitch: Check::symmetric(pose.pitch_deg, cfg.max_pitch_deg, Hint::LookStraight),
        roll: Check::symmetric(pose.roll_deg, cfg.max_roll_deg, Hint::LookStraight),
        presence: Check::at_least(input.presence, cfg.min_presence, Hint::FaceOccluded),
        pose_residual: Check::at_most(pose.residual, cfg.max_pose_residual, Hint::FaceOccluded),
        stability,
    };

    let mut hints: Vec<Hint> = checks.iter().filter_map(|c| c.verdict.hint()).collect();
    if input.num_faces > 1 {
        hints.push(Hint::MultipleFaces);
    }
    hints.sort_unstable();
    hints.dedup();
    let passed = hints.is_empty();
    Ok(QualityReport {
        num_faces: input.num_faces,
        checks: Some(checks),
        pose: Some(pose),
        hints,
        passed,
    })
}

/// RMS contrast (luma) the sharpness is normalised to.
pub const SHARPNESS_REF_CONTRAST: f32 = 40.0;

/// Contrast-normalised sharpness: `laplacian_var × (40 / max(std_dev, 10))²`, luma².
///
/// The Laplacian variance scales with the square of the image contrast, so on its own it calls
/// a dim face, or dark skin in ordinary light, blurry. Normalising to an RMS contrast of 40
/// (a typical well-lit face) keeps the classic scale while measuring only how much of the
/// contrast sits in fine detail. The floor of 10 stops near-flat crops (already failing the
/// contrast check) from amplifying noise without bound.
pub fn normalised_sharpness(laplacian_var: f32, std_dev: f32) -> f32 {
    let s = std_dev.max(10.0);
    laplacian_var * (SHARPNESS_REF_CONTRAST / s) * (SHARPNESS_REF_CONTRAST / s)
}

/// Minimum number of valid face-ellipse pixels on the crop for the image checks to run.
const MIN_FACE_PIXELS: usize = 256;

/// Landmarks outlining each region (FaceMesh indices); the region is their bounding box.
const RIGHT_EYE_REGION: [usize; 8] = [33, 133, 159, 145, 158, 153, 160, 144];
const LEFT_EYE_REGION: [usize; 8] = [263, 362, 386, 374, 385, 380, 387, 373];
const MOUTH_REGION: [usize; 8] = [61, 291, 0, 17, 37, 267, 84, 314];
/// Minimum height / width of an eye box: a closed eye's box would collapse onto the dark lash
/// line, so it is grown vertically to take in the lids and keep the lash-line contrast.
const EYE_MIN_ASPECT: f32 = 0.4;
/// Minimum height / width of the mouth box (a closed mouth keeps the lip line in view).
const MOUTH_MIN_ASPECT: f32 = 0.3;
/// Minimum crop pixels of a region for its contrast to be measured.
const MIN_REGION_PIXELS: usize = 24;

/// The crop ROI for a float box, clamped to the valid part of the crop.
fn crop_roi(x0: f32, y0: f32, x1: f32, y1: f32, valid: &CropValid) -> Roi {
    let clampi = |v: f32, lo: usize, hi: usize| -> usize {
        if v.is_finite() {
            (v as isize).clamp(lo as isize, hi as isize) as usize
        } else {
            lo
        }
    };
    Roi {
        x0: clampi(math::floor(x0), valid.x0, valid.x1),
        y0: clampi(math::floor(y0), valid.y0, valid.y1),
        x1: clampi(math::ceil(x1), valid.x0, valid.x1),
        y1: clampi(math::ceil(y1), valid.y0, valid.y1),
        ellipse: None,
    }
}

fn image_checks(
    cfg: &QualityConfig,
    input: &QualityInput<'_>,
    scratch: &mut QualityScratch,
) -> Result<Option<ImageChecks>, QualityError> {
    let size = cfg.crop_size as usize;
    let valid = resample_crop(
        &input.luma,
        &input.face_box,
        size,
        &mut scratch.crop,
        &mut scratch.counts,
    )?;
    let plane = Plane::new(size, size, &scratch.crop)?;
    let half = 0.5 * size as f32;
    let face = Roi {
        x0: valid.x0,
        y0: valid.y0,
        x1: valid.x1,
        y1: valid.y1,
        ellipse: Some(Ellipse {
            cx: half,
            cy: half,
            rx: half,
            ry: half,
        }),
    };
    let Some(stats) = luma_stats(&plane, &face, cfg.dark_level, cfg.bright_level) else {
        return Ok(None);
    };
    if stats.pixels < MIN_FACE_PIXELS {
        return Ok(None);
    }
    let sharp = normalised_sharpness(
        laplacian_variance(&plane, &face).unwrap_or(0.0),
        stats.std_dev,
    );

    // Region contrast: each region box (from the landmarks, in crop pixels) against the face.
    let b = &input.face_box;
    let (sx, sy) = (size as f32 / b.width(), size as f32 / b.height());
    let region_ratio = |idx: &[usize], min_aspect: f32| -> Option<f32> {
        let pts = idx.iter().filter_map(|&i| input.landmarks.get(i));
        let r =
            Rect::bounding(pts.map(|p| Point2::new((p.x - b.x_min) * sx, (p.y - b.y_min) * sy)))?;
        let grow_y = 0.5 * (min_aspect * r.width() - r.height()).max(0.0);
        let roi = crop_roi(r.x_min, r.y_min - grow_y, r.x_max, r.y_max + grow_y, &valid);
        let st = luma_stats(&plane, &roi, cfg.dark_level, cfg.bright_level)?;
        // Too few pixels (cut by the frame) or a flat face: not measured.
        (st.pixels >= MIN_REGION_PIXELS && stats.std_dev > 0.0).then(|| st.std_dev / stats.std_dev)
    };
    let right_eye = region_ratio(&RIGHT_EYE_REGION, EYE_MIN_ASPECT);
    let left_eye = region_ratio(&LEFT_EYE_REGION, EYE_MIN_ASPECT);
    let mouth = region_ratio(&MOUTH_REGION, MOUTH_MIN_ASPECT);

    let contrast_hint = if stats.mean < 128.0 {
        Hint::TooDark
    } else {
        Hint::TooBright
    };
    Ok(Some(ImageChecks {
        sharpness: Check::at_least(sharp, cfg.min_sharpness, Hint::Blurry),
        mean_luma: Check::within(
            stats.mean,
            cfg.min_mean_luma,
            cfg.max_mean_luma,
            Hint::TooDark,
            Hint::TooBright,
        ),
        dark_fraction: Check::at_most(stats.dark_fraction, cfg.max_dark_fraction, Hint::TooDark),
        bright_fraction: Check::at_most(
            stats.bright_fraction,
            cfg.max_bright_fraction,
            Hint::TooBright,
        ),
        contrast: Check::at_least(stats.std_dev, cfg.min_contrast, contrast_hint),
        right_eye_contrast: right_eye
            .map(|v| Check::at_least(v, cfg.min_eye_contrast_ratio, Hint::FaceOccluded)),
        left_eye_contrast: left_eye
            .map(|v| Check::at_least(v, cfg.min_eye_contrast_ratio, Hint::FaceOccluded)),
        mouth_contrast: mouth
            .map(|v| Check::at_least(v, cfg.min_mouth_contrast_ratio, Hint::FaceOccluded)),
    }))
}
