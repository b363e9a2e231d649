//! The engine: models and configuration loaded once, shared by every stream (`Send + Sync`),
//! and the per-stream [`Tracker`] that holds tracking state and every reusable buffer.
//!
//! Per frame: camera frame → upright RGB (+ luma) → face detection (BlazeFace or SCRFD;
//! skipped while tracking) → FaceMesh on a rotated ROI → quality gate with hints.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use serde::Serialize;

use crate::detect::{
    self, BlazeFaceConfig, BlazeFaceDecoder, Detection, ScrfdConfig, ScrfdDecoder,
};
use crate::error::{Error, Result};
use crate::frame::{self, Frame, GrayImage, Normalize, RgbImage, TensorLayout};
use crate::geometry::{Affine2, Point3, Rect, RotatedRect};
use crate::mesh;
use crate::models::{Manifest, ModelError, ModelRunner, ModelSpec, TensorIn, TensorOut};
use crate::quality::{self, Hint, QualityConfig, QualityReport};

/// Which face detector the engine runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum DetectorKind {
    /// MediaPipe BlazeFace short-range, 128×128 (selfie distance; the default).
    BlazeFaceFront,
    /// MediaPipe BlazeFace back-camera model, 256×256 (smaller, farther faces).
    BlazeFaceBack,
    /// InsightFace SCRFD 640×640 (optional; non-commercial weights, see models/README.md).
    Scrfd,
}

impl DetectorKind {
    /// Whether FaceMesh's ROI from this detector's box needs one refinement pass. FaceMesh's
    /// 1.5× ROI is tuned for BlazeFace's eyes-to-mouth box; SCRFD's brow-to-chin box gives a
    /// larger crop, so the engine re-runs FaceMesh once on the ROI from the first pass's
    /// landmarks, as tracking does on the next frame. Seen here against MediaPipe's
    /// BlazeFace-placed result: 2.6–3.6% NME without, 1.7–2.6% with (further passes do not
    /// converge to it: the rest is FaceMesh's sensitivity to crop placement).
    pub fn refines_roi(self) -> bool {
        matches!(self, DetectorKind::Scrfd)
    }

    /// The manifest entry of this detector.
    pub fn model_name(self) -> &'static str {
        match self {
            DetectorKind::BlazeFaceFront => "blazeface_front",
            DetectorKind::BlazeFaceBack => "blazeface_back",
            DetectorKind::Scrfd => "scrfd",
        }
    }
}

/// A model file that replaces the manifest's entry: a path plus the sha256 it must have.
#[derive(Clone, Debug)]
pub struct ModelOverride {
    pub name: String,
    pub path: PathBuf,
    pub sha256: String,
}

/// Engine configuration. `Default` gives the selfie set-up: BlazeFace front, one thread.
#[derive(Clone, Debug)]
pub struct EngineConfig {
    /// Folder holding the model files named in the manifest.
    pub models_dir: PathBuf,
    /// ONNX Runtime shared library; `None` = `$ORT_DYLIB_PATH`.
    pub runtime_path: Option<PathBuf>,
    /// ONNX Runtime intra-op threads per model (1 leaves the app its other cores).
    pub intra_op_threads: usize,
    pub detector: DetectorKind,
    /// Minimum detector score (MediaPipe: 0.5).
    pub min_detection_score: f32,
    /// FaceMesh presence at or below this drops the face and the track (MediaPipe: 0.5).
    pub min_presence: f32,
    /// Faces analysed with FaceMesh per still image (the rest are only counted).
    pub max_faces: usize,
    /// While tracking, also run the detector every this many frames to notice a second face
    /// entering the picture (0 = never: pure MediaPipe-style tracking).
    pub recount_faces_every: u32,
    pub quality: QualityConfig,
    pub overrides: Vec<ModelOverride>,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            models_dir: PathBuf::from("models"),
            runtime_path: None,
            intra_op_threads: 1,
            detector: DetectorKind::BlazeFaceFront,
            min_detection_score: 0.5,
            min_presence: 0.5,
            max_faces: 4,
            recount_faces_every: 15,
            quality: QualityConfig::default(),
            overrides: Vec::new(),
        }
    }
}

impl EngineConfig {
    /// Rejects out-of-range values with a message naming the field.
    pub fn validate(&self) -> Result<()> {
        let unit = |v: f32, name: &str| -> Result<()> {
            if (0.0..=1.0).contains(&v) {
                Ok(())
            } else {
                Err(Error::Config(format!("{name} must be in [0, 1], got {v}")))
            }
        };
        unit(self.min_detection_score, "min_detection_score")?;
        unit(self.min_presence, "min_presence")?;
        if self.intra_op_threads == 0 || self.intra_op_threads > 64 {
            return Err(Error::Config(format!(
                "intra_op_threads must be 1..=64, got {}",
                self.intra_op_threads
            )));
        }
        if self.max_faces == 0 {
            return Err(Error::Config("max_faces must be at least 1".into()));
        }
        self.quality.validate()?;
        for o in &self.overrides {
            if !crate::models::is_sha256_hex(&o.sha256.to_ascii_lowercase()) {
                return Err(Error::Config(format!(
                    "model override `{}`: sha256 `{}` is not 64 hex digits",
                    o.name, o.sha256
                )));
            }
        }
        Ok(())
    }
}

