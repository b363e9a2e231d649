//! The runner trait ("run this model on these tensors") and the input check every backend runs.

use super::{check_interface, ModelError, ModelSpec};

/// One input tensor: f32 data and its concrete shape.
#[derive(Clone, Copy, Debug)]
pub struct TensorIn<'a> {
    pub data: &'a [f32],
    pub shape: &'a [usize],
}

/// One output tensor; its buffers are reused between runs.
#[derive(Clone, Debug, Default)]
pub struct TensorOut {
    pub data: Vec<f32>,
    pub shape: Vec<usize>,
}

/// "Run this model on these tensors." Implementations are shared across threads.
pub trait ModelRunner: Send + Sync {
    /// The manifest entry this runner was built from.
    fn spec(&self) -> &ModelSpec;
    /// Runs the model. `inputs` are in declared order; `outputs` gets one entry per declared
    /// output, in declared order, reusing each entry's allocation.
    fn run(&self, inputs: &[TensorIn<'_>], outputs: &mut Vec<TensorOut>) -> Result<(), ModelError>;

    /// [`Self::run`] for a model with one input.
    fn run_one(
        &self,
        data: &[f32],
        shape: &[usize],
        outputs: &mut Vec<TensorOut>,
    ) -> Result<(), ModelError> {
        self.run(&[TensorIn { data, shape }], outputs)
    }
}

/// Checks a run's inputs against the spec: count, length per shape, finiteness.
pub fn validate_inputs(spec: &ModelSpec, inputs: &[TensorIn<'_>]) -> Result<(), ModelError> {
    if inputs.len() != spec.inputs.len() {
        return Err(ModelError::ArityMismatch {
            name: spec.name.clone(),
            kind: "input",
            expected: spec.inputs.len(),
            got: inputs.len(),
        });
    }
    for (d, t) in spec.inputs.iter().zip(inputs) {
        let actual: Vec<i64> = t.shape.iter().map(|&s| s as i64).collect();
        check_interface(
            &spec.name,
            "input",
            core::slice::from_ref(d),
            &[(d.name.clone(), actual)],
        )?;
        let expected: usize = t.shape.iter().product();
        if t.data.len() != expected {
            return Err(ModelError::InputLength {
                name: spec.name.clone(),
                tensor: d.name.clone(),
                shape: t.shape.to_vec(),
                expected,
                got: t.data.len(),
            });
        }
        if let Some(index) = t.data.iter().position(|v| !v.is_finite()) {
            return Err(ModelError::NonFiniteInput {
                name: spec.name.clone(),
                tensor: d.name.clone(),
                index,
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::TensorSpec;

    #[test]
    fn inputs_are_validated() {
        let spec = ModelSpec {
            inputs: vec![TensorSpec {
                name: "x".into(),
                shape: vec![1, 2],
                dtype: "f32".into(),
            }],
            ..ModelSpec::for_test(&"0".repeat(64))
        };
        let ok = [1.0f32, 2.0];
        assert!(validate_inputs(
            &spec,
            &[TensorIn {
                data: &ok,
                shape: &[1, 2]
            }]
        )
        .is_ok());
        let e = validate_inputs(
            &spec,
            &[TensorIn {
                data: &ok[..1],
                shape: &[1, 2],
            }],
        )
        .unwrap_err();
        assert!(
            matches!(
                e,
                ModelError::InputLength {
                    expected: 2,
                    got: 1,
                    ..
                }
            ),
            "{e}"
        );
        let nan = [1.0f32, f32::NAN];
        let e = validate_inputs(
            &spec,
            &[TensorIn {
                data: &nan,
                shape: &[1, 2],
            }],
        )
        .unwrap_err();
        assert!(
            matches!(e, ModelError::NonFiniteInput { index: 1, .. }),
            "{e}"
        );
        let e = validate_inputs(
            &spec,
            &[TensorIn {
                data: &ok,
                shape: &[2, 1],
            }],
        )
        .unwrap_err();
        assert!(matches!(e, ModelError::ShapeMismatch { .. }), "{e}");
    }
}
