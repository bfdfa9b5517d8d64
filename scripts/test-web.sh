#!/usr/bin/env bash
# team-collab's web client end to end (tests/web): installs playwright-core
# from npm, serves spin.toml with the keel binary and drives two headless
# Chromium browsers (Debian's `chromium`, which install-host-deps.sh
# installs). Screenshots of the main screens are kept in
# $CARGO_TARGET_DIR/web-artifacts. Needs scripts/build-components.sh and a
# release `keel` first. Ends with one line: `N passed, N failed`.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 1

fail() { echo "test-web.sh: $1" >&2; echo "0 passed, 1 failed"; exit 1; }
target_dir="${CARGO_TARGET_DIR:-target}"
[[ "$target_dir" = /* ]] || target_dir="$PWD/$target_dir"
export KEEL_BIN="${KEEL_BIN:-$target_dir/release/keel}"
[ -x "$KEEL_BIN" ] || fail "$KEEL_BIN is missing: cargo build --release -p keel-runtime"
export CHROMIUM="${CHROMIUM:-$(command -v chromium)}"
[ -x "$CHROMIUM" ] || fail "chromium is missing (Debian: apt-get install chromium; scripts/install-host-deps.sh does)"
export KEEL_WEB_ARTIFACTS="${KEEL_WEB_ARTIFACTS:-$target_dir/web-artifacts}"
(cd tests/web && npm ci --no-audit --no-fund --loglevel=error >&2) || fail "npm ci in tests/web failed"

status=0
report=$(mktemp)
(cd tests/web && node --test --test-timeout=120000 --test-reporter=spec --test-reporter-destination=stdout \
    --test-reporter=tap --test-reporter-destination="$report" client.test.mjs) || status=1
passed=$(grep -c '^ok ' "$report")
failed=$(grep -c '^not ok ' "$report")
rm -f "$report"
echo "screenshots: $KEEL_WEB_ARTIFACTS"
[ "$status" -eq 0 ] || [ "$failed" -gt 0 ] || failed=1
echo "$passed passed, $failed failed"
exit "$status"
