//! REAL presentation-attack photos (issue #11): the five phone photos of the project's shared
//! data (`../shared/data/real-pad/`: three attacks, two bona fide; Silent-Face-Anti-Spoofing,
//! Apache-2.0), never committed and read from there. Five images are a sanity check of each
//! signal's direction, not a benchmark: the tests print per-image results, never an accuracy.
//!
//! Each photo runs as a capture of the same still repeated (`STILL_FRAMES` frames at 30 fps),
//! through the real pipeline (BlazeFace + FaceMesh tracking, then `PassiveAnalyzer`), as a new
//! user would run `liveproof inspect --passive DIR`.
//!
//! Without the shared folder (a user's clone) these tests are compiled as ignored with the
//! reason (see `tests/build.rs`), so `cargo test` reports them as ignored, never as passed.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use liveproof_core::engine::{DetectorKind, Engine, Tracker};
use liveproof_core::frame::file::load_upright;
use liveproof_core::frame::{Frame, PixelFormat, RgbImage};
use liveproof_core::geometry::Rect;
use liveproof_core::passive::analyzer::{PassiveAnalyzer, PassiveConfig, PassiveModels};
use liveproof_core::passive::texture::{self, TextureClassifier, TextureModel};
use liveproof_core::passive::{FaceGeometry, SignalReport};
use liveproof_tests::{default_engine, engine_config, engine_with};

const STILL_FRAMES: u64 = 6;

/// The README's table: file, label.
const SAMPLES: [(&str, bool); 5] = [
    ("print_poster.jpg", false),
    ("print_id_photo.jpg", false),
    ("replay_tablet.jpg", false),
    ("bona_fide_selfie.jpg", true),
    ("bona_fide_far.jpg", true),
];

#[cfg(lp_real_pad)]
fn real_pad_dir() -> PathBuf {
    PathBuf::from(env!("LP_REAL_PAD_DIR"))
}

#[cfg(not(lp_real_pad))]
fn real_pad_dir() -> PathBuf {
    unreachable!("the tests that call this are ignored without the shared folder")
}

fn load(name: &str) -> RgbImage {
    let path = real_pad_dir().join(name);
    load_upright(&path).unwrap_or_else(|e| panic!("{e}")).rgb
}

/// The detector's box and the landmarks of the first face of a still (panics without one).
fn first_face(engine: &Arc<Engine>, img: &RgbImage) -> (Rect, liveproof_core::mesh::Landmarks) {
    let mut t = Tracker::new(engine.clone());
    let frame = Frame::contiguous(img.width, img.height, PixelFormat::Rgb888, &img.data).unwrap();
    let a = t.analyze_still(&frame).expect("analysis");
    let f = a.faces.first().expect("a face");
    (f.detection.bbox, f.landmarks.clone())
}

/// The first face of a still repeated `STILL_FRAMES` times, with the passive report.
fn run_still(
    engine: &Arc<Engine>,
    models: &Arc<PassiveModels>,
    config: &PassiveConfig,
    img: &RgbImage,
) -> liveproof_core::passive::analyzer::PassiveReport {
    let mut tracker = Tracker::with_rgb(engine.clone());
    let mut passive = PassiveAnalyzer::new(models.clone(), config.clone()).expect("analyzer");
    for i in 0..STILL_FRAMES {
        let ts = i * 33_333_333;
        let frame = Frame::contiguous(img.width, img.height, PixelFormat::Rgb888, &img.data)
            .expect("frame")
            .with_timestamp_ns(ts);
        let a = tracker.process(&frame).expect("analysis");
        match a.faces.first() {
            Some(f) => {
                let (lm, bbox) = (f.landmarks.clone(), f.detection.bbox);
                passive
                    .push(tracker.last_rgb().unwrap(), &lm, bbox, ts)
                    .expect("push");
            }
            None => passive.push_no_face(),
        }
    }
    passive.report()
}

fn cell(r: &SignalReport) -> String {
    match r.score {
        Some(s) => format!("{s:.3}"),
        None => "n/a".into(),
    }
}

