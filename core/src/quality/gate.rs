//! The gate itself: [`assess`] runs every check on one face, [`assess_no_face_in`] looks at a
//! frame without one; [`QualityScratch`] holds the buffers and motion history between frames.

use alloc::vec::Vec;

use super::image::image_checks;
use super::{
    box_outside_fraction, center_offset, estimate_head_pose, face_ratio, landmark_motion,
    landmarks_outside_fraction, Check, FaceChecks, Hint, HintSet, LumaView, MotionHistory,
    QualityConfig, QualityError, QualityReport, StabilityChecks, CANONICAL_INTEROCULAR,
};
use crate::geometry::Rect;
use crate::math;
use crate::mesh::Landmarks;

/// One face of one upright frame, as the pipeline has it.
#[derive(Clone, Copy, Debug)]
pub struct QualityInput<'a> {
    /// Luma of the whole upright frame. Its size is the frame size; landmarks and box are in
    /// its pixel coordinates.
    pub luma: LumaView<'a>,
    /// The face box in frame pixels (the detector's box; may extend past the frame).
    pub face_box: Rect,
    /// The 468 FaceMesh landmarks in frame pixels (z in the same scale, negative = towards
    /// the camera).
    pub landmarks: &'a Landmarks,
    /// FaceMesh face-presence probability, 0..1.
    pub presence: f32,
    /// The previous frame's 468 landmarks of the same face, if it had one.
    pub previous: Option<&'a Landmarks>,
    /// Seconds since the previous frame (used only with `previous`).
    pub dt_s: f32,
    /// Faces found in the frame (this input describes the primary one). 0 is the same as
    /// [`assess_no_face`].
    pub num_faces: usize,
}

/// Reusable per-session buffers and state. Create once, pass to every [`assess`] call: it holds
/// the resampled crop (no allocation per frame after the first) and the short motion history
/// behind the stability speed. Call [`QualityScratch::reset`] when a new capture starts.
#[derive(Clone, Debug, Default)]
pub struct QualityScratch {
    pub(super) crop: Vec<f32>,
    pub(super) counts: Vec<u32>,
    pub(super) history: MotionHistory,
}

impl QualityScratch {
    pub fn new() -> Self {
        Self::default()
    }
    /// Forgets the motion history (buffers are kept).
    pub fn reset(&mut self) {
        self.history.clear();
    }
    /// The last resampled face crop (`crop_size²` luma values, row-major), for debugging.
    pub fn crop(&self) -> &[f32] {
        &self.crop
    }
}

/// The report for a frame without a face: one `NoFace` hint.
pub fn assess_no_face() -> QualityReport {
    QualityReport {
        num_faces: 0,
        checks: None,
        pose: None,
        hints: [Hint::NoFace].into_iter().collect(),
        passed: false,
    }
}

/// The report for a frame in which no face was found, looking at the frame's exposure too: a
/// user in the dark should hear `TooDark`, not only `NoFace`. Adds `TooDark` / `TooBright` when
/// the central half of the frame has a mean luma outside the face thresholds
/// (`min_mean_luma`..`max_mean_luma`), or when over a third of it is clipped (at or beyond
/// `dark_level` / `bright_level`).
pub fn assess_no_face_in(cfg: &QualityConfig, luma: &LumaView<'_>) -> QualityReport {
    let mut report = assess_no_face();
    let (w, h) = (luma.width() as usize, luma.height() as usize);
    let (x0, x1, y0, y1) = (w / 4, w - w / 4, h / 4, h - h / 4);
    let (mut sum, mut dark, mut bright) = (0u64, 0usize, 0usize);
    for y in y0..y1 {
        let start = y * luma.stride();
        let Some(row) = luma.data().get(start + x0..start + x1) else {
            continue;
        };
        for &v in row {
            sum += u64::from(v);
            dark += usize::from(v <= cfg.dark_level);
            bright += usize::from(v >= cfg.bright_level);
        }
    }
    let n = ((x1 - x0) * (y1 - y0)).max(1) as f32;
    let mean = sum as f32 / n;
    if mean < cfg.min_mean_luma || dark as f32 / n > 1.0 / 3.0 {
        report.hints.insert(Hint::TooDark);
    } else if mean > cfg.max_mean_luma || bright as f32 / n > 1.0 / 3.0 {
        report.hints.insert(Hint::TooBright);
    }
    report
}

