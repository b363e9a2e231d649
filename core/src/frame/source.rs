//! Reading a camera buffer in place, as if it were the upright RGB image.
//!
//! The models look at about 50 k pixels of a frame (FaceMesh's 192×192 input, the detector's
//! 128×128) and the quality gate at the face box, so converting the whole buffer to RGB first
//! (0.5–3.9 ms per frame, `docs/performance.md`) is mostly wasted. [`Taps`] reads one buffer
//! pixel, or one bilinear sample, straight from the planes of any [`PixelFormat`];
//! [`Orient`] maps upright coordinates onto buffer coordinates (a warp maps its fixed-point
//! sample positions through it in integers), so the upright image is never built.
//!
//! Every tap gives the bytes [`Frame::to_rgb_into`] would have written for that pixel (same
//! fixed-point BT.601 for YUV, each pixel with the chroma of its 2×2 block), so a sample equals
//! the converted image's exactly. (Interpolating Y, U and V first and converting once differs
//! by up to 8 levels where a tap saturates, so YUV converts its four taps.)

use super::convert::{
    luma_of, packed_luma_row, sat, y_luma_row, B_U, G_U, G_V, R_V, Y_FULL, Y_GAIN,
};
use super::{Frame, GrayImage, PixelFormat, Plane, RgbImage, Rotation};

/// Bits of the bilinear weights (the blend itself, [`lerp`], is `liveproof-simd`'s, the
/// reference its kernels equal).
pub(super) use liveproof_simd::{lerp, WBITS};
pub(super) const WONE: u32 = 1 << WBITS;

/// The pixels of an image in buffer coordinates.
pub(super) trait Taps {
    /// Buffer width and height, pixels.
    fn size(&self) -> (usize, usize);
    /// The RGB bytes of buffer pixel `(x, y)`, which is inside the buffer.
    fn rgb(&self, x: usize, y: usize) -> [u8; 3];
    /// The bilinear sample between `(x, y)` and `(x + 1, y + 1)`, both inside the buffer,
    /// with `WBITS` weights `wx`, `wy` on the second column and row.
    #[inline(always)]
    fn bilinear(&self, x: usize, y: usize, wx: u32, wy: u32) -> [u8; 3] {
        let (p00, p01) = (self.rgb(x, y), self.rgb(x + 1, y));
        let (p10, p11) = (self.rgb(x, y + 1), self.rgb(x + 1, y + 1));
        core::array::from_fn(|c| lerp(p00[c], p01[c], p10[c], p11[c], wx, wy))
    }
    /// [`Taps::bilinear`] at buffer positions `(qx[k], qy[k])` in `WBITS` fixed point (all
    /// taps inside the buffer), sample `k` into `out[3k .. 3k + 3]`.
    #[inline(always)]
    fn bilinear_row(&self, qx: &[u32], qy: &[u32], out: &mut [u8]) {
        bilinear_each(self, qx, qy, out);
    }
}

/// The portable [`Taps::bilinear_row`]: one [`Taps::bilinear`] per sample.
#[inline(always)]
fn bilinear_each<S: Taps + ?Sized>(taps: &S, qx: &[u32], qy: &[u32], out: &mut [u8]) {
    for ((o, &x), &y) in out.chunks_exact_mut(3).zip(qx).zip(qy) {
        o.copy_from_slice(&taps.bilinear(
            (x >> WBITS) as usize,
            (y >> WBITS) as usize,
            x & (WONE - 1),
            y & (WONE - 1),
        ));
    }
}

/// Packed pixels of `BPP` bytes, red at byte `R`, green at 1 (or 0 for gray), blue at `B`.
pub(super) struct Packed<'a, const BPP: usize, const R: usize, const B: usize> {
    data: &'a [u8],
    stride: usize,
    w: usize,
    h: usize,
}

impl<'a, const BPP: usize, const R: usize, const B: usize> Packed<'a, BPP, R, B> {
    const G: usize = if BPP == 1 { 0 } else { 1 };

    fn new(plane: &Plane<'a>, w: usize, h: usize) -> Self {
        Packed {
            data: plane.data,
            stride: plane.row_stride,
            w,
            h,
        }
    }
}

/// An upright packed RGB image as a source.
pub(super) type RgbTaps<'a> = Packed<'a, 3, 0, 2>;

impl<'a> RgbTaps<'a> {
    pub(super) fn of(img: &'a RgbImage) -> Self {
        let (w, h) = (img.width as usize, img.height as usize);
        Packed {
            data: &img.data,
            stride: w * 3,
            w,
            h,
        }
    }
}

