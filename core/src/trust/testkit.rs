//! SYNTHETIC session results for tests, benchmarks and the golden vectors: a result assembled
//! by the same pure code a session uses ([`SessionResult::assemble`], `policy::decide`) from
//! made-up evidence, never from a capture. Nothing here is a measurement.

use alloc::string::{String, ToString};
use alloc::vec::Vec;

use crate::active::derive_plan;
use crate::calibration::CalibrationBundle;
use crate::evidence::{
    ChallengeEvidence, Evidence, MatchEvidence, QualitySummary, SecurityEvidence, SignalEvidence,
    SignalId,
};
use crate::fusion::CalibratedSignal;
use crate::policy::{decide, DecisionContext, LoadedPolicy};
use crate::result::{ModelUsed, ResultContext, SessionResult, StepTiming, Timings};

use super::token::TokenClaims;

/// A SYNTHETIC result for `token`'s session under `policy`: every signal with raw score `raw`,
/// calibrated by `calibration` as a session would (a signal the bundle does not know is
/// unavailable), good quality, the seed's challenge performed in order (1.2 s a step), no face
/// match, no security finding. The band is whatever the policy decides.
pub fn synthetic_result(
    policy: &LoadedPolicy,
    calibration: &CalibrationBundle,
    token: &TokenClaims,
    raw: f32,
) -> SessionResult {
    let p = &policy.policy;
    let ctx = DecisionContext {
        flow: token.flow,
        tier: token.tier,
        consecutive_failures: token.consecutive_failures,
    };
    let mut steps: Vec<StepTiming> = Vec::new();
    let challenge = if p.challenge_required(token.flow, token.tier) {
        // A policy the verifier accepted always derives a plan; an empty plan reads as
        // incomplete, which the policy turns into a retry.
        let plan = derive_plan(&token.seed, &p.challenge.plan)
            .map(|pl| pl.steps)
            .unwrap_or_default();
        for (i, s) in plan.iter().enumerate() {
            let start = 1_500 + 1_200 * i as u32;
            steps.push(StepTiming {
                action: s.action.as_str().to_string(),
                passed: true,
                started_ms: start,
                ended_ms: start + 1_100,
                active_ms: 1_100,
            });
        }
        if steps.is_empty() {
            ChallengeEvidence::Incomplete {
                detail: "no plan".into(),
            }
        } else {
            ChallengeEvidence::Passed {
                steps: steps.iter().map(|s| s.action.clone()).collect(),
                duration_ms: 1_200 * steps.len() as u32,
            }
        }
    } else {
        ChallengeEvidence::NotRequired
    };
    let signals: Vec<SignalEvidence> = SignalId::ALL
        .iter()
        .map(|&signal| SignalEvidence {
            signal,
            model: match signal {
                SignalId::Texture => "minifasnet_v2+minifasnet_v1se".into(),
                _ => String::new(),
            },
            raw: Some(raw),
            reason: String::new(),
        })
        .collect();
    let calibrated: Vec<CalibratedSignal> = signals
        .iter()
        .map(|s| {
            let model = (!s.model.is_empty()).then_some(s.model.as_str());
            let llr = calibration.llr(s.signal.as_str(), model, raw as f64);
            CalibratedSignal {
                signal: s.signal,
                model: s.model.clone(),
                raw: s.raw,
                reason: match &llr {
                    Ok(_) => String::new(),
                    Err(e) => alloc::format!("not calibrated: {e}"),
                },
                llr: llr.ok(),
            }
        })
        .collect();
    let evidence = Evidence {
        signals,
        quality: QualitySummary {
            frames: 150,
            frames_with_face: 150,
            usable_frames: 140,
            ok: true,
            top_hints: Vec::new(),
            sharpness_median: Some(180.0),
            brightness_median: Some(120.0),
            face_px_median: Some(260.0),
        },
        challenge,
        face_match: MatchEvidence::NotRequested,
        security: SecurityEvidence::default(),
    };
    let decision = decide(p, &ctx, &evidence, &calibrated);
    let session_id = token.session_id_hex();
    SessionResult::assemble(ResultContext {
        policy: p,
        policy_sha256: &policy.sha256,
        calibration_sha256: &p.calibration_sha256,
        ctx,
        request_id: &session_id,
        session_id: &session_id,
        attempt: token.attempt,
        capture_device: "synthetic",
        platform: "synthetic/none".into(),
        // The real digests of the perception models (the verifier's allowlist holds them).
        models: ["blazeface_front", "face_landmark"]
            .iter()
            .filter_map(|name| {
                let manifest = crate::models::Manifest::embedded().ok()?;
                let spec = manifest.model(name).ok()?;
                Some(ModelUsed {
                    name: spec.name.clone(),
                    sha256: spec.sha256.clone(),
                })
            })
            .collect(),
        challenge_steps: steps,
        frames_sha256: "00".repeat(32),
        timings: Timings {
            frames: 150,
            capture_ms: 5_000.0,
            ..Timings::default()
        },
        evidence,
        decision,
    })
}
