//! What a session hands back: the [`SessionResult`] and its [`AuditRecord`]. Plain data with
//! a fixed field order (serde writes fields in declaration order), buildable without ONNX
//! Runtime, so that the trust chain can sign it on the device and the verifier read it.
//!
//! The audit record never holds images, landmarks or embeddings: only measurements, scores,
//! hashes and codes. Its field names follow the PAD data elements of ISO/IEC 30107-2 where
//! they exist (`pad_decision`, `pad_score`, `pad_mechanism`, `level_of_supervision`,
//! `risk_level`, `capture_device`); the rest are LiveProof's own, documented in
//! docs/decision.md.

use alloc::string::String;
use alloc::vec::Vec;

use serde::{Deserialize, Serialize};

use crate::evidence::Evidence;
use crate::evidence::{
    ChallengeEvidence, MatchEvidence, QualitySummary, SecurityEvidence, SignalId,
};
use crate::fusion::{Contribution, FusionMethod};
use crate::policy::{
    Band, Bands, Decision, DecisionContext, FlowType, Policy, ReasonCode, RiskTier,
};

/// The schema of [`AuditRecord`] this build writes.
pub const AUDIT_SCHEMA_VERSION: u32 = 1;

/// Time spent per stage over the whole session, milliseconds (wall clock on this device).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Timings {
    /// Detection, FaceMesh and the quality gate, summed over frames.
    pub tracking_ms: f64,
    /// Passive signals' per-frame work, summed.
    pub passive_ms: f64,
    /// Challenge (eye state, turn parallax, face continuity), summed.
    pub challenge_ms: f64,
    /// Face match embeddings, summed.
    pub matching_ms: f64,
    /// `finish()`: passive scoring, calibration, fusion, policy.
    pub finish_ms: f64,
    /// From the first frame's timestamp to the last's.
    pub capture_ms: f64,
    pub frames: u32,
}

/// A model the session used, by manifest name and the sha256 it was checked against.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelUsed {
    pub name: String,
    pub sha256: String,
}

/// The outcome of one capture.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SessionResult {
    pub band: Band,
    /// Fused LLR (natural log, bona fide vs attack); `None` when a veto decided first.
    pub fused: Option<f64>,
    /// Most decisive first (docs/decision.md has the catalogue).
    pub reasons: Vec<ReasonCode>,
    /// The largest signed contributions `wᵢ·LLRᵢ`.
    pub top_contributions: Vec<(SignalId, f64)>,
    /// Each signal's raw score, LLR, weight and contribution, available or not.
    pub signals: Vec<Contribution>,
    pub quality: QualitySummary,
    pub challenge: ChallengeEvidence,
    pub face_match: MatchEvidence,
    pub security: SecurityEvidence,
    /// The bands in force.
    pub bands: Bands,
    pub passive_only: bool,
    pub policy_sha256: String,
    pub calibration_sha256: String,
    /// The challenge steps as performed, in order (empty without a challenge).
    #[serde(default)]
    pub challenge_steps: Vec<StepTiming>,
    /// Running SHA-256 over every frame the session consumed (hex; `session::chain_frame`).
    #[serde(default)]
    pub frames_sha256: String,
    pub timings: Timings,
    pub audit: AuditRecord,
}

/// One challenge step as performed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepTiming {
    /// Stable action name (`BLINK`, `TURN_LEFT`, ...).
    pub action: String,
    pub passed: bool,
    /// Start and end, milliseconds after the session's first frame.
    pub started_ms: u32,
    pub ended_ms: u32,
    /// Active time (quality pauses excluded), milliseconds.
    pub active_ms: u32,
}

/// ISO/IEC 30107-2's PAD mechanism identifier.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PadMechanism {
    pub vendor: String,
    pub id: String,
}

/// One signal as the audit keeps it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AuditSignal {
    pub signal: SignalId,
    pub model: String,
    pub raw: Option<f32>,
    pub llr: Option<f64>,
    pub contribution: f64,
    /// Why it was not available (empty when it was).
    pub reason: String,
}

/// The decision record, fixed field order (module docs). JSON via serde.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AuditRecord {
    pub schema_version: u32,
    pub request_id: String,
    pub session_id: String,
    pub attempt: u32,
    pub sdk_version: String,
    /// `os/arch` of the device, e.g. `android/aarch64`.
    pub platform: String,
    /// ISO/IEC 30107-2: who made the decision.
    pub pad_mechanism: PadMechanism,
    /// ISO/IEC 30107-2: the decision (here pass / retry / fail).
    pub pad_decision: Band,
    /// ISO/IEC 30107-2: the score behind it (the fused LLR), when fusion ran.
    pub pad_score: Option<f64>,
    /// ISO/IEC 30107-2: remote self-capture is unsupervised.
    pub level_of_supervision: String,
    /// ISO/IEC 30107-2: the tenant's risk level for this transaction.
    pub risk_level: RiskTier,
    pub flow: FlowType,
    /// ISO/IEC 30107-2: the capture device as the app described it (free text, may be empty).
    pub capture_device: String,
    pub reason_codes: Vec<ReasonCode>,
    pub thresholds: Bands,
    pub policy_sha256: String,
    pub calibration_sha256: String,
    /// `rules`, `weighted` or `logistic`.
    pub fusion_method: String,
    pub models: Vec<ModelUsed>,
    pub quality: QualitySummary,
    pub signals: Vec<AuditSignal>,
    pub challenge: ChallengeEvidence,
    pub face_match: MatchEvidence,
    pub security: SecurityEvidence,
    pub latency_ms: Timings,
}

