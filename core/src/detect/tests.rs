use super::*;
use crate::math;
use alloc::string::ToString;
use alloc::vec;
use alloc::vec::Vec;

fn close(a: f32, b: f32, tol: f32) -> bool {
    (a - b).abs() <= tol
}

fn assert_point(p: Point2, x: f32, y: f32, tol: f32) {
    assert!(
        close(p.x, x, tol) && close(p.y, y, tol),
        "got ({}, {}), expected ({x}, {y}) ±{tol}",
        p.x,
        p.y
    );
}

fn assert_rect(r: &Rect, e: [f32; 4], tol: f32) {
    for (got, want) in r.as_array().iter().zip(e) {
        assert!(
            close(*got, want, tol),
            "got {:?}, expected {e:?} ±{tol}",
            r.as_array()
        );
    }
}

// ---------------------------------------------------------------- anchors

#[test]
fn front_anchors_match_mediapipe_layout() {
    let a = generate_anchors(&AnchorOptions::blazeface_front()).unwrap();
    assert_eq!(a.len(), 896);
    // Stride 8: 16×16 cells, 2 anchors per cell (aspect 1 + interpolated), all size 1×1.
    assert_eq!(
        a[0],
        Anchor {
            x_center: 0.5 / 16.0,
            y_center: 0.5 / 16.0,
            w: 1.0,
            h: 1.0
        }
    );
    assert_eq!(a[1], a[0]);
    assert_eq!(a[2].x_center, 1.5 / 16.0);
    assert_eq!(a[31].x_center, 15.5 / 16.0);
    assert_eq!((a[32].x_center, a[32].y_center), (0.5 / 16.0, 1.5 / 16.0)); // row 1
    assert_eq!(a[511].y_center, 15.5 / 16.0);
    // Strides 16,16,16 merge into one 8×8 map with 3 × 2 = 6 anchors per cell.
    assert_eq!((a[512].x_center, a[512].y_center), (0.5 / 8.0, 0.5 / 8.0));
    assert!(a[512..518].iter().all(|x| *x == a[512]));
    assert_eq!(a[518].x_center, 1.5 / 8.0);
    assert_eq!((a[895].x_center, a[895].y_center), (7.5 / 8.0, 7.5 / 8.0));
    assert!(a.iter().all(|x| x.w == 1.0 && x.h == 1.0));

    let d = BlazeFaceDecoder::new(BlazeFaceConfig::front()).unwrap();
    assert_eq!(d.group_ends(), &[512, 896]);
}

#[test]
fn back_anchors_have_the_same_layout_at_256() {
    let a = generate_anchors(&AnchorOptions::blazeface_back()).unwrap();
    assert_eq!(a.len(), 896);
    assert_eq!(a[0].x_center, 0.5 / 16.0); // 256 / 16 = 16 cells
    assert_eq!(a[512].x_center, 0.5 / 8.0); // 256 / 32 = 8 cells
    let d = BlazeFaceDecoder::new(BlazeFaceConfig::back()).unwrap();
    assert_eq!(d.group_ends(), &[512, 896]);
    assert_eq!(d.config().input_size(), (256, 256));
}

#[test]
fn variable_anchor_sizes_follow_ssd_scales() {
    let opts = AnchorOptions {
        fixed_anchor_size: false,
        ..AnchorOptions::blazeface_front()
    };
    let a = generate_anchors(&opts).unwrap();
    let s0 = 0.1484375f32;
    let s1 = s0 + (0.75 - s0) / 3.0;
    assert!(close(a[0].w, s0, 1e-6) && close(a[0].h, s0, 1e-6));
    let interp = math::sqrt(s0 * s1);
    assert!(
        close(a[1].w, interp, 1e-6),
        "interpolated anchor {} vs {interp}",
        a[1].w
    );
    // Last layer's interpolated anchor uses scale_next = 1.
    assert!(close(a[895].w, math::sqrt(0.75), 1e-6));
}

#[test]
fn bad_anchor_options_are_errors() {
    let mut o = AnchorOptions::blazeface_front();
    o.strides = vec![8, 0];
    assert!(matches!(generate_anchors(&o), Err(DetectError::Anchors(_))));
    o.strides.clear();
    assert!(matches!(generate_anchors(&o), Err(DetectError::Anchors(_))));
    let o = AnchorOptions {
        input_size_width: 0,
        ..AnchorOptions::blazeface_front()
    };
    assert!(matches!(generate_anchors(&o), Err(DetectError::Anchors(_))));
}

