//! Frame → upright packed RGB / luma, with rotation and mirroring fused into the conversion.
//!
//! Each source row is converted by a tight slice loop (`chunks_exact`, no per-pixel bounds
//! checks) and written straight to its destination: in place for 0°, reversed for 180° and
//! mirroring, and through a small stack tile (16 rows × 128 pixels) for 90°/270° so that the
//! transposed writes land in contiguous runs instead of one pixel per cache line.

use super::{Frame, FrameError, GrayImage, PixelFormat, Plane, RgbImage, Rotation};

// BT.601 limited ("video") range → full-range RGB, 16-bit fixed point (value × 65536):
//   R = 1.164383 (Y − 16)                    + 1.596027 (V − 128)
//   G = 1.164383 (Y − 16) − 0.391762 (U − 128) − 0.812968 (V − 128)
//   B = 1.164383 (Y − 16) + 2.017232 (U − 128)
// from Kr = 0.299, Kb = 0.114, luma scale 255/219, chroma scale 255/224.
const SHIFT: u32 = 16;
const ROUND: i32 = 1 << (SHIFT - 1);
/// 255/219 × 65536.
pub(super) const Y_GAIN: i32 = 76309;
/// 255/224 × 1.402 × 65536.
pub(super) const R_V: i32 = 104597;
/// 255/224 × 1.772 × 0.114/0.587 × 65536.
pub(super) const G_U: i32 = 25675;
/// 255/224 × 1.402 × 0.299/0.587 × 65536.
pub(super) const G_V: i32 = 53279;
/// 255/224 × 1.772 × 65536.
pub(super) const B_U: i32 = 132201;

// BT.601 luma from full-range RGB, 16-bit fixed point: 0.299 R + 0.587 G + 0.114 B
// (weights sum to exactly 65536, so grey stays grey).
const L_R: u32 = 19595;
const L_G: u32 = 38470;
const L_B: u32 = 7471;

/// Video-range Y (16–235) → full-range luma (0–255): `round((Y − 16) × 255/219)`, clamped.
pub(super) const Y_FULL: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        let v = ((i as i32 - 16) * Y_GAIN + ROUND) >> SHIFT;
        t[i] = if v < 0 {
            0
        } else if v > 255 {
            255
        } else {
            v as u8
        };
        i += 1;
    }
    t
};

/// Offset of [`CLAMP`]: `(l + c) >> 16` lies in [−277, 534] for all Y, U, V bytes, so
/// `index + 384` stays in 0..1024 and the mask never changes a valid index.
const CLAMP_OFFSET: i32 = 384;

/// Branch-free saturation to 0–255 (random chroma makes `clamp`'s branches mispredict).
const CLAMP: [u8; 1024] = {
    let mut t = [0u8; 1024];
    let mut i = 0;
    while i < 1024 {
        let v = i as i32 - CLAMP_OFFSET;
        t[i] = if v < 0 {
            0
        } else if v > 255 {
            255
        } else {
            v as u8
        };
        i += 1;
    }
    t
};

#[inline(always)]
pub(super) fn sat(v: i32) -> u8 {
    CLAMP[((v >> SHIFT) + CLAMP_OFFSET) as usize & 1023]
}

/// The chroma terms `(R, G, B)` of one U, V pair, fixed point.
#[inline(always)]
fn chroma(u: u8, v: u8) -> (i32, i32, i32) {
    let u = u as i32 - 128;
    let v = v as i32 - 128;
    (R_V * v, -G_U * u - G_V * v, B_U * u)
}

/// Two horizontally adjacent pixels sharing one chroma sample → 6 RGB bytes.
#[inline(always)]
fn yuv_pair(y: &[u8], (r, g, b): (i32, i32, i32), o: &mut [u8]) {
    let y0 = (y[0] as i32 - 16) * Y_GAIN + ROUND;
    let y1 = (y[1] as i32 - 16) * Y_GAIN + ROUND;
    o[0] = sat(y0 + r);
    o[1] = sat(y0 + g);
    o[2] = sat(y0 + b);
    o[3] = sat(y1 + r);
    o[4] = sat(y1 + g);
    o[5] = sat(y1 + b);
}

