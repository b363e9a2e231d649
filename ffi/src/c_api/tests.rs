//! The C ABI called from Rust: conversions, every error path that needs no models, the
//! "nothing written on failure" rule, the panic boundary, and (when the set-up's environment
//! is present, as under `cargo xtask test`) a real engine on synthetic frames.

use std::ffi::{c_char, CStr, CString};
use std::ptr;

use liveproof_core::detect::Detection;
use liveproof_core::engine::{FaceAnalysis, FrameAnalysis};
use liveproof_core::geometry::{Point2, Point3, Rect, RotatedRect};
use liveproof_core::quality::{HeadPose, Hint, QualityReport};

use super::*;

/// The calling thread's last error message (shared with `session_tests`).
pub(super) fn last_error() -> String {
    let mut buf = [0 as c_char; 1024];
    let mut n = 0usize;
    // SAFETY: a 1024-byte buffer and a valid out pointer.
    let r = unsafe { lp_last_error_message(buf.as_mut_ptr(), buf.len(), &mut n) };
    assert_eq!(r, lp_result::LP_OK);
    // SAFETY: the function NUL-terminates within the buffer.
    unsafe { CStr::from_ptr(buf.as_ptr()) }
        .to_string_lossy()
        .into_owned()
}

fn cstr(p: *const c_char) -> String {
    assert!(!p.is_null());
    // SAFETY: the library returns static NUL-terminated strings.
    unsafe { CStr::from_ptr(p) }.to_str().unwrap().to_owned()
}

/// A frame over `data` with sensible defaults for the tests to break one field at a time.
fn frame(format: u32, width: u32, height: u32, data: &[u8], stride: usize) -> lp_frame {
    let plane = lp_plane {
        data: data.as_ptr(),
        len: data.len(),
        row_stride: stride,
    };
    let none = lp_plane {
        data: ptr::null(),
        len: 0,
        row_stride: 0,
    };
    lp_frame {
        planes: [plane, none, none],
        format,
        width,
        height,
        rotation_degrees: 0,
        mirrored: 0,
        timestamp_ns: 0,
    }
}

fn convert(f: &lp_frame) -> Result<Frame<'_>, Failure> {
    // SAFETY: the test frames' planes point into live slices of the stated length.
    unsafe { frame_from_c(f, "test") }
}

#[test]
fn result_numbers_are_fixed_and_named() {
    use lp_result::*;
    let all = [
        (LP_OK, 0, "LP_OK"),
        (LP_NULL_ARGUMENT, 1, "LP_NULL_ARGUMENT"),
        (LP_INVALID_ARGUMENT, 2, "LP_INVALID_ARGUMENT"),
        (LP_BUFFER_TOO_SMALL, 3, "LP_BUFFER_TOO_SMALL"),
        (LP_INDEX_OUT_OF_RANGE, 4, "LP_INDEX_OUT_OF_RANGE"),
        (LP_SESSION_STATE, 5, "LP_SESSION_STATE"),
        (LP_RUNTIME_UNAVAILABLE, 100, "LP_RUNTIME_UNAVAILABLE"),
        (LP_MODEL_MISSING, 101, "LP_MODEL_MISSING"),
        (LP_MODEL_INTEGRITY, 102, "LP_MODEL_INTEGRITY"),
        (LP_MODEL_INVALID, 103, "LP_MODEL_INVALID"),
        (LP_TOKEN_REJECTED, 104, "LP_TOKEN_REJECTED"),
        (LP_PROCESSING, 200, "LP_PROCESSING"),
        (LP_MODEL_OUTPUT, 201, "LP_MODEL_OUTPUT"),
        (LP_SIGNER_FAILED, 202, "LP_SIGNER_FAILED"),
        (LP_PANIC, 900, "LP_PANIC"),
        (LP_INTERNAL, 901, "LP_INTERNAL"),
    ];
    assert_eq!(all.len(), lp_result::ALL.len());
    for (code, number, name) in all {
        assert_eq!(code as u32, number, "{name}");
        assert_eq!(cstr(lp_result_name(number)), name);
        assert_eq!(format!("{code:?}"), name);
        assert_eq!(lp_result::from_u32(number), Some(code));
    }
    assert_eq!(cstr(lp_result_name(6)), "LP_UNKNOWN_RESULT");
    assert_eq!(cstr(lp_result_name(u32::MAX)), "LP_UNKNOWN_RESULT");
}

