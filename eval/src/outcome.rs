//! Session outcomes, their summary after ISO/IEC 30107-3 ([`crate::metrics`]) and the fusion
//! table CSV (one row per session: seed 000's feature-table groups).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use anyhow::{bail, Context, Result};
use liveproof_core::calibration::metrics as cal;
use liveproof_core::evidence::{ChallengeEvidence, SignalId};
use liveproof_core::fusion::LinearFusion;
use liveproof_core::policy::{Band, FlowType, RiskTier};
use liveproof_core::result::SessionResult;
use serde::{Deserialize, Serialize};

use crate::metrics::{self, BpcerAt, Rate, SweepPoint, TransactionRate};

/// Where a presentation comes from. The two are never pooled.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Origin {
    Synthetic,
    Real,
}

impl Origin {
    pub fn as_str(self) -> &'static str {
        match self {
            Origin::Synthetic => "SYNTHETIC",
            Origin::Real => "REAL",
        }
    }
}

/// The species name of bona fide presentations.
pub const BONA_FIDE: &str = "bona_fide";

/// One session's outcome, labelled.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Outcome {
    pub id: String,
    pub person: String,
    pub origin: Origin,
    /// `bona_fide` or the attack species.
    pub species: String,
    pub bona_fide: bool,
    pub flow: FlowType,
    pub tier: RiskTier,
    pub band: Band,
    /// Fused LLR; `None` when the policy decided before fusion.
    pub fused: Option<f64>,
    pub reasons: Vec<String>,
    /// `passed`, `failed: <failure>`, `incomplete`, `not_required`.
    pub challenge: String,
    pub frames: u32,
    pub usable_frames: u32,
    /// The quality gate's most frequent blocking hints.
    #[serde(default)]
    pub hints: Vec<String>,
    /// Calibrated LLR of each available signal.
    pub llrs: BTreeMap<SignalId, f64>,
    /// Raw score of each available signal.
    pub raws: BTreeMap<SignalId, f32>,
    /// Free text (what the capture was, why a real item behaves as it does).
    #[serde(default)]
    pub note: String,
}

impl Outcome {
    /// The outcome of one session.
    #[allow(clippy::too_many_arguments)]
    pub fn from_result(
        id: &str,
        person: &str,
        origin: Origin,
        species: &str,
        flow: FlowType,
        tier: RiskTier,
        r: &SessionResult,
        note: &str,
    ) -> Outcome {
        let challenge = match &r.challenge {
            ChallengeEvidence::NotRequired => "not_required".to_string(),
            ChallengeEvidence::Passed { .. } => "passed".to_string(),
            ChallengeEvidence::Failed { failure, .. } => {
                let f = serde_json::to_value(failure)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_else(|| format!("{failure:?}"));
                format!("failed: {f}")
            }
            ChallengeEvidence::Incomplete { .. } => "incomplete".to_string(),
        };
        Outcome {
            id: id.into(),
            person: person.into(),
            origin,
            species: species.into(),
            bona_fide: species == BONA_FIDE,
            flow,
            tier,
            band: r.band,
            fused: r.fused,
            reasons: r.reasons.iter().map(|c| c.as_str().to_string()).collect(),
            challenge,
            frames: r.quality.frames,
            usable_frames: r.quality.usable_frames,
            hints: r.quality.top_hints.clone(),
            llrs: r
                .signals
                .iter()
                .filter(|c| c.available)
                .map(|c| (c.signal, c.llr))
                .collect(),
            raws: r
                .signals
                .iter()
                .filter(|c| c.available)
                .filter_map(|c| c.raw.map(|v| (c.signal, v)))
                .collect(),
            note: note.into(),
        }
    }

    /// The passive evidence: `fusion` over the available signal LLRs (`None` without any).
    pub fn evidence(&self, fusion: &LinearFusion) -> Option<f64> {
        (!self.llrs.is_empty()).then(|| {
            fusion.bias
                + self
                    .llrs
                    .iter()
                    .map(|(s, v)| fusion.weights.get(s).copied().unwrap_or(0.0) * v)
                    .sum::<f64>()
        })
    }

    /// The sweep score: the fused LLR, `−∞` when decided before fusion.
    pub fn score(&self) -> f64 {
        self.fused.unwrap_or(f64::NEG_INFINITY)
    }
}

/// One attack species at the policy's operating point.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SpeciesRow {
    pub species: String,
    pub n: usize,
    pub pass: usize,
    pub retry: usize,
    pub fail: usize,
    /// Attacks passed / attacks presented.
    pub apcer: Rate,
    /// Attacks answered with retry / attacks presented.
    pub retry_rate: Rate,
    /// At least one of the policy's attempts passes (independent attempts).
    pub apcer_transaction: TransactionRate,
    /// EER of the fused-score sweep, bona fide against this species.
    pub eer: f64,
}

