"""Build an architecture-faithful Depth Anything V2 ViT-S/DPT ONNX with RANDOM weights.

For latency benchmarking only: the weights are seeded random numbers, so the output means
nothing. The graph follows Depth Anything V2 (`depth_anything_v2/dpt.py` + DINOv2 ViT-S/14):

- DINOv2 ViT-S/14 encoder: patch embedding Conv 3->384 (kernel 14, stride 14), class token,
  position embeddings for `--size` (default 518 -> 37x37 patches + 1), bicubically resized in
  the graph to the actual patch grid as DINOv2's `interpolate_pos_encoding` does (so H and W
  stay dynamic; the resize is the identity at `--size`), 12 pre-LayerNorm blocks (eps 1e-6):
  6-head self-attention (qkv Linear 384->1152, proj 384->384), LayerScale, MLP
  384->1536->384 with exact (erf) GELU, LayerScale; final LayerNorm.
- Outputs of blocks [2, 5, 8, 11], final-normed, class token dropped (DA-V2 `use_clstoken`
  is False), into the DPT head: 1x1 projections to [48, 96, 192, 384] channels, resize
  layers (ConvTranspose x4 / s4, ConvTranspose x2 / s2, identity, Conv 3x3 / s2), `layerN_rn`
  3x3 convs to 64 features (no bias), 4 feature-fusion blocks (residual conv units: ReLU,
  conv3x3, ReLU, conv3x3, + skip; bilinear align_corners upsampling to the next level's size,
  x2 for the last; 1x1 out conv), head: conv3x3 64->32, bilinear resize to (14 ph, 14 pw),
  conv3x3 32->32, ReLU, conv1x1 32->1, ReLU, squeeze -> [1, H, W].

I/O: `pixel_values` float [1, 3, H, W] (H, W multiples of 14) -> `predicted_depth` float
[1, H, W]. Opset 17 (LayerNormalization; GELU is written with Erf since Gelu needs opset 20).

The parameter count is printed: DA-V2 ViT-S is 24.8M (99 MB fp32). PyTorch's state dict also
holds DINOv2's `mask_token` (384) and `refinenet4.resConfUnit1` (73,856), which inference never
uses: they are counted in the printed total but not stored in the graph.

Usage: python make_depth_vits_dpt.py OUT.onnx [--size 518] [--seed 0] [--bench 518,252]
       (--bench needs onnxruntime: runs on 1 thread, prints the median of --runs runs)
"""

import argparse
import hashlib
import os
import sys
import time

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 17
IR_VERSION = 8
EMBED = 384
HEADS = 6
DEPTH = 12
MLP = 1536
PATCH = 14
TAPS = [2, 5, 8, 11]
OUT_CHANNELS = [48, 96, 192, 384]
FEATURES = 64
HEAD2 = 32
LN_EPS = 1e-6


class Builder:
    """Collects nodes and initialisers; counts parameters (initialisers that are weights)."""

    def __init__(self, seed: int):
        self.rng = np.random.default_rng(seed)
        self.nodes = []
        self.inits = []
        self.params = 0
        self.n = 0

    def name(self, base: str) -> str:
        self.n += 1
        return f"{base}_{self.n}"

    def weight(self, name: str, arr: np.ndarray) -> str:
        self.inits.append(numpy_helper.from_array(arr.astype(np.float32), name))
        self.params += arr.size
        return name

    def const(self, name: str, arr: np.ndarray) -> str:
        """A non-parameter constant (shapes, axes, scalars)."""
        self.inits.append(numpy_helper.from_array(arr, name))
        return name

    def randn(self, shape, std: float) -> np.ndarray:
        return (self.rng.standard_normal(shape) * std).astype(np.float32)

    def op(self, op_type: str, inputs, base: str = None, **attrs) -> str:
        out = self.name(base or op_type.lower())
        self.nodes.append(helper.make_node(op_type, list(inputs), [out], name=out, **attrs))
        return out

    # Layers -------------------------------------------------------------------------------

    def linear(self, x: str, prefix: str, fan_in: int, fan_out: int) -> str:
        w = self.weight(f"{prefix}.weight", self.randn((fan_in, fan_out), 0.02))
        b = self.weight(f"{prefix}.bias", np.zeros(fan_out, np.float32))
        return self.op("Add", [self.op("MatMul", [x, w]), b])

    def layer_norm(self, x: str, prefix: str) -> str:
        g = self.weight(f"{prefix}.weight", np.ones(EMBED, np.float32))
        b = self.weight(f"{prefix}.bias", np.zeros(EMBED, np.float32))
        return self.op("LayerNormalization", [x, g, b], axis=-1, epsilon=LN_EPS)

    def conv(self, x: str, prefix: str, cin: int, cout: int, k: int, stride: int = 1,
             pad: int = 0, bias: bool = True) -> str:
        std = float(np.sqrt(2.0 / (cin * k * k)))
        w = self.weight(f"{prefix}.weight", self.randn((cout, cin, k, k), std))
        ins = [x, w]
        if bias:
            ins.append(self.weight(f"{prefix}.bias", np.zeros(cout, np.float32)))
        return self.op("Conv", ins, kernel_shape=[k, k], strides=[stride, stride],
                       pads=[pad] * 4)

    def conv_t(self, x: str, prefix: str, c: int, k: int) -> str:
        std = float(np.sqrt(1.0 / (c * k * k)))
        w = self.weight(f"{prefix}.weight", self.randn((c, c, k, k), std))
        b = self.weight(f"{prefix}.bias", np.zeros(c, np.float32))
        return self.op("ConvTranspose", [x, w, b], kernel_shape=[k, k], strides=[k, k])

    def resize_to(self, x: str, hw: str, mode: str, ctm: str, **extra) -> str:
        """Resize the last two axes of a [1, C, h, w] tensor to `hw` (int64 [2])."""
        nc = self.op("Slice", [self.op("Shape", [x]), "c.zero1", "c.two1"])
        sizes = self.op("Concat", [nc, hw], axis=0)
        return self.op("Resize", [x, "", "", sizes], mode=mode,
                       coordinate_transformation_mode=ctm, **extra)


