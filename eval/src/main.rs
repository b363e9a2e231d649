//! `liveproof-eval`: calibrate LiveProof's signals on SYNTHETIC captures (person-disjoint)
//! and write the default calibration bundle and policy (`calibrate`); evaluate whole
//! sessions on labelled captures into `metrics.json`, `report.html` and a fusion table
//! (`eval`); write the SYNTHETIC evaluation set as capture folders (`gen-set`); train the
//! logistic fusion on a fusion table (`train-fusion`). `cargo xtask calibrate | eval |
//! train-fusion` run it with the set-up cache's models and fixtures.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
use liveproof_core::engine::{DetectorKind, Engine, EngineConfig};
use liveproof_core::passive::analyzer::PassiveConfig;
use liveproof_core::policy::{FlowType, RiskTier};
use liveproof_core::policy::{LoadedPolicy, Policy};
use liveproof_eval::outcome::{self, Origin, Outcome};
use liveproof_eval::report::{self, RunInfo};
use liveproof_eval::sessions::{self, Runner, SetOptions};
use liveproof_eval::{fit_bundle, fitted_persons, persons, render, split, PassiveScorer, Sample};
use liveproof_synth::Kind;

#[derive(Parser)]
#[command(name = "liveproof-eval", version, about)]
struct Cli {
    /// Model folder (default: $LIVEPROOF_MODELS_DIR).
    #[arg(long, global = true)]
    models_dir: Option<PathBuf>,
    /// Fixture folder with the public-domain photos (default: $LIVEPROOF_FIXTURES_DIR).
    #[arg(long, global = true)]
    fixtures: Option<PathBuf>,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Fits the calibration bundle on the fitting half of the SYNTHETIC persons and writes
    /// `calibration_default.json` and `policy_default.json` (the recommended policy set on
    /// that bundle) into OUT.
    Calibrate {
        #[arg(long, default_value = "models")]
        out: PathBuf,
        /// Frames per capture (30 fps).
        #[arg(long, default_value_t = 45)]
        frames: u32,
        /// Seeds per person and kind (6 made the shipped bundle: with 2, a signal's
        /// calibration rests on 4 bona fide captures).
        #[arg(long, default_value_t = 6)]
        seeds: u64,
        /// Solvay 1927 faces added to the three portraits.
        #[arg(long, default_value_t = 8)]
        solvay: usize,
    },
    /// Whole sessions over labelled captures, decided with a policy and calibration bundle
    /// (default: the shipped ones): writes `metrics.json`, `report.html` and
    /// `fusion_table.csv` into OUT. CAPTURES are capture folders (liveproof-synth's format,
    /// with an optional `eval.json`) or folders of them; `--synthetic` adds the SYNTHETIC set
    /// rendered in memory on the persons the calibration was not fitted on; `--real` the REAL
    /// media (shared stills, the decoded clip), reported apart.
    Eval {
        captures: Vec<PathBuf>,
        #[command(flatten)]
        set: SetArgs,
        /// Add the SYNTHETIC evaluation set (held-out persons only).
        #[arg(long)]
        synthetic: bool,
        /// Add the REAL media (per item, never pooled with SYNTHETIC).
        #[arg(long)]
        real: bool,
        #[arg(long)]
        out: PathBuf,
        /// Policy JSON (default: models/policy_default.json as built in).
        #[arg(long)]
        policy: Option<PathBuf>,
        /// Calibration bundle JSON (default: models/calibration_default.json as built in).
        #[arg(long)]
        calibration: Option<PathBuf>,
        /// Session seed for capture folders without `eval.json` (64 hex digits).
        #[arg(long)]
        seed: Option<String>,
        /// Flow and risk tier of every session (REAL stills always run passive-only).
        #[arg(long, default_value = "account_opening")]
        flow: String,
        #[arg(long, default_value = "medium")]
        tier: String,
        /// Worker threads.
        #[arg(long, default_value_t = 2)]
        jobs: usize,
        /// Outcomes of an earlier run (its metrics.json) to report together with this run's
        /// (e.g. a set run in parts); repeatable.
        #[arg(long)]
        merge: Vec<PathBuf>,
    },
    /// Writes the SYNTHETIC evaluation set as capture folders (each with `eval.json`: species,
    /// person, the session's seed and the seed acted out) for `eval CAPTURES...`.
    GenSet {
        #[command(flatten)]
        set: SetArgs,
        #[arg(long)]
        out: PathBuf,
        #[arg(long, default_value_t = 2)]
        jobs: usize,
    },
    /// Trains the logistic fusion (prior 0.5, small L2) on a fusion table's SYNTHETIC rows,
    /// person-disjoint, prints hold-out Cllr / minCllr / EER before and after, and writes the
    /// fusion in the policy's form (`"fusion": {...}`) to OUT.
    TrainFusion {
        /// The fusion table (`fusion_table.csv` from `eval`).
        #[arg(long)]
        csv: PathBuf,
        /// The policy whose fusion is "before" (default: the shipped one).
        #[arg(long)]
        policy: Option<PathBuf>,
        #[arg(long, default_value = "models/fusion_logistic.json")]
        out: PathBuf,
        /// Also write the policy with this fusion in place (same bands and calibration).
        #[arg(long)]
        policy_out: Option<PathBuf>,
        #[arg(long, default_value_t = 1e-3)]
        l2: f64,
        /// Attack species left out of training: those the passive signals are not meant to
        /// catch (a live capture for another seed, an injected stream).
        #[arg(long, value_delimiter = ',', default_value = "other_seed,injection")]
        exclude_species: Vec<String>,
    },
}

