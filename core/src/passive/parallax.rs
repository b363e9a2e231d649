//! Planar parallax (model-free): does the face move like a rigid plane?
//!
//! A print or a screen is flat, so however it is held and tilted, the landmarks of any two
//! frames are related by one homography (up to landmark noise). A real head is not flat:
//! when it turns even a few degrees the nose, cheeks and face border move by different
//! amounts (motion parallax), and no homography explains the motion.
//!
//! For pairs of frames in the window this module fits:
//! - a 2D similarity (rotation + scale + translation): the part of the motion any flat or
//!   non-flat object can show in the image plane. What the similarity leaves unexplained is
//!   the *out-of-plane* motion, the motion that can reveal depth (in inter-ocular distances);
//! - a homography (normalised DLT, Hartley & Zisserman alg. 4.2): what it leaves unexplained
//!   is the non-planar motion (RMS transfer residual, in inter-ocular distances).
//!
//! A pair is *decisive* when its out-of-plane motion is well above the landmark noise
//! ([`ParallaxConfig::min_motion`]) **and the image confirms it**: the pixels' own
//! correspondences must show a change of viewpoint ([`ParallaxConfig::min_image_motion`]).
//! FaceMesh's landmarks move on a perfectly still image (its ROI settles, its regression
//! jitters), so a photo repeated as frames once scored 0.02–1.00 here; it now reports "not
//! enough motion", with no score. The score uses the *parallax fraction* `k` from
//! `residual² ≈ noise² + k² · motion²` fitted over all pairs: near 0 for a plane (its
//! out-of-plane motion is all perspective, which the homography absorbs, and its residual
//! stays at the landmark-noise floor), about 0.75 for a head. Without enough decisive pairs
//! the signal is "not available", and the report says how much motion it saw and how much it
//! needs.

use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec::Vec;

use nalgebra::{Matrix3, SMatrix, SymmetricEigen, Vector3};
use serde::Serialize;

use super::{inter_ocular_distance, logistic, SignalReport};
use crate::error::{Error, Result};
use crate::geometry::Point2;
use crate::mesh::{Landmarks, NUM_LANDMARKS};

pub mod track;

/// Parallax settings. Distances are in inter-ocular distances (IOD).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ParallaxConfig {
    /// Frames needed in the window.
    pub min_frames: usize,
    /// At most this many frames are compared (the most recent ones); pairs grow as n².
    pub max_frames: usize,
    /// Out-of-plane motion (RMS similarity residual, IOD) a pair needs to be decisive.
    /// FaceMesh landmark noise on a still face is about 0.002–0.004 IOD, so 0.012 keeps the
    /// noise under a third of the motion.
    pub min_motion: f32,
    /// Change of viewpoint the *pixels* must show for a pair to be decisive, IOD: the part
    /// of the image-refined correspondences' motion that a homography explains and a
    /// similarity does not (perspective: the surface turned), `sqrt(sim² − hom²)` of the two
    /// RMS residuals. FaceMesh's landmarks move on a still image as its ROI settles
    /// (measured: up to 0.029 IOD on real photos repeated six times), so landmark motion
    /// alone is no evidence. On those stills this image measure stayed at 0.0020–0.0037 IOD
    /// (matching noise), while synthetic bona fide captures with idle head motion reached
    /// 0.007–0.029 in their third-largest pair (docs/passive.md).
    pub min_image_motion: f32,
    /// Decisive pairs needed for a score.
    pub min_decisive_pairs: usize,
    /// Parallax fraction (see [`score`]) at which the score is 0.5. A rigid plane gives
    /// about (image-match noise ≈ 0.003 IOD) / (FaceMesh's motion ≈ 0.03 IOD) ≈ 0.1 or less;
    /// a canonical 3D face gives up to 0.75 (less where FaceMesh's own jitter inflates the
    /// motion).
    pub fraction_centre: f32,
    /// Logistic scale of the parallax fraction.
    pub fraction_scale: f32,
    /// Face crop side kept per frame, inter-ocular distances.
    pub patch_context: f32,
    /// The crop is scaled so the inter-ocular distance is at most this many pixels.
    pub patch_iod_px: f32,
    /// Template search radius around the predicted position, crop pixels.
    pub search_radius: i32,
    /// Lowest normalised cross-correlation accepted for a match.
    pub min_ncc: f32,
    /// Lowest template texture (smaller structure-tensor eigenvalue per pixel, grey
    /// levels²): flat skin has none, and its matches are noise.
    pub min_texture: f32,
    /// Matched landmarks a pair needs.
    pub min_matches: usize,
}

