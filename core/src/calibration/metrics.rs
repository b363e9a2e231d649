//! Calibration figures for the evaluation report: Cllr, minCllr, ECE and Brier.
//!
//! Labels: `true` = bona fide (the target class).

use alloc::vec::Vec;

use super::isotonic::pav;
use super::{check_set, logit, softplus, CalibrationError};

/// Cllr in bits: `½[mean log₂(1+e^(−LLR)) over bona fide + mean log₂(1+e^(LLR)) over attacks]`.
/// 1 bit for an LLR that is always 0; 0 for perfect, confident LLRs.
pub fn cllr(llrs: &[f64], bona_fide: &[bool]) -> Result<f64, CalibrationError> {
    let set = check_set("Cllr", llrs, bona_fide)?;
    let (mut tar, mut non) = (0.0, 0.0);
    for (&l, &y) in llrs.iter().zip(bona_fide) {
        if y {
            tar += softplus(-l);
        } else {
            non += softplus(l);
        }
    }
    Ok((tar / set.n_pos as f64 + non / set.n_neg as f64) / (2.0 * core::f64::consts::LN_2))
}

/// minCllr in bits: Cllr after the optimal monotone recalibration of the scores (PAV on
/// (score, label), posteriors turned into LLRs with the set's prior log-odds), as PYLLR's
/// `min_cllr`. Equal scores are pooled (one LLR per distinct score); PYLLR instead orders the
/// attacks first among ties, which makes tied scores look separable.
pub fn min_cllr(scores: &[f64], bona_fide: &[bool]) -> Result<f64, CalibrationError> {
    let set = check_set("minCllr", scores, bona_fide)?;
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&i, &j| scores[i].total_cmp(&scores[j]));
    // Per distinct score: bona fide and attack counts.
    let mut groups: Vec<(f64, f64)> = Vec::new();
    let mut last = f64::NAN;
    for &i in &order {
        if groups.is_empty() || scores[i] != last {
            groups.push((0.0, 0.0));
            last = scores[i];
        }
        let k = groups.len() - 1;
        let g = &mut groups[k];
        if bona_fide[i] {
            g.0 += 1.0;
        } else {
            g.1 += 1.0;
        }
    }
    let y: Vec<f64> = groups.iter().map(|&(p, n)| p / (p + n)).collect();
    let w: Vec<f64> = groups.iter().map(|&(p, n)| p + n).collect();
    let post = pav(&y, &w);
    let prior = libm::log(set.n_pos as f64) - libm::log(set.n_neg as f64);
    let (mut tar, mut non) = (0.0, 0.0);
    for (&(n_tar, n_non), &p) in groups.iter().zip(&post) {
        // ±∞ at p = 0 or 1; a class absent from the block adds nothing (no 0·∞).
        let l = logit(p) - prior;
        if n_tar > 0.0 {
            tar += n_tar * softplus(-l);
        }
        if n_non > 0.0 {
            non += n_non * softplus(l);
        }
    }
    Ok((tar / set.n_pos as f64 + non / set.n_neg as f64) / (2.0 * core::f64::consts::LN_2))
}

/// One bin of a reliability diagram.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ReliabilityBin {
    /// Samples in the bin.
    pub count: usize,
    /// Mean predicted probability of bona fide.
    pub mean_predicted: f64,
    /// Fraction of bona fide samples.
    pub fraction_positive: f64,
}

/// Reliability diagram with quantile bins, as scikit-learn's
/// `calibration_curve(strategy="quantile")`: edges at the probabilities' percentiles (linear
/// interpolation), a sample goes to the first bin whose upper interior edge is ≥ it; empty bins
/// are left out.
pub fn reliability_quantile(
    probabilities: &[f64],
    bona_fide: &[bool],
    bins: usize,
) -> Result<Vec<ReliabilityBin>, CalibrationError> {
    check_probabilities("reliability diagram", probabilities, bona_fide)?;
    if bins == 0 {
        return Err(CalibrationError::InvalidArgument {
            what: "reliability bins",
            value: 0.0,
            expected: "at least 1",
        });
    }
    let mut sorted = probabilities.to_vec();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len();
    // Interior edges: the percentiles k/bins, k = 1..bins−1 (numpy's "linear" method).
    let edges: Vec<f64> = (1..bins)
        .map(|k| {
            let h = (n - 1) as f64 * k as f64 / bins as f64;
            let lo = libm::floor(h) as usize;
            let hi = (lo + 1).min(n - 1);
            let t = h - lo as f64;
            sorted[lo] + (sorted[hi] - sorted[lo]) * t
        })
        .collect();
    let mut acc = alloc::vec![(0usize, 0.0f64, 0.0f64); bins];
    for (&p, &y) in probabilities.iter().zip(bona_fide) {
        // searchsorted(side="left"): the number of interior edges < p.
        let b = edges.partition_point(|&e| e < p);
        acc[b].0 += 1;
        acc[b].1 += p;
        acc[b].2 += if y { 1.0 } else { 0.0 };
    }
    Ok(acc
        .into_iter()
        .filter(|a| a.0 > 0)
        .map(|(count, sum_p, sum_y)| ReliabilityBin {
            count,
            mean_predicted: sum_p / count as f64,
            fraction_positive: sum_y / count as f64,
        })
        .collect())
}

