//! Float functions that work with and without `std`.
//!
//! With `std` they call the hardware/`std` implementations; without it they fall back to
//! `libm`. Every pure module uses these instead of `f32::sqrt` and friends so that it builds
//! as no_std + alloc.

macro_rules! unary {
    ($($(#[$m:meta])* $name:ident => $std:ident, $libm:ident;)*) => {$(
        $(#[$m])*
        #[inline(always)]
        pub fn $name(x: f32) -> f32 {
            #[cfg(feature = "std")]
            { x.$std() }
            #[cfg(not(feature = "std"))]
            { libm::$libm(x) }
        }
    )*};
}

unary! {
    /// Square root.
    sqrt => sqrt, sqrtf;
    /// Sine (radians).
    sin => sin, sinf;
    /// Cosine (radians).
    cos => cos, cosf;
    /// Tangent (radians).
    tan => tan, tanf;
    /// Arc sine, radians.
    asin => asin, asinf;
    /// Arc cosine, radians.
    acos => acos, acosf;
    /// e^x.
    exp => exp, expf;
    /// Natural logarithm.
    ln => ln, logf;
    /// Round down.
    floor => floor, floorf;
    /// Round up.
    ceil => ceil, ceilf;
    /// Round half away from zero.
    round => round, roundf;
    /// Absolute value.
    abs => abs, fabsf;
}

/// Four-quadrant arc tangent of `y / x`, radians.
#[inline(always)]
pub fn atan2(y: f32, x: f32) -> f32 {
    #[cfg(feature = "std")]
    {
        y.atan2(x)
    }
    #[cfg(not(feature = "std"))]
    {
        libm::atan2f(y, x)
    }
}

/// `x^y`.
#[inline(always)]
pub fn powf(x: f32, y: f32) -> f32 {
    #[cfg(feature = "std")]
    {
        x.powf(y)
    }
    #[cfg(not(feature = "std"))]
    {
        libm::powf(x, y)
    }
}

/// Logistic sigmoid, with the logit clipped to ±`clip` as MediaPipe's decoders do.
#[inline(always)]
pub fn sigmoid_clipped(logit: f32, clip: f32) -> f32 {
    let z = logit.clamp(-clip, clip);
    1.0 / (1.0 + exp(-z))
}

/// Median of a slice (sorts it in place). `None` for an empty slice or any NaN.
pub fn median_in_place(v: &mut [f32]) -> Option<f32> {
    if v.is_empty() || v.iter().any(|x| x.is_nan()) {
        return None;
    }
    v.sort_by(|a, b| a.partial_cmp(b).unwrap_or(core::cmp::Ordering::Equal));
    let n = v.len();
    Some(if n % 2 == 1 {
        v[n / 2]
    } else {
        0.5 * (v[n / 2 - 1] + v[n / 2])
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sigmoid_is_clipped_and_symmetric() {
        assert!((sigmoid_clipped(0.0, 100.0) - 0.5).abs() < 1e-7);
        assert!((sigmoid_clipped(1e9, 100.0) - 1.0).abs() < 1e-7);
        let a = sigmoid_clipped(2.0, 100.0);
        let b = sigmoid_clipped(-2.0, 100.0);
        assert!((a + b - 1.0).abs() < 1e-6);
    }

    #[test]
    fn median_odd_even_nan() {
        assert_eq!(median_in_place(&mut [3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median_in_place(&mut [4.0, 1.0, 2.0, 3.0]), Some(2.5));
        assert_eq!(median_in_place(&mut [1.0, f32::NAN]), None);
        assert_eq!(median_in_place(&mut []), None);
    }
}
