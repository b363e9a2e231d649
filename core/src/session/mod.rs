//! [`Session`]: one capture, from camera frames to a calibrated, fused, explainable
//! pass / retry / fail ([`SessionResult`]), with the feedback a capture UI needs on every
//! frame ([`FrameFeedback`]).
//!
//! Per frame: tracking and the quality gate; usable frames feed the passive window
//! ([`PassiveWindow`]: the per-frame signals on a few frames of the hold-still phase,
//! parallax on frames of the hold-still phase, fitted as they arrive) and, when the policy
//! asks for one, the active challenge derived from the server's seed (with face continuity
//! when an embedding model is loaded); with an enrolled template, a few good frames are
//! embedded for the match. The heavy work runs as frames arrive, the passive window, face
//! continuity and a turn's parallax on the session's worker thread (`offpath`); `finish()`
//! waits for it, combines the passive window's scores (fitting only its last parallax
//! pairs), calibrates each signal into an LLR with the bundle the policy expects, fuses,
//! and applies the policy (`core::policy::decide`), then writes the audit record.
//! docs/decision.md.

use std::sync::Arc;
use std::time::Instant;

use alloc::string::{String, ToString};
use alloc::vec::Vec;

use serde::Serialize;

use crate::active::{
    derive_plan, Action, ChallengeCapture, ChallengeOutcome, EyeStateModel, Prompt, StepOutcome,
};
use crate::calibration::CalibrationBundle;
#[cfg(feature = "ort")]
use crate::engine::EngineConfig;
use crate::engine::{Engine, Tracker};
use crate::evidence::{
    ChallengeEvidence, ChallengeFailure, Evidence, MatchBand, MatchEvidence, QualitySummary,
    SecurityEvidence, SignalEvidence, SignalId,
};
use crate::frame::{Frame, RgbImage};
use crate::fusion::CalibratedSignal;
use crate::matching::{
    five_points_from_mesh, Embedder, FaceContinuity, FaceTemplate, MatchThresholds,
};
use crate::models::ModelRunner;
use crate::passive::analyzer::PassiveReport;
use crate::passive::analyzer::{OptionalModel, PassiveConfig, PassiveModels};
use crate::passive::SignalReport;
use crate::policy::{decide, DecisionContext, FlowType, LoadedPolicy, RiskTier};
use crate::quality::{Hint, HintSet};
use crate::result::{ModelUsed, ResultContext, SessionResult, StepTiming, Timings};
use crate::security::stream::{DeclaredCamera, StreamMonitor};
use crate::security::ProbeReport;

mod ledger;
mod offpath;
#[cfg(test)]
mod tests;
mod window;

use ledger::Ledger;
use offpath::{ContinuityCheck, FrameWork, OffPath};
pub use window::{PassiveWindow, WindowPlan};

/// Errors of a session. Bad input to `push_frame` is an error for that frame only; a
/// session that never saw a usable face still finishes (as retry), never as an error.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error(transparent)]
    Policy(#[from] crate::policy::PolicyError),
    #[error(transparent)]
    Pipeline(#[from] crate::error::Error),
    #[error("session: {0}")]
    InvalidParams(String),
    #[error("session already finished: create a new one for the next attempt")]
    Finished,
}

/// A calibration bundle and its hash, as loaded.
#[derive(Clone, Debug)]
pub struct LoadedCalibration {
    pub bundle: CalibrationBundle,
    pub sha256: String,
}

impl LoadedCalibration {
    /// Validates and hashes a bundle.
    pub fn new(bundle: CalibrationBundle) -> Result<LoadedCalibration, SessionError> {
        bundle
            .validate()
            .map_err(|e| SessionError::InvalidParams(alloc::format!("calibration bundle: {e}")))?;
        let sha256 = bundle
            .sha256_hex()
            .map_err(|e| SessionError::InvalidParams(alloc::format!("calibration bundle: {e}")))?;
        Ok(LoadedCalibration { bundle, sha256 })
    }
}

/// The optional stages' models, loaded once and shared by every session.
#[derive(Clone)]
pub struct SessionModels {
    pub passive: Arc<PassiveModels>,
    /// Eye-state model for blinks (`fr_eye`); `None`: the eye-aspect ratio alone.
    pub eyes: Option<EyeStateModel>,
    /// Embedding model for face continuity and the template match; `None`: neither.
    pub embedding: Option<Arc<dyn ModelRunner>>,
    /// Manifest names and sha256 of every model in use (engine's included), for the audit.
    pub used: Vec<ModelUsed>,
}

impl std::fmt::Debug for SessionModels {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionModels")
            .field("passive", &self.passive)
            .field("eyes", &self.eyes.is_some())
            .field(
                "embedding",
                &self.embedding.as_ref().map(|r| r.spec().name.clone()),
            )
            .finish()
    }
}

