//! The quality gate on a real face, degraded on purpose: each degradation must raise its hint,
//! and the clean capture must pass. The "clean capture" is a selfie-framed crop of the
//! public-domain astronaut photo (face about 40% of the frame width, roughly centred).

use std::sync::Arc;

use image::imageops::{self, FilterType};
use image::{Rgb, RgbImage as Img};
use liveproof_core::engine::{Engine, FrameAnalysis, Tracker};
use liveproof_core::frame::{Frame, PixelFormat};
use liveproof_tests::{default_engine, fixture};

fn engine() -> Arc<Engine> {
    default_engine()
}

/// 240×320 portrait crop around the astronaut's face.
fn selfie() -> Img {
    let img = image::open(fixture("astronaut.png")).unwrap().to_rgb8();
    imageops::crop_imm(&img, 105, 0, 240, 320).to_image()
}

fn analyze(eng: &Arc<Engine>, img: &Img) -> FrameAnalysis {
    let frame =
        Frame::contiguous(img.width(), img.height(), PixelFormat::Rgb888, img.as_raw()).unwrap();
    Tracker::new(eng.clone())
        .analyze_still(&frame)
        .unwrap()
        .clone()
}

fn hints(a: &FrameAnalysis) -> Vec<&'static str> {
    a.hints.iter().map(|h| h.as_str()).collect()
}

fn map_pixels(img: &Img, f: impl Fn(f32) -> f32) -> Img {
    let mut out = img.clone();
    for p in out.pixels_mut() {
        for c in p.0.iter_mut() {
            *c = f(*c as f32).round().clamp(0.0, 255.0) as u8;
        }
    }
    out
}

/// Pastes `img` scaled by `s` onto a canvas of the same size at `(x, y)`, grey elsewhere.
fn place(img: &Img, s: f32, x: i64, y: i64) -> Img {
    let (w, h) = img.dimensions();
    let small = imageops::resize(
        img,
        (w as f32 * s) as u32,
        (h as f32 * s) as u32,
        FilterType::Triangle,
    );
    let mut canvas = Img::from_pixel(w, h, Rgb([128, 128, 128]));
    imageops::overlay(&mut canvas, &small, x, y);
    canvas
}

fn rotate(img: &Img, deg: f32) -> Img {
    let (w, h) = img.dimensions();
    let (s, c) = (deg.to_radians().sin(), deg.to_radians().cos());
    let (cx, cy) = (w as f32 / 2.0, h as f32 / 2.0);
    let mut out = Img::from_pixel(w, h, Rgb([128, 128, 128]));
    for y in 0..h {
        for x in 0..w {
            let (dx, dy) = (x as f32 - cx, y as f32 - cy);
            let (sx, sy) = (
                (c * dx + s * dy + cx).round(),
                (-s * dx + c * dy + cy).round(),
            );
            if sx >= 0.0 && sy >= 0.0 && sx < w as f32 && sy < h as f32 {
                out.put_pixel(x, y, *img.get_pixel(sx as u32, sy as u32));
            }
        }
    }
    out
}

#[test]
fn clean_selfie_passes() {
    let eng = engine();
    let a = analyze(&eng, &selfie());
    assert_eq!(a.faces.len(), 1);
    println!(
        "clean: hints {:?}, checks {}",
        hints(&a),
        serde_json::to_string(&a.faces[0].quality).unwrap()
    );
    assert!(a.hints.is_empty(), "clean selfie raised {:?}", hints(&a));
    assert!(a.faces[0].quality.passed);
}

