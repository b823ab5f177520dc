#!/usr/bin/env bash
# Installs what the build and the tests need from Debian's packages, only when something is missing
# (a second run takes well under a second). Needs root or sudo for apt-get.
set -euo pipefail

pkgs=(cmake ninja-build g++ libeigen3-dev libstb-dev doctest-dev nlohmann-json3-dev libcli11-dev
      python3-torch python3-torchvision)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
echo "install-deps: installing ${missing[*]}"
sudo_cmd=()
[ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
