"""Print the graph inputs and outputs of ONNX files as JSON, for checking models/manifest.toml.

Usage: python onnx_io.py FILE.onnx [FILE.onnx ...]
Prints {"FILE.onnx": {"inputs": [{"name", "shape", "dtype"}], "outputs": [...]}, ...}.
Shapes use -1 for a dynamic dimension; dtype is ONNX's name (FLOAT, INT64, ...).
Initializers that older exporters also list as graph inputs are left out.
"""

import json
import sys

import onnx


def tensors(values, skip=()):
    out = []
    for v in values:
        if v.name in skip:
            continue
        t = v.type.tensor_type
        shape = [d.dim_value if d.HasField("dim_value") else -1 for d in t.shape.dim]
        out.append({"name": v.name, "shape": shape, "dtype": onnx.TensorProto.DataType.Name(t.elem_type)})
    return out


def main() -> int:
    result = {}
    for path in sys.argv[1:]:
        # Only the graph's interface is needed: skip loading tensor data from external files.
        graph = onnx.load(path, load_external_data=False).graph
        inits = {t.name for t in graph.initializer}
        result[path] = {"inputs": tensors(graph.input, inits), "outputs": tensors(graph.output)}
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
