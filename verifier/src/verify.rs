//! The verifier: issues session tokens and checks signed results, in a fixed order where any
//! failure rejects (docs/trust.md):
//!
//! 1. `cose_structure`: tagged COSE_Sign1, ES256 only, deterministic encoding, known claims;
//! 2. `token_signature`: the carried token, by `kid` (unknown or retired kids refused);
//! 3. `token_expiry`: `iat`/`exp` with the configured clock skew;
//! 4. `binding`: the result echoes the token's nonce and is of its session (the token's hash is
//!    the `external_aad`, checked with the signature in 6);
//! 5. `tenant`: a tenant this verifier serves (and the one the caller expects);
//! 6. `device_signature`: by the key in `cnf`, over the bytes as received;
//! 7. `device_key_trust`: not revoked; attested, registered, or unverified where the policy
//!    allows it;
//! 8. `models`: every model digest allowlisted, the calibration the policy was set on, and a
//!    minimum SDK version;
//! 9. `policy_hash`: the result ran the token's policy, which is the tenant's current one;
//! 10. `policy_reapplied`: the same `core::policy::decide` on the reported evidence gives the
//!     reported band, reasons and score (else `client_decision_mismatch`); LLRs are recomputed
//!     from the raw scores where this verifier has the calibration bundle;
//! 11. `challenge_plan`: the plan recomputed from the seed matches the reported steps;
//! 12. `replay`: the session id is claimed atomically (a store error rejects: fail closed); the
//!     same step counts the band for the session's subject (a pass resets its attempts, a fail
//!     adds a consecutive failure). The claim holds the sha256 of the bytes received: a session
//!     already claimed is `replayed`, with `same_result` when it was claimed by these very bytes
//!     (the verifier never answers `accepted` twice for one session; the backend, which knows
//!     whether it credited the session, decides: docs/trust.md).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use liveproof_core::active::derive_plan;
use liveproof_core::calibration::CalibrationBundle;
use liveproof_core::evidence::ChallengeEvidence;
use liveproof_core::policy::{
    decide, Band, DecisionContext, DeviceKeyTrust, FlowType, LoadedPolicy, ReasonCode, RiskTier,
};
use liveproof_core::result::SessionResult;
use liveproof_core::trust::{
    issue_token, verify_token, ServerKeySet, SignedResult, TokenClaims, TrustError, VerifiedToken,
    DEFAULT_SKEW_S, DEFAULT_TOKEN_TTL_S, MAX_TOKEN_TTL_S,
};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::attest::{AttestationVerifier, Binding, DeviceAssurance};
use crate::registry::{DeviceKeyRegistry, KeyState};
use crate::store::{AttemptGrant, AttemptLimit, Claim, Outcome, ReplayStore, StoreError};

/// Largest clock skew a configuration may allow, seconds: a replay claim lives until
/// `exp + skew`, and a day-long skew would defeat the lifetime.
pub const MAX_SKEW_S: u64 = 300;

/// Default attempt window, seconds: sessions per subject are counted over 15 minutes.
pub const DEFAULT_ATTEMPT_WINDOW_S: u64 = 900;

/// Longest attempt window a configuration may set, seconds (a day).
pub const MAX_ATTEMPT_WINDOW_S: u64 = 24 * 60 * 60;

/// A tenant this verifier serves.
#[derive(Clone, Debug)]
pub struct TenantConfig {
    /// The tenant's current policy: tokens carry it, results must have run it.
    pub policy: LoadedPolicy,
    /// Sessions one subject may be issued within [`Self::attempt_window_s`] (the retry budget
    /// a token states); the next is refused until the window ends or a pass resets it.
    pub max_attempts: u32,
    /// The window over which attempts and consecutive failures are counted, seconds
    /// (1 to [`MAX_ATTEMPT_WINDOW_S`]); it starts at the subject's first session.
    pub attempt_window_s: u64,
}

impl TenantConfig {
    /// A tenant on `policy` with 5 attempts per [`DEFAULT_ATTEMPT_WINDOW_S`].
    pub fn new(policy: LoadedPolicy) -> TenantConfig {
        TenantConfig {
            policy,
            max_attempts: 5,
            attempt_window_s: DEFAULT_ATTEMPT_WINDOW_S,
        }
    }
}

/// Everything the verifier decides with.
#[derive(Clone, Debug)]
pub struct VerifierConfig {
    /// The token's `iss`.
    pub issuer: String,
    pub keys: ServerKeySet,
    pub tenants: BTreeMap<String, TenantConfig>,
    /// Clock skew allowed each way, seconds (at most [`MAX_SKEW_S`]).
    pub skew_s: u64,
    /// Token lifetime when a request names none, seconds (≤ 600).
    pub token_ttl_s: u64,
    /// sha256 (hex) of every model a result may report.
    pub allowed_models: BTreeSet<String>,
    /// Calibration bundles this verifier knows, by sha256: with one, LLRs are recomputed.
    pub calibrations: BTreeMap<String, CalibrationBundle>,
    /// Oldest `swversion` accepted (major, minor, patch).
    pub min_sdk_version: (u64, u64, u64),
    /// Whether an issue request may fix the challenge seed. A caller-chosen seed fixes the
    /// challenge, which a recording made for it could then match: tests and demos only.
    pub allow_fixed_seed: bool,
}

