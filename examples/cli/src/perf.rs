//! `liveproof perf`: the fixed workloads of the performance guard (`cargo xtask bench
//! --check`) and the peak-memory bench.
//!
//! - `perf frames --out FILE` renders the guard's SYNTHETIC capture once (natively, so that
//!   the run under valgrind does not pay for the rendering): Gauss performing the one-step
//!   plan (a left turn) of a fixed seed at 30 fps, 480×640, written raw (a small header, then
//!   per frame its timestamp and RGB bytes).
//! - `perf run --frames FILE` runs the phases callgrind counts, each inside a
//!   `#[no_mangle] #[inline(never)]` function named `lp_perf_phase_*` (the guard runs it with
//!   `--collect-atstart=no` and, for each of them, `--toggle-collect=NAME --dump-after=NAME`,
//!   so each phase ends in a dump of its own):
//!   1. `lp_perf_phase_track`: plain tracking (`Tracker::process`) over the first frames;
//!   2. `lp_perf_phase_session_push`: `Session::new` and `push_frame` until the session says
//!      it is done;
//!   3. `lp_perf_phase_session_finish`: `finish()`.
//!
//!   The session runs with `SessionConfig::off_path = false`: callgrind's collection switch
//!   is per thread, so the worker thread's passive and continuity work would not be counted,
//!   and inline the same work gives the same result on the caller's thread. Depth is
//!   disabled (the real model is user supplied). ONNX Runtime runs 1 intra-op thread.
//! - `perf rss --frames FILE` runs one whole session with every model loaded (detector,
//!   FaceMesh, eye model, texture CNNs, embedding with a template, and a depth STAND-IN) and
//!   prints VmRSS as each model loads, after the session, and the peak (VmHWM).
//!
//! Everything is deterministic: fixed seed, fixed frames, no wall-clock branches.

use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{bail, ensure, Context, Result};
use clap::Subcommand;
use liveproof_core::active::derive_plan;
use liveproof_core::calibration::CalibrationBundle;
use liveproof_core::defaults::CALIBRATION_JSON;
use liveproof_core::engine::{Engine, EngineConfig, ModelOverride, Tracker};
use liveproof_core::evidence::Action;
use liveproof_core::frame::{Frame, PixelFormat};
use liveproof_core::matching::FaceTemplate;
use liveproof_core::models::cache;
use liveproof_core::passive::analyzer::PassiveConfig;
use liveproof_core::policy::{FlowType, LoadedPolicy, Policy, RiskTier};
use liveproof_core::result::SessionResult;
use liveproof_core::session::{
    LoadedCalibration, Phase, Session, SessionConfig, SessionModels, SessionParams,
};
use serde_json::json;

/// The session's challenge seed (fixed: the plan, and so the capture, never change).
const SEED: [u8; 32] = [9; 32];
/// Seed of the synthetic capture's own draws (idle motion, noise).
const CAPTURE_SEED: u64 = 3;
const FPS: f64 = 30.0;
/// Frames of plain tracking the guard counts (the first of the capture).
const TRACK_FRAMES: usize = 10;
const MAGIC: &[u8; 8] = b"LPPERF01";
/// Embedding model for continuity and the template.
const EMBEDDING: &str = "fr_feature";

#[derive(Subcommand)]
pub enum PerfCmd {
    /// Render the guard's SYNTHETIC capture (raw frames) into FILE.
    Frames {
        #[arg(long)]
        out: PathBuf,
    },
    /// Run the counted phases (tracking, session push, session finish) over FILE's frames;
    /// prints a JSON summary of the workload.
    Run {
        #[arg(long)]
        frames: PathBuf,
    },
    /// One whole session with every model loaded; prints VmRSS per model and the peak.
    Rss {
        #[arg(long)]
        frames: PathBuf,
        /// Depth model file standing in for Depth Anything V2 ViT-S (e.g. the random-weight
        /// ViT-S/DPT of `cargo xtask bench`); needs --depth-sha256. Without it, the
        /// project-made `depth_standin` (a few KB, NOT a depth model).
        #[arg(long, requires = "depth_sha256")]
        depth_model: Option<PathBuf>,
        #[arg(long, requires = "depth_model")]
        depth_sha256: Option<String>,
        /// Print JSON instead of the table.
        #[arg(long)]
        json: bool,
    },
}

