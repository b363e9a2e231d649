//! Monocular depth signal: does the face stand out in 3D, as a live face does, or is it flat,
//! as a printed photo or a screen is?
//!
//! **Model contract** (Depth Anything V2 ONNX exports): input `pixel_values` `[1, 3, H, W]`
//! (H, W multiples of 14), RGB scaled to [0, 1] then ImageNet mean (0.485, 0.456, 0.406) /
//! std (0.229, 0.224, 0.225); output `predicted_depth` `[1, H, W]`: relative **inverse**
//! depth, larger = closer, with an
//! unknown scale and shift per image (the model is trained affine-invariant). The
//! post-processing here also accepts `[1, 1, H, W]` (some exports), and so does the load-time
//! interface check (an output may differ from the manifest's `[1, -1, -1]` by unit
//! dimensions).
//!
//! **The real weights are not shipped** (no registry package has them; see `models/README.md`).
//! A user supplies `depth_anything_v2_vits` by path + sha256. The project's stand-in
//! (`models/standin/depth_anything_v2_standin.onnx`) has the same I/O but computes a blurred
//! brightness: **with the stand-in, the score means nothing about liveness**.
//!
//! Pipeline, one frame: [`preprocess`] (a square crop [`Config::context_scale`] × the face box,
//! centred on it: the context around the face lets the model see it against its background)
//! → the model through `&dyn ModelRunner` → [`frame_features`] (pure) → [`FrameFeatures`];
//! then [`score`] over a window. [`DepthEstimator`] holds the runner and the buffers.
//!
//! **Normalisation** (why IOD units): the model's depth `d` is known only up to `a·d + b`, so
//! raw relief is not comparable across frames or distances. Per frame, we fit a robust
//! (Huber IRLS) affine map `h = s·d + t` from the model's depth to FaceMesh's own depth at the
//! same 468 landmarks, `c = −z / IOD` (z is in pixels, negative towards the camera, so `c` is
//! "closeness" in inter-ocular distances). `h` is then the model's depth expressed in IOD units,
//! and x, y are in IOD units too. The mesh only supplies the scale and the shift (two numbers);
//! the shape is the model's: where the model sees a plane or noise, `s` → 0 and `h` is flat, so
//! relief and plane residual fall to 0. `s` is clamped at ≥ 0, so an inverted face (a hollow
//! mask seen as concave) is flat, not live. A simpler normaliser, the depth spread over the
//! crop, was rejected: it depends on how much of the crop the face covers and on how far the
//! background is, and it blows up noise when the model sees a plane.
//!
//! **Features** per frame, all in IOD units: RMS residual of a least-squares plane
//! `h = a x + b y + c` over the 468 landmarks; nose tip minus the mean of four cheek points;
//! nose tip minus the plane through the face oval (tilt-free); p95 − p5 of `h` over the face.
//! Ideal values (the model agreeing exactly with MediaPipe's canonical face, frontal):
//! plane residual 0.285, nose − cheeks 0.578, nose − oval plane 1.035, range 1.046
//! (`ideal_depth_gives_canonical_relief`).

use std::collections::BTreeMap;
use std::sync::Arc;

use nalgebra::{Matrix3, Vector3};
use serde::{Deserialize, Serialize};

use super::{inter_ocular_distance, logistic, FaceGeometry, SignalReport};
use crate::frame::{warp_affine_to_tensor, Border, FrameError, Normalize, RgbImage, TensorLayout};
use crate::geometry::{Affine2, Point2, Point3, Rect};
use crate::mesh::{idx, Landmarks, NUM_LANDMARKS};
use crate::models::{ModelError, ModelRunner, ModelSpec, TensorOut};

#[cfg(test)]
pub(crate) mod tests;

/// Name of the model input tensor.
pub const INPUT_NAME: &str = "pixel_values";
/// Name of the model output tensor.
pub const OUTPUT_NAME: &str = "predicted_depth";
/// ViT patch side, pixels: input sides must be multiples of it.
pub const PATCH: u32 = 14;
/// Smallest and largest accepted input side, pixels (2 and 74 patches).
pub const INPUT_SIZE_RANGE: (u32, u32) = (28, 1036);
/// ImageNet mean per RGB channel on the 0–255 scale (0.485, 0.456, 0.406 × 255).
pub const IMAGENET_MEAN: [f32; 3] = [123.675, 116.28, 103.53];
/// ImageNet std per RGB channel on the 0–255 scale (0.229, 0.224, 0.225 × 255).
pub const IMAGENET_STD: [f32; 3] = [58.395, 57.12, 57.375];
/// Border of the crop where it leaves the image: the nearest edge pixel (a constant colour
/// would show the model a flat, sharp-edged slab next to the face).
pub const CROP_BORDER: Border = Border::Replicate;
/// Cheek landmarks: cheekbones (50, 280) and mid-cheeks (205, 425), both sides.
pub const CHEEKS: [usize; 4] = [50, 280, 205, 425];