def block(b: Builder, x: str, i: int) -> str:
    p = f"pretrained.blocks.{i}"
    h = b.layer_norm(x, f"{p}.norm1")
    qkv = b.linear(h, f"{p}.attn.qkv", EMBED, 3 * EMBED)
    qkv = b.op("Reshape", [qkv, "c.qkv_shape"])  # [1, T, 3, 6, 64]
    qkv = b.op("Transpose", [qkv], perm=[2, 0, 3, 1, 4])  # [3, 1, 6, T, 64]
    q = b.op("Gather", [qkv, "c.idx0"], axis=0)
    k = b.op("Gather", [qkv, "c.idx1"], axis=0)
    v = b.op("Gather", [qkv, "c.idx2"], axis=0)
    q = b.op("Mul", [q, "c.attn_scale"])
    att = b.op("MatMul", [q, b.op("Transpose", [k], perm=[0, 1, 3, 2])])
    att = b.op("Softmax", [att], axis=-1)
    o = b.op("MatMul", [att, v])  # [1, 6, T, 64]
    o = b.op("Transpose", [o], perm=[0, 2, 1, 3])
    o = b.op("Reshape", [o, "c.tokens_shape"])  # [1, T, 384]
    o = b.linear(o, f"{p}.attn.proj", EMBED, EMBED)
    o = b.op("Mul", [o, b.weight(f"{p}.ls1.gamma", np.full(EMBED, 0.1, np.float32))])
    x = b.op("Add", [x, o])
    h = b.layer_norm(x, f"{p}.norm2")
    h = b.linear(h, f"{p}.mlp.fc1", EMBED, MLP)
    # Exact GELU: 0.5 x (1 + erf(x / sqrt 2)).
    e = b.op("Erf", [b.op("Mul", [h, "c.inv_sqrt2"])])
    h = b.op("Mul", [b.op("Mul", [h, "c.half"]), b.op("Add", [e, "c.one"])])
    h = b.linear(h, f"{p}.mlp.fc2", MLP, EMBED)
    h = b.op("Mul", [h, b.weight(f"{p}.ls2.gamma", np.full(EMBED, 0.1, np.float32))])
    return b.op("Add", [x, h])


def residual_conv_unit(b: Builder, x: str, prefix: str) -> str:
    o = b.op("Relu", [x])
    o = b.conv(o, f"{prefix}.conv1", FEATURES, FEATURES, 3, pad=1)
    o = b.op("Relu", [o])
    o = b.conv(o, f"{prefix}.conv2", FEATURES, FEATURES, 3, pad=1)
    return b.op("Add", [o, x])


