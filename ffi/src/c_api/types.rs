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
/// Number of distinct reason codes: an `lp_reason` array of this length always holds
/// `lp_outcome_reasons`' output.
pub const LP_REASON_COUNT: usize = 21;
/// Bytes of a session id as text: 32 hex digits and the NUL (`lp_token_session_id`,
/// `lp_outcome_session_id`).
pub const LP_SESSION_ID_SIZE: usize = 33;
/// Bytes of a P-256 public key in SEC1 uncompressed form (`0x04 ‖ x ‖ y`).
pub const LP_PUBLIC_KEY_SIZE: usize = 65;
/// Bytes of the seed a local session takes.
pub const LP_SEED_SIZE: usize = 32;
/// Capacity of the signature buffer a signer callback writes into: a DER ECDSA P-256
/// signature is at most 72 bytes, a raw one 64.
pub const LP_SIGNATURE_MAX_SIZE: usize = 72;
// The `LP_*_SIZE_V*` sizes are those of 64-bit targets (x86-64, aarch64); on a 32-bit target
// use `offsetof` / `sizeof` instead (the library takes its sizes from the layouts).

/// `sizeof(lp_engine_config)` of version 1 (liveproof 0.1.0 before `preload_session`), on
/// 64-bit targets.
pub const LP_ENGINE_CONFIG_SIZE_V1: usize = 48;
/// `sizeof(lp_engine_config)` of version 2 (adds `preload_session`): the current one.
pub const LP_ENGINE_CONFIG_SIZE_V2: usize = 56;
/// `sizeof(lp_session_config)` of version 1 (before the template, camera name and declared
/// camera).
pub const LP_SESSION_CONFIG_SIZE_V1: usize = 40;
/// `sizeof(lp_session_config)` of version 2 (adds `template_json`, `camera_name` and the
/// declared camera): the current one.
pub const LP_SESSION_CONFIG_SIZE_V2: usize = 72;
/// `sizeof(lp_feedback)` of version 1: the current one.
pub const LP_FEEDBACK_SIZE_V1: usize = 72;

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

/// The decision of a session (the value `lp_outcome_band` writes). 0 is not a band, so a
/// zero-initialised variable never reads as a pass. `lp_band_name` spells them as the JSON.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum lp_band {
    /// Live and (with a template) matching: accept.
    LP_BAND_PASS = 1,
    /// Not enough evidence either way (poor quality, timeout, cancel): capture again.
    LP_BAND_RETRY = 2,
    /// An attack, a failed challenge or a mismatch: refuse.
    LP_BAND_FAIL = 3,
}

/// Where a capture is (`lp_feedback.phase`). `lp_phase_name` spells them as the JSON.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum lp_phase {
    /// No usable face yet: show the hints.
    LP_PHASE_POSITIONING = 0,
    /// Collecting the passive window: the user holds still.
    LP_PHASE_PASSIVE = 1,
    /// The active challenge is running: show the prompt.
    LP_PHASE_CHALLENGE = 2,
    /// Enough evidence: call `lp_session_finish`.
    LP_PHASE_DONE = 3,
}

/// What the capture UI asks of the user now (`lp_feedback.prompt`). `lp_prompt_name` spells
/// them as the JSON.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum lp_prompt {
    /// Nothing to ask (positioning: show the hints instead).
    LP_PROMPT_NONE = 0,
    /// Hold still.
    LP_PROMPT_HOLD_STILL = 1,
    /// Blink.
    LP_PROMPT_BLINK = 2,
    /// Turn the head to the user's left.
    LP_PROMPT_TURN_LEFT = 3,
    /// Turn the head to the user's right.
    LP_PROMPT_TURN_RIGHT = 4,
    /// Nod.
    LP_PROMPT_NOD = 5,
    /// Smile.
    LP_PROMPT_SMILE = 6,
}

/// What a capture is for (the token's flow; `lp_session_new_local`'s `flow`). 0 is not a
/// flow. `lp_flow_name` spells them as the JSON and the policy.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum lp_flow {
    /// Opening an account (onboarding).
    LP_FLOW_ACCOUNT_OPENING = 1,
    /// Logging in.
    LP_FLOW_LOGIN = 2,
    /// Confirming a transaction.
    LP_FLOW_TRANSACTION = 3,
    /// Recovering an account.
    LP_FLOW_RECOVERY = 4,
}

/// The tenant's risk tier for a capture (the token's tier; `lp_session_new_local`'s `tier`).
/// 0 is not a tier. `lp_tier_name` spells them as the JSON and the policy.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum lp_tier {
    /// Low risk.
    LP_TIER_LOW = 1,
    /// Medium risk.
    LP_TIER_MEDIUM = 2,
    /// High risk.
    LP_TIER_HIGH = 3,
}

