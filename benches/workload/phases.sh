#!/usr/bin/env bash
# The reference workload (gen-binlog.sh, next to this file) with only the phases whose title
# matches $KEEP (an extended regular expression; the schema and the end marker are always kept),
# with the same interface and environment: to measure some phases alone, e.g.
#
#   WORKLOAD=benches/workload/phases.sh KEEP='perf.narrow' scripts/bench-apply
#
# gen-binlog.sh stays a verbatim copy of the shared workload; this derives the subset at run time.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
: "${KEEP:?set KEEP to a regular expression of the phase titles to keep, e.g. KEEP=perf.narrow}"
TMP=$(mktemp /tmp/otter-workload.XXXXXX)
trap 'rm -f "$TMP"' EXIT
python3 - "$HERE" "$KEEP" >"$TMP" <<'PY'
import re, sys
here, keep = sys.argv[1], re.compile(sys.argv[2])
src = open(f"{here}/gen-binlog.sh").read()
# The copy runs from /tmp: its own directory must still be this one (wide_oltp.lua).
src = src.replace('HERE=$(cd "$(dirname "$0")" && pwd)', f"HERE='{here}'", 1)
# Inside `workload() { ... }`, a phase runs from its `phase "title"` line to the next one.
out, inside, drop, kept = [], False, False, 0
for line in src.splitlines(keepends=True):
    if line.startswith("workload() {"):
        inside = True
    elif inside and line.startswith("}"):
        inside, drop = False, False
    m = re.match(r'  phase "(.*)"$', line.rstrip("\n")) if inside else None
    if m:
        title = m.group(1)
        drop = not (title == "schema" or title == "workload done" or keep.search(title))
        kept += not drop
    if not drop:
        out.append(line)
if kept <= 2:
    sys.exit(f"no phase of gen-binlog.sh matches {sys.argv[2]!r}")
sys.stdout.write("".join(out))
PY
bash "$TMP"
