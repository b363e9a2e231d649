"""Make int8 versions of the random-weight Depth Anything V2 ViT-S/DPT stand-in, reproducibly.

The fp32 input is the architecture-faithful stand-in of `make_depth_vits_dpt.py` (RANDOM
weights: what its int8 versions say is how much int8 perturbs this architecture's output and
how fast it runs, never anything about real depth quality).

Usage:
    python quantize_depth.py FP32.onnx --out-dir DIR [--variants dynamic,qdq,mixed]
        [--size 252] [--calib 8] [--seed 0]
    python quantize_depth.py FP32.onnx --profile MODEL.onnx [MODEL.onnx ...]
        (ORT's profiler, 1 thread: each model's time per operator type, as shares)
    python quantize_depth.py FP32.onnx --conv-groups
        (which DPT-head convolutions cost the QDQ model its agreement: each group of Conv
        quantised alone, Pearson of the output with fp32 on held-out SYNTHETIC inputs)

Writes `DIR/<fp32 stem>_int8_<variant>.onnx` for each variant (under a `.partial` name, then
renamed) and prints each file's sha256. Needs onnx, numpy and onnxruntime (the quantisation
tool; use the version the app ships, 1.31.1, so that its graph optimiser and the runtime
agree).

Variants (all start from `quant_pre_process`: ORT basic optimisation + ONNX shape inference):

- `dynamic`: `quantize_dynamic` of the MatMuls with a constant weight (the 48 encoder Linear
  layers: qkv, proj, fc1, fc2 of 12 blocks), int8 weights per tensor, activations quantised
  at run time (ORT fuses each into DynamicQuantizeMatMul). No calibration data. The DPT head's
  convolutions and the attention's two activation x activation MatMuls per block stay fp32
  (ORT's CPU provider has no ConvInteger kernel, so dynamic Conv cannot run at all).
- `qdq`: `quantize_static`, QDQ format, the same 48 MatMuls plus every Conv (DPT head and
  patch embedding), int8 weights per output channel, uint8 activations, MinMax ranges
  calibrated on `--calib` SYNTHETIC images (below). The attention MatMuls are excluded: with
  them quantised ORT also turns the Softmax between them into QLinearSoftmax, which is slower
  than the fp32 Softmax plus MatMuls it replaces.
- `mixed`: Conv through static QDQ as in `qdq` (calibrated the same way), then the 48 weight
  MatMuls through `quantize_dynamic` as in `dynamic`.

Calibration data (SYNTHETIC, generated here, numpy PCG64 seeded by `--seed`): `--size`
square RGB images laid out like the depth stage's crop (the face box spans half the crop,
`context_scale` 2): a smooth random-colour background (a 6x6 grid of random colours,
bilinearly upsampled) with pixel noise, a face-coloured ellipse centred on the crop with a
random skin tone, directional shading and jitter, two dark eye ellipses and a mouth, then
ImageNet normalisation exactly as `core::passive::depth` does it (RGB/255 - mean) / std.
No real photo is used, so the fixtures the bench measures on are never calibration data.

Determinism: calibration runs once, every activation range from ORT's calibration cache is
snapped outward onto a coarse grid (2^-6 of its magnitude) and the model is quantised again
from the snapped cache, so last-bit differences of fp32 calibration inference on another CPU
cannot change a scale or zero point. Outputs are canonicalised (sorted initialisers and
value_info, no doc strings). Two runs give the same bytes.
"""

import argparse
import hashlib
import math
import os
import sys
import tempfile

import numpy as np

INPUT = "pixel_values"
MEAN = np.array([0.485, 0.456, 0.406], np.float32)
STD = np.array([0.229, 0.224, 0.225], np.float32)
VARIANTS = ("dynamic", "qdq", "mixed")
SNAP_BITS = 6


# ---------------------------------------------------------------------------------------------
# SYNTHETIC calibration images


def _upsample(grid, n):
    """Bilinear upsampling of a [g, g, 3] grid to [n, n, 3] (align-corners)."""
    g = grid.shape[0]
    t = np.linspace(0.0, g - 1.0, n)
    i0 = np.clip(np.floor(t).astype(int), 0, g - 2)
    f = (t - i0)[:, None]
    rows = grid[i0] * (1 - f[:, :, None]) + grid[i0 + 1] * f[:, :, None]  # [n, g, 3]
    cols = rows[:, i0] * (1 - f.T[:, :, None]) + rows[:, i0 + 1] * f.T[:, :, None]
    return cols


