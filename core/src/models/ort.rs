//! The ONNX Runtime backend of the runner (feature `ort`, `load-dynamic`).

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use liveproof_simd::DenormalsFlushed;
use ort::memory::Allocator;
use ort::session::builder::GraphOptimizationLevel;
use ort::session::{
    HasSelectedOutputs, OutputSelector, RunOptions, Session, SessionInputValue, SessionOutputs,
};
use ort::value::{Tensor, TensorRef};

use super::runner::{check_finite, copy_checking_finite, validate_input_shapes};
use super::{
    check_interface, read_verified_model, resolve_any_names, ModelError, ModelRunner, ModelSpec,
    TensorIn, TensorOut,
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
    /// fail deep inside `ort`); so is a library of another major.minor version than the one
    /// LiveProof is tested with (`models/manifest.toml` `[runtime]`, 1.31.x): `RuntimeLoad`
    /// naming both versions.
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
        // The version is read before `ort` binds the process to the library: a refused file
        // leaves the process free to load the right one later.
        check_runtime_version(&path)?;
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

/// The ONNX Runtime major.minor this build supports: the `[runtime]` version of the embedded
/// manifest (the library set-up fetches and every test runs on).
fn supported_runtime() -> Result<(u32, u32), ModelError> {
    let manifest = super::Manifest::embedded()?;
    let v = &manifest.runtime.version;
    parse_major_minor(v).ok_or_else(|| {
        ModelError::Manifest(format!("[runtime] version `{v}` is not major.minor.patch"))
    })
}

fn parse_major_minor(v: &str) -> Option<(u32, u32)> {
    let mut parts = v.split('.');
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next()?.parse().ok()?;
    Some((major, minor))
}

/// Refuses an ONNX Runtime library of another major.minor than [`supported_runtime`], read
/// with `ort`'s own probe (`OrtGetApiBase()->GetVersionString()`). A library the probe cannot
/// read (not loadable, no `OrtGetApiBase`, not 1.x) is left to `ort::init_from`, which
/// reports why as `RuntimeLoad`.
///
/// `ort` itself refuses only an older runtime (its API level, 1.31, is a minimum) and loads a
/// newer one with a log line; LiveProof is tested on one version, so a newer one is refused
/// too rather than run untested.
fn check_runtime_version(path: &Path) -> Result<(), ModelError> {
    let (major, minor) = supported_runtime()?;
    let Some(found) = ::ort::util::probe(path) else {
        return Ok(());
    };
    if (1, found) != (major, minor) {
        return Err(ModelError::RuntimeLoad {
            path: path.to_path_buf(),
            reason: format!(
                "ONNX Runtime 1.{found}.x; LiveProof supports {major}.{minor}.x (the version \
                 it is tested with; `cargo xtask setup` fetches it)"
            ),
        });
    }
    Ok(())
}

/// Session options of the ORT backend.
#[derive(Clone, Debug)]
pub struct OrtOptions {
    /// Intra-op threads per session (default 1: the app owns the other cores).
    pub intra_op_threads: usize,
    /// Models of at least this many bytes are streamed into ONNX Runtime on Linux and Android
    /// instead of handed over as one buffer (default [`STREAM_MODELS_FROM_BYTES`]; ignored on
    /// other platforms). Either way the session is built from the bytes that were verified.
    pub stream_from_bytes: u64,
}

impl Default for OrtOptions {
    fn default() -> Self {
        Self {
            intra_op_threads: 1,
            stream_from_bytes: STREAM_MODELS_FROM_BYTES,
        }
    }
}

/// A model loaded into an ONNX Runtime session. `Session::run` needs `&mut`, so the
/// session sits behind a mutex; the engine keeps one runner per model.
///
/// Runs allocate nothing on Rust's heap once the input shapes repeat: the first run with a
/// set of input shapes goes through `ort`'s ordinary path (which builds its input and output
/// handles per run) and learns the output shapes; the runner then keeps input tensors of its
/// own (the caller's data is copied in) and pre-allocated outputs bound through
/// [`RunOptions`], and later runs with the same shapes reuse them. A model whose output shapes
/// change between runs with the same input shapes stays on the ordinary path.
pub struct OrtRunner {
    spec: ModelSpec,
    state: Mutex<State>,
}

struct State {
    session: Session,
    bound: Bound,
}

/// The reused run buffers (see [`OrtRunner`]).
enum Bound {
    /// Not yet learnt (or the input shapes changed).
    None,
    Ready(Box<Buffers>),
    /// The outputs did not fit their pre-allocated shapes: ordinary runs only.
    Never,
}

struct Buffers {
    /// The input shapes these buffers are for.
    shapes: Vec<Vec<usize>>,
    /// One tensor per declared input; each run copies the caller's data in.
    inputs: Vec<Tensor<f32>>,
    /// Every output pre-allocated to the shape of the learning run.
    options: RunOptions<HasSelectedOutputs>,
}

/// Inputs the reused path takes (a stack array of views per run; every model here has one).
const MAX_BOUND_INPUTS: usize = 4;

impl std::fmt::Debug for OrtRunner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OrtRunner")
            .field("model", &self.spec.name)
            .finish()
    }
}

