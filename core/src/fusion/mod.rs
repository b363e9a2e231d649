//! Fusion: the calibrated signals of one capture become one fused log-likelihood ratio
//! (natural log, bona fide vs attack), every signal's part in it kept for the reader.
//!
//! - **Weighted** and **logistic**: `fused = b + Σ wᵢ·LLRᵢ` over the available signals; the
//!   logistic weights come from [`train_logistic`] (prior-weighted logistic regression with a
//!   small L2 penalty, BOSARIS/FoCal style), the weighted ones are set by hand.
//! - **Rules**: the sum of the available LLRs (the sum rule: independent calibrated signals
//!   add), with the seed-000 rules applied by the policy on top (high passive, or medium
//!   passive plus a passed challenge).
//!
//! A missing signal (model absent, window too short, not enough motion) contributes LLR 0 and
//! is named in the output, never guessed. This module imports only [`crate::evidence`].

use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec::Vec;

use serde::{Deserialize, Serialize};

use crate::evidence::SignalId;

mod train;

pub use train::{train_logistic, TrainError, TrainOptions, TrainingRow};

/// One signal after calibration: its raw score and its LLR (`None` when not available).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CalibratedSignal {
    pub signal: SignalId,
    /// The model(s) behind the score (empty for model-free signals).
    #[serde(default)]
    pub model: String,
    pub raw: Option<f32>,
    /// Calibrated LLR, natural log; `None` when the signal is not available.
    pub llr: Option<f64>,
    /// Why it is not available (empty when it is).
    #[serde(default)]
    pub reason: String,
}

/// One signal's part in the fused score.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Contribution {
    pub signal: SignalId,
    #[serde(default)]
    pub model: String,
    pub raw: Option<f32>,
    /// The LLR used: the calibrated one, or 0 for a missing signal.
    pub llr: f64,
    pub weight: f64,
    /// `weight × llr`.
    pub contribution: f64,
    pub available: bool,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub reason: String,
}

/// `fused = bias + Σ weights[s] · LLR_s`; a signal without a weight has weight 0.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinearFusion {
    pub bias: f64,
    pub weights: BTreeMap<SignalId, f64>,
}

impl LinearFusion {
    /// The sum rule: every signal weight 1, no bias.
    pub fn sum_rule() -> LinearFusion {
        LinearFusion {
            bias: 0.0,
            weights: SignalId::ALL.iter().map(|&s| (s, 1.0)).collect(),
        }
    }
}

/// The seed-000 rules' thresholds on the summed passive LLR.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleFusion {
    /// Passive evidence at or above this passes on its own (with quality ok, no device risk).
    pub passive_high: f64,
    /// Passive evidence at or above this passes together with a passed challenge.
    pub passive_medium: f64,
}

/// How the policy fuses signals.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "method", rename_all = "snake_case", deny_unknown_fields)]
pub enum FusionMethod {
    /// The seed-000 rules on the summed LLR.
    Rules(RuleFusion),
    /// Hand-set weights.
    Weighted(LinearFusion),
    /// Weights from [`train_logistic`], with what they were trained on.
    Logistic {
        bias: f64,
        weights: BTreeMap<SignalId, f64>,
        /// Free text: the data set, split and date (`cargo xtask train-fusion` writes it).
        trained_on: String,
    },
}

impl FusionMethod {
    /// The linear form `b + Σ wᵢ·LLRᵢ` this method computes (the sum rule for `Rules`).
    pub fn linear(&self) -> LinearFusion {
        match self {
            FusionMethod::Rules(_) => LinearFusion::sum_rule(),
            FusionMethod::Weighted(l) => l.clone(),
            FusionMethod::Logistic { bias, weights, .. } => LinearFusion {
                bias: *bias,
                weights: weights.clone(),
            },
        }
    }
}

/// What fusion found: the fused LLR and each signal's part.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Fused {
    /// Natural-log LLR, bona fide vs attack (higher = more likely bona fide).
    pub fused: f64,
    pub bias: f64,
    /// One per input signal, in input order.
    pub contributions: Vec<Contribution>,
}

impl Fused {
    /// The signals that were not available.
    pub fn missing(&self) -> impl Iterator<Item = &Contribution> {
        self.contributions.iter().filter(|c| !c.available)
    }

    /// The `k` largest contributions by magnitude, signed (for the reason list).
    pub fn top(&self, k: usize) -> Vec<(SignalId, f64)> {
        let mut v: Vec<(SignalId, f64)> = self
            .contributions
            .iter()
            .filter(|c| c.available && c.contribution != 0.0)
            .map(|c| (c.signal, c.contribution))
            .collect();
        v.sort_by(|a, b| b.1.abs().total_cmp(&a.1.abs()).then(a.0.cmp(&b.0)));
        v.truncate(k);
        v
    }
}

/// Fuses calibrated signals (pure). A signal whose LLR is missing or not finite contributes 0
/// and is marked unavailable.
pub fn fuse(method: &FusionMethod, signals: &[CalibratedSignal]) -> Fused {
    let linear = method.linear();
    let mut fused = linear.bias;
    let contributions = signals
        .iter()
        .map(|s| {
            let llr = s.llr.filter(|v| v.is_finite());
            let weight = linear.weights.get(&s.signal).copied().unwrap_or(0.0);
            let contribution = weight * llr.unwrap_or(0.0);
            fused += contribution;
            Contribution {
                signal: s.signal,
                model: s.model.clone(),
                raw: s.raw,
                llr: llr.unwrap_or(0.0),
                weight,
                contribution,
                available: llr.is_some(),
                reason: if llr.is_some() {
                    String::new()
                } else if s.reason.is_empty() {
                    "no calibrated score".into()
                } else {
                    s.reason.clone()
                },
            }
        })
        .collect();
    Fused {
        fused,
        bias: linear.bias,
        contributions,
    }
}

#[cfg(test)]
mod tests;