/// Errors of the depth signal. Each says what was wrong and what was expected.
#[derive(Debug, thiserror::Error)]
pub enum DepthError {
    /// A configuration value is NaN, infinite or out of range.
    #[error("depth config `{name}` = {value} is invalid: expected {expected}")]
    InvalidConfig {
        name: &'static str,
        value: f64,
        expected: &'static str,
    },
    /// The depth samples are not one per landmark.
    #[error("depth samples: got {got}, expected {expected} (one per FaceMesh landmark)")]
    SampleCount { got: usize, expected: usize },
    /// The eye centres coincide (inter-ocular distance < 1 px): no scale for the features.
    #[error("face landmarks are degenerate: inter-ocular distance < 1 px, expected a face")]
    DegenerateLandmarks,
    /// The face box is not finite or has no area.
    #[error(transparent)]
    InvalidFaceBox(#[from] crate::geometry::InvalidFaceBox),
    /// The crop transform is singular or not finite.
    #[error("crop transform {0:?} is singular or non-finite")]
    Transform([f32; 6]),
    /// The model's declared interface is not Depth Anything V2's.
    #[error("depth model `{model}`: {what}")]
    Interface { model: String, what: String },
    /// The runner returned no output tensor.
    #[error("depth model returned {got} outputs, expected 1 (`predicted_depth`)")]
    OutputCount { got: usize },
    /// The output tensor has another shape than the input size implies.
    #[error(
        "depth model output `predicted_depth` has shape {got:?} with {len} values, expected \
         [1, {height}, {width}] or [1, 1, {height}, {width}]"
    )]
    OutputShape {
        got: Vec<usize>,
        len: usize,
        height: usize,
        width: usize,
    },
    /// The output holds NaN or infinite values.
    #[error("depth model output holds a non-finite value at index {index}")]
    NonFiniteOutput { index: usize },
    #[error(transparent)]
    Frame(#[from] FrameError),
    #[error(transparent)]
    Model(#[from] ModelError),
}

/// The name the passive analyzer uses for [`Config`].
pub type DepthConfig = Config;
/// The name the passive analyzer uses for [`FrameFeatures`].
pub type DepthFrame = FrameFeatures;

/// Settings of the depth signal. Scoring constants are priors until calibrated on the real
/// model (see the module docs); their units are IOD (inter-ocular distances).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Config {
    /// Side of the square crop over the face box's longer side (default 2.0, range 1–4): the
    /// context beyond the face lets the model see it against its background.
    pub context_scale: f32,
    /// Model input side, pixels, a multiple of 14 in 28..=1036 (default 252 = 18 patches;
    /// the model was trained at 518, about 5× slower: 1.33 s vs 0.24 s for ViT-S on one
    /// desktop core).
    pub input_size: u32,
    /// Frames whose inter-ocular distance is below this (pixels, default 24) are left out of
    /// the window: the crop would be upsampled blur.
    pub min_inter_ocular_px: f32,
    /// Fewest usable frames for a score (default 3).
    pub min_frames: usize,
    /// Window length: only the last `max_frames` frames are scored (default 30).
    pub max_frames: usize,
    /// Nose-to-oval-plane relief, IOD, where the relief term is 0.5 (default 0.25: a quarter
    /// of the canonical face's 1.035; a plane gives 0).
    pub relief_centre: f32,
    /// Logistic scale of the relief term, IOD (default 0.06: 0.05 → 0.04, 0.45 → 0.96).
    pub relief_scale: f32,
    /// Plane-fit RMS residual, IOD, where the residual term is 0.5 (default 0.07: a quarter
    /// of the canonical face's 0.285; a plane gives 0).
    pub residual_centre: f32,
    /// Logistic scale of the residual term, IOD (default 0.02: 0.01 → 0.05, 0.13 → 0.95).
    pub residual_scale: f32,
    /// Coefficient of variation of the relief across the window where the consistency term
    /// is 0.5 (default 0.5: a relief that swings by half its size frame to frame is suspect).
    pub cv_centre: f32,
    /// Logistic scale of the consistency term (default 0.1: CV 0 → 0.99, CV 1 → 0.01).
    pub cv_scale: f32,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            context_scale: 2.0,
            input_size: 252,
            min_inter_ocular_px: 24.0,
            min_frames: 3,
            max_frames: 30,
            relief_centre: 0.25,
            relief_scale: 0.06,
            residual_centre: 0.07,
            residual_scale: 0.02,
            cv_centre: 0.5,
            cv_scale: 0.1,
        }
    }
}

