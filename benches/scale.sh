#!/usr/bin/env bash
# Scale (issue 15): a team's year of sweeps, N = 100,000 runs, recorded one
# ref per run, then shared with `mlops sync` (which folds them into the runs
# archive), listed, logged, verified, synced incrementally and fetched into a
# fresh clone. Prints one line per row of the issue's table, with
# `git for-each-ref` over the N run refs as the floor. The fixture is built by
# benches/runs_fixture.rs: one run recorded by `mlops track`, the others the
# same records written through the library (one ref each, as track writes).
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
row() { printf '%-52s %s\n' "$1" "$2"; }
median_of() { # median wall seconds of a command, RUNS times
  for _ in $(seq "$RUNS"); do
    s=$(date +%s.%N); eval "$1" >/dev/null 2>&1; e=$(date +%s.%N); echo "$e - $s" | bc
  done | median
}
once() { s=$(date +%s.%N); eval "$1" >/dev/null 2>&1; e=$(date +%s.%N); echo "$e - $s" | bc; }

echo "== objects a run writes: 1,000 runs with git's maintenance off"
SMALL="$S/small"; fresh_repo "$SMALL"; git -C "$SMALL" config gc.auto 0
(cd "$ROOT" && MLOPS="$MLOPS" REPO="$SMALL" N=1000 cargo bench --quiet --bench runs_fixture)
objs=$(git -C "$SMALL" count-objects -v | awk '/^count:/{print $2}')
row "objects per run before gc" "$(echo "scale=2; $objs / 1000" | bc)"
echo "== building $N runs (git gc --auto runs as mlops appends, as it would in use)"
(cd "$ROOT" && MLOPS="$MLOPS" REPO="$R" N="$N" cargo bench --quiet --bench runs_fixture)
git -C "$R" gc -q                     # the nightly maintenance a team's repository gets
row "git for-each-ref refs/mlops/runs, $N refs (floor)" "$(median_of "git -C $R for-each-ref refs/mlops/runs")"
M="$MLOPS -C $R"
git init -q --bare "$O"
git -C "$R" remote add origin "$O"
row "sync, first push (folds every run)" "$(once "$M sync")"
row "refs on the remote" "$(git -C "$O" for-each-ref | wc -l)"
git -C "$R" gc -q --prune=now
pack=$(du -sk "$R/.git/objects/pack" | cut -f1)
row "after git gc, KiB per run" "$(echo "scale=2; $pack / $N" | bc)"
row "runs list --json, cold (no index)" "$(RUNS=3 median_of "rm -rf $R/.git/mlops; $M runs list --json")"
$M runs list --json >/dev/null
row "runs list --json, warm" "$(median_of "$M runs list --json")"
row "runs list --filter --sort, warm" "$(median_of "$M runs list --filter 'metrics.acc > 0.9 and params.lr = 0.01' --sort -metrics.acc")"
row "log -n 10, cold" "$(RUNS=3 median_of "rm -rf $R/.git/mlops; $M log -n 10")"
$M log -n 10 >/dev/null
row "log -n 10, warm" "$(median_of "$M log -n 10")"
v=$( { /usr/bin/time -f "%e s, %M KB" $M verify >/dev/null; } 2>&1 | tail -1)
row "verify ($N runs, packed)" "$v"
$M -q track -- true
row "sync of one new event" "$(once "$M sync")"
git clone -q "$O" "$C" 2>/dev/null
git -C "$C" config user.name bench; git -C "$C" config user.email bench@example.com
row "fresh clone: sync --no-push" "$(once "$MLOPS -C $C sync --no-push")"
row "runs listed in the clone" "$("$MLOPS" -C "$C" runs list --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')"
