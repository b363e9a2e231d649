//! The runner on SYNTHETIC landmark tracks: MediaPipe's canonical 3D face, posed, with
//! eyelids and mouth animated, projected, plus pixel noise, at various frame rates.

use super::*;
use crate::active::observe::observe;
use crate::active::plan::PlanStep;
use crate::geometry::Point3;
use crate::mesh::checked;
use crate::quality::rotation_from_angles;

const CANONICAL_TXT: &str = include_str!("../../quality/testdata/canonical_face_model.txt");

fn canonical() -> Vec<[f32; 3]> {
    CANONICAL_TXT
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let v: Vec<f32> = l.split_whitespace().map(|t| t.parse().unwrap()).collect();
            [v[0], v[1], v[2]]
        })
        .collect()
}

/// The face's state at one instant.
#[derive(Clone, Copy, Default)]
struct Pose {
    yaw: f32,
    pitch: f32,
    /// 0 = eyes open, 1 = closed.
    closure: f32,
    /// 0 = neutral, 1 = full smile.
    smile: f32,
}

struct Noise(u64);
impl Noise {
    fn gauss(&mut self) -> f32 {
        let mut u = || {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            ((self.0 >> 11) as f64 + 0.5) / (1u64 << 53) as f64
        };
        let (a, b) = (u(), u());
        (libm::sqrt(-2.0 * libm::log(a)) * libm::cos(core::f64::consts::TAU * b)) as f32
    }
}

/// Canonical face (cm) posed and projected at ~12 px/cm (IOD ≈ 75 px), with noise.
fn landmarks(model: &[[f32; 3]], p: Pose, noise: &mut Noise, sigma: f32) -> Vec<Point3> {
    let mut m = model.to_vec();
    // Eyelids: the upper-lid EAR points move onto the lower-lid ones.
    for (up, low) in [(160, 144), (158, 153), (385, 380), (387, 373)] {
        let lower = m[low];
        for (u, l) in m[up].iter_mut().zip(lower) {
            *u += p.closure * 0.9 * (l - *u);
        }
    }
    // Smile: mouth corners out and up.
    let half = 0.5 * (m[291][0] - m[61][0]);
    m[61][0] -= p.smile * 0.12 * half;
    m[291][0] += p.smile * 0.12 * half;
    m[61][1] += p.smile * 0.35;
    m[291][1] += p.smile * 0.35;
    let r = rotation_from_angles(p.yaw, p.pitch, 0.0);
    let s = 12.0;
    m.iter()
        .map(|c| {
            let cam = [c[0], -c[1], -c[2]];
            let q: [f32; 3] =
                core::array::from_fn(|k| r[k][0] * cam[0] + r[k][1] * cam[1] + r[k][2] * cam[2]);
            Point3 {
                x: 240.0 + s * q[0] + sigma * noise.gauss(),
                y: 320.0 + s * q[1] + sigma * noise.gauss(),
                z: s * q[2],
            }
        })
        .collect()
}

fn smooth(t: f32, t0: f32, t1: f32) -> f32 {
    // 0 → 1 → 0 bump over [t0, t1].
    if t <= t0 || t >= t1 {
        return 0.0;
    }
    let u = (t - t0) / (t1 - t0);
    libm::sinf(core::f32::consts::PI * u)
}

/// A performance: the pose at time `t` seconds.
type Script = dyn Fn(f32) -> Pose;

struct Track {
    fps: f32,
    seconds: f32,
    /// Every `drop_every`-th frame is missing (0 = none).
    drop_every: usize,
    /// Frames in these time spans have poor quality.
    poor: Vec<(f32, f32)>,
    /// Frames in these spans have no face.
    no_face: Vec<(f32, f32)>,
    /// The parallax score the caller (a `ChallengeCapture`, from the frames) reports for
    /// each performed turn; these landmark-only tracks have no frames to measure it on.
    parallax: f32,
}

impl Track {
    fn at(fps: f32, seconds: f32) -> Track {
        Track {
            fps,
            seconds,
            drop_every: 0,
            poor: vec![],
            no_face: vec![],
            parallax: 0.9,
        }
    }

