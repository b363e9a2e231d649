//! [`ChallengeCapture`]: a challenge over real frames, with the flat-photo check built in.
//!
//! The [`ChallengeRunner`] sees landmarks only, and FaceMesh reports a yaw for a photo turned
//! on its axis just as for a head. The session keeps, during each turn step, what passive
//! parallax needs of the frames (the landmarks and a small luma crop of the face, see
//! [`crate::passive::parallax`]); when the runner reports the turn performed
//! ([`Update::awaiting_parallax`]) it scores the turn's frames and hands the score to the
//! runner, which passes the step or rejects the challenge ("moved like a flat surface", or
//! "its parallax could not be measured"). A turn that cannot be measured fails: a flat photo
//! must not pass by giving nothing to measure.
//!
//! With an eye-state model ([`ChallengeCapture::with_eye_model`]) the eyes are also
//! classified open / closed ([`super::eyes`]), which blinks use where FaceMesh's lids lag:
//! on the frames the runner reads it, the neutral baseline and the blink steps, and only
//! when the plan has a blink.
//! With the iris model instead ([`ChallengeCapture::with_iris_model`]) blinks read the eye
//! openness from MediaPipe Iris's eye contour ([`super::iris`]); the runner prefers the
//! eye-state probability when both ran.
//!
//! With face continuity ([`ChallengeCapture::with_face_continuity`]) every `every`-th
//! near-frontal frame's face (|yaw| ≤ 15°, |pitch| ≤ 20°) is embedded ([`crate::matching`])
//! and compared with the first: a different person taking over mid-challenge rejects it
//! ("face changed"). Turned frames are skipped: pose alone lowers the similarity.
//!
//! Memory: at most `max_turn_frames` face crops (≤ 54 KB each with the default parallax
//! settings) in a [`parallax::Reservoir`]: a long turn keeps every other frame each time it
//! fills, so the frames kept still span the whole turn, and each kept frame is fitted
//! against the turn's first frame as it arrives; the end of the turn fits the pairs left
//! (against the middle and last frames). Cost: docs/performance.md ("The whole session").

use super::eyes::{EyeScratch, EyeStateModel};
use super::iris::IrisEyeModel;
use super::observe::observation_from;
use super::plan::{Action, ChallengePlan};
use super::runner::{ChallengeOutcome, ChallengeRunner, Prompt, RunnerConfig, Update};
use crate::error::{Error, Result};
use crate::frame::Upright;
use crate::passive::parallax::{self, ParallaxConfig};
use crate::perception::FrameAnalysis;

/// Runs one challenge plan over analysed frames and their upright RGB images.
#[derive(Debug)]
pub struct ChallengeCapture {
    runner: ChallengeRunner,
    /// Frames of the current turn step (spread over the turn, pairs fitted as they arrive),
    /// here or with the caller.
    turn: TurnFrames,
    turn_step: Option<usize>,
    /// Whether the plan has a blink step (the eye-state model runs only for it).
    blinks: bool,
    eyes: Option<EyeStateModel>,
    /// The eye-state model's crop and output buffers, reused frame to frame.
    eye_scratch: EyeScratch,
    iris: Option<IrisEyeModel>,
    continuity: Option<Continuity>,
}

/// What a caller running the turn's parallax elsewhere must do after a [`ChallengeCapture::push`]
/// (see [`ChallengeCapture::with_deferred_turn_parallax`]), in this order.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TurnRequests {
    /// Forget the turn's frames (a new turn, or the turn was abandoned).
    pub reset: bool,
    /// Keep this frame (its image and landmarks) with [`parallax::Reservoir::offer_admitted`]
    /// and this `halve`.
    pub keep: Option<bool>,
}

/// Where the current turn's frames are kept.
#[derive(Debug)]
enum TurnFrames {
    /// Here, fitted as they arrive.
    Inline(parallax::Reservoir),
    /// With the caller, which is told what to keep ([`TurnRequests`]); here only the
    /// reservoir's counting half.
    Deferred {
        admission: parallax::Admission,
        requests: TurnRequests,
    },
}

/// Head pose within which face continuity embeds a frame, degrees (the quality gate's own
/// frontal limits are 20°; a turn step asks for more).
const CONTINUITY_MAX_YAW_DEG: f32 = 15.0;
const CONTINUITY_MAX_PITCH_DEG: f32 = 20.0;