#[test]
fn every_api_error_maps_to_its_code() {
    let m = || "m".to_string();
    let cases = [
        (
            ApiError::InvalidArgument { message: m() },
            lp_result::LP_INVALID_ARGUMENT,
        ),
        (
            ApiError::RuntimeUnavailable { message: m() },
            lp_result::LP_RUNTIME_UNAVAILABLE,
        ),
        (
            ApiError::ModelMissing { message: m() },
            lp_result::LP_MODEL_MISSING,
        ),
        (
            ApiError::ModelIntegrity { message: m() },
            lp_result::LP_MODEL_INTEGRITY,
        ),
        (
            ApiError::ModelInvalid { message: m() },
            lp_result::LP_MODEL_INVALID,
        ),
        (
            ApiError::Processing { message: m() },
            lp_result::LP_PROCESSING,
        ),
        (ApiError::Internal { message: m() }, lp_result::LP_PANIC),
        (
            ApiError::ModelOutput { message: m() },
            lp_result::LP_MODEL_OUTPUT,
        ),
        (ApiError::Invariant { message: m() }, lp_result::LP_INTERNAL),
        (
            ApiError::TokenRejected { message: m() },
            lp_result::LP_TOKEN_REJECTED,
        ),
        (
            ApiError::Signer { message: m() },
            lp_result::LP_SIGNER_FAILED,
        ),
        (
            ApiError::SessionState { message: m() },
            lp_result::LP_SESSION_STATE,
        ),
    ];
    for (e, code) in cases {
        let f = Failure::from(e.clone());
        assert_eq!(f.code, code, "{e:?}");
        assert_eq!(f.message, e.to_string());
    }
}

#[test]
fn version_is_the_cargo_version() {
    assert_eq!(cstr(lp_version()), env!("CARGO_PKG_VERSION"));
    assert_eq!(cstr(lp_version()), crate::VERSION);
}

#[test]
fn constants_match_core() {
    assert_eq!(LP_LANDMARK_COUNT, liveproof_core::mesh::NUM_LANDMARKS);
    assert_eq!(LP_MAX_KEYPOINTS, liveproof_core::detect::MAX_KEYPOINTS);
    assert_eq!(LP_HINT_COUNT, Hint::ALL.len());
}

#[test]
fn pixel_formats_and_detectors_convert_and_reject_unknown_values() {
    use lp_pixel_format::*;
    let formats = [
        (LP_PIXEL_FORMAT_RGBA8888, PixelFormat::Rgba8888),
        (LP_PIXEL_FORMAT_BGRA8888, PixelFormat::Bgra8888),
        (LP_PIXEL_FORMAT_RGB888, PixelFormat::Rgb888),
        (LP_PIXEL_FORMAT_NV21, PixelFormat::Nv21),
        (LP_PIXEL_FORMAT_NV12, PixelFormat::Nv12),
        (LP_PIXEL_FORMAT_I420, PixelFormat::I420),
        (LP_PIXEL_FORMAT_GRAY8, PixelFormat::Gray8),
    ];
    for (c, core) in formats {
        assert_eq!(pixel_format_from_c(c as u32).unwrap(), core);
    }
    for bad in [0, 8, 42, u32::MAX] {
        let e = pixel_format_from_c(bad).unwrap_err();
        assert_eq!(e.code, lp_result::LP_INVALID_ARGUMENT);
        assert!(
            e.message.contains(&format!("format {bad} ")),
            "{}",
            e.message
        );
    }
    use lp_detector::*;
    assert_eq!(
        detector_from_c(LP_DETECTOR_BLAZEFACE_FRONT as u32).unwrap(),
        DetectorKind::BlazeFaceFront
    );
    assert_eq!(
        detector_from_c(LP_DETECTOR_BLAZEFACE_BACK as u32).unwrap(),
        DetectorKind::BlazeFaceBack
    );
    assert_eq!(
        detector_from_c(LP_DETECTOR_SCRFD as u32).unwrap(),
        DetectorKind::Scrfd
    );
    for bad in [0, 4, u32::MAX] {
        let e = detector_from_c(bad).unwrap_err();
        assert_eq!(e.code, lp_result::LP_INVALID_ARGUMENT);
        assert!(
            e.message.contains(&format!("detector {bad} ")),
            "{}",
            e.message
        );
    }
}

#[test]
fn hints_keep_core_priority_order_and_names() {
    for (i, h) in Hint::ALL.iter().enumerate() {
        let c = hint_to_c(*h);
        assert_eq!(c as usize, i, "{h:?}");
        assert_eq!(c as u8, h.priority());
        assert_eq!(cstr(lp_hint_name(c as u32)), h.as_str());
    }
    assert_eq!(cstr(lp_hint_name(11)), "UNKNOWN");
    assert_eq!(
        hint_mask(
            [Hint::NoFace, Hint::TooDark, Hint::HoldStill]
                .into_iter()
                .collect()
        ),
        1 | (1 << 3) | (1 << 10)
    );
}

