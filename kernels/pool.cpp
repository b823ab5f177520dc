#include "kernels/pool.h"

#include "kernels/common.h"

namespace wb::kernels {

namespace {

int64_t floor_div(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0)) ? 1 : 0); }

// PyTorch's pooling_output_shape: with ceil_mode the last window may hang over the bottom/right,
// but it must start inside the input or the left padding, or it is dropped.
int64_t pooled_size(int64_t in, int64_t k, int64_t s, int64_t pad, bool ceil_mode) {
  int64_t out = floor_div(in + 2 * pad - (k - 1) - 1 + (ceil_mode ? s - 1 : 0), s) + 1;
  if (ceil_mode && (out - 1) * s >= in + pad) --out;
  return out;
}

std::array<int64_t, 2> pool_geometry(const char* op, const Shape& x, const Pool2dParams& p) {
  check(x.size() == 4, op, ": x must be [N, C, H, W], got ", shape_str(x));
  check(x[1] > 0 && x[2] > 0 && x[3] > 0, op, ": x ", shape_str(x), " has an empty channel or spatial dimension");
  for (int d = 0; d < 2; ++d) {
    check(p.kernel[d] > 0 && p.stride[d] > 0, op, ": kernel (", p.kernel[0], ", ", p.kernel[1], ") and stride (",
          p.stride[0], ", ", p.stride[1], ") must be positive");
    // A window made only of padding would have no input under it; PyTorch forbids it the same way.
    check(p.padding[d] >= 0 && p.padding[d] <= p.kernel[d] / 2, op, ": padding (", p.padding[0], ", ", p.padding[1],
          ") must be between 0 and half the kernel (", p.kernel[0], ", ", p.kernel[1], ")");
  }
  const std::array<int64_t, 2> hw{pooled_size(x[2], p.kernel[0], p.stride[0], p.padding[0], p.ceil_mode),
                                  pooled_size(x[3], p.kernel[1], p.stride[1], p.padding[1], p.ceil_mode)};
  check(hw[0] >= 1 && hw[1] >= 1, op, ": input ", shape_str(x), " with kernel (", p.kernel[0], ", ", p.kernel[1],
        "), stride (", p.stride[0], ", ", p.stride[1], "), padding (", p.padding[0], ", ", p.padding[1],
        ") gives an empty output ", hw[0], "x", hw[1]);
  return hw;
}

// dy must be the pooled shape of x_shape.
void check_pool_grad(const char* op, const Tensor& dy, const Shape& x_shape, const std::array<int64_t, 2>& hw) {
  const Shape expect{x_shape[0], x_shape[1], hw[0], hw[1]};
  check(dy.defined() && dy.shape() == expect, op, ": gradient ", dy.defined() ? dy.str() : std::string("(undefined)"),
        " does not match the output ", shape_str(expect), " of input ", shape_str(x_shape));
}

}  // namespace

std::array<int64_t, 2> pool2d_output_hw(const Shape& x, const Pool2dParams& p) { return pool_geometry("pool2d", x, p); }

MaxPoolOut max_pool2d_forward(const Tensor& x_in, const Pool2dParams& p) {
  const char* op = "max_pool2d";
  check(x_in.defined(), op, ": x is undefined");
  check_same_float_dtype(op, {&x_in});
  const auto hw = pool_geometry(op, x_in.shape(), p);
  const Shape out_shape{x_in.size(0), x_in.size(1), hw[0], hw[1]};
  const profile::OpScope prof(op, {&x_in}, [&] {
    const double out = profile::bytes_of_shape(out_shape, x_in);
    const double taps = static_cast<double>(p.kernel[0] * p.kernel[1]);
    return profile::Cost{taps * out / static_cast<double>(dtype_size(x_in.dtype())), profile::bytes_of(x_in) + 3 * out};
  });
  const Tensor x = x_in.contiguous();
  MaxPoolOut out{Tensor::empty(out_shape, x.dtype(), x.device()), Tensor::empty(out_shape, DType::I64, x.device())};
#if WBPOSE_WITH_CUDA
  if (x.is_cuda()) {
    check_cuda_f32(op, x);
    cuda::max_pool2d_forward(x, p, out);
    return out;
  }
#endif
  cpu::max_pool2d_forward(x, p, out);
  return out;
}

Tensor max_pool2d_backward(const Tensor& dy_in, const Tensor& indices_in, const Shape& x_shape) {
  const char* op = "max_pool2d_backward";
  check(x_shape.size() == 4, op, ": input shape must be [N, C, H, W], got ", shape_str(x_shape));
  check(dy_in.defined() && indices_in.defined(), op, ": gradient and indices are required (input ", shape_str(x_shape),
        ")");
  check_same_float_dtype(op, {&dy_in});
  check_same_device(op, {&dy_in, &indices_in});
  check(indices_in.dtype() == DType::I64, op, ": indices must be i64, got ", indices_in.str());
  check(dy_in.dim() == 4 && dy_in.shape() == indices_in.shape() && dy_in.size(0) == x_shape[0] &&
            dy_in.size(1) == x_shape[1],
        op, ": gradient ", dy_in.str(), " and indices ", indices_in.str(), " do not fit input ", shape_str(x_shape));
  const profile::OpScope prof(op, {&dy_in, &indices_in}, [&] {
    return profile::Cost{static_cast<double>(dy_in.numel()), profile::bytes_of(dy_in) + profile::bytes_of(indices_in) +
                                                                profile::bytes_of_shape(x_shape, dy_in)};
  });
  const Tensor dy = dy_in.contiguous(), indices = indices_in.contiguous();
  Tensor dx = Tensor::empty(x_shape, dy.dtype(), dy.device());
#if WBPOSE_WITH_CUDA
  if (dy.is_cuda()) {
    check_cuda_f32(op, dy);
    cuda::max_pool2d_backward(dy, indices, dx);
    return dx;
  }
#endif
  cpu::max_pool2d_backward(dy, indices, dx);
  return dx;
}

