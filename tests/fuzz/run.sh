#!/usr/bin/env bash
# Bounded fuzzing of the GraphQL API with schemathesis, against a throwaway server.
#
# Starts latchkey on a free loopback port with a fresh SQLite database, signs a fuzz user up, and
# runs schemathesis in GraphQL mode (every query and mutation, arguments generated from the
# introspected schema, the fuzz user's access token on every request) for a bounded time. Fails on
# any HTTP 5xx, any INTERNAL_SERVER_ERROR in a response, a response that is not a GraphQL JSON
# object or breaks the schema's non-null promises, a panic in the server's log, or a server that
# does not exit 0 on SIGTERM.
#
# Figures go to stdout and to tests/fuzz/result.txt; the server log, schemathesis' report and the
# response tally stay in tests/fuzz/out/ (both gitignored).
#
# Environment:
#   LATCHKEY_BIN       server binary (default: `cargo build`, then $CARGO_TARGET_DIR/debug/latchkey)
#   FUZZ_VENV          virtualenv for schemathesis (default: ~/.cache/latchkey-fuzz-venv; reused)
#   FUZZ_MAX_TIME      seconds of fuzzing (default 90)
#   FUZZ_MAX_EXAMPLES  test cases per operation in each round of fuzzing (default 100)
#   FUZZ_WORKERS       concurrent schemathesis workers (default 2)
#   FUZZ_SEED          seed, to replay a run (the seed of each run is in result.txt)
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
VENV=${FUZZ_VENV:-$HOME/.cache/latchkey-fuzz-venv}
MAX_TIME=${FUZZ_MAX_TIME:-90}
MAX_EXAMPLES=${FUZZ_MAX_EXAMPLES:-100}
WORKERS=${FUZZ_WORKERS:-2}
SEED=${FUZZ_SEED:-}
OUT=$HERE/out
# The account every request is authenticated as; the password is also the first entry of the
# `passwords` dictionary in schemathesis.toml, so that fuzzed logins and updates can succeed.
FUZZ_EMAIL=fuzz@example.com
FUZZ_PASSWORD=Fuzz-Pass-2fA9xQ