/// The bona fide presentations at the policy's operating point.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct BonaFideRow {
    pub n: usize,
    pub pass: usize,
    pub retry: usize,
    pub fail: usize,
    /// Bona fide failed / bona fide presented.
    pub bpcer: Rate,
    /// Bona fide answered with retry (non-response) / bona fide presented.
    pub retry_rate: Rate,
    /// Not passed (fail or retry) / bona fide presented.
    pub not_accepted: Rate,
    /// No pass in any of the policy's attempts (independent attempts).
    pub not_accepted_transaction: TransactionRate,
}

/// Calibration of the fused LLR over the presentations that reached fusion.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Calibration {
    pub n_bona_fide: usize,
    pub n_attack: usize,
    pub cllr: f64,
    pub min_cllr: f64,
    /// 10 quantile bins of p = sigmoid(fused) (prior 0.5).
    pub ece: f64,
    pub brier: f64,
    /// (mean predicted, fraction bona fide, count).
    pub bins: Vec<(f64, f64, usize)>,
}

/// Everything the report shows for one origin.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Summary {
    pub origin: Origin,
    /// Attempts per transaction (the policy's `max_consecutive_failures`).
    pub attempts: u32,
    pub bona_fide: BonaFideRow,
    pub species: Vec<SpeciesRow>,
    /// The species with the highest APCER and that APCER.
    pub apcer_max_species: String,
    pub apcer_max: Rate,
    pub bpcer20: BpcerAt,
    pub bpcer100: BpcerAt,
    /// EER of the sweep over all attack species pooled (a summary only; the per-species
    /// EERs are in `species`).
    pub eer_all: f64,
    pub eer_all_threshold: Option<f64>,
    /// ACER = (max APCER + BPCER) / 2: a legacy figure, not an ISO/IEC 30107-3 metric.
    pub acer_legacy: f64,
    pub calibration: Option<Calibration>,
    /// DET points per species (and `all attack species`).
    pub det: Vec<(String, Vec<SweepPoint>)>,
    /// The passive evidence alone, vetoes ignored.
    pub evidence: Option<EvidenceView>,
}

/// The passive evidence alone: the policy's linear fusion `b + Σ wᵢ·LLRᵢ` of the available
/// signal LLRs, for every presentation with at least one signal, whatever the policy then
/// decided (a veto, a failed challenge and poor quality are ignored). It shows what the
/// passive signals separate when the challenge and the quality gate are set aside.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct EvidenceView {
    pub n_bona_fide: usize,
    /// Per species: (species, presentations with a signal, EER).
    pub eer: Vec<(String, usize, f64)>,
    pub det: Vec<(String, Vec<SweepPoint>)>,
    pub calibration: Option<Calibration>,
}

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

