//! Calibration: every signal's raw score becomes a calibrated log-likelihood ratio (LLR).
//!
//! One score currency for fusion: `LLR = ln p(score | bona fide) / p(score | attack)` (natural
//! log; positive = evidence for bona fide), so that independent signals add. Two maps, both
//! with scikit-learn's semantics and checked against it (`tests/tests/calibration_parity.rs`):
//! Platt scaling ([`platt`], the default) and isotonic regression ([`isotonic`], only with at
//! least [`ISOTONIC_MIN_SAMPLES`] calibration samples). A map gives the posterior `p` on the
//! calibration set; the set's prior log-odds are removed: `LLR = logit(p) − ln(N₊/N₋)`, and the
//! LLR is clamped to ±[`LLR_LIMIT`]. Parameters live in a versioned [`CalibrationBundle`], per
//! signal and model. [`metrics`] holds Cllr, minCllr, ECE and Brier for the evaluation.
//!
//! Pure math: no_std + alloc (`libm`), deterministic; JSON and sha256 need the `std` feature.
//! Design notes: `docs/calibration.md`.

use alloc::string::String;

mod bundle;
pub mod isotonic;
pub mod metrics;
pub mod platt;

#[cfg(test)]
mod tests;

pub use bundle::{BundleEntry, CalibrationBundle, BUNDLE_SCHEMA_VERSION};
pub use isotonic::Isotonic;
pub use platt::Platt;

use serde::{Deserialize, Serialize};

/// The LLR is clamped to ±10 (natural log): isotonic posteriors reach 0 and 1 at the ends of
/// the fitted range, and no single signal should outweigh e¹⁰ ≈ 22,000 : 1.
pub const LLR_LIMIT: f64 = 10.0;

/// Isotonic regression only from this many calibration samples (both classes together); Platt
/// scaling below it (scikit-learn's docs: isotonic overfits with ≪ 1,000 samples).
pub const ISOTONIC_MIN_SAMPLES: usize = 1000;

/// Errors of calibration. Each says what was wrong and what was expected.
#[derive(Debug, thiserror::Error)]
pub enum CalibrationError {
    /// No samples at all.
    #[error("{what}: the set is empty, expected at least one bona fide and one attack sample")]
    Empty { what: &'static str },
    /// Scores and labels (or LLRs and labels) differ in length.
    #[error("{what}: {scores} scores but {labels} labels, expected one label per score")]
    LengthMismatch {
        what: &'static str,
        scores: usize,
        labels: usize,
    },
    /// Only one class is present.
    #[error("{what}: {n_pos} bona fide and {n_neg} attack samples, expected at least one of each")]
    OneClass {
        what: &'static str,
        n_pos: usize,
        n_neg: usize,
    },
    /// A score (or LLR) is NaN or infinite.
    #[error("{what}: value {index} is {value}, expected a finite number")]
    NonFinite {
        what: &'static str,
        index: usize,
        value: f64,
    },
    /// A probability is outside [0, 1] or not finite.
    #[error("{what}: probability {index} is {value}, expected a number in [0, 1]")]
    ProbabilityOutOfRange {
        what: &'static str,
        index: usize,
        value: f64,
    },
    /// Every score is the same value: there is nothing to calibrate.
    #[error(
        "{what}: all {n} scores equal {value}, expected at least two distinct scores (a \
         constant score carries no evidence)"
    )]
    ConstantScores {
        what: &'static str,
        n: usize,
        value: f64,
    },
    /// Platt's Newton iteration did not reach the minimum.
    #[error(
        "Platt fit did not converge after {iterations} Newton steps (A = {a}, B = {b}, \
         gradient {gradient:e}): expected a finite minimum of the smoothed cross-entropy"
    )]
    NotConverged {
        iterations: usize,
        a: f64,
        b: f64,
        gradient: f64,
    },
    /// A metric parameter is out of range (e.g. zero bins).
    #[error("{what} = {value} is invalid: expected {expected}")]
    InvalidArgument {
        what: &'static str,
        value: f64,
        expected: &'static str,
    },
    /// The raw score handed to a calibrator is NaN or infinite.
    #[error("raw score {value} for {key} is not finite: expected a finite number")]
    NonFiniteScore { key: String, value: f64 },
    /// No calibrator for this signal.
    #[error("the calibration bundle has no signal `{signal}`: it has {known}")]
    UnknownSignal { signal: String, known: String },
    /// The signal is known, but not with this model.
    #[error(
        "the calibration bundle has signal `{signal}` but not with model {model}: it has {known}"
    )]
    UnknownModel {
        signal: String,
        model: String,
        known: String,
    },
    /// A calibrator's parameters are inconsistent (from a file or built by hand).
    #[error("calibrator {key}: {what}")]
    BadParameters { key: String, what: String },
    /// The same signal + model appears twice in a bundle.
    #[error(
        "the calibration bundle lists {key} twice: expected one calibrator per signal + model"
    )]
    DuplicateEntry { key: String },
    /// The bundle was written for another schema.
    #[error("calibration bundle schema_version {got}: expected {expected}")]
    UnsupportedSchema { got: u32, expected: u32 },
    /// The bundle's sha256 is not the one expected (e.g. by the policy).
    #[error("calibration bundle sha256 {got}: expected {expected}")]
    HashMismatch { got: String, expected: String },
    /// The bundle is not valid JSON for the schema (unknown field, wrong type, ...).
    #[cfg(feature = "std")]
    #[error("calibration bundle JSON: {0}")]
    Json(#[from] serde_json::Error),
}