/// The face detector's decoder, by kind. Decoders are cloned into each tracker (they hold
/// scratch buffers), the anchors are computed once here.
#[derive(Clone, Debug)]
enum DetectorDecoder {
    BlazeFace {
        decoder: BlazeFaceDecoder,
        size: u32,
        scores: Vec<usize>,
        regressors: Vec<usize>,
    },
    Scrfd {
        decoder: ScrfdDecoder,
        scores: Vec<usize>,
        bboxes: Vec<usize>,
        kps: Vec<usize>,
    },
}

/// Models and configuration, loaded once; shared by every stream and session.
pub struct Engine {
    config: EngineConfig,
    detector: Arc<dyn ModelRunner>,
    mesh: Arc<dyn ModelRunner>,
    decoder: DetectorDecoder,
    /// Input layout and normalisation of each model, from the manifest.
    detector_input: (TensorLayout, Normalize),
    mesh_input: (TensorLayout, Normalize),
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("detector", &self.detector.spec().name)
            .field("mesh", &self.mesh.spec().name)
            .finish()
    }
}

/// FaceMesh input side, pixels.
pub const MESH_INPUT: u32 = 192;

impl Engine {
    /// Loads ONNX Runtime and the detector and FaceMesh models, each verified against the
    /// manifest (sha256, tensor names and shapes).
    #[cfg(feature = "ort")]
    pub fn new(config: EngineConfig) -> Result<Engine> {
        use crate::models::{OrtOptions, OrtRunner, OrtRuntime};
        config.validate()?;
        let runtime = OrtRuntime::load(config.runtime_path.as_deref())?;
        let manifest = Manifest::embedded()?;
        let opts = OrtOptions {
            intra_op_threads: config.intra_op_threads,
        };
        let load = |name: &str| -> Result<Arc<dyn ModelRunner>> {
            let (spec, path) = resolve(&manifest, &config, name)?;
            Ok(Arc::new(OrtRunner::load(&runtime, &spec, &path, &opts)?))
        };
        let detector = load(config.detector.model_name())?;
        let mesh = load("face_landmark")?;
        Self::with_runners(config, detector, mesh)
    }

    /// Builds an engine over already loaded runners (another backend, or test doubles).
    pub fn with_runners(
        config: EngineConfig,
        detector: Arc<dyn ModelRunner>,
        mesh: Arc<dyn ModelRunner>,
    ) -> Result<Engine> {
        config.validate()?;
        let decoder = build_decoder(config.detector, detector.spec())?;
        check_mesh_spec(mesh.spec())?;
        let detector_input = input_format(detector.spec())?;
        let mesh_input = input_format(mesh.spec())?;
        Ok(Engine {
            config,
            detector,
            mesh,
            decoder,
            detector_input,
            mesh_input,
        })
    }

    pub fn config(&self) -> &EngineConfig {
        &self.config
    }

    /// Manifest entries of the loaded models (name, version, sha256), for audit records.
    pub fn model_specs(&self) -> [&ModelSpec; 2] {
        [self.detector.spec(), self.mesh.spec()]
    }
}

/// Loads one manifest model through ONNX Runtime with the engine configuration's model folder,
/// runtime, overrides and thread count (sha256 and interface checked). The optional stages'
/// models (depth, texture, eye state, embeddings) load through this, each file once per
/// configuration while it is in use ([`crate::models::ModelStore::shared`]).
#[cfg(feature = "ort")]
pub fn load_runner(config: &EngineConfig, name: &str) -> Result<Arc<dyn ModelRunner>> {
    Ok(crate::models::ModelStore::shared(config)?.get(name)?)
}

/// Resolves a model name to its spec and file, applying a user override (path + sha256).
pub fn resolve(
    manifest: &Manifest,
    config: &EngineConfig,
    name: &str,
) -> Result<(ModelSpec, PathBuf)> {
    Ok(crate::models::resolve(manifest, &config.into(), name)?)
}

fn output_index(spec: &ModelSpec, name: &str) -> Result<usize> {
    spec.outputs
        .iter()
        .position(|o| o.name == name)
        .ok_or_else(|| {
            Error::Model(ModelError::Manifest(format!(
                "model `{}` declares no output `{name}`",
                spec.name
            )))
        })
}

