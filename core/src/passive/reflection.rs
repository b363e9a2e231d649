//! Specular glare: the reflection of a light source on a screen or glossy print.
//!
//! **What it detects.** A screen or photo held in front of the camera is a flat, often glossy
//! surface: a lamp or window behind the user reflects off it as one large, bright patch whose
//! colour is the light's, not the skin's. Reflected light *adds* to the displayed face, so the
//! patch is bright (high HSV value V) and washed out (low saturation S: the channel spread
//! stays that of the skin while the maximum rises). Real skin also reflects specularly, but
//! only in small highlights on its curved, convex parts (nose tip, forehead, cheekbones).
//! So the discriminating feature is the *size of the largest connected glare blob* relative
//! to the face.
//!
//! **Measurement.** Per frame ([`frame_features`]):
//! 1. Face region: the pixels whose centre is inside the FaceMesh face oval
//!    ([`idx::FACE_OVAL`]) and outside both eye contours and the inner-lip loop (sclera and
//!    teeth are bright and desaturated by nature). Sampled on a grid of step
//!    `max(1, ⌊oval width / grid_px⌋)` pixels, so every face size costs about the same and
//!    area fractions do not depend on resolution.
//! 2. Per sample: `V = max(R, G, B)`, `S = (max − min) / max` (HSV; hue is not needed).
//! 3. Exposure normalisation: the glare threshold is relative to the face's own brightness,
//!    `V_thr = min(v_cap, max((1 + v_rel_margin)·p50 + v_rel_k·(p99 − p50), v_floor))`
//!    with p50/p99 the percentiles of V over the face. A gain on the image scales p50, p99
//!    and every V alike and leaves S unchanged, so the same pixels pass. The relative margin
//!    stops an evenly lit matte face (p99 ≈ p50) from flagging its brighter half; the floor
//!    rejects "glare" on a dark face; the cap keeps clipped white (255, 255, 255) — the
//!    usual core of a glare patch — above the threshold on bright faces.
//! 4. A glare sample has `V ≥ V_thr` and `S ≤ S_thr = min(s_max, s_rel_max × median S)`.
//!    Added white light of the skin's own brightness halves S, whatever the skin tone; a
//!    patch of skin that is merely lit harder (side light) keeps its S, so pale, weakly
//!    saturated skin is not taken for glare. A reflection dimmer than the skin lowers S by
//!    less than half and is not counted. Clipped skin highlights (one channel at 255, the
//!    others not) keep the skin's saturation and do not count; clipped white does.
//! 5. Features: glare fraction of the face area; 8-connected blobs on the sample grid:
//!    count, largest blob as a fraction of the face area and in units of IOD²; exposure
//!    (mean and median V, median S, clipped fraction). A frame whose median V is ≥ `over_exposed_v` is
//!    *over-exposed* (the diffuse skin is itself near white: glare cannot be told from skin);
//!    one whose median V is ≤ `under_exposed_v` is *under-exposed*. Neither is scored.
//!
//! **Score** ([`score`]): medians over the usable frames, plus the window's largest blob;
//! `score = logistic(median largest_blob_fraction, score_centre, −score_scale)`, 0.015 and
//! 0.004. Centre 1.5 % of the face area, from rough geometry: a nose-tip highlight is of the
//! order of 1 cm² on a face oval of the order of 150 cm² (< 1 %), and only its core is
//! reflection for more than half its light; the mirror image of a lamp or window on a screen
//! or glossy print is not limited by the face's curvature and covers 2–20 % of the face in
//! the synthetic replays (`docs/passive.md`). No measurement on real captures backs these
//! figures yet. Scores: no glare 0.98, 0.5 % 0.92, 1 % 0.78, 1.5 % 0.5, 2 % 0.22, 3 % 0.02.
//! The median (not the max) is scored so that a transient (a glasses lens flashing for a
//! frame) does not decide; the max is reported.
//!
//! **Cannot.** See matte prints or screens without a light source in reflection; tell a lens
//! reflection on eyeglasses (large, desaturated) from a screen reflection; work on an
//! over-exposed face; see a faint veil (a reflection dimmer than the skin, or one spread evenly
//! over the whole face, only lowers its saturation a little, like paler skin). A very oily
//! face under a point light (a forehead sheen of a few % that is mostly reflection) reaches
//! the centre.
//!
//! **Cost.** One pass over ≈ grid_px × 1.3·grid_px samples, each the mean of a box of
//! max(step, 3)² pixels (so the pixel reads grow with the face's area), and a flood fill:
//! 0.26 ms per frame for a face with a 52 px inter-ocular distance (criterion, release, one
//! core; `tests/benches/passive.rs`). [`Scratch`] keeps every buffer: no allocation after the largest face seen.

