//! AVX2 kernels (x86-64), 8 samples per step in 32-bit lanes.

use core::arch::x86_64::*;

use super::{Packed, WBITS};

/// [`super::bilinear_packed`] for all of `qx`, 8 samples at a time: four gathers of 4 bytes
/// per sample (one per tap), each channel's byte moved into its lane by a byte shuffle, the
/// blend of [`super::lerp`] in 32-bit lanes (`vpmulld`), and the 8 results packed to 24 bytes.
///
/// # Safety
/// The CPU has AVX2. `qx.len() == qy.len()`, a multiple of 8, and `out.len() == 3 × qx.len()`.
/// For every sample, the 4 bytes at byte offset `y·stride + x·bpp + d` of `src.data`, for each
/// `d` of `0`, `bpp`, `stride`, `stride + bpp`, lie inside `src.data`, and every such offset is
/// below 2^31 (`x`, `y` the sample's integer position).
#[target_feature(enable = "avx2")]
pub(super) unsafe fn bilinear_packed(src: &Packed<'_>, qx: &[u32], qy: &[u32], out: &mut [u8]) {
    debug_assert!(qx.len() == qy.len() && qx.len().is_multiple_of(8) && out.len() == 3 * qx.len());
    let base = src.data.as_ptr();
    let (stride, bpp) = (src.stride as i32, src.bpp as i32);
    let frac = _mm256_set1_epi32((1 << WBITS) - 1);
    let half = _mm256_set1_epi32(1 << (2 * WBITS - 1));
    let vstride = _mm256_set1_epi32(stride);
    let vbpp = _mm256_set1_epi32(bpp);
    // Per channel: a byte shuffle that moves byte `rgb[c]` of each 32-bit lane to the lane's
    // low byte and zeroes the rest.
    let pick = src.rgb.map(|o| {
        let word = |k: i32| (4 * k + o as i32) | (0x8080_8000u32 as i32);
        let mask = _mm_setr_epi32(word(0), word(1), word(2), word(3));
        _mm256_set_m128i(mask, mask)
    });
    // Packs each 128-bit lane's four `r | g << 8 | b << 16` words into its low 12 bytes.
    let pack = {
        let m = _mm_setr_epi8(0, 1, 2, 4, 5, 6, 8, 9, 10, 12, 13, 14, -1, -1, -1, -1);
        _mm256_set_m128i(m, m)
    };
    let groups = qx.len() / 8;
    for g in 0..groups {
        // SAFETY: 8 elements from `8g` lie inside `qx`, `qy` (length a multiple of 8).
        let (vx, vy) = unsafe {
            (
                _mm256_loadu_si256(qx.as_ptr().add(8 * g).cast()),
                _mm256_loadu_si256(qy.as_ptr().add(8 * g).cast()),
            )
        };
        let (wx, wy) = (_mm256_and_si256(vx, frac), _mm256_and_si256(vy, frac));
        let off = _mm256_add_epi32(
            _mm256_mullo_epi32(_mm256_srli_epi32::<WBITS_I>(vy), vstride),
            _mm256_mullo_epi32(_mm256_srli_epi32::<WBITS_I>(vx), vbpp),
        );
        // SAFETY: the caller guarantees the 4 bytes at `off + d` are inside `src.data` for each
        // tap offset `d`, and `off + d` < 2^31, so each gathered element is in bounds.
        let (p00, p01, p10, p11) = unsafe {
            (
                _mm256_i32gather_epi32::<1>(base.cast(), off),
                _mm256_i32gather_epi32::<1>(base.add(src.bpp).cast(), off),
                _mm256_i32gather_epi32::<1>(base.add(src.stride).cast(), off),
                _mm256_i32gather_epi32::<1>(base.add(src.stride + src.bpp).cast(), off),
            )
        };
        let mut packed = _mm256_setzero_si256();
        for (c, m) in pick.iter().enumerate() {
            let ch = |p| _mm256_shuffle_epi8(p, *m);
            let along = |a, b, w| {
                _mm256_add_epi32(
                    _mm256_slli_epi32::<WBITS_I>(a),
                    _mm256_mullo_epi32(_mm256_sub_epi32(b, a), w),
                )
            };
            let top = along(ch(p00), ch(p01), wx);
            let bot = along(ch(p10), ch(p11), wx);
            let v =
                _mm256_srli_epi32::<{ 2 * WBITS_I }>(_mm256_add_epi32(along(top, bot, wy), half));
            packed = _mm256_or_si256(packed, _mm256_sll_epi32(v, _mm_cvtsi32_si128(8 * c as i32)));
        }
        let bytes = _mm256_shuffle_epi8(packed, pack);
        let at = 24 * g;
        if at + 28 <= out.len() {
            // Two 16-byte stores, the second overlapping the first's 4 filler bytes; both end
            // inside `out` (checked just above).
            // SAFETY: `at + 28 <= out.len()`, so `out[at .. at + 16]` and
            // `out[at + 12 .. at + 28]` are inside `out`.
            unsafe {
                _mm_storeu_si128(
                    out.as_mut_ptr().add(at).cast(),
                    _mm256_castsi256_si128(bytes),
                );
                _mm_storeu_si128(
                    out.as_mut_ptr().add(at + 12).cast(),
                    _mm256_extracti128_si256::<1>(bytes),
                );
            }
        } else {
            let mut tmp = [0u8; 32];
            // SAFETY: `tmp` is 32 bytes, and both stores end at or before byte 28.
            unsafe {
                _mm_storeu_si128(tmp.as_mut_ptr().cast(), _mm256_castsi256_si128(bytes));
                _mm_storeu_si128(
                    tmp.as_mut_ptr().add(12).cast(),
                    _mm256_extracti128_si256::<1>(bytes),
                );
            }
            out[at..at + 24].copy_from_slice(&tmp[..24]);
        }
    }
}

