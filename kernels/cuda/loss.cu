// Heatmap losses, CUDA (kernels/loss.h): KeypointMSELoss and KeypointOHKMMSELoss (MMPose 1.x),
// matching kernels/cpu/loss.cpp, which documents the conventions.
//
// Both losses are built on one fused pass over pred and target that leaves the squared error of
// every (n, k) heatmap in double; everything after it touches N * K numbers. Reductions are fixed
// trees (no atomics), so results do not change from run to run.
//   MSE forward:   row errors -> one block sums w * err in index order.
//   OHKM forward:  row errors -> one block per sample ranks its K losses and sums the top k
//                  -> one block averages over samples.
//   Backwards:     (OHKM: row errors and ranking again, writing a per-row coefficient) -> one
//                  elementwise pass dpred = coefficient * (pred - target).
#include <algorithm>
#include <climits>
#include <cstdint>

#include "kernels/loss.h"
#include "tensor/cuda/check.h"

namespace wb::kernels::cuda {

namespace {

constexpr int kThreads = 256;
constexpr int kRowWarps = kThreads / 32;
constexpr int kRankThreads = 128;
constexpr int kChunk = kThreads * 4;  // elements per block in the elementwise backward

__device__ double warp_sum(double v) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_down_sync(0xffffffffu, v, o);
  return v;
}

// Sum over a block; the result is valid in thread 0. `scratch` holds one double per warp.
__device__ double block_sum(double v, double* scratch) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
  v = warp_sum(v);
  if (lane == 0) scratch[warp] = v;
  __syncthreads();
  v = 0.0;
  if (warp == 0) {
    v = lane < warps ? scratch[lane] : 0.0;
    v = warp_sum(v);
  }
  return v;
}

// err[r] = sum over the r-th heatmap of (pred - target)^2, differences and sums in double as the
// CPU reference takes them. One warp per heatmap, float4 loads when rows are 16-byte aligned:
// a whole-body batch has N * K = 4256 heatmaps of 3072 pixels, enough warps to fill the GPU.
template <bool kVec4>
__global__ void __launch_bounds__(kThreads)
    row_errors_kernel(const float* __restrict__ pred, const float* __restrict__ target, int64_t rows, int64_t hw,
                      double* __restrict__ err) {
  const int lane = threadIdx.x & 31;
  const int64_t warps = static_cast<int64_t>(gridDim.x) * kRowWarps;
  for (int64_t r = static_cast<int64_t>(blockIdx.x) * kRowWarps + (threadIdx.x >> 5); r < rows; r += warps) {
    const float* p = pred + r * hw;
    const float* t = target + r * hw;
    double acc = 0.0;
    if constexpr (kVec4) {
      const float4* p4 = reinterpret_cast<const float4*>(p);
      const float4* t4 = reinterpret_cast<const float4*>(t);
#pragma unroll 4
      for (int64_t i = lane; i < hw / 4; i += 32) {
        const float4 a = p4[i], b = t4[i];
        const double d0 = static_cast<double>(a.x) - b.x, d1 = static_cast<double>(a.y) - b.y;
        const double d2 = static_cast<double>(a.z) - b.z, d3 = static_cast<double>(a.w) - b.w;
        acc += d0 * d0 + d1 * d1 + d2 * d2 + d3 * d3;
      }
    } else {
      for (int64_t i = lane; i < hw; i += 32) {
        const double d = static_cast<double>(p[i]) - t[i];
        acc += d * d;
      }
    }
    acc = warp_sum(acc);
    if (lane == 0) err[r] = acc;
  }
}

// out = (sum over i of values[i] * (weight ? weight[i] : 1)) / divisor, by one block.
__global__ void __launch_bounds__(kThreads)
    weighted_total_kernel(const double* __restrict__ values, const float* __restrict__ weight, int64_t n,
                          double divisor, float* __restrict__ out) {
  __shared__ double scratch[kThreads / 32];
  double acc = 0.0;
  for (int64_t i = threadIdx.x; i < n; i += kThreads) acc += values[i] * (weight ? static_cast<double>(weight[i]) : 1.0);
  acc = block_sum(acc, scratch);
  if (threadIdx.x == 0) *out = static_cast<float>(acc / divisor);
}