/// Summarises the outcomes of one origin (`fusion`: the policy's linear fusion, for the
/// evidence view). Errors when there is no bona fide or no attack.
pub fn summarise(
    outcomes: &[Outcome],
    origin: Origin,
    attempts: u32,
    fusion: &LinearFusion,
) -> Result<Summary> {
    let of: Vec<&Outcome> = outcomes.iter().filter(|o| o.origin == origin).collect();
    let bf: Vec<&Outcome> = of.iter().copied().filter(|o| o.bona_fide).collect();
    let att: Vec<&Outcome> = of.iter().copied().filter(|o| !o.bona_fide).collect();
    if bf.is_empty() || att.is_empty() {
        bail!(
            "{}: {} bona fide and {} attack presentations; a summary needs both",
            origin.as_str(),
            bf.len(),
            att.len()
        );
    }
    let count = |v: &[&Outcome], b: Band| v.iter().filter(|o| o.band == b).count();
    let bf_scores: Vec<f64> = bf.iter().map(|o| o.score()).collect();
    let (bp, br, bfail) = (
        count(&bf, Band::Pass),
        count(&bf, Band::Retry),
        count(&bf, Band::Fail),
    );
    let not_accepted = Rate::new(br + bfail, bf.len());
    let bona_fide = BonaFideRow {
        n: bf.len(),
        pass: bp,
        retry: br,
        fail: bfail,
        bpcer: Rate::new(bfail, bf.len()),
        retry_rate: Rate::new(br, bf.len()),
        not_accepted_transaction: TransactionRate::all_fail(&not_accepted, attempts),
        not_accepted,
    };
    let mut names: Vec<String> = att.iter().map(|o| o.species.clone()).collect();
    names.sort();
    names.dedup();
    let mut species = Vec::new();
    let mut species_scores = Vec::new();
    let mut det = Vec::new();
    for name in &names {
        let v: Vec<&Outcome> = att.iter().copied().filter(|o| &o.species == name).collect();
        let scores: Vec<f64> = v.iter().map(|o| o.score()).collect();
        let apcer = Rate::new(count(&v, Band::Pass), v.len());
        species.push(SpeciesRow {
            species: name.clone(),
            n: v.len(),
            pass: count(&v, Band::Pass),
            retry: count(&v, Band::Retry),
            fail: count(&v, Band::Fail),
            apcer_transaction: TransactionRate::any_success(&apcer, attempts),
            apcer,
            retry_rate: Rate::new(count(&v, Band::Retry), v.len()),
            eer: metrics::eer(&bf_scores, &scores).0,
        });
        det.push((name.clone(), metrics::sweep(&bf_scores, &scores)));
        species_scores.push((name.clone(), scores));
    }
    let all_att: Vec<f64> = att.iter().map(|o| o.score()).collect();
    det.push((
        "all attack species".to_string(),
        metrics::sweep(&bf_scores, &all_att),
    ));
    let worst = species
        .iter()
        .max_by(|a, b| {
            a.apcer
                .rate
                .total_cmp(&b.apcer.rate)
                .then(b.species.cmp(&a.species))
        })
        .expect("at least one species");
    let (eer_all, eer_all_threshold) = metrics::eer(&bf_scores, &all_att);
    // Calibration over the presentations with a fused score.
    let fused: Vec<(f64, bool)> = of
        .iter()
        .filter_map(|o| o.fused.map(|f| (f, o.bona_fide)))
        .collect();
    let calibration = calibration_of(&fused);
    // The passive evidence alone.
    let ev = |v: &[&Outcome]| -> Vec<f64> { v.iter().filter_map(|o| o.evidence(fusion)).collect() };
    let ev_bf = ev(&bf);
    let evidence = (!ev_bf.is_empty()).then(|| {
        let mut det = Vec::new();
        let mut eer = Vec::new();
        for name in &names {
            let v: Vec<&Outcome> = att.iter().copied().filter(|o| &o.species == name).collect();
            let sc = ev(&v);
            if sc.is_empty() {
                continue;
            }
            eer.push((name.clone(), sc.len(), metrics::eer(&ev_bf, &sc).0));
            det.push((name.clone(), metrics::sweep(&ev_bf, &sc)));
        }
        let all = ev(&att);
        if !all.is_empty() {
            det.push((
                "all attack species".to_string(),
                metrics::sweep(&ev_bf, &all),
            ));
        }
        let labelled: Vec<(f64, bool)> = of
            .iter()
            .filter_map(|o| o.evidence(fusion).map(|e| (e, o.bona_fide)))
            .collect();
        EvidenceView {
            n_bona_fide: ev_bf.len(),
            eer,
            det,
            calibration: calibration_of(&labelled),
        }
    });
    Ok(Summary {
        evidence,
        origin,
        attempts,
        acer_legacy: 0.5 * (worst.apcer.rate + bona_fide.bpcer.rate),
        apcer_max_species: worst.species.clone(),
        apcer_max: worst.apcer.clone(),
        bpcer20: metrics::bpcer_at_apcer(&bf_scores, &species_scores, 0.05),
        bpcer100: metrics::bpcer_at_apcer(&bf_scores, &species_scores, 0.01),
        eer_all,
        eer_all_threshold,
        bona_fide,
        species,
        calibration,
        det,
    })
}

/// Cllr, minCllr, ECE (10 quantile bins), Brier and the reliability bins of fused LLRs;
/// `None` with one class only.
pub fn calibration_of(fused: &[(f64, bool)]) -> Option<Calibration> {
    let llr: Vec<f64> = fused.iter().map(|f| f.0).collect();
    let y: Vec<bool> = fused.iter().map(|f| f.1).collect();
    let npos = y.iter().filter(|b| **b).count();
    if npos == 0 || npos == y.len() {
        return None;
    }
    let p: Vec<f64> = llr.iter().map(|&l| sigmoid(l)).collect();
    let bins = cal::reliability_quantile(&p, &y, 10).ok()?;
    Some(Calibration {
        n_bona_fide: npos,
        n_attack: y.len() - npos,
        cllr: cal::cllr(&llr, &y).ok()?,
        min_cllr: cal::min_cllr(&llr, &y).ok()?,
        ece: cal::ece_bins(&p, &y, 10).ok()?,
        brier: cal::brier(&p, &y).ok()?,
        bins: bins
            .iter()
            .map(|b| (b.mean_predicted, b.fraction_positive, b.count))
            .collect(),
    })
}

