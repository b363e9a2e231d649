//! The interface check: a model's declared tensors (names, shapes) against the file's.

use super::{ModelError, TensorSpec};

/// A declared tensor name that matches any name (user-supplied models, whose exports name
/// their tensors freely, e.g. InsightFace's `input.1` → `683` or `516`).
pub const ANY_NAME: &str = "*";

/// Checks actual tensor names and shapes against the declared ones. `-1` on either side
/// matches any size. `kind` is "input" or "output". An output may also differ from its
/// declaration by dimensions of size 1 (exports differ there: Depth Anything V2's
/// `predicted_depth` comes as [1, H, W] or [1, 1, H, W]; the values and their order are the
/// same, and every consumer reads outputs by element count). Inputs must match exactly,
/// because the caller builds them to the declared shape.
pub fn check_interface(
    model: &str,
    kind: &'static str,
    declared: &[TensorSpec],
    actual: &[(String, Vec<i64>)],
) -> Result<(), ModelError> {
    if declared.len() != actual.len() {
        return Err(ModelError::ArityMismatch {
            name: model.to_string(),
            kind,
            expected: declared.len(),
            got: actual.len(),
        });
    }
    for (index, (d, (name, shape))) in declared.iter().zip(actual).enumerate() {
        if &d.name != name && d.name != ANY_NAME {
            return Err(ModelError::NameMismatch {
                name: model.to_string(),
                kind,
                index,
                expected: d.name.clone(),
                got: name.clone(),
            });
        }
        let matches = |x: &[i64], y: &[i64]| {
            x.len() == y.len() && x.iter().zip(y).all(|(&a, &b)| a == b || a < 0 || b < 0)
        };
        let squeezed = |x: &[i64]| x.iter().copied().filter(|&v| v != 1).collect::<Vec<_>>();
        let same = matches(&d.shape, shape)
            || (kind == "output" && matches(&squeezed(&d.shape), &squeezed(shape)));
        if !same {
            return Err(ModelError::ShapeMismatch {
                name: model.to_string(),
                kind,
                tensor: name.clone(),
                expected: d.shape.clone(),
                got: shape.clone(),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interface_check_names_shapes_and_dynamic_dims() {
        let d = vec![TensorSpec {
            name: "x".into(),
            shape: vec![1, 3, -1, -1],
            dtype: "f32".into(),
        }];
        assert!(check_interface("m", "input", &d, &[("x".into(), vec![1, 3, 224, 224])]).is_ok());
        let e = check_interface("m", "input", &d, &[("y".into(), vec![1, 3, 2, 2])]).unwrap_err();
        assert!(matches!(e, ModelError::NameMismatch { .. }), "{e}");
        let e = check_interface("m", "input", &d, &[("x".into(), vec![1, 1, 2, 2])]).unwrap_err();
        assert!(
            e.to_string()
                .contains("has shape [1, 1, 2, 2], expected [1, 3, -1, -1]"),
            "{e}"
        );
        // Outputs may differ by unit dimensions (Depth Anything V2 exports: [1, H, W] or
        // [1, 1, H, W]); inputs may not, and other sizes still must match.
        let depth = vec![TensorSpec {
            name: "predicted_depth".into(),
            shape: vec![1, -1, -1],
            dtype: "f32".into(),
        }];
        let out = |shape: Vec<i64>| [("predicted_depth".to_string(), shape)];
        assert!(check_interface("m", "output", &depth, &out(vec![1, 1, -1, -1])).is_ok());
        assert!(check_interface("m", "output", &depth, &out(vec![1, 252, 252])).is_ok());
        assert!(check_interface("m", "input", &depth, &out(vec![1, 1, -1, -1])).is_err());
        assert!(check_interface("m", "output", &depth, &out(vec![1, 2, -1, -1])).is_err());
        let e = check_interface("m", "output", &d, &[]).unwrap_err();
        assert!(
            matches!(
                e,
                ModelError::ArityMismatch {
                    expected: 1,
                    got: 0,
                    ..
                }
            ),
            "{e}"
        );
    }
}
