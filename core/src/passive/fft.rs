//! FFT moiré: the spectral signature of a screen replay.
//!
//! **What it detects.** A camera filming a screen samples the screen's pixel grid (and its
//! RGB subpixel stripes) with its own pixel grid. The two grids beat: the captured face carries
//! fine periodic interference fringes (moiré) at arbitrary orientations. In the 2D power
//! spectrum of the face region those are *isolated sharp peaks* off the axes at mid/high
//! frequency. Real skin has a smooth, roughly power-law spectrum; its only structured energy
//! lies along the axes (image edges parallel to the sensor rows/columns, JPEG 8×8 blocks,
//! the leakage of a separable window) and along radial streaks from oblique edges, which run
//! on along their ray where a periodic peak is isolated.
//!
//! **Measurement.** Per frame ([`frame_features`]):
//! 1. A square crop in image axes, centred halfway between the eye centres' midpoint and the
//!    nose tip, side [`Config::crop_iod_scale`] × inter-ocular distance (IOD), so it covers
//!    the same part of the face at any distance. It is converted to BT.601 luma and resampled
//!    to [`Config::size`]² cells by area averaging (bilinear when the crop is smaller than the
//!    grid; frames whose crop is below [`Config::min_crop_px`] are not measured). Upsampling
//!    creates no detail and its spectral images could pose as peaks, so peaks are searched
//!    only below the crop's own Nyquist frequency (`high_cut × crop side / 2` bins).
//! 2. The Hann-weighted mean is removed (no DC leakage), a separable periodic Hann window
//!    applied, and a 2D FFT (rows, then columns) taken; power = |F|².
//! 3. Frequencies are in **cycles per crop** (bins); the radial frequency `r = |(kx, ky)|` and
//!    its normalised form `ρ = r / (size/2)` (1 = the grid's Nyquist frequency).
//! 4. Features:
//!    - `hf_ratio`: energy at `ρ ∈ [hf_band, 1]` / energy at `r ≥ 2` bins and `ρ ≤ 1`
//!      (diagnostic; it depends on focus and the camera's sharpening, so it is not scored).
//!    - Peaks: over the half plane `ky > 0` (the spectrum of a real image is symmetric), in
//!      the ring band `ρ ∈ [low_cut, high_cut]`, outside a band of ±`axis_half_width` bins
//!      around both axes. A peak is a bin ≥ its 8 neighbours. Its *prominence* is its 3×3
//!      energy (the Hann main lobe) over 9 × the larger of two backgrounds: the ring
//!      background, the median power of the ring's (same band) bins / ln 2 (the ring mean
//!      under the exponential χ²₂ law of a noise-like spectrum); and the ray background, the
//!      largest 3×3 energy / 9 at 4–7 bins further out along the same ray. The ray term
//!      rejects the streak of an oblique edge: an edge off the crop centre gives a rippled
//!      streak whose ripple crests are 2D local maxima well above the ring, but the streak
//!      goes on beyond them, while a periodic peak's main lobe ends within ±2.5 bins.
//!      `peak_prominence_db` is the largest prominence in dB (0 when there is no local
//!      maximum); `peak_count` counts peaks ≥ `peak_min_prominence_db`;
//!      `peak_energy_fraction` is their 3×3 energy / the energy of the search band.
//!    - `spectral_slope`: least-squares slope of ln(ring background) against ln(r) over the
//!      ring band (power-law exponent; natural images ≈ −2, smoother skin steeper).
//!
//! **Score** ([`score`]): the median over the measured frames of each feature;
//! `score = logistic(peak_prominence_db, score_centre_db, −score_scale_db)`, 12 dB and 2 dB.
//! The centre sits midway (in dB) between chance and a faint fringe, both measured in the
//! tests: the largest prominence of a noise-like spectrum (the max over ~350 local maxima) is
//! ≈ 6–7 dB on white noise and on a synthetic skin texture; a multiplicative grating of 0.5 %
//! contrast (invisible to the eye) reaches ≈ 18 dB, 5 % ≈ 31 dB (+6 dB per doubling until the
//! peak dominates). Chance scores ≈ 0.9, a 0.5 % fringe ≈ 0.04.
//!
//! **Cannot.** Detect a replay on a screen fine enough (or defocused enough) that no moiré
//! survives; prints (no pixel grid, though halftone prints show the same peaks); moiré
//! aligned with the image axes (excluded along with edges). Fabric, hair or glasses frames
//! with regular patterns inside the crop can produce real peaks.
//!
//! **Cost.** One crop resample (O(crop pixels)) and a 128² complex FFT: 0.8 ms per frame for
//! a 240 px crop in the test profile (opt-level 1) on the x86 dev machine; not yet measured
//! in release or on a phone. [`Scratch`] keeps the FFT plan and every buffer: no allocation
//! after the first frame.