/// The SYNTHETIC evaluation set's size.
#[derive(clap::Args, Clone, Debug)]
struct SetArgs {
    /// Solvay 1927 faces added to the three portraits (the photo has 29 people).
    #[arg(long, default_value_t = 29)]
    solvay: usize,
    /// Held-out persons used at most (0 = all).
    #[arg(long, default_value_t = 0)]
    max_persons: usize,
    /// Bona fide captures per person.
    #[arg(long, default_value_t = 2)]
    bona_fide: usize,
    /// Person j gets attack species s when (j + s) % STRIDE == 0.
    #[arg(long, default_value_t = 2)]
    attack_stride: usize,
    /// Only these held-out persons (comma-separated ids: newton, solvay00, ...; default:
    /// every held-out person).
    #[arg(long, value_delimiter = ',')]
    persons: Vec<String>,
    /// Captures per attack species for each person that gets the species.
    #[arg(long, default_value_t = 1)]
    attack_reps: usize,
    /// Only these species of the set (comma-separated: bona_fide, print_flat_edges, ...;
    /// default: all).
    #[arg(long, value_delimiter = ',')]
    species: Vec<String>,
    /// At most this many captures per replay species (0 = no cap; the screen renderer is
    /// the slowest by far).
    #[arg(long, default_value_t = 0)]
    replay_max: usize,
    /// Frame rate of the captures.
    #[arg(long, default_value_t = 30.0)]
    fps: f64,
}

const DEFAULT_POLICY: &str = include_str!("../../models/policy_default.json");
const DEFAULT_CALIBRATION: &str = include_str!("../../models/calibration_default.json");

fn read_or(path: &Option<PathBuf>, default: &str) -> Result<String> {
    match path {
        Some(p) => std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display())),
        None => Ok(default.to_string()),
    }
}

fn enum_arg<T: serde::de::DeserializeOwned>(what: &str, v: &str) -> Result<T> {
    serde_json::from_value(serde_json::Value::String(v.to_string()))
        .map_err(|_| anyhow::anyhow!("--{what} `{v}` is not one of the documented values"))
}

/// Every person, the set over the held-out ones, their ids, and the calibration's
/// `fitted_on` text.
type HeldOutSet = (
    Vec<liveproof_eval::Person>,
    Vec<sessions::SynthSpec>,
    Vec<String>,
    String,
);

