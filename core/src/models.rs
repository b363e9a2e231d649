//! Model runner: the manifest, file verification, a small runner trait, and the ONNX Runtime
//! backend (feature `ort`, `load-dynamic`).
//!
//! Every model file is checked against the sha256 pinned in `models/manifest.toml` (embedded
//! in the binary at build time) and its input/output names and shapes are checked against the
//! manifest before a session is built. Pre- and post-processing are pure functions in the stage
//! modules (`detect`, `mesh`, ...), so tests can call them without ONNX Runtime.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use sha2::{Digest, Sha256};

/// The manifest as shipped with this build (`models/manifest.toml`).
pub const EMBEDDED_MANIFEST: &str = include_str!("../../models/manifest.toml");

/// Errors of the model runner. Each names the file or tensor and what was expected.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// The ONNX Runtime shared library is not where it was looked for.
    #[error("ONNX Runtime library not found at {path}: {hint}")]
    RuntimeMissing { path: PathBuf, hint: String },
    /// The ONNX Runtime library exists but could not be loaded (wrong file, wrong version).
    #[error("ONNX Runtime library at {path} could not be loaded: {reason}")]
    RuntimeLoad { path: PathBuf, reason: String },
    /// The model is not distributed with LiveProof and no file was supplied for it.
    #[error("model `{name}` is not distributed with LiveProof (its weights are not obtainable from the registries); supply its file and sha256 (a model override: name `{name}`, path, sha256){hint}")]
    NotSupplied { name: String, hint: String },
    /// The model file does not exist.
    #[error("model `{name}` not found at {path} (run `cargo xtask setup`, or point the engine's models_dir at the folder holding it)")]
    ModelMissing { name: String, path: PathBuf },
    /// The file is shorter than the manifest says: an interrupted download or copy.
    #[error("model `{name}` at {path} is truncated: {got} bytes, expected {expected}")]
    ModelTruncated {
        name: String,
        path: PathBuf,
        expected: u64,
        got: u64,
    },
    /// The file's sha256 differs from the pinned one.
    #[error("model `{name}` at {path} has sha256 {got}, expected {expected}")]
    HashMismatch {
        name: String,
        path: PathBuf,
        expected: String,
        got: String,
    },
    /// ONNX Runtime could not parse the file (corrupt or not an ONNX model).
    #[error("model `{name}` at {path} is corrupt or not an ONNX model: {reason}")]
    ModelCorrupt {
        name: String,
        path: PathBuf,
        reason: String,
    },
    /// An input or output tensor has another name than the manifest declares.
    #[error("model `{name}`: {kind} #{index} is named `{got}`, expected `{expected}`")]
    NameMismatch {
        name: String,
        kind: &'static str,
        index: usize,
        expected: String,
        got: String,
    },
    /// An input or output tensor has another shape than the manifest declares.
    #[error("model `{name}`: {kind} `{tensor}` has shape {got:?}, expected {expected:?}")]
    ShapeMismatch {
        name: String,
        kind: &'static str,
        tensor: String,
        expected: Vec<i64>,
        got: Vec<i64>,
    },
    /// The model has another number of inputs or outputs than declared.
    #[error("model `{name}` has {got} {kind}s, expected {expected}")]
    ArityMismatch {
        name: String,
        kind: &'static str,
        expected: usize,
        got: usize,
    },
    /// The manifest has no entry of that name.
    #[error("no model named `{0}` in the manifest")]
    UnknownModel(String),
    /// The manifest could not be parsed or is inconsistent.
    #[error("model manifest: {0}")]
    Manifest(String),
    /// An input buffer does not match its declared shape.
    #[error("model `{name}`: input `{tensor}` has {got} values, shape {shape:?} needs {expected}")]
    InputLength {
        name: String,
        tensor: String,
        shape: Vec<usize>,
        expected: usize,
        got: usize,
    },
    /// An input value is NaN or infinite.
    #[error("model `{name}`: input `{tensor}` holds a non-finite value at index {index}")]
    NonFiniteInput {
        name: String,
        tensor: String,
        index: usize,
    },
    /// ONNX Runtime failed while running the model.
    #[error("model `{name}`: inference failed: {reason}")]
    Inference { name: String, reason: String },
    /// A file could not be read.
    #[error("reading {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// One tensor of a model's declared interface. `-1` in `shape` means dynamic.