/// NV21 (`V_FIRST`) / NV12 row segment: `y` and `uv` are `n` bytes, `out` is `3n`.
#[inline(always)]
fn nv_row<const V_FIRST: bool>(y: &[u8], uv: &[u8], out: &mut [u8]) {
    for ((yy, c), o) in y
        .chunks_exact(2)
        .zip(uv.chunks_exact(2))
        .zip(out.chunks_exact_mut(6))
    {
        let (u, v) = if V_FIRST { (c[1], c[0]) } else { (c[0], c[1]) };
        yuv_pair(yy, chroma(u, v), o);
    }
}

/// I420 row segment: `y` is `n` bytes, `u` and `v` are `n/2`, `out` is `3n`.
#[inline(always)]
fn i420_row(y: &[u8], u: &[u8], v: &[u8], out: &mut [u8]) {
    for (((yy, &u), &v), o) in y.chunks_exact(2).zip(u).zip(v).zip(out.chunks_exact_mut(6)) {
        yuv_pair(yy, chroma(u, v), o);
    }
}

/// Packed 4-byte pixels → RGB, `R`, `G`, `B` being the source byte positions.
#[inline(always)]
fn packed4_row<const R: usize, const B: usize>(src: &[u8], out: &mut [u8]) {
    for (s, o) in src.chunks_exact(4).zip(out.chunks_exact_mut(3)) {
        o[0] = s[R];
        o[1] = s[1];
        o[2] = s[B];
    }
}

#[inline(always)]
fn gray_to_rgb_row(src: &[u8], out: &mut [u8]) {
    for (&g, o) in src.iter().zip(out.chunks_exact_mut(3)) {
        o[0] = g;
        o[1] = g;
        o[2] = g;
    }
}

#[inline(always)]
pub(super) fn luma_of(r: u8, g: u8, b: u8) -> u8 {
    ((L_R * r as u32 + L_G * g as u32 + L_B * b as u32 + (1 << 15)) >> 16) as u8
}

/// Packed pixels of `BPP` bytes → BT.601 luma; `R`, `B` are the source byte positions.
#[inline(always)]
pub(super) fn packed_luma_row<const BPP: usize, const R: usize, const B: usize>(
    src: &[u8],
    out: &mut [u8],
) {
    for (s, o) in src.chunks_exact(BPP).zip(out.iter_mut()) {
        *o = luma_of(s[R], s[1], s[B]);
    }
}

#[inline(always)]
pub(super) fn y_luma_row(src: &[u8], out: &mut [u8]) {
    for (&y, o) in src.iter().zip(out.iter_mut()) {
        *o = Y_FULL[y as usize];
    }
}

/// Pixels of a source row segment converted per call of the driver's closure.
const SEG: usize = 128;
/// Source rows per tile for the transposing rotations (90°, 270°).
const TILE: usize = 16;

/// Where source pixel `(x, y)` lands in the upright image: pixel index
/// `base + x·sx + y·sy` (row-major, upright width).
struct Placement {
    base: isize,
    sx: isize,
    sy: isize,
}

impl Placement {
    /// Clockwise rotation, then horizontal mirror, of a `w × h` buffer.
    fn new(w: usize, h: usize, rotation: Rotation, mirrored: bool) -> Placement {
        let (w, h) = (w as isize, h as isize);
        let (base, sx, sy) = match (rotation, mirrored) {
            // (u, v) = (x, y)
            (Rotation::Deg0, false) => (0, 1, w),
            // (w−1−x, y)
            (Rotation::Deg0, true) => (w - 1, -1, w),
            // upright width h: (h−1−y, x)
            (Rotation::Deg90, false) => (h - 1, h, -1),
            // (y, x)
            (Rotation::Deg90, true) => (0, h, 1),
            // (w−1−x, h−1−y)
            (Rotation::Deg180, false) => (w * h - 1, -1, -w),
            // (x, h−1−y)
            (Rotation::Deg180, true) => ((h - 1) * w, 1, -w),
            // upright width h: (y, w−1−x)
            (Rotation::Deg270, false) => ((w - 1) * h, -h, 1),
            // (h−1−y, w−1−x)
            (Rotation::Deg270, true) => (w * h - 1, -h, -1),
        };
        Placement { base, sx, sy }
    }