/// Every attack's score below every bona fide score.
fn attacks_below_bona_fide(scores: &[(&str, bool, Option<f32>)]) -> Result<(), String> {
    let max_attack = scores
        .iter()
        .filter(|s| !s.1)
        .map(|s| s.2.ok_or(format!("{}: no score", s.0)))
        .collect::<Result<Vec<f32>, _>>()?
        .into_iter()
        .fold(f32::MIN, f32::max);
    let min_live = scores
        .iter()
        .filter(|s| s.1)
        .map(|s| s.2.ok_or(format!("{}: no score", s.0)))
        .collect::<Result<Vec<f32>, _>>()?
        .into_iter()
        .fold(f32::MAX, f32::min);
    if max_attack < min_live {
        Ok(())
    } else {
        Err(format!(
            "highest attack {max_attack:.3} ≥ lowest bona fide {min_live:.3}"
        ))
    }
}

#[test]
#[cfg_attr(
    not(lp_real_pad),
    ignore = "skipped: needs the shared real media (../shared/data/real-pad or $LIVEPROOF_SHARED_DIR), absent from this checkout"
)]
fn exif_orientation_turns_the_real_photos_upright() {
    let engine = default_engine();
    let roll_of = |img: &RgbImage| {
        let mut tracker = Tracker::new(engine.clone());
        let frame =
            Frame::contiguous(img.width, img.height, PixelFormat::Rgb888, &img.data).unwrap();
        let a = tracker.analyze_still(&frame).expect("analysis");
        a.faces.first().map(|f| {
            // Roll from the eye line (image y down): 0 for an upright face.
            let (l, r) = (f.landmarks[33], f.landmarks[263]);
            (r.y - l.y).atan2(r.x - l.x).to_degrees()
        })
    };
    let mut rotated = 0;
    for (name, _) in SAMPLES {
        let path = real_pad_dir().join(name);
        let d = load_upright(&path).expect("decodes");
        // Without the orientation applied: the pixels as stored.
        let raw = image::open(&path).expect("decodes").to_rgb8();
        let (w, h) = raw.dimensions();
        let raw = RgbImage::from_raw(w, h, raw.into_raw()).unwrap();
        let (upright_roll, raw_roll) = (roll_of(&d.rgb), roll_of(&raw));
        println!(
            "{name}: EXIF orientation {}, stored {w}x{h}, upright {}x{}, eye-line roll upright \
             {upright_roll:?} deg, as stored {raw_roll:?} deg",
            d.exif_orientation, d.rgb.width, d.rgb.height,
        );
        if (5..=8).contains(&d.exif_orientation) {
            rotated += 1;
            assert_eq!((d.rgb.width, d.rgb.height), (h, w), "{name}: sides swapped");
            // As stored, the face lies on its side (or is not found at all).
            if let Some(r) = raw_roll {
                assert!(r.abs() > 45.0, "{name}: stored face rolled only {r:.1}°");
            }
        }
        let roll = upright_roll.unwrap_or_else(|| panic!("{name}: no face once upright"));
        assert!(roll.abs() < 25.0, "{name}: upright face rolled {roll:.1}°");
    }
    assert!(
        rotated >= 1,
        "the README says these phone photos carry EXIF rotations; none found"
    );
}