impl Default for ParallaxConfig {
    fn default() -> Self {
        ParallaxConfig {
            min_frames: 5,
            max_frames: 45,
            min_motion: 0.012,
            min_image_motion: 0.006,
            min_decisive_pairs: 3,
            fraction_centre: 0.15,
            fraction_scale: 0.04,
            patch_context: 2.4,
            patch_iod_px: 48.0,
            search_radius: 4,
            min_ncc: 0.8,
            min_texture: 6.0,
            min_matches: 16,
        }
    }
}

impl ParallaxConfig {
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(Error::Config(m));
        if self.min_frames < 2 {
            return bad(alloc::format!(
                "parallax min_frames {} < 2 (a pair is needed)",
                self.min_frames
            ));
        }
        if self.max_frames < self.min_frames {
            return bad(alloc::format!(
                "parallax max_frames {} < min_frames {}",
                self.max_frames,
                self.min_frames
            ));
        }
        if !(self.min_image_motion.is_finite() && self.min_image_motion >= 0.0) {
            return bad(alloc::format!(
                "parallax min_image_motion {} must be finite and ≥ 0",
                self.min_image_motion
            ));
        }
        for (name, v) in [
            ("min_motion", self.min_motion),
            ("fraction_centre", self.fraction_centre),
            ("fraction_scale", self.fraction_scale),
        ] {
            if !(v.is_finite() && v > 0.0) {
                return bad(alloc::format!("parallax {name} {v} must be finite and > 0"));
            }
        }
        for (name, v, max) in [
            ("patch_context", self.patch_context, 8.0),
            ("patch_iod_px", self.patch_iod_px, 128.0),
            ("min_texture", self.min_texture, 1e4),
        ] {
            if !(v.is_finite() && v > 0.0 && v <= max) {
                return bad(alloc::format!("parallax {name} {v} must be in (0, {max}]"));
            }
        }
        if !(self.min_ncc.is_finite() && (0.0..=1.0).contains(&self.min_ncc)) {
            return bad(alloc::format!(
                "parallax min_ncc {} must be in [0, 1]",
                self.min_ncc
            ));
        }
        if !(2..=16).contains(&self.search_radius) {
            return bad(alloc::format!(
                "parallax search_radius {} must be 2..=16 pixels",
                self.search_radius
            ));
        }
        if self.min_matches < 8 {
            return bad(alloc::format!(
                "parallax min_matches {} < 8 (a homography needs well over 4 points)",
                self.min_matches
            ));
        }
        if self.min_decisive_pairs == 0 {
            return bad("parallax min_decisive_pairs must be ≥ 1".into());
        }
        Ok(())
    }
}

/// What parallax keeps of one frame: the landmarks' image positions and the IOD.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ParallaxFrame {
    pub timestamp_ns: u64,
    /// Inter-ocular distance, pixels.
    pub iod: f32,
    /// Landmark image positions, pixels.
    #[serde(skip)]
    pub points: Vec<Point2>,
    /// Luma crop of the face for image-refined correspondences (`None`: landmarks only).
    #[serde(skip)]
    pub patch: Option<track::FacePatch>,
}

/// Keeps the landmarks and a small luma crop of the face (see [`track`]); the fit then uses
/// image-refined correspondences. Errors as [`frame_features`], plus an RGB buffer whose
/// length does not match its size.
pub fn frame_features_with_image(
    rgb: &crate::frame::RgbImage,
    landmarks: &Landmarks,
    timestamp_ns: u64,
    cfg: &ParallaxConfig,
) -> Result<ParallaxFrame> {
    let expected = (rgb.width as usize)
        .checked_mul(rgb.height as usize)
        .and_then(|v| v.checked_mul(3))
        .unwrap_or(usize::MAX);
    if rgb.data.len() != expected {
        return Err(Error::InvalidInput(alloc::format!(
            "parallax: RGB image {}×{} has {} bytes, expected {expected}",
            rgb.width,
            rgb.height,
            rgb.data.len()
        )));
    }
    let mut f = frame_features(landmarks, timestamp_ns)?;
    f.patch = track::FacePatch::crop(rgb, landmarks, f.iod, cfg.patch_context, cfg.patch_iod_px);
    if let Some(patch) = &mut f.patch {
        patch.anchor(&f.points, matched_indices());
    }
    Ok(f)
}

