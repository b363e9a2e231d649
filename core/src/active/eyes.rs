//! Eye state (open / closed) from the eye's appearance, for blinks.
//!
//! FaceMesh's eyelid landmarks barely follow a blink (on rendered blinks the eye aspect ratio
//! drops only 8–12 %: its lids do not close), so the runner also asks an eye-state classifier:
//! `fr_eye.onnx` from the manifest (npm `faceplugin-face-recognition-js`, grey 24×24 in [0, 1]
//! → 2 logits).
//!
//! **Pre-processing** (the package's own `fr_eye.js`, with FaceMesh points in place of its
//! 106-point landmarks): per eye, a square, axis-aligned crop centred on the mean of the two
//! corners and the two mid-lid points, of side 1.6 × the corner distance; bilinear resize to
//! 24×24 (pixel-centre aligned, as OpenCV's `resize`); luma `0.299 R + 0.587 G + 0.114 B`;
//! ÷ 255. Pixels outside the frame repeat the border.
//!
//! **Which class is "closed"** was measured, not assumed (`docs/active.md`): on the three real
//! portraits (eyes open) class 0 has probability 0.00 for every eye; on synthetic blinks it
//! rises to 0.88–1.00 while the lids are shut. Class 0 = closed.

use alloc::sync::Arc;
use alloc::vec::Vec;

use serde::Serialize;

use crate::error::{Error, Result};
use crate::frame::Upright;
use crate::geometry::Point3;
use crate::mesh::Landmarks;
use crate::models::{ModelRunner, TensorOut};

/// Input side, pixels.
pub const SIDE: usize = 24;
/// Crop side over the eye-corner distance.
pub const PADDING: f32 = 1.6;
/// Output class that means "closed".
pub const CLOSED_CLASS: usize = 0;

/// FaceMesh points per eye: outer corner, inner corner, upper-lid middle, lower-lid middle.
const RIGHT_EYE: [usize; 4] = [33, 133, 159, 145];
const LEFT_EYE: [usize; 4] = [362, 263, 386, 374];

/// Closed-eye probabilities of one frame.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct EyeState {
    /// Subject's right eye (image-left), left eye; each in [0, 1].
    pub right_closed: f32,
    pub left_closed: f32,
}

impl EyeState {
    /// Mean of both eyes (a blink closes both).
    pub fn closed(&self) -> f32 {
        0.5 * (self.right_closed + self.left_closed)
    }
}

/// The eye-state classifier.
#[derive(Clone)]
pub struct EyeStateModel {
    runner: Arc<dyn ModelRunner>,
}

impl core::fmt::Debug for EyeStateModel {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "EyeStateModel({})", self.runner.spec().name)
    }
}

impl EyeStateModel {
    /// Wraps a loaded model; its declared interface must be `[1, 1, 24, 24]` → `[1, 2]`.
    pub fn new(runner: Arc<dyn ModelRunner>) -> Result<EyeStateModel> {
        let spec = runner.spec();
        let ok = spec.inputs.len() == 1
            && spec.outputs.len() == 1
            && spec.inputs[0].shape == [1, 1, SIDE as i64, SIDE as i64]
            && spec.outputs[0].shape == [1, 2];
        if !ok {
            return Err(Error::Config(alloc::format!(
                "eye-state model `{}`: expected one [1, 1, 24, 24] input and one [1, 2] output",
                spec.name
            )));
        }
        Ok(EyeStateModel { runner })
    }

    /// The model's runner (its spec names the file and sha256).
    pub fn runner(&self) -> &Arc<dyn ModelRunner> {
        &self.runner
    }

    /// Loads the manifest's `fr_eye` through ONNX Runtime with the engine's model folder,
    /// runtime and overrides (sha256 and interface checked).
    #[cfg(feature = "ort")]
    pub fn load(engine: &crate::perception::EngineConfig) -> Result<EyeStateModel> {
        Self::load_from(&*crate::models::ModelStore::shared(engine)?)
    }

    /// The manifest's `fr_eye` from a model store (loaded once, shared with other stages).
    pub fn load_from(store: &crate::models::ModelStore) -> Result<EyeStateModel> {
        Self::new(store.get("fr_eye")?)
    }

