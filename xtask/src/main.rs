//! LiveProof's single entry point: `cargo xtask <command>`. CI and people run the same commands.

mod aar;
mod benchcheck;
mod bindings;
mod capi;
mod demo;
mod eval;
mod fuzz;
mod setup;
mod size;
mod synth;
mod tools;
mod xcframework;

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::{Command, ExitCode};
use std::time::Instant;

use anyhow::{bail, Context, Result};

use setup::Paths;

const USAGE: &str = "\
usage: cargo xtask <command> [options]

commands:
  setup [--reference]  fetch ONNX Runtime, the models and the fixtures into the cache and check
                       their sha256; --reference also builds the MediaPipe reference venv
  env [--reference]    set up, then print `export NAME=value` lines for a shell (eval them)
  test                 setup --reference, then fmt, clippy, the no_std check and cargo test
  demo                 setup, then whole sessions (`liveproof analyze`) on SYNTHETIC bona fide,
                       print and replay captures it makes; prints a table
  calibrate [...]      setup, then refit models/calibration_default.json and
                       models/policy_default.json on SYNTHETIC captures (`liveproof-eval
                       calibrate --help`)
  eval [CAPTURES_DIR...] [--synthetic] [--real] --out DIR [...]
                       setup, then whole sessions over labelled captures (capture folders,
                       the SYNTHETIC set on held-out persons, the REAL media apart) into
                       DIR/metrics.json, report.html and fusion_table.csv (`liveproof-eval
                       eval --help`)
  train-fusion --csv FILE [...]
                       setup, then the person-disjoint logistic fusion on a fusion table;
                       writes models/fusion_logistic.json (`liveproof-eval train-fusion --help`)
  bench                setup --reference, criterion benches, then MediaPipe's FaceMesh graph
                       and ours side by side on the same frames (ratio);
                       --compare-only runs just the side-by-side part; --kotlin runs just the
                       JVM frame-boundary benchmark (pushFrame vs pushYuv420888); --check
                       compares callgrind instruction counts of fixed frames and a fixed
                       session with xtask/bench-baseline.json (fails beyond 1 %), --record
                       rewrites that baseline; --rss prints the peak RSS of a whole session
                       with every model loaded, with glibc and with Scudo (Android's
                       allocator, preloaded)
  size [--target T] [--variant ort|tract] [--lto L] [--codegen-units N] [--opt-level O]
       [--ort-lib PATH] [--top N]
                       the stripped native payload per ABI (our library + the inference
                       runtime) and what takes the space
  aar [--out DIR] [--check]
                       the Android archive of the Kotlin bindings (classes.jar, jni/<abi>/,
                       manifest, consumer rules, POM) into DIR (default <target>/aar); the
                       NDK's ABIs with ANDROID_NDK_HOME set, else the HOST library, labelled;
                       --check unzips it and checks its entries, manifest and POM
  xcframework [--no-oslog]
                       macOS with Xcode: bindings-swift/LiveProofFFI.xcframework (device,
                       simulator and macOS slices), its zip and checksum; elsewhere prints the
                       steps and fails
  gen [--check]        regenerate the C header, the Kotlin and the Swift sources; --check fails
                       if any checked-in file would change
  fuzz [--seconds N] [--target NAME] [--sanitizer address|none]
                       cargo-fuzz (pinned, on stable with RUSTC_BOOTSTRAP=1) on every target of
                       fuzz/ in turn, N seconds each (default 600), corpora and artefacts in the
                       cache; fails on any crash, timeout or out-of-memory; prints executions,
                       exec/s and peak RSS per target
  synth --image IMG --kind K --seed N --frames K --fps F --out DIR [...]
                       setup, then write a SYNTHETIC capture from one photo (`synth --help`)