// ---------------------------------------------------------------- transforms

#[test]
fn blazeface_transform_is_mediapipe_letterbox() {
    // 640×480 → square of 640 centred: x = 5 i, y = 5 j − 80.
    let t = blazeface_input_transform(640, 480, 128).unwrap();
    for (g, e) in t.m.iter().zip([5.0, 0.0, 0.0, 0.0, 5.0, -80.0]) {
        assert!(close(*g, e, 1e-6), "{:?}", t.m);
    }
    // Tensor corners land on the padded square's corners.
    assert_point(t.apply(Point2::new(128.0, 128.0)), 640.0, 560.0, 1e-4);
    let t = blazeface_input_transform(480, 640, 128).unwrap();
    assert_point(t.apply(Point2::new(0.0, 0.0)), -80.0, 0.0, 1e-6);
    assert_eq!(
        blazeface_input_transform(0, 480, 128),
        Err(DetectError::ImageSize {
            width: 0,
            height: 480
        })
    );
    assert!(matches!(
        blazeface_input_transform(10, 10, 0),
        Err(DetectError::InputSize { .. })
    ));
}

#[test]
fn scrfd_transform_is_insightface_top_left_letterbox() {
    // 1280×720: new_w = 640, new_h = int(640 · 0.5625) = 360, det_scale = 0.5.
    let t = scrfd_input_transform(1280, 720, 640, 640).unwrap();
    assert_eq!(t.m, [2.0, 0.0, 0.0, 0.0, 2.0, 0.0]);
    // Portrait 720×1280: new_h = 640 → scale 2.
    assert_eq!(
        scrfd_input_transform(720, 1280, 640, 640).unwrap().m[0],
        2.0
    );
    // Truncation: 1000×333 → new_h = int(640 · 0.333) = 213, scale = 333 / 213.
    let t = scrfd_input_transform(1000, 333, 640, 640).unwrap();
    assert!(close(t.m[0], 333.0 / 213.0, 1e-6) && t.m[0] == t.m[4] && t.m[2] == 0.0);
    assert!(scrfd_input_transform(1, 0, 640, 640).is_err());
}

// ---------------------------------------------------------------- BlazeFace decoding

struct Outputs {
    scores_a: Vec<f32>,
    scores_b: Vec<f32>,
    regs_a: Vec<f32>,
    regs_b: Vec<f32>,
}

impl Outputs {
    /// Every anchor strongly "no face".
    fn empty() -> Self {
        Self {
            scores_a: vec![-20.0; 512],
            scores_b: vec![-20.0; 384],
            regs_a: vec![0.0; 512 * 16],
            regs_b: vec![0.0; 384 * 16],
        }
    }

    fn set(&mut self, anchor: usize, logit: f32, regs: [f32; 16]) {
        if anchor < 512 {
            self.scores_a[anchor] = logit;
            self.regs_a[anchor * 16..anchor * 16 + 16].copy_from_slice(&regs);
        } else {
            let i = anchor - 512;
            self.scores_b[i] = logit;
            self.regs_b[i * 16..i * 16 + 16].copy_from_slice(&regs);
        }
    }

    fn decode(
        &self,
        dec: &mut BlazeFaceDecoder,
        t: &Affine2,
        min_score: f32,
    ) -> Result<Vec<Detection>, DetectError> {
        let mut out = Vec::new();
        dec.decode(
            &[&self.scores_a, &self.scores_b],
            &[&self.regs_a, &self.regs_b],
            t,
            min_score,
            &mut out,
        )?;
        Ok(out)
    }
}

/// Regressors (in 128-input pixels) for a box centred `(dx, dy)` from the anchor, size
/// `w × h`, keypoints at offsets `k[i]`.
fn regs(dx: f32, dy: f32, w: f32, h: f32, k: [(f32, f32); 6]) -> [f32; 16] {
    let mut r = [0.0; 16];
    r[..4].copy_from_slice(&[dx, dy, w, h]);
    for (i, (x, y)) in k.iter().enumerate() {
        r[4 + 2 * i] = *x;
        r[5 + 2 * i] = *y;
    }
    r
}

