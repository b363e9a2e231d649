//! The set-up cache: where `cargo xtask setup` puts the verified models, the ONNX Runtime
//! library and the test fixtures. Tools, tests and examples that run against it find each
//! part here; every path can be overridden by its environment variable (`cargo xtask env`
//! prints them all).

use std::path::PathBuf;

/// The ONNX Runtime library's file name in the cache's `runtime/` folder (Linux x86-64).
pub const RUNTIME_FILE: &str = "libonnxruntime.so.1.31.1";

/// `$LIVEPROOF_CACHE` when set and not empty, else `~/.cache/liveproof`.
pub fn cache_dir() -> PathBuf {
    if let Some(p) = std::env::var_os("LIVEPROOF_CACHE").filter(|p| !p.is_empty()) {
        return PathBuf::from(p);
    }
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."));
    home.join(".cache").join("liveproof")
}

/// `$var` when set and not empty, else `sub` inside the cache.
pub fn env_or_cache(var: &str, sub: &str) -> PathBuf {
    std::env::var_os(var)
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| cache_dir().join(sub))
}

/// The verified models: `$LIVEPROOF_MODELS_DIR` or the cache's `models/`.
pub fn models_dir() -> PathBuf {
    env_or_cache("LIVEPROOF_MODELS_DIR", "models")
}

/// The public-domain photos and decoded clips: `$LIVEPROOF_FIXTURES_DIR` or `fixtures/`.
pub fn fixtures_dir() -> PathBuf {
    env_or_cache("LIVEPROOF_FIXTURES_DIR", "fixtures")
}

/// The ONNX Runtime library: `$ORT_DYLIB_PATH` or the cache's `runtime/` copy.
pub fn runtime_path() -> PathBuf {
    std::env::var_os("ORT_DYLIB_PATH")
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| cache_dir().join("runtime").join(RUNTIME_FILE))
}
