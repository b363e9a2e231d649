//! Piecewise-affine image warping over a triangulation, with a depth buffer.
//!
//! [`triangulate`] is a Bowyer–Watson Delaunay triangulation (our own, O(n²) for the ~560
//! points of a face rig: the landmarks plus anchors). [`render_mesh`] rasterises each
//! destination triangle (scanline spans over pixel centres), keeps the nearest surface per
//! pixel (a z-buffer, so the nose hides the far cheek when the head turns), and fills it with a
//! bilinear sample of the source image at the point the triangle's affine map gives.

use liveproof_core::frame::RgbImage;

use crate::imgops::sample_rgb;
use crate::rng::Rng;

/// Delaunay triangles (counter-clockwise in a y-down image, as index triples into `points`).
///
/// Points closer than 1e-3 to an earlier point are left out (they would make zero-area
/// triangles); every other point is a vertex. Each point is nudged by < 1e-6 (deterministic)
/// so that co-circular sets (a rectangle's corners) have one triangulation.
pub fn triangulate(points: &[(f64, f64)]) -> Vec<[u32; 3]> {
    let n = points.len();
    if n < 3 {
        return Vec::new();
    }
    let mut jitter = Rng::stream(0x5EED, "delaunay-nudge");
    let mut p: Vec<(f64, f64)> = points
        .iter()
        .map(|&(x, y)| {
            (
                x + 1e-6 * (jitter.uniform() - 0.5),
                y + 1e-6 * (jitter.uniform() - 0.5),
            )
        })
        .collect();
    let (mut x0, mut y0, mut x1, mut y1) = (f64::MAX, f64::MAX, f64::MIN, f64::MIN);
    for &(x, y) in &p {
        x0 = x0.min(x);
        y0 = y0.min(y);
        x1 = x1.max(x);
        y1 = y1.max(y);
    }
    let d = (x1 - x0).max(y1 - y0).max(1.0);
    let (mx, my) = (0.5 * (x0 + x1), 0.5 * (y0 + y1));
    // Super-triangle far outside every point.
    p.push((mx - 50.0 * d, my - 40.0 * d));
    p.push((mx + 50.0 * d, my - 40.0 * d));
    p.push((mx, my + 50.0 * d));

    struct Tri {
        v: [usize; 3],
        cx: f64,
        cy: f64,
        r2: f64,
    }
    let circum = |v: [usize; 3], p: &[(f64, f64)]| -> Tri {
        let (ax, ay) = p[v[0]];
        let (bx, by) = p[v[1]];
        let (cx, cy) = p[v[2]];
        let dd = 2.0 * (ax * (by - cy) + bx * (cy - ay) + cx * (ay - by));
        let (a2, b2, c2) = (ax * ax + ay * ay, bx * bx + by * by, cx * cx + cy * cy);
        let ux = (a2 * (by - cy) + b2 * (cy - ay) + c2 * (ay - by)) / dd;
        let uy = (a2 * (cx - bx) + b2 * (ax - cx) + c2 * (bx - ax)) / dd;
        Tri {
            v,
            cx: ux,
            cy: uy,
            r2: (ax - ux).powi(2) + (ay - uy).powi(2),
        }
    };
    // Orient every triangle the same way (positive cross product).
    let oriented = |v: [usize; 3], p: &[(f64, f64)]| -> [usize; 3] {
        let (a, b, c) = (p[v[0]], p[v[1]], p[v[2]]);
        let cross = (b.0 - a.0) * (c.1 - a.1) - (b.1 - a.1) * (c.0 - a.0);
        if cross < 0.0 {
            [v[0], v[2], v[1]]
        } else {
            v
        }
    };
    let mut tris = vec![circum(oriented([n, n + 1, n + 2], &p), &p)];
    let mut edges: Vec<(usize, usize)> = Vec::new();
    for i in 0..n {
        let (px, py) = p[i];
        // Skip near-duplicates of a point already inserted.
        if (0..i).any(|j| (p[j].0 - px).abs() < 1e-3 && (p[j].1 - py).abs() < 1e-3) {
            continue;
        }
        edges.clear();
        tris.retain(|t| {
            let inside = (px - t.cx).powi(2) + (py - t.cy).powi(2) < t.r2;
            if inside {
                edges.push((t.v[0], t.v[1]));
                edges.push((t.v[1], t.v[2]));
                edges.push((t.v[2], t.v[0]));
            }
            !inside
        });
        // The cavity's boundary: edges whose reverse is not in the set.
        for k in 0..edges.len() {
            let (a, b) = edges[k];
            if edges.iter().any(|&(c, d)| c == b && d == a) {
                continue;
            }
            let v = oriented([a, b, i], &p);
            tris.push(circum(v, &p));
        }
    }
    tris.into_iter()
        .filter(|t| t.v.iter().all(|&v| v < n))
        .map(|t| [t.v[0] as u32, t.v[1] as u32, t.v[2] as u32])
        .collect()
}

