"""Build a static int8 FaceMesh model from the fp32 `face_landmark.onnx`, reproducibly.

Usage:
    python quantize_facemesh.py --fp32 face_landmark.onnx --out face_landmark_int8.onnx \
        --calib-images solvay_conference_1927.jpg [more images ...] [--scrfd scrfd.onnx]

Needs only: onnx, onnxruntime==1.31.1, numpy, pillow (pinned versions in the report /
setup). No mediapipe, no OpenCV.

Measured result (ORT 1.31.1, 1 thread, AVX-512 EPYC, see facemesh_speed_sweep.py): the int8
model from this script runs at ~0.61x the time of the original fp32 model, but the *exact*
fp32 rewrite of facemesh_speed_rewrite.py runs at ~0.34x. Prefer the fp32 rewrite; this
script stays for CPUs/EPs where int8 pays off, and as the measured alternative.

What it does, all deterministic:
1. Finds faces in each calibration image with SCRFD (`scrfd.onnx`, tiled for big images,
   NMS), and turns each detection into a MediaPipe-style face ROI (square, 1.5x, rotated so
   the eyes are level).
2. Refines every ROI twice with the fp32 landmark model itself, exactly like MediaPipe's
   tracking mode (axis-aligned box of the 468 landmarks, rotation from landmark 33 to 263,
   scale 1.5, square_long), and keeps faces whose presence score is > 0.5. ROI parameters
   are rounded (1/16 px, 1e-4 rad).
3. Makes `--augment` variants of each ROI (rotation +-20 deg, scale +-15%, shift +-6%,
   brightness/contrast, colour tint for grayscale sources; numpy PCG64 with a fixed seed)
   and crops them to 192x192 by bilinear sampling with edge clamping.
4. Rewrites the graph exactly (facemesh_speed_rewrite.py, `--prelu dwconv`): PRelu becomes
   1x1 depthwise Conv/Relu/Add, so everything quantises to QLinearConv/QLinearAdd (ORT has
   no int8 PRelu; left alone, each PRelu runs in fp32 between DequantizeLinear and
   QuantizeLinear and the int8 model is slower than fp32). Upgrades to opset 13 (per-channel
   DequantizeLinear needs it) and runs `quant_pre_process`.
5. Runs `quantize_static` (RECIPE: QDQ, per-channel int8 weights, uint8 activations, MinMax)
   writing ORT's calibration cache, snaps every cached activation range outward onto a
   coarse grid (so last-bit differences of fp32 calibration inference on another CPU
   cannot change a scale or zero point), and quantises again from the snapped cache.
6. Canonicalises the output (sorted initializers / value_info, no doc strings) so its
   sha256 can be pinned. Two runs from scratch give the same bytes.
"""

import argparse
import hashlib
import math
import os
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

CROP = 192
LM_EYE_R = 33  # image-left eye outer corner
LM_EYE_L = 263

# ---------------------------------------------------------------------------------------------
# Images


def load_rgb(path):
    """Decode an image to HxWx3 uint8 RGB (grayscale is replicated)."""
    from PIL import Image

    with Image.open(path) as im:
        im = im.convert("RGB")
        return np.asarray(im, dtype=np.uint8).copy()


# ---------------------------------------------------------------------------------------------
# SCRFD face detection (InsightFace ONNX interface: input.1 [1,3,640,640], (x-127.5)/128 RGB)


def _nms(boxes, scores, thr):
    order = np.argsort(-scores, kind="stable")
    keep = []
    while order.size:
        i = order[0]
        keep.append(i)
        if order.size == 1:
            break
        rest = order[1:]
        xx1 = np.maximum(boxes[i, 0], boxes[rest, 0])
        yy1 = np.maximum(boxes[i, 1], boxes[rest, 1])
        xx2 = np.minimum(boxes[i, 2], boxes[rest, 2])
        yy2 = np.minimum(boxes[i, 3], boxes[rest, 3])
        inter = np.clip(xx2 - xx1, 0, None) * np.clip(yy2 - yy1, 0, None)
        area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
        iou = inter / (area[i] + area[rest] - inter + 1e-9)
        order = rest[iou <= thr]
    return np.array(keep, dtype=np.int64)


