#!/usr/bin/env bash
# Model registry: list / show / history of one model with 1,000 events
# (N=500 registered versions, each promoted to staging), against GTO (PyPI)
# holding the same history as git tags.
# Target: each mlops read answers in < 0.1 s.
#
# mlops' history is built through the CLI (`model register --artifact` needs no
# run; `promote --to staging` with no gates). GTO's `register`/`assign` take
# ~1 s each, so its history is written with `git tag -a` in exactly the format
# GTO writes (checked against GTO 1.10: `name@vX.Y.Z` and `name#stage#N`
# annotated tags with GTO's own messages), one commit per version, tagger
# times one second apart so GTO orders them as it would its own.
source "$(dirname "$0")/common.sh"
build_mlops
need_hyperfine
venv gto
GTO="$VENV/bin/gto"
N=${N:-500}
RUNS=${RUNS:-20}
GTO_RUNS=${GTO_RUNS:-5}

# --- mlops ------------------------------------------------------------------
M="$WORK/registry-mlops"; fresh_repo "$M"
cat > "$M/mlops.toml" <<'EOF'
[models.fraud]
owner = "risk@bank.example"
risk_tier = "high"
stages = ["staging", "production"]
EOF
echo weights > "$M/model.bin"
start=$(date +%s.%N)
for i in $(seq 1 "$N"); do
  "$MLOPS" -C "$M" -q model register fraud --artifact model.bin --version "1.0.$i" >/dev/null
  "$MLOPS" -C "$M" -q promote "fraud@1.0.$i" --to staging >/dev/null
done
end=$(date +%s.%N)
events=$(git -C "$M" rev-list --count refs/mlops/models/fraud)
echo "mlops: $events events written in $(echo "$end - $start" | bc) s"

# --- GTO --------------------------------------------------------------------
G="$WORK/registry-gto"; fresh_repo "$G"
echo weights > "$G/model.bin"
git -C "$G" add model.bin && git -C "$G" commit -qm init
start=$(date +%s.%N)
base=1767225600   # 2026-01-01T00:00:00Z
parent=$(git -C "$G" rev-parse HEAD)
tree=$(git -C "$G" rev-parse HEAD^{tree})
for i in $(seq 1 "$N"); do
  t=$((base + 2 * i))
  parent=$(GIT_COMMITTER_DATE="@$t +0000" GIT_AUTHOR_DATE="@$t +0000" \
    git -C "$G" commit-tree "$tree" -p "$parent" -m "train $i")
  GIT_COMMITTER_DATE="@$t +0000" git -C "$G" tag -a "fraud@v1.0.$i" "$parent" \
    -m "Registering artifact fraud version v1.0.$i"
  GIT_COMMITTER_DATE="@$((t + 1)) +0000" git -C "$G" tag -a "fraud#staging#$i" "$parent" \
    -m "Assigning stage staging to artifact fraud version v1.0.$i"
done
git -C "$G" update-ref refs/heads/main "$parent"
end=$(date +%s.%N)
echo "gto: $(git -C "$G" tag | wc -l) tags written in $(echo "$end - $start" | bc) s"

# Both must hold the same state before they are timed.
# (Outputs are captured first: `grep -q` closing the pipe early would fail the
# pipeline under pipefail.)
m_list=$("$MLOPS" -C "$M" model list)
[[ $m_list == *"staging=1.0.$N"* ]] || { echo "mlops state is wrong: $m_list"; exit 1; }
g_show=$(cd "$G" && "$GTO" show fraud --plain)
grep -Eq "^fraud +v1\.0\.$N +staging" <<<"$g_show" || { echo "gto state is wrong: $(head -3 <<<"$g_show")"; exit 1; }
echo "gto show (overview) says: $(cd "$G" && "$GTO" show --plain | tail -1)"
m_hist=$("$MLOPS" -C "$M" model history fraud --json)
[ "$(grep -c '"kind"' <<<"$m_hist")" = $((2 * N)) ] || { echo "mlops history is short"; exit 1; }
g_hist=$(cd "$G" && "$GTO" history fraud --json)
[ "$(grep -o '"event"' <<<"$g_hist" | wc -l)" = $((2 * N)) ] || { echo "gto history is short"; exit 1; }

# --- timing -----------------------------------------------------------------
OUT="$WORK/registry-times.tsv"; : > "$OUT"
time_it() {  # label runs command...
  local label=$1 runs=$2; shift 2
  local json="$WORK/registry-$label.json"
  hyperfine -N --warmup 2 --runs "$runs" --export-json "$json" "$*" >/dev/null 2>&1
  local med
  med=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['results'][0]['median'])" "$json")
  printf '%s\t%s\n' "$label" "$med" | tee -a "$OUT"
}
time_it mlops-list "$RUNS" "$MLOPS" -C "$M" model list --json
time_it mlops-show "$RUNS" "$MLOPS" -C "$M" model show fraud --json
time_it mlops-history "$RUNS" "$MLOPS" -C "$M" model history fraud --json
cd "$G"
time_it gto-show "$GTO_RUNS" "$GTO" show --json
time_it gto-show-name "$GTO_RUNS" "$GTO" show fraud --json
time_it gto-history "$GTO_RUNS" "$GTO" history fraud --json

python3 - "$OUT" <<'EOF'
import sys
t = dict(l.split("\t") for l in open(sys.argv[1]).read().split("\n") if l)
t = {k: float(v) for k, v in t.items()}
rows = [("list", "mlops model list --json", "gto show --json", "list", "show"),
        ("show", "mlops model show fraud --json", "gto show fraud --json", "show", "show-name"),
        ("history", "mlops model history fraud --json", "gto history fraud --json", "history", "history")]
print("\n| operation | mlops | median | GTO | median | GTO / mlops |")
print("|---|---|---:|---|---:|---:|")
for op, mc, gc, mk, gk in rows:
    m, g = t["mlops-" + mk], t["gto-" + gk]
    print(f"| {op} | `{mc}` | {m*1000:.1f} ms | `{gc}` | {g*1000:.0f} ms | {g/m:.0f}× |")
EOF
