#!/usr/bin/env bash
# A fully static `keel` (musl): runs with nothing else on the file system,
# so it is the whole of Keel's container image (deploy/container/Dockerfile)
# and, through `keel bundle`, of static single-binary apps. Installs the
# musl target (rustup) and Debian's musl-tools (the C parts: SQLite, ring)
# when missing. Writes dist/keel-x86_64-linux-musl.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
target=x86_64-unknown-linux-musl
rustup target list --installed | grep -qx "$target" || rustup target add "$target"
if ! command -v musl-gcc >/dev/null; then
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo=sudo
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends musl-tools
fi
# No `rocksdb` feature: Debian's librocksdb is built for glibc.
cargo build --release --target "$target" -p keel-runtime
target_dir=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
mkdir -p dist
# Without its symbol tables (51 → 39 MB): what ships is this file, and
# bundles made from it. Traps still name guest functions (the components'
# name sections); a host backtrace shows addresses only.
strip --strip-all -o dist/keel-x86_64-linux-musl "$target_dir/$target/release/keel"
echo "dist/keel-x86_64-linux-musl"