impl<const BPP: usize, const R: usize, const B: usize> Taps for Packed<'_, BPP, R, B> {
    fn size(&self) -> (usize, usize) {
        (self.w, self.h)
    }

    #[inline(always)]
    fn rgb(&self, x: usize, y: usize) -> [u8; 3] {
        let i = y * self.stride + x * BPP;
        [self.data[i + R], self.data[i + Self::G], self.data[i + B]]
    }

    #[inline(always)]
    fn bilinear(&self, x: usize, y: usize, wx: u32, wy: u32) -> [u8; 3] {
        let i = y * self.stride + x * BPP;
        let r0 = &self.data[i..i + 2 * BPP];
        let r1 = &self.data[i + self.stride..i + self.stride + 2 * BPP];
        let at = |c: usize| lerp(r0[c], r0[BPP + c], r1[c], r1[BPP + c], wx, wy);
        [at(R), at(Self::G), at(B)]
    }

    /// Runs of 8 through `liveproof-simd`'s kernel where the CPU has one (the same integers),
    /// the rest one by one.
    #[inline(always)]
    fn bilinear_row(&self, qx: &[u32], qy: &[u32], out: &mut [u8]) {
        let src = liveproof_simd::Packed {
            data: self.data,
            stride: self.stride,
            bpp: BPP,
            rgb: [R, Self::G, B],
        };
        let done = liveproof_simd::bilinear_packed(&src, qx, qy, out);
        bilinear_each(self, &qx[done..], &qy[done..], &mut out[3 * done..]);
    }
}

/// Chroma layout of a 4:2:0 buffer.
#[derive(Clone, Copy)]
enum Chroma<'a> {
    /// One interleaved plane; `u` is the byte offset of U in a pair (1 for NV21, 0 for NV12).
    Interleaved { plane: Plane<'a>, u: usize },
    /// Separate U and V planes (I420).
    Planar { u: Plane<'a>, v: Plane<'a> },
}

/// A 4:2:0 YUV buffer (BT.601 limited range, as [`Frame::to_rgb_into`] converts it).
pub(super) struct Yuv420<'a> {
    y: Plane<'a>,
    chroma: Chroma<'a>,
    w: usize,
    h: usize,
}

impl Yuv420<'_> {
    /// U and V of the 2×2 block holding buffer pixel `(x, y)`.
    #[inline(always)]
    fn uv(&self, x: usize, y: usize) -> (u8, u8) {
        let (cx, cy) = (x >> 1, y >> 1);
        match self.chroma {
            Chroma::Interleaved { plane, u } => {
                let i = cy * plane.row_stride + cx * 2;
                (plane.data[i + u], plane.data[i + (u ^ 1)])
            }
            Chroma::Planar { u, v } => (
                u.data[cy * u.row_stride + cx],
                v.data[cy * v.row_stride + cx],
            ),
        }
    }

    #[inline(always)]
    fn luma(&self, x: usize, y: usize) -> u8 {
        self.y.data[y * self.y.row_stride + x]
    }
}

/// BT.601 limited range → RGB, exactly the fixed-point conversion of `convert.rs` (with its
/// branch-free saturation: a tap's chroma is as unpredictable as the whole frame's).
#[inline(always)]
fn yuv_to_rgb(y: u8, u: u8, v: u8) -> [u8; 3] {
    let (y, u, v) = (y as i32 - 16, u as i32 - 128, v as i32 - 128);
    let l = Y_GAIN * y + (1 << 15);
    [
        sat(l + R_V * v),
        sat(l - G_U * u - G_V * v),
        sat(l + B_U * u),
    ]
}

impl Taps for Yuv420<'_> {
    fn size(&self) -> (usize, usize) {
        (self.w, self.h)
    }

    #[inline(always)]
    fn rgb(&self, x: usize, y: usize) -> [u8; 3] {
        let (u, v) = self.uv(x, y);
        yuv_to_rgb(self.luma(x, y), u, v)
    }
}

/// Upright pixel `(u, v)` is buffer pixel `(x0 + u·xu + v·xv, y0 + u·yu + v·yv)`: the inverse
/// of the rotation-then-mirror that [`Frame::to_rgb_into`] applies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Orient {
    x0: isize,
    xu: isize,
    xv: isize,
    y0: isize,
    yu: isize,
    yv: isize,
}