const KPS: [(f32, f32); 6] = [
    (-8.0, -6.0),
    (8.0, -6.0),
    (0.0, 2.0),
    (0.0, 10.0),
    (-16.0, 0.0),
    (16.0, 0.0),
];

#[test]
fn decodes_one_anchor_to_expected_box_and_keypoints() {
    let mut dec = BlazeFaceDecoder::new(BlazeFaceConfig::front()).unwrap();
    // Second group, row 3, column 5, anchor slot 2: centre (5.5/8, 3.5/8) = (88, 56) px.
    let k = 512 + (3 * 8 + 5) * 6 + 2;
    let mut o = Outputs::empty();
    o.set(k, 2.0, regs(12.8, -6.4, 32.0, 38.4, KPS));
    // 640×480 image: x = 5 u·128, y = 5 v·128 − 80.
    let t = blazeface_input_transform(640, 480, 128).unwrap();
    let dets = o.decode(&mut dec, &t, BLAZEFACE_MIN_SCORE).unwrap();
    assert_eq!(dets.len(), 1);
    let d = dets[0];
    assert!(close(d.score, 1.0 / (1.0 + math::exp(-2.0)), 1e-6));
    assert_eq!(d.num_keypoints, 6);
    // Centre (88 + 12.8, 56 − 6.4) = (100.8, 49.6) tensor px, size 32 × 38.4.
    let (cx, cy) = (100.8 * 5.0, 49.6 * 5.0 - 80.0);
    assert_rect(&d.bbox, [cx - 80.0, cy - 96.0, cx + 80.0, cy + 96.0], 1e-3);
    for (p, (kx, ky)) in d.valid_keypoints().iter().zip(KPS) {
        assert_point(*p, (88.0 + kx) * 5.0, (56.0 + ky) * 5.0 - 80.0, 1e-3);
    }
    assert_eq!(d.keypoint(keypoint::RIGHT_EYE), Some(d.keypoints[0]));
    assert!(d.keypoint(6).is_none());
}

#[test]
fn concatenated_and_split_outputs_decode_identically() {
    let mut dec = BlazeFaceDecoder::new(BlazeFaceConfig::front()).unwrap();
    let mut o = Outputs::empty();
    o.set(100, 3.0, regs(1.0, 2.0, 20.0, 24.0, KPS));
    o.set(700, 1.0, regs(-3.0, 4.0, 40.0, 44.0, KPS));
    let t = Affine2::IDENTITY;
    let split = o.decode(&mut dec, &t, 0.5).unwrap();
    let scores: Vec<f32> = o.scores_a.iter().chain(&o.scores_b).copied().collect();
    let regs_all: Vec<f32> = o.regs_a.iter().chain(&o.regs_b).copied().collect();
    let mut whole = Vec::new();
    dec.decode(&[&scores], &[&regs_all], &t, 0.5, &mut whole)
        .unwrap();
    assert_eq!(split.len(), 2);
    assert_eq!(split, whole);
    assert!(split[0].score > split[1].score);
}

#[test]
fn weighted_nms_merges_overlapping_by_score_weight() {
    let det = |b: [f32; 4], score: f32, kp: (f32, f32)| Detection {
        bbox: Rect::new(b[0], b[1], b[2], b[3]),
        score,
        keypoints: [Point2::new(kp.0, kp.1); MAX_KEYPOINTS],
        num_keypoints: 6,
    };
    let cands = [
        det([0.0, 0.0, 10.0, 10.0], 0.6, (2.0, 2.0)),
        det([1.0, 1.0, 11.0, 11.0], 0.9, (4.0, 4.0)), // IoU with the first = 81/119 > 0.3
        det([50.0, 50.0, 60.0, 60.0], 0.7, (55.0, 55.0)), // disjoint: its own group
    ];
    let mut scratch = NmsScratch::default();
    let mut out = Vec::new();
    weighted_nms(&cands, 0.3, &mut scratch, &mut out);
    assert_eq!(out.len(), 2);
    // Weights 0.9 and 0.6 (total 1.5): x_min = (0.9·1 + 0.6·0)/1.5 = 0.6, x_max = 10.6.
    assert_rect(&out[0].bbox, [0.6, 0.6, 10.6, 10.6], 1e-5);
    assert_point(out[0].keypoints[5], 3.2, 3.2, 1e-5); // (0.9·4 + 0.6·2)/1.5
    assert_eq!(out[0].score, 0.9);
    assert_eq!(out[1], cands[2]);

    // At exactly the threshold nothing merges (MediaPipe merges only when IoU > threshold).
    let iou = cands[0].bbox.iou(&cands[1].bbox);
    weighted_nms(&cands, iou, &mut scratch, &mut out);
    assert_eq!(out.len(), 3);
}

