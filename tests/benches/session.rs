//! The session's cost (issue #12's budget), side by side in one run on the same SYNTHETIC
//! frames (Gauss performing a 3-step plan at 30 fps, 640×480):
//!
//! - `tracking_sequence`: plain tracking (BlazeFace + FaceMesh + the quality gate) over every
//!   frame of the capture, the baseline;
//! - `session_push_sequence`: `Session::push_frame` over the same frames (tracking, the
//!   challenge with the eye-state model, the bookkeeping, and handing frames to the session's
//!   worker thread, which runs the passive window, face continuity and turn parallax beside
//!   it; a turn's end waits for its score);
//! - `session_finish`: `finish()` after the last frame (waiting for the worker, passive
//!   scoring, calibration, fusion,
//!   policy, audit), with no depth model (the stand-in is disabled, the real one is not
//!   obtainable);
//! - the whole session is `session_push_sequence` + `session_finish`;
//! - printed before the groups: the median ratio push_frame / tracking over 11 pairs of runs
//!   timed alternately (the budget's figure, robust to the load drifting between groups),
//!   twice: in wall time (what the caller waits, including any wait for the worker's queue)
//!   and in the calling thread's CPU time (`CLOCK_THREAD_CPUTIME_ID`: the frame thread's own
//!   work, which the load of other processes on a shared machine does not inflate; the
//!   worker's CPU is not in it);
//! - and paced: the frames fed at 30 fps as a camera delivers them (2 alternating pairs), the
//!   median and p95 of a single `push_frame` call against a single tracked frame: what an app
//!   waits per frame, with the worker given the time a real capture gives it.
//!
//! The calibration bundle here is fitted on four made-up points and labelled BENCH ONLY: its
//! values change no cost. Divide the sequence times by the frame count for per-frame costs.

use std::sync::Arc;
use std::time::Instant;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use liveproof_core::active::derive_plan;
use liveproof_core::engine::{DetectorKind, Engine, Tracker};
use liveproof_core::frame::{Frame, PixelFormat, RgbImage};
use liveproof_core::passive::analyzer::PassiveConfig;
use liveproof_core::policy::{FlowType, LoadedPolicy, Policy, RiskTier};
use liveproof_core::session::{Session, SessionConfig, SessionModels, SessionParams};
use liveproof_synth::{perform_plan, Generator, Kind, Params, Source, SourceOptions};
use liveproof_tests::{
    engine_config, engine_with, fixture, made_up_calibration, three_step_policy,
};

const SEED: [u8; 32] = [9; 32];
/// The calling thread's CPU time, seconds.
fn thread_cpu_s() -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; the clock id is a constant Linux defines.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime(CLOCK_THREAD_CPUTIME_ID)");
    ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9
}

/// Interleaved (tracking, session) pairs for the side-by-side ratio.
const PAIRS: usize = 21;
/// Paced (tracking, session) pairs: frames fed at the capture's own 30 fps.
const PACED_PAIRS: usize = 2;

