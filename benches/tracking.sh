#!/usr/bin/env bash
# Experiment tracking (issue 4): listing 10,000 recorded runs with `mlops runs
# list` against MLflow 3 `search_runs` (default SQLite store), the cost of
# recording a run, and the overhead of tracking a script that logs 100,000
# metric lines.
# Targets: `runs list --json` and a filtered, sorted `runs list` < 0.3 s each
# (warm: the derived index in .git/mlops exists); tracking overhead < 0.5 s.
# Rerun: bash benches/tracking.sh      (env: N=10000, RUNS=5, BENCH_WORK, BENCH_VENV)
source "$(dirname "$0")/common.sh"
build_mlops
need_hyperfine
venv 'mlflow>=3,<4'
PY="$VENV/bin/python"
N=${N:-10000}
RUNS=${RUNS:-5}
T="$WORK/tracking"
HF=(hyperfine -N --style basic)
FILTER='metrics.acc > 0.9 and params.lr = 0.01'
rm -rf "$T" && mkdir -p "$T"
python3 "$ROOT/benches/gen_runs.py" "$N" > "$T/runs.tsv"

# `mlops track` records the Python version of the environment by running
# `python3 --version` from PATH. Under a pyenv shim that alone is ~0.2 s, so
# recording is measured with both the PATH this script was started with and
# with the venv (a real python3) first in PATH; bulk creation uses the latter.
AMBIENT_PATH="$PATH"
VENV_PATH="$VENV/bin:$PATH"

echo "== recording $N runs with mlops track, two at a time (xargs -P2)"
R="$T/repo"; fresh_repo "$R"
cat > "$T/track_one.sh" <<'EOF'
#!/bin/sh
# track_one.sh LR BATCH ACC LOSS: one tracked run whose child appends its metrics line
exec "$MLOPS" -C "$R" -q track --param lr="$1" --param batch="$2" -- \
  sh -c 'printf "{\"acc\": %s, \"loss\": %s}\n" "$0" "$1" >> "$MLOPS_METRICS"' "$3" "$4"
EOF
start=$(date +%s.%N)
PATH="$VENV_PATH" MLOPS="$MLOPS" R="$R" xargs -P2 -n4 -a "$T/runs.tsv" sh "$T/track_one.sh"
end=$(date +%s.%N)
recorded=$("$MLOPS" -C "$R" runs list --json | "$PY" -c 'import json,sys; print(len(json.load(sys.stdin)))')
echo "mlops: recorded $recorded runs in $(echo "$end - $start" | bc) s" | tee "$T/mlops-load.txt"
[ "$recorded" = "$N" ] || { echo "expected $N runs, got $recorded" >&2; exit 1; }

echo "== recording the same $N runs in MLflow (client, log_batch, SQLite)"
export MLFLOW_TRACKING_URI="sqlite:///$T/mlflow.db"
"$PY" "$ROOT/benches/mlflow_runs.py" load "$T/runs.tsv" | tee "$T/mlflow-load.txt"

echo "== listing: mlops runs list (cold = no derived index, then warm)"
"${HF[@]}" --warmup 0 --runs "$RUNS" --export-json "$T/list-cold.json" \
  --prepare "rm -f $R/.git/mlops/runs-index.v2.json" \
  -n "mlops runs list --json, cold (no index)" "$MLOPS -C $R runs list --json"
"$MLOPS" -C "$R" runs list --json >/dev/null
"${HF[@]}" --warmup 2 --runs $((RUNS * 2)) --export-json "$T/list-warm.json" \
  -n "mlops runs list --json, warm" "$MLOPS -C $R runs list --json" \
  -n "mlops runs list --filter --sort, warm" "$MLOPS -C $R runs list --filter '$FILTER' --sort -metrics.acc"
echo "matches: mlops $("$MLOPS" -C "$R" runs list --filter "$FILTER" --json | "$PY" -c 'import json,sys; print(len(json.load(sys.stdin)))')"

echo "== listing: mlflow.search_runs, one process per call (import + start-up included)"
"${HF[@]}" --warmup 1 --runs "$RUNS" --export-json "$T/mlflow-proc.json" \
  -n "python -c 'import mlflow'" "$PY -c 'import mlflow'" \
  -n "mlflow search_runs, all, whole process" "$PY $ROOT/benches/mlflow_runs.py search all" \
  -n "mlflow search_runs, filter + order_by, whole process" "$PY $ROOT/benches/mlflow_runs.py search filtered"
echo "== listing: mlflow.search_runs inside Python (imported once)"
"$PY" "$ROOT/benches/mlflow_runs.py" inproc $((RUNS * 2)) | tee "$T/mlflow-inproc.txt"

echo "== cost of recording one run (repository with $N runs; a copy, so the listing repo stays at $N)"
cp -a "$R" "$T/repo-copy"
ONE="$MLOPS -C $T/repo-copy -q track --param lr=0.5 --param batch=8 -- sh -c 'echo {\\\"acc\\\":0.5} >> \$MLOPS_METRICS'"
PATH="$VENV_PATH" "${HF[@]}" --warmup 2 --runs $((RUNS * 4)) --export-json "$T/track-one-venv.json" \
  -n "mlops track, one run (venv python3 on PATH)" "$ONE"
