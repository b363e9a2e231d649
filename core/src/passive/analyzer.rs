//! [`PassiveAnalyzer`]: runs every passive signal over a stream's window of frames.
//!
//! Per frame it keeps only each signal's small feature record, never the frame: the largest
//! is parallax's luma crop of the face (at most 116² f32 with the defaults, 54 KB), so a
//! 45-frame window holds about 2.5 MB. The optional models (depth, texture CNN)
//! load once into [`PassiveModels`], shared by every stream; a model that is missing or not
//! supplied makes its signal "not available" with the reason, never an error for the others.

use std::collections::VecDeque;
use std::sync::Arc;

use serde::Serialize;

use super::{depth, parallax, reflection, texture, SignalReport};
use crate::error::{Error, Result};
use crate::frame::RgbImage;
use crate::mesh::Landmarks;
use crate::models::ModelRunner;
use crate::passive::FaceGeometry;

/// Settings of every passive signal and of the window.
#[derive(Clone, Debug, Serialize)]
pub struct PassiveConfig {
    /// Frames kept in the window (the most recent ones).
    pub max_window: usize,
    /// Manifest name of the depth model: the real `depth_anything_v2_vits` (user supplied)
    /// or the project-made `depth_standin` (tests only: NOT a depth model).
    pub depth_model: String,
    #[cfg(feature = "fft")]
    pub fft: super::fft::Config,
    pub reflection: reflection::Config,
    pub parallax: parallax::ParallaxConfig,
    pub depth: depth::DepthConfig,
    pub texture: texture::TextureConfig,
}

impl Default for PassiveConfig {
    fn default() -> Self {
        PassiveConfig {
            max_window: 45,
            depth_model: "depth_anything_v2_vits".into(),
            #[cfg(feature = "fft")]
            fft: Default::default(),
            reflection: Default::default(),
            parallax: Default::default(),
            depth: Default::default(),
            texture: Default::default(),
        }
    }
}

impl PassiveConfig {
    pub fn validate(&self) -> Result<()> {
        if self.max_window < 2 || self.max_window > 600 {
            return Err(Error::Config(format!(
                "passive max_window must be 2..=600 frames, got {}",
                self.max_window
            )));
        }
        #[cfg(feature = "fft")]
        self.fft.validate()?;
        self.reflection.validate()?;
        self.parallax.validate()?;
        self.depth.validate()?;
        self.texture.validate()?;
        Ok(())
    }
}

/// A model a signal may use, or why it is not there.
#[derive(Clone)]
pub enum OptionalModel {
    Loaded(Arc<dyn ModelRunner>),
    Missing(String),
}

impl std::fmt::Debug for OptionalModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OptionalModel::Loaded(r) => write!(f, "Loaded({})", r.spec().name),
            OptionalModel::Missing(why) => write!(f, "Missing({why})"),
        }
    }
}

impl OptionalModel {
    fn runner(&self) -> std::result::Result<&Arc<dyn ModelRunner>, &str> {
        match self {
            OptionalModel::Loaded(r) => Ok(r),
            OptionalModel::Missing(why) => Err(why),
        }
    }
}

/// The passive signals' optional models, loaded once and shared by every stream.
#[derive(Clone)]
pub struct PassiveModels {
    pub depth: OptionalModel,
    /// The texture models in use, with their settings (the preferred set, else the
    /// fallback); empty when neither could be loaded (`texture_note` says why).
    pub texture: Vec<(texture::TextureModel, Arc<dyn ModelRunner>)>,
    /// Why the preferred texture models are not in use, or why none is (empty otherwise).
    pub texture_note: String,
}

impl std::fmt::Debug for PassiveModels {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.texture.iter().map(|(m, _)| m.name.as_str()).collect();
        f.debug_struct("PassiveModels")
            .field("depth", &self.depth)
            .field("texture", &names)
            .field("texture_note", &self.texture_note)
            .finish()
    }
}

impl PassiveModels {
    /// No models: depth and texture report "not available".
    pub fn none() -> PassiveModels {
        PassiveModels {
            depth: OptionalModel::Missing("no depth model configured".into()),
            texture: Vec::new(),
            texture_note: "no texture model configured".into(),
        }
    }

    /// Loads the configured depth and texture models through ONNX Runtime with the engine's
    /// model folder, runtime and overrides. A model that is missing, not supplied, or fails
    /// its sha256 / interface check is not used, and its error is logged: depth becomes
    /// `Missing(reason)`; texture takes [`texture::Config::fallback`] when any preferred
    /// model fails, and says so in `texture_note`.
    #[cfg(feature = "ort")]
    pub fn load(engine: &crate::perception::EngineConfig, config: &PassiveConfig) -> PassiveModels {
        let store = crate::models::ModelStore::shared(engine);
        Self::load_with(
            &|name| match &store {
                Ok(store) => Ok(store.get(name)?),
                Err(e) => Err(crate::Error::Model(crate::models::ModelError::Manifest(
                    e.to_string(),
                ))),
            },
            config,
        )
    }

