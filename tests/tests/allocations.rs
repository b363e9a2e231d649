//! Heap allocations per frame, measured with a counting global allocator.
//!
//! - Plain tracking (detector not re-run): after warm-up, nothing allocates (the model runs
//!   reuse their buffers; hints are a fixed-size `HintSet`).
//! - A whole `Session::push_frame` in a session's steady state (SYNTHETIC capture of a face
//!   performing a 3-step challenge, with the eye-state model, face continuity and the
//!   session's off-path worker): the frame thread's allocations are counted per frame, the
//!   other threads' (the worker's) reported beside them.
//!
//! Only what goes through Rust's global allocator is counted: ONNX Runtime's C++ library
//! allocates through its own arena and `malloc`, which this allocator does not see.
//!
//! `LIVEPROOF_ALLOC_TRACE=1` prints a backtrace of every frame-thread allocation counted (to
//! find the site of a regression).

use std::alloc::{GlobalAlloc, Layout, System};
use std::backtrace::Backtrace;
use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use liveproof_core::active::derive_plan;
use liveproof_core::engine::{DetectorKind, EngineConfig, Tracker};
use liveproof_core::evidence::ChallengeEvidence;
use liveproof_core::frame::{Frame, PixelFormat, RgbImage};
use liveproof_core::passive::analyzer::PassiveConfig;
use liveproof_core::policy::{FlowType, LoadedPolicy, RiskTier};
use liveproof_core::session::{Phase, Session, SessionConfig, SessionModels, SessionParams};
use liveproof_synth::{perform_plan, Generator, Kind, Params, Source, SourceOptions};
use liveproof_tests::{
    engine_config, engine_with, fixture, load_rgb, made_up_calibration, rgb_frame,
    three_step_policy,
};

struct Counting;

/// Counting is on (any thread).
static ON: AtomicBool = AtomicBool::new(false);
/// Every thread's allocations while counting.
static ALL_COUNT: AtomicUsize = AtomicUsize::new(0);
static ALL_BYTES: AtomicUsize = AtomicUsize::new(0);
static TRACE: AtomicBool = AtomicBool::new(false);
static TRACES: Mutex<Vec<(usize, Backtrace)>> = Mutex::new(Vec::new());
/// The tests measure one at a time: the all-threads counters are process-wide.
static SERIAL: Mutex<()> = Mutex::new(());

thread_local! {
    /// This thread is the measured frame thread.
    static FRAME_THREAD: Cell<bool> = const { Cell::new(false) };
    /// Inside the allocator's own bookkeeping (a backtrace being stored): not counted.
    static BUSY: Cell<bool> = const { Cell::new(false) };
    static COUNT: Cell<usize> = const { Cell::new(0) };
    static BYTES: Cell<usize> = const { Cell::new(0) };
    static LARGEST: Cell<usize> = const { Cell::new(0) };
}

