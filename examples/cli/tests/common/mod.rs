//! Shared by the CLI's tests: a seed whose challenge plan a SYNTHETIC capture can act out, and
//! that capture written as a frame folder.
#![allow(dead_code)] // Each test binary uses part of it.

use std::path::Path;

use liveproof_core::active::{derive_plan, Action, ChallengePlan, PlanPolicy};
use liveproof_synth::{generate, perform_plan, write_capture, Kind, Params, Source, SourceOptions};
use liveproof_tests::fixture;

/// The first seed of a fixed sequence whose plan under `policy` has no BLINK (FaceMesh's EAR
/// misses some rendered blinks, docs/active.md).
pub fn seed_without_blink(policy: &PlanPolicy) -> ([u8; 32], ChallengePlan) {
    (0u8..)
        .map(|k| {
            let s: [u8; 32] = core::array::from_fn(|i| k.wrapping_mul(7).wrapping_add(i as u8));
            (s, derive_plan(&s, policy).unwrap())
        })
        .find(|(_, p)| p.steps.iter().all(|s| s.action != Action::Blink))
        .unwrap()
}

/// Renders `params` (SYNTHETIC) from the astronaut portrait and writes the capture, frames
/// and capture.json, to `dir` (replacing it).
pub fn write_astronaut_capture(params: &Params, dir: &Path) {
    let engine = liveproof_tests::default_engine();
    let source = Source::from_file(
        &engine,
        &fixture("astronaut.png"),
        &SourceOptions::default(),
    )
    .unwrap();
    let _ = std::fs::remove_dir_all(dir);
    write_capture(&generate(&source, params).unwrap(), dir).unwrap();
}

/// A SYNTHETIC bona fide capture of the astronaut acting out `plan` (synth seed 5, 30 fps,
/// `tail_s` seconds after the last step), written to `dir` with its capture.json.
pub fn performed_capture(plan: &ChallengePlan, tail_s: f64, dir: &Path) {
    let (script, end_s) = perform_plan(plan, 5);
    let mut params = Params::new(Kind::BonaFide, 5, ((end_s + tail_s) * 30.0) as u32, 30.0);
    params.performance = script;
    write_astronaut_capture(&params, dir);
}
