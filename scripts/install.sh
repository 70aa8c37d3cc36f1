#!/usr/bin/env bash
# Install what the stack and the tests need and are missing: uv, the locked
# Python workspace, and Debian's redis-server, Prometheus (promtool),
# Alertmanager (amtool) and docker-compose. Safe to run again: it installs
# only what is absent.
set -euo pipefail
cd "$(dirname "$0")/.."

missing_debs=()
command -v redis-server >/dev/null || missing_debs+=(redis-server)
command -v promtool >/dev/null || missing_debs+=(prometheus)
command -v amtool >/dev/null || missing_debs+=(prometheus-alertmanager)
command -v docker-compose >/dev/null || missing_debs+=(docker-compose)
if ((${#missing_debs[@]})); then
  echo "install: Debian packages ${missing_debs[*]}"
  sudo_cmd=""
  [[ $(id -u) -eq 0 ]] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends \
    "${missing_debs[@]}" >/dev/null
  # Debian starts these as system services; the stack runs its own copies.
  for unit in redis-server prometheus prometheus-alertmanager prometheus-node-exporter; do
    $sudo_cmd service "$unit" stop >/dev/null 2>&1 || true
  done
fi

if ! command -v uv >/dev/null; then
  echo "install: uv"
  python3 -m pip install --quiet --disable-pip-version-check "uv>=0.5"
fi
uv sync --frozen --all-packages --group dev --quiet