fn validate_input(input: &QualityInput<'_>) -> Result<(), QualityError> {
    input.face_box.check_face_box()?;
    if !(0.0..=1.0).contains(&input.presence) {
        return Err(QualityError::InvalidPresence(input.presence));
    }
    if input.previous.is_some() && !(input.dt_s.is_finite() && input.dt_s > 0.0) {
        return Err(QualityError::InvalidTimeDelta(input.dt_s));
    }
    Ok(())
}

/// Runs every check on one face and returns the report (hints sorted by priority).
///
/// `cfg` is validated first. Errors are for malformed input only (landmark count, NaN, box,
/// presence, time delta); bad *quality* is never an error. With `num_faces == 0` this is
/// [`assess_no_face`] and the face fields are ignored.
///
/// The region occlusion check compares the luma std-dev (local contrast) of each eye box and
/// of the mouth box, placed from the landmarks, with that of the whole face ellipse. An open
/// eye (sclera against iris, lashes) and a mouth (the lip line) are among the most contrasted
/// parts of a face; an eye box is grown vertically so that a closed eye keeps its lash line
/// against the lids in view. A hand, a mask or a dark lens over the region is nearly uniform.
/// Being a ratio, the measure ignores exposure gain and blurs of the whole face. It misses
/// strongly patterned occluders (a printed mask): the presence score and the fit residual are
/// the other occlusion signals.
pub fn assess(
    cfg: &QualityConfig,
    input: &QualityInput<'_>,
    scratch: &mut QualityScratch,
) -> Result<QualityReport, QualityError> {
    cfg.validate()?;
    if input.num_faces == 0 {
        scratch.reset();
        return Ok(assess_no_face());
    }
    validate_input(input)?;
    let (fw, fh) = (input.luma.width(), input.luma.height());
    let lm = input.landmarks;

    let pose = estimate_head_pose(lm)?;
    let iod_px = pose.scale * CANONICAL_INTEROCULAR;

    let (dx, dy) = center_offset(&input.face_box, fw, fh);
    let image = image_checks(cfg, input, scratch)?;

    let stability = match input.previous {
        Some(prev) if input.dt_s <= cfg.max_frame_gap_s => {
            let motion = landmark_motion(prev, lm, iod_px)?;
            scratch.history.push(input.dt_s, motion);
            let speed = scratch.history.speed(cfg.motion_window_s);
            Some(StabilityChecks {
                frame_motion: Check::at_most(motion, cfg.max_frame_motion, Hint::HoldStill),
                speed: Check::at_most(speed, cfg.max_motion_speed, Hint::HoldStill),
            })
        }
        _ => {
            scratch.history.clear();
            None
        }
    };

    let checks = FaceChecks {
        image,
        face_ratio: Check::within(
            face_ratio(&input.face_box, fw, fh),
            cfg.min_face_ratio,
            cfg.max_face_ratio,
            Hint::MoveCloser,
            Hint::MoveAway,
        ),
        center_offset: Check::at_most(
            math::abs(dx).max(math::abs(dy)),
            cfg.max_center_offset,
            Hint::CenterFace,
        ),
        box_outside: Check::at_most(
            box_outside_fraction(&input.face_box, fw, fh),
            cfg.max_box_outside,
            Hint::CenterFace,
        ),
        landmarks_outside: Check::at_most(
            landmarks_outside_fraction(lm, fw, fh),
            cfg.max_landmarks_outside,
            Hint::CenterFace,
        ),
        yaw: Check::symmetric(pose.yaw_deg, cfg.max_yaw_deg, Hint::LookStraight),
        pitch: Check::symmetric(pose.pitch_deg, cfg.max_pitch_deg, Hint::LookStraight),
        roll: Check::symmetric(pose.roll_deg, cfg.max_roll_deg, Hint::LookStraight),
        presence: Check::at_least(input.presence, cfg.min_presence, Hint::FaceOccluded),
        pose_residual: Check::at_most(pose.residual, cfg.max_pose_residual, Hint::FaceOccluded),
        stability,
    };

    let mut hints: HintSet = checks.iter().filter_map(|c| c.verdict.hint()).collect();
    if input.num_faces > 1 {
        hints.insert(Hint::MultipleFaces);
    }
    let passed = hints.is_empty();
    Ok(QualityReport {
        num_faces: input.num_faces,
        checks: Some(checks),
        pose: Some(pose),
        hints,
        passed,
    })
}
