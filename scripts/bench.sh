#!/usr/bin/env bash
# Benchmark the team-collab product: start a runtime on a scratch state
# directory, sign up a user, and report req/s, p50, p99 and max for
#   GET /healthz, authenticated GET …/messages?limit=20 (read) and
#   authenticated POST …/messages (write, full stack down to SQLite)
# at 1 and 32 connections, login for a known and an unknown email, the time
# from start to the first 200, and the server's RSS idle (after a start that
# compiled and after one that read the compile cache) and after the runs.
#
#   bash scripts/bench.sh                                  # Keel's runtime
#   bash scripts/bench.sh --compare /path/to/spin          # and a second runtime, same run
#   bash scripts/bench.sh --compare /tmp/keel-old --manifest /tmp/old/spin.toml --histogram
#   bash scripts/bench.sh --bundle                         # and `keel bundle` of the same product
#   bash scripts/bench.sh --otel                           # and the same runtime exporting OpenTelemetry
#                                                          # (spin-otel.toml: guest spans too) to a local sink
#   bash scripts/bench.sh --soak [SECONDS]                 # instead: SECONDS (60) of reads and writes
#                                                          # at 64 connections at once, RSS every 5 s;
#                                                          # fails on any error or unexpected status
#   bash scripts/bench.sh --live [SUBSCRIBERS]             # instead: live events (keel-live): POST → event
#                                                          # read off the SSE socket, p50/p99 to 1 stream
#                                                          # and to SUBSCRIBERS (1000) streams, RSS per stream
#   bash scripts/bench.sh --files [CLIENTS]                # instead: file sharing (tests/bench/files.py):
#                                                          # upload/download MB/s of 1, 8 and 20 MiB files,
#                                                          # ranged reads, CLIENTS (8) at once, RSS
#
# A runtime is any binary with Spin's command line (`up --listen ADDR
# --state-dir DIR -f spin.toml`): a real `spin`, or another `keel` build;
# `--manifest FILE` after `--compare BIN` serves that runtime another
# manifest (e.g. a copy of an older build's spin.toml and dist/).
# `--bundle` adds the single-binary bundle of spin.toml (`keel bundle`), run
# with `up`'s flags, and prints its size next to the keel binary's. `--otel`
# adds Keel serving products/team-collab/spin-otel.toml with
# OTEL_EXPORTER_OTLP_ENDPOINT set to a sink that accepts every export: the
# cost of traces, metrics and guest spans against the first run.
# Each run also prints the server's CPU time per request (server_cpu, user
# and system over all its threads), the steadiest figure on a shared VM.
# SECONDS_PER_RUN (default 10) sets each run's length; RATE_LIMIT (default
# 100000000/60, counted) sets the login and write limits, RATE_LIMIT=off skips them.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
target="${CARGO_TARGET_DIR:-target}"
seconds="${SECONDS_PER_RUN:-10}"
port="${BENCH_PORT:-3917}"
base="http://127.0.0.1:$port"

runtimes=()   # "binary|manifest[|otel]"; manifest "-" for a bundle
histogram=()
bundle=0
otel=0
soak=0
live=0
files=0
while [ $# -gt 0 ]; do
    case "$1" in
        --compare) runtimes+=("$2|spin.toml"); shift 2 ;;
        --manifest)
            [ ${#runtimes[@]} -gt 0 ] || { echo "bench.sh: --manifest follows a --compare BIN" >&2; exit 2; }
            runtimes[-1]="${runtimes[-1]%%|*}|$2"; shift 2 ;;
        --histogram) histogram=(--histogram); shift ;;
        --bundle) bundle=1; shift ;;
        --otel) otel=1; shift ;;
        --soak)
            soak=60; shift
            if [ $# -gt 0 ] && [[ "$1" =~ ^[0-9]+$ ]]; then soak=$1; shift; fi ;;
        --files)
            files=8; shift
            if [ $# -gt 0 ] && [[ "$1" =~ ^[0-9]+$ ]]; then files=$1; shift; fi ;;
        --live)
            live=1000; shift
            if [ $# -gt 0 ] && [[ "$1" =~ ^[0-9]+$ ]]; then live=$1; shift; fi ;;
        *) echo "bench.sh: unknown argument $1 (see the comment at the top)" >&2; exit 2 ;;
    esac