impl SessionModels {
    /// Loads the passive models, the eye-state model and the embedding model named
    /// `embedding` (e.g. `fr_feature`; empty for none) with the engine's configuration. A
    /// missing optional model is logged and left out (its signal says so), never an error.
    #[cfg(feature = "ort")]
    pub fn load(engine: &EngineConfig, passive: &PassiveConfig, embedding: &str) -> SessionModels {
        let passive_models = Arc::new(PassiveModels::load(engine, passive));
        let eyes = match EyeStateModel::load(engine) {
            Ok(m) => Some(m),
            Err(e) => {
                log::warn!("eye-state model not loaded, blinks use the eye-aspect ratio: {e}");
                None
            }
        };
        let emb = if embedding.is_empty() {
            None
        } else {
            match crate::engine::load_runner(engine, embedding) {
                Ok(r) => Some(r),
                Err(e) => {
                    log::warn!("embedding model `{embedding}` not loaded: {e}");
                    None
                }
            }
        };
        // The engine's own models first (detector, FaceMesh), described once here rather
        // than at every session's finish.
        let mut used: Vec<ModelUsed> = [engine.detector.model_name(), "face_landmark"]
            .into_iter()
            .filter_map(|name| match engine_model(engine, name) {
                Ok(m) => Some(m),
                Err(e) => {
                    log::warn!("audit: engine model `{name}` not described: {e}");
                    None
                }
            })
            .collect();
        let mut note = |r: &Arc<dyn ModelRunner>| {
            let s = r.spec();
            if !used.iter().any(|u| u.name == s.name) {
                used.push(ModelUsed {
                    name: s.name.clone(),
                    sha256: s.sha256.clone(),
                });
            }
        };
        for (_, r) in &passive_models.texture {
            note(r);
        }
        if let crate::passive::analyzer::OptionalModel::Loaded(r) = &passive_models.depth {
            note(r);
        }
        if let Some(m) = &eyes {
            note(m.runner());
        }
        if let Some(r) = &emb {
            note(r);
        }
        SessionModels {
            passive: passive_models,
            eyes,
            embedding: emb,
            used,
        }
    }
}

/// Settings of the session itself (the policy carries the tenant's).
#[derive(Clone, Debug, Serialize)]
pub struct SessionConfig {
    pub passive: PassiveConfig,
    /// Every this many usable frames goes into the passive window (1 = all).
    pub passive_stride: u32,
    /// Usable frames the passive window needs before a passive-only session is done (the
    /// hold-still phase).
    pub passive_frames: u32,
    /// The per-frame passive signals (texture CNNs, FFT, reflection, depth) score this many
    /// window frames, spread evenly over the hold-still phase ([`PassiveWindow`]).
    pub passive_scored_frames: u32,
    /// Parallax keeps up to this many window frames of the hold-still phase.
    pub parallax_frames: u32,
    /// Embed every this many usable frames for the template match...
    pub match_every: u32,
    /// ...up to this many samples (their mean similarity decides).
    pub match_samples: u32,
    /// Face continuity through the challenge: embed every this many frames (one a second at
    /// 30 fps: a face that takes over performs at least a step, which lasts longer), and reject
    /// below this cosine similarity to the first face (same person through a smile: ≥ 0.75
    /// measured; another person: ≤ 0.2).
    pub continuity_every: usize,
    pub continuity_min_similarity: f32,
    /// Run the passive signals, face continuity's embeddings and a turn's parallax on a
    /// worker thread of the session's own, off the frame path (`push_frame` copies the few
    /// frames they need; a turn's end waits for its score, `finish()` for the rest).
    /// `false`: on the caller's thread. The results are the same.
    pub off_path: bool,
    /// The frames come from a live camera (the default): the stream injection heuristics
    /// apply. `false` for offline analysis of recorded media (image files, a decoded video):
    /// such frames are by construction not from a live sensor (exact container timestamps,
    /// repeated stills), so the heuristics would call every file injected; they are then not
    /// run and the result reports injection as not measured. A token session is always live.
    pub live_capture: bool,
    /// Target oval for the face, normalised image coordinates: centre x, centre y, half
    /// width, half height.
    pub target_oval: [f32; 4],
}

impl Default for SessionConfig {
    fn default() -> Self {
        SessionConfig {
            passive: PassiveConfig::default(),
            passive_stride: 2,
            passive_frames: 30,
            passive_scored_frames: 6,
            parallax_frames: 24,
            match_every: 10,
            match_samples: 3,
            continuity_every: 30,
            continuity_min_similarity: 0.5,
            off_path: true,
            live_capture: true,
            target_oval: [0.5, 0.45, 0.3, 0.38],
        }
    }
}