impl VerifierConfig {
    /// One tenant on the shipped policy and calibration, the embedded manifest's models as the
    /// allowlist, 30 s skew, 180 s tokens, SDK 0.1.0 or later.
    pub fn single_tenant(
        keys: ServerKeySet,
        tenant: &str,
        policy: LoadedPolicy,
    ) -> anyhow::Result<VerifierConfig> {
        let calibrations = default_calibrations()?;
        if !calibrations.contains_key(&policy.policy.calibration_sha256) {
            anyhow::bail!(
                "the policy was set on calibration {}, which is not the shipped bundle: \
                 use a config file that lists it (`calibrations`)",
                policy.policy.calibration_sha256
            );
        }
        let mut tenants = BTreeMap::new();
        tenants.insert(tenant.to_string(), TenantConfig::new(policy));
        Ok(VerifierConfig {
            issuer: "liveproof-verifier".into(),
            keys,
            tenants,
            skew_s: DEFAULT_SKEW_S,
            token_ttl_s: DEFAULT_TOKEN_TTL_S,
            allowed_models: manifest_models()?,
            calibrations,
            min_sdk_version: (0, 1, 0),
            allow_fixed_seed: false,
        })
    }
}

/// The sha256 of every model in the embedded manifest (what this release ships).
pub fn manifest_models() -> anyhow::Result<BTreeSet<String>> {
    let manifest = liveproof_core::models::Manifest::embedded()?;
    Ok(manifest
        .models_in_order()
        .filter(|m| !m.sha256.is_empty())
        .map(|m| m.sha256.clone())
        .collect())
}

/// The shipped calibration bundle, by its hash.
pub fn default_calibrations() -> anyhow::Result<BTreeMap<String, CalibrationBundle>> {
    let bundle = CalibrationBundle::from_json(liveproof_core::defaults::CALIBRATION_JSON)?;
    let mut m = BTreeMap::new();
    m.insert(bundle.sha256_hex()?, bundle);
    Ok(m)
}

/// A request for a session token. The attempt number and the consecutive failures are not
/// the caller's to say: the verifier counts them per tenant and [`Self::subject`].
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IssueRequest {
    pub tenant: String,
    /// The end user (or device) the session is for: an opaque id of the caller's, 1 to 256
    /// bytes, no control characters. Attempts are counted per tenant and subject.
    /// [`Verifier::issue_session`] requires it.
    #[serde(default)]
    pub subject: Option<String>,
    #[serde(default)]
    pub flow: Option<FlowType>,
    #[serde(default)]
    pub tier: Option<RiskTier>,
    #[serde(default)]
    pub ttl_seconds: Option<u64>,
    /// Fixes the challenge seed (64 hex digits): tests and demos only.
    #[serde(default)]
    pub seed_hex: Option<String>,
}

/// A session's checked lifetime and random values, before its attempt is counted.
struct Prepared {
    ttl_s: u64,
    session_id: [u8; 16],
    nonce: Vec<u8>,
    seed: [u8; 32],
}

/// An issued token.
#[derive(Clone, Debug, Serialize)]
pub struct IssuedToken {
    /// The token bytes, standard base64.
    pub token_b64: String,
    #[serde(skip)]
    pub token: Vec<u8>,
    pub session_id: String,
    /// Unix seconds.
    pub expires_at: u64,
    pub policy_sha256: String,
    /// The policy the token carries (the device applies it).
    pub policy_json: String,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum IssueError {
    #[error("unknown tenant `{0}`")]
    UnknownTenant(String),
    #[error("invalid request: {0}")]
    Invalid(String),
    #[error("signing the token failed: {0}")]
    Signing(String),
    #[error("seed_hex is refused: this verifier draws every challenge seed (fixed seeds are for tests and demos, `allow_fixed_seed`)")]
    SeedNotAllowed,
    #[error("subject is required: the verifier counts attempts per tenant and subject (an opaque id of the end user)")]
    SubjectRequired,
    /// `max_attempts` sessions were issued to this subject in the window.
    #[error("too many attempts: {issued} sessions issued to this subject within {window_s} s (at most {max_attempts}); retry in {retry_after_s} s")]
    TooManyAttempts {
        issued: u32,
        max_attempts: u32,
        window_s: u64,
        /// Seconds until the window ends (rounded up).
        retry_after_s: u64,
    },
    /// The attempt store could not count the session: nothing is issued (fail closed).
    #[error("the attempt store is unavailable: {0}")]
    StoreUnavailable(String),
}

/// Why a result was rejected: stable names (docs/trust.md), one per check outcome.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RejectReason {
    Malformed,
    AlgorithmNotAllowed,
    UnknownKid,
    RetiredKid,
    TokenSignatureInvalid,
    WrongIssuer,
    TokenExpired,
    TokenNotYetValid,
    BindingMismatch,
    WrongTenant,
    DeviceSignatureInvalid,
    DeviceKeyUntrusted,
    DeviceKeyRevoked,
    ModelNotAllowed,
    SdkTooOld,
    PolicyMismatch,
    ClientDecisionMismatch,
    ChallengeMismatch,
    Replayed,
    ReplayStoreUnavailable,
    RegistryUnavailable,
}

impl RejectReason {
    /// Whether the app can act on it by trying again: a new session (expired, policy rotated)
    /// or later (store outage). Tampering and untrusted keys are not retryable.
    pub fn retryable(self) -> bool {
        matches!(
            self,
            RejectReason::TokenExpired
                | RejectReason::TokenNotYetValid
                | RejectReason::PolicyMismatch
                | RejectReason::ReplayStoreUnavailable
                | RejectReason::RegistryUnavailable
        )
    }
}