impl Orient {
    /// For a `w × h` buffer (before rotation).
    pub(super) fn new(w: usize, h: usize, rotation: Rotation, mirrored: bool) -> Orient {
        let (w, h) = (w as isize - 1, h as isize - 1);
        // (x0, xu, xv, y0, yu, yv), from the forward maps in `convert.rs`'s `Placement`.
        let (x0, xu, xv, y0, yu, yv) = match (rotation, mirrored) {
            (Rotation::Deg0, false) => (0, 1, 0, 0, 0, 1),
            (Rotation::Deg0, true) => (w, -1, 0, 0, 0, 1),
            (Rotation::Deg90, false) => (0, 0, 1, h, -1, 0),
            (Rotation::Deg90, true) => (0, 0, 1, 0, 1, 0),
            (Rotation::Deg180, false) => (w, -1, 0, h, 0, -1),
            (Rotation::Deg180, true) => (0, 1, 0, h, 0, -1),
            (Rotation::Deg270, false) => (w, 0, -1, 0, 1, 0),
            (Rotation::Deg270, true) => (w, 0, -1, h, -1, 0),
        };
        Orient {
            x0,
            xu,
            xv,
            y0,
            yu,
            yv,
        }
    }

    /// Buffer pixel of upright pixel `(u, v)`.
    #[inline(always)]
    pub(super) fn buffer(&self, u: usize, v: usize) -> (usize, usize) {
        let (u, v) = (u as isize, v as isize);
        (
            (self.x0 + u * self.xu + v * self.xv) as usize,
            (self.y0 + u * self.yu + v * self.yv) as usize,
        )
    }

    /// True for an upright, unmirrored buffer (buffer pixel = upright pixel).
    pub(super) fn is_identity(&self) -> bool {
        *self == Orient::new(1, 1, Rotation::Deg0, false)
    }

    /// The map in `WBITS` fixed point, `[x0, xu, xv, y0, yu, yv]` with the offsets scaled:
    /// buffer position `q = x0 + xu·qu + xv·qv` of upright position `(qu, qv)`, exact.
    pub(super) fn fixed(&self) -> [i32; 6] {
        let one = WONE as isize;
        [
            self.x0 * one,
            self.xu,
            self.xv,
            self.y0 * one,
            self.yu,
            self.yv,
        ]
        .map(|v| v as i32)
    }
}

/// Runs `f` with the frame's buffer as a [`Taps`] source (monomorphised per format).
pub(super) fn with_taps<T>(frame: &Frame<'_>, f: impl TapsFn<T>) -> T {
    let (w, h) = (frame.width() as usize, frame.height() as usize);
    let p = frame.planes;
    let yuv = |chroma| Yuv420 {
        y: p[0],
        chroma,
        w,
        h,
    };
    match frame.format() {
        PixelFormat::Rgb888 => f.call(&Packed::<3, 0, 2>::new(&p[0], w, h)),
        PixelFormat::Rgba8888 => f.call(&Packed::<4, 0, 2>::new(&p[0], w, h)),
        PixelFormat::Bgra8888 => f.call(&Packed::<4, 2, 0>::new(&p[0], w, h)),
        PixelFormat::Gray8 => f.call(&Packed::<1, 0, 0>::new(&p[0], w, h)),
        PixelFormat::Nv21 => f.call(&yuv(Chroma::Interleaved { plane: p[1], u: 1 })),
        PixelFormat::Nv12 => f.call(&yuv(Chroma::Interleaved { plane: p[1], u: 0 })),
        PixelFormat::I420 => f.call(&yuv(Chroma::Planar { u: p[1], v: p[2] })),
    }
}

/// A closure generic over the source type (Rust closures cannot be).
pub(super) trait TapsFn<T> {
    fn call<S: Taps>(self, taps: &S) -> T;
}

/// A rectangle of the upright image, `[x0, x1) × [y0, y1)` in pixels.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Region {
    pub x0: u32,
    pub y0: u32,
    pub x1: u32,
    pub y1: u32,
}

impl Region {
    /// The whole `w × h` image.
    pub const fn full(w: u32, h: u32) -> Region {
        Region {
            x0: 0,
            y0: 0,
            x1: w,
            y1: h,
        }
    }