/// One vertex of a destination mesh: image position (pixels), depth (any unit, smaller =
/// nearer the camera), and the source-image position it shows.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct MeshVertex {
    pub x: f32,
    pub y: f32,
    pub z: f32,
    pub u: f32,
    pub v: f32,
}

/// Calls `f(x, y, λb, λc)` for every pixel centre inside the triangle `a, b, c` (image
/// pixels) within a `width × height` frame, with the barycentric weights of `b` and `c` (the
/// weight of `a` is `1 − λb − λc`). Pixels on an edge (to 1e-5) are included, so triangles
/// sharing an edge leave no cracks. Degenerate (collapsed) triangles visit nothing.
#[inline]
pub fn raster_triangle(
    a: (f32, f32),
    b: (f32, f32),
    c: (f32, f32),
    width: usize,
    height: usize,
    mut f: impl FnMut(usize, usize, f32, f32),
) {
    const EPS: f32 = 1e-5;
    let area = (b.0 - a.0) * (c.1 - a.1) - (b.1 - a.1) * (c.0 - a.0);
    if !area.is_finite() || area.abs() < 1e-6 {
        return;
    }
    // Barycentric weights of b and c as affine functions of the pixel: λ = g0 + gx x + gy y.
    let inv = 1.0 / area;
    let (bgx, bgy) = ((c.1 - a.1) * inv, -(c.0 - a.0) * inv);
    let (cgx, cgy) = (-(b.1 - a.1) * inv, (b.0 - a.0) * inv);
    let b0 = -(bgx * a.0 + bgy * a.1);
    let c0 = -(cgx * a.0 + cgy * a.1);
    let lam = [
        (1.0 - b0 - c0, -bgx - cgx, -bgy - cgy),
        (b0, bgx, bgy),
        (c0, cgx, cgy),
    ];
    let ymin = a.1.min(b.1).min(c.1).ceil().max(0.0) as i64;
    let ymax = a.1.max(b.1).max(c.1).floor().min(height as f32 - 1.0) as i64;
    for y in ymin..=ymax {
        let yf = y as f32;
        let (mut xl, mut xr) = (0.0f32, width as f32 - 1.0);
        for (l0, lx, ly) in lam {
            let at0 = l0 + ly * yf; // λ at x = 0
            if lx > 0.0 {
                xl = xl.max((-EPS - at0) / lx);
            } else if lx < 0.0 {
                xr = xr.min((-EPS - at0) / lx);
            } else if at0 < -EPS {
                xr = -1.0;
            }
        }
        if xr < xl {
            continue;
        }
        let (xs, xe) = (xl.ceil().max(0.0) as usize, xr.floor() as i64);
        for x in xs as i64..=xe {
            let xf = x as f32;
            f(
                x as usize,
                y as usize,
                b0 + bgx * xf + bgy * yf,
                c0 + cgx * xf + cgy * yf,
            );
        }
    }
}

