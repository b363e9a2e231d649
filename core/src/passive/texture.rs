//! Texture CNN signal: small anti-spoofing classifiers on a wide crop around the face, looking
//! for print, screen and moiré texture.
//!
//! **Models** ([`Config::models`], then [`Config::fallback`]): MiniFASNet V2 (2.7× crop) and
//! V1SE (4.0×) together, Silent-Face's two-model fusion (the frame's live probability is the
//! mean of theirs); when either is missing, `fr_liveness` (faceplugin) alone, and the report
//! says so. **Model contract** (from each manifest entry, not hard-coded): one input
//! `[1, 3, S, S]` (NCHW; colour order and `(x − mean) / std` from the entry's `preprocess`: raw
//! 0–255 **BGR** for all three), one output `[1, 3]` logits, turned into probabilities by a
//! softmax; [`TextureModel::live_class`] says which class is "live": 1 for MiniFASNet (its
//! published interface), **0 for `fr_liveness`**, measured on real attack photos and real
//! video (docs/passive.md: fed RGB with class 1, real prints scored 0.999).
//!
//! **Crop**: the face box scaled by [`TextureModel::scale`] around its centre.
//! Two modes ([`CropMode`]):
//! - `ClampedToImage` (default): MiniFASNet's own crop (`CropImage._get_new_box` in
//!   Silent-Face-Anti-Spoofing, also what ports of the faceplugin SDK do): each side of the box
//!   scaled separately, the scale reduced so the crop fits in the image, the crop shifted (not
//!   clipped) back inside, corners truncated to whole pixels, then stretched to S × S. No
//!   padding ever reaches the network; near the frame edge the face is off-centre instead.
//! - `Square`: a square on the box's longer side, centred, replicating the edge pixels where it
//!   leaves the image.
//!
//! Why not a square with black padding: measured on `fr_liveness` (onnxruntime, this
//! repository's fixtures), black input pushes the output to class 1 (a uniform black or grey
//! 128 × 128 gives p1 = 0.98–0.99), and the astronaut photo's 2.7× square, whose top 20 px
//! leave the image, reads p1 = 0.95 with a black band but p0 = 0.90 with replicated edges and
//! p0 = 0.995 with the clamped crop. Padding would be an input an attacker controls (hold the
//! medium near the frame edge), so the default never pads.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::{FaceGeometry, SignalReport};
use crate::frame::{warp_affine_to_tensor, Border, FrameError, Normalize, RgbImage, TensorLayout};
use crate::geometry::{Affine2, Rect};
use crate::models::{ModelError, ModelRunner, ModelSpec, TensorOut};

#[cfg(test)]
mod tests;

/// Number of output classes.
pub const NUM_CLASSES: usize = 3;
/// Input side used when the spec leaves it dynamic, pixels (`fr_liveness`'s).
pub const DEFAULT_INPUT_SIZE: u32 = 128;
/// MiniFASNet's crop scale: the crop side over the face box side.
pub const DEFAULT_SCALE: f32 = 2.7;
/// Border of the `Square` crop outside the image: the nearest edge pixel (black padding
/// biases the model, see the module docs).
pub const SQUARE_BORDER: Border = Border::Replicate;

