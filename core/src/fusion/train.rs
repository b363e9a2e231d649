//! Linear logistic fusion, trained as BOSARIS/FoCal's `train_llr_fusion` does: the weights and
//! bias minimise the prior-weighted cross-entropy
//!
//! `P · mean_bf softplus(−(s + logit P)) + (1 − P) · mean_att softplus(s + logit P) + λ/2 · |w|²`
//!
//! with `s = b + Σ wᵢ·LLRᵢ`, so `s` is itself a calibrated LLR at the effective prior `P`
//! (default 0.5: the class ratio of the training set does not leak in). Newton's method with
//! step halving on at most six unknowns; deterministic.

use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec::Vec;

use super::LinearFusion;
use crate::evidence::SignalId;

/// One labelled capture: the calibrated LLR of each available signal (a missing signal is
/// absent, and counts as 0, as at run time).
#[derive(Clone, Debug, PartialEq)]
pub struct TrainingRow {
    pub llrs: BTreeMap<SignalId, f64>,
    pub bona_fide: bool,
}

/// Training settings.
#[derive(Clone, Debug, PartialEq)]
pub struct TrainOptions {
    /// The signals that get a weight (others are ignored).
    pub signals: Vec<SignalId>,
    /// Effective prior of bona fide, in (0, 1) (default 0.5).
    pub prior: f64,
    /// L2 penalty on the weights (not the bias), ≥ 0 (default 1e-3).
    pub l2: f64,
    /// Newton iterations at most (default 100).
    pub max_iter: usize,
}

impl Default for TrainOptions {
    fn default() -> Self {
        TrainOptions {
            signals: SignalId::ALL.to_vec(),
            prior: 0.5,
            l2: 1e-3,
            max_iter: 100,
        }
    }
}

/// Why training could not run.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TrainError {
    #[error("fusion training needs bona fide and attack rows: got {bona_fide} bona fide, {attack} attack")]
    OneClass { bona_fide: usize, attack: usize },
    #[error("fusion training row {row}: signal `{signal}` has a non-finite LLR")]
    NonFinite { row: usize, signal: &'static str },
    #[error("fusion training option `{name}` = {value} is invalid: expected {expected}")]
    Option {
        name: &'static str,
        value: f64,
        expected: &'static str,
    },
    #[error("fusion training did not converge: {0}")]
    NoConvergence(String),
}

fn softplus(z: f64) -> f64 {
    if z > 30.0 {
        z
    } else if z < -30.0 {
        libm::exp(z)
    } else {
        libm::log1p(libm::exp(z))
    }
}

fn sigmoid(z: f64) -> f64 {
    if z >= 0.0 {
        1.0 / (1.0 + libm::exp(-z))
    } else {
        let e = libm::exp(z);
        e / (1.0 + e)
    }
}

/// Solves `a · x = b` (n ≤ 8) by Gaussian elimination with partial pivoting; `None` when
/// singular.
fn solve(mut a: Vec<Vec<f64>>, mut b: Vec<f64>) -> Option<Vec<f64>> {
    let n = b.len();
    for col in 0..n {
        let piv = (col..n).max_by(|&i, &j| a[i][col].abs().total_cmp(&a[j][col].abs()))?;
        if a[piv][col].abs() < 1e-14 {
            return None;
        }
        a.swap(col, piv);
        b.swap(col, piv);
        let pivot = a[col].clone();
        for row in col + 1..n {
            let f = a[row][col] / pivot[col];
            for (x, p) in a[row][col..].iter_mut().zip(&pivot[col..]) {
                *x -= f * p;
            }
            b[row] -= f * b[col];
        }
    }
    let mut x = alloc::vec![0.0; n];
    for i in (0..n).rev() {
        let s: f64 = (i + 1..n).map(|k| a[i][k] * x[k]).sum();
        x[i] = (b[i] - s) / a[i][i];
    }
    x.iter().all(|v| v.is_finite()).then_some(x)
}

