#include <array>

#include "autograd/engine.h"
#include "autograd/ops_pose.h"
#include "kernels/roi_align.h"
#include "tests/util.h"

using namespace wb;
namespace k = wb::kernels;

namespace {

Tensor make_rois(const std::vector<std::array<double, 5>>& boxes, DType dtype = DType::F64) {
  std::vector<double> flat;
  for (const auto& b : boxes) flat.insert(flat.end(), b.begin(), b.end());
  return Tensor::from_vector(flat, {static_cast<int64_t>(boxes.size()), 5}, dtype);
}

k::RoIAlignParams params(int64_t oh, int64_t ow, double scale, int64_t sr, bool aligned) {
  k::RoIAlignParams p;
  p.out_h = oh, p.out_w = ow;
  p.spatial_scale = scale;
  p.sampling_ratio = sr;
  p.aligned = aligned;
  return p;
}

std::string describe(const k::RoIAlignParams& p) {
  return std::to_string(p.out_h) + "x" + std::to_string(p.out_w) + " scale " + std::to_string(p.spatial_scale) +
         " sampling_ratio " + std::to_string(p.sampling_ratio) + (p.aligned ? " aligned" : " legacy");
}

}  // namespace

TEST_CASE("gradcheck: roi_align into the features") {
  const Tensor rois = make_rois({{0, 1.3, 0.7, 5.6, 6.2},
                                 {1, -2.5, 3.0, 2.0, 9.5},   // partly off the map, batch index 1
                                 {1, 20.0, 20.0, 30.0, 25.0},  // wholly off the map
                                 {0, 3.0, 3.0, 3.0, 3.0},     // zero size
                                 {1, 0.2, 0.4, 6.9, 7.8}});
  uint64_t seed = 1;
  for (bool aligned : {true, false}) {
    for (int64_t sr : {0, 1, 2, 3}) {
      for (double scale : {1.0, 0.5}) {
        const k::RoIAlignParams p = params(3, 2, scale, sr, aligned);
        const std::string what = describe(p);
        CAPTURE(what);
        WB_GRADCHECK([p, rois](const std::vector<Tensor>& v) { return ops::roi_align(v[0], rois, p); },
                     {test::randn64({2, 3, 8, 7}, seed++)});
      }
    }
  }
}

TEST_CASE("roi_align: values worked by hand") {
  // Bilinear sampling reproduces a constant map inside it; a box beyond the [-1, H] x [-1, W]
  // band samples nothing.
  const Tensor x = Tensor::full({1, 2, 6, 5}, 3.0, DType::F64);
  const Tensor rois = make_rois({{0, 0.5, 1.0, 3.5, 4.0}, {0, 30.0, 30.0, 40.0, 40.0}});
  for (bool aligned : {true, false}) {
    const Tensor y = k::roi_align_forward(x, rois, params(2, 2, 1.0, 2, aligned));
    WB_CHECK_CLOSE(y.narrow(0, 0, 1), Tensor::full({1, 2, 2, 2}, 3.0, DType::F64), 1e-15, 0);
    WB_CHECK_CLOSE(y.narrow(0, 1, 1), Tensor::zeros({1, 2, 2, 2}, DType::F64), 0, 0);
  }
  // aligned shifts the box (1, 1)-(3, 3) by -0.5 px, so one sample per 1x1 bin lands exactly on
  // the pixel centres (1, 1), (1, 2), (2, 1), (2, 2) of a ramp.
  Tensor ramp = Tensor::arange(30, DType::F64).view({1, 1, 6, 5});
  const Tensor y = k::roi_align_forward(ramp, make_rois({{0, 1.0, 1.0, 3.0, 3.0}}), params(2, 2, 1.0, 1, true));
  WB_CHECK_CLOSE(y, Tensor::from_vector(std::vector<double>{6, 7, 11, 12}, {1, 1, 2, 2}, DType::F64), 1e-14, 0);
}

