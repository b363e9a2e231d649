//! The tenant policy and the decision: evidence + calibrated signals → pass / retry / fail,
//! with stable reason codes. Pure and deterministic: the device and the server-side verifier
//! run this same code on the same records. Imports only [`crate::evidence`] and
//! [`crate::fusion`] (itself evidence-only).
//!
//! Order of the decision (docs/decision.md):
//! 1. **Security vetoes**: a virtual camera, an injected stream or a severe device risk at or
//!    above `security.veto_at` → fail.
//! 2. **Quality**: too few usable frames → retry (`quality_poor_retry`, `no_face`): poor
//!    capture is never read as a spoof.
//! 3. **Challenge** (unless the flow and risk tier are passive-only): a turn that moved like
//!    a flat surface, or a face that changed → fail; a wrong action (a genuine user smiling
//!    while asked to turn reads as one), a timeout or an incomplete capture → retry.
//! 4. **Face match** (when a template was given): no match → fail; uncertain or unavailable →
//!    retry.
//! 5. **Minimum evidence**: the required signals and the minimum count available, else retry
//!    with `signal_unavailable`, never a silent guess.
//! 6. **Fusion** and the flow/tier's bands (or the seed-000 rules).
//! 7. A fail that reaches `max_consecutive_failures` adds `max_attempts_reached`.

use alloc::collections::BTreeMap;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use serde::{Deserialize, Serialize};

use crate::evidence::{
    ChallengeEvidence, ChallengeFailure, Evidence, MatchBand, MatchEvidence, PlanPolicy, SignalId,
};
use crate::fusion::{fuse, CalibratedSignal, Contribution, FusionMethod, LinearFusion};

mod reasons;
#[cfg(feature = "std")]
mod store;

pub use reasons::ReasonCode;
#[cfg(feature = "std")]
pub use store::{LoadedPolicy, PolicyStore};

/// The schema version this build reads.
pub const SCHEMA_VERSION: u32 = 1;

/// What the capture is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FlowType {
    AccountOpening,
    Login,
    Transaction,
    Recovery,
}

/// The tenant's risk tier for this capture.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RiskTier {
    Low,
    Medium,
    High,
}

/// `FlowType` and `RiskTier` from their stable snake_case names (`login`, `high`), as
/// serialised: for command lines and configuration.
#[cfg(feature = "std")]
macro_rules! from_name {
    ($($t:ty),*) => {$(
        impl core::str::FromStr for $t {
            type Err = PolicyError;
            fn from_str(s: &str) -> Result<Self, PolicyError> {
                serde_json::from_value(serde_json::Value::String(s.into()))
                    .map_err(|e| field_err(stringify!($t), alloc::format!("`{s}`: {e}")))
            }
        }
    )*};
}
#[cfg(feature = "std")]
from_name!(FlowType, RiskTier);

/// The outcome.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Band {
    Pass,
    Retry,
    Fail,
}

impl Band {
    /// Every band, in order.
    pub const ALL: [Band; 3] = [Band::Pass, Band::Retry, Band::Fail];

    /// The stable name, as the JSON spells it (`pass`, `retry`, `fail`).
    pub const fn as_str(self) -> &'static str {
        match self {
            Band::Pass => "pass",
            Band::Retry => "retry",
            Band::Fail => "fail",
        }
    }
}

/// Bands on the fused LLR: `fused ≥ pass_at` passes, `fused < fail_below` fails, between is
/// retry (the uncertain band). `fail_below ≤ pass_at`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bands {
    pub pass_at: f64,
    pub fail_below: f64,
}

/// Evidence the policy needs before it decides on liveness.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvidenceRequirements {
    /// Signals that must be available.
    #[serde(default)]
    pub required_signals: Vec<SignalId>,
    /// Fewest available signals.
    pub min_available_signals: usize,
}

/// Capture quality the policy needs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QualityRequirements {
    /// Fewest frames whose quality report had no blocking hint.
    pub min_usable_frames: u32,
}

/// The active challenge.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChallengeRequirements {
    /// Per flow, the lowest risk tier that needs a challenge; below it the flow is
    /// passive-only (the FAQ's low-friction journeys). A flow not listed always needs one.
    #[serde(default)]
    pub required_from: BTreeMap<FlowType, RiskTier>,
    /// The plan: allowed actions, step count, time limit per step.
    pub plan: PlanPolicy,
    /// Time limit of the whole capture, milliseconds.
    pub total_timeout_ms: u32,
}