/// Feeds `seq` at its own timestamps (30 fps, as a camera delivers them) and returns each
/// call's wall time, milliseconds.
fn paced(seq: &[(RgbImage, u64)], mut step: impl FnMut(&Frame<'_>)) -> Vec<f64> {
    let start = Instant::now();
    let t0 = seq.first().map(|(_, ts)| *ts).unwrap_or(0);
    seq.iter()
        .map(|(img, ts)| {
            let due = std::time::Duration::from_nanos(ts - t0);
            if let Some(wait) = due.checked_sub(start.elapsed()) {
                std::thread::sleep(wait);
            }
            let f = Frame::contiguous(img.width, img.height, PixelFormat::Rgb888, &img.data)
                .unwrap()
                .with_timestamp_ns(*ts);
            let t = Instant::now();
            step(&f);
            t.elapsed().as_secs_f64() * 1e3
        })
        .collect()
}

/// (median, p95) of `v`.
fn median_p95(v: &mut [f64]) -> (f64, f64) {
    v.sort_by(f64::total_cmp);
    (v[v.len() / 2], v[(v.len() * 95 / 100).min(v.len() - 1)])
}

fn frames(engine: &Arc<Engine>, policy: &Policy) -> Vec<(RgbImage, u64)> {
    let source = Source::from_file(engine, &fixture("gauss.png"), &SourceOptions::default())
        .expect("source");
    let plan = derive_plan(&SEED, &policy.challenge.plan).expect("plan");
    let (script, end_s) = perform_plan(&plan, 3);
    let mut params = Params::new(Kind::BonaFide, 3, ((end_s + 1.0) * 30.0) as u32, 30.0);
    params.performance = script;
    Generator::new(&source, &params)
        .unwrap()
        .map(|f| (f.image, f.timestamp_ns))
        .collect()
}

fn session(c: &mut Criterion) {
    let cfg = engine_config(DetectorKind::BlazeFaceFront);
    let engine = engine_with(cfg.clone());
    let calibration = Arc::new(made_up_calibration(
        "tests/benches/session.rs",
        "BENCH ONLY: four made-up points",
    ));
    let policy = Arc::new(LoadedPolicy::new(three_step_policy(&calibration.sha256)).unwrap());
    let passive = PassiveConfig {
        depth_model: String::new(),
        ..PassiveConfig::default()
    };
    let models = Arc::new(SessionModels::load(&cfg, &passive, "fr_feature"));
    let seq = frames(&engine, &policy.policy);
    eprintln!(
        "session bench: {} frames ({:.1} s at 30 fps), texture {:?}",
        seq.len(),
        seq.len() as f64 / 30.0,
        models
            .passive
            .texture
            .iter()
            .map(|(m, _)| m.name.clone())
            .collect::<Vec<_>>()
    );
    let session_cfg = SessionConfig {
        passive,
        ..SessionConfig::default()
    };
    let new_session = || {
        Session::new(
            engine.clone(),
            models.clone(),
            policy.clone(),
            calibration.clone(),
            SessionParams::first_attempt(SEED, FlowType::AccountOpening, RiskTier::High, "bench"),
            session_cfg.clone(),
        )
        .unwrap()
    };
    let push_all = |s: &mut Session| {
        for (img, ts) in &seq {
            let f = Frame::contiguous(img.width, img.height, PixelFormat::Rgb888, &img.data)
                .unwrap()
                .with_timestamp_ns(*ts);
            s.push_frame(&f).unwrap();
        }
    };
    let track_all = || {
        // Plain tracking, as the CLI and the C tracker run it: the buffer read in place.
        let mut t = Tracker::new(engine.clone());
        for (img, ts) in &seq {
            let f = Frame::contiguous(img.width, img.height, PixelFormat::Rgb888, &img.data)
                .unwrap()
                .with_timestamp_ns(*ts);
            t.process(&f).unwrap();
        }
    };
    // What one run decides (printed once, for the record), after a warm-up session so that
    // the models' first runs are not in its stage timings.
    push_all(&mut new_session());
    let mut probe = new_session();
    push_all(&mut probe);
    let r = probe.finish();
    eprintln!(
        "session bench probe: {:?} {:?}, challenge {:?}, timings {:?}",
        r.band, r.reasons, r.challenge, r.timings
    );
    // The budget is a ratio, and criterion's groups run minutes apart on a noisy machine:
    // time the two sequences alternately, pair by pair, and print the median ratio.
    let (mut wall, mut cpu): (Vec<f64>, Vec<f64>) = (0..PAIRS)
        .map(|_| {
            let (t, c) = (Instant::now(), thread_cpu_s());
            track_all();
            let (tracking, tracking_cpu) = (t.elapsed().as_secs_f64(), thread_cpu_s() - c);
            let mut s = new_session();
            let (t, c) = (Instant::now(), thread_cpu_s());
            push_all(&mut s);
            let ratios = (
                t.elapsed().as_secs_f64() / tracking,
                (thread_cpu_s() - c) / tracking_cpu,
            );
            // Joins the session's worker, so that none of its work overlaps the next pair.
            s.finish();
            ratios
        })
        .unzip();
    for (what, ratios) in [("wall time", &mut wall), ("frame-thread CPU", &mut cpu)] {
        ratios.sort_by(f64::total_cmp);
        eprintln!(
            "session bench: push_frame / tracking over {PAIRS} interleaved pairs, {what}: \
             median {:.3}×, range {:.3}–{:.3}×",
            ratios[PAIRS / 2],
            ratios[0],
            ratios[PAIRS - 1]
        );
    }

    let (mut tracked, mut pushed) = (Vec::new(), Vec::new());
    for _ in 0..PACED_PAIRS {
        let mut t = Tracker::new(engine.clone());
        tracked.extend(paced(&seq, |f| {
            t.process(f).unwrap();
        }));
        let mut s = new_session();
        pushed.extend(paced(&seq, |f| {
            s.push_frame(f).unwrap();
        }));
        s.finish();
    }
    let ((tm, tp), (sm, sp)) = (median_p95(&mut tracked), median_p95(&mut pushed));
    eprintln!(
        "session bench: paced at 30 fps, {} frames per side: tracking median {tm:.3} ms \
         (p95 {tp:.3}), push_frame median {sm:.3} ms (p95 {sp:.3}): {:.3}× median, {:.3}× p95",
        tracked.len(),
        sm / tm,
        sp / tp
    );

    let mut g = c.benchmark_group("session");
    g.sample_size(10);
    g.bench_function("tracking_sequence", |b| b.iter(track_all));
    g.bench_function("session_push_sequence", |b| {
        // Each session is finished (its worker joined) outside the timing, so that no
        // session's off-path work overlaps the next one's.
        b.iter_custom(|iters| {
            let mut total = std::time::Duration::ZERO;
            for _ in 0..iters {
                let mut s = new_session();
                let t = Instant::now();
                push_all(&mut s);
                total += t.elapsed();
                s.finish();
            }
            total
        })
    });
    g.bench_function("session_finish", |b| {
        b.iter_batched(
            || {
                let mut s = new_session();
                push_all(&mut s);
                s
            },
            |s| s.finish(),
            BatchSize::PerIteration,
        )
    });
    g.finish();
}

criterion_group!(benches, session);
criterion_main!(benches);
