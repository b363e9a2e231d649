//! The image checks on the resampled face crop: sharpness, exposure, contrast and the
//! per-region occlusion check.

use super::{
    laplacian_variance, luma_stats, resample_crop, Check, CropValid, Ellipse, Hint, ImageChecks,
    Plane, QualityConfig, QualityError, QualityInput, QualityScratch, Roi,
};
use crate::geometry::{Point2, Rect};
use crate::math;

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

pub(super) fn image_checks(
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