/// Errors of the texture signal. Each says what was wrong and what was expected.
#[derive(Debug, thiserror::Error)]
pub enum TextureError {
    /// A configuration value is NaN, infinite or out of range.
    #[error("texture config `{name}` = {value} is invalid: expected {expected}")]
    InvalidConfig {
        name: &'static str,
        value: f64,
        expected: &'static str,
    },
    /// The face box is not finite or has no area.
    #[error(transparent)]
    InvalidFaceBox(#[from] crate::geometry::InvalidFaceBox),
    /// The model's declared interface is not a 3-class image classifier's.
    #[error("texture model `{model}`: {what}")]
    Interface { model: String, what: String },
    /// The runner returned no output tensor.
    #[error("texture model returned {got} outputs, expected 1 (3 logits)")]
    OutputCount { got: usize },
    /// The output is not `[1, 3]`.
    #[error("texture model output has shape {got:?} with {len} values, expected [1, 3]")]
    OutputShape { got: Vec<usize>, len: usize },
    /// The output holds NaN or infinite values.
    #[error("texture model output holds a non-finite value at index {index}")]
    NonFiniteOutput { index: usize },
    #[error(transparent)]
    Frame(#[from] FrameError),
    #[error(transparent)]
    Model(#[from] ModelError),
}

/// How the crop is cut (module docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CropMode {
    /// MiniFASNet's: per-side scale, reduced to fit, shifted inside the image, stretched.
    ClampedToImage,
    /// Square on the box's longer side × scale, centred; edge pixels replicated outside.
    Square,
}

/// The name the passive analyzer uses for [`Config`].
pub type TextureConfig = Config;
/// The name the passive analyzer uses for [`FrameFeatures`].
pub type TextureFrame = FrameFeatures;

/// One model of the texture signal: its manifest name, its crop and the class that means
/// "live" (bona fide).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TextureModel {
    /// Manifest name.
    pub name: String,
    /// Crop side over the face box side (range 1–5).
    pub scale: f32,
    /// Index of the class that means "live", 0..=2.
    pub live_class: usize,
}

impl TextureModel {
    /// MiniFASNet V2 (Silent-Face): 2.7× crop, class 1 = real (its published interface).
    pub fn minifasnet_v2() -> TextureModel {
        TextureModel {
            name: "minifasnet_v2".into(),
            scale: 2.7,
            live_class: 1,
        }
    }

    /// MiniFASNet V1SE (Silent-Face): 4.0× crop, class 1 = real.
    pub fn minifasnet_v1se() -> TextureModel {
        TextureModel {
            name: "minifasnet_v1se".into(),
            scale: 4.0,
            live_class: 1,
        }
    }

    /// `fr_liveness` (faceplugin npm package): 2.7× crop, BGR input (manifest), class 0 =
    /// live. Both measured on real attack photos and real video (docs/passive.md): read as
    /// RGB with class 1, real prints scored 0.998.
    pub fn fr_liveness() -> TextureModel {
        TextureModel {
            name: "fr_liveness".into(),
            scale: DEFAULT_SCALE,
            live_class: 0,
        }
    }
}

/// Settings of the texture signal.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Config {
    /// Crop mode (default `ClampedToImage`, MiniFASNet's; module docs).
    pub crop: CropMode,
    /// The preferred models, scored together (default MiniFASNet V2 + V1SE, Silent-Face's
    /// two-model fusion: the frame's live probability is the members' mean).
    pub models: Vec<TextureModel>,
    /// Used when any preferred model cannot be loaded (default `fr_liveness`); the report
    /// then names the model and says why in its note.
    pub fallback: Vec<TextureModel>,
    /// Frames whose face box's longer side is below this (pixels, default 40) are left out:
    /// the 2.7× crop would be upsampled into the input.
    pub min_face_px: f32,
    /// Fewest usable frames for a score (default 1: the CNN scores single frames).
    pub min_frames: usize,
    /// Window length: only the last `max_frames` frames are scored (default 30).
    pub max_frames: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            crop: CropMode::ClampedToImage,
            models: vec![
                TextureModel::minifasnet_v2(),
                TextureModel::minifasnet_v1se(),
            ],
            fallback: vec![TextureModel::fr_liveness()],
            min_face_px: 40.0,
            min_frames: 1,
            max_frames: 30,
        }
    }
}

fn check_range(
    name: &'static str,
    value: f64,
    lo: f64,
    hi: f64,
    expected: &'static str,
) -> Result<(), TextureError> {
    if value.is_finite() && value >= lo && value <= hi {
        Ok(())
    } else {
        Err(TextureError::InvalidConfig {
            name,
            value,
            expected,
        })
    }
}

