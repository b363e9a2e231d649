//! Faults of the set-up that must give a typed error, never a crash or a silent load: a model
//! file changed on disk after set-up, a truncated or corrupt model, and an ONNX Runtime library
//! that is missing, not a library, not ONNX Runtime, or of another version. Real ONNX Runtime,
//! real models from the set-up cache (`cargo xtask setup`); each error must name the file.
//!
//! Covered elsewhere, not repeated here (`tests/tests/perception.rs::bad_setups_give_typed_errors`):
//! a missing runtime through `Engine::new`, a missing models folder, an override pinning another
//! sha256, a truncated file whose own sha256 is pinned (`ModelCorrupt`), a valid model of the
//! wrong interface.

use std::path::{Path, PathBuf};
use std::process::Command;

use liveproof_core::models::{
    sha256_file, Manifest, ModelError, ModelOverride, ModelRunner, ModelSpec, ModelStore,
    OrtOptions, OrtRunner, OrtRuntime, StoreConfig, TensorIn,
};
use liveproof_tests::{models_dir, ort_lib};

/// A small manifest model (207 KB): quick to copy, hash and load.
const MODEL: &str = "fr_eye";

/// A fresh folder under the system temp dir, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        let p = std::env::temp_dir().join(format!("lp-faults-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A store over `dir` with the set-up's ONNX Runtime and `overrides`.
fn store(dir: &Path, overrides: Vec<ModelOverride>) -> ModelStore {
    ModelStore::new(StoreConfig {
        models_dir: dir.to_path_buf(),
        runtime_path: Some(ort_lib()),
        intra_op_threads: 1,
        overrides,
    })
    .unwrap()
}

/// The error of loading `name`, which must fail.
fn load_error(store: &ModelStore, name: &str) -> ModelError {
    match store.get(name) {
        Ok(_) => panic!("model `{name}` loaded, expected an error"),
        Err(e) => e,
    }
}

/// Asserts the message names the model and the file.
fn names_model_and_file(e: &ModelError, name: &str, path: &Path) {
    let text = e.to_string();
    assert!(text.contains(&format!("`{name}`")), "{text}");
    assert!(text.contains(&path.display().to_string()), "{text}");
}

/// The real model, copied into a fresh folder under its manifest file name.
fn copy_of_model(dir: &TempDir) -> (PathBuf, Manifest) {
    let manifest = Manifest::embedded().unwrap();
    let file = &manifest.model(MODEL).unwrap().file;
    let copy = dir.0.join(file);
    std::fs::copy(models_dir().join(file), &copy).unwrap();
    (copy, manifest)
}

/// A model file changed on disk after set-up: it loaded with the pinned sha256; one flipped
/// byte later a new load is `HashMismatch` naming the model, the file and both hashes. The
/// session already built keeps the bytes it was built from (the store still serves it).
#[test]
fn a_model_changed_on_disk_after_set_up_is_a_hash_mismatch() {
    let dir = TempDir::new("changed");
    let (copy, manifest) = copy_of_model(&dir);
    let pinned = manifest.model(MODEL).unwrap().sha256.clone();
    let first = store(&dir.0, vec![]);
    let loaded = first.get(MODEL).expect("the pinned file loads");

    let mut bytes = std::fs::read(&copy).unwrap();
    let at = bytes.len() / 2;
    bytes[at] ^= 0x01;
    std::fs::write(&copy, &bytes).unwrap();
    let changed = sha256_file(&copy).unwrap();

    let e = load_error(&store(&dir.0, vec![]), MODEL);
    match &e {
        ModelError::HashMismatch {
            name,
            path,
            expected,
            got,
        } => {
            assert_eq!(name, MODEL);
            assert_eq!(path, &copy);
            assert_eq!(expected, &pinned);
            assert_eq!(got, &changed);
        }
        other => panic!("expected HashMismatch, got {other:?}"),
    }
    names_model_and_file(&e, MODEL, &copy);
    let text = e.to_string();
    assert!(text.contains(&pinned) && text.contains(&changed), "{text}");
    // What was loaded before the change is what the first store still hands out.
    assert!(std::sync::Arc::ptr_eq(&loaded, &first.get(MODEL).unwrap()));
}

