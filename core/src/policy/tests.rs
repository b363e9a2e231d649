use super::*;
use crate::evidence::{QualitySummary, SecurityEvidence, SignalEvidence};
use crate::fusion::RuleFusion;

const HASH: &str = "0000000000000000000000000000000000000000000000000000000000000001";

fn policy() -> Policy {
    Policy {
        schema_version: 1,
        name: "test".into(),
        default_bands: Bands {
            pass_at: 2.0,
            fail_below: -1.0,
        },
        bands: [(
            FlowType::Transaction,
            [(
                RiskTier::High,
                Bands {
                    pass_at: 4.0,
                    fail_below: 0.0,
                },
            )]
            .into_iter()
            .collect(),
        )]
        .into_iter()
        .collect(),
        max_consecutive_failures: 5,
        evidence: EvidenceRequirements {
            required_signals: alloc::vec![SignalId::Texture],
            min_available_signals: 2,
        },
        quality: QualityRequirements {
            min_usable_frames: 10,
        },
        challenge: ChallengeRequirements {
            required_from: [(FlowType::Login, RiskTier::Medium)].into_iter().collect(),
            plan: PlanPolicy::default(),
            total_timeout_ms: 30_000,
        },
        fusion: FusionMethod::Weighted(LinearFusion::sum_rule()),
        face_match: [(
            "fr_feature".to_string(),
            MatchRequirements {
                match_at: 0.5,
                no_match_below: 0.3,
            },
        )]
        .into_iter()
        .collect(),
        security: SecurityRequirements {
            veto_at: 0.9,
            device_key: Default::default(),
        },
        calibration_sha256: HASH.into(),
    }
}

fn evidence(challenge: ChallengeEvidence) -> Evidence {
    Evidence {
        signals: alloc::vec![
            SignalEvidence {
                signal: SignalId::Texture,
                model: "m".into(),
                raw: Some(0.9),
                reason: String::new(),
            },
            SignalEvidence {
                signal: SignalId::Fft,
                model: String::new(),
                raw: Some(0.8),
                reason: String::new(),
            },
        ],
        quality: QualitySummary {
            frames: 60,
            frames_with_face: 60,
            usable_frames: 50,
            ok: true,
            ..QualitySummary::default()
        },
        challenge,
        face_match: MatchEvidence::NotRequested,
        security: SecurityEvidence::default(),
    }
}

fn passed() -> ChallengeEvidence {
    ChallengeEvidence::Passed {
        steps: alloc::vec!["BLINK".into(), "TURN_LEFT".into()],
        duration_ms: 4000,
    }
}

fn llrs(texture: Option<f64>, fft: Option<f64>, parallax: Option<f64>) -> Vec<CalibratedSignal> {
    [
        (SignalId::Texture, texture),
        (SignalId::Fft, fft),
        (SignalId::Parallax, parallax),
    ]
    .into_iter()
    .map(|(signal, llr)| CalibratedSignal {
        signal,
        model: String::new(),
        raw: llr.map(|_| 0.5),
        llr,
        reason: if llr.is_none() {
            "not available".into()
        } else {
            String::new()
        },
    })
    .collect()
}

fn ctx(flow: FlowType, tier: RiskTier) -> DecisionContext {
    DecisionContext {
        flow,
        tier,
        consecutive_failures: 0,
    }
}

#[test]
fn bands_decide_on_the_fused_llr() {
    let p = policy();
    p.validate().unwrap();
    let e = evidence(passed());
    let c = ctx(FlowType::AccountOpening, RiskTier::Medium);
    let d = decide(&p, &c, &e, &llrs(Some(1.5), Some(1.0), None));
    assert_eq!(d.band, Band::Pass);
    assert_eq!(d.fused, Some(2.5));
    assert_eq!(
        d.reasons,
        [
            ReasonCode::PassiveScoreHigh,
            ReasonCode::QualityOk,
            ReasonCode::ChallengePassed
        ]
    );
    assert_eq!(
        d.top_contributions,
        [(SignalId::Texture, 1.5), (SignalId::Fft, 1.0)]
    );
    assert!(!d.contributions[2].available);
    let d = decide(&p, &c, &e, &llrs(Some(0.5), Some(0.0), None));
    assert_eq!(
        (d.band, d.reasons[0]),
        (Band::Retry, ReasonCode::PassiveScoreUncertain)
    );
    let d = decide(&p, &c, &e, &llrs(Some(-1.5), Some(0.0), None));
    assert_eq!(
        (d.band, d.reasons[0]),
        (Band::Fail, ReasonCode::PassiveScoreLow)
    );
    // The transaction/high bands are stricter: 2.5 is only a retry there.
    let d = decide(
        &p,
        &ctx(FlowType::Transaction, RiskTier::High),
        &e,
        &llrs(Some(1.5), Some(1.0), None),
    );
    assert_eq!(d.band, Band::Retry);
    assert_eq!(d.bands.pass_at, 4.0);
}

