//! [`Engine`]: the detector and FaceMesh runners from the model store, their decoders and
//! input formats, built once and shared by every stream (`Send + Sync`).

use std::path::PathBuf;
use std::sync::Arc;

use super::{DetectorKind, EngineConfig};
use crate::detect::{BlazeFaceConfig, BlazeFaceDecoder, ScrfdConfig, ScrfdDecoder};
use crate::error::{Error, Result};
use crate::frame::{Normalize, TensorLayout};
use crate::models::{Manifest, ModelError, ModelRunner, ModelSpec, ModelStore};

/// The face detector's decoder, by kind. Decoders are cloned into each tracker (they hold
/// scratch buffers), the anchors are computed once here.
#[derive(Clone, Debug)]
pub(super) enum DetectorDecoder {
    BlazeFace {
        decoder: BlazeFaceDecoder,
        size: u32,
        scores: Vec<usize>,
        regressors: Vec<usize>,
    },
    Scrfd {
        decoder: ScrfdDecoder,
        scores: Vec<usize>,
        bboxes: Vec<usize>,
        kps: Vec<usize>,
    },
}

/// Models and configuration, loaded once; shared by every stream and session.
pub struct Engine {
    pub(super) config: EngineConfig,
    pub(super) detector: Arc<dyn ModelRunner>,
    pub(super) mesh: Arc<dyn ModelRunner>,
    pub(super) decoder: DetectorDecoder,
    /// Input layout and normalisation of each model, from the manifest.
    pub(super) detector_input: (TensorLayout, Normalize),
    pub(super) mesh_input: (TensorLayout, Normalize),
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("detector", &self.detector.spec().name)
            .field("mesh", &self.mesh.spec().name)
            .finish()
    }
}

/// FaceMesh input side, pixels.
pub const MESH_INPUT: u32 = 192;

impl Engine {
    /// Loads ONNX Runtime and the detector and FaceMesh models through the process-wide
    /// model store for this configuration ([`ModelStore::shared`]: the same runners as the
    /// session's and the stages' loads), each verified against the manifest (sha256, tensor
    /// names and shapes).
    #[cfg(feature = "ort")]
    pub fn new(config: EngineConfig) -> Result<Engine> {
        config.validate()?;
        let store = ModelStore::shared(&config)?;
        Self::from_store(config, &store)
    }

    /// Builds an engine with the detector and FaceMesh runners of `store` (loaded on first
    /// use; another backend or test doubles through [`ModelStore::with_loader`]).
    pub fn from_store(config: EngineConfig, store: &ModelStore) -> Result<Engine> {
        config.validate()?;
        let detector = store.get(config.detector.model_name())?;
        let mesh = store.get("face_landmark")?;
        Self::with_runners(config, detector, mesh)
    }

    /// Builds an engine over already loaded runners (another backend, or test doubles).
    pub fn with_runners(
        config: EngineConfig,
        detector: Arc<dyn ModelRunner>,
        mesh: Arc<dyn ModelRunner>,
    ) -> Result<Engine> {
        config.validate()?;
        let decoder = build_decoder(config.detector, detector.spec())?;
        check_mesh_spec(mesh.spec())?;
        let detector_input = input_format(detector.spec())?;
        let mesh_input = input_format(mesh.spec())?;
        Ok(Engine {
            config,
            detector,
            mesh,
            decoder,
            detector_input,
            mesh_input,
        })
    }

    pub fn config(&self) -> &EngineConfig {
        &self.config
    }

    /// Manifest entries of the loaded models (name, version, sha256), for audit records.
    pub fn model_specs(&self) -> [&ModelSpec; 2] {
        [self.detector.spec(), self.mesh.spec()]
    }
}

/// Loads one manifest model through ONNX Runtime with the engine configuration's model folder,
/// runtime, overrides and thread count (sha256 and interface checked). The optional stages'
/// models (depth, texture, eye state, embeddings) load through this, each file once per
/// configuration while it is in use ([`ModelStore::shared`]).
#[cfg(feature = "ort")]
pub fn load_runner(config: &EngineConfig, name: &str) -> Result<Arc<dyn ModelRunner>> {
    Ok(ModelStore::shared(config)?.get(name)?)
}

