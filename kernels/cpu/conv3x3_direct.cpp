#include "kernels/cpu/conv3x3_direct.h"

#include <omp.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <memory>
#include <vector>

#include "tensor/error.h"

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

namespace wb::kernels::cpu {

#if defined(__AVX512F__)

namespace {

constexpr int64_t kLanes = 16;

// Where everything lies. Output position p = oh * wo + ow. Each input channel becomes `planes`
// planes of `plane` floats; tap t = 3 i + j of position p reads its channel's planes at p + offs[t].
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
    // One plane: a zero float, a zero row, the image, a zero row, a zero float. Pixel (r, q) is at
    // 1 + (r + 1) w + q, so tap (i, j) of p = oh w + ow (pixel (oh + i - 1, ow + j - 1)) is p + i w + j.
    g.ho = h, g.wo = w, g.plane = (h + 2) * w + 2, g.planes = 1;
    for (int64_t t = 0; t < 9; ++t) g.offs[t] = t / 3 * w + t % 3;
  } else {
    // Four planes (a, b) = (row parity, column parity), each a zero float, a zero row and ho rows
    // of wo: phase pixel (r, q) = input (2 r + a, 2 q + b), at 1 + (r + 1) wo + q. Tap (i, j) reads
    // input row 2 oh + i - 1: i = 1 is the even phase row oh, i = 2 the odd row oh, i = 0 the odd
    // row oh - 1; columns likewise.
    g.ho = (h + 1) / 2, g.wo = (w + 1) / 2, g.plane = (g.ho + 1) * g.wo + 1, g.planes = 4;
    for (int64_t i = 0; i < 3; ++i) {
      for (int64_t j = 0; j < 3; ++j) {
        const int64_t a = i != 1, b = j != 1;
        g.offs[i * 3 + j] = (a * 2 + b) * g.plane + (i != 0) * g.wo + (j != 0);
      }
    }
  }
  return g;
}

// One input row of width w into its even and odd columns (wo = (w + 1) / 2 each; the odd row's
// last entry is zero when w is odd).
void split_row(const float* in, int64_t w, int64_t wo, float* even, float* odd) {
  const __m512i pick_even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  const __m512i pick_odd = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
  int64_t q = 0;
  for (; 2 * q + 2 * kLanes <= w; q += kLanes) {
    const __m512 a = _mm512_loadu_ps(in + 2 * q), b = _mm512_loadu_ps(in + 2 * q + kLanes);
    _mm512_storeu_ps(even + q, _mm512_permutex2var_ps(a, pick_even, b));
    _mm512_storeu_ps(odd + q, _mm512_permutex2var_ps(a, pick_odd, b));
  }
  for (; q < wo; ++q) {
    even[q] = in[2 * q];
    odd[q] = 2 * q + 1 < w ? in[2 * q + 1] : 0.f;
  }
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
      std::fill(dst, dst + 1 + g.w, 0.f);
      std::memcpy(dst + 1 + g.w, src, static_cast<size_t>(hw) * sizeof(float));
      std::fill(dst + 1 + g.w + hw, dst + g.plane, 0.f);
      continue;
    }
    // Phase plane (a, b) at dst + (2 a + b) plane; its row r at 1 + (r + 1) wo.
    for (int64_t k = 0; k < 4; ++k) std::fill(dst + k * g.plane, dst + k * g.plane + 1 + g.wo, 0.f);
    for (int64_t ih = 0; ih < g.h; ++ih) {
      const int64_t a = ih % 2, row = 1 + (ih / 2 + 1) * g.wo;
      split_row(src + ih * g.w, g.w, g.wo, dst + 2 * a * g.plane + row, dst + (2 * a + 1) * g.plane + row);
    }
    if (g.h % 2 == 1) {  // the odd phases' last row lies in the bottom padding
      const int64_t row = 1 + g.ho * g.wo;
      std::fill(dst + 2 * g.plane + row, dst + 2 * g.plane + row + g.wo, 0.f);
      std::fill(dst + 3 * g.plane + row, dst + 3 * g.plane + row + g.wo, 0.f);
    }
  }
  std::fill(xp + g.n * g.c * cs, xp + g.n * g.c * cs + tail, 0.f);
}

