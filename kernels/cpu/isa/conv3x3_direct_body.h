// The direct 3x3 convolution of kernels/cpu/conv3x3_direct.h, written once over the vector of
// kernels/cpu/isa/simd.h and compiled per instruction set by conv3x3_direct_{avx512,avx2,generic}.cpp.
// Where the sets differ is only in Simd (the lane count, masked loads) and in the register
// blockings offered (kBlockings: the accumulators must fit the register file).
#pragma once
#include <omp.h>

#include <algorithm>
#include <array>
#include <iterator>
#include <cstring>
#include <utility>

#include "kernels/cpu/conv3x3_direct.h"
#include "kernels/cpu/isa/simd.h"

namespace wb::kernels::cpu::WB_ISA_NS {

namespace {

constexpr int64_t kLanes = Simd::L;
using V = Simd::V;

// Freed on scope exit. The kernels hold no std containers: their out-of-line template code would
// be compiled with this file's instruction set and might be chosen by the linker for baseline code.
struct Buffer {
  explicit Buffer(int64_t n) : p(new float[static_cast<size_t>(std::max<int64_t>(n, 1))]) {}
  ~Buffer() { delete[] p; }
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;
  float* p;
};

// Where everything lies. Output position p = oh * wo + ow. Each input channel becomes `planes`
// planes of `plane` floats; tap t = 3 i + j of position p reads its channel's planes at p + offs[t].
// A run of positions crosses output rows, so a lane in the first (last) output column would read,
// for its left (right) tap, the edge pixel of the neighbouring row instead of the zero padding.
// Rather than mask those lanes in the inner loop (a mask register per vector, which AVX2's 16
// registers cannot spare beside 12 accumulators), the taps that can go wrong read a copy of the
// plane in which exactly the pixels they would misread are zero: such a tap never needs those
// pixels at any position.
struct Plan {
  int64_t n, c, h, w, o, stride;
  int64_t ho, wo, plane, planes;
  std::array<int64_t, 9> offs;
  int64_t cstride() const { return plane * planes; }
  // Bytes of one plane that a tile of len positions reads: from its first position to its last
  // plus the largest in-plane tap offset.
  int64_t run_bytes(int64_t len) const { return 4 * (len + (stride == 1 ? 2 * w + 2 : wo + 1)); }
  int64_t positions() const { return ho * wo; }
};

Plan make_plan(int64_t n, int64_t c, int64_t h, int64_t w, int64_t o, int64_t stride) {
  Plan g{n, c, h, w, o, stride, 0, 0, 0, 0, {}};
  if (stride == 1) {
    // Three planes, each a zero float, a zero row, the image, a zero row, a zero float: plane j
    // serves the taps (i, j). Pixel (r, q) is at 1 + (r + 1) w + q, so tap (i, j) of p = oh w + ow
    // (pixel (oh + i - 1, ow + j - 1)) is p + i w + j of plane j. Plane 0 has its last column zeroed
    // (read in place of the left padding by ow = 0), plane 2 its first (right padding, ow = w - 1).
    g.ho = h, g.wo = w, g.plane = (h + 2) * w + 2, g.planes = 3;
    for (int64_t t = 0; t < 9; ++t) g.offs[t] = t % 3 * g.plane + t / 3 * w + t % 3;
  } else {
    // Four phase planes (a, b) = (row parity, column parity) at 2 a + b, each a zero float, a zero
    // row and ho rows of wo: phase pixel (r, q) = input (2 r + a, 2 q + b), at 1 + (r + 1) wo + q.
    // Tap (i, j) reads input row 2 oh + i - 1: i = 1 is the even phase row oh, i = 2 the odd row
    // oh, i = 0 the odd row oh - 1; columns likewise. Only j = 0 (odd column ow - 1) can misread,
    // at ow = 0: it reads planes 4 + a, copies of the odd-column planes with their last column zeroed.
    g.ho = (h + 1) / 2, g.wo = (w + 1) / 2, g.plane = (g.ho + 1) * g.wo + 1, g.planes = 6;
    for (int64_t i = 0; i < 3; ++i) {
      for (int64_t j = 0; j < 3; ++j) {
        const int64_t a = i != 1, b = j != 1, k = j == 0 ? 4 + a : 2 * a + b;
        g.offs[i * 3 + j] = k * g.plane + (i != 0) * g.wo + (j != 0);
      }
    }
  }
  return g;
}

// Zeroes column `col` of the rows rows x width starting at p (row pitch width).
void zero_column(float* p, int64_t rows, int64_t width, int64_t col) {
  for (int64_t r = 0; r < rows; ++r) p[r * width + col] = 0.f;
}

// xp [n, c, planes, plane] as the Plan describes, then `tail` zeros (the last tile reads past the
// last plane).
void prepare_input(const float* x, const Plan& g, int64_t tail, float* xp) {
  const int64_t hw = g.h * g.w, cs = g.cstride();
#pragma omp parallel for schedule(static)
  for (int64_t nc = 0; nc < g.n * g.c; ++nc) {
    float* dst = xp + nc * cs;
    const float* src = x + nc * hw;
    if (g.stride == 1) {
      for (int64_t k = 0; k < 3; ++k) {
        float* pl = dst + k * g.plane;
        std::fill(pl, pl + 1 + g.w, 0.f);
        std::memcpy(pl + 1 + g.w, src, static_cast<size_t>(hw) * sizeof(float));
        std::fill(pl + 1 + g.w + hw, pl + g.plane, 0.f);
      }
      zero_column(dst + 1 + g.w, g.h, g.w, g.w - 1);
      zero_column(dst + 2 * g.plane + 1 + g.w, g.h, g.w, 0);
      continue;
    }
    // Phase plane (a, b) at dst + (2 a + b) plane; its row r at 1 + (r + 1) wo: the even and odd
    // columns of input row ih (the odd row's last entry is zero when w is odd).
    for (int64_t k = 0; k < 4; ++k) std::fill(dst + k * g.plane, dst + k * g.plane + 1 + g.wo, 0.f);
    for (int64_t ih = 0; ih < g.h; ++ih) {
      const int64_t a = ih % 2, row = 1 + (ih / 2 + 1) * g.wo;
      const float* in = src + ih * g.w;
      float* even = dst + 2 * a * g.plane + row;
      float* odd = dst + (2 * a + 1) * g.plane + row;
      for (int64_t q = 0; q < g.wo; ++q) {
        even[q] = in[2 * q];
        odd[q] = 2 * q + 1 < g.w ? in[2 * q + 1] : 0.f;
      }
    }
    if (g.h % 2 == 1) {  // the odd phases' last row lies in the bottom padding
      const int64_t row = 1 + g.ho * g.wo;
      std::fill(dst + 2 * g.plane + row, dst + 2 * g.plane + row + g.wo, 0.f);
      std::fill(dst + 3 * g.plane + row, dst + 3 * g.plane + row + g.wo, 0.f);
    }
    for (int64_t a = 0; a < 2; ++a) {
      float* copy = dst + (4 + a) * g.plane;
      std::memcpy(copy, dst + (2 * a + 1) * g.plane, static_cast<size_t>(g.plane) * sizeof(float));
      zero_column(copy + 1 + g.wo, g.ho, g.wo, g.wo - 1);
    }
  }
  std::fill(xp + g.n * g.c * cs, xp + g.n * g.c * cs + tail, 0.f);
}

// [ceil(o / R)][c * 9][R]: one tap's weights for R output channels side by side (zero past o),
// so the micro-kernel broadcasts consecutive floats.
template <int R>
void pack_weights(const float* w, const Plan& g, float* p) {
  const int64_t blocks = (g.o + R - 1) / R, k = g.c * 9;
#pragma omp parallel for schedule(static)
  for (int64_t ob = 0; ob < blocks; ++ob) {
    float* dst = p + ob * k * R;
    const int64_t rows = std::min<int64_t>(R, g.o - ob * R);
    const float* src = w + ob * R * k;
    if (rows < R) std::fill(dst, dst + k * R, 0.f);
    // Written in order, read from R rows at once (each a sequential stream).
    for (int64_t t = 0; t < k; ++t) {
      for (int64_t r = 0; r < rows; ++r) dst[t * R + r] = src[r * k + t];
    }
  }
}

// How many lanes of each vector of a tile are real positions (stored).
template <int V>
struct TileCounts {
  int store[V];
};

template <int V>
TileCounts<V> tile_counts(const Plan& g, int64_t p0) {
  TileCounts<V> m{};
  for (int v = 0; v < V; ++v) {
    m.store[v] = static_cast<int>(std::clamp<int64_t>(g.positions() - (p0 + v * kLanes), 0, kLanes));
  }
  return m;
}

// One tap of one input channel: acc[r][v] += wt[r] * input[src + L v].
template <int R, int NV>
__attribute__((always_inline)) inline void tap(const float* src, const float* const (&wr)[R], int64_t wo,
                                               V (&acc)[R][NV]) {
  V xv[NV];
#pragma GCC unroll 8
  for (int v = 0; v < NV; ++v) xv[v] = Simd::load(src + v * kLanes);
#pragma GCC unroll 16
  for (int r = 0; r < R; ++r) {
    const V wv = Simd::set1(wr[r][wo]);
#pragma GCC unroll 8
    for (int v = 0; v < NV; ++v) acc[r][v] += wv * xv[v];
  }
}

// Output channels [oc0, oc0 + rows) (rows <= R) at positions [p0, p0 + L NV) of one sample: xs its
// prepared input, wb the channel block's weights (packed, or rows of w), ys the output. `prefetch`:
// fetch the next channel's input ahead. Measured worth it (AVX-512) only for the first channel
// block over a tile group (its input comes from memory, later blocks find it in L2) of a stride-2
// conv: there a channel's input is four short runs, one per phase plane, too short for the
// hardware prefetchers to pick up (stride 1 reads one long run per channel: a prefetch there
// measured 0-4% slower).
template <int S, int R, int NV, bool Packed>
void tile(const float* xs, const float* wb, const Plan& g, int64_t p0, const TileCounts<NV>& m, int64_t oc0,
          int64_t rows, const DirectEpilogue& e, int64_t sample, bool prefetch, float* ys) {
  V acc[R][NV];
#pragma GCC unroll 16
  for (int r = 0; r < R; ++r) {
#pragma GCC unroll 8
    for (int v = 0; v < NV; ++v) acc[r][v] = Simd::zero();
  }
  const int64_t cs = g.cstride();
  const std::array<int64_t, 9> offs = g.offs;
  // Tap t of input channel ci for output channel r of the block: packed, wb[(9 ci + t) R + r];
  // else wb[r * 9 c + 9 ci + t] (rows past the block's end repeat its last row, never stored).
  constexpr int64_t ts = Packed ? R : 1;
  const float* wr[R];
#pragma GCC unroll 16
  for (int r = 0; r < R; ++r) wr[r] = Packed ? wb + r : wb + std::min<int64_t>(r, rows - 1) * g.c * 9;
  for (int64_t ci = 0; ci < g.c; ++ci) {
    const float* xc = xs + ci * cs + p0;
    const int64_t wc = ci * 9 * ts;
    if (prefetch) {
      for (int64_t k = 0; k < g.planes; ++k) {
        const char* run = reinterpret_cast<const char*>(xc + cs + k * g.plane);
        for (int64_t b = 0; b < g.run_bytes(NV * kLanes); b += 64) __builtin_prefetch(run + b, 0, 3);
      }
    }
#pragma GCC unroll 9
    for (int t = 0; t < 9; ++t) tap(xc + offs[t], wr, wc + t * ts, acc);
  }
  const int64_t positions = g.positions();
#pragma GCC unroll 16
  for (int r = 0; r < R; ++r) {
    if (r >= rows) break;
    const int64_t oc = oc0 + r, at = (sample * g.o + oc) * positions + p0;
    const V scale = Simd::set1(e.scale ? e.scale[oc] : 1.f);
    const V bias = Simd::set1(e.bias ? e.bias[oc] : 0.f);
#pragma GCC unroll 8
    for (int v = 0; v < NV; ++v) {
      V val = acc[r][v] * scale + bias;
      if (e.residual) val += Simd::load_first(e.residual + at + v * kLanes, m.store[v]);
      if (e.relu) val = Simd::max(val, Simd::zero());
      Simd::store_first(ys + at + v * kLanes, val, m.store[v]);
    }
  }
}

template <int S, int R, int NV, bool Packed>
void run_blocks(const float* xp, const float* w, const DirectEpilogue& e, const Plan& g, float* y) {
  constexpr int64_t len = NV * kLanes;
  const int64_t positions = g.positions(), tiles = (positions + len - 1) / len, blocks = (g.o + R - 1) / R;
  Buffer packed(Packed ? blocks * g.c * 9 * R : 0);
  if (Packed) pack_weights<R>(w, g, packed.p);
  TileCounts<NV>* counts = new TileCounts<NV>[static_cast<size_t>(tiles)];
  for (int64_t tl = 0; tl < tiles; ++tl) counts[tl] = tile_counts<NV>(g, tl * len);
  // Cache blocking over (sample, tile) pairs x channel blocks: a group of consecutive pairs whose
  // input (about kGroupBytes) stays in L2 while every channel block runs over it, so the weights
  // stream from memory once per group rather than once per tile; a block's weights are reused by
  // all the group's tiles. Work items are (group, chunk of channel blocks); chunks exist only to
  // give every thread work when there are few groups.
  constexpr int64_t kGroupBytes = int64_t{512} << 10;
  const int64_t pairs = g.n * tiles;
  const int64_t group = std::clamp<int64_t>(kGroupBytes / (g.c * g.planes * g.run_bytes(len)), 1, pairs);
  const int64_t groups = (pairs + group - 1) / group, threads = omp_get_max_threads();
  const int64_t chunks = std::clamp<int64_t>((4 * threads + groups - 1) / groups, 1, blocks);
  const int64_t per_chunk = (blocks + chunks - 1) / chunks, items = groups * chunks;
#pragma omp parallel for schedule(static)
  for (int64_t item = 0; item < items; ++item) {
    const int64_t gi = item / chunks, ch = item % chunks;
    for (int64_t ob = ch * per_chunk; ob < std::min(blocks, (ch + 1) * per_chunk); ++ob) {
      const float* wb = Packed ? packed.p + ob * g.c * 9 * R : w + ob * R * g.c * 9;
      for (int64_t pr = gi * group; pr < std::min(pairs, (gi + 1) * group); ++pr) {
        const int64_t s = pr / tiles, tl = pr % tiles;
        tile<S, R, NV, Packed>(xp + s * g.c * g.cstride(), wb, g, tl * len, counts[tl], ob * R,
                               std::min<int64_t>(R, g.o - ob * R), e, s, S == 2 && ob == ch * per_chunk, y);
      }
    }
  }
  delete[] counts;
}

// Packing the weights costs a pass over them on every call; it pays where many tiles reuse them.
// Measured (AVX-512, one thread, HRNet-W32 shapes): packed is 5% faster from 32 (sample, tile)
// pairs on, unpacked up to 30% faster below (the 8x6 and 16x12 branches at batch 1), equal at 8 to 16.
template <int S, int R, int NV>
void run(const float* x, const float* w, const DirectEpilogue& e, const Plan& g, float* y) {
  constexpr int64_t len = NV * kLanes;
  const int64_t positions = g.positions(), tiles = (positions + len - 1) / len;
  const int64_t tail = tiles * len - positions;
  Buffer xp(g.n * g.c * g.cstride() + tail);
  prepare_input(x, g, tail, xp.p);
  if (g.n * tiles >= 32) {
    run_blocks<S, R, NV, true>(xp.p, w, e, g, y);
  } else {
    run_blocks<S, R, NV, false>(xp.p, w, e, g, y);
  }
}

// The register blockings (R channels x NV vectors of positions) this instruction set offers, all
// with as many accumulators as its register file holds beside the NV inputs and a broadcast weight:
// AVX-512 has 32 vector registers (24 accumulators), AVX2 and SSE 16 (12).
using Runner = void (*)(const float*, const float*, const DirectEpilogue&, const Plan&, float*);
struct Blocking {
  int64_t r, nv;
};
#if WB_ISA_LEVEL == 2
constexpr Blocking kBlockings[] = {{8, 3}, {6, 4}, {12, 2}};
#else
constexpr Blocking kBlockings[] = {{4, 3}, {6, 2}, {12, 1}};
#endif

template <int S, size_t... I>
Runner pick_of(const Plan& g, std::index_sequence<I...>) {
  const Runner runners[] = {run<S, kBlockings[I].r, kBlockings[I].nv>...};
  // The blocking that wastes the least work on channel and position padding for this shape.
  Runner best = nullptr;
  int64_t best_cost = 0;
  for (size_t i = 0; i < sizeof...(I); ++i) {
    const int64_t r = kBlockings[i].r, len = kBlockings[i].nv * kLanes;
    const int64_t cost = (g.o + r - 1) / r * r * ((g.positions() + len - 1) / len * len);
    if (!best || cost < best_cost) best = runners[i], best_cost = cost;
  }
  return best;
}

template <int S>
Runner pick(const Plan& g) {
  return pick_of<S>(g, std::make_index_sequence<std::size(kBlockings)>());
}

}  // namespace

void conv3x3_direct(const float* x, const float* w, const DirectEpilogue& e, int64_t n, int64_t c, int64_t h,
                    int64_t wd, int64_t o, int64_t stride, float* y) {
  const Plan g = make_plan(n, c, h, wd, o, stride);
  (stride == 1 ? pick<1>(g) : pick<2>(g))(x, w, e, g, y);
}

}  // namespace wb::kernels::cpu::WB_ISA_NS
