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
//! distance is at most [`super::ParallaxConfig::patch_iod_px`] pixels), never the frame, and
//! where its landmarks' templates sit and their contrast ([`Anchor`]), measured once per
//! frame rather than once per pair of frames.
//!
//! Cost (`cargo bench -p liveproof-tests --bench passive -- parallax`): the crop is sampled
//! separably (a weighted sum of rows, then of columns); the search's window sums come from
//! running column sums, its products from `liveproof_simd::correlate9` (AVX2 where the CPU
//! has it, 4-wide portable code elsewhere, the same bits either way).

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
    /// The landmarks matched from this frame ([`FacePatch::anchor`]); empty until then.
    pub anchors: Vec<Anchor>,
}

/// A landmark's template in its frame's crop, placed and measured once per frame rather than
/// once per pair of frames: where it sits and its contrast.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Anchor {
    /// Landmark index.
    pub landmark: usize,
    /// Template centre, crop pixels (the landmark's position rounded).
    pub x: i32,
    pub y: i32,
    /// The landmark's position minus the template centre, crop pixels.
    pub offset: Point2,
    /// The template's contrast ([`MatchParams::min_texture`]'s measure).
    pub texture: f32,
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
        let mut region = alloc::vec![0.0f32; rw * (ry1 - ry0 + 1)];
        for (y, out) in (ry0..=ry1).zip(region.chunks_exact_mut(rw)) {
            let row = &rgb.data[(y * w + rx0) * 3..(y * w + rx1 + 1) * 3];
            for (o, p) in out.iter_mut().zip(row.chunks_exact(3)) {
                *o = 0.299 * p[0] as f32 + 0.587 * p[1] as f32 + 0.114 * p[2] as f32;
            }
        }
        // Bilinear sampling (and the 2×2 supersampling) is separable: each crop row is one
        // weighted sum of region rows, then each crop pixel one weighted sum of that line's
        // columns.
        let sub: &[f32] = if scale < 0.75 {
            &[-0.25 * inv, 0.25 * inv]
        } else {
            &[0.0]
        };
        let xt = taps(n, origin.x, inv, w, (rx0, rx1), sub);
        let yt = taps(n, origin.y, inv, h, (ry0, ry1), sub);
        let mut line = alloc::vec![0.0f32; rw];
        let mut data = Vec::with_capacity(n * n);
        for row_taps in yt.chunks_exact(sub.len()) {
            line.fill(0.0);
            for t in row_taps {
                let (top, bottom) = (&region[t.0 * rw..][..rw], &region[t.1 * rw..][..rw]);
                for ((l, &a), &b) in line.iter_mut().zip(top).zip(bottom) {
                    *l += t.2 * a + t.3 * b;
                }
            }
            data.extend(xt.chunks_exact(sub.len()).map(|col_taps| {
                col_taps
                    .iter()
                    .map(|t| t.2 * line[t.0] + t.3 * line[t.1])
                    .sum::<f32>()
            }));
        }
        Some(FacePatch {
            origin,
            scale,
            width: n,
            height: n,
            data,
            anchors: Vec::new(),
        })
    }

    /// Measures the templates of the landmarks `indices` (image pixels `points`) that can be
    /// matched from this frame: inside the crop with a margin for the gradients, and not flat.
    pub fn anchor(&mut self, points: &[Point2], indices: impl IntoIterator<Item = usize>) {
        let mut anchors = core::mem::take(&mut self.anchors);
        anchors.clear();
        let mut tpl = [0.0; SIDE * SIDE];
        for k in indices {
            let Some(&p) = points.get(k) else {
                continue;
            };
            let c = self.to_crop(p);
            let (x, y) = (c.x.round() as i32, c.y.round() as i32);
            if !self.inside(x, y, HALF + 1) {
                continue;
            }
            if template(self, x, y, &mut tpl).is_none() {
                continue;
            }
            anchors.push(Anchor {
                landmark: k,
                x,
                y,
                offset: Point2 {
                    x: x as f32 - c.x,
                    y: y as f32 - c.y,
                },
                texture: texture(self, x, y),
            });
        }
        self.anchors = anchors;
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

    fn inside(&self, x: i32, y: i32, margin: i32) -> bool {
        x >= margin
            && y >= margin
            && x < self.width as i32 - margin
            && y < self.height as i32 - margin
    }
}