/// Keeps the landmarks of one frame.
pub fn frame_features(landmarks: &Landmarks, timestamp_ns: u64) -> Result<ParallaxFrame> {
    let iod = check_landmarks(landmarks)?;
    Ok(ParallaxFrame {
        timestamp_ns,
        iod,
        points: landmarks.iter().map(|p| p.xy()).collect(),
        patch: None,
    })
}

/// The check [`frame_features`] makes (distinct eyes), without keeping anything; the
/// inter-ocular distance, pixels.
pub fn check_landmarks(landmarks: &Landmarks) -> Result<f32> {
    inter_ocular_distance(landmarks).ok_or_else(|| {
        Error::InvalidInput(
            "parallax: eye landmarks coincide (inter-ocular distance ≤ 1 px)".into(),
        )
    })
}

/// A 3×3 homography mapping `src` to `dst` (`dst ~ H · src`), by the normalised DLT over all
/// points (least squares). `None` when the points are degenerate (fewer than 4, collinear,
/// or not finite).
pub fn fit_homography(src: &[Point2], dst: &[Point2]) -> Option<Matrix3<f64>> {
    if src.len() != dst.len() || src.len() < 4 {
        return None;
    }
    let ts = normalising_transform(src)?;
    let td = normalising_transform(dst)?;
    // Accumulate AᵀA (9×9) directly: two rows per correspondence.
    let mut ata = SMatrix::<f64, 9, 9>::zeros();
    for (s, d) in src.iter().zip(dst) {
        let p = ts * Vector3::new(s.x as f64, s.y as f64, 1.0);
        let q = td * Vector3::new(d.x as f64, d.y as f64, 1.0);
        let (x, y) = (p[0], p[1]);
        let (u, v) = (q[0], q[1]);
        let r1 = [-x, -y, -1.0, 0.0, 0.0, 0.0, u * x, u * y, u];
        let r2 = [0.0, 0.0, 0.0, -x, -y, -1.0, v * x, v * y, v];
        for r in [r1, r2] {
            for i in 0..9 {
                for j in i..9 {
                    ata[(i, j)] += r[i] * r[j];
                }
            }
        }
    }
    for i in 0..9 {
        for j in 0..i {
            ata[(i, j)] = ata[(j, i)];
        }
    }
    let eig = SymmetricEigen::new(ata);
    let k = eig.eigenvalues.imin();
    let h = eig.eigenvectors.column(k);
    let hn = Matrix3::new(h[0], h[1], h[2], h[3], h[4], h[5], h[6], h[7], h[8]);
    let h = td.try_inverse()? * hn * ts;
    let s = h[(2, 2)];
    if !(s.is_finite() && s.abs() > 1e-12) {
        return None;
    }
    let h = h / s;
    h.iter().all(|v| v.is_finite()).then_some(h)
}

/// Hartley normalisation: centroid to the origin, mean distance √2.
fn normalising_transform(pts: &[Point2]) -> Option<Matrix3<f64>> {
    let n = pts.len() as f64;
    let (mut cx, mut cy) = (0.0, 0.0);
    for p in pts {
        cx += p.x as f64;
        cy += p.y as f64;
    }
    cx /= n;
    cy /= n;
    let mut d = 0.0;
    for p in pts {
        d += libm::hypot(p.x as f64 - cx, p.y as f64 - cy);
    }
    d /= n;
    if !(d.is_finite() && d > 1e-9) {
        return None;
    }
    let s = core::f64::consts::SQRT_2 / d;
    Some(Matrix3::new(
        s,
        0.0,
        -s * cx,
        0.0,
        s,
        -s * cy,
        0.0,
        0.0,
        1.0,
    ))
}

/// RMS distance, pixels, between `H · src` and `dst`.
pub fn homography_rms(h: &Matrix3<f64>, src: &[Point2], dst: &[Point2]) -> f64 {
    let mut sum = 0.0;
    for (s, d) in src.iter().zip(dst) {
        let q = h * Vector3::new(s.x as f64, s.y as f64, 1.0);
        let w = if q[2].abs() > 1e-12 { q[2] } else { 1e-12 };
        let dx = q[0] / w - d.x as f64;
        let dy = q[1] / w - d.y as f64;
        sum += dx * dx + dy * dy;
    }
    libm::sqrt(sum / src.len().max(1) as f64)
}