/// Renders the triangles into `out` (RGB floats 0..=255, `width × height`), keeping the
/// nearest surface per pixel in `zbuf` (reset it to `f32::INFINITY` first; pixels no triangle
/// covers keep `INFINITY`). Pixel centres at integer coordinates; a pixel on an edge shared by
/// two triangles is written by both (the affine maps agree there), so no cracks appear.
pub fn render_mesh(
    src: &RgbImage,
    verts: &[MeshVertex],
    tris: &[[u32; 3]],
    width: usize,
    height: usize,
    out: &mut [f32],
    zbuf: &mut [f32],
) {
    for t in tris {
        let (Some(a), Some(b), Some(c)) = (
            verts.get(t[0] as usize),
            verts.get(t[1] as usize),
            verts.get(t[2] as usize),
        ) else {
            continue;
        };
        let (du, dv, dz) = (
            [b.u - a.u, c.u - a.u],
            [b.v - a.v, c.v - a.v],
            [b.z - a.z, c.z - a.z],
        );
        raster_triangle(
            (a.x, a.y),
            (b.x, b.y),
            (c.x, c.y),
            width,
            height,
            |x, y, lb, lc| {
                let z = a.z + lb * dz[0] + lc * dz[1];
                let i = y * width + x;
                if z < zbuf[i] {
                    zbuf[i] = z;
                    let u = a.u + lb * du[0] + lc * du[1];
                    let v = a.v + lb * dv[0] + lc * dv[1];
                    out[3 * i..3 * i + 3].copy_from_slice(&sample_rgb(src, u, v));
                }
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hull_area(tris: &[[u32; 3]], p: &[(f64, f64)]) -> f64 {
        tris.iter()
            .map(|t| {
                let (a, b, c) = (p[t[0] as usize], p[t[1] as usize], p[t[2] as usize]);
                0.5 * ((b.0 - a.0) * (c.1 - a.1) - (b.1 - a.1) * (c.0 - a.0))
            })
            .sum()
    }

    #[test]
    fn triangulates_a_grid_with_its_corners() {
        // A regular grid: every cell is co-circular, the worst case for ties.
        let p: Vec<(f64, f64)> = (0..49)
            .map(|i| ((i % 7) as f64 * 10.0, (i / 7) as f64 * 10.0))
            .collect();
        let t = triangulate(&p);
        assert_eq!(t.len(), 2 * 36, "a 7×7 grid has 72 triangles");
        assert!((hull_area(&t, &p) - 3600.0).abs() < 1e-3);
        assert!(t.iter().all(|t| {
            let (a, b, c) = (p[t[0] as usize], p[t[1] as usize], p[t[2] as usize]);
            (b.0 - a.0) * (c.1 - a.1) - (b.1 - a.1) * (c.0 - a.0) > 0.0
        }));
    }

    #[test]
    fn random_points_cover_their_hull() {
        let mut r = Rng::stream(3, "pts");
        let mut p: Vec<(f64, f64)> = (0..300)
            .map(|_| (r.range(0.0, 100.0), r.range(0.0, 100.0)))
            .collect();
        p.extend([(-1.0, -1.0), (101.0, -1.0), (101.0, 101.0), (-1.0, 101.0)]);
        let t = triangulate(&p);
        assert!((hull_area(&t, &p) - 102.0 * 102.0).abs() < 1e-6 * 102.0 * 102.0);
        // Euler: 2n − 2 − h triangles for n points with h on the hull.
        assert_eq!(t.len(), 2 * p.len() - 2 - 4);
    }

    #[test]
    fn identity_mesh_reproduces_the_image() {
        let mut img = RgbImage::new(16, 12);
        for (i, v) in img.data.iter_mut().enumerate() {
            *v = (i * 7 % 251) as u8;
        }
        let corners = [
            (0.0, 0.0),
            (15.0, 0.0),
            (15.0, 11.0),
            (0.0, 11.0),
            (7.3, 5.1),
        ];
        let tris = triangulate(&corners);
        let verts: Vec<MeshVertex> = corners
            .iter()
            .map(|&(x, y)| MeshVertex {
                x: x as f32,
                y: y as f32,
                z: 0.0,
                u: x as f32,
                v: y as f32,
            })
            .collect();
        let mut out = vec![0.0; 16 * 12 * 3];
        let mut z = vec![f32::INFINITY; 16 * 12];
        render_mesh(&img, &verts, &tris, 16, 12, &mut out, &mut z);
        assert!(z.iter().all(|v| v.is_finite()), "every pixel covered");
        let worst = out
            .iter()
            .zip(&img.data)
            .map(|(a, &b)| (a - b as f32).abs())
            .fold(0.0f32, f32::max);
        assert!(worst < 0.01, "worst {worst}");
    }
}
