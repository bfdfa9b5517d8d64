#!/usr/bin/env bash
# The single-binary bundle next to `keel up` on the same product (spin.toml):
# file size, start → first 200 (median of 5 warm-disk starts; `keel up` with
# its compile cache warm, the bundle with nothing but itself), RSS idle, and
# RSS after SECONDS_PER_RUN (default 5) of authenticated reads and writes at
# 32 connections.
#
#   bash scripts/bench-bundle.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
target="${CARGO_TARGET_DIR:-target}"
seconds="${SECONDS_PER_RUN:-5}"
port="${BENCH_PORT:-3918}"
base="http://127.0.0.1:$port"

bash scripts/build-components.sh >/dev/null
cargo build --release -q -p keel-runtime -p keel-bench
keel="$target/release/keel"
bench="$target/release/keel-bench"
work=$(mktemp -d)
server=""
stop() {
    [ -n "$server" ] && { kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; }
    server=""
}
trap 'stop; rm -rf "$work"' EXIT

"$keel" bundle -f spin.toml -o "$work/team-collab" >/dev/null
mb() { awk -v b="$(stat -c %s "$1")" 'BEGIN { printf "%.1f MB", b / 1e6 }'; }
rss_mb() { awk '/VmRSS/ {printf "%.1f MB", $2 / 1024}' "/proc/$server/status"; }
json_field() { sed -n "s/.*\"$1\":\"\([^\"]*\)\".*/\1/p"; }
components=$(awk -F'"' '/^source *=/ { print $2 }' spin.toml | sed 's|^|./|' | tr '\n' ' ')
# shellcheck disable=SC2086
echo "keel binary $(mb "$keel"); components $(du -cb $components | awk 'END { printf "%.1f MB", $1 / 1e6 }'); bundle $(mb "$work/team-collab")"

# Start "$@" on a fresh state directory; sets $server and $start_ms.
start() {
    local state started
    state=$(mktemp -d -p "$work")
    started=$(date +%s%N)
    # Writes are rate limited per user; high enough for one benchmark user.
    SPIN_VARIABLE_TOKEN_SECRET="bench-secret-0123456789abcdef0123456789" \
    SPIN_VARIABLE_RATE_LIMIT_WRITES_PER_USER="100000000/60" "$@" \
        --listen "127.0.0.1:$port" --state-dir "$state" >>"$work/server.log" 2>&1 &
    server=$!
    until curl -fs "$base/healthz" >/dev/null 2>&1; do
        kill -0 "$server" 2>/dev/null || { cat "$work/server.log" >&2; exit 1; }
        sleep 0.001
    done
    start_ms=$(( ($(date +%s%N) - started) / 1000000 ))
}

measure() {
    local label=$1
    shift
    start "$@"   # fills the compile cache of `keel up`; the bundle has none
    stop
    local starts=()
    for _ in 1 2 3 4 5; do
        start "$@"
        starts+=("$start_ms")
        stop
    done
    start "$@"
    local idle token auth workspace channel messages
    idle=$(rss_mb)
    token=$(curl -fs -X POST "$base/v1/auth/signup" \
        -d '{"email":"bench@example.com","password":"benchmark-password","display_name":"Bench"}' | json_field token)
    auth="authorization: Bearer $token"
    workspace=$(curl -fs -X POST "$base/v1/workspaces" -H "$auth" -d '{"name":"bench"}' | json_field id)
    channel=$(curl -fs -X POST "$base/v1/workspaces/$workspace/channels" -H "$auth" -d '{"name":"load"}' | json_field id)
    messages="$base/v1/workspaces/$workspace/channels/$channel/messages"
    "$bench" --label "$label: POST message" --url "$messages" --method POST --body '{"text":"bench"}' \
        --header "$auth" --expect 201 --connections 32 --seconds "$seconds"
    "$bench" --label "$label: GET messages" --url "$messages?limit=20" --header "$auth" --connections 32 --seconds "$seconds"
    local sorted
    sorted=$(printf '%s\n' "${starts[@]}" | sort -n | tr '\n' ' ')
    echo "$label: start → first 200 median $(printf '%s\n' "${starts[@]}" | sort -n | sed -n 3p) ms (runs: $sorted); RSS idle $idle, after load $(rss_mb)"
    stop
}

measure "keel up" "$keel" up -f spin.toml --cache-dir "$work/cache"
measure "bundle" "$work/team-collab"
