//! Per-frame face geometry for the challenge detectors, from the 468 FaceMesh landmarks.
//! Every length is in inter-ocular distances (IOD), so it holds at any camera distance.

use serde::Serialize;

use crate::error::{Error, Result};
use crate::geometry::{Point2, Point3};
use crate::mesh::{idx, Landmarks};
use crate::passive::inter_ocular_distance;
use crate::quality::estimate_head_pose;

/// What the challenge detectors read from one face.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct FaceObservation {
    /// Mean eye aspect ratio of both eyes (unitless; open ≈ 0.25–0.35 with FaceMesh).
    pub ear: f32,
    /// Head pose, degrees (yaw + = the user turns to their left, pitch + = chin up).
    pub yaw_deg: f32,
    pub pitch_deg: f32,
    /// Mouth-corner distance, IOD.
    pub mouth_width: f32,
    /// Height of the mouth corners above the lips' centre, along the face's own up axis
    /// (perpendicular to the eye line), IOD: rises with a smile.
    pub corner_lift: f32,
    /// Face centre (eye midpoint), image pixels, and the IOD in pixels (for continuity).
    pub centre: Point2,
    pub iod_px: f32,
    /// Probability that both eyes are closed, from the eye-state model when the caller ran
    /// it ([`super::eyes`]; `None`: eye aspect ratio only).
    pub eyes_closed: Option<f32>,
    /// Mean lid gap over eye width of both eyes, from the iris model when the caller ran it
    /// ([`super::iris`]; unitless, open ≈ 0.2–0.4).
    pub eye_openness: Option<f32>,
}

fn d(a: Point3, b: Point3) -> f32 {
    libm::hypotf(a.x - b.x, a.y - b.y)
}

/// Eye aspect ratio `(|p2 − p6| + |p3 − p5|) / (2 |p1 − p4|)` of one eye. Errors (never
/// panics) when an index of `ear` is not a FaceMesh landmark index.
pub fn eye_aspect_ratio(lm: &Landmarks, ear: &[usize; 6]) -> Result<f32> {
    let mut p = [Point3::default(); 6];
    for (q, &i) in p.iter_mut().zip(ear) {
        *q = *lm.get(i).ok_or_else(|| {
            Error::InvalidInput(alloc::format!(
                "eye aspect ratio: landmark index {i}, expected < {}",
                crate::mesh::NUM_LANDMARKS
            ))
        })?;
    }
    Ok((d(p[1], p[5]) + d(p[2], p[4])) / (2.0 * d(p[0], p[3])).max(1e-6))
}

/// Measures one face. Errors on a degenerate face (coincident eyes, a pose that does not fit),
/// never panics.
pub fn observe(lm: &Landmarks) -> Result<FaceObservation> {
    observe_with_pose(lm, &estimate_head_pose(lm)?)
}

