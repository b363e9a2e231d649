//! The verifier's checks, each failure with its own reason, on SYNTHETIC signed results
//! (`liveproof_verifier::testkit`: core's decision code on made-up evidence).

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use liveproof_core::evidence::ChallengeEvidence;
use liveproof_core::policy::{Band, DeviceKeyTrust, FlowType, LoadedPolicy, ReasonCode, RiskTier};
use liveproof_core::trust::{
    AttestationEvidence, DevicePublicKey, KeyStatus, ResultClaims, ServerKeySet, SignatureBytes,
    Signer, SoftwareSigner, TrustError,
};
use liveproof_verifier::attest::{
    MemoryCounterStore, RevocationList, TestAttestationVerifier, TEST_FORMAT,
};
use liveproof_verifier::registry::MemoryDeviceKeyRegistry;
use liveproof_verifier::store::MemoryReplayStore;
use liveproof_verifier::testkit::{signed_sample, signed_sample_with, PASSING_RAW};
use liveproof_verifier::{IssueRequest, RejectReason, Verdict, Verifier, VerifierConfig};

const TENANT: &str = "acme";

fn now() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_796_000_000)
}

fn policy(device_key: DeviceKeyTrust) -> LoadedPolicy {
    let mut p = LoadedPolicy::from_json(liveproof_core::defaults::POLICY_JSON)
        .unwrap()
        .policy;
    p.security.device_key = device_key;
    LoadedPolicy::new(p).unwrap()
}

fn server_keys() -> ServerKeySet {
    ServerKeySet::with_signer(SoftwareSigner::from_secret_bytes(&[0x11; 32]).unwrap()).unwrap()
}

fn config(device_key: DeviceKeyTrust) -> VerifierConfig {
    VerifierConfig::single_tenant(server_keys(), TENANT, policy(device_key)).unwrap()
}

fn verifier(cfg: VerifierConfig) -> Verifier {
    Verifier::new(
        cfg,
        Arc::new(MemoryReplayStore::new()),
        Arc::new(MemoryDeviceKeyRegistry::new()),
    )
}

/// A verifier of `keys` for the tenant, trusting any device key (lab mode: the key check is not
/// what these tests are about).
fn lab(keys: ServerKeySet) -> Verifier {
    verifier(
        VerifierConfig::single_tenant(keys, TENANT, policy(DeviceKeyTrust::AllowUnverified))
            .unwrap(),
    )
}

/// Issues `request` on `v` and signs a SYNTHETIC result of raw score `raw`, edited by `edit`
/// before signing (what a tampered device would send).
fn forged(
    v: &Verifier,
    request: &IssueRequest,
    raw: f32,
    edit: impl FnOnce(&mut liveproof_core::result::SessionResult),
) -> Vec<u8> {
    signed_sample_with(v, request, &device(), raw, now(), Vec::new(), edit)
        .unwrap()
        .1
}

fn device() -> SoftwareSigner {
    SoftwareSigner::from_secret_bytes(&[0x22; 32]).unwrap()
}

/// A verifier on the shipped policy with `device()` registered for the tenant.
async fn registered() -> Verifier {
    let v = verifier(config(DeviceKeyTrust::RegisteredOrAttested));
    v.registry()
        .register(TENANT, &device().public().unwrap().sec1(), "test device")
        .await
        .unwrap();
    v
}

fn rejected(v: &Verdict, reason: RejectReason, check: &str) {
    assert!(!v.accepted, "accepted: {v:#?}");
    assert_eq!(v.reject_reason, Some(reason), "{v:#?}");
    assert_eq!(v.failed_check, Some(check), "{v:#?}");
    // Every check before the failing one passed, and the failing one is last.
    let last = v.checks.last().unwrap();
    assert!(!last.passed && last.name == check);
    assert!(v.checks[..v.checks.len() - 1].iter().all(|c| c.passed));
}

fn default_request() -> IssueRequest {
    IssueRequest {
        tenant: TENANT.into(),
        ..IssueRequest::default()
    }
}

fn challenge_request() -> IssueRequest {
    IssueRequest {
        tenant: TENANT.into(),
        flow: Some(FlowType::AccountOpening),
        tier: Some(RiskTier::High),
        ..IssueRequest::default()
    }
}

