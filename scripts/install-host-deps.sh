#!/usr/bin/env bash
# System packages the full runtime build and its tests use: Debian's RocksDB
# (for the `rocksdb` key-value backend) and libclang (to generate its
# bindings), `docker-registry` (the CNCF distribution server, which the
# OCI push/pull tests run on loopback) and `shellcheck` (the workflow
# checks lint every `run:` script with it), `chromium` and an emoji font
# (the web client's end-to-end tests drive it headless and keep
# screenshots), and npm when there is none (the
# JavaScript package's tests install their tools, Node 24 included, from
# npm's registry with it). Installs only what is missing;
# `serve.sh` needs none of them.
set -euo pipefail
missing=()
for package in librocksdb-dev libclang-dev docker-registry shellcheck chromium fonts-noto-color-emoji; do
    dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package")
done
command -v npm >/dev/null || missing+=(npm)
[ ${#missing[@]} -eq 0 ] && exit 0
sudo=""
[ "$(id -u)" -eq 0 ] || sudo=sudo
echo "installing ${missing[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