fn build_decoder(kind: DetectorKind, spec: &ModelSpec) -> Result<DetectorDecoder> {
    match kind {
        DetectorKind::BlazeFaceFront | DetectorKind::BlazeFaceBack => {
            let config = if kind == DetectorKind::BlazeFaceFront {
                BlazeFaceConfig::front()
            } else {
                BlazeFaceConfig::back()
            };
            let size = config.input_size().0;
            let decoder = BlazeFaceDecoder::new(config)?;
            // Scores are the outputs whose last dimension is 1, regressors the others, each in
            // declared order (anchor order).
            let mut scores = Vec::new();
            let mut regressors = Vec::new();
            for (i, o) in spec.outputs.iter().enumerate() {
                if o.shape.last() == Some(&1) {
                    scores.push(i);
                } else {
                    regressors.push(i);
                }
            }
            if scores.is_empty() || scores.len() != regressors.len() {
                return Err(Error::Model(ModelError::Manifest(format!(
                    "detector `{}` outputs do not pair scores with regressors",
                    spec.name
                ))));
            }
            Ok(DetectorDecoder::BlazeFace {
                decoder,
                size,
                scores,
                regressors,
            })
        }
        DetectorKind::Scrfd => {
            let config = ScrfdConfig::default();
            let mut scores = Vec::new();
            let mut bboxes = Vec::new();
            let mut kps = Vec::new();
            for s in &config.strides {
                scores.push(output_index(spec, &format!("score_{s}"))?);
                bboxes.push(output_index(spec, &format!("bbox_{s}"))?);
                kps.push(output_index(spec, &format!("kps_{s}"))?);
            }
            Ok(DetectorDecoder::Scrfd {
                decoder: ScrfdDecoder::new(config)?,
                scores,
                bboxes,
                kps,
            })
        }
    }
}

fn check_mesh_spec(spec: &ModelSpec) -> Result<()> {
    let ok = spec.inputs.len() == 1
        && spec.inputs[0].shape == [1, 3, MESH_INPUT as i64, MESH_INPUT as i64]
        && spec.outputs.len() == 2;
    if ok {
        Ok(())
    } else {
        Err(Error::Model(ModelError::Manifest(format!(
            "landmark model `{}` must take [1, 3, 192, 192] and give landmarks + presence",
            spec.name
        ))))
    }
}

/// Wall time per stage of one frame, milliseconds.
#[derive(Clone, Copy, Debug, Default, Serialize)]
pub struct StageTimings {
    /// Frame → upright RGB and luma.
    pub convert: f64,
    /// Detector pre-processing, inference and decoding (0 when tracking skipped it).
    pub detect: f64,
    /// FaceMesh ROI, warp, inference and decoding, all faces.
    pub mesh: f64,
    /// Quality gate, all faces.
    pub quality: f64,
    /// The whole frame.
    pub total: f64,
}

/// One analysed face.
#[derive(Clone, Debug, Serialize)]
pub struct FaceAnalysis {
    /// The detection this face came from (in tracking mode: the box and eyes derived from the
    /// landmarks, score = presence).
    pub detection: Detection,
    /// The FaceMesh ROI, image pixels.
    pub roi: RotatedRect,
    /// 468 landmarks in image pixels (z in the same scale, negative = towards the camera).
    pub landmarks: Vec<Point3>,
    /// FaceMesh face-presence probability.
    pub presence: f32,
    pub quality: QualityReport,
}

/// Everything the pipeline knows about one frame.
#[derive(Clone, Debug, Default, Serialize)]
pub struct FrameAnalysis {
    /// Upright frame size, pixels.
    pub width: u32,
    pub height: u32,
    pub timestamp_ns: u64,
    /// Whether the face detector ran on this frame (false when tracking carried the ROI).
    pub detector_ran: bool,
    /// Faces found by the detector (may exceed `faces.len()` when above `max_faces`).
    pub faces_detected: usize,
    pub faces: Vec<FaceAnalysis>,
    /// The capture UI's hints for this frame, most important first.
    pub hints: Vec<Hint>,
    /// What the pipeline could not measure on this frame and why (for the app's developer,
    /// not the user; empty on a normal frame).
    pub notes: Vec<FrameNote>,
    pub timings: StageTimings,
}

/// Something the pipeline skipped on a frame, and why. Never a failure: the frame's other
/// checks ran as usual.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FrameNote {
    /// The timestamp equals the previous frame's (or timestamps are missing: 0 on every
    /// frame), so no time passed: stability was not measured on this frame.
    RepeatedTimestamp,
    /// The timestamp is earlier than the previous frame's: the track was restarted and
    /// stability was not measured on this frame.
    ClockWentBackwards,
}

