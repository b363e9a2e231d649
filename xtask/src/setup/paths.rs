//! Where set-up puts things: the cache layout, the workspace, the shared folder, and the
//! environment handed to child processes.

use super::*;

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
    pub(super) fn new(cache: PathBuf, manifest: &Manifest) -> Paths {
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

    pub(super) fn refvenv(&self) -> PathBuf {
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
pub(super) fn shared_dir() -> PathBuf {
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

pub(super) fn manifest_path() -> PathBuf {
    workspace_root().join("models").join("manifest.toml")
}

pub(super) fn py_script(name: &str) -> PathBuf {
    workspace_root().join("xtask").join("py").join(name)
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
