//! Camera frame ingestion and the image math the pipeline needs.
//!
//! A [`Frame`] borrows the camera's buffer as delivered (any [`PixelFormat`], padded rows,
//! sensor orientation). [`Frame::to_rgb_into`] and [`Frame::to_luma_into`] convert it to an
//! upright packed image in one pass, with the rotation and mirroring fused into the
//! conversion. [`warp_affine_to_tensor`] turns an [`RgbImage`] region into model input without
//! an intermediate image.
//!
//! Conventions, shared by every stage:
//! - **Rotation** ([`Rotation`]) is the *clockwise* rotation to apply to the buffer to make it
//!   upright, as Android's `ImageInfo.rotationDegrees`.
//! - **Mirroring** flips horizontally *after* the rotation (front-camera preview convention:
//!   the user sees themselves as in a mirror).
//! - **Pixel centres** sit at integer coordinates: pixel `(i, j)` covers `[i-0.5, i+0.5] ×
//!   [j-0.5, j+0.5]` (OpenCV convention for `warpAffine`).
//! - **YUV** is BT.601 limited ("video") range, as Android cameras deliver NV21; see
//!   [`Frame::to_rgb_into`] for the exact coefficients.
//!
//! Everything here builds as no_std + alloc.

mod convert;
#[cfg(feature = "image-io")]
pub mod file;
mod image;
mod owned;
mod source;
mod warp;

pub use image::{GrayImage, RgbImage};
pub use owned::FrameBuf;
pub use source::{Region, Upright};
pub use warp::{
    crop_into, letterbox_transform, resize_bilinear_into, rgb_to_luma_into, warp_affine_into,
    warp_affine_to_tensor, warp_frame_to_tensor, Border, Normalize, TensorLayout,
};

/// Largest accepted frame or output side, pixels. Larger values are taken as corrupt input.
pub const MAX_SIDE: u32 = 16384;

/// Errors of this stage. Every message says what was wrong and what was expected.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FrameError {
    /// An image file could not be read or decoded.
    #[error("image {what}: {message}")]
    ImageFile {
        what: alloc::string::String,
        message: alloc::string::String,
    },
    /// An image size has a zero side.
    #[error("{what} size {width}×{height} has a zero side; expected both sides ≥ 1")]
    ZeroSize {
        what: &'static str,
        width: u32,
        height: u32,
    },
    /// An image side exceeds [`MAX_SIDE`].
    #[error("{what} size {width}×{height} is too large; expected each side ≤ {max}")]
    TooLarge {
        what: &'static str,
        width: u32,
        height: u32,
        max: u32,
    },
    /// A 4:2:0 format with an odd side (chroma would not cover the last row/column).
    #[error("{format:?} frame size {width}×{height} has an odd side; expected even width and height for 4:2:0 chroma")]
    OddSize {
        format: PixelFormat,
        width: u32,
        height: u32,
    },
    /// Wrong number of planes for the pixel format.
    #[error("{format:?} frame has {got} planes; expected {expected}")]
    PlaneCount {
        format: PixelFormat,
        expected: usize,
        got: usize,
    },
    /// A plane's row stride cannot hold one row.
    #[error("frame plane {plane} stride {stride} < width {width} × {bytes_per_pixel} bytes")]
    StrideTooSmall {
        plane: usize,
        stride: usize,
        width: usize,
        bytes_per_pixel: usize,
    },
    /// A plane's buffer is shorter than `(rows - 1) × stride + row_bytes`.
    #[error("frame plane {plane} has {len} bytes; expected at least {needed} = ({rows} - 1) rows × stride {stride} + {row_bytes} bytes of the last row")]
    PlaneTooShort {
        plane: usize,
        len: usize,
        needed: usize,
        rows: usize,
        stride: usize,
        row_bytes: usize,
    },
    /// A contiguous buffer whose length does not match the format and size.
    #[error("{format:?} buffer for {width}×{height} has {got} bytes; expected exactly {expected}")]
    BufferLength {
        format: PixelFormat,
        width: u32,
        height: u32,
        expected: usize,
        got: usize,
    },
    /// A rotation that is not a multiple of 90°.
    #[error("rotation {degrees}° is not supported; expected a multiple of 90° (0, 90, 180, 270)")]
    Rotation { degrees: i32 },
    /// An image's data length does not match its size.
    #[error("{what} {width}×{height} has {got} bytes; expected {expected} ({channels} × width × height)")]
    ImageLength {
        what: &'static str,
        width: u32,
        height: u32,
        channels: usize,
        expected: usize,
        got: usize,
    },
    /// A crop rectangle that leaves the image.
    #[error("crop {width}×{height} at ({x}, {y}) exceeds the {image_width}×{image_height} image; expected x + width ≤ {image_width} and y + height ≤ {image_height}")]
    CropOutOfBounds {
        x: u32,
        y: u32,
        width: u32,
        height: u32,
        image_width: u32,
        image_height: u32,
    },
    /// An affine transform with NaN or infinite coefficients.
    #[error("affine transform {m:?} has a non-finite coefficient; expected all six finite")]
    NonFiniteTransform { m: [f32; 6] },
    /// Normalisation parameters with NaN or infinite values.
    #[error("normalisation mean {mean:?} / inv_std {inv_std:?} has a non-finite value; expected all finite")]
    NonFiniteNormalize { mean: [f32; 3], inv_std: [f32; 3] },
    /// A tensor output slice of the wrong length.
    #[error("tensor output has {got} floats; expected {expected} = 3 × {width} × {height}")]
    TensorLength {
        width: u32,
        height: u32,
        expected: usize,
        got: usize,
    },
}

