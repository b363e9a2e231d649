//! int8 versus fp32 on the architecture-faithful Depth Anything V2 ViT-S/DPT stand-in, at the
//! depth stage's input size (252), through the project's ONNX Runtime runner (the shipped
//! 1.31.1 library): time per inference, side by side, and how much int8 changes the output.
//!
//! **The stand-in has RANDOM weights** (`xtask/py/make_depth_vits_dpt.py`; the real weights
//! cannot be obtained here): its times are the real architecture's, but its agreement figures
//! say only how much int8 perturbs this architecture's output, nothing about real depth
//! quality, and its depth features and score mean nothing about liveness.
//!
//! Models, from `$LIVEPROOF_CACHE/bench-models/` (or `LIVEPROOF_DEPTH_INT8_DIR`):
//! `depth_vits_dpt_random_seed0_252.onnx` (fp32) and its int8 versions
//! `..._int8_{dynamic,qdq,mixed}.onnx` (`xtask/py/quantize_depth.py`). Each loads as the
//! manifest's `depth_anything_v2_vits` with its own sha256 (the override path a user takes),
//! through `OrtRunner` with full graph optimisation.
//!
//! Inputs (REAL photos, no SYNTHETIC data): the depth stage's own crops (`depth::preprocess`,
//! context 2× the face box, ImageNet-normalised) of the faces FaceMesh finds in the fixture
//! photos (astronaut, newton, gauss) and in every 30th frame of the decoded talking-face clip
//! (`talkingface_10s`, when set up).
//!
//! Timing: after one warm-up run per model and input, `ROUNDS` rounds; in each round every
//! input is run once by every model, the models' order rotating from input to input, so
//! that the machine's load falls on all of them alike. Reported per model: median and p95 of
//! the inference (the runner call on the prepared tensor), the ratio of medians to fp32, and
//! the median of the paired ratios (each int8 run over the fp32 run on the same input in the
//! same round). Then once more with 2 intra-op threads (fewer rounds).
//!
//! Agreement, per input: Pearson and Spearman correlation of the int8 depth map with the fp32
//! one (all 252² values), and the change of every per-frame depth feature
//! (`depth::frame_features`) and of the clip window's `depth::score`.
//!
//! Skipped, with the reason printed, when the runtime, the fp32 model or the fixtures are
//! missing. Environment: `LIVEPROOF_DEPTH_INT8_ROUNDS` (default 5),
//! `LIVEPROOF_DEPTH_INT8_ROUNDS_2T` (default 2; 0 skips the 2-thread run),
//! `LIVEPROOF_DEPTH_INT8_VARIANTS` (default `dynamic,qdq,mixed`).
//!
//! `cargo bench -p liveproof-tests --bench depth_int8`

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use liveproof_core::engine::{DetectorKind, Tracker};
use liveproof_core::frame::{Frame, PixelFormat, RgbImage};
use liveproof_core::geometry::Rect;
use liveproof_core::mesh::Landmarks;
use liveproof_core::models::{
    cache, sha256_file, Manifest, ModelRunner, OrtOptions, OrtRunner, OrtRuntime, TensorOut,
};
use liveproof_core::passive::{depth, FaceGeometry};
use liveproof_tests::{engine_config, engine_with, load_rgb};

/// The manifest entry the models load as (a user's override).
const MODEL: &str = "depth_anything_v2_vits";
const FP32_FILE: &str = "depth_vits_dpt_random_seed0_252.onnx";
const PHOTOS: [&str; 3] = ["astronaut.png", "newton.png", "gauss.png"];
const CLIP: &str = "talkingface_10s";
/// Every n-th frame of the clip is an input.
const CLIP_STEP: usize = 30;

/// One face crop, ready for the model.
struct Input {
    name: String,
    from_clip: bool,
    rgb: RgbImage,
    landmarks: Landmarks,
    bbox: Rect,
    /// The depth stage's crop tensor, `[1, 3, N, N]`.
    tensor: Vec<f32>,
}