def _resize_bilinear(img, out_w, out_h):
    """Plain bilinear resize of HxWx3 uint8 to float32 (half-pixel centres, edge clamp)."""
    h, w = img.shape[:2]
    sx = w / out_w
    sy = h / out_h
    xs = (np.arange(out_w) + 0.5) * sx - 0.5
    ys = (np.arange(out_h) + 0.5) * sy - 0.5
    X, Y = np.meshgrid(xs, ys)
    return _sample(img, X, Y)


def _sample(img, X, Y):
    """Bilinear sample HxWxC uint8 at float coords X, Y (same shape), clamped to the edges."""
    h, w = img.shape[:2]
    X = np.clip(X, 0, w - 1)
    Y = np.clip(Y, 0, h - 1)
    x0 = np.floor(X).astype(np.int64)
    y0 = np.floor(Y).astype(np.int64)
    x1 = np.minimum(x0 + 1, w - 1)
    y1 = np.minimum(y0 + 1, h - 1)
    fx = (X - x0)[..., None]
    fy = (Y - y0)[..., None]
    f = img.astype(np.float64)
    top = f[y0, x0] * (1 - fx) + f[y0, x1] * fx
    bot = f[y1, x0] * (1 - fx) + f[y1, x1] * fx
    return (top * (1 - fy) + bot * fy).astype(np.float32)


def scrfd_detect(sess, img, score_thr=0.5, nms_thr=0.4):
    """Return list of (box[4], kps[5,2], score) in image pixels. Tiles big images."""
    h, w = img.shape[:2]
    tiles = [(0, 0, w, h)]
    if max(w, h) > 1280:
        t = 960
        step = 720
        for y in range(0, max(h - t, 0) + step, step):
            for x in range(0, max(w - t, 0) + step, step):
                tiles.append((x, y, min(x + t, w), min(y + t, h)))
    allb, alls, allk = [], [], []
    for (x0, y0, x1, y1) in tiles:
        sub = img[y0:y1, x0:x1]
        sh, sw = sub.shape[:2]
        scale = 640.0 / max(sh, sw)
        nw, nh = int(round(sw * scale)), int(round(sh * scale))
        rs = _resize_bilinear(sub, nw, nh)
        canvas = np.zeros((640, 640, 3), np.float32)
        canvas[:nh, :nw] = (rs - 127.5) / 128.0
        canvas[nh:, :] = 0.0
        canvas[:, nw:] = 0.0
        inp = canvas.transpose(2, 0, 1)[None].astype(np.float32)
        outs = dict(zip([o.name for o in sess.get_outputs()], sess.run(None, {sess.get_inputs()[0].name: inp})))
        for stride in (8, 16, 32):
            sc = outs[f"score_{stride}"].reshape(-1)
            bb = outs[f"bbox_{stride}"].reshape(-1, 4) * stride
            kp = outs[f"kps_{stride}"].reshape(-1, 10) * stride
            n = 640 // stride
            gy, gx = np.mgrid[0:n, 0:n]
            centers = np.stack([gx, gy], -1).reshape(-1, 2).astype(np.float32) * stride
            centers = np.repeat(centers, 2, axis=0)
            m = sc >= score_thr
            if not m.any():
                continue
            c = centers[m]
            b = np.concatenate([c - bb[m, :2], c + bb[m, 2:]], 1) / scale
            k = (c[:, None, :] + kp[m].reshape(-1, 5, 2)) / scale
            off = np.array([x0, y0], np.float32)
            b[:, :2] += off
            b[:, 2:] += off
            k += off
            allb.append(b)
            alls.append(sc[m])
            allk.append(k)
    if not allb:
        return []
    B = np.concatenate(allb)
    S = np.concatenate(alls)
    K = np.concatenate(allk)
    keep = _nms(B.astype(np.float64), S.astype(np.float64), nms_thr)
    # Sort faces left-to-right, top-to-bottom for a stable order.
    dets = [(B[i].astype(np.float64), K[i].astype(np.float64), float(S[i])) for i in keep]
    dets.sort(key=lambda d: (round(d[0][1] / 50.0), d[0][0]))
    return dets


# ---------------------------------------------------------------------------------------------
# ROIs (MediaPipe conventions) and crops


