//! The C ABI: `lp_`-prefixed functions over opaque handles, generated into
//! `include/liveproof.h` by the pinned cbindgen (`cargo xtask gen`). The written contract is
//! `docs/c-abi.md`; in short, as rustls-ffi does:
//!
//! - Fallible functions return an [`lp_result`]; its numbers are never reused.
//! - Output parameters come last; a buffer is always followed by its length.
//! - Nothing is written to outputs on failure; the calling thread's last error message is
//!   copied out by [`lp_last_error_message`].
//! - Every body runs inside a panic boundary (`boundary`): a panic becomes `LP_PANIC`.
//! - Each handle has one `_free` function; all `_free` functions accept NULL.
//!
//! No logic lives here: arguments are checked and converted, core does the work, and core's
//! errors are mapped through [`ApiError`] (the crate's single mapping point) and then to an
//! [`lp_result`] by `result_of`.

// C names (`lp_engine`, `LP_OK`) are the ABI; the Rust side uses the same spelling.
#![allow(non_camel_case_types)]
#![deny(unsafe_op_in_unsafe_fn)]

use std::cell::RefCell;
use std::ffi::{c_char, CStr};
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use liveproof_core::engine::{
    DetectorKind, Engine, EngineConfig, FrameAnalysis, StillAnalyzer, Tracker,
};
use liveproof_core::frame::{Frame, PixelFormat, Plane, Rotation};
use liveproof_core::quality::Hint;

use crate::error::{catch_panic, ApiError};

/// FaceMesh landmarks per face; `lp_analysis_landmarks` needs `3 * LP_LANDMARK_COUNT` floats.
pub const LP_LANDMARK_COUNT: usize = 468;
/// Capacity of `lp_face.keypoints` (BlazeFace gives 6 keypoints, SCRFD 5).
pub const LP_MAX_KEYPOINTS: usize = 6;
/// Number of distinct hints: a `lp_hint` array of this length always holds
/// `lp_analysis_hints`' output.
pub const LP_HINT_COUNT: usize = 11;
/// Capacity of `lp_frame.planes` (I420 uses all three).
pub const LP_MAX_PLANES: usize = 3;

/// What a fallible function did. `LP_OK` is 0; every other value is an error whose message
/// `lp_last_error_message` copies out. Numbers are grouped (1–99: the call's arguments,
/// 100–199: set-up, 200–299: run time, 900: a bug) and never reused: a removed code stays
/// reserved, a new one takes a new number.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum lp_result {
    /// Success; outputs were written.
    LP_OK = 0,
    /// A required pointer argument was NULL (the message names it).
    LP_NULL_ARGUMENT = 1,
    /// An argument is out of range or inconsistent: a frame with a zero side, a stride smaller
    /// than a row, a plane shorter than its rows, an unknown format or detector value, a bad
    /// configuration value, a wrong `struct_size`.
    LP_INVALID_ARGUMENT = 2,
    /// A caller buffer is too short for the output; nothing was written. The message gives
    /// the length needed.
    LP_BUFFER_TOO_SMALL = 3,
    /// A face index is not below the analysis' face count.
    LP_INDEX_OUT_OF_RANGE = 4,
    /// The ONNX Runtime shared library is missing or cannot be loaded.
    LP_RUNTIME_UNAVAILABLE = 100,
    /// A model file is missing from `models_dir`.
    LP_MODEL_MISSING = 101,
    /// A model file does not match its pinned sha256 or size.
    LP_MODEL_INTEGRITY = 102,
    /// A model file is corrupt or its inputs/outputs differ from the manifest.
    LP_MODEL_INVALID = 103,
    /// Inference or processing failed at run time.
    LP_PROCESSING = 200,
    /// A model answered out of its contract at run time (wrong output length, non-finite
    /// values): a broken or mismatched model file.
    LP_MODEL_OUTPUT = 201,
    /// A bug: a Rust panic was caught at the boundary. The handle passed in may be in an
    /// unspecified (but memory-safe) state; free it. Please report the message.
    LP_PANIC = 900,
    /// A bug: an internal invariant did not hold (no panic; the handle is still usable).
    /// Please report the message.
    LP_INTERNAL = 901,
}

/// Pixel layout of a camera buffer (the value of `lp_frame.format`). 0 is not a format, so a
/// zero-initialised frame is rejected.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum lp_pixel_format {
    /// Packed R, G, B, A bytes (Android `ARGB_8888` memory order). One plane.
    LP_PIXEL_FORMAT_RGBA8888 = 1,
    /// Packed B, G, R, A bytes (iOS `kCVPixelFormatType_32BGRA`). One plane.
    LP_PIXEL_FORMAT_BGRA8888 = 2,
    /// Packed R, G, B bytes. One plane.
    LP_PIXEL_FORMAT_RGB888 = 3,
    /// Y plane + interleaved V,U plane at half resolution (Android NV21). Two planes.
    LP_PIXEL_FORMAT_NV21 = 4,
    /// Y plane + interleaved U,V plane at half resolution (iOS 420v/420f). Two planes.
    LP_PIXEL_FORMAT_NV12 = 5,
    /// Y, U and V planes, chroma at half resolution. Three planes.
    LP_PIXEL_FORMAT_I420 = 6,
    /// One luma byte per pixel. One plane.
    LP_PIXEL_FORMAT_GRAY8 = 7,
}

/// The face detector an engine runs (the value of `lp_engine_config.detector`).
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum lp_detector {
    /// MediaPipe BlazeFace short-range 128×128: selfie distance (the default).
    LP_DETECTOR_BLAZEFACE_FRONT = 1,
    /// MediaPipe BlazeFace back-camera 256×256: smaller, farther faces.
    LP_DETECTOR_BLAZEFACE_BACK = 2,
    /// InsightFace SCRFD 640×640 (non-commercial weights; see models/README.md).
    LP_DETECTOR_SCRFD = 3,
}

/// What the capture UI should tell the user. The value is also the priority (0 = show
/// first) and the bit index in the `hints` bitmasks: `hints & (1u << LP_HINT_TOO_DARK)`.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum lp_hint {
    /// No face was found.
    LP_HINT_NO_FACE = 0,
    /// More than one face is in the picture.
    LP_HINT_MULTIPLE_FACES = 1,
    /// Something covers the face (or the mesh does not fit a face).
    LP_HINT_FACE_OCCLUDED = 2,
    /// The face is underexposed.
    LP_HINT_TOO_DARK = 3,
    /// The face is overexposed.
    LP_HINT_TOO_BRIGHT = 4,
    /// The face is too small in the frame.
    LP_HINT_MOVE_CLOSER = 5,
    /// The face is too large in the frame.
    LP_HINT_MOVE_AWAY = 6,
    /// The face is off-centre or leaves the frame.
    LP_HINT_CENTER_FACE = 7,
    /// Head yaw, pitch or roll is beyond the limit.
    LP_HINT_LOOK_STRAIGHT = 8,
    /// The face is not sharp.
    LP_HINT_BLURRY = 9,
    /// The face moves too much between frames (tracking only).
    LP_HINT_HOLD_STILL = 10,
}