    #[inline(always)]
    fn at(&self, x: usize, y: usize) -> usize {
        (self.base + x as isize * self.sx + y as isize * self.sy) as usize
    }
}

/// Converts a `w × h` buffer into `out` (`C` bytes per pixel, upright, exactly `w·h·C` bytes).
/// `conv(y, x0, dst)` converts source row `y`, pixels `x0 .. x0 + dst.len()/C`, into `dst`;
/// `x0` is always even.
fn drive<const C: usize>(
    w: usize,
    h: usize,
    rotation: Rotation,
    mirrored: bool,
    out: &mut [u8],
    mut conv: impl FnMut(usize, usize, &mut [u8]),
) {
    let pl = Placement::new(w, h, rotation, mirrored);
    if pl.sx == 1 {
        // Rows land forward: convert straight into the output row.
        for y in 0..h {
            let start = pl.at(0, y) * C;
            conv(y, 0, &mut out[start..start + w * C]);
        }
    } else if pl.sx == -1 {
        // Rows land reversed: convert a segment, then copy it back to front.
        let mut buf = [0u8; SEG * 3];
        for y in 0..h {
            let end = (pl.at(0, y) + 1) * C;
            let row = &mut out[end - w * C..end];
            let mut x0 = 0;
            while x0 < w {
                let n = SEG.min(w - x0);
                let seg = &mut buf[..n * C];
                conv(y, x0, seg);
                let dst = &mut row[(w - x0 - n) * C..(w - x0) * C];
                for (d, s) in dst.chunks_exact_mut(C).rev().zip(seg.chunks_exact(C)) {
                    d.copy_from_slice(s);
                }
                x0 += n;
            }
        }
    } else {
        // Transposing: source columns become output rows. Convert a TILE × SEG tile, then
        // write each source column as one contiguous (possibly reversed) run.
        let mut tile = [[0u8; SEG * 3]; TILE];
        let mut y0 = 0;
        while y0 < h {
            let th = TILE.min(h - y0);
            let mut x0 = 0;
            while x0 < w {
                let n = SEG.min(w - x0);
                for (t, row) in tile.iter_mut().enumerate().take(th) {
                    conv(y0 + t, x0, &mut row[..n * C]);
                }
                for i in 0..n {
                    let p = pl.at(x0 + i, y0);
                    let (lo, hi) = if pl.sy == 1 {
                        (p, p + th)
                    } else {
                        (p + 1 - th, p + 1)
                    };
                    let run = out[lo * C..hi * C].chunks_exact_mut(C);
                    if pl.sy == 1 {
                        for (d, row) in run.zip(&tile) {
                            d.copy_from_slice(&row[i * C..i * C + C]);
                        }
                    } else {
                        for (d, row) in run.rev().zip(&tile) {
                            d.copy_from_slice(&row[i * C..i * C + C]);
                        }
                    }
                }
                x0 += n;
            }
            y0 += th;
        }
    }
}

/// `len` bytes of plane row `y` from byte `off`. The frame was validated, so this stays in
/// bounds.
#[inline(always)]
fn seg<'a>(p: &Plane<'a>, y: usize, off: usize, len: usize) -> &'a [u8] {
    let start = y * p.row_stride + off;
    &p.data[start..start + len]
}

