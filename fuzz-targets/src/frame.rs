//! `frame`: camera buffers of every pixel format, size, stride, plane length, rotation and
//! mirroring through `Frame::new` / `Frame::contiguous`, then every conversion the pipeline
//! runs on an accepted frame, each checked against another path that must agree.
//!
//! Input layout (all reads past the end give 0), see [`FrameSpec::read`]:
//! `format, width, height, orientation, stride[3], length[3], flags, timestamp[2], checks[17],
//! pixels..`.

use liveproof_core::frame::{
    crop_into, resize_bilinear_into, rgb_to_luma_into, warp_affine_into, warp_affine_to_tensor,
    warp_frame_to_tensor, Border, Frame, FrameBuf, FrameError, GrayImage, Normalize, PixelFormat,
    Plane, Region, RgbImage, Rotation, TensorLayout,
};
use liveproof_core::geometry::Affine2;

use crate::Bytes;

/// Largest side of a fuzzed frame, pixels (keeps one execution well under a millisecond).
pub(crate) const MAX_FUZZ_SIDE: u32 = 64;

/// The formats in `lp_pixel_format` order (C value = index + 1).
pub(crate) const FORMATS: [PixelFormat; 7] = [
    PixelFormat::Rgba8888,
    PixelFormat::Bgra8888,
    PixelFormat::Rgb888,
    PixelFormat::Nv21,
    PixelFormat::Nv12,
    PixelFormat::I420,
    PixelFormat::Gray8,
];

/// Rotations a header can ask for: the four upright ones, two that reduce modulo 360, and two
/// that are not multiples of 90° (rejected).
const ROTATIONS: [i32; 8] = [0, 90, 180, 270, -90, 450, 45, 1];

/// Bytes after the header that [`frame`] reads for its checks and warp (the pixels follow).
pub(crate) const CHECK_BYTES: usize = 17;

/// A frame description decoded from the fuzzer's bytes, with its planes' bytes.
pub(crate) struct FrameSpec {
    /// `lp_pixel_format` value: 1..=7 are formats, 0 and 8 are not.
    pub(crate) format_code: u32,
    pub(crate) width: u32,
    pub(crate) height: u32,
    pub(crate) rotation_degrees: i32,
    /// 0 or 1, or (from the C target's point of view) an invalid 2 or 255.
    pub(crate) mirrored: u8,
    pub(crate) strides: [usize; 3],
    /// The planes' bytes (their lengths are the declared lengths).
    pub(crate) planes: [Vec<u8>; 3],
    /// Build through `Frame::contiguous` (the planes back to back) instead of `Frame::new`.
    pub(crate) contiguous: bool,
    /// A plane whose pointer the C target passes as NULL.
    pub(crate) null_plane: Option<usize>,
    pub(crate) timestamp_ns: u64,
}

impl FrameSpec {
    pub(crate) fn format(&self) -> Option<PixelFormat> {
        FORMATS
            .get((self.format_code as usize).wrapping_sub(1))
            .copied()
    }

