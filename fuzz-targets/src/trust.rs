//! `token_device` and `result_verifier`: the trust chain's two messages (COSE_Sign1 / CWT,
//! ES256) as each receiver decodes and checks them, at the fixed clock [`NOW_UNIX_S`].

use std::sync::OnceLock;
use std::time::{Duration, SystemTime};

use liveproof_core::trust::token::peek_claims;
use liveproof_core::trust::{verify_token, ServerKeySet, SignedResult, SoftwareSigner};
use liveproof_ffi::session::DeviceToken;
use liveproof_verifier::registry::MemoryDeviceKeyRegistry;
use liveproof_verifier::store::MemoryReplayStore;
use liveproof_verifier::{Expected, Verifier, VerifierConfig};

use crate::{seeds, NOW_UNIX_S, SERVER_SECRET};

/// The SYNTHETIC server key set (verify only: the device pins its public key).
pub(crate) fn server_keys() -> ServerKeySet {
    ServerKeySet::with_signer(
        SoftwareSigner::from_secret_bytes(&SERVER_SECRET).expect("server key"),
    )
    .expect("server key set")
}

/// The server public key as the device pins it (SPKI PEM).
fn server_pem() -> &'static [String] {
    static PEM: OnceLock<Vec<String>> = OnceLock::new();
    PEM.get_or_init(|| {
        let key = SoftwareSigner::from_secret_bytes(&SERVER_SECRET)
            .and_then(|s| s.public())
            .and_then(|k| k.to_pem())
            .expect("server public key PEM");
        vec![key]
    })
}

/// The verifier's configuration: one tenant on the shipped policy in lab mode (any device
/// key trusted, so a result reaches every check after the key's), the SYNTHETIC server key.
pub(crate) fn verifier_config() -> &'static VerifierConfig {
    static CONFIG: OnceLock<VerifierConfig> = OnceLock::new();
    CONFIG.get_or_init(|| {
        VerifierConfig::single_tenant(server_keys(), crate::TENANT, seeds::lab_policy())
            .expect("verifier config")
    })
}

/// A verifier with empty in-memory replay and key stores: each input starts from the same
/// state, so a replay gives the same verdict and memory does not grow across inputs.
pub(crate) fn fresh_verifier() -> Verifier {
    Verifier::new(
        verifier_config().clone(),
        std::sync::Arc::new(MemoryReplayStore::new()),
        std::sync::Arc::new(MemoryDeviceKeyRegistry::new()),
    )
}

/// The targets' async runtime: one current-thread runtime for the process.
pub(crate) fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("tokio runtime")
    })
}

pub(crate) fn now() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(NOW_UNIX_S)
}

/// Fuzz target `token_device`: a session token through the device's check
/// (`DeviceToken::verify`: pinned server key, signature, lifetime, claims, the policy it
/// carries against its hash), core's `verify_token`, and the unsigned `peek_claims` decode
/// (which reaches the claims without a valid signature). An accepted token must decode the
/// same way on every path.
pub fn token_device(data: &[u8]) {
    let peeked = peek_claims(data);
    if let Ok(c) = &peeked {
        c.validate()
            .expect("peek_claims returned claims that fail validate");
    }
    let direct = verify_token(data, &server_keys(), NOW_UNIX_S, 30);
    let device = DeviceToken::verify(data, server_pem(), None, NOW_UNIX_S);
    if let Ok(t) = &device {
        let direct = direct
            .as_ref()
            .expect("the device accepted what verify_token refuses");
        assert_eq!(&t.verified, direct, "device and core verified differently");
        assert_eq!(
            peeked.as_ref().ok(),
            Some(&t.verified.claims),
            "peeked claims"
        );
        assert_eq!(t.session_id().len(), 32, "session id hex");
        assert_eq!(
            t.policy.sha256,
            crate::hex(&t.verified.claims.policy_sha256),
            "the policy hash the device accepted"
        );
        let params = t.verified.session_params(None, "fuzz");
        assert_eq!(params.seed, t.verified.claims.seed);
    }
    if let Ok(v) = &direct {
        assert_eq!(v.bytes, data, "the verified token keeps its bytes");
    }
}

/// Fuzz target `result_verifier`: a signed result through `SignedResult::parse` and its
/// device signature check, then the verifier's whole check sequence
/// (`Verifier::verify_for`, in-memory stores, lab tenant) at the fixed clock. An accepted
/// result must have parsed and carried a valid device signature; a rejection names its check.
pub fn result_verifier(data: &[u8]) {
    let parsed = SignedResult::parse(data);
    let signature_ok = parsed
        .as_ref()
        .is_ok_and(|s| s.verify_device_signature().is_ok());
    let verifier = fresh_verifier();
    let v = runtime().block_on(verifier.verify_for(data, now(), &Expected::default()));
    let verdict = &v.verdict;
    if verdict.accepted {
        assert!(
            signature_ok,
            "accepted a result whose signature does not verify"
        );
        assert!(verdict.reject_reason.is_none() && verdict.failed_check.is_none());
        assert!(verdict.session_id.is_some() && verdict.band.is_some());
    }
    if verdict.reject_reason.is_some() {
        assert!(!verdict.accepted, "a rejected result is accepted");
        assert!(
            verdict.failed_check.is_some(),
            "a rejection without its check"
        );
    }
    if parsed.is_err() {
        assert_eq!(verdict.failed_check, Some("cose_structure"));
    }
    serde_json::to_string(&v.audit).expect("the audit record serialises");
}

/// The verdict [`result_verifier`] gets for `data` (for the seed checks).
pub fn verify_once(data: &[u8]) -> liveproof_verifier::Verdict {
    let verifier = fresh_verifier();
    runtime()
        .block_on(verifier.verify_for(data, now(), &Expected::default()))
        .verdict
}
