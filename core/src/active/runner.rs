//! [`ChallengeRunner`]: consumes per-frame observations with timestamps and runs the plan.
//!
//! Phases: a short neutral **baseline** (the user's own open-eye EAR, resting yaw/pitch and
//! mouth), then each step in order. All timing is by the frames' timestamps, so dropped
//! frames and irregular frame rates only coarsen it.
//! - A step fails on **timeout**; frames the quality gate marks poor **pause** the step
//!   timer instead (the capture UI keeps showing the hints).
//! - The whole challenge is **rejected** when a different head movement (turn or nod) than
//!   the one asked, or a smile held while something else is asked, comes first, or when face continuity breaks: the face is missing longer
//!   than `max_gap_ms`, its centre jumps more than `max_jump_iod` between frames, or the
//!   caller reports another face ([`ChallengeRunner::face_changed`], the hook for face
//!   matching). Spontaneous blinks during other steps are normal and ignored.
//! - A turn must also look 3D: a flat photo turned on its axis can reach any angle FaceMesh
//!   reports, not the parallax of a head. With `require_turn_parallax` (the default) a turn
//!   that reached its angle and came back **waits** for the passive parallax score of its
//!   frames ([`Update::awaiting_parallax`]); the caller computes it and hands it over with
//!   [`ChallengeRunner::turn_parallax`] (or [`ChallengeRunner::turn_parallax_unavailable`]),
//!   which passes or rejects the step. [`super::session::ChallengeCapture`] does this from
//!   the frames themselves. Without it, a score supplied during the turn is still checked.

use alloc::collections::BTreeMap;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use serde::Serialize;

use super::observe::FaceObservation;
use super::plan::{Action, ChallengePlan};
use crate::error::{Error, Result};
pub use crate::evidence::ChallengeFailure;

/// Detector thresholds and continuity limits. Angles in degrees, times in milliseconds,
/// lengths in inter-ocular distances (IOD).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RunnerConfig {
    /// Neutral time needed for the baseline before the first step.
    pub baseline_ms: u32,
    /// Yaw change from the baseline a turn must reach.
    pub turn_deg: f32,
    /// Pitch change (downwards) a nod must reach.
    pub nod_deg: f32,
    /// After the peak, the head must come back within this fraction of the threshold.
    pub return_fraction: f32,
    /// Eyes count as closed below `baseline EAR × (1 − blink_drop)` and open again above
    /// `baseline EAR × (1 − blink_drop / 2)`. FaceMesh's lids do not close fully, so the drop
    /// is modest (default 0.1).
    pub blink_drop: f32,
    /// With the eye-state model ([`FaceObservation::eyes_closed`]), eyes count as closed at a
    /// probability ≥ `eye_closed_prob` and open again at ≤ `eye_open_prob` (defaults 0.5
    /// and 0.3); the model is not used for a user whose baseline already reads closed (≥
    /// `eye_open_prob`: glasses, an unusual eye), nor on frames where it did not run.
    pub eye_closed_prob: f32,
    pub eye_open_prob: f32,
    /// With the iris model's eye openness ([`FaceObservation::eye_openness`]) and no eye-state
    /// probability, eyes count as closed below `baseline openness × (1 − openness_drop)` and
    /// open again above `baseline × (1 − openness_drop / 2)` (default 0.6: on the real clip
    /// 0.5–0.7 find its one separable blink with no false one, 0.3–0.4 add a false one).
    pub openness_drop: f32,
    /// A blink's closure lasts between these (default 80–500 ms); longer is not a blink.
    pub blink_min_ms: u32,
    pub blink_max_ms: u32,
    /// Smile: mouth width at least `(1 + smile_width_gain) ×` baseline and corners lifted by
    /// at least `smile_lift` IOD over the baseline, held `smile_hold_ms`.
    pub smile_width_gain: f32,
    pub smile_lift: f32,
    pub smile_hold_ms: u32,
    /// Face missing longer than this during a step breaks continuity.
    pub max_gap_ms: u32,
    /// Face centre moving more than this many IOD between consecutive frames breaks it.
    pub max_jump_iod: f32,
    /// Lowest passive parallax score accepted for a turn (default 0.75: a parallax fraction
    /// of at least 0.19 with the default parallax settings, where a passive window's score
    /// is 0.5 at 0.15). Stricter than a passive window: a turn of 20° or more moves a head
    /// far out of plane. On the synthetic captures printed turns measured fractions of
    /// 0.07–0.18 and bona fide turns 0.21 and up: a narrow margin (`docs/active.md`).
    pub min_turn_parallax: f32,
    /// A turn passes only with a parallax score (default true). False only for callers
    /// without frames (landmark-only tests): the flat-photo check is then off.
    pub require_turn_parallax: bool,
}

