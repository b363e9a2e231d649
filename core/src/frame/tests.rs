//! Frame ingestion tests: validation, every pixel format on hand-made buffers, every
//! orientation, YUV colours against the BT.601 formula.

use alloc::string::ToString;
use alloc::vec;
use alloc::vec::Vec;

use super::*;

const P: u8 = 0xEE; // row padding byte: must never show up in an output

fn rgb(frame: &Frame) -> RgbImage {
    let mut out = RgbImage::default();
    frame.to_rgb_into(&mut out).unwrap();
    out
}

fn luma(frame: &Frame) -> GrayImage {
    let mut out = GrayImage::default();
    frame.to_luma_into(&mut out).unwrap();
    out
}

/// BT.601 limited range in f64, rounded and clamped: the reference for the fixed point.
fn ref_yuv(y: u8, u: u8, v: u8) -> [u8; 3] {
    let c = (y as f64 - 16.0) * 255.0 / 219.0;
    let (u, v) = (u as f64 - 128.0, v as f64 - 128.0);
    let k = 255.0 / 224.0;
    let r = c + k * 1.402 * v;
    let g = c - k * 1.772 * 0.114 / 0.587 * u - k * 1.402 * 0.299 / 0.587 * v;
    let b = c + k * 1.772 * u;
    let q = |x: f64| (x + 0.5).floor().clamp(0.0, 255.0) as u8;
    [q(r), q(g), q(b)]
}

fn close(a: [u8; 3], b: [u8; 3], tol: i32) -> bool {
    (0..3).all(|c| (a[c] as i32 - b[c] as i32).abs() <= tol)
}

// ---------------------------------------------------------------- packed formats