/// Who and what this capture is for (from the server's session token).
#[derive(Clone, Debug, PartialEq)]
pub struct SessionParams {
    /// The server's 32-byte challenge seed.
    pub seed: [u8; 32],
    pub flow: FlowType,
    pub tier: RiskTier,
    /// 1 for the first attempt of the transaction.
    pub attempt: u32,
    /// Failures in a row before this attempt.
    pub consecutive_failures: u32,
    pub request_id: String,
    pub session_id: String,
    /// The enrolled template to match, if any.
    pub template: Option<FaceTemplate>,
    /// Free text about the camera, for the audit (may be empty).
    pub capture_device: String,
}

impl SessionParams {
    /// A first attempt (no failures before it) known by `session_id` alone: no request id,
    /// no template, no camera text. Set those fields with struct update syntax.
    pub fn first_attempt(
        seed: [u8; 32],
        flow: FlowType,
        tier: RiskTier,
        session_id: impl Into<String>,
    ) -> SessionParams {
        SessionParams {
            seed,
            flow,
            tier,
            attempt: 1,
            consecutive_failures: 0,
            request_id: String::new(),
            session_id: session_id.into(),
            template: None,
            capture_device: String::new(),
        }
    }
}

/// Where the capture is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// No usable face yet: follow the hints.
    Positioning,
    /// Collecting the passive window: hold still.
    Passive,
    /// The active challenge is running.
    Challenge,
    /// Enough evidence: call `finish()`.
    Done,
}

/// What the capture UI asks of the user now.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum UserPrompt {
    None,
    HoldStill,
    Blink,
    TurnLeft,
    TurnRight,
    Nod,
    Smile,
}

impl From<Action> for UserPrompt {
    fn from(a: Action) -> Self {
        match a {
            Action::Blink => UserPrompt::Blink,
            Action::TurnLeft => UserPrompt::TurnLeft,
            Action::TurnRight => UserPrompt::TurnRight,
            Action::Nod => UserPrompt::Nod,
            Action::Smile => UserPrompt::Smile,
        }
    }
}

/// The per-frame feedback.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FrameFeedback {
    pub phase: Phase,
    pub prompt: UserPrompt,
    /// Quality hints for this frame, most important first.
    pub hints: HintSet,
    /// Progress of the whole capture, 0..1.
    pub progress: f32,
    /// The challenge step under way, 0-based (equal to `step_count` once every step ran;
    /// 0 without a challenge).
    pub step_index: u32,
    /// Steps in the challenge plan (0 without a challenge).
    pub step_count: u32,
    /// The face box, normalised `[x_min, y_min, x_max, y_max]`; `None` without a face.
    pub face_box: Option<[f32; 4]>,
    /// Where the face should be (see [`SessionConfig::target_oval`]).
    pub target_oval: [f32; 4],
    /// Whether the frame was used as evidence (a face and no blocking hint).
    pub used: bool,
}

/// The upright RGB image of `frame` in `buf`, converted on the first call per frame.
fn upright<'b>(
    frame: &Frame<'_>,
    buf: &'b mut RgbImage,
    ready: &mut bool,
) -> Result<&'b RgbImage, SessionError> {
    if !*ready {
        frame.to_rgb_into(buf).map_err(crate::error::Error::from)?;
        *ready = true;
    }
    Ok(buf)
}

/// One capture. Not shared between threads; create one per attempt.
pub struct Session {
    tracker: Tracker,
    /// The upright RGB image of the current frame, made only when a stage needs the whole
    /// picture (`rgb_ready`): perception and the eye models read the frame in place.
    rgb: RgbImage,
    rgb_ready: bool,
    /// The passive window, face continuity and the turns' parallax, off the frame path.
    offpath: OffPath,
    /// The frame hash and the stream heuristics. `None` once lost: a `push_frame` that
    /// panicked (an FFI call catches it) leaves the hash without that frame.
    ledger: Option<Ledger>,
    challenge: Option<ChallengeCapture>,
    embedder: Option<Embedder>,
    policy: Arc<LoadedPolicy>,
    calibration: Arc<LoadedCalibration>,
    models: Arc<SessionModels>,
    params: SessionParams,
    cfg: SessionConfig,
    // Bookkeeping.
    frames: u32,
    frames_with_face: u32,
    usable: u32,
    /// Frames showing each hint, by `Hint::priority` rank.
    hint_counts: [u32; Hint::ALL.len()],
    sharpness: Vec<f32>,
    luma: Vec<f32>,
    face_px: Vec<f32>,
    similarities: Vec<f32>,
    match_model: String,
    match_error: Option<String>,
    first_ts: Option<u64>,
    last_ts: u64,
    timings: Timings,
    finished: bool,
    /// The host's device probe report ([`Session::with_security`]); `None`: not measured.
    device: Option<ProbeReport>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("session_id", &self.params.session_id)
            .field("frames", &self.frames)
            .field("usable", &self.usable)
            .finish()
    }
}