/// Shorter than the manifest's pinned size (an interrupted copy): `ModelTruncated` with both
/// sizes, before any hashing or parsing.
#[test]
fn a_truncated_model_is_refused_by_its_pinned_size() {
    let dir = TempDir::new("truncated");
    let (copy, manifest) = copy_of_model(&dir);
    let pinned = manifest.model(MODEL).unwrap().bytes.expect("size pinned");
    let bytes = std::fs::read(&copy).unwrap();
    std::fs::write(&copy, &bytes[..bytes.len() / 2]).unwrap();
    let e = load_error(&store(&dir.0, vec![]), MODEL);
    assert!(
        matches!(e, ModelError::ModelTruncated { expected, got, .. }
            if expected == pinned && got == pinned / 2),
        "{e:?}"
    );
    names_model_and_file(&e, MODEL, &copy);

    // Longer than pinned (bytes appended): refused as another file, its real sha256 named.
    let mut longer = bytes.clone();
    longer.extend_from_slice(b"appended");
    std::fs::write(&copy, &longer).unwrap();
    let e = load_error(&store(&dir.0, vec![]), MODEL);
    assert!(
        matches!(&e, ModelError::HashMismatch { got, .. } if got == &sha256_file(&copy).unwrap()),
        "{e:?}"
    );
    names_model_and_file(&e, MODEL, &copy);
}

