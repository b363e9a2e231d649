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
//! The frame copies are reused: the worker hands each copy back when done with it (a bounded
//! return queue), and `push_frame` copies the next frame into a returned buffer, so that a
//! session in its steady state allocates no image per frame and its memory stays flat.
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
/// Returned copies kept for reuse: at least as many as can be out at once (the queue, the
/// worker's job, the one being filled), so that none is dropped in a steady state.
const POOL: usize = QUEUE + 2;

/// A frame's image (and landmarks) copied for the worker; handed back for reuse.
#[derive(Default)]
struct FrameCopy {
    rgb: RgbImage,
    landmarks: Option<Landmarks>,
}

impl FrameCopy {
    /// Copies into this copy's own buffers (no allocation once they have the frame's size).
    fn fill(&mut self, rgb: &RgbImage, landmarks: Option<&Landmarks>) {
        self.rgb.width = rgb.width;
        self.rgb.height = rgb.height;
        self.rgb.data.clear();
        self.rgb.data.extend_from_slice(&rgb.data);
        match (landmarks, self.landmarks.as_mut()) {
            (Some(src), Some(dst)) => dst.clone_from(src),
            (src, _) => self.landmarks = src.cloned(),
        }
    }
}

enum Job {
    Passive {
        u: FrameUse,
        copy: FrameCopy,
        bbox: Rect,
        timestamp_ns: u64,
    },
    Embed {
        copy: FrameCopy,
        points: FivePoints,
        timestamp_ns: u64,
    },
    TurnReset,
    TurnFrame {
        halve: bool,
        copy: FrameCopy,
        timestamp_ns: u64,
    },
    /// Score the turn's frames, forget them, and answer (on the worker's reply queue).
    ScoreTurn,
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
    /// Where used frame copies go back to the frame thread.
    returns: SyncSender<FrameCopy>,
    /// Where a turn's score goes (threaded mode).
    turn_reply: Option<SyncSender<SignalReport>>,
}

impl Worker {
    fn run(&mut self, job: Job) {
        match job {
            Job::Passive {
                u,
                copy,
                bbox,
                timestamp_ns,
            } => {
                if let Some(landmarks) = copy.landmarks.as_ref() {
                    let t = Instant::now();
                    // A frame a signal cannot use adds nothing to it; the signal reports why
                    // if it ends up unavailable.
                    if let Err(e) = self
                        .window
                        .process(u, &copy.rgb, landmarks, bbox, timestamp_ns)
                    {
                        log::debug!("passive window: frame at {timestamp_ns} ns skipped: {e}");
                    }
                    self.passive_ms += super::ms_since(t);
                }
                self.give_back(copy);
            }
            Job::Embed {
                copy,
                points,
                timestamp_ns,
            } => {
                self.embed(&copy.rgb, &points, timestamp_ns);
                self.give_back(copy);
            }
            Job::TurnReset => {
                if let Some(r) = self.turn.as_mut() {
                    r.clear();
                }
            }
            Job::TurnFrame {
                halve,
                copy,
                timestamp_ns,
            } => {
                if let (Some(r), Some(landmarks)) = (self.turn.as_mut(), copy.landmarks.as_ref()) {
                    let t = Instant::now();
                    if let Err(e) = r.offer_admitted(halve, |cfg| {
                        parallax::frame_features_with_image(&copy.rgb, landmarks, timestamp_ns, cfg)
                    }) {
                        log::debug!("turn parallax: frame at {timestamp_ns} ns skipped: {e}");
                    }
                    self.challenge_ms += super::ms_since(t);
                }
                self.give_back(copy);
            }
            Job::ScoreTurn => {
                let report = self.score_turn();
                if let Some(reply) = &self.turn_reply {
                    let _ = reply.send(report);
                }
            }
        }
    }

    /// Hands a copy back for reuse (dropped if the pool is full or the session is gone).
    fn give_back(&self, copy: FrameCopy) {
        let _ = self.returns.try_send(copy);
    }

    fn embed(&mut self, rgb: &RgbImage, points: &FivePoints, timestamp_ns: u64) {
        let (Some(c), None) = (self.continuity.as_mut(), &self.face_changed) else {
            return;
        };
        let t = Instant::now();
        match c
            .embedder
            .embed(rgb, points)
            .and_then(|e| c.check.check(&e))
        {
            Ok(Some(why)) => self.face_changed = Some((timestamp_ns, why)),
            Ok(None) => {}
            Err(e) => log::debug!("face continuity: frame at {timestamp_ns} ns skipped: {e}"),
        }
        self.challenge_ms += super::ms_since(t);
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
    /// Frame copies the worker is done with, for reuse.
    returned: Receiver<FrameCopy>,
    /// A turn's score from the worker thread (one queue for the whole session).
    turn_answer: Option<Receiver<SignalReport>>,
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
        let (returns, returned) = sync_channel::<FrameCopy>(POOL);
        let (turn_reply, turn_answer) = if threaded {
            let (tx, rx) = sync_channel::<SignalReport>(1);
            (Some(tx), Some(rx))
        } else {
            (None, None)
        };
        let worker = Worker {
            window,
            continuity,
            turn,
            face_changed: None,
            passive_ms: 0.0,
            challenge_ms: 0.0,
            returns,
            turn_reply,
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
                            return OffPath {
                                mode: None,
                                plan,
                                returned,
                                turn_answer,
                            };
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
            returned,
            turn_answer,
        }
    }

    /// A copy of `rgb` (and `landmarks`) in a buffer the worker handed back, or a new one
    /// while the pool is still growing.
    fn copy(&mut self, rgb: &RgbImage, landmarks: Option<&Landmarks>) -> FrameCopy {
        let mut copy = self.returned.try_recv().unwrap_or_default();
        copy.fill(rgb, landmarks);
        copy
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
        let copy = self.copy(rgb, Some(&face.landmarks));
        self.send(Job::Passive {
            u,
            copy,
            bbox: face.detection.bbox,
            timestamp_ns,
        });
    }

    /// Hands a frame to face continuity.
    pub fn embed(&mut self, rgb: &RgbImage, points: FivePoints, timestamp_ns: u64) {
        let copy = self.copy(rgb, None);
        self.send(Job::Embed {
            copy,
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
        let copy = self.copy(rgb, Some(&face.landmarks));
        self.send(Job::TurnFrame {
            halve,
            copy,
            timestamp_ns,
        });
    }

    /// Scores the turn's frames (waiting for the frames queued before), then forgets them.
    pub fn score_turn(&mut self) -> SignalReport {
        let lost = || SignalReport::unavailable(WORKER_FAILED);
        match self.mode.as_mut() {
            Some(Mode::Thread { tx, .. }) => {
                let Some(answer) = self.turn_answer.as_ref() else {
                    return lost();
                };
                if tx.send(Job::ScoreTurn).is_err() {
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