def _norm_angle(a):
    return a - 2 * math.pi * math.floor((a + math.pi) / (2 * math.pi))


def roi_from_detection(box, kps):
    """Square ROI (cx, cy, size, rotation) from a face box and eyes: scale 1.5, square_long."""
    x0, y0, x1, y1 = box
    (ex0, ey0), (ex1, ey1) = kps[0], kps[1]
    rot = _norm_angle(0.0 - math.atan2(-(ey1 - ey0), ex1 - ex0))
    size = max(x1 - x0, y1 - y0) * 1.5
    return ((x0 + x1) / 2.0, (y0 + y1) / 2.0, size, rot)


def roi_from_landmarks(pts):
    """MediaPipe tracking ROI from 468 image-space landmarks."""
    xmin, ymin = pts[:, 0].min(), pts[:, 1].min()
    xmax, ymax = pts[:, 0].max(), pts[:, 1].max()
    (ex0, ey0), (ex1, ey1) = pts[LM_EYE_R, :2], pts[LM_EYE_L, :2]
    rot = _norm_angle(0.0 - math.atan2(-(ey1 - ey0), ex1 - ex0))
    size = max(xmax - xmin, ymax - ymin) * 1.5
    return ((xmin + xmax) / 2.0, (ymin + ymax) / 2.0, size, rot)


def snap_roi(roi):
    """Round ROI parameters (1/16 px, 1e-4 rad) so tiny float differences don't propagate."""
    cx, cy, s, r = roi
    return (round(cx * 16) / 16, round(cy * 16) / 16, round(s * 16) / 16, round(r * 1e4) / 1e4)


def crop(img, roi):
    """192x192 float32 RGB crop in [0,1], HWC, of the rotated square ROI."""
    cx, cy, s, r = roi
    u = (np.arange(CROP) + 0.5) / CROP - 0.5
    U, V = np.meshgrid(u * s, u * s)
    c, sn = math.cos(r), math.sin(r)
    X = cx + U * c - V * sn - 0.5
    Y = cy + U * sn + V * c - 0.5
    return _sample(img, X, Y) / 255.0


def crop_to_image(lm, roi):
    """Landmarks in crop pixels ([468,3]) to image pixels (x, y only)."""
    cx, cy, s, r = roi
    dx = (lm[:, 0] / CROP - 0.5) * s
    dy = (lm[:, 1] / CROP - 0.5) * s
    c, sn = math.cos(r), math.sin(r)
    return np.stack([cx + dx * c - dy * sn, cy + dx * sn + dy * c], 1)


def to_nchw(crops_hwc):
    return np.ascontiguousarray(np.stack(crops_hwc).transpose(0, 3, 1, 2).astype(np.float32))


def run_landmarks(sess, x_nchw):
    lm, pres = sess.run(["conv2d_20", "conv2d_30"], {"input_1": x_nchw})
    return lm.reshape(-1, 468, 3), pres.reshape(-1)


def face_rois(img, scrfd_sess, fm_sess, refine=2):
    """Detected + landmark-refined face ROIs of one image, faces with presence > 0.5."""
    rois = []
    for box, kps, _ in scrfd_detect(scrfd_sess, img):
        roi = snap_roi(roi_from_detection(box, kps))
        ok = True
        for _ in range(refine):
            lm, pres = run_landmarks(fm_sess, to_nchw([crop(img, roi)]))
            if pres[0] <= 0.0:  # sigmoid(logit) <= 0.5
                ok = False
                break
            roi = snap_roi(roi_from_landmarks(crop_to_image(lm[0], roi)))
        if ok:
            rois.append(roi)
    return rois


def augment(img, roi, rng, n, strength=1.0):
    """n augmented crops of one ROI (first one un-augmented)."""
    out = []
    gray = bool(np.all(img[..., 0] == img[..., 1]) and np.all(img[..., 1] == img[..., 2]))
    for i in range(n):
        # Draw the same number of random values every time so streams stay aligned.
        d = rng.uniform(-1.0, 1.0, size=9)
        if i == 0:
            out.append(crop(img, roi))
            continue
        cx, cy, s, r = roi
        r2 = r + math.radians(20.0 * strength) * d[0]
        s2 = s * (1.0 + 0.15 * strength * d[1])
        cx2 = cx + 0.06 * strength * s * d[2]
        cy2 = cy + 0.06 * strength * s * d[3]
        c = crop(img, snap_roi((cx2, cy2, s2, r2)))
        gain = 1.0 + 0.3 * strength * d[4]
        bias = 0.08 * strength * d[5]
        c = (c - 0.5) * gain + 0.5 + bias
        if gray:  # grayscale source (e.g. the Solvay photo): add a mild colour cast
            tint = 1.0 + 0.12 * np.array([d[6], d[7], d[8]], dtype=np.float32)
            c = c * tint
        out.append(np.clip(c, 0.0, 1.0).astype(np.float32))
    return out


