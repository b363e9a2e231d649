//! Shared 2D/3D geometry primitives (pixels, radians). no_std.

use crate::math;
use serde::{Deserialize, Serialize};

/// A point in image pixels (x right, y down).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Point2 {
    pub x: f32,
    pub y: f32,
}

impl Point2 {
    pub const fn new(x: f32, y: f32) -> Self {
        Self { x, y }
    }
    /// Euclidean distance in pixels.
    pub fn dist(self, o: Point2) -> f32 {
        math::sqrt((self.x - o.x) * (self.x - o.x) + (self.y - o.y) * (self.y - o.y))
    }
    pub fn is_finite(self) -> bool {
        self.x.is_finite() && self.y.is_finite()
    }
}

/// A 3D point: x, y in image pixels, z in the same pixel scale (FaceMesh convention,
/// negative = towards the camera).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Point3 {
    pub x: f32,
    pub y: f32,
    pub z: f32,
}

impl Point3 {
    pub const fn new(x: f32, y: f32, z: f32) -> Self {
        Self { x, y, z }
    }
    pub fn xy(self) -> Point2 {
        Point2::new(self.x, self.y)
    }
}

/// Axis-aligned box in pixels, `[x_min, y_min, x_max, y_max]`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Rect {
    pub x_min: f32,
    pub y_min: f32,
    pub x_max: f32,
    pub y_max: f32,
}

/// A face box that is not finite or has no area: the check every stage that reads a face
/// box makes ([`Rect::check_face_box`]), each wrapping it in its own error.
#[derive(Clone, Copy, Debug, PartialEq, thiserror::Error)]
#[error(
    "face box [{x_min}, {y_min}, {x_max}, {y_max}] is invalid: expected finite pixel \
     coordinates with x_max > x_min and y_max > y_min"
)]
pub struct InvalidFaceBox {
    pub x_min: f32,
    pub y_min: f32,
    pub x_max: f32,
    pub y_max: f32,
}

impl Rect {
    /// Checks that the box can be a face box: finite corners with x_max > x_min and
    /// y_max > y_min.
    pub fn check_face_box(&self) -> Result<(), InvalidFaceBox> {
        let b = self;
        if b.as_array().iter().all(|v| v.is_finite()) && b.x_max > b.x_min && b.y_max > b.y_min {
            Ok(())
        } else {
            Err(InvalidFaceBox {
                x_min: b.x_min,
                y_min: b.y_min,
                x_max: b.x_max,
                y_max: b.y_max,
            })
        }
    }
    pub const fn new(x_min: f32, y_min: f32, x_max: f32, y_max: f32) -> Self {
        Self {
            x_min,
            y_min,
            x_max,
            y_max,
        }
    }
    pub fn width(&self) -> f32 {
        (self.x_max - self.x_min).max(0.0)
    }
    pub fn height(&self) -> f32 {
        (self.y_max - self.y_min).max(0.0)
    }
    pub fn area(&self) -> f32 {
        self.width() * self.height()
    }
    pub fn center(&self) -> Point2 {
        Point2::new(
            0.5 * (self.x_min + self.x_max),
            0.5 * (self.y_min + self.y_max),
        )
    }
    /// Intersection over union; 0 when either box is empty.
    pub fn iou(&self, o: &Rect) -> f32 {
        let ix = (self.x_max.min(o.x_max) - self.x_min.max(o.x_min)).max(0.0);
        let iy = (self.y_max.min(o.y_max) - self.y_min.max(o.y_min)).max(0.0);
        let inter = ix * iy;
        let union = self.area() + o.area() - inter;
        if union <= 0.0 {
            0.0
        } else {
            inter / union
        }
    }
    /// Smallest box holding every point; `None` for no points.
    pub fn bounding(points: impl IntoIterator<Item = Point2>) -> Option<Rect> {
        let mut it = points.into_iter();
        let p = it.next()?;
        let mut r = Rect::new(p.x, p.y, p.x, p.y);
        for p in it {
            r.x_min = r.x_min.min(p.x);
            r.y_min = r.y_min.min(p.y);
            r.x_max = r.x_max.max(p.x);
            r.y_max = r.y_max.max(p.y);
        }
        Some(r)
    }
    pub fn as_array(&self) -> [f32; 4] {
        [self.x_min, self.y_min, self.x_max, self.y_max]
    }
}

/// A rotated rectangle (MediaPipe's `NormalizedRect` in pixels): centre, size, and rotation in
/// radians, positive = clockwise as displayed (image y points down), MediaPipe's `rect.proto`
/// convention.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RotatedRect {
    pub cx: f32,
    pub cy: f32,
    pub width: f32,
    pub height: f32,
    pub rotation: f32,
}