/// Which map a calibrator uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    Platt,
    Isotonic,
}

/// The fitted map from raw score to posterior log-odds on the calibration set.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "method", rename_all = "snake_case", deny_unknown_fields)]
pub enum ScoreMap {
    /// Platt: `P(bona fide | f) = 1 / (1 + exp(a·f + b))` (scikit-learn's A, B).
    Platt { a: f64, b: f64 },
    /// Isotonic: posteriors `p` at the increasing thresholds `x`, linear in between, clipped
    /// to `[x₀, xₙ₋₁]` outside (scikit-learn's `X_thresholds_`, `y_thresholds_`).
    Isotonic {
        x: alloc::vec::Vec<f64>,
        p: alloc::vec::Vec<f64>,
    },
}

/// One signal's calibrator: the map plus what it was fitted on (class counts, score range).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Calibrator {
    /// The map (its `method` tag says Platt or isotonic).
    pub map: ScoreMap,
    /// Bona fide samples in the calibration set.
    pub n_pos: u64,
    /// Attack samples in the calibration set.
    pub n_neg: u64,
    /// Lowest raw score seen at calibration.
    pub score_min: f64,
    /// Highest raw score seen at calibration.
    pub score_max: f64,
}

impl Calibrator {
    /// Platt scaling (scikit-learn's `_sigmoid_calibration`); bona fide = `true`.
    pub fn fit_platt(scores: &[f64], bona_fide: &[bool]) -> Result<Self, CalibrationError> {
        let set = check_set("Platt calibration set", scores, bona_fide)?;
        let p = Platt::fit(scores, bona_fide)?;
        Ok(set.calibrator(ScoreMap::Platt { a: p.a, b: p.b }))
    }

    /// Platt scaling that keeps the score's direction: when the fit is decreasing (`a > 0`:
    /// on this set, higher scores are more often attacks) the map is flat at the set's prior,
    /// so every score calibrates to LLR 0 ([`Calibrator::is_flat`]). A small set whose
    /// scores do not separate can fit either direction by chance; only the increasing one is
    /// the signal's meaning.
    pub fn fit_platt_increasing(
        scores: &[f64],
        bona_fide: &[bool],
    ) -> Result<Self, CalibrationError> {
        let c = Self::fit_platt(scores, bona_fide)?;
        match c.map {
            ScoreMap::Platt { a, .. } if a > 0.0 => {
                let prior = libm::log(c.n_pos as f64 / c.n_neg as f64);
                Ok(Calibrator {
                    map: ScoreMap::Platt { a: 0.0, b: -prior },
                    ..c
                })
            }
            _ => Ok(c),
        }
    }

    /// Whether every score calibrates to the same posterior (a flat Platt map: the signal did
    /// not separate its calibration set).
    pub fn is_flat(&self) -> bool {
        matches!(self.map, ScoreMap::Platt { a, .. } if a == 0.0)
    }

    /// Isotonic regression (scikit-learn's `IsotonicRegression(out_of_bounds="clip")`).
    pub fn fit_isotonic(scores: &[f64], bona_fide: &[bool]) -> Result<Self, CalibrationError> {
        let set = check_set("isotonic calibration set", scores, bona_fide)?;
        let iso = Isotonic::fit(scores, bona_fide)?;
        Ok(set.calibrator(ScoreMap::Isotonic { x: iso.x, p: iso.p }))
    }

