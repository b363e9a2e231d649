//! `Tracker` and `StillAnalyzer` over fake model runners: scripted detections and landmarks,
//! and failures on demand, with no ONNX Runtime.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use std::sync::Arc;

use super::*;
use crate::frame::{Frame, PixelFormat, Plane};
use crate::geometry::Rect;
use crate::mesh;
use crate::models::{
    validate_inputs, Manifest, ModelError, ModelRunner, ModelSpec, TensorIn, TensorOut,
};
use crate::quality::Hint;

/// MediaPipe's canonical face model (468 vertices, cm), shared with the quality tests.
const CANONICAL_TXT: &str = include_str!("../quality/testdata/canonical_face_model.txt");

/// A runner that returns scripted outputs and fails when told to.
struct FakeRunner {
    spec: ModelSpec,
    /// One data vector per declared output.
    outputs: Mutex<Vec<Vec<f32>>>,
    /// Successful runs left before every run fails; `usize::MAX` = never fail.
    ok_runs_left: AtomicUsize,
    calls: AtomicUsize,
}

impl FakeRunner {
    fn new(spec: ModelSpec, outputs: Vec<Vec<f32>>) -> Arc<FakeRunner> {
        Arc::new(FakeRunner {
            spec,
            outputs: Mutex::new(outputs),
            ok_runs_left: AtomicUsize::new(usize::MAX),
            calls: AtomicUsize::new(0),
        })
    }

    /// Succeeds `n` more times, then fails until [`Self::heal`].
    fn fail_after(&self, n: usize) {
        self.ok_runs_left.store(n, Ordering::SeqCst);
    }

    fn heal(&self) {
        self.ok_runs_left.store(usize::MAX, Ordering::SeqCst);
    }

    fn set_output(&self, index: usize, data: Vec<f32>) {
        self.outputs.lock().unwrap()[index] = data;
    }

    fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }
}

impl ModelRunner for FakeRunner {
    fn spec(&self) -> &ModelSpec {
        &self.spec
    }

    fn run(&self, inputs: &[TensorIn<'_>], outputs: &mut Vec<TensorOut>) -> Result<(), ModelError> {
        validate_inputs(&self.spec, inputs)?;
        self.calls.fetch_add(1, Ordering::SeqCst);
        let left = self.ok_runs_left.load(Ordering::SeqCst);
        if left == 0 {
            return Err(ModelError::Inference {
                name: self.spec.name.clone(),
                reason: "fake failure".into(),
            });
        }
        if left != usize::MAX {
            self.ok_runs_left.store(left - 1, Ordering::SeqCst);
        }
        let data = self.outputs.lock().unwrap();
        outputs.resize_with(data.len(), TensorOut::default);
        for ((o, d), spec) in outputs.iter_mut().zip(data.iter()).zip(&self.spec.outputs) {
            o.shape = spec.shape.iter().map(|&s| s.max(1) as usize).collect();
            o.data.clone_from(d);
        }
        Ok(())
    }
}

/// BlazeFace (front) anchor index of the first stride-8 layer's cell (`x`, `y`) of 16×16.
fn anchor(x: usize, y: usize) -> usize {
    2 * (16 * y + x)
}

/// Detector outputs with one face per anchor in `faces` (first layer), each a box of `side`
/// input pixels (of 128) centred on its anchor, eyes level.
fn detector_outputs(faces: &[usize], side: f32) -> Vec<Vec<f32>> {
    let mut scores = vec![-20.0f32; 512];
    let mut regs = vec![0.0f32; 512 * 16];
    for &a in faces {
        scores[a] = 10.0;
        let r = &mut regs[a * 16..a * 16 + 16];
        r[2] = side;
        r[3] = side;
        let k = side / 4.0;
        let kps = [
            (-k, -k),
            (k, -k),
            (0.0, 0.0),
            (0.0, k),
            (-2.0 * k, 0.0),
            (2.0 * k, 0.0),
        ];
        for (j, (x, y)) in kps.iter().enumerate() {
            r[4 + 2 * j] = *x;
            r[5 + 2 * j] = *y;
        }
    }
    vec![scores, vec![-20.0; 384], regs, vec![0.0; 384 * 16]]
}

/// FaceMesh's landmark tensor for the canonical face, frontal, spanning 128 of the 192 input
/// pixels: a fixed point of `roi_from_landmarks` (1.5 × the landmarks' box = the ROI), so a
/// tracked face stays where it is.
fn mesh_landmarks() -> Vec<f32> {
    let pts: Vec<[f32; 3]> = CANONICAL_TXT
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let v: Vec<f32> = l.split_whitespace().map(|t| t.parse().unwrap()).collect();
            [v[0], -v[1], -v[2]]
        })
        .collect();
    assert_eq!(pts.len(), mesh::NUM_LANDMARKS);
    let (mut lo, mut hi) = ([f32::MAX; 2], [f32::MIN; 2]);
    for p in &pts {
        for k in 0..2 {
            lo[k] = lo[k].min(p[k]);
            hi[k] = hi[k].max(p[k]);
        }
    }
    let scale = 128.0 / (hi[0] - lo[0]).max(hi[1] - lo[1]);
    let c = [0.5 * (lo[0] + hi[0]), 0.5 * (lo[1] + hi[1])];
    pts.iter()
        .flat_map(|p| {
            [
                96.0 + scale * (p[0] - c[0]),
                96.0 + scale * (p[1] - c[1]),
                scale * p[2],
            ]
        })
        .collect()
}

