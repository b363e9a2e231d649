//! [`PassiveWindow`]: the frames a session's passive signals see, at a bounded cost per frame.
//!
//! Every `passive_stride`-th usable frame enters the window. Of those:
//! - the per-frame signals (texture CNNs, FFT, reflection, depth: a model run or an FFT each)
//!   score `passive_scored_frames` of them, spread evenly over the hold-still phase (the
//!   first `passive_frames` usable frames, where the quality gate passed a frontal, still,
//!   sharp face); each signal's score is its usual aggregate over those frames;
//! - parallax keeps up to `parallax_frames` of the hold-still phase's window frames
//!   ([`parallax::Reservoir`]: decimated by two when full), fitting each kept frame against
//!   the first as it arrives, so `report()` fits only the pairs against the middle and last.
//!   Only the hold-still phase: over a whole challenge (a smile, a 30–40° turn) the fit read
//!   a real 3D head as planar (raw 0.023 on the demo's bona fide capture, LLR −10), and the
//!   calibration set has no challenge frames. A turn's own parallax is the challenge's.
//!
//! The calibration tools build the same window with this type (a bundle is fitted on the
//! scores sessions calibrate).

use std::sync::Arc;

use super::{SessionConfig, SessionError};
use crate::frame::RgbImage;
use crate::geometry::Rect;
use crate::mesh::Landmarks;
use crate::passive::analyzer::{FrameUse, PassiveAnalyzer, PassiveModels, PassiveReport};
use crate::passive::parallax;

/// Which window frames feed which signals: the counting half of [`PassiveWindow`], plain
/// data, so that a session can decide on the caller's thread which frames to hand to the
/// window running off it ([`PassiveWindow::admit`]).
#[derive(Clone, Copy, Debug)]
pub struct WindowPlan {
    stride: u32,
    /// Window frames in the hold-still phase, and how many of them the per-frame signals score.
    phase_frames: u32,
    scored_frames: u32,
    usable: u32,
    frames: u32,
    scored: u32,
}

impl WindowPlan {
    /// Whether window frame `i` (0-based) is one the per-frame signals score: `k` of the
    /// hold-still phase's `n` frames, evenly spread (Bresenham: `i·k mod n < k`).
    fn scores(&self, i: u32) -> bool {
        let (n, k) = (self.phase_frames, self.scored_frames);
        i < n && (i as u64 * k as u64 % n as u64) < k as u64
    }

    /// Counts one usable frame and says what the window does with it: `None` when nothing
    /// (not a `passive_stride`-th frame, or past the hold-still phase).
    pub fn admit(&mut self) -> Option<FrameUse> {
        let u = self.usable;
        self.usable += 1;
        if !u.is_multiple_of(self.stride) {
            return None;
        }
        let i = self.frames;
        self.frames += 1;
        let per_frame = self.scores(i);
        if per_frame {
            self.scored += 1;
        }
        let parallax = i < self.phase_frames;
        (per_frame || parallax).then_some(FrameUse {
            parallax,
            per_frame,
        })
    }

    /// Frames that entered the window (every `passive_stride`-th usable frame).
    pub fn frames(&self) -> u32 {
        self.frames
    }

    /// Frames the per-frame signals scored (or were handed to score).
    pub fn scored(&self) -> u32 {
        self.scored
    }
}

/// The passive window of one capture.
pub struct PassiveWindow {
    analyzer: PassiveAnalyzer,
    parallax: parallax::Reservoir,
    plan: WindowPlan,
}

impl std::fmt::Debug for PassiveWindow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PassiveWindow")
            .field("frames", &self.plan.frames)
            .field("scored", &self.plan.scored)
            .field("parallax_frames", &self.parallax.len())
            .finish()
    }
}

impl PassiveWindow {
    /// Errors: the passive settings are invalid, `passive_stride` or `passive_frames` is 0,
    /// `passive_scored_frames` is 0 or above the analyzer's `max_window`, or
    /// `parallax_frames` is outside the parallax `min_frames..=1000`.
    pub fn new(
        models: Arc<PassiveModels>,
        cfg: &SessionConfig,
    ) -> Result<PassiveWindow, SessionError> {
        if cfg.passive_stride == 0 || cfg.passive_frames == 0 {
            return Err(SessionError::InvalidParams(
                "passive_stride and passive_frames must be ≥ 1".into(),
            ));
        }
        if cfg.passive_scored_frames == 0
            || cfg.passive_scored_frames as usize > cfg.passive.max_window
        {
            return Err(SessionError::InvalidParams(alloc::format!(
                "passive_scored_frames {} must be in 1..={} (the passive max_window)",
                cfg.passive_scored_frames,
                cfg.passive.max_window
            )));
        }
        let analyzer = PassiveAnalyzer::new(models, cfg.passive.clone())?;
        let parallax =
            parallax::Reservoir::new(cfg.passive.parallax.clone(), cfg.parallax_frames as usize)
                .map_err(|e| SessionError::InvalidParams(e.to_string()))?;
        let phase_frames = cfg.passive_frames.div_ceil(cfg.passive_stride);
        Ok(PassiveWindow {
            analyzer,
            parallax,
            plan: WindowPlan {
                stride: cfg.passive_stride,
                phase_frames,
                scored_frames: cfg.passive_scored_frames.min(phase_frames),
                usable: 0,
                frames: 0,
                scored: 0,
            },
        })
    }

