#include "kernels/cpu/conv3x3_winograd.h"

#include <omp.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <memory>
#include <string>

#include "kernels/cpu/gemm.h"
#include "kernels/cpu/isa.h"
#include "tensor/error.h"

namespace wb::kernels::cpu {

namespace {

// -1: not read yet; else the Conv3x3Route in force.
std::atomic<int> g_route{-1};

Conv3x3Route route() {
  int v = g_route.load(std::memory_order_relaxed);
  if (v < 0) {
    const char* env = std::getenv("WBPOSE_CONV3X3");
    const std::string s = env ? env : "";
    if (s.empty() || s == "auto") {
      v = static_cast<int>(Conv3x3Route::automatic);
    } else if (s == "direct") {
      v = static_cast<int>(Conv3x3Route::direct);
    } else if (s == "winograd") {
      v = static_cast<int>(Conv3x3Route::winograd);
    } else {
      fail("WBPOSE_CONV3X3=", s, " is not a 3x3 conv route (use auto, direct or winograd)");
    }
    g_route.store(v, std::memory_order_relaxed);
  }
  return static_cast<Conv3x3Route>(v);
}

std::unique_ptr<float[]> buffer(int64_t n) {
  return std::unique_ptr<float[]>(new float[static_cast<size_t>(std::max<int64_t>(n, 1))]);
}

// Floats of transformed input and products a chunk of tiles may hold: 48K floats (192 KB), so that
// they stay in L2 between the input transform, the 16 GEMMs and the output transform. Measured on
// the AMD EPYC of conv3x3_prefers_winograd (512 KB L2): 48K was up to 2x faster than 192K or 768K
// at 32-64 channels, and 12K-24K no faster.
constexpr int64_t kChunkFloats = int64_t{48} << 10;

// Tiles: 2x2 output blocks, counted over (sample, block row, block column); block (ti, tj) of a
// sample covers outputs [2 ti, 2 ti + 2) x [2 tj, 2 tj + 2) and reads input rows 2 ti - 1 .. 2 ti + 2
// and the like columns (the padding is zero).
struct TileOrigin {
  int64_t sample, row, col;  // the tile's first output pixel
};
struct Tiles {
  int64_t n, c, h, w, o;
  int64_t th, tw;
  int64_t per_sample() const { return th * tw; }
  int64_t total() const { return n * th * tw; }
  TileOrigin origin(int64_t g) const {
    const int64_t r = g % per_sample();
    return {g / per_sample(), 2 * (r / tw), 2 * (r % tw)};
  }
};

// U [16][o][c] = G g G^T for each 3x3 kernel g, G = [1 0 0; 1/2 1/2 1/2; 1/2 -1/2 1/2; 0 0 1].
void transform_weights(const float* w, const Tiles& t, float* u) {
  const int64_t oc = t.o * t.c;
#pragma omp parallel for schedule(static)
  for (int64_t k = 0; k < oc; ++k) {
    const float* g = w + k * 9;
    float gg[4][3];  // G g
    for (int j = 0; j < 3; ++j) {
      gg[0][j] = g[j];
      gg[1][j] = 0.5f * (g[j] + g[3 + j] + g[6 + j]);
      gg[2][j] = 0.5f * (g[j] - g[3 + j] + g[6 + j]);
      gg[3][j] = g[6 + j];
    }
    for (int i = 0; i < 4; ++i) {  // (G g) G^T, row i
      const float a = gg[i][0], b = gg[i][1], d = gg[i][2];
      u[(i * 4 + 0) * oc + k] = a;
      u[(i * 4 + 1) * oc + k] = 0.5f * (a + b + d);
      u[(i * 4 + 2) * oc + k] = 0.5f * (a - b + d);
      u[(i * 4 + 3) * oc + k] = d;
    }
  }
}

// V [16][c][count] = B^T d B for each tile's 4x4 input patch d of each channel, tiles
// [first, first + count), B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1].
void transform_input(const float* x, const Tiles& t, int64_t first, int64_t count, float* v) {
  const int64_t plane = t.c * count;
#pragma omp parallel for schedule(static)
  for (int64_t ci = 0; ci < t.c; ++ci) {
    for (int64_t j = 0; j < count; ++j) {
      const TileOrigin at = t.origin(first + j);
      const int64_t r0 = at.row - 1, q0 = at.col - 1;  // the patch starts in the padding's row/column
      const float* xc = x + (at.sample * t.c + ci) * t.h * t.w;
      float d[4][4];
      if (r0 >= 0 && q0 >= 0 && r0 + 3 < t.h && q0 + 3 < t.w) {
        for (int a = 0; a < 4; ++a) {
          for (int b = 0; b < 4; ++b) d[a][b] = xc[(r0 + a) * t.w + q0 + b];
        }
      } else {
        for (int a = 0; a < 4; ++a) {
          for (int b = 0; b < 4; ++b) {
            const int64_t rr = r0 + a, qq = q0 + b;
            d[a][b] = rr >= 0 && rr < t.h && qq >= 0 && qq < t.w ? xc[rr * t.w + qq] : 0.f;
          }
        }
      }
      float e[4][4];  // B^T d
      for (int b = 0; b < 4; ++b) {
        e[0][b] = d[0][b] - d[2][b];
        e[1][b] = d[1][b] + d[2][b];
        e[2][b] = d[2][b] - d[1][b];
        e[3][b] = d[1][b] - d[3][b];
      }
      float* out = v + ci * count + j;
      for (int a = 0; a < 4; ++a) {  // (B^T d) B, row a
        out[(a * 4 + 0) * plane] = e[a][0] - e[a][2];
        out[(a * 4 + 1) * plane] = e[a][1] + e[a][2];
        out[(a * 4 + 2) * plane] = e[a][2] - e[a][1];
        out[(a * 4 + 3) * plane] = e[a][1] - e[a][3];
      }
    }
  }
}

// y = A^T m A for each tile's 4x4 products m, A^T = [1 1 1 0; 0 1 -1 -1], then the epilogue, for
// the outputs inside the image.
void transform_output(const float* m, const Tiles& t, int64_t first, int64_t count, const DirectEpilogue& e,
                      float* y) {
  const int64_t plane = t.o * count;
#pragma omp parallel for schedule(static)
  for (int64_t oc = 0; oc < t.o; ++oc) {
    const float scale = e.scale ? e.scale[oc] : 1.f, bias = e.bias ? e.bias[oc] : 0.f;
    for (int64_t j = 0; j < count; ++j) {
      const auto [s, r0, q0] = t.origin(first + j);
      const float* in = m + oc * count + j;
      float mm[4][4];
      for (int k = 0; k < 16; ++k) mm[k / 4][k % 4] = in[k * plane];
      float sr[2][4];  // A^T m
      for (int b = 0; b < 4; ++b) {
        sr[0][b] = mm[0][b] + mm[1][b] + mm[2][b];
        sr[1][b] = mm[1][b] - mm[2][b] - mm[3][b];
      }
      const float out[2][2] = {{sr[0][0] + sr[0][1] + sr[0][2], sr[0][1] - sr[0][2] - sr[0][3]},
                               {sr[1][0] + sr[1][1] + sr[1][2], sr[1][1] - sr[1][2] - sr[1][3]}};
      const int64_t base = (s * t.o + oc) * t.h * t.w;
      for (int a = 0; a < 2 && r0 + a < t.h; ++a) {
        for (int b = 0; b < 2 && q0 + b < t.w; ++b) {
          const int64_t at = base + (r0 + a) * t.w + q0 + b;
          float val = out[a][b] * scale + bias;
          if (e.residual) val += e.residual[at];
          if (e.relu) val = std::max(val, 0.f);
          y[at] = val;
        }
      }
    }
  }
}

// dM [16][o][count] = A dy A^T for each tile's 2x2 block of dy (zero outside the image), A = A^T's
// transpose: the gradient of the products m that transform_output read.
void transform_grad_output(const float* dy, const Tiles& t, int64_t first, int64_t count, float* dm) {
  const int64_t plane = t.o * count;
#pragma omp parallel for schedule(static)
  for (int64_t oc = 0; oc < t.o; ++oc) {
    for (int64_t j = 0; j < count; ++j) {
      const auto [s, r0, q0] = t.origin(first + j);
      const float* d = dy + (s * t.o + oc) * t.h * t.w;
      float b[2][2];
      for (int a = 0; a < 2; ++a) {
        for (int c = 0; c < 2; ++c) b[a][c] = r0 + a < t.h && q0 + c < t.w ? d[(r0 + a) * t.w + q0 + c] : 0.f;
      }
      float ab[4][2];  // A dy
      for (int c = 0; c < 2; ++c) {
        ab[0][c] = b[0][c];
        ab[1][c] = b[0][c] + b[1][c];
        ab[2][c] = b[0][c] - b[1][c];
        ab[3][c] = -b[1][c];
      }
      float* out = dm + oc * count + j;
      for (int a = 0; a < 4; ++a) {  // (A dy) A^T, row a
        out[(a * 4 + 0) * plane] = ab[a][0];
        out[(a * 4 + 1) * plane] = ab[a][0] + ab[a][1];
        out[(a * 4 + 2) * plane] = ab[a][0] - ab[a][1];
        out[(a * 4 + 3) * plane] = -ab[a][1];
      }
    }
  }
}

// dw [o][c][3][3] = G^T dU G for each 4x4 dU [16][o][c]: the adjoint of transform_weights.
void weights_from_grad(const float* du, const Tiles& t, float* dw) {
  const int64_t oc = t.o * t.c;
#pragma omp parallel for schedule(static)
  for (int64_t k = 0; k < oc; ++k) {
    float gu[3][4];  // G^T dU
    for (int b = 0; b < 4; ++b) {
      const float u0 = du[(0 + b) * oc + k], u1 = du[(4 + b) * oc + k], u2 = du[(8 + b) * oc + k],
                  u3 = du[(12 + b) * oc + k];
      gu[0][b] = u0 + 0.5f * (u1 + u2);
      gu[1][b] = 0.5f * (u1 - u2);
      gu[2][b] = 0.5f * (u1 + u2) + u3;
    }
    float* g = dw + k * 9;
    for (int i = 0; i < 3; ++i) {  // (G^T dU) G, row i
      g[i * 3 + 0] = gu[i][0] + 0.5f * (gu[i][1] + gu[i][2]);
      g[i * 3 + 1] = 0.5f * (gu[i][1] - gu[i][2]);
      g[i * 3 + 2] = 0.5f * (gu[i][1] + gu[i][2]) + gu[i][3];
    }
  }
}

// One chunk: transform its tiles' input, 16 GEMMs M[k] [o, count] = U[k] [o, c] V[k] [c, count],
// transform back into y.
void run_chunk(const float* x, const float* u, const Tiles& t, int64_t first, int64_t count, const DirectEpilogue& e,
               float* v, float* m, float* y) {
  transform_input(x, t, first, count, v);
  for (int k = 0; k < 16; ++k) {
    gemm_rowmajor<float>(false, false, t.o, count, t.c, 1.f, u + k * t.o * t.c, t.c, v + k * t.c * count, count, 0.f,
                         m + k * t.o * count, count);
  }
  transform_output(m, t, first, count, e, y);
}

// One chunk of the weight gradient: transform its tiles' input and dy, then add the 16 GEMMs
// dU[k] [o, c] += dM[k] [o, count] V[k]^T [count, c] into du.
void grad_chunk(const float* x, const float* dy, const Tiles& t, int64_t first, int64_t count, float* v, float* m,
                float* du) {
  transform_input(x, t, first, count, v);
  transform_grad_output(dy, t, first, count, m);
  for (int k = 0; k < 16; ++k) {
    gemm_rowmajor<float>(false, true, t.o, t.c, count, 1.f, m + k * t.o * count, count, v + k * t.c * count, count, 1.f,
                         du + k * t.o * t.c, t.c);
  }
}

int64_t chunk_tiles(const Tiles& t) {
  return std::clamp<int64_t>(kChunkFloats / (16 * (t.c + t.o)), 8, t.total());
}

}  // namespace

Conv3x3RouteOverride::Conv3x3RouteOverride(Conv3x3Route r) : previous_(g_route.load()) {
  g_route.store(static_cast<int>(r));
}

Conv3x3RouteOverride::~Conv3x3RouteOverride() { g_route.store(previous_); }

bool conv3x3_prefers_winograd(int64_t n, int64_t c, int64_t h, int64_t w, int64_t o) {
  switch (route()) {
    case Conv3x3Route::direct:
      return false;
    case Conv3x3Route::winograd:
      return true;
    case Conv3x3Route::automatic:
      break;
  }
  // Measured against the direct kernel's avx2 path on an AMD EPYC (Zen 1, 2 threads; batches 1,
  // 8 and 16, channels 16-256, maps 6x4-48x36, bench/results/ops-cpu.md): Winograd is 1.1-1.65x
  // faster from 64 channels on both sides given enough tiles to keep its GEMMs busy (200, and about
  // two per input channel for the widest), slower below (0.3-1.0x at 16-32 channels, where the
  // transforms cost as much as the multiplies they save). On AVX-512 the direct kernel is the one
  // measured (bench/results/models-cpu.md) and Winograd was not: there the direct kernel stays.
  if (cpu_isa() == CpuIsa::avx512) return false;
  const int64_t tiles = n * ((h + 1) / 2) * ((w + 1) / 2);
  return c >= 64 && o >= 64 && tiles >= std::max<int64_t>(200, 2 * c);
}

void conv3x3_winograd(const float* x, const float* w, const DirectEpilogue& e, int64_t n, int64_t c, int64_t h,
                      int64_t wd, int64_t o, float* y) {
  const Tiles t{n, c, h, wd, o, (h + 1) / 2, (wd + 1) / 2};
  auto u = buffer(16 * o * c);
  transform_weights(w, t, u.get());
  const int64_t total = t.total(), chunk = chunk_tiles(t);
  const int64_t chunks = (total + chunk - 1) / chunk;
  const int threads = omp_get_max_threads();
  if (chunks >= threads) {
    // A chunk per thread at a time, each GEMM single-threaded (Eigen does not split inside a
    // parallel region); the transforms' own parallel loops run on the calling thread.
#pragma omp parallel
    {
      auto v = buffer(16 * c * chunk), m = buffer(16 * o * chunk);
#pragma omp for schedule(dynamic)
      for (int64_t k = 0; k < chunks; ++k) {
        const int64_t first = k * chunk;
        run_chunk(x, u.get(), t, first, std::min(chunk, total - first), e, v.get(), m.get(), y);
      }
    }
    return;
  }
  // Too few chunks to go round: one after another, the transforms and GEMMs parallel inside.
  auto v = buffer(16 * c * chunk), m = buffer(16 * o * chunk);
  for (int64_t k = 0; k < chunks; ++k) {
    const int64_t first = k * chunk;
    run_chunk(x, u.get(), t, first, std::min(chunk, total - first), e, v.get(), m.get(), y);
  }
}

void conv3x3_winograd_backward_weight(const float* x, const float* dy, int64_t n, int64_t c, int64_t h, int64_t wd,
                                      int64_t o, float* dw) {
  const Tiles t{n, c, h, wd, o, (h + 1) / 2, (wd + 1) / 2};
  const int64_t total = t.total(), chunk = chunk_tiles(t), chunks = (total + chunk - 1) / chunk;
  const int64_t usize = 16 * o * c;
  auto du = buffer(usize);
  std::fill(du.get(), du.get() + usize, 0.f);
  const int threads = omp_get_max_threads();
  if (chunks >= threads) {
    // Each thread sums its chunks (a fixed, static share) into its own dU; the partial sums are
    // added in thread order, so the result does not depend on timing.
    auto partial = buffer(threads * usize);
    std::fill(partial.get(), partial.get() + threads * usize, 0.f);
#pragma omp parallel num_threads(threads)
    {
      auto v = buffer(16 * c * chunk), m = buffer(16 * o * chunk);
      float* acc = partial.get() + omp_get_thread_num() * usize;
#pragma omp for schedule(static)
      for (int64_t k = 0; k < chunks; ++k) {
        const int64_t first = k * chunk;
        grad_chunk(x, dy, t, first, std::min(chunk, total - first), v.get(), m.get(), acc);
      }
    }
    for (int i = 0; i < threads; ++i) {
      const float* p = partial.get() + i * usize;
      for (int64_t k = 0; k < usize; ++k) du[k] += p[k];
    }
  } else {
    auto v = buffer(16 * c * chunk), m = buffer(16 * o * chunk);
    for (int64_t k = 0; k < chunks; ++k) {
      const int64_t first = k * chunk;
      grad_chunk(x, dy, t, first, std::min(chunk, total - first), v.get(), m.get(), du.get());
    }
  }
  weights_from_grad(du.get(), t, dw);
}

}  // namespace wb::kernels::cpu
