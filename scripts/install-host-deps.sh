#!/usr/bin/env bash
# System libraries the full runtime build links: Debian's RocksDB (for the
# `rocksdb` key-value backend) and libclang (to generate its bindings).
# Installs only what is missing; `serve.sh` needs neither.
set -euo pipefail
missing=()
for package in librocksdb-dev libclang-dev; do
    dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package")
done
[ ${#missing[@]} -eq 0 ] && exit 0
sudo=""
[ "$(id -u)" -eq 0 ] || sudo=sudo
echo "installing ${missing[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
