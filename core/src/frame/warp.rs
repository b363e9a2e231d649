//! Image math on [`RgbImage`]: bilinear resize, crop, affine warp, and the fused
//! warp → normalised tensor used for model input.
//!
//! Sampling convention (OpenCV `warpAffine` / `resize` with `INTER_LINEAR`): integer
//! coordinates are pixel centres. A destination pixel `(i, j)` (column, row) takes the
//! bilinear sample of the source at `src_from_dst · (i, j)`. Sample positions are rounded to
//! 1/2048 px and the weights are 11-bit integers (OpenCV uses 1/32 px for `warpAffine`), and
//! each result is rounded to nearest: within ±1 level of an exact bilinear and of OpenCV.

use crate::geometry::Affine2;

use super::convert::rgb_to_luma_row;
use super::source::{lerp, with_taps, Orient, RgbTaps, Taps, TapsFn, WBITS, WONE};
use super::{check_size, Frame, FrameError, GrayImage, RgbImage};

/// What a sample outside the source image reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Border {
    /// A fixed RGB colour (OpenCV `BORDER_CONSTANT`). Edge pixels blend with it over the
    /// half pixel beyond the image border.
    Constant([u8; 3]),
    /// The nearest edge pixel (OpenCV `BORDER_REPLICATE`).
    Replicate,
}

/// Memory layout of a 3-channel float tensor with batch 1.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TensorLayout {
    /// `[1, H, W, 3]`: channels interleaved (TFLite / MediaPipe models).
    Nhwc,
    /// `[1, 3, H, W]`: one plane per channel (ONNX exports of PyTorch models).
    Nchw,
}

/// Per-channel normalisation of 0–255 values, channel order R, G, B:
/// `out = (v − mean) × inv_std`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Normalize {
    pub mean: [f32; 3],
    pub inv_std: [f32; 3],
}

impl Normalize {
    /// Raw 0–255 values.
    pub const IDENTITY: Normalize = Normalize {
        mean: [0.0; 3],
        inv_std: [1.0; 3],
    };
    /// 0–255 → 0–1.
    pub const UNIT: Normalize = Normalize {
        mean: [0.0; 3],
        inv_std: [1.0 / 255.0; 3],
    };
    /// 0–255 → −1–1 (MediaPipe face detector and FaceMesh).
    pub const SIGNED_UNIT: Normalize = Normalize {
        mean: [127.5; 3],
        inv_std: [1.0 / 127.5; 3],
    };

    /// From a mean and a standard deviation per channel (0–255 scale). A zero std gives a
    /// non-finite `inv_std`, which the tensor functions reject.
    pub fn from_mean_std(mean: [f32; 3], std: [f32; 3]) -> Normalize {
        Normalize {
            mean,
            inv_std: [1.0 / std[0], 1.0 / std[1], 1.0 / std[2]],
        }
    }

    fn check(&self) -> Result<(), FrameError> {
        if self.mean.iter().chain(&self.inv_std).all(|v| v.is_finite()) {
            Ok(())
        } else {
            Err(FrameError::NonFiniteNormalize {
                mean: self.mean,
                inv_std: self.inv_std,
            })
        }
    }
}

/// Where a sample position of the upright image lies in the source buffer, both in `WBITS`
/// fixed point. The positions are computed and rounded in upright coordinates, exactly as for
/// an upright image, then mapped in integers, so a rotated or mirrored buffer gives the same
/// bytes as its upright conversion.
trait Place: Copy {
    /// True when the buffer's x axis is the upright y axis (a quarter turn).
    fn swapped(self) -> bool;
    /// Buffer x of the upright coordinate that feeds it (`qu`, or `qv` when swapped).
    fn x(self, q: i32) -> i32;
    /// Buffer y of the upright coordinate that feeds it (`qv`, or `qu` when swapped).
    fn y(self, q: i32) -> i32;
    /// Buffer position of upright position `(qu, qv)`.
    #[inline(always)]
    fn place(self, qu: i32, qv: i32) -> (i32, i32) {
        if self.swapped() {
            (self.x(qv), self.y(qu))
        } else {
            (self.x(qu), self.y(qv))
        }
    }
    /// The smallest upright coordinate of the fast path (which reads two taps per axis with
    /// no border test): above 0 for a mirrored axis, where an upright tap pair `(k, k + 1)`
    /// with weight `w` is the buffer pair `(x − 1, x)` with weight `1 − w`, but `w = 0` gives
    /// `(x, x + 1)` with weight 0, and at `k = 0` that `x + 1` is one past the edge. Such a
    /// position takes the per-pixel path, which tests the border.
    const LOW: f32;
}

/// The buffer is the upright image.
#[derive(Clone, Copy)]
struct Upright;

impl Place for Upright {
    #[inline(always)]
    fn swapped(self) -> bool {
        false
    }

    #[inline(always)]
    fn x(self, q: i32) -> i32 {
        q
    }

    #[inline(always)]
    fn y(self, q: i32) -> i32 {
        q
    }

    const LOW: f32 = 0.0;
}

/// A rotated or mirrored buffer: each buffer axis is one upright axis, possibly reversed,
/// `x = x0 ± q` (the sign as a mask: 0 keeps `q`, −1 negates it by `(q ^ m) − m`).
#[derive(Clone, Copy)]
struct Oriented {
    swapped: bool,
    x0: i32,
    x_neg: i32,
    y0: i32,
    y_neg: i32,
}

impl Oriented {
    /// From [`Orient::fixed`]'s `[x0, xu, xv, y0, yu, yv]`: one of `xu`, `xv` is ±1 and the
    /// other 0, and so for `yu`, `yv`.
    fn new([x0, xu, xv, y0, yu, yv]: [i32; 6]) -> Oriented {
        let mask = |s: i32| if s < 0 { -1 } else { 0 };
        Oriented {
            swapped: xu == 0,
            x0,
            x_neg: mask(xu + xv),
            y0,
            y_neg: mask(yu + yv),
        }
    }
}

