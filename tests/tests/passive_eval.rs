//! Passive-liveness evaluation on SYNTHETIC captures (issue #4).
//!
//! Every signal runs through the real pipeline (BlazeFace + FaceMesh tracking on each frame,
//! then `PassiveAnalyzer`) on captures that `liveproof-synth` generates from public-domain
//! photos: the astronaut, Newton and Gauss portraits and the 4 largest Solvay 1927 faces, each
//! as bona fide, print, screen replay and injection, with 2 seeds. The captures are
//! synthetic, so the figures show whether a signal reacts to the simulated physics, not how it
//! performs on real people and real attacks.
//!
//! The test prints per signal and attack species the score distributions and the separation
//! as AUC (bona fide vs species), and asserts: parallax separates print (AUC ≥ 0.85); FFT
//! never calls a bona fide capture a screen and catches a screen whose grid aliases (one more
//! replay per source is drawn with a pitch of ≥ 1.8 camera pixels, which the camera
//! resolves); reflection separates replays that reflect a lamp or window onto the face
//! (AUC ≥ 0.9). FFT cannot see a grid finer than the camera resolves (most phones and
//! tablets at arm's length, and the real tablet replay) nor a resolved grating near the image
//! axes, reflection cannot see a faint veil or a glare that misses the face, and the output
//! says so (see docs/passive.md).
//! Where a signal cannot separate a species, the table says so ("no separation") rather than
//! hiding it.

use std::collections::BTreeMap;
use std::sync::Arc;

use liveproof_core::engine::{DetectorKind, Engine, EngineConfig, Tracker};
use liveproof_core::frame::{Frame, PixelFormat};
use liveproof_core::passive::analyzer::{
    OptionalModel, PassiveAnalyzer, PassiveConfig, PassiveModels, PassiveReport,
};
use liveproof_core::passive::SignalReport;
use liveproof_synth::replay::GlareKind;
use liveproof_synth::{Generator, Kind, Params, Source, SourceOptions};
use liveproof_tests::{auc, default_engine, engine_config, fixture, solvay_face_boxes};

const FRAMES: u32 = 30;
const FPS: f64 = 30.0;
/// Seeds per source and kind: each source gets its own, so every capture draws its own
/// screen, print, glare and motion parameters.
const SEEDS_PER_SOURCE: u64 = 2;
const SIGNALS: [&str; 5] = ["depth", "fft", "reflection", "parallax", "texture"];
/// Replays per colour source with the glare forced onto the face (each draws its own glare:
/// about half a veil, half a lamp or window image).
const GLARE_SEEDS_PER_SOURCE: u64 = 6;
/// Screen pitch, camera pixels, from which the camera resolves the panel's pixel grid (the
/// stripe period near its Nyquist limit): moiré can appear. Finer screens (most phones and
/// tablets at arm's length) are averaged away, as on the real tablet replay.
const RESOLVED_PITCH_PX: f64 = 1.8;

/// The first replay seed from `from` whose screen the camera resolves.
fn resolved_grid_seed(source: &Source, from: u64) -> u64 {
    (from..from + 500)
        .find(|&seed| {
            let g = Generator::new(source, &Params::new(Kind::Replay, seed, 1, FPS))
                .expect("generator");
            g.meta()
                .drawn
                .replay
                .as_ref()
                .expect("replay draw")
                .pitch_px
                >= RESOLVED_PITCH_PX
        })
        .expect("a seed with a coarse screen pitch")
}

fn pitch_of(r: &Run) -> f64 {
    r.meta
        .drawn
        .replay
        .as_ref()
        .map(|d| d.pitch_px)
        .expect("a replay records its screen")
}

struct Run {
    source: String,
    kind: Kind,
    seed: u64,
    report: PassiveReport,
    meta: liveproof_synth::CaptureMeta,
}

fn signal<'a>(r: &'a PassiveReport, name: &str) -> &'a SignalReport {
    match name {
        "depth" => &r.depth,
        "fft" => &r.fft,
        "reflection" => &r.reflection,
        "parallax" => &r.parallax,
        _ => &r.texture,
    }
}

fn sources(engine: &Arc<Engine>) -> Vec<(String, Source)> {
    let mut out = Vec::new();
    for name in ["astronaut", "newton", "gauss"] {
        let path = fixture(&format!("{name}.png"));
        let s = Source::from_file(engine, &path, &SourceOptions::default())
            .unwrap_or_else(|e| panic!("source {name}: {e}"));
        out.push((name.to_string(), s));
    }
    let (img, boxes) = solvay_face_boxes(4);
    assert_eq!(boxes.len(), 4, "4 Solvay faces");
    for (i, b) in boxes.into_iter().enumerate() {
        let opts = SourceOptions { face_box: Some(b) };
        match Source::from_photo(engine, img.clone(), &opts) {
            Ok(s) => out.push((format!("solvay{i}"), s)),
            Err(e) => println!("solvay face {i} not usable as a source: {e}"),
        }
    }
    out
}

