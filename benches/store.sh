#!/usr/bin/env bash
# Record store: appending 1,000 events to one entity and reading them back.
# Target: an append < 5 ms, reading a 1,000-event history < 50 ms.
# Each append is a whole `mlops note` process (start-up, git identity, CAS),
# which is what a user or a CI step pays.
source "$(dirname "$0")/common.sh"
build_mlops
need_hyperfine
R="$WORK/store"; fresh_repo "$R"
N=${N:-1000}
start=$(date +%s.%N)
for i in $(seq 1 "$N"); do "$MLOPS" -C "$R" note model/bench -m "event $i" >/dev/null; done
end=$(date +%s.%N)
echo "appends: $N in $(echo "$end - $start" | bc) s => $(echo "($end - $start) * 1000 / $N" | bc -l | cut -c1-5) ms per append (mean, including process start)"
hyperfine -N --warmup 3 --runs 30 --export-json "$WORK/store-read.json" \
  "$MLOPS -C $R log model/bench --json" \
  "$MLOPS -C $R note model/bench -m one-more" 2>/dev/null | grep -E "Time|±|Benchmark"
git -C "$R" gc -q
hyperfine -N --warmup 3 --runs 30 "$MLOPS -C $R log model/bench --json" 2>/dev/null | grep -E "Time|Benchmark" | sed 's/^/after gc: /'
