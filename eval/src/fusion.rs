//! `train-fusion`: the logistic meta-model (issue #12 §4). Reads a fusion table (the CSV
//! `eval` writes), splits it person-disjoint, trains `core::fusion::train_logistic` (prior
//! 0.5, small L2) on the training persons and reports the hold-out persons' Cllr, minCllr and
//! EER before (the policy's current fusion) and after.

use std::collections::BTreeSet;

use anyhow::{bail, Result};
use liveproof_core::calibration::metrics as cal;
use liveproof_core::evidence::SignalId;
use liveproof_core::fusion::{
    train_logistic, FusionMethod, LinearFusion, TrainOptions, TrainingRow,
};
use serde::Serialize;

use crate::metrics;
use crate::outcome::TableRow;

/// Hold-out figures of one fusion.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct HoldOut {
    pub cllr: f64,
    pub min_cllr: f64,
    pub eer: f64,
}

/// What training found.
#[derive(Clone, Debug, Serialize)]
pub struct Trained {
    pub train_persons: Vec<String>,
    pub holdout_persons: Vec<String>,
    pub train_rows: (usize, usize),
    pub holdout_rows: (usize, usize),
    pub signals: Vec<SignalId>,
    pub before: HoldOut,
    pub after: HoldOut,
    /// The trained fusion in the policy's form (`"method": "logistic"`).
    pub fusion: FusionMethod,
}

/// The person-disjoint split: persons in sorted order, even positions train, odd hold out.
pub fn split_persons(rows: &[TableRow]) -> (BTreeSet<String>, BTreeSet<String>) {
    let persons: BTreeSet<String> = rows.iter().map(|r| r.person.clone()).collect();
    let mut train = BTreeSet::new();
    let mut hold = BTreeSet::new();
    for (i, p) in persons.into_iter().enumerate() {
        if i % 2 == 0 {
            train.insert(p);
        } else {
            hold.insert(p);
        }
    }
    (train, hold)
}

fn fused(l: &LinearFusion, r: &TableRow) -> f64 {
    l.bias
        + r.llrs
            .iter()
            .map(|(s, v)| l.weights.get(s).copied().unwrap_or(0.0) * v)
            .sum::<f64>()
}

/// Cllr, minCllr and EER of a linear fusion on rows.
pub fn holdout(l: &LinearFusion, rows: &[&TableRow]) -> Result<HoldOut> {
    let s: Vec<f64> = rows.iter().map(|r| fused(l, r)).collect();
    let y: Vec<bool> = rows.iter().map(|r| r.bona_fide).collect();
    let bf: Vec<f64> = s
        .iter()
        .zip(&y)
        .filter(|(_, b)| **b)
        .map(|(v, _)| *v)
        .collect();
    let att: Vec<f64> = s
        .iter()
        .zip(&y)
        .filter(|(_, b)| !**b)
        .map(|(v, _)| *v)
        .collect();
    Ok(HoldOut {
        cllr: cal::cllr(&s, &y)?,
        min_cllr: cal::min_cllr(&s, &y)?,
        eer: metrics::eer(&bf, &att).0,
    })
}

