#!/usr/bin/env bash
# Copies the header-only dependencies from this machine's Debian packages into .devdeps/ (git-ignored)
# so that they can travel to the GPU machine, which has no package registry. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
mkdir -p .devdeps
for d in eigen3 doctest nlohmann CLI stb; do
  [ -d ".devdeps/$d" ] || cp -r "/usr/include/$d" ".devdeps/$d"
done
# Eigen is included as <Eigen/...>: expose it at the top of the folder as well.
[ -e .devdeps/Eigen ] || ln -s eigen3/Eigen .devdeps/Eigen
du -sh .devdeps