    /// Decodes a header and the pixel bytes. Sides are 1..=64 except two byte values that
    /// give 0 and 16385 (both rejected); strides are the row bytes plus 0..=16 padding or,
    /// for the top byte values, up to 32 bytes short; lengths are the minimum the frame
    /// needs plus 0..=3 or, for the top byte values, up to 16 bytes short. Pixel bytes are
    /// the rest of the input repeated to fill the planes.
    pub(crate) fn read(b: &mut Bytes<'_>) -> FrameSpec {
        let format_code = (b.u8() % 9) as u32;
        let side = |v: u8| match v {
            0xFF => 0,
            0xFE => liveproof_core::frame::MAX_SIDE + 1,
            v => (v as u32 % MAX_FUZZ_SIDE) + 1,
        };
        let width = side(b.u8());
        let height = side(b.u8());
        let orient = b.u8();
        let rotation_degrees = ROTATIONS[(orient & 7) as usize];
        let mirrored = [0, 1, 2, 255][((orient >> 3) & 3) as usize];
        let stride_bytes = [b.u8(), b.u8(), b.u8()];
        let len_bytes = [b.u8(), b.u8(), b.u8()];
        let flags = b.u8();
        let contiguous = flags & 1 != 0;
        let null_plane = match (flags >> 1) & 7 {
            n @ 1..=3 => Some(n as usize - 1),
            _ => None,
        };
        let timestamp_ns = u64::from(b.u16()) * 1_000_000;
        // Geometry for sizing the buffers: an unknown format is sized as RGBA, a too-large
        // side as 64 (the frame is rejected on its size before any plane is read).
        let geometry_format = FORMATS
            .get((format_code as usize).wrapping_sub(1))
            .copied()
            .unwrap_or(PixelFormat::Rgba8888);
        let (gw, gh) = (
            width.min(MAX_FUZZ_SIDE) as usize,
            height.min(MAX_FUZZ_SIDE) as usize,
        );
        let mut strides = [0usize; 3];
        let mut lens = [0usize; 3];
        for p in 0..3 {
            let (pw, rows, bpp) = geometry_format
                .plane_geometry(p, gw, gh)
                .unwrap_or((gw, gh, 1));
            let row = pw * bpp;
            strides[p] = match stride_bytes[p] {
                v @ 0xE0.. => row.saturating_sub((v - 0xDF) as usize),
                v => row + (v % 17) as usize,
            };
            let needed = rows.saturating_sub(1) * strides[p] + row;
            lens[p] = match len_bytes[p] {
                v @ 0xF0.. => needed.saturating_sub((v - 0xEF) as usize),
                v => needed + (v % 4) as usize,
            };
        }
        // The pixels start after the bytes that `frame` reads for its checks and warp.
        let pixels = b.rest().get(CHECK_BYTES..).unwrap_or(&[]);
        let mut at = 0usize;
        let planes = lens.map(|len| {
            let mut v = vec![0u8; len];
            if !pixels.is_empty() {
                for o in v.iter_mut() {
                    *o = pixels[at % pixels.len()];
                    at += 1;
                }
            }
            v
        });
        FrameSpec {
            format_code,
            width,
            height,
            rotation_degrees,
            mirrored,
            strides,
            planes,
            contiguous,
            null_plane,
            timestamp_ns,
        }
    }
}

/// Fuzz target `frame` (module docs).
pub fn frame(data: &[u8]) {
    let mut b = Bytes::new(data);
    let spec = FrameSpec::read(&mut b);
    with_frame(&spec, |frame| conversions(frame, Bytes::new(b.rest())));
}

/// Whether `data` decodes to a frame core accepts (with a supported rotation).
pub fn frame_accepted(data: &[u8]) -> bool {
    let spec = FrameSpec::read(&mut Bytes::new(data));
    let mut accepted = false;
    with_frame(&spec, |_| accepted = true);
    accepted
}