#[test]
fn decoder_merges_neighbouring_anchors() {
    let mut dec = BlazeFaceDecoder::new(BlazeFaceConfig::front()).unwrap();
    let mut o = Outputs::empty();
    // Both anchors of cell (row 4, col 4) of the stride-8 map: centre (36, 36) px.
    let k = (4 * 16 + 4) * 2;
    o.set(k, 3.0, regs(0.0, 0.0, 20.0, 20.0, KPS));
    o.set(k + 1, 1.0, regs(2.0, 0.0, 20.0, 20.0, KPS));
    let dets = o.decode(&mut dec, &Affine2::IDENTITY, 0.5).unwrap();
    assert_eq!(dets.len(), 1);
    let (w0, w1) = (
        math::sigmoid_clipped(3.0, 100.0),
        math::sigmoid_clipped(1.0, 100.0),
    );
    let cx = 36.0 + 2.0 * w1 / (w0 + w1);
    assert_rect(&dets[0].bbox, [cx - 10.0, 26.0, cx + 10.0, 46.0], 1e-3);
    assert!(close(dets[0].score, w0, 1e-6));
}

#[test]
fn score_threshold_is_inclusive_and_configurable() {
    let mut dec = BlazeFaceDecoder::new(BlazeFaceConfig::front()).unwrap();
    let mut o = Outputs::empty();
    o.set(10, 0.0, regs(0.0, 0.0, 10.0, 10.0, KPS)); // sigmoid = 0.5 exactly
    o.set(600, -0.01, regs(0.0, 0.0, 10.0, 10.0, KPS)); // just below 0.5
    let dets = o.decode(&mut dec, &Affine2::IDENTITY, 0.5).unwrap();
    assert_eq!(dets.len(), 1);
    assert_eq!(dets[0].score, 0.5);
    assert_eq!(
        o.decode(&mut dec, &Affine2::IDENTITY, 0.4).unwrap().len(),
        2
    );
    assert!(o
        .decode(&mut dec, &Affine2::IDENTITY, 0.9)
        .unwrap()
        .is_empty());
}

#[test]
fn logits_are_clipped_before_the_sigmoid() {
    let mut dec = BlazeFaceDecoder::new(BlazeFaceConfig::front()).unwrap();
    let mut o = Outputs::empty();
    o.set(10, f32::INFINITY, regs(0.0, 0.0, 10.0, 10.0, KPS));
    o.set(600, -1e30, regs(0.0, 0.0, 10.0, 10.0, KPS));
    // min_score 0 admits every anchor; those with zero-size boxes are still dropped.
    let dets = o.decode(&mut dec, &Affine2::IDENTITY, 0.0).unwrap();
    // +inf → sigmoid(100) = 1; −1e30 → sigmoid(−100), which underflows to 0 in f32.
    assert_eq!(dets.len(), 2);
    assert_eq!(dets[0].score, 1.0);
    assert!(dets[1].score >= 0.0 && dets[1].score < 1e-30);
}

