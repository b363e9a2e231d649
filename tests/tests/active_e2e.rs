//! Active liveness end to end on SYNTHETIC captures (issue #5): `liveproof-synth` acts out the
//! challenge plan of a seed on a public-domain photo; every frame goes through the real
//! pipeline (BlazeFace + FaceMesh tracking, quality gate) into `ChallengeRunner`.

use std::sync::Arc;

use liveproof_core::active::{
    derive_plan, observation_from, ChallengeOutcome, ChallengePlan, ChallengeRunner,
    ChallengeSession, PlanPolicy, RunnerConfig,
};
use liveproof_core::engine::{Engine, Tracker};
use liveproof_core::frame::{Frame, PixelFormat};
use liveproof_synth::{perform_plan, Generator, Kind, Params, Source, SourceOptions};
use liveproof_tests::{default_engine, fixture};

const FPS: f64 = 30.0;

fn seed(b: u8) -> [u8; 32] {
    core::array::from_fn(|i| b.wrapping_mul(31).wrapping_add(i as u8))
}

/// Renders `kind` performing `performed` and runs the runner with `asked`.
fn run(
    engine: &Arc<Engine>,
    source: &Source,
    kind: Kind,
    performed: &ChallengePlan,
    asked: &ChallengePlan,
    synth_seed: u64,
) -> ChallengeOutcome {
    let (script, end_s) = perform_plan(performed, synth_seed);
    let mut params = Params::new(kind, synth_seed, ((end_s + 1.5) * FPS) as u32, FPS);
    params.performance = script;
    let mut generator = Generator::new(source, &params).expect("generator");
    let mut tracker = Tracker::new(engine.clone());
    let mut session = ChallengeSession::with_defaults(asked.clone()).unwrap();
    while let Some(f) = generator.next_frame() {
        let img = &f.image;
        let frame = Frame::contiguous(img.width, img.height, PixelFormat::Rgb888, &img.data)
            .unwrap()
            .with_timestamp_ns(f.timestamp_ns);
        tracker.process(&frame).unwrap();
        let u = session
            .push(tracker.last_analysis(), tracker.last_rgb())
            .unwrap();
        if let Some(out) = u.finished {
            return out;
        }
    }
    session.outcome().cloned().unwrap_or(ChallengeOutcome {
        passed: false,
        reason: "capture ended before the challenge".into(),
        steps: vec![],
    })
}

fn names(p: &ChallengePlan) -> Vec<&'static str> {
    p.steps.iter().map(|s| s.action.as_str()).collect()
}

#[test]
fn challenges_through_the_real_pipeline() {
    let engine = default_engine();
    let policy = PlanPolicy::default();
    // Plans with a BLINK are counted apart: FaceMesh's lids barely close on a rendered blink
    // (EAR −8 to −12 %), so EAR alone misses some blinks (see the closing note of #5's work).
    let (mut correct, mut total, mut blink_plans, mut blink_passed) = (0, 0, 0, 0);
    for (name, b) in [("astronaut", 1u8), ("newton", 2), ("gauss", 3)] {
        let source = Source::from_file(
            &engine,
            &fixture(&format!("{name}.png")),
            &SourceOptions::default(),
        )
        .unwrap();
        let plan = derive_plan(&seed(b), &policy).unwrap();
        let out = run(&engine, &source, Kind::BonaFide, &plan, &plan, b as u64);
        println!(
            "{name}: plan {:?} -> passed {} ({}) {:?}",
            names(&plan),
            out.passed,
            out.reason,
            out.steps
                .iter()
                .map(|s| (&s.evidence, s.active_ms))
                .collect::<Vec<_>>()
        );
        if plan
            .steps
            .iter()
            .any(|s| s.action == liveproof_core::active::Action::Blink)
        {
            blink_plans += 1;
            blink_passed += out.passed as usize;
        } else {
            total += 1;
            correct += out.passed as usize;
        }

        // A capture made for another seed's plan, replayed against this one: fails.
        let other = (0u8..)
            .map(|k| derive_plan(&seed(b.wrapping_add(100 + k)), &policy).unwrap())
            .find(|p| p.steps[0].action != plan.steps[0].action)
            .unwrap();
        let out = run(&engine, &source, Kind::BonaFide, &other, &plan, b as u64);
        println!("{name}: replay of {:?} -> {}", names(&other), out.reason);
        assert!(!out.passed, "{name}: a capture for another plan passed");

        // A print attack (a flat sheet: it cannot blink, smile or turn like a head) fails.
        let out = run(&engine, &source, Kind::Print, &plan, &plan, b as u64);
        println!("{name}: print -> {}", out.reason);
        assert!(!out.passed, "{name}: a print passed");
    }
    println!(
        "correct performances passed: {correct} of {total} without a blink; {blink_passed} of \
         {blink_plans} with one"
    );
    assert!(
        total >= 2,
        "too few plans without a blink to judge: {total}"
    );
    assert_eq!(
        correct, total,
        "every correct (synthetic) performance without a blink passes"
    );
}

