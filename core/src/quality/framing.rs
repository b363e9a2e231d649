//! Framing measures (face size, centring, box and landmarks outside the frame), pure
//! functions of the face box and landmarks.

use crate::geometry::{Point3, Rect};

/// Face box width over the frame's short side.
pub fn face_ratio(face_box: &Rect, frame_w: u32, frame_h: u32) -> f32 {
    face_box.width() / (frame_w.min(frame_h).max(1) as f32)
}

/// Offset of the face-box centre from the frame centre, per axis, as a fraction of the half
/// frame size: `(0, 0)` centred, `±1` on the border. Returns `(dx, dy)`, image axes.
pub fn center_offset(face_box: &Rect, frame_w: u32, frame_h: u32) -> (f32, f32) {
    let (hw, hh) = (0.5 * frame_w.max(1) as f32, 0.5 * frame_h.max(1) as f32);
    let c = face_box.center();
    ((c.x - hw) / hw, (c.y - hh) / hh)
}

/// Fraction of the face box area outside the frame `[0, w] × [0, h]`; 1 for an empty box.
pub fn box_outside_fraction(face_box: &Rect, frame_w: u32, frame_h: u32) -> f32 {
    let area = face_box.area();
    if area <= 0.0 {
        return 1.0;
    }
    let ix = (face_box.x_max.min(frame_w as f32) - face_box.x_min.max(0.0)).max(0.0);
    let iy = (face_box.y_max.min(frame_h as f32) - face_box.y_min.max(0.0)).max(0.0);
    (1.0 - ix * iy / area).clamp(0.0, 1.0)
}

/// Fraction of landmarks whose (x, y) lies outside the frame `[0, w) × [0, h)`.
pub fn landmarks_outside_fraction(lm: &[Point3], frame_w: u32, frame_h: u32) -> f32 {
    if lm.is_empty() {
        return 0.0;
    }
    let (w, h) = (frame_w as f32, frame_h as f32);
    let out = lm
        .iter()
        .filter(|p| !(p.x >= 0.0 && p.x < w && p.y >= 0.0 && p.y < h))
        .count();
    out as f32 / lm.len() as f32
}
