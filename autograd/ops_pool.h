// Differentiable pooling (kernels/pool.h has the semantics).
#pragma once
#include "kernels/pool.h"
#include "tensor/tensor.h"

namespace wb::ops {

Tensor max_pool2d(const Tensor& x, const kernels::Pool2dParams& p);
Tensor avg_pool2d(const Tensor& x, const kernels::Pool2dParams& p);
Tensor global_avg_pool(const Tensor& x);  // [N, C, H, W] -> [N, C, 1, 1]

}  // namespace wb::ops
