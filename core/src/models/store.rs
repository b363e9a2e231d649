//! The model store: each manifest model loaded once (sha256 and interface checked) and handed
//! out as `Arc<dyn ModelRunner>` clones to every stage that asks for it by name.
//!
//! Errors are **not** cached: a model that failed (missing file, wrong sha256) is tried again
//! on the next `get`, so a fix (`cargo xtask setup`, a corrected override) takes effect without
//! a restart. A store holds its loader lock while loading, so two threads asking for the same
//! name at once still load the file once.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};

use super::{Manifest, ModelError, ModelRunner, ModelSpec};

/// A model file that replaces the manifest's entry: a path plus the sha256 it must have.
#[derive(Clone, Debug)]
pub struct ModelOverride {
    /// The manifest entry it replaces (e.g. `blazeface_front`).
    pub name: String,
    pub path: PathBuf,
    /// Hex sha256 the file must have (either case).
    pub sha256: String,
}

/// Which inference engine runs the models.
///
/// ONNX Runtime is the default; tract is pure Rust, linked into our own library, so an app
/// ships no separate runtime library (per-model times, parity and package sizes of the two in
/// docs/performance.md).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Backend {
    /// ONNX Runtime, loaded from its shared library at run time (feature `ort`).
    #[default]
    Ort,
    /// tract (feature `tract`).
    Tract,
}

impl Backend {
    /// The loader of this backend, or a typed error naming the feature it needs when this
    /// build was made without it.
    pub fn loader(self) -> Result<Box<Loader>, ModelError> {
        match self {
            #[cfg(feature = "ort")]
            Backend::Ort => Ok(Box::new(ort_loader)),
            #[cfg(feature = "tract")]
            Backend::Tract => Ok(Box::new(tract_loader)),
            #[allow(unreachable_patterns)]
            other => Err(ModelError::Manifest(format!(
                "the {other:?} backend is not in this build (enable core's feature `{}`)",
                match other {
                    Backend::Ort => "ort",
                    Backend::Tract => "tract",
                }
            ))),
        }
    }
}

/// What a store needs to find and load models: the model-loading part of an `EngineConfig`.
#[derive(Clone, Debug)]
pub struct StoreConfig {
    /// Folder holding the model files named in the manifest.
    pub models_dir: PathBuf,
    /// ONNX Runtime shared library; `None` = `$ORT_DYLIB_PATH`.
    pub runtime_path: Option<PathBuf>,
    /// ONNX Runtime intra-op threads per model.
    pub intra_op_threads: usize,
    /// Model files that replace the manifest's entries (path + the sha256 they must have).
    pub overrides: Vec<ModelOverride>,
}

impl StoreConfig {
    /// Same folder, runtime, threads and overrides (the key of [`ModelStore::shared`]).
    #[cfg(feature = "ort")]
    fn same(&self, o: &StoreConfig) -> bool {
        self.models_dir == o.models_dir
            && self.runtime_path == o.runtime_path
            && self.intra_op_threads == o.intra_op_threads
            && self.overrides.len() == o.overrides.len()
            && self
                .overrides
                .iter()
                .zip(&o.overrides)
                .all(|(a, b)| a.name == b.name && a.path == b.path && a.sha256 == b.sha256)
    }
}

/// Resolves a model name to its spec and file, applying a user override (path + sha256).
pub fn resolve(
    manifest: &Manifest,
    config: &StoreConfig,
    name: &str,
) -> Result<(ModelSpec, PathBuf), ModelError> {
    let mut spec = manifest.model(name)?.clone();
    if let Some(o) = config.overrides.iter().find(|o| o.name == name) {
        spec.sha256 = o.sha256.to_ascii_lowercase();
        spec.bytes = None;
        return Ok((spec, o.path.clone()));
    }
    if spec.user_supplied {
        return Err(ModelError::NotSupplied {
            name: name.to_string(),
            hint: String::new(),
        });
    }
    let path = config.models_dir.join(&spec.file);
    Ok((spec, path))
}

/// Builds a runner from a resolved spec and file (the ORT backend, or a test double).
pub type Loader = dyn Fn(&StoreConfig, &ModelSpec, &std::path::Path) -> Result<Arc<dyn ModelRunner>, ModelError>
    + Send
    + Sync;

/// How a store keeps what it loaded.
#[derive(Clone)]
enum Slot {
    /// Kept for the store's lifetime ([`ModelStore::new`]).
    Strong(Arc<dyn ModelRunner>),
    /// Kept while some caller holds it ([`ModelStore::shared`]): shared, never leaked.
    Weak(Weak<dyn ModelRunner>),
}

/// Loads each manifest model once and hands out clones of it.
pub struct ModelStore {
    config: StoreConfig,
    manifest: Manifest,
    loader: Box<Loader>,
    weak: bool,
    cache: Mutex<BTreeMap<String, Slot>>,
    loads: AtomicUsize,
}