    /// The window's frame plan (a copy: a session counts on it while the window itself
    /// works off the caller's thread).
    pub fn plan(&self) -> WindowPlan {
        self.plan
    }

    /// Takes the plan a session counted on the caller's thread, before [`Self::report`].
    pub fn adopt(&mut self, plan: WindowPlan) {
        self.plan = plan;
    }

    /// One usable frame (a face that passed the quality gate): its upright RGB image, its 468
    /// landmarks (image pixels), box and timestamp. Errors: malformed input (the frame adds
    /// nothing to the signals that failed).
    pub fn offer(
        &mut self,
        rgb: &RgbImage,
        landmarks: &Landmarks,
        bbox: Rect,
        timestamp_ns: u64,
    ) -> crate::Result<()> {
        match self.plan.admit() {
            Some(u) => self.process(u, rgb, landmarks, bbox, timestamp_ns),
            None => Ok(()),
        }
    }

    /// Runs the signals `u` names on a frame that [`WindowPlan::admit`] admitted (on a copy
    /// of this window's plan; [`Self::offer`] does both).
    pub fn process(
        &mut self,
        u: FrameUse,
        rgb: &RgbImage,
        landmarks: &Landmarks,
        bbox: Rect,
        timestamp_ns: u64,
    ) -> crate::Result<()> {
        if u.per_frame {
            self.analyzer.push_for(
                rgb,
                landmarks,
                bbox,
                timestamp_ns,
                FrameUse {
                    parallax: false,
                    per_frame: true,
                },
            )?;
        }
        if u.parallax {
            self.parallax.offer(|cfg| {
                parallax::frame_features_with_image(rgb, landmarks, timestamp_ns, cfg)
            })?;
        }
        Ok(())
    }

    /// Frames that entered the window (every `passive_stride`-th usable frame).
    pub fn frames(&self) -> u32 {
        self.plan.frames
    }

    /// Frames the per-frame signals scored so far.
    pub fn scored(&self) -> u32 {
        self.plan.scored
    }

    /// Scores every signal: the per-frame signals over their scored frames, parallax over
    /// its kept frames (the pairs not fitted yet are fitted now).
    pub fn report(&mut self) -> PassiveReport {
        let mut r = self.analyzer.report();
        r.parallax = self.parallax.score();
        r.frames = self.plan.frames as usize;
        r.frames_with_face = self.plan.frames as usize;
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn window(frames: u32, stride: u32, scored: u32) -> PassiveWindow {
        let cfg = SessionConfig {
            passive_frames: frames,
            passive_stride: stride,
            passive_scored_frames: scored,
            ..SessionConfig::default()
        };
        PassiveWindow::new(Arc::new(PassiveModels::none()), &cfg).unwrap()
    }

    #[test]
    fn scored_frames_spread_evenly_over_the_hold_still_phase() {
        // 30 usable frames at stride 2: 15 window frames, 6 of them scored.
        let w = window(30, 2, 6);
        let picked: Vec<u32> = (0..40).filter(|&i| w.plan.scores(i)).collect();
        assert_eq!(picked, vec![0, 3, 5, 8, 10, 13]);
        // Asking for more than the phase has scores every frame of it, and no later one.
        let w = window(10, 2, 8);
        let picked: Vec<u32> = (0..20).filter(|&i| w.plan.scores(i)).collect();
        assert_eq!(picked, (0..5).collect::<Vec<_>>());
    }

    #[test]
    fn settings_out_of_range_are_typed_errors() {
        for cfg in [
            SessionConfig {
                passive_scored_frames: 0,
                ..SessionConfig::default()
            },
            SessionConfig {
                passive_scored_frames: 1000,
                ..SessionConfig::default()
            },
            SessionConfig {
                parallax_frames: 1,
                ..SessionConfig::default()
            },
        ] {
            let e = PassiveWindow::new(Arc::new(PassiveModels::none()), &cfg).unwrap_err();
            assert!(matches!(e, SessionError::InvalidParams(_)), "{e}");
        }
    }
}