use alloc::collections::BTreeMap;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use std::sync::Arc;

use rustfft::num_complex::Complex;
use rustfft::{Fft, FftPlanner};
use serde::Serialize;

use super::{logistic, median_of, FaceGeometry, SignalReport};
use crate::frame::RgbImage;
use crate::math;
use crate::mesh::idx;

#[cfg(test)]
mod tests;

/// Radial offsets (bins) beyond a peak where an edge streak would continue; see the peak test.
const RAY_GAP_BINS: core::ops::RangeInclusive<usize> = 4..=7;

/// BT.601 luma weights (R, G, B), as the frame module's RGB → luma conversion.
const LUMA: [f32; 3] = [0.299, 0.587, 0.114];

/// Errors of the moiré signal (the passive pixel signals share one error type).
pub use super::PassiveError as FftError;

/// Settings of the moiré signal. Frequencies in cycles per crop unless stated.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Config {
    /// Side of the analysed grid, cells; a power of two in 32..=512 (default 128: resolves
    /// fringes down to a period of 2/128 of the crop ≈ 1.3 % of the IOD·1.2 crop).
    pub size: usize,
    /// Crop side / inter-ocular distance (default 1.2: eyes, nose and inner cheeks).
    pub crop_iod_scale: f32,
    /// Smallest crop side in image pixels that is measured (default 48, an inter-ocular
    /// distance of 40 px). Smaller crops than `size` are upsampled, and peaks are then searched
    /// only below the crop's own Nyquist frequency, where the frequencies carry real detail.
    pub min_crop_px: f32,
    /// Smallest fraction of the crop square inside the frame for a frame to be measured
    /// (default 0.9; the rest is filled by repeating the border).
    pub min_inside_fraction: f32,
    /// Lower edge of the peak band, normalised radial frequency ρ (default 0.125, i.e. 8
    /// cycles per crop: coarser structure is the face's own shape and shading).
    pub low_cut: f32,
    /// Upper edge of the peak band, ρ (default 0.9: the last rings hold the area filter's
    /// aliasing and the camera's demosaicing residue).
    pub high_cut: f32,
    /// Lower edge of the high-frequency band of `hf_ratio`, ρ (default 0.5).
    pub hf_band: f32,
    /// Half-width of the band excluded around each axis, bins (default 2: a periodic Hann
    /// window spreads an axis-aligned edge over ±1 bin, a 1–2° tilt over one more).
    pub axis_half_width: usize,
    /// Prominence from which a peak is counted in `peak_count`, dB (default 12, as the score
    /// centre).
    pub peak_min_prominence_db: f32,
    /// Prominence at which the score is 0.5, dB (default 12: midway between the largest
    /// chance prominence of a noise-like spectrum, ≈ 6–7 dB, and a 0.5 % fringe, ≈ 18 dB).
    pub score_centre_db: f32,
    /// dB over which the logistic score falls by a factor e in odds (default 2).
    pub score_scale_db: f32,
    /// Fewest measured frames for a score (default 3; the median then rejects one outlier).
    pub min_frames: usize,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            size: 128,
            crop_iod_scale: 1.2,
            min_crop_px: 48.0,
            min_inside_fraction: 0.9,
            low_cut: 0.125,
            high_cut: 0.9,
            hf_band: 0.5,
            axis_half_width: 2,
            peak_min_prominence_db: 12.0,
            score_centre_db: 12.0,
            score_scale_db: 2.0,
            min_frames: 3,
        }
    }
}

