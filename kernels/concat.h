// Concatenation along a dimension (channels for the HRNet head, NAS fuse layers); its backward is
// a split, done with narrow() views of the gradient.
#pragma once
#include <vector>

#include "tensor/tensor.h"

namespace wb::kernels {

Tensor concat(const std::vector<Tensor>& xs, int64_t dim);
// Contiguous copies of consecutive pieces of x along dim with the given sizes.
std::vector<Tensor> split(const Tensor& x, const std::vector<int64_t>& sizes, int64_t dim);

namespace cpu {
// Copies contiguous `src` into the slab [offset, offset + src.size(dim)) of contiguous `out`.
void copy_into_slab(const Tensor& src, Tensor& out, int64_t dim, int64_t offset);
}
namespace cuda {
void copy_into_slab(const Tensor& src, Tensor& out, int64_t dim, int64_t offset);
}

}  // namespace wb::kernels