impl TextureModel {
    /// Checks the scale and the live class.
    pub fn validate(&self) -> Result<(), TextureError> {
        check_range("scale", self.scale as f64, 1.0, 5.0, "in [1, 5]")?;
        check_range(
            "live_class",
            self.live_class as f64,
            0.0,
            (NUM_CLASSES - 1) as f64,
            "a class index in 0..=2",
        )
    }
}

impl Config {
    /// Checks every field; the first bad one is the error.
    pub fn validate(&self) -> Result<(), TextureError> {
        for m in self.models.iter().chain(&self.fallback) {
            m.validate()?;
        }
        check_range(
            "min_face_px",
            self.min_face_px as f64,
            0.0,
            10_000.0,
            "pixels in [0, 10000]",
        )?;
        check_range(
            "min_frames",
            self.min_frames as f64,
            1.0,
            10_000.0,
            "in 1..=10000",
        )?;
        check_range(
            "max_frames",
            self.max_frames as f64,
            self.min_frames as f64,
            10_000.0,
            "in min_frames..=10000",
        )
    }
}

/// One frame's classifier output.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FrameFeatures {
    /// The live probability of each model, in the classifier's model order (NaN when the
    /// face was too small to be measured).
    pub member_live: Vec<f32>,
    /// Longer side of the face box, image pixels.
    pub face_px: f32,
}

impl FrameFeatures {
    /// The frame's live probability: the mean over the models (Silent-Face's fusion: the
    /// summed softmax over the number of models).
    pub fn live(&self) -> f32 {
        if self.member_live.is_empty() {
            return f32::NAN;
        }
        self.member_live.iter().sum::<f32>() / self.member_live.len() as f32
    }
}

/// The model's input format, read from its manifest entry by [`check_spec`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct InputFormat {
    /// Input side, pixels.
    pub size: u32,
    /// Normalisation in RGB order (0–255 scale).
    pub norm: Normalize,
    /// The model wants B, G, R planes (the RGB tensor's first and last planes are swapped).
    pub bgr: bool,
}

/// Checks that `spec` declares one `[1, 3, S, S]` NCHW input and one `[1, 3]` output, and
/// reads the input format. The `preprocess` entry is required; its mean and std are in the
/// tensor's channel order.
pub fn check_spec(spec: &ModelSpec) -> Result<InputFormat, TextureError> {
    let err = |what: String| TextureError::Interface {
        model: spec.name.clone(),
        what,
    };
    let dim_ok = |d: i64, want: i64| d < 0 || d == want;
    let size = match spec.inputs.as_slice() {
        [i] if i.shape.len() == 4 && dim_ok(i.shape[0], 1) && dim_ok(i.shape[1], 3) => {
            match (i.shape[2], i.shape[3]) {
                (h, w) if h < 0 && w < 0 => DEFAULT_INPUT_SIZE,
                (h, w) if h == w && (16..=1024).contains(&h) => h as u32,
                (h, w) => {
                    return Err(err(format!(
                        "input `{}` is {h}×{w}: expected a square side in 16..=1024 (or dynamic)",
                        i.name
                    )))
                }
            }
        }
        other => {
            return Err(err(format!(
                "inputs {:?}, expected one [1, 3, S, S]",
                other
                    .iter()
                    .map(|t| (&t.name, &t.shape))
                    .collect::<Vec<_>>()
            )))
        }
    };
    match spec.outputs.as_slice() {
        [o] if o.shape.len() == 2 && dim_ok(o.shape[0], 1) && dim_ok(o.shape[1], 3) => {}
        other => {
            return Err(err(format!(
                "outputs {:?}, expected one [1, 3] (logits)",
                other
                    .iter()
                    .map(|t| (&t.name, &t.shape))
                    .collect::<Vec<_>>()
            )))
        }
    }
    let p = spec
        .preprocess
        .as_ref()
        .ok_or_else(|| err("no `preprocess` entry: the input normalisation is unknown".into()))?;
    if !p.layout.eq_ignore_ascii_case("NCHW") {
        return Err(err(format!(
            "preprocess layout {}, expected NCHW",
            p.layout
        )));
    }
    let bgr = match p.colour.to_ascii_uppercase().as_str() {
        "RGB" => false,
        "BGR" => true,
        other => {
            return Err(err(format!(
                "preprocess colour {other}, expected RGB or BGR"
            )))
        }
    };
    if !(p.mean.iter().chain(&p.std).all(|v| v.is_finite()) && p.std.iter().all(|&s| s > 0.0)) {
        return Err(err(format!(
            "preprocess mean {:?} / std {:?}: expected finite values and std > 0",
            p.mean, p.std
        )));
    }
    let (mut mean, mut std) = (p.mean, p.std);
    if bgr {
        mean.reverse();
        std.reverse();
    }
    Ok(InputFormat {
        size,
        norm: Normalize::from_mean_std(mean, std),
        bgr,
    })
}

