//! Image helpers of the renderers: float images, bilinear sampling with replicated borders,
//! separable resampling and Gaussian blur, and the sRGB transfer curve.
//!
//! Pixel centres sit at integer coordinates (the convention of `liveproof_core::frame`).

use liveproof_core::frame::RgbImage;

/// A float image, `channels` interleaved values per pixel, row-major, no padding.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ImageF {
    pub width: usize,
    pub height: usize,
    pub channels: usize,
    pub data: Vec<f32>,
}

impl ImageF {
    pub fn new(width: usize, height: usize, channels: usize) -> ImageF {
        ImageF {
            width,
            height,
            channels,
            data: vec![0.0; width * height * channels],
        }
    }

    /// Bytes 0..=255 as floats.
    pub fn from_rgb(img: &RgbImage) -> ImageF {
        ImageF {
            width: img.width as usize,
            height: img.height as usize,
            channels: 3,
            data: img.data.iter().map(|&v| v as f32).collect(),
        }
    }

    /// Rounds to bytes (values clamped to 0..=255). Needs 3 channels.
    pub fn to_rgb(&self) -> RgbImage {
        debug_assert_eq!(self.channels, 3);
        let data = self.data.iter().map(|&v| quantise(v)).collect();
        RgbImage {
            width: self.width as u32,
            height: self.height as u32,
            data,
        }
    }

    /// Bilinear sample at `(x, y)`, borders replicated; writes `channels` values into `out`.
    #[inline]
    pub fn sample(&self, x: f32, y: f32, out: &mut [f32]) {
        let (w, h, c) = (self.width, self.height, self.channels);
        let xf = x.clamp(0.0, (w - 1) as f32);
        let yf = y.clamp(0.0, (h - 1) as f32);
        let x0 = xf as usize;
        let y0 = yf as usize;
        let x1 = (x0 + 1).min(w - 1);
        let y1 = (y0 + 1).min(h - 1);
        let fx = xf - x0 as f32;
        let fy = yf - y0 as f32;
        let d = &self.data;
        let (i00, i01) = ((y0 * w + x0) * c, (y0 * w + x1) * c);
        let (i10, i11) = ((y1 * w + x0) * c, (y1 * w + x1) * c);
        for k in 0..c.min(out.len()) {
            let top = d[i00 + k] + fx * (d[i01 + k] - d[i00 + k]);
            let bot = d[i10 + k] + fx * (d[i11 + k] - d[i10 + k]);
            out[k] = top + fy * (bot - top);
        }
    }
}

/// Rounds a 0..=255 float to a byte.
#[inline]
pub fn quantise(v: f32) -> u8 {
    (v + 0.5).clamp(0.0, 255.0) as u8
}

/// Bilinear sample of an RGB8 image at `(x, y)` (pixel centres at integers), borders
/// replicated, as floats 0..=255.
#[inline]
pub fn sample_rgb(img: &RgbImage, x: f32, y: f32) -> [f32; 3] {
    let (w, h) = (img.width as usize, img.height as usize);
    let xf = x.clamp(0.0, (w - 1) as f32);
    let yf = y.clamp(0.0, (h - 1) as f32);
    let x0 = xf as usize;
    let y0 = yf as usize;
    let x1 = (x0 + 1).min(w - 1);
    let y1 = (y0 + 1).min(h - 1);
    let fx = xf - x0 as f32;
    let fy = yf - y0 as f32;
    let d = &img.data;
    let (i00, i01) = ((y0 * w + x0) * 3, (y0 * w + x1) * 3);
    let (i10, i11) = ((y1 * w + x0) * 3, (y1 * w + x1) * 3);
    let mut out = [0.0f32; 3];
    for (k, o) in out.iter_mut().enumerate() {
        let top = d[i00 + k] as f32 + fx * (d[i01 + k] as f32 - d[i00 + k] as f32);
        let bot = d[i10 + k] as f32 + fx * (d[i11 + k] as f32 - d[i10 + k] as f32);
        *o = top + fy * (bot - top);
    }
    out
}

/// Taps of one output sample of a separable resampler: first source index and weights.
struct Taps {
    start: usize,
    weights: Vec<f32>,
}

