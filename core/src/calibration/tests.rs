//! Unit tests on small hand-computed examples. Parity with scikit-learn on larger sets is in
//! `tests/tests/calibration_parity.rs`.

use alloc::vec;
use alloc::vec::Vec;

use super::metrics::{brier, cllr, ece, ece_bins, min_cllr, reliability_quantile};
use super::*;

const LN2: f64 = core::f64::consts::LN_2;

fn close(a: f64, b: f64, tol: f64) -> bool {
    (a - b).abs() <= tol
}

/// The stationarity conditions of Platt's smoothed cross-entropy: Σ(p − T)·f = Σ(p − T) = 0.
fn platt_gradient(p: &Platt, scores: &[f64], labels: &[bool]) -> (f64, f64) {
    let n_pos = labels.iter().filter(|&&y| y).count() as f64;
    let n_neg = labels.len() as f64 - n_pos;
    let (mut ga, mut gb) = (0.0, 0.0);
    for (&f, &y) in scores.iter().zip(labels) {
        let t = if y {
            (n_pos + 1.0) / (n_pos + 2.0)
        } else {
            1.0 / (n_neg + 2.0)
        };
        let d = p.probability(f) - t;
        ga += d * f;
        gb += d;
    }
    (ga, gb)
}

#[test]
fn platt_two_points_hits_the_smoothed_targets_exactly() {
    // Two distinct scores, one per class: the sigmoid can pass through both targets, so the
    // minimum has p(0) = T₋ = 1/3 and p(1) = T₊ = 2/3, i.e. A·0 + B = ln 2, A + B = −ln 2.
    let p = Platt::fit(&[0.0, 1.0], &[false, true]).unwrap();
    assert!(close(p.b, LN2, 1e-12), "B = {}", p.b);
    assert!(close(p.a, -2.0 * LN2, 1e-12), "A = {}", p.a);
    assert!(close(p.probability(0.0), 1.0 / 3.0, 1e-12));
}

#[test]
fn platt_overlapping_set_is_stationary_and_scale_invariant() {
    let scores = [0.1, 0.3, 0.35, 0.5, 0.55, 0.6, 0.7, 0.9, 0.2, 0.8];
    let labels = [
        false, false, true, false, true, true, true, true, false, false,
    ];
    let p = Platt::fit(&scores, &labels).unwrap();
    let (ga, gb) = platt_gradient(&p, &scores, &labels);
    assert!(
        ga.abs() < 1e-12 && gb.abs() < 1e-12,
        "gradient ({ga}, {gb})"
    );
    assert!(
        p.a < 0.0,
        "higher score = more bona fide, so A < 0: {}",
        p.a
    );
    // Scores ×100 + 7: A scales by 1/100, B absorbs the shift; same probabilities.
    let scaled: Vec<f64> = scores.iter().map(|s| s * 100.0 + 7.0).collect();
    let q = Platt::fit(&scaled, &labels).unwrap();
    for (&s, &t) in scores.iter().zip(&scaled) {
        assert!(close(p.probability(s), q.probability(t), 1e-12));
    }
}

#[test]
fn platt_rejects_bad_sets_with_typed_errors() {
    use CalibrationError as E;
    assert!(matches!(Platt::fit(&[], &[]), Err(E::Empty { .. })));
    assert!(matches!(
        Platt::fit(&[0.1, 0.2], &[true]),
        Err(E::LengthMismatch {
            scores: 2,
            labels: 1,
            ..
        })
    ));
    assert!(matches!(
        Platt::fit(&[0.1, 0.2], &[true, true]),
        Err(E::OneClass {
            n_pos: 2,
            n_neg: 0,
            ..
        })
    ));
    assert!(matches!(
        Platt::fit(&[0.1, f64::NAN], &[true, false]),
        Err(E::NonFinite { index: 1, .. })
    ));
    assert!(matches!(
        Platt::fit(&[0.1, f64::INFINITY], &[true, false]),
        Err(E::NonFinite { index: 1, .. })
    ));
    assert!(matches!(
        Platt::fit(&[0.4, 0.4, 0.4], &[true, false, true]),
        Err(E::ConstantScores { n: 3, .. })
    ));
    let msg = Platt::fit(&[0.1, 0.2], &[true]).unwrap_err().to_string();
    assert!(msg.contains("2 scores but 1 labels"), "{msg}");
}

