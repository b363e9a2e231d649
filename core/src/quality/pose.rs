//! Head pose from the 468 FaceMesh landmarks: a 3D similarity fit (Umeyama, no reflection) of
//! MediaPipe's canonical face model to a rigid subset of the landmarks.
//!
//! FaceMesh gives x, y in image pixels (x right, y down) and z in the same scale, negative
//! towards the camera: a right-handed camera frame (x right, y down, z away from the camera).
//! The canonical model is in centimetres with x towards the subject's left, y up and z out of
//! the face (towards the camera when frontal). Flipping y and z (a 180° turn about x, a proper
//! rotation) puts it in the camera frame, where a frontal face fits with rotation `I`.
//!
//! # Angle convention (degrees)
//! The fitted rotation is expressed in the *head-centred upright frame* (x = subject's left,
//! y = up, z = towards the camera) and decomposed as `R = Ry(yaw) · Rx(−pitch) · Rz(−roll)`:
//! - **yaw** > 0: the subject turns to *their* left (the nose moves to the image right in an
//!   un-mirrored frame; a mirrored selfie preview shows it moving left);
//! - **pitch** > 0: chin up, looking up (the nose moves up in the image);
//! - **roll** > 0: the head tilts towards the subject's left shoulder (the top of the head moves
//!   to the image right: a clockwise turn of the face as displayed, un-mirrored).
//!
//! Yaw is applied last (about the camera's vertical axis), so a turned head keeps its pitch
//! and roll meaning. The angles are defined for |pitch| < 90°, ample for faces.
//!
//! Attribution: the canonical points are vertices of `canonical_face_model.obj` from MediaPipe
//! (`mediapipe/modules/face_geometry/data/`), Copyright The MediaPipe Authors, Apache-2.0.
//! Vertex *i* of that file is FaceMesh landmark *i*.

use super::QualityError;
use crate::mesh::Landmarks;
use nalgebra::{Matrix3, Vector3};
use serde::{Deserialize, Serialize};

/// Number of landmarks used by the pose fit (and the motion measure).
pub const NUM_POSE_POINTS: usize = 36;

/// FaceMesh indices of the fit subset: the midline from forehead to nose, forehead, brows, eye
/// corners (not lids: they blink), nose wings, cheekbones, face sides, and a few lower-face
/// points (mouth corners, chin, jaw) kept few so that speech or a smile barely moves the fit.
pub const POSE_LANDMARKS: [usize; NUM_POSE_POINTS] = [
    10, 151, 9, 168, 6, 197, 195, 5, 4, 1, 2, // midline
    109, 338, 67, 297, // forehead
    70, 300, 105, 334, // brows
    33, 263, 133, 362, // eye corners
    98, 327, // nose wings
    50, 280, // cheekbones
    234, 454, 127, 356, // face sides
    61, 291, 152, 58, 288, // mouth corners, chin, jaw
];

/// Canonical model vertices (cm; x = subject's left, y = up, z = out of the face) for
/// [`POSE_LANDMARKS`], in the same order. MediaPipe `canonical_face_model.obj`, Apache-2.0.
/// Digits are kept verbatim from the file.
#[allow(clippy::excessive_precision)]
pub const CANONICAL_POSE_POINTS: [[f32; 3]; NUM_POSE_POINTS] = [
    [0.000000, 8.261778, 4.481535],    // 10
    [0.000000, 6.545390, 5.027311],    // 151
    [0.000000, 4.885979, 5.385258],    // 9
    [0.000000, 3.271027, 5.236015],    // 168
    [0.000000, 2.473255, 5.788627],    // 6
    [0.000000, 1.728369, 6.316750],    // 197
    [0.000000, 1.059413, 6.774605],    // 195
    [0.000000, 0.365669, 7.242870],    // 5
    [0.000000, -0.463170, 7.586580],   // 4
    [0.000000, -1.126865, 7.475604],   // 1
    [0.000000, -2.089024, 6.058267],   // 2
    [-1.891399, 8.236377, 4.274997],   // 109
    [1.891399, 8.236377, 4.274997],    // 338
    [-3.523964, 8.005976, 3.729163],   // 67
    [3.523964, 8.005976, 3.729163],    // 297
    [-5.720968, 4.254584, 2.830852],   // 70
    [5.720968, 4.254584, 2.830852],    // 300
    [-3.986562, 5.109487, 4.466315],   // 105
    [3.986562, 5.109487, 4.466315],    // 334
    [-4.445859, 2.663991, 3.173422],   // 33
    [4.445859, 2.663991, 3.173422],    // 263
    [-1.856432, 2.585245, 3.757904],   // 133
    [1.856432, 2.585245, 3.757904],    // 362
    [-1.405627, -1.714196, 5.241087],  // 98
    [1.405627, -1.714196, 5.241087],   // 327
    [-4.765501, -0.701554, 3.534632],  // 50
    [4.765501, -0.701554, 3.534632],   // 280
    [-7.664182, 0.673132, -2.435867],  // 234
    [7.664182, 0.673132, -2.435867],   // 454
    [-7.743095, 2.364999, -2.005167],  // 127
    [7.743095, 2.364999, -2.005167],   // 356
    [-2.456206, -4.342621, 4.283884],  // 61
    [2.456206, -4.342621, 4.283884],   // 291
    [0.000000, -9.403378, 4.264492],   // 152
    [-6.719682, -4.788645, -1.745401], // 58
    [6.719682, -4.788645, -1.745401],  // 288
];