impl Place for Oriented {
    #[inline(always)]
    fn swapped(self) -> bool {
        self.swapped
    }

    #[inline(always)]
    fn x(self, q: i32) -> i32 {
        self.x0 + ((q ^ self.x_neg) - self.x_neg)
    }

    #[inline(always)]
    fn y(self, q: i32) -> i32 {
        self.y0 + ((q ^ self.y_neg) - self.y_neg)
    }

    const LOW: f32 = 1.0 / 512.0;
}

/// Bilinear RGB sampler over a validated image, with a border. Coordinates are in the upright
/// image (`w × h`); `place` maps them into the buffer (`bw × bh`) the taps read.
struct Sampler<'a, S: Taps, P: Place> {
    taps: &'a S,
    place: P,
    w: usize,
    h: usize,
    bw: usize,
    bh: usize,
    /// `w + 1`, `h + 1`: coordinates are clamped to `[-2, side + 1]`, where every tap is
    /// already outside, so huge or NaN coordinates become plain border samples.
    wmax: f32,
    hmax: f32,
    /// The largest coordinate whose upper tap is still inside, less a margin for rounding.
    x_in: f32,
    y_in: f32,
    border: Border,
}

impl<'a, S: Taps> Sampler<'a, S, Upright> {
    /// Over an image that is its own upright image (the taps' size).
    fn upright(taps: &'a S, border: Border) -> Self {
        Sampler::new(taps, Upright, taps.size(), border)
    }
}

impl<'a, S: Taps, P: Place> Sampler<'a, S, P> {
    /// `(w, h)`: the upright size, which `place` maps onto the taps' buffer.
    fn new(taps: &'a S, place: P, (w, h): (usize, usize), border: Border) -> Self {
        let (bw, bh) = taps.size();
        Sampler {
            taps,
            place,
            w,
            h,
            bw,
            bh,
            wmax: w as f32 + 1.0,
            hmax: h as f32 + 1.0,
            x_in: w as f32 - 1.0 - 1.0 / 512.0,
            y_in: h as f32 - 1.0 - 1.0 / 512.0,
            border,
        }
    }

    /// Coordinate in 1/2048 px fixed point, rounded to nearest: the tap is `q >> 11`
    /// (floor) and the upper tap's weight `q & 2047` ([`liveproof_simd::fixed`]).
    #[inline(always)]
    fn fixed(v: f32, max: f32) -> i32 {
        liveproof_simd::fixed(v, max)
    }

    /// Buffer pixel `(x, y)`, or the border's answer outside the buffer.
    #[inline(always)]
    fn tap(&self, x: isize, y: isize) -> [u8; 3] {
        let (x, y) = match self.border {
            Border::Replicate => (
                x.clamp(0, self.bw as isize - 1) as usize,
                y.clamp(0, self.bh as isize - 1) as usize,
            ),
            Border::Constant(c) => {
                if x < 0 || y < 0 || x as usize >= self.bw || y as usize >= self.bh {
                    return c;
                }
                (x as usize, y as usize)
            }
        };
        self.taps.rgb(x, y)
    }

    #[inline(always)]
    fn sample(&self, sx: f32, sy: f32) -> [u8; 3] {
        let (qx, qy) = self
            .place
            .place(Self::fixed(sx, self.wmax), Self::fixed(sy, self.hmax));
        let (x0, y0) = ((qx >> WBITS) as isize, (qy >> WBITS) as isize);
        let (wx, wy) = ((qx as u32) & (WONE - 1), (qy as u32) & (WONE - 1));
        // Negative taps wrap to huge values, so one unsigned compare per axis.
        if (x0 as usize) < self.bw - 1 && (y0 as usize) < self.bh - 1 {
            self.taps.bilinear(x0 as usize, y0 as usize, wx, wy)
        } else {
            let p00 = self.tap(x0, y0);
            let p01 = self.tap(x0 + 1, y0);
            let p10 = self.tap(x0, y0 + 1);
            let p11 = self.tap(x0 + 1, y0 + 1);
            core::array::from_fn(|c| lerp(p00[c], p01[c], p10[c], p11[c], wx, wy))
        }
    }

    /// True when `(x, y)` and all its bilinear taps are inside the upright image (and, for a
    /// mirrored buffer, in the buffer: see [`Place::LOW`]).
    #[inline(always)]
    fn inside(&self, x: f32, y: f32) -> bool {
        x >= P::LOW && y >= P::LOW && x <= self.x_in && y <= self.y_in
    }