/// Feeds a synthetic capture through the pipeline, optionally as a front camera would deliver
/// it (mirrored), and runs `asked` over it.
fn run_frames(
    engine: &Arc<Engine>,
    frames: &[(liveproof_core::frame::RgbImage, u64)],
    asked: &ChallengePlan,
    mirror: Option<bool>,
) -> ChallengeOutcome {
    run_frames_with(engine, frames, asked, mirror, RunnerConfig::default())
}

/// [`run_frames`] with these runner settings.
fn run_frames_with(
    engine: &Arc<Engine>,
    frames: &[(liveproof_core::frame::RgbImage, u64)],
    asked: &ChallengePlan,
    mirror: Option<bool>,
    cfg: RunnerConfig,
) -> ChallengeOutcome {
    let mut tracker = Tracker::new(engine.clone());
    let mut session =
        ChallengeSession::new(asked.clone(), cfg, Default::default(), 24).unwrap();
    for (img, ts) in frames {
        let flipped;
        let data = match mirror {
            None => &img.data,
            Some(_) => {
                // The sensor delivers the mirror image.
                let w = img.width as usize;
                flipped = img
                    .data
                    .chunks_exact(3 * w)
                    .flat_map(|row| row.chunks_exact(3).rev().flatten().copied())
                    .collect::<Vec<u8>>();
                &flipped
            }
        };
        let frame = Frame::contiguous(img.width, img.height, PixelFormat::Rgb888, data)
            .unwrap()
            .with_timestamp_ns(*ts)
            .with_mirrored(mirror == Some(true));
        tracker.process(&frame).unwrap();
        let u = session
            .push(tracker.last_analysis(), tracker.last_rgb())
            .unwrap();
        if let Some(out) = u.finished {
            return out;
        }
    }
    session.outcome().cloned().unwrap_or(ChallengeOutcome {
        passed: false,
        reason: "capture ended before the challenge".into(),
        steps: vec![],
    })
}

fn render(
    source: &Source,
    performed: &ChallengePlan,
    synth_seed: u64,
    extra_s: f64,
) -> Vec<(liveproof_core::frame::RgbImage, u64)> {
    render_kind(Kind::BonaFide, source, performed, synth_seed, extra_s)
}

fn render_kind(
    kind: Kind,
    source: &Source,
    performed: &ChallengePlan,
    synth_seed: u64,
    extra_s: f64,
) -> Vec<(liveproof_core::frame::RgbImage, u64)> {
    let (script, end_s) = perform_plan(performed, synth_seed);
    let mut params = Params::new(
        kind,
        synth_seed,
        ((end_s + extra_s) * FPS) as u32,
        FPS,
    );
    params.performance = script;
    Generator::new(source, &params)
        .unwrap()
        .map(|f| (f.image, f.timestamp_ns))
        .collect()
}

fn single(action: liveproof_core::active::Action) -> ChallengePlan {
    ChallengePlan {
        version: 1,
        steps: vec![liveproof_core::active::PlanStep {
            action,
            timeout_ms: 5_000,
        }],
    }
}

#[test]
fn mirrored_front_camera_frames_keep_left_and_right() {
    use liveproof_core::active::Action;
    let engine = default_engine();
    let source = Source::from_file(
        &engine,
        &fixture("astronaut.png"),
        &SourceOptions::default(),
    )
    .unwrap();
    let plan = single(Action::TurnLeft);
    let frames = render(&source, &plan, 21, 1.0);
    // Delivered mirrored and declared mirrored: un-mirrored by the frame layer, passes.
    let out = run_frames(&engine, &frames, &plan, Some(true));
    assert!(out.passed, "declared mirror: {}", out.reason);
    // Delivered mirrored but not declared: the user's left looks like their right.
    let out = run_frames(&engine, &frames, &plan, Some(false));
    assert!(
        out.reason
            .contains("wrong action: TURN_RIGHT while TURN_LEFT"),
        "undeclared mirror: {}",
        out.reason
    );
}

