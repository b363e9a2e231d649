//! A plausible room behind a held print or screen: a painted wall with a lighting gradient,
//! soft multi-octave texture and a few out-of-focus furniture/door/window shapes. Drawn from
//! the seed; never the photo itself.

use serde::{Deserialize, Serialize};

use crate::imgops::{blur, ImageF};
use crate::rng::{Rng, SplitMix64};

/// A soft rectangle: fractions of the frame, and a brightness factor.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SceneShape {
    pub x0: f64,
    pub y0: f64,
    pub x1: f64,
    pub y1: f64,
    /// Multiplies the wall's brightness inside (< 1 furniture, > 1 a window or lamp).
    pub gain: f64,
    /// Colour tint multiplier per channel.
    pub tint: [f64; 3],
}

/// The background, drawn from the seed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SceneDraw {
    /// Wall colour, sRGB 0..=255; hue any, saturation [0.05, 0.25], value [90, 190].
    pub wall_rgb: [f64; 3],
    /// Lighting gradient direction (degrees, image axes) and relative strength [0.1, 0.35].
    pub gradient_deg: f64,
    pub gradient_strength: f64,
    /// Texture amplitude (relative, [0.02, 0.06]) and its coarsest cell, pixels [20, 80].
    pub texture_amp: f64,
    pub texture_cell_px: f64,
    /// 2–4 shapes.
    pub shapes: Vec<SceneShape>,
    /// Defocus blur, pixels σ; [1.5, 5].
    pub blur_px: f64,
    /// Hash key of the texture.
    pub texture_key: u64,
}

fn hsv_to_rgb(h: f64, s: f64, v: f64) -> [f64; 3] {
    let h6 = (h.rem_euclid(360.0)) / 60.0;
    let c = v * s;
    let x = c * (1.0 - ((h6 % 2.0) - 1.0).abs());
    let (r, g, b) = match h6 as u32 {
        0 => (c, x, 0.0),
        1 => (x, c, 0.0),
        2 => (0.0, c, x),
        3 => (0.0, x, c),
        4 => (x, 0.0, c),
        _ => (c, 0.0, x),
    };
    let m = v - c;
    [r + m, g + m, b + m]
}

impl SceneDraw {
    pub fn draw(rng: &mut Rng) -> SceneDraw {
        let wall_rgb = hsv_to_rgb(
            rng.range(0.0, 360.0),
            rng.range(0.05, 0.25),
            rng.range(90.0, 190.0),
        );
        let n = 2 + (rng.uniform() * 3.0) as usize;
        let shapes = (0..n)
            .map(|_| {
                let (cx, cy) = (rng.range(-0.1, 1.1), rng.range(-0.1, 1.1));
                let (hw, hh) = (rng.range(0.05, 0.4), rng.range(0.05, 0.5));
                let bright = rng.chance(0.3);
                SceneShape {
                    x0: cx - hw,
                    y0: cy - hh,
                    x1: cx + hw,
                    y1: cy + hh,
                    gain: if bright {
                        rng.range(1.15, 1.5)
                    } else {
                        rng.range(0.35, 0.85)
                    },
                    tint: [
                        rng.range(0.85, 1.15),
                        rng.range(0.85, 1.15),
                        rng.range(0.85, 1.15),
                    ],
                }
            })
            .collect();
        SceneDraw {
            wall_rgb,
            gradient_deg: rng.range(0.0, 360.0),
            gradient_strength: rng.range(0.1, 0.35),
            texture_amp: rng.range(0.02, 0.06),
            texture_cell_px: rng.range(20.0, 80.0),
            shapes,
            blur_px: rng.range(1.5, 5.0),
            texture_key: rng.next_u64(),
        }
    }

    /// Renders the scene at `width × height` (RGB floats 0..=255).
    pub fn render(&self, width: usize, height: usize) -> ImageF {
        let mut img = ImageF::new(width, height, 3);
        let (gx, gy) = (
            self.gradient_deg.to_radians().cos(),
            self.gradient_deg.to_radians().sin(),
        );
        let diag = ((width * width + height * height) as f64).sqrt().max(1.0);
        for y in 0..height {
            for x in 0..width {
                let (fx, fy) = (x as f64 / width as f64, y as f64 / height as f64);
                let g = 1.0
                    + self.gradient_strength
                        * (((x as f64 - 0.5 * width as f64) * gx
                            + (y as f64 - 0.5 * height as f64) * gy)
                            / diag)
                        * 2.0;
                let tex = 1.0
                    + self.texture_amp
                        * value_noise(self.texture_key, x as f64, y as f64, self.texture_cell_px);
                let mut c = [
                    self.wall_rgb[0] * g * tex,
                    self.wall_rgb[1] * g * tex,
                    self.wall_rgb[2] * g * tex,
                ];
                for s in &self.shapes {
                    if fx >= s.x0 && fx < s.x1 && fy >= s.y0 && fy < s.y1 {
                        for (k, ck) in c.iter_mut().enumerate() {
                            *ck *= s.gain * s.tint[k];
                        }
                    }
                }
                let i = 3 * (y * width + x);
                for (k, ck) in c.iter().enumerate() {
                    img.data[i + k] = ck.clamp(0.0, 255.0) as f32;
                }
            }
        }
        blur(&mut img, self.blur_px as f32);
        img
    }
}

/// Hash of a lattice point to [-1, 1].
fn lattice(key: u64, ix: i64, iy: i64, octave: u64) -> f64 {
    let mut h = SplitMix64::new(
        key ^ (ix as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)
            ^ (iy as u64).wrapping_mul(0xC2B2_AE3D_27D4_EB4F)
            ^ octave.wrapping_mul(0x1656_67B1_9E37_79F9),
    );
    (h.next_u64() >> 11) as f64 / (1u64 << 52) as f64 - 1.0
}

/// Three-octave value noise (smooth-step interpolated lattice), roughly in [-1, 1].
pub fn value_noise(key: u64, x: f64, y: f64, cell: f64) -> f64 {
    let mut sum = 0.0;
    let mut amp = 1.0;
    let mut c = cell.max(1.0);
    for o in 0..3u64 {
        let (fx, fy) = (x / c, y / c);
        let (ix, iy) = (fx.floor() as i64, fy.floor() as i64);
        let (tx, ty) = (fx - ix as f64, fy - iy as f64);
        let (sx, sy) = (tx * tx * (3.0 - 2.0 * tx), ty * ty * (3.0 - 2.0 * ty));
        let v00 = lattice(key, ix, iy, o);
        let v10 = lattice(key, ix + 1, iy, o);
        let v01 = lattice(key, ix, iy + 1, o);
        let v11 = lattice(key, ix + 1, iy + 1, o);
        let top = v00 + sx * (v10 - v00);
        let bot = v01 + sx * (v11 - v01);
        sum += amp * (top + sy * (bot - top));
        amp *= 0.5;
        c = (c * 0.5).max(1.0);
    }
    sum / 1.75
}