#[test]
fn rgba_with_row_padding() {
    // 2×2, stride 12 (4 padding bytes), last row unpadded: 12 + 8 = 20 bytes.
    let buf = [
        1, 2, 3, 255, 4, 5, 6, 255, P, P, P, P, 7, 8, 9, 255, 10, 11, 12, 255,
    ];
    let f = Frame::new(2, 2, PixelFormat::Rgba8888, &[Plane::new(&buf, 12)]).unwrap();
    assert_eq!(rgb(&f).data, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
}

#[test]
fn bgra_swaps_red_and_blue() {
    let buf = [
        1, 2, 3, 255, 4, 5, 6, 255, P, P, P, P, 7, 8, 9, 255, 10, 11, 12, 255,
    ];
    let f = Frame::new(2, 2, PixelFormat::Bgra8888, &[Plane::new(&buf, 12)]).unwrap();
    assert_eq!(rgb(&f).data, [3, 2, 1, 6, 5, 4, 9, 8, 7, 12, 11, 10]);
}

#[test]
fn rgb888_with_row_padding() {
    let buf = [1, 2, 3, 4, 5, 6, P, P, 7, 8, 9, 10, 11, 12];
    let f = Frame::new(2, 2, PixelFormat::Rgb888, &[Plane::new(&buf, 8)]).unwrap();
    assert_eq!(rgb(&f).data, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
}

#[test]
fn gray8_replicates_to_rgb() {
    let buf = [10, 20, P, 30, 40];
    let f = Frame::new(2, 2, PixelFormat::Gray8, &[Plane::new(&buf, 3)]).unwrap();
    assert_eq!(
        rgb(&f).data,
        [10, 10, 10, 20, 20, 20, 30, 30, 30, 40, 40, 40]
    );
    assert_eq!(luma(&f).data, [10, 20, 30, 40]);
}

// ---------------------------------------------------------------- YUV

/// A 2×2 NV21 frame of one colour.
fn nv21_solid(y: u8, u: u8, v: u8) -> [u8; 6] {
    [y, y, y, y, v, u]
}

#[test]
fn yuv_known_colours() {
    let white = nv21_solid(235, 128, 128);
    let f = Frame::contiguous(2, 2, PixelFormat::Nv21, &white).unwrap();
    assert!(rgb(&f).data.iter().all(|&v| v == 255), "Y=235 → white");
    let black = nv21_solid(16, 128, 128);
    let f = Frame::contiguous(2, 2, PixelFormat::Nv21, &black).unwrap();
    assert!(rgb(&f).data.iter().all(|&v| v == 0), "Y=16 → black");
    // Mid grey: 110 × 255/219 = 128.08 → 128.
    let grey = nv21_solid(126, 128, 128);
    let f = Frame::contiguous(2, 2, PixelFormat::Nv21, &grey).unwrap();
    assert_eq!(rgb(&f).get(1, 1), Some([128, 128, 128]));
    // Saturated red, BT.601 video range: Y=81, U=90, V=240 → (254.4, −0.5, −1.0) → (254,0,0).
    let red = nv21_solid(81, 90, 240);
    let f = Frame::contiguous(2, 2, PixelFormat::Nv21, &red).unwrap();
    let px = rgb(&f).get(0, 0).unwrap();
    assert!(close(px, [255, 0, 0], 2), "red {px:?}");
    assert_eq!(px, [254, 0, 0]);
    // Y=120, U=150, V=100, by hand: c = 104 × 1.164383 = 121.096;
    // R = c − 28 × 1.596027 = 76.41; G = c − 22 × 0.391762 + 28 × 0.812968 = 135.24;
    // B = c + 22 × 2.017232 = 165.48.
    let buf = nv21_solid(120, 150, 100);
    let f = Frame::contiguous(2, 2, PixelFormat::Nv21, &buf).unwrap();
    assert_eq!(rgb(&f).get(0, 1), Some([76, 135, 165]));
}

#[test]
fn yuv_fixed_point_matches_bt601_formula() {
    // Every Y in steps of 3 against a chroma grid: fixed point within ±1 of the f64 formula.
    let mut worst = 0;
    let mut exact = 0usize;
    let mut total = 0usize;
    for y in (0..=255).step_by(3) {
        for u in (0..=255).step_by(15) {
            for v in (0..=255).step_by(15) {
                let buf = nv21_solid(y as u8, u as u8, v as u8);
                let f = Frame::contiguous(2, 2, PixelFormat::Nv21, &buf).unwrap();
                let got = rgb(&f).get(0, 0).unwrap();
                let want = ref_yuv(y as u8, u as u8, v as u8);
                for c in 0..3 {
                    worst = worst.max((got[c] as i32 - want[c] as i32).abs());
                }
                exact += usize::from(got == want);
                total += 1;
            }
        }
    }
    assert!(worst <= 1, "worst channel error {worst}");
    assert!(
        exact * 100 >= total * 99,
        "only {exact}/{total} pixels exact"
    );
}

/// Logical 4×2 YUV 4:2:0 content: Y per pixel, (U, V) per 2×2 block.
const Y42: [[u8; 4]; 2] = [[120, 60, 235, 16], [200, 90, 30, 180]];
const UV42: [(u8, u8); 2] = [(150, 100), (100, 150)];

fn expected_42() -> Vec<u8> {
    let mut v = Vec::new();
    for row in Y42 {
        for (x, &y) in row.iter().enumerate() {
            let (cu, cv) = UV42[x / 2];
            v.extend_from_slice(&ref_yuv(y, cu, cv));
        }
    }
    v
}

fn assert_close_all(got: &[u8], want: &[u8], tol: i32) {
    assert_eq!(got.len(), want.len());
    for (i, (a, b)) in got.iter().zip(want).enumerate() {
        assert!(
            (*a as i32 - *b as i32).abs() <= tol,
            "byte {i}: got {a}, want {b}"
        );
    }
}

#[test]
fn nv21_with_padding() {
    // Y stride 6, VU stride 6 (2 padding bytes each); V first.
    let y = [120, 60, 235, 16, P, P, 200, 90, 30, 180];
    let vu = [100, 150, 150, 100];
    let f = Frame::new(
        4,
        2,
        PixelFormat::Nv21,
        &[Plane::new(&y, 6), Plane::new(&vu, 6)],
    )
    .unwrap();
    let out = rgb(&f);
    assert_eq!((out.width, out.height), (4, 2));
    assert_close_all(&out.data, &expected_42(), 1);
    // Hand check of pixel (0,0): Y=120, U=150, V=100 → (76, 135, 165).
    assert_eq!(out.get(0, 0), Some([76, 135, 165]));
    // Pixel (3,0): Y=16, U=100, V=150 → R = 1.596027 × 22 = 35.1; G, B < 0.
    assert_eq!(out.get(3, 0), Some([35, 0, 0]));
}

#[test]
fn nv12_with_padding() {
    let y = [120, 60, 235, 16, P, P, P, 200, 90, 30, 180];
    let uv = [150, 100, 100, 150, P];
    let f = Frame::new(
        4,
        2,
        PixelFormat::Nv12,
        &[Plane::new(&y, 7), Plane::new(&uv, 5)],
    )
    .unwrap();
    assert_close_all(&rgb(&f).data, &expected_42(), 1);
    assert_eq!(rgb(&f).get(0, 0), Some([76, 135, 165]));
}

#[test]
fn i420_with_padding() {
    let y = [120, 60, 235, 16, P, 200, 90, 30, 180];
    let u = [150, 100];
    let v = [100, 150];
    let planes = [Plane::new(&y, 5), Plane::new(&u, 3), Plane::new(&v, 4)];
    let f = Frame::new(4, 2, PixelFormat::I420, &planes).unwrap();
    assert_close_all(&rgb(&f).data, &expected_42(), 1);
    assert_eq!(rgb(&f).get(3, 0), Some([35, 0, 0]));
}

#[test]
fn contiguous_i420_and_nv12_split_planes() {
    let mut buf = Vec::new();
    buf.extend_from_slice(&Y42[0]);
    buf.extend_from_slice(&Y42[1]);
    buf.extend_from_slice(&[150, 100, 100, 150]); // I420: U U V V
    let f = Frame::contiguous(4, 2, PixelFormat::I420, &buf).unwrap();
    assert_close_all(&rgb(&f).data, &expected_42(), 1);
    buf.truncate(8);
    buf.extend_from_slice(&[150, 100, 100, 150]); // NV12: U V U V
    let f = Frame::contiguous(4, 2, PixelFormat::Nv12, &buf).unwrap();
    assert_close_all(&rgb(&f).data, &expected_42(), 1);
}

#[test]
fn luma_is_full_range_for_every_format() {
    // Y: 16 → 0, 235 → 255, 126 → 128.08 → 128, 0 → 0 (clamped).
    let buf = [16, 235, 126, 0, 128, 128];
    let f = Frame::contiguous(2, 2, PixelFormat::Nv21, &buf).unwrap();
    assert_eq!(luma(&f).data, [0, 255, 128, 0]);
    // RGB: 0.299 × 255 = 76.2 → 76; 0.587 × 255 = 149.7 → 150; 0.114 × 255 = 29.1 → 29; grey
    // stays grey.
    let px = [255, 0, 0, 0, 255, 0, 0, 0, 255, 77, 77, 77];
    let f = Frame::contiguous(2, 2, PixelFormat::Rgb888, &px).unwrap();
    assert_eq!(luma(&f).data, [76, 150, 29, 77]);
    let bgra = [0, 0, 255, 9, 0, 255, 0, 9, 255, 0, 0, 9, 200, 200, 200, 9];
    let f = Frame::contiguous(2, 2, PixelFormat::Bgra8888, &bgra).unwrap();
    assert_eq!(luma(&f).data, [76, 150, 29, 200]);
    let rgba = [255, 0, 0, 9, 0, 255, 0, 9, 0, 0, 255, 9, 255, 255, 255, 9];
    let f = Frame::contiguous(2, 2, PixelFormat::Rgba8888, &rgba).unwrap();
    assert_eq!(luma(&f).data, [76, 150, 29, 255]);
}

// ---------------------------------------------------------------- orientation

/// Source 3×2:   a b c   with a..f = 1..6.
///               d e f
const SRC32: [u8; 6] = [1, 2, 3, 4, 5, 6];

fn oriented(rotation: Rotation, mirrored: bool) -> GrayImage {
    let f = Frame::contiguous(3, 2, PixelFormat::Gray8, &SRC32)
        .unwrap()
        .with_rotation(rotation)
        .with_mirrored(mirrored);
    let g = luma(&f);
    // The RGB path must agree (gray replicated).
    let c = rgb(&f);
    assert_eq!((c.width, c.height), (g.width, g.height));
    for (i, &v) in g.data.iter().enumerate() {
        assert_eq!(&c.data[i * 3..i * 3 + 3], &[v, v, v]);
    }
    g
}

#[test]
fn every_rotation_and_mirror_places_pixels() {
    use Rotation::*;
    #[rustfmt::skip]
    let cases: [(Rotation, bool, u32, u32, [u8; 6]); 8] = [
        (Deg0, false, 3, 2, [1, 2, 3,
                             4, 5, 6]),
        (Deg0, true, 3, 2, [3, 2, 1,
                            6, 5, 4]),
        // Clockwise: the top-left corner a goes to the top-right.
        (Deg90, false, 2, 3, [4, 1,
                              5, 2,
                              6, 3]),
        (Deg90, true, 2, 3, [1, 4,
                             2, 5,
                             3, 6]),
        (Deg180, false, 3, 2, [6, 5, 4,
                               3, 2, 1]),
        (Deg180, true, 3, 2, [4, 5, 6,
                              1, 2, 3]),
        (Deg270, false, 2, 3, [3, 6,
                               2, 5,
                               1, 4]),
        (Deg270, true, 2, 3, [6, 3,
                              5, 2,
                              4, 1]),
    ];
    for (rot, mir, w, h, want) in cases {
        let g = oriented(rot, mir);
        assert_eq!((g.width, g.height), (w, h), "{rot:?} mirrored={mir}");
        assert_eq!(g.data, want, "{rot:?} mirrored={mir}");
    }
}

/// Reference orientation by inverse mapping: upright (u, v) reads buffer (x, y).
fn reference_orient(src: &RgbImage, rot: Rotation, mir: bool) -> RgbImage {
    let (w, h) = (src.width, src.height);
    let (uw, uh) = if rot.swaps_sides() { (h, w) } else { (w, h) };
    let mut out = RgbImage::new(uw, uh);
    for v in 0..uh {
        for u in 0..uw {
            let u0 = if mir { uw - 1 - u } else { u }; // undo the mirror first
            let (x, y) = match rot {
                Rotation::Deg0 => (u0, v),
                Rotation::Deg90 => (v, h - 1 - u0),
                Rotation::Deg180 => (w - 1 - u0, h - 1 - v),
                Rotation::Deg270 => (w - 1 - v, u0),
            };
            let i = ((v * uw + u) * 3) as usize;
            out.data[i..i + 3].copy_from_slice(&src.get(x, y).unwrap());
        }
    }
    out
}

#[test]
fn large_frames_match_reference_orientation() {
    // Sizes that are not multiples of the 64-pixel segments or 16-row tiles.
    let (w, h) = (150u32, 38u32);
    let mut rgb888 = Vec::new();
    for y in 0..h {
        for x in 0..w {
            rgb888.extend_from_slice(&[(x * 7 + y) as u8, (y * 13 + x * 3) as u8, (x ^ y) as u8]);
        }
    }
    let mut nv21 = Vec::new();
    for y in 0..h {
        for x in 0..w {
            nv21.push((x * 5 + y * 3) as u8);
        }
    }
    for i in 0..(w * h / 2) {
        nv21.push((i * 11) as u8);
    }
    for (format, data) in [(PixelFormat::Rgb888, &rgb888), (PixelFormat::Nv21, &nv21)] {
        let base = Frame::contiguous(w, h, format, data).unwrap();
        let upright = rgb(&base);
        for rot in [
            Rotation::Deg0,
            Rotation::Deg90,
            Rotation::Deg180,
            Rotation::Deg270,
        ] {
            for mir in [false, true] {
                let got = rgb(&base.with_rotation(rot).with_mirrored(mir));
                let want = reference_orient(&upright, rot, mir);
                assert_eq!(got, want, "{format:?} {rot:?} mirrored={mir}");
            }
        }
    }
}

#[test]
fn to_rgb_into_reuses_the_allocation() {
    let mut out = RgbImage::new(64, 64);
    let ptr = out.data.as_ptr();
    let buf = [1, 2, 3, 4, 5, 6];
    let f = Frame::contiguous(2, 1, PixelFormat::Rgb888, &buf)
        .unwrap()
        .with_rotation(Rotation::Deg90);
    f.to_rgb_into(&mut out).unwrap();
    assert_eq!((out.width, out.height), (1, 2));
    assert_eq!(out.data, [1, 2, 3, 4, 5, 6]);
    let big = vec![7u8; 64 * 64 * 3];
    let f = Frame::contiguous(64, 64, PixelFormat::Rgb888, &big).unwrap();
    f.to_rgb_into(&mut out).unwrap();
    assert_eq!(
        out.data.as_ptr(),
        ptr,
        "no reallocation when capacity suffices"
    );
    assert!(out.data.iter().all(|&v| v == 7));
}

#[test]
fn frame_accessors_and_builders() {
    let buf = [0u8; 24];
    let f = Frame::contiguous(3, 2, PixelFormat::Rgba8888, &buf)
        .unwrap()
        .with_rotation(Rotation::Deg270)
        .with_mirrored(true)
        .with_timestamp_ns(123_456_789);
    assert_eq!((f.width(), f.height()), (3, 2));
    assert_eq!(f.upright_size(), (2, 3));
    assert_eq!(f.format(), PixelFormat::Rgba8888);
    assert_eq!(f.planes().len(), 1);
    assert_eq!(f.planes()[0].row_stride, 12);
    assert_eq!(f.rotation(), Rotation::Deg270);
    assert!(f.mirrored());
    assert_eq!(f.timestamp_ns(), 123_456_789);
}

#[test]
fn pixel_format_helpers() {
    use PixelFormat::*;
    assert_eq!(
        [Rgba8888, Bgra8888, Rgb888, Gray8, Nv21].map(|f| f.bytes_per_pixel()),
        [4, 4, 3, 1, 1]
    );
    assert_eq!(
        [Nv21, Nv12, I420, Rgb888, Gray8].map(|f| f.plane_count()),
        [2, 2, 3, 1, 1]
    );
    assert_eq!(
        [Nv21, I420, Rgba8888, Rgb888].map(|f| f.bits_per_pixel()),
        [12, 12, 32, 24]
    );
    assert_eq!(Nv21.plane_geometry(1, 640, 480), Some((320, 240, 2)));
    assert_eq!(I420.plane_geometry(2, 640, 480), Some((320, 240, 1)));
    assert_eq!(I420.plane_geometry(3, 640, 480), None);
    assert_eq!(Nv21.packed_len(640, 480), 640 * 480 * 3 / 2);
    assert_eq!(Bgra8888.packed_len(4, 2), 32);
}

#[test]
fn rotation_from_degrees() {
    assert_eq!(Rotation::from_degrees(0), Ok(Rotation::Deg0));
    assert_eq!(Rotation::from_degrees(90), Ok(Rotation::Deg90));
    assert_eq!(Rotation::from_degrees(180), Ok(Rotation::Deg180));
    assert_eq!(Rotation::from_degrees(270), Ok(Rotation::Deg270));
    assert_eq!(Rotation::from_degrees(-90), Ok(Rotation::Deg270));
    assert_eq!(Rotation::from_degrees(450), Ok(Rotation::Deg90));
    let e = Rotation::from_degrees(45).unwrap_err();
    assert_eq!(e, FrameError::Rotation { degrees: 45 });
    assert_eq!(
        e.to_string(),
        "rotation 45° is not supported; expected a multiple of 90° (0, 90, 180, 270)"
    );
    assert_eq!(Rotation::Deg270.degrees(), 270);
}

// ---------------------------------------------------------------- validation errors

fn rgba(w: u32, h: u32, data: &[u8], stride: usize) -> Result<Frame<'_>, FrameError> {
    Frame::new(w, h, PixelFormat::Rgba8888, &[Plane::new(data, stride)])
}

#[test]
fn error_zero_and_too_large() {
    let buf = [0u8; 64];
    assert_eq!(
        rgba(0, 2, &buf, 8).unwrap_err(),
        FrameError::ZeroSize {
            what: "frame",
            width: 0,
            height: 2
        }
    );
    let e = rgba(16385, 1, &buf, 65540).unwrap_err();
    assert_eq!(
        e,
        FrameError::TooLarge {
            what: "frame",
            width: 16385,
            height: 1,
            max: 16384
        }
    );
    assert_eq!(
        e.to_string(),
        "frame size 16385×1 is too large; expected each side ≤ 16384"
    );
}

#[test]
fn error_stride_too_small() {
    let buf = [0u8; 64 * 4 * 2];
    let e = rgba(64, 2, &buf, 100).unwrap_err();
    assert_eq!(
        e,
        FrameError::StrideTooSmall {
            plane: 0,
            stride: 100,
            width: 64,
            bytes_per_pixel: 4
        }
    );
    assert_eq!(
        e.to_string(),
        "frame plane 0 stride 100 < width 64 × 4 bytes"
    );
}

#[test]
fn error_buffer_too_short_uses_the_exact_minimum() {
    // 2×2 RGBA, stride 12: (2 − 1) × 12 + 2 × 4 = 20 bytes.
    let buf = [0u8; 20];
    assert!(rgba(2, 2, &buf, 12).is_ok());
    let e = rgba(2, 2, &buf[..19], 12).unwrap_err();
    assert_eq!(
        e,
        FrameError::PlaneTooShort {
            plane: 0,
            len: 19,
            needed: 20,
            rows: 2,
            stride: 12,
            row_bytes: 8
        }
    );
    assert_eq!(
        e.to_string(),
        "frame plane 0 has 19 bytes; expected at least 20 = (2 - 1) rows × stride 12 + 8 bytes of the last row"
    );
    // A huge stride overflows to "needs usize::MAX", not a panic.
    let e = rgba(2, 2, &buf, usize::MAX).unwrap_err();
    assert!(matches!(
        e,
        FrameError::PlaneTooShort {
            needed: usize::MAX,
            ..
        }
    ));
}

#[test]
fn error_plane_count() {
    let y = [0u8; 8];
    let e = Frame::new(4, 2, PixelFormat::Nv21, &[Plane::new(&y, 4)]).unwrap_err();
    assert_eq!(
        e,
        FrameError::PlaneCount {
            format: PixelFormat::Nv21,
            expected: 2,
            got: 1
        }
    );
    assert_eq!(e.to_string(), "Nv21 frame has 1 planes; expected 2");
    let e = Frame::new(
        2,
        2,
        PixelFormat::Rgb888,
        &[Plane::new(&y, 6), Plane::new(&y, 6)],
    )
    .unwrap_err();
    assert_eq!(
        e,
        FrameError::PlaneCount {
            format: PixelFormat::Rgb888,
            expected: 1,
            got: 2
        }
    );
}

#[test]
fn error_odd_size_for_420() {
    let buf = [0u8; 64];
    let e = Frame::new(
        3,
        2,
        PixelFormat::I420,
        &[
            Plane::new(&buf, 3),
            Plane::new(&buf, 2),
            Plane::new(&buf, 2),
        ],
    )
    .unwrap_err();
    assert_eq!(
        e,
        FrameError::OddSize {
            format: PixelFormat::I420,
            width: 3,
            height: 2
        }
    );
    assert_eq!(
        e.to_string(),
        "I420 frame size 3×2 has an odd side; expected even width and height for 4:2:0 chroma"
    );
    // Odd sizes are fine for packed formats.
    assert!(Frame::new(3, 3, PixelFormat::Gray8, &[Plane::new(&buf, 3)]).is_ok());
}

#[test]
fn error_chroma_plane_stride_and_length() {
    let y = [0u8; 8];
    // NV21 4×2: VU plane is 2 chroma pixels × 2 bytes = 4 bytes per row.
    let e = Frame::new(
        4,
        2,
        PixelFormat::Nv21,
        &[Plane::new(&y, 4), Plane::new(&y, 3)],
    )
    .unwrap_err();
    assert_eq!(
        e,
        FrameError::StrideTooSmall {
            plane: 1,
            stride: 3,
            width: 2,
            bytes_per_pixel: 2
        }
    );
    assert_eq!(e.to_string(), "frame plane 1 stride 3 < width 2 × 2 bytes");
    let e = Frame::new(
        4,
        2,
        PixelFormat::Nv21,
        &[Plane::new(&y, 4), Plane::new(&y[..3], 4)],
    )
    .unwrap_err();
    assert_eq!(
        e,
        FrameError::PlaneTooShort {
            plane: 1,
            len: 3,
            needed: 4,
            rows: 1,
            stride: 4,
            row_bytes: 4
        }
    );
    // I420 4×4: U and V are 2×2, 1 byte per pixel.
    let y16 = [0u8; 16];
    let planes = [Plane::new(&y16, 4), Plane::new(&y, 2), Plane::new(&y, 1)];
    let e = Frame::new(4, 4, PixelFormat::I420, &planes).unwrap_err();
    assert_eq!(
        e,
        FrameError::StrideTooSmall {
            plane: 2,
            stride: 1,
            width: 2,
            bytes_per_pixel: 1
        }
    );
    // Luma plane too short.
    let planes = [Plane::new(&y, 4), Plane::new(&y, 2), Plane::new(&y, 2)];
    let e = Frame::new(4, 4, PixelFormat::I420, &planes).unwrap_err();
    assert_eq!(
        e,
        FrameError::PlaneTooShort {
            plane: 0,
            len: 8,
            needed: 16,
            rows: 4,
            stride: 4,
            row_bytes: 4
        }
    );
}

#[test]
fn error_contiguous_length() {
    let buf = [0u8; 11];
    let e = Frame::contiguous(4, 2, PixelFormat::Nv21, &buf).unwrap_err();
    assert_eq!(
        e,
        FrameError::BufferLength {
            format: PixelFormat::Nv21,
            width: 4,
            height: 2,
            expected: 12,
            got: 11
        }
    );
    assert_eq!(
        e.to_string(),
        "Nv21 buffer for 4×2 has 11 bytes; expected exactly 12"
    );
}

#[test]
fn content_digest_ignores_padding_and_timestamp_but_not_pixels() {
    // 4×2 NV21: Y plane 4×2, VU plane 2 pairs × 1 row.
    let y_tight = [1u8, 2, 3, 4, 5, 6, 7, 8];
    let vu_tight = [9u8, 10, 11, 12];
    let tight = Frame::new(
        4,
        2,
        PixelFormat::Nv21,
        &[Plane::new(&y_tight, 4), Plane::new(&vu_tight, 4)],
    )
    .unwrap();
    let y_pad = [1u8, 2, 3, 4, P, P, 5, 6, 7, 8, P, P];
    let vu_pad = [9u8, 10, 11, 12, P, P];
    let padded = Frame::new(
        4,
        2,
        PixelFormat::Nv21,
        &[Plane::new(&y_pad, 6), Plane::new(&vu_pad, 6)],
    )
    .unwrap()
    .with_timestamp_ns(33_000_000);
    assert_eq!(tight.content_sha256(), padded.content_sha256());
    let y_other = [1u8, 2, 3, 4, 5, 6, 7, 9];
    let other = Frame::new(
        4,
        2,
        PixelFormat::Nv21,
        &[Plane::new(&y_other, 4), Plane::new(&vu_tight, 4)],
    )
    .unwrap();
    assert_ne!(tight.content_sha256(), other.content_sha256());
    // Same bytes read as another format: another digest.
    let as_nv12 = Frame::new(
        4,
        2,
        PixelFormat::Nv12,
        &[Plane::new(&y_tight, 4), Plane::new(&vu_tight, 4)],
    )
    .unwrap();
    assert_ne!(tight.content_sha256(), as_nv12.content_sha256());
}

/// A `w × h` buffer of `format` with padded rows and smooth, textured content (a pseudo-random
/// walk, so neighbouring pixels differ but not wildly), and its planes.
fn textured(format: PixelFormat, w: usize, h: usize, seed: u32) -> (Vec<Vec<u8>>, Vec<usize>) {
    let mut state = seed.wrapping_mul(747_796_405).wrapping_add(2_891_336_453);
    let mut next = move || {
        state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        (state >> 24) as u8
    };
    let mut planes = Vec::new();
    let mut strides = Vec::new();
    for p in 0..format.plane_count() {
        let (pw, rows, bpp) = format.plane_geometry(p, w, h).unwrap();
        let stride = pw * bpp + 5;
        let mut data = vec![P; stride * rows];
        for r in 0..rows {
            for i in 0..pw * bpp {
                let smooth = ((r * 7 + i * 3) % 200) as u8;
                data[r * stride + i] = smooth.wrapping_add(next() % 40);
            }
        }
        planes.push(data);
        strides.push(stride);
    }
    (planes, strides)
}

const ALL_FORMATS: [PixelFormat; 7] = [
    PixelFormat::Rgba8888,
    PixelFormat::Bgra8888,
    PixelFormat::Rgb888,
    PixelFormat::Nv21,
    PixelFormat::Nv12,
    PixelFormat::I420,
    PixelFormat::Gray8,
];

const ALL_ORIENTATIONS: [(Rotation, bool); 8] = [
    (Rotation::Deg0, false),
    (Rotation::Deg0, true),
    (Rotation::Deg90, false),
    (Rotation::Deg90, true),
    (Rotation::Deg180, false),
    (Rotation::Deg180, true),
    (Rotation::Deg270, false),
    (Rotation::Deg270, true),
];

#[test]
fn in_place_reads_equal_the_converted_image_for_every_format_and_orientation() {
    use crate::geometry::Affine2;
    let (w, h) = (38usize, 26usize);
    let mut worst_tensor = 0.0f32;
    for format in ALL_FORMATS {
        let (data, strides) = textured(format, w, h, format as u32);
        let planes: Vec<Plane> = data
            .iter()
            .zip(&strides)
            .map(|(d, &s)| Plane::new(d, s))
            .collect();
        for (rot, mir) in ALL_ORIENTATIONS {
            let frame = Frame::new(w as u32, h as u32, format, &planes)
                .unwrap()
                .with_rotation(rot)
                .with_mirrored(mir);
            let (img, lum) = (rgb(&frame), luma(&frame));
            let (uw, uh) = frame.upright_size();
            // Single pixels.
            for v in 0..uh {
                for u in 0..uw {
                    let i = (v * uw + u) as usize * 3;
                    assert_eq!(
                        frame.upright_rgb_at(u, v),
                        Some([img.data[i], img.data[i + 1], img.data[i + 2]]),
                        "{format:?} {rot:?} {mir} ({u}, {v})"
                    );
                }
            }
            assert_eq!(frame.upright_rgb_at(uw, 0), None);
            // Luma of a region: exactly the converted luma inside, untouched outside.
            let mut part = GrayImage::default();
            part.reshape(uw, uh);
            part.data.fill(7);
            let region = Region {
                x0: 3,
                y0: 5,
                x1: uw - 4,
                y1: uh - 2,
            };
            frame.luma_region_into(&mut part, region);
            for v in 0..uh {
                for u in 0..uw {
                    let i = (v * uw + u) as usize;
                    let inside =
                        (region.x0..region.x1).contains(&u) && (region.y0..region.y1).contains(&v);
                    let want = if inside { lum.data[i] } else { 7 };
                    assert_eq!(part.data[i], want, "{format:?} {rot:?} {mir} ({u}, {v})");
                }
            }
            // Warps reaching past every border (a rotated, scaled one and random ones: near
            // identities with odd offsets, which put positions on the 1/2048-px rounding
            // steps, and wild ones), both border kinds, both layouts: the in-place tensor is
            // bit for bit the converted image's.
            let (c, s) = (libm::cosf(0.3), libm::sinf(0.3));
            let mut maps = vec![Affine2::new([
                1.3 * c,
                -1.3 * s,
                -4.0,
                1.3 * s,
                1.3 * c,
                -3.0,
            ])];
            let mut state = 0x9e37_79b9_7f4a_7c15u64 ^ (format as u64) << 8;
            let mut next = || {
                state = state
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1_442_695_040_888_963_407);
                (state >> 40) as f32 / (1u64 << 24) as f32
            };
            for k in 0..12 {
                let spread = if k % 2 == 0 { 0.01 } else { 1.5 };
                let r: [f32; 6] = core::array::from_fn(|_| next());
                let e = |v: f32| (v - 0.5) * spread;
                maps.push(Affine2::new([
                    1.0 + e(r[0]),
                    e(r[1]),
                    (r[2] - 0.3) * 8.0,
                    e(r[3]),
                    1.0 + e(r[4]),
                    (r[5] - 0.3) * 8.0,
                ]));
            }
            for (mi, m) in maps.iter().enumerate() {
                for border in [Border::Replicate, Border::Constant([10, 200, 30])] {
                    for layout in [TensorLayout::Nhwc, TensorLayout::Nchw] {
                        let n = Normalize::UNIT;
                        let (tw, th) = (31, 29);
                        let mut want = vec![0.0; 3 * tw * th];
                        let mut got = vec![0.0; 3 * tw * th];
                        warp_affine_to_tensor(
                            &img, m, tw as u32, th as u32, border, layout, &n, &mut want,
                        )
                        .unwrap();
                        warp_frame_to_tensor(
                            &frame, m, tw as u32, th as u32, border, layout, &n, &mut got,
                        )
                        .unwrap();
                        for (k, (a, b)) in want.iter().zip(&got).enumerate() {
                            worst_tensor = worst_tensor.max((a - b).abs() * 255.0);
                            assert_eq!(
                                a.to_bits(),
                                b.to_bits(),
                                "{format:?} {rot:?} mirrored {mir} map {mi} {border:?} {layout:?} [{k}]: {a} vs {b}"
                            );
                        }
                    }
                }
            }
        }
    }
    std::println!("largest in-place tensor difference: {worst_tensor} levels");
}