pub fn run(cmd: &PerfCmd, config: EngineConfig) -> Result<()> {
    match cmd {
        PerfCmd::Frames { out } => write_frames(config, out),
        PerfCmd::Run { frames } => run_phases(config, frames),
        PerfCmd::Rss {
            frames,
            depth_model,
            depth_sha256,
            json,
        } => rss(
            config,
            frames,
            depth_model.as_deref().zip(depth_sha256.as_deref()),
            *json,
        ),
    }
}

/// The recommended policy with a one-step plan, a turn, everywhere, on the shipped calibration
/// bundle. One step keeps the capture short (a frame costs seconds under callgrind); a turn
/// exercises the most (the turn's parallax, face continuity, the eye model on every frame).
fn policy_and_calibration() -> Result<(LoadedPolicy, LoadedCalibration)> {
    let bundle = CalibrationBundle::from_json(CALIBRATION_JSON).context("calibration")?;
    let calibration = LoadedCalibration::new(bundle)?;
    let mut p = Policy::recommended(&calibration.sha256);
    p.challenge.required_from.clear();
    p.challenge.plan.allowed = vec![Action::TurnLeft];
    p.challenge.plan.min_steps = 1;
    p.challenge.plan.max_steps = 1;
    Ok((LoadedPolicy::new(p)?, calibration))
}

// ---------------------------------------------------------------------------------------------
// Frames file.

fn write_frames(config: EngineConfig, out: &Path) -> Result<()> {
    use liveproof_synth::{perform_plan, Generator, Kind, Params, Source, SourceOptions};
    let engine = Arc::new(Engine::new(config).context("loading the engine")?);
    let (policy, _) = policy_and_calibration()?;
    let photo = cache::fixtures_dir().join("gauss.png");
    let source = Source::from_file(&engine, &photo, &SourceOptions::default())
        .with_context(|| format!("synthetic source from {}", photo.display()))?;
    let plan = derive_plan(&SEED, &policy.policy.challenge.plan)?;
    let (script, end_s) = perform_plan(&plan, CAPTURE_SEED);
    let n = ((end_s + 1.0) * FPS) as u32;
    let mut params = Params::new(Kind::BonaFide, CAPTURE_SEED, n, FPS);
    params.performance = script;
    let (w, h) = (params.width, params.height);
    if let Some(dir) = out.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let tmp = out.with_extension("partial");
    let mut f =
        BufWriter::new(File::create(&tmp).with_context(|| format!("creating {}", tmp.display()))?);
    f.write_all(MAGIC)?;
    for v in [w, h, n] {
        f.write_all(&v.to_le_bytes())?;
    }
    let mut written = 0u32;
    for frame in Generator::new(&source, &params)? {
        ensure!(
            frame.image.width == w && frame.image.height == h,
            "synthetic frame {}×{}, expected {w}×{h}",
            frame.image.width,
            frame.image.height
        );
        f.write_all(&frame.timestamp_ns.to_le_bytes())?;
        f.write_all(&frame.image.data)?;
        written += 1;
    }
    ensure!(
        written == n,
        "the generator gave {written} frames, expected {n}"
    );
    f.flush()?;
    drop(f);
    std::fs::rename(&tmp, out).with_context(|| format!("writing {}", out.display()))?;
    println!(
        "{}",
        json!({ "frames": n, "width": w, "height": h, "plan": plan.steps.iter().map(|s| s.action.as_str()).collect::<Vec<_>>(), "out": out.display().to_string() })
    );
    Ok(())
}

/// Reads a frames file one frame at a time into one buffer.
struct FrameReader {
    r: BufReader<File>,
    width: u32,
    height: u32,
    count: u32,
    left: u32,
    rgb: Vec<u8>,
    ts: u64,
}

