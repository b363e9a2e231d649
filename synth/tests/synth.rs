//! Integration tests of the SYNTHETIC capture generator on the public-domain fixtures with the
//! real models: determinism, the rendered head pose and blink as LiveProof measures them,
//! planarity of print tracks, timing, bad input, and re-analysis of every kind.
//!
//! Models, ONNX Runtime and fixtures come from `cargo xtask setup` (`$LIVEPROOF_MODELS_DIR`,
//! `$ORT_DYLIB_PATH`, `$LIVEPROOF_FIXTURES_DIR`, else `~/.cache/liveproof`).

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use liveproof_core::engine::{DetectorKind, Engine, EngineConfig, Tracker};
use liveproof_core::frame::{Frame, PixelFormat, RgbImage};
use liveproof_core::geometry::Point3;
use liveproof_core::quality::HeadPose;
use liveproof_synth::geom::{fit_homography, homography_rms};
use liveproof_synth::source::{interocular, mean_ear};
use liveproof_synth::{
    generate, write_capture, Event, Generator, Kind, Params, Source, SourceOptions, SynthError,
};

use liveproof_core::models::cache;

fn fixture(name: &str) -> PathBuf {
    let p = cache::fixtures_dir().join(name);
    assert!(
        p.is_file(),
        "fixture {} is missing: run `cargo xtask setup`",
        p.display()
    );
    p
}

mod common;
use common::config;

fn engine() -> Arc<Engine> {
    static E: OnceLock<Arc<Engine>> = OnceLock::new();
    E.get_or_init(|| {
        Arc::new(Engine::new(config(DetectorKind::BlazeFaceFront)).expect("engine loads"))
    })
    .clone()
}

fn astronaut() -> &'static Source {
    static S: OnceLock<Source> = OnceLock::new();
    S.get_or_init(|| {
        Source::from_file(
            &engine(),
            &fixture("astronaut.png"),
            &SourceOptions::default(),
        )
        .expect("astronaut source")
    })
}

/// What the tracker measures on one frame.
struct Seen {
    landmarks: Vec<Point3>,
    pose: Option<HeadPose>,
}

/// Runs LiveProof's tracker over the frames (as a capture session would).
fn track(frames: &[(RgbImage, u64)]) -> Vec<Option<Seen>> {
    let mut tracker = Tracker::new(engine());
    frames
        .iter()
        .map(|(img, ts)| {
            let f = Frame::contiguous(img.width, img.height, PixelFormat::Rgb888, &img.data)
                .expect("frame")
                .with_timestamp_ns(*ts);
            let a = tracker.process(&f).expect("analysis");
            a.faces.first().map(|face| Seen {
                landmarks: face.landmarks.to_vec(),
                pose: face.quality.pose,
            })
        })
        .collect()
}

fn frames_of(c: &liveproof_synth::Capture) -> Vec<(RgbImage, u64)> {
    c.frames
        .iter()
        .map(|f| (f.image.clone(), f.timestamp_ns))
        .collect()
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len().max(1) as f64
}

fn std(v: &[f64]) -> f64 {
    let m = mean(v);
    (v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / v.len().max(1) as f64).sqrt()
}

#[test]
fn determinism_same_seed_identical_different_seed_differs() {
    let src = astronaut();
    for kind in Kind::ALL {
        let mut p = Params::new(kind, 42, 3, 30.0);
        p.width = 240;
        p.height = 320;
        p.performance.events.push(Event::blink(0.03, 0.1));
        let a = generate(src, &p).expect("generate");
        let b = generate(src, &p).expect("generate again");
        assert_eq!(a.frames, b.frames, "{kind:?}: same seed, same frames");
        assert_eq!(a.meta, b.meta, "{kind:?}: same seed, same metadata");
        p.seed = 43;
        let c = generate(src, &p).expect("generate other seed");
        let differing = a.frames[0]
            .image
            .data
            .iter()
            .zip(&c.frames[0].image.data)
            .filter(|(x, y)| x != y)
            .count() as f64
            / a.frames[0].image.data.len() as f64;
        println!(
            "{kind:?}: seed 42 vs 43, {:.1}% of frame-0 bytes differ",
            100.0 * differing
        );
        assert!(
            differing > 0.2,
            "{kind:?}: another seed changes most pixels ({differing:.3})"
        );
    }
}

