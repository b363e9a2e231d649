//! Active liveness end to end on SYNTHETIC captures (issue #5): `liveproof-synth` acts out the
//! challenge plan of a seed on a public-domain photo; every frame goes through the real
//! pipeline (BlazeFace + FaceMesh tracking, quality gate) into `ChallengeRunner`.

use std::sync::Arc;

use liveproof_core::active::{
    derive_plan, observation_from, ChallengeCapture, ChallengeOutcome, ChallengePlan,
    ChallengeRunner, PlanPolicy, RunnerConfig,
};
use liveproof_core::engine::{Engine, Tracker};
use liveproof_core::frame::{Frame, PixelFormat};
use liveproof_synth::{perform_plan, Generator, Kind, Params, Source, SourceOptions};
use liveproof_tests::{default_engine, engine_config, fixture, rgb_frame};

/// The manifest's eye-state model (`fr_eye`), loaded once.
fn eye_model() -> &'static liveproof_core::active::EyeStateModel {
    static EYES: std::sync::OnceLock<liveproof_core::active::EyeStateModel> =
        std::sync::OnceLock::new();
    EYES.get_or_init(|| {
        liveproof_core::active::EyeStateModel::load(&engine_config(
            liveproof_core::engine::DetectorKind::BlazeFaceFront,
        ))
        .expect("fr_eye loads")
    })
}

/// The session the SDK runs: turn parallax checked, eyes classified by `fr_eye`.
fn session(asked: &ChallengePlan, cfg: RunnerConfig) -> ChallengeCapture {
    ChallengeCapture::new(asked.clone(), cfg, Default::default(), 24)
        .unwrap()
        .with_eye_model(eye_model().clone())
}

const FPS: f64 = 30.0;

fn seed(b: u8) -> [u8; 32] {
    core::array::from_fn(|i| b.wrapping_mul(31).wrapping_add(i as u8))
}

/// Renders `kind` performing `performed` and runs the session with `asked`.
fn run(
    engine: &Arc<Engine>,
    source: &Source,
    kind: Kind,
    performed: &ChallengePlan,
    asked: &ChallengePlan,
    synth_seed: u64,
) -> ChallengeOutcome {
    let frames = render_kind(kind, source, performed, synth_seed, 1.5);
    run_frames(engine, &frames, asked, None)
}

fn names(p: &ChallengePlan) -> Vec<&'static str> {
    p.steps.iter().map(|s| s.action.as_str()).collect()
}

