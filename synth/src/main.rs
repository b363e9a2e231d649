//! `liveproof-synth`: writes a SYNTHETIC capture (PNG frames + capture.json) from one photo.
//!
//! Usually run through `cargo xtask synth ...`, which sets up the models and ONNX Runtime first.

use liveproof_core::models::cache;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use clap::Parser;
use liveproof_core::engine::{Engine, EngineConfig, Tracker};
use liveproof_core::frame::{Frame, PixelFormat};
use liveproof_core::geometry::Rect;
use liveproof_synth::capture::{prepare_dir, write_meta, write_png};
use liveproof_synth::source::mean_ear;
use liveproof_synth::{Event, Generator, Kind, Params, Performance, Source, SourceOptions};

/// Generate a SYNTHETIC face capture (bona fide, print, screen replay or injection) from a
/// photo, deterministically from a seed.
#[derive(Parser, Debug)]
#[command(name = "liveproof-synth", version)]
struct Cli {
    /// The face photo (PNG or JPEG), roughly frontal.
    #[arg(long)]
    image: PathBuf,
    /// bona_fide, print, replay or injection.
    #[arg(long)]
    kind: String,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Frames to write.
    #[arg(long, default_value_t = 60)]
    frames: u32,
    /// Nominal frames per second.
    #[arg(long, default_value_t = 30.0)]
    fps: f64,
    /// Output folder (created; an earlier capture there is replaced).
    #[arg(long)]
    out: PathBuf,
    /// Frame width, pixels.
    #[arg(long, default_value_t = 480)]
    width: u32,
    /// Frame height, pixels.
    #[arg(long, default_value_t = 640)]
    height: u32,
    /// A blink starting at this time, seconds (repeatable).
    #[arg(long = "blink-at")]
    blink_at: Vec<f64>,
    /// Duration of each --blink-at blink, seconds.
    #[arg(long, default_value_t = 0.3)]
    blink_duration: f64,
    /// A smile starting at this time, seconds (repeatable).
    #[arg(long = "smile-at")]
    smile_at: Vec<f64>,
    /// Duration of each --smile-at smile, seconds.
    #[arg(long, default_value_t = 1.5)]
    smile_duration: f64,
    /// Head-pose keyframe `YAW,PITCH,ROLL@START[+DURATION]` (degrees relative to the photo;
    /// yaw + = subject's left, pitch + = chin up, roll + = towards the left shoulder;
    /// seconds; duration default 0.8). Repeatable.
    #[arg(long = "pose")]
    pose: Vec<String>,
    /// A JSON performance script (`{"events": [{"type": "blink", "start_s": 1, "duration_s": 0.3}, ...]}`),
    /// merged with the flags above.
    #[arg(long)]
    script: Option<PathBuf>,
    /// Scale of the idle head motion (0 = still head, 1 = as drawn).
    #[arg(long, default_value_t = 1.0)]
    idle_motion: f64,
    /// Replay only: centre the screen glare on the face.
    #[arg(long)]
    glare_on_face: bool,
    /// Act out the LiveProof challenge plan of this 32-byte seed (64 hex digits), derived
    /// under the default policy, at plausible human timings; frames default to cover it.
    #[arg(long)]
    perform: Option<String>,
    /// Face box `X0,Y0,X1,Y1` in the photo (for group photos); default: the largest face.
    #[arg(long)]
    face_box: Option<String>,
    /// Model folder (default: $LIVEPROOF_MODELS_DIR, else ~/.cache/liveproof/models).
    #[arg(long)]
    models_dir: Option<PathBuf>,
    /// ONNX Runtime library (default: $ORT_DYLIB_PATH, else the set-up cache's).
    #[arg(long)]
    runtime: Option<PathBuf>,
    /// Re-analyse every written frame with LiveProof and print what it sees.
    #[arg(long)]
    verify: bool,
}