fn ms_since(t: Instant) -> f64 {
    t.elapsed().as_secs_f64() * 1e3
}

fn median(v: &[f32]) -> Option<f32> {
    let mut v: Vec<f32> = v.iter().copied().filter(|x| x.is_finite()).collect();
    crate::math::median_in_place(&mut v)
}

impl Session {
    /// Starts a capture under `policy` with the calibration it expects. Errors: the policy
    /// was set on another calibration bundle, the challenge plan cannot be derived, or the
    /// session settings are out of range.
    pub fn new(
        engine: Arc<Engine>,
        models: Arc<SessionModels>,
        policy: Arc<LoadedPolicy>,
        calibration: Arc<LoadedCalibration>,
        params: SessionParams,
        cfg: SessionConfig,
    ) -> Result<Session, SessionError> {
        policy.policy.check_calibration(&calibration.sha256)?;
        if cfg.passive_stride == 0 || cfg.passive_frames == 0 || cfg.match_every == 0 {
            return Err(SessionError::InvalidParams(
                "passive_stride, passive_frames and match_every must be ≥ 1".into(),
            ));
        }
        let p = &policy.policy;
        // A signal the policy requires must have its model here: refused now, with the
        // reason, rather than a retry (`signal_unavailable`) after the whole capture.
        for &signal in &p.evidence.required_signals {
            let missing = match signal {
                SignalId::Texture if models.passive.texture.is_empty() => {
                    Some(models.passive.texture_note.clone())
                }
                SignalId::Depth => match &models.passive.depth {
                    OptionalModel::Missing(why) => Some(why.clone()),
                    OptionalModel::Loaded(_) => None,
                },
                _ => None,
            };
            if let Some(why) = missing {
                return Err(SessionError::InvalidParams(alloc::format!(
                    "the policy requires the {} signal, whose model is not loaded: {why}",
                    signal.as_str()
                )));
            }
        }
        let mut continuity = None;
        let mut turn = None;
        let challenge = if p.challenge_required(params.flow, params.tier) {
            let plan = derive_plan(&params.seed, &p.challenge.plan)?;
            let mut c = ChallengeCapture::with_defaults(plan)?;
            if let Some(eyes) = &models.eyes {
                c = c.with_eye_model(eyes.clone());
            }
            if let Some(r) = &models.embedding {
                continuity = Some(ContinuityCheck {
                    embedder: Embedder::new(r.clone()).map_err(crate::error::Error::from)?,
                    check: FaceContinuity::new(cfg.continuity_min_similarity)
                        .map_err(crate::error::Error::from)?,
                });
                c = c.with_deferred_face_continuity(cfg.continuity_every)?;
            }
            let (c, reservoir) = c.with_deferred_turn_parallax()?;
            turn = Some(reservoir);
            Some(c)
        } else {
            None
        };
        let (embedder, match_error) = match (&params.template, &models.embedding) {
            (None, _) => (None, None),
            (Some(_), None) => (None, Some("no embedding model is loaded".to_string())),
            (Some(t), Some(r)) => {
                if r.spec().name != t.model {
                    (
                        None,
                        Some(alloc::format!(
                            "the template was made with `{}`, the loaded embedding model is \
                             `{}`",
                            t.model,
                            r.spec().name
                        )),
                    )
                } else {
                    (
                        Some(Embedder::new(r.clone()).map_err(crate::error::Error::from)?),
                        None,
                    )
                }
            }
        };
        let match_model = params
            .template
            .as_ref()
            .map(|t| t.model.clone())
            .unwrap_or_default();
        Ok(Session {
            tracker: Tracker::new(engine),
            rgb: RgbImage::default(),
            rgb_ready: false,
            offpath: OffPath::start(
                PassiveWindow::new(models.passive.clone(), &cfg)?,
                continuity,
                turn,
                cfg.off_path,
            ),
            ledger: Some(Ledger::start(
                // Stream injection heuristics, fed every frame (`core::security::stream`).
                cfg.live_capture.then(|| StreamMonitor::new(None)),
                cfg.off_path,
            )),
            challenge,
            embedder,
            policy,
            calibration,
            models,
            params,
            cfg,
            frames: 0,
            frames_with_face: 0,
            usable: 0,
            // Reserved so that the frame path does not grow them (20 s at 30 fps; longer
            // captures grow them once).
            hint_counts: [0; Hint::ALL.len()],
            sharpness: Vec::with_capacity(600),
            luma: Vec::with_capacity(600),
            face_px: Vec::with_capacity(600),
            similarities: Vec::new(),
            match_model,
            match_error,
            first_ts: None,
            last_ts: 0,
            timings: Timings::default(),
            finished: false,
            device: None,
        })
    }

