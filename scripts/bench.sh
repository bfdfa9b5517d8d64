#!/usr/bin/env bash
# Benchmark the team-collab product on Keel's runtime: starts `keel up` on a
# scratch state directory and reports req/s, p50 and p99 for GET /healthz
# and for posting a message (authenticated, full stack: HTTP product →
# domain → repositories → SQLite), at 1 and 32 connections.
#   SECONDS_PER_RUN=10 bash scripts/bench.sh [extra keel up args]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
target="${CARGO_TARGET_DIR:-target}"
seconds="${SECONDS_PER_RUN:-10}"
port="${BENCH_PORT:-3917}"
base="http://127.0.0.1:$port"

bash scripts/build-components.sh >/dev/null
cargo build --release -q -p keel-runtime -p keel-bench

state=$(mktemp -d)
trap 'kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; rm -rf "$state"' EXIT
SPIN_VARIABLE_TOKEN_SECRET="bench-secret-$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')" \
    "$target/release/keel" up --listen "127.0.0.1:$port" --state-dir "$state" "$@" >"$state/keel.log" 2>&1 &
server=$!
for _ in $(seq 1 100); do
    curl -fs "$base/healthz" >/dev/null 2>&1 && break
    sleep 0.1
done
curl -fs "$base/healthz" >/dev/null || { cat "$state/keel.log"; exit 1; }

json_field() { sed -n "s/.*\"$1\":\"\([^\"]*\)\".*/\1/p"; }
token=$(curl -fs -X POST "$base/v1/auth/signup" \
    -d '{"email":"bench@example.com","password":"benchmark-password","display_name":"Bench"}' | json_field token)
auth="authorization: Bearer $token"
workspace=$(curl -fs -X POST "$base/v1/workspaces" -H "$auth" -d '{"name":"bench"}' | json_field id)
channel=$(curl -fs -X POST "$base/v1/workspaces/$workspace/channels" -H "$auth" -d '{"name":"load"}' | json_field id)
messages="$base/v1/workspaces/$workspace/channels/$channel/messages"

echo "keel-bench: ${seconds}s per run, $(nproc) cores, keel up $*"
for conns in 1 32; do
    "$target/release/keel-bench" --label "GET /healthz" --url "$base/healthz" \
        --connections "$conns" --seconds "$seconds"
    "$target/release/keel-bench" --label "POST message (auth, SQLite write)" --url "$messages" \
        --method POST --body '{"text":"benchmark message"}' --header "$auth" --expect 201 \
        --connections "$conns" --seconds "$seconds"
done
"$target/release/keel-bench" --label "GET messages?limit=50" --url "$messages?limit=50" \
    --header "$auth" --connections 32 --seconds "$seconds"
