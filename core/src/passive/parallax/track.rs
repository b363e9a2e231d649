//! Image-refined landmark correspondences for the parallax fit.
//!
//! FaceMesh's landmarks are a regression with a strong 3D face prior: on a *flat* photo
//! tilted a few degrees they move as if a 3D head had turned (measured on synthetic prints:
//! the raw-landmark parallax fraction is 0.7–0.8, the same as a real head). So the homography
//! is fitted to correspondences refined by the pixels themselves: each landmark of frame A
//! is a template (a small luma patch), searched by normalised cross-correlation around where
//! frame B's landmark predicts it, to sub-pixel precision. Pixels on a plane follow the
//! homography exactly; pixels on a head do not.
//!
//! Each frame keeps only a small luma crop of the face (the face scaled so the inter-ocular
//! distance is at most [`super::ParallaxConfig::patch_iod_px`] pixels), never the frame.

use alloc::vec::Vec;

use crate::frame::RgbImage;
use crate::geometry::{Point2, Point3};

/// Half side of the matched template, crop pixels (9×9 templates).
const HALF: i32 = 4;

/// Largest crop side kept, pixels (the crop is `context × min(IOD, iod_px)`).
pub const MAX_SIDE: usize = 512;

/// A luma crop of the face region with its mapping to image pixels:
/// `image = origin + crop / scale`.
#[derive(Clone, Debug, PartialEq)]
pub struct FacePatch {
    pub origin: Point2,
    /// Crop pixels per image pixel (≤ 1).
    pub scale: f32,
    pub width: usize,
    pub height: usize,
    /// Luma, 0–255, row-major.
    pub data: Vec<f32>,
}

impl FacePatch {
    /// Crops the square of side `context × iod` around the landmarks' box centre, scaled so
    /// the inter-ocular distance is at most `iod_px` crop pixels (2×2 supersampled bilinear
    /// when shrinking). `None` when the crop misses the image.
    pub fn crop(
        rgb: &RgbImage,
        landmarks: &[Point3],
        iod: f32,
        context: f32,
        iod_px: f32,
    ) -> Option<FacePatch> {
        let (mut x0, mut y0, mut x1, mut y1) = (f32::MAX, f32::MAX, f32::MIN, f32::MIN);
        for p in landmarks {
            x0 = x0.min(p.x);
            y0 = y0.min(p.y);
            x1 = x1.max(p.x);
            y1 = y1.max(p.y);
        }
        let (cx, cy) = (0.5 * (x0 + x1), 0.5 * (y0 + y1));
        let side = context * iod;
        let scale = (iod_px / iod).min(1.0);
        let n_f = (context * iod.min(iod_px)).ceil();
        let expected = (rgb.width as usize)
            .checked_mul(rgb.height as usize)
            .and_then(|v| v.checked_mul(3));
        if !(side.is_finite() && scale.is_finite() && cx.is_finite() && cy.is_finite())
            || !(n_f.is_finite() && n_f >= (2 * HALF + 3) as f32 && n_f <= MAX_SIDE as f32)
            || rgb.width == 0
            || rgb.height == 0
            || expected != Some(rgb.data.len())
        {
            return None;
        }
        let n = n_f as usize;
        let origin = Point2 {
            x: cx - 0.5 * side,
            y: cy - 0.5 * side,
        };
        if origin.x + side < 0.0
            || origin.y + side < 0.0
            || origin.x > rgb.width as f32
            || origin.y > rgb.height as f32
        {
            return None;
        }
        let (w, h) = (rgb.width as usize, rgb.height as usize);
        let inv = 1.0 / scale;
        // The image's luma is converted once over the pixels the crop samples (the square plus
        // the bilinear and supersampling reach), not four times per sample.
        let reach = 1.5 * inv + 2.0;
        let clamp_x = |v: f32| v.clamp(0.0, (w - 1) as f32) as usize;
        let clamp_y = |v: f32| v.clamp(0.0, (h - 1) as f32) as usize;
        let (rx0, rx1) = (clamp_x(origin.x - reach), clamp_x(origin.x + side + reach));
        let (ry0, ry1) = (clamp_y(origin.y - reach), clamp_y(origin.y + side + reach));
        let rw = rx1 - rx0 + 1;
        let mut region = Vec::with_capacity(rw * (ry1 - ry0 + 1));
        for y in ry0..=ry1 {
            let row = &rgb.data[(y * w + rx0) * 3..(y * w + rx1 + 1) * 3];
            region.extend(
                row.chunks_exact(3)
                    .map(|p| 0.299 * p[0] as f32 + 0.587 * p[1] as f32 + 0.114 * p[2] as f32),
            );
        }
        let luma = |x: f32, y: f32| -> f32 {
            // Bilinear, clamped to the image (replicate border).
            let xf = x.clamp(0.0, (w - 1) as f32);
            let yf = y.clamp(0.0, (h - 1) as f32);
            let (xi, yi) = (xf as usize, yf as usize);
            let (x2, y2) = ((xi + 1).min(w - 1), (yi + 1).min(h - 1));
            let (fx, fy) = (xf - xi as f32, yf - yi as f32);
            // Every sample lies in the region (it spans the clamped reach of the crop).
            let l = |x: usize, y: usize| {
                let (x, y) = (x.clamp(rx0, rx1) - rx0, y.clamp(ry0, ry1) - ry0);
                region[y * rw + x]
            };
            let top = l(xi, yi) * (1.0 - fx) + l(x2, yi) * fx;
            let bottom = l(xi, y2) * (1.0 - fx) + l(x2, y2) * fx;
            top * (1.0 - fy) + bottom * fy
        };
        let supersample = scale < 0.75;
        let mut data = Vec::with_capacity(n * n);
        for j in 0..n {
            for i in 0..n {
                // Crop pixel centre (i + 0.5, j + 0.5) → image pixel-centre coordinates.
                let x = origin.x + (i as f32 + 0.5) * inv - 0.5;
                let y = origin.y + (j as f32 + 0.5) * inv - 0.5;
                let v = if supersample {
                    let d = 0.25 * inv;
                    0.25 * (luma(x - d, y - d)
                        + luma(x + d, y - d)
                        + luma(x - d, y + d)
                        + luma(x + d, y + d))
                } else {
                    luma(x, y)
                };
                data.push(v);
            }
        }
        Some(FacePatch {
            origin,
            scale,
            width: n,
            height: n,
            data,
        })
    }

