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

    /// [`Self::run`] on tensors the caller has already proven finite: the engine's own, made
    /// from 8-bit pixels through a finite normalisation table (`frame::warp_affine_to_tensor`
    /// checks the table). A backend may skip its per-value finiteness scan here; the count,
    /// shape and length checks stay. Tensors from anywhere else go through [`Self::run`].
    /// The default is [`Self::run`].
    fn run_prechecked(
        &self,
        inputs: &[TensorIn<'_>],
        outputs: &mut Vec<TensorOut>,
    ) -> Result<(), ModelError> {
        self.run(inputs, outputs)
    }

    /// [`Self::run_prechecked`] for a model with one input.
    fn run_one_prechecked(
        &self,
        data: &[f32],
        shape: &[usize],
        outputs: &mut Vec<TensorOut>,
    ) -> Result<(), ModelError> {
        self.run_prechecked(&[TensorIn { data, shape }], outputs)
    }
}

/// Checks a run's inputs against the spec: count, length per shape, finiteness.
pub fn validate_inputs(spec: &ModelSpec, inputs: &[TensorIn<'_>]) -> Result<(), ModelError> {
    validate_input_shapes(spec, inputs)?;
    check_finite(spec, inputs)
}

/// The count, shape and length checks of [`validate_inputs`], without the finiteness scan.
/// Allocates nothing unless it fails.
pub fn validate_input_shapes(spec: &ModelSpec, inputs: &[TensorIn<'_>]) -> Result<(), ModelError> {
    if inputs.len() != spec.inputs.len() {
        return Err(ModelError::ArityMismatch {
            name: spec.name.clone(),
            kind: "input",
            expected: spec.inputs.len(),
            got: inputs.len(),
        });
    }
    for (d, t) in spec.inputs.iter().zip(inputs) {
        // `check_interface`'s rule for inputs (same rank; a negative declared dimension
        // matches any size), checked in place; the error is built by `check_interface` itself.
        let same = d.shape.len() == t.shape.len()
            && d.shape
                .iter()
                .zip(t.shape)
                .all(|(&a, &b)| a < 0 || a == b as i64 || (b as i64) < 0);
        if !same {
            let actual: Vec<i64> = t.shape.iter().map(|&s| s as i64).collect();
            check_interface(
                &spec.name,
                "input",
                core::slice::from_ref(d),
                &[(d.name.clone(), actual)],
            )?;
        }
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
    }
    Ok(())
}

/// The finiteness scan of [`validate_inputs`]: the first NaN or infinity is an error.
pub fn check_finite(spec: &ModelSpec, inputs: &[TensorIn<'_>]) -> Result<(), ModelError> {
    for (d, t) in spec.inputs.iter().zip(inputs) {
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

/// Copies `src` into `dst` (same length) and says whether every value was finite, in one
/// pass: the finiteness check of an untrusted input costs no more than reading it once.
#[cfg_attr(not(feature = "ort"), allow(dead_code))]
pub fn copy_checking_finite(dst: &mut [f32], src: &[f32]) -> bool {
    const EXP: u32 = 0x7f80_0000;
    let mut bad = 0u32;
    for (d, &s) in dst.iter_mut().zip(src) {
        *d = s;
        // All exponent bits set: an infinity or a NaN.
        bad |= u32::from(s.to_bits() & EXP == EXP);
    }
    bad == 0
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
        // The shape checks stand without the finiteness scan; the scan alone finds the NaN.
        let nan_in = [TensorIn {
            data: &nan,
            shape: &[1, 2],
        }];
        assert!(validate_input_shapes(&spec, &nan_in).is_ok());
        assert!(matches!(
            check_finite(&spec, &nan_in),
            Err(ModelError::NonFiniteInput { index: 1, .. })
        ));
        let e = validate_input_shapes(
            &spec,
            &[TensorIn {
                data: &ok,
                shape: &[1, 2, 1],
            }],
        )
        .unwrap_err();
        assert!(matches!(e, ModelError::ShapeMismatch { .. }), "{e}");
    }

    #[test]
    fn the_checked_copy_copies_and_finds_every_non_finite_value() {
        let src = [0.0f32, -1.5, f32::MAX, f32::MIN_POSITIVE, 1e-40];
        let mut dst = [9.0f32; 5];
        assert!(copy_checking_finite(&mut dst, &src));
        assert_eq!(dst, src);
        for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY, -f32::NAN] {
            let mut src = [1.0f32; 37];
            src[29] = bad;
            assert!(!copy_checking_finite(&mut [0.0; 37], &src), "{bad}");
        }
    }
}