/// One plane of a camera buffer. The bytes are only read during the call that takes the
/// frame, never retained, and must not change during it.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct lp_plane {
    /// First byte of the plane's first row. Must not be NULL for a plane the format uses.
    pub data: *const u8,
    /// Readable bytes at `data`; at least `(rows - 1) * row_stride + row bytes` (the last
    /// row may lack its padding).
    pub len: usize,
    /// Bytes from one row start to the next; at least the row's bytes (width × bytes per
    /// pixel; for NV21/NV12 chroma: 2 × ceil(width / 2)).
    pub row_stride: usize,
}

/// A camera frame as the sensor delivers it. Plane 0 is the packed image or Y; NV21/NV12
/// use planes 0–1 (Y, interleaved chroma), I420 planes 0–2 (Y, U, V). Planes the format does
/// not use are ignored. Layout frozen: a change means a new type and new functions.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct lp_frame {
    /// The planes, see `lp_plane`.
    pub planes: [lp_plane; LP_MAX_PLANES],
    /// An `lp_pixel_format` value; anything else is `LP_INVALID_ARGUMENT`.
    pub format: u32,
    /// Buffer width before rotation, pixels (1..=16384; even for the 4:2:0 formats).
    pub width: u32,
    /// Buffer height before rotation, pixels (1..=16384; even for the 4:2:0 formats).
    pub height: u32,
    /// Clockwise rotation that makes the buffer upright, degrees: 0, 90, 180 or 270 (other
    /// multiples of 90 are reduced modulo 360; anything else is `LP_INVALID_ARGUMENT`).
    pub rotation_degrees: i32,
    /// 1 = flip horizontally after rotating (front-camera preview), 0 = not; other values are
    /// `LP_INVALID_ARGUMENT`.
    pub mirrored: u8,
    /// Capture time, nanoseconds on a monotonic clock (tracking uses it for stability).
    pub timestamp_ns: u64,
}

/// Engine settings. Fill it with `lp_engine_config_init(sizeof(lp_engine_config), &config)`,
/// then set `models_dir` (and anything else). Later versions append fields (growing
/// `struct_size`) and keep accepting the sizes of earlier ones.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct lp_engine_config {
    /// `sizeof(lp_engine_config)` as the caller compiled it; set by `lp_engine_config_init`.
    pub struct_size: usize,
    /// NUL-terminated folder holding the model files (required, not NULL).
    pub models_dir: *const c_char,
    /// NUL-terminated path of the ONNX Runtime shared library; NULL = `$ORT_DYLIB_PATH`.
    /// ONNX Runtime is loaded once per process: later engines reuse the first library.
    pub ort_library_path: *const c_char,
    /// An `lp_detector` value.
    pub detector: u32,
    /// ONNX Runtime intra-op threads per model, 1..=64 (core checks it: anything else,
    /// 0 included, is `LP_INVALID_ARGUMENT`, as in every binding).
    pub intra_op_threads: u32,
    /// Faces analysed per still image, at least 1 (default 4; the rest are only counted).
    pub max_faces: u32,
    /// While tracking, run the detector every this many frames to count faces (default 15;
    /// 0 = never).
    pub recount_faces_every: u32,
    /// Minimum detector score, 0..=1 (default 0.5).
    pub min_detection_score: f32,
    /// FaceMesh presence at or below this drops the face, 0..=1 (default 0.5).
    pub min_presence: f32,
}

/// One analysed face, copied out by `lp_analysis_face`. All coordinates are pixels of the
/// upright (rotated, mirrored) frame. Layout frozen: a change means a new type and function.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct lp_face {
    /// Face box `[x_min, y_min, x_max, y_max]`, pixels.
    pub bbox: [f32; 4],
    /// Detector score in [0, 1] (when tracking carried the face: its presence).
    pub score: f32,
    /// Detector keypoints `[x, y]`, pixels; the first `keypoint_count` are meaningful, the
    /// rest are 0. Keypoint 0 is the subject's right eye, 1 the left eye, 2 the nose tip,
    /// 3 the mouth centre (BlazeFace: 4, 5 the ear tragions).
    pub keypoints: [[f32; 2]; LP_MAX_KEYPOINTS],
    /// Meaningful entries of `keypoints` (6 for BlazeFace, 5 for SCRFD).
    pub keypoint_count: u32,
    /// Landmarks of this face (`LP_LANDMARK_COUNT`); copy them with `lp_analysis_landmarks`.
    pub landmark_count: u32,
    /// FaceMesh face-presence probability in [0, 1].
    pub presence: f32,
    /// Whether `yaw_deg`, `pitch_deg` and `roll_deg` hold a head pose (else they are NaN).
    pub has_pose: bool,
    /// Degrees, positive = the subject turns to their left.
    pub yaw_deg: f32,
    /// Degrees, positive = chin up.
    pub pitch_deg: f32,
    /// Degrees, positive = head tilts towards the subject's left shoulder.
    pub roll_deg: f32,
    /// True when this face passed every quality check and it was the only face.
    pub quality_passed: bool,
    /// This face's hints as a bitmask: bit `h` set for `lp_hint` `h`. The lowest set bit is
    /// the one to show.
    pub hints: u32,
}

/// Frame-level figures of an analysis, copied out by `lp_analysis_get_info`.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct lp_analysis_info {
    /// Upright frame width, pixels (the buffer's height when rotated by 90 or 270).
    pub width: u32,
    /// Upright frame height, pixels.
    pub height: u32,
    /// The frame's `timestamp_ns`.
    pub timestamp_ns: u64,
    /// Faces analysed (`lp_analysis_face` indices 0..face_count).
    pub face_count: u32,
    /// Faces the detector found (may exceed `face_count`, beyond `max_faces`).
    pub faces_detected: u32,
    /// Whether the detector ran on this frame (false when tracking carried the face).
    pub detector_ran: bool,
    /// Frame-level hints as a bitmask (bit `h` for `lp_hint` `h`); the lowest set bit is the
    /// one to show.
    pub hints: u32,
    /// Wall time of the whole frame, milliseconds.
    pub total_ms: f64,
}

/// A loaded engine: ONNX Runtime and the models, verified against the manifest.
/// Thread-safe: every function taking a `const lp_engine *` may run on any thread, at the
/// same time as others on the same engine.
pub struct lp_engine {
    engine: Arc<Engine>,
    /// Pooled trackers for `lp_engine_analyze_frame`.
    still: StillAnalyzer,
}

/// One camera stream's tracking state. Use from one thread at a time (it may move between
/// threads between calls).
pub struct lp_tracker {
    tracker: Tracker,
}

/// The immutable result of analysing one frame. Any number of threads may read it at once.
pub struct lp_analysis {
    analysis: FrameAnalysis,
    /// `FrameAnalysis::to_json`, rendered on first use.
    json: OnceLock<String>,
}

