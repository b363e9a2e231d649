//! Small `f64` geometry: 3-vectors, 3×3 matrices (rotations and homographies), a pinhole
//! camera, and a least-squares homography fit (used by the tests to tell a rigid plane from a
//! 3D head).

use liveproof_core::quality::rotation_from_angles;

/// A 3-vector (x right, y down, z away from the camera: the camera frame of
/// `liveproof_core::quality`).
pub type Vec3 = [f64; 3];

/// Row-major 3×3 matrix.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Mat3(pub [[f64; 3]; 3]);

impl Mat3 {
    pub const IDENTITY: Mat3 = Mat3([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]);

    /// Head (or plane) rotation in the camera frame for angles in degrees, in LiveProof's head
    /// pose convention (`liveproof_core::quality::HeadPose`): yaw + = turn to the subject's
    /// left, pitch + = chin up, roll + = towards the subject's left shoulder.
    pub fn rotation(yaw_deg: f64, pitch_deg: f64, roll_deg: f64) -> Mat3 {
        let r = rotation_from_angles(yaw_deg as f32, pitch_deg as f32, roll_deg as f32);
        let mut m = [[0.0; 3]; 3];
        for (i, row) in r.iter().enumerate() {
            for (j, v) in row.iter().enumerate() {
                m[i][j] = *v as f64;
            }
        }
        Mat3(m)
    }

    pub fn mul(&self, o: &Mat3) -> Mat3 {
        let mut m = [[0.0; 3]; 3];
        for (i, row) in m.iter_mut().enumerate() {
            for (j, v) in row.iter_mut().enumerate() {
                *v = (0..3).map(|k| self.0[i][k] * o.0[k][j]).sum();
            }
        }
        Mat3(m)
    }

    pub fn apply(&self, v: Vec3) -> Vec3 {
        let m = &self.0;
        [
            m[0][0] * v[0] + m[0][1] * v[1] + m[0][2] * v[2],
            m[1][0] * v[0] + m[1][1] * v[1] + m[1][2] * v[2],
            m[2][0] * v[0] + m[2][1] * v[1] + m[2][2] * v[2],
        ]
    }

    /// Applies the matrix as a homography to the point `(x, y, 1)`; `None` at infinity.
    pub fn project(&self, x: f64, y: f64) -> Option<(f64, f64)> {
        let [u, v, w] = self.apply([x, y, 1.0]);
        if w.abs() < 1e-12 {
            None
        } else {
            Some((u / w, v / w))
        }
    }

    pub fn determinant(&self) -> f64 {
        let m = &self.0;
        m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1])
            - m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0])
            + m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0])
    }

    /// The inverse; `None` when (nearly) singular.
    pub fn inverse(&self) -> Option<Mat3> {
        let d = self.determinant();
        if !d.is_finite() || d.abs() < 1e-300 {
            return None;
        }
        let m = &self.0;
        let c = |r0: usize, c0: usize, r1: usize, c1: usize| {
            m[r0][c0] * m[r1][c1] - m[r0][c1] * m[r1][c0]
        };
        let inv = [
            [c(1, 1, 2, 2) / d, -c(0, 1, 2, 2) / d, c(0, 1, 1, 2) / d],
            [-c(1, 0, 2, 2) / d, c(0, 0, 2, 2) / d, -c(0, 0, 1, 2) / d],
            [c(1, 0, 2, 1) / d, -c(0, 0, 2, 1) / d, c(0, 0, 1, 1) / d],
        ];
        Some(Mat3(inv))
    }

    pub fn transpose(&self) -> Mat3 {
        let m = &self.0;
        Mat3([
            [m[0][0], m[1][0], m[2][0]],
            [m[0][1], m[1][1], m[2][1]],
            [m[0][2], m[1][2], m[2][2]],
        ])
    }
}

/// A pinhole camera: focal length and principal point, pixels.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Pinhole {
    pub f: f64,
    pub cx: f64,
    pub cy: f64,
}

