"""Log metrics and params to mlops from a training script, with no dependency.

`mlops track -- python train.py` sets MLOPS_METRICS to a file; each call here
appends one JSON line to it. Outside a tracked run the calls do nothing, so the
script runs unchanged on its own.
"""
import json
import math
import os
import time

_PATH = os.environ.get("MLOPS_METRICS")


def _write(obj):
    if not _PATH:
        return
    line = json.dumps(obj, allow_nan=False) + "\n"
    # One write per line in append mode: lines from several processes never interleave.
    with open(_PATH, "a", encoding="utf-8") as f:
        f.write(line)


def log_metrics(step=None, **metrics):
    """log_metrics(step=3, loss=0.41, acc=0.87); NaN and infinity are skipped."""
    values = {k: float(v) for k, v in metrics.items() if math.isfinite(float(v))}
    if step is not None:
        values["step"] = int(step)
    values["time"] = time.time()
    _write(values)


def log_params(**params):
    """log_params(lr=0.01, optimizer={"name": "adam"}); nested dicts become a.b keys."""
    _write({"params": params})


def set_tags(**tags):
    _write({"tags": {k: str(v) for k, v in tags.items()}})