    /// Adds the host's device probe report (`core::security::probe_device`) and, when the host
    /// knows it, the camera configuration the frames should match. Without it the device
    /// categories are not measured (`None`); the stream heuristics run either way. Call it
    /// before the first frame: it starts the stream monitor afresh.
    pub fn with_security(
        mut self,
        device: ProbeReport,
        declared: Option<DeclaredCamera>,
    ) -> Session {
        self.device = Some(device);
        if let (true, Some(ledger)) = (self.cfg.live_capture, self.ledger.as_mut()) {
            ledger.set_stream(StreamMonitor::new(declared));
        }
        self
    }

    /// The device report (if any) and the stream heuristics (`None`: not a live capture, or
    /// the ledger's work was lost), summarised for the policy.
    fn security_evidence(&self, stream: Option<&StreamMonitor>) -> SecurityEvidence {
        let stream = stream.map(|s| s.assess().report()).unwrap_or_default();
        let report = match &self.device {
            Some(d) => d.merged(&stream),
            None => stream,
        };
        SecurityEvidence::from_probes(&report.signals, &report.categories_covered)
    }

    /// The policy this session decides with (taken when it started).
    pub fn policy(&self) -> &Arc<LoadedPolicy> {
        &self.policy
    }

    fn passive_done(&self) -> bool {
        self.offpath.plan().frames() * self.cfg.passive_stride >= self.cfg.passive_frames
    }

    fn challenge_done(&self) -> bool {
        self.challenge
            .as_ref()
            .is_none_or(|c| c.outcome().is_some())
    }

    /// Consumes one camera frame. Errors: a malformed frame or a pipeline failure on it
    /// (the session goes on with the next frame).
    pub fn push_frame(&mut self, frame: &Frame<'_>) -> Result<FrameFeedback, SessionError> {
        if self.finished {
            return Err(SessionError::Finished);
        }
        // The ledger hashes the frame beside the frame's processing, and records it once the
        // frame is consumed (`ledger`).
        let consumed = self.frames;
        let mut ledger = self.ledger.take();
        let (feedback, digest) = match ledger.as_mut() {
            Some(l) => l.digest_beside(frame, || self.process(frame)),
            None => (self.process(frame), None),
        };
        if let (true, Some(l)) = (self.frames > consumed, ledger.as_mut()) {
            l.record(frame, digest);
        }
        self.ledger = ledger;
        feedback
    }

