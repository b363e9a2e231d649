//! LiveProof's CPU-specific pixel kernels.
//!
//! `liveproof-core` forbids `unsafe`; the few loops that only pay with instructions beyond a
//! target's baseline (x86-64's baseline is SSE2: no 32-bit lane multiply, 4-wide floats) live here,
//! behind safe functions that
//!
//! 1. check every bound the kernel relies on before running it (a sample whose bytes would lie
//!    outside the slice is never read: the function does nothing and says so),
//! 2. pick the kernel at run time from the CPU's features, and
//! 3. compute **exactly** the values of the portable code they replace (integers, or floats
//!    bit for bit: the same operations per lane in the same order, no fused multiply-add), so
//!    a result never depends on the CPU it ran on (tests compare both on random inputs).
//!
//! [`bilinear_packed`] returns how many samples it did, from the start, and the caller's
//! portable code (which reads any pixel format) does the rest; the other functions finish the
//! work themselves with their portable loop. So a CPU without the instructions, a `no_std`
//! build, or an input outside a kernel's bounds costs speed, never correctness.
//! `docs/performance.md` (issue #15's sixth and tenth passes) records the decisions and the
//! measurements.
//!
//! [`DenormalsFlushed`] is the other CPU-specific piece: the floating-point mode around a model
//! run (denormals flushed to zero, the thread's previous mode restored after).
#![cfg_attr(not(feature = "std"), no_std)]
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(clippy::undocumented_unsafe_blocks)]

#[cfg(all(feature = "std", target_arch = "x86_64"))]
mod avx2;
mod fpmode;
pub use fpmode::DenormalsFlushed;
#[cfg(target_arch = "aarch64")]
mod neon;

/// `$kernel` (an AVX2 kernel's count of items done) when `$cond` holds and the CPU has AVX2;
/// 0 otherwise, and always 0 off x86-64 or without `std` (no run-time detection).
macro_rules! avx2_or_none {
    ($cond:expr, $kernel:expr) => {{
        #[cfg(all(feature = "std", target_arch = "x86_64"))]
        let done = if $cond && std::is_x86_feature_detected!("avx2") {
            $kernel
        } else {
            0
        };
        #[cfg(not(all(feature = "std", target_arch = "x86_64")))]
        let done = 0;
        done
    }};
}

/// Bits of the bilinear weights and of the sample positions' fraction.
pub const WBITS: u32 = 11;

/// A packed image: `bpp` bytes per pixel, rows `stride` bytes apart, the red, green and blue
/// bytes of a pixel at offsets `rgb[0]`, `rgb[1]`, `rgb[2]` within it.
#[derive(Clone, Copy, Debug)]
pub struct Packed<'a> {
    pub data: &'a [u8],
    pub stride: usize,
    pub bpp: usize,
    pub rgb: [usize; 3],
}

/// The rounded bilinear blend of four bytes with `WBITS` weights `wx`, `wy` on the second
/// column and row: `a·1 + (b − a)·w` per axis, then rounded to nearest. The reference every
/// kernel here equals (and the portable code's formula).
#[inline(always)]
pub fn lerp(p00: u8, p01: u8, p10: u8, p11: u8, wx: u32, wy: u32) -> u8 {
    let (wx, wy) = (wx as i32, wy as i32);
    let along = |a: i32, b: i32, w: i32| (a << WBITS) + (b - a) * w;
    let top = along(p00 as i32, p01 as i32, wx);
    let bot = along(p10 as i32, p11 as i32, wx);
    ((along(top, bot, wy) + (1 << (2 * WBITS - 1))) >> (2 * WBITS)) as u8
}