    /// Isotonic with at least [`ISOTONIC_MIN_SAMPLES`] samples, Platt otherwise; the result's
    /// [`Calibrator::method`] says which (also logged at info level).
    ///
    /// Both keep the score's direction (a higher raw score is never less bona fide): isotonic
    /// by construction, Platt by [`Calibrator::fit_platt_increasing`]. A signal whose scores
    /// run the other way on the calibration set does not separate it, and gets a flat
    /// calibrator (LLR 0) instead of an inverted one.
    pub fn fit_auto(scores: &[f64], bona_fide: &[bool]) -> Result<Self, CalibrationError> {
        let c = if scores.len() >= ISOTONIC_MIN_SAMPLES {
            Self::fit_isotonic(scores, bona_fide)?
        } else {
            Self::fit_platt_increasing(scores, bona_fide)?
        };
        log::info!(
            "calibration: {} samples ({} bona fide, {} attack): {:?} (isotonic from {})",
            scores.len(),
            c.n_pos,
            c.n_neg,
            c.method(),
            ISOTONIC_MIN_SAMPLES
        );
        Ok(c)
    }

    /// Platt or isotonic.
    pub fn method(&self) -> Method {
        match self.map {
            ScoreMap::Platt { .. } => Method::Platt,
            ScoreMap::Isotonic { .. } => Method::Isotonic,
        }
    }

    /// `ln(N₊/N₋)`: the calibration set's prior log-odds, removed from the posterior.
    pub fn prior_log_odds(&self) -> f64 {
        libm::log(self.n_pos as f64) - libm::log(self.n_neg as f64)
    }

    /// Calibrated posterior probability of bona fide on the calibration set's prior.
    pub fn posterior(&self, raw_score: f64) -> Result<f64, CalibrationError> {
        self.check("calibrator")?;
        check_score("calibrator", raw_score)?;
        Ok(match &self.map {
            ScoreMap::Platt { a, b } => sigmoid(-(a * raw_score + b)),
            ScoreMap::Isotonic { x, p } => isotonic::interpolate(x, p, raw_score),
        })
    }

    /// The calibrated LLR (natural log, bona fide vs attack), clamped to ±[`LLR_LIMIT`].
    pub fn llr(&self, raw_score: f64) -> Result<f64, CalibrationError> {
        self.llr_keyed("calibrator", raw_score)
    }

    fn llr_keyed(&self, key: &str, raw_score: f64) -> Result<f64, CalibrationError> {
        self.check(key)?;
        check_score(key, raw_score)?;
        let log_odds = match &self.map {
            // logit(p) is the raw prediction itself: no round trip through p.
            ScoreMap::Platt { a, b } => -(a * raw_score + b),
            ScoreMap::Isotonic { x, p } => logit(isotonic::interpolate(x, p, raw_score)),
        };
        Ok(clamp_llr(log_odds - self.prior_log_odds()))
    }

    /// Cheap consistency checks done on every use (counts, finite parameters, lengths).
    fn check(&self, key: &str) -> Result<(), CalibrationError> {
        let bad = |what: String| CalibrationError::BadParameters {
            key: key.into(),
            what,
        };
        if self.n_pos == 0 || self.n_neg == 0 {
            return Err(bad(alloc::format!(
                "n_pos = {}, n_neg = {}: expected both > 0",
                self.n_pos,
                self.n_neg
            )));
        }
        match &self.map {
            ScoreMap::Platt { a, b } => {
                if !a.is_finite() || !b.is_finite() {
                    return Err(bad(alloc::format!(
                        "Platt A = {a}, B = {b}: expected finite numbers"
                    )));
                }
            }
            ScoreMap::Isotonic { x, p } => {
                if x.is_empty() || x.len() != p.len() {
                    return Err(bad(alloc::format!(
                        "isotonic map has {} thresholds and {} probabilities: expected the \
                         same number, at least one",
                        x.len(),
                        p.len()
                    )));
                }
            }
        }
        Ok(())
    }

