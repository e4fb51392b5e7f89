#!/usr/bin/env bash
# Drift (issue 6): `mlops drift --no-record` against Evidently 0.7's DataDriftPreset, side by
# side in one run.
#   (a) 1,000,000 rows x 20 float columns, reference and current each (7 columns shifted)
#   (b)   100,000 rows x 20 mixed columns (8 float, 6 low-cardinality int, 6 string)
#   (c) 10,000,000 rows x 20 float columns, mlops only
# mlops runs on CSV and on Parquet; Evidently reads the CSV files with pandas.read_csv and runs
# Report([DataDriftPreset()]). Targets on (a): mlops >= 50x faster than Evidently and <= 1/4
# of its peak memory; (c) completes within 2 GB of peak RSS.
#
# Wall time and peak RSS come from /usr/bin/time for the whole process. Evidently's "time"
# below is pandas' CSV read + the report (from inside the script, without the ~3 s of
# importing evidently); its whole-process wall and its compute alone are printed too.
# Page cache is warm (the files were just written or read). Figures are medians of RUNS
# runs for mlops and of EV_RUNS runs for Evidently.
# Rerun: bash benches/drift.sh    (env: RUNS=3, EV_RUNS=1, C_RUNS=3, SKIP_C=1, REGEN=1,
#                                   BENCH_WORK, BENCH_VENV)
if [ -z "${BENCH_VENV:-}" ] && [ -x /work/venvs/evidently/bin/python ]; then
  export BENCH_VENV=/work/venvs/evidently   # reuse an existing Evidently venv
fi
source "$(dirname "$0")/common.sh"
build_mlops
venv 'evidently==0.7.*' 'pandas<3' pyarrow
PY="$VENV/bin/python"
RUNS=${RUNS:-3}
EV_RUNS=${EV_RUNS:-1}
C_RUNS=${C_RUNS:-3}
D="$WORK/drift"
mkdir -p "$D"
REPO="$D/repo"; fresh_repo "$REPO"
# Python puts the script's directory first on sys.path; run it from an empty directory so
# that no stray module (e.g. a /tmp/timeit.py) shadows the standard library.
EVDIR="$D/evidently-cwd"; mkdir -p "$EVDIR"

gen() {  # kind dir rows
  if [ -n "${REGEN:-}" ] || [ ! -s "$2/cur.parquet" ]; then
    echo "== generating $2 ($3 rows, $1)"
    "$PY" "$ROOT/benches/drift_gen.py" "$1" "$2" "$3"
  fi
}
gen numeric "$D/a" 1000000
gen mixed "$D/b" 100000
[ -n "${SKIP_C:-}" ] || gen numeric "$D/c" 10000000

# measure NAME RUNS CMD... : prints "NAME wall_s rss_mb" (medians), keeps stdout of the last run
measure() {
  local name=$1 n=$2; shift 2
  local walls=() rss=() i
  for i in $(seq 1 "$n"); do
    /usr/bin/time -f "%e %M" -o "$D/time.txt" "$@" >"$D/last.out" 2>"$D/last.err" || {
      local rc=$?
      # exit 1 is "drift found", not a failure
      [ $rc -eq 1 ] || { echo "FAILED ($rc): $*" >&2; cat "$D/last.err" >&2; exit 1; }
    }
    read -r w m < <(tail -1 "$D/time.txt")
    walls+=("$w"); rss+=("$m")
  done
  local wm rm
  wm=$(printf '%s\n' "${walls[@]}" | median)
  rm=$(printf '%s\n' "${rss[@]}" | median)
  printf '%s %s %s\n' "$name" "$wm" "$(echo "$rm / 1024" | bc -l | xargs printf '%.0f')"
  echo "   $name: runs ${walls[*]} s; peak RSS ${rss[*]} KB" >&2
}

MD=("$MLOPS" -C "$REPO" -q drift --no-record)   # /usr/bin/time cannot run a shell function

