//! `liveproof`: run the LiveProof pipeline on images and frame folders.
//!
//! `liveproof inspect IMAGE... [--json] [--draw OUT.png]` analyses still images;
//! `liveproof inspect --track FRAMES_DIR [--json]` treats a folder of frames (PNG/JPEG, in
//! name order) as one camera stream in tracking mode;
//! `liveproof challenge --seed HEX FRAMES_DIR [--json]` runs the active challenge of a seed;
//! `liveproof inspect --passive FRAMES_DIR [--json]` runs the passive-liveness signals over
//! such a folder (timestamps from its `capture.json` when present, else `--fps`);
//! `liveproof analyze FRAMES_DIR [--policy P.json] [--seed HEX] [--template T.json] [--json]`
//! runs one whole session over such a folder and prints the decision and its audit record;
//! `liveproof perf ...` runs the fixed workloads of the performance guard and the peak-memory
//! bench (`perf.rs`).

mod analyze;
mod draw;
mod perf;

use liveproof_core::models::cache;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand, ValueEnum};
use liveproof_core::engine::{
    DetectorKind, Engine, EngineConfig, FrameAnalysis, ModelOverride, Tracker,
};
use liveproof_core::frame::{Frame, PixelFormat};
use liveproof_core::passive::analyzer::{PassiveAnalyzer, PassiveConfig, PassiveModels};
use serde_json::json;

#[derive(Parser)]
#[command(
    name = "liveproof",
    version,
    about = "LiveProof on-device face liveness: inspection tool"
)]
struct Cli {
    /// Folder with the verified model files (default: $LIVEPROOF_MODELS_DIR or ~/.cache/liveproof/models).
    #[arg(long, global = true)]
    models_dir: Option<PathBuf>,
    /// ONNX Runtime shared library (default: $ORT_DYLIB_PATH or ~/.cache/liveproof/runtime/libonnxruntime.so.1.31.1).
    #[arg(long, global = true)]
    ort_lib: Option<PathBuf>,
    /// Face detector.
    #[arg(long, global = true, value_enum, default_value_t = Detector::BlazefaceFront)]
    detector: Detector,
    /// ONNX Runtime intra-op threads per model.
    #[arg(long, global = true, default_value_t = 1)]
    threads: usize,
    /// While tracking, re-run the detector every N frames to count faces (0: only when the
    /// face is lost, as MediaPipe's tracking graph does).
    #[arg(long, global = true, default_value_t = EngineConfig::default().recount_faces_every)]
    recount_faces_every: u32,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Clone, Copy, ValueEnum)]