impl FrameAnalysis {
    /// The documented JSON form shared by the CLI, the C ABI and the docs: per face `box`
    /// `[x_min, y_min, x_max, y_max]`, `score`, `keypoints` `[[x, y]…]`, `landmarks`
    /// `[[x, y, z] ×468]` (image pixels), `presence`, `quality` (every check with value,
    /// thresholds and verdict, plus `hints`); frame-level `hints` and `timings_ms` per stage.
    pub fn to_json(&self) -> serde_json::Value {
        let faces: Vec<serde_json::Value> = self
            .faces
            .iter()
            .map(|f| {
                serde_json::json!({
                    "box": f.detection.bbox.as_array(),
                    "score": f.detection.score,
                    "keypoints": f.detection.valid_keypoints().iter().map(|p| [p.x, p.y]).collect::<Vec<_>>(),
                    "landmarks": f.landmarks.iter().map(|p| [p.x, p.y, p.z]).collect::<Vec<_>>(),
                    "presence": f.presence,
                    "quality": f.quality,
                })
            })
            .collect();
        serde_json::json!({
            "width": self.width,
            "height": self.height,
            "timestamp_ns": self.timestamp_ns,
            "detector_ran": self.detector_ran,
            "faces_detected": self.faces_detected,
            "faces": faces,
            "hints": self.hints,
            "notes": self.notes,
            "timings_ms": self.timings,
        })
    }
}

/// Per-stream state: the tracked face and every buffer reused from frame to frame.
/// Not shared between threads; make one per camera stream.
pub struct Tracker {
    engine: Arc<Engine>,
    scratch: Scratch,
    rgb: RgbImage,
    luma: GrayImage,
    /// ROIs for FaceMesh this frame, with the detection that placed each (`None` when the
    /// ROI comes from the tracked landmarks: the face summary is then made from the new ones).
    rois: Vec<(Option<Detection>, RotatedRect)>,
    faces: Vec<(Detection, RotatedRect, Vec<Point3>, f32)>,
    /// Landmarks of the last frame when the track is live.
    tracked: Option<Vec<Point3>>,
    /// Landmarks of the previous frame, for stability.
    previous: Option<Vec<Point3>>,
    /// Timestamp of the previous frame (meaningful when `previous` is set). A field of its
    /// own, always initialised: inside the `Option` its bytes are uninitialised when `None`,
    /// and the optimiser may compare them before the discriminant (valgrind then reports a
    /// jump on uninitialised memory).
    previous_ts: u64,
    frames_since_detection: u32,
    quality_scratch: quality::QualityScratch,
    analysis: FrameAnalysis,
    spare_landmarks: Vec<Vec<Point3>>,
}

impl std::fmt::Debug for Tracker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tracker")
            .field("tracking", &self.tracked.is_some())
            .finish()
    }
}

fn ms_since(t: Instant) -> f64 {
    t.elapsed().as_secs_f64() * 1e3
}

impl Tracker {
    /// A tracker for one camera stream.
    pub fn new(engine: Arc<Engine>) -> Tracker {
        let scratch = Scratch {
            decoder: engine.decoder.clone(),
            det_input: Vec::new(),
            mesh_input: vec![0.0; (3 * MESH_INPUT * MESH_INPUT) as usize],
            outputs: Vec::new(),
            detections: Vec::new(),
            mesh_landmarks: Vec::new(),
        };
        Tracker {
            engine,
            scratch,
            rgb: RgbImage::default(),
            luma: GrayImage::default(),
            rois: Vec::with_capacity(4),
            faces: Vec::with_capacity(4),
            tracked: None,
            previous: None,
            previous_ts: 0,
            frames_since_detection: 0,
            quality_scratch: quality::QualityScratch::default(),
            analysis: FrameAnalysis::default(),
            spare_landmarks: Vec::new(),
        }
    }

    pub fn engine(&self) -> &Arc<Engine> {
        &self.engine
    }

    /// The upright RGB image of the last processed frame (what the landmarks refer to), for
    /// the stages that read pixels after perception (passive liveness).
    pub fn last_rgb(&self) -> &RgbImage {
        &self.rgb
    }

    /// The analysis of the last processed frame (what [`Tracker::process`] returned), to use
    /// beside [`Tracker::last_rgb`].
    pub fn last_analysis(&self) -> &FrameAnalysis {
        &self.analysis
    }

    /// Forgets the tracked face (e.g. when the camera restarts).
    pub fn reset(&mut self) {
        self.tracked = None;
        self.previous = None;
        self.frames_since_detection = 0;
    }

    /// Empties the per-call buffers (faces found so far, ROIs, the last analysis), keeping
    /// their allocations.
    fn clear_call_state(&mut self) {
        self.rois.clear();
        for (_, _, landmarks, _) in self.faces.drain(..) {
            self.spare_landmarks.push(landmarks);
        }
        for f in self.analysis.faces.drain(..) {
            self.spare_landmarks.push(f.landmarks);
        }
        self.analysis.hints.clear();
        self.analysis.notes.clear();
        self.analysis.faces_detected = 0;
        self.analysis.detector_ran = false;
    }