impl OrtRunner {
    /// Reads `path` once, verifies those bytes against `spec` (size, sha256), builds a session
    /// from them with full graph optimisation and checks the declared interface. The session is
    /// built from the bytes that were hashed, never by opening the path again, so a file
    /// changed or swapped after the check cannot be loaded in its place.
    pub fn load(
        runtime: &OrtRuntime,
        spec: &ModelSpec,
        path: &Path,
        opts: &OrtOptions,
    ) -> Result<OrtRunner, ModelError> {
        let threads = opts.intra_op_threads.max(1);
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
            .map_err(|e| inference(&e))?
            // Memory: weights allocated outside the arena, and no pre-planned activation block
            // per input shape. Peak RSS of a whole session with the fp32 depth stand-in, 5 runs
            // each: 230-272 MB by default, 215-263 MB with these two; tracking no slower
            // (docs/performance.md).
            .with_memory_pattern(false)
            .map_err(|e| inference(&e))?
            .with_device_allocated_initializers()
            .map_err(|e| inference(&e))?;
        let session = commit_verified(&mut builder, spec, path, opts.stream_from_bytes)?;
        let ins: Vec<(String, Vec<i64>)> = session.inputs().iter().map(outlet_shape).collect();
        let outs: Vec<(String, Vec<i64>)> = session.outputs().iter().map(outlet_shape).collect();
        check_interface(&spec.name, "input", &spec.inputs, &ins)?;
        check_interface(&spec.name, "output", &spec.outputs, &outs)?;
        let spec = resolve_any_names(spec, &ins, &outs);
        Ok(OrtRunner {
            spec,
            state: Mutex::new(State {
                session,
                bound: Bound::None,
            }),
        })
    }
}

/// The default of [`OrtOptions::stream_from_bytes`]: models at least this large are streamed
/// into ONNX Runtime where the platform can (Linux and Android) instead of handed over as one
/// buffer.
///
/// ONNX Runtime parses its own copy of an `.onnx` graph either way. Handed a buffer, it holds
/// both for the whole load: with the 97 MB fp32 ViT-S/DPT depth stand-in, a whole session's
/// peak RSS right after loading it was 267-308 MB from a buffer and 208-215 MB streamed
/// (docs/performance.md, "Peak RSS"). Smaller models keep the buffer: their copy costs little,
/// and the in-memory path, the only one on other platforms, stays exercised by every test.
pub const STREAM_MODELS_FROM_BYTES: u64 = 16 << 20;

