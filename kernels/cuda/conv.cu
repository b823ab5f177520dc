// Convolution family, CUDA: the dispatcher behind kernels::cuda::conv2d_* and conv_transpose2d_*.
//
// Policy. algo = p.algo == Default ? conv_algo() : p.algo, then per primitive (forward,
// backward-data, backward-weight):
//   Native    channels per group (w.size(1)) < 8, which includes every depthwise conv:
//             grouped_direct_* (conv_grouped.cu); otherwise implicit_gemm_* (TF32 tensor cores).
//   Cudnn     cudnn_* (conv_cudnn.cpp).
//   Autotune  the first time a problem (primitive, device, shapes, stride/padding/dilation/groups,
//             bias or not) is seen, the native choice and cuDNN each run once as a warm-up and
//             then kTimedRuns times between CUDA events; the faster is remembered and runs from
//             then on. Only that first call synchronises the stream.
// Nothing falls back silently: an error in the chosen path (or in either contender while
// autotuning) propagates.
//
// Transposed convolution uses the identities of conv_internal.h, so it shares the primitives,
// their choice and the autotune cache with the convolution it is the adjoint of. Its bias is added
// by add_bias_kernel after the backward-data primitive. Bias gradients are bias_backward.
//
// Empty tensors are settled here, before any path runs (cuDNN rejects zero-sized dimensions): an
// empty output needs no work, and a non-empty output of an empty reduction is zero (plus the bias).
#include <algorithm>
#include <functional>
#include <map>
#include <mutex>
#include <vector>

#include "kernels/cuda/conv_internal.h"
#include "kernels/cuda/launch.cuh"
#include "tensor/cuda/check.h"

namespace wb::kernels::cuda {

namespace {

constexpr int kTimedRuns = 3;

enum class Prim { Forward, BackwardData, BackwardWeight };
enum class Path { Direct, ImplicitGemm, Cudnn };

Path native_path(const Tensor& w) { return w.size(1) < 8 ? Path::Direct : Path::ImplicitGemm; }

// y[n, k, :, :] += bias[k]. blockIdx.y walks the N*K planes, blockIdx.x/threads a plane, in
// float4 when the plane size is a multiple of 4 (planes then stay 16-byte aligned).
__global__ void add_bias_kernel(float* __restrict__ y, const float* __restrict__ bias, int64_t planes, int64_t k,
                                int64_t hw, bool vec) {
  const int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t plane = blockIdx.y; plane < planes; plane += gridDim.y) {
    const float b = __ldg(bias + plane % k);
    float* p = y + plane * hw;
    if (vec) {
      float4* p4 = reinterpret_cast<float4*>(p);
      for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < hw / 4; i += step) {
        float4 v = p4[i];
        v.x += b, v.y += b, v.z += b, v.w += b;
        p4[i] = v;
      }
    } else {
      for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < hw; i += step) p[i] += b;
    }
  }
}

void add_bias(Tensor& y, const Tensor& bias) {
  if (y.numel() == 0) return;
  const int64_t k = y.size(1), planes = y.size(0) * k, hw = y.numel() / planes;
  const bool vec = hw % 4 == 0 && detail::aligned16(y.data<float>());
  const int64_t per_plane = vec ? hw / 4 : hw;
  const dim3 grid(static_cast<unsigned>(std::min<int64_t>((per_plane + detail::kThreads - 1) / detail::kThreads, 64)),
                  static_cast<unsigned>(std::min<int64_t>(planes, 65535)));
  add_bias_kernel<<<grid, detail::kThreads, 0, detail::stream_of(y)>>>(y.data<float>(), bias.data<float>(), planes, k,
                                                                       hw, vec);
  wb::cuda::check_launch("add_bias_kernel");
}

// A CUDA event pair, destroyed on every exit path.
struct Events {
  cudaEvent_t start = nullptr, stop = nullptr;
  Events() {
    wb::cuda::check_cuda(cudaEventCreate(&start), "cudaEventCreate");
    wb::cuda::check_cuda(cudaEventCreate(&stop), "cudaEventCreate");
  }
  ~Events() {
    if (start) cudaEventDestroy(start);
    if (stop) cudaEventDestroy(stop);
  }
  Events(const Events&) = delete;
  Events& operator=(const Events&) = delete;
};

using Runner = std::function<void(Path)>;

float time_ms(const Runner& run, Path path, cudaStream_t stream) {
  run(path);  // warm-up: first-call costs (cuDNN's algorithm search, module loading) stay out
  Events ev;
  wb::cuda::check_cuda(cudaEventRecord(ev.start, stream), "cudaEventRecord");
  for (int i = 0; i < kTimedRuns; ++i) run(path);
  wb::cuda::check_cuda(cudaEventRecord(ev.stop, stream), "cudaEventRecord");
  wb::cuda::check_cuda(cudaEventSynchronize(ev.stop), "cudaEventSynchronize");
  float ms = 0.f;
  wb::cuda::check_cuda(cudaEventElapsedTime(&ms, ev.start, ev.stop), "cudaEventElapsedTime");
  return ms;
}

