//! Luma views, the fixed-size face crop, and the image measures taken on it.
//!
//! Resolution robustness: the face box is resampled to a fixed `size × size` crop (default
//! 128) before any measure, by box averaging when the box is larger than the crop (the usual
//! case) and bilinear interpolation when it is smaller. The Laplacian then sees detail at the
//! same scale *relative to the face*, so a face filling a 1080p frame and the same face at
//! 480p give comparable sharpness; without this, the variance of a downsampled sharp face
//! rises and that of an upsampled one falls, and no single threshold fits.
//!
//! The face region is the ellipse inscribed in the crop (which leaves out most background in
//! the box corners), intersected with the part of the crop that lies inside the frame.

use super::QualityError;
use crate::geometry::Rect;
use crate::math;
use alloc::vec::Vec;
use serde::{Deserialize, Serialize};

/// Smallest allowed crop side, pixels.
pub(crate) const MIN_CROP: usize = 32;
/// Largest allowed crop side, pixels.
pub(crate) const MAX_CROP: usize = 512;

/// A borrowed 8-bit luma image with a row stride (bytes). Built through [`LumaView::new`],
/// which checks the buffer is large enough, so reads never go out of bounds.
#[derive(Clone, Copy, Debug)]
pub struct LumaView<'a> {
    width: u32,
    height: u32,
    stride: usize,
    data: &'a [u8],
}

impl<'a> LumaView<'a> {
    /// `data` holds `height` rows of `stride` bytes (the last row may stop after `width`).
    pub fn new(
        width: u32,
        height: u32,
        data: &'a [u8],
        stride: usize,
    ) -> Result<Self, QualityError> {
        if width == 0 || height == 0 {
            return Err(QualityError::EmptyImage { width, height });
        }
        if stride < width as usize {
            return Err(QualityError::StrideTooSmall { stride, width });
        }
        let expected = (height as usize - 1)
            .checked_mul(stride)
            .and_then(|v| v.checked_add(width as usize))
            .unwrap_or(usize::MAX);
        if data.len() < expected {
            return Err(QualityError::BufferTooSmall {
                len: data.len(),
                expected,
                width,
                height,
                stride,
            });
        }
        Ok(Self {
            width,
            height,
            stride,
            data,
        })
    }

    /// A tightly packed view (`stride == width`).
    pub fn packed(width: u32, height: u32, data: &'a [u8]) -> Result<Self, QualityError> {
        Self::new(width, height, data, width as usize)
    }

    pub fn width(&self) -> u32 {
        self.width
    }
    pub fn height(&self) -> u32 {
        self.height
    }
    pub fn stride(&self) -> usize {
        self.stride
    }
    pub fn data(&self) -> &'a [u8] {
        self.data
    }

    /// Row `y` (`width` bytes). `y < height` by the callers' loops.
    #[inline]
    fn row(&self, y: usize) -> &'a [u8] {
        let start = y * self.stride;
        &self.data[start..start + self.width as usize]
    }
}

/// A borrowed row-major `f32` image of `width × height` values (e.g. the resampled crop).
#[derive(Clone, Copy, Debug)]
pub struct Plane<'a> {
    width: usize,
    height: usize,
    data: &'a [f32],
}

impl<'a> Plane<'a> {
    /// Checks `data.len() == width × height`.
    pub fn new(width: usize, height: usize, data: &'a [f32]) -> Result<Self, QualityError> {
        let expected = width.saturating_mul(height);
        if data.len() != expected {
            return Err(QualityError::PlaneSize {
                len: data.len(),
                width,
                height,
                expected,
            });
        }
        Ok(Self {
            width,
            height,
            data,
        })
    }
    pub fn width(&self) -> usize {
        self.width
    }
    pub fn height(&self) -> usize {
        self.height
    }
    pub fn data(&self) -> &'a [f32] {
        self.data
    }
    #[inline]
    fn row(&self, y: usize) -> &'a [f32] {
        &self.data[y * self.width..(y + 1) * self.width]
    }
}

/// An ellipse in plane pixel coordinates (pixel `(i, j)` has its centre at `(i+½, j+½)`).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Ellipse {
    pub cx: f32,
    pub cy: f32,
    pub rx: f32,
    pub ry: f32,
}

impl Ellipse {
    #[inline]
    pub(super) fn contains(&self, i: usize, j: usize) -> bool {
        let u = (i as f32 + 0.5 - self.cx) / self.rx;
        let v = (j as f32 + 0.5 - self.cy) / self.ry;
        u * u + v * v <= 1.0
    }
}

