//! ISO/IEC 30107-3:2023 figures on labelled session outcomes: APCER per attack species and
//! its maximum, BPCER, BPCER20 / BPCER100 from a threshold sweep, EER, the retry
//! (non-response) rate, per attempt and per transaction; every count with a 95 % Wilson score
//! interval, and the rule of three (upper bound 3/n) where there are no errors.
//!
//! Scores for the sweep are fused LLRs (natural log, higher = more bona fide). A presentation
//! the policy decided before fusion (a veto, a failed or incomplete challenge, poor quality)
//! has no fused score and is given `−∞`: no threshold accepts it.

use serde::Serialize;

/// 95 % two-sided normal quantile.
pub const Z95: f64 = 1.959_963_984_540_054;

/// An error count over `n` presentations with its 95 % interval.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Rate {
    pub errors: usize,
    pub n: usize,
    /// `errors / n` (0 when `n` = 0).
    pub rate: f64,
    /// Wilson score interval, 95 %.
    pub lo: f64,
    pub hi: f64,
    /// With no errors: the rule of three's 95 % upper bound `3 / n` (else `None`).
    pub rule_of_three: Option<f64>,
}

impl Rate {
    pub fn new(errors: usize, n: usize) -> Rate {
        let (lo, hi) = wilson(errors, n, Z95);
        Rate {
            errors,
            n,
            rate: if n == 0 {
                0.0
            } else {
                errors as f64 / n as f64
            },
            lo,
            hi,
            rule_of_three: (errors == 0 && n > 0).then(|| (3.0 / n as f64).min(1.0)),
        }
    }

    /// "12.5 % (3/24; 95 % CI 4.3–31.0 %)", or with no errors "0 % (0/24; ≤ 12.5 % by the
    /// rule of three)".
    pub fn display(&self) -> String {
        if self.n == 0 {
            return "n/a (no presentations)".into();
        }
        match self.rule_of_three {
            Some(r3) => format!("0 % (0/{}; ≤ {} by the rule of three)", self.n, pct(r3)),
            None => format!(
                "{} ({}/{}; 95 % CI {}–{})",
                pct(self.rate),
                self.errors,
                self.n,
                pct_bare(self.lo),
                pct(self.hi)
            ),
        }
    }
}

/// A proportion as a percentage with one decimal: "12.5 %".
pub fn pct(p: f64) -> String {
    format!("{} %", pct_bare(p))
}

fn pct_bare(p: f64) -> String {
    format!("{:.1}", 100.0 * p)
}

/// Wilson score interval for `k` successes in `n` trials at normal quantile `z`; `(0, 1)` for
/// `n` = 0.
pub fn wilson(k: usize, n: usize, z: f64) -> (f64, f64) {
    if n == 0 {
        return (0.0, 1.0);
    }
    let (k, n) = (k as f64, n as f64);
    let p = k / n;
    let z2 = z * z;
    let den = 1.0 + z2 / n;
    let centre = (p + z2 / (2.0 * n)) / den;
    let half = z * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt() / den;
    ((centre - half).max(0.0), (centre + half).min(1.0))
}

/// Share of `attack` scores at or above `t` (accepted as bona fide).
pub fn apcer_at(attack: &[f64], t: f64) -> f64 {
    if attack.is_empty() {
        return 0.0;
    }
    attack.iter().filter(|&&s| s >= t).count() as f64 / attack.len() as f64
}

/// Share of `bona_fide` scores below `t` (not accepted).
pub fn bpcer_at(bona_fide: &[f64], t: f64) -> f64 {
    if bona_fide.is_empty() {
        return 0.0;
    }
    bona_fide.iter().filter(|&&s| s < t).count() as f64 / bona_fide.len() as f64
}

/// The thresholds where a rate can change: every distinct finite score, ascending, then `+∞`
/// (accepts nothing).
pub fn thresholds(scores: &[&[f64]]) -> Vec<f64> {
    let mut t: Vec<f64> = scores
        .iter()
        .flat_map(|s| s.iter().copied())
        .filter(|s| s.is_finite())
        .collect();
    t.sort_by(|a, b| a.total_cmp(b));
    t.dedup();
    t.push(f64::INFINITY);
    t
}

