//! Eye openness from MediaPipe Iris (`iris_landmark.onnx`, manifest `iris_landmark`: PyPI
//! `mediapipe` 0.10.14, Apache-2.0), an alternative to the eye-state classifier for blinks.
//!
//! **Pre-processing** (MediaPipe's `iris_landmark_landmarks_to_roi` + `iris_landmark_cpu`):
//! per eye, a square crop centred on the two FaceMesh eye corners (33/133, 362/263), of side
//! 2.3 × the corner distance, turned so that the corner line is horizontal; the eye of
//! 362/263 is mirrored so that both look alike to the model; bilinear to 64×64, RGB ÷ 255,
//! NCHW. Pixels outside the frame repeat the border. (MediaPipe sizes the square from the
//! corners' axis-aligned span; for an eye line within 20° of horizontal the two differ by
//! under 6 %.)
//!
//! **Measure**: the model's 71-point eye contour starts with the lower lid, corner to corner
//! (points 0–8), then the upper lid without the corners (9–15), so lower point `i` faces
//! upper point `i + 8`. Openness = the mean gap of those 7 pairs, perpendicular to the corner
//! line, over the corner distance (unitless, like the eye aspect ratio).

use alloc::sync::Arc;
use alloc::vec::Vec;

use serde::Serialize;

use crate::error::{Error, Result};
use crate::frame::Upright;
use crate::geometry::Point3;
use crate::mesh::Landmarks;
use crate::models::{ModelRunner, TensorOut};

/// Input side, pixels.
pub const SIDE: usize = 64;
/// Crop side over the eye-corner distance (MediaPipe's ROI scale).
pub const ROI_SCALE: f32 = 2.3;
/// Points of the eye contour output (x, y, z each).
pub const CONTOUR_POINTS: usize = 71;

/// FaceMesh eye corners: (start, end, mirrored), start → end runs image-left to image-right.
const RIGHT_EYE: (usize, usize, bool) = (33, 133, false);
const LEFT_EYE: (usize, usize, bool) = (362, 263, true);

/// Eye openness of one frame: lid gap over eye width, per eye.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct EyeOpenness {
    /// Subject's right eye (image-left), left eye; unitless (open ≈ 0.2–0.4, shut ≈ 0.05).
    pub right: f32,
    pub left: f32,
}

impl EyeOpenness {
    /// Mean of both eyes (a blink closes both).
    pub fn mean(&self) -> f32 {
        0.5 * (self.right + self.left)
    }
}

/// The iris / eye-contour model.
#[derive(Clone)]
pub struct IrisEyeModel {
    runner: Arc<dyn ModelRunner>,
}

impl core::fmt::Debug for IrisEyeModel {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "IrisEyeModel({})", self.runner.spec().name)
    }
}

impl IrisEyeModel {
    /// Wraps a loaded model; its declared interface must be `[1, 3, 64, 64]` →
    /// (`[1, 213]` contour, `[1, 15]` iris).
    pub fn new(runner: Arc<dyn ModelRunner>) -> Result<IrisEyeModel> {
        let spec = runner.spec();
        let ok = spec.inputs.len() == 1
            && spec.outputs.len() == 2
            && spec.inputs[0].shape == [1, 3, SIDE as i64, SIDE as i64]
            && spec.outputs[0].shape == [1, 3 * CONTOUR_POINTS as i64];
        if !ok {
            return Err(Error::Config(alloc::format!(
                "iris model `{}`: expected one [1, 3, 64, 64] input and a [1, 213] first output",
                spec.name
            )));
        }
        Ok(IrisEyeModel { runner })
    }

    /// Loads the manifest's `iris_landmark` through ONNX Runtime with the engine's model
    /// folder, runtime and overrides (sha256 and interface checked).
    #[cfg(feature = "ort")]
    pub fn load(engine: &crate::perception::EngineConfig) -> Result<IrisEyeModel> {
        Self::load_from(&*crate::models::ModelStore::shared(engine)?)
    }

    /// The manifest's `iris_landmark` from a model store (loaded once, shared with other
    /// stages).
    pub fn load_from(store: &crate::models::ModelStore) -> Result<IrisEyeModel> {
        Self::new(store.get("iris_landmark")?)
    }