/// Pixels measured: the half-open rectangle `[x0, x1) × [y0, y1)` (clamped to the plane),
/// further restricted to `ellipse` when given. Neighbourhood operators (the Laplacian) read
/// only pixels inside the rectangle, so the rectangle can mark the valid part of a crop.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Roi {
    pub x0: usize,
    pub y0: usize,
    pub x1: usize,
    pub y1: usize,
    pub ellipse: Option<Ellipse>,
}

impl Roi {
    /// The whole plane.
    pub fn full(plane: &Plane<'_>) -> Roi {
        Roi {
            x0: 0,
            y0: 0,
            x1: plane.width,
            y1: plane.height,
            ellipse: None,
        }
    }
    fn clamped(&self, plane: &Plane<'_>) -> (usize, usize, usize, usize) {
        let x1 = self.x1.min(plane.width);
        let y1 = self.y1.min(plane.height);
        (self.x0.min(x1), self.y0.min(y1), x1, y1)
    }
    /// The pixels of row `j` within `[x0, x1)` that the ROI takes: `[a, b)`, exactly those for
    /// which the ellipse test holds. Along a row the test's `u²` falls then rises (every float
    /// step in it is monotonic), so they form one run: its ends are found from the analytic
    /// chord, widened by two pixels for rounding and walked in with the test itself.
    pub(super) fn row_span(&self, j: usize, x0: usize, x1: usize) -> (usize, usize) {
        let Some(e) = self.ellipse else {
            return (x0, x1);
        };
        let v = (j as f32 + 0.5 - e.cy) / e.ry;
        let rest = 1.0 - v * v;
        // Also NaN (a degenerate ellipse): no pixel passes the test.
        if rest.is_nan() || rest < 0.0 {
            return (x0, x0);
        }
        let half = e.rx.abs() * math::sqrt(rest);
        let centre = e.cx - 0.5;
        let clamp = |p: f32, lo: usize| (p as isize).clamp(lo as isize, x1 as isize) as usize;
        let mut a = clamp(math::floor(centre - half) - 2.0, x0);
        while a < x1 && !e.contains(a, j) {
            a += 1;
        }
        let mut b = clamp(math::ceil(centre + half) + 3.0, a);
        while b > a && !e.contains(b - 1, j) {
            b -= 1;
        }
        (a, b)
    }
}

/// The part of a resampled crop whose pixels come from inside the frame: `[x0, x1) × [y0, y1)`
/// in crop pixels (empty when the box misses the frame).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CropValid {
    pub x0: usize,
    pub y0: usize,
    pub x1: usize,
    pub y1: usize,
}

impl CropValid {
    pub fn is_empty(&self) -> bool {
        self.x1 <= self.x0 || self.y1 <= self.y0
    }
}

/// For each output cell along one axis, the source pixel range whose centres fall in it.
/// Writes counts into `counts` and returns the valid output range.
fn axis_bins(
    start: f32,
    scale: f32,
    size: usize,
    limit: usize,
    counts: &mut [u32],
) -> (usize, usize) {
    for c in counts.iter_mut() {
        *c = 0;
    }
    // Source pixel p (centre p + ½) lands in output cell floor((p + ½ − start) / scale).
    let lo = math::floor(start).max(0.0) as usize;
    let hi_f = math::ceil(start + scale * size as f32).min(limit as f32);
    let hi = if hi_f > 0.0 { hi_f as usize } else { 0 };
    for p in lo..hi {
        if let Some(c) = out_cell(p, start, scale, size) {
            counts[c] += 1;
        }
    }
    let first = counts.iter().position(|&c| c > 0);
    let last = counts.iter().rposition(|&c| c > 0);
    match (first, last) {
        (Some(a), Some(b)) => (a, b + 1),
        _ => (0, 0),
    }
}

#[inline]
fn out_cell(p: usize, start: f32, scale: f32, size: usize) -> Option<usize> {
    let u = (p as f32 + 0.5 - start) / scale;
    if u >= 0.0 && u < size as f32 {
        Some((u as usize).min(size - 1))
    } else {
        None
    }
}

/// The source pixels `[lo, hi)` a box side `[min, max]` touches, clamped to `[0, limit)`.
fn source_span(min: f32, max: f32, limit: usize) -> (usize, usize) {
    let lo = math::floor(min).max(0.0) as usize;
    let hi = (math::ceil(max).max(0.0) as usize).min(limit);
    (lo.min(hi), hi)
}