def fusion(b: Builder, prefix: str, x: str, skip: str = None, size_of: str = None) -> str:
    """FeatureFusionBlock: (+ RCU1(skip)), RCU2, bilinear align_corners upsample, 1x1 conv."""
    out = x
    if skip is not None:
        out = b.op("Add", [out, residual_conv_unit(b, skip, f"{prefix}.resConfUnit1")])
    out = residual_conv_unit(b, out, f"{prefix}.resConfUnit2")
    if size_of is None:
        hw = b.op("Mul", [b.op("Slice", [b.op("Shape", [out]), "c.two1", "c.four1"]), "c.two_i64"])
    else:
        hw = b.op("Slice", [b.op("Shape", [size_of]), "c.two1", "c.four1"])
    out = b.resize_to(out, hw, "linear", "align_corners")
    return b.conv(out, f"{prefix}.out_conv", FEATURES, FEATURES, 1)


def build(size: int, seed: int) -> tuple:
    if size % PATCH != 0 or size <= 0:
        raise ValueError(f"--size {size} must be a positive multiple of {PATCH}")
    grid = size // PATCH
    b = Builder(seed)
    head_dim = EMBED // HEADS
    b.const("c.qkv_shape", np.array([1, -1, 3, HEADS, head_dim], np.int64))
    b.const("c.tokens_shape", np.array([1, -1, EMBED], np.int64))
    b.const("c.chw_flat", np.array([1, EMBED, -1], np.int64))
    b.const("c.grid_nhwc", np.array([1, grid, grid, EMBED], np.int64))
    b.const("c.nc384", np.array([1, EMBED], np.int64))
    for i in range(3):
        b.const(f"c.idx{i}", np.array(i, np.int64))
    b.const("c.zero1", np.array([0], np.int64))
    b.const("c.one1", np.array([1], np.int64))
    b.const("c.two1", np.array([2], np.int64))
    b.const("c.four1", np.array([4], np.int64))
    b.const("c.big1", np.array([2**62], np.int64))
    b.const("c.two_i64", np.array([2, 2], np.int64))
    b.const("c.patch_i64", np.array([PATCH, PATCH], np.int64))
    b.const("c.attn_scale", np.array(head_dim**-0.5, np.float32))
    b.const("c.inv_sqrt2", np.array(1.0 / np.sqrt(2.0), np.float32))
    b.const("c.half", np.array(0.5, np.float32))
    b.const("c.one", np.array(1.0, np.float32))
    b.const("c.axis1", np.array([1], np.int64))

    # Encoder: patch embedding, class token, position embeddings.
    pe = b.conv("pixel_values", "pretrained.patch_embed.proj", 3, EMBED, PATCH, stride=PATCH)
    ph_pw = b.op("Slice", [b.op("Shape", [pe]), "c.two1", "c.four1"])  # int64 [2]
    tokens = b.op("Transpose", [b.op("Reshape", [pe, "c.chw_flat"])], perm=[0, 2, 1])
    cls = b.weight("pretrained.cls_token", b.randn((1, 1, EMBED), 1e-6))
    b.params += EMBED  # pretrained.mask_token: in the state dict, unused at inference
    pos = b.weight("pretrained.pos_embed", b.randn((1, grid * grid + 1, EMBED), 0.02))
    pos_cls = b.op("Slice", [pos, "c.zero1", "c.one1", "c.axis1"])
    pos_grid = b.op("Slice", [pos, "c.one1", "c.big1", "c.axis1"])
    pos_grid = b.op("Transpose", [b.op("Reshape", [pos_grid, "c.grid_nhwc"])], perm=[0, 3, 1, 2])
    pos_grid = b.resize_to(pos_grid, ph_pw, "cubic", "half_pixel", cubic_coeff_a=-0.75)
    pos_grid = b.op("Transpose", [b.op("Reshape", [pos_grid, "c.chw_flat"])], perm=[0, 2, 1])
    pos_all = b.op("Concat", [pos_cls, pos_grid], axis=1)
    x = b.op("Add", [b.op("Concat", [cls, tokens], axis=1), pos_all])

    taps = []
    norm_g = b.weight("pretrained.norm.weight", np.ones(EMBED, np.float32))
    norm_b = b.weight("pretrained.norm.bias", np.zeros(EMBED, np.float32))
    grid_shape = b.op("Concat", ["c.nc384", ph_pw], axis=0)
    for i in range(DEPTH):
        x = block(b, x, i)
        if i in TAPS:
            t = b.op("LayerNormalization", [x, norm_g, norm_b], axis=-1, epsilon=LN_EPS)
            t = b.op("Slice", [t, "c.one1", "c.big1", "c.axis1"])  # drop the class token
            t = b.op("Reshape", [b.op("Transpose", [t], perm=[0, 2, 1]), grid_shape])
            taps.append(t)

    # DPT head.
    layers = []
    for i, (t, c) in enumerate(zip(taps, OUT_CHANNELS)):
        y = b.conv(t, f"depth_head.projects.{i}", EMBED, c, 1)
        if i == 0:
            y = b.conv_t(y, "depth_head.resize_layers.0", c, 4)
        elif i == 1:
            y = b.conv_t(y, "depth_head.resize_layers.1", c, 2)
        elif i == 3:
            y = b.conv(y, "depth_head.resize_layers.3", c, c, 3, stride=2, pad=1)
        layers.append(y)
    rn = [
        b.conv(y, f"depth_head.scratch.layer{i + 1}_rn", c, FEATURES, 3, pad=1, bias=False)
        for i, (y, c) in enumerate(zip(layers, OUT_CHANNELS))
    ]
    # refinenet4.resConfUnit1 exists in PyTorch's state dict but is never called.
    b.params += 2 * (FEATURES * FEATURES * 9 + FEATURES)
    s = "depth_head.scratch"
    p4 = fusion(b, f"{s}.refinenet4", rn[3], size_of=rn[2])
    p3 = fusion(b, f"{s}.refinenet3", p4, rn[2], size_of=rn[1])
    p2 = fusion(b, f"{s}.refinenet2", p3, rn[1], size_of=rn[0])
    p1 = fusion(b, f"{s}.refinenet1", p2, rn[0])
    out = b.conv(p1, f"{s}.output_conv1", FEATURES, FEATURES // 2, 3, pad=1)
    out = b.resize_to(out, b.op("Mul", [ph_pw, "c.patch_i64"]), "linear", "align_corners")
    out = b.conv(out, f"{s}.output_conv2.0", FEATURES // 2, HEAD2, 3, pad=1)
    out = b.op("Relu", [out])
    out = b.conv(out, f"{s}.output_conv2.2", HEAD2, 1, 1)
    out = b.op("Relu", [out])
    out = b.op("Relu", [out])  # DepthAnythingV2.forward applies F.relu once more
    b.nodes.append(helper.make_node("Squeeze", [out, "c.axis1"], ["predicted_depth"],
                                    name="squeeze_out"))

    graph = helper.make_graph(
        b.nodes,
        "depth_anything_v2_vits_random",
        [helper.make_tensor_value_info("pixel_values", TensorProto.FLOAT, [1, 3, "height", "width"])],
        [helper.make_tensor_value_info("predicted_depth", TensorProto.FLOAT, [1, "height", "width"])],
        initializer=b.inits,
        doc_string="Depth Anything V2 ViT-S/DPT architecture with RANDOM weights "
        f"(seed {seed}), for latency only. Not the real model.",
    )
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", OPSET)],
        producer_name="liveproof-xtask make_depth_vits_dpt.py",
        producer_version="1",
    )
    model.ir_version = IR_VERSION
    onnx.checker.check_model(model)
    return model, b.params


def bench(path: str, sizes, runs: int) -> None:
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(0)
    for side in sizes:
        x = rng.standard_normal((1, 3, side, side)).astype(np.float32)
        y = sess.run(None, {"pixel_values": x})[0]  # warm-up
        assert y.shape == (1, side, side), y.shape
        assert np.isfinite(y).all()
        times = []
        for _ in range(runs):
            t0 = time.perf_counter()
            sess.run(None, {"pixel_values": x})
            times.append(time.perf_counter() - t0)
        times.sort()
        print(
            f"onnxruntime {ort.__version__}, 1 thread, {side}x{side}: median {1e3 * times[len(times) // 2]:.0f} ms "
            f"(min {1e3 * times[0]:.0f}, max {1e3 * times[-1]:.0f}, {runs} runs), output {y.shape} "
            f"range [{y.min():.3g}, {y.max():.3g}]"
        )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out")
    ap.add_argument("--size", type=int, default=518, help="input side the position embeddings are made for")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--bench", default="", help="comma-separated input sides to time, e.g. 518,252")
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    model, params = build(args.size, args.seed)
    data = model.SerializeToString(deterministic=True)
    d = os.path.dirname(args.out)
    if d:
        os.makedirs(d, exist_ok=True)
    with open(args.out, "wb") as f:
        f.write(data)
    stored = sum(int(np.prod(t.dims)) for t in model.graph.initializer if t.data_type == TensorProto.FLOAT and t.name[:2] != "c.")
    print(f"{args.out}: {len(data)} bytes, sha256 {hashlib.sha256(data).hexdigest()}")
    print(f"parameters: {params:,} (state-dict count; {stored:,} stored in the graph, "
          f"{params - stored:,} = mask_token + unused refinenet4.resConfUnit1)")
    if args.bench:
        bench(args.out, [int(s) for s in args.bench.split(",")], args.runs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
