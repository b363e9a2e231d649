//! The trust chain's formats (docs/trust.md): the **session token** the server issues (a CWT,
//! RFC 8392, in a tagged `COSE_Sign1`, RFC 9052) and the **signed result** the device returns
//! (an EAT, RFC 9711, in CWT form inside a tagged `COSE_Sign1`). Both are signed with ES256
//! (ECDSA P-256 / SHA-256): the Secure Enclave and Android StrongBox hold only P-256 keys, so
//! one algorithm serves every platform, and the server's tokens use it too.
//!
//! - [`keys`]: the [`Signer`] trait (software keys here; hardware keys through the bindings),
//!   DER → raw `r‖s` in one place, key files, the server's key set with rotation by `kid`.
//! - [`token`]: [`issue_token`] (server) and [`verify_token`] (device and server).
//! - [`signed`]: [`sign_result`] (device), [`SignedResult::parse`] and its signature check
//!   (server).
//!
//! Encoding is deterministic (RFC 8949 §4.2.1: map keys sorted bytewise by their encoding,
//! shortest forms) so golden vectors are byte-stable; checks always run on the bytes as
//! received, never on a re-encoding.
//!
//! This module builds COSE structures with `coset` and signs with RustCrypto's `p256`; no
//! COSE or ECDSA is written by hand here.

use alloc::string::String;

pub mod cbor;
pub mod keys;
pub mod signed;
pub mod testkit;
pub mod token;

#[cfg(test)]
mod tests;

pub use keys::{
    der_to_raw, kid_of, DevicePublicKey, KeyStatus, ServerKeySet, SignatureBytes, Signer,
    SoftwareSigner,
};
pub use signed::{
    sign_claims, sign_result, AttestationEvidence, Measurements, ResultClaims, SignedResult,
    EAT_PROFILE,
};
pub use token::{issue_token, verify_token, TokenClaims, VerifiedToken};

/// Largest token or signed result we read, bytes (the verifier's HTTP body limit is 64 KiB).
pub const MAX_MESSAGE_BYTES: usize = 64 * 1024;

/// Longest token lifetime accepted, seconds (issue #13: default 180 s, at most 600 s).
pub const MAX_TOKEN_TTL_S: u64 = 600;

/// Default token lifetime, seconds.
pub const DEFAULT_TOKEN_TTL_S: u64 = 180;

/// Default clock skew allowed between the device, the server and the token, seconds.
pub const DEFAULT_SKEW_S: u64 = 30;

/// Why a token or a signed result was refused, or a key could not be used. Each variant is a
/// distinct check, so callers (the verifier's verdict, the C ABI) can say which one failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TrustError {
    /// Not a tagged COSE_Sign1 with a CBOR claims payload of the expected shape.
    #[error("malformed {what}: {why}")]
    Malformed { what: &'static str, why: String },
    /// The protected header names another algorithm than ES256.
    #[error("algorithm not allowed: {0} (only ES256, COSE alg -7)")]
    Algorithm(String),
    /// The token's `kid` is not among the pinned server keys.
    #[error("unknown key id `{0}`")]
    UnknownKid(String),
    /// The token's `kid` was rotated out (retired).
    #[error("key id `{0}` was rotated out (retired)")]
    RetiredKid(String),
    /// The signature does not verify with the key it names.
    #[error("{what} signature does not verify")]
    BadSignature { what: &'static str },
    /// `exp` is in the past (beyond the allowed skew).
    #[error("token expired at {exp} (now {now}, skew {skew} s)")]
    Expired { exp: u64, now: u64, skew: u64 },
    /// `iat` is in the future (beyond the allowed skew).
    #[error("token issued in the future at {iat} (now {now}, skew {skew} s)")]
    NotYetValid { iat: u64, now: u64, skew: u64 },
    /// A claim is missing or out of range; names the claim.
    #[error("claim `{claim}`: {why}")]
    Claim { claim: &'static str, why: String },
    /// A key could not be read, parsed or written.
    #[error("key: {0}")]
    Key(String),
    /// The signer failed (a hardware key refused, the user cancelled, an IO error).
    #[error("signer failed: {0}")]
    Signer(String),
}

/// Seconds since the Unix epoch on this machine's clock.
pub fn now_unix() -> u64 {
    unix_seconds(std::time::SystemTime::now())
}

/// `t` in seconds since the Unix epoch (0 before it): the unit of every time claim.
pub fn unix_seconds(t: std::time::SystemTime) -> u64 {
    t.duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}