#[derive(Clone, Debug, Deserialize, PartialEq)]
pub struct TensorSpec {
    pub name: String,
    pub shape: Vec<i64>,
    #[serde(default = "default_dtype")]
    pub dtype: String,
}

fn default_dtype() -> String {
    "f32".into()
}

/// Input normalisation: `x' = (x - mean) / std` per RGB channel, pixel values in 0..255.
#[derive(Clone, Debug, Deserialize, PartialEq)]
pub struct Preprocess {
    pub layout: String,
    #[serde(default = "default_colour")]
    pub colour: String,
    pub mean: [f32; 3],
    pub std: [f32; 3],
}

fn default_colour() -> String {
    "RGB".into()
}

/// Where a model came from (registry package and path), for provenance and `xtask setup`.
#[derive(Clone, Debug, Deserialize, PartialEq)]
pub struct SourceSpec {
    pub registry: String,
    pub package: String,
    pub version: String,
    #[serde(default)]
    pub archive_file: Option<String>,
    pub path: String,
    #[serde(default)]
    pub sha256: Option<String>,
}

/// A model entry of the manifest.
#[derive(Clone, Debug, Deserialize, PartialEq)]
pub struct ModelSpec {
    pub name: String,
    pub version: String,
    pub role: String,
    pub file: String,
    pub sha256: String,
    /// Size in bytes, when pinned: lets a truncated file be told apart from a corrupt one.
    #[serde(default)]
    pub bytes: Option<u64>,
    pub licence: String,
    #[serde(default)]
    pub convert: Option<String>,
    pub source: Option<SourceSpec>,
    #[serde(default)]
    pub inputs: Vec<TensorSpec>,
    #[serde(default)]
    pub outputs: Vec<TensorSpec>,
    pub preprocess: Option<Preprocess>,
    /// True for project-made stand-ins (never the real weights).
    #[serde(default)]
    pub stand_in: bool,
    /// True for a model no registry distributes (e.g. Depth Anything V2 here): the manifest
    /// pins its interface but no file or sha256; a user supplies both (a `ModelOverride`).
    #[serde(default)]
    pub user_supplied: bool,
    /// For a project-made file committed to this repository: its path from the workspace
    /// root (`cargo xtask setup` copies it into the cache and checks its sha256).
    #[serde(default)]
    pub repo_file: Option<String>,
    /// True for a model that set-up installs only when its source is at hand (e.g. files
    /// from the project's shared folder, not a registry): without it, the stage that prefers
    /// it falls back and says so.
    #[serde(default)]
    pub optional: bool,
}

/// The ONNX Runtime entry of the manifest.
#[derive(Clone, Debug, Deserialize, PartialEq)]
pub struct RuntimeSpec {
    pub name: String,
    pub version: String,
    pub file: String,
    pub sha256: String,
    pub licence: String,
}

#[derive(Deserialize)]
struct RawManifest {
    runtime: RuntimeSpec,
    #[serde(default)]
    model: Vec<ModelSpec>,
}

/// The parsed model manifest.
#[derive(Clone, Debug)]
pub struct Manifest {
    pub runtime: RuntimeSpec,
    pub models: BTreeMap<String, ModelSpec>,
}

impl Manifest {
    /// The manifest embedded in this build.
    pub fn embedded() -> Result<Manifest, ModelError> {
        Self::parse(EMBEDDED_MANIFEST)
    }

