use super::*;
use crate::detect::MAX_KEYPOINTS;
use alloc::vec;
use alloc::vec::Vec;
use core::f32::consts::PI;

fn close(a: f32, b: f32, tol: f32) -> bool {
    (a - b).abs() <= tol
}

fn assert_point(p: Point2, q: Point2, tol: f32) {
    assert!(
        close(p.x, q.x, tol) && close(p.y, q.y, tol),
        "got {p:?}, expected {q:?} ±{tol}"
    );
}

fn detection(bbox: Rect, eye_r: Point2, eye_l: Point2) -> Detection {
    let mut keypoints = [Point2::default(); MAX_KEYPOINTS];
    keypoints[0] = eye_r;
    keypoints[1] = eye_l;
    Detection {
        bbox,
        score: 0.9,
        keypoints,
        num_keypoints: 6,
    }
}

/// MediaPipe's own route, in image-normalised units (what its C++ computes).
struct NormRect {
    xc: f32,
    yc: f32,
    w: f32,
    h: f32,
    rotation: f32,
}

/// `DetectionsToRects` (relative box, rotation from keypoints × image size) then
/// `RectTransformation` (square_long in pixels, scale 1.5), all normalised.
fn mediapipe_roi(det: &Detection, iw: f32, ih: f32) -> NormRect {
    let (xmin, ymin) = (det.bbox.x_min / iw, det.bbox.y_min / ih);
    let (w, h) = (det.bbox.width() / iw, det.bbox.height() / ih);
    let (k0, k1) = (det.keypoints[0], det.keypoints[1]);
    let (x0, y0) = (k0.x / iw * iw, k0.y / ih * ih);
    let (x1, y1) = (k1.x / iw * iw, k1.y / ih * ih);
    let rotation = normalize_radians(0.0 - math::atan2(-(y1 - y0), x1 - x0));
    let long = (w * iw).max(h * ih);
    NormRect {
        xc: xmin + w / 2.0,
        yc: ymin + h / 2.0,
        w: long / iw * 1.5,
        h: long / ih * 1.5,
        rotation,
    }
}

/// `TensorsToLandmarks` (÷ 192) + `LandmarkProjection` (NORM_RECT), then × image size.
fn mediapipe_landmark(raw: [f32; 3], r: &NormRect, iw: f32, ih: f32) -> Point3 {
    let (x, y, z) = (raw[0] / 192.0 - 0.5, raw[1] / 192.0 - 0.5, raw[2] / 192.0);
    let (s, c) = (math::sin(r.rotation), math::cos(r.rotation));
    let nx = (c * x - s * y) * r.w + r.xc;
    let ny = (s * x + c * y) * r.h + r.yc;
    Point3::new(nx * iw, ny * ih, z * r.w * iw)
}

#[test]
fn level_eyes_give_zero_rotation_and_1_5x_long_side() {
    let det = detection(
        Rect::new(100.0, 200.0, 180.0, 300.0),
        Point2::new(120.0, 240.0),
        Point2::new(160.0, 240.0),
    );
    let roi = roi_from_detection(&det).unwrap();
    assert_eq!(
        roi,
        RotatedRect {
            cx: 140.0,
            cy: 250.0,
            width: 150.0,
            height: 150.0,
            rotation: 0.0
        }
    );
}

#[test]
fn tilted_eyes_rotation_sign() {
    let b = Rect::new(0.0, 0.0, 100.0, 100.0);
    let e0 = Point2::new(30.0, 40.0);
    let (c, s) = (math::cos(PI / 6.0), math::sin(PI / 6.0));
    // Left eye 30° *below* the right eye on screen (y down): a clockwise tilt → +π/6.
    let roi = roi_from_detection(&detection(
        b,
        e0,
        Point2::new(30.0 + 40.0 * c, 40.0 + 40.0 * s),
    ))
    .unwrap();
    assert!(close(roi.rotation, PI / 6.0, 1e-6), "{}", roi.rotation);
    // 30° above → −π/6.
    let roi = roi_from_detection(&detection(
        b,
        e0,
        Point2::new(30.0 + 40.0 * c, 40.0 - 40.0 * s),
    ))
    .unwrap();
    assert!(close(roi.rotation, -PI / 6.0, 1e-6));
    // Upside-down face (eyes swapped on screen) → −π (range [−π, π)).
    let roi = roi_from_detection(&detection(
        b,
        Point2::new(70.0, 40.0),
        Point2::new(30.0, 40.0),
    ))
    .unwrap();
    assert!(close(roi.rotation, -PI, 1e-6), "{}", roi.rotation);
    // The ROI's size ignores the rotation: 1.5 × the box's long side.
    assert_eq!(roi.width, 150.0);
}

