//! FaceMesh (MediaPipe face landmark, 468 points) pre- and post-processing.
//!
//! Replicates MediaPipe's `face_landmark_front` graphs:
//! - ROI from a detection (`face_detection_front_detection_to_roi.pbtxt`) or from the previous
//!   frame's landmarks (`face_landmark_landmarks_to_roi.pbtxt`): `DetectionsToRects` with a
//!   rotation from an eye-to-eye vector, then `RectTransformation` scale 1.5 × 1.5 and
//!   `square_long`;
//! - input crop (`ImageToTensorCalculator`, 192×192, [0, 1], `BORDER_REPLICATE`);
//! - landmark decoding (`TensorsToLandmarks` + `LandmarkProjection`) and the face-presence
//!   sigmoid with a 0.5 threshold.
//!
//! MediaPipe computes the ROI in image-normalised coordinates. Every step is linear per axis
//! (centres and sizes scale by the image width/height, the rotation is computed from keypoints
//! scaled back to pixels, `square_long` compares sides in pixels), so computing directly in
//! pixels gives the same rectangle; the tests check this against the normalised route on a
//! non-square image.
//!
//! Rotation convention (MediaPipe `NormalizedRect.rotation`, y down): positive = clockwise as
//! displayed. The ROI's local x axis points along `(cos r, sin r)` in the image.

use crate::detect::Detection;
use crate::frame::Border;
use crate::geometry::{Affine2, Point2, Point3, Rect, RotatedRect};
use crate::math;
use alloc::vec::Vec;

mod landmarks;
#[cfg(test)]
mod tests;

pub use landmarks::{LandmarkError, Landmarks};

/// Test data as [`Landmarks`] (test fixtures are always 468 finite points).
#[cfg(test)]
pub(crate) fn checked(points: impl AsRef<[Point3]>) -> Landmarks {
    Landmarks::from_slice(points.as_ref()).expect("test landmarks: 468 finite points")
}

/// Landmarks FaceMesh predicts.
pub const NUM_LANDMARKS: usize = 468;

/// Values in the landmark output `conv2d_20` (`[1, 1404, 1, 1]`): x, y, z per landmark.
pub const RAW_LANDMARKS_LEN: usize = 3 * NUM_LANDMARKS;
/// Side of the square model input, pixels.
pub const INPUT_SIZE: u32 = 192;
/// Face-presence probability above which (strictly, `ThresholdingCalculator`) MediaPipe keeps
/// the landmarks.
pub const PRESENCE_THRESHOLD: f32 = 0.5;
/// ROI enlargement of both `RectTransformation` steps (detection → ROI, landmarks → ROI).
pub const ROI_SCALE: f32 = 1.5;
/// Border of the input crop: MediaPipe's face landmark graph leaves `ImageToTensorCalculator`'s
/// `border_mode` unset, which means `BORDER_REPLICATE`.
pub const INPUT_BORDER: Border = Border::Replicate;

/// Landmark indices of the 468-point mesh. "Right"/"left" are the subject's; in a
/// non-mirrored frame the subject's right side is on the image's left.
pub mod idx {
    /// Upper lip, outer midpoint.
    pub const UPPER_LIP_OUTER: usize = 0;
    /// Nose tip.
    pub const NOSE_TIP: usize = 1;
    /// Mid forehead, top of the face oval.
    pub const FOREHEAD: usize = 10;
    /// Upper lip, inner midpoint.
    pub const UPPER_LIP_INNER: usize = 13;
    /// Lower lip, inner midpoint.
    pub const LOWER_LIP_INNER: usize = 14;
    /// Lower lip, outer midpoint.
    pub const LOWER_LIP_OUTER: usize = 17;
    /// Right eye, outer corner (image-left). Start of MediaPipe's tracking rotation vector.
    pub const RIGHT_EYE_OUTER: usize = 33;
    /// Right eye, inner corner.
    pub const RIGHT_EYE_INNER: usize = 133;
    /// Left eye, inner corner.
    pub const LEFT_EYE_INNER: usize = 362;
    /// Left eye, outer corner (image-right). End of MediaPipe's tracking rotation vector.
    pub const LEFT_EYE_OUTER: usize = 263;
    /// Mouth corner on the subject's right (image-left).
    pub const MOUTH_RIGHT: usize = 61;
    /// Mouth corner on the subject's left (image-right).
    pub const MOUTH_LEFT: usize = 291;
    /// Chin, bottom of the face oval.
    pub const CHIN: usize = 152;
    /// Face-oval point level with the eyes on the subject's right (image-left).
    pub const FACE_EDGE_RIGHT: usize = 234;
    /// Face-oval point level with the eyes on the subject's left (image-right).
    pub const FACE_EDGE_LEFT: usize = 454;

