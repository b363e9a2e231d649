//! UniFFI exports (proc-macros, no UDL): the Kotlin and Swift surface over core's perception
//! API. Generated bindings live in `bindings-kotlin/` and `bindings-swift/` (`cargo xtask gen`).
//!
//! - [`Engine`]: models loaded once, shared by every thread; [`Engine::analyze_frame`]
//!   analyses a still image.
//! - [`Tracker`]: one camera stream in tracking mode, made by
//!   [`Engine::new_tracker`].
//! - Records ([`Frame`], [`FrameAnalysis`], [`FaceAnalysis`], [`FaceQuality`], ...) are plain
//!   copies of core's types; the conversions below are the only logic here.
//!
//! Every exported body runs inside [`catch_panic`]; every error is an [`ApiError`] mapped at
//! its single mapping point (`error.rs`).

use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};

use liveproof_core::frame::{self as core_frame, Rotation};
use liveproof_core::perception::{
    self as core_perception, Engine as CoreEngine, StillAnalyzer, Tracker as CoreTracker,
};
use liveproof_core::quality::{Check, FaceChecks, QualityReport};
// Core's enums cross the boundary as they are: mirrored below with `uniffi::remote`, so no
// hand-written conversion can drift from them.
pub use liveproof_core::frame::PixelFormat;
pub use liveproof_core::perception::DetectorKind;
pub use liveproof_core::quality::Hint;

use crate::error::catch_panic;
use crate::ApiError;

mod session;
pub use session::*;

// ---------------------------------------------------------------------------------------------
// Configuration.

/// Which face detector the engine runs.
#[uniffi::remote(Enum)]
pub enum DetectorKind {
    /// MediaPipe BlazeFace short-range, 128×128: selfie distance (the default).
    BlazeFaceFront,
    /// MediaPipe BlazeFace back-camera model, 256×256: smaller, farther faces.
    BlazeFaceBack,
    /// InsightFace SCRFD 640×640 (optional; non-commercial weights, see models/README.md).
    Scrfd,
}

/// How to load the engine.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct EngineConfig {
    /// Folder holding the model files named in the manifest (sha256-checked at load).
    pub models_dir: String,
    /// Face detector.
    pub detector: DetectorKind,
    /// ONNX Runtime shared library; `None` = `$ORT_DYLIB_PATH`.
    #[uniffi(default = None)]
    pub ort_library_path: Option<String>,
    /// ONNX Runtime intra-op threads per model, 1..=64 (1 leaves the app its other cores).
    #[uniffi(default = 1)]
    pub intra_op_threads: u32,
}

impl EngineConfig {
    /// Core's configuration: these fields over core's defaults.
    pub fn to_config(&self) -> core_perception::EngineConfig {
        core_perception::EngineConfig {
            models_dir: PathBuf::from(&self.models_dir),
            runtime_path: self.ort_library_path.as_ref().map(PathBuf::from),
            intra_op_threads: self.intra_op_threads as usize,
            detector: self.detector,
            ..core_perception::EngineConfig::default()
        }
    }
}

/// Log verbosity of [`init_logging`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, uniffi::Enum)]
pub enum LogLevel {
    Off,
    Error,
    Warn,
    Info,
    Debug,
    Trace,
}

impl From<LogLevel> for log::LevelFilter {
    fn from(l: LogLevel) -> Self {
        match l {
            LogLevel::Off => log::LevelFilter::Off,
            LogLevel::Error => log::LevelFilter::Error,
            LogLevel::Warn => log::LevelFilter::Warn,
            LogLevel::Info => log::LevelFilter::Info,
            LogLevel::Debug => log::LevelFilter::Debug,
            LogLevel::Trace => log::LevelFilter::Trace,
        }
    }
}

impl From<log::Level> for LogLevel {
    fn from(l: log::Level) -> Self {
        match l {
            log::Level::Error => LogLevel::Error,
            log::Level::Warn => LogLevel::Warn,
            log::Level::Info => LogLevel::Info,
            log::Level::Debug => LogLevel::Debug,
            log::Level::Trace => LogLevel::Trace,
        }
    }
}