    fn run(&self, plan: &[Action], script: &Script) -> (ChallengeOutcome, Vec<Update>) {
        let model = canonical();
        let plan = ChallengePlan {
            version: 1,
            steps: plan
                .iter()
                .map(|&action| PlanStep {
                    action,
                    timeout_ms: 4_000,
                })
                .collect(),
        };
        let mut runner = ChallengeRunner::new(plan, RunnerConfig::default()).unwrap();
        let mut noise = Noise(0x2545_F491_4F6C_DD1D);
        let n = (self.seconds * self.fps) as usize;
        let mut updates = Vec::new();
        for i in 0..n {
            if self.drop_every > 0 && i % self.drop_every == self.drop_every - 1 {
                continue;
            }
            let t = i as f32 / self.fps;
            let within = |spans: &[(f32, f32)]| spans.iter().any(|&(a, b)| t >= a && t < b);
            let face = (!within(&self.no_face))
                .then(|| observe(&checked(landmarks(&model, script(t), &mut noise, 0.3))).unwrap());
            let mut u = runner
                .push(&Observation {
                    timestamp_ns: (t as f64 * 1e9) as u64 + 1,
                    face,
                    quality_ok: !within(&self.poor),
                })
                .unwrap();
            if u.awaiting_parallax {
                u = runner
                    .turn_parallax(self.parallax)
                    .unwrap()
                    .expect("resolves the turn");
            }
            let done = u.finished.is_some();
            updates.push(u);
            if done {
                break;
            }
        }
        let out = runner.outcome().cloned().unwrap_or(ChallengeOutcome {
            passed: false,
            failure: None,
            reason: "not finished".into(),
            steps: vec![],
        });
        (out, updates)
    }
}

/// Performs `actions` one after the other, each in a 1.2 s slot after a 1 s neutral start.
fn perform(actions: &'static [Action]) -> impl Fn(f32) -> Pose {
    move |t: f32| {
        let mut p = Pose::default();
        for (k, a) in actions.iter().enumerate() {
            let (t0, t1) = (1.0 + 1.2 * k as f32, 1.0 + 1.2 * k as f32 + 0.9);
            let b = smooth(t, t0, t1);
            match a {
                Action::TurnLeft => p.yaw += 30.0 * b,
                Action::TurnRight => p.yaw -= 30.0 * b,
                Action::Nod => p.pitch -= 20.0 * b,
                Action::Smile => p.smile += (b * 2.0).min(1.0),
                Action::Blink => {
                    // A 200 ms blink in the middle of the slot.
                    let m = t0 + 0.35;
                    p.closure += smooth(t, m, m + 0.2).min(1.0) * 1.5;
                    p.closure = p.closure.min(1.0);
                }
            }
        }
        p
    }
}

#[test]
fn every_action_passes_when_performed() {
    for a in Action::ALL {
        let actions: &'static [Action] = Box::leak(vec![a].into_boxed_slice());
        let (out, _) = Track::at(30.0, 4.0).run(actions, &perform(actions));
        println!(
            "{}: {:?}",
            a.as_str(),
            out.steps.first().map(|s| &s.evidence)
        );
        assert!(out.passed, "{}: {}", a.as_str(), out.reason);
    }
}

#[test]
fn a_full_plan_passes_at_15_30_60_fps_and_with_dropped_frames() {
    const PLAN: &[Action] = &[Action::TurnLeft, Action::Blink, Action::Nod, Action::Smile];
    for fps in [15.0, 30.0, 60.0] {
        for drop_every in [0, 4] {
            let mut track = Track::at(fps, 7.0);
            track.drop_every = drop_every;
            let (out, updates) = track.run(PLAN, &perform(PLAN));
            assert!(out.passed, "{fps} fps, drop {drop_every}: {}", out.reason);
            assert_eq!(out.steps.len(), 4);
            // Steps end in order, and progress reaches 1.
            assert!(out
                .steps
                .windows(2)
                .all(|w| w[0].ended_ns <= w[1].started_ns));
            assert_eq!(updates.last().unwrap().progress, 1.0);
        }
    }
}