#[tokio::test]
async fn a_valid_result_is_accepted_once_with_every_check_named() {
    let v = registered().await;
    let (issued, bytes) = signed_sample(&v, TENANT, &device(), PASSING_RAW, now()).unwrap();
    let first = v.verify(&bytes, now()).await;
    let verdict = &first.verdict;
    assert!(verdict.accepted, "{verdict:#?}");
    assert_eq!(verdict.band, Some(Band::Pass));
    assert_eq!(
        verdict.session_id.as_deref(),
        Some(issued.session_id.as_str())
    );
    assert_eq!(verdict.tenant.as_deref(), Some(TENANT));
    assert_eq!(verdict.device_key_trust, Some("registered"));
    let names: Vec<&str> = verdict.checks.iter().map(|c| c.name).collect();
    assert_eq!(
        names,
        [
            "cose_structure",
            "token_signature",
            "token_expiry",
            "binding",
            "tenant",
            "device_signature",
            "device_key_trust",
            "models",
            "policy_hash",
            "policy_reapplied",
            "challenge_plan",
            "replay"
        ]
    );
    assert_eq!(first.audit["verdict"]["accepted"], true);
    assert!(first.audit["device_audit"]["pad_decision"] == "pass");
    // The audit record holds no embedding, landmarks or image: only its known fields.
    let text = first.audit.to_string();
    assert!(!text.contains("embedding") && !text.contains("landmarks"));
    // Replay.
    let again = v.verify(&bytes, now()).await.verdict;
    rejected(&again, RejectReason::Replayed, "replay");
    assert!(!again.retryable);
    // The identical bytes: the same result claimed the session, never a second acceptance.
    assert!(again.same_result);
    assert!(!first.verdict.same_result);
    assert_eq!(again.band, None);
    assert_eq!(again.claimed_band, Some(Band::Pass));
}

#[tokio::test]
async fn concurrent_verifications_of_one_result_accept_exactly_one() {
    let v = Arc::new(registered().await);
    let (_, bytes) = signed_sample(&v, TENANT, &device(), PASSING_RAW, now()).unwrap();
    let bytes = Arc::new(bytes);
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let (v, b) = (v.clone(), bytes.clone());
        tasks.push(tokio::spawn(
            async move { v.verify(&b, now()).await.verdict },
        ));
    }
    let mut accepted = 0;
    let mut replayed = 0;
    for t in tasks {
        let verdict = t.await.unwrap();
        if verdict.accepted {
            accepted += 1;
        } else if verdict.reject_reason == Some(RejectReason::Replayed) {
            assert!(verdict.same_result, "{verdict:?}");
            replayed += 1;
        }
    }
    assert_eq!((accepted, replayed), (1, 15));
}

#[tokio::test]
async fn every_single_byte_flip_is_rejected_by_the_verifier() {
    let v = registered().await;
    let (_, bytes) = signed_sample(&v, TENANT, &device(), PASSING_RAW, now()).unwrap();
    let mut accepted = Vec::new();
    for i in 0..bytes.len() {
        let mut b = bytes.clone();
        b[i] ^= 0x01;
        if v.verify(&b, now()).await.verdict.accepted {
            accepted.push(i);
        }
    }
    assert!(
        accepted.is_empty(),
        "accepted after flipping byte(s) {accepted:?}"
    );
    for bad in [&bytes[..bytes.len() - 1], &[][..]] {
        rejected(
            &v.verify(bad, now()).await.verdict,
            RejectReason::Malformed,
            "cose_structure",
        );
    }
    let mut longer = bytes.clone();
    longer.extend_from_slice(&[0, 0]);
    rejected(
        &v.verify(&longer, now()).await.verdict,
        RejectReason::Malformed,
        "cose_structure",
    );
    // The original is still good: nothing above claimed its session.
    assert!(v.verify(&bytes, now()).await.verdict.accepted);
}

#[tokio::test]
async fn expiry_and_future_dating_are_rejected_beyond_the_skew() {
    let v = registered().await;
    let (_, bytes) = signed_sample(&v, TENANT, &device(), PASSING_RAW, now()).unwrap();
    // 180 s lifetime + 30 s skew.
    let late = v
        .verify(&bytes, now() + Duration::from_secs(210))
        .await
        .verdict;
    rejected(&late, RejectReason::TokenExpired, "token_expiry");
    assert!(
        late.retryable,
        "an expired session is retried with a new token"
    );
    let early = v
        .verify(&bytes, now() - Duration::from_secs(31))
        .await
        .verdict;
    rejected(&early, RejectReason::TokenNotYetValid, "token_expiry");
    assert!(
        v.verify(&bytes, now() + Duration::from_secs(209))
            .await
            .verdict
            .accepted
    );
}

