//! [`QualityConfig`]: the gate's thresholds, with their units and reasoning.

use serde::{Deserialize, Serialize};

use super::{luma, QualityError};

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
