//! [`OffPath`]: the session's work off the frame path, on a thread of its own.
//!
//! **The worker** ([`Worker`], thread `liveproof-session`) gets the frames a stage asked for
//! (a [`WindowPlan`], the challenge's continuity and turn requests; [`FrameWork`]) as copies:
//! it converts each to the upright RGB image once and runs the passive window's signals
//! (texture CNNs, FFT, reflection, parallax features and fits, depth), face continuity's
//! embeddings and a turn's parallax features. Its work is heavy and bursty. (What needs every
//! frame, the frame hash and the stream heuristics, is the ledger's: `super::ledger`.)
//!
//! The worker processes its jobs in arrival order, so the results are the same as inline. A
//! turn's end waits for its score; `finish()` waits for the queue to drain. The queue is
//! bounded: a worker that falls behind makes `push_frame` wait rather than grow the memory.
//!
//! The frame copies are reused: the worker hands its copies back when done with them (a
//! bounded return queue), and `push_frame` copies the next frame into a returned buffer, so
//! that a session in its steady state allocates no image per frame and its memory stays flat.
//!
//! If the thread cannot be started, the work runs inline on the caller's thread.

use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Instant;

use alloc::boxed::Box;
use alloc::string::String;

use super::window::{PassiveWindow, WindowPlan};
use crate::frame::{Frame, FrameBuf, RgbImage};
use crate::geometry::Rect;
use crate::matching::{Embedder, FaceContinuity, FivePoints};
use crate::mesh::Landmarks;
use crate::passive::analyzer::{FrameUse, PassiveReport};
use crate::passive::{parallax, SignalReport};

/// Why a signal is unavailable when the worker's work was lost.
pub(super) const WORKER_FAILED: &str = "the session's worker thread failed";

/// Jobs the worker's queue holds before `push_frame` waits (frame jobs carry a copy each):
/// room for the frames that arrive during a long job (an embedding, a depth inference).
const WORKER_QUEUE: usize = 6;

/// Returned copies a lane keeps for reuse: at least as many as can be out at once (its
/// queue, its job, the one being filled), so that none is dropped in a steady state.
const fn pool(queue: usize) -> usize {
    queue + 2
}

/// What a lane runs: one job at a time, in arrival order.
trait Handler: Send + 'static {
    type Job: Send + 'static;
    fn run(&mut self, job: Self::Job);
}

enum Mode<H: Handler> {
    Thread {
        tx: SyncSender<H::Job>,
        handle: JoinHandle<Option<H>>,
    },
    Inline(Box<H>),
}

/// Lowers the calling thread's priority: a lane's work is background work, and when the cores
/// are busy the frame thread, which the user is waiting on, should go first (nice ≈ 9 on
/// Linux and Android, near Android's `THREAD_PRIORITY_BACKGROUND`; a lower pthread priority on
/// Apple platforms). Best effort: lowering one's own priority needs no privilege, and a refusal
/// only costs the frame thread some latency, so it is logged, not returned.
fn background_priority() {
    use thread_priority::{set_current_thread_priority, ThreadPriority};
    let Ok(low) = 25u8.try_into() else {
        return;
    };
    if let Err(e) = set_current_thread_priority(ThreadPriority::Crossplatform(low)) {
        log::debug!("off-path thread priority not lowered: {e:?}");
    }
}

/// A handler on a thread of its own behind a bounded queue, or inline when `threaded` is
/// false or the thread cannot start.
struct Lane<H: Handler> {
    /// `None` once finished (or lost).
    mode: Option<Mode<H>>,
}

impl<H: Handler> Lane<H> {
    fn start(handler: H, threaded: bool, name: &str, queue: usize) -> Lane<H> {
        if !threaded {
            return Lane {
                mode: Some(Mode::Inline(Box::new(handler))),
            };
        }
        let (tx, rx) = sync_channel::<H::Job>(queue);
        // The handler moves into the thread through this slot, so that it can be taken back
        // for inline use if the thread cannot start.
        let slot = Arc::new(Mutex::new(Some(handler)));
        let theirs = slot.clone();
        let mode = match std::thread::Builder::new()
            .name(name.into())
            .spawn(move || {
                background_priority();
                let mut h = theirs.lock().ok()?.take()?;
                for job in rx {
                    h.run(job);
                }
                Some(h)
            }) {
            Ok(handle) => Some(Mode::Thread { tx, handle }),
            Err(e) => {
                log::warn!("{name} thread not started ({e}); working inline");
                slot.lock()
                    .ok()
                    .and_then(|mut s| s.take())
                    .map(|h| Mode::Inline(Box::new(h)))
            }
        };
        Lane { mode }
    }

