//! [`Tracker`]: one camera stream's tracking state and every buffer reused from frame to frame,
//! and the per-frame work (detector, FaceMesh, quality gate).

use std::sync::Arc;
use std::time::Instant;

use super::engine::DetectorDecoder;
use super::{Engine, FaceAnalysis, FrameAnalysis, FrameNote, StageTimings, MESH_INPUT};
use crate::detect::{self, Detection};
use crate::error::{Error, Result};
use crate::frame::{
    self, Frame, GrayImage, Normalize, PixelFormat, Region, RgbImage, TensorLayout,
};
use crate::geometry::{Affine2, Point3, Rect, RotatedRect};
use crate::mesh::{self, Landmarks};
use crate::models::{ModelRunner, TensorIn, TensorOut};
use crate::quality;
use crate::quality::HintSet;

/// Per-stream state: the tracked face and every buffer reused from frame to frame.
/// Not shared between threads; make one per camera stream.
pub struct Tracker {
    engine: Arc<Engine>,
    scratch: Scratch,
    /// The upright RGB image of the last frame (when `keep_rgb`).
    rgb: RgbImage,
    /// Convert every frame to `rgb` (see [`Tracker::set_keep_rgb`]).
    keep_rgb: bool,
    /// Upright luma; only the region the quality gate reads is written each frame.
    luma: GrayImage,
    /// ROIs for FaceMesh this frame, with the detection that placed each (`None` when the
    /// ROI comes from the tracked landmarks: the face summary is then made from the new ones).
    rois: Vec<(Option<Detection>, RotatedRect)>,
    faces: Vec<(Detection, RotatedRect, Landmarks, f32)>,
    /// Landmarks of the last frame when the track is live.
    tracked: Option<Landmarks>,
    /// Landmarks of the previous frame, for stability.
    previous: Option<Landmarks>,
    /// Timestamp of the previous frame (meaningful when `previous` is set). A field of its
    /// own, always initialised: inside the `Option` its bytes are uninitialised when `None`,
    /// and the optimiser may compare them before the discriminant (valgrind then reports a
    /// jump on uninitialised memory).
    previous_ts: u64,
    frames_since_detection: u32,
    quality_scratch: quality::QualityScratch,
    analysis: FrameAnalysis,
    spare_landmarks: Vec<Vec<Point3>>,
}

impl std::fmt::Debug for Tracker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tracker")
            .field("tracking", &self.tracked.is_some())
            .finish()
    }
}

fn ms_since(t: Instant) -> f64 {
    t.elapsed().as_secs_f64() * 1e3
}

impl Tracker {
    /// A tracker for one camera stream.
    pub fn new(engine: Arc<Engine>) -> Tracker {
        let scratch = Scratch {
            decoder: engine.decoder.clone(),
            det_input: Vec::new(),
            mesh_input: vec![0.0; (3 * MESH_INPUT * MESH_INPUT) as usize],
            det_outputs: Vec::new(),
            mesh_outputs: Vec::new(),
            detections: Vec::new(),
            mesh_landmarks: None,
            model_ms: 0.0,
        };
        Tracker {
            engine,
            scratch,
            rgb: RgbImage::default(),
            keep_rgb: false,
            luma: GrayImage::default(),
            rois: Vec::with_capacity(4),
            faces: Vec::with_capacity(4),
            tracked: None,
            previous: None,
            previous_ts: 0,
            frames_since_detection: 0,
            quality_scratch: quality::QualityScratch::default(),
            analysis: FrameAnalysis::default(),
            spare_landmarks: Vec::new(),
        }
    }

    pub fn engine(&self) -> &Arc<Engine> {
        &self.engine
    }

    /// A tracker that also keeps each frame's upright RGB image ([`Tracker::last_rgb`]), for
    /// callers that read the whole picture after every frame.
    pub fn with_rgb(engine: Arc<Engine>) -> Tracker {
        let mut t = Tracker::new(engine);
        t.keep_rgb = true;
        t
    }

