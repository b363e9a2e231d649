//! The curved print option: a sheet bent around a vertical cylinder. The rendering's ray cast
//! inverts the bent sheet's projection, and the face's horizontal spacing compresses towards
//! its edges: by the cylinder's geometry, and (in part) as FaceMesh sees it.
//!
//! Models, ONNX Runtime and fixtures come from `cargo xtask setup` (`$LIVEPROOF_MODELS_DIR`,
//! `$ORT_DYLIB_PATH`, `$LIVEPROOF_FIXTURES_DIR`, else `~/.cache/liveproof`).

use std::sync::Arc;

use liveproof_core::engine::{DetectorKind, Engine, Tracker};
use liveproof_core::frame::{Frame, PixelFormat};
use liveproof_core::geometry::Point3;
use liveproof_synth::imgops::ImageF;
use liveproof_synth::print::{PrintDraw, PrintScene};
use liveproof_synth::rng::Rng;
use liveproof_synth::{Generator, Kind, Params, Source, SourceOptions};

use liveproof_core::models::cache;

mod common;

fn engine() -> Arc<Engine> {
    Arc::new(Engine::new(common::config(DetectorKind::BlazeFaceFront)).expect("engine loads"))
}

fn astronaut(engine: &Arc<Engine>) -> Source {
    let p = cache::fixtures_dir().join("astronaut.png");
    assert!(
        p.is_file(),
        "fixture {} is missing: run `cargo xtask setup`",
        p.display()
    );
    Source::from_file(engine, &p, &SourceOptions::default()).expect("astronaut source")
}

/// A seed's print draw, upright, the whole photo printed, bent (or not) around a cylinder
/// of `radius_iod` printed inter-ocular distances.
fn draw(seed: u64, curved: bool, radius_iod: f64) -> PrintDraw {
    let mut d = PrintDraw::draw(&mut Rng::stream(seed, "print"));
    d.rest_yaw_deg = 0.0;
    d.rest_pitch_deg = 0.0;
    d.rest_roll_deg = 0.0;
    d.edges_in_view = false;
    d.curved = curved;
    d.curve_radius_mm = radius_iod * d.printed_iod_mm;
    d
}

/// FaceMesh landmarks of the scene's frame at t = 0.
fn landmarks(engine: &Arc<Engine>, scene: &PrintScene) -> Vec<Point3> {
    let mut buf = ImageF::default();
    scene.render(0.0, &mut buf);
    let img = buf.to_rgb();
    let f =
        Frame::contiguous(img.width, img.height, PixelFormat::Rgb888, &img.data).expect("frame");
    let mut tracker = Tracker::new(engine.clone());
    let a = tracker.analyze_still(&f).expect("analysis");
    a.faces
        .first()
        .expect("a face on the print")
        .landmarks
        .to_vec()
}

// FaceMesh indices: the face's outline at cheek level (image left and right) and the outer
// eye corners.
const CHEEK: [usize; 2] = [234, 454];
const EYE_OUTER: [usize; 2] = [33, 263];

#[test]
fn curved_print_ray_cast_inverts_the_bent_projection_and_flat_is_unchanged() {
    let engine = engine();
    let source = astronaut(&engine);
    // Off by default: the generator's print is flat and the seed's other draws are as before.
    let g = Generator::new(&source, &Params::new(Kind::Print, 5, 1, 30.0)).expect("print");
    let drawn = g.meta().drawn.print.clone().expect("print draw");
    assert!(!drawn.curved);
    assert!((60.0..=200.0).contains(&drawn.curve_radius_mm));
    assert_eq!(
        g.meta().layout.print.as_ref().unwrap().curve_radius_px,
        None
    );

    let scene = PrintScene::new(&source, 480, 640, &draw(5, true, 1.0)).expect("curved scene");
    let mut worst = 0.0f64;
    for &(px, py) in &[
        (0.0, 0.0),
        (-60.0, 10.0),
        (45.0, -30.0),
        (80.0, 70.0),
        (-90.0, -50.0),
    ] {
        let (x, y) = scene.project_plane_point(0.0, px, py);
        let (bx, by) = scene
            .plane_point_at(0.0, x, y)
            .expect("the ray meets the sheet");
        worst = worst.max((bx - px).hypot(by - py));
    }
    println!("curved sheet: round trip plane → image → plane, worst error {worst:.2e} px");
    assert!(worst < 1e-3, "round trip error {worst} px (tolerance 1e-3)");
}

#[test]
fn facemesh_sees_the_curved_print_compress_towards_its_edges() {
    let engine = engine();
    let source = astronaut(&engine);
    let seed = 11;
    let flat = PrintScene::new(&source, 480, 640, &draw(seed, false, 1.0)).expect("flat");
    let curved = PrintScene::new(&source, 480, 640, &draw(seed, true, 1.0)).expect("curved");
    let (lf, lc) = (landmarks(&engine, &flat), landmarks(&engine, &curved));
    let spread = |lm: &[Point3], idx: [usize; 2]| (lm[idx[1]].x - lm[idx[0]].x).abs() as f64;
    // Cheek-to-cheek width over the outer-eye-corner width: the cheeks lie further out on the
    // cylinder, so their spacing shrinks more.
    let ratio = |lm: &[Point3]| spread(lm, CHEEK) / spread(lm, EYE_OUTER);
    let measured = ratio(&lc) / ratio(&lf);
    // The geometry's prediction: the flat print's landmarks taken back to the sheet and
    // projected through the bent sheet.
    let bent = |i: usize| {
        let (px, py) = flat
            .plane_point_at(0.0, lf[i].x as f64, lf[i].y as f64)
            .expect("on the sheet");
        curved.project_plane_point(0.0, px, py).0
    };
    let pred_spread = |idx: [usize; 2]| (bent(idx[1]) - bent(idx[0])).abs();
    let predicted = (pred_spread(CHEEK) / pred_spread(EYE_OUTER)) / ratio(&lf);
    println!(
        "cheek width / outer-eye width, curved (R = 1 printed IOD) over flat: measured {measured:.3}, \
         geometry {predicted:.3}"
    );
    // Measured here: geometry 0.843, FaceMesh 0.973. FaceMesh's shape prior follows only
    // part of the compression (as it follows only part of a blink), so the test asserts the
    // geometry to ±0.05 and that FaceMesh moves the same way.
    assert!(
        (predicted - 0.843).abs() < 0.05,
        "geometry {predicted:.3}, expected 0.843 ± 0.05"
    );
    assert!(
        measured < 0.99 && measured > predicted - 0.05,
        "FaceMesh {measured:.3}: expected below 0.99 (compressed) and not below the geometry"
    );
}
