//! Hardware attestation: the host app supplies evidence (Android key attestation chain, Play
//! Integrity token, App Attest assertion); the signed result carries it opaque; here an
//! [`AttestationVerifier`] per format turns it into a [`DeviceAssurance`] about the key that
//! signed. Trust anchors, revocation, the clock and the counter store are injected, so a real
//! platform verifier plugs in without touching the pipeline.
//!
//! Shipped: the trait, the carry-through, and [`TestAttestationVerifier`], a complete verifier
//! of a test format (an anchor key vouches for the device key, bound to the session nonce, with
//! a strictly increasing counter like App Attest's). Real platform verifiers can follow.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::SystemTime;

use liveproof_core::trust::{AttestationEvidence, DevicePublicKey};
use serde::Serialize;
use sha2::{Digest, Sha256};

/// How strongly the platform protects the key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AssuranceLevel {
    Software,
    Tee,
    StrongBox,
    SecureEnclave,
}

/// What an attestation established about the device key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DeviceAssurance {
    /// The attested key, SEC1 uncompressed.
    #[serde(skip)]
    pub key_sec1: Vec<u8>,
    pub level: AssuranceLevel,
    /// Verified boot, where the platform reports it.
    pub boot_verified: Option<bool>,
    /// The app's package / bundle id, where the platform reports it.
    pub app_id: Option<String>,
    /// The platform's signature counter, where there is one.
    pub counter: Option<u64>,
}

/// What the evidence must be bound to.
#[derive(Clone, Debug)]
pub struct Binding<'a> {
    pub tenant: &'a str,
    /// The session token's `eat_nonce`.
    pub nonce: &'a [u8],
    /// The key in the result's `cnf`.
    pub device_key: &'a DevicePublicKey,
    /// `ResultClaims::attestation_binding`: the token's hash and the signed claims without the
    /// evidence (App Attest's clientDataHash, a key attestation challenge).
    pub result_binding: [u8; 32],
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AttestError {
    #[error("malformed attestation evidence: {0}")]
    Malformed(String),
    #[error("attestation does not chain to a trusted anchor")]
    Untrusted,
    #[error("the attesting key or the device key is revoked")]
    Revoked,
    #[error("attestation counter {got} is not above the last seen {last}")]
    Counter { got: u64, last: u64 },
    #[error("attestation store unavailable: {0}")]
    Store(String),
}

/// Verifies one attestation format.
#[async_trait::async_trait]
pub trait AttestationVerifier: Send + Sync {
    /// The evidence format it reads (`AttestationEvidence::format`).
    fn format(&self) -> &'static str;
    async fn verify(
        &self,
        evidence: &AttestationEvidence,
        binding: &Binding<'_>,
        now: SystemTime,
    ) -> Result<DeviceAssurance, AttestError>;
}

/// Per-key signature counters that must strictly increase (App Attest's rule).
pub trait CounterStore: Send + Sync {
    /// Records `counter` for `key` if it is above the stored one; else the stored one.
    fn advance(&self, key: &[u8], counter: u64) -> Result<(), AttestError>;
}

/// In-memory counters (one instance).
#[derive(Debug, Default)]
pub struct MemoryCounterStore {
    counters: Mutex<HashMap<Vec<u8>, u64>>,
}

impl CounterStore for MemoryCounterStore {
    fn advance(&self, key: &[u8], counter: u64) -> Result<(), AttestError> {
        let mut map = self
            .counters
            .lock()
            .map_err(|_| AttestError::Store("counter store lock poisoned".into()))?;
        let last = map.get(key).copied();
        if let Some(last) = last.filter(|&l| counter <= l) {
            return Err(AttestError::Counter { got: counter, last });
        }
        map.insert(key.to_vec(), counter);
        Ok(())
    }
}

/// The format [`TestAttestationVerifier`] reads.
pub const TEST_FORMAT: &str = "liveproof_test_attestation";

/// Keys (anchors or devices) whose attestations are no longer honoured.
pub trait RevocationSource: Send + Sync {
    fn is_revoked(&self, key: &DevicePublicKey) -> bool;
}

/// A fixed revocation list.
#[derive(Debug, Default)]
pub struct RevocationList(pub Vec<DevicePublicKey>);

impl RevocationSource for RevocationList {
    fn is_revoked(&self, key: &DevicePublicKey) -> bool {
        self.0.contains(key)
    }
}

/// A test attestation format, complete in every check a real one makes: an anchor key (the
/// "hardware root") signs `SHA-256("liveproof-test-attestation" ‖ result binding ‖ device key
/// SEC1 ‖ counter (u64 BE))`; the evidence is `counter (8 bytes BE) ‖ signature (64 bytes
/// r‖s)`. The result binding ties it to this session's token and this result's claims.
/// Anchors, revocation and the counter store are injected. For tests and labs only: nothing
/// real attests this way.
pub struct TestAttestationVerifier {
    anchors: Vec<DevicePublicKey>,
    revoked: Box<dyn RevocationSource>,
    counters: Box<dyn CounterStore>,
}

impl TestAttestationVerifier {
    pub fn new(
        anchors: Vec<DevicePublicKey>,
        revoked: Box<dyn RevocationSource>,
        counters: Box<dyn CounterStore>,
    ) -> Self {
        TestAttestationVerifier {
            anchors,
            revoked,
            counters,
        }
    }

    /// The message an anchor signs.
    pub fn message(binding: &[u8; 32], device_key: &DevicePublicKey, counter: u64) -> Vec<u8> {
        let mut h = Sha256::new();
        h.update(b"liveproof-test-attestation");
        h.update(binding);
        h.update(device_key.sec1());
        h.update(counter.to_be_bytes());
        h.finalize().to_vec()
    }
}

#[async_trait::async_trait]
impl AttestationVerifier for TestAttestationVerifier {
    fn format(&self) -> &'static str {
        TEST_FORMAT
    }

    async fn verify(
        &self,
        evidence: &AttestationEvidence,
        binding: &Binding<'_>,
        _now: SystemTime,
    ) -> Result<DeviceAssurance, AttestError> {
        if evidence.data.len() != 72 {
            return Err(AttestError::Malformed(format!(
                "{} bytes; expected 8 (counter) + 64 (signature)",
                evidence.data.len()
            )));
        }
        let mut c = [0u8; 8];
        c.copy_from_slice(&evidence.data[..8]);
        let counter = u64::from_be_bytes(c);
        if self.revoked.is_revoked(binding.device_key) {
            return Err(AttestError::Revoked);
        }
        let msg = Self::message(&binding.result_binding, binding.device_key, counter);
        let Some(anchor) = self
            .anchors
            .iter()
            .find(|a| a.verifies(&msg, &evidence.data[8..]))
        else {
            // Another anchor, or bound to another session, result or key.
            return Err(AttestError::Untrusted);
        };
        if self.revoked.is_revoked(anchor) {
            return Err(AttestError::Revoked);
        }
        self.counters.advance(&binding.device_key.sec1(), counter)?;
        Ok(DeviceAssurance {
            key_sec1: binding.device_key.sec1(),
            level: AssuranceLevel::Tee,
            boot_verified: Some(true),
            app_id: None,
            counter: Some(counter),
        })
    }
}
