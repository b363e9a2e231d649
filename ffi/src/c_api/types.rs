//! The C types: result codes, enums, and the `#[repr(C)]` structs the caller fills or reads.

use super::*;

/// FaceMesh landmarks per face; `lp_analysis_landmarks` needs `3 * LP_LANDMARK_COUNT` floats.
pub const LP_LANDMARK_COUNT: usize = 468;
/// Capacity of `lp_face.keypoints` (BlazeFace gives 6 keypoints, SCRFD 5).
pub const LP_MAX_KEYPOINTS: usize = 6;
/// Number of distinct hints: a `lp_hint` array of this length always holds
/// `lp_analysis_hints`' output.
pub const LP_HINT_COUNT: usize = 11;
/// Number of distinct frame notes: a `lp_frame_note` array of this length always holds
/// `lp_analysis_notes`' output.
pub const LP_FRAME_NOTE_COUNT: usize = 2;
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
    /// The call is not allowed in the object's state: a finished, cancelled or closed session
    /// (the message says which).
    LP_SESSION_STATE = 5,
    /// The ONNX Runtime shared library is missing or cannot be loaded.
    LP_RUNTIME_UNAVAILABLE = 100,
    /// A model file is missing from `models_dir`.
    LP_MODEL_MISSING = 101,
    /// A model file does not match its pinned sha256 or size.
    LP_MODEL_INTEGRITY = 102,
    /// A model file is corrupt or its inputs/outputs differ from the manifest.
    LP_MODEL_INVALID = 103,
    /// The server's session token failed a check on the device (signature, unknown or
    /// retired key, expiry, malformed, policy hash); the message names the check.
    LP_TOKEN_REJECTED = 104,
    /// Inference or processing failed at run time.
    LP_PROCESSING = 200,
    /// A model answered out of its contract at run time (wrong output length, non-finite
    /// values): a broken or mismatched model file.
    LP_MODEL_OUTPUT = 201,
    /// The host's signer failed (its callback returned an error); the session keeps its
    /// decision and `lp_session_finish` may be called again to sign it.
    LP_SIGNER_FAILED = 202,
    /// A bug: a Rust panic was caught at the boundary. The handle passed in may be in an
    /// unspecified (but memory-safe) state; free it. Please report the message.
    LP_PANIC = 900,
    /// A bug: an internal invariant did not hold (no panic; the handle is still usable).
    /// Please report the message.
    LP_INTERNAL = 901,
}

/// Something the pipeline skipped on a frame, and why (core's `FrameNote`). Never a failure:
/// the frame's other checks ran as usual. For the app's developer, not the user. Values are
/// never reused; `lp_frame_note_name` spells them as the JSON's `notes` does.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum lp_frame_note {
    /// The timestamp equals the previous frame's (or timestamps are missing: 0 on every
    /// frame), so no time passed: stability was not measured on this frame.
    LP_FRAME_NOTE_REPEATED_TIMESTAMP = 0,
    /// The timestamp is earlier than the previous frame's: the track was restarted and
    /// stability was not measured on this frame.
    LP_FRAME_NOTE_CLOCK_WENT_BACKWARDS = 1,
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