def build_crops(images, fm_sess, scrfd_sess, n_aug, seed, strength=1.0):
    """Deterministic NCHW float32 crops for a list of image paths."""
    rng = np.random.default_rng(seed)
    crops = []
    n_faces = 0
    for path in images:
        img = load_rgb(path)
        for roi in face_rois(img, scrfd_sess, fm_sess):
            crops.extend(augment(img, roi, rng, n_aug, strength))
            n_faces += 1
    return to_nchw(crops), n_faces


# ---------------------------------------------------------------------------------------------
# Quantisation

# The recipe picked by measurement (see the module docstring).
RECIPE = dict(
    rewrite="dwconv",
    quant_format="QDQ",
    per_channel=True,
    activation_type="QUInt8",
    weight_type="QInt8",
    reduce_range=False,
    calibrate_method="MinMax",
    exclude=(),
)


def snap_range(lo, hi, bits=6):
    """Widen [lo, hi] to a grid of 2^(e-bits) where 2^e >= max(|lo|,|hi|)."""
    m = max(abs(float(lo)), abs(float(hi)), 1e-8)
    step = 2.0 ** (math.ceil(math.log2(m)) - bits)
    return math.floor(float(lo) / step) * step, math.ceil(float(hi) / step) * step


class _Reader:
    def __init__(self, x, name="input_1"):
        self.x = x
        self.name = name
        self.i = 0

    def get_next(self):
        if self.i >= len(self.x):
            return None
        d = {self.name: self.x[self.i : self.i + 1]}
        self.i += 1
        return d

    def rewind(self):
        self.i = 0


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
    # quantize_static stamps producer_name/version (onnx.quantize / its own version): keep.
    return model


def quantize(fp32_path, calib_x, out_path, quant_format="QDQ", per_channel=True,
             activation_type="QUInt8", weight_type="QInt8", reduce_range=False,
             calibrate_method="MinMax", exclude=(), snap_bits=6, extra=None, workdir=None, opset=13,
             rewrite=None):
    """Static quantisation of fp32_path with calibration inputs calib_x [N,3,192,192]."""
    import onnx
    import onnx.version_converter
    from onnxruntime import quantization as q
    from onnxruntime.quantization.shape_inference import quant_pre_process

    own_tmp = None
    if workdir is None:
        own_tmp = tempfile.TemporaryDirectory(prefix="fmq_")
        workdir = own_tmp.name
    # tflite2onnx writes opset 11; per-channel DequantizeLinear (axis) needs opset >= 13.
    up = os.path.join(workdir, "opset.onnx")
    m = onnx.load(fp32_path)
    if rewrite:
        # PRelu -> Conv/Relu/Add identity (facemesh_speed_rewrite.py): without it ORT keeps
        # every PRelu in fp32 between DequantizeLinear/QuantizeLinear and the int8 model is
        # slower than fp32.
        import facemesh_speed_rewrite

        m = facemesh_speed_rewrite.rewrite(m, prelu=rewrite, pad="conv")
    if m.opset_import[0].version < opset:
        m = onnx.version_converter.convert_version(m, opset)
    onnx.save(m, up)
    pre = os.path.join(workdir, "pre.onnx")
    quant_pre_process(up, pre, skip_symbolic_shape=True)

    method = getattr(q.CalibrationMethod, calibrate_method)
    extra_options = dict(_calib_options(calibrate_method))
    if extra:
        extra_options.update(extra)
    nodes_to_exclude = sorted(_expand_exclude(onnx.load(pre), exclude))

    def run(reader, cache):
        q.quantize_static(
            pre,
            out_path,
            reader,
            quant_format=getattr(q.QuantFormat, quant_format),
            per_channel=per_channel,
            reduce_range=reduce_range,
            activation_type=getattr(q.QuantType, activation_type),
            weight_type=getattr(q.QuantType, weight_type),
            calibrate_method=method,
            nodes_to_exclude=nodes_to_exclude,
            extra_options=extra_options,
            calibration_cache_path=cache,
        )

    # Pass 1 calibrates and writes ORT's calibration cache (TensorsData as JSON).
    cache = os.path.join(workdir, "calib_cache.json")
    if os.path.exists(cache):
        os.remove(cache)
    run(_Reader(calib_x), cache)
    if snap_bits is not None:
        # Pass 2 re-quantises from the cache with every range snapped outward onto a coarse
        # grid, so last-bit differences in fp32 calibration inference (other CPU, other
        # kernels) cannot change any scale or zero point.
        from onnxruntime.quantization.calibrate import TensorData, TensorsData, load_tensors_data, save_tensors_data

        td = load_tensors_data(cache)
        snapped = {}
        for name in sorted(td.keys()):
            lo, hi = td[name].range_value
            lo, hi = float(np.min(lo)), float(np.max(hi))
            lo, hi = snap_range(min(lo, 0.0), max(hi, 0.0), snap_bits)
            snapped[name] = TensorData(lowest=np.float32(lo), highest=np.float32(hi))
        save_tensors_data(TensorsData(td.calibration_method, snapped), cache)
        run(None, cache)
    m = canonicalize(onnx.load(out_path))
    onnx.checker.check_model(m)
    onnx.save(m, out_path)
    if own_tmp is not None:
        own_tmp.cleanup()