#[test]
fn valid_frames_convert_with_rotation_mirroring_and_timestamp() {
    // 4×2 NV21 with padded rows: Y stride 6, chroma stride 6.
    let y = [16u8; 6 * 2];
    let vu = [128u8; 6];
    let mut f = frame(lp_pixel_format::LP_PIXEL_FORMAT_NV21 as u32, 4, 2, &y, 6);
    f.planes[1] = lp_plane {
        data: vu.as_ptr(),
        len: vu.len(),
        row_stride: 6,
    };
    f.rotation_degrees = 270;
    f.mirrored = 1;
    f.timestamp_ns = 123;
    let fr = convert(&f).unwrap();
    assert_eq!((fr.width(), fr.height()), (4, 2));
    assert_eq!(fr.format(), PixelFormat::Nv21);
    assert_eq!(fr.rotation(), Rotation::Deg270);
    assert!(fr.mirrored());
    assert_eq!(fr.timestamp_ns(), 123);
    // A last row without its padding is accepted.
    let rgb = [0u8; 8 * 3 + 5 * 3];
    let f = frame(
        lp_pixel_format::LP_PIXEL_FORMAT_RGB888 as u32,
        5,
        2,
        &rgb,
        8 * 3,
    );
    assert!(convert(&f).is_ok());
}

#[test]
fn bad_frames_give_their_code_and_a_message_with_the_numbers() {
    let data = vec![0u8; 64 * 4 * 48];
    let rgba = lp_pixel_format::LP_PIXEL_FORMAT_RGBA8888 as u32;
    let check = |f: lp_frame, code: lp_result, words: &[&str]| {
        let e = convert(&f).unwrap_err();
        assert_eq!(e.code, code, "{}", e.message);
        for w in words {
            assert!(e.message.contains(w), "`{w}` not in: {}", e.message);
        }
    };
    check(
        frame(rgba, 0, 48, &data, 256),
        lp_result::LP_INVALID_ARGUMENT,
        &["0×48", "zero side"],
    );
    check(
        frame(rgba, 64, 48, &data, 100),
        lp_result::LP_INVALID_ARGUMENT,
        &["stride 100", "width 64 × 4 bytes"],
    );
    check(
        frame(rgba, 64, 48, &data[..1000], 256),
        lp_result::LP_INVALID_ARGUMENT,
        &["1000 bytes", "at least 12288"],
    );
    check(
        frame(99, 64, 48, &data, 256),
        lp_result::LP_INVALID_ARGUMENT,
        &["format 99"],
    );
    let mut f = frame(rgba, 64, 48, &data, 256);
    f.rotation_degrees = 45;
    check(f, lp_result::LP_INVALID_ARGUMENT, &["rotation 45°"]);
    let mut f = frame(rgba, 64, 48, &data, 256);
    f.mirrored = 2;
    check(f, lp_result::LP_INVALID_ARGUMENT, &["mirrored is 2"]);
    let mut f = frame(rgba, 64, 48, &data, 256);
    f.planes[0].data = ptr::null();
    check(
        f,
        lp_result::LP_NULL_ARGUMENT,
        &["frame->planes[0].data", "test"],
    );
    // NV12 uses plane 1, which the helper leaves NULL.
    check(
        frame(
            lp_pixel_format::LP_PIXEL_FORMAT_NV12 as u32,
            64,
            48,
            &data,
            64,
        ),
        lp_result::LP_NULL_ARGUMENT,
        &["frame->planes[1].data"],
    );
    check(
        frame(
            lp_pixel_format::LP_PIXEL_FORMAT_I420 as u32,
            63,
            48,
            &data,
            64,
        ),
        lp_result::LP_NULL_ARGUMENT,
        &["planes[1]"],
    );
    let mut f = frame(rgba, 64, 48, &data, 256);
    f.planes[0].len = usize::MAX;
    check(f, lp_result::LP_INVALID_ARGUMENT, &["isize::MAX"]);
    // A zero-initialised frame says which field is unset.
    let zeroed = lp_frame {
        planes: [lp_plane {
            data: ptr::null(),
            len: 0,
            row_stride: 0,
        }; 3],
        format: 0,
        width: 0,
        height: 0,
        rotation_degrees: 0,
        mirrored: 0,
        timestamp_ns: 0,
    };
    check(zeroed, lp_result::LP_INVALID_ARGUMENT, &["format 0"]);
}