impl Config {
    /// Checks every value is finite and in range, and that the ring band holds ≥ 4 rings
    /// outside the axis bands.
    pub fn validate(&self) -> Result<(), FftError> {
        let bad = |name, value: f32, expected| {
            Err(FftError::InvalidConfig {
                signal: "moiré",
                name,
                value,
                expected,
            })
        };
        if !(self.size.is_power_of_two() && (32..=512).contains(&self.size)) {
            return bad("size", self.size as f32, "a power of two in 32..=512 cells");
        }
        let ranges: [(&'static str, f32, f32, f32, &'static str); 9] = [
            (
                "crop_iod_scale",
                self.crop_iod_scale,
                0.25,
                4.0,
                "a ratio in [0.25, 4]",
            ),
            (
                "min_crop_px",
                self.min_crop_px,
                8.0,
                16384.0,
                "pixels in [8, 16384]",
            ),
            (
                "min_inside_fraction",
                self.min_inside_fraction,
                f32::MIN_POSITIVE,
                1.0,
                "a fraction in (0, 1]",
            ),
            ("low_cut", self.low_cut, 0.0, 1.0, "ρ in [0, 1]"),
            ("high_cut", self.high_cut, 0.0, 1.0, "ρ in [0, 1]"),
            ("hf_band", self.hf_band, 0.0, 1.0, "ρ in [0, 1]"),
            (
                "peak_min_prominence_db",
                self.peak_min_prominence_db,
                0.0,
                60.0,
                "dB in [0, 60]",
            ),
            (
                "score_centre_db",
                self.score_centre_db,
                0.0,
                60.0,
                "dB in [0, 60]",
            ),
            (
                "score_scale_db",
                self.score_scale_db,
                0.01,
                60.0,
                "dB in [0.01, 60]",
            ),
        ];
        for (name, value, lo, hi, expected) in ranges {
            if !(value.is_finite() && value >= lo && value <= hi) {
                return bad(name, value, expected);
            }
        }
        if self.axis_half_width > self.size / 8 {
            return bad(
                "axis_half_width",
                self.axis_half_width as f32,
                "bins ≤ size / 8",
            );
        }
        let (lo, hi) = self.ring_band();
        if hi < lo + 3 || lo <= self.axis_half_width {
            return bad(
                "high_cut",
                self.high_cut,
                "a ring band [low_cut, high_cut] × size/2 of ≥ 4 rings, starting beyond \
                 axis_half_width",
            );
        }
        if !(1..=100_000).contains(&self.min_frames) {
            return bad("min_frames", self.min_frames as f32, "1..=100000 frames");
        }
        Ok(())
    }

    /// Inclusive ring range `[r_lo, r_hi]` of the peak band, bins.
    fn ring_band(&self) -> (usize, usize) {
        let half = (self.size / 2) as f32;
        let lo = math::ceil(self.low_cut * half).max(1.0) as usize;
        let hi = (math::floor(self.high_cut * half) as usize).min(self.size / 2 - 1);
        (lo, hi)
    }
}

/// Whether a frame was measured, and why not.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FrameStatus {
    /// The spectrum was measured.
    Measured,
    /// The crop side is below [`Config::min_crop_px`].
    FaceTooSmall,
    /// Less than [`Config::min_inside_fraction`] of the crop lies inside the frame.
    CropOutsideFrame,
}

/// Per-frame moiré features. The spectral fields are 0 unless `status` is `Measured`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FrameFeatures {
    pub status: FrameStatus,
    /// Side of the analysed square in image pixels (`crop_iod_scale` × IOD).
    pub crop_side_px: f32,
    /// Fraction of the crop square inside the frame, [0, 1].
    pub inside_fraction: f32,
    /// High-frequency energy ratio, [0, 1] (see the module docs).
    pub hf_ratio: f32,
    /// Largest peak prominence in the band, dB above the ring background (≥ 0).
    pub peak_prominence_db: f32,
    /// Peaks with prominence ≥ `peak_min_prominence_db` in the half plane.
    pub peak_count: u32,
    /// 3×3 energy of the counted peaks / energy of the search band, [0, 1].
    pub peak_energy_fraction: f32,
    /// Frequency of the most prominent peak, cycles per crop, x component (signed), refined
    /// by the 3×3 power centroid; 0 when there is none.
    pub peak_fx: f32,
    /// y component of the same (> 0: the half plane searched).
    pub peak_fy: f32,
    /// Log-log slope of the ring background over the band (power-law exponent, < 0).
    pub spectral_slope: f32,
}

impl FrameFeatures {
    fn unmeasured(status: FrameStatus, crop_side_px: f32, inside_fraction: f32) -> Self {
        Self {
            status,
            crop_side_px,
            inside_fraction,
            hf_ratio: 0.0,
            peak_prominence_db: 0.0,
            peak_count: 0,
            peak_energy_fraction: 0.0,
            peak_fx: 0.0,
            peak_fy: 0.0,
            spectral_slope: 0.0,
        }
    }
}