    /// Analyses a still image: the detector runs, every face up to `max_faces` gets landmarks
    /// and quality, and no tracking state is used or kept.
    pub fn analyze_still(&mut self, frame: &Frame<'_>) -> Result<&FrameAnalysis> {
        self.reset();
        let result = self.run(frame, false);
        self.reset();
        result.map(|()| &self.analysis)
    }

    /// Processes the next frame of a stream in tracking mode: the ROI comes from the previous
    /// landmarks while FaceMesh's presence stays high; the detector runs when the track is
    /// lost (and every `recount_faces_every` frames to count faces).
    ///
    /// Timestamps should increase. A repeated timestamp (or none: 0 on every frame) skips
    /// stability on that frame; one going backwards restarts the track. Both are reported in
    /// [`FrameAnalysis::notes`], and neither fails the frame.
    pub fn process(&mut self, frame: &Frame<'_>) -> Result<&FrameAnalysis> {
        if let Err(e) = self.run(frame, true) {
            // Do not carry a track across a failed frame (every binding gets this here).
            self.reset();
            return Err(e);
        }
        Ok(&self.analysis)
    }

    fn run(&mut self, frame: &Frame<'_>, tracking: bool) -> Result<()> {
        let t0 = Instant::now();
        // Per-call state starts empty: a call that failed half-way (e.g. FaceMesh erroring on
        // the second face) must not leave faces or ROIs for the next call to report.
        self.clear_call_state();
        if let (true, Some(_)) = (tracking, &self.previous) {
            let (now, ts) = (frame.timestamp_ns(), self.previous_ts);
            if now < ts {
                // A clock going backwards breaks stability and timing: start over.
                log::warn!(
                    "frame timestamp went backwards ({now} < {ts} ns); restarting the track"
                );
                self.reset();
                self.analysis.notes.push(FrameNote::ClockWentBackwards);
            } else if now == ts {
                log::debug!("frame timestamp {now} ns repeats the previous one; stability skipped");
                self.analysis.notes.push(FrameNote::RepeatedTimestamp);
            }
        }
        frame.to_rgb_into(&mut self.rgb)?;
        frame.to_luma_into(&mut self.luma)?;
        self.analysis.width = self.rgb.width;
        self.analysis.height = self.rgb.height;
        self.analysis.timestamp_ns = frame.timestamp_ns();
        self.analysis.timings = StageTimings {
            convert: ms_since(t0),
            ..StageTimings::default()
        };

        let config = &self.engine.config;
        let recount = tracking
            && self.tracked.is_some()
            && config.recount_faces_every > 0
            && self.frames_since_detection + 1 >= config.recount_faces_every;
        self.rois.clear();
        if tracking && !recount {
            if let Some(prev) = &self.tracked {
                self.rois.push((None, mesh::roi_from_landmarks(prev)?));
            }
        }
        let detector_ran = self.rois.is_empty();
        if detector_ran {
            self.analysis.timings.detect = detect(&self.engine, &mut self.scratch, &self.rgb)?;
            self.analysis.faces_detected = self.scratch.detections.len();
            if recount {
                // Counting faces only: keep following the tracked face rather than jumping to
                // the detector's best one.
                if let Some(prev) = &self.tracked {
                    self.rois.push((None, mesh::roi_from_landmarks(prev)?));
                }
            } else {
                let keep = if tracking { 1 } else { config.max_faces };
                for d in self.scratch.detections.iter().take(keep) {
                    self.rois.push((Some(*d), mesh::roi_from_detection(d)?));
                }
            }
        }
        self.analysis.detector_ran = detector_ran;
        self.frames_since_detection = if detector_ran {
            0
        } else {
            self.frames_since_detection + 1
        };

        self.mesh_rois()?;
        // A tracked face that vanished: look again with the detector on this same frame.
        if tracking && !detector_ran && self.faces.is_empty() {
            self.tracked = None;
            self.analysis.timings.detect += detect(&self.engine, &mut self.scratch, &self.rgb)?;
            self.analysis.detector_ran = true;
            self.frames_since_detection = 0;
            self.analysis.faces_detected = self.scratch.detections.len();
            if let Some(d) = self.scratch.detections.first().copied() {
                self.rois.clear();
                self.rois.push((Some(d), mesh::roi_from_detection(&d)?));
                self.mesh_rois()?;
            }
        }
        self.finish(tracking, t0)
    }