// ---------------------------------------------------------------------------------------------
// Errors, the last-error message and the panic boundary.

/// A failed call: its code and message.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Failure {
    code: lp_result,
    message: String,
}

impl From<ApiError> for Failure {
    fn from(e: ApiError) -> Self {
        Failure {
            code: result_of(&e),
            message: e.to_string(),
        }
    }
}

/// The one mapping from the crate's public error to C codes.
fn result_of(e: &ApiError) -> lp_result {
    match e {
        ApiError::InvalidArgument { .. } => lp_result::LP_INVALID_ARGUMENT,
        ApiError::RuntimeUnavailable { .. } => lp_result::LP_RUNTIME_UNAVAILABLE,
        ApiError::ModelMissing { .. } => lp_result::LP_MODEL_MISSING,
        ApiError::ModelIntegrity { .. } => lp_result::LP_MODEL_INTEGRITY,
        ApiError::ModelInvalid { .. } => lp_result::LP_MODEL_INVALID,
        ApiError::Processing { .. } => lp_result::LP_PROCESSING,
        ApiError::ModelOutput { .. } => lp_result::LP_MODEL_OUTPUT,
        ApiError::Internal { .. } => lp_result::LP_PANIC,
        ApiError::Invariant { .. } => lp_result::LP_INTERNAL,
    }
}

fn null(func: &str, arg: &str) -> Failure {
    Failure {
        code: lp_result::LP_NULL_ARGUMENT,
        message: format!("NULL argument: `{arg}` of {func} is NULL; expected a valid pointer"),
    }
}

fn invalid(message: String) -> Failure {
    ApiError::invalid(message).into()
}

thread_local! {
    static LAST_ERROR: RefCell<String> = const { RefCell::new(String::new()) };
}

fn set_last_error(message: String) {
    // `try_with`: during thread teardown there is no message to keep.
    let _ = LAST_ERROR.try_with(|e| {
        if let Ok(mut e) = e.try_borrow_mut() {
            *e = message;
        }
    });
}

fn clear_last_error() {
    let _ = LAST_ERROR.try_with(|e| {
        if let Ok(mut e) = e.try_borrow_mut() {
            e.clear();
        }
    });
}

/// Runs one `extern "C"` body: a panic becomes `LP_PANIC` (via the crate's `catch_panic`);
/// the thread's last-error message is set on failure and cleared on success.
fn boundary(f: impl FnOnce() -> Result<(), Failure>) -> lp_result {
    let r = match catch_panic(|| Ok(f())) {
        Ok(inner) => inner,
        Err(panic) => Err(Failure::from(panic)),
    };
    match r {
        Ok(()) => {
            clear_last_error();
            lp_result::LP_OK
        }
        Err(failure) => {
            set_last_error(failure.message);
            failure.code
        }
    }
}

/// For the infallible functions (`_free`, name look-ups): a panic is contained and dropped.
fn boundary_void(f: impl FnOnce()) {
    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
}

// ---------------------------------------------------------------------------------------------
// Pointer helpers. Each turns a raw pointer the caller passed into a reference for the call.

/// `&*p`, or `LP_NULL_ARGUMENT` naming `arg`.
///
/// # Safety
/// `p` is NULL or points to a valid, aligned `T` that is not mutated during the call.
unsafe fn arg_ref<'a, T>(p: *const T, func: &str, arg: &str) -> Result<&'a T, Failure> {
    // SAFETY: the caller's contract (documented on each extern function) for non-NULL `p`.
    unsafe { p.as_ref() }.ok_or_else(|| null(func, arg))
}

/// `&mut *p`, or `LP_NULL_ARGUMENT` naming `arg`.
///
/// # Safety
/// `p` is NULL or points to a valid, aligned `T` with no other reference during the call.
unsafe fn arg_mut<'a, T>(p: *mut T, func: &str, arg: &str) -> Result<&'a mut T, Failure> {
    // SAFETY: the caller's contract for non-NULL `p`.
    unsafe { p.as_mut() }.ok_or_else(|| null(func, arg))
}

/// Checks that an output pointer is not NULL (before any work, so a failure writes nothing).
fn out_ptr<T>(p: *mut T, func: &str, arg: &str) -> Result<(), Failure> {
    if p.is_null() {
        Err(null(func, arg))
    } else {
        Ok(())
    }
}

/// Writes `value` through a checked, non-NULL output pointer.
///
/// # Safety
/// `p` was checked by [`out_ptr`] and points to writable, aligned memory for a `T`.
unsafe fn write_out<T>(p: *mut T, value: T) {
    // SAFETY: non-NULL (checked), writable and aligned by the caller's contract; `write`
    // does not read or drop the old (possibly uninitialised) value.
    unsafe { p.write(value) }
}

/// A NUL-terminated C string as a path (bytes as-is on Unix).
///
/// # Safety
/// `p` is NULL or points to a NUL-terminated string readable during the call.
unsafe fn path_arg(p: *const c_char, func: &str, arg: &str) -> Result<PathBuf, Failure> {
    if p.is_null() {
        return Err(null(func, arg));
    }
    // SAFETY: non-NULL and NUL-terminated by the caller's contract.
    let s = unsafe { CStr::from_ptr(p) };
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        Ok(PathBuf::from(std::ffi::OsStr::from_bytes(s.to_bytes())))
    }
    #[cfg(not(unix))]
    {
        s.to_str()
            .map(PathBuf::from)
            .map_err(|_| invalid(format!("`{arg}` of {func} is not UTF-8")))
    }
}

// ---------------------------------------------------------------------------------------------
// Conversions (pure, unit-tested).

fn pixel_format_from_c(v: u32) -> Result<PixelFormat, Failure> {
    Ok(match v {
        1 => PixelFormat::Rgba8888,
        2 => PixelFormat::Bgra8888,
        3 => PixelFormat::Rgb888,
        4 => PixelFormat::Nv21,
        5 => PixelFormat::Nv12,
        6 => PixelFormat::I420,
        7 => PixelFormat::Gray8,
        other => {
            return Err(invalid(format!(
                "frame format {other} is not an lp_pixel_format; expected 1..=7 \
                 (LP_PIXEL_FORMAT_RGBA8888 .. LP_PIXEL_FORMAT_GRAY8)"
            )))
        }
    })
}

fn detector_from_c(v: u32) -> Result<DetectorKind, Failure> {
    Ok(match v {
        1 => DetectorKind::BlazeFaceFront,
        2 => DetectorKind::BlazeFaceBack,
        3 => DetectorKind::Scrfd,
        other => {
            return Err(invalid(format!(
                "detector {other} is not an lp_detector; expected 1..=3 \
                 (LP_DETECTOR_BLAZEFACE_FRONT .. LP_DETECTOR_SCRFD)"
            )))
        }
    })
}

