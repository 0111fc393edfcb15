#!/usr/bin/env bash
# Installs everything triaged needs to build and test on Debian 12. Idempotent: packages already
# present are left alone, and apt is only touched when something is missing.
# --build-only: only what building the triaged binary needs (the Dockerfile's build stage).
set -euo pipefail

packages=(
  build-essential cmake pkg-config git ca-certificates curl
  libevent-dev node-llhttp libspdlog-dev prometheus-cpp-dev libtoml11-dev
  libssl-dev  # TLS on both sides (OpenSSL 3)
)
if [[ ${1:-} != --build-only ]]; then
  packages+=(
    catch2 clang-format python3 python3-yaml
    openssl  # tests/deploy/check_deploy.sh: a throwaway certificate for the gateway's TLS config
    prometheus  # /usr/bin/promtool and /usr/bin/prometheus for tests/integration/prometheus_test.cc
    clang libclang-rt-14-dev  # scripts/fuzz.sh: libFuzzer and the sanitizer runtimes for clang
    # tests/container: the image built from a debootstrapped base, run in a network namespace;
    # catatonit is the pause process of podman's pods (play kube)
    podman runc catatonit debootstrap iproute2
  )
fi

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
