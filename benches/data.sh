#!/usr/bin/env bash
# Datasets (issue 3): `mlops data add` / `data status` against DVC 3.x, git and
# the sha256 command-line tools, side by side in one run.
#   (a) 20,000 files of 4 KiB in 20 x 20 folders of 50 files
#   (b) four files of 256 MiB of random bytes
# Targets: (a) cold `data add` >= 10x faster than `dvc add`; warm `data status`
# >= 20x faster than `dvc status` and within 2x of `git status` (same files
# committed to git); (b) cold `data add` throughput >= 80% of two cores of
# `openssl dgst -sha256`, i.e. >= 6x `sha256sum`.
#
# Everything is page-cache warm (hyperfine warm-up runs): this measures hashing
# and bookkeeping, not the disk. "Cold" means no stat cache and no recorded
# version (mlops) / no .dvc file, no cache and no state db (DVC).
# Rerun: bash benches/data.sh      (env: RUNS=5, BENCH_WORK, BENCH_VENV, DVC_B=1)
source "$(dirname "$0")/common.sh"
build_mlops
need_hyperfine
venv 'dvc>=3,<4'
DVC="$VENV/bin/dvc"
export DVC_NO_ANALYTICS=1
RUNS=${RUNS:-5}
D="$WORK/data"
HF=(hyperfine -N --style basic)
rm -rf "$D" && mkdir -p "$D"

echo "== generating data under $D"
python3 "$ROOT/benches/gen_data.py" tree "$D/src/a"
python3 "$ROOT/benches/gen_data.py" big "$D/src/b"

# Four repositories: mlops (a), mlops (b), DVC (a and b), plain git (a).
for r in mlops-a mlops-b git-a dvc; do fresh_repo "$D/$r"; done
cp -a "$D/src/a" "$D/mlops-a/a"
cp -a "$D/src/b" "$D/mlops-b/b"
cp -a "$D/src/a" "$D/git-a/a"
cp -a "$D/src/a" "$D/dvc/a"
git -C "$D/git-a" add a && git -C "$D/git-a" commit -qm data
(cd "$D/dvc" && "$DVC" init -q && "$DVC" config core.analytics false \
  && "$DVC" config core.site_cache_dir "$D/dvc-site-cache" && git add .dvc && git commit -qm dvc)
DVC_VERSION=$("$DVC" --version)

MA="$D/mlops-a"; MB="$D/mlops-b"; DR="$D/dvc"; GA="$D/git-a"
COLD_A="sh -c 'cd $MA && git update-ref -d refs/mlops/datasets/a; rm -f .git/mlops/statcache mlops.lock'"
COLD_B="sh -c 'cd $MB && git update-ref -d refs/mlops/datasets/b; rm -f .git/mlops/statcache mlops.lock'"
DVC_COLD="sh -c 'cd $DR && rm -rf a.dvc b.dvc .gitignore .dvc/cache .dvc/tmp $D/dvc-site-cache'"

echo "== (a) cold add: mlops data add vs dvc add"
"${HF[@]}" --warmup 1 --runs $((RUNS * 2)) --export-json "$D/a-add-mlops.json" \
  --prepare "$COLD_A" -n "mlops data add (a)" "$MLOPS -C $MA -q data add a --name a"
"${HF[@]}" --warmup 1 --runs "$RUNS" --export-json "$D/a-add-dvc.json" \
  --prepare "$DVC_COLD" -n "dvc add (a)" "$DVC --cd $DR add -q a"

echo "== (a) warm status: mlops data status vs dvc status vs git status"
# The last hyperfine run left both repositories with the data added. The stat
# cache distrusts files changed within 2 s of its session start (racy-git
# guard): wait, refresh each tool's cache once, then measure.
sleep 3
"$MLOPS" -C "$MA" -q data status >/dev/null
"$DVC" --cd "$DR" status -q
git -C "$GA" status >/dev/null
"${HF[@]}" --warmup 3 --runs $((RUNS * 4)) --export-json "$D/a-status.json" \
  -n "mlops data status (a)" "$MLOPS -C $MA -q data status" \
  -n "dvc status (a)" "$DVC --cd $DR status -q" \
  -n "git status (a)" "git -C $GA status"

