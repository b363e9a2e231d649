//! Perception on real public-domain images with the real models: detection against the scrfd
//! package's ground truth, tracking, engine sharing, and the typed errors of bad set-ups.

use std::sync::Arc;

use liveproof_core::engine::{
    DetectorKind, Engine, EngineConfig, FrameAnalysis, ModelOverride, Tracker,
};
use liveproof_core::frame::{Frame, PixelFormat, RgbImage};
use liveproof_core::models::ModelError;
use liveproof_core::Error;
use liveproof_tests::{engine_config, engine_with, fixture, load_rgb, models_dir, scrfd_truth};

fn config(detector: DetectorKind) -> EngineConfig {
    engine_config(detector)
}

fn engine(detector: DetectorKind) -> Arc<Engine> {
    engine_with(config(detector))
}

fn still(engine: &Arc<Engine>, img: &RgbImage) -> FrameAnalysis {
    let frame = Frame::contiguous(img.width, img.height, PixelFormat::Rgb888, &img.data).unwrap();
    Tracker::new(engine.clone())
        .analyze_still(&frame)
        .unwrap()
        .clone()
}

fn dist(a: [f32; 2], b: [f32; 2]) -> f32 {
    ((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2)).sqrt()
}

/// BlazeFace + FaceMesh against the scrfd package's ground truth (made by another model,
/// SCRFD) on newton.png and gauss.png.
///
/// - Detector keypoints are BlazeFace's coarse 6-point regression, used only to place the
///   FaceMesh ROI: an error of 25% of the eye distance moves the 1.5×-enlarged crop by about 6%
///   of its side, which FaceMesh absorbs. Tolerance: 25% of IOD.
/// - Eye centres from the landmarks (mean of each eye contour) and the nose tip (landmark 1)
///   are what downstream stages use. Tolerance: 8% of IOD, about 4 px on newton: the truth
///   is rounded to whole pixels and SCRFD's own keypoints are a regression of that order.
/// - Boxes are defined differently (BlazeFace: a square around eyes-to-mouth; SCRFD: brow to
///   chin), so the check is that the truth box contains our box centre and IoU > 0.35.
#[test]
fn blazeface_and_mesh_match_scrfd_truth_on_newton_and_gauss() {
    use liveproof_core::mesh::idx;
    let eng = engine(DetectorKind::BlazeFaceFront);
    for (image, truth) in scrfd_truth() {
        let img = load_rgb(&fixture(&image));
        let a = still(&eng, &img);
        assert_eq!(a.faces.len(), truth.len(), "{image}: face count");
        let t = &truth[0];
        let face = &a.faces[0];
        let f = &face.detection;
        let iod = dist(t.keypoints[0], t.keypoints[1]);
        // Truth order: image-left eye, image-right eye, nose. Ours: subject's right eye
        // (= image-left), subject's left eye, nose tip.
        let ours = f.valid_keypoints();
        let det_err: Vec<f32> = (0..3)
            .map(|i| dist([ours[i].x, ours[i].y], t.keypoints[i]) / iod * 100.0)
            .collect();
        let centre = |c: &[usize]| {
            let n = c.len() as f32;
            [
                c.iter().map(|&i| face.landmarks[i].x).sum::<f32>() / n,
                c.iter().map(|&i| face.landmarks[i].y).sum::<f32>() / n,
            ]
        };
        let mesh_pts = [
            centre(&idx::RIGHT_EYE_CONTOUR),
            centre(&idx::LEFT_EYE_CONTOUR),
            [
                face.landmarks[idx::NOSE_TIP].x,
                face.landmarks[idx::NOSE_TIP].y,
            ],
        ];
        let mesh_err: Vec<f32> = (0..3)
            .map(|i| dist(mesh_pts[i], t.keypoints[i]) / iod * 100.0)
            .collect();
        let tb = liveproof_core::geometry::Rect::new(t.bbox[0], t.bbox[1], t.bbox[2], t.bbox[3]);
        let iou = f.bbox.iou(&tb);
        println!(
            "{image}: BlazeFace score {:.3}, box IoU with truth {:.3}; error in % of IOD ({:.1}px) for right eye / left eye / nose: detector {:.1} / {:.1} / {:.1}, FaceMesh {:.1} / {:.1} / {:.1}",
            f.score, iou, iod, det_err[0], det_err[1], det_err[2], mesh_err[0], mesh_err[1], mesh_err[2]
        );
        for i in 0..3 {
            assert!(
                det_err[i] <= 25.0,
                "{image}: detector keypoint {i} is {:.1}% IOD from the truth",
                det_err[i]
            );
            assert!(
                mesh_err[i] <= 8.0,
                "{image}: FaceMesh point {i} is {:.1}% IOD from the truth",
                mesh_err[i]
            );
        }
        let c = f.bbox.center();
        assert!(
            c.x > tb.x_min && c.x < tb.x_max && c.y > tb.y_min && c.y < tb.y_max,
            "{image}: box centre outside truth box"
        );
        assert!(iou > 0.35, "{image}: IoU {iou:.3}");
        assert!(f.score >= 0.5);
    }
}