#[test]
fn each_degradation_raises_its_hint() {
    let eng = engine();
    let clean = selfie();
    let (w, h) = clean.dimensions();
    let cases: Vec<(&str, Img, &str)> = vec![
        ("gaussian blur σ=3", imageops::blur(&clean, 3.0), "BLURRY"),
        (
            "darkened to 12%",
            map_pixels(&clean, |v| v * 0.12),
            "TOO_DARK",
        ),
        (
            "overexposed",
            map_pixels(&clean, |v| v * 1.5 + 75.0),
            "TOO_BRIGHT",
        ),
        (
            "blown out (face lost)",
            map_pixels(&clean, |v| v * 2.2 + 90.0),
            "TOO_BRIGHT",
        ),
        (
            "near darkness (face lost)",
            map_pixels(&clean, |v| v * 0.03),
            "TOO_DARK",
        ),
        (
            "shrunk to 35%",
            place(&clean, 0.35, (w as i64 * 13) / 40, (h as i64 * 13) / 40),
            "MOVE_CLOSER",
        ),
        (
            "too close (2.4× zoom)",
            {
                let big = imageops::resize(&clean, w * 12 / 5, h * 12 / 5, FilterType::Triangle);
                // Keep the face in view: crop around where the face went.
                imageops::crop_imm(
                    &big,
                    (120 * 12 / 5 - w / 2).min(big.width() - w),
                    (130 * 12 / 5 - h / 2).min(big.height() - h),
                    w,
                    h,
                )
                .to_image()
            },
            "MOVE_AWAY",
        ),
        (
            "shifted to the corner",
            place(&clean, 0.6, -20, -40),
            "CENTER_FACE",
        ),
        ("head tilted 35°", rotate(&clean, 35.0), "LOOK_STRAIGHT"),
        (
            "two people",
            {
                let mut canvas = Img::from_pixel(w * 2, h, Rgb([128, 128, 128]));
                imageops::overlay(&mut canvas, &clean, 0, 0);
                imageops::overlay(&mut canvas, &imageops::flip_horizontal(&clean), w as i64, 0);
                canvas
            },
            "MULTIPLE_FACES",
        ),
        (
            "blank wall",
            Img::from_pixel(w, h, Rgb([180, 170, 160])),
            "NO_FACE",
        ),
    ];
    let mut failures = Vec::new();
    for (label, img, want) in &cases {
        let a = analyze(&eng, img);
        let got = hints(&a);
        println!("{label}: faces {}, hints {got:?}", a.faces.len());
        if std::env::var_os("LP_DEBUG").is_some() {
            if let Some(f) = a.faces.first() {
                println!("  {}", serde_json::to_string(&f.quality).unwrap());
            }
        }
        if !got.contains(want) {
            failures.push(format!("{label}: expected {want}, got {got:?}"));
        }
        if !label.contains("face lost") && *want != "NO_FACE" {
            assert!(!a.faces.is_empty(), "{label}: the face was lost");
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

/// Motion: a sequence where the face jumps 15 px between frames at 30 fps must ask the user to
/// hold still; the same face at rest must not.
#[test]
fn fast_motion_asks_to_hold_still() {
    let eng = engine();
    let clean = selfie();
    let (w, h) = clean.dimensions();
    let run = |step: i64| -> Vec<Vec<&'static str>> {
        let mut tracker = Tracker::new(eng.clone());
        (0..8i64)
            .map(|i| {
                let off = if i % 2 == 0 { 0 } else { step };
                let mut canvas = Img::from_pixel(w, h, Rgb([128, 128, 128]));
                imageops::overlay(&mut canvas, &clean, off, 0);
                let frame = Frame::contiguous(w, h, PixelFormat::Rgb888, canvas.as_raw())
                    .unwrap()
                    .with_timestamp_ns(i as u64 * 33_333_333);
                hints(tracker.process(&frame).unwrap())
            })
            .collect()
    };
    let moving = run(15);
    let still = run(0);
    println!("moving: {moving:?}\nstill: {still:?}");
    assert!(
        moving[2..].iter().all(|h| h.contains(&"HOLD_STILL")),
        "{moving:?}"
    );
    assert!(
        still.iter().all(|h| !h.contains(&"HOLD_STILL")),
        "{still:?}"
    );
}
