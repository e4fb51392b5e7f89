#!/usr/bin/env bash
# Audit report at scale (issue 13): a model with 100 versions and 1,000 drift
# reports of its monitor; `mlops report` must take under 1 s. The embedded
# verification covers the model's own lineage (its ref, the run, the
# monitor), not the whole repository.
# Rerun: bash benches/report.sh       (VERSIONS=100 REPORTS=1000 RUNS=5)
source "$(dirname "$0")/common.sh"
build_mlops
VERSIONS=${VERSIONS:-100}
REPORTS=${REPORTS:-1000}
RUNS=${RUNS:-5}
R="$WORK/report-$VERSIONS-$REPORTS"
fresh_repo "$R"
cd "$R"
cat > mlops.toml <<TOML
[models.fraud]
owner = "risk@bank.example"
stages = ["staging", "production"]
[monitors.inputs]
reference = "ref.csv"
current = ["today.csv"]
model = "fraud"
TOML
python3 - <<'PY'
import random
random.seed(7)
for name, shift in (("ref.csv", 0.0), ("today.csv", 0.3)):
    with open(name, "w") as f:
        f.write("income,age,score\n")
        for i in range(2000):
            f.write(f"{random.gauss(50 + shift, 10):.3f},{random.randint(18, 80)},{random.random():.4f}\n")
PY
git add -A && git commit -qm setup
for v in $(seq 1 "$VERSIONS"); do
  echo "weights $v" > model.bin
  "$MLOPS" -q model register fraud --artifact model.bin --version "1.0.$v" >/dev/null
done
"$MLOPS" -q promote fraud@1.0.$VERSIONS --to staging >/dev/null || true
s=$(date +%s.%N)
for i in $(seq 1 "$REPORTS"); do "$MLOPS" -q drift inputs >/dev/null || true; done
e=$(date +%s.%N)
echo "recorded $REPORTS drift reports in $(echo "$e - $s" | bc) s"
times=$(for _ in $(seq "$RUNS"); do
  s=$(date +%s.%N); "$MLOPS" -q report fraud --out /tmp/mlops-bench-report >/dev/null; e=$(date +%s.%N)
  echo "$e - $s" | bc
done)
printf 'mlops report, %s versions, %s drift reports: median %s s (runs: %s)\n' \
  "$VERSIONS" "$REPORTS" "$(echo "$times" | median)" "$(echo $times)"
/usr/bin/time -f "peak RSS %M KB" "$MLOPS" -q report fraud --out /tmp/mlops-bench-report 2>&1 >/dev/null | tail -1