#[test]
fn last_error_message_truncates_at_characters_and_reports_the_full_length() {
    // Provoke a message with a multi-byte character (×).
    let data = [0u8; 16];
    let f = frame(
        lp_pixel_format::LP_PIXEL_FORMAT_RGBA8888 as u32,
        0,
        4,
        &data,
        16,
    );
    let e = convert(&f).unwrap_err();
    set_last_error(e.message.clone());
    let full = e.message.clone();
    assert!(full.contains('×'));
    assert_eq!(last_error(), full);

    // Length query.
    let mut n = 0usize;
    // SAFETY: NULL buffer with length 0 is allowed; `n` is valid.
    let r = unsafe { lp_last_error_message(ptr::null_mut(), 0, &mut n) };
    assert_eq!((r, n), (lp_result::LP_OK, full.len()));

    // Every buffer size: a NUL-terminated prefix ending on a character boundary.
    for len in 1..=full.len() + 2 {
        let mut buf = vec![0x55 as c_char; len + 4];
        let mut n = 0usize;
        // SAFETY: `buf` holds `len + 4` bytes; we pass `len`.
        let r = unsafe { lp_last_error_message(buf.as_mut_ptr(), len, &mut n) };
        assert_eq!((r, n), (lp_result::LP_OK, full.len()));
        // SAFETY: NUL-terminated within `len`.
        let got = unsafe { CStr::from_ptr(buf.as_ptr()) }.to_str().unwrap();
        assert!(
            full.starts_with(got) && got.len() < len,
            "len {len}: {got:?}"
        );
        assert!(got.len() + 4 > len.min(full.len() + 1) - 1);
        assert_eq!(buf[len] as u8, 0x55, "wrote past len {len}");
    }

    // NULL arguments write nothing and keep the message.
    let mut buf = [0x55 as c_char; 8];
    // SAFETY: NULL out_n is the case under test.
    let r = unsafe { lp_last_error_message(buf.as_mut_ptr(), buf.len(), ptr::null_mut()) };
    assert_eq!(r, lp_result::LP_NULL_ARGUMENT);
    assert!(buf.iter().all(|&b| b as u8 == 0x55));
    let mut n = 7usize;
    // SAFETY: NULL buffer with len > 0 is the case under test.
    let r = unsafe { lp_last_error_message(ptr::null_mut(), 4, &mut n) };
    assert_eq!((r, n), (lp_result::LP_NULL_ARGUMENT, 7));
    assert_eq!(last_error(), full);

    // A successful call clears it.
    let mut cfg = config_defaults();
    cfg.struct_size = 0;
    // SAFETY: a valid out pointer.
    assert_eq!(
        unsafe { lp_engine_config_init(std::mem::size_of::<lp_engine_config>(), &mut cfg) },
        lp_result::LP_OK
    );
    assert_eq!(last_error(), "");
}

#[test]
fn panics_become_lp_panic_with_the_message() {
    let r = boundary(|| panic!("deliberate test panic"));
    assert_eq!(r, lp_result::LP_PANIC);
    let m = last_error();
    assert!(
        m.contains("panic") && m.contains("deliberate test panic"),
        "{m}"
    );
    boundary_void(|| panic!("also contained"));
}

#[test]
fn null_arguments_are_named_and_nothing_is_written() {
    let sentinel = 0x1234usize as *mut lp_analysis;
    let mut out = sentinel;
    let data = [0u8; 16];
    let f = frame(
        lp_pixel_format::LP_PIXEL_FORMAT_GRAY8 as u32,
        4,
        4,
        &data,
        4,
    );
    // SAFETY: NULL handles are the cases under test; other pointers are valid.
    unsafe {
        assert_eq!(
            lp_engine_analyze_frame(ptr::null(), &f, &mut out),
            lp_result::LP_NULL_ARGUMENT
        );
        assert!(last_error().contains("`engine` of lp_engine_analyze_frame is NULL"));
        assert_eq!(
            lp_tracker_process(ptr::null_mut(), &f, &mut out),
            lp_result::LP_NULL_ARGUMENT
        );
        assert!(last_error().contains("`tracker`"));
        assert_eq!(out, sentinel);
        let mut t = 0x1234usize as *mut lp_tracker;
        assert_eq!(
            lp_tracker_new(ptr::null(), &mut t),
            lp_result::LP_NULL_ARGUMENT
        );
        assert_eq!(t, 0x1234usize as *mut lp_tracker);
        assert_eq!(
            lp_tracker_reset(ptr::null_mut()),
            lp_result::LP_NULL_ARGUMENT
        );
        assert_eq!(
            lp_engine_config_init(std::mem::size_of::<lp_engine_config>(), ptr::null_mut()),
            lp_result::LP_NULL_ARGUMENT
        );
        assert_eq!(
            lp_engine_new(ptr::null(), ptr::null_mut()),
            lp_result::LP_NULL_ARGUMENT
        );
        assert!(last_error().contains("`config`"));
        let mut n = 0usize;
        assert_eq!(
            lp_analysis_face_count(ptr::null(), &mut n),
            lp_result::LP_NULL_ARGUMENT
        );
        // Freeing NULL is a no-op.
        lp_engine_free(ptr::null_mut());
        lp_tracker_free(ptr::null_mut());
        lp_analysis_free(ptr::null_mut());
    }
}

