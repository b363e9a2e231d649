//! Five-point alignment to the ArcFace 112×112 template.
//!
//! The five points are, in image order for an upright, non-mirrored face: the image-left eye
//! centre (the subject's right eye), the image-right eye centre, the nose tip, the image-left
//! mouth corner and the image-right mouth corner. [`umeyama`] fits the least-squares
//! similarity (rotation, uniform scale, translation; no reflection) from the image points to
//! [`ARCFACE_TEMPLATE`] (Umeyama 1991, as scikit-image's `SimilarityTransform.estimate` that
//! InsightFace's `norm_crop` uses); the crop is then [`crate::frame::warp`]'s bilinear affine
//! warp with a black border, as `cv2.warpAffine(..., borderValue=0)`.

use nalgebra::{Matrix2, Vector2};

use super::MatchError;
use crate::geometry::{Affine2, Point2};
use crate::mesh::{idx, Landmarks};

/// InsightFace's `arcface_dst`: the 5 points' positions in the 112×112 aligned crop.
pub const ARCFACE_TEMPLATE: [[f32; 2]; 5] = [
    [38.2946, 51.6963],
    [73.5318, 51.5014],
    [56.0252, 71.7366],
    [41.5493, 92.3655],
    [70.7299, 92.2041],
];

/// Side of the aligned crop, pixels.
pub const CROP: u32 = 112;

/// The five alignment points, image pixels, in template order.
pub type FivePoints = [Point2; 5];

/// The five points from FaceMesh's 468 landmarks: eye centres as the mean of each eye's
/// 16-point contour, the nose tip (landmark 1) and the mouth corners (61, 291).
/// Errors only on degenerate points (e.g. eyes that coincide).
pub fn five_points_from_mesh(landmarks: &Landmarks) -> Result<FivePoints, MatchError> {
    let centre = |ids: &[usize]| {
        let n = ids.len() as f32;
        let (sx, sy) = ids.iter().fold((0.0, 0.0), |a, &i| {
            (a.0 + landmarks[i].x, a.1 + landmarks[i].y)
        });
        Point2::new(sx / n, sy / n)
    };
    let at = |i: usize| Point2::new(landmarks[i].x, landmarks[i].y);
    let pts = [
        centre(&idx::RIGHT_EYE_CONTOUR),
        centre(&idx::LEFT_EYE_CONTOUR),
        at(idx::NOSE_TIP),
        at(idx::MOUTH_RIGHT),
        at(idx::MOUTH_LEFT),
    ];
    check_points(&pts)?;
    Ok(pts)
}

/// The five points from a detector that gives them (SCRFD: eyes, nose tip, mouth corners).
/// BlazeFace gives a mouth centre, not corners: it is refused with a typed error.
pub fn five_points_from_detection(d: &crate::detect::Detection) -> Result<FivePoints, MatchError> {
    if d.num_keypoints != 5 {
        return Err(MatchError::Keypoints {
            got: d.num_keypoints as usize,
        });
    }
    let mut pts = [Point2::default(); 5];
    pts.copy_from_slice(&d.keypoints[..5]);
    check_points(&pts)?;
    Ok(pts)
}

fn check_points(pts: &FivePoints) -> Result<(), MatchError> {
    if pts.iter().all(|p| p.x.is_finite() && p.y.is_finite()) {
        Ok(())
    } else {
        Err(MatchError::Degenerate("a point is not finite".into()))
    }
}

/// The least-squares similarity `dst ≈ s·R·src + t` (no reflection), as an [`Affine2`]
/// mapping `src` coordinates to `dst`. Errors: non-finite points, or points that coincide
/// (no scale or rotation can be fitted).
pub fn umeyama(src: &[Point2], dst: &[Point2]) -> Result<Affine2, MatchError> {
    let n = src.len();
    if n < 2 || n != dst.len() {
        return Err(MatchError::Degenerate(alloc::format!(
            "{} source and {} target points (need the same number, at least 2)",
            n,
            dst.len()
        )));
    }
    if !src
        .iter()
        .chain(dst)
        .all(|p| p.x.is_finite() && p.y.is_finite())
    {
        return Err(MatchError::Degenerate("a point is not finite".into()));
    }
    let v = |p: &Point2| Vector2::new(p.x as f64, p.y as f64);
    let nf = n as f64;
    let mu_s = src.iter().map(v).sum::<Vector2<f64>>() / nf;
    let mu_d = dst.iter().map(v).sum::<Vector2<f64>>() / nf;
    let var_s = src
        .iter()
        .map(|p| (v(p) - mu_s).norm_squared())
        .sum::<f64>()
        / nf;
    let mut cov = Matrix2::zeros();
    for (a, b) in src.iter().zip(dst) {
        cov += (v(b) - mu_d) * (v(a) - mu_s).transpose();
    }
    cov /= nf;
    // Spread below 1e-6 px² (the points coincide): nothing to fit.
    if var_s < 1e-6 {
        return Err(MatchError::Degenerate(alloc::format!(
            "the source points coincide (spread {var_s:.2e} px²)"
        )));
    }
    let svd = cov.svd(true, true);
    let (u, vt) = match (svd.u, svd.v_t) {
        (Some(u), Some(vt)) => (u, vt),
        _ => return Err(MatchError::Degenerate("SVD did not converge".into())),
    };
    let d = svd.singular_values;
    let mut s = Matrix2::identity();
    if u.determinant() * vt.determinant() < 0.0 {
        s[(1, 1)] = -1.0;
    }
    let r = u * s * vt;
    let scale = (d[0] * s[(0, 0)] + d[1] * s[(1, 1)]) / var_s;
    if !(scale.is_finite() && scale > 1e-9) {
        return Err(MatchError::Degenerate(alloc::format!(
            "the target points coincide (scale {scale:.2e})"
        )));
    }
    let t = mu_d - scale * r * mu_s;
    let m = [
        scale * r[(0, 0)],
        scale * r[(0, 1)],
        t[0],
        scale * r[(1, 0)],
        scale * r[(1, 1)],
        t[1],
    ];
    Ok(Affine2::new(m.map(|x| x as f32)))
}

/// The transform from crop pixels to image pixels (what the warp samples) for these points,
/// and the RMS distance, in crop pixels, between the mapped points and the template.
pub fn crop_from_points(pts: &FivePoints) -> Result<(Affine2, f32), MatchError> {
    let template = ARCFACE_TEMPLATE.map(|[x, y]| Point2::new(x, y));
    let to_crop = umeyama(pts, &template)?;
    let rms = (pts
        .iter()
        .zip(&template)
        .map(|(p, q)| {
            let m = to_crop.apply(*p);
            (m.x - q.x).powi(2) + (m.y - q.y).powi(2)
        })
        .sum::<f32>()
        / 5.0)
        .sqrt();
    let from_crop = to_crop
        .inverse()
        .ok_or_else(|| MatchError::Degenerate("the similarity is not invertible".into()))?;
    Ok((from_crop, rms))
}
