"""Time FaceMesh ONNX models side by side (fp32 vs int8 ...) and measure landmark parity.

Usage:
    python facemesh_speed_compare.py --fp32 face_landmark.onnx --model int8=face_landmark_int8.onnx \
        [--model NAME=PATH ...] [--eval-images astronaut.png newton.png gauss.png] \
        [--rounds 40 --iters 10] [--json out.json]

Every model runs in ORT's CPU EP with intra_op_num_threads=1, inter_op_num_threads=1 and
ORT_ENABLE_ALL. The timing alternates the models in rounds (each round runs every model
`--iters` times, in a rotated order) so that load from other processes on the machine hits
all of them alike; the medians and their ratio to fp32 come from the same run. Input is one
real face crop; sessions are warmed up first.

Accuracy: on the evaluation crops (SCRFD + landmark-refined ROIs of the evaluation images
plus deterministic augmentations, see quantize_facemesh.py), NME of each model's 468 2D
landmarks against the fp32 model's = mean point distance / distance between landmarks 33
and 263 (of the fp32 output), in %, reported as median and worst crop; plus the largest
absolute difference of the face-presence logit.

Options:
  --rewrite            also time the exact fp32 graph rewrite (facemesh_speed_rewrite.py,
                       PRelu -> NCHWc-friendly ops), built on the fly into a temp file;
  --tflite PATH        also time the same model in TFLite (ai_edge_litert, XNNPACK delegate,
                       1 thread), if ai_edge_litert is importable in this interpreter;
  --spin-variants      also time allow_spinning=0 twins of every ONNX model.
"""

import argparse
import json
import os
import statistics
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import quantize_facemesh as qf  # noqa: E402

FIX = os.path.expanduser("~/.cache/liveproof/fixtures")
MODELS = os.path.expanduser("~/.cache/liveproof/models")


def session(path, spinning=None, opt_level="ALL", threads=1, config=None, optimized_out=None):
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.graph_optimization_level = {
        "DISABLE": ort.GraphOptimizationLevel.ORT_DISABLE_ALL,
        "BASIC": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
        "EXTENDED": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
        "LAYOUT": getattr(ort.GraphOptimizationLevel, "ORT_ENABLE_LAYOUT", ort.GraphOptimizationLevel.ORT_ENABLE_ALL),
        "ALL": ort.GraphOptimizationLevel.ORT_ENABLE_ALL,
    }[opt_level]
    if spinning is not None:
        so.add_session_config_entry("session.intra_op.allow_spinning", "1" if spinning else "0")
    for k, v in (config or {}).items():
        so.add_session_config_entry(k, v)
    if optimized_out:
        so.optimized_model_filepath = optimized_out
    return ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])


def make_runner(sess, x):
    """A zero-argument callable running one inference with IO binding (low Python overhead)."""
    name = sess.get_inputs()[0].name
    shape = sess.get_inputs()[0].shape
    if len(shape) == 4 and shape[-1] == 3:  # NHWC variant
        x = np.ascontiguousarray(x.transpose(0, 2, 3, 1))
    binding = sess.io_binding()
    binding.bind_cpu_input(name, x)
    for o in sess.get_outputs():
        binding.bind_output(o.name)

    def run():
        sess.run_with_iobinding(binding)

    return run


def bench(runners, rounds=40, iters=10, warmup=30):
    """runners: dict name -> callable. Alternating rounds; returns name -> list of ms."""
    names = list(runners)
    for n in names:
        for _ in range(warmup):
            runners[n]()
    times = {n: [] for n in names}
    pc = time.perf_counter
    for r in range(rounds):
        order = names[r % len(names):] + names[: r % len(names)]
        for n in order:
            f = runners[n]
            for _ in range(iters):
                t0 = pc()
                f()
                times[n].append((pc() - t0) * 1000.0)
    return times


def summarize(times, ref):
    out = {}
    med_ref = statistics.median(times[ref])
    for n, v in times.items():
        s = sorted(v)
        med = statistics.median(s)
        out[n] = {
            "n": len(s),
            "median_ms": med,
            "p10_ms": s[int(0.1 * (len(s) - 1))],
            "p90_ms": s[int(0.9 * (len(s) - 1))],
            "min_ms": s[0],
            "ratio_to_ref": med / med_ref,
        }
    return out


def predict(sess, x, batch=1):
    name = sess.get_inputs()[0].name
    nhwc = sess.get_inputs()[0].shape[-1] == 3
    lms, prs = [], []
    outs = [o.name for o in sess.get_outputs()]
    lm_name = "conv2d_20" if "conv2d_20" in outs else outs[0]
    pr_name = "conv2d_30" if "conv2d_30" in outs else outs[1]
    for i in range(0, len(x), batch):
        xi = x[i : i + batch]
        if nhwc:
            xi = np.ascontiguousarray(xi.transpose(0, 2, 3, 1))
        lm, pr = sess.run([lm_name, pr_name], {name: xi})
        lms.append(lm.reshape(-1, 468, 3))
        prs.append(pr.reshape(-1))
    return np.concatenate(lms), np.concatenate(prs)


def nme(ref_lm, lm):
    """Per-crop NME in % (2D, normalised by the fp32 distance between landmarks 33 and 263)."""
    d = np.linalg.norm(ref_lm[:, :, :2] - lm[:, :, :2], axis=2).mean(1)
    iod = np.linalg.norm(ref_lm[:, 33, :2] - ref_lm[:, 263, :2], axis=1)
    return 100.0 * d / iod