def _calib_options(method):
    if method == "Percentile":
        return {"CalibPercentile": 99.999}
    if method == "Entropy":
        return {"CalibNumBins": 2048}
    return {}


def _expand_exclude(model, exclude):
    """exclude entries: node names, or 'first'/'last' (first conv, both output convs)."""
    names = set()
    convs = [n for n in model.graph.node if n.op_type == "Conv"]
    outs = {o.name for o in model.graph.output}
    for e in exclude:
        if e == "first":
            names.add(convs[0].name)
        elif e == "last":
            names.update(n.name for n in convs if n.output[0] in outs)
        elif e == "prelu":
            names.update(n.name for n in model.graph.node if n.op_type == "PRelu")
        else:
            names.add(e)
    return names


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--fp32", required=True)
    ap.add_argument("--calib-images", nargs="+", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--scrfd", default=os.path.expanduser("~/.cache/liveproof/models/scrfd.onnx"))
    ap.add_argument("--augment", type=int, default=8, help="crops per face (first is unaugmented)")
    ap.add_argument("--seed", type=int, default=20261124)
    ap.add_argument("--save-crops", help="also write the calibration crops to this .npy")
    ap.add_argument("--no-rewrite", action="store_true", help="quantise the graph as is (PRelu stays fp32)")
    ap.add_argument("--snap-bits", type=int, default=6, help="range grid: 2^-bits of the range magnitude")
    args = ap.parse_args(argv)

    import onnxruntime as ort

    t0 = time.perf_counter()
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    fm = ort.InferenceSession(args.fp32, so, providers=["CPUExecutionProvider"])
    det = ort.InferenceSession(args.scrfd, so, providers=["CPUExecutionProvider"])
    x, n_faces = build_crops(args.calib_images, fm, det, args.augment, args.seed)
    if n_faces == 0:
        print("quantize_facemesh: no faces found in the calibration images", file=sys.stderr)
        return 1
    t1 = time.perf_counter()
    print(f"calibration crops: {len(x)} from {n_faces} faces ({t1 - t0:.1f} s)", file=sys.stderr)
    if args.save_crops:
        np.save(args.save_crops, x)
    recipe = dict(RECIPE)
    if args.no_rewrite:
        recipe["rewrite"] = None
    quantize(args.fp32, x, args.out, snap_bits=args.snap_bits, **recipe)
    t2 = time.perf_counter()
    print(f"quantised in {t2 - t1:.1f} s -> {args.out}", file=sys.stderr)
    print(f"{sha256(args.out)}  {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