use alloc::collections::BTreeMap;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use serde::Serialize;

use super::{logistic, median_of, FaceGeometry, SignalReport};
use crate::frame::RgbImage;
use crate::math;
use crate::mesh::idx;

#[cfg(test)]
pub(super) mod tests;

/// MediaPipe `FACEMESH_LIPS` inner loop: lower lip from the right corner (78) to the left (308),
/// then the upper lip back.
const INNER_LIPS: [usize; 20] = [
    78, 95, 88, 178, 87, 14, 317, 402, 318, 324, 308, 415, 310, 311, 312, 13, 82, 81, 80, 191,
];

/// Samples at or above this V are counted as clipped (0–255).
const CLIP_LEVEL: u8 = 250;

/// Most polygon edges a scanline can cross (the oval has 36 edges).
const MAX_CROSSINGS: usize = 40;

/// Errors of the glare signal (the passive pixel signals share one error type).
pub use super::PassiveError as ReflectionError;

/// Settings of the glare signal. V and S are HSV value and saturation in [0, 1].
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Config {
    /// Samples across the face-oval width (default 128; the grid step is
    /// `max(1, ⌊oval width / grid_px⌋)` pixels).
    pub grid_px: u32,
    /// Narrowest face oval measured, pixels (default 48: below, a highlight is a few samples).
    pub min_face_width_px: f32,
    /// Smallest fraction of the face oval inside the frame for a frame to be measured
    /// (default 0.8).
    pub min_inside_fraction: f32,
    /// Lowest glare threshold, V (default 0.35): nothing darker is glare, whatever the face.
    pub v_floor: f32,
    /// Position of the threshold between the face's median and 99th-percentile V (default 0:
    /// additive glare lowers saturation wherever it lands, and on an evenly lit face most of
    /// it is not brighter than the face's own bright half).
    pub v_rel_k: f32,
    /// The V threshold is `(1 + v_rel_margin) × median V + v_rel_k × (p99 − median)`, at
    /// least `v_floor` (default margin 0: reflected light adds to the skin, so a glare sample
    /// is at least as bright as the face's median; this also keeps grey hair and brows out).
    pub v_rel_margin: f32,
    /// Highest glare threshold, V (default 0.98 ≈ 250/255: clipped white always qualifies).
    pub v_cap: f32,
    /// Highest saturation of a glare sample, S (default 0.3; skin under white light has
    /// S ≈ 0.25–0.7).
    pub s_max: f32,
    /// A glare sample's S is also at most this fraction of the face's median S (default
    /// 0.5). Added white light `w` on a pixel of value `V` keeps its chroma (max − min) and
    /// so scales its saturation by `1 − w/V`: 0.5 flags pixels where reflected white light is
    /// at least half of the pixel's value, while a merely brighter-lit patch of skin keeps its
    /// saturation; this also protects pale, desaturated skin.
    pub s_rel_max: f32,
    /// A face whose median V is ≥ this is over-exposed (default 0.92 ≈ 235/255).
    pub over_exposed_v: f32,
    /// A face whose median V is ≤ this is under-exposed (default 0.12 ≈ 31/255).
    pub under_exposed_v: f32,
    /// Median face saturation at or below which the face counts as achromatic (default
    /// 0.05; skin under white light measures 0.15–0.5).
    pub achromatic_s: f32,
    /// Largest-blob fraction of the face area at which the score is 0.5 (default 0.015).
    pub score_centre: f32,
    /// Fraction over which the logistic score falls by a factor e in odds (default 0.004).
    pub score_scale: f32,
    /// Fewest usable frames for a score (default 3).
    pub min_frames: usize,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            grid_px: 128,
            min_face_width_px: 48.0,
            min_inside_fraction: 0.8,
            v_floor: 0.35,
            v_rel_k: 0.0,
            v_rel_margin: 0.0,
            v_cap: 0.98,
            s_max: 0.3,
            s_rel_max: 0.5,
            over_exposed_v: 0.92,
            under_exposed_v: 0.12,
            achromatic_s: 0.05,
            score_centre: 0.015,
            score_scale: 0.004,
            min_frames: 3,
        }
    }
}

