//! ONNX Runtime against tract, per model and per tracked frame, side by side in one run.
//!
//! Each model is loaded by both backends (1 thread each) and the two are called alternately,
//! one call each per round, on the same input, so the machine's noise falls on both alike.
//! Medians and p95 per backend and the ratio of medians (tract / ORT) are printed as a
//! markdown table. The detector and FaceMesh get the tensors the engine itself makes from the
//! public-domain astronaut photo (a recording runner catches them); the other models get a
//! SYNTHETIC smooth input of their declared shape (a CNN's time does not depend on the values).
//! Then whole frames: `Tracker::process` on an RGB 640×480 frame, one engine per backend,
//! alternating frame by frame.
//!
//! `cargo bench -p liveproof-core --features tract --bench backends` (needs set-up's models,
//! fixtures and ONNX Runtime: LIVEPROOF_MODELS_DIR, LIVEPROOF_FIXTURES_DIR, ORT_DYLIB_PATH).
//! LIVEPROOF_BENCH_SECONDS sets the time budget per row (default 4).

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use liveproof_core::engine::{Engine, EngineConfig, Tracker};
use liveproof_core::frame::{Frame, PixelFormat, RgbImage};
use liveproof_core::models::{
    Backend, ModelError, ModelRunner, ModelSpec, ModelStore, StoreConfig, TensorIn, TensorOut,
};

type Inputs = Vec<(Vec<f32>, Vec<usize>)>;

/// Keeps the last input a real runner was given.
struct Recorder {
    inner: Arc<dyn ModelRunner>,
    last: Mutex<Option<Inputs>>,
}