/// `src_from_dst` of the crop onto the `size × size` input, for an `image_w × image_h` image
/// (pixel-centre convention; module docs for the two modes). `Square`: the box centre lands on
/// the tensor centre and the square's edges on the tensor's edges `−0.5`, `size − 0.5`.
pub fn crop_transform(
    bbox: &Rect,
    image_w: u32,
    image_h: u32,
    size: u32,
    scale: f32,
    mode: CropMode,
) -> Result<Affine2, TextureError> {
    check_range("scale", scale as f64, 1.0, 5.0, "in [1, 5]")?;
    bbox.check_face_box()?;
    if size == 0 || image_w == 0 || image_h == 0 {
        return Err(FrameError::ZeroSize {
            what: "texture crop",
            width: image_w.min(size),
            height: image_h.min(size),
        }
        .into());
    }
    let n = size as f32;
    let c = bbox.center();
    match mode {
        CropMode::Square => {
            let s = scale * bbox.width().max(bbox.height()) / n;
            let half = 0.5 * (n - 1.0);
            Ok(Affine2::new([
                s,
                0.0,
                c.x - half * s,
                0.0,
                s,
                c.y - half * s,
            ]))
        }
        CropMode::ClampedToImage => {
            let (bw, bh) = (bbox.width(), bbox.height());
            let (iw, ih) = (image_w as f32, image_h as f32);
            let scale = scale.min((ih - 1.0) / bh).min((iw - 1.0) / bw).max(0.0);
            // One axis of `_get_new_box`: centre ± half the new side, shifted inside
            // [0, side − 1], then truncated to whole pixels.
            let axis = |centre: f32, len: f32, side: f32| -> (f32, f32) {
                let (mut lo, mut hi) = (centre - 0.5 * len, centre + 0.5 * len);
                if lo < 0.0 {
                    hi -= lo;
                    lo = 0.0;
                }
                if hi > side - 1.0 {
                    lo -= hi - side + 1.0;
                    hi = side - 1.0;
                }
                (lo.max(0.0).floor(), hi.max(0.0).floor())
            };
            let (x0, x1) = axis(c.x, bw * scale, iw);
            let (y0, y1) = axis(c.y, bh * scale, ih);
            // cv2.resize of the inclusive pixel block [x0, x1] × [y0, y1] onto size × size.
            let sx = (x1 - x0 + 1.0) / n;
            let sy = (y1 - y0 + 1.0) / n;
            Ok(Affine2::new([
                sx,
                0.0,
                0.5 * sx - 0.5 + x0,
                0.0,
                sy,
                0.5 * sy - 0.5 + y0,
            ]))
        }
    }
}

