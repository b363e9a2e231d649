//! Plain evidence records: what the stages measured about one capture, as the decision layer
//! (`calibration`, `fusion`, `policy`) reads it. No images, landmarks or embeddings; no
//! lifetimes; every type is `Send + Sync`, serialisable and buildable without ONNX Runtime, so
//! the server-side verifier re-applies a policy to the very same records.

use alloc::string::String;
use alloc::vec::Vec;

use serde::{Deserialize, Serialize};

use crate::security::{SecurityCategory, SecuritySignal};

/// A scored signal, by its stable name in results, policies, calibration bundles and fusion
/// training files.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SignalId {
    /// Passive: depth relief (Depth Anything V2).
    Depth,
    /// Passive: FFT moiré.
    Fft,
    /// Passive: HSV specular reflection.
    Reflection,
    /// Passive: planar parallax of the face's motion.
    Parallax,
    /// Passive: texture CNN (MiniFASNet V2 + V1SE, or `fr_liveness`).
    Texture,
}

impl SignalId {
    /// Every signal, in a fixed order (the order of results and training columns).
    pub const ALL: [SignalId; 5] = [
        SignalId::Depth,
        SignalId::Fft,
        SignalId::Reflection,
        SignalId::Parallax,
        SignalId::Texture,
    ];

    /// The stable name (`depth`, `fft`, `reflection`, `parallax`, `texture`).
    pub fn as_str(self) -> &'static str {
        match self {
            SignalId::Depth => "depth",
            SignalId::Fft => "fft",
            SignalId::Reflection => "reflection",
            SignalId::Parallax => "parallax",
            SignalId::Texture => "texture",
        }
    }

    /// The signal of a stable name.
    pub fn parse(name: &str) -> Option<SignalId> {
        SignalId::ALL.into_iter().find(|s| s.as_str() == name)
    }
}

/// One challenge action, in the user's frame of reference (TURN_LEFT = the user turns to
/// their own left, whatever the camera's mirroring).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Action {
    Blink,
    TurnLeft,
    TurnRight,
    Nod,
    Smile,
}

impl Action {
    pub const ALL: [Action; 5] = [
        Action::Blink,
        Action::TurnLeft,
        Action::TurnRight,
        Action::Nod,
        Action::Smile,
    ];

    /// The wire name: `BLINK`, `TURN_LEFT`, `TURN_RIGHT`, `NOD`, `SMILE`.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Blink => "BLINK",
            Action::TurnLeft => "TURN_LEFT",
            Action::TurnRight => "TURN_RIGHT",
            Action::Nod => "NOD",
            Action::Smile => "SMILE",
        }
    }
}

/// What the tenant's policy allows of a challenge plan. Times in milliseconds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanPolicy {
    /// Actions the plan may use (at least 2 when more than one step is allowed, so that no
    /// two consecutive steps repeat). Duplicates are ignored.
    pub allowed: Vec<Action>,
    /// Fewest and most steps, 1..=4.
    pub min_steps: u8,
    pub max_steps: u8,
    /// Time limit of each step, milliseconds (1 000..=30 000).
    pub step_timeout_ms: u32,
}

impl Default for PlanPolicy {
    fn default() -> Self {
        PlanPolicy {
            allowed: Action::ALL.to_vec(),
            min_steps: 2,
            max_steps: 3,
            step_timeout_ms: 5_000,
        }
    }
}

impl PlanPolicy {
    /// The allowed actions, de-duplicated, in listed order.
    pub(crate) fn actions(&self) -> Vec<Action> {
        let mut out: Vec<Action> = Vec::with_capacity(self.allowed.len());
        for &a in &self.allowed {
            if !out.contains(&a) {
                out.push(a);
            }
        }
        out
    }