    /// FaceMesh on every ROI of `self.rois` into `self.faces` (faces below the presence
    /// threshold are dropped).
    fn mesh_rois(&mut self) -> Result<()> {
        let tm = Instant::now();
        let refines = self.engine.config.detector.refines_roi();
        for (det, roi) in self.rois.iter() {
            let mut landmarks = self.spare_landmarks.pop().unwrap_or_default();
            let mut roi = *roi;
            let (engine, scratch, rgb) = (&self.engine, &mut self.scratch, &self.rgb);
            let mut presence = run_mesh(engine, scratch, rgb, &roi, &mut landmarks)?;
            // Only a ROI placed from a detector box that FaceMesh was not tuned for.
            if refines && det.is_some() && presence > engine.config.min_presence {
                roi = mesh::roi_from_landmarks(&landmarks)?;
                presence = run_mesh(engine, scratch, rgb, &roi, &mut landmarks)?;
            }
            // Strictly above, as MediaPipe's ThresholdingCalculator.
            if presence <= self.engine.config.min_presence {
                self.spare_landmarks.push(landmarks);
                continue;
            }
            let detection = det.unwrap_or_else(|| detection_from_landmarks(&landmarks, presence));
            self.faces.push((detection, roi, landmarks, presence));
        }
        self.analysis.timings.mesh += ms_since(tm);
        Ok(())
    }

    fn finish(&mut self, tracking: bool, t0: Instant) -> Result<()> {
        let tq = Instant::now();
        let (w, h) = (self.rgb.width, self.rgb.height);
        if !self.analysis.detector_ran {
            // Tracking carried the face: the count is what the last detection saw, at least 1.
            self.analysis.faces_detected = self.analysis.faces_detected.max(self.faces.len());
        }
        let num_faces = self.analysis.faces_detected.max(self.faces.len());
        // Seconds since the previous frame; `None` (stability skipped) when no time passed.
        let now = self.analysis.timestamp_ns;
        let dt_s = match &self.previous {
            Some(_) if now > self.previous_ts => Some((now - self.previous_ts) as f32 * 1e-9),
            _ => None,
        };
        let luma = quality::LumaView::new(w, h, &self.luma.data, w as usize)?;
        if self.faces.is_empty() {
            let report = quality::assess_no_face_in(&self.engine.config.quality, &luma);
            self.analysis.hints.extend(report.hints.iter().copied());
        }
        for (i, (detection, roi, landmarks, presence)) in self.faces.drain(..).enumerate() {
            let previous = match (&self.previous, dt_s) {
                (Some(p), Some(_)) if i == 0 && tracking => Some(p.as_slice()),
                _ => None,
            };
            let input = quality::QualityInput {
                luma,
                // The landmarks' extent, not the detector's box: the same measure in still and
                // tracking mode, and precise on small faces where BlazeFace's box is loose.
                face_box: Rect::bounding(landmarks.iter().map(|p| p.xy()))
                    .unwrap_or(detection.bbox),
                landmarks: &landmarks,
                presence,
                previous,
                dt_s: dt_s.unwrap_or(0.0),
                num_faces,
            };
            let report = quality::assess(
                &self.engine.config.quality,
                &input,
                &mut self.quality_scratch,
            )?;
            for hint in &report.hints {
                if !self.analysis.hints.contains(hint) {
                    self.analysis.hints.push(*hint);
                }
            }
            self.analysis.faces.push(FaceAnalysis {
                detection,
                roi,
                landmarks,
                presence,
                quality: report,
            });
        }
        self.analysis.hints.sort_by_key(|h| h.priority());
        // Tracking state for the next frame.
        match self.analysis.faces.first() {
            Some(f) if tracking => {
                let mut buf = self.tracked.take().unwrap_or_default();
                buf.clear();
                buf.extend_from_slice(&f.landmarks);
                self.tracked = Some(buf);
                let mut prev = self.previous.take().unwrap_or_default();
                prev.clear();
                prev.extend_from_slice(&f.landmarks);
                self.previous = Some(prev);
                self.previous_ts = self.analysis.timestamp_ns;
            }
            _ => {
                self.tracked = None;
                self.previous = None;
            }
        }
        self.analysis.timings.quality = ms_since(tq);
        self.analysis.timings.total = ms_since(t0);
        Ok(())
    }

    /// Runs only the face detector on an upright RGB image; detections best first, in image
    /// pixels. For callers that schedule stages themselves (and for the benchmarks).
    pub fn detect_rgb(&mut self, img: &RgbImage) -> Result<&[Detection]> {
        detect(&self.engine, &mut self.scratch, img)?;
        Ok(&self.scratch.detections)
    }

    /// Runs only FaceMesh on `roi` of an upright RGB image: 468 landmarks in image pixels and
    /// the face-presence probability.
    pub fn mesh_rgb(&mut self, img: &RgbImage, roi: &RotatedRect) -> Result<(&[Point3], f32)> {
        let mut lm = std::mem::take(&mut self.scratch.mesh_landmarks);
        let presence = run_mesh(&self.engine, &mut self.scratch, img, roi, &mut lm);
        self.scratch.mesh_landmarks = lm;
        Ok((&self.scratch.mesh_landmarks, presence?))
    }
}