/// The fusion table's columns before the per-signal ones.
const CSV_HEAD: [&str; 13] = [
    "capture_id",
    "person",
    "origin",
    "species",
    "label",
    "flow_type",
    "risk_tier",
    "retry_count",
    "band",
    "fused_llr",
    "challenge_passed",
    "usable_frames",
    "frames",
];

fn enum_str<T: Serialize>(v: &T) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

fn csv_cell(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// The fusion table: one row per session, seed 000's feature groups (base model scores as
/// calibrated LLRs `llr_<signal>` and raw scores `raw_<signal>`, quality, context, the
/// challenge flag), empty cells for missing signals. `train-fusion` reads it.
pub fn to_csv(outcomes: &[Outcome]) -> String {
    let mut out = CSV_HEAD.join(",");
    for s in SignalId::ALL {
        write!(out, ",llr_{}", s.as_str()).ok();
    }
    for s in SignalId::ALL {
        write!(out, ",raw_{}", s.as_str()).ok();
    }
    out.push('\n');
    for o in outcomes {
        let cells = [
            o.id.clone(),
            o.person.clone(),
            o.origin.as_str().to_string(),
            o.species.clone(),
            if o.bona_fide { "bona_fide" } else { "attack" }.to_string(),
            enum_str(&o.flow),
            enum_str(&o.tier),
            "0".to_string(),
            enum_str(&o.band),
            o.fused.map(|f| format!("{f:.6}")).unwrap_or_default(),
            match o.challenge.as_str() {
                "passed" => "true",
                "not_required" => "",
                _ => "false",
            }
            .to_string(),
            o.usable_frames.to_string(),
            o.frames.to_string(),
        ];
        let mut line: Vec<String> = cells.iter().map(|c| csv_cell(c)).collect();
        for s in SignalId::ALL {
            line.push(
                o.llrs
                    .get(&s)
                    .map(|v| format!("{v:.6}"))
                    .unwrap_or_default(),
            );
        }
        for s in SignalId::ALL {
            line.push(
                o.raws
                    .get(&s)
                    .map(|v| format!("{v:.6}"))
                    .unwrap_or_default(),
            );
        }
        out.push_str(&line.join(","));
        out.push('\n');
    }
    out
}

/// One row of a fusion table as `train-fusion` needs it.
#[derive(Clone, Debug, PartialEq)]
pub struct TableRow {
    pub capture_id: String,
    pub person: String,
    pub origin: String,
    pub species: String,
    pub bona_fide: bool,
    pub llrs: BTreeMap<SignalId, f64>,
}

fn split_csv_line(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                cur.push('"');
                chars.next();
            }
            ('"', _) => quoted = !quoted,
            (',', false) => out.push(std::mem::take(&mut cur)),
            _ => cur.push(c),
        }
    }
    out.push(cur);
    out
}

