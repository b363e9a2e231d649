//! SSD anchors, exactly as MediaPipe's `SsdAnchorsCalculator` (non-multiscale path).

use super::DetectError;
use crate::math;
use alloc::vec::Vec;
use serde::{Deserialize, Serialize};

/// Anchor lists longer than this are taken as a configuration error (BlazeFace has 896).
const MAX_ANCHORS: usize = 1_000_000;

/// One anchor, normalised to the model input ([0, 1]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Anchor {
    pub x_center: f32,
    pub y_center: f32,
    pub w: f32,
    pub h: f32,
}

/// `SsdAnchorsCalculatorOptions` (feature maps derived from strides; `num_layers` is
/// `strides.len()`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AnchorOptions {
    /// Model input width, pixels.
    pub input_size_width: u32,
    /// Model input height, pixels.
    pub input_size_height: u32,
    pub min_scale: f32,
    pub max_scale: f32,
    /// Anchor centre offset within its cell, in cells (0.5 = cell centre).
    pub anchor_offset_x: f32,
    pub anchor_offset_y: f32,
    /// One stride per layer; consecutive equal strides share one feature map.
    pub strides: Vec<u32>,
    pub aspect_ratios: Vec<f32>,
    pub reduce_boxes_in_lowest_layer: bool,
    /// Adds one anchor per layer with this aspect ratio when > 0 (MediaPipe default 1.0).
    pub interpolated_scale_aspect_ratio: f32,
    /// All anchors get w = h = 1 (BlazeFace).
    pub fixed_anchor_size: bool,
}

impl AnchorOptions {
    /// BlazeFace short-range / front camera, 128×128 (MediaPipe
    /// `face_detection_short_range_common.pbtxt`): 16×16×2 + 8×8×6 = 896 anchors.
    pub fn blazeface_front() -> Self {
        Self {
            input_size_width: 128,
            input_size_height: 128,
            min_scale: 0.1484375,
            max_scale: 0.75,
            anchor_offset_x: 0.5,
            anchor_offset_y: 0.5,
            strides: alloc::vec![8, 16, 16, 16],
            aspect_ratios: alloc::vec![1.0],
            reduce_boxes_in_lowest_layer: false,
            interpolated_scale_aspect_ratio: 1.0,
            fixed_anchor_size: true,
        }
    }

    /// BlazeFace back camera, 256×256 (MediaPipe `face_detection_back_*` graphs): strides
    /// 16/32/32/32, also 16×16×2 + 8×8×6 = 896 anchors.
    pub fn blazeface_back() -> Self {
        Self {
            input_size_width: 256,
            input_size_height: 256,
            min_scale: 0.15625,
            strides: alloc::vec![16, 32, 32, 32],
            ..Self::blazeface_front()
        }
    }

    fn validate(&self) -> Result<(), DetectError> {
        if self.input_size_width == 0 || self.input_size_height == 0 {
            return Err(DetectError::Anchors("input size must be > 0"));
        }
        if self.strides.is_empty() {
            return Err(DetectError::Anchors(
                "at least one stride (layer) is required",
            ));
        }
        if self.strides.contains(&0) {
            return Err(DetectError::Anchors("strides must be > 0"));
        }
        if !(self.min_scale.is_finite() && self.max_scale.is_finite()) {
            return Err(DetectError::Anchors(
                "min_scale and max_scale must be finite",
            ));
        }
        if !(self.anchor_offset_x.is_finite() && self.anchor_offset_y.is_finite()) {
            return Err(DetectError::Anchors("anchor offsets must be finite"));
        }
        if self
            .aspect_ratios
            .iter()
            .any(|&a| !(a.is_finite() && a > 0.0))
        {
            return Err(DetectError::Anchors("aspect ratios must be finite and > 0"));
        }
        if !self.interpolated_scale_aspect_ratio.is_finite() {
            return Err(DetectError::Anchors(
                "interpolated_scale_aspect_ratio must be finite",
            ));
        }
        if self.aspect_ratios.is_empty()
            && self.interpolated_scale_aspect_ratio <= 0.0
            && !self.reduce_boxes_in_lowest_layer
        {
            return Err(DetectError::Anchors(
                "no aspect ratio and no interpolated scale: every cell would have 0 anchors",
            ));
        }
        Ok(())
    }
}

