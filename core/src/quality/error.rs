//! [`QualityError`]: malformed input to the quality gate (never bad quality).

use super::luma;

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
    /// The landmarks are degenerate (collapsed to a point, a line or a plane): no pose exists.
    #[error("landmarks are degenerate ({0}): expected a 3D face mesh")]
    DegenerateLandmarks(&'static str),
    /// The face box is not finite or has no area.
    #[error(transparent)]
    InvalidFaceBox(#[from] crate::geometry::InvalidFaceBox),
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