#[test]
fn detection_rate_and_idle_false_triggers() {
    use liveproof_core::active::{Action, Observation};
    let engine = default_engine();
    let sources: Vec<Source> = ["astronaut", "newton", "gauss"]
        .iter()
        .map(|n| {
            Source::from_file(
                &engine,
                &fixture(&format!("{n}.png")),
                &SourceOptions::default(),
            )
            .unwrap()
        })
        .collect();
    // Detection rate: each action performed once per source and seed.
    let mut detected: std::collections::BTreeMap<&str, (u32, u32)> = Default::default();
    for (si, source) in sources.iter().enumerate() {
        for seed in [31u64, 32] {
            for a in Action::ALL {
                let plan = single(a);
                let frames = render(source, &plan, seed + 10 * si as u64, 2.0);
                let out = run_frames(&engine, &frames, &plan, None);
                if !out.passed {
                    println!(
                        "missed {} (source {si}, seed {seed}): {}",
                        a.as_str(),
                        out.reason
                    );
                }
                let e = detected.entry(a.as_str()).or_default();
                e.0 += out.passed as u32;
                e.1 += 1;
            }
        }
    }
    println!("SYNTHETIC detection rate per action (passed / performed): {detected:?}");
    // Misses include captures whose quality gate never cleared for the baseline before the
    // scripted action began (the Newton painting reads BLURRY): the script cannot wait for the
    // prompt as a person would. Blink is FaceMesh-limited (see docs/active.md); not asserted.
    for a in ["TURN_LEFT", "TURN_RIGHT", "NOD", "SMILE"] {
        let (p, n) = detected[a];
        assert!(p * 3 >= n * 2, "{a}: {p} of {n}");
    }

    // False triggers: idle bona fide video (natural small head motion, no script), each
    // action's detector armed continuously and re-armed after every trigger.
    let mut triggers: std::collections::BTreeMap<&str, u32> = Default::default();
    let mut seconds = 0.0;
    for (si, source) in sources.iter().enumerate() {
        let params = Params::new(Kind::BonaFide, 90 + si as u64, (20.0 * FPS) as u32, FPS);
        let frames: Vec<_> = Generator::new(source, &params).unwrap().collect();
        seconds += frames.len() as f64 / FPS;
        let mut tracker = Tracker::new(engine.clone());
        let obs: Vec<Observation> = frames
            .iter()
            .map(|f| {
                let frame = Frame::contiguous(
                    f.image.width,
                    f.image.height,
                    PixelFormat::Rgb888,
                    &f.image.data,
                )
                .unwrap()
                .with_timestamp_ns(f.timestamp_ns);
                observation_from(tracker.process(&frame).unwrap())
            })
            .collect();
        for a in Action::ALL {
            // The geometric detectors alone (no frames here for the turns' parallax check,
            // which could only remove triggers).
            let cfg = RunnerConfig {
                require_turn_parallax: false,
                ..RunnerConfig::default()
            };
            let mut runner = ChallengeRunner::new(single(a), cfg.clone()).unwrap();
            for o in &obs {
                let u = runner.push(o).unwrap();
                if let Some(out) = u.finished {
                    if out.passed {
                        *triggers.entry(a.as_str()).or_default() += 1;
                    }
                    // Re-arm (a new baseline, as a new challenge would take).
                    runner = ChallengeRunner::new(single(a), cfg.clone()).unwrap();
                }
            }
        }
    }
    let per_min: Vec<(&str, f64)> = Action::ALL
        .iter()
        .map(|a| {
            (
                a.as_str(),
                *triggers.get(a.as_str()).unwrap_or(&0) as f64 * 60.0 / seconds,
            )
        })
        .collect();
    println!("SYNTHETIC idle video: {seconds:.0} s; false triggers per minute: {per_min:?}");
    for (a, rate) in per_min {
        assert!(
            rate < 1.0,
            "{a}: {rate:.2} false triggers per minute of idle video"
        );
    }
}


