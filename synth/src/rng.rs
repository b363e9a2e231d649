//! The generator's own pseudo-random numbers, so that no crate update can change a capture.
//!
//! - [`SplitMix64`] (Steele, Lea & Flood 2014) expands a 64-bit seed into state words.
//! - [`Rng`] is xoshiro256** (Blackman & Vigna 2018), seeded by SplitMix64 from the capture
//!   seed mixed with a stream name ([`Rng::stream`]): each purpose (placement, motion, print,
//!   noise of frame k, ...) draws from its own stream, so adding a draw to one purpose leaves
//!   every other purpose's numbers unchanged.
//! - Normal deviates: Box–Muller (one pair per two uniforms) for parameters, and a 65 536-entry
//!   inverse-CDF table ([`GaussTable`], Acklam's rational approximation, relative error
//!   < 1.2e-9) for per-pixel sensor noise, where Box–Muller's logarithm per sample is too slow.
//!
//! Everything is plain integer and `f64` arithmetic in this file, deterministic on one platform.

/// SplitMix64: a 64-bit state advanced by the golden-ratio increment, output mixed.
#[derive(Clone, Debug)]
pub struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    pub fn new(seed: u64) -> Self {
        Self { state: seed }
    }

    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

/// FNV-1a, 64 bit: turns a stream name into a seed offset.
fn fnv1a(s: &str) -> u64 {
    let mut h: u64 = 0xCBF2_9CE4_8422_2325;
    for b in s.bytes() {
        h ^= b as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01B3);
    }
    h
}

/// xoshiro256**: 256-bit state, period 2^256 − 1.
#[derive(Clone, Debug)]
pub struct Rng {
    s: [u64; 4],
    /// The second Box–Muller deviate, kept for the next call.
    spare: Option<f64>,
}

impl Rng {
    /// The generator of stream `name` for capture seed `seed`.
    pub fn stream(seed: u64, name: &str) -> Rng {
        let mut sm = SplitMix64::new(seed ^ fnv1a(name));
        let mut s = [0u64; 4];
        for w in s.iter_mut() {
            *w = sm.next_u64();
        }
        if s == [0; 4] {
            s[0] = 1; // the all-zero state is xoshiro's only fixed point
        }
        Rng { s, spare: None }
    }

    pub fn next_u64(&mut self) -> u64 {
        let result = self.s[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = self.s[1] << 17;
        self.s[2] ^= self.s[0];
        self.s[3] ^= self.s[1];
        self.s[1] ^= self.s[2];
        self.s[0] ^= self.s[3];
        self.s[2] ^= t;
        self.s[3] = self.s[3].rotate_left(45);
        result
    }

    /// Uniform in [0, 1), 53 bits.
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform in [lo, hi).
    pub fn range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.uniform()
    }

    /// Log-uniform in [lo, hi) (both > 0): equal odds per octave.
    pub fn log_range(&mut self, lo: f64, hi: f64) -> f64 {
        (lo.ln() + (hi.ln() - lo.ln()) * self.uniform()).exp()
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        self.uniform() < p
    }

    /// Standard normal deviate (Box–Muller).
    pub fn normal(&mut self) -> f64 {
        if let Some(v) = self.spare.take() {
            return v;
        }
        // u1 in (0, 1] so the logarithm is finite.
        let u1 = 1.0 - self.uniform();
        let u2 = self.uniform();
        let r = (-2.0 * u1.ln()).sqrt();
        let a = 2.0 * std::f64::consts::PI * u2;
        self.spare = Some(r * a.sin());
        r * a.cos()
    }
}

/// 65 536 standard-normal quantiles `Φ⁻¹((i + 0.5) / 65536)`: one 16-bit slice of a random
/// word picks one deviate (four per `u64`). Tails are cut at ±4.17σ, enough for sensor noise.
pub struct GaussTable {
    table: Vec<f32>,
}

impl GaussTable {
    pub const SIZE: usize = 1 << 16;

    pub fn new() -> GaussTable {
        let table = (0..Self::SIZE)
            .map(|i| inverse_normal_cdf((i as f64 + 0.5) / Self::SIZE as f64) as f32)
            .collect();
        GaussTable { table }
    }