impl Pinhole {
    /// The camera of a `width × height` frame with horizontal field of view `hfov_deg`,
    /// principal point at the image centre (pixel centres at integer coordinates).
    pub fn new(width: u32, height: u32, hfov_deg: f64) -> Pinhole {
        let f = 0.5 * width as f64 / (0.5 * hfov_deg.to_radians()).tan();
        Pinhole::with_focal(width, height, f)
    }

    /// The camera of a `width × height` frame with diagonal field of view `dfov_deg` (how
    /// phone cameras are specified; it holds for portrait and landscape frames alike).
    pub fn with_diagonal_fov(width: u32, height: u32, dfov_deg: f64) -> Pinhole {
        let diag = ((width as f64).powi(2) + (height as f64).powi(2)).sqrt();
        Pinhole::with_focal(
            width,
            height,
            0.5 * diag / (0.5 * dfov_deg.to_radians()).tan(),
        )
    }

    fn with_focal(width: u32, height: u32, f: f64) -> Pinhole {
        Pinhole {
            f,
            cx: 0.5 * (width as f64 - 1.0),
            cy: 0.5 * (height as f64 - 1.0),
        }
    }

    /// Image point of a camera-frame point (z > 0).
    pub fn project(&self, p: Vec3) -> (f64, f64) {
        let z = p[2].max(1e-6);
        (self.cx + self.f * p[0] / z, self.cy + self.f * p[1] / z)
    }

    /// The camera-frame point at depth `z` seen at image point `(x, y)`.
    pub fn unproject(&self, x: f64, y: f64, z: f64) -> Vec3 {
        [(x - self.cx) * z / self.f, (y - self.cy) * z / self.f, z]
    }

    /// Homography from plane coordinates `(X, Y)` (plane `Z = 0` of a frame rotated by `r` and
    /// placed at `t` in the camera frame) to image pixels: `K [r1 r2 t]`.
    pub fn plane_homography(&self, r: &Mat3, t: Vec3) -> Mat3 {
        let k = Mat3([
            [self.f, 0.0, self.cx],
            [0.0, self.f, self.cy],
            [0.0, 0.0, 1.0],
        ]);
        let m = &r.0;
        let rt = Mat3([
            [m[0][0], m[0][1], t[0]],
            [m[1][0], m[1][1], t[1]],
            [m[2][0], m[2][1], t[2]],
        ]);
        k.mul(&rt)
    }
}

/// Least-squares homography `dst ≈ H(src)` (DLT with `h33 = 1` after Hartley normalisation of
/// both point sets). `None` with fewer than 4 pairs or a degenerate configuration.
pub fn fit_homography(src: &[(f64, f64)], dst: &[(f64, f64)]) -> Option<Mat3> {
    if src.len() != dst.len() || src.len() < 4 {
        return None;
    }
    let (ts, ns) = normaliser(src)?;
    let (td, nd) = normaliser(dst)?;
    // Normal equations of the 2n × 8 system.
    let mut ata = [[0.0f64; 8]; 8];
    let mut atb = [0.0f64; 8];
    for (s, d) in ns.iter().zip(nd.iter()) {
        let (x, y) = *s;
        let (u, v) = *d;
        let rows = [
            ([x, y, 1.0, 0.0, 0.0, 0.0, -u * x, -u * y], u),
            ([0.0, 0.0, 0.0, x, y, 1.0, -v * x, -v * y], v),
        ];
        for (a, b) in rows.iter() {
            for i in 0..8 {
                atb[i] += a[i] * b;
                for j in 0..8 {
                    ata[i][j] += a[i] * a[j];
                }
            }
        }
    }
    let h = solve8(ata, atb)?;
    let hn = Mat3([[h[0], h[1], h[2]], [h[3], h[4], h[5]], [h[6], h[7], 1.0]]);
    // Undo the normalisations: H = Td⁻¹ · Hn · Ts.
    Some(td.inverse()?.mul(&hn).mul(&ts))
}

/// RMS distance (in `dst` units) between `H(src)` and `dst`.
pub fn homography_rms(h: &Mat3, src: &[(f64, f64)], dst: &[(f64, f64)]) -> f64 {
    let n = src.len().max(1) as f64;
    let sq: f64 = src
        .iter()
        .zip(dst)
        .map(|(s, d)| match h.project(s.0, s.1) {
            Some((x, y)) => (x - d.0).powi(2) + (y - d.1).powi(2),
            None => f64::INFINITY,
        })
        .sum();
    (sq / n).sqrt()
}

