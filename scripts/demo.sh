#!/usr/bin/env bash
# The demo command of the README: set-up and build, then on the CPU: generate a synthetic
# whole-body set, train the small HRNet config on it for a few minutes, evaluate the trained
# weights (the part table), and draw its predictions on validation images.
# DEMO_DIR (default runs/demo) receives everything; DEMO_TRAIN sets the number of training images.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
bin="${BUILD_DIR:-build}/bin"
demo="${DEMO_DIR:-runs/demo}"
config=configs/train_small_cpu.json
# The loader's threads and OpenMP's share the cores: OpenMP threads that spin while they wait
# would take them from the loader (about 5x slower training on two cores).
export OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-passive}"

rm -rf "$demo"
mkdir -p "$demo"
echo "== generating a synthetic COCO-WholeBody set in $demo/data"
"$bin/wbpose-synth" --out "$demo/data" --train "${DEMO_TRAIN:-800}" --val 100 --seed 1 --size 320x240 \
  --difficulty easy --preview

echo "== training $config on the CPU (Ctrl-C ends the training early, with a checkpoint; the demo goes on)"
"$bin/wbpose-train" --config "$config" --data "$demo/data" --out "$demo/run" --device cpu "$@"

echo "== evaluating $demo/run/latest.safetensors on the validation set (ground-truth boxes, flip test)"
"$bin/wbpose-eval" run --config "$config" --checkpoint "$demo/run/latest.safetensors" --data "$demo/data" \
  --gt-boxes --flip-test --out "$demo/eval" | tee "$demo/table.txt"

# Predictions on six validation images, on the generator's detector boxes scored 0.5 or more.
images=()
for i in 0 1 2 3 4 5; do images+=(--image "$demo/data/images/$(printf 'val_%06d.jpg' "$i")"); done
"$bin/wbpose-infer" --config "$config" --checkpoint "$demo/run/latest.safetensors" "${images[@]}" \
  --boxes "$demo/data/person_boxes_val.json" --annotations "$demo/data/annotations/val.json" --box-threshold 0.5 \
  --out "$demo/pictures" --threshold 0.2

echo
echo "AP on the synthetic validation set (OKS, per part):"
cat "$demo/table.txt"
echo
echo "training curves:        $demo/run/curves.png"
echo "predictions drawn:      $demo/pictures/"
echo "the data, annotated:    $demo/data/preview.png"
echo "weights:                $demo/run/latest.safetensors (best by whole-body AP: best.safetensors)"
