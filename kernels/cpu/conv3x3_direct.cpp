#include "kernels/cpu/conv3x3_direct.h"

#include "kernels/cpu/isa/table.h"
#include "tensor/error.h"

namespace wb::kernels::cpu {

void conv3x3_direct(const float* x, const float* w, const DirectEpilogue& e, int64_t n, int64_t c, int64_t h,
                    int64_t wd, int64_t o, int64_t stride, float* y) {
  check(stride == 1 || stride == 2, "conv3x3_direct: stride ", stride, " is not 1 or 2");
  isa_kernels().conv3x3_direct(x, w, e, n, c, h, wd, o, stride, y);
}

}  // namespace wb::kernels::cpu