/// Separable resampling taps along one axis: output cell `j` reads source indices
/// `idx[start[j]..start[j+1]]` with weights `w[..]` (summing to 1).
#[derive(Clone, Debug, Default)]
struct Taps {
    start: Vec<u32>,
    idx: Vec<u32>,
    w: Vec<f32>,
}

impl Taps {
    /// Taps mapping source coordinates `[origin, origin + side)` (pixel `i` covers
    /// `[i − ½, i + ½)`) onto `size` cells; indices are clamped to `0..limit` (border repeat).
    /// Area weights when a cell spans ≥ 1 pixel, else bilinear at the cell centre.
    fn build(&mut self, origin: f32, side: f32, size: usize, limit: usize) {
        self.start.clear();
        self.idx.clear();
        self.w.clear();
        let s = side / size as f32;
        let last = (limit - 1) as i64;
        let clamp = |i: i64| i.clamp(0, last) as u32;
        for j in 0..size {
            self.start.push(self.idx.len() as u32);
            if s >= 1.0 {
                let a = origin + j as f32 * s;
                let b = a + s;
                let i0 = math::floor(a + 0.5) as i64;
                let i1 = math::ceil(b + 0.5) as i64 - 1;
                for i in i0..=i1 {
                    let lo = a.max(i as f32 - 0.5);
                    let hi = b.min(i as f32 + 0.5);
                    if hi > lo {
                        self.idx.push(clamp(i));
                        self.w.push((hi - lo) / s);
                    }
                }
            } else {
                let c = origin + (j as f32 + 0.5) * s;
                let i0 = math::floor(c);
                let f = c - i0;
                self.idx.push(clamp(i0 as i64));
                self.w.push(1.0 - f);
                self.idx.push(clamp(i0 as i64 + 1));
                self.w.push(f);
            }
        }
        self.start.push(self.idx.len() as u32);
    }

    fn range(&self) -> (usize, usize) {
        let lo = self.idx.iter().copied().min().unwrap_or(0) as usize;
        let hi = self.idx.iter().copied().max().unwrap_or(0) as usize;
        (lo, hi)
    }

    fn cell(&self, j: usize) -> impl Iterator<Item = (usize, f32)> + '_ {
        let (a, b) = (self.start[j] as usize, self.start[j + 1] as usize);
        self.idx[a..b]
            .iter()
            .zip(&self.w[a..b])
            .map(|(&i, &w)| (i as usize, w))
    }
}

/// Reusable buffers and the cached FFT plan. Keep one per stream; the first frame (or a
/// change of `size` or band settings) allocates, later frames do not.
pub struct Scratch {
    planner: FftPlanner<f32>,
    fft: Option<Arc<dyn Fft<f32>>>,
    fft_size: usize,
    fft_scratch: Vec<Complex<f32>>,
    hann: Vec<f32>,
    taps_x: Taps,
    taps_y: Taps,
    row_luma: Vec<f32>,
    rows: Vec<f32>,
    crop: Vec<f32>,
    buf: Vec<Complex<f32>>,
    buf_t: Vec<Complex<f32>>,
    power: Vec<f32>,
    /// `(size, axis_half_width, r_lo, r_hi)` the band tables below were built for.
    band_key: (usize, usize, usize, usize),
    /// Power indices of the search band (half plane, off-axis), grouped by ring.
    band_bins: Vec<u32>,
    /// `band_bins[ring_start[r - r_lo]..ring_start[r - r_lo + 1]]` are ring `r`'s bins.
    ring_start: Vec<u32>,
    ring_bg: Vec<f32>,
    ring_vals: Vec<f32>,
}

impl core::fmt::Debug for Scratch {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("fft::Scratch")
            .field("fft_size", &self.fft_size)
            .field("band_key", &self.band_key)
            .finish_non_exhaustive()
    }
}

impl Default for Scratch {
    fn default() -> Self {
        Self::new()
    }
}

impl Scratch {
    pub fn new() -> Self {
        Self {
            planner: FftPlanner::new(),
            fft: None,
            fft_size: 0,
            fft_scratch: Vec::new(),
            hann: Vec::new(),
            taps_x: Taps::default(),
            taps_y: Taps::default(),
            row_luma: Vec::new(),
            rows: Vec::new(),
            crop: Vec::new(),
            buf: Vec::new(),
            buf_t: Vec::new(),
            power: Vec::new(),
            band_key: (0, 0, 0, 0),
            band_bins: Vec::new(),
            ring_start: Vec::new(),
            ring_bg: Vec::new(),
            ring_vals: Vec::new(),
        }
    }

