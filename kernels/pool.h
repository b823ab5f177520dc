// Pooling, NCHW, PyTorch semantics (padding is -inf for max and counted for avg unless told).
#pragma once
#include <array>

#include "tensor/tensor.h"

namespace wb::kernels {

struct Pool2dParams {
  std::array<int64_t, 2> kernel{2, 2};
  std::array<int64_t, 2> stride{2, 2};
  std::array<int64_t, 2> padding{0, 0};
  bool ceil_mode = false;
  bool count_include_pad = true;  // avg only
};

std::array<int64_t, 2> pool2d_output_hw(const Shape& x, const Pool2dParams& p);

struct MaxPoolOut { Tensor y, indices; };  // indices: i64, flat h*W+w within each (n, c) plane
MaxPoolOut max_pool2d_forward(const Tensor& x, const Pool2dParams& p);
Tensor max_pool2d_backward(const Tensor& dy, const Tensor& indices, const Shape& x_shape);
Tensor avg_pool2d_forward(const Tensor& x, const Pool2dParams& p);
Tensor avg_pool2d_backward(const Tensor& dy, const Shape& x_shape, const Pool2dParams& p);
Tensor global_avg_pool_forward(const Tensor& x);  // [N, C, 1, 1]
Tensor global_avg_pool_backward(const Tensor& dy, const Shape& x_shape);

namespace cpu {
void max_pool2d_forward(const Tensor& x, const Pool2dParams& p, MaxPoolOut& out);
void max_pool2d_backward(const Tensor& dy, const Tensor& indices, Tensor& dx);
void avg_pool2d_forward(const Tensor& x, const Pool2dParams& p, Tensor& y);
void avg_pool2d_backward(const Tensor& dy, const Pool2dParams& p, Tensor& dx);
void global_avg_pool_forward(const Tensor& x, Tensor& y);
void global_avg_pool_backward(const Tensor& dy, Tensor& dx);
}  // namespace cpu
namespace cuda {
void max_pool2d_forward(const Tensor& x, const Pool2dParams& p, MaxPoolOut& out);
void max_pool2d_backward(const Tensor& dy, const Tensor& indices, Tensor& dx);
void avg_pool2d_forward(const Tensor& x, const Pool2dParams& p, Tensor& y);
void avg_pool2d_backward(const Tensor& dy, const Pool2dParams& p, Tensor& dx);
void global_avg_pool_forward(const Tensor& x, Tensor& y);
void global_avg_pool_backward(const Tensor& dy, Tensor& dx);
}  // namespace cuda

}  // namespace wb::kernels
