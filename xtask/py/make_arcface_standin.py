"""Build the project's tiny ArcFace-interface *stand-in*: InsightFace's I/O, NOT a face model.

Real InsightFace recognition weights (w600k_mbf, w600k_r50) are in no registry package
reachable here, so the user-supplied embedding path (manifest entry `arcface_user`, a model
override with path + sha256) is exercised on this stand-in. Its interface is the one
InsightFace's exports have, including their numeric tensor names:

    input.1  float32 [N, 3, 112, 112]   (N dynamic)
    683      float32 [N, 512]

It computes a fixed random 8-d projection of 8x8-pooled pixels (deterministic weights from a
fixed seed) tiled 64 times to 512 values, which says nothing about identity; the file stays a
few KB. The bytes are deterministic (fixed producer, opset, IR
version, initialisers in a fixed order).

Usage: python make_arcface_standin.py OUT.onnx
"""

import hashlib
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 17
IR_VERSION = 8


def main(out):
    rng = np.random.default_rng(20261124)
    # [N,3,112,112] -> AveragePool 14x14/14 -> [N,3,8,8] -> Flatten [N,192] -> Gemm [N,512]
    w = (rng.standard_normal((192, 8)) / np.sqrt(192.0)).astype(np.float32)
    reps = np.array([1, 64], dtype=np.int64)
    nodes = [
        helper.make_node("AveragePool", ["input.1"], ["pooled"], kernel_shape=[14, 14],
                         strides=[14, 14]),
        helper.make_node("Flatten", ["pooled"], ["flat"], axis=1),
        helper.make_node("Gemm", ["flat", "W"], ["proj"]),
        helper.make_node("Tile", ["proj", "reps"], ["683"]),
    ]
    graph = helper.make_graph(
        nodes,
        "liveproof_arcface_interface_standin",
        [helper.make_tensor_value_info("input.1", TensorProto.FLOAT, ["N", 3, 112, 112])],
        [helper.make_tensor_value_info("683", TensorProto.FLOAT, ["N", 512])],
        initializer=[numpy_helper.from_array(w, "W"), numpy_helper.from_array(reps, "reps")],
    )
    model = helper.make_model(graph, producer_name="liveproof-standin",
                              opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = IR_VERSION
    model.doc_string = ("LiveProof STAND-IN with InsightFace's ArcFace ONNX interface; "
                        "NOT a face recognition model")
    onnx.checker.check_model(model)
    data = model.SerializeToString()
    with open(out, "wb") as f:
        f.write(data)
    print(f"{out}: {len(data)} bytes, sha256 {hashlib.sha256(data).hexdigest()}")


if __name__ == "__main__":
    main(sys.argv[1])