    /// `push_frame` without the ledger.
    fn process(&mut self, frame: &Frame<'_>) -> Result<FrameFeedback, SessionError> {
        let t = Instant::now();
        self.rgb_ready = false;
        self.tracker.process(frame)?;
        self.timings.tracking_ms += ms_since(t);
        let analysis = self.tracker.last_analysis();
        self.frames += 1;
        let ts = analysis.timestamp_ns;
        self.first_ts.get_or_insert(ts);
        self.last_ts = ts;
        let (w, h) = (analysis.width.max(1) as f32, analysis.height.max(1) as f32);
        let hints = analysis.hints;
        for hint in hints.iter() {
            self.hint_counts[hint.priority() as usize] += 1;
        }
        let face = analysis.faces.first();
        let usable = face.is_some_and(|f| f.quality.passed);
        let face_box = face.map(|f| {
            let b = crate::geometry::Rect::bounding(f.landmarks.iter().map(|p| p.xy()))
                .unwrap_or(f.detection.bbox);
            [b.x_min / w, b.y_min / h, b.x_max / w, b.y_max / h]
        });
        if let Some(f) = face {
            self.frames_with_face += 1;
            if let Some(img) = f.quality.checks.as_ref().and_then(|c| c.image.as_ref()) {
                self.sharpness.push(img.sharpness.value);
                self.luma.push(img.mean_luma.value);
            }
            self.face_px
                .push(f.detection.bbox.width().max(f.detection.bbox.height()));
        }
        // What the worker does with this frame (every consumed frame also goes to the ledger:
        // the running frame hash, `SessionResult::frames_sha256`, and the stream heuristics).
        let mut work = FrameWork::default();
        // Passive window: every `passive_stride`-th usable frame (the window decides which
        // signals each one feeds).
        if let (true, Some(f)) = (usable, face) {
            self.usable += 1;
            work.passive = self.offpath.admit().map(|u| (u, f.detection.bbox));
        }
        // Challenge: every frame once it started (its own baseline and quality pauses). An
        // error is returned after the frame went to the worker: the frame was consumed.
        let t = Instant::now();
        let pushed = match self.challenge.as_mut() {
            Some(c) if c.outcome().is_none() => {
                // Off the path, the challenge reads the frame in place (the eye models);
                // inline, its turn and continuity work need the whole image.
                let update = if self.cfg.off_path {
                    c.push(analysis, *frame).map_err(SessionError::from)
                } else {
                    upright(frame, &mut self.rgb, &mut self.rgb_ready)
                        .and_then(|rgb| c.push(analysis, rgb).map_err(SessionError::from))
                };
                work.embed = c.take_continuity_request();
                let turn = c.take_turn_requests();
                work.turn_reset = turn.reset;
                work.turn = turn.keep.filter(|_| face.is_some());
                Some(update)
            }
            _ => None,
        };
        let mut challenge_ms = ms_since(t);
        let landmarks = face
            .filter(|_| work.passive.is_some() || work.turn.is_some())
            .map(|f| &f.landmarks);
        self.offpath.frame(frame, work, landmarks);
        // Template match: a few good frames, spread over the capture.
        if let (true, Some(f), Some(e)) = (usable, face, self.embedder.as_mut()) {
            if (self.usable - 1).is_multiple_of(self.cfg.match_every)
                && (self.similarities.len() as u32) < self.cfg.match_samples
            {
                let t = Instant::now();
                let rgb = upright(frame, &mut self.rgb, &mut self.rgb_ready)?;
                let sample = five_points_from_mesh(&f.landmarks).and_then(|pts| e.embed(rgb, &pts));
                match (sample, &self.params.template) {
                    (Ok(emb), Some(tpl)) => match tpl.similarity(&emb) {
                        Ok(s) => self.similarities.push(s),
                        Err(err) => self.match_error = Some(err.to_string()),
                    },
                    (Err(err), _) => {
                        log::debug!("match sample skipped: {err}");
                    }
                    (Ok(_), None) => {}
                }
                self.timings.matching_ms += ms_since(t);
            }
        }
        let mut prompt = UserPrompt::None;
        let mut challenge_progress = 1.0;
        let (mut step_index, mut step_count) = (0u32, 0u32);
        if let Some(c) = self.challenge.as_mut() {
            if let Some(update) = pushed {
                let mut update = update?;
                // The turn's end waits for its score (the worker's CPU is counted at finish).
                if update.awaiting_parallax {
                    let report = self.offpath.score_turn();
                    let t = Instant::now();
                    update = c.resolve_turn(&report)?;
                    challenge_ms += ms_since(t);
                }
                self.timings.challenge_ms += challenge_ms;
                prompt = match update.prompt {
                    Prompt::HoldStill => UserPrompt::HoldStill,
                    Prompt::Do(a) => UserPrompt::from(a),
                    Prompt::Done => UserPrompt::None,
                };
                challenge_progress = update.progress;
            }
            let runner = c.runner();
            step_count = runner.plan().steps.len() as u32;
            step_index = if c.outcome().is_some() {
                step_count
            } else {
                (runner.step_index() as u32).min(step_count)
            };
        }
        let passive_progress = ((self.offpath.plan().frames() * self.cfg.passive_stride) as f32
            / self.cfg.passive_frames as f32)
            .min(1.0);
        let phase = if self.passive_done() && self.challenge_done() {
            Phase::Done
        } else if self.usable == 0 {
            Phase::Positioning
        } else if self.challenge.is_some() && !self.challenge_done() {
            Phase::Challenge
        } else {
            Phase::Passive
        };
        if phase == Phase::Passive && prompt == UserPrompt::None {
            prompt = UserPrompt::HoldStill;
        }
        let progress = if self.challenge.is_some() {
            0.3 * passive_progress + 0.7 * challenge_progress
        } else {
            passive_progress
        };
        Ok(FrameFeedback {
            phase,
            prompt,
            hints,
            progress,
            step_index,
            step_count,
            face_box,
            target_oval: self.cfg.target_oval,
            used: usable,
        })
    }

    /// Ends the capture early: the result is retry (`capture_incomplete`), with what was
    /// measured so far.
    pub fn cancel(self) -> SessionResult {
        self.conclude(Some("cancelled by the app"))
    }

    /// Decides: passive scoring, calibration, fusion, policy, audit record.
    pub fn finish(self) -> SessionResult {
        self.conclude(None)
    }