# evidently CASE : median over EV_RUNS of the script's own timings plus /usr/bin/time
evidently() {
  local c=$1 i reads=() comps=() walls=() rss=()
  for i in $(seq 1 "$EV_RUNS"); do
    (cd "$EVDIR" && /usr/bin/time -f "%e %M" -o "$D/time.txt" \
      "$PY" "$ROOT/benches/drift_evidently.py" "$D/$c/ref.csv" "$D/$c/cur.csv" "$D/$c/evidently.json" \
      >"$D/ev.out" 2>"$D/ev.err") || { cat "$D/ev.err" >&2; exit 1; }
    read -r w m < <(tail -1 "$D/time.txt")
    reads+=("$(sed -E 's/.*read_s=([0-9.]+).*/\1/' "$D/ev.out")")
    comps+=("$(sed -E 's/.*compute_s=([0-9.]+).*/\1/' "$D/ev.out")")
    walls+=("$w"); rss+=("$m")
    echo "   evidently ($c) run $i: $(cat "$D/ev.out"); process wall ${w} s; peak RSS ${m} KB" >&2
  done
  local r cm w m
  r=$(printf '%s\n' "${reads[@]}" | median)
  cm=$(printf '%s\n' "${comps[@]}" | median)
  w=$(printf '%s\n' "${walls[@]}" | median)
  m=$(printf '%s\n' "${rss[@]}" | median)
  echo "$r $cm $w $(echo "$m / 1024" | bc -l | xargs printf '%.0f')"
}

report_case() {  # case label
  local c=$1 label=$2
  echo
  echo "== ($c) $label"
  local mc mp ev
  mc=$(measure "mlops-csv" "$RUNS" "${MD[@]}" --reference "$D/$c/ref.csv" --current "$D/$c/cur.csv")
  mp=$(measure "mlops-parquet" "$RUNS" "${MD[@]}" --reference "$D/$c/ref.parquet" --current "$D/$c/cur.parquet")
  ev=$(evidently "$c")
  read -r _ mcw mcm <<<"$mc"
  read -r _ mpw mpm <<<"$mp"
  read -r er ec ew em <<<"$ev"
  local et
  et=$(echo "$er + $ec" | bc -l)
  printf '%-34s %10s %12s %14s %12s\n' "tool" "wall (s)" "peak RSS MB" "speed-up" "memory"
  printf '%-34s %10.2f %12s %14s %12s\n' "evidently (read_csv + report)" "$et" "$em" "1x" "1"
  printf '%-34s %10.2f %12s %14s %12s\n' "  evidently report alone" "$ec" "-" "-" "-"
  printf '%-34s %10.2f %12s %14s %12s\n' "  evidently whole process" "$ew" "$em" "-" "-"
  for row in "mlops drift (CSV)|$mcw|$mcm" "mlops drift (Parquet)|$mpw|$mpm"; do
    IFS='|' read -r n w m <<<"$row"
    printf '%-34s %10.2f %12s %13.0fx %12s\n' "$n" "$w" "$m" "$(echo "$et / $w" | bc -l)" \
      "$(echo "$m / $em" | bc -l | xargs printf '%.3f')"
  done
  if [ "$c" = a ]; then
    local pass_t pass_m
    pass_t=$(echo "$et / $mcw >= 50 && $et / $mpw >= 50" | bc -l)
    pass_m=$(echo "$mcm * 4 <= $em && $mpm * 4 <= $em" | bc -l)
    echo "target >= 50x faster (CSV and Parquet): $([ "$pass_t" = 1 ] && echo PASS || echo MISS)"
    echo "target <= 1/4 of Evidently's peak RSS (CSV and Parquet): $([ "$pass_m" = 1 ] && echo PASS || echo MISS)"
  fi
  echo "-- agreement ($c): per-column scores, mlops (CSV) vs Evidently"
  "${MD[@]}" --reference "$D/$c/ref.csv" --current "$D/$c/cur.csv" --format json >"$D/$c/mlops.json" || true
  "$PY" "$ROOT/benches/drift_compare.py" "$D/$c/mlops.json" "$D/$c/evidently.json"
}

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(free -g | awk '/Mem:/ {print $2}') GB RAM"
echo "mlops: $("$MLOPS" --version); evidently: $("$PY" -c 'import evidently; print(evidently.__version__)'), pandas $("$PY" -c 'import pandas; print(pandas.__version__)')"
report_case b "100,000 rows x 20 mixed columns"
report_case a "1,000,000 rows x 20 float columns"

if [ -z "${SKIP_C:-}" ]; then
  echo
  echo "== (c) 10,000,000 rows x 20 float columns, mlops only (target: peak RSS <= 2 GB)"
  mc=$(measure "mlops-csv" "$C_RUNS" "${MD[@]}" --reference "$D/c/ref.csv" --current "$D/c/cur.csv")
  mp=$(measure "mlops-parquet" "$C_RUNS" "${MD[@]}" --reference "$D/c/ref.parquet" --current "$D/c/cur.parquet")
  for row in "$mc" "$mp"; do
    read -r n w m <<<"$row"
    printf '%-16s wall %8.2f s  peak RSS %6s MB  %s\n' "$n" "$w" "$m" \
      "$([ "$m" -le 2048 ] && echo PASS || echo MISS)"
  done
fi