Tensor avg_pool2d_forward(const Tensor& x_in, const Pool2dParams& p) {
  const char* op = "avg_pool2d";
  check(x_in.defined(), op, ": x is undefined");
  check_same_float_dtype(op, {&x_in});
  const auto hw = pool_geometry(op, x_in.shape(), p);
  const profile::OpScope prof(op, {&x_in}, [&] {
    const double out = profile::bytes_of_shape({x_in.size(0), x_in.size(1), hw[0], hw[1]}, x_in);
    const double taps = static_cast<double>(p.kernel[0] * p.kernel[1]);
    return profile::Cost{taps * out / static_cast<double>(dtype_size(x_in.dtype())), profile::bytes_of(x_in) + out};
  });
  const Tensor x = x_in.contiguous();
  Tensor y = Tensor::empty({x.size(0), x.size(1), hw[0], hw[1]}, x.dtype(), x.device());
#if WBPOSE_WITH_CUDA
  if (x.is_cuda()) {
    check_cuda_f32(op, x);
    cuda::avg_pool2d_forward(x, p, y);
    return y;
  }
#endif
  cpu::avg_pool2d_forward(x, p, y);
  return y;
}

Tensor avg_pool2d_backward(const Tensor& dy_in, const Shape& x_shape, const Pool2dParams& p) {
  const char* op = "avg_pool2d_backward";
  check(dy_in.defined(), op, ": gradient is undefined (input ", shape_str(x_shape), ")");
  check_same_float_dtype(op, {&dy_in});
  check_pool_grad(op, dy_in, x_shape, pool_geometry(op, x_shape, p));
  const profile::OpScope prof(op, {&dy_in}, [&] {
    const double taps = static_cast<double>(p.kernel[0] * p.kernel[1]);
    return profile::Cost{taps * static_cast<double>(dy_in.numel()),
                         profile::bytes_of(dy_in) + profile::bytes_of_shape(x_shape, dy_in)};
  });
  const Tensor dy = dy_in.contiguous();
  Tensor dx = Tensor::empty(x_shape, dy.dtype(), dy.device());
#if WBPOSE_WITH_CUDA
  if (dy.is_cuda()) {
    check_cuda_f32(op, dy);
    cuda::avg_pool2d_backward(dy, p, dx);
    return dx;
  }
#endif
  cpu::avg_pool2d_backward(dy, p, dx);
  return dx;
}

Tensor global_avg_pool_forward(const Tensor& x_in) {
  const char* op = "global_avg_pool";
  check(x_in.defined(), op, ": x is undefined");
  check_dim(op, "x", x_in, 4);
  check_same_float_dtype(op, {&x_in});
  check(x_in.size(2) > 0 && x_in.size(3) > 0, op, ": x ", x_in.str(), " has no spatial extent to average");
  const profile::OpScope prof(op, {&x_in}, [&] {
    return profile::Cost{static_cast<double>(x_in.numel()), profile::bytes_of(x_in)};
  });
  const Tensor x = x_in.contiguous();
  Tensor y = Tensor::empty({x.size(0), x.size(1), 1, 1}, x.dtype(), x.device());
#if WBPOSE_WITH_CUDA
  if (x.is_cuda()) {
    check_cuda_f32(op, x);
    cuda::global_avg_pool_forward(x, y);
    return y;
  }
#endif
  cpu::global_avg_pool_forward(x, y);
  return y;
}

Tensor global_avg_pool_backward(const Tensor& dy_in, const Shape& x_shape) {
  const char* op = "global_avg_pool_backward";
  check(x_shape.size() == 4 && x_shape[2] > 0 && x_shape[3] > 0, op,
        ": input shape must be [N, C, H, W] with H, W > 0, got ", shape_str(x_shape));
  check(dy_in.defined(), op, ": gradient is undefined (input ", shape_str(x_shape), ")");
  check_same_float_dtype(op, {&dy_in});
  check_pool_grad(op, dy_in, x_shape, {1, 1});
  const profile::OpScope prof(op, {&dy_in}, [&] {
    const double dx = profile::bytes_of_shape(x_shape, dy_in);
    return profile::Cost{dx / static_cast<double>(dtype_size(dy_in.dtype())), profile::bytes_of(dy_in) + dx};
  });
  const Tensor dy = dy_in.contiguous();
  Tensor dx = Tensor::empty(x_shape, dy.dtype(), dy.device());
#if WBPOSE_WITH_CUDA
  if (dy.is_cuda()) {
    check_cuda_f32(op, dy);
    cuda::global_avg_pool_backward(dy, dx);
    return dx;
  }
#endif
  cpu::global_avg_pool_backward(dy, dx);
  return dx;
}

}  // namespace wb::kernels
