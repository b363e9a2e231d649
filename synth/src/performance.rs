//! What the synthetic subject does: a script of timed events (blinks, smiles, head-pose
//! keyframes) plus smooth random idle motion drawn from the seed.
//!
//! Head-pose angles are degrees in LiveProof's convention (`liveproof_core::quality::HeadPose`):
//! yaw + = the subject turns to their left, pitch + = chin up, roll + = head tilts towards the
//! subject's left shoulder. They are **relative to the photo's own pose** (the warp rotates the
//! face seen in the photo); the capture metadata records the photo's measured pose.

use serde::{Deserialize, Serialize};

use crate::error::{Result, SynthError};
use crate::rng::Rng;

/// Largest head-pose target accepted, degrees: one photo cannot show more of the head.
pub const MAX_POSE_DEG: f64 = 45.0;

/// One scripted action.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Action {
    /// Both eyes close and reopen over the event's duration: closing in the first 30%, fully
    /// closed for the next 25%, reopening in the last 45% (human blinks: 100–400 ms in all).
    Blink,
    /// Mouth corners move outward and up (cheeks follow), `intensity` in (0, 1]; ramps up and
    /// down over min(0.35 s, 30% of the duration) each and holds in between.
    Smile { intensity: f64 },
    /// Head pose keyframe: from the pose at `start_s` to these angles (degrees, relative to the
    /// photo) over `duration_s` with a smooth ease-in-out, then held until the next keyframe.
    HeadPose {
        yaw_deg: f64,
        pitch_deg: f64,
        roll_deg: f64,
    },
}

/// A timed action. Times in seconds from the first frame.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub start_s: f64,
    pub duration_s: f64,
    #[serde(flatten)]
    pub action: Action,
}

impl Event {
    /// A blink at `start_s` lasting `duration_s` (0.3 s is typical).
    pub fn blink(start_s: f64, duration_s: f64) -> Event {
        Event {
            start_s,
            duration_s,
            action: Action::Blink,
        }
    }
    /// A smile of full intensity.
    pub fn smile(start_s: f64, duration_s: f64) -> Event {
        Event {
            start_s,
            duration_s,
            action: Action::Smile { intensity: 1.0 },
        }
    }
    /// A head-pose keyframe (degrees, relative to the photo's pose).
    pub fn head_pose(start_s: f64, duration_s: f64, yaw: f64, pitch: f64, roll: f64) -> Event {
        Event {
            start_s,
            duration_s,
            action: Action::HeadPose {
                yaw_deg: yaw,
                pitch_deg: pitch,
                roll_deg: roll,
            },
        }
    }
}

/// The subject's script. An empty script with idle motion is a person holding still.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Performance {
    pub events: Vec<Event>,
}

/// The subject's state at one instant.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PerformanceState {
    /// Scripted head pose (degrees, relative to the photo), idle motion not included.
    pub yaw_deg: f64,
    pub pitch_deg: f64,
    pub roll_deg: f64,
    /// Eyelid closure, 0 = as in the photo, 1 = closed.
    pub eyes_closed: f64,
    /// Smile amount, 0 = as in the photo, 1 = full smile.
    pub smile: f64,
}

/// Smooth ease-in-out on [0, 1] (raised cosine).
fn ease(x: f64) -> f64 {
    let x = x.clamp(0.0, 1.0);
    0.5 - 0.5 * (std::f64::consts::PI * x).cos()
}

