#include "kernels/cpu/conv3x3_direct.h"

#include <omp.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "tensor/error.h"

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

namespace wb::kernels::cpu {

#if defined(__AVX512F__)

namespace {

constexpr int64_t kLanes = 16;

struct Plan {
  int64_t n, c, h, w, o;
  int64_t wp() const { return w + 2; }
  int64_t plane() const { return (h + 2) * wp(); }
  // Output positions on the padded-width grid: row oh, column ow is oh * wp + ow (ow < w valid).
  int64_t positions() const { return h * wp(); }
};

// xp [n, c, h + 2, w + 2], zero border, then `tail` zeros: the last tile reads past its plane.
void pad_input(const float* x, const Plan& g, int64_t tail, float* xp) {
  const int64_t plane = g.plane(), wp = g.wp();
#pragma omp parallel for schedule(static)
  for (int64_t nc = 0; nc < g.n * g.c; ++nc) {
    float* dst = xp + nc * plane;
    const float* src = x + nc * g.h * g.w;
    std::fill(dst, dst + wp + 1, 0.f);
    for (int64_t r = 0; r < g.h; ++r) {
      float* row = dst + (r + 1) * wp + 1;
      std::memcpy(row, src + r * g.w, static_cast<size_t>(g.w) * sizeof(float));
      row[g.w] = row[g.w + 1] = 0.f;  // this row's right pad and the next row's left pad
    }
    std::fill(dst + (g.h + 1) * wp, dst + plane, 0.f);
  }
  std::fill(xp + g.n * g.c * plane, xp + g.n * g.c * plane + tail, 0.f);
}

// [ceil(o / R)][c * 9][R]: one tap's weights for R output channels side by side (zero past o),
// so the micro-kernel broadcasts consecutive floats.
template <int R>
std::vector<float> pack_weights(const float* w, const Plan& g) {
  const int64_t blocks = (g.o + R - 1) / R, k = g.c * 9;
  std::vector<float> p(static_cast<size_t>(blocks * k * R), 0.f);
  for (int64_t oc = 0; oc < g.o; ++oc) {
    for (int64_t t = 0; t < k; ++t) p[static_cast<size_t>(((oc / R) * k + t) * R + oc % R)] = w[oc * k + t];
  }
  return p;
}

// out [R][16 V] = R output channels at padded positions [p0, p0 + 16 V) of one sample (xs: its
// padded input, wb: the channel block's packed weights).
template <int R, int V>
void micro_kernel(const float* xs, const float* wb, const Plan& g, int64_t p0, float* out) {
  __m512 acc[R][V];
#pragma GCC unroll 16
  for (int r = 0; r < R; ++r) {
#pragma GCC unroll 8
    for (int v = 0; v < V; ++v) acc[r][v] = _mm512_setzero_ps();
  }
  const int64_t wp = g.wp(), plane = g.plane();
  const int64_t offs[9] = {0, 1, 2, wp, wp + 1, wp + 2, 2 * wp, 2 * wp + 1, 2 * wp + 2};
  for (int64_t ci = 0; ci < g.c; ++ci) {
    const float* xc = xs + ci * plane + p0;
    const float* wc = wb + ci * 9 * R;
    for (int t = 0; t < 9; ++t) {
      __m512 xv[V];
#pragma GCC unroll 8
      for (int v = 0; v < V; ++v) xv[v] = _mm512_loadu_ps(xc + offs[t] + v * kLanes);
#pragma GCC unroll 16
      for (int r = 0; r < R; ++r) {
        const __m512 wv = _mm512_set1_ps(wc[t * R + r]);
#pragma GCC unroll 8
        for (int v = 0; v < V; ++v) acc[r][v] = _mm512_fmadd_ps(wv, xv[v], acc[r][v]);
      }
    }
  }
#pragma GCC unroll 16
  for (int r = 0; r < R; ++r) {
#pragma GCC unroll 8
    for (int v = 0; v < V; ++v) _mm512_storeu_ps(out + (r * V + v) * kLanes, acc[r][v]);
  }
}

// Copies the valid positions of a tile (out [rows][len] from padded position p0) into y, sample
// base ys, output channels from oc0, adding the bias and applying the ReLU.
void store_tile(const float* out, int64_t rows, int64_t len, int64_t p0, const Plan& g, int64_t oc0,
                const float* bias, bool relu, float* ys) {
  const int64_t wp = g.wp(), p1 = p0 + len;
  for (int64_t r = 0; r < rows; ++r) {
    const float b = bias ? bias[oc0 + r] : 0.f;
    const float* src = out + r * len;
    float* yc = ys + (oc0 + r) * g.h * g.w;
    for (int64_t oh = p0 / wp; oh < g.h && oh * wp < p1; ++oh) {
      const int64_t lo = std::max(p0, oh * wp), hi = std::min(p1, oh * wp + g.w);
      const float* s = src + (lo - p0);
      float* d = yc + oh * g.w + (lo - oh * wp);
      if (relu) {
        for (int64_t i = 0; i < hi - lo; ++i) d[i] = std::max(s[i] + b, 0.f);
      } else {
        for (int64_t i = 0; i < hi - lo; ++i) d[i] = s[i] + b;
      }
    }
  }
}

template <int R, int V>
void run(const float* x, const float* w, const float* bias, bool relu, const Plan& g, float* y) {
  constexpr int64_t len = V * kLanes;
  const int64_t tiles = (g.positions() + len - 1) / len, blocks = (g.o + R - 1) / R;
  const int64_t tail = tiles * len - g.positions() + 2 + kLanes;
  std::vector<float> xp(static_cast<size_t>(g.n * g.c * g.plane() + tail));
  pad_input(x, g, tail, xp.data());
  const std::vector<float> wpk = pack_weights<R>(w, g);
  // Work items: (sample, tile, chunk of channel blocks). Chunks exist only to give every thread
  // work when the batch and image are small; within an item the input tile stays in cache while
  // the channel blocks of its chunk run over it.
  const int64_t threads = omp_get_max_threads();
  const int64_t chunks = std::clamp<int64_t>((4 * threads + g.n * tiles - 1) / (g.n * tiles), 1, blocks);
  const int64_t per_chunk = (blocks + chunks - 1) / chunks, items = g.n * tiles * chunks;
#pragma omp parallel
  {
    alignas(64) float out[R * len];
#pragma omp for schedule(static)
    for (int64_t item = 0; item < items; ++item) {
      const int64_t s = item / (tiles * chunks), tl = item / chunks % tiles, ch = item % chunks;
      const float* xs = xp.data() + s * g.c * g.plane();
      float* ys = y + s * g.o * g.h * g.w;
      for (int64_t ob = ch * per_chunk; ob < std::min(blocks, (ch + 1) * per_chunk); ++ob) {
        micro_kernel<R, V>(xs, wpk.data() + ob * g.c * 9 * R, g, tl * len, out);
        store_tile(out, std::min<int64_t>(R, g.o - ob * R), len, tl * len, g, ob * R, bias, relu, ys);
      }
    }
  }
}

// The register blocking (R channels x V vectors, 24 accumulators each) that wastes the least work
// on channel and position padding for this shape.
using Runner = void (*)(const float*, const float*, const float*, bool, const Plan&, float*);
Runner pick(const Plan& g) {
  struct Choice {
    int64_t r, v;
    Runner fn;
  };
  const Choice choices[] = {{8, 3, run<8, 3>}, {6, 4, run<6, 4>}, {12, 2, run<12, 2>}};
  Runner best = nullptr;
  int64_t best_cost = 0;
  for (const Choice& c : choices) {
    const int64_t len = c.v * kLanes;
    const int64_t cost = (g.o + c.r - 1) / c.r * c.r * ((g.positions() + len - 1) / len * len);
    if (!best || cost < best_cost) best = c.fn, best_cost = cost;
  }
  return best;
}

}  // namespace

bool conv3x3_direct_available() { return true; }

void conv3x3_direct(const float* x, const float* w, const float* bias, bool relu, int64_t n, int64_t c, int64_t h,
                    int64_t wd, int64_t o, float* y) {
  const Plan g{n, c, h, wd, o};
  pick(g)(x, w, bias, relu, g, y);
}

#else

bool conv3x3_direct_available() { return false; }

void conv3x3_direct(const float*, const float*, const float*, bool, int64_t, int64_t, int64_t, int64_t, int64_t,
                    float*) {
  fail("conv3x3_direct: this build has no AVX-512 (configure with WBPOSE_NATIVE=ON on an AVX-512 machine)");
}

#endif

}  // namespace wb::kernels::cpu
