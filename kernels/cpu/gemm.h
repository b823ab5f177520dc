// Row-major GEMM on raw pointers through Eigen, shared by cpu::gemm (linear) and the im2col
// convolution, which calls it on sub-blocks of larger tensors (hence the leading dimensions).
#pragma once
#include <Eigen/Core>
#include <cstdint>

namespace wb::kernels::cpu {

// C[m, n] = alpha * op(A) op(B) + beta * C with op(A) [m, k] and op(B) [k, n]. Each matrix is
// row-major with its own row stride (lda, ldb, ldc: BLAS's leading dimensions, counted on the
// stored, untransposed matrix). beta == 0 overwrites C without reading it (it may hold garbage).
// Eigen parallelises the product with OpenMP unless called from inside a parallel region.
template <class T>
void gemm_rowmajor(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, T alpha, const T* a, int64_t lda,
                   const T* b, int64_t ldb, T beta, T* c, int64_t ldc) {
  using Mat = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  using Stride = Eigen::OuterStride<>;
  const Eigen::Map<const Mat, 0, Stride> A(a, trans_a ? k : m, trans_a ? m : k, Stride(lda));
  const Eigen::Map<const Mat, 0, Stride> B(b, trans_b ? n : k, trans_b ? k : n, Stride(ldb));
  Eigen::Map<Mat, 0, Stride> C(c, m, n, Stride(ldc));
  auto run = [&](const auto& op_a, const auto& op_b) {
    if (beta == T(0)) {
      C.noalias() = alpha * op_a * op_b;
    } else {
      if (beta != T(1)) C *= beta;
      C.noalias() += alpha * op_a * op_b;
    }
  };
  if (trans_a && trans_b) {
    run(A.transpose(), B.transpose());
  } else if (trans_a) {
    run(A.transpose(), B);
  } else if (trans_b) {
    run(A, B.transpose());
  } else {
    run(A, B);
  }
}

}  // namespace wb::kernels::cpu