/// The held-out persons (not in the calibration's `fitted_on` list) and the set over them.
fn held_out_set(
    engine: &std::sync::Arc<Engine>,
    fixtures: &std::path::Path,
    calibration_json: &str,
    set: &SetArgs,
) -> Result<HeldOutSet> {
    let bundle = liveproof_core::calibration::CalibrationBundle::from_json(calibration_json)?;
    let fitted = fitted_persons(&bundle.fitted_on);
    if fitted.is_empty() {
        eprintln!(
            "eval: the calibration bundle names no fitted persons; every person is reported on"
        );
    }
    let people = persons(engine, fixtures, set.solvay)?;
    let mut held: Vec<(usize, String)> = people
        .iter()
        .enumerate()
        .filter(|(_, p)| !fitted.contains(&p.id))
        .map(|(i, p)| (i, p.id.clone()))
        .collect();
    if !set.persons.is_empty() {
        for p in &set.persons {
            if fitted.contains(p) {
                bail!("--persons {p}: the calibration was fitted on {p}; report on held-out persons only");
            }
        }
        held.retain(|(_, id)| set.persons.contains(id));
    }
    if set.max_persons > 0 {
        held.truncate(set.max_persons);
    }
    let mut specs = sessions::synthetic_set(
        &held,
        &SetOptions {
            bona_fide: set.bona_fide,
            attack_stride: set.attack_stride,
            replay_max: set.replay_max,
            attack_reps: set.attack_reps,
            fps: set.fps,
        },
    );
    if !set.species.is_empty() {
        specs.retain(|s| set.species.contains(&s.species));
    }
    let ids = held.into_iter().map(|h| h.1).collect();
    Ok((people, specs, ids, bundle.fitted_on.clone()))
}

fn env_path(given: &Option<PathBuf>, flag: &str, var: &str) -> Result<PathBuf> {
    given
        .clone()
        .or_else(|| std::env::var_os(var).map(PathBuf::from))
        .with_context(|| format!("give --{flag} or set {var} (`cargo xtask env`)"))
}