impl Config {
    /// Checks every value is finite and in range, and the ordered pairs are ordered.
    pub fn validate(&self) -> Result<(), ReflectionError> {
        let bad = |name, value: f32, expected| {
            Err(ReflectionError::InvalidConfig {
                signal: "reflection",
                name,
                value,
                expected,
            })
        };
        if !(16..=1024).contains(&self.grid_px) {
            return bad("grid_px", self.grid_px as f32, "samples in 16..=1024");
        }
        if !(1..=100_000).contains(&self.min_frames) {
            return bad("min_frames", self.min_frames as f32, "1..=100000 frames");
        }
        const UNIT: &str = "a value in [0, 1]";
        let tiny = f32::MIN_POSITIVE;
        let ranges: [(&'static str, f32, f32, f32, &'static str); 13] = [
            (
                "min_face_width_px",
                self.min_face_width_px,
                4.0,
                16384.0,
                "pixels in [4, 16384]",
            ),
            (
                "min_inside_fraction",
                self.min_inside_fraction,
                tiny,
                1.0,
                "a fraction in (0, 1]",
            ),
            ("v_floor", self.v_floor, 0.0, 1.0, UNIT),
            ("v_rel_k", self.v_rel_k, 0.0, 1.0, UNIT),
            (
                "v_rel_margin",
                self.v_rel_margin,
                -0.5,
                4.0,
                "a ratio in [-0.5, 4]",
            ),
            ("v_cap", self.v_cap, 0.0, 1.0, UNIT),
            ("s_max", self.s_max, 0.0, 1.0, UNIT),
            ("s_rel_max", self.s_rel_max, 0.0, 1.0, UNIT),
            (
                "over_exposed_v",
                self.over_exposed_v,
                tiny,
                1.0,
                "V in (0, 1]",
            ),
            ("under_exposed_v", self.under_exposed_v, 0.0, 1.0, UNIT),
            ("achromatic_s", self.achromatic_s, 0.0, 1.0, UNIT),
            (
                "score_centre",
                self.score_centre,
                tiny,
                1.0,
                "a fraction in (0, 1]",
            ),
            (
                "score_scale",
                self.score_scale,
                1e-4,
                1.0,
                "a fraction in [1e-4, 1]",
            ),
        ];
        for (name, value, lo, hi, expected) in ranges {
            if !(value.is_finite() && value >= lo && value <= hi) {
                return bad(name, value, expected);
            }
        }
        if self.v_floor > self.v_cap {
            return bad("v_floor", self.v_floor, "≤ v_cap");
        }
        if self.under_exposed_v >= self.over_exposed_v {
            return bad("under_exposed_v", self.under_exposed_v, "< over_exposed_v");
        }
        Ok(())
    }
}