/// Fills `out` (`3 × S × S`, NCHW, in `fmt`'s colour order and normalisation) with the crop
/// of `rgb` around `bbox` (side `scale` × the box, cut as `mode` says); returns the crop's
/// `src_from_dst`.
pub fn preprocess(
    rgb: &RgbImage,
    bbox: &Rect,
    scale: f32,
    mode: CropMode,
    fmt: &InputFormat,
    out: &mut [f32],
) -> Result<Affine2, TextureError> {
    let m = crop_transform(bbox, rgb.width, rgb.height, fmt.size, scale, mode)?;
    // The clamped crop stays inside the image; its last half pixel reads the edge, as
    // cv2.resize does.
    let n = fmt.size;
    warp_affine_to_tensor(
        rgb,
        &m,
        n,
        n,
        SQUARE_BORDER,
        TensorLayout::Nchw,
        &fmt.norm,
        out,
    )?;
    if fmt.bgr {
        let plane = (n * n) as usize;
        let (r, rest) = out.split_at_mut(plane);
        r.swap_with_slice(&mut rest[plane..2 * plane]);
    }
    Ok(m)
}

/// Numerically stable softmax of the three logits (probabilities, sum 1).
pub fn softmax(logits: &[f32; NUM_CLASSES]) -> [f32; NUM_CLASSES] {
    let m = logits.iter().fold(f32::NEG_INFINITY, |a, &b| a.max(b));
    let e = logits.map(|l| (l - m).exp());
    let sum: f32 = e.iter().sum();
    e.map(|v| v / sum)
}

/// Checks the model output (`[1, 3]`, finite) and returns the class probabilities.
pub fn postprocess(out: &TensorOut) -> Result<[f32; NUM_CLASSES], TextureError> {
    if out.shape.as_slice() != [1, NUM_CLASSES] || out.data.len() != NUM_CLASSES {
        return Err(TextureError::OutputShape {
            got: out.shape.clone(),
            len: out.data.len(),
        });
    }
    if let Some(index) = out.data.iter().position(|v| !v.is_finite()) {
        return Err(TextureError::NonFiniteOutput { index });
    }
    Ok(softmax(&[out.data[0], out.data[1], out.data[2]]))
}

/// The window score (pure): the mean live probability ([`FrameFeatures::live`]) over the
/// last [`Config::max_frames`] frames whose face is at least [`Config::min_face_px`].
/// Features: `live_mean`, `live_min`, `live_std`, each model's `model{i}_live_mean` (in the
/// classifier's order, named by the report's `model`), `models`, and frame counts.
pub fn score(frames: &[FrameFeatures], cfg: &Config) -> SignalReport {
    if let Err(e) = cfg.validate() {
        return SignalReport::unavailable(e);
    }
    let window = &frames[frames.len().saturating_sub(cfg.max_frames)..];
    let usable: Vec<&FrameFeatures> = window
        .iter()
        .filter(|f| f.face_px >= cfg.min_face_px && f.live().is_finite())
        .collect();
    let mut features = BTreeMap::new();
    features.insert("frames".to_string(), window.len() as f64);
    features.insert("usable_frames".to_string(), usable.len() as f64);
    if usable.len() < cfg.min_frames {
        let small = window
            .iter()
            .filter(|f| f.face_px < cfg.min_face_px)
            .count();
        let reason = super::too_few_frames(
            window.len(),
            usable.len(),
            cfg.min_frames,
            small,
            format_args!("a face box under {} px", cfg.min_face_px),
        );
        return SignalReport::unavailable(reason).with_features(features);
    }
    let n = usable.len() as f64;
    let members = usable[0].member_live.len();
    features.insert("models".to_string(), members as f64);
    let live: Vec<f64> = usable.iter().map(|f| f.live() as f64).collect();
    let mean = live.iter().sum::<f64>() / n;
    let std = (live.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / n).sqrt();
    features.insert("live_mean".to_string(), mean);
    features.insert("live_std".to_string(), std);
    features.insert(
        "live_min".to_string(),
        live.iter().copied().fold(f64::INFINITY, f64::min),
    );
    for k in 0..members {
        let m = usable
            .iter()
            .map(|f| f.member_live.get(k).copied().unwrap_or(f32::NAN) as f64)
            .sum::<f64>()
            / n;
        features.insert(format!("model{k}_live_mean"), m);
    }
    SignalReport::scored(mean as f32, features)
}

