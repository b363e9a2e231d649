//! ONNX Runtime named by a bare file name goes to the dynamic loader's search path (as on
//! Android, where ONNX Runtime's AAR installs `libonnxruntime.so` beside the app's libraries).
//! Its own process: no runtime may be loaded before.

use std::path::Path;

use liveproof_core::models::ModelError;

#[test]
fn a_bare_name_the_loader_cannot_find_fails_in_dlopen_not_before() {
    let loaded = liveproof_core::models::OrtRuntime::load(Some(Path::new(
        "libliveproof-no-such-onnxruntime.so",
    )));
    let Err(e) = loaded else {
        panic!("no library of that name exists, yet it loaded");
    };
    match e {
        ModelError::RuntimeLoad { path, reason } => {
            assert_eq!(path, Path::new("libliveproof-no-such-onnxruntime.so"));
            assert!(reason.contains("failed to load"), "{reason}");
        }
        other => panic!("expected RuntimeLoad from dlopen, got {other:?}"),
    }
}