    /// The upright RGB image of the last processed frame (what the landmarks refer to), for
    /// the stages that read pixels after perception (passive liveness). `None` unless
    /// the tracker keeps it ([`Tracker::with_rgb`], [`Tracker::set_keep_rgb`]).
    pub fn last_rgb(&self) -> Option<&RgbImage> {
        (self.keep_rgb && !self.rgb.data.is_empty()).then_some(&self.rgb)
    }

    /// Whether every processed frame is also converted to the upright RGB image
    /// ([`Tracker::last_rgb`]); off by default. Perception itself reads the camera buffer in
    /// place (the models' warps and the quality gate's face region), and the whole-frame
    /// conversion is most of a frame's cost outside the models, so only a caller that reads
    /// the whole image after every frame turns it on; one that reads pixels on some frames
    /// converts those itself ([`Frame::to_rgb_into`]).
    pub fn set_keep_rgb(&mut self, keep: bool) {
        self.keep_rgb = keep;
    }

    /// The analysis of the last processed frame (what [`Tracker::process`] returned), to use
    /// beside [`Tracker::last_rgb`].
    pub fn last_analysis(&self) -> &FrameAnalysis {
        &self.analysis
    }

    /// Forgets the tracked face (e.g. when the camera restarts).
    pub fn reset(&mut self) {
        self.tracked = None;
        self.previous = None;
        self.frames_since_detection = 0;
    }

    /// Empties the per-call buffers (faces found so far, ROIs, the last analysis), keeping
    /// their allocations.
    fn clear_call_state(&mut self) {
        self.rois.clear();
        for (_, _, landmarks, _) in self.faces.drain(..) {
            self.spare_landmarks.push(landmarks.into_vec());
        }
        for f in self.analysis.faces.drain(..) {
            self.spare_landmarks.push(f.landmarks.into_vec());
        }
        self.analysis.hints = HintSet::EMPTY;
        self.analysis.notes.clear();
        self.analysis.faces_detected = 0;
        self.analysis.detector_ran = false;
    }

    /// Analyses a still image: the detector runs, every face up to `max_faces` gets landmarks
    /// and quality, and no tracking state is used or kept.
    pub fn analyze_still(&mut self, frame: &Frame<'_>) -> Result<&FrameAnalysis> {
        self.reset();
        let result = self.run(frame, false);
        self.reset();
        result.map(|()| &self.analysis)
    }

    /// Processes the next frame of a stream in tracking mode: the ROI comes from the previous
    /// landmarks while FaceMesh's presence stays high; the detector runs when the track is
    /// lost (and every `recount_faces_every` frames to count faces).
    ///
    /// Timestamps should increase. A repeated timestamp (or none: 0 on every frame) skips
    /// stability on that frame; one going backwards restarts the track. Both are reported in
    /// [`FrameAnalysis::notes`], and neither fails the frame.
    pub fn process(&mut self, frame: &Frame<'_>) -> Result<&FrameAnalysis> {
        if let Err(e) = self.run(frame, true) {
            // Do not carry a track across a failed frame (every binding gets this here).
            self.reset();
            return Err(e);
        }
        Ok(&self.analysis)
    }

