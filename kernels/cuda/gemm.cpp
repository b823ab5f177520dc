// CUDA GEMM through cuBLAS: C[M,N] = alpha * op(A) op(B) + beta * C on row-major f32 matrices.
//
// cuBLAS is column-major. A row-major matrix read as column-major is its transpose, so the
// row-major product C = op(A) op(B) is computed as the column-major product
// C^T = op(B)^T op(A)^T: cuBLAS gets B first, then A, with m and n swapped, each keeping its own
// transpose flag, and each leading dimension is the row length of the stored row-major matrix.
// The math mode is CUBLAS_DEFAULT_MATH, which keeps full f32 products (no TF32), so results match
// the CPU reference to f32 rounding.
#include <cublas_v2.h>

#include <climits>
#include <mutex>

#include "kernels/linear.h"
#include "tensor/cuda/check.h"

namespace wb::kernels::cuda {

namespace {

void check_cublas(cublasStatus_t s, const char* call) {
  if (s != CUBLAS_STATUS_SUCCESS) fail("cuBLAS error in ", call, ": ", cublasGetStatusName(s), " (", cublasGetStatusString(s), ")");
}

// One handle per device, bound to the engine stream, with a workspace from the caching allocator
// so that cuBLAS never allocates on its own. Both live for the whole process.
cublasHandle_t handle_for(int device) {
  constexpr int kMaxDevices = 16;
  constexpr size_t kWorkspaceBytes = size_t(32) << 20;  // cuBLAS's recommendation for Hopper
  static cublasHandle_t handles[kMaxDevices] = {};
  static std::once_flag once[kMaxDevices];
  check(device >= 0 && device < kMaxDevices, "gemm: device index ", device, " out of range");
  std::call_once(once[device], [device] {
    wb::cuda::set_device(device);
    cublasHandle_t h = nullptr;
    check_cublas(cublasCreate(&h), "cublasCreate");
    check_cublas(cublasSetStream(h, wb::cuda::current_stream(device)), "cublasSetStream");
    check_cublas(cublasSetMathMode(h, CUBLAS_DEFAULT_MATH), "cublasSetMathMode");
    void* workspace = wb::cuda::allocate(kWorkspaceBytes, device);
    check_cublas(cublasSetWorkspace(h, workspace, kWorkspaceBytes), "cublasSetWorkspace");
    handles[device] = h;
  });
  return handles[device];
}

}  // namespace

void gemm(bool trans_a, bool trans_b, double alpha, const Tensor& a, const Tensor& b, double beta, Tensor& c) {
  const int64_t m = c.size(0), n = c.size(1), k = a.size(trans_a ? 0 : 1);
  if (m == 0 || n == 0) return;
  check(m <= INT_MAX && n <= INT_MAX && k <= INT_MAX && a.size(1) <= INT_MAX && b.size(1) <= INT_MAX, "gemm: a ",
        a.str(), " times b ", b.str(), " into c ", c.str(), " exceeds cuBLAS's 32-bit sizes");
  const int device = c.device().index;
  cublasHandle_t h = handle_for(device);
  const float fa = static_cast<float>(alpha), fb = static_cast<float>(beta);
  if (k == 0) {
    // An empty product: C = beta * C. beta == 0 must clear C even where it holds NaN or inf.
    if (fb == 0.f) {
      wb::cuda::fill_zero(c.data<float>(), size_t(m * n) * sizeof(float), device);
    } else if (fb != 1.f) {
      check_cublas(cublasSscal_64(h, m * n, &fb, c.data<float>(), 1), "cublasSscal_64");
    }
    return;
  }
  check_cublas(cublasSgemm(h, trans_b ? CUBLAS_OP_T : CUBLAS_OP_N, trans_a ? CUBLAS_OP_T : CUBLAS_OP_N,
                           static_cast<int>(n), static_cast<int>(m), static_cast<int>(k), &fa, b.data<float>(),
                           static_cast<int>(b.size(1)), a.data<float>(), static_cast<int>(a.size(1)), &fb,
                           c.data<float>(), static_cast<int>(n)),
               "cublasSgemm");
}

}  // namespace wb::kernels::cuda
