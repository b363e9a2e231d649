//! Cargo-installed tools the tasks pin (cbindgen, cargo-fuzz, cargo-deny): each is installed
//! into `<cache>/tools/<crate>-<version>` on first use, and used only when its `--version`
//! says exactly that version.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{bail, Context, Result};

use crate::setup::Paths;

/// The binary `krate` of `version` (the crate's own binary name), installed with `cargo
/// install --locked` and `extra` arguments if it is not there yet; `task` names the step.
pub fn pinned(
    paths: &Paths,
    task: &str,
    krate: &str,
    version: &str,
    extra: &[&str],
) -> Result<PathBuf> {
    let dir = paths.cache.join("tools").join(format!("{krate}-{version}"));
    let bin = dir.join("bin").join(krate);
    let want = format!("{krate} {version}");
    let version_of = |bin: &Path| -> Option<String> {
        let out = Command::new(bin).arg("--version").output().ok()?;
        Some(String::from_utf8_lossy(&out.stdout).trim().to_owned())
    };
    if bin.is_file() && version_of(&bin).as_deref() == Some(want.as_str()) {
        return Ok(bin);
    }
    let mut args: Vec<OsString> = ["install", krate, "--version", version, "--locked"]
        .iter()
        .chain(extra)
        .map(OsString::from)
        .collect();
    args.extend([OsString::from("--root"), dir.into_os_string()]);
    crate::step(
        &format!("{task}: install {krate}"),
        paths,
        crate::cargo(),
        &args,
    )?;
    match version_of(&bin) {
        Some(v) if v == want => Ok(bin),
        other => bail!(
            "{} reports {:?}, expected `{want}`",
            bin.display(),
            other.unwrap_or_default()
        ),
    }
}

/// The host's target triple, from `rustc -vV` (e.g. `x86_64-unknown-linux-gnu`).
pub fn host_triple() -> Result<String> {
    let out = Command::new("rustc")
        .arg("-vV")
        .output()
        .context("running rustc -vV")?;
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("host: ").map(str::to_string))
        .context("rustc -vV names no host")
}

/// The Debian packages of `packages` that `dpkg -s` does not report installed.
pub fn missing_packages<'a>(packages: &[&'a str]) -> Vec<&'a str> {
    packages
        .iter()
        .copied()
        .filter(|p| {
            !Command::new("dpkg")
                .args(["-s", p])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        })
        .collect()
}

/// Installs Debian `packages` with `apt-get update` then `apt-get install` (needs root);
/// `what` names who needs them in messages. Nothing to do for an empty list; without apt-get
/// or root, an error naming the command to run.
pub fn apt_install(what: &str, packages: &[&str]) -> Result<()> {
    if packages.is_empty() {
        return Ok(());
    }
    let list = packages.join(", ");
    if crate::setup::find_on_path("apt-get").is_none() {
        bail!("{what} need {list}; install them (Debian/Ubuntu package names)");
    }
    if !is_root()? {
        bail!(
            "{what} need {list}; run: sudo sh -c 'apt-get update && apt-get install -y {}'",
            packages.join(" ")
        );
    }
    eprintln!("{what}: installing {list} with apt-get (needs root)");
    let run = |args: &[&str]| -> Result<()> {
        let status = Command::new("apt-get")
            .args(args)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .stdin(Stdio::null())
            .status()
            .context("running apt-get")?;
        if !status.success() {
            bail!(
                "apt-get {} failed ({status}); install {list} by hand",
                args.join(" ")
            );
        }
        Ok(())
    };
    run(&["update", "-q"])?;
    let mut args = vec!["install", "-y", "-q", "--no-install-recommends"];
    args.extend(packages);
    run(&args)
}

/// Adds the rustup `targets` that are not installed yet; `task` names the step.
pub fn rustup_targets(paths: &Paths, task: &str, targets: &[&str]) -> Result<()> {
    let installed = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()
        .context("running rustup (cross targets need rustup)")?;
    let installed = String::from_utf8_lossy(&installed.stdout).into_owned();
    let missing: Vec<OsString> = targets
        .iter()
        .filter(|t| !installed.lines().any(|l| l.trim() == **t))
        .map(OsString::from)
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    let mut args = vec![OsString::from("target"), OsString::from("add")];
    args.extend(missing);
    crate::step(&format!("{task}: rustup targets"), paths, "rustup", &args)
}

/// Installs rustup toolchain `toolchain` (minimal profile) with `components`, unless it is
/// there with them.
pub fn rustup_toolchain(
    paths: &Paths,
    task: &str,
    toolchain: &str,
    components: &[&str],
) -> Result<()> {
    let installed = Command::new("rustup")
        .args(["component", "list", "--installed", "--toolchain", toolchain])
        .output()
        .context("running rustup (the toolchain needs rustup)")?;
    let installed = String::from_utf8_lossy(&installed.stdout).into_owned();
    let has = |c: &str| installed.lines().any(|l| l.trim().starts_with(c));
    if installed.lines().any(|l| l.starts_with("rustc")) && components.iter().all(|c| has(c)) {
        return Ok(());
    }
    let mut args: Vec<OsString> = ["toolchain", "install", toolchain, "--profile", "minimal"]
        .map(OsString::from)
        .to_vec();
    for c in components {
        args.push("--component".into());
        args.push(OsString::from(c));
    }
    crate::step(
        &format!("{task}: rustup toolchain {toolchain}"),
        paths,
        "rustup",
        &args,
    )
}

/// Whether this process runs as root (`id -u` is 0).
fn is_root() -> Result<bool> {
    let out = Command::new("id").arg("-u").output().context("run id -u")?;
    Ok(String::from_utf8_lossy(&out.stdout).trim() == "0")
}
