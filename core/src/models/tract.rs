//! The tract backend of the runner (feature `tract`): pure-Rust ONNX inference, linked into
//! our own library, so an app ships no separate inference runtime.
//!
//! A model is checked exactly as the ONNX Runtime backend checks it (size and sha256 against
//! the manifest, then the declared tensor names and shapes against the file's), then typed
//! with the manifest's concrete input shapes and optimised once at load. Each run goes
//! through one long-lived tract state, so the plan's per-node state and scratch are kept
//! between frames.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;
use std::sync::{Arc, Mutex};

use tract_onnx::prelude::*;
use tract_onnx::tract_hir::infer::Factoid;

use super::{
    check_interface, read_verified_model, resolve_any_names, validate_inputs, ModelError,
    ModelRunner, ModelSpec, TensorIn, TensorOut,
};

/// A model optimised by tract. A tract state needs `&mut` to run, so it sits behind a mutex;
/// the engine keeps one runner per model, like [`super::OrtRunner`].
pub struct TractRunner {
    spec: ModelSpec,
    plan: Arc<TypedSimplePlan>,
    state: Mutex<TypedSimpleState>,
}

impl std::fmt::Debug for TractRunner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TractRunner")
            .field("model", &self.spec.name)
            .finish()
    }
}

/// Names and dims of a model's inputs (or outputs), as the interface check reads them.
type Interface = Vec<(String, Vec<i64>)>;

/// A tensor's dims as the interface check reads them: a size, or `-1` where it is not known
/// before a run (a symbolic batch, an unknown rank position).
fn dims_of(dims: impl Iterator<Item = Option<TDim>>) -> Vec<i64> {
    dims.map(|d| d.and_then(|d| d.as_i64()).unwrap_or(-1))
        .collect()
}

/// Gives every `ConstantOfShape` without a `value` the one ONNX specifies for that case: a
/// float32 zero. tract 0.23 defaults it to a float64 zero, which BlazeFace's channel padding
/// (a `Concat` of its activations with such a constant) then fails to type; with the value
/// spelled out the graph means exactly what ONNX Runtime runs.
fn default_constant_of_shape_to_f32(proto: &mut tract_onnx::pb::ModelProto) {
    use tract_onnx::pb::{attribute_proto::AttributeType, tensor_proto::DataType};
    use tract_onnx::pb::{AttributeProto, TensorProto};
    let Some(graph) = proto.graph.as_mut() else {
        return;
    };
    for node in &mut graph.node {
        if node.op_type == "ConstantOfShape" && !node.attribute.iter().any(|a| a.name == "value") {
            node.attribute.push(AttributeProto {
                name: "value".into(),
                r#type: AttributeType::Tensor as i32,
                t: Some(TensorProto {
                    dims: vec![1],
                    data_type: DataType::Float as i32,
                    float_data: vec![0.0],
                    ..Default::default()
                }),
                ..Default::default()
            });
        }
    }
}

/// A tract failure or panic as a typed error; tract's message chain is kept whole.
fn message(e: &TractError) -> String {
    format!("{e:#}")
}

fn panic_reason(p: &(dyn std::any::Any + Send)) -> String {
    p.downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "tract panicked".into())
}

impl TractRunner {
    /// Reads `path` once and verifies those bytes against `spec` (size, sha256), then parses
    /// the same bytes (never the path again), checks the declared interface against the file,
    /// fixes each input to the manifest's shape (dims the manifest leaves at `-1` stay as the
    /// file declares them) and optimises the model for those shapes.
    pub fn load(spec: &ModelSpec, path: &Path) -> Result<TractRunner, ModelError> {
        let bytes = read_verified_model(spec, path)?;
        match catch_unwind(AssertUnwindSafe(|| Self::load_checked(spec, path, bytes))) {
            Ok(r) => r,
            Err(p) => Err(ModelError::ModelCorrupt {
                name: spec.name.clone(),
                path: path.to_path_buf(),
                reason: format!("tract panicked while loading: {}", panic_reason(&*p)),
            }),
        }
    }

    /// The file parsed, its interface checked and typed for the manifest's input shapes.
    /// `ignore_value_info` drops the file's own intermediate shape annotations, for exports
    /// whose annotations contradict their dynamic batch (InsightFace's w600k_mbf: batch `None`
    /// in, `1` on the first convolution's annotated output).
    fn typed_model(
        spec: &ModelSpec,
        path: &Path,
        proto: &tract_onnx::pb::ModelProto,
        ignore_value_info: bool,
    ) -> Result<(Interface, TypedModel), ModelError> {
        let corrupt = |e: &TractError| ModelError::ModelCorrupt {
            name: spec.name.clone(),
            path: path.to_path_buf(),
            reason: message(e),
        };
        let unsupported = |stage: &str, e: &TractError| ModelError::Inference {
            name: spec.name.clone(),
            reason: format!("tract cannot {stage} this model: {}", message(e)),
        };
        let onnx = tract_onnx::onnx().with_ignore_value_info(ignore_value_info);
        let parsed = onnx
            .parse(proto, path.parent().and_then(Path::to_str))
            .map_err(|e| corrupt(&e))?;
        if !parsed.unresolved_inputs.is_empty() {
            return Err(ModelError::ModelCorrupt {
                name: spec.name.clone(),
                path: path.to_path_buf(),
                reason: format!("unresolved inputs {:?}", parsed.unresolved_inputs),
            });
        }
        let mut model = parsed.model;

        let mut ins = Vec::new();
        for (ix, outlet) in model
            .input_outlets()
            .map_err(|e| corrupt(&e))?
            .iter()
            .enumerate()
        {
            let name = model.node(outlet.node).name.clone();
            let fact = model.input_fact(ix).map_err(|e| corrupt(&e))?;
            let shape = dims_of(fact.shape.dims().map(|d| d.concretize()));
            ins.push((name, shape));
        }
        check_interface(&spec.name, "input", &spec.inputs, &ins)?;

        // The manifest's concrete shapes: tract then plans every op for fixed sizes (packed
        // weights, no symbolic shape arithmetic per run).
        for (ix, d) in spec.inputs.iter().enumerate() {
            if d.shape.iter().all(|&s| s >= 0) {
                let shape: Vec<usize> = d.shape.iter().map(|&s| s as usize).collect();
                model = model
                    .with_input_fact(ix, f32::fact(&shape).into())
                    .map_err(|e| unsupported("type", &e))?;
            }
        }
        let typed = model.into_typed().map_err(|e| unsupported("type", &e))?;
        Ok((ins, typed))
    }