#[test]
fn pixel_roi_and_projection_equal_mediapipe_normalised_route() {
    // Non-square image, tilted face, non-square box: every normalisation step matters.
    let (iw, ih) = (640.0, 360.0);
    let det = detection(
        Rect::new(250.0, 90.0, 340.0, 210.0),
        Point2::new(270.0, 130.0),
        Point2::new(320.0, 150.0),
    );
    let roi = roi_from_detection(&det).unwrap();
    let mp = mediapipe_roi(&det, iw, ih);
    assert!(close(roi.cx, mp.xc * iw, 1e-3) && close(roi.cy, mp.yc * ih, 1e-3));
    assert!(close(roi.width, mp.w * iw, 1e-3) && close(roi.height, mp.h * ih, 1e-3));
    assert!(close(roi.rotation, mp.rotation, 1e-6));
    assert!(close(roi.width, 180.0, 1e-4), "1.5 × long side 120");

    let t = roi_to_input_transform(&roi, INPUT_SIZE).unwrap();
    let raw: Vec<f32> = (0..RAW_LANDMARKS_LEN)
        .map(|i| ((i * 37) % 193) as f32 - (i % 3 == 2) as u8 as f32 * 90.0)
        .collect();
    let out = decode_landmarks(&raw, &t, Vec::new()).unwrap();
    let mut worst = 0.0f32;
    for (p, v) in out.iter().zip(raw.chunks_exact(3)) {
        let q = mediapipe_landmark([v[0], v[1], v[2]], &mp, iw, ih);
        worst = worst
            .max((p.x - q.x).abs())
            .max((p.y - q.y).abs())
            .max((p.z - q.z).abs());
    }
    assert!(worst < 2e-3, "max |ours − MediaPipe| = {worst} px");
}

#[test]
fn transform_maps_tensor_corners_to_roi_corners() {
    let roi = RotatedRect {
        cx: 321.5,
        cy: 207.25,
        width: 240.0,
        height: 240.0,
        rotation: 0.4,
    };
    let t = roi_to_input_transform(&roi, 192).unwrap();
    let c = roi_corners(&roi);
    let n = 192.0;
    let tensor = [
        Point2::new(0.0, 0.0),
        Point2::new(n, 0.0),
        Point2::new(n, n),
        Point2::new(0.0, n),
    ];
    for (tc, rc) in tensor.iter().zip(c) {
        assert_point(t.apply(*tc), rc, 1e-3);
    }
    // Centre of the tensor ↔ ROI centre; the first column's length is width / n.
    assert_point(
        t.apply(Point2::new(96.0, 96.0)),
        Point2::new(roi.cx, roi.cy),
        1e-3,
    );
    assert!(close(
        math::sqrt(t.m[0] * t.m[0] + t.m[3] * t.m[3]),
        240.0 / 192.0,
        1e-6
    ));
    // Equals MediaPipe's GetRotatedSubRectToRectTransformMatrix (rows 1–2) in pixels.
    let (a, b, cs, sn, e, f) = (
        roi.width,
        roi.height,
        math::cos(0.4),
        math::sin(0.4),
        roi.cx,
        roi.cy,
    );
    let mp = [
        a * cs / n,
        -b * sn / n,
        -0.5 * a * cs + 0.5 * b * sn + e,
        a * sn / n,
        b * cs / n,
        -0.5 * b * cs - 0.5 * a * sn + f,
    ];
    for (g, w) in t.m.iter().zip(mp) {
        assert!(close(*g, w, 1e-4), "{:?} vs {mp:?}", t.m);
    }
}