#[test]
fn engine_config_errors_come_before_any_loading() {
    let models = CString::new("/nonexistent/models").unwrap();
    let ort = CString::new("/nonexistent/libonnxruntime.so.1.31.1").unwrap();
    let sentinel = 0x1234usize as *mut lp_engine;
    let try_new = |cfg: &lp_engine_config| {
        let mut e = sentinel;
        // SAFETY: a valid config (strings live for the call) and out pointer.
        let r = unsafe { lp_engine_new(cfg, &mut e) };
        assert_eq!(e, sentinel, "written on failure");
        (r, last_error())
    };
    let mut cfg = lp_engine_config {
        struct_size: 0,
        models_dir: ptr::null(),
        ort_library_path: ptr::null(),
        detector: 0,
        intra_op_threads: 0,
        max_faces: 0,
        recount_faces_every: 0,
        min_detection_score: 0.0,
        min_presence: 0.0,
        preload_session: 0,
    };
    // SAFETY: a valid out pointer.
    assert_eq!(
        unsafe { lp_engine_config_init(std::mem::size_of::<lp_engine_config>(), &mut cfg) },
        lp_result::LP_OK
    );
    assert_eq!(cfg.struct_size, std::mem::size_of::<lp_engine_config>());
    // An unknown size (another header version) writes nothing.
    let before = cfg;
    // SAFETY: a valid out pointer; the size is the case under test.
    let r = unsafe { lp_engine_config_init(40, &mut cfg) };
    assert_eq!(r, lp_result::LP_INVALID_ARGUMENT);
    let want = format!(
        "struct_size is 40; expected one of {LP_ENGINE_CONFIG_SIZE_V1}, {}",
        std::mem::size_of::<lp_engine_config>()
    );
    assert!(last_error().contains(&want));
    assert_eq!(cfg.struct_size, before.struct_size);
    assert_eq!(
        cfg.detector,
        lp_detector::LP_DETECTOR_BLAZEFACE_FRONT as u32
    );
    assert_eq!((cfg.intra_op_threads, cfg.max_faces), (1, 4));
    assert_eq!(cfg.min_presence, 0.5);

    let (r, m) = try_new(&cfg);
    assert_eq!(r, lp_result::LP_NULL_ARGUMENT);
    assert!(m.contains("config->models_dir"), "{m}");

    cfg.models_dir = models.as_ptr();
    cfg.ort_library_path = ort.as_ptr();
    let (r, m) = try_new(&lp_engine_config {
        struct_size: 8,
        ..cfg
    });
    assert_eq!(r, lp_result::LP_INVALID_ARGUMENT);
    assert!(
        m.contains("struct_size is 8") && m.contains("lp_engine_config_init(sizeof"),
        "{m}"
    );

    let (r, m) = try_new(&lp_engine_config { detector: 7, ..cfg });
    assert_eq!(r, lp_result::LP_INVALID_ARGUMENT);
    assert!(m.contains("detector 7"), "{m}");

    let (r, m) = try_new(&lp_engine_config {
        min_presence: 2.0,
        ..cfg
    });
    assert_eq!(r, lp_result::LP_INVALID_ARGUMENT);
    assert!(m.contains("min_presence") && m.contains("got 2"), "{m}");

    let (r, m) = try_new(&lp_engine_config {
        intra_op_threads: 65,
        ..cfg
    });
    assert_eq!(r, lp_result::LP_INVALID_ARGUMENT);
    assert!(m.contains("1..=64, got 65"), "{m}");

    // 0 threads is rejected by core, as in UniFFI (one rule; it used to mean 1 here only).
    let (r, m) = try_new(&lp_engine_config {
        intra_op_threads: 0,
        ..cfg
    });
    assert_eq!(r, lp_result::LP_INVALID_ARGUMENT, "{m}");
    assert!(m.contains("1..=64, got 0"), "{m}");
}

