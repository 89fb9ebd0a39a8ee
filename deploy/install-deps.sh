#!/usr/bin/env bash
# Installs every Debian 12 package Quarry needs to build, test and run, then (build only) FAISS
# rebuilt for AVX2 from Debian's source package where the CPU has it (deploy/install-faiss-avx2.sh).
# Idempotent: packages already present are skipped by apt-get, an installed FAISS build is kept.
# Usage: deploy/install-deps.sh [--runtime-only | --build-only]
#   (default: build + test tools; --build-only: what the image's build stage needs)
# Environment: QUARRY_FAISS=auto|avx2|debian (see deploy/install-faiss-avx2.sh).
set -euo pipefail

build_packages=(
  build-essential cmake ninja-build pkg-config git
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler grpc-proto
  libabsl-dev libfaiss-dev libopenblas-dev prometheus-cpp-dev
  catch2 libbenchmark-dev
  libcurl4-openssl-dev nlohmann-json3-dev libspdlog-dev libcpp-httplib-dev libstemmer-dev
  libdeflate-dev
  libssl-dev openssl
  python3 python3-grpcio python3-grpc-tools
  python3-numpy python3-faiss  # benchmark vectors: ../shared/tools/gen_vectors.py
)
# Only the tests use these: Prometheus scraping real processes, `docker-compose config`, the
# Kubernetes manifest check, npm for the Dockerfile linter (deploy/install-dockerfile-lint.sh).
test_packages=(
  prometheus docker-compose python3-yaml
)
if ! command -v npm >/dev/null; then test_packages+=(npm); fi
# What the built binaries load (FAISS links statically): for the slim runtime image.
runtime_packages=(
  libgrpc++1.51 libgrpc29 libprotobuf32 libabsl20220623 libopenblas0 libgomp1 libcurl4
  libspdlog1.10 libfmt9 libstemmer0d zlib1g libdeflate0 libprometheus-cpp-core1.0 libprometheus-cpp-pull1.0
  ca-certificates libssl3
)

packages=("${build_packages[@]}" "${test_packages[@]}")
if [[ "${1:-}" == "--runtime-only" ]]; then
  packages=("${runtime_packages[@]}")
elif [[ "${1:-}" == "--build-only" ]]; then
  packages=("${build_packages[@]}")
fi

missing=()
for package in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$package")
  fi
done

if ((${#missing[@]} == 0)); then
  echo "install-deps: all ${#packages[@]} packages already installed"
else
  sudo_cmd=()
  if [[ $(id -u) -ne 0 ]]; then sudo_cmd=(sudo); fi
  echo "install-deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  "${sudo_cmd[@]}" apt-get update -qq
  "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# FAISS links statically, so the runtime image needs nothing more for the AVX2 build.
if [[ "${1:-}" != "--runtime-only" ]]; then
  "$(dirname "$0")/install-faiss-avx2.sh"
fi