    /// Rejects policies that cannot yield a valid plan, naming the field.
    pub fn validate(&self) -> crate::error::Result<()> {
        let bad = |m: String| Err(crate::error::Error::Config(m));
        if !(1..=4).contains(&self.min_steps) || !(1..=4).contains(&self.max_steps) {
            return bad(alloc::format!(
                "challenge steps must be 1..=4, got min {} max {}",
                self.min_steps,
                self.max_steps
            ));
        }
        if self.min_steps > self.max_steps {
            return bad(alloc::format!(
                "challenge min_steps {} > max_steps {}",
                self.min_steps,
                self.max_steps
            ));
        }
        let n = self.actions().len();
        if n == 0 {
            return bad("challenge policy allows no action".into());
        }
        if n == 1 && self.max_steps > 1 {
            return bad(alloc::format!(
                "challenge policy allows one action but up to {} steps: consecutive steps \
                 would repeat it",
                self.max_steps
            ));
        }
        if !(1_000..=30_000).contains(&self.step_timeout_ms) {
            return bad(alloc::format!(
                "challenge step_timeout_ms must be 1000..=30000, got {}",
                self.step_timeout_ms
            ));
        }
        Ok(())
    }
}

/// One signal's raw outcome over the capture.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SignalEvidence {
    pub signal: SignalId,
    /// The model(s) behind the score, `+`-joined (empty for model-free signals); calibration
    /// is per model.
    #[serde(default)]
    pub model: String,
    /// Raw score in [0, 1], higher = more likely bona fide; `None` when not available.
    pub raw: Option<f32>,
    /// Why the signal is not available (empty when it is).
    #[serde(default)]
    pub reason: String,
}

impl SignalEvidence {
    /// Whether the signal produced a finite score.
    pub fn available(&self) -> bool {
        self.raw.is_some_and(f32::is_finite)
    }
}

/// What the capture-quality gate saw over the capture.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct QualitySummary {
    /// Frames pushed.
    pub frames: u32,
    /// Frames with a face.
    pub frames_with_face: u32,
    /// Frames whose quality report had no blocking hint (usable for liveness).
    pub usable_frames: u32,
    /// The policy's verdict: enough usable frames for a decision.
    pub ok: bool,
    /// The most frequent blocking hints, most frequent first (stable hint names).
    #[serde(default)]
    pub top_hints: Vec<String>,
    /// Medians over the frames with a face (units as `quality::QualityReport`): sharpness
    /// (variance of the Laplacian), mean face luma 0–255, face size (longer side, pixels).
    #[serde(default)]
    pub sharpness_median: Option<f32>,
    #[serde(default)]
    pub brightness_median: Option<f32>,
    #[serde(default)]
    pub face_px_median: Option<f32>,
}

/// Why a challenge did not pass.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChallengeFailure {
    /// A different action than the one asked.
    WrongAction,
    /// A step was not performed in time.
    Timeout,
    /// The face changed or was lost for too long.
    FaceChanged,
    /// A turn moved like a flat surface, or its motion could not be measured.
    FlatMotion,
    /// Anything else the runner rejected.
    Other,
}

/// The active challenge's outcome.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum ChallengeEvidence {
    /// The policy asked for no challenge (passive-only flow).
    NotRequired,
    /// Every step was performed.
    Passed {
        /// The actions performed, in order (stable names: `BLINK`, `TURN_LEFT`, ...).
        steps: Vec<String>,
        /// Time from the first prompt to the last step, milliseconds.
        duration_ms: u32,
    },
    /// The challenge failed.
    Failed {
        failure: ChallengeFailure,
        /// The runner's own message.
        detail: String,
        /// Steps completed before the failure.
        completed: u32,
    },
    /// The capture ended before the challenge could finish (cancelled or too short).
    Incomplete { detail: String },
}

/// The match band against the enrolled template.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MatchBand {
    Match,
    Uncertain,
    NoMatch,
}

/// The face-match outcome.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum MatchEvidence {
    /// No template was given.
    NotRequested,
    /// Compared: cosine similarity and the band under the policy's thresholds.
    Compared {
        similarity: f32,
        band: MatchBand,
        /// The embedding model's manifest name.
        model: String,
    },
    /// A template was given but no comparison could be made.
    Unavailable { reason: String },
}

