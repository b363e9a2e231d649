//! Marks whether the project's shared real media are beside the workspace
//! (`$LIVEPROOF_SHARED_DIR`, else `../shared`): without them the tests that need them are
//! compiled as ignored with the reason, so a user's clone reports them as skipped, never as
//! passed.

use std::path::PathBuf;

fn main() {
    println!("cargo::rustc-check-cfg=cfg(lp_real_pad)");
    println!("cargo::rerun-if-env-changed=LIVEPROOF_SHARED_DIR");
    let shared = std::env::var_os("LIVEPROOF_SHARED_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("..")
                .join("..")
                .join("shared")
        });
    let pad = shared.join("data").join("real-pad");
    // Rerun when the folder appears or disappears (a missing path is always "changed").
    println!("cargo::rerun-if-changed={}", pad.display());
    if pad.join("README.md").is_file() {
        println!("cargo::rustc-cfg=lp_real_pad");
        println!("cargo::rustc-env=LP_REAL_PAD_DIR={}", pad.display());
    }
}
