//! Per-frame cost of each passive-liveness signal on one 640×480 frame made from the
//! public-domain astronaut photo (face inter-ocular distance ≈ 75 px), with real landmarks.
//!
//! - `fft_frame`, `reflection_frame`: the pure per-frame feature functions.
//! - `parallax_frame`: keeping one frame (landmarks + the small face luma crop);
//!   `parallax_window_30`: scoring a 30-frame window (image-refined matching of ~200
//!   landmarks over 3 × 29 pairs), usually done once per capture; `parallax_turn_24`: the
//!   24-frame score `ChallengeCapture` computes once per turn step.
//! - `eye_state_frame`: the active stage's eye-state model (`fr_eye.onnx`) on both eyes.
//! - `embed_fr_feature`, `embed_mobilefacenet`: face matching's alignment + embedding (the
//!   MobileFaceNet export runs a batch of 2 for one face).
//! - `texture_frame`: the texture models in use (MiniFASNet V2 + V1SE, else `fr_liveness`):
//!   crop, inference, softmax; `texture_frame_source_models`: the same with MiniFASNet's source
//!   files from the shared folder, before set-up's exact PRelu rewrite.
//! - `window_session`: a session's whole passive window, as its worker runs it: a
//!   `PassiveWindow` with `SessionConfig::default()`'s plan (depth off) offered the 30 usable
//!   frames of a SYNTHETIC bona fide hold-still capture (Gauss, 640×480; 15 enter the window,
//!   6 are scored by the per-frame signals, 15 kept for parallax), then its report. On one
//!   thread, so its time is its CPU.
//! - `depth_standin_252`: the project-made STAND-IN (not a depth model; its cost says nothing
//!   about the real one).
//! - `depth_vits_random_{252,518}`: an architecture-faithful Depth Anything V2 ViT-S/DPT with
//!   RANDOM weights (`cargo xtask bench` builds it; set `LIVEPROOF_DEPTH_BENCH_MODEL`): the
//!   real model's latency, not its output.

use criterion::{criterion_group, criterion_main, Criterion};
use liveproof_core::engine::{DetectorKind, EngineConfig, ModelOverride, Tracker};
use liveproof_core::frame::{Frame, PixelFormat, RgbImage};
use liveproof_core::models::sha256_file;
use liveproof_core::passive::analyzer::{PassiveConfig, PassiveModels};
use liveproof_core::passive::{depth, fft, parallax, reflection, texture, FaceGeometry};
use liveproof_tests::{engine_config, engine_with, fixture, load_rgb, rgb_frame};

fn frame_640x480() -> RgbImage {
    let src = load_rgb(&fixture("astronaut.png"));
    let img = image::RgbImage::from_raw(src.width, src.height, src.data).unwrap();
    let crop = image::imageops::crop_imm(&img, 0, 0, 512, 384).to_image();
    let out = image::imageops::resize(&crop, 640, 480, image::imageops::FilterType::Triangle);
    RgbImage::from_raw(640, 480, out.into_raw()).unwrap()
}