/// Garbage bytes pinned by their own sha256 (an override): the integrity check passes, ONNX
/// Runtime refuses to parse them: `ModelCorrupt` naming the model and file, no crash.
#[test]
fn a_corrupt_model_with_its_own_sha256_pinned_is_model_corrupt() {
    let dir = TempDir::new("corrupt");
    let garbage: Vec<u8> = (0..64 * 1024u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let path = dir.0.join("garbage.onnx");
    std::fs::write(&path, &garbage).unwrap();
    let sha = sha256_file(&path).unwrap();
    let s = store(
        &dir.0,
        vec![ModelOverride {
            name: MODEL.into(),
            path: path.clone(),
            sha256: sha,
        }],
    );
    let e = load_error(&s, MODEL);
    assert!(matches!(e, ModelError::ModelCorrupt { .. }), "{e:?}");
    names_model_and_file(&e, MODEL, &path);

    // An empty file pinned by its own sha256: the same.
    let empty = dir.0.join("empty.onnx");
    std::fs::write(&empty, b"").unwrap();
    let s = store(
        &dir.0,
        vec![ModelOverride {
            name: MODEL.into(),
            path: empty.clone(),
            sha256: sha256_file(&empty).unwrap(),
        }],
    );
    let e = load_error(&s, MODEL);
    assert!(matches!(e, ModelError::ModelCorrupt { .. }), "{e:?}");
    names_model_and_file(&e, MODEL, &empty);
}

/// Set in the child process that [`runtime_faults_are_typed_errors`] starts.
const FRESH: &str = "LP_FAULTS_FRESH_PROCESS";

/// A stand-in shared library built with the host's C compiler: `version` makes it export
/// `OrtGetApiBase` reporting that ONNX Runtime version (and no API); `None` makes it a real
/// shared library that is not ONNX Runtime.
fn stub_library(dir: &Path, file: &str, version: Option<&str>) -> PathBuf {
    let src = dir.join(format!("{file}.c"));
    let body = match version {
        Some(v) => format!(
            "typedef struct {{ const void *(*get_api)(unsigned); const char *(*version)(void); }} Base;\n\
             static const void *get_api(unsigned v) {{ (void)v; return 0; }}\n\
             static const char *version(void) {{ return \"{v}\"; }}\n\
             static const Base base = {{ get_api, version }};\n\
             const Base *OrtGetApiBase(void) {{ return &base; }}\n"
        ),
        None => "int lp_not_onnxruntime(void) { return 42; }\n".to_string(),
    };
    std::fs::write(&src, body).unwrap();
    let out = dir.join(file);
    let status = Command::new("cc")
        .args(["-shared", "-fPIC", "-o"])
        .arg(&out)
        .arg(&src)
        .status()
        .expect("the C compiler `cc` runs (the C API tests need it too)");
    assert!(status.success(), "cc failed on {}", src.display());
    out
}

/// ONNX Runtime can be bound once per process, so these run in a child process of their own
/// (this test binary again, this test only) in which nothing loaded a runtime before: a missing
/// file is `RuntimeMissing`; a file that is not a shared library, a shared library that is not
/// ONNX Runtime, and ONNX Runtime 1.30 or 1.32 (stand-ins reporting that version) are
/// `RuntimeLoad`; each names the path. Then the real 1.31 library loads in that same process:
/// no refusal bound it to a wrong library.
#[test]
fn runtime_faults_are_typed_errors() {
    if std::env::var_os(FRESH).is_none() {
        let out = Command::new(std::env::current_exe().unwrap())
            .args([
                "runtime_faults_are_typed_errors",
                "--exact",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(FRESH, "1")
            .output()
            .unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        println!("child process:\n{text}");
        assert!(out.status.success(), "the child process failed:\n{text}");
        assert!(text.contains("1 passed"), "the child ran no test:\n{text}");
        return;
    }
    let dir = TempDir::new("runtime");
    let load = |p: &Path| match OrtRuntime::load(Some(p)) {
        Ok(_) => panic!("{} loaded as ONNX Runtime", p.display()),
        Err(e) => {
            assert!(e.to_string().contains(&p.display().to_string()), "{e}");
            println!("{}: {e}", p.display());
            e
        }
    };

    let missing = dir.0.join("libonnxruntime.so.1.31.1");
    assert!(matches!(load(&missing), ModelError::RuntimeMissing { .. }));

    let text = dir.0.join("libonnxruntime.so");
    std::fs::write(&text, "not a library\n").unwrap();
    let e = load(&text);
    assert!(
        matches!(&e, ModelError::RuntimeLoad { reason, .. } if reason.contains("not a shared library")),
        "{e}"
    );

    let other = stub_library(&dir.0, "libnotort.so", None);
    let e = load(&other);
    assert!(
        matches!(&e, ModelError::RuntimeLoad { reason, .. } if reason.contains("OrtGetApiBase")),
        "{e}"
    );

    for v in ["1.30.2", "1.32.0"] {
        let stub = stub_library(&dir.0, &format!("libonnxruntime.so.{v}"), Some(v));
        let e = load(&stub);
        let minor = &v[..4];
        assert!(
            matches!(&e, ModelError::RuntimeLoad { reason, .. }
                if reason.contains(&format!("{minor}.x")) && reason.contains("1.31.x")),
            "{e}"
        );
    }

    // Nothing above bound the process: the supported library loads, and a model runs on it.
    let rt = OrtRuntime::load(Some(&ort_lib())).expect("the set-up's ONNX Runtime loads");
    assert_eq!(rt.path(), ort_lib());
    store(&models_dir(), vec![])
        .get(MODEL)
        .expect("a model loads on it");
}

/// Loads `path` as `spec` through ONNX Runtime, streamed (Linux and Android) or in memory.
fn load_direct(spec: &ModelSpec, path: &Path, streamed: bool) -> Result<OrtRunner, ModelError> {
    let runtime = OrtRuntime::load(Some(&ort_lib())).unwrap();
    let opts = OrtOptions {
        stream_from_bytes: if streamed { 0 } else { u64::MAX },
        ..OrtOptions::default()
    };
    OrtRunner::load(&runtime, spec, path, &opts)
}

/// The model's output on a fixed input.
fn output_of(runner: &OrtRunner) -> Vec<f32> {
    let input: Vec<f32> = (0..24 * 24).map(|i| (i % 17) as f32 / 17.0).collect();
    let mut out = Vec::new();
    runner
        .run(
            &[TensorIn {
                data: &input,
                shape: &[1, 1, 24, 24],
            }],
            &mut out,
        )
        .unwrap();
    out.remove(0).data
}

/// The streamed load (what models of `STREAM_MODELS_FROM_BYTES` and more take on Linux and
/// Android, forced here for a small model) gives the in-memory load's outputs, and answers
/// every fault of the file as the in-memory load does: a changed byte, a shorter or longer
/// file (refused by the first pass, before ONNX Runtime reads anything), garbage or an empty
/// file pinned by their own sha256, a missing file, a folder. None hangs on the pipe ONNX
/// Runtime reads from, including when ONNX Runtime stops reading early.
#[cfg(any(target_os = "linux", target_os = "android"))]
#[test]
fn the_streamed_load_gives_the_same_model_and_the_same_faults() {
    let dir = TempDir::new("streamed");
    let (copy, manifest) = copy_of_model(&dir);
    let spec = manifest.model(MODEL).unwrap().clone();
    let streamed = load_direct(&spec, &copy, true).expect("streamed load");
    let in_memory = load_direct(&spec, &copy, false).expect("in-memory load");
    assert_eq!(output_of(&streamed), output_of(&in_memory));

    let bytes = std::fs::read(&copy).unwrap();
    let kind = |e: &ModelError| std::mem::discriminant(e);
    let both = |spec: &ModelSpec, path: &Path| {
        let s = load_direct(spec, path, true).map(|_| ()).unwrap_err();
        let m = load_direct(spec, path, false).map(|_| ()).unwrap_err();
        assert_eq!(kind(&s), kind(&m), "streamed {s:?}, in memory {m:?}");
        assert_eq!(s.to_string(), m.to_string());
        s
    };
    // One flipped byte.
    let mut changed = bytes.clone();
    changed[bytes.len() / 2] ^= 0x01;
    std::fs::write(&copy, &changed).unwrap();
    let e = both(&spec, &copy);
    assert!(
        matches!(&e, ModelError::HashMismatch { got, .. } if got == &sha256_file(&copy).unwrap()),
        "{e:?}"
    );
    // Shorter and longer than pinned.
    std::fs::write(&copy, &bytes[..bytes.len() / 2]).unwrap();
    assert!(matches!(
        both(&spec, &copy),
        ModelError::ModelTruncated { .. }
    ));
    let mut longer = bytes.clone();
    longer.extend_from_slice(b"appended");
    std::fs::write(&copy, &longer).unwrap();
    assert!(matches!(
        both(&spec, &copy),
        ModelError::HashMismatch { .. }
    ));
    // Garbage and an empty file, each pinned by its own sha256 (as an override is): ONNX
    // Runtime refuses them, after the feeder has verified them.
    // 0x5a bytes parse as one unknown field to the end; 0xff bytes stop ONNX Runtime at the
    // first ones, with far more than a pipe's buffer still to come from the feeder.
    for garbage in [
        vec![0x5au8; 300 * 1024],
        vec![0xffu8; 1024 * 1024],
        Vec::new(),
    ] {
        std::fs::write(&copy, &garbage).unwrap();
        let own = ModelSpec {
            sha256: sha256_file(&copy).unwrap(),
            bytes: None,
            ..spec.clone()
        };
        let e = load_direct(&own, &copy, true).map(|_| ()).unwrap_err();
        assert!(matches!(e, ModelError::ModelCorrupt { .. }), "{e:?}");
        names_model_and_file(&e, MODEL, &copy);
    }
    // No file, and a folder.
    assert!(matches!(
        both(&spec, &dir.0.join("missing.onnx")),
        ModelError::ModelMissing { .. }
    ));
    assert!(matches!(
        both(&spec, &dir.0),
        ModelError::ModelMissing { .. }
    ));
}
