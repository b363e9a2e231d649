//! `liveproof-eval`: calibrate LiveProof's signals on SYNTHETIC captures (person-disjoint),
//! and write the default calibration bundle and policy. `cargo xtask calibrate` runs it with
//! the set-up cache's models and fixtures.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use liveproof_core::engine::{DetectorKind, Engine, EngineConfig};
use liveproof_core::passive::analyzer::PassiveConfig;
use liveproof_core::policy::{LoadedPolicy, Policy};
use liveproof_eval::{fit_bundle, persons, render, split, PassiveScorer, Sample};
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
        /// Seeds per person and kind.
        #[arg(long, default_value_t = 2)]
        seeds: u64,
        /// Solvay 1927 faces added to the three portraits.
        #[arg(long, default_value_t = 8)]
        solvay: usize,
    },
}

fn env_path(given: &Option<PathBuf>, var: &str) -> Result<PathBuf> {
    given
        .clone()
        .or_else(|| std::env::var_os(var).map(PathBuf::from))
        .with_context(|| {
            format!(
                "give --{} or set {var} (`cargo xtask env`)",
                var.to_lowercase()
            )
        })
}

fn main() -> Result<()> {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn")).init();
    let cli = Cli::parse();
    let models_dir = env_path(&cli.models_dir, "LIVEPROOF_MODELS_DIR")?;
    let fixtures = env_path(&cli.fixtures, "LIVEPROOF_FIXTURES_DIR")?;
    let ecfg = EngineConfig {
        models_dir,
        runtime_path: std::env::var_os("ORT_DYLIB_PATH").map(PathBuf::from),
        detector: DetectorKind::BlazeFaceFront,
        ..EngineConfig::default()
    };
    match cli.cmd {
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