/// Buffers the model stages reuse from frame to frame.
struct Scratch {
    decoder: DetectorDecoder,
    det_input: Vec<f32>,
    mesh_input: Vec<f32>,
    outputs: Vec<TensorOut>,
    detections: Vec<Detection>,
    mesh_landmarks: Vec<Point3>,
}

/// Up to three output tensors, by index (no allocation per frame).
fn pick<'a>(outputs: &'a [TensorOut], idx: &[usize]) -> Result<[&'a [f32]; 3]> {
    let mut out: [&[f32]; 3] = [&[]; 3];
    if idx.len() > 3 {
        return Err(Error::Internal(format!(
            "{} output groups; at most 3 are supported",
            idx.len()
        )));
    }
    for (o, &i) in out.iter_mut().zip(idx) {
        *o = outputs.get(i).map(|t| t.data.as_slice()).unwrap_or(&[]);
    }
    Ok(out)
}

/// Layout and normalisation of a model's image input, from its manifest entry (so a user's
/// replacement model with other preprocessing works without code changes).
fn input_format(spec: &ModelSpec) -> Result<(TensorLayout, Normalize)> {
    let p = spec.preprocess.as_ref().ok_or_else(|| {
        Error::Model(ModelError::Manifest(format!(
            "model `{}` declares no preprocess",
            spec.name
        )))
    })?;
    let layout = match p.layout.as_str() {
        "NHWC" => TensorLayout::Nhwc,
        "NCHW" => TensorLayout::Nchw,
        other => {
            return Err(Error::Model(ModelError::Manifest(format!(
                "model `{}`: layout `{other}`, expected NHWC or NCHW",
                spec.name
            ))))
        }
    };
    if p.colour != "RGB" || p.std.iter().any(|&s| !(s.is_finite() && s > 0.0)) {
        return Err(Error::Model(ModelError::Manifest(format!(
            "model `{}`: preprocessing must be RGB with positive std, got {} {:?}",
            spec.name, p.colour, p.std
        ))));
    }
    Ok((layout, Normalize::from_mean_std(p.mean, p.std)))
}

/// Warps `img` through `src_from_dst` into the model's `w`×`h` input tensor (laid out and
/// normalised as its manifest says) and runs it; outputs land in `outputs`.
#[allow(clippy::too_many_arguments)]
fn warp_and_run(
    runner: &dyn ModelRunner,
    (layout, norm): (TensorLayout, Normalize),
    img: &RgbImage,
    src_from_dst: &Affine2,
    (w, h): (u32, u32),
    border: frame::Border,
    input: &mut Vec<f32>,
    outputs: &mut Vec<TensorOut>,
) -> Result<()> {
    input.resize((3 * w * h) as usize, 0.0);
    frame::warp_affine_to_tensor(img, src_from_dst, w, h, border, layout, &norm, input)?;
    let (w, h) = (w as usize, h as usize);
    let shape = match layout {
        TensorLayout::Nhwc => [1, h, w, 3],
        TensorLayout::Nchw => [1, 3, h, w],
    };
    runner.run(
        &[TensorIn {
            data: input,
            shape: &shape,
        }],
        outputs,
    )?;
    Ok(())
}

/// Runs the detector on `img` into `s.detections` (best first); returns the wall time in ms.
fn detect(engine: &Engine, s: &mut Scratch, img: &RgbImage) -> Result<f64> {
    let t = Instant::now();
    let (w, h) = (img.width, img.height);
    let min_score = engine.config.min_detection_score;
    let runner = engine.detector.as_ref();
    match &mut s.decoder {
        DetectorDecoder::BlazeFace {
            decoder,
            size,
            scores,
            regressors,
        } => {
            let tf = detect::blazeface_input_transform(w, h, *size)?;
            let border = detect::BLAZEFACE_BORDER;
            warp_and_run(
                runner,
                engine.detector_input,
                img,
                &tf,
                (*size, *size),
                border,
                &mut s.det_input,
                &mut s.outputs,
            )?;
            let n = scores.len();
            let (sc, rg) = (pick(&s.outputs, scores)?, pick(&s.outputs, regressors)?);
            decoder.decode(&sc[..n], &rg[..n], &tf, min_score, &mut s.detections)?;
        }
        DetectorDecoder::Scrfd {
            decoder,
            scores,
            bboxes,
            kps,
        } => {
            let size = (decoder.config().input_width, decoder.config().input_height);
            let tf = detect::scrfd_input_transform(w, h, size.0, size.1)?;
            warp_and_run(
                runner,
                engine.detector_input,
                img,
                &tf,
                size,
                detect::SCRFD_BORDER,
                &mut s.det_input,
                &mut s.outputs,
            )?;
            let n = scores.len();
            let (sc, bb, kp) = (
                pick(&s.outputs, scores)?,
                pick(&s.outputs, bboxes)?,
                pick(&s.outputs, kps)?,
            );
            decoder.decode(
                &sc[..n],
                &bb[..n],
                Some(&kp[..n]),
                &tf,
                min_score,
                &mut s.detections,
            )?;
        }
    }
    Ok(ms_since(t))
}

