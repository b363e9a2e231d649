//! `capi_frame`: the same frames as `frame`, through the C ABI's frame path: an `lp_frame`
//! (any format value, mirrored value, rotation, stride, plane length, a NULL plane) given to
//! `lp_engine_analyze_frame` and to `lp_tracker_process` on one engine with the real models.
//!
//! Every `lp_*` call runs inside a panic boundary, so a panic cannot unwind into C; what this
//! target checks is that none happens: `LP_PANIC` (a panic caught at the boundary) fails it,
//! as does any code outside the call's documented list (`LP_OK`, `LP_NULL_ARGUMENT`,
//! `LP_INVALID_ARGUMENT`, `LP_PROCESSING`), or a frame the C layer accepts or refuses
//! differently from core's `Frame::new` on the same planes.
//!
//! The C ABI has no frame path without an engine (every frame function takes an engine, a
//! tracker or a session made from one), so the first call loads one: ONNX Runtime from
//! `ORT_DYLIB_PATH` and the models from `LIVEPROOF_MODELS_DIR` (`cargo xtask setup`).

use std::ffi::{c_char, CString};
use std::sync::{Mutex, OnceLock};

use liveproof_core::frame::{Frame, Plane, Rotation};
use liveproof_ffi::c_api::{
    lp_analysis, lp_analysis_face_count, lp_analysis_free, lp_analysis_json_size, lp_engine,
    lp_engine_analyze_frame, lp_engine_config, lp_engine_config_init, lp_engine_new, lp_frame,
    lp_last_error_message, lp_plane, lp_result, lp_tracker, lp_tracker_new, lp_tracker_process,
    lp_tracker_reset,
};

use crate::frame::FrameSpec;
use crate::Bytes;

/// The engine and one tracker on it, made once per process and never freed.
struct Handles {
    engine: *const lp_engine,
    tracker: Mutex<*mut lp_tracker>,
}

// SAFETY: `lp_engine` is documented thread-safe (any function taking `const lp_engine *` on
// any thread); the tracker is used only under the mutex, one thread at a time, as its
// contract requires.
unsafe impl Send for Handles {}
// SAFETY: as above.
unsafe impl Sync for Handles {}

fn handles() -> &'static Handles {
    static HANDLES: OnceLock<Handles> = OnceLock::new();
    HANDLES.get_or_init(|| {
        let models = liveproof_core::models::cache::models_dir();
        let runtime = liveproof_core::models::cache::runtime_path();
        assert!(
            models.is_dir() && runtime.is_file(),
            "capi_frame needs the models ({}) and ONNX Runtime ({}): run `cargo xtask setup`",
            models.display(),
            runtime.display()
        );
        let models = CString::new(models.to_string_lossy().into_owned()).expect("models path");
        let runtime = CString::new(runtime.to_string_lossy().into_owned()).expect("ORT path");
        let mut config = std::mem::MaybeUninit::<lp_engine_config>::zeroed();
        // SAFETY: writable for sizeof(lp_engine_config) bytes.
        let r = unsafe {
            lp_engine_config_init(std::mem::size_of::<lp_engine_config>(), config.as_mut_ptr())
        };
        assert_eq!(
            r,
            lp_result::LP_OK,
            "lp_engine_config_init: {}",
            last_error()
        );
        // SAFETY: initialised by lp_engine_config_init.
        let mut config = unsafe { config.assume_init() };
        config.models_dir = models.as_ptr();
        config.ort_library_path = runtime.as_ptr();
        let mut engine: *mut lp_engine = std::ptr::null_mut();
        // SAFETY: a valid config whose strings outlive the call; a writable output.
        let r = unsafe { lp_engine_new(&config, &mut engine) };
        assert_eq!(r, lp_result::LP_OK, "lp_engine_new: {}", last_error());
        let mut tracker: *mut lp_tracker = std::ptr::null_mut();
        // SAFETY: a live engine; a writable output.
        let r = unsafe { lp_tracker_new(engine, &mut tracker) };
        assert_eq!(r, lp_result::LP_OK, "lp_tracker_new: {}", last_error());
        Handles {
            engine,
            tracker: Mutex::new(tracker),
        }
    })
}

/// The calling thread's last error message.
fn last_error() -> String {
    let mut buf = vec![0 as c_char; 1024];
    let mut n = 0usize;
    // SAFETY: `buf` is writable for its length; `n` is writable.
    let r = unsafe { lp_last_error_message(buf.as_mut_ptr(), buf.len(), &mut n) };
    if r != lp_result::LP_OK {
        return format!("(lp_last_error_message: {r:?})");
    }
    let bytes: Vec<u8> = buf
        .iter()
        .take_while(|&&c| c != 0)
        .map(|&c| c as u8)
        .collect();
    String::from_utf8_lossy(&bytes).into_owned()
}