echo "== (b) cold add, 4 x 256 MiB: mlops data add vs sha256sum vs openssl"
ls "$MB"/b/*.bin > "$D/b.list"
"${HF[@]}" --warmup 1 --runs "$RUNS" --export-json "$D/b-add.json" \
  --prepare "$COLD_B" -n "mlops data add (b)" "$MLOPS -C $MB -q data add b --name b"
"${HF[@]}" --warmup 1 --runs "$RUNS" --export-json "$D/b-tools.json" \
  -n "sha256sum (b)" "sha256sum $(tr '\n' ' ' < "$D/b.list")" \
  -n "openssl dgst -sha256, one process (b)" "openssl dgst -sha256 $(tr '\n' ' ' < "$D/b.list")" \
  -n "openssl dgst -sha256, xargs -P2 (b)" "xargs -P2 -n1 -a $D/b.list openssl dgst -sha256"
if [ "${DVC_B:-1}" = 1 ]; then
  cp -a "$D/src/b" "$DR/b"
  "${HF[@]}" --warmup 1 --runs 3 --export-json "$D/b-add-dvc.json" \
    --prepare "$DVC_COLD" -n "dvc add (b)" "$DVC --cd $DR add -q b"
fi

echo
echo "== results ($(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)," \
  "sha_ni: $(grep -q sha_ni /proc/cpuinfo && echo yes || echo no); $DVC_VERSION; $(sha256sum --version | head -1); $(openssl version))"
python3 - "$D" <<'EOF'
import glob, json, sys
d = sys.argv[1]
med, cpu = {}, {}
for f in sorted(glob.glob(f"{d}/*.json")):
    for r in json.load(open(f))["results"]:
        med[r["command"]] = (r["median"], min(r["times"]), max(r["times"]), len(r["times"]))
        cpu[r["command"]] = r["user"] + r["system"]
print("| case | median (wall) | min … max | mean CPU (user+sys) | runs |")
print("|---|---:|---:|---:|---:|")
for k, (m, lo, hi, n) in med.items():
    print(f"| {k} | {m*1000:.1f} ms | {lo*1000:.0f} … {hi*1000:.0f} ms | {cpu[k]*1000:.0f} ms | {n} |")
g = lambda k: med[k][0]
print()
def check(name, value, target, ok):
    print(f"| {name} | {value} | {target} | {'pass' if ok else 'MISS'} |")
print("| target | measured | wanted | |")
print("|---|---:|---:|---|")
r = g("dvc add (a)") / g("mlops data add (a)")
check("(a) dvc add / mlops data add", f"{r:.1f}x", ">= 10x", r >= 10)
r = g("dvc status (a)") / g("mlops data status (a)")
check("(a) dvc status / mlops data status (warm)", f"{r:.1f}x", ">= 20x", r >= 20)
r = g("mlops data status (a)") / g("git status (a)")
check("(a) mlops data status / git status (warm)", f"{r:.2f}x", "<= 2x", r <= 2)
c = lambda k: cpu[k]
print(f"| (a) same in CPU time: dvc / mlops status, mlops / git status | {c('dvc status (a)') / c('mlops data status (a)'):.1f}x, "
      f"{c('mlops data status (a)') / c('git status (a)'):.2f}x | | info |")
gib = 4 * 256 / 1024
mt = g("mlops data add (b)")
p2 = g("openssl dgst -sha256, xargs -P2 (b)")
r = p2 / mt
check("(b) mlops throughput / openssl xargs -P2", f"{r*100:.0f}% ({gib/mt:.2f} vs {gib/p2:.2f} GiB/s)", ">= 80%", r >= 0.8)
r = g("sha256sum (b)") / mt
check("(b) sha256sum / mlops data add", f"{r:.1f}x", ">= 6x", r >= 6)
if "dvc add (b)" in med:
    print(f"\n(b) dvc add / mlops data add: {g('dvc add (b)') / mt:.1f}x (orientation, no target)")
EOF