    /// Queues `job` (waits while the queue is full), or runs it inline. `false`: the thread
    /// ended (it panicked) or the lane is finished, and the job was dropped.
    fn send(&mut self, job: H::Job) -> bool {
        match self.mode.as_mut() {
            Some(Mode::Thread { tx, .. }) => tx.send(job).is_ok(),
            Some(Mode::Inline(h)) => {
                h.run(job);
                true
            }
            None => false,
        }
    }

    /// The handler, when it runs inline (jobs can then borrow instead of copying).
    fn inline_mut(&mut self) -> Option<&mut H> {
        match self.mode.as_mut() {
            Some(Mode::Inline(h)) => Some(h),
            _ => None,
        }
    }

    /// Waits for the queue to drain and hands the handler back. `None`: the work was lost
    /// (the thread panicked, or the lane was finished before).
    fn finish(&mut self) -> Option<H> {
        match self.mode.take()? {
            Mode::Inline(h) => Some(*h),
            Mode::Thread { tx, handle } => {
                drop(tx);
                handle.join().ok().flatten()
            }
        }
    }
}

impl<H: Handler> Drop for Lane<H> {
    fn drop(&mut self) {
        // Dropped without finish(): close the queue; the thread ends after the jobs already
        // queued, without blocking the caller.
        if let Some(Mode::Thread { tx, .. }) = self.mode.take() {
            drop(tx);
        }
    }
}

/// A frame copied for the worker (with its face's landmarks when a stage needs them), and
/// the buffer its upright image is converted into; handed back for reuse.
#[derive(Default)]
struct FrameCopy {
    frame: FrameBuf,
    rgb: RgbImage,
    landmarks: Option<Landmarks>,
}

/// What the worker does with a frame, decided by `push_frame`.
#[derive(Clone, Debug, Default)]
pub(super) struct FrameWork {
    /// The passive window admitted it (what for), with the face's box.
    pub passive: Option<(FrameUse, Rect)>,
    /// Face continuity asked for an embedding at these points.
    pub embed: Option<FivePoints>,
    /// The challenge started a new turn: forget the previous turn's frames first.
    pub turn_reset: bool,
    /// The turn admitted it (`Some(halve)`).
    pub turn: Option<bool>,
}

impl FrameWork {
    /// Whether a stage needs the frame (its upright image and the landmarks).
    fn needs_frame(&self) -> bool {
        self.passive.is_some() || self.embed.is_some() || self.turn.is_some()
    }
}

enum Job {
    Frame {
        copy: FrameCopy,
        work: FrameWork,
    },
    /// Forget the previous turn's frames.
    TurnReset,
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

impl Handler for Worker {
    type Job = Job;