/// A loaded model and what the bench learned about it.
struct Model {
    label: String,
    runner: Arc<dyn ModelRunner>,
    /// Per input: the depth map and the per-frame features.
    maps: Vec<Vec<f32>>,
    features: Vec<depth::FrameFeatures>,
    /// Inference times, ms, in run order; `paired[i]` is the fp32 time of the same input and
    /// round.
    times: Vec<f64>,
    paired: Vec<f64>,
}

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn load_avg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

fn load_runner(runtime: &OrtRuntime, path: &Path, threads: usize) -> Arc<dyn ModelRunner> {
    let manifest = Manifest::embedded().expect("embedded manifest");
    let mut spec = manifest.model(MODEL).expect("manifest entry").clone();
    // As `models::resolve` does for an override: the file's own sha256, no pinned size.
    spec.sha256 = sha256_file(path).expect("hashing the model");
    spec.bytes = None;
    let opts = OrtOptions {
        intra_op_threads: threads,
        ..OrtOptions::default()
    };
    let runner = OrtRunner::load(runtime, &spec, path, &opts)
        .unwrap_or_else(|e| panic!("loading {}: {e}", path.display()));
    Arc::new(runner)
}

/// The faces of the fixture photos and of every `CLIP_STEP`-th clip frame, with their crops.
fn inputs(cfg: &depth::Config) -> Result<Vec<Input>, String> {
    let fixtures = cache::fixtures_dir();
    let mut files: Vec<(String, PathBuf, bool)> = PHOTOS
        .iter()
        .map(|p| (p.to_string(), fixtures.join(p), false))
        .collect();
    if let Some(p) = files.iter().find(|f| !f.1.is_file()) {
        return Err(format!(
            "fixture {} is missing (run `cargo xtask setup`)",
            p.1.display()
        ));
    }
    let clip = fixtures.join(CLIP);
    if clip.join("frame_0000.png").is_file() {
        for k in (0..300).step_by(CLIP_STEP) {
            let f = clip.join(format!("frame_{k:04}.png"));
            if f.is_file() {
                files.push((format!("{CLIP}/{k:04}"), f, true));
            }
        }
    } else {
        println!(
            "note: the decoded clip {} is not set up: photos only",
            clip.display()
        );
    }
    let mut tracker = Tracker::new(engine_with(engine_config(DetectorKind::BlazeFaceFront)));
    let norm =
        liveproof_core::frame::Normalize::from_mean_std(depth::IMAGENET_MEAN, depth::IMAGENET_STD);
    let n = cfg.input_size as usize;
    let mut out = Vec::new();
    for (name, path, from_clip) in files {
        let rgb = load_rgb(&path);
        let frame = Frame::contiguous(rgb.width, rgb.height, PixelFormat::Rgb888, &rgb.data)
            .expect("frame");
        let analysis = tracker.analyze_still(&frame).expect("analysis");
        let Some(face) = analysis.faces.first() else {
            println!("note: no face found in {name}: left out");
            continue;
        };
        let (landmarks, bbox) = (face.landmarks.clone(), face.detection.bbox);
        let mut tensor = vec![0.0f32; 3 * n * n];
        depth::preprocess(&rgb, &bbox, cfg, &norm, &mut tensor).expect("depth crop");
        out.push(Input {
            name,
            from_clip,
            rgb,
            landmarks,
            bbox,
            tensor,
        });
    }
    if out.is_empty() {
        return Err("no face found in any fixture".into());
    }
    Ok(out)
}

/// Warm-up and agreement pass: each model on each input once through `DepthEstimator`
/// (crop, inference, features), keeping the depth map.
fn agreement_pass(model: &mut Model, inputs: &[Input], cfg: &depth::Config) {
    let mut est = depth::DepthEstimator::new(model.runner.clone(), cfg.clone())
        .unwrap_or_else(|e| panic!("{}: {e}", model.label));
    for input in inputs {
        let geom = FaceGeometry {
            landmarks: &input.landmarks,
            bbox: input.bbox,
        };
        let f = est
            .process(&input.rgb, &geom)
            .unwrap_or_else(|e| panic!("{} on {}: {e}", model.label, input.name));
        let map = est.last_depth().expect("a depth map after process");
        model.maps.push(map.data.to_vec());
        model.features.push(f);
    }
}

