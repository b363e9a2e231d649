//! `redis-server` for the verifier's tests: each Redis test starts a private server on loopback
//! (verifier/tests/support), so the binary must be on PATH. Installed from apt when missing and
//! we are root; otherwise the error names the command to run.

use anyhow::{bail, Result};

use super::find_on_path;

/// Makes sure `redis-server` is on PATH: installed with apt-get when missing (root); an error
/// with the command to run otherwise.
pub fn ensure_redis_server() -> Result<()> {
    if find_on_path("redis-server").is_some() {
        return Ok(());
    }
    crate::tools::apt_install("the verifier's Redis tests", &["redis-server"])?;
    if find_on_path("redis-server").is_none() {
        bail!("apt-get installed redis-server but it is not on PATH");
    }
    Ok(())
}