/// Routes the SDK's log records to the platform logger (logcat on Android, unified logging on
/// Apple with the `oslog` feature, stderr elsewhere) and the [`LogSink`], at `level` and above.
/// Idempotent: the first call installs the logger, every call sets the level. At `Info` the
/// SDK logs the session's course only (no face data, landmarks or scores: those are `Debug`).
#[uniffi::export]
pub fn init_logging(level: LogLevel) {
    let _ = catch_panic(|| {
        crate::logging::init_logging(level.into());
        Ok(())
    });
}

/// The app's own log destination (its logging framework, a crash reporter's breadcrumbs).
#[uniffi::export(with_foreign)]
pub trait LogSink: Send + Sync {
    /// One record: level, target (the Rust module) and the message.
    fn log(&self, level: LogLevel, target: String, message: String);
}

/// Sets (or with `None` removes) the app's [`LogSink`]; records reach it once [`init_logging`]
/// ran, at the level set there.
#[uniffi::export]
pub fn set_log_sink(sink: Option<Arc<dyn LogSink>>) {
    crate::logging::set_sink(sink.map(|s| {
        Arc::new(move |level: log::Level, target: &str, message: &str| {
            s.log(level.into(), target.to_string(), message.to_string())
        }) as crate::logging::Sink
    }));
}

/// The library version (the workspace version, e.g. "0.1.0").
#[uniffi::export]
pub fn version() -> String {
    crate::VERSION.to_string()
}

// ---------------------------------------------------------------------------------------------
// Frames.

/// Pixel layout of a camera buffer.
#[uniffi::remote(Enum)]
pub enum PixelFormat {
    /// Packed R, G, B, A bytes (Android `Bitmap.Config.ARGB_8888` memory order). 1 plane.
    Rgba8888,
    /// Packed B, G, R, A bytes (iOS `kCVPixelFormatType_32BGRA`). 1 plane.
    Bgra8888,
    /// Packed R, G, B bytes. 1 plane.
    Rgb888,
    /// Y plane + interleaved V,U plane at half resolution (Android camera NV21). 2 planes.
    Nv21,
    /// Y plane + interleaved U,V plane at half resolution (iOS 420v/420f). 2 planes.
    Nv12,
    /// Y, U, V planes, chroma at half resolution in both directions. 3 planes.
    I420,
    /// One luma byte per pixel. 1 plane.
    Gray8,
}

/// One plane of a camera buffer.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct Plane {
    pub bytes: Vec<u8>,
    /// Bytes from the start of one row to the start of the next (≥ row bytes; the last row
    /// may be unpadded).
    pub row_stride: u32,
}

/// A camera frame as delivered: buffer size before rotation, planes, and how to make it upright.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct Frame {
    /// Buffer width as delivered (before rotation), pixels.
    pub width: u32,
    /// Buffer height as delivered (before rotation), pixels.
    pub height: u32,
    pub format: PixelFormat,
    /// The format's planes in order (Y first for YUV formats).
    pub planes: Vec<Plane>,
    /// Clockwise rotation that makes the buffer upright, degrees: a multiple of 90 (Android
    /// `ImageInfo.rotationDegrees`).
    #[uniffi(default = 0)]
    pub rotation_degrees: i32,
    /// Flip horizontally after the rotation (front-camera preview).
    #[uniffi(default = false)]
    pub mirrored: bool,
    /// Capture time, nanoseconds on a monotonic clock (used by tracking for stability).
    #[uniffi(default = 0)]
    pub timestamp_ns: u64,
}

impl Frame {
    /// A validated core frame borrowing these planes; bad sizes, strides, plane counts and
    /// rotations give [`ApiError::InvalidArgument`] with core's message.
    pub fn to_core(&self) -> Result<core_frame::Frame<'_>, ApiError> {
        let mut planes = Vec::with_capacity(self.planes.len());
        for p in &self.planes {
            planes.push(core_frame::Plane::new(&p.bytes, p.row_stride as usize));
        }
        let rotation = Rotation::from_degrees(self.rotation_degrees)?;
        Ok(
            core_frame::Frame::new(self.width, self.height, self.format, &planes)?
                .with_rotation(rotation)
                .with_mirrored(self.mirrored)
                .with_timestamp_ns(self.timestamp_ns),
        )
    }
}

