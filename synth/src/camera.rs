//! The capturing camera's imperfections: sensor noise, exposure flicker, frame timing.
//!
//! **Noise** follows the photon-transfer model in linear light: a pixel that collects
//! `N = lin × full_well` electrons has variance `N + read²` electrons², i.e.
//! `σ_lin = √(lin × full_well + read²) / full_well`. It is propagated to the sRGB-encoded output
//! through the curve's slope (first order) and added per channel, independently per pixel
//! (phones denoise, so their full-well equivalent at the output is high: drawn in
//! 1 000–6 000 e⁻, about 1.5–3.5 DN at mid grey). **Flicker** scales each frame's exposure by
//! `1 + N(0, σ)`. **Timing**: frame `k` is captured at slot `n_k` of the nominal period
//! `1e9 / fps` ns with Gaussian jitter (clamped to ±40% of the period so timestamps stay
//! increasing), and a frame is dropped (the slot skipped) with a small probability.

use serde::{Deserialize, Serialize};

use crate::imgops::{linear_to_srgb, srgb_to_linear, ImageF};
use crate::rng::{GaussTable, Rng};

/// Sensor noise and flicker, drawn from the seed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SensorDraw {
    /// Electrons at full scale (linear 1.0); log-uniform in [1000, 6000].
    pub full_well_e: f64,
    /// Read noise, electrons RMS; uniform in [2, 6].
    pub read_noise_e: f64,
    /// Per-frame exposure flicker, relative standard deviation in linear light; [0.002, 0.008].
    pub flicker_sigma: f64,
}

impl SensorDraw {
    pub fn draw(rng: &mut Rng) -> SensorDraw {
        SensorDraw {
            full_well_e: rng.log_range(1000.0, 6000.0),
            read_noise_e: rng.range(2.0, 6.0),
            flicker_sigma: rng.range(0.002, 0.008),
        }
    }

    /// Noise standard deviation in output DN (0..=255 scale) for each encoded byte value.
    pub fn sigma_table(&self) -> [f32; 256] {
        let mut t = [0.0f32; 256];
        for (v, s) in t.iter_mut().enumerate() {
            let lin = srgb_to_linear(v as f32 / 255.0) as f64;
            let sigma_lin =
                (lin * self.full_well_e + self.read_noise_e.powi(2)).sqrt() / self.full_well_e;
            // Slope of the encoding curve at `lin`, by central difference.
            let h = 1e-4f64;
            let lo = (lin - h).max(0.0);
            let hi = (lin + h).min(1.0);
            let slope = (linear_to_srgb(hi as f32) - linear_to_srgb(lo as f32)) as f64 / (hi - lo);
            *s = (255.0 * slope * sigma_lin) as f32;
        }
        t
    }
}

/// Adds flicker and sensor noise to an RGB float image (0..=255) in place.
pub fn add_sensor_noise(
    img: &mut ImageF,
    sigma: &[f32; 256],
    flicker: f64,
    table: &GaussTable,
    rng: &mut Rng,
) {
    // Exposure × (1 + ε) in linear light is × (1 + ε)^(1/2.4) after sRGB encoding (power law
    // part); close enough for a sub-percent flicker.
    let gain = (1.0 + flicker).max(0.0).powf(1.0 / 2.4) as f32;
    let mut it = img.data.chunks_exact_mut(4);
    for chunk in &mut it {
        let g = table.four(rng.next_u64());
        for (v, n) in chunk.iter_mut().zip(g) {
            let s = sigma[v.clamp(0.0, 255.0) as usize];
            *v = *v * gain + s * n;
        }
    }
    let rest = it.into_remainder();
    if !rest.is_empty() {
        let g = table.four(rng.next_u64());
        for (v, n) in rest.iter_mut().zip(g) {
            let s = sigma[v.clamp(0.0, 255.0) as usize];
            *v = *v * gain + s * n;
        }
    }
}

