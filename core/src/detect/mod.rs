//! Face detection pre- and post-processing: BlazeFace (MediaPipe) and SCRFD (InsightFace).
//!
//! Pure functions over the models' raw output tensors; no runtime here. The engine
//! 1. builds the input tensor with `frame::warp_affine_to_tensor` and the `src_from_dst` of
//!    [`blazeface_input_transform`] or [`scrfd_input_transform`];
//! 2. runs the model;
//! 3. hands the raw outputs and the *same* `src_from_dst` to [`BlazeFaceDecoder::decode`] or
//!    [`ScrfdDecoder::decode`], which return [`Detection`]s in source-image pixels.
//!
//! Coordinates: pixel centres at integers (OpenCV convention, as `frame`). A model
//! coordinate `p` in tensor pixels maps to the source at `src_from_dst · p`; BlazeFace's
//! normalised outputs `u ∈ [0, 1]` are tensor pixels `u × input_size` (MediaPipe's CPU path,
//! see [`blazeface_input_transform`]).
//!
//! Keypoint order (both models): index 0 is the subject's **right** eye, which is the
//! image-left eye in a non-mirrored frame; index 1 the subject's left eye. See [`keypoint`].

mod anchors;
mod blazeface;
mod nms;
mod scrfd;

#[cfg(test)]
mod tests;

pub use anchors::{generate_anchors, Anchor, AnchorOptions};
pub use blazeface::{BlazeFaceConfig, BlazeFaceDecoder, BLAZEFACE_MIN_SCORE};
pub use nms::{hard_nms, weighted_nms, NmsScratch, Overlap};
pub use scrfd::{ScrfdConfig, ScrfdDecoder, SCRFD_MIN_SCORE, SCRFD_NMS_THRESHOLD};

use crate::frame::Border;
use crate::geometry::{Affine2, Point2, Rect};
use serde::{Deserialize, Serialize};

/// Most keypoints a [`Detection`] carries (BlazeFace has 6, SCRFD 5).
pub const MAX_KEYPOINTS: usize = 6;

/// Padding of the BlazeFace letterbox: MediaPipe's face detection graph uses
/// `BORDER_ZERO`, a black pixel, which is −1.0 after the model's [-1, 1] normalisation.
pub const BLAZEFACE_BORDER: Border = Border::Constant([0, 0, 0]);

/// Padding of the SCRFD letterbox: InsightFace pastes the resized image on a black (0) canvas,
/// which is (0 − 127.5) / 128 ≈ −0.996 after normalisation.
pub const SCRFD_BORDER: Border = Border::Constant([0, 0, 0]);

/// Keypoint indices of [`Detection::keypoints`]. "Right"/"left" are the subject's: in a
/// non-mirrored frame the subject's right eye is on the image's left.
pub mod keypoint {
    /// Subject's right eye (image-left, non-mirrored). BlazeFace and SCRFD.
    pub const RIGHT_EYE: usize = 0;
    /// Subject's left eye (image-right, non-mirrored). BlazeFace and SCRFD.
    pub const LEFT_EYE: usize = 1;
    /// Nose tip. BlazeFace and SCRFD.
    pub const NOSE_TIP: usize = 2;
    /// BlazeFace: mouth centre.
    pub const MOUTH_CENTER: usize = 3;
    /// BlazeFace: subject's right ear tragion (image-left).
    pub const RIGHT_EAR_TRAGION: usize = 4;
    /// BlazeFace: subject's left ear tragion (image-right).
    pub const LEFT_EAR_TRAGION: usize = 5;
    /// SCRFD: subject's right mouth corner (image-left).
    pub const SCRFD_RIGHT_MOUTH_CORNER: usize = 3;
    /// SCRFD: subject's left mouth corner (image-right).
    pub const SCRFD_LEFT_MOUTH_CORNER: usize = 4;
}

/// One detected face, in source-image pixels.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Detection {
    /// Axis-aligned face box, pixels.
    pub bbox: Rect,
    /// Face probability in [0, 1].
    pub score: f32,
    /// Keypoints in pixels; only the first `num_keypoints` are meaningful, the rest are zero.
    /// Order: see [`keypoint`].
    pub keypoints: [Point2; MAX_KEYPOINTS],
    /// 6 for BlazeFace, 5 for SCRFD.
    pub num_keypoints: u8,
}