    /// Closed-eye probabilities for the face with these landmarks on `rgb`. Errors: a buffer
    /// that does not match its size, eyes too small to crop (corner distance under 2 pixels),
    /// the model's errors.
    pub fn predict<'a>(
        &self,
        rgb: impl Into<Upright<'a>>,
        landmarks: &Landmarks,
    ) -> Result<EyeState> {
        self.predict_with(rgb, landmarks, &mut EyeScratch::default())
    }

    /// [`Self::predict`] with the crop and output buffers of `scratch`, reused from call to
    /// call (no allocation once they have grown).
    pub fn predict_with<'a>(
        &self,
        rgb: impl Into<Upright<'a>>,
        landmarks: &Landmarks,
        scratch: &mut EyeScratch,
    ) -> Result<EyeState> {
        let rgb = rgb.into();
        check_eye_input("eye state", &rgb)?;
        let EyeScratch { input, outputs } = scratch;
        let mut closed = [0.0f32; 2];
        for (k, eye) in [RIGHT_EYE, LEFT_EYE].iter().enumerate() {
            eye_crop(rgb, landmarks, eye, input)?;
            // The crop is finite by construction (8-bit luma / 255 at finite positions,
            // `eye_crop` refuses non-finite landmarks): no finiteness scan.
            self.runner
                .run_one_prechecked(input, &[1, 1, SIDE, SIDE], outputs)?;
            let out = outputs.first().map(|o| o.data.as_slice()).unwrap_or(&[]);
            if out.len() != 2 || !out.iter().all(|v| v.is_finite()) {
                return Err(Error::ModelOutput(alloc::format!(
                    "eye state: model output {out:?}, expected 2 finite logits"
                )));
            }
            // Softmax of two logits.
            let m = out[0].max(out[1]);
            let e = [libm::expf(out[0] - m), libm::expf(out[1] - m)];
            closed[k] = e[CLOSED_CLASS] / (e[0] + e[1]);
        }
        Ok(EyeState {
            right_closed: closed[0],
            left_closed: closed[1],
        })
    }
}

/// The reusable buffers of [`EyeStateModel::predict_with`].
#[derive(Clone, Debug, Default)]
pub struct EyeScratch {
    input: Vec<f32>,
    outputs: Vec<TensorOut>,
}

/// The 24×24 luma crop of one eye, in [0, 1], row-major, into `out`. Errors (never panics)
/// when an index of `eye` is not a FaceMesh landmark index.
pub fn eye_crop<'a>(
    rgb: impl Into<Upright<'a>>,
    landmarks: &Landmarks,
    eye: &[usize; 4],
    out: &mut Vec<f32>,
) -> Result<()> {
    let mut p = [Point3::default(); 4];
    for (q, &i) in p.iter_mut().zip(eye) {
        *q = *landmarks.get(i).ok_or_else(|| {
            Error::InvalidInput(alloc::format!(
                "eye state: landmark index {i}, expected < {}",
                crate::mesh::NUM_LANDMARKS
            ))
        })?;
    }
    let cx = p.iter().map(|q| q.x).sum::<f32>() / 4.0;
    let cy = p.iter().map(|q| q.y).sum::<f32>() / 4.0;
    let corner = libm::hypotf(p[1].x - p[0].x, p[1].y - p[0].y);
    if !(cx.is_finite() && cy.is_finite() && corner.is_finite()) {
        return Err(Error::InvalidInput(
            "eye state: non-finite eye landmarks".into(),
        ));
    }
    if corner < 2.0 {
        return Err(Error::InvalidInput(alloc::format!(
            "eye state: eye {corner:.1} px wide is too small to classify"
        )));
    }
    let side = corner * PADDING;
    let (x0, y0) = (cx - 0.5 * side, cy - 0.5 * side);
    let scale = side / SIDE as f32;
    let rgb = rgb.into();
    let luma = |x: i64, y: i64| -> f32 {
        let [r, g, b] = rgb.rgb_clamped(x, y);
        0.299 * r as f32 + 0.587 * g as f32 + 0.114 * b as f32
    };
    out.clear();
    for j in 0..SIDE {
        // Pixel-centre aligned, as OpenCV's bilinear resize.
        let sy = y0 + (j as f32 + 0.5) * scale - 0.5;
        let (yi, fy) = (libm::floorf(sy) as i64, sy - libm::floorf(sy));
        for i in 0..SIDE {
            let sx = x0 + (i as f32 + 0.5) * scale - 0.5;
            let (xi, fx) = (libm::floorf(sx) as i64, sx - libm::floorf(sx));
            let top = luma(xi, yi) * (1.0 - fx) + luma(xi + 1, yi) * fx;
            let bottom = luma(xi, yi + 1) * (1.0 - fx) + luma(xi + 1, yi + 1) * fx;
            out.push((top * (1.0 - fy) + bottom * fy) / 255.0);
        }
    }
    Ok(())
}