/// RMS residual, pixels, of the least-squares 2D similarity from `src` to `dst` (closed form:
/// complex-number regression). `None` for fewer than 2 points or a degenerate `src`.
pub fn similarity_rms(src: &[Point2], dst: &[Point2]) -> Option<f64> {
    if src.len() != dst.len() || src.len() < 2 {
        return None;
    }
    let n = src.len() as f64;
    let mean = |p: &[Point2]| {
        let (mut x, mut y) = (0.0, 0.0);
        for q in p {
            x += q.x as f64;
            y += q.y as f64;
        }
        (x / n, y / n)
    };
    let (sx, sy) = mean(src);
    let (dx, dy) = mean(dst);
    // dst - d̄ ≈ (a + ib) · (src - s̄)
    let (mut num_re, mut num_im, mut den) = (0.0, 0.0, 0.0);
    for (s, d) in src.iter().zip(dst) {
        let (px, py) = (s.x as f64 - sx, s.y as f64 - sy);
        let (qx, qy) = (d.x as f64 - dx, d.y as f64 - dy);
        num_re += px * qx + py * qy;
        num_im += px * qy - py * qx;
        den += px * px + py * py;
    }
    if den <= 1e-12 {
        return None;
    }
    let (a, b) = (num_re / den, num_im / den);
    let mut sum = 0.0;
    for (s, d) in src.iter().zip(dst) {
        let (px, py) = (s.x as f64 - sx, s.y as f64 - sy);
        let ex = a * px - b * py + dx - d.x as f64;
        let ey = b * px + a * py + dy - d.y as f64;
        sum += ex * ex + ey * ey;
    }
    Some(libm::sqrt(sum / n))
}

/// One compared pair of frames.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct PairFit {
    /// Out-of-plane motion: RMS similarity residual, IOD.
    pub motion: f32,
    /// RMS homography residual, IOD.
    pub residual: f32,
    /// Change of viewpoint shown by the correspondences, IOD: `sqrt(sim² − hom²)` of the
    /// similarity and homography RMS residuals (image-refined correspondences; in a
    /// landmark-only fit, the landmarks', which carry FaceMesh's jitter).
    pub image_motion: f32,
}

/// Fits one pair of frames; `None` when either fit is degenerate.
pub fn fit_pair(a: &ParallaxFrame, b: &ParallaxFrame) -> Option<PairFit> {
    let iod = 0.5 * (a.iod as f64 + b.iod as f64);
    let motion = similarity_rms(&a.points, &b.points)? / iod;
    let h = fit_homography(&a.points, &b.points)?;
    let residual = homography_rms(&h, &a.points, &b.points) / iod;
    (motion.is_finite() && residual.is_finite()).then_some(PairFit {
        motion: motion as f32,
        residual: residual as f32,
        image_motion: viewpoint_change(motion, residual),
    })
}

/// `sqrt(max(sim² − hom², 0))`: the part of the out-of-plane motion a homography explains.
fn viewpoint_change(similarity_rms: f64, homography_rms: f64) -> f32 {
    (similarity_rms * similarity_rms - homography_rms * homography_rms)
        .max(0.0)
        .sqrt() as f32
}

/// Fits one pair from image-refined correspondences of A's anchored landmarks; `None` when
/// fewer than `min_matches` landmarks matched or a fit is degenerate.
fn fit_refined_pair(
    a: &ParallaxFrame,
    b: &ParallaxFrame,
    cfg: &ParallaxConfig,
    buf: &mut (Vec<Point2>, Vec<Point2>),
) -> Option<(PairFit, usize)> {
    let (pa, pb) = (a.patch.as_ref()?, b.patch.as_ref()?);
    let params = track::MatchParams {
        radius: cfg.search_radius,
        min_ncc: cfg.min_ncc,
        min_texture: cfg.min_texture,
    };
    track::correspondences(pa, &a.points, pb, &b.points, &params, buf);
    if buf.0.len() < cfg.min_matches {
        return None;
    }
    let iod = 0.5 * (a.iod as f64 + b.iod as f64);
    let motion = similarity_rms(&buf.0, &buf.1)? / iod;
    let h = fit_homography(&buf.0, &buf.1)?;
    let residual = homography_rms(&h, &buf.0, &buf.1) / iod;
    (motion.is_finite() && residual.is_finite()).then_some((
        PairFit {
            motion: motion as f32,
            residual: residual as f32,
            image_motion: viewpoint_change(motion, residual),
        },
        buf.0.len(),
    ))
}