    /// Parses a manifest; rejects duplicate names and malformed hashes.
    pub fn parse(text: &str) -> Result<Manifest, ModelError> {
        let raw: RawManifest =
            toml::from_str(text).map_err(|e| ModelError::Manifest(e.to_string()))?;
        let mut models = BTreeMap::new();
        for m in raw.model {
            if m.user_supplied {
                if !m.sha256.is_empty() || m.source.is_some() {
                    return Err(ModelError::Manifest(format!(
                        "model `{}` is user_supplied: it must pin no sha256 and no source",
                        m.name
                    )));
                }
            } else if m.sha256 != "TO-BE-PINNED" && !is_sha256_hex(&m.sha256) {
                return Err(ModelError::Manifest(format!(
                    "model `{}`: sha256 `{}` is not 64 lowercase hex digits",
                    m.name, m.sha256
                )));
            }
            if models.insert(m.name.clone(), m.clone()).is_some() {
                return Err(ModelError::Manifest(format!(
                    "model `{}` is listed twice",
                    m.name
                )));
            }
        }
        Ok(Manifest {
            runtime: raw.runtime,
            models,
        })
    }

    /// The entry named `name`.
    pub fn model(&self, name: &str) -> Result<&ModelSpec, ModelError> {
        self.models
            .get(name)
            .ok_or_else(|| ModelError::UnknownModel(name.to_string()))
    }
}