/// What the C layer must answer for a frame, from core's own checks in the C layer's order
/// (format, mirrored, rotation, NULL planes, then `Frame::new`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    Invalid,
    Null,
    Accepted,
}

fn expect(spec: &FrameSpec) -> Expect {
    let Some(format) = spec.format() else {
        return Expect::Invalid;
    };
    if spec.mirrored > 1 || Rotation::from_degrees(spec.rotation_degrees).is_err() {
        return Expect::Invalid;
    }
    let n = format.plane_count();
    if spec.null_plane.is_some_and(|p| p < n) {
        return Expect::Null;
    }
    let planes: Vec<Plane<'_>> = (0..n)
        .map(|i| Plane::new(&spec.planes[i], spec.strides[i]))
        .collect();
    match Frame::new(spec.width, spec.height, format, &planes) {
        Ok(_) => Expect::Accepted,
        Err(_) => Expect::Invalid,
    }
}

/// Fuzz target `capi_frame` (module docs).
pub fn capi_frame(data: &[u8]) {
    let mut b = Bytes::new(data);
    let spec = FrameSpec::read(&mut b);
    let planes: [lp_plane; 3] = std::array::from_fn(|i| lp_plane {
        data: if spec.null_plane == Some(i) {
            std::ptr::null()
        } else {
            spec.planes[i].as_ptr()
        },
        len: spec.planes[i].len(),
        row_stride: spec.strides[i],
    });
    let frame = lp_frame {
        planes,
        format: spec.format_code,
        width: spec.width,
        height: spec.height,
        rotation_degrees: spec.rotation_degrees,
        mirrored: spec.mirrored,
        timestamp_ns: spec.timestamp_ns,
    };
    let want = expect(&spec);
    let h = handles();

    let mut analysis: *mut lp_analysis = std::ptr::null_mut();
    // SAFETY: a live engine; the frame's non-NULL planes point to `len` bytes owned by `spec`
    // for the whole call; a writable output.
    let r = unsafe { lp_engine_analyze_frame(h.engine, &frame, &mut analysis) };
    check("lp_engine_analyze_frame", r, want, analysis);

    let guard = h.tracker.lock().unwrap_or_else(|p| p.into_inner());
    let tracker = *guard;
    // Each input starts from a fresh track, so a replay gives the same answer.
    // SAFETY: the live tracker, used only under the lock.
    let r = unsafe { lp_tracker_reset(tracker) };
    assert_eq!(r, lp_result::LP_OK, "lp_tracker_reset: {}", last_error());
    let mut analysis: *mut lp_analysis = std::ptr::null_mut();
    // SAFETY: as above, with the tracker held exclusively.
    let r = unsafe { lp_tracker_process(tracker, &frame, &mut analysis) };
    check("lp_tracker_process", r, want, analysis);
}

/// Checks a frame call's code against the expectation, reads and frees the analysis it made.
fn check(func: &str, r: lp_result, want: Expect, analysis: *mut lp_analysis) {
    let message = last_error();
    assert_ne!(r, lp_result::LP_PANIC, "{func} caught a panic: {message}");
    let ok = match want {
        Expect::Invalid => r == lp_result::LP_INVALID_ARGUMENT,
        Expect::Null => r == lp_result::LP_NULL_ARGUMENT,
        Expect::Accepted => matches!(r, lp_result::LP_OK | lp_result::LP_PROCESSING),
    };
    assert!(
        ok,
        "{func} returned {r:?} for a frame expected {want:?}: {message}"
    );
    if r == lp_result::LP_OK {
        assert!(
            !analysis.is_null(),
            "{func} returned LP_OK without an analysis"
        );
        assert!(
            message.is_empty(),
            "{func} succeeded with an error message: {message}"
        );
        let (mut count, mut size) = (usize::MAX, 0usize);
        // SAFETY: a live analysis from the call; writable outputs.
        unsafe {
            assert_eq!(
                lp_analysis_face_count(analysis, &mut count),
                lp_result::LP_OK
            );
            assert_eq!(lp_analysis_json_size(analysis, &mut size), lp_result::LP_OK);
            lp_analysis_free(analysis);
        }
        assert!(
            count <= 64,
            "{func}: {count} faces in a frame of at most 64×64"
        );
        assert!(size > 0, "{func}: empty analysis JSON");
    } else {
        assert!(
            analysis.is_null(),
            "{func} wrote an analysis on failure ({r:?})"
        );
        assert!(
            !message.is_empty(),
            "{func} failed ({r:?}) without a message"
        );
    }
}
