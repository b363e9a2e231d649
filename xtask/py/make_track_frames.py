"""Writes a SYNTHETIC camera sequence for tracking benchmarks: a public-domain photo moving
smoothly inside a 640x480 frame (sinusoidal pan, slight zoom), PNG frames named frame0000.png...

Usage: python make_track_frames.py IMAGE OUT_DIR [--frames N] [--width W] [--height H]

Deterministic: the same arguments give the same pixels. The motion is a few pixels per frame,
the kind of drift a hand-held phone shows, so a tracker keeps its face lock throughout.
"""

import argparse
import math
import os

import cv2
import numpy as np


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("image")
    ap.add_argument("out_dir")
    ap.add_argument("--frames", type=int, default=120)
    ap.add_argument("--width", type=int, default=640)
    ap.add_argument("--height", type=int, default=480)
    a = ap.parse_args()
    src = cv2.imread(a.image, cv2.IMREAD_COLOR)
    if src is None:
        raise SystemExit(f"make_track_frames: cannot read {a.image!r}")
    os.makedirs(a.out_dir, exist_ok=True)
    h, w = src.shape[:2]
    for i in range(a.frames):
        t = i / 30.0
        zoom = 1.25 + 0.05 * math.sin(2 * math.pi * 0.25 * t)
        dx = 25.0 * math.sin(2 * math.pi * 0.5 * t)
        dy = 12.0 * math.sin(2 * math.pi * 0.33 * t + 1.0)
        # Map the photo's upper-middle region (where the face is) onto the frame.
        s = zoom * a.width / w
        cx, cy = w / 2.0, h * 0.38
        m = np.array([[s, 0.0, a.width / 2.0 - s * cx + dx], [0.0, s, a.height / 2.0 - s * cy + dy]])
        frame = cv2.warpAffine(src, m, (a.width, a.height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        cv2.imwrite(os.path.join(a.out_dir, f"frame{i:04d}.png"), frame)


if __name__ == "__main__":
    main()