/// Builds the session only from bytes of `path` that matched `spec` (size, sha256) as they were
/// read: in memory (read once), or streamed (`streamed`: verified, then read again while
/// hashed), so a file changed or swapped after a check is never loaded into a session.
fn commit_verified(
    builder: &mut ::ort::session::builder::SessionBuilder,
    spec: &ModelSpec,
    path: &Path,
    stream_from_bytes: u64,
) -> Result<Session, ModelError> {
    let corrupt = |e: &dyn std::fmt::Display| ModelError::ModelCorrupt {
        name: spec.name.clone(),
        path: path.to_path_buf(),
        reason: e.to_string(),
    };
    #[cfg(any(target_os = "linux", target_os = "android"))]
    if std::fs::metadata(path).is_ok_and(|m| m.len() >= stream_from_bytes) {
        if let Some(session) = streamed::commit(builder, spec, path, &corrupt)? {
            return Ok(session);
        }
    }
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    let _ = stream_from_bytes;
    let bytes = read_verified_model(spec, path)?;
    // The bytes go as soon as the session is built: the file's size in memory while it loads,
    // nothing after.
    let session = builder.commit_from_memory(&bytes).map_err(|e| corrupt(&e));
    drop(bytes);
    session
}

/// The streamed load: the file is verified first, as a stream (nothing held); then ONNX
/// Runtime reads it from a pipe that a feeder thread fills as it hashes the file again, so
/// neither side holds the whole file while ONNX Runtime parses it.
///
/// The first pass means a file that is not the pinned one never reaches ONNX Runtime's parser.
/// The second pass means the session is built only from bytes that hashed to the pin: a file
/// changed between the two passes is refused and its session dropped before it ever runs. Only
/// such a race (a local writer changing the file during the load) lets ONNX Runtime parse
/// bytes that are not the pinned ones, which the in-memory load never does; it costs one more
/// read and hash of the file (about 55 ms for 97 MB at the 1.7 GB/s SHA-256 measured here).
#[cfg(any(target_os = "linux", target_os = "android"))]
mod streamed {
    use std::io::PipeReader;
    use std::os::fd::AsRawFd;
    use std::path::Path;

    use ort::session::builder::SessionBuilder;
    use ort::session::Session;

    use super::super::verify::{copy_verified_model, verify_model_file};
    use super::super::{ModelError, ModelSpec};

    /// `None` when this process cannot open its own pipe by name (no `/proc`, or a sandbox
    /// refuses it): the caller loads from memory instead.
    pub(super) fn commit(
        builder: &mut SessionBuilder,
        spec: &ModelSpec,
        path: &Path,
        corrupt: &dyn Fn(&dyn std::fmt::Display) -> ModelError,
    ) -> Result<Option<Session>, ModelError> {
        let io = |source| ModelError::Io {
            path: path.to_path_buf(),
            source,
        };
        verify_model_file(spec, path)?;
        let (reader, writer) = std::io::pipe().map_err(io)?;
        // ONNX Runtime opens the pipe's read end by name, as a file of its own; the feeder's
        // end closes when the copy ends, which ONNX Runtime reads as the end of the file.
        let name = format!("/proc/self/fd/{}", reader.as_raw_fd());
        if std::fs::File::open(&name).is_err() {
            return Ok(None);
        }
        let mut reader = Drained {
            reader,
            done: false,
        };
        std::thread::scope(|scope| {
            let feeder = std::thread::Builder::new()
                .name("lp-model-feed".into())
                .spawn_scoped(scope, move || copy_verified_model(spec, path, |_| writer))
                .map_err(io)?;
            let session = builder.commit_from_file(&name);
            let left = reader.drain();
            let verified = feeder.join().unwrap_or_else(|_| {
                Err(io(std::io::Error::other(
                    "the model's feeder thread panicked",
                )))
            });
            // A file that is not the pinned one is that error, whatever ONNX Runtime made of it.
            verified?;
            let session = session.map_err(|e| corrupt(&e))?;
            match left.map_err(io)? {
                0 => Ok(Some(session)),
                n => Err(corrupt(&format!(
                    "ONNX Runtime built the session without reading the model's last {n} bytes"
                ))),
            }
        })
    }