/// Whether a frame is usable for the score, and why not.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FrameStatus {
    /// Measured and usable.
    Measured,
    /// The face oval is narrower than [`Config::min_face_width_px`]; nothing measured.
    FaceTooSmall,
    /// Less than [`Config::min_inside_fraction`] of the oval lies inside the frame.
    FaceOutsideFrame,
    /// Median V ≥ [`Config::over_exposed_v`]; features measured but not scored.
    OverExposed,
    /// Median V ≤ [`Config::under_exposed_v`]; features measured but not scored.
    UnderExposed,
    /// Median S ≤ [`Config::achromatic_s`]: a grey face (monochrome capture or source)
    /// carries no saturation contrast, so "low saturation" is everywhere; not scored.
    Achromatic,
}

/// Per-frame glare features. Fractions are of the face area (oval minus eyes and mouth);
/// V in [0, 1]. All 0 when `status` is `FaceTooSmall` or `FaceOutsideFrame`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FrameFeatures {
    pub status: FrameStatus,
    /// Face oval width, image pixels.
    pub face_width_px: f32,
    /// Fraction of the face oval inside the frame, [0, 1].
    pub inside_fraction: f32,
    /// Sampling step, pixels.
    pub grid_step: u32,
    /// Face area measured (samples × step²), image pixels².
    pub face_area_px: f32,
    /// Mean V of the face.
    pub mean_v: f32,
    /// Median V of the face.
    pub median_v: f32,
    /// 99th-percentile V of the face.
    pub p99_v: f32,
    /// The glare threshold applied, V.
    pub v_threshold: f32,
    /// Median S of the face.
    pub median_s: f32,
    /// The saturation limit applied, S: `min(s_max, s_rel_max × median S)`.
    pub s_threshold: f32,
    /// Fraction of face samples with V ≥ 250/255.
    pub clipped_fraction: f32,
    /// Fraction of face samples that are glare.
    pub glare_fraction: f32,
    /// Largest 8-connected glare blob / face area.
    pub largest_blob_fraction: f32,
    /// Largest glare blob area / IOD² (IOD = inter-ocular distance).
    pub largest_blob_iod2: f32,
    /// Number of 8-connected glare blobs.
    pub blob_count: u32,
}

impl FrameFeatures {
    fn unmeasured(status: FrameStatus, face_width_px: f32, inside_fraction: f32) -> Self {
        Self {
            status,
            face_width_px,
            inside_fraction,
            grid_step: 0,
            face_area_px: 0.0,
            mean_v: 0.0,
            median_v: 0.0,
            p99_v: 0.0,
            v_threshold: 0.0,
            median_s: 0.0,
            s_threshold: 0.0,
            clipped_fraction: 0.0,
            glare_fraction: 0.0,
            largest_blob_fraction: 0.0,
            largest_blob_iod2: 0.0,
            blob_count: 0,
        }
    }
}

/// Sample flags.
const FACE: u8 = 1;
const GLARE: u8 = 2;

/// Reusable buffers. Keep one per stream; after the largest face seen, no allocation.
#[derive(Clone, Debug, Default)]
pub struct Scratch {
    v: Vec<u8>,
    s: Vec<u8>,
    flags: Vec<u8>,
    labels: Vec<u32>,
    stack: Vec<u32>,
}

impl Scratch {
    pub fn new() -> Self {
        Self::default()
    }
}

/// x coordinates where the horizontal line at `y` crosses the closed polygon, sorted
/// (even-odd rule: inside between crossings 0–1, 2–3, ...). Returns the count.
fn crossings(poly: &[(f32, f32)], y: f32, out: &mut [f32; MAX_CROSSINGS]) -> usize {
    let mut n = 0;
    let mut j = poly.len() - 1;
    for i in 0..poly.len() {
        let (a, b) = (poly[j], poly[i]);
        if (a.1 <= y) != (b.1 <= y) && n < MAX_CROSSINGS {
            out[n] = a.0 + (y - a.1) * (b.0 - a.0) / (b.1 - a.1);
            n += 1;
        }
        j = i;
    }
    out[..n].sort_unstable_by(|a, b| a.total_cmp(b));
    n - n % 2
}