#[test]
fn nan_and_invalid_values_never_become_detections() {
    let mut dec = BlazeFaceDecoder::new(BlazeFaceConfig::front()).unwrap();
    let mut o = Outputs::empty();
    o.set(5, f32::NAN, regs(0.0, 0.0, 10.0, 10.0, KPS)); // NaN score
    o.set(50, 5.0, regs(f32::NAN, 0.0, 10.0, 10.0, KPS)); // NaN box
    let mut kps = KPS;
    kps[3].1 = f32::INFINITY;
    o.set(300, 5.0, regs(0.0, 0.0, 10.0, 10.0, kps)); // infinite keypoint
    o.set(700, 5.0, regs(0.0, 0.0, -10.0, 10.0, KPS)); // negative width
    o.set(800, 5.0, regs(0.0, 0.0, 10.0, 0.0, KPS)); // zero height
    assert!(o
        .decode(&mut dec, &Affine2::IDENTITY, 0.5)
        .unwrap()
        .is_empty());
    // A good anchor among them still comes out, and finite.
    o.set(400, 4.0, regs(0.0, 0.0, 10.0, 10.0, KPS));
    let dets = o.decode(&mut dec, &Affine2::IDENTITY, 0.5).unwrap();
    assert_eq!(dets.len(), 1);
    assert!(dets[0].is_finite());
    // A huge (finite) transform that overflows to infinity drops the detection.
    let t = Affine2::new([1e38, 0.0, 0.0, 0.0, 1e38, 0.0]);
    assert!(o.decode(&mut dec, &t, 0.5).unwrap().is_empty());
}

#[test]
fn wrong_tensors_are_reported_with_expected_sizes() {
    let mut dec = BlazeFaceDecoder::new(BlazeFaceConfig::front()).unwrap();
    let o = Outputs::empty();
    let t = Affine2::IDENTITY;
    let mut out = vec![Detection::default()];
    let r = dec.decode(&[&o.scores_a], &[&o.regs_a], &t, 0.5, &mut out);
    assert_eq!(
        r,
        Err(DetectError::TensorLength {
            tensor: "BlazeFace scores (all parts)",
            expected: 896,
            got: 512
        })
    );
    assert!(out.is_empty(), "out is cleared on error");
    let short = &o.regs_b[..100];
    let r = dec.decode(
        &[&o.scores_a, &o.scores_b],
        &[&o.regs_a, short],
        &t,
        0.5,
        &mut out,
    );
    assert!(
        matches!(
            r,
            Err(DetectError::TensorLength {
                expected: 6144,
                got: 100,
                ..
            })
        ),
        "{r:?}"
    );
    // Parts swapped: the first part would end at anchor 384, inside the first group.
    let r = dec.decode(
        &[&o.scores_b, &o.scores_a],
        &[&o.regs_b, &o.regs_a],
        &t,
        0.5,
        &mut out,
    );
    assert_eq!(r, Err(DetectError::PartBoundary { part: 0, end: 384 }));
    let r = dec.decode(&[&o.scores_a, &o.scores_b], &[&o.regs_a], &t, 0.5, &mut out);
    assert!(matches!(
        r,
        Err(DetectError::PartCount {
            expected: 2,
            got: 1,
            ..
        })
    ));
    let r = dec.decode(&[], &[], &t, 0.5, &mut out);
    assert!(matches!(r, Err(DetectError::PartCount { .. })));
    let bad = Affine2::new([f32::NAN, 0.0, 0.0, 0.0, 1.0, 0.0]);
    assert!(matches!(
        o.decode(&mut dec, &bad, 0.5),
        Err(DetectError::Transform(_))
    ));
    assert_eq!(
        o.decode(&mut dec, &t, f32::NAN).unwrap_err().to_string(),
        "min_score NaN is invalid: expected a number in [0, 1]"
    );
    assert!(BlazeFaceDecoder::new(BlazeFaceConfig {
        num_keypoints: 7,
        ..BlazeFaceConfig::front()
    })
    .is_err());
}

#[test]
fn back_model_decodes_at_256_scale() {
    let mut dec = BlazeFaceDecoder::new(BlazeFaceConfig::back()).unwrap();
    let mut o = Outputs::empty();
    // First group cell (0, 0): centre (8, 8) px of 256; regressors divide by 256.
    o.set(0, 2.0, regs(25.6, 0.0, 51.2, 25.6, KPS));
    let t = blazeface_input_transform(256, 256, 256).unwrap();
    let dets = o.decode(&mut dec, &t, 0.5).unwrap();
    assert_eq!(dets.len(), 1);
    assert_rect(
        &dets[0].bbox,
        [33.6 - 25.6, 8.0 - 12.8, 33.6 + 25.6, 8.0 + 12.8],
        1e-3,
    );
}

// ---------------------------------------------------------------- SCRFD

struct ScrfdOut {
    scores: [Vec<f32>; 3],
    bboxes: [Vec<f32>; 3],
    kps: [Vec<f32>; 3],
}