The cache is $LIVEPROOF_CACHE, else ~/.cache/liveproof. Child processes get LIVEPROOF_CACHE,
LIVEPROOF_MODELS_DIR, ORT_DYLIB_PATH, LIVEPROOF_FIXTURES_DIR, LIVEPROOF_SHARED_DIR (the shared
folder, $LIVEPROOF_SHARED_DIR else ../shared beside the workspace, when it exists) and
LIVEPROOF_REF_PYTHON.";

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((cmd, rest)) = args.split_first() else {
        eprintln!("{USAGE}");
        bail!("no command given");
    };
    let flag = |name: &str| rest.iter().any(|a| a == name);
    let allow = |known: &[&str]| -> Result<()> {
        match rest.iter().find(|a| !known.contains(&a.as_str())) {
            Some(a) => bail!("`{cmd}`: unknown argument `{a}`\n\n{USAGE}"),
            None => Ok(()),
        }
    };
    match cmd.as_str() {
        "setup" => {
            allow(&["--reference"])?;
            let paths = setup::ensure_setup(flag("--reference"))?;
            eprintln!("  downloads: {}", paths.downloads.display());
            eprintln!("  converter python: {}", paths.venv_python.display());
            for (k, v) in paths.env() {
                eprintln!("  {k}={}", v.to_string_lossy());
            }
            Ok(())
        }
        "env" => {
            allow(&["--reference"])?;
            let paths = setup::ensure_setup(flag("--reference"))?;
            for (k, v) in paths.env() {
                println!("export {k}='{}'", v.to_string_lossy());
            }
            Ok(())
        }
        "test" => {
            allow(&[])?;
            test()
        }
        "demo" => {
            allow(&[])?;
            demo::demo()
        }
        "calibrate" => demo::calibrate(rest),
        "eval" => eval::eval(rest),
        "train-fusion" => eval::train_fusion(rest),
        "bench" => {
            allow(&["--compare-only", "--kotlin", "--check", "--record", "--rss"])?;
            if flag("--check") || flag("--record") {
                let paths = setup::ensure_setup(false)?;
                return benchcheck::check(&paths, flag("--record"));
            }
            if flag("--rss") {
                let paths = setup::ensure_setup(false)?;
                return benchcheck::rss(&paths);
            }
            if flag("--kotlin") {
                let paths = setup::ensure_setup(false)?;
                return bindings::bench(&paths);
            }
            bench(flag("--compare-only"))
        }
        "size" => size::run(&setup::workspace_root(), rest).map(|_| ()),
        "aar" => {
            let mut out = None;
            let mut check = false;
            let mut args = rest.iter();
            while let Some(a) = args.next() {
                match (a.as_str(), args.as_slice().first()) {
                    ("--out", Some(dir)) => {
                        out = Some(PathBuf::from(dir));
                        args.next();
                    }
                    ("--check", _) => check = true,
                    _ => bail!("`aar`: usage: cargo xtask aar [--out DIR] [--check]\n\n{USAGE}"),
                }
            }
            let paths = setup::ensure_setup(false)?;
            let aar = aar::aar(&paths, out.as_deref(), true)?;
            if check {
                for c in aar::check_aar(&aar)? {
                    eprintln!("  aar check: {c}");
                }
                let probe = setup::target_dir().join("tmp").join("aar-ndk-probe");
                match aar::ndk_probe(&probe)? {
                    Some(c) => eprintln!("  aar check: {c}"),
                    None => eprintln!("  aar check: skipped the NDK plumbing probe"),
                }
            }
            Ok(())
        }
        "gen" => {
            allow(&["--check"])?;
            gen(flag("--check"))
        }
        "synth" => synth::run(rest),
        "fuzz" => fuzz::fuzz(rest),
        "xcframework" => xcframework::xcframework(rest),
        "help" | "--help" | "-h" => {
            println!("{USAGE}");
            Ok(())
        }
        other => bail!("unknown command `{other}`\n\n{USAGE}"),
    }
}

/// The cargo that runs us (so `cargo +toolchain xtask` stays on that toolchain).
fn cargo() -> OsString {
    std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into())
}

/// Runs one named step with the cache environment, streaming its output.
fn step(name: &str, paths: &Paths, program: impl Into<OsString>, args: &[OsString]) -> Result<()> {
    let program = program.into();
    eprintln!("\n==> {name}: {} {}", program.to_string_lossy(), join(args));
    let t0 = Instant::now();
    let status = Command::new(&program)
        .args(args)
        .envs(paths.env())
        .current_dir(setup::workspace_root())
        .status()
        .with_context(|| format!("step `{name}`: cannot start {}", program.to_string_lossy()))?;
    if !status.success() {
        bail!(
            "step `{name}` failed ({status}): {} {}",
            program.to_string_lossy(),
            join(args)
        );
    }
    eprintln!("==> {name}: ok ({:.1} s)", t0.elapsed().as_secs_f64());
    Ok(())
}

fn join(args: &[OsString]) -> String {
    args.iter()
        .map(|a| a.to_string_lossy())
        .collect::<Vec<_>>()
        .join(" ")
}

