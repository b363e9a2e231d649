use super::*;

fn cal(signal: SignalId, llr: Option<f64>) -> CalibratedSignal {
    CalibratedSignal {
        signal,
        model: String::new(),
        raw: llr.map(|_| 0.5),
        llr,
        reason: if llr.is_none() {
            "not enough out-of-plane motion".into()
        } else {
            String::new()
        },
    }
}

#[test]
fn weighted_fusion_adds_weighted_llrs_and_names_missing_signals() {
    let method = FusionMethod::Weighted(LinearFusion {
        bias: -0.5,
        weights: [(SignalId::Texture, 2.0), (SignalId::Fft, 0.5)]
            .into_iter()
            .collect(),
    });
    let f = fuse(
        &method,
        &[
            cal(SignalId::Texture, Some(1.5)),
            cal(SignalId::Fft, Some(-2.0)),
            cal(SignalId::Parallax, None),
            cal(SignalId::Reflection, Some(f64::NAN)),
        ],
    );
    // -0.5 + 2·1.5 + 0.5·(−2) = 1.5; parallax (missing) and reflection (NaN) add 0.
    assert!((f.fused - 1.5).abs() < 1e-12, "{}", f.fused);
    let missing: Vec<SignalId> = f.missing().map(|c| c.signal).collect();
    assert_eq!(missing, [SignalId::Parallax, SignalId::Reflection]);
    assert_eq!(f.contributions[2].reason, "not enough out-of-plane motion");
    assert_eq!(f.contributions[3].reason, "no calibrated score");
    assert_eq!(f.contributions[0].contribution, 3.0);
    assert_eq!(
        f.top(2),
        [(SignalId::Texture, 3.0), (SignalId::Fft, -1.0)].to_vec()
    );
}

#[test]
fn rules_fuse_by_the_sum_rule() {
    let method = FusionMethod::Rules(RuleFusion {
        passive_high: 4.0,
        passive_medium: 1.0,
    });
    let f = fuse(
        &method,
        &[
            cal(SignalId::Texture, Some(2.0)),
            cal(SignalId::Parallax, Some(1.25)),
        ],
    );
    assert!((f.fused - 3.25).abs() < 1e-12 && f.bias == 0.0);
}