def accuracy(ref, cand):
    e = nme(ref[0], cand[0])
    return {
        "nme_median_pct": float(np.median(e)),
        "nme_mean_pct": float(np.mean(e)),
        "nme_worst_pct": float(np.max(e)),
        "presence_maxdiff": float(np.max(np.abs(ref[1] - cand[1]))),
        "presence_meandiff": float(np.mean(np.abs(ref[1] - cand[1]))),
    }


def tflite_interpreter(path):
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        return None
    it = Interpreter(model_path=path, num_threads=1)  # XNNPACK delegate is applied by default
    it.allocate_tensors()
    return it


def _tflite_outputs(it):
    outs = {o["name"]: o["index"] for o in it.get_output_details()}
    return outs.get("conv2d_20", list(outs.values())[0]), outs.get("conv2d_30", list(outs.values())[1])


def tflite_predict(it, x):
    inp = it.get_input_details()[0]["index"]
    lm_i, pr_i = _tflite_outputs(it)
    lms, prs = [], []
    for i in range(len(x)):
        it.set_tensor(inp, np.ascontiguousarray(x[i : i + 1].transpose(0, 2, 3, 1)))
        it.invoke()
        lms.append(it.get_tensor(lm_i).reshape(1, 468, 3))
        prs.append(it.get_tensor(pr_i).reshape(1))
    return np.concatenate(lms), np.concatenate(prs)


def tflite_runner(it, x1):
    """Input set once, like the ORT IO binding; each call is one invoke()."""
    it.set_tensor(it.get_input_details()[0]["index"], np.ascontiguousarray(x1.transpose(0, 2, 3, 1)))
    return it.invoke


def eval_crops(fp32_path, images, n_aug=32, seed=7, scrfd=None):
    fm = session(fp32_path)
    det = session(scrfd or os.path.join(MODELS, "scrfd.onnx"))
    x, n_faces = qf.build_crops(images, fm, det, n_aug, seed)
    return x, n_faces


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--fp32", default=os.path.join(MODELS, "face_landmark.onnx"))
    ap.add_argument("--model", action="append", default=[], help="NAME=PATH (repeatable)")
    ap.add_argument("--eval-images", nargs="+",
                    default=[os.path.join(FIX, f) for f in ("astronaut.png", "newton.png", "gauss.png")])
    ap.add_argument("--eval-crops", help="use crops from this .npy instead of building them")
    ap.add_argument("--augment", type=int, default=32)
    ap.add_argument("--rounds", type=int, default=40)
    ap.add_argument("--iters", type=int, default=10)
    ap.add_argument("--spin-variants", action="store_true", help="also time allow_spinning=0 twins")
    ap.add_argument("--rewrite", action="store_true", help="also time the rewritten fp32 graph")
    ap.add_argument("--tflite", help="also time this .tflite with ai_edge_litert (XNNPACK, 1 thread)")
    ap.add_argument("--json")
    args = ap.parse_args(argv)

    if args.eval_crops:
        x = np.load(args.eval_crops)
        nf = "?"
    else:
        x, nf = eval_crops(args.fp32, args.eval_images, args.augment)
    print(f"evaluation crops: {len(x)} from {nf} faces", file=sys.stderr)

    paths = {"fp32": args.fp32}
    tmp = None
    if args.rewrite:
        import tempfile

        import onnx

        import facemesh_speed_rewrite as rw

        tmp = tempfile.TemporaryDirectory(prefix="fmrw_")
        paths["fp32-rewrite"] = os.path.join(tmp.name, "rewrite.onnx")
        onnx.save(rw.rewrite(onnx.load(args.fp32)), paths["fp32-rewrite"])
    for m in args.model:
        k, v = m.split("=", 1)
        paths[k] = v
    sessions = {k: session(p) for k, p in paths.items()}
    if args.spin_variants:
        for k, p in list(paths.items()):
            sessions[k + "/nospin"] = session(p, spinning=False)

    ref = predict(sessions["fp32"], x)
    acc = {k: accuracy(ref, predict(s, x)) for k, s in sessions.items()}
    runners = {k: make_runner(s, x[:1]) for k, s in sessions.items()}
    if args.tflite:
        tfl = tflite_interpreter(args.tflite)
        if tfl is None:
            print("ai_edge_litert not importable: skipping --tflite", file=sys.stderr)
        else:
            acc["tflite-xnnpack"] = accuracy(ref, tflite_predict(tfl, x))
            runners["tflite-xnnpack"] = tflite_runner(tfl, x[:1])

    load0 = os.getloadavg()
    times = bench(runners, args.rounds, args.iters)
    load1 = os.getloadavg()
    summ = summarize(times, "fp32")

    print(f"load average before {load0[0]:.2f} {load0[1]:.2f}, after {load1[0]:.2f} {load1[1]:.2f}; "
          f"{os.cpu_count()} CPUs")
    print(f"{'model':24s} {'median ms':>9s} {'p10':>6s} {'p90':>6s} {'ratio':>6s} "
          f"{'NME med%':>8s} {'NME max%':>8s} {'pres.diff':>9s}")
    for k in runners:
        t, a = summ[k], acc[k]
        print(f"{k:24s} {t['median_ms']:9.3f} {t['p10_ms']:6.2f} {t['p90_ms']:6.2f} {t['ratio_to_ref']:6.3f} "
              f"{a['nme_median_pct']:8.3f} {a['nme_worst_pct']:8.3f} {a['presence_maxdiff']:9.4f}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"timing": summ, "accuracy": acc, "load": [load0, load1], "paths": paths}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