/// Face-match thresholds on the cosine similarity (per embedding model).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MatchRequirements {
    pub match_at: f32,
    pub no_match_below: f32,
}

/// Security signals that veto, and what the server requires of the device key.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecurityRequirements {
    /// A virtual-camera, injection or device-risk severity at or above this fails.
    pub veto_at: f32,
    /// Why the verifier may trust the key that signed a result (docs/trust.md).
    #[serde(default)]
    pub device_key: DeviceKeyTrust,
}

/// Why the verifier trusts a device key. Never assumed: a key is trusted because a platform
/// attested it, or because the app's backend registered it beforehand; `allow_unverified`
/// (lab use) accepts any key and the verdict says so.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeviceKeyTrust {
    /// Only a key attested by the platform (Android key attestation, App Attest).
    Attested,
    /// An attested key, or one registered by the app's backend.
    #[default]
    RegisteredOrAttested,
    /// Any key that signed correctly; the verdict reports it as unverified.
    AllowUnverified,
}

/// A tenant policy (JSON, `deny_unknown_fields`, `schema_version` 1). See
/// `models/policy_default.json` and docs/decision.md.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    pub schema_version: u32,
    /// Free text, e.g. the tenant and version.
    pub name: String,
    /// Bands used where `bands` has no entry for the flow and tier.
    pub default_bands: Bands,
    /// Bands per flow and risk tier.
    #[serde(default)]
    pub bands: BTreeMap<FlowType, BTreeMap<RiskTier, Bands>>,
    /// Consecutive failures before the app should stop offering retries (≤ 5 by default,
    /// after NIST SP 800-63B-4 and AWS's guidance).
    pub max_consecutive_failures: u32,
    pub evidence: EvidenceRequirements,
    pub quality: QualityRequirements,
    pub challenge: ChallengeRequirements,
    pub fusion: FusionMethod,
    /// Face-match thresholds per embedding model (manifest name).
    pub face_match: BTreeMap<String, MatchRequirements>,
    pub security: SecurityRequirements,
    /// sha256 of the calibration bundle this policy's bands were set on.
    pub calibration_sha256: String,
}

/// A bad policy: each names the field.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PolicyError {
    /// Not valid JSON for the schema (unknown field, unknown signal or flow, wrong type): the
    /// parser's message names it.
    #[error("policy JSON: {0}")]
    Parse(String),
    #[error("policy `{field}`: {message}")]
    Field { field: String, message: String },
    #[error(
        "policy expects calibration bundle {expected}, but the bundle in use has sha256 {got}"
    )]
    CalibrationMismatch { expected: String, got: String },
}

fn field_err(field: impl Into<String>, message: impl Into<String>) -> PolicyError {
    PolicyError::Field {
        field: field.into(),
        message: message.into(),
    }
}

fn check_bands(field: &str, b: &Bands) -> Result<(), PolicyError> {
    if !(b.pass_at.is_finite() && b.fail_below.is_finite()) {
        return Err(field_err(field, "thresholds must be finite"));
    }
    if b.fail_below > b.pass_at {
        return Err(field_err(
            field,
            alloc::format!(
                "fail_below {} > pass_at {}: thresholds out of order",
                b.fail_below,
                b.pass_at
            ),
        ));
    }
    Ok(())
}

fn check_linear(field: &str, l: &LinearFusion) -> Result<(), PolicyError> {
    if !l.bias.is_finite() {
        return Err(field_err(alloc::format!("{field}.bias"), "must be finite"));
    }
    for (s, w) in &l.weights {
        if !w.is_finite() {
            return Err(field_err(
                alloc::format!("{field}.weights.{}", s.as_str()),
                "must be finite",
            ));
        }
    }
    Ok(())
}

