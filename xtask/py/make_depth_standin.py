"""Build the project's tiny Depth Anything V2 *stand-in*: same I/O contract, NOT a depth model.

The real Depth Anything V2 weights are in no registry package reachable here (see
docs / MODEL_SOURCES "Monocular depth"), so the depth stage's loading, pre- and
post-processing are exercised on this stand-in. It has exactly the published ONNX interface:

    pixel_values    float32 [1, 3, H, W]  (H, W dynamic; multiples of 14 by contract)
    predicted_depth float32 [1, H, W]

and computes a blurred brightness, which says nothing about depth or liveness:

    y = Relu(Resize_linear(AveragePool_14x14/14(0.299 R + 0.587 G + 0.114 B + 2), H x W))

(R, G, B are the ImageNet-normalised inputs; the +2 keeps typical values positive, as a
relative inverse depth is.) The bytes are deterministic: fixed producer, opset, IR version,
no timestamps, initialisers in a fixed order. Re-running writes an identical file.

Usage: python make_depth_standin.py OUT.onnx
"""

import hashlib
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 17
IR_VERSION = 8
PRODUCER = "liveproof-xtask make_depth_standin.py"
PRODUCER_VERSION = "1"


def build() -> onnx.ModelProto:
    w = np.array([0.299, 0.587, 0.114], dtype=np.float32).reshape(1, 3, 1, 1)
    b = np.array([2.0], dtype=np.float32)
    inits = [
        numpy_helper.from_array(w, "standin.mix.weight"),
        numpy_helper.from_array(b, "standin.mix.bias"),
        numpy_helper.from_array(np.array([2], dtype=np.int64), "standin.hw_start"),
        numpy_helper.from_array(np.array([4], dtype=np.int64), "standin.hw_end"),
        numpy_helper.from_array(np.array([1, 1], dtype=np.int64), "standin.nc"),
        numpy_helper.from_array(np.array([1], dtype=np.int64), "standin.axis1"),
    ]
    nodes = [
        helper.make_node("Conv", ["pixel_values", "standin.mix.weight", "standin.mix.bias"],
                         ["mix"], name="mix", kernel_shape=[1, 1]),
        helper.make_node("AveragePool", ["mix"], ["pooled"], name="pool",
                         kernel_shape=[14, 14], strides=[14, 14], ceil_mode=0),
        helper.make_node("Shape", ["pixel_values"], ["in_shape"], name="in_shape"),
        helper.make_node("Slice", ["in_shape", "standin.hw_start", "standin.hw_end"], ["hw"],
                         name="hw"),
        helper.make_node("Concat", ["standin.nc", "hw"], ["sizes"], name="sizes", axis=0),
        helper.make_node("Resize", ["pooled", "", "", "sizes"], ["up"], name="up",
                         mode="linear", coordinate_transformation_mode="half_pixel"),
        helper.make_node("Relu", ["up"], ["relu"], name="relu"),
        helper.make_node("Squeeze", ["relu", "standin.axis1"], ["predicted_depth"],
                         name="squeeze"),
    ]
    graph = helper.make_graph(
        nodes,
        "depth_anything_v2_standin",
        [helper.make_tensor_value_info("pixel_values", TensorProto.FLOAT, [1, 3, "height", "width"])],
        [helper.make_tensor_value_info("predicted_depth", TensorProto.FLOAT, [1, "height", "width"])],
        initializer=inits,
        doc_string="LiveProof STAND-IN with the Depth Anything V2 I/O. NOT a depth model: "
        "blurred brightness (14x14 average of a weighted channel sum, resized back, ReLU).",
    )
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", OPSET)],
        producer_name=PRODUCER,
        producer_version=PRODUCER_VERSION,
    )
    model.ir_version = IR_VERSION
    model.model_version = 1
    model.doc_string = "Project-made stand-in for tests (Apache-2.0). Not Depth Anything V2."
    onnx.checker.check_model(model, full_check=True)
    return model


def main() -> int:
    if len(sys.argv) != 2:
        print("usage: make_depth_standin.py OUT.onnx", file=sys.stderr)
        return 2
    data = build().SerializeToString(deterministic=True)
    out = sys.argv[1]
    d = os.path.dirname(out)
    if d:
        os.makedirs(d, exist_ok=True)
    with open(out, "wb") as f:
        f.write(data)
    print(f"{out}: {len(data)} bytes, sha256 {hashlib.sha256(data).hexdigest()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