#[tokio::test]
async fn wrong_tenant_unknown_and_rotated_out_kids_are_rejected() {
    let v = registered().await;
    let (issued, bytes) = signed_sample(&v, TENANT, &device(), PASSING_RAW, now()).unwrap();
    let expect = |session: &str, tenant: &str| liveproof_verifier::Expected {
        session_id: Some(session.into()),
        tenant: Some(tenant.into()),
    };
    let wrong = v
        .verify_for(&bytes, now(), &expect(&issued.session_id, "globex"))
        .await
        .verdict;
    rejected(&wrong, RejectReason::WrongTenant, "tenant");
    // A valid result of another session than the one the caller issued to this user.
    let (other, _) = signed_sample(&v, TENANT, &device(), PASSING_RAW, now()).unwrap();
    let moved = v
        .verify_for(&bytes, now(), &expect(&other.session_id, TENANT))
        .await
        .verdict;
    rejected(&moved, RejectReason::BindingMismatch, "binding");
    let right = v
        .verify_for(&bytes, now(), &expect(&issued.session_id, TENANT))
        .await
        .verdict;
    assert!(right.accepted, "{right:#?}");
    assert_eq!(right.flow, Some(FlowType::Login));
    assert_eq!(right.tier, Some(RiskTier::Medium));
    assert_eq!(right.attempt, Some(1));
    // A verifier serving only another tenant.
    let other_tenant = verifier(
        VerifierConfig::single_tenant(
            server_keys(),
            "globex",
            policy(DeviceKeyTrust::AllowUnverified),
        )
        .unwrap(),
    );
    rejected(
        &other_tenant.verify(&bytes, now()).await.verdict,
        RejectReason::WrongTenant,
        "tenant",
    );
    // The same keys configured under another issuer name.
    let mut cfg = config(DeviceKeyTrust::AllowUnverified);
    cfg.issuer = "another-verifier".into();
    rejected(
        &verifier(cfg).verify(&bytes, now()).await.verdict,
        RejectReason::WrongIssuer,
        "token_signature",
    );
    // Another server's keys: unknown kid.
    let stranger = lab(ServerKeySet::with_signer(
        SoftwareSigner::from_secret_bytes(&[0x12; 32]).unwrap(),
    )
    .unwrap());
    rejected(
        &stranger.verify(&bytes, now()).await.verdict,
        RejectReason::UnknownKid,
        "token_signature",
    );
    // Rotation on disk: the first key issues, a second becomes active, the first is retired.
    let dir = std::env::temp_dir().join(format!("lp-verify-rotation-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let k1 = ServerKeySet::generate(&dir).unwrap();
    let v1 = lab(ServerKeySet::load(&dir).unwrap());
    let (_, old) = signed_sample(&v1, TENANT, &device(), PASSING_RAW, now()).unwrap();
    let k2 = ServerKeySet::generate(&dir).unwrap();
    let rotating = lab(ServerKeySet::load(&dir).unwrap());
    let during = rotating.verify(&old, now()).await.verdict;
    assert!(
        during.accepted,
        "a verify-only key still verifies: {during:#?}"
    );
    ServerKeySet::set_status(&dir, &k1, KeyStatus::Retired).unwrap();
    let (_, old2) = signed_sample(&v1, TENANT, &device(), PASSING_RAW, now()).unwrap();
    let after = lab(ServerKeySet::load(&dir).unwrap());
    rejected(
        &after.verify(&old2, now()).await.verdict,
        RejectReason::RetiredKid,
        "token_signature",
    );
    assert_ne!(k1, k2);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn models_sdk_and_policy_hash_are_checked() {
    // A model digest not allowlisted.
    let mut cfg = config(DeviceKeyTrust::AllowUnverified);
    let manifest = liveproof_core::models::Manifest::embedded().unwrap();
    cfg.allowed_models
        .remove(&manifest.model("face_landmark").unwrap().sha256);
    let v = verifier(cfg);
    let (_, bytes) = signed_sample(&v, TENANT, &device(), PASSING_RAW, now()).unwrap();
    let verdict = v.verify(&bytes, now()).await.verdict;
    rejected(&verdict, RejectReason::ModelNotAllowed, "models");
    assert!(verdict
        .checks
        .last()
        .unwrap()
        .detail
        .contains("face_landmark"));
    // An SDK below the minimum.
    let mut cfg = config(DeviceKeyTrust::AllowUnverified);
    cfg.min_sdk_version = (99, 0, 0);
    let v = verifier(cfg);
    let (_, bytes) = signed_sample(&v, TENANT, &device(), PASSING_RAW, now()).unwrap();
    rejected(
        &v.verify(&bytes, now()).await.verdict,
        RejectReason::SdkTooOld,
        "models",
    );
    // The tenant's policy changed after the token was issued.
    let issuing = verifier(config(DeviceKeyTrust::AllowUnverified));
    let (_, bytes) = signed_sample(&issuing, TENANT, &device(), PASSING_RAW, now()).unwrap();
    let mut p = policy(DeviceKeyTrust::AllowUnverified).policy;
    p.max_consecutive_failures += 1;
    let changed = verifier(
        VerifierConfig::single_tenant(server_keys(), TENANT, LoadedPolicy::new(p).unwrap())
            .unwrap(),
    );
    let verdict = changed.verify(&bytes, now()).await.verdict;
    rejected(&verdict, RejectReason::PolicyMismatch, "policy_hash");
    assert!(verdict.retryable);
}

#[tokio::test]
async fn a_forged_band_is_a_client_decision_mismatch() {
    let v = verifier(config(DeviceKeyTrust::AllowUnverified));
    // Scores that the policy fails, with the band rewritten to pass before signing.
    let (_, honest) = signed_sample(&v, TENANT, &device(), 0.05, now()).unwrap();
    let honest_verdict = v.verify(&honest, now()).await.verdict;
    assert!(honest_verdict.accepted, "{honest_verdict:#?}");
    assert_eq!(
        honest_verdict.band,
        Some(Band::Fail),
        "the low scores fail honestly"
    );
    let forged_band = forged(&v, &default_request(), 0.05, |r| {
        r.band = Band::Pass;
        r.audit.pad_decision = Band::Pass;
    });
    let verdict = v.verify(&forged_band, now()).await.verdict;
    rejected(
        &verdict,
        RejectReason::ClientDecisionMismatch,
        "policy_reapplied",
    );
    assert_eq!(verdict.reasons, vec![ReasonCode::ClientDecisionMismatch]);
    // A forged LLR with an honest band is caught by recomputing it from the raw score.
    let forged_llr = forged(&v, &default_request(), PASSING_RAW, |r| {
        if let Some(c) = r.signals.iter_mut().find(|c| c.available) {
            c.llr += 0.5;
        }
    });
    rejected(
        &v.verify(&forged_llr, now()).await.verdict,
        RejectReason::ClientDecisionMismatch,
        "policy_reapplied",
    );
}

#[tokio::test]
async fn a_challenge_order_other_than_the_seeds_is_rejected() {
    let v = verifier(config(DeviceKeyTrust::AllowUnverified));
    let honest = forged(&v, &challenge_request(), PASSING_RAW, |r| {
        assert!(
            !r.challenge_steps.is_empty(),
            "this flow and tier ask for a challenge"
        )
    });
    assert!(v.verify(&honest, now()).await.verdict.accepted);
    let reordered = forged(&v, &challenge_request(), PASSING_RAW, |r| {
        // Perform another first action than the seed's.
        let first = r.challenge_steps[0].action.clone();
        let other = if first == "BLINK" { "SMILE" } else { "BLINK" };
        r.challenge_steps[0].action = other.into();
        if let ChallengeEvidence::Passed { steps, .. } = &mut r.challenge {
            steps[0] = other.into();
        }
        r.audit.challenge = r.challenge.clone();
    });
    let verdict = v.verify(&reordered, now()).await.verdict;
    rejected(&verdict, RejectReason::ChallengeMismatch, "challenge_plan");
}

/// Signs honestly with `key` and keeps the last message it signed (the COSE Sig_structure).
struct Recording {
    key: SoftwareSigner,
    signed: std::sync::Mutex<Vec<u8>>,
}

impl Signer for Recording {
    fn public_key(&self) -> Result<DevicePublicKey, TrustError> {
        self.key.public()
    }
    fn sign(&self, message: &[u8]) -> Result<SignatureBytes, TrustError> {
        *self.signed.lock().unwrap() = message.to_vec();
        self.key.sign(message)
    }
}

#[tokio::test]
async fn device_key_trust_is_never_assumed() {
    // Unregistered under the default policy (registered_or_attested).
    let v = verifier(config(DeviceKeyTrust::RegisteredOrAttested));
    let (_, bytes) = signed_sample(&v, TENANT, &device(), PASSING_RAW, now()).unwrap();
    rejected(
        &v.verify(&bytes, now()).await.verdict,
        RejectReason::DeviceKeyUntrusted,
        "device_key_trust",
    );
    // A policy that allows unverified keys accepts and says so.
    let lab = verifier(config(DeviceKeyTrust::AllowUnverified));
    let (_, bytes) = signed_sample(&lab, TENANT, &device(), PASSING_RAW, now()).unwrap();
    let verdict = lab.verify(&bytes, now()).await.verdict;
    assert!(verdict.accepted);
    assert_eq!(verdict.device_key_trust, Some("unverified"));
    // Signed by another key than the one in cnf. Core refuses to seal that, so forge it at
    // the byte level: a validly signed result whose signature is replaced by another key's
    // over the same Sig_structure (well-formed, low s, only the key is wrong).
    let recording = Recording {
        key: device(),
        signed: Default::default(),
    };
    let (_, mut bytes) = signed_sample(&lab, TENANT, &recording, PASSING_RAW, now()).unwrap();
    assert!(lab.verify(&bytes, now()).await.verdict.accepted);
    let tbs = recording.signed.lock().unwrap().clone();
    let other = SoftwareSigner::from_secret_bytes(&[0x23; 32]).unwrap();
    let forged = other.sign(&tbs).unwrap().into_raw().unwrap();
    assert!(other.public().unwrap().verifies(&tbs, &forged));
    assert!(!device().public().unwrap().verifies(&tbs, &forged));
    // The COSE_Sign1 array ends with the signature: bstr of 64 bytes (0x58 0x40, r ‖ s).
    let at = bytes.len() - 64;
    assert_eq!(bytes[at - 2..at], [0x58, 0x40], "the signature is not last");
    bytes[at..].copy_from_slice(&forged);
    // (The device signature is checked before the replay store: the same session is fine.)
    rejected(
        &lab.verify(&bytes, now()).await.verdict,
        RejectReason::DeviceSignatureInvalid,
        "device_signature",
    );
}

#[tokio::test]
async fn an_attested_key_is_trusted_and_its_counter_must_rise() {
    let anchor = SoftwareSigner::from_secret_bytes(&[0x55; 32]).unwrap();
    let revoked_anchor = SoftwareSigner::from_secret_bytes(&[0x57; 32]).unwrap();
    let attester = Arc::new(TestAttestationVerifier::new(
        vec![anchor.public().unwrap(), revoked_anchor.public().unwrap()],
        Box::new(RevocationList(vec![revoked_anchor.public().unwrap()])),
        Box::new(MemoryCounterStore::default()),
    ));
    let v = verifier(config(DeviceKeyTrust::Attested)).with_attestation(attester);
    let dev = device();
    // The host's flow: issue, build the claims, ask the "platform" (an anchor here) to attest
    // their binding, then sign the claims with the evidence attached.
    let sign_with = |counter: u64, by: &SoftwareSigner| {
        let issued = v.issue_uncounted(&default_request(), now()).unwrap();
        let cfg = v.config();
        let token =
            liveproof_core::trust::verify_token(&issued.token, &cfg.keys, 1_796_000_000, 30)
                .unwrap();
        let pol = token.policy().unwrap().unwrap();
        let cal = liveproof_core::calibration::CalibrationBundle::from_json(
            liveproof_core::defaults::CALIBRATION_JSON,
        )
        .unwrap();
        let result = liveproof_core::trust::testkit::synthetic_result(
            &pol,
            &cal,
            &token.claims,
            PASSING_RAW,
        );
        let mut claims = ResultClaims::new(
            &token,
            &result,
            dev.public().unwrap(),
            Vec::new(),
            1_796_000_000,
        )
        .unwrap();
        let binding = claims.attestation_binding().unwrap();
        let msg = TestAttestationVerifier::message(&binding, &dev.public().unwrap(), counter);
        let mut data = counter.to_be_bytes().to_vec();
        data.extend_from_slice(&by.sign(&msg).unwrap().into_raw().unwrap());
        claims.attestation = vec![AttestationEvidence {
            format: TEST_FORMAT.into(),
            data,
        }];
        liveproof_core::trust::sign_claims(&token, &claims, &dev).unwrap()
    };
    let ok = v.verify(&sign_with(7, &anchor), now()).await.verdict;
    assert!(ok.accepted, "{ok:#?}");
    assert_eq!(ok.device_key_trust, Some("attested"));
    assert_eq!(ok.attestation.as_ref().unwrap().counter, Some(7));
    // The same counter again: refused (App Attest's strictly increasing counter).
    let again = v.verify(&sign_with(7, &anchor), now()).await.verdict;
    rejected(&again, RejectReason::DeviceKeyUntrusted, "device_key_trust");
    assert!(
        again.checks.last().unwrap().detail.contains("counter"),
        "{again:#?}"
    );
    // Evidence from a key that is not an anchor.
    let rogue = SoftwareSigner::from_secret_bytes(&[0x56; 32]).unwrap();
    let bad = v.verify(&sign_with(8, &rogue), now()).await.verdict;
    rejected(&bad, RejectReason::DeviceKeyUntrusted, "device_key_trust");
    // Evidence from a revoked anchor.
    let revoked = v
        .verify(&sign_with(9, &revoked_anchor), now())
        .await
        .verdict;
    rejected(
        &revoked,
        RejectReason::DeviceKeyUntrusted,
        "device_key_trust",
    );
    assert!(revoked.checks.last().unwrap().detail.contains("revoked"));
    // No evidence under a policy that requires attestation, even when registered.
    v.registry()
        .register(TENANT, &dev.public().unwrap().sec1(), "registered")
        .await
        .unwrap();
    let (_, plain) = signed_sample(&v, TENANT, &dev, PASSING_RAW, now()).unwrap();
    rejected(
        &v.verify(&plain, now()).await.verdict,
        RejectReason::DeviceKeyUntrusted,
        "device_key_trust",
    );
    // A revoked key is refused even with valid attestation evidence (a stolen phone).
    assert!(v
        .registry()
        .revoke(TENANT, &dev.public().unwrap().sec1())
        .await
        .unwrap());
    let revoked_key = v.verify(&sign_with(10, &anchor), now()).await.verdict;
    rejected(
        &revoked_key,
        RejectReason::DeviceKeyRevoked,
        "device_key_trust",
    );
}

#[tokio::test]
async fn issuing_refuses_unknown_tenants_and_bad_lifetimes() {
    let v = verifier(config(DeviceKeyTrust::AllowUnverified));
    let req = |tenant: &str, ttl: Option<u64>| IssueRequest {
        tenant: tenant.into(),
        subject: Some("user-1".into()),
        ttl_seconds: ttl,
        ..IssueRequest::default()
    };
    assert!(matches!(
        v.issue_session(&req("globex", None), now()).await,
        Err(liveproof_verifier::IssueError::UnknownTenant(_))
    ));
    for ttl in [0, 601] {
        assert!(matches!(
            v.issue_session(&req(TENANT, Some(ttl)), now()).await,
            Err(liveproof_verifier::IssueError::Invalid(_))
        ));
    }
    // A counted session needs a subject, and a well-formed one.
    let anonymous = IssueRequest {
        subject: None,
        ..req(TENANT, None)
    };
    assert_eq!(
        v.issue_session(&anonymous, now()).await.unwrap_err(),
        liveproof_verifier::IssueError::SubjectRequired
    );
    for bad in ["", "user\n2"] {
        let bad = IssueRequest {
            subject: Some(bad.into()),
            ..req(TENANT, None)
        };
        assert!(matches!(
            v.issue_session(&bad, now()).await,
            Err(liveproof_verifier::IssueError::Invalid(_))
        ));
    }
    // A fixed seed only where the configuration allows it (tests and demos).
    let seeded = IssueRequest {
        seed_hex: Some("07".repeat(32)),
        ..req(TENANT, None)
    };
    assert_eq!(
        v.issue_session(&seeded, now()).await.unwrap_err(),
        liveproof_verifier::IssueError::SeedNotAllowed
    );
    let mut cfg = config(DeviceKeyTrust::AllowUnverified);
    cfg.allow_fixed_seed = true;
    assert!(verifier(cfg).issue_session(&seeded, now()).await.is_ok());
    let a = v
        .issue_session(&req(TENANT, Some(600)), now())
        .await
        .unwrap();
    let b = v.issue_session(&req(TENANT, None), now()).await.unwrap();
    assert_ne!(a.session_id, b.session_id, "session ids are random");
    assert_eq!(a.session_id.len(), 32);
    assert_eq!(b.expires_at, 1_796_000_000 + 180);
    // None of the refused requests counted: a and b are attempts 1 and 2.
    let keys = v.config().keys.clone();
    let attempt = |t: &liveproof_verifier::IssuedToken| {
        liveproof_core::trust::verify_token(&t.token, &keys, 1_796_000_000, 30)
            .unwrap()
            .claims
            .attempt
    };
    assert_eq!((attempt(&a), attempt(&b)), (1, 2));
}

#[tokio::test]
async fn a_cancelled_passive_only_capture_is_an_honest_retry_not_tampering() {
    // Login at low risk is passive-only under the shipped policy; a capture cancelled before
    // its window filled reports the challenge as incomplete, with no steps.
    let v = verifier(config(DeviceKeyTrust::AllowUnverified));
    let request = IssueRequest {
        tenant: TENANT.into(),
        flow: Some(FlowType::Login),
        tier: Some(RiskTier::Low),
        ..IssueRequest::default()
    };
    let cancelled = forged(&v, &request, PASSING_RAW, |r| {
        assert!(r.passive_only && r.challenge_steps.is_empty());
        r.challenge = ChallengeEvidence::Incomplete {
            detail: "cancelled by the app".into(),
        };
        r.audit.challenge = r.challenge.clone();
    });
    let verdict = v.verify(&cancelled, now()).await.verdict;
    assert!(verdict.accepted, "{verdict:#?}");
}

#[test]
fn config_files_are_checked() {
    let dir = std::env::temp_dir().join(format!("lp-verify-config-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    ServerKeySet::generate(&dir.join("keys")).unwrap();
    let write = |text: &str| {
        let p = dir.join("verifier.json");
        std::fs::write(&p, text).unwrap();
        liveproof_verifier::config::load(&p)
    };
    let ok = write(r#"{"keys": "keys", "tenants": {"acme": {}}}"#).unwrap();
    assert_eq!(ok.skew_s, 30);
    assert!(ok.tenants.contains_key("acme"));
    let e =
        write(r#"{"keys": "keys", "tenants": {"acme": {}}, "skew_seconds": 3600}"#).unwrap_err();
    assert!(format!("{e:#}").contains("skew_seconds"), "{e:#}");
    // A policy set on a calibration bundle the verifier does not have.
    let mut p = policy(DeviceKeyTrust::AllowUnverified).policy;
    p.calibration_sha256 = "ab".repeat(32);
    std::fs::write(dir.join("other.json"), serde_json::to_string(&p).unwrap()).unwrap();
    let e =
        write(r#"{"keys": "keys", "tenants": {"acme": {"policy": "other.json"}}}"#).unwrap_err();
    assert!(format!("{e:#}").contains("calibration"), "{e:#}");
    let t = &ok.tenants["acme"];
    assert_eq!((t.max_attempts, t.attempt_window_s), (5, 900));
    let set = write(
        r#"{"keys": "keys", "tenants": {"acme": {"max_attempts": 3, "attempt_window_seconds": 60}}}"#,
    )
    .unwrap();
    let t = &set.tenants["acme"];
    assert_eq!((t.max_attempts, t.attempt_window_s), (3, 60));
    for (bad, field) in [
        (r#"{"max_attempts": 0}"#, "max_attempts"),
        (r#"{"max_attempts": 101}"#, "max_attempts"),
        (r#"{"attempt_window_seconds": 0}"#, "attempt_window_seconds"),
        (
            r#"{"attempt_window_seconds": 86401}"#,
            "attempt_window_seconds",
        ),
    ] {
        let e = write(&format!(
            r#"{{"keys": "keys", "tenants": {{"acme": {bad}}}}}"#
        ))
        .unwrap_err();
        assert!(format!("{e:#}").contains(field), "{bad}: {e:#}");
    }
    let e = write(r#"{"keys": "keys", "tenants": {"acme": {}}, "colour": 1}"#).unwrap_err();
    assert!(format!("{e:#}").contains("colour"), "{e:#}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn a_device_clock_that_jumps_beyond_the_skew_is_a_typed_error() {
    // One skew on both sides: the device's token check (`ffi::session::TOKEN_SKEW_S` is core's
    // DEFAULT_SKEW_S) and the verifier's default.
    let v = registered().await;
    let skew = liveproof_core::trust::DEFAULT_SKEW_S;
    assert_eq!((skew, v.config().skew_s), (30, 30));
    let t0 = 1_796_000_000u64;
    let at = |s: u64| SystemTime::UNIX_EPOCH + Duration::from_secs(s);
    let keys = &v.config().keys;
    // The device's check of a token issued at t0 (180 s lifetime), its clock moved.
    let issued = v.issue_uncounted(&default_request(), now()).unwrap();
    let device_check = |device_now: u64| {
        liveproof_core::trust::verify_token(&issued.token, keys, device_now, skew).map(|_| ())
    };
    assert!(matches!(
        device_check(t0 - skew - 1),
        Err(TrustError::NotYetValid { .. })
    ));
    assert!(device_check(t0 - skew).is_ok());
    assert!(device_check(t0 + 180 + skew - 1).is_ok());
    assert!(matches!(
        device_check(t0 + 180 + skew),
        Err(TrustError::Expired { .. })
    ));
    // A whole session with the device's clock `offset` s off the server's, verified at t0: the
    // result's `iat` is the device's clock.
    let session = |offset: i64| {
        let issued = v.issue_uncounted(&default_request(), now()).unwrap();
        let device_now = at(t0.checked_add_signed(offset).unwrap());
        liveproof_verifier::testkit::sign_issued(
            &v,
            &issued,
            &device(),
            PASSING_RAW,
            device_now,
            Vec::new(),
            |_| {},
        )
    };
    for offset in [-30, 0, 30] {
        let bytes = session(offset).unwrap();
        let verdict = v.verify(&bytes, now()).await.verdict;
        assert!(verdict.accepted, "offset {offset} s: {verdict:#?}");
    }
    // 31 s behind: the device refuses the token itself (typed, before any capture).
    let behind = session(-31).unwrap_err();
    assert!(
        matches!(
            behind.downcast_ref::<TrustError>(),
            Some(TrustError::NotYetValid { .. })
        ),
        "{behind:#}"
    );
    // 31 s ahead: the token is still live on the device, but the verifier refuses a result
    // signed beyond its skew into the future.
    let ahead = session(31).unwrap();
    let verdict = v.verify(&ahead, now()).await.verdict;
    rejected(&verdict, RejectReason::BindingMismatch, "binding");
    assert!(
        verdict.checks.last().unwrap().detail.contains("skew 30 s"),
        "{verdict:#?}"
    );
}

#[tokio::test]
async fn a_revoked_key_is_refused_even_when_attested_or_in_lab_mode() {
    let lab = verifier(config(DeviceKeyTrust::AllowUnverified));
    let key = device().public().unwrap().sec1();
    let (_, bytes) = signed_sample(&lab, TENANT, &device(), PASSING_RAW, now()).unwrap();
    assert!(lab.verify(&bytes, now()).await.verdict.accepted);
    assert!(!lab.registry().revoke(TENANT, &key).await.unwrap());
    let (_, bytes) = signed_sample(&lab, TENANT, &device(), PASSING_RAW, now()).unwrap();
    let verdict = lab.verify(&bytes, now()).await.verdict;
    rejected(&verdict, RejectReason::DeviceKeyRevoked, "device_key_trust");
    assert!(!verdict.retryable);
    // Another device key of the same tenant is unaffected.
    let other = SoftwareSigner::from_secret_bytes(&[0x24; 32]).unwrap();
    let (_, bytes) = signed_sample(&lab, TENANT, &other, PASSING_RAW, now()).unwrap();
    assert!(lab.verify(&bytes, now()).await.verdict.accepted);
}
