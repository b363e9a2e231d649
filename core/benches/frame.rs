//! Frame ingestion hot path: camera buffer → upright RGB, and the model-input warp.
//!
//! `cargo bench -p liveproof-core --bench frame`

use criterion::measurement::WallTime;
use criterion::{
    criterion_group, criterion_main, BenchmarkGroup, BenchmarkId, Criterion, Throughput,
};
use liveproof_core::frame::{
    letterbox_transform, warp_affine_to_tensor, warp_frame_to_tensor, Border, Frame, FrameError,
    GrayImage, Normalize, PixelFormat, RgbImage, Rotation, TensorLayout,
};
use liveproof_core::geometry::Affine2;

const SIZES: [(u32, u32); 2] = [(640, 480), (1280, 720)];

/// Deterministic non-constant bytes, so branches and clamps see realistic data.
fn pattern(len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| ((i * 2_654_435_761) >> 13) as u8)
        .collect()
}

fn to_rgb(c: &mut Criterion) {
    for format in [PixelFormat::Nv21, PixelFormat::Bgra8888] {
        let mut group = c.benchmark_group(format!("{format:?}_to_rgb"));
        for (w, h) in SIZES {
            let data = pattern(format.packed_len(w as usize, h as usize));
            group.throughput(Throughput::Elements(u64::from(w * h)));
            for rot in [Rotation::Deg0, Rotation::Deg90] {
                let frame = Frame::contiguous(w, h, format, &data)
                    .unwrap()
                    .with_rotation(rot);
                let mut out = RgbImage::default();
                let id = BenchmarkId::new(format!("rot{}", rot.degrees()), format!("{w}x{h}"));
                group.bench_with_input(id, &frame, |b, f| {
                    b.iter(|| f.to_rgb_into(&mut out).unwrap())
                });
            }
        }
        group.finish();
    }
}

fn to_luma(c: &mut Criterion) {
    let mut group = c.benchmark_group("Nv21_to_luma");
    for (w, h) in SIZES {
        let data = pattern(PixelFormat::Nv21.packed_len(w as usize, h as usize));
        let frame = Frame::contiguous(w, h, PixelFormat::Nv21, &data).unwrap();
        let mut out = GrayImage::default();
        group.throughput(Throughput::Elements(u64::from(w * h)));
        group.bench_with_input(
            BenchmarkId::new("rot0", format!("{w}x{h}")),
            &frame,
            |b, f| b.iter(|| f.to_luma_into(&mut out).unwrap()),
        );
    }
    group.finish();
}

/// One model-input warp per iteration into an `n`×`n` RGB tensor (NHWC, signed unit range,
/// black border), by `warp(border, layout, norm, tensor)`.
fn bench_warp(
    group: &mut BenchmarkGroup<'_, WallTime>,
    id: BenchmarkId,
    n: u32,
    warp: impl Fn(Border, TensorLayout, &Normalize, &mut [f32]) -> Result<(), FrameError>,
) {
    let mut t = vec![0.0f32; (3 * n * n) as usize];
    group.throughput(Throughput::Elements(u64::from(n * n)));
    group.bench_function(id, |b| {
        b.iter(|| {
            warp(
                Border::Constant([0; 3]),
                TensorLayout::Nhwc,
                &Normalize::SIGNED_UNIT,
                &mut t,
            )
            .unwrap()
        })
    });
}

fn warp_tensor(c: &mut Criterion) {
    let (w, h) = (1280u32, 720u32);
    let src = RgbImage::from_raw(w, h, pattern((w * h * 3) as usize)).unwrap();
    let mut group = c.benchmark_group("warp_affine_to_tensor");
    for n in [128u32, 192, 256] {
        let m = letterbox_transform(w, h, n, n);
        let id = BenchmarkId::new("letterbox_1280x720", format!("{n}x{n}"));
        bench_warp(&mut group, id, n, |border, layout, norm, t| {
            warp_affine_to_tensor(&src, &m, n, n, border, layout, norm, t)
        });
    }
    group.finish();
}

/// FaceMesh's input as tracking takes it: a 192×192 tensor from a face-sized square (about
/// 260 px, turned 10°) inside a 640×480 camera buffer read in place, per format.
fn warp_face_roi(c: &mut Criterion) {
    let (w, h, n) = (640u32, 480u32, 192u32);
    let (side, angle) = (260.0f32, 10f32.to_radians());
    let (s, (sin, cos)) = (side / n as f32, angle.sin_cos());
    // tensor pixel (i, j) → upright frame: scale about the tensor's centre, turn, move to the
    // frame's centre.
    let half = n as f32 / 2.0 - 0.5;
    let (cx, cy) = (w as f32 / 2.0, h as f32 / 2.0);
    let m = Affine2::new([
        s * cos,
        -s * sin,
        cx - s * (cos * half - sin * half),
        s * sin,
        s * cos,
        cy - s * (sin * half + cos * half),
    ]);
    let mut group = c.benchmark_group("warp_frame_to_tensor");
    // Upright buffers, and a front camera's: NV21 turned 270° and mirrored.
    for (format, rot, mirrored) in [
        (PixelFormat::Rgb888, Rotation::Deg0, false),
        (PixelFormat::Nv21, Rotation::Deg0, false),
        (PixelFormat::Nv21, Rotation::Deg270, true),
    ] {
        let data = pattern(format.packed_len(w as usize, h as usize));
        let frame = Frame::contiguous(w, h, format, &data)
            .unwrap()
            .with_rotation(rot)
            .with_mirrored(mirrored);
        let orient = if rot == Rotation::Deg0 {
            String::new()
        } else {
            format!(
                "_rot{}{}",
                rot.degrees(),
                if mirrored { "_mirrored" } else { "" }
            )
        };
        let id = BenchmarkId::new(format!("face_roi_{w}x{h}"), format!("{format:?}{orient}"));
        bench_warp(&mut group, id, n, |border, layout, norm, t| {
            warp_frame_to_tensor(&frame, &m, n, n, border, layout, norm, t)
        });
    }
    group.finish();
}

criterion_group!(benches, to_rgb, to_luma, warp_tensor, warp_face_roi);
criterion_main!(benches);
