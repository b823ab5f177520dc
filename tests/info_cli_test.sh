#!/bin/sh
# wbpose-info on a shipped config prints the paper's numbers; a bad config is one line and exit 1.
set -u
info="$1"
src="$2"
out=$("$info" --config "$src/configs/hrnet_w32_coco_256x192.json") || { echo "wbpose-info failed"; exit 1; }
echo "$out" | grep -q "28.54M parameters, 7.12 GFLOPs" || { echo "unexpected summary: $out"; exit 1; }
out=$("$info" --config "$src/configs/hrnet_w32_coco_256x192.json" --input 384x288) || exit 1
echo "$out" | grep -q "16.02 GFLOPs" || { echo "unexpected 384x288 summary: $out"; exit 1; }
out=$("$info" --config "$src/configs/zoomnet_w32_384x288.json") || { echo "wbpose-info failed on ZoomNet"; exit 1; }
for row in "BodyNet .* 16.02 GFLOPs" "FaceHead .* 4.19 GFLOPs" "HandHead .* 4.14 GFLOPs per hand, x2 = 8.28" \
           "total .* 28.49 GFLOPs"; do
  echo "$out" | grep -q "$row" || { echo "ZoomNet breakdown lacks \"$row\": $out"; exit 1; }
done
err=$("$info" --config "$src/configs/zoomnet_small.json" --input 64x64 2>&1 >/dev/null) && { echo "--input on ZoomNet exited 0"; exit 1; }
echo "$err" | grep -q "not supported for ZoomNet" || { echo "unexpected ZoomNet --input error: $err"; exit 1; }
out=$("$info" --config "$src/configs/train_hrnet_w32_coco_256x192.json") || { echo "wbpose-info on a training config failed"; exit 1; }
echo "$out" | grep -q "28.54M parameters, 7.12 GFLOPs" || { echo "unexpected training-config summary: $out"; exit 1; }
err=$("$info" --config "$src/configs/does_not_exist.json" 2>&1 >/dev/null); rc=$?
[ "$rc" -ne 0 ] || { echo "a missing config exited 0"; exit 1; }
[ "$(printf '%s\n' "$err" | wc -l)" -eq 1 ] || { echo "expected one error line, got: $err"; exit 1; }
echo "$err" | grep -q "does_not_exist.json" || { echo "error does not name the file: $err"; exit 1; }
# Command-line mistakes: one line with the program's name, exit 2, no 309-digit bounds.
err=$("$info" --config "$src/configs/hrnet_w32_coco_256x192.json" --depth -1 2>&1 >/dev/null); rc=$?
[ "$rc" -eq 2 ] || { echo "--depth -1 exited $rc"; exit 1; }
[ "$(printf '%s\n' "$err" | wc -l)" -eq 1 ] && echo "$err" | grep -q '^wbpose-info: .*--depth' ||
  { echo "unexpected --depth -1 error: $err"; exit 1; }
[ ${#err} -lt 200 ] || { echo "a ${#err}-character error: $err"; exit 1; }
echo "wbpose-info CLI checks passed"