fn hint_to_c(h: Hint) -> lp_hint {
    match h {
        Hint::NoFace => lp_hint::LP_HINT_NO_FACE,
        Hint::MultipleFaces => lp_hint::LP_HINT_MULTIPLE_FACES,
        Hint::FaceOccluded => lp_hint::LP_HINT_FACE_OCCLUDED,
        Hint::TooDark => lp_hint::LP_HINT_TOO_DARK,
        Hint::TooBright => lp_hint::LP_HINT_TOO_BRIGHT,
        Hint::MoveCloser => lp_hint::LP_HINT_MOVE_CLOSER,
        Hint::MoveAway => lp_hint::LP_HINT_MOVE_AWAY,
        Hint::CenterFace => lp_hint::LP_HINT_CENTER_FACE,
        Hint::LookStraight => lp_hint::LP_HINT_LOOK_STRAIGHT,
        Hint::Blurry => lp_hint::LP_HINT_BLURRY,
        Hint::HoldStill => lp_hint::LP_HINT_HOLD_STILL,
    }
}

fn hint_mask(hints: &[Hint]) -> u32 {
    hints
        .iter()
        .fold(0, |m, &h| m | (1u32 << hint_to_c(h) as u32))
}

/// Borrows a C frame as a validated core [`Frame`] for the duration of a call.
///
/// # Safety
/// Each plane the format uses has `data` NULL or pointing to `len` bytes readable and
/// unchanged for `'a`.
unsafe fn frame_from_c<'a>(f: &'a lp_frame, func: &str) -> Result<Frame<'a>, Failure> {
    let format = pixel_format_from_c(f.format)?;
    let mirrored = match f.mirrored {
        0 => false,
        1 => true,
        other => {
            return Err(invalid(format!(
                "frame mirrored is {other}; expected 0 or 1"
            )))
        }
    };
    let rotation = Rotation::from_degrees(f.rotation_degrees).map_err(ApiError::from)?;
    let n = format.plane_count();
    let mut planes = [Plane::default(); LP_MAX_PLANES];
    for (i, (dst, src)) in planes.iter_mut().zip(&f.planes).take(n).enumerate() {
        if src.data.is_null() {
            return Err(null(func, &format!("frame->planes[{i}].data")));
        }
        if src.len > isize::MAX as usize {
            return Err(invalid(format!(
                "frame plane {i} length {} exceeds isize::MAX",
                src.len
            )));
        }
        // SAFETY: non-NULL, `len` ≤ isize::MAX, and readable and unchanged for `'a` by the
        // caller's contract; u8 needs no alignment.
        let data = unsafe { std::slice::from_raw_parts(src.data, src.len) };
        *dst = Plane::new(data, src.row_stride);
    }
    let frame = Frame::new(f.width, f.height, format, &planes[..n]).map_err(ApiError::from)?;
    Ok(frame
        .with_rotation(rotation)
        .with_mirrored(mirrored)
        .with_timestamp_ns(f.timestamp_ns))
}

/// The `lp_engine_config` sizes this library reads and writes: today only its own. A later
/// version that appends fields keeps accepting the earlier sizes (and fills the rest with
/// defaults).
fn check_config_size(struct_size: usize, func: &str) -> Result<(), Failure> {
    let expected = std::mem::size_of::<lp_engine_config>();
    if struct_size == expected {
        Ok(())
    } else {
        Err(invalid(format!(
            "{func}: lp_engine_config struct_size is {struct_size}; expected {expected} \
             (sizeof(lp_engine_config) of liveproof {}): fill the struct with \
             lp_engine_config_init(sizeof(lp_engine_config), &config)",
            crate::VERSION
        )))
    }
}

fn config_defaults() -> lp_engine_config {
    let d = EngineConfig::default();
    lp_engine_config {
        struct_size: std::mem::size_of::<lp_engine_config>(),
        models_dir: std::ptr::null(),
        ort_library_path: std::ptr::null(),
        detector: lp_detector::LP_DETECTOR_BLAZEFACE_FRONT as u32,
        intra_op_threads: d.intra_op_threads as u32,
        max_faces: d.max_faces as u32,
        recount_faces_every: d.recount_faces_every,
        min_detection_score: d.min_detection_score,
        min_presence: d.min_presence,
    }
}

/// # Safety
/// `c.models_dir` and `c.ort_library_path` are NULL or NUL-terminated strings.
unsafe fn config_from_c(c: &lp_engine_config, func: &str) -> Result<EngineConfig, Failure> {
    check_config_size(c.struct_size, func)?;
    // SAFETY: the caller's contract on both strings.
    let models_dir = unsafe { path_arg(c.models_dir, func, "config->models_dir") }?;
    let runtime_path = if c.ort_library_path.is_null() {
        None
    } else {
        // SAFETY: the caller's contract; non-NULL here.
        Some(unsafe { path_arg(c.ort_library_path, func, "config->ort_library_path") }?)
    };
    Ok(EngineConfig {
        models_dir,
        runtime_path,
        intra_op_threads: c.intra_op_threads as usize,
        detector: detector_from_c(c.detector)?,
        min_detection_score: c.min_detection_score,
        min_presence: c.min_presence,
        max_faces: c.max_faces as usize,
        recount_faces_every: c.recount_faces_every,
        ..EngineConfig::default()
    })
}

fn face_to_c(f: &liveproof_core::engine::FaceAnalysis) -> lp_face {
    let mut keypoints = [[0.0f32; 2]; LP_MAX_KEYPOINTS];
    let valid = f.detection.valid_keypoints();
    for (dst, p) in keypoints.iter_mut().zip(valid) {
        *dst = [p.x, p.y];
    }
    let pose = f.quality.pose.as_ref();
    lp_face {
        bbox: f.detection.bbox.as_array(),
        score: f.detection.score,
        keypoints,
        keypoint_count: valid.len().min(LP_MAX_KEYPOINTS) as u32,
        landmark_count: f.landmarks.len() as u32,
        presence: f.presence,
        has_pose: pose.is_some(),
        yaw_deg: pose.map_or(f32::NAN, |p| p.yaw_deg),
        pitch_deg: pose.map_or(f32::NAN, |p| p.pitch_deg),
        roll_deg: pose.map_or(f32::NAN, |p| p.roll_deg),
        quality_passed: f.quality.passed,
        hints: hint_mask(&f.quality.hints),
    }
}

fn info_of(a: &FrameAnalysis) -> lp_analysis_info {
    lp_analysis_info {
        width: a.width,
        height: a.height,
        timestamp_ns: a.timestamp_ns,
        face_count: a.faces.len() as u32,
        faces_detected: a.faces_detected.min(u32::MAX as usize) as u32,
        detector_ran: a.detector_ran,
        hints: hint_mask(&a.hints),
        total_ms: a.timings.total,
    }
}

fn new_analysis(analysis: FrameAnalysis) -> *mut lp_analysis {
    Box::into_raw(Box::new(lp_analysis {
        analysis,
        json: OnceLock::new(),
    }))
}

impl lp_analysis {
    fn json(&self) -> &str {
        self.json
            .get_or_init(|| self.analysis.to_json().to_string())
    }

