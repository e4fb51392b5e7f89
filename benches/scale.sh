#!/usr/bin/env bash
# Scale (issue 15): a team's year of sweeps, N = 100,000 runs (one ref each),
# listed, logged, verified, pushed, fetched into a fresh clone and synced.
# Prints one line per row of the issue's table, with `git for-each-ref` as the
# floor. The fixture is built by benches/runs_fixture.rs: one run recorded by
# `mlops track`, the rest the same records written through the library.
# Rerun: N=100000 bash benches/scale.sh     (N=10000 for a quick look)
source "$(dirname "$0")/common.sh"
build_mlops
need_hyperfine
command -v /usr/bin/time >/dev/null || { apt-get update -qq && apt-get install -y -qq time >/dev/null; }
N=${N:-100000}
RUNS=${RUNS:-5}
S="$WORK/scale-$N"
R="$S/repo"; O="$S/origin.git"; C="$S/clone"
rm -rf "$S"; mkdir -p "$S"; fresh_repo "$R"
git -C "$R" config gc.auto 0          # measure the loose state first
HF=(hyperfine -N --style basic --export-markdown /dev/null)
row() { printf '%-48s %s\n' "$1" "$2"; }
median_of() { # median wall seconds of a command, RUNS times
  for _ in $(seq "$RUNS"); do
    s=$(date +%s.%N); eval "$1" >/dev/null 2>&1; e=$(date +%s.%N); echo "$e - $s" | bc
  done | median
}

echo "== building $N runs"
(cd "$ROOT" && MLOPS="$MLOPS" REPO="$R" N="$N" cargo bench --quiet --bench runs_fixture)
objs=$(git -C "$R" count-objects -v | awk '/^count:/{print $2}')
row "objects per run before gc" "$(echo "scale=2; $objs / $N" | bc)"
row "loose size, KiB per run" "$(echo "scale=1; $(git -C "$R" count-objects -v | awk '/^size:/{print $2}') / $N" | bc)"

M="$MLOPS -C $R"
row "git for-each-ref refs/mlops/runs (floor)" "$(median_of "git -C $R for-each-ref refs/mlops/runs")"
row "runs list --json, cold (no index)" "$(RUNS=3 median_of "rm -f $R/.git/mlops/runs-index*; $M runs list --json")"
$M runs list --json >/dev/null
row "runs list --json, warm" "$(median_of "$M runs list --json")"
row "runs list --filter --sort, warm" "$(median_of "$M runs list --filter 'metrics.acc > 0.9 and params.lr = 0.01' --sort -metrics.acc")"
row "log -n 10, cold" "$(RUNS=3 median_of "rm -rf $R/.git/mlops/log-index* $R/.git/mlops/runs-index*; $M log -n 10")"
$M log -n 10 >/dev/null
row "log -n 10, warm" "$(median_of "$M log -n 10")"
v=$( { /usr/bin/time -f "%e %M" $M verify >/dev/null; } 2>&1 | tail -1)
row "verify, loose objects (s, peak KB)" "$v"
git -C "$R" pack-refs --all
git -C "$R" gc -q
pack=$(du -sk "$R/.git/objects/pack" | cut -f1)
row "after git gc, KiB per run" "$(echo "scale=2; $pack / $N" | bc)"
v=$( { /usr/bin/time -f "%e %M" $M verify >/dev/null; } 2>&1 | tail -1)
row "verify, packed (s, peak KB)" "$v"

git init -q --bare "$O"
git -C "$R" remote add origin "$O"
s=$(date +%s.%N); $M sync >/dev/null; e=$(date +%s.%N)
row "sync, first push" "$(echo "$e - $s" | bc)"
$M -q track -- true
s=$(date +%s.%N); $M sync >/dev/null; e=$(date +%s.%N)
row "sync of one new event" "$(echo "$e - $s" | bc)"
git clone -q "$O" "$C"
git -C "$C" config user.name bench; git -C "$C" config user.email bench@example.com
s=$(date +%s.%N); "$MLOPS" -C "$C" sync --no-push >/dev/null; e=$(date +%s.%N)
row "fresh clone: sync --no-push" "$(echo "$e - $s" | bc)"
row "runs in the clone" "$("$MLOPS" -C "$C" runs list --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')"
