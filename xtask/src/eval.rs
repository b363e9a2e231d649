//! `cargo xtask eval` and `cargo xtask train-fusion`: run `liveproof-eval` (release build)
//! with the set-up cache's models, fixtures and shared folder.

use std::ffi::OsString;

use anyhow::Result;

use super::{cargo, os, setup, step};

fn run_eval(sub: &str, rest: &[String]) -> Result<()> {
    let paths = setup::ensure_setup(false)?;
    let mut args = os(&["run", "--release", "-q", "-p", "liveproof-eval", "--", sub]);
    args.extend(rest.iter().map(OsString::from));
    step(sub, &paths, cargo(), &args)
}

/// `cargo xtask eval [CAPTURES_DIR...] [--synthetic] [--real] --out DIR [...]`: whole sessions
/// over labelled captures into `metrics.json`, `report.html` and `fusion_table.csv`
/// (`liveproof-eval eval --help`).
pub fn eval(rest: &[String]) -> Result<()> {
    run_eval("eval", rest)
}

/// `cargo xtask train-fusion --csv FILE [...]`: the person-disjoint logistic fusion
/// (`liveproof-eval train-fusion --help`); writes models/fusion_logistic.json by default.
pub fn train_fusion(rest: &[String]) -> Result<()> {
    let mut rest = rest.to_vec();
    if !rest.iter().any(|a| a == "--out") {
        rest.push("--out".into());
        rest.push(
            setup::workspace_root()
                .join("models")
                .join("fusion_logistic.json")
                .to_string_lossy()
                .into_owned(),
        );
    }
    run_eval("train-fusion", &rest)
}
