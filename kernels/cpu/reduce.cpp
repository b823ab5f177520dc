#include "kernels/common.h"
#include "kernels/reduce.h"

namespace wb::kernels::cpu {

void sum_middle(const Tensor& x, int64_t outer, int64_t reduce, int64_t inner, Tensor& out) {
  dispatch_float(x.dtype(), "sum", [&](auto t) {
    using T = decltype(t);
    const T* px = x.data<T>();
    T* po = out.data<T>();
    // Accumulate in double: sums over whole heatmap batches lose digits in f32.
#pragma omp parallel for collapse(2) if (outer * inner > 64 && x.numel() > 32768)
    for (int64_t o = 0; o < outer; ++o) {
      for (int64_t i = 0; i < inner; ++i) {
        double acc = 0.0;
        const T* p = px + o * reduce * inner + i;
        for (int64_t r = 0; r < reduce; ++r) acc += static_cast<double>(p[r * inner]);
        po[o * inner + i] = static_cast<T>(acc);
      }
    }
  });
}

}  // namespace wb::kernels::cpu