// OHKM selection, one block per sample n. l_k = w_k^2 * err_k / hw; keypoint k is among the top
// `topk` when fewer than topk others rank above it (greater loss, or equal loss and lower index:
// the CPU reference's tie rule, so both pick the same set). K is tens to a few hundred, so the
// O(K^2) ranking over cached loads is cheaper than a sort. Writes, when asked, the sum of the
// chosen losses (sample_sum[n]) and the per-row backward coefficient w^2 or 0 (coef[n, k]).
__global__ void __launch_bounds__(kRankThreads)
    ohkm_select_kernel(const double* __restrict__ err, const float* __restrict__ weight, int keypoints, int64_t hw,
                       int topk, double* __restrict__ sample_sum, float* __restrict__ coef) {
  __shared__ double scratch[kRankThreads / 32];
  const int64_t row0 = static_cast<int64_t>(blockIdx.x) * keypoints;
  const double* e = err + row0;
  const float* w = weight + row0;
  const double pixels = static_cast<double>(hw);
  auto loss = [&](int k) {
    const double wk = w[k];
    return e[k] / pixels * (wk * wk);
  };
  double chosen = 0.0;
  for (int k = threadIdx.x; k < keypoints; k += kRankThreads) {
    const double lk = loss(k);
    int above = 0;
    for (int j = 0; j < keypoints && above < topk; ++j) {
      const double lj = loss(j);
      above += (lj > lk || (lj == lk && j < k)) ? 1 : 0;
    }
    const bool selected = above < topk;
    if (selected) chosen += lk;
    if (coef) coef[row0 + k] = selected ? w[k] * w[k] : 0.f;
  }
  chosen = block_sum(chosen, scratch);
  if (sample_sum && threadIdx.x == 0) sample_sum[blockIdx.x] = chosen;
}

// dpred = (dloss * scale * coef[row]) * (pred - target); one block per (heatmap row, chunk of
// kChunk pixels), so the row's coefficient is one uniform load and no index is divided.
template <bool kVec4>
__global__ void __launch_bounds__(kThreads)
    scaled_difference_kernel(const float* __restrict__ pred, const float* __restrict__ target,
                             const float* __restrict__ coef, const float* __restrict__ dloss, double scale, int64_t hw,
                             float* __restrict__ dpred) {
  const int64_t row = blockIdx.x;
  const float c = static_cast<float>(static_cast<double>(*dloss) * scale * coef[row]);
  const int64_t base = row * hw + static_cast<int64_t>(blockIdx.y) * kChunk;
  const int64_t end = min(static_cast<int64_t>(kChunk), hw - static_cast<int64_t>(blockIdx.y) * kChunk);
  if constexpr (kVec4) {
    const int64_t i = static_cast<int64_t>(threadIdx.x) * 4;
    if (i < end) {
      const float4 a = *reinterpret_cast<const float4*>(pred + base + i);
      const float4 b = *reinterpret_cast<const float4*>(target + base + i);
      *reinterpret_cast<float4*>(dpred + base + i) =
          make_float4(c * (a.x - b.x), c * (a.y - b.y), c * (a.z - b.z), c * (a.w - b.w));
    }
  } else {
    for (int64_t i = threadIdx.x; i < end; i += kThreads) dpred[base + i] = c * (pred[base + i] - target[base + i]);
  }
}

bool aligned16(const Tensor& t) { return reinterpret_cast<uintptr_t>(t.raw_data()) % 16 == 0; }

struct Geometry {
  int64_t n, k, rows, hw;
  bool vec4;  // every row starts on a 16-byte boundary in every tensor
};

Geometry geometry(const Tensor& pred, const Tensor& target, const Tensor* out) {
  Geometry g{pred.size(0), pred.size(1), pred.size(0) * pred.size(1), pred.size(2) * pred.size(3), false};
  g.vec4 = g.hw % 4 == 0 && aligned16(pred) && aligned16(target) && (out == nullptr || aligned16(*out));
  return g;
}

Tensor row_errors(const char* op, const Tensor& pred, const Tensor& target, const Geometry& g) {
  Tensor err = Tensor::empty({g.rows}, DType::F64, pred.device());
  if (g.rows == 0) return err;
  const int64_t blocks = std::min<int64_t>((g.rows + kRowWarps - 1) / kRowWarps, INT_MAX);
  auto kernel = g.vec4 ? row_errors_kernel<true> : row_errors_kernel<false>;
  kernel<<<static_cast<unsigned>(blocks), kThreads, 0, wb::cuda::current_stream(pred.device().index)>>>(
      pred.data<float>(), target.data<float>(), g.rows, g.hw, err.data<double>());
  wb::cuda::check_launch(op);
  return err;
}

