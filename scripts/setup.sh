#!/usr/bin/env bash
# Installs everything triaged needs to build and test on Debian 12. Idempotent: packages already
# present are left alone, and apt is only touched when something is missing.
set -euo pipefail

packages=(
  build-essential cmake pkg-config git ca-certificates curl
  libevent-dev node-llhttp libspdlog-dev prometheus-cpp-dev libtoml11-dev catch2
  libssl-dev openssl  # TLS on both sides; the openssl CLI makes the tests' certificates
  clang-format python3 python3-yaml
  prometheus  # /usr/bin/promtool and /usr/bin/prometheus for tests/integration/prometheus_test.cc
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  if [[ $(id -u) -ne 0 ]]; then SUDO=sudo; else SUDO=; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  echo "setup: all packages present"
fi