/// Resamples `rect` of `luma` (frame pixels) to a `size × size` crop in `out` (resized, row
/// major, luma 0–255 as `f32`); `counts` is scratch. Box-averages when the box is at least
/// `size` pixels on both sides, else samples bilinearly at cell centres. Cells whose source
/// lies outside the frame are left 0 and excluded from the returned [`CropValid`].
pub fn resample_crop(
    luma: &LumaView<'_>,
    rect: &Rect,
    size: usize,
    out: &mut Vec<f32>,
    counts: &mut Vec<u32>,
) -> Result<CropValid, QualityError> {
    if !(MIN_CROP..=MAX_CROP).contains(&size) {
        return Err(QualityError::InvalidCropSize(size));
    }
    rect.check_face_box()?;
    out.clear();
    out.resize(size * size, 0.0);
    let (w, h) = (luma.width as usize, luma.height as usize);
    let sx = rect.width() / size as f32;
    let sy = rect.height() / size as f32;

    if sx >= 1.0 && sy >= 1.0 {
        // counts: cells per column, cells per row, one row's sums, each source column's cell.
        let (px_lo, px_hi) = source_span(rect.x_min, rect.x_max, w);
        let (py_lo, py_hi) = source_span(rect.y_min, rect.y_max, h);
        counts.clear();
        // Room for a box as wide as the frame, so a face that grows does not reallocate.
        counts.reserve(3 * size + w);
        counts.resize(3 * size + (px_hi - px_lo), 0);
        let (cx, rest) = counts.split_at_mut(size);
        let (cy, rest) = rest.split_at_mut(size);
        let (row_sums, column_cell) = rest.split_at_mut(size);
        let (vx0, vx1) = axis_bins(rect.x_min, sx, size, w, cx);
        let (vy0, vy1) = axis_bins(rect.y_min, sy, size, h, cy);
        if vx0 >= vx1 || vy0 >= vy1 {
            return Ok(CropValid {
                x0: 0,
                y0: 0,
                x1: 0,
                y1: 0,
            });
        }
        // A column's cell is the same on every row: found once (`size` marks no cell).
        for (px, cell) in (px_lo..px_hi).zip(column_cell.iter_mut()) {
            *cell = out_cell(px, rect.x_min, sx, size).map_or(size as u32, |c| c as u32);
        }
        // Each row's pixels are summed per cell in integers, then added to the cell: the sums
        // of 8-bit values stay far below 2^24, so the floats are exact and the same as adding
        // pixel by pixel.
        for py in py_lo..py_hi {
            let Some(j) = out_cell(py, rect.y_min, sy, size) else {
                continue;
            };
            row_sums.fill(0);
            let row = &luma.row(py)[px_lo..px_hi];
            for (&v, &c) in row.iter().zip(column_cell.iter()) {
                if let Some(sum) = row_sums.get_mut(c as usize) {
                    *sum += u32::from(v);
                }
            }
            let acc = &mut out[j * size..(j + 1) * size];
            for (a, &sum) in acc[vx0..vx1].iter_mut().zip(&row_sums[vx0..vx1]) {
                *a += sum as f32;
            }
        }
        for j in vy0..vy1 {
            for i in vx0..vx1 {
                let n = cx[i] * cy[j];
                let cell = &mut out[j * size + i];
                *cell = if n > 0 { *cell / n as f32 } else { 0.0 };
            }
        }
        return Ok(CropValid {
            x0: vx0,
            y0: vy0,
            x1: vx1,
            y1: vy1,
        });
    }

    // Bilinear: cell centre (i + ½) maps to source coordinate x_min + (i + ½)·sx, i.e. pixel
    // space position − ½ relative to pixel centres. Cells whose centre lies outside the frame
    // are invalid; the valid ones form a contiguous range per axis.
    let valid_axis = |start: f32, scale: f32, limit: usize| -> (usize, usize) {
        let inside = |i: usize| {
            let x = start + (i as f32 + 0.5) * scale;
            x >= 0.0 && x <= limit as f32
        };
        let first = (0..size).find(|&i| inside(i));
        let last = (0..size).rev().find(|&i| inside(i));
        match (first, last) {
            (Some(a), Some(b)) => (a, b + 1),
            _ => (0, 0),
        }
    };
    let (vx0, vx1) = valid_axis(rect.x_min, sx, w);
    let (vy0, vy1) = valid_axis(rect.y_min, sy, h);
    if vx0 >= vx1 || vy0 >= vy1 {
        return Ok(CropValid {
            x0: 0,
            y0: 0,
            x1: 0,
            y1: 0,
        });
    }
    let (wm, hm) = ((w - 1) as f32, (h - 1) as f32);
    for j in vy0..vy1 {
        let y = (rect.y_min + (j as f32 + 0.5) * sy - 0.5).clamp(0.0, hm);
        let y0 = y as usize;
        let y1 = (y0 + 1).min(h - 1);
        let fy = y - y0 as f32;
        let (r0, r1) = (luma.row(y0), luma.row(y1));
        for i in vx0..vx1 {
            let x = (rect.x_min + (i as f32 + 0.5) * sx - 0.5).clamp(0.0, wm);
            let x0 = x as usize;
            let x1 = (x0 + 1).min(w - 1);
            let fx = x - x0 as f32;
            let top = r0[x0] as f32 * (1.0 - fx) + r0[x1] as f32 * fx;
            let bot = r1[x0] as f32 * (1.0 - fx) + r1[x1] as f32 * fx;
            out[j * size + i] = top * (1.0 - fy) + bot * fy;
        }
    }
    Ok(CropValid {
        x0: vx0,
        y0: vy0,
        x1: vx1,
        y1: vy1,
    })
}

