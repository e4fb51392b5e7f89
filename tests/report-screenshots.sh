#!/usr/bin/env bash
# Opens the demo's audit report and drift report in headless Chromium
# (Debian's `chromium`, installed if missing), takes screenshots, prints
# PDFs, and fails on console errors, a page that does not print, or a chart
# of the audit report split across printed pages: each chart's title is
# drawn at its top (SVG text) and repeated in its caption below it, so with
# pypdf (in a venv outside the repository) both must be on one PDF page.
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
VENV="${PDF_VENV:-/tmp/mlops-pdfcheck-venv}"
[ -x "$VENV/bin/python" ] || { python3 -m venv "$VENV" && "$VENV/bin/pip" install -q pypdf; }
"$VENV/bin/python" - "$OUT/report.pdf" "$OUT/demo/report/report.json" <<'PY' || status=1
import json, sys
import pypdf
pages = [p.extract_text() or "" for p in pypdf.PdfReader(sys.argv[1]).pages]
charts = json.load(open(sys.argv[2]))["charts"]
bad = 0
for c in charts:
    where = [i + 1 for i, t in enumerate(pages) for _ in range(t.count(c["title"]))]
    if len(where) < 2 or len(set(where)) > 1:
        print(f"FAIL chart split across pages {sorted(set(where))}: {c['title']}")
        bad = 1
print(f"ok   {len(charts)} chart(s) each on one page of {len(pages)}")
sys.exit(bad)
PY
exit "$status"