/// A pair is decisive when the landmarks moved out of plane by at least `min_motion` and the
/// image confirms it by at least `min_image_motion`.
fn is_decisive(cfg: &ParallaxConfig) -> impl Fn(&PairFit) -> bool + '_ {
    move |p| p.motion >= cfg.min_motion && p.image_motion >= cfg.min_image_motion
}

/// `(k, noise)` of `residual² = noise² + k² · motion²`. The noise floor is the median
/// squared residual of the third of the pairs that moved least (for a plane that is all its
/// residual; for a head it includes a little parallax, which only lowers `k`); `k` is the
/// median of `sqrt(max(residual² − noise², 0)) / motion` over the pairs that moved at least
/// `min_motion` and whose image confirms it ([`ParallaxConfig::min_image_motion`]).
fn parallax_fraction(fits: &[PairFit], decisive: impl Fn(&PairFit) -> bool) -> (f32, f64) {
    if fits.is_empty() {
        return (0.0, 0.0);
    }
    let mut by_motion: Vec<PairFit> = fits.to_vec();
    by_motion.sort_by(|a, b| a.motion.total_cmp(&b.motion));
    let third = (by_motion.len() / 3).max(1);
    let mut low: Vec<f32> = by_motion[..third]
        .iter()
        .map(|p| p.residual * p.residual)
        .collect();
    let noise2 = crate::math::median_in_place(&mut low).unwrap_or(0.0);
    let mut ks: Vec<f32> = fits
        .iter()
        .filter(|p| decisive(p) && p.motion > 0.0)
        .map(|p| (p.residual * p.residual - noise2).max(0.0).sqrt() / p.motion)
        .collect();
    let k = crate::math::median_in_place(&mut ks).unwrap_or(0.0);
    (k, (noise2 as f64).sqrt())
}

/// The landmarks matched by pixels: every second landmark off the face oval (the oval's
/// points sit on the silhouette, not on fixed skin).
fn matched_indices() -> impl Iterator<Item = usize> {
    (0..NUM_LANDMARKS)
        .filter(|i| !crate::mesh::idx::FACE_OVAL.contains(i))
        .step_by(2)
}

/// Scores a window of frames (oldest first). When every frame carries its face patch
/// ([`frame_features_with_image`]), pairs are three reference frames (first, middle, last)
/// against every other frame; a pair's *motion* is the out-of-plane motion of the raw
/// landmarks (how far FaceMesh says the face turned) and its *residual* the homography
/// residual of image-refined correspondences (whether the pixels moved like a plane).
/// Otherwise (landmarks only) every pair of raw landmarks gives both, which FaceMesh's 3D
/// prior makes unreliable on flat media (see [`track`]). Features (IOD units unless said):
/// `frames`, `pairs`, `decisive_pairs`, `max_motion`, `min_motion_needed`,
/// `max_image_motion`, `min_image_motion_needed`, `parallax_fraction` (unitless, 0 = planar),
/// `noise_floor`, `residual_median` / `residual_max` over decisive pairs, `image_refined`
/// (1 or 0), and with image refinement `matched_points_median` and
/// `landmark_parallax_fraction` (the same fit on the raw landmarks, for diagnosis).
pub fn score(frames: &[ParallaxFrame], cfg: &ParallaxConfig) -> SignalReport {
    score_refs(&frames.iter().collect::<Vec<_>>(), cfg)
}

/// [`score`] over borrowed frames (the analyzer's window is not copied: each frame holds a
/// face crop of up to 54 KB).
pub fn score_refs(frames: &[&ParallaxFrame], cfg: &ParallaxConfig) -> SignalReport {
    let keyed: Vec<(u64, &ParallaxFrame)> = frames
        .iter()
        .enumerate()
        .map(|(i, f)| (i as u64, *f))
        .collect();
    score_keyed(&keyed, cfg, None)
}

/// What one pair of frames gives: the raw-landmark fit, and (when both frames carry their
/// face crop) the image-refined fit with its matched-landmark count.
#[derive(Clone, Copy, Debug)]
struct PairResult {
    landmark: Option<PairFit>,
    refined: Option<(PairFit, usize)>,
}

