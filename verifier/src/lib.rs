//! Server-side verifier of LiveProof's signed results. A shell for now: the trust-chain issue
//! fills it. It depends on `liveproof-core` without the `ort` feature, so the server and the
//! device share the same policy code and the server never loads a model.

/// The verifier's version.
pub fn version() -> &'static str {
    env!("CARGO_PKG_VERSION")
}

pub mod registry;
pub mod server;
pub mod store;