    /// Samples destination row `j`, columns `i0 .. i0 + out.len()/3`, into `out` (RGB).
    ///
    /// A segment whose two ends are inside the image is inside all along (the map is affine),
    /// so it needs no border tests. (Stepping the coordinates in fixed point instead of
    /// computing each one moved some samples by one level and flipped a borderline synthetic
    /// parallax decision: the results here stay bit-identical to the per-pixel path.)
    #[inline(always)]
    fn row(&self, m: &[f32; 6], j: usize, i0: usize, out: &mut [u8]) {
        let n = out.len() / 3;
        if n == 0 {
            return;
        }
        let jf = j as f32;
        let (bx, by) = (m[1] * jf + m[2], m[4] * jf + m[5]);
        let (first, last) = (i0 as f32, (i0 + n - 1) as f32);
        let (xa, ya) = (m[0] * first + bx, m[3] * first + by);
        let (xz, yz) = (m[0] * last + bx, m[3] * last + by);
        if let Border::Constant(c) = self.border {
            // Both ends beyond the same edge by more than a tap: so is every sample between
            // them, and the blend of four border taps is the border itself (a letterbox's
            // bands).
            let beyond = |a: f32, b: f32, side: usize| {
                (a <= -1.5 && b <= -1.5) || (a >= side as f32 + 0.5 && b >= side as f32 + 0.5)
            };
            if beyond(xa, xz, self.w) || beyond(ya, yz, self.h) {
                for o in out.chunks_exact_mut(3) {
                    o.copy_from_slice(&c);
                }
                return;
            }
        }
        if self.inside(xa, ya) && self.inside(xz, yz) {
            // The same coordinates and rounding as `sample` (bit-identical results), without
            // its border branch. The coordinates of a stretch are computed first
            // (`liveproof-simd`'s kernel where the CPU has one), then the taps are read.
            // Which upright coordinate feeds each buffer axis: the same float expressions and
            // clamps as the upright image's, only assigned to the other axis on a quarter turn.
            let (ax, ay) = ((m[0], bx, self.wmax), (m[3], by, self.hmax));
            let ((mx, cx, xmax), (my, cy, ymax)) = if self.place.swapped() {
                (ay, ax)
            } else {
                (ax, ay)
            };
            let (mut fx, mut fy) = ([0i32; SEG], [0i32; SEG]);
            let (mut qx, mut qy) = ([0u32; SEG], [0u32; SEG]);
            for (c, o) in out.chunks_mut(3 * SEG).enumerate() {
                let (start, n) = (i0 + c * SEG, o.len() / 3);
                let (fx, fy) = (&mut fx[..n], &mut fy[..n]);
                liveproof_simd::fixed_positions(mx, cx, start, xmax, fx);
                liveproof_simd::fixed_positions(my, cy, start, ymax, fy);
                // Inside, so not negative.
                let (qx, qy) = (&mut qx[..n], &mut qy[..n]);
                for (q, &f) in qx.iter_mut().zip(fx.iter()) {
                    *q = self.place.x(f) as u32;
                }
                for (q, &f) in qy.iter_mut().zip(fy.iter()) {
                    *q = self.place.y(f) as u32;
                }
                self.taps.bilinear_row(qx, qy, o);
            }
            return;
        }
        for (k, o) in out.chunks_exact_mut(3).enumerate() {
            let i = (i0 + k) as f32;
            o.copy_from_slice(&self.sample(m[0] * i + bx, m[3] * i + by));
        }
    }
}

/// Checks a source image and an output size shared by the warp functions.
fn check_warp(src: &RgbImage, m: &Affine2, dst_w: u32, dst_h: u32) -> Result<(), FrameError> {
    src.check()?;
    check_size("source image", src.width, src.height)?;
    check_size("output", dst_w, dst_h)?;
    if !m.is_finite() {
        return Err(FrameError::NonFiniteTransform { m: m.m });
    }
    Ok(())
}

/// Affine warp with bilinear sampling into `out` (`dst_w × dst_h`, allocation reused).
///
/// Convention (OpenCV `warpAffine` with `WARP_INVERSE_MAP`): integer coordinates are pixel
/// centres, and destination pixel `(i, j)` (column, row) samples the source at
/// `src_from_dst.apply((i, j))`. So a pure translation by `(0.5, 0)` averages horizontal
/// neighbours, and mapping a source rectangle whose *edges* are `[x0, x1]` onto `[0, W]`
/// needs the half-pixel terms `src = (dst + 0.5) · s − 0.5 + x0`. Samples outside the
/// source read `border`.
pub fn warp_affine_into(
    src: &RgbImage,
    src_from_dst: &Affine2,
    dst_w: u32,
    dst_h: u32,
    border: Border,
    out: &mut RgbImage,
) -> Result<(), FrameError> {
    check_warp(src, src_from_dst, dst_w, dst_h)?;
    out.reshape(dst_w, dst_h);
    let taps = RgbTaps::of(src);
    let s = Sampler::upright(&taps, border);
    let row_bytes = dst_w as usize * 3;
    for (j, row) in out.data.chunks_exact_mut(row_bytes).enumerate() {
        s.row(&src_from_dst.m, j, 0, row);
    }
    Ok(())
}

/// Pixels per segment of the tensor path's stack buffer.
const SEG: usize = 64;

/// Fused affine warp → normalised float tensor (batch 1, RGB): the model-input hot path,
/// with no intermediate image.
///
/// Sampling is exactly [`warp_affine_into`]'s (same convention, same rounding to 0–255), then
/// each channel is normalised as `(v − mean[c]) × inv_std[c]`. `out` must hold exactly
/// `3 × dst_w × dst_h` floats, laid out per `layout`.
#[allow(clippy::too_many_arguments)] // mirrors warp_affine_into plus the tensor's own 3
pub fn warp_affine_to_tensor(
    src: &RgbImage,
    src_from_dst: &Affine2,
    dst_w: u32,
    dst_h: u32,
    border: Border,
    layout: TensorLayout,
    norm: &Normalize,
    out: &mut [f32],
) -> Result<(), FrameError> {
    check_warp(src, src_from_dst, dst_w, dst_h)?;
    let taps = RgbTaps::of(src);
    warp_to_tensor(
        &Sampler::upright(&taps, border),
        &src_from_dst.m,
        (dst_w, dst_h),
        layout,
        norm,
        out,
    )
}