impl FrameReader {
    fn open(path: &Path) -> Result<FrameReader> {
        let f = File::open(path).with_context(|| {
            format!(
                "opening {} (make it with `liveproof perf frames --out FILE`)",
                path.display()
            )
        })?;
        let mut r = BufReader::new(f);
        let mut magic = [0u8; 8];
        r.read_exact(&mut magic)?;
        if &magic != MAGIC {
            bail!("{} is not a `liveproof perf frames` file", path.display());
        }
        let mut v = [0u32; 3];
        for x in &mut v {
            let mut b = [0u8; 4];
            r.read_exact(&mut b)?;
            *x = u32::from_le_bytes(b);
        }
        let [width, height, count] = v;
        ensure!(
            (64..=4096).contains(&width) && (64..=4096).contains(&height) && count > 0,
            "{}: bad header {width}×{height}×{count}",
            path.display()
        );
        Ok(FrameReader {
            r,
            width,
            height,
            count,
            left: count,
            rgb: vec![0; width as usize * height as usize * 3],
            ts: 0,
        })
    }

    /// The next frame, or `None` at the end.
    fn next_frame(&mut self) -> Result<Option<Frame<'_>>> {
        if self.left == 0 {
            return Ok(None);
        }
        let mut b = [0u8; 8];
        self.r.read_exact(&mut b).context("truncated frames file")?;
        self.ts = u64::from_le_bytes(b);
        self.r
            .read_exact(&mut self.rgb)
            .context("truncated frames file")?;
        self.left -= 1;
        Ok(Some(
            Frame::contiguous(self.width, self.height, PixelFormat::Rgb888, &self.rgb)?
                .with_timestamp_ns(self.ts),
        ))
    }
}

// ---------------------------------------------------------------------------------------------
// The counted phases.

struct Fixture {
    engine: Arc<Engine>,
    models: Arc<SessionModels>,
    policy: Arc<LoadedPolicy>,
    calibration: Arc<LoadedCalibration>,
    cfg: SessionConfig,
    template: Option<FaceTemplate>,
}

impl Fixture {
    fn session(&self) -> Result<Session> {
        Ok(Session::new(
            self.engine.clone(),
            self.models.clone(),
            self.policy.clone(),
            self.calibration.clone(),
            SessionParams {
                template: self.template.clone(),
                ..SessionParams::first_attempt(
                    SEED,
                    FlowType::AccountOpening,
                    RiskTier::High,
                    "perf",
                )
            },
            self.cfg.clone(),
        )?)
    }
}

/// Phase 1: plain tracking over the first `TRACK_FRAMES` frames.
#[no_mangle]
#[inline(never)]
fn lp_perf_phase_track(engine: &Arc<Engine>, frames: &mut FrameReader) -> Result<usize> {
    let mut tracker = Tracker::new(engine.clone());
    let mut n = 0;
    while n < TRACK_FRAMES {
        let Some(f) = frames.next_frame()? else { break };
        tracker.process(&f)?;
        n += 1;
    }
    Ok(n)
}

/// Phase 2: a session's start and its frames pushed until it says `Done` (as an app stops).
#[no_mangle]
#[inline(never)]
fn lp_perf_phase_session_push(fx: &Fixture, frames: &mut FrameReader) -> Result<(Session, usize)> {
    let mut s = fx.session()?;
    let mut n = 0;
    while let Some(f) = frames.next_frame()? {
        let feedback = s.push_frame(&f)?;
        n += 1;
        if feedback.phase == Phase::Done {
            break;
        }
    }
    Ok((s, n))
}

/// Phase 3: the session's decision.
#[no_mangle]
#[inline(never)]
fn lp_perf_phase_session_finish(s: Session) -> SessionResult {
    s.finish()
}

/// The three phases back to back: callgrind's collection is switched on inside this one
/// function (a second `--toggle-collect` did not take effect with valgrind 3.19), and each
/// phase's `--dump-after` splits the counts.
#[no_mangle]
#[inline(never)]
fn lp_perf_phases(
    fx: &Fixture,
    track_frames: &mut FrameReader,
    frames: &mut FrameReader,
) -> Result<(usize, usize, SessionResult)> {
    let tracked = lp_perf_phase_track(&fx.engine, track_frames)?;
    let (session, pushed) = lp_perf_phase_session_push(fx, frames)?;
    let result = lp_perf_phase_session_finish(session);
    Ok((tracked, pushed, result))
}