    /// [`Self::load`] from a model store: each model loaded once, shared with other stages.
    pub fn load_from(store: &crate::models::ModelStore, config: &PassiveConfig) -> PassiveModels {
        Self::load_with(&|name| Ok(store.get(name)?), config)
    }

    fn load_with(
        get: &dyn Fn(&str) -> crate::Result<Arc<dyn ModelRunner>>,
        config: &PassiveConfig,
    ) -> PassiveModels {
        let load = |name: &str| -> OptionalModel {
            if name.is_empty() {
                return OptionalModel::Missing("disabled in the configuration".into());
            }
            match get(name) {
                Ok(r) => OptionalModel::Loaded(r),
                Err(e) => {
                    log::warn!("passive model `{name}` not loaded: {e}");
                    OptionalModel::Missing(e.to_string())
                }
            }
        };
        let load_set = |set: &[texture::TextureModel]| {
            let mut loaded = Vec::with_capacity(set.len());
            for m in set {
                match load(&m.name) {
                    OptionalModel::Loaded(r) => loaded.push((m.clone(), r)),
                    OptionalModel::Missing(why) => return Err(format!("`{}`: {why}", m.name)),
                }
            }
            Ok(loaded)
        };
        let tc = &config.texture;
        let preferred = if tc.models.is_empty() {
            Err("none configured".to_string())
        } else {
            load_set(&tc.models)
        };
        let (texture, texture_note) = match preferred {
            Ok(set) => (set, String::new()),
            Err(why) if tc.fallback.is_empty() => (
                Vec::new(),
                format!("preferred: {why}; no fallback configured"),
            ),
            Err(why) => match load_set(&tc.fallback) {
                Ok(set) => {
                    let names: Vec<&str> = tc.fallback.iter().map(|m| m.name.as_str()).collect();
                    let note = format!(
                        "preferred texture model not available ({why}); scored with the \
                         fallback {}",
                        names.join("+")
                    );
                    if !tc.models.is_empty() {
                        log::warn!("{note}");
                    }
                    (set, note)
                }
                Err(fb) => (Vec::new(), format!("preferred: {why}; fallback: {fb}")),
            },
        };
        PassiveModels {
            depth: load(&config.depth_model),
            texture,
            texture_note,
        }
    }
}

/// Every passive signal's result over the window.
#[derive(Clone, Debug, Serialize)]
pub struct PassiveReport {
    pub depth: SignalReport,
    pub fft: SignalReport,
    pub reflection: SignalReport,
    pub parallax: SignalReport,
    pub texture: SignalReport,
    /// Frames pushed into the window (with or without a face).
    pub frames: usize,
    /// Frames of the window that had a face.
    pub frames_with_face: usize,
}

impl PassiveReport {
    /// Every signal unavailable for the same reason, no frames.
    pub fn unavailable(reason: &str) -> PassiveReport {
        let r = SignalReport::unavailable(reason);
        PassiveReport {
            depth: r.clone(),
            fft: r.clone(),
            reflection: r.clone(),
            parallax: r.clone(),
            texture: r,
            frames: 0,
            frames_with_face: 0,
        }
    }

    /// The documented JSON form: `{depth, fft, reflection, parallax, texture}`, each with
    /// `score`, `features`, `available` (and `reason` when not available), plus the frame
    /// counts.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }
}

/// Which signals a pushed frame feeds ([`PassiveAnalyzer::push_for`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct FrameUse {
    /// Parallax (the landmarks and a luma crop of the face, fitted in [`PassiveAnalyzer::report`]).
    pub parallax: bool,
    /// The per-frame signals: FFT, reflection, depth and texture (a model run each).
    pub per_frame: bool,
}

impl FrameUse {
    pub const ALL: FrameUse = FrameUse {
        parallax: true,
        per_frame: true,
    };
}

/// One frame's records, one per signal; `None` where the signal failed on this frame.
#[derive(Clone, Debug, Default)]
struct FrameRecord {
    face: bool,
    #[cfg(feature = "fft")]
    fft: Option<super::fft::FrameFeatures>,
    reflection: Option<reflection::FrameFeatures>,
    parallax: Option<parallax::ParallaxFrame>,
    depth: Option<depth::DepthFrame>,
    texture: Option<texture::TextureFrame>,
}