#[test]
fn rendered_head_pose_follows_the_commanded_pose() {
    // Still head, then: yaw +15° (subject's left), back through to yaw −15°, then pitch +10°.
    let mut p = Params::new(Kind::BonaFide, 5, 34, 10.0);
    p.idle_motion = 0.0;
    p.performance.events = vec![
        Event::head_pose(0.4, 0.5, 15.0, 0.0, 0.0),
        Event::head_pose(1.3, 0.6, -15.0, 0.0, 0.0),
        Event::head_pose(2.3, 0.5, 0.0, 10.0, 0.0),
    ];
    let c = generate(astronaut(), &p).expect("generate");
    let seen = track(&frames_of(&c));
    let t0 = c.meta.frames[0].timestamp_ns;
    let pick = |lo: f64, hi: f64, f: fn(&HeadPose) -> f32| -> Vec<f64> {
        c.meta
            .frames
            .iter()
            .zip(&seen)
            .filter(|(m, _)| {
                let t = (m.timestamp_ns - t0) as f64 * 1e-9;
                t >= lo && t < hi
            })
            .filter_map(|(_, s)| s.as_ref()?.pose.as_ref().map(|p| f(p) as f64))
            .collect()
    };
    let yaw = |p: &HeadPose| p.yaw_deg;
    let pitch = |p: &HeadPose| p.pitch_deg;
    let (yaw0, pitch0) = (mean(&pick(0.0, 0.4, yaw)), mean(&pick(0.0, 0.4, pitch)));
    let left = mean(&pick(0.95, 1.3, yaw)) - yaw0;
    let right = mean(&pick(1.95, 2.3, yaw)) - yaw0;
    let up = mean(&pick(2.85, 3.4, pitch)) - pitch0;
    println!(
        "commanded yaw +15° → measured {left:+.1}°, yaw −15° → {right:+.1}°, pitch +10° → {up:+.1}° \
         (photo at rest: yaw {yaw0:+.1}°, pitch {pitch0:+.1}°)"
    );
    assert!(
        (left - 15.0).abs() < 3.5,
        "yaw +15° measured {left:.1}° (tolerance 3.5°)"
    );
    assert!(
        (right + 15.0).abs() < 3.5,
        "yaw −15° measured {right:.1}° (tolerance 3.5°)"
    );
    assert!(
        (up - 10.0).abs() < 4.0,
        "pitch +10° measured {up:.1}° (tolerance 4°)"
    );
}

#[test]
fn blink_lowers_the_eye_aspect_ratio() {
    // FaceMesh's 468-point model follows closing lids only partly (MediaPipe issues #965,
    // #1538, #1919: "a bit squeezed"), so the dip is small but must stand far above the
    // frame-to-frame noise of the open eye.
    let mut p = Params::new(Kind::BonaFide, 11, 45, 30.0);
    p.performance.events = vec![Event::blink(0.7, 0.3)];
    let c = generate(astronaut(), &p).expect("generate");
    let seen = track(&frames_of(&c));
    let mut open = Vec::new();
    let mut closed = Vec::new();
    for (m, s) in c.meta.frames.iter().zip(&seen) {
        let Some(s) = s else { continue };
        let ear = mean_ear(&s.landmarks) as f64;
        let t = (m.timestamp_ns - c.meta.frames[0].timestamp_ns) as f64 * 1e-9;
        if t < 0.65 {
            open.push(ear);
        } else if m.truth.eyes_closed >= 0.99 {
            closed.push(ear);
        }
    }
    assert!(
        open.len() >= 15 && !closed.is_empty(),
        "{} open, {} closed frames",
        open.len(),
        closed.len()
    );
    let (base, noise, shut) = (mean(&open), std(&open), mean(&closed));
    let drop = (base - shut) / base;
    println!(
        "EAR open {base:.3} ± {noise:.4} ({} frames), closed {shut:.3} ({} frames): {:.1}% lower, {:.1} σ",
        open.len(),
        closed.len(),
        100.0 * drop,
        (base - shut) / noise.max(1e-6)
    );
    assert!(
        drop > 0.06,
        "a closed eye lowers EAR by > 6% (got {:.1}%)",
        100.0 * drop
    );
    assert!(
        base - shut > 4.0 * noise,
        "the dip exceeds 4σ of the open-eye noise"
    );
}