fn check_range(
    name: &'static str,
    value: f64,
    lo: f64,
    hi: f64,
    expected: &'static str,
) -> Result<(), DepthError> {
    if value.is_finite() && value >= lo && value <= hi {
        Ok(())
    } else {
        Err(DepthError::InvalidConfig {
            name,
            value,
            expected,
        })
    }
}

impl Config {
    /// Checks every field; the first bad one is the error.
    pub fn validate(&self) -> Result<(), DepthError> {
        let (lo, hi) = INPUT_SIZE_RANGE;
        if !self.input_size.is_multiple_of(PATCH) || !(lo..=hi).contains(&self.input_size) {
            return Err(DepthError::InvalidConfig {
                name: "input_size",
                value: self.input_size as f64,
                expected: "a multiple of 14 in 28..=1036 pixels",
            });
        }
        let tiny = f64::MIN_POSITIVE;
        check_range(
            "context_scale",
            self.context_scale as f64,
            1.0,
            4.0,
            "in [1, 4]",
        )?;
        check_range(
            "min_inter_ocular_px",
            self.min_inter_ocular_px as f64,
            0.0,
            10_000.0,
            "pixels in [0, 10000]",
        )?;
        check_range(
            "min_frames",
            self.min_frames as f64,
            1.0,
            10_000.0,
            "in 1..=10000",
        )?;
        check_range(
            "max_frames",
            self.max_frames as f64,
            self.min_frames as f64,
            10_000.0,
            "in min_frames..=10000",
        )?;
        check_range(
            "relief_centre",
            self.relief_centre as f64,
            -10.0,
            10.0,
            "IOD in [-10, 10]",
        )?;
        check_range(
            "relief_scale",
            self.relief_scale as f64,
            tiny,
            10.0,
            "IOD in (0, 10]",
        )?;
        check_range(
            "residual_centre",
            self.residual_centre as f64,
            0.0,
            10.0,
            "IOD in [0, 10]",
        )?;
        check_range(
            "residual_scale",
            self.residual_scale as f64,
            tiny,
            10.0,
            "IOD in (0, 10]",
        )?;
        check_range(
            "cv_centre",
            self.cv_centre as f64,
            0.0,
            100.0,
            "in [0, 100]",
        )?;
        check_range("cv_scale", self.cv_scale as f64, tiny, 100.0, "in (0, 100]")?;
        Ok(())
    }
}

/// What one frame's depth map says about the face. Depths are in IOD units after the affine
/// fit to FaceMesh (module docs); larger = closer.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FrameFeatures {
    /// Inter-ocular distance, image pixels.
    pub inter_ocular_px: f32,
    /// RMS residual of the least-squares plane over the 468 landmarks, IOD.
    pub plane_rms: f32,
    /// Slope of that plane, IOD of depth per IOD across the image (0 = facing the camera).
    pub plane_tilt: f32,
    /// Nose tip minus the mean of the four [`CHEEKS`] points, IOD (> 0: nose closer).
    pub nose_cheek: f32,
    /// Nose tip minus the plane through the [`idx::FACE_OVAL`] points at the nose, IOD.
    pub nose_border: f32,
    /// p95 − p5 of the depth over the 468 landmarks, IOD.
    pub face_range: f32,
    /// Robust correlation of the model's depth with FaceMesh's closeness (−z), in [−1, 1].
    pub mesh_corr: f32,
    /// Fitted scale `s`: IOD per model depth unit (≥ 0; 0 = the model's depth explains none of
    /// the face's shape). Model-specific, for diagnosis.
    pub depth_gain: f32,
}