#[test]
fn isotonic_pools_violators_and_averages_ties() {
    // Ties at 0.2 (labels 0, 1 → 0.5) and at 0.5 (1, 0, 0 → 1/3): y over unique x is
    // [0, 0.5, 1, 1/3, 1]; PAV pools (1, 1/3) with weights (1, 3) → 0.5, then pools with the
    // 0.5 before it: (0.5·2 + 0.5·4)/6 = 0.5.
    let scores = [0.1, 0.2, 0.2, 0.3, 0.5, 0.5, 0.5, 0.9];
    let labels = [false, false, true, true, true, false, false, true];
    let iso = Isotonic::fit(&scores, &labels).unwrap();
    // Points with equal neighbours are trimmed: 0.2 and 0.5 stay as the ends of the flat run.
    assert_eq!(iso.x, vec![0.1, 0.2, 0.5, 0.9]);
    for (got, want) in iso.p.iter().zip([0.0, 0.5, 0.5, 1.0]) {
        assert!(close(*got, want, 1e-15), "{:?}", iso.p);
    }
    // Linear in between, clipped outside.
    assert!(close(iso.predict(0.15), 0.25, 1e-15));
    assert!(close(iso.predict(0.7), 0.75, 1e-15));
    assert_eq!(iso.predict(-5.0), 0.0);
    assert_eq!(iso.predict(5.0), 1.0);
}

#[test]
fn isotonic_single_distinct_score_predicts_the_class_ratio() {
    let iso = Isotonic::fit(&[0.3, 0.3, 0.3, 0.3], &[true, false, false, false]).unwrap();
    assert_eq!(iso.x, vec![0.3]);
    assert!(close(iso.predict(0.9), 0.25, 1e-15));
}

#[test]
fn llr_removes_the_prior_log_odds_and_is_clamped() {
    // Isotonic on a separable set: p = 0 below, 1 above → LLR clamped to ∓10.
    let scores = [0.1, 0.2, 0.3, 0.7, 0.8, 0.9, 0.95, 0.99];
    let labels = [false, false, false, true, true, true, true, true];
    let c = Calibrator::fit_isotonic(&scores, &labels).unwrap();
    assert_eq!(c.method(), Method::Isotonic);
    assert_eq!((c.n_pos, c.n_neg), (5, 3));
    assert_eq!(c.llr(0.0).unwrap(), -LLR_LIMIT);
    assert_eq!(c.llr(1.0).unwrap(), LLR_LIMIT);
    // Halfway between 0.3 (p 0) and 0.7 (p 1): p = 0.5, logit 0, LLR = −ln(5/3).
    assert!(close(c.llr(0.5).unwrap(), -(5.0f64 / 3.0).ln(), 1e-12));
    // Platt: LLR = −(A·f + B) − ln(N₊/N₋).
    let overlap = [0.1, 0.4, 0.35, 0.8, 0.3, 0.9, 0.6, 0.2];
    let p = Calibrator::fit_platt(&overlap, &labels).unwrap();
    let ScoreMap::Platt { a, b } = p.map else {
        panic!("not Platt")
    };
    let want = -(a * 0.5 + b) - (5.0f64 / 3.0).ln();
    assert!(close(p.llr(0.5).unwrap(), want, 1e-12));
    assert!(close(
        posterior_from_llr(p.llr(0.5).unwrap(), p.prior_log_odds()),
        p.posterior(0.5).unwrap(),
        1e-12
    ));
    assert!(matches!(
        p.llr(f64::NAN),
        Err(CalibrationError::NonFiniteScore { .. })
    ));
}

#[test]
fn fit_auto_chooses_by_sample_count() {
    let small: Vec<f64> = (0..999).map(|i| (i % 97) as f64 / 97.0).collect();
    let labels: Vec<bool> = (0..999).map(|i| (i * 7) % 10 < (i % 97) / 10).collect();
    assert_eq!(
        Calibrator::fit_auto(&small, &labels).unwrap().method(),
        Method::Platt
    );
    let big: Vec<f64> = (0..1000).map(|i| (i % 97) as f64 / 97.0).collect();
    let labels: Vec<bool> = (0..1000).map(|i| (i * 7) % 10 < (i % 97) / 10).collect();
    assert_eq!(
        Calibrator::fit_auto(&big, &labels).unwrap().method(),
        Method::Isotonic
    );
}