    fn run(&mut self, frame: &Frame<'_>, tracking: bool) -> Result<()> {
        let t0 = Instant::now();
        // Per-call state starts empty: a call that failed half-way (e.g. FaceMesh erroring on
        // the second face) must not leave faces or ROIs for the next call to report.
        self.clear_call_state();
        if let (true, Some(_)) = (tracking, &self.previous) {
            let (now, ts) = (frame.timestamp_ns(), self.previous_ts);
            if now < ts {
                // A clock going backwards breaks stability and timing: start over.
                log::warn!(
                    "frame timestamp went backwards ({now} < {ts} ns); restarting the track"
                );
                self.reset();
                self.analysis.notes.push(FrameNote::ClockWentBackwards);
            } else if now == ts {
                log::debug!("frame timestamp {now} ns repeats the previous one; stability skipped");
                self.analysis.notes.push(FrameNote::RepeatedTimestamp);
            }
        }
        // The models and the quality gate read the buffer in place; the whole upright image
        // is made only for a caller who asked for it.
        if self.keep_rgb {
            frame.to_rgb_into(&mut self.rgb)?;
        }
        (self.analysis.width, self.analysis.height) = frame.upright_size();
        self.analysis.timestamp_ns = frame.timestamp_ns();
        self.analysis.timings = StageTimings {
            convert: ms_since(t0),
            ..StageTimings::default()
        };
        self.scratch.model_ms = 0.0;

        let config = &self.engine.config;
        let recount = tracking
            && self.tracked.is_some()
            && config.recount_faces_every > 0
            && self.frames_since_detection + 1 >= config.recount_faces_every;
        self.rois.clear();
        if tracking && !recount {
            if let Some(prev) = &self.tracked {
                self.rois.push((None, mesh::roi_from_landmarks(prev)?));
            }
        }
        let detector_ran = self.rois.is_empty();
        if detector_ran {
            self.analysis.timings.detect = detect(&self.engine, &mut self.scratch, frame)?;
            self.analysis.faces_detected = self.scratch.detections.len();
            if recount {
                // Counting faces only: keep following the tracked face rather than jumping to
                // the detector's best one.
                if let Some(prev) = &self.tracked {
                    self.rois.push((None, mesh::roi_from_landmarks(prev)?));
                }
            } else {
                let keep = if tracking { 1 } else { config.max_faces };
                for d in self.scratch.detections.iter().take(keep) {
                    self.rois.push((Some(*d), mesh::roi_from_detection(d)?));
                }
            }
        }
        self.analysis.detector_ran = detector_ran;
        self.frames_since_detection = if detector_ran {
            0
        } else {
            self.frames_since_detection + 1
        };

        self.mesh_rois(frame)?;
        // A tracked face that vanished: look again with the detector on this same frame.
        if tracking && !detector_ran && self.faces.is_empty() {
            self.tracked = None;
            self.analysis.timings.detect += detect(&self.engine, &mut self.scratch, frame)?;
            self.analysis.detector_ran = true;
            self.frames_since_detection = 0;
            self.analysis.faces_detected = self.scratch.detections.len();
            if let Some(d) = self.scratch.detections.first().copied() {
                self.rois.clear();
                self.rois.push((Some(d), mesh::roi_from_detection(&d)?));
                self.mesh_rois(frame)?;
            }
        }
        self.finish(frame, tracking, t0)
    }

    /// FaceMesh on every ROI of `self.rois` into `self.faces` (faces below the presence
    /// threshold are dropped).
    fn mesh_rois(&mut self, frame: &Frame<'_>) -> Result<()> {
        let tm = Instant::now();
        let refines = self.engine.config.detector.refines_roi();
        for (det, roi) in self.rois.iter() {
            let buf = self.spare_landmarks.pop().unwrap_or_default();
            let mut roi = *roi;
            let (engine, scratch) = (&self.engine, &mut self.scratch);
            let (mut landmarks, mut presence) = run_mesh(engine, scratch, frame, &roi, buf)?;
            // Only a ROI placed from a detector box that FaceMesh was not tuned for.
            if refines && det.is_some() && presence > engine.config.min_presence {
                roi = mesh::roi_from_landmarks(&landmarks)?;
                (landmarks, presence) =
                    run_mesh(engine, scratch, frame, &roi, landmarks.into_vec())?;
            }
            // Strictly above, as MediaPipe's ThresholdingCalculator.
            if presence <= self.engine.config.min_presence {
                self.spare_landmarks.push(landmarks.into_vec());
                continue;
            }
            let detection = det.unwrap_or_else(|| detection_from_landmarks(&landmarks, presence));
            self.faces.push((detection, roi, landmarks, presence));
        }
        self.analysis.timings.mesh += ms_since(tm);
        Ok(())
    }