impl FrameFeatures {
    /// A frame whose face was too small to measure: every feature NaN.
    pub fn not_measured(inter_ocular_px: f32) -> FrameFeatures {
        let nan = f32::NAN;
        FrameFeatures {
            inter_ocular_px,
            plane_rms: nan,
            plane_tilt: nan,
            nose_cheek: nan,
            nose_border: nan,
            face_range: nan,
            mesh_corr: nan,
            depth_gain: nan,
        }
    }
}

/// A least-squares plane `z = a x + b y + c` and its RMS residual.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PlaneFit {
    pub a: f64,
    pub b: f64,
    pub c: f64,
    /// RMS of `z − (a x + b y + c)` over the fitted points.
    pub rms: f64,
}

impl PlaneFit {
    /// The plane's height at `(x, y)`.
    pub fn at(&self, x: f64, y: f64) -> f64 {
        self.a * x + self.b * y + self.c
    }
}

/// Least-squares plane through `(x, y, z)` points (normal equations on centred coordinates,
/// solved with nalgebra). `None` for fewer than 3 points, collinear x, y, or non-finite input.
pub fn fit_plane(points: &[[f64; 3]]) -> Option<PlaneFit> {
    let n = points.len();
    if n < 3 || points.iter().flatten().any(|v| !v.is_finite()) {
        return None;
    }
    let nf = n as f64;
    let (mx, my, mz) = points.iter().fold((0.0, 0.0, 0.0), |(a, b, c), p| {
        (a + p[0] / nf, b + p[1] / nf, c + p[2] / nf)
    });
    let mut ata = Matrix3::<f64>::zeros();
    let mut atb = Vector3::<f64>::zeros();
    for p in points {
        let v = Vector3::new(p[0] - mx, p[1] - my, 1.0);
        ata += v * v.transpose();
        atb += v * (p[2] - mz);
    }
    // Centred x, y are orthogonal to the constant column, so the 2×2 block decides conditioning.
    let det2 = ata[(0, 0)] * ata[(1, 1)] - ata[(0, 1)] * ata[(1, 0)];
    let scale = ata[(0, 0)] * ata[(1, 1)];
    if !(det2 > 1e-12 * scale && scale > 0.0) {
        return None;
    }
    let sol = ata.lu().solve(&atb)?;
    let (a, b) = (sol[0], sol[1]);
    let c = mz + sol[2] - a * mx - b * my;
    let fit = PlaneFit { a, b, c, rms: 0.0 };
    let ss: f64 = points
        .iter()
        .map(|p| {
            let r = p[2] - fit.at(p[0], p[1]);
            r * r
        })
        .sum();
    Some(PlaneFit {
        rms: (ss / nf).sqrt(),
        ..fit
    })
}

/// `src_from_dst` of the model crop: a square of side `context_scale × max(box w, h)` centred
/// on the face box, onto `input_size²` tensor pixels (pixel-centre convention: the box centre
/// lands on the tensor centre `((N − 1)/2, (N − 1)/2)`, the square's edges on `−0.5`, `N − 0.5`).
pub fn crop_transform(bbox: &Rect, cfg: &Config) -> Result<Affine2, DepthError> {
    cfg.validate()?;
    bbox.check_face_box()?;
    let n = cfg.input_size as f32;
    let side = cfg.context_scale * bbox.width().max(bbox.height());
    let s = side / n;
    let c = bbox.center();
    let half = 0.5 * (n - 1.0);
    Ok(Affine2::new([
        s,
        0.0,
        c.x - half * s,
        0.0,
        s,
        c.y - half * s,
    ]))
}

/// Fills `out` (`3 × N × N`, NCHW) with the crop of `rgb` around `bbox`, normalised by `norm`
/// (for Depth Anything V2: [`IMAGENET_MEAN`] / [`IMAGENET_STD`] on 0–255); returns the crop's
/// `src_from_dst`.
pub fn preprocess(
    rgb: &RgbImage,
    bbox: &Rect,
    cfg: &Config,
    norm: &Normalize,
    out: &mut [f32],
) -> Result<Affine2, DepthError> {
    let m = crop_transform(bbox, cfg)?;
    let n = cfg.input_size;
    warp_affine_to_tensor(rgb, &m, n, n, CROP_BORDER, TensorLayout::Nchw, norm, out)?;
    Ok(m)
}