    /// Right-eye contour as a closed loop: lower lid from the outer corner (33) to the inner
    /// corner (133), then the upper lid back (MediaPipe's eye refinement indices).
    pub const RIGHT_EYE_CONTOUR: [usize; 16] = [
        33, 7, 163, 144, 145, 153, 154, 155, 133, 173, 157, 158, 159, 160, 161, 246,
    ];
    /// Left-eye contour as a closed loop: lower lid from the outer corner (263) to the inner
    /// corner (362), then the upper lid back.
    pub const LEFT_EYE_CONTOUR: [usize; 16] = [
        263, 249, 390, 373, 374, 380, 381, 382, 362, 398, 384, 385, 386, 387, 388, 466,
    ];

    /// Eye-aspect-ratio points `[p1..p6]` of the right eye (Soukupová & Čech):
    /// `EAR = (|p2 − p6| + |p3 − p5|) / (2 |p1 − p4|)`; p1 outer corner, p4 inner corner,
    /// p2/p3 upper lid, p6/p5 the lower-lid points facing them.
    pub const RIGHT_EYE_EAR: [usize; 6] = [33, 160, 158, 133, 153, 144];
    /// Eye-aspect-ratio points `[p1..p6]` of the left eye; p1 inner corner, p4 outer corner.
    pub const LEFT_EYE_EAR: [usize; 6] = [362, 385, 387, 263, 373, 380];

    /// Face oval, clockwise in the image from the forehead (MediaPipe `FACEMESH_FACE_OVAL`).
    pub const FACE_OVAL: [usize; 36] = [
        10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378, 400, 377,
        152, 148, 176, 149, 150, 136, 172, 58, 132, 93, 234, 127, 162, 21, 54, 103, 67, 109,
    ];
}

