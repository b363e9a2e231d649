//! The source photo and its face, as LiveProof's own perception sees it: the 468 FaceMesh
//! landmarks (x, y in photo pixels, z in the same scale, negative = towards the camera).

use std::path::Path;
use std::sync::Arc;

use liveproof_core::engine::{Engine, FaceAnalysis, Tracker};
use liveproof_core::frame::{Frame, PixelFormat, RgbImage};
use liveproof_core::geometry::{Point2, Point3, Rect};
use liveproof_core::mesh::{idx, Landmarks};
use liveproof_core::quality::estimate_head_pose;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{Result, SynthError};
use crate::imgops::{resize, ImageF};

/// Smallest face accepted, pixels between the eye centres.
pub const MIN_INTEROCULAR_PX: f32 = 12.0;

/// How to pick the face.
#[derive(Clone, Debug, Default)]
pub struct SourceOptions {
    /// The face's box in the photo, pixels `[x_min, y_min, x_max, y_max]`. The region around it
    /// (2.4× the box's larger side) is cropped, enlarged until the box is at least 240 px wide,
    /// and analysed; use it for a face in a group photo. `None` = the largest face in the photo.
    pub face_box: Option<Rect>,
}

/// Provenance and measurements of the source, recorded in every capture's metadata.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SourceInfo {
    /// File name (no folder), when the photo came from a file.
    pub file: Option<String>,
    /// SHA-256 (hex) of the file's bytes, or of the RGB pixel bytes (see `sha256_of`).
    pub sha256: String,
    /// `"file"` or `"rgb_pixels"`.
    pub sha256_of: String,
    /// Size of the photo as given, pixels.
    pub width: u32,
    pub height: u32,
    /// `[x, y, width, height]` of the crop taken around `face_box`, in the photo as given.
    pub crop: Option<[u32; 4]>,
    /// Enlargement applied to the crop (1 = none).
    pub crop_scale: f64,
    /// Faces LiveProof's detector found in the analysed image.
    pub faces_detected: usize,
    /// Landmark bounding box of the chosen face in the analysed image, pixels.
    pub face_box: [f32; 4],
    /// Distance between the eye centres (mean of each eye contour), pixels of the analysed image.
    pub interocular_px: f32,
    /// FaceMesh face-presence probability.
    pub presence: f32,
    /// The photo's head pose (degrees, LiveProof convention); scripted poses are relative to it.
    pub yaw_deg: f32,
    pub pitch_deg: f32,
    pub roll_deg: f32,
}

/// A photo ready to animate.
#[derive(Clone, Debug)]
pub struct Source {
    /// The analysed image (the photo, or the enlarged crop around `face_box`).
    pub photo: RgbImage,
    /// The chosen face's 468 landmarks in `photo` pixels.
    pub landmarks: Vec<Point3>,
    pub info: SourceInfo,
}

impl Source {
    /// Reads and decodes a PNG/JPEG photo and analyses it (see [`Source::from_photo`]). The
    /// metadata records the file name and the SHA-256 of its bytes.
    pub fn from_file(engine: &Arc<Engine>, path: &Path, opts: &SourceOptions) -> Result<Source> {
        let bytes = std::fs::read(path).map_err(|source| SynthError::ReadImage {
            path: path.to_path_buf(),
            source,
        })?;
        // Upright by the file's EXIF orientation, as phone photos need.
        let photo =
            liveproof_core::frame::file::decode_upright(&bytes, &path.display().to_string())
                .map_err(|e| SynthError::DecodeImage {
                    path: path.to_path_buf(),
                    message: e.to_string(),
                })?
                .rgb;
        let mut src = Source::from_photo(engine, photo, opts)?;
        src.info.file = path.file_name().map(|n| n.to_string_lossy().into_owned());
        src.info.sha256 = hex::encode(Sha256::digest(&bytes));
        src.info.sha256_of = "file".into();
        Ok(src)
    }