    /// Image pixel → crop pixel (continuous, pixel-centre convention).
    pub fn to_crop(&self, p: Point2) -> Point2 {
        Point2 {
            x: (p.x - self.origin.x) * self.scale - 0.5,
            y: (p.y - self.origin.y) * self.scale - 0.5,
        }
    }

    /// Crop pixel → image pixel.
    pub fn to_image(&self, p: Point2) -> Point2 {
        Point2 {
            x: self.origin.x + (p.x + 0.5) / self.scale,
            y: self.origin.y + (p.y + 0.5) / self.scale,
        }
    }

    fn at(&self, x: i32, y: i32) -> f32 {
        self.data[y as usize * self.width + x as usize]
    }

    fn inside(&self, x: i32, y: i32, margin: i32) -> bool {
        x >= margin
            && y >= margin
            && x < self.width as i32 - margin
            && y < self.height as i32 - margin
    }
}

/// Matching settings.
#[derive(Clone, Copy, Debug)]
pub struct MatchParams {
    /// Search radius around the predicted position, crop pixels (1..=16; clamped).
    pub radius: i32,
    /// Lowest accepted normalised cross-correlation.
    pub min_ncc: f32,
    /// Lowest accepted template contrast: the smaller eigenvalue of the gradient structure
    /// tensor per pixel (grey levels²); flat skin has none and matches noise.
    pub min_texture: f32,
}

/// Template statistics: mean-free values, their norm and the mean.
fn template(p: &FacePatch, cx: i32, cy: i32, out: &mut Vec<f32>) -> Option<(f32, f32)> {
    out.clear();
    let mut mean = 0.0;
    for y in cy - HALF..=cy + HALF {
        for x in cx - HALF..=cx + HALF {
            let v = p.at(x, y);
            mean += v;
            out.push(v);
        }
    }
    mean /= out.len() as f32;
    let mut norm = 0.0;
    for v in out.iter_mut() {
        *v -= mean;
        norm += *v * *v;
    }
    (norm > 1e-3).then(|| (norm.sqrt(), mean))
}