// [ceil(o / R)][c * 9][R]: one tap's weights for R output channels side by side (zero past o),
// so the micro-kernel broadcasts consecutive floats.
template <int R>
std::unique_ptr<float[]> pack_weights(const float* w, const Plan& g) {
  const int64_t blocks = (g.o + R - 1) / R, k = g.c * 9;
  std::unique_ptr<float[]> p(new float[static_cast<size_t>(blocks * k * R)]);
#pragma omp parallel for schedule(static)
  for (int64_t ob = 0; ob < blocks; ++ob) {
    float* dst = p.get() + ob * k * R;
    const int64_t rows = std::min<int64_t>(R, g.o - ob * R);
    const float* src = w + ob * R * k;
    if (rows < R) std::fill(dst, dst + k * R, 0.f);
    // Written in order, read from R rows at once (each a sequential stream).
    for (int64_t t = 0; t < k; ++t) {
      for (int64_t r = 0; r < rows; ++r) dst[t * R + r] = src[r * k + t];
    }
  }
  return p;
}

// Per vector of a tile: which lanes are real positions (store), and which may read the left (j = 0)
// and right (j = 2) neighbour column, i.e. do not sit in the first or last output column.
template <int V>
struct TileMasks {
  __mmask16 left[V], right[V], store[V];
};

template <int V>
TileMasks<V> tile_masks(const Plan& g, int64_t p0) {
  TileMasks<V> m{};
  for (int v = 0; v < V; ++v) {
    for (int l = 0; l < kLanes; ++l) {
      const int64_t p = p0 + v * kLanes + l;
      const auto bit = static_cast<__mmask16>(1u << l);
      if (p % g.wo != 0) m.left[v] |= bit;
      if (p % g.wo != g.wo - 1) m.right[v] |= bit;
      if (p < g.positions()) m.store[v] |= bit;
    }
  }
  return m;
}

// One tap of one input channel: acc[r][v] += wt[r] * input[src + 16 v], the lanes that would read
// a padding column masked to zero (for stride 2 only the left one exists: column 2 ow + 1 of an
// input of width w >= 2 ow + 1 is either real or the zero pad of the phase plane).
template <int S, int J, int R, int V>
__attribute__((always_inline)) inline void tap(const float* src, const float* const (&wr)[R], int64_t wo,
                                               const TileMasks<V>& m, __m512 (&acc)[R][V]) {
  __m512 xv[V];
#pragma GCC unroll 8
  for (int v = 0; v < V; ++v) {
    if constexpr (J == 0) {
      xv[v] = _mm512_maskz_loadu_ps(m.left[v], src + v * kLanes);
    } else if constexpr (S == 1 && J == 2) {
      xv[v] = _mm512_maskz_loadu_ps(m.right[v], src + v * kLanes);
    } else {
      xv[v] = _mm512_loadu_ps(src + v * kLanes);
    }
  }
#pragma GCC unroll 16
  for (int r = 0; r < R; ++r) {
    const __m512 wv = _mm512_set1_ps(wr[r][wo]);
#pragma GCC unroll 8
    for (int v = 0; v < V; ++v) acc[r][v] = _mm512_fmadd_ps(wv, xv[v], acc[r][v]);
  }
}

// Output channels [oc0, oc0 + rows) (rows <= R) at positions [p0, p0 + 16 V) of one sample: xs its
// prepared input, wb the channel block's weights (packed, or rows of w), ys the output. `prefetch`: fetch the next
// channel's input ahead. Measured worth it only for the first channel block over a tile group (its
// input comes from memory, later blocks find it in L2) of a stride-2 conv: there a channel's input
// is four short runs, one per phase plane, too short for the hardware prefetchers to pick up
// (stride 1 reads one long run per channel: a prefetch there measured 0-4% slower).
template <int S, int R, int V, bool Packed>
void tile(const float* xs, const float* wb, const Plan& g, int64_t p0, const TileMasks<V>& m, int64_t oc0,
          int64_t rows, const DirectEpilogue& e, int64_t sample, bool prefetch, float* ys) {
  __m512 acc[R][V];
#pragma GCC unroll 16
  for (int r = 0; r < R; ++r) {
#pragma GCC unroll 8
    for (int v = 0; v < V; ++v) acc[r][v] = _mm512_setzero_ps();
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
        for (int64_t b = 0; b < g.run_bytes(V * kLanes); b += 64) _mm_prefetch(run + b, _MM_HINT_T0);
      }
    }
    for (int i = 0; i < 3; ++i) {
      tap<S, 0>(xc + offs[3 * i], wr, wc + (3 * i) * ts, m, acc);
      tap<S, 1>(xc + offs[3 * i + 1], wr, wc + (3 * i + 1) * ts, m, acc);
      tap<S, 2>(xc + offs[3 * i + 2], wr, wc + (3 * i + 2) * ts, m, acc);
    }
  }
  const int64_t positions = g.positions();