impl Default for RunnerConfig {
    fn default() -> Self {
        RunnerConfig {
            baseline_ms: 500,
            turn_deg: 20.0,
            nod_deg: 12.0,
            return_fraction: 0.5,
            blink_drop: 0.1,
            eye_closed_prob: 0.5,
            eye_open_prob: 0.3,
            openness_drop: 0.6,
            blink_min_ms: 80,
            blink_max_ms: 500,
            smile_width_gain: 0.06,
            smile_lift: 0.02,
            smile_hold_ms: 150,
            max_gap_ms: 500,
            max_jump_iod: 0.75,
            min_turn_parallax: 0.75,
            require_turn_parallax: true,
        }
    }
}

impl RunnerConfig {
    pub fn validate(&self) -> Result<()> {
        let pos = [
            ("turn_deg", self.turn_deg, 60.0),
            ("nod_deg", self.nod_deg, 60.0),
            ("return_fraction", self.return_fraction, 1.0),
            ("blink_drop", self.blink_drop, 0.9),
            ("eye_closed_prob", self.eye_closed_prob, 1.0),
            ("eye_open_prob", self.eye_open_prob, 1.0),
            ("openness_drop", self.openness_drop, 0.9),
            ("smile_width_gain", self.smile_width_gain, 1.0),
            ("smile_lift", self.smile_lift, 1.0),
            ("max_jump_iod", self.max_jump_iod, 10.0),
            ("min_turn_parallax", self.min_turn_parallax, 1.0),
        ];
        for (name, v, max) in pos {
            if !(v.is_finite() && v > 0.0 && v <= max) {
                return Err(Error::Config(alloc::format!(
                    "challenge {name} {v} must be in (0, {max}]"
                )));
            }
        }
        if self.eye_open_prob >= self.eye_closed_prob {
            return Err(Error::Config(alloc::format!(
                "challenge eye_open_prob {} must be below eye_closed_prob {}",
                self.eye_open_prob,
                self.eye_closed_prob
            )));
        }
        if self.blink_min_ms >= self.blink_max_ms {
            return Err(Error::Config(alloc::format!(
                "challenge blink_min_ms {} must be below blink_max_ms {}",
                self.blink_min_ms,
                self.blink_max_ms
            )));
        }
        if self.baseline_ms == 0 || self.max_gap_ms == 0 {
            return Err(Error::Config(
                "challenge baseline_ms and max_gap_ms must be > 0".into(),
            ));
        }
        Ok(())
    }
}

/// One frame as the runner sees it.
#[derive(Clone, Copy, Debug)]
pub struct Observation {
    pub timestamp_ns: u64,
    /// The tracked face, or `None` when no face was found.
    pub face: Option<FaceObservation>,
    /// False when the quality gate asks the user to fix something (the step timer pauses).
    pub quality_ok: bool,
}

/// What the capture UI shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Prompt {
    /// Look at the camera, neutral, while the baseline is measured.
    HoldStill,
    /// Perform this action.
    Do(Action),
    /// The challenge has ended.
    Done,
}

/// The result of one step, with its timing and evidence.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct StepOutcome {
    pub action: Action,
    pub passed: bool,
    /// Timestamps of the step's start and end, nanoseconds.
    pub started_ns: u64,
    pub ended_ns: u64,
    /// Active (unpaused) time the step took, milliseconds.
    pub active_ms: f64,
    /// Why it failed (empty when passed).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub failure: String,
    /// Measured evidence: peak angles, EAR dip and closure time, smile gains, parallax.
    pub evidence: BTreeMap<String, f64>,
}

/// The final result.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ChallengeOutcome {
    pub passed: bool,
    /// What kind of failure ended it (`None` when passed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure: Option<ChallengeFailure>,
    /// `ok`, or what failed.
    pub reason: String,
    pub steps: Vec<StepOutcome>,
}

