//! Parity of `core::calibration` with scikit-learn (the reference venv of
//! `cargo xtask setup --reference`, run through `xtask/py/calibration_ref.py`): Platt's A and B
//! against `_sigmoid_calibration`, isotonic predictions against
//! `IsotonicRegression(out_of_bounds="clip")`, on deterministic datasets made here.

use liveproof_core::calibration::{Calibrator, Isotonic, Method, Platt};
use serde_json::{json, Value};

/// A small deterministic generator (PCG-style LCG), so every run sees the same data.
struct Lcg(u64);

impl Lcg {
    fn uniform(&mut self) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Irwin–Hall (sum of 4 uniforms): roughly Gaussian with this mean and sd.
    fn gaussianish(&mut self, mean: f64, sd: f64) -> f64 {
        let s: f64 = (0..4).map(|_| self.uniform()).sum();
        // Sum of 4 U(0,1): mean 2, variance 4/12.
        mean + sd * (s - 2.0) / (4.0f64 / 12.0).sqrt()
    }
}

struct Dataset {
    name: &'static str,
    scores: Vec<f64>,
    labels: Vec<bool>,
}

fn datasets() -> Vec<Dataset> {
    let mut out = Vec::new();
    let mut r = Lcg(12);
    // Overlapping classes on [0, 1]-ish scores, balanced.
    let (mut s, mut l) = (Vec::new(), Vec::new());
    for i in 0..600 {
        let bona_fide = i % 2 == 0;
        let m = if bona_fide { 0.62 } else { 0.42 };
        s.push(r.gaussianish(m, 0.12));
        l.push(bona_fide);
    }
    out.push(Dataset {
        name: "overlap_600",
        scores: s,
        labels: l,
    });
    // Tiny set: five samples, overlapping.
    out.push(Dataset {
        name: "tiny_5",
        scores: vec![0.2, 0.35, 0.4, 0.6, 0.9],
        labels: vec![false, true, false, true, true],
    });
    // Many ties: scores quantised to 0.05, bona fide 2:1.
    let (mut s, mut l) = (Vec::new(), Vec::new());
    for i in 0..300 {
        let bona_fide = i % 3 != 0;
        let m = if bona_fide { 0.6 } else { 0.45 };
        let v = r.gaussianish(m, 0.15).clamp(0.0, 1.0);
        s.push((v * 20.0).round() / 20.0);
        l.push(bona_fide);
    }
    out.push(Dataset {
        name: "ties_300",
        scores: s,
        labels: l,
    });
    // Separable: attacks in [0.05, 0.45], bona fide in [0.55, 0.95].
    let (mut s, mut l) = (Vec::new(), Vec::new());
    for i in 0..40 {
        let bona_fide = i % 2 == 1;
        let base = if bona_fide { 0.55 } else { 0.05 };
        s.push(base + 0.4 * r.uniform());
        l.push(bona_fide);
    }
    out.push(Dataset {
        name: "separable_40",
        scores: s,
        labels: l,
    });
    // Large and imbalanced (10 % attacks) on a wide scale (|score| up to ~60: scikit-learn
    // rescales scores >= 30 before its fit).
    let (mut s, mut l) = (Vec::new(), Vec::new());
    for i in 0..2000 {
        let bona_fide = i % 10 != 0;
        let m = if bona_fide { 12.0 } else { -8.0 };
        s.push(r.gaussianish(m, 14.0));
        l.push(bona_fide);
    }
    out.push(Dataset {
        name: "wide_imbalanced_2000",
        scores: s,
        labels: l,
    });
    out
}

/// 241 evenly spaced points over the score range ±10 %, plus every training score (the knots).
fn grid(scores: &[f64]) -> Vec<f64> {
    let lo = scores.iter().cloned().fold(f64::INFINITY, f64::min);
    let hi = scores.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    let pad = 0.1 * (hi - lo);
    let mut g: Vec<f64> = (0..=240)
        .map(|k| lo - pad + (hi - lo + 2.0 * pad) * k as f64 / 240.0)
        .collect();
    g.extend_from_slice(scores);
    g
}