#[test]
fn fusion_methods_read_from_json_with_their_tag() {
    let m: FusionMethod = serde_json::from_str(
        r#"{"method": "logistic", "bias": 0.1, "weights": {"texture": 0.9, "fft": 0.3}, "trained_on": "synthetic, person-disjoint"}"#,
    )
    .unwrap();
    assert_eq!(m.linear().weights[&SignalId::Texture], 0.9);
    let m: FusionMethod =
        serde_json::from_str(r#"{"method": "rules", "passive_high": 4.0, "passive_medium": 1.0}"#)
            .unwrap();
    assert!(matches!(m, FusionMethod::Rules(_)));
    // An unknown signal and an unknown field are errors that name them.
    let e = serde_json::from_str::<FusionMethod>(
        r#"{"method": "weighted", "bias": 0, "weights": {"moire": 1.0}}"#,
    )
    .unwrap_err();
    assert!(e.to_string().contains("moire"), "{e}");
    let e = serde_json::from_str::<FusionMethod>(
        r#"{"method": "rules", "passive_high": 4.0, "passive_medium": 1.0, "extra": 1}"#,
    )
    .unwrap_err();
    assert!(e.to_string().contains("extra"), "{e}");
}

/// Deterministic standard normals (LCG + Box–Muller).
fn normals(seed: u64, n: usize) -> Vec<f64> {
    let mut s = seed;
    let mut u = || {
        s = s
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((s >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    };
    (0..n)
        .map(|_| {
            let (a, b) = (u(), u());
            libm::sqrt(-2.0 * libm::log(a)) * libm::cos(2.0 * core::f64::consts::PI * b)
        })
        .collect()
}

#[test]
fn logistic_training_recovers_a_calibrated_signal_and_ignores_noise() {
    // Texture: N(+1, 2) for bona fide, N(−1, 2) for attacks, whose true LLR is x itself
    // (2μx/σ² with μ = 1, σ² = 2): the trained weight should be ≈ 1 and the bias ≈ 0. FFT is
    // noise, the same for both classes: weight ≈ 0. Unequal class sizes: the prior weighting
    // keeps the bias at 0 anyway.
    let (nb, na) = (3000, 1000);
    let z = normals(7, 2 * (nb + na));
    let sd = core::f64::consts::SQRT_2;
    let rows: Vec<TrainingRow> = (0..nb + na)
        .map(|i| {
            let bona_fide = i < nb;
            let mu = if bona_fide { 1.0 } else { -1.0 };
            TrainingRow {
                llrs: [
                    (SignalId::Texture, mu + sd * z[2 * i]),
                    (SignalId::Fft, z[2 * i + 1]),
                ]
                .into_iter()
                .collect(),
                bona_fide,
            }
        })
        .collect();
    let opts = TrainOptions {
        signals: alloc::vec![SignalId::Texture, SignalId::Fft],
        ..TrainOptions::default()
    };
    let f = train_logistic(&rows, &opts).unwrap();
    std::println!("trained: {f:?}");
    assert!((f.weights[&SignalId::Texture] - 1.0).abs() < 0.1, "{f:?}");
    assert!(f.weights[&SignalId::Fft].abs() < 0.1, "{f:?}");
    assert!(f.bias.abs() < 0.1, "{f:?}");
    // Deterministic.
    assert_eq!(train_logistic(&rows, &opts).unwrap(), f);
    // A missing signal is 0: rows without FFT train the same texture weight.
    let no_fft: Vec<TrainingRow> = rows
        .iter()
        .map(|r| TrainingRow {
            llrs: r
                .llrs
                .iter()
                .filter(|(s, _)| **s == SignalId::Texture)
                .map(|(s, v)| (*s, *v))
                .collect(),
            bona_fide: r.bona_fide,
        })
        .collect();
    let g = train_logistic(&no_fft, &opts).unwrap();
    assert!((g.weights[&SignalId::Texture] - 1.0).abs() < 0.1 && g.weights[&SignalId::Fft] == 0.0);
}

#[test]
fn logistic_training_stays_finite_on_separable_data() {
    let rows: Vec<TrainingRow> = (0..40)
        .map(|i| TrainingRow {
            llrs: [(SignalId::Texture, if i < 20 { 3.0 } else { -3.0 })]
                .into_iter()
                .collect(),
            bona_fide: i < 20,
        })
        .collect();
    let f = train_logistic(&rows, &TrainOptions::default()).unwrap();
    assert!(f.weights.values().all(|w| w.is_finite()) && f.bias.is_finite());
    assert!(f.weights[&SignalId::Texture] > 1.0, "{f:?}");
}

#[test]
fn logistic_training_rejects_bad_input() {
    let row = |v: f64, bona_fide| TrainingRow {
        llrs: [(SignalId::Texture, v)].into_iter().collect(),
        bona_fide,
    };
    let opts = TrainOptions::default();
    assert_eq!(
        train_logistic(&[row(1.0, true)], &opts).unwrap_err(),
        TrainError::OneClass {
            bona_fide: 1,
            attack: 0
        }
    );
    let e = train_logistic(&[row(1.0, true), row(f64::NAN, false)], &opts).unwrap_err();
    assert_eq!(
        e,
        TrainError::NonFinite {
            row: 1,
            signal: "texture"
        }
    );
    std::println!("{e}");
    let bad = TrainOptions {
        prior: 1.0,
        ..TrainOptions::default()
    };
    assert!(matches!(
        train_logistic(&[row(1.0, true), row(0.0, false)], &bad),
        Err(TrainError::Option { name: "prior", .. })
    ));
}
