// The kernels compiled once per instruction set (kernels/cpu/isa.h), as a table of functions per
// path: isa_kernels() is the table of the path in use, so a caller writes
// isa_kernels().conv3x3_direct(...). A kernel joins by a field here, its body in kernels/cpu/isa/
// and a line in kernels/cpu/isa/all.h.
#pragma once
#include <cstdint>

#include "kernels/cpu/conv3x3_direct.h"
#include "kernels/cpu/isa.h"

namespace wb::kernels::cpu {

struct IsaKernels {
  void (*conv3x3_direct)(const float* x, const float* w, const DirectEpilogue& e, int64_t n, int64_t c, int64_t h,
                         int64_t wd, int64_t o, int64_t stride, float* y);
};

// The table of cpu_isa()'s path.
const IsaKernels& isa_kernels();

}  // namespace wb::kernels::cpu