/// The cargo-deny `cargo xtask test` runs (`deny.toml`), installed into the cache on first use.
const CARGO_DENY_VERSION: &str = "0.20.2";

fn os(args: &[&str]) -> Vec<OsString> {
    args.iter().map(OsString::from).collect()
}

fn test() -> Result<()> {
    let paths = setup::ensure_setup(true)?;
    setup::redis::ensure_redis_server()?;
    if !paths
        .env()
        .iter()
        .any(|(k, _)| *k == "LIVEPROOF_SHARED_DIR")
    {
        eprintln!(
            "skipped: the REAL attack-photo tests (tests/tests/real_pad.rs) and MiniFASNet: no \
             shared folder (../shared beside the workspace, or $LIVEPROOF_SHARED_DIR); cargo \
             lists those tests as ignored"
        );
    }
    step(
        "fmt",
        &paths,
        cargo(),
        &os(&["fmt", "--all", "--", "--check"]),
    )?;
    step(
        "clippy",
        &paths,
        cargo(),
        &os(&[
            "clippy",
            "--workspace",
            "--all-targets",
            "--",
            "-D",
            "warnings",
        ]),
    )?;
    // Supply chain (deny.toml): every dependency's licence allowed, one RustCrypto generation,
    // crates.io only. Offline: advisories need the network's RustSec database.
    let deny = tools::pinned(
        &paths,
        "deny",
        "cargo-deny",
        CARGO_DENY_VERSION,
        &["--no-default-features"],
    )?;
    step(
        "cargo deny",
        &paths,
        deny,
        &os(&["--offline", "check", "licenses", "bans", "sources"]),
    )?;
    step(
        "no_std check",
        &paths,
        cargo(),
        &os(&["check", "-p", "liveproof-core", "--no-default-features"]),
    )?;
    let mut counts = step_cargo_test(&paths, &os(&["test", "--workspace"]), &[])?;
    // The `unsafe` code under AddressSanitizer with LeakSanitizer: ffi's own tests (every
    // `lp_` entry point called as C would, engines, sessions, tokens on synthetic frames, so
    // also the SIMD kernels the warps call and the ledger's helper thread), liveproof-simd's
    // and liveproof-join's own, built with `-Zsanitizer=address` on the stable toolchain
    // (`RUSTC_BOOTSTRAP=1`, as `cargo xtask fuzz` does) into a target directory of their own. ONNX Runtime is not
    // instrumented; its allocations are still tracked. A leak or a memory error fails the step.
    let asan_target = paths.cache.join("asan-target");
    counts.add(step_cargo_test(
        &paths,
        &os(&[
            "test",
            "-p",
            "liveproof-ffi",
            "-p",
            "liveproof-simd",
            "-p",
            "liveproof-join",
            "--lib",
            "--target",
            &tools::host_triple()?,
        ]),
        &[
            ("RUSTC_BOOTSTRAP", "1".into()),
            ("RUSTFLAGS", "-Zsanitizer=address".into()),
            ("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=1".into()),
            ("CARGO_TARGET_DIR", asan_target.into_os_string()),
        ],
    )?);
    counts.add(step_arm64_tests(&paths)?);
    counts.add(step_miri_join(&paths)?);
    // The platform surface: generated files current, C tests under valgrind, Kotlin on the JVM,
    // cross-target checks.
    gen_with(&paths, true)?;
    counts.add(capi::test(&paths)?);
    counts.add(bindings::test(&paths)?);
    // A plain closing line with the totals: cargo's own last line is the (empty) doc-test run.
    println!(
        "tests: {} passed, {} failed, {} skipped",
        counts.passed, counts.failed, counts.ignored
    );
    Ok(())
}

/// liveproof-simd's tests on aarch64 (the NEON kernel phones run), cross-built and run under
/// qemu-user: its results against the portable code's, bit for bit, on an emulated arm64 CPU;
/// and liveproof-join's (the ledger's helper thread, its hand-off and its placement calls on
/// arm64). Exactness only: timings under emulation mean nothing. qemu-user and the aarch64 C
/// toolchain (the linker) come from apt, the target's standard library from rustup.
fn step_arm64_tests(paths: &Paths) -> Result<TestCounts> {
    const TARGET: &str = "aarch64-unknown-linux-gnu";
    tools::apt_install(
        "the arm64 tests (SIMD kernels, helper thread)",
        &tools::missing_packages(&[
            "qemu-user",
            "gcc-aarch64-linux-gnu",
            "libc6-dev-arm64-cross",
        ]),
    )?;
    tools::rustup_targets(paths, "test", &[TARGET])?;
    step_cargo_test(
        paths,
        &os(&[
            "test",
            "-p",
            "liveproof-simd",
            "-p",
            "liveproof-join",
            "--target",
            TARGET,
        ]),
        &[
            (
                "CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER",
                "aarch64-linux-gnu-gcc".into(),
            ),
            (
                "CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUNNER",
                "qemu-aarch64 -L /usr/aarch64-linux-gnu".into(),
            ),
        ],
    )
}