    fn conclude(mut self, cancelled: Option<&str>) -> SessionResult {
        self.finished = true;
        let t = Instant::now();
        let worker = self.offpath.finish();
        let ledger = self.ledger.take().and_then(Ledger::finish);
        let (report, face_changed) = match (worker, &ledger) {
            // Without the ledger, the frame hash and the stream heuristics are lost: nothing
            // may pass on what is left, so the passive evidence goes with them.
            (_, None) => (PassiveReport::unavailable(ledger::LEDGER_FAILED), None),
            (Some(r), Some(_)) => {
                self.timings.passive_ms += r.passive_ms;
                self.timings.challenge_ms += r.challenge_ms;
                (r.passive, r.face_changed)
            }
            (None, Some(_)) => (PassiveReport::unavailable(offpath::WORKER_FAILED), None),
        };
        let (frame_chain, stream) = match ledger {
            Some(l) => (Some(l.frame_chain), l.stream),
            None => (None, None),
        };
        let p = &self.policy.policy;
        // Evidence.
        let signals: Vec<SignalEvidence> = [
            (SignalId::Depth, &report.depth),
            (SignalId::Fft, &report.fft),
            (SignalId::Reflection, &report.reflection),
            (SignalId::Parallax, &report.parallax),
            (SignalId::Texture, &report.texture),
        ]
        .into_iter()
        .map(|(signal, r): (SignalId, &SignalReport)| SignalEvidence {
            signal,
            model: r.model.clone(),
            raw: r.score.filter(|_| r.available),
            reason: r.reason.clone(),
        })
        .collect();
        let challenge = match (&self.challenge, cancelled) {
            // A cancel is never a pass, however much was measured: the capture is incomplete
            // (retry, `capture_incomplete`); the signals measured so far stay in the result.
            (_, Some(why)) => ChallengeEvidence::Incomplete {
                detail: why.to_string(),
            },
            (None, None) => ChallengeEvidence::NotRequired,
            (Some(c), None) => match c.outcome() {
                Some(o) => challenge_evidence(o),
                None => ChallengeEvidence::Incomplete {
                    detail: alloc::format!(
                        "the capture ended at step {} of {} of the challenge",
                        c.runner().step_index() + 1,
                        c.runner().plan().steps.len()
                    ),
                },
            },
        };
        // Face continuity ran off the frame path: a break it found (only ever on frames
        // before the challenge ended) fails the challenge, whatever the runner concluded.
        let challenge = match (&self.challenge, face_changed) {
            (Some(c), Some((ts, why))) => ChallengeEvidence::Failed {
                failure: ChallengeFailure::FaceChanged,
                detail: alloc::format!("face changed: {why}"),
                completed: c
                    .runner()
                    .steps()
                    .iter()
                    .filter(|s| s.passed && s.ended_ns <= ts)
                    .count() as u32,
            },
            _ => challenge,
        };
        let face_match = self.match_evidence();
        let mut hints: Vec<(Hint, u32)> = Hint::ALL
            .into_iter()
            .zip(self.hint_counts)
            .filter(|&(_, n)| n > 0)
            .collect();
        hints.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        let quality = QualitySummary {
            frames: self.frames,
            frames_with_face: self.frames_with_face,
            usable_frames: self.usable,
            ok: self.usable >= p.quality.min_usable_frames,
            top_hints: hints
                .iter()
                .take(3)
                .map(|(h, _)| h.as_str().to_string())
                .collect(),
            sharpness_median: median(&self.sharpness),
            brightness_median: median(&self.luma),
            face_px_median: median(&self.face_px),
        };
        let evidence = Evidence {
            signals,
            quality,
            challenge,
            face_match,
            // Device probes (when the host ran them) and the stream heuristics.
            security: self.security_evidence(stream.as_ref()),
        };
        // Calibration: each available signal's raw score to an LLR with the policy's bundle.
        let calibrated: Vec<CalibratedSignal> = evidence
            .signals
            .iter()
            .map(|s| {
                let model = (!s.model.is_empty()).then_some(s.model.as_str());
                let (llr, reason) = match s.raw {
                    None => (None, s.reason.clone()),
                    Some(raw) => {
                        match self
                            .calibration
                            .bundle
                            .llr(s.signal.as_str(), model, raw as f64)
                        {
                            Ok(l) => (Some(l), String::new()),
                            Err(e) => (None, alloc::format!("not calibrated: {e}")),
                        }
                    }
                };
                CalibratedSignal {
                    signal: s.signal,
                    model: s.model.clone(),
                    raw: s.raw,
                    llr,
                    reason,
                }
            })
            .collect();
        let ctx = DecisionContext {
            flow: self.params.flow,
            tier: self.params.tier,
            consecutive_failures: self.params.consecutive_failures,
        };
        let decision = decide(p, &ctx, &evidence, &calibrated);
        self.timings.finish_ms = ms_since(t);
        self.timings.frames = self.frames;
        self.timings.capture_ms = self
            .first_ts
            .map(|f| self.last_ts.saturating_sub(f) as f64 / 1e6)
            .unwrap_or(0.0);
        let challenge_steps = self
            .challenge
            .as_ref()
            .map(|c| step_timings(c.runner().steps(), self.first_ts.unwrap_or(0)))
            .unwrap_or_default();
        SessionResult::assemble(ResultContext {
            policy: p,
            policy_sha256: &self.policy.sha256,
            calibration_sha256: &self.calibration.sha256,
            ctx,
            request_id: &self.params.request_id,
            session_id: &self.params.session_id,
            attempt: self.params.attempt,
            capture_device: &self.params.capture_device,
            platform: alloc::format!("{}/{}", std::env::consts::OS, std::env::consts::ARCH),
            models: self.models.used.clone(),
            challenge_steps,
            // Empty when the ledger's work was lost (a frame's digest, or a `push_frame` that
            // panicked; the passive evidence is then unavailable too).
            frames_sha256: frame_chain.map(hex::encode).unwrap_or_default(),
            timings: self.timings,
            evidence,
            decision,
        })
    }