/// What a session's decision is assembled from: the policy's decision on the evidence and the
/// facts about the capture. [`SessionResult::assemble`] is pure, so a server or a test can
/// build the same result as the session from the same inputs.
#[derive(Debug)]
pub struct ResultContext<'a> {
    pub policy: &'a Policy,
    pub policy_sha256: &'a str,
    pub calibration_sha256: &'a str,
    pub ctx: DecisionContext,
    pub request_id: &'a str,
    pub session_id: &'a str,
    pub attempt: u32,
    pub capture_device: &'a str,
    /// `os/arch`.
    pub platform: String,
    pub models: Vec<ModelUsed>,
    pub challenge_steps: Vec<StepTiming>,
    pub frames_sha256: String,
    pub timings: Timings,
    pub evidence: Evidence,
    /// `policy::decide(policy, &ctx, &evidence, calibrated)`.
    pub decision: Decision,
}

impl SessionResult {
    /// The result and its audit record (fixed field order) from a decision and its context.
    pub fn assemble(c: ResultContext<'_>) -> SessionResult {
        let version = env!("CARGO_PKG_VERSION");
        let decision = c.decision;
        let evidence = c.evidence;
        let audit = AuditRecord {
            schema_version: AUDIT_SCHEMA_VERSION,
            request_id: c.request_id.into(),
            session_id: c.session_id.into(),
            attempt: c.attempt,
            sdk_version: version.into(),
            platform: c.platform,
            pad_mechanism: PadMechanism {
                vendor: "LiveProof".into(),
                id: alloc::format!("liveproof-core/{version}"),
            },
            pad_decision: decision.band,
            pad_score: decision.fused,
            level_of_supervision: "unsupervised".into(),
            risk_level: c.ctx.tier,
            flow: c.ctx.flow,
            capture_device: c.capture_device.into(),
            reason_codes: decision.reasons.clone(),
            thresholds: decision.bands,
            policy_sha256: c.policy_sha256.into(),
            calibration_sha256: c.calibration_sha256.into(),
            fusion_method: match &c.policy.fusion {
                FusionMethod::Rules(_) => "rules",
                FusionMethod::Weighted(_) => "weighted",
                FusionMethod::Logistic { .. } => "logistic",
            }
            .into(),
            models: c.models,
            quality: evidence.quality.clone(),
            signals: decision
                .contributions
                .iter()
                .map(|c| AuditSignal {
                    signal: c.signal,
                    model: c.model.clone(),
                    raw: c.raw,
                    llr: c.available.then_some(c.llr),
                    contribution: c.contribution,
                    reason: c.reason.clone(),
                })
                .collect(),
            challenge: evidence.challenge.clone(),
            face_match: evidence.face_match.clone(),
            security: evidence.security.clone(),
            latency_ms: c.timings.clone(),
        };
        SessionResult {
            band: decision.band,
            fused: decision.fused,
            reasons: decision.reasons,
            top_contributions: decision.top_contributions,
            signals: decision.contributions,
            quality: evidence.quality,
            challenge: evidence.challenge,
            face_match: evidence.face_match,
            security: evidence.security,
            bands: decision.bands,
            passive_only: decision.passive_only,
            policy_sha256: c.policy_sha256.into(),
            calibration_sha256: c.calibration_sha256.into(),
            challenge_steps: c.challenge_steps,
            frames_sha256: c.frames_sha256,
            timings: c.timings,
            audit,
        }
    }

    /// The evidence and calibrated signals this result was decided on, read back from it (the
    /// verifier re-applies the policy to them).
    pub fn evidence(&self) -> (Evidence, Vec<crate::fusion::CalibratedSignal>) {
        let evidence = Evidence {
            signals: self
                .signals
                .iter()
                .map(|c| crate::evidence::SignalEvidence {
                    signal: c.signal,
                    model: c.model.clone(),
                    raw: c.raw,
                    reason: c.reason.clone(),
                })
                .collect(),
            quality: self.quality.clone(),
            challenge: self.challenge.clone(),
            face_match: self.face_match.clone(),
            security: self.security.clone(),
        };
        let calibrated = self
            .signals
            .iter()
            .map(|c| crate::fusion::CalibratedSignal {
                signal: c.signal,
                model: c.model.clone(),
                raw: c.raw,
                llr: c.available.then_some(c.llr),
                reason: c.reason.clone(),
            })
            .collect();
        (evidence, calibrated)
    }
}

impl AuditRecord {
    /// The record as compact JSON text, fields in declaration order (a `serde_json::Value`
    /// would sort them).
    #[cfg(feature = "std")]
    pub fn to_json(&self) -> Result<String, serde_json::Error> {
        serde_json::to_string(self)
    }
}