/// Resolves a model name to its spec and file, applying a user override (path + sha256).
pub fn resolve(
    manifest: &Manifest,
    config: &EngineConfig,
    name: &str,
) -> Result<(ModelSpec, PathBuf)> {
    Ok(crate::models::resolve(manifest, &config.into(), name)?)
}

fn output_index(spec: &ModelSpec, name: &str) -> Result<usize> {
    spec.outputs
        .iter()
        .position(|o| o.name == name)
        .ok_or_else(|| {
            Error::Model(ModelError::Manifest(format!(
                "model `{}` declares no output `{name}`",
                spec.name
            )))
        })
}

fn build_decoder(kind: DetectorKind, spec: &ModelSpec) -> Result<DetectorDecoder> {
    match kind {
        DetectorKind::BlazeFaceFront | DetectorKind::BlazeFaceBack => {
            let config = if kind == DetectorKind::BlazeFaceFront {
                BlazeFaceConfig::front()
            } else {
                BlazeFaceConfig::back()
            };
            let size = config.input_size().0;
            let decoder = BlazeFaceDecoder::new(config)?;
            // Scores are the outputs whose last dimension is 1, regressors the others, each in
            // declared order (anchor order).
            let mut scores = Vec::new();
            let mut regressors = Vec::new();
            for (i, o) in spec.outputs.iter().enumerate() {
                if o.shape.last() == Some(&1) {
                    scores.push(i);
                } else {
                    regressors.push(i);
                }
            }
            if scores.is_empty() || scores.len() != regressors.len() {
                return Err(Error::Model(ModelError::Manifest(format!(
                    "detector `{}` outputs do not pair scores with regressors",
                    spec.name
                ))));
            }
            Ok(DetectorDecoder::BlazeFace {
                decoder,
                size,
                scores,
                regressors,
            })
        }
        DetectorKind::Scrfd => {
            let config = ScrfdConfig::default();
            let mut scores = Vec::new();
            let mut bboxes = Vec::new();
            let mut kps = Vec::new();
            for s in &config.strides {
                scores.push(output_index(spec, &format!("score_{s}"))?);
                bboxes.push(output_index(spec, &format!("bbox_{s}"))?);
                kps.push(output_index(spec, &format!("kps_{s}"))?);
            }
            Ok(DetectorDecoder::Scrfd {
                decoder: ScrfdDecoder::new(config)?,
                scores,
                bboxes,
                kps,
            })
        }
    }
}

fn check_mesh_spec(spec: &ModelSpec) -> Result<()> {
    let ok = spec.inputs.len() == 1
        && spec.inputs[0].shape == [1, 3, MESH_INPUT as i64, MESH_INPUT as i64]
        && spec.outputs.len() == 2;
    if ok {
        Ok(())
    } else {
        Err(Error::Model(ModelError::Manifest(format!(
            "landmark model `{}` must take [1, 3, 192, 192] and give landmarks + presence",
            spec.name
        ))))
    }
}

/// Layout and normalisation of a model's image input, from its manifest entry (so a user's
/// replacement model with other preprocessing works without code changes).
fn input_format(spec: &ModelSpec) -> Result<(TensorLayout, Normalize)> {
    let p = spec.preprocess.as_ref().ok_or_else(|| {
        Error::Model(ModelError::Manifest(format!(
            "model `{}` declares no preprocess",
            spec.name
        )))
    })?;
    let layout = match p.layout.as_str() {
        "NHWC" => TensorLayout::Nhwc,
        "NCHW" => TensorLayout::Nchw,
        other => {
            return Err(Error::Model(ModelError::Manifest(format!(
                "model `{}`: layout `{other}`, expected NHWC or NCHW",
                spec.name
            ))))
        }
    };
    if p.colour != "RGB" || p.std.iter().any(|&s| !(s.is_finite() && s > 0.0)) {
        return Err(Error::Model(ModelError::Manifest(format!(
            "model `{}`: preprocessing must be RGB with positive std, got {} {:?}",
            spec.name, p.colour, p.std
        ))));
    }
    Ok((layout, Normalize::from_mean_std(p.mean, p.std)))
}
