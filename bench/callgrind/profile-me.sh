#!/usr/bin/env bash
# Counts the instructions and allocations a latchkey server spends per `me` request, under
# callgrind (valgrind), which counts the same on a busy machine as on an idle one.
#
#   bench/callgrind/profile-me.sh target/release/latchkey /tmp/profile [REQUESTS]
#
# Signs one user up, switches instrumentation on, sends 200 `me` requests to warm up, zeroes
# the counters, sends REQUESTS (default 2000) `me` requests one after another on one keep-alive
# connection with the same token (docs/operations/me.graphql, as the benchmark sends it), and
# dumps. Prints instructions and malloc calls per request; OUT_DIR keeps callgrind.out.1 for
# callgrind_annotate.
set -euo pipefail
bin="$1"; out="$2"; requests="${3:-2000}"
here="$(cd "$(dirname "$0")" && pwd)"
mkdir -p "$out"
work="$(mktemp -d)"
port=$((20000 + RANDOM % 20000))
valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$out/callgrind.out" \
  "$bin" serve --listen "127.0.0.1:$port" --database-url "sqlite://$work/lk.db?mode=rwc" \
  --jwt-secret latchkey-bench-signing-key-0123456789abcdef --mail-dir "$work/mail" --log warn \
  > "$out/server.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true; rm -rf "$work"' EXIT
python3 "$here/me_requests.py" "$port" setup
callgrind_control -i on "$server" >/dev/null
python3 "$here/me_requests.py" "$port" run 200
callgrind_control -z "$server" >/dev/null
python3 "$here/me_requests.py" "$port" run "$requests"
callgrind_control -d "$server" >/dev/null
kill -TERM "$server"; wait "$server" || true
python3 - "$out/callgrind.out.1" "$requests" <<'PY'
import re, sys
path, requests = sys.argv[1], int(sys.argv[2])
total, calls, names, callee = 0, {}, {}, None
for line in open(path, errors="replace"):
    if line.startswith("summary:"):
        total = int(line.split()[1])
    m = re.match(r"cfn=\((\d+)\)(?: (.*))?", line)
    if m:
        if m.group(2): names[m.group(1)] = m.group(2).strip()
        callee = names.get(m.group(1))
        continue
    m = re.match(r"fn=\((\d+)\)(?: (.*))?", line)
    if m and m.group(2):
        names[m.group(1)] = m.group(2).strip()
    m = re.match(r"calls=(\d+)", line)
    if m and callee in ("malloc", "realloc", "calloc"):
        calls[callee] = calls.get(callee, 0) + int(m.group(1))
print(f"instructions per me: {total / requests:,.0f}")
for name in sorted(calls):
    print(f"{name} calls per me: {calls[name] / requests:.1f}")
PY