/// Per-stream passive-liveness state. Not shared between threads; one per capture.
pub struct PassiveAnalyzer {
    models: Arc<PassiveModels>,
    config: PassiveConfig,
    window: VecDeque<FrameRecord>,
    #[cfg(feature = "fft")]
    fft: super::fft::Scratch,
    reflection: reflection::Scratch,
    depth: Option<depth::DepthEstimator>,
    texture: Option<texture::TextureClassifier>,
    /// Why a model's signal is unavailable (model missing or its spec rejected).
    depth_missing: Option<String>,
    texture_missing: Option<String>,
    /// Last per-frame error of each signal, reported if the signal ends up unavailable.
    last_errors: [Option<String>; 5],
}

impl std::fmt::Debug for PassiveAnalyzer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PassiveAnalyzer")
            .field("frames", &self.window.len())
            .finish()
    }
}

const DEPTH: usize = 0;
#[cfg_attr(not(feature = "fft"), allow(dead_code))]
const FFT: usize = 1;
const REFLECTION: usize = 2;
const PARALLAX: usize = 3;
const TEXTURE: usize = 4;

impl PassiveAnalyzer {
    pub fn new(models: Arc<PassiveModels>, config: PassiveConfig) -> Result<PassiveAnalyzer> {
        config.validate()?;
        let (depth, depth_missing) = match models.depth.runner() {
            Ok(r) => match depth::DepthEstimator::new(r.clone(), config.depth.clone()) {
                Ok(d) => (Some(d), None),
                Err(e) => (None, Some(e.to_string())),
            },
            Err(why) => (None, Some(format!("depth model not available: {why}"))),
        };
        let (texture, texture_missing) = if models.texture.is_empty() {
            (
                None,
                Some(format!(
                    "texture model not available: {}",
                    models.texture_note
                )),
            )
        } else {
            match texture::TextureClassifier::new(models.texture.clone(), config.texture.clone()) {
                Ok(t) => (Some(t), None),
                Err(e) => (None, Some(e.to_string())),
            }
        };
        Ok(PassiveAnalyzer {
            models,
            window: VecDeque::with_capacity(config.max_window),
            #[cfg(feature = "fft")]
            fft: Default::default(),
            reflection: Default::default(),
            depth,
            texture,
            depth_missing,
            texture_missing,
            last_errors: Default::default(),
            config,
        })
    }

    pub fn config(&self) -> &PassiveConfig {
        &self.config
    }

    pub fn models(&self) -> &Arc<PassiveModels> {
        &self.models
    }

    /// Forgets the window (a new capture).
    pub fn reset(&mut self) {
        self.window.clear();
        self.last_errors = Default::default();
    }

    fn push_record(&mut self, record: FrameRecord) {
        if self.window.len() == self.config.max_window {
            self.window.pop_front();
        }
        self.window.push_back(record);
    }

    /// A frame in which no face was found: it counts towards the window but adds no features.
    pub fn push_no_face(&mut self) {
        self.push_record(FrameRecord::default());
    }

    /// Adds one frame: the upright RGB image and the face's 468 landmarks (image pixels) and
    /// box. Malformed input (image length, eyes that coincide) is an error and adds nothing; a signal that cannot use this frame (e.g. face too small for it)
    /// just skips it and says why if it ends up unavailable.
    pub fn push(
        &mut self,
        rgb: &RgbImage,
        landmarks: &Landmarks,
        bbox: crate::geometry::Rect,
        timestamp_ns: u64,
    ) -> Result<()> {
        self.push_for(rgb, landmarks, bbox, timestamp_ns, FrameUse::ALL)
    }

    /// [`Self::push`] for the signals `uses` names only (a caller that keeps parallax's
    /// frames itself, or scores the per-frame signals on selected frames). The record still
    /// counts towards the window; each signal's score is its usual aggregate over the frames
    /// that fed it.
    pub fn push_for(
        &mut self,
        rgb: &RgbImage,
        landmarks: &Landmarks,
        bbox: crate::geometry::Rect,
        timestamp_ns: u64,
        uses: FrameUse,
    ) -> Result<()> {
        let expected = (rgb.width as usize)
            .checked_mul(rgb.height as usize)
            .and_then(|v| v.checked_mul(3));
        if expected != Some(rgb.data.len()) {
            return Err(Error::InvalidInput(format!(
                "passive: RGB image {}×{} has {} bytes, expected 3 × width × height",
                rgb.width,
                rgb.height,
                rgb.data.len(),
            )));
        }
        // Landmarks are checked once here (with or without parallax's crop); each signal
        // re-checks what it relies on.
        let par = if uses.parallax {
            Some(parallax::frame_features_with_image(
                rgb,
                landmarks,
                timestamp_ns,
                &self.config.parallax,
            )?)
        } else {
            parallax::check_landmarks(landmarks)?;
            None
        };
        let mut rec = FrameRecord {
            face: true,
            parallax: par,
            ..FrameRecord::default()
        };
        if uses.per_frame {
            self.per_frame(rgb, landmarks, bbox, &mut rec);
        }
        let _ = PARALLAX;
        self.push_record(rec);
        Ok(())
    }