    /// The FFT plan and window for `n`, built once.
    fn prepare(&mut self, cfg: &Config) {
        let n = cfg.size;
        if self.fft_size != n || self.fft.is_none() {
            let fft = self.planner.plan_fft_forward(n);
            self.fft_scratch
                .resize(fft.get_inplace_scratch_len(), Complex::default());
            self.fft = Some(fft);
            self.fft_size = n;
            self.hann.clear();
            // Periodic Hann: its DFT is exactly 3 bins wide (½ at 0, −¼ at ±1).
            self.hann.extend((0..n).map(|i| {
                let s = math::sin(core::f32::consts::PI * i as f32 / n as f32);
                s * s
            }));
            self.buf.resize(n * n, Complex::default());
            self.buf_t.resize(n * n, Complex::default());
            self.power.resize(n * n, 0.0);
        }
        let (r_lo, r_hi) = cfg.ring_band();
        let key = (n, cfg.axis_half_width, r_lo, r_hi);
        if self.band_key != key {
            self.band_key = key;
            let half = (n / 2) as i64;
            let a = cfg.axis_half_width as i64;
            let mut bins: Vec<(u32, u32)> = Vec::new();
            for ky in (a + 1)..half {
                for kx in -(half - 1)..half {
                    if kx.abs() <= a {
                        continue;
                    }
                    let r = math::round(math::sqrt((kx * kx + ky * ky) as f32)) as usize;
                    if (r_lo..=r_hi).contains(&r) {
                        let i = ky as usize * n + kx.rem_euclid(n as i64) as usize;
                        bins.push((r as u32, i as u32));
                    }
                }
            }
            bins.sort_unstable();
            self.band_bins.clear();
            self.band_bins.extend(bins.iter().map(|&(_, i)| i));
            self.ring_start.clear();
            let mut at = 0usize;
            for r in r_lo..=r_hi + 1 {
                while at < bins.len() && (bins[at].0 as usize) < r {
                    at += 1;
                }
                self.ring_start.push(at as u32);
            }
            self.ring_bg.resize(r_hi - r_lo + 1, 0.0);
        }
    }
}

/// Per-frame moiré features of one upright RGB frame (see the module docs).
///
/// Errors on a malformed image, eyes that coincide,
/// a face box that is not finite, empty or outside the image, or an invalid `cfg`. A face
/// too small or too far outside the frame is not an error: the record says so in `status`.
pub fn frame_features(
    image: &RgbImage,
    face: &FaceGeometry<'_>,
    cfg: &Config,
    scratch: &mut Scratch,
) -> Result<FrameFeatures, FftError> {
    cfg.validate()?;
    let iod = super::check_face_input("moiré", image, face)?;
    let lm = face.landmarks;
    let eye_mid = {
        let p = [
            lm[idx::RIGHT_EYE_OUTER],
            lm[idx::RIGHT_EYE_INNER],
            lm[idx::LEFT_EYE_INNER],
            lm[idx::LEFT_EYE_OUTER],
        ];
        (
            0.25 * p.iter().map(|q| q.x).sum::<f32>(),
            0.25 * p.iter().map(|q| q.y).sum::<f32>(),
        )
    };
    let nose = lm[idx::NOSE_TIP];
    let (cx, cy) = (0.5 * (eye_mid.0 + nose.x), 0.5 * (eye_mid.1 + nose.y));
    let side = cfg.crop_iod_scale * iod;
    let (x0, y0) = (cx - 0.5 * side, cy - 0.5 * side);
    let (w, h) = (image.width as usize, image.height as usize);
    let overlap = |a: f32, len: usize| ((a + side).min(len as f32 - 0.5) - a.max(-0.5)).max(0.0);
    let inside = (overlap(x0, w) * overlap(y0, h) / (side * side)).clamp(0.0, 1.0);
    if side < cfg.min_crop_px {
        return Ok(FrameFeatures::unmeasured(
            FrameStatus::FaceTooSmall,
            side,
            inside,
        ));
    }
    if inside < cfg.min_inside_fraction {
        return Ok(FrameFeatures::unmeasured(
            FrameStatus::CropOutsideFrame,
            side,
            inside,
        ));
    }
    scratch.prepare(cfg);
    resample_luma(image, x0, y0, side, cfg.size, scratch);
    spectrum(cfg.size, scratch);
    let mut f = spectral_features(cfg, side, scratch);
    f.crop_side_px = side;
    f.inside_fraction = inside;
    Ok(f)
}