#[test]
fn in_place_warp_refuses_bad_transforms_and_lengths() {
    use crate::geometry::Affine2;
    let data = vec![0u8; 16 * 16 * 3];
    let frame = Frame::contiguous(16, 16, PixelFormat::Rgb888, &data).unwrap();
    let mut out = vec![0.0; 3 * 8 * 8];
    let n = Normalize::UNIT;
    let nan = Affine2::new([f32::NAN, 0.0, 0.0, 0.0, 1.0, 0.0]);
    let r = |m: &Affine2, w: u32, out: &mut [f32]| {
        warp_frame_to_tensor(
            &frame,
            m,
            w,
            8,
            Border::Replicate,
            TensorLayout::Nhwc,
            &n,
            out,
        )
    };
    assert!(matches!(
        r(&nan, 8, &mut out),
        Err(FrameError::NonFiniteTransform { .. })
    ));
    assert!(matches!(
        r(&Affine2::IDENTITY, 9, &mut out),
        Err(FrameError::TensorLength { .. })
    ));
    assert!(matches!(
        r(&Affine2::IDENTITY, 0, &mut out),
        Err(FrameError::ZeroSize { .. })
    ));
    // Far outside and huge coordinates read the border, never out of bounds.
    let far = Affine2::new([1e30, 0.0, -1e30, 0.0, 1e30, 1e30]);
    r(&far, 8, &mut out).unwrap();
    let bad_norm = Normalize::from_mean_std([0.0; 3], [0.0; 3]);
    assert!(warp_frame_to_tensor(
        &frame,
        &Affine2::IDENTITY,
        8,
        8,
        Border::Replicate,
        TensorLayout::Nhwc,
        &bad_norm,
        &mut out
    )
    .is_err());
}

