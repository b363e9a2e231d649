//! Enrolment templates: an embedding with its provenance, never the image.

use alloc::string::{String, ToString};
use alloc::vec::Vec;

use serde::{Deserialize, Serialize};

use super::embed::{normalised, Embedding};
use super::MatchError;

/// Format version of [`FaceTemplate`]; bumped on any change to its meaning or fields.
pub const TEMPLATE_FORMAT: u32 = 1;

/// An enrolled face: the (L2-normalised) embedding, the model that made it, and the
/// enrolment's quality. Serialises with fixed field order (serde; JSON in the CLI).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FaceTemplate {
    pub format: u32,
    /// Manifest name and sha256 of the embedding model: templates compare only within one.
    pub model: String,
    pub model_sha256: String,
    pub embedding: Vec<f32>,
    /// Mean quality (in [0, 1]) of the frames averaged into the template.
    pub quality: f32,
    /// Frames averaged.
    pub frames: u32,
}

/// One enrolment sample: an embedding and the capture quality of its frame, in [0, 1]
/// (the caller's measure, e.g. the quality gate's).
#[derive(Clone, Debug)]
pub struct Sample {
    pub embedding: Embedding,
    pub quality: f32,
}

impl FaceTemplate {
    /// Enrols from several frames: the `best` highest-quality samples (ties: earlier first)
    /// are averaged and re-normalised. Errors: no samples, a quality outside [0, 1], samples
    /// from different models or of different lengths.
    pub fn enrol(samples: &[Sample], best: usize) -> Result<FaceTemplate, MatchError> {
        let first = samples.first().ok_or(MatchError::NoSamples)?;
        for s in samples {
            if !(0.0..=1.0).contains(&s.quality) {
                return Err(MatchError::Quality(s.quality));
            }
            check_same(
                (
                    &first.embedding.model,
                    &first.embedding.model_sha256,
                    first.embedding.vector.len(),
                ),
                (
                    &s.embedding.model,
                    &s.embedding.model_sha256,
                    s.embedding.vector.len(),
                ),
            )?;
        }
        let mut order: Vec<usize> = (0..samples.len()).collect();
        order.sort_by(|&a, &b| {
            samples[b]
                .quality
                .total_cmp(&samples[a].quality)
                .then(a.cmp(&b))
        });
        order.truncate(best.max(1));
        let dim = first.embedding.vector.len();
        let mut sum = alloc::vec![0.0f32; dim];
        let mut q = 0.0;
        for &i in &order {
            for (a, b) in sum.iter_mut().zip(&samples[i].embedding.vector) {
                *a += b;
            }
            q += samples[i].quality;
        }
        let embedding = normalised(&sum).ok_or_else(|| MatchError::Model {
            model: first.embedding.model.clone(),
            why: "the averaged embedding is zero (opposite embeddings)".into(),
        })?;
        Ok(FaceTemplate {
            format: TEMPLATE_FORMAT,
            model: first.embedding.model.clone(),
            model_sha256: first.embedding.model_sha256.clone(),
            embedding,
            quality: q / order.len() as f32,
            frames: order.len() as u32,
        })
    }

    /// Checks a deserialised template: known format, finite unit-length embedding, a quality
    /// in [0, 1] and at least one frame. (A quality read from JSON as a number too large for
    /// an f32 becomes infinite, and would be written back as `null`: found by the
    /// `face_template` fuzz target.)
    pub fn validate(&self) -> Result<(), MatchError> {
        if self.format != TEMPLATE_FORMAT {
            return Err(MatchError::Template(alloc::format!(
                "format {} (this build reads {TEMPLATE_FORMAT})",
                self.format
            )));
        }
        let n: f32 = self.embedding.iter().map(|x| x * x).sum::<f32>().sqrt();
        if self.embedding.is_empty() || !n.is_finite() || (n - 1.0).abs() > 1e-3 {
            return Err(MatchError::Template(alloc::format!(
                "embedding of {} values with norm {n} (expected unit length)",
                self.embedding.len()
            )));
        }
        if !(0.0..=1.0).contains(&self.quality) {
            return Err(MatchError::Template(alloc::format!(
                "quality {} (expected in [0, 1])",
                self.quality
            )));
        }
        if self.frames == 0 {
            return Err(MatchError::Template(
                "0 frames averaged (an enrolment has at least one)".to_string(),
            ));
        }
        Ok(())
    }

    /// Cosine similarity with an embedding from the same model (both unit length).
    pub fn similarity(&self, e: &Embedding) -> Result<f32, MatchError> {
        check_same(
            (&self.model, &self.model_sha256, self.embedding.len()),
            (&e.model, &e.model_sha256, e.vector.len()),
        )?;
        Ok(cosine(&self.embedding, &e.vector))
    }

    /// Cosine similarity with another template from the same model.
    pub fn similarity_to(&self, other: &FaceTemplate) -> Result<f32, MatchError> {
        check_same(
            (&self.model, &self.model_sha256, self.embedding.len()),
            (&other.model, &other.model_sha256, other.embedding.len()),
        )?;
        Ok(cosine(&self.embedding, &other.embedding))
    }
}

fn check_same(
    a: (&String, &String, usize),
    b: (&String, &String, usize),
) -> Result<(), MatchError> {
    if a.0 != b.0 || a.1 != b.1 || a.2 != b.2 {
        return Err(MatchError::ModelMismatch {
            a: alloc::format!("{} ({}, {}-d)", a.0, short(a.1), a.2),
            b: alloc::format!("{} ({}, {}-d)", b.0, short(b.1), b.2),
        });
    }
    Ok(())
}

fn short(sha: &str) -> String {
    sha.get(..12).unwrap_or(sha).to_string()
}

/// Cosine of two unit vectors of one length, clamped to [−1, 1].
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let d: f64 = a.iter().zip(b).map(|(x, y)| *x as f64 * *y as f64).sum();
    (d as f32).clamp(-1.0, 1.0)
}
