// Reductions.
#pragma once
#include "tensor/tensor.h"

namespace wb::kernels {

Tensor sum_all(const Tensor& x);   // shape [] (0-d), same dtype
Tensor mean_all(const Tensor& x);  // shape []
// Sums x over the dimensions broadcasting added, so the result has `shape` (the backward of a
// broadcast): sum_to([N,C,H,W] -> [1,C,1,1]) sums over N, H, W.
Tensor sum_to(const Tensor& x, const Shape& shape);

namespace cpu {
// Reduces contiguous x viewed as [outer, reduce, inner] over `reduce` into out [outer, inner].
void sum_middle(const Tensor& x, int64_t outer, int64_t reduce, int64_t inner, Tensor& out);
}
namespace cuda {
void sum_middle(const Tensor& x, int64_t outer, int64_t reduce, int64_t inner, Tensor& out);
}

}  // namespace wb::kernels