    /// Eye openness for the face with these landmarks on `rgb`. Errors: a buffer that does
    /// not match its size, eyes too small to crop (corner distance under 2 pixels), a degenerate contour, the model's errors.
    pub fn predict<'a>(
        &self,
        rgb: impl Into<Upright<'a>>,
        landmarks: &Landmarks,
    ) -> Result<EyeOpenness> {
        let rgb = rgb.into();
        super::eyes::check_eye_input("iris", &rgb)?;
        let mut input = Vec::with_capacity(3 * SIDE * SIDE);
        let mut outputs: Vec<TensorOut> = Vec::new();
        let mut open = [0.0f32; 2];
        for (k, &(a, b, mirrored)) in [RIGHT_EYE, LEFT_EYE].iter().enumerate() {
            iris_crop(rgb, landmarks[a], landmarks[b], mirrored, &mut input)?;
            self.runner
                .run_one(&input, &[1, 3, SIDE, SIDE], &mut outputs)?;
            let contour = outputs.first().map(|o| o.data.as_slice()).unwrap_or(&[]);
            open[k] = openness_from_contour(contour).ok_or_else(|| {
                Error::ModelOutput(alloc::format!(
                    "iris: eye contour of {} values is not 71 finite points with distinct corners",
                    contour.len()
                ))
            })?;
        }
        Ok(EyeOpenness {
            right: open[0],
            left: open[1],
        })
    }
}

/// Lid gap over eye width from the model's contour output (71 × (x, y, z), crop pixels):
/// mean of the 7 lower/upper pairs `(i, i + 8)`, `i` = 1..=7, measured perpendicular to the
/// corner line (points 0 and 8). `None` for a short, non-finite or degenerate contour.
pub fn openness_from_contour(contour: &[f32]) -> Option<f32> {
    if contour.len() < 3 * CONTOUR_POINTS || !contour.iter().all(|v| v.is_finite()) {
        return None;
    }
    let p = |i: usize| (contour[3 * i], contour[3 * i + 1]);
    let (c0, c1) = (p(0), p(8));
    let (dx, dy) = (c1.0 - c0.0, c1.1 - c0.1);
    let width = libm::hypotf(dx, dy);
    if width < 1e-3 {
        return None;
    }
    let gap: f32 = (1..=7)
        .map(|i| {
            let (lo, up) = (p(i), p(i + 8));
            ((up.0 - lo.0) * dy - (up.1 - lo.1) * dx).abs() / width
        })
        .sum::<f32>()
        / 7.0;
    Some(gap / width)
}

