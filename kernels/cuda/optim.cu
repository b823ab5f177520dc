// CUDA optimizer steps (SGD with momentum/Nesterov, Adam, AdamW), fused over all parameters.
// The formulas and their order of operations are those of kernels/cpu/optim.cpp (torch.optim's
// single-tensor implementations), evaluated in f32.
//
// Multi-tensor scheme: the parameters are cut into chunks of kChunk elements; one launch covers
// up to kMaxTensors tensors, whose pointers, sizes and first chunk numbers travel in the kernel's
// argument struct (CUDA 12.1+ allows 32 KiB of kernel parameters; __grid_constant__ lets the
// kernel index it without a per-thread copy). Blocks stride over the chunks and find a chunk's
// tensor by binary search over the first chunk numbers. A model with more tensors takes a few
// launches; no host-to-device copy or synchronisation is involved.
#include <cmath>

#include "kernels/cuda/launch.cuh"
#include "kernels/optim.h"

namespace wb::kernels::cuda {

namespace {

constexpr int64_t kChunk = 16384;  // elements per block-sized piece of work: 16 float4 per thread
constexpr int kMaxTensors = 320;

struct Slot {
  float* param;
  const float* grad;
  float* state1;  // momentum buffer, or Adam's exp_avg
  float* state2;  // Adam's exp_avg_sq
  int64_t numel;
  int64_t first_chunk;
  bool vec4;  // every pointer 16-byte aligned
};

struct Batch {
  Slot slots[kMaxTensors];
  int count;
  int64_t chunks;
};
static_assert(sizeof(Batch) < 30000, "kernel parameters are limited to 32764 bytes");

template <class Update>
__global__ void multi_tensor_kernel(const __grid_constant__ Batch batch, Update update) {
  for (int64_t chunk = blockIdx.x; chunk < batch.chunks; chunk += gridDim.x) {
    int lo = 0, hi = batch.count - 1;  // the last slot whose first chunk is <= chunk
    while (lo < hi) {
      const int mid = (lo + hi + 1) / 2;
      if (batch.slots[mid].first_chunk <= chunk) {
        lo = mid;
      } else {
        hi = mid - 1;
      }
    }
    const Slot& s = batch.slots[lo];
    const int64_t begin = (chunk - s.first_chunk) * kChunk, end = min(s.numel, begin + kChunk);
    int64_t scalar_from = begin;
    if (s.vec4) {
      // begin is a multiple of kChunk, hence of 4: the float4 accesses stay aligned.
      const int64_t vec_end = begin + (end - begin) / 4 * 4;
      for (int64_t i = begin + 4 * int64_t(threadIdx.x); i < vec_end; i += 4 * int64_t(blockDim.x)) {
        update.template apply<4>(s, i);
      }
      scalar_from = vec_end;
    }
    for (int64_t i = scalar_from + threadIdx.x; i < end; i += blockDim.x) update.template apply<1>(s, i);
  }
}

struct SgdUpdate {
  float lr, weight_decay, momentum, damp;  // damp = 1 - dampening
  bool use_decay, use_momentum, nesterov, first_step;
  template <int V>
  __device__ void apply(const Slot& s, int64_t i) const {
    float w[V], g[V], buf[V];
    detail::load_vec<V>(s.param, i, w);
    detail::load_vec<V>(s.grad, i, g);
    if (use_momentum && !first_step) detail::load_vec<V>(s.state1, i, buf);
#pragma unroll
    for (int k = 0; k < V; ++k) {
      float gk = g[k];
      if (use_decay) gk += weight_decay * w[k];
      if (use_momentum) {
        buf[k] = first_step ? gk : momentum * buf[k] + damp * gk;
        gk = nesterov ? gk + momentum * buf[k] : buf[k];
      }
      w[k] -= lr * gk;
    }
    if (use_momentum) detail::store_vec<V>(s.state1, i, buf);
    detail::store_vec<V>(s.param, i, w);
  }
};

struct AdamUpdate {
  float beta1, beta2, one_minus_beta1, one_minus_beta2, weight_decay, eps;
  float decay_factor;  // AdamW: 1 - lr * weight_decay
  float step_size;     // lr / (1 - beta1^t)
  float bc2_sqrt;      // sqrt(1 - beta2^t)
  bool decoupled, use_decay;
  template <int V>
  __device__ void apply(const Slot& s, int64_t i) const {
    float w[V], g[V], m[V], v[V];
    detail::load_vec<V>(s.param, i, w);
    detail::load_vec<V>(s.grad, i, g);
    detail::load_vec<V>(s.state1, i, m);
    detail::load_vec<V>(s.state2, i, v);
#pragma unroll
    for (int k = 0; k < V; ++k) {
      float gk = g[k];
      if (decoupled) {
        w[k] *= decay_factor;
      } else if (use_decay) {
        gk += weight_decay * w[k];
      }
      m[k] = beta1 * m[k] + one_minus_beta1 * gk;
      v[k] = beta2 * v[k] + one_minus_beta2 * gk * gk;
      const float denom = sqrtf(v[k]) / bc2_sqrt + eps;
      w[k] -= step_size * (m[k] / denom);
    }
    detail::store_vec<V>(s.state1, i, m);
    detail::store_vec<V>(s.state2, i, v);
    detail::store_vec<V>(s.param, i, w);
  }
};

// Packs every parameter with a gradient into batches and launches the update on each.
// state(i, 1) / state(i, 2) give the i-th parameter's state pointers (null when unused).
template <class Update, class State>
void run_multi_tensor(const char* op, std::vector<Tensor>& params, const std::vector<Tensor>& grads, State state,
                      const Update& update) {
  const Device device = params.front().device();
  const cudaStream_t stream = detail::stream_of(params.front());
  Batch batch{};
  auto flush = [&] {
    if (batch.count == 0) return;
    const unsigned blocks = detail::grid_for(batch.chunks, 1, device.index);
    multi_tensor_kernel<<<blocks, detail::kThreads, 0, stream>>>(batch, update);
    wb::cuda::check_launch(op);
    batch.count = 0;
    batch.chunks = 0;
  };
  for (size_t i = 0; i < params.size(); ++i) {
    if (!grads[i].defined() || params[i].numel() == 0) continue;
    check(params[i].device() == device && grads[i].device() == device, op, ": param ", params[i].str(), " and grad ",
          grads[i].str(), " must be on ", device.str());
    Slot& s = batch.slots[batch.count];
    s.param = params[i].data<float>();
    s.grad = grads[i].data<float>();
    s.state1 = state(i, 1);
    s.state2 = state(i, 2);
    s.numel = params[i].numel();
    s.first_chunk = batch.chunks;
    s.vec4 = detail::aligned16(s.param) && detail::aligned16(s.grad) && detail::aligned16(s.state1) &&
             detail::aligned16(s.state2);
    batch.chunks += (s.numel + kChunk - 1) / kChunk;
    if (++batch.count == kMaxTensors) flush();
  }
  flush();
}

}  // namespace

void sgd_step(std::vector<Tensor>& params, const std::vector<Tensor>& grads, std::vector<Tensor>& momentum_bufs,
              const SgdParams& p) {
  const bool use_momentum = p.momentum != 0.0;
  const SgdUpdate update{static_cast<float>(p.lr),
                         static_cast<float>(p.weight_decay),
                         static_cast<float>(p.momentum),
                         static_cast<float>(1.0 - p.dampening),
                         p.weight_decay != 0.0,
                         use_momentum,
                         p.nesterov,
                         p.first_step};
  auto state = [&](size_t i, int which) -> float* {
    return which == 1 && use_momentum ? momentum_bufs[i].data<float>() : nullptr;
  };
  run_multi_tensor("sgd_step", params, grads, state, update);
}

void adam_step(std::vector<Tensor>& params, const std::vector<Tensor>& grads, std::vector<Tensor>& exp_avg,
               std::vector<Tensor>& exp_avg_sq, const AdamParams& p) {
  const double t = static_cast<double>(p.step);
  const AdamUpdate update{static_cast<float>(p.beta1),
                          static_cast<float>(p.beta2),
                          static_cast<float>(1.0 - p.beta1),
                          static_cast<float>(1.0 - p.beta2),
                          static_cast<float>(p.weight_decay),
                          static_cast<float>(p.eps),
                          static_cast<float>(1.0 - p.lr * p.weight_decay),
                          static_cast<float>(p.lr / (1.0 - std::pow(p.beta1, t))),
                          static_cast<float>(std::sqrt(1.0 - std::pow(p.beta2, t))),
                          p.decoupled,
                          p.weight_decay != 0.0};
  auto state = [&](size_t i, int which) -> float* {
    return which == 1 ? exp_avg[i].data<float>() : exp_avg_sq[i].data<float>();
  };
  run_multi_tensor("adam_step", params, grads, state, update);
}

}  // namespace wb::kernels::cuda