fn synthetic_analysis() -> FrameAnalysis {
    let landmarks: Vec<Point3> = (0..LP_LANDMARK_COUNT)
        .map(|i| Point3::new(i as f32, 2.0 * i as f32, -(i as f32)))
        .collect();
    let mut keypoints = [Point2::default(); 6];
    for (i, k) in keypoints.iter_mut().enumerate() {
        *k = Point2::new(10.0 + i as f32, 20.0 + i as f32);
    }
    let face = FaceAnalysis {
        detection: Detection {
            bbox: Rect::new(1.0, 2.0, 3.0, 4.0),
            score: 0.9,
            keypoints,
            num_keypoints: 5,
        },
        roi: RotatedRect::default(),
        landmarks: liveproof_core::mesh::Landmarks::new(landmarks).unwrap(),
        presence: 0.99,
        quality: QualityReport {
            num_faces: 1,
            checks: None,
            pose: Some(HeadPose {
                yaw_deg: 5.0,
                pitch_deg: -7.0,
                roll_deg: 1.5,
                scale: 1.0,
                residual: 0.01,
                rotation: [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]],
            }),
            hints: [Hint::TooDark, Hint::Blurry].into_iter().collect(),
            passed: false,
        },
    };
    FrameAnalysis {
        width: 640,
        height: 480,
        timestamp_ns: 42,
        detector_ran: true,
        faces_detected: 2,
        faces: vec![face],
        hints: [Hint::MultipleFaces, Hint::TooDark, Hint::Blurry]
            .into_iter()
            .collect(),
        ..FrameAnalysis::default()
    }
}

#[test]
fn analysis_accessors_copy_out_and_write_nothing_on_failure() {
    let a = new_analysis(synthetic_analysis());
    // SAFETY: `a` is live until the free at the end; every buffer is sized as passed.
    unsafe {
        let mut info = std::mem::zeroed::<lp_analysis_info>();
        assert_eq!(lp_analysis_get_info(a, &mut info), lp_result::LP_OK);
        assert_eq!(
            (info.width, info.height, info.timestamp_ns, info.face_count),
            (640, 480, 42, 1)
        );
        assert_eq!(info.faces_detected, 2);
        assert!(info.detector_ran);
        assert_eq!(info.hints, (1 << 1) | (1 << 3) | (1 << 9));

        let mut n = 0usize;
        assert_eq!(lp_analysis_face_count(a, &mut n), lp_result::LP_OK);
        assert_eq!(n, 1);

        let mut face = std::mem::zeroed::<lp_face>();
        assert_eq!(lp_analysis_face(a, 0, &mut face), lp_result::LP_OK);
        assert_eq!(face.bbox, [1.0, 2.0, 3.0, 4.0]);
        assert_eq!((face.score, face.presence), (0.9, 0.99));
        assert_eq!(face.keypoint_count, 5);
        assert_eq!(face.keypoints[4], [14.0, 24.0]);
        assert_eq!(face.keypoints[5], [0.0, 0.0], "beyond keypoint_count");
        assert_eq!(face.landmark_count, 468);
        assert!(face.has_pose);
        assert_eq!(
            (face.yaw_deg, face.pitch_deg, face.roll_deg),
            (5.0, -7.0, 1.5)
        );
        assert!(!face.quality_passed);
        assert_eq!(face.hints, (1 << 3) | (1 << 9));

        let before = face;
        assert_eq!(
            lp_analysis_face(a, 1, &mut face),
            lp_result::LP_INDEX_OUT_OF_RANGE
        );
        assert_eq!(face, before);
        assert!(last_error().contains("face index 1 is not below the face count 1"));

        // Landmarks: too small writes nothing; exact size writes all.
        let mut xyz = vec![-1.0f32; 3 * 468];
        let mut n = 99usize;
        assert_eq!(
            lp_analysis_landmarks(a, 0, xyz.as_mut_ptr(), 3 * 468 - 1, &mut n),
            lp_result::LP_BUFFER_TOO_SMALL
        );
        assert_eq!(n, 99);
        assert!(xyz.iter().all(|&v| v == -1.0));
        assert!(last_error().contains("length 1403; expected at least 1404"));
        assert_eq!(
            lp_analysis_landmarks(a, 0, xyz.as_mut_ptr(), xyz.len(), &mut n),
            lp_result::LP_OK
        );
        assert_eq!(n, 1404);
        assert_eq!(&xyz[3 * 467..], &[467.0, 934.0, -467.0]);
        assert_eq!(
            lp_analysis_landmarks(a, 0, ptr::null_mut(), 1404, &mut n),
            lp_result::LP_NULL_ARGUMENT
        );
        assert_eq!(
            lp_analysis_landmarks(a, 3, xyz.as_mut_ptr(), xyz.len(), &mut n),
            lp_result::LP_INDEX_OUT_OF_RANGE
        );

        // Hints, in priority order.
        let mut hints = [lp_hint::LP_HINT_HOLD_STILL; LP_HINT_COUNT];
        let mut n = 99usize;
        assert_eq!(
            lp_analysis_hints(a, hints.as_mut_ptr(), 2, &mut n),
            lp_result::LP_BUFFER_TOO_SMALL
        );
        assert_eq!(n, 99);
        assert_eq!(hints, [lp_hint::LP_HINT_HOLD_STILL; LP_HINT_COUNT]);
        assert_eq!(
            lp_analysis_hints(a, hints.as_mut_ptr(), hints.len(), &mut n),
            lp_result::LP_OK
        );
        assert_eq!(
            &hints[..n],
            &[
                lp_hint::LP_HINT_MULTIPLE_FACES,
                lp_hint::LP_HINT_TOO_DARK,
                lp_hint::LP_HINT_BLURRY
            ]
        );
        assert_eq!(
            lp_analysis_hints(a, ptr::null_mut(), 0, &mut n),
            lp_result::LP_BUFFER_TOO_SMALL
        );

        // JSON: the size includes the NUL; one byte less is too small.
        let mut size = 0usize;
        assert_eq!(lp_analysis_json_size(a, &mut size), lp_result::LP_OK);
        let mut buf = vec![0x55 as c_char; size];
        let mut n = 99usize;
        assert_eq!(
            lp_analysis_json(a, buf.as_mut_ptr(), size - 1, &mut n),
            lp_result::LP_BUFFER_TOO_SMALL
        );
        assert_eq!(n, 99);
        assert!(buf.iter().all(|&b| b as u8 == 0x55));
        assert_eq!(
            lp_analysis_json(a, buf.as_mut_ptr(), size, &mut n),
            lp_result::LP_OK
        );
        assert_eq!(n, size - 1);
        let text = CStr::from_ptr(buf.as_ptr()).to_str().unwrap();
        let v: serde_json::Value = serde_json::from_str(text).unwrap();
        assert_eq!(v, (*a).analysis.to_json());
        assert_eq!(v["faces"][0]["landmarks"].as_array().unwrap().len(), 468);
        assert_eq!(v["hints"][0], "MULTIPLE_FACES");

        lp_analysis_free(a);
    }
}

