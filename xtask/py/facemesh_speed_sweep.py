"""Reproduce the FaceMesh ORT speed/accuracy sweep: fp32 session options, exact graph
rewrites, static/dynamic int8 variants, and (optionally) TFLite+XNNPACK, timed side by side.

Usage (needs onnx, onnxruntime==1.31.1, numpy, pillow; ai_edge_litert optional):
    python facemesh_speed_sweep.py [--fp32 face_landmark.onnx] [--tflite face_landmark.tflite]
        [--quick] [--rounds 50 --iters 8] [--json out.json]

Calibration crops: the 29 Solvay faces x 8 augmentations; evaluation crops: astronaut,
newton, gauss x 32 augmentations (quantize_facemesh.build_crops, fixed seeds), so the two
sets never share a face. Every candidate is timed with 1 intra-op / 1 inter-op thread,
ORT_ENABLE_ALL unless named otherwise, in alternating rounds (facemesh_speed_compare.bench);
accuracy is NME (% of the 33-263 distance) against the original fp32 ONNX on the evaluation
crops. Takes ~3-5 minutes on 2 busy cores (--quick: fewer int8 variants).
"""

import argparse
import json
import os
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import facemesh_speed_compare as C  # noqa: E402
import facemesh_speed_rewrite as RW  # noqa: E402
import quantize_facemesh as Q  # noqa: E402


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--fp32", default=os.path.join(C.MODELS, "face_landmark.onnx"))
    ap.add_argument("--scrfd", default=os.path.join(C.MODELS, "scrfd.onnx"))
    ap.add_argument("--tflite")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--rounds", type=int, default=50)
    ap.add_argument("--iters", type=int, default=8)
    ap.add_argument("--json")
    args = ap.parse_args(argv)

    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    fm = C.session(args.fp32)
    det = C.session(args.scrfd)
    xc, _ = Q.build_crops([os.path.join(C.FIX, "solvay_conference_1927.jpg")], fm, det, 8, 20261124)
    xe, _ = Q.build_crops([os.path.join(C.FIX, f) for f in ("astronaut.png", "newton.png", "gauss.png")],
                          fm, det, 32, 7)
    print(f"calibration crops {len(xc)}, evaluation crops {len(xe)}", file=sys.stderr)

    tmp = tempfile.TemporaryDirectory(prefix="fmsweep_")
    d = tmp.name
    cands = {"fp32": (args.fp32, {}), "fp32/spin0": (args.fp32, {"spinning": False}),
             "fp32/EXTENDED": (args.fp32, {"opt_level": "EXTENDED"})}
    build_s = {}
    base = onnx.load(args.fp32)
    for name, kw in [("rw-dwconv", {}), ("rw-bn", {"prelu": "bn"}), ("rw-elem", {"prelu": "elem"}),
                     ("rw-padonly", {"prelu": "keep"}), ("rw-preluonly", {"pad": "keep"})]:
        p = os.path.join(d, name + ".onnx")
        onnx.save(RW.rewrite(onnx.ModelProto.FromString(base.SerializeToString()), **kw), p)
        cands[name] = (p, {})
    cands["rw-dwconv/EXTENDED"] = (cands["rw-dwconv"][0], {"opt_level": "EXTENDED"})

    int8 = [("qdq-u8-pc1", dict(rewrite=None)),
            ("qop-u8-pc1", dict(rewrite=None, quant_format="QOperator")),
            ("rw+qdq-u8-pc1 (recipe)", dict(Q.RECIPE)),
            ("rw+qdq-u8-pc1-nosnap", dict(Q.RECIPE, snap_bits=None)),
            ("rw+qop-u8-pc1", dict(Q.RECIPE, quant_format="QOperator"))]
    if not args.quick:
        int8 += [("qdq-u8-pc0", dict(rewrite=None, per_channel=False)),
                 ("qdq-u8-pc1-rr", dict(rewrite=None, reduce_range=True)),
                 ("qdq-s8-pc1", dict(rewrite=None, activation_type="QInt8")),
                 ("rw+qdq-u8-pc0", dict(Q.RECIPE, per_channel=False)),
                 ("rw+qdq-s8-pc1", dict(Q.RECIPE, activation_type="QInt8")),
                 ("rw+qdq-u8-pc1-rr", dict(Q.RECIPE, reduce_range=True)),
                 ("rw+qdq-u8-pc1-pctl", dict(Q.RECIPE, calibrate_method="Percentile"))]
    for name, kw in int8:
        p = os.path.join(d, name.split(" ")[0] + ".onnx")
        t0 = time.perf_counter()
        Q.quantize(args.fp32, xc, p, **kw)
        build_s[name] = time.perf_counter() - t0
        cands[name] = (p, {})
    # Dynamic quantisation (ConvInteger) of the original graph, for the record.
    p13 = os.path.join(d, "op13.onnx")
    onnx.save(onnx.version_converter.convert_version(onnx.load(args.fp32), 13), p13)
    pdyn = os.path.join(d, "dyn.onnx")
    t0 = time.perf_counter()
    quantize_dynamic(p13, pdyn, weight_type=QuantType.QUInt8)
    build_s["dyn-u8"] = time.perf_counter() - t0
    cands["dyn-u8"] = (pdyn, {})

    ref = C.predict(fm, xe)
    acc, runners = {}, {}
    for name, (p, kw) in cands.items():
        s = C.session(p, **kw)
        acc[name] = C.accuracy(ref, C.predict(s, xe))
        runners[name] = C.make_runner(s, xe[:1])
    if args.tflite:
        it = C.tflite_interpreter(args.tflite)
        if it is not None:
            acc["tflite-xnnpack"] = C.accuracy(ref, C.tflite_predict(it, xe))
            runners["tflite-xnnpack"] = C.tflite_runner(it, xe[:1])

    l0 = os.getloadavg()
    times = C.bench(runners, args.rounds, args.iters)
    l1 = os.getloadavg()
    summ = C.summarize(times, "fp32")
    print(f"load average before {l0[0]:.2f}/{l0[1]:.2f}, after {l1[0]:.2f}/{l1[1]:.2f}; {os.cpu_count()} CPUs; "
          f"{args.rounds}x{args.iters} runs each")
    print(f"{'config':26s} {'median ms':>9s} {'p10':>6s} {'p90':>6s} {'ratio':>6s} {'NME med%':>9s} {'NME max%':>9s} "
          f"{'pres.diff':>9s} {'build s':>7s}")
    for k in runners:
        t, a = summ[k], acc[k]
        b = f"{build_s[k]:7.1f}" if k in build_s else " " * 7
        print(f"{k:26s} {t['median_ms']:9.3f} {t['p10_ms']:6.2f} {t['p90_ms']:6.2f} {t['ratio_to_ref']:6.3f} "
              f"{a['nme_median_pct']:9.5f} {a['nme_worst_pct']:9.5f} {a['presence_maxdiff']:9.5f} {b}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"timing": summ, "accuracy": acc, "build_s": build_s, "load": [l0, l1]}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
