//! Image files decoded upright: PNG or JPEG to [`RgbImage`], with the EXIF orientation
//! applied. Phones store a photo as the sensor read it and record its rotation in the EXIF
//! `Orientation` tag; a pipeline that ignores it sees the face on its side (the real attack
//! photos in the project's shared data are stored so). Feature `image-io`.

use std::io::Cursor;
use std::path::Path;

use ::image::{DynamicImage, ImageDecoder, ImageReader};

use super::{FrameError, RgbImage};

/// An image file and how it was turned upright.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DecodedImage {
    /// The upright RGB8 image.
    pub rgb: RgbImage,
    /// The EXIF orientation that was applied: 1 = none (also when the file has no tag),
    /// 2–8 as in the EXIF specification (6 = stored rotated 90° anticlockwise, turned
    /// clockwise here).
    pub exif_orientation: u8,
}

/// Reads and decodes `path` upright (see the module docs).
pub fn load_upright(path: &Path) -> Result<DecodedImage, FrameError> {
    let bytes = std::fs::read(path).map_err(|e| FrameError::ImageFile {
        what: path.display().to_string(),
        message: format!("cannot read: {e}"),
    })?;
    decode_upright(&bytes, &path.display().to_string())
}

/// Decodes PNG or JPEG `bytes` upright; `what` names the source in errors.
pub fn decode_upright(bytes: &[u8], what: &str) -> Result<DecodedImage, FrameError> {
    let err = |message: String| FrameError::ImageFile {
        what: what.to_string(),
        message,
    };
    let reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| err(format!("cannot read the format: {e}")))?;
    let mut decoder = reader
        .into_decoder()
        .map_err(|e| err(format!("not a PNG or JPEG this build decodes: {e}")))?;
    // A broken EXIF block is not a reason to refuse the pixels: it reads as "no rotation".
    let orientation = decoder
        .orientation()
        .unwrap_or(::image::metadata::Orientation::NoTransforms);
    let mut img =
        DynamicImage::from_decoder(decoder).map_err(|e| err(format!("cannot decode: {e}")))?;
    img.apply_orientation(orientation);
    let rgb = img.to_rgb8();
    let (w, h) = rgb.dimensions();
    let rgb = RgbImage::from_raw(w, h, rgb.into_raw())?;
    Ok(DecodedImage {
        rgb,
        exif_orientation: orientation.to_exif(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 2 × 1 JPEG-free PNG has no EXIF: orientation 1, pixels as stored.
    #[test]
    fn png_without_exif_is_unchanged() {
        let mut png = Vec::new();
        let img = ::image::RgbImage::from_raw(2, 1, vec![255, 0, 0, 0, 0, 255]).unwrap();
        img.write_to(&mut Cursor::new(&mut png), ::image::ImageFormat::Png)
            .unwrap();
        let d = decode_upright(&png, "test.png").unwrap();
        assert_eq!(d.exif_orientation, 1);
        assert_eq!((d.rgb.width, d.rgb.height), (2, 1));
        assert_eq!(d.rgb.data, vec![255, 0, 0, 0, 0, 255]);
    }

    #[test]
    fn garbage_is_a_typed_error() {
        let e = decode_upright(b"not an image", "junk.bin").unwrap_err();
        println!("{e}");
        assert!(matches!(e, FrameError::ImageFile { .. }));
        assert!(e.to_string().contains("junk.bin"));
        let e = load_upright(Path::new("/nonexistent/x.png")).unwrap_err();
        assert!(e.to_string().contains("cannot read"), "{e}");
    }
}
