// Parity of the pose-specific ops: resize, nearest upsample, RoIAlign, heatmap losses, elastic slicing.
#include <doctest/doctest.h>

#include "kernels/elastic.h"
#include "kernels/loss.h"
#include "kernels/resize.h"
#include "kernels/roi_align.h"
#include "tests/cuda/parity.h"

using namespace wb;
using namespace wb::test;
namespace k = wb::kernels;

namespace {

void resize_case(const Shape& x, k::ResizeParams p, uint64_t seed) {
  ParityCase c;
  c.name = "resize " + shape_str(x) + " -> " + std::to_string(p.out_h) + "x" + std::to_string(p.out_w) +
           (p.align_corners ? " align" : "") + (p.scale_h > 0 ? " scale" : "");
  c.inputs = {rnd(x, seed), rnd({x[0], x[1], p.out_h, p.out_w}, seed + 1)};
  c.run = [p, x](const std::vector<Tensor>& v) -> Outputs {
    return {{"bilinear", k::resize_bilinear_forward(v[0], p)},
            {"bilinear_bwd", k::resize_bilinear_backward(v[1], x, p)},
            {"nearest", k::upsample_nearest_forward(v[0], p)},
            {"nearest_bwd", k::upsample_nearest_backward(v[1], x, p)}};
  };
  c.tol = {1e-5, 1e-5};
  check_parity(c);
}

void roi_case(const Shape& x, const std::vector<std::array<double, 5>>& boxes, k::RoIAlignParams p, uint64_t seed) {
  ParityCase c;
  c.name = "roi_align " + shape_str(x) + " K=" + std::to_string(boxes.size()) + (p.aligned ? " aligned" : "") +
           " sr" + std::to_string(p.sampling_ratio);
  std::vector<double> flat;
  for (const auto& b : boxes) flat.insert(flat.end(), b.begin(), b.end());
  const int64_t kr = static_cast<int64_t>(boxes.size());
  c.inputs = {rnd(x, seed), Tensor::from_vector(flat, {kr, 5}, DType::F32),
              rnd({kr, x[1], p.out_h, p.out_w}, seed + 1)};
  c.run = [p, x](const std::vector<Tensor>& v) -> Outputs {
    return {{"y", k::roi_align_forward(v[0], v[1], p)}, {"dx", k::roi_align_backward(v[2], v[1], x, p)}};
  };
  c.tol = {1e-5, 1e-5};
  check_parity(c);
}

void loss_case(const Shape& s, int64_t topk, uint64_t seed) {
  ParityCase c;
  c.name = "losses " + shape_str(s) + " topk " + std::to_string(topk);
  Tensor w = uniform({s[0], s[1]}, seed + 2, 0.0, 1.0);
  float* pw = w.data<float>();
  for (int64_t i = 0; i < w.numel(); i += 3) pw[i] = 0.0f;  // invisible keypoints
  c.inputs = {rnd(s, seed), rnd(s, seed + 1), w, Tensor::full({}, 1.7)};
  c.run = [topk](const std::vector<Tensor>& v) -> Outputs {
    return {{"mse", k::heatmap_mse_forward(v[0], v[1], v[2])},
            {"mse_bwd", k::heatmap_mse_backward(v[3], v[0], v[1], v[2])},
            {"mse_noweight", k::heatmap_mse_forward(v[0], v[1], Tensor())},
            {"ohkm", k::ohkm_mse_forward(v[0], v[1], v[2], topk)},
            {"ohkm_bwd", k::ohkm_mse_backward(v[3], v[0], v[1], v[2], topk)}};
  };
  c.tol = {1e-6, 1e-5};
  check_parity(c);
}

void elastic_case(const Shape& w, k::ElasticSliceParams p, uint64_t seed) {
  ParityCase c;
  c.name = "elastic slice " + shape_str(w);
  c.inputs = {rnd(w, seed), rnd({p.out_channels, p.in_channels, p.kernel, p.kernel}, seed + 1)};
  c.run = [p, w](const std::vector<Tensor>& v) -> Outputs {
    return {{"sub", k::elastic_slice_forward(v[0], p)}, {"dw", k::elastic_slice_backward(v[1], w, p)}};
  };
  c.tol = {0, 0};
  check_parity(c);
}

}  // namespace