#[derive(Debug)]
struct Continuity {
    /// The embedder and the check; `None`: deferred, the caller embeds the frames it is
    /// asked for ([`ChallengeCapture::take_continuity_request`]).
    inline: Option<(crate::matching::Embedder, crate::matching::FaceContinuity)>,
    every: usize,
    frames: usize,
    /// The five points of the frame last asked for (deferred mode).
    request: Option<crate::matching::FivePoints>,
}

impl Continuity {
    fn new(
        inline: Option<(crate::matching::Embedder, crate::matching::FaceContinuity)>,
        every: usize,
    ) -> Result<Continuity> {
        if every == 0 {
            return Err(Error::Config(
                "challenge session: face continuity needs every ≥ 1 frame".into(),
            ));
        }
        Ok(Continuity {
            inline,
            every,
            frames: 0,
            request: None,
        })
    }
}

impl ChallengeCapture {
    /// `max_turn_frames` (≥ the parallax `min_frames`, default 24 via [`Self::with_defaults`])
    /// bounds the frames kept per turn.
    pub fn new(
        plan: ChallengePlan,
        cfg: RunnerConfig,
        parallax: ParallaxConfig,
        max_turn_frames: usize,
    ) -> Result<ChallengeCapture> {
        parallax.validate()?;
        if max_turn_frames < parallax.min_frames.max(2) || max_turn_frames > 1000 {
            return Err(Error::Config(alloc::format!(
                "challenge session: max_turn_frames {max_turn_frames} must be in {}..=1000 \
                 (parallax needs {} frames)",
                parallax.min_frames.max(2),
                parallax.min_frames
            )));
        }
        let blinks = plan.steps.iter().any(|s| s.action == Action::Blink);
        Ok(ChallengeCapture {
            runner: ChallengeRunner::new(plan, cfg)?,
            turn: TurnFrames::Inline(parallax::Reservoir::new(parallax, max_turn_frames)?),
            turn_step: None,
            blinks,
            eyes: None,
            eye_scratch: EyeScratch::default(),
            iris: None,
            continuity: None,
        })
    }

    /// The default runner and parallax settings, 24 frames per turn.
    pub fn with_defaults(plan: ChallengePlan) -> Result<ChallengeCapture> {
        Self::new(plan, RunnerConfig::default(), ParallaxConfig::default(), 24)
    }

    /// Classifies each frame's eyes with this model (for blinks).
    pub fn with_eye_model(mut self, model: EyeStateModel) -> ChallengeCapture {
        self.eyes = Some(model);
        self
    }

    /// Measures each frame's eye openness with the iris model (for blinks).
    pub fn with_iris_model(mut self, model: IrisEyeModel) -> ChallengeCapture {
        self.iris = Some(model);
        self
    }

    /// Embeds every `every`-th frame's face (≥ 1) and rejects the challenge when its cosine
    /// similarity to the first embedded face falls below `min_similarity`.
    pub fn with_face_continuity(
        mut self,
        embedder: crate::matching::Embedder,
        min_similarity: f32,
        every: usize,
    ) -> Result<ChallengeCapture> {
        let check = crate::matching::FaceContinuity::new(min_similarity)?;
        self.continuity = Some(Continuity::new(Some((embedder, check)), every)?);
        Ok(self)
    }

    /// Face continuity done by the caller: every `every`-th near-frontal frame (≥ 1) is
    /// asked for through [`Self::take_continuity_request`], and the caller embeds it,
    /// checks it, and reports a break with [`Self::face_changed`] or in its own decision (a
    /// session does this off the frame path).
    pub fn with_deferred_face_continuity(mut self, every: usize) -> Result<ChallengeCapture> {
        self.continuity = Some(Continuity::new(None, every)?);
        Ok(self)
    }

    /// Turn parallax done by the caller (a session does it off the frame path): returns the
    /// capture and the empty reservoir the caller keeps the turn's frames in. After each
    /// [`Self::push`], the caller applies [`Self::take_turn_requests`]; when the update is
    /// `awaiting_parallax`, it scores the reservoir (then clears it) and hands the report
    /// to [`Self::resolve_turn`].
    pub fn with_deferred_turn_parallax(
        mut self,
    ) -> Result<(ChallengeCapture, parallax::Reservoir)> {
        let placeholder = TurnFrames::Deferred {
            admission: parallax::Admission::new(0),
            requests: TurnRequests::default(),
        };
        match core::mem::replace(&mut self.turn, placeholder) {
            TurnFrames::Inline(mut reservoir) => {
                reservoir.clear();
                self.turn = TurnFrames::Deferred {
                    admission: reservoir.admission(),
                    requests: TurnRequests::default(),
                };
                Ok((self, reservoir))
            }
            already => {
                self.turn = already;
                Err(Error::Config(
                    "challenge session: turn parallax is already deferred".into(),
                ))
            }
        }
    }