done

bash scripts/build-components.sh >/dev/null
cargo build --release -q -p keel-runtime -p keel-bench
runtimes=("$target/release/keel|spin.toml" "${runtimes[@]}")
bench="$target/release/keel-bench"
live_bench="$target/release/keel-live"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
if [ "$bundle" -eq 1 ]; then
    "$target/release/keel" bundle -f spin.toml -o "$work/team-collab" >/dev/null
    runtimes+=("$work/team-collab|-")
    mb() { awk -v b="$(stat -c %s "$1")" 'BEGIN { printf "%.1f MB", b / 1e6 }'; }
    echo "bundle $(mb "$work/team-collab") = keel binary $(mb "$target/release/keel") + components and their precompiled code"
fi

sink=""
if [ "$otel" -eq 1 ]; then
    # An OTLP/HTTP sink: every export read whole and answered 200.
    sink_port=$((port + 1))
    python3 - "$sink_port" <<'PY' &
import http.server, sys
class Sink(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers.get("content-length", 0)))
        self.send_response(200)
        self.send_header("content-type", "application/x-protobuf")
        self.send_header("content-length", "0")
        self.end_headers()
    def log_message(self, *args):
        pass
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Sink).serve_forever()
PY
    sink=$!
    runtimes+=("$target/release/keel|products/team-collab/spin-otel.toml|otel")
fi

state=""
server=""
stop() {
    [ -n "$server" ] && { kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; }
    [ -n "$state" ] && rm -rf "$state"
    server="" state=""
}
trap 'stop; [ -n "$sink" ] && kill "$sink" 2>/dev/null; rm -rf "$work"' EXIT

rss_mb() { awk '/VmRSS/ {printf "%.1f", $2 / 1024}' "/proc/$server/status"; }
json_field() { sed -n "s/.*\"$1\":\"\([^\"]*\)\".*/\1/p"; }

run() { "$bench" "$@" --seconds "$seconds" --pid "$server" "${histogram[@]}"; }