fn signals(c: &mut Criterion) {
    let cfg = engine_config(DetectorKind::BlazeFaceFront);
    let eng = engine_with(cfg.clone());
    let img = frame_640x480();
    let mut tracker = Tracker::new(eng);
    let frame = Frame::contiguous(img.width, img.height, PixelFormat::Rgb888, &img.data).unwrap();
    let face = tracker.analyze_still(&frame).unwrap().faces[0].clone();
    let geom = FaceGeometry {
        landmarks: &face.landmarks,
        bbox: face.detection.bbox,
    };

    let mut g = c.benchmark_group("passive");
    let fcfg = fft::Config::default();
    let mut fs = fft::Scratch::new();
    let probe = fft::frame_features(&img, &geom, &fcfg, &mut fs).unwrap();
    assert_eq!(probe.status, fft::FrameStatus::Measured, "{probe:?}");
    g.bench_function("fft_frame", |b| {
        b.iter(|| fft::frame_features(&img, &geom, &fcfg, &mut fs).unwrap())
    });
    let rcfg = reflection::Config::default();
    let mut rs = reflection::Scratch::new();
    g.bench_function("reflection_frame", |b| {
        b.iter(|| reflection::frame_features(&img, &geom, &rcfg, &mut rs).unwrap())
    });
    // 30 frames of the same face with a small synthetic sway of the landmarks (only the
    // cost matters here).
    let window: Vec<_> = (0..30)
        .map(|i| {
            let a = i as f32 * 0.2;
            let lm = liveproof_core::mesh::Landmarks::new(
                face.landmarks
                    .iter()
                    .map(|p| liveproof_core::geometry::Point3 {
                        x: p.x + a.sin() * (p.z * 0.05),
                        y: p.y + a.cos(),
                        z: p.z,
                    })
                    .collect(),
            )
            .unwrap();
            parallax::frame_features_with_image(
                &img,
                &lm,
                i as u64 * 33_000_000,
                &parallax::ParallaxConfig::default(),
            )
            .unwrap()
        })
        .collect();
    let pcfg = parallax::ParallaxConfig::default();
    g.bench_function("parallax_frame", |b| {
        b.iter(|| parallax::frame_features_with_image(&img, &face.landmarks, 0, &pcfg).unwrap())
    });
    g.bench_function("parallax_window_30", |b| {
        b.iter(|| parallax::score(&window, &pcfg))
    });
    // What `ChallengeCapture` scores once per turn step: at most 24 frames.
    g.bench_function("parallax_turn_24", |b| {
        b.iter(|| parallax::score(&window[..24], &pcfg))
    });
    // Face matching: five points from FaceMesh, alignment, embedding, L2 normalisation.
    let pts = liveproof_core::matching::five_points_from_mesh(&face.landmarks).unwrap();
    for model in ["fr_feature", "mobilefacenet"] {
        let mut e = liveproof_core::matching::Embedder::load(&cfg, model).expect("embedder");
        g.bench_function(format!("embed_{model}"), |b| {
            b.iter(|| e.embed(&img, &pts).unwrap())
        });
    }
    // Active liveness: `fr_eye.onnx` on both eyes (crop, two inferences, softmax).
    let eyes = liveproof_core::active::EyeStateModel::load(&cfg).expect("fr_eye loads");
    g.bench_function("eye_state_frame", |b| {
        b.iter(|| eyes.predict(&img, &face.landmarks).unwrap())
    });

    let standin = PassiveConfig {
        depth_model: "depth_standin".into(),
        ..PassiveConfig::default()
    };
    let models = PassiveModels::load(&cfg, &standin);
    use liveproof_core::passive::analyzer::OptionalModel;
    // The texture set in use (MiniFASNet V2 + V1SE, or the fr_liveness fallback).
    if !models.texture.is_empty() {
        let mut t =
            texture::TextureClassifier::new(models.texture.clone(), texture::Config::default())
                .unwrap();
        let label = t.model_label();
        g.bench_function(format!("texture_frame_{label}"), |b| {
            b.iter(|| t.process(&img, &geom).unwrap())
        });
    }
    // The same MiniFASNet models as their source files, before set-up's PRelu rewrite
    // (`convert = "prelu_rewrite"`), from the shared folder when it is at hand.
    let shared = std::env::var_os("LIVEPROOF_SHARED_DIR").map(std::path::PathBuf::from);
    let sources: Vec<ModelOverride> = [
        ("minifasnet_v2", "MiniFASNetV2.onnx"),
        ("minifasnet_v1se", "MiniFASNetV1SE.onnx"),
    ]
    .iter()
    .filter_map(|(name, file)| {
        let path = shared.as_ref()?.join("models/minifasnet").join(file);
        let sha256 = sha256_file(&path).ok()?;
        Some(ModelOverride {
            name: (*name).into(),
            path,
            sha256,
        })
    })
    .collect();
    if sources.len() == 2 {
        let ecfg = EngineConfig {
            overrides: sources,
            ..cfg.clone()
        };
        let models = PassiveModels::load(&ecfg, &standin);
        let mut t =
            texture::TextureClassifier::new(models.texture.clone(), texture::Config::default())
                .unwrap();
        assert_eq!(t.model_label(), "minifasnet_v2+minifasnet_v1se");
        g.bench_function("texture_frame_source_models", |b| {
            b.iter(|| t.process(&img, &geom).unwrap())
        });
    } else {
        eprintln!("skipped: texture_frame_source_models: no shared folder with models/minifasnet");
    }
    if let OptionalModel::Loaded(r) = &models.depth {
        let mut d = depth::DepthEstimator::new(r.clone(), depth::Config::default()).unwrap();
        g.bench_function("depth_standin_252", |b| {
            b.iter(|| d.process(&img, &geom).unwrap())
        });
    }
    if let Some(path) = std::env::var_os("LIVEPROOF_DEPTH_BENCH_MODEL") {
        let path = std::path::PathBuf::from(path);
        let sha = sha256_file(&path).expect("hashing the bench depth model");
        let ecfg = EngineConfig {
            overrides: vec![ModelOverride {
                name: "depth_anything_v2_vits".into(),
                path,
                sha256: sha,
            }],
            ..cfg.clone()
        };
        let models = PassiveModels::load(&ecfg, &PassiveConfig::default());
        if let OptionalModel::Loaded(r) = &models.depth {
            g.sample_size(10);
            for side in [252u32, 518] {
                let dcfg = depth::Config {
                    input_size: side,
                    ..depth::Config::default()
                };
                let mut d = depth::DepthEstimator::new(r.clone(), dcfg).unwrap();
                g.bench_function(format!("depth_vits_random_{side}"), |b| {
                    b.iter(|| d.process(&img, &geom).unwrap())
                });
            }
        } else {
            eprintln!(
                "LIVEPROOF_DEPTH_BENCH_MODEL did not load: {:?}",
                models.depth
            );
        }
    }
    g.finish();
}