/// Pixel layout of a camera buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PixelFormat {
    /// Packed R, G, B, A bytes (Android `Bitmap.Config.ARGB_8888` memory order).
    Rgba8888,
    /// Packed B, G, R, A bytes (iOS `kCVPixelFormatType_32BGRA`).
    Bgra8888,
    /// Packed R, G, B bytes.
    Rgb888,
    /// Y plane + interleaved V,U plane at half resolution (Android camera NV21).
    Nv21,
    /// Y plane + interleaved U,V plane at half resolution (iOS 420v/420f bi-planar).
    Nv12,
    /// Y, U, V planes, chroma at half resolution in both directions.
    I420,
    /// One luma byte per pixel.
    Gray8,
}

impl PixelFormat {
    /// Bytes per pixel of plane 0: 4, 4, 3 for the packed formats, 1 for Gray8 and for the
    /// Y plane of the YUV formats.
    pub const fn bytes_per_pixel(self) -> usize {
        match self {
            PixelFormat::Rgba8888 | PixelFormat::Bgra8888 => 4,
            PixelFormat::Rgb888 => 3,
            PixelFormat::Nv21 | PixelFormat::Nv12 | PixelFormat::I420 | PixelFormat::Gray8 => 1,
        }
    }

    /// Average storage bits per pixel over all planes (12 for the 4:2:0 formats).
    pub const fn bits_per_pixel(self) -> usize {
        match self {
            PixelFormat::Nv21 | PixelFormat::Nv12 | PixelFormat::I420 => 12,
            other => other.bytes_per_pixel() * 8,
        }
    }

    /// Number of planes: 1 for packed and gray, 2 for NV21/NV12, 3 for I420.
    pub const fn plane_count(self) -> usize {
        match self {
            PixelFormat::Nv21 | PixelFormat::Nv12 => 2,
            PixelFormat::I420 => 3,
            _ => 1,
        }
    }

    /// True for the 4:2:0 YUV formats (NV21, NV12, I420).
    pub const fn is_yuv420(self) -> bool {
        matches!(
            self,
            PixelFormat::Nv21 | PixelFormat::Nv12 | PixelFormat::I420
        )
    }

    /// `(width in pixels, rows, bytes per pixel)` of plane `plane` for a `width × height`
    /// frame. Chroma planes of the 4:2:0 formats are half size; NV21/NV12 chroma pixels are
    /// 2 bytes (interleaved pair). Returns `None` for a plane the format does not have.
    pub const fn plane_geometry(
        self,
        plane: usize,
        width: usize,
        height: usize,
    ) -> Option<(usize, usize, usize)> {
        if plane >= self.plane_count() {
            return None;
        }
        if plane == 0 {
            return Some((width, height, self.bytes_per_pixel()));
        }
        let (cw, ch) = (width.div_ceil(2), height.div_ceil(2));
        match self {
            PixelFormat::Nv21 | PixelFormat::Nv12 => Some((cw, ch, 2)),
            _ => Some((cw, ch, 1)),
        }
    }

    /// Bytes of a tightly packed `width × height` buffer of all planes (no row padding).
    pub const fn packed_len(self, width: usize, height: usize) -> usize {
        let mut total = 0;
        let mut p = 0;
        while p < self.plane_count() {
            if let Some((w, h, bpp)) = self.plane_geometry(p, width, height) {
                total += w * h * bpp;
            }
            p += 1;
        }
        total
    }
}