const WBITS_I: i32 = WBITS as i32;

/// The largest value of `v` (0 when empty); compiled with AVX2, so the loop runs on
/// `vpmaxud`.
#[target_feature(enable = "avx2")]
pub(super) fn max(v: &[u32]) -> u32 {
    v.iter().fold(0, |m, &q| m.max(q))
}

/// [`super::fixed_positions`] for the first `out.len() / 8 × 8` positions; returns that count.
/// `vmaxps` / `vminps` keep the scalar compare-selects' results (NaN → −2), and the f64 steps
/// are the scalar ones, so each value is [`super::fixed`]'s.
///
/// # Safety
/// The CPU has AVX2.
#[target_feature(enable = "avx2")]
pub(super) unsafe fn fixed_positions(
    scale: f32,
    offset: f32,
    first: i32,
    max: f32,
    out: &mut [i32],
) -> usize {
    let (vs, vo) = (_mm256_set1_ps(scale), _mm256_set1_ps(offset));
    let (lo, hi) = (_mm256_set1_ps(-2.0), _mm256_set1_ps(max));
    let (one, magic) = (
        _mm256_set1_pd(f64::from(1u32 << WBITS)),
        _mm256_set1_pd(super::MAGIC),
    );
    let step = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    // The low 32 bits of each 64-bit lane, gathered into the low 128 bits.
    let low = _mm256_setr_epi32(0, 2, 4, 6, 0, 2, 4, 6);
    let n = out.len() / 8 * 8;
    for (g, o) in out[..n].chunks_exact_mut(8).enumerate() {
        let i = _mm256_cvtepi32_ps(_mm256_add_epi32(
            _mm256_set1_epi32(first + 8 * g as i32),
            step,
        ));
        let v = _mm256_add_ps(_mm256_mul_ps(vs, i), vo);
        let v = _mm256_min_ps(_mm256_max_ps(v, lo), hi);
        let round = |half: __m128| {
            let d = _mm256_add_pd(_mm256_mul_pd(_mm256_cvtps_pd(half), one), magic);
            _mm256_castsi256_si128(_mm256_permutevar8x32_epi32(_mm256_castpd_si256(d), low))
        };
        let q = _mm256_set_m128i(
            round(_mm256_extractf128_ps::<1>(v)),
            round(_mm256_castps256_ps128(v)),
        );
        // SAFETY: `o` is 8 `i32`s.
        unsafe { _mm256_storeu_si256(o.as_mut_ptr().cast(), q) };
    }
    n
}

/// [`super::normalize_to_planes`] for the first `n / 8 × 8` pixels; returns that count.
///
/// # Safety
/// The CPU has AVX2; `bytes.len() == 3n` and every plane holds `n` floats.
#[target_feature(enable = "avx2")]
pub(super) unsafe fn normalize_to_planes(
    bytes: &[u8],
    mean: [f32; 3],
    inv_std: [f32; 3],
    planes: [&mut [f32]; 3],
) -> usize {
    let n = bytes.len() / 3 / 8 * 8;
    // Channel c of pixels 0–3 from bytes 0..16 (low lane), of pixels 4–7 from bytes 8..24
    // (high lane, where pixel 4 starts at byte 4): each into a zero-extended 32-bit lane.
    let pick = [0, 1, 2].map(|c: i32| {
        let word = |b: i32| b | (0x8080_8000u32 as i32);
        _mm256_set_m128i(
            _mm_setr_epi32(word(4 + c), word(7 + c), word(10 + c), word(13 + c)),
            _mm_setr_epi32(word(c), word(3 + c), word(6 + c), word(9 + c)),
        )
    });
    let mean = mean.map(|v| _mm256_set1_ps(v));
    let inv = inv_std.map(|v| _mm256_set1_ps(v));
    for g in 0..n / 8 {
        let at = 24 * g;
        // SAFETY: `at + 24 <= 3n <= bytes.len()`, so both 16-byte loads are inside `bytes`.
        let ab = unsafe {
            _mm256_set_m128i(
                _mm_loadu_si128(bytes.as_ptr().add(at + 8).cast()),
                _mm_loadu_si128(bytes.as_ptr().add(at).cast()),
            )
        };
        for c in 0..3 {
            let v = _mm256_cvtepi32_ps(_mm256_shuffle_epi8(ab, pick[c]));
            let f = _mm256_mul_ps(_mm256_sub_ps(v, mean[c]), inv[c]);
            let dst = &mut planes[c][8 * g..8 * g + 8];
            // SAFETY: `dst` is 8 floats.
            unsafe { _mm256_storeu_ps(dst.as_mut_ptr(), f) };
        }
    }
    n
}