fn calculate_scale(min_scale: f32, max_scale: f32, stride_index: usize, num_strides: usize) -> f32 {
    if num_strides == 1 {
        (min_scale + max_scale) * 0.5
    } else {
        min_scale + (max_scale - min_scale) * stride_index as f32 / (num_strides as f32 - 1.0)
    }
}

/// All anchors in MediaPipe's order: per stride group (consecutive equal strides), rows
/// (y) outer, columns (x), then the group's anchors per cell.
pub fn generate_anchors(opts: &AnchorOptions) -> Result<Vec<Anchor>, DetectError> {
    let mut anchors = Vec::new();
    let mut group_ends = Vec::new();
    generate_grouped(opts, &mut anchors, &mut group_ends)?;
    Ok(anchors)
}

/// As [`generate_anchors`], also returning the cumulative anchor count at the end of each
/// stride group (the model's output tensors are split on these boundaries).
pub(super) fn generate_grouped(
    opts: &AnchorOptions,
    anchors: &mut Vec<Anchor>,
    group_ends: &mut Vec<usize>,
) -> Result<(), DetectError> {
    opts.validate()?;
    anchors.clear();
    group_ends.clear();
    let n = opts.strides.len();
    let mut layer = 0;
    let mut aspect_ratios = Vec::new();
    let mut scales = Vec::new();
    let mut sizes: Vec<(f32, f32)> = Vec::new();
    while layer < n {
        aspect_ratios.clear();
        scales.clear();
        let mut last = layer;
        while last < n && opts.strides[last] == opts.strides[layer] {
            let scale = calculate_scale(opts.min_scale, opts.max_scale, last, n);
            if last == 0 && opts.reduce_boxes_in_lowest_layer {
                aspect_ratios.extend_from_slice(&[1.0, 2.0, 0.5]);
                scales.extend_from_slice(&[0.1, scale, scale]);
            } else {
                for &ar in &opts.aspect_ratios {
                    aspect_ratios.push(ar);
                    scales.push(scale);
                }
                if opts.interpolated_scale_aspect_ratio > 0.0 {
                    let scale_next = if last == n - 1 {
                        1.0
                    } else {
                        calculate_scale(opts.min_scale, opts.max_scale, last + 1, n)
                    };
                    scales.push(math::sqrt(scale * scale_next));
                    aspect_ratios.push(opts.interpolated_scale_aspect_ratio);
                }
            }
            last += 1;
        }
        sizes.clear();
        for (&ar, &scale) in aspect_ratios.iter().zip(&scales) {
            let r = math::sqrt(ar);
            sizes.push((scale * r, scale / r)); // (w, h)
        }
        let stride = opts.strides[layer];
        let fm_h = opts.input_size_height.div_ceil(stride);
        let fm_w = opts.input_size_width.div_ceil(stride);
        let layer_count = (fm_h as usize)
            .saturating_mul(fm_w as usize)
            .saturating_mul(sizes.len());
        if anchors.len().saturating_add(layer_count) > MAX_ANCHORS {
            return Err(DetectError::Anchors(
                "more than 1,000,000 anchors: input size too large for the strides",
            ));
        }
        for y in 0..fm_h {
            for x in 0..fm_w {
                for &(w, h) in &sizes {
                    let (w, h) = if opts.fixed_anchor_size {
                        (1.0, 1.0)
                    } else {
                        (w, h)
                    };
                    anchors.push(Anchor {
                        x_center: (x as f32 + opts.anchor_offset_x) / fm_w as f32,
                        y_center: (y as f32 + opts.anchor_offset_y) / fm_h as f32,
                        w,
                        h,
                    });
                }
            }
        }
        group_ends.push(anchors.len());
        layer = last;
    }
    Ok(())
}