    fn finish(&mut self, frame: &Frame<'_>, tracking: bool, t0: Instant) -> Result<()> {
        let tq = Instant::now();
        let (w, h) = (self.analysis.width, self.analysis.height);
        // Luma where the gate reads it: each face's landmark box (its crop is resampled from
        // there), or the central half of the frame when there is no face.
        let region = if self.faces.is_empty() {
            Region {
                x0: w / 4,
                y0: h / 4,
                x1: w - w / 4,
                y1: h - h / 4,
            }
        } else {
            self.faces
                .iter()
                .fold(Region::default(), |r, (d, _, lm, _)| {
                    let b = Rect::bounding(lm.iter().map(|p| p.xy())).unwrap_or(d.bbox);
                    r.union(&Region::covering(
                        b.x_min, b.y_min, b.x_max, b.y_max, 2, w, h,
                    ))
                })
        };
        frame.luma_region_into(&mut self.luma, region);
        if !self.analysis.detector_ran {
            // Tracking carried the face: the count is what the last detection saw, at least 1.
            self.analysis.faces_detected = self.analysis.faces_detected.max(self.faces.len());
        }
        let num_faces = self.analysis.faces_detected.max(self.faces.len());
        // Seconds since the previous frame; `None` (stability skipped) when no time passed.
        let now = self.analysis.timestamp_ns;
        let dt_s = match &self.previous {
            Some(_) if now > self.previous_ts => Some((now - self.previous_ts) as f32 * 1e-9),
            _ => None,
        };
        let luma = quality::LumaView::new(w, h, &self.luma.data, w as usize)?;
        if self.faces.is_empty() {
            let report = quality::assess_no_face_in(&self.engine.config.quality, &luma);
            self.analysis.hints.extend(report.hints.iter());
        }
        for (i, (detection, roi, landmarks, presence)) in self.faces.drain(..).enumerate() {
            let previous = match (&self.previous, dt_s) {
                (Some(p), Some(_)) if i == 0 && tracking => Some(p),
                _ => None,
            };
            let input = quality::QualityInput {
                luma,
                // The landmarks' extent, not the detector's box: the same measure in still and
                // tracking mode, and precise on small faces where BlazeFace's box is loose.
                face_box: Rect::bounding(landmarks.iter().map(|p| p.xy()))
                    .unwrap_or(detection.bbox),
                landmarks: &landmarks,
                presence,
                previous,
                dt_s: dt_s.unwrap_or(0.0),
                num_faces,
            };
            let report = quality::assess(
                &self.engine.config.quality,
                &input,
                &mut self.quality_scratch,
            )?;
            self.analysis.hints.extend(report.hints.iter());
            self.analysis.faces.push(FaceAnalysis {
                detection,
                roi,
                landmarks,
                presence,
                quality: report,
            });
        }
        // Tracking state for the next frame.
        match self.analysis.faces.first() {
            Some(f) if tracking => {
                // Copied into the buffers of the last frame (no allocation per frame).
                match &mut self.tracked {
                    Some(t) => t.clone_from(&f.landmarks),
                    None => self.tracked = Some(f.landmarks.clone()),
                }
                match &mut self.previous {
                    Some(p) => p.clone_from(&f.landmarks),
                    None => self.previous = Some(f.landmarks.clone()),
                }
                self.previous_ts = self.analysis.timestamp_ns;
            }
            _ => {
                self.tracked = None;
                self.previous = None;
            }
        }
        self.analysis.timings.quality = ms_since(tq);
        self.analysis.timings.model = self.scratch.model_ms;
        self.analysis.timings.total = ms_since(t0);
        Ok(())
    }

    /// Runs only the face detector on an upright RGB image; detections best first, in image
    /// pixels. For callers that schedule stages themselves (and for the benchmarks).
    pub fn detect_rgb(&mut self, img: &RgbImage) -> Result<&[Detection]> {
        detect(&self.engine, &mut self.scratch, &rgb_frame(img)?)?;
        Ok(&self.scratch.detections)
    }

