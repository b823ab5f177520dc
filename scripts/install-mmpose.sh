#!/usr/bin/env bash
# Installs the real MMPose 1.3.2 (pure-Python model code) for the reference tests, from PyPI, into
# .pydeps/mmpose (git-ignored), never over Debian's packages: --no-deps keeps PyPI's numpy 2 and
# torch away from Debian's python3-torch 1.13, which this code runs on. tests/reference/mmpose_ref.py
# puts the folder on sys.path. A second run takes well under a second.
set -euo pipefail
cd "$(dirname "$0")/.."
dest=.pydeps/mmpose
stamp="$dest/.installed-1"
[ -f "$stamp" ] && exit 0
echo "install-mmpose: installing MMPose 1.3.2 and its pure-Python needs from PyPI into $dest"
rm -rf "$dest.tmp"
/usr/bin/python3 -m pip install -q --no-deps --disable-pip-version-check --target "$dest.tmp" \
  mmpose==1.3.2 mmcv-lite==2.1.0 mmengine==0.10.7 mmdet==3.3.0 opencv-python-headless==4.8.1.78 \
  addict==2.4.0 munkres==1.1.4 platformdirs==4.2.2 rich==13.7.1 termcolor==2.4.0 yapf==0.43.0
touch "$dest.tmp/.installed-1"
rm -rf "$dest"
mv "$dest.tmp" "$dest"