#[test]
fn vetoes_come_before_fusion() {
    let p = policy();
    let c = ctx(FlowType::AccountOpening, RiskTier::Medium);
    let strong = llrs(Some(5.0), Some(5.0), Some(5.0));
    // Security.
    let mut e = evidence(passed());
    e.security.virtual_camera = Some(0.95);
    let d = decide(&p, &c, &e, &strong);
    assert_eq!(d.band, Band::Fail);
    assert_eq!(d.reasons, [ReasonCode::VirtualCameraDetected]);
    assert_eq!(d.fused, None);
    // Quality: retry, never spoof.
    let mut e = evidence(passed());
    e.quality.ok = false;
    let d = decide(&p, &c, &e, &strong);
    assert_eq!(
        (d.band, d.reasons.clone()),
        (Band::Retry, alloc::vec![ReasonCode::QualityPoorRetry])
    );
    e.quality.frames_with_face = 0;
    assert_eq!(decide(&p, &c, &e, &strong).reasons, [ReasonCode::NoFace]);
    // Challenge.
    for (failure, band, code) in [
        (
            ChallengeFailure::FaceChanged,
            Band::Fail,
            ReasonCode::FaceChanged,
        ),
        (
            ChallengeFailure::WrongAction,
            Band::Retry,
            ReasonCode::ChallengeFailed,
        ),
        (
            ChallengeFailure::FlatMotion,
            Band::Fail,
            ReasonCode::ChallengeFailed,
        ),
        (
            ChallengeFailure::Timeout,
            Band::Retry,
            ReasonCode::ChallengeTimeout,
        ),
    ] {
        let e = evidence(ChallengeEvidence::Failed {
            failure,
            detail: String::new(),
            completed: 1,
        });
        let d = decide(&p, &c, &e, &strong);
        assert_eq!((d.band, d.reasons[0]), (band, code), "{failure:?}");
    }
    let e = evidence(ChallengeEvidence::Incomplete {
        detail: "cancelled".into(),
    });
    assert_eq!(
        decide(&p, &c, &e, &strong).reasons[0],
        ReasonCode::CaptureIncomplete
    );
    // Match.
    let mut e = evidence(passed());
    e.face_match = MatchEvidence::Compared {
        similarity: 0.1,
        band: MatchBand::NoMatch,
        model: "fr_feature".into(),
    };
    let d = decide(&p, &c, &e, &strong);
    assert_eq!(
        (d.band, d.reasons[0]),
        (Band::Fail, ReasonCode::MatchFailed)
    );
}

#[test]
fn missing_evidence_is_a_retry_never_a_guess() {
    let p = policy();
    let c = ctx(FlowType::AccountOpening, RiskTier::Medium);
    let e = evidence(passed());
    // Texture is required.
    let d = decide(&p, &c, &e, &llrs(None, Some(3.0), Some(3.0)));
    assert_eq!(
        (d.band, d.reasons[0]),
        (Band::Retry, ReasonCode::SignalUnavailable)
    );
    // At least two signals.
    let d = decide(&p, &c, &e, &llrs(Some(3.0), None, None));
    assert_eq!(
        (d.band, d.reasons[0]),
        (Band::Retry, ReasonCode::SignalUnavailable)
    );
    // The missing ones are named, with LLR 0.
    let missing: Vec<SignalId> = d
        .contributions
        .iter()
        .filter(|c| !c.available)
        .map(|c| c.signal)
        .collect();
    assert_eq!(missing, [SignalId::Fft, SignalId::Parallax]);
    assert!(d
        .contributions
        .iter()
        .filter(|c| !c.available)
        .all(|c| c.llr == 0.0));
}

#[test]
fn low_risk_logins_may_be_passive_only() {
    let p = policy();
    assert!(!p.challenge_required(FlowType::Login, RiskTier::Low));
    assert!(p.challenge_required(FlowType::Login, RiskTier::Medium));
    assert!(p.challenge_required(FlowType::Recovery, RiskTier::Low));
    let e = evidence(ChallengeEvidence::NotRequired);
    let d = decide(
        &p,
        &ctx(FlowType::Login, RiskTier::Low),
        &e,
        &llrs(Some(2.0), Some(1.0), None),
    );
    assert_eq!(d.band, Band::Pass);
    assert!(d.passive_only && d.reasons.contains(&ReasonCode::PassiveOnly));
    // The same evidence on a flow that needs a challenge is incomplete.
    let d = decide(
        &p,
        &ctx(FlowType::Login, RiskTier::High),
        &e,
        &llrs(Some(2.0), Some(1.0), None),
    );
    assert_eq!(
        (d.band, d.reasons[0]),
        (Band::Retry, ReasonCode::CaptureIncomplete)
    );
}