#[test]
fn frame_notes_copy_out_with_their_names() {
    let mut fa = synthetic_analysis();
    fa.notes = vec![FrameNote::ClockWentBackwards, FrameNote::RepeatedTimestamp];
    let a = new_analysis(fa);
    // SAFETY: `a` is live until the free at the end; every buffer is sized as passed.
    unsafe {
        let mut notes = [lp_frame_note::LP_FRAME_NOTE_REPEATED_TIMESTAMP; LP_FRAME_NOTE_COUNT];
        let mut n = 99usize;
        assert_eq!(
            lp_analysis_notes(a, notes.as_mut_ptr(), 1, &mut n),
            lp_result::LP_BUFFER_TOO_SMALL
        );
        assert_eq!(n, 99);
        assert!(last_error().contains("notes buffer has length 1; expected at least 2"));
        assert_eq!(
            lp_analysis_notes(a, notes.as_mut_ptr(), notes.len(), &mut n),
            lp_result::LP_OK
        );
        assert_eq!(
            &notes[..n],
            &[
                lp_frame_note::LP_FRAME_NOTE_CLOCK_WENT_BACKWARDS,
                lp_frame_note::LP_FRAME_NOTE_REPEATED_TIMESTAMP
            ]
        );
        // The names are the JSON's.
        let json = (*a).analysis.to_json();
        for (i, &note) in notes[..n].iter().enumerate() {
            assert_eq!(cstr(lp_frame_note_name(note as u32)), json["notes"][i]);
        }
        assert_eq!(cstr(lp_frame_note_name(2)), "unknown");
        assert_eq!(
            lp_analysis_notes(ptr::null(), notes.as_mut_ptr(), 2, &mut n),
            lp_result::LP_NULL_ARGUMENT
        );
        lp_analysis_free(a);
    }
    let none = new_analysis(synthetic_analysis());
    // SAFETY: `none` is live until the free; a NULL array with length 0 is allowed.
    unsafe {
        let mut n = 99usize;
        assert_eq!(
            lp_analysis_notes(none, ptr::null_mut(), 0, &mut n),
            lp_result::LP_OK
        );
        assert_eq!(n, 0);
        lp_analysis_free(none);
    }
}

#[test]
fn a_face_without_pose_reports_nan_angles() {
    let mut fa = synthetic_analysis();
    fa.faces[0].quality.pose = None;
    let c = face_to_c(&fa.faces[0]);
    assert!(!c.has_pose);
    assert!(c.yaw_deg.is_nan() && c.pitch_deg.is_nan() && c.roll_deg.is_nan());
}