/// Presence logit of a face that is there (sigmoid ≈ 1).
const PRESENT: f32 = 10.0;
/// Presence logit of a face that is gone.
const ABSENT: f32 = -10.0;

struct Rig {
    detector: Arc<FakeRunner>,
    mesh: Arc<FakeRunner>,
    engine: Arc<Engine>,
}

fn rig(config: EngineConfig) -> Rig {
    let manifest = Manifest::embedded().unwrap();
    let det_spec = manifest.model("blazeface_front").unwrap().clone();
    let mesh_spec = manifest.model("face_landmark").unwrap().clone();
    let detector = FakeRunner::new(det_spec, detector_outputs(&[anchor(8, 8)], 64.0));
    let mesh = FakeRunner::new(mesh_spec, vec![mesh_landmarks(), vec![PRESENT]]);
    let engine = Engine::with_runners(config, detector.clone(), mesh.clone()).unwrap();
    Rig {
        detector,
        mesh,
        engine: Arc::new(engine),
    }
}

/// `Engine::from_store` takes the detector and FaceMesh from the store: each file loads once,
/// a second engine on the same store shares the runners, and a failing load is the store's
/// error (not cached).
#[test]
fn engines_load_their_models_from_the_store() {
    use crate::models::{ModelStore, StoreConfig};
    let fail = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let f = fail.clone();
    let loader = move |_: &StoreConfig, spec: &ModelSpec, _: &std::path::Path| {
        if f.load(Ordering::SeqCst) {
            return Err(ModelError::ModelMissing {
                name: spec.name.clone(),
                path: "/nowhere".into(),
            });
        }
        let outputs = if spec.name == "face_landmark" {
            vec![mesh_landmarks(), vec![PRESENT]]
        } else {
            detector_outputs(&[anchor(8, 8)], 64.0)
        };
        Ok(FakeRunner::new(spec.clone(), outputs) as Arc<dyn ModelRunner>)
    };
    let config = EngineConfig::default();
    let store = ModelStore::with_loader(
        StoreConfig::from(&config),
        Manifest::embedded().unwrap(),
        Box::new(loader),
    )
    .unwrap();
    let e = Engine::from_store(config.clone(), &store).unwrap_err();
    assert!(
        matches!(e, crate::Error::Model(ModelError::ModelMissing { ref name, .. }) if name == "blazeface_front"),
        "{e:?}"
    );
    assert_eq!(store.loads(), 0);
    fail.store(false, Ordering::SeqCst);
    let a = Engine::from_store(config.clone(), &store).unwrap();
    let b = Engine::from_store(config, &store).unwrap();
    assert_eq!(store.loads(), 2, "detector and FaceMesh, once each");
    let names = |e: &Engine| e.model_specs().map(|s| s.name.clone());
    assert_eq!(names(&a), ["blazeface_front", "face_landmark"]);
    assert_eq!(names(&a), names(&b));
    // The engine works on what the store gave it.
    let buf = pixels();
    let mut t = Tracker::new(Arc::new(a));
    assert_eq!(t.process(&frame(&buf, 0)).unwrap().faces.len(), 1);
}

/// A mid-grey textured 256×256 RGB buffer.
fn pixels() -> Vec<u8> {
    (0..256 * 256)
        .flat_map(|i| {
            let v = 96 + ((i * 37 + (i / 256) * 11) % 64) as u8;
            [v, v, v]
        })
        .collect()
}

fn frame(buf: &[u8], ts_ns: u64) -> Frame<'_> {
    Frame::new(256, 256, PixelFormat::Rgb888, &[Plane::new(buf, 256 * 3)])
        .unwrap()
        .with_timestamp_ns(ts_ns)
}

const MS: u64 = 1_000_000;

