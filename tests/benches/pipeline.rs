//! Per-stage and whole-frame timings of the perception pipeline with the real models, on a
//! 640×480 frame made from the public-domain astronaut photo.
//!
//! `cargo xtask bench` runs this (after set-up) and then times MediaPipe's own FaceMesh graph on
//! the same frames for the side-by-side ratio.

use std::sync::Arc;

use criterion::{criterion_group, criterion_main, Criterion};
use liveproof_core::engine::{DetectorKind, Engine, EngineConfig, Tracker};
use liveproof_core::frame::{Frame, PixelFormat, RgbImage};
use liveproof_core::quality::{self, LumaView, QualityConfig, QualityInput, QualityScratch};
use liveproof_tests::{engine_config, engine_with, fixture, load_rgb, rgb_to_nv21};

/// The astronaut photo's upper 512×384 (face in view) scaled to 640×480.
fn frame_640x480() -> RgbImage {
    let src = load_rgb(&fixture("astronaut.png"));
    let img = image::RgbImage::from_raw(src.width, src.height, src.data).unwrap();
    let crop = image::imageops::crop_imm(&img, 0, 0, 512, 384).to_image();
    let out = image::imageops::resize(&crop, 640, 480, image::imageops::FilterType::Triangle);
    RgbImage::from_raw(640, 480, out.into_raw()).unwrap()
}

fn engine(recount: u32) -> Arc<Engine> {
    engine_with(EngineConfig {
        recount_faces_every: recount,
        ..engine_config(DetectorKind::BlazeFaceFront)
    })
}

fn stages(c: &mut Criterion) {
    let eng = engine(15);
    let img = frame_640x480();
    let mut tracker = Tracker::new(eng.clone());
    let frame = Frame::contiguous(img.width, img.height, PixelFormat::Rgb888, &img.data).unwrap();
    let analysis = tracker.analyze_still(&frame).unwrap().clone();
    let face = analysis
        .faces
        .first()
        .expect("a face in the bench frame")
        .clone();

    let mut g = c.benchmark_group("stage");
    g.bench_function("detect_blazeface_front_640x480", |b| {
        b.iter(|| tracker.detect_rgb(&img).unwrap().len())
    });
    g.bench_function("facemesh_192", |b| {
        b.iter(|| tracker.mesh_rgb(&img, &face.roi).unwrap().1)
    });
    let luma: Vec<u8> = img
        .data
        .chunks_exact(3)
        .map(|p| ((77 * p[0] as u32 + 150 * p[1] as u32 + 29 * p[2] as u32) >> 8) as u8)
        .collect();
    let cfg = QualityConfig::default();
    let mut scratch = QualityScratch::default();
    g.bench_function("quality_gate", |b| {
        b.iter(|| {
            let input = QualityInput {
                luma: LumaView::new(img.width, img.height, &luma, img.width as usize).unwrap(),
                face_box: face.detection.bbox,
                landmarks: &face.landmarks,
                presence: face.presence,
                previous: Some(&face.landmarks),
                dt_s: 1.0 / 30.0,
                num_faces: 1,
            };
            quality::assess(&cfg, &input, &mut scratch).unwrap().passed
        })
    });
    g.finish();
}

fn whole_frame(c: &mut Criterion) {
    let img = frame_640x480();
    let nv21 = rgb_to_nv21(&img);
    let mut g = c.benchmark_group("frame");
    // The phone path: NV21 640×480 in, tracking mode, with the periodic face recount (15) and
    // as pure tracking (0), the configuration MediaPipe's graph runs; the buffer read in place,
    // and (`_with_rgb`) also converted whole, as before issue #15 and for callers of
    // `Tracker::last_rgb`.
    let mut ts = 0u64;
    for (name, recount, keep_rgb) in [
        ("tracking_nv21_640x480", 15, false),
        ("tracking_only_nv21_640x480", 0, false),
        ("tracking_only_nv21_640x480_with_rgb", 0, true),
    ] {
        let mut tracker = Tracker::new(engine(recount));
        tracker.set_keep_rgb(keep_rgb);
        g.bench_function(name, |b| {
            b.iter(|| {
                ts += 33_333_333;
                let f = Frame::contiguous(640, 480, PixelFormat::Nv21, &nv21)
                    .unwrap()
                    .with_timestamp_ns(ts);
                tracker.process(&f).unwrap().faces.len()
            })
        });
    }
    // Still image: detection + FaceMesh + quality every frame.
    let mut tracker = Tracker::new(engine(15));
    g.bench_function("still_rgb_640x480", |b| {
        b.iter(|| {
            let f = Frame::contiguous(640, 480, PixelFormat::Rgb888, &img.data).unwrap();
            tracker.analyze_still(&f).unwrap().faces.len()
        })
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(60).warm_up_time(std::time::Duration::from_secs(1)).measurement_time(std::time::Duration::from_secs(4));
    targets = stages, whole_frame
}
criterion_main!(benches);
