#include "kernels/linear.h"

#include "kernels/common.h"
#include "kernels/elementwise.h"
#include "kernels/reduce.h"

namespace wb::kernels {

namespace {

// x [N, in], w [out, in], bias [out] or undefined.
void check_linear(const char* op, const Tensor& x, const Tensor& w, const Tensor& bias) {
  check_dim(op, "input", x, 2);
  check_dim(op, "weight", w, 2);
  check_same_device(op, {&x, &w, &bias});
  check_same_float_dtype(op, {&x, &w, &bias});
  check(x.size(1) == w.size(1), op, ": input ", x.str(), " does not fit weight ", w.str(), " (need [N, ", w.size(1),
        "])");
  if (bias.defined()) {
    check(bias.dim() == 1 && bias.size(0) == w.size(0), op, ": bias ", bias.str(), " for weight ", w.str(),
          " (need [", w.size(0), "])");
  }
}

Tensor matmul(bool trans_a, bool trans_b, const Tensor& a, const Tensor& b) {
  Tensor c = Tensor::empty({a.size(trans_a ? 1 : 0), b.size(trans_b ? 0 : 1)}, a.dtype(), a.device());
  gemm(trans_a, trans_b, 1.0, a, b, 0.0, c);
  return c;
}

}  // namespace

Tensor linear_forward(const Tensor& x, const Tensor& w, const Tensor& bias) {
  check_linear("linear", x, w, bias);
  // The arithmetic is the nested gemm's; this scope carries the papers' multiply-add count.
  const profile::OpScope prof("linear", {&x, &w}, [&] {
    profile::Cost c;
    c.macs = w.numel() * x.size(0);
    return c;
  });
  const Tensor y = matmul(false, true, x, w);
  return bias.defined() ? add(y, bias) : y;
}

LinearGrads linear_backward(const Tensor& dy, const Tensor& x, const Tensor& w, bool need_dx, bool need_dw,
                            bool need_db) {
  check_linear("linear_backward", x, w, Tensor());
  const profile::OpScope prof("linear_backward", {&dy, &x, &w}, [] { return profile::Cost{}; });
  check_same_device("linear_backward", {&dy, &x});
  check_same_float_dtype("linear_backward", {&dy, &x});
  check(dy.dim() == 2 && dy.size(0) == x.size(0) && dy.size(1) == w.size(0), "linear_backward: gradient ", dy.str(),
        " does not match the output of input ", x.str(), " and weight ", w.str());
  LinearGrads g;
  if (need_dx) g.dx = matmul(false, false, dy, w);
  if (need_dw) g.dw = matmul(true, false, dy, x);
  if (need_db) g.db = sum_to(dy, {w.size(0)}).contiguous();
  return g;
}

void gemm(bool trans_a, bool trans_b, double alpha, const Tensor& a_in, const Tensor& b_in, double beta, Tensor& c) {
  check_dim("gemm", "a", a_in, 2);
  check_dim("gemm", "b", b_in, 2);
  check_dim("gemm", "c", c, 2);
  check_same_device("gemm", {&a_in, &b_in, &c});
  check_same_float_dtype("gemm", {&a_in, &b_in, &c});
  const int64_t m = a_in.size(trans_a ? 1 : 0), k = a_in.size(trans_a ? 0 : 1);
  const int64_t kb = b_in.size(trans_b ? 1 : 0), n = b_in.size(trans_b ? 0 : 1);
  check(k == kb && c.size(0) == m && c.size(1) == n, "gemm: a ", a_in.str(), (trans_a ? "^T" : ""), " times b ",
        b_in.str(), (trans_b ? "^T" : ""), " into c ", c.str());
  check(c.is_contiguous(), "gemm: the output ", c.str(), " must be contiguous");
  const profile::OpScope prof("gemm", {&a_in, &b_in}, [&] {
    const double mnk = static_cast<double>(m) * static_cast<double>(n) * static_cast<double>(k);
    return profile::Cost{2 * mnk, profile::bytes_of(a_in) + profile::bytes_of(b_in) + (beta != 0 ? 2 : 1) * profile::bytes_of(c)};
  });
  const Tensor a = a_in.contiguous(), b = b_in.contiguous();
#if WBPOSE_WITH_CUDA
  if (c.is_cuda()) {
    check_cuda_f32("gemm", c);
    cuda::gemm(trans_a, trans_b, alpha, a, b, beta, c);
    return;
  }
#endif
  cpu::gemm(trans_a, trans_b, alpha, a, b, beta, c);
}

}  // namespace wb::kernels