    fn load_checked(
        spec: &ModelSpec,
        path: &Path,
        bytes: Vec<u8>,
    ) -> Result<TractRunner, ModelError> {
        let corrupt = |e: &TractError| ModelError::ModelCorrupt {
            name: spec.name.clone(),
            path: path.to_path_buf(),
            reason: message(e),
        };
        let unsupported = |stage: &str, e: &TractError| ModelError::Inference {
            name: spec.name.clone(),
            reason: format!("tract cannot {stage} this model: {}", message(e)),
        };
        // Decoded once from the verified bytes (tract reads them into a buffer of its own, so
        // they are dropped as soon as the graph is decoded), then typed from that graph.
        let mut proto = tract_onnx::onnx()
            .proto_model_for_read(&mut bytes.as_slice())
            .map_err(|e| corrupt(&e))?;
        drop(bytes);
        default_constant_of_shape_to_f32(&mut proto);
        let (ins, typed) = match Self::typed_model(spec, path, &proto, false) {
            Ok(t) => t,
            Err(first @ ModelError::Inference { .. }) => {
                Self::typed_model(spec, path, &proto, true).map_err(|_| first)?
            }
            Err(e) => return Err(e),
        };
        drop(proto);

        let mut outs = Vec::new();
        for (ix, outlet) in typed
            .output_outlets()
            .map_err(|e| corrupt(&e))?
            .iter()
            .enumerate()
        {
            let name = typed
                .outlet_label(*outlet)
                .map(str::to_string)
                .unwrap_or_else(|| typed.node(outlet.node).name.clone());
            let fact = typed.output_fact(ix).map_err(|e| corrupt(&e))?;
            outs.push((name, dims_of(fact.shape.iter().map(|d| Some(d.clone())))));
        }
        check_interface(&spec.name, "output", &spec.outputs, &outs)?;

        let plan = typed
            .into_optimized()
            .map_err(|e| unsupported("optimise", &e))?
            .into_runnable()
            .map_err(|e| unsupported("plan", &e))?;
        let state = plan.spawn().map_err(|e| unsupported("plan", &e))?;

        let spec = resolve_any_names(spec, &ins, &outs);
        Ok(TractRunner {
            spec,
            plan,
            state: Mutex::new(state),
        })
    }

    fn run_checked(
        &self,
        state: &mut TypedSimpleState,
        inputs: &[TensorIn<'_>],
        outputs: &mut Vec<TensorOut>,
    ) -> Result<(), ModelError> {
        let err = |e: &dyn std::fmt::Display| ModelError::Inference {
            name: self.spec.name.clone(),
            reason: e.to_string(),
        };
        let mut values: TVec<TValue> = TVec::with_capacity(inputs.len());
        for t in inputs {
            let tensor = Tensor::from_shape(t.shape, t.data).map_err(|e| err(&message(&e)))?;
            values.push(tensor.into_tvalue());
        }
        let result = state.run(values).map_err(|e| err(&message(&e)))?;
        if result.len() != self.spec.outputs.len() {
            return Err(ModelError::ArityMismatch {
                name: self.spec.name.clone(),
                kind: "output",
                expected: self.spec.outputs.len(),
                got: result.len(),
            });
        }
        outputs.resize_with(self.spec.outputs.len(), TensorOut::default);
        for (value, out) in result.iter().zip(outputs.iter_mut()) {
            let view = value.try_as_plain_ram().map_err(|e| err(&message(&e)))?;
            let data = view.as_slice::<f32>().map_err(|e| err(&message(&e)))?;
            out.shape.clear();
            out.shape.extend_from_slice(value.shape());
            out.data.clear();
            out.data.extend_from_slice(data);
        }
        Ok(())
    }
}

impl ModelRunner for TractRunner {
    fn spec(&self) -> &ModelSpec {
        &self.spec
    }

    fn run(&self, inputs: &[TensorIn<'_>], outputs: &mut Vec<TensorOut>) -> Result<(), ModelError> {
        validate_inputs(&self.spec, inputs)?;
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        match catch_unwind(AssertUnwindSafe(|| {
            self.run_checked(&mut state, inputs, outputs)
        })) {
            Ok(r) => r,
            Err(p) => {
                // A state a panic went through is not trusted again: the next run starts
                // from a fresh one.
                if let Ok(fresh) = self.plan.spawn() {
                    *state = fresh;
                }
                Err(ModelError::Inference {
                    name: self.spec.name.clone(),
                    reason: format!("tract panicked: {}", panic_reason(&*p)),
                })
            }
        }
    }
}
