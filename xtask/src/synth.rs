//! `cargo xtask synth ...`: set up the models and ONNX Runtime, then run the SYNTHETIC capture
//! generator (`liveproof-synth`, release build) with every argument passed through.
//!
//! The generator runs from the workspace root, so path arguments (`--image`, `--out`,
//! `--script`, `--models-dir`, `--runtime`) are made absolute against the caller's folder
//! first.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use crate::setup;

/// Options of `liveproof-synth` whose value is a path.
const PATH_OPTIONS: [&str; 5] = ["--image", "--out", "--script", "--models-dir", "--runtime"];

pub const USAGE: &str = "\
  synth --image IMG --kind bona_fide|print|replay|injection --seed N --frames K --fps F --out DIR
        [--width W] [--height H] [--blink-at S]... [--smile-at S]...
        [--pose=YAW,PITCH,ROLL@START[+DUR]]... [--script FILE.json] [--idle-motion X]
        [--face-box X0,Y0,X1,Y1] [--verify]
                       setup, then write a SYNTHETIC capture (PNG frames + capture.json)
                       made from one photo; see synth/src/lib.rs for what each kind simulates";

/// Runs the generator with `args` (everything after `synth`).
pub fn run(args: &[String]) -> Result<()> {
    if args.is_empty() {
        bail!("`synth` needs arguments:\n{USAGE}");
    }
    let cwd = std::env::current_dir().context("reading the current folder")?;
    let passed = absolutise(args, &cwd)?;
    let paths = setup::ensure_setup(false)?;
    let mut cargo_args: Vec<OsString> = ["run", "--release", "-q", "-p", "liveproof-synth", "--"]
        .iter()
        .map(OsString::from)
        .collect();
    cargo_args.extend(passed);
    super::step("synth", &paths, super::cargo(), &cargo_args)
}

/// Makes the values of [`PATH_OPTIONS`] absolute (both `--opt value` and `--opt=value`).
fn absolutise(args: &[String], cwd: &Path) -> Result<Vec<OsString>> {
    let abs = |v: &str| -> OsString {
        let p = PathBuf::from(v);
        if p.is_absolute() {
            p.into_os_string()
        } else {
            cwd.join(p).into_os_string()
        }
    };
    let mut out = Vec::with_capacity(args.len());
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if PATH_OPTIONS.contains(&a.as_str()) {
            let v = it
                .next()
                .with_context(|| format!("`synth`: {a} needs a value"))?;
            out.push(OsString::from(a));
            out.push(abs(v));
        } else if let Some((k, v)) = a.split_once('=').filter(|(k, _)| PATH_OPTIONS.contains(k)) {
            let mut s = OsString::from(format!("{k}="));
            s.push(abs(v));
            out.push(s);
        } else {
            out.push(OsString::from(a));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_options_become_absolute() {
        let args: Vec<String> = [
            "--image", "a.png", "--kind", "print", "--out=o", "--seed", "3",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let out = absolutise(&args, Path::new("/w")).unwrap();
        let out: Vec<String> = out
            .iter()
            .map(|s| s.to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            out,
            [
                "--image",
                "/w/a.png",
                "--kind",
                "print",
                "--out=/w/o",
                "--seed",
                "3"
            ]
        );
        assert!(absolutise(&["--image".to_string()], Path::new("/w")).is_err());
    }
}
