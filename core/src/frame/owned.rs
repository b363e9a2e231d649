//! [`FrameBuf`]: a camera frame copied into memory of its own, for work on another thread.

use alloc::vec::Vec;

use super::{Frame, PixelFormat, Rotation};

/// What a [`FrameBuf`] holds besides the pixels.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Meta {
    width: u32,
    height: u32,
    format: PixelFormat,
    rotation: Rotation,
    mirrored: bool,
    timestamp_ns: u64,
}

/// A copy of a [`Frame`]: every plane's pixel rows, packed (stride padding dropped), with the
/// frame's size, format, orientation and timestamp. [`FrameBuf::frame`] views it as a
/// `Frame` again, which converts, samples and hashes ([`Frame::content_sha256`]) exactly as
/// the original. Reusable: [`FrameBuf::copy_from`] overwrites it without allocating once the
/// buffer has grown to the frame's size.
///
/// The copy is a plain memory copy of the camera's bytes (1.5 bytes per pixel for the YUV
/// 4:2:0 formats), much cheaper than converting or hashing the frame, so the session's frame
/// thread hands frames to its worker this way.
#[derive(Clone, Debug, Default)]
pub struct FrameBuf {
    data: Vec<u8>,
    meta: Option<Meta>,
}

impl FrameBuf {
    /// Copies `frame` into this buffer (its previous content is replaced).
    pub fn copy_from(&mut self, frame: &Frame<'_>) {
        let (w, h) = (frame.width() as usize, frame.height() as usize);
        let format = frame.format();
        self.data.clear();
        self.data.reserve(format.packed_len(w, h));
        for (i, plane) in frame.planes().iter().enumerate() {
            let Some((pw, rows, bpp)) = format.plane_geometry(i, w, h) else {
                continue;
            };
            let row_bytes = pw * bpp;
            // `Frame::new` checked each plane holds `(rows - 1) × stride + row bytes`.
            if plane.row_stride == row_bytes {
                self.data.extend_from_slice(&plane.data[..rows * row_bytes]);
            } else {
                for r in 0..rows {
                    let start = r * plane.row_stride;
                    self.data
                        .extend_from_slice(&plane.data[start..start + row_bytes]);
                }
            }
        }
        self.meta = Some(Meta {
            width: frame.width(),
            height: frame.height(),
            format,
            rotation: frame.rotation(),
            mirrored: frame.mirrored(),
            timestamp_ns: frame.timestamp_ns(),
        });
    }

    /// The copy as a frame (packed planes, the original's orientation and timestamp); `None`
    /// before the first [`FrameBuf::copy_from`].
    pub fn frame(&self) -> Option<Frame<'_>> {
        let m = self.meta?;
        // The data is exactly the packed layout `Frame::contiguous` expects (`copy_from`
        // wrote every plane's rows back to back), so this cannot fail for a filled buffer.
        let frame = Frame::contiguous(m.width, m.height, m.format, &self.data).ok()?;
        Some(
            frame
                .with_rotation(m.rotation)
                .with_mirrored(m.mirrored)
                .with_timestamp_ns(m.timestamp_ns),
        )
    }
}