#[test]
#[cfg_attr(
    not(lp_real_pad),
    ignore = "skipped: needs the shared real media (../shared/data/real-pad or $LIVEPROOF_SHARED_DIR), absent from this checkout"
)]
fn passive_signals_on_real_stills() {
    let engine = default_engine();
    let ecfg = engine_config(DetectorKind::BlazeFaceFront);
    let preferred = PassiveConfig::default();
    let fallback_only = PassiveConfig {
        texture: texture::Config {
            models: Vec::new(),
            ..texture::Config::default()
        },
        ..PassiveConfig::default()
    };
    let minifasnet = Arc::new(PassiveModels::load(&ecfg, &preferred));
    let fr = Arc::new(PassiveModels::load(&ecfg, &fallback_only));
    let label = |m: &PassiveModels| {
        m.texture
            .iter()
            .map(|(t, _)| t.name.clone())
            .collect::<Vec<_>>()
            .join("+")
    };
    assert_eq!(
        label(&minifasnet),
        "minifasnet_v2+minifasnet_v1se",
        "MiniFASNet is installed by `cargo xtask setup` from the shared folder: {}",
        minifasnet.texture_note
    );
    assert_eq!(label(&fr), "fr_liveness", "{}", fr.texture_note);

    println!(
        "REAL stills ({STILL_FRAMES} identical frames each): texture (MiniFASNet V2+V1SE, \
         fr_liveness), parallax, reflection, FFT, depth"
    );
    let (mut tex_mini, mut tex_fr) = (Vec::new(), Vec::new());
    for (name, live) in SAMPLES {
        let img = load(name);
        let r = run_still(&engine, &minifasnet, &preferred, &img);
        let f = run_still(&engine, &fr, &fallback_only, &img);
        let feat = |s: &SignalReport, k: &str| s.features.get(k).copied().unwrap_or(f64::NAN);
        println!(
            "  {name:<22} {:<9} texture {} (V2 {:.3}, V1SE {:.3}) fr_liveness {} | parallax {} \
             (landmarks {:.4}, image {:.4} IOD) | reflection {} | fft {} | depth {}",
            if live { "bona fide" } else { "attack" },
            cell(&r.texture),
            feat(&r.texture, "model0_live_mean"),
            feat(&r.texture, "model1_live_mean"),
            cell(&f.texture),
            cell(&r.parallax),
            feat(&r.parallax, "max_motion"),
            feat(&r.parallax, "max_image_motion"),
            cell(&r.reflection),
            cell(&r.fft),
            cell(&r.depth),
        );
        for (sig, rep) in [
            ("parallax", &r.parallax),
            ("fft", &r.fft),
            ("depth", &r.depth),
        ] {
            if !rep.available {
                println!("      {sig}: {}", rep.reason);
            }
        }
        assert_eq!(r.frames_with_face, STILL_FRAMES as usize, "{name}: face");
        // A still has no motion: parallax must say it has no evidence, with no score.
        assert!(
            !r.parallax.available && r.parallax.score.is_none(),
            "{name}: parallax scored a still: {:?} {:?}",
            r.parallax.score,
            r.parallax.features
        );
        assert!(
            r.parallax.reason.contains("not enough out-of-plane motion"),
            "{name}: {}",
            r.parallax.reason
        );
        assert_eq!(r.texture.model, "minifasnet_v2+minifasnet_v1se");
        assert_eq!(f.texture.model, "fr_liveness");
        assert!(f.texture.note.contains("fallback"), "{}", f.texture.note);
        tex_mini.push((name, live, r.texture.score));
        tex_fr.push((name, live, f.texture.score));
    }
    // The texture signal claims a direction: every real attack below every real bona fide.
    attacks_below_bona_fide(&tex_mini).expect("MiniFASNet texture direction");
    attacks_below_bona_fide(&tex_fr).expect("fr_liveness texture direction");
}