enum Detector {
    BlazefaceFront,
    BlazefaceBack,
    Scrfd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run one whole session (quality, passive signals, challenge, match, calibration,
    /// fusion, policy) over a folder of frames, and print the result and its audit record.
    Analyze {
        /// Folder of frames (PNG/JPEG, name order; timestamps from its capture.json if any).
        frames: PathBuf,
        /// Tenant policy (JSON); default: models/policy_default.json as built in.
        #[arg(long)]
        policy: Option<PathBuf>,
        /// Calibration bundle (JSON); default: models/calibration_default.json as built in.
        #[arg(long)]
        calibration: Option<PathBuf>,
        /// The session's 32-byte challenge seed, 64 hex digits (default: from the clock).
        #[arg(long)]
        seed: Option<String>,
        /// An enrolled face template to match (`liveproof enroll`).
        #[arg(long)]
        template: Option<PathBuf>,
        /// account_opening | login | transaction | recovery.
        #[arg(long, default_value = "account_opening")]
        flow: String,
        /// low | medium | high.
        #[arg(long, default_value = "medium")]
        tier: String,
        /// Print JSON instead of the human summary.
        #[arg(long)]
        json: bool,
        /// Frame rate assumed when the folder has no capture.json.
        #[arg(long, default_value_t = 30.0)]
        fps: f64,
        /// Recorded media (image files, a decoded video): analyse offline, without the stream
        /// injection heuristics (which fail every file: a file is not a live camera).
        #[arg(long, conflicts_with = "token")]
        offline: bool,
        /// The server's session token (`liveproof-verifier issue`): the challenge seed, flow,
        /// tier, attempt and policy come from it, after its signature is checked against
        /// --server-key.
        #[arg(long, requires_all = ["server_key", "sign_key", "out"], conflicts_with_all = ["seed", "policy"])]
        token: Option<PathBuf>,
        /// The server's key directory whose public keys this device pins.
        #[arg(long, requires = "token")]
        server_key: Option<PathBuf>,
        /// The device's signing key (`liveproof keygen`).
        #[arg(long, requires = "token")]
        sign_key: Option<PathBuf>,
        /// Where to write the signed result (COSE_Sign1 bytes) for the verifier.
        #[arg(long, requires = "token")]
        out: Option<PathBuf>,
    },
    /// Fixed workloads for `cargo xtask bench --check` (instruction counts under callgrind)
    /// and the peak-memory bench.
    #[command(subcommand)]
    Perf(perf::PerfCmd),
    /// Make a device signing key (P-256, PKCS#8 PEM) in FILE and its public key in FILE.pub.
    Keygen {
        #[arg(long)]
        out: PathBuf,
    },
    /// Enrol a face template from one or more images of the same person (largest face each).
    Enroll {
        images: Vec<PathBuf>,
        /// Where to write the template (JSON).
        #[arg(short, long)]
        output: PathBuf,
        /// Embedding model (manifest name).
        #[arg(long, default_value = "fr_feature")]
        model: String,
        /// Average the best this many frames (by capture quality).
        #[arg(long, default_value_t = 5)]
        best: usize,
    },
    /// Compare the largest face of each image with an enrolled template.
    Match {
        template: PathBuf,
        images: Vec<PathBuf>,
        /// Cosine at or above which a face is `match` (default: the model's provisional value,
        /// docs/matching.md).
        #[arg(long)]
        match_at: Option<f32>,
        /// Cosine below which a face is `no_match`; between the two it is `uncertain`.
        #[arg(long)]
        no_match_below: Option<f32>,
        /// Print JSON instead of the human summary.
        #[arg(long)]
        json: bool,
    },
    /// Run the active-liveness challenge of a session seed over a folder of frames.
    Challenge {
        /// The session's 32-byte challenge seed, 64 hex digits.
        #[arg(long)]
        seed: String,
        /// Folder of frames (PNG/JPEG, name order; timestamps from its capture.json if any).
        frames: PathBuf,
        /// Print JSON instead of the human summary.
        #[arg(long)]
        json: bool,
        /// Frame rate assumed when the folder has no capture.json.
        #[arg(long, default_value_t = 30.0)]
        fps: f64,
    },
    /// Detect faces, landmarks and capture quality on images, or on a frame folder with --track.
    Inspect {
        /// Image files (PNG or JPEG).
        images: Vec<PathBuf>,
        /// Treat this folder of frames as one camera stream (tracking mode).
        #[arg(long, conflicts_with = "images")]
        track: Option<PathBuf>,
        /// Run the passive-liveness signals over this folder of frames (one capture window).
        #[arg(long, conflicts_with_all = ["images", "track"])]
        passive: Option<PathBuf>,
        /// Depth model file (the real Depth Anything V2 ViT-S ONNX, which LiveProof cannot
        /// distribute); needs --depth-sha256.
        #[arg(long, requires = "depth_sha256", conflicts_with = "depth_standin")]
        depth_model: Option<PathBuf>,
        /// sha256 of --depth-model.
        #[arg(long, requires = "depth_model")]
        depth_sha256: Option<String>,
        /// Use the project-made depth STAND-IN (not a depth model; for testing the plumbing).
        #[arg(long)]
        depth_standin: bool,
        /// Print JSON instead of the human summary.
        #[arg(long)]
        json: bool,
        /// Write the (first) image with box, keypoints and landmarks drawn.
        #[arg(long)]
        draw: Option<PathBuf>,
        /// Frame rate assumed for --track timestamps (frames carry no capture time).
        #[arg(long, default_value_t = 30.0)]
        fps: f64,
    },
}

fn engine_config(cli: &Cli) -> EngineConfig {
    let models_dir = cli.models_dir.clone().unwrap_or_else(cache::models_dir);
    let runtime_path = cli.ort_lib.clone().unwrap_or_else(cache::runtime_path);
    EngineConfig {
        models_dir,
        runtime_path: Some(runtime_path),
        intra_op_threads: cli.threads,
        recount_faces_every: cli.recount_faces_every,
        detector: match cli.detector {
            Detector::BlazefaceFront => DetectorKind::BlazeFaceFront,
            Detector::BlazefaceBack => DetectorKind::BlazeFaceBack,
            Detector::Scrfd => DetectorKind::Scrfd,
        },
        ..EngineConfig::default()
    }
}

pub(crate) struct Decoded {
    width: u32,
    height: u32,
    rgb: Vec<u8>,
    decode_ms: f64,
}

fn decode(path: &Path) -> Result<Decoded> {
    let t = Instant::now();
    // Upright by the file's EXIF orientation, as phone photos need.
    let img = liveproof_core::frame::file::load_upright(path)?.rgb;
    Ok(Decoded {
        width: img.width,
        height: img.height,
        rgb: img.data,
        decode_ms: t.elapsed().as_secs_f64() * 1e3,
    })
}

/// Decodes one frame of a capture folder; every frame of one capture has the first one's size.
pub(crate) fn decode_frame(path: &Path, size: &mut Option<(u32, u32)>) -> Result<Decoded> {
    let d = decode(path)?;
    match *size {
        None => *size = Some((d.width, d.height)),
        Some(s) if s != (d.width, d.height) => bail!(
            "{}: frame size {}×{} differs from the first frame's {}×{}: one capture has one \
             frame size",
            path.display(),
            d.width,
            d.height,
            s.0,
            s.1
        ),
        Some(_) => {}
    }
    Ok(d)
}

fn main() -> Result<()> {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn")).init();
    let cli = Cli::parse();
    if let Cmd::Keygen { out } = &cli.cmd {
        // No engine: a key needs no model.
        let signer = liveproof_core::trust::SoftwareSigner::generate();
        let public = signer.save(out)?;
        println!(
            "device key {} in {} (public key {})",
            liveproof_core::trust::kid_of(&signer.public()?),
            out.display(),
            public.display()
        );
        return Ok(());
    }
    if let Cmd::Perf(cmd) = &cli.cmd {
        // The workloads load their own engine (the memory bench measures it loading).
        return perf::run(cmd, engine_config(&cli));
    }
    let engine = Arc::new(Engine::new(engine_config(&cli)).context("loading the engine")?);
    match &cli.cmd {
        Cmd::Analyze {
            frames,
            policy,
            calibration,
            seed,
            template,
            flow,
            tier,
            json,
            fps,
            offline,
            token,
            server_key,
            sign_key,
            out,
        } => {
            let trust = match (token, server_key, sign_key, out) {
                (Some(token), Some(server_key), Some(sign_key), Some(out)) => {
                    Some(analyze::TrustArgs {
                        token,
                        server_key,
                        sign_key,
                        out,
                    })
                }
                _ => None,
            };
            let args = analyze::AnalyzeArgs {
                frames,
                policy: policy.as_deref(),
                calibration: calibration.as_deref(),
                seed: seed.as_deref(),
                template: template.as_deref(),
                flow: flow.parse().context("--flow")?,
                tier: tier.parse().context("--tier")?,
                json: *json,
                offline: *offline,
                trust,
            };
            let paths = frame_paths(frames)?;
            let stamps = timestamps(frames, &paths, *fps)?;
            analyze::analyze(&engine, &engine_config(&cli), &args, &paths, &stamps)
        }
        Cmd::Enroll {
            images,
            output,
            model,
            best,
        } => enroll(&engine, images, output, model, *best),
        Cmd::Match {
            template,
            images,
            match_at,
            no_match_below,
            json,
        } => match_images(&engine, template, images, *match_at, *no_match_below, *json),
        Cmd::Challenge {
            seed,
            frames,
            json,
            fps,
        } => challenge(&engine, seed, frames, *json, *fps),
        Cmd::Keygen { .. } | Cmd::Perf(_) => unreachable!("handled before the engine loads"),
        Cmd::Inspect {
            images,
            track,
            passive,
            depth_model,
            depth_sha256,
            depth_standin,
            json,
            draw,
            fps,
        } => {
            if let Some(dir) = passive {
                let mut config = engine_config(&cli);
                let mut pconfig = PassiveConfig::default();
                if *depth_standin {
                    pconfig.depth_model = "depth_standin".into();
                }
                if let (Some(path), Some(sha)) = (depth_model, depth_sha256) {
                    config.overrides.push(ModelOverride {
                        name: pconfig.depth_model.clone(),
                        path: path.clone(),
                        sha256: sha.clone(),
                    });
                }
                config.validate().context("model override")?;
                inspect_passive(&engine, &config, pconfig, dir, *json, *fps)
            } else if let Some(dir) = track {
                inspect_track(&engine, dir, *json, *fps)
            } else {
                if images.is_empty() {
                    bail!("give at least one image, or --track FRAMES_DIR");
                }
                inspect_images(&engine, images, *json, draw.as_deref())
            }
        }
    }
}

fn inspect_images(
    engine: &Arc<Engine>,
    images: &[PathBuf],
    as_json: bool,
    draw: Option<&Path>,
) -> Result<()> {
    let mut records = Vec::new();
    let mut tracker = Tracker::new(engine.clone());
    for (i, path) in images.iter().enumerate() {
        let d = decode(path)?;
        let frame = Frame::contiguous(d.width, d.height, PixelFormat::Rgb888, &d.rgb)?;
        let analysis = tracker
            .analyze_still(&frame)
            .with_context(|| format!("analysing {}", path.display()))?;
        let mut rec = analysis.to_json();
        rec["image"] = json!(path.display().to_string());
        rec["timings_ms"]["decode"] = json!(d.decode_ms);
        if i == 0 {
            if let Some(out) = draw {
                draw::draw_analysis(d.width, d.height, &d.rgb, analysis, out)?;
            }
        }
        if !as_json {
            print_human(path, analysis);
        }
        records.push(rec);
    }
    if as_json {
        println!(
            "{}",
            serde_json::to_string_pretty(&json!({ "images": records }))?
        );
    }
    Ok(())
}

fn challenge(
    engine: &Arc<Engine>,
    seed_hex: &str,
    dir: &Path,
    as_json: bool,
    fps: f64,
) -> Result<()> {
    use liveproof_core::active::{derive_plan, ChallengeCapture, EyeStateModel, PlanPolicy};
    let bytes = hex::decode(seed_hex.trim())
        .ok()
        .filter(|b| b.len() == 32)
        .context("--seed wants 64 hex digits (a 32-byte seed)")?;
    let mut seed = [0u8; 32];
    seed.copy_from_slice(&bytes);
    let plan = derive_plan(&seed, &PlanPolicy::default())?;
    let paths = frame_paths(dir)?;
    let stamps = timestamps(dir, &paths, fps)?;
    let mut tracker = Tracker::with_rgb(engine.clone());
    // The session checks each turn's planar parallax on the frames (a flat photo fails).
    let mut session = ChallengeCapture::with_defaults(plan.clone())?;
    // Blinks use the eye-state model when it loads; else FaceMesh's eye aspect ratio alone.
    match EyeStateModel::load(engine.config()) {
        Ok(m) => session = session.with_eye_model(m),
        Err(e) => {
            eprintln!("note: eye-state model not loaded ({e}); blinks use the eye aspect ratio")
        }
    }
    let mut finished = None;
    for (path, &ts) in paths.iter().zip(&stamps) {
        let d = decode(path)?;
        let frame = Frame::contiguous(d.width, d.height, PixelFormat::Rgb888, &d.rgb)?
            .with_timestamp_ns(ts);
        tracker
            .process(&frame)
            .with_context(|| format!("frame {}", path.display()))?;
        let update = session
            .push(
                tracker.last_analysis(),
                tracker
                    .last_rgb()
                    .context("the tracker keeps each frame's image")?,
            )
            .with_context(|| format!("frame {}", path.display()))?;
        if let Some(out) = update.finished {
            finished = Some(out);
            break;
        }
    }
    let (passed, reason, steps) = match finished {
        Some(o) => (o.passed, o.reason, o.steps),
        None => (
            false,
            "the frames ended before the challenge was complete".to_string(),
            session
                .outcome()
                .map(|o| o.steps.clone())
                .unwrap_or_default(),
        ),
    };
    if as_json {
        let out = json!({
            "plan": plan.steps.iter().map(|s| json!({"action": s.action, "timeout_ms": s.timeout_ms})).collect::<Vec<_>>(),
            "steps": steps,
            "passed": passed,
            "reason": reason,
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        let names: Vec<&str> = plan.steps.iter().map(|s| s.action.as_str()).collect();
        println!(
            "plan {names:?}: {} ({reason})",
            if passed { "PASSED" } else { "FAILED" }
        );
        for s in &steps {
            println!(
                "  {:<10} {} after {:.0} ms {}",
                s.action.as_str(),
                if s.passed { "done" } else { "failed" },
                s.active_ms,
                s.failure
            );
        }
    }
    Ok(())
}

/// The frames of a folder (PNG/JPEG, name order).
fn frame_paths(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            matches!(
                p.extension()
                    .and_then(|e| e.to_str())
                    .map(|e| e.to_ascii_lowercase())
                    .as_deref(),
                Some("png" | "jpg" | "jpeg")
            )
        })
        .collect();
    paths.sort();
    if paths.is_empty() {
        bail!("no PNG or JPEG frames in {}", dir.display());
    }
    Ok(paths)
}

/// Capture timestamps: from the folder's `capture.json` (`frames[i].timestamp_ns`, as written
/// by `cargo xtask synth`) when it lists every frame, else `i / fps`.
fn timestamps(dir: &Path, paths: &[PathBuf], fps: f64) -> Result<Vec<u64>> {
    if !(fps.is_finite() && fps > 0.0) {
        bail!("--fps must be a positive number, got {fps}");
    }
    let from_json = std::fs::read_to_string(dir.join("capture.json"))
        .ok()
        .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
        .and_then(|v| {
            let frames = v.get("frames")?.as_array()?;
            paths
                .iter()
                .map(|p| {
                    let name = p.file_name()?.to_str()?;
                    frames
                        .iter()
                        .find(|f| f.get("file").and_then(|n| n.as_str()) == Some(name))?
                        .get("timestamp_ns")?
                        .as_u64()
                })
                .collect::<Option<Vec<u64>>>()
        });
    Ok(from_json.unwrap_or_else(|| {
        (0..paths.len())
            .map(|i| (i as f64 * 1e9 / fps) as u64)
            .collect()
    }))
}

fn inspect_passive(
    engine: &Arc<Engine>,
    config: &EngineConfig,
    pconfig: PassiveConfig,
    dir: &Path,
    as_json: bool,
    fps: f64,
) -> Result<()> {
    let paths = frame_paths(dir)?;
    let stamps = timestamps(dir, &paths, fps)?;
    let models = Arc::new(PassiveModels::load(config, &pconfig));
    let mut passive = PassiveAnalyzer::new(models, pconfig).context("passive configuration")?;
    let mut tracker = Tracker::with_rgb(engine.clone());
    let mut size: Option<(u32, u32)> = None;
    let t = Instant::now();
    for (path, &ts) in paths.iter().zip(&stamps) {
        let d = decode_frame(path, &mut size)?;
        let frame = Frame::contiguous(d.width, d.height, PixelFormat::Rgb888, &d.rgb)?
            .with_timestamp_ns(ts);
        let analysis = tracker
            .process(&frame)
            .with_context(|| format!("frame {}", path.display()))?;
        match analysis.faces.first() {
            Some(face) => {
                let (landmarks, bbox) = (face.landmarks.clone(), face.detection.bbox);
                passive
                    .push(
                        tracker
                            .last_rgb()
                            .context("the tracker keeps each frame's image")?,
                        &landmarks,
                        bbox,
                        ts,
                    )
                    .with_context(|| format!("frame {}", path.display()))?;
            }
            None => passive.push_no_face(),
        }
    }
    let report = passive.report();
    let wall_ms = t.elapsed().as_secs_f64() * 1e3;
    if as_json {
        let out = json!({
            "frames": paths.len(),
            "frames_with_face": report.frames_with_face,
            "wall_ms": wall_ms,
            "passive": report.to_json(),
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        println!(
            "{} frames ({} with a face), {:.0} ms",
            paths.len(),
            report.frames_with_face,
            wall_ms
        );
        for (name, r) in [
            ("depth", &report.depth),
            ("fft", &report.fft),
            ("reflection", &report.reflection),
            ("parallax", &report.parallax),
            ("texture", &report.texture),
        ] {
            let note = if r.features.contains_key("stand_in_model") {
                " (STAND-IN model: says nothing about liveness)"
            } else if name == "texture" {
                " (which output class means live is unconfirmed, see docs/passive.md)"
            } else {
                ""
            };
            match r.score {
                Some(s) => println!("  {name:<10} score {s:.3}{note}"),
                None => println!("  {name:<10} not available: {}", r.reason),
            }
        }
    }
    Ok(())
}

fn inspect_track(engine: &Arc<Engine>, dir: &Path, as_json: bool, fps: f64) -> Result<()> {
    let paths = frame_paths(dir)?;
    let stamps = timestamps(dir, &paths, fps)?;
    // Tracking reads the buffer in place; nothing here reads the whole picture afterwards.
    let mut tracker = Tracker::new(engine.clone());
    let mut frames = Vec::with_capacity(paths.len());
    let mut wall_ms = Vec::with_capacity(paths.len());
    // Per frame: time inside the models, and the share of the frame outside them.
    let (mut model_ms, mut outside) = (Vec::new(), Vec::new());
    let mut detections = 0usize;
    for (i, path) in paths.iter().enumerate() {
        let d = decode(path)?;
        let ts = stamps[i];
        let frame = Frame::contiguous(d.width, d.height, PixelFormat::Rgb888, &d.rgb)?
            .with_timestamp_ns(ts);
        let t = Instant::now();
        let analysis = tracker
            .process(&frame)
            .with_context(|| format!("frame {}", path.display()))?;
        let ms = t.elapsed().as_secs_f64() * 1e3;
        wall_ms.push(ms);
        model_ms.push(analysis.timings.model);
        outside.push((ms - analysis.timings.model) / ms);
        if analysis.detector_ran {
            detections += 1;
        }
        if !as_json {
            print_human(path, analysis);
        }
        let mut rec = analysis.to_json();
        rec["image"] = json!(path.display().to_string());
        rec["timings_ms"]["decode"] = json!(d.decode_ms);
        rec["wall_ms"] = json!(ms);
        frames.push(rec);
    }
    let mut sorted = wall_ms.clone();
    sorted.sort_by(|a, b| a.total_cmp(b));
    let median = percentile(&sorted, 0.5);
    let p95 = percentile(&sorted, 0.95);
    let median_of = |v: &mut Vec<f64>| {
        v.sort_by(|a, b| a.total_cmp(b));
        percentile(v, 0.5)
    };
    let summary = json!({
        "frames": paths.len(),
        "median_ms": median,
        "p95_ms": p95,
        "detections": detections,
        "model_median_ms": median_of(&mut model_ms),
        "outside_model_share_median": median_of(&mut outside),
    });
    if as_json {
        println!(
            "{}",
            serde_json::to_string_pretty(&json!({ "frames": frames, "summary": summary }))?
        );
    } else {
        println!(
            "{} frames: median {:.2} ms, p95 {:.2} ms per frame (excluding decoding), detector ran on {}",
            paths.len(),
            median,
            p95,
            detections
        );
    }
    Ok(())
}

/// Nearest-rank percentile of sorted values.
fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

fn print_human(path: &Path, a: &FrameAnalysis) {
    println!(
        "{} ({}x{}): {} face(s)",
        path.display(),
        a.width,
        a.height,
        a.faces.len()
    );
    for (i, f) in a.faces.iter().enumerate() {
        let b = f.detection.bbox;
        let pose = f
            .quality
            .pose
            .as_ref()
            .map(|p| {
                format!(
                    ", yaw {:+.1}° pitch {:+.1}° roll {:+.1}°",
                    p.yaw_deg, p.pitch_deg, p.roll_deg
                )
            })
            .unwrap_or_default();
        println!(
            "  face {i}: box [{:.0}, {:.0}, {:.0}, {:.0}] score {:.2}, {} landmarks (presence {:.2}){pose}",
            b.x_min,
            b.y_min,
            b.x_max,
            b.y_max,
            f.detection.score,
            f.landmarks.len(),
            f.presence,
        );
    }
    let hints: Vec<&str> = a.hints.iter().map(|h| h.as_str()).collect();
    if hints.is_empty() {
        println!("  quality: OK");
    } else {
        println!("  hints: {}", hints.join(", "));
    }
    println!(
        "  time: detect {:.2} ms, mesh {:.2} ms, quality {:.2} ms, total {:.2} ms ({:.2} ms in the models)",
        a.timings.detect, a.timings.mesh, a.timings.quality, a.timings.total, a.timings.model
    );
}

/// The largest face of an image, embedded; with a capture-quality score in [0, 1] (the share
/// of the quality gate's checks that passed).
fn embed_image(
    tracker: &mut Tracker,
    embedder: &mut liveproof_core::matching::Embedder,
    path: &Path,
) -> Result<(liveproof_core::matching::Embedding, f32)> {
    let d = decode(path)?;
    let frame = Frame::contiguous(d.width, d.height, PixelFormat::Rgb888, &d.rgb)?;
    let a = tracker
        .analyze_still(&frame)
        .with_context(|| format!("analysing {}", path.display()))?;
    let face = a
        .faces
        .first()
        .with_context(|| format!("{}: no face found", path.display()))?;
    let pts = liveproof_core::matching::five_points_from_mesh(&face.landmarks)?;
    let rgb = liveproof_core::frame::RgbImage::from_raw(d.width, d.height, d.rgb)?;
    let e = embedder
        .embed(&rgb, &pts)
        .with_context(|| format!("embedding {}", path.display()))?;
    Ok((e, face.quality.enrolment_weight()))
}

fn enroll(
    engine: &Arc<Engine>,
    images: &[PathBuf],
    output: &Path,
    model: &str,
    best: usize,
) -> Result<()> {
    use liveproof_core::matching::{Embedder, FaceTemplate, Sample};
    if images.is_empty() {
        bail!("give at least one image to enrol");
    }
    let mut embedder = Embedder::load(engine.config(), model)
        .with_context(|| format!("loading the embedding model `{model}`"))?;
    let mut tracker = Tracker::new(engine.clone());
    let mut samples = Vec::new();
    for path in images {
        let (embedding, quality) = embed_image(&mut tracker, &mut embedder, path)?;
        samples.push(Sample { embedding, quality });
    }
    let t = FaceTemplate::enrol(&samples, best)?;
    std::fs::write(output, serde_json::to_string_pretty(&t)? + "\n")
        .with_context(|| format!("writing {}", output.display()))?;
    println!(
        "enrolled {} of {} image(s) with {} ({}-d), quality {:.2} -> {}",
        t.frames,
        images.len(),
        t.model,
        t.embedding.len(),
        t.quality,
        output.display()
    );
    Ok(())
}

/// The recommended policy's thresholds for `model` (core's one table, from the small
/// public-domain evaluation in docs/matching.md), each replaced by the flag when given.
fn thresholds_for(
    model: &str,
    match_at: Option<f32>,
    no_match_below: Option<f32>,
) -> Result<(f32, f32)> {
    if let (Some(m), Some(n)) = (match_at, no_match_below) {
        return Ok((m, n));
    }
    let policy = liveproof_core::policy::Policy::recommended("");
    let req = policy.face_match.get(model).ok_or_else(|| {
        anyhow::anyhow!(
            "no recommended match thresholds for model `{model}`; give --match-at and --no-match-below"
        )
    })?;
    Ok((
        match_at.unwrap_or(req.match_at),
        no_match_below.unwrap_or(req.no_match_below),
    ))
}

fn match_images(
    engine: &Arc<Engine>,
    template: &Path,
    images: &[PathBuf],
    match_at: Option<f32>,
    no_match_below: Option<f32>,
    as_json: bool,
) -> Result<()> {
    use liveproof_core::matching::{Embedder, FaceTemplate, MatchThresholds};
    if images.is_empty() {
        bail!("give at least one image to match");
    }
    let text = std::fs::read_to_string(template)
        .with_context(|| format!("reading {}", template.display()))?;
    let t: FaceTemplate = serde_json::from_str(&text)
        .with_context(|| format!("{} is not a LiveProof face template", template.display()))?;
    t.validate()?;
    let (m, n) = thresholds_for(&t.model, match_at, no_match_below)?;
    let th = MatchThresholds::new(m, n)?;
    let mut embedder = Embedder::load(engine.config(), &t.model)
        .with_context(|| format!("loading the template's model `{}`", t.model))?;
    let mut tracker = Tracker::new(engine.clone());
    let mut results = Vec::new();
    for path in images {
        let (e, _) = embed_image(&mut tracker, &mut embedder, path)?;
        let similarity = t.similarity(&e)?;
        results.push(json!({
            "image": path.display().to_string(),
            "similarity": similarity,
            "band": th.band(similarity),
        }));
    }
    if as_json {
        let out = json!({
            "model": t.model,
            "thresholds": th,
            "results": results,
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        for r in &results {
            println!(
                "{}: similarity {:.3} -> {}",
                r["image"].as_str().unwrap_or(""),
                r["similarity"].as_f64().unwrap_or(f64::NAN),
                r["band"].as_str().unwrap_or("")
            );
        }
    }
    Ok(())
}