/// Hartley normalisation: centroid to the origin, mean distance √2.
fn normaliser(p: &[(f64, f64)]) -> Option<(Mat3, Vec<(f64, f64)>)> {
    let n = p.len() as f64;
    let (mx, my) = p
        .iter()
        .fold((0.0, 0.0), |a, q| (a.0 + q.0 / n, a.1 + q.1 / n));
    let md = p
        .iter()
        .map(|q| ((q.0 - mx).powi(2) + (q.1 - my).powi(2)).sqrt())
        .sum::<f64>()
        / n;
    if !(md.is_finite() && md > 1e-12) {
        return None;
    }
    let s = std::f64::consts::SQRT_2 / md;
    let t = Mat3([[s, 0.0, -s * mx], [0.0, s, -s * my], [0.0, 0.0, 1.0]]);
    let out = p.iter().map(|q| (s * (q.0 - mx), s * (q.1 - my))).collect();
    Some((t, out))
}

/// Gaussian elimination with partial pivoting.
fn solve8(mut a: [[f64; 8]; 8], mut b: [f64; 8]) -> Option<[f64; 8]> {
    for col in 0..8 {
        let piv = (col..8).max_by(|&i, &j| a[i][col].abs().total_cmp(&a[j][col].abs()))?;
        if a[piv][col].abs() < 1e-12 {
            return None;
        }
        a.swap(col, piv);
        b.swap(col, piv);
        for r in col + 1..8 {
            let f = a[r][col] / a[col][col];
            let pivot_row = a[col];
            for (x, p) in a[r].iter_mut().zip(pivot_row).skip(col) {
                *x -= f * p;
            }
            b[r] -= f * b[col];
        }
    }
    let mut x = [0.0; 8];
    for r in (0..8).rev() {
        let s: f64 = (r + 1..8).map(|c| a[r][c] * x[c]).sum();
        x[r] = (b[r] - s) / a[r][r];
    }
    x.iter().all(|v| v.is_finite()).then_some(x)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inverse_round_trip() {
        let m = Mat3([[2.0, 0.3, 5.0], [0.1, 1.5, -3.0], [0.001, 0.002, 1.0]]);
        let p = m.mul(&m.inverse().unwrap());
        for i in 0..3 {
            for j in 0..3 {
                let e = if i == j { 1.0 } else { 0.0 };
                assert!((p.0[i][j] - e).abs() < 1e-12);
            }
        }
    }

    #[test]
    fn homography_fit_recovers_a_plane() {
        let cam = Pinhole::new(480, 640, 65.0);
        let r = Mat3::rotation(8.0, -5.0, 3.0);
        let h = cam.plane_homography(&r, [10.0, -20.0, 400.0]);
        let src: Vec<(f64, f64)> = (0..30)
            .map(|i| ((i % 6) as f64 * 17.0 - 40.0, (i / 6) as f64 * 23.0 - 50.0))
            .collect();
        let dst: Vec<(f64, f64)> = src.iter().map(|p| h.project(p.0, p.1).unwrap()).collect();
        let fit = fit_homography(&src, &dst).unwrap();
        let rms = homography_rms(&fit, &src, &dst);
        assert!(rms < 1e-6, "rms {rms}");
    }

    #[test]
    fn rotation_matches_core_convention() {
        // Yaw + moves a point in front of the pivot (z < 0, towards the camera) to the image
        // right (x grows): the subject turns to their left, un-mirrored.
        let r = Mat3::rotation(10.0, 0.0, 0.0);
        let p = r.apply([0.0, 0.0, -1.0]);
        assert!(p[0] > 0.1, "{p:?}");
        // Pitch + (chin up) moves the nose up in the image (y decreases).
        let r = Mat3::rotation(0.0, 10.0, 0.0);
        assert!(r.apply([0.0, 0.0, -1.0])[1] < -0.1);
    }
}
