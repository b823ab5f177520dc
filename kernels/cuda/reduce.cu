// CUDA sum reduction of contiguous x viewed as [outer, reduce, inner] over the middle dimension
// (sum_all, sum_to, bias gradients, global average pooling). Three schemes by shape:
//   inner == 1, short rows:  one warp per row (rows are too short to keep a block busy);
//   inner == 1, long rows:   blocks over row slices, tree-reduced, then an ordered second pass
//                            when a row is split (sum_all over a whole tensor is one long row);
//   inner > 1:               threads along inner (coalesced), a few rows of the reduce dim per
//                            thread column, the reduce dim split across blocks when outer * inner
//                            alone gives too few blocks, and the same ordered second pass.
// Every sum is accumulated in a fixed order, so results are bitwise reproducible run to run.
#include "kernels/cuda/launch.cuh"
#include "kernels/cuda/reduce_internal.h"
#include "kernels/reduce.h"

namespace wb::kernels::cuda {

namespace detail {

namespace {

constexpr int64_t kShortRow = 1024;  // rows up to this length go one per warp
constexpr int64_t kMinUnits = 2048;  // least work (in loads) worth a block of its own
constexpr int64_t kMaxSplit = 1024;  // at most this many partial sums per output

// One warp per row, grid-stride over rows; V floats per load.
template <int V>
__global__ void sum_rows_warp_kernel(const float* __restrict__ x, int64_t rows, int64_t len, float scale,
                                     float* __restrict__ out) {
  const int lane = threadIdx.x % 32;
  const int64_t warps = int64_t(gridDim.x) * (blockDim.x / 32);
  const int64_t units = len / V;
  for (int64_t row = blockIdx.x * int64_t(blockDim.x / 32) + threadIdx.x / 32; row < rows; row += warps) {
    SumAcc<1> acc = SumAcc<1>::identity();
    for (int64_t u = lane; u < units; u += 32) {
      float v[V];
      load_vec<V>(x, row * len + u * V, v);
#pragma unroll
      for (int k = 0; k < V; ++k) acc.v[0] += v[k];
    }
    acc = warp_reduce(acc);
    if (lane == 0) out[row] = scale * acc.v[0];
  }
}

// Block (row, s) sums slice s of a long row. With one slice it writes scale * sum straight to
// out[row]; otherwise the raw partial to partial[s * rows + row].
template <int V>
__global__ void sum_rows_block_kernel(const float* __restrict__ x, int64_t len, int64_t per_slice, float scale,
                                      float* __restrict__ dst) {
  const int64_t row = blockIdx.x, s = blockIdx.y, rows = gridDim.x;
  const int64_t units = len / V, end = min(units, (s + 1) * per_slice);
  const float* p = x + row * len;
  SumAcc<1> acc = SumAcc<1>::identity();
  for (int64_t u = s * per_slice + threadIdx.x; u < end; u += blockDim.x) {
    float v[V];
    load_vec<V>(p, u * V, v);
#pragma unroll
    for (int k = 0; k < V; ++k) acc.v[0] += v[k];
  }
  acc = block_reduce(acc);
  if (threadIdx.x == 0) dst[s * rows + row] = gridDim.y == 1 ? scale * acc.v[0] : acc.v[0];
}

// Block (o * tiles + tile, s) owns blockDim.x consecutive inner positions of outer index o; its
// blockDim.y thread rows take interleaved rows of slice s, and row 0 adds the blockDim.y
// column sums in order. Output as in sum_rows_block_kernel, with K = outer * inner outputs.
__global__ void sum_columns_kernel(const float* __restrict__ x, int64_t reduce, int64_t inner, int64_t tiles,
                                   int64_t per_slice, float scale, float* __restrict__ dst) {
  __shared__ float column[kThreads];
  const int64_t o = blockIdx.x / tiles, tile = blockIdx.x % tiles, s = blockIdx.y;
  const int64_t i = tile * blockDim.x + threadIdx.x;
  const int64_t end = min(reduce, (s + 1) * per_slice);
  float acc = 0.f;
  if (i < inner) {
    const float* p = x + o * reduce * inner + i;
    for (int64_t r = s * per_slice + threadIdx.y; r < end; r += blockDim.y) acc += p[r * inner];
  }
  column[threadIdx.y * blockDim.x + threadIdx.x] = acc;
  __syncthreads();
  if (threadIdx.y == 0 && i < inner) {
    for (unsigned t = 1; t < blockDim.y; ++t) acc += column[t * blockDim.x + threadIdx.x];
    const int64_t k = o * inner + i, outputs = int64_t(gridDim.x / tiles) * inner;
    dst[s * outputs + k] = gridDim.y == 1 ? scale * acc : acc;
  }
}

// Second pass: out[k] = scale * (partial[0 * K + k] + partial[1 * K + k] + ...), in slice order.
__global__ void sum_partials_kernel(const float* __restrict__ partial, int64_t slices, int64_t K, float scale,
                                    float* __restrict__ out) {
  for (int64_t k = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; k < K; k += int64_t(gridDim.x) * blockDim.x) {
    float acc = 0.f;
    for (int64_t s = 0; s < slices; ++s) acc += partial[s * K + k];
    out[k] = scale * acc;
  }
}

// How many slices to cut the reduce dimension into: enough blocks for a few per SM, but no more
// than max_slices (the caller's bound that keeps every slice worth a block).
int64_t choose_slices(int64_t blocks_unsplit, int64_t max_slices, int device) {
  const int64_t want = (4 * int64_t(sm_count(device)) + blocks_unsplit - 1) / blocks_unsplit;
  return std::clamp<int64_t>(want, 1, std::clamp<int64_t>(max_slices, 1, kMaxSplit));
}

}  // namespace

void sum_middle_scaled(const Tensor& x, int64_t outer, int64_t reduce, int64_t inner, float scale, Tensor& out) {
  const int64_t K = outer * inner;
  if (K == 0) return;
  const int device = x.device().index;
  const cudaStream_t stream = stream_of(x);
  float* po = out.data<float>();
  if (reduce == 0) {
    wb::cuda::fill_zero(po, size_t(K) * sizeof(float), device);
    return;
  }
  const float* px = x.data<float>();
  check(outer * ((inner + 31) / 32) < (int64_t(1) << 31), "sum: [", outer, ", ", reduce, ", ", inner,
        "] has too many outputs for one grid");

  if (inner == 1 && reduce <= kShortRow) {
    const bool vec4 = reduce % 4 == 0 && aligned16(px);
    const unsigned blocks = grid_for(outer, kThreads / 32, device);
    if (vec4) {
      sum_rows_warp_kernel<4><<<blocks, kThreads, 0, stream>>>(px, outer, reduce, scale, po);
    } else {
      sum_rows_warp_kernel<1><<<blocks, kThreads, 0, stream>>>(px, outer, reduce, scale, po);
    }
    wb::cuda::check_launch("sum_rows_warp_kernel");
    return;
  }

  // Slice the reduce dimension into `slices` pieces of per_slice rows (or units); with more than
  // one slice the first pass writes [slices, K] partials and sum_partials_kernel finishes.
  int64_t slices = 1, per_slice = 0;
  Tensor partial;
  float* dst = po;
  auto cut = [&](int64_t length, int64_t wanted) {
    per_slice = (length + wanted - 1) / wanted;
    slices = (length + per_slice - 1) / per_slice;
    if (slices > 1) {
      partial = Tensor::empty({slices, K}, DType::F32, x.device());
      dst = partial.data<float>();
    }
  };

  if (inner == 1) {
    const bool vec4 = reduce % 4 == 0 && aligned16(px);
    const int64_t units = vec4 ? reduce / 4 : reduce;
    cut(units, choose_slices(outer, units / kMinUnits, device));
    const dim3 grid(static_cast<unsigned>(outer), static_cast<unsigned>(slices));
    if (vec4) {
      sum_rows_block_kernel<4><<<grid, kThreads, 0, stream>>>(px, reduce, per_slice, scale, dst);
    } else {
      sum_rows_block_kernel<1><<<grid, kThreads, 0, stream>>>(px, reduce, per_slice, scale, dst);
    }
    wb::cuda::check_launch("sum_rows_block_kernel");
  } else {
    // Narrow inner dims get several thread rows per block so that no lanes idle.
    const int64_t tx = std::min<int64_t>(kThreads, (inner + 31) / 32 * 32), ty = kThreads / tx;
    const int64_t tiles = (inner + tx - 1) / tx;
    // A slice should give each thread at least 32 rows to sum.
    cut(reduce, choose_slices(outer * tiles, reduce / (32 * ty), device));
    const dim3 grid(static_cast<unsigned>(outer * tiles), static_cast<unsigned>(slices));
    const dim3 block(static_cast<unsigned>(tx), static_cast<unsigned>(ty));
    sum_columns_kernel<<<grid, block, 0, stream>>>(px, reduce, inner, tiles, per_slice, scale, dst);
    wb::cuda::check_launch("sum_columns_kernel");
  }

  if (slices > 1) {
    sum_partials_kernel<<<grid_for(K, kThreads, device), kThreads, 0, stream>>>(partial.data<float>(), slices, K,
                                                                                scale, po);
    wb::cuda::check_launch("sum_partials_kernel");
  }
}

}  // namespace detail

void sum_middle(const Tensor& x, int64_t outer, int64_t reduce, int64_t inner, Tensor& out) {
  detail::sum_middle_scaled(x, outer, reduce, inner, 1.f, out);
}

}  // namespace wb::kernels::cuda