/// Errors of this stage.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum MeshError {
    /// The raw landmark tensor has the wrong length.
    #[error("landmark tensor has {got} values, expected {expected} (468 landmarks × x, y, z)")]
    TensorLength { expected: usize, got: usize },
    /// The decoded landmarks are not usable (a coordinate overflowed to infinity).
    #[error("decoded landmarks: {0}")]
    Landmarks(#[from] LandmarkError),
    /// A value that must be finite is not.
    #[error("{what} has a non-finite value at index {index}")]
    NonFinite { what: &'static str, index: usize },
    /// The detection lacks the two eye keypoints the ROI rotation needs.
    #[error("detection has {got} keypoints, expected at least 2 (the eyes)")]
    TooFewKeypoints { got: u8 },
    /// The ROI would have zero or non-finite size.
    #[error("degenerate ROI: {0}")]
    DegenerateRoi(&'static str),
    /// The model input size is zero.
    #[error("model input size {0} is invalid: expected > 0")]
    InputSize(u32),
    /// The `src_from_dst` transform is not usable.
    #[error("src_from_dst transform {0:?} is non-finite or singular")]
    Transform([f32; 6]),
}

/// `NormalizeRadians`: wraps an angle to [−π, π).
pub fn normalize_radians(angle: f32) -> f32 {
    use core::f32::consts::PI;
    angle - 2.0 * PI * math::floor((angle + PI) / (2.0 * PI))
}

/// `DetectionsToRects` rotation with target angle 0: `rotation = −atan2(−(y1 − y0), x1 − x0)`,
/// normalised to [−π, π). Positive when `p1` is lower on screen than `p0` (a clockwise tilt).
pub fn rotation_from_points(p0: Point2, p1: Point2) -> f32 {
    normalize_radians(-math::atan2(-(p1.y - p0.y), p1.x - p0.x))
}

/// `DetectionsToRects` (box centre and size, rotation `p0 → p1`) then `RectTransformation`
/// (`square_long`, scale [`ROI_SCALE`]), in pixels.
fn rect_to_roi(bbox: &Rect, p0: Point2, p1: Point2) -> Result<RotatedRect, MeshError> {
    let c = bbox.center();
    let long = bbox.width().max(bbox.height());
    let side = long * ROI_SCALE;
    let rotation = rotation_from_points(p0, p1);
    if !side.is_finite() || side <= 0.0 {
        return Err(MeshError::DegenerateRoi(
            "face box has zero or non-finite size",
        ));
    }
    if !(c.is_finite() && rotation.is_finite()) {
        return Err(MeshError::DegenerateRoi(
            "face box centre or eye keypoints are not finite",
        ));
    }
    Ok(RotatedRect {
        cx: c.x,
        cy: c.y,
        width: side,
        height: side,
        rotation,
    })
}

/// FaceMesh ROI from a face detection, as MediaPipe's `FaceDetectionFrontDetectionToRoi`:
/// centre = the detection box centre; side = 1.5 × the box's longer side (square in
/// pixels); rotation from keypoint 0 (subject's right eye) to keypoint 1 (left eye),
/// target 0, so level eyes give 0 and a clockwise head tilt on screen gives a positive angle.
///
/// The ROI scale is calibrated for BlazeFace boxes; SCRFD boxes (taller) give a larger ROI.
pub fn roi_from_detection(det: &Detection) -> Result<RotatedRect, MeshError> {
    if det.num_keypoints < 2 {
        return Err(MeshError::TooFewKeypoints {
            got: det.num_keypoints,
        });
    }
    if !det.bbox.as_array().iter().all(|v| v.is_finite()) {
        return Err(MeshError::DegenerateRoi("detection box is not finite"));
    }
    rect_to_roi(&det.bbox, det.keypoints[0], det.keypoints[1])
}

/// Tracking ROI from the previous frame's landmarks (image pixels), as MediaPipe's
/// `FaceLandmarkLandmarksToRoi`: box = bounding box of all 468 landmarks (x, y), rotation from
/// landmark 33 (right eye outer corner) to 263 (left eye outer corner), `square_long`, scale 1.5.
pub fn roi_from_landmarks(landmarks: &Landmarks) -> Result<RotatedRect, MeshError> {
    let bbox = Rect::bounding(landmarks.iter().map(|p| p.xy()))
        .ok_or(MeshError::DegenerateRoi("no landmarks"))?;
    rect_to_roi(
        &bbox,
        landmarks[idx::RIGHT_EYE_OUTER].xy(),
        landmarks[idx::LEFT_EYE_OUTER].xy(),
    )
}

/// The four corners of `roi` in pixels: top-left, top-right, bottom-right, bottom-left of the
/// rectangle's own frame (top-left is where tensor pixel (0, 0) samples).
pub fn roi_corners(roi: &RotatedRect) -> [Point2; 4] {
    let (s, c) = (math::sin(roi.rotation), math::cos(roi.rotation));
    let (hw, hh) = (0.5 * roi.width, 0.5 * roi.height);
    let at = |lx: f32, ly: f32| Point2::new(roi.cx + c * lx - s * ly, roi.cy + s * lx + c * ly);
    [at(-hw, -hh), at(hw, -hh), at(hw, hh), at(-hw, hh)]
}

/// `src_from_dst` that crops `roi` into an `input_size²` tensor, for
/// `frame::warp_affine_to_tensor` (border [`INPUT_BORDER`]).
///
/// MediaPipe's CPU `ImageToTensorCalculator` maps the rect's corners (`cv::boxPoints`) onto
/// the tensor corners `(0, 0)`, `(n, 0)`, `(n, n)`, `(0, n)` (`n = input_size`) with
/// `getPerspectiveTransform`, integers being pixel centres on both sides. So tensor pixel
/// `(i, j)` samples the source at
/// `centre + R(rotation) · ((i/n − ½)·width, (j/n − ½)·height)`, `R = [[cos, −sin], [sin, cos]]`:
///
/// ```text
/// x = (c·w/n)·i − (s·h/n)·j + cx − ½(c·w − s·h)
/// y = (s·w/n)·i + (c·h/n)·j + cy − ½(s·w + c·h)
/// ```
///
/// The model's landmark outputs are in the same tensor coordinates (MediaPipe divides them by
/// `n` and projects `[0, 1]` onto the rect corners), so [`decode_landmarks`] maps them with this
/// same matrix.
pub fn roi_to_input_transform(roi: &RotatedRect, input_size: u32) -> Result<Affine2, MeshError> {
    if input_size == 0 {
        return Err(MeshError::InputSize(input_size));
    }
    let vals = [roi.cx, roi.cy, roi.width, roi.height, roi.rotation];
    if !vals.iter().all(|v| v.is_finite()) {
        return Err(MeshError::DegenerateRoi("ROI has non-finite values"));
    }
    if roi.width <= 0.0 || roi.height <= 0.0 {
        return Err(MeshError::DegenerateRoi("ROI width and height must be > 0"));
    }
    let n = input_size as f32;
    let (s, c) = (math::sin(roi.rotation), math::cos(roi.rotation));
    let (w, h) = (roi.width, roi.height);
    Ok(Affine2::new([
        c * w / n,
        -s * h / n,
        roi.cx - 0.5 * (c * w - s * h),
        s * w / n,
        c * h / n,
        roi.cy - 0.5 * (s * w + c * h),
    ]))
}

/// Decodes the landmark tensor (`conv2d_20`, 468 × (x, y, z) in input-tensor pixels) into
/// image pixels, checked once here into [`Landmarks`]. `buf` lends its allocation (its
/// contents are overwritten).
///
/// x, y go through `src_from_dst` (from [`roi_to_input_transform`]). z follows MediaPipe:
/// `TensorsToLandmarks` divides it by the input width like x, `LandmarkProjection` multiplies
/// it by the ROI width, so `z_px = z · width / n = z · |first column of src_from_dst|`: the same
/// pixel scale as x, negative towards the camera.
pub fn decode_landmarks(
    raw: &[f32],
    src_from_dst: &Affine2,
    mut buf: Vec<Point3>,
) -> Result<Landmarks, MeshError> {
    if raw.len() != RAW_LANDMARKS_LEN {
        return Err(MeshError::TensorLength {
            expected: RAW_LANDMARKS_LEN,
            got: raw.len(),
        });
    }
    let m = &src_from_dst.m;
    let z_scale = math::sqrt(m[0] * m[0] + m[3] * m[3]);
    if !src_from_dst.is_finite() || !z_scale.is_finite() || z_scale <= 0.0 {
        return Err(MeshError::Transform(src_from_dst.m));
    }
    if let Some(index) = raw.iter().position(|v| !v.is_finite()) {
        return Err(MeshError::NonFinite {
            what: "landmark tensor",
            index,
        });
    }
    buf.clear();
    buf.extend(raw.chunks_exact(3).map(|v| {
        let q = src_from_dst.apply(Point2::new(v[0], v[1]));
        Point3::new(q.x, q.y, v[2] * z_scale)
    }));
    Ok(Landmarks::new(buf)?)
}

/// Face-presence probability from the `conv2d_30` logit (MediaPipe `TensorsToFloats` with
/// `activation: SIGMOID`). NaN gives 0 (no face).
pub fn presence_score(logit: f32) -> f32 {
    let p = math::sigmoid_clipped(logit, 100.0);
    if p.is_nan() {
        0.0
    } else {
        p
    }
}

/// MediaPipe's gate: landmarks are kept when `presence_score(logit) > 0.5`.
pub fn is_face_present(logit: f32) -> bool {
    presence_score(logit) > PRESENCE_THRESHOLD
}