// ---------------------------------------------------------------------------------------------
// Results.

/// What the capture UI should tell the user; mirrors core's `quality::Hint`. Declaration order
/// is the priority order: show the first one.
#[uniffi::remote(Enum)]
pub enum Hint {
    NoFace,
    MultipleFaces,
    FaceOccluded,
    TooDark,
    TooBright,
    MoveCloser,
    MoveAway,
    CenterFace,
    LookStraight,
    Blurry,
    HoldStill,
}

/// Axis-aligned box, upright-image pixels.
#[derive(Clone, Copy, Debug, PartialEq, uniffi::Record)]
pub struct BoundingBox {
    pub x_min: f32,
    pub y_min: f32,
    pub x_max: f32,
    pub y_max: f32,
}

/// A 2D point, upright-image pixels (x right, y down).
#[derive(Clone, Copy, Debug, PartialEq, uniffi::Record)]
pub struct Point {
    pub x: f32,
    pub y: f32,
}

/// A FaceMesh landmark: x, y in upright-image pixels, z in the same scale (negative = towards
/// the camera).
#[derive(Clone, Copy, Debug, PartialEq, uniffi::Record)]
pub struct Landmark {
    pub x: f32,
    pub y: f32,
    pub z: f32,
}

/// One quality check: a measured value against its thresholds.
#[derive(Clone, Debug, PartialEq, uniffi::Record)]
pub struct QualityCheck {
    /// The check's name, as in the JSON form: `sharpness`, `mean_luma`, `yaw`, ...
    pub name: String,
    pub value: f32,
    /// Lower bound, if the check has one (passes when `min ≤ value`).
    pub min: Option<f32>,
    /// Upper bound, if the check has one (passes when `value ≤ max`).
    pub max: Option<f32>,
    pub passed: bool,
    /// The hint a failure gives.
    pub hint: Option<Hint>,
}

/// The capture-quality gate's answer for one face. Poor quality means *retry*, never *spoof*.
#[derive(Clone, Debug, PartialEq, uniffi::Record)]
pub struct FaceQuality {
    /// No check failed and exactly one face is in the frame.
    pub passed: bool,
    /// Distinct hints of the failed checks, highest priority first.
    pub hints: Vec<Hint>,
    /// Degrees, positive = the subject turns to their left.
    pub yaw_deg: f32,
    /// Degrees, positive = chin up.
    pub pitch_deg: f32,
    /// Degrees, positive = head tilts towards the subject's left shoulder.
    pub roll_deg: f32,
    /// Contrast-normalised Laplacian variance of the face crop; `None` when too little of the
    /// face is inside the frame to measure.
    pub sharpness: Option<f32>,
    /// Mean luma of the face ellipse, 0–255; `None` as `sharpness`.
    pub mean_luma: Option<f32>,
    /// Face box width / frame short side.
    pub face_ratio: f32,
    /// Every check with its value, thresholds and verdict.
    pub checks: Vec<QualityCheck>,
}

/// One analysed face.
#[derive(Clone, Debug, PartialEq, uniffi::Record)]
pub struct FaceAnalysis {
    /// Detector box (in tracking mode: the landmarks' bounding box), pixels.
    pub bounding_box: BoundingBox,
    /// Detector score (in tracking mode: the FaceMesh presence), 0..1.
    pub score: f32,
    /// Detector keypoints, subject's right eye first (BlazeFace 6, SCRFD 5), pixels.
    pub keypoints: Vec<Point>,
    /// The 468 FaceMesh landmarks, MediaPipe's order.
    pub landmarks: Vec<Landmark>,
    /// FaceMesh face-presence probability, 0..1.
    pub presence: f32,
    pub quality: FaceQuality,
}