fn sample_bundle() -> CalibrationBundle {
    let scores = [0.1, 0.4, 0.35, 0.8, 0.3, 0.9, 0.6, 0.2];
    let labels = [false, false, false, true, true, true, true, true];
    let mut b = CalibrationBundle::new("unit test", "eight hand-made scores");
    let c = Calibrator::fit_platt(&scores, &labels).unwrap();
    b.insert("texture", Some("minifasnet_v2+minifasnet_v1se"), c.clone())
        .unwrap();
    b.insert(
        "parallax",
        None,
        Calibrator::fit_isotonic(&scores, &labels).unwrap(),
    )
    .unwrap();
    b.insert("texture", Some("fr_liveness"), c).unwrap();
    b
}

#[test]
fn bundle_lookup_and_typed_errors() {
    let b = sample_bundle();
    // Sorted by (signal, model).
    let keys: Vec<(&str, Option<&str>)> = b
        .entries
        .iter()
        .map(|e| (e.signal.as_str(), e.model.as_deref()))
        .collect();
    assert_eq!(
        keys,
        vec![
            ("parallax", None),
            ("texture", Some("fr_liveness")),
            ("texture", Some("minifasnet_v2+minifasnet_v1se"))
        ]
    );
    let l = b
        .llr("texture", Some("minifasnet_v2+minifasnet_v1se"), 0.7)
        .unwrap();
    assert!(l.is_finite() && l > 0.0, "{l}");
    assert!(b.llr("parallax", None, 0.05).unwrap() < 0.0);
    let e = b.llr("depth", None, 0.5).unwrap_err();
    assert!(matches!(e, CalibrationError::UnknownSignal { .. }));
    assert!(e.to_string().contains("signals parallax, texture"), "{e}");
    let e = b.llr("texture", Some("other"), 0.5).unwrap_err();
    assert!(matches!(e, CalibrationError::UnknownModel { .. }));
    assert!(e.to_string().contains("`fr_liveness`"), "{e}");
    let e = b.llr("parallax", Some("x"), 0.5).unwrap_err();
    assert!(e.to_string().contains("models none"), "{e}");
    let e = b.llr("parallax", None, f64::NAN).unwrap_err();
    assert!(matches!(e, CalibrationError::NonFiniteScore { .. }));
    assert!(e.to_string().contains("`parallax` (no model)"), "{e}");
    // Bad parameters built by hand are typed errors at use, never panics.
    let mut bad = b.clone();
    bad.entries[0].calibrator.n_neg = 0;
    assert!(matches!(
        bad.llr("parallax", None, 0.5),
        Err(CalibrationError::BadParameters { .. })
    ));
    let mut bad = b.clone();
    bad.entries[1].calibrator.map = ScoreMap::Platt {
        a: f64::NAN,
        b: 0.0,
    };
    assert!(matches!(
        bad.llr("texture", Some("fr_liveness"), 0.5),
        Err(CalibrationError::BadParameters { .. })
    ));
    let mut bad = b.clone();
    bad.entries[0].calibrator.map = ScoreMap::Isotonic {
        x: vec![0.5, 0.1],
        p: vec![0.2, 0.1],
    };
    assert!(bad.llr("parallax", None, 0.3).is_ok(), "no panic at use");
    assert!(matches!(
        bad.validate(),
        Err(CalibrationError::BadParameters { .. })
    ));
    let mut bad = b.clone();
    bad.entries.push(bad.entries[0].clone());
    assert!(matches!(
        bad.validate(),
        Err(CalibrationError::DuplicateEntry { .. })
    ));
}

#[cfg(feature = "std")]
#[test]
fn bundle_json_round_trip_hash_and_strictness() {
    let b = sample_bundle();
    let json = b.to_json().unwrap();
    let back = CalibrationBundle::from_json(&json).unwrap();
    assert_eq!(back, b);
    assert_eq!(back.to_json().unwrap(), json, "canonical bytes are stable");
    let hash = b.sha256_hex().unwrap();
    assert_eq!(hash.len(), 64);
    assert_eq!(back.sha256_hex().unwrap(), hash);
    // The pretty form decodes to the same bundle and the same hash.
    let pretty = b.to_json_pretty().unwrap();
    assert_eq!(
        CalibrationBundle::from_json_expecting(&pretty, &hash.to_uppercase()).unwrap(),
        b
    );
    assert!(matches!(
        CalibrationBundle::from_json_expecting(&json, &"0".repeat(64)),
        Err(CalibrationError::HashMismatch { .. })
    ));
    // Unknown fields, at any level, are errors.
    for (from, to) in [
        ("\"fitted_on\"", "\"extra\":1,\"fitted_on\""),
        ("\"n_pos\"", "\"extra\":1,\"n_pos\""),
        ("\"method\":\"platt\"", "\"method\":\"platt\",\"c\":1"),
        ("\"signal\"", "\"extra\":1,\"signal\""),
    ] {
        let bad = json.replacen(from, to, 1);
        assert_ne!(bad, json);
        assert!(
            matches!(
                CalibrationBundle::from_json(&bad),
                Err(CalibrationError::Json(_))
            ),
            "{from}"
        );
    }
    let bad = json.replacen("\"schema_version\":1", "\"schema_version\":2", 1);
    assert!(matches!(
        CalibrationBundle::from_json(&bad),
        Err(CalibrationError::UnsupportedSchema {
            got: 2,
            expected: 1
        })
    ));
    let bad = json.replacen("\"method\":\"platt\"", "\"method\":\"beta\"", 1);
    assert!(CalibrationBundle::from_json(&bad).is_err());
    // A NaN parameter cannot be written (JSON has no NaN).
    let mut nan = b.clone();
    nan.entries[1].calibrator.score_min = f64::NAN;
    assert!(matches!(
        nan.to_json(),
        Err(CalibrationError::BadParameters { .. })
    ));
}