/// What one pushed frame changed.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Update {
    pub prompt: Prompt,
    /// Steps completed over the plan's steps, in [0, 1].
    pub progress: f32,
    /// The step that finished on this frame, if any.
    pub completed: Option<StepOutcome>,
    /// The final outcome, on the frame the challenge ended.
    pub finished: Option<ChallengeOutcome>,
    /// The current turn was performed and waits for its parallax score: call
    /// [`ChallengeRunner::turn_parallax`] before the next frame.
    pub awaiting_parallax: bool,
}

#[derive(Clone, Copy, Debug, Default)]
struct Baseline {
    ear: f32,
    /// Median closed-eye probability at rest, when the model ran on the baseline frames.
    eyes_closed: Option<f32>,
    /// Median iris eye openness at rest, when the iris model ran on the baseline frames.
    eye_openness: Option<f32>,
    yaw: f32,
    pitch: f32,
    mouth_width: f32,
    corner_lift: f32,
}

/// Per-step detector state.
#[derive(Clone, Debug, Default)]
struct StepState {
    started_ns: u64,
    active_ns: u64,
    peak: f32,
    reached: bool,
    closed_since: Option<u64>,
    min_ear: f32,
    min_open: f32,
    max_closed: f32,
    smile_since: Option<u64>,
    /// Since when a smile has been held during a step that did not ask for one.
    other_smile_since: Option<u64>,
    /// The mouth has been below the smile thresholds at least once during this step. A smile
    /// that carries over from a SMILE step into the next one (people relax a smile over a
    /// second or so) is not a wrong action until it has been released.
    smile_released: bool,
    best_width: f32,
    best_lift: f32,
}

/// Runs one challenge plan over a stream of observations. One per capture.
#[derive(Debug)]
pub struct ChallengeRunner {
    plan: ChallengePlan,
    cfg: RunnerConfig,
    baseline_samples: Vec<FaceObservation>,
    baseline_start: Option<u64>,
    baseline: Option<Baseline>,
    step: usize,
    state: StepState,
    steps: Vec<StepOutcome>,
    last_ts: Option<u64>,
    last_face: Option<(u64, FaceObservation)>,
    outcome: Option<ChallengeOutcome>,
    pending_parallax: Option<f32>,
    /// A performed turn waiting for its parallax score: its evidence and end time.
    awaiting: Option<(BTreeMap<String, f64>, u64)>,
}

impl ChallengeRunner {
    pub fn new(plan: ChallengePlan, cfg: RunnerConfig) -> Result<ChallengeRunner> {
        cfg.validate()?;
        if plan.steps.is_empty() {
            return Err(Error::InvalidInput("challenge plan has no steps".into()));
        }
        Ok(ChallengeRunner {
            plan,
            cfg,
            baseline_samples: Vec::new(),
            baseline_start: None,
            baseline: None,
            step: 0,
            state: StepState::default(),
            steps: Vec::new(),
            last_ts: None,
            last_face: None,
            outcome: None,
            pending_parallax: None,
            awaiting: None,
        })
    }

    pub fn plan(&self) -> &ChallengePlan {
        &self.plan
    }

    /// The final outcome once the challenge has ended.
    pub fn outcome(&self) -> Option<&ChallengeOutcome> {
        self.outcome.as_ref()
    }

    /// The steps finished so far (passed or failed), in order.
    pub fn steps(&self) -> &[StepOutcome] {
        &self.steps
    }

    /// Index of the current step in the plan (the number of steps passed).
    pub fn step_index(&self) -> usize {
        self.step
    }

    /// The face-continuity hook: the caller (face matching) reports that the face is no
    /// longer the one that started the challenge. Rejects the challenge.
    pub fn face_changed(&mut self, why: &str) -> Option<ChallengeOutcome> {
        self.reject(
            ChallengeFailure::FaceChanged,
            alloc::format!("face changed: {why}"),
            self.last_ts.unwrap_or(0),
        )
    }

    /// The update a frame would report now with this final outcome (for callers that end
    /// the challenge between frames, e.g. through [`Self::face_changed`]).
    pub fn snapshot(&self, finished: Option<ChallengeOutcome>) -> Update {
        self.update(None, finished)
    }

    /// The passive parallax score (in [0, 1], higher = more 3D) of the current turn's frames.
    /// When the turn is awaiting it ([`Update::awaiting_parallax`]), this passes or rejects
    /// the step and returns the resulting update; during the turn, it is kept and checked
    /// when the turn completes (`None` is returned). A score that is not finite is an error.
    pub fn turn_parallax(&mut self, score: f32) -> Result<Option<Update>> {
        self.turn_parallax_with(score, &BTreeMap::new())
    }