/// Something the pipeline skipped on a frame, and why; mirrors core's `FrameNote`. Never a
/// failure: the frame's other checks ran. For the app's developer, not the user.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, uniffi::Enum)]
pub enum FrameNote {
    /// The timestamp equals the previous frame's (or timestamps are missing: 0 on every
    /// frame): stability was not measured on this frame.
    RepeatedTimestamp,
    /// The timestamp is earlier than the previous frame's: the track was restarted and
    /// stability was not measured on this frame.
    ClockWentBackwards,
}

impl From<core_perception::FrameNote> for FrameNote {
    fn from(n: core_perception::FrameNote) -> Self {
        match n {
            core_perception::FrameNote::RepeatedTimestamp => FrameNote::RepeatedTimestamp,
            core_perception::FrameNote::ClockWentBackwards => FrameNote::ClockWentBackwards,
        }
    }
}

/// Wall time per stage of one frame, milliseconds.
#[derive(Clone, Copy, Debug, PartialEq, uniffi::Record)]
pub struct StageTimings {
    pub convert_ms: f64,
    pub detect_ms: f64,
    pub mesh_ms: f64,
    pub quality_ms: f64,
    /// Inside model inference, every model call of the frame (part of `detect_ms` and
    /// `mesh_ms`): `total_ms − model_ms` is the frame's own pixel and bookkeeping work.
    pub model_ms: f64,
    pub total_ms: f64,
}

/// Everything the pipeline found in one frame.
#[derive(Clone, Debug, PartialEq, uniffi::Record)]
pub struct FrameAnalysis {
    /// Upright frame size, pixels.
    pub width: u32,
    pub height: u32,
    pub timestamp_ns: u64,
    /// Whether the face detector ran (false when tracking carried the face).
    pub detector_ran: bool,
    /// Faces the detector found (may exceed `faces.size` above the engine's `max_faces`).
    pub faces_detected: u32,
    pub faces: Vec<FaceAnalysis>,
    /// The capture UI's hints for this frame, most important first.
    pub hints: Vec<Hint>,
    /// What the pipeline could not measure on this frame and why (empty on a normal frame).
    pub notes: Vec<FrameNote>,
    pub timings: StageTimings,
}

fn check(name: &str, c: &Check) -> QualityCheck {
    QualityCheck {
        name: name.to_string(),
        value: c.value,
        min: c.min,
        max: c.max,
        passed: c.verdict.passed(),
        hint: c.verdict.hint(),
    }
}

/// Every check of a face, named as in the JSON form (core's one list).
fn named_checks(c: &FaceChecks) -> Vec<QualityCheck> {
    c.named().map(|(name, c)| check(name, c)).collect()
}

impl TryFrom<&QualityReport> for FaceQuality {
    type Error = ApiError;

    /// A face's report; one without checks (only the no-face report has none) is a bug.
    fn try_from(r: &QualityReport) -> Result<Self, ApiError> {
        let c = r.checks.as_ref().ok_or_else(|| ApiError::Internal {
            message: "a face's quality report has no checks".into(),
        })?;
        Ok(FaceQuality {
            passed: r.passed,
            hints: r.hints.to_vec(),
            yaw_deg: c.yaw.value,
            pitch_deg: c.pitch.value,
            roll_deg: c.roll.value,
            sharpness: c.image.as_ref().map(|i| i.sharpness.value),
            mean_luma: c.image.as_ref().map(|i| i.mean_luma.value),
            face_ratio: c.face_ratio.value,
            checks: named_checks(c),
        })
    }
}

impl TryFrom<&core_perception::FaceAnalysis> for FaceAnalysis {
    type Error = ApiError;

    fn try_from(f: &core_perception::FaceAnalysis) -> Result<Self, ApiError> {
        let b = f.detection.bbox;
        Ok(FaceAnalysis {
            bounding_box: BoundingBox {
                x_min: b.x_min,
                y_min: b.y_min,
                x_max: b.x_max,
                y_max: b.y_max,
            },
            score: f.detection.score,
            keypoints: f
                .detection
                .valid_keypoints()
                .iter()
                .map(|p| Point { x: p.x, y: p.y })
                .collect(),
            landmarks: f
                .landmarks
                .iter()
                .map(|p| Landmark {
                    x: p.x,
                    y: p.y,
                    z: p.z,
                })
                .collect(),
            presence: f.presence,
            quality: FaceQuality::try_from(&f.quality)?,
        })
    }
}

