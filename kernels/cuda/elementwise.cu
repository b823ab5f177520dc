// CUDA elementwise ops: binary arithmetic, scale-add, axpy, the activations and PReLU.
// Inputs arrive contiguous f32 of equal shape (kernels/elementwise.cpp resolves broadcasting).
#include "kernels/cuda/channel.cuh"
#include "kernels/cuda/launch.cuh"
#include "kernels/elementwise.h"

namespace wb::kernels::cuda {

namespace {

using detail::kThreads;

// Flat map, the scheme of every kernel in this file except PReLU's: a grid-stride loop over units
// of V floats (float4 when every pointer is 16-byte aligned), then the first n % V threads take the
// scalar tail. Memory-bound, so the only goals are wide coalesced accesses and a full machine.
template <int V, class Op>
__global__ void flat_map_kernel(Op op, int64_t n) {
  const int64_t units = n / V;
  const int64_t first = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
  for (int64_t u = first; u < units; u += int64_t(gridDim.x) * blockDim.x) op.template apply<V>(u * V);
  if constexpr (V > 1) {
    if (first < n - units * V) op.template apply<1>(units * V + first);
  }
}

template <class Op>
void flat_map(const Op& op, int64_t n, bool vec4, const Tensor& like, const char* name) {
  if (n == 0) return;
  const int V = vec4 ? 4 : 1;
  const unsigned blocks = detail::grid_for(n / V + 1, kThreads, like.device().index);
  if (vec4) {
    flat_map_kernel<4><<<blocks, kThreads, 0, detail::stream_of(like)>>>(op, n);
  } else {
    flat_map_kernel<1><<<blocks, kThreads, 0, detail::stream_of(like)>>>(op, n);
  }
  wb::cuda::check_launch(name);
}

template <BinaryOp kOp>
struct BinaryFn {
  const float* a;
  const float* b;
  float* out;
  template <int V>
  __device__ void apply(int64_t i) const {
    float va[V], vb[V], r[V];
    detail::load_vec<V>(a, i, va);
    detail::load_vec<V>(b, i, vb);
#pragma unroll
    for (int k = 0; k < V; ++k) {
      if constexpr (kOp == BinaryOp::Add) r[k] = va[k] + vb[k];
      if constexpr (kOp == BinaryOp::Sub) r[k] = va[k] - vb[k];
      if constexpr (kOp == BinaryOp::Mul) r[k] = va[k] * vb[k];
    }
    detail::store_vec<V>(out, i, r);
  }
};

struct ScaleAddFn {
  const float* a;
  float* out;
  float s, add;
  template <int V>
  __device__ void apply(int64_t i) const {
    float v[V];
    detail::load_vec<V>(a, i, v);
#pragma unroll
    for (int k = 0; k < V; ++k) v[k] = v[k] * s + add;
    detail::store_vec<V>(out, i, v);
  }
};

struct AxpyFn {
  float* y;
  const float* x;
  float alpha;
  template <int V>
  __device__ void apply(int64_t i) const {
    float vy[V], vx[V];
    detail::load_vec<V>(y, i, vy);
    detail::load_vec<V>(x, i, vx);
#pragma unroll
    for (int k = 0; k < V; ++k) vy[k] += alpha * vx[k];
    detail::store_vec<V>(y, i, vy);
  }
};

__device__ __forceinline__ float relu6(float v) { return fminf(fmaxf(v, 0.f), 6.f); }

template <UnaryOp kOp>
__device__ __forceinline__ float unary_value(float v) {
  if constexpr (kOp == UnaryOp::Relu) return v > 0.f ? v : 0.f;
  if constexpr (kOp == UnaryOp::Sigmoid) return 1.f / (1.f + expf(-v));
  if constexpr (kOp == UnaryOp::HSwish) return v * relu6(v + 3.f) / 6.f;
  if constexpr (kOp == UnaryOp::HSigmoid) return relu6(v + 3.f) / 6.f;
  if constexpr (kOp == UnaryOp::Exp) return expf(v);
  if constexpr (kOp == UnaryOp::Log) return logf(v);
}

// `s` is the saved tensor: the output y for Relu, Sigmoid and Exp, the input x for HSwish, HSigmoid
// and Log.
// The kinks follow PyTorch: the open interval (-3, 3) takes the middle formula.
template <UnaryOp kOp>
__device__ __forceinline__ float unary_grad(float g, float s) {
  if constexpr (kOp == UnaryOp::Relu) return s > 0.f ? g : 0.f;
  if constexpr (kOp == UnaryOp::Sigmoid) return g * s * (1.f - s);
  if constexpr (kOp == UnaryOp::HSwish) return s < -3.f ? 0.f : (s > 3.f ? g : g * (2.f * s + 3.f) / 6.f);
  if constexpr (kOp == UnaryOp::HSigmoid) return (s > -3.f && s < 3.f) ? g / 6.f : 0.f;
  if constexpr (kOp == UnaryOp::Exp) return g * s;
  if constexpr (kOp == UnaryOp::Log) return g / s;
}

template <UnaryOp kOp>
struct UnaryForwardFn {
  const float* x;
  float* y;
  template <int V>
  __device__ void apply(int64_t i) const {
    float v[V];
    detail::load_vec<V>(x, i, v);
#pragma unroll
    for (int k = 0; k < V; ++k) v[k] = unary_value<kOp>(v[k]);
    detail::store_vec<V>(y, i, v);
  }
};

template <UnaryOp kOp>
struct UnaryBackwardFn {
  const float* dy;
  const float* saved;
  float* dx;
  template <int V>
  __device__ void apply(int64_t i) const {
    float g[V], s[V];
    detail::load_vec<V>(dy, i, g);
    detail::load_vec<V>(saved, i, s);
#pragma unroll
    for (int k = 0; k < V; ++k) g[k] = unary_grad<kOp>(g[k], s[k]);
    detail::store_vec<V>(dx, i, g);
  }
};

template <template <UnaryOp> class Fn, class... Args>
void unary_dispatch(UnaryOp op, int64_t n, bool vec4, const Tensor& like, const char* name, Args... args) {
  switch (op) {
    case UnaryOp::Relu: flat_map(Fn<UnaryOp::Relu>{args...}, n, vec4, like, name); break;
    case UnaryOp::Sigmoid: flat_map(Fn<UnaryOp::Sigmoid>{args...}, n, vec4, like, name); break;
    case UnaryOp::HSwish: flat_map(Fn<UnaryOp::HSwish>{args...}, n, vec4, like, name); break;
    case UnaryOp::HSigmoid: flat_map(Fn<UnaryOp::HSigmoid>{args...}, n, vec4, like, name); break;
    case UnaryOp::Exp: flat_map(Fn<UnaryOp::Exp>{args...}, n, vec4, like, name); break;
    case UnaryOp::Log: flat_map(Fn<UnaryOp::Log>{args...}, n, vec4, like, name); break;
  }
}

// PReLU sees x as [N, C, inner] with one slope per channel; a shared slope is the same thing with
// a single channel holding C * inner values per image.
detail::ChannelGeom prelu_geometry(const Tensor& x, const Tensor& weight) {
  const int64_t n = x.dim() >= 1 ? x.size(0) : 1;
  const int64_t c = x.dim() >= 2 ? x.size(1) : 1;
  const int64_t inner = x.numel() / std::max<int64_t>(1, n * c);
  if (weight.numel() == 1) return {n, 1, c * inner};
  return {n, c, inner};
}

struct PReluForwardFn {
  const float* x;
  const float* w;
  float* y;
  template <int V>
  __device__ void apply(int64_t i, int64_t c) const {
    const float a = w[c];
    float v[V];
    detail::load_vec<V>(x, i, v);
#pragma unroll
    for (int k = 0; k < V; ++k) v[k] = v[k] > 0.f ? v[k] : a * v[k];
    detail::store_vec<V>(y, i, v);
  }
};

// The backward is one pass: while reducing dweight[c] = sum over x <= 0 of dy * x it also writes
// dx, so x and dy are read once.
struct PReluBackwardElem {
  const float* dy;
  const float* x;
  const float* w;
  float* dx;
  template <int V>
  __device__ void accumulate(detail::SumAcc<1>& acc, int64_t i, int64_t c) const {
    const float a = w[c];
    float g[V], v[V], d[V];
    detail::load_vec<V>(dy, i, g);
    detail::load_vec<V>(x, i, v);
#pragma unroll
    for (int k = 0; k < V; ++k) {
      d[k] = v[k] > 0.f ? g[k] : a * g[k];
      if (v[k] <= 0.f) acc.v[0] += g[k] * v[k];
    }
    detail::store_vec<V>(dx, i, d);
  }
};

struct StoreChannelSum {
  float* out;
  __device__ void operator()(int64_t c, const detail::SumAcc<1>& total) const { out[c] = total.v[0]; }
};

}  // namespace

void binary(BinaryOp op, const Tensor& a, const Tensor& b, Tensor& out) {
  const float* pa = a.data<float>();
  const float* pb = b.data<float>();
  float* po = out.data<float>();
  const bool vec4 = detail::aligned16(pa) && detail::aligned16(pb) && detail::aligned16(po);
  switch (op) {
    case BinaryOp::Add: flat_map(BinaryFn<BinaryOp::Add>{pa, pb, po}, out.numel(), vec4, out, "add_kernel"); break;
    case BinaryOp::Sub: flat_map(BinaryFn<BinaryOp::Sub>{pa, pb, po}, out.numel(), vec4, out, "sub_kernel"); break;
    case BinaryOp::Mul: flat_map(BinaryFn<BinaryOp::Mul>{pa, pb, po}, out.numel(), vec4, out, "mul_kernel"); break;
  }
}

void scale_add(const Tensor& a, double s, double add, Tensor& out) {
  const float* pa = a.data<float>();
  float* po = out.data<float>();
  const bool vec4 = detail::aligned16(pa) && detail::aligned16(po);
  flat_map(ScaleAddFn{pa, po, static_cast<float>(s), static_cast<float>(add)}, out.numel(), vec4, out,
           "scale_add_kernel");
}

void axpy(Tensor& y, double alpha, const Tensor& x) {
  float* py = y.data<float>();
  const float* px = x.data<float>();
  const bool vec4 = detail::aligned16(py) && detail::aligned16(px);
  flat_map(AxpyFn{py, px, static_cast<float>(alpha)}, y.numel(), vec4, y, "axpy_kernel");
}

void unary_forward(UnaryOp op, const Tensor& x, Tensor& y) {
  const float* px = x.data<float>();
  float* py = y.data<float>();
  const bool vec4 = detail::aligned16(px) && detail::aligned16(py);
  unary_dispatch<UnaryForwardFn>(op, x.numel(), vec4, x, "unary_forward_kernel", px, py);
}

void unary_backward(UnaryOp op, const Tensor& dy, const Tensor& saved, Tensor& dx) {
  const float* pg = dy.data<float>();
  const float* ps = saved.data<float>();
  float* pd = dx.data<float>();
  const bool vec4 = detail::aligned16(pg) && detail::aligned16(ps) && detail::aligned16(pd);
  unary_dispatch<UnaryBackwardFn>(op, dy.numel(), vec4, dy, "unary_backward_kernel", pg, ps, pd);
}

void prelu_forward(const Tensor& x, const Tensor& weight, Tensor& y) {
  const detail::ChannelGeom g = prelu_geometry(x, weight);
  const float* px = x.data<float>();
  float* py = y.data<float>();
  const bool vec4 = g.hw % 4 == 0 && detail::aligned16(px) && detail::aligned16(py);
  detail::channel_map(g, vec4, PReluForwardFn{px, weight.data<float>(), py}, x);
}

void prelu_backward(const Tensor& dy, const Tensor& x, const Tensor& weight, Tensor& dx, Tensor& dweight) {
  const detail::ChannelGeom g = prelu_geometry(x, weight);
  const float* pg = dy.data<float>();
  const float* px = x.data<float>();
  float* pdx = dx.data<float>();
  const bool vec4 = g.hw % 4 == 0 && detail::aligned16(pg) && detail::aligned16(px) && detail::aligned16(pdx);
  detail::channel_reduce<detail::SumAcc<1>>(g, vec4, PReluBackwardElem{pg, px, weight.data<float>(), pdx},
                                            StoreChannelSum{dweight.data<float>()}, x);
}

}  // namespace wb::kernels::cuda
