//! Whole sessions over labelled captures: the SYNTHETIC evaluation set (rendered in memory
//! or written as capture folders), capture folders on disk (liveproof-synth's format, or a
//! user's folder in the same format), and the REAL media of the shared folder.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use liveproof_core::active::{derive_plan, PlanPolicy};
use liveproof_core::calibration::CalibrationBundle;
use liveproof_core::engine::{Engine, EngineConfig};
use liveproof_core::frame::{Frame, PixelFormat, RgbImage};
use liveproof_core::passive::analyzer::PassiveConfig;
use liveproof_core::policy::{FlowType, LoadedPolicy, RiskTier};
use liveproof_core::result::SessionResult;
use liveproof_core::session::{
    LoadedCalibration, Phase, Session, SessionConfig, SessionModels, SessionParams,
};
use liveproof_synth::{perform_plan, Generator, Kind, Params};
use serde::{Deserialize, Serialize};

use crate::outcome::{Origin, Outcome, BONA_FIDE};
use crate::Person;

/// Frames after the acted plan's end, seconds.
const TAIL_S: f64 = 0.7;

/// Everything sessions share: the engine, the models, the policy and its calibration.
pub struct Runner {
    pub engine: Arc<Engine>,
    pub models: Arc<SessionModels>,
    pub policy: Arc<LoadedPolicy>,
    pub calibration: Arc<LoadedCalibration>,
}

impl Runner {
    /// Loads the models as `liveproof analyze` does (the `fr_feature` embedding for face
    /// continuity) and the given policy and calibration bundle (JSON text).
    pub fn new(
        ecfg: &EngineConfig,
        engine: Arc<Engine>,
        policy_json: &str,
        calibration_json: &str,
    ) -> Result<Runner> {
        let policy = LoadedPolicy::from_json(policy_json).context("the policy")?;
        let bundle = CalibrationBundle::from_json(calibration_json).context("the calibration")?;
        let calibration = LoadedCalibration::new(bundle)?;
        let models = SessionModels::load(ecfg, &PassiveConfig::default(), "fr_feature");
        Ok(Runner {
            engine,
            models: Arc::new(models),
            policy: Arc::new(policy),
            calibration: Arc::new(calibration),
        })
    }

    /// The challenge plan policy in force.
    pub fn plan_policy(&self) -> &PlanPolicy {
        &self.policy.policy.challenge.plan
    }

    /// One session over `frames` (stops pushing once the session is done).
    pub fn run(
        &self,
        seed: [u8; 32],
        flow: FlowType,
        tier: RiskTier,
        session_id: &str,
        capture: Capture,
        frames: impl Iterator<Item = Result<(RgbImage, u64)>>,
    ) -> Result<SessionResult> {
        let mut s = Session::new(
            self.engine.clone(),
            self.models.clone(),
            self.policy.clone(),
            self.calibration.clone(),
            SessionParams {
                capture_device: "liveproof-eval".into(),
                ..SessionParams::first_attempt(seed, flow, tier, session_id)
            },
            SessionConfig {
                live_capture: capture == Capture::Live,
                ..SessionConfig::default()
            },
        )?;
        for f in frames {
            let (img, ts) = f?;
            let frame = Frame::contiguous(img.width, img.height, PixelFormat::Rgb888, &img.data)?
                .with_timestamp_ns(ts);
            let fb = s
                .push_frame(&frame)
                .with_context(|| format!("{session_id}: frame at {ts} ns"))?;
            if fb.phase == Phase::Done {
                break;
            }
        }
        Ok(s.finish())
    }
}

/// Where a session's frames come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Capture {
    /// A (simulated) live camera: the stream injection heuristics apply.
    Live,
    /// Recorded media (files, a decoded video), analysed offline
    /// (`SessionConfig::live_capture = false`): a file is an injected stream by construction,
    /// so the heuristics are not run; otherwise they would hide what the PAD signals say.
    Recorded,
}

/// A 32-byte seed derived from a label (FNV-1a, then splitmix64): deterministic and distinct
/// per label.
pub fn seed_of(label: &str) -> [u8; 32] {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in label.bytes() {
        h ^= b as u64;
        h = h.wrapping_mul(0x100_0000_01b3);
    }
    let mut out = [0u8; 32];
    for chunk in out.chunks_mut(8) {
        h = h.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = h;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        chunk.copy_from_slice(&z.to_le_bytes());
    }
    out
}

fn u64_of(seed: &[u8; 32]) -> u64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(&seed[..8]);
    u64::from_le_bytes(b) % 1_000_000_007
}