fn run_capture(
    engine: &Arc<Engine>,
    models: &Arc<PassiveModels>,
    config: &PassiveConfig,
    source: &Source,
    kind: Kind,
    seed: u64,
    glare_on_face: bool,
) -> (PassiveReport, liveproof_synth::CaptureMeta) {
    let mut params = Params::new(kind, seed, FRAMES, FPS);
    params.glare_on_face = glare_on_face;
    let mut generator = Generator::new(source, &params).expect("generator");
    let meta = generator.meta().clone();
    let mut tracker = Tracker::with_rgb(engine.clone());
    let mut passive = PassiveAnalyzer::new(models.clone(), config.clone()).expect("analyzer");
    while let Some(f) = generator.next_frame() {
        let img = &f.image;
        let frame = Frame::contiguous(img.width, img.height, PixelFormat::Rgb888, &img.data)
            .expect("frame")
            .with_timestamp_ns(f.timestamp_ns);
        let a = tracker.process(&frame).expect("analysis");
        match a.faces.first() {
            Some(face) => {
                let (lm, bbox) = (face.landmarks.clone(), face.detection.bbox);
                passive
                    .push(tracker.last_rgb().unwrap(), &lm, bbox, f.timestamp_ns)
                    .expect("push");
            }
            None => passive.push_no_face(),
        }
    }
    (passive.report(), meta)
}

/// An AUC as the table prints it, saying when a signal does not separate.
fn verdict(a: Option<f64>) -> String {
    match a {
        None => "not available".to_string(),
        Some(a) if a >= 0.9 => format!("{a:.3}"),
        Some(a) if a >= 0.7 => format!("{a:.3} (partial)"),
        Some(a) => format!("{a:.3} (no separation)"),
    }
}

fn quantiles(v: &[f32]) -> String {
    if v.is_empty() {
        return "-".into();
    }
    let mut s = v.to_vec();
    s.sort_by(|a, b| a.total_cmp(b));
    let q = |p: f64| s[((s.len() - 1) as f64 * p).round() as usize];
    format!("{:.3} [{:.3}, {:.3}]", q(0.5), s[0], s[s.len() - 1])
}

