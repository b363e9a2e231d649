//! Owned packed images: [`RgbImage`] (RGB8) and [`GrayImage`] (luma8).

use alloc::vec;
use alloc::vec::Vec;

use super::FrameError;

/// Packed RGB8 image, row-major, row stride `3 × width` bytes, no padding.
///
/// The fields are public for zero-copy access; every function taking an image checks that
/// `data.len() == 3 × width × height` and returns [`FrameError::ImageLength`] otherwise.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RgbImage {
    pub width: u32,
    pub height: u32,
    pub data: Vec<u8>,
}

/// Packed 8-bit luma image, row-major, row stride `width` bytes, no padding.
///
/// Same field contract as [`RgbImage`] with one byte per pixel.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GrayImage {
    pub width: u32,
    pub height: u32,
    pub data: Vec<u8>,
}

macro_rules! packed_image {
    ($ty:ident, $channels:expr, $what:expr, $px:ty, $pixel:expr) => {
        impl $ty {
            /// Bytes per pixel.
            pub const CHANNELS: usize = $channels;

            /// A black image. Panics only if the byte count overflows `usize`, as `Vec` does.
            pub fn new(width: u32, height: u32) -> Self {
                let len = (width as usize)
                    .checked_mul(height as usize)
                    .and_then(|v| v.checked_mul($channels))
                    .unwrap_or(usize::MAX);
                Self {
                    width,
                    height,
                    data: vec![0; len],
                }
            }

            /// Wraps packed pixel bytes; the length must be exactly channels × width × height.
            pub fn from_raw(width: u32, height: u32, data: Vec<u8>) -> Result<Self, FrameError> {
                let img = Self {
                    width,
                    height,
                    data,
                };
                img.check()?;
                Ok(img)
            }

            /// Pixel `(x, y)`, or `None` outside the image.
            pub fn get(&self, x: u32, y: u32) -> Option<$px> {
                if x >= self.width || y >= self.height {
                    return None;
                }
                let i = (y as usize * self.width as usize + x as usize) * $channels;
                self.data.get(i..i + $channels).map($pixel)
            }

            /// Row `y` as `channels × width` bytes, or `None` outside the image.
            pub fn row(&self, y: u32) -> Option<&[u8]> {
                if y >= self.height {
                    return None;
                }
                let n = self.width as usize * $channels;
                self.data.get(y as usize * n..(y as usize + 1) * n)
            }

            /// Consumes the image, returning its bytes.
            pub fn into_raw(self) -> Vec<u8> {
                self.data
            }

            /// Byte count of a `width × height` image; `None` on overflow.
            pub(crate) fn byte_len(width: u32, height: u32) -> Option<usize> {
                (width as usize)
                    .checked_mul(height as usize)?
                    .checked_mul($channels)
            }

            /// `Err` unless `data.len() == channels × width × height`.
            pub(crate) fn check(&self) -> Result<(), FrameError> {
                let expected = Self::byte_len(self.width, self.height).unwrap_or(usize::MAX);
                if self.data.len() != expected {
                    return Err(FrameError::ImageLength {
                        what: $what,
                        width: self.width,
                        height: self.height,
                        channels: $channels,
                        expected,
                        got: self.data.len(),
                    });
                }
                Ok(())
            }

            /// Sets the size, growing `data` only when its length is short (the allocation
            /// is reused; contents are unspecified until overwritten). Callers bound the
            /// size by `MAX_SIDE`, so the byte count cannot overflow.
            pub(crate) fn reshape(&mut self, width: u32, height: u32) {
                let len = width as usize * height as usize * $channels;
                self.data.resize(len, 0);
                self.width = width;
                self.height = height;
            }
        }
    };
}

packed_image!(RgbImage, 3, "RGB image", [u8; 3], |s: &[u8]| [
    s[0], s[1], s[2]
]);
packed_image!(GrayImage, 1, "gray image", u8, |s: &[u8]| s[0]);

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    #[test]
    fn rgb_from_raw_get_and_length_check() {
        let img = RgbImage::from_raw(2, 1, vec![1, 2, 3, 4, 5, 6]).unwrap();
        assert_eq!(img.get(0, 0), Some([1, 2, 3]));
        assert_eq!(img.get(1, 0), Some([4, 5, 6]));
        assert_eq!(img.get(2, 0), None);
        assert_eq!(img.get(0, 1), None);
        assert_eq!(img.row(0), Some(&[1u8, 2, 3, 4, 5, 6][..]));
        let err = RgbImage::from_raw(4, 2, vec![0; 20]).unwrap_err();
        assert_eq!(
            err,
            FrameError::ImageLength {
                what: "RGB image",
                width: 4,
                height: 2,
                channels: 3,
                expected: 24,
                got: 20
            }
        );
        assert_eq!(
            err.to_string(),
            "RGB image 4×2 has 20 bytes; expected 24 (3 × width × height)"
        );
    }

    #[test]
    fn gray_from_raw_get() {
        let img = GrayImage::from_raw(2, 2, vec![10, 20, 30, 40]).unwrap();
        assert_eq!(img.get(1, 1), Some(40));
        assert_eq!(img.get(0, 1), Some(30));
        assert!(GrayImage::from_raw(2, 2, vec![0; 3]).is_err());
        assert_eq!(GrayImage::new(3, 2).data, vec![0; 6]);
    }

    #[test]
    fn reshape_reuses_allocation() {
        let mut img = RgbImage::new(4, 4);
        let cap = img.data.capacity();
        let ptr = img.data.as_ptr();
        img.reshape(2, 3);
        assert_eq!(img.data.len(), 18);
        img.reshape(4, 4);
        assert_eq!(img.data.len(), 48);
        assert_eq!(img.data.capacity(), cap);
        assert_eq!(img.data.as_ptr(), ptr);
    }
}
