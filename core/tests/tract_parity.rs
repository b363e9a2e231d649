//! The tract backend against ONNX Runtime on the same tensors.
//!
//! The inputs are the engine's own: a recording runner sits between the engine and ONNX Runtime
//! while the engine analyses the public-domain fixture photos, so the detector and FaceMesh
//! see exactly the tensors a frame gives them (the engine's conversion and 192×192 warp), and
//! the embedders see the aligned crops `Embedder::embed` makes from those landmarks. Each
//! recorded tensor then goes through both backends.
//!
//! Tolerances: FaceMesh landmarks ≤ 0.05 % NME, normalised by the ORT output's inter-ocular
//! distance (outer eye corners 33 and 263) in the 192×192 crop; detector scores within 1e-4
//! after the sigmoid and box/keypoint regressors within 0.01 px of the 128 px input (a
//! hundredth of a pixel, far below the detector's own jitter); embeddings cosine ≥ 0.9999 to
//! ORT's (they are unit-normalised and compared by cosine at thresholds ≥ 0.3 apart).
//! Every other manifest model tract loads is compared on a SYNTHETIC deterministic input.

#![cfg(all(feature = "tract", feature = "ort"))]

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use liveproof_core::engine::{Engine, EngineConfig, Tracker};
use liveproof_core::frame::{Frame, PixelFormat, RgbImage};
use liveproof_core::matching::{five_points_from_mesh, Embedder};
use liveproof_core::models::{
    Backend, Manifest, ModelError, ModelRunner, ModelSpec, ModelStore, StoreConfig, TensorIn,
    TensorOut,
};

/// A runner that keeps a copy of every input it is given, then runs the real model.
struct Recorder {
    inner: Arc<dyn ModelRunner>,
    seen: Mutex<Vec<Vec<(Vec<f32>, Vec<usize>)>>>,
}