#[test]
fn passive_signals_on_synthetic_captures() {
    let engine = default_engine();
    let ecfg: EngineConfig = engine_config(DetectorKind::BlazeFaceFront);
    let config = PassiveConfig {
        depth_model: "depth_standin".into(),
        ..PassiveConfig::default()
    };
    let models = Arc::new(PassiveModels::load(&ecfg, &config));
    assert!(
        !models.texture.is_empty(),
        "texture model: {}",
        models.texture_note
    );
    assert!(
        matches!(models.depth, OptionalModel::Loaded(_)),
        "{:?}",
        models.depth
    );

    let t0 = std::time::Instant::now();
    let mut runs = Vec::new();
    let mut glare_runs = Vec::new();
    let mut resolved_runs = Vec::new();
    for (si, (name, source)) in sources(&engine).into_iter().enumerate() {
        // One replay on a screen whose grid the camera resolves, for FFT (the replays above
        // draw their pitch: most are finer than the camera resolves).
        let seed = resolved_grid_seed(&source, 7000 + 100 * si as u64);
        let (report, meta) = run_capture(
            &engine,
            &models,
            &config,
            &source,
            Kind::Replay,
            seed,
            false,
        );
        resolved_runs.push(Run {
            source: name.clone(),
            kind: Kind::Replay,
            seed,
            report,
            meta,
        });
        for kind in Kind::ALL {
            for s in 0..SEEDS_PER_SOURCE {
                let seed = 1000 + 10 * si as u64 + s;
                let (report, meta) =
                    run_capture(&engine, &models, &config, &source, kind, seed, false);
                runs.push(Run {
                    source: name.clone(),
                    kind,
                    seed,
                    report,
                    meta,
                });
            }
        }
        // Replays whose glare is centred on the face (as drawn otherwise), for reflection.
        // The Solvay photo is black and white: reflection reports its faces unavailable
        // (achromatic, see the table), so only the colour sources get these.
        let glare_seeds = if name.starts_with("solvay") {
            0
        } else {
            GLARE_SEEDS_PER_SOURCE
        };
        for s in 0..glare_seeds {
            let seed = 5000 + 10 * si as u64 + s;
            let (report, meta) =
                run_capture(&engine, &models, &config, &source, Kind::Replay, seed, true);
            glare_runs.push(Run {
                source: name.clone(),
                kind: Kind::Replay,
                seed,
                report,
                meta,
            });
        }
    }
    println!(
        "SYNTHETIC captures: {} ({} frames each at {FPS} fps) in {:.1} s",
        runs.len(),
        FRAMES,
        t0.elapsed().as_secs_f64()
    );
    let n_sources = runs.len() / (Kind::ALL.len() * SEEDS_PER_SOURCE as usize);
    assert!(n_sources >= 6, "at least 6 usable sources, got {n_sources}");

    // The face is found in nearly every frame of every bona fide and injection capture
    // (checked at the end, after the tables are printed). Attacks may lose it (a small
    // face behind strong moiré); those are listed, not failed.
    let lost_in = |r: &&Run| r.report.frames_with_face * 10 < r.report.frames * 9;
    for r in runs
        .iter()
        .filter(lost_in)
        .filter(|r| matches!(r.kind, Kind::Print | Kind::Replay))
    {
        println!(
            "note: {} {} seed {}: face in {} of {} frames",
            r.source,
            r.kind.as_str(),
            r.seed,
            r.report.frames_with_face,
            r.report.frames
        );
    }
    let lost: Vec<String> = runs
        .iter()
        .filter(lost_in)
        .filter(|r| matches!(r.kind, Kind::BonaFide | Kind::Injection))
        .map(|r| {
            format!(
                "{} {} seed {}: face in {} of {} frames",
                r.source,
                r.kind.as_str(),
                r.seed,
                r.report.frames_with_face,
                r.report.frames
            )
        })
        .collect();

    // Score tables and AUCs.
    let mut aucs: BTreeMap<(&str, &str), Option<f64>> = BTreeMap::new();
    println!("\nsignal      species    available  score median [min, max]   AUC vs bona fide");
    for sig in SIGNALS {
        let scores = |k: Kind| -> (Vec<f32>, usize) {
            let of_kind: Vec<_> = runs.iter().filter(|r| r.kind == k).collect();
            let s: Vec<f32> = of_kind
                .iter()
                .filter_map(|r| signal(&r.report, sig).score)
                .collect();
            (s, of_kind.len())
        };
        let (live, n_live) = scores(Kind::BonaFide);
        println!(
            "{sig:<11} {:<10} {:>3}/{:<3}    {:<26}",
            "bona_fide",
            live.len(),
            n_live,
            quantiles(&live)
        );
        for k in [Kind::Print, Kind::Replay, Kind::Injection] {
            let (att, n) = scores(k);
            let a = auc(&live, &att);
            let verdict = verdict(a);
            println!(
                "{:<11} {:<10} {:>3}/{:<3}    {:<26} {verdict}",
                "",
                k.as_str(),
                att.len(),
                n,
                quantiles(&att)
            );
            aucs.insert((sig, k.as_str()), a);
        }
    }
    println!("(depth ran on the project-made STAND-IN model: its figures say nothing about depth)");

    // Texture CNN: each model's live probability (mean over the window) as a live score,
    // bona fide vs print and vs replay.
    let texture_models = runs
        .first()
        .map(|r| r.report.texture.model.clone())
        .unwrap_or_default();
    println!("\ntexture models {texture_models}: live probability per model, AUC as a live score:");
    for (k, name) in texture_models.split('+').enumerate() {
        let key = format!("model{k}_live_mean");
        let of = |kind: Kind| -> Vec<f32> {
            runs.iter()
                .filter(|r| r.kind == kind)
                .filter_map(|r| r.report.texture.features.get(&key).map(|&v| v as f32))
                .collect()
        };
        let live = of(Kind::BonaFide);
        for kind in [Kind::Print, Kind::Replay] {
            println!(
                "  {name}: bona fide {} vs {} {} -> AUC {:?}",
                quantiles(&live),
                kind.as_str(),
                quantiles(&of(kind)),
                auc(&live, &of(kind)).map(|a| (a * 1000.0).round() / 1000.0)
            );
        }
    }

    // Per-capture detail for the record.
    println!(
        "\nper capture (score or '-' when not available): depth fft reflection parallax texture"
    );
    for r in &runs {
        let cells: Vec<String> = SIGNALS
            .iter()
            .map(|s| match signal(&r.report, s).score {
                Some(v) => format!("{v:.2}"),
                None => "-".into(),
            })
            .collect();
        let feat = |s: &SignalReport, k: &str| s.features.get(k).copied().unwrap_or(f64::NAN);
        let mut extra = format!(
            "peak {:.1} dB | blob {:.3} | k {:.2} motion {:.3} noise {:.4}",
            feat(&r.report.fft, "peak_prominence_db"),
            feat(&r.report.reflection, "largest_blob_fraction"),
            feat(&r.report.parallax, "parallax_fraction"),
            feat(&r.report.parallax, "max_motion"),
            feat(&r.report.parallax, "noise_floor"),
        );
        if let (Some(d), Some(l)) = (&r.meta.drawn.replay, &r.meta.layout.screen) {
            extra += &format!(
                " | pitch {:.2} px blur {:.2} glare-on-face {}",
                d.pitch_px, d.optics_blur_px, l.glare_over_face
            );
        }
        println!(
            "  {:<10} {:<10} seed {:<3} {}  (face {}/{}) {extra}",
            r.source,
            r.kind.as_str(),
            r.seed,
            cells.join(" "),
            r.report.frames_with_face,
            r.report.frames
        );
    }

    // FFT looks for the panel's pixel grid: it can only see a grid the camera resolves.
    let live_fft: Vec<f32> = runs
        .iter()
        .filter(|r| r.kind == Kind::BonaFide)
        .filter_map(|r| r.report.fft.score)
        .collect();
    let replay_fft = |keep: &dyn Fn(f64) -> bool| -> Vec<f32> {
        runs.iter()
            .chain(&resolved_runs)
            .filter(|r| r.kind == Kind::Replay && keep(pitch_of(r)))
            .filter_map(|r| r.report.fft.score)
            .collect()
    };
    let fine = replay_fft(&|p| p < 1.0);
    let coarse = replay_fft(&|p| p >= RESOLVED_PITCH_PX);
    let auc_fine = auc(&live_fft, &fine);
    let auc_coarse = auc(&live_fft, &coarse);
    println!(
        "
fft, bona fide ({} scored) vs replay by screen pitch (the drawn replays and one \
         resolved-grid replay per source):",
        live_fft.len()
    );
    println!(
        "  pitch < 1 camera px (grid not resolved)   {} scored, score {}, AUC {}",
        fine.len(),
        quantiles(&fine),
        verdict(auc_fine)
    );
    println!(
        "  pitch >= {RESOLVED_PITCH_PX} camera px (grid resolved)     {} scored, score {}, AUC {}",
        coarse.len(),
        quantiles(&coarse),
        verdict(auc_coarse)
    );
    for r in runs
        .iter()
        .chain(&resolved_runs)
        .filter(|r| r.kind == Kind::Replay)
    {
        println!(
            "  {:<10} replay seed {:<5} pitch {:.2} camera px: fft {:?} peak {:.1} dB",
            r.source,
            r.seed,
            pitch_of(r),
            r.report.fft.score,
            r.report
                .fft
                .features
                .get("peak_prominence_db")
                .copied()
                .unwrap_or(f64::NAN)
        );
    }

    // Reflection can only see glare that falls on the face: a second set of replays has the
    // glare centred on the face (size, shape and brightness as drawn), split by what the glass
    // reflects: the sharp image of a lamp or window (0.2–3× the panel's white) or a soft veil
    // (15–60 %).
    let live_refl: Vec<f32> = runs
        .iter()
        .filter(|r| r.kind == Kind::BonaFide)
        .filter_map(|r| r.report.reflection.score)
        .collect();
    let glare_kind = |r: &Run| {
        r.meta
            .drawn
            .replay
            .as_ref()
            .map(|d| d.glare.kind)
            .expect("a replay records its glare")
    };
    let on_face = |k: GlareKind| -> Vec<f32> {
        glare_runs
            .iter()
            .filter(|r| glare_kind(r) == k)
            .filter_map(|r| r.report.reflection.score)
            .collect()
    };
    let (on_source, on_veil) = (on_face(GlareKind::Source), on_face(GlareKind::Veil));
    let (auc_source, auc_veil) = (auc(&live_refl, &on_source), auc(&live_refl, &on_veil));
    println!(
        "\nreflection, bona fide ({} scored) vs replay with the glare centred on the face:",
        live_refl.len()
    );
    for (what, v, a) in [
        ("lamp/window image", &on_source, auc_source),
        ("soft veil", &on_veil, auc_veil),
    ] {
        println!(
            "  {what:<18} {} scored, score {}, AUC {}",
            v.len(),
            quantiles(v),
            verdict(a)
        );
    }
    for r in &glare_runs {
        let g = r.meta.drawn.replay.as_ref().map(|d| &d.glare);
        let shape = match g {
            Some(g) if g.kind == GlareKind::Source => format!(
                "source: radius {:.3} of the width, {:.2}× white",
                g.source_radius_frac, g.source_level
            ),
            Some(g) => format!(
                "veil: σ {:.2} of the width, {:.2}× white",
                g.sigma_frac, g.strength
            ),
            None => String::new(),
        };
        println!(
            "  {:<10} replay+glare seed {} {shape}: reflection {:?} blob {:?} ({})",
            r.source,
            r.seed,
            r.report.reflection.score,
            r.report.reflection.features.get("largest_blob_fraction"),
            r.report.reflection.reason
        );
    }

    assert!(lost.is_empty(), "face lost:\n{}", lost.join("\n"));
    // The separations the design promises.
    let get = |s: &str, k: &str| aucs[&(s, k)].unwrap_or(0.0);
    assert!(
        get("parallax", "print") >= 0.85,
        "parallax vs print AUC {}",
        get("parallax", "print")
    );
    // FFT only sees a screen when its grid aliases into off-axis peaks. With the camera
    // modelled as its pixel aperture convolved with the lens blur, that is rare: finer
    // screens are averaged away (as on the real tablet replay) and most coarse ones leave a
    // resolved grating near the image axes, which FFT ignores. What it must never do is call
    // a bona fide face a screen; and a screen that does alias must be caught.
    let false_alarms: Vec<f32> = live_fft.iter().copied().filter(|&v| v < 0.5).collect();
    assert!(
        false_alarms.is_empty() && live_fft.len() * 10 >= n_sources * SEEDS_PER_SOURCE as usize * 9,
        "fft on bona fide: {} scored, false alarms {false_alarms:?}",
        live_fft.len()
    );
    assert!(
        coarse.iter().any(|&v| v < 0.5),
        "no resolved-grid replay caught by fft: {coarse:?}"
    );
    // Reflection separates replays that reflect a lamp or window onto the face. A soft veil
    // is not asserted: it only lowers the skin's saturation a little (see docs/passive.md).
    assert!(
        on_source.len() >= 5,
        "too few replays with a lamp/window image on the face scored: {}",
        on_source.len()
    );
    assert!(
        auc_source.unwrap_or(0.0) >= 0.9,
        "reflection vs replay (lamp/window image on the face) AUC {auc_source:?}"
    );
}

