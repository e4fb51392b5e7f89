# Shared helpers for the benchmark scripts (sourced, not run).
# Benchmarks install their own peers into a venv outside the repository.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
MLOPS="${MLOPS:-$ROOT/target/release/mlops}"
WORK="${BENCH_WORK:-/tmp/mlops-bench}"
VENV="${BENCH_VENV:-/tmp/mlops-bench-venv}"
mkdir -p "$WORK"

build_mlops() {
  (cd "$ROOT" && cargo build --release --quiet)
}

need_hyperfine() {
  command -v hyperfine >/dev/null || { apt-get update -qq && apt-get install -y -qq hyperfine >/dev/null; }
}

venv() {
  [ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check "$@"
}

fresh_repo() {
  rm -rf "$1" && mkdir -p "$1" && git -C "$1" init -q -b main
  git -C "$1" config user.name bench && git -C "$1" config user.email bench@example.com
}

# median of numbers on stdin
median() { sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