/// 2×3 affine map `p' = A p + t`, stored row-major `[a, b, tx, c, d, ty]`:
/// `x' = a x + b y + tx`, `y' = c x + d y + ty`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Affine2 {
    pub m: [f32; 6],
}

impl Default for Affine2 {
    fn default() -> Self {
        Self::IDENTITY
    }
}

impl Affine2 {
    pub const IDENTITY: Affine2 = Affine2 {
        m: [1.0, 0.0, 0.0, 0.0, 1.0, 0.0],
    };

    pub const fn new(m: [f32; 6]) -> Self {
        Self { m }
    }
    pub fn apply(&self, p: Point2) -> Point2 {
        let m = &self.m;
        Point2::new(
            m[0] * p.x + m[1] * p.y + m[2],
            m[3] * p.x + m[4] * p.y + m[5],
        )
    }
    /// `self ∘ other`: first `other`, then `self`.
    pub fn compose(&self, other: &Affine2) -> Affine2 {
        let a = &self.m;
        let b = &other.m;
        Affine2::new([
            a[0] * b[0] + a[1] * b[3],
            a[0] * b[1] + a[1] * b[4],
            a[0] * b[2] + a[1] * b[5] + a[2],
            a[3] * b[0] + a[4] * b[3],
            a[3] * b[1] + a[4] * b[4],
            a[3] * b[2] + a[4] * b[5] + a[5],
        ])
    }
    pub fn determinant(&self) -> f32 {
        self.m[0] * self.m[4] - self.m[1] * self.m[3]
    }
    /// Inverse map; `None` when singular (|det| < 1e-12) or non-finite.
    pub fn inverse(&self) -> Option<Affine2> {
        let det = self.determinant();
        if !det.is_finite() || math::abs(det) < 1e-12 {
            return None;
        }
        let m = &self.m;
        let (a, b, c, d) = (m[4] / det, -m[1] / det, -m[3] / det, m[0] / det);
        Some(Affine2::new([
            a,
            b,
            -(a * m[2] + b * m[5]),
            c,
            d,
            -(c * m[2] + d * m[5]),
        ]))
    }
    pub fn is_finite(&self) -> bool {
        self.m.iter().all(|v| v.is_finite())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn face_box_check_refuses_non_finite_and_empty_boxes_naming_the_box() {
        assert_eq!(Rect::new(1.0, 2.0, 3.0, 4.0).check_face_box(), Ok(()));
        for b in [
            Rect::new(10.0, 10.0, 5.0, 50.0),
            Rect::new(10.0, 10.0, 50.0, 10.0),
            Rect::new(10.0, f32::NAN, 50.0, 50.0),
            Rect::new(0.0, 0.0, f32::INFINITY, 1.0),
        ] {
            let e = b.check_face_box().unwrap_err();
            assert_eq!(e.x_min.to_bits(), b.x_min.to_bits(), "{e}");
            assert_eq!(e.y_min.to_bits(), b.y_min.to_bits(), "{e}");
            assert_eq!((e.x_max, e.y_max), (b.x_max, b.y_max), "{e}");
        }
        assert_eq!(
            Rect::new(10.0, 10.0, 5.0, 50.0)
                .check_face_box()
                .unwrap_err()
                .to_string(),
            "face box [10, 10, 5, 50] is invalid: expected finite pixel coordinates with \
             x_max > x_min and y_max > y_min"
        );
    }

    #[test]
    fn iou_of_half_overlap() {
        let a = Rect::new(0.0, 0.0, 2.0, 2.0);
        let b = Rect::new(1.0, 0.0, 3.0, 2.0);
        assert!((a.iou(&b) - 2.0 / 6.0).abs() < 1e-6);
        assert_eq!(a.iou(&Rect::new(5.0, 5.0, 6.0, 6.0)), 0.0);
    }

    #[test]
    fn affine_inverse_roundtrip() {
        let t = Affine2::new([0.8, -0.6, 10.0, 0.6, 0.8, -4.0]);
        let inv = t.inverse().unwrap();
        let p = Point2::new(3.0, 7.0);
        let q = inv.apply(t.apply(p));
        assert!((q.x - p.x).abs() < 1e-5 && (q.y - p.y).abs() < 1e-5);
        let id = inv.compose(&t);
        for (a, b) in id.m.iter().zip(Affine2::IDENTITY.m.iter()) {
            assert!((a - b).abs() < 1e-6);
        }
        assert!(Affine2::new([1.0, 2.0, 0.0, 2.0, 4.0, 0.0])
            .inverse()
            .is_none());
    }
}
