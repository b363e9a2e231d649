//! The `liveproof` binary end to end: JSON schema of `inspect` and `inspect --track`, the human
//! summary, `--draw`, and a clear error for a bad set-up.

mod common;

use std::process::Command;

use liveproof_tests::{fixture, models_dir, ort_lib};
use serde_json::Value;

fn liveproof(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_liveproof"))
        .args([
            "--models-dir",
            models_dir().to_str().unwrap(),
            "--ort-lib",
            ort_lib().to_str().unwrap(),
        ])
        .args(args)
        .output()
        .expect("running liveproof")
}

fn json_of(out: &std::process::Output) -> Value {
    assert!(
        out.status.success(),
        "liveproof failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON on stdout")
}

#[test]
fn inspect_json_has_the_documented_fields() {
    let astro = fixture("astronaut.png");
    let v = json_of(&liveproof(&["inspect", astro.to_str().unwrap(), "--json"]));
    let img = &v["images"][0];
    let face = &img["faces"][0];
    let b: Vec<f64> = face["box"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect();
    assert_eq!(b.len(), 4);
    assert!(b[0] < b[2] && b[1] < b[3], "box {b:?}");
    assert!(face["score"].as_f64().unwrap() > 0.5);
    assert_eq!(face["keypoints"].as_array().unwrap().len(), 6);
    let lm = face["landmarks"].as_array().unwrap();
    assert_eq!(lm.len(), 468);
    assert_eq!(lm[0].as_array().unwrap().len(), 3);
    // Landmarks in image pixels: inside the 512×512 image.
    for p in lm {
        let (x, y) = (p[0].as_f64().unwrap(), p[1].as_f64().unwrap());
        assert!((0.0..512.0).contains(&x) && (0.0..512.0).contains(&y));
    }
    let q = &face["quality"];
    assert!(q["checks"]["image"]["sharpness"]["value"].as_f64().unwrap() > 0.0);
    assert!(
        q["checks"]["image"]["sharpness"]["verdict"].is_string()
            || q["checks"]["image"]["sharpness"]["verdict"].is_object()
    );
    assert!(q["hints"].is_array());
    for stage in ["convert", "detect", "mesh", "quality", "total", "decode"] {
        assert!(
            img["timings_ms"][stage].as_f64().unwrap() >= 0.0,
            "timings_ms.{stage}"
        );
    }
}

#[test]
fn inspect_track_summarises_a_frame_folder() {
    let dir = std::env::temp_dir().join(format!("lp-cli-track-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let img = image::open(fixture("astronaut.png")).unwrap().to_rgb8();
    for i in 0..10u32 {
        let shifted = image::imageops::crop_imm(&img, i * 2, 0, 480, 480).to_image();
        shifted.save(dir.join(format!("f{i:03}.png"))).unwrap();
    }
    let v = json_of(&liveproof(&[
        "inspect",
        "--track",
        dir.to_str().unwrap(),
        "--json",
    ]));
    let frames = v["frames"].as_array().unwrap();
    assert_eq!(frames.len(), 10);
    assert!(frames
        .iter()
        .all(|f| f["faces"].as_array().unwrap().len() == 1));
    let s = &v["summary"];
    assert_eq!(s["frames"], 10);
    assert_eq!(
        s["detections"], 1,
        "tracking: the detector runs once in 10 frames"
    );
    let (median, p95) = (
        s["median_ms"].as_f64().unwrap(),
        s["p95_ms"].as_f64().unwrap(),
    );
    assert!(median > 0.0 && p95 >= median, "median {median} p95 {p95}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn human_output_and_draw() {
    let out_png = std::env::temp_dir().join(format!("lp-cli-draw-{}.png", std::process::id()));
    let newton = fixture("newton.png");
    let out = liveproof(&[
        "inspect",
        newton.to_str().unwrap(),
        "--draw",
        out_png.to_str().unwrap(),
    ]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("1 face(s)") && text.contains("468 landmarks"),
        "{text}"
    );
    let drawn = image::open(&out_png).unwrap().to_rgb8();
    let orig = image::open(&newton).unwrap().to_rgb8();
    assert_eq!(drawn.dimensions(), orig.dimensions());
    let changed = drawn
        .pixels()
        .zip(orig.pixels())
        .filter(|(a, b)| a != b)
        .count();
    assert!(changed > 468, "only {changed} pixels drawn");
    std::fs::remove_file(&out_png).ok();
}

#[test]
fn missing_runtime_is_a_clear_error() {
    let out = Command::new(env!("CARGO_BIN_EXE_liveproof"))
        .args([
            "--models-dir",
            models_dir().to_str().unwrap(),
            "--ort-lib",
            "/nonexistent/libonnxruntime.so",
        ])
        .args(["inspect", fixture("astronaut.png").to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("ONNX Runtime library not found at /nonexistent/libonnxruntime.so"),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
}

/// A SYNTHETIC bona fide capture (liveproof-synth) of the astronaut, written as a frame folder
/// with its `capture.json`.
fn synthetic_capture(name: &str, frames: u32) -> std::path::PathBuf {
    use liveproof_synth::{Kind, Params};
    let dir = std::env::temp_dir().join(format!("lp-cli-{name}-{}", std::process::id()));
    common::write_astronaut_capture(&Params::new(Kind::BonaFide, 3, frames, 30.0), &dir);
    dir
}

#[test]
fn inspect_passive_reports_every_signal() {
    let dir = synthetic_capture("passive", 20);
    let v = json_of(&liveproof(&[
        "inspect",
        "--passive",
        dir.to_str().unwrap(),
        "--depth-standin",
        "--json",
    ]));
    assert_eq!(v["frames"], 20);
    assert_eq!(v["frames_with_face"], 20);
    let p = &v["passive"];
    for name in ["depth", "fft", "reflection", "parallax", "texture"] {
        let s = &p[name];
        assert!(s["available"].is_boolean(), "{name}: {s}");
        assert!(s["features"].is_object(), "{name}: {s}");
        if s["available"] == true {
            let score = s["score"].as_f64().unwrap();
            assert!((0.0..=1.0).contains(&score), "{name}: score {score}");
        } else {
            assert!(s["score"].is_null() && !s["reason"].as_str().unwrap().is_empty());
        }
    }
    // 20 frames (0.67 s) of a synthetic head with idle motion: FFT and reflection are scored.
    for name in ["fft", "reflection"] {
        assert_eq!(p[name]["available"], true, "{name}: {}", p[name]);
    }
    // Parallax needs motion the image confirms (a few degrees); in two thirds of a second the
    // idle head may not turn that far, and then it says so with both measurements.
    let par = &p["parallax"];
    assert!(par["features"]["max_image_motion"].is_number(), "{par}");
    assert!(
        par["available"] == true
            || par["reason"]
                .as_str()
                .unwrap()
                .contains("not enough out-of-plane motion"),
        "{par}"
    );
    // The stand-in depth model is labelled as such in the result.
    assert_eq!(
        p["depth"]["features"]["stand_in_model"], 1.0,
        "{}",
        p["depth"]
    );

    // Without a depth model: depth is not available, with the reason; the rest still runs.
    let v = json_of(&liveproof(&[
        "inspect",
        "--passive",
        dir.to_str().unwrap(),
        "--json",
    ]));
    let d = &v["passive"]["depth"];
    assert_eq!(d["available"], false);
    assert!(
        d["reason"].as_str().unwrap().contains("not distributed"),
        "{d}"
    );
    assert_eq!(v["passive"]["fft"]["available"], true);
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn inspect_passive_rejects_bad_windows() {
    // An empty folder.
    let empty = std::env::temp_dir().join(format!("lp-cli-empty-{}", std::process::id()));
    std::fs::create_dir_all(&empty).unwrap();
    let out = liveproof(&["inspect", "--passive", empty.to_str().unwrap(), "--json"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no PNG or JPEG frames"), "{err}");
    // Frames of different sizes in one capture.
    let dir = synthetic_capture("mixed", 3);
    let small = image::RgbImage::new(64, 48);
    small.save(dir.join("frame_0003.png")).unwrap();
    let out = liveproof(&["inspect", "--passive", dir.to_str().unwrap(), "--json"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("differs from the first frame"), "{err}");
    // A depth override with a wrong sha256 fails the load with a clear reason.
    std::fs::remove_file(dir.join("frame_0003.png")).unwrap();
    let fake = dir.join("fake_depth.onnx");
    std::fs::write(&fake, b"not a model").unwrap();
    let v = json_of(&liveproof(&[
        "inspect",
        "--passive",
        dir.to_str().unwrap(),
        "--depth-model",
        fake.to_str().unwrap(),
        "--depth-sha256",
        &"0".repeat(64),
        "--json",
    ]));
    let d = &v["passive"]["depth"];
    assert_eq!(d["available"], false);
    assert!(d["reason"].as_str().unwrap().contains("sha256"), "{d}");
    // A window too short for parallax says so.
    assert_eq!(v["passive"]["parallax"]["available"], false);
    assert!(v["passive"]["parallax"]["reason"]
        .as_str()
        .unwrap()
        .contains("window too short"));
    std::fs::remove_dir_all(&dir).ok();
    std::fs::remove_dir_all(&empty).ok();
}

#[test]
fn challenge_passes_the_performed_plan_and_fails_another_seed() {
    use liveproof_core::active::{derive_plan, PlanPolicy};
    // A seed whose plan has no BLINK (FaceMesh's EAR misses some rendered blinks).
    let (seed, plan) = common::seed_without_blink(&PlanPolicy::default());
    let dir = std::env::temp_dir().join(format!("lp-cli-challenge-{}", std::process::id()));
    common::performed_capture(&plan, 1.0, &dir);

    let hex_seed: String = seed.iter().map(|b| format!("{b:02x}")).collect();
    let v = json_of(&liveproof(&[
        "challenge",
        "--seed",
        &hex_seed,
        dir.to_str().unwrap(),
        "--json",
    ]));
    assert_eq!(v["passed"], true, "{v}");
    assert_eq!(v["reason"], "ok");
    assert_eq!(v["plan"].as_array().unwrap().len(), plan.steps.len());
    assert_eq!(v["steps"].as_array().unwrap().len(), plan.steps.len());
    // The same capture against another seed's plan fails (replay of a capture made for
    // another session).
    assert_ne!(
        derive_plan(&[0x5a; 32], &PlanPolicy::default()).unwrap(),
        plan,
        "pick another seed"
    );
    let other: String = [0x5au8; 32].iter().map(|b| format!("{b:02x}")).collect();
    let v = json_of(&liveproof(&[
        "challenge",
        "--seed",
        &other,
        dir.to_str().unwrap(),
        "--json",
    ]));
    assert_eq!(v["passed"], false, "{v}");
    assert!(!v["reason"].as_str().unwrap().is_empty());
    // A malformed seed is a clear error.
    let out = liveproof(&["challenge", "--seed", "abc", dir.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("64 hex digits"));
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn enroll_then_match_prints_similarity_and_band() {
    let dir = std::env::temp_dir().join(format!("lp-cli-match-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let t = dir.join("astronaut.json");
    let astro = fixture("astronaut.png");
    let out = liveproof(&["enroll", astro.to_str().unwrap(), "-o", t.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let template: Value = serde_json::from_str(&std::fs::read_to_string(&t).unwrap()).unwrap();
    assert_eq!(template["format"], 1);
    assert_eq!(template["model"], "fr_feature");
    assert_eq!(template["embedding"].as_array().unwrap().len(), 512);
    let newton = fixture("newton.png");
    let out = liveproof(&[
        "match",
        t.to_str().unwrap(),
        astro.to_str().unwrap(),
        newton.to_str().unwrap(),
        "--json",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let r = v["results"].as_array().unwrap();
    assert_eq!(r[0]["band"], "match");
    assert!(r[0]["similarity"].as_f64().unwrap() > 0.99);
    assert_eq!(r[1]["band"], "no_match");
    assert!(r[1]["similarity"].as_f64().unwrap() < 0.5);
    // Thresholds that make no sense, a broken template, an image without a face: clear errors.
    let out = liveproof(&[
        "match",
        t.to_str().unwrap(),
        astro.to_str().unwrap(),
        "--match-at",
        "0.2",
        "--no-match-below",
        "0.5",
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no_match_below"));
    let bad = dir.join("bad.json");
    std::fs::write(&bad, r#"{"format": 1}"#).unwrap();
    let out = liveproof(&["match", bad.to_str().unwrap(), astro.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a LiveProof face template"));
    let blank = dir.join("blank.png");
    image::RgbImage::from_pixel(64, 64, image::Rgb([128, 128, 128]))
        .save(&blank)
        .unwrap();
    let out = liveproof(&["match", t.to_str().unwrap(), blank.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no face found"));
    std::fs::remove_dir_all(&dir).ok();
}