impl Performance {
    /// Checks every event: finite times, start ≥ 0, positive duration (head-pose keyframes may
    /// have 0 = jump), smile intensity in (0, 1], |angles| ≤ [`MAX_POSE_DEG`].
    pub fn validate(&self) -> Result<()> {
        for (i, e) in self.events.iter().enumerate() {
            let bad = |msg: String| SynthError::InvalidParam {
                name: "performance",
                message: format!("event {i}: {msg}"),
            };
            if !(e.start_s.is_finite() && e.start_s >= 0.0) {
                return Err(bad(format!(
                    "start_s {} must be finite and ≥ 0 s",
                    e.start_s
                )));
            }
            let min_dur_ok = match e.action {
                Action::HeadPose { .. } => e.duration_s >= 0.0,
                _ => e.duration_s > 0.0,
            };
            if !(e.duration_s.is_finite() && min_dur_ok) {
                return Err(bad(format!(
                    "duration_s {} must be finite and > 0 s (≥ 0 for head_pose)",
                    e.duration_s
                )));
            }
            match e.action {
                Action::Blink => {}
                Action::Smile { intensity } => {
                    if !(intensity > 0.0 && intensity <= 1.0) {
                        return Err(bad(format!(
                            "smile intensity {intensity} must be in (0, 1]"
                        )));
                    }
                }
                Action::HeadPose {
                    yaw_deg,
                    pitch_deg,
                    roll_deg,
                } => {
                    for (name, v) in [("yaw", yaw_deg), ("pitch", pitch_deg), ("roll", roll_deg)] {
                        if !(v.is_finite() && v.abs() <= MAX_POSE_DEG) {
                            return Err(bad(format!(
                                "{name} {v}° must be within ±{MAX_POSE_DEG}° (a photo cannot show more of the head)"
                            )));
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// The scripted state at `t` seconds.
    pub fn state_at(&self, t: f64) -> PerformanceState {
        let mut s = PerformanceState::default();
        // Head pose: keyframes in start order, each from the pose reached at its start.
        let mut keys: Vec<&Event> = self
            .events
            .iter()
            .filter(|e| matches!(e.action, Action::HeadPose { .. }))
            .collect();
        keys.sort_by(|a, b| a.start_s.total_cmp(&b.start_s));
        let mut pose = [0.0f64; 3];
        for e in keys {
            if t < e.start_s {
                break;
            }
            if let Action::HeadPose {
                yaw_deg,
                pitch_deg,
                roll_deg,
            } = e.action
            {
                let k = if e.duration_s <= 0.0 {
                    1.0
                } else {
                    ease((t - e.start_s) / e.duration_s)
                };
                let target = [yaw_deg, pitch_deg, roll_deg];
                for (p, tg) in pose.iter_mut().zip(target) {
                    *p += k * (tg - *p);
                }
            }
        }
        s.yaw_deg = pose[0];
        s.pitch_deg = pose[1];
        s.roll_deg = pose[2];
        for e in &self.events {
            let x = (t - e.start_s) / e.duration_s;
            if !(0.0..=1.0).contains(&x) {
                continue;
            }
            match e.action {
                Action::Blink => {
                    let c = if x < 0.30 {
                        ease(x / 0.30)
                    } else if x < 0.55 {
                        1.0
                    } else {
                        1.0 - ease((x - 0.55) / 0.45)
                    };
                    s.eyes_closed = s.eyes_closed.max(c);
                }
                Action::Smile { intensity } => {
                    let ramp = (0.35 / e.duration_s).min(0.30);
                    let c = if x < ramp {
                        ease(x / ramp)
                    } else if x > 1.0 - ramp {
                        ease((1.0 - x) / ramp)
                    } else {
                        1.0
                    };
                    s.smile = s.smile.max(c * intensity);
                }
                Action::HeadPose { .. } => {}
            }
        }
        s
    }
}

/// A smooth random signal: a sum of sinusoids, peak amplitude `amplitude` for a single
/// component (the sum's RMS is `amplitude / √2`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SineMix {
    pub amplitude: f64,
    /// `(frequency Hz, phase rad, relative weight)`; weights have unit root-sum-square.
    pub components: Vec<(f64, f64, f64)>,
}

impl SineMix {
    /// Draws `n` components with frequencies in `[f_lo, f_hi)` Hz.
    pub fn draw(rng: &mut Rng, amplitude: f64, n: usize, f_lo: f64, f_hi: f64) -> SineMix {
        let mut components: Vec<(f64, f64, f64)> = (0..n)
            .map(|_| {
                let f = rng.log_range(f_lo, f_hi);
                let ph = rng.range(0.0, 2.0 * std::f64::consts::PI);
                let w = rng.range(0.3, 1.0);
                (f, ph, w)
            })
            .collect();
        let norm = components
            .iter()
            .map(|c| c.2 * c.2)
            .sum::<f64>()
            .sqrt()
            .max(1e-12);
        for c in components.iter_mut() {
            c.2 /= norm;
        }
        SineMix {
            amplitude,
            components,
        }
    }

    /// Value at `t` seconds.
    pub fn at(&self, t: f64) -> f64 {
        self.amplitude
            * self
                .components
                .iter()
                .map(|(f, ph, w)| w * (2.0 * std::f64::consts::PI * f * t + ph).sin())
                .sum::<f64>()
    }
}

/// Six-axis rigid motion: rotations in degrees, translations in pixels at the subject's (or
/// the sheet's) depth; `z` is along the optical axis (+ = away from the camera).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RigidMotion {
    pub yaw_deg: SineMix,
    pub pitch_deg: SineMix,
    pub roll_deg: SineMix,
    pub x_px: SineMix,
    pub y_px: SineMix,
    pub z_px: SineMix,
}

/// A rigid pose offset: degrees and pixels.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PoseOffset {
    pub yaw_deg: f64,
    pub pitch_deg: f64,
    pub roll_deg: f64,
    pub x_px: f64,
    pub y_px: f64,
    pub z_px: f64,
}

impl RigidMotion {
    /// Draws the motion: each axis gets `n` sinusoids in `[f_lo, f_hi)` Hz; amplitudes are
    /// drawn uniformly in the given `(lo, hi)` ranges, in the axis order yaw, pitch, roll, x,
    /// y, z.
    pub fn draw(
        rng: &mut Rng,
        amps: [(f64, f64); 6],
        n: usize,
        f_lo: f64,
        f_hi: f64,
    ) -> RigidMotion {
        let mut axis = |(lo, hi): (f64, f64)| {
            let a = rng.range(lo, hi);
            SineMix::draw(rng, a, n, f_lo, f_hi)
        };
        RigidMotion {
            yaw_deg: axis(amps[0]),
            pitch_deg: axis(amps[1]),
            roll_deg: axis(amps[2]),
            x_px: axis(amps[3]),
            y_px: axis(amps[4]),
            z_px: axis(amps[5]),
        }
    }

    pub fn at(&self, t: f64) -> PoseOffset {
        PoseOffset {
            yaw_deg: self.yaw_deg.at(t),
            pitch_deg: self.pitch_deg.at(t),
            roll_deg: self.roll_deg.at(t),
            x_px: self.x_px.at(t),
            y_px: self.y_px.at(t),
            z_px: self.z_px.at(t),
        }
    }
}

impl std::ops::Add for PoseOffset {
    type Output = PoseOffset;
    fn add(self, o: PoseOffset) -> PoseOffset {
        PoseOffset {
            yaw_deg: self.yaw_deg + o.yaw_deg,
            pitch_deg: self.pitch_deg + o.pitch_deg,
            roll_deg: self.roll_deg + o.roll_deg,
            x_px: self.x_px + o.x_px,
            y_px: self.y_px + o.y_px,
            z_px: self.z_px + o.z_px,
        }
    }
}

impl PoseOffset {
    /// Homography from a plane's own coordinates to image pixels when the plane, resting at
    /// `rest` (camera frame, pixels), is moved by this offset (prints and screens).
    pub fn plane_homography(
        &self,
        cam: &crate::geom::Pinhole,
        rest: crate::geom::Vec3,
    ) -> crate::geom::Mat3 {
        let r = crate::geom::Mat3::rotation(self.yaw_deg, self.pitch_deg, self.roll_deg);
        cam.plane_homography(
            &r,
            [
                rest[0] + self.x_px,
                rest[1] + self.y_px,
                rest[2] + self.z_px,
            ],
        )
    }

    pub fn scaled(self, k: f64) -> PoseOffset {
        PoseOffset {
            yaw_deg: k * self.yaw_deg,
            pitch_deg: k * self.pitch_deg,
            roll_deg: k * self.roll_deg,
            x_px: k * self.x_px,
            y_px: k * self.y_px,
            z_px: k * self.z_px,
        }
    }
}

/// Acts out a LiveProof challenge plan at plausible human timings, drawn from `seed`: the
/// first action 1.2–1.6 s in (after the runner's 0.5 s baseline and a reaction time), then
/// each action 0.4–0.9 s after the previous one ends. Turns reach 30–40° of yaw and nods
/// 18–25° of downward pitch (people asked to turn their head turn it well past 20°) (out in 0.45–0.7 s, a 0.1–0.3 s hold, back in 0.45–0.7 s);
/// blinks last 0.15–0.3 s; smiles 0.9–1.4 s. Returns the script and its end time, seconds.
pub fn perform_plan(plan: &liveproof_core::active::ChallengePlan, seed: u64) -> (Performance, f64) {
    use liveproof_core::active::Action as Step;
    let mut rng = crate::rng::Rng::stream(seed, "perform");
    let mut t = rng.range(1.2, 1.6);
    let mut events = Vec::new();
    for step in &plan.steps {
        match step.action {
            Step::Blink => {
                let d = rng.range(0.15, 0.3);
                events.push(Event::blink(t, d));
                t += d;
            }
            Step::Smile => {
                let d = rng.range(0.9, 1.4);
                events.push(Event::smile(t, d));
                t += d;
            }
            Step::TurnLeft | Step::TurnRight | Step::Nod => {
                let amp = match step.action {
                    Step::Nod => rng.range(18.0, 25.0),
                    _ => rng.range(30.0, 40.0),
                };
                let (yaw, pitch) = match step.action {
                    Step::TurnLeft => (amp, 0.0),
                    Step::TurnRight => (-amp, 0.0),
                    _ => (0.0, -amp),
                };
                let out = rng.range(0.45, 0.7);
                let hold = rng.range(0.1, 0.3);
                let back = rng.range(0.45, 0.7);
                events.push(Event::head_pose(t, out, yaw, pitch, 0.0));
                events.push(Event::head_pose(t + out + hold, back, 0.0, 0.0, 0.0));
                t += out + hold + back;
            }
        }
        t += rng.range(0.4, 0.9);
    }
    (Performance { events }, t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keyframes_ease_and_hold() {
        let p = Performance {
            events: vec![
                Event::head_pose(1.0, 1.0, 20.0, 0.0, 0.0),
                Event::head_pose(3.0, 0.5, 0.0, 10.0, 0.0),
            ],
        };
        assert_eq!(p.state_at(0.5).yaw_deg, 0.0);
        assert!((p.state_at(1.5).yaw_deg - 10.0).abs() < 1e-9);
        assert!((p.state_at(2.5).yaw_deg - 20.0).abs() < 1e-9);
        let s = p.state_at(3.25);
        assert!((s.yaw_deg - 10.0).abs() < 1e-9 && (s.pitch_deg - 5.0).abs() < 1e-9);
        let s = p.state_at(9.0);
        assert!(s.yaw_deg.abs() < 1e-9 && (s.pitch_deg - 10.0).abs() < 1e-9);
    }

    #[test]
    fn blink_profile_closes_fully_and_reopens() {
        let p = Performance {
            events: vec![Event::blink(1.0, 0.3)],
        };
        assert_eq!(p.state_at(0.99).eyes_closed, 0.0);
        assert_eq!(p.state_at(1.12).eyes_closed, 1.0);
        assert!(p.state_at(1.25).eyes_closed > 0.3);
        assert_eq!(p.state_at(1.31).eyes_closed, 0.0);
    }

    #[test]
    fn validation_names_the_problem() {
        let p = Performance {
            events: vec![Event::head_pose(0.0, 1.0, 80.0, 0.0, 0.0)],
        };
        let e = p.validate().unwrap_err().to_string();
        assert!(e.contains("yaw 80") && e.contains("45"), "{e}");
        let p = Performance {
            events: vec![Event::blink(-1.0, 0.3)],
        };
        assert!(p.validate().is_err());
    }

    #[test]
    fn script_round_trips_through_json() {
        let p = Performance {
            events: vec![
                Event::blink(1.0, 0.3),
                Event::smile(2.0, 1.5),
                Event::head_pose(0.5, 1.0, 15.0, 0.0, -2.0),
            ],
        };
        let j = serde_json::to_string(&p).unwrap();
        assert!(j.contains("\"type\":\"head_pose\""), "{j}");
        let back: Performance = serde_json::from_str(&j).unwrap();
        assert_eq!(back, p);
    }
}