/// Builds the frame `spec` describes and, when core accepts it, runs `f` on it.
fn with_frame(spec: &FrameSpec, f: impl FnOnce(&Frame<'_>)) {
    let Some(format) = spec.format() else {
        return;
    };
    let n = format.plane_count();
    let packed: Vec<u8>;
    let built = if spec.contiguous {
        packed = spec.planes[..n].concat();
        Frame::contiguous(spec.width, spec.height, format, &packed)
    } else {
        let planes: Vec<Plane<'_>> = (0..n)
            .map(|i| Plane::new(&spec.planes[i], spec.strides[i]))
            .collect();
        Frame::new(spec.width, spec.height, format, &planes)
    };
    let Ok(frame) = built else {
        return;
    };
    let rotation = match Rotation::from_degrees(spec.rotation_degrees) {
        Ok(r) => r,
        Err(e) => {
            assert!(spec.rotation_degrees % 90 != 0, "{e} for a multiple of 90°");
            return;
        }
    };
    let frame = frame
        .with_rotation(rotation)
        .with_mirrored(spec.mirrored & 1 == 1)
        .with_timestamp_ns(spec.timestamp_ns);
    f(&frame);
}

/// Runs the pipeline's conversions on an accepted frame and checks that paths which must
/// agree do.
fn conversions(frame: &Frame<'_>, mut b: Bytes<'_>) {
    let (uw, uh) = frame.upright_size();
    let mut rgb = RgbImage::default();
    frame.to_rgb_into(&mut rgb).expect("to_rgb_into");
    assert_eq!((rgb.width, rgb.height), (uw, uh), "RGB size");
    assert_eq!(rgb.data.len(), 3 * uw as usize * uh as usize, "RGB length");
    let mut luma = GrayImage::default();
    frame.to_luma_into(&mut luma).expect("to_luma_into");
    assert_eq!((luma.width, luma.height), (uw, uh), "luma size");
    if !frame.format().is_yuv420() {
        // RGB and gray frames: the frame's luma is the BT.601 luma of its RGB.
        let mut from_rgb = GrayImage::default();
        rgb_to_luma_into(&rgb, &mut from_rgb).expect("rgb_to_luma_into");
        assert_eq!(from_rgb, luma, "to_luma_into vs rgb_to_luma_into");
    }

    // Sparse reads agree with the converted image, and refuse outside it.
    let picks = [
        (0, 0),
        (uw - 1, uh - 1),
        (b.u8() as u32 % uw, b.u8() as u32 % uh),
    ];
    for (u, v) in picks {
        assert_eq!(
            frame.upright_rgb_at(u, v),
            rgb.get(u, v),
            "pixel ({u}, {v})"
        );
    }
    assert_eq!(frame.upright_rgb_at(uw, 0), None);
    assert_eq!(frame.upright_rgb_at(0, uh), None);

    // A region of the luma is exactly the whole conversion's pixels there.
    let (x0, y0) = (b.u8() as u32, b.u8() as u32);
    let region = Region {
        x0: x0 % (uw + 2),
        y0: y0 % (uh + 2),
        x1: x0 % (uw + 2) + b.u8() as u32 % 70,
        y1: y0 % (uh + 2) + b.u8() as u32 % 70,
    };
    let mut part = GrayImage::new(uw, uh);
    part.data.fill(0xA5);
    frame.luma_region_into(&mut part, region);
    for v in 0..uh {
        for u in 0..uw {
            let inside = u >= region.x0 && u < region.x1 && v >= region.y0 && v < region.y1;
            let want = if inside { luma.get(u, v) } else { Some(0xA5) };
            assert_eq!(part.get(u, v), want, "luma region {region:?} at ({u}, {v})");
        }
    }

    // A copy hashes and converts as the original.
    let mut copy = FrameBuf::default();
    copy.copy_from(frame);
    let again = copy.frame().expect("a filled FrameBuf gives a frame");
    assert_eq!(again.content_sha256(), frame.content_sha256(), "copy hash");
    let mut rgb2 = RgbImage::default();
    again
        .to_rgb_into(&mut rgb2)
        .expect("to_rgb_into of the copy");
    assert_eq!(rgb2, rgb, "copy RGB");

    // The fused frame → tensor warp is bit-identical to warping the converted image.
    let m = affine(&mut b);
    let (dw, dh) = (b.u8() as u32 % 24 + 1, b.u8() as u32 % 24 + 1);
    let border = match b.u8() {
        v if v & 1 == 0 => Border::Replicate,
        v => Border::Constant([v, v.wrapping_mul(3), v.wrapping_mul(7)]),
    };
    let sel = b.u8();
    let layout = if sel & 1 == 0 {
        TensorLayout::Nchw
    } else {
        TensorLayout::Nhwc
    };
    let norm = match (sel >> 1) & 3 {
        0 => Normalize::IDENTITY,
        1 => Normalize::UNIT,
        2 => Normalize::SIGNED_UNIT,
        // A zero std: a non-finite inv_std, refused.
        _ => Normalize::from_mean_std([0.0; 3], [1.0, 0.0, 1.0]),
    };
    // Now and then a tensor one float too long, which both must refuse.
    let extra = usize::from(sel & 0x80 != 0);
    let len = 3 * dw as usize * dh as usize + extra;
    let mut t_frame = vec![0f32; len];
    let mut t_image = vec![0f32; len];
    let a = warp_frame_to_tensor(frame, &m, dw, dh, border, layout, &norm, &mut t_frame);
    let c = warp_affine_to_tensor(&rgb, &m, dw, dh, border, layout, &norm, &mut t_image);
    match (&a, &c) {
        (Ok(()), Ok(())) => {
            // Bit for bit: the in-place warp samples exactly as the converted image's. (Fuzzing
            // found a sample one level off on a rotated BGRA frame when the orientation was
            // composed into the map in floats; the input is in the corpus.)
            for (i, (x, y)) in t_frame.iter().zip(&t_image).enumerate() {
                assert!(
                    x.to_bits() == y.to_bits(),
                    "warp_frame_to_tensor {x} vs warp_affine_to_tensor {y} at float {i}"
                );
            }
        }
        (Err(_), Err(_)) => {}
        _ => panic!("warp_frame_to_tensor {a:?} but warp_affine_to_tensor {c:?}"),
    }
    let finite = m.m.iter().all(|v| v.is_finite());
    match a {
        Err(FrameError::NonFiniteTransform { .. }) => assert!(!finite),
        Err(FrameError::NonFiniteNormalize { .. }) => assert_eq!((sel >> 1) & 3, 3),
        Err(FrameError::TensorLength { .. }) => assert_eq!(extra, 1),
        Err(e) => panic!("unexpected tensor error {e}"),
        Ok(()) => assert!(finite && extra == 0 && (sel >> 1) & 3 != 3),
    }

    // The image-side helpers the pipeline uses on the converted image.
    let mut out = RgbImage::default();
    match warp_affine_into(&rgb, &m, dw, dh, border, &mut out) {
        Ok(()) => assert_eq!(out.data.len(), 3 * dw as usize * dh as usize),
        Err(e) => assert!(!finite, "warp_affine_into: {e}"),
    }
    resize_bilinear_into(&rgb, dw, dh, &mut out).expect("resize_bilinear_into");
    assert_eq!((out.width, out.height), (dw, dh));
    let (cx, cy) = (b.u8() as u32 % (uw + 1), b.u8() as u32 % (uh + 1));
    let fits = cx + dw <= uw && cy + dh <= uh;
    match crop_into(&rgb, cx, cy, dw, dh, &mut out) {
        Ok(()) => {
            assert!(fits);
            assert_eq!(out.get(0, 0), rgb.get(cx, cy), "crop origin");
        }
        Err(FrameError::CropOutOfBounds { .. }) => assert!(!fits),
        Err(e) => panic!("crop_into: {e}"),
    }
}

/// An affine map tensor → upright image: scale 1/4..2, a rotation, a translation of ±64 px;
/// one byte value puts a NaN in (refused).
fn affine(b: &mut Bytes<'_>) -> Affine2 {
    let s = (b.u8() % 8 + 1) as f32 / 4.0;
    let angle = b.u8() as f32 / 256.0 * std::f32::consts::TAU;
    let (tx, ty) = (b.u8() as i8 as f32 / 2.0, b.u8() as i8 as f32 / 2.0);
    let (sin, cos) = angle.sin_cos();
    let mut m = [s * cos, -s * sin, tx, s * sin, s * cos, ty];
    let poison = b.u8();
    if poison == 0xFF {
        m[(tx as usize) % 6] = f32::NAN;
    }
    Affine2 { m }
}
