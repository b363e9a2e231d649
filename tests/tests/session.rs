//! The whole `Session` through the real pipeline on SYNTHETIC captures (issue #12): frames in,
//! a calibrated, fused, explainable pass / retry / fail out, with an audit record.
//!
//! The calibration bundle here is fitted inside the test (`liveproof_eval::fit_bundle`: Platt
//! at this size) on the raw scores of 12 SYNTHETIC captures of two faces (astronaut, Newton: bona fide against print and
//! replay); the sessions then run on a third face (Gauss), so the fit and the check are
//! person-disjoint. It exercises the wiring, not the accuracy: the shipped bundle and its
//! evaluation are `cargo xtask calibrate` / `eval`'s job.

use std::sync::{Arc, OnceLock};

use liveproof_core::active::{derive_plan, ChallengePlan};
use liveproof_core::engine::{DetectorKind, Engine};
use liveproof_core::evidence::{ChallengeEvidence, SignalId};
use liveproof_core::frame::{Frame, PixelFormat, RgbImage};
use liveproof_core::passive::analyzer::PassiveConfig;
use liveproof_core::policy::{
    Band, Bands, EvidenceRequirements, FlowType, LoadedPolicy, MatchRequirements, Policy,
    PolicyError, PolicyStore, ReasonCode, RiskTier,
};
use liveproof_core::session::{
    LoadedCalibration, Phase, Session, SessionConfig, SessionError, SessionModels, SessionParams,
    UserPrompt,
};
use liveproof_eval::{fit_bundle, PassiveScorer, Sample};
use liveproof_synth::{perform_plan, Generator, Kind, Params, Source, SourceOptions};
use liveproof_tests::{default_engine, engine_config, fixture};

const FPS: f64 = 30.0;

type Frames = Vec<(RgbImage, u64)>;

fn render(source: &Source, kind: Kind, seed: u64, frames: u32) -> Frames {
    liveproof_eval::render(source, kind, seed, frames, FPS).unwrap()
}

fn render_performing(source: &Source, kind: Kind, plan: &ChallengePlan, seed: u64) -> Frames {
    let (script, end_s) = perform_plan(plan, seed);
    let mut params = Params::new(kind, seed, ((end_s + 1.0) * FPS) as u32, FPS);
    params.performance = script;
    Generator::new(source, &params)
        .unwrap()
        .map(|f| (f.image, f.timestamp_ns))
        .collect()
}

fn source(engine: &Arc<Engine>, name: &str) -> Source {
    Source::from_file(engine, &fixture(name), &SourceOptions::default()).unwrap()
}

struct Fixture {
    engine: Arc<Engine>,
    models: Arc<SessionModels>,
    calibration: Arc<LoadedCalibration>,
    gauss: Source,
}

fn fixture_state() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let engine = default_engine();
        let ecfg = engine_config(DetectorKind::BlazeFaceFront);
        let models = Arc::new(SessionModels::load(
            &ecfg,
            &PassiveConfig::default(),
            "fr_feature",
        ));
        // Fit: two faces × (bona fide, print, replay) × 2 seeds, 45 frames each.
        let scorer = PassiveScorer::new(&ecfg, PassiveConfig::default());
        let mut samples = Vec::new();
        for name in ["astronaut.png", "newton.png"] {
            let src = source(&engine, name);
            for kind in [Kind::BonaFide, Kind::Print, Kind::Replay] {
                for seed in [11, 12] {
                    let frames = render(&src, kind, seed, 45);
                    for score in scorer.score(&engine, &frames).unwrap() {
                        samples.push(Sample {
                            person: name.into(),
                            kind,
                            score,
                        });
                    }
                }
            }
        }
        let (bundle, lines) = fit_bundle(
            &samples,
            "SYNTHETIC captures of astronaut and Newton: 4 bona fide, 4 print, 4 replay",
        )
        .unwrap();
        for l in lines {
            println!("fit {l}");
        }
        let calibration = Arc::new(LoadedCalibration::new(bundle).unwrap());
        Fixture {
            gauss: source(&engine, "gauss.png"),
            engine,
            models,
            calibration,
        }
    })
}