fn session_fixture(
    config: EngineConfig,
    passive: PassiveConfig,
    off_path: bool,
    template: Option<FaceTemplate>,
) -> Result<Fixture> {
    let engine = Arc::new(Engine::new(config.clone()).context("loading the engine")?);
    let models = Arc::new(SessionModels::load(&config, &passive, EMBEDDING));
    let (policy, calibration) = policy_and_calibration()?;
    Ok(Fixture {
        engine,
        models,
        policy: Arc::new(policy),
        calibration: Arc::new(calibration),
        cfg: SessionConfig {
            passive,
            off_path,
            ..SessionConfig::default()
        },
        template,
    })
}

fn result_json(r: &SessionResult) -> serde_json::Value {
    json!({
        "band": format!("{:?}", r.band),
        "reasons": r.reasons.iter().map(|c| format!("{c:?}")).collect::<Vec<_>>(),
        "challenge_steps": r.challenge_steps.iter().map(|s| json!({"action": s.action.as_str(), "passed": s.passed})).collect::<Vec<_>>(),
        "frames_sha256": r.frames_sha256,
    })
}

fn run_phases(config: EngineConfig, frames_file: &Path) -> Result<()> {
    let passive = PassiveConfig {
        // Depth off: the real model is user supplied, and the session figures are
        // taken without the stand-in.
        depth_model: String::new(),
        ..PassiveConfig::default()
    };
    let fx = session_fixture(config, passive, false, None)?;
    let mut track_frames = FrameReader::open(frames_file)?;
    let mut frames = FrameReader::open(frames_file)?;
    let (tracked, pushed, result) = lp_perf_phases(&fx, &mut track_frames, &mut frames)?;
    let used: Vec<_> = fx
        .models
        .used
        .iter()
        .map(|m| json!({"name": m.name, "sha256": m.sha256}))
        .collect();
    println!(
        "{}",
        json!({
            "phases": ["track", "session_push", "session_finish"],
            "track_frames": tracked,
            "session_frames": pushed,
            "frame_size": [frames.width, frames.height],
            "frames_in_file": frames.count,
            "texture": fx.models.passive.texture.iter().map(|(m, _)| m.name.clone()).collect::<Vec<_>>(),
            "models": used,
            "result": result_json(&result),
        })
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Peak RSS.

/// `VmRSS` and `VmHWM` from /proc/self/status, kB.
fn mem_kb() -> Result<(u64, u64)> {
    let s = std::fs::read_to_string("/proc/self/status")
        .context("reading /proc/self/status (Linux only)")?;
    let field = |name: &str| -> Result<u64> {
        s.lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .with_context(|| format!("no {name} in /proc/self/status"))
    };
    Ok((field("VmRSS:")?, field("VmHWM:")?))
}

fn rss(
    mut config: EngineConfig,
    frames_file: &Path,
    depth: Option<(&Path, &str)>,
    as_json: bool,
) -> Result<()> {
    let mut rows: Vec<(String, u64, u64)> = Vec::new();
    let mut note = |what: &str| -> Result<()> {
        let (rss, hwm) = mem_kb()?;
        rows.push((what.to_string(), rss, hwm));
        Ok(())
    };
    note("start (process, nothing loaded)")?;
    let mut passive = PassiveConfig::default();
    let depth_label = match depth {
        Some((path, sha)) => {
            config.overrides.push(ModelOverride {
                name: passive.depth_model.clone(),
                path: path.to_path_buf(),
                sha256: sha.to_string(),
            });
            format!(
                "depth STAND-IN {} as `{}` (random weights: not a depth model)",
                path.file_name().unwrap_or_default().to_string_lossy(),
                passive.depth_model
            )
        }
        None => {
            passive.depth_model = "depth_standin".into();
            "depth_standin (project-made STAND-IN, NOT a depth model)".to_string()
        }
    };
    config.validate().context("model override")?;
    let engine = Arc::new(Engine::new(config.clone()).context("loading the engine")?);
    note(&format!(
        "engine: {} + face_landmark (ONNX Runtime loaded)",
        config.detector.model_name()
    ))?;
    // Each model once through the shared store, held here, so that the session's loads
    // below find them and each delta is one model's.
    let store = liveproof_core::models::ModelStore::shared(&config)?;
    let mut held = Vec::new();
    let texture: Vec<String> = passive
        .texture
        .models
        .iter()
        .map(|m| m.name.clone())
        .collect();
    for name in ["fr_eye", EMBEDDING]
        .into_iter()
        .map(String::from)
        .chain(texture)
        .chain([passive.depth_model.clone()])
    {
        match store.get(&name) {
            Ok(r) => {
                held.push(r);
                note(&format!("+ {name}"))?;
            }
            Err(e) => eprintln!("perf rss: `{name}` not loaded: {e}"),
        }
    }
    let models = Arc::new(SessionModels::load(&config, &passive, EMBEDDING));
    note("session models (shared with the above)")?;
    // A template of the same person from the source photo, with the same embedding model.
    let template = enrol_template(&engine, &config)?;
    let (policy, calibration) = policy_and_calibration()?;
    let fx = Fixture {
        engine,
        models,
        policy: Arc::new(policy),
        calibration: Arc::new(calibration),
        cfg: SessionConfig {
            passive: passive.clone(),
            ..SessionConfig::default()
        },
        template: Some(template),
    };
    note("template enrolled")?;
    let mut frames = FrameReader::open(frames_file)?;
    let (session, pushed) = lp_perf_phase_session_push(&fx, &mut frames)?;
    note(&format!("after push_frame × {pushed}"))?;
    let result = lp_perf_phase_session_finish(session);
    note("after finish()")?;
    let depth_status = format!(
        "{:?}",
        result
            .signals
            .iter()
            .find(|c| format!("{:?}", c.signal)
                .to_ascii_lowercase()
                .contains("depth"))
            .map(|c| (c.available, c.reason.clone()))
    );
    let (_, peak) = mem_kb()?;
    let texture_loaded: Vec<String> = fx
        .models
        .passive
        .texture
        .iter()
        .map(|(m, _)| m.name.clone())
        .collect();
    let allocator = allocator();
    if as_json {
        println!(
            "{}",
            json!({
                "peak_rss_kb": peak,
                "allocator": allocator,
                "depth": depth_label,
                "texture": texture_loaded,
                "frames": pushed,
                "rows": rows.iter().map(|(w, r, h)| json!({"step": w, "vm_rss_kb": r, "vm_hwm_kb": h})).collect::<Vec<_>>(),
                "result": result_json(&result),
            })
        );
    } else {
        println!("peak RSS of a whole session with every model loaded ({pushed} frames, 1 intra-op thread):");
        println!("  allocator: {allocator}");
        println!("  depth: {depth_label}; depth signal available: {depth_status}");
        println!("  texture: {}", texture_loaded.join(" + "));
        let mut prev = 0;
        for (what, r, h) in &rows {
            println!(
                "  {:<48} VmRSS {:>7.1} MB ({:>+7.1})  VmHWM {:>7.1} MB",
                what,
                *r as f64 / 1024.0,
                (*r as f64 - prev as f64) / 1024.0,
                *h as f64 / 1024.0
            );
            prev = *r;
        }
        println!("  PEAK (VmHWM) {:.1} MB", peak as f64 / 1024.0);
        println!("  result: {}", result_json(&result));
    }
    drop(held);
    Ok(())
}

/// Which allocator serves this process: a preloaded Scudo (LLVM compiler-rt's standalone
/// build, Android's allocator; `cargo xtask bench --rss` preloads it) when one is mapped, else
/// the C library's. Read from /proc/self/maps, so a preload the loader ignored shows as such.
fn allocator() -> String {
    let maps = std::fs::read_to_string("/proc/self/maps").unwrap_or_default();
    maps.lines()
        .filter_map(|l| l.split_whitespace().nth(5))
        .find(|p| p.contains("scudo"))
        .map(|p| format!("Scudo ({p})"))
        .unwrap_or_else(|| "the C library's malloc (no Scudo mapped)".into())
}

fn enrol_template(engine: &Arc<Engine>, config: &EngineConfig) -> Result<FaceTemplate> {
    use liveproof_core::matching::{Embedder, Sample};
    let mut embedder = Embedder::load(config, EMBEDDING)?;
    let mut tracker = Tracker::new(engine.clone());
    let (embedding, quality) = super::embed_image(
        &mut tracker,
        &mut embedder,
        &cache::fixtures_dir().join("gauss.png"),
    )?;
    Ok(FaceTemplate::enrol(&[Sample { embedding, quality }], 1)?)
}