/// Sets (`on`) or clears the flag `bit` on the row cells inside `poly` at image row `y`; cell
/// `c` sits at image x `x0 + c·step`.
fn mark_row(
    poly: &[(f32, f32)],
    y: f32,
    x0: usize,
    step: usize,
    row: &mut [u8],
    bit: u8,
    on: bool,
) {
    let mut xs = [0.0f32; MAX_CROSSINGS];
    let n = crossings(poly, y, &mut xs);
    let cells = row.len();
    // First cell with x ≥ a: ceil((a − x0) / step), clamped to [0, cells].
    let first = |a: f32| -> usize {
        let c = math::ceil((a - x0 as f32) / step as f32);
        if c <= 0.0 {
            0
        } else {
            (c as usize).min(cells)
        }
    };
    for pair in xs[..n].chunks_exact(2) {
        let (c0, c1) = (first(pair[0]), first(pair[1]));
        for f in &mut row[c0..c1.max(c0)] {
            if on {
                *f |= bit;
            } else {
                *f &= !bit;
            }
        }
    }
}

/// Polygon area (shoelace), pixels².
fn polygon_area(poly: &[(f32, f32)]) -> f32 {
    let mut a = 0.0f32;
    let mut j = poly.len() - 1;
    for i in 0..poly.len() {
        a += poly[j].0 * poly[i].1 - poly[i].0 * poly[j].1;
        j = i;
    }
    0.5 * a.abs()
}

/// Smallest V with at least `q` of `n` samples at or below it (nearest rank).
fn percentile(hist: &[u32; 256], n: u32, q: f32) -> u8 {
    let rank = (math::ceil(q * n as f32) as u32).clamp(1, n.max(1));
    let mut acc = 0u32;
    for (v, &c) in hist.iter().enumerate() {
        acc += c;
        if acc >= rank {
            return v as u8;
        }
    }
    255
}