    fn face(
        &self,
        index: usize,
        func: &str,
    ) -> Result<&liveproof_core::engine::FaceAnalysis, Failure> {
        self.analysis.faces.get(index).ok_or_else(|| Failure {
            code: lp_result::LP_INDEX_OUT_OF_RANGE,
            message: format!(
                "index out of range: {func} face index {index} is not below the face count {}",
                self.analysis.faces.len()
            ),
        })
    }
}

fn buffer_too_small(func: &str, what: &str, len: usize, needed: usize) -> Failure {
    Failure {
        code: lp_result::LP_BUFFER_TOO_SMALL,
        message: format!(
            "buffer too small: {func} {what} buffer has length {len}; expected at least {needed}"
        ),
    }
}

/// Copies `bytes` and a NUL into `buf[..len]`, `LP_BUFFER_TOO_SMALL` (nothing written) when
/// `len < bytes.len() + 1`. Returns the bytes written without the NUL.
///
/// # Safety
/// `buf` is NULL or writable for `len` bytes.
unsafe fn copy_c_string(
    bytes: &[u8],
    buf: *mut c_char,
    len: usize,
    func: &str,
) -> Result<usize, Failure> {
    if buf.is_null() {
        return Err(null(func, "buf"));
    }
    let needed = bytes.len() + 1;
    if len < needed {
        return Err(buffer_too_small(func, "text", len, needed));
    }
    // SAFETY: `buf` is non-NULL and writable for `len ≥ bytes.len() + 1` bytes by the caller's
    // contract; the source is our own allocation, so the ranges do not overlap.
    unsafe {
        std::ptr::copy_nonoverlapping(bytes.as_ptr(), buf.cast::<u8>(), bytes.len());
        buf.add(bytes.len()).write(0);
    }
    Ok(bytes.len())
}

// ---------------------------------------------------------------------------------------------
// Version, names, errors, logging.

/// The library version as a static NUL-terminated string, e.g. `"0.1.0"`: the Cargo
/// workspace version, equal to the `LIVEPROOF_VERSION` of the header generated with it.
/// Never NULL; do not free.
///
/// Thread-safety: any thread, any time.
#[no_mangle]
pub extern "C" fn lp_version() -> *const c_char {
    const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), "\0");
    let mut out = VERSION.as_ptr().cast::<c_char>();
    boundary_void(|| out = VERSION.as_ptr().cast::<c_char>());
    out
}

/// The name of an `lp_result` value, e.g. `"LP_MODEL_MISSING"`, as a static NUL-terminated
/// string; `"LP_UNKNOWN_RESULT"` for a value that is not one. Never NULL; do not free.
///
/// Thread-safety: any thread, any time.
#[no_mangle]
pub extern "C" fn lp_result_name(result: u32) -> *const c_char {
    let mut out = c"LP_UNKNOWN_RESULT".as_ptr();
    boundary_void(|| {
        let s: &CStr = match result {
            0 => c"LP_OK",
            1 => c"LP_NULL_ARGUMENT",
            2 => c"LP_INVALID_ARGUMENT",
            3 => c"LP_BUFFER_TOO_SMALL",
            4 => c"LP_INDEX_OUT_OF_RANGE",
            100 => c"LP_RUNTIME_UNAVAILABLE",
            101 => c"LP_MODEL_MISSING",
            102 => c"LP_MODEL_INTEGRITY",
            103 => c"LP_MODEL_INVALID",
            200 => c"LP_PROCESSING",
            201 => c"LP_MODEL_OUTPUT",
            900 => c"LP_PANIC",
            901 => c"LP_INTERNAL",
            _ => c"LP_UNKNOWN_RESULT",
        };
        out = s.as_ptr();
    });
    out
}

/// The name of an `lp_hint` value as the JSON spells it, e.g. `"TOO_DARK"`, as a static
/// NUL-terminated string; `"UNKNOWN"` for a value that is not a hint. Never NULL; do not free.
///
/// Thread-safety: any thread, any time.
#[no_mangle]
pub extern "C" fn lp_hint_name(hint: u32) -> *const c_char {
    let mut out = c"UNKNOWN".as_ptr();
    boundary_void(|| {
        let s: &CStr = match hint {
            0 => c"NO_FACE",
            1 => c"MULTIPLE_FACES",
            2 => c"FACE_OCCLUDED",
            3 => c"TOO_DARK",
            4 => c"TOO_BRIGHT",
            5 => c"MOVE_CLOSER",
            6 => c"MOVE_AWAY",
            7 => c"CENTER_FACE",
            8 => c"LOOK_STRAIGHT",
            9 => c"BLURRY",
            10 => c"HOLD_STILL",
            _ => c"UNKNOWN",
        };
        out = s.as_ptr();
    });
    out
}

/// Copies the calling thread's last error message into `buf`: the message of the last
/// `lp_` call on this thread that returned an error (each call returning `LP_OK` clears it;
/// this function itself neither sets nor clears it). The text is UTF-8, e.g.
/// `"invalid argument: frame plane 0 stride 100 < width 64 × 4 bytes"`.
///
/// Writes at most `len - 1` bytes of the message, cut at a UTF-8 character boundary, then a
/// NUL (nothing when `len` is 0). `*out_n` receives the length of the *whole* message in
/// bytes without the NUL, as `snprintf` returns it: `*out_n >= len` means the text was
/// truncated, and `buf = NULL, len = 0` asks only for the length. An empty message (no error)
/// writes `""` and `*out_n = 0`.
///
/// Returns `LP_NULL_ARGUMENT` (writing nothing) when `out_n` is NULL, or `buf` is NULL with
/// `len > 0`.
///
/// Thread-safety: any thread; reads only that thread's message.
///
/// # Safety
/// `buf` is NULL or writable for `len` bytes; `out_n` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn lp_last_error_message(
    buf: *mut c_char,
    len: usize,
    out_n: *mut usize,
) -> lp_result {
    let r = catch_panic(|| {
        if out_n.is_null() || (buf.is_null() && len > 0) {
            return Ok(lp_result::LP_NULL_ARGUMENT);
        }
        let message = LAST_ERROR
            .try_with(|e| e.try_borrow().map(|s| s.clone()).unwrap_or_default())
            .unwrap_or_default();
        if len > 0 {
            let mut n = message.len().min(len - 1);
            while !message.is_char_boundary(n) {
                n -= 1;
            }
            // SAFETY: `buf` is non-NULL (len > 0) and writable for `len > n` bytes by the
            // caller's contract; the source is our own copy.
            unsafe {
                std::ptr::copy_nonoverlapping(message.as_ptr(), buf.cast::<u8>(), n);
                buf.add(n).write(0);
            }
        }
        // SAFETY: checked non-NULL; writable by the caller's contract.
        unsafe { write_out(out_n, message.len()) };
        Ok(lp_result::LP_OK)
    });
    r.unwrap_or(lp_result::LP_PANIC)
}

