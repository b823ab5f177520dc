#!/bin/sh
# The AVX2 and AVX-512 kernels (kernels/cpu/isa/kernels_*.cpp) are compiled with instructions the
# rest of the build may not have. Any weak (shareable) definition of code in their objects, say an
# out-of-line std:: template, could be picked by the linker for the baseline code's calls too, and
# end in SIGILL on a CPU without those instructions. So their objects must define no weak code.
# Usage: isa_objects_test.sh OBJECT... (the objects of the wbpose_kernels library)
set -u
found=0
status=0
for obj in "$@"; do
  case "$obj" in
    */kernels_avx2.cpp.o | */kernels_avx512.cpp.o) ;;
    *) continue ;;
  esac
  found=$((found + 1))
  # W/V: weak symbol; u: unique global; i: indirect function. The personality pointer is data.
  weak=$(nm -C --defined-only "$obj" | awk '$2 ~ /^[WVui]$/' | grep -v 'DW.ref.__gxx_personality_v0')
  if [ -n "$weak" ]; then
    echo "FAIL: $obj defines shareable symbols compiled for its instruction set:"
    echo "$weak"
    status=1
  fi
done
[ "$found" -eq 2 ] || { echo "FAIL: expected the avx2 and avx512 kernel objects among the arguments, found $found"; exit 1; }
[ "$status" -eq 0 ] && echo "the avx2 and avx512 kernel objects define no shareable code"
exit $status