/// Luma of the crop `[x0, x0 + side)²` resampled into `scratch.crop` (`n × n`, 0–255).
fn resample_luma(image: &RgbImage, x0: f32, y0: f32, side: f32, n: usize, s: &mut Scratch) {
    let (w, h) = (image.width as usize, image.height as usize);
    s.taps_x.build(x0, side, n, w);
    s.taps_y.build(y0, side, n, h);
    let (xa, xb) = s.taps_x.range();
    let (ya, yb) = s.taps_y.range();
    s.row_luma.resize(xb - xa + 1, 0.0);
    s.rows.resize((yb - ya + 1) * n, 0.0);
    // Only the source rows some tap reads: with a large crop most rows are read, with a
    // bilinear (small) crop each row once or twice.
    for y in ya..=yb {
        let row = &image.data[(y * w + xa) * 3..(y * w + xb + 1) * 3];
        for (l, px) in s.row_luma.iter_mut().zip(row.chunks_exact(3)) {
            *l = LUMA[0] * px[0] as f32 + LUMA[1] * px[1] as f32 + LUMA[2] * px[2] as f32;
        }
        let out = &mut s.rows[(y - ya) * n..(y - ya + 1) * n];
        for (j, o) in out.iter_mut().enumerate() {
            *o = s
                .taps_x
                .cell(j)
                .map(|(i, wt)| wt * s.row_luma[i - xa])
                .sum();
        }
    }
    s.crop.clear();
    s.crop.resize(n * n, 0.0);
    for i in 0..n {
        let out = &mut s.crop[i * n..(i + 1) * n];
        for (r, wt) in s.taps_y.cell(i) {
            let src = &s.rows[(r - ya) * n..(r - ya + 1) * n];
            for (o, v) in out.iter_mut().zip(src) {
                *o += wt * v;
            }
        }
    }
}

/// Windowed 2D FFT of `scratch.crop` into `scratch.power` (`power[ky·n + kx] = |F|²`).
fn spectrum(n: usize, s: &mut Scratch) {
    let wsum: f32 = s.hann.iter().sum();
    let mut mean = 0.0f64;
    for (i, row) in s.crop.chunks_exact(n).enumerate() {
        let r: f32 = row.iter().zip(&s.hann).map(|(v, w)| v * w).sum();
        mean += (r * s.hann[i]) as f64;
    }
    let mean = (mean / (wsum as f64 * wsum as f64)) as f32;
    for (i, (row, out)) in s
        .crop
        .chunks_exact(n)
        .zip(s.buf.chunks_exact_mut(n))
        .enumerate()
    {
        let wy = s.hann[i];
        for ((o, v), wx) in out.iter_mut().zip(row).zip(&s.hann) {
            *o = Complex::new((v - mean) * wx * wy, 0.0);
        }
    }
    let Some(fft) = s.fft.as_ref() else {
        return;
    };
    fft.process_with_scratch(&mut s.buf, &mut s.fft_scratch);
    for y in 0..n {
        for x in 0..n {
            s.buf_t[x * n + y] = s.buf[y * n + x];
        }
    }
    fft.process_with_scratch(&mut s.buf_t, &mut s.fft_scratch);
    // buf_t[kx·n + ky] = F[ky][kx].
    for ky in 0..n {
        for kx in 0..n {
            s.power[ky * n + kx] = s.buf_t[kx * n + ky].norm_sqr();
        }
    }
}