#[test]
fn the_wrong_action_first_rejects_the_challenge() {
    const ASKED: &[Action] = &[Action::TurnLeft];
    const DONE: &[Action] = &[Action::TurnRight];
    let (out, _) = Track::at(30.0, 4.0).run(ASKED, &perform(DONE));
    assert!(!out.passed);
    assert!(
        out.reason
            .contains("wrong action: TURN_RIGHT while TURN_LEFT"),
        "{}",
        out.reason
    );
    const NOD: &[Action] = &[Action::Nod];
    let (out, _) = Track::at(30.0, 4.0).run(&[Action::TurnRight], &perform(NOD));
    assert!(out.reason.contains("wrong action: NOD"), "{}", out.reason);
    // A smile held first while a blink is asked (a capture made for another plan).
    const SMILE_FIRST: &[Action] = &[Action::Smile, Action::Blink];
    let (out, _) = Track::at(30.0, 5.0).run(&[Action::Blink, Action::Smile], &perform(SMILE_FIRST));
    assert!(
        out.reason.contains("wrong action: SMILE while BLINK"),
        "{}",
        out.reason
    );
    // Blinks during other steps are natural: a blink before the asked smile is fine.
    const BLINK_FIRST: &[Action] = &[Action::Blink, Action::Smile];
    let (out, _) = Track::at(30.0, 5.0).run(&[Action::Smile], &perform(BLINK_FIRST));
    assert!(out.passed, "{}", out.reason);
}

#[test]
fn a_smile_carried_over_from_a_smile_step_is_not_a_wrong_action() {
    // The performer keeps smiling after the SMILE step (as people relax a smile slowly, and
    // as the synthetic performer did in the demo): the next step's turn still passes.
    const PLAN: &[Action] = &[Action::Smile, Action::TurnLeft];
    let (out, _) = Track::at(30.0, 5.0).run(PLAN, &perform(PLAN));
    assert!(out.passed, "{}", out.reason);
}

#[test]
fn timeouts_fail_and_poor_quality_pauses_the_timer() {
    const NOTHING: &[Action] = &[];
    let (out, _) = Track::at(30.0, 6.0).run(&[Action::Smile], &perform(NOTHING));
    assert!(
        !out.passed && out.reason.contains("timed out after 4000 ms"),
        "{}",
        out.reason
    );
    // The action happens 5.5 s in, after 3 s of poor quality: the step's active time is
    // about 2.5 s < 4 s, so it passes.
    let late = |t: f32| Pose {
        yaw: 30.0 * smooth(t, 5.5, 6.4),
        ..Pose::default()
    };
    let mut track = Track::at(30.0, 7.5);
    track.poor = vec![(1.5, 4.5)];
    let (out, _) = track.run(&[Action::TurnLeft], &late);
    assert!(out.passed, "{}", out.reason);
    assert!(out.steps[0].active_ms < 4_000.0 && out.steps[0].active_ms > 2_000.0);
}

#[test]
fn a_shallow_facemesh_like_blink_counts() {
    // FaceMesh's lids do not close fully: on rendered closed eyes its EAR drops only ~12 %.
    // A 200 ms dip of ~15 % (closure 0.17) still passes; a 5 % flutter (noise) does not.
    let dip = |amp: f32| {
        move |t: f32| Pose {
            closure: amp * smooth(t, 1.5, 1.7).min(1.0),
            ..Pose::default()
        }
    };
    let (out, _) = Track::at(30.0, 4.0).run(&[Action::Blink], &dip(0.17));
    assert!(out.passed, "{}", out.reason);
    println!("shallow blink: {:?}", out.steps[0].evidence);
    let (out, _) = Track::at(30.0, 6.0).run(&[Action::Blink], &dip(0.05));
    assert!(!out.passed, "a 5 % flutter counted as a blink");
}

#[test]
fn a_long_eye_closure_is_not_a_blink() {
    let shut = |t: f32| Pose {
        closure: if (1.5..2.5).contains(&t) { 1.0 } else { 0.0 },
        ..Pose::default()
    };
    let (out, _) = Track::at(30.0, 6.0).run(&[Action::Blink], &shut);
    assert!(
        !out.passed && out.reason.contains("timed out"),
        "{}",
        out.reason
    );
}