TEST_CASE("roi_align: an empty RoI list") {
  Tensor x = test::randn64({2, 3, 8, 8}, 5);
  const Tensor rois = Tensor::zeros({0, 5}, DType::F64);
  const k::RoIAlignParams p = params(4, 3, 0.5, 0, true);
  Tensor y = ops::roi_align(x, rois, p);
  CHECK(y.shape() == Shape{0, 3, 4, 3});
  autograd::backward(y, Tensor::zeros({0, 3, 4, 3}, DType::F64));
  WB_CHECK_CLOSE(x.grad(), Tensor::zeros({2, 3, 8, 8}, DType::F64), 0, 0);
}

TEST_CASE("PyTorch parity: torchvision.ops.roi_align") {
  SafetensorsFile f;
  if (!test::load_reference("roi_align", f)) return;
  const int64_t count = static_cast<int64_t>(test::ref(f, "count").item());
  for (const char* dtype : {"f64", "f32"}) {
    const bool f64 = std::string(dtype) == "f64";
    for (int64_t i = 0; i < count; ++i) {
      const std::string key = std::string(dtype) + "." + std::to_string(i) + ".";
      const std::vector<double> q = test::ref(f, key + "params").to_double_vector();
      const k::RoIAlignParams p =
          params(static_cast<int64_t>(q[0]), static_cast<int64_t>(q[1]), q[2], static_cast<int64_t>(q[3]), q[4] != 0.0);
      const std::string what = key + " " + describe(p);
      CAPTURE(what);
      Tensor x = test::ref(f, key + "x").clone().set_requires_grad(true);
      Tensor y = ops::roi_align(x, test::ref(f, key + "rois"), p);
      autograd::backward(y, test::ref(f, key + "dy"));
      const double tol = f64 ? 1e-12 : 2e-6;
      WB_CHECK_CLOSE(y, test::ref(f, key + "y"), tol, tol);
      WB_CHECK_CLOSE(x.grad(), test::ref(f, key + "dx"), tol, tol);
    }
  }
}

TEST_CASE("roi_align: bad input names the op and the shapes") {
  const Tensor x = Tensor::zeros({2, 3, 8, 8});
  const k::RoIAlignParams p = params(2, 2, 1.0, 0, true);
  CHECK_THROWS_WITH_AS(k::roi_align_forward(x, Tensor::zeros({4, 4}), p),
                       doctest::Contains("roi_align: rois must be [K, 5] (batch index, x1, y1, x2, y2), got [4, 4] "
                                         "f32 cpu for features [2, 3, 8, 8]"),
                       Error);
  CHECK_THROWS_WITH_AS(k::roi_align_forward(x, make_rois({{2, 0, 0, 4, 4}}, DType::F32), p),
                       doctest::Contains("roi_align: roi 0 has batch index 2, not an integer in [0, 2)"), Error);
  CHECK_THROWS_WITH_AS(k::roi_align_forward(x, make_rois({{0.5, 0, 0, 4, 4}}, DType::F32), p),
                       doctest::Contains("batch index 0.5"), Error);
  CHECK_THROWS_WITH_AS(k::roi_align_forward(Tensor::zeros({3, 8, 8}), Tensor::zeros({1, 5}), p),
                       doctest::Contains("roi_align: features must be 4-d NCHW, got [3, 8, 8]"), Error);
  CHECK_THROWS_WITH_AS(k::roi_align_forward(x, make_rois({{0, 0, 0, 4, 4}}), p),
                       doctest::Contains("roi_align: mixed dtypes"), Error);
  CHECK_THROWS_WITH_AS(k::roi_align_forward(x, Tensor::zeros({1, 5}), params(0, 2, 1.0, 0, true)),
                       doctest::Contains("roi_align: output size 0x2"), Error);
  CHECK_THROWS_WITH_AS(k::roi_align_forward(x, Tensor::zeros({1, 5}), params(2, 2, 1.0, -1, true)),
                       doctest::Contains("roi_align: sampling_ratio -1"), Error);
  CHECK_THROWS_WITH_AS(k::roi_align_backward(Tensor::zeros({1, 3, 2, 3}), Tensor::zeros({1, 5}), {2, 3, 8, 8}, p),
                       doctest::Contains("roi_align_backward: gradient [1, 3, 2, 3] f32 cpu does not match the "
                                         "output [1, 3, 2, 2]"),
                       Error);
}
