//! Landmark motion between consecutive frames, per frame and over a short history.
//!
//! Motion is the median, over the pose-fit landmarks (rigid face points, no eyelids), of each
//! landmark's image-plane displacement, divided by the inter-ocular distance in pixels. The
//! median ignores a few badly tracked points; the magnitude (not the median vector) also sees
//! a turn or tilt in place. Dividing by the inter-ocular distance makes it independent of the
//! face size; dividing by time (over a window of frames) makes it independent of the frame rate.

use super::pose::{NUM_POSE_POINTS, POSE_LANDMARKS};
use super::QualityError;
use crate::math;
use crate::mesh::Landmarks;

/// Median 2D displacement of the pose landmarks from `previous` to `current`, in units of
/// `interocular_px`. A non-positive or non-finite
/// `interocular_px` gives `DegenerateLandmarks`.
pub fn landmark_motion(
    previous: &Landmarks,
    current: &Landmarks,
    interocular_px: f32,
) -> Result<f32, QualityError> {
    if !(interocular_px.is_finite() && interocular_px > 0.0) {
        return Err(QualityError::DegenerateLandmarks(
            "inter-ocular distance is not positive",
        ));
    }
    let mut d = [0.0f32; NUM_POSE_POINTS];
    for (o, &i) in d.iter_mut().zip(POSE_LANDMARKS.iter()) {
        *o = previous[i].xy().dist(current[i].xy());
    }
    let med = math::median_in_place(&mut d).ok_or(QualityError::DegenerateLandmarks(
        "landmark displacement is not finite",
    ))?;
    Ok(med / interocular_px)
}

/// Capacity of the motion history (frames); at 60 fps this still covers half a second.
const HISTORY: usize = 32;

/// The last few `(dt, motion)` samples, newest last, in a fixed ring (no allocation).
#[derive(Clone, Debug)]
pub struct MotionHistory {
    dt: [f32; HISTORY],
    motion: [f32; HISTORY],
    /// Index of the next write.
    head: usize,
    len: usize,
}

impl Default for MotionHistory {
    fn default() -> Self {
        Self {
            dt: [0.0; HISTORY],
            motion: [0.0; HISTORY],
            head: 0,
            len: 0,
        }
    }
}

impl MotionHistory {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn clear(&mut self) {
        self.head = 0;
        self.len = 0;
    }
    pub fn len(&self) -> usize {
        self.len
    }
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
    /// Adds one frame: `dt_s` seconds since the previous frame, `motion` in inter-ocular
    /// distances over that time.
    pub fn push(&mut self, dt_s: f32, motion: f32) {
        self.dt[self.head] = dt_s;
        self.motion[self.head] = motion;
        self.head = (self.head + 1) % HISTORY;
        self.len = (self.len + 1).min(HISTORY);
    }
    /// Speed over the newest samples covering `window_s` seconds (the newest always counts):
    /// total motion / total time, inter-ocular distances per second. 0 when empty.
    pub fn speed(&self, window_s: f32) -> f32 {
        let (mut t, mut m) = (0.0f32, 0.0f32);
        for k in 0..self.len {
            let i = (self.head + HISTORY - 1 - k) % HISTORY;
            if k > 0 && t >= window_s {
                break;
            }
            t += self.dt[i];
            m += self.motion[i];
        }
        if t > 0.0 {
            m / t
        } else {
            0.0
        }
    }
}
