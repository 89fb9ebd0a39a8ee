#!/usr/bin/env bash
# Installs npm's dockerfile-utils (the Dockerfile linter; no hadolint in Debian) into the
# project-local, git-ignored .cache/dockerfile-utils and prints the path of its executable.
# Idempotent: an installed copy is reused.
set -euo pipefail
cd "$(dirname "$0")/.."
version=0.16.3
prefix="$PWD/.cache/dockerfile-utils"
binary="$prefix/node_modules/.bin/dockerfile-utils"
if [[ ! -x "$binary" ]] || ! grep -q "\"version\": \"$version\"" \
    "$prefix/node_modules/dockerfile-utils/package.json" 2>/dev/null; then
  npm install --prefix "$prefix" --no-audit --no-fund --loglevel=error \
    "dockerfile-utils@$version" >&2
fi
echo "$binary"