/// Smaller eigenvalue of the gradient structure tensor over the template, per pixel.
fn texture(p: &FacePatch, cx: i32, cy: i32) -> f32 {
    let (mut gxx, mut gyy, mut gxy) = (0.0f32, 0.0f32, 0.0f32);
    for y in cy - HALF..=cy + HALF {
        for x in cx - HALF..=cx + HALF {
            let gx = 0.5 * (p.at(x + 1, y) - p.at(x - 1, y));
            let gy = 0.5 * (p.at(x, y + 1) - p.at(x, y - 1));
            gxx += gx * gx;
            gyy += gy * gy;
            gxy += gx * gy;
        }
    }
    let n = ((2 * HALF + 1) * (2 * HALF + 1)) as f32;
    let (a, b, c) = (gxx / n, gyy / n, gxy / n);
    0.5 * (a + b) - (0.25 * (a - b) * (a - b) + c * c).sqrt()
}

/// Half side of the widest search (`MatchParams::radius` ≤ 16): 33 positions a row.
const MAX_SEARCH: usize = 33;

/// NCC of the template against frame B's pixels centred at every position of a `(2r+1)²`
/// grid around `(px, py)`, row-major into `scores`. (Sampling B through the pair's
/// similarity was tried: the bilinear re-sampling blurs B against the template by an amount
/// that depends on the sub-pixel phase, which raised the residual on planes, so B is read on
/// its own pixel grid.) A row of positions is computed together, one template pixel at a
/// time, so the positions are independent lanes; values are shifted by the template's mean
/// so a flat patch's variance does not cancel: Σ(v − m)² = Σv'² − (Σv')²/n and
/// Σ(v − m)·t = Σv'·t − m'·Σt, the quantities of the two-pass form.
#[allow(clippy::too_many_arguments)]
fn ncc_grid(
    b: &FacePatch,
    px: i32,
    py: i32,
    r: i32,
    tpl: &[f32],
    tpl_norm: f32,
    tpl_sum: f32,
    shift: f32,
    scores: &mut Vec<f32>,
) {
    const SIDE: usize = (2 * HALF + 1) as usize;
    let w = (2 * r + 1) as usize;
    let n = tpl.len() as f32;
    let bw = b.width;
    let x0 = (px - r - HALF) as usize;
    scores.clear();
    for dy in -r..=r {
        let (mut sum, mut sq, mut dot) = (
            [0.0f32; MAX_SEARCH],
            [0.0f32; MAX_SEARCH],
            [0.0f32; MAX_SEARCH],
        );
        let (sum, sq, dot) = (&mut sum[..w], &mut sq[..w], &mut dot[..w]);
        for (tr, trow) in tpl.chunks_exact(SIDE).enumerate() {
            let y = (py + dy - HALF) as usize + tr;
            let row = &b.data[y * bw + x0..y * bw + x0 + w + SIDE - 1];
            for (k, &t) in trow.iter().enumerate() {
                let seg = &row[k..k + w];
                for d in 0..w {
                    let v = seg[d] - shift;
                    sum[d] += v;
                    sq[d] += v * v;
                    dot[d] += v * t;
                }
            }
        }
        for d in 0..w {
            let mean = sum[d] / n;
            let norm = sq[d] - sum[d] * mean;
            scores.push(if norm <= 1e-3 {
                -1.0
            } else {
                (dot[d] - mean * tpl_sum) / (norm.sqrt() * tpl_norm)
            });
        }
    }
}

/// Least-squares similarity from `a` to `b` as `[a, −b; b, a]` (no translation), or the
/// identity when degenerate.
fn local_similarity(a: &[Point2], b: &[Point2]) -> [f32; 4] {
    let n = a.len().min(b.len());
    if n < 2 {
        return [1.0, 0.0, 0.0, 1.0];
    }
    let mean = |p: &[Point2]| {
        let (mut x, mut y) = (0.0f64, 0.0f64);
        for q in &p[..n] {
            x += q.x as f64;
            y += q.y as f64;
        }
        (x / n as f64, y / n as f64)
    };
    let (ax, ay) = mean(a);
    let (bx, by) = mean(b);
    let (mut re, mut im, mut den) = (0.0f64, 0.0f64, 0.0f64);
    for (p, q) in a[..n].iter().zip(&b[..n]) {
        let (px, py) = (p.x as f64 - ax, p.y as f64 - ay);
        let (qx, qy) = (q.x as f64 - bx, q.y as f64 - by);
        re += px * qx + py * qy;
        im += px * qy - py * qx;
        den += px * px + py * py;
    }
    if den <= 1e-9 {
        return [1.0, 0.0, 0.0, 1.0];
    }
    let (c, s) = ((re / den) as f32, (im / den) as f32);
    [c, -s, s, c]
}