/// Routes the library's log records to stderr (Android: logcat; Apple with the `oslog`
/// feature: unified logging) at `level`: 0 off, 1 error, 2 warn, 3 info, 4 debug, 5 trace.
/// `RUST_LOG` refines it on desktop. Only the first call has an effect; later ones return
/// `LP_OK` and change nothing. `LP_INVALID_ARGUMENT` for a level above 5.
///
/// Thread-safety: any thread, any time.
#[no_mangle]
pub extern "C" fn lp_log_init(level: u32) -> lp_result {
    boundary(|| {
        let filter = match level {
            0 => log::LevelFilter::Off,
            1 => log::LevelFilter::Error,
            2 => log::LevelFilter::Warn,
            3 => log::LevelFilter::Info,
            4 => log::LevelFilter::Debug,
            5 => log::LevelFilter::Trace,
            other => {
                return Err(invalid(format!(
                    "log level {other} is out of range; expected 0 (off) ..= 5 (trace)"
                )))
            }
        };
        crate::logging::init_logging(filter);
        Ok(())
    })
}

// ---------------------------------------------------------------------------------------------
// Engine.

/// Fills `*out_config` with the defaults: `struct_size` = the given size, `models_dir = NULL`
/// (set it), `ort_library_path = NULL` ($ORT_DYLIB_PATH), BlazeFace front, 1 thread, 4 faces,
/// recount every 15 frames, scores 0.5. Call it as
/// `lp_engine_config_init(sizeof(lp_engine_config), &config)`.
///
/// `struct_size` is the caller's `sizeof(lp_engine_config)`; the library writes exactly that
/// many bytes, so a program built against an older header stays safe with a newer library.
/// A size this library does not know (today only the current size) is
/// `LP_INVALID_ARGUMENT`, and nothing is written.
///
/// Errors: `LP_NULL_ARGUMENT`, `LP_INVALID_ARGUMENT`.
///
/// Thread-safety: any thread.
///
/// # Safety
/// `out_config` is NULL or writable for `struct_size` bytes.
#[no_mangle]
pub unsafe extern "C" fn lp_engine_config_init(
    struct_size: usize,
    out_config: *mut lp_engine_config,
) -> lp_result {
    const F: &str = "lp_engine_config_init";
    boundary(|| {
        check_config_size(struct_size, F)?;
        out_ptr(out_config, F, "out_config")?;
        // SAFETY: checked non-NULL; writable for `struct_size` = size_of::<lp_engine_config>()
        // bytes by the caller's contract.
        unsafe { write_out(out_config, config_defaults()) };
        Ok(())
    })
}

/// Loads ONNX Runtime and the detector and FaceMesh models (each checked against its pinned
/// sha256 and tensor shapes) and writes a new engine to `*out_engine`; free it with
/// `lp_engine_free`. Takes about 100 ms. `config` is only read during the call.
///
/// `config->struct_size` must equal the `sizeof(lp_engine_config)` of this header (use
/// `lp_engine_config_init`); later versions will also accept the sizes of earlier ones.
///
/// Errors: `LP_NULL_ARGUMENT` (config, config->models_dir, out_engine),
/// `LP_INVALID_ARGUMENT` (struct_size, detector, a value out of range),
/// `LP_RUNTIME_UNAVAILABLE` (library missing or not loadable), `LP_MODEL_MISSING`,
/// `LP_MODEL_INTEGRITY`, `LP_MODEL_INVALID`.
///
/// Thread-safety: any thread; engines may be created concurrently.
///
/// # Safety
/// `config` is NULL or points to an initialised `lp_engine_config` whose strings are NULL or
/// NUL-terminated; `out_engine` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn lp_engine_new(
    config: *const lp_engine_config,
    out_engine: *mut *mut lp_engine,
) -> lp_result {
    const F: &str = "lp_engine_new";
    boundary(|| {
        // SAFETY: the caller's contract on `config`.
        let c = unsafe { arg_ref(config, F, "config") }?;
        out_ptr(out_engine, F, "out_engine")?;
        // SAFETY: the caller's contract on the config's strings.
        let config = unsafe { config_from_c(c, F) }?;
        let engine = Engine::new(config).map_err(ApiError::from)?;
        let engine = Arc::new(engine);
        let still = StillAnalyzer::new(engine.clone());
        let handle = Box::into_raw(Box::new(lp_engine { engine, still }));
        // SAFETY: checked non-NULL; writable by the caller's contract.
        unsafe { write_out(out_engine, handle) };
        Ok(())
    })
}

/// Frees an engine. NULL is a no-op. Trackers made from it stay valid (they keep the models
/// alive) and must still be freed.
///
/// Thread-safety: no other call may use `engine` during or after this one.
///
/// # Safety
/// `engine` is NULL or a handle from `lp_engine_new` not yet freed.
#[no_mangle]
pub unsafe extern "C" fn lp_engine_free(engine: *mut lp_engine) {
    boundary_void(|| {
        if !engine.is_null() {
            // SAFETY: a live handle from `Box::into_raw` in `lp_engine_new`, freed once.
            drop(unsafe { Box::from_raw(engine) });
        }
    });
}

/// Analyses one still image: runs the detector, then FaceMesh and the quality gate on up to
/// `max_faces` faces; no tracking state is used or kept. Writes a new analysis to
/// `*out_analysis`; free it with `lp_analysis_free`. The frame's planes are only read
/// during the call.
///
/// Internally each call borrows a tracker from the engine's pool (created on demand, up to 4
/// kept), so concurrent calls do not wait on each other except inside ONNX Runtime, where
/// each model runs one inference at a time.
///
/// Errors: `LP_NULL_ARGUMENT` (engine, frame, a used plane's data, out_analysis),
/// `LP_INVALID_ARGUMENT` (format, size, stride, plane length, rotation, mirrored),
/// `LP_PROCESSING`.
///
/// Thread-safety: any thread, concurrently with other calls on the same engine.
///
/// # Safety
/// `engine` is NULL or a live engine; `frame` is NULL or points to an `lp_frame` whose used
/// planes point to `len` readable bytes; `out_analysis` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn lp_engine_analyze_frame(
    engine: *const lp_engine,
    frame: *const lp_frame,
    out_analysis: *mut *mut lp_analysis,
) -> lp_result {
    const F: &str = "lp_engine_analyze_frame";
    boundary(|| {
        // SAFETY: the caller's contract on `engine` and `frame`.
        let engine = unsafe { arg_ref(engine, F, "engine") }?;
        let frame = unsafe { arg_ref(frame, F, "frame") }?;
        out_ptr(out_analysis, F, "out_analysis")?;
        // SAFETY: the caller's contract on the planes.
        let frame = unsafe { frame_from_c(frame, F) }?;
        let analysis = engine
            .still
            .analyze(&frame, |a| a.clone())
            .map_err(ApiError::from)?;
        // SAFETY: checked non-NULL; writable by the caller's contract.
        unsafe { write_out(out_analysis, new_analysis(analysis)) };
        Ok(())
    })
}

