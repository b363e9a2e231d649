//! Face embeddings from any ArcFace-interface model in the manifest.
//!
//! Interface: one input `[B, 3, 112, 112]` (NCHW; `B` fixed at 1 or 2, or dynamic) of the
//! aligned crop, normalised with the manifest's per-channel mean / std in the manifest's colour
//! order (RGB or BGR); one output `[B, D]`, any `D` (512 for ArcFace / `fr_feature`, 192 for
//! MobileFaceNet). A model whose batch is fixed at 2 (MobileFaceNet) gets the crop in both
//! slots and the first row is kept. The embedding is L2-normalised.

use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;

use super::align::{self, FivePoints, CROP};
use super::MatchError;
use crate::frame::RgbImage;
use crate::frame::{warp_affine_into, warp_affine_to_tensor, Border, Normalize, TensorLayout};
use crate::models::{ModelRunner, TensorOut};

/// An L2-normalised embedding and the model that made it.
#[derive(Clone, Debug, PartialEq)]
pub struct Embedding {
    pub vector: Vec<f32>,
    /// Manifest name and sha256 of the model.
    pub model: String,
    pub model_sha256: String,
    /// RMS distance of the five points from the template after alignment, crop pixels
    /// (large: a profile or a bad landmark fit).
    pub alignment_rms: f32,
}

/// Runs an ArcFace-interface model on aligned crops.
#[derive(Clone)]
pub struct Embedder {
    runner: Arc<dyn ModelRunner>,
    batch: usize,
    dim: usize,
    norm: Normalize,
    bgr: bool,
    input: Vec<f32>,
    crop_rgb: RgbImage,
    outputs: Vec<TensorOut>,
}

impl core::fmt::Debug for Embedder {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "Embedder({}, {}-d)", self.runner.spec().name, self.dim)
    }
}

impl Embedder {
    /// Checks the model's declared interface and preprocessing.
    pub fn new(runner: Arc<dyn ModelRunner>) -> Result<Embedder, MatchError> {
        let spec = runner.spec();
        let bad = |why: String| MatchError::Model {
            model: spec.name.clone(),
            why,
        };
        if spec.inputs.len() != 1 || spec.outputs.len() != 1 {
            return Err(bad("expected one input and one output".into()));
        }
        let ins = &spec.inputs[0].shape;
        if ins.len() != 4 || ins[1..] != [3, CROP as i64, CROP as i64] {
            return Err(bad(alloc::format!(
                "input shape {ins:?}, expected [B, 3, 112, 112]"
            )));
        }
        let batch = match ins[0] {
            b if b < 0 => 1,
            b @ 1..=8 => b as usize,
            b => return Err(bad(alloc::format!("input batch {b} (1 to 8, or dynamic)"))),
        };
        let outs = &spec.outputs[0].shape;
        let dim = match outs.as_slice() {
            [b, d] if (*b < 0 || *b as usize == batch) && *d > 0 => *d as usize,
            _ => {
                return Err(bad(alloc::format!(
                    "output shape {outs:?}, expected [B, D] with a fixed D"
                )))
            }
        };
        let pre = spec
            .preprocess
            .as_ref()
            .ok_or_else(|| bad("the manifest gives no preprocess (mean / std)".into()))?;
        if pre.layout != "NCHW" {
            return Err(bad(alloc::format!("layout {}, expected NCHW", pre.layout)));
        }
        let bgr = match pre.colour.as_str() {
            "RGB" => false,
            "BGR" => true,
            other => return Err(bad(alloc::format!("colour {other}, expected RGB or BGR"))),
        };
        let norm = Normalize::from_mean_std(pre.mean, pre.std);
        if !norm.inv_std.iter().all(|v| v.is_finite()) {
            return Err(bad(alloc::format!("std {:?} must be non-zero", pre.std)));
        }
        Ok(Embedder {
            runner,
            batch,
            dim,
            norm,
            bgr,
            input: Vec::new(),
            crop_rgb: RgbImage::default(),
            outputs: Vec::new(),
        })
    }

    /// Loads the manifest model `name` (e.g. `fr_feature`, `mobilefacenet`, or a user's
    /// InsightFace file through a model override with its sha256) through ONNX Runtime.
    #[cfg(feature = "ort")]
    pub fn load(engine: &crate::perception::EngineConfig, name: &str) -> crate::Result<Embedder> {
        Self::load_from(&*crate::models::ModelStore::shared(engine)?, name)
    }

    /// The manifest model `name` from a model store (loaded once, shared with other stages).
    pub fn load_from(store: &crate::models::ModelStore, name: &str) -> crate::Result<Embedder> {
        Ok(Self::new(store.get(name)?)?)
    }

    /// Embedding length.
    pub fn dim(&self) -> usize {
        self.dim
    }

    pub fn model_name(&self) -> &str {
        &self.runner.spec().name
    }

    /// The aligned 112×112 crop (for inspection and the parity test).
    pub fn aligned_crop(
        &mut self,
        rgb: &RgbImage,
        pts: &FivePoints,
    ) -> Result<&RgbImage, MatchError> {
        let (from_crop, _) = align::crop_from_points(pts)?;
        warp_affine_into(
            rgb,
            &from_crop,
            CROP,
            CROP,
            Border::Constant([0, 0, 0]),
            &mut self.crop_rgb,
        )?;
        Ok(&self.crop_rgb)
    }

    /// The embedding of the face with these five points on `rgb`.
    pub fn embed(&mut self, rgb: &RgbImage, pts: &FivePoints) -> Result<Embedding, MatchError> {
        let (from_crop, rms) = align::crop_from_points(pts)?;
        let plane = (CROP * CROP) as usize;
        let one = 3 * plane;
        self.input.clear();
        self.input.resize(one * self.batch, 0.0);
        warp_affine_to_tensor(
            rgb,
            &from_crop,
            CROP,
            CROP,
            Border::Constant([0, 0, 0]),
            TensorLayout::Nchw,
            &self.norm,
            &mut self.input[..one],
        )?;
        if self.bgr {
            let (r, rest) = self.input[..one].split_at_mut(plane);
            r.swap_with_slice(&mut rest[plane..2 * plane]);
        }
        // A batch fixed above 1: the same crop in every slot, the first row kept.
        for b in 1..self.batch {
            self.input.copy_within(..one, b * one);
        }
        let shape = [self.batch, 3, CROP as usize, CROP as usize];
        self.runner
            .run_one_prechecked(&self.input, &shape, &mut self.outputs)?;
        let out = &self.outputs[0].data;
        if out.len() != self.batch * self.dim {
            return Err(MatchError::Model {
                model: self.runner.spec().name.clone(),
                why: alloc::format!(
                    "output has {} values, expected {} × {}",
                    out.len(),
                    self.batch,
                    self.dim
                ),
            });
        }
        let vector = normalised(&out[..self.dim]).ok_or_else(|| MatchError::Model {
            model: self.runner.spec().name.clone(),
            why: "the embedding is zero or not finite".into(),
        })?;
        let spec = self.runner.spec();
        Ok(Embedding {
            vector,
            model: spec.name.clone(),
            model_sha256: spec.sha256.clone(),
            alignment_rms: rms,
        })
    }
}

/// `v / |v|`, or `None` when `v` is zero or not finite.
pub fn normalised(v: &[f32]) -> Option<Vec<f32>> {
    let n = v
        .iter()
        .map(|x| (*x as f64) * (*x as f64))
        .sum::<f64>()
        .sqrt();
    (n.is_finite() && n > 1e-12).then(|| v.iter().map(|x| (*x as f64 / n) as f32).collect())
}
