//! The quality gate as tracking runs it on every frame: the face box's luma read from the
//! camera buffer, then `quality::assess` (head pose, the resampled crop's statistics and
//! sharpness, region contrast, framing, stability).
//!
//! `cargo bench -p liveproof-core --bench quality`

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use liveproof_core::frame::{Frame, GrayImage, PixelFormat, Region};
use liveproof_core::geometry::{Point3, Rect};
use liveproof_core::mesh::Landmarks;
use liveproof_core::quality::{assess, LumaView, QualityConfig, QualityInput, QualityScratch};

/// MediaPipe's canonical face model (468 vertices, cm; Apache-2.0, see the file header).
const CANONICAL_TXT: &str = include_str!("../src/quality/testdata/canonical_face_model.txt");

/// The canonical face, frontal, `scale` px per cm, centred at (cx, cy), as FaceMesh reports it
/// (y down, z negative towards the camera).
fn frontal_face(scale: f32, cx: f32, cy: f32) -> Landmarks {
    let points: Vec<Point3> = CANONICAL_TXT
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let v: Vec<f32> = l.split_whitespace().map(|t| t.parse().unwrap()).collect();
            Point3::new(cx + scale * v[0], cy - scale * v[1], scale * -v[2])
        })
        .collect();
    Landmarks::from_slice(&points).unwrap()
}

/// Deterministic textured bytes (so statistics and the Laplacian see varied values).
fn pattern(len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| ((i * 2_654_435_761) >> 13) as u8)
        .collect()
}

fn gate(c: &mut Criterion) {
    let (w, h) = (640u32, 480u32);
    // About 16 cm across: a face box of roughly 250 px, as at arm's length in VGA.
    let lm = frontal_face(16.0, w as f32 / 2.0, h as f32 / 2.0);
    let face_box = Rect::bounding(lm.iter().map(|p| p.xy())).unwrap();
    let region = Region::covering(
        face_box.x_min,
        face_box.y_min,
        face_box.x_max,
        face_box.y_max,
        2,
        w,
        h,
    );
    let cfg = QualityConfig::default();
    let mut group = c.benchmark_group("quality_gate");
    for format in [PixelFormat::Rgb888, PixelFormat::Nv21] {
        let data = pattern(format.packed_len(w as usize, h as usize));
        let frame = Frame::contiguous(w, h, format, &data).unwrap();
        let mut luma = GrayImage::default();
        let mut scratch = QualityScratch::new();
        let face = format!("face_{:.0}px_{w}x{h}", face_box.width());
        group.bench_function(
            BenchmarkId::new(format!("luma_{face}"), format!("{format:?}")),
            |b| b.iter(|| frame.luma_region_into(&mut luma, region)),
        );
        frame.luma_region_into(&mut luma, region);
        group.bench_function(
            BenchmarkId::new(format!("assess_{face}"), format!("{format:?}")),
            |b| {
                b.iter(|| {
                    let input = QualityInput {
                        luma: LumaView::new(w, h, &luma.data, w as usize).unwrap(),
                        face_box,
                        landmarks: &lm,
                        presence: 0.95,
                        previous: Some(&lm),
                        dt_s: 1.0 / 30.0,
                        num_faces: 1,
                    };
                    assess(&cfg, &input, &mut scratch).unwrap()
                })
            },
        );
    }
    group.finish();
}

criterion_group!(benches, gate);
criterion_main!(benches);
