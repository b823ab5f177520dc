// CPU GEMM: Eigen on row-major maps of the (contiguous) operands.
#include "kernels/common.h"
#include "kernels/cpu/gemm.h"
#include "kernels/linear.h"

namespace wb::kernels::cpu {

void gemm(bool trans_a, bool trans_b, double alpha, const Tensor& a, const Tensor& b, double beta, Tensor& c) {
  dispatch_float(c.dtype(), "gemm", [&](auto t) {
    using T = decltype(t);
    const int64_t k = a.size(trans_a ? 0 : 1);
    gemm_rowmajor<T>(trans_a, trans_b, c.size(0), c.size(1), k, static_cast<T>(alpha), a.data<T>(), a.size(1),
                     b.data<T>(), b.size(1), static_cast<T>(beta), c.data<T>(), c.size(1));
  });
}

}  // namespace wb::kernels::cpu