/// Tent-filter taps mapping `src` samples to `dst` samples. Shrinking widens the tent to the
/// output spacing (an area-like average that does not alias); enlarging is bilinear.
fn taps(src: usize, dst: usize) -> Vec<Taps> {
    let scale = src as f64 / dst as f64;
    let support = scale.max(1.0);
    (0..dst)
        .map(|i| {
            let centre = (i as f64 + 0.5) * scale - 0.5;
            let lo = (centre - support).floor() as i64 + 1;
            let hi = (centre + support).ceil() as i64 - 1;
            let mut w: Vec<(i64, f64)> = (lo..=hi.max(lo))
                .map(|j| (j, (1.0 - ((j as f64 - centre) / support).abs()).max(0.0)))
                .filter(|(_, w)| *w > 0.0)
                .collect();
            if w.is_empty() {
                w.push((centre.round() as i64, 1.0));
            }
            let sum: f64 = w.iter().map(|(_, v)| v).sum();
            // Clamp to the image (replicate) by folding outside taps onto the edge sample.
            let first = w
                .iter()
                .map(|(j, _)| *j)
                .min()
                .unwrap_or(0)
                .clamp(0, src as i64 - 1) as usize;
            let last = w
                .iter()
                .map(|(j, _)| *j)
                .max()
                .unwrap_or(0)
                .clamp(0, src as i64 - 1) as usize;
            let mut weights = vec![0.0f32; last - first + 1];
            for (j, v) in w {
                let k = (j.clamp(0, src as i64 - 1) as usize) - first;
                weights[k] += (v / sum) as f32;
            }
            Taps {
                start: first,
                weights,
            }
        })
        .collect()
}

/// Resamples a float image to `width × height` with a tent filter (area-like when shrinking,
/// bilinear when enlarging), borders replicated. Sides must be ≥ 1.
pub fn resize(src: &ImageF, width: usize, height: usize) -> ImageF {
    let c = src.channels;
    let tx = taps(src.width, width);
    let ty = taps(src.height, height);
    // Horizontal pass.
    let mut mid = ImageF::new(width, src.height, c);
    for y in 0..src.height {
        let row = &src.data[y * src.width * c..(y + 1) * src.width * c];
        let out = &mut mid.data[y * width * c..(y + 1) * width * c];
        for (x, t) in tx.iter().enumerate() {
            for (k, w) in t.weights.iter().enumerate() {
                let s = (t.start + k) * c;
                for ch in 0..c {
                    out[x * c + ch] += w * row[s + ch];
                }
            }
        }
    }
    // Vertical pass.
    let mut dst = ImageF::new(width, height, c);
    let stride = width * c;
    for (y, t) in ty.iter().enumerate() {
        let out = &mut dst.data[y * stride..(y + 1) * stride];
        for (k, w) in t.weights.iter().enumerate() {
            let row = &mid.data[(t.start + k) * stride..(t.start + k + 1) * stride];
            for (o, v) in out.iter_mut().zip(row) {
                *o += w * v;
            }
        }
    }
    dst
}

/// Normalised Gaussian kernel of standard deviation `sigma` (pixels), radius ⌈3σ⌉.
fn gaussian_kernel(sigma: f32) -> Vec<f32> {
    let r = (3.0 * sigma).ceil().max(1.0) as i32;
    let mut k: Vec<f32> = (-r..=r)
        .map(|i| (-(i * i) as f32 / (2.0 * sigma * sigma)).exp())
        .collect();
    let s: f32 = k.iter().sum();
    k.iter_mut().for_each(|v| *v /= s);
    k
}

/// Separable Gaussian blur in place (borders replicated); `sigma` in pixels, ≤ 0.05 = no-op.
pub fn blur(img: &mut ImageF, sigma: f32) {
    if sigma <= 0.05 || img.width == 0 || img.height == 0 {
        return;
    }
    let k = gaussian_kernel(sigma);
    let r = (k.len() / 2) as isize;
    let (w, h, c) = (img.width, img.height, img.channels);
    let mut tmp = vec![0.0f32; img.data.len()];
    for y in 0..h {
        let row = &img.data[y * w * c..(y + 1) * w * c];
        let out = &mut tmp[y * w * c..(y + 1) * w * c];
        for x in 0..w {
            for (i, kv) in k.iter().enumerate() {
                let sx = (x as isize + i as isize - r).clamp(0, w as isize - 1) as usize;
                for ch in 0..c {
                    out[x * c + ch] += kv * row[sx * c + ch];
                }
            }
        }
    }
    img.data.iter_mut().for_each(|v| *v = 0.0);
    let stride = w * c;
    for y in 0..h {
        let out = &mut img.data[y * stride..(y + 1) * stride];
        for (i, kv) in k.iter().enumerate() {
            let sy = (y as isize + i as isize - r).clamp(0, h as isize - 1) as usize;
            let row = &tmp[sy * stride..(sy + 1) * stride];
            for (o, v) in out.iter_mut().zip(row) {
                *o += kv * v;
            }
        }
    }
}