def synthetic_image(rng, n):
    """One SYNTHETIC face-like crop, float32 [n, n, 3] in 0..255."""
    img = _upsample(rng.uniform(20, 235, (6, 6, 3)), n)
    img += rng.normal(0.0, 6.0, img.shape)
    yy, xx = np.mgrid[0:n, 0:n].astype(np.float64)
    c = (n - 1) / 2.0
    cx = c + rng.uniform(-0.04, 0.04) * n
    cy = c + rng.uniform(-0.04, 0.04) * n
    rx = rng.uniform(0.19, 0.24) * n
    ry = rng.uniform(0.24, 0.29) * n
    u, v = (xx - cx) / rx, (yy - cy) / ry
    face = u * u + v * v <= 1.0
    skin = np.array([rng.uniform(150, 235), rng.uniform(100, 190), rng.uniform(80, 170)])
    # Directional light: brighter on one side, darker towards the rim.
    lx, ly = rng.uniform(-0.6, 0.6), rng.uniform(-0.6, 0.2)
    shade = 1.0 + 0.25 * (u * lx + v * ly) - 0.25 * np.clip(u * u + v * v, 0.0, 1.0)
    tex = rng.normal(0.0, 4.0, img.shape)
    img[face] = (skin[None, :] * shade[face][:, None] + tex[face])
    for ex in (-0.4, 0.4):
        eu, ev = (xx - (cx + ex * rx)) / (0.18 * rx), (yy - (cy - 0.25 * ry)) / (0.08 * ry)
        img[eu * eu + ev * ev <= 1.0] = rng.uniform(20, 70)
    mu, mv = (xx - cx) / (0.35 * rx), (yy - (cy + 0.5 * ry)) / (0.07 * ry)
    img[mu * mu + mv * mv <= 1.0] = skin * 0.55
    return np.clip(img, 0.0, 255.0).astype(np.float32)


def calibration_set(count, size, seed):
    """[count, 3, size, size] float32: SYNTHETIC images, ImageNet-normalised NCHW."""
    rng = np.random.Generator(np.random.PCG64(seed))
    out = np.empty((count, 3, size, size), np.float32)
    for k in range(count):
        x = (synthetic_image(rng, size) / 255.0 - MEAN) / STD
        out[k] = x.transpose(2, 0, 1)
    return out


class _Reader:
    def __init__(self, x):
        self.x = x
        self.i = 0

    def get_next(self):
        if self.i >= len(self.x):
            return None
        d = {INPUT: self.x[self.i : self.i + 1]}
        self.i += 1
        return d

    def rewind(self):
        self.i = 0


# ---------------------------------------------------------------------------------------------
# Quantisation


def snap_range(lo, hi, bits=SNAP_BITS):
    """Widen [lo, hi] to a grid of 2^(e-bits) where 2^e >= max(|lo|, |hi|)."""
    m = max(abs(float(lo)), abs(float(hi)), 1e-8)
    step = 2.0 ** (math.ceil(math.log2(m)) - bits)
    return math.floor(float(lo) / step) * step, math.ceil(float(hi) / step) * step


def canonicalize(model):
    g = model.graph
    inits = sorted(g.initializer, key=lambda t: t.name)
    del g.initializer[:]
    g.initializer.extend(inits)
    infos = sorted(g.value_info, key=lambda v: v.name)
    del g.value_info[:]
    g.value_info.extend(infos)
    model.doc_string = ""
    g.doc_string = ""
    for node in g.node:
        node.doc_string = ""
    return model


def weight_matmuls(model):
    """(names of MatMuls with a constant weight, names of activation x activation MatMuls)."""
    inits = {t.name for t in model.graph.initializer}
    weight, act = [], []
    for n in model.graph.node:
        if n.op_type == "MatMul":
            (weight if any(i in inits for i in n.input) else act).append(n.name)
    return weight, act


