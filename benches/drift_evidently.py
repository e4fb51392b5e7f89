"""Evidently 0.7's DataDriftPreset on two CSV files, for benches/drift.sh.

    python drift_evidently.py REF.csv CUR.csv SCORES.json

Reads both files with pandas (timed), runs Report([DataDriftPreset()]) (timed), prints
`read_s=… compute_s=… total_s=…` and writes the per-column scores as
{"column": {"method": ..., "score": ..., "threshold": ...}} to SCORES.json.
Run it outside a directory holding a `timeit.py` or similar (Python puts the script's
directory first on sys.path).
"""
import json
import sys
import time
import warnings

warnings.filterwarnings("ignore")

t0 = time.perf_counter()
import pandas as pd  # noqa: E402
from evidently import Report  # noqa: E402
from evidently.presets import DataDriftPreset  # noqa: E402

t_import = time.perf_counter()
ref = pd.read_csv(sys.argv[1])
cur = pd.read_csv(sys.argv[2])
t_read = time.perf_counter()
snap = Report([DataDriftPreset()]).run(current_data=cur, reference_data=ref)
d = snap.dict()
t_done = time.perf_counter()

scores = {}
for m in d["metrics"]:
    c = m["config"]
    if c.get("type", "").endswith("ValueDrift"):
        scores[c["column"]] = {"method": c["method"], "score": m["value"], "threshold": c["threshold"]}
    elif c.get("type", "").endswith("DriftedColumnsCount"):
        scores["__drifted__"] = m["value"]
with open(sys.argv[3], "w") as f:
    json.dump(scores, f, indent=1)
print(
    f"import_s={t_import - t0:.2f} read_s={t_read - t_import:.2f} "
    f"compute_s={t_done - t_read:.2f} total_s={t_done - t0:.2f}"
)
