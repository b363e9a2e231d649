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

pub(super) fn note_to_c(n: FrameNote) -> lp_frame_note {
    match n {
        FrameNote::RepeatedTimestamp => lp_frame_note::LP_FRAME_NOTE_REPEATED_TIMESTAMP,
        FrameNote::ClockWentBackwards => lp_frame_note::LP_FRAME_NOTE_CLOCK_WENT_BACKWARDS,
    }
}

pub(super) fn hint_mask(hints: &[Hint]) -> u32 {
    hints
        .iter()
        .fold(0, |m, &h| m | (1u32 << hint_to_c(h) as u32))
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

/// The `lp_engine_config` sizes this library reads and writes: today only its own. A later
/// version that appends fields keeps accepting the earlier sizes (and fills the rest with
/// defaults).
pub(super) fn check_config_size(struct_size: usize, func: &str) -> Result<(), Failure> {
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
    }
}

/// # Safety
/// `c.models_dir` and `c.ort_library_path` are NULL or NUL-terminated strings.
pub(super) unsafe fn config_from_c(
    c: &lp_engine_config,
    func: &str,
) -> Result<EngineConfig, Failure> {
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
        hints: hint_mask(&f.quality.hints),
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
        hints: hint_mask(&a.hints),
        total_ms: a.timings.total,
    }
}
