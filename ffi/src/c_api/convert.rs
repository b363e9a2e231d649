//! Conversions between the C types and core's (pure, unit-tested).

use super::*;

pub(super) fn pixel_format_from_c(v: u32) -> Result<PixelFormat, Failure> {
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

pub(super) fn detector_from_c(v: u32) -> Result<DetectorKind, Failure> {
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

pub(super) fn hint_to_c(h: Hint) -> lp_hint {
    lp_hint::from_core(h)
}

pub(super) fn note_to_c(n: FrameNote) -> lp_frame_note {
    lp_frame_note::from_core(n)
}

pub(super) fn hint_mask(hints: HintSet) -> u32 {
    hints
        .iter()
        .fold(0, |m, h| m | (1u32 << hint_to_c(h) as u32))
}

/// Borrows a C frame as a validated core [`Frame`] for the duration of a call.
///
/// # Safety
/// Each plane the format uses has `data` NULL or pointing to `len` bytes readable and
/// unchanged for `'a`.
pub(super) unsafe fn frame_from_c<'a>(f: &'a lp_frame, func: &str) -> Result<Frame<'a>, Failure> {
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

// The versions' sizes come from the layouts, so they hold on 32-bit targets too (the header's
// `LP_*_SIZE_V*` constants are the 64-bit values, checked below).
//
// SAFETY: `#[repr(C)]`, `struct_size: usize` first; version 1 is the prefix up to
// `min_presence`, version 2 appends `preload_session`.
unsafe impl Versioned for lp_engine_config {
    const NAME: &'static str = "lp_engine_config";
    const SIZES: &'static [usize] = &[
        std::mem::offset_of!(lp_engine_config, preload_session),
        std::mem::size_of::<lp_engine_config>(),
    ];
}
// SAFETY: pointers, integers and floats only.
unsafe impl VersionedInput for lp_engine_config {}

// SAFETY: `#[repr(C)]`, `struct_size: usize` first; version 1 is the prefix up to
// `target_oval`, version 2 appends the template, camera name and declared camera.
unsafe impl Versioned for lp_session_config {
    const NAME: &'static str = "lp_session_config";
    const SIZES: &'static [usize] = &[
        std::mem::offset_of!(lp_session_config, template_json),
        std::mem::size_of::<lp_session_config>(),
    ];
}
// SAFETY: a pointer, integers and floats only (the flags are `u8`, not `bool`).
unsafe impl VersionedInput for lp_session_config {}

// SAFETY: `#[repr(C)]`, `struct_size: usize` first; one version so far. Output only.
unsafe impl Versioned for lp_feedback {
    const NAME: &'static str = "lp_feedback";
    const SIZES: &'static [usize] = &[std::mem::size_of::<lp_feedback>()];
}

// The header's size constants are the 64-bit layouts: a field moved or resized fails the build.
#[cfg(target_pointer_width = "64")]
const _: () = {
    use std::mem::{offset_of, size_of};
    assert!(offset_of!(lp_engine_config, preload_session) == LP_ENGINE_CONFIG_SIZE_V1);
    assert!(size_of::<lp_engine_config>() == LP_ENGINE_CONFIG_SIZE_V2);
    assert!(offset_of!(lp_session_config, template_json) == LP_SESSION_CONFIG_SIZE_V1);
    assert!(size_of::<lp_session_config>() == LP_SESSION_CONFIG_SIZE_V2);
    assert!(size_of::<lp_feedback>() == LP_FEEDBACK_SIZE_V1);
};

/// `LP_INVALID_ARGUMENT` unless `struct_size` is a known `lp_engine_config` version.
pub(super) fn check_config_size(struct_size: usize, func: &str) -> Result<(), Failure> {
    check_struct_size::<lp_engine_config>(struct_size, func)
}

pub(super) fn config_defaults() -> lp_engine_config {
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
        preload_session: 0,
    }
}

/// The engine configuration and whether to load the session's models now.
///
/// # Safety
/// `c.models_dir` and `c.ort_library_path` are NULL or NUL-terminated strings.
pub(super) unsafe fn config_from_c(
    c: &lp_engine_config,
    func: &str,
) -> Result<(EngineConfig, bool), Failure> {
    check_config_size(c.struct_size, func)?;
    // SAFETY: the caller's contract on both strings.
    let models_dir = unsafe { path_arg(c.models_dir, func, "config->models_dir") }?;
    let runtime_path = if c.ort_library_path.is_null() {
        None
    } else {
        // SAFETY: the caller's contract; non-NULL here.
        Some(unsafe { path_arg(c.ort_library_path, func, "config->ort_library_path") }?)
    };
    let preload = flag(c.preload_session.into(), "config->preload_session")?;
    Ok((
        EngineConfig {
            models_dir,
            runtime_path,
            intra_op_threads: c.intra_op_threads as usize,
            detector: detector_from_c(c.detector)?,
            min_detection_score: c.min_detection_score,
            min_presence: c.min_presence,
            max_faces: c.max_faces as usize,
            recount_faces_every: c.recount_faces_every,
            ..EngineConfig::default()
        },
        preload,
    ))
}

/// A 0/1 flag; anything else is `LP_INVALID_ARGUMENT` naming `what`.
pub(super) fn flag(v: u64, what: &str) -> Result<bool, Failure> {
    match v {
        0 => Ok(false),
        1 => Ok(true),
        other => Err(invalid(format!("{what} is {other}; expected 0 or 1"))),
    }
}