/// One axis of [`FacePatch::crop`]'s sampling: for crop pixel `i` and each offset of `sub`,
/// the two neighbouring source pixels around `origin + (i + ½) / scale − ½ + offset` (clamped
/// to the image's `len` pixels, replicate border), as indices into the luma region
/// `range.0..=range.1`, with their bilinear weights divided by the number of sub-samples.
fn taps(
    n: usize,
    origin: f32,
    inv: f32,
    len: usize,
    range: (usize, usize),
    sub: &[f32],
) -> Vec<(usize, usize, f32, f32)> {
    let last = (len - 1) as f32;
    let share = 1.0 / sub.len() as f32;
    let region = |i: usize| i.clamp(range.0, range.1) - range.0;
    let mut out = Vec::with_capacity(n * sub.len());
    for i in 0..n {
        let centre = origin + (i as f32 + 0.5) * inv - 0.5;
        for off in sub {
            let c = (centre + off).clamp(0.0, last);
            let lo = c as usize;
            let hi = (lo + 1).min(len - 1);
            let f = c - lo as f32;
            out.push((region(lo), region(hi), share * (1.0 - f), share * f));
        }
    }
    out
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

/// The `2·HALF + 1 + 2·margin` pixels of crop row `y` centred on column `cx`.
fn row_around(p: &FacePatch, cx: i32, y: i32, margin: i32) -> &[f32] {
    let start = y as usize * p.width + (cx - HALF - margin) as usize;
    &p.data[start..start + (2 * (HALF + margin) + 1) as usize]
}

/// Template statistics: mean-free values, their norm and the mean.
fn template(p: &FacePatch, cx: i32, cy: i32, out: &mut [f32; SIDE * SIDE]) -> Option<(f32, f32)> {
    for (y, dst) in (cy - HALF..=cy + HALF).zip(out.chunks_exact_mut(SIDE)) {
        dst.copy_from_slice(row_around(p, cx, y, 0));
    }
    let mean = out.iter().sum::<f32>() / out.len() as f32;
    let mut norm = 0.0;
    for v in out.iter_mut() {
        *v -= mean;
        norm += *v * *v;
    }
    (norm > 1e-3).then(|| (norm.sqrt(), mean))
}

/// Smaller eigenvalue of the gradient structure tensor over the template, per pixel.
fn texture(p: &FacePatch, cx: i32, cy: i32) -> f32 {
    let (mut gxx, mut gyy, mut gxy) = ([0.0f32; SIDE], [0.0f32; SIDE], [0.0f32; SIDE]);
    for y in cy - HALF..=cy + HALF {
        let (up, down) = (row_around(p, cx, y - 1, 0), row_around(p, cx, y + 1, 0));
        let wide = row_around(p, cx, y, 1);
        for x in 0..SIDE {
            let gx = 0.5 * (wide[x + 2] - wide[x]);
            let gy = 0.5 * (down[x] - up[x]);
            gxx[x] += gx * gx;
            gyy[x] += gy * gy;
            gxy[x] += gx * gy;
        }
    }
    let n = (SIDE * SIDE) as f32;
    let sum = |v: [f32; SIDE]| v.iter().sum::<f32>() / n;
    let (a, b, c) = (sum(gxx), sum(gyy), sum(gxy));
    0.5 * (a + b) - (0.25 * (a - b) * (a - b) + c * c).sqrt()
}

/// Half side of the widest search (`MatchParams::radius` ≤ 16): 33 positions a row.
const MAX_SEARCH: usize = 33;

/// Side of a template: `2·HALF + 1` pixels, the side `liveproof_simd::correlate9` takes.
const SIDE: usize = (2 * HALF + 1) as usize;
const _: () = assert!(SIDE == liveproof_simd::TEMPLATE);

/// Row stride of [`ncc_grid`]'s search area: what `liveproof_simd::correlate9` needs for the
/// widest row of positions.
const AREA_STRIDE: usize = liveproof_simd::correlate9_stride(MAX_SEARCH);

/// What [`ncc_grid`] reuses from one landmark to the next.
struct NccScratch {
    /// B's pixels around the search, shifted by the template's mean, `AREA_STRIDE` a row.
    area: Vec<f32>,
    /// Σv'·t per position.
    dots: Vec<f32>,
    /// Running Σv' and Σv'² down each area column, from a first row of zeros.
    run_sum: Vec<f64>,
    run_sq: Vec<f64>,
    /// Σv' and Σv'² down a window's rows, per row of positions and area column.
    col_sum: Vec<f32>,
    col_sq: Vec<f32>,
    scores: Vec<f32>,
}

impl NccScratch {
    fn new() -> NccScratch {
        NccScratch {
            area: alloc::vec![0.0; (MAX_SEARCH + SIDE - 1) * AREA_STRIDE],
            dots: alloc::vec![0.0; MAX_SEARCH * MAX_SEARCH],
            run_sum: alloc::vec![0.0; (MAX_SEARCH + SIDE) * (MAX_SEARCH + SIDE - 1)],
            run_sq: alloc::vec![0.0; (MAX_SEARCH + SIDE) * (MAX_SEARCH + SIDE - 1)],
            col_sum: alloc::vec![0.0; MAX_SEARCH * (MAX_SEARCH + SIDE - 1)],
            col_sq: alloc::vec![0.0; MAX_SEARCH * (MAX_SEARCH + SIDE - 1)],
            scores: alloc::vec![0.0; MAX_SEARCH * MAX_SEARCH],
        }
    }
}

/// NCC of the template against frame B's pixels centred at every position of a `(2r+1)²`
/// grid around `(px, py)`, row-major into `scratch.scores[..(2r+1)²]`; false (no scores)
/// only if `correlate9` refused the layout, which the constants rule out.
///
/// Sampling B through the pair's similarity was tried: the bilinear re-sampling blurs B
/// against the template by an amount that depends on the sub-pixel phase, which raised the
/// residual on planes, so B is read on its own pixel grid. B's pixels are shifted by the
/// template's mean so a flat patch's variance does not cancel: Σ(v − m)² = Σv'² − (Σv')²/n
/// and Σ(v − m)·t = Σv'·t − m'·Σt, the quantities of the two-pass form. The window sums Σv'
/// and Σv'² are box sums, separable; the products Σv'·t a cross-correlation
/// (`liveproof_simd::correlate9`).
#[allow(clippy::too_many_arguments)]
fn ncc_grid(
    b: &FacePatch,
    px: i32,
    py: i32,
    r: i32,
    tpl: &[f32; SIDE * SIDE],
    tpl_norm: f32,
    tpl_sum: f32,
    shift: f32,
    scratch: &mut NccScratch,
) -> bool {
    let w = (2 * r + 1) as usize;
    let span = w + SIDE - 1;
    let n = tpl.len() as f32;
    let (x0, y0) = ((px - r - HALF) as usize, (py - r - HALF) as usize);
    let area = &mut scratch.area;
    for (y, dst) in (y0..y0 + span).zip(area.chunks_exact_mut(AREA_STRIDE)) {
        let src = &b.data[y * b.width + x0..][..span];
        for (d, &v) in dst.iter_mut().zip(src) {
            *d = v - shift;
        }
    }
    let dots = &mut scratch.dots[..w * w];
    let scores = &mut scratch.scores;
    // The area is laid out as `correlate9` needs (the constants above), so it never refuses;
    // if it did, no scores means no match.
    if !liveproof_simd::correlate9(area, AREA_STRIDE, w, w, tpl, dots) {
        return false;
    }
    // Window sums of v' and v'², separable: column sums over a window's rows for every row of
    // positions first, as differences of running column sums down the area (f64: exact to far
    // below a grey level's rounding), then sums of a window's columns.
    let cols = MAX_SEARCH + SIDE - 1;
    let (run_sum, run_sq) = (&mut scratch.run_sum, &mut scratch.run_sq);
    for (y, row) in area.chunks_exact(AREA_STRIDE).take(span).enumerate() {
        let (above, here) = run_sum.split_at_mut((y + 1) * cols);
        let (above_q, here_q) = run_sq.split_at_mut((y + 1) * cols);
        let (above, above_q) = (&above[y * cols..][..span], &above_q[y * cols..][..span]);
        for ((((s, q), &a), &aq), &v) in here[..span]
            .iter_mut()
            .zip(&mut here_q[..span])
            .zip(above)
            .zip(above_q)
            .zip(&row[..span])
        {
            let v = f64::from(v);
            *s = a + v;
            *q = aq + v * v;
        }
    }
    let (col_sum, col_sq) = (&mut scratch.col_sum, &mut scratch.col_sq);
    for (dy, (cs, cq)) in col_sum
        .chunks_exact_mut(cols)
        .zip(col_sq.chunks_exact_mut(cols))
        .take(w)
        .enumerate()
    {
        let (top, bottom) = (dy * cols, (dy + SIDE) * cols);
        for (c, (s, q)) in cs[..span].iter_mut().zip(&mut cq[..span]).enumerate() {
            *s = (run_sum[bottom + c] - run_sum[top + c]) as f32;
            *q = (run_sq[bottom + c] - run_sq[top + c]) as f32;
        }
    }
    for (dy, dots) in dots.chunks_exact(w).enumerate() {
        let (cs, cq) = (&col_sum[dy * cols..][..span], &col_sq[dy * cols..][..span]);
        let (mut sum, mut sq) = ([0.0f32; MAX_SEARCH], [0.0f32; MAX_SEARCH]);
        for k in 0..SIDE {
            for ((s, q), (&a, &b)) in sum[..w]
                .iter_mut()
                .zip(&mut sq[..w])
                .zip(cs[k..k + w].iter().zip(&cq[k..k + w]))
            {
                *s += a;
                *q += b;
            }
        }
        // A row of scores, branch-free.
        let row = &mut scores[dy * w..][..w];
        for (((out, &dot), &sum), &sq) in row.iter_mut().zip(dots).zip(&sum).zip(&sq) {
            let mean = sum / n;
            let norm = sq - sum * mean;
            let score = (dot - mean * tpl_sum) / (norm.max(1e-3).sqrt() * tpl_norm);
            *out = if norm <= 1e-3 { -1.0 } else { score };
        }
    }
    true
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

/// Correspondences (image pixels) between frames A and B for A's anchored landmarks
/// ([`FacePatch::anchor`]): each landmark's template in A is found in B near B's own
/// landmark. Unmatched landmarks (low texture, low correlation, peak on the search border,
/// crop edge) are left out.
pub fn correspondences(
    a: &FacePatch,
    a_landmarks: &[Point2],
    b: &FacePatch,
    b_landmarks: &[Point2],
    params: &MatchParams,
    out: &mut (Vec<Point2>, Vec<Point2>),
) {
    out.0.clear();
    out.1.clear();
    let mut tpl = [0.0; SIDE * SIDE];
    let r = params.radius.clamp(1, 16);
    let mut ncc = NccScratch::new();
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
    for anchor in &a.anchors {
        let Some(pb) = b_landmarks.get(anchor.landmark) else {
            continue;
        };
        let (ax, ay) = (anchor.x, anchor.y);
        // `anchor` measured only positions inside the crop; a patch built by hand may hold
        // others, which are no match rather than a read outside the crop.
        if anchor.texture < params.min_texture || !a.inside(ax, ay, HALF + 1) {
            continue;
        }
        let Some((tpl_norm, tpl_mean)) = template(a, ax, ay, &mut tpl) else {
            continue;
        };
        let tpl_sum: f32 = tpl.iter().sum();
        // Predicted position of A's template centre in B.
        let cb = b.to_crop(*pb);
        let (ox, oy) = (anchor.offset.x, anchor.offset.y);
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
        if !ncc_grid(b, pxi, pyi, r, &tpl, tpl_norm, tpl_sum, tpl_mean, &mut ncc) {
            continue;
        }
        let side = 2 * r + 1;
        let scores = &ncc.scores[..(side * side) as usize];
        let (mut best, mut at_best) = (f32::MIN, 0);
        for (i, &s) in scores.iter().enumerate() {
            if s > best {
                best = s;
                at_best = i as i32;
            }
        }
        let (bx, by) = (at_best % side - r, at_best / side - r);
        if best < params.min_ncc || bx.abs() == r || by.abs() == r {
            continue;
        }
        let at = |dx: i32, dy: i32| scores[((dy + r) * side + dx + r) as usize];
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Deterministic pseudo-random bytes (xorshift).
    fn noise(seed: u64, n: usize) -> Vec<u8> {
        let mut s = seed;
        (0..n)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                (s >> 24) as u8
            })
            .collect()
    }

    /// The crop's definition, one sample at a time: luma bilinear (replicate border), 2×2
    /// supersampled below a scale of 0.75.
    fn crop_reference(rgb: &RgbImage, p: &FacePatch) -> Vec<f32> {
        let (w, h) = (rgb.width as usize, rgb.height as usize);
        let px = |x: usize, y: usize| {
            let q = &rgb.data[(y * w + x) * 3..][..3];
            0.299 * q[0] as f32 + 0.587 * q[1] as f32 + 0.114 * q[2] as f32
        };
        let luma = |x: f32, y: f32| {
            let (xf, yf) = (x.clamp(0.0, (w - 1) as f32), y.clamp(0.0, (h - 1) as f32));
            let (xi, yi) = (xf as usize, yf as usize);
            let (x2, y2) = ((xi + 1).min(w - 1), (yi + 1).min(h - 1));
            let (fx, fy) = (xf - xi as f32, yf - yi as f32);
            let top = px(xi, yi) * (1.0 - fx) + px(x2, yi) * fx;
            let bottom = px(xi, y2) * (1.0 - fx) + px(x2, y2) * fx;
            top * (1.0 - fy) + bottom * fy
        };
        let inv = 1.0 / p.scale;
        let mut out = Vec::new();
        for j in 0..p.height {
            for i in 0..p.width {
                let x = p.origin.x + (i as f32 + 0.5) * inv - 0.5;
                let y = p.origin.y + (j as f32 + 0.5) * inv - 0.5;
                out.push(if p.scale < 0.75 {
                    let d = 0.25 * inv;
                    0.25 * (luma(x - d, y - d)
                        + luma(x + d, y - d)
                        + luma(x - d, y + d)
                        + luma(x + d, y + d))
                } else {
                    luma(x, y)
                });
            }
        }
        out
    }

    #[test]
    fn the_separable_crop_equals_per_sample_bilinear_sampling() {
        let rgb = RgbImage {
            width: 160,
            height: 120,
            data: noise(3, 160 * 120 * 3),
        };
        // A face near the top-left corner (the crop reaches past the image: replicate border),
        // shrunk with supersampling (IOD 90 px > 48), and one kept at its size (IOD 40 px).
        for (cx, iod) in [(30.0f32, 90.0f32), (80.0, 40.0)] {
            let landmarks: Vec<Point3> = (0..20)
                .map(|i| Point3 {
                    x: cx + (i % 5) as f32 * 0.2 * iod,
                    y: 25.0 + (i / 5) as f32 * 0.25 * iod,
                    z: 0.0,
                })
                .collect();
            let p = FacePatch::crop(&rgb, &landmarks, iod, 2.4, 48.0).unwrap();
            assert_eq!(p.scale < 0.75, iod > 64.0);
            let want = crop_reference(&rgb, &p);
            let worst = p
                .data
                .iter()
                .zip(&want)
                .map(|(a, b)| (a - b).abs())
                .fold(0.0f32, f32::max);
            assert!(
                worst < 1e-3,
                "IOD {iod}: largest difference {worst} grey levels"
            );
        }
    }

    #[test]
    fn the_ncc_grid_equals_the_two_pass_ncc() {
        let n = 64;
        let mut data: Vec<f32> = noise(5, n * n).iter().map(|&v| v as f32).collect();
        // A flat square: positions whose window lies in it have no variance (score −1).
        for y in 40..60 {
            data[y * n + 40..y * n + 60].fill(117.0);
        }
        let b = FacePatch {
            origin: Point2 { x: 0.0, y: 0.0 },
            scale: 1.0,
            width: n,
            height: n,
            data,
            anchors: Vec::new(),
        };
        let mut tpl = [0.0; SIDE * SIDE];
        let (tpl_norm, tpl_mean) = template(&b, 20, 22, &mut tpl).unwrap();
        let tpl_sum: f32 = tpl.iter().sum();
        let mut scratch = NccScratch::new();
        for (px, py, r) in [(21, 21, 4), (50, 50, 4), (30, 30, 16), (12, 40, 1)] {
            assert!(ncc_grid(
                &b,
                px,
                py,
                r,
                &tpl,
                tpl_norm,
                tpl_sum,
                tpl_mean,
                &mut scratch
            ));
            let w = 2 * r + 1;
            for (i, &got) in scratch.scores[..(w * w) as usize].iter().enumerate() {
                let (cx, cy) = (px - r + i as i32 % w, py - r + i as i32 / w);
                // Two passes in f64: the window's mean, then the centred sums.
                let vals: Vec<f64> = (cy - HALF..=cy + HALF)
                    .flat_map(|y| (cx - HALF..=cx + HALF).map(move |x| (x, y)))
                    .map(|(x, y)| b.data[y as usize * n + x as usize] as f64)
                    .collect();
                let mean = vals.iter().sum::<f64>() / vals.len() as f64;
                let var: f64 = vals.iter().map(|v| (v - mean) * (v - mean)).sum();
                let dot: f64 = vals
                    .iter()
                    .zip(&tpl)
                    .map(|(v, &t)| (v - mean) * t as f64)
                    .sum();
                let want = if var < 1e-6 {
                    -1.0
                } else {
                    dot / (var.sqrt() * tpl_norm as f64)
                };
                assert!(
                    (got as f64 - want).abs() < 1e-4,
                    "({cx}, {cy}) around ({px}, {py}): {got} against {want}"
                );
            }
        }
        // The template's own position matches itself.
        assert!(ncc_grid(
            &b,
            20,
            22,
            4,
            &tpl,
            tpl_norm,
            tpl_sum,
            tpl_mean,
            &mut scratch
        ));
        assert!(
            (scratch.scores[40] - 1.0).abs() < 1e-5,
            "{}",
            scratch.scores[40]
        );
    }
}