/// [`warp_affine_to_tensor`] reading a camera frame in place: `src_from_dst` maps tensor
/// pixels to the frame's UPRIGHT image (rotation and mirroring applied, as
/// [`Frame::to_rgb_into`] gives it), but the upright image is never built. Each sample is
/// bit-identical to the one the upright image would give, for every format, rotation and
/// mirroring: positions are computed and rounded in upright coordinates, then mapped into the
/// buffer in integers. (Composing the map with the orientation in floats, as this did before,
/// could round a coordinate across a 1/2048-px step and move a sample by one level; the
/// `frame` fuzz target found one.)
#[allow(clippy::too_many_arguments)] // warp_affine_to_tensor's, with a frame for the image
pub fn warp_frame_to_tensor(
    frame: &Frame<'_>,
    src_from_dst: &Affine2,
    dst_w: u32,
    dst_h: u32,
    border: Border,
    layout: TensorLayout,
    norm: &Normalize,
    out: &mut [f32],
) -> Result<(), FrameError> {
    check_size("output", dst_w, dst_h)?;
    if !src_from_dst.is_finite() {
        return Err(FrameError::NonFiniteTransform { m: src_from_dst.m });
    }
    let orient = Orient::new(
        frame.width() as usize,
        frame.height() as usize,
        frame.rotation(),
        frame.mirrored(),
    );
    let (uw, uh) = frame.upright_size();
    struct Job<'a> {
        m: [f32; 6],
        orient: Option<Oriented>,
        upright: (usize, usize),
        size: (u32, u32),
        border: Border,
        layout: TensorLayout,
        norm: &'a Normalize,
        out: &'a mut [f32],
    }
    impl Job<'_> {
        fn run<S: Taps, P: Place>(self, taps: &S, place: P) -> Result<(), FrameError> {
            warp_to_tensor(
                &Sampler::new(taps, place, self.upright, self.border),
                &self.m,
                self.size,
                self.layout,
                self.norm,
                self.out,
            )
        }
    }
    impl TapsFn<Result<(), FrameError>> for Job<'_> {
        fn call<S: Taps>(self, taps: &S) -> Result<(), FrameError> {
            match self.orient {
                None => self.run(taps, Upright),
                Some(o) => self.run(taps, o),
            }
        }
    }
    with_taps(
        frame,
        Job {
            m: src_from_dst.m,
            orient: (!orient.is_identity()).then(|| Oriented::new(orient.fixed())),
            upright: (uw as usize, uh as usize),
            size: (dst_w, dst_h),
            border,
            layout,
            norm,
            out,
        },
    )
}

/// The tensor warp through a sampler, `m` in the sampler's upright coordinates.
fn warp_to_tensor<S: Taps, P: Place>(
    s: &Sampler<'_, S, P>,
    m: &[f32; 6],
    (dst_w, dst_h): (u32, u32),
    layout: TensorLayout,
    norm: &Normalize,
    out: &mut [f32],
) -> Result<(), FrameError> {
    norm.check()?;
    let (w, h) = (dst_w as usize, dst_h as usize);
    let expected = 3 * w * h;
    if out.len() != expected {
        return Err(FrameError::TensorLength {
            width: dst_w,
            height: dst_h,
            expected,
            got: out.len(),
        });
    }
    let mut buf = [0u8; SEG * 3];
    let plane = w * h;
    for j in 0..h {
        let mut i0 = 0;
        while i0 < w {
            let n = SEG.min(w - i0);
            let px = &mut buf[..n * 3];
            s.row(m, j, i0, px);
            let at = j * w + i0;
            // The lengths match by construction (`out` was checked above).
            let written = match layout {
                TensorLayout::Nhwc => liveproof_simd::normalize_interleaved(
                    px,
                    norm.mean,
                    norm.inv_std,
                    &mut out[at * 3..(at + n) * 3],
                ),
                TensorLayout::Nchw => {
                    let (r, rest) = out[at..].split_at_mut(plane);
                    let (g, b) = rest.split_at_mut(plane);
                    liveproof_simd::normalize_to_planes(
                        px,
                        norm.mean,
                        norm.inv_std,
                        [&mut r[..n], &mut g[..n], &mut b[..n]],
                    )
                }
            };
            debug_assert!(written);
            i0 += n;
        }
    }
    Ok(())
}

/// Bilinear resize to `dst_w × dst_h` (OpenCV `resize`, `INTER_LINEAR`): destination pixel
/// `d` samples source `(d + 0.5) · (src / dst) − 0.5`, clamped to the edge pixels.
pub fn resize_bilinear_into(
    src: &RgbImage,
    dst_w: u32,
    dst_h: u32,
    out: &mut RgbImage,
) -> Result<(), FrameError> {
    src.check()?;
    check_size("source image", src.width, src.height)?;
    check_size("output", dst_w, dst_h)?;
    let sx = src.width as f32 / dst_w as f32;
    let sy = src.height as f32 / dst_h as f32;
    let m = Affine2::new([sx, 0.0, 0.5 * sx - 0.5, 0.0, sy, 0.5 * sy - 0.5]);
    warp_affine_into(src, &m, dst_w, dst_h, Border::Replicate, out)
}

/// Copies the `w × h` block whose top-left pixel is `(x, y)` into `out` (allocation reused).
pub fn crop_into(
    src: &RgbImage,
    x: u32,
    y: u32,
    w: u32,
    h: u32,
    out: &mut RgbImage,
) -> Result<(), FrameError> {
    src.check()?;
    check_size("crop", w, h)?;
    let fits = |o: u32, n: u32, side: u32| o.checked_add(n).is_some_and(|e| e <= side);
    if !fits(x, w, src.width) || !fits(y, h, src.height) {
        return Err(FrameError::CropOutOfBounds {
            x,
            y,
            width: w,
            height: h,
            image_width: src.width,
            image_height: src.height,
        });
    }
    out.reshape(w, h);
    let (src_row, dst_row) = (src.width as usize * 3, w as usize * 3);
    let start = y as usize * src_row + x as usize * 3;
    for (d, s) in out
        .data
        .chunks_exact_mut(dst_row)
        .zip(src.data[start..].chunks(src_row))
    {
        d.copy_from_slice(&s[..dst_row]);
    }
    Ok(())
}

/// BT.601 integer luma of an RGB image into `out` (allocation reused), as
/// [`crate::frame::Frame::to_luma_into`] does for RGB frames.
pub fn rgb_to_luma_into(src: &RgbImage, out: &mut GrayImage) -> Result<(), FrameError> {
    src.check()?;
    out.reshape(src.width, src.height);
    rgb_to_luma_row(&src.data, &mut out.data);
    Ok(())
}

