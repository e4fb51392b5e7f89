"""Per-column agreement between `mlops drift --format json` and drift_evidently.py's scores.

    python drift_compare.py MLOPS.json EVIDENTLY.json

Prints one row per column (test, both scores, relative difference) and the maximum relative
difference over the columns where both produced a finite score. Columns where Evidently gives
infinity or mlops reports no score are listed with the reason instead (Evidently scores a
chi-square with categories unseen in the reference as infinity; mlops reports those
categories as their own finding).
"""
import json
import math
import sys

mlops = json.load(open(sys.argv[1]))["report"]
ev = json.load(open(sys.argv[2]))
worst = 0.0
print(f"{'column':8} {'mlops test':14} {'mlops score':>22} {'evidently method':34} {'evidently score':>22} {'rel diff':>9}")
for c in mlops["columns"]:
    name = c["column"]
    e = ev.get(name)
    ms = c.get("score")
    es = e["score"] if e else None
    note = ""
    if ms is None or es is None or not math.isfinite(es):
        note = "  (" + (c.get("not_tested") or "not comparable") + ")"
        rel = float("nan")
    else:
        rel = abs(ms - es) / max(abs(es), 1e-300) if es != ms else 0.0
        worst = max(worst, rel)
    print(f"{name:8} {str(c.get('test')):14} {str(ms):>22} {(e or {}).get('method', '-'):34} {str(es):>22} {rel:9.1e}{note}")
print(f"drifted columns: mlops {mlops['drifted']} of {mlops['tested']}, evidently {ev.get('__drifted__')}")
print(f"max relative difference: {worst:.2e}")