/// liveproof-join's tests under Miri: its `unsafe` hand-off of a borrowed closure to the helper
/// thread, checked for undefined behaviour and data races (Miri's interpreter explores thread
/// interleavings). Miri needs a nightly toolchain: a dated one, pinned here, installed by
/// rustup with its `miri` and `rust-src` components (the latter for Miri's own std).
fn step_miri_join(paths: &Paths) -> Result<TestCounts> {
    const NIGHTLY: &str = "nightly-2026-05-20";
    tools::rustup_toolchain(paths, "miri", NIGHTLY, &["miri", "rust-src"])?;
    step_cargo_test_with(
        paths,
        "rustup",
        &os(&[
            "run",
            NIGHTLY,
            "cargo",
            "miri",
            "test",
            "-p",
            "liveproof-join",
            "--lib",
        ]),
        &[(
            "CARGO_TARGET_DIR",
            paths.cache.join("miri-target").into_os_string(),
        )],
    )
}

fn gen(check: bool) -> Result<()> {
    let paths = setup::ensure_setup(false)?;
    gen_with(&paths, check)
}

/// Regenerates (or, with `check`, verifies) every generated file that is checked in.
fn gen_with(paths: &Paths, check: bool) -> Result<()> {
    capi::gen(paths, check)?;
    bindings::gen(paths, check)
}

/// Test totals: from cargo's `test result:` lines, and from the C and JVM test runs.
#[derive(Default, Debug, Clone, Copy)]
pub(crate) struct TestCounts {
    pub passed: u64,
    pub failed: u64,
    pub ignored: u64,
}

impl TestCounts {
    pub(crate) fn add(&mut self, o: TestCounts) {
        self.passed += o.passed;
        self.failed += o.failed;
        self.ignored += o.ignored;
    }

    /// Adds the counts of one `test result: ok. 8 passed; 0 failed; 1 ignored; ...` line.
    fn add_line(&mut self, line: &str) {
        let Some(rest) = line.trim().strip_prefix("test result:") else {
            return;
        };
        for part in rest.split([';', '.']) {
            let mut words = part.split_whitespace();
            if let (Some(n), Some(what)) = (words.next(), words.next()) {
                if let Ok(n) = n.parse::<u64>() {
                    match what {
                        "passed" => self.passed += n,
                        "failed" => self.failed += n,
                        "ignored" => self.ignored += n,
                        _ => {}
                    }
                }
            }
        }
    }
}

/// `cargo test ...` as a step, echoing its output and counting its tests.
/// `env` is set after the set-up's environment (and wins over it).
fn step_cargo_test(
    paths: &Paths,
    args: &[OsString],
    env: &[(&str, OsString)],
) -> Result<TestCounts> {
    step_cargo_test_with(paths, cargo(), args, env)
}

/// [`step_cargo_test`] through `program` (e.g. `rustup` for `rustup run <toolchain> cargo`).
fn step_cargo_test_with(
    paths: &Paths,
    program: impl Into<OsString>,
    args: &[OsString],
    env: &[(&str, OsString)],
) -> Result<TestCounts> {
    use std::io::{BufRead, BufReader};
    let program = program.into();
    let shown: String = env
        .iter()
        .map(|(k, v)| format!("{k}={} ", v.to_string_lossy()))
        .collect();
    eprintln!(
        "\n==> test: {shown}{} {}",
        program.to_string_lossy(),
        join(args)
    );
    let t0 = Instant::now();
    let mut child = Command::new(&program)
        .args(args)
        .envs(paths.env())
        .envs(env.iter().map(|(k, v)| (k, v)))
        .current_dir(setup::workspace_root())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .with_context(|| format!("step `test`: cannot start {}", program.to_string_lossy()))?;
    let mut counts = TestCounts::default();
    if let Some(out) = child.stdout.take() {
        for line in BufReader::new(out).lines() {
            let line = line.context("reading cargo test output")?;
            println!("{line}");
            counts.add_line(&line);
        }
    }
    let status = child.wait().context("waiting for cargo test")?;
    if !status.success() {
        println!(
            "tests: {} passed, {} failed, {} skipped",
            counts.passed,
            counts.failed.max(1),
            counts.ignored
        );
        bail!(
            "step `test` failed ({status}): {} {}",
            program.to_string_lossy(),
            join(args)
        );
    }
    eprintln!("==> test: ok ({:.1} s)", t0.elapsed().as_secs_f64());
    Ok(counts)
}