void ohkm_select(const char* op, const Tensor& err, const Tensor& weight, const Geometry& g, int64_t topk,
                 double* sample_sum, float* coef) {
  check(g.n <= INT_MAX && g.k <= INT_MAX, op, " (CUDA): ", g.n, " samples of ", g.k, " keypoints exceed the int range");
  if (g.n == 0) return;
  ohkm_select_kernel<<<static_cast<unsigned>(g.n), kRankThreads, 0, wb::cuda::current_stream(err.device().index)>>>(
      err.data<double>(), weight.data<float>(), static_cast<int>(g.k), g.hw, static_cast<int>(topk), sample_sum, coef);
  wb::cuda::check_launch(op);
}

void weighted_total(const char* op, const Tensor& values, const float* weight, double divisor, Tensor& loss) {
  weighted_total_kernel<<<1, kThreads, 0, wb::cuda::current_stream(loss.device().index)>>>(
      values.data<double>(), weight, values.numel(), divisor, loss.data<float>());
  wb::cuda::check_launch(op);
}

void scaled_difference(const char* op, const Tensor& pred, const Tensor& target, const float* coef,
                       const Tensor& dloss, double scale, const Geometry& g, Tensor& dpred) {
  if (g.rows == 0 || g.hw == 0) return;
  const int64_t chunks = (g.hw + kChunk - 1) / kChunk;
  check(g.rows <= INT_MAX && chunks <= 65535, op, " (CUDA): heatmaps ", pred.str(), " exceed the launch grid");
  const dim3 grid(static_cast<unsigned>(g.rows), static_cast<unsigned>(chunks));
  auto kernel = g.vec4 ? scaled_difference_kernel<true> : scaled_difference_kernel<false>;
  kernel<<<grid, kThreads, 0, wb::cuda::current_stream(pred.device().index)>>>(
      pred.data<float>(), target.data<float>(), coef, dloss.data<float>(), scale, g.hw, dpred.data<float>());
  wb::cuda::check_launch(op);
}

}  // namespace

void heatmap_mse_forward(const Tensor& pred, const Tensor& target, const Tensor& weight, Tensor& loss) {
  const char* op = "heatmap_mse";
  const Geometry g = geometry(pred, target, nullptr);
  const Tensor err = row_errors(op, pred, target, g);
  weighted_total(op, err, weight.data<float>(), static_cast<double>(pred.numel()), loss);
}

void heatmap_mse_backward(const Tensor& dloss, const Tensor& pred, const Tensor& target, const Tensor& weight,
                          Tensor& dpred) {
  const Geometry g = geometry(pred, target, &dpred);
  scaled_difference("heatmap_mse_backward", pred, target, weight.data<float>(), dloss,
                    2.0 / static_cast<double>(pred.numel()), g, dpred);
}

void ohkm_mse_forward(const Tensor& pred, const Tensor& target, const Tensor& weight, int64_t topk, Tensor& loss) {
  const char* op = "ohkm_mse";
  const Geometry g = geometry(pred, target, nullptr);
  const Tensor err = row_errors(op, pred, target, g);
  Tensor sample_sum = Tensor::empty({g.n}, DType::F64, pred.device());
  ohkm_select(op, err, weight, g, topk, sample_sum.data<double>(), nullptr);
  weighted_total(op, sample_sum, nullptr, static_cast<double>(topk) * static_cast<double>(g.n), loss);
}

void ohkm_mse_backward(const Tensor& dloss, const Tensor& pred, const Tensor& target, const Tensor& weight,
                       int64_t topk, Tensor& dpred) {
  const char* op = "ohkm_mse_backward";
  const Geometry g = geometry(pred, target, &dpred);
  const Tensor err = row_errors(op, pred, target, g);
  Tensor coef = Tensor::empty({g.rows}, DType::F32, pred.device());
  ohkm_select(op, err, weight, g, topk, nullptr, coef.data<float>());
  // d/dpred of w^2 * mean_hw (pred - target)^2, times 1/topk and 1/N from the two means.
  scaled_difference(op, pred, target, coef.data<float>(), dloss,
                    2.0 / (static_cast<double>(g.hw) * static_cast<double>(topk) * static_cast<double>(g.n)), g,
                    dpred);
}

}  // namespace wb::kernels::cuda
