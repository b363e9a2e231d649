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

mod config;
mod error;
mod framing;
mod gate;
mod image;
mod luma;
mod pose;
mod report;
mod stability;

#[cfg(test)]
mod tests;

pub use config::QualityConfig;
pub use error::QualityError;
pub use framing::{box_outside_fraction, center_offset, face_ratio, landmarks_outside_fraction};
pub use gate::{assess, assess_no_face, assess_no_face_in, QualityInput, QualityScratch};
pub use image::{normalised_sharpness, SHARPNESS_REF_CONTRAST};
pub use luma::{
    laplacian_variance, luma_stats, resample_crop, CropValid, Ellipse, LumaStats, LumaView, Plane,
    Roi,
};
pub use pose::{
    estimate_head_pose, rotation_from_angles, HeadPose, CANONICAL_INTEROCULAR,
    CANONICAL_POSE_POINTS, NUM_POSE_POINTS, POSE_LANDMARKS,
};
pub use report::{
    Check, FaceChecks, Hint, HintSet, ImageChecks, QualityReport, StabilityChecks, Verdict,
};
pub use stability::{landmark_motion, MotionHistory};

/// FaceMesh index of the subject's right eye, outer corner (image left in an un-mirrored frame).
pub const RIGHT_EYE_OUTER: usize = 33;
/// FaceMesh index of the subject's left eye, outer corner (image right in an un-mirrored frame).
pub const LEFT_EYE_OUTER: usize = 263;