impl ScrfdOut {
    fn empty() -> Self {
        let n = [12800, 3200, 800];
        Self {
            scores: n.map(|n| vec![0.01; n]),
            bboxes: n.map(|n| vec![1.0; 4 * n]),
            kps: n.map(|n| vec![0.0; 10 * n]),
        }
    }

    /// Sets anchor `a` of cell (row, col) at level `l` (stride 8 · 2^l); `at = (l, row, col, a)`.
    fn set(&mut self, at: (usize, usize, usize, usize), score: f32, d: [f32; 4], k: [f32; 10]) {
        let (l, row, col, a) = at;
        let fw = 80 >> l;
        let i = (row * fw + col) * 2 + a;
        self.scores[l][i] = score;
        self.bboxes[l][4 * i..4 * i + 4].copy_from_slice(&d);
        self.kps[l][10 * i..10 * i + 10].copy_from_slice(&k);
    }

    fn decode(
        &self,
        dec: &mut ScrfdDecoder,
        t: &Affine2,
        min_score: f32,
    ) -> Result<Vec<Detection>, DetectError> {
        let s: Vec<&[f32]> = self.scores.iter().map(|v| v.as_slice()).collect();
        let b: Vec<&[f32]> = self.bboxes.iter().map(|v| v.as_slice()).collect();
        let k: Vec<&[f32]> = self.kps.iter().map(|v| v.as_slice()).collect();
        let mut out = Vec::new();
        dec.decode(&s, &b, Some(&k), t, min_score, &mut out)?;
        Ok(out)
    }
}

const SCRFD_K: [f32; 10] = [-1.0, -1.0, 1.0, -1.0, 0.0, 0.5, -0.75, 1.5, 0.75, 1.5];

#[test]
fn scrfd_decodes_distance_boxes_and_keypoints() {
    let mut dec = ScrfdDecoder::new(ScrfdConfig::default()).unwrap();
    let mut o = ScrfdOut::empty();
    // Stride 16, row 10, col 7, anchor 1: anchor point (112, 160), no half-cell offset.
    o.set((1, 10, 7, 1), 0.9, [2.0, 3.0, 4.0, 5.0], SCRFD_K);
    let t = scrfd_input_transform(1280, 720, 640, 640).unwrap(); // ×2
    let dets = o.decode(&mut dec, &t, SCRFD_MIN_SCORE).unwrap();
    assert_eq!(dets.len(), 1);
    let d = dets[0];
    assert_eq!(d.num_keypoints, 5);
    assert_eq!(d.score, 0.9);
    // (112 − 32, 160 − 48, 112 + 64, 160 + 80) × 2.
    assert_rect(&d.bbox, [160.0, 224.0, 352.0, 480.0], 1e-3);
    for j in 0..5 {
        assert_point(
            d.keypoints[j],
            (112.0 + SCRFD_K[2 * j] * 16.0) * 2.0,
            (160.0 + SCRFD_K[2 * j + 1] * 16.0) * 2.0,
            1e-3,
        );
    }
    assert_eq!(d.keypoints[5], Point2::default());
    assert_eq!(d.valid_keypoints().len(), 5);
}

#[test]
fn scrfd_nms_uses_inclusive_iou_and_keeps_disjoint_faces() {
    // Inclusive IoU of [0,0,9,9] and [5,0,14,9]: 5·10 / (100 + 100 − 50) = 1/3.
    let a = Rect::new(0.0, 0.0, 9.0, 9.0);
    let b = Rect::new(5.0, 0.0, 14.0, 9.0);
    assert!(close(Overlap::IouInclusive.of(&a, &b), 1.0 / 3.0, 1e-6));
    assert!(close(Overlap::Iou.of(&a, &b), 36.0 / 126.0, 1e-6));

    let mut dec = ScrfdDecoder::new(ScrfdConfig::default()).unwrap();
    let mut o = ScrfdOut::empty();
    o.set((0, 20, 20, 0), 0.8, [3.0, 3.0, 3.0, 3.0], SCRFD_K); // (160,160) ± 24
    o.set((0, 20, 21, 1), 0.95, [3.0, 3.0, 3.0, 3.0], SCRFD_K); // shifted 8 px: IoU ≈ 0.71
    o.set((2, 15, 15, 0), 0.7, [1.0, 1.0, 1.0, 1.0], SCRFD_K); // far away
    let dets = o.decode(&mut dec, &Affine2::IDENTITY, 0.5).unwrap();
    assert_eq!(dets.len(), 2);
    assert_eq!(dets[0].score, 0.95);
    assert_rect(&dets[0].bbox, [144.0, 136.0, 192.0, 184.0], 1e-4);
    assert_eq!(dets[1].score, 0.7);
    // Threshold is inclusive (`>=`), NaN never passes.
    o.set((1, 0, 0, 0), f32::NAN, [1.0; 4], SCRFD_K);
    o.set((1, 5, 35, 0), 0.5, [1.0; 4], SCRFD_K); // (560, 80), alone
    assert_eq!(
        o.decode(&mut dec, &Affine2::IDENTITY, 0.5).unwrap().len(),
        3
    );
}

