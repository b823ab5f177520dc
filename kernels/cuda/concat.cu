// CUDA concatenation: copies one contiguous input into its slab of the contiguous output.
// Works on bytes, so any dtype goes through the same kernel.
#include "kernels/concat.h"
#include "kernels/cuda/launch.cuh"

namespace wb::kernels::cuda {

namespace {

// src is `rows` rows of row_words words; row r goes to dst + r * dst_row_words (dst already points
// at the slab). One grid-stride loop over all source words: consecutive threads copy consecutive
// words of a row, so reads and writes are coalesced, and the (row, column) cursor advances by the
// fixed stride with one carry instead of a division per word. W is the widest word (up to 16
// bytes) that divides every row length, the slab offset and both base addresses.
template <class W>
__global__ void copy_slab_kernel(const W* __restrict__ src, W* __restrict__ dst, int64_t rows, int64_t row_words,
                                 int64_t dst_row_words) {
  const int64_t total = rows * row_words, stride = int64_t(gridDim.x) * blockDim.x;
  int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
  if (i >= total) return;
  int64_t r = i / row_words, j = i % row_words;
  const int64_t dr = stride / row_words, dj = stride % row_words;
  for (; i < total; i += stride) {
    dst[r * dst_row_words + j] = src[i];
    j += dj;
    r += dr;
    if (j >= row_words) {
      j -= row_words;
      ++r;
    }
  }
}

template <class W>
void launch_copy(const void* src, void* dst, int64_t rows, int64_t row_bytes, int64_t dst_row_bytes, const Tensor& like) {
  const int64_t row_words = row_bytes / int64_t(sizeof(W));
  const unsigned blocks = detail::grid_for(rows * row_words, detail::kThreads, like.device().index);
  copy_slab_kernel<W><<<blocks, detail::kThreads, 0, detail::stream_of(like)>>>(
      static_cast<const W*>(src), static_cast<W*>(dst), rows, row_words, dst_row_bytes / int64_t(sizeof(W)));
  wb::cuda::check_launch("copy_slab_kernel");
}

}  // namespace

void copy_into_slab(const Tensor& src, Tensor& out, int64_t dim, int64_t offset) {
  if (src.numel() == 0) return;
  int64_t rows = 1, inner = 1;
  for (int64_t d = 0; d < dim; ++d) rows *= out.size(d);
  for (int64_t d = dim + 1; d < out.dim(); ++d) inner *= out.size(d);
  const int64_t es = static_cast<int64_t>(dtype_size(out.dtype()));
  const int64_t row_bytes = src.size(dim) * inner * es, dst_row_bytes = out.size(dim) * inner * es;
  const char* ps = static_cast<const char*>(src.raw_data());
  char* pd = static_cast<char*>(out.raw_data()) + offset * inner * es;
  // The widest word that every address and row length is a multiple of.
  const uint64_t all = uint64_t(row_bytes) | uint64_t(dst_row_bytes) | reinterpret_cast<uintptr_t>(ps) |
                       reinterpret_cast<uintptr_t>(pd);
  if (all % 16 == 0) {
    launch_copy<uint4>(ps, pd, rows, row_bytes, dst_row_bytes, out);
  } else if (all % 8 == 0) {
    launch_copy<uint2>(ps, pd, rows, row_bytes, dst_row_bytes, out);
  } else if (all % 4 == 0) {
    launch_copy<uint32_t>(ps, pd, rows, row_bytes, dst_row_bytes, out);
  } else if (all % 2 == 0) {
    launch_copy<uint16_t>(ps, pd, rows, row_bytes, dst_row_bytes, out);
  } else {
    launch_copy<uint8_t>(ps, pd, rows, row_bytes, dst_row_bytes, out);
  }
}

}  // namespace wb::kernels::cuda
