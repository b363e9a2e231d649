//! Server-side verifier of LiveProof's signed results (docs/trust.md). It issues session
//! tokens, checks signed results in a fixed order ([`verify`]), keeps replay claims, attempt
//! counts per subject and device keys (registered or revoked) ([`store`], [`registry`]: in
//! memory or in Redis), and serves a JSON HTTP API
//! ([`server`]). It depends on `liveproof-core` without ONNX Runtime: the server runs the
//! device's own policy code (`core::policy::decide`) and never loads a model.

pub mod attest;
pub mod config;
pub mod metrics;
pub mod registry;
pub mod server;
pub mod store;
pub mod testkit;
pub mod verify;

pub use verify::{
    base64_encode, Check, Expected, IssueError, IssueRequest, IssuedToken, RejectReason,
    TenantConfig, Verdict, Verification, Verifier, VerifierConfig,
};

/// The verifier's version.
pub fn version() -> &'static str {
    env!("CARGO_PKG_VERSION")
}