/// SCRFD is the model the truth was made with, so boxes and keypoints must agree closely.
/// Tolerance: 2 pixels of the 640×640 model input, mapped back to the image (2.4 px on
/// newton, 4.1 px on gauss): the package resized with OpenCV (area-aware at these scales),
/// we warp with plain bilinear sampling, and the truth is rounded to whole pixels.
#[test]
fn scrfd_reproduces_its_own_truth() {
    let eng = engine(DetectorKind::Scrfd);
    for (image, truth) in scrfd_truth() {
        let img = load_rgb(&fixture(&image));
        let a = still(&eng, &img);
        assert!(
            a.faces_detected >= truth.len(),
            "{image}: {} faces",
            a.faces_detected
        );
        let t = &truth[0];
        let f = &a.faces[0].detection;
        let b = f.bbox.as_array();
        let box_err = (0..4)
            .map(|i| (b[i] - t.bbox[i]).abs())
            .fold(0.0f32, f32::max);
        let kp_err = (0..5)
            .map(|i| dist([f.keypoints[i].x, f.keypoints[i].y], t.keypoints[i]))
            .fold(0.0f32, f32::max);
        let tol = 2.0 * (img.width.max(img.height) as f32 / 640.0);
        println!(
            "{image}: SCRFD score {:.3} (truth {:.2}), max box-corner error {:.2}px, max keypoint error {:.2}px (tolerance {tol:.2}px)",
            f.score, t.score, box_err, kp_err
        );
        assert!(box_err <= tol, "{image}: box error {box_err:.2}px");
        assert!(kp_err <= tol, "{image}: keypoint error {kp_err:.2}px");
        assert!(
            (f.score - t.score).abs() < 0.05,
            "{image}: score {} vs {}",
            f.score,
            t.score
        );
    }
}

/// The group photo: 29 people. SCRFD, at 640 px on a 2,000 px-wide photo, finds most of them;
/// BlazeFace short-range is a selfie-distance model and is not expected to.
#[test]
fn scrfd_counts_the_solvay_faces() {
    let eng = engine(DetectorKind::Scrfd);
    let img = load_rgb(&fixture("solvay_conference_1927.jpg"));
    let a = still(&eng, &img);
    println!("solvay: SCRFD found {} of 29 faces", a.faces_detected);
    assert!(
        a.faces_detected >= 20 && a.faces_detected <= 31,
        "{} faces",
        a.faces_detected
    );
    assert!(a.hints.iter().any(|h| h.as_str() == "MULTIPLE_FACES"));
}

#[test]
fn astronaut_gives_one_face_with_468_landmarks_inside_the_box() {
    let eng = engine(DetectorKind::BlazeFaceFront);
    let img = load_rgb(&fixture("astronaut.png"));
    let a = still(&eng, &img);
    assert_eq!(a.faces.len(), 1);
    let f = &a.faces[0];
    assert_eq!(f.landmarks.len(), 468);
    assert!(f.presence > 0.9, "presence {}", f.presence);
    // Every landmark inside the detection box grown by 40% (the box is eyes-to-mouth tight,
    // the mesh covers forehead and chin).
    let b = f.detection.bbox;
    let (gw, gh) = (0.4 * b.width(), 0.4 * b.height());
    for p in &f.landmarks {
        assert!(
            p.x > b.x_min - gw && p.x < b.x_max + gw && p.y > b.y_min - gh && p.y < b.y_max + gh,
            "{p:?} outside {b:?}"
        );
    }
    println!(
        "astronaut: box {:?}, presence {:.3}, timings {:?}",
        b.as_array(),
        f.presence,
        a.timings
    );
}