pub(super) fn session_config_defaults() -> lp_session_config {
    let d = SessionConfig::default();
    lp_session_config {
        struct_size: std::mem::size_of::<lp_session_config>(),
        capture_device: std::ptr::null(),
        off_path: u8::from(d.off_path),
        live_capture: u8::from(d.live_capture),
        target_oval: d.target_oval,
        template_json: std::ptr::null(),
        camera_name: std::ptr::null(),
        declared_width: 0,
        declared_height: 0,
        declared_fps: 0.0,
        declared_format: 0,
    }
}

/// An optional NUL-terminated UTF-8 string argument (NULL: `None`), copied.
///
/// # Safety
/// `p` is NULL or points to a NUL-terminated string readable during the call.
unsafe fn opt_string(p: *const c_char, func: &str, arg: &str) -> Result<Option<String>, Failure> {
    if p.is_null() {
        return Ok(None);
    }
    // SAFETY: non-NULL and NUL-terminated by the caller's contract.
    let s = unsafe { CStr::from_ptr(p) };
    s.to_str()
        .map(|s| Some(s.to_owned()))
        .map_err(|_| invalid(format!("{func}: {arg} is not UTF-8")))
}

/// The session configuration and options of a C config (NULL: defaults). Fields a version-1
/// struct lacks keep their defaults.
///
/// # Safety
/// `config` is NULL or points to a readable `lp_session_config` of the size it declares, whose
/// strings are NULL or NUL-terminated.
pub(super) unsafe fn session_config_from_c(
    config: *const lp_session_config,
    func: &str,
) -> Result<(SessionConfig, SessionOptions), Failure> {
    let c = if config.is_null() {
        session_config_defaults()
    } else {
        // SAFETY: the caller's contract on `config`.
        unsafe { read_versioned(config, session_config_defaults(), func, "config") }?
    };
    // SAFETY (all three): the caller's contract on the config's strings.
    let capture_device = unsafe { opt_string(c.capture_device, func, "config->capture_device") }?;
    let template_json = unsafe { opt_string(c.template_json, func, "config->template_json") }?;
    let camera_name = unsafe { opt_string(c.camera_name, func, "config->camera_name") }?;
    if c.target_oval.iter().any(|v| !v.is_finite()) {
        return Err(invalid(format!(
            "{func}: config->target_oval {:?} has a value that is not finite",
            c.target_oval
        )));
    }
    if !c.declared_fps.is_finite() || c.declared_fps < 0.0 {
        return Err(invalid(format!(
            "{func}: config->declared_fps is {}; expected 0 (not known) or a positive rate",
            c.declared_fps
        )));
    }
    let template = template_json
        .map(|j| {
            serde_json::from_str::<liveproof_core::matching::FaceTemplate>(&j).map_err(|e| {
                invalid(format!(
                    "{func}: config->template_json is not a LiveProof face template: {e}"
                ))
            })
        })
        .transpose()?;
    let known = |v: u32| (v != 0).then_some(v);
    let declared = liveproof_core::security::DeclaredCamera {
        width: known(c.declared_width),
        height: known(c.declared_height),
        fps: (c.declared_fps > 0.0).then_some(c.declared_fps),
        format: known(c.declared_format)
            .map(|v| {
                pixel_format_from_c(v).map_err(|e| Failure {
                    message: format!(
                        "invalid argument: {func}: config->declared_format: {}",
                        e.message.trim_start_matches("invalid argument: ")
                    ),
                    ..e
                })
            })
            .transpose()?,
    };
    let any_declared = declared.width.is_some()
        || declared.height.is_some()
        || declared.fps.is_some()
        || declared.format.is_some();
    let cfg = SessionConfig {
        off_path: flag(c.off_path.into(), "config->off_path")?,
        live_capture: flag(c.live_capture.into(), "config->live_capture")?,
        target_oval: c.target_oval,
        ..SessionConfig::default()
    };
    let options = SessionOptions {
        template,
        capture_device: capture_device.unwrap_or_default(),
        declared_camera: any_declared.then_some(declared),
        process_facts: liveproof_core::security::ProcessFacts {
            camera_name,
            ..Default::default()
        },
    };
    Ok((cfg, options))
}

/// The feedback struct of core's per-frame feedback (`struct_size` is set on writing).
pub(super) fn feedback_to_c(f: &FrameFeedback) -> lp_feedback {
    lp_feedback {
        struct_size: std::mem::size_of::<lp_feedback>(),
        phase: lp_phase::from_core(f.phase),
        prompt: lp_prompt::from_core(f.prompt),
        hints: hint_mask(f.hints),
        progress: f.progress,
        step_index: f.step_index,
        step_count: f.step_count,
        has_face_box: f.face_box.is_some(),
        face_box: f.face_box.unwrap_or([0.0; 4]),
        target_oval: f.target_oval,
        used: f.used,
    }
}

pub(super) fn face_to_c(f: &liveproof_core::engine::FaceAnalysis) -> lp_face {
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
        hints: hint_mask(f.quality.hints),
    }
}

pub(super) fn info_of(a: &FrameAnalysis) -> lp_analysis_info {
    lp_analysis_info {
        width: a.width,
        height: a.height,
        timestamp_ns: a.timestamp_ns,
        face_count: a.faces.len() as u32,
        faces_detected: a.faces_detected.min(u32::MAX as usize) as u32,
        detector_ran: a.detector_ran,
        hints: hint_mask(a.hints),
        total_ms: a.timings.total,
    }
}