#pragma GCC unroll 16
  for (int r = 0; r < R; ++r) {
    if (r >= rows) break;
    const int64_t oc = oc0 + r, at = (sample * g.o + oc) * positions + p0;
    const __m512 scale = _mm512_set1_ps(e.scale ? e.scale[oc] : 1.f);
    const __m512 bias = _mm512_set1_ps(e.bias ? e.bias[oc] : 0.f);
#pragma GCC unroll 8
    for (int v = 0; v < V; ++v) {
      __m512 val = _mm512_fmadd_ps(acc[r][v], scale, bias);
      if (e.residual) val = _mm512_add_ps(val, _mm512_maskz_loadu_ps(m.store[v], e.residual + at + v * kLanes));
      if (e.relu) val = _mm512_max_ps(val, _mm512_setzero_ps());
      _mm512_mask_storeu_ps(ys + at + v * kLanes, m.store[v], val);
    }
  }
}

template <int S, int R, int V, bool Packed>
void run_blocks(const float* xp, const float* w, const DirectEpilogue& e, const Plan& g, float* y) {
  constexpr int64_t len = V * kLanes;
  const int64_t positions = g.positions(), tiles = (positions + len - 1) / len, blocks = (g.o + R - 1) / R;
  std::unique_ptr<float[]> packed;
  if (Packed) packed = pack_weights<R>(w, g);
  std::vector<TileMasks<V>> masks(static_cast<size_t>(tiles));
  for (int64_t tl = 0; tl < tiles; ++tl) masks[static_cast<size_t>(tl)] = tile_masks<V>(g, tl * len);
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
      const float* wb = Packed ? packed.get() + ob * g.c * 9 * R : w + ob * R * g.c * 9;
      for (int64_t pr = gi * group; pr < std::min(pairs, (gi + 1) * group); ++pr) {
        const int64_t s = pr / tiles, tl = pr % tiles;
        tile<S, R, V, Packed>(xp + s * g.c * g.cstride(), wb, g, tl * len, masks[static_cast<size_t>(tl)], ob * R,
                              std::min<int64_t>(R, g.o - ob * R), e, s, S == 2 && ob == ch * per_chunk, y);
      }
    }
  }
}

// Packing the weights costs a pass over them on every call; it pays where many tiles reuse them.
// Measured (one thread, HRNet-W32 shapes): packed is 5% faster from 32 (sample, tile) pairs on,
// unpacked up to 30% faster below (the 8x6 and 16x12 branches at batch 1), equal at 8 to 16.
template <int S, int R, int V>
void run(const float* x, const float* w, const DirectEpilogue& e, const Plan& g, float* y) {
  constexpr int64_t len = V * kLanes;
  const int64_t positions = g.positions(), tiles = (positions + len - 1) / len;
  const int64_t tail = tiles * len - positions;
  std::unique_ptr<float[]> xp(new float[static_cast<size_t>(g.n * g.c * g.cstride() + tail)]);
  prepare_input(x, g, tail, xp.get());
  if (g.n * tiles >= 32) {
    run_blocks<S, R, V, true>(xp.get(), w, e, g, y);
  } else {
    run_blocks<S, R, V, false>(xp.get(), w, e, g, y);
  }
}

// The register blocking (R channels x V vectors, 24 accumulators each) that wastes the least work
// on channel and position padding for this shape.
using Runner = void (*)(const float*, const float*, const DirectEpilogue&, const Plan&, float*);
template <int S>
Runner pick(const Plan& g) {
  struct Choice {
    int64_t r, v;
    Runner fn;
  };
  const Choice choices[] = {{8, 3, run<S, 8, 3>}, {6, 4, run<S, 6, 4>}, {12, 2, run<S, 12, 2>}};
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

void conv3x3_direct(const float* x, const float* w, const DirectEpilogue& e, int64_t n, int64_t c, int64_t h,
                    int64_t wd, int64_t o, int64_t stride, float* y) {
  check(stride == 1 || stride == 2, "conv3x3_direct: stride ", stride, " is not 1 or 2");
  const Plan g = make_plan(n, c, h, wd, o, stride);
  (stride == 1 ? pick<1>(g) : pick<2>(g))(x, w, e, g, y);
}

#else

bool conv3x3_direct_available() { return false; }

void conv3x3_direct(const float*, const float*, const DirectEpilogue&, int64_t, int64_t, int64_t, int64_t, int64_t,
                    int64_t, float*) {
  fail("conv3x3_direct: this build has no AVX-512 (configure with WBPOSE_NATIVE=ON on an AVX-512 machine)");
}

#endif

}  // namespace wb::kernels::cpu
