//! The same face delivered as a phone camera would deliver it (sensor-oriented buffer, YUV or
//! BGRA, row padding, rotation, front-camera mirroring) gives the same landmarks as the upright
//! RGB image.

use std::sync::Arc;

use liveproof_core::engine::{Engine, Tracker};
use liveproof_core::frame::{Frame, PixelFormat, Plane, RgbImage, Rotation};
use liveproof_core::geometry::Point3;
use liveproof_tests::{default_engine, fixture, load_rgb, rgb_to_nv21, rgb_to_yuv420};

fn engine() -> Arc<Engine> {
    default_engine()
}

/// The sensor buffer that `rotation` (clockwise, to upright) then `mirrored` turns into `img`.
fn sensor_buffer(img: &RgbImage, rotation: Rotation, mirrored: bool) -> RgbImage {
    let (w, h) = (img.width as usize, img.height as usize);
    // Undo the mirror first (it is applied last), then rotate counter-clockwise.
    let upright_px = |x: usize, y: usize| {
        let x = if mirrored { w - 1 - x } else { x };
        let i = (y * w + x) * 3;
        [img.data[i], img.data[i + 1], img.data[i + 2]]
    };
    let (sw, sh) = match rotation {
        Rotation::Deg90 | Rotation::Deg270 => (h, w),
        _ => (w, h),
    };
    let mut out = vec![0u8; sw * sh * 3];
    for sy in 0..sh {
        for sx in 0..sw {
            // Where does sensor pixel (sx, sy) land after rotating clockwise?
            let (ux, uy) = match rotation {
                Rotation::Deg0 => (sx, sy),
                Rotation::Deg90 => (sh - 1 - sy, sx),
                Rotation::Deg180 => (sw - 1 - sx, sh - 1 - sy),
                Rotation::Deg270 => (sy, sw - 1 - sx),
            };
            out[(sy * sw + sx) * 3..(sy * sw + sx) * 3 + 3].copy_from_slice(&upright_px(ux, uy));
        }
    }
    RgbImage::from_raw(sw as u32, sh as u32, out).unwrap()
}

fn nme(a: &[Point3], b: &[Point3]) -> f32 {
    let iod = ((b[33].x - b[263].x).powi(2) + (b[33].y - b[263].y).powi(2)).sqrt();
    a.iter()
        .zip(b)
        .map(|(p, q)| ((p.x - q.x).powi(2) + (p.y - q.y).powi(2)).sqrt())
        .sum::<f32>()
        / a.len() as f32
        / iod
        * 100.0
}

/// Tolerance: 1.5% of IOD. YUV 4:2:0 halves the chroma resolution and quantises colour; the
/// landmarks move by a fraction of a pixel. Rotation and mirroring are exact pixel moves, so
/// RGB/BGRA inputs must agree to 0.01%.
#[test]
fn every_camera_layout_gives_the_upright_landmarks() {
    let eng = engine();
    let img = load_rgb(&fixture("astronaut.png"));
    let mut tracker = Tracker::new(eng);
    let upright = Frame::contiguous(img.width, img.height, PixelFormat::Rgb888, &img.data).unwrap();
    let reference = tracker.analyze_still(&upright).unwrap().faces[0]
        .landmarks
        .clone();
    for rotation in [
        Rotation::Deg0,
        Rotation::Deg90,
        Rotation::Deg180,
        Rotation::Deg270,
    ] {
        for mirrored in [false, true] {
            let sensor = sensor_buffer(&img, rotation, mirrored);
            let (sw, sh) = (sensor.width, sensor.height);
            // The sensor buffer is built so that rotating and mirroring it gives `img` back.
            let expect = &reference;
            // BGRA with 16 bytes of row padding.
            let stride = sw as usize * 4 + 16;
            let mut bgra = vec![0u8; stride * sh as usize];
            for y in 0..sh as usize {
                for x in 0..sw as usize {
                    let s = (y * sw as usize + x) * 3;
                    let d = y * stride + x * 4;
                    bgra[d..d + 4].copy_from_slice(&[
                        sensor.data[s + 2],
                        sensor.data[s + 1],
                        sensor.data[s],
                        255,
                    ]);
                }
            }
            let f = Frame::new(
                sw,
                sh,
                PixelFormat::Bgra8888,
                &[Plane {
                    data: &bgra,
                    row_stride: stride,
                }],
            )
            .unwrap()
            .with_rotation(rotation)
            .with_mirrored(mirrored);
            let a = tracker.analyze_still(&f).unwrap();
            let e_bgra = nme(&a.faces[0].landmarks, expect);
            // NV21, tightly packed.
            let nv21 = rgb_to_nv21(&sensor);
            let f = Frame::contiguous(sw, sh, PixelFormat::Nv21, &nv21)
                .unwrap()
                .with_rotation(rotation)
                .with_mirrored(mirrored);
            let e_nv21 = nme(
                &tracker.analyze_still(&f).unwrap().faces[0].landmarks,
                expect,
            );
            // I420 as three planes.
            let (y, u, v) = rgb_to_yuv420(&sensor);
            let (cw, _) = (sw as usize / 2, sh as usize / 2);
            let planes = [
                Plane {
                    data: &y,
                    row_stride: sw as usize,
                },
                Plane {
                    data: &u,
                    row_stride: cw,
                },
                Plane {
                    data: &v,
                    row_stride: cw,
                },
            ];
            let f = Frame::new(sw, sh, PixelFormat::I420, &planes)
                .unwrap()
                .with_rotation(rotation)
                .with_mirrored(mirrored);
            let e_i420 = nme(
                &tracker.analyze_still(&f).unwrap().faces[0].landmarks,
                expect,
            );
            println!(
                "rotation {:>3}°, mirrored {mirrored:5}: NME vs upright RGB: BGRA {e_bgra:.4}%, NV21 {e_nv21:.3}%, I420 {e_i420:.3}%",
                rotation.degrees()
            );
            assert!(e_bgra < 0.01, "BGRA {e_bgra}");
            assert!(e_nv21 < 1.5 && e_i420 < 1.5, "NV21 {e_nv21} I420 {e_i420}");
        }
    }
}