/// Reads a fusion table (the columns `person`, `label` and any `llr_<signal>`; others are
/// kept where known and otherwise ignored).
pub fn read_table(text: &str) -> Result<Vec<TableRow>> {
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let head = split_csv_line(lines.next().context("the fusion table is empty")?);
    let col = |name: &str| head.iter().position(|h| h.trim() == name);
    let person = col("person").context("the fusion table has no `person` column")?;
    let label = col("label").context("the fusion table has no `label` column")?;
    let (id, origin, species) = (col("capture_id"), col("origin"), col("species"));
    let mut llr_cols = Vec::new();
    for (i, h) in head.iter().enumerate() {
        if let Some(name) = h.trim().strip_prefix("llr_") {
            let s: SignalId = serde_json::from_value(serde_json::Value::String(name.into()))
                .with_context(|| format!("column `{h}`: `{name}` is not a LiveProof signal"))?;
            llr_cols.push((i, s));
        }
    }
    if llr_cols.is_empty() {
        bail!("the fusion table has no `llr_<signal>` column");
    }
    let mut rows = Vec::new();
    for (n, line) in lines.enumerate() {
        let c = split_csv_line(line);
        if c.len() != head.len() {
            bail!(
                "fusion table row {}: {} cells, expected {} (as the header)",
                n + 2,
                c.len(),
                head.len()
            );
        }
        let bona_fide = match c[label].trim() {
            "bona_fide" => true,
            "attack" => false,
            other => bail!(
                "fusion table row {}: label `{other}`, expected bona_fide or attack",
                n + 2
            ),
        };
        let mut llrs = BTreeMap::new();
        for &(i, s) in &llr_cols {
            let v = c[i].trim();
            if !v.is_empty() {
                let x: f64 = v.parse().with_context(|| {
                    format!("fusion table row {}: `{v}` is not a number", n + 2)
                })?;
                llrs.insert(s, x);
            }
        }
        let get = |i: Option<usize>| i.map(|i| c[i].trim().to_string()).unwrap_or_default();
        rows.push(TableRow {
            capture_id: get(id),
            person: c[person].trim().to_string(),
            origin: get(origin),
            species: get(species),
            bona_fide,
            llrs,
        });
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome(species: &str, band: Band, fused: Option<f64>) -> Outcome {
        Outcome {
            id: format!("{species}-{fused:?}"),
            person: "p".into(),
            origin: Origin::Synthetic,
            species: species.into(),
            bona_fide: species == BONA_FIDE,
            flow: FlowType::AccountOpening,
            tier: RiskTier::Medium,
            band,
            fused,
            reasons: vec![],
            challenge: "passed".into(),
            frames: 10,
            usable_frames: 10,
            hints: vec![],
            llrs: [(SignalId::Texture, fused.unwrap_or(0.0))]
                .into_iter()
                .collect(),
            raws: BTreeMap::new(),
            note: String::new(),
        }
    }

    #[test]
    fn summary_counts_per_species_and_never_pools_origins() {
        let mut v = vec![
            outcome(BONA_FIDE, Band::Pass, Some(3.0)),
            outcome(BONA_FIDE, Band::Pass, Some(2.5)),
            outcome(BONA_FIDE, Band::Retry, Some(0.0)),
            outcome(BONA_FIDE, Band::Fail, None),
            outcome("print", Band::Fail, None),
            outcome("print", Band::Fail, Some(-3.0)),
            outcome("replay", Band::Pass, Some(2.2)),
            outcome("replay", Band::Retry, Some(1.0)),
        ];
        let mut real = outcome("replay", Band::Pass, Some(5.0));
        real.origin = Origin::Real;
        v.push(real);
        let s = summarise(&v, Origin::Synthetic, 5, &LinearFusion::sum_rule()).unwrap();
        assert_eq!(
            (s.bona_fide.pass, s.bona_fide.retry, s.bona_fide.fail),
            (2, 1, 1)
        );
        assert_eq!(s.bona_fide.bpcer.rate, 0.25);
        assert_eq!(s.bona_fide.not_accepted.rate, 0.5);
        let replay = s.species.iter().find(|r| r.species == "replay").unwrap();
        assert_eq!((replay.n, replay.pass, replay.retry), (2, 1, 1));
        assert_eq!(s.apcer_max_species, "replay");
        assert_eq!(s.apcer_max.rate, 0.5);
        assert_eq!(s.acer_legacy, 0.375);
        // Per transaction (5 independent attempts): 1 − 0.5⁵.
        assert!((replay.apcer_transaction.rate - 0.96875).abs() < 1e-12);
        // BPCER20: the worst species' APCER ≤ 5 % needs t above 2.2 → t = 2.5: bona fide
        // −∞, 0.0 below → 2/4.
        assert_eq!(s.bpcer20.threshold, Some(2.5));
        assert_eq!(s.bpcer20.bpcer.errors, 2);
        // Real needs a bona fide of its own.
        assert!(summarise(&v, Origin::Real, 5, &LinearFusion::sum_rule()).is_err());
        // The evidence view ignores vetoes: the vetoed print (texture LLR 0) is in it.
        let e = s.evidence.as_ref().unwrap();
        assert_eq!(e.n_bona_fide, 4);
        assert_eq!(e.eer.iter().find(|x| x.0 == "print").unwrap().1, 2);
    }

    #[test]
    fn csv_round_trips_labels_and_llrs() {
        let v = vec![
            outcome(BONA_FIDE, Band::Pass, Some(3.0)),
            outcome("print", Band::Fail, None),
        ];
        let text = to_csv(&v);
        assert!(text.starts_with("capture_id,person,origin,species,label,"));
        let rows = read_table(&text).unwrap();
        assert_eq!(rows.len(), 2);
        assert!(rows[0].bona_fide && !rows[1].bona_fide);
        assert_eq!(rows[0].llrs.get(&SignalId::Texture), Some(&3.0));
        assert_eq!(rows[1].origin, "SYNTHETIC");
        assert!(read_table("person,label\nx,maybe\n").is_err());
    }
}
