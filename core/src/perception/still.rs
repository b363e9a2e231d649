//! [`StillAnalyzer`]: still images from many threads at once over one engine.

use std::sync::Arc;

use super::{Engine, FrameAnalysis, Tracker};
use crate::error::Result;
use crate::frame::Frame;

/// Still-image analysis from many threads at once: a small pool of trackers over one engine,
/// so concurrent calls each get their own buffers (they wait on each other only inside ONNX
/// Runtime, one inference per model at a time) and steady use allocates no new trackers.
/// This is what the C ABI's `lp_engine_analyze_frame` and UniFFI's `analyze_frame` run.
#[derive(Debug)]
pub struct StillAnalyzer {
    engine: Arc<Engine>,
    idle: std::sync::Mutex<Vec<Tracker>>,
}

impl StillAnalyzer {
    /// Idle trackers kept for reuse (each holds about 1.5 MB of buffers at 640×480).
    pub const MAX_IDLE: usize = 4;

    pub fn new(engine: Arc<Engine>) -> StillAnalyzer {
        StillAnalyzer {
            engine,
            idle: std::sync::Mutex::new(Vec::new()),
        }
    }

    pub fn engine(&self) -> &Arc<Engine> {
        &self.engine
    }

    /// Analyses a still image (see [`Tracker::analyze_still`]) and hands the result to `f`
    /// while the pooled tracker's buffers still hold it.
    pub fn analyze<R>(&self, frame: &Frame<'_>, f: impl FnOnce(&FrameAnalysis) -> R) -> Result<R> {
        let taken = self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop();
        let mut tracker = taken.unwrap_or_else(|| Tracker::new(self.engine.clone()));
        let result = tracker.analyze_still(frame).map(f);
        // A tracker whose call failed is dropped, not pooled: nothing it held can reach the
        // next caller.
        if result.is_ok() {
            let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
            if idle.len() < Self::MAX_IDLE {
                idle.push(tracker);
            }
        }
        result
    }
}
