//! `--draw`: the image with each face's box, detector keypoints and landmarks drawn on it.

use std::path::Path;

use anyhow::{Context, Result};
use liveproof_core::engine::FrameAnalysis;

struct Canvas<'a> {
    w: i64,
    h: i64,
    px: &'a mut [u8],
}

impl Canvas<'_> {
    fn put(&mut self, x: i64, y: i64, c: [u8; 3]) {
        if x >= 0 && y >= 0 && x < self.w && y < self.h {
            let i = ((y * self.w + x) * 3) as usize;
            self.px[i..i + 3].copy_from_slice(&c);
        }
    }
    fn dot(&mut self, x: f32, y: f32, r: i64, c: [u8; 3]) {
        if !(x.is_finite() && y.is_finite()) {
            return;
        }
        let (cx, cy) = (x.round() as i64, y.round() as i64);
        for dy in -r..=r {
            for dx in -r..=r {
                self.put(cx + dx, cy + dy, c);
            }
        }
    }
    fn rect(&mut self, x0: f32, y0: f32, x1: f32, y1: f32, c: [u8; 3]) {
        if ![x0, y0, x1, y1].iter().all(|v| v.is_finite()) {
            return;
        }
        let (x0, y0, x1, y1) = (
            x0.round() as i64,
            y0.round() as i64,
            x1.round() as i64,
            y1.round() as i64,
        );
        for t in 0..2 {
            for x in x0..=x1 {
                self.put(x, y0 + t, c);
                self.put(x, y1 - t, c);
            }
            for y in y0..=y1 {
                self.put(x0 + t, y, c);
                self.put(x1 - t, y, c);
            }
        }
    }
}

/// Writes `rgb` (packed RGB8, `width`×`height`) with the analysis drawn on it to `out` (PNG).
pub fn draw_analysis(
    width: u32,
    height: u32,
    rgb: &[u8],
    a: &FrameAnalysis,
    out: &Path,
) -> Result<()> {
    let mut px = rgb.to_vec();
    let mut c = Canvas {
        w: i64::from(width),
        h: i64::from(height),
        px: &mut px,
    };
    for f in &a.faces {
        let b = f.detection.bbox;
        c.rect(b.x_min, b.y_min, b.x_max, b.y_max, [0, 255, 0]);
        for p in &f.landmarks {
            c.dot(p.x, p.y, 0, [255, 255, 0]);
        }
        for p in f.detection.valid_keypoints() {
            c.dot(p.x, p.y, 2, [255, 0, 0]);
        }
    }
    let img = image::RgbImage::from_raw(width, height, px).context("image buffer size")?;
    img.save(out)
        .with_context(|| format!("writing {}", out.display()))?;
    Ok(())
}
