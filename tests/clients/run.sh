#!/usr/bin/env bash
# The client compatibility suite: latchkey against graphql-http's audits, Apollo Client, urql,
# GraphiQL and the admin console in headless Chromium, graphql-codegen and graphql-inspector.
# Called by .ci/run; exits non-zero if any step fails (every step runs, the failures are listed
# at the end). Screenshots of the browser tests land in $ARTIFACTS_DIR/screenshots when it is
# set, else in tests/clients/artifacts/screenshots (gitignored).
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
cd "$here"

failed=()
step() { echo; echo "== clients: $*"; }
fail() { echo "!! clients: $1 failed"; failed+=("$1"); }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

step "chromium"
if [ ! -x /usr/bin/chromium ]; then
  as_root apt-get update -q && as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium \
    || { echo "!! could not install chromium"; exit 1; }
fi
/usr/bin/chromium --version 2>/dev/null

step "latchkey binary"
if [ -z "${LATCHKEY_BIN:-}" ]; then
  LATCHKEY_BIN="${CARGO_TARGET_DIR:-$repo/target}/debug/latchkey"
  if [ ! -x "$LATCHKEY_BIN" ]; then
    (cd "$repo" && cargo build --locked --bin latchkey) || { echo "!! cargo build failed"; exit 1; }
  fi
fi
export LATCHKEY_BIN
echo "$LATCHKEY_BIN"
"$LATCHKEY_BIN" --version || { echo "!! $LATCHKEY_BIN does not run"; exit 1; }

step "npm ci"
npm ci --no-audit --no-fund || { echo "!! npm ci failed"; exit 1; }

step "graphql-codegen (introspection of a running server)"
rm -rf generated
if node scripts/with-server.mjs npx --no-install graphql-codegen --config codegen.ts; then
  step "tsc --noEmit (generated types)"
  npx --no-install tsc --noEmit -p tsconfig.json || fail "tsc --noEmit"
else
  fail "graphql-codegen"
fi

step "graphql-inspector validate (docs/operations against schema.graphql)"
(cd "$repo" && "$here/node_modules/.bin/graphql-inspector" validate 'docs/operations/*.graphql' schema.graphql) \
  || fail "graphql-inspector validate docs/operations"

step "node --test"
mkdir -p artifacts
node --test --test-reporter=spec --test-concurrency=4 --test-timeout=180000 test/*.test.mjs || fail "node --test"

echo
if [ "${#failed[@]}" -gt 0 ]; then
  echo "== clients: FAILED: ${failed[*]}"
  exit 1
fi
echo "== clients: all passed"