fn bench(compare_only: bool) -> Result<()> {
    let paths = setup::ensure_setup(true)?;
    if compare_only {
        return mediapipe_side_by_side(&paths);
    }
    step(
        "bench: frame",
        &paths,
        cargo(),
        &os(&["bench", "-p", "liveproof-core", "--bench", "frame"]),
    )?;
    step(
        "bench: pipeline",
        &paths,
        cargo(),
        &os(&["bench", "-p", "liveproof-tests", "--bench", "pipeline"]),
    )?;
    let depth = depth_bench_model(&paths, 518)?;
    // Children inherit it; the passive bench times the random-weight ViT-S/DPT from it.
    std::env::set_var("LIVEPROOF_DEPTH_BENCH_MODEL", &depth);
    step(
        "bench: passive",
        &paths,
        cargo(),
        &os(&["bench", "-p", "liveproof-tests", "--bench", "passive"]),
    )?;
    mediapipe_side_by_side(&paths)
}

/// The architecture-faithful Depth Anything V2 ViT-S/DPT with RANDOM weights at input side
/// `size` (a depth STAND-IN for latency and memory; the real weights are not obtainable here),
/// built once into the cache by `xtask/py/make_depth_vits_dpt.py` with the converter venv's
/// onnx + numpy.
pub(crate) fn depth_bench_model(paths: &Paths, size: u32) -> Result<PathBuf> {
    let out = paths
        .cache
        .join("bench-models")
        .join(format!("depth_vits_dpt_random_seed0_{size}.onnx"));
    if !out.is_file() {
        if let Some(dir) = out.parent() {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        // Written under a temporary name and renamed, so an interrupted build is never reused.
        let tmp = out.with_extension("onnx.partial");
        step(
            &format!("bench: build the random-weight ViT-S/DPT depth STAND-IN at {size}"),
            paths,
            &paths.venv_python,
            &[
                setup::workspace_root()
                    .join("xtask/py/make_depth_vits_dpt.py")
                    .into_os_string(),
                tmp.clone().into_os_string(),
                "--size".into(),
                size.to_string().into(),
                "--seed".into(),
                "0".into(),
            ],
        )?;
        std::fs::rename(&tmp, &out)
            .with_context(|| format!("moving {} to {}", tmp.display(), out.display()))?;
    }
    Ok(out)
}

/// Median of the per-frame medians of `runs` alternating rounds: ours (`liveproof inspect
/// --track`, release build) and MediaPipe's legacy FaceMesh graph (tracking mode), on the same
/// SYNTHETIC 640×480 sequence, both pinned to the same single core when `taskset` exists.
fn mediapipe_side_by_side(paths: &Paths) -> Result<()> {
    let root = setup::workspace_root();
    let py = paths
        .ref_python
        .clone()
        .context("the MediaPipe reference venv is missing (cargo xtask setup --reference)")?;
    let frames = paths
        .cache
        .join("bench-frames")
        .join("astronaut-640x480-v1");
    if !frames.join("frame0119.png").is_file() {
        step(
            "bench: make frames",
            paths,
            &py,
            &[
                root.join("xtask/py/make_track_frames.py").into_os_string(),
                paths.fixtures.join("astronaut.png").into_os_string(),
                frames.clone().into_os_string(),
            ],
        )?;
    }
    step(
        "bench: build cli",
        paths,
        cargo(),
        &os(&["build", "--release", "-q", "-p", "liveproof-cli"]),
    )?;
    let cli = setup::target_dir().join("release").join("liveproof");
    let pin: Vec<OsString> = if setup::find_on_path("taskset").is_some() {
        os(&["taskset", "-c", "0"])
    } else {
        vec![]
    };
    let run_json = |program: &std::path::Path, args: &[OsString]| -> Result<serde_json::Value> {
        let mut cmd = if pin.is_empty() {
            Command::new(program)
        } else {
            let mut c = Command::new(&pin[0]);
            c.args(&pin[1..]).arg(program);
            c
        };
        let out = cmd
            .args(args)
            .envs(paths.env())
            .output()
            .with_context(|| format!("running {}", program.display()))?;
        if !out.status.success() {
            bail!(
                "{} failed: {}",
                program.display(),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        serde_json::from_slice(&out.stdout)
            .with_context(|| format!("JSON from {}", program.display()))
    };
    let rounds = 5;
    let (mut ours, mut theirs, mut ours_p95, mut theirs_p95) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    // Our frames' share outside model inference (per-frame median of each round).
    let mut outside = Vec::new();
    // Ours with the detector on MediaPipe's schedule (only when the face is lost): no recount
    // every 15th frame, the frames that set our p95.
    let (mut plain, mut plain_p95) = (Vec::new(), Vec::new());
    // Ours on the frames, with `extra` arguments: the run's summary.
    let track = |extra: &[&str]| -> Result<serde_json::Value> {
        let mut args = os(&["inspect"]);
        args.extend(extra.iter().map(OsString::from));
        args.extend([
            OsString::from("--track"),
            frames.clone().into_os_string(),
            OsString::from("--json"),
        ]);
        Ok(run_json(&cli, &args)?["summary"].take())
    };
    let num = |v: &serde_json::Value, key: &str| v[key].as_f64().context(key.to_string());
    for r in 0..rounds {
        let s = track(&[])?;
        ours.push(num(&s, "median_ms")?);
        ours_p95.push(num(&s, "p95_ms")?);
        outside.push(num(&s, "outside_model_share_median")?);
        let s = track(&["--recount-faces-every", "0"])?;
        plain.push(num(&s, "median_ms")?);
        plain_p95.push(num(&s, "p95_ms")?);
        let v = run_json(
            &py,
            &[
                root.join("xtask/py/mp_facemesh_ref.py").into_os_string(),
                OsString::from("--track"),
                frames.clone().into_os_string(),
            ],
        )?;
        let t = &v["timing_ms_warm"];
        theirs.push(num(t, "median")?);
        theirs_p95.push(num(t, "p95")?);
        eprintln!(
            "  round {}: LiveProof {:.3} ms ({:.1} % outside the models), MediaPipe {:.3} ms (per-frame medians)",
            r + 1,
            ours[r],
            100.0 * outside[r],
            theirs[r]
        );
    }
    let med = |v: &mut Vec<f64>| {
        v.sort_by(|a, b| a.total_cmp(b));
        v[v.len() / 2]
    };
    let (o, t, op, tp, out) = (
        med(&mut ours),
        med(&mut theirs),
        med(&mut ours_p95),
        med(&mut theirs_p95),
        med(&mut outside),
    );
    let (po, pp) = (med(&mut plain), med(&mut plain_p95));
    println!(
        "\nFaceMesh tracking, 120 synthetic 640×480 frames, {} rounds alternating, {}:",
        rounds,
        if pin.is_empty() {
            "unpinned"
        } else {
            "both pinned to core 0"
        }
    );
    println!("  LiveProof (ORT 1.31.1, 1 thread)     median {o:.3} ms/frame, p95 {op:.3} ms");
    println!("  MediaPipe 0.10.14 legacy face_mesh   median {t:.3} ms/frame, p95 {tp:.3} ms");
    println!(
        "  ratio LiveProof / MediaPipe: {:.2}× (goal ≤ 0.60×, issue #15); p95 {:.2}×",
        o / t,
        op / tp
    );
    println!(
        "  LiveProof without the face recount (detector only when lost, as MediaPipe): median \
         {po:.3} ms, p95 {pp:.3} ms; ratios {:.2}× median, {:.2}× p95",
        po / t,
        pp / tp
    );
    println!(
        "  LiveProof time outside model inference: {:.1} % of a frame (median; goal ≤ 25 %, issue #15)",
        100.0 * out
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::TestCounts;

    #[test]
    fn counts_cargo_test_result_lines() {
        let mut c = TestCounts::default();
        c.add_line("test result: ok. 8 passed; 0 failed; 1 ignored; 0 measured; 0 filtered out; finished in 1.83s");
        c.add_line("test result: FAILED. 2 passed; 3 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.1s");
        c.add_line("running 3 tests");
        assert_eq!((c.passed, c.failed, c.ignored), (10, 3, 1));
    }
}