#[test]
fn analyzer_reports_missing_models_short_windows_and_bad_input() {
    use liveproof_core::frame::RgbImage;
    use liveproof_core::geometry::{Point3, Rect};
    let mut a = PassiveAnalyzer::new(Arc::new(PassiveModels::none()), PassiveConfig::default())
        .expect("analyzer");
    // An empty window: every signal is unavailable, with a reason, never a panic.
    let r = a.report();
    assert_eq!(r.frames, 0);
    for sig in SIGNALS {
        let s = signal(&r, sig);
        assert!(
            !s.available && s.score.is_none() && !s.reason.is_empty(),
            "{sig}: {s:?}"
        );
    }
    assert!(
        r.depth.reason.contains("no depth model"),
        "{}",
        r.depth.reason
    );
    // Bad input is a typed error and adds nothing to the window.
    let img = RgbImage::new(64, 48);
    let bbox = Rect {
        x_min: 10.0,
        y_min: 10.0,
        x_max: 40.0,
        y_max: 40.0,
    };
    let short = RgbImage {
        width: 64,
        height: 48,
        data: vec![0; 10],
    };
    let lm = liveproof_core::mesh::Landmarks::new(vec![
        Point3 {
            x: 20.0,
            y: 20.0,
            z: 0.0
        };
        468
    ])
    .unwrap();
    let e = a.push(&short, &lm, bbox, 0).unwrap_err().to_string();
    assert!(e.contains("bytes"), "{e}");
    // Every point on one spot: the eyes coincide.
    let e = a.push(&img, &lm, bbox, 0).unwrap_err().to_string();
    assert!(e.contains("eye landmarks coincide"), "{e}");
    a.push_no_face();
    let r = a.report();
    assert_eq!((r.frames, r.frames_with_face), (1, 0));
    // A bad configuration is refused up front.
    let bad = PassiveConfig {
        max_window: 1,
        ..PassiveConfig::default()
    };
    assert!(PassiveAnalyzer::new(Arc::new(PassiveModels::none()), bad).is_err());
}