/// One check as run.
#[derive(Clone, Debug, Serialize)]
pub struct Check {
    pub name: &'static str,
    pub passed: bool,
    /// What was found (empty when it passed and there is nothing to add).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub detail: String,
}

/// The verifier's answer. `accepted` means every check passed: authentic, fresh, unreplayed,
/// consistent with the policy; `band` is then the decision the server stands behind.
#[derive(Clone, Debug, Serialize)]
pub struct Verdict {
    pub accepted: bool,
    pub band: Option<Band>,
    /// The device's reason codes when accepted; `client_decision_mismatch` when the policy
    /// re-applied here disagrees.
    pub reasons: Vec<ReasonCode>,
    pub session_id: Option<String>,
    pub tenant: Option<String>,
    /// The token's flow, risk tier and attempt (a backend checks them against the
    /// transaction it started).
    pub flow: Option<FlowType>,
    pub tier: Option<RiskTier>,
    pub attempt: Option<u32>,
    /// The first check that failed.
    pub failed_check: Option<&'static str>,
    pub reject_reason: Option<RejectReason>,
    /// With `replayed` only: the session was claimed by this very result (the same sha256 of
    /// the bytes), not by other bytes. Still a rejection: a backend that never saw an
    /// acceptance for this session (its answer was a 503 or lost) may treat the session as
    /// accepted; one that already credited it ignores this (docs/trust.md, "HTTP API").
    pub same_result: bool,
    /// With `same_result` only: the band of the result that claimed the session (these very
    /// bytes, which passed checks 1 to 11 again), for the backend that credits a lost
    /// acceptance. Never in `band`, which is set only when `accepted`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub claimed_band: Option<Band>,
    /// Whether a new attempt can succeed (see [`RejectReason::retryable`]).
    pub retryable: bool,
    /// `attested`, `registered` or `unverified`.
    pub device_key_trust: Option<&'static str>,
    pub attestation: Option<DeviceAssurance>,
    pub checks: Vec<Check>,
}

/// What the caller expects of a result: the session it issued to this user (the
/// `session_id` of [`IssuedToken`]) and its tenant.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expected {
    #[serde(default)]
    pub session_id: Option<String>,
    #[serde(default)]
    pub tenant: Option<String>,
}

/// A verdict and its audit record (#8's audit fields plus the verdict), one per verification.
#[derive(Clone, Debug)]
pub struct Verification {
    pub verdict: Verdict,
    pub audit: serde_json::Value,
}

/// Issues tokens and verifies results. `Send + Sync`: share it in an `Arc`.
pub struct Verifier {
    config: VerifierConfig,
    replay: Arc<dyn ReplayStore>,
    registry: Arc<dyn DeviceKeyRegistry>,
    attesters: Vec<Arc<dyn AttestationVerifier>>,
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verifier")
            .field("tenants", &self.config.tenants.keys().collect::<Vec<_>>())
            .field("replay", &self.replay.kind())
            .field("registry", &self.registry.kind())
            .finish()
    }
}

use liveproof_core::trust::unix_seconds as unix;

/// Running record of the checks; the first failure ends the verification.
struct Run {
    checks: Vec<Check>,
}

struct Rejection {
    check: &'static str,
    reason: RejectReason,
    detail: String,
}

fn reject(check: &'static str, reason: RejectReason, detail: impl Into<String>) -> Rejection {
    Rejection {
        check,
        reason,
        detail: detail.into(),
    }
}

impl Run {
    fn pass(&mut self, name: &'static str, detail: impl Into<String>) {
        self.checks.push(Check {
            name,
            passed: true,
            detail: detail.into(),
        });
    }
}

/// The token check's failure as a check name and reason.
fn token_rejection(e: TrustError) -> Rejection {
    let reason = match &e {
        TrustError::Algorithm(_) => RejectReason::AlgorithmNotAllowed,
        TrustError::UnknownKid(_) => RejectReason::UnknownKid,
        TrustError::RetiredKid(_) => RejectReason::RetiredKid,
        TrustError::Expired { .. } => RejectReason::TokenExpired,
        TrustError::NotYetValid { .. } => RejectReason::TokenNotYetValid,
        TrustError::BadSignature { .. } => RejectReason::TokenSignatureInvalid,
        _ => RejectReason::Malformed,
    };
    let check = match reason {
        RejectReason::TokenExpired | RejectReason::TokenNotYetValid => "token_expiry",
        _ => "token_signature",
    };
    reject(check, reason, format!("session token: {e}"))
}

/// `major.minor.patch` (a pre-release suffix is ignored).
pub fn parse_version(v: &str) -> Option<(u64, u64, u64)> {
    let core = v.split(['-', '+']).next()?;
    let mut it = core.split('.').map(|p| p.parse::<u64>().ok());
    let (a, b, c) = (it.next()??, it.next()??, it.next()??);
    it.next().is_none().then_some((a, b, c))
}

impl Verifier {
    pub fn new(
        config: VerifierConfig,
        replay: Arc<dyn ReplayStore>,
        registry: Arc<dyn DeviceKeyRegistry>,
    ) -> Verifier {
        Verifier {
            config,
            replay,
            registry,
            attesters: Vec::new(),
        }
    }