/// The recommended policy, with bands and evidence fitted to this test's tiny calibration:
/// the sum rule banded at ±1, one signal enough, 1–2 challenge steps.
fn policy(calibration_sha256: &str) -> Policy {
    let mut p = Policy::recommended(calibration_sha256);
    p.name = "session test".into();
    p.default_bands = Bands {
        pass_at: 1.0,
        fail_below: -1.0,
    };
    p.bands.clear();
    p.evidence = EvidenceRequirements {
        required_signals: vec![],
        min_available_signals: 1,
    };
    p.quality.min_usable_frames = 10;
    p.challenge.plan.min_steps = 1;
    p.challenge.plan.max_steps = 2;
    p.face_match.insert(
        "fr_feature".into(),
        MatchRequirements {
            match_at: 0.5,
            no_match_below: 0.3,
        },
    );
    p
}

fn params(flow: FlowType, tier: RiskTier, seed: [u8; 32]) -> SessionParams {
    SessionParams {
        request_id: "req-1".into(),
        capture_device: "synthetic 640x480".into(),
        ..SessionParams::first_attempt(seed, flow, tier, "sess-1")
    }
}

/// The test policy on the fixture's bundle, the seed the challenge tests use, and its plan.
fn challenge_setup(f: &Fixture) -> (Arc<LoadedPolicy>, [u8; 32], ChallengePlan) {
    let policy = Arc::new(LoadedPolicy::new(policy(&f.calibration.sha256)).unwrap());
    let seed = [42u8; 32];
    let plan = derive_plan(&seed, &policy.policy.challenge.plan).unwrap();
    (policy, seed, plan)
}

/// An account-opening session (medium risk: a challenge) on the fixture's models and bundle.
fn challenge_session(
    f: &Fixture,
    policy: &Arc<LoadedPolicy>,
    seed: [u8; 32],
    cfg: SessionConfig,
) -> Session {
    Session::new(
        f.engine.clone(),
        f.models.clone(),
        policy.clone(),
        f.calibration.clone(),
        params(FlowType::AccountOpening, RiskTier::Medium, seed),
        cfg,
    )
    .unwrap()
}

fn run(session: &mut Session, frames: &Frames) -> Vec<liveproof_core::session::FrameFeedback> {
    frames
        .iter()
        .map(|(img, ts)| {
            let frame = Frame::contiguous(img.width, img.height, PixelFormat::Rgb888, &img.data)
                .unwrap()
                .with_timestamp_ns(*ts);
            session.push_frame(&frame).unwrap()
        })
        .collect()
}

#[test]
fn passive_only_session_decides_with_reasons_and_an_audit_record() {
    let f = fixture_state();
    let policy = Arc::new(LoadedPolicy::new(policy(&f.calibration.sha256)).unwrap());
    let mut session = Session::new(
        f.engine.clone(),
        f.models.clone(),
        policy.clone(),
        f.calibration.clone(),
        params(FlowType::Login, RiskTier::Low, [7; 32]),
        SessionConfig::default(),
    )
    .unwrap();
    let frames = render(&f.gauss, Kind::BonaFide, 31, 45);
    let fb = run(&mut session, &frames);
    assert!(fb.iter().all(|x| x.face_box.is_some()));
    assert_eq!(fb.last().unwrap().phase, Phase::Done, "{:?}", fb.last());
    assert!(fb.iter().all(|x| x.prompt != UserPrompt::Blink));
    let r = session.finish();
    println!(
        "SYNTHETIC Gauss bona fide, passive-only: band {:?}, fused {:?}, reasons {:?}, top {:?}",
        r.band, r.fused, r.reasons, r.top_contributions
    );
    for s in &r.signals {
        println!(
            "  {:<10} raw {:?} llr {:.3} w {} contribution {:.3} {}",
            s.signal.as_str(),
            s.raw,
            s.llr,
            s.weight,
            s.contribution,
            s.reason
        );
    }
    assert!(r.passive_only && r.reasons.contains(&ReasonCode::PassiveOnly));
    assert!(r.reasons.contains(&ReasonCode::QualityOk));
    assert_eq!(r.signals.len(), 5);
    assert!(r.fused.is_some());
    // Depth has no real model here: named, contributes 0.
    let depth = r
        .signals
        .iter()
        .find(|s| s.signal == SignalId::Depth)
        .unwrap();
    assert!(!depth.available && depth.contribution == 0.0 && !depth.reason.is_empty());
    assert_eq!(r.policy_sha256, policy.sha256);
    assert_eq!(r.quality.frames, 45);
    // The audit record: hashes, thresholds, models; never images, landmarks or embeddings.
    let audit = r.audit.to_json().unwrap();
    println!("audit: {audit}");
    for key in [
        "\"schema_version\":1",
        "\"pad_decision\"",
        "\"calibration_sha256\"",
        "\"face_landmark\"",
        "\"level_of_supervision\":\"unsupervised\"",
    ] {
        assert!(audit.contains(key), "{key} missing");
    }
    for banned in ["landmarks", "embedding", "\"image\"", "pixels"] {
        assert!(!audit.contains(banned), "audit holds `{banned}`");
    }
    // Fixed field order: schema_version first, latency last.
    assert!(audit.starts_with("{\"schema_version\":1,\"request_id\":\"req-1\""));
    assert!(audit.find("\"latency_ms\"").unwrap() > audit.find("\"security\"").unwrap());
}

