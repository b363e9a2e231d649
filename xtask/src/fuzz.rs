//! `cargo xtask fuzz [--seconds N] [--target NAME] [--sanitizer S]`: coverage-guided fuzzing of
//! every entry point that takes bytes from outside (issue #16), with cargo-fuzz and libFuzzer.
//!
//! The targets' bodies live in `fuzz-targets/` (an ordinary workspace crate, whose test
//! replays `fuzz/corpus/`); `fuzz/` is the cargo-fuzz project calling them. cargo-fuzz needs
//! nightly compiler flags: it runs on the stable toolchain with `RUSTC_BOOTSTRAP=1`. Each
//! target runs in turn, one fuzzer process at a time, at background priority, for N seconds
//! (default 600), with a working corpus in the cache seeded from the committed one, and
//! artefacts (crash, timeout, out-of-memory inputs) written to the cache. The run fails if any
//! target leaves an artefact or reports a crash, and prints one table: executions, exec/s and
//! peak RSS per target.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{bail, Context, Result};

use crate::setup::{self, Paths};

/// The cargo-fuzz version, installed into `<cache>/tools/cargo-fuzz-<version>` on first use.
const CARGO_FUZZ_VERSION: &str = "0.13.2";

/// Every target: `fuzz/fuzz_targets/<name>.rs`, `fuzz/corpus/<name>/`, and the function of
/// the same name in `liveproof-fuzz-targets`.
pub const TARGETS: &[&str] = &[
    "frame",
    "capi_frame",
    "token_device",
    "result_verifier",
    "policy_json",
    "calibration",
    "face_template",
    "model_manifest",
    "verifier_http",
];

/// Memory limit per target, MB: libFuzzer's `-rss_limit_mb` and `-malloc_limit_mb` (a single
/// allocation that large, or a resident set growing past it, is an out-of-memory artefact).
const RSS_LIMIT_MB: u64 = 2048;

/// Seconds one input may take before it is a timeout artefact.
const TIMEOUT_S: u64 = 10;

const USAGE: &str =
    "usage: cargo xtask fuzz [--seconds N] [--target NAME] [--sanitizer address|none]";

/// What one target's run gave.
struct Run {
    target: &'static str,
    seconds: f64,
    executions: Option<u64>,
    exec_per_s: Option<u64>,
    peak_rss_mb: Option<u64>,
    new_units: Option<u64>,
    corpus_files: usize,
    /// `None` when the run was clean, else what went wrong.
    failure: Option<String>,
}