#[test]
fn scrfd_drops_invalid_values_and_checks_lengths() {
    let mut dec = ScrfdDecoder::new(ScrfdConfig::default()).unwrap();
    let mut o = ScrfdOut::empty();
    o.set((0, 1, 1, 0), 0.9, [f32::NAN, 1.0, 1.0, 1.0], SCRFD_K);
    o.set((0, 5, 5, 0), 0.9, [-2.0, 1.0, 1.0, 1.0], SCRFD_K); // x2 < x1
    let mut k = SCRFD_K;
    k[7] = f32::INFINITY;
    o.set((0, 9, 9, 0), 0.9, [1.0; 4], k);
    assert!(o
        .decode(&mut dec, &Affine2::IDENTITY, 0.5)
        .unwrap()
        .is_empty());

    let s: Vec<&[f32]> = o.scores.iter().map(|v| v.as_slice()).collect();
    let b: Vec<&[f32]> = o.bboxes.iter().map(|v| v.as_slice()).collect();
    let mut out = Vec::new();
    let t = Affine2::IDENTITY;
    assert_eq!(
        dec.decode(&s[..2], &b, None, &t, 0.5, &mut out),
        Err(DetectError::PartCount {
            tensor: "SCRFD scores",
            expected: 3,
            got: 2
        })
    );
    let short = [s[0], &s[1][..5], s[2]];
    assert_eq!(
        dec.decode(&short, &b, None, &t, 0.5, &mut out),
        Err(DetectError::LevelLength {
            tensor: "SCRFD score",
            stride: 16,
            expected: 3200,
            got: 5
        })
    );
    let bad_kps = [&o.kps[0][..], &o.kps[1][..], &o.kps[2][..10]];
    let r = dec.decode(&s, &b, Some(&bad_kps), &t, 0.5, &mut out);
    assert_eq!(
        r,
        Err(DetectError::LevelLength {
            tensor: "SCRFD kps",
            stride: 32,
            expected: 8000,
            got: 10
        })
    );
    // Without keypoints: boxes only.
    let mut o2 = ScrfdOut::empty();
    o2.set((2, 3, 4, 1), 0.9, [1.0; 4], SCRFD_K);
    let s2: Vec<&[f32]> = o2.scores.iter().map(|v| v.as_slice()).collect();
    dec.decode(&s2, &b, None, &t, 0.5, &mut out).unwrap();
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].num_keypoints, 0);
    assert!(ScrfdDecoder::new(ScrfdConfig {
        num_anchors: 0,
        ..ScrfdConfig::default()
    })
    .is_err());
}

#[test]
fn repeated_decodes_are_identical() {
    let mut dec = BlazeFaceDecoder::new(BlazeFaceConfig::front()).unwrap();
    let mut o = Outputs::empty();
    for k in (0..896).step_by(37) {
        o.set(
            k,
            1.0 + (k % 5) as f32,
            regs((k % 7) as f32, 1.0, 12.0, 14.0, KPS),
        );
    }
    let t = blazeface_input_transform(1920, 1080, 128).unwrap();
    let first = o.decode(&mut dec, &t, 0.5).unwrap();
    let second = o.decode(&mut dec, &t, 0.5).unwrap();
    assert!(!first.is_empty());
    assert_eq!(first, second);
    assert!(first.windows(2).all(|w| w[0].score >= w[1].score));
    assert!(first.iter().all(Detection::is_finite));
}