fn note(size: usize) {
    if !ON.load(Ordering::Relaxed) {
        return;
    }
    ALL_COUNT.fetch_add(1, Ordering::Relaxed);
    ALL_BYTES.fetch_add(size, Ordering::Relaxed);
    // `try_with`: a thread being torn down has no thread-locals left, and is not the frame
    // thread.
    let counted = FRAME_THREAD.try_with(|f| f.get()).unwrap_or(false)
        && !BUSY.try_with(|b| b.get()).unwrap_or(true);
    if !counted {
        return;
    }
    COUNT.with(|c| c.set(c.get() + 1));
    BYTES.with(|c| c.set(c.get() + size));
    LARGEST.with(|c| c.set(c.get().max(size)));
    if TRACE.load(Ordering::Relaxed) {
        BUSY.with(|b| b.set(true));
        let bt = Backtrace::force_capture();
        if let Ok(mut t) = TRACES.lock() {
            t.push((size, bt));
        }
        BUSY.with(|b| b.set(false));
    }
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        note(l.size());
        unsafe { System.alloc(l) }
    }
    unsafe fn alloc_zeroed(&self, l: Layout) -> *mut u8 {
        note(l.size());
        unsafe { System.alloc_zeroed(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        note(n);
        unsafe { System.realloc(p, l, n) }
    }
}

#[global_allocator]
static A: Counting = Counting;

/// What the frame thread allocated over a measured stretch.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
struct Tally {
    count: usize,
    bytes: usize,
    largest: usize,
}

/// Runs `f` with counting on, on this thread (the frame thread); returns its result, this
/// thread's tally, and every thread's count and bytes (this one's included).
fn counted<T>(f: impl FnOnce() -> T) -> (T, Tally, (usize, usize)) {
    FRAME_THREAD.with(|x| x.set(true));
    COUNT.with(|c| c.set(0));
    BYTES.with(|c| c.set(0));
    LARGEST.with(|c| c.set(0));
    let (c0, b0) = (
        ALL_COUNT.load(Ordering::SeqCst),
        ALL_BYTES.load(Ordering::SeqCst),
    );
    ON.store(true, Ordering::SeqCst);
    let out = f();
    ON.store(false, Ordering::SeqCst);
    FRAME_THREAD.with(|x| x.set(false));
    let tally = Tally {
        count: COUNT.with(Cell::get),
        bytes: BYTES.with(Cell::get),
        largest: LARGEST.with(Cell::get),
    };
    let all = (
        ALL_COUNT.load(Ordering::SeqCst) - c0,
        ALL_BYTES.load(Ordering::SeqCst) - b0,
    );
    (out, tally, all)
}

/// Prints the stored backtraces (only this crate's, core's and `ort`'s frames), most
/// frequent site first.
fn print_traces() {
    let traces = std::mem::take(&mut *TRACES.lock().unwrap());
    let mut sites: Vec<(String, usize, usize)> = Vec::new();
    for (size, bt) in traces {
        let text = bt.to_string();
        let site: Vec<&str> = text
            .lines()
            .filter(|l| {
                let l = l.trim();
                l.starts_with("at ") && !l.contains("/rustc/") && !l.contains("allocations.rs")
                    || l.contains("liveproof") && !l.contains("allocations::")
                    || l.contains("ort::")
            })
            .take(16)
            .collect();
        let site = site.join("\n");
        match sites.iter_mut().find(|(s, _, _)| *s == site) {
            Some((_, n, largest)) => {
                *n += 1;
                *largest = (*largest).max(size);
            }
            None => sites.push((site, 1, size)),
        }
    }
    sites.sort_by_key(|s| std::cmp::Reverse(s.1));
    for (site, n, largest) in sites {
        println!("-- {n} allocation(s), largest {largest} bytes:\n{site}");
    }
}

fn trace_requested() -> bool {
    std::env::var_os("LIVEPROOF_ALLOC_TRACE").is_some_and(|v| v == "1")
}

#[test]
fn steady_state_tracking_allocates_no_buffers() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    TRACE.store(trace_requested(), Ordering::SeqCst);
    // Only the tracking path: no periodic detector run inside the measured frames.
    let eng = engine_with(EngineConfig {
        recount_faces_every: 0,
        ..engine_config(DetectorKind::BlazeFaceFront)
    });
    let img = load_rgb(&fixture("astronaut.png"));
    // NV21 would be the phone's format; RGB keeps the test about the pipeline's own buffers.
    let mut tracker = Tracker::new(eng);
    let frames = 20u64;
    for i in 0..5u64 {
        let f = Frame::contiguous(img.width, img.height, PixelFormat::Rgb888, &img.data)
            .unwrap()
            .with_timestamp_ns(i * 33_000_000);
        assert_eq!(tracker.process(&f).unwrap().faces.len(), 1);
    }
    let ((), t, _) = counted(|| {
        for i in 5..5 + frames {
            let f = Frame::contiguous(img.width, img.height, PixelFormat::Rgb888, &img.data)
                .unwrap()
                .with_timestamp_ns(i * 33_000_000);
            let a = tracker.process(&f).unwrap();
            assert!(!a.detector_ran);
        }
    });
    println!(
        "steady-state tracking: {:.1} allocations, {:.0} bytes per frame; largest single \
         allocation {} bytes",
        t.count as f64 / frames as f64,
        t.bytes as f64 / frames as f64,
        t.largest
    );
    if TRACE.swap(false, Ordering::SeqCst) {
        print_traces();
    }
    // The model runs allocate nothing once their input shapes repeat (the ONNX Runtime runner
    // keeps its input tensors and pre-allocated outputs) and the hints are a `HintSet` (bits,
    // not a vector). Before the runner kept its buffers: 10 allocations, 879 bytes per frame;
    // before `HintSet`: 1 allocation, 8 bytes.
    assert_eq!(
        t,
        Tally::default(),
        "tracking allocated over {frames} frames (LIVEPROOF_ALLOC_TRACE=1 shows where)"
    );
}

const SEED: [u8; 32] = [9; 32];

fn frame((img, ts): &(RgbImage, u64)) -> Frame<'_> {
    rgb_frame(img, *ts)
}