/// MiniFASNet's crop depends on the face box: its reference code takes a RetinaFace-style
/// detector's box. This prints each model's live probability with the boxes LiveProof has
/// (BlazeFace's detection, the FaceMesh landmarks' extent that tracking passes on, and
/// SCRFD's RetinaFace-style box) and checks that the default (the landmarks' box, what the
/// analyzer gets on every tracked frame) keeps the direction.
#[test]
#[cfg_attr(
    not(lp_real_pad),
    ignore = "skipped: needs the shared real media (../shared/data/real-pad or $LIVEPROOF_SHARED_DIR), absent from this checkout"
)]
fn minifasnet_crop_box_sources_on_real_stills() {
    let blaze = default_engine();
    let scrfd = engine_with(engine_config(DetectorKind::Scrfd));
    let ecfg = engine_config(DetectorKind::BlazeFaceFront);
    let models = PassiveModels::load(&ecfg, &PassiveConfig::default());
    assert_eq!(models.texture.len(), 2, "{}", models.texture_note);
    let mut per_model: Vec<TextureClassifier> = models
        .texture
        .iter()
        .map(|m| TextureClassifier::new(vec![m.clone()], texture::Config::default()).unwrap())
        .collect();
    let fr = liveproof_core::engine::load_runner(&ecfg, "fr_liveness").expect("fr_liveness");
    per_model.push(
        TextureClassifier::new(
            vec![(TextureModel::fr_liveness(), fr)],
            texture::Config::default(),
        )
        .unwrap(),
    );
    println!("live probability by crop box: V2 / V1SE / fr_liveness (box w x h px)");
    let mut landmark_box_scores = Vec::new();
    for (name, live) in SAMPLES {
        let img = load(name);
        let (blaze_box, lm) = first_face(&blaze, &img);
        let (scrfd_box, _) = first_face(&scrfd, &img);
        let lm_box = Rect::bounding(lm.iter().map(|p| p.xy())).expect("landmark box");
        let mut line = format!("  {name:<22}");
        for (src, bbox) in [
            ("blazeface", blaze_box),
            ("landmarks", lm_box),
            ("scrfd", scrfd_box),
        ] {
            let face = FaceGeometry {
                landmarks: &lm,
                bbox,
            };
            let p: Vec<f32> = per_model
                .iter_mut()
                .map(|c| c.process(&img, &face).expect("texture").live())
                .collect();
            line += &format!(
                " | {src} {:.0}x{:.0}: {:.3} / {:.3} / {:.3}",
                bbox.width(),
                bbox.height(),
                p[0],
                p[1],
                p[2]
            );
            if src == "landmarks" {
                landmark_box_scores.push((name, live, Some(0.5 * (p[0] + p[1]))));
            }
        }
        println!("{line}");
    }
    attacks_below_bona_fide(&landmark_box_scores).expect("MiniFASNet on the landmarks' box");
}

#[test]
fn real_pad_dir_is_where_the_build_script_looked() {
    // Without the shared folder this is the one test of the file that runs: it says so.
    if cfg!(lp_real_pad) {
        assert!(real_pad_dir().join("README.md").is_file());
    } else {
        println!(
            "skipped: the real-pad tests (shared folder absent: set LIVEPROOF_SHARED_DIR or put \
             shared/ beside the workspace)"
        );
    }
    let _ = Path::new(".");
}

/// `fr_liveness` with another colour order declared: the runner of the real model, with the
/// manifest entry's `preprocess.colour` replaced.
struct ColourSwapped {
    inner: Arc<dyn liveproof_core::models::ModelRunner>,
    spec: liveproof_core::models::ModelSpec,
}

