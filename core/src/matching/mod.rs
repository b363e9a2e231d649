//! Face verification: is the live face the enrolled person?
//!
//! - [`align`]: five points (eye centres, nose tip, mouth corners) from FaceMesh or a
//!   five-point detector, Umeyama similarity to the ArcFace 112×112 template.
//! - [`embed`]: any ArcFace-interface ONNX model from the manifest (512-d `fr_feature`,
//!   192-d MobileFaceNet with its batch fixed at 2, or a user's InsightFace file by path and
//!   sha256), L2-normalised.
//! - [`template`]: enrolment templates (embedding + model id and sha256 + format version +
//!   quality; never the image); comparing across models is an error.
//! - Matching: cosine similarity into `match` / `uncertain` / `no_match` bands from per-tenant
//!   [`MatchThresholds`], and [`FaceContinuity`] for active liveness.

pub mod align;
pub mod embed;
pub mod template;

use alloc::string::String;

use serde::{Deserialize, Serialize};

pub use align::{five_points_from_detection, five_points_from_mesh, umeyama, FivePoints};
pub use embed::{Embedder, Embedding};
pub use template::{cosine, FaceTemplate, Sample};

/// Errors of face verification.
#[derive(Debug, thiserror::Error)]
pub enum MatchError {
    #[error("alignment: degenerate points: {0}")]
    Degenerate(String),
    #[error("alignment: the detector gave {got} keypoints; five-point alignment needs eyes, nose tip and both mouth corners (SCRFD), or FaceMesh landmarks")]
    Keypoints { got: usize },
    #[error("embedding model `{model}`: {why}")]
    Model { model: String, why: String },
    #[error("templates from different models cannot be compared: {a} vs {b}")]
    ModelMismatch { a: String, b: String },
    #[error("enrolment needs at least one sample")]
    NoSamples,
    #[error("sample quality {0} is not in [0, 1]")]
    Quality(f32),
    #[error("invalid template: {0}")]
    Template(String),
    #[error("invalid thresholds: {0}")]
    Thresholds(String),
    #[error(transparent)]
    Frame(#[from] crate::frame::FrameError),
    #[error(transparent)]
    Runtime(#[from] crate::models::ModelError),
}

/// Where a similarity falls.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Band {
    Match,
    Uncertain,
    NoMatch,
}

/// A tenant's thresholds for one embedding model: `match` at or above `match_at`, `no_match`
/// below `no_match_below`, `uncertain` between.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct MatchThresholds {
    pub match_at: f32,
    pub no_match_below: f32,
}

impl MatchThresholds {
    pub fn new(match_at: f32, no_match_below: f32) -> Result<MatchThresholds, MatchError> {
        let t = MatchThresholds {
            match_at,
            no_match_below,
        };
        t.validate()?;
        Ok(t)
    }

    pub fn validate(&self) -> Result<(), MatchError> {
        let ok = |v: f32| v.is_finite() && (-1.0..=1.0).contains(&v);
        if !(ok(self.match_at) && ok(self.no_match_below)) || self.no_match_below > self.match_at {
            return Err(MatchError::Thresholds(alloc::format!(
                "match_at {} and no_match_below {} must be in [-1, 1] with no_match_below ≤ \
                 match_at",
                self.match_at,
                self.no_match_below
            )));
        }
        Ok(())
    }

    /// The band of a cosine similarity (a non-finite one is `no_match`).
    pub fn band(&self, similarity: f32) -> Band {
        if !similarity.is_finite() || similarity < self.no_match_below {
            Band::NoMatch
        } else if similarity >= self.match_at {
            Band::Match
        } else {
            Band::Uncertain
        }
    }
}

/// Checks that the face during an active challenge is the face it started with: each
/// embedding is compared with the first, and a similarity below `min_similarity` reports the
/// change (for [`crate::active::ChallengeRunner::face_changed`]).
#[derive(Clone, Debug)]
pub struct FaceContinuity {
    reference: Option<Embedding>,
    min_similarity: f32,
    lowest: f32,
}

impl FaceContinuity {
    pub fn new(min_similarity: f32) -> Result<FaceContinuity, MatchError> {
        if !(min_similarity.is_finite() && (-1.0..=1.0).contains(&min_similarity)) {
            return Err(MatchError::Thresholds(alloc::format!(
                "continuity min_similarity {min_similarity} must be in [-1, 1]"
            )));
        }
        Ok(FaceContinuity {
            reference: None,
            min_similarity,
            lowest: 1.0,
        })
    }

    /// Adds a frame's embedding. `Ok(Some(reason))` when it is not the starting face;
    /// embeddings from another model are an error.
    pub fn check(&mut self, e: &Embedding) -> Result<Option<String>, MatchError> {
        let Some(r) = &self.reference else {
            self.reference = Some(e.clone());
            return Ok(None);
        };
        if r.model != e.model
            || r.model_sha256 != e.model_sha256
            || r.vector.len() != e.vector.len()
        {
            return Err(MatchError::ModelMismatch {
                a: r.model.clone(),
                b: e.model.clone(),
            });
        }
        let s = cosine(&r.vector, &e.vector);
        self.lowest = self.lowest.min(s);
        Ok((s < self.min_similarity).then(|| {
            alloc::format!(
                "embedding similarity {s:.2} to the starting face < {:.2}",
                self.min_similarity
            )
        }))
    }

    /// Lowest similarity to the starting face so far.
    pub fn lowest(&self) -> f32 {
        self.lowest
    }
}

#[cfg(test)]
mod tests;
