//! SCRFD decoding, as InsightFace's `SCRFD.detect`: anchor-point grid per stride,
//! `distance2bbox` / `distance2kps`, score threshold, greedy NMS (pixel-inclusive IoU).

use super::nms::{hard_nms, NmsScratch, Overlap};
use super::{check_min_score, check_transform, project, DetectError, Detection, MAX_KEYPOINTS};
use crate::geometry::{Affine2, Point2, Rect};
use alloc::vec::Vec;
use serde::{Deserialize, Serialize};

/// InsightFace's default `det_thresh`. (The `scrfd` PyPI package defaults to 0.4.)
pub const SCRFD_MIN_SCORE: f32 = 0.5;
/// InsightFace's default `nms_thresh`. (The `scrfd` PyPI package defaults to 0.5.)
pub const SCRFD_NMS_THRESHOLD: f32 = 0.4;

/// Keypoints SCRFD predicts: eyes, nose, mouth corners.
const SCRFD_KEYPOINTS: usize = 5;

/// SCRFD model geometry and NMS threshold.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ScrfdConfig {
    /// Model input width, pixels (640).
    pub input_width: u32,
    /// Model input height, pixels (640).
    pub input_height: u32,
    /// Feature strides in output order (8, 16, 32): outputs `score_8/16/32`, `bbox_*`, `kps_*`.
    pub strides: Vec<u32>,
    /// Anchors per feature-map cell (2).
    pub num_anchors: usize,
    /// Greedy-NMS threshold: a box is dropped when its IoU with a kept one is above this.
    pub nms_threshold: f32,
}

impl Default for ScrfdConfig {
    /// InsightFace SCRFD with keypoints, 640×640.
    fn default() -> Self {
        Self {
            input_width: 640,
            input_height: 640,
            strides: alloc::vec![8, 16, 32],
            num_anchors: 2,
            nms_threshold: SCRFD_NMS_THRESHOLD,
        }
    }
}

impl ScrfdConfig {
    /// Anchors (= rows of `score_s`) of stride `s`: `(H / s) × (W / s) × num_anchors`
    /// (integer division, as InsightFace).
    pub fn anchors_for_stride(&self, stride: u32) -> usize {
        (self.input_height / stride) as usize
            * (self.input_width / stride) as usize
            * self.num_anchors
    }

    fn validate(&self) -> Result<(), DetectError> {
        if self.input_width == 0 || self.input_height == 0 {
            return Err(DetectError::InputSize {
                width: self.input_width,
                height: self.input_height,
            });
        }
        if self.strides.is_empty() || self.strides.contains(&0) {
            return Err(DetectError::Config(
                "SCRFD needs at least one stride, all > 0",
            ));
        }
        if self.num_anchors == 0 {
            return Err(DetectError::Config("SCRFD num_anchors must be > 0"));
        }
        if !(0.0..=1.0).contains(&self.nms_threshold) {
            return Err(DetectError::Config("SCRFD nms_threshold must be in [0, 1]"));
        }
        Ok(())
    }
}

/// Decodes SCRFD outputs into detections in source pixels; allocation-free after warm-up.
#[derive(Clone, Debug)]
pub struct ScrfdDecoder {
    config: ScrfdConfig,
    candidates: Vec<Detection>,
    scratch: NmsScratch,
}

impl ScrfdDecoder {
    pub fn new(config: ScrfdConfig) -> Result<Self, DetectError> {
        config.validate()?;
        Ok(Self {
            config,
            candidates: Vec::new(),
            scratch: NmsScratch::default(),
        })
    }

    pub fn config(&self) -> &ScrfdConfig {
        &self.config
    }