    /// The pixels a float rectangle touches, grown by `margin` pixels on every side and
    /// clamped to a `w × h` image (empty when it misses the image; NaN gives empty).
    pub fn covering(
        x_min: f32,
        y_min: f32,
        x_max: f32,
        y_max: f32,
        margin: u32,
        w: u32,
        h: u32,
    ) -> Region {
        let lo = |v: f32, side: u32| {
            let v = libm::floorf(v) - margin as f32;
            if v > 0.0 {
                (v as u32).min(side)
            } else {
                0
            }
        };
        let hi = |v: f32, side: u32| {
            let v = libm::ceilf(v) + 1.0 + margin as f32;
            if v > 0.0 {
                (v as u32).min(side)
            } else {
                0
            }
        };
        let (x0, x1) = (lo(x_min, w), hi(x_max, w));
        let (y0, y1) = (lo(y_min, h), hi(y_max, h));
        if x0 >= x1 || y0 >= y1 {
            return Region::default();
        }
        Region { x0, y0, x1, y1 }
    }

    pub const fn is_empty(&self) -> bool {
        self.x0 >= self.x1 || self.y0 >= self.y1
    }

    /// The smallest region holding both.
    pub fn union(&self, other: &Region) -> Region {
        if self.is_empty() {
            return *other;
        }
        if other.is_empty() {
            return *self;
        }
        Region {
            x0: self.x0.min(other.x0),
            y0: self.y0.min(other.y0),
            x1: self.x1.max(other.x1),
            y1: self.y1.max(other.y1),
        }
    }
}

/// Fills `row` with `luma(i)` for the buffer offsets `at, at + du, at + 2·du, …` (a rotated
/// or mirrored row). Generic over `luma` so each format's conversion is inlined.
#[inline(always)]
fn strided_luma(mut at: usize, du: isize, row: &mut [u8], luma: impl Fn(usize) -> u8) {
    for o in row.iter_mut() {
        *o = luma(at);
        at = at.wrapping_add_signed(du);
    }
}

impl Frame<'_> {
    fn orient(&self) -> Orient {
        Orient::new(
            self.width as usize,
            self.height as usize,
            self.rotation,
            self.mirrored,
        )
    }

    /// [`Frame::to_luma_into`] for the pixels of `region` (upright coordinates, clamped to the
    /// upright image) only: `out` is shaped to the whole upright image, the region's pixels
    /// are written with exactly the values `to_luma_into` gives, and the others keep whatever
    /// they held. The quality gate reads the face box, so a frame's luma costs the face, not
    /// the frame.
    pub fn luma_region_into(&self, out: &mut GrayImage, region: Region) {
        let (uw, uh) = self.upright_size();
        out.reshape(uw, uh);
        let r = Region {
            x0: region.x0.min(uw),
            y0: region.y0.min(uh),
            x1: region.x1.min(uw),
            y1: region.y1.min(uh),
        };
        if r.is_empty() {
            return;
        }
        let o = self.orient();
        let p = self.planes[0];
        let (stride, bpp) = (p.row_stride, self.format.bytes_per_pixel());
        // Bytes from one upright pixel to the next along a row.
        let du = o.xu * bpp as isize + o.yu * stride as isize;
        for v in r.y0 as usize..r.y1 as usize {
            let (x, y) = o.buffer(r.x0 as usize, v);
            let at = y * stride + x * bpp;
            let row =
                &mut out.data[v * uw as usize + r.x0 as usize..v * uw as usize + r.x1 as usize];
            if du == bpp as isize {
                // An upright row is a run of the buffer's row: converted as a slice.
                let src = &p.data[at..at + row.len() * bpp];
                match self.format {
                    PixelFormat::Nv21 | PixelFormat::Nv12 | PixelFormat::I420 => {
                        y_luma_row(src, row)
                    }
                    PixelFormat::Gray8 => row.copy_from_slice(src),
                    PixelFormat::Rgb888 => packed_luma_row::<3, 0, 2>(src, row),
                    PixelFormat::Rgba8888 => packed_luma_row::<4, 0, 2>(src, row),
                    PixelFormat::Bgra8888 => packed_luma_row::<4, 2, 0>(src, row),
                }
                continue;
            }
            let d = p.data;
            match self.format {
                PixelFormat::Nv21 | PixelFormat::Nv12 | PixelFormat::I420 => {
                    strided_luma(at, du, row, |i| Y_FULL[d[i] as usize])
                }
                PixelFormat::Gray8 => strided_luma(at, du, row, |i| d[i]),
                PixelFormat::Rgb888 | PixelFormat::Rgba8888 => {
                    strided_luma(at, du, row, |i| luma_of(d[i], d[i + 1], d[i + 2]))
                }
                PixelFormat::Bgra8888 => {
                    strided_luma(at, du, row, |i| luma_of(d[i + 2], d[i + 1], d[i]))
                }
            }
        }
    }

    /// The upright image's pixel `(u, v)` as [`Frame::to_rgb_into`] would give it, or `None`
    /// outside the upright image. For sparse reads (a grid of blocks); converting the frame
    /// is cheaper when most pixels are needed.
    pub fn upright_rgb_at(&self, u: u32, v: u32) -> Option<[u8; 3]> {
        let (uw, uh) = self.upright_size();
        if u >= uw || v >= uh {
            return None;
        }
        let (x, y) = self.orient().buffer(u as usize, v as usize);
        Some(buffer_rgb(self, x, y))
    }
}

