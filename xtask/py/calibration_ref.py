"""scikit-learn reference for LiveProof's calibration (issue #12 parity test).

For each dataset: Platt's A, B from `sklearn.calibration._sigmoid_calibration(scores, labels)`
and `IsotonicRegression(increasing=True, out_of_bounds="clip")` fitted on (scores, labels):
its thresholds and its predictions on the given grid. Labels: 1 = bona fide (the positive).

usage: calibration_ref.py [INPUT.json]   (stdin when no file is given)
input:  {"datasets": [{"name": str, "scores": [float], "labels": [0|1], "grid": [float]}]}
prints JSON: {"versions": {...}, "datasets": [{"name", "platt": {"a", "b"},
              "isotonic": {"x": [...], "y": [...], "grid": [...]}}]}
"""
import json
import sys

import numpy as np
import scipy
import sklearn
from sklearn.calibration import _sigmoid_calibration
from sklearn.isotonic import IsotonicRegression


def run(ds):
    scores = np.asarray(ds["scores"], dtype=np.float64)
    labels = np.asarray(ds["labels"], dtype=np.float64)
    grid = np.asarray(ds["grid"], dtype=np.float64)
    a, b = _sigmoid_calibration(scores, labels)
    iso = IsotonicRegression(increasing=True, out_of_bounds="clip").fit(scores, labels)
    return {
        "name": ds["name"],
        "platt": {"a": float(a), "b": float(b)},
        "isotonic": {
            "x": [float(v) for v in iso.X_thresholds_],
            "y": [float(v) for v in iso.y_thresholds_],
            "grid": [float(v) for v in iso.predict(grid)],
        },
    }


def main():
    if len(sys.argv) > 1:
        with open(sys.argv[1], encoding="utf-8") as f:
            data = json.load(f)
    else:
        data = json.load(sys.stdin)
    out = {
        "versions": {"sklearn": sklearn.__version__, "scipy": scipy.__version__,
                     "numpy": np.__version__},
        "datasets": [run(ds) for ds in data["datasets"]],
    }
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