    /// Decodes one frame.
    ///
    /// `scores`, `bboxes` and `kps` hold one slice per stride, in [`ScrfdConfig::strides`]
    /// order (`score_8, score_16, score_32`, …). Scores are probabilities (the ONNX graph ends
    /// in a sigmoid), kept when `>= min_score`. Boxes are `distance2bbox` of the anchor point
    /// `(x·s, y·s)` and the distances × `s`; keypoints `distance2kps` likewise; `kps = None`
    /// for models without keypoints (then `num_keypoints = 0`). Every box and keypoint is mapped
    /// through `src_from_dst` (see [`scrfd_input_transform`](super::scrfd_input_transform)),
    /// then greedy NMS runs in source pixels. `out` is cleared, then filled by descending score.
    pub fn decode(
        &mut self,
        scores: &[&[f32]],
        bboxes: &[&[f32]],
        kps: Option<&[&[f32]]>,
        src_from_dst: &Affine2,
        min_score: f32,
        out: &mut Vec<Detection>,
    ) -> Result<(), DetectError> {
        out.clear();
        check_transform(src_from_dst)?;
        check_min_score(min_score)?;
        self.check_tensors(scores, bboxes, kps)?;

        self.candidates.clear();
        let na = self.config.num_anchors;
        let nk = if kps.is_some() { SCRFD_KEYPOINTS } else { 0 };
        for (level, &stride) in self.config.strides.iter().enumerate() {
            let fw = (self.config.input_width / stride) as usize;
            let s = stride as f32;
            let level_kps = kps.map(|k| k[level]);
            for (i, &score) in scores[level].iter().enumerate() {
                if score.is_nan() || score < min_score {
                    continue;
                }
                let cell = i / na;
                let c = Point2::new((cell % fw) as f32 * s, (cell / fw) as f32 * s);
                let b = &bboxes[level][4 * i..4 * i + 4];
                let mut d = Detection {
                    bbox: Rect::new(
                        c.x - b[0] * s,
                        c.y - b[1] * s,
                        c.x + b[2] * s,
                        c.y + b[3] * s,
                    ),
                    score,
                    keypoints: [Point2::default(); MAX_KEYPOINTS],
                    num_keypoints: nk as u8,
                };
                if let Some(k) = level_kps {
                    let k = &k[2 * SCRFD_KEYPOINTS * i..2 * SCRFD_KEYPOINTS * (i + 1)];
                    for (j, p) in d.keypoints[..SCRFD_KEYPOINTS].iter_mut().enumerate() {
                        *p = Point2::new(c.x + k[2 * j] * s, c.y + k[2 * j + 1] * s);
                    }
                }
                // Degenerate (inverted or empty) boxes are never faces; drop them before NMS.
                let (w, h) = (d.bbox.x_max - d.bbox.x_min, d.bbox.y_max - d.bbox.y_min);
                if w.is_nan() || h.is_nan() || w <= 0.0 || h <= 0.0 {
                    continue;
                }
                if let Some(m) = project(&d, 1.0, 1.0, src_from_dst) {
                    self.candidates.push(m);
                }
            }
        }
        hard_nms(
            &self.candidates,
            self.config.nms_threshold,
            Overlap::IouInclusive,
            &mut self.scratch,
            out,
        );
        Ok(())
    }

    fn check_tensors(
        &self,
        scores: &[&[f32]],
        bboxes: &[&[f32]],
        kps: Option<&[&[f32]]>,
    ) -> Result<(), DetectError> {
        let levels = self.config.strides.len();
        let count = |tensor, got| {
            if got == levels {
                Ok(())
            } else {
                Err(DetectError::PartCount {
                    tensor,
                    expected: levels,
                    got,
                })
            }
        };
        count("SCRFD scores", scores.len())?;
        count("SCRFD bboxes", bboxes.len())?;
        if let Some(k) = kps {
            count("SCRFD kps", k.len())?;
        }
        for (level, &stride) in self.config.strides.iter().enumerate() {
            let n = self.config.anchors_for_stride(stride);
            let check = |tensor, per, got| {
                if got == n * per {
                    Ok(())
                } else {
                    Err(DetectError::LevelLength {
                        tensor,
                        stride,
                        expected: n * per,
                        got,
                    })
                }
            };
            check("SCRFD score", 1, scores[level].len())?;
            check("SCRFD bbox", 4, bboxes[level].len())?;
            if let Some(k) = kps {
                check("SCRFD kps", 2 * SCRFD_KEYPOINTS, k[level].len())?;
            }
        }
        Ok(())
    }
}
