//! NEON kernels (aarch64, where NEON is part of the baseline: no run-time detection). Safe
//! functions with `#[target_feature(enable = "neon")]`: the loads are bounds-checked slice
//! reads; the only `unsafe` is the call, which asserts the feature (every aarch64 target
//! has it).
//!
//! Only the bilinear blend has one: on aarch64 the portable position and normalisation loops
//! are vectorised by the compiler already (NEON has the f64 and 32-bit lane operations that
//! x86-64's baseline lacks), while the blend's scattered taps are not.

use core::arch::aarch64::*;

use super::{Packed, WBITS};

/// [`super::bilinear_packed`], one sample per step with the channels in lanes: one 8-byte read
/// per tap row holds both columns' pixels; a table lookup moves each tap's R, G, B bytes into
/// three zero-extended 32-bit lanes; the blend of [`super::lerp`] runs on the lanes
/// (multiply-accumulate by the weight). Returns `qx.len()`.
///
/// The caller has checked that every sample's 8-byte reads at `y·stride + x·bpp` and one row
/// below lie inside `src.data` (a failed check here would panic, not read outside).
#[target_feature(enable = "neon")]
pub(super) fn bilinear_packed(src: &Packed<'_>, qx: &[u32], qy: &[u32], out: &mut [u8]) -> usize {
    // Lane c (bytes 4c .. 4c + 4) takes byte `rgb[c]` (first column) or `bpp + rgb[c]`
    // (second column) of the row; index 0xFF reads 0.
    let index = |first: usize| {
        let mut t = [0xFFu8; 16];
        for (c, &o) in src.rgb.iter().enumerate() {
            t[4 * c] = (first + o) as u8;
        }
        let half = |h: &[u8]| vcreate_u8(u64::from_le_bytes(h.try_into().expect("8 bytes")));
        vcombine_u8(half(&t[..8]), half(&t[8..]))
    };
    let (left, right) = (index(0), index(src.bpp));
    let half = vdupq_n_s32(1 << (2 * WBITS - 1));
    let frac = (1u32 << WBITS) - 1;
    let row = |o: usize| {
        let bytes: [u8; 8] = src.data[o..o + 8].try_into().expect("8 bytes");
        vcombine_u8(vcreate_u8(u64::from_le_bytes(bytes)), vdup_n_u8(0))
    };
    let n = qx.len().min(qy.len()).min(out.len() / 3);
    for k in 0..n {
        let (x, y) = (qx[k], qy[k]);
        let o = (y >> WBITS) as usize * src.stride + (x >> WBITS) as usize * src.bpp;
        let (r0, r1) = (row(o), row(o + src.stride));
        let lanes = |r: uint8x16_t, idx: uint8x16_t| vreinterpretq_s32_u8(vqtbl1q_u8(r, idx));
        let (wx, wy) = ((x & frac) as i32, (y & frac) as i32);
        let along = |a: int32x4_t, b: int32x4_t, w: i32| {
            vmlaq_n_s32(vshlq_n_s32::<{ WBITS as i32 }>(a), vsubq_s32(b, a), w)
        };
        let top = along(lanes(r0, left), lanes(r0, right), wx);
        let bot = along(lanes(r1, left), lanes(r1, right), wx);
        let v = vshrq_n_s32::<{ 2 * WBITS as i32 }>(vaddq_s32(along(top, bot, wy), half));
        out[3 * k] = vgetq_lane_s32::<0>(v) as u8;
        out[3 * k + 1] = vgetq_lane_s32::<1>(v) as u8;
        out[3 * k + 2] = vgetq_lane_s32::<2>(v) as u8;
    }
    n
}
