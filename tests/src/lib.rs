//! Helpers shared by the workspace integration tests: where the models, the ONNX Runtime
//! library and the public-domain fixtures are.
//!
//! `cargo xtask test` runs set-up first and exports `LIVEPROOF_MODELS_DIR`, `ORT_DYLIB_PATH`
//! and `LIVEPROOF_FIXTURES_DIR`; a plain `cargo test` falls back to the default cache
//! (`$LIVEPROOF_CACHE` or `~/.cache/liveproof`). A missing file fails the test with a message
//! naming the command that fetches it; nothing is skipped silently.

use std::path::PathBuf;

use liveproof_core::frame::RgbImage;
use liveproof_core::models::cache;
pub use liveproof_core::models::cache::cache_dir;

/// Folder holding the verified model files.
pub fn models_dir() -> PathBuf {
    let p = cache::models_dir();
    assert!(
        p.is_dir(),
        "models folder {} is missing: run `cargo xtask setup`",
        p.display()
    );
    p
}

/// The ONNX Runtime shared library.
pub fn ort_lib() -> PathBuf {
    let p = cache::runtime_path();
    assert!(
        p.is_file(),
        "ONNX Runtime library {} is missing: run `cargo xtask setup`",
        p.display()
    );
    p
}

/// A public-domain fixture by file name (astronaut.png, newton.png, gauss.png,
/// solvay_conference_1927.jpg, truth_faces.py).
pub fn fixture(name: &str) -> PathBuf {
    let p = cache::fixtures_dir().join(name);
    assert!(
        p.is_file(),
        "fixture {} is missing: run `cargo xtask setup`",
        p.display()
    );
    p
}

/// Python of the reference venv (`cargo xtask setup --reference`: MediaPipe, onnxruntime,
/// OpenCV, scikit-learn), from `LIVEPROOF_REF_PYTHON` or the cache.
pub fn ref_python() -> PathBuf {
    let p = cache::env_or_cache("LIVEPROOF_REF_PYTHON", "refvenv/bin/python");
    assert!(
        p.is_file(),
        "reference python {} is missing: run `cargo xtask setup --reference`",
        p.display()
    );
    p
}

/// A reference script of `xtask/py/` in this checkout. `cargo test` sets CARGO_MANIFEST_DIR
/// for the test process: this clone's path even when the shared target directory holds a
/// binary compiled in another clone.
pub fn ref_script(name: &str) -> PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")))
        .join("..")
        .join("xtask")
        .join("py")
        .join(name)
}

/// A contiguous RGB frame over `img`'s pixels, stamped `timestamp_ns` (a SYNTHETIC generator's
/// frame as a camera would hand it over).
pub fn rgb_frame(img: &RgbImage, timestamp_ns: u64) -> liveproof_core::frame::Frame<'_> {
    liveproof_core::frame::Frame::contiguous(
        img.width,
        img.height,
        liveproof_core::frame::PixelFormat::Rgb888,
        &img.data,
    )
    .expect("a contiguous RGB frame")
    .with_timestamp_ns(timestamp_ns)
}

/// Decodes an image file to packed RGB8, upright by its EXIF orientation.
pub fn load_rgb(path: &std::path::Path) -> RgbImage {
    liveproof_core::frame::file::load_upright(path)
        .unwrap_or_else(|e| panic!("{e}"))
        .rgb
}

/// Ground-truth faces of the scrfd package's `tests/truth_faces.py`: per image, boxes
/// `[x1, y1, x2, y2]` and five keypoints.
#[derive(Debug, Clone)]
pub struct TruthFace {
    pub bbox: [f32; 4],
    pub score: f32,
    pub keypoints: Vec<[f32; 2]>,
}