/// Sub-pixel offset of a parabola's vertex through (−1, l), (0, c), (1, r).
fn vertex(l: f32, c: f32, r: f32) -> f32 {
    let d = l - 2.0 * c + r;
    if d.abs() < 1e-6 {
        0.0
    } else {
        (0.5 * (l - r) / d).clamp(-0.5, 0.5)
    }
}

/// Correspondences (image pixels) between frames A and B for the landmarks `indices`:
/// each landmark's template in A is found in B near B's own landmark. Unmatched landmarks
/// (low texture, low correlation, peak on the search border, crop edge) are left out.
pub fn correspondences(
    a: &FacePatch,
    a_landmarks: &[Point2],
    b: &FacePatch,
    b_landmarks: &[Point2],
    indices: &[usize],
    params: &MatchParams,
    out: &mut (Vec<Point2>, Vec<Point2>),
) {
    out.0.clear();
    out.1.clear();
    let mut tpl = Vec::with_capacity(((2 * HALF + 1) * (2 * HALF + 1)) as usize);
    let r = params.radius.clamp(1, 16);
    let mut scores = Vec::with_capacity(((2 * r + 1) * (2 * r + 1)) as usize);
    // The face's in-plane rotation and scale between the frames (image pixels), then in
    // crop pixels: A crop → image (÷ scale_a) → similarity → B crop (× scale_b).
    let sim = local_similarity(a_landmarks, b_landmarks);
    let ratio = b.scale / a.scale;
    let m = [
        sim[0] * ratio,
        sim[1] * ratio,
        sim[2] * ratio,
        sim[3] * ratio,
    ];
    let reach = HALF;
    for &k in indices {
        let (Some(pa), Some(pb)) = (a_landmarks.get(k), b_landmarks.get(k)) else {
            continue;
        };
        let ca = a.to_crop(*pa);
        let (ax, ay) = (ca.x.round() as i32, ca.y.round() as i32);
        if !a.inside(ax, ay, HALF + 1) {
            continue;
        }
        if texture(a, ax, ay) < params.min_texture {
            continue;
        }
        let Some((tpl_norm, tpl_mean)) = template(a, ax, ay, &mut tpl) else {
            continue;
        };
        let tpl_sum: f32 = tpl.iter().sum();
        // Predicted position of A's template centre in B.
        let cb = b.to_crop(*pb);
        let (ox, oy) = (ax as f32 - ca.x, ay as f32 - ca.y);
        let (px, py) = (cb.x + m[0] * ox + m[1] * oy, cb.y + m[2] * ox + m[3] * oy);
        // Far outside B's crop (or not finite): no match, and no i32 overflow below.
        let lim = (b.width.max(b.height) + 64) as f32;
        if !(px.abs() <= lim && py.abs() <= lim) {
            continue;
        }
        let (pxi, pyi) = (px.round() as i32, py.round() as i32);
        if !b.inside(pxi - r, pyi - r, reach) || !b.inside(pxi + r, pyi + r, reach) {
            continue;
        }
        ncc_grid(
            b,
            pxi,
            pyi,
            r,
            &tpl,
            tpl_norm,
            tpl_sum,
            tpl_mean,
            &mut scores,
        );
        let (mut best, mut bx, mut by) = (f32::MIN, 0, 0);
        for (i, &s) in scores.iter().enumerate() {
            if s > best {
                best = s;
                bx = (i as i32 % (2 * r + 1)) - r;
                by = (i as i32 / (2 * r + 1)) - r;
            }
        }
        if best < params.min_ncc || bx.abs() == r || by.abs() == r {
            continue;
        }
        let w = 2 * r + 1;
        let at = |dx: i32, dy: i32| scores[((dy + r) * w + dx + r) as usize];
        let sx = vertex(at(bx - 1, by), best, at(bx + 1, by));
        let sy = vertex(at(bx, by - 1), best, at(bx, by + 1));
        let matched = Point2 {
            x: (pxi + bx) as f32 + sx,
            y: (pyi + by) as f32 + sy,
        };
        out.0.push(a.to_image(Point2 {
            x: ax as f32,
            y: ay as f32,
        }));
        out.1.push(b.to_image(matched));
    }
}