/// Why a session got its band: core's reason-code catalogue, each value its stable number
/// (never reused). `lp_reason_name` spells them as the JSON (`docs/decision.md` explains
/// each).
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum lp_reason {
    /// The fused passive evidence was at or above the pass threshold.
    LP_REASON_PASSIVE_SCORE_HIGH = 1,
    /// The fused passive evidence was between the bands.
    LP_REASON_PASSIVE_SCORE_UNCERTAIN = 2,
    /// The fused passive evidence was at or below the fail threshold.
    LP_REASON_PASSIVE_SCORE_LOW = 3,
    /// Every challenge step was performed.
    LP_REASON_CHALLENGE_PASSED = 4,
    /// A challenge step was performed wrongly, or moved like a flat surface.
    LP_REASON_CHALLENGE_FAILED = 5,
    /// A challenge step was not performed in time.
    LP_REASON_CHALLENGE_TIMEOUT = 6,
    /// The face changed, or was lost too long, during the capture.
    LP_REASON_FACE_CHANGED = 7,
    /// The capture quality was good enough to decide.
    LP_REASON_QUALITY_OK = 8,
    /// The capture quality was too poor to decide: retry.
    LP_REASON_QUALITY_POOR_RETRY = 9,
    /// No usable face was seen.
    LP_REASON_NO_FACE = 10,
    /// A signal the policy requires, or the minimum number of signals, was not available.
    LP_REASON_SIGNAL_UNAVAILABLE = 11,
    /// The face matched the enrolled template.
    LP_REASON_MATCH_PASSED = 12,
    /// The face did not match the enrolled template.
    LP_REASON_MATCH_FAILED = 13,
    /// The match was uncertain: retry.
    LP_REASON_MATCH_UNCERTAIN = 14,
    /// The frames came from a virtual camera.
    LP_REASON_VIRTUAL_CAMERA_DETECTED = 15,
    /// The frames were injected into the capture pipeline.
    LP_REASON_INJECTION_DETECTED = 16,
    /// The device reported a severe risk (rooted, emulated, tampered).
    LP_REASON_DEVICE_RISK_DETECTED = 17,
    /// The policy asked for passive liveness only on this flow and risk tier.
    LP_REASON_PASSIVE_ONLY = 18,
    /// The capture was cancelled or ended before the challenge could finish.
    LP_REASON_CAPTURE_INCOMPLETE = 19,
    /// This failure reached the policy's limit of consecutive failures.
    LP_REASON_MAX_ATTEMPTS_REACHED = 20,
    /// The server reached another band than the device reported (a verifier's verdict,
    /// never a device's).
    LP_REASON_CLIENT_DECISION_MISMATCH = 21,
}

/// How a signer callback encoded its signature (`*out_format`).
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum lp_signature_format {
    /// `r ‖ s`, 32 bytes each, big-endian (64 bytes): COSE's form, CryptoKit's `rawRepresentation`.
    LP_SIGNATURE_RAW = 1,
    /// ASN.1 DER `ECDSA-Sig-Value` (at most 72 bytes): Android Keystore, `SecKeyCreateSignature`.
    LP_SIGNATURE_DER = 2,
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
    /// Version 2. 1 = `lp_engine_new` also loads what sessions need (the passive-signal,
    /// eye-state and embedding models, the shipped calibration and policy: about 0.5 s more);
    /// 0 (the default, and what a version-1 struct gets) = the first `lp_session_new*` on the
    /// engine loads them once. Other values are `LP_INVALID_ARGUMENT`.
    pub preload_session: u32,
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

/// Session settings. Fill it with `lp_session_config_init(sizeof(lp_session_config), &c)`,
/// then change what you need. Optional: `lp_session_new*` take NULL for the defaults. Later
/// versions append fields and keep accepting the sizes of earlier ones.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct lp_session_config {
    /// `sizeof(lp_session_config)` as the caller compiled it; set by `lp_session_config_init`.
    pub struct_size: usize,
    /// NUL-terminated free text about the camera for the audit record (e.g. "front, 640x480
    /// NV21"), copied; NULL = none.
    pub capture_device: *const c_char,
    /// 1 (default) = run the passive signals, face continuity and parallax on a worker thread
    /// of the session's own, off the frame path; 0 = on the calling thread (same results).
    pub off_path: u8,
    /// 1 (default) = the frames come from a live camera, so the stream-injection heuristics
    /// run; 0 = recorded media (local sessions only: a token session is always live).
    pub live_capture: u8,
    /// Target oval for the face, normalised image coordinates: centre x, centre y, half
    /// width, half height (default: core's).
    pub target_oval: [f32; 4],
    /// Version 2. NUL-terminated JSON of the enrolled face template to match (as `liveproof
    /// enroll` or the server writes it), copied; NULL = no face match.
    pub template_json: *const c_char,
    /// Version 2. NUL-terminated camera name as the OS reports it (a device probe looks for
    /// virtual cameras in it), copied; NULL = not known.
    pub camera_name: *const c_char,
    /// Version 2. The camera configuration the frames should match (stream-injection
    /// heuristics): buffer width and height in pixels, frame rate, and an `lp_pixel_format`;
    /// 0 = not known (the default for each).
    pub declared_width: u32,
    pub declared_height: u32,
    pub declared_fps: f32,
    pub declared_format: u32,
}

/// Feedback on one frame, written by `lp_session_push_frame` into a struct the caller owns
/// (set `struct_size = sizeof(lp_feedback)` once; reuse it for every frame). The library
/// writes exactly `struct_size` bytes; later versions append fields.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct lp_feedback {
    /// `sizeof(lp_feedback)` as the caller compiled it: the caller sets it, the library
    /// reads it and leaves it unchanged.
    pub struct_size: usize,
    /// Where the capture is: an `lp_phase` value.
    pub phase: lp_phase,
    /// What to ask of the user now: an `lp_prompt` value.
    pub prompt: lp_prompt,
    /// This frame's quality hints as a bitmask (bit `h` for `lp_hint` `h`); the lowest set
    /// bit is the one to show.
    pub hints: u32,
    /// Progress of the whole capture, 0..=1.
    pub progress: f32,
    /// The challenge step under way, 0-based (equal to `step_count` once every step ran;
    /// 0 without a challenge).
    pub step_index: u32,
    /// Steps in the challenge (0 without a challenge).
    pub step_count: u32,
    /// Whether `face_box` holds a face (else it is all 0).
    pub has_face_box: bool,
    /// The face box, normalised `[x_min, y_min, x_max, y_max]` of the upright frame.
    pub face_box: [f32; 4],
    /// Where the face should be: centre x, centre y, half width, half height (normalised).
    pub target_oval: [f32; 4],
    /// Whether the frame was used as evidence (a face and no blocking hint).
    pub used: bool,
}