#[test]
fn rules_follow_seed_000() {
    let mut p = policy();
    p.fusion = FusionMethod::Rules(RuleFusion {
        passive_high: 3.0,
        passive_medium: 1.0,
    });
    p.validate().unwrap();
    let c = ctx(FlowType::AccountOpening, RiskTier::Medium);
    // High passive: pass.
    let d = decide(
        &p,
        &c,
        &evidence(passed()),
        &llrs(Some(2.0), Some(1.5), None),
    );
    assert_eq!(
        (d.band, d.reasons[0]),
        (Band::Pass, ReasonCode::PassiveScoreHigh)
    );
    // Medium passive + challenge passed: pass.
    let d = decide(
        &p,
        &c,
        &evidence(passed()),
        &llrs(Some(1.0), Some(0.5), None),
    );
    assert_eq!(d.band, Band::Pass);
    // Medium passive, passive-only flow (no challenge): retry.
    let d = decide(
        &p,
        &ctx(FlowType::Login, RiskTier::Low),
        &evidence(ChallengeEvidence::NotRequired),
        &llrs(Some(1.0), Some(0.5), None),
    );
    assert_eq!(d.band, Band::Retry);
    // Low: fail.
    let d = decide(
        &p,
        &c,
        &evidence(passed()),
        &llrs(Some(-2.0), Some(-1.0), None),
    );
    assert_eq!(d.band, Band::Fail);
}

#[test]
fn the_last_allowed_failure_says_so() {
    let p = policy();
    let mut c = ctx(FlowType::AccountOpening, RiskTier::Medium);
    c.consecutive_failures = 4;
    let d = decide(
        &p,
        &c,
        &evidence(passed()),
        &llrs(Some(-3.0), Some(-3.0), None),
    );
    assert_eq!(d.band, Band::Fail);
    assert_eq!(d.reasons.last(), Some(&ReasonCode::MaxAttemptsReached));
    c.consecutive_failures = 3;
    let d = decide(
        &p,
        &c,
        &evidence(passed()),
        &llrs(Some(-3.0), Some(-3.0), None),
    );
    assert!(!d.reasons.contains(&ReasonCode::MaxAttemptsReached));
}

#[cfg(feature = "std")]
mod json {
    use super::*;
    use crate::policy::{LoadedPolicy, PolicyStore};

    fn json_of(p: &Policy) -> serde_json::Value {
        serde_json::to_value(p).unwrap()
    }

    fn load(v: serde_json::Value) -> Result<LoadedPolicy, PolicyError> {
        LoadedPolicy::from_json(&v.to_string())
    }

    /// Regression (fuzz target `policy_json`, found after 564 s): a number with more digits
    /// than an f64 holds was read one ulp off, so the policy, re-encoded into a token and read
    /// on the device, hashed differently. serde_json's `float_roundtrip` reads every number
    /// exactly; these are the found number and classic hard cases for a float parser.
    #[test]
    fn numbers_of_many_digits_hash_the_same_after_the_token_trip() {
        let mut v = json_of(&policy());
        v["fusion"]["bias"] = 12345.0.into();
        let template = v.to_string();
        assert!(template.contains("12345.0"), "{template}");
        for number in [
            "17444444444444444444444444444444444444444444444444444440",
            "-299999999999999999999999.87810981943257",
            "0.1000000000000000055511151231257827021181583404541015625",
            "2.2250738585072011e-308",
            "9007199254740993",
            "1.00000000000000011102230246251565404236316680908203125",
        ] {
            let loaded = LoadedPolicy::from_json(&template.replace("12345.0", number))
                .unwrap_or_else(|e| panic!("{number}: {e}"));
            let wire = serde_json::to_string(&loaded.policy).unwrap();
            let on_device = LoadedPolicy::from_json(&wire).unwrap();
            assert_eq!(on_device.sha256, loaded.sha256, "{number} -> {wire}");
            let exact: f64 = number.parse().unwrap();
            let FusionMethod::Weighted(l) = &on_device.policy.fusion else {
                panic!("weighted fusion");
            };
            assert_eq!(l.bias.to_bits(), exact.to_bits(), "{number} read exactly");
        }
    }

