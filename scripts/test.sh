#!/usr/bin/env bash
# Build the components and run every test: runtime unit tests, guest unit
# tests (natively), the cucumber suites against the composed components
# on Keel's runtime, the JavaScript package on Node, and the offline checks
# of the deployment manifests. Ends with one line: `total: N passed, N failed`.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 1
# A stray filter or runtime override must not shrink what CI checks.
unset KEEL_FEATURES KEEL_TEST_RUNTIME KEEL_TEST_PACKAGE

bash scripts/install-host-deps.sh || { echo "total: 0 passed, 1 failed"; exit 1; }
# Link the system RocksDB instead of building it from C++ sources.
export ROCKSDB_LIB_DIR="${ROCKSDB_LIB_DIR:-/usr/lib/$(gcc -dumpmachine)}"
bash scripts/build-components.sh || { echo "total: 0 passed, 1 failed"; exit 1; }
# Python with the deployment checks' packages; the OCI tests read pushed
# artifacts back with its `oras`.
python=$(bash scripts/install-deploy-deps.sh) || { echo "total: 0 passed, 1 failed"; exit 1; }
export KEEL_TEST_PYTHON="$python"
# The fully static keel (musl) the empty-root test runs.
static_keel=$(bash scripts/build-static.sh | tail -1) || { echo "total: 0 passed, 1 failed"; exit 1; }
export KEEL_STATIC_KEEL="$PWD/$static_keel"

# Every crate with a test runs it (derived from `cargo metadata` and the
# sources, so a new crate's tests cannot be forgotten); the guest ones
# compile for the host too.
mapfile -t CRATES < <(bash scripts/workspace-crates.sh tested)
[ ${#CRATES[@]} -gt 0 ] || { echo "test.sh: no crates with tests found"; echo "total: 0 passed, 1 failed"; exit 1; }
args=()
for crate in "${CRATES[@]}"; do
    args+=(-p "$crate")
done

log=$(mktemp)
cargo test --release --no-fail-fast "${args[@]}" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}

# The external-runtime seam (KEEL_TEST_RUNTIME, how the suites run on a real
# `spin`), exercised with Keel's own `keel` binary standing in: the
# embedded-defaults product suite, run through the CLI as a separate process,
# from the product packed as a Spin OCI artifact, then as a single-binary
# bundle (KEEL_TEST_PACKAGE).
target_dir=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
for package in oci-layout bundle; do
    KEEL_TEST_RUNTIME="$target_dir/release/keel" KEEL_TEST_PACKAGE=$package KEEL_FEATURES="team-collab product: sql-spin-sqlite" \
        cargo test --release -p keel-features --test features 2>&1 | tee -a "$log"
    [ "${PIPESTATUS[0]}" -eq 0 ] || status=1
done

# The JavaScript package: team-collab transpiled by jco, on Node 24.
bash scripts/test-js.sh 2>&1 | tee -a "$log"
[ "${PIPESTATUS[0]}" -eq 0 ] || status=1

# The web client in two headless Chromium browsers, against spin.toml.
bash scripts/test-web.sh 2>&1 | tee -a "$log"
[ "${PIPESTATUS[0]}" -eq 0 ] || status=1

# Every Kubernetes manifest in deploy/ (and every refusal the checks must
# make), offline against the SpinKube CRDs and Kubernetes' schemas.
# ... and what `keel deploy scaffold` writes: HPA, KEDA, fixed replicas, and
# a cron trigger as a CronJob.
scaffolds=$(mktemp -d)
keel="$target_dir/release/keel"
cluster=(-f products/team-collab/spin-cluster.toml --image ghcr.io/acme/team-collab:0.1.0
    --variable app_base_url=https://team-collab.example.com --variable postgres_host=postgres.keel-data.svc.cluster.local)
"$keel" deploy scaffold "${cluster[@]}" --runtime-config deploy/spinkube/team-collab/base/runtime-config.toml \
    --region us-ord --region de-fra-2 --region sg-sin-2 -o "$scaffolds/autoscaled" >/dev/null || status=1
"$keel" deploy scaffold "${cluster[@]}" --autoscaler keda --min-replicas 1 --region us-ord -o "$scaffolds/keda" \
    >/dev/null || status=1
"$keel" deploy scaffold "${cluster[@]}" --executor keel --replicas 3 -o "$scaffolds/fixed" >/dev/null || status=1
"$keel" deploy scaffold -f tests/deploy/cron-app/spin.toml --image ghcr.io/acme/reports:0.1.0 --replicas 2 \
    --cron-route reports=/internal/nightly --cron-bearer job_secret -o "$scaffolds/cron" >/dev/null || status=1
"$python" tests/deploy/validate.py "$scaffolds/autoscaled" "$scaffolds/keda" "$scaffolds/fixed" "$scaffolds/cron" 2>&1 |
    tee -a "$log"
[ "${PIPESTATUS[0]}" -eq 0 ] || status=1
rm -rf "$scaffolds"

# The product's OpenAPI description is a valid OpenAPI 3.1 document (the
# product suites hold every response to it, and the router's unit test
# every route).
"$python" -m openapi_spec_validator products/team-collab/openapi.yaml 2>&1 | tee -a "$log"
[ "${PIPESTATUS[0]}" -eq 0 ] || status=1

# Schemathesis against the served product (embedded defaults): generated
# requests for every operation and stateful sequences; no 5xx, and every
# response as the OpenAPI description says.
"$python" tests/api/fuzz.py "$target_dir/release/keel" 2>&1 | tee -a "$log"
[ "${PIPESTATUS[0]}" -eq 0 ] || status=1

# Sum libtest's "test result:" lines and the cucumber runner's summary;
# tests marked ignored and scenarios skipped on the external runtime are
# counted apart, never as passed.
read -r passed failed skipped < <(awk '
    /^test result:/ { for (i = 1; i <= NF; i++) { if ($(i) ~ /^passed;?$/) p += $(i-1); if ($(i) ~ /^failed;?$/) f += $(i-1); if ($(i) ~ /^ignored;?$/) s += $(i-1) } }
    /^[0-9]+ passed, [0-9]+ failed$/ { p += $1; f += $3 }
    /^skipped on the external runtime: [0-9]+/ { s += $6 }
    END { print p + 0, f + 0, s + 0 }' "$log")
rm -f "$log"
echo "skipped: $skipped (ignored tests, and scenarios that need Keel's runtime when run on another)"
if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then
    failed=1
fi
echo "total: $passed passed, $failed failed"
exit "$status"
