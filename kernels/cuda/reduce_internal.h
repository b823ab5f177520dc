// Entry point of the CUDA sum reduction for other CUDA files (global average pooling).
#pragma once
#include "tensor/tensor.h"

namespace wb::kernels::cuda::detail {

// out[o, i] = scale * sum over r of x[o, r, i] for contiguous f32 x viewed as [outer, reduce, inner];
// `out` is contiguous with outer * inner elements (any shape). Deterministic: fixed summation order.
void sum_middle_scaled(const Tensor& x, int64_t outer, int64_t reduce, int64_t inner, float scale, Tensor& out);

}  // namespace wb::kernels::cuda::detail