/// Runs FaceMesh on `roi` of `img`; writes 468 landmarks (image pixels), returns presence.
fn run_mesh(
    engine: &Engine,
    s: &mut Scratch,
    img: &RgbImage,
    roi: &RotatedRect,
    landmarks: &mut Vec<Point3>,
) -> Result<f32> {
    let tf: Affine2 = mesh::roi_to_input_transform(roi, MESH_INPUT)?;
    let size = (MESH_INPUT, MESH_INPUT);
    warp_and_run(
        engine.mesh.as_ref(),
        engine.mesh_input,
        img,
        &tf,
        size,
        mesh::INPUT_BORDER,
        &mut s.mesh_input,
        &mut s.outputs,
    )?;
    landmarks.resize(mesh::NUM_LANDMARKS, Point3::default());
    mesh::decode_landmarks(&s.outputs[0].data, &tf, landmarks)?;
    let logit = s.outputs[1]
        .data
        .first()
        .copied()
        .unwrap_or(f32::NEG_INFINITY);
    Ok(mesh::presence_score(logit))
}

/// A detection-shaped summary of tracked landmarks: their bounding box and the eyes, nose and
/// mouth centre as keypoints, in BlazeFace's keypoint order.
fn detection_from_landmarks(landmarks: &[Point3], score: f32) -> Detection {
    use crate::geometry::Point2;
    let bbox = Rect::bounding(landmarks.iter().map(|p| p.xy())).unwrap_or_default();
    let at = |i: usize| landmarks.get(i).map(|p| p.xy()).unwrap_or_default();
    let mid = |a: Point2, b: Point2| Point2::new(0.5 * (a.x + b.x), 0.5 * (a.y + b.y));
    let mut keypoints = [Point2::default(); detect::MAX_KEYPOINTS];
    keypoints[0] = mid(
        at(mesh::idx::RIGHT_EYE_OUTER),
        at(mesh::idx::RIGHT_EYE_INNER),
    );
    keypoints[1] = mid(at(mesh::idx::LEFT_EYE_INNER), at(mesh::idx::LEFT_EYE_OUTER));
    keypoints[2] = at(mesh::idx::NOSE_TIP);
    keypoints[3] = mid(
        at(mesh::idx::UPPER_LIP_INNER),
        at(mesh::idx::LOWER_LIP_INNER),
    );
    keypoints[4] = at(mesh::idx::FACE_EDGE_RIGHT);
    keypoints[5] = at(mesh::idx::FACE_EDGE_LEFT);
    Detection {
        bbox,
        score,
        keypoints,
        num_keypoints: 6,
    }
}

/// Still-image analysis from many threads at once: a small pool of trackers over one engine,
/// so concurrent calls each get their own buffers (they wait on each other only inside ONNX
/// Runtime, one inference per model at a time) and steady use allocates no new trackers.
/// This is what the C ABI's `lp_engine_analyze_frame` and UniFFI's `analyze_frame` run.
#[derive(Debug)]
pub struct StillAnalyzer {
    engine: Arc<Engine>,
    idle: std::sync::Mutex<Vec<Tracker>>,
}

impl StillAnalyzer {
    /// Idle trackers kept for reuse (each holds about 1.5 MB of buffers at 640×480).
    pub const MAX_IDLE: usize = 4;

    pub fn new(engine: Arc<Engine>) -> StillAnalyzer {
        StillAnalyzer {
            engine,
            idle: std::sync::Mutex::new(Vec::new()),
        }
    }

    pub fn engine(&self) -> &Arc<Engine> {
        &self.engine
    }

    /// Analyses a still image (see [`Tracker::analyze_still`]) and hands the result to `f`
    /// while the pooled tracker's buffers still hold it.
    pub fn analyze<R>(&self, frame: &Frame<'_>, f: impl FnOnce(&FrameAnalysis) -> R) -> Result<R> {
        let taken = self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop();
        let mut tracker = taken.unwrap_or_else(|| Tracker::new(self.engine.clone()));
        let result = tracker.analyze_still(frame).map(f);
        // A tracker whose call failed is dropped, not pooled: nothing it held can reach the
        // next caller.
        if result.is_ok() {
            let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
            if idle.len() < Self::MAX_IDLE {
                idle.push(tracker);
            }
        }
        result
    }
}

#[cfg(test)]
mod tests;