/// [`observe`] with the head pose already estimated from these landmarks (the quality gate
/// estimates it for every frame; [`observation_from`] reuses it).
pub fn observe_with_pose(
    lm: &Landmarks,
    pose: &crate::quality::HeadPose,
) -> Result<FaceObservation> {
    let iod = inter_ocular_distance(lm)
        .ok_or_else(|| Error::InvalidInput("challenge: eye landmarks coincide".into()))?;
    let ear = 0.5
        * (eye_aspect_ratio(lm, &idx::RIGHT_EYE_EAR)? + eye_aspect_ratio(lm, &idx::LEFT_EYE_EAR)?);
    let eye = |a: usize, b: usize| Point2 {
        x: 0.5 * (lm[a].x + lm[b].x),
        y: 0.5 * (lm[a].y + lm[b].y),
    };
    let r = eye(idx::RIGHT_EYE_OUTER, idx::RIGHT_EYE_INNER);
    let l = eye(idx::LEFT_EYE_OUTER, idx::LEFT_EYE_INNER);
    // The face's own axes: x along the eye line (image-left eye to image-right eye), up
    // perpendicular to it, pointing from the mouth to the eyes.
    let (ex, ey) = ((l.x - r.x) / iod, (l.y - r.y) / iod);
    let (mut ux, mut uy) = (ey, -ex);
    let mouth_mid = Point2 {
        x: 0.5 * (lm[idx::UPPER_LIP_INNER].x + lm[idx::LOWER_LIP_INNER].x),
        y: 0.5 * (lm[idx::UPPER_LIP_INNER].y + lm[idx::LOWER_LIP_INNER].y),
    };
    let centre = Point2 {
        x: 0.5 * (r.x + l.x),
        y: 0.5 * (r.y + l.y),
    };
    if (centre.x - mouth_mid.x) * ux + (centre.y - mouth_mid.y) * uy < 0.0 {
        ux = -ux;
        uy = -uy;
    }
    let (ml, mr) = (lm[idx::MOUTH_LEFT], lm[idx::MOUTH_RIGHT]);
    let corners = Point2 {
        x: 0.5 * (ml.x + mr.x),
        y: 0.5 * (ml.y + mr.y),
    };
    let corner_lift = ((corners.x - mouth_mid.x) * ux + (corners.y - mouth_mid.y) * uy) / iod;
    let obs = FaceObservation {
        ear,
        yaw_deg: pose.yaw_deg,
        pitch_deg: pose.pitch_deg,
        mouth_width: d(ml, mr) / iod,
        corner_lift,
        centre,
        iod_px: iod,
        eyes_closed: None,
        eye_openness: None,
    };
    let finite = [
        obs.ear,
        obs.mouth_width,
        obs.corner_lift,
        obs.yaw_deg,
        obs.pitch_deg,
    ]
    .iter()
    .all(|v| v.is_finite());
    if finite {
        Ok(obs)
    } else {
        Err(Error::InvalidInput(
            "challenge: face geometry is not finite".into(),
        ))
    }
}

/// The runner's view of one analysed frame: the first (largest tracked) face's geometry, and
/// whether the quality gate is satisfied. `LOOK_STRAIGHT` and `HOLD_STILL` are ignored here,
/// since the challenge itself asks the user to move; every other hint pauses the step timer.
pub fn observation_from(analysis: &crate::perception::FrameAnalysis) -> super::Observation {
    use crate::quality::Hint;
    let face = analysis.faces.first().and_then(|f| match &f.quality.pose {
        Some(pose) => observe_with_pose(&f.landmarks, pose).ok(),
        None => observe(&f.landmarks).ok(),
    });
    let quality_ok = analysis
        .hints
        .iter()
        .all(|h| matches!(h, Hint::LookStraight | Hint::HoldStill));
    super::Observation {
        timestamp_ns: analysis.timestamp_ns,
        face,
        quality_ok,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eye_aspect_ratio_of_an_index_past_the_mesh_is_an_error_not_a_panic() {
        let lm = Landmarks::new(alloc::vec![Point3::default(); 468]).unwrap();
        let mut ear = idx::LEFT_EYE_EAR;
        ear[2] = 468;
        let e = eye_aspect_ratio(&lm, &ear).unwrap_err();
        assert!(matches!(e, Error::InvalidInput(_)), "{e}");
        assert!(e.to_string().contains("index 468, expected < 468"), "{e}");
        // A well-formed eye: width 4, lids 1 apart at two places → (1 + 1) / (2 × 4).
        let mut lm = alloc::vec![Point3::default(); 468];
        let e = idx::LEFT_EYE_EAR;
        lm[e[0]] = Point3::new(0.0, 0.0, 0.0);
        lm[e[3]] = Point3::new(4.0, 0.0, 0.0);
        lm[e[1]] = Point3::new(1.0, -0.5, 0.0);
        lm[e[5]] = Point3::new(1.0, 0.5, 0.0);
        lm[e[2]] = Point3::new(3.0, -0.5, 0.0);
        lm[e[4]] = Point3::new(3.0, 0.5, 0.0);
        let ear = eye_aspect_ratio(&Landmarks::new(lm).unwrap(), &e).unwrap();
        assert!((ear - 0.25).abs() < 1e-6, "{ear}");
    }
}
