#!/usr/bin/env bash
# Third-party verifiers of latchkey's access tokens: Node's `jose` (createRemoteJWKSet + jwtVerify)
# and Python's PyJWT (PyJWKClient) verify a real token from the JWKS URL, refuse an HS256 token
# made with the public key as secret, and refuse the token once its key is revoked (with a fresh
# JWKS cache). Python's `standardwebhooks` verifies the server's webhooks (verify_webhooks.py):
# the signup's event and its retry, signed with two secrets, refused with a wrong secret or a
# changed body. Called by .ci/run; exits non-zero on the first failure.
#
# Environment:
#   LATCHKEY_BIN     server binary (default: `cargo build`, then $CARGO_TARGET_DIR/debug/latchkey)
#   VERIFIERS_VENV   virtualenv for PyJWT (default: ~/.cache/latchkey-verifiers-venv; reused)
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
VENV=${VERIFIERS_VENV:-$HOME/.cache/latchkey-verifiers-venv}

log() { printf 'verifiers: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

if [[ -n ${LATCHKEY_BIN:-} ]]; then
  BIN=$LATCHKEY_BIN
else
  target=${CARGO_TARGET_DIR:-$ROOT/target}
  [[ $target == /* ]] || target=$ROOT/$target
  BIN=$target/debug/latchkey
  (cd "$ROOT" && cargo build --quiet --bin latchkey)
fi
[[ -x $BIN ]] || die "no server binary at $BIN"

log "npm ci (jose)"
(cd "$HERE" && npm ci --no-audit --no-fund --silent)
if [[ ! -x $VENV/bin/python ]]; then
  python3 -m venv "$VENV"
fi
log "pip install (PyJWT, standardwebhooks)"
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r "$HERE/requirements.txt"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/latchkey-verifiers.XXXXXX")
SERVER_PID=
HOOK_PID=
cleanup() {
  for pid in $SERVER_PID $HOOK_PID; do
    if kill -0 "$pid" 2>/dev/null; then
      kill -TERM "$pid" 2>/dev/null || true
      wait "$pid" 2>/dev/null || true
    fi
  done
  rm -rf "$WORK"
}
trap cleanup EXIT

SECRET=$("$VENV/bin/python" -c 'import secrets; print(secrets.token_urlsafe(48))')
free_port() {
  "$VENV/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
PORT=$(free_port)
BASE=http://127.0.0.1:$PORT

# The webhook receiver, listening before the server starts; two secrets, as during a rotation.
webhook_secret() {
  "$VENV/bin/python" -c 'import base64, os; print("whsec_" + base64.b64encode(os.urandom(32)).decode())'
}
HOOK_PORT=$(free_port)
HOOK_SECRETS="$(webhook_secret) $(webhook_secret)"
# shellcheck disable=SC2086 # one argument per secret
"$VENV/bin/python" "$HERE/verify_webhooks.py" "$HOOK_PORT" $HOOK_SECRETS &
HOOK_PID=$!
export DATABASE_URL="sqlite://$WORK/lk.db?mode=rwc" LATCHKEY_SECRET=$SECRET
# Scrub operator settings that could change the server under test.
for name in $(env | sed -n 's/^\(LATCHKEY_[A-Z_]*\)=.*/\1/p'); do
  [[ $name == LATCHKEY_SECRET || $name == LATCHKEY_BIN ]] || unset "$name"
done
LATCHKEY_WEBHOOK_URLS="http://127.0.0.1:$HOOK_PORT/latchkey" LATCHKEY_WEBHOOK_SECRET=$HOOK_SECRETS \
LATCHKEY_WEBHOOK_ALLOW_PRIVATE=true \
"$BIN" serve --listen "127.0.0.1:$PORT" --public-url "$BASE" --mail-dir "$WORK/mail" \
  --log warn >"$WORK/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 100); do
  curl -fs "$BASE/healthz" >/dev/null 2>&1 && break
  sleep 0.1
done
curl -fs "$BASE/healthz" >/dev/null || { cat "$WORK/server.log" >&2; die "the server did not start"; }

JWKS_URL=$(curl -fs "$BASE/.well-known/openid-configuration" \
  | "$VENV/bin/python" -c 'import json, sys; print(json.load(sys.stdin)["jwks_uri"])')
[[ $JWKS_URL == "$BASE/.well-known/jwks.json" ]] || die "jwks_uri is $JWKS_URL"

TOKEN=$(curl -fs "$BASE/graphql" -H 'Content-Type: application/json' --data @- <<'JSON' \
  | "$VENV/bin/python" -c 'import json, sys; print(json.load(sys.stdin)["data"]["signup"]["accessToken"])'
{"query": "mutation($input: SignupInput!) { signup(input: $input) { accessToken } }",
 "variables": {"input": {"email": "verifier@example.com", "password": "correct horse battery staple 42"}}}
JSON
)
KID=$("$VENV/bin/python" -c 'import jwt, sys; print(jwt.get_unverified_header(sys.argv[1])["kid"])' "$TOKEN")

log "a real token verifies; an HS256 token made with the public key does not"
node "$HERE/verify.mjs" "$JWKS_URL" "$TOKEN" accept
"$VENV/bin/python" "$HERE/verify.py" "$JWKS_URL" "$TOKEN" accept

log "after \`latchkey keys revoke $KID\`, the token is refused"
"$BIN" keys revoke "$KID"
# The running server picks the change up within a few seconds (a poll on SQLite): wait until its
# JWKS no longer lists the key, as a verifier's cache refresh would, then verify again.
"$VENV/bin/python" - "$JWKS_URL" "$KID" <<'PY' || die "the JWKS still lists $KID 10 s after its revocation"
import json, sys, time, urllib.request
url, kid = sys.argv[1], sys.argv[2]
deadline = time.monotonic() + 10
while time.monotonic() < deadline:
    with urllib.request.urlopen(url) as response:
        if kid not in {key.get("kid") for key in json.load(response)["keys"]}:
            sys.exit(0)
    time.sleep(0.1)
sys.exit(1)
PY
node "$HERE/verify.mjs" "$JWKS_URL" "$TOKEN" refuse
"$VENV/bin/python" "$HERE/verify.py" "$JWKS_URL" "$TOKEN" refuse

log "standardwebhooks verifies the signup's webhook and its retry"
status=0
wait "$HOOK_PID" || status=$?
HOOK_PID=
[[ $status == 0 ]] || { cat "$WORK/server.log" >&2; die "the webhook check failed"; }

log "all passed"