    /// Runs only FaceMesh on `roi` of an upright RGB image: 468 landmarks in image pixels and
    /// the face-presence probability.
    pub fn mesh_rgb(&mut self, img: &RgbImage, roi: &RotatedRect) -> Result<(&Landmarks, f32)> {
        let buf = self.scratch.mesh_landmarks.take().map(Landmarks::into_vec);
        let (lm, presence) = run_mesh(
            &self.engine,
            &mut self.scratch,
            &rgb_frame(img)?,
            roi,
            buf.unwrap_or_default(),
        )?;
        Ok((self.scratch.mesh_landmarks.insert(lm), presence))
    }
}

/// An upright RGB image as a frame.
fn rgb_frame(img: &RgbImage) -> Result<Frame<'_>> {
    Ok(Frame::contiguous(
        img.width,
        img.height,
        PixelFormat::Rgb888,
        &img.data,
    )?)
}

/// Buffers the model stages reuse from frame to frame.
struct Scratch {
    decoder: DetectorDecoder,
    det_input: Vec<f32>,
    mesh_input: Vec<f32>,
    /// The detector's and FaceMesh's outputs, apart: sharing one list made each model resize
    /// the other's buffers on the frames where both run.
    det_outputs: Vec<TensorOut>,
    mesh_outputs: Vec<TensorOut>,
    detections: Vec<Detection>,
    mesh_landmarks: Option<Landmarks>,
    /// Wall time inside model inference this frame, ms (every model call adds to it).
    model_ms: f64,
}

/// Up to three output tensors, by index (no allocation per frame).
fn pick<'a>(outputs: &'a [TensorOut], idx: &[usize]) -> Result<[&'a [f32]; 3]> {
    let mut out: [&[f32]; 3] = [&[]; 3];
    if idx.len() > 3 {
        return Err(Error::Internal(format!(
            "{} output groups; at most 3 are supported",
            idx.len()
        )));
    }
    for (o, &i) in out.iter_mut().zip(idx) {
        *o = outputs.get(i).map(|t| t.data.as_slice()).unwrap_or(&[]);
    }
    Ok(out)
}

/// Warps the upright `frame` through `src_from_dst` into the model's `w`×`h` input tensor
/// (laid out and normalised as its manifest says, read from the buffer in place) and runs it;
/// outputs land in `outputs`. Returns the wall time of the model call alone, ms.
#[allow(clippy::too_many_arguments)]
fn warp_and_run(
    runner: &dyn ModelRunner,
    (layout, norm): (TensorLayout, Normalize),
    frame: &Frame<'_>,
    src_from_dst: &Affine2,
    (w, h): (u32, u32),
    border: frame::Border,
    input: &mut Vec<f32>,
    outputs: &mut Vec<TensorOut>,
) -> Result<f64> {
    input.resize((3 * w * h) as usize, 0.0);
    frame::warp_frame_to_tensor(frame, src_from_dst, w, h, border, layout, &norm, input)?;
    let (w, h) = (w as usize, h as usize);
    let shape = match layout {
        TensorLayout::Nhwc => [1, h, w, 3],
        TensorLayout::Nchw => [1, 3, h, w],
    };
    let t = Instant::now();
    runner.run_prechecked(
        &[TensorIn {
            data: input,
            shape: &shape,
        }],
        outputs,
    )?;
    Ok(ms_since(t))
}

