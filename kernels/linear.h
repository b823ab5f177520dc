// y = x w^T + b, x [N, in], w [out, in], b [out] (may be undefined).
#pragma once
#include "tensor/tensor.h"

namespace wb::kernels {

Tensor linear_forward(const Tensor& x, const Tensor& w, const Tensor& bias);
struct LinearGrads { Tensor dx, dw, db; };
LinearGrads linear_backward(const Tensor& dy, const Tensor& x, const Tensor& w, bool need_dx, bool need_dw,
                            bool need_db);

// C[M,N] = alpha * op(A) op(B) + beta * C on contiguous row-major matrices (Eigen on the CPU,
// cuBLAS on CUDA); the building block of linear and of the im2col conv paths.
void gemm(bool trans_a, bool trans_b, double alpha, const Tensor& a, const Tensor& b, double beta, Tensor& c);

namespace cpu {
void gemm(bool trans_a, bool trans_b, double alpha, const Tensor& a, const Tensor& b, double beta, Tensor& c);
}
namespace cuda {
void gemm(bool trans_a, bool trans_b, double alpha, const Tensor& a, const Tensor& b, double beta, Tensor& c);
}

}  // namespace wb::kernels