    /// Runs LiveProof's perception (detector + FaceMesh, still-image mode) on the photo and
    /// keeps one face: the largest, or the one in `opts.face_box`.
    pub fn from_photo(
        engine: &Arc<Engine>,
        photo: RgbImage,
        opts: &SourceOptions,
    ) -> Result<Source> {
        check_photo(&photo)?;
        let sha = hex::encode(Sha256::digest(&photo.data));
        let (width, height) = (photo.width, photo.height);
        let (analysed, crop, crop_scale) = match opts.face_box {
            Some(b) => crop_around(&photo, b)?,
            None => (photo, None, 1.0),
        };
        let mut tracker = Tracker::new(engine.clone());
        let frame = Frame::contiguous(
            analysed.width,
            analysed.height,
            PixelFormat::Rgb888,
            &analysed.data,
        )
        .map_err(liveproof_core::Error::from)?;
        let analysis = tracker.analyze_still(&frame)?;
        let detected = analysis.faces_detected;
        let centre = Point2::new(0.5 * analysed.width as f32, 0.5 * analysed.height as f32);
        let chosen: Option<&FaceAnalysis> = if crop.is_some() {
            // The face nearest the crop centre (the box's centre).
            analysis.faces.iter().min_by(|a, b| {
                let d = |f: &FaceAnalysis| face_bbox(&f.landmarks).center().dist(centre);
                d(a).total_cmp(&d(b))
            })
        } else {
            analysis.faces.iter().max_by(|a, b| {
                face_bbox(&a.landmarks)
                    .area()
                    .total_cmp(&face_bbox(&b.landmarks).area())
            })
        };
        let face = chosen.ok_or(SynthError::NoFace { detected })?;
        let landmarks = face.landmarks.to_vec();
        let presence = face.presence;
        let mut src = Source::from_landmarks(analysed, landmarks, presence)?;
        src.info.sha256 = sha;
        src.info.width = width;
        src.info.height = height;
        src.info.crop = crop;
        src.info.crop_scale = crop_scale;
        src.info.faces_detected = detected;
        Ok(src)
    }

    /// A source from landmarks found elsewhere (468 finite points in `photo` pixels), e.g. for
    /// tests without the models. `presence` is recorded only.
    pub fn from_landmarks(
        photo: RgbImage,
        landmarks: Vec<Point3>,
        presence: f32,
    ) -> Result<Source> {
        check_photo(&photo)?;
        let landmarks =
            Landmarks::new(landmarks).map_err(|e| SynthError::param("landmarks", e.to_string()))?;
        let iod = interocular(&landmarks);
        if iod.is_nan() || iod < MIN_INTEROCULAR_PX {
            return Err(SynthError::FaceTooSmall {
                interocular_px: iod,
                min_px: MIN_INTEROCULAR_PX,
            });
        }
        let pose = estimate_head_pose(&landmarks).ok();
        let bb = face_bbox(&landmarks);
        let info = SourceInfo {
            file: None,
            sha256: hex::encode(Sha256::digest(&photo.data)),
            sha256_of: "rgb_pixels".into(),
            width: photo.width,
            height: photo.height,
            crop: None,
            crop_scale: 1.0,
            faces_detected: 1,
            face_box: bb.as_array(),
            interocular_px: iod,
            presence,
            yaw_deg: pose.map_or(0.0, |p| p.yaw_deg),
            pitch_deg: pose.map_or(0.0, |p| p.pitch_deg),
            roll_deg: pose.map_or(0.0, |p| p.roll_deg),
        };
        Ok(Source {
            photo,
            landmarks: landmarks.into_vec(),
            info,
        })
    }
}

fn check_photo(photo: &RgbImage) -> Result<()> {
    if photo.width < 16 || photo.height < 16 {
        return Err(SynthError::BadPhoto(format!(
            "{}×{} pixels; expected at least 16×16",
            photo.width, photo.height
        )));
    }
    if photo.data.len() != 3 * photo.width as usize * photo.height as usize {
        return Err(SynthError::BadPhoto(format!(
            "{} bytes for {}×{} RGB; expected {}",
            photo.data.len(),
            photo.width,
            photo.height,
            3 * photo.width as usize * photo.height as usize
        )));
    }
    Ok(())
}

/// Bounding box of landmarks, pixels.
pub fn face_bbox(lm: &[Point3]) -> Rect {
    Rect::bounding(lm.iter().map(|p| p.xy())).unwrap_or_default()
}