#[test]
fn steady_state_session_push_frame_allocates_little_on_the_frame_thread() {
    let trace = trace_requested();
    let cfg = engine_config(DetectorKind::BlazeFaceFront);
    let engine = engine_with(cfg.clone());
    let calibration = Arc::new(made_up_calibration(
        "tests/tests/allocations.rs",
        "TEST ONLY: four points (its values change no allocation)",
    ));
    let policy = Arc::new(LoadedPolicy::new(three_step_policy(&calibration.sha256)).unwrap());
    let passive = PassiveConfig {
        depth_model: String::new(),
        ..PassiveConfig::default()
    };
    let models = Arc::new(SessionModels::load(&cfg, &passive, "fr_feature"));
    assert!(
        models.eyes.is_some(),
        "the eye-state model is part of the test"
    );
    assert!(
        models.embedding.is_some(),
        "face continuity is part of the test"
    );
    // SYNTHETIC: Gauss performing the session's plan at 30 fps, 640×480.
    let source = Source::from_file(&engine, &fixture("gauss.png"), &SourceOptions::default())
        .expect("source");
    let plan = derive_plan(&SEED, &policy.policy.challenge.plan).unwrap();
    let (script, end_s) = perform_plan(&plan, 3);
    let mut params = Params::new(Kind::BonaFide, 3, ((end_s + 1.0) * 30.0) as u32, 30.0);
    params.performance = script;
    let seq: Vec<(RgbImage, u64)> = Generator::new(&source, &params)
        .unwrap()
        .map(|f| (f.image, f.timestamp_ns))
        .collect();
    let session_cfg = SessionConfig {
        passive,
        ..SessionConfig::default()
    };
    assert!(
        session_cfg.off_path,
        "the off-path worker is part of the test"
    );
    let new_session = || {
        Session::new(
            engine.clone(),
            models.clone(),
            policy.clone(),
            calibration.clone(),
            SessionParams::first_attempt(SEED, FlowType::AccountOpening, RiskTier::High, "alloc"),
            session_cfg.clone(),
        )
        .unwrap()
    };
    // Warm-up: a whole session first (every model's first runs, the engine's buffers).
    let mut warm = new_session();
    for f in &seq {
        warm.push_frame(&frame(f)).unwrap();
    }
    let warm = warm.finish();
    assert!(
        matches!(warm.challenge, ChallengeEvidence::Passed { .. }),
        "{:?}",
        warm.challenge
    );

    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    TRACE.store(trace, Ordering::SeqCst);
    let mut session = new_session();
    // The session's own first frames (its first usable frame, the first hint) are its set-up.
    const SETUP: usize = 5;
    for f in &seq[..SETUP] {
        session.push_frame(&frame(f)).unwrap();
    }
    // Per frame, by the phase the frame ended in.
    let mut per_phase: Vec<(Phase, usize, Tally)> = Vec::new();
    let mut frames_allocating = 0usize;
    let mut total = Tally::default();
    let mut others = (0usize, 0usize);
    let mut last = None;
    for f in &seq[SETUP..] {
        let (fb, t, all) = counted(|| session.push_frame(&frame(f)).unwrap());
        let phase = fb.phase;
        last = Some(fb);
        total.count += t.count;
        total.bytes += t.bytes;
        total.largest = total.largest.max(t.largest);
        others.0 += all.0 - t.count;
        others.1 += all.1 - t.bytes;
        frames_allocating += usize::from(t.count > 0);
        match per_phase.iter_mut().find(|(p, _, _)| *p == phase) {
            Some((_, n, p)) => {
                *n += 1;
                p.count += t.count;
                p.bytes += t.bytes;
                p.largest = p.largest.max(t.largest);
            }
            None => per_phase.push((phase, 1, t)),
        }
    }
    TRACE.store(false, Ordering::SeqCst);
    let n = seq.len() - SETUP;
    let r = session.finish();
    assert!(
        matches!(r.challenge, ChallengeEvidence::Passed { .. }),
        "{:?}",
        r.challenge
    );
    assert_eq!(last.map(|f| f.phase), Some(Phase::Done));
    println!(
        "session push_frame, frame thread, {n} frames after {SETUP}: {} allocations \
         ({:.2} per frame, {frames_allocating} frames allocating), {} bytes ({:.0} per frame), \
         largest {} bytes",
        total.count,
        total.count as f64 / n as f64,
        total.bytes,
        total.bytes as f64 / n as f64,
        total.largest
    );
    for (phase, frames, t) in &per_phase {
        println!(
            "  {phase:?}: {frames} frames, {} allocations ({:.2} per frame), {} bytes, largest {}",
            t.count,
            t.count as f64 / *frames as f64,
            t.bytes,
            t.largest
        );
    }
    println!(
        "other threads (the session's worker) over the same frames: {} allocations, {} bytes",
        others.0, others.1
    );
    if trace {
        print_traces();
    }
    // An ordinary frame allocates nothing: the model runs, the eye-state crops, the frame
    // copies handed to the worker, the ledger's hand-off of the frame to its helper thread
    // (a stack job), and the hints (`HintSet`) reuse what they have (ONNX Runtime's own C++ allocations are not counted here). What allocates is an
    // event (LIVEPROOF_ALLOC_TRACE=1 lists the sites): a challenge step ending (its record and
    // the outcome's copy), the frame-copy pool filling during the session's first admitted
    // frames (a new session starts with an empty pool), the challenge's baseline samples, std's
    // channel parking a blocked send. (The detector's decode sizes its buffers for every anchor
    // on its first run, so a re-detection no longer allocates.)
    // Measured: 15.5 allocations and 244 KB per frame before any of this; 1.35 per frame on 68
    // of 210 frames with hint vectors; 0.79 per frame on 12 of 210 frames with `HintSet`; 0.77
    // on 9 of 210 with the detector's buffers sized up front.
    assert!(
        frames_allocating * 10 <= n,
        "{frames_allocating} of {n} frames allocated on the frame thread: ordinary frames \
         should not (LIVEPROOF_ALLOC_TRACE=1 shows where)"
    );
    assert!(
        total.count <= n,
        "{} allocations over {n} frames on the frame thread (LIVEPROOF_ALLOC_TRACE=1 shows \
         where)",
        total.count
    );
    // Image-sized allocations only while the frame-copy pool fills (at most its size, 8).
    assert!(
        total.bytes <= 8 * 640 * 480 * 3 + 512 * 1024,
        "{} bytes over {n} frames on the frame thread",
        total.bytes
    );
}