impl Policy {
    /// Checks every value (the parser has already checked names and types).
    pub fn validate(&self) -> Result<(), PolicyError> {
        if self.schema_version != SCHEMA_VERSION {
            return Err(field_err(
                "schema_version",
                alloc::format!(
                    "{} is not supported by this build (it reads {SCHEMA_VERSION})",
                    self.schema_version
                ),
            ));
        }
        check_bands("default_bands", &self.default_bands)?;
        for (flow, tiers) in &self.bands {
            for (tier, b) in tiers {
                check_bands(&alloc::format!("bands.{flow:?}.{tier:?}"), b)?;
            }
        }
        if !(1..=100).contains(&self.max_consecutive_failures) {
            return Err(field_err(
                "max_consecutive_failures",
                alloc::format!("{} must be 1..=100", self.max_consecutive_failures),
            ));
        }
        let e = &self.evidence;
        if e.min_available_signals > SignalId::ALL.len() {
            return Err(field_err(
                "evidence.min_available_signals",
                alloc::format!(
                    "{} > the {} signals there are",
                    e.min_available_signals,
                    SignalId::ALL.len()
                ),
            ));
        }
        if self.quality.min_usable_frames == 0 {
            return Err(field_err("quality.min_usable_frames", "must be ≥ 1"));
        }
        self.challenge
            .plan
            .validate()
            .map_err(|err| field_err("challenge.plan", err.to_string()))?;
        if !(1_000..=300_000).contains(&self.challenge.total_timeout_ms) {
            return Err(field_err(
                "challenge.total_timeout_ms",
                alloc::format!("{} must be 1000..=300000", self.challenge.total_timeout_ms),
            ));
        }
        match &self.fusion {
            FusionMethod::Rules(r) => {
                if !(r.passive_high.is_finite() && r.passive_medium.is_finite())
                    || r.passive_medium > r.passive_high
                {
                    return Err(field_err(
                        "fusion",
                        alloc::format!(
                            "rules need finite passive_medium {} ≤ passive_high {}",
                            r.passive_medium,
                            r.passive_high
                        ),
                    ));
                }
            }
            FusionMethod::Weighted(l) => check_linear("fusion", l)?,
            FusionMethod::Logistic { .. } => check_linear("fusion", &self.fusion.linear())?,
        }
        for (model, m) in &self.face_match {
            let ok = |v: f32| v.is_finite() && (-1.0..=1.0).contains(&v);
            if !(ok(m.match_at) && ok(m.no_match_below)) || m.no_match_below > m.match_at {
                return Err(field_err(
                    alloc::format!("face_match.{model}"),
                    alloc::format!(
                        "match_at {} and no_match_below {} must be in [-1, 1] with \
                         no_match_below ≤ match_at",
                        m.match_at,
                        m.no_match_below
                    ),
                ));
            }
        }
        if !(self.security.veto_at.is_finite() && (0.0..=1.0).contains(&self.security.veto_at)) {
            return Err(field_err(
                "security.veto_at",
                alloc::format!("{} must be in [0, 1]", self.security.veto_at),
            ));
        }
        let h = &self.calibration_sha256;
        if !(h.len() == 64
            && h.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)))
        {
            return Err(field_err(
                "calibration_sha256",
                alloc::format!("`{h}` is not 64 lowercase hex digits"),
            ));
        }
        Ok(())
    }

    /// LiveProof's recommended policy, set on the calibration bundle `calibration_sha256`
    /// (`models/policy_default.json` is this with the shipped bundle's hash):
    /// - bands on the summed LLR by Bayes odds, not tuned on data: pass at ≥ 2 (the evidence
    ///   favours a real face 7.4 : 1 at equal priors), fail below −2; transactions and high
    ///   risk pass at ≥ 3 (20 : 1);
    /// - at most 5 failures in a row (NIST SP 800-63B-4, AWS);
    /// - the texture signal required, two signals available at least;
    /// - a challenge of 2–3 steps everywhere except low-risk logins (passive only there);
    /// - face match at cosine 0.70 / 0.55 (0.80 / 0.70 for MobileFaceNet), docs/matching.md;
    /// - a security signal at severity 0.9 vetoes.
    pub fn recommended(calibration_sha256: &str) -> Policy {
        let strict = Bands {
            pass_at: 3.0,
            fail_below: -2.0,
        };
        let mut bands: BTreeMap<FlowType, BTreeMap<RiskTier, Bands>> = BTreeMap::new();
        bands
            .entry(FlowType::Transaction)
            .or_default()
            .insert(RiskTier::High, strict);
        bands
            .entry(FlowType::AccountOpening)
            .or_default()
            .insert(RiskTier::High, strict);
        bands
            .entry(FlowType::Recovery)
            .or_default()
            .insert(RiskTier::High, strict);
        let m = |match_at, no_match_below| MatchRequirements {
            match_at,
            no_match_below,
        };
        Policy {
            schema_version: SCHEMA_VERSION,
            name: "liveproof recommended v1".into(),
            default_bands: Bands {
                pass_at: 2.0,
                fail_below: -2.0,
            },
            bands,
            max_consecutive_failures: 5,
            evidence: EvidenceRequirements {
                required_signals: alloc::vec![SignalId::Texture],
                min_available_signals: 2,
            },
            quality: QualityRequirements {
                min_usable_frames: 15,
            },
            challenge: ChallengeRequirements {
                required_from: [(FlowType::Login, RiskTier::Medium)].into_iter().collect(),
                plan: PlanPolicy::default(),
                total_timeout_ms: 60_000,
            },
            fusion: FusionMethod::Weighted(LinearFusion::sum_rule()),
            face_match: [
                ("fr_feature".to_string(), m(0.70, 0.55)),
                ("w600k_mbf".to_string(), m(0.70, 0.55)),
                ("mobilefacenet".to_string(), m(0.80, 0.70)),
            ]
            .into_iter()
            .collect(),
            security: SecurityRequirements {
                veto_at: 0.9,
                device_key: DeviceKeyTrust::RegisteredOrAttested,
            },
            calibration_sha256: calibration_sha256.into(),
        }
    }

    /// The bands in force for a flow and tier.
    pub fn bands_for(&self, flow: FlowType, tier: RiskTier) -> Bands {
        self.bands
            .get(&flow)
            .and_then(|t| t.get(&tier))
            .copied()
            .unwrap_or(self.default_bands)
    }

    /// Whether this flow and tier need an active challenge.
    pub fn challenge_required(&self, flow: FlowType, tier: RiskTier) -> bool {
        match self.challenge.required_from.get(&flow) {
            Some(from) => tier >= *from,
            None => true,
        }
    }

    /// Checks that the calibration bundle in use is the one the policy was set on.
    pub fn check_calibration(&self, bundle_sha256: &str) -> Result<(), PolicyError> {
        if self.calibration_sha256 == bundle_sha256 {
            Ok(())
        } else {
            Err(PolicyError::CalibrationMismatch {
                expected: self.calibration_sha256.clone(),
                got: bundle_sha256.to_string(),
            })
        }
    }
}