fn fit_both(
    a: &ParallaxFrame,
    b: &ParallaxFrame,
    cfg: &ParallaxConfig,
    buf: &mut (Vec<Point2>, Vec<Point2>),
) -> PairResult {
    let landmark = fit_pair(a, b);
    let refined = match (landmark, &a.patch, &b.patch) {
        (Some(_), Some(_), Some(_)) => fit_refined_pair(a, b, cfg, buf),
        _ => None,
    };
    PairResult { landmark, refined }
}

/// Pair results already fitted, keyed by the frames' ids (older first).
type PairCache = Vec<((u64, u64), PairResult)>;

/// [`score_refs`] over frames with ids, reusing (and adding to) `cache`'s pair fits.
fn score_keyed(
    frames: &[(u64, &ParallaxFrame)],
    cfg: &ParallaxConfig,
    mut cache: Option<&mut PairCache>,
) -> SignalReport {
    let mut f = BTreeMap::new();
    f.insert("frames".into(), frames.len() as f64);
    f.insert("min_motion_needed".into(), cfg.min_motion as f64);
    if let Err(e) = cfg.validate() {
        return SignalReport::unavailable(e).with_features(f);
    }
    if frames.len() < cfg.min_frames {
        return SignalReport::unavailable(alloc::format!(
            "window too short: {} frames, parallax needs {}",
            frames.len(),
            cfg.min_frames
        ))
        .with_features(f);
    }
    let window = &frames[frames.len().saturating_sub(cfg.max_frames)..];
    // Frames built with their face crop are matched by pixels; a frame whose crop could not
    // be taken is left out rather than letting the (unreliable) landmark-only fit decide.
    let refined = window.iter().any(|w| w.1.patch.is_some());
    let patched: Vec<(u64, &ParallaxFrame)>;
    let window: &[(u64, &ParallaxFrame)] = if refined {
        patched = window
            .iter()
            .copied()
            .filter(|w| w.1.patch.is_some())
            .collect();
        f.insert("frames_with_crop".into(), patched.len() as f64);
        if patched.len() < cfg.min_frames {
            return SignalReport::unavailable(alloc::format!(
                "only {} frames had a usable face crop, parallax needs {}",
                patched.len(),
                cfg.min_frames
            ))
            .with_features(f);
        }
        &patched
    } else {
        window
    };
    let n = window.len();
    f.insert("image_refined".into(), if refined { 1.0 } else { 0.0 });
    let mut pairs_ij: Vec<(usize, usize)> = Vec::new();
    if refined {
        for r in [0, n / 2, n - 1] {
            for o in 0..n {
                let (i, j) = (r.min(o), r.max(o));
                if i != j && !pairs_ij.contains(&(i, j)) {
                    pairs_ij.push((i, j));
                }
            }
        }
    } else {
        for i in 0..n {
            for j in i + 1..n {
                pairs_ij.push((i, j));
            }
        }
    }
    let mut buf = (Vec::new(), Vec::new());
    let results: Vec<PairResult> = pairs_ij
        .iter()
        .map(|&(i, j)| {
            let key = (window[i].0, window[j].0);
            if let Some(c) = cache.as_deref() {
                if let Some((_, r)) = c.iter().find(|(k, _)| *k == key) {
                    return *r;
                }
            }
            let r = fit_both(window[i].1, window[j].1, cfg, &mut buf);
            if let Some(c) = cache.as_deref_mut() {
                c.push((key, r));
            }
            r
        })
        .collect();
    let landmark_fits: Vec<PairFit> = results.iter().filter_map(|r| r.landmark).collect();
    let all: Vec<PairFit> = if refined {
        // FaceMesh's landmarks say how far the face turned (their out-of-plane motion, which
        // they show for a tilted photo too); the pixels say whether that turn produced the
        // parallax of a 3D face. So each pair's motion comes from the landmarks and its
        // residual from the image-refined correspondences.
        let mut matched = Vec::new();
        let fits: Vec<PairFit> = results
            .iter()
            .filter_map(|r| {
                let lm = r.landmark?;
                let (px, m) = r.refined?;
                matched.push(m as f32);
                Some(PairFit {
                    motion: lm.motion,
                    residual: px.residual,
                    image_motion: px.image_motion,
                })
            })
            .collect();
        f.insert(
            "matched_points_median".into(),
            crate::math::median_in_place(&mut matched).unwrap_or(0.0) as f64,
        );
        f.insert(
            "landmark_parallax_fraction".into(),
            parallax_fraction(&landmark_fits, |p| p.motion >= cfg.min_motion).0 as f64,
        );
        fits
    } else {
        landmark_fits
    };
    let max_motion = all.iter().map(|p| p.motion).fold(0.0f32, f32::max);
    let max_image_motion = all.iter().map(|p| p.image_motion).fold(0.0f32, f32::max);
    let decisive: Vec<PairFit> = all.iter().copied().filter(is_decisive(cfg)).collect();
    f.insert("pairs".into(), all.len() as f64);
    f.insert("decisive_pairs".into(), decisive.len() as f64);
    f.insert("max_motion".into(), max_motion as f64);
    f.insert("max_image_motion".into(), max_image_motion as f64);
    f.insert(
        "min_image_motion_needed".into(),
        cfg.min_image_motion as f64,
    );
    if decisive.len() < cfg.min_decisive_pairs {
        let landmark_only = all.iter().filter(|p| p.motion >= cfg.min_motion).count();
        return SignalReport::unavailable(alloc::format!(
            "not enough out-of-plane motion: max {:.4} IOD by the landmarks and {:.4} IOD by \
             the image over {} pairs; needs ≥ {:.4} and ≥ {:.4} IOD in {} pairs (a few degrees \
             of head turn or nod){}",
            max_motion,
            max_image_motion,
            all.len(),
            cfg.min_motion,
            cfg.min_image_motion,
            cfg.min_decisive_pairs,
            if landmark_only >= cfg.min_decisive_pairs {
                "; the landmarks moved but the image did not (a still, or tracking jitter)"
            } else {
                ""
            }
        ))
        .with_features(f);
    }
    // Noise puts a floor under the residual: a plane's homography residual stays at that
    // floor however far it moves, a head's grows with its out-of-plane motion. `k` is the
    // fraction of the out-of-plane motion, above the floor, that no plane explains.
    let (k, noise) = parallax_fraction(&all, is_decisive(cfg));
    let mut residuals: Vec<f32> = decisive.iter().map(|p| p.residual).collect();
    let residual_max = residuals.iter().copied().fold(0.0f32, f32::max);
    let residual = crate::math::median_in_place(&mut residuals).unwrap_or(0.0);
    f.insert("parallax_fraction".into(), k as f64);
    f.insert("noise_floor".into(), noise);
    f.insert("residual_median".into(), residual as f64);
    f.insert("residual_max".into(), residual_max as f64);
    SignalReport::scored(logistic(k, cfg.fraction_centre, cfg.fraction_scale), f)
}