impl Detection {
    /// The meaningful keypoints (`num_keypoints` of them).
    pub fn valid_keypoints(&self) -> &[Point2] {
        let n = (self.num_keypoints as usize).min(MAX_KEYPOINTS);
        &self.keypoints[..n]
    }

    /// Keypoint `i`, if the detection has it.
    pub fn keypoint(&self, i: usize) -> Option<Point2> {
        self.valid_keypoints().get(i).copied()
    }

    /// Every coordinate and the score are finite.
    pub fn is_finite(&self) -> bool {
        self.score.is_finite()
            && self.bbox.as_array().iter().all(|v| v.is_finite())
            && self.valid_keypoints().iter().all(|p| p.is_finite())
    }
}

/// Errors of this stage.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DetectError {
    /// A raw output tensor has the wrong number of values.
    #[error("{tensor} has {got} values, expected {expected}")]
    TensorLength {
        tensor: &'static str,
        expected: usize,
        got: usize,
    },
    /// A per-stride output tensor has the wrong number of values.
    #[error("{tensor} for stride {stride} has {got} values, expected {expected}")]
    LevelLength {
        tensor: &'static str,
        stride: u32,
        expected: usize,
        got: usize,
    },
    /// The caller passed the wrong number of tensor parts.
    #[error("{tensor}: got {got} tensor parts, expected {expected}")]
    PartCount {
        tensor: &'static str,
        expected: usize,
        got: usize,
    },
    /// A split tensor part does not end on an anchor-group boundary (parts swapped?).
    #[error(
        "score/regressor part {part} ends at anchor {end}, which is not the end of an anchor \
         group (stride layer); pass the parts in the model's output order"
    )]
    PartBoundary { part: usize, end: usize },
    /// Anchor options are inconsistent.
    #[error("invalid anchor options: {0}")]
    Anchors(&'static str),
    /// A decoder configuration value is out of range.
    #[error("invalid detector configuration: {0}")]
    Config(&'static str),
    /// Image size with a zero side.
    #[error("image size {width}x{height} is invalid: both sides must be > 0")]
    ImageSize { width: u32, height: u32 },
    /// Model input size with a zero side.
    #[error("model input size {width}x{height} is invalid: both sides must be > 0")]
    InputSize { width: u32, height: u32 },
    /// The `src_from_dst` transform has a non-finite entry.
    #[error("src_from_dst transform {0:?} has non-finite entries")]
    Transform([f32; 6]),
    /// The minimum score is not a number in [0, 1].
    #[error("min_score {0} is invalid: expected a number in [0, 1]")]
    MinScore(f32),
}

/// `src_from_dst` of MediaPipe's BlazeFace pre-processing (`ImageToTensorCalculator` with
/// `keep_aspect_ratio: true`, CPU/OpenCV path): the whole image, centred and letterboxed into
/// an `input_size²` tensor (padding: [`BLAZEFACE_BORDER`]).
///
/// MediaPipe pads the image rect to a square of side `L = max(w, h)` centred on `(w/2, h/2)`
/// and maps its corners onto the tensor corners `(0, 0)` and `(n, n)`, `n = input_size`, with
/// `cv::getPerspectiveTransform` + `warpPerspective` (integer = pixel centre on both sides).
/// So tensor pixel `(i, j)` samples the source at
/// `x = (w − L)/2 + i·L/n`, `y = (h − L)/2 + j·L/n`, and a model output `u ∈ [0, 1]` is the
/// tensor coordinate `u·n` — the same map MediaPipe's `DetectionProjectionCalculator` uses.
///
/// This differs from `frame::letterbox_transform` (pixel-area convention) by a translation of
/// `(L/n − 1)/2` source pixels; use this one to reproduce MediaPipe, and use the same matrix
/// to warp and to decode.
pub fn blazeface_input_transform(
    img_w: u32,
    img_h: u32,
    input_size: u32,
) -> Result<Affine2, DetectError> {
    check_sizes(img_w, img_h, input_size, input_size)?;
    let (w, h) = (img_w as f32, img_h as f32);
    let l = w.max(h);
    let s = l / input_size as f32;
    Ok(Affine2::new([s, 0.0, 0.5 * (w - l), 0.0, s, 0.5 * (h - l)]))
}

/// `src_from_dst` of InsightFace's SCRFD pre-processing: the image resized keeping its aspect
/// ratio into the **top-left** corner of the `input_w × input_h` tensor, the rest padded
/// ([`SCRFD_BORDER`]).
///
/// InsightFace (`SCRFD.detect`): if `h/w > input_h/input_w` then `new_h = input_h`,
/// `new_w = int(new_h / (h/w))`, else `new_w = input_w`, `new_h = int(new_w · h/w)`;
/// `det_scale = new_h / h`; outputs are divided by `det_scale`. So the map is the pure scale
/// `src = p · h/new_h` on both axes (no offset), which we use both to warp and to decode.
/// (InsightFace resizes with `cv2.resize`, whose half-pixel convention shifts its samples by
/// `(s − 1)/2` px against its own decoding; we keep warp and decode consistent instead.)
pub fn scrfd_input_transform(
    img_w: u32,
    img_h: u32,
    input_w: u32,
    input_h: u32,
) -> Result<Affine2, DetectError> {
    check_sizes(img_w, img_h, input_w, input_h)?;
    let im_ratio = img_h as f64 / img_w as f64;
    let model_ratio = input_h as f64 / input_w as f64;
    let new_h = if im_ratio > model_ratio {
        input_h as f64
    } else {
        // Python's int() truncates toward zero; the values are positive.
        ((input_w as f64 * im_ratio) as u64).max(1) as f64
    };
    let s = (img_h as f64 / new_h) as f32;
    Ok(Affine2::new([s, 0.0, 0.0, 0.0, s, 0.0]))
}

fn check_sizes(img_w: u32, img_h: u32, input_w: u32, input_h: u32) -> Result<(), DetectError> {
    if img_w == 0 || img_h == 0 {
        return Err(DetectError::ImageSize {
            width: img_w,
            height: img_h,
        });
    }
    if input_w == 0 || input_h == 0 {
        return Err(DetectError::InputSize {
            width: input_w,
            height: input_h,
        });
    }
    Ok(())
}

fn check_transform(t: &Affine2) -> Result<(), DetectError> {
    if t.is_finite() {
        Ok(())
    } else {
        Err(DetectError::Transform(t.m))
    }
}

fn check_min_score(min_score: f32) -> Result<(), DetectError> {
    if (0.0..=1.0).contains(&min_score) {
        Ok(())
    } else {
        Err(DetectError::MinScore(min_score))
    }
}

/// Maps a detection whose coordinates are `(x·sx, y·sy)` tensor pixels through
/// `src_from_dst`. The box becomes the bounding box of its four mapped corners (as MediaPipe's
/// `DetectionProjectionCalculator`). `None` if anything comes out non-finite.
fn project(d: &Detection, sx: f32, sy: f32, src_from_dst: &Affine2) -> Option<Detection> {
    let b = &d.bbox;
    let corners = [
        Point2::new(b.x_min * sx, b.y_min * sy),
        Point2::new(b.x_max * sx, b.y_min * sy),
        Point2::new(b.x_min * sx, b.y_max * sy),
        Point2::new(b.x_max * sx, b.y_max * sy),
    ];
    let bbox = Rect::bounding(corners.iter().map(|&p| src_from_dst.apply(p)))?;
    let mut out = Detection { bbox, ..*d };
    let n = (d.num_keypoints as usize).min(MAX_KEYPOINTS);
    for (dst, src) in out.keypoints[..n].iter_mut().zip(&d.keypoints[..n]) {
        *dst = src_from_dst.apply(Point2::new(src.x * sx, src.y * sy));
    }
    out.is_finite().then_some(out)
}

/// Makes `v`'s capacity at least `n` (whatever its length), so it holds `n` items without
/// growing; allocates only when it is smaller.
pub(crate) fn room_for<T>(v: &mut alloc::vec::Vec<T>, n: usize) {
    if v.capacity() < n {
        v.reserve(n - v.len());
    }
}