#[test]
fn smile_widens_the_mouth() {
    let mut p = Params::new(Kind::BonaFide, 12, 30, 15.0);
    p.performance.events = vec![Event::smile(0.6, 1.2)];
    let c = generate(astronaut(), &p).expect("generate");
    let seen = track(&frames_of(&c));
    let width = |lm: &[Point3]| {
        use liveproof_core::mesh::idx::{MOUTH_LEFT, MOUTH_RIGHT};
        (lm[MOUTH_LEFT].xy().dist(lm[MOUTH_RIGHT].xy()) / interocular(lm)) as f64
    };
    let (mut rest, mut full) = (Vec::new(), Vec::new());
    for (m, s) in c.meta.frames.iter().zip(&seen) {
        let Some(s) = s else { continue };
        let t = (m.timestamp_ns - c.meta.frames[0].timestamp_ns) as f64 * 1e-9;
        if t < 0.55 {
            rest.push(width(&s.landmarks));
        } else if m.truth.smile >= 0.99 {
            full.push(width(&s.landmarks));
        }
    }
    let (a, b) = (mean(&rest), mean(&full));
    println!(
        "mouth width / inter-ocular: rest {a:.3} ± {:.4}, full smile {b:.3} ({:+.1}%)",
        std(&rest),
        100.0 * (b - a) / a
    );
    assert!(!rest.is_empty() && !full.is_empty());
    assert!(
        b > a * 1.05,
        "a smile widens the mouth by > 5% (got {:+.1}%)",
        100.0 * (b - a) / a
    );
}

/// RMS residual (in inter-ocular distances) of the best homography from frame 0's landmarks
/// to each later frame's, per frame.
fn planar_residuals(seen: &[Option<Seen>]) -> Vec<f64> {
    let first = seen[0].as_ref().expect("a face in frame 0");
    let src: Vec<(f64, f64)> = first
        .landmarks
        .iter()
        .map(|p| (p.x as f64, p.y as f64))
        .collect();
    let iod = interocular(&first.landmarks) as f64;
    seen[1..]
        .iter()
        .flatten()
        .map(|s| {
            let dst: Vec<(f64, f64)> = s
                .landmarks
                .iter()
                .map(|p| (p.x as f64, p.y as f64))
                .collect();
            let h = fit_homography(&src, &dst).expect("homography fit");
            homography_rms(&h, &src, &dst) / iod
        })
        .collect()
}

#[test]
fn print_tracks_fit_a_homography_bona_fide_tracks_do_not() {
    let src = astronaut();
    let print = generate(src, &Params::new(Kind::Print, 7, 10, 10.0)).expect("print");
    let mut bf = Params::new(Kind::BonaFide, 7, 10, 10.0);
    bf.performance
        .events
        .push(Event::head_pose(0.0, 0.9, 10.0, 0.0, 0.0));
    let bona = generate(src, &bf).expect("bona fide");
    let rp = planar_residuals(&track(&frames_of(&print)));
    let rb = planar_residuals(&track(&frames_of(&bona)));
    let worst_print = rp.iter().cloned().fold(0.0, f64::max);
    let turned = *rb.last().expect("bona fide frames");
    println!(
        "homography RMS residual, inter-ocular distances: print max {worst_print:.4} over {} frames; \
         bona fide after a 10° turn {turned:.4} (per frame {:?})",
        rp.len(),
        rb.iter().map(|v| (v * 1e4).round() / 1e4).collect::<Vec<_>>()
    );
    assert!(
        worst_print < 0.02,
        "print landmarks stay on one plane (max residual {worst_print:.4} IOD, tolerance 0.02)"
    );
    assert!(
        turned > 2.5 * worst_print,
        "a turned head leaves the plane: {turned:.4} vs print {worst_print:.4}"
    );
}