#[test]
fn regions_cover_clamp_and_join() {
    let r = Region::covering(10.4, 20.6, 30.2, 40.0, 2, 100, 50);
    assert_eq!(
        r,
        Region {
            x0: 8,
            y0: 18,
            x1: 34,
            y1: 43
        }
    );
    assert!(Region::covering(-50.0, -50.0, -20.0, -20.0, 2, 100, 50).is_empty());
    assert!(Region::covering(f32::NAN, 0.0, 5.0, 5.0, 0, 100, 50).x0 == 0);
    let edge = Region::covering(-5.0, 45.0, 10.0, 80.0, 0, 100, 50);
    assert_eq!((edge.x0, edge.y1), (0, 50));
    assert_eq!(r.union(&Region::default()), r);
    assert_eq!(
        r.union(&Region::full(5, 5)),
        Region {
            x0: 0,
            y0: 0,
            x1: 34,
            y1: 43
        }
    );
}

#[test]
fn a_frame_copy_converts_and_hashes_as_the_original() {
    use PixelFormat::*;
    let (w, h) = (6u32, 4u32);
    for format in [Rgba8888, Bgra8888, Rgb888, Nv21, Nv12, I420, Gray8] {
        // Every plane with 3 bytes of row padding, filled with a pattern (padding too).
        let mut bufs: Vec<(Vec<u8>, usize)> = Vec::new();
        for i in 0..format.plane_count() {
            let (pw, rows, bpp) = format.plane_geometry(i, w as usize, h as usize).unwrap();
            let stride = pw * bpp + 3;
            let data = (0..stride * rows)
                .map(|k| (k * 37 + i * 11) as u8)
                .collect();
            bufs.push((data, stride));
        }
        let planes: Vec<Plane> = bufs.iter().map(|(d, s)| Plane::new(d, *s)).collect();
        let frame = Frame::new(w, h, format, &planes)
            .unwrap()
            .with_rotation(Rotation::Deg90)
            .with_mirrored(true)
            .with_timestamp_ns(42);
        let mut copy = FrameBuf::default();
        assert!(copy.frame().is_none(), "an empty copy is no frame");
        // Twice: the second copy reuses the buffer and replaces the first.
        copy.copy_from(&frame);
        copy.copy_from(&frame);
        let back = copy.frame().unwrap();
        assert_eq!((back.width(), back.height(), back.format()), (w, h, format));
        assert_eq!(
            (back.rotation(), back.mirrored(), back.timestamp_ns()),
            (Rotation::Deg90, true, 42)
        );
        assert_eq!(rgb(&back), rgb(&frame), "{format:?}");
        #[cfg(feature = "std")]
        assert_eq!(back.content_sha256(), frame.content_sha256(), "{format:?}");
    }
}