/// Frame timing, drawn from the seed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TimingDraw {
    /// Monotonic clock at the first slot, ns; uniform in [1e9, 1e12) (a device's uptime).
    pub t0_ns: u64,
    /// Nominal frame period, ns (`1e9 / fps`; rounded for the regular injection stream).
    pub period_ns: f64,
    /// Timestamp jitter, ms RMS; uniform in [1, 3] (0 = perfectly regular).
    pub jitter_sigma_ms: f64,
    /// Probability that a slot is dropped; uniform in [0.005, 0.03] (0 = none).
    pub drop_probability: f64,
    /// Slot of each delivered frame (k without drops).
    pub slots: Vec<u64>,
    /// Indices of the delivered frames that follow a dropped slot.
    pub after_drop: Vec<u32>,
}

impl TimingDraw {
    /// Timestamps of `frames` frames at `fps`; `regular` = exact integer period, no jitter, no
    /// drops (an injected stream).
    pub fn draw(rng: &mut Rng, fps: f64, frames: u32, regular: bool) -> (TimingDraw, Vec<u64>) {
        let t0_ns = rng.range(1e9, 1e12).round() as u64;
        let period = 1e9 / fps;
        if regular {
            let p = period.round() as u64;
            let ts = (0..frames as u64).map(|k| t0_ns + k * p).collect();
            let d = TimingDraw {
                t0_ns,
                period_ns: p as f64,
                jitter_sigma_ms: 0.0,
                drop_probability: 0.0,
                slots: (0..frames as u64).collect(),
                after_drop: Vec::new(),
            };
            return (d, ts);
        }
        let jitter_sigma_ms = rng.range(1.0, 3.0);
        let drop_probability = rng.range(0.005, 0.03);
        let mut slots = Vec::with_capacity(frames as usize);
        let mut after_drop = Vec::new();
        let mut ts = Vec::with_capacity(frames as usize);
        let mut slot = 0u64;
        let limit = 0.4 * period;
        for k in 0..frames {
            if k > 0 {
                slot += 1;
                if rng.chance(drop_probability) {
                    slot += 1;
                    after_drop.push(k);
                }
            }
            let j = (rng.normal() * jitter_sigma_ms * 1e6).clamp(-limit, limit);
            let t = t0_ns as f64 + slot as f64 * period + j;
            slots.push(slot);
            ts.push(t.round() as u64);
        }
        let d = TimingDraw {
            t0_ns,
            period_ns: period,
            jitter_sigma_ms,
            drop_probability,
            slots,
            after_drop,
        };
        (d, ts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regular_and_jittered_timestamps() {
        let mut r = Rng::stream(1, "t");
        let (_, ts) = TimingDraw::draw(&mut r, 30.0, 50, true);
        let d: Vec<u64> = ts.windows(2).map(|w| w[1] - w[0]).collect();
        assert!(d.iter().all(|&v| v == 33_333_333));
        let (td, ts) = TimingDraw::draw(&mut r, 30.0, 200, false);
        assert!(ts.windows(2).all(|w| w[1] > w[0]));
        let jit: Vec<f64> = ts
            .iter()
            .zip(&td.slots)
            .map(|(&t, &s)| (t as f64 - td.t0_ns as f64 - s as f64 * td.period_ns) * 1e-6)
            .collect();
        let rms = (jit.iter().map(|v| v * v).sum::<f64>() / jit.len() as f64).sqrt();
        assert!(
            (rms - td.jitter_sigma_ms).abs() < 0.3 * td.jitter_sigma_ms,
            "{rms} vs {}",
            td.jitter_sigma_ms
        );
    }

    #[test]
    fn noise_sigma_is_plausible() {
        let s = SensorDraw {
            full_well_e: 2000.0,
            read_noise_e: 4.0,
            flicker_sigma: 0.0,
        };
        let t = s.sigma_table();
        // Mid grey: a few DN; brighter pixels more in linear light but the curve compresses.
        assert!(t[128] > 1.0 && t[128] < 5.0, "{}", t[128]);
        assert!(t.iter().all(|v| v.is_finite() && *v > 0.0));
    }
}