/// The 64×64 RGB crop of one eye in [0, 1], NCHW (planes R, G, B), into `out`: centred on the
/// corners `start` and `end`, side [`ROI_SCALE`] × their distance, x along start → end,
/// mirrored when asked.
pub fn iris_crop<'a>(
    rgb: impl Into<Upright<'a>>,
    start: Point3,
    end: Point3,
    mirrored: bool,
    out: &mut Vec<f32>,
) -> Result<()> {
    if ![start.x, start.y, end.x, end.y]
        .iter()
        .all(|v| v.is_finite())
    {
        return Err(Error::InvalidInput("iris: landmarks are not finite".into()));
    }
    let (dx, dy) = (end.x - start.x, end.y - start.y);
    let corner = libm::hypotf(dx, dy);
    if corner < 2.0 {
        return Err(Error::InvalidInput(alloc::format!(
            "iris: eye {corner:.1} px wide is too small to crop"
        )));
    }
    let (ex, ey) = (dx / corner, dy / corner);
    let (cx, cy) = (0.5 * (start.x + end.x), 0.5 * (start.y + end.y));
    let side = corner * ROI_SCALE;
    let rgb = rgb.into();
    out.clear();
    out.resize(3 * SIDE * SIDE, 0.0);
    for j in 0..SIDE {
        let v = ((j as f32 + 0.5) / SIDE as f32 - 0.5) * side;
        for i in 0..SIDE {
            let mut u = ((i as f32 + 0.5) / SIDE as f32 - 0.5) * side;
            if mirrored {
                u = -u;
            }
            // Image point, then pixel-centre aligned bilinear.
            let sx = cx + u * ex - v * ey - 0.5;
            let sy = cy + u * ey + v * ex - 0.5;
            let (xi, fx) = (libm::floorf(sx) as i64, sx - libm::floorf(sx));
            let (yi, fy) = (libm::floorf(sy) as i64, sy - libm::floorf(sy));
            let (p00, p01) = (rgb.rgb_clamped(xi, yi), rgb.rgb_clamped(xi + 1, yi));
            let (p10, p11) = (rgb.rgb_clamped(xi, yi + 1), rgb.rgb_clamped(xi + 1, yi + 1));
            for c in 0..3 {
                let top = p00[c] as f32 * (1.0 - fx) + p01[c] as f32 * fx;
                let bottom = p10[c] as f32 * (1.0 - fx) + p11[c] as f32 * fx;
                out[c * SIDE * SIDE + j * SIDE + i] = (top * (1.0 - fy) + bottom * fy) / 255.0;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::RgbImage;

    #[test]
    fn openness_is_the_mean_lid_gap_over_the_width() {
        // Corners at (10, 30) and (50, 30); lids 4 px above and below along the eye.
        let mut c = alloc::vec![0.0f32; 3 * CONTOUR_POINTS];
        let mut set = |i: usize, x: f32, y: f32| {
            c[3 * i] = x;
            c[3 * i + 1] = y;
        };
        set(0, 10.0, 30.0);
        set(8, 50.0, 30.0);
        for i in 1..=7 {
            set(i, 10.0 + 5.0 * i as f32, 34.0);
            set(i + 8, 10.0 + 5.0 * i as f32, 26.0);
        }
        let o = openness_from_contour(&c).unwrap();
        assert!((o - 8.0 / 40.0).abs() < 1e-6, "{o}");
        // Rotating the whole contour does not change it.
        let (s, k) = (libm::sinf(0.4), libm::cosf(0.4));
        let r: Vec<f32> = c
            .chunks(3)
            .flat_map(|p| [k * p[0] - s * p[1], s * p[0] + k * p[1], p[2]])
            .collect();
        assert!((openness_from_contour(&r).unwrap() - o).abs() < 1e-5);
        // Short, non-finite and degenerate contours are refused.
        assert!(openness_from_contour(&c[..100]).is_none());
        let mut bad = c.clone();
        bad[5] = f32::NAN;
        assert!(openness_from_contour(&bad).is_none());
        let mut flat = c;
        flat[24] = 10.0;
        flat[25] = 30.0;
        assert!(openness_from_contour(&flat).is_none());
    }

    #[test]
    fn crop_is_centred_turned_and_mirrored() {
        // Red channel = x, green = y (grey ramps), corners 20 px apart around (50, 40).
        let (w, h) = (100u32, 80u32);
        let data: Vec<u8> = (0..h)
            .flat_map(|y| (0..w).flat_map(move |x| [x as u8, y as u8, 0]))
            .collect();
        let rgb = RgbImage {
            width: w,
            height: h,
            data,
        };
        let p = |x: f32, y: f32| Point3 { x, y, z: 0.0 };
        let mut out = Vec::new();
        iris_crop(&rgb, p(40.0, 40.0), p(60.0, 40.0), false, &mut out).unwrap();
        assert_eq!(out.len(), 3 * SIDE * SIDE);
        // Side 46 px from x = 27: sample i at 27 + (i + 0.5) · 46/64 − 0.5 (then − 0.5 + 0.5
        // pixel-centre: the ramp's value at pixel n is n).
        let at =
            |o: &[f32], c: usize, j: usize, i: usize| o[c * SIDE * SIDE + j * SIDE + i] * 255.0;
        for i in [0usize, 31, 63] {
            let want = 27.0 + (i as f32 + 0.5) * 46.0 / 64.0 - 0.5;
            assert!((at(&out, 0, 10, i) - want).abs() < 1e-3, "{i}");
        }
        // Mirrored: column i reads what column 63 − i read.
        let mut m = Vec::new();
        iris_crop(&rgb, p(40.0, 40.0), p(60.0, 40.0), true, &mut m).unwrap();
        assert!((at(&m, 0, 10, 0) - at(&out, 0, 10, 63)).abs() < 1e-3);
        // Turned 90°: the crop's x runs down the image (green rises along a row).
        let mut t = Vec::new();
        iris_crop(&rgb, p(50.0, 30.0), p(50.0, 50.0), false, &mut t).unwrap();
        assert!(at(&t, 1, 32, 63) - at(&t, 1, 32, 0) > 40.0);
        assert!((at(&t, 0, 32, 63) - at(&t, 0, 32, 0)).abs() < 1e-3);
        // Degenerate and non-finite eyes are errors.
        assert!(iris_crop(&rgb, p(40.0, 40.0), p(41.0, 40.0), false, &mut t).is_err());
        assert!(iris_crop(&rgb, p(f32::NAN, 40.0), p(60.0, 40.0), false, &mut t).is_err());
    }
}