/// The passive window of a session, whole (module docs).
fn window(c: &mut Criterion) {
    use liveproof_core::session::{PassiveWindow, SessionConfig};
    use liveproof_synth::{Generator, Kind, Params, Source, SourceOptions};
    use std::sync::Arc;
    let cfg = engine_config(DetectorKind::BlazeFaceFront);
    let eng = engine_with(cfg.clone());
    let session = SessionConfig {
        passive: PassiveConfig {
            depth_model: String::new(),
            ..PassiveConfig::default()
        },
        ..SessionConfig::default()
    };
    let models = Arc::new(PassiveModels::load(&cfg, &session.passive));
    // SYNTHETIC: Gauss holding still at 30 fps.
    let source =
        Source::from_file(&eng, &fixture("gauss.png"), &SourceOptions::default()).expect("source");
    let params = Params::new(Kind::BonaFide, 7, session.passive_frames, 30.0);
    let mut tracker = Tracker::new(eng);
    let frames: Vec<_> = Generator::new(&source, &params)
        .unwrap()
        .map(|f| {
            let frame = rgb_frame(&f.image, f.timestamp_ns);
            let face = tracker.process(&frame).unwrap().faces[0].clone();
            (f.image, face.landmarks, face.detection.bbox, f.timestamp_ns)
        })
        .collect();
    let run = || {
        let mut w = PassiveWindow::new(models.clone(), &session).unwrap();
        for (img, landmarks, bbox, ts) in &frames {
            w.offer(img, landmarks, *bbox, *ts).unwrap();
        }
        w.report()
    };
    let r = run();
    assert_eq!((r.frames, r.texture.available), (15, true), "{r:?}");
    let mut g = c.benchmark_group("passive");
    g.bench_function("window_session", |b| b.iter(run));
}

criterion_group!(benches, signals, window);
criterion_main!(benches);
