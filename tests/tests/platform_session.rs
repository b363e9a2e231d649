//! The whole session through the platform surface (`liveproof_ffi`: the objects Kotlin and
//! Swift get, over the one session layer C uses too), on SYNTHETIC captures with the real
//! models: a server token checked on the device, frames in (as records and as camera-shaped
//! borrowed planes), the decision and the signed result out, the signer's failure kept
//! recoverable, misuse answered with typed errors, and what `info` logging prints.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use liveproof_core::active::derive_plan;
use liveproof_core::frame::RgbImage;
// Core's enums cross the boundary as they are (mirrored with `uniffi::remote`).
use liveproof_core::policy::{Band, FlowType, LoadedPolicy, ReasonCode as CoreReason, RiskTier};
use liveproof_core::trust::{
    issue_token, kid_of, now_unix, ServerKeySet, SignedResult, SoftwareSigner as CoreSoftware,
    TokenClaims,
};
use liveproof_ffi::uniffi_api::{
    init_logging, set_log_sink, EngineConfig, Frame, LivenessEngine, LivenessSession, LogLevel,
    LogSink, PixelFormat, Plane, SessionOptions, Signer, SoftwareSigner, Yuv420Layout,
};
use liveproof_ffi::{ApiError, CallbackError};
use liveproof_synth::{perform_plan, Generator, Kind, Params, Source, SourceOptions};
use liveproof_tests::{default_engine, fixture, models_dir, ort_lib, rgb_to_yuv420};

const FPS: f64 = 30.0;

fn engine() -> &'static Arc<LivenessEngine> {
    static E: OnceLock<Arc<LivenessEngine>> = OnceLock::new();
    E.get_or_init(|| {
        LivenessEngine::new(EngineConfig {
            models_dir: models_dir().to_string_lossy().into_owned(),
            detector: liveproof_ffi::uniffi_api::DetectorKind::BlazeFaceFront,
            ort_library_path: Some(ort_lib().to_string_lossy().into_owned()),
            intra_op_threads: 1,
        })
        .unwrap()
    })
}

/// The server side of the test: a key set and tokens on the shipped policy.
struct Server {
    keys: ServerKeySet,
    public_pem: String,
}

fn server() -> &'static Server {
    static S: OnceLock<Server> = OnceLock::new();
    S.get_or_init(|| {
        let signer = CoreSoftware::generate();
        let public_pem = signer.public().unwrap().to_pem().unwrap();
        Server {
            keys: ServerKeySet::with_signer(signer).unwrap(),
            public_pem,
        }
    })
}

fn token(seed: [u8; 32], issued_at: u64) -> Vec<u8> {
    let policy = LoadedPolicy::from_json(liveproof_core::defaults::POLICY_JSON).unwrap();
    let mut policy_sha256 = [0u8; 32];
    policy_sha256.copy_from_slice(&hex_bytes(&policy.sha256));
    let claims = TokenClaims {
        issuer: "test-server".into(),
        issued_at,
        expires_at: issued_at + 180,
        session_id: [7; 16],
        nonce: vec![9; 32],
        tenant: "acme".into(),
        seed,
        flow: FlowType::AccountOpening,
        tier: RiskTier::Medium,
        policy_sha256,
        policy_json: Some(liveproof_core::defaults::POLICY_JSON.to_string()),
        attempt: 1,
        max_attempts: 3,
        consecutive_failures: 0,
    };
    issue_token(&claims, &server().keys).unwrap()
}