impl liveproof_core::models::ModelRunner for ColourSwapped {
    fn spec(&self) -> &liveproof_core::models::ModelSpec {
        &self.spec
    }
    fn run(
        &self,
        inputs: &[liveproof_core::models::TensorIn<'_>],
        outputs: &mut Vec<liveproof_core::models::TensorOut>,
    ) -> Result<(), liveproof_core::models::ModelError> {
        self.inner.run(inputs, outputs)
    }
}

/// How `fr_liveness`'s channel order and live class were settled: every (colour, class)
/// reading on the real stills, side by side. Only BGR with class 0 puts every real attack
/// below every real bona fide capture; RGB with class 1 (the old wiring) called the prints
/// live.
#[test]
#[cfg_attr(
    not(lp_real_pad),
    ignore = "skipped: needs the shared real media (../shared/data/real-pad or $LIVEPROOF_SHARED_DIR), absent from this checkout"
)]
fn fr_liveness_channel_order_and_live_class_on_real_stills() {
    let engine = default_engine();
    let ecfg = engine_config(DetectorKind::BlazeFaceFront);
    let runner = liveproof_core::engine::load_runner(&ecfg, "fr_liveness").expect("fr_liveness");
    let faces: Vec<(&str, bool, RgbImage, liveproof_core::mesh::Landmarks)> = SAMPLES
        .iter()
        .map(|&(name, live)| {
            let img = load(name);
            let (_, lm) = first_face(&engine, &img);
            (name, live, img, lm)
        })
        .collect();
    println!("fr_liveness on REAL stills, probability of the class read as live:");
    let mut separating = Vec::new();
    for colour in ["RGB", "BGR"] {
        let mut spec = runner.spec().clone();
        spec.preprocess.as_mut().expect("preprocess").colour = colour.into();
        let swapped: Arc<dyn liveproof_core::models::ModelRunner> = Arc::new(ColourSwapped {
            inner: runner.clone(),
            spec,
        });
        for class in 0..3 {
            let model = TextureModel {
                live_class: class,
                ..TextureModel::fr_liveness()
            };
            let mut c =
                TextureClassifier::new(vec![(model, swapped.clone())], texture::Config::default())
                    .unwrap();
            let scores: Vec<(&str, bool, Option<f32>)> = faces
                .iter()
                .map(|(name, live, img, lm)| {
                    let face = FaceGeometry {
                        landmarks: lm,
                        bbox: Rect::bounding(lm.iter().map(|p| p.xy())).unwrap(),
                    };
                    (*name, *live, Some(c.process(img, &face).unwrap().live()))
                })
                .collect();
            let ok = attacks_below_bona_fide(&scores);
            println!(
                "  {colour} class {class}: {} -> {}",
                scores
                    .iter()
                    .map(|(n, _, s)| format!("{} {:.3}", n.trim_end_matches(".jpg"), s.unwrap()))
                    .collect::<Vec<_>>()
                    .join(", "),
                match &ok {
                    Ok(()) => "attacks below bona fide".to_string(),
                    Err(e) => e.clone(),
                }
            );
            if ok.is_ok() {
                separating.push((colour, class));
            }
        }
    }
    assert!(
        separating.contains(&("BGR", 0)),
        "BGR class 0 (the manifest's wiring) must separate: {separating:?}"
    );
    assert!(
        !separating.contains(&("RGB", 1)),
        "RGB class 1 (the old wiring) separated after all"
    );
}