PATH="$AMBIENT_PATH" "${HF[@]}" --warmup 2 --runs $((RUNS * 4)) --export-json "$T/track-one-ambient.json" \
  -n "mlops track, one run (PATH as started: $(command -v python3))" "$ONE"

echo "== tracking overhead: a script logging 100,000 metric lines"
O="$T/overhead"; fresh_repo "$O"
cat > "$T/log100k.py" <<'EOF'
import json, os
with open(os.environ["MLOPS_METRICS"], "a") as f:
    for i in range(100_000):
        f.write(json.dumps({"step": i, "loss": 1 / (i + 1), "acc": i / 100_000}) + "\n")
EOF
for p in venv ambient; do
  if [ $p = venv ]; then P="$VENV_PATH"; else P="$AMBIENT_PATH"; fi
  PATH="$P" "${HF[@]}" --warmup 1 --runs $((RUNS * 2)) --export-json "$T/overhead-$p.json" \
    --prepare "rm -f $T/bare.jsonl" \
    -n "bare script ($p PATH)" "env MLOPS_METRICS=$T/bare.jsonl $PY $T/log100k.py" \
    -n "mlops track -- script ($p PATH)" "$MLOPS -C $O -q track -- $PY $T/log100k.py"
done
last=$("$MLOPS" -C "$O" runs list --json | "$PY" -c 'import json,sys; r=json.load(sys.stdin)[-1]; print(r["run_id"], r["metrics"])')
echo "last overhead run: $last"

echo
echo "== results ($(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); mlflow $("$PY" -c 'import mlflow; print(mlflow.__version__)'))"
"$PY" - "$T" "$N" <<'EOF'
import glob, json, re, sys
t, n = sys.argv[1], int(sys.argv[2])
med, cpu = {}, {}
for f in sorted(glob.glob(f"{t}/*.json")):
    for r in json.load(open(f))["results"]:
        med[r["command"]] = (r["median"], min(r["times"]), max(r["times"]), len(r["times"]))
        cpu[r["command"]] = r["user"] + r["system"]
inproc = {}
for line in open(f"{t}/mlflow-inproc.txt"):
    w = line.split()
    if w[0] == "inproc":
        inproc[w[1]] = (float(w[2]), float(w[3]), float(w[4]), w[5])
    elif w[0] == "import":
        imp = float(w[1])
for k, (m, lo, hi, rows) in inproc.items():
    med[f"mlflow search_runs {k}, inside Python ({rows} rows)"] = (m, lo, hi, "")
print("| case | median (wall) | min … max | mean CPU (user+sys) | runs |")
print("|---|---:|---:|---:|---:|")
for k, (m, lo, hi, cnt) in med.items():
    c = f"{cpu[k]*1000:.0f} ms" if k in cpu else ""
    print(f"| {k} | {m*1000:.1f} ms | {lo*1000:.0f} … {hi*1000:.0f} ms | {c} | {cnt} |")
print(f"\nmlflow import (inside Python, once): {imp*1000:.0f} ms")
ml = float(re.search(r"in ([\d.]+) s", open(f"{t}/mlops-load.txt").read()).group(1))
fl = re.search(r"in ([\d.]+) s, ([\d.]+) ms", open(f"{t}/mlflow-load.txt").read())
print(f"recording {n} runs: mlops track x{n} processes, xargs -P2: {ml:.0f} s wall = {ml/n*1000:.1f} ms per run;"
      f" mlflow client (one process, log_batch): {float(fl.group(1)):.0f} s = {fl.group(2)} ms per run")
g = lambda k: med[k][0]
lw, fw = g("mlops runs list --json, warm"), g("mlops runs list --filter --sort, warm")
print()
print("| target | measured | wanted | |")
print("|---|---:|---:|---|")
def check(name, value, target, ok):
    print(f"| {name} | {value} | {target} | {'pass' if ok else 'MISS'} |")
check("runs list --json, warm", f"{lw*1000:.0f} ms", "< 300 ms", lw < 0.3)
check("runs list --filter --sort, warm", f"{fw*1000:.0f} ms", "< 300 ms", fw < 0.3)
for p in ("venv", "ambient"):
    o = g(f"mlops track -- script ({p} PATH)") - g(f"bare script ({p} PATH)")
    oc = cpu[f"mlops track -- script ({p} PATH)"] - cpu[f"bare script ({p} PATH)"]
    check(f"tracking overhead, 100k metric lines ({p} PATH)", f"{o*1000:.0f} ms wall ({oc*1000:.0f} ms CPU)", "< 500 ms", o < 0.5)
fa, ff = g("mlflow search_runs, all, whole process"), g("mlflow search_runs, filter + order_by, whole process")
print(f"\nratios (mlflow / mlops, warm): all runs {fa/lw:.1f}x whole process, {inproc['all'][0]/lw:.1f}x inside Python;"
      f" filtered+sorted {ff/fw:.1f}x whole process, {inproc['filtered'][0]/fw:.1f}x inside Python")
EOF