/// Where the capture stands in its transaction.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DecisionContext {
    pub flow: FlowType,
    pub tier: RiskTier,
    /// Failures in a row before this attempt (0 on the first attempt).
    pub consecutive_failures: u32,
}

/// The decision with everything a reviewer needs to see why.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Decision {
    pub band: Band,
    /// The fused LLR (natural log); `None` when a veto decided before fusion.
    pub fused: Option<f64>,
    /// Reasons, most decisive first.
    pub reasons: Vec<ReasonCode>,
    /// Each signal's raw score, LLR, weight and contribution.
    pub contributions: Vec<Contribution>,
    /// The largest signed contributions (at most 3).
    pub top_contributions: Vec<(SignalId, f64)>,
    /// The bands in force.
    pub bands: Bands,
    /// True when the policy asked for passive liveness only.
    pub passive_only: bool,
}

/// Decides one capture (see the module docs for the order). Pure.
pub fn decide(
    policy: &Policy,
    ctx: &DecisionContext,
    evidence: &Evidence,
    calibrated: &[CalibratedSignal],
) -> Decision {
    let bands = policy.bands_for(ctx.flow, ctx.tier);
    let passive_only = !policy.challenge_required(ctx.flow, ctx.tier);
    let fused = fuse(&policy.fusion, calibrated);
    let mut reasons: Vec<ReasonCode> = Vec::new();
    let out = |band: Band, reasons: Vec<ReasonCode>, with_score: bool| {
        let mut reasons = reasons;
        if band == Band::Fail && ctx.consecutive_failures + 1 >= policy.max_consecutive_failures {
            reasons.push(ReasonCode::MaxAttemptsReached);
        }
        Decision {
            band,
            fused: with_score.then_some(fused.fused),
            reasons,
            contributions: fused.contributions.clone(),
            top_contributions: fused.top(3),
            bands,
            passive_only,
        }
    };

    // 1. Security vetoes.
    let veto = |v: Option<f32>| v.is_some_and(|s| s >= policy.security.veto_at);
    let sec = &evidence.security;
    for (v, code) in [
        (sec.virtual_camera, ReasonCode::VirtualCameraDetected),
        (sec.injection, ReasonCode::InjectionDetected),
        (sec.device_risk, ReasonCode::DeviceRiskDetected),
    ] {
        if veto(v) {
            reasons.push(code);
        }
    }
    if !reasons.is_empty() {
        return out(Band::Fail, reasons, false);
    }

    // 2. Quality: retry, never spoof.
    let q = &evidence.quality;
    if q.frames_with_face == 0 {
        return out(Band::Retry, alloc::vec![ReasonCode::NoFace], false);
    }
    if !q.ok || q.usable_frames < policy.quality.min_usable_frames {
        return out(
            Band::Retry,
            alloc::vec![ReasonCode::QualityPoorRetry],
            false,
        );
    }
    reasons.push(ReasonCode::QualityOk);

    // 3. Challenge.
    let mut challenge_passed = false;
    if passive_only {
        reasons.push(ReasonCode::PassiveOnly);
    } else {
        match &evidence.challenge {
            ChallengeEvidence::Passed { .. } => {
                challenge_passed = true;
                reasons.push(ReasonCode::ChallengePassed);
            }
            ChallengeEvidence::Failed { failure, .. } => {
                let (band, code) = match failure {
                    ChallengeFailure::FaceChanged => (Band::Fail, ReasonCode::FaceChanged),
                    ChallengeFailure::FlatMotion | ChallengeFailure::Other => {
                        (Band::Fail, ReasonCode::ChallengeFailed)
                    }
                    // A genuine user who smiles while asked to turn reads as a wrong action
                    // (seen on real video, docs/active.md): retry, counted by the caller.
                    ChallengeFailure::WrongAction => (Band::Retry, ReasonCode::ChallengeFailed),
                    ChallengeFailure::Timeout => (Band::Retry, ReasonCode::ChallengeTimeout),
                };
                reasons.insert(0, code);
                return out(band, reasons, false);
            }
            ChallengeEvidence::Incomplete { .. } | ChallengeEvidence::NotRequired => {
                reasons.insert(0, ReasonCode::CaptureIncomplete);
                return out(Band::Retry, reasons, false);
            }
        }
    }

    // 4. Face match.
    match &evidence.face_match {
        MatchEvidence::NotRequested => {}
        MatchEvidence::Compared { band, .. } => match band {
            MatchBand::Match => reasons.push(ReasonCode::MatchPassed),
            MatchBand::NoMatch => {
                reasons.insert(0, ReasonCode::MatchFailed);
                return out(Band::Fail, reasons, false);
            }
            MatchBand::Uncertain => {
                reasons.insert(0, ReasonCode::MatchUncertain);
                return out(Band::Retry, reasons, false);
            }
        },
        MatchEvidence::Unavailable { .. } => {
            reasons.insert(0, ReasonCode::SignalUnavailable);
            return out(Band::Retry, reasons, false);
        }
    }

    // 5. Minimum evidence.
    let available: Vec<SignalId> = fused
        .contributions
        .iter()
        .filter(|c| c.available)
        .map(|c| c.signal)
        .collect();
    let missing_required = policy
        .evidence
        .required_signals
        .iter()
        .any(|s| !available.contains(s));
    if missing_required || available.len() < policy.evidence.min_available_signals {
        reasons.insert(0, ReasonCode::SignalUnavailable);
        return out(Band::Retry, reasons, true);
    }

    // 6. Fusion and bands (or the seed-000 rules).
    let (band, code) = match &policy.fusion {
        FusionMethod::Rules(r) => {
            let device_ok = sec.device_risk.is_none_or(|d| d < policy.security.veto_at);
            if fused.fused >= r.passive_high && device_ok {
                (Band::Pass, ReasonCode::PassiveScoreHigh)
            } else if fused.fused >= r.passive_medium && challenge_passed {
                (Band::Pass, ReasonCode::PassiveScoreUncertain)
            } else if fused.fused >= bands.fail_below {
                (Band::Retry, ReasonCode::PassiveScoreUncertain)
            } else {
                (Band::Fail, ReasonCode::PassiveScoreLow)
            }
        }
        _ => {
            if fused.fused >= bands.pass_at {
                (Band::Pass, ReasonCode::PassiveScoreHigh)
            } else if fused.fused < bands.fail_below {
                (Band::Fail, ReasonCode::PassiveScoreLow)
            } else {
                (Band::Retry, ReasonCode::PassiveScoreUncertain)
            }
        }
    };
    reasons.insert(0, code);
    out(band, reasons, true)
}

#[cfg(test)]
mod tests;
