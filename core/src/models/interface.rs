//! The interface check: a model's declared tensors (names, shapes) against the file's.

use super::{ModelError, TensorSpec};

/// A declared tensor name that matches any name (user-supplied models, whose exports name
/// their tensors freely, e.g. InsightFace's `input.1` → `683` or `516`).
pub const ANY_NAME: &str = "*";

/// `spec` with each declared name `*` replaced by the file's own name for that tensor (user
/// supplied exports name their tensors freely), so that runs address tensors by their real
/// names. `inputs` / `outputs` are the file's `(name, shape)` in declared order, as given to
/// [`check_interface`].
pub fn resolve_any_names(
    spec: &super::ModelSpec,
    inputs: &[(String, Vec<i64>)],
    outputs: &[(String, Vec<i64>)],
) -> super::ModelSpec {
    let mut spec = spec.clone();
    let named = spec
        .inputs
        .iter_mut()
        .zip(inputs)
        .chain(spec.outputs.iter_mut().zip(outputs));
    for (d, (name, _)) in named {
        if d.name == ANY_NAME {
            d.name = name.clone();
        }
    }
    spec
}

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
    check_shapes(model, kind, declared, actual)
}

/// A tensor as a model file declares it. `dtype` is ONNX's element type name (`FLOAT`,
/// `INT64`, ...) or the manifest's short name (`f32`, `i64`, ...); `None` when the backend does
/// not report it (then only names and shapes are checked).
#[derive(Clone, Debug, PartialEq)]
pub struct FileTensor {
    pub name: String,
    pub shape: Vec<i64>,
    pub dtype: Option<String>,
}

/// ONNX's element type name of a manifest dtype (`f32` → `FLOAT`); `None` for an unknown one.
pub fn onnx_dtype(short: &str) -> Option<&'static str> {
    Some(match short {
        "f32" => "FLOAT",
        "f16" => "FLOAT16",
        "f64" => "DOUBLE",
        "i64" => "INT64",
        "i32" => "INT32",
        "i8" => "INT8",
        "u8" => "UINT8",
        "bool" => "BOOL",
        _ => return None,
    })
}

/// The one definition of "the file matches the manifest", used by the runtime and by
/// `cargo xtask setup`: names and shapes as [`check_interface`], then each declared dtype
/// against the file's (when known). A dtype mismatch is a `ModelError::Manifest` naming the
/// model, tensor and both types.
pub fn check_file_interface(
    model: &str,
    kind: &'static str,
    declared: &[TensorSpec],
    actual: &[FileTensor],
) -> Result<(), ModelError> {
    let pairs: Vec<(String, Vec<i64>)> = actual
        .iter()
        .map(|t| (t.name.clone(), t.shape.clone()))
        .collect();
    check_shapes(model, kind, declared, &pairs)?;
    for (d, a) in declared.iter().zip(actual) {
        let Some(got) = &a.dtype else { continue };
        let got_onnx = onnx_dtype(got).unwrap_or(got.as_str());
        if onnx_dtype(&d.dtype) != Some(got_onnx) {
            return Err(ModelError::Manifest(format!(
                "model `{model}`: {kind} `{}` has dtype {got_onnx}, expected {} ({})",
                a.name,
                d.dtype,
                onnx_dtype(&d.dtype).unwrap_or("an unknown dtype")
            )));
        }
    }
    Ok(())
}

fn check_shapes(
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
    fn dtypes_are_checked_when_the_file_reports_them() {
        let d = vec![TensorSpec {
            name: "x".into(),
            shape: vec![1, 2],
            dtype: "f32".into(),
        }];
        let t = |dtype: Option<&str>| {
            [FileTensor {
                name: "x".into(),
                shape: vec![1, 2],
                dtype: dtype.map(String::from),
            }]
        };
        assert!(check_file_interface("m", "input", &d, &t(Some("FLOAT"))).is_ok());
        assert!(check_file_interface("m", "input", &d, &t(Some("f32"))).is_ok());
        assert!(check_file_interface("m", "input", &d, &t(None)).is_ok());
        let e = check_file_interface("m", "input", &d, &t(Some("INT64"))).unwrap_err();
        assert!(
            e.to_string()
                .contains("input `x` has dtype INT64, expected f32 (FLOAT)"),
            "{e}"
        );
        let mut unknown = d.clone();
        unknown[0].dtype = "f8".into();
        assert!(check_file_interface("m", "input", &unknown, &t(Some("FLOAT"))).is_err());
    }

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