/// A depth map, row-major, `width × height` values in the model's units (larger = closer).
#[derive(Clone, Copy, Debug)]
pub struct DepthMap<'a> {
    pub data: &'a [f32],
    pub width: usize,
    pub height: usize,
}

impl DepthMap<'_> {
    /// Bilinear sample at `(x, y)` (pixel centres at integers), clamped to the edge pixels.
    pub fn sample(&self, x: f32, y: f32) -> f32 {
        let (w, h) = (self.width, self.height);
        let x = x.clamp(0.0, (w - 1) as f32);
        let y = y.clamp(0.0, (h - 1) as f32);
        let (x0, y0) = (x.floor() as usize, y.floor() as usize);
        let (x1, y1) = ((x0 + 1).min(w - 1), (y0 + 1).min(h - 1));
        let (fx, fy) = (x - x0 as f32, y - y0 as f32);
        let at = |i: usize, j: usize| self.data[j * w + i];
        let top = at(x0, y0) * (1.0 - fx) + at(x1, y0) * fx;
        let bot = at(x0, y1) * (1.0 - fx) + at(x1, y1) * fx;
        top * (1.0 - fy) + bot * fy
    }
}

/// Checks the model's output against the `height × width` input: shape `[1, H, W]` or
/// `[1, 1, H, W]`, length, finiteness; returns it as a [`DepthMap`].
pub fn depth_map(out: &TensorOut, height: usize, width: usize) -> Result<DepthMap<'_>, DepthError> {
    let shape_ok =
        matches!(out.shape.as_slice(), [1, h, w] | [1, 1, h, w] if *h == height && *w == width);
    if !shape_ok || out.data.len() != height * width || height == 0 || width == 0 {
        return Err(DepthError::OutputShape {
            got: out.shape.clone(),
            len: out.data.len(),
            height,
            width,
        });
    }
    if let Some(index) = out.data.iter().position(|v| !v.is_finite()) {
        return Err(DepthError::NonFiniteOutput { index });
    }
    Ok(DepthMap {
        data: &out.data,
        width,
        height,
    })
}

/// Linear-interpolated percentile `q` in [0, 1] of a sorted slice.
fn percentile_sorted(v: &[f64], q: f64) -> f64 {
    let pos = q * (v.len() - 1) as f64;
    let (i, f) = (pos.floor() as usize, pos - pos.floor());
    let j = (i + 1).min(v.len() - 1);
    v[i] * (1.0 - f) + v[j] * f
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    percentile_sorted(v, 0.5)
}

/// Robust (Huber IRLS) fit of `c ≈ s·d + t`: returns `(s, t, weighted correlation)`.
/// Degenerate `d` (no spread) gives `s = 0`, `t = median(c)`, correlation 0.
fn robust_affine(d: &[f64], c: &[f64]) -> (f64, f64, f64) {
    let n = d.len();
    let mut w = std::vec![1.0f64; n];
    let mut resid = std::vec![0.0f64; n];
    let (mut s, mut t, mut corr) = (0.0, 0.0, 0.0);
    for _ in 0..8 {
        let sw: f64 = w.iter().sum();
        let md = d.iter().zip(&w).map(|(x, w)| x * w).sum::<f64>() / sw;
        let mc = c.iter().zip(&w).map(|(x, w)| x * w).sum::<f64>() / sw;
        let (mut sdd, mut sdc, mut scc) = (0.0, 0.0, 0.0);
        for i in 0..n {
            let (a, b) = (d[i] - md, c[i] - mc);
            sdd += w[i] * a * a;
            sdc += w[i] * a * b;
            scc += w[i] * b * b;
        }
        // Relative to the mean's size so float noise on a constant map counts as no spread.
        let spread_floor = 1e-18 * (md * md + 1e-30) * sw;
        if sdd <= spread_floor || scc <= 0.0 {
            let mut cc = c.to_vec();
            return (0.0, median(&mut cc), 0.0);
        }
        s = sdc / sdd;
        t = mc - s * md;
        corr = sdc / (sdd * scc).sqrt();
        for i in 0..n {
            resid[i] = (c[i] - s * d[i] - t).abs();
        }
        let mut r = resid.clone();
        // MAD scale; Huber threshold 1.345 σ.
        let sigma = 1.4826 * median(&mut r);
        let k = 1.345 * sigma.max(1e-9);
        for i in 0..n {
            w[i] = if resid[i] <= k { 1.0 } else { k / resid[i] };
        }
    }
    (s, t, corr.clamp(-1.0, 1.0))
}

