"""Independent reference for LiveProof's MiniFASNet texture crop (issue #11 parity test).

Silent-Face-Anti-Spoofing's published processing: `CropImage._get_new_box` (the face box
[x, y, w, h] scaled about its centre, the scale reduced to fit the image, the box shifted
inside it, corners truncated to ints), the inclusive pixel block cut out and resized to the
model's side with `cv2.resize` (bilinear), BGR, raw 0-255 float, NCHW; softmax of the logits.
Written from the published algorithm (numpy + OpenCV + onnxruntime), not from LiveProof's code.

usage: minifasnet_ref.py IMAGE MODEL SCALE X0 Y0 X1 Y1
IMAGE is read with OpenCV as BGR (an upright PNG: no EXIF). The box is in pixels.
prints JSON: {"probs": [p0, p1, p2], "box": [left, top, right, bottom]}
"""
import json
import sys

import cv2
import numpy as np
import onnxruntime as ort


def new_box(src_w, src_h, bbox, scale):
    x, y, box_w, box_h = bbox
    scale = min((src_h - 1) / box_h, min((src_w - 1) / box_w, scale))
    new_width = box_w * scale
    new_height = box_h * scale
    center_x, center_y = box_w / 2 + x, box_h / 2 + y
    left_top_x = center_x - new_width / 2
    left_top_y = center_y - new_height / 2
    right_bottom_x = center_x + new_width / 2
    right_bottom_y = center_y + new_height / 2
    if left_top_x < 0:
        right_bottom_x -= left_top_x
        left_top_x = 0
    if left_top_y < 0:
        right_bottom_y -= left_top_y
        left_top_y = 0
    if right_bottom_x > src_w - 1:
        left_top_x -= right_bottom_x - src_w + 1
        right_bottom_x = src_w - 1
    if right_bottom_y > src_h - 1:
        left_top_y -= right_bottom_y - src_h + 1
        right_bottom_y = src_h - 1
    return int(left_top_x), int(left_top_y), int(right_bottom_x), int(right_bottom_y)


def main():
    image, model, scale = sys.argv[1], sys.argv[2], float(sys.argv[3])
    x0, y0, x1, y1 = (float(v) for v in sys.argv[4:8])
    img = cv2.imread(image, cv2.IMREAD_COLOR | cv2.IMREAD_IGNORE_ORIENTATION)
    if img is None:
        sys.exit(f"cannot read {image}")
    h, w = img.shape[:2]
    sess = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
    inp = sess.get_inputs()[0]
    side = inp.shape[2]
    l, t, r, b = new_box(w, h, (x0, y0, x1 - x0, y1 - y0), scale)
    crop = cv2.resize(img[t:b + 1, l:r + 1], (side, side))
    blob = crop.astype(np.float32).transpose(2, 0, 1)[None]
    logits = sess.run(None, {inp.name: blob})[0][0].astype(np.float64)
    e = np.exp(logits - logits.max())
    print(json.dumps({"probs": (e / e.sum()).tolist(), "box": [l, t, r, b]}))


if __name__ == "__main__":
    main()