log() { printf 'fuzz: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

# --- the server binary --------------------------------------------------------------------------
if [[ -n ${LATCHKEY_BIN:-} ]]; then
  BIN=$LATCHKEY_BIN
else
  target=${CARGO_TARGET_DIR:-$ROOT/target}
  [[ $target == /* ]] || target=$ROOT/$target
  BIN=$target/debug/latchkey
  log "cargo build --bin latchkey"
  (cd "$ROOT" && cargo build --quiet --bin latchkey)
fi
[[ -x $BIN ]] || die "no server binary at $BIN"

# --- schemathesis ---------------------------------------------------------------------------------
if [[ ! -x $VENV/bin/python ]]; then
  log "creating the virtualenv $VENV"
  python3 -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r "$HERE/requirements.txt"
grep -q "\"$FUZZ_PASSWORD\"" "$HERE/schemathesis.toml" \
  || die "schemathesis.toml's passwords dictionary must hold the fuzz user's password"

# --- a throwaway server ---------------------------------------------------------------------------
rm -rf "$OUT"
mkdir -p "$OUT"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/latchkey-fuzz.XXXXXX")
SERVER_LOG=$OUT/server.log
SERVER_PID=
cleanup() {
  if [[ -n $SERVER_PID ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

# 127.0.0.1 is a trusted proxy so that hooks.py can spread requests over many client addresses
# with X-Forwarded-For; otherwise the per-address rate limits refuse nearly every signup and login.
JWT_SECRET=$("$VENV/bin/python" -c 'import secrets; print(secrets.token_urlsafe(48))')
"$BIN" serve \
  --listen 127.0.0.1:0 \
  --database-url "sqlite://$WORK/lk.db?mode=rwc" \
  --jwt-secret "$JWT_SECRET" \
  --mail-dir "$WORK/mail" \
  --log warn,latchkey::app=info \
  --trusted-proxies 127.0.0.1/32 \
  2>"$SERVER_LOG" &
SERVER_PID=$!

BASE_URL=
for _ in $(seq 1 300); do
  if ! kill -0 "$SERVER_PID" 2>/dev/null; then
    cat "$SERVER_LOG" >&2
    die "the server exited before listening"
  fi
  BASE_URL=$(sed 's/\x1b\[[0-9;]*m//g' "$SERVER_LOG" | grep -o 'listening on http://[0-9.:]*' | head -n1 \
    | sed 's/^listening on //' || true)
  [[ -n $BASE_URL ]] && break
  sleep 0.2
done
[[ -n $BASE_URL ]] || { cat "$SERVER_LOG" >&2; die "the server did not say where it listens within 60s"; }
log "server $BASE_URL (pid $SERVER_PID, log $SERVER_LOG)"

TOKEN=$("$VENV/bin/python" "$HERE/signup.py" "$BASE_URL" "$FUZZ_EMAIL" "$FUZZ_PASSWORD") \
  || die "could not sign the fuzz user up"

# --- fuzzing --------------------------------------------------------------------------------------
log "schemathesis: GraphQL mode, ${MAX_TIME}s, ${MAX_EXAMPLES} examples per operation and round, $WORKERS workers"
seed_args=()
if [[ -n $SEED ]]; then seed_args=(--seed "$SEED"); fi
set +e
# SIGINT, not SIGTERM, if the outer bound hits: schemathesis then still writes its report.
# From $OUT, where schemathesis keeps its .schemathesis/ (crash files for `st replay`).
(cd "$OUT" && SCHEMATHESIS_HOOKS=$HERE/hooks.py LATCHKEY_FUZZ_STATS=$OUT/stats.json \
  timeout -s INT -k 30 $((MAX_TIME + 90)) \
  "$VENV/bin/schemathesis" --config-file "$HERE/schemathesis.toml" --no-color \
  run "$BASE_URL/graphql" \
  --checks response_schema_conformance,latchkey_no_5xx,latchkey_no_internal_server_error \
  --max-time "$MAX_TIME" \
  --max-examples "$MAX_EXAMPLES" \
  --workers "$WORKERS" \
  --header "Authorization: Bearer $TOKEN" \
  --request-timeout 30 \
  --generation-database none \
  --report json,junit \
  --report-dir "$OUT" \
  --report-json-path "$OUT/report.json" \
  --report-junit-path "$OUT/junit.xml" \
  "${seed_args[@]}")
ST_EXIT=$?
set -e

# --- stop the server ------------------------------------------------------------------------------
SERVER_EXIT=0
if kill -0 "$SERVER_PID" 2>/dev/null; then
  kill -TERM "$SERVER_PID"
  for _ in $(seq 1 150); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.2; done
  if kill -0 "$SERVER_PID" 2>/dev/null; then
    log "the server did not stop within 30s of SIGTERM; killing it"
    kill -KILL "$SERVER_PID" 2>/dev/null || true
  fi
  wait "$SERVER_PID" || SERVER_EXIT=$?
else
  wait "$SERVER_PID" || SERVER_EXIT=$?
  log "the server had already exited ($SERVER_EXIT)"
  if [[ $SERVER_EXIT == 0 ]]; then SERVER_EXIT="0 (before SIGTERM)"; fi
fi
SERVER_PID=

# --- figures --------------------------------------------------------------------------------------
set +e
summary=$("$VENV/bin/python" "$HERE/summarize.py" "$OUT/report.json" "$OUT/stats.json" "$ST_EXIT" \
  "$SERVER_LOG" "$SERVER_EXIT" "$HERE/result.txt")
SUMMARY_EXIT=$?
set -e
if [[ $SUMMARY_EXIT != 0 ]]; then
  echo
  echo "---- last lines of the server log ($SERVER_LOG) ----"
  tail -n 40 "$SERVER_LOG"
fi
echo
echo "==== latchkey fuzz summary (also in tests/fuzz/result.txt) ===="
printf '%s\n' "$summary"
exit "$SUMMARY_EXIT"