/// The clockwise rotation to apply to the buffer to make it upright (Android
/// `ImageInfo.rotationDegrees`). `Deg90` turns the buffer's top-left corner into the upright
/// image's top-right corner.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Rotation {
    #[default]
    Deg0,
    Deg90,
    Deg180,
    Deg270,
}

impl Rotation {
    /// From clockwise degrees; any multiple of 90 is accepted and reduced modulo 360
    /// (-90 → `Deg270`, 450 → `Deg90`).
    pub fn from_degrees(degrees: i32) -> Result<Rotation, FrameError> {
        if degrees % 90 != 0 {
            return Err(FrameError::Rotation { degrees });
        }
        Ok(match degrees.rem_euclid(360) {
            0 => Rotation::Deg0,
            90 => Rotation::Deg90,
            180 => Rotation::Deg180,
            _ => Rotation::Deg270,
        })
    }

    /// Clockwise degrees: 0, 90, 180 or 270.
    pub const fn degrees(self) -> u32 {
        match self {
            Rotation::Deg0 => 0,
            Rotation::Deg90 => 90,
            Rotation::Deg180 => 180,
            Rotation::Deg270 => 270,
        }
    }

    /// True for 90° and 270°, which swap width and height.
    pub const fn swaps_sides(self) -> bool {
        matches!(self, Rotation::Deg90 | Rotation::Deg270)
    }
}

/// One plane of a camera buffer: bytes and the distance between row starts, in bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Plane<'a> {
    pub data: &'a [u8],
    /// Bytes from the start of one row to the start of the next (≥ row bytes).
    pub row_stride: usize,
}

impl<'a> Plane<'a> {
    pub const fn new(data: &'a [u8], row_stride: usize) -> Self {
        Self { data, row_stride }
    }
}

/// A camera frame as delivered: borrowed planes, buffer size before rotation, and how to make
/// it upright. Built by [`Frame::new`], which validates every plane, so conversions cannot
/// read out of bounds.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Frame<'a> {
    width: u32,
    height: u32,
    format: PixelFormat,
    planes: [Plane<'a>; 3],
    rotation: Rotation,
    mirrored: bool,
    timestamp_ns: u64,
}

impl<'a> Frame<'a> {
    /// A validated frame of the buffer's `width × height` (pixels, before rotation) with
    /// `Rotation::Deg0`, not mirrored, timestamp 0; set those with the `with_*` methods.
    ///
    /// Checks: non-zero sides ≤ [`MAX_SIDE`], even sides for 4:2:0 formats, the plane count
    /// (packed/gray 1; NV21/NV12 2: Y + interleaved VU/UV; I420 3: Y, U, V), each stride ≥
    /// row bytes and each plane ≥ `(rows - 1) × stride + row bytes` (a last row without
    /// padding is accepted).
    pub fn new(
        width: u32,
        height: u32,
        format: PixelFormat,
        planes: &[Plane<'a>],
    ) -> Result<Frame<'a>, FrameError> {
        check_size("frame", width, height)?;
        if format.is_yuv420() && (!width.is_multiple_of(2) || !height.is_multiple_of(2)) {
            return Err(FrameError::OddSize {
                format,
                width,
                height,
            });
        }
        if planes.len() != format.plane_count() {
            return Err(FrameError::PlaneCount {
                format,
                expected: format.plane_count(),
                got: planes.len(),
            });
        }
        let mut stored = [Plane::default(); 3];
        for (i, p) in planes.iter().enumerate() {
            let (pw, rows, bpp) = format
                .plane_geometry(i, width as usize, height as usize)
                .unwrap_or((0, 0, 0));
            let row_bytes = pw * bpp;
            if p.row_stride < row_bytes {
                return Err(FrameError::StrideTooSmall {
                    plane: i,
                    stride: p.row_stride,
                    width: pw,
                    bytes_per_pixel: bpp,
                });
            }
            let needed = (rows - 1)
                .checked_mul(p.row_stride)
                .and_then(|v| v.checked_add(row_bytes))
                .unwrap_or(usize::MAX);
            if p.data.len() < needed {
                return Err(FrameError::PlaneTooShort {
                    plane: i,
                    len: p.data.len(),
                    needed,
                    rows,
                    stride: p.row_stride,
                    row_bytes,
                });
            }
            stored[i] = *p;
        }
        Ok(Frame {
            width,
            height,
            format,
            planes: stored,
            rotation: Rotation::Deg0,
            mirrored: false,
            timestamp_ns: 0,
        })
    }