    /// The per-frame signals' records of one frame (FFT, reflection, depth, texture).
    fn per_frame(
        &mut self,
        rgb: &RgbImage,
        landmarks: &Landmarks,
        bbox: crate::geometry::Rect,
        rec: &mut FrameRecord,
    ) {
        let face = FaceGeometry { landmarks, bbox };
        let mut note = |slot: usize, e: &Error| {
            self.last_errors[slot] = Some(e.to_string());
        };
        #[cfg(feature = "fft")]
        match super::fft::frame_features(rgb, &face, &self.config.fft, &mut self.fft) {
            Ok(f) => rec.fft = Some(f),
            Err(e) => note(FFT, &e.into()),
        }
        match reflection::frame_features(rgb, &face, &self.config.reflection, &mut self.reflection)
        {
            Ok(f) => rec.reflection = Some(f),
            Err(e) => note(REFLECTION, &e.into()),
        }
        if let Some(d) = self.depth.as_mut() {
            match d.process(rgb, &face) {
                Ok(f) => rec.depth = Some(f),
                Err(e) => note(DEPTH, &e.into()),
            }
        }
        if let Some(t) = self.texture.as_mut() {
            // One box on every frame, whichever detector ran: the landmarks' extent
            // (docs/passive.md measures MiniFASNet with BlazeFace's, SCRFD's and this box).
            let texture_face = FaceGeometry {
                landmarks,
                bbox: crate::geometry::Rect::bounding(landmarks.iter().map(|p| p.xy()))
                    .unwrap_or(bbox),
            };
            match t.process(rgb, &texture_face) {
                Ok(f) => rec.texture = Some(f),
                Err(e) => note(TEXTURE, &e.into()),
            }
        }
    }

    /// Scores every signal over the current window.
    pub fn report(&self) -> PassiveReport {
        let frames = self.window.len();
        let frames_with_face = self.window.iter().filter(|r| r.face).count();
        let explain = |r: SignalReport, slot: usize| -> SignalReport {
            match (&r.available, &self.last_errors[slot]) {
                (false, Some(e)) => SignalReport {
                    reason: format!("{} (last frame error: {e})", r.reason),
                    ..r
                },
                _ => r,
            }
        };
        macro_rules! collect {
            ($field:ident) => {
                self.window
                    .iter()
                    .filter_map(|r| r.$field.clone())
                    .collect::<Vec<_>>()
            };
        }
        #[cfg(feature = "fft")]
        let fft = explain(super::fft::score(&collect!(fft), &self.config.fft), FFT);
        #[cfg(not(feature = "fft"))]
        let fft = SignalReport::unavailable("built without the `fft` feature");
        let reflection = explain(
            reflection::score(&collect!(reflection), &self.config.reflection),
            REFLECTION,
        );
        let par: Vec<&parallax::ParallaxFrame> = self
            .window
            .iter()
            .filter_map(|r| r.parallax.as_ref())
            .collect();
        let parallax = parallax::score_refs(&par, &self.config.parallax);
        let depth = match &self.depth_missing {
            Some(why) => SignalReport::unavailable(why),
            None => explain(depth::score(&collect!(depth), &self.config.depth), DEPTH),
        };
        let texture = match &self.texture_missing {
            Some(why) => SignalReport::unavailable(why),
            None => explain(
                texture::score(&collect!(texture), &self.config.texture),
                TEXTURE,
            ),
        };
        PassiveReport {
            depth: self.label_model(depth, &self.models.depth),
            fft,
            reflection,
            parallax,
            texture: match &self.texture {
                Some(t) => {
                    let mut r = texture.with_model(t.model_label(), &self.models.texture_note);
                    if t.uses_stand_in() {
                        r.features.insert("stand_in_model".into(), 1.0);
                    }
                    r
                }
                None => texture,
            },
            frames,
            frames_with_face,
        }
    }

    /// Marks results computed with a project-made stand-in model, so they are never read as
    /// the real model's.
    fn label_model(&self, mut r: SignalReport, model: &OptionalModel) -> SignalReport {
        if let OptionalModel::Loaded(m) = model {
            if m.spec().stand_in {
                r.features.insert("stand_in_model".into(), 1.0);
            }
        }
        r
    }
}