/// Per-frame glare features of one upright RGB frame (see the module docs).
///
/// Errors on a malformed image, eyes that coincide,
/// a face box that is not finite, empty or outside the image, or an invalid `cfg`. A face
/// too small, outside the frame or badly exposed is not an error: `status` says so.
pub fn frame_features(
    image: &RgbImage,
    face: &FaceGeometry<'_>,
    cfg: &Config,
    scratch: &mut Scratch,
) -> Result<FrameFeatures, ReflectionError> {
    cfg.validate()?;
    let iod = super::check_face_input("reflection", image, face)?;
    let lm = face.landmarks;
    let pts = |ids: &[usize], out: &mut [(f32, f32)]| {
        for (o, &i) in out.iter_mut().zip(ids) {
            *o = (lm[i].x, lm[i].y);
        }
    };
    let mut oval = [(0.0f32, 0.0f32); 36];
    pts(&idx::FACE_OVAL, &mut oval);
    let mut eye_r = [(0.0f32, 0.0f32); 16];
    pts(&idx::RIGHT_EYE_CONTOUR, &mut eye_r);
    let mut eye_l = [(0.0f32, 0.0f32); 16];
    pts(&idx::LEFT_EYE_CONTOUR, &mut eye_l);
    let mut lips = [(0.0f32, 0.0f32); 20];
    pts(&INNER_LIPS, &mut lips);

    let (mut ox0, mut ox1, mut oy0, mut oy1) = (f32::MAX, f32::MIN, f32::MAX, f32::MIN);
    for &(x, y) in &oval {
        ox0 = ox0.min(x);
        ox1 = ox1.max(x);
        oy0 = oy0.min(y);
        oy1 = oy1.max(y);
    }
    let face_w = ox1 - ox0;
    // A face far larger than the image (or not finite) cannot be measured here.
    let diagonal = libm::hypotf(image.width as f32, image.height as f32);
    if !(face_w.is_finite() && (oy1 - oy0).is_finite()) || face_w > 4.0 * diagonal {
        return Ok(FrameFeatures::unmeasured(
            FrameStatus::FaceOutsideFrame,
            0.0,
            0.0,
        ));
    }
    if face_w < cfg.min_face_width_px {
        return Ok(FrameFeatures::unmeasured(
            FrameStatus::FaceTooSmall,
            face_w,
            0.0,
        ));
    }
    let step = ((face_w / cfg.grid_px as f32) as usize).max(1);
    let (w, h) = (image.width as usize, image.height as usize);
    // Sample pixel centres x0, x0 + step, ... inside both the oval's box and the image.
    let x0 = math::ceil(ox0.max(0.0)) as usize;
    let y0 = math::ceil(oy0.max(0.0)) as usize;
    let x1 = (math::floor(ox1).max(0.0) as usize).min(w - 1);
    let y1 = (math::floor(oy1).max(0.0) as usize).min(h - 1);
    let gw = if x1 >= x0 { (x1 - x0) / step + 1 } else { 0 };
    let gh = if y1 >= y0 { (y1 - y0) / step + 1 } else { 0 };

    let n = gw * gh;
    scratch.flags.clear();
    scratch.flags.resize(n, 0);
    scratch.v.clear();
    scratch.v.resize(n, 0);
    scratch.s.clear();
    scratch.s.resize(n, 0);
    let mut oval_cells = 0usize;
    let mut hist = [0u32; 256];
    let mut hist_s = [0u32; 256];
    let mut sum_v = 0u64;
    for gy in 0..gh {
        let py = y0 + gy * step;
        let yc = py as f32;
        let row = &mut scratch.flags[gy * gw..(gy + 1) * gw];
        mark_row(&oval, yc, x0, step, row, FACE, true);
        oval_cells += row.iter().filter(|&&f| f & FACE != 0).count();
        for poly in [&eye_r[..], &eye_l[..], &lips[..]] {
            mark_row(poly, yc, x0, step, row, FACE, false);
        }
        let vrow = &mut scratch.v[gy * gw..(gy + 1) * gw];
        let srow = &mut scratch.s[gy * gw..(gy + 1) * gw];
        // Each sample is the mean colour of a box of max(step, 3)² pixels around it (so the
        // cost grows with the face's area in pixels): glare is a
        // smooth, low-frequency veil, while sensor noise and a screen's subpixel stripes
        // would otherwise break its region into specks.
        let half = (step.max(3) / 2) as isize;
        let ylo = (py as isize - half).max(0) as usize;
        let yhi = ((py as isize + half) as usize).min(h - 1);
        for (gx, ((f, v), sat)) in row.iter_mut().zip(vrow).zip(srow).enumerate() {
            if *f & FACE == 0 {
                continue;
            }
            let px = x0 + gx * step;
            let xlo = (px as isize - half).max(0) as usize;
            let xhi = ((px as isize + half) as usize).min(w - 1);
            let mut acc = [0u64; 3];
            for yy in ylo..=yhi {
                let src = &image.data[(yy * w + xlo) * 3..(yy * w + xhi + 1) * 3];
                for q in src.chunks_exact(3) {
                    acc[0] += q[0] as u64;
                    acc[1] += q[1] as u64;
                    acc[2] += q[2] as u64;
                }
            }
            let cnt = ((yhi - ylo + 1) * (xhi - xlo + 1)) as u64;
            let p = [
                ((acc[0] + cnt / 2) / cnt) as u8,
                ((acc[1] + cnt / 2) / cnt) as u8,
                ((acc[2] + cnt / 2) / cnt) as u8,
            ];
            let max = p[0].max(p[1]).max(p[2]);
            let min = p[0].min(p[1]).min(p[2]);
            *v = max;
            // S in 1/255 steps, rounded; 0 for black.
            *sat = if max == 0 {
                0
            } else {
                ((255 * (max - min) as u32 + max as u32 / 2) / max as u32) as u8
            };
            hist[max as usize] += 1;
            hist_s[*sat as usize] += 1;
            sum_v += max as u64;
        }
    }
    let area = polygon_area(&oval);
    let cell_area = (step as f32) * (step as f32);
    let inside = if area > 0.0 {
        (oval_cells as f32 * cell_area / area).min(1.0)
    } else {
        0.0
    };
    if inside < cfg.min_inside_fraction {
        return Ok(FrameFeatures::unmeasured(
            FrameStatus::FaceOutsideFrame,
            face_w,
            inside,
        ));
    }
    let face_cells: u32 = hist.iter().sum();
    if face_cells == 0 {
        return Ok(FrameFeatures::unmeasured(
            FrameStatus::FaceTooSmall,
            face_w,
            inside,
        ));
    }
    let p50 = percentile(&hist, face_cells, 0.5) as f32;
    let p99 = percentile(&hist, face_cells, 0.99) as f32;
    let clipped: u32 = hist[CLIP_LEVEL as usize..].iter().sum();
    let median_s = percentile(&hist_s, face_cells, 0.5) as f32;
    let s_thr = (cfg.s_max * 255.0).min(cfg.s_rel_max * median_s);
    let thr = ((1.0 + cfg.v_rel_margin) * p50 + cfg.v_rel_k * (p99 - p50))
        .max(cfg.v_floor * 255.0)
        .min(cfg.v_cap * 255.0);

    let mut glare = 0u32;
    for ((f, &v), &sat) in scratch.flags.iter_mut().zip(&scratch.v).zip(&scratch.s) {
        if *f & FACE != 0 && v as f32 >= thr && sat as f32 <= s_thr {
            *f |= GLARE;
            glare += 1;
        }
    }
    let (blobs, largest) = label_blobs(gw, gh, scratch);

    let median_v = p50 / 255.0;
    let status = if median_v >= cfg.over_exposed_v {
        FrameStatus::OverExposed
    } else if median_v <= cfg.under_exposed_v {
        FrameStatus::UnderExposed
    } else if median_s / 255.0 <= cfg.achromatic_s {
        FrameStatus::Achromatic
    } else {
        FrameStatus::Measured
    };
    let fc = face_cells as f32;
    Ok(FrameFeatures {
        status,
        face_width_px: face_w,
        inside_fraction: inside,
        grid_step: step as u32,
        face_area_px: fc * cell_area,
        mean_v: sum_v as f32 / fc / 255.0,
        median_v,
        p99_v: p99 / 255.0,
        v_threshold: thr / 255.0,
        median_s: median_s / 255.0,
        s_threshold: s_thr / 255.0,
        clipped_fraction: clipped as f32 / fc,
        glare_fraction: glare as f32 / fc,
        largest_blob_fraction: largest as f32 / fc,
        largest_blob_iod2: largest as f32 * cell_area / (iod * iod),
        blob_count: blobs,
    })
}