/// Parses `truth_faces.py` (a Python literal of `Face(bbox=Bbox(upper_left=Point(x=.., y=..),
/// lower_right=..), probability=.., keypoints=FaceKeypoints(left_eye=.., right_eye=.., nose=..,
/// left_mouth=.., right_mouth=..))`) into `(image name, faces)`.
pub fn scrfd_truth() -> Vec<(String, Vec<TruthFace>)> {
    let text = std::fs::read_to_string(fixture("truth_faces.py")).expect("reading truth_faces.py");
    let mut out: Vec<(String, Vec<TruthFace>)> = Vec::new();
    // Image sections start at `"name.png": [`.
    let mut rest = text.as_str();
    while let Some(q) = rest.find("\": [") {
        let start = rest[..q]
            .rfind('"')
            .expect("opening quote of an image name")
            + 1;
        let name = rest[start..q].to_string();
        rest = &rest[q + 4..];
        let end = rest
            .find("\": [")
            .map(|n| rest[..n].rfind('"').unwrap_or(n))
            .unwrap_or(rest.len());
        let section = &rest[..end];
        let mut faces = Vec::new();
        for face_text in section.split("Face(").skip(1) {
            let xs = numbers_after(face_text, "x=");
            let ys = numbers_after(face_text, "y=");
            let p = numbers_after(face_text, "probability=");
            assert_eq!(xs.len(), 7, "7 points per face in truth_faces.py");
            assert_eq!(ys.len(), 7);
            faces.push(TruthFace {
                bbox: [xs[0], ys[0], xs[1], ys[1]],
                score: p.first().copied().unwrap_or(f32::NAN),
                keypoints: (2..7).map(|i| [xs[i], ys[i]]).collect(),
            });
        }
        out.push((name, faces));
        rest = &rest[end..];
    }
    out
}

fn numbers_after(s: &str, key: &str) -> Vec<f32> {
    s.match_indices(key)
        .filter(|(i, _)| {
            *i == 0 || !s.as_bytes()[i - 1].is_ascii_alphanumeric() && s.as_bytes()[i - 1] != b'_'
        })
        .filter_map(|(i, _)| {
            let tail = &s[i + key.len()..];
            let n: String = tail
                .chars()
                .take_while(|c| c.is_ascii_digit() || *c == '.' || *c == '-')
                .collect();
            n.parse().ok()
        })
        .collect()
}

/// BT.601 video-range 4:2:0 planes of an RGB image (even sizes): `(y, u, v)`, chroma
/// subsampled by taking the top-left pixel of each 2×2 block. Test-side encoder for
/// NV21/NV12/I420 inputs, as an Android camera would deliver them.
pub fn rgb_to_yuv420(img: &RgbImage) -> (Vec<u8>, Vec<u8>, Vec<u8>) {
    let (w, h) = (img.width as usize, img.height as usize);
    assert!(w % 2 == 0 && h % 2 == 0, "4:2:0 needs even sizes");
    let px = |x: usize, y: usize| {
        let i = (y * w + x) * 3;
        (
            img.data[i] as f32,
            img.data[i + 1] as f32,
            img.data[i + 2] as f32,
        )
    };
    let q = |v: f32| v.round().clamp(0.0, 255.0) as u8;
    let mut y_plane = vec![0u8; w * h];
    for y in 0..h {
        for x in 0..w {
            let (r, g, b) = px(x, y);
            y_plane[y * w + x] = q(16.0 + 0.257 * r + 0.504 * g + 0.098 * b);
        }
    }
    let (cw, ch) = (w / 2, h / 2);
    let (mut u, mut v) = (vec![0u8; cw * ch], vec![0u8; cw * ch]);
    for cy in 0..ch {
        for cx in 0..cw {
            let (r, g, b) = px(2 * cx, 2 * cy);
            u[cy * cw + cx] = q(128.0 - 0.148 * r - 0.291 * g + 0.439 * b);
            v[cy * cw + cx] = q(128.0 + 0.439 * r - 0.368 * g - 0.071 * b);
        }
    }
    (y_plane, u, v)
}

/// NV21 (Y plane, then interleaved V/U) of an RGB image with even sizes.
pub fn rgb_to_nv21(img: &RgbImage) -> Vec<u8> {
    let (y, u, v) = rgb_to_yuv420(img);
    let mut out = y;
    for (u, v) in u.iter().zip(&v) {
        out.push(*v);
        out.push(*u);
    }
    out
}