#[test]
fn decode_round_trips_synthetic_landmarks() {
    let roi = RotatedRect {
        cx: 320.0,
        cy: 240.0,
        width: 300.0,
        height: 300.0,
        rotation: -0.35,
    };
    let t = roi_to_input_transform(&roi, INPUT_SIZE).unwrap();
    let inv = t.inverse().unwrap();
    let truth: Vec<Point3> = (0..NUM_LANDMARKS)
        .map(|i| {
            let a = i as f32 * 0.1;
            Point3::new(
                320.0 + 90.0 * math::cos(a),
                240.0 + 110.0 * math::sin(1.3 * a),
                -20.0 + (i % 40) as f32,
            )
        })
        .collect();
    let z_per_tensor_px = 300.0 / 192.0;
    let mut raw = Vec::with_capacity(RAW_LANDMARKS_LEN);
    for p in &truth {
        let q = inv.apply(p.xy());
        raw.extend_from_slice(&[q.x, q.y, p.z / z_per_tensor_px]);
    }
    let out = decode_landmarks(&raw, &t, vec![Point3::default(); 3]).unwrap();
    assert_eq!(out.len(), NUM_LANDMARKS);
    for (p, q) in out.iter().zip(&truth) {
        assert!(
            close(p.x, q.x, 1e-3) && close(p.y, q.y, 1e-3) && close(p.z, q.z, 1e-3),
            "{p:?} vs {q:?}"
        );
    }
    // The tracking ROI from these landmarks: bbox centre, 1.5 × long side, eye-corner rotation.
    let roi2 = roi_from_landmarks(&out).unwrap();
    let bb = Rect::bounding(truth.iter().map(|p| p.xy())).unwrap();
    assert!(close(roi2.cx, bb.center().x, 1e-3) && close(roi2.cy, bb.center().y, 1e-3));
    assert!(close(roi2.width, 1.5 * bb.width().max(bb.height()), 1e-3));
    let (e0, e1) = (truth[idx::RIGHT_EYE_OUTER], truth[idx::LEFT_EYE_OUTER]);
    assert!(close(
        roi2.rotation,
        rotation_from_points(e0.xy(), e1.xy()),
        1e-5
    ));
}

#[test]
fn roi_from_landmarks_uses_bbox_and_eye_corners() {
    let mut lms = vec![Point3::new(300.0, 200.0, 0.0); NUM_LANDMARKS];
    for (i, p) in lms.iter_mut().enumerate() {
        p.x += ((i * 13) % 101) as f32 - 50.0; // within [250, 350]
        p.y += ((i * 29) % 121) as f32 - 60.0; // within [140, 260]
    }
    lms[idx::FOREHEAD] = Point3::new(300.0, 130.0, 0.0);
    lms[idx::CHIN] = Point3::new(300.0, 270.0, 0.0);
    lms[idx::FACE_EDGE_RIGHT] = Point3::new(240.0, 200.0, 0.0);
    lms[idx::FACE_EDGE_LEFT] = Point3::new(360.0, 200.0, 0.0);
    let tilt = 10.0f32.to_radians();
    lms[idx::RIGHT_EYE_OUTER] = Point3::new(260.0, 190.0, 0.0);
    lms[idx::LEFT_EYE_OUTER] = Point3::new(
        260.0 + 80.0 * math::cos(tilt),
        190.0 + 80.0 * math::sin(tilt),
        0.0,
    );
    let roi = roi_from_landmarks(&Landmarks::new(lms).unwrap()).unwrap();
    assert!(
        close(roi.cx, 300.0, 1e-4) && close(roi.cy, 200.0, 1e-4),
        "{roi:?}"
    );
    assert!(close(roi.width, 210.0, 1e-4) && roi.width == roi.height); // 1.5 × 140
    assert!(close(roi.rotation, tilt, 1e-5));
}

#[test]
fn errors_are_typed_and_outputs_untouched() {
    let t = Affine2::IDENTITY;
    assert_eq!(
        decode_landmarks(&[0.0; 1403], &t, Vec::new()),
        Err(MeshError::TensorLength {
            expected: 1404,
            got: 1403
        })
    );
    let mut raw = vec![1.0; RAW_LANDMARKS_LEN];
    raw[500] = f32::NAN;
    assert_eq!(
        decode_landmarks(&raw, &t, Vec::new()),
        Err(MeshError::NonFinite {
            what: "landmark tensor",
            index: 500
        })
    );
    let singular = Affine2::new([0.0, 1.0, 0.0, 0.0, 1.0, 0.0]);
    assert!(matches!(
        decode_landmarks(&[0.0; 1404], &singular, Vec::new()),
        Err(MeshError::Transform(_))
    ));
    // Finite tensor values that overflow in pixels: the decode's own check names the point.
    let double = Affine2::new([2.0, 0.0, 0.0, 0.0, 1.0, 0.0]);
    let mut raw = vec![0.0; RAW_LANDMARKS_LEN];
    raw[3 * 7] = 3e38;
    assert!(matches!(
        decode_landmarks(&raw, &double, Vec::new()),
        Err(MeshError::Landmarks(LandmarkError::NonFinite {
            index: 7,
            ..
        }))
    ));

    // All landmarks on one point: zero-size box.
    let one_point = Landmarks::new(vec![Point3::default(); 468]).unwrap();
    assert!(matches!(
        roi_from_landmarks(&one_point),
        Err(MeshError::DegenerateRoi(_))
    ));

    let mut det = detection(
        Rect::new(0.0, 0.0, 10.0, 10.0),
        Point2::new(2.0, 3.0),
        Point2::new(8.0, 3.0),
    );
    det.num_keypoints = 1;
    assert_eq!(
        roi_from_detection(&det),
        Err(MeshError::TooFewKeypoints { got: 1 })
    );
    det.num_keypoints = 5;
    det.keypoints[1].x = f32::NAN;
    assert!(matches!(
        roi_from_detection(&det),
        Err(MeshError::DegenerateRoi(_))
    ));
    det.keypoints[1].x = 8.0;
    det.bbox = Rect::new(5.0, 5.0, 5.0, 5.0);
    assert!(matches!(
        roi_from_detection(&det),
        Err(MeshError::DegenerateRoi(_))
    ));

    let roi = RotatedRect {
        cx: 1.0,
        cy: 1.0,
        width: 10.0,
        height: 10.0,
        rotation: 0.0,
    };
    assert_eq!(
        roi_to_input_transform(&roi, 0),
        Err(MeshError::InputSize(0))
    );
    let flat = RotatedRect { width: 0.0, ..roi };
    assert!(matches!(
        roi_to_input_transform(&flat, 192),
        Err(MeshError::DegenerateRoi(_))
    ));
    let nan = RotatedRect {
        rotation: f32::NAN,
        ..roi
    };
    assert!(matches!(
        roi_to_input_transform(&nan, 192),
        Err(MeshError::DegenerateRoi(_))
    ));
}