    /// [`Self::turn_parallax`] with the parallax report's features, kept in the step's
    /// evidence as `parallax_<name>`.
    pub fn turn_parallax_with(
        &mut self,
        score: f32,
        features: &BTreeMap<String, f64>,
    ) -> Result<Option<Update>> {
        if !score.is_finite() {
            return Err(Error::InvalidInput(alloc::format!(
                "challenge: parallax score {score} is not finite"
            )));
        }
        match self.awaiting.take() {
            Some((mut evidence, ts)) => {
                for (k, v) in features {
                    evidence.insert(alloc::format!("parallax_{k}"), *v);
                }
                Ok(Some(self.finish_turn(evidence, score, ts)))
            }
            None => {
                self.pending_parallax = Some(score);
                Ok(None)
            }
        }
    }

    /// The awaiting turn's parallax could not be measured (too few frames or too little
    /// motion matched, the reason in `why`): the step fails, since a flat photo must not
    /// pass by giving nothing to measure. `None` when no turn is awaiting.
    pub fn turn_parallax_unavailable(&mut self, why: &str) -> Option<Update> {
        let (_, ts) = self.awaiting.take()?;
        let step = self.plan.steps[self.step];
        let out = self.reject(
            ChallengeFailure::FlatMotion,
            alloc::format!(
                "step {} ({}): its parallax could not be measured: {why}",
                self.step + 1,
                step.action.as_str()
            ),
            ts,
        );
        Some(self.update(None, out))
    }

    /// Passes or rejects the performed turn on its parallax score.
    fn finish_turn(&mut self, mut evidence: BTreeMap<String, f64>, p: f32, ts: u64) -> Update {
        let step = self.plan.steps[self.step];
        evidence.insert("parallax_score".into(), p as f64);
        if p < self.cfg.min_turn_parallax {
            let ended = self
                .reject(
                    ChallengeFailure::FlatMotion,
                    alloc::format!(
                        "step {} ({}) moved like a flat surface: parallax score {p:.2} < {:.2}",
                        self.step + 1,
                        step.action.as_str(),
                        self.cfg.min_turn_parallax
                    ),
                    ts,
                )
                .is_some();
            // The failed step keeps its measurements.
            if let Some(last) = self.steps.last_mut() {
                last.evidence = evidence;
            }
            if let Some(o) = self.outcome.as_mut() {
                o.steps = self.steps.clone();
            }
            let finished = if ended { self.outcome.clone() } else { None };
            return self.update(None, finished);
        }
        self.complete_step(evidence, ts)
    }

    /// Records the current step as passed and moves on (or ends the challenge).
    fn complete_step(&mut self, evidence: BTreeMap<String, f64>, ts: u64) -> Update {
        let step = self.plan.steps[self.step];
        let outcome = StepOutcome {
            action: step.action,
            passed: true,
            started_ns: self.state.started_ns,
            ended_ns: ts,
            active_ms: self.state.active_ns as f64 / 1e6,
            failure: String::new(),
            evidence,
        };
        self.steps.push(outcome.clone());
        self.step += 1;
        if self.step == self.plan.steps.len() {
            let out = ChallengeOutcome {
                passed: true,
                failure: None,
                reason: "ok".to_string(),
                steps: self.steps.clone(),
            };
            self.outcome = Some(out.clone());
            return self.update(Some(outcome), Some(out));
        }
        self.start_step(ts);
        self.update(Some(outcome), None)
    }

    /// What the capture UI should show now.
    pub fn prompt(&self) -> Prompt {
        if self.outcome.is_some() {
            Prompt::Done
        } else if self.baseline.is_none() {
            Prompt::HoldStill
        } else {
            Prompt::Do(self.plan.steps[self.step].action)
        }
    }

    fn update(&self, completed: Option<StepOutcome>, finished: Option<ChallengeOutcome>) -> Update {
        Update {
            prompt: self.prompt(),
            progress: self.steps.iter().filter(|s| s.passed).count() as f32
                / self.plan.steps.len() as f32,
            completed,
            finished,
            awaiting_parallax: self.awaiting.is_some(),
        }
    }