/// Tracking: after the first frame the ROI comes from the landmarks; the detector runs again
/// only for the periodic face count. Landmarks track a shifting face.
#[test]
fn tracking_skips_detection_and_follows_the_face() {
    let eng = engine(DetectorKind::BlazeFaceFront);
    let img = load_rgb(&fixture("astronaut.png"));
    let (w, h) = (img.width as usize, img.height as usize);
    let mut tracker = Tracker::new(eng.clone());
    let mut detector_runs = 0;
    let mut first_nose = None;
    let frames = 30usize;
    for i in 0..frames {
        // Shift the image right by i px (replicating the left column).
        let shift = i;
        let mut data = vec![0u8; w * h * 3];
        for y in 0..h {
            for x in 0..w {
                let sx = x.saturating_sub(shift);
                data[(y * w + x) * 3..(y * w + x) * 3 + 3]
                    .copy_from_slice(&img.data[(y * w + sx) * 3..(y * w + sx) * 3 + 3]);
            }
        }
        let frame = Frame::contiguous(w as u32, h as u32, PixelFormat::Rgb888, &data)
            .unwrap()
            .with_timestamp_ns(i as u64 * 33_333_333);
        let a = tracker.process(&frame).unwrap();
        assert_eq!(a.faces.len(), 1, "frame {i}");
        // The models' share is timed inside the stages that call them.
        let t = a.timings;
        assert!(
            t.model > 0.0 && t.model <= t.detect + t.mesh && t.detect + t.mesh <= t.total,
            "frame {i}: {t:?}"
        );
        if a.detector_ran {
            detector_runs += 1;
        }
        let nose = a.faces[0].landmarks[1];
        match first_nose {
            None => first_nose = Some(nose),
            Some(n0) => {
                let moved = nose.x - n0.x;
                assert!(
                    (moved - shift as f32).abs() < 2.0,
                    "frame {i}: nose moved {moved:.2}px for a {shift}px shift"
                );
            }
        }
    }
    let expected = 1 + (frames - 1) / eng.config().recount_faces_every as usize;
    println!("tracking: detector ran on {detector_runs} of {frames} frames");
    assert_eq!(detector_runs, expected);
}

