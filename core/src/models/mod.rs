//! Model runner: the manifest, file verification, a small runner trait, and two backends: ONNX
//! Runtime (feature `ort`, `load-dynamic`) and tract (feature `tract`, pure Rust, linked in).
//!
//! Every model file is checked against the sha256 pinned in `models/manifest.toml` (embedded
//! in the binary at build time) and its input/output names and shapes are checked against the
//! manifest before a session is built. Pre- and post-processing are pure functions in the stage
//! modules (`detect`, `mesh`, ...), so tests can call them without ONNX Runtime.

pub mod cache;
mod interface;
mod manifest;
#[cfg(feature = "ort")]
mod ort;
mod runner;
mod store;
#[cfg(feature = "tract")]
mod tract;
mod verify;

use std::path::PathBuf;

pub use self::interface::{
    check_file_interface, check_interface, onnx_dtype, resolve_any_names, FileTensor, ANY_NAME,
};
pub use self::manifest::is_sha256_hex;
pub use self::manifest::{
    DecodeSpec, FixtureSpec, Manifest, ModelSpec, Preprocess, ReferenceSpec, RuntimeSpec,
    SourceSpec, SwapSpec, TensorSpec, ToolSpec,
};
#[cfg(feature = "ort")]
pub use self::ort::{OrtOptions, OrtRunner, OrtRuntime, STREAM_MODELS_FROM_BYTES};
pub use self::runner::{validate_inputs, ModelRunner, TensorIn, TensorOut};
pub use self::store::{resolve, Backend, Loader, ModelOverride, ModelStore, StoreConfig};
#[cfg(feature = "tract")]
pub use self::tract::TractRunner;
pub use self::verify::{read_verified_model, sha256_file, verify_model_file};

/// The manifest as shipped with this build (`models/manifest.toml`).
pub const EMBEDDED_MANIFEST: &str = include_str!("../../../models/manifest.toml");

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