#[test]
fn presence_is_a_strict_sigmoid_threshold() {
    assert!(close(presence_score(0.0), 0.5, 1e-7));
    assert!(
        !is_face_present(0.0),
        "MediaPipe's ThresholdingCalculator is strict (>)"
    );
    assert!(is_face_present(0.01));
    assert!(close(presence_score(2.0), 0.880797, 1e-5));
    assert_eq!(presence_score(f32::NAN), 0.0);
    assert!(!is_face_present(f32::NAN));
    assert_eq!(presence_score(f32::INFINITY), 1.0);
    assert_eq!(presence_score(f32::NEG_INFINITY), 0.0);
}

#[test]
fn normalize_radians_wraps_to_half_open_range() {
    assert!(close(normalize_radians(PI), -PI, 1e-6));
    assert!(close(normalize_radians(-PI), -PI, 1e-6));
    assert!(close(normalize_radians(1.5 * PI), -0.5 * PI, 1e-6));
    assert!(close(normalize_radians(-2.5 * PI), -0.5 * PI, 1e-5));
    assert!(close(normalize_radians(0.3), 0.3, 1e-7));
}

#[test]
fn landmark_indices_are_in_range_and_distinct() {
    let lists: [&[usize]; 5] = [
        &idx::RIGHT_EYE_CONTOUR,
        &idx::LEFT_EYE_CONTOUR,
        &idx::RIGHT_EYE_EAR,
        &idx::LEFT_EYE_EAR,
        &idx::FACE_OVAL,
    ];
    for l in lists {
        assert!(l.iter().all(|&i| i < NUM_LANDMARKS));
        let mut v = l.to_vec();
        v.sort_unstable();
        v.dedup();
        assert_eq!(v.len(), l.len(), "duplicate index in {l:?}");
    }
    // The EAR points lie on the contours; the corners are the contour ends.
    assert!(idx::RIGHT_EYE_EAR
        .iter()
        .all(|i| idx::RIGHT_EYE_CONTOUR.contains(i)));
    assert!(idx::LEFT_EYE_EAR
        .iter()
        .all(|i| idx::LEFT_EYE_CONTOUR.contains(i)));
    assert_eq!(
        (idx::RIGHT_EYE_CONTOUR[0], idx::RIGHT_EYE_CONTOUR[8]),
        (idx::RIGHT_EYE_OUTER, idx::RIGHT_EYE_INNER)
    );
    assert_eq!(
        (idx::LEFT_EYE_CONTOUR[0], idx::LEFT_EYE_CONTOUR[8]),
        (idx::LEFT_EYE_OUTER, idx::LEFT_EYE_INNER)
    );
    assert!(idx::FACE_OVAL.contains(&idx::FOREHEAD) && idx::FACE_OVAL.contains(&idx::CHIN));
    assert!(
        idx::FACE_OVAL.contains(&idx::FACE_EDGE_RIGHT)
            && idx::FACE_OVAL.contains(&idx::FACE_EDGE_LEFT)
    );
}