/// One loaded model of the classifier with its buffers.
struct Member {
    model: TextureModel,
    runner: Arc<dyn ModelRunner>,
    fmt: InputFormat,
    input: Vec<f32>,
}

/// Runs the texture CNN(s) on one frame at a time, reusing the input and output buffers.
pub struct TextureClassifier {
    members: Vec<Member>,
    cfg: Config,
    outputs: Vec<TensorOut>,
}

impl std::fmt::Debug for TextureClassifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TextureClassifier")
            .field("models", &self.model_label())
            .field("cfg", &self.cfg)
            .finish()
    }
}

impl TextureClassifier {
    /// Validates `cfg` and each model, and reads each input format from its runner's spec
    /// ([`check_spec`]). `models` pairs each model's settings with its loaded runner.
    pub fn new(
        models: Vec<(TextureModel, Arc<dyn ModelRunner>)>,
        cfg: Config,
    ) -> Result<TextureClassifier, TextureError> {
        cfg.validate()?;
        if models.is_empty() {
            return Err(TextureError::Interface {
                model: String::new(),
                what: "no texture model given".into(),
            });
        }
        let mut members = Vec::with_capacity(models.len());
        for (model, runner) in models {
            model.validate()?;
            let fmt = check_spec(runner.spec())?;
            let n = fmt.size as usize;
            members.push(Member {
                model,
                runner,
                fmt,
                input: vec![0.0; 3 * n * n],
            });
        }
        Ok(TextureClassifier {
            members,
            cfg,
            outputs: Vec::new(),
        })
    }

    /// The settings in use.
    pub fn config(&self) -> &Config {
        &self.cfg
    }

    /// The models' manifest names, `+`-joined, in the order of `model{i}_live_mean`.
    pub fn model_label(&self) -> String {
        let names: Vec<&str> = self.members.iter().map(|m| m.model.name.as_str()).collect();
        names.join("+")
    }

    /// True when any model is a project-made stand-in.
    pub fn uses_stand_in(&self) -> bool {
        self.members.iter().any(|m| m.runner.spec().stand_in)
    }

    /// The input format of the first model (read from its spec).
    pub fn input_format(&self) -> &InputFormat {
        &self.members[0].fmt
    }

    /// One frame: per model, crop → model → probabilities → the live class's probability.
    /// Only the face box of `face` is used. A face box under [`Config::min_face_px`] is not
    /// run (it would be left out of the window anyway): its probabilities are NaN.
    pub fn process(
        &mut self,
        rgb: &RgbImage,
        face: &FaceGeometry<'_>,
    ) -> Result<FrameFeatures, TextureError> {
        face.bbox.check_face_box()?;
        let face_px = face.bbox.width().max(face.bbox.height());
        if face_px < self.cfg.min_face_px {
            return Ok(FrameFeatures {
                member_live: vec![f32::NAN; self.members.len()],
                face_px,
            });
        }
        let mut member_live = Vec::with_capacity(self.members.len());
        for m in &mut self.members {
            preprocess(
                rgb,
                &face.bbox,
                m.model.scale,
                self.cfg.crop,
                &m.fmt,
                &mut m.input,
            )?;
            let n = m.fmt.size as usize;
            m.runner
                .run_one_prechecked(&m.input, &[1, 3, n, n], &mut self.outputs)?;
            let out = self.outputs.first().ok_or(TextureError::OutputCount {
                got: self.outputs.len(),
            })?;
            member_live.push(postprocess(out)?[m.model.live_class]);
        }
        Ok(FrameFeatures {
            member_live,
            face_px,
        })
    }
}