/// Our MiniFASNet crop and preprocessing against an independent Python reference of
/// Silent-Face's (`xtask/py/minifasnet_ref.py`: `_get_new_box`, `cv2.resize`, onnxruntime), on
/// the real stills with the box the analyzer uses (the landmarks' extent). Both read the same
/// upright pixels (written here as PNG).
#[test]
#[cfg_attr(
    not(lp_real_pad),
    ignore = "skipped: needs the shared real media (../shared/data/real-pad or $LIVEPROOF_SHARED_DIR), absent from this checkout"
)]
fn minifasnet_matches_the_python_silent_face_reference() {
    let script = liveproof_tests::ref_script("minifasnet_ref.py");
    let python = liveproof_tests::ref_python();
    let engine = default_engine();
    let ecfg = engine_config(DetectorKind::BlazeFaceFront);
    let manifest = liveproof_core::models::Manifest::embedded().unwrap();
    let tmp = std::env::temp_dir().join(format!("lp-minifasnet-ref-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).unwrap();
    let mut worst = 0.0f32;
    for (name, _) in SAMPLES {
        let img = load(name);
        let png = tmp.join(name.replace(".jpg", ".png"));
        image::RgbImage::from_raw(img.width, img.height, img.data.clone())
            .unwrap()
            .save(&png)
            .unwrap();
        let (_, lm) = first_face(&engine, &img);
        let bbox = Rect::bounding(lm.iter().map(|p| p.xy())).unwrap();
        let face = FaceGeometry {
            landmarks: &lm,
            bbox,
        };
        for model in [
            TextureModel::minifasnet_v2(),
            TextureModel::minifasnet_v1se(),
        ] {
            let (_, path) = liveproof_core::engine::resolve(&manifest, &ecfg, &model.name).unwrap();
            let runner = liveproof_core::engine::load_runner(&ecfg, &model.name).unwrap();
            let mut c =
                TextureClassifier::new(vec![(model.clone(), runner)], texture::Config::default())
                    .unwrap();
            let ours = c.process(&img, &face).unwrap().live();
            let out = std::process::Command::new(&python)
                .arg(&script)
                .arg(&png)
                .arg(&path)
                .arg(model.scale.to_string())
                .args(bbox.as_array().iter().map(|v| v.to_string()))
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "reference failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
            let theirs = v["probs"][model.live_class].as_f64().unwrap() as f32;
            println!(
                "{name:<22} {:<16} ours {ours:.4}  reference {theirs:.4}  |Δ| {:.4}  box {}",
                model.name,
                (ours - theirs).abs(),
                v["box"]
            );
            worst = worst.max((ours - theirs).abs());
        }
    }
    let _ = std::fs::remove_dir_all(&tmp);
    println!("MiniFASNet vs the Silent-Face reference: largest |Δ live probability| {worst:.4}");
    assert!(worst < 0.05, "largest difference {worst}");
}

/// Whole sessions (issue #12's `Session`, with the shipped default policy and calibration) on
/// the real stills, each repeated for one second on a passive-only flow (a still cannot act
/// out a challenge). Per image: band, fused LLR, reasons and each signal's LLR.
#[test]
#[cfg_attr(
    not(lp_real_pad),
    ignore = "skipped: needs the shared real media (../shared/data/real-pad or $LIVEPROOF_SHARED_DIR), absent from this checkout"
)]
fn whole_sessions_on_real_stills() {
    use liveproof_core::calibration::CalibrationBundle;
    use liveproof_core::policy::{Band, FlowType, LoadedPolicy, RiskTier};
    use liveproof_core::session::{
        LoadedCalibration, Session, SessionConfig, SessionModels, SessionParams,
    };
    let engine = default_engine();
    let ecfg = engine_config(DetectorKind::BlazeFaceFront);
    let policy = Arc::new(
        LoadedPolicy::from_json(include_str!("../../models/policy_default.json")).unwrap(),
    );
    let calibration = Arc::new(
        LoadedCalibration::new(
            CalibrationBundle::from_json(include_str!("../../models/calibration_default.json"))
                .unwrap(),
        )
        .unwrap(),
    );
    let models = Arc::new(SessionModels::load(&ecfg, &PassiveConfig::default(), ""));
    println!("REAL stills, whole sessions (login, low risk: passive only; shipped defaults):");
    let mut attack_passed = Vec::new();
    for (name, live) in SAMPLES {
        let img = load(name);
        let mut s = Session::new(
            engine.clone(),
            models.clone(),
            policy.clone(),
            calibration.clone(),
            SessionParams {
                seed: [0; 32],
                flow: FlowType::Login,
                tier: RiskTier::Low,
                attempt: 1,
                consecutive_failures: 0,
                request_id: String::new(),
                session_id: name.into(),
                template: None,
                capture_device: "phone photo (real-pad)".into(),
            },
            SessionConfig::default(),
        )
        .unwrap();
        for k in 0..30u64 {
            let frame = Frame::contiguous(img.width, img.height, PixelFormat::Rgb888, &img.data)
                .unwrap()
                .with_timestamp_ns(k * 33_333_333);
            s.push_frame(&frame).unwrap();
        }
        let r = s.finish();
        let llrs: Vec<String> = r
            .signals
            .iter()
            .map(|c| {
                if c.available {
                    format!("{} {:+.2}", c.signal.as_str(), c.llr)
                } else {
                    format!("{} n/a", c.signal.as_str())
                }
            })
            .collect();
        println!(
            "  {name:<22} {:<9} {:?} fused {:?} reasons {:?} | {}",
            if live { "bona fide" } else { "attack" },
            r.band,
            r.fused.map(|f| (f * 100.0).round() / 100.0),
            r.reasons,
            llrs.join(", ")
        );
        assert!(r.passive_only);
        if !live && r.band == Band::Pass {
            attack_passed.push(name);
        }
    }
    // No real attack passes with the shipped defaults.
    assert!(
        attack_passed.is_empty(),
        "real attacks passed: {attack_passed:?}"
    );
}