/// The check every eye model's input needs: an RGB buffer that matches its size. `what` names
/// the model in the message.
pub(crate) fn check_eye_input(what: &str, rgb: &Upright<'_>) -> Result<()> {
    let Some(img) = rgb.image() else {
        return Ok(()); // a frame was checked when it was built
    };
    let expected = (img.width as usize)
        .checked_mul(img.height as usize)
        .and_then(|v| v.checked_mul(3));
    if expected != Some(img.data.len()) || img.width == 0 || img.height == 0 {
        return Err(Error::InvalidInput(alloc::format!(
            "{what}: RGB image {}×{} has {} bytes",
            img.width,
            img.height,
            img.data.len()
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::RgbImage;

    #[test]
    fn crop_is_bilinear_centred_and_border_repeating() {
        // A horizontal ramp: luma = x (grey pixels), eye corners 20 px apart around (50, 40).
        let (w, h) = (100u32, 80u32);
        let data: Vec<u8> = (0..h)
            .flat_map(|_| (0..w).flat_map(|x| [x as u8; 3]))
            .collect();
        let rgb = RgbImage {
            width: w,
            height: h,
            data,
        };
        let mut lm = alloc::vec![Point3 { x: 50.0, y: 40.0, z: 0.0 }; 468];
        lm[33].x = 40.0;
        lm[133].x = 60.0;
        let mut out = Vec::new();
        let checked = |lm: &Vec<Point3>| Landmarks::new(lm.clone()).unwrap();
        eye_crop(&rgb, &checked(&lm), &RIGHT_EYE, &mut out).unwrap();
        assert_eq!(out.len(), SIDE * SIDE);
        // Side 32 px from x = 34 to 66: sample centres at 34 + (i + 0.5) * 4/3 - 0.5.
        for i in [0usize, 11, 23] {
            let want = (34.0 + (i as f32 + 0.5) * 32.0 / 24.0 - 0.5) / 255.0;
            assert!((out[5 * SIDE + i] - want).abs() < 1e-5, "{i}");
        }
        // Near the frame's edge the border repeats (no panic, no wrap).
        lm[33].x = 0.0;
        lm[133].x = 20.0;
        lm[159].x = 10.0;
        lm[145].x = 10.0;
        eye_crop(&rgb, &checked(&lm), &RIGHT_EYE, &mut out).unwrap();
        assert_eq!(out[0], 0.0);
        // A degenerate eye is an error (non-finite points cannot reach here: `Landmarks`).
        lm[133].x = 0.5;
        assert!(eye_crop(&rgb, &checked(&lm), &RIGHT_EYE, &mut out).is_err());
    }

    #[test]
    fn eye_crop_of_an_index_past_the_mesh_is_an_error_not_a_panic() {
        let rgb = RgbImage {
            width: 8,
            height: 8,
            data: alloc::vec![0; 8 * 8 * 3],
        };
        let mut out = Vec::new();
        let lm = Landmarks::new(alloc::vec![Point3::default(); 468]).unwrap();
        for i in [468usize, 1000] {
            let eye = [33, 133, 159, i];
            let e = eye_crop(&rgb, &lm, &eye, &mut out).unwrap_err();
            assert!(matches!(e, Error::InvalidInput(_)), "{i}: {e}");
            assert!(e.to_string().contains("expected < 468"), "{e}");
        }
    }
}