#[test]
fn iris_openness_drives_blinks_when_the_eye_state_model_is_absent() {
    // Still landmarks (EAR flat); the iris openness alone dips: 0.2 at rest, 0.02 shut.
    let model = canonical();
    let mut noise = Noise(3);
    let base = observe(&checked(landmarks(
        &model,
        Pose::default(),
        &mut noise,
        0.0,
    )))
    .unwrap();
    let run = |shut: core::ops::Range<f32>, with_prob: bool| {
        let plan = derive_plan_for(&[Action::Blink]);
        let mut r = ChallengeRunner::new(plan, RunnerConfig::default()).unwrap();
        for i in 0..150u64 {
            let t = i as f32 / 30.0;
            let mut f = base;
            f.eye_openness = Some(if shut.contains(&t) { 0.02 } else { 0.2 });
            // An eye-state model that reads open throughout takes precedence.
            f.eyes_closed = with_prob.then_some(0.0);
            let u = r
                .push(&Observation {
                    timestamp_ns: i * 33_333_333 + 1,
                    face: Some(f),
                    quality_ok: true,
                })
                .unwrap();
            if let Some(out) = u.finished {
                return Some(out);
            }
        }
        None
    };
    let out = run(1.0..1.15, false).expect("a 150 ms closure ends the step");
    assert!(out.passed, "{}", out.reason);
    assert_eq!(out.steps[0].evidence["eye_model"], 2.0);
    assert!((out.steps[0].evidence["openness_baseline"] - 0.2).abs() < 1e-6);
    // Shut for 1 s: not a blink; the model's probability, when present, decides.
    assert!(run(1.0..2.0, false).is_none_or(|o| !o.passed));
    assert!(run(1.0..1.15, true).is_none_or(|o| !o.passed));
}

#[test]
fn continuity_breaks_reject_the_challenge() {
    const TURN: &[Action] = &[Action::TurnLeft];
    let mut track = Track::at(30.0, 4.0);
    track.no_face = vec![(1.2, 2.0)];
    let (out, _) = track.run(TURN, &perform(TURN));
    assert!(out.reason.contains("face track lost"), "{}", out.reason);
    // A short gap (dropped frames, 200 ms) is fine.
    let mut track = Track::at(30.0, 4.0);
    track.no_face = vec![(1.2, 1.4)];
    let (out, _) = track.run(TURN, &perform(TURN));
    assert!(out.passed, "{}", out.reason);

    // A jump of the face box, and the face-matching hook.
    let model = canonical();
    let plan = derive_plan_for(&[Action::Smile]);
    let mut r = ChallengeRunner::new(plan.clone(), RunnerConfig::default()).unwrap();
    let mut noise = Noise(7);
    let mut f = observe(&checked(landmarks(
        &model,
        Pose::default(),
        &mut noise,
        0.0,
    )))
    .unwrap();
    let obs = |ts: u64, f: FaceObservation| Observation {
        timestamp_ns: ts,
        face: Some(f),
        quality_ok: true,
    };
    for i in 0..30u64 {
        r.push(&obs(i * 33_000_000 + 1, f)).unwrap();
    }
    f.centre.x += 2.0 * f.iod_px;
    let u = r.push(&obs(31 * 33_000_000, f)).unwrap();
    assert!(u.finished.unwrap().reason.contains("jumped"));
    let mut r = ChallengeRunner::new(plan, RunnerConfig::default()).unwrap();
    r.push(&obs(1, f)).unwrap();
    let out = r.face_changed("embedding similarity 0.21 < 0.40").unwrap();
    assert!(!out.passed && out.reason.contains("face changed"));
    assert_eq!(r.push(&obs(2, f)).unwrap().prompt, Prompt::Done);
}

fn derive_plan_for(actions: &[Action]) -> ChallengePlan {
    ChallengePlan {
        version: 1,
        steps: actions
            .iter()
            .map(|&action| PlanStep {
                action,
                timeout_ms: 4_000,
            })
            .collect(),
    }
}