/// The ONNX Runtime runner's reused buffers give the ordinary path's outputs, and an input
/// with a NaN is still refused through `run` (on the first, ordinary run and on the reused
/// path, where the copy does the scan); `run_prechecked` skips only that scan.
#[test]
fn reused_run_buffers_match_ordinary_runs_and_run_still_refuses_non_finite_input() {
    use liveproof_core::active::EyeStateModel;
    use liveproof_core::models::{ModelError, TensorOut};

    let eyes = EyeStateModel::load(&engine_config(DetectorKind::BlazeFaceFront)).unwrap();
    let runner = eyes.runner();
    let shape = [1usize, 1, 24, 24];
    let a: Vec<f32> = (0..576).map(|i| (i % 24) as f32 / 23.0).collect();
    let b: Vec<f32> = (0..576).map(|i| (i / 24) as f32 / 23.0).collect();
    let mut nan = a.clone();
    nan[300] = f32::NAN;
    let mut out = Vec::new();
    let refused = |r: Result<(), ModelError>| {
        assert!(
            matches!(r, Err(ModelError::NonFiniteInput { index: 300, .. })),
            "{r:?}"
        );
    };
    // A NaN on the runner's first run (the ordinary path, unless another test ran the shared
    // model first) is refused.
    refused(runner.run_one(&nan, &shape, &mut out));
    // First finite run: the ordinary path, which keeps the buffers for the next.
    runner.run_one(&a, &shape, &mut out).unwrap();
    let first: Vec<TensorOut> = out.clone();
    runner.run_one(&b, &shape, &mut out).unwrap();
    let other = out.clone();
    assert_ne!(first[0].data, other[0].data, "two inputs, two outputs");
    // Reused buffers: the same input gives the same output as the ordinary run.
    runner.run_one(&a, &shape, &mut out).unwrap();
    assert_eq!(out[0].data, first[0].data);
    assert_eq!(out[0].shape, first[0].shape);
    runner.run_one_prechecked(&b, &shape, &mut out).unwrap();
    assert_eq!(out[0].data, other[0].data);
    // On the reused path too, `run` refuses the NaN; the next finite run is unaffected.
    refused(runner.run_one(&nan, &shape, &mut out));
    runner.run_one(&a, &shape, &mut out).unwrap();
    assert_eq!(out[0].data, first[0].data);
    // Shape and length checks stay on the prechecked path.
    assert!(matches!(
        runner.run_one_prechecked(&a[..575], &shape, &mut out),
        Err(ModelError::InputLength { .. })
    ));
    assert!(matches!(
        runner.run_one_prechecked(&a, &[1, 1, 12, 48], &mut out),
        Err(ModelError::ShapeMismatch { .. })
    ));
    // And the reused runs allocate nothing on this thread.
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let (_, t, _) = counted(|| {
        for _ in 0..10 {
            runner.run_one_prechecked(&a, &shape, &mut out).unwrap();
            runner.run_one(&b, &shape, &mut out).unwrap();
        }
    });
    assert_eq!(t, Tally::default(), "reused runs allocated");
}