/// The attack species of the SYNTHETIC set, in report order.
pub const SPECIES: [&str; 8] = [
    "print_flat_edges",
    "print_flat_no_edges",
    "print_curved_edges",
    "print_curved_no_edges",
    "replay",
    "replay_right_plan",
    "other_seed",
    "injection",
];

/// One SYNTHETIC capture of the set.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SynthSpec {
    pub id: String,
    /// Index into the persons list.
    pub person: usize,
    pub person_id: String,
    /// `bona_fide` or one of [`SPECIES`].
    pub species: String,
    pub kind: Kind,
    /// The seed the session runs with.
    #[serde(with = "hex32")]
    pub session_seed: [u8; 32],
    /// The seed whose plan the capture acts out.
    #[serde(with = "hex32")]
    pub acted_seed: [u8; 32],
    /// The generator's seed.
    pub synth_seed: u64,
    pub print_curved: bool,
    pub print_edges: Option<bool>,
}

mod hex32 {
    use serde::{Deserialize, Deserializer, Serializer};
    pub fn serialize<S: Serializer>(v: &[u8; 32], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&super::hex(v))
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<[u8; 32], D::Error> {
        let s = String::deserialize(d)?;
        super::parse_hex32(&s).map_err(serde::de::Error::custom)
    }
}

pub fn hex(v: &[u8]) -> String {
    v.iter().map(|b| format!("{b:02x}")).collect()
}

/// 64 hex digits as 32 bytes.
pub fn parse_hex32(s: &str) -> Result<[u8; 32]> {
    let s = s.trim();
    if s.len() != 64 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        bail!("`{s}` is not a 32-byte seed (64 hex digits)");
    }
    let mut out = [0u8; 32];
    for (i, o) in out.iter_mut().enumerate() {
        *o = u8::from_str_radix(&s[2 * i..2 * i + 2], 16)?;
    }
    Ok(out)
}

/// The SYNTHETIC set's composition.
#[derive(Clone, Debug, Serialize)]
pub struct SetOptions {
    /// Bona fide captures per person (each with its own session seed).
    pub bona_fide: usize,
    /// Person `j` gets attack species `s` when `(j + s) % attack_stride == 0` (1 = every
    /// species for every person).
    pub attack_stride: usize,
    /// At most this many captures of each replay species (0 = no cap): the screen renderer
    /// costs far more per frame than the others.
    pub replay_max: usize,
    /// Captures per attack species for each person that gets the species.
    pub attack_reps: usize,
    pub fps: f64,
}

/// The SYNTHETIC set over `persons` (indices into the full list, with their ids).
pub fn synthetic_set(persons: &[(usize, String)], opts: &SetOptions) -> Vec<SynthSpec> {
    let mut out: Vec<SynthSpec> = Vec::new();
    for (j, (pi, pid)) in persons.iter().enumerate() {
        for r in 0..opts.bona_fide {
            let label = format!("{pid}/bona_fide/{r}");
            let seed = seed_of(&label);
            out.push(SynthSpec {
                id: format!("{pid}-bona_fide-{r}"),
                person: *pi,
                person_id: pid.clone(),
                species: BONA_FIDE.into(),
                kind: Kind::BonaFide,
                session_seed: seed,
                acted_seed: seed,
                synth_seed: u64_of(&seed_of(&format!("{label}/synth"))),
                print_curved: false,
                print_edges: None,
            });
        }
        for (s, species) in SPECIES.iter().enumerate() {
            if (j + s) % opts.attack_stride.max(1) != 0 {
                continue;
            }
            for rep in 0..opts.attack_reps.max(1) {
                if species.starts_with("replay")
                    && opts.replay_max > 0
                    && out.iter().filter(|o| o.species == *species).count() >= opts.replay_max
                {
                    continue;
                }
                // The first capture keeps the label it had before repetitions existed.
                let label = if rep == 0 {
                    format!("{pid}/{species}")
                } else {
                    format!("{pid}/{species}/{rep}")
                };
                let seed = seed_of(&label);
                let other = seed_of(&format!("{label}/other"));
                let (kind, acted, curved, edges) = match *species {
                    "print_flat_edges" => (Kind::Print, seed, false, Some(true)),
                    "print_flat_no_edges" => (Kind::Print, seed, false, Some(false)),
                    "print_curved_edges" => (Kind::Print, seed, true, Some(true)),
                    "print_curved_no_edges" => (Kind::Print, seed, true, Some(false)),
                    "replay" => (Kind::Replay, other, false, None),
                    "replay_right_plan" => (Kind::Replay, seed, false, None),
                    "other_seed" => (Kind::BonaFide, other, false, None),
                    _ => (Kind::Injection, seed, false, None),
                };
                out.push(SynthSpec {
                    id: if rep == 0 {
                        format!("{pid}-{species}")
                    } else {
                        format!("{pid}-{species}-{rep}")
                    },
                    person: *pi,
                    person_id: pid.clone(),
                    species: species.to_string(),
                    kind,
                    session_seed: seed,
                    acted_seed: acted,
                    synth_seed: u64_of(&seed_of(&format!("{label}/synth"))),
                    print_curved: curved,
                    print_edges: edges,
                });
            }
        }
    }
    out
}