#[test]
fn a_flat_turn_fails_the_parallax_check_and_bad_input_is_refused() {
    let model = canonical();
    let mut r = ChallengeRunner::new(
        derive_plan_for(&[Action::TurnLeft]),
        RunnerConfig::default(),
    )
    .unwrap();
    let mut noise = Noise(3);
    let script = perform(&[Action::TurnLeft]);
    let mut last = None;
    for i in 0..120u64 {
        let t = i as f32 / 30.0;
        if i == 40 {
            // The caller's passive parallax over the turn's frames says: a plane.
            assert!(r.turn_parallax(0.05).unwrap().is_none());
        }
        let face = observe(&checked(landmarks(&model, script(t), &mut noise, 0.3))).unwrap();
        let u = r
            .push(&Observation {
                timestamp_ns: i * 33_333_333 + 1,
                face: Some(face),
                quality_ok: true,
            })
            .unwrap();
        if let Some(out) = u.finished {
            last = Some(out);
            break;
        }
    }
    let out = last.expect("finished");
    assert!(
        !out.passed && out.reason.contains("flat surface"),
        "{}",
        out.reason
    );
    // Through the awaiting state: a performed turn waits for its score, refuses frames
    // meanwhile, then fails on a flat score, on an unmeasurable one, and passes a 3D one.
    for (score, passes) in [(Some(0.1f32), false), (None, false), (Some(0.8), true)] {
        let mut r = ChallengeRunner::new(
            derive_plan_for(&[Action::TurnLeft]),
            RunnerConfig::default(),
        )
        .unwrap();
        let mut noise = Noise(5);
        let mut end = None;
        for i in 0..120u64 {
            let t = i as f32 / 30.0;
            let face = observe(&checked(landmarks(&model, script(t), &mut noise, 0.3))).unwrap();
            let obs = Observation {
                timestamp_ns: i * 33_333_333 + 1,
                face: Some(face),
                quality_ok: true,
            };
            let u = r.push(&obs).unwrap();
            if u.awaiting_parallax {
                assert!(u.finished.is_none() && u.completed.is_none());
                let again = Observation {
                    timestamp_ns: obs.timestamp_ns + 1,
                    ..obs
                };
                assert!(r.push(&again).is_err(), "frames wait for the score");
                let u = match score {
                    Some(s) => r.turn_parallax(s).unwrap().unwrap(),
                    None => r.turn_parallax_unavailable("too little motion").unwrap(),
                };
                end = u.finished;
                break;
            }
        }
        let out = end.expect("the turn was performed and resolved");
        assert_eq!(out.passed, passes, "{score:?}: {}", out.reason);
        if score.is_none() {
            assert!(
                out.reason.contains("could not be measured"),
                "{}",
                out.reason
            );
        }
        if passes {
            assert_eq!(out.steps[0].evidence["parallax_score"], 0.8f32 as f64);
        }
    }
    assert!(r_nan_is_refused());
    // Timestamps must increase.
    let f = observe(&checked(landmarks(
        &model,
        Pose::default(),
        &mut noise,
        0.0,
    )))
    .unwrap();
    let mut r =
        ChallengeRunner::new(derive_plan_for(&[Action::Nod]), RunnerConfig::default()).unwrap();
    let o = |ts| Observation {
        timestamp_ns: ts,
        face: Some(f),
        quality_ok: true,
    };
    r.push(&o(10)).unwrap();
    assert!(r.push(&o(10)).is_err());
    // Bad configuration and empty plans.
    let bad = RunnerConfig {
        turn_deg: f32::NAN,
        ..RunnerConfig::default()
    };
    assert!(ChallengeRunner::new(derive_plan_for(&[Action::Nod]), bad).is_err());
    assert!(ChallengeRunner::new(derive_plan_for(&[]), RunnerConfig::default()).is_err());
    // Degenerate landmarks (all on one point) are an error from `observe`, not a panic.
    assert!(observe(&checked([Point3::default(); 468])).is_err());
}

/// A non-finite parallax score is refused.
fn r_nan_is_refused() -> bool {
    let mut r = ChallengeRunner::new(
        derive_plan_for(&[Action::TurnLeft]),
        RunnerConfig::default(),
    )
    .unwrap();
    r.turn_parallax(f32::NAN).is_err()
}