    /// Full validation (done when a bundle is decoded or built): [`Calibrator::check`] plus the
    /// score range, increasing thresholds and probabilities in [0, 1], non-decreasing.
    pub fn validate(&self, key: &str) -> Result<(), CalibrationError> {
        self.check(key)?;
        let bad = |what: String| CalibrationError::BadParameters {
            key: key.into(),
            what,
        };
        if !(self.score_min.is_finite()
            && self.score_max.is_finite()
            && self.score_min <= self.score_max)
        {
            return Err(bad(alloc::format!(
                "score range [{}, {}]: expected finite numbers with min <= max",
                self.score_min,
                self.score_max
            )));
        }
        if let ScoreMap::Isotonic { x, p } = &self.map {
            for (i, (&xi, &pi)) in x.iter().zip(p).enumerate() {
                if !xi.is_finite() || !(0.0..=1.0).contains(&pi) {
                    return Err(bad(alloc::format!(
                        "isotonic point {i} is ({xi}, {pi}): expected a finite threshold and \
                         a probability in [0, 1]"
                    )));
                }
                if i > 0 && (xi <= x[i - 1] || pi < p[i - 1]) {
                    return Err(bad(alloc::format!(
                        "isotonic point {i} ({xi}, {pi}) after ({}, {}): expected strictly \
                         increasing thresholds and non-decreasing probabilities",
                        x[i - 1],
                        p[i - 1]
                    )));
                }
            }
        }
        Ok(())
    }
}

/// `ln(p / (1 − p))`; ±∞ at 1 and 0 (clamped by the caller).
pub fn logit(p: f64) -> f64 {
    libm::log(p) - libm::log1p(-p)
}

/// `1 / (1 + e^(−x))`, without overflow.
pub fn sigmoid(x: f64) -> f64 {
    if x >= 0.0 {
        1.0 / (1.0 + libm::exp(-x))
    } else {
        let e = libm::exp(x);
        e / (1.0 + e)
    }
}

/// `ln(1 + e^x)`, without overflow; 0 at −∞, +∞ at +∞.
pub fn softplus(x: f64) -> f64 {
    if x > 0.0 {
        x + libm::log1p(libm::exp(-x))
    } else {
        libm::log1p(libm::exp(x))
    }
}

/// Posterior probability of bona fide from an LLR and the prior log-odds `ln(P₊/P₋)` in force
/// (0 for equal priors).
pub fn posterior_from_llr(llr: f64, prior_log_odds: f64) -> f64 {
    sigmoid(llr + prior_log_odds)
}

/// Clamps an LLR to ±[`LLR_LIMIT`] (±∞ included).
pub fn clamp_llr(llr: f64) -> f64 {
    llr.clamp(-LLR_LIMIT, LLR_LIMIT)
}

fn check_score(key: &str, raw_score: f64) -> Result<(), CalibrationError> {
    if raw_score.is_finite() {
        Ok(())
    } else {
        Err(CalibrationError::NonFiniteScore {
            key: key.into(),
            value: raw_score,
        })
    }
}

/// Class counts and score range of a checked calibration set.
pub(crate) struct SetSummary {
    pub n_pos: usize,
    pub n_neg: usize,
    pub min: f64,
    pub max: f64,
}

impl SetSummary {
    fn calibrator(&self, map: ScoreMap) -> Calibrator {
        Calibrator {
            map,
            n_pos: self.n_pos as u64,
            n_neg: self.n_neg as u64,
            score_min: self.min,
            score_max: self.max,
        }
    }
}

/// Checks a labelled set: same lengths, not empty, finite values, both classes present.
pub(crate) fn check_set(
    what: &'static str,
    scores: &[f64],
    bona_fide: &[bool],
) -> Result<SetSummary, CalibrationError> {
    if scores.len() != bona_fide.len() {
        return Err(CalibrationError::LengthMismatch {
            what,
            scores: scores.len(),
            labels: bona_fide.len(),
        });
    }
    if scores.is_empty() {
        return Err(CalibrationError::Empty { what });
    }
    let (mut min, mut max) = (f64::INFINITY, f64::NEG_INFINITY);
    for (index, &value) in scores.iter().enumerate() {
        if !value.is_finite() {
            return Err(CalibrationError::NonFinite { what, index, value });
        }
        min = min.min(value);
        max = max.max(value);
    }
    let n_pos = bona_fide.iter().filter(|&&b| b).count();
    let n_neg = scores.len() - n_pos;
    if n_pos == 0 || n_neg == 0 {
        return Err(CalibrationError::OneClass { what, n_pos, n_neg });
    }
    Ok(SetSummary {
        n_pos,
        n_neg,
        min,
        max,
    })
}