/// One inference on the prepared tensor, ms.
fn time_one(runner: &dyn ModelRunner, input: &Input, n: usize, out: &mut Vec<TensorOut>) -> f64 {
    let t = Instant::now();
    runner
        .run_one(&input.tensor, &[1, 3, n, n], out)
        .expect("inference");
    t.elapsed().as_secs_f64() * 1e3
}

/// `rounds` rounds over every input, the models' order rotating per input. Model 0 is fp32.
fn timed_rounds(models: &mut [Model], inputs: &[Input], n: usize, rounds: usize) {
    let mut out = Vec::new();
    let m = models.len();
    let mut turn = 0usize;
    for _ in 0..rounds {
        for input in inputs {
            let mut t = vec![0.0; m];
            for k in 0..m {
                let j = (turn + k) % m;
                t[j] = time_one(models[j].runner.as_ref(), input, n, &mut out);
            }
            turn += 1;
            for (j, model) in models.iter_mut().enumerate() {
                model.times.push(t[j]);
                model.paired.push(t[0]);
            }
        }
    }
}

fn percentile(v: &[f64], q: f64) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(|a, b| a.total_cmp(b));
    // Nearest rank.
    let rank = ((q * s.len() as f64).ceil() as usize).clamp(1, s.len());
    s[rank - 1]
}

fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(|a, b| a.total_cmp(b));
    let n = s.len();
    if n % 2 == 1 {
        s[n / 2]
    } else {
        0.5 * (s[n / 2 - 1] + s[n / 2])
    }
}

fn report_times(models: &[Model], threads: usize, rounds: usize, inputs: usize) {
    println!(
        "\n## time per inference, {threads} intra-op thread(s), 252x252, {rounds} rounds x {inputs} inputs"
    );
    println!("| model | median ms | p95 ms | median / fp32 median | median of paired ratios |");
    println!("|---|---|---|---|---|");
    let fp32 = median(&models[0].times);
    for m in models {
        let ratios: Vec<f64> = m.times.iter().zip(&m.paired).map(|(a, b)| a / b).collect();
        println!(
            "| {} | {:.1} | {:.1} | {:.3} | {:.3} |",
            m.label,
            median(&m.times),
            percentile(&m.times, 0.95),
            median(&m.times) / fp32,
            median(&ratios),
        );
    }
}

fn pearson(a: &[f32], b: &[f32]) -> f64 {
    let n = a.len() as f64;
    let ma = a.iter().map(|&x| x as f64).sum::<f64>() / n;
    let mb = b.iter().map(|&x| x as f64).sum::<f64>() / n;
    let (mut sab, mut saa, mut sbb) = (0.0, 0.0, 0.0);
    for (&x, &y) in a.iter().zip(b) {
        let (dx, dy) = (x as f64 - ma, y as f64 - mb);
        sab += dx * dy;
        saa += dx * dx;
        sbb += dy * dy;
    }
    if saa <= 0.0 || sbb <= 0.0 {
        return f64::NAN;
    }
    sab / (saa * sbb).sqrt()
}

/// Ranks with ties averaged (1-based).
fn ranks(v: &[f32]) -> Vec<f32> {
    let mut idx: Vec<usize> = (0..v.len()).collect();
    idx.sort_by(|&i, &j| v[i].total_cmp(&v[j]));
    let mut r = vec![0.0f32; v.len()];
    let mut i = 0;
    while i < idx.len() {
        let mut j = i;
        while j + 1 < idx.len() && v[idx[j + 1]] == v[idx[i]] {
            j += 1;
        }
        let avg = (i + j) as f32 / 2.0 + 1.0;
        for &k in &idx[i..=j] {
            r[k] = avg;
        }
        i = j + 1;
    }
    r
}