/// Per-frame features from the model's depth map (pure): samples it at the landmarks
/// (mapped through `src_from_dst`'s inverse into the map, bilinear), fits the affine scale to
/// FaceMesh's depth and measures the relief in IOD units (module docs).
pub fn frame_features(
    depth: &DepthMap<'_>,
    src_from_dst: &Affine2,
    landmarks: &Landmarks,
) -> Result<FrameFeatures, DepthError> {
    let iod = inter_ocular_distance(landmarks).ok_or(DepthError::DegenerateLandmarks)?;
    let dst_from_src = src_from_dst
        .inverse()
        .filter(|m| m.is_finite())
        .ok_or(DepthError::Transform(src_from_dst.m))?;
    let needed = depth.width.checked_mul(depth.height);
    if depth.width == 0 || depth.height == 0 || needed != Some(depth.data.len()) {
        return Err(DepthError::OutputShape {
            got: std::vec![depth.height, depth.width],
            len: depth.data.len(),
            height: depth.height,
            width: depth.width,
        });
    }
    if let Some(index) = depth.data.iter().position(|v| !v.is_finite()) {
        return Err(DepthError::NonFiniteOutput { index });
    }
    let d: Vec<f64> = landmarks
        .iter()
        .map(|p| {
            let q = dst_from_src.apply(Point2::new(p.x, p.y));
            depth.sample(q.x, q.y) as f64
        })
        .collect();
    landmark_features(&d, landmarks, iod)
}

/// The features from the model's depth `d` sampled at the 468 landmarks (any affine scale and
/// shift), the landmarks themselves and their inter-ocular distance in pixels. Errors (never
/// panics) when `d` is not one sample per landmark.
pub fn landmark_features(
    d: &[f64],
    landmarks: &Landmarks,
    iod: f32,
) -> Result<FrameFeatures, DepthError> {
    if d.len() != landmarks.len() {
        return Err(DepthError::SampleCount {
            got: d.len(),
            expected: NUM_LANDMARKS,
        });
    }
    let iod64 = iod as f64;
    let nose = landmarks[idx::NOSE_TIP];
    let xy = |p: &Point3| ((p.x - nose.x) as f64 / iod64, (p.y - nose.y) as f64 / iod64);
    let closeness: Vec<f64> = landmarks.iter().map(|p| -(p.z as f64) / iod64).collect();
    let (s_raw, t, corr) = robust_affine(d, &closeness);
    // Clamped at 0: depth that runs against the face's shape is no evidence of relief.
    let s = s_raw.max(0.0);
    let t = if s_raw < 0.0 {
        let mut c = closeness.clone();
        median(&mut c)
    } else {
        t
    };
    let h: Vec<f64> = d.iter().map(|v| s * v + t).collect();
    let pts: Vec<[f64; 3]> = landmarks
        .iter()
        .zip(&h)
        .map(|(p, &z)| {
            let (x, y) = xy(p);
            [x, y, z]
        })
        .collect();
    let nan = f32::NAN;
    let face = fit_plane(&pts);
    let oval: Vec<[f64; 3]> = idx::FACE_OVAL.iter().map(|&i| pts[i]).collect();
    let border = fit_plane(&oval);
    let h_nose = h[idx::NOSE_TIP];
    let cheeks = CHEEKS.iter().map(|&i| h[i]).sum::<f64>() / CHEEKS.len() as f64;
    let mut sorted = h.clone();
    sorted.sort_by(|a, b| a.total_cmp(b));
    Ok(FrameFeatures {
        inter_ocular_px: iod,
        plane_rms: face.map_or(nan, |f| f.rms as f32),
        plane_tilt: face.map_or(nan, |f| f.a.hypot(f.b) as f32),
        nose_cheek: (h_nose - cheeks) as f32,
        nose_border: border.map_or(nan, |b| (h_nose - b.at(0.0, 0.0)) as f32),
        face_range: (percentile_sorted(&sorted, 0.95) - percentile_sorted(&sorted, 0.05)) as f32,
        mesh_corr: corr as f32,
        depth_gain: s as f32,
    })
}

fn is_usable(f: &FrameFeatures, cfg: &Config) -> bool {
    f.inter_ocular_px >= cfg.min_inter_ocular_px
        && [f.plane_rms, f.nose_cheek, f.nose_border, f.face_range]
            .iter()
            .all(|v| v.is_finite())
}

