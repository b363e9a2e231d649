//! `redis-server` for the verifier's tests: each Redis test starts a private server on loopback
//! (verifier/tests/support), so the binary must be on PATH. Installed from apt when missing and
//! we are root; otherwise the error names the command to run.

use std::process::Command;

use anyhow::{bail, Context, Result};

use super::find_on_path;

/// Makes sure `redis-server` is on PATH: `apt-get update -qq` then `apt-get install -y -qq
/// redis-server` (noninteractive) when missing and root; an error with the command otherwise.
pub fn ensure_redis_server() -> Result<()> {
    if find_on_path("redis-server").is_some() {
        return Ok(());
    }
    const INSTALL: &str = "apt-get update -qq && apt-get install -y -qq redis-server";
    if !is_root()? {
        bail!("redis-server is missing (the verifier's Redis tests start one); run: sudo sh -c '{INSTALL}'");
    }
    eprintln!("xtask: installing redis-server (apt)");
    for args in [
        &["update", "-qq"][..],
        &["install", "-y", "-qq", "redis-server"][..],
    ] {
        let status = Command::new("apt-get")
            .args(args)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .status()
            .context("run apt-get")?;
        if !status.success() {
            bail!(
                "apt-get {} failed ({status}); run: {INSTALL}",
                args.join(" ")
            );
        }
    }
    if find_on_path("redis-server").is_none() {
        bail!("apt-get installed redis-server but it is not on PATH");
    }
    Ok(())
}

/// Whether this process runs as root (`id -u` is 0).
fn is_root() -> Result<bool> {
    let out = Command::new("id").arg("-u").output().context("run id -u")?;
    Ok(String::from_utf8_lossy(&out.stdout).trim() == "0")
}
