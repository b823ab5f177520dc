#include <cstring>

#include "kernels/common.h"
#include "kernels/concat.h"

namespace wb::kernels::cpu {

void copy_into_slab(const Tensor& src, Tensor& out, int64_t dim, int64_t offset) {
  // Both contiguous: view each as [outer, len * inner] rows and copy row by row.
  int64_t outer = 1, inner = 1;
  for (int64_t d = 0; d < dim; ++d) outer *= out.size(d);
  for (int64_t d = dim + 1; d < out.dim(); ++d) inner *= out.size(d);
  const size_t es = dtype_size(out.dtype());
  const int64_t src_row = src.size(dim) * inner, out_row = out.size(dim) * inner;
  const char* ps = static_cast<const char*>(src.raw_data());
  char* po = static_cast<char*>(out.raw_data()) + offset * inner * es;
#pragma omp parallel for if (outer > 16 && src.numel() > 65536)
  for (int64_t o = 0; o < outer; ++o) std::memcpy(po + o * out_row * es, ps + o * src_row * es, src_row * es);
}

}  // namespace wb::kernels::cpu