/// A capture's parallax frames in bounded memory, spread over the whole capture, with the
/// pair fits made as frames arrive.
///
/// It keeps every `stride`-th offered frame; when `capacity` frames are kept it drops every
/// other one and doubles the stride, so the frames kept always span the capture. Each kept
/// frame is fitted against the first kept frame (which decimation never drops) when it
/// arrives: one pair of bounded cost per kept frame, a third of the pairs [`score`] needs.
/// [`Reservoir::score`] fits only the pairs left (against the middle and last frames) and
/// gives the same report as [`score`] over the kept frames.
#[derive(Debug)]
pub struct Reservoir {
    cfg: ParallaxConfig,
    frames: Vec<(u64, ParallaxFrame)>,
    next_id: u64,
    admission: Admission,
    cache: PairCache,
    buf: (Vec<Point2>, Vec<Point2>),
}

impl Reservoir {
    /// At most `capacity` frames (`cfg.min_frames..=1000`; [`score`] compares the last
    /// `cfg.max_frames`) are kept.
    pub fn new(cfg: ParallaxConfig, capacity: usize) -> Result<Reservoir> {
        cfg.validate()?;
        if capacity < cfg.min_frames.max(2) || capacity > 1000 {
            return Err(Error::Config(alloc::format!(
                "parallax reservoir: capacity {capacity} must be in {}..=1000 (parallax needs \
                 {} frames)",
                cfg.min_frames.max(2),
                cfg.min_frames
            )));
        }
        Ok(Reservoir {
            cfg,
            frames: Vec::with_capacity(capacity),
            next_id: 0,
            admission: Admission::new(capacity),
            cache: Vec::new(),
            buf: (Vec::new(), Vec::new()),
        })
    }

