//! `cargo xtask bench --check` (and `--record`): the performance regression guard, and
//! `cargo xtask bench --rss`: the peak-memory bench.
//!
//! The guard counts instructions (callgrind's `Ir`), which do not depend on the machine's load,
//! for fixed workloads of `liveproof perf run` (examples/cli/src/perf.rs): plain tracking over
//! the first 10 frames of a SYNTHETIC capture, then one whole session over it until the session
//! says it is done (a one-step challenge, a left turn; 480×640), counted in three phases: `track`, `session_push` (new +
//! every `push_frame`), `session_finish`. Each phase is a `#[no_mangle] #[inline(never)]`
//! function `lp_perf_phase_*`; callgrind runs with collection off, switched on inside those
//! functions (`--toggle-collect`) and dumps a profile as each returns (`--dump-after`), so
//! every phase's count is the `totals:` line of a dump file of its own. The session runs with
//! `off_path = false`: callgrind's collection switch is per thread, so the worker thread's
//! work would not be counted; inline, the same work runs on the caller's thread.
//!
//! The counts are compared with [`BASELINE`] (committed): a phase above baseline × (1 +
//! tolerance) fails, naming the phase, the counts and the change; a phase more than the
//! tolerance below says the baseline should be re-recorded. `--record` rewrites the baseline.
//! The workload's fingerprint (models and their sha256, frame count and size, the session's
//! frame hash) is part of the baseline: when it differs the counts are not comparable and the
//! check fails asking for a re-record.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{bail, ensure, Context, Result};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::setup::{self, find_on_path, Paths};

/// The committed baseline, relative to the workspace root.
pub const BASELINE: &str = "xtask/bench-baseline.json";

/// Allowed change per phase before the guard speaks, percent. The counts of three runs on one
/// machine differ by far less (docs/performance.md, "The regression guard"); 1 % is well above
/// that noise and well below the changes the guard is for (a lost SIMD path, an extra
/// full-frame pass: several percent of a phase).
pub const TOLERANCE_PCT: f64 = 1.0;

/// The phases `liveproof perf run` counts, in the order it runs them.
pub const PHASES: [&str; 3] = ["track", "session_push", "session_finish"];

/// What the counts were measured on: when any of it differs, counts are not comparable.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Workload {
    pub track_frames: u64,
    pub session_frames: u64,
    pub frame_size: [u64; 2],
    /// Models the session loaded, `name sha256`.
    pub models: Vec<String>,
    /// The session's running hash over the frames it consumed.
    pub frames_sha256: String,
}

/// The committed baseline file.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Baseline {
    pub schema: u32,
    pub note: String,
    pub tolerance_pct: f64,
    /// Where it was recorded (informational: counts depend on the CPU features valgrind
    /// reports to ONNX Runtime's kernel dispatch, and on the valgrind version).
    pub valgrind: String,
    pub cpu: String,
    pub workload: Workload,
    /// The session's decision when recorded (informational).
    pub result: String,
    /// Instructions (callgrind `Ir`) per phase.
    pub phases: BTreeMap<String, u64>,
}

/// One phase's verdict.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    Within,
    /// More instructions than the tolerance allows: fails.
    Regressed,
    /// Fewer by more than the tolerance: the baseline should be re-recorded.
    Cheaper,
}

/// Compares one phase's count with its baseline; returns the change in percent and the
/// verdict.
pub fn compare(baseline: u64, now: u64, tolerance_pct: f64) -> (f64, Verdict) {
    let change = (now as f64 - baseline as f64) / baseline.max(1) as f64 * 100.0;
    let v = if change > tolerance_pct {
        Verdict::Regressed
    } else if change < -tolerance_pct {
        Verdict::Cheaper
    } else {
        Verdict::Within
    };
    (change, v)
}

/// The `Ir` total of one callgrind output file: its `totals:` line, else `summary:`.
pub fn parse_total(text: &str) -> Result<u64> {
    let events: Vec<&str> = text
        .lines()
        .find_map(|l| l.strip_prefix("events:"))
        .context("callgrind output without an `events:` line")?
        .split_whitespace()
        .collect();
    let ir = events
        .iter()
        .position(|e| *e == "Ir")
        .context("callgrind output without the Ir event")?;
    let line = text
        .lines()
        .find_map(|l| l.strip_prefix("totals:"))
        .or_else(|| text.lines().find_map(|l| l.strip_prefix("summary:")))
        .context("callgrind output without a `totals:` or `summary:` line")?;
    let v = line
        .split_whitespace()
        .nth(ir)
        .context("callgrind totals line shorter than its events")?;
    v.parse()
        .with_context(|| format!("callgrind total `{v}` is not a count"))
}

