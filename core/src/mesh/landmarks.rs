//! [`Landmarks`]: the 468 FaceMesh points, checked once (count and finiteness) where they are
//! made, so that every stage after it indexes them by the [`super::idx`] constants without a
//! check of its own and without a panic.

use alloc::vec::Vec;
use core::ops::Deref;

use serde::{Deserialize, Serialize};

use super::NUM_LANDMARKS;
use crate::geometry::Point3;

/// What is wrong with a landmark set given to [`Landmarks::new`].
#[derive(Clone, Copy, Debug, PartialEq, thiserror::Error)]
pub enum LandmarkError {
    /// Not the 468 FaceMesh points.
    #[error("{got} landmarks, expected {expected} (FaceMesh)", expected = NUM_LANDMARKS)]
    Count { got: usize },
    /// The first point with a NaN or infinite coordinate.
    #[error(
        "landmark {index} is not finite: ({}, {}, {}); expected finite pixel coordinates",
        point.x, point.y, point.z
    )]
    NonFinite { index: usize, point: Point3 },
}

/// Exactly [`NUM_LANDMARKS`] FaceMesh points with finite x, y, z (image pixels, z in the same
/// scale, negative = towards the camera), in MediaPipe's order. Made only through the checked
/// [`Landmarks::new`] (or `TryFrom`); serialises as the plain list of points.
#[derive(Debug, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Landmarks(#[serde(deserialize_with = "deserialize_checked")] Vec<Point3>);

fn deserialize_checked<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<Point3>, D::Error> {
    let points = Vec::<Point3>::deserialize(d)?;
    check(&points).map_err(serde::de::Error::custom)?;
    Ok(points)
}

/// Checks that `points` holds 468 points with finite x, y and z.
fn check(points: &[Point3]) -> Result<(), LandmarkError> {
    if points.len() != NUM_LANDMARKS {
        return Err(LandmarkError::Count { got: points.len() });
    }
    match points
        .iter()
        .position(|p| !(p.x.is_finite() && p.y.is_finite() && p.z.is_finite()))
    {
        Some(index) => Err(LandmarkError::NonFinite {
            index,
            point: points[index],
        }),
        None => Ok(()),
    }
}

impl Landmarks {
    /// Takes `points` if they are the 468 FaceMesh points, all finite; otherwise says which
    /// check failed (the count, or the first non-finite point).
    pub fn new(points: Vec<Point3>) -> Result<Landmarks, LandmarkError> {
        check(&points)?;
        Ok(Landmarks(points))
    }

    /// [`Landmarks::new`] on a copy of `points`.
    pub fn from_slice(points: &[Point3]) -> Result<Landmarks, LandmarkError> {
        check(points)?;
        Ok(Landmarks(points.to_vec()))
    }

    /// The points, MediaPipe's order.
    pub fn as_slice(&self) -> &[Point3] {
        &self.0
    }

    /// The points as a plain vector (e.g. to reuse its allocation for the next frame).
    pub fn into_vec(self) -> Vec<Point3> {
        self.0
    }
}

impl Clone for Landmarks {
    fn clone(&self) -> Self {
        Landmarks(self.0.clone())
    }

    /// Copies into `self`'s allocation (the tracker keeps one per stream).
    fn clone_from(&mut self, source: &Self) {
        self.0.clone_from(&source.0);
    }
}

impl TryFrom<Vec<Point3>> for Landmarks {
    type Error = LandmarkError;
    fn try_from(points: Vec<Point3>) -> Result<Self, LandmarkError> {
        Landmarks::new(points)
    }
}

impl TryFrom<&[Point3]> for Landmarks {
    type Error = LandmarkError;
    fn try_from(points: &[Point3]) -> Result<Self, LandmarkError> {
        Landmarks::from_slice(points)
    }
}

impl From<Landmarks> for Vec<Point3> {
    fn from(lm: Landmarks) -> Vec<Point3> {
        lm.0
    }
}

/// Read access as a slice; indexing by the [`super::idx`] constants never panics (every
/// constant is below [`NUM_LANDMARKS`]).
impl Deref for Landmarks {
    type Target = [Point3];
    fn deref(&self) -> &[Point3] {
        &self.0
    }
}

impl AsRef<[Point3]> for Landmarks {
    fn as_ref(&self) -> &[Point3] {
        &self.0
    }
}

impl<'a> IntoIterator for &'a Landmarks {
    type Item = &'a Point3;
    type IntoIter = core::slice::Iter<'a, Point3>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn points(n: usize) -> Vec<Point3> {
        (0..n)
            .map(|i| Point3::new(i as f32, 2.0 * i as f32, -0.5))
            .collect()
    }

    #[test]
    fn short_and_long_sets_are_a_count_error_naming_the_count() {
        for n in [0usize, 3, 467, 469, 936] {
            let e = Landmarks::new(points(n)).unwrap_err();
            assert_eq!(e, LandmarkError::Count { got: n });
            assert_eq!(
                e.to_string(),
                alloc::format!("{n} landmarks, expected 468 (FaceMesh)")
            );
            assert_eq!(Landmarks::from_slice(&points(n)).unwrap_err(), e);
            assert_eq!(Landmarks::try_from(points(n)).unwrap_err(), e);
        }
    }

    #[test]
    fn nan_and_infinite_coordinates_name_the_first_bad_point() {
        for (index, point) in [
            (0usize, Point3::new(f32::NAN, 1.0, 0.0)),
            (33, Point3::new(1.0, f32::INFINITY, 0.0)),
            (467, Point3::new(1.0, 2.0, f32::NEG_INFINITY)),
        ] {
            let mut p = points(NUM_LANDMARKS);
            p[index] = point;
            // A later bad point is not the one reported.
            if index < 467 {
                p[467].x = f32::NAN;
            }
            let e = Landmarks::new(p).unwrap_err();
            assert!(
                matches!(e, LandmarkError::NonFinite { index: i, .. } if i == index),
                "{e}"
            );
            assert!(
                e.to_string()
                    .starts_with(&alloc::format!("landmark {index} is not finite")),
                "{e}"
            );
        }
    }

    #[cfg(feature = "std")]
    #[test]
    fn valid_set_reads_back_and_serialises_as_the_plain_list() {
        let p = points(NUM_LANDMARKS);
        let lm = Landmarks::new(p.clone()).unwrap();
        assert_eq!(lm.len(), NUM_LANDMARKS);
        assert_eq!(lm[super::super::idx::NOSE_TIP], p[1]);
        assert_eq!(lm.iter().count(), NUM_LANDMARKS);
        assert_eq!(lm.as_slice(), &p[..]);
        assert_eq!(
            serde_json::to_string(&lm).unwrap(),
            serde_json::to_string(&p).unwrap()
        );
        let back: Landmarks = serde_json::from_str(&serde_json::to_string(&p).unwrap()).unwrap();
        assert_eq!(back, lm);
        let short = serde_json::to_string(&points(5)).unwrap();
        let e = serde_json::from_str::<Landmarks>(&short).unwrap_err();
        assert!(e.to_string().contains("5 landmarks, expected 468"), "{e}");
        let mut other = Landmarks::new(points(NUM_LANDMARKS)).unwrap();
        other.clone_from(&lm);
        assert_eq!(other, lm);
        assert_eq!(lm.into_vec(), p);
    }

    #[test]
    fn is_plain_data() {
        fn send_sync<T: Send + Sync + 'static>() {}
        send_sync::<Landmarks>();
    }
}