def static_qdq(pre, out, calib, op_types, exclude, workdir):
    """quantize_static (QDQ, per-channel s8 weights, u8 activations, MinMax), snapped ranges."""
    from onnxruntime import quantization as q
    from onnxruntime.quantization.calibrate import (
        TensorData,
        TensorsData,
        load_tensors_data,
        save_tensors_data,
    )

    def run(reader, cache):
        q.quantize_static(
            pre,
            out,
            reader,
            quant_format=q.QuantFormat.QDQ,
            op_types_to_quantize=list(op_types),
            per_channel=True,
            reduce_range=False,
            activation_type=q.QuantType.QUInt8,
            weight_type=q.QuantType.QInt8,
            calibrate_method=q.CalibrationMethod.MinMax,
            nodes_to_exclude=sorted(exclude),
            calibration_cache_path=cache,
        )

    cache = os.path.join(workdir, "calib_" + "_".join(op_types) + ".json")
    if os.path.exists(cache):
        os.remove(cache)
    run(_Reader(calib), cache)
    td = load_tensors_data(cache)
    snapped = {}
    for name in sorted(td.keys()):
        lo, hi = td[name].range_value
        lo, hi = float(np.min(lo)), float(np.max(hi))
        lo, hi = snap_range(min(lo, 0.0), max(hi, 0.0))
        snapped[name] = TensorData(lowest=np.float32(lo), highest=np.float32(hi))
    save_tensors_data(TensorsData(td.calibration_method, snapped), cache)
    run(None, cache)


def dynamic_matmul(src, out, nodes):
    from onnxruntime import quantization as q

    q.quantize_dynamic(
        src,
        out,
        op_types_to_quantize=["MatMul"],
        nodes_to_quantize=sorted(nodes),
        per_channel=False,
        reduce_range=False,
        weight_type=q.QuantType.QInt8,
        extra_options={"MatMulConstBOnly": True},
    )


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def finish(tmp, final):
    """Canonicalise and check `tmp`, write it under `final`.partial, rename onto `final`."""
    import onnx

    m = canonicalize(onnx.load(tmp))
    onnx.checker.check_model(m)
    partial = final + ".partial"
    with open(partial, "wb") as f:
        f.write(m.SerializeToString(deterministic=True))
    os.replace(partial, final)


def _session(path, profile_prefix=None):
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    if profile_prefix:
        so.enable_profiling = True
        so.profile_file_prefix = profile_prefix
    return ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])


def profile(paths, size, runs=4):
    """Per-operator-type time shares from ORT's profiler (1 thread, `runs` runs after one
    warm-up, one SYNTHETIC input). Timing for ratios belongs to the Rust bench; this says
    where the time goes."""
    import collections
    import json

    x = calibration_set(1, size, 12345)
    with tempfile.TemporaryDirectory(prefix="depthprof_") as work:
        for p in paths:
            s = _session(p, os.path.join(work, "prof"))
            for _ in range(runs + 1):
                s.run(None, {INPUT: x})
            with open(s.end_profiling()) as f:
                events = json.load(f)
            kernels = [e for e in events if e.get("cat") == "Node" and e["name"].endswith("_kernel_time")]
            per_run = len(kernels) // (runs + 1)
            agg = collections.Counter()
            for e in kernels[per_run:]:  # the first run is a warm-up
                agg[e["args"]["op_name"]] += e["dur"]
            total = sum(agg.values())
            print(f"{p}: {total / runs / 1e3:.1f} ms per run in kernels (1 thread, {runs} runs)")
            for op, us in agg.most_common(16):
                print(f"   {op:<28} {us / runs / 1e3:8.1f} ms {100.0 * us / total:5.1f} %")