/// One operating point of the sweep.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SweepPoint {
    /// Accept at `score ≥ threshold` (`None` = +∞: accept nothing).
    pub threshold: Option<f64>,
    pub apcer: f64,
    pub bpcer: f64,
}

/// APCER and BPCER at every threshold of [`thresholds`] (the DET curve's points).
pub fn sweep(bona_fide: &[f64], attack: &[f64]) -> Vec<SweepPoint> {
    thresholds(&[bona_fide, attack])
        .into_iter()
        .map(|t| SweepPoint {
            threshold: t.is_finite().then_some(t),
            apcer: apcer_at(attack, t),
            bpcer: bpcer_at(bona_fide, t),
        })
        .collect()
}

/// Equal error rate: the smallest `max(APCER, BPCER)` over the sweep's thresholds (on a
/// finite set the two rates rarely meet exactly; this is the conservative reading), with the
/// threshold where it is reached.
pub fn eer(bona_fide: &[f64], attack: &[f64]) -> (f64, Option<f64>) {
    sweep(bona_fide, attack)
        .into_iter()
        .map(|p| (p.apcer.max(p.bpcer), p.threshold))
        .min_by(|a, b| a.0.total_cmp(&b.0))
        .unwrap_or((0.0, None))
}

/// BPCER at the lowest threshold where every species' APCER is at most `target`
/// (ISO/IEC 30107-3's BPCER20 at 0.05, BPCER100 at 0.01).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct BpcerAt {
    pub target_apcer: f64,
    /// `None`: +∞ (only rejecting everything meets the target).
    pub threshold: Option<f64>,
    pub bpcer: Rate,
    /// The species whose APCER is highest at that threshold.
    pub worst_species: String,
    pub worst_apcer: f64,
}

pub fn bpcer_at_apcer(bona_fide: &[f64], species: &[(String, Vec<f64>)], target: f64) -> BpcerAt {
    let mut all: Vec<&[f64]> = species.iter().map(|(_, s)| s.as_slice()).collect();
    all.push(bona_fide);
    let worst = |t: f64| {
        species
            .iter()
            .map(|(name, s)| (name.clone(), apcer_at(s, t)))
            .max_by(|a, b| a.1.total_cmp(&b.1).then(b.0.cmp(&a.0)))
            .unwrap_or_default()
    };
    for t in thresholds(&all) {
        let (name, a) = worst(t);
        if a <= target + 1e-12 {
            let errors = bona_fide.iter().filter(|&&s| s < t).count();
            return BpcerAt {
                target_apcer: target,
                threshold: t.is_finite().then_some(t),
                bpcer: Rate::new(errors, bona_fide.len()),
                worst_species: name,
                worst_apcer: a,
            };
        }
    }
    unreachable!("+∞ accepts no attack")
}

/// The chance that at least one of `attempts` independent attempts happens, each with
/// probability `p`: `1 − (1 − p)^attempts`.
pub fn any_of(p: f64, attempts: u32) -> f64 {
    1.0 - (1.0 - p.clamp(0.0, 1.0)).powi(attempts as i32)
}

/// A per-transaction figure from a per-attempt rate under the independent-attempts model:
/// the point value and the interval bounds are mapped through [`any_of`] (monotone).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TransactionRate {
    pub attempts: u32,
    pub rate: f64,
    pub lo: f64,
    pub hi: f64,
}

impl TransactionRate {
    /// The transaction succeeds for the presenter when any attempt does (`per_attempt` is the
    /// per-attempt success rate: APCER for an attack, the pass rate for a bona fide user).
    pub fn any_success(per_attempt: &Rate, attempts: u32) -> TransactionRate {
        let hi = per_attempt.rule_of_three.unwrap_or(per_attempt.hi);
        TransactionRate {
            attempts,
            rate: any_of(per_attempt.rate, attempts),
            lo: any_of(per_attempt.lo, attempts),
            hi: any_of(hi, attempts),
        }
    }

    /// The transaction fails for the presenter when every attempt does (`per_attempt_fail`:
    /// the per-attempt share not accepted).
    pub fn all_fail(per_attempt_fail: &Rate, attempts: u32) -> TransactionRate {
        let f = |p: f64| p.clamp(0.0, 1.0).powi(attempts as i32);
        TransactionRate {
            attempts,
            rate: f(per_attempt_fail.rate),
            lo: f(per_attempt_fail.lo),
            hi: f(per_attempt_fail.hi),
        }
    }