/// Regression (fuzz target `calibration`, found after 417 s): a Platt parameter with more
/// digits than an f64 holds was read one ulp off, and the canonical JSON loaded again hashed
/// differently. With serde_json's `float_roundtrip` the hash is stable for any number.
#[cfg(feature = "std")]
#[test]
fn numbers_of_many_digits_keep_the_canonical_hash() {
    let json = sample_bundle().to_json().unwrap();
    let start = json.find("\"a\":").unwrap() + 4;
    let end = start + json[start..].find(',').unwrap();
    for number in [
        "-299999999999999999999999.87810981943257",
        "-17444444444444444444444444444444444444444444444444444440",
        "-0.1000000000000000055511151231257827021181583404541015625",
        "-2.2250738585072011e-308",
    ] {
        let text = format!("{}{number}{}", &json[..start], &json[end..]);
        let bundle =
            CalibrationBundle::from_json(&text).unwrap_or_else(|e| panic!("{number}: {e}"));
        let canonical = bundle.to_json().unwrap();
        let again = CalibrationBundle::from_json(&canonical).unwrap();
        assert_eq!(
            again.sha256_hex().unwrap(),
            bundle.sha256_hex().unwrap(),
            "{number} -> {canonical}"
        );
        assert_eq!(again.to_json().unwrap(), canonical, "{number}");
    }
}

#[cfg(feature = "std")]
#[test]
fn canonical_floats_round_trip_bit_exactly() {
    // The hash is of re-encoded JSON: every canonical f64 must survive encode → decode
    // unchanged, and canonicalisation must stay within 1e-12 relative in this range.
    let mut state = 0x2545_f491_4f6c_dd1du64;
    for _ in 0..200_000 {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        // Parameters, scores and thresholds: |v| in about [1e-6, 1e4].
        let m = (state >> 11) as f64 / (1u64 << 53) as f64;
        let e = ((state >> 3) % 24) as i32 - 16;
        let v = m * 2f64.powi(e) * if state & 1 == 1 { -1.0 } else { 1.0 };
        let w = bundle::canonical_f64(v);
        assert!((w - v).abs() <= 1e-12 * v.abs(), "{v:e} -> {w:e}");
        let s = serde_json::to_string(&w).unwrap();
        let back: f64 = serde_json::from_str(&s).unwrap();
        assert_eq!(back.to_bits(), w.to_bits(), "{s}");
    }
}

#[test]
fn cllr_hand_computed() {
    // LLR 0 everywhere: 1 bit.
    assert!(close(
        cllr(&[0.0, 0.0, 0.0], &[true, false, false]).unwrap(),
        1.0,
        1e-15
    ));
    // ±ln 3 on the right side: log₂(1 + 1/3) = log₂(4/3).
    let l = 3.0f64.ln();
    let got = cllr(&[l, -l], &[true, false]).unwrap();
    assert!(close(got, (4.0f64 / 3.0).log2(), 1e-15), "{got}");
    // On the wrong side: log₂(1 + 3) = 2 bits.
    assert!(close(cllr(&[-l, l], &[true, false]).unwrap(), 2.0, 1e-15));
    assert!(matches!(
        cllr(&[f64::INFINITY, 0.0], &[true, false]),
        Err(CalibrationError::NonFinite { .. })
    ));
}