// ---------------------------------------------------------------------------------------------
// Tracker.

/// Creates a tracker for one camera stream on `engine`; free it with `lp_tracker_free`. The
/// tracker keeps the engine's models alive, so the engine may be freed first.
///
/// Errors: `LP_NULL_ARGUMENT` (engine, out_tracker).
///
/// Thread-safety: any thread, concurrently with other calls on the same engine.
///
/// # Safety
/// `engine` is NULL or a live engine; `out_tracker` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn lp_tracker_new(
    engine: *const lp_engine,
    out_tracker: *mut *mut lp_tracker,
) -> lp_result {
    const F: &str = "lp_tracker_new";
    boundary(|| {
        // SAFETY: the caller's contract on `engine`.
        let engine = unsafe { arg_ref(engine, F, "engine") }?;
        out_ptr(out_tracker, F, "out_tracker")?;
        let handle = Box::into_raw(Box::new(lp_tracker {
            tracker: Tracker::new(engine.engine.clone()),
        }));
        // SAFETY: checked non-NULL; writable by the caller's contract.
        unsafe { write_out(out_tracker, handle) };
        Ok(())
    })
}

/// Processes the next frame of the tracker's stream: FaceMesh follows the face from the
/// previous frame's landmarks while its presence stays above `min_presence`; the detector
/// runs when the track is lost (on the same frame) and every `recount_faces_every` frames.
/// Stability (`LP_HINT_HOLD_STILL`) uses the timestamps: a repeated timestamp (or none, 0 on
/// every frame) skips stability on that frame, one going backwards restarts the track; neither
/// fails the frame. After a failed frame the track restarts. Writes a new analysis to `*out_analysis` (free it with `lp_analysis_free`).
///
/// Errors: as `lp_engine_analyze_frame`.
///
/// Thread-safety: one thread at a time per tracker (it may move between threads between
/// calls); different trackers run concurrently.
///
/// # Safety
/// `tracker` is NULL or a live tracker used by no other thread during the call; `frame` and
/// `out_analysis` as for `lp_engine_analyze_frame`.
#[no_mangle]
pub unsafe extern "C" fn lp_tracker_process(
    tracker: *mut lp_tracker,
    frame: *const lp_frame,
    out_analysis: *mut *mut lp_analysis,
) -> lp_result {
    const F: &str = "lp_tracker_process";
    boundary(|| {
        // SAFETY: the caller's contract on `tracker` (exclusive) and `frame`.
        let tracker = unsafe { arg_mut(tracker, F, "tracker") }?;
        let frame = unsafe { arg_ref(frame, F, "frame") }?;
        out_ptr(out_analysis, F, "out_analysis")?;
        // SAFETY: the caller's contract on the planes.
        let frame = unsafe { frame_from_c(frame, F) }?;
        let analysis = tracker
            .tracker
            .process(&frame)
            .cloned()
            .map_err(ApiError::from)?;
        // SAFETY: checked non-NULL; writable by the caller's contract.
        unsafe { write_out(out_analysis, new_analysis(analysis)) };
        Ok(())
    })
}

/// Forgets the tracked face (e.g. when the camera restarts): the next frame runs the
/// detector. Errors: `LP_NULL_ARGUMENT`.
///
/// Thread-safety: as `lp_tracker_process`.
///
/// # Safety
/// `tracker` is NULL or a live tracker used by no other thread during the call.
#[no_mangle]
pub unsafe extern "C" fn lp_tracker_reset(tracker: *mut lp_tracker) -> lp_result {
    boundary(|| {
        // SAFETY: the caller's contract on `tracker` (exclusive).
        let tracker = unsafe { arg_mut(tracker, "lp_tracker_reset", "tracker") }?;
        tracker.tracker.reset();
        Ok(())
    })
}

/// Frees a tracker. NULL is a no-op.
///
/// Thread-safety: no other call may use `tracker` during or after this one.
///
/// # Safety
/// `tracker` is NULL or a handle from `lp_tracker_new` not yet freed.
#[no_mangle]
pub unsafe extern "C" fn lp_tracker_free(tracker: *mut lp_tracker) {
    boundary_void(|| {
        if !tracker.is_null() {
            // SAFETY: a live handle from `Box::into_raw` in `lp_tracker_new`, freed once.
            drop(unsafe { Box::from_raw(tracker) });
        }
    });
}

// ---------------------------------------------------------------------------------------------
// Analysis accessors.

/// Copies the frame-level figures (size, timestamp, face counts, hints bitmask, time) into
/// `*out_info`. Errors: `LP_NULL_ARGUMENT`.
///
/// Thread-safety: any thread; analyses are immutable.
///
/// # Safety
/// `analysis` is NULL or a live analysis; `out_info` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn lp_analysis_get_info(
    analysis: *const lp_analysis,
    out_info: *mut lp_analysis_info,
) -> lp_result {
    const F: &str = "lp_analysis_get_info";
    boundary(|| {
        // SAFETY: the caller's contract on `analysis`.
        let a = unsafe { arg_ref(analysis, F, "analysis") }?;
        out_ptr(out_info, F, "out_info")?;
        // SAFETY: checked non-NULL; writable by the caller's contract.
        unsafe { write_out(out_info, info_of(&a.analysis)) };
        Ok(())
    })
}

/// Writes the number of analysed faces (valid `lp_analysis_face` indices are
/// `0..*out_count`) to `*out_count`. Errors: `LP_NULL_ARGUMENT`.
///
/// Thread-safety: any thread; analyses are immutable.
///
/// # Safety
/// `analysis` is NULL or a live analysis; `out_count` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn lp_analysis_face_count(
    analysis: *const lp_analysis,
    out_count: *mut usize,
) -> lp_result {
    const F: &str = "lp_analysis_face_count";
    boundary(|| {
        // SAFETY: the caller's contract on `analysis`.
        let a = unsafe { arg_ref(analysis, F, "analysis") }?;
        out_ptr(out_count, F, "out_count")?;
        // SAFETY: checked non-NULL; writable by the caller's contract.
        unsafe { write_out(out_count, a.analysis.faces.len()) };
        Ok(())
    })
}

/// Copies face `face_index` (0 = the primary face, the one quality and tracking follow) into
/// `*out_face`. Errors: `LP_NULL_ARGUMENT`, `LP_INDEX_OUT_OF_RANGE`.
///
/// Thread-safety: any thread; analyses are immutable.
///
/// # Safety
/// `analysis` is NULL or a live analysis; `out_face` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn lp_analysis_face(
    analysis: *const lp_analysis,
    face_index: usize,
    out_face: *mut lp_face,
) -> lp_result {
    const F: &str = "lp_analysis_face";
    boundary(|| {
        // SAFETY: the caller's contract on `analysis`.
        let a = unsafe { arg_ref(analysis, F, "analysis") }?;
        out_ptr(out_face, F, "out_face")?;
        let face = face_to_c(a.face(face_index, F)?);
        // SAFETY: checked non-NULL; writable by the caller's contract.
        unsafe { write_out(out_face, face) };
        Ok(())
    })
}