fn mean_std(v: &[f64]) -> (f64, f64) {
    let n = v.len() as f64;
    let m = v.iter().sum::<f64>() / n;
    let var = v.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / n;
    (m, var.sqrt())
}

/// The window score (pure). Uses the last [`Config::max_frames`] frames whose face is large
/// enough; unavailable when fewer than [`Config::min_frames`] remain.
///
/// `score = sqrt(relief · residual) · consistency`, each a logistic term in [0, 1]:
/// relief of the median nose-to-oval-plane relief, residual of the median plane RMS (a face
/// needs both: a tilted plane has neither), consistency falling with the relief's coefficient
/// of variation across frames (a depth that comes and goes is not a rigid face).
pub fn score(frames: &[FrameFeatures], cfg: &Config) -> SignalReport {
    if let Err(e) = cfg.validate() {
        return SignalReport::unavailable(e);
    }
    let window = &frames[frames.len().saturating_sub(cfg.max_frames)..];
    let usable: Vec<&FrameFeatures> = window.iter().filter(|f| is_usable(f, cfg)).collect();
    let mut features = BTreeMap::new();
    features.insert("frames".to_string(), window.len() as f64);
    features.insert("usable_frames".to_string(), usable.len() as f64);
    if usable.len() < cfg.min_frames {
        let small = window
            .iter()
            .filter(|f| f.inter_ocular_px < cfg.min_inter_ocular_px)
            .count();
        let reason = super::too_few_frames(
            window.len(),
            usable.len(),
            cfg.min_frames,
            small,
            format_args!(
                "an inter-ocular distance below {} px",
                cfg.min_inter_ocular_px
            ),
        );
        return SignalReport::unavailable(reason).with_features(features);
    }
    let col =
        |f: fn(&FrameFeatures) -> f32| -> Vec<f64> { usable.iter().map(|x| f(x) as f64).collect() };
    let med = |f: fn(&FrameFeatures) -> f32| median(&mut col(f));
    let rms = med(|f| f.plane_rms);
    let relief = med(|f| f.nose_border);
    let (_, relief_std) = mean_std(&col(|f| f.nose_border));
    let (range_mean, range_std) = mean_std(&col(|f| f.face_range));
    let cv = relief_std / relief.abs().max(cfg.relief_centre.abs() as f64).max(1e-6);
    let relief_term = logistic(relief as f32, cfg.relief_centre, cfg.relief_scale);
    let residual_term = logistic(rms as f32, cfg.residual_centre, cfg.residual_scale);
    let consistency = logistic(cv as f32, cfg.cv_centre, -cfg.cv_scale);
    let s = (relief_term * residual_term).sqrt() * consistency;
    for (k, v) in [
        ("plane_rms_median", rms),
        ("plane_tilt_median", med(|f| f.plane_tilt)),
        ("nose_cheek_median", med(|f| f.nose_cheek)),
        ("nose_border_median", relief),
        ("face_range_median", med(|f| f.face_range)),
        ("mesh_corr_median", med(|f| f.mesh_corr)),
        ("depth_gain_median", med(|f| f.depth_gain)),
        ("nose_border_std", relief_std),
        ("nose_border_cv", cv),
        ("face_range_cv", range_std / range_mean.abs().max(1e-6)),
        ("relief_term", relief_term as f64),
        ("residual_term", residual_term as f64),
        ("consistency_term", consistency as f64),
    ] {
        features.insert(k.to_string(), v);
    }
    SignalReport::scored(s, features)
}