echo "keel-bench: ${seconds}s per run, $(nproc) cores, $(date -u +%FT%TZ)"
# Start the runtime on $state; sets $server and $start_ms (to the first 200).
start_server() {
    local started app=(up -f "$manifest") telemetry=()
    # A bundle is the runtime and the app: it takes `up`'s flags only.
    [ "$manifest" = "-" ] && app=()
    [ "$exporting" = otel ] && telemetry=(OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:$sink_port")
    started=$(date +%s%N)
    # Logins and writes are rate limited; the limits stay on (each pays for
    # its counters) but high enough for a benchmark from one user.
    SPIN_VARIABLE_TOKEN_SECRET="$secret" \
    SPIN_VARIABLE_RATE_LIMIT_LOGIN_PER_ADDRESS="${RATE_LIMIT:-100000000/60}" \
    SPIN_VARIABLE_RATE_LIMIT_LOGIN_PER_EMAIL="${RATE_LIMIT:-100000000/60}" \
    SPIN_VARIABLE_RATE_LIMIT_WRITES_PER_USER="${RATE_LIMIT:-100000000/60}" \
    SPIN_VARIABLE_RATE_LIMIT_PASSWORD_HASHES="${RATE_LIMIT:-100000000/60}" \
        env "${telemetry[@]}" "$runtime" "${app[@]}" --listen "127.0.0.1:$port" --state-dir "$state" >>"$state/server.log" 2>&1 &
    server=$!
    until curl -fs "$base/healthz" >/dev/null 2>&1; do
        kill -0 "$server" 2>/dev/null || { cat "$state/server.log" >&2; exit 1; }
        sleep 0.002
    done
    start_ms=$(( ($(date +%s%N) - started) / 1000000 ))
}

for entry in "${runtimes[@]}"; do
    IFS='|' read -r runtime manifest exporting <<<"$entry"
    state=$(mktemp -d)
    secret="bench-secret-$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')"
    echo
    echo "== $runtime ($("$runtime" --version 2>/dev/null | head -1)) serving $manifest${exporting:+, exporting OpenTelemetry}"
    # The first start may compile (empty compile cache); the second is what
    # a restarted pod sees.
    start_server
    first_start=$start_ms first_rss=$(rss_mb)
    kill "$server"; wait "$server" 2>/dev/null || true
    start_server
    echo "start → first 200: $start_ms ms warm ($first_start ms on the first start)"
    echo "RSS idle: $(rss_mb) MB ($first_rss MB after the first start)"

    token=$(curl -fs -X POST "$base/v1/auth/signup" \
        -d '{"email":"bench@example.com","password":"benchmark-password","display_name":"Bench"}' | json_field token)
    auth="authorization: Bearer $token"
    workspace=$(curl -fs -X POST "$base/v1/workspaces" -H "$auth" -d '{"name":"bench"}' | json_field id)
    channel=$(curl -fs -X POST "$base/v1/workspaces/$workspace/channels" -H "$auth" -d '{"name":"load"}' | json_field id)
    messages="$base/v1/workspaces/$workspace/channels/$channel/messages"
    for _ in $(seq 1 50); do
        curl -fs -o /dev/null -X POST "$messages" -H "$auth" -d '{"text":"seed message"}'
    done

    if [ "$files" -gt 0 ]; then
        python3 tests/bench/files.py "$base" "$server" "$files"
        echo "RSS after the runs: $(rss_mb) MB"
        stop
        continue
    fi
    if [ "$live" -gt 0 ]; then
        # One stream per connection; the load generator needs the descriptors.
        ulimit -n "$(( live + 256 > 4096 ? live + 256 : 4096 ))"
        channel_path="/v1/workspaces/$workspace/channels/$channel"
        "$live_bench" --base "$base" --channel "$channel_path" --header "$auth" --subscribers 1 --messages 50 \
            --interval 0.1 --pid "$server"
        "$live_bench" --base "$base" --channel "$channel_path" --header "$auth" --subscribers "$live" --messages 20 \
            --interval 0.25 --pid "$server"
        echo "RSS after the runs: $(rss_mb) MB"
        stop
        continue
    fi
    if [ "$soak" -gt 0 ]; then
        # Half the connections read, half write, all at once; RSS sampled
        # meanwhile. keel-bench exits non-zero on any failed request.
        "$bench" --label "soak: GET messages (auth read)" --url "$messages?limit=20" --header "$auth" \
            --connections 32 --seconds "$soak" >"$work/soak-read" 2>&1 &
        reader=$!
        "$bench" --label "soak: POST message (auth write)" --url "$messages" --method POST \
            --body '{"text":"soak message"}' --header "$auth" --expect 201 --connections 32 --seconds "$soak" \
            >"$work/soak-write" 2>&1 &
        writer=$!
        samples=()
        while kill -0 "$reader" 2>/dev/null || kill -0 "$writer" 2>/dev/null; do
            samples+=("$(rss_mb)")
            sleep 5
        done
        failed=0
        wait "$reader" || failed=1
        wait "$writer" || failed=1
        cat "$work/soak-read" "$work/soak-write"
        echo "soak: ${soak}s at 64 connections; RSS every 5 s (MB): ${samples[*]}; after: $(rss_mb) MB"
        if [ "$failed" -ne 0 ] || ! kill -0 "$server" 2>/dev/null; then
            echo "soak: FAILED (errors above, or the server died)" >&2
            exit 1
        fi
        stop
        continue
    fi
    for conns in 1 32; do
        run --label "GET /healthz" --url "$base/healthz" --connections "$conns"
        run --label "GET messages?limit=20 (auth read)" --url "$messages?limit=20" --header "$auth" \
            --connections "$conns"
        run --label "POST message (auth write)" --url "$messages" --method POST \
            --body '{"text":"benchmark message"}' --header "$auth" --expect 201 --connections "$conns"
    done
    # Argon2 dominates a login; known and unknown emails should cost the same.
    login_seconds=$(( seconds < 3 ? seconds : 3 ))
    "$bench" --label "login, known email" --url "$base/v1/auth/login" --method POST --expect 200 \
        --body '{"email":"bench@example.com","password":"benchmark-password"}' --connections 1 --seconds "$login_seconds"
    "$bench" --label "login, unknown email" --url "$base/v1/auth/login" --method POST --expect 401 \
        --body '{"email":"nobody@example.com","password":"benchmark-password"}' --connections 1 --seconds "$login_seconds"
    echo "RSS after the runs: $(rss_mb) MB"
    stop
done