    /// What the caller must do with the frame just pushed (deferred turn parallax; each
    /// request is returned once).
    pub fn take_turn_requests(&mut self) -> TurnRequests {
        match &mut self.turn {
            TurnFrames::Deferred { requests, .. } => core::mem::take(requests),
            TurnFrames::Inline(_) => TurnRequests::default(),
        }
    }

    /// Passes or fails the turn awaiting its parallax with the caller's report of the turn's
    /// frames (deferred turn parallax). Errors: no turn awaits a score, a non-finite score.
    pub fn resolve_turn(&mut self, report: &crate::passive::SignalReport) -> Result<Update> {
        self.reset_turn(None);
        if let TurnFrames::Deferred { requests, .. } = &mut self.turn {
            // The caller clears its reservoir when it scores.
            requests.reset = false;
        }
        self.settle_turn(report)
    }

    /// Hands the turn's parallax report to the runner (the turn awaits it).
    fn settle_turn(&mut self, report: &crate::passive::SignalReport) -> Result<Update> {
        let resolved = match report.score.filter(|_| report.available) {
            Some(s) => self.runner.turn_parallax_with(s, &report.features)?,
            None => self.runner.turn_parallax_unavailable(&report.reason),
        };
        resolved.ok_or_else(|| Error::Internal("challenge session: no turn awaited a score".into()))
    }

    /// The five points of the last frame face continuity asked for, in deferred mode (see
    /// [`Self::with_deferred_face_continuity`]); each request is returned once.
    pub fn take_continuity_request(&mut self) -> Option<crate::matching::FivePoints> {
        self.continuity.as_mut().and_then(|c| c.request.take())
    }

    /// Lowest similarity to the starting face seen so far (with face continuity).
    pub fn lowest_face_similarity(&self) -> Option<f32> {
        self.continuity
            .as_ref()
            .and_then(|c| c.inline.as_ref())
            .map(|(_, check)| check.lowest())
    }

    pub fn runner(&self) -> &ChallengeRunner {
        &self.runner
    }

    /// The final outcome once the challenge has ended.
    pub fn outcome(&self) -> Option<&ChallengeOutcome> {
        self.runner.outcome()
    }

    /// See [`ChallengeRunner::face_changed`].
    pub fn face_changed(&mut self, why: &str) -> Option<ChallengeOutcome> {
        self.reset_turn(self.turn_step);
        self.runner.face_changed(why)
    }