/// Features of `scratch.power` (see the module docs).
fn spectral_features(cfg: &Config, crop_side_px: f32, s: &mut Scratch) -> FrameFeatures {
    let n = cfg.size;
    let half = (n / 2) as i64;
    let p = &s.power;
    let signed = |k: usize| {
        if k < n / 2 {
            k as i64
        } else {
            k as i64 - n as i64
        }
    };

    // High-frequency ratio over the full plane, inside the Nyquist circle.
    let hf_lo = cfg.hf_band * half as f32;
    let hf_lo2 = (hf_lo * hf_lo) as i64;
    let (mut total, mut high) = (0.0f64, 0.0f64);
    for ky in 0..n {
        let sy = signed(ky);
        for kx in 0..n {
            let sx = signed(kx);
            let r2 = sx * sx + sy * sy;
            if r2 >= 4 && r2 <= half * half {
                let v = p[ky * n + kx] as f64;
                total += v;
                if r2 >= hf_lo2 {
                    high += v;
                }
            }
        }
    }
    let hf_ratio = if total > 0.0 {
        (high / total) as f32
    } else {
        0.0
    };

    // Ring backgrounds: median / ln 2 (the mean of an exponential law).
    let (r_lo, r_hi) = cfg.ring_band();
    let mut band_energy = 0.0f64;
    for r in r_lo..=r_hi {
        let k = r - r_lo;
        let (a, b) = (s.ring_start[k] as usize, s.ring_start[k + 1] as usize);
        s.ring_vals.clear();
        s.ring_vals
            .extend(s.band_bins[a..b].iter().map(|&i| p[i as usize]));
        band_energy += s.ring_vals.iter().map(|&v| v as f64).sum::<f64>();
        s.ring_bg[k] = if s.ring_vals.is_empty() {
            0.0
        } else {
            let m = s.ring_vals.len() / 2;
            let (_, med, _) = s.ring_vals.select_nth_unstable_by(m, |a, b| a.total_cmp(b));
            *med / core::f32::consts::LN_2
        };
    }

    // Spectral slope: least squares of ln(bg) on ln(r).
    let (mut sx, mut sy, mut sxx, mut sxy, mut cnt) = (0.0f64, 0.0f64, 0.0f64, 0.0f64, 0.0f64);
    for (k, &bg) in s.ring_bg.iter().enumerate() {
        if bg > 0.0 {
            let x = ((r_lo + k) as f64).ln();
            let y = (bg as f64).ln();
            sx += x;
            sy += y;
            sxx += x * x;
            sxy += x * y;
            cnt += 1.0;
        }
    }
    let var = sxx - sx * sx / cnt.max(1.0);
    let spectral_slope = if cnt >= 3.0 && var > 0.0 {
        ((sxy - sx * sy / cnt) / var) as f32
    } else {
        0.0
    };

    // Peaks are searched below the crop's own Nyquist frequency only: when a crop smaller than
    // the grid is upsampled, the spectral images of the interpolation lie above it.
    let native_hi = math::floor(cfg.high_cut * 0.5 * crop_side_px.min(n as f32)) as usize;
    let r_hi = r_hi.min(native_hi.max(r_lo));
    // Peaks: local maxima of the band, prominence of the 3×3 energy over 9 × ring background.
    let at =
        |x: i64, y: i64| p[(y.rem_euclid(n as i64) as usize) * n + x.rem_euclid(n as i64) as usize];
    let e3 = |x: i64, y: i64| -> f32 {
        let mut e = 0.0;
        for dy in -1..=1i64 {
            for dx in -1..=1i64 {
                e += at(x + dx, y + dy);
            }
        }
        e
    };
    let min_ratio = math::powf(10.0, cfg.peak_min_prominence_db / 10.0);
    let (mut best, mut best_at) = (0.0f32, (0i64, 0i64));
    let (mut count, mut peak_energy) = (0u32, 0.0f64);
    for r in r_lo..=r_hi {
        let k = r - r_lo;
        let bg = s.ring_bg[k];
        if bg <= 0.0 {
            continue;
        }
        let (a, b) = (s.ring_start[k] as usize, s.ring_start[k + 1] as usize);
        for &i in &s.band_bins[a..b] {
            let i = i as usize;
            let v = p[i];
            let (ky, kx) = ((i / n) as i64, signed(i % n));
            let mut e = 0.0f32;
            let mut is_max = v > 0.0;
            for dy in -1..=1i64 {
                for dx in -1..=1i64 {
                    let q = at(kx + dx, ky + dy);
                    e += q;
                    // Strict against neighbours earlier in raster order: a flat top counts once.
                    let earlier = dy < 0 || (dy == 0 && dx < 0);
                    if (dx != 0 || dy != 0) && (q > v || (earlier && q == v)) {
                        is_max = false;
                    }
                }
            }
            if !is_max {
                continue;
            }
            // Streak test: the largest 3×3 energy a little further out along the same ray.
            // An edge's streak continues there (rippled, decaying slowly); a periodic peak's
            // Hann main lobe ends within ±2.5 bins, so 3–6 bins out is background.
            let rk = math::sqrt((kx * kx + ky * ky) as f32);
            let (ux, uy) = (kx as f32 / rk, ky as f32 / rk);
            let mut ray = 0.0f32;
            for d in RAY_GAP_BINS {
                let t = rk + d as f32;
                let (qx, qy) = (math::round(t * ux) as i64, math::round(t * uy) as i64);
                ray = ray.max(e3(qx, qy));
            }
            let prom = e / (9.0 * bg.max(ray / 9.0));
            if prom > best {
                best = prom;
                best_at = (kx, ky);
            }
            if prom >= min_ratio {
                count += 1;
                peak_energy += e as f64;
            }
        }
    }
    let (mut peak_fx, mut peak_fy) = (0.0f32, 0.0f32);
    if best > 0.0 {
        let (kx, ky) = best_at;
        let (mut sw, mut swx, mut swy) = (0.0f32, 0.0f32, 0.0f32);
        for dy in -1..=1i64 {
            for dx in -1..=1i64 {
                let q = at(kx + dx, ky + dy);
                sw += q;
                swx += q * dx as f32;
                swy += q * dy as f32;
            }
        }
        peak_fx = kx as f32 + swx / sw;
        peak_fy = ky as f32 + swy / sw;
    }
    FrameFeatures {
        status: FrameStatus::Measured,
        crop_side_px: 0.0,
        inside_fraction: 0.0,
        hf_ratio,
        peak_prominence_db: if best > 1.0 {
            10.0 * libm::log10f(best)
        } else {
            0.0
        },
        peak_count: count,
        peak_energy_fraction: if band_energy > 0.0 {
            ((peak_energy / band_energy) as f32).min(1.0)
        } else {
            0.0
        },
        peak_fx,
        peak_fy,
        spectral_slope,
    }
}

