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

/// The standard normal quantile, `p` clamped into (0, 1) so that the result is finite
/// (core's `probit`: Acklam's rational approximation).
pub fn inverse_normal_cdf(p: f64) -> f64 {
    liveproof_core::calibration::metrics::probit(p.clamp(1e-300, 1.0 - 1e-16))
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