/// The set-up's paths (always set under `cargo xtask test`). A missing environment fails the
/// test with what to do: a real-engine test never passes without running.
pub(super) fn setup_env() -> (CString, CString) {
    const HOW: &str =
        "run `cargo xtask setup`, then `eval \"$(cargo xtask env)\"` (cargo xtask test does both)";
    let models = std::env::var("LIVEPROOF_MODELS_DIR")
        .unwrap_or_else(|_| panic!("LIVEPROOF_MODELS_DIR is not set: {HOW}"));
    let ort = std::env::var("ORT_DYLIB_PATH")
        .unwrap_or_else(|_| panic!("ORT_DYLIB_PATH is not set: {HOW}"));
    assert!(
        std::path::Path::new(&ort).is_file(),
        "ORT_DYLIB_PATH {ort} is not a file: {HOW}"
    );
    (
        CString::new(models).expect("models path without NUL"),
        CString::new(ort).expect("runtime path without NUL"),
    )
}

/// A real engine on synthetic frames: a flat grey frame has no face and says so; the same
/// pooled engine serves two threads; a tracker processes a stream; a missing model folder is
/// `LP_MODEL_MISSING` with the path in the message.
#[test]
fn real_engine_on_synthetic_frames() {
    let (models, ort) = setup_env();
    // SAFETY: every pointer below is valid for its call; handles are freed once.
    unsafe {
        let mut cfg = std::mem::zeroed::<lp_engine_config>();
        assert_eq!(
            lp_engine_config_init(std::mem::size_of::<lp_engine_config>(), &mut cfg),
            lp_result::LP_OK
        );
        cfg.ort_library_path = ort.as_ptr();
        let missing = CString::new("/nonexistent/liveproof-models").unwrap();
        cfg.models_dir = missing.as_ptr();
        let mut engine: *mut lp_engine = ptr::null_mut();
        assert_eq!(
            lp_engine_new(&cfg, &mut engine),
            lp_result::LP_MODEL_MISSING
        );
        assert!(engine.is_null());
        let m = last_error();
        assert!(
            m.contains("/nonexistent/liveproof-models/face_detection_front_128x128.onnx"),
            "{m}"
        );

        cfg.models_dir = models.as_ptr();
        assert_eq!(lp_engine_new(&cfg, &mut engine), lp_result::LP_OK);
        assert!(!engine.is_null());

        let grey = vec![128u8; 320 * 240];
        let f = frame(
            lp_pixel_format::LP_PIXEL_FORMAT_GRAY8 as u32,
            320,
            240,
            &grey,
            320,
        );
        let engine_addr = engine as usize;
        let threads: Vec<_> = (0..2)
            .map(|_| {
                let grey = grey.clone();
                std::thread::spawn(move || {
                    let f = frame(
                        lp_pixel_format::LP_PIXEL_FORMAT_GRAY8 as u32,
                        320,
                        240,
                        &grey,
                        320,
                    );
                    let mut a: *mut lp_analysis = ptr::null_mut();
                    let r = lp_engine_analyze_frame(engine_addr as *const lp_engine, &f, &mut a);
                    assert_eq!(r, lp_result::LP_OK);
                    let mut info = std::mem::zeroed::<lp_analysis_info>();
                    assert_eq!(lp_analysis_get_info(a, &mut info), lp_result::LP_OK);
                    lp_analysis_free(a);
                    info
                })
            })
            .collect();
        for t in threads {
            let info = t.join().unwrap();
            assert_eq!((info.width, info.height, info.face_count), (320, 240, 0));
            assert_eq!(info.hints & 1, 1, "NO_FACE");
        }

        let mut tracker: *mut lp_tracker = ptr::null_mut();
        assert_eq!(lp_tracker_new(engine, &mut tracker), lp_result::LP_OK);
        // The tracker keeps the models alive after the engine is freed.
        lp_engine_free(engine);
        for i in 0..3u64 {
            let f = lp_frame {
                timestamp_ns: i * 33_000_000,
                ..f
            };
            let mut a: *mut lp_analysis = ptr::null_mut();
            assert_eq!(lp_tracker_process(tracker, &f, &mut a), lp_result::LP_OK);
            let mut hints = [lp_hint::LP_HINT_NO_FACE; LP_HINT_COUNT];
            let mut n = 0usize;
            assert_eq!(
                lp_analysis_hints(a, hints.as_mut_ptr(), hints.len(), &mut n),
                lp_result::LP_OK
            );
            assert_eq!(hints[0], lp_hint::LP_HINT_NO_FACE);
            lp_analysis_free(a);
        }
        assert_eq!(lp_tracker_reset(tracker), lp_result::LP_OK);
        lp_tracker_free(tracker);
    }
}
