//! [`OffPath`]: the session's heavy work, on a thread of its own.
//!
//! The passive window's signals (texture CNNs, FFT, reflection, parallax features and fits)
//! and face continuity's embeddings are needed only when the session decides; a turn's
//! parallax (features and fits of the turn's frames) only when the turn ends. `push_frame`
//! decides on the caller's thread which frames they need (a [`WindowPlan`], the challenge's
//! continuity and turn requests), copies those frames' images, and hands them over; one
//! worker thread per session processes them in arrival order, so the results are the same
//! as inline. A turn's end waits for its score; `finish()` waits for the queue to drain. The
//! queue is bounded: a worker that falls behind makes `push_frame` wait rather than grow the
//! memory.
//!
//! If the thread cannot be started, the same work runs inline on the caller's thread.

use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Instant;

use alloc::string::String;

use super::window::{PassiveWindow, WindowPlan};
use crate::frame::RgbImage;
use crate::geometry::Rect;
use crate::matching::{Embedder, FaceContinuity, FivePoints};
use crate::mesh::Landmarks;
use crate::passive::analyzer::{FrameUse, PassiveReport};
use crate::passive::{parallax, SignalReport};
use crate::perception::FaceAnalysis;

/// Why a signal is unavailable when the worker's work was lost.
pub(super) const WORKER_FAILED: &str = "the session's worker thread failed";

/// Frames the queue holds before `push_frame` waits (each a copy of one upright image).
const QUEUE: usize = 6;

enum Job {
    Passive {
        u: FrameUse,
        rgb: RgbImage,
        landmarks: Landmarks,
        bbox: Rect,
        timestamp_ns: u64,
    },
    Embed {
        rgb: RgbImage,
        points: FivePoints,
        timestamp_ns: u64,
    },
    TurnReset,
    TurnFrame {
        halve: bool,
        rgb: RgbImage,
        landmarks: Landmarks,
        timestamp_ns: u64,
    },
    /// Score the turn's frames, forget them, and answer.
    ScoreTurn(SyncSender<SignalReport>),
}

/// Face continuity's state: the embedder and the check against the first face.
pub(super) struct ContinuityCheck {
    pub embedder: Embedder,
    pub check: FaceContinuity,
}

/// What the off-path work found, for `finish()`.
pub(super) struct OffPathReport {
    pub passive: PassiveReport,
    /// The first continuity break: its timestamp and why.
    pub face_changed: Option<(u64, String)>,
    /// CPU time of the passive signals, and of the challenge's work (continuity
    /// embeddings, turn parallax), milliseconds.
    pub passive_ms: f64,
    pub challenge_ms: f64,
}

struct Worker {
    window: PassiveWindow,
    continuity: Option<ContinuityCheck>,
    turn: Option<parallax::Reservoir>,
    face_changed: Option<(u64, String)>,
    passive_ms: f64,
    challenge_ms: f64,
}

impl Worker {
    fn run(&mut self, job: Job) {
        match job {
            Job::Passive {
                u,
                rgb,
                landmarks,
                bbox,
                timestamp_ns,
            } => {
                let t = Instant::now();
                // A frame a signal cannot use adds nothing to it; the signal reports why
                // if it ends up unavailable.
                if let Err(e) = self.window.process(u, &rgb, &landmarks, bbox, timestamp_ns) {
                    log::debug!("passive window: frame at {timestamp_ns} ns skipped: {e}");
                }
                self.passive_ms += super::ms_since(t);
            }
            Job::Embed {
                rgb,
                points,
                timestamp_ns,
            } => {
                let (Some(c), None) = (self.continuity.as_mut(), &self.face_changed) else {
                    return;
                };
                let t = Instant::now();
                match c
                    .embedder
                    .embed(&rgb, &points)
                    .and_then(|e| c.check.check(&e))
                {
                    Ok(Some(why)) => self.face_changed = Some((timestamp_ns, why)),
                    Ok(None) => {}
                    Err(e) => {
                        log::debug!("face continuity: frame at {timestamp_ns} ns skipped: {e}")
                    }
                }
                self.challenge_ms += super::ms_since(t);
            }
            Job::TurnReset => {
                if let Some(r) = self.turn.as_mut() {
                    r.clear();
                }
            }
            Job::TurnFrame {
                halve,
                rgb,
                landmarks,
                timestamp_ns,
            } => {
                let Some(r) = self.turn.as_mut() else {
                    return;
                };
                let t = Instant::now();
                if let Err(e) = r.offer_admitted(halve, |cfg| {
                    parallax::frame_features_with_image(&rgb, &landmarks, timestamp_ns, cfg)
                }) {
                    log::debug!("turn parallax: frame at {timestamp_ns} ns skipped: {e}");
                }
                self.challenge_ms += super::ms_since(t);
            }
            Job::ScoreTurn(reply) => {
                let _ = reply.send(self.score_turn());
            }
        }
    }

    fn score_turn(&mut self) -> SignalReport {
        let t = Instant::now();
        let report = match self.turn.as_mut() {
            Some(r) => {
                let report = r.score();
                r.clear();
                report
            }
            None => SignalReport::unavailable("no turn parallax reservoir"),
        };
        self.challenge_ms += super::ms_since(t);
        report
    }

    fn report(mut self, plan: WindowPlan) -> OffPathReport {
        let t = Instant::now();
        self.window.adopt(plan);
        let passive = self.window.report();
        OffPathReport {
            passive,
            face_changed: self.face_changed,
            passive_ms: self.passive_ms + super::ms_since(t),
            challenge_ms: self.challenge_ms,
        }
    }
}