/// Trains the fusion weights (see the module docs). Returns the bias and one weight per
/// signal of `opts.signals`.
pub fn train_logistic(
    rows: &[TrainingRow],
    opts: &TrainOptions,
) -> Result<LinearFusion, TrainError> {
    if !(opts.prior > 0.0 && opts.prior < 1.0) {
        return Err(TrainError::Option {
            name: "prior",
            value: opts.prior,
            expected: "in (0, 1)",
        });
    }
    if !(opts.l2.is_finite() && opts.l2 >= 0.0) {
        return Err(TrainError::Option {
            name: "l2",
            value: opts.l2,
            expected: "finite and ≥ 0",
        });
    }
    if opts.signals.is_empty() || opts.signals.len() > 7 {
        return Err(TrainError::Option {
            name: "signals",
            value: opts.signals.len() as f64,
            expected: "1 to 7 signals",
        });
    }
    let bona_fide = rows.iter().filter(|r| r.bona_fide).count();
    let attack = rows.len() - bona_fide;
    if bona_fide == 0 || attack == 0 {
        return Err(TrainError::OneClass { bona_fide, attack });
    }
    // Design matrix: [1, LLR of each signal (0 when missing)].
    let mut xs: Vec<Vec<f64>> = Vec::with_capacity(rows.len());
    for (i, r) in rows.iter().enumerate() {
        let mut x = alloc::vec![1.0];
        for &s in &opts.signals {
            let v = r.llrs.get(&s).copied().unwrap_or(0.0);
            if !v.is_finite() {
                return Err(TrainError::NonFinite {
                    row: i,
                    signal: s.as_str(),
                });
            }
            x.push(v);
        }
        xs.push(x);
    }
    let dim = opts.signals.len() + 1;
    let offset = libm::log(opts.prior / (1.0 - opts.prior));
    let (wt, wn) = (
        opts.prior / bona_fide as f64,
        (1.0 - opts.prior) / attack as f64,
    );
    let objective = |theta: &[f64]| -> f64 {
        let mut j = 0.0;
        for (x, r) in xs.iter().zip(rows) {
            let s: f64 = x.iter().zip(theta).map(|(a, b)| a * b).sum();
            j += if r.bona_fide {
                wt * softplus(-(s + offset))
            } else {
                wn * softplus(s + offset)
            };
        }
        j + 0.5 * opts.l2 * theta[1..].iter().map(|w| w * w).sum::<f64>()
    };
    let mut theta = alloc::vec![0.0; dim];
    let mut j = objective(&theta);
    for _ in 0..opts.max_iter {
        let mut g = alloc::vec![0.0; dim];
        let mut h = alloc::vec![alloc::vec![0.0; dim]; dim];
        for (x, r) in xs.iter().zip(rows) {
            let s: f64 = x.iter().zip(&theta).map(|(a, b)| a * b).sum();
            let z = s + offset;
            // d/ds of the row's loss, and its second derivative.
            let (d1, d2) = if r.bona_fide {
                let p = sigmoid(-z);
                (-wt * p, wt * p * (1.0 - p))
            } else {
                let p = sigmoid(z);
                (wn * p, wn * p * (1.0 - p))
            };
            for a in 0..dim {
                g[a] += d1 * x[a];
                for b in 0..dim {
                    h[a][b] += d2 * x[a] * x[b];
                }
            }
        }
        for a in 1..dim {
            g[a] += opts.l2 * theta[a];
            h[a][a] += opts.l2;
        }
        // A tiny ridge keeps separable data (whose optimum is at infinity without L2) solvable.
        for (a, row) in h.iter_mut().enumerate() {
            row[a] += 1e-12;
        }
        let step = solve(h, g.iter().map(|v| -v).collect())
            .ok_or_else(|| TrainError::NoConvergence("singular Hessian".into()))?;
        let mut t = 1.0;
        let mut improved = false;
        for _ in 0..30 {
            let cand: Vec<f64> = theta.iter().zip(&step).map(|(a, d)| a + t * d).collect();
            let jc = objective(&cand);
            if jc.is_finite() && jc <= j {
                let done = j - jc < 1e-13 * (1.0 + j.abs());
                theta = cand;
                j = jc;
                improved = !done;
                break;
            }
            t *= 0.5;
        }
        let gnorm = libm::sqrt(g.iter().map(|v| v * v).sum::<f64>());
        if !improved || gnorm < 1e-10 {
            break;
        }
    }
    if !theta.iter().all(|v| v.is_finite()) {
        return Err(TrainError::NoConvergence(alloc::format!(
            "non-finite weights {theta:?}"
        )));
    }
    Ok(LinearFusion {
        bias: theta[0],
        weights: opts
            .signals
            .iter()
            .zip(&theta[1..])
            .map(|(&s, &w)| (s, w))
            .collect(),
    })
}