    pub fn config(&self) -> &ParallaxConfig {
        &self.cfg
    }

    /// Whether the next offered frame will be kept (so a caller can skip building it).
    pub fn wants_next(&self) -> bool {
        self.admission.wants_next()
    }

    /// The reservoir's counting half, for a caller that decides which frames to hand to a
    /// reservoir running elsewhere ([`Self::offer_admitted`]).
    pub fn admission(&self) -> Admission {
        self.admission
    }

    /// Offers one frame: `make` builds it (with the reservoir's settings) only when it is
    /// kept. Returns whether it was kept; `make`'s error adds nothing and is returned.
    pub fn offer(
        &mut self,
        make: impl FnOnce(&ParallaxConfig) -> Result<ParallaxFrame>,
    ) -> Result<bool> {
        match self.admission.admit() {
            Some(halve) => self.offer_admitted(halve, make).map(|()| true),
            None => Ok(false),
        }
    }

    /// Keeps a frame that an [`Admission`] (a copy of [`Self::admission`]) admitted, with
    /// the `halve` it returned. `make`'s error adds nothing and is returned.
    pub fn offer_admitted(
        &mut self,
        halve: bool,
        make: impl FnOnce(&ParallaxConfig) -> Result<ParallaxFrame>,
    ) -> Result<()> {
        let f = make(&self.cfg)?;
        self.keep(f, halve);
        Ok(())
    }

    fn keep(&mut self, f: ParallaxFrame, halve: bool) {
        if halve {
            let mut i = 0;
            self.frames.retain(|_| {
                i += 1;
                i % 2 == 1
            });
            let frames = &self.frames;
            let kept = |id: u64| frames.iter().any(|(k, _)| *k == id);
            self.cache.retain(|((a, b), _)| kept(*a) && kept(*b));
        }
        let id = self.next_id;
        self.next_id += 1;
        if let Some((first, f0)) = self.frames.first() {
            let r = fit_both(f0, &f, &self.cfg, &mut self.buf);
            self.cache.push(((*first, id), r));
        }
        self.frames.push((id, f));
    }

    /// Frames kept.
    pub fn len(&self) -> usize {
        self.frames.len()
    }

    pub fn is_empty(&self) -> bool {
        self.frames.is_empty()
    }

    /// Forgets every frame (a new turn or capture).
    pub fn clear(&mut self) {
        self.frames.clear();
        self.cache.clear();
        self.admission.clear();
    }

    /// [`score`] over the kept frames, fitting only the pairs not fitted yet.
    pub fn score(&mut self) -> SignalReport {
        let keyed: Vec<(u64, &ParallaxFrame)> = self.frames.iter().map(|(k, f)| (*k, f)).collect();
        score_keyed(&keyed, &self.cfg, Some(&mut self.cache))
    }
}

/// Which offered frames a [`Reservoir`] keeps: its counting half, plain data. Every
/// `stride`-th offered frame is kept; when `capacity` frames are kept, every other one is
/// dropped first (`halve`) and the stride doubles. A caller can run a copy to decide which
/// frames to hand to a reservoir elsewhere ([`Reservoir::offer_admitted`]); both then keep
/// the same frames.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Admission {
    capacity: usize,
    len: usize,
    stride: usize,
    seen: usize,
}

impl Admission {
    pub fn new(capacity: usize) -> Admission {
        Admission {
            capacity,
            len: 0,
            stride: 1,
            seen: 0,
        }
    }

    /// Whether the next offered frame will be kept.
    pub fn wants_next(&self) -> bool {
        self.seen.is_multiple_of(self.stride)
    }

    /// Counts an offered frame: `None` when it is not kept, `Some(halve)` when it is, with
    /// whether the kept frames are decimated before it joins them.
    pub fn admit(&mut self) -> Option<bool> {
        let keep = self.wants_next();
        self.seen += 1;
        if !keep {
            return None;
        }
        let halve = self.len >= self.capacity;
        if halve {
            self.len = self.len.div_ceil(2);
            self.stride *= 2;
        }
        self.len += 1;
        Some(halve)
    }

    /// Frames kept (as admitted).
    pub fn len(&self) -> usize {
        self.len
    }

    /// Frames kept at most.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Forgets every frame (a new turn or capture).
    pub fn clear(&mut self) {
        *self = Admission::new(self.capacity);
    }
}

#[cfg(test)]
mod tests;