fn engine(cli: &Cli) -> Result<Arc<Engine>> {
    let models_dir = cli.models_dir.clone().unwrap_or_else(cache::models_dir);
    let runtime_path = Some(cli.runtime.clone().unwrap_or_else(cache::runtime_path));
    let config = EngineConfig {
        models_dir: models_dir.clone(),
        runtime_path,
        ..EngineConfig::default()
    };
    let e = Engine::new(config).with_context(|| {
        format!(
            "loading LiveProof's models from {} (run `cargo xtask setup`, or use `cargo xtask synth`)",
            models_dir.display()
        )
    })?;
    Ok(Arc::new(e))
}

/// `YAW,PITCH,ROLL@START[+DURATION]`.
fn parse_pose(s: &str) -> Result<Event> {
    let err =
        || format!("--pose `{s}`: expected YAW,PITCH,ROLL@START[+DURATION], e.g. 15,0,0@1.0+0.8");
    let (angles, time) = s.split_once('@').with_context(err)?;
    let a: Vec<f64> = angles
        .split(',')
        .map(|v| v.trim().parse::<f64>())
        .collect::<Result<_, _>>()
        .with_context(err)?;
    if a.len() != 3 {
        bail!(err());
    }
    let (start, dur) = match time.split_once('+') {
        Some((s0, d)) => (
            s0.trim().parse::<f64>().with_context(err)?,
            d.trim().parse::<f64>().with_context(err)?,
        ),
        None => (time.trim().parse::<f64>().with_context(err)?, 0.8),
    };
    Ok(Event::head_pose(start, dur, a[0], a[1], a[2]))
}

fn parse_box(s: &str) -> Result<Rect> {
    let v: Vec<f32> = s
        .split(',')
        .map(|v| v.trim().parse::<f32>())
        .collect::<Result<_, _>>()
        .with_context(|| format!("--face-box `{s}`: expected X0,Y0,X1,Y1 in pixels"))?;
    if v.len() != 4 {
        bail!("--face-box `{s}`: expected 4 numbers X0,Y0,X1,Y1");
    }
    Ok(Rect::new(v[0], v[1], v[2], v[3]))
}

fn main() {
    if let Err(e) = run() {
        eprintln!("liveproof-synth: error: {e:#}");
        std::process::exit(1);
    }
}

