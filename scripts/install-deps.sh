#!/usr/bin/env bash
# Installs what the build and the tests need from Debian's packages, only when something is missing
# (a second run takes well under a second). Needs root or sudo for apt-get.
set -euo pipefail

# libopenmpi-dev and openmpi-bin: data-parallel training (mpirun; tensor/communicator.h).
# python3-pip and python3-matplotlib are for xtcocotools, the evaluator oracle (below).
# clang and libclang-rt-14-dev (its libFuzzer and sanitizer runtimes, only recommended by clang) build
# the fuzz targets (scripts/fuzz.sh).
pkgs=(cmake ninja-build g++ libeigen3-dev libstb-dev doctest-dev nlohmann-json3-dev libcli11-dev libopenmpi-dev openmpi-bin
      python3-torch python3-torchvision python3-pip python3-matplotlib clang libclang-rt-14-dev)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
sudo_cmd=()
[ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
if [ ${#missing[@]} -ne 0 ]; then
  echo "install-deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  "${sudo_cmd[@]}" apt-get update -qq
  "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# xtcocotools (the reference COCO-WholeBody evaluator) exists only on PyPI. --no-deps matters: its
# declared requirements would pull a numpy 2 from PyPI over Debian's numpy 1.24, which Debian's
# python3-torch is built against. Its real needs (numpy, matplotlib) come from apt above.
if ! /usr/bin/python3 -c "import xtcocotools.cocoeval" 2>/dev/null; then
  echo "install-deps: installing xtcocotools from PyPI"
  "${sudo_cmd[@]}" /usr/bin/python3 -m pip install -q --break-system-packages --no-deps xtcocotools==1.14.3
fi