fn spearman(a: &[f32], b: &[f32]) -> f64 {
    pearson(&ranks(a), &ranks(b))
}

type FeatureFn = fn(&depth::FrameFeatures) -> f32;

const FEATURES: [(&str, FeatureFn); 7] = [
    ("plane_rms", |f| f.plane_rms),
    ("plane_tilt", |f| f.plane_tilt),
    ("nose_cheek", |f| f.nose_cheek),
    ("nose_border", |f| f.nose_border),
    ("face_range", |f| f.face_range),
    ("mesh_corr", |f| f.mesh_corr),
    ("depth_gain", |f| f.depth_gain),
];

fn report_agreement(models: &[Model], inputs: &[Input], cfg: &depth::Config) {
    let fp32 = &models[0];
    println!("\n## agreement with fp32 (RANDOM-weight stand-in: how much int8 perturbs the output, not depth quality)");
    for m in &models[1..] {
        println!("\n### {}", m.label);
        println!("| input | Pearson | Spearman | max abs diff / fp32 range |");
        println!("|---|---|---|---|");
        let (mut ps, mut ss) = (Vec::new(), Vec::new());
        for (i, input) in inputs.iter().enumerate() {
            let (a, b) = (&fp32.maps[i], &m.maps[i]);
            let (p, s) = (pearson(a, b), spearman(a, b));
            let lo = a.iter().copied().fold(f32::INFINITY, f32::min);
            let hi = a.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            let dmax = a
                .iter()
                .zip(b)
                .map(|(x, y)| (x - y).abs())
                .fold(0.0f32, f32::max);
            println!(
                "| {} | {:.5} | {:.5} | {:.4} |",
                input.name,
                p,
                s,
                dmax / (hi - lo).max(f32::MIN_POSITIVE)
            );
            ps.push(p);
            ss.push(s);
        }
        println!(
            "Pearson min {:.5} median {:.5}; Spearman min {:.5} median {:.5}",
            ps.iter().copied().fold(f64::INFINITY, f64::min),
            median(&ps),
            ss.iter().copied().fold(f64::INFINITY, f64::min),
            median(&ss)
        );
        println!("\n| feature | fp32 median | median abs change | max abs change |");
        println!("|---|---|---|---|");
        for (name, f) in FEATURES {
            let base: Vec<f64> = fp32.features.iter().map(|x| f(x) as f64).collect();
            let d: Vec<f64> = fp32
                .features
                .iter()
                .zip(&m.features)
                .map(|(a, b)| (f(a) - f(b)).abs() as f64)
                .collect();
            println!(
                "| {name} | {:.4} | {:.4} | {:.4} |",
                median(&base),
                median(&d),
                d.iter().copied().fold(0.0, f64::max)
            );
        }
        let window = |mm: &Model| -> Vec<depth::FrameFeatures> {
            mm.features
                .iter()
                .zip(inputs)
                .filter(|(_, i)| i.from_clip)
                .map(|(f, _)| f.clone())
                .collect()
        };
        let (wa, wb) = (window(fp32), window(m));
        if !wa.is_empty() {
            let (ra, rb) = (depth::score(&wa, cfg), depth::score(&wb, cfg));
            println!(
                "window depth::score over {} clip frames: fp32 {:?}, int8 {:?} (nose_border_median {:.4} vs {:.4}, plane_rms_median {:.4} vs {:.4})",
                wa.len(),
                ra.score,
                rb.score,
                ra.features.get("nose_border_median").copied().unwrap_or(f64::NAN),
                rb.features.get("nose_border_median").copied().unwrap_or(f64::NAN),
                ra.features.get("plane_rms_median").copied().unwrap_or(f64::NAN),
                rb.features.get("plane_rms_median").copied().unwrap_or(f64::NAN),
            );
            if !ra.available {
                println!("  (fp32 window unavailable: {})", ra.reason);
            }
        }
    }
}

