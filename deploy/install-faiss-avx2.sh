#!/usr/bin/env bash
# Builds FAISS with AVX2 kernels from Debian's own source package (the same version as the
# installed libfaiss-dev) and installs libfaiss_avx2.a + headers into a private prefix, which
# CMakeLists.txt prefers over Debian's binary. Why: Debian's libfaiss is a generic x86-64 build
# whose distance loops are scalar; this one searches flat/IVF ~4x and HNSW ~1.7x faster.
#
# Skipped (Debian's binary stays in use) when the CPU has no AVX2, when QUARRY_FAISS=debian, or
# when the prefix already holds this version. The user's apt configuration is left as it was:
# the deb-src entries live in a temporary sources file with private package lists.
# Called by deploy/install-deps.sh after the Debian packages (cmake, g++, libopenblas-dev,
# libfaiss-dev, dpkg-dev) are installed.
# Environment: QUARRY_FAISS=auto|avx2|debian (default auto), QUARRY_FAISS_PREFIX
# (default /opt/quarry/faiss).
set -euo pipefail

mode="${QUARRY_FAISS:-auto}"
prefix="${QUARRY_FAISS_PREFIX:-/opt/quarry/faiss}"

case "$mode" in
  debian)
    echo "install-faiss: QUARRY_FAISS=debian: using Debian's generic libfaiss-dev"
    exit 0
    ;;
  auto | avx2) ;;
  *)
    echo "install-faiss: QUARRY_FAISS must be auto, avx2 or debian (got '$mode')" >&2
    exit 2
    ;;
esac

if ! grep -qw avx2 /proc/cpuinfo; then
  if [[ "$mode" == avx2 ]]; then
    echo "install-faiss: QUARRY_FAISS=avx2 but this CPU has no AVX2" >&2
    exit 1
  fi
  echo "install-faiss: CPU has no AVX2: using Debian's generic libfaiss-dev"
  exit 0
fi

version="$(dpkg-query -W -f='${source:Version}' libfaiss-dev)"
stamp="$prefix/quarry-faiss-source-version"
if [[ -f "$prefix/lib/libfaiss_avx2.a" && "$(cat "$stamp" 2>/dev/null)" == "$version" ]]; then
  echo "install-faiss: FAISS $version (AVX2) already installed in $prefix"
  exit 0
fi

sudo_cmd=()
if [[ $(id -u) -ne 0 ]]; then sudo_cmd=(sudo); fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
chmod 0755 "$work"  # apt's unprivileged _apt user downloads into it

# deb-src entries for exactly the archives and suites that provide the installed libfaiss-dev.
mapfile -t origins < <(apt-cache policy libfaiss-dev |
  awk '$1 ~ /^[0-9]+$/ && $2 ~ /:\/\// && $NF == "Packages" {print $2, $3}' | sort -u)
if ((${#origins[@]} == 0)); then
  echo "install-faiss: no apt source provides libfaiss-dev (run apt-get update)" >&2
  exit 1
fi
for origin in "${origins[@]}"; do
  read -r uri suite_component <<<"$origin"
  echo "deb-src $uri ${suite_component%%/*} ${suite_component#*/}"
done >"$work/sources.list"
mkdir -p "$work/sources.list.d" "$work/lists/partial"
apt_private=(-o "Dir::Etc::SourceList=$work/sources.list"
  -o "Dir::Etc::SourceParts=$work/sources.list.d"
  -o "Dir::State::Lists=$work/lists"
  -o "Dir::Cache::pkgcache=" -o "Dir::Cache::srcpkgcache=")

started=$SECONDS
echo "install-faiss: fetching Debian source faiss=$version from: $(tr '\n' ';' <"$work/sources.list")"
apt-get "${apt_private[@]}" update -qq
(cd "$work" && apt-get "${apt_private[@]}" source -qq "faiss=$version" >/dev/null)
source_dir="$(find "$work" -mindepth 1 -maxdepth 1 -type d -name 'faiss-*' | head -n 1)"

echo "install-faiss: building faiss_avx2 (FAISS_OPT_LEVEL=avx2, no GPU, no Python, no tests)"
cmake -S "$source_dir" -B "$work/build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DFAISS_OPT_LEVEL=avx2 -DFAISS_ENABLE_GPU=OFF -DFAISS_ENABLE_PYTHON=OFF \
  -DBUILD_TESTING=OFF -DBUILD_SHARED_LIBS=OFF -DCMAKE_POSITION_INDEPENDENT_CODE=ON >/dev/null
nice -n 10 cmake --build "$work/build" --target faiss_avx2 --parallel "$(nproc)" >/dev/null

# The library and its headers (the headers are the same source tree as Debian's).
staging="$work/prefix"
install -D -m 0644 "$work/build/faiss/libfaiss_avx2.a" "$staging/lib/libfaiss_avx2.a"
(cd "$source_dir" && find faiss -name '*.h' -not -path 'faiss/gpu/*' -not -path 'faiss/python/*' \
  -exec install -D -m 0644 {} "$staging/include/{}" \;)
echo "$version" >"$staging/quarry-faiss-source-version"
"${sudo_cmd[@]}" mkdir -p "$(dirname "$prefix")"
"${sudo_cmd[@]}" rm -rf "$prefix.new"
"${sudo_cmd[@]}" cp -a "$staging" "$prefix.new"
"${sudo_cmd[@]}" rm -rf "$prefix"
"${sudo_cmd[@]}" mv "$prefix.new" "$prefix"
echo "install-faiss: FAISS $version (AVX2) installed in $prefix in $((SECONDS - started)) s"