/// Distance between the outer eye corners (landmarks 33 and 263) of the canonical model, cm.
pub const CANONICAL_INTEROCULAR: f32 = 8.891718;

/// Head pose of one face. Angles in degrees, see the module docs for the convention.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct HeadPose {
    /// Degrees, positive = the subject turns to their left.
    pub yaw_deg: f32,
    /// Degrees, positive = chin up (looking up).
    pub pitch_deg: f32,
    /// Degrees, positive = head tilts towards the subject's left shoulder.
    pub roll_deg: f32,
    /// Fitted scale, image pixels per canonical centimetre.
    pub scale: f32,
    /// RMS distance between the fitted canonical points and the landmarks, in inter-ocular
    /// distances (`scale × CANONICAL_INTEROCULAR` pixels): 0 for a perfect canonical face.
    pub residual: f32,
    /// Fitted rotation in the camera frame (x right, y down, z away), row-major: a landmark is
    /// `scale · R · c' + t` with `c' = (x, −y, −z)` of the canonical point.
    pub rotation: [[f32; 3]; 3],
}

/// Rotation in the camera frame (x right, y down, z away) for the given angles in degrees,
/// in this module's convention. `estimate_head_pose` inverts it; tests and synthetic data
/// use it to pose the canonical face.
pub fn rotation_from_angles(yaw_deg: f32, pitch_deg: f32, roll_deg: f32) -> [[f32; 3]; 3] {
    let r = model_rotation(
        (yaw_deg as f64).to_radians(),
        (-pitch_deg as f64).to_radians(),
        (-roll_deg as f64).to_radians(),
    );
    to_rows(&(flip() * r * flip()))
}

/// `diag(1, −1, −1)`: the head-upright frame ↔ camera frame change (its own inverse).
fn flip() -> Matrix3<f64> {
    Matrix3::from_diagonal(&Vector3::new(1.0, -1.0, -1.0))
}

/// `Ry(a) · Rx(b) · Rz(c)`, radians.
fn model_rotation(a: f64, b: f64, c: f64) -> Matrix3<f64> {
    let (sa, ca) = (libm::sin(a), libm::cos(a));
    let (sb, cb) = (libm::sin(b), libm::cos(b));
    let (sc, cc) = (libm::sin(c), libm::cos(c));
    let ry = Matrix3::new(ca, 0.0, sa, 0.0, 1.0, 0.0, -sa, 0.0, ca);
    let rx = Matrix3::new(1.0, 0.0, 0.0, 0.0, cb, -sb, 0.0, sb, cb);
    let rz = Matrix3::new(cc, -sc, 0.0, sc, cc, 0.0, 0.0, 0.0, 1.0);
    ry * rx * rz
}

fn to_rows(m: &Matrix3<f64>) -> [[f32; 3]; 3] {
    let mut out = [[0.0f32; 3]; 3];
    for (r, row) in out.iter_mut().enumerate() {
        for (c, v) in row.iter_mut().enumerate() {
            *v = m[(r, c)] as f32;
        }
    }
    out
}