    /// The pipe's read end, read to its end before it closes, on every path out (an unwind
    /// too): whatever ONNX Runtime left unread (it stopped at an error, or never opened the
    /// pipe) is drained, so the feeder never blocks on a full pipe; and since this end stays
    /// open until then, the feeder's writes never meet a closed pipe (no `SIGPIPE`).
    struct Drained {
        reader: PipeReader,
        done: bool,
    }

    impl Drained {
        /// Reads the pipe to its end; the byte count.
        fn drain(&mut self) -> std::io::Result<u64> {
            self.done = true;
            std::io::copy(&mut self.reader, &mut std::io::sink())
        }
    }

    impl Drop for Drained {
        fn drop(&mut self) {
            if !self.done {
                let _ = self.drain();
            }
        }
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

impl OrtRunner {
    fn inference_error(&self, e: &dyn std::fmt::Display) -> ModelError {
        ModelError::Inference {
            name: self.spec.name.clone(),
            reason: e.to_string(),
        }
    }

    /// Runs with the count, shape and length checked, and, when `check` is set, every input
    /// value checked finite (`NonFiniteInput` names the first that is not).
    fn run_checked(
        &self,
        inputs: &[TensorIn<'_>],
        outputs: &mut Vec<TensorOut>,
        check: bool,
    ) -> Result<(), ModelError> {
        validate_input_shapes(&self.spec, inputs)?;
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let State { session, bound } = &mut *state;
        let mut refused = false;
        if let Bound::Ready(b) = bound {
            if b.fits(inputs) {
                // The copy into the runner's own tensors doubles as the finiteness scan.
                let mut finite = true;
                for (t, dst) in inputs.iter().zip(b.inputs.iter_mut()) {
                    let (_, dst) = dst
                        .try_extract_tensor_mut::<f32>()
                        .map_err(|e| self.inference_error(&e))?;
                    if check {
                        finite &= copy_checking_finite(dst, t.data);
                    } else {
                        dst.copy_from_slice(t.data);
                    }
                }
                if !finite {
                    check_finite(&self.spec, inputs)?;
                }
                match run_bound(session, b) {
                    Ok(result) => return self.read_outputs(&result, outputs),
                    Err(e) => {
                        // Output shapes that change with the data: the ordinary path from now
                        // on (its own run below reports a real failure).
                        log::debug!(
                            "model `{}`: pre-allocated outputs refused ({e}); ordinary runs",
                            self.spec.name
                        );
                        refused = true;
                    }
                }
            }
        }
        if refused {
            *bound = Bound::Never;
        }
        if check {
            check_finite(&self.spec, inputs)?;
        }
        let mut values = Vec::with_capacity(inputs.len());
        for (d, t) in self.spec.inputs.iter().zip(inputs) {
            let v = TensorRef::from_array_view((t.shape, t.data))
                .map_err(|e| self.inference_error(&e))?;
            values.push((d.name.as_str(), v));
        }
        let result = {
            let _flushed = DenormalsFlushed::new();
            session.run(values)
        }
        .map_err(|e| self.inference_error(&e))?;
        self.read_outputs(&result, outputs)?;
        if !matches!(bound, Bound::Never) && inputs.len() <= MAX_BOUND_INPUTS {
            // Learn the buffers for the next run with these shapes (a failure only means
            // ordinary runs).
            *bound = match Buffers::new(&self.spec, inputs, outputs) {
                Ok(b) => Bound::Ready(Box::new(b)),
                Err(e) => {
                    log::debug!(
                        "model `{}`: run buffers not kept ({e}); ordinary runs",
                        self.spec.name
                    );
                    Bound::Never
                }
            };
        }
        Ok(())
    }

    /// Copies every declared output of `result` into `outputs`, reusing their allocations.
    fn read_outputs(
        &self,
        result: &SessionOutputs<'_>,
        outputs: &mut Vec<TensorOut>,
    ) -> Result<(), ModelError> {
        outputs.resize_with(self.spec.outputs.len(), TensorOut::default);
        for (d, out) in self.spec.outputs.iter().zip(outputs.iter_mut()) {
            let value = result.get(&d.name).ok_or_else(|| {
                self.inference_error(&format_args!("output `{}` missing from the run", d.name))
            })?;
            let (shape, data) = value
                .try_extract_tensor::<f32>()
                .map_err(|e| self.inference_error(&e))?;
            out.shape.clear();
            out.shape.extend(shape.iter().map(|&s| s.max(0) as usize));
            out.data.clear();
            out.data.extend_from_slice(data);
        }
        Ok(())
    }
}

impl Buffers {
    /// Input tensors shaped as `inputs`, and outputs pre-allocated as the run that just
    /// produced `outputs`.
    fn new(
        spec: &ModelSpec,
        inputs: &[TensorIn<'_>],
        outputs: &[TensorOut],
    ) -> Result<Buffers, ::ort::Error> {
        let alloc = Allocator::default();
        let tensors = inputs
            .iter()
            .map(|t| Tensor::<f32>::new(&alloc, t.shape))
            .collect::<Result<Vec<_>, _>>()?;
        let mut selector = OutputSelector::default();
        for (d, out) in spec.outputs.iter().zip(outputs) {
            selector = selector.preallocate(
                d.name.as_str(),
                Tensor::<f32>::new(&alloc, out.shape.as_slice())?,
            );
        }
        Ok(Buffers {
            shapes: inputs.iter().map(|t| t.shape.to_vec()).collect(),
            inputs: tensors,
            options: RunOptions::new()?.with_outputs(selector),
        })
    }

    fn fits(&self, inputs: &[TensorIn<'_>]) -> bool {
        self.shapes.len() == inputs.len()
            && self
                .shapes
                .iter()
                .zip(inputs)
                .all(|(s, t)| s.as_slice() == t.shape)
    }
}

/// One run on the kept buffers: views of the input tensors in a stack array (no allocation
/// in `ort` either for a model of up to 6 inputs and 4 outputs with short names).
fn run_bound<'r>(
    session: &'r mut Session,
    b: &'r Buffers,
) -> Result<SessionOutputs<'r>, ::ort::Error> {
    fn feed<const N: usize>(b: &Buffers) -> [SessionInputValue<'_>; N] {
        core::array::from_fn(|i| SessionInputValue::from(b.inputs[i].view()))
    }
    // Denormals flushed for the run: ONNX Runtime runs a one-thread session on this thread,
    // and a network whose activations reach denormals is many times slower without it
    // (`fr_feature`: 55 ms against 4.2 ms; `liveproof_simd::DenormalsFlushed`).
    let _flushed = DenormalsFlushed::new();
    match b.inputs.len() {
        1 => session.run_with_options(feed::<1>(b), &b.options),
        2 => session.run_with_options(feed::<2>(b), &b.options),
        3 => session.run_with_options(feed::<3>(b), &b.options),
        4 => session.run_with_options(feed::<4>(b), &b.options),
        n => Err(::ort::Error::new(format!(
            "{n} inputs: more than the reused path takes"
        ))),
    }
}

impl ModelRunner for OrtRunner {
    fn spec(&self) -> &ModelSpec {
        &self.spec
    }

    fn run(&self, inputs: &[TensorIn<'_>], outputs: &mut Vec<TensorOut>) -> Result<(), ModelError> {
        self.run_checked(inputs, outputs, true)
    }

    /// Skips only the finiteness scan (the count, shape and length checks stay).
    fn run_prechecked(
        &self,
        inputs: &[TensorIn<'_>],
        outputs: &mut Vec<TensorOut>,
    ) -> Result<(), ModelError> {
        self.run_checked(inputs, outputs, false)
    }
}

#[cfg(test)]
mod name_tests {
    use super::*;

    #[test]
    fn the_supported_runtime_is_the_manifests() {
        assert_eq!(parse_major_minor("1.31.1"), Some((1, 31)));
        assert_eq!(parse_major_minor("1.31"), Some((1, 31)));
        assert_eq!(parse_major_minor("1"), None);
        assert_eq!(parse_major_minor("1.x.0"), None);
        assert_eq!(supported_runtime().unwrap(), (1, 31));
    }

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