    /// Four deviates from one random word.
    #[inline]
    pub fn four(&self, word: u64) -> [f32; 4] {
        let t = &self.table;
        [
            t[(word & 0xFFFF) as usize],
            t[((word >> 16) & 0xFFFF) as usize],
            t[((word >> 32) & 0xFFFF) as usize],
            t[(word >> 48) as usize],
        ]
    }
}

impl Default for GaussTable {
    fn default() -> Self {
        Self::new()
    }
}

/// Acklam's rational approximation of the standard normal quantile, `p` in (0, 1).
pub fn inverse_normal_cdf(p: f64) -> f64 {
    const A: [f64; 6] = [
        -3.969_683_028_665_376e1,
        2.209_460_984_245_205e2,
        -2.759_285_104_469_687e2,
        1.383_577_518_672_69e2,
        -3.066_479_806_614_716e1,
        2.506_628_277_459_239,
    ];
    const B: [f64; 5] = [
        -5.447_609_879_822_406e1,
        1.615_858_368_580_409e2,
        -1.556_989_798_598_866e2,
        6.680_131_188_771_972e1,
        -1.328_068_155_288_572e1,
    ];
    const C: [f64; 6] = [
        -7.784_894_002_430_293e-3,
        -3.223_964_580_411_365e-1,
        -2.400_758_277_161_838,
        -2.549_732_539_343_734,
        4.374_664_141_464_968,
        2.938_163_982_698_783,
    ];
    const D: [f64; 4] = [
        7.784_695_709_041_462e-3,
        3.224_671_290_700_398e-1,
        2.445_134_137_142_996,
        3.754_408_661_907_416,
    ];
    let p = p.clamp(1e-300, 1.0 - 1e-16);
    let p_low = 0.02425;
    if p < p_low {
        let q = (-2.0 * p.ln()).sqrt();
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    } else if p <= 1.0 - p_low {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    } else {
        let q = (-2.0 * (1.0 - p).ln()).sqrt();
        -(((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitmix_reference_values() {
        // Vigna's reference splitmix64.c seeded with 0.
        let mut s = SplitMix64::new(0);
        assert_eq!(s.next_u64(), 0xE220_A839_7B1D_CDAF);
        assert_eq!(s.next_u64(), 0x6E78_9E6A_A1B9_65F4);
        assert_eq!(s.next_u64(), 0x06C4_5D18_8009_454F);
    }

    #[test]
    fn streams_differ_and_repeat() {
        let a: Vec<u64> = (0..4).map(|_| Rng::stream(7, "a").next_u64()).collect();
        assert!(a.windows(2).all(|w| w[0] == w[1]));
        let mut x = Rng::stream(7, "a");
        let mut y = Rng::stream(7, "b");
        assert_ne!(x.next_u64(), y.next_u64());
    }

    #[test]
    fn normal_moments() {
        let mut r = Rng::stream(1, "normal");
        let n = 200_000;
        let v: Vec<f64> = (0..n).map(|_| r.normal()).collect();
        let mean = v.iter().sum::<f64>() / n as f64;
        let var = v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n as f64;
        assert!(mean.abs() < 0.01, "mean {mean}");
        assert!((var - 1.0).abs() < 0.01, "variance {var}");
    }

    #[test]
    fn gauss_table_moments_and_quantiles() {
        let t = GaussTable::new();
        assert!((inverse_normal_cdf(0.975) - 1.959_964).abs() < 1e-5);
        assert!((inverse_normal_cdf(0.5)).abs() < 1e-12);
        let mut r = Rng::stream(2, "table");
        let mut s = 0.0f64;
        let mut s2 = 0.0f64;
        let n = 50_000;
        for _ in 0..n {
            for g in t.four(r.next_u64()) {
                s += g as f64;
                s2 += (g as f64).powi(2);
            }
        }
        let m = s / (4 * n) as f64;
        let var = s2 / (4 * n) as f64 - m * m;
        assert!(m.abs() < 0.01 && (var - 1.0).abs() < 0.01, "{m} {var}");
    }
}