/// Trains on the SYNTHETIC rows of a fusion table (REAL rows are never pooled in; they are
/// left out), person-disjoint, leaving out the attack species in `exclude` (those the
/// passive signals are not meant to catch: a live capture for another seed, an injected
/// stream). `before` is the policy's current fusion.
pub fn train(
    rows: &[TableRow],
    before: &LinearFusion,
    l2: f64,
    exclude: &[String],
    describe: &str,
) -> Result<Trained> {
    let rows: Vec<TableRow> = rows
        .iter()
        .filter(|r| r.origin.is_empty() || r.origin == "SYNTHETIC")
        .filter(|r| !exclude.contains(&r.species))
        .filter(|r| !r.llrs.is_empty())
        .cloned()
        .collect();
    let (train_p, hold_p) = split_persons(&rows);
    let tr: Vec<&TableRow> = rows
        .iter()
        .filter(|r| train_p.contains(&r.person))
        .collect();
    let ho: Vec<&TableRow> = rows.iter().filter(|r| hold_p.contains(&r.person)).collect();
    let classes = |v: &[&TableRow]| {
        let b = v.iter().filter(|r| r.bona_fide).count();
        (b, v.len() - b)
    };
    let (ct, ch) = (classes(&tr), classes(&ho));
    if ct.0 == 0 || ct.1 == 0 || ch.0 == 0 || ch.1 == 0 {
        bail!(
            "train-fusion needs both classes on both sides of the person-disjoint split: \
             training {} bona fide / {} attack, hold-out {} / {}",
            ct.0,
            ct.1,
            ch.0,
            ch.1
        );
    }
    let signals: Vec<SignalId> = SignalId::ALL
        .into_iter()
        .filter(|s| tr.iter().any(|r| r.llrs.contains_key(s)))
        .collect();
    let training: Vec<TrainingRow> = tr
        .iter()
        .map(|r| TrainingRow {
            llrs: r.llrs.clone(),
            bona_fide: r.bona_fide,
        })
        .collect();
    let lin = train_logistic(
        &training,
        &TrainOptions {
            signals: signals.clone(),
            l2,
            ..TrainOptions::default()
        },
    )?;
    let after = holdout(&lin, &ho)?;
    let excluded = if exclude.is_empty() {
        String::new()
    } else {
        format!(" (species {} left out)", exclude.join(", "))
    };
    let trained_on = format!(
        "{describe}{excluded}; trained person-disjoint on persons [{}] ({} bona fide, {} attack rows), \
         hold-out persons [{}] ({} bona fide, {} attack rows): hold-out Cllr {:.3} -> {:.3} bits, \
         minCllr {:.3} -> {:.3}, EER {:.1} % -> {:.1} %; prior 0.5, L2 {l2}",
        train_p.iter().cloned().collect::<Vec<_>>().join(", "),
        ct.0,
        ct.1,
        hold_p.iter().cloned().collect::<Vec<_>>().join(", "),
        ch.0,
        ch.1,
        holdout(before, &ho)?.cllr,
        after.cllr,
        holdout(before, &ho)?.min_cllr,
        after.min_cllr,
        100.0 * holdout(before, &ho)?.eer,
        100.0 * after.eer
    );
    Ok(Trained {
        train_persons: train_p.into_iter().collect(),
        holdout_persons: hold_p.into_iter().collect(),
        train_rows: ct,
        holdout_rows: ch,
        signals,
        before: holdout(before, &ho)?,
        after,
        fusion: FusionMethod::Logistic {
            bias: lin.bias,
            weights: lin.weights,
            trained_on,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(person: &str, bona_fide: bool, tex: f64, fft: f64) -> TableRow {
        TableRow {
            capture_id: String::new(),
            person: person.into(),
            origin: "SYNTHETIC".into(),
            species: String::new(),
            bona_fide,
            llrs: [(SignalId::Texture, tex), (SignalId::Fft, fft)]
                .into_iter()
                .collect(),
        }
    }

    #[test]
    fn split_is_person_disjoint_and_training_beats_a_miscalibrated_sum() {
        // Texture separates but is over-confident (×4); FFT is noise. The trained fusion must
        // shrink both and lower the hold-out Cllr.
        let mut rows = Vec::new();
        for p in 0..6 {
            let person = format!("p{p}");
            for k in 0..10 {
                let u = (k as f64 - 4.5) / 4.5;
                rows.push(row(&person, true, 4.0 * (1.0 + 0.8 * u), 3.0 * u));
                rows.push(row(&person, false, 4.0 * (-1.0 + 0.8 * u), -3.0 * u));
            }
        }
        let (a, b) = split_persons(&rows);
        assert!(a.is_disjoint(&b));
        assert_eq!(a.len() + b.len(), 6);
        let t = train(&rows, &LinearFusion::sum_rule(), 1e-3, &[], "test table").unwrap();
        assert!(
            t.after.cllr < t.before.cllr,
            "{:?} vs {:?}",
            t.after,
            t.before
        );
        match &t.fusion {
            FusionMethod::Logistic {
                weights,
                trained_on,
                ..
            } => {
                assert!(weights[&SignalId::Texture] > 0.0);
                assert!(weights[&SignalId::Fft].abs() < weights[&SignalId::Texture]);
                assert!(trained_on.contains("person-disjoint"));
            }
            other => panic!("{other:?}"),
        }
    }
}