enum Mode {
    Thread {
        tx: SyncSender<Job>,
        handle: JoinHandle<Option<Worker>>,
    },
    Inline(Box<Worker>),
}

/// The session's off-path work (see the module docs).
pub(super) struct OffPath {
    /// `None` once finished.
    mode: Option<Mode>,
    plan: WindowPlan,
}

impl OffPath {
    /// Starts the worker thread (inline when `threaded` is false or the thread cannot start).
    pub fn start(
        window: PassiveWindow,
        continuity: Option<ContinuityCheck>,
        turn: Option<parallax::Reservoir>,
        threaded: bool,
    ) -> OffPath {
        let plan = window.plan();
        let worker = Worker {
            window,
            continuity,
            turn,
            face_changed: None,
            passive_ms: 0.0,
            challenge_ms: 0.0,
        };
        let mode = if threaded {
            let (tx, rx) = sync_channel::<Job>(QUEUE);
            // The worker moves into the thread through this slot, so that it can be taken
            // back for inline use if the thread cannot start.
            let slot = Arc::new(Mutex::new(Some(worker)));
            let theirs = slot.clone();
            match std::thread::Builder::new()
                .name("liveproof-session".into())
                .spawn(move || work(&theirs, rx))
            {
                Ok(handle) => Mode::Thread { tx, handle },
                Err(e) => {
                    log::warn!("session worker thread not started ({e}); working inline");
                    match slot.lock().ok().and_then(|mut s| s.take()) {
                        Some(w) => Mode::Inline(Box::new(w)),
                        None => {
                            return OffPath { mode: None, plan };
                        }
                    }
                }
            }
        } else {
            Mode::Inline(Box::new(worker))
        };
        OffPath {
            mode: Some(mode),
            plan,
        }
    }

    /// Counts a usable frame in the window's plan; what the window will do with it.
    pub fn admit(&mut self) -> Option<FrameUse> {
        self.plan.admit()
    }

    /// The window's counts (on the caller's thread).
    pub fn plan(&self) -> &WindowPlan {
        &self.plan
    }

    fn send(&mut self, job: Job) {
        let sent = match self.mode.as_mut() {
            Some(Mode::Thread { tx, .. }) => tx.send(job).is_ok(),
            Some(Mode::Inline(w)) => {
                w.run(job);
                true
            }
            None => true,
        };
        if !sent {
            // The worker ended (it panicked): what it had is reported at finish.
            log::warn!("session worker stopped; the frame's off-path work is skipped");
        }
    }

    /// Hands a frame the window admitted (`u`), with its face, to the passive signals.
    pub fn passive(&mut self, u: FrameUse, rgb: &RgbImage, face: &FaceAnalysis, timestamp_ns: u64) {
        self.send(Job::Passive {
            u,
            rgb: rgb.clone(),
            landmarks: face.landmarks.clone(),
            bbox: face.detection.bbox,
            timestamp_ns,
        });
    }

    /// Hands a frame to face continuity.
    pub fn embed(&mut self, rgb: &RgbImage, points: FivePoints, timestamp_ns: u64) {
        self.send(Job::Embed {
            rgb: rgb.clone(),
            points,
            timestamp_ns,
        });
    }

    /// Forgets the turn's frames.
    pub fn turn_reset(&mut self) {
        self.send(Job::TurnReset);
    }

    /// Keeps a turn frame the challenge admitted (with its `halve`).
    pub fn turn_frame(
        &mut self,
        halve: bool,
        rgb: &RgbImage,
        face: &FaceAnalysis,
        timestamp_ns: u64,
    ) {
        self.send(Job::TurnFrame {
            halve,
            rgb: rgb.clone(),
            landmarks: face.landmarks.clone(),
            timestamp_ns,
        });
    }

    /// Scores the turn's frames (waiting for the frames queued before), then forgets them.
    pub fn score_turn(&mut self) -> SignalReport {
        let lost = || SignalReport::unavailable(WORKER_FAILED);
        match self.mode.as_mut() {
            Some(Mode::Thread { tx, .. }) => {
                let (reply, answer) = sync_channel(1);
                if tx.send(Job::ScoreTurn(reply)).is_err() {
                    return lost();
                }
                answer.recv().unwrap_or_else(|_| lost())
            }
            Some(Mode::Inline(w)) => w.score_turn(),
            None => lost(),
        }
    }

    /// Waits for the queue to drain and reports. `None`: the work was lost (the worker
    /// thread could not start or panicked).
    pub fn finish(&mut self) -> Option<OffPathReport> {
        let worker = match self.mode.take()? {
            Mode::Inline(w) => *w,
            Mode::Thread { tx, handle } => {
                drop(tx);
                match handle.join() {
                    Ok(Some(w)) => w,
                    Ok(None) | Err(_) => {
                        log::error!("session worker panicked; its signals are unavailable");
                        return None;
                    }
                }
            }
        };
        Some(worker.report(self.plan))
    }
}

fn work(slot: &Mutex<Option<Worker>>, jobs: Receiver<Job>) -> Option<Worker> {
    let mut w = slot.lock().ok()?.take()?;
    for job in jobs {
        w.run(job);
    }
    Some(w)
}

impl Drop for OffPath {
    fn drop(&mut self) {
        // A session dropped without finish(): close the queue; the worker ends after the
        // frames already queued (at most QUEUE), without blocking the caller.
        if let Some(Mode::Thread { tx, .. }) = self.mode.take() {
            drop(tx);
        }
    }
}