/// Engine configuration with the set-up cache's models and runtime and the given detector.
pub fn engine_config(
    detector: liveproof_core::engine::DetectorKind,
) -> liveproof_core::engine::EngineConfig {
    liveproof_core::engine::EngineConfig {
        models_dir: models_dir(),
        runtime_path: Some(ort_lib()),
        detector,
        ..Default::default()
    }
}

/// A shared engine with the default detector (BlazeFace front).
pub fn default_engine() -> std::sync::Arc<liveproof_core::engine::Engine> {
    engine_with(engine_config(
        liveproof_core::engine::DetectorKind::BlazeFaceFront,
    ))
}

/// A shared engine from `config`.
pub fn engine_with(
    config: liveproof_core::engine::EngineConfig,
) -> std::sync::Arc<liveproof_core::engine::Engine> {
    std::sync::Arc::new(
        liveproof_core::engine::Engine::new(config)
            .expect("engine loads (run `cargo xtask setup`)"),
    )
}

/// Area under the ROC curve for "live" scores: the probability that a random `live` score
/// exceeds a random `attack` score (ties count half; Mann-Whitney U / (n·m)). `None` when
/// either side is empty.
pub fn auc(live: &[f32], attack: &[f32]) -> Option<f64> {
    if live.is_empty() || attack.is_empty() {
        return None;
    }
    let mut wins = 0.0f64;
    for &l in live {
        for &a in attack {
            wins += if l > a {
                1.0
            } else if l == a {
                0.5
            } else {
                0.0
            };
        }
    }
    Some(wins / (live.len() * attack.len()) as f64)
}

/// The public-domain Solvay 1927 group photo and the boxes of its `n` largest faces (found by
/// SCRFD), largest first: small, grainy black-and-white faces, unlike the portraits.
pub fn solvay_face_boxes(n: usize) -> (RgbImage, Vec<liveproof_core::geometry::Rect>) {
    use liveproof_core::engine::{DetectorKind, EngineConfig, Tracker};
    use liveproof_core::frame::{Frame, PixelFormat};
    let engine = engine_with(EngineConfig {
        max_faces: 40,
        ..engine_config(DetectorKind::Scrfd)
    });
    let img = load_rgb(&fixture("solvay_conference_1927.jpg"));
    let frame = Frame::contiguous(img.width, img.height, PixelFormat::Rgb888, &img.data)
        .expect("solvay frame");
    let mut tracker = Tracker::new(engine);
    let analysis = tracker.analyze_still(&frame).expect("solvay analysis");
    let mut boxes: Vec<_> = analysis.faces.iter().map(|f| f.detection.bbox).collect();
    boxes.sort_by(|a, b| b.area().total_cmp(&a.area()));
    boxes.truncate(n);
    (img, boxes)
}

/// A calibration bundle fitted on four made-up points for every passive signal a session
/// scores without depth (its values change no cost and no allocation), for benches and tests
/// of cost only: `origin` names the caller, `label` says it is made up.
pub fn made_up_calibration(
    origin: &str,
    label: &str,
) -> liveproof_core::session::LoadedCalibration {
    use liveproof_core::calibration::{CalibrationBundle, Calibrator};
    let mut b = CalibrationBundle::new(origin, label);
    let cal = Calibrator::fit_platt(&[0.1, 0.3, 0.7, 0.9], &[false, false, true, true]).unwrap();
    for (s, m) in [
        ("fft", None),
        ("reflection", None),
        ("parallax", None),
        ("texture", Some("minifasnet_v2+minifasnet_v1se")),
        ("texture", Some("fr_liveness")),
    ] {
        b.insert(s, m, cal.clone()).unwrap();
    }
    liveproof_core::session::LoadedCalibration::new(b).unwrap()
}

/// The recommended policy with a 3-step challenge plan for every flow and tier, so that a
/// bench or a cost test runs a full challenge.
pub fn three_step_policy(calibration_sha256: &str) -> liveproof_core::policy::Policy {
    let mut p = liveproof_core::policy::Policy::recommended(calibration_sha256);
    p.challenge.required_from.clear();
    p.challenge.plan.min_steps = 3;
    p.challenge.plan.max_steps = 3;
    p
}