/// The generator's parameters for a spec: the acted plan's performance, long enough for the
/// session's plan too, plus [`TAIL_S`].
pub fn params_of(spec: &SynthSpec, plan_policy: &PlanPolicy, fps: f64) -> Result<Params> {
    let acted = derive_plan(&spec.acted_seed, plan_policy)?;
    let (perf, end) = perform_plan(&acted, spec.synth_seed);
    let own = derive_plan(&spec.session_seed, plan_policy)?;
    let (_, own_end) = perform_plan(&own, spec.synth_seed);
    let frames = ((end.max(own_end) + TAIL_S) * fps).ceil() as u32;
    let mut p = Params::new(spec.kind, spec.synth_seed, frames, fps);
    p.performance = perf;
    p.print_curved = spec.print_curved;
    p.print_edges = spec.print_edges;
    Ok(p)
}

/// Runs `jobs` in parallel on `threads` threads, in order of the input; logs progress.
pub fn parallel<T: Sync, R: Send>(
    items: &[T],
    threads: usize,
    what: &str,
    f: impl Fn(&T) -> Result<R> + Sync,
) -> Vec<Result<R>> {
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<Result<R>>>> =
        Mutex::new((0..items.len()).map(|_| None).collect());
    let t0 = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..threads.max(1) {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                if i >= items.len() {
                    break;
                }
                let r = f(&items[i]);
                let mut g = results.lock().unwrap_or_else(|e| e.into_inner());
                g[i] = Some(r);
                let done = g.iter().filter(|x| x.is_some()).count();
                drop(g);
                if done % 10 == 0 || done == items.len() {
                    eprintln!(
                        "{what}: {done}/{} ({:.0} s)",
                        items.len(),
                        t0.elapsed().as_secs_f64()
                    );
                }
            });
        }
    });
    results
        .into_inner()
        .unwrap_or_else(|e| e.into_inner())
        .into_iter()
        .map(|r| r.unwrap_or_else(|| Err(anyhow::anyhow!("not run"))))
        .collect()
}

/// Runs the SYNTHETIC set in memory (frames rendered as the session consumes them).
pub fn run_synthetic(
    runner: &Runner,
    persons: &[Person],
    specs: &[SynthSpec],
    flow: FlowType,
    tier: RiskTier,
    fps: f64,
    threads: usize,
) -> Vec<Result<Outcome>> {
    parallel(specs, threads, "eval: SYNTHETIC sessions", |spec| {
        let params = params_of(spec, runner.plan_policy(), fps)?;
        let gen = Generator::new(&persons[spec.person].source, &params)?;
        let r = runner.run(
            spec.session_seed,
            flow,
            tier,
            &spec.id,
            Capture::Live,
            gen.map(|f| Ok((f.image, f.timestamp_ns))),
        )?;
        Ok(Outcome::from_result(
            &spec.id,
            &spec.person_id,
            Origin::Synthetic,
            &spec.species,
            flow,
            tier,
            &r,
            "",
        ))
    })
}

/// `eval.json` beside a capture's `capture.json`: what `eval` needs that the capture does not
/// say (all optional).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct EvalMeta {
    /// `bona_fide` or the attack species (default: from `capture.json`).
    #[serde(default)]
    pub species: Option<String>,
    #[serde(default)]
    pub person: Option<String>,
    /// The session's seed, 64 hex digits (default: `--seed`).
    #[serde(default)]
    pub session_seed: Option<String>,
    /// The seed whose plan the capture acts out (information only).
    #[serde(default)]
    pub acted_seed: Option<String>,
    #[serde(default)]
    pub note: Option<String>,
}