/// Fits the canonical face to the landmarks and returns the pose. Errors only on degenerate
/// input (landmarks collapsed to a point, a line or a plane).
pub fn estimate_head_pose(landmarks: &Landmarks) -> Result<HeadPose, QualityError> {
    let n = NUM_POSE_POINTS as f64;

    // Source: canonical points in the camera frame. Target: observed landmarks.
    let src: [Vector3<f64>; NUM_POSE_POINTS] = core::array::from_fn(|k| {
        let c = CANONICAL_POSE_POINTS[k];
        Vector3::new(c[0] as f64, -(c[1] as f64), -(c[2] as f64))
    });
    let dst: [Vector3<f64>; NUM_POSE_POINTS] = core::array::from_fn(|k| {
        let p = landmarks[POSE_LANDMARKS[k]];
        Vector3::new(p.x as f64, p.y as f64, p.z as f64)
    });
    let mu_s = src.iter().sum::<Vector3<f64>>() / n;
    let mu_d = dst.iter().sum::<Vector3<f64>>() / n;
    let var_s = src.iter().map(|s| (s - mu_s).norm_squared()).sum::<f64>() / n;
    let var_d = dst.iter().map(|d| (d - mu_d).norm_squared()).sum::<f64>() / n;
    if var_d.is_nan() || var_d <= 1e-12 {
        return Err(QualityError::DegenerateLandmarks(
            "all fit landmarks coincide",
        ));
    }
    // Cross-covariance Σ = 1/n Σ (d − μd)(s − μs)ᵀ; Umeyama (1991).
    let mut cov = Matrix3::<f64>::zeros();
    for (s, d) in src.iter().zip(dst.iter()) {
        cov += (d - mu_d) * (s - mu_s).transpose();
    }
    cov /= n;
    let svd = cov.svd(true, true);
    let (Some(u), Some(v_t)) = (svd.u, svd.v_t) else {
        return Err(QualityError::DegenerateLandmarks(
            "SVD of the covariance failed",
        ));
    };
    let sv = svd.singular_values;
    // Collinear landmarks leave the rotation about their line undetermined.
    let mut sorted = [sv[0], sv[1], sv[2]];
    sorted.sort_by(|a, b| b.partial_cmp(a).unwrap_or(core::cmp::Ordering::Equal));
    if sorted[1].is_nan() || sorted[1] <= 1e-9 * sorted[0] {
        return Err(QualityError::DegenerateLandmarks(
            "the fit landmarks are collinear",
        ));
    }
    // No reflection: flip the axis of the smallest singular value when det(U)·det(V) < 0
    // (a mirrored mesh then fits badly and shows as a large residual).
    let mut sign = Vector3::new(1.0, 1.0, 1.0);
    if u.determinant() * v_t.determinant() < 0.0 {
        let (imin, _) = sv.argmin();
        sign[imin] = -1.0;
    }
    let rot = u * Matrix3::from_diagonal(&sign) * v_t;
    let scale = sv.component_mul(&sign).sum() / var_s;
    if !(scale.is_finite() && scale > 0.0) {
        return Err(QualityError::DegenerateLandmarks(
            "the fitted scale is not positive",
        ));
    }
    let t = mu_d - rot * mu_s * scale;
    let sq: f64 = src
        .iter()
        .zip(dst.iter())
        .map(|(s, d)| (d - (rot * s * scale + t)).norm_squared())
        .sum();
    let rms = libm::sqrt(sq / n);
    let iod = scale * CANONICAL_INTEROCULAR as f64;

    // Back to the head-upright frame, then R = Ry(a) Rx(b) Rz(c).
    let m = flip() * rot * flip();
    let b = libm::asin((-m[(1, 2)]).clamp(-1.0, 1.0));
    let a = libm::atan2(m[(0, 2)], m[(2, 2)]);
    let c = libm::atan2(m[(1, 0)], m[(1, 1)]);
    Ok(HeadPose {
        yaw_deg: a.to_degrees() as f32,
        pitch_deg: -b.to_degrees() as f32,
        roll_deg: -c.to_degrees() as f32,
        scale: scale as f32,
        residual: (rms / iod) as f32,
        rotation: to_rows(&rot),
    })
}
