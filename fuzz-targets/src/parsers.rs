//! The text formats from outside: the tenant policy (JSON), the calibration bundle (JSON),
//! face templates (JSON, as the C ABI and the bindings take them) and the model manifest
//! (TOML). Each target parses, and on success uses the value as the SDK does and checks the
//! properties the trust chain relies on.

use liveproof_core::calibration::CalibrationBundle;
use liveproof_core::matching::FaceTemplate;
use liveproof_core::models::Manifest;
use liveproof_core::policy::{FlowType, LoadedPolicy, RiskTier};

use crate::{seeds, text};

const FLOWS: [FlowType; 4] = [
    FlowType::AccountOpening,
    FlowType::Login,
    FlowType::Transaction,
    FlowType::Recovery,
];
const TIERS: [RiskTier; 3] = [RiskTier::Low, RiskTier::Medium, RiskTier::High];

/// Fuzz target `policy_json`: `LoadedPolicy::from_json` (parse, validate, hash). An accepted
/// policy must survive the trip the trust chain gives it (the verifier serialises it into the
/// token, the device parses that and checks the hash): same policy, same sha256. Then its
/// bands, challenge plan and a whole decision on SYNTHETIC evidence (pass-like and
/// attack-like scores) run on it.
pub fn policy_json(data: &[u8]) {
    let Some(json) = text(data) else {
        return;
    };
    let Ok(loaded) = LoadedPolicy::from_json(json) else {
        return;
    };
    let again = LoadedPolicy::new(loaded.policy.clone()).expect("an accepted policy revalidates");
    assert_eq!(again.sha256, loaded.sha256, "hash of the same policy");
    let wire = serde_json::to_string(&loaded.policy).expect("the policy serialises");
    let on_device = LoadedPolicy::from_json(&wire)
        .unwrap_or_else(|e| panic!("the policy as a token carries it is refused: {e}\n{wire}"));
    assert_eq!(
        on_device.sha256, loaded.sha256,
        "the token's policy hashes differently"
    );

    let p = &loaded.policy;
    for flow in FLOWS {
        for tier in TIERS {
            let _ = p.bands_for(flow, tier);
            let _ = p.challenge_required(flow, tier);
        }
    }
    let _ = p.check_calibration(&p.calibration_sha256);
    let _ = liveproof_core::active::derive_plan(&[7; 32], &p.challenge.plan);
    let calibration = CalibrationBundle::from_json(liveproof_core::defaults::CALIBRATION_JSON)
        .expect("the shipped calibration");
    let claims = seeds::token_claims(&loaded);
    for raw in [0.05, 0.9] {
        let result =
            liveproof_core::trust::testkit::synthetic_result(&loaded, &calibration, &claims, raw);
        serde_json::to_string(&result).expect("the result serialises");
    }
}

/// Fuzz target `calibration`: `CalibrationBundle::from_json`. An accepted bundle's canonical
/// JSON must load again to the same hash (the verifier finds bundles by it), and its LLRs are
/// finite and within ±10 for any raw score.
pub fn calibration(data: &[u8]) {
    let Some(json) = text(data) else {
        return;
    };
    let Ok(bundle) = CalibrationBundle::from_json(json) else {
        return;
    };
    let sha = bundle.sha256_hex().expect("an accepted bundle hashes");
    let canonical = bundle.to_json().expect("an accepted bundle serialises");
    let again = CalibrationBundle::from_json(&canonical)
        .unwrap_or_else(|e| panic!("the canonical JSON is refused: {e}\n{canonical}"));
    assert_eq!(
        again.sha256_hex().expect("hash"),
        sha,
        "canonical JSON hash"
    );
    for e in &bundle.entries {
        for raw in [
            -1.0,
            0.0,
            0.25,
            0.5,
            0.999,
            1.0,
            7.0,
            f64::NAN,
            f64::INFINITY,
        ] {
            if let Ok(llr) = bundle.llr(&e.signal, e.model.as_deref(), raw) {
                assert!(
                    llr.is_finite() && llr.abs() <= 10.0,
                    "LLR {llr} for raw {raw} of {} / {:?}",
                    e.signal,
                    e.model
                );
            }
        }
    }
}

/// Fuzz target `face_template`: a template as the C ABI and the bindings take it
/// (`serde_json` into `FaceTemplate`, then `validate`). A valid template is unit length, so
/// its similarity to itself is 1 (±0.003).
pub fn face_template(data: &[u8]) {
    let Some(json) = text(data) else {
        return;
    };
    let Ok(t) = serde_json::from_str::<FaceTemplate>(json) else {
        return;
    };
    if t.validate().is_err() {
        return;
    }
    let s = t
        .similarity_to(&t)
        .expect("a template matches its own model");
    assert!((s - 1.0).abs() <= 3e-3, "self-similarity {s}");
    let wire = serde_json::to_string(&t).expect("the template serialises");
    let back: FaceTemplate = serde_json::from_str(&wire).expect("its JSON parses");
    back.validate().expect("the template's own JSON validates");
}

/// Fuzz target `model_manifest`: `Manifest::parse` (TOML). An accepted manifest lists each
/// model once, in file order, each found by name.
pub fn model_manifest(data: &[u8]) {
    let Some(toml) = text(data) else {
        return;
    };
    let Ok(m) = Manifest::parse(toml) else {
        return;
    };
    assert_eq!(m.model_order.len(), m.models.len(), "duplicate model names");
    assert_eq!(m.models_in_order().count(), m.models.len());
    for name in &m.model_order {
        assert_eq!(&m.model(name).expect("a listed model").name, name);
    }
}