#[test]
fn challenges_through_the_real_pipeline() {
    let engine = default_engine();
    let policy = PlanPolicy::default();
    let (mut correct, mut total) = (0, 0);
    for (name, b) in [("astronaut", 1u8), ("newton", 2), ("gauss", 3)] {
        let source = portrait(&engine, name);
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
        total += 1;
        correct += out.passed as usize;

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
    println!("correct (synthetic) performances passed: {correct} of {total}");
    assert_eq!(
        correct, total,
        "every correct (synthetic) performance passes"
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
    let mut tracker = Tracker::with_rgb(engine.clone());
    let mut session = session(asked, cfg);
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
            .push(tracker.last_analysis(), tracker.last_rgb().unwrap())
            .unwrap();
        if let Some(out) = u.finished {
            return out;
        }
    }
    unfinished(&session)
}

/// A portrait fixture (`name` without `.png`) as a synth source.
fn portrait(engine: &Arc<Engine>, name: &str) -> Source {
    Source::from_file(
        engine,
        &fixture(&format!("{name}.png")),
        &SourceOptions::default(),
    )
    .unwrap()
}

/// What a challenge that never ended reports.
fn unfinished(session: &ChallengeCapture) -> ChallengeOutcome {
    session.outcome().cloned().unwrap_or(ChallengeOutcome {
        passed: false,
        failure: None,
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
    let mut params = Params::new(kind, synth_seed, ((end_s + extra_s) * FPS) as u32, FPS);
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
    let source = portrait(&engine, "astronaut");
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
        .map(|n| portrait(&engine, n))
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
    // prompt as a person would.
    for a in ["BLINK", "TURN_LEFT", "TURN_RIGHT", "NOD", "SMILE"] {
        let (p, n) = detected[a];
        assert!(p * 3 >= n * 2, "{a}: {p} of {n}");
    }

    // False triggers: idle bona fide video (natural small head motion, no script), each
    // action's detector armed continuously and re-armed after every trigger; eyes classified
    // by the eye-state model as in a session.
    let mut triggers: std::collections::BTreeMap<&str, u32> = Default::default();
    let mut seconds = 0.0;
    for (si, source) in sources.iter().enumerate() {
        let params = Params::new(Kind::BonaFide, 90 + si as u64, (20.0 * FPS) as u32, FPS);
        let frames: Vec<_> = Generator::new(source, &params).unwrap().collect();
        seconds += frames.len() as f64 / FPS;
        let mut tracker = Tracker::with_rgb(engine.clone());
        let obs: Vec<Observation> = frames
            .iter()
            .map(|f| {
                tracker
                    .process(&rgb_frame(&f.image, f.timestamp_ns))
                    .unwrap();
                let mut o = observation_from(tracker.last_analysis());
                // The eye-state model, as the session runs it.
                if let (Some(f), Some(face)) =
                    (o.face.as_mut(), tracker.last_analysis().faces.first())
                {
                    f.eyes_closed = eye_model()
                        .predict(tracker.last_rgb().unwrap(), &face.landmarks)
                        .ok()
                        .map(|s| s.closed());
                }
                o
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
        let source = portrait(&engine, name);
        for (k, a) in [Action::TurnLeft, Action::TurnRight]
            .into_iter()
            .enumerate()
        {
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
            assert!(
                !out.passed,
                "{name}: a print passed {} (sensitive)",
                a.as_str()
            );
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

#[test]
fn eye_state_class_meaning_on_real_portraits_and_synthetic_blinks() {
    use liveproof_synth::{generate, Event};
    let engine = default_engine();
    let eyes = eye_model();
    // Real photos, eyes open: the "closed" class (0) must be near zero for every eye.
    for name in ["astronaut", "newton", "gauss"] {
        let rgb = liveproof_tests::load_rgb(&fixture(&format!("{name}.png")));
        let frame =
            Frame::contiguous(rgb.width, rgb.height, PixelFormat::Rgb888, &rgb.data).unwrap();
        let mut tracker = Tracker::new(engine.clone());
        let a = tracker.analyze_still(&frame).unwrap();
        let state = eyes.predict(&rgb, &a.faces[0].landmarks).unwrap();
        println!("{name} (real photo, eyes open): closed probability {state:?}");
        // Below the runner's "open" threshold (0.3).
        assert!(
            state.right_closed < 0.3 && state.left_closed < 0.3,
            "{name}: {state:?}"
        );
        // Bad input is a typed error, not a panic.
        let lm = &a.faces[0].landmarks;
        let short = liveproof_core::frame::RgbImage {
            width: rgb.width,
            height: rgb.height,
            data: rgb.data[..rgb.data.len() - 1].to_vec(),
        };
        assert!(eyes.predict(&short, lm).is_err());
        // Short or non-finite landmarks cannot reach the model: the checked constructor
        // refuses them.
        use liveproof_core::mesh::Landmarks;
        assert!(Landmarks::from_slice(&lm[..467]).is_err());
        let mut nan = lm.to_vec();
        nan[33].x = f32::NAN;
        assert!(Landmarks::new(nan).is_err());
    }
    // SYNTHETIC blinks (the upper lid warped down over 0.3 s): closed while shut, open after.
    for (si, name) in ["astronaut", "newton", "gauss"].iter().enumerate() {
        let source = portrait(&engine, name);
        let mut p = Params::new(Kind::BonaFide, 70 + si as u64, 30, FPS);
        p.performance.events.push(Event::blink(0.4, 0.3));
        let c = generate(&source, &p).unwrap();
        let mut tracker = Tracker::with_rgb(engine.clone());
        let (mut shut, mut shut_closed, mut open, mut open_closed) = (0, 0, 0, 0);
        for (f, m) in c.frames.iter().zip(&c.meta.frames) {
            let img = &f.image;
            let frame = Frame::contiguous(img.width, img.height, PixelFormat::Rgb888, &img.data)
                .unwrap()
                .with_timestamp_ns(f.timestamp_ns);
            tracker.process(&frame).unwrap();
            let Some(face) = tracker.last_analysis().faces.first() else {
                continue;
            };
            let p = eyes
                .predict(tracker.last_rgb().unwrap(), &face.landmarks)
                .unwrap()
                .closed();
            if m.truth.eyes_closed >= 0.99 {
                shut += 1;
                shut_closed += (p >= 0.5) as u32;
            } else if m.truth.eyes_closed == 0.0 {
                open += 1;
                open_closed += (p >= 0.5) as u32;
            }
        }
        println!(
            "{name} SYNTHETIC blink: read closed on {shut_closed} of {shut} shut frames, \
             {open_closed} of {open} open frames"
        );
        assert!(
            shut >= 2 && shut_closed * 2 >= shut,
            "{name}: {shut_closed} of {shut}"
        );
        assert_eq!(open_closed, 0, "{name}: open eyes read closed");
    }
}

#[test]
fn another_face_taking_over_mid_challenge_is_rejected() {
    use liveproof_core::active::Action;
    use liveproof_core::matching::Embedder;
    let engine = default_engine();
    let embedder = Embedder::load(
        &engine_config(liveproof_core::engine::DetectorKind::BlazeFaceFront),
        "fr_feature",
    )
    .unwrap();
    let src = |n: &str| portrait(&engine, n);
    let plan = single(Action::Smile);
    let astronaut = render(&src("astronaut"), &plan, 81, 1.0);
    let gauss = render(&src("gauss"), &plan, 82, 1.0);
    // The continuity check alone: the box-jump rule is relaxed so that it cannot fire first.
    let cfg = RunnerConfig {
        max_jump_iod: 10.0,
        ..RunnerConfig::default()
    };
    let run = |frames: &[(liveproof_core::frame::RgbImage, u64)]| {
        let mut tracker = Tracker::with_rgb(engine.clone());
        let mut s = session(&plan, cfg.clone())
            .with_face_continuity(embedder.clone(), 0.5, 5)
            .unwrap();
        let mut out = None;
        for (img, ts) in frames {
            let frame = Frame::contiguous(img.width, img.height, PixelFormat::Rgb888, &img.data)
                .unwrap()
                .with_timestamp_ns(*ts);
            tracker.process(&frame).unwrap();
            let u = s
                .push(tracker.last_analysis(), tracker.last_rgb().unwrap())
                .unwrap();
            if u.finished.is_some() {
                out = u.finished;
                break;
            }
        }
        (out, s.lowest_face_similarity().unwrap())
    };
    // The same person throughout: passes, the similarity stays high.
    let (out, lowest) = run(&astronaut);
    let out = out.expect("finished");
    println!(
        "SYNTHETIC same face: {} ({}), lowest similarity {lowest:.3}",
        out.passed, out.reason
    );
    assert!(out.passed, "{}", out.reason);
    // A smile changes the embedding (0.76 here) but stays far above different people.
    assert!(lowest > 0.6, "{lowest}");
    // The astronaut's first second, then Gauss performs the smile (timestamps continue).
    let cut = 30;
    let dt = astronaut[cut].1 - astronaut[cut - 1].1;
    let mut swapped: Vec<_> = astronaut[..cut].to_vec();
    let (start, g0) = (astronaut[cut - 1].1 + dt, gauss[cut].1);
    swapped.extend(
        gauss[cut..]
            .iter()
            .map(|(img, ts)| (img.clone(), start + (ts - g0))),
    );
    let (out, lowest) = run(&swapped);
    let out = out.expect("finished");
    println!(
        "SYNTHETIC face swap: {} ({}), lowest similarity {lowest:.3}",
        out.passed, out.reason
    );
    assert!(
        !out.passed && out.reason.contains("face changed"),
        "{}",
        out.reason
    );
}

/// [`run_frames_with`], with the turn's parallax kept and scored by the caller
/// (`ChallengeCapture::with_deferred_turn_parallax`, as a session does off the frame path).
fn run_frames_deferred(
    engine: &Arc<Engine>,
    frames: &[(liveproof_core::frame::RgbImage, u64)],
    asked: &ChallengePlan,
    cfg: RunnerConfig,
) -> ChallengeOutcome {
    use liveproof_core::passive::parallax::frame_features_with_image;
    let mut tracker = Tracker::with_rgb(engine.clone());
    let (mut session, mut reservoir) = session(asked, cfg).with_deferred_turn_parallax().unwrap();
    for (img, ts) in frames {
        let frame = Frame::contiguous(img.width, img.height, PixelFormat::Rgb888, &img.data)
            .unwrap()
            .with_timestamp_ns(*ts);
        tracker.process(&frame).unwrap();
        let (a, rgb) = (tracker.last_analysis(), tracker.last_rgb().unwrap());
        let mut u = session.push(a, rgb).unwrap();
        let turn = session.take_turn_requests();
        if turn.reset {
            reservoir.clear();
        }
        if let (Some(halve), Some(face)) = (turn.keep, a.faces.first()) {
            let _ = reservoir.offer_admitted(halve, |c| {
                frame_features_with_image(rgb, &face.landmarks, a.timestamp_ns, c)
            });
        }
        if u.awaiting_parallax {
            let report = reservoir.score();
            reservoir.clear();
            u = session.resolve_turn(&report).unwrap();
        }
        if let Some(out) = u.finished {
            return out;
        }
    }
    unfinished(&session)
}

#[test]
fn deferred_turn_parallax_decides_as_inline() {
    use liveproof_core::active::Action;
    let engine = default_engine();
    let source = portrait(&engine, "astronaut");
    // The bona fide turn with the default runner; the printed turn with a sensitive one that
    // registers it on landmarks, so that parallax decides it (`a_print_turned_on_its_axis_fails`).
    let sensitive = RunnerConfig {
        turn_deg: 2.5,
        ..RunnerConfig::default()
    };
    let mut scored = 0;
    for (kind, action, seed, cfg) in [
        (
            Kind::BonaFide,
            Action::TurnLeft,
            60,
            RunnerConfig::default(),
        ),
        (
            Kind::BonaFide,
            Action::TurnRight,
            61,
            RunnerConfig::default(),
        ),
        (Kind::Print, Action::TurnLeft, 60, sensitive.clone()),
        (Kind::Print, Action::TurnRight, 61, sensitive),
    ] {
        let plan = single(action);
        let frames = render_kind(kind, &source, &plan, seed, 2.0);
        let inline = run_frames_with(&engine, &frames, &plan, None, cfg.clone());
        let deferred = run_frames_deferred(&engine, &frames, &plan, cfg);
        let score = |o: &ChallengeOutcome| {
            o.steps
                .first()
                .and_then(|s| s.evidence.get("parallax_score").copied())
        };
        println!(
            "SYNTHETIC astronaut {kind:?} {}: inline {} ({}) parallax {:?}; deferred {} ({}) \
             parallax {:?}",
            action.as_str(),
            inline.passed,
            inline.reason,
            score(&inline),
            deferred.passed,
            deferred.reason,
            score(&deferred)
        );
        assert_eq!(inline, deferred);
        scored += score(&inline).is_some() as u32;
    }
    // The comparison covers turns that parallax actually scored.
    assert!(scored >= 2, "{scored}");
}