/// Copies face `face_index`'s landmarks into `xyz` as `x0, y0, z0, x1, …`: x, y in upright
/// image pixels, z in the same scale (negative = towards the camera), MediaPipe's order.
/// `len` is the capacity of `xyz` in floats and must be at least 3 × the face's
/// `landmark_count` (`3 * LP_LANDMARK_COUNT`); `*out_n` receives the floats written.
///
/// Errors: `LP_NULL_ARGUMENT`, `LP_INDEX_OUT_OF_RANGE`, `LP_BUFFER_TOO_SMALL` (nothing
/// written).
///
/// Thread-safety: any thread; analyses are immutable.
///
/// # Safety
/// `analysis` is NULL or a live analysis; `xyz` is NULL or writable for `len` floats;
/// `out_n` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn lp_analysis_landmarks(
    analysis: *const lp_analysis,
    face_index: usize,
    xyz: *mut f32,
    len: usize,
    out_n: *mut usize,
) -> lp_result {
    const F: &str = "lp_analysis_landmarks";
    boundary(|| {
        // SAFETY: the caller's contract on `analysis`.
        let a = unsafe { arg_ref(analysis, F, "analysis") }?;
        if xyz.is_null() {
            return Err(null(F, "xyz"));
        }
        out_ptr(out_n, F, "out_n")?;
        let face = a.face(face_index, F)?;
        let needed = 3 * face.landmarks.len();
        if len < needed {
            return Err(buffer_too_small(F, "xyz", len, needed));
        }
        // SAFETY: non-NULL and writable for `len ≥ needed` floats (aligned) by the caller's
        // contract; it cannot alias our own landmarks.
        let dst = unsafe { std::slice::from_raw_parts_mut(xyz, needed) };
        for (d, p) in dst.chunks_exact_mut(3).zip(&face.landmarks) {
            d.copy_from_slice(&[p.x, p.y, p.z]);
        }
        // SAFETY: checked non-NULL; writable by the caller's contract.
        unsafe { write_out(out_n, needed) };
        Ok(())
    })
}

/// Copies the frame-level hints, most important first (show `hints[0]`), into `hints`;
/// `*out_n` receives how many. `len` is the capacity of `hints`: `LP_HINT_COUNT` always
/// suffices; a smaller array that cannot hold them all gives `LP_BUFFER_TOO_SMALL` (nothing
/// written). No hint (`*out_n == 0`) means the frame is good to use. `hints` may be NULL
/// when `len` is 0.
///
/// Errors: `LP_NULL_ARGUMENT`, `LP_BUFFER_TOO_SMALL`.
///
/// Thread-safety: any thread; analyses are immutable.
///
/// # Safety
/// `analysis` is NULL or a live analysis; `hints` is NULL or writable for `len` values;
/// `out_n` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn lp_analysis_hints(
    analysis: *const lp_analysis,
    hints: *mut lp_hint,
    len: usize,
    out_n: *mut usize,
) -> lp_result {
    const F: &str = "lp_analysis_hints";
    boundary(|| {
        // SAFETY: the caller's contract on `analysis`.
        let a = unsafe { arg_ref(analysis, F, "analysis") }?;
        if hints.is_null() && len > 0 {
            return Err(null(F, "hints"));
        }
        out_ptr(out_n, F, "out_n")?;
        let n = a.analysis.hints.len();
        if len < n {
            return Err(buffer_too_small(F, "hints", len, n));
        }
        for (i, &h) in a.analysis.hints.iter().enumerate() {
            // SAFETY: `i < n ≤ len`, so non-NULL and writable by the caller's contract.
            unsafe { hints.add(i).write(hint_to_c(h)) };
        }
        // SAFETY: checked non-NULL; writable by the caller's contract.
        unsafe { write_out(out_n, n) };
        Ok(())
    })
}

/// Writes the buffer size `lp_analysis_json` needs, in bytes *including* the NUL, to
/// `*out_size`. Errors: `LP_NULL_ARGUMENT`.
///
/// Thread-safety: any thread; analyses are immutable (the JSON is rendered once, on first
/// use).
///
/// # Safety
/// `analysis` is NULL or a live analysis; `out_size` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn lp_analysis_json_size(
    analysis: *const lp_analysis,
    out_size: *mut usize,
) -> lp_result {
    const F: &str = "lp_analysis_json_size";
    boundary(|| {
        // SAFETY: the caller's contract on `analysis`.
        let a = unsafe { arg_ref(analysis, F, "analysis") }?;
        out_ptr(out_size, F, "out_size")?;
        // SAFETY: checked non-NULL; writable by the caller's contract.
        unsafe { write_out(out_size, a.json().len() + 1) };
        Ok(())
    })
}

/// Copies the analysis as JSON (UTF-8, NUL-terminated; the CLI's `--json` form: per face
/// `box`, `score`, `keypoints`, 468 `landmarks`, `presence`, `quality` with every check,
/// plus frame `hints` and `timings_ms`) into `buf`. `len` must be at least the size from
/// `lp_analysis_json_size`, else `LP_BUFFER_TOO_SMALL` and nothing is written. `*out_n`
/// receives the bytes written without the NUL.
///
/// Errors: `LP_NULL_ARGUMENT`, `LP_BUFFER_TOO_SMALL`.
///
/// Thread-safety: any thread; analyses are immutable.
///
/// # Safety
/// `analysis` is NULL or a live analysis; `buf` is NULL or writable for `len` bytes;
/// `out_n` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn lp_analysis_json(
    analysis: *const lp_analysis,
    buf: *mut c_char,
    len: usize,
    out_n: *mut usize,
) -> lp_result {
    const F: &str = "lp_analysis_json";
    boundary(|| {
        // SAFETY: the caller's contract on `analysis`.
        let a = unsafe { arg_ref(analysis, F, "analysis") }?;
        out_ptr(out_n, F, "out_n")?;
        // SAFETY: the caller's contract on `buf`.
        let n = unsafe { copy_c_string(a.json().as_bytes(), buf, len, F) }?;
        // SAFETY: checked non-NULL; writable by the caller's contract.
        unsafe { write_out(out_n, n) };
        Ok(())
    })
}

/// Frees an analysis. NULL is a no-op.
///
/// Thread-safety: no other call may use `analysis` during or after this one.
///
/// # Safety
/// `analysis` is NULL or a handle from `lp_engine_analyze_frame` / `lp_tracker_process`
/// not yet freed.
#[no_mangle]
pub unsafe extern "C" fn lp_analysis_free(analysis: *mut lp_analysis) {
    boundary_void(|| {
        if !analysis.is_null() {
            // SAFETY: a live handle from `Box::into_raw` in `new_analysis`, freed once.
            drop(unsafe { Box::from_raw(analysis) });
        }
    });
}

#[cfg(test)]
mod tests;