/// Iterates the 3×3 Laplacian `[0 1 0; 1 −4 1; 0 1 0]` (OpenCV's `Laplacian`, ksize 1) at every
/// ROI pixel whose 4-neighbourhood lies inside the ROI rectangle.
fn for_each_laplacian(plane: &Plane<'_>, roi: &Roi, mut f: impl FnMut(f32)) {
    let (x0, y0, x1, y1) = roi.clamped(plane);
    if x1 < x0 + 3 || y1 < y0 + 3 {
        return;
    }
    for j in (y0 + 1)..(y1 - 1) {
        let (a, b) = roi.row_span(j, x0 + 1, x1 - 1);
        if a >= b {
            continue;
        }
        let (up, row, down) = (plane.row(j - 1), plane.row(j), plane.row(j + 1));
        for i in a..b {
            f(row[i - 1] + row[i + 1] + up[i] + down[i] - 4.0 * row[i]);
        }
    }
}

/// Variance of the 3×3 Laplacian over the ROI (luma², the classic focus measure). `None` when
/// no pixel has its neighbourhood inside the ROI. A flat image gives 0; a one-pixel 0/255
/// checkerboard gives 1020² = 1,040,400.
pub fn laplacian_variance(plane: &Plane<'_>, roi: &Roi) -> Option<f32> {
    let (mut n, mut s, mut s2) = (0usize, 0f64, 0f64);
    for_each_laplacian(plane, roi, |l| {
        n += 1;
        s += l as f64;
        s2 += (l as f64) * (l as f64);
    });
    if n == 0 {
        return None;
    }
    let mean = s / n as f64;
    Some((s2 / n as f64 - mean * mean).max(0.0) as f32)
}

/// Luma statistics of a region.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct LumaStats {
    /// Mean luma, 0–255.
    pub mean: f32,
    /// Standard deviation of luma (RMS contrast), 0–127.5.
    pub std_dev: f32,
    /// Fraction of pixels ≤ the dark level.
    pub dark_fraction: f32,
    /// Fraction of pixels ≥ the bright level.
    pub bright_fraction: f32,
    /// Pixels measured.
    pub pixels: usize,
}

/// Mean, RMS contrast and clipped fractions over the ROI; `None` for an empty ROI.
pub fn luma_stats(
    plane: &Plane<'_>,
    roi: &Roi,
    dark_level: u8,
    bright_level: u8,
) -> Option<LumaStats> {
    let (x0, y0, x1, y1) = roi.clamped(plane);
    let (dark, bright) = (dark_level as f32, bright_level as f32);
    let (mut n, mut s, mut s2, mut nd, mut nb) = (0usize, 0f64, 0f64, 0usize, 0usize);
    for j in y0..y1 {
        let (a, b) = roi.row_span(j, x0, x1);
        for &v in &plane.row(j)[a..b] {
            n += 1;
            s += v as f64;
            s2 += (v as f64) * (v as f64);
            nd += (v <= dark) as usize;
            nb += (v >= bright) as usize;
        }
    }
    if n == 0 {
        return None;
    }
    let mean = s / n as f64;
    let var = (s2 / n as f64 - mean * mean).max(0.0);
    Some(LumaStats {
        mean: mean as f32,
        std_dev: math::sqrt(var as f32),
        dark_fraction: nd as f32 / n as f32,
        bright_fraction: nb as f32 / n as f32,
        pixels: n,
    })
}