impl ModelRunner for Recorder {
    fn spec(&self) -> &ModelSpec {
        self.inner.spec()
    }
    fn run(&self, inputs: &[TensorIn<'_>], outputs: &mut Vec<TensorOut>) -> Result<(), ModelError> {
        *self.last.lock().unwrap() = Some(
            inputs
                .iter()
                .map(|t| (t.data.to_vec(), t.shape.to_vec()))
                .collect(),
        );
        self.inner.run(inputs, outputs)
    }
}

fn dir(var: &str) -> PathBuf {
    PathBuf::from(std::env::var_os(var).unwrap_or_else(|| panic!("{var} is not set")))
}

/// The astronaut photo's upper 512×384 (face in view) scaled to 640×480, as in the pipeline
/// bench.
fn frame_640x480() -> RgbImage {
    let path = dir("LIVEPROOF_FIXTURES_DIR").join("astronaut.png");
    let img = image::open(&path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .to_rgb8();
    let crop = image::imageops::crop_imm(&img, 0, 0, 512, 384).to_image();
    let out = image::imageops::resize(&crop, 640, 480, image::imageops::FilterType::Triangle);
    RgbImage::from_raw(640, 480, out.into_raw()).unwrap()
}

fn synthetic(spec: &ModelSpec) -> Inputs {
    spec.inputs
        .iter()
        .map(|d| {
            let shape: Vec<usize> = d
                .shape
                .iter()
                .enumerate()
                .map(|(i, &s)| match s {
                    s if s >= 0 => s as usize,
                    _ if i == 0 => 1,
                    _ => 256,
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
                    let v = 127.5 + 100.0 * ((i as f32) * 0.013).sin();
                    (v - mean) / std
                })
                .collect();
            (data, shape)
        })
        .collect()
}

struct Stats {
    median: f64,
    p95: f64,
}

fn stats(mut ms: Vec<f64>) -> Stats {
    ms.sort_by(|a, b| a.total_cmp(b));
    let at = |q: f64| ms[((ms.len() - 1) as f64 * q).round() as usize];
    Stats {
        median: at(0.5),
        p95: at(0.95),
    }
}

/// Calls `a` and `b` alternately until the budget is spent (at least 15 rounds), after two
/// warm-up calls each; per-call milliseconds.
fn alternate(budget: Duration, mut a: impl FnMut(), mut b: impl FnMut()) -> (Stats, Stats, usize) {
    for _ in 0..2 {
        a();
        b();
    }
    let (mut ta, mut tb) = (Vec::new(), Vec::new());
    let start = Instant::now();
    while ta.len() < 15 || (start.elapsed() < budget && ta.len() < 2000) {
        let t = Instant::now();
        a();
        ta.push(t.elapsed().as_secs_f64() * 1e3);
        let t = Instant::now();
        b();
        tb.push(t.elapsed().as_secs_f64() * 1e3);
    }
    let n = ta.len();
    (stats(ta), stats(tb), n)
}

fn row(name: &str, (o, t, n): (Stats, Stats, usize), input: &str) {
    println!(
        "| {name} | {input} | {:.3} | {:.3} | {:.3} | {:.3} | {:.2}× | {n} |",
        o.median,
        o.p95,
        t.median,
        t.p95,
        t.median / o.median
    );
}

fn main() {
    // `cargo bench` passes `--bench`; a filter argument picks rows by substring.
    let filter: Option<String> = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    let budget = Duration::from_secs_f64(
        std::env::var("LIVEPROOF_BENCH_SECONDS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(4.0),
    );
    let config = StoreConfig {
        models_dir: dir("LIVEPROOF_MODELS_DIR"),
        runtime_path: Some(dir("ORT_DYLIB_PATH")),
        intra_op_threads: 1,
        overrides: Vec::new(),
    };
    let ort = ModelStore::with_backend(config.clone(), Backend::Ort).unwrap();
    let tract = ModelStore::with_backend(config.clone(), Backend::Tract).unwrap();
    let engine_config = EngineConfig {
        models_dir: config.models_dir.clone(),
        runtime_path: config.runtime_path.clone(),
        ..EngineConfig::default()
    };

    // The engine's own detector and FaceMesh tensors for the bench frame.
    let img = frame_640x480();
    let rec = |name: &str| {
        Arc::new(Recorder {
            inner: ort.get(name).unwrap(),
            last: Mutex::new(None),
        })
    };
    let (det, mesh) = (rec("blazeface_front"), rec("face_landmark"));
    let engine = Engine::with_runners(engine_config.clone(), det.clone(), mesh.clone()).unwrap();
    let frame = Frame::contiguous(640, 480, PixelFormat::Rgb888, &img.data).unwrap();
    let found = Tracker::new(Arc::new(engine))
        .analyze_still(&frame)
        .unwrap()
        .faces
        .len();
    assert!(found > 0, "no face in the bench frame");
    let mut real = std::collections::BTreeMap::new();
    real.insert("blazeface_front", det.last.lock().unwrap().clone().unwrap());
    real.insert("face_landmark", mesh.last.lock().unwrap().clone().unwrap());

    println!(
        "| model | input | ORT median ms | ORT p95 ms | tract median ms | tract p95 ms | tract/ORT | rounds |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    let names: Vec<String> = ort.manifest().models.keys().cloned().collect();
    for name in &names {
        if filter.as_deref().is_some_and(|f| !name.contains(f)) {
            continue;
        }
        let Ok((spec, path)) = ort.resolve(name) else {
            continue;
        };
        if !path.is_file() {
            continue;
        }
        let (o, t) = match (ort.get(name), tract.get(name)) {
            (Ok(o), Ok(t)) => (o, t),
            (_, Err(e)) | (Err(e), _) => {
                println!("| {name} | – | – | – | – | – | not loaded: {e} | – |");
                continue;
            }
        };
        let (inputs, label) = match real.get(name.as_str()) {
            Some(i) => (i.clone(), "engine tensor, astronaut"),
            None => (synthetic(&spec), "SYNTHETIC"),
        };
        let ins: Vec<TensorIn<'_>> = inputs
            .iter()
            .map(|(d, s)| TensorIn { data: d, shape: s })
            .collect();
        let (mut out_o, mut out_t) = (Vec::new(), Vec::new());
        if let Err(e) = t.run(&ins, &mut out_t) {
            println!("| {name} | {label} | – | – | – | – | tract cannot run it: {e} | – |");
            continue;
        }
        let r = alternate(
            budget,
            || o.run(&ins, &mut out_o).unwrap(),
            || t.run(&ins, &mut out_t).unwrap(),
        );
        row(name, r, label);
    }

    if filter.as_deref().is_none_or(|f| "tracking".contains(f)) {
        let make = |store: &ModelStore| {
            let e = Engine::with_runners(
                EngineConfig {
                    recount_faces_every: 0,
                    ..engine_config.clone()
                },
                store.get("blazeface_front").unwrap(),
                store.get("face_landmark").unwrap(),
            )
            .unwrap();
            Tracker::new(Arc::new(e))
        };
        let (mut to, mut tt) = (make(&ort), make(&tract));
        let (mut tso, mut tst) = (0u64, 0u64);
        let step = |tr: &mut Tracker, ts: &mut u64| {
            *ts += 33_333_333;
            let f = Frame::contiguous(640, 480, PixelFormat::Rgb888, &img.data)
                .unwrap()
                .with_timestamp_ns(*ts);
            assert_eq!(tr.process(&f).unwrap().faces.len(), 1);
        };
        let r = alternate(
            budget,
            || step(&mut to, &mut tso),
            || step(&mut tt, &mut tst),
        );
        row(
            "whole frame: Tracker::process, tracking only",
            r,
            "RGB 640×480, astronaut",
        );
    }
}