    #[test]
    fn bad_policies_are_typed_errors_that_name_the_field() {
        let good = json_of(&policy());
        let loaded = load(good.clone()).unwrap();
        assert_eq!(loaded.sha256.len(), 64);
        // The hash is of the content: whitespace and key order do not change it.
        let pretty = serde_json::to_string_pretty(&good).unwrap();
        assert_eq!(
            LoadedPolicy::from_json(&pretty).unwrap().sha256,
            loaded.sha256
        );

        let mut v = good.clone();
        v["colour"] = "red".into();
        let e = load(v).unwrap_err();
        std::println!("{e}");
        assert!(
            matches!(&e, PolicyError::Parse(m) if m.contains("colour")),
            "{e}"
        );

        let mut v = good.clone();
        v["evidence"]["required_signals"] = serde_json::json!(["texture", "moire"]);
        let e = load(v).unwrap_err();
        assert!(e.to_string().contains("moire"), "{e}");

        let mut v = good.clone();
        v["default_bands"] = serde_json::json!({"pass_at": -2.0, "fail_below": 1.0});
        let e = load(v).unwrap_err();
        std::println!("{e}");
        assert!(
            matches!(&e, PolicyError::Field { field, .. } if field == "default_bands"),
            "{e}"
        );

        let mut v = good.clone();
        v["bands"]["transaction"]["high"]["pass_at"] = serde_json::json!(-5.0);
        let e = load(v).unwrap_err();
        assert!(e.to_string().contains("bands.Transaction.High"), "{e}");

        let mut v = good.clone();
        v["challenge"]["plan"]["max_steps"] = 9.into();
        let e = load(v).unwrap_err();
        assert!(
            matches!(&e, PolicyError::Field { field, .. } if field == "challenge.plan"),
            "{e}"
        );

        let mut v = good.clone();
        v["schema_version"] = 2.into();
        assert!(load(v).unwrap_err().to_string().contains("schema_version"));

        let mut v = good.clone();
        v["calibration_sha256"] = "abc".into();
        assert!(load(v)
            .unwrap_err()
            .to_string()
            .contains("calibration_sha256"));

        // A weight beyond f64's range is not a number the parser accepts.
        let text = good.to_string().replace("\"bias\":0.0", "\"bias\":1e400");
        assert!(text.contains("1e400"));
        assert!(LoadedPolicy::from_json(&text).is_err());

        let p = policy();
        let e = p.check_calibration(&"f".repeat(64)).unwrap_err();
        assert!(matches!(e, PolicyError::CalibrationMismatch { .. }), "{e}");
        p.check_calibration(HASH).unwrap();
    }

    #[test]
    fn policies_swap_atomically_without_touching_running_sessions() {
        let store = PolicyStore::new(LoadedPolicy::new(policy()).unwrap());
        // A session starts: it keeps the policy it started with.
        let running = store.current();
        let mut stricter = policy();
        stricter.name = "stricter".into();
        stricter.default_bands.pass_at = 3.0;
        let new_hash = store.replace_json(&json_of(&stricter).to_string()).unwrap();
        assert_eq!(running.policy.name, "test");
        assert_eq!(running.policy.default_bands.pass_at, 2.0);
        // The next session gets the new one.
        let next = store.current();
        assert_eq!(
            (next.policy.name.as_str(), next.sha256.as_str()),
            ("stricter", new_hash.as_str())
        );
        assert_ne!(running.sha256, next.sha256);
        // The same evidence decides differently under the two.
        let e = evidence(passed());
        let c = ctx(FlowType::AccountOpening, RiskTier::Medium);
        let l = llrs(Some(1.5), Some(1.0), None);
        assert_eq!(decide(&running.policy, &c, &e, &l).band, Band::Pass);
        assert_eq!(decide(&next.policy, &c, &e, &l).band, Band::Retry);
        // A bad policy changes nothing.
        assert!(store.replace_json("{}").is_err());
        assert_eq!(store.current().sha256, new_hash);
    }

    #[test]
    fn readers_never_see_a_half_swapped_policy() {
        use std::sync::Arc;
        let a = LoadedPolicy::new(policy()).unwrap();
        let mut pb = policy();
        pb.name = "b".into();
        let b = LoadedPolicy::new(pb).unwrap();
        let pairs: Vec<(String, String)> = [&a, &b]
            .iter()
            .map(|l| (l.policy.name.clone(), l.sha256.clone()))
            .collect();
        let store = Arc::new(PolicyStore::new(a.clone()));
        let writer = {
            let store = store.clone();
            std::thread::spawn(move || {
                for i in 0..2000 {
                    store.replace(if i % 2 == 0 { b.clone() } else { a.clone() });
                }
            })
        };
        let readers: Vec<_> = (0..2)
            .map(|_| {
                let store = store.clone();
                let pairs = pairs.clone();
                std::thread::spawn(move || {
                    for _ in 0..2000 {
                        let p = store.current();
                        assert!(pairs.contains(&(p.policy.name.clone(), p.sha256.clone())));
                    }
                })
            })
            .collect();
        writer.join().unwrap();
        for r in readers {
            r.join().unwrap();
        }
    }
}