fn run() -> Result<(), String> {
    let runtime_path = cache::runtime_path();
    if !runtime_path.is_file() {
        return Err(format!(
            "ONNX Runtime library {} is missing (run `cargo xtask setup`)",
            runtime_path.display()
        ));
    }
    let dir = std::env::var_os("LIVEPROOF_DEPTH_INT8_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| cache::cache_dir().join("bench-models"));
    let fp32_path = dir.join(FP32_FILE);
    if !fp32_path.is_file() {
        return Err(format!(
            "{} is missing: build it with `python xtask/py/make_depth_vits_dpt.py {} --size 252 --seed 0` (converter venv), then its int8 versions with xtask/py/quantize_depth.py",
            fp32_path.display(),
            fp32_path.display()
        ));
    }
    let stem = FP32_FILE.trim_end_matches(".onnx");
    let variants = std::env::var("LIVEPROOF_DEPTH_INT8_VARIANTS")
        .unwrap_or_else(|_| "dynamic,qdq,mixed".into());
    let int8: Vec<(String, PathBuf)> = variants
        .split(',')
        .filter(|v| !v.is_empty())
        .map(|v| (v.to_string(), dir.join(format!("{stem}_int8_{v}.onnx"))))
        .filter(|(v, p)| {
            let ok = p.is_file();
            if !ok {
                println!(
                    "note: int8 variant `{v}` ({}) is missing: left out",
                    p.display()
                );
            }
            ok
        })
        .collect();
    if int8.is_empty() {
        return Err(format!(
            "no int8 model in {}: run `python xtask/py/quantize_depth.py {} --out-dir {}` (onnxruntime, onnx, numpy)",
            dir.display(),
            fp32_path.display(),
            dir.display()
        ));
    }
    let runtime = OrtRuntime::load(Some(&runtime_path)).map_err(|e| format!("runtime: {e}"))?;
    let cfg = depth::Config::default();
    let n = cfg.input_size as usize;
    println!("# depth int8 vs fp32: ViT-S/DPT stand-in with RANDOM weights, input {n}x{n}");
    println!("runtime {}", runtime_path.display());
    let mut files = vec![("fp32".to_string(), fp32_path)];
    files.extend(int8);
    for (label, p) in &files {
        let bytes = std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
        println!(
            "{label}: {} ({bytes} bytes, sha256 {})",
            p.display(),
            sha256_file(p).expect("hash")
        );
    }
    let inputs = inputs(&cfg)?;
    println!(
        "inputs: {} face crops ({})",
        inputs.len(),
        inputs
            .iter()
            .map(|i| i.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    );
    for threads in [1usize, 2] {
        let rounds = if threads == 1 {
            env_usize("LIVEPROOF_DEPTH_INT8_ROUNDS", 5)
        } else {
            env_usize("LIVEPROOF_DEPTH_INT8_ROUNDS_2T", 2)
        };
        if rounds == 0 {
            continue;
        }
        let mut models: Vec<Model> = files
            .iter()
            .map(|(label, p)| Model {
                label: label.clone(),
                runner: load_runner(&runtime, p, threads),
                maps: Vec::new(),
                features: Vec::new(),
                times: Vec::new(),
                paired: Vec::new(),
            })
            .collect();
        for m in &mut models {
            agreement_pass(m, &inputs, &cfg);
        }
        let load_before = load_avg();
        let t = Instant::now();
        timed_rounds(&mut models, &inputs, n, rounds);
        println!(
            "\nload average before {load_before}, after {} ({:.0} s timed)",
            load_avg(),
            t.elapsed().as_secs_f64()
        );
        report_times(&models, threads, rounds, inputs.len());
        if threads == 1 {
            report_agreement(&models, &inputs, &cfg);
        }
    }
    Ok(())
}

fn main() {
    if let Err(why) = run() {
        println!("skipped: {why}");
    }
}
