// CPU reference for RoIAlign, written to follow torchvision's roi_align_kernel.cpp operation by
// operation (same rounding points, same order of sums), so that results agree with
// torchvision.ops.roi_align to the last bits of the scalar type.
//
// Each output bin averages grid_h x grid_w bilinear samples at the centres of a regular
// sub-grid of the bin. A sample outside [-1, H] x [-1, W] counts as zero (it still counts in the
// average); one inside that band but outside the map is clamped to the border pixels.
#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels/common.h"
#include "kernels/roi_align.h"

namespace wb::kernels::cpu {

namespace {

// One sample point: four plane offsets and their bilinear weights (all zero when outside).
template <class T>
struct Sample {
  int64_t p1 = 0, p2 = 0, p3 = 0, p4 = 0;
  T w1 = 0, w2 = 0, w3 = 0, w4 = 0;
  bool inside = false;
};

template <class T>
Sample<T> bilinear_sample(T y, T x, int64_t height, int64_t width) {
  Sample<T> s;
  if (y < T(-1) || y > static_cast<T>(height) || x < T(-1) || x > static_cast<T>(width)) return s;
  y = std::max(y, T(0));
  x = std::max(x, T(0));
  int64_t y_lo = static_cast<int64_t>(y), x_lo = static_cast<int64_t>(x), y_hi, x_hi;
  if (y_lo >= height - 1) {
    y_hi = y_lo = height - 1;
    y = static_cast<T>(y_lo);
  } else {
    y_hi = y_lo + 1;
  }
  if (x_lo >= width - 1) {
    x_hi = x_lo = width - 1;
    x = static_cast<T>(x_lo);
  } else {
    x_hi = x_lo + 1;
  }
  const T ly = y - static_cast<T>(y_lo), lx = x - static_cast<T>(x_lo);
  const T hy = T(1) - ly, hx = T(1) - lx;
  s.p1 = y_lo * width + x_lo;
  s.p2 = y_lo * width + x_hi;
  s.p3 = y_hi * width + x_lo;
  s.p4 = y_hi * width + x_hi;
  s.w1 = hy * hx;
  s.w2 = hy * lx;
  s.w3 = ly * hx;
  s.w4 = ly * lx;
  s.inside = true;
  return s;
}

// The samples of one RoI, bin-major ([out_h, out_w, grid_h, grid_w]); the same for every channel.
template <class T>
struct RoISamples {
  int64_t batch = 0;
  int64_t grid_h = 0, grid_w = 0;
  T count = 1;  // divisor of each bin's sum
  std::vector<Sample<T>> samples;
};

template <class T>
RoISamples<T> roi_samples(const T* roi, const RoIAlignParams& p, int64_t height, int64_t width) {
  RoISamples<T> r;
  r.batch = static_cast<int64_t>(roi[0]);
  // Box corners are scaled in double, as torchvision multiplies by its double spatial_scale.
  const double offset = p.aligned ? 0.5 : 0.0;
  const T start_w = static_cast<T>(static_cast<double>(roi[1]) * p.spatial_scale - offset);
  const T start_h = static_cast<T>(static_cast<double>(roi[2]) * p.spatial_scale - offset);
  const T end_w = static_cast<T>(static_cast<double>(roi[3]) * p.spatial_scale - offset);
  const T end_h = static_cast<T>(static_cast<double>(roi[4]) * p.spatial_scale - offset);
  T roi_w = end_w - start_w, roi_h = end_h - start_h;
  if (!p.aligned) {
    // The legacy (Detectron) mode forces boxes to at least one pixel.
    roi_w = std::max(roi_w, T(1));
    roi_h = std::max(roi_h, T(1));
  }
  const T bin_h = roi_h / static_cast<T>(p.out_h), bin_w = roi_w / static_cast<T>(p.out_w);
  r.grid_h = p.sampling_ratio > 0 ? p.sampling_ratio : static_cast<int64_t>(std::ceil(roi_h / static_cast<T>(p.out_h)));
  r.grid_w = p.sampling_ratio > 0 ? p.sampling_ratio : static_cast<int64_t>(std::ceil(roi_w / static_cast<T>(p.out_w)));
  // A degenerate box (grid 0) has no samples and yields zeros; the divisor stays at least 1.
  r.count = static_cast<T>(std::max<int64_t>(r.grid_h * r.grid_w, 1));
  if (r.grid_h <= 0 || r.grid_w <= 0) return r;
  r.samples.reserve(static_cast<size_t>(p.out_h * p.out_w * r.grid_h * r.grid_w));
  for (int64_t ph = 0; ph < p.out_h; ++ph) {
    for (int64_t pw = 0; pw < p.out_w; ++pw) {
      for (int64_t iy = 0; iy < r.grid_h; ++iy) {
        const T y = start_h + static_cast<T>(ph) * bin_h +
                    static_cast<T>(static_cast<float>(iy) + 0.5f) * bin_h / static_cast<T>(r.grid_h);
        for (int64_t ix = 0; ix < r.grid_w; ++ix) {
          const T x = start_w + static_cast<T>(pw) * bin_w +
                      static_cast<T>(static_cast<float>(ix) + 0.5f) * bin_w / static_cast<T>(r.grid_w);
          r.samples.push_back(bilinear_sample(y, x, height, width));
        }
      }
    }
  }
  return r;
}

}  // namespace

void roi_align_forward(const Tensor& x, const Tensor& rois, const RoIAlignParams& p, Tensor& y) {
  dispatch_float(x.dtype(), "roi_align", [&](auto tag) {
    using T = decltype(tag);
    const int64_t nk = rois.size(0), channels = x.size(1), height = x.size(2), width = x.size(3);
    const int64_t bins = p.out_h * p.out_w;
    const T* px = x.data<T>();
    const T* pr = rois.data<T>();
    T* py = y.data<T>();
    for (int64_t k = 0; k < nk; ++k) {
      const RoISamples<T> r = roi_samples(pr + k * 5, p, height, width);
      const int64_t per_bin = r.samples.empty() ? 0 : r.grid_h * r.grid_w;
#pragma omp parallel for if (channels * bins * per_bin > 16384)
      for (int64_t c = 0; c < channels; ++c) {
        const T* plane = px + (r.batch * channels + c) * height * width;
        T* out = py + (k * channels + c) * bins;
        for (int64_t b = 0; b < bins; ++b) {
          T acc = 0;
          for (int64_t i = 0; i < per_bin; ++i) {
            const Sample<T>& s = r.samples[static_cast<size_t>(b * per_bin + i)];
            acc += s.w1 * plane[s.p1] + s.w2 * plane[s.p2] + s.w3 * plane[s.p3] + s.w4 * plane[s.p4];
          }
          out[b] = acc / r.count;
        }
      }
    }
  });
}

// Scatter of each bin's gradient onto the taps of its samples; samples outside the band carry
// nothing. RoIs run one after another and channels in parallel, so no two threads touch the
// same element of dx (which arrives zeroed).
void roi_align_backward(const Tensor& dy, const Tensor& rois, const RoIAlignParams& p, Tensor& dx) {
  dispatch_float(dy.dtype(), "roi_align_backward", [&](auto tag) {
    using T = decltype(tag);
    const int64_t nk = rois.size(0), channels = dx.size(1), height = dx.size(2), width = dx.size(3);
    const int64_t bins = p.out_h * p.out_w;
    const T* pg = dy.data<T>();
    const T* pr = rois.data<T>();
    T* pd = dx.data<T>();
    for (int64_t k = 0; k < nk; ++k) {
      const RoISamples<T> r = roi_samples(pr + k * 5, p, height, width);
      const int64_t per_bin = r.samples.empty() ? 0 : r.grid_h * r.grid_w;
#pragma omp parallel for if (channels * bins * per_bin > 16384)
      for (int64_t c = 0; c < channels; ++c) {
        T* plane = pd + (r.batch * channels + c) * height * width;
        const T* g = pg + (k * channels + c) * bins;
        for (int64_t b = 0; b < bins; ++b) {
          const T gb = g[b];
          for (int64_t i = 0; i < per_bin; ++i) {
            const Sample<T>& s = r.samples[static_cast<size_t>(b * per_bin + i)];
            if (!s.inside) continue;
            plane[s.p1] += gb * s.w1 / r.count;
            plane[s.p2] += gb * s.w2 / r.count;
            plane[s.p3] += gb * s.w3 / r.count;
            plane[s.p4] += gb * s.w4 / r.count;
          }
        }
      }
    }
  });
}

}  // namespace wb::kernels::cpu
