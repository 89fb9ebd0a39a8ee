#!/usr/bin/env bash
# The Dockerfile: linted by npm's dockerfile-utils (any warning fails), and built with the
# project's own scripts (so tests/deploy/check_image_build.sh proves its build steps).
# Usage: check_dockerfile.sh REPOSITORY_ROOT
set -euo pipefail
root="${1:?usage: check_dockerfile.sh REPOSITORY_ROOT}"
dockerfile="$root/Dockerfile"
linter="$("$root/deploy/install-dockerfile-lint.sh")"
report="$("$linter" lint "$dockerfile")"
if [[ -n "$report" ]]; then
  echo "dockerfile-utils lint $dockerfile:" >&2
  echo "$report" >&2
  exit 1
fi
# What the image promises, each a line the Dockerfile must hold.
require() {
  if ! grep -Eq "$1" "$dockerfile"; then
    echo "Dockerfile: expected a line matching /$1/ ($2)" >&2
    exit 1
  fi
}
require '^RUN deploy/install-deps.sh --build-only' "dependencies from the project's install script"
require '^RUN deploy/build-release.sh /out /build' "the build step the image_build_steps test runs"
require '^FROM debian:bookworm-slim AS runtime' "slim runtime stage"
require 'install-deps.sh --runtime-only' "runtime packages only"
require '^USER quarry' "non-root user"
require '^VOLUME \["/var/lib/quarry/data"\]' "data directory as a volume"
require '^EXPOSE 50051 9464 9465' "gRPC and metrics ports"
require 'CMD \["quarry", "health"' "HEALTHCHECK through the gRPC health service"
echo "Dockerfile: lint clean, build steps and runtime shape as expected"