#[test]
fn a_session_without_a_face_is_a_retry_not_an_error() {
    let f = fixture_state();
    let policy = Arc::new(LoadedPolicy::new(policy(&f.calibration.sha256)).unwrap());
    let mut session = Session::new(
        f.engine.clone(),
        f.models.clone(),
        policy,
        f.calibration.clone(),
        params(FlowType::AccountOpening, RiskTier::High, [1; 32]),
        SessionConfig::default(),
    )
    .unwrap();
    let blank = RgbImage::new(320, 240);
    for k in 0..10u64 {
        let frame = Frame::contiguous(320, 240, PixelFormat::Rgb888, &blank.data)
            .unwrap()
            .with_timestamp_ns(k * 33_333_333);
        let fb = session.push_frame(&frame).unwrap();
        assert_eq!(fb.phase, Phase::Positioning);
        assert!(fb.face_box.is_none() && !fb.used);
    }
    // A buffer too short for its size is refused before it reaches the session.
    assert!(Frame::contiguous(320, 240, PixelFormat::Rgb888, &blank.data[..100]).is_err());
    let r = session.finish();
    assert_eq!(r.band, Band::Retry);
    assert_eq!(r.reasons, [ReasonCode::NoFace]);
    assert_eq!(
        r.quality.top_hints.first().map(String::as_str),
        Some("NO_FACE")
    );
}

