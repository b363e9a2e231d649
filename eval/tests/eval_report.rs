//! `liveproof-eval eval` end to end: two SYNTHETIC capture folders (a bona fide capture and a
//! print of the Newton portrait, held out of the shipped calibration) run as whole sessions
//! on a passive-only flow into `metrics.json`, `report.html` and the fusion table; and the
//! report built from fixed outcomes keeps REAL items apart from the SYNTHETIC figures.
//!
//! Models, ONNX Runtime and fixtures come from `cargo xtask setup` (`$LIVEPROOF_MODELS_DIR`,
//! `$ORT_DYLIB_PATH`, `$LIVEPROOF_FIXTURES_DIR`, else `~/.cache/liveproof`).

use std::collections::BTreeMap;
use std::sync::Arc;

use liveproof_core::engine::{DetectorKind, Engine, EngineConfig};
use liveproof_core::evidence::SignalId;
use liveproof_core::fusion::LinearFusion;
use liveproof_core::policy::{Band, FlowType, RiskTier};
use liveproof_eval::outcome::{summarise, Origin, Outcome};
use liveproof_eval::report::{html, RunInfo};
use liveproof_synth::{generate, write_capture, Kind, Params, Source, SourceOptions};

use liveproof_core::models::cache;

fn outcome(id: &str, origin: Origin, species: &str, band: Band, fused: Option<f64>) -> Outcome {
    Outcome {
        id: id.into(),
        person: id.into(),
        origin,
        species: species.into(),
        bona_fide: species == "bona_fide",
        flow: FlowType::AccountOpening,
        tier: RiskTier::Medium,
        band,
        fused,
        reasons: vec![],
        challenge: "passed".into(),
        frames: 100,
        usable_frames: 90,
        hints: vec![],
        llrs: BTreeMap::from([(SignalId::Texture, fused.unwrap_or(0.0))]),
        raws: BTreeMap::new(),
        note: String::new(),
    }
}

#[test]
fn report_keeps_real_items_apart_and_draws_inline_svg_only() {
    let mut v = Vec::new();
    for k in 0..20 {
        let f = k as f64 / 4.0;
        v.push(outcome(
            &format!("bf{k}"),
            Origin::Synthetic,
            "bona_fide",
            if f >= 2.0 { Band::Pass } else { Band::Retry },
            Some(f),
        ));
        v.push(outcome(
            &format!("pr{k}"),
            Origin::Synthetic,
            "print_flat_edges",
            Band::Fail,
            Some(-f),
        ));
    }
    v.push(outcome(
        "replay_tablet.jpg",
        Origin::Real,
        "replay",
        Band::Pass,
        Some(9.0),
    ));
    let s = summarise(&v, Origin::Synthetic, 5, &LinearFusion::sum_rule()).unwrap();
    // The REAL pass is not in the SYNTHETIC figures: no synthetic attack passed.
    assert_eq!(s.apcer_max.errors, 0);
    assert_eq!(s.apcer_max.rule_of_three, Some(3.0 / 20.0));
    // Bona fide passes at fused ≥ 2: k = 8..19, 12 of 20.
    assert_eq!(s.bona_fide.pass, 12);
    let page = html(&RunInfo::default(), Some(&s), &v);
    let syn = page.find("SYNTHETIC</span>").expect("SYNTHETIC section");
    let real = page.find("REAL</span>").expect("REAL section");
    assert!(syn < real);
    assert!(page[real..].contains("replay_tablet.jpg"));
    assert!(!page[..real].contains("replay_tablet.jpg"));
    assert!(page.contains("<svg") && page.contains("APCER (%), probit scale"));
    for banned in ["<script", "@font-face", "http://", "https://"] {
        let n = page.matches(banned).count();
        let svg_ns = page.matches("http://www.w3.org/2000/svg").count();
        assert!(
            (banned == "http://" && n == svg_ns) || n == 0,
            "{banned} appears {n} times"
        );
    }
    assert!(page.contains("ACER (legacy figure"));
}

#[test]
fn eval_runs_whole_sessions_on_capture_folders() {
    let models_dir = cache::models_dir();
    let ort = cache::runtime_path();
    let fixtures = cache::fixtures_dir();
    assert!(
        models_dir.is_dir() && ort.is_file(),
        "run `cargo xtask setup`"
    );
    let engine = Arc::new(
        Engine::new(EngineConfig {
            models_dir: models_dir.clone(),
            runtime_path: Some(ort.clone()),
            detector: DetectorKind::BlazeFaceFront,
            ..EngineConfig::default()
        })
        .expect("engine"),
    );
    let source = Source::from_file(
        &engine,
        &fixtures.join("newton.png"),
        &SourceOptions::default(),
    )
    .expect("newton");
    let dir = std::env::temp_dir().join(format!("liveproof-eval-test-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    for (kind, seed) in [(Kind::BonaFide, 3), (Kind::Print, 4)] {
        let c = generate(&source, &Params::new(kind, seed, 40, 30.0)).expect("capture");
        write_capture(&c, &dir.join("captures").join(kind.as_str())).expect("written");
    }
    let out = dir.join("out");
    let status = std::process::Command::new(env!("CARGO_BIN_EXE_liveproof-eval"))
        .args([
            "eval", "--flow", "login", "--tier", "low", "--jobs", "1", "--out",
        ])
        .arg(&out)
        .arg(dir.join("captures"))
        .env("LIVEPROOF_MODELS_DIR", &models_dir)
        .env("ORT_DYLIB_PATH", &ort)
        .env("LIVEPROOF_FIXTURES_DIR", &fixtures)
        .status()
        .expect("liveproof-eval runs");
    assert!(status.success());
    let m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("metrics.json")).unwrap()).unwrap();
    let outcomes = m["outcomes"].as_array().unwrap();
    assert_eq!(outcomes.len(), 2);
    let get = |species: &str| {
        outcomes
            .iter()
            .find(|o| o["species"] == species)
            .unwrap_or_else(|| panic!("{species}"))
    };
    let (bf, pr) = (get("bona_fide"), get("print"));
    println!(
        "passive-only sessions: bona fide {} fused {}, print {} fused {}",
        bf["band"], bf["fused"], pr["band"], pr["fused"]
    );
    assert_eq!(bf["origin"], "SYNTHETIC");
    assert_ne!(pr["band"], "pass", "the print passed");
    assert_eq!(m["SYNTHETIC"]["species"][0]["n"], 1);
    let csv = std::fs::read_to_string(out.join("fusion_table.csv")).unwrap();
    assert_eq!(csv.lines().count(), 3);
    assert!(csv.starts_with("capture_id,person,origin,species,label,"));
    let page = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(page.contains("SYNTHETIC") && page.contains("<svg"));
    let _ = std::fs::remove_dir_all(&dir);
}