    /// Adds a platform attestation verifier (one per evidence format).
    pub fn with_attestation(mut self, verifier: Arc<dyn AttestationVerifier>) -> Verifier {
        self.attesters.push(verifier);
        self
    }

    pub fn config(&self) -> &VerifierConfig {
        &self.config
    }

    pub fn registry(&self) -> &Arc<dyn DeviceKeyRegistry> {
        &self.registry
    }

    pub fn replay_kind(&self) -> &'static str {
        self.replay.kind()
    }

    /// A new session token for `req.subject`, counted: the store adds one session to the
    /// subject's window and the token states that attempt number and the consecutive failures
    /// so far. Refused with [`IssueError::TooManyAttempts`] once `max_attempts` sessions were
    /// issued in the window, and with [`IssueError::StoreUnavailable`] when the store cannot
    /// count (fail closed). The token itself is as [`Self::issue_uncounted`] makes it.
    pub async fn issue_session(
        &self,
        req: &IssueRequest,
        now: SystemTime,
    ) -> Result<IssuedToken, IssueError> {
        let tenant = self.tenant_for(req)?;
        let subject = req.subject.as_deref().ok_or(IssueError::SubjectRequired)?;
        crate::store::validate_key("subject", subject)
            .map_err(|e| IssueError::Invalid(e.to_string()))?;
        let prepared = self.prepare(req)?;
        let limit = AttemptLimit {
            max_attempts: tenant.max_attempts,
            window: Duration::from_secs(tenant.attempt_window_s),
        };
        let session_ttl =
            Duration::from_secs(prepared.ttl_s.saturating_add(self.config.skew_s).max(1));
        let grant = self
            .replay
            .begin_attempt(
                &req.tenant,
                subject,
                &hex::encode(prepared.session_id),
                limit,
                session_ttl,
            )
            .await
            .map_err(|e| match e {
                StoreError::Invalid(why) => IssueError::Invalid(why),
                StoreError::Unavailable(why) | StoreError::Conflict(why) => {
                    IssueError::StoreUnavailable(why)
                }
            })?;
        match grant {
            AttemptGrant::Granted {
                attempt,
                consecutive_failures,
            } => self.seal(req, tenant, prepared, now, attempt, consecutive_failures),
            AttemptGrant::Refused {
                issued,
                retry_after,
            } => Err(IssueError::TooManyAttempts {
                issued,
                max_attempts: tenant.max_attempts,
                window_s: tenant.attempt_window_s,
                retry_after_s: retry_after.as_millis().div_ceil(1000).max(1) as u64,
            }),
        }
    }

    /// A new session token that no store counts: attempt 1, no failures, `subject` ignored.
    /// For the operator's own tool (`liveproof-verifier issue`, which holds the server key and
    /// could sign any token anyway) and tests; the HTTP service always counts. Fresh 128-bit
    /// session id, 32-byte nonce and 32-byte seed from the operating system's generator (or
    /// the request's fixed seed), the tenant's policy inside.
    pub fn issue_uncounted(
        &self,
        req: &IssueRequest,
        now: SystemTime,
    ) -> Result<IssuedToken, IssueError> {
        let tenant = self.tenant_for(req)?;
        let prepared = self.prepare(req)?;
        self.seal(req, tenant, prepared, now, 1, 0)
    }

    fn tenant_for(&self, req: &IssueRequest) -> Result<&TenantConfig, IssueError> {
        self.config
            .tenants
            .get(&req.tenant)
            .ok_or_else(|| IssueError::UnknownTenant(req.tenant.clone()))
    }

    /// Checks the request and draws the session's random values.
    fn prepare(&self, req: &IssueRequest) -> Result<Prepared, IssueError> {
        use rand_core::RngCore;
        let ttl_s = req.ttl_seconds.unwrap_or(self.config.token_ttl_s);
        if ttl_s == 0 || ttl_s > MAX_TOKEN_TTL_S {
            return Err(IssueError::Invalid(format!(
                "ttl_seconds {ttl_s}: expected 1 to {MAX_TOKEN_TTL_S}"
            )));
        }
        let mut rng = rand_core::OsRng;
        let mut session_id = [0u8; 16];
        rng.fill_bytes(&mut session_id);
        let mut nonce = vec![0u8; 32];
        rng.fill_bytes(&mut nonce);
        let seed: [u8; 32] = match &req.seed_hex {
            Some(_) if !self.config.allow_fixed_seed => return Err(IssueError::SeedNotAllowed),
            Some(h) => hex::decode(h)
                .ok()
                .and_then(|b| b.try_into().ok())
                .ok_or_else(|| IssueError::Invalid("seed_hex: expected 64 hex digits".into()))?,
            None => {
                let mut s = [0u8; 32];
                rng.fill_bytes(&mut s);
                s
            }
        };
        Ok(Prepared {
            ttl_s,
            session_id,
            nonce,
            seed,
        })
    }

    /// Signs the token of a prepared session with the given attempt counts.
    fn seal(
        &self,
        req: &IssueRequest,
        tenant: &TenantConfig,
        prepared: Prepared,
        now: SystemTime,
        attempt: u32,
        consecutive_failures: u32,
    ) -> Result<IssuedToken, IssueError> {
        let policy_sha256: [u8; 32] = hex::decode(&tenant.policy.sha256)
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| IssueError::Signing("the tenant policy hash is not 32 bytes".into()))?;
        let policy_json = serde_json::to_string(&tenant.policy.policy)
            .map_err(|e| IssueError::Signing(e.to_string()))?;
        let now_s = unix(now);
        let claims = TokenClaims {
            issuer: self.config.issuer.clone(),
            issued_at: now_s,
            expires_at: now_s + prepared.ttl_s,
            session_id: prepared.session_id,
            nonce: prepared.nonce,
            tenant: req.tenant.clone(),
            seed: prepared.seed,
            flow: req.flow.unwrap_or(FlowType::Login),
            tier: req.tier.unwrap_or(RiskTier::Medium),
            policy_sha256,
            policy_json: Some(policy_json.clone()),
            attempt,
            max_attempts: tenant.max_attempts,
            consecutive_failures,
        };
        let token = issue_token(&claims, &self.config.keys).map_err(|e| match e {
            TrustError::Claim { .. } => IssueError::Invalid(e.to_string()),
            e => IssueError::Signing(e.to_string()),
        })?;
        Ok(IssuedToken {
            token_b64: base64_encode(&token),
            token,
            session_id: claims.session_id_hex(),
            expires_at: claims.expires_at,
            policy_sha256: tenant.policy.sha256.clone(),
            policy_json,
        })
    }

    /// Verifies a signed result (module docs for the order) without saying which session the
    /// caller expects: only for tools that look at a result on its own. A backend must use
    /// [`Self::verify_for`] with the session it issued to this user, or an attacker's own
    /// valid result from another session would pass. Never panics; every failure is a
    /// rejection naming its check.
    pub async fn verify(&self, bytes: &[u8], now: SystemTime) -> Verification {
        self.verify_for(bytes, now, &Expected::default()).await
    }

    /// As [`Self::verify`], also requiring the session and tenant the caller expects.
    pub async fn verify_for(
        &self,
        bytes: &[u8],
        now: SystemTime,
        expected: &Expected,
    ) -> Verification {
        let mut run = Run { checks: Vec::new() };
        let mut verdict = Verdict {
            accepted: false,
            band: None,
            reasons: Vec::new(),
            session_id: None,
            tenant: None,
            flow: None,
            tier: None,
            attempt: None,
            failed_check: None,
            reject_reason: None,
            same_result: false,
            claimed_band: None,
            retryable: false,
            device_key_trust: None,
            attestation: None,
            checks: Vec::new(),
        };
        let mut result_for_audit: Option<SessionResult> = None;
        let outcome = self
            .checks(
                bytes,
                now,
                expected,
                &mut run,
                &mut verdict,
                &mut result_for_audit,
            )
            .await;
        if let Err(r) = outcome {
            run.checks.push(Check {
                name: r.check,
                passed: false,
                detail: r.detail,
            });
            verdict.accepted = false;
            verdict.failed_check = Some(r.check);
            verdict.reject_reason = Some(r.reason);
            verdict.retryable = r.reason.retryable();
            if r.reason == RejectReason::ClientDecisionMismatch {
                verdict.reasons = vec![ReasonCode::ClientDecisionMismatch];
            }
        }
        verdict.checks = run.checks;
        let audit = audit_record(&verdict, result_for_audit.as_ref(), bytes, now);
        Verification { verdict, audit }
    }

    async fn checks(
        &self,
        bytes: &[u8],
        now: SystemTime,
        expected: &Expected,
        run: &mut Run,
        verdict: &mut Verdict,
        audit_result: &mut Option<SessionResult>,
    ) -> Result<(), Rejection> {
        let now_s = unix(now);
        // 1. Structure and algorithm.
        let signed = SignedResult::parse(bytes).map_err(|e| {
            let reason = match e {
                TrustError::Algorithm(_) => RejectReason::AlgorithmNotAllowed,
                _ => RejectReason::Malformed,
            };
            reject("cose_structure", reason, e.to_string())
        })?;
        run.pass("cose_structure", "");
        // 2-3. The carried token: signature by kid, then lifetime.
        let token = verify_token(
            &signed.claims.token,
            &self.config.keys,
            now_s,
            self.config.skew_s,
        )
        .map_err(token_rejection)?;
        if token.claims.issuer != self.config.issuer {
            return Err(reject(
                "token_signature",
                RejectReason::WrongIssuer,
                format!(
                    "the token was issued by `{}`, this verifier is `{}`",
                    token.claims.issuer, self.config.issuer
                ),
            ));
        }
        run.pass("token_signature", format!("kid {}", token.kid));
        run.pass(
            "token_expiry",
            format!("expires at {}", token.claims.expires_at),
        );
        let session_id = token.claims.session_id_hex();
        verdict.session_id = Some(session_id.clone());
        verdict.tenant = Some(token.claims.tenant.clone());
        verdict.flow = Some(token.claims.flow);
        verdict.tier = Some(token.claims.tier);
        verdict.attempt = Some(token.claims.attempt);
        // 4. Binding to the token's session, and to the session the caller expects.
        self.check_binding(&signed, &token, now_s)?;
        if let Some(want) = expected.session_id.as_deref().filter(|w| *w != session_id) {
            return Err(reject(
                "binding",
                RejectReason::BindingMismatch,
                format!("the result is of session `{session_id}`, the caller expects `{want}`"),
            ));
        }
        run.pass("binding", "");
        // 5. Tenant.
        if let Some(t) = expected
            .tenant
            .as_deref()
            .filter(|t| *t != token.claims.tenant)
        {
            return Err(reject(
                "tenant",
                RejectReason::WrongTenant,
                format!(
                    "the token is for tenant `{}`, expected `{t}`",
                    token.claims.tenant
                ),
            ));
        }
        let tenant = self
            .config
            .tenants
            .get(&token.claims.tenant)
            .ok_or_else(|| {
                reject(
                    "tenant",
                    RejectReason::WrongTenant,
                    format!("tenant `{}` is not served here", token.claims.tenant),
                )
            })?;
        run.pass("tenant", token.claims.tenant.clone());
        // 6. Device signature, with the token's hash as external AAD.
        signed.verify_device_signature().map_err(|e| {
            reject(
                "device_signature",
                RejectReason::DeviceSignatureInvalid,
                e.to_string(),
            )
        })?;
        run.pass("device_signature", format!("kid {}", signed.kid));
        // 7. Device key trust.
        let (trust, assurance) = self.device_key_trust(&signed, &token, tenant, now).await?;
        verdict.device_key_trust = Some(trust);
        verdict.attestation = assurance;
        run.pass("device_key_trust", trust);
        let result = &signed.claims.result;
        *audit_result = Some(result.clone());
        // 8. Models, calibration and SDK version.
        self.check_models(&signed, tenant)?;
        run.pass(
            "models",
            format!(
                "{} models allowlisted",
                signed.claims.measurements.models.len()
            ),
        );
        // 9. Policy hash: the token's, the result's and the tenant's current one.
        let token_policy = hex::encode(token.claims.policy_sha256);
        if result.policy_sha256 != token_policy || token_policy != tenant.policy.sha256 {
            return Err(reject(
                "policy_hash",
                RejectReason::PolicyMismatch,
                format!(
                    "result ran policy {}, the token names {}, the tenant's current policy is {}",
                    short(&result.policy_sha256),
                    short(&token_policy),
                    short(&tenant.policy.sha256)
                ),
            ));
        }
        run.pass("policy_hash", short(&token_policy));
        // 10. Re-apply the policy.
        self.reapply(result, &token, tenant)?;
        run.pass(
            "policy_reapplied",
            format!("{:?} with the same reasons", result.band).to_lowercase(),
        );
        // 11. The challenge plan from the seed.
        check_challenge(result, &token, tenant)?;
        run.pass(
            "challenge_plan",
            format!("{} steps", result.challenge_steps.len()),
        );
        // 12. Replay: claim the session id until the token's expiry plus skew.
        let ttl = Duration::from_secs(
            token
                .claims
                .expires_at
                .saturating_add(self.config.skew_s)
                .saturating_sub(now_s)
                .max(1),
        );
        // The claim also counts the outcome for the session's subject, atomically: a pass
        // resets its attempts, a fail adds a consecutive failure.
        let outcome = match result.band {
            Band::Pass => Outcome::Pass,
            Band::Fail => Outcome::Fail,
            Band::Retry => Outcome::Neutral,
        };
        let window = Duration::from_secs(tenant.attempt_window_s);
        // The claim holds the sha256 of the bytes as received, so a resend of the identical
        // result is told from other bytes for the same session.
        let result_sha256: [u8; 32] = Sha256::digest(bytes).into();
        match self
            .replay
            .claim_and_record(&session_id, ttl, outcome, window, &result_sha256)
            .await
        {
            Ok(Claim::Claimed) => run.pass("replay", format!("claimed for {} s", ttl.as_secs())),
            Ok(Claim::Held { same_result: true }) => {
                verdict.same_result = true;
                verdict.claimed_band = Some(result.band);
                return Err(reject(
                    "replay",
                    RejectReason::Replayed,
                    "this identical result (the same sha256) claimed this session before: a \
                     backend that never saw it accepted (a 503 or no answer) may treat the \
                     session as accepted, one that credited it ignores this",
                ));
            }
            Ok(Claim::Held { same_result: false }) => {
                return Err(reject(
                    "replay",
                    RejectReason::Replayed,
                    "this session was already claimed by a different result",
                ))
            }
            Err(StoreError::Unavailable(e))
            | Err(StoreError::Invalid(e))
            | Err(StoreError::Conflict(e)) => {
                return Err(reject(
                    "replay",
                    RejectReason::ReplayStoreUnavailable,
                    format!("replay store: {e} (failing closed)"),
                ))
            }
        }
        verdict.accepted = true;
        verdict.band = Some(result.band);
        verdict.reasons = result.reasons.clone();
        Ok(())
    }

    fn check_binding(
        &self,
        signed: &SignedResult,
        token: &VerifiedToken,
        now_s: u64,
    ) -> Result<(), Rejection> {
        let r = &signed.claims.result;
        let bad = |why: String| reject("binding", RejectReason::BindingMismatch, why);
        if signed.claims.nonce != token.claims.nonce {
            return Err(bad("the result's eat_nonce is not the token's".into()));
        }
        let skew = self.config.skew_s;
        let iat = signed.claims.issued_at;
        if iat.saturating_add(skew) < token.claims.issued_at || iat > now_s.saturating_add(skew) {
            return Err(bad(format!(
                "the result was signed at {iat}, outside the token's {} .. now {now_s} (skew {skew} s)",
                token.claims.issued_at
            )));
        }
        if r.audit.session_id != token.claims.session_id_hex() {
            return Err(bad(format!(
                "the result is of session `{}`, the token of `{}`",
                r.audit.session_id,
                token.claims.session_id_hex()
            )));
        }
        if r.audit.flow != token.claims.flow
            || r.audit.risk_level != token.claims.tier
            || r.audit.attempt != token.claims.attempt
        {
            return Err(bad(
                "the result's flow, risk tier or attempt differ from the token's".into(),
            ));
        }
        Ok(())
    }

    async fn device_key_trust(
        &self,
        signed: &SignedResult,
        token: &VerifiedToken,
        tenant: &TenantConfig,
        now: SystemTime,
    ) -> Result<(&'static str, Option<DeviceAssurance>), Rejection> {
        let key = &signed.claims.device_key;
        let mode = tenant.policy.policy.security.device_key;
        let untrusted =
            |why: String| reject("device_key_trust", RejectReason::DeviceKeyUntrusted, why);
        // The registry first: a revoked key is refused whatever else vouches for it (an
        // attested phone that was stolen, a lab policy).
        let state = self
            .registry
            .state(&token.claims.tenant, &key.sec1())
            .await
            .map_err(|e| {
                reject(
                    "device_key_trust",
                    RejectReason::RegistryUnavailable,
                    format!("device-key registry: {e} (failing closed)"),
                )
            })?;
        if state == KeyState::Revoked {
            return Err(reject(
                "device_key_trust",
                RejectReason::DeviceKeyRevoked,
                format!(
                    "key {} was revoked for tenant `{}`",
                    signed.kid, token.claims.tenant
                ),
            ));
        }
        // Then attestation: the strongest reason.
        let mut attest_errors = Vec::new();
        for evidence in &signed.claims.attestation {
            let Some(v) = self
                .attesters
                .iter()
                .find(|a| a.format() == evidence.format)
            else {
                attest_errors.push(format!("no verifier for `{}`", evidence.format));
                continue;
            };
            let result_binding = signed
                .claims
                .attestation_binding()
                .map_err(|e| reject("device_key_trust", RejectReason::Malformed, e.to_string()))?;
            let binding = Binding {
                tenant: &token.claims.tenant,
                nonce: &token.claims.nonce,
                device_key: key,
                result_binding,
            };
            match v.verify(evidence, &binding, now).await {
                Ok(a) if a.key_sec1 == key.sec1() => return Ok(("attested", Some(a))),
                Ok(_) => attest_errors.push(format!("`{}` attests another key", evidence.format)),
                Err(e) => attest_errors.push(format!("`{}`: {e}", evidence.format)),
            }
        }
        let attest_note = if attest_errors.is_empty() {
            "no attestation".to_string()
        } else {
            attest_errors.join("; ")
        };
        if mode == DeviceKeyTrust::Attested {
            return Err(untrusted(format!(
                "the tenant policy requires an attested key ({attest_note})"
            )));
        }
        if state == KeyState::Registered {
            return Ok(("registered", None));
        }
        if mode == DeviceKeyTrust::AllowUnverified {
            return Ok(("unverified", None));
        }
        Err(untrusted(format!(
            "key {} is neither registered for tenant `{}` nor attested ({attest_note})",
            signed.kid, token.claims.tenant
        )))
    }

    fn check_models(&self, signed: &SignedResult, tenant: &TenantConfig) -> Result<(), Rejection> {
        let m = &signed.claims.measurements;
        if m.models.is_empty() {
            return Err(reject(
                "models",
                RejectReason::ModelNotAllowed,
                "the result measures no model",
            ));
        }
        for model in &m.models {
            if !self.config.allowed_models.contains(&model.sha256) {
                return Err(reject(
                    "models",
                    RejectReason::ModelNotAllowed,
                    format!(
                        "model `{}` sha256 {} is not allowlisted",
                        model.name,
                        short(&model.sha256)
                    ),
                ));
            }
        }
        if m.calibration_sha256 != tenant.policy.policy.calibration_sha256 {
            return Err(reject(
                "models",
                RejectReason::ModelNotAllowed,
                format!(
                    "calibration {} is not the one the policy was set on ({})",
                    short(&m.calibration_sha256),
                    short(&tenant.policy.policy.calibration_sha256)
                ),
            ));
        }
        let v = &signed.claims.swversion;
        match parse_version(v) {
            Some(found) if found >= self.config.min_sdk_version => Ok(()),
            _ => {
                let (a, b, c) = self.config.min_sdk_version;
                Err(reject(
                    "models",
                    RejectReason::SdkTooOld,
                    format!("SDK `{v}` is older than the minimum {a}.{b}.{c} (or unreadable)"),
                ))
            }
        }
    }

    fn reapply(
        &self,
        result: &SessionResult,
        token: &VerifiedToken,
        tenant: &TenantConfig,
    ) -> Result<(), Rejection> {
        let mismatch = |why: String| {
            reject(
                "policy_reapplied",
                RejectReason::ClientDecisionMismatch,
                why,
            )
        };
        let (evidence, mut calibrated) = result.evidence();
        // Recompute each LLR from its raw score with the bundle the policy was set on (the
        // configuration holds one for every tenant's calibration; fail closed without it).
        let bundle = self
            .config
            .calibrations
            .get(&result.calibration_sha256)
            .ok_or_else(|| {
                reject(
                    "policy_reapplied",
                    RejectReason::ModelNotAllowed,
                    format!(
                        "no calibration bundle {} here to recompute the LLRs",
                        short(&result.calibration_sha256)
                    ),
                )
            })?;
        {
            for c in &mut calibrated {
                let Some(raw) = c.raw else { continue };
                let model = (!c.model.is_empty()).then_some(c.model.as_str());
                let expected = bundle.llr(c.signal.as_str(), model, raw as f64).ok();
                let same = match (expected, c.llr) {
                    (Some(a), Some(b)) => (a - b).abs() <= 1e-9 * a.abs().max(1.0),
                    (None, None) => true,
                    _ => false,
                };
                if !same {
                    return Err(mismatch(format!(
                        "signal {}: reported LLR {:?}, the calibration gives {:?} for raw {raw}",
                        c.signal.as_str(),
                        c.llr,
                        expected
                    )));
                }
            }
        }
        let ctx = DecisionContext {
            flow: token.claims.flow,
            tier: token.claims.tier,
            consecutive_failures: token.claims.consecutive_failures,
        };
        let d = decide(&tenant.policy.policy, &ctx, &evidence, &calibrated);
        let same_score = match (d.fused, result.fused) {
            (Some(a), Some(b)) => (a - b).abs() <= 1e-9 * a.abs().max(1.0),
            (None, None) => true,
            _ => false,
        };
        // The audit record the device signed must tell the same story.
        let a = &result.audit;
        let audit_agrees = a.pad_decision == result.band
            && a.reason_codes == result.reasons
            && a.pad_score == result.fused
            && a.thresholds == result.bands
            && a.flow == token.claims.flow
            && a.risk_level == token.claims.tier;
        if d.band != result.band
            || d.reasons != result.reasons
            || !same_score
            || d.bands != result.bands
            || !audit_agrees
        {
            return Err(mismatch(format!(
                "the policy gives {:?} {:?} (score {:?}); the device reported {:?} {:?} (score {:?})",
                d.band, d.reasons, d.fused, result.band, result.reasons, result.fused
            )));
        }
        Ok(())
    }
}