#[test]
fn injection_timestamps_are_regular_camera_timestamps_jitter() {
    let src = astronaut();
    for kind in Kind::ALL {
        let g = Generator::new(src, &Params::new(kind, 3, 300, 30.0)).expect("generator");
        let ts: Vec<u64> = g.meta().frames.iter().map(|f| f.timestamp_ns).collect();
        assert!(ts.windows(2).all(|w| w[1] > w[0]), "{kind:?}: increasing");
        let d: Vec<f64> = ts.windows(2).map(|w| (w[1] - w[0]) as f64).collect();
        let timing = &g.meta().drawn.timing;
        if kind == Kind::Injection {
            assert!(
                d.iter().all(|&v| v == 33_333_333.0),
                "injection: exactly round(1e9/30) ns apart"
            );
            println!("{kind:?}: all 299 intervals exactly 33333333 ns");
        } else {
            // Jitter about the nominal slots.
            let jit: Vec<f64> = ts
                .iter()
                .zip(&timing.slots)
                .map(|(&t, &s)| {
                    (t as f64 - timing.t0_ns as f64 - s as f64 * timing.period_ns) * 1e-6
                })
                .collect();
            let rms = (jit.iter().map(|v| v * v).sum::<f64>() / jit.len() as f64).sqrt();
            println!(
                "{kind:?}: interval std {:.2} ms, jitter RMS {rms:.2} ms (drawn {:.2}), {} dropped slots",
                std(&d) * 1e-6,
                timing.jitter_sigma_ms,
                timing.after_drop.len()
            );
            assert!(
                (0.7..3.5).contains(&rms),
                "{kind:?}: jitter RMS {rms:.2} ms in 0.7..3.5"
            );
            assert!(std(&d) * 1e-6 > 0.7, "{kind:?}: intervals vary");
        }
    }
}