fn run() -> Result<()> {
    let cli = Cli::parse();
    let kind: Kind = cli.kind.parse()?;
    let mut performance = match &cli.script {
        Some(p) => {
            let text = std::fs::read_to_string(p)
                .with_context(|| format!("reading --script {}", p.display()))?;
            serde_json::from_str::<Performance>(&text).with_context(|| {
                format!("parsing --script {} as a performance script", p.display())
            })?
        }
        None => Performance::default(),
    };
    for &t in &cli.blink_at {
        performance.events.push(Event::blink(t, cli.blink_duration));
    }
    for &t in &cli.smile_at {
        performance.events.push(Event::smile(t, cli.smile_duration));
    }
    for p in &cli.pose {
        performance.events.push(parse_pose(p)?);
    }
    let mut frames = cli.frames;
    if let Some(hex_seed) = &cli.perform {
        let bytes = hex::decode(hex_seed.trim())
            .ok()
            .filter(|b| b.len() == 32)
            .ok_or_else(|| anyhow::anyhow!("--perform wants 64 hex digits (a 32-byte seed)"))?;
        let mut seed = [0u8; 32];
        seed.copy_from_slice(&bytes);
        let plan = liveproof_core::active::derive_plan(
            &seed,
            &liveproof_core::active::PlanPolicy::default(),
        )?;
        let (script, end_s) = liveproof_synth::perform_plan(&plan, cli.seed);
        eprintln!(
            "performing plan {:?} ({:.1} s)",
            plan.steps
                .iter()
                .map(|s| s.action.as_str())
                .collect::<Vec<_>>(),
            end_s
        );
        performance.events.extend(script.events);
        frames = frames.max((end_s * cli.fps).ceil() as u32 + 1);
    }
    let params = Params {
        kind,
        seed: cli.seed,
        frames,
        fps: cli.fps,
        width: cli.width,
        height: cli.height,
        performance,
        idle_motion: cli.idle_motion,
        glare_on_face: cli.glare_on_face,
        ..Params::new(kind, cli.seed, frames, cli.fps)
    };
    params.validate()?;
    let opts = SourceOptions {
        face_box: cli.face_box.as_deref().map(parse_box).transpose()?,
    };
    let engine = engine(&cli)?;
    let source = Source::from_file(&engine, &cli.image, &opts)?;
    let i = &source.info;
    eprintln!(
        "source {}: face {:.0} px between the eyes, pose yaw {:.1}° pitch {:.1}° roll {:.1}°",
        cli.image.display(),
        i.interocular_px,
        i.yaw_deg,
        i.pitch_deg,
        i.roll_deg
    );
    if i.yaw_deg.abs() > 20.0 || i.pitch_deg.abs() > 20.0 {
        eprintln!("warning: the photo's face is not frontal; turns will stretch it visibly");
    }
    let t_setup = Instant::now();
    let mut gen = Generator::new(&source, &params)?;
    let setup_ms = t_setup.elapsed().as_secs_f64() * 1e3;
    prepare_dir(&cli.out)?;
    let meta = gen.meta().clone();
    let mut render_ms = Vec::with_capacity(params.frames as usize);
    let mut frames = Vec::new();
    loop {
        let t0 = Instant::now();
        let Some(f) = gen.next_frame() else { break };
        render_ms.push(t0.elapsed().as_secs_f64() * 1e3);
        let k = render_ms.len() - 1;
        write_png(&cli.out.join(&meta.frames[k].file), &f.image, &meta)?;
        if cli.verify {
            frames.push(f);
        }
    }
    write_meta(&meta, &cli.out)?;
    render_ms.sort_by(|a, b| a.total_cmp(b));
    println!(
        "SYNTHETIC {} capture (label {}), seed {}: {} frames {}×{} at {} fps → {} (set-up {:.0} ms, render median {:.1} ms/frame)",
        kind.as_str(),
        kind.label(),
        params.seed,
        meta.frames.len(),
        params.width,
        params.height,
        params.fps,
        cli.out.display(),
        setup_ms,
        render_ms[render_ms.len() / 2]
    );
    if cli.verify {
        let mut tracker = Tracker::new(engine.clone());
        let mut found = 0usize;
        for (f, m) in frames.iter().zip(&meta.frames) {
            let frame = Frame::contiguous(
                f.image.width,
                f.image.height,
                PixelFormat::Rgb888,
                &f.image.data,
            )?
            .with_timestamp_ns(f.timestamp_ns);
            let a = tracker.process(&frame)?;
            match a.faces.first() {
                Some(face) => {
                    found += 1;
                    let pose = face.quality.pose;
                    println!(
                        "  {} t={:.3}s face: yaw {:+.1}° pitch {:+.1}° roll {:+.1}° EAR {:.3} (commanded yaw {:+.1}°, eyes closed {:.2}, smile {:.2})",
                        m.file,
                        (m.timestamp_ns - meta.frames[0].timestamp_ns) as f64 * 1e-9,
                        pose.map_or(f32::NAN, |p| p.yaw_deg),
                        pose.map_or(f32::NAN, |p| p.pitch_deg),
                        pose.map_or(f32::NAN, |p| p.roll_deg),
                        mean_ear(&face.landmarks),
                        m.truth.yaw_deg,
                        m.truth.eyes_closed,
                        m.truth.smile
                    );
                }
                None => println!("  {} no face", m.file),
            }
        }
        println!("verify: a face in {found} of {} frames", frames.len());
    }
    Ok(())
}