impl TryFrom<&core_perception::FrameAnalysis> for FrameAnalysis {
    type Error = ApiError;

    fn try_from(a: &core_perception::FrameAnalysis) -> Result<Self, ApiError> {
        let t = &a.timings;
        Ok(FrameAnalysis {
            width: a.width,
            height: a.height,
            timestamp_ns: a.timestamp_ns,
            detector_ran: a.detector_ran,
            faces_detected: u32::try_from(a.faces_detected).unwrap_or(u32::MAX),
            faces: a
                .faces
                .iter()
                .map(FaceAnalysis::try_from)
                .collect::<Result<_, _>>()?,
            hints: a.hints.to_vec(),
            notes: a.notes.iter().map(|&n| n.into()).collect(),
            timings: StageTimings {
                convert_ms: t.convert,
                detect_ms: t.detect,
                mesh_ms: t.mesh,
                quality_ms: t.quality,
                model_ms: t.model,
                total_ms: t.total,
            },
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Objects.

/// The engine: models loaded once (sha256 and tensor shapes checked), shared by every thread
/// and stream. Thread-safe: concurrent `analyze_frame` calls run in parallel, each on its own
/// buffers.
#[derive(uniffi::Object)]
pub struct Engine {
    engine: Arc<CoreEngine>,
    /// Pooled trackers for `analyze_frame`.
    still: StillAnalyzer,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("engine", &self.engine)
            .finish()
    }
}

impl Engine {
    /// Wraps an engine built in Rust (tests, other backends).
    pub fn from_engine(engine: Arc<CoreEngine>) -> Arc<Self> {
        let still = StillAnalyzer::new(engine.clone());
        Arc::new(Engine { engine, still })
    }
}

#[uniffi::export]
impl Engine {
    /// Loads ONNX Runtime and the detector and FaceMesh models. Fails with `RuntimeUnavailable`,
    /// `ModelMissing`, `ModelIntegrity`, `ModelInvalid` or `InvalidArgument` (bad options).
    #[uniffi::constructor]
    pub fn new(config: EngineConfig) -> Result<Arc<Self>, ApiError> {
        catch_panic(|| {
            let engine = CoreEngine::new(config.to_config())?;
            Ok(Self::from_engine(Arc::new(engine)))
        })
    }

    /// Analyses a still image: every face (up to 4) gets a box, keypoints, 468 landmarks and
    /// quality; no tracking state is used or kept.
    pub fn analyze_frame(&self, frame: Frame) -> Result<FrameAnalysis, ApiError> {
        catch_panic(|| {
            let core = frame.to_core()?;
            self.still
                .analyze(&core, |a| FrameAnalysis::try_from(a))
                .map_err(ApiError::from)?
        })
    }

    /// A new camera stream in tracking mode over this engine.
    pub fn new_tracker(&self) -> Arc<Tracker> {
        // Only analyses leave this object: frames are read in place, never converted whole.
        let tracker = CoreTracker::new(self.engine.clone());
        Arc::new(Tracker {
            tracker: Mutex::new(tracker),
        })
    }
}

/// One camera stream in tracking mode: the face found on one frame seeds the next frame's
/// landmarks (the detector re-runs when the track is lost). Thread-safe, but frames of one
/// stream are processed one at a time, in order; use one stream per camera.
#[derive(Debug, uniffi::Object)]
pub struct Tracker {
    tracker: Mutex<CoreTracker>,
}

impl Tracker {
    /// The tracker; after a panic in an earlier call (reported to that caller as
    /// `ApiError::Internal`) the track is reset rather than trusted.
    fn lock_tracker(&self) -> MutexGuard<'_, CoreTracker> {
        match self.tracker.lock() {
            Ok(t) => t,
            Err(poisoned) => {
                let mut t = poisoned.into_inner();
                t.reset();
                self.tracker.clear_poison();
                t
            }
        }
    }
}

#[uniffi::export]
impl Tracker {
    /// Processes the next frame. Timestamps should increase: a repeated one (or none, 0 on
    /// every frame) skips stability on that frame, one going backwards restarts the track;
    /// neither fails the frame. After a failed frame the track restarts.
    pub fn process(&self, frame: Frame) -> Result<FrameAnalysis, ApiError> {
        catch_panic(|| {
            let core = frame.to_core()?;
            // The core tracker drops its track after a failed frame (as for the C ABI).
            let mut tracker = self.lock_tracker();
            tracker
                .process(&core)
                .map_err(ApiError::from)
                .and_then(FrameAnalysis::try_from)
        })
    }

    /// Forgets the tracked face (e.g. when the camera restarts).
    pub fn reset(&self) {
        let _ = catch_panic(|| {
            self.lock_tracker().reset();
            Ok(())
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use liveproof_core::detect::Detection;
    use liveproof_core::geometry::{Point2, Point3, Rect, RotatedRect};
    use liveproof_core::quality::{Hint as CoreHint, Verdict};

    fn rgb_frame(width: u32, height: u32, stride: u32, len: usize) -> Frame {
        Frame {
            width,
            height,
            format: PixelFormat::Rgb888,
            planes: vec![Plane {
                bytes: vec![0; len],
                row_stride: stride,
            }],
            rotation_degrees: 0,
            mirrored: false,
            timestamp_ns: 0,
        }
    }

    fn expect_invalid(r: Result<core_frame::Frame<'_>, ApiError>, needle: &str) {
        match r {
            Err(ApiError::InvalidArgument { message }) => {
                assert!(message.contains(needle), "{message:?} lacks {needle:?}")
            }
            other => panic!("expected InvalidArgument containing {needle:?}, got {other:?}"),
        }
    }

    #[test]
    fn a_valid_frame_converts_with_rotation_mirroring_and_time() {
        let mut f = rgb_frame(4, 2, 12, 24);
        f.rotation_degrees = -90;
        f.mirrored = true;
        f.timestamp_ns = 42;
        let c = f.to_core().unwrap();
        assert_eq!((c.width(), c.height()), (4, 2));
        assert_eq!(c.rotation(), Rotation::Deg270);
        assert_eq!(c.upright_size(), (2, 4));
        assert!(c.mirrored());
        assert_eq!(c.timestamp_ns(), 42);
        assert_eq!(c.planes()[0].row_stride, 12);
    }

    #[test]
    fn bad_frames_are_invalid_arguments_with_cores_message() {
        // Stride below one row: 4 px × 3 bytes = 12.
        expect_invalid(
            rgb_frame(4, 2, 11, 24).to_core(),
            "frame plane 0 stride 11 < width 4 × 3 bytes",
        );
        // Buffer one byte short of (2 - 1) × 12 + 12.
        expect_invalid(
            rgb_frame(4, 2, 12, 23).to_core(),
            "has 23 bytes; expected at least 24",
        );
        expect_invalid(rgb_frame(0, 2, 12, 24).to_core(), "zero side");
        let mut f = rgb_frame(4, 2, 12, 24);
        f.rotation_degrees = 45;
        expect_invalid(f.to_core(), "rotation 45° is not supported");
        let mut f = rgb_frame(4, 2, 4, 8);
        f.format = PixelFormat::Nv21;
        expect_invalid(f.to_core(), "Nv21 frame has 1 planes; expected 2");
    }

    #[test]
    fn enums_and_options_map_onto_core() {
        let o = EngineConfig {
            models_dir: "/m".into(),
            detector: DetectorKind::Scrfd,
            ort_library_path: Some("/ort.so".into()),
            intra_op_threads: 3,
        };
        let c = o.to_config();
        assert_eq!(c.models_dir, PathBuf::from("/m"));
        assert_eq!(c.runtime_path, Some(PathBuf::from("/ort.so")));
        assert_eq!(c.intra_op_threads, 3);
        assert_eq!(c.detector, core_perception::DetectorKind::Scrfd);
        assert_eq!(
            c.max_faces,
            core_perception::EngineConfig::default().max_faces
        );
        assert_eq!(
            log::LevelFilter::from(LogLevel::Warn),
            log::LevelFilter::Warn
        );
        // A bad thread count is core's to reject; it reaches the caller as InvalidArgument.
        let e = Engine::new(EngineConfig {
            intra_op_threads: 0,
            ..o
        })
        .unwrap_err();
        assert!(
            matches!(&e, ApiError::InvalidArgument { message } if message.contains("intra_op_threads must be 1..=64, got 0")),
            "{e:?}"
        );
    }

    #[test]
    fn a_missing_runtime_is_runtime_unavailable() {
        let e = Engine::new(EngineConfig {
            models_dir: "/nonexistent-models".into(),
            detector: DetectorKind::BlazeFaceFront,
            ort_library_path: Some("/nonexistent/libonnxruntime.so".into()),
            intra_op_threads: 1,
        })
        .unwrap_err();
        assert!(matches!(e, ApiError::RuntimeUnavailable { .. }), "{e:?}");
        assert!(
            e.message().contains("/nonexistent/libonnxruntime.so"),
            "{e}"
        );
    }

    /// The real engine through the exported objects (the JVM tests cover real faces): a dark
    /// grey frame gives exactly `[NoFace, TooDark]`, a mid-grey one `[NoFace]`, on the engine
    /// and on a stream, with a stream surviving the engine handle.
    #[test]
    fn real_engine_and_stream_on_synthetic_frames() {
        // A missing environment fails the test with what to do (it never passes unrun).
        const HOW: &str = "run `cargo xtask setup`, then `eval \"$(cargo xtask env)\"`";
        let models = std::env::var_os("LIVEPROOF_MODELS_DIR")
            .unwrap_or_else(|| panic!("LIVEPROOF_MODELS_DIR is not set: {HOW}"));
        let ort = std::env::var_os("ORT_DYLIB_PATH")
            .unwrap_or_else(|| panic!("ORT_DYLIB_PATH is not set: {HOW}"));
        let engine = Engine::new(EngineConfig {
            models_dir: models.to_string_lossy().into_owned(),
            detector: DetectorKind::BlazeFaceFront,
            ort_library_path: Some(ort.to_string_lossy().into_owned()),
            intra_op_threads: 1,
        })
        .unwrap();
        let gray = |level: u8, ts: u64| Frame {
            width: 320,
            height: 240,
            format: PixelFormat::Gray8,
            planes: vec![Plane {
                bytes: vec![level; 320 * 240],
                row_stride: 320,
            }],
            rotation_degrees: 90,
            mirrored: false,
            timestamp_ns: ts,
        };
        let r = engine.analyze_frame(gray(8, 5)).unwrap();
        assert_eq!(r.hints, vec![Hint::NoFace, Hint::TooDark]);
        assert_eq!((r.width, r.height, r.timestamp_ns), (240, 320, 5));
        assert!(r.faces.is_empty() && r.detector_ran);
        assert_eq!(
            engine.analyze_frame(gray(128, 0)).unwrap().hints,
            vec![Hint::NoFace]
        );
        let stream = engine.new_tracker();
        drop(engine);
        for ts in [0, 33_000_000] {
            let r = stream.process(gray(128, ts)).unwrap();
            assert_eq!(r.hints, vec![Hint::NoFace]);
            // The detector ran on it: its model time is part of the frame's.
            let t = r.timings;
            assert!(r.detector_ran);
            assert!(t.model_ms > 0.0 && t.model_ms <= t.detect_ms && t.detect_ms <= t.total_ms);
        }
        let bad = stream.process(Frame {
            rotation_degrees: 45,
            ..gray(128, 66_000_000)
        });
        assert!(matches!(bad, Err(ApiError::InvalidArgument { .. })));
        stream.reset();
    }

    fn check_of(value: f32, verdict: Verdict) -> Check {
        Check {
            value,
            min: Some(0.0),
            max: Some(1.0),
            verdict,
        }
    }

    #[test]
    fn analyses_convert_field_by_field() {
        let report = liveproof_core::quality::QualityReport {
            num_faces: 1,
            checks: Some(FaceChecks {
                image: None,
                face_ratio: check_of(0.5, Verdict::Pass),
                center_offset: check_of(0.1, Verdict::Pass),
                box_outside: check_of(0.0, Verdict::Pass),
                landmarks_outside: check_of(0.0, Verdict::Pass),
                yaw: check_of(25.0, Verdict::Fail(CoreHint::LookStraight)),
                pitch: check_of(-3.0, Verdict::Pass),
                roll: check_of(1.5, Verdict::Pass),
                presence: check_of(0.99, Verdict::Pass),
                pose_residual: check_of(0.05, Verdict::Pass),
                stability: None,
            }),
            pose: None,
            hints: [CoreHint::LookStraight].into_iter().collect(),
            passed: false,
        };
        let mut det = Detection {
            bbox: Rect::new(10.0, 20.0, 110.0, 140.0),
            score: 0.9,
            num_keypoints: 2,
            ..Detection::default()
        };
        det.keypoints[0] = Point2::new(40.0, 60.0);
        det.keypoints[1] = Point2::new(80.0, 61.0);
        let face = core_perception::FaceAnalysis {
            detection: det,
            roi: RotatedRect::default(),
            landmarks: liveproof_core::mesh::Landmarks::new(
                (0..468)
                    .map(|i| Point3::new(i as f32, 2.0 * i as f32, -0.5))
                    .collect(),
            )
            .unwrap(),
            presence: 0.97,
            quality: report,
        };
        let a = core_perception::FrameAnalysis {
            width: 640,
            height: 480,
            timestamp_ns: 7,
            detector_ran: true,
            faces_detected: 1,
            faces: vec![face],
            hints: [CoreHint::LookStraight].into_iter().collect(),
            notes: vec![core_perception::FrameNote::RepeatedTimestamp],
            ..core_perception::FrameAnalysis::default()
        };
        let r = FrameAnalysis::try_from(&a).unwrap();
        assert_eq!((r.width, r.height, r.timestamp_ns), (640, 480, 7));
        assert_eq!(r.hints, vec![Hint::LookStraight]);
        assert_eq!(r.notes, vec![FrameNote::RepeatedTimestamp]);
        let f = &r.faces[0];
        assert_eq!(
            f.bounding_box,
            BoundingBox {
                x_min: 10.0,
                y_min: 20.0,
                x_max: 110.0,
                y_max: 140.0
            }
        );
        assert_eq!(
            f.keypoints,
            vec![Point { x: 40.0, y: 60.0 }, Point { x: 80.0, y: 61.0 }]
        );
        assert_eq!(f.landmarks.len(), 468);
        assert_eq!(
            f.landmarks[467],
            Landmark {
                x: 467.0,
                y: 934.0,
                z: -0.5
            }
        );
        let q = &f.quality;
        assert!(!q.passed);
        assert_eq!((q.yaw_deg, q.pitch_deg, q.roll_deg), (25.0, -3.0, 1.5));
        assert_eq!((q.sharpness, q.mean_luma, q.face_ratio), (None, None, 0.5));
        assert_eq!(q.checks.len(), 9);
        let yaw = q.checks.iter().find(|c| c.name == "yaw").unwrap();
        assert!(!yaw.passed);
        assert_eq!(yaw.hint, Some(Hint::LookStraight));
        assert_eq!((yaw.min, yaw.max), (Some(0.0), Some(1.0)));

        // A face without checks is a bug, reported as Internal (never a panic).
        let mut broken = a.clone();
        broken.faces[0].quality = liveproof_core::quality::assess_no_face();
        assert!(matches!(
            FrameAnalysis::try_from(&broken),
            Err(ApiError::Internal { .. })
        ));
    }
}