/// Runs the detector on the upright `frame` into `s.detections` (best first); returns the wall
/// time in ms.
fn detect(engine: &Engine, s: &mut Scratch, frame: &Frame<'_>) -> Result<f64> {
    let t = Instant::now();
    let (w, h) = frame.upright_size();
    let min_score = engine.config.min_detection_score;
    let runner = engine.detector.as_ref();
    match &mut s.decoder {
        DetectorDecoder::BlazeFace {
            decoder,
            size,
            scores,
            regressors,
        } => {
            let tf = detect::blazeface_input_transform(w, h, *size)?;
            let border = detect::BLAZEFACE_BORDER;
            s.model_ms += warp_and_run(
                runner,
                engine.detector_input,
                frame,
                &tf,
                (*size, *size),
                border,
                &mut s.det_input,
                &mut s.det_outputs,
            )?;
            let n = scores.len();
            let (sc, rg) = (
                pick(&s.det_outputs, scores)?,
                pick(&s.det_outputs, regressors)?,
            );
            decoder.decode(&sc[..n], &rg[..n], &tf, min_score, &mut s.detections)?;
        }
        DetectorDecoder::Scrfd {
            decoder,
            scores,
            bboxes,
            kps,
        } => {
            let size = (decoder.config().input_width, decoder.config().input_height);
            let tf = detect::scrfd_input_transform(w, h, size.0, size.1)?;
            s.model_ms += warp_and_run(
                runner,
                engine.detector_input,
                frame,
                &tf,
                size,
                detect::SCRFD_BORDER,
                &mut s.det_input,
                &mut s.det_outputs,
            )?;
            let n = scores.len();
            let (sc, bb, kp) = (
                pick(&s.det_outputs, scores)?,
                pick(&s.det_outputs, bboxes)?,
                pick(&s.det_outputs, kps)?,
            );
            decoder.decode(
                &sc[..n],
                &bb[..n],
                Some(&kp[..n]),
                &tf,
                min_score,
                &mut s.detections,
            )?;
        }
    }
    Ok(ms_since(t))
}

/// Runs FaceMesh on `roi` of the upright `frame`: the landmarks (image pixels, decoded into
/// `buf`'s allocation) and the presence.
fn run_mesh(
    engine: &Engine,
    s: &mut Scratch,
    frame: &Frame<'_>,
    roi: &RotatedRect,
    buf: Vec<Point3>,
) -> Result<(Landmarks, f32)> {
    let tf: Affine2 = mesh::roi_to_input_transform(roi, MESH_INPUT)?;
    let size = (MESH_INPUT, MESH_INPUT);
    s.model_ms += warp_and_run(
        engine.mesh.as_ref(),
        engine.mesh_input,
        frame,
        &tf,
        size,
        mesh::INPUT_BORDER,
        &mut s.mesh_input,
        &mut s.mesh_outputs,
    )?;
    let landmarks = mesh::decode_landmarks(&s.mesh_outputs[0].data, &tf, buf)?;
    let logit = s.mesh_outputs[1]
        .data
        .first()
        .copied()
        .unwrap_or(f32::NEG_INFINITY);
    Ok((landmarks, mesh::presence_score(logit)))
}

/// A detection-shaped summary of tracked landmarks: their bounding box and the eyes, nose and
/// mouth centre as keypoints, in BlazeFace's keypoint order.
fn detection_from_landmarks(landmarks: &Landmarks, score: f32) -> Detection {
    use crate::geometry::Point2;
    let bbox = Rect::bounding(landmarks.iter().map(|p| p.xy())).unwrap_or_default();
    let at = |i: usize| landmarks[i].xy();
    let mid = |a: Point2, b: Point2| Point2::new(0.5 * (a.x + b.x), 0.5 * (a.y + b.y));
    let mut keypoints = [Point2::default(); detect::MAX_KEYPOINTS];
    keypoints[0] = mid(
        at(mesh::idx::RIGHT_EYE_OUTER),
        at(mesh::idx::RIGHT_EYE_INNER),
    );
    keypoints[1] = mid(at(mesh::idx::LEFT_EYE_INNER), at(mesh::idx::LEFT_EYE_OUTER));
    keypoints[2] = at(mesh::idx::NOSE_TIP);
    keypoints[3] = mid(
        at(mesh::idx::UPPER_LIP_INNER),
        at(mesh::idx::LOWER_LIP_INNER),
    );
    keypoints[4] = at(mesh::idx::FACE_EDGE_RIGHT);
    keypoints[5] = at(mesh::idx::FACE_EDGE_LEFT);
    Detection {
        bbox,
        score,
        keypoints,
        num_keypoints: 6,
    }
}
