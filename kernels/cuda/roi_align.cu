// RoIAlign, CUDA (kernels/roi_align.h): torchvision.ops.roi_align semantics, with the box and
// sample-coordinate arithmetic rounded step by step as kernels/cpu/roi_align.cpp does it (no FMA
// contraction), so both backends put every sample on the same pixels.
//
// Each output bin averages grid_h x grid_w bilinear samples. A sample's bilinear weight is a
// product of one weight per axis (the [-1, H] x [-1, W] band test is per axis too), which both
// kernels exploit: the forward computes each sample's taps once for 8 channels, and the backward
// sums per-axis weights bin by bin instead of sample by sample.
#include <algorithm>
#include <climits>
#include <cmath>
#include <cstdint>

#include "kernels/cuda/exact_float.cuh"
#include "kernels/roi_align.h"
#include "tensor/cuda/check.h"

namespace wb::kernels::cuda {

namespace {

constexpr int kChannels = 8;                        // channels per thread, sharing one sampling geometry
constexpr int kForwardThreads = 256;
constexpr int kTileW = 32, kTileH = 8;              // backward: one block per 32 x 8 pixel tile
constexpr int kTileThreads = kTileW * kTileH;
constexpr int kWarps = kTileThreads / 32;
constexpr int kBins = 8;                            // backward: x-bin weights held in registers at a time

struct Sizes {
  int n, c, h, w, out_h, out_w;
};

struct Params {
  double spatial_scale;
  int sampling_ratio;
  bool aligned;
};

// The sampling geometry of one RoI (the same for every channel).
struct RoiGeom {
  int k;      // row of the RoI in rois (and in dy)
  int batch;  // -1 when rois[k, 0] is not an image index in [0, N)
  float start_h, start_w, bin_h, bin_w;
  int grid_h, grid_w;  // samples per bin along each axis; <= 0: the box has none
  float count;         // divisor of each bin's sum, at least 1
};

__host__ __device__ RoiGeom roi_geometry(const float* roi, int k, const Sizes& s, const Params& p) {
  RoiGeom g;
  g.k = k;
  g.batch = static_cast<int>(roi[0]);
  // Corners are scaled in double and rounded once to float, as the CPU reference does.
  const double offset = p.aligned ? -0.5 : 0.0;
  g.start_w = static_cast<float>(add_rn(mul_rn(static_cast<double>(roi[1]), p.spatial_scale), offset));
  g.start_h = static_cast<float>(add_rn(mul_rn(static_cast<double>(roi[2]), p.spatial_scale), offset));
  const float end_w = static_cast<float>(add_rn(mul_rn(static_cast<double>(roi[3]), p.spatial_scale), offset));
  const float end_h = static_cast<float>(add_rn(mul_rn(static_cast<double>(roi[4]), p.spatial_scale), offset));
  float roi_w = end_w - g.start_w, roi_h = end_h - g.start_h;
  if (!p.aligned) {  // the legacy (Detectron) mode forces boxes to at least one pixel
    roi_w = fmaxf(roi_w, 1.f);
    roi_h = fmaxf(roi_h, 1.f);
  }
  g.bin_h = roi_h / static_cast<float>(s.out_h);
  g.bin_w = roi_w / static_cast<float>(s.out_w);
  g.grid_h = p.sampling_ratio > 0 ? p.sampling_ratio : static_cast<int>(ceilf(roi_h / static_cast<float>(s.out_h)));
  g.grid_w = p.sampling_ratio > 0 ? p.sampling_ratio : static_cast<int>(ceilf(roi_w / static_cast<float>(s.out_w)));
  g.count = static_cast<float>(std::max<int64_t>(static_cast<int64_t>(g.grid_h) * g.grid_w, 1));
  // CUDA rois are not validated on the host (that would synchronise every call): a RoI with a bad
  // batch index samples nothing, so its output is zero and it sends no gradient.
  if (!(roi[0] >= 0.f && roi[0] < static_cast<float>(s.n) && roi[0] == floorf(roi[0]))) {
    g.batch = -1;
    g.grid_h = g.grid_w = 0;
  }
  return g;
}

// Coordinate of sample `i` (of `grid`) in bin `bin` along one axis: start + bin * size + (i + 0.5) * size / grid.
__host__ __device__ float sample_coord(float start, int bin, float bin_size, int i, int grid) {
  return add_rn(add_rn(start, mul_rn(static_cast<float>(bin), bin_size)),
                mul_rn(add_rn(static_cast<float>(i), 0.5f), bin_size) / static_cast<float>(grid));
}

// torchvision's bilinear_interpolate along one axis of `size` pixels: a sample outside [-1, size]
// weighs nothing; one in the band but off the map is clamped to the border pixel.
struct AxisTap {
  int lo, hi;
  float w_lo, w_hi;
  bool inside;
};

__host__ __device__ AxisTap axis_tap(float v, int size) {
  if (v < -1.f || v > static_cast<float>(size)) return {0, 0, 0.f, 0.f, false};
  v = fmaxf(v, 0.f);
  int lo = static_cast<int>(v), hi;
  if (lo >= size - 1) {
    lo = hi = size - 1;
    v = static_cast<float>(lo);
  } else {
    hi = lo + 1;
  }
  const float l = v - static_cast<float>(lo);
  return {lo, hi, 1.f - l, l, true};
}

// The weight a sample at v gives pixel p along one axis. It is nonzero only for v in [p - 1, p + 1]
// (interior: p is floor(v) or floor(v) + 1; v in [-1, 0] clamps onto pixel 0; v in [size - 1, size]
// onto pixel size - 1), which is what samples_near and reaches rely on.
__host__ __device__ float axis_weight(float v, int size, int p) {
  const AxisTap t = axis_tap(v, size);
  if (!t.inside) return 0.f;
  return (t.lo == p ? t.w_lo : 0.f) + (t.hi == p ? t.w_hi : 0.f);
}

// Relative rounding noise of a computed sample coordinate: each of the few float operations in
// sample_coord errs by at most 2^-24 of a magnitude below |start| + bins * |bin_size| + 1.
__host__ __device__ double coord_magnitude(float start, float bin_size, int bins) {
  return fabs(static_cast<double>(start)) + fabs(static_cast<double>(bin_size)) * bins + 1.0;
}
constexpr double kSlack = 1e-5;  // a bound on that noise (about 5 * 2^-24) with a wide margin

// Whether any sample of an axis can weigh on a pixel in [first, last]. The samples lie between
// start and start + bins * bin_size up to rounding noise, and weigh only within 1 pixel of themselves.
__host__ __device__ bool reaches(float start, float bin_size, int bins, int first, int last) {
  const double a = start, b = static_cast<double>(start) + static_cast<double>(bin_size) * bins;
  const double slack = 1.0 + kSlack * coord_magnitude(start, bin_size, bins);
  return fmin(a, b) - slack <= last && fmax(a, b) + slack >= first;
}

// Sample indices s = bin * grid + i along one axis, [begin, end).
struct SampleRange {
  int64_t begin, end;
};

// A range of samples that holds every sample with nonzero weight on pixel p. Exactly, sample s sits
// at start + (s + 0.5) * step with step = bin_size / grid, so the samples within [p - 1, p + 1] have
// s in [(p - 1 - start) / step - 0.5, (p + 1 - start) / step - 0.5] (swapped when step < 0). The
// computed coordinates differ from the exact ones by less than kSlack * magnitude, which is under
// 0.03 steps whenever |step| exceeds kSlack * magnitude; the range is widened by 2 samples on each
// side, far more than that. A smaller step means a box a fraction of a pixel wide: then every sample
// is a candidate. Candidates are weighed with the forward's own arithmetic, so extra ones add zeros.
__host__ __device__ SampleRange samples_near(float start, float bin_size, int grid, int bins, int p) {
  const int64_t total = static_cast<int64_t>(bins) * grid;
  const double step = static_cast<double>(bin_size) / grid;
  if (!(fabs(step) > kSlack * coord_magnitude(start, bin_size, bins))) return {0, total};
  double a = (p - 1 - static_cast<double>(start)) / step - 0.5;
  double b = (p + 1 - static_cast<double>(start)) / step - 0.5;
  if (step < 0) {
    const double t = a;
    a = b;
    b = t;
  }
  const double lo = fmax(floor(a) - 2.0, 0.0), hi = fmin(ceil(b) + 3.0, static_cast<double>(total));
  if (!(lo < hi)) return {0, 0};
  return {static_cast<int64_t>(lo), static_cast<int64_t>(hi)};
}

// Sum of the weights on pixel p of bin `bin`'s samples within range r, along one axis.
__host__ __device__ float bin_weight(float start, float bin_size, int grid, int bin, const SampleRange& r, int size,
                                     int p) {
  const int64_t first = static_cast<int64_t>(bin) * grid;
  const int i0 = static_cast<int>(std::max<int64_t>(r.begin - first, 0));
  const int i1 = static_cast<int>(std::min<int64_t>(r.end - first, grid));
  float w = 0.f;
  for (int i = i0; i < i1; ++i) w += axis_weight(sample_coord(start, bin, bin_size, i, grid), size, p);
  return w;
}

// Forward: one thread per (RoI, group of kChannels channels, output bin), bins fastest so that a
// warp writes consecutive outputs. Each sample's taps and weights are computed once and applied to
// all the thread's channels; neighbouring bins read neighbouring pixels, which the cache shares.
__global__ void __launch_bounds__(kForwardThreads)
    roi_align_forward_kernel(const float* __restrict__ x, const float* __restrict__ rois, float* __restrict__ y,
                             int64_t total, Sizes s, Params p) {
  const int64_t idx = static_cast<int64_t>(blockIdx.x) * kForwardThreads + threadIdx.x;
  if (idx >= total) return;
  const int chunks = (s.c + kChannels - 1) / kChannels;
  const int pw = static_cast<int>(idx % s.out_w);
  int64_t t = idx / s.out_w;
  const int ph = static_cast<int>(t % s.out_h);
  t /= s.out_h;
  const int c0 = static_cast<int>(t % chunks) * kChannels;
  const int k = static_cast<int>(t / chunks);
  const int nc = min(kChannels, s.c - c0);

  const RoiGeom g = roi_geometry(rois + static_cast<int64_t>(k) * 5, k, s, p);
  const int64_t plane = static_cast<int64_t>(s.h) * s.w;
  const float* xb = x + (static_cast<int64_t>(g.batch < 0 ? 0 : g.batch) * s.c + c0) * plane;
  float acc[kChannels] = {};
  for (int iy = 0; iy < g.grid_h; ++iy) {
    const AxisTap ty = axis_tap(sample_coord(g.start_h, ph, g.bin_h, iy, g.grid_h), s.h);
    if (!ty.inside) continue;
    for (int ix = 0; ix < g.grid_w; ++ix) {
      const AxisTap tx = axis_tap(sample_coord(g.start_w, pw, g.bin_w, ix, g.grid_w), s.w);
      if (!tx.inside) continue;
      const float w1 = ty.w_lo * tx.w_lo, w2 = ty.w_lo * tx.w_hi, w3 = ty.w_hi * tx.w_lo, w4 = ty.w_hi * tx.w_hi;
      const int64_t o1 = static_cast<int64_t>(ty.lo) * s.w + tx.lo, o2 = static_cast<int64_t>(ty.lo) * s.w + tx.hi;
      const int64_t o3 = static_cast<int64_t>(ty.hi) * s.w + tx.lo, o4 = static_cast<int64_t>(ty.hi) * s.w + tx.hi;
#pragma unroll
      for (int j = 0; j < kChannels; ++j) {
        if (j < nc) {
          const float* pl = xb + j * plane;
          acc[j] += w1 * pl[o1] + w2 * pl[o2] + w3 * pl[o3] + w4 * pl[o4];
        }
      }
    }
  }
  const int64_t out_plane = static_cast<int64_t>(s.out_h) * s.out_w;
  float* yb = y + (static_cast<int64_t>(k) * s.c + c0) * out_plane + static_cast<int64_t>(ph) * s.out_w + pw;
#pragma unroll
  for (int j = 0; j < kChannels; ++j) {
    if (j < nc) yb[j * out_plane] = acc[j] / g.count;
  }
}

// The gradient one RoI sends to pixel (py, px) of kChannels channels, added to acc. By
// separability it is sum over bins (by, bx) of Ay(by) * Ax(bx) * dy[by, bx] / count, where Ay, Ax
// sum the per-axis weights of the bin's samples; only bins holding samples near the pixel are
// visited. The x-bin weights are computed kBins at a time and reused across y-bins and channels.
__host__ __device__ void gather_roi(const RoiGeom& g, const float* __restrict__ dy, const Sizes& s, int c0, int nc, int py,
                           int px, float (&acc)[kChannels]) {
  const SampleRange ry = samples_near(g.start_h, g.bin_h, g.grid_h, s.out_h, py);
  if (ry.begin >= ry.end) return;
  const SampleRange rx = samples_near(g.start_w, g.bin_w, g.grid_w, s.out_w, px);
  if (rx.begin >= rx.end) return;
  const int by0 = static_cast<int>(ry.begin / g.grid_h), by1 = static_cast<int>((ry.end - 1) / g.grid_h) + 1;
  const int bx0 = static_cast<int>(rx.begin / g.grid_w), bx1 = static_cast<int>((rx.end - 1) / g.grid_w) + 1;
  const int64_t out_plane = static_cast<int64_t>(s.out_h) * s.out_w;
  const float* gk = dy + (static_cast<int64_t>(g.k) * s.c + c0) * out_plane;
  for (int cx = bx0; cx < bx1; cx += kBins) {
    float ax[kBins];
#pragma unroll
    for (int j = 0; j < kBins; ++j) {
      ax[j] = cx + j < bx1 ? bin_weight(g.start_w, g.bin_w, g.grid_w, cx + j, rx, s.w, px) : 0.f;
    }
    for (int by = by0; by < by1; ++by) {
      const float ay = bin_weight(g.start_h, g.bin_h, g.grid_h, by, ry, s.h, py);
      if (ay == 0.f) continue;
      const float scale = ay / g.count;
      const float* row = gk + static_cast<int64_t>(by) * s.out_w + cx;
#pragma unroll
      for (int c = 0; c < kChannels; ++c) {
        if (c < nc) {
          float r = 0.f;
#pragma unroll
          for (int j = 0; j < kBins; ++j) {
            if (cx + j < bx1) r += ax[j] * row[c * out_plane + j];
          }
          acc[c] += scale * r;
        }
      }
    }
  }
}

// Backward as a gather: one block per (image, group of kChannels channels, 32 x 8 pixel tile), one
// thread per pixel, each summing what every RoI sends it; dx is written once, without atomics, and
// the sum order is fixed. The scatter form (torchvision's) does 4 atomicAdds per sample, and on
// ZoomNet's crops (a ~12 x 12 pixel box resampled to 64 x 64 bins, 2 x 2 samples each) about 150
// samples land on each pixel, from neighbouring threads of one warp: heavy same-address contention.
// The block first stages, in RoI order, the RoIs of its image whose samples can reach the tile
// (a ballot-based stable compaction of up to 256 candidates at a time), so a pixel visits only those.
__global__ void __launch_bounds__(kTileThreads)
    roi_align_backward_kernel(const float* __restrict__ dy, const float* __restrict__ rois, float* __restrict__ dx,
                              int num_rois, Sizes s, Params p, int tiles_x, int tiles_y, int chunks) {
  __shared__ RoiGeom staged[kTileThreads];
  __shared__ int warp_hits[kWarps];
  int64_t b = blockIdx.x;
  const int tile_x = static_cast<int>(b % tiles_x);
  b /= tiles_x;
  const int tile_y = static_cast<int>(b % tiles_y);
  b /= tiles_y;
  const int c0 = static_cast<int>(b % chunks) * kChannels;
  const int n = static_cast<int>(b / chunks);
  const int nc = min(kChannels, s.c - c0);
  const int x_first = tile_x * kTileW, x_last = min(x_first + kTileW, s.w) - 1;
  const int y_first = tile_y * kTileH, y_last = min(y_first + kTileH, s.h) - 1;
  const int px = x_first + threadIdx.x, py = y_first + threadIdx.y;
  const int tid = threadIdx.y * kTileW + threadIdx.x, lane = tid & 31, warp = tid >> 5;
  const bool active = px < s.w && py < s.h;

  float acc[kChannels] = {};
  for (int base = 0; base < num_rois; base += kTileThreads) {
    const int k = base + tid;
    RoiGeom g{};
    bool hit = false;
    if (k < num_rois) {
      g = roi_geometry(rois + static_cast<int64_t>(k) * 5, k, s, p);
      hit = g.batch == n && g.grid_h > 0 && g.grid_w > 0 && reaches(g.start_h, g.bin_h, s.out_h, y_first, y_last) &&
            reaches(g.start_w, g.bin_w, s.out_w, x_first, x_last);
    }
    const unsigned mask = __ballot_sync(0xffffffffu, hit);
    if (lane == 0) warp_hits[warp] = __popc(mask);
    __syncthreads();
    int offset = 0, count = 0;
#pragma unroll
    for (int i = 0; i < kWarps; ++i) {
      offset += i < warp ? warp_hits[i] : 0;
      count += warp_hits[i];
    }
    if (hit) staged[offset + __popc(mask & ((1u << lane) - 1u))] = g;
    __syncthreads();
    if (active) {
      for (int i = 0; i < count; ++i) gather_roi(staged[i], dy, s, c0, nc, py, px, acc);
    }
    __syncthreads();  // the next chunk overwrites staged and warp_hits
  }
  if (!active) return;
  const int64_t plane = static_cast<int64_t>(s.h) * s.w;
  float* out = dx + (static_cast<int64_t>(n) * s.c + c0) * plane + static_cast<int64_t>(py) * s.w + px;
#pragma unroll
  for (int c = 0; c < kChannels; ++c) {
    if (c < nc) out[c * plane] = acc[c];
  }
}

int to_int(int64_t v, const char* op, const char* what, const Tensor& t) {
  check(v >= 0 && v <= INT_MAX, op, " (CUDA): ", what, " ", v, " of ", t.str(), " exceeds the int range");
  return static_cast<int>(v);
}

Sizes sizes(const char* op, const Tensor& features, const RoIAlignParams& p) {
  return {to_int(features.size(0), op, "batch", features), to_int(features.size(1), op, "channels", features),
          to_int(features.size(2), op, "height", features), to_int(features.size(3), op, "width", features),
          to_int(p.out_h, op, "output height", features), to_int(p.out_w, op, "output width", features)};
}

Params params(const char* op, const RoIAlignParams& p) {
  check(p.sampling_ratio <= INT_MAX, op, " (CUDA): sampling_ratio ", p.sampling_ratio, " exceeds the int range");
  return {p.spatial_scale, static_cast<int>(p.sampling_ratio), p.aligned};
}

}  // namespace

void roi_align_forward(const Tensor& x, const Tensor& rois, const RoIAlignParams& p, Tensor& y) {
  const char* op = "roi_align";
  const Sizes s = sizes(op, x, p);
  const int num_rois = to_int(rois.size(0), op, "RoI count", rois);
  const Params pp = params(op, p);
  if (y.numel() == 0) return;
  const int64_t chunks = (s.c + kChannels - 1) / kChannels;
  const int64_t total = static_cast<int64_t>(num_rois) * chunks * s.out_h * s.out_w;
  const int64_t blocks = (total + kForwardThreads - 1) / kForwardThreads;
  check(blocks <= INT_MAX, op, " (CUDA): output ", y.str(), " exceeds the launch grid");
  roi_align_forward_kernel<<<static_cast<unsigned>(blocks), kForwardThreads, 0,
                             wb::cuda::current_stream(x.device().index)>>>(x.data<float>(), rois.data<float>(),
                                                                           y.data<float>(), total, s, pp);
  wb::cuda::check_launch(op);
}

void roi_align_backward(const Tensor& dy, const Tensor& rois, const RoIAlignParams& p, Tensor& dx) {
  const char* op = "roi_align_backward";
  const Sizes s = sizes(op, dx, p);
  const int num_rois = to_int(rois.size(0), op, "RoI count", rois);
  const Params pp = params(op, p);
  if (dx.numel() == 0) return;
  // Every pixel of dx is written (zero where no RoI reaches), so a launch is needed even for K = 0.
  const int tiles_x = (s.w + kTileW - 1) / kTileW, tiles_y = (s.h + kTileH - 1) / kTileH;
  const int chunks = (s.c + kChannels - 1) / kChannels;
  const int64_t blocks = static_cast<int64_t>(s.n) * chunks * tiles_y * tiles_x;
  check(blocks <= INT_MAX, op, " (CUDA): features ", dx.str(), " exceed the launch grid");
  roi_align_backward_kernel<<<static_cast<unsigned>(blocks), dim3(kTileW, kTileH), 0,
                              wb::cuda::current_stream(dx.device().index)>>>(
      dy.data<float>(), rois.data<float>(), dx.data<float>(), num_rois, s, pp, tiles_x, tiles_y, chunks);
  wb::cuda::check_launch(op);
}

}  // namespace wb::kernels::cuda