TEST_CASE("parity small: resize and nearest upsample") {
  if (!require_gpu()) return;
  for (bool align : {false, true}) {
    k::ResizeParams p;
    p.align_corners = align;
    p.out_h = 11, p.out_w = 13;
    resize_case({2, 3, 5, 7}, p, 1);
    p.out_h = 7, p.out_w = 5;
    resize_case({2, 3, 16, 12}, p, 2);
    p.out_h = 1, p.out_w = 1;
    resize_case({1, 2, 4, 3}, p, 3);
    p.out_h = 10, p.out_w = 14;
    resize_case({1, 2, 5, 7}, p, 4);
    p.out_h = 5, p.out_w = 7;
    resize_case({1, 2, 5, 7}, p, 5);
  }
  k::ResizeParams s;
  s.out_h = 7, s.out_w = 10;
  s.scale_h = 1.5, s.scale_w = 1.5;
  resize_case({1, 2, 5, 7}, s, 6);
}

TEST_CASE("parity small: roi_align") {
  if (!require_gpu()) return;
  const std::vector<std::array<double, 5>> boxes = {
      {0, 1.2, 2.5, 9.7, 13.1}, {1, -3.0, -2.0, 4.0, 5.0},  {0, 10.0, 14.0, 30.0, 40.0},  // partly, wholly off
      {1, 5.0, 5.0, 5.0, 5.0},  {0, 0.0, 0.0, 11.0, 15.0}, {1, 2.25, 3.75, 6.5, 4.0}};
  for (bool aligned : {true, false}) {
    for (int64_t sr : {0, 1, 2}) {
      k::RoIAlignParams p;
      p.out_h = 5, p.out_w = 4;
      p.aligned = aligned;
      p.sampling_ratio = sr;
      p.spatial_scale = 1.0;
      roi_case({2, 3, 16, 12}, boxes, p, 10 + sr);
      p.spatial_scale = 0.25;
      roi_case({2, 3, 16, 12}, boxes, p, 20 + sr);
    }
  }
  k::RoIAlignParams p;
  roi_case({2, 3, 8, 8}, {}, p, 30);  // no RoIs
}

TEST_CASE("parity small: losses and elastic slicing") {
  if (!require_gpu()) return;
  loss_case({2, 17, 16, 12}, 8, 1);
  loss_case({1, 5, 3, 3}, 5, 2);
  loss_case({3, 133, 8, 6}, 1, 3);
  k::ElasticSliceParams p{8, 4, 3};
  elastic_case({32, 16, 5, 5}, p, 4);
  elastic_case({64, 64, 3, 3}, {64, 64, 3}, 5);
  elastic_case({6, 2, 7, 7}, {1, 1, 1}, 6);
}

TEST_CASE("parity large: ZoomNet RoIAlign, HRNet resize, whole-body losses") {
  if (!require_gpu()) return;
  k::RoIAlignParams p;
  p.out_h = 64, p.out_w = 64;
  p.spatial_scale = 0.25;
  p.sampling_ratio = 2;
  std::vector<std::array<double, 5>> boxes;
  for (int n = 0; n < 32; ++n) {
    for (int r = 0; r < 3; ++r) {
      const double x0 = 20 + 37 * ((n * 3 + r) % 5), y0 = 30 + 53 * ((n + r) % 6);
      boxes.push_back({static_cast<double>(n), x0, y0, x0 + 40 + 7 * r, y0 + 44 + 5 * r});
    }
  }
  roi_case({32, 32, 96, 72}, boxes, p, 40);
  k::ResizeParams r;
  r.out_h = 64, r.out_w = 48;
  resize_case({32, 64, 32, 24}, r, 41);
  r.align_corners = true;
  resize_case({32, 32, 16, 12}, r, 42);
  loss_case({32, 133, 64, 48}, 8, 43);
}