/// Expected calibration error over 15 quantile bins:
/// `Σ_b (n_b/n)·|fraction positive_b − mean predicted_b|`.
pub fn ece(probabilities: &[f64], bona_fide: &[bool]) -> Result<f64, CalibrationError> {
    ece_bins(probabilities, bona_fide, 15)
}

/// [`ece`] with another number of quantile bins.
pub fn ece_bins(
    probabilities: &[f64],
    bona_fide: &[bool],
    bins: usize,
) -> Result<f64, CalibrationError> {
    let diagram = reliability_quantile(probabilities, bona_fide, bins)?;
    let n = probabilities.len() as f64;
    Ok(diagram
        .iter()
        .map(|b| b.count as f64 / n * (b.fraction_positive - b.mean_predicted).abs())
        .sum())
}

/// Brier score: mean `(p − y)²`, y = 1 for bona fide.
pub fn brier(probabilities: &[f64], bona_fide: &[bool]) -> Result<f64, CalibrationError> {
    check_probabilities("Brier score", probabilities, bona_fide)?;
    let sum: f64 = probabilities
        .iter()
        .zip(bona_fide)
        .map(|(&p, &y)| {
            let d = p - if y { 1.0 } else { 0.0 };
            d * d
        })
        .sum();
    Ok(sum / probabilities.len() as f64)
}

/// Same lengths, not empty, every probability in [0, 1]. One class only is allowed here (a
/// reliability diagram of attacks alone is still defined).
fn check_probabilities(
    what: &'static str,
    probabilities: &[f64],
    bona_fide: &[bool],
) -> Result<(), CalibrationError> {
    if probabilities.len() != bona_fide.len() {
        return Err(CalibrationError::LengthMismatch {
            what,
            scores: probabilities.len(),
            labels: bona_fide.len(),
        });
    }
    if probabilities.is_empty() {
        return Err(CalibrationError::Empty { what });
    }
    for (index, &value) in probabilities.iter().enumerate() {
        if !(0.0..=1.0).contains(&value) {
            return Err(CalibrationError::ProbabilityOutOfRange { what, index, value });
        }
    }
    Ok(())
}

/// Inverse of the standard normal CDF (Acklam's rational approximation, relative error
/// < 1.2e-9); ±∞ at 0 and 1.
pub fn probit(p: f64) -> f64 {
    const A: [f64; 6] = [
        -3.969_683_028_665_376e1,
        2.209_460_984_245_205e2,
        -2.759_285_104_469_687e2,
        1.383_577_518_672_69e2,
        -3.066_479_806_614_716e1,
        2.506_628_277_459_239,
    ];
    const B: [f64; 5] = [
        -5.447_609_879_822_406e1,
        1.615_858_368_580_409e2,
        -1.556_989_798_598_866e2,
        6.680_131_188_771_972e1,
        -1.328_068_155_288_572e1,
    ];
    const C: [f64; 6] = [
        -7.784_894_002_430_293e-3,
        -3.223_964_580_411_365e-1,
        -2.400_758_277_161_838,
        -2.549_732_539_343_734,
        4.374_664_141_464_968,
        2.938_163_982_698_783,
    ];
    const D: [f64; 4] = [
        7.784_695_709_041_462e-3,
        3.224_671_290_700_398e-1,
        2.445_134_137_142_996,
        3.754_408_661_907_416,
    ];
    const LOW: f64 = 0.024_25;
    if p <= 0.0 {
        return f64::NEG_INFINITY;
    }
    if p >= 1.0 {
        return f64::INFINITY;
    }
    if p < LOW {
        let q = libm::sqrt(-2.0 * libm::log(p));
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    } else if p <= 1.0 - LOW {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    } else {
        -probit(1.0 - p)
    }
}