/// Bilinear RGB samples of a packed image at fixed-point positions: sample `k` is at
/// `(qx[k], qy[k])` in `WBITS` fixed point, reads pixels `(x, y)`, `(x + 1, y)`, `(x, y + 1)`,
/// `(x + 1, y + 1)` with `x = qx[k] >> WBITS`, `y = qy[k] >> WBITS`, and writes
/// `out[3k .. 3k + 3]` (R, G, B), each channel [`lerp`] of its four bytes.
///
/// Returns how many samples were written, from the first (on x86-64 a multiple of 8). 0 when
/// there is no kernel for the CPU (x86-64 without AVX2; targets other than x86-64 and
/// aarch64), when `bpp` is not 3 or 4, or when a tap row's 8-byte read (the kernels read a
/// few bytes beyond a tap pair) would end past `data`. Nothing is written past
/// `out[3 × returned]`.
pub fn bilinear_packed(src: &Packed<'_>, qx: &[u32], qy: &[u32], out: &mut [u8]) -> usize {
    let n = qx.len().min(qy.len()).min(out.len() / 3);
    if n == 0 || !matches!(src.bpp, 3 | 4) || src.rgb.iter().any(|&o| o >= src.bpp) {
        return 0;
    }
    blend(src, &qx[..n], &qy[..n], &mut out[..3 * n])
}

/// [`bilinear_packed`]'s kernel on a checked layout and lengths: NEON does every sample, once
/// `fits` holds for the run.
#[cfg(target_arch = "aarch64")]
fn blend(src: &Packed<'_>, qx: &[u32], qy: &[u32], out: &mut [u8]) -> usize {
    // The portable maximum: the compiler vectorises it with NEON's `umax`.
    let max = |v: &[u32]| v.iter().fold(0, |m, &q| m.max(q));
    if !fits(src, max(qx), max(qy)) {
        return 0;
    }
    // SAFETY: NEON is part of every aarch64 target's baseline; the kernel itself is safe code.
    unsafe { neon::bilinear_packed(src, qx, qy, out) }
}

/// [`bilinear_packed`]'s kernel on a checked layout and lengths: AVX2 does whole groups of 8,
/// where the CPU has it, once `fits` holds for them. (Their largest positions are found with
/// AVX2 too: x86-64's baseline has no unsigned 32-bit maximum, and a scalar pass over the run
/// cost a fifth of the kernel's time.)
#[cfg(not(target_arch = "aarch64"))]
fn blend(src: &Packed<'_>, qx: &[u32], qy: &[u32], out: &mut [u8]) -> usize {
    let n = qx.len() & !7;
    avx2_or_none!(
        n > 0,
        // SAFETY: the macro runs this only where the CPU has AVX2. The kernel runs only when
        // `fits` showed that every tap row's 8 bytes from the first tap of the first `n`
        // samples lie inside `src.data` (the kernel's 4-byte loads at the second tap end
        // within them, `bpp` ≤ 4), with all offsets below 2^31; `n` samples fit in `qx`, `qy`
        // (as many) and `out` (three times).
        unsafe {
            let (qx, qy, out) = (&qx[..n], &qy[..n], &mut out[..3 * n]);
            if fits(src, avx2::max(qx), avx2::max(qy)) {
                avx2::bilinear_packed(src, qx, qy, out);
                n
            } else {
                0
            }
        }
    )
}

/// True when, for positions up to `(max_x, max_y)` (`WBITS` fixed point), the 8 bytes from
/// the first tap of the second tap row lie inside `src.data` (so do the first row's, one
/// stride before), and every byte offset fits an `i32` (the x86-64 gathers' index type).
fn fits(src: &Packed<'_>, max_x: u32, max_y: u32) -> bool {
    if src.data.len() > i32::MAX as usize {
        return false;
    }
    let (x, y) = (max_x >> WBITS, max_y >> WBITS);
    // The farthest read starts at tap (x, y + 1) of the largest coordinates.
    (y as usize + 1)
        .checked_mul(src.stride)
        .and_then(|r| r.checked_add((x as usize).checked_mul(src.bpp)?))
        .and_then(|o| o.checked_add(8))
        .is_some_and(|end| end <= src.data.len())
}