/// The bilinear blend's integer form (three multiplies) equals the weighted sum of the four
/// taps, rounded to nearest, for every weight pair on random taps and every tap value at
/// random weights (including a weight of one whole pixel).
#[test]
fn lerp_is_the_rounded_weighted_sum() {
    use super::source::{lerp, WBITS, WONE};
    let sum = |p: [u8; 4], wx: u32, wy: u32| {
        let (ix, iy) = (u64::from(WONE - wx), u64::from(WONE - wy));
        let (wx, wy) = (u64::from(wx), u64::from(wy));
        let p = p.map(u64::from);
        let s = (p[0] * ix + p[1] * wx) * iy + (p[2] * ix + p[3] * wx) * wy;
        ((s + (1 << (2 * WBITS - 1))) >> (2 * WBITS)) as u8
    };
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut next = || {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (state >> 32) as u32
    };
    for wx in 0..=WONE {
        for wy in (0..=WONE).step_by(7) {
            let r = next().to_le_bytes();
            let p = [r[0], r[1], r[2], r[3]];
            assert_eq!(
                lerp(p[0], p[1], p[2], p[3], wx, wy),
                sum(p, wx, wy),
                "{p:?} {wx} {wy}"
            );
        }
    }
    for a in [0u8, 1, 127, 128, 254, 255] {
        for b in [0u8, 1, 127, 128, 254, 255] {
            for _ in 0..200 {
                let (wx, wy) = (next() % (WONE + 1), next() % (WONE + 1));
                let p = [a, b, b, a];
                assert_eq!(
                    lerp(p[0], p[1], p[2], p[3], wx, wy),
                    sum(p, wx, wy),
                    "{p:?} {wx} {wy}"
                );
                let p = [a, a, b, b];
                assert_eq!(
                    lerp(p[0], p[1], p[2], p[3], wx, wy),
                    sum(p, wx, wy),
                    "{p:?} {wx} {wy}"
                );
            }
        }
    }
}