#[test]
fn one_engine_serves_two_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Engine>();
    let eng = engine(DetectorKind::BlazeFaceFront);
    let img = Arc::new(load_rgb(&fixture("astronaut.png")));
    let reference = still(&eng, &img).faces[0].landmarks.clone();
    let handles: Vec<_> = (0..2)
        .map(|_| {
            let (eng, img) = (eng.clone(), img.clone());
            std::thread::spawn(move || {
                let mut tracker = Tracker::new(eng);
                let frame =
                    Frame::contiguous(img.width, img.height, PixelFormat::Rgb888, &img.data)
                        .unwrap();
                (0..5)
                    .map(|_| {
                        tracker.analyze_still(&frame).unwrap().faces[0]
                            .landmarks
                            .clone()
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    for h in handles {
        for lm in h.join().unwrap() {
            let max = lm
                .iter()
                .zip(&reference)
                .map(|(a, b)| (a.x - b.x).abs().max((a.y - b.y).abs()))
                .fold(0.0f32, f32::max);
            assert!(max < 1e-3, "threads disagree by {max}px");
        }
    }
}

#[test]
fn bad_setups_give_typed_errors() {
    // Missing runtime library.
    let mut c = config(DetectorKind::BlazeFaceFront);
    c.runtime_path = Some("/nonexistent/libonnxruntime.so".into());
    let e = Engine::new(c).unwrap_err();
    assert!(
        matches!(e, Error::Model(ModelError::RuntimeMissing { .. })),
        "{e}"
    );
    assert!(
        e.to_string().contains("/nonexistent/libonnxruntime.so"),
        "{e}"
    );

    // Missing model directory.
    let mut c = config(DetectorKind::BlazeFaceFront);
    c.models_dir = "/nonexistent-models".into();
    let e = Engine::new(c).unwrap_err();
    assert!(
        matches!(e, Error::Model(ModelError::ModelMissing { .. })),
        "{e}"
    );

    // Wrong hash: the real file under an override that pins another sha256.
    let mut c = config(DetectorKind::BlazeFaceFront);
    c.overrides.push(ModelOverride {
        name: "face_landmark".into(),
        path: models_dir().join("face_landmark.onnx"),
        sha256: "0".repeat(64),
    });
    let e = Engine::new(c).unwrap_err();
    assert!(
        matches!(e, Error::Model(ModelError::HashMismatch { .. })),
        "{e}"
    );

    // Truncated model whose (user-pinned) sha256 matches the truncated bytes: ORT rejects it.
    let dir = std::env::temp_dir().join(format!("lp-trunc-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bytes = std::fs::read(models_dir().join("face_landmark.onnx")).unwrap();
    let trunc = dir.join("face_landmark_truncated.onnx");
    std::fs::write(&trunc, &bytes[..bytes.len() / 3]).unwrap();
    let sha = liveproof_core::models::sha256_file(&trunc).unwrap();
    let mut c = config(DetectorKind::BlazeFaceFront);
    c.overrides.push(ModelOverride {
        name: "face_landmark".into(),
        path: trunc.clone(),
        sha256: sha,
    });
    let e = Engine::new(c).unwrap_err();
    assert!(
        matches!(e, Error::Model(ModelError::ModelCorrupt { .. })),
        "{e}"
    );

    // A valid ONNX file with the wrong interface (the detector given as the landmark model).
    let det = models_dir().join("face_detection_front_128x128.onnx");
    let sha = liveproof_core::models::sha256_file(&det).unwrap();
    let mut c = config(DetectorKind::BlazeFaceFront);
    c.overrides.push(ModelOverride {
        name: "face_landmark".into(),
        path: det,
        sha256: sha,
    });
    let e = Engine::new(c).unwrap_err();
    assert!(
        matches!(
            e,
            Error::Model(ModelError::NameMismatch { .. } | ModelError::ShapeMismatch { .. })
        ),
        "{e}"
    );
    std::fs::remove_dir_all(&dir).ok();

    // Bad configuration.
    let mut c = config(DetectorKind::BlazeFaceFront);
    c.min_detection_score = f32::NAN;
    assert!(matches!(Engine::new(c), Err(Error::Config(_))));
}

#[test]
fn bad_frames_give_typed_errors() {
    let eng = engine(DetectorKind::BlazeFaceFront);
    let mut tracker = Tracker::new(eng);
    let data = vec![0u8; 10];
    let e = Frame::contiguous(64, 64, PixelFormat::Rgba8888, &data).unwrap_err();
    assert!(e.to_string().contains("64"), "{e}");
    assert!(Frame::contiguous(0, 64, PixelFormat::Rgb888, &data).is_err());
    // A black frame: no face, and the hint says so.
    let black = vec![0u8; 64 * 48 * 3];
    let frame = Frame::contiguous(64, 48, PixelFormat::Rgb888, &black).unwrap();
    let a = tracker.analyze_still(&frame).unwrap();
    assert!(a.faces.is_empty());
    assert_eq!(a.hints.first().map(|h| h.as_str()), Some("NO_FACE"));
}

/// The pooled still-image path the C ABI and UniFFI use: concurrent callers get the same
/// landmarks as a plain tracker.
#[test]
fn still_analyzer_serves_concurrent_callers() {
    use liveproof_core::engine::StillAnalyzer;
    let eng = engine(DetectorKind::BlazeFaceFront);
    let img = Arc::new(load_rgb(&fixture("astronaut.png")));
    let reference = still(&eng, &img).faces[0].landmarks.clone();
    let pool = Arc::new(StillAnalyzer::new(eng));
    let handles: Vec<_> = (0..3)
        .map(|_| {
            let (pool, img) = (pool.clone(), img.clone());
            std::thread::spawn(move || {
                let frame =
                    Frame::contiguous(img.width, img.height, PixelFormat::Rgb888, &img.data)
                        .unwrap();
                (0..4)
                    .map(|_| {
                        pool.analyze(&frame, |a| a.faces[0].landmarks.clone())
                            .unwrap()
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    for h in handles {
        for lm in h.join().unwrap() {
            let max = lm
                .iter()
                .zip(&reference)
                .map(|(a, b)| (a.x - b.x).abs().max((a.y - b.y).abs()))
                .fold(0.0f32, f32::max);
            assert!(max < 1e-3, "pooled analysis differs by {max}px");
        }
    }
}