/// `v` in `WBITS` fixed point, rounded to nearest (ties to even), after clamping to
/// `[-2, max]` (NaN gives -2): the tap is `q >> WBITS` (floor) and the upper tap's weight
/// `q & (2^WBITS − 1)`. `max` must be below 2^20 so that `|v × 2^WBITS| < 2^31`.
#[inline(always)]
pub fn fixed(v: f32, max: f32) -> i32 {
    // Compare-selects (one `maxss`/`minss` each) that also send NaN to -2 (outside).
    let v = if v > -2.0 { v } else { -2.0 };
    let v = if v < max { v } else { max };
    // Adding 1.5 × 2^52 to |x| < 2^51 leaves round(x) in the low mantissa bits: the low 32
    // bits are the two's complement of the rounded value, with no saturating conversion.
    (v as f64 * f64::from(1u32 << WBITS) + MAGIC).to_bits() as i32
}

/// 1.5 × 2^52 (see [`fixed`]).
const MAGIC: f64 = 6_755_399_441_055_744.0;

/// `out[k] = fixed(scale × (first + k) + offset, max)` for every `k`, the float products and
/// sums rounded as written (no fused multiply-add), so each equals [`fixed`] of the same
/// expression. `first + out.len()` must be at most 2^24 (exact as `f32`), and `max` below 2^20.
pub fn fixed_positions(scale: f32, offset: f32, first: usize, max: f32, out: &mut [i32]) {
    let done = avx2_or_none!(
        out.len() >= 8 && first + out.len() <= 1 << 24,
        // SAFETY: the macro runs this only where the CPU has AVX2; the kernel writes only
        // inside `out`.
        unsafe { avx2::fixed_positions(scale, offset, first as i32, max, out) }
    );
    for (k, o) in out.iter_mut().enumerate().skip(done) {
        *o = fixed(scale * (first + k) as f32 + offset, max);
    }
}

/// Interleaved RGB bytes (`3n`) to three planes of `n` floats, channel `c`'s value `v` becoming
/// `(v − mean[c]) × inv_std[c]` (one subtraction then one multiplication, rounded as written).
/// False, with nothing written, unless every plane holds exactly `n = bytes.len() / 3` floats.
#[must_use]
pub fn normalize_to_planes(
    bytes: &[u8],
    mean: [f32; 3],
    inv_std: [f32; 3],
    planes: [&mut [f32]; 3],
) -> bool {
    let n = bytes.len() / 3;
    if planes.iter().any(|p| p.len() != n) {
        return false;
    }
    let [r, g, b] = planes;
    let done = avx2_or_none!(
        n >= 8,
        // SAFETY: the macro runs this only where the CPU has AVX2; every plane holds `n`
        // floats and `bytes` at least `3n` bytes, all the kernel touches.
        unsafe {
            avx2::normalize_to_planes(&bytes[..3 * n], mean, inv_std, [&mut *r, &mut *g, &mut *b])
        }
    );
    for (k, px) in bytes.chunks_exact(3).enumerate().skip(done) {
        r[k] = (f32::from(px[0]) - mean[0]) * inv_std[0];
        g[k] = (f32::from(px[1]) - mean[1]) * inv_std[1];
        b[k] = (f32::from(px[2]) - mean[2]) * inv_std[2];
    }
    true
}

/// [`normalize_to_planes`] into one interleaved slice: `out[i]` from `bytes[i]`, channel
/// `i % 3`. False, with nothing written, unless `out` holds exactly `bytes.len()` floats, a
/// multiple of 3.
#[must_use]
pub fn normalize_interleaved(
    bytes: &[u8],
    mean: [f32; 3],
    inv_std: [f32; 3],
    out: &mut [f32],
) -> bool {
    if out.len() != bytes.len() || !bytes.len().is_multiple_of(3) {
        return false;
    }
    let done = avx2_or_none!(
        bytes.len() >= 24,
        // SAFETY: the macro runs this only where the CPU has AVX2; `out` and `bytes` have the
        // same length, all the kernel touches.
        unsafe { avx2::normalize_interleaved(bytes, mean, inv_std, out) }
    );
    for (i, (o, &v)) in out.iter_mut().zip(bytes).enumerate().skip(done) {
        *o = (f32::from(v) - mean[i % 3]) * inv_std[i % 3];
    }
    true
}

/// Side of [`correlate9`]'s template.
pub const TEMPLATE: usize = 9;

