"""Rewrite an ONNX file into a canonical byte form so that its sha256 can be pinned.

tflite2onnx 0.4.1 emits the same graph with `initializer` and `value_info` in an order that
changes from run to run (it walks Python sets). Node order is already topological and stable.
This sorts both lists by name, clears doc strings, runs the ONNX checker, and saves.

Usage: python canonicalize_onnx.py IN.onnx OUT.onnx
"""

import sys

import onnx


def canonicalize(model):
    graph = model.graph
    inits = sorted(graph.initializer, key=lambda t: t.name)
    del graph.initializer[:]
    graph.initializer.extend(inits)
    infos = sorted(graph.value_info, key=lambda v: v.name)
    del graph.value_info[:]
    graph.value_info.extend(infos)
    model.doc_string = ""
    graph.doc_string = ""
    for node in graph.node:
        node.doc_string = ""
    return model


def main() -> int:
    if len(sys.argv) != 3:
        print("usage: canonicalize_onnx.py IN.onnx OUT.onnx", file=sys.stderr)
        return 2
    model = canonicalize(onnx.load(sys.argv[1]))
    onnx.checker.check_model(model)
    onnx.save(model, sys.argv[2])
    return 0


if __name__ == "__main__":
    sys.exit(main())