/// Centre of an eye contour (mean of its 16 points), pixels.
pub fn eye_centre(lm: &[Point3], contour: &[usize]) -> Point2 {
    let n = contour.len() as f32;
    let (sx, sy) = contour
        .iter()
        .fold((0.0, 0.0), |a, &i| (a.0 + lm[i].x, a.1 + lm[i].y));
    Point2::new(sx / n, sy / n)
}

/// Distance between the eye centres, pixels (the generator's "inter-ocular distance").
pub fn interocular(lm: &[Point3]) -> f32 {
    eye_centre(lm, &idx::RIGHT_EYE_CONTOUR).dist(eye_centre(lm, &idx::LEFT_EYE_CONTOUR))
}

/// Eye aspect ratio (Soukupová & Čech) of one eye from its `[p1..p6]` indices.
pub fn eye_aspect_ratio(lm: &[Point3], ear: &[usize; 6]) -> f32 {
    let p = |i: usize| lm[ear[i]].xy();
    (p(1).dist(p(5)) + p(2).dist(p(4))) / (2.0 * p(0).dist(p(3))).max(1e-6)
}

/// Mean eye aspect ratio of both eyes.
pub fn mean_ear(lm: &[Point3]) -> f32 {
    0.5 * (eye_aspect_ratio(lm, &idx::RIGHT_EYE_EAR) + eye_aspect_ratio(lm, &idx::LEFT_EYE_EAR))
}

/// Crops the region around `b` (2.4× its larger side, clamped to the photo) and enlarges it
/// until the box is ≥ 240 px wide. Returns the crop, `[x, y, w, h]` and the enlargement.
fn crop_around(photo: &RgbImage, b: Rect) -> Result<(RgbImage, Option<[u32; 4]>, f64)> {
    let finite = [b.x_min, b.y_min, b.x_max, b.y_max]
        .iter()
        .all(|v| v.is_finite());
    if !finite || b.width() < 4.0 || b.height() < 4.0 {
        return Err(SynthError::param(
            "face_box",
            format!(
                "{:?}; expected finite x_min < x_max and y_min < y_max, at least 4 px each",
                b.as_array()
            ),
        ));
    }
    let (w, h) = (photo.width as f32, photo.height as f32);
    if b.x_max <= 0.0 || b.y_max <= 0.0 || b.x_min >= w || b.y_min >= h {
        return Err(SynthError::param(
            "face_box",
            format!(
                "{:?} lies outside the {}×{} photo",
                b.as_array(),
                photo.width,
                photo.height
            ),
        ));
    }
    let side = 2.4 * b.width().max(b.height());
    let c = b.center();
    let x0 = (c.x - 0.5 * side).floor().clamp(0.0, w - 1.0) as u32;
    let y0 = (c.y - 0.5 * side).floor().clamp(0.0, h - 1.0) as u32;
    let x1 = (c.x + 0.5 * side).ceil().clamp(1.0, w) as u32;
    let y1 = (c.y + 0.5 * side).ceil().clamp(1.0, h) as u32;
    let (cw, ch) = (x1.saturating_sub(x0).max(1), y1.saturating_sub(y0).max(1));
    let mut data = Vec::with_capacity((cw * ch * 3) as usize);
    for y in y0..y0 + ch {
        let row = photo
            .row(y)
            .ok_or_else(|| SynthError::BadPhoto(format!("row {y} missing")))?;
        data.extend_from_slice(&row[(x0 * 3) as usize..((x0 + cw) * 3) as usize]);
    }
    let crop = RgbImage::from_raw(cw, ch, data).map_err(|e| SynthError::BadPhoto(e.to_string()))?;
    let scale = (240.0 / b.width() as f64).max(1.0);
    let out = if scale > 1.0 {
        let nw = (cw as f64 * scale).round().max(1.0) as usize;
        let nh = (ch as f64 * scale).round().max(1.0) as usize;
        resize(&ImageF::from_rgb(&crop), nw, nh).to_rgb()
    } else {
        crop
    };
    Ok((out, Some([x0, y0, cw, ch]), scale))
}