    /// Consumes the next frame: its analysis (from the tracker) and the upright picture the
    /// analysis was made on (the RGB image, [`crate::perception::Tracker::last_rgb`], or the
    /// frame itself, read in place by the eye models). The inline turn and continuity work
    /// (`off_path` off) need the converted image. Errors: the picture's size differs from the
    /// analysis's, the runner's errors (timestamps that do not increase), and malformed
    /// landmarks.
    pub fn push<'a>(
        &mut self,
        analysis: &FrameAnalysis,
        rgb: impl Into<Upright<'a>>,
    ) -> Result<Update> {
        let rgb = rgb.into();
        let (w, h) = rgb.size();
        if w != analysis.width || h != analysis.height {
            return Err(Error::InvalidInput(alloc::format!(
                "challenge session: image {w}×{h} is not the analysed frame's {}×{}",
                analysis.width,
                analysis.height
            )));
        }
        let image = || {
            rgb.image().ok_or_else(|| {
                Error::InvalidInput(
                    "challenge session: inline turn or continuity work needs the RGB image".into(),
                )
            })
        };
        let turning = matches!(
            self.runner.prompt(),
            Prompt::Do(Action::TurnLeft | Action::TurnRight)
        );
        let step = self.runner.step_index();
        if !turning || self.turn_step != Some(step) {
            self.reset_turn(turning.then_some(step));
        }
        let mut obs = observation_from(analysis);
        // The eye models serve blinks only: their baseline (the neutral phase) and the blink
        // steps; on other frames the runner does not read them.
        let eyes_needed = self.blinks
            && matches!(
                self.runner.prompt(),
                Prompt::HoldStill | Prompt::Do(Action::Blink)
            );
        if let (true, Some(model), Some(face), Some(o)) = (
            eyes_needed,
            &self.eyes,
            analysis.faces.first(),
            obs.face.as_mut(),
        ) {
            // An eye too small to classify leaves the frame to the eye aspect ratio.
            o.eyes_closed = match model.predict_with(rgb, &face.landmarks, &mut self.eye_scratch) {
                Ok(state) => Some(state.closed()),
                Err(Error::Model(e)) => return Err(Error::Model(e)),
                Err(Error::ModelOutput(m)) => {
                    log::warn!(
                        "eye-state model: {m}; this frame falls back to the eye aspect ratio"
                    );
                    None
                }
                Err(_) => None,
            };
        }
        if let (true, Some(model), Some(face), Some(o)) = (
            eyes_needed,
            &self.iris,
            analysis.faces.first(),
            obs.face.as_mut(),
        ) {
            // An eye too small to crop leaves the frame to the other measures.
            o.eye_openness = match model.predict(rgb, &face.landmarks) {
                Ok(open) => Some(open.mean()),
                Err(Error::Model(e)) => return Err(Error::Model(e)),
                Err(Error::ModelOutput(m)) => {
                    log::warn!("iris model: {m}; this frame falls back to the other eye measures");
                    None
                }
                Err(_) => None,
            };
        }
        if let (true, Some(face), Some(_)) = (turning, analysis.faces.first(), obs.face) {
            match &mut self.turn {
                TurnFrames::Deferred {
                    admission,
                    requests,
                } => requests.keep = admission.admit(),
                TurnFrames::Inline(r) => {
                    r.offer(|cfg| {
                        parallax::frame_features_with_image(
                            image()?,
                            &face.landmarks,
                            analysis.timestamp_ns,
                            cfg,
                        )
                    })?;
                }
            }
        }
        // Continuity compares near-frontal views only: a 30–40° turn alone lowers the
        // similarity of the same person's embeddings below the threshold (the evaluation saw
        // bona fide turns fail as "face changed"), so the frames of a turn or a deep nod are
        // not embedded and not counted; the next near-frontal frame is.
        let frontal = obs.face.as_ref().is_some_and(|f| {
            f.yaw_deg.abs() <= CONTINUITY_MAX_YAW_DEG
                && f.pitch_deg.abs() <= CONTINUITY_MAX_PITCH_DEG
        });
        if let (Some(c), Some(face), None, true) = (
            self.continuity.as_mut(),
            analysis.faces.first(),
            self.runner.outcome(),
            frontal,
        ) {
            if c.frames.is_multiple_of(c.every) {
                let pts = crate::matching::five_points_from_mesh(&face.landmarks)?;
                match c.inline.as_mut() {
                    None => c.request = Some(pts),
                    Some((embedder, check)) => {
                        let e = embedder.embed(image()?, &pts)?;
                        if let Some(why) = check.check(&e)? {
                            let out = self.runner.face_changed(&why);
                            self.reset_turn(None);
                            return Ok(self.runner.snapshot(out));
                        }
                    }
                }
            }
            c.frames += 1;
        }
        let update = self.runner.push(&obs)?;
        let report = match &mut self.turn {
            TurnFrames::Inline(r) if update.awaiting_parallax => r.score(),
            // Not awaiting, or the caller scores (`resolve_turn`).
            _ => return Ok(update),
        };
        self.reset_turn(None);
        self.settle_turn(&report)
    }

    fn reset_turn(&mut self, step: Option<usize>) {
        match &mut self.turn {
            TurnFrames::Inline(r) => r.clear(),
            TurnFrames::Deferred {
                admission,
                requests,
            } => {
                // The caller's reservoir holds frames only if some were admitted.
                requests.reset |= !admission.is_empty();
                requests.keep = None;
                admission.clear();
            }
        }
        self.turn_step = step;
    }

    /// Frames kept for the current turn (for diagnostics and tests).
    pub fn turn_frames(&self) -> usize {
        match &self.turn {
            TurnFrames::Deferred { admission, .. } => admission.len(),
            TurnFrames::Inline(r) => r.len(),
        }
    }
}