/// 64 lowercase hex digits.
pub(crate) fn is_sha256_hex(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Streams a file through sha256; lowercase hex.
pub fn sha256_file(path: &Path) -> Result<String, ModelError> {
    let mut f = File::open(path).map_err(|source| ModelError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = f.read(&mut buf).map_err(|source| ModelError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex::encode(h.finalize()))
}

/// Checks that `path` exists, has the pinned size (when known) and the pinned sha256.
pub fn verify_model_file(spec: &ModelSpec, path: &Path) -> Result<(), ModelError> {
    let meta = std::fs::metadata(path).map_err(|_| ModelError::ModelMissing {
        name: spec.name.clone(),
        path: path.to_path_buf(),
    })?;
    if !meta.is_file() {
        return Err(ModelError::ModelMissing {
            name: spec.name.clone(),
            path: path.to_path_buf(),
        });
    }
    if let Some(expected) = spec.bytes {
        if meta.len() < expected {
            return Err(ModelError::ModelTruncated {
                name: spec.name.clone(),
                path: path.to_path_buf(),
                expected,
                got: meta.len(),
            });
        }
    }
    if spec.sha256 == "TO-BE-PINNED" {
        return Err(ModelError::Manifest(format!(
            "model `{}` has no pinned sha256",
            spec.name
        )));
    }
    let got = sha256_file(path)?;
    if got != spec.sha256 {
        return Err(ModelError::HashMismatch {
            name: spec.name.clone(),
            path: path.to_path_buf(),
            expected: spec.sha256.clone(),
            got,
        });
    }
    Ok(())
}

/// A declared tensor name that matches any name (user-supplied models, whose exports name
/// their tensors freely, e.g. InsightFace's `input.1` → `683` or `516`).
pub const ANY_NAME: &str = "*";

/// Checks actual tensor names and shapes against the declared ones. `-1` on either side
/// matches any size. `kind` is "input" or "output". An output may also differ from its
/// declaration by dimensions of size 1 (exports differ there: Depth Anything V2's
/// `predicted_depth` comes as [1, H, W] or [1, 1, H, W]; the values and their order are the
/// same, and every consumer reads outputs by element count). Inputs must match exactly,
/// because the caller builds them to the declared shape.
pub fn check_interface(
    model: &str,
    kind: &'static str,
    declared: &[TensorSpec],
    actual: &[(String, Vec<i64>)],
) -> Result<(), ModelError> {
    if declared.len() != actual.len() {
        return Err(ModelError::ArityMismatch {
            name: model.to_string(),
            kind,
            expected: declared.len(),
            got: actual.len(),
        });
    }
    for (index, (d, (name, shape))) in declared.iter().zip(actual).enumerate() {
        if &d.name != name && d.name != ANY_NAME {
            return Err(ModelError::NameMismatch {
                name: model.to_string(),
                kind,
                index,
                expected: d.name.clone(),
                got: name.clone(),
            });
        }
        let matches = |x: &[i64], y: &[i64]| {
            x.len() == y.len() && x.iter().zip(y).all(|(&a, &b)| a == b || a < 0 || b < 0)
        };
        let squeezed = |x: &[i64]| x.iter().copied().filter(|&v| v != 1).collect::<Vec<_>>();
        let same = matches(&d.shape, shape)
            || (kind == "output" && matches(&squeezed(&d.shape), &squeezed(shape)));
        if !same {
            return Err(ModelError::ShapeMismatch {
                name: model.to_string(),
                kind,
                tensor: name.clone(),
                expected: d.shape.clone(),
                got: shape.clone(),
            });
        }
    }
    Ok(())
}

/// One input tensor: f32 data and its concrete shape.
#[derive(Clone, Copy, Debug)]
pub struct TensorIn<'a> {
    pub data: &'a [f32],
    pub shape: &'a [usize],
}

/// One output tensor; its buffers are reused between runs.
#[derive(Clone, Debug, Default)]
pub struct TensorOut {
    pub data: Vec<f32>,
    pub shape: Vec<usize>,
}

/// "Run this model on these tensors." Implementations are shared across threads.
pub trait ModelRunner: Send + Sync {
    /// The manifest entry this runner was built from.
    fn spec(&self) -> &ModelSpec;
    /// Runs the model. `inputs` are in declared order; `outputs` gets one entry per declared
    /// output, in declared order, reusing each entry's allocation.
    fn run(&self, inputs: &[TensorIn<'_>], outputs: &mut Vec<TensorOut>) -> Result<(), ModelError>;

    /// [`Self::run`] for a model with one input.
    fn run_one(
        &self,
        data: &[f32],
        shape: &[usize],
        outputs: &mut Vec<TensorOut>,
    ) -> Result<(), ModelError> {
        self.run(&[TensorIn { data, shape }], outputs)
    }
}

/// Checks a run's inputs against the spec: count, length per shape, finiteness.
pub fn validate_inputs(spec: &ModelSpec, inputs: &[TensorIn<'_>]) -> Result<(), ModelError> {
    if inputs.len() != spec.inputs.len() {
        return Err(ModelError::ArityMismatch {
            name: spec.name.clone(),
            kind: "input",
            expected: spec.inputs.len(),
            got: inputs.len(),
        });
    }
    for (d, t) in spec.inputs.iter().zip(inputs) {
        let actual: Vec<i64> = t.shape.iter().map(|&s| s as i64).collect();
        check_interface(
            &spec.name,
            "input",
            core::slice::from_ref(d),
            &[(d.name.clone(), actual)],
        )?;
        let expected: usize = t.shape.iter().product();
        if t.data.len() != expected {
            return Err(ModelError::InputLength {
                name: spec.name.clone(),
                tensor: d.name.clone(),
                shape: t.shape.to_vec(),
                expected,
                got: t.data.len(),
            });
        }
        if let Some(index) = t.data.iter().position(|v| !v.is_finite()) {
            return Err(ModelError::NonFiniteInput {
                name: spec.name.clone(),
                tensor: d.name.clone(),
                index,
            });
        }
    }
    Ok(())
}

#[cfg(feature = "ort")]
pub use self::ort_backend::{OrtOptions, OrtRunner, OrtRuntime};

#[cfg(feature = "ort")]
mod ort_backend {
    use super::*;
    use std::sync::{Mutex, OnceLock};

    use ort::session::builder::GraphOptimizationLevel;
    use ort::session::Session;
    use ort::value::TensorRef;

    static RUNTIME: OnceLock<(PathBuf, ort::environment::Environment)> = OnceLock::new();
    static INIT_LOCK: Mutex<()> = Mutex::new(());

    /// The process-wide ONNX Runtime, loaded from a shared library at run time.
    ///
    /// ONNX Runtime can be loaded once per process; a later request for another path gets the
    /// already loaded library (and a warning in the log).
    #[derive(Clone)]
    pub struct OrtRuntime {
        env: ort::environment::Environment,
        path: PathBuf,
    }

    impl std::fmt::Debug for OrtRuntime {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.debug_struct("OrtRuntime")
                .field("path", &self.path)
                .finish()
        }
    }

    impl OrtRuntime {
        /// Loads ONNX Runtime from `path`, or from `$ORT_DYLIB_PATH` when `path` is `None`.
        /// A missing file is a typed error, checked before `dlopen` (which would otherwise
        /// fail deep inside `ort`).
        pub fn load(path: Option<&Path>) -> Result<OrtRuntime, ModelError> {
            let path = match path {
                Some(p) => p.to_path_buf(),
                None => match std::env::var_os("ORT_DYLIB_PATH") {
                    Some(p) => PathBuf::from(p),
                    None => {
                        return Err(ModelError::RuntimeMissing {
                            path: PathBuf::from("<unset>"),
                            hint: "no runtime path was given and ORT_DYLIB_PATH is not set; run `cargo xtask setup` and pass the libonnxruntime path".into(),
                        })
                    }
                },
            };
            // The requested file must exist even when a runtime is already loaded: a caller
            // pointing at a missing library has a set-up problem worth reporting.
            check_library_file(&path)?;
            let _guard = INIT_LOCK.lock().unwrap_or_else(|e| e.into_inner());
            if let Some((loaded, env)) = RUNTIME.get() {
                if loaded != &path {
                    log::warn!(
                        "ONNX Runtime already loaded from {}; ignoring request for {}",
                        loaded.display(),
                        path.display()
                    );
                }
                return Ok(OrtRuntime {
                    env: env.clone(),
                    path: loaded.clone(),
                });
            }
            let builder = std::panic::catch_unwind(|| ort::init_from(&path))
                .map_err(|_| ModelError::RuntimeLoad {
                    path: path.clone(),
                    reason: "the loader panicked".into(),
                })?
                .map_err(|e| ModelError::RuntimeLoad {
                    path: path.clone(),
                    reason: e.to_string(),
                })?;
            let env =
                builder
                    .with_name("liveproof")
                    .build()
                    .map_err(|e| ModelError::RuntimeLoad {
                        path: path.clone(),
                        reason: e.to_string(),
                    })?;
            let _ = RUNTIME.set((path.clone(), env.clone()));
            log::info!("loaded ONNX Runtime from {}", path.display());
            Ok(OrtRuntime { env, path })
        }

        /// Where the library was loaded from.
        pub fn path(&self) -> &Path {
            &self.path
        }
    }

    /// Rejects a missing, empty or non-shared-library file before handing it to `dlopen`.
    fn check_library_file(path: &Path) -> Result<(), ModelError> {
        let meta = std::fs::metadata(path).map_err(|_| ModelError::RuntimeMissing {
            path: path.to_path_buf(),
            hint: "run `cargo xtask setup` (it fetches ONNX Runtime 1.31.1 from the PyPI wheel) or set ORT_DYLIB_PATH".into(),
        })?;
        if !meta.is_file() || meta.len() < 4 {
            return Err(ModelError::RuntimeLoad {
                path: path.to_path_buf(),
                reason: "not a regular, non-empty file".into(),
            });
        }
        let mut magic = [0u8; 4];
        File::open(path)
            .and_then(|mut f| f.read_exact(&mut magic))
            .map_err(|source| ModelError::Io {
                path: path.to_path_buf(),
                source,
            })?;
        let known = [
            *b"\x7fELF",              // Linux, Android
            [0xcf, 0xfa, 0xed, 0xfe], // Mach-O 64
            [0xca, 0xfe, 0xba, 0xbe], // Mach-O universal
            *b"MZ\x90\x00",           // PE
        ];
        if !known.iter().any(|m| m == &magic) && &magic[..2] != b"MZ" {
            return Err(ModelError::RuntimeLoad {
                path: path.to_path_buf(),
                reason: format!("not a shared library (first bytes {magic:02x?})"),
            });
        }
        Ok(())
    }

    /// Session options of the ORT backend.
    #[derive(Clone, Debug)]
    pub struct OrtOptions {
        /// Intra-op threads per session (default 1: the app owns the other cores).
        pub intra_op_threads: usize,
    }

    impl Default for OrtOptions {
        fn default() -> Self {
            Self {
                intra_op_threads: 1,
            }
        }
    }

    /// A model loaded into an ONNX Runtime session. `Session::run` needs `&mut`, so the
    /// session sits behind a mutex; the engine keeps one runner per model.
    pub struct OrtRunner {
        spec: ModelSpec,
        session: Mutex<Session>,
    }

    impl std::fmt::Debug for OrtRunner {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.debug_struct("OrtRunner")
                .field("model", &self.spec.name)
                .finish()
        }
    }

    impl OrtRunner {
        /// Verifies `path` against `spec` (size, sha256), builds a session with full graph
        /// optimisation and checks the declared interface.
        pub fn load(
            runtime: &OrtRuntime,
            spec: &ModelSpec,
            path: &Path,
            opts: &OrtOptions,
        ) -> Result<OrtRunner, ModelError> {
            verify_model_file(spec, path)?;
            let threads = opts.intra_op_threads.max(1);
            let corrupt = |e: &dyn std::fmt::Display| ModelError::ModelCorrupt {
                name: spec.name.clone(),
                path: path.to_path_buf(),
                reason: e.to_string(),
            };
            let inference = |e: &dyn std::fmt::Display| ModelError::Inference {
                name: spec.name.clone(),
                reason: e.to_string(),
            };
            let mut builder = Session::builder(&runtime.env)
                .map_err(|e| inference(&e))?
                .with_optimization_level(GraphOptimizationLevel::All)
                .map_err(|e| inference(&e))?
                .with_intra_threads(threads)
                .map_err(|e| inference(&e))?
                .with_inter_threads(1)
                .map_err(|e| inference(&e))?;
            let session = builder.commit_from_file(path).map_err(|e| corrupt(&e))?;
            let ins: Vec<(String, Vec<i64>)> = session.inputs().iter().map(outlet_shape).collect();
            let outs: Vec<(String, Vec<i64>)> =
                session.outputs().iter().map(outlet_shape).collect();
            check_interface(&spec.name, "input", &spec.inputs, &ins)?;
            check_interface(&spec.name, "output", &spec.outputs, &outs)?;
            // A declared name `*` (user-supplied exports name their tensors freely) takes the
            // file's own name, so runs address the tensors by their real names.
            let mut spec = spec.clone();
            for (d, (name, _)) in spec.inputs.iter_mut().zip(&ins) {
                if d.name == ANY_NAME {
                    d.name = name.clone();
                }
            }
            for (d, (name, _)) in spec.outputs.iter_mut().zip(&outs) {
                if d.name == ANY_NAME {
                    d.name = name.clone();
                }
            }
            Ok(OrtRunner {
                spec,
                session: Mutex::new(session),
            })
        }
    }

    fn outlet_shape(o: &ort::value::Outlet) -> (String, Vec<i64>) {
        let shape = o
            .dtype()
            .tensor_shape()
            .map(|s| s.iter().copied().collect())
            .unwrap_or_default();
        (o.name().to_string(), shape)
    }

    impl ModelRunner for OrtRunner {
        fn spec(&self) -> &ModelSpec {
            &self.spec
        }

        fn run(
            &self,
            inputs: &[TensorIn<'_>],
            outputs: &mut Vec<TensorOut>,
        ) -> Result<(), ModelError> {
            validate_inputs(&self.spec, inputs)?;
            let err = |e: &dyn std::fmt::Display| ModelError::Inference {
                name: self.spec.name.clone(),
                reason: e.to_string(),
            };
            let mut values = Vec::with_capacity(inputs.len());
            for (d, t) in self.spec.inputs.iter().zip(inputs) {
                let v = TensorRef::from_array_view((t.shape, t.data)).map_err(|e| err(&e))?;
                values.push((d.name.as_str(), v));
            }
            let mut session = self.session.lock().unwrap_or_else(|e| e.into_inner());
            let result = session.run(values).map_err(|e| err(&e))?;
            outputs.resize_with(self.spec.outputs.len(), TensorOut::default);
            for (d, out) in self.spec.outputs.iter().zip(outputs.iter_mut()) {
                let value = result.get(&d.name).ok_or_else(|| {
                    err(&format_args!("output `{}` missing from the run", d.name))
                })?;
                let (shape, data) = value.try_extract_tensor::<f32>().map_err(|e| err(&e))?;
                out.shape.clear();
                out.shape.extend(shape.iter().map(|&s| s.max(0) as usize));
                out.data.clear();
                out.data.extend_from_slice(data);
            }
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_manifest_parses_and_has_the_perception_models() {
        let m = Manifest::embedded().unwrap();
        for name in ["blazeface_front", "face_landmark", "scrfd", "fr_feature"] {
            assert!(m.models.contains_key(name), "{name} missing");
        }
        assert_eq!(m.runtime.version, "1.31.1");
        assert!(matches!(m.model("nope"), Err(ModelError::UnknownModel(_))));
    }

    #[test]
    fn manifest_rejects_duplicates_and_bad_hashes() {
        let head = "[runtime]\nname='o'\nversion='1'\nfile='f'\nsha256='x'\nlicence='MIT'\n";
        let m = |sha: &str| {
            format!("[[model]]\nname='a'\nversion='1'\nrole='r'\nfile='a.onnx'\nsha256='{sha}'\nlicence='x'\n")
        };
        let good = "0".repeat(64);
        let e = Manifest::parse(&format!("{head}{}{}", m(&good), m(&good))).unwrap_err();
        assert!(e.to_string().contains("listed twice"), "{e}");
        let e = Manifest::parse(&format!("{head}{}", m("abc"))).unwrap_err();
        assert!(e.to_string().contains("not 64 lowercase hex"), "{e}");
        assert!(Manifest::parse("not toml [").is_err());
    }

    #[test]
    fn interface_check_names_shapes_and_dynamic_dims() {
        let d = vec![TensorSpec {
            name: "x".into(),
            shape: vec![1, 3, -1, -1],
            dtype: "f32".into(),
        }];
        assert!(check_interface("m", "input", &d, &[("x".into(), vec![1, 3, 224, 224])]).is_ok());
        let e = check_interface("m", "input", &d, &[("y".into(), vec![1, 3, 2, 2])]).unwrap_err();
        assert!(matches!(e, ModelError::NameMismatch { .. }), "{e}");
        let e = check_interface("m", "input", &d, &[("x".into(), vec![1, 1, 2, 2])]).unwrap_err();
        assert!(
            e.to_string()
                .contains("has shape [1, 1, 2, 2], expected [1, 3, -1, -1]"),
            "{e}"
        );
        // Outputs may differ by unit dimensions (Depth Anything V2 exports: [1, H, W] or
        // [1, 1, H, W]); inputs may not, and other sizes still must match.
        let depth = vec![TensorSpec {
            name: "predicted_depth".into(),
            shape: vec![1, -1, -1],
            dtype: "f32".into(),
        }];
        let out = |shape: Vec<i64>| [("predicted_depth".to_string(), shape)];
        assert!(check_interface("m", "output", &depth, &out(vec![1, 1, -1, -1])).is_ok());
        assert!(check_interface("m", "output", &depth, &out(vec![1, 252, 252])).is_ok());
        assert!(check_interface("m", "input", &depth, &out(vec![1, 1, -1, -1])).is_err());
        assert!(check_interface("m", "output", &depth, &out(vec![1, 2, -1, -1])).is_err());
        let e = check_interface("m", "output", &d, &[]).unwrap_err();
        assert!(
            matches!(
                e,
                ModelError::ArityMismatch {
                    expected: 1,
                    got: 0,
                    ..
                }
            ),
            "{e}"
        );
    }

    #[test]
    fn file_verification_errors_are_typed() {
        let dir = std::env::temp_dir().join(format!("lp-models-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("m.onnx");
        std::fs::write(&path, b"hello").unwrap();
        let sha = sha256_file(&path).unwrap();
        assert_eq!(
            sha,
            "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
        );
        let mut spec = ModelSpec {
            name: "m".into(),
            version: "1".into(),
            role: "r".into(),
            file: "m.onnx".into(),
            sha256: sha.clone(),
            bytes: Some(5),
            licence: "x".into(),
            convert: None,
            source: None,
            inputs: vec![],
            outputs: vec![],
            preprocess: None,
            stand_in: false,
            user_supplied: false,
            repo_file: None,
            optional: false,
        };
        assert!(verify_model_file(&spec, &path).is_ok());
        spec.bytes = Some(10);
        assert!(matches!(
            verify_model_file(&spec, &path),
            Err(ModelError::ModelTruncated {
                expected: 10,
                got: 5,
                ..
            })
        ));
        spec.bytes = None;
        spec.sha256 = "0".repeat(64);
        let e = verify_model_file(&spec, &path).unwrap_err();
        assert!(
            e.to_string().contains(&sha) && e.to_string().contains(&"0".repeat(64)),
            "{e}"
        );
        let e = verify_model_file(&spec, &dir.join("missing.onnx")).unwrap_err();
        assert!(matches!(e, ModelError::ModelMissing { .. }), "{e}");
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn inputs_are_validated() {
        let spec = ModelSpec {
            name: "m".into(),
            version: "1".into(),
            role: "r".into(),
            file: "m.onnx".into(),
            sha256: "0".repeat(64),
            bytes: None,
            licence: "x".into(),
            convert: None,
            source: None,
            inputs: vec![TensorSpec {
                name: "x".into(),
                shape: vec![1, 2],
                dtype: "f32".into(),
            }],
            outputs: vec![],
            preprocess: None,
            stand_in: false,
            user_supplied: false,
            repo_file: None,
            optional: false,
        };
        let ok = [1.0f32, 2.0];
        assert!(validate_inputs(
            &spec,
            &[TensorIn {
                data: &ok,
                shape: &[1, 2]
            }]
        )
        .is_ok());
        let e = validate_inputs(
            &spec,
            &[TensorIn {
                data: &ok[..1],
                shape: &[1, 2],
            }],
        )
        .unwrap_err();
        assert!(
            matches!(
                e,
                ModelError::InputLength {
                    expected: 2,
                    got: 1,
                    ..
                }
            ),
            "{e}"
        );
        let nan = [1.0f32, f32::NAN];
        let e = validate_inputs(
            &spec,
            &[TensorIn {
                data: &nan,
                shape: &[1, 2],
            }],
        )
        .unwrap_err();
        assert!(
            matches!(e, ModelError::NonFiniteInput { index: 1, .. }),
            "{e}"
        );
        let e = validate_inputs(
            &spec,
            &[TensorIn {
                data: &ok,
                shape: &[2, 1],
            }],
        )
        .unwrap_err();
        assert!(matches!(e, ModelError::ShapeMismatch { .. }), "{e}");
    }
}