#[test]
fn challenge_session_passes_a_performed_plan_and_fails_a_print() {
    let f = fixture_state();
    let (policy, seed, plan) = challenge_setup(f);
    println!(
        "plan: {:?}",
        plan.steps
            .iter()
            .map(|s| s.action.as_str())
            .collect::<Vec<_>>()
    );
    let new_session = || challenge_session(f, &policy, seed, SessionConfig::default());
    let mut s = new_session();
    let fb = run(
        &mut s,
        &render_performing(&f.gauss, Kind::BonaFide, &plan, 5),
    );
    let prompts: Vec<UserPrompt> = fb.iter().map(|x| x.prompt).collect();
    assert!(prompts.contains(&UserPrompt::HoldStill));
    assert!(fb.iter().any(|x| x.phase == Phase::Challenge));
    let r = s.finish();
    println!(
        "SYNTHETIC Gauss performing the plan: {:?} {:?} {:?} fused {:?}",
        r.band, r.reasons, r.challenge, r.fused
    );
    assert!(
        matches!(r.challenge, ChallengeEvidence::Passed { .. }),
        "{:?}",
        r.challenge
    );
    assert!(r.reasons.contains(&ReasonCode::ChallengePassed));
    assert!(!r.passive_only);

    // The same performance cancelled after its last frame: a cancel is never a pass.
    let mut s = new_session();
    run(
        &mut s,
        &render_performing(&f.gauss, Kind::BonaFide, &plan, 5),
    );
    let r = s.cancel();
    assert_eq!(r.band, Band::Retry, "{:?}", r.reasons);
    assert!(
        r.reasons.contains(&ReasonCode::CaptureIncomplete),
        "{:?}",
        r.reasons
    );
    assert!(matches!(r.challenge, ChallengeEvidence::Incomplete { .. }));

    // A print acting out the same plan: a flat turn fails, or the challenge never completes.
    let mut s = new_session();
    run(&mut s, &render_performing(&f.gauss, Kind::Print, &plan, 5));
    let r = s.finish();
    println!(
        "SYNTHETIC Gauss print performing the plan: {:?} {:?} {:?}",
        r.band, r.reasons, r.challenge
    );
    assert_ne!(r.band, Band::Pass);
    assert!(!matches!(r.challenge, ChallengeEvidence::Passed { .. }));

    // Cancelled early: retry, capture incomplete.
    let mut s = new_session();
    run(&mut s, &render(&f.gauss, Kind::BonaFide, 6, 10));
    let r = s.cancel();
    assert_eq!(r.band, Band::Retry);
    assert!(
        r.reasons.contains(&ReasonCode::CaptureIncomplete)
            || r.reasons.contains(&ReasonCode::QualityPoorRetry),
        "{:?}",
        r.reasons
    );
}

#[test]
fn policies_hot_swap_and_must_match_the_calibration() {
    let f = fixture_state();
    let store = PolicyStore::new(LoadedPolicy::new(policy(&f.calibration.sha256)).unwrap());
    let start = |store: &PolicyStore| {
        Session::new(
            f.engine.clone(),
            f.models.clone(),
            store.current(),
            f.calibration.clone(),
            params(FlowType::Login, RiskTier::Low, [3; 32]),
            SessionConfig::default(),
        )
    };
    let mut running = start(&store).unwrap();
    let old = running.policy().sha256.clone();
    // The tenant tightens the bands while a session runs.
    let mut stricter = policy(&f.calibration.sha256);
    stricter.name = "stricter".into();
    stricter.default_bands = Bands {
        pass_at: 50.0,
        fail_below: -1.0,
    };
    let new_hash = store
        .replace_json(&serde_json::to_string(&stricter).unwrap())
        .unwrap();
    let frames = render(&f.gauss, Kind::BonaFide, 31, 45);
    run(&mut running, &frames);
    let r_old = running.finish();
    assert_eq!(r_old.policy_sha256, old);
    let mut next = start(&store).unwrap();
    run(&mut next, &frames);
    let r_new = next.finish();
    assert_eq!(r_new.policy_sha256, new_hash);
    assert_eq!(r_new.bands.pass_at, 50.0);
    assert_ne!(r_new.band, Band::Pass, "nothing reaches an LLR of 50");
    println!(
        "hot swap: running session kept {} ({:?}), next got {} ({:?})",
        &old[..12],
        r_old.band,
        &new_hash[..12],
        r_new.band
    );
    // A policy set on another calibration bundle is refused.
    let other = LoadedPolicy::new(policy(&"a".repeat(64))).unwrap();
    let e = Session::new(
        f.engine.clone(),
        f.models.clone(),
        Arc::new(other),
        f.calibration.clone(),
        params(FlowType::Login, RiskTier::Low, [3; 32]),
        SessionConfig::default(),
    )
    .unwrap_err();
    println!("{e}");
    assert!(matches!(
        e,
        SessionError::Policy(PolicyError::CalibrationMismatch { .. })
    ));
    // A policy that requires a signal whose model is not loaded (depth: its weights are not
    // obtainable, so no depth model is set up here) is refused when the session starts.
    let mut needs_depth = policy(&f.calibration.sha256);
    needs_depth.evidence.required_signals = vec![SignalId::Depth];
    let e = Session::new(
        f.engine.clone(),
        f.models.clone(),
        Arc::new(LoadedPolicy::new(needs_depth).unwrap()),
        f.calibration.clone(),
        params(FlowType::Login, RiskTier::Low, [3; 32]),
        SessionConfig::default(),
    )
    .unwrap_err();
    println!("{e}");
    assert!(
        matches!(&e, SessionError::InvalidParams(m) if m.contains("requires the depth signal")),
        "{e}"
    );
}