impl std::fmt::Debug for ModelStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<String> = self
            .cache
            .lock()
            .map(|c| c.keys().cloned().collect())
            .unwrap_or_default();
        f.debug_struct("ModelStore")
            .field("models_dir", &self.config.models_dir)
            .field("cached", &names)
            .field("loads", &self.loads())
            .finish()
    }
}

impl ModelStore {
    /// A store over the embedded manifest that loads through ONNX Runtime and keeps every
    /// model it loaded until it is dropped.
    #[cfg(feature = "ort")]
    pub fn new(config: impl Into<StoreConfig>) -> Result<ModelStore, ModelError> {
        Self::with_loader(config.into(), Manifest::embedded()?, Box::new(ort_loader))
    }

    /// A store over the embedded manifest that loads through `backend` and keeps every model
    /// it loaded until it is dropped.
    pub fn with_backend(
        config: impl Into<StoreConfig>,
        backend: Backend,
    ) -> Result<ModelStore, ModelError> {
        Self::with_loader(config.into(), Manifest::embedded()?, backend.loader()?)
    }

    /// A store over `manifest` with another loader (another backend, or a test double).
    pub fn with_loader(
        config: StoreConfig,
        manifest: Manifest,
        loader: Box<Loader>,
    ) -> Result<ModelStore, ModelError> {
        Ok(ModelStore {
            config,
            manifest,
            loader,
            weak: false,
            cache: Mutex::new(BTreeMap::new()),
            loads: AtomicUsize::new(0),
        })
    }

    /// The process-wide store for this configuration, for callers that hold only an
    /// `EngineConfig` (`PassiveModels::load`, `EyeStateModel::load`, ...): every caller with
    /// the same models folder, runtime, threads and overrides gets the same runner while any
    /// of them holds it; a model nobody holds any more is freed and loaded again when asked.
    #[cfg(feature = "ort")]
    pub fn shared(config: impl Into<StoreConfig>) -> Result<Arc<ModelStore>, ModelError> {
        static SHARED: Mutex<Vec<Arc<ModelStore>>> = Mutex::new(Vec::new());
        let config = config.into();
        let mut stores = SHARED.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(s) = stores.iter().find(|s| s.config.same(&config)) {
            return Ok(s.clone());
        }
        let mut store = Self::new(config)?;
        store.weak = true;
        let store = Arc::new(store);
        stores.push(store.clone());
        Ok(store)
    }

    /// The runner of manifest model `name`, loading it on first use (sha256 and interface
    /// checked). Later calls return the same `Arc`. Errors are not cached.
    pub fn get(&self, name: &str) -> Result<Arc<dyn ModelRunner>, ModelError> {
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        match cache.get(name) {
            Some(Slot::Strong(r)) => return Ok(r.clone()),
            Some(Slot::Weak(w)) => {
                if let Some(r) = w.upgrade() {
                    return Ok(r);
                }
            }
            None => {}
        }
        let (spec, path) = resolve(&self.manifest, &self.config, name)?;
        let runner = (self.loader)(&self.config, &spec, &path)?;
        self.loads.fetch_add(1, Ordering::Relaxed);
        let slot = if self.weak {
            Slot::Weak(Arc::downgrade(&runner))
        } else {
            Slot::Strong(runner.clone())
        };
        cache.insert(name.to_string(), slot);
        Ok(runner)
    }

    /// Resolves `name` to its spec and file (override applied) without loading it.
    pub fn resolve(&self, name: &str) -> Result<(ModelSpec, PathBuf), ModelError> {
        resolve(&self.manifest, &self.config, name)
    }

    /// The configuration this store loads with.
    pub fn config(&self) -> &StoreConfig {
        &self.config
    }

    /// The manifest this store resolves names in.
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// How many model files this store has loaded (a cache hit does not count).
    pub fn loads(&self) -> usize {
        self.loads.load(Ordering::Relaxed)
    }
}

/// The ONNX Runtime loader: the runtime (process-wide), then the model (sha256, interface).
#[cfg(feature = "ort")]
fn ort_loader(
    config: &StoreConfig,
    spec: &ModelSpec,
    path: &std::path::Path,
) -> Result<Arc<dyn ModelRunner>, ModelError> {
    use super::{OrtOptions, OrtRunner, OrtRuntime};
    let runtime = OrtRuntime::load(config.runtime_path.as_deref())?;
    let opts = OrtOptions {
        intra_op_threads: config.intra_op_threads,
        ..OrtOptions::default()
    };
    Ok(Arc::new(OrtRunner::load(&runtime, spec, path, &opts)?))
}

