"""Independent reference for LiveProof's face embeddings (issue #6 parity test).

InsightFace's published `norm_crop`: the least-squares similarity (Umeyama) from the five
points to the ArcFace 112x112 template, `cv2.warpAffine(img, M, (112, 112), borderValue=0)`,
then the ArcFace blob (RGB, (x - mean) / std, NCHW) through ONNX Runtime, L2-normalised.
Written from the published algorithm (numpy + OpenCV + onnxruntime), not from LiveProof's code.

usage: arcface_ref.py IMAGE MODEL MEAN STD BATCH X0 Y0 X1 Y1 ... X4 Y4
prints JSON: {"embedding": [...], "M": [[...], [...]]}
"""
import json
import sys

import cv2
import numpy as np
import onnxruntime as ort

ARCFACE_DST = np.array(
    [[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366], [41.5493, 92.3655],
     [70.7299, 92.2041]], dtype=np.float64)


def umeyama(src, dst):
    """Similarity (with scale, no reflection) mapping src to dst, as a 2x3 matrix."""
    n = src.shape[0]
    mu_s, mu_d = src.mean(0), dst.mean(0)
    sc, dc = src - mu_s, dst - mu_d
    cov = dc.T @ sc / n
    u, d, vt = np.linalg.svd(cov)
    s = np.eye(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        s[1, 1] = -1
    r = u @ s @ vt
    var_s = (sc ** 2).sum() / n
    scale = (d * np.diag(s)).sum() / var_s
    t = mu_d - scale * r @ mu_s
    return np.hstack([scale * r, t[:, None]])


def main():
    image, model, mean, std, batch = sys.argv[1:6]
    pts = np.array([float(v) for v in sys.argv[6:16]], dtype=np.float64).reshape(5, 2)
    bgr = cv2.imread(image, cv2.IMREAD_COLOR)
    rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    m = umeyama(pts, ARCFACE_DST)
    crop = cv2.warpAffine(rgb, m, (112, 112), borderValue=0.0)
    x = (crop.astype(np.float32) - float(mean)) / float(std)
    x = np.transpose(x, (2, 0, 1))[None]
    x = np.repeat(x, int(batch), axis=0).astype(np.float32)
    sess = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
    out = sess.run(None, {sess.get_inputs()[0].name: x})[0][0].astype(np.float64)
    out /= np.linalg.norm(out)
    print(json.dumps({"embedding": out.tolist(), "M": m.tolist()}))


if __name__ == "__main__":
    main()
