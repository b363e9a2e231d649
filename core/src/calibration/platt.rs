//! Platt scaling with scikit-learn's semantics (`sklearn.calibration._sigmoid_calibration`).
//!
//! `P(bona fide | f) = 1 / (1 + exp(A·f + B))`, fitted by minimising the cross-entropy against
//! Platt's smoothed targets `T₊ = (N₊+1)/(N₊+2)` (bona fide) and `T₋ = 1/(N₋+2)` (attack), from
//! `A = 0`, `B₀ = ln((N₋+1)/(N₊+1))`. scikit-learn uses L-BFGS-B; the problem is strictly convex,
//! so Newton's method with a backtracking line search reaches the same minimum (to ~1e-9 here,
//! tighter than L-BFGS-B's own stopping rule). The score is standardised inside the fit for
//! conditioning (Newton's iterates are affine-invariant, so the minimum is the same).

use super::{check_set, sigmoid, softplus, CalibrationError};

/// Newton steps allowed (it converges in ~10 on every set seen).
const MAX_ITERATIONS: usize = 100;
/// Backtracking halvings allowed per step.
const MAX_HALVINGS: usize = 60;

/// Fitted Platt parameters (scikit-learn's A and B).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Platt {
    pub a: f64,
    pub b: f64,
    /// Newton steps taken.
    pub iterations: usize,
}

impl Platt {
    /// Fits A and B on raw scores with labels (`true` = bona fide = scikit-learn's positive).
    pub fn fit(scores: &[f64], bona_fide: &[bool]) -> Result<Self, CalibrationError> {
        let set = check_set("Platt calibration set", scores, bona_fide)?;
        if set.min == set.max {
            return Err(CalibrationError::ConstantScores {
                what: "Platt calibration set",
                n: scores.len(),
                value: set.min,
            });
        }
        let (n_pos, n_neg) = (set.n_pos as f64, set.n_neg as f64);
        let t_pos = (n_pos + 1.0) / (n_pos + 2.0);
        let t_neg = 1.0 / (n_neg + 2.0);
        let n = scores.len() as f64;
        let mean = scores.iter().sum::<f64>() / n;
        let var = scores.iter().map(|s| (s - mean) * (s - mean)).sum::<f64>() / n;
        let sd = libm::sqrt(var);
        if sd.is_nan() || sd <= 0.0 || !sd.is_finite() {
            return Err(CalibrationError::ConstantScores {
                what: "Platt calibration set",
                n: scores.len(),
                value: mean,
            });
        }
        let data = Standardised {
            scores,
            bona_fide,
            mean,
            sd,
            t_pos,
            t_neg,
        };

        // (a, b) on the standardised score g = (f − mean)/sd; A = 0 there too.
        let (mut a, mut b) = (0.0f64, libm::log((n_neg + 1.0) / (n_pos + 1.0)));
        let mut iterations = 0;
        loop {
            let e = data.eval(a, b);
            // Newton direction: H d = −g.
            let (da, db) = solve2(e.haa, e.hab, e.hbb, -e.ga, -e.gb);
            let gradient = e.ga.abs().max(e.gb.abs());
            let step = da.abs().max(db.abs());
            if step <= 1e-13 * (1.0 + a.abs().max(b.abs())) || gradient == 0.0 {
                break;
            }
            if iterations == MAX_ITERATIONS || !da.is_finite() || !db.is_finite() {
                return Err(not_converged(iterations, &data, a, b, gradient));
            }
            iterations += 1;
            // Newton decrement² = −g·d: the loss decrease a full step predicts, ×2.
            let decrement = -(e.ga * da + e.gb * db);
            if decrement < 1e-6 {
                // Quadratic convergence region: the full step is right, and a line search
                // would only see rounding in the loss.
                a += da;
                b += db;
                continue;
            }
            let mut t = 1.0;
            let mut accepted = false;
            for _ in 0..MAX_HALVINGS {
                let (na, nb) = (a + t * da, b + t * db);
                if data.loss(na, nb) <= e.loss - 1e-4 * t * decrement {
                    a = na;
                    b = nb;
                    accepted = true;
                    break;
                }
                t *= 0.5;
            }
            if !accepted {
                return Err(not_converged(iterations, &data, a, b, gradient));
            }
        }
        let (a_out, b_out) = data.unstandardise(a, b);
        Ok(Platt {
            a: a_out,
            b: b_out,
            iterations,
        })
    }

    /// `P(bona fide | f) = 1 / (1 + exp(A·f + B))`.
    pub fn probability(&self, score: f64) -> f64 {
        sigmoid(-(self.a * score + self.b))
    }
}

fn not_converged(
    iterations: usize,
    data: &Standardised<'_>,
    a: f64,
    b: f64,
    gradient: f64,
) -> CalibrationError {
    let (a, b) = data.unstandardise(a, b);
    CalibrationError::NotConverged {
        iterations,
        a,
        b,
        gradient,
    }
}

/// Solves the symmetric 2×2 system `[[haa, hab], [hab, hbb]] · d = (ra, rb)`.
fn solve2(haa: f64, hab: f64, hbb: f64, ra: f64, rb: f64) -> (f64, f64) {
    let mut det = haa * hbb - hab * hab;
    let (mut haa, mut hbb) = (haa, hbb);
    if det.is_nan() || det <= 1e-300 {
        // Saturated sigmoids: a tiny ridge keeps the step defined (a gradient-like step).
        let ridge = 1e-12 * (1.0 + haa.abs() + hbb.abs());
        haa += ridge;
        hbb += ridge;
        det = haa * hbb - hab * hab;
    }
    ((hbb * ra - hab * rb) / det, (haa * rb - hab * ra) / det)
}

struct Standardised<'a> {
    scores: &'a [f64],
    bona_fide: &'a [bool],
    mean: f64,
    sd: f64,
    t_pos: f64,
    t_neg: f64,
}

struct Eval {
    loss: f64,
    ga: f64,
    gb: f64,
    haa: f64,
    hab: f64,
    hbb: f64,
}

impl Standardised<'_> {
    /// Back to scikit-learn's A, B on the raw score.
    fn unstandardise(&self, a: f64, b: f64) -> (f64, f64) {
        (a / self.sd, b - a * self.mean / self.sd)
    }

    /// The smoothed cross-entropy `Σ softplus(r) − T·r`, `r = −(a·g + b)`.
    fn loss(&self, a: f64, b: f64) -> f64 {
        let mut loss = 0.0;
        for (&f, &y) in self.scores.iter().zip(self.bona_fide) {
            let g = (f - self.mean) / self.sd;
            let r = -(a * g + b);
            let t = if y { self.t_pos } else { self.t_neg };
            loss += softplus(r) - t * r;
        }
        loss
    }

    /// Loss, gradient and Hessian in (a, b).
    fn eval(&self, a: f64, b: f64) -> Eval {
        let mut e = Eval {
            loss: 0.0,
            ga: 0.0,
            gb: 0.0,
            haa: 0.0,
            hab: 0.0,
            hbb: 0.0,
        };
        for (&f, &y) in self.scores.iter().zip(self.bona_fide) {
            let g = (f - self.mean) / self.sd;
            let r = -(a * g + b);
            let t = if y { self.t_pos } else { self.t_neg };
            let s = sigmoid(r);
            e.loss += softplus(r) - t * r;
            // dL/dr = s − T; dr/da = −g, dr/db = −1.
            let d = s - t;
            e.ga -= d * g;
            e.gb -= d;
            let w = s * (1.0 - s);
            e.haa += w * g * g;
            e.hab += w * g;
            e.hbb += w;
        }
        e
    }
}
