#include "kernels/elementwise.h"

#include "kernels/common.h"

namespace wb::kernels {

namespace {

Tensor binary_op(BinaryOp op, const char* name, const Tensor& a_in, const Tensor& b_in) {
  check_same_device(name, {&a_in, &b_in});
  check_same_float_dtype(name, {&a_in, &b_in});
  const Shape out_shape = broadcast_shapes(name, a_in.shape(), b_in.shape());
  const profile::OpScope prof(name, {&a_in, &b_in}, [&] {
    const double out_bytes = profile::bytes_of_shape(out_shape, a_in);
    return profile::Cost{out_bytes / static_cast<double>(dtype_size(a_in.dtype())),
                         profile::bytes_of(a_in) + profile::bytes_of(b_in) + out_bytes};
  });
  // Broadcasting is materialised here so the backends see equal, contiguous shapes.
  const Tensor a = (a_in.shape() == out_shape ? a_in : a_in.expand(out_shape)).contiguous();
  const Tensor b = (b_in.shape() == out_shape ? b_in : b_in.expand(out_shape)).contiguous();
  Tensor out = Tensor::empty(out_shape, a.dtype(), a.device());
#if WBPOSE_WITH_CUDA
  if (a.is_cuda()) {
    check_cuda_f32(name, a);
    cuda::binary(op, a, b, out);
    return out;
  }
#endif
  cpu::binary(op, a, b, out);
  return out;
}

Tensor scale_add_op(const char* name, const Tensor& a_in, double s, double add) {
  const profile::OpScope prof(name, {&a_in}, [&] { return profile::elementwise_cost({&a_in}, a_in, 1); });
  check_same_float_dtype(name, {&a_in});
  const Tensor a = a_in.contiguous();
  Tensor out = Tensor::empty(a.shape(), a.dtype(), a.device());
#if WBPOSE_WITH_CUDA
  if (a.is_cuda()) {
    check_cuda_f32(name, a);
    cuda::scale_add(a, s, add, out);
    return out;
  }
#endif
  cpu::scale_add(a, s, add, out);
  return out;
}

Tensor unary_fwd(UnaryOp op, const char* name, const Tensor& x_in) {
  const profile::OpScope prof(name, {&x_in}, [&] { return profile::elementwise_cost({&x_in}, x_in, 1); });
  check_same_float_dtype(name, {&x_in});
  const Tensor x = x_in.contiguous();
  Tensor y = Tensor::empty(x.shape(), x.dtype(), x.device());
#if WBPOSE_WITH_CUDA
  if (x.is_cuda()) {
    check_cuda_f32(name, x);
    cuda::unary_forward(op, x, y);
    return y;
  }
#endif
  cpu::unary_forward(op, x, y);
  return y;
}

Tensor unary_bwd(UnaryOp op, const char* name, const Tensor& dy_in, const Tensor& saved_in) {
  const profile::OpScope prof(name, {&dy_in, &saved_in},
                              [&] { return profile::elementwise_cost({&dy_in, &saved_in}, dy_in, 1); });
  check_same_device(name, {&dy_in, &saved_in});
  check_same_float_dtype(name, {&dy_in, &saved_in});
  check(dy_in.shape() == saved_in.shape(), name, ": gradient ", dy_in.str(), " does not match ", saved_in.str());
  const Tensor dy = dy_in.contiguous(), saved = saved_in.contiguous();
  Tensor dx = Tensor::empty(dy.shape(), dy.dtype(), dy.device());
#if WBPOSE_WITH_CUDA
  if (dy.is_cuda()) {
    check_cuda_f32(name, dy);
    cuda::unary_backward(op, dy, saved, dx);
    return dx;
  }
#endif
  cpu::unary_backward(op, dy, saved, dx);
  return dx;
}

void check_prelu(const char* name, const Tensor& x, const Tensor& w) {
  check_same_device(name, {&x, &w});
  check_same_float_dtype(name, {&x, &w});
  check(w.dim() == 1, name, ": weight must be 1-d, got ", w.str());
  const int64_t c = x.dim() >= 2 ? x.size(1) : 1;
  check(w.numel() == 1 || w.numel() == c, name, ": weight ", w.str(), " for input ", x.str(),
        " (need 1 or one per channel)");
}

}  // namespace

Tensor add(const Tensor& a, const Tensor& b) { return binary_op(BinaryOp::Add, "add", a, b); }
Tensor sub(const Tensor& a, const Tensor& b) { return binary_op(BinaryOp::Sub, "sub", a, b); }
Tensor mul(const Tensor& a, const Tensor& b) { return binary_op(BinaryOp::Mul, "mul", a, b); }
Tensor scale(const Tensor& a, double s) { return scale_add_op("scale", a, s, 0.0); }
Tensor add_scalar(const Tensor& a, double s) { return scale_add_op("add_scalar", a, 1.0, s); }

void axpy_(Tensor& y, double alpha, const Tensor& x_in) {
  const profile::OpScope prof("axpy_", {&y, &x_in}, [&] { return profile::elementwise_cost({&y, &x_in}, y, 2); });
  check_same_device("axpy_", {&y, &x_in});
  check_same_float_dtype("axpy_", {&y, &x_in});
  check(y.shape() == x_in.shape(), "axpy_: ", x_in.str(), " into ", y.str());
  check(y.is_contiguous(), "axpy_: destination ", y.str(), " must be contiguous");
  const Tensor x = x_in.contiguous();
#if WBPOSE_WITH_CUDA
  if (y.is_cuda()) {
    check_cuda_f32("axpy_", y);
    cuda::axpy(y, alpha, x);
    return;
  }
#endif
  cpu::axpy(y, alpha, x);
}

Tensor relu_forward(const Tensor& x) { return unary_fwd(UnaryOp::Relu, "relu", x); }
Tensor relu_backward(const Tensor& dy, const Tensor& y) { return unary_bwd(UnaryOp::Relu, "relu_backward", dy, y); }
Tensor sigmoid_forward(const Tensor& x) { return unary_fwd(UnaryOp::Sigmoid, "sigmoid", x); }
Tensor sigmoid_backward(const Tensor& dy, const Tensor& y) {
  return unary_bwd(UnaryOp::Sigmoid, "sigmoid_backward", dy, y);
}
Tensor hswish_forward(const Tensor& x) { return unary_fwd(UnaryOp::HSwish, "hswish", x); }
Tensor hswish_backward(const Tensor& dy, const Tensor& x) {
  return unary_bwd(UnaryOp::HSwish, "hswish_backward", dy, x);
}
Tensor hsigmoid_forward(const Tensor& x) { return unary_fwd(UnaryOp::HSigmoid, "hsigmoid", x); }
Tensor hsigmoid_backward(const Tensor& dy, const Tensor& x) {
  return unary_bwd(UnaryOp::HSigmoid, "hsigmoid_backward", dy, x);
}

Tensor exp_forward(const Tensor& x) { return unary_fwd(UnaryOp::Exp, "exp", x); }
Tensor exp_backward(const Tensor& dy, const Tensor& y) { return unary_bwd(UnaryOp::Exp, "exp_backward", dy, y); }
Tensor log_forward(const Tensor& x) { return unary_fwd(UnaryOp::Log, "log", x); }
Tensor log_backward(const Tensor& dy, const Tensor& x) { return unary_bwd(UnaryOp::Log, "log_backward", dy, x); }

Tensor prelu_forward(const Tensor& x_in, const Tensor& w_in) {
  const profile::OpScope prof("prelu", {&x_in, &w_in},
                              [&] { return profile::elementwise_cost({&x_in, &w_in}, x_in, 2); });
  check_prelu("prelu", x_in, w_in);
  const Tensor x = x_in.contiguous(), w = w_in.contiguous();
  Tensor y = Tensor::empty(x.shape(), x.dtype(), x.device());
#if WBPOSE_WITH_CUDA
  if (x.is_cuda()) {
    check_cuda_f32("prelu", x);
    cuda::prelu_forward(x, w, y);
    return y;
  }
#endif
  cpu::prelu_forward(x, w, y);
  return y;
}

PReluGrads prelu_backward(const Tensor& dy_in, const Tensor& x_in, const Tensor& w_in) {
  const profile::OpScope prof("prelu_backward", {&dy_in, &x_in, &w_in}, [&] {
    profile::Cost c = profile::elementwise_cost({&dy_in, &x_in, &w_in}, x_in, 4);
    c.bytes += profile::bytes_of(w_in);
    return c;
  });
  check_prelu("prelu_backward", x_in, w_in);
  check(dy_in.shape() == x_in.shape(), "prelu_backward: gradient ", dy_in.str(), " does not match ", x_in.str());
  const Tensor dy = dy_in.contiguous(), x = x_in.contiguous(), w = w_in.contiguous();
  PReluGrads g{Tensor::empty(x.shape(), x.dtype(), x.device()), Tensor::empty(w.shape(), w.dtype(), w.device())};
#if WBPOSE_WITH_CUDA
  if (x.is_cuda()) {
    check_cuda_f32("prelu_backward", x);
    cuda::prelu_backward(dy, x, w, g.dx, g.dweight);
    return g;
  }
#endif
  cpu::prelu_backward(dy, x, w, g.dx, g.dweight);
  return g;
}

}  // namespace wb::kernels