pub fn fuzz(args: &[String]) -> Result<()> {
    let mut seconds: u64 = 600;
    let mut only: Option<String> = None;
    let mut sanitizer = String::from("address");
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value = || {
            it.next()
                .cloned()
                .with_context(|| format!("`fuzz`: {a} needs a value\n{USAGE}"))
        };
        match a.as_str() {
            "--seconds" => {
                seconds = value()?.parse().with_context(|| {
                    format!("`fuzz`: --seconds: expected whole seconds\n{USAGE}")
                })?;
                if seconds == 0 {
                    bail!("`fuzz`: --seconds must be at least 1");
                }
            }
            "--target" => only = Some(value()?),
            "--sanitizer" => sanitizer = value()?,
            other => bail!("`fuzz`: unknown argument `{other}`\n{USAGE}"),
        }
    }
    if !["address", "none"].contains(&sanitizer.as_str()) {
        bail!("`fuzz`: --sanitizer {sanitizer}: expected address or none");
    }
    let targets: Vec<&'static str> = match &only {
        Some(name) => vec![*TARGETS
            .iter()
            .find(|t| **t == name.as_str())
            .with_context(|| {
                format!(
                    "`fuzz`: unknown target `{name}`; expected one of {}",
                    TARGETS.join(", ")
                )
            })?],
        None => TARGETS.to_vec(),
    };

    // capi_frame loads the real models and ONNX Runtime.
    let paths = setup::ensure_setup(false)?;
    let cargo_fuzz = crate::tools::pinned(&paths, "fuzz", "cargo-fuzz", CARGO_FUZZ_VERSION, &[])?;
    let root = setup::workspace_root();
    let fuzz_target_dir = paths.cache.join("fuzz-target");
    let mut build = vec![
        OsString::from("build"),
        "--fuzz-dir".into(),
        root.join("fuzz").into_os_string(),
        "--target-dir".into(),
        fuzz_target_dir.clone().into_os_string(),
        "--sanitizer".into(),
        sanitizer.clone().into(),
    ];
    if let Some(t) = &only {
        build.push(t.into());
    }
    let t0 = Instant::now();
    eprintln!(
        "\n==> fuzz: build: {} {}",
        cargo_fuzz.display(),
        crate::join(&build)
    );
    let status = Command::new("nice")
        .arg("-n")
        .arg("10")
        .arg(&cargo_fuzz)
        .args(&build)
        .env("RUSTC_BOOTSTRAP", "1")
        .envs(paths.env())
        .current_dir(&root)
        .status()
        .context("running cargo-fuzz build")?;
    if !status.success() {
        bail!("cargo-fuzz build failed ({status})");
    }
    eprintln!("==> fuzz: build: ok ({:.1} s)", t0.elapsed().as_secs_f64());

    let bin_dir = fuzz_target_dir
        .join(crate::tools::host_triple()?)
        .join("release");
    let mut runs = Vec::new();
    for target in targets {
        let run = run_target(&paths, &root, &bin_dir, target, seconds)?;
        eprintln!("{}", summary_line(&run));
        runs.push(run);
    }
    print_table(&runs, seconds, &sanitizer);
    let failed: Vec<&Run> = runs.iter().filter(|r| r.failure.is_some()).collect();
    if !failed.is_empty() {
        bail!(
            "{} target(s) failed: {}",
            failed.len(),
            failed
                .iter()
                .map(|r| format!("{} ({})", r.target, r.failure.as_deref().unwrap_or("")))
                .collect::<Vec<_>>()
                .join("; ")
        );
    }
    Ok(())
}