/// Checks that `spec` declares Depth Anything V2's interface for `cfg.input_size`, and returns
/// the input normalisation (the spec's `preprocess` when given, else ImageNet's).
pub fn check_spec(spec: &ModelSpec, cfg: &Config) -> Result<Normalize, DepthError> {
    let err = |what: String| DepthError::Interface {
        model: spec.name.clone(),
        what,
    };
    let dim_ok = |d: i64, want: i64| d < 0 || d == want;
    let n = cfg.input_size as i64;
    match spec.inputs.as_slice() {
        [i] if i.name == INPUT_NAME
            && i.shape.len() == 4
            && dim_ok(i.shape[0], 1)
            && dim_ok(i.shape[1], 3)
            && dim_ok(i.shape[2], n)
            && dim_ok(i.shape[3], n) => {}
        other => {
            return Err(err(format!(
                "inputs {:?}, expected one `{INPUT_NAME}` [1, 3, {n}, {n}] (or -1 for dynamic)",
                other
                    .iter()
                    .map(|t| (&t.name, &t.shape))
                    .collect::<Vec<_>>()
            )))
        }
    }
    match spec.outputs.as_slice() {
        [o] if o.name == OUTPUT_NAME && (o.shape.len() == 3 || o.shape.len() == 4) => {}
        other => {
            return Err(err(format!(
                "outputs {:?}, expected one `{OUTPUT_NAME}` [1, H, W] or [1, 1, H, W]",
                other
                    .iter()
                    .map(|t| (&t.name, &t.shape))
                    .collect::<Vec<_>>()
            )))
        }
    }
    match &spec.preprocess {
        None => Ok(Normalize::from_mean_std(IMAGENET_MEAN, IMAGENET_STD)),
        Some(p)
            if p.layout.eq_ignore_ascii_case("NCHW") && p.colour.eq_ignore_ascii_case("RGB") =>
        {
            if p.std.iter().chain(&p.mean).all(|v| v.is_finite()) && p.std.iter().all(|&v| v > 0.0)
            {
                Ok(Normalize::from_mean_std(p.mean, p.std))
            } else {
                Err(err(format!(
                    "preprocess mean {:?} / std {:?}: expected finite values and std > 0",
                    p.mean, p.std
                )))
            }
        }
        Some(p) => Err(err(format!(
            "preprocess layout {} colour {}, expected NCHW RGB",
            p.layout, p.colour
        ))),
    }
}

/// Runs the depth model on one frame at a time, reusing its input and output buffers.
pub struct DepthEstimator {
    runner: Arc<dyn ModelRunner>,
    cfg: Config,
    norm: Normalize,
    input: Vec<f32>,
    outputs: Vec<TensorOut>,
}

impl std::fmt::Debug for DepthEstimator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DepthEstimator")
            .field("model", &self.runner.spec().name)
            .field("cfg", &self.cfg)
            .finish()
    }
}

impl DepthEstimator {
    /// Validates `cfg` and checks the runner's declared interface ([`check_spec`]).
    pub fn new(runner: Arc<dyn ModelRunner>, cfg: Config) -> Result<DepthEstimator, DepthError> {
        cfg.validate()?;
        let norm = check_spec(runner.spec(), &cfg)?;
        let n = cfg.input_size as usize;
        Ok(DepthEstimator {
            runner,
            cfg,
            norm,
            input: std::vec![0.0; 3 * n * n],
            outputs: Vec::new(),
        })
    }

    /// The settings in use.
    pub fn config(&self) -> &Config {
        &self.cfg
    }

    /// The model's manifest entry.
    pub fn spec(&self) -> &ModelSpec {
        self.runner.spec()
    }

    /// One frame: crop → model → features. `rgb` is the upright frame the landmarks and box
    /// are in. A face under [`Config::min_inter_ocular_px`] is not run through the model (it
    /// would be left out of the window anyway): its features are NaN ("not measured").
    pub fn process(
        &mut self,
        rgb: &RgbImage,
        face: &FaceGeometry<'_>,
    ) -> Result<FrameFeatures, DepthError> {
        let iod = inter_ocular_distance(face.landmarks).ok_or(DepthError::DegenerateLandmarks)?;
        if iod < self.cfg.min_inter_ocular_px {
            face.bbox.check_face_box()?;
            return Ok(FrameFeatures::not_measured(iod));
        }
        let m = preprocess(rgb, &face.bbox, &self.cfg, &self.norm, &mut self.input)?;
        let n = self.cfg.input_size as usize;
        let shape = [1, 3, n, n];
        self.runner
            .run_one_prechecked(&self.input, &shape, &mut self.outputs)?;
        let out = self.outputs.first().ok_or(DepthError::OutputCount {
            got: self.outputs.len(),
        })?;
        let map = depth_map(out, n, n)?;
        frame_features(&map, &m, face.landmarks)
    }

    /// The last depth map the model produced (for display and diagnosis), if any.
    pub fn last_depth(&self) -> Option<DepthMap<'_>> {
        let n = self.cfg.input_size as usize;
        self.outputs.first().and_then(|o| depth_map(o, n, n).ok())
    }
}