/// The dump number of a callgrind output file `<prefix>.<pid>.<n>` (`None` for the final
/// dump `<prefix>.<pid>`, or another file).
fn dump_number(name: &str, prefix: &str) -> Option<u32> {
    let rest = name.strip_prefix(prefix)?.strip_prefix('.')?;
    let (_pid, n) = rest.split_once('.')?;
    n.parse().ok()
}

fn cpu_model() -> String {
    let info = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = info
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .map(|v| v.trim_start_matches([' ', '\t', ':']).trim().to_string())
        .unwrap_or_else(|| "unknown".into());
    let flags: Vec<&str> = info
        .lines()
        .find_map(|l| l.strip_prefix("flags"))
        .map(|f| {
            f.split_whitespace()
                .filter(|f| ["avx2", "fma", "avx512f", "avx512_vnni", "avx_vnni"].contains(f))
                .collect()
        })
        .unwrap_or_default();
    format!("{model} [{}]", flags.join(" "))
}

fn valgrind_version() -> Result<String> {
    let out = Command::new("valgrind")
        .arg("--version")
        .output()
        .context("running valgrind --version")?;
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// Valgrind, installed with apt-get (as the C tests install it) when missing.
fn ensure_valgrind() -> Result<()> {
    if find_on_path("valgrind").is_none() {
        crate::capi::ensure_c_toolchain()?;
    }
    ensure!(
        find_on_path("valgrind").is_some(),
        "valgrind is not on PATH after installing it"
    );
    Ok(())
}

/// Builds the CLI (release: `debug = 1` symbols) and renders the guard's frames; returns the
/// CLI and the frames file.
fn prepare(paths: &Paths, work: &Path) -> Result<(PathBuf, PathBuf)> {
    crate::step(
        "bench check: build cli (release)",
        paths,
        crate::cargo(),
        &crate::os(&["build", "--release", "-q", "-p", "liveproof-cli"]),
    )?;
    let cli = setup::target_dir().join("release").join("liveproof");
    let frames = work.join("frames.raw");
    // Rendered every time (about 5 s): the frames are the synth crate's, which may change.
    crate::step(
        "bench check: render the SYNTHETIC capture",
        paths,
        &cli,
        &[
            "perf".into(),
            "frames".into(),
            "--out".into(),
            frames.clone().into_os_string(),
        ],
    )?;
    Ok((cli, frames))
}

/// One run of the counted workload under callgrind: the counts per phase and the workload.
struct Counted {
    phases: BTreeMap<String, u64>,
    workload: Workload,
    result: String,
    seconds: f64,
}

fn run_callgrind(paths: &Paths, cli: &Path, frames: &Path, work: &Path) -> Result<Counted> {
    let prefix = "callgrind.out";
    for e in std::fs::read_dir(work)?.flatten() {
        if e.file_name().to_string_lossy().starts_with(prefix) {
            std::fs::remove_file(e.path())?;
        }
    }
    // Collection on inside `lp_perf_phases` only (with valgrind 3.19 a second
    // `--toggle-collect` did not take effect, and a `--dump-after` wildcard matched nothing),
    // one dump as each phase returns (exact names).
    let mut args: Vec<OsString> = vec![
        "--tool=callgrind".into(),
        "--collect-atstart=no".into(),
        "--toggle-collect=lp_perf_phases".into(),
    ];
    for p in PHASES {
        args.push(format!("--dump-after=lp_perf_phase_{p}").into());
    }
    args.extend::<[OsString; 6]>([
        format!(
            "--callgrind-out-file={}",
            work.join(format!("{prefix}.%p")).display()
        )
        .into(),
        cli.as_os_str().to_owned(),
        "perf".into(),
        "run".into(),
        "--frames".into(),
        frames.as_os_str().to_owned(),
    ]);
    eprintln!(
        "\n==> bench check: valgrind {}",
        args.iter()
            .map(|a| a.to_string_lossy())
            .collect::<Vec<_>>()
            .join(" ")
    );
    let t0 = Instant::now();
    let out = Command::new("valgrind")
        .args(&args)
        .envs(paths.env())
        // Plain ORT logging; the run itself prints one JSON line.
        .env("RUST_LOG", "error")
        .current_dir(setup::workspace_root())
        .stdin(Stdio::null())
        .output()
        .context("starting valgrind")?;
    let seconds = t0.elapsed().as_secs_f64();
    if !out.status.success() {
        bail!(
            "`liveproof perf run` under callgrind failed ({}):\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let summary: serde_json::Value =
        serde_json::from_slice(&out.stdout).context("the JSON summary of `liveproof perf run`")?;
    let names: Vec<String> = summary["phases"]
        .as_array()
        .context("summary: phases")?
        .iter()
        .filter_map(|p| p.as_str().map(String::from))
        .collect();
    ensure!(
        names == PHASES,
        "`liveproof perf run` reports phases {names:?}, the guard knows {PHASES:?}"
    );
    let mut dumps: Vec<(u32, PathBuf)> = std::fs::read_dir(work)?
        .flatten()
        .filter_map(|e| {
            dump_number(&e.file_name().to_string_lossy(), prefix).map(|n| (n, e.path()))
        })
        .collect();
    dumps.sort();
    ensure!(
        dumps.len() == names.len(),
        "callgrind wrote {} phase dumps in {}, expected {} (one per lp_perf_phase_* function: \
         were they inlined or renamed?)",
        dumps.len(),
        work.display(),
        names.len()
    );
    let mut phases = BTreeMap::new();
    for (name, (_, file)) in names.iter().zip(&dumps) {
        let text =
            std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
        let ir = parse_total(&text).with_context(|| format!("in {}", file.display()))?;
        ensure!(
            ir > 0,
            "phase `{name}` counted 0 instructions ({}): the collection toggle did not work",
            file.display()
        );
        phases.insert(name.clone(), ir);
    }
    let u = |k: &str| summary[k].as_u64().with_context(|| format!("summary: {k}"));
    let size = summary["frame_size"]
        .as_array()
        .context("summary: frame_size")?;
    let workload = Workload {
        track_frames: u("track_frames")?,
        session_frames: u("session_frames")?,
        frame_size: [
            size.first().and_then(|v| v.as_u64()).unwrap_or(0),
            size.get(1).and_then(|v| v.as_u64()).unwrap_or(0),
        ],
        models: summary["models"]
            .as_array()
            .context("summary: models")?
            .iter()
            .map(|m| {
                format!(
                    "{} {}",
                    m["name"].as_str().unwrap_or("?"),
                    m["sha256"].as_str().unwrap_or("?")
                )
            })
            .collect(),
        frames_sha256: summary["result"]["frames_sha256"]
            .as_str()
            .context("summary: result.frames_sha256")?
            .to_string(),
    };
    let r = &summary["result"];
    let result = format!(
        "{} {} steps {}",
        r["band"].as_str().unwrap_or("?"),
        r["reasons"],
        r["challenge_steps"]
    );
    Ok(Counted {
        phases,
        workload,
        result,
        seconds,
    })
}

fn fmt_count(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `cargo xtask bench --check` (`record`: `--record`, rewrite the baseline instead).
pub fn check(paths: &Paths, record: bool) -> Result<()> {
    let t0 = Instant::now();
    ensure_valgrind()?;
    let work = setup::target_dir().join("tmp").join("perf-guard");
    std::fs::create_dir_all(&work).with_context(|| format!("creating {}", work.display()))?;
    let (cli, frames) = prepare(paths, &work)?;
    let counted = run_callgrind(paths, &cli, &frames, &work)?;
    let baseline_path = setup::workspace_root().join(BASELINE);
    let fresh = Baseline {
        schema: 1,
        note: "Instruction counts (callgrind Ir) of `liveproof perf run`, the regression \
               guard's fixed workload; rewrite with `cargo xtask bench --record`."
            .into(),
        tolerance_pct: TOLERANCE_PCT,
        valgrind: valgrind_version()?,
        cpu: cpu_model(),
        workload: counted.workload.clone(),
        result: counted.result.clone(),
        phases: counted.phases.clone(),
    };
    eprintln!(
        "bench check: callgrind run {:.0} s; session: {}",
        counted.seconds, counted.result
    );
    if record {
        let text = serde_json::to_string_pretty(&fresh)? + "\n";
        std::fs::write(&baseline_path, text)
            .with_context(|| format!("writing {}", baseline_path.display()))?;
        println!("bench record: {} rewritten:", baseline_path.display());
        for p in PHASES {
            println!("  {p:<16} {:>18} Ir", fmt_count(counted.phases[p]));
        }
        println!("bench record: {:.0} s wall", t0.elapsed().as_secs_f64());
        return Ok(());
    }
    let base: Baseline =
        serde_json::from_str(&std::fs::read_to_string(&baseline_path).with_context(|| {
            format!(
                "reading {} (record one with `cargo xtask bench --record`)",
                baseline_path.display()
            )
        })?)
        .with_context(|| format!("parsing {}", baseline_path.display()))?;
    if base.workload != fresh.workload {
        bail!(
            "the guard's workload differs from the baseline's, so the counts are not \
             comparable; if the change is intended, re-record with `cargo xtask bench \
             --record`.\n  baseline: {:?}\n  now:      {:?}",
            base.workload,
            fresh.workload
        );
    }
    for (what, b, n) in [
        ("valgrind", &base.valgrind, &fresh.valgrind),
        ("CPU", &base.cpu, &fresh.cpu),
        ("session result", &base.result, &fresh.result),
    ] {
        if b != n {
            eprintln!(
                "bench check: note: {what} differs from the baseline's: `{b}` then, `{n}` now"
            );
        }
    }
    let tol = base.tolerance_pct;
    println!(
        "bench check: instructions (callgrind Ir) per phase against {BASELINE}, tolerance \
         ±{tol} %"
    );
    println!(
        "  {:<16} {:>18} {:>18} {:>9}",
        "phase", "baseline", "now", "change"
    );
    let (mut regressed, mut cheaper) = (Vec::new(), Vec::new());
    for p in PHASES {
        let Some(&b) = base.phases.get(p) else {
            bail!("{BASELINE} has no count for phase `{p}`: re-record it");
        };
        let n = counted.phases[p];
        let (change, v) = compare(b, n, tol);
        println!(
            "  {p:<16} {:>18} {:>18} {:>+8.2}%{}",
            fmt_count(b),
            fmt_count(n),
            change,
            match v {
                Verdict::Within => "",
                Verdict::Regressed => "  REGRESSED",
                Verdict::Cheaper => "  cheaper",
            }
        );
        let line = format!(
            "phase `{p}`: {} Ir now, {} Ir in the baseline ({change:+.2} %, tolerance ±{tol} %)",
            fmt_count(n),
            fmt_count(b)
        );
        match v {
            Verdict::Regressed => regressed.push(line),
            Verdict::Cheaper => cheaper.push(line),
            Verdict::Within => {}
        }
    }
    println!("bench check: {:.0} s wall", t0.elapsed().as_secs_f64());
    for c in &cheaper {
        println!(
            "bench check: {c}: cheaper beyond the tolerance; re-record the baseline (`cargo \
             xtask bench --record`) so that it guards the new level"
        );
    }
    if !regressed.is_empty() {
        bail!(
            "performance regression beyond the tolerance:\n  {}",
            regressed.join("\n  ")
        );
    }
    println!("bench check: ok");
    Ok(())
}

fn sha256_of(path: &Path) -> Result<String> {
    let mut f = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex::encode(h.finalize()))
}

/// `cargo xtask bench --rss`: peak RSS of one whole session with every model loaded, the
/// random-weight ViT-S/DPT standing in for depth; run twice, with this host's allocator (glibc)
/// and with Scudo, Android's allocator since Android 11 (LLVM compiler-rt's standalone build,
/// preloaded). How much freed memory goes back to the system is the allocator's policy, and
/// the two differ by tens of MB on the same session.
pub fn rss(paths: &Paths) -> Result<()> {
    let work = setup::target_dir().join("tmp").join("perf-guard");
    std::fs::create_dir_all(&work).with_context(|| format!("creating {}", work.display()))?;
    let (cli, frames) = prepare(paths, &work)?;
    // The depth stage's input side.
    let depth = crate::depth_bench_model(paths, 252)?;
    let sha = sha256_of(&depth)?;
    let run: Vec<OsString> = vec![
        cli.into_os_string(),
        "perf".into(),
        "rss".into(),
        "--frames".into(),
        frames.into_os_string(),
        "--depth-model".into(),
        depth.into_os_string(),
        "--depth-sha256".into(),
        sha.into(),
    ];
    crate::step(
        "bench rss: one whole session, every model loaded (this host's allocator)",
        paths,
        &run[0],
        &run[1..],
    )?;
    let scudo = scudo_library().or_else(|| {
        let what = "bench rss with Android's allocator";
        if let Err(e) = crate::tools::apt_install(what, &[SCUDO_PACKAGE]) {
            eprintln!("{what}: {e:#}");
        }
        scudo_library()
    });
    let Some(scudo) = scudo else {
        println!(
            "skipped: bench rss with Android's allocator: no Scudo library \
             (libclang_rt.scudo_standalone-{ARCH}.so, Debian package {SCUDO_PACKAGE}) on this host"
        );
        return Ok(());
    };
    let mut preload = OsString::from("LD_PRELOAD=");
    preload.push(&scudo);
    let mut args = vec![preload];
    args.extend(run);
    crate::step(
        "bench rss: the same session with Scudo, Android's allocator (preloaded)",
        paths,
        "env",
        &args,
    )
}

/// The Debian package with LLVM compiler-rt's standalone Scudo, installed when no version is.
const SCUDO_PACKAGE: &str = "libclang-rt-19-dev";
const ARCH: &str = std::env::consts::ARCH;

/// LLVM compiler-rt's standalone Scudo for this host, newest LLVM first:
/// `/usr/lib/llvm-*/lib/clang/*/lib/linux/libclang_rt.scudo_standalone-<arch>.so`.
fn scudo_library() -> Option<PathBuf> {
    let file = format!("libclang_rt.scudo_standalone-{ARCH}.so");
    let dirs = |p: &Path| -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> = std::fs::read_dir(p)
            .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
            .unwrap_or_default();
        // By version number, newest first (`llvm-19` before `llvm-9`).
        let version = |p: &PathBuf| -> u32 {
            let name = p.file_name().map(|n| n.to_string_lossy().into_owned());
            let name = name.unwrap_or_default();
            let digits: String = name
                .chars()
                .skip_while(|c| !c.is_ascii_digit())
                .take_while(char::is_ascii_digit)
                .collect();
            digits.parse().unwrap_or(0)
        };
        v.sort_by_key(|p| std::cmp::Reverse(version(p)));
        v
    };
    dirs(Path::new("/usr/lib"))
        .into_iter()
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("llvm-"))
        })
        .flat_map(|llvm| dirs(&llvm.join("lib").join("clang")))
        .map(|clang| clang.join("lib").join("linux").join(&file))
        .find(|p| p.is_file())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The head and totals of a real callgrind 3.19 dump (`--dump-after`), shortened.
    const DUMP: &str = "# callgrind format\nversion: 1\ncreator: callgrind-3.19.0\n\
        pid: 2567\ncmd:  liveproof perf run --frames frames.raw\npart: 1\n\n\
        desc: I1 cache: \ndesc: Timerange: Basic block 0 - 1\n\
        desc: Trigger: --dump-after=lp_perf_phase_track\n\n\
        positions: line\nevents: Ir\nsummary: 1234567890\n\n\
        ob=(1) liveproof\nfl=(1) ???\nfn=(1) lp_perf_phase_track\n0 5\n\n\
        totals: 1234567890\n";

    #[test]
    fn parses_the_ir_total_of_a_dump() {
        assert_eq!(parse_total(DUMP).unwrap(), 1_234_567_890);
        // With several events, Ir is found by name.
        let multi = "events: Dr Ir Dw\ntotals: 7 42 9\n";
        assert_eq!(parse_total(multi).unwrap(), 42);
        // `summary:` when a dump has no `totals:`.
        assert_eq!(parse_total("events: Ir\nsummary: 17\n").unwrap(), 17);
        assert!(parse_total("events: Dr\ntotals: 3\n").is_err());
        assert!(parse_total("events: Ir\n").is_err());
    }

    #[test]
    fn dump_files_are_numbered_by_phase() {
        assert_eq!(
            dump_number("callgrind.out.2567.1", "callgrind.out"),
            Some(1)
        );
        assert_eq!(
            dump_number("callgrind.out.2567.12", "callgrind.out"),
            Some(12)
        );
        // The final dump at exit (collection off there) is not a phase.
        assert_eq!(dump_number("callgrind.out.2567", "callgrind.out"), None);
        assert_eq!(dump_number("frames.raw", "callgrind.out"), None);
    }

    #[test]
    fn a_regression_beyond_the_tolerance_fails_and_a_gain_asks_for_a_record() {
        let (c, v) = compare(1_000_000, 1_009_000, 1.0);
        assert!((c - 0.9).abs() < 1e-9);
        assert_eq!(v, Verdict::Within);
        let (c, v) = compare(1_000_000, 1_020_000, 1.0);
        assert!((c - 2.0).abs() < 1e-9);
        assert_eq!(v, Verdict::Regressed);
        assert_eq!(compare(1_000_000, 950_000, 1.0).1, Verdict::Cheaper);
        assert_eq!(compare(1_000_000, 990_000, 1.0).1, Verdict::Within);
    }

    #[test]
    fn counts_print_with_thousands_separators() {
        assert_eq!(fmt_count(0), "0");
        assert_eq!(fmt_count(999), "999");
        assert_eq!(fmt_count(1_234_567), "1,234,567");
    }
}