#[test]
fn off_path_work_decides_as_inline_and_a_face_taking_over_fails_the_session() {
    use liveproof_core::evidence::ChallengeFailure;
    let f = fixture_state();
    let (policy, seed, plan) = challenge_setup(f);
    let session = |off_path: bool, continuity_every: usize| {
        let cfg = SessionConfig {
            off_path,
            continuity_every,
            ..SessionConfig::default()
        };
        challenge_session(f, &policy, seed, cfg)
    };
    // The passive signals and continuity on the session's worker thread decide exactly as
    // on the caller's: same frames, same order, same scores.
    let frames = render_performing(&f.gauss, Kind::BonaFide, &plan, 5);
    let results: Vec<_> = [true, false]
        .into_iter()
        .map(|off_path| {
            let mut s = session(off_path, SessionConfig::default().continuity_every);
            run(&mut s, &frames);
            s.finish()
        })
        .collect();
    let (a, b) = (&results[0], &results[1]);
    println!(
        "SYNTHETIC Gauss, off path vs inline: {:?} {:?} fused {:?} / {:?} {:?} fused {:?}",
        a.band, a.reasons, a.fused, b.band, b.reasons, b.fused
    );
    assert_eq!((a.band, &a.reasons, a.fused), (b.band, &b.reasons, b.fused));
    assert_eq!(a.challenge, b.challenge);
    for (x, y) in a.signals.iter().zip(&b.signals) {
        assert_eq!((x.signal, x.raw, x.llr), (y.signal, y.raw, y.llr));
    }
    assert!(a.signals.iter().any(|s| s.raw.is_some()), "{:?}", a.signals);
    // The frame hash, made beside tracking on the ledger's helper thread (off path) or inline,
    // is the chain of every frame's content digest, recomputed here from the frames.
    let mut chain = [0u8; 32];
    for (img, ts) in frames.iter() {
        let frame = Frame::contiguous(img.width, img.height, PixelFormat::Rgb888, &img.data)
            .unwrap()
            .with_timestamp_ns(*ts);
        chain = liveproof_core::session::chain_frame(&chain, *ts, &frame.content_sha256());
    }
    let hex: String = chain.iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(a.frames_sha256, hex);
    assert_eq!(b.frames_sha256, a.frames_sha256);

    // Another person takes over halfway through the challenge (the same plan acted out, the
    // timestamps running on): the worker's embeddings find it, and the session fails on it.
    // Every near-frontal frame is embedded here, so that continuity sees the first frame of
    // the new face before the runner can read the new face's neutral mouth as a wrong action.
    let astronaut = source(&f.engine, "astronaut.png");
    let other = render_performing(&astronaut, Kind::BonaFide, &plan, 6);
    let half = frames.len() / 2;
    let t0 = frames[half - 1].1;
    let swapped: Frames = frames[..half]
        .iter()
        .cloned()
        .chain(
            other[half..]
                .iter()
                .map(|(img, ts)| (img.clone(), t0 + ts - other[half - 1].1)),
        )
        .collect();
    for off_path in [true, false] {
        let mut s = session(off_path, 1);
        run(&mut s, &swapped);
        let r = s.finish();
        println!(
            "SYNTHETIC Gauss then astronaut (off path {off_path}): {:?} {:?} {:?}",
            r.band, r.reasons, r.challenge
        );
        assert_eq!(r.band, Band::Fail);
        assert!(
            r.reasons.contains(&ReasonCode::FaceChanged),
            "{:?}",
            r.reasons
        );
        assert!(
            matches!(
                &r.challenge,
                ChallengeEvidence::Failed {
                    failure: ChallengeFailure::FaceChanged,
                    ..
                }
            ),
            "{:?}",
            r.challenge
        );
    }
}