    pub fn display(&self) -> String {
        format!(
            "{} (95 % CI {}–{})",
            pct(self.rate),
            pct_bare(self.lo),
            pct(self.hi)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol
    }

    #[test]
    fn wilson_matches_hand_computed_intervals() {
        // k = 3, n = 24, z = 1.96: centre (0.125 + 0.08003)/1.16006 = 0.17674, half-width
        // 1.96·sqrt(0.125·0.875/24 + 3.8415/2304)/1.16006 = 0.13330 → (0.0434, 0.3100).
        let (lo, hi) = wilson(3, 24, Z95);
        assert!(
            close(lo, 0.0434, 5e-4) && close(hi, 0.3100, 5e-4),
            "{lo} {hi}"
        );
        // k = 0, n = 10: (0, z²/(n + z²)) = (0, 0.2775).
        let (lo, hi) = wilson(0, 10, Z95);
        assert!(lo == 0.0 && close(hi, 0.2775, 5e-4), "{lo} {hi}");
        assert_eq!(wilson(0, 0, Z95), (0.0, 1.0));
    }

    #[test]
    fn rule_of_three_only_without_errors() {
        let r = Rate::new(0, 30);
        assert_eq!(r.rule_of_three, Some(0.1));
        assert_eq!(r.display(), "0 % (0/30; ≤ 10.0 % by the rule of three)");
        let r = Rate::new(3, 24);
        assert_eq!(r.rule_of_three, None);
        assert_eq!(r.display(), "12.5 % (3/24; 95 % CI 4.3–31.0 %)");
    }

    #[test]
    fn sweep_eer_and_bpcer_at_apcer_on_a_hand_made_set() {
        let bf = [1.0, 2.0, 3.0, 4.0, f64::NEG_INFINITY];
        let att = [-1.0, 0.0, 1.5, 2.5];
        // t = 1.5: attacks 1.5, 2.5 accepted (2/4); bona fide −∞, 1.0 rejected (2/5).
        assert_eq!(apcer_at(&att, 1.5), 0.5);
        assert_eq!(bpcer_at(&bf, 1.5), 0.4);
        // t = 2.5: APCER 1/4, BPCER 3/5 → max 0.6; t = 2.0: 1/4 vs 2/5 → max 0.4 (the min).
        let (e, t) = eer(&bf, &att);
        assert_eq!((e, t), (0.4, Some(2.0)));
        // Two species: APCER ≤ 0 needs t above 2.5 → t = 3.0, BPCER 3/5.
        let sp = vec![
            ("a".to_string(), vec![-1.0, 2.5]),
            ("b".to_string(), vec![0.0, 1.5]),
        ];
        let b = bpcer_at_apcer(&bf, &sp, 0.0);
        assert_eq!(b.threshold, Some(3.0));
        assert_eq!((b.bpcer.errors, b.bpcer.n), (3, 5));
        // APCER ≤ 0.5 per species: t = 0.0 gives a 1/2 and b 2/2; t = 1.0 gives 1/2 and 1/2.
        let b = bpcer_at_apcer(&bf, &sp, 0.5);
        assert_eq!(b.threshold, Some(1.0));
        assert_eq!(b.bpcer.errors, 1);
        assert_eq!(b.worst_apcer, 0.5);
        // Everything vetoed: only +∞ meets the target.
        let b = bpcer_at_apcer(
            &[f64::NEG_INFINITY],
            &[("x".into(), vec![f64::NEG_INFINITY])],
            0.0,
        );
        assert_eq!(b.threshold, None);
        assert_eq!(b.bpcer.errors, 1);
    }

    #[test]
    fn transactions_under_independent_attempts() {
        // APCER 10 % per attempt, 5 attempts: 1 − 0.9⁵ = 0.40951.
        assert!(close(any_of(0.1, 5), 0.40951, 1e-9));
        let r = Rate::new(0, 30);
        let t = TransactionRate::any_success(&r, 5);
        assert_eq!(t.rate, 0.0);
        // The rule of three's 10 % becomes 1 − 0.9⁵.
        assert!(close(t.hi, 0.40951, 1e-9));
        let fail = Rate::new(1, 2);
        let t = TransactionRate::all_fail(&fail, 3);
        assert!(close(t.rate, 0.125, 1e-12));
    }
}