fn run_reference(input: &Value) -> Value {
    let script = liveproof_tests::ref_script("calibration_ref.py");
    let dir = std::env::temp_dir().join(format!("liveproof-calibration-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("datasets.json");
    std::fs::write(&path, serde_json::to_vec(input).unwrap()).unwrap();
    let out = std::process::Command::new(liveproof_tests::ref_python())
        .arg(&script)
        .arg(&path)
        .output()
        .unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        out.status.success(),
        "calibration reference failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn floats(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

#[test]
fn platt_and_isotonic_match_scikit_learn() {
    let sets = datasets();
    let input = json!({
        "datasets": sets.iter().map(|d| json!({
            "name": d.name,
            "scores": d.scores,
            "labels": d.labels.iter().map(|&b| u8::from(b)).collect::<Vec<_>>(),
            "grid": grid(&d.scores),
        })).collect::<Vec<_>>()
    });
    let reference = run_reference(&input);
    println!("reference: {}", reference["versions"]);
    let mut worst_platt_rel: f64 = 0.0;
    let mut worst_iso: f64 = 0.0;
    for (d, r) in sets.iter().zip(reference["datasets"].as_array().unwrap()) {
        assert_eq!(r["name"], d.name);
        let n_pos = d.labels.iter().filter(|&&b| b).count();
        // Platt.
        let ours = Platt::fit(&d.scores, &d.labels).unwrap();
        let (ra, rb) = (
            r["platt"]["a"].as_f64().unwrap(),
            r["platt"]["b"].as_f64().unwrap(),
        );
        let (da, db) = ((ours.a - ra).abs(), (ours.b - rb).abs());
        let (rel_a, rel_b) = (da / ra.abs().max(1e-12), db / rb.abs().max(1e-12));
        println!(
            "{:>22} n={:<4} (bona fide {n_pos}): Platt A {:+.9} vs sklearn {:+.9} (|Δ| {da:.2e}, \
             rel {rel_a:.2e}); B {:+.9} vs {:+.9} (|Δ| {db:.2e}, rel {rel_b:.2e}); {} Newton steps",
            d.name,
            d.scores.len(),
            ours.a,
            ra,
            ours.b,
            rb,
            ours.iterations
        );
        worst_platt_rel = worst_platt_rel.max(rel_a.min(da)).max(rel_b.min(db));
        assert!(
            da <= 1e-4 || rel_a <= 1e-3,
            "{}: A {} vs {ra}",
            d.name,
            ours.a
        );
        assert!(
            db <= 1e-4 || rel_b <= 1e-3,
            "{}: B {} vs {rb}",
            d.name,
            ours.b
        );
        // Isotonic.
        let iso = Isotonic::fit(&d.scores, &d.labels).unwrap();
        let g = grid(&d.scores);
        let theirs = floats(&r["isotonic"]["grid"]);
        assert_eq!(theirs.len(), g.len());
        let max_diff = g
            .iter()
            .zip(&theirs)
            .map(|(&x, &t)| (iso.predict(x) - t).abs())
            .fold(0.0, f64::max);
        let (rx, ry) = (floats(&r["isotonic"]["x"]), floats(&r["isotonic"]["y"]));
        println!(
            "{:>22} isotonic: {} thresholds (sklearn {}), max |Δ| over {} grid points {max_diff:.2e}",
            "",
            iso.x.len(),
            rx.len(),
            g.len()
        );
        if iso.x.len() == rx.len() {
            let dx = iso
                .x
                .iter()
                .zip(&rx)
                .map(|(a, b)| (a - b).abs())
                .fold(0.0, f64::max);
            let dy = iso
                .p
                .iter()
                .zip(&ry)
                .map(|(a, b)| (a - b).abs())
                .fold(0.0, f64::max);
            println!("{:>22} thresholds max |Δx| {dx:.2e}, |Δy| {dy:.2e}", "");
        }
        worst_iso = worst_iso.max(max_diff);
        assert!(max_diff <= 1e-9, "{}: isotonic max |Δ| {max_diff}", d.name);
        // fit_auto: isotonic from 1,000 samples.
        let auto = Calibrator::fit_auto(&d.scores, &d.labels).unwrap();
        let want = if d.scores.len() >= 1000 {
            Method::Isotonic
        } else {
            Method::Platt
        };
        assert_eq!(auto.method(), want, "{}", d.name);
    }
    println!(
        "worst Platt difference (min of abs, rel per parameter) {worst_platt_rel:.2e}; worst \
         isotonic prediction |Δ| {worst_iso:.2e}"
    );
}