/// Device and stream security signals (`core::security`, docs/device-signals.md): each
/// summary a probability-like severity in [0, 1], `None` when nothing in its categories was
/// measured, `Some(0.0)` when probes ran and found nothing. Evidence, not verdicts: the
/// policy's `security.veto_at` decides.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SecurityEvidence {
    /// The frames come from a virtual camera: the highest `virtual_camera` severity.
    #[serde(default)]
    pub virtual_camera: Option<f32>,
    /// The frames were injected into the capture pipeline: the highest `injection` severity.
    #[serde(default)]
    pub injection: Option<f32>,
    /// Rooted / emulated / hooked / debugged device: the highest severity of the device
    /// categories ([`SecurityCategory::DEVICE`]).
    #[serde(default)]
    pub device_risk: Option<f32>,
    /// Every finding, in probe order (findings only: a probe that found nothing adds none).
    #[serde(default)]
    pub signals: Vec<SecuritySignal>,
    /// The categories some probe measured (ran and could read its inputs), sorted.
    #[serde(default)]
    pub covered: Vec<SecurityCategory>,
}

impl SecurityEvidence {
    /// The summary of `signals`: a category counts as measured when a signal is in it.
    pub fn from_signals(signals: &[SecuritySignal]) -> SecurityEvidence {
        SecurityEvidence::from_probes(signals, &[])
    }

    /// The summary of `signals` from probes that covered `covered` (a covered category with
    /// no signal is `Some(0.0)`; a category neither covered nor signalled is `None`).
    pub fn from_probes(
        signals: &[SecuritySignal],
        covered: &[SecurityCategory],
    ) -> SecurityEvidence {
        let mut all: Vec<SecurityCategory> = Vec::new();
        for c in covered
            .iter()
            .copied()
            .chain(signals.iter().map(|s| s.category))
        {
            crate::security::cover(&mut all, c);
        }
        let max_of = |cats: &[SecurityCategory]| -> Option<f32> {
            if !cats.iter().any(|c| all.contains(c)) {
                return None;
            }
            Some(
                signals
                    .iter()
                    .filter(|s| cats.contains(&s.category) && s.severity.is_finite())
                    .map(|s| s.severity.clamp(0.0, 1.0))
                    .fold(0.0f32, f32::max),
            )
        };
        SecurityEvidence {
            virtual_camera: max_of(&[SecurityCategory::VirtualCamera]),
            injection: max_of(&[SecurityCategory::Injection]),
            device_risk: max_of(&SecurityCategory::DEVICE),
            signals: signals.to_vec(),
            covered: all,
        }
    }
}

/// Everything the decision layer reads about one capture.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Evidence {
    /// One entry per passive signal, available or not.
    pub signals: Vec<SignalEvidence>,
    pub quality: QualitySummary,
    pub challenge: ChallengeEvidence,
    pub face_match: MatchEvidence,
    #[serde(default)]
    pub security: SecurityEvidence,
}

impl Evidence {
    /// The entry of `signal`, if present.
    pub fn signal(&self, signal: SignalId) -> Option<&SignalEvidence> {
        self.signals.iter().find(|s| s.signal == signal)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signal_names_round_trip() {
        for s in SignalId::ALL {
            assert_eq!(SignalId::parse(s.as_str()), Some(s));
            let json = serde_json::to_string(&s).unwrap();
            assert_eq!(json, alloc::format!("\"{}\"", s.as_str()));
        }
        assert_eq!(SignalId::parse("moire"), None);
    }

    #[test]
    fn evidence_serialises_with_tagged_outcomes() {
        let e = Evidence {
            signals: alloc::vec![SignalEvidence {
                signal: SignalId::Texture,
                model: "minifasnet_v2+minifasnet_v1se".into(),
                raw: Some(0.98),
                reason: String::new(),
            }],
            quality: QualitySummary::default(),
            challenge: ChallengeEvidence::Failed {
                failure: ChallengeFailure::Timeout,
                detail: "step 1 (BLINK) timed out".into(),
                completed: 0,
            },
            face_match: MatchEvidence::NotRequested,
            security: SecurityEvidence::default(),
        };
        let v = serde_json::to_value(&e).unwrap();
        assert_eq!(v["challenge"]["status"], "failed");
        assert_eq!(v["challenge"]["failure"], "timeout");
        assert_eq!(v["face_match"]["status"], "not_requested");
        let back: Evidence = serde_json::from_value(v).unwrap();
        assert_eq!(back, e);
        assert!(e.signal(SignalId::Texture).unwrap().available());
        assert!(e.signal(SignalId::Fft).is_none());
    }
}