/// 8-connected components of the GLARE samples: (count, largest size in samples).
fn label_blobs(gw: usize, gh: usize, s: &mut Scratch) -> (u32, u32) {
    s.labels.clear();
    s.labels.resize(gw * gh, 0);
    let (mut count, mut largest) = (0u32, 0u32);
    for start in 0..gw * gh {
        if s.flags[start] & GLARE == 0 || s.labels[start] != 0 {
            continue;
        }
        count += 1;
        let mut size = 0u32;
        s.labels[start] = count;
        s.stack.clear();
        s.stack.push(start as u32);
        while let Some(i) = s.stack.pop() {
            size += 1;
            let (x, y) = (i as usize % gw, i as usize / gw);
            for ny in y.saturating_sub(1)..=(y + 1).min(gh - 1) {
                for nx in x.saturating_sub(1)..=(x + 1).min(gw - 1) {
                    let j = ny * gw + nx;
                    if s.flags[j] & GLARE != 0 && s.labels[j] == 0 {
                        s.labels[j] = count;
                        s.stack.push(j as u32);
                    }
                }
            }
        }
        largest = largest.max(size);
    }
    (count, largest)
}

/// Reads one feature of a frame record.
type Getter = fn(&FrameFeatures) -> f32;

/// The glare score of a window of frames (see the module docs).
///
/// Features (medians over the usable frames): `glare_fraction`, `largest_blob_fraction`,
/// `largest_blob_iod2`, `blob_count`, `mean_v`, `clipped_fraction`; the maximum
/// `max_largest_blob_fraction`; and `frames`, `frames_measured`, `frames_over_exposed`.
/// Unavailable with the reason when fewer than `min_frames` frames are usable (face
/// over-exposed, under-exposed, too small or outside the frame; window too short) or `cfg`
/// is invalid.
pub fn score(frames: &[FrameFeatures], cfg: &Config) -> SignalReport {
    if let Err(e) = cfg.validate() {
        return SignalReport::unavailable(e);
    }
    let usable: Vec<&FrameFeatures> = frames
        .iter()
        .filter(|f| f.status == FrameStatus::Measured)
        .collect();
    let count = |s: FrameStatus| frames.iter().filter(|f| f.status == s).count();
    let over = count(FrameStatus::OverExposed);
    let mut features = BTreeMap::new();
    features.insert("frames".to_string(), frames.len() as f64);
    features.insert("frames_measured".to_string(), usable.len() as f64);
    features.insert("frames_over_exposed".to_string(), over as f64);
    if usable.len() < cfg.min_frames {
        let n = frames.len();
        let mut worst = [
            (over, "face over-exposed"),
            (count(FrameStatus::UnderExposed), "face under-exposed"),
            (
                count(FrameStatus::Achromatic),
                "face is achromatic (grey): saturation cannot tell glare from skin",
            ),
            (count(FrameStatus::FaceTooSmall), "face too small"),
            (
                count(FrameStatus::FaceOutsideFrame),
                "face outside the frame",
            ),
        ];
        // Stable: on a tie the earlier (more fundamental) reason wins.
        worst.sort_by_key(|w| core::cmp::Reverse(w.0));
        let reason: String = if n == 0 {
            "no frames in the window".to_string()
        } else if worst[0].0 > 0 {
            format!(
                "{} in {} of {n} frames ({} usable, {} needed)",
                worst[0].1,
                worst[0].0,
                usable.len(),
                cfg.min_frames
            )
        } else {
            format!(
                "window too short: {} usable frames < {}",
                usable.len(),
                cfg.min_frames
            )
        };
        return SignalReport::unavailable(reason).with_features(features);
    }
    let feats: [(&str, Getter); 6] = [
        ("glare_fraction", |f| f.glare_fraction),
        ("largest_blob_fraction", |f| f.largest_blob_fraction),
        ("largest_blob_iod2", |f| f.largest_blob_iod2),
        ("blob_count", |f| f.blob_count as f32),
        ("mean_v", |f| f.mean_v),
        ("clipped_fraction", |f| f.clipped_fraction),
    ];
    for (name, get) in feats {
        match median_of(&usable, get) {
            Some(v) => {
                features.insert(name.to_string(), v as f64);
            }
            None => {
                return SignalReport::unavailable(format!("feature `{name}` is not finite"))
                    .with_features(features)
            }
        }
    }
    let max_blob = usable
        .iter()
        .map(|f| f.largest_blob_fraction)
        .fold(0.0f32, f32::max);
    features.insert("max_largest_blob_fraction".to_string(), max_blob as f64);
    let x = features["largest_blob_fraction"] as f32;
    SignalReport::scored(logistic(x, cfg.score_centre, -cfg.score_scale), features)
}