/// Writes the SYNTHETIC set as capture folders (`DIR/<id>/capture.json`, frames,
/// `eval.json`).
pub fn write_set(
    persons: &[Person],
    specs: &[SynthSpec],
    plan_policy: &PlanPolicy,
    fps: f64,
    out: &Path,
    threads: usize,
) -> Result<()> {
    let results = parallel(specs, threads, "gen-set", |spec| {
        let params = params_of(spec, plan_policy, fps)?;
        let capture = liveproof_synth::generate(&persons[spec.person].source, &params)?;
        let dir = out.join(&spec.id);
        liveproof_synth::write_capture(&capture, &dir)?;
        let meta = EvalMeta {
            species: Some(spec.species.clone()),
            person: Some(spec.person_id.clone()),
            session_seed: Some(hex(&spec.session_seed)),
            acted_seed: Some(hex(&spec.acted_seed)),
            note: None,
        };
        std::fs::write(
            dir.join("eval.json"),
            serde_json::to_string_pretty(&meta)? + "\n",
        )
        .with_context(|| format!("writing {}", dir.join("eval.json").display()))?;
        Ok(())
    });
    for r in results {
        r?;
    }
    Ok(())
}

/// A capture folder found on disk.
#[derive(Clone, Debug)]
pub struct FolderCapture {
    pub dir: PathBuf,
    pub id: String,
    pub person: String,
    pub species: String,
    pub origin: Origin,
    pub seed: [u8; 32],
    pub frames: Vec<(PathBuf, u64)>,
    pub note: String,
}

/// The capture folders under each of `dirs` (a folder with `capture.json`, or a folder of
/// such folders).
pub fn find_captures(dirs: &[PathBuf], default_seed: [u8; 32]) -> Result<Vec<FolderCapture>> {
    let mut found = Vec::new();
    for d in dirs {
        if d.join("capture.json").is_file() {
            found.push(d.clone());
            continue;
        }
        let mut subs: Vec<PathBuf> = std::fs::read_dir(d)
            .with_context(|| format!("reading {}", d.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.join("capture.json").is_file())
            .collect();
        if subs.is_empty() {
            bail!(
                "{}: no capture.json in it or in its sub-folders (expected liveproof-synth's \
                 capture format)",
                d.display()
            );
        }
        subs.sort();
        found.extend(subs);
    }
    found
        .iter()
        .map(|d| read_capture(d, default_seed))
        .collect()
}

fn read_capture(dir: &Path, default_seed: [u8; 32]) -> Result<FolderCapture> {
    let path = dir.join("capture.json");
    let v: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?,
    )
    .with_context(|| format!("{} is not JSON", path.display()))?;
    let meta: EvalMeta = match std::fs::read_to_string(dir.join("eval.json")) {
        Ok(t) => {
            serde_json::from_str(&t).with_context(|| format!("{}/eval.json", dir.display()))?
        }
        Err(_) => EvalMeta::default(),
    };
    let frames: Vec<(PathBuf, u64)> = v["frames"]
        .as_array()
        .with_context(|| format!("{}: no `frames` array", path.display()))?
        .iter()
        .map(|f| {
            Ok((
                dir.join(f["file"].as_str().context("a frame without `file`")?),
                f["timestamp_ns"]
                    .as_u64()
                    .context("a frame without `timestamp_ns`")?,
            ))
        })
        .collect::<Result<_>>()
        .with_context(|| path.display().to_string())?;
    let species = meta
        .species
        .clone()
        .or_else(|| v["attack_species"].as_str().map(str::to_string))
        .or_else(|| (v["label"].as_str() == Some("bona_fide")).then(|| BONA_FIDE.to_string()))
        .with_context(|| {
            format!(
                "{}: no species (eval.json `species`, capture.json `attack_species` or `label`)",
                dir.display()
            )
        })?;
    let id = dir
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    Ok(FolderCapture {
        dir: dir.to_path_buf(),
        person: meta.person.clone().unwrap_or_else(|| id.clone()),
        id,
        species,
        origin: if v["synthetic"].as_bool() == Some(true) {
            Origin::Synthetic
        } else {
            Origin::Real
        },
        seed: match &meta.session_seed {
            Some(h) => parse_hex32(h)?,
            None => default_seed,
        },
        frames,
        note: meta.note.unwrap_or_default(),
    })
}