/// The row stride [`correlate9`] needs for `cols` positions a row: whole groups of 8 positions
/// plus the template's reach, so every kernel's vector loads stay on their row.
pub const fn correlate9_stride(cols: usize) -> usize {
    cols.div_ceil(8) * 8 + TEMPLATE - 1
}

/// Cross-correlation of a 9×9 template with an area of `f32` rows `stride` apart, for a
/// `rows × cols` grid of positions: `out[y·cols + x] = Σ area[(y+i)·stride + x + j] ·
/// tpl[9i + j]`, summed in row-major `(i, j)` order, each product rounded and then added (no
/// fused multiply-add), so every kernel gives the portable loop's bits.
///
/// Returns false and writes nothing when `stride < correlate9_stride(cols)`, the area has
/// fewer than `(rows + 8) × stride` values, or `out` fewer than `rows × cols`.
pub fn correlate9(
    area: &[f32],
    stride: usize,
    rows: usize,
    cols: usize,
    tpl: &[f32; TEMPLATE * TEMPLATE],
    out: &mut [f32],
) -> bool {
    let needed = rows
        .checked_add(TEMPLATE - 1)
        .and_then(|r| r.checked_mul(stride));
    let positions = rows.checked_mul(cols);
    let (Some(needed), Some(positions)) = (needed, positions) else {
        return false;
    };
    if cols > usize::MAX / 2 || stride < correlate9_stride(cols) || area.len() < needed {
        return false;
    }
    let Some(out) = out.get_mut(..positions) else {
        return false;
    };
    let done = avx2_or_none!(
        rows > 0 && cols > 0,
        // SAFETY: the macro runs this only where the CPU has AVX2; the kernel's slices are
        // bounds-checked.
        unsafe {
            avx2::correlate9(area, stride, cols, tpl, out);
            rows
        }
    );
    if done == 0 {
        correlate9_portable(area, stride, cols, tpl, out);
    }
    true
}

