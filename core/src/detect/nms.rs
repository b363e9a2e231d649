//! Non-maximum suppression: MediaPipe's WEIGHTED variant (BlazeFace) and the greedy one
//! (SCRFD / InsightFace). Allocation-free once the scratch buffers have grown.

use super::{Detection, MAX_KEYPOINTS};
use crate::geometry::{Point2, Rect};
use alloc::vec::Vec;
use core::cmp::Ordering;

/// How two boxes' overlap is measured.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Overlap {
    /// Intersection over union of the continuous boxes (MediaPipe `INTERSECTION_OVER_UNION`).
    Iou,
    /// IoU with pixel-inclusive sides, `w = x_max − x_min + 1` (InsightFace's `nms`).
    IouInclusive,
}

impl Overlap {
    /// Overlap of `a` and `b` in [0, 1]; 0 for empty or non-finite boxes.
    pub fn of(self, a: &Rect, b: &Rect) -> f32 {
        let v = match self {
            Overlap::Iou => a.iou(b),
            Overlap::IouInclusive => {
                let area = |r: &Rect| {
                    (r.x_max - r.x_min + 1.0).max(0.0) * (r.y_max - r.y_min + 1.0).max(0.0)
                };
                let iw = (a.x_max.min(b.x_max) - a.x_min.max(b.x_min) + 1.0).max(0.0);
                let ih = (a.y_max.min(b.y_max) - a.y_min.max(b.y_min) + 1.0).max(0.0);
                let inter = iw * ih;
                let union = area(a) + area(b) - inter;
                if union > 0.0 {
                    inter / union
                } else {
                    0.0
                }
            }
        };
        if v.is_finite() {
            v
        } else {
            0.0
        }
    }
}

/// Reusable buffers for the NMS functions.
#[derive(Clone, Debug, Default)]
pub struct NmsScratch {
    remaining: Vec<usize>,
    next: Vec<usize>,
}

impl NmsScratch {
    /// Room for `candidates` candidates without growing.
    pub fn room_for(&mut self, candidates: usize) {
        super::room_for(&mut self.remaining, candidates);
        super::room_for(&mut self.next, candidates);
    }
}

/// Indices of `cands` with a non-NaN score, by score descending (ties: lower index first).
fn sort_by_score(cands: &[Detection], order: &mut Vec<usize>) {
    order.clear();
    order.extend((0..cands.len()).filter(|&i| !cands[i].score.is_nan()));
    order.sort_unstable_by(|&a, &b| {
        cands[b]
            .score
            .partial_cmp(&cands[a].score)
            .unwrap_or(Ordering::Equal)
            .then(a.cmp(&b))
    });
}

/// MediaPipe's `NonMaxSuppressionCalculator` with `algorithm: WEIGHTED`.
///
/// Repeatedly takes the best remaining detection, gathers every remaining detection whose
/// IoU with it is `> iou_threshold` (itself included), and outputs one detection whose box
/// corners and keypoints are the score-weighted means of that group; its score is the best
/// one's. The others stay for the next round. Output is in descending score order.
///
/// Differs from MediaPipe only for a best box of zero area (MediaPipe stops there, as its
/// IoU with itself is 0); here such a box forms its own group.
pub fn weighted_nms(
    cands: &[Detection],
    iou_threshold: f32,
    scratch: &mut NmsScratch,
    out: &mut Vec<Detection>,
) {
    out.clear();
    sort_by_score(cands, &mut scratch.remaining);
    while let Some(&top) = scratch.remaining.first() {
        let best = cands[top];
        let nk = (best.num_keypoints as usize).min(MAX_KEYPOINTS);
        let mut total = 0.0f32;
        let mut b = [0.0f32; 4];
        let mut kps = [Point2::default(); MAX_KEYPOINTS];
        scratch.next.clear();
        for &i in &scratch.remaining {
            let c = &cands[i];
            if i == top || Overlap::Iou.of(&c.bbox, &best.bbox) > iou_threshold {
                let w = c.score;
                total += w;
                b[0] += c.bbox.x_min * w;
                b[1] += c.bbox.y_min * w;
                b[2] += c.bbox.x_max * w;
                b[3] += c.bbox.y_max * w;
                for (acc, p) in kps[..nk].iter_mut().zip(&c.keypoints[..nk]) {
                    acc.x += p.x * w;
                    acc.y += p.y * w;
                }
            } else {
                scratch.next.push(i);
            }
        }
        let mut merged = best;
        if total > 0.0 && total.is_finite() {
            merged.bbox = Rect::new(b[0] / total, b[1] / total, b[2] / total, b[3] / total);
            for (dst, acc) in merged.keypoints[..nk].iter_mut().zip(&kps[..nk]) {
                *dst = Point2::new(acc.x / total, acc.y / total);
            }
        }
        out.push(merged);
        core::mem::swap(&mut scratch.remaining, &mut scratch.next);
    }
}

/// Greedy NMS: keeps detections by descending score, dropping any whose overlap with an
/// already kept one is `> iou_threshold` (InsightFace keeps `ovr <= thresh`).
pub fn hard_nms(
    cands: &[Detection],
    iou_threshold: f32,
    overlap: Overlap,
    scratch: &mut NmsScratch,
    out: &mut Vec<Detection>,
) {
    out.clear();
    sort_by_score(cands, &mut scratch.remaining);
    for &i in &scratch.remaining {
        let c = &cands[i];
        if out
            .iter()
            .all(|k| overlap.of(&k.bbox, &c.bbox) <= iou_threshold)
        {
            out.push(*c);
        }
    }
}