/// sRGB transfer: encoded value in [0, 1] → linear light.
pub fn srgb_to_linear(v: f32) -> f32 {
    if v <= 0.04045 {
        v / 12.92
    } else {
        ((v + 0.055) / 1.055).powf(2.4)
    }
}

/// sRGB transfer: linear light → encoded value in [0, 1] (input clamped to [0, 1]).
pub fn linear_to_srgb(l: f32) -> f32 {
    let l = l.clamp(0.0, 1.0);
    if l <= 0.003_130_8 {
        12.92 * l
    } else {
        1.055 * l.powf(1.0 / 2.4) - 0.055
    }
}

/// Table versions of the sRGB curves for per-pixel use.
pub struct SrgbLut {
    /// Byte → linear.
    to_lin: [f32; 256],
    /// `√linear` on a 4096-step grid → encoded 0..=255 (√ spacing keeps the dark end exact).
    to_enc: Vec<f32>,
}

impl SrgbLut {
    const STEPS: usize = 4096;

    pub fn new() -> SrgbLut {
        let mut to_lin = [0.0f32; 256];
        for (i, v) in to_lin.iter_mut().enumerate() {
            *v = srgb_to_linear(i as f32 / 255.0);
        }
        let to_enc = (0..=Self::STEPS)
            .map(|i| {
                let s = i as f32 / Self::STEPS as f32;
                255.0 * linear_to_srgb(s * s)
            })
            .collect();
        SrgbLut { to_lin, to_enc }
    }

    /// Encoded 0..=255 float → linear (interpolated between bytes).
    #[inline]
    pub fn lin(&self, v: f32) -> f32 {
        let v = v.clamp(0.0, 255.0);
        let i = (v as usize).min(254);
        let f = v - i as f32;
        self.to_lin[i] + f * (self.to_lin[i + 1] - self.to_lin[i])
    }

    /// Linear (clamped to [0, 1]) → encoded 0..=255 float.
    #[inline]
    pub fn enc(&self, l: f32) -> f32 {
        let s = l.clamp(0.0, 1.0).sqrt() * Self::STEPS as f32;
        let i = (s as usize).min(Self::STEPS - 1);
        let f = s - i as f32;
        self.to_enc[i] + f * (self.to_enc[i + 1] - self.to_enc[i])
    }
}

impl Default for SrgbLut {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resize_keeps_flat_images_flat_and_means() {
        let mut img = ImageF::new(37, 23, 3);
        for (i, v) in img.data.iter_mut().enumerate() {
            *v = ((i / 3) % 37) as f32; // a horizontal ramp
        }
        let small = resize(&img, 12, 9);
        let big = resize(&img, 80, 50);
        let mean = |m: &ImageF| m.data.iter().sum::<f32>() / m.data.len() as f32;
        assert!(
            (mean(&small) - mean(&img)).abs() < 0.6,
            "{} {}",
            mean(&small),
            mean(&img)
        );
        assert!((mean(&big) - mean(&img)).abs() < 0.6);
        let flat = ImageF {
            data: vec![7.0; 37 * 23 * 3],
            ..img.clone()
        };
        assert!(resize(&flat, 11, 5)
            .data
            .iter()
            .all(|v| (v - 7.0).abs() < 1e-4));
    }

    #[test]
    fn blur_preserves_mean_and_lut_round_trips() {
        let mut img = ImageF::new(20, 20, 1);
        img.data[210] = 400.0;
        blur(&mut img, 1.5);
        let s: f32 = img.data.iter().sum();
        assert!((s - 400.0).abs() < 1e-2, "{s}");
        let lut = SrgbLut::new();
        for v in [0.0f32, 1.0, 17.0, 128.0, 254.5, 255.0] {
            let back = lut.enc(lut.lin(v));
            assert!((back - v).abs() < 0.2, "{v} -> {back}");
        }
    }
}