/// [`correlate9`]'s portable loop on a checked layout, for the rows of `out`: 4 positions at
/// a time (one 128-bit vector on SSE2 and NEON), reading up to 3 values past a row's last
/// position (inside the stride).
fn correlate9_portable(
    area: &[f32],
    stride: usize,
    cols: usize,
    tpl: &[f32; TEMPLATE * TEMPLATE],
    out: &mut [f32],
) {
    const L: usize = 4;
    let rows = out.len().checked_div(cols).unwrap_or(0);
    for y in 0..rows {
        for x0 in (0..cols).step_by(L) {
            let mut acc = [0.0f32; L];
            for (i, t_row) in tpl.chunks_exact(TEMPLATE).enumerate() {
                let row = &area[(y + i) * stride + x0..][..TEMPLATE + L - 1];
                for (j, &t) in t_row.iter().enumerate() {
                    for (a, &v) in acc.iter_mut().zip(&row[j..j + L]) {
                        *a += v * t;
                    }
                }
            }
            let n = L.min(cols - x0);
            out[y * cols + x0..][..n].copy_from_slice(&acc[..n]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// xorshift64*: deterministic test data without a dependency.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }
        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }
    }

    fn reference(src: &Packed<'_>, qx: &[u32], qy: &[u32], out: &mut [u8]) {
        for (k, (&x, &y)) in qx.iter().zip(qy).enumerate() {
            let (wx, wy) = (x & ((1 << WBITS) - 1), y & ((1 << WBITS) - 1));
            let i = (y >> WBITS) as usize * src.stride + (x >> WBITS) as usize * src.bpp;
            let p = |o: usize| src.data[i + o];
            for c in 0..3 {
                let (r, b) = (src.rgb[c], src.bpp + src.rgb[c]);
                out[3 * k + c] = lerp(p(r), p(b), p(src.stride + r), p(src.stride + b), wx, wy);
            }
        }
    }

    fn avx2() -> bool {
        #[cfg(all(feature = "std", target_arch = "x86_64"))]
        return std::is_x86_feature_detected!("avx2");
        #[allow(unreachable_code)]
        false
    }

    /// Random images (3- and 4-byte pixels, padded strides, every channel order), random
    /// positions with all taps inside: the kernel's bytes equal the reference's, the bytes past
    /// the samples it reports are untouched, and it reports all whole groups of 8 (AVX2) or all
    /// samples (NEON).
    #[test]
    fn equals_the_portable_blend_on_random_images_and_positions() {
        let mut rng = Rng(0x5eed_1234_abcd_0001);
        let orders = [[0, 1, 2], [2, 1, 0], [1, 2, 0], [3, 2, 1]];
        for case in 0..400 {
            let bpp = 3 + (case % 2);
            let rgb = orders[case / 2 % orders.len()];
            if rgb.iter().any(|&o| o >= bpp) {
                continue;
            }
            let (w, h) = (2 + rng.below(90) as usize, 2 + rng.below(70) as usize);
            let stride = w * bpp + rng.below(9) as usize;
            // Extra bytes at the end so the last pixel's 4-byte load fits: the bound case has
            // a test of its own.
            let data: Vec<u8> = (0..stride * h + 4).map(|_| rng.next() as u8).collect();
            let src = Packed {
                data: &data,
                stride,
                bpp,
                rgb,
            };
            let n = rng.below(70) as usize;
            let pos = |rng: &mut Rng, side: usize| {
                // Extreme weights (0 and 2047) as often as random ones.
                let base = (rng.below(side as u64 - 1) as u32) << WBITS;
                base + match rng.below(4) {
                    0 => 0,
                    1 => (1 << WBITS) - 1,
                    _ => rng.below(1 << WBITS) as u32,
                }
            };
            let qx: Vec<u32> = (0..n).map(|_| pos(&mut rng, w)).collect();
            let qy: Vec<u32> = (0..n).map(|_| pos(&mut rng, h)).collect();
            let mut want = vec![0u8; 3 * n];
            reference(&src, &qx, &qy, &mut want);
            let mut got = vec![0xA5u8; 3 * n + 5];
            let done = bilinear_packed(&src, &qx, &qy, &mut got);
            if avx2() {
                assert_eq!(done, n & !7, "case {case}");
            }
            if cfg!(target_arch = "aarch64") {
                assert_eq!(done, n, "case {case}");
            }
            assert_eq!(
                got[..3 * done],
                want[..3 * done],
                "case {case}: {w}×{h} bpp {bpp}"
            );
            assert!(got[3 * done..].iter().all(|&b| b == 0xA5), "case {case}");
        }
    }

    /// Every weight pair on the extreme bytes: the lane arithmetic cannot overflow.
    #[test]
    fn extreme_bytes_and_weights_equal_the_reference() {
        let data = [
            255u8, 0, 255, 0, 255, 0, 255, 0, 0, 255, 0, 255, 0, 255, 0, 255, 0, 0,
        ];
        let src = Packed {
            data: &data,
            stride: 8,
            bpp: 4,
            rgb: [0, 1, 2],
        };
        let mut rng = Rng(7);
        for _ in 0..200 {
            let qx: Vec<u32> = (0..64).map(|_| rng.below(1 << WBITS) as u32).collect();
            let qy: Vec<u32> = (0..64).map(|_| rng.below(1 << WBITS) as u32).collect();
            let (mut want, mut got) = (vec![0u8; 192], vec![0u8; 192]);
            reference(&src, &qx, &qy, &mut want);
            let done = bilinear_packed(&src, &qx, &qy, &mut got);
            assert_eq!(got[..3 * done], want[..3 * done]);
        }
    }

    /// A run whose farthest 4-byte load would end past the slice, a bad pixel size or channel
    /// offset, and fewer than 8 samples: nothing is done or written.
    #[test]
    fn out_of_bounds_or_bad_layouts_do_nothing() {
        let (w, h) = (10usize, 6usize);
        let data = vec![9u8; w * 3 * h];
        let src = Packed {
            data: &data,
            stride: w * 3,
            bpp: 3,
            rgb: [0, 1, 2],
        };
        // The bottom-right tap pair: its second row's 8-byte read ends beyond the image.
        let qx = vec![((w - 2) as u32) << WBITS; 8];
        let qy = vec![((h - 2) as u32) << WBITS; 8];
        let mut out = vec![1u8; 24];
        assert_eq!(bilinear_packed(&src, &qx, &qy, &mut out), 0);
        assert!(out.iter().all(|&b| b == 1));
        // One row up, it fits.
        let qy_up = vec![((h - 3) as u32) << WBITS; 8];
        let done = bilinear_packed(&src, &qx, &qy_up, &mut out);
        if avx2() || cfg!(target_arch = "aarch64") {
            assert_eq!(done, 8);
            assert!(out.iter().all(|&b| b == 9));
        }
        // Positions far outside the image.
        let far = vec![u32::MAX; 8];
        assert_eq!(bilinear_packed(&src, &far, &qy_up, &mut out), 0);
        assert_eq!(bilinear_packed(&src, &qx, &far, &mut out), 0);
        for (bpp, rgb) in [
            (2, [0, 1, 0]),
            (5, [0, 1, 2]),
            (3, [0, 1, 3]),
            (0, [0, 0, 0]),
        ] {
            let bad = Packed { bpp, rgb, ..src };
            assert_eq!(bilinear_packed(&bad, &qx, &qy_up, &mut out), 0);
        }
        // AVX2 works in groups of 8: fewer samples, or an output too short for 8, are left to
        // the caller.
        if avx2() {
            assert_eq!(bilinear_packed(&src, &qx[..7], &qy_up[..7], &mut out), 0);
            assert_eq!(bilinear_packed(&src, &qx, &qy_up, &mut out[..23]), 0);
        }
        assert_eq!(bilinear_packed(&src, &qx[..0], &qy_up[..0], &mut out), 0);
    }

    /// Random maps, including NaN, infinite and huge scales and offsets and positions past the
    /// clamps: every run length equals [`fixed`] of the same float expression, one by one.
    #[test]
    fn fixed_positions_equal_fixed_of_each_expression() {
        let mut rng = Rng(0xf1ed);
        let special = [
            f32::NAN,
            f32::INFINITY,
            -f32::INFINITY,
            1e30,
            -1e30,
            0.0,
            -0.0,
        ];
        let value = |rng: &mut Rng| match rng.below(5) {
            0 => special[rng.below(special.len() as u64) as usize],
            1 => (rng.below(1 << 20) as f32 - (1 << 19) as f32) / 1024.0,
            _ => (rng.next() as u32 as f32 / u32::MAX as f32 - 0.3) * 4.0,
        };
        for _ in 0..3000 {
            let (scale, offset) = (value(&mut rng), value(&mut rng) * 300.0);
            let max = 1.0 + rng.below(4000) as f32;
            let first = rng.below(300) as usize;
            let mut out = vec![0i32; rng.below(70) as usize];
            fixed_positions(scale, offset, first, max, &mut out);
            for (k, &q) in out.iter().enumerate() {
                let want = fixed(scale * (first + k) as f32 + offset, max);
                assert_eq!(
                    q, want,
                    "scale {scale} offset {offset} first {first} k {k} max {max}"
                );
            }
        }
        assert_eq!(fixed(f32::NAN, 3.0), -2 << WBITS);
        assert_eq!(fixed(-0.25, 3.0), -512);
        assert_eq!(fixed(1e30, 3.0), 3 << WBITS);
        assert_eq!(fixed(0.5 / 2048.0, 3.0), 0, "ties go to even");
    }

    /// Every byte value at every position, random means and scales: both layouts equal the
    /// one-by-one formula bit for bit, and a length mismatch writes nothing.
    #[test]
    fn normalisation_equals_the_formula_in_both_layouts() {
        let mut rng = Rng(0xab);
        for case in 0..200 {
            let n = rng.below(90) as usize;
            let bytes: Vec<u8> = (0..3 * n)
                .map(|i| (i * 7 + case) as u8 ^ rng.next() as u8)
                .collect();
            let f = |rng: &mut Rng| (rng.next() as u32 as f32 / u32::MAX as f32) * 300.0 - 20.0;
            let mean = [f(&mut rng), f(&mut rng), f(&mut rng)];
            let inv_std = [1.0 / f(&mut rng), 1.0 / 255.0, 1.0 / 127.5];
            let want = |i: usize| (f32::from(bytes[i]) - mean[i % 3]) * inv_std[i % 3];
            let mut inter = vec![f32::NAN; 3 * n];
            assert!(normalize_interleaved(&bytes, mean, inv_std, &mut inter));
            let (mut r, mut g, mut b) = (vec![f32::NAN; n], vec![f32::NAN; n], vec![f32::NAN; n]);
            assert!(normalize_to_planes(
                &bytes,
                mean,
                inv_std,
                [&mut r, &mut g, &mut b]
            ));
            for i in 0..3 * n {
                assert_eq!(
                    inter[i].to_bits(),
                    want(i).to_bits(),
                    "case {case} value {i}"
                );
                let plane = [&r, &g, &b][i % 3];
                assert_eq!(
                    plane[i / 3].to_bits(),
                    want(i).to_bits(),
                    "case {case} value {i}"
                );
            }
        }
        let bytes = [1u8; 48];
        let mut short = [7.0f32; 47];
        assert!(!normalize_interleaved(
            &bytes, [0.0; 3], [1.0; 3], &mut short
        ));
        assert!(short.iter().all(|&v| v == 7.0));
        let (mut r, mut g, mut b) = ([7.0f32; 16], [7.0f32; 16], [7.0f32; 15]);
        assert!(!normalize_to_planes(
            &bytes,
            [0.0; 3],
            [1.0; 3],
            [&mut r, &mut g, &mut b]
        ));
        assert!(r.iter().chain(&g).chain(&b).all(|&v| v == 7.0));
    }

    /// Each position's products summed in row-major template order, one at a time.
    fn correlate9_reference(
        area: &[f32],
        stride: usize,
        rows: usize,
        cols: usize,
        tpl: &[f32; 81],
    ) -> Vec<f32> {
        let mut out = Vec::new();
        for y in 0..rows {
            for x in 0..cols {
                let mut acc = 0.0f32;
                for i in 0..TEMPLATE {
                    for j in 0..TEMPLATE {
                        acc += area[(y + i) * stride + x + j] * tpl[i * TEMPLATE + j];
                    }
                }
                out.push(acc);
            }
        }
        out
    }

    #[test]
    fn correlate9_gives_the_reference_bits_on_every_kernel_and_refuses_short_layouts() {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let mut value = || (rng.below(1 << 20) as f32 / 4096.0) - 128.0;
        for (rows, cols) in [(1, 1), (3, 9), (9, 9), (5, 17), (33, 33), (2, 41)] {
            let stride = correlate9_stride(cols) + (rows % 3);
            let area: Vec<f32> = (0..(rows + 8) * stride).map(|_| value()).collect();
            let tpl: [f32; 81] = core::array::from_fn(|_| value());
            let want = correlate9_reference(&area, stride, rows, cols, &tpl);
            let mut got = vec![f32::NAN; rows * cols];
            assert!(correlate9(&area, stride, rows, cols, &tpl, &mut got));
            assert_eq!(got, want, "{rows}×{cols}, the run-time kernel");
            let mut portable = vec![f32::NAN; rows * cols];
            correlate9_portable(&area, stride, cols, &tpl, &mut portable);
            assert_eq!(portable, want, "{rows}×{cols}, the portable loop");
            // One value short of the area, a stride too narrow, an output too short: refused,
            // nothing written.
            let mut untouched = vec![f32::NAN; rows * cols];
            let n = rows * cols;
            for (area, stride, out) in [
                (&area[..area.len() - 1], stride, n),
                (&area[..], correlate9_stride(cols) - 1, n),
                (&area[..], stride, n - 1),
            ] {
                let out = &mut untouched[..out];
                assert!(!correlate9(area, stride, rows, cols, &tpl, out));
            }
            assert!(untouched.iter().all(|v| v.is_nan()));
        }
    }
}