def conv_groups(fp32, size, calib_count, seed):
    """Pearson (mean over 3 held-out SYNTHETIC inputs) of the output with fp32 when only one
    group of convolutions is quantised (static QDQ as in `qdq`), and when all are."""
    import onnx
    from onnxruntime.quantization.shape_inference import quant_pre_process

    calib = calibration_set(calib_count, size, seed)
    test = calibration_set(3, size, seed + 99)
    ref_s = _session(fp32)
    ref = [ref_s.run(None, {INPUT: test[i : i + 1]})[0].ravel() for i in range(len(test))]

    def agreement(path):
        s = _session(path)
        outs = [s.run(None, {INPUT: test[i : i + 1]})[0].ravel() for i in range(len(test))]
        return float(np.mean([np.corrcoef(r, o)[0, 1] for r, o in zip(ref, outs)]))

    with tempfile.TemporaryDirectory(prefix="depthgroups_") as work:
        pre = os.path.join(work, "pre.onnx")
        quant_pre_process(fp32, pre, skip_symbolic_shape=True)
        m = onnx.load(pre)
        inits = {t.name: list(t.dims) for t in m.graph.initializer}
        convs = [n for n in m.graph.node if n.op_type == "Conv"]
        names = [n.name for n in convs]
        # Graph order of make_depth_vits_dpt.py: patch embedding, then per tap projection
        # (1x1 from 384) and resize conv, the four layerN_rn (3x3 to 64, no bias), the
        # refinenets (64 -> 64), and the three output convs at the end.
        head_out = names[-3:]
        patch = names[:1]
        proj = [n.name for n in convs[1:] if inits[n.input[1]][1] == 384 and n.name not in head_out
                and inits[n.input[1]][0] != 64]
        rn = [n.name for n in convs if inits[n.input[1]][0] == 64 and inits[n.input[1]][1] != 64]
        refine = [x for x in names if x not in set(patch + proj + rn + head_out)]
        groups = [("patch embedding", patch), ("projections + resize", proj), ("layerN_rn", rn),
                  ("refinenets", refine), ("output convs", head_out), ("all convolutions", names)]
        for label, only in groups:
            out = os.path.join(work, "g.onnx")
            static_qdq(pre, out, calib, ("Conv",), [x for x in names if x not in only], work)
            print(f"{label:<22} ({len(only):2d} Conv) quantised alone: Pearson {agreement(out):.5f}", flush=True)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("fp32", help="the fp32 stand-in (make_depth_vits_dpt.py OUT --size 252)")
    ap.add_argument("--out-dir", help="where the int8 models go")
    ap.add_argument("--profile", nargs="+", metavar="MODEL", help="profile these models and exit")
    ap.add_argument("--conv-groups", action="store_true", help="Conv-group sensitivity, then exit")
    ap.add_argument("--variants", default=",".join(VARIANTS))
    ap.add_argument("--size", type=int, default=252, help="calibration input side (the depth stage's)")
    ap.add_argument("--calib", type=int, default=8, help="number of SYNTHETIC calibration images")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    variants = [v for v in args.variants.split(",") if v]
    bad = [v for v in variants if v not in VARIANTS]
    if bad:
        ap.error(f"unknown variants {bad}: expected some of {list(VARIANTS)}")
    if args.size % 14 or args.size <= 0:
        ap.error(f"--size {args.size}: expected a positive multiple of 14")

    if args.profile:
        profile(args.profile, args.size)
        return 0
    if args.conv_groups:
        conv_groups(args.fp32, args.size, args.calib, args.seed)
        return 0
    if not args.out_dir:
        ap.error("--out-dir is required to write int8 models")

    import onnx
    import onnxruntime
    from onnxruntime.quantization.shape_inference import quant_pre_process

    os.makedirs(args.out_dir, exist_ok=True)
    stem = os.path.splitext(os.path.basename(args.fp32))[0]
    print(f"onnxruntime {onnxruntime.__version__}, onnx {onnx.__version__}, numpy {np.__version__}")
    print(f"fp32 {args.fp32}: sha256 {sha256(args.fp32)}")
    with tempfile.TemporaryDirectory(prefix="depthq_") as work:
        pre = os.path.join(work, "pre.onnx")
        quant_pre_process(args.fp32, pre, skip_symbolic_shape=True)
        weight, act = weight_matmuls(onnx.load(pre))
        print(f"{len(weight)} weight MatMuls quantised, {len(act)} attention MatMuls kept fp32")
        calib = None
        if any(v in ("qdq", "mixed") for v in variants):
            calib = calibration_set(args.calib, args.size, args.seed)
            print(f"calibration: {args.calib} SYNTHETIC {args.size}x{args.size} images, seed {args.seed}")
        for v in variants:
            tmp = os.path.join(work, f"{v}.onnx")
            if v == "dynamic":
                dynamic_matmul(pre, tmp, weight)
            elif v == "qdq":
                static_qdq(pre, tmp, calib, ("MatMul", "Conv"), act, work)
            else:
                conv = os.path.join(work, "conv_qdq.onnx")
                static_qdq(pre, conv, calib, ("Conv",), (), work)
                # quantize_dynamic only touches nodes whose names it is given: the weight
                # MatMuls keep their names through the Conv-only static pass.
                dynamic_matmul(conv, tmp, weight)
            final = os.path.join(args.out_dir, f"{stem}_int8_{v}.onnx")
            finish(tmp, final)
            print(f"{v}: {final}: {os.path.getsize(final)} bytes, sha256 {sha256(final)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