/// `src_from_dst` that fits a `src_w × src_h` image into `dst_w × dst_h`, keeping the aspect
/// ratio, centred (letterbox), for [`warp_affine_to_tensor`].
///
/// Scale `s = min(dst_w / src_w, dst_h / src_h)`; the source's pixel area `[0, src_w] ×
/// [0, src_h]` (edges) maps onto `[pad_x, pad_x + s·src_w] × [pad_y, pad_y + s·src_h]` with
/// `pad_x = (dst_w − s·src_w) / 2`, `pad_y = (dst_h − s·src_h) / 2` (fractional pads allowed,
/// equal on both sides). In the pixel-centre convention that is
/// `src = (dst + 0.5 − pad) / s − 0.5`. The padding reads the warp's `border` (use
/// `Border::Constant`). Map detections back with `.apply()` of this matrix (pixel centres)
/// or its inverse for the other way. Zero sides are treated as 1.
pub fn letterbox_transform(src_w: u32, src_h: u32, dst_w: u32, dst_h: u32) -> Affine2 {
    let (sw, sh) = (src_w.max(1) as f32, src_h.max(1) as f32);
    let (dw, dh) = (dst_w.max(1) as f32, dst_h.max(1) as f32);
    let s = (dw / sw).min(dh / sh);
    let pad_x = 0.5 * (dw - s * sw);
    let pad_y = 0.5 * (dh - s * sh);
    let inv = 1.0 / s;
    Affine2::new([
        inv,
        0.0,
        (0.5 - pad_x) * inv - 0.5,
        0.0,
        inv,
        (0.5 - pad_y) * inv - 0.5,
    ])
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;
    use alloc::vec;
    use alloc::vec::Vec;

    /// An image whose three channels are `v`, `v + 1`, `255 − v`.
    fn img(w: u32, h: u32, vals: &[u8]) -> RgbImage {
        let data = vals
            .iter()
            .flat_map(|&v| [v, v.wrapping_add(1), 255 - v])
            .collect();
        RgbImage::from_raw(w, h, data).unwrap()
    }

    /// Channel 0 of every pixel.
    fn red(im: &RgbImage) -> Vec<u8> {
        im.data.chunks_exact(3).map(|p| p[0]).collect()
    }

    #[test]
    fn resize_2x2_up_to_4x4_opencv_half_pixel() {
        // src = (d + 0.5)/2 − 0.5 → d = 0: −0.25 (edge), 1: 0.25, 2: 0.75, 3: 1.25 (edge).
        // Row 1 = 0.75·row0 + 0.25·row1: 0.75·25 + 0.25·160 = 58.75 → 59, etc.
        let src = img(2, 2, &[0, 100, 200, 40]);
        let mut out = RgbImage::default();
        resize_bilinear_into(&src, 4, 4, &mut out).unwrap();
        #[rustfmt::skip]
        let want = [
            0, 25, 75, 100,
            50, 59, 76, 85,
            150, 126, 79, 55,
            200, 160, 80, 40,
        ];
        assert_eq!(red(&out), want);
        // Channel 2 is 255 − v, interpolated independently: 255 − 58.75 = 196.25 → 196.
        assert_eq!(out.get(1, 1).map(|p| p[2]), Some(196));
    }

    #[test]
    fn resize_halving_averages_pairs() {
        // 4×2 → 2×1: src x = (d + 0.5)·2 − 0.5 = 0.5, 2.5; y = 0.5 → mean of 2×2 blocks.
        let src = img(4, 2, &[10, 20, 100, 200, 30, 41, 0, 50]);
        let mut out = RgbImage::default();
        resize_bilinear_into(&src, 2, 1, &mut out).unwrap();
        // (10+20+30+41)/4 = 25.25 → 25; (100+200+0+50)/4 = 87.5 → 88.
        assert_eq!(red(&out), [25, 88]);
    }

    #[test]
    fn translation_by_half_pixel_averages_neighbours() {
        let src = img(3, 1, &[10, 21, 40]);
        let m = Affine2::new([1.0, 0.0, 0.5, 0.0, 1.0, 0.0]);
        let mut out = RgbImage::default();
        warp_affine_into(&src, &m, 3, 1, Border::Replicate, &mut out).unwrap();
        // (10+21)/2 = 15.5 → 16; (21+40)/2 = 30.5 → 31; x = 2.5 replicates 40.
        assert_eq!(red(&out), [16, 31, 40]);
        warp_affine_into(&src, &m, 3, 1, Border::Constant([0, 0, 0]), &mut out).unwrap();
        // Last pixel blends 40 with the black border: 20.
        assert_eq!(red(&out), [16, 31, 20]);
        // Channels 1, 2: (41 + 0)/2 = 20.5 → 21, (215 + 0)/2 = 107.5 → 108.
        assert_eq!(out.get(2, 0), Some([20, 21, 108]));
    }

    #[test]
    fn identity_warp_copies_exactly() {
        let vals: Vec<u8> = (0..35).map(|v| (v * 7) as u8).collect();
        let src = img(7, 5, &vals);
        let mut out = RgbImage::default();
        warp_affine_into(
            &src,
            &Affine2::IDENTITY,
            7,
            5,
            Border::Constant([1, 2, 3]),
            &mut out,
        )
        .unwrap();
        assert_eq!(out, src);
    }

    #[test]
    fn rotation_by_90_degrees_warp() {
        // Clockwise 90° of a 3×2 image (a..f = 1..6) is 2×3 [d a; e b; f c]:
        // dst (i, j) reads src (j, 1 − i), i.e. src_from_dst = [0 1 0; −1 0 1].
        let src = img(3, 2, &[1, 2, 3, 4, 5, 6]);
        let m = Affine2::new([0.0, 1.0, 0.0, -1.0, 0.0, 1.0]);
        let mut out = RgbImage::default();
        warp_affine_into(&src, &m, 2, 3, Border::Constant([0; 3]), &mut out).unwrap();
        assert_eq!((out.width, out.height), (2, 3));
        assert_eq!(red(&out), [4, 1, 5, 2, 6, 3]);
    }

    #[test]
    fn crop_copies_block_and_checks_bounds() {
        let src = img(3, 2, &[1, 2, 3, 4, 5, 6]);
        let mut out = RgbImage::default();
        crop_into(&src, 1, 0, 2, 2, &mut out).unwrap();
        assert_eq!((out.width, out.height), (2, 2));
        assert_eq!(red(&out), [2, 3, 5, 6]);
        crop_into(&src, 0, 1, 3, 1, &mut out).unwrap();
        assert_eq!(red(&out), [4, 5, 6]);
        let e = crop_into(&src, 2, 0, 2, 2, &mut out).unwrap_err();
        assert_eq!(
            e,
            FrameError::CropOutOfBounds {
                x: 2,
                y: 0,
                width: 2,
                height: 2,
                image_width: 3,
                image_height: 2
            }
        );
        assert_eq!(
            e.to_string(),
            "crop 2×2 at (2, 0) exceeds the 3×2 image; expected x + width ≤ 3 and y + height ≤ 2"
        );
        assert!(matches!(
            crop_into(&src, u32::MAX, 0, 2, 1, &mut out),
            Err(FrameError::CropOutOfBounds { .. })
        ));
        assert_eq!(
            crop_into(&src, 0, 0, 0, 1, &mut out).unwrap_err(),
            FrameError::ZeroSize {
                what: "crop",
                width: 0,
                height: 1
            }
        );
    }

    #[test]
    fn non_finite_transform_is_an_error() {
        let src = img(2, 2, &[1, 2, 3, 4]);
        let mut out = RgbImage::default();
        let mut t = [0.0f32; 12];
        for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
            let m = Affine2::new([1.0, 0.0, bad, 0.0, 1.0, 0.0]);
            let e = warp_affine_into(&src, &m, 2, 2, Border::Replicate, &mut out).unwrap_err();
            assert!(matches!(e, FrameError::NonFiniteTransform { .. }), "{e}");
            let e = warp_affine_to_tensor(
                &src,
                &m,
                2,
                2,
                Border::Replicate,
                TensorLayout::Nhwc,
                &Normalize::UNIT,
                &mut t,
            )
            .unwrap_err();
            assert!(matches!(e, FrameError::NonFiniteTransform { .. }));
        }
        let m = Affine2::new([f32::NAN, 0.0, 0.0, 0.0, 1.0, 0.0]);
        let e = warp_affine_into(&src, &m, 2, 2, Border::Replicate, &mut out).unwrap_err();
        assert!(e.to_string().contains("non-finite coefficient"));
    }

    #[test]
    fn huge_finite_transform_reads_border() {
        // Coordinates overflow to ±inf or NaN inside the warp: every sample is border.
        let src = img(2, 2, &[1, 2, 3, 4]);
        let mut out = RgbImage::default();
        // y ≥ 3e38 everywhere; x is NaN (inf − inf) from (2, 2) on.
        let m = Affine2::new([3e38, -3e38, 3e38, 3e38, 3e38, 3e38]);
        assert!(m.apply(crate::geometry::Point2::new(2.0, 2.0)).x.is_nan());
        warp_affine_into(&src, &m, 4, 3, Border::Constant([7, 8, 9]), &mut out).unwrap();
        assert!(out.data.chunks_exact(3).all(|p| p == [7, 8, 9]));
    }

    #[test]
    fn nan_and_infinite_coordinates_sample_the_border() {
        let src = img(2, 2, &[1, 2, 3, 4]);
        let taps = RgbTaps::of(&src);
        let s = Sampler::upright(&taps, Border::Constant([7, 8, 9]));
        type S<'a> = Sampler<'a, RgbTaps<'a>, Upright>;
        assert_eq!(S::fixed(f32::NAN, 3.0), -2 * 2048);
        assert_eq!(S::fixed(-0.25, 3.0), -512);
        assert_eq!(S::fixed(1e30, 3.0), 3 * 2048);
        assert_eq!(s.sample(f32::NAN, 0.0), [7, 8, 9]);
        assert_eq!(s.sample(0.0, f32::NAN), [7, 8, 9]);
        assert_eq!(s.sample(f32::INFINITY, 1.0), [7, 8, 9]);
        assert_eq!(s.sample(f32::NEG_INFINITY, 1.0), [7, 8, 9]);
        assert_eq!(s.sample(1.0, 1.0), [4, 5, 251]);
        let r = Sampler::upright(&taps, Border::Replicate);
        assert_eq!(r.sample(f32::INFINITY, 0.0), [2, 3, 253]);
        assert_eq!(r.sample(-1e30, 1e30), [3, 4, 252]);
    }

    #[test]
    fn bad_sizes_are_errors() {
        let src = img(2, 2, &[1, 2, 3, 4]);
        let mut out = RgbImage::default();
        assert_eq!(
            resize_bilinear_into(&src, 0, 4, &mut out).unwrap_err(),
            FrameError::ZeroSize {
                what: "output",
                width: 0,
                height: 4
            }
        );
        assert!(matches!(
            warp_affine_into(
                &src,
                &Affine2::IDENTITY,
                20000,
                1,
                Border::Replicate,
                &mut out
            ),
            Err(FrameError::TooLarge { what: "output", .. })
        ));
        let broken = RgbImage {
            width: 2,
            height: 2,
            data: vec![0; 11],
        };
        assert_eq!(
            resize_bilinear_into(&broken, 2, 2, &mut out).unwrap_err(),
            FrameError::ImageLength {
                what: "RGB image",
                width: 2,
                height: 2,
                channels: 3,
                expected: 12,
                got: 11
            }
        );
        let empty = RgbImage::default();
        assert_eq!(
            warp_affine_into(
                &empty,
                &Affine2::IDENTITY,
                2,
                2,
                Border::Replicate,
                &mut out
            )
            .unwrap_err(),
            FrameError::ZeroSize {
                what: "source image",
                width: 0,
                height: 0
            }
        );
    }

    #[test]
    fn tensor_layouts_and_normalisation() {
        // 2×1 image: pixel 0 = (10, 11, 245), pixel 1 = (20, 21, 235).
        let src = img(2, 1, &[10, 20]);
        let norm = Normalize {
            mean: [10.0, 20.0, 30.0],
            inv_std: [0.5, 0.25, 0.1],
        };
        let mut t = [0.0f32; 6];
        let m = Affine2::IDENTITY;
        warp_affine_to_tensor(
            &src,
            &m,
            2,
            1,
            Border::Replicate,
            TensorLayout::Nhwc,
            &norm,
            &mut t,
        )
        .unwrap();
        // (10−10)·0.5 = 0, (11−20)·0.25 = −2.25, (245−30)·0.1 = 21.5; (20−10)·0.5 = 5, ...
        let nhwc = [0.0, -2.25, 21.5, 5.0, 0.25, 20.5];
        for (a, b) in t.iter().zip(nhwc) {
            assert!((a - b).abs() < 1e-5, "{t:?}");
        }
        warp_affine_to_tensor(
            &src,
            &m,
            2,
            1,
            Border::Replicate,
            TensorLayout::Nchw,
            &norm,
            &mut t,
        )
        .unwrap();
        let nchw = [0.0, 5.0, -2.25, 0.25, 21.5, 20.5];
        for (a, b) in t.iter().zip(nchw) {
            assert!((a - b).abs() < 1e-5, "{t:?}");
        }
        // Presets: 255 → 1.0 (UNIT), 0 → −1.0 and 255 → 1.0 (SIGNED_UNIT).
        let at = |n: Normalize, c: usize, v: f32| (v - n.mean[c]) * n.inv_std[c];
        assert!((at(Normalize::SIGNED_UNIT, 0, 0.0) + 1.0).abs() < 1e-6);
        assert!((at(Normalize::SIGNED_UNIT, 1, 255.0) - 1.0).abs() < 1e-6);
        assert!((at(Normalize::UNIT, 2, 255.0) - 1.0).abs() < 1e-6);
        let n = Normalize::from_mean_std([127.5; 3], [128.0; 3]);
        assert!((n.inv_std[0] - 1.0 / 128.0).abs() < 1e-9);
    }

    #[test]
    fn tensor_errors() {
        let src = img(2, 1, &[10, 20]);
        let mut t = [0.0f32; 5];
        let e = warp_affine_to_tensor(
            &src,
            &Affine2::IDENTITY,
            2,
            1,
            Border::Replicate,
            TensorLayout::Nchw,
            &Normalize::UNIT,
            &mut t,
        )
        .unwrap_err();
        assert_eq!(
            e,
            FrameError::TensorLength {
                width: 2,
                height: 1,
                expected: 6,
                got: 5
            }
        );
        assert_eq!(
            e.to_string(),
            "tensor output has 5 floats; expected 6 = 3 × 2 × 1"
        );
        let mut t = [0.0f32; 6];
        let zero_std = Normalize::from_mean_std([0.0; 3], [1.0, 0.0, 1.0]);
        let e = warp_affine_to_tensor(
            &src,
            &Affine2::IDENTITY,
            2,
            1,
            Border::Replicate,
            TensorLayout::Nchw,
            &zero_std,
            &mut t,
        )
        .unwrap_err();
        assert!(matches!(e, FrameError::NonFiniteNormalize { .. }));
    }

    #[test]
    fn tensor_agrees_with_image_warp() {
        // A 70×50 image warped by rotation + scale + translation (partly outside the source,
        // so both border paths run), to a 96×80 tensor (wider than one 64-pixel segment).
        let (w, h) = (70u32, 50u32);
        let mut data = Vec::new();
        for y in 0..h {
            for x in 0..w {
                data.extend_from_slice(&[(x * 3 + y) as u8, (y * 5) as u8, ((x * y) % 251) as u8]);
            }
        }
        let src = RgbImage::from_raw(w, h, data).unwrap();
        let (c, s) = (crate::math::cos(0.4) * 0.8, crate::math::sin(0.4) * 0.8);
        let m = Affine2::new([c, -s, 12.3, s, c, -4.7]);
        let norm = Normalize::from_mean_std([123.7, 116.3, 103.5], [58.4, 57.1, 57.4]);
        for border in [Border::Constant([0, 128, 255]), Border::Replicate] {
            let (dw, dh) = (96u32, 80u32);
            let mut img_out = RgbImage::default();
            warp_affine_into(&src, &m, dw, dh, border, &mut img_out).unwrap();
            for layout in [TensorLayout::Nhwc, TensorLayout::Nchw] {
                let mut t = vec![0.0f32; (3 * dw * dh) as usize];
                warp_affine_to_tensor(&src, &m, dw, dh, border, layout, &norm, &mut t).unwrap();
                let mut worst = 0.0f32;
                for j in 0..dh as usize {
                    for i in 0..dw as usize {
                        let px = img_out.get(i as u32, j as u32).unwrap();
                        for (ch, &v) in px.iter().enumerate() {
                            let want = (v as f32 - norm.mean[ch]) * norm.inv_std[ch];
                            let at = match layout {
                                TensorLayout::Nhwc => (j * dw as usize + i) * 3 + ch,
                                TensorLayout::Nchw => (ch * dh as usize + j) * dw as usize + i,
                            };
                            worst = worst.max((t[at] - want).abs());
                        }
                    }
                }
                assert!(worst < 1e-3, "{border:?} {layout:?}: max |Δ| {worst}");
            }
        }
    }

    #[test]
    fn bilinear_matches_float_reference_on_a_rotation() {
        // Interior samples against an f64 bilinear: within ±1 level (11-bit weights + rounding).
        let (w, h) = (20u32, 16u32);
        let vals: Vec<u8> = (0..w * h).map(|i| ((i * 37) % 256) as u8).collect();
        let src = img(w, h, &vals);
        let m = Affine2::new([0.9, -0.3, 4.2, 0.3, 0.9, 1.7]);
        let mut out = RgbImage::default();
        warp_affine_into(&src, &m, 12, 10, Border::Replicate, &mut out).unwrap();
        let at = |x: i64, y: i64| {
            let (x, y) = (x.clamp(0, w as i64 - 1), y.clamp(0, h as i64 - 1));
            vals[(y * w as i64 + x) as usize] as f64
        };
        for j in 0..10 {
            for i in 0..12 {
                let p = m.apply(crate::geometry::Point2::new(i as f32, j as f32));
                let (sx, sy) = (p.x as f64, p.y as f64);
                let (x0, y0) = (sx.floor(), sy.floor());
                let (fx, fy) = (sx - x0, sy - y0);
                let (x0, y0) = (x0 as i64, y0 as i64);
                let v = (1.0 - fy) * ((1.0 - fx) * at(x0, y0) + fx * at(x0 + 1, y0))
                    + fy * ((1.0 - fx) * at(x0, y0 + 1) + fx * at(x0 + 1, y0 + 1));
                let got = out.get(i, j).unwrap()[0] as f64;
                assert!((got - v).abs() <= 1.0, "({i},{j}): got {got}, want {v:.2}");
            }
        }
    }

    /// `Sampler::row`'s short cuts (the all-inside stretch with its coordinates computed
    /// first, the fill beyond an edge with a constant border) give exactly the per-pixel
    /// `sample`'s bytes, on maps that cross, skirt, miss and lie inside the image, and on a
    /// letterbox's bands.
    #[test]
    fn row_short_cuts_equal_per_pixel_samples() {
        let (w, h) = (37u32, 23u32);
        let vals: Vec<u8> = (0..w * h)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 7) as u8)
            .collect();
        let src = img(w, h, &vals);
        let taps = RgbTaps::of(&src);
        // A small deterministic generator (xorshift), so every run checks the same maps.
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 11) as f32 / (1u64 << 53) as f32
        };
        let mut maps = vec![
            letterbox_transform(w, h, 64, 64).m,
            letterbox_transform(h, w, 64, 64).m,
        ];
        for _ in 0..400 {
            let (angle, scale) = (next() * 6.3, 0.05 + next() * 2.0);
            let (sin, cos) = (angle.sin(), angle.cos());
            maps.push([
                scale * cos,
                -scale * sin,
                next() * 90.0 - 30.0,
                scale * sin,
                scale * cos,
                next() * 70.0 - 25.0,
            ]);
        }
        let (dw, dh) = (150usize, 40usize);
        let mut row = vec![0u8; dw * 3];
        for border in [Border::Constant([7, 128, 250]), Border::Replicate] {
            let s = Sampler::upright(&taps, border);
            for m in &maps {
                for j in 0..dh {
                    // A whole row (several stretches of SEG) and an odd segment in the middle.
                    for (i0, n) in [(0, dw), (13, 29)] {
                        let out = &mut row[..n * 3];
                        s.row(m, j, i0, out);
                        for (k, px) in out.chunks_exact(3).enumerate() {
                            let (i, jf) = ((i0 + k) as f32, j as f32);
                            let (bx, by) = (m[1] * jf + m[2], m[4] * jf + m[5]);
                            let want = s.sample(m[0] * i + bx, m[3] * i + by);
                            assert_eq!(px, want, "map {m:?} row {j} column {}", i0 + k);
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn letterbox_centres_and_pads() {
        // 4×2 into 4×4: scale 1, pad_y = 1 → src = dst − (0, 1).
        let m = letterbox_transform(4, 2, 4, 4);
        for (a, b) in m.m.iter().zip([1.0, 0.0, 0.0, 0.0, 1.0, -1.0]) {
            assert!((a - b).abs() < 1e-6, "{m:?}");
        }
        let src = img(4, 2, &[1, 2, 3, 4, 5, 6, 7, 8]);
        let mut out = RgbImage::default();
        warp_affine_into(&src, &m, 4, 4, Border::Constant([9, 9, 9]), &mut out).unwrap();
        assert_eq!(red(&out), [9, 9, 9, 9, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 9]);
        // 640×480 into 256×256: scale 0.4, content 256×192, pad_y = 32. The destination's
        // content edges (centre coordinates −0.5, 31.5 and 255.5, 223.5) map to the source's
        // outer edges (−0.5, −0.5) and (639.5, 479.5).
        let m = letterbox_transform(640, 480, 256, 256);
        let p = m.apply(crate::geometry::Point2::new(-0.5, 31.5));
        assert!(
            (p.x + 0.5).abs() < 1e-3 && (p.y + 0.5).abs() < 1e-3,
            "{p:?}"
        );
        let p = m.apply(crate::geometry::Point2::new(255.5, 223.5));
        assert!(
            (p.x - 639.5).abs() < 1e-3 && (p.y - 479.5).abs() < 1e-3,
            "{p:?}"
        );
        // Portrait: 480×640 into 256×256 pads x by 32 on each side.
        let m = letterbox_transform(480, 640, 256, 256);
        let p = m.apply(crate::geometry::Point2::new(31.5, -0.5));
        assert!(
            (p.x + 0.5).abs() < 1e-3 && (p.y + 0.5).abs() < 1e-3,
            "{p:?}"
        );
    }

    #[test]
    fn rgb_to_luma() {
        let src = RgbImage::from_raw(2, 1, vec![255, 0, 0, 100, 100, 100]).unwrap();
        let mut g = GrayImage::default();
        rgb_to_luma_into(&src, &mut g).unwrap();
        assert_eq!(g.data, [76, 100]);
    }
}