#[test]
fn bad_input_gives_clear_errors() {
    let e = engine();
    let opts = SourceOptions::default();
    let dir = std::env::temp_dir().join(format!("liveproof-synth-bad-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();

    let missing = dir.join("missing.png");
    let err = Source::from_file(&e, &missing, &opts).unwrap_err();
    assert!(
        matches!(err, SynthError::ReadImage { .. }) && err.to_string().contains("missing.png"),
        "{err}"
    );

    let junk = dir.join("junk.png");
    std::fs::write(&junk, b"not an image at all").unwrap();
    let err = Source::from_file(&e, &junk, &opts).unwrap_err();
    assert!(err.to_string().contains("expected a PNG or JPEG"), "{err}");

    // A smooth gradient: no face anywhere.
    let mut blank = RgbImage::new(256, 256);
    for (i, v) in blank.data.iter_mut().enumerate() {
        *v = ((i / 3) % 256) as u8 / 2 + 60;
    }
    let err = Source::from_photo(&e, blank.clone(), &opts).unwrap_err();
    assert!(matches!(err, SynthError::NoFace { .. }), "{err}");
    assert!(err.to_string().contains("no face"), "{err}");

    let err = Source::from_photo(&e, RgbImage::new(8, 8), &opts).unwrap_err();
    assert!(err.to_string().contains("at least 16×16"), "{err}");
    let bad_box = SourceOptions {
        face_box: Some(liveproof_core::geometry::Rect::new(10.0, 10.0, 5.0, 50.0)),
    };
    assert!(Source::from_photo(&e, blank, &bad_box)
        .unwrap_err()
        .to_string()
        .contains("face_box"));

    let src = astronaut();
    for (p, what) in [
        (Params::new(Kind::BonaFide, 1, 0, 30.0), "frames"),
        (Params::new(Kind::BonaFide, 1, 10, 0.0), "fps"),
        (Params::new(Kind::Print, 1, 10, -5.0), "fps"),
        (Params::new(Kind::Replay, 1, 10, f64::NAN), "fps"),
    ] {
        let err = generate(src, &p).unwrap_err();
        println!("{what}: {err}");
        assert!(
            matches!(err, SynthError::InvalidParam { name, .. } if name == what),
            "{err}"
        );
    }
    let mut p = Params::new(Kind::BonaFide, 1, 10, 30.0);
    p.performance
        .events
        .push(Event::head_pose(0.0, 1.0, 90.0, 0.0, 0.0));
    assert!(generate(src, &p)
        .unwrap_err()
        .to_string()
        .contains("yaw 90"));
    assert!("selfie"
        .parse::<Kind>()
        .unwrap_err()
        .to_string()
        .contains("bona_fide, print"));
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn every_kind_reanalyses_with_a_face_on_several_photos() {
    let e = engine();
    let mut sources = vec![("astronaut".to_string(), astronaut().clone())];
    for name in ["newton", "gauss"] {
        let s = Source::from_file(
            &e,
            &fixture(&format!("{name}.png")),
            &SourceOptions::default(),
        )
        .expect(name);
        sources.push((name.to_string(), s));
    }
    // A small face of the 1927 Solvay group photo, found by SCRFD, cropped and enlarged.
    let scrfd = Arc::new(
        Engine::new(EngineConfig {
            max_faces: 40,
            ..config(DetectorKind::Scrfd)
        })
        .expect("scrfd"),
    );
    let img = image::open(fixture("solvay_conference_1927.jpg"))
        .expect("solvay")
        .to_rgb8();
    let (w, h) = img.dimensions();
    let solvay = RgbImage::from_raw(w, h, img.into_raw()).unwrap();
    let mut tracker = Tracker::new(scrfd);
    let f = Frame::contiguous(w, h, PixelFormat::Rgb888, &solvay.data).unwrap();
    let mut boxes: Vec<_> = tracker
        .analyze_still(&f)
        .unwrap()
        .faces
        .iter()
        .map(|f| f.detection.bbox)
        .collect();
    boxes.sort_by(|a, b| b.area().total_cmp(&a.area()));
    let b = boxes[0];
    let s =
        Source::from_photo(&e, solvay, &SourceOptions { face_box: Some(b) }).expect("solvay face");
    println!(
        "solvay face box {:?} → crop {:?} ×{:.1}",
        b.as_array(),
        s.info.crop,
        s.info.crop_scale
    );
    sources.push(("solvay".to_string(), s));

    let frames = 12;
    for (name, src) in &sources {
        let mut line = format!("{name:>9}:");
        for kind in Kind::ALL {
            let c = generate(src, &Params::new(kind, 21, frames, 15.0)).expect("generate");
            let found = track(&frames_of(&c)).iter().filter(|s| s.is_some()).count();
            line += &format!(" {} {found}/{frames}", kind.as_str());
            assert!(
                found * 10 >= frames as usize * 9,
                "{name} {kind:?}: a face in {found}/{frames} frames (need ≥ 90%)"
            );
        }
        println!("{line}");
    }
}

#[test]
fn capture_is_written_labelled_synthetic() {
    let mut p = Params::new(Kind::Replay, 9, 2, 30.0);
    p.width = 160;
    p.height = 208;
    let c = generate(astronaut(), &p).expect("generate");
    let dir = std::env::temp_dir().join(format!("liveproof-synth-out-{}", std::process::id()));
    std::fs::remove_dir_all(&dir).ok();
    let files = write_capture(&c, &dir).expect("write");
    assert_eq!(files.len(), 3);
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("capture.json")).unwrap()).unwrap();
    assert_eq!(json["synthetic"], true);
    assert_eq!(json["label"], "attack");
    assert_eq!(json["kind"], "replay");
    assert_eq!(json["attack_species"], "replay");
    assert_eq!(json["seed"], 9);
    assert_eq!(json["frames"][1]["file"], "frame_0001.png");
    assert_eq!(json["source"]["file"], "astronaut.png");
    assert_eq!(json["source"]["sha256_of"], "file");
    let pitch = json["drawn"]["replay"]["pitch_px"].as_f64().unwrap();
    assert!((0.2..=2.5).contains(&pitch), "pitch {pitch}");
    assert!(
        json["layout"]["screen"]["recording_px"][0]
            .as_u64()
            .unwrap()
            <= 720
    );
    assert!(json["drawn"]["sensor"]["full_well_e"].as_f64().is_some());
    // The PNG itself says so.
    let dec = png::Decoder::new(std::io::BufReader::new(
        std::fs::File::open(dir.join("frame_0000.png")).unwrap(),
    ));
    let reader = dec.read_info().unwrap();
    let comment = reader
        .info()
        .uncompressed_latin1_text
        .iter()
        .find(|t| t.keyword == "Comment")
        .map(|t| t.text.clone())
        .unwrap_or_default();
    assert!(comment.starts_with("SYNTHETIC"), "PNG comment: {comment}");
    // Another folder with foreign files is refused; our own is replaced.
    write_capture(&c, &dir).expect("rewrite our own capture");
    let foreign = dir.join("foreign");
    std::fs::create_dir_all(&foreign).unwrap();
    std::fs::write(foreign.join("notes.txt"), "mine").unwrap();
    let err = write_capture(&c, &foreign).unwrap_err();
    assert!(err.to_string().contains("not empty"), "{err}");
    std::fs::remove_dir_all(&dir).ok();
}

/// Peak-to-median ratio of the luma power spectrum at high frequencies (|f| ≥ 0.25 cycles per
/// pixel) of a 64×64 patch centred between the eyes and the mouth (naive DFT).
fn high_frequency_peak(img: &RgbImage, cx: f64, cy: f64) -> f64 {
    let n = 64usize;
    let (x0, y0) = (
        (cx as i64 - 32).max(0) as usize,
        (cy as i64 - 32).max(0) as usize,
    );
    let mut patch = vec![0.0f64; n * n];
    for y in 0..n {
        for x in 0..n {
            let i = 3
                * ((y0 + y).min(img.height as usize - 1) * img.width as usize
                    + (x0 + x).min(img.width as usize - 1));
            patch[y * n + x] = 0.299 * img.data[i] as f64
                + 0.587 * img.data[i + 1] as f64
                + 0.114 * img.data[i + 2] as f64;
        }
    }
    let m = patch.iter().sum::<f64>() / (n * n) as f64;
    // Hann window against edge leakage.
    let hann: Vec<f64> = (0..n)
        .map(|i| 0.5 - 0.5 * (2.0 * std::f64::consts::PI * i as f64 / n as f64).cos())
        .collect();
    for y in 0..n {
        for x in 0..n {
            patch[y * n + x] = (patch[y * n + x] - m) * hann[x] * hann[y];
        }
    }
    let mut high = Vec::new();
    for v in 0..n {
        for u in 0..n {
            let (fu, fv) = (
                (u as f64).min((n - u) as f64) / n as f64,
                (v as f64).min((n - v) as f64) / n as f64,
            );
            if (fu * fu + fv * fv).sqrt() < 0.25 {
                continue;
            }
            let (mut re, mut im) = (0.0, 0.0);
            for y in 0..n {
                for x in 0..n {
                    let a = -2.0 * std::f64::consts::PI * ((u * x + v * y) % n) as f64 / n as f64;
                    re += patch[y * n + x] * a.cos();
                    im += patch[y * n + x] * a.sin();
                }
            }
            high.push(re * re + im * im);
        }
    }
    high.sort_by(|a, b| a.total_cmp(b));
    high[high.len() - 1] / high[high.len() / 2].max(1e-9)
}

/// The first replay seed (from 1) whose drawn screen pitch satisfies `want`.
fn replay_seed_with_pitch(want: impl Fn(f64) -> bool) -> (u64, f64) {
    (1..200u64)
        .find_map(|seed| {
            let g = Generator::new(astronaut(), &Params::new(Kind::Replay, seed, 1, 30.0))
                .expect("generator");
            let pitch = g.meta().drawn.replay.as_ref().unwrap().pitch_px;
            want(pitch).then_some((seed, pitch))
        })
        .expect("a seed draws it")
}

/// High-frequency peak ratio in the face (between the eyes and the mouth) of the first frame.
fn face_peak_ratio(kind: Kind, seed: u64) -> f64 {
    let c = generate(astronaut(), &Params::new(kind, seed, 1, 30.0)).expect("generate");
    let seen = track(&frames_of(&c));
    let lm = &seen[0].as_ref().expect("face").landmarks;
    let nose = lm[liveproof_core::mesh::idx::NOSE_TIP];
    high_frequency_peak(&c.frames[0].image, nose.x as f64, nose.y as f64 - 10.0)
}

#[test]
fn screen_structure_survives_into_the_face_region_when_the_camera_resolves_the_grid() {
    // The physics requirement of the replay: a screen whose pixel grid the camera resolves
    // (a pitch of about 2 camera pixels: the stripe period near the camera's Nyquist limit) is
    // re-sampled by it, so periodic peaks stand out of the face's high-frequency spectrum; a
    // live face has none. A pitch far below a camera pixel (a phone or tablet of 1,000–2,000
    // pixels across, the common case) is averaged away by the pixel and the lens blur: its
    // face spectrum looks like a live face's, as the real tablet replay of
    // `../shared/data/real-pad/` does.
    let live = face_peak_ratio(Kind::BonaFide, 13);
    let (coarse_seed, coarse_pitch) = replay_seed_with_pitch(|p| p >= 1.9);
    let (fine_seed, fine_pitch) = replay_seed_with_pitch(|p| p <= 0.35);
    let coarse = face_peak_ratio(Kind::Replay, coarse_seed);
    let fine = face_peak_ratio(Kind::Replay, fine_seed);
    println!(
        "high-frequency peak / median power in the face: bona fide {live:.1}; replay pitch \
         {coarse_pitch:.2} camera px (seed {coarse_seed}) {coarse:.1}; replay pitch \
         {fine_pitch:.2} camera px (seed {fine_seed}) {fine:.1}"
    );
    assert!(
        coarse > 3.0 * live,
        "coarse-pitch replay peak ratio {coarse:.1} vs bona fide {live:.1}"
    );
    assert!(
        fine < 0.5 * coarse && fine < 2.0 * live,
        "fine-pitch replay peak ratio {fine:.1} vs coarse {coarse:.1} and bona fide {live:.1}"
    );
}

/// Clipped-white pixels (all channels ≥ 250) in a rendered frame.
fn clipped_white(img: &RgbImage) -> usize {
    img.data
        .chunks_exact(3)
        .filter(|p| p.iter().all(|&v| v >= 250))
        .count()
}

#[test]
fn replay_glare_is_a_sharp_source_image_or_a_soft_veil() {
    use liveproof_synth::replay::GlareKind;
    // Seeds whose glare (forced onto the face) is a bright source image, and a veil.
    let first = |want: &dyn Fn(&liveproof_synth::replay::GlareDraw) -> bool| {
        (1..200u64)
            .find_map(|seed| {
                let mut p = Params::new(Kind::Replay, seed, 1, 30.0);
                p.glare_on_face = true;
                let g = Generator::new(astronaut(), &p).expect("generator");
                let d = g.meta().drawn.replay.clone().unwrap().glare;
                want(&d).then_some(p)
            })
            .expect("a seed draws it")
    };
    let src = first(&|g| g.kind == GlareKind::Source && g.source_level >= 1.5);
    let veil = first(&|g| g.kind == GlareKind::Veil);
    let c = generate(astronaut(), &src).expect("generate");
    let d = c.meta.drawn.replay.as_ref().unwrap();
    let screen = c.meta.layout.screen.as_ref().unwrap();
    let g = &d.glare;
    // The source's image, in camera pixels: π · a · b with a = radius × screen width.
    let a = g.source_radius_frac * screen.screen_px[0] as f64 * d.pitch_px;
    let area = std::f64::consts::PI * a * (a / g.elongation);
    let clipped = clipped_white(&c.frames[0].image) as f64;
    println!(
        "source image {:.2}× white: {clipped} clipped px, ellipse {area:.0} px",
        g.source_level
    );
    // Brighter than white: it clips over most of its area (the exposure, the content beneath
    // and the tilt of the screen change the exact figure).
    assert!(
        clipped > 0.3 * area && clipped < 2.0 * area,
        "source {g:?}: {clipped} clipped px vs ellipse {area:.0} px"
    );
    // A veil (at most 60 % of white, spread smoothly) leaves far less clipped.
    let c = generate(astronaut(), &veil).expect("generate");
    let g = &c.meta.drawn.replay.as_ref().unwrap().glare;
    let clipped_veil = clipped_white(&c.frames[0].image) as f64;
    println!("veil {:.2}× white: {clipped_veil} clipped px", g.strength);
    assert!(
        clipped_veil < 0.1 * area.max(1000.0),
        "veil {g:?}: {clipped_veil} clipped px"
    );
}