/// [`super::normalize_interleaved`] for the first `len / 24 × 24` values; returns that count.
///
/// # Safety
/// The CPU has AVX2; `out.len() == bytes.len()`.
#[target_feature(enable = "avx2")]
pub(super) unsafe fn normalize_interleaved(
    bytes: &[u8],
    mean: [f32; 3],
    inv_std: [f32; 3],
    out: &mut [f32],
) -> usize {
    let n = bytes.len().min(out.len()) / 24 * 24;
    // Value j of 8-value block k is channel (8k + j) % 3.
    let pattern = |v: [f32; 3], k: usize| {
        let c = |j: usize| v[(8 * k + j) % 3];
        _mm256_setr_ps(c(0), c(1), c(2), c(3), c(4), c(5), c(6), c(7))
    };
    let mean = [0, 1, 2].map(|k| pattern(mean, k));
    let inv = [0, 1, 2].map(|k| pattern(inv_std, k));
    for at in (0..n).step_by(8) {
        let k = at / 8 % 3;
        // SAFETY: `at + 8 <= n <= bytes.len()`: the 8-byte load is inside `bytes`.
        let b = unsafe { _mm_loadl_epi64(bytes.as_ptr().add(at).cast()) };
        let v = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(b));
        let f = _mm256_mul_ps(_mm256_sub_ps(v, mean[k]), inv[k]);
        let dst = &mut out[at..at + 8];
        // SAFETY: `dst` is 8 floats.
        unsafe { _mm256_storeu_ps(dst.as_mut_ptr(), f) };
    }
    n
}

/// [`super::correlate9`] for every row, 8 positions per vector: per template value, one
/// broadcast, then a product and a sum per group of 8 (not fused, as the portable loop).
///
/// # Safety
/// The CPU has AVX2. (Every access is a bounds-checked slice: `area`'s rows `stride` apart
/// cover `out.len() / cols + 8` rows, and `stride ≥ correlate9_stride(cols)`.)
#[target_feature(enable = "avx2")]
pub(super) unsafe fn correlate9(
    area: &[f32],
    stride: usize,
    cols: usize,
    tpl: &[f32; super::TEMPLATE * super::TEMPLATE],
    out: &mut [f32],
) {
    use super::TEMPLATE;
    const GROUPS: usize = 5;
    let mut lanes = [0.0f32; 8];
    for (y, out_row) in out.chunks_exact_mut(cols).enumerate() {
        // Up to 40 positions in registers; wider rows take several passes.
        for x0 in (0..cols).step_by(8 * GROUPS) {
            let groups = (cols - x0).div_ceil(8).min(GROUPS);
            let mut acc = [_mm256_setzero_ps(); GROUPS];
            for (i, t_row) in tpl.chunks_exact(TEMPLATE).enumerate() {
                let row = &area[(y + i) * stride + x0..][..8 * groups + TEMPLATE - 1];
                for (j, &t) in t_row.iter().enumerate() {
                    let t = _mm256_set1_ps(t);
                    for (g, a) in acc[..groups].iter_mut().enumerate() {
                        let v = &row[8 * g + j..8 * g + j + 8];
                        // SAFETY: `v` is 8 floats.
                        let v = unsafe { _mm256_loadu_ps(v.as_ptr()) };
                        *a = _mm256_add_ps(*a, _mm256_mul_ps(v, t));
                    }
                }
            }
            for (g, a) in acc[..groups].iter().enumerate() {
                // SAFETY: `lanes` is 8 floats.
                unsafe { _mm256_storeu_ps(lanes.as_mut_ptr(), *a) };
                let x = x0 + 8 * g;
                let n = 8.min(cols - x);
                out_row[x..x + n].copy_from_slice(&lanes[..n]);
            }
        }
    }
}
