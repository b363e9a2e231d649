//! The ONNX Runtime backend of the runner (feature `ort`, `load-dynamic`).

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use ort::session::builder::GraphOptimizationLevel;
use ort::session::Session;
use ort::value::TensorRef;

use super::{
    check_interface, validate_inputs, verify_model_file, ModelError, ModelRunner, ModelSpec,
    TensorIn, TensorOut, ANY_NAME,
};

static RUNTIME: OnceLock<(PathBuf, ::ort::environment::Environment)> = OnceLock::new();
static INIT_LOCK: Mutex<()> = Mutex::new(());

/// The process-wide ONNX Runtime, loaded from a shared library at run time.
///
/// ONNX Runtime can be loaded once per process; a later request for another path gets the
/// already loaded library (and a warning in the log).
#[derive(Clone)]
pub struct OrtRuntime {
    env: ::ort::environment::Environment,
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
        // pointing at a missing library has a set-up problem worth reporting. A bare file name
        // (`libonnxruntime.so`, no directory) is the dynamic loader's to find on its search
        // path: that is how an Android app reaches the library ONNX Runtime's AAR installs
        // beside its own; a name it cannot find fails in `dlopen` as `RuntimeLoad`.
        if !is_bare_name(&path) {
            check_library_file(&path)?;
        }
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
        let builder = std::panic::catch_unwind(|| ::ort::init_from(&path))
            .map_err(|_| ModelError::RuntimeLoad {
                path: path.clone(),
                reason: "the loader panicked".into(),
            })?
            .map_err(|e| ModelError::RuntimeLoad {
                path: path.clone(),
                reason: e.to_string(),
            })?;
        let env = builder
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

/// A file name without any directory: left to the dynamic loader's search path.
fn is_bare_name(path: &Path) -> bool {
    path.parent().is_some_and(|p| p.as_os_str().is_empty()) && path.file_name().is_some()
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
        let outs: Vec<(String, Vec<i64>)> = session.outputs().iter().map(outlet_shape).collect();
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

fn outlet_shape(o: &::ort::value::Outlet) -> (String, Vec<i64>) {
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

    fn run(&self, inputs: &[TensorIn<'_>], outputs: &mut Vec<TensorOut>) -> Result<(), ModelError> {
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
            let value = result
                .get(&d.name)
                .ok_or_else(|| err(&format_args!("output `{}` missing from the run", d.name)))?;
            let (shape, data) = value.try_extract_tensor::<f32>().map_err(|e| err(&e))?;
            out.shape.clear();
            out.shape.extend(shape.iter().map(|&s| s.max(0) as usize));
            out.data.clear();
            out.data.extend_from_slice(data);
        }
        Ok(())
    }
}

#[cfg(test)]
mod name_tests {
    use super::*;

    #[test]
    fn only_a_file_name_without_a_directory_is_left_to_the_loader() {
        assert!(is_bare_name(Path::new("libonnxruntime.so")));
        for p in [
            "./libonnxruntime.so",
            "/lib/libonnxruntime.so",
            "lib/x.so",
            "",
            "/",
        ] {
            assert!(!is_bare_name(Path::new(p)), "{p}");
        }
    }
}
