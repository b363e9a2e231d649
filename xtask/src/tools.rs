//! Cargo-installed tools the tasks pin (cbindgen, cargo-fuzz, cargo-deny): each is installed
//! into `<cache>/tools/<crate>-<version>` on first use, and used only when its `--version`
//! says exactly that version.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

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