    fn reject(
        &mut self,
        failure: ChallengeFailure,
        reason: String,
        ts: u64,
    ) -> Option<ChallengeOutcome> {
        if self.outcome.is_some() {
            return None;
        }
        if self.baseline.is_some() && self.step < self.plan.steps.len() {
            let s = &self.state;
            self.steps.push(StepOutcome {
                action: self.plan.steps[self.step].action,
                passed: false,
                started_ns: s.started_ns,
                ended_ns: ts,
                active_ms: s.active_ns as f64 / 1e6,
                failure: reason.clone(),
                evidence: BTreeMap::new(),
            });
        }
        let out = ChallengeOutcome {
            passed: false,
            failure: Some(failure),
            reason,
            steps: self.steps.clone(),
        };
        self.outcome = Some(out.clone());
        Some(out)
    }

    /// Consumes the next frame. Timestamps must increase; a frame that does not is an error
    /// and changes nothing.
    pub fn push(&mut self, obs: &Observation) -> Result<Update> {
        if let Some(prev) = self.last_ts {
            if obs.timestamp_ns <= prev {
                return Err(Error::InvalidInput(alloc::format!(
                    "challenge: timestamp {} ns does not follow {} ns",
                    obs.timestamp_ns,
                    prev
                )));
            }
        }
        if self.awaiting.is_some() {
            return Err(Error::InvalidInput(
                "challenge: the performed turn awaits its parallax score (turn_parallax) before \
                 the next frame"
                    .into(),
            ));
        }
        let ts = obs.timestamp_ns;
        let dt = self.last_ts.map(|p| ts - p).unwrap_or(0);
        self.last_ts = Some(ts);
        if self.outcome.is_some() {
            return Ok(self.update(None, None));
        }
        // Continuity.
        match (&obs.face, self.last_face) {
            (Some(f), Some((_, prev))) => {
                let jump = libm::hypotf(f.centre.x - prev.centre.x, f.centre.y - prev.centre.y)
                    / prev.iod_px.max(1.0);
                if jump > self.cfg.max_jump_iod {
                    let out = self.reject(
                        ChallengeFailure::FaceChanged,
                        alloc::format!(
                            "face continuity broken: the face jumped {jump:.2} IOD between frames"
                        ),
                        ts,
                    );
                    return Ok(self.update(None, out));
                }
            }
            (None, Some((seen, _))) if self.baseline.is_some() => {
                let gap_ms = (ts - seen) as f64 / 1e6;
                if gap_ms > self.cfg.max_gap_ms as f64 {
                    let out = self.reject(
                        ChallengeFailure::FaceChanged,
                        alloc::format!("face track lost for {gap_ms:.0} ms"),
                        ts,
                    );
                    return Ok(self.update(None, out));
                }
            }
            _ => {}
        }
        let Some(face) = obs.face else {
            return Ok(self.update(None, None));
        };
        self.last_face = Some((ts, face));

        // Baseline.
        let Some(base) = self.baseline else {
            if obs.quality_ok {
                let start = *self.baseline_start.get_or_insert(ts);
                self.baseline_samples.push(face);
                if (ts - start) as f64 / 1e6 >= self.cfg.baseline_ms as f64
                    && self.baseline_samples.len() >= 3
                {
                    let med = |get: fn(&FaceObservation) -> f32| {
                        let mut v: Vec<f32> = self.baseline_samples.iter().map(get).collect();
                        crate::math::median_in_place(&mut v).unwrap_or(0.0)
                    };
                    let mut closed: Vec<f32> = self
                        .baseline_samples
                        .iter()
                        .filter_map(|f| f.eyes_closed)
                        .collect();
                    let eyes_closed = if closed.len() * 2 >= self.baseline_samples.len() {
                        crate::math::median_in_place(&mut closed)
                    } else {
                        None
                    };
                    let mut open: Vec<f32> = self
                        .baseline_samples
                        .iter()
                        .filter_map(|f| f.eye_openness)
                        .collect();
                    let eye_openness = if open.len() * 2 >= self.baseline_samples.len() {
                        crate::math::median_in_place(&mut open).filter(|o| *o > 0.0)
                    } else {
                        None
                    };
                    self.baseline = Some(Baseline {
                        ear: med(|f| f.ear),
                        eyes_closed,
                        eye_openness,
                        yaw: med(|f| f.yaw_deg),
                        pitch: med(|f| f.pitch_deg),
                        mouth_width: med(|f| f.mouth_width),
                        corner_lift: med(|f| f.corner_lift),
                    });
                    self.start_step(ts);
                }
            }
            return Ok(self.update(None, None));
        };

        // Active step: the timer runs only on good-quality frames.
        if obs.quality_ok {
            self.state.active_ns += dt;
        }
        let step = self.plan.steps[self.step];
        if self.state.active_ns as f64 / 1e6 > step.timeout_ms as f64 {
            let out = self.reject(
                ChallengeFailure::Timeout,
                alloc::format!(
                    "step {} ({}) timed out after {} ms",
                    self.step + 1,
                    step.action.as_str(),
                    step.timeout_ms
                ),
                ts,
            );
            return Ok(self.update(None, out));
        }
        // A different head movement first rejects the challenge.
        let yaw = face.yaw_deg - base.yaw;
        let pitch = face.pitch_deg - base.pitch;
        let wrong = match step.action {
            Action::TurnLeft => (yaw <= -self.cfg.turn_deg)
                .then_some(Action::TurnRight)
                .or(
                    (pitch <= -self.cfg.nod_deg && yaw.abs() < self.cfg.turn_deg * 0.5)
                        .then_some(Action::Nod),
                ),
            Action::TurnRight => (yaw >= self.cfg.turn_deg)
                .then_some(Action::TurnLeft)
                .or(
                    (pitch <= -self.cfg.nod_deg && yaw.abs() < self.cfg.turn_deg * 0.5)
                        .then_some(Action::Nod),
                ),
            Action::Nod | Action::Blink | Action::Smile => {
                let turn = if yaw > 0.0 {
                    Action::TurnLeft
                } else {
                    Action::TurnRight
                };
                (yaw.abs() >= self.cfg.turn_deg).then_some(turn)
            }
        };
        // A full smile held while something else is asked is a wrong action too (a capture
        // made for another plan shows its actions in another order). Blinks are not: people
        // blink all the time.
        let smiling = face.mouth_width / base.mouth_width.max(1e-6) - 1.0
            >= self.cfg.smile_width_gain
            && face.corner_lift - base.corner_lift >= self.cfg.smile_lift;
        if !smiling {
            self.state.smile_released = true;
        }
        let wrong = wrong.or_else(|| {
            if step.action == Action::Smile || !smiling || !self.state.smile_released {
                self.state.other_smile_since = None;
                return None;
            }
            let t0 = *self.state.other_smile_since.get_or_insert(ts);
            ((ts - t0) as f64 / 1e6 >= self.cfg.smile_hold_ms as f64).then_some(Action::Smile)
        });
        if let Some(w) = wrong {
            let out = self.reject(
                ChallengeFailure::WrongAction,
                alloc::format!(
                    "wrong action: {} while {} was asked",
                    w.as_str(),
                    step.action.as_str()
                ),
                ts,
            );
            return Ok(self.update(None, out));
        }
        let done = self.detect(step.action, &face, &base, ts);
        if let Some(evidence) = done {
            if matches!(step.action, Action::TurnLeft | Action::TurnRight) {
                // A turn must look 3D: check the score given during the turn, or wait for it.
                if let Some(p) = self.pending_parallax.take() {
                    return Ok(self.finish_turn(evidence, p, ts));
                }
                if self.cfg.require_turn_parallax {
                    self.awaiting = Some((evidence, ts));
                    return Ok(self.update(None, None));
                }
            }
            return Ok(self.complete_step(evidence, ts));
        }
        Ok(self.update(None, None))
    }

