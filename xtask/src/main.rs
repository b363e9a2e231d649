//! LiveProof's single entry point: `cargo xtask <command>`. CI and people run the same commands.

mod setup;

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
  demo                 setup, then run `liveproof inspect` on the fixture faces
  bench                setup, then cargo bench -p liveproof-core
  gen                  (not yet implemented)

The cache is $LIVEPROOF_CACHE, else ~/.cache/liveproof. Child processes get LIVEPROOF_CACHE,
LIVEPROOF_MODELS_DIR, ORT_DYLIB_PATH, LIVEPROOF_FIXTURES_DIR and LIVEPROOF_REF_PYTHON.";

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
            demo()
        }
        "bench" => {
            allow(&[])?;
            bench()
        }
        "gen" => bail!("`gen` is not implemented yet"),
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

fn os(args: &[&str]) -> Vec<OsString> {
    args.iter().map(OsString::from).collect()
}

fn test() -> Result<()> {
    let paths = setup::ensure_setup(true)?;
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
    step(
        "no_std check",
        &paths,
        cargo(),
        &os(&["check", "-p", "liveproof-core", "--no-default-features"]),
    )?;
    step("test", &paths, cargo(), &os(&["test", "--workspace"]))?;
    Ok(())
}

fn demo() -> Result<()> {
    let paths = setup::ensure_setup(false)?;
    let mut args = os(&["run", "--release", "-p", "liveproof-cli", "--", "inspect"]);
    for f in ["astronaut.png", "newton.png", "gauss.png"] {
        let p: PathBuf = paths.fixtures.join(f);
        args.push(p.into_os_string());
    }
    step("demo", &paths, cargo(), &args)
}

fn bench() -> Result<()> {
    let paths = setup::ensure_setup(false)?;
    step(
        "bench",
        &paths,
        cargo(),
        &os(&["bench", "-p", "liveproof-core"]),
    )
}
