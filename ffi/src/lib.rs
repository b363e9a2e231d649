//! LiveProof's C ABI and UniFFI exports. A shell for now: the platform issue fills it.
//! It holds no logic that a core test could not reach.

/// The core crate's version, re-exported for the bindings.
pub fn version() -> &'static str {
    env!("CARGO_PKG_VERSION")
}
