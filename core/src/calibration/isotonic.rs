//! Isotonic regression (pool-adjacent-violators) with scikit-learn's semantics:
//! `IsotonicRegression(increasing=True, out_of_bounds="clip")` fitted on (score, label).
//!
//! As scikit-learn does: sort by (score, label); average the labels of equal scores (scores
//! closer than 1e-15 count as equal, `_make_unique`); PAV on the averages weighted by their
//! counts; drop the interior points whose value equals both neighbours'. Predictions are
//! linear between the kept points (`interp1d`) and clipped to the fitted score range.

use alloc::vec::Vec;

use super::{check_set, CalibrationError};

/// scikit-learn's tie tolerance (`np.finfo(float64).resolution`).
const TIE_EPS: f64 = 1e-15;

/// A fitted isotonic map: probabilities `p` at increasing thresholds `x`.
#[derive(Clone, Debug, PartialEq)]
pub struct Isotonic {
    pub x: Vec<f64>,
    pub p: Vec<f64>,
}

impl Isotonic {
    /// Fits on raw scores with labels (`true` = bona fide = 1).
    pub fn fit(scores: &[f64], bona_fide: &[bool]) -> Result<Self, CalibrationError> {
        check_set("isotonic calibration set", scores, bona_fide)?;
        let (x, y, w) = unique_averages(scores, bona_fide);
        let p = pav(&y, &w);
        // Keep the ends and every point that differs from one of its neighbours.
        let n = p.len();
        let (mut kx, mut kp) = (Vec::with_capacity(n), Vec::with_capacity(n));
        for i in 0..n {
            let keep = i == 0 || i + 1 == n || p[i] != p[i - 1] || p[i] != p[i + 1];
            if keep {
                kx.push(x[i]);
                kp.push(p[i]);
            }
        }
        Ok(Isotonic { x: kx, p: kp })
    }

    /// The fitted probability at `score` (clipped to the fitted range, linear in between).
    pub fn predict(&self, score: f64) -> f64 {
        interpolate(&self.x, &self.p, score)
    }
}

/// Sorted unique scores with the mean label and the count of each (scikit-learn's
/// `lexsort((y, X))` then `_make_unique`).
pub(crate) fn unique_averages(scores: &[f64], labels: &[bool]) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&i, &j| {
        scores[i]
            .total_cmp(&scores[j])
            .then(labels[i].cmp(&labels[j]))
    });
    let (mut x, mut y, mut w) = (Vec::new(), Vec::new(), Vec::new());
    let mut current_x = scores[order[0]];
    let mut sum_y = 0.0;
    let mut sum_w = 0.0;
    for &i in &order {
        let xi = scores[i];
        if xi - current_x >= TIE_EPS {
            x.push(current_x);
            y.push(sum_y / sum_w);
            w.push(sum_w);
            current_x = xi;
            sum_y = 0.0;
            sum_w = 0.0;
        }
        sum_y += if labels[i] { 1.0 } else { 0.0 };
        sum_w += 1.0;
    }
    x.push(current_x);
    y.push(sum_y / sum_w);
    w.push(sum_w);
    (x, y, w)
}

/// Weighted pool-adjacent-violators, non-decreasing (scikit-learn's
/// `_inplace_contiguous_isotonic_regression`: pools on `y[i] >= y[k]`, backtracks one block).
pub(crate) fn pav(y: &[f64], w: &[f64]) -> Vec<f64> {
    let n = y.len();
    let mut y = y.to_vec();
    let mut w = w.to_vec();
    if n == 0 {
        return y;
    }
    // Active blocks [i..=j]: target[i] = j and target[j] = i.
    let mut target: Vec<usize> = (0..n).collect();
    let mut i = 0;
    while i < n {
        let mut k = target[i] + 1;
        if k == n {
            break;
        }
        if y[i] < y[k] {
            i = k;
            continue;
        }
        let mut sum_wy = w[i] * y[i];
        let mut sum_w = w[i];
        loop {
            let prev_y = y[k];
            sum_wy += w[k] * y[k];
            sum_w += w[k];
            k = target[k] + 1;
            if k == n || prev_y < y[k] {
                y[i] = sum_wy / sum_w;
                w[i] = sum_w;
                target[i] = k - 1;
                target[k - 1] = i;
                if i > 0 {
                    i = target[i - 1];
                }
                break;
            }
        }
    }
    let mut i = 0;
    while i < n {
        let k = target[i] + 1;
        let v = y[i];
        for yj in &mut y[i + 1..k] {
            *yj = v;
        }
        i = k;
    }
    y
}

/// Linear interpolation with clipping, exactly as scipy's `interp1d` after scikit-learn's
/// `np.clip(T, X_min_, X_max_)`. `x` increasing, same length as `p`, not empty (checked by the
/// caller; an empty map gives NaN rather than a panic).
pub(crate) fn interpolate(x: &[f64], p: &[f64], score: f64) -> f64 {
    let n = x.len().min(p.len());
    if n == 0 {
        return f64::NAN;
    }
    if n == 1 {
        return p[0];
    }
    // Not `f64::clamp`: it panics when a hand-made map is not increasing.
    let t = if score < x[0] {
        x[0]
    } else if score > x[n - 1] {
        x[n - 1]
    } else {
        score
    };
    // searchsorted(side="left"): first index with x[idx] >= t, clipped to [1, n − 1].
    let idx = x[..n].partition_point(|&v| v < t).clamp(1, n - 1);
    let (lo, hi) = (idx - 1, idx);
    let slope = (p[hi] - p[lo]) / (x[hi] - x[lo]);
    slope * (t - x[lo]) + p[lo]
}
