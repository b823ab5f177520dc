#include "kernels/resize.h"

#include <cmath>

#include "kernels/common.h"

namespace wb::kernels {

namespace {

// Size checks shared by both modes and both directions. A scale factor must agree with the
// output size the way interpolate derives it (floor(in * scale)), so that the ratio 1/scale and
// the size never describe two different resizes.
void check_params(const char* op, const Shape& x, const ResizeParams& p) {
  check(x.size() == 4, op, ": input must be 4-d NCHW, got ", shape_str(x));
  check(x[2] > 0 && x[3] > 0, op, ": input ", shape_str(x), " has an empty spatial extent");
  check(p.out_h > 0 && p.out_w > 0, op, ": output size ", p.out_h, "x", p.out_w, " for input ", shape_str(x),
        " must be positive");
  check(p.scale_h >= 0.0 && p.scale_w >= 0.0, op, ": negative scale factor (", p.scale_h, ", ", p.scale_w, ")");
  if (p.scale_h > 0.0) {
    check(static_cast<int64_t>(std::floor(static_cast<double>(x[2]) * p.scale_h)) == p.out_h, op,
          ": output height ", p.out_h, " is not floor(", x[2], " * scale ", p.scale_h, ") for input ", shape_str(x));
  }
  if (p.scale_w > 0.0) {
    check(static_cast<int64_t>(std::floor(static_cast<double>(x[3]) * p.scale_w)) == p.out_w, op,
          ": output width ", p.out_w, " is not floor(", x[3], " * scale ", p.scale_w, ") for input ", shape_str(x));
  }
}

void check_grad(const char* op, const Tensor& dy, const Shape& x_shape, const ResizeParams& p) {
  check_same_float_dtype(op, {&dy});
  check_params(op, x_shape, p);
  const Shape want{x_shape[0], x_shape[1], p.out_h, p.out_w};
  check(dy.shape() == want, op, ": gradient ", dy.str(), " does not match the output ", shape_str(want),
        " of input ", shape_str(x_shape));
}

}  // namespace

Tensor resize_bilinear_forward(const Tensor& x_in, const ResizeParams& p) {
  check_same_float_dtype("resize_bilinear", {&x_in});
  check_params("resize_bilinear", x_in.shape(), p);
  const profile::OpScope prof("resize_bilinear", {&x_in}, [&] {
    const double y = profile::bytes_of_shape({x_in.size(0), x_in.size(1), p.out_h, p.out_w}, x_in);
    return profile::Cost{7 * y / static_cast<double>(dtype_size(x_in.dtype())), profile::bytes_of(x_in) + y};
  });
  const Tensor x = x_in.contiguous();
  Tensor y = Tensor::empty({x.size(0), x.size(1), p.out_h, p.out_w}, x.dtype(), x.device());
#if WBPOSE_WITH_CUDA
  if (x.is_cuda()) {
    check_cuda_f32("resize_bilinear", x);
    cuda::resize_bilinear_forward(x, p, y);
    return y;
  }
#endif
  cpu::resize_bilinear_forward(x, p, y);
  return y;
}

Tensor resize_bilinear_backward(const Tensor& dy_in, const Shape& x_shape, const ResizeParams& p) {
  check_grad("resize_bilinear_backward", dy_in, x_shape, p);
  const profile::OpScope prof("resize_bilinear_backward", {&dy_in}, [&] {
    return profile::Cost{8 * static_cast<double>(dy_in.numel()),
                         profile::bytes_of(dy_in) + profile::bytes_of_shape(x_shape, dy_in)};
  });
  const Tensor dy = dy_in.contiguous();
  Tensor dx = Tensor::empty(x_shape, dy.dtype(), dy.device());
#if WBPOSE_WITH_CUDA
  if (dy.is_cuda()) {
    check_cuda_f32("resize_bilinear_backward", dy);
    cuda::resize_bilinear_backward(dy, p, dx);
    return dx;
  }
#endif
  cpu::resize_bilinear_backward(dy, p, dx);
  return dx;
}

Tensor upsample_nearest_forward(const Tensor& x_in, const ResizeParams& p) {
  check_same_float_dtype("upsample_nearest", {&x_in});
  check_params("upsample_nearest", x_in.shape(), p);
  const profile::OpScope prof("upsample_nearest", {&x_in}, [&] {
    const double y = profile::bytes_of_shape({x_in.size(0), x_in.size(1), p.out_h, p.out_w}, x_in);
    return profile::Cost{0 * y / static_cast<double>(dtype_size(x_in.dtype())), profile::bytes_of(x_in) + y};
  });
  const Tensor x = x_in.contiguous();
  Tensor y = Tensor::empty({x.size(0), x.size(1), p.out_h, p.out_w}, x.dtype(), x.device());
#if WBPOSE_WITH_CUDA
  if (x.is_cuda()) {
    check_cuda_f32("upsample_nearest", x);
    cuda::upsample_nearest_forward(x, p, y);
    return y;
  }
#endif
  cpu::upsample_nearest_forward(x, p, y);
  return y;
}

Tensor upsample_nearest_backward(const Tensor& dy_in, const Shape& x_shape, const ResizeParams& p) {
  check_grad("upsample_nearest_backward", dy_in, x_shape, p);
  const profile::OpScope prof("upsample_nearest_backward", {&dy_in}, [&] {
    return profile::Cost{1 * static_cast<double>(dy_in.numel()),
                         profile::bytes_of(dy_in) + profile::bytes_of_shape(x_shape, dy_in)};
  });
  const Tensor dy = dy_in.contiguous();
  Tensor dx = Tensor::empty(x_shape, dy.dtype(), dy.device());
#if WBPOSE_WITH_CUDA
  if (dy.is_cuda()) {
    check_cuda_f32("upsample_nearest_backward", dy);
    cuda::upsample_nearest_backward(dy, p, dx);
    return dx;
  }
#endif
  cpu::upsample_nearest_backward(dy, p, dx);
  return dx;
}

}  // namespace wb::kernels