    fn start_step(&mut self, ts: u64) {
        let after_smile = self
            .step
            .checked_sub(1)
            .and_then(|i| self.plan.steps.get(i))
            .is_some_and(|p| p.action == Action::Smile);
        self.state = StepState {
            started_ns: ts,
            min_ear: f32::MAX,
            min_open: f32::MAX,
            smile_released: !after_smile,
            ..StepState::default()
        };
        self.pending_parallax = None;
    }

    /// Advances the current step's detector; the evidence when the action is complete.
    fn detect(
        &mut self,
        action: Action,
        f: &FaceObservation,
        b: &Baseline,
        ts: u64,
    ) -> Option<BTreeMap<String, f64>> {
        let cfg = &self.cfg;
        let s = &mut self.state;
        let mut ev = BTreeMap::new();
        match action {
            Action::TurnLeft | Action::TurnRight | Action::Nod => {
                // Signed excursion in the asked direction.
                let (x, thr) = match action {
                    Action::TurnLeft => (f.yaw_deg - b.yaw, cfg.turn_deg),
                    Action::TurnRight => (b.yaw - f.yaw_deg, cfg.turn_deg),
                    _ => (b.pitch - f.pitch_deg, cfg.nod_deg),
                };
                s.peak = s.peak.max(x);
                if x >= thr {
                    s.reached = true;
                }
                if s.reached && x <= thr * cfg.return_fraction {
                    ev.insert("peak_deg".into(), s.peak as f64);
                    ev.insert("threshold_deg".into(), thr as f64);
                    return Some(ev);
                }
            }
            Action::Blink => {
                // The eye-state model when it ran here and reads the user's eyes open at rest;
                // else the iris model's openness when it ran here and at rest; else the eye
                // aspect ratio.
                let model = match (f.eyes_closed, b.eyes_closed) {
                    (Some(p), Some(rest)) if rest < cfg.eye_open_prob => Some(p),
                    _ => None,
                };
                let iris = match (model, f.eye_openness, b.eye_openness) {
                    (None, Some(o), Some(rest)) => Some((o, rest)),
                    _ => None,
                };
                let (closed, open) = match (model, iris) {
                    (Some(p), _) => (p >= cfg.eye_closed_prob, p <= cfg.eye_open_prob),
                    (None, Some((o, rest))) => (
                        o < rest * (1.0 - cfg.openness_drop),
                        o > rest * (1.0 - 0.5 * cfg.openness_drop),
                    ),
                    (None, None) => (
                        f.ear < b.ear * (1.0 - cfg.blink_drop),
                        f.ear > b.ear * (1.0 - 0.5 * cfg.blink_drop),
                    ),
                };
                if let Some((o, _)) = iris {
                    s.min_open = s.min_open.min(o);
                }
                s.min_ear = s.min_ear.min(f.ear);
                if let Some(p) = model {
                    s.max_closed = s.max_closed.max(p);
                }
                match s.closed_since {
                    None if closed => s.closed_since = Some(ts),
                    Some(t0) if open => {
                        s.closed_since = None;
                        let ms = (ts - t0) as f64 / 1e6;
                        if ms >= cfg.blink_min_ms as f64 && ms <= cfg.blink_max_ms as f64 {
                            ev.insert("closed_ms".into(), ms);
                            ev.insert("ear_baseline".into(), b.ear as f64);
                            ev.insert("ear_min".into(), s.min_ear as f64);
                            // 1 = eye-state model, 2 = iris openness, 0 = eye aspect ratio.
                            let source = match (model, iris) {
                                (Some(_), _) => 1.0,
                                (None, Some(_)) => 2.0,
                                (None, None) => 0.0,
                            };
                            ev.insert("eye_model".into(), source);
                            if model.is_some() {
                                ev.insert("closed_prob_max".into(), s.max_closed as f64);
                            }
                            if let Some((_, rest)) = iris {
                                ev.insert("openness_baseline".into(), rest as f64);
                                ev.insert("openness_min".into(), s.min_open as f64);
                            }
                            return Some(ev);
                        }
                        // Too short (noise) or too long (eyes shut, not a blink): wait for
                        // a proper blink.
                        s.min_ear = f32::MAX;
                        s.min_open = f32::MAX;
                        s.max_closed = 0.0;
                    }
                    _ => {}
                }
            }
            Action::Smile => {
                let gain = f.mouth_width / b.mouth_width.max(1e-6) - 1.0;
                let lift = f.corner_lift - b.corner_lift;
                s.best_width = s.best_width.max(gain);
                s.best_lift = s.best_lift.max(lift);
                if gain >= cfg.smile_width_gain && lift >= cfg.smile_lift {
                    let t0 = *s.smile_since.get_or_insert(ts);
                    if (ts - t0) as f64 / 1e6 >= cfg.smile_hold_ms as f64 {
                        ev.insert("width_gain".into(), s.best_width as f64);
                        ev.insert("corner_lift".into(), s.best_lift as f64);
                        return Some(ev);
                    }
                } else {
                    s.smile_since = None;
                }
            }
        }
        None
    }
}

#[cfg(test)]
mod tests;