    /// A frame over one tightly packed buffer (no row padding, planes back to back: Y then
    /// VU/UV for NV21/NV12, Y then U then V for I420), as Android's legacy camera API
    /// delivers NV21. The length must be exactly [`PixelFormat::packed_len`].
    pub fn contiguous(
        width: u32,
        height: u32,
        format: PixelFormat,
        data: &'a [u8],
    ) -> Result<Frame<'a>, FrameError> {
        check_size("frame", width, height)?;
        let (w, h) = (width as usize, height as usize);
        let expected = format.packed_len(w, h);
        if data.len() != expected {
            return Err(FrameError::BufferLength {
                format,
                width,
                height,
                expected,
                got: data.len(),
            });
        }
        let mut planes = [Plane::default(); 3];
        let mut rest = data;
        for (i, plane) in planes.iter_mut().enumerate().take(format.plane_count()) {
            let (pw, rows, bpp) = format.plane_geometry(i, w, h).unwrap_or((0, 0, 0));
            let (head, tail) = rest.split_at((pw * bpp * rows).min(rest.len()));
            *plane = Plane::new(head, pw * bpp);
            rest = tail;
        }
        Frame::new(width, height, format, &planes[..format.plane_count()])
    }

    /// Sets the clockwise rotation that makes the buffer upright.
    pub fn with_rotation(mut self, rotation: Rotation) -> Self {
        self.rotation = rotation;
        self
    }

    /// Sets horizontal mirroring, applied after the rotation.
    pub fn with_mirrored(mut self, mirrored: bool) -> Self {
        self.mirrored = mirrored;
        self
    }

    /// Sets the capture time, nanoseconds on a monotonic clock.
    pub fn with_timestamp_ns(mut self, timestamp_ns: u64) -> Self {
        self.timestamp_ns = timestamp_ns;
        self
    }

    /// Buffer width as delivered (before rotation), pixels.
    pub fn width(&self) -> u32 {
        self.width
    }
    /// Buffer height as delivered (before rotation), pixels.
    pub fn height(&self) -> u32 {
        self.height
    }
    pub fn format(&self) -> PixelFormat {
        self.format
    }
    /// The format's planes, in order (Y first for YUV formats).
    pub fn planes(&self) -> &[Plane<'a>] {
        &self.planes[..self.format.plane_count()]
    }
    pub fn rotation(&self) -> Rotation {
        self.rotation
    }
    /// True when the upright image is flipped horizontally after rotation.
    pub fn mirrored(&self) -> bool {
        self.mirrored
    }
    /// Capture time, nanoseconds on a monotonic clock.
    pub fn timestamp_ns(&self) -> u64 {
        self.timestamp_ns
    }
    /// SHA-256 of the frame's content: the buffer size, pixel format and every plane's pixel
    /// bytes row by row (stride padding excluded), so the same picture hashes the same whatever
    /// the stride. Not the timestamp, rotation or mirroring: equal digests are a duplicated
    /// picture. The session chains these into the signed result's running frame hash.
    #[cfg(feature = "std")]
    pub fn content_sha256(&self) -> [u8; 32] {
        use sha2::{Digest, Sha256};
        let mut h = Sha256::new();
        h.update(self.width.to_le_bytes());
        h.update(self.height.to_le_bytes());
        h.update([self.format as u8]);
        for (i, plane) in self.planes().iter().enumerate() {
            let Some((w, rows, bpp)) =
                self.format
                    .plane_geometry(i, self.width as usize, self.height as usize)
            else {
                continue;
            };
            let row_bytes = w * bpp;
            // `Frame::new` checked each plane holds `(rows - 1) × stride + row bytes`.
            for r in 0..rows {
                let start = r * plane.row_stride;
                h.update(&plane.data[start..start + row_bytes]);
            }
        }
        h.finalize().into()
    }

    /// `(width, height)` of the upright image, pixels (swapped for 90° and 270°).
    pub fn upright_size(&self) -> (u32, u32) {
        if self.rotation.swaps_sides() {
            (self.height, self.width)
        } else {
            (self.width, self.height)
        }
    }
}

/// Both sides in `1..=MAX_SIDE`.
pub(crate) fn check_size(what: &'static str, width: u32, height: u32) -> Result<(), FrameError> {
    if width == 0 || height == 0 {
        return Err(FrameError::ZeroSize {
            what,
            width,
            height,
        });
    }
    if width > MAX_SIDE || height > MAX_SIDE {
        return Err(FrameError::TooLarge {
            what,
            width,
            height,
            max: MAX_SIDE,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests;