fn hex_bytes(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// SYNTHETIC bona fide frames of Newton acting out the plan the shipped policy derives from
/// `seed` (the capture the server's token asks for).
fn performed_capture(seed: &[u8; 32]) -> Vec<(RgbImage, u64)> {
    let policy = LoadedPolicy::from_json(liveproof_core::defaults::POLICY_JSON).unwrap();
    let plan = derive_plan(seed, &policy.policy.challenge.plan).unwrap();
    let engine = default_engine();
    let source =
        Source::from_file(&engine, &fixture("newton.png"), &SourceOptions::default()).unwrap();
    let (script, end_s) = perform_plan(&plan, 7);
    let mut params = Params::new(Kind::BonaFide, 7, ((end_s + 1.0) * FPS) as u32, FPS);
    params.performance = script;
    Generator::new(&source, &params)
        .unwrap()
        .map(|f| (f.image, f.timestamp_ns))
        .collect()
}

fn rgb_frame(img: &RgbImage, ts: u64) -> Frame {
    Frame {
        width: img.width,
        height: img.height,
        format: PixelFormat::Rgb888,
        planes: vec![Plane {
            bytes: img.data.clone(),
            row_stride: img.width * 3,
        }],
        rotation_degrees: 0,
        mirrored: false,
        timestamp_ns: ts,
    }
}

/// Records of `info` and above, from every test of this binary (all must be clean).
static RECORDS: Mutex<Vec<(LogLevel, String)>> = Mutex::new(Vec::new());

struct Capture;
impl LogSink for Capture {
    fn log(&self, level: LogLevel, _target: String, message: String) {
        RECORDS.lock().unwrap().push((level, message));
    }
}

/// A signer that fails its first `fails` signatures (the user dismissed the prompt), then
/// signs with a software key.
struct Flaky {
    key: Arc<SoftwareSigner>,
    fails: AtomicUsize,
}

impl Signer for Flaky {
    fn public_key(&self) -> Result<Vec<u8>, CallbackError> {
        self.key.public_key()
    }
    fn sign(&self, message: Vec<u8>) -> Result<Vec<u8>, CallbackError> {
        if self
            .fails
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
        {
            return Err(CallbackError::Failed {
                reason: "the user dismissed the biometric prompt".into(),
            });
        }
        self.key.sign(message)
    }
}

fn token_session(seed: [u8; 32], signer: Arc<dyn Signer>) -> Arc<LivenessSession> {
    let e = engine();
    let t = e
        .verify_token(
            token(seed, now_unix()),
            vec![server().public_pem.clone()],
            None,
        )
        .unwrap();
    assert_eq!(t.session_id(), "07".repeat(16));
    assert_eq!(
        (t.flow(), t.tier(), t.attempt()),
        (FlowType::AccountOpening, RiskTier::Medium, 1)
    );
    e.start_session(t, signer, SessionOptions::default())
        .unwrap()
}

#[test]
fn a_token_session_decides_signs_and_refuses_misuse() {
    init_logging(LogLevel::Info);
    set_log_sink(Some(Arc::new(Capture)));
    let seed = [0x5a; 32];
    let device = SoftwareSigner::generate();
    let session = token_session(seed, device.clone());
    let frames = performed_capture(&seed);
    let mut last = None;
    for (img, ts) in &frames {
        last = Some(session.push_frame(rgb_frame(img, *ts)).unwrap());
    }
    let last = last.unwrap();
    // The feedback counts the plan's steps and ends with every step run.
    assert!(last.step_count >= 1, "{last:?}");
    assert_eq!(last.step_index, last.step_count, "{last:?}");
    let outcome = session.finish().unwrap();
    assert!(!outcome.cancelled);
    assert_eq!(outcome.session_id, "07".repeat(16));
    let result: serde_json::Value = serde_json::from_str(&outcome.result_json).unwrap();
    assert_eq!(
        result["band"],
        serde_json::json!(match outcome.decision {
            Band::Pass => "pass",
            Band::Retry => "retry",
            Band::Fail => "fail",
        })
    );
    // The signed result: the device key's, over this token, carrying this decision.
    let signed = SignedResult::parse(outcome.signed_result.as_deref().unwrap()).unwrap();
    signed.verify_device_signature().unwrap();
    let device_pub = liveproof_core::trust::DevicePublicKey::from_sec1(
        &Signer::public_key(device.as_ref()).unwrap(),
    )
    .unwrap();
    assert_eq!(signed.kid, kid_of(&device_pub));
    assert_eq!(signed.claims.result.band, outcome.decision);
    assert_eq!(signed.claims.result.reasons, outcome.reasons);
    assert_eq!(
        signed.claims.result.quality.frames as usize,
        frames.len(),
        "every frame counted"
    );
    // A finished session is over: frames, finish and cancel are state errors.
    let (img, ts) = &frames[0];
    for r in [
        session.push_frame(rgb_frame(img, *ts)).map(|_| ()),
        session.finish().map(|_| ()),
        session.cancel().map(|_| ()),
    ] {
        match r {
            Err(ApiError::SessionState { message }) => {
                assert!(message.contains("already finished"), "{message}")
            }
            other => panic!("expected SessionState, got {other:?}"),
        }
    }
    session.release();
    session.release();
    assert!(matches!(
        session.finish(),
        Err(ApiError::SessionState { message }) if message.contains("closed")
    ));
    // What `info` printed: the session's course, never a measurement (a word that reads as a
    // decimal number: scores, similarities, boxes, landmarks; versions and paths are words
    // that do not) and no landmark, similarity, LLR or embedding words (reason codes such as
    // `passive_score_high` are the decision's names, not measurements).
    let records = RECORDS.lock().unwrap().clone();
    let id = "07".repeat(16);
    assert!(
        records
            .iter()
            .any(|(_, m)| m.contains("session started") && m.contains(&id)),
        "{records:#?}"
    );
    assert!(
        records
            .iter()
            .any(|(_, m)| m.contains(&format!("session {id} finished"))),
        "{records:#?}"
    );
    for (level, message) in &records {
        assert!(
            matches!(level, LogLevel::Info | LogLevel::Warn | LogLevel::Error),
            "{level:?} {message}"
        );
        let has_decimal = message.split_whitespace().any(|word| {
            let w = word.trim_matches(|c: char| ",;:()[]{}=".contains(c));
            w.contains('.') && w.parse::<f64>().is_ok()
        });
        let lower = message.to_lowercase();
        assert!(
            !has_decimal
                && !["landmark", "similarity", "llr", "embedding"]
                    .iter()
                    .any(|w| lower.contains(w)),
            "info-level record carries measurements: {message}"
        );
    }
}

#[test]
fn a_failing_signer_keeps_the_decision_and_finish_signs_it_again() {
    let key = SoftwareSigner::generate();
    let flaky = Arc::new(Flaky {
        key,
        fails: AtomicUsize::new(2),
    });
    let session = token_session([0x11; 32], flaky.clone());
    // Cancelled before any frame: retry (no face was seen), still signed for the server.
    for _ in 0..2 {
        match session.cancel() {
            Err(ApiError::Signer { message }) => {
                assert!(message.contains("dismissed"), "{message}")
            }
            other => panic!("expected a signer error, got {other:?}"),
        }
    }
    let outcome = session.finish().unwrap();
    assert!(outcome.cancelled, "the kept decision is the cancel's");
    assert_eq!(outcome.decision, Band::Retry);
    assert_eq!(outcome.reasons.first(), Some(&CoreReason::NoFace));
    let signed = SignedResult::parse(outcome.signed_result.as_deref().unwrap()).unwrap();
    signed.verify_device_signature().unwrap();
    // A signer that panics (a bug in the host's code) loses nothing either.
    struct Panicky(Arc<SoftwareSigner>, AtomicUsize);
    impl Signer for Panicky {
        fn public_key(&self) -> Result<Vec<u8>, CallbackError> {
            self.0.public_key()
        }
        fn sign(&self, m: Vec<u8>) -> Result<Vec<u8>, CallbackError> {
            if self.1.fetch_add(1, Ordering::SeqCst) == 0 {
                panic!("keystore bug");
            }
            self.0.sign(m)
        }
    }
    let session = token_session(
        [0x13; 32],
        Arc::new(Panicky(SoftwareSigner::generate(), AtomicUsize::new(0))),
    );
    match session.finish() {
        Err(ApiError::Signer { message }) => {
            assert!(message.contains("panicked: keystore bug"), "{message}")
        }
        other => panic!("expected a signer error, got {other:?}"),
    }
    assert!(session.finish().unwrap().signed_result.is_some());
    // A signature by another key than the one the signer names is refused on the device (the
    // server would refuse it after the session had ended), and the decision stays owed.
    struct WrongKey(Arc<SoftwareSigner>, Arc<SoftwareSigner>);
    impl Signer for WrongKey {
        fn public_key(&self) -> Result<Vec<u8>, CallbackError> {
            self.0.public_key()
        }
        fn sign(&self, m: Vec<u8>) -> Result<Vec<u8>, CallbackError> {
            self.1.sign(m)
        }
    }
    let session = token_session(
        [0x14; 32],
        Arc::new(WrongKey(
            SoftwareSigner::generate(),
            SoftwareSigner::generate(),
        )),
    );
    for _ in 0..2 {
        match session.finish() {
            Err(ApiError::Signer { message }) => {
                assert!(
                    message.contains("does not verify under the signer's public key"),
                    "{message}"
                )
            }
            other => panic!("expected a signer error, got {other:?}"),
        }
    }
    // close() while a signer waits for the user returns at once; the running finish() still
    // hands over its outcome, and the session is closed afterwards.
    struct Waiting(Arc<SoftwareSigner>, Mutex<std::sync::mpsc::Receiver<()>>);
    impl Signer for Waiting {
        fn public_key(&self) -> Result<Vec<u8>, CallbackError> {
            self.0.public_key()
        }
        fn sign(&self, m: Vec<u8>) -> Result<Vec<u8>, CallbackError> {
            self.1.lock().unwrap().recv().unwrap();
            self.0.sign(m)
        }
    }
    let (tx, rx) = std::sync::mpsc::channel();
    let session = token_session(
        [0x15; 32],
        Arc::new(Waiting(SoftwareSigner::generate(), Mutex::new(rx))),
    );
    std::thread::scope(|scope| {
        let finishing = scope.spawn(|| session.finish());
        std::thread::sleep(std::time::Duration::from_millis(200));
        let t = std::time::Instant::now();
        session.release();
        assert!(
            t.elapsed() < std::time::Duration::from_millis(100),
            "close waited"
        );
        tx.send(()).unwrap();
        let outcome = finishing.join().unwrap().unwrap();
        assert!(outcome.signed_result.is_some());
    });
    assert!(matches!(
        session.cancel(),
        Err(ApiError::SessionState { message }) if message.contains("closed")
    ));
    // A signer that hands back the wrong form is named.
    struct Der(Arc<SoftwareSigner>);
    impl Signer for Der {
        fn public_key(&self) -> Result<Vec<u8>, CallbackError> {
            self.0.public_key()
        }
        fn sign(&self, _m: Vec<u8>) -> Result<Vec<u8>, CallbackError> {
            Ok(vec![0x30; 70])
        }
    }
    let session = token_session([0x12; 32], Arc::new(Der(SoftwareSigner::generate())));
    match session.finish() {
        Err(ApiError::Signer { message }) => {
            assert!(
                message.contains("70 bytes") && message.contains("r‖s"),
                "{message}"
            )
        }
        other => panic!("expected a signer error, got {other:?}"),
    }
}

#[test]
fn tokens_are_checked_on_the_device() {
    let e = engine();
    let keys = vec![server().public_pem.clone()];
    let good = token([1; 32], now_unix());
    assert!(e.verify_token(good.clone(), keys.clone(), None).is_ok());
    let mut tampered = good.clone();
    let n = tampered.len();
    tampered[n - 70] ^= 1;
    let rejected = |r: Result<_, ApiError>, words: &[&str]| match r {
        Err(ApiError::TokenRejected { message }) => {
            for w in words {
                assert!(message.contains(w), "`{w}` not in: {message}");
            }
        }
        Err(other) => panic!("expected TokenRejected, got {other:?}"),
        Ok(_) => panic!("expected TokenRejected, got a token"),
    };
    rejected(e.verify_token(tampered, keys.clone(), None), &["signature"]);
    let other_key = CoreSoftware::generate().public().unwrap().to_pem().unwrap();
    rejected(
        e.verify_token(good.clone(), vec![other_key], None),
        &["unknown key id"],
    );
    rejected(
        e.verify_token(token([1; 32], now_unix() - 3600), keys.clone(), None),
        &["expired"],
    );
    rejected(
        e.verify_token(b"not a token".to_vec(), keys.clone(), None),
        &["malformed"],
    );
    for (bad_keys, word) in [(vec![], "no server public key"), (vec!["x".into()], "PEM")] {
        match e.verify_token(good.clone(), bad_keys, None) {
            Err(ApiError::InvalidArgument { message }) => {
                assert!(message.contains(word), "{message}")
            }
            other => panic!("expected InvalidArgument, got {:?}", other.map(|_| ())),
        }
    }
    // A bad frame is the frame's error; the session goes on.
    let session = token_session([2; 32], SoftwareSigner::generate());
    let bad = session.push_frame(Frame {
        width: 64,
        height: 64,
        format: PixelFormat::Rgb888,
        planes: vec![Plane {
            bytes: vec![0; 100],
            row_stride: 64 * 3,
        }],
        rotation_degrees: 0,
        mirrored: false,
        timestamp_ns: 0,
    });
    assert!(
        matches!(bad, Err(ApiError::InvalidArgument { .. })),
        "{bad:?}"
    );
    assert!(session.cancel().is_ok());
}

/// A camera's planes passed as borrowed buffers (CameraX's `YUV_420_888` views) are the same
/// frame as its bytes in a record: same feedback on every frame, same frame hash.
#[test]
fn camera_shaped_planes_equal_the_same_frame_as_bytes() {
    let e = engine();
    let frames: Vec<(RgbImage, u64)> = performed_capture(&[3; 32]).into_iter().take(40).collect();
    let local = || {
        e.start_local_session(
            vec![3; 32],
            FlowType::Login,
            RiskTier::Low,
            None,
            SessionOptions::default(),
        )
        .unwrap()
    };
    let (as_record, as_views, as_gathered, as_planar) = (local(), local(), local(), local());
    for (img, ts) in &frames {
        let (w, h) = (img.width, img.height);
        let (y, u, v) = rgb_to_yuv420(img);
        // Android's NV21 buffer: V then U interleaved; the V and U "planes" are views of it
        // one byte apart, each one byte short of the whole.
        let vu: Vec<u8> = v.iter().zip(&u).flat_map(|(v, u)| [*v, *u]).collect();
        let layout = |pixel_stride: u32, uv_row: u32| Yuv420Layout {
            width: w,
            height: h,
            y_row_stride: w,
            uv_row_stride: uv_row,
            uv_pixel_stride: pixel_stride,
            rotation_degrees: 0,
            mirrored: false,
            timestamp_ns: *ts,
        };
        let record = Frame {
            width: w,
            height: h,
            format: PixelFormat::Nv21,
            planes: vec![
                Plane {
                    bytes: y.clone(),
                    row_stride: w,
                },
                Plane {
                    bytes: vu.clone(),
                    row_stride: w,
                },
            ],
            rotation_degrees: 0,
            mirrored: false,
            timestamp_ns: *ts,
        };
        let a = as_record.push_frame(record).unwrap();
        let b = as_views
            .push_yuv_420_888(&y, &vu[1..], &vu[..vu.len() - 1], layout(2, w))
            .unwrap();
        assert_eq!(a, b, "frame at {ts}");
        // Separate U and V buffers with a pixel stride of 2 (gathered), and planar I420.
        let spread = |p: &[u8]| -> Vec<u8> { p.iter().flat_map(|x| [*x, 0]).collect() };
        let c = as_gathered
            .push_yuv_420_888(&y, &spread(&u), &spread(&v), layout(2, w))
            .unwrap();
        let d = as_planar
            .push_yuv_420_888(&y, &u, &v, layout(1, w / 2))
            .unwrap();
        assert_eq!(c, d, "frame at {ts}");
        assert_eq!(a, c, "frame at {ts}");
    }
    let hash = |s: &Arc<LivenessSession>| {
        let o = s.finish().unwrap();
        assert!(o.signed_result.is_none(), "a local session is never signed");
        let r: serde_json::Value = serde_json::from_str(&o.result_json).unwrap();
        r["frames_sha256"].as_str().unwrap().to_string()
    };
    assert_eq!(hash(&as_record), hash(&as_views));
    assert_eq!(hash(&as_gathered), hash(&as_planar));
    // A pixel stride that YUV_420_888 never has.
    let s = local();
    let (img, ts) = &frames[0];
    let (y, u, v) = rgb_to_yuv420(img);
    let r = s.push_yuv_420_888(
        &y,
        &u,
        &v,
        Yuv420Layout {
            width: img.width,
            height: img.height,
            y_row_stride: img.width,
            uv_row_stride: img.width,
            uv_pixel_stride: 3,
            rotation_degrees: 0,
            mirrored: false,
            timestamp_ns: *ts,
        },
    );
    assert!(
        matches!(&r, Err(ApiError::InvalidArgument { message }) if message.contains("uv_pixel_stride")),
        "{r:?}"
    );
}

#[test]
fn one_engine_serves_sessions_on_several_threads() {
    let e = engine();
    let frames: Vec<(RgbImage, u64)> = performed_capture(&[4; 32]).into_iter().take(30).collect();
    let run = || {
        let s = e
            .start_local_session(
                vec![4; 32],
                FlowType::Login,
                RiskTier::Low,
                None,
                SessionOptions::default(),
            )
            .unwrap();
        let feedback: Vec<_> = frames
            .iter()
            .map(|(img, ts)| s.push_frame(rgb_frame(img, *ts)).unwrap())
            .collect();
        let o = s.finish().unwrap();
        (feedback, o.decision, o.reasons)
    };
    let alone = run();
    let together: Vec<_> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..3).map(|_| scope.spawn(run)).collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for t in together {
        assert_eq!(t, alone);
    }
}