/// Reads one feature of a frame record.
type Getter = fn(&FrameFeatures) -> f32;

/// The moiré score of a window of frames (see the module docs).
///
/// Features (medians over the measured frames): `peak_prominence_db` (dB), `peak_count`,
/// `peak_energy_fraction`, `hf_ratio`, `spectral_slope`, `crop_side_px` (pixels); and
/// `frames`, `frames_measured`. Unavailable when fewer than `min_frames` frames were measured,
/// with the reason (face too small, crop outside the frame, window too short) or an invalid
/// `cfg`.
pub fn score(frames: &[FrameFeatures], cfg: &Config) -> SignalReport {
    if let Err(e) = cfg.validate() {
        return SignalReport::unavailable(e);
    }
    let measured: Vec<&FrameFeatures> = frames
        .iter()
        .filter(|f| f.status == FrameStatus::Measured)
        .collect();
    let mut features = BTreeMap::new();
    features.insert("frames".to_string(), frames.len() as f64);
    features.insert("frames_measured".to_string(), measured.len() as f64);
    if measured.len() < cfg.min_frames {
        let small = frames
            .iter()
            .filter(|f| f.status == FrameStatus::FaceTooSmall)
            .count();
        let outside = frames
            .iter()
            .filter(|f| f.status == FrameStatus::CropOutsideFrame)
            .count();
        let all: Vec<&FrameFeatures> = frames.iter().collect();
        let reason: String = if frames.is_empty() {
            "no frames in the window".to_string()
        } else if small > 0 && small >= outside {
            let side = median_of(&all, |f| f.crop_side_px).unwrap_or(0.0);
            format!(
                "face too small: median crop side {side:.0} px < {:.0} px in {small} of {} \
                 frames",
                cfg.min_crop_px,
                frames.len()
            )
        } else if outside > 0 {
            format!(
                "face crop outside the frame in {outside} of {} frames (< {:.0} % inside)",
                frames.len(),
                100.0 * cfg.min_inside_fraction
            )
        } else {
            format!(
                "window too short: {} measured frames < {}",
                measured.len(),
                cfg.min_frames
            )
        };
        return SignalReport::unavailable(reason).with_features(features);
    }
    let feats: [(&str, Getter); 6] = [
        ("peak_prominence_db", |f| f.peak_prominence_db),
        ("peak_count", |f| f.peak_count as f32),
        ("peak_energy_fraction", |f| f.peak_energy_fraction),
        ("hf_ratio", |f| f.hf_ratio),
        ("spectral_slope", |f| f.spectral_slope),
        ("crop_side_px", |f| f.crop_side_px),
    ];
    for (name, get) in feats {
        match median_of(&measured, get) {
            Some(v) => {
                features.insert(name.to_string(), v as f64);
            }
            None => {
                return SignalReport::unavailable(format!("feature `{name}` is not finite"))
                    .with_features(features)
            }
        }
    }
    let prom = features["peak_prominence_db"] as f32;
    let s = logistic(prom, cfg.score_centre_db, -cfg.score_scale_db);
    SignalReport::scored(s, features)
}