impl ModelRunner for Recorder {
    fn spec(&self) -> &ModelSpec {
        self.inner.spec()
    }
    fn run(&self, inputs: &[TensorIn<'_>], outputs: &mut Vec<TensorOut>) -> Result<(), ModelError> {
        self.seen.lock().unwrap().push(
            inputs
                .iter()
                .map(|t| (t.data.to_vec(), t.shape.to_vec()))
                .collect(),
        );
        self.inner.run(inputs, outputs)
    }
}

fn record(inner: Arc<dyn ModelRunner>) -> Arc<Recorder> {
    Arc::new(Recorder {
        inner,
        seen: Mutex::new(Vec::new()),
    })
}

fn env_dir(var: &str) -> Option<PathBuf> {
    std::env::var_os(var)
        .map(PathBuf::from)
        .filter(|p| p.is_dir())
}

/// The two stores, or why the test cannot run here.
fn stores() -> Result<(ModelStore, ModelStore, PathBuf), String> {
    let models = env_dir("LIVEPROOF_MODELS_DIR").ok_or("LIVEPROOF_MODELS_DIR unset or missing")?;
    let fixtures =
        env_dir("LIVEPROOF_FIXTURES_DIR").ok_or("LIVEPROOF_FIXTURES_DIR unset or missing")?;
    let runtime = std::env::var_os("ORT_DYLIB_PATH")
        .map(PathBuf::from)
        .filter(|p| p.is_file())
        .ok_or("ORT_DYLIB_PATH unset or missing (ONNX Runtime is the reference)")?;
    let config = StoreConfig {
        models_dir: models,
        runtime_path: Some(runtime),
        intra_op_threads: 1,
        overrides: Vec::new(),
    };
    let ort = ModelStore::with_backend(config.clone(), Backend::Ort).map_err(|e| e.to_string())?;
    let tract = ModelStore::with_backend(config, Backend::Tract).map_err(|e| e.to_string())?;
    for name in ["blazeface_front", "face_landmark"] {
        let (_, path) = ort.resolve(name).map_err(|e| e.to_string())?;
        if !path.is_file() {
            return Err(format!(
                "{} missing (run `cargo xtask setup`)",
                path.display()
            ));
        }
    }
    Ok((ort, tract, fixtures))
}

fn load_rgb(path: &Path) -> RgbImage {
    let img = image::open(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .to_rgb8();
    RgbImage::from_raw(img.width(), img.height(), img.into_raw()).unwrap()
}

fn run(runner: &dyn ModelRunner, inputs: &[(Vec<f32>, Vec<usize>)]) -> Vec<TensorOut> {
    let ins: Vec<TensorIn<'_>> = inputs
        .iter()
        .map(|(d, s)| TensorIn { data: d, shape: s })
        .collect();
    let mut out = Vec::new();
    runner
        .run(&ins, &mut out)
        .unwrap_or_else(|e| panic!("{}: {e}", runner.spec().name));
    out
}

fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

fn max_abs(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

fn cosine(a: &[f32], b: &[f32]) -> f64 {
    let dot: f64 = a.iter().zip(b).map(|(x, y)| *x as f64 * *y as f64).sum();
    let na: f64 = a.iter().map(|x| (*x as f64).powi(2)).sum::<f64>().sqrt();
    let nb: f64 = b.iter().map(|x| (*x as f64).powi(2)).sum::<f64>().sqrt();
    dot / (na * nb)
}

/// FaceMesh NME: mean 2-D point distance over the 468 points, divided by the reference's
/// inter-ocular distance (outer eye corners 33 and 263), all in crop pixels.
fn mesh_nme(reference: &[f32], other: &[f32]) -> f64 {
    let p = |v: &[f32], i: usize| (v[3 * i] as f64, v[3 * i + 1] as f64);
    let (l, r) = (p(reference, 33), p(reference, 263));
    let iod = ((l.0 - r.0).powi(2) + (l.1 - r.1).powi(2)).sqrt();
    let n = reference.len() / 3;
    let sum: f64 = (0..n)
        .map(|i| {
            let (a, b) = (p(reference, i), p(other, i));
            ((a.0 - b.0).powi(2) + (a.1 - b.1).powi(2)).sqrt()
        })
        .sum();
    sum / n as f64 / iod
}

#[test]
fn tract_matches_onnx_runtime_on_the_engines_own_tensors() {
    let (ort, tract, fixtures) = match stores() {
        Ok(s) => s,
        Err(why) => {
            println!("skipped: {why}");
            return;
        }
    };
    let config = EngineConfig {
        models_dir: ort.config().models_dir.clone(),
        runtime_path: ort.config().runtime_path.clone(),
        ..EngineConfig::default()
    };
    let det = record(ort.get("blazeface_front").unwrap());
    let mesh = record(ort.get("face_landmark").unwrap());
    let engine = Engine::with_runners(config.clone(), det.clone(), mesh.clone()).unwrap();
    let mut tracker = Tracker::new(Arc::new(engine));
    let tract_engine = Engine::with_runners(
        config,
        tract.get("blazeface_front").unwrap(),
        tract.get("face_landmark").unwrap(),
    )
    .unwrap();
    let mut tract_tracker = Tracker::new(Arc::new(tract_engine));

    let embedders: Vec<&str> = ["fr_feature", "mobilefacenet", "w600k_mbf"]
        .into_iter()
        .filter(|n| ort.resolve(n).map(|(_, p)| p.is_file()).unwrap_or(false))
        .collect();
    let mut faces = 0;
    for name in ["astronaut.png", "newton.png", "gauss.png"] {
        let path = fixtures.join(name);
        if !path.is_file() {
            println!("{name}: not in the fixtures folder, left out");
            continue;
        }
        let img = load_rgb(&path);
        let frame =
            Frame::contiguous(img.width, img.height, PixelFormat::Rgb888, &img.data).unwrap();
        let a = tracker.analyze_still(&frame).unwrap().clone();
        let b = tract_tracker.analyze_still(&frame).unwrap().clone();
        assert_eq!(a.faces.len(), b.faces.len(), "{name}: faces found");
        for (fa, fb) in a.faces.iter().zip(&b.faces) {
            let d = |x: f32, y: f32| (x - y).abs();
            let (ba, bb) = (fa.detection.bbox, fb.detection.bbox);
            let box_err = d(ba.x_min, bb.x_min)
                .max(d(ba.y_min, bb.y_min))
                .max(d(ba.x_max, bb.x_max))
                .max(d(ba.y_max, bb.y_max));
            println!(
                "{name}: engine box max |Δ| {box_err:.2e} px, score Δ {:.2e}",
                d(fa.detection.score, fb.detection.score)
            );
            assert!(box_err < 0.05, "{name}: box {ba:?} vs {bb:?}");
        }
        faces += a.faces.len();

        for (emb_name, face) in embedders
            .iter()
            .flat_map(|e| a.faces.iter().map(move |f| (e, f)))
        {
            let pts = five_points_from_mesh(&face.landmarks).unwrap();
            let rec = record(ort.get(emb_name).unwrap());
            let mut e_ort = Embedder::new(rec.clone()).unwrap();
            let mut e_tract = Embedder::new(tract.get(emb_name).unwrap()).unwrap();
            let va = e_ort.embed(&img, &pts).unwrap().vector;
            let vb = e_tract.embed(&img, &pts).unwrap().vector;
            let c = cosine(&va, &vb);
            println!("{name}: {emb_name} embedding cosine(ORT, tract) = {c:.7}");
            assert!(c >= 0.9999, "{name}: {emb_name} cosine {c}");
            // The raw outputs on the recorded crop, too (before the embedder normalises).
            for inputs in rec.seen.lock().unwrap().iter() {
                let oa = run(&*ort.get(emb_name).unwrap(), inputs);
                let ob = run(&*tract.get(emb_name).unwrap(), inputs);
                assert!(cosine(&oa[0].data, &ob[0].data) >= 0.9999);
            }
        }
    }
    assert!(faces > 0, "no face found in the fixtures");

    let det_seen = det.seen.lock().unwrap().clone();
    assert!(!det_seen.is_empty());
    for inputs in &det_seen {
        let oa = run(&*ort.get("blazeface_front").unwrap(), inputs);
        let ob = run(&*tract.get("blazeface_front").unwrap(), inputs);
        let mut score = 0f32;
        for i in [0, 1] {
            let sa: Vec<f32> = oa[i].data.iter().map(|&x| sigmoid(x)).collect();
            let sb: Vec<f32> = ob[i].data.iter().map(|&x| sigmoid(x)).collect();
            score = score.max(max_abs(&sa, &sb));
        }
        let reg = max_abs(&oa[2].data, &ob[2].data).max(max_abs(&oa[3].data, &ob[3].data));
        println!("blazeface_front: score max |Δ| {score:.2e}, regressors max |Δ| {reg:.2e} px");
        assert!(score <= 1e-4, "detector scores {score}");
        assert!(reg <= 0.01, "detector regressors {reg} px");
    }

    let mesh_seen = mesh.seen.lock().unwrap().clone();
    assert!(!mesh_seen.is_empty());
    for inputs in &mesh_seen {
        let oa = run(&*ort.get("face_landmark").unwrap(), inputs);
        let ob = run(&*tract.get("face_landmark").unwrap(), inputs);
        let nme = mesh_nme(&oa[0].data, &ob[0].data);
        let presence = (sigmoid(oa[1].data[0]) - sigmoid(ob[1].data[0])).abs();
        println!(
            "face_landmark: NME {:.5} % of the inter-ocular distance, presence |Δ| {presence:.2e}",
            nme * 100.0
        );
        assert!(nme <= 0.0005, "FaceMesh NME {nme}");
        assert!(presence <= 1e-4, "presence {presence}");
    }
}

/// Which manifest models tract loads, and for those that load, agreement with ONNX Runtime on a
/// SYNTHETIC deterministic input (a smooth pattern in the model's input range).
#[test]
fn every_manifest_model_tract_loads_agrees_with_onnx_runtime() {
    let (ort, tract, _) = match stores() {
        Ok(s) => s,
        Err(why) => {
            println!("skipped: {why}");
            return;
        }
    };
    let manifest = Manifest::embedded().unwrap();
    let mut loaded = 0;
    for spec in manifest.models.values() {
        let Ok((_, path)) = ort.resolve(&spec.name) else {
            println!("{}: not distributed (user supplied), left out", spec.name);
            continue;
        };
        if !path.is_file() {
            println!("{}: file missing, left out", spec.name);
            continue;
        }
        let t = match tract.get(&spec.name) {
            Ok(t) => t,
            Err(e) => {
                println!("{}: tract does NOT load it: {e}", spec.name);
                continue;
            }
        };
        let o = ort.get(&spec.name).unwrap();
        loaded += 1;
        let inputs: Vec<(Vec<f32>, Vec<usize>)> = spec
            .inputs
            .iter()
            .map(|d| {
                // -1 dims: batch 1, spatial 64.
                let shape: Vec<usize> = d
                    .shape
                    .iter()
                    .enumerate()
                    .map(|(i, &s)| {
                        if s >= 0 {
                            s as usize
                        } else if i == 0 {
                            1
                        } else {
                            64
                        }
                    })
                    .collect();
                let (mean, std) = spec
                    .preprocess
                    .as_ref()
                    .map(|p| (p.mean[0], p.std[0]))
                    .unwrap_or((0.0, 1.0));
                let n: usize = shape.iter().product();
                let data = (0..n)
                    .map(|i| {
                        let v = 127.5
                            + 100.0 * ((i as f32) * 0.013).sin() * ((i as f32) * 0.0007).cos();
                        (v - mean) / std
                    })
                    .collect();
                (data, shape)
            })
            .collect();
        let oa = run(&*o, &inputs);
        let ins: Vec<TensorIn<'_>> = inputs
            .iter()
            .map(|(d, s)| TensorIn { data: d, shape: s })
            .collect();
        let mut ob = Vec::new();
        if let Err(e) = t.run(&ins, &mut ob) {
            // Only a model whose manifest leaves a dim dynamic may fail here: tract plans for
            // the shapes it knows at load.
            let dynamic = spec.inputs.iter().any(|d| d.shape.contains(&-1));
            assert!(dynamic, "{}: fixed shapes, yet tract fails: {e}", spec.name);
            println!(
                "{}: tract loads but cannot run it (dynamic dims): {e}",
                spec.name
            );
            continue;
        }
        let mut worst = 0f32;
        for (a, b) in oa.iter().zip(&ob) {
            assert_eq!(a.data.len(), b.data.len(), "{}", spec.name);
            let scale = a.data.iter().fold(0f32, |m, x| m.max(x.abs())).max(1e-6);
            worst = worst.max(max_abs(&a.data, &b.data) / scale);
        }
        println!(
            "{}: tract loads; SYNTHETIC input, max |Δ| / max |ORT| = {worst:.2e}",
            spec.name
        );
        assert!(worst <= 1e-3, "{}: {worst}", spec.name);
    }
    assert!(loaded > 0);
}
