// The machine's roofs (measure_peak) and the roofline plot of a profile (tasks/profile_report.h).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <map>
#include <vector>

#include "datasets/image.h"
#include "kernels/linear.h"
#include "pose/draw.h"
#include "tasks/plot.h"
#include "tasks/profile_report.h"
#include "tensor/cuda_runtime.h"
#include "tensor/tensor.h"

namespace wb::tasks {

namespace {

// The best of `runs` timings of f, in seconds, after one untimed run; GPU work is waited for.
template <class F>
double best_seconds(Device device, int runs, F&& f) {
  f();
  if (device.is_cuda()) cuda::synchronize(device.index);
  double best = 1e30;
  for (int i = 0; i < runs; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    f();
    if (device.is_cuda()) cuda::synchronize(device.index);
    best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  return best;
}

}  // namespace

double measure_gemm_gflops(Device device, int64_t n) {
  check(!profile::enabled(), "measure_gemm_gflops: not while a profiling session records (it would profile itself)");
  check(n > 0, "measure_gemm_gflops: size ", n, " must be positive");
  const Tensor a = Tensor::full({n, n}, 0.5, DType::F32, device);
  const Tensor b = Tensor::full({n, n}, 0.25, DType::F32, device);
  Tensor c = Tensor::empty({n, n}, DType::F32, device);
  const double t = best_seconds(device, 3, [&] { kernels::gemm(false, false, 1.0, a, b, 0.0, c); });
  return 2.0 * std::pow(static_cast<double>(n), 3) / t * 1e-9;
}

double measure_copy_gbps(Device device, int64_t bytes) {
  check(!profile::enabled(), "measure_copy_gbps: not while a profiling session records (it would profile itself)");
  check(bytes >= 4, "measure_copy_gbps: ", bytes, " bytes (at least 4)");
  const int64_t n = bytes / 4;
  const Tensor src = Tensor::full({n}, 1.0, DType::F32, device);
  Tensor dst = Tensor::empty({n}, DType::F32, device);
  const double t = best_seconds(device, 3, [&] {
    if (device.is_cuda()) {
      cuda::copy_device_to_device(dst.raw_data(), src.raw_data(), static_cast<size_t>(n) * 4, device.index);
      return;
    }
    // Every core copies its share: one thread does not reach the memory system's bandwidth.
    const auto* s = static_cast<const char*>(src.raw_data());
    auto* d = static_cast<char*>(dst.raw_data());
    constexpr int64_t kChunk = int64_t{1} << 20;
    const int64_t total = n * 4, chunks = (total + kChunk - 1) / kChunk;
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < chunks; ++i) {
      const int64_t off = i * kChunk;
      std::memcpy(d + off, s + off, static_cast<size_t>(std::min(kChunk, total - off)));
    }
  });
  return 2.0 * static_cast<double>(n) * 4 / t * 1e-9;  // read and written
}

Peak measure_peak(Device device, int64_t gemm_n, int64_t copy_bytes) {
  return {measure_gemm_gflops(device, gemm_n), measure_copy_gbps(device, copy_bytes)};
}

void write_roofline_png(const std::string& path, const ProfileReport& report) {
  const Peak& peak = report.peak();
  const auto rows = report.rows(ProfileGroup::Op);
  const double total = std::max(report.step_ms(), 1e-9);
  // Log-log axes: decades of intensity (FLOP/byte) and of GFLOP/s wide enough for every point.
  double x_lo = -2, x_hi = 3, y_hi = std::ceil(std::log10(std::max(peak.gflops, 1e-3)) + 0.3), y_lo = y_hi - 5;
  for (const ProfileRow& r : rows) {
    if (r.flops <= 0 || r.bytes <= 0 || r.self_ms <= 0) continue;
    x_lo = std::min(x_lo, std::floor(std::log10(r.flops / r.bytes)));
    x_hi = std::max(x_hi, std::ceil(std::log10(r.flops / r.bytes)));
    y_lo = std::min(y_lo, std::floor(std::log10(report.gflops_per_s(r))));
  }
  constexpr int kW = 900, kH = 620;
  data::Image img(kW, kH, 3);
  std::fill(img.pixels.begin(), img.pixels.end(), uint8_t{255});
  const pose::Canvas canvas{img.pixels.data(), img.width, img.height, 3};
  const PlotAxes axes{90, 50, kW - 30, kH - 60, x_lo, x_hi, y_lo, y_hi};
  const pose::Rgb black{0, 0, 0}, grid{225, 225, 225}, roof{200, 40, 40}, dot{31, 119, 180};
  // Decade grid lines labelled 10^k.
  for (double k = x_lo; k <= x_hi; k += 1) {
    const int x = static_cast<int>(std::lround(axes.px(k)));
    pose::fill_rect(canvas, x, axes.y0, x + 1, axes.y1, grid);
    const std::string s = tick_label(std::pow(10.0, k));
    pose::draw_text(canvas, x - pose::text_width(s) / 2, axes.y1 + 6, s, black);
  }
  for (double k = y_lo; k <= y_hi; k += 1) {
    const int y = static_cast<int>(std::lround(axes.py(k)));
    pose::fill_rect(canvas, axes.x0, y, axes.x1, y + 1, grid);
    const std::string s = tick_label(std::pow(10.0, k));
    pose::draw_text(canvas, axes.x0 - 6 - pose::text_width(s), y - 3, s, black);
  }
  pose::draw_rect(canvas, axes.x0, axes.y0, axes.x1 + 1, axes.y1 + 1, black);
  // The roof: min(peak GFLOP/s, intensity x peak GB/s), drawn in steps of a tenth of a decade.
  auto roof_at = [&](double lx) {
    return std::log10(std::max(1e-12, std::min(peak.gflops, std::pow(10.0, lx) * peak.gbps)));
  };
  for (double lx = x_lo; lx < x_hi; lx += 0.05) {
    const double ly0 = std::clamp(roof_at(lx), y_lo, y_hi), ly1 = std::clamp(roof_at(lx + 0.05), y_lo, y_hi);
    pose::draw_line(canvas, {axes.px(lx), axes.py(ly0)}, {axes.px(lx + 0.05), axes.py(ly1)}, roof, 2.0);
  }
  // Ops: area by share of the time, labelled by name and phase; a label that would cover one placed
  // before it moves down or up a line at a time (the largest ops, first in `rows`, keep theirs).
  struct Box {
    int x0, y0, x1, y1;
  };
  std::vector<Box> placed;
  auto overlaps = [&](const Box& b) {
    return std::any_of(placed.begin(), placed.end(),
                       [&](const Box& o) { return b.x0 < o.x1 && o.x0 < b.x1 && b.y0 < o.y1 && o.y0 < b.y1; });
  };
  for (const ProfileRow& r : rows) {
    if (r.flops <= 0 || r.bytes <= 0 || r.self_ms <= 0) continue;
    const double lx = std::log10(r.flops / r.bytes), ly = std::log10(std::max(report.gflops_per_s(r), 1e-12));
    const pose::Point2 c{axes.px(lx), axes.py(std::clamp(ly, y_lo, y_hi))};
    const double radius = 3 + 25 * std::sqrt(r.self_ms / total);
    pose::fill_circle(canvas, c, radius, dot);
    const std::string label = r.name + (r.phase == "backward" ? " (bwd)" : r.phase == "optimizer" ? " (opt)" : "");
    const int w = pose::text_width(label), x = static_cast<int>(c.x + radius + 3);
    Box b{x, static_cast<int>(c.y) - 4, x + w, static_cast<int>(c.y) + 5};
    for (int step = 1; overlaps(b) && step < 40; ++step) {
      const int dy = (step % 2 ? 1 : -1) * 10 * ((step + 1) / 2);
      b.y0 = static_cast<int>(c.y) - 4 + dy;
      b.y1 = b.y0 + 9;
    }
    placed.push_back(b);
    pose::draw_text(canvas, b.x0, b.y0 + 1, label, black);
  }
  char title[256];
  std::snprintf(title, sizeof title, "roofline: peaks %.1f GFLOP/s, %.1f GB/s (measured); area = share of the step",
                peak.gflops, peak.gbps);
  pose::draw_text(canvas, axes.x0, 20, title, black);
  const std::string xl = "arithmetic intensity (FLOP / byte)", yl = "GFLOP/s";
  pose::draw_text(canvas, (axes.x0 + axes.x1 - pose::text_width(xl)) / 2, kH - 28, xl, black);
  pose::draw_text(canvas, 10, axes.y0 - 16, yl, black);
  data::write_image(path, img);
}

}  // namespace wb::tasks
