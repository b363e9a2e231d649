//! Set-up shared by the synth integration tests: the engine configuration over the set-up
//! cache (`core::models::cache`), failing with the command that fetches what is missing.

use liveproof_core::engine::{DetectorKind, EngineConfig};
use liveproof_core::models::cache;

pub fn config(detector: DetectorKind) -> EngineConfig {
    let models_dir = cache::models_dir();
    let ort = cache::runtime_path();
    assert!(
        models_dir.is_dir(),
        "models missing: run `cargo xtask setup`"
    );
    assert!(
        ort.is_file(),
        "ONNX Runtime missing: run `cargo xtask setup`"
    );
    EngineConfig {
        models_dir,
        runtime_path: Some(ort),
        detector,
        ..EngineConfig::default()
    }
}