/// Runs every capture folder.
pub fn run_folders(
    runner: &Runner,
    caps: &[FolderCapture],
    flow: FlowType,
    tier: RiskTier,
    threads: usize,
) -> Vec<Result<Outcome>> {
    parallel(caps, threads, "eval: capture folders", |c| {
        let frames = c.frames.iter().map(|(p, ts)| {
            let img = liveproof_core::frame::file::load_upright(p)
                .with_context(|| p.display().to_string())?
                .rgb;
            Ok((img, *ts))
        });
        let r = runner.run(c.seed, flow, tier, &c.id, Capture::Live, frames)?;
        Ok(Outcome::from_result(
            &c.id, &c.person, c.origin, &c.species, flow, tier, &r, &c.note,
        ))
    })
}

/// The real stills of `shared/data/real-pad` (file, bona fide).
pub const REAL_STILLS: [(&str, bool); 5] = [
    ("print_poster.jpg", false),
    ("print_id_photo.jpg", false),
    ("replay_tablet.jpg", false),
    ("bona_fide_selfie.jpg", true),
    ("bona_fide_far.jpg", true),
];

/// REAL media: the five phone stills (each repeated for one second on a passive-only flow:
/// a still cannot act out a challenge) and the decoded talking-face clip (passive-only, and
/// with the challenge of `seed`, which it does not act out), analysed offline
/// ([`Capture::Recorded`]: files are not a live camera, so the stream injection heuristics,
/// which fail every file, are not run). Missing media are skipped and said in the returned
/// notes.
pub fn run_real(
    runner: &Runner,
    shared: Option<&Path>,
    fixtures: &Path,
    seed: [u8; 32],
) -> (Vec<Outcome>, Vec<String>) {
    let mut out = Vec::new();
    let mut notes = Vec::new();
    let (flow, tier) = (FlowType::Login, RiskTier::Low);
    match shared.map(|s| s.join("data").join("real-pad")) {
        Some(dir) if dir.join("README.md").is_file() => {
            for (name, live) in REAL_STILLS {
                let path = dir.join(name);
                let r = (|| -> Result<Outcome> {
                    let img = liveproof_core::frame::file::load_upright(&path)?.rgb;
                    let frames = (0..30u64).map(|k| Ok((img.clone(), k * 33_333_333)));
                    let r = runner.run(seed, flow, tier, name, Capture::Recorded, frames)?;
                    let species = if live {
                        BONA_FIDE.to_string()
                    } else {
                        name.split('_').next().unwrap_or("attack").to_string()
                    };
                    Ok(Outcome::from_result(
                        name,
                        name,
                        Origin::Real,
                        &species,
                        flow,
                        tier,
                        &r,
                        "phone photo (shared/data/real-pad), repeated 30 times at 30 fps on a \
                         passive-only flow",
                    ))
                })();
                match r {
                    Ok(o) => out.push(o),
                    Err(e) => notes.push(format!("REAL still {name}: not run: {e:#}")),
                }
            }
        }
        _ => notes.push(
            "REAL stills skipped: the shared folder (shared/data/real-pad, \
             $LIVEPROOF_SHARED_DIR) is absent"
                .into(),
        ),
    }
    let clip = fixtures.join("talkingface_10s");
    if clip.join("capture.json").is_file() {
        for (flow, tier, note) in [
            (
                FlowType::Login,
                RiskTier::Low,
                "real talking-face clip (10 s, 720x576, 30 fps), passive-only flow",
            ),
            (
                FlowType::AccountOpening,
                RiskTier::Medium,
                "the same clip with a challenge it does not act out (expected: no pass)",
            ),
        ] {
            let r = (|| -> Result<Outcome> {
                let c = read_capture(&clip, seed)?;
                let frames = c
                    .frames
                    .iter()
                    .map(|(p, ts)| Ok((liveproof_core::frame::file::load_upright(p)?.rgb, *ts)));
                let id = format!(
                    "talkingface_10s ({})",
                    if tier == RiskTier::Low {
                        "passive"
                    } else {
                        "challenge"
                    }
                );
                let r = runner.run(seed, flow, tier, &id, Capture::Recorded, frames)?;
                Ok(Outcome::from_result(
                    &id,
                    "talkingface",
                    Origin::Real,
                    BONA_FIDE,
                    flow,
                    tier,
                    &r,
                    note,
                ))
            })();
            match r {
                Ok(o) => out.push(o),
                Err(e) => notes.push(format!("REAL clip: not run: {e:#}")),
            }
        }
    } else {
        notes.push(format!(
            "REAL clip skipped: {} is absent (`cargo xtask setup`)",
            clip.display()
        ));
    }
    (out, notes)
}