/// The upright picture a stage reads pixels from: a converted image, or a camera frame read in
/// place. The eye crops read a few thousand pixels of a frame, far fewer than converting it.
#[derive(Clone, Copy, Debug)]
pub struct Upright<'a>(Source<'a>);

#[derive(Clone, Copy, Debug)]
enum Source<'a> {
    Image(&'a RgbImage),
    /// The frame and its upright → buffer map, computed once.
    Frame(Frame<'a>, Orient),
}

impl<'a> From<&'a RgbImage> for Upright<'a> {
    fn from(img: &'a RgbImage) -> Self {
        Upright(Source::Image(img))
    }
}

impl<'a> From<Frame<'a>> for Upright<'a> {
    fn from(frame: Frame<'a>) -> Self {
        Upright(Source::Frame(frame, frame.orient()))
    }
}

impl<'a> Upright<'a> {
    /// Upright width and height, pixels.
    pub fn size(&self) -> (u32, u32) {
        match &self.0 {
            Source::Image(img) => (img.width, img.height),
            Source::Frame(f, _) => f.upright_size(),
        }
    }

    /// The converted image, when that is what this is.
    pub fn image(&self) -> Option<&'a RgbImage> {
        match self.0 {
            Source::Image(img) => Some(img),
            Source::Frame(..) => None,
        }
    }

    /// Checks that an image's buffer matches its size (a frame was checked when built).
    pub fn check(&self) -> Result<(), super::FrameError> {
        match &self.0 {
            Source::Image(img) => img.check(),
            Source::Frame(..) => Ok(()),
        }
    }

    /// The RGB bytes of upright pixel `(x, y)`, coordinates clamped into the picture (so the
    /// edge pixels repeat outward). An image that fails [`Upright::check`] reads black.
    #[inline]
    pub fn rgb_clamped(&self, x: i64, y: i64) -> [u8; 3] {
        let (w, h) = self.size();
        let (x, y) = (
            x.clamp(0, w.max(1) as i64 - 1) as usize,
            y.clamp(0, h.max(1) as i64 - 1) as usize,
        );
        match &self.0 {
            Source::Image(img) => {
                let i = 3 * (y * img.width as usize + x);
                img.data
                    .get(i..i + 3)
                    .map_or([0; 3], |p| [p[0], p[1], p[2]])
            }
            Source::Frame(f, o) => {
                let (bx, by) = o.buffer(x, y);
                buffer_rgb(f, bx, by)
            }
        }
    }
}

/// The RGB bytes of buffer pixel `(x, y)` (inside the buffer) of any format.
#[inline]
fn buffer_rgb(frame: &Frame<'_>, x: usize, y: usize) -> [u8; 3] {
    let (w, h) = (frame.width as usize, frame.height as usize);
    let p = &frame.planes;
    let yuv = |chroma| Yuv420 {
        y: p[0],
        chroma,
        w,
        h,
    };
    match frame.format {
        PixelFormat::Rgb888 => Packed::<3, 0, 2>::new(&p[0], w, h).rgb(x, y),
        PixelFormat::Rgba8888 => Packed::<4, 0, 2>::new(&p[0], w, h).rgb(x, y),
        PixelFormat::Bgra8888 => Packed::<4, 2, 0>::new(&p[0], w, h).rgb(x, y),
        PixelFormat::Gray8 => Packed::<1, 0, 0>::new(&p[0], w, h).rgb(x, y),
        PixelFormat::Nv21 => yuv(Chroma::Interleaved { plane: p[1], u: 1 }).rgb(x, y),
        PixelFormat::Nv12 => yuv(Chroma::Interleaved { plane: p[1], u: 0 }).rgb(x, y),
        PixelFormat::I420 => yuv(Chroma::Planar { u: p[1], v: p[2] }).rgb(x, y),
    }
}