/// The tract loader: the model (sha256, interface), typed and optimised for the manifest's
/// input shapes. Needs no runtime library.
#[cfg(feature = "tract")]
fn tract_loader(
    _config: &StoreConfig,
    spec: &ModelSpec,
    path: &std::path::Path,
) -> Result<Arc<dyn ModelRunner>, ModelError> {
    Ok(Arc::new(super::TractRunner::load(spec, path)?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::{TensorIn, TensorOut};

    struct Fake(ModelSpec);

    impl ModelRunner for Fake {
        fn spec(&self) -> &ModelSpec {
            &self.0
        }
        fn run(&self, _: &[TensorIn<'_>], _: &mut Vec<TensorOut>) -> Result<(), ModelError> {
            Ok(())
        }
    }

    fn config() -> StoreConfig {
        StoreConfig {
            models_dir: PathBuf::from("/nowhere"),
            runtime_path: None,
            intra_op_threads: 1,
            overrides: Vec::new(),
        }
    }

    /// A loader that fails while `fail` is set and counts its calls.
    fn store(fail: Arc<std::sync::atomic::AtomicBool>) -> ModelStore {
        let loader = move |_: &StoreConfig, spec: &ModelSpec, _: &std::path::Path| {
            if fail.load(Ordering::Relaxed) {
                return Err(ModelError::Inference {
                    name: spec.name.clone(),
                    reason: "test failure".into(),
                });
            }
            Ok(Arc::new(Fake(spec.clone())) as Arc<dyn ModelRunner>)
        };
        ModelStore::with_loader(config(), Manifest::embedded().unwrap(), Box::new(loader)).unwrap()
    }

    #[test]
    fn each_model_loads_once_and_is_shared() {
        let s = store(Default::default());
        let a = s.get("fr_eye").unwrap();
        let b = s.get("fr_eye").unwrap();
        assert!(Arc::ptr_eq(&a, &b));
        assert_eq!(s.loads(), 1);
        let c = s.get("iris_landmark").unwrap();
        assert!(!Arc::ptr_eq(&a, &c));
        assert_eq!(s.loads(), 2);
        drop((a, b, c));
        // A strong store keeps what it loaded.
        s.get("fr_eye").unwrap();
        assert_eq!(s.loads(), 2);
    }

    /// An app that loads passive, active and matching from one store loads each file once.
    #[test]
    fn stages_share_one_store() {
        let s = store(Default::default());
        let config = crate::passive::analyzer::PassiveConfig::default();
        let a = crate::passive::analyzer::PassiveModels::load_from(&s, &config);
        assert!(!a.texture.is_empty(), "{}", a.texture_note);
        let after_passive = s.loads();
        let b = crate::passive::analyzer::PassiveModels::load_from(&s, &config);
        for ((_, x), (_, y)) in a.texture.iter().zip(&b.texture) {
            assert!(Arc::ptr_eq(x, y));
        }
        crate::active::EyeStateModel::load_from(&s).unwrap();
        crate::active::EyeStateModel::load_from(&s).unwrap();
        crate::matching::Embedder::load_from(&s, "fr_feature").unwrap();
        crate::matching::Embedder::load_from(&s, "fr_feature").unwrap();
        assert_eq!(s.loads(), after_passive + 2);
    }

    #[test]
    fn errors_are_not_cached_and_weak_slots_reload() {
        let fail = Arc::new(std::sync::atomic::AtomicBool::new(true));
        let mut s = store(fail.clone());
        assert!(s.get("fr_eye").is_err());
        assert!(matches!(s.get("nope"), Err(ModelError::UnknownModel(_))));
        fail.store(false, Ordering::Relaxed);
        s.weak = true;
        let a = s.get("fr_eye").unwrap();
        assert!(Arc::ptr_eq(&a, &s.get("fr_eye").unwrap()));
        assert_eq!(s.loads(), 1);
        drop(a);
        s.get("fr_eye").unwrap();
        assert_eq!(s.loads(), 2);
    }

    #[test]
    fn overrides_and_user_supplied_models_resolve() {
        let s = store(Default::default());
        let (spec, path) = s.resolve("fr_eye").unwrap();
        assert_eq!(path, PathBuf::from("/nowhere").join(&spec.file));
        let user = s
            .manifest()
            .models
            .values()
            .find(|m| m.user_supplied)
            .expect("a user-supplied model in the manifest")
            .name
            .clone();
        assert!(matches!(
            s.resolve(&user),
            Err(ModelError::NotSupplied { .. })
        ));
        let mut c = config();
        c.overrides.push(ModelOverride {
            name: user.clone(),
            path: PathBuf::from("/x.onnx"),
            sha256: "AB".repeat(32),
        });
        let (spec, path) = resolve(s.manifest(), &c, &user).unwrap();
        assert_eq!(path, PathBuf::from("/x.onnx"));
        assert_eq!(spec.sha256, "ab".repeat(32));
        assert_eq!(spec.bytes, None);
    }
}