/// The reported steps against the plan derived from the token's seed under the policy.
fn check_challenge(
    result: &SessionResult,
    token: &VerifiedToken,
    tenant: &TenantConfig,
) -> Result<(), Rejection> {
    let bad = |why: String| reject("challenge_plan", RejectReason::ChallengeMismatch, why);
    let p = &tenant.policy.policy;
    let steps = &result.challenge_steps;
    if !p.challenge_required(token.claims.flow, token.claims.tier) {
        // No challenge: nothing performed. A passive-only capture cancelled before its window
        // filled reads `incomplete`, with no steps.
        let no_challenge = matches!(
            result.challenge,
            ChallengeEvidence::NotRequired | ChallengeEvidence::Incomplete { .. }
        );
        if !steps.is_empty() || !no_challenge {
            return Err(bad(
                "a challenge is reported where the policy asks for none".into(),
            ));
        }
        return Ok(());
    }
    let plan = derive_plan(&token.claims.seed, &p.challenge.plan)
        .map_err(|e| bad(format!("the plan cannot be derived: {e}")))?;
    if steps.len() > plan.steps.len() {
        return Err(bad(format!(
            "{} steps reported, the plan has {}",
            steps.len(),
            plan.steps.len()
        )));
    }
    let mut previous_end = 0;
    for (i, (s, planned)) in steps.iter().zip(&plan.steps).enumerate() {
        if s.action != planned.action.as_str() {
            return Err(bad(format!(
                "step {}: {} reported, the seed's plan asks {}",
                i + 1,
                s.action,
                planned.action.as_str()
            )));
        }
        if s.ended_ms < s.started_ms || s.started_ms < previous_end {
            return Err(bad(format!("step {}: times out of order", i + 1)));
        }
        if s.passed && s.active_ms > planned.timeout_ms {
            return Err(bad(format!(
                "step {}: passed after {} ms, beyond its {} ms limit",
                i + 1,
                s.active_ms,
                planned.timeout_ms
            )));
        }
        previous_end = s.ended_ms;
    }
    if let ChallengeEvidence::Passed { steps: names, .. } = &result.challenge {
        let planned: Vec<&str> = plan.steps.iter().map(|s| s.action.as_str()).collect();
        let reported: Vec<&str> = names.iter().map(String::as_str).collect();
        if reported != planned || steps.len() != plan.steps.len() || steps.iter().any(|s| !s.passed)
        {
            return Err(bad(format!(
                "a passed challenge must perform the seed's plan {planned:?}; reported {reported:?}"
            )));
        }
    }
    Ok(())
}

fn short(hex: &str) -> String {
    hex.chars().take(12).collect()
}

/// Standard base64 with padding (RFC 4648 §4).
pub fn base64_encode(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// One audit record: the device's ISO/IEC 30107-2 audit fields (never images, landmarks or
/// embeddings) plus the verdict and a hash of the bytes verified.
fn audit_record(
    verdict: &Verdict,
    result: Option<&SessionResult>,
    bytes: &[u8],
    now: SystemTime,
) -> serde_json::Value {
    serde_json::json!({
        "time": unix(now),
        "result_sha256": hex::encode(Sha256::digest(bytes)),
        "verdict": {
            "accepted": verdict.accepted,
            "band": verdict.band,
            "reasons": verdict.reasons,
            "session_id": verdict.session_id,
            "tenant": verdict.tenant,
            "failed_check": verdict.failed_check,
            "reject_reason": verdict.reject_reason,
            "same_result": verdict.same_result,
            "device_key_trust": verdict.device_key_trust,
        },
        "device_audit": result.map(|r| &r.audit),
    })
}