impl Frame<'_> {
    /// Converts to the upright (rotated clockwise by [`Frame::rotation`], then mirrored if
    /// [`Frame::mirrored`]) packed RGB image of size [`Frame::upright_size`], in one pass.
    ///
    /// `out`'s allocation is reused; it grows only when too small. YUV formats use BT.601
    /// limited range with 16-bit fixed point, results clamped to 0–255:
    /// `R = 1.164383 (Y−16) + 1.596027 (V−128)`,
    /// `G = 1.164383 (Y−16) − 0.391762 (U−128) − 0.812968 (V−128)`,
    /// `B = 1.164383 (Y−16) + 2.017232 (U−128)` (Y = 16 → black, Y = 235 → white).
    /// Alpha is dropped; Gray8 is replicated to R = G = B.
    pub fn to_rgb_into(&self, out: &mut RgbImage) -> Result<(), FrameError> {
        let (uw, uh) = self.upright_size();
        out.reshape(uw, uh);
        let (w, h) = (self.width as usize, self.height as usize);
        let (rot, mir) = (self.rotation, self.mirrored);
        let [p0, p1, p2] = self.planes;
        let data = &mut out.data[..];
        match self.format {
            PixelFormat::Nv21 => drive::<3>(w, h, rot, mir, data, |y, x0, o| {
                let n = o.len() / 3;
                nv_row::<true>(seg(&p0, y, x0, n), seg(&p1, y / 2, x0, n), o);
            }),
            PixelFormat::Nv12 => drive::<3>(w, h, rot, mir, data, |y, x0, o| {
                let n = o.len() / 3;
                nv_row::<false>(seg(&p0, y, x0, n), seg(&p1, y / 2, x0, n), o);
            }),
            PixelFormat::I420 => drive::<3>(w, h, rot, mir, data, |y, x0, o| {
                let n = o.len() / 3;
                let (u, v) = (
                    seg(&p1, y / 2, x0 / 2, n / 2),
                    seg(&p2, y / 2, x0 / 2, n / 2),
                );
                i420_row(seg(&p0, y, x0, n), u, v, o);
            }),
            PixelFormat::Rgba8888 => drive::<3>(w, h, rot, mir, data, |y, x0, o| {
                packed4_row::<0, 2>(seg(&p0, y, x0 * 4, o.len() / 3 * 4), o);
            }),
            PixelFormat::Bgra8888 => drive::<3>(w, h, rot, mir, data, |y, x0, o| {
                packed4_row::<2, 0>(seg(&p0, y, x0 * 4, o.len() / 3 * 4), o);
            }),
            PixelFormat::Rgb888 => drive::<3>(w, h, rot, mir, data, |y, x0, o| {
                o.copy_from_slice(seg(&p0, y, x0 * 3, o.len()));
            }),
            PixelFormat::Gray8 => drive::<3>(w, h, rot, mir, data, |y, x0, o| {
                gray_to_rgb_row(seg(&p0, y, x0, o.len() / 3), o);
            }),
        }
        Ok(())
    }

    /// Converts to the upright 8-bit luma image (same orientation as [`Frame::to_rgb_into`]).
    ///
    /// Luma is full range (0–255) for every format so that thresholds do not depend on the
    /// camera: YUV formats read the Y plane directly through `round((Y−16) × 255/219)`
    /// (no chroma is touched); RGB formats use BT.601 integer luma
    /// `(19595 R + 38470 G + 7471 B + 32768) >> 16`; Gray8 is copied.
    pub fn to_luma_into(&self, out: &mut GrayImage) -> Result<(), FrameError> {
        let (uw, uh) = self.upright_size();
        out.reshape(uw, uh);
        let (w, h) = (self.width as usize, self.height as usize);
        let (rot, mir) = (self.rotation, self.mirrored);
        let p0 = self.planes[0];
        let data = &mut out.data[..];
        match self.format {
            PixelFormat::Nv21 | PixelFormat::Nv12 | PixelFormat::I420 => {
                drive::<1>(w, h, rot, mir, data, |y, x0, o| {
                    y_luma_row(seg(&p0, y, x0, o.len()), o);
                })
            }
            PixelFormat::Rgba8888 => drive::<1>(w, h, rot, mir, data, |y, x0, o| {
                packed_luma_row::<4, 0, 2>(seg(&p0, y, x0 * 4, o.len() * 4), o);
            }),
            PixelFormat::Bgra8888 => drive::<1>(w, h, rot, mir, data, |y, x0, o| {
                packed_luma_row::<4, 2, 0>(seg(&p0, y, x0 * 4, o.len() * 4), o);
            }),
            PixelFormat::Rgb888 => drive::<1>(w, h, rot, mir, data, |y, x0, o| {
                packed_luma_row::<3, 0, 2>(seg(&p0, y, x0 * 3, o.len() * 3), o);
            }),
            PixelFormat::Gray8 => drive::<1>(w, h, rot, mir, data, |y, x0, o| {
                o.copy_from_slice(seg(&p0, y, x0, o.len()));
            }),
        }
        Ok(())
    }
}

/// BT.601 integer luma of packed RGB bytes into `out` (one byte per pixel).
pub(super) fn rgb_to_luma_row(src: &[u8], out: &mut [u8]) {
    packed_luma_row::<3, 0, 2>(src, out);
}