// Autotune winners by problem. `in` and `out` are the convolution's input and output roles
// (x and y; dx and dy; x and dy), so the key is the same for a primitive however it was reached.
Path autotuned(Prim prim, const Tensor& in, const Tensor& w, const Tensor& out, const Conv2dParams& p, bool bias,
               const Runner& run) {
  static std::mutex mu;
  static std::map<std::vector<int64_t>, Path> winners;
  std::vector<int64_t> key{static_cast<int64_t>(prim), in.device().index, p.stride[0], p.stride[1], p.padding[0],
                           p.padding[1], p.dilation[0], p.dilation[1], p.groups, bias ? 1 : 0};
  for (const Tensor* t : {&in, &w, &out}) key.insert(key.end(), t->shape().begin(), t->shape().end());
  {
    std::lock_guard<std::mutex> lock(mu);
    auto it = winners.find(key);
    if (it != winners.end()) return it->second;
  }
  // Timed without the lock: a second thread racing on the same new key only repeats the timing.
  const cudaStream_t stream = detail::stream_of(in);
  const Path native = native_path(w);
  const float native_ms = time_ms(run, native, stream);
  const float cudnn_ms = time_ms(run, Path::Cudnn, stream);
  const Path best = native_ms <= cudnn_ms ? native : Path::Cudnn;
  std::lock_guard<std::mutex> lock(mu);
  winners.emplace(std::move(key), best);
  return best;
}

// Runs one primitive by the policy at the top of the file. After autotuning, the output holds the
// result of the last contender timed; the caller's run of the winner overwrites it, so the first
// call's result comes from the same path as every later one.
void dispatch(Prim prim, const Tensor& in, const Tensor& w, const Tensor& out, const Conv2dParams& p, bool bias,
              const Runner& run) {
  const ConvAlgo algo = p.algo == ConvAlgo::Default ? conv_algo() : p.algo;
  switch (algo) {
    case ConvAlgo::Native: run(native_path(w)); return;
    case ConvAlgo::Cudnn: run(Path::Cudnn); return;
    case ConvAlgo::Autotune: run(autotuned(prim, in, w, out, p, bias, run)); return;
    case ConvAlgo::Default: break;
  }
  fail("conv2d (CUDA): no algorithm selected (conv_algo() is Default) for input ", in.str(), ", weight ", w.str());
}

void forward(const Tensor& x, const Tensor& w, const Tensor& bias, const Conv2dParams& p, Tensor& y) {
  if (y.numel() == 0) return;
  if (x.numel() == 0) {
    y.zero_();
    if (bias.defined()) add_bias(y, bias);
    return;
  }
  dispatch(Prim::Forward, x, w, y, p, bias.defined(), [&](Path path) {
    switch (path) {
      case Path::Direct: detail::grouped_direct_forward(x, w, bias, p, y); break;
      case Path::ImplicitGemm: detail::implicit_gemm_forward(x, w, bias, p, y); break;
      case Path::Cudnn: detail::cudnn_forward(x, w, bias, p, y); break;
    }
  });
}

void backward_data(const Tensor& dy, const Tensor& w, const Conv2dParams& p, Tensor& dx) {
  if (dx.numel() == 0) return;
  if (dy.numel() == 0) {
    dx.zero_();
    return;
  }
  dispatch(Prim::BackwardData, dx, w, dy, p, false, [&](Path path) {
    switch (path) {
      case Path::Direct: detail::grouped_direct_backward_data(dy, w, p, dx); break;
      case Path::ImplicitGemm: detail::implicit_gemm_backward_data(dy, w, p, dx); break;
      case Path::Cudnn: detail::cudnn_backward_data(dy, w, p, dx); break;
    }
  });
}

void backward_weight(const Tensor& dy, const Tensor& x, const Conv2dParams& p, Tensor& dw) {
  if (dw.numel() == 0) return;
  if (dy.numel() == 0 || x.numel() == 0) {
    dw.zero_();
    return;
  }
  dispatch(Prim::BackwardWeight, x, dw, dy, p, false, [&](Path path) {
    switch (path) {
      case Path::Direct: detail::grouped_direct_backward_weight(dy, x, p, dw); break;
      case Path::ImplicitGemm: detail::implicit_gemm_backward_weight(dy, x, p, dw); break;
      case Path::Cudnn: detail::cudnn_backward_weight(dy, x, p, dw); break;
    }
  });
}

}  // namespace

void conv2d_forward(const Tensor& x, const Tensor& w, const Tensor& bias, const Conv2dParams& p, Tensor& y) {
  forward(x, w, bias, p, y);
}

void conv2d_backward(const Tensor& dy, const Tensor& x, const Tensor& w, const Conv2dParams& p, ConvGrads& g) {
  if (g.dx.defined()) backward_data(dy, w, p, g.dx);
  if (g.dw.defined()) backward_weight(dy, x, p, g.dw);
  if (g.db.defined()) detail::bias_backward(dy, g.db);
}

// Transposed conv of x with w == backward-data of the conv with weight w, taking x as its dy.
void conv_transpose2d_forward(const Tensor& x, const Tensor& w, const Tensor& bias, const Conv2dParams& p, Tensor& y) {
  backward_data(x, w, p, y);
  if (bias.defined()) add_bias(y, bias);
}

void conv_transpose2d_backward(const Tensor& dy, const Tensor& x, const Tensor& w, const Conv2dParams& p,
                               ConvGrads& g) {
  if (g.dx.defined()) forward(dy, w, Tensor(), p, g.dx);
  if (g.dw.defined()) backward_weight(x, dy, p, g.dw);
  if (g.db.defined()) detail::bias_backward(dy, g.db);
}

}  // namespace wb::kernels::cuda
