//! Parallax needs motion the image shows (issue #11), on SYNTHETIC captures: a bona fide
//! capture whose head does not move, and the same rendered frame repeated, must report "not
//! enough motion" (no score), while the same face with its idle head motion is scored. The
//! REAL counterparts are in `real_pad.rs` (real photos repeated as stills) and
//! `real_video.rs` (a real talking face, whose head motion is scored in every window).

use std::sync::Arc;

use liveproof_core::engine::{DetectorKind, Engine, Tracker};
use liveproof_core::frame::{Frame, PixelFormat, RgbImage};
use liveproof_core::passive::analyzer::{PassiveAnalyzer, PassiveConfig, PassiveModels};
use liveproof_core::passive::SignalReport;
use liveproof_synth::{Generator, Kind, Params, Source, SourceOptions};
use liveproof_tests::{default_engine, engine_config, fixture};

const FRAMES: u32 = 30;
const FPS: f64 = 30.0;

/// Parallax over a sequence of frames through the real pipeline.
fn parallax_of(engine: &Arc<Engine>, frames: &[(RgbImage, u64)]) -> SignalReport {
    let ecfg = engine_config(DetectorKind::BlazeFaceFront);
    let config = PassiveConfig {
        depth_model: String::new(),
        ..PassiveConfig::default()
    };
    let models = Arc::new(PassiveModels::load(&ecfg, &config));
    let mut tracker = Tracker::with_rgb(engine.clone());
    let mut passive = PassiveAnalyzer::new(models, config).expect("analyzer");
    for (img, ts) in frames {
        let frame = Frame::contiguous(img.width, img.height, PixelFormat::Rgb888, &img.data)
            .expect("frame")
            .with_timestamp_ns(*ts);
        let a = tracker.process(&frame).expect("analysis");
        let face = a
            .faces
            .first()
            .expect("a face in every synthetic bona fide frame");
        let (lm, bbox) = (face.landmarks.clone(), face.detection.bbox);
        passive
            .push(tracker.last_rgb().unwrap(), &lm, bbox, *ts)
            .expect("push");
    }
    passive.report().parallax
}

fn render(source: &Source, seed: u64, idle_motion: f64) -> Vec<(RgbImage, u64)> {
    let mut params = Params::new(Kind::BonaFide, seed, FRAMES, FPS);
    params.idle_motion = idle_motion;
    let mut generator = Generator::new(source, &params).expect("generator");
    let mut out = Vec::new();
    while let Some(f) = generator.next_frame() {
        out.push((f.image.clone(), f.timestamp_ns));
    }
    out
}

fn feature(r: &SignalReport, k: &str) -> f64 {
    r.features.get(k).copied().unwrap_or(f64::NAN)
}

#[test]
fn parallax_reports_no_evidence_without_image_motion() {
    let engine = default_engine();
    let mut moving_scored = 0;
    for (i, name) in ["astronaut.png", "newton.png", "gauss.png"]
        .iter()
        .enumerate()
    {
        let source =
            Source::from_file(&engine, &fixture(name), &SourceOptions::default()).expect("source");
        let seed = 7 + i as u64;
        let moving = parallax_of(&engine, &render(&source, seed, 1.0));
        let frozen = parallax_of(&engine, &render(&source, seed, 0.0));
        let first = render(&source, seed, 1.0).swap_remove(0);
        let repeated: Vec<(RgbImage, u64)> = (0..FRAMES as u64)
            .map(|k| (first.0.clone(), k * 33_333_333))
            .collect();
        let still = parallax_of(&engine, &repeated);
        for (what, r) in [
            ("idle head motion", &moving),
            ("no head motion", &frozen),
            ("one frame repeated", &still),
        ] {
            println!(
                "SYNTHETIC {name} seed {seed}, {what}: parallax {:?}, landmark motion {:.4}, \
                 image motion {:.4} IOD, decisive pairs {} {}",
                r.score,
                feature(r, "max_motion"),
                feature(r, "max_image_motion"),
                feature(r, "decisive_pairs"),
                r.reason
            );
        }
        for (what, r) in [("no head motion", &frozen), ("one frame repeated", &still)] {
            assert!(
                !r.available && r.score.is_none(),
                "{name} {what}: parallax scored {:?} without motion",
                r.score
            );
            assert!(
                r.reason.contains("not enough out-of-plane motion"),
                "{name} {what}: {}",
                r.reason
            );
        }
        if moving.available {
            moving_scored += 1;
        }
    }
    // Idle head motion (a few degrees) still registers.
    assert!(
        moving_scored >= 2,
        "only {moving_scored} of 3 moving captures scored"
    );
}
