// Convolution family, CUDA: direct kernels for depthwise and few-channels-per-group convolutions
// (MobileNetV3/ViPNAS depthwise 3x3/5x5/7x7, ViPNAS groups-16 5x5, RGB stems), and the bias
// gradient. These shapes have too little channel depth per group to fill a tensor-core GEMM
// tile, so they are memory- and latency-bound: the kernels stage each input plane tile once in
// shared memory and do every multiply in f32 on the CUDA cores.
//
// Sizes of one convolution in the kernels: x [N, C, H, W], w [K, C/G, KH, KW], y [N, K, OH, OW].
// Spatial and channel sizes are int (checked on the host); offsets into whole tensors are int64.
#include <algorithm>
#include <cstdint>
#include <string>

#include "kernels/cuda/conv_internal.h"
#include "kernels/cuda/launch.cuh"
#include "tensor/cuda/check.h"

namespace wb::kernels::cuda::detail {

namespace {

// Every kernel here runs blocks of kThreads (256, launch.cuh) threads or fewer.
constexpr int kMaxRows = 4;         // output rows per thread in the tiled kernels
constexpr int kSmemLimit = 48 * 1024;  // default dynamic shared memory, no opt-in needed
// At least two resident 256-thread blocks per SM (at most 128 registers a thread), so that one
// block's barrier wait is covered by the other's work.
constexpr int kMinBlocks = 2;

struct Geometry {
  int64_t n;
  int c, h, w;     // input (forward's x, backward-data's dx)
  int k, oh, ow;   // output (forward's y, backward-data's dy)
  int kh, kw, sh, sw, ph, pw, dh, dw;
  int groups, cin_g, cout_g;
};

// A spatial tile of the plane a block writes: tw x (ty * rows) pixels, 256 threads or fewer laid
// out tw x ty, each thread owning `rows` pixels of one column. in_h x in_w is the staged source
// tile (input with halo for the forward, dy for backward-data).
struct Tile {
  int tw, ty, rows, th;
  int in_h, in_w;
  int tiles_x, tiles_y;
  int chunks;  // blocks per group along channels: ceil(channels per group / KO)
};

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

__device__ __forceinline__ int floor_div(int a, int b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }

int to_int(int64_t v, const char* what, const Tensor& t) {
  check(v >= 0 && v <= INT32_MAX, "conv2d (CUDA direct): ", what, " of ", t.str(), " exceeds the int range");
  return static_cast<int>(v);
}

Geometry geometry(const Tensor& in, const Tensor& w, const Tensor& out, const Conv2dParams& p) {
  Geometry g;
  g.n = in.size(0);
  g.c = to_int(in.size(1), "channels", in);
  g.h = to_int(in.size(2), "height", in);
  g.w = to_int(in.size(3), "width", in);
  g.k = to_int(out.size(1), "channels", out);
  g.oh = to_int(out.size(2), "height", out);
  g.ow = to_int(out.size(3), "width", out);
  g.kh = to_int(w.size(2), "kernel height", w);
  g.kw = to_int(w.size(3), "kernel width", w);
  g.sh = static_cast<int>(p.stride[0]);
  g.sw = static_cast<int>(p.stride[1]);
  g.ph = static_cast<int>(p.padding[0]);
  g.pw = static_cast<int>(p.padding[1]);
  g.dh = static_cast<int>(p.dilation[0]);
  g.dw = static_cast<int>(p.dilation[1]);
  g.groups = static_cast<int>(p.groups);
  g.cin_g = g.c / g.groups;
  g.cout_g = g.k / g.groups;
  check(g.groups > 0 && g.c % g.groups == 0 && g.k % g.groups == 0 && w.size(0) == g.k && w.size(1) == g.cin_g,
        "conv2d (CUDA direct): input ", in.str(), ", weight ", w.str(), ", output ", out.str(), " and groups ",
        p.groups, " do not agree");
  return g;
}

// Picks the tile for a plane of out_h x out_w pixels. Width: the candidate that stages the fewest
// source columns per band of rows (a 48-column map stages fewer with 16 than with 32). Height: up to kMaxRows rows per thread, fewer threads for short maps. The staged
// tile must fit the default shared memory; huge dilations shrink the tile until it does.
Tile pick_tile(int out_h, int out_w, int chunk, int chunks, int weights_per_chunk,
               auto src_rows, auto src_cols, const char* op) {
  Tile t{};
  int64_t best = INT64_MAX;
  for (int tw : {32, 16, 8}) {
    const int64_t cost = ceil_div(out_w, tw) * src_cols(tw);
    if (cost < best) best = cost, t.tw = tw;
  }
  t.ty = kThreads / t.tw;
  t.rows = static_cast<int>(std::min<int64_t>(kMaxRows, ceil_div(out_h, t.ty)));
  while (t.ty > std::max(1, 32 / t.tw) && ceil_div(out_h, t.rows) <= t.ty / 2) t.ty /= 2;
  auto bytes = [&] {
    t.th = t.ty * t.rows;
    t.in_h = src_rows(t.th);
    t.in_w = src_cols(t.tw);
    return (static_cast<int64_t>(t.in_h) * t.in_w + static_cast<int64_t>(chunk) * weights_per_chunk) * 4;
  };
  while (bytes() > kSmemLimit) {
    if (t.rows > 1) --t.rows;
    else if (t.ty > 1) t.ty /= 2;
    else if (t.tw > 8) t.tw /= 2;
    else fail(op, ": a ", out_h, "x", out_w, " output tile needs ", bytes(),
              " bytes of shared memory even at the smallest tile (dilation too large for the direct kernel)");
  }
  t.tiles_x = static_cast<int>(ceil_div(out_w, t.tw));
  t.tiles_y = static_cast<int>(ceil_div(out_h, t.th));
  t.chunks = chunks;
  return t;
}

// ---------------------------------------------------------------------------------------------
// Forward. One block: a tw x th tile of output pixels for KO output channels of one group of one
// image. For each input channel of the group it stages the input tile with its halo (zeros for
// padding, loaded coalesced row by row) and the KO x KH x KW weights in shared memory, then each
// thread accumulates its `rows` pixels for all KO channels in registers, so every staged input
// value is reused KH*KW*KO times from shared memory and every global input read is coalesced.
// KS > 0 fixes a square kernel size at compile time so the tap loops unroll; KS == 0 is generic.
template <int KS, int KO>
__global__ void __launch_bounds__(kThreads, kMinBlocks)
    direct_forward_kernel(const float* __restrict__ x, const float* __restrict__ w, const float* __restrict__ bias,
                          float* __restrict__ y, Geometry g, Tile t) {
  extern __shared__ float smem[];
  const int kh = KS ? KS : g.kh, kw = KS ? KS : g.kw, taps = kh * kw;
  float* s_in = smem;
  float* s_w = smem + t.in_h * t.in_w;

  const int tiles = t.tiles_x * t.tiles_y;
  const int tile = static_cast<int>(blockIdx.x % tiles);
  int64_t rest = blockIdx.x / tiles;
  const int chunk = static_cast<int>(rest % t.chunks);
  rest /= t.chunks;
  const int grp = static_cast<int>(rest % g.groups);
  const int64_t n = rest / g.groups;
  const int k0 = grp * g.cout_g + chunk * KO;
  const int kn = min(KO, g.cout_g - chunk * KO);
  const int oy0 = (tile / t.tiles_x) * t.th, ox0 = (tile % t.tiles_x) * t.tw;
  const int iy0 = oy0 * g.sh - g.ph, ix0 = ox0 * g.sw - g.pw;
  const int tx = threadIdx.x, ty = threadIdx.y, tid = ty * t.tw + tx, nthreads = t.tw * t.ty;

  float acc[KO][kMaxRows];
#pragma unroll
  for (int o = 0; o < KO; ++o)
#pragma unroll
    for (int r = 0; r < kMaxRows; ++r) acc[o][r] = 0.f;

  for (int ci = 0; ci < g.cin_g; ++ci) {
    const float* plane = x + (n * g.c + grp * g.cin_g + ci) * static_cast<int64_t>(g.h) * g.w;
    for (int r = ty; r < t.in_h; r += t.ty) {
      const int iy = iy0 + r;
      const bool row_ok = iy >= 0 && iy < g.h;
      for (int col = tx; col < t.in_w; col += t.tw) {
        const int ix = ix0 + col;
        s_in[r * t.in_w + col] = row_ok && ix >= 0 && ix < g.w ? __ldg(plane + static_cast<int64_t>(iy) * g.w + ix) : 0.f;
      }
    }
    for (int i = tid; i < KO * taps; i += nthreads) {
      const int o = i / taps;
      s_w[i] = o < kn ? __ldg(w + (static_cast<int64_t>(k0 + o) * g.cin_g + ci) * taps + i % taps) : 0.f;
    }
    __syncthreads();
    // Taps outermost: only KO weights are live at a time (all KO*KH*KW would not fit in registers
    // for 7x7), each used for every row of the thread.
    // Kernel rows stay a loop: unrolling all KH*KW taps lets the compiler hoist every tap's
    // shared-memory offset out of the channel loop, which spills registers for 7x7.
#pragma unroll 1
    for (int i = 0; i < kh; ++i) {
#pragma unroll
      for (int j = 0; j < kw; ++j) {
        float wv[KO];
#pragma unroll
        for (int o = 0; o < KO; ++o) wv[o] = s_w[o * taps + i * kw + j];
        const float* src = s_in + (ty * g.sh + i * g.dh) * t.in_w + tx * g.sw + j * g.dw;
#pragma unroll
        for (int r = 0; r < kMaxRows; ++r) {
          if (r < t.rows) {
            const float v = src[r * t.ty * g.sh * t.in_w];
#pragma unroll
            for (int o = 0; o < KO; ++o) acc[o][r] = fmaf(v, wv[o], acc[o][r]);
          }
        }
      }
    }
    __syncthreads();  // the next channel overwrites s_in and s_w
  }

  const int ox = ox0 + tx;
  if (ox >= g.ow) return;
#pragma unroll
  for (int r = 0; r < kMaxRows; ++r) {
    const int oy = oy0 + ty + r * t.ty;
    if (r >= t.rows || oy >= g.oh) break;
#pragma unroll
    for (int o = 0; o < KO; ++o) {
      if (o >= kn) break;
      const float b = bias ? __ldg(bias + k0 + o) : 0.f;
      y[((n * g.k + k0 + o) * g.oh + oy) * static_cast<int64_t>(g.ow) + ox] = acc[o][r] + b;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Backward data, as the transposed gather: dx[iy, ix] = sum over the output channels of its group
// and the taps (i, j) with iy + ph - i*dh = oy*sh (and likewise for x) of dy[oy, ox] * w[i, j].
// Each dx pixel is written by exactly one thread, so no atomics. One block: a tile of dx for KO
// input channels of one group of one image; for each output channel of the group it stages the dy
// rows/columns the tile can reach and the KO x KH x KW weights, as the forward does.
template <int KS, int KO>
__global__ void __launch_bounds__(kThreads, kMinBlocks)
    direct_backward_data_kernel(const float* __restrict__ dy, const float* __restrict__ w, float* __restrict__ dx,
                                Geometry g, Tile t) {
  extern __shared__ float smem[];
  const int kh = KS ? KS : g.kh, kw = KS ? KS : g.kw, taps = kh * kw;
  float* s_dy = smem;
  float* s_w = smem + t.in_h * t.in_w;

  const int tiles = t.tiles_x * t.tiles_y;
  const int tile = static_cast<int>(blockIdx.x % tiles);
  int64_t rest = blockIdx.x / tiles;
  const int chunk = static_cast<int>(rest % t.chunks);
  rest /= t.chunks;
  const int grp = static_cast<int>(rest % g.groups);
  const int64_t n = rest / g.groups;
  const int cl0 = chunk * KO;  // first input channel of this block, within the group
  const int cn = min(KO, g.cin_g - cl0);
  const int iy0 = (tile / t.tiles_x) * t.th, ix0 = (tile % t.tiles_x) * t.tw;
  // The first dy row/column any pixel of the tile reads (through its last tap).
  const int oy_lo = floor_div(iy0 + g.ph - (kh - 1) * g.dh, g.sh);
  const int ox_lo = floor_div(ix0 + g.pw - (kw - 1) * g.dw, g.sw);
  const int tx = threadIdx.x, ty = threadIdx.y, tid = ty * t.tw + tx, nthreads = t.tw * t.ty;

  float acc[KO][kMaxRows];
#pragma unroll
  for (int o = 0; o < KO; ++o)
#pragma unroll
    for (int r = 0; r < kMaxRows; ++r) acc[o][r] = 0.f;

  // Offsets of this thread's pixels from the staged tile's origin, in input pixels; a tap (i, j)
  // hits a dy sample when the offset minus the tap's reach is a multiple of the stride.
  const int bx = ix0 + tx + g.pw - ox_lo * g.sw;
  const int by = iy0 + ty + g.ph - oy_lo * g.sh;
  for (int ko = 0; ko < g.cout_g; ++ko) {
    const int k = grp * g.cout_g + ko;
    const float* plane = dy + (n * g.k + k) * static_cast<int64_t>(g.oh) * g.ow;
    for (int r = ty; r < t.in_h; r += t.ty) {
      const int oy = oy_lo + r;
      const bool row_ok = oy >= 0 && oy < g.oh;
      for (int col = tx; col < t.in_w; col += t.tw) {
        const int ox = ox_lo + col;
        s_dy[r * t.in_w + col] = row_ok && ox >= 0 && ox < g.ow ? __ldg(plane + static_cast<int64_t>(oy) * g.ow + ox) : 0.f;
      }
    }
    for (int i = tid; i < KO * taps; i += nthreads) {
      const int o = i / taps;
      s_w[i] = o < cn ? __ldg(w + (static_cast<int64_t>(k) * g.cin_g + cl0 + o) * taps + i % taps) : 0.f;
    }
    __syncthreads();
    // Taps outermost, as in the forward, so that only KO weights are live at a time.
    // Kernel rows stay a loop: unrolling all KH*KW taps lets the compiler hoist every tap's
    // shared-memory offset out of the channel loop, which spills registers for 7x7.
#pragma unroll 1
    for (int i = 0; i < kh; ++i) {
#pragma unroll
      for (int j = 0; j < kw; ++j) {
        const int tx_off = bx - j * g.dw;
        if (g.sw > 1 && tx_off % g.sw != 0) continue;
        const int col = g.sw > 1 ? tx_off / g.sw : tx_off;
        float wv[KO];
#pragma unroll
        for (int o = 0; o < KO; ++o) wv[o] = s_w[o * taps + i * kw + j];
#pragma unroll
        for (int r = 0; r < kMaxRows; ++r) {
          const int ty_off = by + r * t.ty - i * g.dh;
          if (r < t.rows && (g.sh == 1 || ty_off % g.sh == 0)) {
            const float v = s_dy[(g.sh > 1 ? ty_off / g.sh : ty_off) * t.in_w + col];
#pragma unroll
            for (int o = 0; o < KO; ++o) acc[o][r] = fmaf(v, wv[o], acc[o][r]);
          }
        }
      }
    }
    __syncthreads();  // the next output channel overwrites s_dy and s_w
  }

  const int ix = ix0 + tx;
  if (ix >= g.w) return;
#pragma unroll
  for (int r = 0; r < kMaxRows; ++r) {
    const int iy = iy0 + ty + r * t.ty;
    if (r >= t.rows || iy >= g.h) break;
#pragma unroll
    for (int o = 0; o < KO; ++o) {
      if (o >= cn) break;
      dx[((n * g.c + grp * g.cin_g + cl0 + o) * g.h + iy) * static_cast<int64_t>(g.w) + ix] = acc[o][r];
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Backward weight: dw[k, cl, i, j] = sum over (n, oy, ox) of dy[n, k, oy, ox] * x[n, c, oy*sh -
// ph + i*dh, ox*sw - pw + j*dw]. One block: one (k, cl) weight plane (all KS*KS taps in
// registers; with KS == 0 one tap, from blockIdx.z) over one split of the N*OH rows. Consecutive
// threads take consecutive ox, so dy reads are coalesced and the x reads of neighbouring threads
// overlap in L1. Splits write partial sums that sum_splits_kernel adds in a fixed order.
template <int KS>
__global__ void __launch_bounds__(kThreads)
    direct_backward_weight_kernel(const float* __restrict__ dy, const float* __restrict__ x, float* __restrict__ out,
                                  Geometry g, int rows_per_split) {
  constexpr int kTaps = KS ? KS * KS : 1;
  const int kh = KS ? KS : 1, kw = KS ? KS : 1;
  const int tap0 = KS ? 0 : static_cast<int>(blockIdx.z);
  const int i0 = KS ? 0 : tap0 / g.kw, j0 = KS ? 0 : tap0 % g.kw;
  const int plane = static_cast<int>(blockIdx.x);  // k * cin_g + cl
  const int k = plane / g.cin_g, cl = plane % g.cin_g;
  const int c = (k / g.cout_g) * g.cin_g + cl;
  const int row0 = blockIdx.y * rows_per_split;  // N*OH < 2^31, checked on the host
  const int rows = min(rows_per_split, static_cast<int>(g.n) * g.oh - row0);

  SumAcc<kTaps> acc = SumAcc<kTaps>::identity();

  const int count = rows * g.ow;  // < 2^31: rows_per_split * ow is bounded on the host
  for (int e = threadIdx.x; e < count; e += kThreads) {
    const int ox = e % g.ow;
    const int row = row0 + e / g.ow;
    const int oy = row % g.oh;
    const int64_t n = row / g.oh;
    const float d = __ldg(dy + ((n * g.k + k) * g.oh + oy) * static_cast<int64_t>(g.ow) + ox);
    const float* xp = x + (n * g.c + c) * static_cast<int64_t>(g.h) * g.w;
    const int iyb = oy * g.sh - g.ph + i0 * g.dh, ixb = ox * g.sw - g.pw + j0 * g.dw;
#pragma unroll
    for (int i = 0; i < kh; ++i) {
      const int iy = iyb + i * g.dh;
      if (iy < 0 || iy >= g.h) continue;
#pragma unroll
      for (int j = 0; j < kw; ++j) {
        const int ix = ixb + j * g.dw;
        if (ix >= 0 && ix < g.w) acc.v[i * kw + j] = fmaf(d, __ldg(xp + static_cast<int64_t>(iy) * g.w + ix), acc.v[i * kw + j]);
      }
    }
  }
  acc = block_reduce(acc);  // fixed-order tree: deterministic
  if (threadIdx.x == 0) {
    const int taps = g.kh * g.kw;
    float* dst = out + blockIdx.y * (static_cast<int64_t>(g.k) * g.cin_g * taps) + static_cast<int64_t>(plane) * taps + tap0;
#pragma unroll
    for (int i = 0; i < kTaps; ++i) dst[i] = acc.v[i];
  }
}

// out[i] = sum over s of partial[s * m + i], s in order (deterministic), grid-stride over i.
__global__ void sum_splits_kernel(const float* __restrict__ partial, float* __restrict__ out, int64_t m, int splits) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < m;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    float s = 0.f;
    for (int k = 0; k < splits; ++k) s += partial[k * m + i];
    out[i] = s;
  }
}

// Bias gradient: one block per (channel, split); a split is a run of (image, segment) chunks of
// that channel's planes, read with float4 when `vec` (plane size a multiple of 4, base 16-byte
// aligned; segments are multiples of 4).
__global__ void __launch_bounds__(kThreads)
    bias_backward_kernel(const float* __restrict__ dy, float* __restrict__ out, int64_t n, int c, int64_t hw,
                         int64_t seg, int64_t chunks_per_split, bool vec) {
  const int ch = static_cast<int>(blockIdx.x);
  const int64_t segs = (hw + seg - 1) / seg;
  const int64_t first = blockIdx.y * chunks_per_split;
  const int64_t last = min(first + chunks_per_split, n * segs);
  SumAcc<1> acc = SumAcc<1>::identity();
  for (int64_t q = first; q < last; ++q) {
    const int64_t img = q / segs, s0 = (q % segs) * seg, s1 = min(s0 + seg, hw);
    const float* p = dy + (img * c + ch) * hw;
    if (vec) {
      for (int64_t i = s0 + 4 * threadIdx.x; i < s1; i += 4 * kThreads) {
        const float4 v = __ldg(reinterpret_cast<const float4*>(p + i));
        acc.v[0] += (v.x + v.y) + (v.z + v.w);
      }
    } else {
      for (int64_t i = s0 + threadIdx.x; i < s1; i += kThreads) acc.v[0] += __ldg(p + i);
    }
  }
  acc = block_reduce(acc);
  if (threadIdx.x == 0) out[blockIdx.y * static_cast<int64_t>(c) + ch] = acc.v[0];
}

// Adds split partials (or nothing when there is one split: the kernel wrote the output itself).
void finish_splits(const Tensor& partial, int splits, Tensor& out, cudaStream_t stream) {
  if (splits == 1) return;
  const int64_t m = out.numel();
  const int blocks = static_cast<int>(std::min<int64_t>(ceil_div(m, kThreads), 4096));
  sum_splits_kernel<<<blocks, kThreads, 0, stream>>>(partial.data<float>(), out.data<float>(), m, splits);
  wb::cuda::check_launch("sum_splits_kernel");
}

// ---- launch helpers: map runtime kernel size / channel chunk onto template instances ----

int pick_chunk(int per_group) { return per_group >= 8 ? 8 : per_group >= 4 ? 4 : per_group >= 2 ? 2 : 1; }

template <template <int, int> class Launch, class... Args>
void with_ks_ko(int kh, int kw, int ko, Args&&... args) {
  const int ks = kh == kw && (kh == 3 || kh == 5 || kh == 7) ? kh : 0;
  auto by_ko = [&]<int KS>() {
    switch (ko) {
      case 8: Launch<KS, 8>::run(args...); break;
      case 4: Launch<KS, 4>::run(args...); break;
      case 2: Launch<KS, 2>::run(args...); break;
      default: Launch<KS, 1>::run(args...); break;
    }
  };
  switch (ks) {
    case 3: by_ko.template operator()<3>(); break;
    case 5: by_ko.template operator()<5>(); break;
    case 7: by_ko.template operator()<7>(); break;
    default: by_ko.template operator()<0>(); break;
  }
}

int64_t grid_blocks(const Tile& t, const Geometry& g, const char* op) {
  const int64_t blocks = static_cast<int64_t>(t.tiles_x) * t.tiles_y * t.chunks * g.groups * g.n;
  check(blocks <= INT32_MAX, op, ": ", blocks, " blocks exceed the grid limit");
  return blocks;
}

template <int KS, int KO>
struct LaunchForward {
  static void run(const Tensor& x, const Tensor& w, const Tensor& bias, Tensor& y, const Geometry& g, const Tile& t) {
    const size_t smem = (static_cast<size_t>(t.in_h) * t.in_w + static_cast<size_t>(KO) * g.kh * g.kw) * sizeof(float);
    const int64_t blocks = grid_blocks(t, g, "conv2d forward (CUDA direct)");
    direct_forward_kernel<KS, KO><<<static_cast<unsigned>(blocks), dim3(t.tw, t.ty), smem,
                                    wb::cuda::current_stream(x.device().index)>>>(
        x.data<float>(), w.data<float>(), bias.defined() ? bias.data<float>() : nullptr, y.data<float>(), g, t);
    wb::cuda::check_launch("direct_forward_kernel");
  }
};

template <int KS, int KO>
struct LaunchBackwardData {
  static void run(const Tensor& dy, const Tensor& w, Tensor& dx, const Geometry& g, const Tile& t) {
    const size_t smem = (static_cast<size_t>(t.in_h) * t.in_w + static_cast<size_t>(KO) * g.kh * g.kw) * sizeof(float);
    const int64_t blocks = grid_blocks(t, g, "conv2d backward-data (CUDA direct)");
    direct_backward_data_kernel<KS, KO><<<static_cast<unsigned>(blocks), dim3(t.tw, t.ty), smem,
                                          wb::cuda::current_stream(dy.device().index)>>>(
        dy.data<float>(), w.data<float>(), dx.data<float>(), g, t);
    wb::cuda::check_launch("direct_backward_data_kernel");
  }
};

}  // namespace

void grouped_direct_forward(const Tensor& x, const Tensor& w, const Tensor& bias, const Conv2dParams& p, Tensor& y) {
  if (y.numel() == 0) return;
  // An empty x or weight (C == 0, or an input that only padding reaches) needs no special case:
  // the kernel stages zeros and writes the bias.
  const Geometry g = geometry(x, w, y, p);
  const int ko = pick_chunk(g.cout_g);
  const Tile t = pick_tile(
      g.oh, g.ow, ko, static_cast<int>(ceil_div(g.cout_g, ko)), g.kh * g.kw,
      [&](int th) { return (th - 1) * g.sh + (g.kh - 1) * g.dh + 1; },
      [&](int tw) { return (tw - 1) * g.sw + (g.kw - 1) * g.dw + 1; }, "conv2d forward (CUDA direct)");
  with_ks_ko<LaunchForward>(g.kh, g.kw, ko, x, w, bias, y, g, t);
}

void grouped_direct_backward_data(const Tensor& dy, const Tensor& w, const Conv2dParams& p, Tensor& dx) {
  if (dx.numel() == 0) return;
  const Geometry g = geometry(dx, w, dy, p);
  if (dy.numel() == 0 || w.numel() == 0) {
    dx.zero_();
    return;
  }
  const int ko = pick_chunk(g.cin_g);
  const Tile t = pick_tile(
      g.h, g.w, ko, static_cast<int>(ceil_div(g.cin_g, ko)), g.kh * g.kw,
      [&](int th) { return (th - 1 + (g.kh - 1) * g.dh) / g.sh + 2; },
      [&](int tw) { return (tw - 1 + (g.kw - 1) * g.dw) / g.sw + 2; }, "conv2d backward-data (CUDA direct)");
  with_ks_ko<LaunchBackwardData>(g.kh, g.kw, ko, dy, w, dx, g, t);
}

void grouped_direct_backward_weight(const Tensor& dy, const Tensor& x, const Conv2dParams& p, Tensor& dw) {
  if (dw.numel() == 0) return;
  const Geometry g = geometry(x, dw, dy, p);
  if (dy.numel() == 0 || x.numel() == 0) {
    dw.zero_();
    return;
  }
  const int ks = g.kh == g.kw && (g.kh == 3 || g.kh == 5 || g.kh == 7) ? g.kh : 0;
  const int64_t planes = static_cast<int64_t>(g.k) * g.cin_g;
  const int64_t blocks_per_split = planes * (ks ? 1 : g.kh * g.kw);
  check(planes <= INT32_MAX && g.kh * g.kw <= 65535, "conv2d backward-weight (CUDA direct): weight ", dw.str(),
        " is too large for the grid");
  // Enough splits of the N*OH rows to give every SM a few blocks, but at least ~2048 products per
  // block so the final fixed-order sum stays small next to the reduction itself.
  const int64_t total_rows = g.n * g.oh;
  check(total_rows <= INT32_MAX, "conv2d backward-weight (CUDA direct): dy ", dy.str(), " has too many rows");
  const int64_t min_rows = std::max<int64_t>(1, 2048 / g.ow);
  int64_t splits = std::max<int64_t>(1, ceil_div(4 * sm_count(dy.device().index), blocks_per_split));
  splits = std::min({splits, ceil_div(total_rows, min_rows), int64_t{65535}});
  // A split's element count must stay below 2^31 (the kernel's int loop index).
  int64_t rows_per_split = ceil_div(total_rows, splits);
  rows_per_split = std::clamp<int64_t>((int64_t{1} << 30) / g.ow, 1, rows_per_split);
  splits = ceil_div(total_rows, rows_per_split);
  check(splits <= 65535, "conv2d backward-weight (CUDA direct): dy ", dy.str(), " is too large for the grid");

  const cudaStream_t stream = wb::cuda::current_stream(dy.device().index);
  Tensor partial = splits > 1 ? Tensor::empty({splits, dw.numel()}, DType::F32, dw.device()) : dw;
  const dim3 grid(static_cast<unsigned>(planes), static_cast<unsigned>(splits), ks ? 1u : static_cast<unsigned>(g.kh * g.kw));
  const int rps = static_cast<int>(rows_per_split);
  switch (ks) {
    case 3: direct_backward_weight_kernel<3><<<grid, kThreads, 0, stream>>>(dy.data<float>(), x.data<float>(), partial.data<float>(), g, rps); break;
    case 5: direct_backward_weight_kernel<5><<<grid, kThreads, 0, stream>>>(dy.data<float>(), x.data<float>(), partial.data<float>(), g, rps); break;
    case 7: direct_backward_weight_kernel<7><<<grid, kThreads, 0, stream>>>(dy.data<float>(), x.data<float>(), partial.data<float>(), g, rps); break;
    default: direct_backward_weight_kernel<0><<<grid, kThreads, 0, stream>>>(dy.data<float>(), x.data<float>(), partial.data<float>(), g, rps); break;
  }
  wb::cuda::check_launch("direct_backward_weight_kernel");
  finish_splits(partial, static_cast<int>(splits), dw, stream);
}

void bias_backward(const Tensor& dy, Tensor& db) {
  if (db.numel() == 0) return;
  check(dy.dim() >= 2 && dy.size(1) == db.numel(), "conv bias backward (CUDA): dy ", dy.str(), " vs bias gradient ", db.str());
  if (dy.numel() == 0) {
    db.zero_();
    return;
  }
  const int64_t n = dy.size(0);
  const int c = to_int(dy.size(1), "channels", dy);
  const int64_t hw = dy.numel() / (n * c);
  // Chunks of at most 16K elements (a multiple of 4, for float4), spread over enough splits to
  // give every SM a few blocks.
  const int64_t seg = std::min<int64_t>((hw + 3) / 4 * 4, 16384);
  const int64_t chunks = n * ceil_div(hw, seg);
  int64_t splits = std::min<int64_t>({chunks, std::max<int64_t>(1, ceil_div(4 * sm_count(dy.device().index), c)), 65535});
  const int64_t per_split = ceil_div(chunks, splits);
  splits = ceil_div(chunks, per_split);

  const cudaStream_t stream = wb::cuda::current_stream(dy.device().index);
  Tensor partial = splits > 1 ? Tensor::empty({splits, c}, DType::F32, db.device()) : db;
  bias_backward_kernel<<<dim3(static_cast<unsigned>(c), static_cast<unsigned>(splits)), kThreads, 0, stream>>>(
      dy.data<float>(), partial.data<float>(), n, c, hw, seg, per_split, hw % 4 == 0 && aligned16(dy.data<float>()));
  wb::cuda::check_launch("bias_backward_kernel");
  finish_splits(partial, static_cast<int>(splits), db, stream);
}

}  // namespace wb::kernels::cuda::detail