fn main() -> Result<()> {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn")).init();
    let cli = Cli::parse();
    // train-fusion reads a table only: no models, no fixtures.
    let (models_dir, fixtures) = if matches!(cli.cmd, Cmd::TrainFusion { .. }) {
        (PathBuf::new(), PathBuf::new())
    } else {
        (
            env_path(&cli.models_dir, "models-dir", "LIVEPROOF_MODELS_DIR")?,
            env_path(&cli.fixtures, "fixtures", "LIVEPROOF_FIXTURES_DIR")?,
        )
    };
    let ecfg = EngineConfig {
        models_dir,
        runtime_path: std::env::var_os("ORT_DYLIB_PATH").map(PathBuf::from),
        detector: DetectorKind::BlazeFaceFront,
        ..EngineConfig::default()
    };
    match cli.cmd {
        Cmd::Eval {
            captures,
            set,
            synthetic,
            real,
            out,
            policy,
            calibration,
            seed,
            flow,
            tier,
            jobs,
            merge,
        } => {
            let t0 = Instant::now();
            let flow: FlowType = enum_arg("flow", &flow)?;
            let tier: RiskTier = enum_arg("tier", &tier)?;
            let policy_json = read_or(&policy, DEFAULT_POLICY)?;
            let calibration_json = read_or(&calibration, DEFAULT_CALIBRATION)?;
            let engine = std::sync::Arc::new(Engine::new(ecfg.clone()).context("engine")?);
            let runner = Runner::new(&ecfg, engine.clone(), &policy_json, &calibration_json)?;
            let default_seed = match &seed {
                Some(h) => sessions::parse_hex32(h)?,
                None => sessions::seed_of("liveproof-eval default seed"),
            };
            let mut outcomes: Vec<Outcome> = Vec::new();
            let mut failures = Vec::new();
            let mut info = RunInfo {
                policy_sha256: runner.policy.sha256.clone(),
                calibration_sha256: runner.calibration.sha256.clone(),
                flow_tier: format!("{flow:?} / {tier:?}"),
                fitted_on: runner.calibration.bundle.fitted_on.clone(),
                ..RunInfo::default()
            };
            if synthetic {
                let (people, specs, held, _) =
                    held_out_set(&engine, &fixtures, &calibration_json, &set)?;
                eprintln!(
                    "eval: SYNTHETIC set: {} sessions on {} held-out persons",
                    specs.len(),
                    held.len()
                );
                let mut per_species: std::collections::BTreeMap<&str, usize> = Default::default();
                for s in &specs {
                    *per_species.entry(s.species.as_str()).or_default() += 1;
                }
                info.synthetic_description = format!(
                    "{} SYNTHETIC sessions (liveproof-synth {}, 480x640 at {} fps, rendered in \
                     memory) on {} held-out persons: {}. Each capture acts out a challenge plan \
                     (liveproof-synth's perform_plan): bona fide and most attacks that of the \
                     session's own seed; `replay` and `other_seed` that of another seed. {} bona \
                     fide per person; person j gets attack species s when (j + s) % {} = 0.",
                    specs.len(),
                    liveproof_synth::VERSION,
                    set.fps,
                    held.len(),
                    per_species
                        .iter()
                        .map(|(k, v)| format!("{k} {v}"))
                        .collect::<Vec<_>>()
                        .join(", "),
                    set.bona_fide,
                    set.attack_stride
                );
                info.held_out_persons = held;
                for (spec, r) in specs.iter().zip(sessions::run_synthetic(
                    &runner, &people, &specs, flow, tier, set.fps, jobs,
                )) {
                    match r {
                        Ok(o) => outcomes.push(o),
                        Err(e) => failures.push(format!("{}: {e:#}", spec.id)),
                    }
                }
            }
            if !captures.is_empty() {
                let caps = sessions::find_captures(&captures, default_seed)?;
                for (c, r) in caps
                    .iter()
                    .zip(sessions::run_folders(&runner, &caps, flow, tier, jobs))
                {
                    match r {
                        Ok(o) => outcomes.push(o),
                        Err(e) => failures.push(format!("{}: {e:#}", c.dir.display())),
                    }
                }
                if !synthetic {
                    let mut persons: Vec<String> = caps
                        .iter()
                        .filter(|c| c.origin == Origin::Synthetic)
                        .map(|c| c.person.clone())
                        .collect();
                    persons.sort();
                    persons.dedup();
                    info.synthetic_description = format!(
                        "{} capture folders from {}",
                        caps.len(),
                        captures
                            .iter()
                            .map(|c| c.display().to_string())
                            .collect::<Vec<_>>()
                            .join(", ")
                    );
                    info.held_out_persons = persons;
                }
            }
            for m in &merge {
                let v: serde_json::Value = serde_json::from_str(
                    &std::fs::read_to_string(m)
                        .with_context(|| format!("reading {}", m.display()))?,
                )
                .with_context(|| format!("{} is not JSON", m.display()))?;
                let earlier: Vec<Outcome> = serde_json::from_value(v["outcomes"].clone())
                    .with_context(|| format!("{}: `outcomes`", m.display()))?;
                for n in v["info"]["notes"].as_array().into_iter().flatten() {
                    // Whitespace collapsed (older runs wrapped some text with runs of spaces).
                    let n = n
                        .as_str()
                        .unwrap_or_default()
                        .split_whitespace()
                        .collect::<Vec<_>>();
                    let n = n.join(" ");
                    if !n.is_empty() && !info.notes.contains(&n) {
                        info.notes.push(n);
                    }
                }
                if let Some(d) = v["info"]["synthetic_description"].as_str() {
                    info.synthetic_description = format!(
                        "{} Merged from {}: {}",
                        info.synthetic_description,
                        m.display(),
                        d.split_whitespace().collect::<Vec<_>>().join(" ")
                    );
                }
                if let Some(p) = v["info"]["held_out_persons"].as_array() {
                    for x in p.iter().filter_map(|x| x.as_str()) {
                        if !info.held_out_persons.iter().any(|h| h == x) {
                            info.held_out_persons.push(x.to_string());
                        }
                    }
                }
                if v["info"]["policy_sha256"].as_str() != Some(info.policy_sha256.as_str())
                    || v["info"]["calibration_sha256"].as_str()
                        != Some(info.calibration_sha256.as_str())
                {
                    bail!(
                        "{}: made with another policy or calibration bundle; not merged",
                        m.display()
                    );
                }
                // The same id is the same capture (its seeds derive from person, species and
                // repetition): counted once, or a run made in overlapping parts would weigh
                // some presentations twice.
                let before = earlier.len();
                let fresh: Vec<Outcome> = earlier
                    .into_iter()
                    .filter(|o| !outcomes.iter().any(|x: &Outcome| x.id == o.id))
                    .collect();
                eprintln!(
                    "eval: merged {} outcomes from {}{}",
                    fresh.len(),
                    m.display(),
                    match before - fresh.len() {
                        0 => String::new(),
                        n => format!(" ({n} already present by id, counted once)"),
                    }
                );
                outcomes.extend(fresh);
            }
            if real {
                let shared = std::env::var_os("LIVEPROOF_SHARED_DIR").map(PathBuf::from);
                let (o, notes) =
                    sessions::run_real(&runner, shared.as_deref(), &fixtures, default_seed);
                outcomes.extend(o);
                info.notes.extend(notes);
            }
            for f in &failures {
                eprintln!("eval: not run: {f}");
                info.notes.push(format!("not run: {f}"));
            }
            let disclaimer = "SYNTHETIC captures are warped photos with simulated print, screen \
                              and camera physics: they show how the pipeline reacts to that \
                              physics, not its error rates on real people or real attack \
                              instruments.";
            if !info.notes.iter().any(|n| n == disclaimer) {
                info.notes.push(disclaimer.into());
            }
            let attempts = runner.policy.policy.max_consecutive_failures;
            let summary = match outcome::summarise(
                &outcomes,
                Origin::Synthetic,
                attempts,
                &runner.policy.policy.fusion.linear(),
            ) {
                Ok(s) => Some(s),
                Err(e) => {
                    info.notes.push(format!("no SYNTHETIC summary: {e:#}"));
                    None
                }
            };
            std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
            let real_items: Vec<&Outcome> = outcomes
                .iter()
                .filter(|o| o.origin == Origin::Real)
                .collect();
            let metrics = serde_json::json!({
                "generated_by": format!("liveproof-eval {}", env!("CARGO_PKG_VERSION")),
                "info": info,
                "SYNTHETIC": summary,
                "REAL_items": real_items,
                "outcomes": outcomes,
            });
            std::fs::write(
                out.join("metrics.json"),
                serde_json::to_string_pretty(&metrics)? + "\n",
            )?;
            std::fs::write(
                out.join("report.html"),
                report::html(&info, summary.as_ref(), &outcomes),
            )?;
            std::fs::write(out.join("fusion_table.csv"), outcome::to_csv(&outcomes))?;
            if let Some(s) = &summary {
                println!(
                    "SYNTHETIC (held-out persons), per attempt, {:?} / {:?}:",
                    flow, tier
                );
                println!(
                    "  bona fide n={}: BPCER {}; retry {}",
                    s.bona_fide.n,
                    s.bona_fide.bpcer.display(),
                    s.bona_fide.retry_rate.display()
                );
                for r in &s.species {
                    println!(
                        "  {:<22} n={:<3} APCER {}; retry {}",
                        r.species,
                        r.n,
                        r.apcer.display(),
                        r.retry_rate.display()
                    );
                }
                println!(
                    "  APCER max {} ({}); BPCER20 {}; BPCER100 {}; EER (pooled) {}",
                    s.apcer_max.display(),
                    s.apcer_max_species,
                    s.bpcer20.bpcer.display(),
                    s.bpcer100.bpcer.display(),
                    liveproof_eval::metrics::pct(s.eer_all)
                );
            }
            for o in &real_items {
                println!(
                    "  REAL {:<28} {:<10} {:?} fused {:?} {}",
                    o.id,
                    o.species,
                    o.band,
                    o.fused.map(|f| (f * 100.0).round() / 100.0),
                    o.reasons.join(",")
                );
            }
            println!(
                "eval: {} sessions ({} not run) -> {} ({:.0} s)",
                outcomes.len(),
                failures.len(),
                out.display(),
                t0.elapsed().as_secs_f64()
            );
            Ok(())
        }
        Cmd::GenSet { set, out, jobs } => {
            let t0 = Instant::now();
            let engine = std::sync::Arc::new(Engine::new(ecfg.clone()).context("engine")?);
            let policy = LoadedPolicy::from_json(DEFAULT_POLICY)?;
            let (people, specs, held, _) =
                held_out_set(&engine, &fixtures, DEFAULT_CALIBRATION, &set)?;
            sessions::write_set(
                &people,
                &specs,
                &policy.policy.challenge.plan,
                set.fps,
                &out,
                jobs,
            )?;
            println!(
                "gen-set: {} SYNTHETIC capture folders of {} held-out persons in {} ({:.0} s)",
                specs.len(),
                held.len(),
                out.display(),
                t0.elapsed().as_secs_f64()
            );
            Ok(())
        }
        Cmd::TrainFusion {
            csv,
            policy,
            out,
            policy_out,
            l2,
            exclude_species,
        } => {
            let text = std::fs::read_to_string(&csv)
                .with_context(|| format!("reading {}", csv.display()))?;
            let rows = outcome::read_table(&text)?;
            let policy = LoadedPolicy::from_json(&read_or(&policy, DEFAULT_POLICY)?)?;
            let before = policy.policy.fusion.linear();
            let describe = format!(
                "fusion table {} ({} rows; SYNTHETIC rows only)",
                csv.display(),
                rows.len()
            );
            let t = liveproof_eval::fusion::train(&rows, &before, l2, &exclude_species, &describe)?;
            println!(
                "train-fusion: person-disjoint split: train [{}] ({} bona fide, {} attack), \
                 hold-out [{}] ({} bona fide, {} attack)",
                t.train_persons.join(", "),
                t.train_rows.0,
                t.train_rows.1,
                t.holdout_persons.join(", "),
                t.holdout_rows.0,
                t.holdout_rows.1
            );
            println!(
                "  hold-out        Cllr (bits)  minCllr (bits)  EER\n  before (policy) {:>11.3}  {:>14.3}  {}\n  after (trained) {:>11.3}  {:>14.3}  {}",
                t.before.cllr,
                t.before.min_cllr,
                liveproof_eval::metrics::pct(t.before.eer),
                t.after.cllr,
                t.after.min_cllr,
                liveproof_eval::metrics::pct(t.after.eer)
            );
            let fusion_json = serde_json::to_string_pretty(&serde_json::json!({
                "fusion": t.fusion,
            }))?;
            if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir)?;
            }
            std::fs::write(&out, fusion_json + "\n")
                .with_context(|| format!("writing {}", out.display()))?;
            println!(
                "train-fusion: {} (the policy's `fusion` field)",
                out.display()
            );
            if let Some(p) = policy_out {
                let mut pol = policy.policy.clone();
                pol.fusion = t.fusion.clone();
                let loaded = LoadedPolicy::new(pol)?;
                std::fs::write(&p, serde_json::to_string_pretty(&loaded.policy)? + "\n")
                    .with_context(|| format!("writing {}", p.display()))?;
                println!(
                    "train-fusion: policy with it: {} (sha256 {})",
                    p.display(),
                    loaded.sha256
                );
            }
            Ok(())
        }
        Cmd::Calibrate {
            out,
            frames,
            seeds,
            solvay,
        } => {
            let t0 = Instant::now();
            let engine = std::sync::Arc::new(Engine::new(ecfg.clone()).context("engine")?);
            let people = persons(&engine, &fixtures, solvay)?;
            let (fit, held) = split(&people);
            let scorer = PassiveScorer::new(
                &ecfg,
                PassiveConfig {
                    depth_model: String::new(),
                    ..PassiveConfig::default()
                },
            );
            let mut samples = Vec::new();
            for p in &fit {
                for kind in [Kind::BonaFide, Kind::Print, Kind::Replay] {
                    for seed in 0..seeds {
                        let seed = 100 + seed;
                        let capture = render(&p.source, kind, seed, frames, 30.0)?;
                        for score in scorer.score(&engine, &capture)? {
                            samples.push(Sample {
                                person: p.id.clone(),
                                kind,
                                score,
                            });
                        }
                    }
                }
                eprintln!(
                    "calibrate: {} done ({:.0} s)",
                    p.id,
                    t0.elapsed().as_secs_f64()
                );
            }
            let fit_ids: Vec<&str> = fit.iter().map(|p| p.id.as_str()).collect();
            let held_ids: Vec<&str> = held.iter().map(|p| p.id.as_str()).collect();
            let fitted_on = format!(
                "SYNTHETIC captures (liveproof-synth) of {} persons [{}]: bona fide against print \
                 and screen replay, {seeds} seeds each, {frames} frames at 30 fps; persons [{}] \
                 held out for evaluation",
                fit.len(),
                fit_ids.join(", "),
                held_ids.join(", ")
            );
            let (bundle, lines) = fit_bundle(&samples, &fitted_on)?;
            for l in &lines {
                eprintln!("calibrate: {l}");
            }
            let sha = bundle.sha256_hex()?;
            std::fs::create_dir_all(&out)?;
            let bundle_path = out.join("calibration_default.json");
            std::fs::write(&bundle_path, bundle.to_json_pretty()? + "\n")
                .with_context(|| format!("writing {}", bundle_path.display()))?;
            let policy = LoadedPolicy::new(Policy::recommended(&sha))?;
            let policy_path = out.join("policy_default.json");
            std::fs::write(
                &policy_path,
                serde_json::to_string_pretty(&policy.policy)? + "\n",
            )
            .with_context(|| format!("writing {}", policy_path.display()))?;
            println!(
                "calibrate: {} (sha256 {sha}) and {} (sha256 {}) in {:.0} s",
                bundle_path.display(),
                policy_path.display(),
                policy.sha256,
                t0.elapsed().as_secs_f64()
            );
            Ok(())
        }
    }
}
