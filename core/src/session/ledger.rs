//! [`Ledger`]: what needs every frame the session consumes: the frame's content digest, the
//! running frame hash (`SessionResult::frames_sha256`) and the stream injection heuristics
//! (`core::security::stream`).
//!
//! The digest (SHA-256 of the whole camera buffer, the ledger's only heavy part) is computed
//! on a helper thread **in the caller's buffer** while the frame thread tracks the face
//! ([`liveproof_join::Helper`]: no copy of the frame, no allocation per frame). Once the frame
//! is known to be consumed (tracking succeeded), the frame thread adds the digest to the chain
//! and runs the stream heuristics (a 64-block luma grid read in place). A frame the tracker
//! rejected is in neither, as before. Without the helper (`threaded` false, or no thread could
//! start) the digest is computed inline.

use liveproof_join::Helper;

use crate::frame::Frame;
use crate::security::stream::StreamMonitor;

/// Why the signals are unavailable when the ledger's work (the frame hash) was lost.
pub(super) const LEDGER_FAILED: &str = "the session's ledger failed (no frame hash)";

pub(super) struct Ledger {
    /// The running frame hash ([`super::chain_frame`]).
    frame_chain: [u8; 32],
    /// The stream heuristics (`None`: not a live capture).
    stream: Option<StreamMonitor>,
    /// Computes each frame's digest beside the frame thread's work.
    helper: Option<Helper>,
    /// A frame's digest was lost (the helper's hashing panicked): the chain is incomplete.
    lost: bool,
}

/// What the ledger kept, for `finish()`.
pub(super) struct LedgerReport {
    /// The running frame hash over every frame.
    pub frame_chain: [u8; 32],
    /// The stream heuristics (`None`: not a live capture).
    pub stream: Option<StreamMonitor>,
}

impl Ledger {
    /// `stream`: the stream heuristics, for a live capture.
    pub fn start(stream: Option<StreamMonitor>, threaded: bool) -> Ledger {
        let helper = if threaded {
            Helper::start("liveproof-ledger")
                .map_err(|e| log::warn!("ledger thread not started ({e}); hashing inline"))
                .ok()
        } else {
            None
        };
        Ledger {
            frame_chain: [0; 32],
            stream,
            helper,
            lost: false,
        }
    }

    /// Runs `work` (the frame's processing) on this thread while `frame`'s content digest is
    /// computed beside it. The digest is `None` when its computation panicked.
    pub fn digest_beside<R>(
        &mut self,
        frame: &Frame<'_>,
        work: impl FnOnce() -> R,
    ) -> (R, Option<[u8; 32]>) {
        match self.helper.as_mut() {
            Some(h) => {
                let (r, digest) = h.join(work, || frame.content_sha256());
                (r, digest.ok())
            }
            None => {
                let r = work();
                (r, Some(frame.content_sha256()))
            }
        }
    }

    /// Adds a consumed frame, with its digest from [`Ledger::digest_beside`], to the frame
    /// hash and the stream heuristics.
    pub fn record(&mut self, frame: &Frame<'_>, digest: Option<[u8; 32]>) {
        let Some(digest) = digest else {
            if !self.lost {
                log::error!("session ledger: a frame's digest was lost; the frame hash is void");
            }
            self.lost = true;
            return;
        };
        self.frame_chain = super::chain_frame(&self.frame_chain, frame.timestamp_ns(), &digest);
        if let Some(stream) = self.stream.as_mut() {
            stream.observe(frame, &digest);
        }
    }

    /// Replaces the stream monitor (`Session::with_security`, before the first frame).
    pub fn set_stream(&mut self, monitor: StreamMonitor) {
        self.stream = Some(monitor);
    }

    /// What the ledger kept; `None` when a frame's digest was lost.
    pub fn finish(self) -> Option<LedgerReport> {
        (!self.lost).then_some(LedgerReport {
            frame_chain: self.frame_chain,
            stream: self.stream,
        })
    }
}