/// Runs one target for `seconds` and reads libFuzzer's final statistics.
fn run_target(
    paths: &Paths,
    root: &Path,
    bin_dir: &Path,
    target: &'static str,
    seconds: u64,
) -> Result<Run> {
    let bin = bin_dir.join(target);
    if !bin.is_file() {
        bail!("{} is missing after the build", bin.display());
    }
    let seeds = root.join("fuzz").join("corpus").join(target);
    let corpus = paths.cache.join("fuzz-corpus").join(target);
    let artifacts = paths.cache.join("fuzz-artifacts").join(target);
    // libFuzzer's job log (fuzz-0.log) is written in the working folder.
    let work = paths.cache.join("fuzz-work").join(target);
    for d in [&corpus, &artifacts, &work] {
        std::fs::create_dir_all(d).with_context(|| format!("creating {}", d.display()))?;
    }
    // The working corpus starts from (and keeps) the committed seeds.
    for entry in
        std::fs::read_dir(&seeds).with_context(|| format!("reading {}", seeds.display()))?
    {
        let p = entry?.path();
        if p.is_file() {
            let dst = corpus.join(p.file_name().context("seed file name")?);
            if !dst.exists() {
                std::fs::copy(&p, &dst).with_context(|| format!("copying {}", p.display()))?;
            }
        }
    }
    let before = list(&artifacts)?;
    let log = work.join("fuzz-0.log");
    let _ = std::fs::remove_file(&log);
    let mut prefix = artifacts.clone().into_os_string();
    prefix.push("/");
    let mut args: Vec<OsString> = vec![
        corpus.clone().into_os_string(),
        format!("-max_total_time={seconds}").into(),
        format!("-timeout={TIMEOUT_S}").into(),
        format!("-rss_limit_mb={RSS_LIMIT_MB}").into(),
        format!("-malloc_limit_mb={RSS_LIMIT_MB}").into(),
        "-print_final_stats=1".into(),
        "-workers=1".into(),
        "-jobs=1".into(),
    ];
    let mut artifact_arg = OsString::from("-artifact_prefix=");
    artifact_arg.push(&prefix);
    args.push(artifact_arg);
    eprintln!(
        "\n==> fuzz {target}: nice -n 10 {} {} (log {})",
        bin.display(),
        crate::join(&args),
        log.display()
    );
    let t0 = Instant::now();
    let status = Command::new("nice")
        .arg("-n")
        .arg("10")
        .arg(&bin)
        .args(&args)
        .envs(paths.env())
        .current_dir(&work)
        .status()
        .with_context(|| format!("running {}", bin.display()))?;
    let elapsed = t0.elapsed().as_secs_f64();
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    let stat = |name: &str| -> Option<u64> {
        text.lines()
            .filter_map(|l| l.trim().strip_prefix(&format!("stat::{name}:")))
            .next_back()
            .and_then(|v| v.trim().parse().ok())
    };
    let new_artifacts: Vec<PathBuf> = list(&artifacts)?
        .into_iter()
        .filter(|p| !before.contains(p))
        .collect();
    let crashed = [
        "==ERROR",
        "panicked at",
        "deadly signal",
        "ERROR: libFuzzer",
    ]
    .iter()
    .find(|m| text.contains(**m));
    let executions = stat("number_of_executed_units");
    let failure = if !new_artifacts.is_empty() {
        Some(format!(
            "artefact(s): {}",
            new_artifacts
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ))
    } else if let Some(m) = crashed {
        Some(format!("`{m}` in {}", log.display()))
    } else if !status.success() {
        Some(format!("exit {status}; see {}", log.display()))
    } else if executions.is_none() {
        Some(format!("no final statistics in {}", log.display()))
    } else {
        None
    };
    if failure.is_some() {
        let tail: Vec<&str> = text.lines().rev().take(40).collect();
        for l in tail.iter().rev() {
            eprintln!("  | {l}");
        }
    }
    Ok(Run {
        target,
        seconds: elapsed,
        executions,
        exec_per_s: stat("average_exec_per_sec"),
        peak_rss_mb: stat("peak_rss_mb"),
        new_units: stat("new_units_added"),
        corpus_files: list(&corpus)?.len(),
        failure,
    })
}

fn list(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut v = Vec::new();
    for e in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        v.push(e?.path());
    }
    v.sort();
    Ok(v)
}

fn opt(v: Option<u64>) -> String {
    v.map(|v| v.to_string()).unwrap_or_else(|| "?".into())
}

fn summary_line(r: &Run) -> String {
    format!(
        "==> fuzz {}: {:.0} s, {} executions ({} exec/s), peak RSS {} MB, {} new units, corpus {} files: {}",
        r.target,
        r.seconds,
        opt(r.executions),
        opt(r.exec_per_s),
        opt(r.peak_rss_mb),
        opt(r.new_units),
        r.corpus_files,
        r.failure.as_deref().unwrap_or("ok")
    )
}

fn print_table(runs: &[Run], seconds: u64, sanitizer: &str) {
    println!(
        "\nfuzz: {seconds} s per target, sanitizer {sanitizer}, -timeout={TIMEOUT_S} \
         -rss_limit_mb={RSS_LIMIT_MB} -malloc_limit_mb={RSS_LIMIT_MB}"
    );
    println!("| target | seconds | executions | exec/s | peak RSS MB | result |");
    println!("|---|---:|---:|---:|---:|---|");
    for r in runs {
        println!(
            "| {} | {:.0} | {} | {} | {} | {} |",
            r.target,
            r.seconds,
            opt(r.executions),
            opt(r.exec_per_s),
            opt(r.peak_rss_mb),
            if r.failure.is_some() {
                "FAILED"
            } else {
                "0 crashes"
            }
        );
    }
}
