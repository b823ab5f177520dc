#!/usr/bin/env bash
# The demo command of the README: set-up, build, then train the small heatmap regressor on
# generated data on the CPU and print its loss falling.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
"${BUILD_DIR:-build}/bin/wbpose-demo" --device cpu "$@"
