//! `cargo xtask demo`: whole sessions on SYNTHETIC captures it makes from the Newton portrait (a bona fide capture, a
//! print and a screen replay, each acting out the challenge of one seed), decided with the
//! shipped policy and calibration bundle, printed as a table; then `calibrate`, which refits
//! that bundle.

use std::ffi::OsString;
use std::path::Path;
use std::process::Command;

use anyhow::{bail, Context, Result};

use super::{cargo, os, setup, step};

/// A fixed demo seed (any 32 bytes: the server draws a fresh one per session).
const SEED: &str = "6c6976656f726f6f662064656d6f2073656564202d2066697865642062797465";

pub fn demo() -> Result<()> {
    let paths = setup::ensure_setup(false)?;
    let out = paths.cache.join("demo");
    let _ = std::fs::remove_dir_all(&out);
    std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
    // Newton is held out of the shipped calibration (models/calibration_default.json says
    // which persons it was fitted on).
    let face = paths.fixtures.join("newton.png");
    let mut rows = Vec::new();
    for kind in ["bona_fide", "print", "replay"] {
        let dir = out.join(kind);
        let mut args = os(&[
            "run",
            "--release",
            "-q",
            "-p",
            "liveproof-synth",
            "--",
            "--image",
        ]);
        args.push(face.clone().into_os_string());
        args.extend(os(&[
            "--kind",
            kind,
            "--seed",
            "7",
            "--fps",
            "30",
            "--perform",
            SEED,
            "--out",
        ]));
        args.push(dir.clone().into_os_string());
        step(&format!("demo: synth {kind}"), &paths, cargo(), &args)?;
        rows.push((kind, analyze(&paths, &dir)?));
    }
    println!(
        "\nSYNTHETIC captures of the Newton portrait acting out seed {}..: whole sessions with \
         models/policy_default.json",
        &SEED[..8]
    );
    println!(
        "{:<10} {:<6} {:>7}  {:<60} {:>6} {:>9}",
        "capture", "band", "fused", "top reasons", "frames", "CPU"
    );
    for (kind, v) in rows {
        let r = &v["result"];
        let reasons: Vec<String> = r["reasons"]
            .as_array()
            .map(|a| {
                a.iter()
                    .take(3)
                    .filter_map(|x| x.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default();
        let t = &r["timings"];
        let ms = [
            "tracking_ms",
            "passive_ms",
            "challenge_ms",
            "matching_ms",
            "finish_ms",
        ]
        .iter()
        .map(|k| t[k].as_f64().unwrap_or(0.0))
        .sum::<f64>();
        println!(
            "{:<10} {:<6} {:>7}  {:<60} {:>6} {:>6.0} ms",
            kind,
            r["band"].as_str().unwrap_or("?"),
            r["fused"]
                .as_f64()
                .map(|f| format!("{f:.2}"))
                .unwrap_or_else(|| "-".into()),
            reasons.join(", "),
            t["frames"].as_u64().unwrap_or(0),
            ms
        );
    }
    println!(
        "(CPU: the session's stages summed over all its frames, this machine; SYNTHETIC \
         captures: they show the wiring, not a rate on real people)"
    );
    Ok(())
}

fn analyze(paths: &setup::Paths, dir: &Path) -> Result<serde_json::Value> {
    let mut args = os(&[
        "run",
        "--release",
        "-q",
        "-p",
        "liveproof-cli",
        "--",
        "analyze",
    ]);
    args.push(dir.as_os_str().to_os_string());
    args.extend(os(&["--seed", SEED, "--json"]));
    eprintln!("\n==> demo: analyze {}", dir.display());
    let out = Command::new(cargo())
        .args(&args)
        .envs(paths.env())
        .current_dir(setup::workspace_root())
        .output()
        .context("running liveproof analyze")?;
    if !out.status.success() {
        bail!(
            "liveproof analyze {} failed: {}",
            dir.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    serde_json::from_slice(&out.stdout).context("reading liveproof analyze's JSON")
}

/// `cargo xtask calibrate [ARGS]`: refits models/calibration_default.json and
/// models/policy_default.json (`liveproof-eval calibrate`).
pub fn calibrate(rest: &[String]) -> Result<()> {
    let paths = setup::ensure_setup(false)?;
    let mut args = os(&[
        "run",
        "--release",
        "-q",
        "-p",
        "liveproof-eval",
        "--",
        "calibrate",
    ]);
    if !rest.iter().any(|a| a == "--out") {
        args.push(OsString::from("--out"));
        args.push(setup::workspace_root().join("models").into_os_string());
    }
    args.extend(rest.iter().map(OsString::from));
    step("calibrate", &paths, cargo(), &args)
}
