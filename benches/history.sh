#!/usr/bin/env bash
# The record store at 1,000 / 10,000 / 100,000 events on one entity (issue 9).
# Targets: the store's append <= 2 ms in process; a whole `mlops note` flat
# (within 10 %) from 1 to 10,000 events; <= 16 KiB of new object content per
# append at 10,000 events; `mlops verify` of 100,000 records <= 5 s and
# <= 300 MB peak memory. SIZES=1000,10000 for a quick run.
source "$(dirname "$0")/common.sh"
build_mlops
command -v /usr/bin/time >/dev/null || { apt-get update -qq && apt-get install -y -qq time >/dev/null; }
cd "$ROOT"
MLOPS="$MLOPS" BENCH_WORK="$WORK" cargo bench --quiet --bench history
