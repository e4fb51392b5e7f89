#!/usr/bin/env bash
# Opens the demo's audit report and drift report in headless Chromium
# (Debian's `chromium`, installed if missing), takes screenshots, prints
# PDFs, and fails on console errors or a page that does not print.
# Output: $OUT (default /tmp/mlops-screenshots). Rerun:
#   bash tests/report-screenshots.sh
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
OUT="${OUT:-/tmp/mlops-screenshots}"
MLOPS="${MLOPS:-$ROOT/target/release/mlops}"
command -v chromium >/dev/null || { apt-get update -qq && apt-get install -y -qq chromium >/dev/null; }
[ -x "$MLOPS" ] || (cd "$ROOT" && cargo build --release --quiet)
rm -rf "$OUT" && mkdir -p "$OUT"
"$MLOPS" demo --dir "$OUT/demo" > "$OUT/demo.txt"
status=0
for page in report/report.html drift-2026-02.html; do
  name=$(basename "$page" .html)
  file="$OUT/demo/$page"
  log="$OUT/$name.console.log"
  chromium --headless --no-sandbox --disable-gpu --hide-scrollbars \
    --enable-logging=stderr --v=0 --window-size=1280,1800 \
    --screenshot="$OUT/$name.png" "file://$file" 2> "$log" || status=1
  chromium --headless --no-sandbox --disable-gpu --no-pdf-header-footer \
    --print-to-pdf="$OUT/$name.pdf" "file://$file" 2>> "$log" || status=1
  if grep -E "CONSOLE|Uncaught" "$log" | grep -qiE "error|uncaught"; then
    echo "FAIL $page: console errors (see $log)"; status=1
  fi
  for f in "$OUT/$name.png" "$OUT/$name.pdf"; do
    if [ ! -s "$f" ]; then echo "FAIL $page: no $(basename "$f")"; status=1; fi
  done
  echo "ok   $page: $OUT/$name.png, $OUT/$name.pdf ($(wc -c < "$OUT/$name.pdf") bytes)"
done
exit "$status"