#[test]
fn tracker_detects_then_tracks_without_the_detector() {
    let r = rig(EngineConfig::default());
    let buf = pixels();
    let mut t = Tracker::new(r.engine.clone());
    let a = t.process(&frame(&buf, 0)).unwrap();
    assert!(a.detector_ran);
    assert_eq!(a.faces.len(), 1);
    let lm_box =
        |a: &FrameAnalysis| Rect::bounding(a.faces[0].landmarks.iter().map(|p| p.xy())).unwrap();
    let first_box = lm_box(a);
    let a = t.process(&frame(&buf, 33 * MS)).unwrap();
    assert!(!a.detector_ran, "the second frame is tracked");
    assert_eq!(a.faces.len(), 1);
    let b = lm_box(a);
    // The canonical face is a fixed point of the tracking ROI: the box stays within 1 px.
    assert!((b.x_min - first_box.x_min).abs() < 1.0 && (b.x_max - first_box.x_max).abs() < 1.0);
    assert_eq!(r.detector.calls(), 1);
}

#[test]
fn still_analyzer_does_not_hand_a_stale_face_to_the_next_caller() {
    let config = EngineConfig {
        max_faces: 2,
        ..EngineConfig::default()
    };
    let r = rig(config);
    // Two faces: FaceMesh succeeds on the first and fails on the second.
    r.detector.set_output(
        0,
        detector_outputs(&[anchor(4, 8), anchor(12, 8)], 24.0)[0].clone(),
    );
    r.detector.set_output(
        2,
        detector_outputs(&[anchor(4, 8), anchor(12, 8)], 24.0)[2].clone(),
    );
    r.mesh.fail_after(1);
    let analyzer = StillAnalyzer::new(r.engine.clone());
    let buf = pixels();
    assert!(analyzer
        .analyze(&frame(&buf, 0), |a| a.faces.len())
        .is_err());
    // The next caller's image has no face at all.
    r.mesh.heal();
    r.detector.set_output(0, vec![-20.0; 512]);
    let faces = analyzer
        .analyze(&frame(&buf, 0), |a| a.faces.len())
        .unwrap();
    assert_eq!(faces, 0, "a face from the failed call leaked into this one");
}

#[test]
fn tracker_recovers_after_an_error_between_frames() {
    let r = rig(EngineConfig::default());
    let buf = pixels();
    let mut t = Tracker::new(r.engine.clone());
    t.process(&frame(&buf, 0)).unwrap();
    r.mesh.fail_after(0);
    assert!(t.process(&frame(&buf, 33 * MS)).is_err());
    r.mesh.heal();
    // No track is carried across the failed frame: the next one starts from the detector.
    let a = t.process(&frame(&buf, 50 * MS)).unwrap();
    assert!(a.detector_ran);
    assert_eq!(a.faces.len(), 1);
    // The face is gone on the next frame: no face, nothing left over from the failed one.
    r.mesh.set_output(1, vec![ABSENT]);
    r.detector.set_output(0, vec![-20.0; 512]);
    let a = t.process(&frame(&buf, 66 * MS)).unwrap();
    assert_eq!(a.faces.len(), 0);
    assert!(a.hints.contains(Hint::NoFace));
    // And it comes back normally.
    r.mesh.set_output(1, vec![PRESENT]);
    r.detector
        .set_output(0, detector_outputs(&[anchor(8, 8)], 64.0)[0].clone());
    let a = t.process(&frame(&buf, 99 * MS)).unwrap();
    assert_eq!(a.faces.len(), 1);
}

#[test]
fn tracker_runs_the_detector_again_when_the_track_is_lost() {
    let r = rig(EngineConfig::default());
    let buf = pixels();
    let mut t = Tracker::new(r.engine.clone());
    t.process(&frame(&buf, 0)).unwrap();
    t.process(&frame(&buf, 33 * MS)).unwrap();
    assert_eq!(r.detector.calls(), 1);
    // FaceMesh loses the face: the detector looks again on the same frame.
    r.mesh.set_output(1, vec![ABSENT]);
    r.detector.set_output(0, vec![-20.0; 512]);
    let a = t.process(&frame(&buf, 66 * MS)).unwrap();
    assert!(a.detector_ran);
    assert!(a.faces.is_empty());
    assert_eq!(r.detector.calls(), 2);
    // No track now: the next frame starts from the detector.
    r.mesh.set_output(1, vec![PRESENT]);
    r.detector
        .set_output(0, detector_outputs(&[anchor(8, 8)], 64.0)[0].clone());
    let a = t.process(&frame(&buf, 99 * MS)).unwrap();
    assert!(a.detector_ran);
    assert_eq!(a.faces.len(), 1);
    assert_eq!(r.detector.calls(), 3);
}