    fn run(&mut self, job: Job) {
        match job {
            Job::Frame { mut copy, work } => {
                self.frame(&mut copy, &work);
                // Dropped if the pool is full or the session is gone.
                let _ = self.returns.try_send(copy);
            }
            Job::TurnReset => {
                if let Some(r) = self.turn.as_mut() {
                    r.clear();
                }
            }
            Job::ScoreTurn => {
                let report = self.score_turn();
                if let Some(reply) = &self.turn_reply {
                    let _ = reply.send(report);
                }
            }
        }
    }
}

impl Worker {
    /// The frame's stages, on its upright image (converted once for them).
    fn frame(&mut self, copy: &mut FrameCopy, work: &FrameWork) {
        let FrameCopy {
            frame,
            rgb,
            landmarks,
        } = copy;
        let Some(frame) = frame.frame() else {
            return;
        };
        let ts = frame.timestamp_ns();
        if let Err(e) = frame.to_rgb_into(rgb) {
            // `FrameBuf` holds a validated frame; a failure here is a bug, logged, and the
            // signals it would have fed report what they lack.
            log::error!("session worker: frame at {ts} ns not converted: {e}");
            return;
        }
        if let (Some((u, bbox)), Some(landmarks)) = (work.passive, landmarks.as_ref()) {
            let t = Instant::now();
            // A frame a signal cannot use adds nothing to it; the signal reports why if it
            // ends up unavailable.
            if let Err(e) = self.window.process(u, rgb, landmarks, bbox, ts) {
                log::debug!("passive window: frame at {ts} ns skipped: {e}");
            }
            self.passive_ms += super::ms_since(t);
        }
        if let Some(points) = &work.embed {
            self.embed(rgb, points, ts);
        }
        if let (Some(halve), Some(r), Some(landmarks)) =
            (work.turn, self.turn.as_mut(), landmarks.as_ref())
        {
            let t = Instant::now();
            if let Err(e) = r.offer_admitted(halve, |cfg| {
                parallax::frame_features_with_image(rgb, landmarks, ts, cfg)
            }) {
                log::debug!("turn parallax: frame at {ts} ns skipped: {e}");
            }
            self.challenge_ms += super::ms_since(t);
        }
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

/// The session's off-path work (see the module docs).
pub(super) struct OffPath {
    worker: Lane<Worker>,
    plan: WindowPlan,
    /// Copies the worker is done with, for reuse.
    worker_returned: Receiver<FrameCopy>,
    /// A turn's score from the worker thread (one queue for the whole session).
    turn_answer: Option<Receiver<SignalReport>>,
}

impl OffPath {
    /// Starts the worker (inline when `threaded` is false or the thread cannot start).
    pub fn start(
        window: PassiveWindow,
        continuity: Option<ContinuityCheck>,
        turn: Option<parallax::Reservoir>,
        threaded: bool,
    ) -> OffPath {
        let plan = window.plan();
        let (returns, worker_returned) = sync_channel::<FrameCopy>(pool(WORKER_QUEUE));
        let (turn_reply, turn_answer) = if threaded {
            let (tx, rx) = sync_channel::<SignalReport>(1);
            (Some(tx), Some(rx))
        } else {
            (None, None)
        };
        let worker = Lane::start(
            Worker {
                window,
                continuity,
                turn,
                face_changed: None,
                passive_ms: 0.0,
                challenge_ms: 0.0,
                returns,
                turn_reply,
            },
            threaded,
            "liveproof-session",
            WORKER_QUEUE,
        );
        OffPath {
            worker,
            plan,
            worker_returned,
            turn_answer,
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

    /// Hands a frame over when `work` asks for it: a copy with the face's `landmarks` to the
    /// worker, in a buffer the worker handed back, or a new one while the pool still grows.
    pub fn frame(&mut self, frame: &Frame<'_>, work: FrameWork, landmarks: Option<&Landmarks>) {
        if work.turn_reset {
            self.send(Job::TurnReset);
        }
        if work.needs_frame() {
            let mut copy = self.worker_returned.try_recv().unwrap_or_default();
            copy.frame.copy_from(frame);
            // The worker reads the landmarks only for the stages that come with them
            // (passive, turn), so a copy without new ones keeps its buffer for reuse.
            match (landmarks, copy.landmarks.as_mut()) {
                (Some(src), Some(dst)) => dst.clone_from(src),
                (Some(src), None) => copy.landmarks = Some(src.clone()),
                (None, _) => {}
            }
            self.send(Job::Frame { copy, work });
        }
    }

    fn send(&mut self, job: Job) {
        if !self.worker.send(job) {
            // The worker ended (it panicked): what it had is reported at finish.
            log::warn!("session worker stopped; the frame's off-path work is skipped");
        }
    }

    /// Scores the turn's frames (waiting for the frames queued before), then forgets them.
    pub fn score_turn(&mut self) -> SignalReport {
        let lost = || SignalReport::unavailable(WORKER_FAILED);
        if let Some(w) = self.worker.inline_mut() {
            return w.score_turn();
        }
        let Some(answer) = self.turn_answer.as_ref() else {
            return lost();
        };
        if !self.worker.send(Job::ScoreTurn) {
            return lost();
        }
        answer.recv().unwrap_or_else(|_| lost())
    }

    /// Waits for the queue to drain and reports. `None` when the work was lost (the thread
    /// panicked).
    pub fn finish(&mut self) -> Option<OffPathReport> {
        let worker = self.worker.finish();
        if worker.is_none() {
            log::error!("session worker panicked; its signals are unavailable");
        }
        worker.map(|w| w.report(self.plan))
    }
}