    fn match_evidence(&self) -> MatchEvidence {
        if self.params.template.is_none() {
            return MatchEvidence::NotRequested;
        }
        if let Some(why) = &self.match_error {
            return MatchEvidence::Unavailable {
                reason: why.clone(),
            };
        }
        if self.similarities.is_empty() {
            return MatchEvidence::Unavailable {
                reason: "no usable frame could be embedded".into(),
            };
        }
        let Some(req) = self.policy.policy.face_match.get(&self.match_model) else {
            return MatchEvidence::Unavailable {
                reason: alloc::format!(
                    "the policy has no match thresholds for model `{}`",
                    self.match_model
                ),
            };
        };
        let similarity = self.similarities.iter().sum::<f32>() / self.similarities.len() as f32;
        let band = match MatchThresholds::new(req.match_at, req.no_match_below) {
            Ok(t) => match t.band(similarity) {
                crate::matching::Band::Match => MatchBand::Match,
                crate::matching::Band::Uncertain => MatchBand::Uncertain,
                crate::matching::Band::NoMatch => MatchBand::NoMatch,
            },
            Err(e) => {
                return MatchEvidence::Unavailable {
                    reason: e.to_string(),
                }
            }
        };
        MatchEvidence::Compared {
            similarity,
            band,
            model: self.match_model.clone(),
        }
    }
}

/// One link of the running frame hash: `SHA-256(previous ‖ timestamp_ns (u64 LE) ‖
/// content digest)`, starting from 32 zero bytes. A server given the frames (an audit
/// upload) recomputes it with [`Frame::content_sha256`].
pub fn chain_frame(previous: &[u8; 32], timestamp_ns: u64, content: &[u8; 32]) -> [u8; 32] {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(previous);
    h.update(timestamp_ns.to_le_bytes());
    h.update(content);
    h.finalize().into()
}

/// The challenge steps as performed, times relative to the session's first frame.
fn step_timings(steps: &[StepOutcome], first_ts: u64) -> Vec<StepTiming> {
    let ms = |ns: u64| (ns.saturating_sub(first_ts) / 1_000_000).min(u32::MAX as u64) as u32;
    steps
        .iter()
        .map(|s| StepTiming {
            action: s.action.as_str().to_string(),
            passed: s.passed,
            started_ms: ms(s.started_ns),
            ended_ms: ms(s.ended_ns),
            active_ms: s.active_ms.clamp(0.0, u32::MAX as f64) as u32,
        })
        .collect()
}

/// The challenge outcome as evidence.
fn challenge_evidence(o: &ChallengeOutcome) -> ChallengeEvidence {
    if o.passed {
        let first = o.steps.first().map(|s| s.started_ns).unwrap_or(0);
        let last = o.steps.last().map(|s| s.ended_ns).unwrap_or(first);
        ChallengeEvidence::Passed {
            steps: o
                .steps
                .iter()
                .map(|s| s.action.as_str().to_string())
                .collect(),
            duration_ms: (last.saturating_sub(first) / 1_000_000) as u32,
        }
    } else {
        ChallengeEvidence::Failed {
            failure: o.failure.unwrap_or(ChallengeFailure::Other),
            detail: o.reason.clone(),
            completed: o.steps.iter().filter(|s| s.passed).count() as u32,
        }
    }
}

/// Name and sha256 of an engine model (override first, else the embedded manifest).
#[cfg(feature = "ort")]
fn engine_model(cfg: &EngineConfig, name: &str) -> Result<ModelUsed, crate::error::Error> {
    if let Some(o) = cfg.overrides.iter().find(|o| o.name == name) {
        return Ok(ModelUsed {
            name: o.name.clone(),
            sha256: o.sha256.clone(),
        });
    }
    let manifest = crate::models::Manifest::embedded()?;
    let spec = manifest.model(name)?;
    Ok(ModelUsed {
        name: spec.name.clone(),
        sha256: spec.sha256.clone(),
    })
}