#[test]
fn tracker_recounts_faces_every_n_frames_and_keeps_the_tracked_face() {
    let config = EngineConfig {
        recount_faces_every: 3,
        ..EngineConfig::default()
    };
    let r = rig(config);
    let buf = pixels();
    let mut t = Tracker::new(r.engine.clone());
    let mut ran = Vec::new();
    for i in 0..7u64 {
        if i == 3 {
            // A second person appears for the recount.
            let two = detector_outputs(&[anchor(8, 8), anchor(1, 1)], 24.0);
            r.detector.set_output(0, two[0].clone());
            r.detector.set_output(2, two[2].clone());
        }
        let a = t.process(&frame(&buf, i * 33 * MS)).unwrap();
        ran.push(a.detector_ran);
        assert_eq!(a.faces.len(), 1, "frame {i}: the tracked face only");
        if i == 3 {
            assert_eq!(a.faces_detected, 2);
            assert!(a.hints.contains(Hint::MultipleFaces));
        }
    }
    assert_eq!(ran, [true, false, false, true, false, false, true]);
}

/// Whether stability was measured on the first face of `a`.
fn stability_measured(a: &FrameAnalysis) -> bool {
    a.faces[0]
        .quality
        .checks
        .as_ref()
        .is_some_and(|c| c.stability.is_some())
}

#[test]
fn tracker_accepts_missing_timestamps_and_skips_only_stability() {
    // An app that keeps the frame builders' default timestamp (0) on every frame.
    let r = rig(EngineConfig::default());
    let buf = pixels();
    let mut t = Tracker::new(r.engine.clone());
    let a = t.process(&frame(&buf, 0)).unwrap();
    assert!(a.notes.is_empty());
    for i in 1..5 {
        let a = t
            .process(&frame(&buf, 0))
            .unwrap_or_else(|e| panic!("frame {i} with timestamp 0 failed: {e}"));
        assert_eq!(a.faces.len(), 1, "frame {i}");
        assert!(!a.detector_ran, "frame {i}: the track is kept");
        assert_eq!(a.notes, [FrameNote::RepeatedTimestamp], "frame {i}");
        assert!(!stability_measured(a), "frame {i}");
    }
}

#[test]
fn tracker_skips_stability_on_a_repeated_timestamp_then_measures_again() {
    let r = rig(EngineConfig::default());
    let buf = pixels();
    let mut t = Tracker::new(r.engine.clone());
    t.process(&frame(&buf, 0)).unwrap();
    let a = t.process(&frame(&buf, 33 * MS)).unwrap();
    assert!(a.notes.is_empty());
    assert!(stability_measured(a));
    let a = t.process(&frame(&buf, 33 * MS)).unwrap();
    assert_eq!(a.notes, [FrameNote::RepeatedTimestamp]);
    assert!(!stability_measured(a));
    let a = t.process(&frame(&buf, 66 * MS)).unwrap();
    assert!(a.notes.is_empty());
    assert!(stability_measured(a));
    assert!(
        !a.hints.contains(Hint::HoldStill),
        "a still face: {:?}",
        a.hints
    );
}

#[test]
fn tracker_restarts_the_track_when_the_clock_goes_backwards() {
    let r = rig(EngineConfig::default());
    let buf = pixels();
    let mut t = Tracker::new(r.engine.clone());
    t.process(&frame(&buf, 100 * MS)).unwrap();
    t.process(&frame(&buf, 133 * MS)).unwrap();
    assert_eq!(r.detector.calls(), 1);
    let a = t.process(&frame(&buf, 50 * MS)).unwrap();
    assert_eq!(a.notes, [FrameNote::ClockWentBackwards]);
    assert!(a.detector_ran, "the track restarts from the detector");
    assert_eq!(a.faces.len(), 1);
    assert!(!stability_measured(a));
    // The new clock is followed from there on.
    let a = t.process(&frame(&buf, 83 * MS)).unwrap();
    assert!(a.notes.is_empty());
    assert!(!a.detector_ran);
    assert!(stability_measured(a));
}

/// Collects the names of every `Check`-shaped object (one with a `verdict`) in `v`.
fn check_keys(v: &serde_json::Value, out: &mut Vec<String>) {
    if let serde_json::Value::Object(m) = v {
        for (k, x) in m {
            if x.get("verdict").is_some() {
                out.push(k.clone());
            } else {
                check_keys(x, out);
            }
        }
    }
}

#[test]
fn the_named_check_list_is_every_check_of_the_json_form() {
    let r = rig(EngineConfig::default());
    let buf = pixels();
    let mut t = Tracker::new(r.engine.clone());
    t.process(&frame(&buf, 0)).unwrap();
    let a = t.process(&frame(&buf, 33 * MS)).unwrap();
    let checks = a.faces[0].quality.checks.as_ref().unwrap();
    let mut named: Vec<String> = checks.named().map(|(n, _)| n.to_string()).collect();
    let mut json = Vec::new();
    check_keys(&serde_json::to_value(checks).unwrap(), &mut json);
    assert!(named.contains(&"speed".to_string()) && named.contains(&"sharpness".to_string()));
    named.sort();
    json.sort();
    assert_eq!(named, json);
    assert_eq!(checks.iter().count(), named.len());
}