/// Landmarks only (no parallax check): the outcome and the largest yaw change read.
fn landmarks_only(
    engine: &Arc<Engine>,
    frames: &[(liveproof_core::frame::RgbImage, u64)],
    asked: &ChallengePlan,
    cfg: RunnerConfig,
) -> (Option<ChallengeOutcome>, f32) {
    let mut tracker = Tracker::new(engine.clone());
    let mut runner = ChallengeRunner::new(
        asked.clone(),
        RunnerConfig {
            require_turn_parallax: false,
            ..cfg
        },
    )
    .unwrap();
    let (mut first, mut max_dyaw, mut out) = (None, 0.0f32, None);
    for (img, ts) in frames {
        let frame = Frame::contiguous(img.width, img.height, PixelFormat::Rgb888, &img.data)
            .unwrap()
            .with_timestamp_ns(*ts);
        let obs = observation_from(tracker.process(&frame).unwrap());
        if let Some(f) = obs.face {
            let y0 = *first.get_or_insert(f.yaw_deg);
            max_dyaw = max_dyaw.max((f.yaw_deg - y0).abs());
        }
        if out.is_none() {
            out = runner.push(&obs).unwrap().finished;
        }
    }
    (out, max_dyaw)
}

#[test]
fn a_print_turned_on_its_axis_fails() {
    use liveproof_core::active::Action;
    let engine = default_engine();
    // FaceMesh + PnP read a flat face turned 30-40 degrees as a few degrees of yaw, so with the
    // default 20-degree threshold a turned print never registers a turn. To exercise the
    // parallax check on real frames, a sensitive runner registers any 2.5-degree turn: the
    // printed turns then register on landmarks, and only parallax can reject them.
    let sensitive = RunnerConfig {
        turn_deg: 2.5,
        ..RunnerConfig::default()
    };
    let (mut registered, mut total, mut live_passed) = (0, 0, 0);
    for (si, name) in ["astronaut", "newton", "gauss"].iter().enumerate() {
        let source = Source::from_file(
            &engine,
            &fixture(&format!("{name}.png")),
            &SourceOptions::default(),
        )
        .unwrap();
        for (k, a) in [Action::TurnLeft, Action::TurnRight].into_iter().enumerate() {
            let plan = single(a);
            let seed = 60 + 2 * si as u64 + k as u64;
            // The attacker turns the sheet as the plan asks (30-40 degrees and back).
            let print = render_kind(Kind::Print, &source, &plan, seed, 2.0);
            let default_out = run_frames(&engine, &print, &plan, None);
            let (geo, max_dyaw) = landmarks_only(&engine, &print, &plan, sensitive.clone());
            let out = run_frames_with(&engine, &print, &plan, None, sensitive.clone());
            // The same turn by the (synthetic) head, default settings, parallax checked.
            let live = render(&source, &plan, seed, 2.0);
            let live_out = run_frames(&engine, &live, &plan, None);
            println!(
                "{name} {}: print read as {max_dyaw:.1} deg of yaw; default -> {}; sensitive, \
                 landmarks only -> {:?}; sensitive with parallax -> {}; bona fide -> \
                 {} ({}) parallax {:?}\n    print evidence {:?}",
                a.as_str(),
                default_out.reason,
                geo.as_ref().map(|o| o.reason.clone()),
                out.reason,
                live_out.passed,
                live_out.reason,
                live_out
                    .steps
                    .first()
                    .and_then(|s| s.evidence.get("parallax_score").copied()),
                out.steps.first().map(|s| &s.evidence)
            );
            let k = |o: &ChallengeOutcome| {
                o.steps
                    .first()
                    .and_then(|s| s.evidence.get("parallax_parallax_fraction").copied())
            };
            println!(
                "    parallax fraction: print {:?}, bona fide {:?}",
                k(&out),
                k(&live_out)
            );
            assert!(!default_out.passed, "{name}: a print passed {}", a.as_str());
            assert!(!out.passed, "{name}: a print passed {} (sensitive)", a.as_str());
            // Every printed turn the landmarks let through, parallax rejects.
            let geo_passed = geo.map(|o| o.passed).unwrap_or(false);
            if geo_passed {
                assert!(
                    out.reason.contains("flat surface")
                        || out.reason.contains("could not be measured"),
                    "{name} {}: {}",
                    a.as_str(),
                    out.reason
                );
            }
            total += 1;
            registered += geo_passed as u32;
            live_passed += live_out.passed as u32;
        }
    }
    println!(
        "SYNTHETIC: printed turns registered on landmarks alone {registered} of {total} (all \
         rejected by parallax); bona fide turns passed with parallax {live_passed} of {total}"
    );
    // The check is exercised (the landmarks alone let printed turns through) and bona fide
    // turns still pass it.
    assert!(registered * 2 >= total, "{registered} of {total}");
    assert!(live_passed * 3 >= total * 2, "{live_passed} of {total}");
}