#[test]
fn min_cllr_hand_computed() {
    // Separable: 0 bits.
    assert_eq!(
        min_cllr(&[0.1, 0.2, 0.8, 0.9], &[false, false, true, true]).unwrap(),
        0.0
    );
    // [0, 1, 0, 1] on increasing scores: PAV gives [0, ½, ½, 1], LLRs [−∞, 0, 0, +∞]:
    // bona fide ½(ln 2 + 0), attack ½(0 + ln 2) → (ln 2)/(2 ln 2) = ½ bit.
    let got = min_cllr(&[1.0, 2.0, 3.0, 4.0], &[false, true, false, true]).unwrap();
    assert!(close(got, 0.5, 1e-15), "{got}");
    // A constant score carries no evidence: 1 bit (tied scores are pooled).
    let got = min_cllr(&[0.5; 4], &[false, true, false, true]).unwrap();
    assert!(close(got, 1.0, 1e-15), "{got}");
    // Never above Cllr of the same scores used as LLRs.
    let s = [-2.0, -0.5, 0.3, 1.0, -1.0, 2.5, 0.1, -0.2];
    let y = [false, false, true, true, false, true, false, true];
    assert!(min_cllr(&s, &y).unwrap() <= cllr(&s, &y).unwrap());
}

#[test]
fn ece_and_brier_hand_computed() {
    let p = [0.1, 0.2, 0.8, 0.9];
    let y = [false, false, true, true];
    // Two quantile bins split at the median 0.5: |0 − 0.15| and |1 − 0.85|, each half.
    assert!(close(ece_bins(&p, &y, 2).unwrap(), 0.15, 1e-15));
    let d = reliability_quantile(&p, &y, 2).unwrap();
    assert_eq!(d.len(), 2);
    assert_eq!(d[0].count, 2);
    assert!(close(d[0].mean_predicted, 0.15, 1e-15));
    // (0.01 + 0.04 + 0.04 + 0.01) / 4.
    assert!(close(brier(&p, &y).unwrap(), 0.025, 1e-15));
    // Perfectly calibrated constant: ECE 0 with 15 bins (all samples in one bin).
    let p = [0.25; 8];
    let y = [true, false, false, false, true, false, false, false];
    assert!(close(ece(&p, &y).unwrap(), 0.0, 1e-15));
    assert!(matches!(
        brier(&[1.5], &[true]),
        Err(CalibrationError::ProbabilityOutOfRange { .. })
    ));
    assert!(matches!(
        ece_bins(&[0.5], &[true], 0),
        Err(CalibrationError::InvalidArgument { .. })
    ));
    assert!(matches!(
        brier(&[0.5, 0.5], &[true]),
        Err(CalibrationError::LengthMismatch { .. })
    ));
}

#[test]
fn calibration_errors_fold_into_the_crate_error_with_their_message() {
    let e = crate::Error::from(CalibrationError::DuplicateEntry { key: "x".into() });
    assert!(matches!(
        e,
        crate::Error::Calibration(CalibrationError::DuplicateEntry { .. })
    ));
    assert_eq!(
        e.to_string(),
        "the calibration bundle lists x twice: expected one calibrator per signal + model"
    );
}

#[test]
fn platt_keeps_the_score_direction_and_flattens_an_inverted_fit() {
    // Attacks score higher than bona fide here: plain Platt inverts the signal.
    let scores = [0.90, 0.91, 0.95, 0.96, 0.97, 0.97, 0.96, 0.93];
    let labels = [true, true, false, false, false, false, false, true];
    let plain = Calibrator::fit_platt(&scores, &labels).unwrap();
    assert!(
        matches!(plain.map, ScoreMap::Platt { a, .. } if a > 0.0),
        "{plain:?}"
    );
    let kept = Calibrator::fit_platt_increasing(&scores, &labels).unwrap();
    assert!(kept.is_flat(), "{kept:?}");
    for s in [0.0, 0.5, 0.9, 0.97, 1.0] {
        assert!(kept.llr(s).unwrap().abs() < 1e-12, "{s}: {:?}", kept.llr(s));
    }
    assert_eq!(
        Calibrator::fit_auto(&scores, &labels).unwrap(),
        kept,
        "fit_auto keeps the direction"
    );
    // An increasing fit is left as it is.
    let labels_up = [false, false, true, true, true, true, true, false];
    let up = Calibrator::fit_platt_increasing(&scores, &labels_up).unwrap();
    assert!(!up.is_flat());
    assert_eq!(up, Calibrator::fit_platt(&scores, &labels_up).unwrap());
}
