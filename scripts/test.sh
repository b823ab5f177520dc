#!/usr/bin/env bash
# The test command of the README: set-up, build, every test. ctest prints the summary last.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
cd "${BUILD_DIR:-build}"
ctest --output-on-failure -j "$(nproc)" "$@"
